//! The load generator behind `jframe load`: one thread per connection, each
//! sending batches of `pipeline` requests and checking every reply; bounded
//! by time, optionally by a request count, optionally paced to a rate.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use std::cell::RefCell;

use jframe::{Header, Op, Status};

use crate::client::{TcpClient, invalid};
use jframe::service::Answer;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server address.
    pub addr: SocketAddr,
    /// Concurrent connections (one thread each).
    pub conns: usize,
    /// How long to send (at most; see `requests`).
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
    /// Stop after this many requests (over all connections).
    pub requests: Option<u64>,
    /// Pace the requests to this many per second (over all connections).
    pub rate: Option<f64>,
    /// When the server closes a connection between frames (a restart, a
    /// drain), connect again and carry on: the requests it did not answer
    /// are sent again, and the close counts as a reconnect, not an error.
    pub reconnect: bool,
    /// The server sends one frame first without marking it
    /// `"welcome": true`: take it as the welcome (a marked one needs nothing).
    pub welcome: bool,
}

impl LoadConfig {
    /// A framed run of `duration` against `addr`: one connection,
    /// pipeline 1, 64-byte `upper` requests, 10 s reply timeout.
    pub fn new(addr: SocketAddr, duration: Duration) -> Self {
        LoadConfig {
            addr,
            conns: 1,
            duration,
            size: 64,
            pipeline: 1,
            op: Op::Upper,
            raw_echo: false,
            reconnect: false,
            timeout: Duration::from_secs(10),
            requests: None,
            rate: None,
            welcome: false,
        }
    }
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
    /// The errors by cause (a reply status or what failed), most frequent first.
    pub causes: Vec<(String, u64)>,
    /// Connections the server closed between frames that were opened
    /// again (with [`LoadConfig::reconnect`]; not errors).
    pub reconnects: u64,
    /// Measured wall-clock time.
    pub elapsed: Duration,
    /// Latency of a request (its batch's round trip), microseconds: fastest.
    pub min_us: u64,
    /// Mean, microseconds.
    pub mean_us: f64,
    /// Median, microseconds.
    pub p50_us: u64,
    /// 90th percentile, microseconds.
    pub p90_us: u64,
    /// 99th percentile, microseconds.
    pub p99_us: u64,
    /// 99.9th percentile, microseconds.
    pub p999_us: u64,
    /// Maximum, microseconds.
    pub max_us: u64,
    /// Latency histogram: (upper bound in microseconds, requests), in order.
    pub histogram: Vec<(u64, u64)>,
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

    /// The report for a person: latency percentiles, a histogram, errors by
    /// cause; the last line is the [`Display`](std::fmt::Display) summary.
    pub fn details(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let ms = |us: u64| format!("{:.3} ms", us as f64 / 1000.0);
        let _ = writeln!(
            s,
            "{} requests in {:.2}s, {:.0} req/s, {:.2} MB/s (bodies, both ways), {} errors",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rps(),
            self.mbps(),
            self.errors
        );
        if self.requests > 0 {
            let _ = writeln!(s, "\nLatency (round trip of a request's batch):");
            for (name, v) in [
                ("min", self.min_us),
                ("p50", self.p50_us),
                ("p90", self.p90_us),
                ("p99", self.p99_us),
                ("p99.9", self.p999_us),
                ("max", self.max_us),
            ] {
                let _ = writeln!(s, "  {name:<6}{:>12}", ms(v));
            }
            let _ = writeln!(s, "  {:<6}{:>9.3} ms", "mean", self.mean_us / 1000.0);
            let _ = writeln!(s, "\nHistogram:");
            let top = self.histogram.iter().map(|b| b.1).max().unwrap_or(1).max(1);
            for (upper, count) in &self.histogram {
                let bar = "#".repeat(((count * 40).div_ceil(top)) as usize);
                let _ = writeln!(s, "  <= {:>12} [{count:>9}] {bar}", ms(*upper));
            }
        }
        if !self.causes.is_empty() {
            let _ = writeln!(s, "\nErrors:");
            for (cause, n) in &self.causes {
                let _ = writeln!(s, "  {n:>9}  {cause}");
            }
        }
        let _ = writeln!(s);
        let _ = write!(s, "{self}");
        s
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests={} rps={:.0} MB/s={:.2} p50={}us p90={}us p99={}us p99.9={}us max={}us errors={} reconnects={} elapsed={:.2}s",
            self.requests,
            self.rps(),
            self.mbps(),
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.p999_us,
            self.max_us,
            self.errors,
            self.reconnects,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Counters a run updates as it goes, for a live progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests answered and verified so far.
    pub requests: AtomicU64,
    /// Errors so far.
    pub errors: AtomicU64,
}

/// The most distinct error causes a report keeps apart; the rest are "other".
const MAX_CAUSES: usize = 32;

#[derive(Debug)]
struct Tally {
    requests: u64,
    bytes: u64,
    errors: u64,
    reconnects: u64,
    causes: HashMap<String, u64>,
    hist: Histogram<u64>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            requests: 0,
            bytes: 0,
            errors: 0,
            reconnects: 0,
            causes: HashMap::new(),
            hist: histogram(),
        }
    }

    fn error(&mut self, cause: String) {
        self.errors += 1;
        let key = if self.causes.len() < MAX_CAUSES || self.causes.contains_key(&cause) {
            cause
        } else {
            "other".to_string()
        };
        *self.causes.entry(key).or_default() += 1;
    }
}

fn histogram() -> Histogram<u64> {
    // 1 us .. 10 min, 3 significant digits; cannot fail with these bounds.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

/// Ten buckets from the fastest request to the 99.9th percentile, and one
/// up to the maximum when it lies beyond.
fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let (lo, hi, max) = (h.min(), h.value_at_quantile(0.999), h.max());
    let step = (hi.saturating_sub(lo) / 10).max(1);
    let mut out = Vec::new();
    let mut from = 0;
    let mut upper = lo;
    for _ in 0..10 {
        upper = (upper + step).min(hi);
        out.push((upper, h.count_between(from, upper)));
        from = upper + 1;
        if upper >= hi {
            break;
        }
    }
    if max > upper {
        out.push((max, h.count_between(from, max)));
    }
    out
}

/// Checks that `cfg.addr` accepts connections, so a wrong address fails
/// at once with its cause instead of as thousands of errors. Nothing is
/// sent: a server sees only the requests of the run.
pub fn preflight(cfg: &LoadConfig) -> io::Result<()> {
    connect(cfg).map(|_| ())
}

/// Runs the load and merges what every connection measured.
pub fn run(cfg: &LoadConfig) -> io::Result<LoadReport> {
    run_with(cfg, &Arc::new(Progress::default()), |_| {})
}

/// [`run`], updating `live` as requests complete and calling `tick`
/// (about every 200 ms) with the time since the start, from the calling
/// thread, until every connection has finished.
pub fn run_with(
    cfg: &LoadConfig,
    live: &Arc<Progress>,
    mut tick: impl FnMut(Duration),
) -> io::Result<LoadReport> {
    if cfg.conns == 0 || cfg.pipeline == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--conns and --pipeline must be at least 1",
        ));
    }
    if cfg.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--rate must be a positive number",
        ));
    }
    let left = Arc::new(AtomicU64::new(cfg.requests.unwrap_or(u64::MAX)));
    let barrier = Arc::new(Barrier::new(cfg.conns + 1));
    let mut workers = Vec::with_capacity(cfg.conns);
    for i in 0..cfg.conns {
        let (c, b, l, lv) = (cfg.clone(), barrier.clone(), left.clone(), live.clone());
        let spawned = thread::Builder::new()
            .name(format!("load-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || worker(&c, i, &b, &l, &lv));
        match spawned {
            Ok(t) => workers.push(t),
            Err(e) => {
                // Keep the barrier count right for the threads that started.
                for _ in i..cfg.conns {
                    let b = barrier.clone();
                    let cause = format!("cannot start a load thread: {e}");
                    workers.push(thread::spawn(move || {
                        b.wait();
                        let mut t = Tally::new();
                        t.error(cause);
                        t
                    }));
                }
                log::error!("cannot start load thread {i}: {e}");
                break;
            }
        }
    }
    barrier.wait();
    let start = Instant::now();
    // Every worker ends by its deadline plus one reply timeout; the wait
    // here is bounded a little beyond that, then joins regardless.
    let bound = cfg.duration + cfg.timeout * 2 + Duration::from_secs(5);
    while !workers.iter().all(|w| w.is_finished()) && start.elapsed() < bound {
        thread::sleep(Duration::from_millis(200));
        tick(start.elapsed());
    }
    let mut total = Tally::new();
    for w in workers {
        match w.join() {
            Ok(t) => {
                total.requests += t.requests;
                total.bytes += t.bytes;
                total.errors += t.errors;
                total.reconnects += t.reconnects;
                for (cause, n) in t.causes {
                    *total.causes.entry(cause).or_default() += n;
                }
                let _ = total.hist.add(&t.hist);
            }
            Err(_) => total.error("a load thread panicked".to_string()),
        }
    }
    let elapsed = start.elapsed();
    let mut causes: Vec<(String, u64)> = total.causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let h = &total.hist;
    Ok(LoadReport {
        requests: total.requests,
        bytes: total.bytes,
        errors: total.errors,
        causes,
        reconnects: total.reconnects,
        elapsed,
        min_us: if h.is_empty() { 0 } else { h.min() },
        mean_us: h.mean(),
        p50_us: h.value_at_quantile(0.5),
        p90_us: h.value_at_quantile(0.9),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
        histogram: buckets(h),
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
/// (A body is consecutive letters, never `greet`'s `exit`, which ends a
/// session: see the test below.)
fn push_expected(op: Op, body: &[u8], out: &mut Vec<u8>) {
    match jframe::service::demo::answer::<core::convert::Infallible>(Some(op.as_str())) {
        Answer::Transform(t) => {
            out.extend_from_slice(t.prefix());
            let from = out.len();
            out.extend_from_slice(body);
            if let Some(new) = out.get_mut(from..) {
                t.apply(new);
            }
            out.extend_from_slice(t.suffix());
        }
        _ => out.extend_from_slice(body),
    }
}

/// A framed connection plus the buffers its batches reuse, so that, like
/// the raw-echo client, it allocates nothing per request.
struct Framed {
    s: TcpClient,
    /// Prefix + header of every request (one op, one size): encoded once,
    /// by core.
    head: Vec<u8>,
    /// Expected reply bodies of the batch, back to back, and where each ends.
    want: Vec<u8>,
    ends: Vec<usize>,
    /// Replies of the current batch received and verified so far.
    answered: usize,
}

impl Framed {
    fn new(s: TcpClient, cfg: &LoadConfig) -> io::Result<Self> {
        let mut scratch = vec![0u8; crate::SCRATCH];
        let header = Header::request(cfg.op, cfg.size as u64);
        let n = jframe::encode_head(&mut scratch, &header).map_err(invalid)?;
        Ok(Framed {
            s,
            head: scratch.get(..n).unwrap_or_default().to_vec(),
            want: Vec::new(),
            ends: Vec::new(),
            answered: 0,
        })
    }

    /// Sends one batch of `pipeline` requests in one write, then reads and
    /// checks every reply.
    fn batch(
        &mut self,
        cfg: &LoadConfig,
        bodies: &Bodies,
        seed: usize,
        count: usize,
    ) -> io::Result<u64> {
        self.want.clear();
        self.ends.clear();
        for k in 0..count {
            let body = bodies.window(seed + k);
            self.s.send_bytes(&self.head)?;
            self.s.send_bytes(body)?;
            push_expected(cfg.op, body, &mut self.want);
            self.ends.push(self.want.len());
        }
        self.answered = 0;
        self.s.flush()?;
        let mut bytes = 0u64;
        let mut from = 0;
        for i in 0..self.ends.len() {
            let to = self.ends.get(i).copied().unwrap_or(from);
            let got = self.reply(from, to)?;
            bytes += (cfg.size + got) as u64;
            self.answered += 1;
            from = to;
        }
        Ok(bytes)
    }

    /// Whether `e` ended the batch with the server closing the connection
    /// between frames (no reply cut short): what a restarting server does.
    fn closed_between_frames(&self, e: &io::Error) -> bool {
        let closed = match e.kind() {
            io::ErrorKind::UnexpectedEof => e.to_string() == SERVER_CLOSED,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => true,
            _ => false,
        };
        closed && self.s.is_between_frames()
    }

    /// Reads one reply through the client core (a welcome set aside) and
    /// checks it against `want[from..to]` chunk by chunk; returns its body
    /// length.
    fn reply(&mut self, from: usize, to: usize) -> io::Result<usize> {
        let want = self.want.get(from..to).unwrap_or_default();
        let len = want.len();
        // Why the reply is wrong, known from its header before its body.
        let wrong: RefCell<Option<String>> = RefCell::new(None);
        let mut at = 0usize;
        let header = self.s.recv_stream(
            |header, data_size| {
                *wrong.borrow_mut() = check_head(header, data_size, len).err();
            },
            |_, chunk| {
                if let Some(why) = wrong.borrow().as_ref() {
                    return Err(invalid(why));
                }
                if want.get(at..at + chunk.len()) != Some(chunk) {
                    return Err(invalid(format!(
                        "wrong reply body {:?}",
                        String::from_utf8_lossy(chunk)
                    )));
                }
                at += chunk.len();
                Ok(())
            },
        )?;
        if header.is_none() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, SERVER_CLOSED));
        }
        if let Some(why) = wrong.into_inner() {
            return Err(invalid(why));
        }
        Ok(len)
    }
}

/// A close between replies.
const SERVER_CLOSED: &str = "server closed the connection";

/// A reply's head must say `ok` (or no status: [`Header::reply_status`])
/// and announce the expected body length.
fn check_head(header: &Header, data_size: u64, len: usize) -> Result<(), String> {
    let status = header.reply_status();
    if status != Status::Ok {
        return Err(format!(
            "status {status}: {}",
            header.error.as_deref().unwrap_or("(no message)")
        ));
    }
    if data_size != len as u64 {
        return Err(format!(
            "wrong reply: {data_size} body bytes, expected {len}"
        ));
    }
    Ok(())
}

enum Conn {
    Framed(Box<Framed>),
    Raw(TcpStream),
}

fn connect(cfg: &LoadConfig) -> io::Result<Conn> {
    let addr = cfg.addr;
    let with_addr =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot connect to {addr}: {e}"));
    if cfg.raw_echo {
        let s = TcpStream::connect_timeout(&cfg.addr, cfg.timeout).map_err(with_addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(cfg.timeout))?;
        s.set_write_timeout(Some(cfg.timeout))?;
        Ok(Conn::Raw(s))
    } else {
        // A welcome frame, marked, is set aside by the client core as it
        // arrives; nothing is sent but the load's own requests.
        let mut s = TcpClient::connect(cfg.addr, cfg.timeout).map_err(with_addr)?;
        s.expect_welcome(cfg.welcome);
        Ok(Conn::Framed(Box::new(Framed::new(s, cfg)?)))
    }
}

/// Takes up to `want` requests from the run's budget; 0 when it is spent.
fn claim(left: &AtomicU64, want: u64) -> u64 {
    let mut got = 0;
    let _ = left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        got = n.min(want);
        Some(n - got)
    });
    got
}

fn worker(
    cfg: &LoadConfig,
    index: usize,
    barrier: &Barrier,
    left: &AtomicU64,
    live: &Progress,
) -> Tally {
    let mut tally = Tally::new();
    let mut conn = connect(cfg);
    let bodies = Bodies::new(cfg.size);
    let (mut batch, mut back) = if cfg.raw_echo {
        (
            Vec::with_capacity(cfg.size * cfg.pipeline),
            vec![0u8; cfg.size * cfg.pipeline],
        )
    } else {
        (Vec::new(), Vec::new())
    };
    barrier.wait();
    let start = Instant::now();
    let deadline = start + cfg.duration;
    // --rate: this connection's share, as the time between its requests.
    let gap = cfg
        .rate
        .map(|r| Duration::from_secs_f64((cfg.conns as f64 / r).min(3600.0)));
    let mut sent = 0u32;
    let mut seed = index;
    // With `reconnect`: new connections closed before use, one after the
    // other (past MAX_CLOSES_IN_A_ROW they are errors: nobody serves).
    let mut refused_in_a_row = 0u32;
    while Instant::now() < deadline {
        let c = match &mut conn {
            Ok(c) => c,
            Err(e)
                if cfg.reconnect
                    && closed_while_connecting(e)
                    && refused_in_a_row < MAX_CLOSES_IN_A_ROW =>
            {
                // Accepted, then closed: a server (or the balancer's
                // backend) going away. Try again.
                log::debug!("load: closed while connecting ({e}); reconnecting");
                refused_in_a_row += 1;
                tally.reconnects += 1;
                thread::sleep(Duration::from_millis(20));
                conn = connect(cfg);
                continue;
            }
            Err(e) => {
                refused_in_a_row = 0;
                log::debug!("load: connection failed: {e}");
                tally.error(e.to_string());
                live.errors.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(50));
                conn = connect(cfg);
                continue;
            }
        };
        if let Some(gap) = gap {
            let due = start + gap.saturating_mul(sent);
            let now = Instant::now();
            if due > now {
                thread::sleep((due - now).min(deadline.saturating_duration_since(now)));
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
        refused_in_a_row = 0;
        let count = claim(left, cfg.pipeline as u64) as usize;
        if count == 0 {
            break;
        }
        sent = sent.saturating_add(count as u32);
        seed = seed.wrapping_add(7);
        let t0 = Instant::now();
        let result = match c {
            Conn::Framed(f) => f.batch(cfg, &bodies, seed, count),
            Conn::Raw(s) => raw_batch(s, cfg.size * count, &bodies, &mut batch, &mut back, seed),
        };
        match result {
            Ok(bytes) => {
                let us = u64::try_from(t0.elapsed().as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let _ = tally.hist.record_n(us, count as u64);
                tally.requests += count as u64;
                tally.bytes += bytes;
                live.requests.fetch_add(count as u64, Ordering::Relaxed);
            }
            Err(e) => {
                let answered = match c {
                    Conn::Framed(f) if cfg.reconnect && f.closed_between_frames(&e) => {
                        Some(f.answered)
                    }
                    _ => None,
                };
                if let Some(answered) = answered {
                    // The answered requests count; the rest go again on a
                    // new connection.
                    log::debug!("load: {e} after {answered} of {count} replies; reconnecting");
                    if answered > 0 {
                        let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                        let _ = tally.hist.record_n(us.max(1), answered as u64);
                        tally.requests += answered as u64;
                        tally.bytes += 2 * (cfg.size * answered) as u64;
                        live.requests.fetch_add(answered as u64, Ordering::Relaxed);
                    }
                    let unanswered = (count - answered) as u64;
                    let _ = left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_add(unanswered))
                    });
                    sent = sent.saturating_sub(unanswered as u32);
                    tally.reconnects += 1;
                } else {
                    log::debug!("load: {e}");
                    tally.error(e.to_string());
                    live.errors.fetch_add(1, Ordering::Relaxed);
                }
                conn = connect(cfg);
            }
        }
    }
    tally
}

/// New connections closed before use, in a row, that `reconnect` retries
/// before counting one as an error (at 20 ms apart: a few seconds, longer
/// than a balancer takes to notice a backend is gone).
const MAX_CLOSES_IN_A_ROW: u32 = 200;

/// A connection accepted and then closed before it could be used (its
/// probe saw the close): with `reconnect`, retried rather than an error.
fn closed_while_connecting(e: &io::Error) -> bool {
    crate::peer_closed(e)
}

/// The raw-echo batch: the same bodies back to back, one write, read back
/// exactly as many bytes, one comparison.
fn raw_batch(
    s: &mut TcpStream,
    len: usize,
    bodies: &Bodies,
    batch: &mut Vec<u8>,
    back: &mut [u8],
    seed: usize,
) -> io::Result<u64> {
    batch.clear();
    let mut k = 0;
    while batch.len() < len {
        batch.extend_from_slice(bodies.window(seed + k));
        k += 1;
        if bodies.size == 0 {
            break;
        }
    }
    let back = back.get_mut(..batch.len()).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_body_ends_a_greet_session() {
        let exit = jframe::service::transform::GREET_EXIT;
        let bodies = Bodies::new(exit.len());
        for seed in 0..26 {
            assert_ne!(bodies.window(seed), exit);
        }
    }
}
