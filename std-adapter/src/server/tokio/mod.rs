//! TCP on tokio (feature `tokio`): the same sans-IO session
//! ([`jframe::service::Session`]), the same services, the
//! same [`super::Config`] and the same [`super::ShutdownHandle`] as the
//! thread-per-connection driver, on async I/O. Each connection is a loop
//! that reads into its session, writes what the session gives, and waits
//! no longer than the session's next deadline: no rule of its own.
//!
//! - **Threads.** One acceptor thread (a blocking `accept`, woken by
//!   shutdown's connection to itself, exactly as in the threads driver),
//!   and one worker thread per core, each a current-thread runtime with a
//!   `LocalSet`; connections are dealt to the workers in turn. One runtime
//!   per core is what a thread-per-core server does anyway, and keeps each
//!   connection's buffers on the core that uses them. It is a choice, not
//!   a need: core's session and its async engine are `Send` (a
//!   compile-time check in `core/tests/engine.rs`); staying on one thread
//!   lets a worker's buffer pool be an `Rc` with no lock.
//! - **Memory.** A connection holds its 16 KiB of buffers (one `Vec` split
//!   into rx, tx and frame) only while it has work: when its session waits
//!   between frames with nothing to send and the socket has nothing more,
//!   the session is *parked* ([`jframe::service::Session::park`]: nothing
//!   is lost, the clocks go on), the buffers go back to the worker's pool,
//!   and the connection waits for its next byte holding only its socket and
//!   a small task. So 10,000 open connections cost about what the busy few
//!   of them need.
//! - **Shutdown and eviction.** The registry wakes a parked connection (a
//!   `Notify`); the loop then tells its session to stop or to make room,
//!   which it does between frames.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use ::tokio::net::TcpStream;
use ::tokio::runtime;
use ::tokio::sync::Notify;
use ::tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use ::tokio::task::LocalSet;
use jframe::service::{Instant, Refusal, Refused, Service};

use super::connections::{self, Connections, Published};
use super::{BUSY_LINGER_MS, Shared, now};
use crate::metrics::Metered;

mod connection;
use connection::{BufferPool, connection};

/// Over-limit connections answered `busy` at once; past this they are
/// just closed.
const MAX_BUSY_REPLIES: usize = 64;

/// A live connection, as the registry sees it.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    state: Published,
    /// Wakes the connection's loop for a stop or an eviction.
    wake: Notify,
}

impl connections::Tracked for Conn {
    fn state(&self) -> &Published {
        &self.state
    }

    fn wake(&self) {
        self.wake.notify_one();
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

impl State {
    /// Takes one of the [`MAX_BUSY_REPLIES`] places, if one is free.
    fn reserve_busy(&self) -> bool {
        if self.busy_replies.fetch_add(1, Ordering::SeqCst) < MAX_BUSY_REPLIES {
            return true;
        }
        self.release_busy();
        false
    }

    /// Gives back a place taken by [`State::reserve_busy`].
    fn release_busy(&self) {
        self.busy_replies.fetch_sub(1, Ordering::SeqCst);
    }
}

type Registration = connections::Registration<Conn>;

/// Work for a worker thread.
enum Job<S> {
    Serve(Arc<Conn>, Registration, SocketAddr, super::Make<S>),
    Busy(TcpStream, Refusal),
    /// A connection to admit once its PROXY header has been read.
    Proxied(TcpStream, SocketAddr, super::Make<S>),
}

impl<S> std::fmt::Debug for Job<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Serve(_, _, peer, _) => write!(f, "Serve({peer})"),
            Job::Busy(_, busy) => write!(f, "Busy({busy})"),
            Job::Proxied(_, peer, _) => write!(f, "Proxied({peer})"),
        }
    }
}

/// Serves `listener` on tokio until shut down, then drains; the caller
/// runs UDP.
pub(super) fn serve<S: Service + 'static>(
    listener: TcpListener,
    shared: &Arc<Shared>,
    make: &super::Make<S>,
) -> io::Result<()> {
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    let state = Arc::new(State {
        conns: Arc::new(Connections::new()),
        busy_replies: AtomicUsize::new(0),
    });
    let mut senders = Vec::with_capacity(workers);
    let mut threads = Vec::with_capacity(workers);
    for i in 0..workers {
        let rt = runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (tx, rx) = unbounded_channel();
        let (shared, state) = (shared.clone(), state.clone());
        let t = thread::Builder::new()
            .name(format!("tokio-{i}"))
            .spawn(move || worker(&rt, rx, &shared, &state))?;
        senders.push((handle, tx));
        threads.push(t);
    }
    accept_loop(&listener, shared, &state, &senders, make);
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
fn worker<S: Service + 'static>(
    rt: &runtime::Runtime,
    mut jobs: UnboundedReceiver<Job<S>>,
    shared: &Arc<Shared>,
    state: &Arc<State>,
) {
    let local = LocalSet::new();
    let pool = std::rc::Rc::new(BufferPool::default());
    local.block_on(rt, async move {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Serve(conn, slot, peer, make) => {
                    let (shared, pool) = (shared.clone(), pool.clone());
                    ::tokio::task::spawn_local(async move {
                        serve_admitted(&shared, &conn, slot, peer, &pool, make()).await;
                    });
                }
                Job::Proxied(stream, peer, make) => {
                    let (shared, pool, state) = (shared.clone(), pool.clone(), state.clone());
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
                        match register(&shared, &state, stream, client) {
                            Admitted::Serve(conn, slot) => {
                                serve_admitted(&shared, &conn, slot, client, &pool, make()).await;
                            }
                            Admitted::Busy(stream, why) if state.reserve_busy() => {
                                reply_busy(stream, &cfg.busy(why), cfg.busy_write_ms()).await;
                                state.release_busy();
                            }
                            // Over the cap of `busy` replies: closed.
                            Admitted::Busy(..) | Admitted::Closed => {}
                        }
                    });
                }
                Job::Busy(stream, busy) => {
                    let (state, write_ms) = (state.clone(), shared.config.busy_write_ms());
                    ::tokio::task::spawn_local(async move {
                        reply_busy(stream, &busy, write_ms).await;
                        state.release_busy();
                    });
                }
            }
        }
    });
    // Whatever still runs after the drain is dropped with the LocalSet.
}

/// Serves an admitted connection until it ends, then frees its slot.
async fn serve_admitted<S: Service>(
    shared: &Shared,
    conn: &Conn,
    slot: Registration,
    client: SocketAddr,
    pool: &BufferPool,
    service: S,
) {
    let _slot = slot;
    log::debug!("{client}: connected");
    super::ended(
        client,
        connection(shared, conn, pool, Metered::new(service)).await,
    );
}

/// Accepts until shutdown; accept errors back off and retry.
fn accept_loop<S: Service + 'static>(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    state: &Arc<State>,
    workers: &[(runtime::Handle, UnboundedSender<Job<S>>)],
    make: &super::Make<S>,
) {
    let mut next = 0usize;
    super::accept_until_stopped(listener, shared, |stream, peer| {
        let Some((handle, jobs)) = workers.get(next % workers.len().max(1)) else {
            return;
        };
        next = next.wrapping_add(1);
        if let Err(e) = admit(shared, state, stream, peer, handle, jobs, make) {
            log::warn!("{peer}: cannot serve: {e}");
        }
    });
    // Wake idle connections (a connection parking from now on sees
    // `stopping`).
    state.conns.wake_idle();
}

/// Registers a connection with a worker, or has it answered `busy`.
fn admit<S>(
    shared: &Shared,
    state: &Arc<State>,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    handle: &runtime::Handle,
    jobs: &UnboundedSender<Job<S>>,
    make: &super::Make<S>,
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
            .send(Job::Proxied(stream, peer, make.clone()))
            .map_err(|_| io::Error::other("worker gone"));
    }
    match register(shared, state, stream, peer) {
        // On failure the job (its slot, its stream) is dropped: closed.
        Admitted::Serve(conn, slot) => jobs
            .send(Job::Serve(conn, slot, peer, make.clone()))
            .map_err(|_| io::Error::other("worker gone")),
        Admitted::Busy(stream, why) if state.reserve_busy() => {
            if jobs
                .send(Job::Busy(stream, shared.config.busy(why)))
                .is_err()
            {
                state.release_busy();
            }
            Ok(())
        }
        // Over the cap of `busy` replies: closed.
        Admitted::Busy(..) | Admitted::Closed => Ok(()),
    }
}

/// What [`register`] makes of a connection.
enum Admitted {
    /// Registered: serve it.
    Serve(Arc<Conn>, Registration),
    /// Over a limit: answer `busy`, if the cap on such replies allows.
    Busy(TcpStream, super::Busy),
    /// Nothing to answer with (not reached: a refused connection is never
    /// registered, so its stream comes back).
    Closed,
}

/// Registers the connection of `client` (making room by core's rule), or
/// says why not: one path for direct connections and those behind a PROXY
/// header.
fn register(shared: &Shared, state: &State, stream: TcpStream, client: SocketAddr) -> Admitted {
    let conn = Arc::new(Conn {
        stream,
        state: Published::accepted(now()),
        wake: Notify::new(),
    });
    match state
        .conns
        .admit(client.ip(), &shared.config, || conn.clone())
    {
        Ok(slot) => Admitted::Serve(conn, slot),
        Err(why) => match Arc::try_unwrap(conn) {
            Ok(conn) => Admitted::Busy(conn.stream, why),
            Err(_) => Admitted::Closed,
        },
    }
}

/// The tokio instant of a session deadline.
fn deadline(at: Instant) -> ::tokio::time::Instant {
    ::tokio::time::Instant::now() + Duration::from_millis(at.since(now()))
}

/// Sleeps until `at`, or for ever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => ::tokio::time::sleep_until(deadline(at)).await,
        None => std::future::pending().await,
    }
}

/// Answers a connection over a limit through core's [`Refused`]: `busy`,
/// a half-close, then what the peer sends is read until it closes or the
/// linger passes, so that closing does not reset the connection before the
/// reply is read.
async fn reply_busy(stream: TcpStream, busy: &Refusal, write_ms: u64) {
    use ::tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = stream;
    let mut buf = [0u8; 256];
    let Ok(mut refused) = Refused::new(&mut buf, busy, write_ms, BUSY_LINGER_MS, now()) else {
        return;
    };
    let mut sink = [0u8; 1024];
    let mut half_closed = false;
    while !refused.finished() {
        let until = sleep_until(refused.poll_timeout());
        if !refused.transmit().is_empty() {
            ::tokio::select! {
                written = stream.write(refused.transmit()) => match written {
                    Ok(n) => refused.sent(n, now()),
                    Err(_) => refused.peer_closed(),
                },
                () = until => refused.handle_timeout(now()),
            }
        } else {
            if !half_closed {
                let _ = stream.shutdown().await;
                half_closed = true;
            }
            ::tokio::select! {
                read = stream.read(&mut sink) => if !matches!(read, Ok(1..)) {
                    refused.peer_closed();
                },
                () = until => refused.handle_timeout(now()),
            }
        }
    }
}
