//! The `jframe` clients as a user drives them: errors with their
//! cause, welcome servers, bodies from stdin and files, `-H`, `--json`,
//! `-o -`, `raw` with stdin, and peers that are not jframe servers. (Bounded
//! error bodies and `get`'s part file: tests/cli_get.rs.) Every server here
//! binds 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn json_lines(o: &Output) -> Vec<Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

// ------------------------------------------------------------- errors

#[test]
fn errors_name_their_cause() {
    // A port in use.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let o = jframe(&["serve", "--listen", &port]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("Address already in use"), "{err}");
    assert!(err.contains(&port), "{err}");

    // A root that does not exist.
    let o = jframe(&[
        "serve",
        "-l",
        "127.0.0.1:0",
        "--root",
        "/nonexistent/jframe",
    ]);
    let err = text(&o.stderr);
    assert!(err.contains("--root /nonexistent/jframe"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");

    // A refused connection (a port just freed), for each client.
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    for args in [
        vec!["send", &free, "hi"],
        vec!["get", &free, "x.bin", "-o", "/tmp/never-written"],
        vec!["load", &free, "-d", "1s", "-c", "1"],
        vec!["raw", &free, "--send", "x"],
    ] {
        let o = jframe(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(err.contains("Connection refused"), "{args:?}: {err}");
        assert!(err.contains(&free), "{args:?}: {err}");
    }

    // A name that does not resolve, and an address without a port.
    let o = jframe(&["send", "no-such-host.invalid:9000", "hi"]);
    let err = text(&o.stderr);
    assert!(
        err.contains("cannot resolve no-such-host.invalid:9000"),
        "{err}"
    );
    assert!(
        err.matches(':').count() >= 3,
        "the resolver's reason is missing: {err}"
    );
    let o = jframe(&["send", "127.0.0.1", "hi"]);
    assert_stderr_has(&o, "has no port");
}

#[test]
fn localhost_and_port_only_addresses_work_everywhere() {
    // serve --listen localhost:PORT, and clients with localhost:PORT and :PORT.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("localhost:{port}");
    let mut child = jframe_command(&["serve", "-l", &listen])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    let short = format!(":{port}");
    for addr in [&listen, &short] {
        let o = jframe(&["send", addr, "hi"]);
        assert_eq!(text(&o.stdout), "HI\n", "{addr}: {}", text(&o.stderr));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ------------------------------------------------------------- welcome

#[test]
fn a_welcome_server_works_with_send_get_and_load() {
    let root = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(root.path().join("w.bin"), &data).unwrap();
    let server = ServerProc::start(&[
        "--welcome",
        "Welcome!",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    let addr = server.addr();

    let o = jframe(&["send", &addr, "hello", "world"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "HELLO\nWORLD\n");
    assert!(text(&o.stderr).contains("Welcome!"), "{}", text(&o.stderr));
    // --json: the welcome is line 0, marked.
    let o = jframe(&["send", &addr, "--json", "hi"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["n"], 0);
    assert_eq!(lines[0]["welcome"], true);
    assert_eq!(lines[0]["header"]["welcome"], true);
    assert_eq!(lines[0]["body"], "Welcome!");
    assert_eq!(lines[1]["n"], 1);
    assert_eq!(lines[1]["body"], "HI");
    assert!(lines[1].get("welcome").is_none(), "{lines:?}");
    // recv: the welcome, sending nothing.
    let o = jframe(&["recv", &addr, "-n", "1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Welcome!\n");

    let dest = tempfile::tempdir().unwrap();
    let out = dest.path().join("w.bin");
    let o = jframe(&["get", &addr, "w.bin", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), data);

    let o = jframe(&["load", &addr, "-c", "2", "-n", "200", "-p", "4", "--json"]);
    assert!(
        o.status.success(),
        "{} {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report = &json_lines(&o)[0];
    assert_eq!(report["requests"], 200);
    assert_eq!(report["errors"], 0);
}

// ------------------------------------------------------------- bodies

#[test]
fn stdin_file_and_binary_bodies_round_trip_byte_for_byte() {
    let server = ServerProc::start(&["--max-body", "4MiB"]);
    let addr = server.addr();
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();

    // Stdin.
    let o = run_jframe(
        &["send", &addr, "--op", "echo", "-d", "@-", "-N"],
        Some(&all_bytes),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        o.stdout == all_bytes,
        "stdin body differs ({} bytes back)",
        o.stdout.len()
    );

    // A file, twice, plus a text body: three frames, in order.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.bin");
    std::fs::write(&file, &all_bytes[..1000]).unwrap();
    let at_file = format!("@{}", file.display());
    let o = jframe(&[
        "send", &addr, "--op", "echo", "-N", "-d", &at_file, "-d", "mid", "-d", &at_file,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut want = all_bytes[..1000].to_vec();
    want.extend_from_slice(b"mid");
    want.extend_from_slice(&all_bytes[..1000]);
    assert!(o.stdout == want);

    // A binary argument (not UTF-8), as the shell passes it.
    use std::os::unix::ffi::OsStrExt;
    let arg = std::ffi::OsStr::from_bytes(b"\xff\x01\xfe");
    let o = Command::new(BIN)
        .args(["send", &addr, "--op", "echo"])
        .arg(arg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"\xff\x01\xfe\n");

    // --json carries a binary body as base64.
    let o = jframe(&["send", &addr, "--op", "echo", "--json", "-d", &at_file]);
    let line = &json_lines(&o)[0];
    assert!(
        line["body_base64"]
            .as_str()
            .unwrap()
            .starts_with("AAECAwQF")
    );

    // A missing file names itself.
    let o = jframe(&["send", &addr, "-d", "@/nonexistent/body"]);
    assert_stderr_has(&o, "/nonexistent/body");
    assert_stderr_has(&o, "No such file");
}

#[test]
fn json_replies_parse_one_line_each() {
    let server = ServerProc::start(&["--max-body", "8"]);
    let o = jframe(&[
        "send",
        &server.addr(),
        "--json",
        "hello",
        "much too long",
        "straße",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the too_large reply fails the command"
    );
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["n"], 1);
    assert_eq!(lines[0]["status"], "ok");
    assert_eq!(lines[0]["body"], "HELLO");
    assert_eq!(lines[0]["header"]["data_size"], 5);
    assert_eq!(lines[1]["status"], "too_large");
    assert!(lines[1]["header"]["error"].as_str().is_some());
    assert_eq!(lines[2]["body"], "STRASSE");
}

#[test]
fn output_dash_is_stdout_for_get_and_raw() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), b"file body\n").unwrap();
    let server = ServerProc::start(&["--root", root.path().to_str().unwrap(), "--welcome", "W"]);
    let cwd = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["get", &server.addr(), "a.txt", "-o", "-"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"file body\n");
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "a file named - was written"
    );
}

// ------------------------------------------------------------- raw

#[test]
fn raw_sends_stdin_like_nc_and_exits_0_when_data_arrived() {
    // A peer that echoes what it reads until the client half-closes.
    let (addr, peer) = one_peer(move |mut s| {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    s.write_all(&buf[..n]).unwrap();
                }
            }
        }
        got
    });
    let input: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let o = run_jframe(&["raw", &addr], Some(&input));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout == input);
    assert!(peer.join().unwrap() == input);

    // A peer that sends, then stays silent without closing: exit 0.
    let (addr, peer) = one_peer(move |mut s| {
        s.write_all(b"banner\r\n").unwrap();
        thread::sleep(Duration::from_secs(3));
    });
    let o = jframe(&["raw", &addr, "--timeout", "500ms", "--send", ""]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"banner\r\n");
    peer.join().unwrap();
}

// ------------------------------------------------------------- -H

#[test]
fn header_keys_reach_the_server() {
    // A tiny server that answers each frame with its own header JSON as the body.
    let (addr, peer) = one_peer(move |mut s| {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        for _ in 0..2 {
            let Ok((header, _body)) = read_raw_frame(&mut s) else {
                return;
            };
            let reply = raw_frame(
                &format!(r#"{{"data_size":{},"status":"ok"}}"#, header.len()),
                header.as_bytes(),
            );
            s.write_all(&reply).unwrap();
        }
    });
    let o = jframe(&[
        "send",
        &addr,
        "--json",
        "-H",
        "trace=abc-123",
        "-H",
        "n=5",
        "-H",
        r#"meta={"a":[1,2]}"#,
        "one",
        "two",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let raw = line["body"].as_str().unwrap();
        // Compact, data_size first (SPEC), then op, then -H keys in order.
        assert!(
            raw.starts_with(r#"{"data_size":3,"op":"upper","trace":"abc-123","n":5,"#),
            "{raw}"
        );
        let seen: Value = serde_json::from_str(raw).unwrap();
        assert_eq!(seen["trace"], "abc-123");
        assert_eq!(seen["n"], 5);
        assert_eq!(seen["meta"]["a"][1], 2);
        assert_eq!(seen["op"], "upper");
    }
    peer.join().unwrap();
    // data_size cannot be forged.
    let o = jframe(&["send", &addr, "-H", "data_size=3", "x"]);
    assert!(text(&o.stderr).contains("data_size"), "{}", text(&o.stderr));
}

// ------------------------------------------------------------- not jframe

#[test]
fn peers_that_are_not_jframe_are_named() {
    // HTTP that answers at once, TLS, and a silent one.
    let answers: [(&[u8], &str); 3] = [
        (b"HTTP/1.0 400 Bad Request\r\n\r\n", "HTTP server"),
        (b"<!DOCTYPE HTML>\n<html>", "HTTP server"),
        (b"\x15\x03\x03\x00\x02\x02\x46", "TLS server"),
    ];
    for (bytes, word) in answers {
        let (addr, peer) = one_peer(move |mut s| {
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            let _ = s.write_all(bytes);
            thread::sleep(Duration::from_millis(300));
        });
        let o = jframe(&["send", &addr, "hello"]);
        assert_eq!(o.status.code(), Some(1));
        let err = text(&o.stderr);
        assert!(err.contains(word) && err.contains(&addr), "{word}: {err}");
        peer.join().unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let started = Instant::now();
    let o = jframe(&["send", &addr, "hello", "--timeout", "1s"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = text(&o.stderr);
    assert!(
        err.contains(&addr) && err.contains("1.0s") && err.contains("sent nothing"),
        "{err}"
    );
    drop(listener);
}

// ------------------------------------------------------------- help

#[test]
fn help_has_examples_completions_and_a_man_page() {
    for sub in ["serve", "send", "get", "raw", "load", "proxy", "conform"] {
        let o = jframe(&[sub, "--help"]);
        assert!(o.status.success(), "{sub}");
        let help = text(&o.stdout);
        assert!(help.contains("Example"), "{sub}: no examples");
        assert!(!help.to_lowercase().contains("seed 0"), "{sub}: {help}");
    }
    let o = jframe(&["completions", "bash"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("jframe"));
    let o = jframe(&["man"]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains(".TH jframe"),
        "{}",
        text(&o.stdout)
    );
    // Short flags and units.
    let o = jframe(&["load", "--help"]);
    let help = text(&o.stdout);
    for flag in [
        "-c, --conns",
        "-d, --duration",
        "-n, --requests",
        "-q, --quiet",
        "-v, --verbose",
    ] {
        assert!(help.contains(flag), "load --help lacks {flag}");
    }
}
