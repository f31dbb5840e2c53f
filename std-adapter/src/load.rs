//! The load generator behind `jframe load`: one thread per connection, each
//! sending batches of `pipeline` requests and checking every reply; bounded
//! by time (and by a per-reply timeout).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use jframe::io::blocking::{read_body, read_frame, write_all};
use jframe::{Header, Op, Received, Status};

use crate::stream::{FramedStream, read_err, write_err};
use jframe::service::Transform;
use jframe::service::transform::{GREET_BYE, GREET_EXIT};

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

/// The request bodies: lowercase letters, `size + 26` of them, so that
/// `window(seed)` gives a body that differs from batch to batch without
/// generating it byte by byte.
struct Bodies {
    letters: Vec<u8>,
    size: usize,
}

impl Bodies {
    fn new(size: usize) -> Self {
        let letters = (0..size + 26).map(|i| b'a' + (i % 26) as u8).collect();
        Bodies { letters, size }
    }

    fn window(&self, seed: usize) -> &[u8] {
        let from = seed % 26;
        self.letters.get(from..from + self.size).unwrap_or_default()
    }
}

/// Appends what the server must answer to `body` (lowercase letters):
/// core's own transforms, so the client cannot disagree with the servers.
fn push_expected(op: Op, body: &[u8], out: &mut Vec<u8>) {
    match Transform::for_op(op) {
        Some(Transform::Greet) if body == GREET_EXIT => out.extend_from_slice(GREET_BYE),
        Some(t) => {
            out.extend_from_slice(t.prefix());
            let from = out.len();
            out.extend_from_slice(body);
            if let Some(new) = out.get_mut(from..) {
                t.apply(new);
            }
            out.extend_from_slice(t.suffix());
        }
        None => out.extend_from_slice(body),
    }
}

/// A framed connection plus the buffers its batches reuse, so that, like
/// the raw-echo client, it allocates nothing per request.
struct Framed {
    s: FramedStream,
    /// Prefix + header of every request (one op, one size): encoded once.
    head: Vec<u8>,
    /// Expected reply bodies of the batch, back to back, and where each ends.
    want: Vec<u8>,
    ends: Vec<usize>,
    /// Header JSON of an `ok` reply with a body of `ok_len` bytes, as this
    /// crate's encoder writes it: a reply with exactly these bytes needs no
    /// parse; any other header is parsed and checked.
    ok_json: Vec<u8>,
    ok_len: Option<usize>,
    scratch: Vec<u8>,
    /// For replies too large for the decoder's buffer (streamed).
    chunk: Vec<u8>,
}

impl Framed {
    fn new(s: FramedStream, cfg: &LoadConfig) -> io::Result<Self> {
        let mut scratch = vec![0u8; crate::SCRATCH];
        let header = Header::request(cfg.op, cfg.size as u64);
        let n = jframe::encode_head(&mut scratch, &header).map_err(invalid)?;
        Ok(Framed {
            s,
            head: scratch.get(..n).unwrap_or_default().to_vec(),
            want: Vec::new(),
            ends: Vec::new(),
            ok_json: Vec::new(),
            ok_len: None,
            scratch,
            chunk: Vec::new(),
        })
    }

    /// Makes `ok_json` the header of an `ok` reply with `len` body bytes.
    fn expect_ok(&mut self, len: usize) -> io::Result<()> {
        if self.ok_len != Some(len) {
            let n = jframe::encode_head(&mut self.scratch, &Header::reply(Status::Ok, len as u64))
                .map_err(invalid)?;
            self.ok_json.clear();
            self.ok_json
                .extend_from_slice(self.scratch.get(jframe::PREFIX_LEN..n).unwrap_or_default());
            self.ok_len = Some(len);
        }
        Ok(())
    }

    /// Sends one batch of `pipeline` requests in one write, then reads and
    /// checks every reply.
    fn batch(&mut self, cfg: &LoadConfig, bodies: &Bodies, seed: usize) -> io::Result<u64> {
        self.want.clear();
        self.ends.clear();
        for k in 0..cfg.pipeline {
            let body = bodies.window(seed + k);
            write_all(&mut self.s.writer, &self.head).map_err(write_err)?;
            write_all(&mut self.s.writer, body).map_err(write_err)?;
            push_expected(cfg.op, body, &mut self.want);
            self.ends.push(self.want.len());
        }
        self.s.flush()?;
        let mut bytes = 0u64;
        let mut from = 0;
        for i in 0..self.ends.len() {
            let to = self.ends.get(i).copied().unwrap_or(from);
            let got = self.reply(from, to)?;
            bytes += (cfg.size + got) as u64;
            from = to;
        }
        Ok(bytes)
    }

    /// Reads one reply and checks it against `want[from..to]`; returns its
    /// body length.
    fn reply(&mut self, from: usize, to: usize) -> io::Result<usize> {
        let len = to - from;
        self.expect_ok(len)?;
        let received = read_frame(&mut self.s.reader, &mut self.s.decoder).map_err(read_err)?;
        let (json, data_size, body) = match received {
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed",
                ));
            }
            Some(Received::Frame(f)) => (f.header_json, f.body.len() as u64, Some(f.body)),
            Some(Received::Head(h)) => (h.header_json, h.data_size, None),
        };
        if json != self.ok_json.as_slice() {
            check_status(json)?;
        }
        if data_size != len as u64 {
            return Err(invalid(format!(
                "wrong reply: {data_size} body bytes, expected {len}"
            )));
        }
        let want = self.want.get(from..to).unwrap_or_default();
        if let Some(body) = body {
            return if body == want {
                Ok(len)
            } else {
                Err(invalid(format!(
                    "wrong reply body {:?}",
                    String::from_utf8_lossy(body)
                )))
            };
        }
        if self.chunk.is_empty() {
            self.chunk = vec![0u8; 64 * 1024];
        }
        let mut at = from;
        while let Some(data) =
            read_body(&mut self.s.reader, &mut self.s.decoder, &mut self.chunk).map_err(read_err)?
        {
            if self.want.get(at..at + data.len()) != Some(data) {
                return Err(invalid("wrong reply body"));
            }
            at += data.len();
        }
        Ok(len)
    }
}

/// A reply header other than the exact `ok` bytes this crate writes (say,
/// a seed-002 server's): parsed, and its status must be `ok` (or absent).
fn check_status(json: &[u8]) -> io::Result<()> {
    let header = Header::parse(json).map_err(invalid)?;
    let status = header.status().unwrap_or(Status::Ok);
    if status != Status::Ok {
        return Err(invalid(format!(
            "wrong reply: status {status} ({})",
            header.error.as_deref().unwrap_or("")
        )));
    }
    Ok(())
}

fn invalid<E: ToString>(e: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

enum Conn {
    Framed(Box<Framed>),
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
        let s = FramedStream::connect(cfg.addr, cfg.timeout)?;
        Ok(Conn::Framed(Box::new(Framed::new(s, cfg)?)))
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
    let bodies = Bodies::new(cfg.size);
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
            Conn::Framed(f) => f.batch(cfg, &bodies, seed),
            Conn::Raw(s) => raw_batch(s, cfg, &bodies, &mut batch, &mut back, seed),
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

/// The raw-echo batch: the same bodies back to back, one write, read back
/// exactly as many bytes, one comparison.
fn raw_batch(
    s: &mut TcpStream,
    cfg: &LoadConfig,
    bodies: &Bodies,
    batch: &mut Vec<u8>,
    back: &mut [u8],
    seed: usize,
) -> io::Result<u64> {
    batch.clear();
    for k in 0..cfg.pipeline {
        batch.extend_from_slice(bodies.window(seed + k));
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
