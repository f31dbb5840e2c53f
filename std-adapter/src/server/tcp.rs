//! TCP with a thread per connection: the accept loop, and each
//! connection's loop around core's sans-IO session. No rule of its own:
//! the loop reads into the session, writes what it gives, and blocks no
//! longer than its next deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread;
use std::time::Duration;

use jframe::service::{Buffers, End, Refusal, Refused, Service, Session};

use crate::metrics::Metered;

use super::{
    BUSY_LINGER_MS, CONN_STACK, ConnEntry, Shared, accept_until_stopped, connections, now,
    wait_until,
};

/// Accepts until shutdown. Accept errors (out of file descriptors, say)
/// back off and retry; they never end the server.
pub(super) fn accept_loop<S: Service + 'static>(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    make: &super::Make<S>,
) {
    let (reject_tx, reject_rx) = sync_channel::<Rejected>(64);
    let write_ms = shared.config.busy_write_ms();
    let rejector = thread::Builder::new()
        .name("busy".into())
        .stack_size(CONN_STACK)
        .spawn(move || reject_loop(&reject_rx, write_ms));
    if let Err(e) = &rejector {
        log::warn!("no thread for busy replies ({e}); over-limit connections are just closed");
    }
    let admitter = Admitter {
        shared: shared.clone(),
        reject: reject_tx,
        make: make.clone(),
    };
    accept_until_stopped(listener, shared, |stream, peer| {
        admitter.admit(stream, peer);
    });
    // The busy replier ends once the last sender (the admitter's) is gone.
    drop(admitter);
    if let Ok(t) = rejector {
        let _ = t.join();
    }
}

/// A connection waiting for `busy`, and the refusal it gets.
type Rejected = (Arc<TcpStream>, Refusal);

/// What each accepted connection is handed to: the server's state, the
/// busy replier's queue, and what makes each connection's service.
struct Admitter<S> {
    shared: Arc<Shared>,
    reject: SyncSender<Rejected>,
    make: super::Make<S>,
}

impl<S> Clone for Admitter<S> {
    fn clone(&self) -> Self {
        Admitter {
            shared: self.shared.clone(),
            reject: self.reject.clone(),
            make: self.make.clone(),
        }
    }
}

impl<S: Service + 'static> Admitter<S> {
    /// Registers and starts a connection, or hands it to the busy replier.
    /// Behind a PROXY header, the connection's own thread reads the header
    /// first and admits it by the client the header names.
    fn admit(&self, stream: TcpStream, peer: SocketAddr) {
        let config = &self.shared.config;
        if config.proxy_protocol {
            // An untrusted peer is refused here, before it costs a thread.
            if !super::proxy_header::trusted(peer.ip(), &config.trusted_proxies) {
                let untrusted = Err(super::proxy_header::ProxyHeaderError::Untrusted);
                let _ = super::proxy_refusal(untrusted, peer, |how| {
                    let _ = stream.shutdown(how);
                });
                return;
            }
            let admitter = self.clone();
            spawn(peer, move || {
                if let Some(client) = super::proxied_client(&stream, peer, &admitter.shared.config)
                    && let Some(run) = admitter.register(stream, client)
                {
                    run();
                }
            });
            return;
        }
        if let Some(run) = self.register(stream, peer) {
            spawn(peer, run);
        }
    }

    /// Registers the connection of `client` (making room by core's rule)
    /// and returns what serves it, or hands it to the busy replier.
    fn register(
        &self,
        stream: TcpStream,
        client: SocketAddr,
    ) -> Option<impl FnOnce() + Send + 'static> {
        let shared = &self.shared;
        // One descriptor per connection: the registry (for shutdown and
        // eviction) and the connection's thread share the same socket.
        let entry = Arc::new(ConnEntry {
            stream: Arc::new(stream),
            state: connections::Published::accepted(now()),
        });
        let slot = match shared
            .conns
            .admit(client.ip(), &shared.config, || entry.clone())
        {
            Ok(slot) => slot,
            Err(why) => {
                let stream = entry.stream.clone();
                if let Err(TrySendError::Full((s, _)) | TrySendError::Disconnected((s, _))) =
                    self.reject.try_send((stream, shared.config.busy(why)))
                {
                    let _ = s.shutdown(Shutdown::Both);
                }
                return None;
            }
        };
        let conn_shared = shared.clone();
        let make = self.make.clone();
        Some(move || {
            let _slot = slot;
            log::debug!("{client}: connected");
            super::ended(client, serve(&conn_shared, &entry, Metered::new(make())));
        })
    }
}

/// Starts a connection thread running `run`.
fn spawn(peer: SocketAddr, run: impl FnOnce() + Send + 'static) {
    let spawned = thread::Builder::new()
        .name("conn".into())
        .stack_size(CONN_STACK)
        .spawn(run);
    if let Err(e) = spawned {
        // The closure (and with it the slot and the stream) was dropped.
        log::warn!("{peer}: cannot start a thread: {e}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Answers over-limit connections with `busy`, one at a time, through
/// core's [`Refused`]: the reply, then what the peer sends is read until it
/// closes or the linger passes, so that closing does not reset the
/// connection before the reply is read.
fn reject_loop(rx: &Receiver<Rejected>, write_ms: u64) {
    let mut buf = [0u8; 256];
    let mut sink = [0u8; 4096];
    for (stream, busy) in rx {
        let mut stream = &*stream;
        let Ok(mut refused) = Refused::new(&mut buf, &busy, write_ms, BUSY_LINGER_MS, now()) else {
            continue;
        };
        let mut half_closed = false;
        while !refused.finished() {
            let wait = wait_until(refused.poll_timeout());
            let result = if !refused.transmit().is_empty() {
                let _ = stream.set_write_timeout(wait);
                stream
                    .write(refused.transmit())
                    .map(|n| refused.sent(n, now()))
            } else {
                if !half_closed {
                    let _ = stream.shutdown(Shutdown::Write);
                    half_closed = true;
                }
                let _ = stream.set_read_timeout(wait);
                match stream.read(&mut sink) {
                    Ok(0) => {
                        refused.peer_closed();
                        Ok(())
                    }
                    other => other.map(drop),
                }
            };
            match result {
                Err(e) if is_timeout(&e) => refused.handle_timeout(now()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => refused.peer_closed(),
                Ok(()) => {}
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Buffer sizes of one connection: reads, a frame arriving in pieces
/// (a full-size header plus bodies held whole; larger ones stream), and
/// replies. Small, since a server holds one set per connection.
const RX: usize = 8 * 1024;
const FRAME: usize = crate::MAX_HEADER as usize + 8 * 1024;
const TX: usize = 8 * 1024;

/// Serves one connection until its session ends: the session does the
/// protocol and the time; this moves bytes and blocks no longer than the
/// session's next deadline.
fn serve<S: Service>(shared: &Shared, conn: &ConnEntry, service: S) -> io::Result<End> {
    let cfg = &shared.config;
    let mut stream = &*conn.stream;
    stream.set_nodelay(true)?;
    let (mut rx, mut frame, mut tx) = (vec![0u8; RX], vec![0u8; FRAME], vec![0u8; TX]);
    let buffers = Buffers {
        rx: &mut rx,
        frame: &mut frame,
        tx: &mut tx,
    };
    let mut session = Session::new(buffers, service, &cfg.session(), conn.state.accepted_at());
    let (mut read_wait, mut write_wait) = (Armed::default(), Armed::default());
    loop {
        if let Some(end) = conn.state.sync(&mut session, &shared.stopping) {
            return Ok(end);
        }
        let writing = !session.transmit().is_empty();
        let wait = wait_until(session.poll_timeout());
        let result = if writing {
            write_wait.arm(wait, |w| stream.set_write_timeout(w))?;
            stream.write(session.transmit())
        } else {
            read_wait.arm(wait, |w| stream.set_read_timeout(w))?;
            stream.read(session.receive_buffer())
        };
        match result {
            Ok(0) if writing => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) if writing => session.sent(n, now()),
            Ok(0) => {
                // Our own wake shut the read side: the session ends between
                // frames (or finds its frame cut short).
                if conn.state.is_evicted() {
                    session.evict(now());
                } else if shared.stopping() {
                    session.stop(now());
                }
                session.peer_closed(now());
            }
            Ok(n) => session.received(n, now()),
            // The deadline, or a socket timeout a little early: the session
            // decides.
            Err(e) if is_timeout(&e) => session.handle_timeout(now()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A socket timeout, set only when it must change: a timeout that ends at
/// most [`Armed::SLACK`] after the session's deadline, and no sooner than
/// half-way to it, is kept, so that a busy connection does not pay a
/// `setsockopt` per read. A timeout that ends early only costs a wake-up:
/// the session decides ([`Session::handle_timeout`]).
#[derive(Debug, Default)]
struct Armed(Option<Option<Duration>>);

impl Armed {
    const SLACK: Duration = Duration::from_millis(20);

    fn arm(
        &mut self,
        want: Option<Duration>,
        set: impl FnOnce(Option<Duration>) -> io::Result<()>,
    ) -> io::Result<()> {
        let keep = match (self.0, want) {
            (Some(None), None) => true,
            (Some(Some(cur)), Some(want)) => cur <= want + Self::SLACK && cur * 2 >= want,
            _ => false,
        };
        if !keep {
            set(want)?;
            self.0 = Some(want);
        }
        Ok(())
    }
}
