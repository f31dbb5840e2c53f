//! Operations: `jframe serve --metrics` scraped, every metric
//! present and moving; and the real thing: HAProxy (`deploy/haproxy.cfg`,
//! TCP mode, PROXY v2, health checks) in front of two `jframe serve`
//! processes, one per engine: the conformance table through it, both
//! backends serving, `--max-conns-per-client` counting the real client, and
//! a rolling restart under `jframe load --reconnect` with no failed request.
//!
//! Everything binds 127.0.0.0/8. Every wait is bounded.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProc, assert_all_pass, jframe_command, raw_frame, read_raw_frame, status_of};
use ppp::v2;

/// A `jframe serve` child with its metrics endpoint; killed on drop.
struct Backend {
    server: ServerProc,
    tcp: SocketAddr,
    metrics: SocketAddr,
    args: Vec<String>,
}

impl Backend {
    /// Starts `jframe serve --metrics 127.0.0.1:0 ARGS` (on an ephemeral
    /// port unless `ARGS` say `--listen`).
    fn start(args: &[&str]) -> Backend {
        let all: Vec<&str> = ["--metrics", "127.0.0.1:0"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        let server = ServerProc::start(&all);
        Backend {
            tcp: server.tcp,
            metrics: server.metrics.expect("metrics address"),
            server,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn scrape(&self) -> Metrics {
        scrape(self.metrics)
    }

    /// SIGTERM, then the exit within `limit`.
    fn stop(&mut self, limit: Duration) -> std::process::ExitStatus {
        self.server.terminate();
        self.server.wait_exit(limit)
    }

    /// A new process with the same arguments (the same address).
    fn restart(&mut self, drain: Duration) {
        let status = self.stop(drain + Duration::from_secs(5));
        assert!(status.success(), "drained backend exited with {status}");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        *self = Backend::start(&args);
    }
}

/// One scrape: `series value` lines.
struct Metrics(String);

impl Metrics {
    /// The value of exactly this series (`name{labels}`), if present.
    fn get(&self, series: &str) -> Option<f64> {
        self.0.lines().find_map(|l| {
            let (s, v) = l.rsplit_once(' ')?;
            (s == series).then(|| v.parse().ok()).flatten()
        })
    }

    fn value(&self, series: &str) -> f64 {
        self.get(series)
            .unwrap_or_else(|| panic!("no series {series} in:\n{}", self.0))
    }
}

fn scrape(addr: SocketAddr) -> Metrics {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect metrics");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read metrics");
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Metrics(body.to_string())
}

/// Polls `cond` every 100 ms until it holds, at most `limit`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < until, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

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

fn echo(s: &mut TcpStream, body: &[u8]) -> String {
    let header = format!(r#"{{"op":"echo","data_size":{}}}"#, body.len());
    s.write_all(&raw_frame(&header, body)).unwrap();
    let (header, _) = read_raw_frame(s).expect("reply");
    status_of(&header)
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
        "--engine",
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
    assert_eq!(echo(&mut a, b"hello"), "ok");
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
    assert_eq!(echo(&mut again, b"x"), "busy");
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
    assert_eq!(echo(&mut f, b"f"), "busy");

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
        "--engine",
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
            "--engine",
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
        assert_eq!(echo(&mut v1, b"v1"), "ok", "{engine}");
        // v2 from a trusted proxy: served.
        let mut v2 = connect_from("127.0.0.2", to);
        v2.write_all(&proxy_v2("[2001:db8::1]:5000", to)).unwrap();
        assert_eq!(echo(&mut v2, b"v2"), "ok", "{engine}");
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

// ------------------------------------------------------------------ HAProxy

fn haproxy() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file());
    if found.is_none() {
        // Not a pass in disguise: say so loudly.
        eprintln!(
            "SKIPPED: haproxy is not installed (Debian: apt-get install haproxy; \
             .ci/run installs it when run as root)"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// HAProxy on `deploy/haproxy.cfg`, with its addresses replaced; killed on
/// drop.
struct Haproxy {
    child: Child,
    front: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    fn start(bin: &Path, front: u16, a: u16, b: u16) -> Haproxy {
        let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy.cfg");
        let text = std::fs::read_to_string(&cfg).expect("deploy/haproxy.cfg");
        for addr in ["127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"] {
            assert!(
                text.contains(addr),
                "deploy/haproxy.cfg no longer uses {addr}"
            );
        }
        let text = text
            .replace("127.0.0.1:9000", &format!("127.0.0.1:{front}"))
            .replace("127.0.0.1:9001", &format!("127.0.0.1:{a}"))
            .replace("127.0.0.1:9002", &format!("127.0.0.1:{b}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, text).unwrap();
        let log = std::fs::File::create(dir.path().join("haproxy.log")).unwrap();
        let check = Command::new(bin)
            .args(["-c", "-q", "-f"])
            .arg(&path)
            .status()
            .expect("run haproxy -c");
        assert!(check.success(), "haproxy rejects deploy/haproxy.cfg");
        let child = Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn haproxy");
        let front: SocketAddr = format!("127.0.0.1:{front}").parse().unwrap();
        wait_for("haproxy listening", Duration::from_secs(20), || {
            TcpStream::connect(front).is_ok()
        });
        Haproxy {
            child,
            front,
            _dir: dir,
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests a backend answered with `op` and status ok.
fn served(b: &Backend, op: &str) -> f64 {
    b.scrape()
        .get(&format!(
            r#"jframe_requests_total{{op="{op}",status="ok"}}"#
        ))
        .unwrap_or(0.0)
}

/// A connection through HAProxy from the local address `from`.
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    sock.bind(&local.into()).unwrap();
    sock.connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn behind_haproxy_with_proxy_v2_and_a_rolling_restart() {
    let Some(bin) = haproxy() else { return };
    let (front, pa, pb) = (free_port(), free_port(), free_port());
    let drain = Duration::from_secs(5);
    let backend = |port: u16, engine: &str| {
        Backend::start(&[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--engine",
            engine,
            "--proxy-protocol",
            "--trusted-proxy",
            "127.0.0.1/32",
            "--max-conns-per-client",
            "8",
            "--drain-timeout",
            "5s",
        ])
    };
    let mut a = backend(pa, "tokio");
    let mut b = backend(pb, "threads");
    let lb = Haproxy::start(&bin, front, pa, pb);
    // Health checks (a PROXY v2 header, then an echo) reach both.
    wait_for("health checks on both", Duration::from_secs(20), || {
        served(&a, "echo") > 0.0 && served(&b, "echo") > 0.0
    });

    // The conformance table, through HAProxy.
    let opts = jframe_std::conform::Options {
        jobs: 2,
        ..Default::default()
    };
    let outcomes = jframe_std::conform::run_tcp(lb.front, &opts);
    assert_all_pass("through HAProxy", &outcomes, false);
    // Both backends served some of it.
    assert!(
        served(&a, "upper") > 0.0,
        "the tokio backend served no upper"
    );
    assert!(
        served(&b, "upper") > 0.0,
        "the threads backend served no upper"
    );

    // --max-conns-per-client counts the real client: 17 connections from
    // 127.0.0.2 over two backends allowing 8 each cannot all be served,
    // while 127.0.0.3 (the same HAProxy, 127.0.0.1, in between) still is.
    let mut held = Vec::new();
    let mut busy = 0;
    for _ in 0..17 {
        let mut s = connect_from("127.0.0.2", lb.front);
        match echo(&mut s, b"hi").as_str() {
            "ok" => held.push(s),
            "busy" => busy += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        busy >= 1 && held.len() <= 16,
        "{} served, {busy} busy",
        held.len()
    );
    let mut other = connect_from("127.0.0.3", lb.front);
    assert_eq!(echo(&mut other, b"hi"), "ok", "another client was refused");
    let per_client = |m: &Backend| {
        m.scrape()
            .value(r#"jframe_refusals_total{reason="per_client"}"#)
    };
    assert_eq!(per_client(&a) + per_client(&b), busy as f64);
    drop((held, other));

    // A rolling restart under load: each backend in turn gets SIGTERM,
    // drains, exits, and comes back on the same address.
    let front = lb.front.to_string();
    let mut load = jframe_command(&["load", &front, "--reconnect"])
        .args(["-c", "4", "-p", "4", "--duration", "25s", "-s", "256"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn jframe load");
    let (ua, ub) = (served(&a, "upper"), served(&b, "upper"));
    wait_for("load on both backends", Duration::from_secs(20), || {
        served(&a, "upper") > ua && served(&b, "upper") > ub
    });
    for (name, backend) in [("tokio", &mut a), ("threads", &mut b)] {
        backend.restart(drain);
        // Up again in HAProxy's eyes: its health checks are answered (the
        // load's connections moved to the other backend and stay there
        // until that one restarts in turn).
        wait_for(
            &format!("health checks on the restarted {name} backend"),
            Duration::from_secs(20),
            || served(backend, "echo") > 0.0,
        );
    }
    assert!(
        load.try_wait().unwrap().is_none(),
        "jframe load finished before both restarts did: the machine is too slow for a 25 s run"
    );
    let mut out = String::new();
    load.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = load.wait().unwrap();
    let last = out.lines().last().unwrap_or("");
    let field = |name: &str| -> u64 {
        last.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {last:?}"))
    };
    eprintln!("rolling restart: {last}");
    assert_eq!(field("errors"), 0, "{out}");
    assert!(field("reconnects") > 0, "no reconnect reported: {last}");
    assert!(field("requests") > 0, "{last}");
    assert!(status.success(), "{out}");
}
