//! The real `jframe` binary, with no flags, against stdlib Python servers
//! shaped like the seeds' (tests/py/seed_servers.py and seed002_server.py):
//! one request per connection, seed 002's ThreadingTCPServer, a push server
//! in the `size` dialect, a marked welcome, a 1 MiB reply in 1 KiB pieces,
//! and a server that counts the requests it sees. Everything on 127.0.0.1.

mod common;

use common::*;

#[test]
fn send_to_a_server_that_answers_one_request_per_connection() {
    let server = PyServer::start("seed_servers.py", &["oneshot"]);
    for word in ["hello", "straße"] {
        let o = jframe(&["send", &server.addr, word]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), format!("{}\n", word.to_uppercase()));
    }
    // Two pipelined requests: the server reads one and closes with the
    // second unread (TCP may then reset the connection before the first
    // reply is read). Either way the error names the server, exit 1.
    let o = jframe(&["send", &server.addr, "a", "b"]);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, &server.addr);
}

#[test]
fn send_and_load_against_seed_002s_threading_server() {
    let server = PyServer::start("seed002_server.py", &[]);
    let o = jframe(&["send", &server.addr, "hello", "world", "ünïcode"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "HELLO\nWORLD\nÜNÏCODE\n");
    load_ok(&server.addr, 40, &["-p", "2"]);
}

/// `jframe load ADDR -c 2 -n N`: every request answered and checked.
fn load_ok(addr: &str, n: u64, extra: &[&str]) {
    let n_arg = n.to_string();
    let mut args = vec!["load", addr, "-c", "2", "-n", &n_arg, "--json"];
    args.extend_from_slice(extra);
    let o = jframe(&args);
    assert!(
        o.status.success(),
        "{} {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["requests"], n);
    assert_eq!(report["errors"], 0);
}

#[test]
fn recv_reads_a_push_server_in_the_size_dialect() {
    let server = PyServer::start("seed_servers.py", &["push"]);
    let o = jframe(&["recv", &server.addr]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Hello Client!\n");
    let o = jframe(&["recv", &server.addr, "-n", "1", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["header"]["size"], 13);
    assert_eq!(line["body"], "Hello Client!");
    assert_eq!(line["status"], "ok");
    // -o and -N: the body alone, in a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pushed");
    let o = jframe(&["recv", &server.addr, "-N", "-o", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), b"Hello Client!");
    // Asked for two frames, the server sends one and closes.
    let o = jframe(&["recv", &server.addr, "-n", "2"]);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, "after 1 frame of 2");
}

/// `jframe send ADDR one two`: the replies on stdout, the welcome on stderr.
fn send_past_the_welcome(addr: &str, flags: &[&str]) {
    let mut args = vec!["send", addr];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["one", "two"]);
    let o = jframe(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "ONE\nTWO\n");
    assert_stderr_has(&o, "welcome from the server: Welcome!");
}

#[test]
fn a_marked_welcome_is_told_from_the_replies() {
    let server = PyServer::start("seed_servers.py", &["welcome"]);
    send_past_the_welcome(&server.addr, &[]);
    let o = jframe(&["send", &server.addr, "--json", "x"]);
    let lines: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["welcome"], true);
    assert_eq!(lines[1]["body"], "X");
    load_ok(&server.addr, 20, &[]);
}

#[test]
fn an_unmarked_welcome_needs_the_welcome_flag() {
    let server = PyServer::start("seed_servers.py", &["unmarked"]);
    send_past_the_welcome(&server.addr, &["--welcome"]);
    load_ok(&server.addr, 20, &["--welcome"]);
    // Without it the welcome reads as the first reply: no guessing.
    let o = jframe(&["send", &server.addr, "one"]);
    assert_eq!(text(&o.stdout), "Welcome!\n");
}

#[test]
fn a_1_mib_reply_in_1_kib_pieces_arrives_whole() {
    let server = PyServer::start("seed_servers.py", &["big"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    let o = jframe(&[
        "send",
        &server.addr,
        "x",
        "-N",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let got = std::fs::read(&file).unwrap();
    let want: Vec<u8> = (0..1usize << 20).map(|i| (i % 251) as u8).collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the 1 MiB body differs");
}

#[test]
fn a_counting_server_sees_exactly_the_requests_sent() {
    let server = PyServer::start("seed_servers.py", &["counting"]);
    let o = jframe(&["send", &server.addr, "a", "b", "c"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "1:A\n2:B\n3:C\n");
    // A second connection goes on from 3: nothing was sent unasked.
    let o = jframe(&["send", &server.addr, "d"]);
    assert_eq!(text(&o.stdout), "4:D\n");
}
