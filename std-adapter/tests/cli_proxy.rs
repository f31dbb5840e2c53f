//! `jframe proxy`: transparent (the conformance table gives the
//! same outcomes through it as direct), frames shown both ways, bad frames
//! shown as such and still forwarded, `--json`, seeded faults. And `load`'s
//! report. Everything on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use jframe_std::conform::{self, Options};
use serde_json::Value;

/// A `jframe proxy` child; its stdout lines are collected; killed on drop.
struct ProxyProc {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ProxyProc {
    fn start(upstream: &str, extra: &[&str]) -> ProxyProc {
        let mut child = jframe_command(&[&["proxy", "127.0.0.1:0", upstream], extra].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn jframe proxy");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let line = first_line(&mut err, "proxy stderr");
        // "jframe: proxy listening on ADDR, forwarding to ..."
        let addr = line
            .split_whitespace()
            .nth(4)
            .and_then(|a| a.trim_end_matches(',').parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        thread::spawn(move || {
            let mut sink = String::new();
            let _ = err.read_to_string(&mut sink);
        });
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = BufReader::new(child.stdout.take().unwrap());
        let l2 = lines.clone();
        thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        ProxyProc { child, addr, lines }
    }

    fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Waits (bounded) until `pred` holds for the lines seen so far.
    fn wait_for(&self, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if pred(&lines) {
                return lines;
            }
            assert!(Instant::now() < until, "{what}: not seen in {lines:#?}");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ProxyProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[test]
fn the_proxy_is_transparent_to_the_conformance_table() {
    let server = ServerProc::start(&["--max-body", "1MiB", "--header-timeout", "2s"]);
    let proxy = ProxyProc::start(&server.addr(), &["--json"]);
    let opts = Options {
        jobs: 8,
        ..Options::default()
    };
    let direct = conform::run_tcp(server.tcp, &opts);
    let through = conform::run_tcp(proxy.addr, &opts);
    assert!(direct.len() > 40, "only {} TCP cases", direct.len());
    let summary = |v: &[conform::Outcome]| -> Vec<(String, bool)> {
        v.iter()
            .map(|o| (o.name.clone(), o.result.is_ok()))
            .collect()
    };
    let (d, t) = (summary(&direct), summary(&through));
    let differ: Vec<String> = direct
        .iter()
        .zip(&through)
        .filter(|(a, b)| a.result.is_ok() != b.result.is_ok())
        .map(|(a, b)| format!("direct: {a}\nproxied: {b}"))
        .collect();
    assert!(
        d == t,
        "outcomes differ through the proxy:\n{}",
        differ.join("\n")
    );
    // Every frame was reported as JSON.
    let lines = proxy.wait_for("frames", |l| l.len() > 50);
    let frames = parse(&lines);
    assert!(frames.iter().any(|f| f["dir"] == "c2s"));
    assert!(frames.iter().any(|f| f["dir"] == "s2c"));
}

#[test]
fn the_proxy_shows_frames_both_ways_and_a_bad_frame_as_one() {
    let server = ServerProc::start(&[]);
    let proxy = ProxyProc::start(&server.addr(), &[]);
    let o = jframe(&["send", &proxy.addr(), "-H", "trace=t1", "hello"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "HELLO\n");
    let lines = proxy.wait_for("both directions", |l| {
        l.iter().any(|x| x.contains(" <- #1 "))
    });
    let req = lines.iter().find(|l| l.contains(" -> #1 ")).unwrap();
    assert!(
        req.contains(r#"{"data_size":5,"op":"upper","trace":"t1"}"#),
        "{req}"
    );
    assert!(req.contains("5 B \"hello\""), "{req}");
    let rep = lines.iter().find(|l| l.contains(" <- #1 ")).unwrap();
    assert!(
        rep.contains(r#""status":"ok""#) && rep.contains("\"HELLO\""),
        "{rep}"
    );
    assert!(rep.contains("ms after the request"), "{rep}");

    // A bad prefix: reported, and the bytes still reach the server, which
    // answers bad_frame (through the proxy, byte for byte).
    let mut s = connect(proxy.addr);
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let (header, _) = read_raw_frame(&mut s).unwrap();
    assert_eq!(status_of(&header), "bad_frame");
    let lines = proxy.wait_for("the bad frame", |l| {
        l.iter().any(|x| x.contains("BAD FRAME"))
    });
    let bad = lines.iter().find(|l| l.contains("BAD FRAME")).unwrap();
    assert!(
        bad.contains("bad prefix") && bad.contains("GET / HTTP/1.0"),
        "{bad}"
    );

    // A bad header behind a good prefix, with --json.
    let proxy = ProxyProc::start(&server.addr(), &["--json"]);
    let mut s = connect(proxy.addr);
    s.write_all(&raw_frame("{not json}", b"")).unwrap();
    let (header, _) = read_raw_frame(&mut s).unwrap();
    assert_eq!(status_of(&header), "bad_frame");
    let lines = proxy.wait_for("bad header", |l| l.len() >= 2);
    let frames = parse(&lines);
    let bad = frames.iter().find(|f| f["dir"] == "c2s").unwrap();
    assert!(
        bad["error"].as_str().unwrap().contains("bad header"),
        "{bad}"
    );
    assert_eq!(bad["bytes"], "\n\0\0\0{not json}");
    let reply = frames.iter().find(|f| f["dir"] == "s2c").unwrap();
    assert_eq!(reply["header"]["status"], "bad_frame");
}

#[test]
fn proxy_faults_are_seeded_and_per_frame() {
    let server = ServerProc::start(&[]);
    // Every frame dropped: the request never arrives, the client times out.
    let proxy = ProxyProc::start(&server.addr(), &["--json", "--drop", "100"]);
    let o = jframe(&["send", &proxy.addr(), "-t", "1s", "hi"]);
    assert_eq!(o.status.code(), Some(1));
    let lines = proxy.wait_for("drop", |l| !l.is_empty());
    assert_eq!(parse(&lines)[0]["fault"], "drop");

    // Every frame corrupted: one bit somewhere in it; the same seed flips
    // the same bit.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let proxy = ProxyProc::start(
            &server.addr(),
            &["--json", "--corrupt", "100", "--seed", "42"],
        );
        let _ = jframe(&[
            "send",
            &proxy.addr(),
            "-t",
            "1s",
            "--op",
            "echo",
            "abcdefgh",
        ]);
        let lines = proxy.wait_for("corrupt", |l| !l.is_empty());
        seen.push(parse(&lines)[0]["fault"].clone());
    }
    assert!(
        seen[0].as_str().unwrap().starts_with("corrupt byte"),
        "{seen:?}"
    );
    assert_eq!(seen[0], seen[1]);

    // A delay: the reply takes at least that long.
    let proxy = ProxyProc::start(&server.addr(), &["--delay", "300ms"]);
    let started = Instant::now();
    let o = jframe(&["send", &proxy.addr(), "hi"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "HI\n");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "request and reply each held"
    );
}

#[test]
fn load_reports_percentiles_histogram_and_errors_by_cause() {
    let server = ServerProc::start(&["--max-body", "100"]);
    let o = jframe(&["load", &server.addr(), "-c", "2", "-n", "500", "-p", "5"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for word in ["p50", "p90", "p99", "p99.9", "Histogram", "requests=500 "] {
        assert!(out.contains(word), "{word} missing in {out}");
    }
    // Every request refused: the cause is the status, with the server's message.
    let o = jframe(&[
        "load",
        &server.addr(),
        "-c",
        "1",
        "-d",
        "500ms",
        "-s",
        "1k",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cause = report["errors_by_cause"][0]["cause"].as_str().unwrap();
    assert!(cause.contains("too_large"), "{cause}");
    assert!(report["errors"].as_u64().unwrap() > 0);
    // --rate paces: 2 connections at 40 requests/s for 1 s.
    let o = jframe(&[
        "load",
        &server.addr(),
        "-c",
        "2",
        "-d",
        "1s",
        "--rate",
        "40",
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = report["requests"].as_u64().unwrap();
    assert!((30..=50).contains(&n), "{n} requests at --rate 40 for 1s");
}

/// An upstream that reads one request, then sends a reply of `pieces`
/// 4 KiB pieces, one every 50 ms, and then waits for the client to close.
/// Returns its address and the bytes it sent.
fn trickling_upstream(pieces: usize) -> (String, thread::JoinHandle<usize>) {
    let (addr, handle) = one_peer(move |mut s| {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        read_raw_frame(&mut s).expect("the request");
        let body = vec![b'x'; 4096];
        let head = format!(r#"{{"data_size":{},"status":"ok"}}"#, pieces * body.len());
        s.write_all(&raw_frame(&head, b"")).unwrap();
        let mut sent = 0;
        for _ in 0..pieces {
            thread::sleep(Duration::from_millis(50));
            if s.write_all(&body).is_err() {
                break;
            }
            sent += body.len();
        }
        // Until the client has read it all and closed.
        let mut rest = [0u8; 16];
        let _ = s.read(&mut rest);
        sent
    });
    (addr, handle)
}

#[test]
fn a_long_one_sided_transfer_is_not_cut_by_the_idle_timeout() {
    // 60 pieces, 50 ms apart: 3 s of download with a quiet client, through
    // a proxy whose idle timeout is 1 s. Each direction timing out alone
    // (the bug) cut it after 1 s.
    let pieces = 60;
    let (upstream, server) = trickling_upstream(pieces);
    let proxy = ProxyProc::start(&upstream, &["--json", "--idle-timeout", "1s"]);
    let mut s = connect(proxy.addr);
    s.write_all(&raw_frame(r#"{"data_size":2,"op":"echo"}"#, b"hi"))
        .unwrap();
    let (header, body) = read_raw_frame(&mut s).expect("the whole reply through the proxy");
    assert!(header.contains(&format!("{}", pieces * 4096)), "{header}");
    assert_eq!(body.len(), pieces * 4096);
    drop(s);
    assert_eq!(server.join().unwrap(), pieces * 4096);
    let lines = proxy.wait_for("the reply", |l| l.iter().any(|x| x.contains("s2c")));
    let reply = parse(&lines)
        .into_iter()
        .find(|f| f["dir"] == "s2c")
        .unwrap();
    assert_eq!(reply["body_size"], pieces * 4096);

    // Neither side moving: the connection is closed after the idle time.
    let (quiet, _) = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap().to_string();
        (a, thread::spawn(move || l.accept().map(|(s, _)| s)))
    };
    let proxy = ProxyProc::start(&quiet, &["--idle-timeout", "1s"]);
    let mut s = connect(proxy.addr);
    assert!(closed_within(&mut s, Duration::from_secs(20)));
}
