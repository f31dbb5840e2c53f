//! The jframe servers: TCP with a thread per connection (as seeds 001 and
//! 002 do it) or on tokio ([`Driver`]), UDP with one frame per datagram.
//!
//! Each TCP driver is a loop around core's sans-IO
//! [`Session`](jframe::service::Session): it reads into the session, writes
//! what the session gives, and waits no longer than the session's next
//! deadline. Every rule (which reply, which status, the deadlines, which
//! connection makes room when the server is full) is core's.
//!
//! Limits: at most `max_conns` connections (when full, the connection idle
//! longest between frames makes room; only when none is idle does the next
//! one get `busy`), at most `max_conns_per_client` from one address, the
//! session's deadlines ([`Config::timeouts`]), bodies above `max_body`
//! answered `too_large` and skipped unbuffered. Shutdown stops accepting,
//! ends idle connections, lets in-flight frames finish within a grace
//! period, then closes the rest.
//!
//! - `config`: [`Config`], the session settings it gives, the `busy`
//!   refusal;
//! - `connections`: the registry of live connections both TCP drivers
//!   share (admission, eviction, shutdown, drain);
//! - `tcp` and `tokio`: the two TCP drivers; `udp`: the UDP loop;
//! - `fd_limit`: the descriptor limit and the connections it carries;
//! - [`proxy_header`]: the PROXY protocol header.

mod config;
mod connections;
mod fd_limit;
pub mod proxy_header;
mod tcp;
#[cfg(feature = "tokio")]
mod tokio;
mod udp;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use jframe::service::{self, Instant, Service};

use crate::services::StdServices;
use config::Busy;
pub use config::Config;
pub use fd_limit::{RESERVED_FDS, max_conns_for_fd_limit, raise_fd_limit};

/// The session clock: milliseconds since the process first asked.
fn now() -> Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    Instant::from_millis(u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// How long a socket call may wait: until `at` (at least 1 ms, as a zero
/// timeout means "for ever" to the socket), or for ever.
fn wait_until(at: Option<Instant>) -> Option<Duration> {
    at.map(|at| Duration::from_millis(at.since(now()).max(1)))
}

/// Logs and counts how a connection of `client` ended, for both drivers.
fn ended(client: SocketAddr, end: io::Result<service::End>) {
    match end {
        Ok(end) => {
            crate::metrics::session_ended(&end);
            if end.is_clean() {
                log::debug!("{client}: closed: {end}");
            } else {
                log::info!("{client}: closed: {end}");
            }
        }
        Err(e) if routine(&e) => log::debug!("{client}: closed: {e}"),
        Err(e) => log::info!("{client}: closed: {e}"),
    }
}

/// A peer that resets or vanishes is routine.
fn routine(e: &io::Error) -> bool {
    crate::peer_closed(e) || e.kind() == io::ErrorKind::NotConnected
}

/// How long a refused connection may take to close after its `busy`.
const BUSY_LINGER_MS: u64 = 200;

/// Thread stack for connection threads: small, so 1,000 connections stay
/// within 64 MiB (only touched pages count, but keep the reserve modest).
/// Debug builds use far more stack per call, hence the larger value there.
pub const CONN_STACK: usize = if cfg!(debug_assertions) {
    512 * 1024
} else {
    64 * 1024
};

/// A live connection of the threads driver, as the registry sees it.
#[derive(Debug)]
struct ConnEntry {
    /// The connection's socket itself (shared, not a second descriptor).
    stream: Arc<TcpStream>,
    state: connections::Published,
}

impl connections::Tracked for ConnEntry {
    fn state(&self) -> &connections::Published {
        &self.state
    }

    fn wake(&self) {
        // A blocked read returns what is queued, then 0: the driver sees
        // why and tells its session.
        let _ = self.stream.shutdown(Shutdown::Read);
    }

    fn shutdown(&self, how: Shutdown) {
        let _ = self.stream.shutdown(how);
    }
}

#[derive(Debug)]
struct Shared {
    config: Config,
    stopping: AtomicBool,
    /// The threads driver's connections (the tokio driver keeps its own).
    conns: Arc<connections::Connections<ConnEntry>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Accepts on `listener` until shutdown, handing each connection to
/// `admit`. Accept errors (out of file descriptors, say) back off and
/// retry; they never end the server.
fn accept_until_stopped(
    listener: &TcpListener,
    shared: &Shared,
    mut admit: impl FnMut(TcpStream, SocketAddr),
) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if shared.stopping() {
                    break;
                }
                log::warn!("accept failed: {e}; retrying in {backoff:?}");
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(5);
        if shared.stopping() {
            break;
        }
        admit(stream, peer);
    }
}

/// Asks a running server to shut down gracefully; cheap to clone, usable
/// from a signal-handling thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    wake: SocketAddr,
}

impl ShutdownHandle {
    /// Stops accepting, closes idle connections' read sides; in-flight
    /// frames go on until the grace period ends. Idempotent.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the blocking accept with a connection to ourselves.
        let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
        self.shared.conns.wake_idle();
    }
}

/// Makes each connection's service (and the UDP socket's).
type Make<S> = Arc<dyn Fn() -> S + Send + Sync>;

/// With [`Config::proxy_protocol`]: the client a freshly accepted
/// connection's PROXY header names, or `None` after logging and counting
/// the refusal and closing the connection. Blocks up to
/// [`proxy_header::HEADER_DEADLINE`].
fn proxied_client(stream: &TcpStream, peer: SocketAddr, config: &Config) -> Option<SocketAddr> {
    let read = proxy_header::read_blocking(stream, peer, &config.trusted_proxies);
    proxy_refusal(read, peer, |how| {
        let _ = stream.shutdown(how);
    })
}

/// Logs and counts a PROXY header's refusal (closing the connection with
/// `close`), or passes its client on.
fn proxy_refusal(
    read: Result<SocketAddr, proxy_header::ProxyHeaderError>,
    peer: SocketAddr,
    close: impl FnOnce(Shutdown),
) -> Option<SocketAddr> {
    match read {
        Ok(client) => {
            if client != peer {
                log::debug!("{peer}: PROXY header: client {client}");
            }
            Some(client)
        }
        Err(e) => {
            if e.is_routine() {
                log::debug!("{peer}: refused: {e}");
            } else {
                log::warn!("{peer}: refused: {e}");
            }
            crate::metrics::refused(crate::metrics::RefusalReason::ProxyProtocol);
            close(Shutdown::Both);
            None
        }
    }
}

/// A bound, not yet running server: SPEC's services ([`StdServices`]) by
/// default, or yours ([`Server::with_service`]), on both TCP drivers and
/// UDP, with every SPEC rule the session keeps around them.
///
/// ```
/// use jframe_std::server::{Config, Driver, Server};
///
/// let any = "127.0.0.1:0".parse()?;
/// let server = Server::bind(any, Some(any), Config::default())?.with_driver(Driver::Threads);
/// println!("tcp {}, udp {:?}", server.local_addr()?, server.udp_addr());
/// let stop = server.shutdown_handle()?;
/// let running = std::thread::spawn(move || server.run());
/// // ... serve until told to stop (a signal handler would call this):
/// stop.shutdown();
/// running.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server<S = StdServices> {
    shared: Arc<Shared>,
    listener: TcpListener,
    udp: Option<UdpSocket>,
    driver: Driver,
    make: Make<S>,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("udp", &self.udp)
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

/// Which driver serves TCP (UDP has its own thread either way). Both run
/// core's protocol engine ([`jframe::service::Session`]) with the same
/// services and limits.
///
/// ```
/// use jframe_std::server::{Config, Driver, Server};
///
/// let driver: Driver = "threads".parse()?;
/// let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?.with_driver(driver);
/// # drop(server);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Driver {
    /// A thread per connection.
    #[default]
    Threads,
    /// tokio, one current-thread runtime per core (feature `tokio`).
    Tokio,
}

impl std::str::FromStr for Driver {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "threads" => Ok(Driver::Threads),
            "tokio" => Ok(Driver::Tokio),
            other => Err(format!("unknown TCP driver {other:?} (threads or tokio)")),
        }
    }
}

/// A TCP listener on `addr` with `SO_REUSEADDR` (a restarted server binds
/// despite connections in TIME_WAIT) and a backlog of 1024 (bursts of
/// connects wait in the kernel, not refused): the server's and the proxy's.
pub(crate) fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

impl Server {
    /// Binds the TCP listener (backlog 1024, `SO_REUSEADDR`) and, if given,
    /// the UDP socket, to serve SPEC's services.
    pub fn bind(tcp: SocketAddr, udp: Option<SocketAddr>, config: Config) -> io::Result<Server> {
        let listener = tcp_listener(tcp)?;
        let udp = udp.map(UdpSocket::bind).transpose()?;
        let budget = crate::budget::Budget::new(config.body_budget);
        let (root, max_body) = (config.root.clone(), config.max_body);
        Ok(Server {
            shared: Arc::new(Shared {
                config,
                stopping: AtomicBool::new(false),
                conns: Arc::new(connections::Connections::new()),
            }),
            listener,
            udp,
            driver: Driver::Threads,
            make: Arc::new(move || {
                StdServices::with_budget(root.clone(), max_body, budget.clone())
            }),
        })
    }
}

impl<S: Service + 'static> Server<S> {
    /// Serves your service instead: `make` is called once per connection
    /// (and once for the UDP socket). The limits, deadlines and every SPEC
    /// rule stay the session's; an op your service leaves unclaimed is
    /// `bad_request`.
    pub fn with_service<T: Service + 'static>(
        self,
        make: impl Fn() -> T + Send + Sync + 'static,
    ) -> Server<T> {
        Server {
            shared: self.shared,
            listener: self.listener,
            udp: self.udp,
            driver: self.driver,
            make: Arc::new(make),
        }
    }

    /// Where TCP listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where UDP listens, if enabled.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|u| u.local_addr().ok())
    }

    /// Serves TCP with `driver` (default [`Driver::Threads`]).
    pub fn with_driver(mut self, driver: Driver) -> Self {
        self.driver = driver;
        self
    }

    /// A handle that stops [`Self::run`].
    pub fn shutdown_handle(&self) -> io::Result<ShutdownHandle> {
        let mut wake = self.listener.local_addr()?;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Ok(ShutdownHandle {
            shared: self.shared.clone(),
            wake,
        })
    }

    /// Serves until shut down, then drains: returns once every connection
    /// has finished, or the grace period has run out and the rest were
    /// closed.
    pub fn run(self) -> io::Result<()> {
        if self.driver == Driver::Tokio && !cfg!(feature = "tokio") {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the tokio driver needs jframe-std's `tokio` feature",
            ));
        }
        let udp = match self.udp {
            Some(sock) => {
                let (shared, make) = (self.shared.clone(), self.make.clone());
                Some(
                    thread::Builder::new()
                        .name("udp".into())
                        .spawn(move || udp::serve(&sock, &shared, &*make))?,
                )
            }
            None => None,
        };
        let served = match self.driver {
            #[cfg(feature = "tokio")]
            Driver::Tokio => self::tokio::serve(self.listener, &self.shared, &self.make),
            _ => {
                tcp::accept_loop(&self.listener, &self.shared, &self.make);
                drop(self.listener);
                self.shared.conns.drain(self.shared.config.grace);
                Ok(())
            }
        };
        if served.is_err() {
            // The TCP driver could not start: stop UDP too.
            self.shared.stopping.store(true, Ordering::SeqCst);
        }
        if let Some(t) = udp {
            let _ = t.join();
        }
        served
    }
}
