//! The `jframe` command, end to end, against `jframe serve`.

mod common;

use std::io::{Read, Write};

use common::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_everywhere() {
    for sub in [
        &[][..],
        &["serve"],
        &["send"],
        &["get"],
        &["raw"],
        &["load"],
    ] {
        let mut args = sub.to_vec();
        args.push("--help");
        let o = jframe(&args);
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage"), "{args:?}");
    }
}

#[test]
fn send_pipelines_over_tcp_and_udp() {
    let server = ServerProc::start(&["--udp", "127.0.0.1:0", "--max-body", "16"]);
    let o = jframe(&["send", &server.addr(), "hello", "straße", "world"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "HELLO\nSTRASSE\nWORLD\n");
    let o = jframe(&["send", &server.addr(), "--op", "echo", "MiXeD"]);
    assert_eq!(stdout(&o), "MiXeD\n");
    let udp = server.udp.unwrap().to_string();
    let o = jframe(&["send", "--udp", &udp, "--op", "greet", "Sarah"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "Hello, Sarah!\n");
    // A non-ok reply: message on stderr, exit code 1, other replies printed.
    let o = jframe(&["send", &server.addr(), "short", "this body is far too long"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "SHORT\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("too_large"));
}

#[test]
fn get_verifies_and_renames_only_on_success() {
    let root = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.path().join("data.bin"), &data).unwrap();
    let server = ServerProc::start(&["--root", root.path().to_str().unwrap()]);
    let dest = tempfile::tempdir().unwrap();
    let out = dest.path().join("copy.bin");
    let o = jframe(&[
        "get",
        &server.addr(),
        "data.bin",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), data);
    use sha2::Digest;
    let sha = jframe_std::files::hex(&sha2::Sha256::digest(&data));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&sha));

    for (name, word) in [("nope.bin", "not_found"), ("../data.bin", "forbidden")] {
        let target = dest.path().join("never");
        let o = jframe(&["get", &server.addr(), name, "-o", target.to_str().unwrap()]);
        assert!(!o.status.success(), "{name}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(word), "{name}");
        assert!(!target.exists(), "{name}: output created");
    }
    // No temporary files left behind.
    let left: Vec<_> = std::fs::read_dir(dest.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn raw_reads_until_the_peer_closes() {
    // Seed 001's HTTP-ish exchange with a tiny one-shot server.
    let (addr, peer) = one_peer(move |mut s| {
        let mut req = Vec::new();
        let mut buf = [0u8; 256];
        while !req.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            req.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\n\r\n<html>hi</html>")
            .unwrap();
        req
    });
    let o = jframe(&[
        "raw",
        &addr,
        "--send",
        "GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n",
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "HTTP/1.1 200 OK\r\n\r\n<html>hi</html>");
    assert_eq!(
        peer.join().unwrap(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn raw_sees_the_framed_welcome() {
    let server = ServerProc::start(&["--welcome", "Welcome!", "--idle-timeout", "1"]);
    let o = jframe(&["raw", &server.addr()]);
    assert!(o.status.success());
    assert!(o.stdout.ends_with(b"Welcome!"), "{:?}", stdout(&o));
}

#[test]
fn load_checks_every_reply() {
    let server = ServerProc::start(&[]);
    let o = jframe(&[
        "load",
        &server.addr(),
        "--conns",
        "4",
        "--duration",
        "0.5",
        "--pipeline",
        "4",
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
    let line = stdout(&o);
    assert!(line.contains("errors=0"), "{line}");
    let requests: u64 = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("requests="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(requests > 0, "{line}");
    // Against a server answering something else, every reply is an error.
    let o = jframe(&[
        "load",
        &server.addr(),
        "--conns",
        "1",
        "--duration",
        "0.3",
        "--raw-echo",
    ]);
    assert!(!o.status.success());
}
