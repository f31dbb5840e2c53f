//! The built `host-sim` binary, driven through its forwarded loopback port
//! by a Rust jframe client over std sockets and by Python peers: what the
//! device serves (SPEC.md's ops, its own `stats`), how it treats silent,
//! slow and surplus peers (SPEC.md's deadlines and `busy`), and what the
//! binary itself promises (its `--forward` addresses, its summary on
//! Ctrl-C and SIGTERM, an idle process that sleeps).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::host_sim::{
    assert_conforms, connect, exchange, next_reply, python_peer, python3, round_trip, wait_ready,
};
use common::{Case, cases, raw_frame};
use jframe::{Op, Status};
use jframe_tests::{HostSim, host_sim_bin};

#[test]
fn rust_client_through_the_forwarded_port() {
    let sim = HostSim::start(&[]);
    exchange(sim.addr, &cases(100, 64 * 1024, 1));
    // Several clients at once, each through its own forwarder.
    let sets: Vec<Vec<Case>> = (0..4).map(|i| cases(25, 16 * 1024, 10 + i)).collect();
    std::thread::scope(|scope| {
        for set in &sets {
            scope.spawn(|| exchange(sim.addr, set));
        }
    });
}

#[test]
fn rust_client_through_a_lossy_wire() {
    let sim = HostSim::start(&["--drop", "5", "--corrupt", "2", "--seed", "3"]);
    exchange(sim.addr, &cases(30, 8 * 1024, 3));
}

#[test]
fn python_seed_002_peer() {
    let sim = HostSim::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/seed002_client.py");
    let stdout = python_peer(&[script, &sim.addr.port().to_string()]);
    assert_eq!(stdout.trim(), "ok 24");
}

/// Stops `sim` with `signal` and returns its summary line and exit status.
fn summary_after(sim: HostSim, signal: &str) -> (String, std::process::ExitStatus) {
    // The forwarder counts a reply just after its write to the client
    // returns, so a client that has read it may be a moment ahead of
    // the count (seen once with the whole suite running on 2 cores).
    std::thread::sleep(Duration::from_millis(300));
    let (printed, exit) = sim.stop(signal);
    let summary = printed
        .lines()
        .find(|l| l.starts_with("host-sim: ") && l.contains("(0 failed to reach"))
        .unwrap_or_else(|| panic!("no summary line after SIG{signal} in {printed:?}"))
        .to_string();
    eprintln!("SIG{signal}: {summary} ({exit})");
    (summary, exit)
}

/// The summary counts `connections`, `requests` jframe requests and as
/// many replies, with plurals right, and the virtual wire's Ethernet
/// frames.
fn assert_counts(summary: &str, connections: u64, requests: u64) {
    let counted =
        |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    for part in [
        format!(
            "host-sim: {} (",
            counted(connections, "connection", "connections")
        ),
        format!(
            " {}, ",
            counted(requests, "jframe request", "jframe requests")
        ),
        format!(" {}, ", counted(requests, "jframe reply", "jframe replies")),
        " Ethernet frames delivered, ".to_string(),
    ] {
        assert!(summary.contains(&part), "{part:?} in {summary}");
    }
}

/// Exchanges `n` requests on one connection, then stops host-sim with
/// `signal`: it exits 0 with a summary of them. Returns the summary.
fn stopping_prints_the_summary(signal: &str, n: usize) -> String {
    let sim = HostSim::start(&[]);
    exchange(sim.addr, &cases(n, 2048, n as u64));
    let (summary, exit) = summary_after(sim, signal);
    assert!(exit.success(), "SIG{signal}: {exit}");
    assert_counts(&summary, 1, n as u64);
    summary
}

/// The summary says what it counts: connections, jframe requests and
/// replies, bytes, and the virtual wire's Ethernet frames, never a bare
/// "frames moved".
#[test]
fn ctrl_c_prints_a_summary() {
    let summary = stopping_prints_the_summary("INT", 5);
    assert!(!summary.contains("frames moved"), "{summary}");
}

/// Singular for one, plural for two: `1 jframe request`, `2 connections`.
#[test]
fn summary_plurals() {
    let sim = HostSim::start(&[]);
    exchange(sim.addr, &cases(1, 64, 6));
    let (summary, _) = summary_after(sim, "INT");
    assert_counts(&summary, 1, 1);

    let sim = HostSim::start(&[]);
    exchange(sim.addr, &cases(1, 64, 7));
    exchange(sim.addr, &cases(2, 64, 8));
    let (summary, _) = summary_after(sim, "INT");
    assert_counts(&summary, 2, 3);
}

/// SIGTERM (what `kill`, systemd and test harnesses send) prints the same
/// summary as Ctrl-C and exits 0; it used to exit 143 with no summary.
#[test]
fn sigterm_prints_the_summary_and_exits_0() {
    stopping_prints_the_summary("TERM", 3);
}

/// `--forward` takes what `jframe serve -l` takes: `localhost:PORT` and
/// `:PORT` (localhost), bound on IPv4 loopback first, port 0 any free one;
/// the device is then served through it.
#[test]
fn forward_localhost_port_listens_and_serves() {
    for forward in ["localhost:0", ":0"] {
        let sim = HostSim::forwarding(forward, &[]);
        assert_eq!(
            sim.addr.ip(),
            std::net::Ipv4Addr::LOCALHOST,
            "--forward {forward}"
        );
        assert_ne!(sim.addr.port(), 0, "--forward {forward}");
        exchange(sim.addr, &cases(3, 1024, 11));
        // A client that resolves the name itself reaches it too.
        let by_name = format!("localhost:{}", sim.addr.port());
        let stream = TcpStream::connect(&by_name).expect("connect by name");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let (header, body) = round_trip(&stream, Op::Echo, b"by name").expect("a reply");
        assert_eq!(header.status(), Some(Status::Ok));
        assert_eq!(body, b"by name");
    }
    // A chosen free port, as `localhost:PORT` and as `:PORT`.
    for form in ["localhost:", ":"] {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let sim = HostSim::forwarding(&format!("{form}{port}"), &[]);
        assert_eq!(sim.addr, SocketAddr::from(([127, 0, 0, 1], port)));
        exchange(sim.addr, &cases(2, 256, 12));
    }
}

#[test]
fn clear_errors_for_bad_setups() {
    // The forwarded port is taken.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(host_sim_bin())
        .args(["--forward", &addr])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    // An address without a port, and a name that does not resolve, are
    // refused with the reason.
    for (bad, why) in [
        ("127.0.0.1", "has no port"),
        ("localhost", "has no port"),
        ("no-such-host.invalid:7000", "cannot resolve"),
    ] {
        let out = Command::new(host_sim_bin())
            .args(["--forward", bad])
            .output()
            .expect("run");
        assert!(!out.status.success(), "--forward {bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "--forward {bad}: {stderr}");
    }
    // Out-of-range fault percentages are refused by the argument parser.
    let out = Command::new(host_sim_bin())
        .args(["--drop", "101"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

/// SPEC conformance (jframe-std's table, the one `jframe conform` plays)
/// against the device through the forwarded port: every TCP case passes.
#[test]
fn conformance_through_the_forwarded_port() {
    let sim = HostSim::start(&[]);
    assert_conforms(sim.addr);
}

/// SPEC.md, "Errors and recovery": a full server makes room by closing the
/// connection idle longest, and one that never sent a byte counts as idle.
/// `silent` such connections fill the device's pool (8 connections plus
/// its spare, the default); the next client must still be served at once,
/// not after the device's idle timeout (it was 31.5 s with 8 silent
/// peers, 63.7 s with 16, with a 30 s timeout, before the pool made room).
fn silent_peers_do_not_delay(silent: usize) -> Duration {
    let sim = HostSim::start(&[]);
    wait_ready(sim.addr);
    let held: Vec<TcpStream> = (0..silent).map(|_| connect(sim.addr)).collect();
    // Let every silent connection reach the device.
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let reply = round_trip(&connect(sim.addr), Op::Echo, b"next");
    let took = start.elapsed();
    let (header, body) = reply.expect("the next client is served");
    assert_eq!(header.status(), Some(Status::Ok), "{header:?}");
    assert_eq!(body, b"next");
    // Loose: the old figure was 31.5 s; the new one is milliseconds.
    assert!(
        took < Duration::from_secs(10),
        "with {silent} silent peers the next client waited {took:?}"
    );
    eprintln!("{silent} silent peers: the next client served in {took:?}");
    drop(held);
    took
}

#[test]
fn eight_silent_peers_do_not_delay_the_ninth() {
    silent_peers_do_not_delay(8);
}

#[test]
fn sixteen_silent_peers_do_not_delay_the_seventeenth() {
    silent_peers_do_not_delay(16);
}

/// When every connection of the device is inside a frame (none idle to
/// close), a new client gets `busy` at once and is closed, instead of
/// waiting for a slot.
#[test]
fn a_full_pool_of_busy_connections_answers_busy_at_once() {
    let sim = HostSim::start(&[]);
    wait_ready(sim.addr);
    // Eight connections in the middle of a body (one byte of 1000 sent):
    // the device's 8 connections are all inside a frame. The partial frame
    // follows a whole request in the same write, so once that request is
    // answered the device holds the partial one (no sleep to guess when).
    let mut bytes = raw_frame(r#"{"data_size": 2, "op": "echo"}"#, b"go");
    bytes.extend_from_slice(&raw_frame(r#"{"data_size": 1000, "op": "echo"}"#, b""));
    bytes.push(b'x');
    let held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = connect(sim.addr);
            s.write_all(&bytes).expect("send a partial frame");
            let (_, body) = next_reply(&s).expect("the first reply");
            assert_eq!(body, b"go");
            s
        })
        .collect();
    let start = Instant::now();
    let stream = connect(sim.addr);
    let (header, _) = round_trip(&stream, Op::Echo, b"hi").expect("a busy reply, not a close");
    let took = start.elapsed();
    assert_eq!(header.status(), Some(Status::Busy), "{header:?}");
    // Then the device closes.
    let mut rest = Vec::new();
    let _ = (&stream).read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    // Loose: before, this client waited for a slot (10 s and more).
    assert!(took < Duration::from_secs(5), "busy came after {took:?}");
    eprintln!("busy reply after {took:?}");
    drop(held);
}

/// SPEC: a body has a deadline on the device too. A body trickled at one
/// byte every 3 s (far under the 256 B/s minimum rate) is cut after the
/// 30 s grace, with the device's default settings (never, before the
/// device had body deadlines).
#[test]
fn a_body_trickled_one_byte_every_3_s_is_cut() {
    let sim = HostSim::start(&[]);
    wait_ready(sim.addr);
    let mut stream = connect(sim.addr);
    stream
        .write_all(&raw_frame(r#"{"data_size": 100, "op": "echo"}"#, b""))
        .expect("header");
    let start = Instant::now();
    // A reader takes the streamed echo and reports when the device closes.
    let (closed_tx, closed) = std::sync::mpsc::channel();
    let mut reader = stream.try_clone().expect("clone");
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok(1..) = reader.read(&mut buf) {}
        let _ = closed_tx.send(());
    });
    let mut sent = 0;
    // At most 20 bytes (60 s): the cut must come before.
    let cut = loop {
        if sent == 20 {
            panic!(
                "a body at 1 byte every 3 s was not cut in {:?}",
                start.elapsed()
            );
        }
        let _ = stream.write_all(b"z");
        sent += 1;
        if closed.recv_timeout(Duration::from_secs(3)).is_ok() {
            break start.elapsed();
        }
    };
    // Loose: 30 s of grace plus the bytes' own allowance, plus slack.
    assert!(cut < Duration::from_secs(50), "cut after {cut:?}");
    eprintln!("trickled body cut after {cut:?} ({sent} bytes sent)");
}

/// host-sim with no client sleeps. Its user + system CPU ticks (100 Hz)
/// over 10 idle seconds, from /proc/PID/stat; before the forwarders had one
/// signal each, they woke each other through a shared channel's single
/// waker: 993 ticks in 10 s.
#[test]
fn host_sim_idles_at_about_zero_cpu() {
    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
        // Fields after the command (which may hold spaces): state is the
        // 3rd field, utime the 14th, stime the 15th.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }
    let sim = HostSim::start(&[]);
    wait_ready(sim.addr);
    std::thread::sleep(Duration::from_secs(1));
    let pid = sim.pid();
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(10));
    let ticks = cpu_ticks(pid) - before;
    eprintln!("host-sim idle: {ticks} CPU ticks in 10 s");
    assert!(
        ticks < 50,
        "host-sim used {ticks} ticks (100 Hz) in 10 idle seconds"
    );
}

/// SPEC.md's idle limit means idle, on the device and in the forwarder:
/// with idle limits of 5 s on both, a client that sends a request every
/// second for 12 s is never cut; once it stops, it is cut.
#[test]
fn an_active_connection_outlives_the_idle_limit() {
    // Idle limits of 5 s, a request every second for 12 s: the session
    // outlives twice the limit, with 4 s of margin per gap for a loaded
    // machine.
    let sim = HostSim::start(&["--timeout", "5", "--forward-idle", "5"]);
    wait_ready(sim.addr);
    let stream = connect(sim.addr);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(12) {
        n += 1;
        let reply = round_trip(&stream, Op::Echo, b"ping");
        let Some((header, body)) = reply else {
            panic!("request {n} was cut at {:?}", start.elapsed());
        };
        assert_eq!(header.status(), Some(Status::Ok));
        assert_eq!(body, b"ping");
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(n >= 6, "{n} requests");
    // Silent now: closed after about 5 s (loosely: within 20 s).
    let quiet = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let got = (&stream).read(&mut buf);
    assert!(
        matches!(got, Ok(0))
            || matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "an idle connection must be closed: {got:?}"
    );
    let after = quiet.elapsed();
    assert!(
        after < Duration::from_secs(20),
        "closed only after {after:?}"
    );
    eprintln!(
        "{n} requests over {:?}; closed {after:?} after the last",
        start.elapsed()
    );
}

/// TCP on embassy-net repairs a wire with `--drop 10`: the Python
/// seed-style client sends a whole `upper` body, then reads the reply; it
/// must come back byte-exact (before: `peer closed after 739718 of 1048576
/// bytes` for 1 MiB).
fn python_big_body_through_a_lossy_wire(size: usize, limit: Duration) {
    let sim = HostSim::start(&["--drop", "10", "--seed", "9"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/seed002_big.py");
    let mut child = python3(&[script, &sim.addr.port().to_string(), &size.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{size} bytes through a 10% lossy wire: not done in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        status.success(),
        "python peer failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with(&format!("ok {size} bytes")), "{stdout}");
    eprintln!("--drop 10: {}", stdout.trim());
}

#[test]
fn python_256_kib_upper_through_a_10_percent_lossy_wire() {
    python_big_body_through_a_lossy_wire(256 * 1024, Duration::from_secs(120));
}

/// The same at 1 MiB: a few minutes, so not in the default run:
/// `cargo test -p jframe-embassy-demo --test host_sim -- --ignored`.
#[test]
#[ignore = "minutes at 10% loss; run with --ignored"]
fn python_1_mib_upper_through_a_10_percent_lossy_wire() {
    python_big_body_through_a_lossy_wire(1024 * 1024, Duration::from_secs(600));
}

/// The device's own op, `stats`, beside SPEC.md's demo ops: a typed reply
/// whose header carries the device's figures, read by a stdlib Python
/// client; an op no service claims is `bad_request` (SPEC.md, "Errors and
/// recovery").
#[test]
fn the_device_answers_its_own_stats_op() {
    let sim = HostSim::start(&[]);
    wait_ready(sim.addr);
    let s = connect(sim.addr);
    let (h, body) = round_trip(&s, Op::Echo, b"before").expect("echo");
    assert_eq!(
        (h.status(), body.as_slice()),
        (Some(Status::Ok), &b"before"[..])
    );
    (&s).write_all(&raw_frame(r#"{"data_size":0,"op":"dance"}"#, b""))
        .unwrap();
    let (h, _) = next_reply(&s).expect("a bad_request reply");
    assert_eq!(h.status(), Some(Status::BadRequest));
    assert_eq!(h.error.as_deref(), Some(r#"unknown op "dance""#));
    let script = r#"
import json, socket, struct, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
head = json.dumps({"data_size": 0, "op": "stats"}).encode()
sock.sendall(struct.pack("<i", len(head)) + head)
def exactly(n):
    data = b""
    while len(data) < n:
        data += sock.recv(n - len(data)) or sys.exit("closed")
    return data
print(exactly(struct.unpack("<i", exactly(4))[0]).decode())
"#;
    let head = python_peer(&["-c", script, &sim.addr.port().to_string()]);
    eprintln!("stats: {head}");
    // The typed keys, in the type's order, with figures that moved.
    let figure = |key: &str| -> u64 {
        let at = head
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} in {head}"));
        head[at + key.len() + 3..]
            .split([',', '}'])
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {head}"))
    };
    assert!(
        head.starts_with(r#"{"data_size":0,"status":"ok","uptime_ms":"#),
        "{head}"
    );
    assert!(figure("uptime_ms") > 0);
    assert!(figure("connections") >= 2, "{head}");
    assert!(figure("requests") >= 2, "{head}");
    assert!(figure("bytes_in") > 0 && figure("bytes_out") > 0, "{head}");
    assert!(figure("bad_request") >= 1, "{head}");
}

/// The device on a wire that drops one Ethernet frame in ten keeps
/// SPEC.md's promises ("Errors and recovery": deadlines, `busy`).
/// Every client gets its replies, a `busy`, or a clean close; a vanished
/// client's slot comes back within the device's deadlines. Each case prints
/// how long it took; each is bounded. Minutes under load, so run by
/// `.ci/run` (`--ignored lossy_`), not in the default test run.
mod lossy {
    use super::*;

    /// A host-sim on a wire that drops 10 % of its frames, answering.
    fn lossy_sim() -> HostSim {
        let sim = HostSim::start(&["--drop", "10", "--seed", "7"]);
        wait_ready(sim.addr);
        sim
    }

    /// A round trip that must succeed within `limit`, retrying only when
    /// the device answers `busy` or closes before a byte (a slot not yet
    /// back): never a cut reply.
    fn served(addr: SocketAddr, body: &[u8], limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let s = connect(addr);
            match round_trip(&s, Op::Echo, body) {
                Some((h, got)) if h.status() == Some(Status::Ok) => {
                    assert_eq!(got, body, "a reply came back wrong");
                    return start.elapsed();
                }
                Some((h, _)) => assert_eq!(h.status(), Some(Status::Busy), "{h:?}"),
                None => {}
            }
            assert!(start.elapsed() < limit, "not served within {limit:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    #[test]
    #[ignore = "a minute or two at 10% loss; .ci/run runs it"]
    fn lossy_fifty_vanishing_clients_then_a_fresh_one_is_served() {
        let sim = lossy_sim();
        let start = Instant::now();
        for _ in 0..50 {
            let mut s = connect(sim.addr);
            // Half a frame, then gone.
            let _ = s.write_all(&raw_frame(r#"{"data_size":5,"op":"echo"}"#, b"")[..12]);
        }
        let waited = served(sim.addr, b"fresh", Duration::from_secs(120));
        eprintln!(
            "lossy: 50 vanished clients, then a fresh one served after {waited:?} ({:?} in all)",
            start.elapsed()
        );
    }

    #[test]
    #[ignore = "a minute or two at 10% loss; .ci/run runs it"]
    fn lossy_four_clients_fifty_round_trips_each() {
        let sim = lossy_sim();
        let addr = sim.addr;
        let start = Instant::now();
        let clients: Vec<_> = (0..4)
            .map(|c| {
                std::thread::spawn(move || {
                    let s = connect(addr);
                    for i in 0..50 {
                        let body = format!("client {c} round {i}");
                        let (h, got) = round_trip(&s, Op::Echo, body.as_bytes())
                            .unwrap_or_else(|| panic!("client {c} cut at round {i}"));
                        assert_eq!(h.status(), Some(Status::Ok), "client {c} round {i}");
                        assert_eq!(got, body.as_bytes());
                    }
                    start.elapsed()
                })
            })
            .collect();
        for (c, t) in clients.into_iter().enumerate() {
            let took = t.join().expect("a client failed");
            assert!(took < Duration::from_secs(240), "client {c}: {took:?}");
            eprintln!("lossy: client {c}: 50 round trips in {took:?}");
        }
    }

    #[test]
    #[ignore = "a minute or two at 10% loss; .ci/run runs it"]
    fn lossy_a_newcomer_to_a_full_pool_gets_busy() {
        let sim = lossy_sim();
        let start = Instant::now();
        // Eight connections (the pool serves eight) inside a frame: a whole
        // request and half of the next in one write; once the first is
        // answered the device has the half.
        let half = raw_frame(r#"{"data_size":2,"op":"echo"}"#, b"");
        let inside: Vec<TcpStream> = (0..8)
            .map(|_| {
                let mut s = connect(sim.addr);
                let mut bytes = raw_frame(r#"{"data_size":2,"op":"echo"}"#, b"");
                bytes.extend_from_slice(b"go");
                bytes.extend_from_slice(&half[..10]);
                s.write_all(&bytes).unwrap();
                let (_, body) = next_reply(&s).expect("the first reply");
                assert_eq!(body, b"go");
                s
            })
            .collect();
        let newcomer = connect(sim.addr);
        let (h, _) = next_reply(&newcomer).expect("the newcomer got no busy");
        assert_eq!(h.status(), Some(Status::Busy), "{h:?}");
        eprintln!(
            "lossy: a newcomer to a full pool got busy after {:?}",
            start.elapsed()
        );
        drop(inside);
    }
}
