//! Python peers written from the seeds, against our server and our client.

mod common;

use std::process::Command;

use common::*;

/// Runs the Python peer `script` against `server` (its host and port, then
/// `args`); it must succeed. Returns what it printed.
fn run_peer(script: &str, server: &ServerProc, args: &[&str]) -> String {
    let out = Command::new(python3())
        .arg(py_script(script))
        .args(["127.0.0.1", &server.tcp.port().to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn seed002_python_client_against_our_server() {
    let server = ServerProc::start(&[]);
    let out = run_peer(
        "seed002_client.py",
        &server,
        &["hello world!", "straße", "sticky", "packets"],
    );
    assert_eq!(out, "HELLO WORLD!\nSTRASSE\nSTICKY\nPACKETS\n");
}

// `jframe` against seed 002's Python server: tests/seed_servers.rs.

#[test]
fn seed001_greet_session_ends_with_exit() {
    let server = ServerProc::start(&["--welcome", "Welcome!"]);
    let out = run_peer("seed001_greet.py", &server, &[]);
    assert_eq!(
        out,
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\nBye!\nclosed\n"
    );
}
