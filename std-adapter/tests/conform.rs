//! The SPEC conformance table (`jframe_std::conform`) against the in-process
//! server, and `jframe conform` against `jframe serve`, both on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use jframe_std::conform::{self, Options};
use jframe_std::server::{Config, Server};

fn opts() -> Options {
    Options {
        jobs: 8,
        ..Options::default()
    }
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
    let server = ServerProc::start(&["--udp", "127.0.0.1:0", "--driver", engine]);
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

// `jframe conform` against servers that are not jframe's:
// tests/conform_seed002.rs (seed 002's Python server) and
// tests/conform_own_ops.rs (a server with only its own ops).

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
