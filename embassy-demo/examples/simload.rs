//! A small, bounded load client for host-sim (or any jframe echo server):
//! N connections, each sending one `echo` request at a time and checking
//! its reply, until the request count or the time limit is reached.
//!
//! cargo run --release -p jframe-embassy-demo --example simload -- \
//!     --addr 127.0.0.1:7000 --connections 8 --size 16384 --seconds 10

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use clap::Parser;
use embedded_io_adapters::std::FromStd;
use jframe::io::blocking::{read_frame, write_frame};
use jframe::{Decoder, Header, Op, Received, Status};

#[derive(Debug, Parser)]
#[command(about = "Bounded request/reply load against a jframe echo server")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    connections: u16,
    /// Body size of each request, in bytes.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    size: u32,
    /// Time limit, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
    /// Request limit per connection.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
}

/// What one connection achieved.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    bytes: u64,
}

fn connection(args: &Args, deadline: Instant) -> Result<Tally, String> {
    let stream =
        TcpStream::connect(args.addr).map_err(|e| format!("connect {}: {e}", args.addr))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut io = FromStd::new(stream);
    let body: Vec<u8> = (0..args.size).map(|i| (i % 251) as u8).collect();
    let header = Header::request(Op::Echo, body.len() as u64);
    let mut scratch = vec![0u8; 1024 + body.len()];
    let mut decoder = Decoder::new(vec![0u8; 4096 + body.len()]);
    let mut tally = Tally::default();
    while tally.requests < args.count && Instant::now() < deadline {
        write_frame(&mut io, &mut scratch, &header, &body).map_err(|e| format!("send: {e}"))?;
        match read_frame(&mut io, &mut decoder).map_err(|e| format!("reply: {e}"))? {
            Some(Received::Frame(frame)) => {
                let reply = frame.header;
                if reply.status() != Some(Status::Ok) || frame.body != body.as_slice() {
                    return Err(format!("bad reply: {reply:?}"));
                }
            }
            other => return Err(format!("unexpected reply: {other:?}")),
        }
        tally.requests += 1;
        tally.bytes += body.len() as u64;
    }
    Ok(tally)
}

fn main() {
    let args = Args::parse();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let results: Vec<Result<Tally, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.connections)
            .map(|_| scope.spawn(|| connection(&args, deadline)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("worker panicked".into())))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let (mut requests, mut bytes, mut failed) = (0u64, 0u64, 0usize);
    for result in &results {
        match result {
            Ok(t) => (requests, bytes) = (requests + t.requests, bytes + t.bytes),
            Err(e) => {
                failed += 1;
                eprintln!("simload: connection failed: {e}");
            }
        }
    }
    println!(
        "simload: {} conn x {} B: {requests} requests in {elapsed:.2} s = {:.0} req/s, {:.2} MB/s echoed, {failed} failed",
        args.connections,
        args.size,
        requests as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
