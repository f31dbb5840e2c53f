//! The sans-IO session over arbitrary bytes, arbitrary read and write
//! sizes, buffer sizes, deadlines and clock jumps: no panic, it always
//! ends, no deadline fires before its time, and what it writes is a
//! sequence of whole reply frames (each carrying `status`), at most one per
//! request frame plus the welcome.
#![no_main]

use jframe::service::{Buffers, Config, Demo, End, Instant, Limits, Session, Timeouts};
use jframe::{Decoder, Event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((cfg, stream)) = data.split_at_checked(14) else {
        return;
    };
    let rx = 1 + usize::from(cfg[0]) * 4;
    let frame = 1 + usize::from(u16::from_le_bytes([cfg[1], cfg[2]])) % 2048;
    let tx = 200 + usize::from(cfg[3]) * 4;
    let max_body = if cfg[4] == 0xff {
        u64::MAX
    } else {
        u64::from(cfg[4]) * 16
    };
    let welcome = (cfg[5] & 1 != 0).then_some(&b"Welcome!"[..]);
    let timeouts = Timeouts {
        idle_ms: u64::from(cfg[6]) * 10,
        header_ms: u64::from(cfg[7]) * 10,
        body_grace_ms: u64::from(cfg[8]) * 10,
        body_min_rate: u32::from(cfg[9]),
        write_ms: u64::from(cfg[10]) * 10,
    };
    // Sizes of reads and writes, and the time each step takes.
    let steps: Vec<(usize, u64)> = cfg[11..]
        .iter()
        .map(|&c| {
            let size = if c & 0x3f == 0 { 4096 } else { usize::from(c & 0x3f) };
            (size, u64::from(c >> 6) * 7)
        })
        .collect();

    let (mut rxb, mut fr, mut txb) = (vec![0u8; rx], vec![0u8; frame], vec![0u8; tx]);
    let config = Config {
        limits: Limits {
            max_header: 4096,
            max_body,
        },
        timeouts,
        welcome,
    };
    let buffers = Buffers {
        rx: &mut rxb,
        frame: &mut fr,
        tx: &mut txb,
    };
    let mut now = Instant::from_millis(0);
    let mut s = Session::new(buffers, Demo::new(), &config, now);
    let mut output = Vec::new();
    let mut rest = stream;
    let mut turn = 0usize;
    // Replies given up at the write deadline (a peer too slow to read).
    let mut abandoned = false;
    let end = loop {
        turn += 1;
        assert!(turn <= 4 * stream.len() + 10_000, "no progress");
        let (size, dt) = steps[turn % steps.len()];
        now = now.after(dt);
        // A deadline acted on only once due.
        let due = s.poll_timeout();
        let before = s.end();
        let pending = !s.transmit().is_empty();
        s.handle_timeout(now);
        if s.end() != before || (pending && s.transmit().is_empty()) {
            assert!(due.is_some_and(|at| at <= now), "a deadline fired early");
        }
        abandoned |= pending && s.transmit().is_empty();
        if let Some(end) = s.finished() {
            break end;
        }
        let out = s.transmit();
        if !out.is_empty() {
            let n = out.len().min(size);
            output.extend_from_slice(&out[..n]);
            s.sent(n, now);
            continue;
        }
        let buf = s.receive_buffer();
        if buf.is_empty() {
            // No input wanted and nothing to send: only a deadline is left.
            let at = s.poll_timeout().expect("a session with nothing to do must end");
            now = now.max(at);
            continue;
        }
        if rest.is_empty() {
            s.peer_closed(now);
            continue;
        }
        let n = buf.len().min(size).min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        s.received(n, now);
    };
    assert!(!matches!(end, End::Io(_) | End::WriteZero | End::Source(_)), "{end:?}");

    // The replies: whole frames, each with a status.
    let mut dec = Decoder::new(vec![0u8; 1 << 16]).streaming(true);
    let mut out = &output[..];
    let mut frames = 0usize;
    while !out.is_empty() {
        let (used, ev) = dec.feed(out);
        match ev.expect("the session wrote a malformed frame") {
            Event::Frame(f) => {
                assert!(f.header.status.is_some(), "a reply without status");
                frames += 1;
            }
            Event::Head(h) => {
                assert!(h.header.status.is_some(), "a reply without status");
                frames += 1;
            }
            Event::BodyChunk { .. } | Event::NeedMore => {}
        }
        out = &out[used..];
    }
    // A streamed reply is cut short when the peer leaves inside the request
    // body it answers, or a deadline ends the session inside it, or the
    // peer took too long to read what was sent (the write deadline).
    assert!(
        dec.is_idle()
            || abandoned
            || matches!(end, End::Encode(_) | End::Truncated | End::TimedOut(_)),
        "reply cut short: {end:?}"
    );
    // One reply per request at most (a request is at least 6 bytes).
    assert!(frames <= usize::from(welcome.is_some()) + stream.len() / 6 + 1);
});
