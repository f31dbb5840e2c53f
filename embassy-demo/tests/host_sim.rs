//! The built `host-sim` binary, driven through its forwarded loopback port
//! by a Rust jframe client over std sockets and by a Python seed-002 peer.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::{Case, MAX_REPLY, cases};
use embedded_io_adapters::std::FromStd;
use jframe::io::blocking::{read_frame, write_frame};
use jframe::{Decoder, Header, Received, Status};

const HOST_SIM: &str = env!("CARGO_BIN_EXE_host-sim");

/// A running host-sim, killed when dropped.
struct Sim {
    child: Child,
    addr: SocketAddr,
    stdout: BufReader<ChildStdout>,
}

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        let mut child = Command::new(HOST_SIM)
            .args(["--forward", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start host-sim");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let addr = loop {
            line.clear();
            if stdout.read_line(&mut line).expect("read host-sim output") == 0 {
                let _ = child.kill();
                panic!("host-sim exited before printing its address");
            }
            if let Some(rest) = line.trim().strip_prefix("host-sim: listening on ") {
                let addr = rest.split(',').next().unwrap_or_default();
                break addr.parse().expect("listening address");
            }
        };
        Sim {
            child,
            addr,
            stdout,
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `cases` pipelined over one std connection (writer thread) and
/// checks each reply byte for byte.
fn exchange(addr: SocketAddr, cases: &[Case]) {
    let stream = TcpStream::connect(addr).expect("connect to host-sim");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let writer = stream.try_clone().expect("clone");
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut out = FromStd::new(writer);
            let mut scratch = [0u8; 1024];
            for case in cases {
                let header = Header::request(case.op, case.body.len() as u64);
                write_frame(&mut out, &mut scratch, &header, &case.body).expect("send request");
            }
        });
        let mut input = FromStd::new(stream);
        let mut decoder = Decoder::new(vec![0u8; MAX_REPLY]);
        for (i, case) in cases.iter().enumerate() {
            let reply = read_frame(&mut input, &mut decoder);
            let Ok(Some(Received::Frame(frame))) = reply else {
                panic!("reply {i}: expected a frame, got {reply:?}");
            };
            let header = frame.header.clone();
            assert_eq!(header.status(), Some(Status::Ok), "reply {i}");
            assert!(
                frame.body == case.expected().as_slice(),
                "reply {i} ({:?}) differs",
                case.op
            );
        }
    });
}

#[test]
fn rust_client_through_the_forwarded_port() {
    let sim = Sim::start(&[]);
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
    let sim = Sim::start(&["--drop", "5", "--corrupt", "2", "--seed", "3"]);
    exchange(sim.addr, &cases(30, 8 * 1024, 3));
}

#[test]
fn python_seed_002_peer() {
    let sim = Sim::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/seed002_client.py");
    let output = match Command::new("python3")
        .arg(script)
        .arg(sim.addr.port().to_string())
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!("python3 is needed for this test (apt-get install python3): {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python peer failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "ok 24");
}

#[test]
fn ctrl_c_prints_a_summary() {
    let mut sim = Sim::start(&[]);
    exchange(sim.addr, &cases(5, 2048, 5));
    let status = Command::new("kill")
        .args(["-INT", &sim.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let mut rest = String::new();
    sim.stdout.read_to_string(&mut rest).expect("read summary");
    let summary = rest
        .lines()
        .find(|l| l.contains("frames moved"))
        .expect("summary line");
    assert!(summary.contains("1 connections"), "{summary}");
    assert!(sim.child.wait().expect("exit").success());
}

#[test]
fn clear_errors_for_bad_setups() {
    // The forwarded port is taken.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(HOST_SIM)
        .args(["--forward", &addr])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    // Out-of-range fault percentages are refused by the argument parser.
    let out = Command::new(HOST_SIM)
        .args(["--drop", "101"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

/// SPEC conformance (jframe-std's table, the one `jframe conform` plays)
/// against the device through the forwarded port: every TCP case passes.
#[test]
fn conformance_through_the_forwarded_port() {
    let sim = Sim::start(&[]);
    let opts = jframe_std::conform::Options {
        // The simulated device answers in milliseconds; this is only the
        // bound on each wait, generous for a loaded machine.
        timeout: Duration::from_secs(20),
        ..jframe_std::conform::Options::default()
    };
    let outcomes = jframe_std::conform::run_tcp(sim.addr, &opts);
    assert!(!outcomes.is_empty());
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    );
}
