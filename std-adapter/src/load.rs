//! The load generator behind `jframe load`: one thread per connection, each
//! sending batches of `pipeline` requests and checking every reply; bounded
//! by time (and by a per-reply timeout).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use jframe::{Header, Op, Status};

use crate::stream::FramedStream;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server address.
    pub addr: SocketAddr,
    /// Concurrent connections (one thread each).
    pub conns: usize,
    /// How long to send.
    pub duration: Duration,
    /// Request body size in bytes.
    pub size: usize,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Service to call (`upper`, `echo` or `greet`).
    pub op: Op,
    /// Send unframed bytes and expect them echoed back (for measuring a
    /// plain echo server, the ceiling).
    pub raw_echo: bool,
    /// Longest wait for any single reply.
    pub timeout: Duration,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Replies received and verified.
    pub requests: u64,
    /// Body bytes sent plus body bytes received.
    pub bytes: u64,
    /// Failed connections, bad replies and I/O errors.
    pub errors: u64,
    /// Measured wall-clock time.
    pub elapsed: Duration,
    /// Latency of a request (its batch's round trip), microseconds.
    pub p50_us: u64,
    /// 99th percentile, microseconds.
    pub p99_us: u64,
    /// Maximum, microseconds.
    pub max_us: u64,
}

impl LoadReport {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Body megabytes (10^6) per second, both directions.
    pub fn mbps(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests={} rps={:.0} MB/s={:.2} p50={}us p99={}us max={}us errors={} elapsed={:.2}s",
            self.requests,
            self.rps(),
            self.mbps(),
            self.p50_us,
            self.p99_us,
            self.max_us,
            self.errors,
            self.elapsed.as_secs_f64()
        )
    }
}

#[derive(Debug)]
struct Tally {
    requests: u64,
    bytes: u64,
    errors: u64,
    hist: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    // 1 us .. 10 min, 3 significant digits; cannot fail with these bounds.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

/// Runs the load and merges what every connection measured.
pub fn run(cfg: &LoadConfig) -> io::Result<LoadReport> {
    if cfg.conns == 0 || cfg.pipeline == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--conns and --pipeline must be at least 1",
        ));
    }
    let barrier = Arc::new(Barrier::new(cfg.conns + 1));
    let mut workers = Vec::with_capacity(cfg.conns);
    for i in 0..cfg.conns {
        let (c, b) = (cfg.clone(), barrier.clone());
        let spawned = thread::Builder::new()
            .name(format!("load-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || worker(&c, i, &b));
        match spawned {
            Ok(t) => workers.push(t),
            Err(e) => {
                // Keep the barrier count right for the threads that started.
                for _ in i..cfg.conns {
                    let b = barrier.clone();
                    workers.push(thread::spawn(move || {
                        b.wait();
                        Tally {
                            requests: 0,
                            bytes: 0,
                            errors: 1,
                            hist: histogram(),
                        }
                    }));
                }
                log::error!("cannot start load thread {i}: {e}");
                break;
            }
        }
    }
    barrier.wait();
    let start = Instant::now();
    let mut total = Tally {
        requests: 0,
        bytes: 0,
        errors: 0,
        hist: histogram(),
    };
    for w in workers {
        match w.join() {
            Ok(t) => {
                total.requests += t.requests;
                total.bytes += t.bytes;
                total.errors += t.errors;
                let _ = total.hist.add(&t.hist);
            }
            Err(_) => total.errors += 1,
        }
    }
    let elapsed = start.elapsed();
    Ok(LoadReport {
        requests: total.requests,
        bytes: total.bytes,
        errors: total.errors,
        elapsed,
        p50_us: total.hist.value_at_quantile(0.5),
        p99_us: total.hist.value_at_quantile(0.99),
        max_us: total.hist.max(),
    })
}

/// A body that differs from batch to batch: lowercase letters.
fn fill_body(body: &mut [u8], seed: usize) {
    for (i, b) in body.iter_mut().enumerate() {
        *b = b'a' + ((seed + i) % 26) as u8;
    }
}

fn expected(op: Op, body: &[u8]) -> Vec<u8> {
    match op {
        Op::Upper => body.to_ascii_uppercase(),
        Op::Greet => match crate::services::greet(body) {
            crate::services::Greeting::Hello(t) => t,
            crate::services::Greeting::Bye => crate::services::BYE.to_vec(),
        },
        _ => body.to_vec(),
    }
}

enum Conn {
    Framed(Box<FramedStream>),
    Raw(TcpStream),
}

fn connect(cfg: &LoadConfig) -> io::Result<Conn> {
    if cfg.raw_echo {
        let s = TcpStream::connect_timeout(&cfg.addr, cfg.timeout)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(cfg.timeout))?;
        s.set_write_timeout(Some(cfg.timeout))?;
        Ok(Conn::Raw(s))
    } else {
        Ok(Conn::Framed(Box::new(FramedStream::connect(
            cfg.addr,
            cfg.timeout,
        )?)))
    }
}

fn worker(cfg: &LoadConfig, index: usize, barrier: &Barrier) -> Tally {
    let mut tally = Tally {
        requests: 0,
        bytes: 0,
        errors: 0,
        hist: histogram(),
    };
    let mut conn = connect(cfg);
    barrier.wait();
    let deadline = Instant::now() + cfg.duration;
    let mut body = vec![0u8; cfg.size];
    let mut batch: Vec<u8> = Vec::with_capacity(cfg.size * cfg.pipeline);
    let mut back = vec![0u8; cfg.size * cfg.pipeline];
    let mut seed = index;
    while Instant::now() < deadline {
        let c = match &mut conn {
            Ok(c) => c,
            Err(e) => {
                log::debug!("load: connection failed: {e}");
                tally.errors += 1;
                thread::sleep(Duration::from_millis(50));
                conn = connect(cfg);
                continue;
            }
        };
        seed = seed.wrapping_add(7);
        let sent = Instant::now();
        let result = match c {
            Conn::Framed(s) => framed_batch(s, cfg, &mut body, seed),
            Conn::Raw(s) => raw_batch(s, cfg, &mut body, &mut batch, &mut back, seed),
        };
        match result {
            Ok(bytes) => {
                let us = u64::try_from(sent.elapsed().as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let _ = tally.hist.record_n(us, cfg.pipeline as u64);
                tally.requests += cfg.pipeline as u64;
                tally.bytes += bytes;
            }
            Err(e) => {
                log::debug!("load: {e}");
                tally.errors += 1;
                conn = connect(cfg);
            }
        }
    }
    tally
}

fn framed_batch(
    s: &mut FramedStream,
    cfg: &LoadConfig,
    body: &mut [u8],
    seed: usize,
) -> io::Result<u64> {
    let header = Header::request(cfg.op, body.len() as u64);
    let mut want = Vec::with_capacity(cfg.pipeline);
    for k in 0..cfg.pipeline {
        fill_body(body, seed + k);
        s.send(&header, body)?;
        want.push(expected(cfg.op, body));
    }
    s.flush()?;
    let mut bytes = 0u64;
    for w in want {
        let reply = s
            .recv()?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "server closed"))?;
        if reply.status() != Status::Ok || reply.body != w {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "wrong reply: status {} body {:?}",
                    reply.status(),
                    String::from_utf8_lossy(&reply.body)
                ),
            ));
        }
        bytes += (body.len() + reply.body.len()) as u64;
    }
    Ok(bytes)
}

fn raw_batch(
    s: &mut TcpStream,
    cfg: &LoadConfig,
    body: &mut [u8],
    batch: &mut Vec<u8>,
    back: &mut [u8],
    seed: usize,
) -> io::Result<u64> {
    batch.clear();
    for k in 0..cfg.pipeline {
        fill_body(body, seed + k);
        batch.extend_from_slice(body);
    }
    s.write_all(batch)?;
    s.read_exact(back)?;
    if back != batch.as_slice() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "echo differs from what was sent",
        ));
    }
    Ok(2 * batch.len() as u64)
}
