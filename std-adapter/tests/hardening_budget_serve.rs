//! Issue 9, defect 1, the figure for the README: the peak RSS (VmHWM) of a
//! `jframe serve` child with its default settings while N connections
//! (default 64) each send a 16 MiB `upper` body of "\u{390}" and leave the
//! reply unread. A measurement, not run by default:
//!
//! ```text
//! JFRAME_MEASURE_CONNS=64 cargo test -p jframe-std --test hardening_budget_serve -- --ignored --nocapture
//! ```
//!
//! Set `JFRAME_BIN` to measure another build of `jframe`. 127.0.0.1 only;
//! bounded: N connections, socket timeouts, the child killed at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use jframe::{Header, Op};

const BODY: usize = 16 << 20;
const MIB: u64 = 1 << 20;

fn vm_hwm(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

fn send_upper(addr: SocketAddr, body: &[u8]) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = Header::request(Op::Upper, body.len() as u64);
    let mut frame = vec![0u8; 1024];
    let n = jframe::encode_head(&mut frame, &head).unwrap();
    s.write_all(&frame[..n]).unwrap();
    s.write_all(body).unwrap();
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let mut json = vec![0u8; u32::from_le_bytes(prefix) as usize];
    s.read_exact(&mut json).unwrap();
    let reply = Header::parse(&json).unwrap();
    (s, reply.status.as_deref().unwrap_or("?").to_string())
}

#[test]
#[ignore = "a measurement for the README; run with --ignored"]
fn measure_serve_peak_rss() {
    let bin = std::env::var("JFRAME_BIN")
        .ok()
        .or(option_env!("CARGO_BIN_EXE_jframe").map(str::to_string))
        .expect("build with the cli feature, or set JFRAME_BIN");
    let conns: usize = std::env::var("JFRAME_MEASURE_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
        .clamp(1, 256);
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn jframe serve");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "serve exited");
        if line.contains("listening on tcp") {
            break line.split_whitespace().last().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let pid = child.id();
    let before = vm_hwm(pid);

    let body: Arc<Vec<u8>> = Arc::new("\u{390}".repeat(BODY / 2).into_bytes());
    let barrier = Arc::new(Barrier::new(conns + 1));
    let started = Instant::now();
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            let (body, barrier) = (body.clone(), barrier.clone());
            std::thread::spawn(move || {
                let (stream, status) = send_upper(addr, &body);
                barrier.wait();
                drop(stream);
                status
            })
        })
        .collect();
    barrier.wait();
    let peak = vm_hwm(pid);
    let statuses: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok = statuses.iter().filter(|s| *s == "ok").count();
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "{bin}: {conns} connections x 16 MiB of \\u{{390}}, replies unread, in {:?}: \
         {ok} ok, {} other; VmHWM {} MiB at start, {} MiB peak",
        started.elapsed(),
        conns - ok,
        before / MIB,
        peak / MIB
    );
}
