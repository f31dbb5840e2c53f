//! Connection limits of the std server: a body trickled below the minimum
//! rate is cut, one client address cannot take every slot, and a
//! connection costs one descriptor. Through the real binary (`jframe serve`)
//! on 127.0.0.1; every wait is bounded.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(5);

#[test]
fn a_trickled_body_is_cut_and_a_steady_one_is_not() {
    let server = ServerProc::start(&[
        "--header-timeout",
        "1",
        "--idle-timeout",
        "60",
        "--body-min-rate",
        "200",
    ]);
    // 1,000 body bytes announced, then one byte every 250 ms (4 B/s, far
    // below 200 B/s): cut once the 1 s grace and the bytes' credit run out,
    // although no single read waits anywhere near the idle timeout.
    let mut slow = connect(server.tcp);
    slow.write_all(&raw_frame(r#"{"data_size":1000,"op":"echo"}"#, b""))
        .unwrap();
    let started = Instant::now();
    let (pause, limit) = (Duration::from_millis(250), Duration::from_secs(20));
    let closed = trickle_until_closed(&mut slow, b'x', pause, started, limit);
    assert!(closed, "trickling body still accepted after 20 s");

    // A body sent at a steady pace above the rate completes.
    let mut steady = connect(server.tcp);
    steady
        .write_all(&raw_frame(r#"{"data_size":1000,"op":"echo"}"#, b""))
        .unwrap();
    for chunk in [[b'a'; 100]; 10] {
        steady.write_all(&chunk).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = read_raw_frame(&mut steady).expect("echo reply");
    assert_eq!((status_of(&status).as_str(), body.len()), ("ok", 1000));
}

#[test]
fn one_client_address_cannot_take_every_slot() {
    let server = ServerProc::start(&["--max-conns", "10", "--max-conns-per-client", "3"]);
    let held: Vec<_> = (0..3).map(|_| connect(server.tcp)).collect();
    for mut s in held.iter().map(|s| s.try_clone().unwrap()) {
        let (status, _) = roundtrip(&mut s, &raw_frame(r#"{"data_size":1}"#, b"a"));
        assert_eq!(status, "ok");
    }
    let mut fourth = connect(server.tcp);
    let (header, _) = read_raw_frame(&mut fourth).expect("busy frame");
    assert_eq!(status_of(&header), "busy", "{header}");
    assert!(header.contains("this address"), "{header}");
    // The slot comes back when one of the three leaves.
    drop(held);
    let deadline = Instant::now() + T;
    loop {
        let mut again = connect(server.tcp);
        let (status, _) = roundtrip(&mut again, &raw_frame(r#"{"data_size":1}"#, b"a"));
        if status == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "slot never came back: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_connection_costs_one_descriptor() {
    for engine in ["tokio", "threads"] {
        one_descriptor_per_connection(engine);
    }
}

fn one_descriptor_per_connection(engine: &str) {
    let server = ServerProc::start(&[
        "--max-conns",
        "200",
        "--max-conns-per-client",
        "200",
        "--driver",
        engine,
    ]);
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.child.id()))
            .unwrap()
            .count()
    };
    // One connection first: the engine's own descriptors (a runtime's
    // epoll and eventfds) are opened once, not per connection.
    let mut warm = connect(server.tcp);
    let (status, _) = roundtrip(&mut warm, &raw_frame(r#"{"data_size":1}"#, b"a"));
    assert_eq!(status, "ok");
    let before = fds();
    let mut conns: Vec<_> = (0..100).map(|_| connect(server.tcp)).collect();
    for s in &mut conns {
        let (status, _) = roundtrip(s, &raw_frame(r#"{"data_size":1}"#, b"a"));
        assert_eq!(status, "ok");
    }
    let during = fds();
    let per_conn = (during - before) as f64 / 100.0;
    assert!(
        per_conn <= 1.02,
        "{engine}: {before} descriptors before, {during} with 100 more connections: {per_conn} each"
    );
}
