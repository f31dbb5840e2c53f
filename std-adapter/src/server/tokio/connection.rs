//! One connection on the tokio driver: a loop that reads into its
//! session, writes what the session gives, and waits no longer than the
//! session's next deadline. The session and its buffers are taken only
//! while the connection has work; between frames it is parked
//! ([`Session::park`]), and its task holds only the small [`Parked`] state.

use std::io;

use jframe::service::{Buffers, End, Parked, Service, Session};

use super::super::{Shared, now};
use super::{Conn, sleep_until};

/// Buffer sizes of one busy connection: socket reads, a frame arriving in
/// pieces (a full-size header plus a small body; larger bodies stream),
/// replies. One allocation, only while the connection has work.
const RX: usize = 4 * 1024;
const TX: usize = 4 * 1024;
const FRAME: usize = crate::MAX_HEADER as usize + 4 * 1024;
const CONN_BUF: usize = RX + TX + FRAME;

/// Free buffers a worker keeps for the next busy connection.
const POOL: usize = 64;

/// A worker's free connection buffers.
#[derive(Debug, Default)]
pub(super) struct BufferPool {
    free: std::cell::RefCell<Vec<Vec<u8>>>,
}

impl BufferPool {
    pub(super) fn take(&self) -> Vec<u8> {
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| vec![0u8; CONN_BUF])
    }

    pub(super) fn give(&self, buf: Vec<u8>) {
        let mut free = self.free.borrow_mut();
        if free.len() < POOL {
            free.push(buf);
        }
    }
}

/// Serves one connection: the session on pooled buffers while there is
/// work, parked (no buffers) while there is none.
pub(super) async fn connection<S: Service>(
    shared: &Shared,
    conn: &Conn,
    pool: &BufferPool,
    service: S,
) -> io::Result<End> {
    let config = shared.config.session();
    let mut services = Some(service);
    let mut parked: Option<Parked<S>> = None;
    loop {
        if let Some(p) = &parked {
            // Wait for the peer's next byte, the idle deadline, or a wake
            // (stop, eviction), holding no buffers.
            conn.state.set_idle(p.idle_since());
            if !conn.state.is_evicted() && !shared.stopping() {
                ::tokio::select! {
                    ready = conn.stream.readable() => ready?,
                    () = conn.wake.notified() => {}
                    () = sleep_until(p.poll_timeout()) => {}
                }
            }
        }
        let mut buf = pool.take();
        let (rx, rest) = buf.split_at_mut(RX);
        let (tx, frame) = rest.split_at_mut(TX);
        let buffers = Buffers { rx, frame, tx };
        let session = match (parked.take(), services.take()) {
            (Some(p), _) => p.resume(buffers),
            (None, Some(services)) => {
                Session::new(buffers, services, &config, conn.state.accepted_at())
            }
            (None, None) => return Err(io::Error::other("session lost")),
        };
        // Boxed: the session (1.8 KB with the std services) and the loop's
        // state (its timers, its I/O futures) live on the heap only while
        // the connection has work, like its buffers. An idle connection's
        // task holds only its `Parked` state.
        let step = Box::pin(work(session, conn, shared)).await;
        pool.give(buf);
        match step? {
            Step::Parked(p) => parked = Some(p),
            Step::Ended(end) => return Ok(end),
        }
    }
}

/// How a spell of work on a connection ended.
enum Step<X> {
    /// Idle between frames: parked, its buffers free.
    Parked(Parked<X>),
    /// The session ended.
    Ended(End),
}

/// Runs `session` until it ends or can park.
async fn work<X: Service>(
    mut session: Session<'_, X>,
    conn: &Conn,
    shared: &Shared,
) -> io::Result<Step<X>> {
    match run(&mut session, conn, shared).await? {
        Some(end) => Ok(Step::Ended(end)),
        None => session
            .park()
            .map(Step::Parked)
            // `run` returns `None` only for an idle session.
            .map_err(|_| io::Error::other("session could not park")),
    }
}

/// Runs the session until it ends (`Some`) or waits between frames with
/// nothing to send and nothing to read (`None`: park it).
async fn run<X: Service>(
    session: &mut Session<'_, X>,
    conn: &Conn,
    shared: &Shared,
) -> io::Result<Option<End>> {
    loop {
        // Every wait below ends here: a deadline that passed is handled.
        session.handle_timeout(now());
        if let Some(end) = conn.state.sync(session, &shared.stopping) {
            return Ok(Some(end));
        }
        if !session.transmit().is_empty() {
            match conn.stream.try_write(session.transmit()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => session.sent(n, now()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ::tokio::select! {
                        ready = conn.stream.writable() => ready?,
                        () = sleep_until(session.poll_timeout()) => {}
                    }
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        match conn.stream.try_read(session.receive_buffer()) {
            Ok(0) => session.peer_closed(now()),
            Ok(n) => session.received(n, now()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if session.idle_since().is_some() {
                    return Ok(None);
                }
                ::tokio::select! {
                    ready = conn.stream.readable() => ready?,
                    () = conn.wake.notified() => {}
                    () = sleep_until(session.poll_timeout()) => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
}
