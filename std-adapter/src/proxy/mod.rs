//! A frame-aware TCP proxy, the library side of `jframe proxy LISTEN
//! UPSTREAM`: `socat -v` that understands frames.
//!
//! Every accepted connection is forwarded to the upstream address, and
//! every frame in either direction is reported: direction, connection,
//! header JSON, body size and a preview, and (for a reply) the time since
//! the request it answers (replies are paired with requests in order, as
//! SPEC's TCP transport promises). A bad frame (prefix out of range,
//! header that is not a jframe header) is reported as what it is and the
//! rest of that direction is forwarded byte for byte as raw data.
//!
//! One thread per direction of each connection runs a `relay`: it reads,
//! has `track` find the frames, lets each frame's bytes out as `faults`
//! say, and has `report` describe what it saw, as text or JSON.
//!
//! Without fault options the bytes are not changed, nor held: each read is
//! forwarded as soon as it has been looked at. With `drop` / `corrupt` /
//! `delay` ([`FaultPlan`], seeded, applied per frame), a frame's prefix and
//! header are held until the header is complete, so each fault applies to
//! whole frames.

//!
//! # Example
//!
//! A proxy in front of a server, and a request through it:
//!
//! ```
//! use std::sync::atomic::Ordering;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use jframe::Op;
//! use jframe_std::client::TcpClient;
//! use jframe_std::proxy::{Proxy, ProxyConfig, ReportOut};
//! use jframe_std::server::{Config, Server};
//!
//! let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
//! let upstream = server.local_addr()?;
//! let stop_server = server.shutdown_handle()?;
//! let serving = std::thread::spawn(move || server.run());
//!
//! let proxy = Proxy::bind("127.0.0.1:0".parse()?, ProxyConfig::new(vec![upstream]))?;
//! let addr = proxy.local_addr()?;
//! let stop_proxy = proxy.stop_flag();
//! // Reports go to any writer; the command gives stdout.
//! let out: ReportOut = Arc::new(Mutex::new(Box::new(std::io::sink())));
//! let proxying = std::thread::spawn(move || proxy.run(out));
//!
//! let mut client = TcpClient::connect(addr, Duration::from_secs(5))?;
//! client.send_request(Op::Upper, b"hi")?;
//! client.flush()?;
//! assert_eq!(client.recv()?.unwrap().body, b"HI");
//!
//! drop(client);
//! stop_proxy.store(true, Ordering::Relaxed);
//! proxying.join().unwrap()?;
//! stop_server.shutdown();
//! serving.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod faults;
mod relay;
mod report;
mod track;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use faults::FaultPlan;
pub use report::ReportOut;

use relay::Relay;
use report::Report;
use track::Pending;

/// What the proxy does.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where connections are forwarded (each address is tried in turn).
    pub upstream: Vec<SocketAddr>,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Faults to inject.
    pub faults: FaultPlan,
    /// Bytes of each body shown in the preview.
    pub preview: usize,
    /// Connecting upstream gives up after this long.
    pub connect_timeout: Duration,
    /// A connection on which neither side sends for this long is closed
    /// (one side may stay quiet for as long as the other moves).
    pub idle_timeout: Duration,
    /// Most connections at once; more are closed on accept.
    pub max_conns: usize,
}

impl ProxyConfig {
    /// Defaults: text output, no faults, 32-byte previews, 5 s connect
    /// timeout, 300 s idle timeout, 256 connections.
    pub fn new(upstream: Vec<SocketAddr>) -> Self {
        ProxyConfig {
            upstream,
            json: false,
            faults: FaultPlan::default(),
            preview: 32,
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
            max_conns: 256,
        }
    }
}

/// A bound proxy; [`Proxy::run`] serves until [`Proxy::stop_flag`] is set.
#[derive(Debug)]
pub struct Proxy {
    listener: TcpListener,
    cfg: Arc<ProxyConfig>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Binds `listen`.
    pub fn bind(listen: SocketAddr, cfg: ProxyConfig) -> io::Result<Proxy> {
        let listener = crate::server::tcp_listener(listen)?;
        Ok(Proxy {
            listener,
            cfg: Arc::new(cfg),
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Set it to make [`Self::run`] return (checked at least every 100 ms).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Accepts and forwards connections, reporting frames to `out`.
    pub fn run(self, out: ReportOut) -> io::Result<()> {
        self.listener.set_nonblocking(true)?;
        let next_id = AtomicU64::new(1);
        let open = Arc::new(AtomicUsize::new(0));
        let mut backoff = Duration::from_millis(5);
        while !self.stop.load(Ordering::Relaxed) {
            let (client, peer) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => {
                    log::warn!("proxy: accept failed: {e}");
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            backoff = Duration::from_millis(5);
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            if open.load(Ordering::Relaxed) >= self.cfg.max_conns {
                log::warn!("proxy: conn {id} from {peer} closed: --max-conns reached");
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            let (cfg, out, open2) = (self.cfg.clone(), out.clone(), open.clone());
            let spawned = thread::Builder::new()
                .name(format!("proxy-{id}"))
                .spawn(move || {
                    connection(id, client, peer, &cfg, &out);
                    open2.fetch_sub(1, Ordering::Relaxed);
                });
            if let Err(e) = spawned {
                open.fetch_sub(1, Ordering::Relaxed);
                log::warn!("proxy: conn {id}: cannot start a thread: {e}");
            }
        }
        Ok(())
    }
}

fn connection(id: u64, client: TcpStream, peer: SocketAddr, cfg: &ProxyConfig, out: &ReportOut) {
    let started = Instant::now();
    let _ = client.set_nonblocking(false);
    let mut upstream = None;
    let mut last_err = None;
    for a in &cfg.upstream {
        match TcpStream::connect_timeout(a, cfg.connect_timeout) {
            Ok(s) => {
                upstream = Some(s);
                break;
            }
            Err(e) => last_err = Some(format!("{a}: {e}")),
        }
    }
    let Some(server) = upstream else {
        let why = last_err.unwrap_or_else(|| "no upstream address".into());
        Report::UpstreamFailed {
            conn: id,
            peer,
            why: &why,
        }
        .emit(out, cfg.json);
        return;
    };
    let upstream = server
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    Report::Opened {
        conn: id,
        peer,
        upstream,
    }
    .emit(out, cfg.json);
    for s in [&client, &server] {
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(cfg.idle_timeout));
        let _ = s.set_write_timeout(Some(cfg.idle_timeout));
    }
    let pending: Pending = Arc::new(Mutex::new(Default::default()));
    let activity = Activity::new(started);
    let directions = [
        (Dir::ToServer, &client, &server),
        (Dir::ToClient, &server, &client),
    ];
    let totals: Vec<u64> = thread::scope(|scope| {
        let handles: Vec<_> = directions
            .into_iter()
            .map(|(dir, from, to)| {
                let pending = pending.clone();
                let activity = &activity;
                scope.spawn(move || {
                    let mut relay = Relay::new(id, dir, cfg, out, pending, started);
                    relay.run(from, to, activity)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    Report::Closed {
        conn: id,
        secs: started.elapsed().as_secs_f64(),
        to_server: totals.first().copied().unwrap_or(0),
        back: totals.get(1).copied().unwrap_or(0),
    }
    .emit(out, cfg.json);
}

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

impl Dir {
    fn arrow(self) -> &'static str {
        match self {
            Dir::ToServer => "->",
            Dir::ToClient => "<-",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dir::ToServer => "c2s",
            Dir::ToClient => "s2c",
        }
    }
}

/// When either direction of a connection last received bytes: the
/// connection is idle only when neither has for the idle time.
#[derive(Debug)]
struct Activity {
    started: Instant,
    /// Milliseconds since `started` of the last read that returned data.
    last_ms: AtomicU64,
}

impl Activity {
    fn new(started: Instant) -> Self {
        Activity {
            started,
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long neither side has sent anything.
    fn quiet_for(&self) -> Duration {
        let last = self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        last.elapsed()
    }
}
