//! The load generator behind `jframe load`: one thread per connection, each
//! sending batches of `pipeline` requests and checking every reply; bounded
//! by time, optionally by a request count, optionally paced to a rate.
//!
//! - `batch`: one connection's batches (framed, or raw echo) and the
//!   bodies they send;
//! - `report`: what each connection counts, and the [`LoadReport`].

mod batch;
mod report;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use jframe::Op;

use crate::client::TcpClient;
use batch::{Bodies, Framed, raw_batch};
pub use report::LoadReport;
use report::Tally;

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

/// Counters a run updates as it goes, for a live progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests answered and verified so far.
    pub requests: AtomicU64,
    /// Errors so far.
    pub errors: AtomicU64,
}

/// Checks that `cfg.addr` accepts connections, so a wrong address fails
/// at once with its cause instead of as thousands of errors. Nothing is
/// sent: a server sees only the requests of the run.
pub fn preflight(cfg: &LoadConfig) -> io::Result<()> {
    connect(cfg).map(|_| ())
}

/// Runs the load and merges what every connection measured.
///
/// ```
/// use std::time::Duration;
/// use jframe_std::load::{self, LoadConfig};
/// use jframe_std::server::{Config, Server};
///
/// let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle()?;
/// let running = std::thread::spawn(move || server.run());
///
/// let cfg = LoadConfig {
///     conns: 2,
///     pipeline: 4,
///     requests: Some(100),
///     ..LoadConfig::new(addr, Duration::from_secs(10))
/// };
/// load::preflight(&cfg)?;
/// let report = load::run(&cfg)?;
/// assert_eq!((report.requests, report.errors), (100, 0));
/// println!("{report}");
///
/// stop.shutdown();
/// running.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
            Ok(t) => total.merge(t),
            Err(_) => total.error("a load thread panicked".to_string()),
        }
    }
    Ok(total.report(start.elapsed()))
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
                tally.replies(count, micros(t0), bytes);
                live.requests.fetch_add(count as u64, Ordering::Relaxed);
            }
            Err(e) => {
                let answered = match c {
                    Conn::Framed(f) if cfg.reconnect && f.closed_between_frames(&e) => {
                        Some((f.answered, f.answered_bytes))
                    }
                    _ => None,
                };
                if let Some((answered, bytes)) = answered {
                    // The answered requests count; the rest go again on a
                    // new connection.
                    log::debug!("load: {e} after {answered} of {count} replies; reconnecting");
                    if answered > 0 {
                        tally.replies(answered, micros(t0), bytes);
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

/// Microseconds since `t0`.
fn micros(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX)
}
