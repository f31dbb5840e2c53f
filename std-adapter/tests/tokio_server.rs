//! The tokio driver (`Driver::Tokio`, feature `tokio`), in process on
//! 127.0.0.1: SPEC vectors, pipelining, bad frames, replies never
//! answered, `busy` at the connection limit, deadlines, shutdown, and the
//! whole conformance table. Every wait is bounded; no assert depends on
//! how fast the machine is.
#![cfg(feature = "tokio")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{
    InProcess, assert_all_pass, closed_within, connect, fatal_frames, raw_frame, read_reply,
    recoverable_frames, roundtrip,
};
use jframe_std::conform::{self, Options};
use jframe_std::server::{Config, Driver, Server};

const T: Duration = Duration::from_secs(20);

/// An in-process server on the tokio driver.
fn tokio_server(config: Config) -> InProcess {
    tokio_server_with_udp(config, false)
}

/// [`tokio_server`], with UDP too when `udp`.
fn tokio_server_with_udp(config: Config, udp: bool) -> InProcess {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(loopback, udp.then_some(loopback), config).expect("bind");
    InProcess::start(server.with_driver(Driver::Tokio))
}

fn config() -> Config {
    Config {
        grace: Duration::from_secs(2),
        ..Config::default()
    }
}

fn ok(body: &[u8]) -> (String, Vec<u8>) {
    ("ok".to_string(), body.to_vec())
}

#[test]
fn spec_vectors_and_services() {
    let srv = tokio_server(config());
    let mut s = connect(srv.tcp);
    let vectors: [&[u8]; 3] = [
        b"\x10\x00\x00\x00{\"data_size\": 2}hi",
        b"\x0f\x00\x00\x00{\"data_size\":2}hi",
        b"\x0b\x00\x00\x00{\"size\": 2}hi",
    ];
    for v in vectors {
        assert_eq!(roundtrip(&mut s, v), ok(b"HI"));
    }
    let echo = raw_frame(r#"{"data_size":3,"op":"echo"}"#, b"abc");
    assert_eq!(roundtrip(&mut s, &echo), ok(b"abc"));
    let greet = raw_frame(r#"{"data_size":7,"op":"greet"}"#, b"Michael");
    assert_eq!(roundtrip(&mut s, &greet), ok(b"Hello, Michael!"));
    let unicode = raw_frame(r#"{"data_size":7}"#, "straße".as_bytes());
    assert_eq!(roundtrip(&mut s, &unicode), ok(b"STRASSE"));
    let get = raw_frame(r#"{"data_size":0,"op":"get","name":"x"}"#, b"");
    assert_eq!(roundtrip(&mut s, &get).0, "forbidden");
    // greet exit: Bye!, then the server closes.
    let exit = raw_frame(r#"{"data_size":4,"op":"greet"}"#, b"exit");
    assert_eq!(roundtrip(&mut s, &exit), ok(b"Bye!"));
    assert!(closed_within(&mut s, T));
    // H = -5: bad_frame, closed.
    let mut s = connect(srv.tcp);
    assert_eq!(roundtrip(&mut s, &(-5i32).to_le_bytes()).0, "bad_frame");
    assert!(closed_within(&mut s, T));
}

#[test]
fn welcome_comes_first() {
    let srv = tokio_server(Config {
        welcome: Some("Welcome!".into()),
        ..config()
    });
    let mut s = connect(srv.tcp);
    assert_eq!(read_reply(&mut s).unwrap(), ok(b"Welcome!"));
    assert_eq!(
        roundtrip(&mut s, &raw_frame(r#"{"data_size":1}"#, b"a")),
        ok(b"A")
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let srv = tokio_server(config());
    let mut s = connect(srv.tcp);
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for i in 0..200 {
        let body = format!("request number {i}");
        let (op, reply) = match i % 3 {
            0 => ("upper", body.to_uppercase()),
            1 => ("echo", body.clone()),
            _ => ("greet", format!("Hello, {body}!")),
        };
        let json = format!(r#"{{"data_size":{},"op":"{op}"}}"#, body.len());
        wire.extend(raw_frame(&json, body.as_bytes()));
        want.push(ok(reply.as_bytes()));
        if i == 100 {
            // A body far larger than the connection's buffers: streamed.
            let big: Vec<u8> = (0..300_000u32).map(|n| b'a' + (n % 26) as u8).collect();
            let json = format!(r#"{{"data_size":{},"op":"echo"}}"#, big.len());
            wire.extend(raw_frame(&json, &big));
            want.push(ok(&big));
        }
    }
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || w.write_all(&wire))
    };
    for (i, w) in want.iter().enumerate() {
        assert_eq!(&read_reply(&mut s).unwrap(), w, "reply {i}");
    }
    writer.join().unwrap().unwrap();
}

#[test]
fn recoverable_errors_are_answered_and_the_connection_goes_on() {
    let srv = tokio_server(Config {
        max_body: 1024,
        ..config()
    });
    let good = raw_frame(r#"{"data_size": 2}"#, b"ok");
    let cases = recoverable_frames();
    let mut s = connect(srv.tcp);
    for (what, frame, want) in &cases {
        assert_eq!(&roundtrip(&mut s, frame).0, want, "{what}");
        assert_eq!(roundtrip(&mut s, &good), ok(b"OK"), "after {what}");
    }
}

#[test]
fn fatal_errors_get_bad_frame_and_close() {
    let srv = tokio_server(config());
    let mut bystander = connect(srv.tcp);
    let fatal = fatal_frames();
    for (i, (what, frame)) in fatal.iter().enumerate() {
        let mut s = connect(srv.tcp);
        assert_eq!(roundtrip(&mut s, frame).0, "bad_frame", "{what}");
        assert!(closed_within(&mut s, T), "{what}: connection not closed");
        let msg = format!("bystander {i}");
        let (status, body) = roundtrip(
            &mut bystander,
            &raw_frame(&format!(r#"{{"data_size":{}}}"#, msg.len()), msg.as_bytes()),
        );
        assert_eq!(
            (status.as_str(), body),
            ("ok", msg.to_uppercase().into_bytes())
        );
    }
}

#[test]
fn replies_are_never_answered() {
    let srv = tokio_server(config());
    let mut s = connect(srv.tcp);
    assert_eq!(
        roundtrip(&mut s, &raw_frame(r#"{"data_size":1}"#, b"a")),
        ok(b"A")
    );
    s.write_all(&raw_frame(r#"{"data_size":2,"status":"ok"}"#, b"HI"))
        .unwrap();
    // Closed, and nothing was sent back.
    s.set_read_timeout(Some(T)).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "a reply was answered: {rest:?}");
}

#[test]
fn busy_at_max_conns_and_the_slot_comes_back() {
    let srv = tokio_server(Config {
        max_conns: 2,
        ..config()
    });
    let ping = raw_frame(r#"{"data_size":1}"#, b"p");
    // Both connections inside a frame (an idle one would make room: see
    // tests/eviction.rs): a ping and, in the same write, half of the next,
    // so that once the ping is answered the server has read the half.
    let pinged_with_half = || {
        let mut s = connect(srv.tcp);
        assert_eq!(
            roundtrip(&mut s, &[&ping[..], &ping[..6]].concat()),
            ok(b"P")
        );
        s
    };
    let mut a = pinged_with_half();
    let b = pinged_with_half();
    let mut c = connect(srv.tcp);
    let (status, _) = read_reply(&mut c).expect("busy reply");
    assert_eq!(status, "busy");
    assert!(closed_within(&mut c, T));
    // The others are unaffected; once one leaves, a newcomer is served.
    assert_eq!(roundtrip(&mut a, &ping[6..]), ok(b"P"));
    drop(b);
    let mut served = false;
    for _ in 0..200 {
        let mut d = connect(srv.tcp);
        d.write_all(&ping).unwrap();
        match read_reply(&mut d) {
            Ok(reply) if reply == ok(b"P") => {
                served = true;
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    assert!(served, "the freed slot never came back");
}

#[test]
fn per_client_limit_answers_busy() {
    let srv = tokio_server(Config {
        max_conns_per_client: 1,
        ..config()
    });
    let ping = raw_frame(r#"{"data_size":1}"#, b"p");
    let mut a = connect(srv.tcp);
    assert_eq!(roundtrip(&mut a, &ping), ok(b"P"));
    let mut b = connect(srv.tcp);
    assert_eq!(read_reply(&mut b).unwrap().0, "busy");
}

#[test]
fn slowloris_is_closed_at_its_header_deadline() {
    let srv = tokio_server(Config {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(60),
        ..config()
    });
    let mut slow = connect(srv.tcp);
    slow.write_all(b"\x10\x00\x00\x00{\"data").unwrap();
    assert!(closed_within(&mut slow, T), "slowloris not closed");
    // A connection that says nothing at all is closed at the idle timeout.
    let srv = tokio_server(Config {
        idle_timeout: Duration::from_secs(1),
        ..config()
    });
    let mut quiet = connect(srv.tcp);
    assert!(closed_within(&mut quiet, T), "idle connection not closed");
}

#[test]
fn shutdown_closes_idle_connections_and_finishes_frames_in_flight() {
    let srv = tokio_server(Config {
        grace: Duration::from_secs(15),
        ..config()
    });
    let mut idle = connect(srv.tcp);
    assert_eq!(
        roundtrip(&mut idle, &raw_frame(r#"{"data_size":1}"#, b"i")),
        ok(b"I")
    );
    let mut busy = connect(srv.tcp);
    let body: Vec<u8> = vec![b'q'; 200_000];
    let frame = raw_frame(r#"{"data_size":200000,"op":"echo"}"#, &body);
    let (first, rest) = frame.split_at(50_000);
    busy.write_all(first).unwrap();
    // Make sure the server has begun this frame before shutting down: the
    // echo's first bytes come back while the rest is still unsent.
    let mut head = [0u8; 4];
    busy.read_exact(&mut head).unwrap();

    srv.handle.shutdown();
    // The idle connection is closed promptly (well within the grace).
    assert!(
        closed_within(&mut idle, Duration::from_secs(10)),
        "idle not closed"
    );
    // The frame in flight completes.
    let reader = {
        let mut r = busy.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).map(|_| rest)
        })
    };
    busy.write_all(rest).unwrap();
    let got = reader.join().unwrap().unwrap();
    let len = i32::from_le_bytes(head) as usize;
    let header = jframe::Header::parse(&got[..len]).unwrap();
    assert_eq!(header.data_size, 200_000);
    assert_eq!(&got[len..], &body[..], "echo completed, then closed");
    // And the server returns.
    srv.stop(T).expect("clean");
}

#[test]
fn conformance_table_passes_on_the_tokio_driver() {
    let srv = tokio_server_with_udp(config(), true);
    let opts = Options {
        jobs: 8,
        ..Options::default()
    };
    let mut outcomes = conform::run_tcp(srv.tcp, &opts);
    outcomes.extend(conform::run_udp(srv.udp.expect("udp"), &opts));
    assert_eq!(outcomes.len(), conform::cases().len());
    assert_all_pass("the tokio driver", &outcomes, false);
    srv.stop(T).expect("clean shutdown");
}

#[test]
fn many_open_connections_are_each_served_while_all_are_open() {
    // 300 on each side stays under a default 1024-descriptor limit.
    const N: usize = 300;
    let srv = tokio_server(Config {
        max_conns: N,
        max_conns_per_client: N,
        ..config()
    });
    let mut conns: Vec<TcpStream> = (0..N).map(|_| connect(srv.tcp)).collect();
    for (i, s) in conns.iter_mut().enumerate() {
        let body = format!("conn {i}");
        let json = format!(r#"{{"data_size":{}}}"#, body.len());
        s.write_all(&raw_frame(&json, body.as_bytes())).unwrap();
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let want = format!("CONN {i}");
        assert_eq!(
            read_reply(s).unwrap(),
            ok(want.as_bytes()),
            "connection {i}"
        );
    }
}
