//! The sans-IO session driven by hand: time is a parameter, so every
//! deadline is checked exactly, with no clock and no sleep.

mod common;

use common::frame;
use jframe::service::{
    Config, Deadline, Demo, End, HEAD_RESERVE, Instant, Session, Storage, Timeouts,
};

const T: Timeouts = Timeouts {
    idle_ms: 1000,
    header_ms: 100,
    body_grace_ms: 200,
    body_min_rate: 10,
    write_ms: 50,
};

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Runs `f` on a session over device-sized buffers (256 B each).
fn with_session<R>(f: impl FnOnce(&mut Session<'_, Demo>) -> R) -> R {
    let mut memory = Storage::<256, 256, 256>::new();
    let buffers = memory.buffers();
    let config = Config {
        timeouts: T,
        ..Config::default()
    };
    let mut s = Session::new(buffers, Demo::new(), &config, at(0));
    f(&mut s)
}

/// Hands `bytes` to the session at `now` (as many reads as its buffer
/// needs); returns what it had to send, taken at once.
fn feed(s: &mut Session<'_, Demo>, mut bytes: &[u8], now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let sent = s.transmit().to_vec();
        if !sent.is_empty() {
            s.sent(sent.len(), now);
            out.extend(sent);
            continue;
        }
        if bytes.is_empty() {
            return out;
        }
        let buf = s.receive_buffer();
        assert!(!buf.is_empty(), "the session takes no input");
        let n = buf.len().min(bytes.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        s.received(n, now);
        bytes = &bytes[n..];
    }
}

#[test]
fn idle_then_header_then_body_deadlines() {
    with_session(|s| {
        // Idle since the start.
        assert_eq!(s.idle_since(), Some(at(0)));
        assert_eq!(s.poll_timeout(), Some(at(1000)));
        s.handle_timeout(at(999));
        assert_eq!(s.end(), None);
        // A frame begins at 500: its header is due by 600, whatever the
        // trickle.
        let f = frame(r#"{"data_size":1000,"op":"echo"}"#, &[b'x'; 1000]);
        feed(s, &f[..3], at(500));
        assert_eq!(s.idle_since(), None);
        assert_eq!(s.poll_timeout(), Some(at(600)));
        feed(s, &f[3..10], at(550));
        assert_eq!(s.poll_timeout(), Some(at(600)));
        // The header completes at 590: the body has 200 ms of grace, then
        // earns 100 ms per byte at 10 B/s.
        let head = 4 + r#"{"data_size":1000,"op":"echo"}"#.len();
        let out = feed(s, &f[10..head], at(590));
        assert!(out.starts_with(b"\x20\x00\x00\x00{\"data_size\":1000,\"status\":\"ok\"}"));
        assert_eq!(s.poll_timeout(), Some(at(790)));
        assert_eq!(feed(s, &f[head..head + 3], at(700)), b"xxx");
        assert_eq!(s.poll_timeout(), Some(at(1090)));
        s.handle_timeout(at(1090));
        assert_eq!(s.end(), Some(End::TimedOut(Deadline::Body)));
        assert_eq!(s.finished(), Some(End::TimedOut(Deadline::Body)));
    });
}

#[test]
fn a_slow_header_is_cut_at_its_deadline() {
    with_session(|s| {
        feed(s, b"\x20\x00", at(10));
        s.handle_timeout(at(109));
        assert_eq!(s.end(), None);
        s.handle_timeout(at(110));
        assert_eq!(s.finished(), Some(End::TimedOut(Deadline::Header)));
    });
}

#[test]
fn replies_unsent_pause_the_read_clocks_and_face_the_write_deadline() {
    with_session(|s| {
        let f = frame(r#"{"data_size":2,"op":"echo"}"#, b"hi");
        let buf = s.receive_buffer();
        buf[..f.len()].copy_from_slice(&f);
        s.received(f.len(), at(0));
        assert!(!s.transmit().is_empty());
        // Only the write deadline runs while the reply waits.
        assert_eq!(s.poll_timeout(), Some(at(50)));
        let n = s.transmit().len();
        s.sent(1, at(40));
        assert_eq!(s.poll_timeout(), Some(at(90)), "progress renews it");
        s.sent(n - 1, at(80));
        // Idle counts from when the replies were out.
        assert_eq!(s.idle_since(), Some(at(80)));
        assert_eq!(s.poll_timeout(), Some(at(1080)));
        // A peer that takes nothing more is cut at the write deadline.
        let buf = s.receive_buffer();
        buf[..f.len()].copy_from_slice(&f);
        s.received(f.len(), at(100));
        s.handle_timeout(at(150));
        assert_eq!(s.end(), Some(End::TimedOut(Deadline::Write)));
        assert!(s.transmit().is_empty(), "given up");
        assert_eq!(s.finished(), Some(End::TimedOut(Deadline::Write)));
    });
}

#[test]
fn a_peer_that_never_reads_is_not_buffered_for() {
    with_session(|s| {
        // 40 pipelined requests; the peer reads nothing.
        let one = frame(r#"{"data_size":30,"op":"echo"}"#, &[b'a'; 30]);
        let mut taken = 0;
        for _ in 0..40 {
            let buf = s.receive_buffer();
            if buf.is_empty() {
                break;
            }
            let n = buf.len().min(one.len());
            buf[..n].copy_from_slice(&one[..n]);
            s.received(n, at(0));
            taken += n;
        }
        assert!(taken < 40 * one.len(), "backpressure");
        assert!(s.transmit().len() <= 256);
        assert!(s.receive_buffer().is_empty());
    });
}

#[test]
fn greet_exit_whose_header_fills_the_frame_buffer_is_bye() {
    // A header of exactly 256 bytes leaves the 256-byte frame buffer no
    // room for the body: it streams, and `exit` is still `Bye!`.
    let pad = 256 - r#"{"data_size":4,"op":"greet","pad":""}"#.len();
    let json = format!(
        r#"{{"data_size":4,"op":"greet","pad":"{}"}}"#,
        "p".repeat(pad)
    );
    assert_eq!(json.len(), 256);
    for chunk in [1, 2, 3, 7, 100, 4096] {
        with_session(|s| {
            let f = frame(&json, b"exit");
            let mut out = Vec::new();
            for piece in f.chunks(chunk) {
                out.extend(feed(s, piece, at(0)));
            }
            assert_eq!(
                out,
                frame(r#"{"data_size":4,"status":"ok"}"#, b"Bye!"),
                "{chunk}"
            );
            assert_eq!(s.finished(), Some(End::Bye), "{chunk}");
        });
    }
}

#[test]
fn stop_and_evict_end_between_frames_only() {
    with_session(|s| {
        let f = frame(r#"{"data_size":2,"op":"echo"}"#, b"hi");
        feed(s, &f[..5], at(0));
        s.evict(at(1));
        assert_eq!(s.end(), None, "not inside a frame");
        assert!(!s.receive_buffer().is_empty(), "the frame is finished");
        let out = feed(s, &f[5..], at(2));
        // The frame's reply, then `busy`: the answer to a request that may
        // have crossed the close.
        let busy = r#"{"data_size":0,"status":"busy","error":"the server is full: this idle connection makes room; try again"}"#;
        assert_eq!(
            out,
            [
                frame(r#"{"data_size":2,"status":"ok"}"#, b"hi"),
                frame(busy, b"")
            ]
            .concat()
        );
        assert_eq!(s.finished(), Some(End::Evicted));
    });
    with_session(|s| {
        s.stop(at(5));
        assert_eq!(s.finished(), Some(End::Stopped));
    });
}

#[test]
fn a_parked_session_keeps_its_clocks() {
    let mut memory = Storage::<256, 256, 256>::new();
    let config = Config {
        timeouts: T,
        ..Config::default()
    };
    let mut s = Session::new(memory.buffers(), Demo::new(), &config, at(0));
    let f = frame(r#"{"data_size":1}"#, b"a");
    assert_eq!(
        feed(&mut s, &f, at(300)),
        frame(r#"{"data_size":1,"status":"ok"}"#, b"A")
    );
    let parked = s.park().expect("idle");
    assert_eq!(parked.idle_since(), Some(at(300)));
    assert_eq!(parked.poll_timeout(), Some(at(1300)));
    let mut memory = Storage::<256, 256, 256>::new();
    let buffers = memory.buffers();
    let mut s = parked.resume(buffers);
    assert_eq!(s.poll_timeout(), Some(at(1300)));
    s.handle_timeout(at(1300));
    assert_eq!(s.finished(), Some(End::TimedOut(Deadline::Idle)));
    // A session inside a frame does not park.
    let mut memory = Storage::<256, 256, HEAD_RESERVE>::new();
    let buffers = memory.buffers();
    let mut s = Session::new(buffers, Demo::new(), &config, at(0));
    feed(&mut s, &f[..2], at(1));
    assert!(s.park().is_err());
}
