//! Std clients of the built `host-sim` binary, through its forwarded
//! loopback port (the binary itself is started by `jframe_tests::HostSim`).

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use embedded_io_adapters::std::FromStd;
use jframe::io::blocking::{read_frame, write_frame};
use jframe::{Decoder, Header, Op, Received, Status};

use super::{Case, MAX_REPLY};

/// A std connection to `addr` whose reads give up after 90 s.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to host-sim");
    stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .expect("timeout");
    stream
}

/// Sends one request on `stream` and reads its reply: `None` if the
/// device (or the forwarder) closed the connection instead.
pub fn round_trip(stream: &TcpStream, op: Op, body: &[u8]) -> Option<(Header, Vec<u8>)> {
    let mut out = FromStd::new(stream);
    let mut scratch = [0u8; 256];
    write_frame(
        &mut out,
        &mut scratch,
        &Header::request(op, body.len() as u64),
        body,
    )
    .ok()?;
    next_reply(stream)
}

/// The next reply frame on `stream`: `None` if it closed instead.
pub fn next_reply(stream: &TcpStream) -> Option<(Header, Vec<u8>)> {
    let mut decoder = Decoder::new(vec![0u8; MAX_REPLY]);
    match read_frame(&mut FromStd::new(stream), &mut decoder) {
        Ok(Some(Received::Frame(frame))) => Some((frame.header.clone(), frame.body.to_vec())),
        _ => None,
    }
}

/// Waits until the first round trip on a fresh connection works (the
/// stacks come up a moment after the port is bound).
pub fn wait_ready(addr: SocketAddr) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some((h, _)) = round_trip(&connect(addr), Op::Echo, b"ready")
            && h.status() == Some(Status::Ok)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("host-sim did not answer within 20 s");
}

/// Sends `cases` pipelined over one std connection (writer thread) and
/// checks each reply byte for byte.
pub fn exchange(addr: SocketAddr, cases: &[Case]) {
    let stream = connect(addr);
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
        for (i, case) in cases.iter().enumerate() {
            let Some((header, body)) = next_reply(&stream) else {
                panic!("reply {i}: the connection closed");
            };
            case.check(i, &header, &body);
        }
    });
}

/// SPEC conformance (jframe-std's table, the one `jframe conform` plays)
/// against `addr`: every TCP case passes.
pub fn assert_conforms(addr: SocketAddr) {
    let opts = jframe_std::conform::Options {
        // The simulated device answers in milliseconds; this is only the
        // bound on each wait, generous for a loaded machine.
        timeout: Duration::from_secs(20),
        ..jframe_std::conform::Options::default()
    };
    let outcomes = jframe_std::conform::run_tcp(addr, &opts);
    if let Err(failed) = jframe_std::conform::report::all_pass(&outcomes, false) {
        panic!("{failed}");
    }
}

/// `python3` with these arguments, or a panic that says it is needed.
pub fn python3(args: &[&str]) -> Command {
    if Command::new("python3").arg("--version").output().is_err() {
        panic!("python3 is needed for this test (apt-get install python3)");
    }
    let mut command = Command::new("python3");
    command.args(args);
    command
}

/// Runs a Python peer to the end and returns its stdout; panics with its
/// output if it fails.
pub fn python_peer(args: &[&str]) -> String {
    let output: Output = python3(args).output().expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python peer failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
