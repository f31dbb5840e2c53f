//! The SPEC conformance table (`jframe_std::conform`) against the in-process
//! server, and `jframe conform` against `jframe serve`, both on 127.0.0.1.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use jframe_std::conform::{self, Options};
use jframe_std::server::{Config, Server};

fn opts() -> Options {
    Options {
        jobs: 8,
        ..Options::default()
    }
}

/// Runs `jframe ARGS`, killing it past `limit`: (exit status, stdout).
fn run_bounded(args: &[&str], limit: Duration) -> (ExitStatus, String) {
    let mut child = jframe_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn jframe");
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("jframe {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, reader.join().expect("stdout reader"))
}

#[test]
fn in_process_server_conforms_over_tcp_and_udp() {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = Config {
        grace: Duration::from_secs(1),
        ..Config::default()
    };
    let server = Server::bind(loopback, Some(loopback), config).expect("bind");
    let tcp = server.local_addr().unwrap();
    let udp = server.udp_addr().expect("udp address");
    let handle = server.shutdown_handle().unwrap();
    let (stopped_tx, stopped) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = stopped_tx.send(server.run());
    });

    let all = conform::cases();
    let tcp_cases = all.iter().filter(|c| !c.exchange.is_udp()).count();
    let udp_cases = all.len() - tcp_cases;
    let tcp_outcomes = conform::run_tcp(tcp, &opts());
    let udp_outcomes = conform::run_udp(udp, &opts());
    assert_eq!(tcp_outcomes.len(), tcp_cases);
    assert_eq!(udp_outcomes.len(), udp_cases);

    handle.shutdown();
    let stop = stopped
        .recv_timeout(Duration::from_secs(20))
        .expect("server stopped within 20 s");
    stop.expect("server ran cleanly");

    let mut every = tcp_outcomes;
    every.extend(udp_outcomes);
    // Strictly: jframe's own replies follow what SPEC asks of senders.
    assert_all_pass("in-process server", &every, true);
}

#[test]
fn jframe_conform_against_jframe_serve() {
    for engine in ["tokio", "threads"] {
        conform_against_serve(engine);
    }
}

fn conform_against_serve(engine: &str) {
    let server = ServerProc::start(&["--udp", "127.0.0.1:0", "--engine", engine]);
    let udp = server.udp.unwrap().to_string();
    let (status, text) = run_bounded(
        &[
            "conform",
            &server.addr(),
            "--udp",
            &udp,
            "--timeout",
            "3s",
            "--jobs",
            "8",
        ],
        Duration::from_secs(120),
    );
    let cases = conform::cases().len();
    let summary = text.lines().last().unwrap_or("");
    let fails: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("FAIL") || l.starts_with("non-strict"))
        .collect();
    assert!(
        fails.is_empty()
            && status.success()
            && summary == format!("{cases} passed (0 non-strict), 0 failed"),
        "jframe conform against the {engine} engine: {status}, summary {summary:?}, failures:\n{}",
        fails.join("\n")
    );
    // One line per case, then the summary.
    assert_eq!(text.lines().count(), cases + 1, "{text}");
}

#[test]
fn jframe_conform_fails_against_a_silent_server() {
    // A listener that accepts and never answers: every case must fail with
    // a concrete reason, promptly (bounded by the timeout), exit code 1.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let (status, text) = run_bounded(
        &[
            "conform",
            &addr,
            "--timeout",
            "200ms",
            "--jobs",
            "16",
            "--only",
            "tcp/vector/",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "FAIL       tcp/vector/jframe-dialect: expected 2 replies, got 0 then nothing for 200ms"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("0 passed (0 non-strict), 4 failed\n"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// `jframe conform` against servers that are not jframe's: seed 002's Python
// server, and a server with only its own ops.

/// Runs `jframe ARGS` with stderr discarded: (exit status, stdout).
fn conform_quietly(args: &[&str]) -> (ExitStatus, String) {
    let mut all = vec!["-q", "conform"];
    all.extend_from_slice(args);
    run_bounded(&all, Duration::from_secs(120))
}

/// The JSON lines of `--json`: the cases, then the summary.
fn json_report(text: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    assert_eq!(summary["type"], "summary", "{summary}");
    assert!(lines.iter().all(|c| c["type"] == "case"), "{text}");
    assert_eq!(summary["total"], lines.len(), "{summary}");
    for c in &lines {
        assert!(c["id"].as_str().is_some_and(|id| !id.is_empty()), "{c}");
        assert!(c["spec"].as_array().is_some_and(|s| !s.is_empty()), "{c}");
        let v = c["verdict"].as_str().unwrap_or("");
        assert!(["pass", "non-strict", "fail"].contains(&v), "{c}");
        assert_eq!(v == "fail", c["reason"].is_string(), "{c}");
    }
    (lines, summary)
}

fn case<'a>(cases: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    cases
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

/// A check that `x` is well-formed XML (no XML crate in the lockfile): one
/// root, tags nested and closed, attributes quoted, `&` only in the five
/// entities or character references, no `<` in text or values, no control
/// characters. Returns the number of each element by name.
fn assert_well_formed_xml(x: &str) -> std::collections::HashMap<String, usize> {
    fn entities_ok(s: &str) -> bool {
        let mut rest = s;
        while let Some(at) = rest.find('&') {
            rest = &rest[at + 1..];
            let Some(end) = rest.find(';') else {
                return false;
            };
            let name = &rest[..end];
            let numeric = name
                .strip_prefix('#')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !numeric && !["amp", "lt", "gt", "quot", "apos"].contains(&name) {
                return false;
            }
            rest = &rest[end + 1..];
        }
        !s.chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    }
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
    };
    let mut rest = x
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("an XML declaration");
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut count = std::collections::HashMap::new();
    // Each turn consumes at least one byte.
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').expect("an unclosed tag");
            let tag = &r[..end];
            rest = &r[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
                continue;
            }
            let closed = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            assert!(is_name(name), "bad element name {name:?}");
            while !attrs.trim().is_empty() {
                let (key, after) = attrs.trim_start().split_once("=\"").expect("key=\"value\"");
                assert!(is_name(key), "bad attribute name {key:?}");
                let (value, after) = after.split_once('"').expect("a closing quote");
                assert!(
                    !value.contains('<') && entities_ok(value),
                    "bad value {value:?}"
                );
                attrs = after;
            }
            if stack.is_empty() {
                roots += 1;
            }
            *count.entry(name.to_string()).or_insert(0) += 1;
            if !closed {
                stack.push(name);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            assert!(entities_ok(text), "bad text {text:?}");
            if stack.is_empty() {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            rest = &rest[end..];
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1);
    count
}

/// The JUnit file: well-formed, one testcase per case, failures counted.
fn check_junit(path: &std::path::Path, cases: &[serde_json::Value], summary: &serde_json::Value) {
    let x = std::fs::read_to_string(path).expect("the JUnit file");
    let count = assert_well_formed_xml(&x);
    assert_eq!(count.get("testsuites"), Some(&1));
    assert_eq!(count.get("testcase").copied(), Some(cases.len()), "{x}");
    assert_eq!(
        count.get("failure").copied().unwrap_or(0),
        summary["fail"].as_u64().unwrap() as usize
    );
    assert!(
        x.contains(&format!(
            r#"tests="{}" failures="{}""#,
            cases.len(),
            summary["fail"]
        )),
        "{x}"
    );
}

/// Seed 002's `socketserver.ThreadingTCPServer` (tests/py/seed002_server.py,
/// stdlib only, on 127.0.0.1): it frames correctly and upper-cases every
/// body, writes `{"data_size": N}` with no status, and on a bad frame raises
/// and drops the connection.
struct Seed002(std::process::Child, SocketAddr);

impl Seed002 {
    fn start() -> Seed002 {
        use std::io::BufRead;
        let mut child = Command::new(python3())
            .arg(py_script("seed002_server.py"))
            .stdout(Stdio::piped())
            // Its tracebacks on bad frames are expected.
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the seed 002 server");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("its first line");
        let addr = line
            .trim()
            .strip_prefix("listening on tcp ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Seed002(child, addr)
    }
}

impl Drop for Seed002 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn seed002_python_server_gets_the_vectors_non_strict_and_never_answers_bad_frame() {
    let seed = Seed002::start();
    let addr = seed.1.to_string();
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("seed002.xml");
    let common = ["--timeout", "3s", "--jobs", "16"];

    // The whole table, as a new user runs it.
    let mut args = vec![addr.as_str(), "--json", "--junit", junit.to_str().unwrap()];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert_eq!(status.code(), Some(1), "{text}");
    let (cases, summary) = json_report(&text);
    check_junit(&junit, &cases, &summary);
    // What it gets right: the vectors it can read, non-strict because its
    // replies carry no status (and json.dumps's spacing).
    for id in ["tcp/vector/python-dialect", "tcp/vector/jframe-dialect"] {
        let c = case(&cases, id);
        assert_eq!(c["verdict"], "non-strict", "{c}");
        assert_eq!(c["group"], "framing", "{c}");
        let d = c["departures"].to_string();
        assert!(
            d.contains("no status") && d.contains("not compact JSON"),
            "{c}"
        );
    }
    assert_eq!(
        case(&cases, "tcp/service/upper-ascii")["verdict"],
        "non-strict"
    );
    // What it gets wrong: it never answers bad_frame (it drops the
    // connection), echo upper-cases, and the old key size is not read.
    let fatal: Vec<&serde_json::Value> = cases
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("tcp/fatal/"))
        .collect();
    assert!(fatal.len() > 40);
    for c in fatal
        .iter()
        .chain([&case(&cases, "tcp/vector/negative-prefix")])
    {
        assert_eq!(c["verdict"], "fail", "{c}");
    }
    let eof = case(&cases, "tcp/vector/negative-prefix")["reason"]
        .as_str()
        .unwrap();
    assert!(eof.contains("EOF"), "{eof}");
    assert_eq!(case(&cases, "tcp/service/echo")["verdict"], "fail");
    assert_eq!(case(&cases, "tcp/vector/size-alias")["verdict"], "fail");
    assert_eq!(summary["pass"], 0, "{summary}");
    assert!(summary["non_strict"].as_u64().unwrap() >= 3, "{summary}");
    // Its framing shows even with the demo table: the framing cases' echo
    // bodies read the same upper-cased.
    for id in [
        "tcp/header/whitespace",
        "tcp/boundary/second-frame-starts-at-4096",
    ] {
        assert_eq!(case(&cases, id)["verdict"], "non-strict", "{id}");
    }
    assert!(summary["groups"]["framing"]["non_strict"].as_u64().unwrap() >= 15);

    // The text report says the same, and not "0 passed".
    let (status, text) = conform_quietly(&[&addr, "--only", "tcp/vector/", common[0], common[1]]);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("non-strict tcp/vector/python-dialect: no status (readers take it as ok; senders write it): {\"data_size\": 2}; not compact JSON"),
        "{text}"
    );
    assert!(
        text.contains("FAIL       tcp/vector/negative-prefix: expected 1 reply, got 0 then EOF"),
        "{text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("2 passed (2 non-strict), 2 failed"),
        "{text}"
    );

    // Framing only, with an op it answers ok (it answers any): its framing
    // shows, header forms, pipelining and buffer boundaries included.
    let mut args = vec![
        addr.as_str(),
        "--framing-only",
        "--ok-op",
        "upper",
        "--json",
    ];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert_eq!(status.code(), Some(1), "{text}");
    let (cases, summary) = json_report(&text);
    assert!(cases.iter().all(|c| c["group"] == "framing"));
    for id in [
        "tcp/header/whitespace",
        "tcp/header/unknown-keys",
        "tcp/pipeline/byte-at-a-time",
        "tcp/boundary/second-frame-starts-at-8192",
        "tcp/boundary/prefix-split-by-1",
    ] {
        assert_eq!(case(&cases, id)["verdict"], "non-strict", "{id}");
    }
    assert_eq!(case(&cases, "tcp/recover/unknown-op")["verdict"], "fail");
    assert_eq!(
        case(&cases, "tcp/fatal/duplicate-key/size-first")["verdict"],
        "fail"
    );
    assert!(summary["non_strict"].as_u64().unwrap() >= 15, "{summary}");
    assert_eq!(summary["pass"], 0, "{summary}");
}

/// A server with only its own ops, `read_sensor` and `set_config` (no
/// upper, echo, greet or get), written on jframe's decoder and encoder the
/// way a user would: TCP (a thread per connection) and UDP.
mod own_ops {
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
    use std::time::{Duration, Instant};

    use jframe::{DecodeError, Decoder, Event, Header, Parse, Status};

    fn reply(out: &mut Vec<u8>, header: &Header, body: &[u8]) {
        let mut buf = vec![0u8; 512 + body.len()];
        let n = jframe::encode_frame(&mut buf, header, body).expect("encode");
        out.extend_from_slice(&buf[..n]);
    }

    /// The answer to a well-formed request.
    fn answer(out: &mut Vec<u8>, op: Option<&str>, body: &[u8]) {
        match op {
            Some("read_sensor") => reply(out, &Header::reply(Status::Ok, 4), b"21.5"),
            Some("set_config") => {
                let text = format!("stored {} bytes", body.len());
                reply(
                    out,
                    &Header::reply(Status::Ok, text.len() as u64),
                    text.as_bytes(),
                );
            }
            _ => reply(
                out,
                &Header::error_reply(Status::BadRequest, "unknown op"),
                b"",
            ),
        }
    }

    fn error(out: &mut Vec<u8>, e: &DecodeError) {
        reply(out, &Header::error_reply(e.status(), "bad frame"), b"");
    }

    /// Sends what is pending, then closes without a reset: stop writing,
    /// read what the peer still sends (bounded), drop.
    fn close(mut s: TcpStream, out: &[u8]) {
        let _ = s.write_all(out);
        let _ = s.shutdown(Shutdown::Write);
        let until = Instant::now() + Duration::from_secs(2);
        let mut sink = [0u8; 4096];
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        while Instant::now() < until {
            match s.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    }

    fn connection(mut s: TcpStream) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let mut dec = Decoder::new(vec![0u8; 16 * 1024]);
        let mut input = [0u8; 8192];
        loop {
            let n = match s.read(&mut input) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mut rest = &input[..n];
            let mut out = Vec::new();
            // Each feed consumes a byte or reports an event or an error; a
            // fatal error ends the connection.
            for _ in 0..=2 * n + 2 {
                if rest.is_empty() {
                    break;
                }
                let (used, event) = dec.feed(rest);
                let mut end = false;
                match event {
                    Ok(Event::NeedMore) => {}
                    Ok(Event::Frame(f)) if f.header.status.is_some() => end = true,
                    Ok(Event::Frame(f)) => answer(&mut out, f.header.op.as_deref(), f.body),
                    Ok(Event::Head(_) | Event::BodyChunk { .. }) => end = true,
                    Err(e) if e.is_recoverable() => error(&mut out, &e),
                    Err(e) => {
                        error(&mut out, &e);
                        end = true;
                    }
                }
                if end {
                    return close(s, &out);
                }
                rest = &rest[used..];
            }
            if s.write_all(&out).is_err() {
                return;
            }
        }
    }

    fn datagrams(sock: UdpSocket) {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                return;
            };
            let mut header = Header::default();
            let mut out = Vec::new();
            match jframe::parse_frame(&buf[..n], 4096, &mut header) {
                Ok(Parse::Complete { .. }) if header.status.is_some() => continue,
                Ok(Parse::Complete { body, len, .. }) if len == n => {
                    answer(&mut out, header.op.as_deref(), body)
                }
                Ok(Parse::Complete { .. })
                | Ok(Parse::Partial {
                    data_size: None, ..
                }) => reply(
                    &mut out,
                    &Header::error_reply(Status::BadFrame, "bad datagram"),
                    b"",
                ),
                Ok(Parse::Partial {
                    data_size: Some(_), ..
                }) => reply(
                    &mut out,
                    &Header::error_reply(Status::Truncated, "short"),
                    b"",
                ),
                Err(e) => error(&mut out, &e),
            }
            let _ = sock.send_to(&out, peer);
        }
    }

    /// Starts the server on 127.0.0.1: (TCP, UDP) addresses.
    pub fn start() -> (SocketAddr, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addrs = (listener.local_addr().unwrap(), udp.local_addr().unwrap());
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                std::thread::spawn(move || connection(s));
            }
        });
        std::thread::spawn(move || datagrams(udp));
        addrs
    }
}

#[test]
fn a_server_with_only_its_own_ops_passes_the_framing_cases() {
    let (tcp, udp) = own_ops::start();
    let (tcp, udp) = (tcp.to_string(), udp.to_string());
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("own.xml");
    let common = ["--udp", udp.as_str(), "--timeout", "3s", "--jobs", "8"];

    // Text: one line per case, all ok, and the summary says 0 failed.
    let mut args = vec![tcp.as_str(), "--framing-only", "--ok-op", "read_sensor"];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    let ok = conform::framing_cases(&conform::OkRequest::new("read_sensor", b"").unwrap()).len();
    let summary = text.lines().last().unwrap_or("");
    assert!(
        status.success() && summary == format!("{ok} passed (0 non-strict), 0 failed"),
        "{status}: {text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        ok,
        "{text}"
    );

    // JSON and JUnit, with a body for the other op.
    let mut args = vec![
        tcp.as_str(),
        "--op",
        "set_config",
        "--ok-body",
        r#"{"led":1}"#,
    ];
    args.extend(["--json", "--junit", junit.to_str().unwrap()]);
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert!(status.success(), "{text}");
    let (cases, summary) = json_report(&text);
    check_junit(&junit, &cases, &summary);
    assert_eq!(summary["fail"], 0, "{summary}");
    assert_eq!(summary["pass"], ok, "{summary}");
    assert_eq!(summary["services"]["ok_op"], "set_config");
    assert!(cases.iter().any(|c| c["transport"] == "udp"));
    assert!(cases.iter().all(|c| c["group"] == "framing"));

    // The checks can fail: an op it does not have is bad_request, and the
    // demo services are not there.
    let mut args = vec![tcp.as_str(), "--ok-op", "upper", "--only", "tcp/vector/"];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL       tcp/vector/jframe-dialect: reply 1 of 2: expected status ok, got bad_request"),
        "{text}"
    );
    let (status, text) = conform_quietly(&[&tcp, "--only", "tcp/service/echo"]);
    assert_eq!(status.code(), Some(1), "{text}");
}

#[test]
fn conform_rejects_a_bad_ok_request_clearly() {
    let out = Command::new(BIN)
        .args(["conform", "127.0.0.1:9", "--ok-op", "x", "--ok-body"])
        .arg("b".repeat(129))
        .output()
        .expect("run jframe");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ok-op/--ok-body: the body is 129 bytes; at most 128"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["conform", "127.0.0.1:9", "--ok-body", "x"])
        .output()
        .expect("run jframe");
    assert_eq!(out.status.code(), Some(2), "clap: --ok-body needs --ok-op");
}
