//! Python peers written from the seeds, against our server and our client.

mod common;

use std::process::Command;

use common::*;

#[test]
fn seed002_python_client_against_our_server() {
    let py = python3();
    let server = ServerProc::start(&[]);
    let out = Command::new(py)
        .arg(py_script("seed002_client.py"))
        .args(["127.0.0.1", &server.tcp.port().to_string()])
        .args(["hello world!", "straße", "sticky", "packets"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "HELLO WORLD!\nSTRASSE\nSTICKY\nPACKETS\n"
    );
}

// `jframe` against seed 002's Python server: tests/seed_servers.rs.

#[test]
fn seed001_greet_session_ends_with_exit() {
    let py = python3();
    let server = ServerProc::start(&["--welcome", "Welcome!"]);
    let out = Command::new(py)
        .arg(py_script("seed001_greet.py"))
        .args(["127.0.0.1", &server.tcp.port().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\nBye!\nclosed\n"
    );
}
