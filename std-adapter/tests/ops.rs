//! Operations: `jframe serve --metrics` scraped, every metric present and
//! moving; PROXY headers v1 and v2, untrusted, malformed and late. (Behind
//! a real HAProxy: tests/haproxy.rs.)
//!
//! Everything binds 127.0.0.0/8. Every wait is bounded.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use ppp::v2;

/// A PROXY v2 header naming `client`.
fn proxy_v2(client: &str, server: SocketAddr) -> Vec<u8> {
    let client: SocketAddr = client.parse().unwrap();
    v2::Builder::with_addresses(
        v2::Version::Two | v2::Command::Proxy,
        v2::Protocol::Stream,
        (client, server),
    )
    .build()
    .unwrap()
}

/// Connects to `server` and sends a PROXY header naming `client`.
fn proxied(server: SocketAddr, client: &str) -> TcpStream {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&proxy_v2(client, server)).unwrap();
    s
}

/// An echo and, in the same write, half of the next request: once the
/// echo is answered, the server has read the half, so the connection is
/// inside a frame (not idle: a full server does not evict it).
fn echo_then_half(s: &mut TcpStream, body: &[u8]) -> String {
    let header = format!(r#"{{"op":"echo","data_size":{}}}"#, body.len());
    let mut bytes = raw_frame(&header, body);
    bytes.extend_from_slice(&raw_frame(r#"{"op":"echo","data_size":2}"#, b"hi")[..10]);
    s.write_all(&bytes).unwrap();
    let (header, _) = read_raw_frame(s).expect("reply");
    status_of(&header)
}

fn get(s: &mut TcpStream, name: &str) -> String {
    let header = format!(r#"{{"op":"get","name":"{name}","data_size":0}}"#);
    s.write_all(&raw_frame(&header, b"")).unwrap();
    let (header, _) = read_raw_frame(s).expect("reply");
    status_of(&header)
}

#[test]
fn metrics_are_scraped_and_every_one_moves() {
    for engine in ["tokio", "threads"] {
        metrics_move(engine);
    }
}

fn metrics_move(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("small.txt"), b"hello").unwrap();
    let big = vec![b'x'; 32 << 20];
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let root = dir.path().to_str().unwrap();

    // Requests, refusals, the budget and the digest cache, with the
    // default (long) timeouts: nothing here races a deadline.
    let s1 = Backend::start(&[
        "--driver",
        engine,
        "--root",
        root,
        "--proxy-protocol",
        "--trusted-proxy",
        "127.0.0.1/32",
        "--max-conns",
        "4",
        "--max-conns-per-client",
        "1",
    ]);
    let before = s1.scrape();
    for series in [
        "jframe_connections_open",
        "jframe_connections_total",
        r#"jframe_refusals_total{reason="busy"}"#,
        r#"jframe_refusals_total{reason="per_client"}"#,
        r#"jframe_refusals_total{reason="proxy_protocol"}"#,
        "jframe_body_bytes_in_total",
        "jframe_body_bytes_out_total",
        "jframe_body_budget_bytes_in_use",
        r#"jframe_get_digest_cache_total{result="hit"}"#,
        r#"jframe_get_digest_cache_total{result="miss"}"#,
        r#"jframe_cuts_total{phase="header"}"#,
    ] {
        assert_eq!(before.value(series), 0.0, "{engine}: {series} at start");
    }
    let addr = s1.tcp;
    let mut a = proxied(addr, "192.0.2.1:1000");
    assert_eq!(echo_status(&mut a, b"hello"), "ok");
    assert_eq!(get(&mut a, "small.txt"), "ok"); // hashed: a miss
    // A digest is cached once the file has settled (files::SETTLED after
    // its last change); from then on a get is a hit.
    wait_for("a digest cache hit", Duration::from_secs(20), || {
        assert_eq!(get(&mut a, "small.txt"), "ok");
        s1.scrape()
            .value(r#"jframe_get_digest_cache_total{result="hit"}"#)
            > 0.0
    });
    assert_eq!(get(&mut a, "nope.txt"), "not_found");
    // The same client again: over its limit of 1.
    let mut again = proxied(addr, "192.0.2.1:1001");
    assert_eq!(echo_status(&mut again, b"x"), "busy");
    // No PROXY header: closed.
    let mut bare = TcpStream::connect(addr).unwrap();
    bare.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = bare.write_all(&raw_frame(r#"{"op":"echo","data_size":0}"#, b""));
    assert!(
        read_raw_frame(&mut bare).is_err(),
        "{engine}: served without a PROXY header"
    );
    // A Unicode upper body being collected holds budget.
    let mut c = proxied(addr, "192.0.2.3:1000");
    let size = 200_000;
    let header = format!(r#"{{"op":"upper","data_size":{size}}}"#);
    let mut frame = raw_frame(&header, b"");
    frame.extend_from_slice("é".repeat(4096).as_bytes());
    c.write_all(&frame).unwrap();
    wait_for("budget in use", Duration::from_secs(10), || {
        s1.scrape().value("jframe_body_budget_bytes_in_use") > 0.0
    });
    // The server at its limit of 4: a, c, and two more, each inside a
    // frame (an idle one would make room); a fifth is busy.
    assert_eq!(echo_then_half(&mut a, b"a"), "ok");
    let mut d = proxied(addr, "192.0.2.4:1000");
    assert_eq!(echo_then_half(&mut d, b"d"), "ok");
    let mut e = proxied(addr, "192.0.2.5:1000");
    assert_eq!(echo_then_half(&mut e, b"e"), "ok");
    let mut f = proxied(addr, "192.0.2.6:1000");
    assert_eq!(echo_status(&mut f, b"f"), "busy");

    let m = s1.scrape();
    let moved = |series: &str| {
        let v = m.value(series);
        assert!(v > 0.0, "{engine}: {series} did not move:\n{}", m.0);
    };
    moved("jframe_connections_open");
    moved("jframe_connections_total");
    moved(r#"jframe_refusals_total{reason="busy"}"#);
    moved(r#"jframe_refusals_total{reason="per_client"}"#);
    moved(r#"jframe_refusals_total{reason="proxy_protocol"}"#);
    moved(r#"jframe_requests_total{op="echo",status="ok"}"#);
    moved(r#"jframe_requests_total{op="get",status="ok"}"#);
    moved(r#"jframe_requests_total{op="get",status="not_found"}"#);
    moved("jframe_body_bytes_in_total");
    moved("jframe_body_bytes_out_total");
    moved(r#"jframe_request_duration_seconds_count{op="echo"}"#);
    moved(r#"jframe_request_duration_seconds_count{op="get"}"#);
    moved(r#"jframe_request_duration_seconds_bucket{op="echo",le="+Inf"}"#);
    moved(r#"jframe_get_digest_cache_total{result="hit"}"#);
    moved(r#"jframe_get_digest_cache_total{result="miss"}"#);
    // The budget goes back when the collecting connection goes.
    drop(c);
    wait_for("budget given back", Duration::from_secs(10), || {
        s1.scrape().value("jframe_body_budget_bytes_in_use") == 0.0
    });
    drop((a, again, bare, d, e, f));
    wait_for("connections closed", Duration::from_secs(10), || {
        s1.scrape().value("jframe_connections_open") == 0.0
    });

    // Cuts, on a server with short deadlines (each waits for its cut, so
    // no assertion depends on how long one takes).
    let s2 = Backend::start(&[
        "--driver",
        engine,
        "--root",
        root,
        "--header-timeout",
        "1s",
        "--idle-timeout",
        "2s",
        "--write-timeout",
        "1s",
    ]);
    let addr = s2.tcp;
    let connect = || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    // Header: a prefix and half a header.
    let mut h = connect();
    h.write_all(&40u32.to_le_bytes()).unwrap();
    h.write_all(br#"{"op":"ec"#).unwrap();
    // Body: a header announcing 1 MiB, then 10 bytes.
    let mut b = connect();
    b.write_all(&raw_frame(
        r#"{"op":"echo","data_size":1048576}"#,
        b"0123456789",
    ))
    .unwrap();
    // Idle: nothing at all.
    let i = connect();
    // Write: a 32 MiB reply never read.
    let mut w = connect();
    w.write_all(&raw_frame(
        r#"{"op":"get","name":"big.bin","data_size":0}"#,
        b"",
    ))
    .unwrap();
    wait_for("every cut", Duration::from_secs(60), || {
        let m = s2.scrape();
        ["header", "body", "idle", "write"]
            .iter()
            .all(|p| m.value(&format!(r#"jframe_cuts_total{{phase="{p}"}}"#)) > 0.0)
    });
    drop((h, b, i, w));
}

#[test]
fn proxy_headers_v1_v2_untrusted_malformed_and_late() {
    for engine in ["tokio", "threads"] {
        let s = Backend::start(&[
            "--listen",
            "127.0.0.1:0",
            "--driver",
            engine,
            "--proxy-protocol",
            "--trusted-proxy",
            "127.0.0.2/32",
        ]);
        let to = s.tcp;
        // v1 from a trusted proxy: served.
        let mut v1 = connect_from("127.0.0.2", to);
        v1.write_all(b"PROXY TCP4 192.0.2.9 127.0.0.1 5000 9000\r\n")
            .unwrap();
        assert_eq!(echo_status(&mut v1, b"v1"), "ok", "{engine}");
        // v2 from a trusted proxy: served.
        let mut v2 = connect_from("127.0.0.2", to);
        v2.write_all(&proxy_v2("[2001:db8::1]:5000", to)).unwrap();
        assert_eq!(echo_status(&mut v2, b"v2"), "ok", "{engine}");
        // A valid header from a peer that is no trusted proxy: closed.
        let mut untrusted = connect_from("127.0.0.1", to);
        untrusted.write_all(&proxy_v2("192.0.2.1:1", to)).unwrap();
        let _ = untrusted.write_all(&raw_frame(r#"{"op":"echo","data_size":0}"#, b""));
        assert!(
            common::closed_within(&mut untrusted, Duration::from_secs(10)),
            "{engine}: untrusted"
        );
        // Malformed: closed.
        let mut bad = connect_from("127.0.0.2", to);
        bad.write_all(b"PROXY TCP4 nonsense here\r\n").unwrap();
        assert!(
            common::closed_within(&mut bad, Duration::from_secs(10)),
            "{engine}: malformed"
        );
        // Late: half a header, then nothing; closed at the header's own
        // deadline (3 s): before its header, a connection has no other.
        let mut late = connect_from("127.0.0.2", to);
        late.write_all(b"PROXY TCP4 192.0").unwrap();
        assert!(
            common::closed_within(&mut late, Duration::from_secs(30)),
            "{engine}: late"
        );
        wait_for("three refusals counted", Duration::from_secs(10), || {
            s.scrape()
                .value(r#"jframe_refusals_total{reason="proxy_protocol"}"#)
                == 3.0
        });
    }
}
