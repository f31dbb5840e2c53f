//! TCP on tokio (feature `tokio`): the same engine
//! ([`jframe::service::engine::asynch`]), the same services
//! ([`StdServices`]), the same [`super::Config`] and the same
//! [`super::ShutdownHandle`] as the thread-per-connection driver, on async
//! I/O. No dispatch, status or service rule of its own: this file only
//! moves bytes and applies the timeouts.
//!
//! - **Threads.** One acceptor thread (a blocking `accept`, woken by
//!   shutdown's connection to itself, exactly as in the threads driver),
//!   and one worker thread per core, each a current-thread runtime with a
//!   `LocalSet`; connections are dealt to the workers in turn. (The core
//!   engine's future is not `Send`, so it cannot move between the threads
//!   of a work-stealing runtime; one runtime per core is what a
//!   thread-per-core server does anyway.)
//! - **Memory.** A connection holds its 16 KiB of buffers (one `Vec` split
//!   into rx, tx and frame) only while it has work: when the engine is
//!   between frames and the socket has nothing more, the link *parks* the
//!   session (the engine returns, losing nothing: no partial frame, every
//!   reply written), the buffers go back to the worker's pool, and the
//!   connection waits for its next byte holding only its socket and a
//!   small task. So 10,000 open connections cost about what the busy few
//!   of them need.
//! - **Time.** Between frames: the idle timeout. From a frame's first byte
//!   to the end of its header: the header deadline. Within a body: the
//!   minimum rate (after a first header timeout of grace), else the idle
//!   timeout per read. Every write: the write timeout. All are
//!   `tokio::time` deadlines; a read or write that can go ahead at once
//!   arms no timer.
//! - **Shutdown.** As the threads driver: stop accepting, close the read
//!   side of idle connections, let the others finish their frames within
//!   `grace`, then close what is left.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use ::tokio::net::TcpStream;
use ::tokio::runtime;
use ::tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use ::tokio::task::LocalSet;
use ::tokio::time::{Instant, timeout, timeout_at};
use jframe::service::engine::asynch;
use jframe::service::{self, Buffers, Deadlines, End, Limits, Phase};

use super::connections::{self, Connections};
use super::deadline::{ReadClock, Timeouts};
use super::{Busy, BusyFrames, Shared};
use crate::services::StdServices;

/// Buffer sizes of one busy connection: socket reads, a frame arriving in
/// pieces (a full-size header plus a small body; larger bodies stream),
/// replies. One allocation, only while the connection has work.
const RX: usize = 4 * 1024;
const TX: usize = 4 * 1024;
const FRAME: usize = crate::MAX_HEADER as usize + 4 * 1024;
const CONN_BUF: usize = RX + TX + FRAME;

/// Free buffers a worker keeps for the next busy connection.
const POOL: usize = 64;

/// Over-limit connections answered `busy` at once; past this they are
/// just closed.
const MAX_BUSY_REPLIES: usize = 64;

/// A live connection, as the shutdown logic sees it.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// True exactly while parked between frames (shutdown closes those).
    idle: AtomicBool,
}

impl super::connections::Live for Conn {
    fn is_idle(&self) -> bool {
        self.idle.load(Ordering::SeqCst)
    }

    fn shutdown(&self, how: Shutdown) {
        let _ = socket2::SockRef::from(&self.stream).shutdown(how);
    }
}

/// The tokio driver's connections, and its count of pending busy replies.
#[derive(Debug)]
struct State {
    conns: Arc<Connections<Conn>>,
    busy_replies: AtomicUsize,
}

type Slot = connections::Slot<Conn>;

/// Work for a worker thread.
#[derive(Debug)]
enum Job {
    Serve(Arc<Conn>, Slot, SocketAddr),
    Busy(TcpStream, Busy),
    /// A connection to admit once its PROXY header has been read.
    Proxied(TcpStream, SocketAddr),
}

/// Serves `listener` on tokio until shut down, then drains; the caller
/// runs UDP.
pub(super) fn serve(listener: TcpListener, shared: &Arc<Shared>) -> io::Result<()> {
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    let state = Arc::new(State {
        conns: Arc::new(Connections::new()),
        busy_replies: AtomicUsize::new(0),
    });
    let busy = Arc::new(BusyFrames::new(&shared.config));
    let mut senders = Vec::with_capacity(workers);
    let mut threads = Vec::with_capacity(workers);
    for i in 0..workers {
        let rt = runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (tx, rx) = unbounded_channel();
        let (shared, busy, state) = (shared.clone(), busy.clone(), state.clone());
        let t = thread::Builder::new()
            .name(format!("tokio-{i}"))
            .spawn(move || worker(&rt, rx, &shared, &busy, &state))?;
        senders.push((handle, tx));
        threads.push(t);
    }
    accept_loop(&listener, shared, &state, &senders);
    // Refuse new connections while draining.
    drop(listener);
    state.conns.drain(shared.config.grace);
    drop(senders);
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// One worker: a current-thread runtime running the connections dealt to it.
fn worker(
    rt: &runtime::Runtime,
    mut jobs: UnboundedReceiver<Job>,
    shared: &Arc<Shared>,
    busy: &Arc<BusyFrames>,
    state: &Arc<State>,
) {
    let local = LocalSet::new();
    let pool = std::rc::Rc::new(Pool::default());
    local.block_on(rt, async move {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Serve(conn, slot, peer) => {
                    let (shared, pool) = (shared.clone(), pool.clone());
                    ::tokio::task::spawn_local(async move {
                        run(&shared, &conn, slot, peer, &pool).await;
                    });
                }
                Job::Proxied(stream, peer) => {
                    let (shared, pool, busy, state) =
                        (shared.clone(), pool.clone(), busy.clone(), state.clone());
                    ::tokio::task::spawn_local(async move {
                        let cfg = &shared.config;
                        let read =
                            super::proxy_header::read_async(&stream, peer, &cfg.trusted_proxies)
                                .await;
                        let close = |how| {
                            let _ = socket2::SockRef::from(&stream).shutdown(how);
                        };
                        let Some(client) = super::proxy_refusal(read, peer, close) else {
                            return;
                        };
                        let conn = Arc::new(Conn {
                            stream,
                            idle: AtomicBool::new(false),
                        });
                        match state.conns.try_register(client.ip(), cfg, || conn.clone()) {
                            Ok(slot) => run(&shared, &conn, slot, client, &pool).await,
                            Err(why) => {
                                log::debug!(
                                    "{client}: {why:?} connection limit reached, replying busy"
                                );
                                crate::metrics::refused(why.into());
                                if let Ok(conn) = Arc::try_unwrap(conn) {
                                    reply_busy(conn.stream, busy.frame(why)).await;
                                }
                            }
                        }
                    });
                }
                Job::Busy(stream, why) => {
                    let (busy, state) = (busy.clone(), state.clone());
                    ::tokio::task::spawn_local(async move {
                        reply_busy(stream, busy.frame(why)).await;
                        state.busy_replies.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            }
        }
    });
    // Whatever still runs after the drain is dropped with the LocalSet.
}

/// Serves an admitted connection until it ends, then frees its slot.
async fn run(shared: &Shared, conn: &Arc<Conn>, slot: Slot, client: SocketAddr, pool: &Pool) {
    let _slot = slot;
    log::debug!("{client}: connected");
    match connection(shared, conn, pool).await {
        Ok(()) => log::debug!("{client}: closed"),
        Err(e) => {
            crate::metrics::ended(&e);
            if routine(&e) {
                log::debug!("{client}: closed: {e}");
            } else {
                log::info!("{client}: closed: {e}");
            }
        }
    }
}

/// A peer that resets or vanishes is routine.
fn routine(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

/// Accepts until shutdown; accept errors back off and retry.
fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    state: &Arc<State>,
    workers: &[(runtime::Handle, UnboundedSender<Job>)],
) {
    let mut next = 0usize;
    super::accept_until_stopped(listener, shared, |stream, peer| {
        let Some((handle, jobs)) = workers.get(next % workers.len().max(1)) else {
            return;
        };
        next = next.wrapping_add(1);
        if let Err(e) = admit(shared, state, stream, peer, handle, jobs) {
            log::warn!("{peer}: cannot serve: {e}");
        }
    });
    // Close the read side of idle connections (a connection parking from
    // now on sees `stopping`).
    state.conns.close_idle();
}

/// Registers a connection with a worker, or has it answered `busy`.
fn admit(
    shared: &Shared,
    state: &Arc<State>,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    handle: &runtime::Handle,
    jobs: &UnboundedSender<Job>,
) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?;
    // Registered with the chosen worker's reactor, from this thread.
    let stream = {
        let _in = handle.enter();
        TcpStream::from_std(stream)?
    };
    if shared.config.proxy_protocol {
        // Its worker reads the header, then admits it by the real client.
        return jobs
            .send(Job::Proxied(stream, peer))
            .map_err(|_| io::Error::other("worker gone"));
    }
    if let Some(why) = state.conns.busy(peer.ip(), &shared.config) {
        log::debug!("{peer}: {why:?} connection limit reached, replying busy");
        crate::metrics::refused(why.into());
        if state.busy_replies.fetch_add(1, Ordering::SeqCst) < MAX_BUSY_REPLIES {
            if jobs.send(Job::Busy(stream, why)).is_err() {
                state.busy_replies.fetch_sub(1, Ordering::SeqCst);
            }
        } else {
            state.busy_replies.fetch_sub(1, Ordering::SeqCst);
        }
        return Ok(());
    }
    let conn = Arc::new(Conn {
        stream,
        idle: AtomicBool::new(false),
    });
    let slot = state.conns.register(peer.ip(), conn.clone());
    // On failure the job (its slot, its stream) is dropped: closed.
    jobs.send(Job::Serve(conn, slot, peer))
        .map_err(|_| io::Error::other("worker gone"))
}

/// Writes `busy`, half-closes, and briefly reads what the peer sent, so
/// that closing does not reset the connection before the reply is read.
async fn reply_busy(stream: TcpStream, frame: &[u8]) {
    use ::tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = stream;
    match timeout(Duration::from_millis(200), stream.write_all(frame)).await {
        Ok(Ok(())) => {}
        _ => return,
    }
    let _ = stream.shutdown().await;
    let until = Instant::now() + Duration::from_millis(200);
    let mut sink = [0u8; 1024];
    while let Ok(Ok(1..)) = timeout_at(until, stream.read(&mut sink)).await {}
}

/// A worker's free connection buffers.
#[derive(Debug, Default)]
struct Pool {
    free: std::cell::RefCell<Vec<Vec<u8>>>,
}

impl Pool {
    fn take(&self) -> Vec<u8> {
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| vec![0u8; CONN_BUF])
    }

    fn give(&self, buf: Vec<u8>) {
        let mut free = self.free.borrow_mut();
        if free.len() < POOL {
            free.push(buf);
        }
    }
}

/// Serves one connection: the engine while there is work, parked (no
/// buffers) while there is none.
async fn connection(shared: &Shared, conn: &Arc<Conn>, pool: &Pool) -> io::Result<()> {
    let cfg = &shared.config;
    let mut link = TokioLink {
        conn: conn.clone(),
        clock: ReadClock::new(Timeouts {
            idle: cfg.idle_timeout,
            header: cfg.header_timeout,
            body_min_rate: cfg.body_min_rate,
        }),
        idle: cfg.idle_timeout,
        write: cfg.write_timeout,
        parked: false,
        stopping: &shared.stopping,
        meter: crate::metrics::RequestMeter::if_enabled(),
    };
    let mut services =
        StdServices::with_budget(cfg.root.clone(), cfg.max_body, shared.budget.clone())
            .with_meter(link.meter.clone());
    let limits = Limits {
        max_header: crate::MAX_HEADER,
        max_body: cfg.max_body,
    };
    let mut welcome = cfg.welcome.as_deref().map(str::as_bytes);
    // With a welcome to send, the engine starts at once; else at the first byte.
    let mut ready = welcome.is_some();
    loop {
        if !ready {
            link.wait_for_frame().await?;
            if shared.stopping() {
                return Ok(());
            }
        }
        ready = false;
        let mut buf = pool.take();
        let (rx, rest) = buf.split_at_mut(RX);
        let (tx, frame) = rest.split_at_mut(TX);
        let config = service::Config {
            limits,
            welcome: welcome.take(),
        };
        let buffers = Buffers { rx, frame, tx };
        // Boxed: the engine's state lives only while the connection has work.
        let end = Box::pin(asynch::serve(&mut link, buffers, &mut services, &config)).await;
        pool.give(buf);
        match end {
            End::Io(_) if std::mem::take(&mut link.parked) => continue,
            End::Io(e) => return Err(e),
            end if end.is_clean() => return Ok(()),
            end => return Err(io::Error::new(io::ErrorKind::InvalidData, end.to_string())),
        }
    }
}

/// A connection's socket as the engine sees it: `embedded-io-async` reads
/// and writes under the phase's deadline.
#[derive(Debug)]
struct TokioLink<'a> {
    conn: Arc<Conn>,
    /// The read deadlines, shared with the threads driver.
    clock: ReadClock,
    /// Longest wait for the next frame, and for a write.
    idle: Duration,
    write: Duration,
    /// Set when a read between frames found nothing: the session was
    /// parked (the engine returned `End::Io`), not failed.
    parked: bool,
    stopping: &'a AtomicBool,
    /// Told when every reply so far has been written (metrics on).
    meter: Option<crate::metrics::RequestMeter>,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

impl TokioLink<'_> {
    /// Parked between frames: waits for the next byte (or the peer's
    /// close), at most the idle timeout, unless the server stops.
    async fn wait_for_frame(&mut self) -> io::Result<()> {
        let conn = &*self.conn;
        // Set before `stopping` is read; shutdown sets `stopping` before it
        // reads the flags (both SeqCst): one side sees the other.
        conn.idle.store(true, Ordering::SeqCst);
        let waited = if self.stopping.load(Ordering::SeqCst) {
            Ok(Ok(()))
        } else {
            timeout(self.idle, conn.stream.readable()).await
        };
        conn.idle.store(false, Ordering::SeqCst);
        match waited {
            Ok(r) => r,
            Err(_) => Err(timed_out("idle timeout")),
        }
    }
}

impl Deadlines for TokioLink<'_> {
    fn before_read(&mut self, phase: Phase) -> bool {
        if let (Some(m), Phase::Idle | Phase::Header) = (&self.meter, phase) {
            m.flushed();
        }
        self.clock.enter(phase);
        phase != Phase::Idle || !self.stopping.load(Ordering::SeqCst)
    }
}

impl embedded_io_async::ErrorType for TokioLink<'_> {
    type Error = io::Error;
}

impl embedded_io_async::Read for TokioLink<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.conn.stream.try_read(buf) {
            Ok(n) => {
                self.clock.record(n);
                if let (Some(m), 1..) = (&self.meter, n) {
                    m.read();
                }
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if self.clock.phase() == Phase::Idle {
            // Nothing pending between frames: park (see the module docs).
            self.parked = true;
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "parked"));
        }
        let (deadline, what) = self.clock.deadline(std::time::Instant::now());
        let deadline = Instant::from_std(deadline);
        loop {
            match timeout_at(deadline, self.conn.stream.readable()).await {
                Err(_) => return Err(timed_out(what)),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(())) => match self.conn.stream.try_read(buf) {
                    Ok(n) => {
                        self.clock.record(n);
                        if let (Some(m), 1..) = (&self.meter, n) {
                            m.read();
                        }
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                },
            }
        }
    }
}

impl embedded_io_async::Write for TokioLink<'_> {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.conn.stream.try_write(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        let deadline = Instant::now() + self.write;
        loop {
            match timeout_at(deadline, self.conn.stream.writable()).await {
                Err(_) => return Err(timed_out("write timeout")),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(())) => match self.conn.stream.try_write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    other => return other,
                },
            }
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
