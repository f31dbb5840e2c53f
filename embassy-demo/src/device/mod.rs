//! The device's service: jframe requests (SPEC.md's `upper`, `echo` and
//! `greet`, and the device's own `stats`) on TCP port 7.
//!
//! A loop around core's sans-IO session ([`jframe::service::Session`]):
//! everything SPEC says about requests (which op, which status, `greet` of
//! `exit`, replies never answered, what is fatal) and about slow peers (the
//! deadlines) lives there. The loop reads into the session, writes what it
//! gives, and sleeps until its next deadline. This module only does what is
//! the device's own:
//!
//! - [`serve_socket`] is one slot of the listening pool: it accepts one
//!   connection at a time on its own socket buffers, serves it and closes it
//!   properly. Firmware and the host simulator spawn several slots on the
//!   same port, because a single socket that re-accepts in a loop leaves a
//!   gap in which a reconnecting client is reset.
//! - [`Pool`] is what the slots share: each one's state (`SlotState`:
//!   arming, listening, in a TCP handshake, idle between frames since when,
//!   busy in a frame). The pool keeps one socket
//!   spare: when a client takes the last listening socket, the connection
//!   idle longest between frames is closed so the next client finds a
//!   listener, and when no connection is idle the newcomer is answered
//!   `busy` at once (core's [`admit`](jframe::service::admit) rule, on the sessions' own
//!   [`Session::idle_since`]). Silent peers cannot pin a full pool.
//! - The pool never starts a listener while another slot's handshake is
//!   under way (see [`Pool`]): smoltcp gives a SYN to the first socket in
//!   its set that takes it, and a listener added in front of a socket in
//!   SYN-RECEIVED would take that client's retransmitted SYN, answer with a
//!   second sequence number, and the client's ACK of one would be reset by
//!   the other.
//!
//! Memory per connection is fixed: [`RX_BUF`] for socket reads,
//! [`FRAME_BUF`] for a header (and a body small enough to arrive whole),
//! [`TX_BUF`] for replies, plus the socket's own buffers. A body of any size
//! is streamed through them and never held whole.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use embassy_futures::select::{Either, Either3, select, select3};
use embassy_net::Stack;
use embassy_net::tcp::{AcceptError, State, TcpSocket};
use embassy_time::{Duration, Timer, with_timeout};
use embedded_io_async::{Read, Write};
use jframe::Status;

use crate::stats;

mod pool;
use jframe::service::{
    Config, End, Instant, Limits, Refusal, Refused, Service, Session, Storage, Timeouts,
};
use pool::SlotState;
pub use pool::{Pool, PoolSlot};

/// The TCP port the device serves on (RFC 862's echo port).
pub const PORT: u16 = 7;
/// Socket reads land here.
pub const RX_BUF: usize = 256;
/// A frame that arrives in pieces is gathered here: its header (so this is
/// also the largest header the device can take) and a body that fits after
/// it; larger bodies are streamed.
pub const FRAME_BUF: usize = 256;
/// Replies are gathered here. It must hold the largest reply head
/// ([`jframe::service::HEAD_RESERVE`]).
pub const TX_BUF: usize = 256;
/// Largest header a request may carry by default: "a few hundred bytes".
pub const DEFAULT_MAX_HEADER: u32 = 256;
/// Pause after a failed `accept` so a misconfigured port cannot spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How long an `abort` gets to put its RST on the wire.
const ABORT_FLUSH: Duration = Duration::from_millis(200);
/// How long an evicted connection waits for the peer's FIN before it is
/// reset: short, because until it listens again the pool has no listener.
const EVICT_LINGER: Duration = Duration::from_millis(500);
/// The message of the `busy` reply a client gets when the pool is full and
/// no connection is idle.
const BUSY_MESSAGE: &str = "device busy: every connection is in a frame; try again";

/// How the service behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// TCP port to listen on.
    pub port: u16,
    /// The session's deadlines (core's rules, the device's values:
    /// [`Timeouts::DEVICE`]).
    pub timeouts: Timeouts,
    /// Largest header accepted (clamped to [`FRAME_BUF`]); a longer
    /// prefix is a `bad_frame` and ends the connection.
    pub max_header: u32,
    /// How long closing waits for the peer's FIN and its ACK of ours.
    pub close_timeout: Duration,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            port: PORT,
            timeouts: Timeouts::DEVICE,
            max_header: DEFAULT_MAX_HEADER,
            close_timeout: Duration::from_secs(2),
        }
    }
}

impl DeviceConfig {
    /// The session settings.
    fn session(&self) -> Config<'static> {
        Config {
            limits: Limits {
                max_header: self.max_header,
                max_body: u64::MAX,
            },
            timeouts: self.timeouts,
            welcome: None,
        }
    }

    /// The longest a write may wait, as smoltcp's own socket timeout.
    fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.timeouts.write_ms)
    }
}

/// The session clock: embassy's, in milliseconds since boot.
fn now() -> Instant {
    Instant::from_millis(embassy_time::Instant::now().as_millis())
}

/// Sleeps until the session's deadline `at`, or for ever.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => Timer::at(embassy_time::Instant::from_millis(at.as_millis())).await,
        None => core::future::pending().await,
    }
}

/// Serves one slot of `pool` forever: accept on `config.port` with a socket
/// on these buffers, serve the connection, close it, repeat. Spawn one task
/// per slot of the pool, each with its own buffers and its own
/// [`Pool::slot`].
///
/// ```no_run
/// use embassy_executor::Spawner;
/// use embassy_net::Stack;
/// use jframe_embassy_demo::device::{DeviceConfig, Pool, PoolSlot, serve_socket};
/// use jframe_embassy_demo::stats::device_service;
///
/// const SOCKETS: usize = 5;
/// static POOL: Pool<SOCKETS> = Pool::new();
///
/// #[embassy_executor::task(pool_size = SOCKETS)]
/// async fn serve(stack: Stack<'static>, slot: PoolSlot<'static>, config: &'static DeviceConfig) -> ! {
///     let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
///     serve_socket(stack, &mut rx, &mut tx, config, slot, device_service).await
/// }
///
/// /// Once the stack is up (its `StackResources` count all the sockets).
/// fn start(spawner: Spawner, stack: Stack<'static>, config: &'static DeviceConfig) {
///     for i in 0..SOCKETS {
///         spawner.spawn(serve(stack, POOL.slot(i), config).unwrap());
///     }
/// }
/// ```
pub async fn serve_socket<S: Service>(
    stack: Stack<'_>,
    rx_buffer: &mut [u8],
    tx_buffer: &mut [u8],
    config: &DeviceConfig,
    slot: PoolSlot<'_>,
    service: impl Fn() -> S,
) -> ! {
    loop {
        slot.set(SlotState::Down);
        let mut socket = TcpSocket::new(stack, &mut *rx_buffer, &mut *tx_buffer);
        // smoltcp's timeout covers unacknowledged data and connection setup;
        // idle and slow peers are bounded by the session's deadlines.
        socket.set_timeout(Some(config.write_timeout()));
        // Replies are written in pieces (head, chunks): Nagle would hold
        // each small tail until the peer's delayed ACK.
        socket.set_nagle_enabled(false);
        slot.arm();
        slot.wait_for_handshakes(config.write_timeout()).await;
        slot.set(SlotState::Listening);
        if let Err(e) = accept(&mut socket, config.port, slot).await {
            slot.set(SlotState::Down);
            warn!("device: accept on port {} failed: {:?}", config.port, e);
            drop(socket);
            Timer::after(ACCEPT_RETRY).await;
            continue;
        }
        // A connection that has not sent a byte is idle since it came.
        slot.set(SlotState::Idle(now()));
        let peer = socket.remote_endpoint();
        // This client may have taken the last listener: make room for the
        // next one by closing the connection idle longest, or, if every
        // connection is inside a frame, answer this one `busy`.
        if !slot.make_room() {
            debug!("device: pool full, {:?} answered busy", peer);
            stats::turned_away();
            slot.set(SlotState::Busy);
            answer_busy(&mut socket, config).await;
            continue;
        }
        debug!("device: connection from {:?}", peer);
        stats::connection();
        let end = serve_connection(&mut socket, config, Some(slot), service()).await;
        debug!("device: connection from {:?} ended: {:?}", peer, end);
        slot.set(SlotState::Down);
        let limit = match end {
            End::Evicted | End::Stopped => config.close_timeout.min(EVICT_LINGER),
            _ => config.close_timeout,
        };
        close(&mut socket, graceful(&end), limit, config.write_timeout()).await;
    }
}

/// `socket.accept(port)`, publishing the handshake (SYN-RECEIVED) in
/// `slot`'s state while it lasts, so that no other slot starts listening
/// in front of it (see [`Pool`]). A handshake that fails (reset, or timed
/// out) goes back to listening.
async fn accept(
    socket: &mut TcpSocket<'_>,
    port: u16,
    slot: PoolSlot<'_>,
) -> Result<(), AcceptError> {
    poll_fn(|cx| {
        let state = socket.state();
        if state == State::SynReceived {
            slot.set(SlotState::Handshake);
            // Pending in SYN-RECEIVED (nothing can be sent yet), and woken
            // by the socket's next change of state.
            let _ = pin!(socket.wait_write_ready()).poll(cx);
            return Poll::Pending;
        }
        if slot.state() == SlotState::Handshake {
            slot.handshake_over();
        }
        match state {
            // Listen (again, after a failed handshake) until a client comes.
            State::Closed | State::Listen | State::TimeWait => pin!(socket.accept(port)).poll(cx),
            _ => Poll::Ready(Ok(())),
        }
    })
    .await
}

/// Answers a client the pool has no room for through core's [`Refused`]:
/// a `busy` reply, then close.
async fn answer_busy(socket: &mut TcpSocket<'_>, config: &DeviceConfig) {
    let mut out = [0u8; 128];
    let busy = Refusal::text(Status::Busy, BUSY_MESSAGE);
    let write_ms = config.timeouts.write_ms;
    let sent = match Refused::new(&mut out, &busy, write_ms, 0, now()) {
        Ok(mut refused) => {
            while !refused.transmit().is_empty() && !refused.finished() {
                match select(
                    socket.write(refused.transmit()),
                    until(refused.poll_timeout()),
                )
                .await
                {
                    Either::First(Ok(n)) if n > 0 => refused.sent(n, now()),
                    Either::First(_) => refused.peer_closed(),
                    Either::Second(()) => refused.handle_timeout(now()),
                }
            }
            refused.transmit().is_empty()
        }
        Err(_) => false,
    };
    close(socket, sent, config.close_timeout, config.write_timeout()).await;
}

/// Whether a connection that ended this way is closed with a FIN (its
/// last replies, such as `bad_frame` or `Bye!`, already flushed, must
/// arrive) rather than reset.
fn graceful<E>(end: &End<E>) -> bool {
    !matches!(end, End::Io(_) | End::WriteZero)
}

/// Closes a served connection so that everything we sent arrives: FIN,
/// then wait (bounded) for the peer's FIN and for our FIN's ACK. A failed
/// connection, or one that does not close in time, is reset.
async fn close(socket: &mut TcpSocket<'_>, graceful: bool, limit: Duration, write: Duration) {
    if graceful {
        socket.close();
        let closed = with_timeout(limit, async {
            // Whatever the peer still sends (frames pipelined after `exit` or
            // a bad prefix) is discarded until its FIN.
            let mut sink = [0u8; 64];
            while let Ok(1..) = socket.read(&mut sink).await {}
            socket.flush().await
        })
        .await;
        if matches!(closed, Ok(Ok(()))) && matches!(socket.state(), State::Closed | State::TimeWait)
        {
            return;
        }
        // Not closed in time: before the reset, what we sent (a reply, a
        // `busy`) must be acknowledged, however many retransmissions a
        // lossy link takes, within the write timeout (smoltcp's own).
        let _ = with_timeout(write, socket.flush()).await;
    }
    socket.abort();
    let _ = with_timeout(ABORT_FLUSH, socket.flush()).await;
}

/// Serves jframe requests on one connection until it ends: a loop around
/// core's session, on the device's buffers, answering with `service`
/// ([`stats::device_service`] on this device, or yours). Generic over the
/// transport, so it runs on an embassy-net socket or any other
/// embedded-io-async stream. With a pool `slot`, the connection publishes
/// its idle state and makes room when a newcomer to a full pool evicts it.
///
/// ```
/// use jframe::service::End;
/// use jframe_embassy_demo::device::{DeviceConfig, serve_connection};
/// use jframe_embassy_demo::stats::device_service;
///
/// /// An in-memory transport: reads `input`, writes to `output`.
/// struct Pipe { input: Vec<u8>, output: Vec<u8> }
/// # impl embedded_io_async::ErrorType for Pipe { type Error = core::convert::Infallible; }
/// # impl embedded_io_async::Read for Pipe {
/// #     async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = buf.len().min(self.input.len());
/// #         buf[..n].copy_from_slice(&self.input[..n]);
/// #         self.input.drain(..n);
/// #         Ok(n)
/// #     }
/// # }
/// # impl embedded_io_async::Write for Pipe {
/// #     async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
/// #         self.output.extend_from_slice(buf);
/// #         Ok(buf.len())
/// #     }
/// #     async fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
///
/// let header = br#"{"data_size":5,"op":"upper"}"#;
/// let input = [&(header.len() as u32).to_le_bytes()[..], header, b"hello"].concat();
/// let mut pipe = Pipe { input, output: Vec::new() };
/// let config = DeviceConfig::default();
/// let end = futures_lite::future::block_on(serve_connection(
///     &mut pipe,
///     &config,
///     None,
///     device_service(),
/// ));
/// assert_eq!(end, End::PeerClosed);
/// assert!(pipe.output.ends_with(br#"{"data_size":5,"status":"ok"}HELLO"#));
/// ```
pub async fn serve_connection<T: Read + Write, S: Service>(
    io: &mut T,
    config: &DeviceConfig,
    slot: Option<PoolSlot<'_>>,
    service: S,
) -> End<T::Error> {
    let mut memory = Storage::<RX_BUF, FRAME_BUF, TX_BUF>::new();
    let mut session = Session::new(memory.buffers(), service, &config.session(), now());
    let evicted = || slot.is_some_and(|s| s.state() == SlotState::Evicted);
    let squeezed = || slot.is_some_and(|s| s.take_squeezed());
    loop {
        if evicted() {
            session.evict(now());
        } else if let Some(slot) = slot {
            slot.publish(session.idle_since());
        }
        if squeezed() {
            session.squeeze(now());
        }
        if let Some(end) = session.finished() {
            return end.into_io();
        }
        let deadline = until(session.poll_timeout());
        if !session.transmit().is_empty() {
            match select(io.write(session.transmit()), deadline).await {
                Either::First(Ok(0)) => return End::WriteZero,
                Either::First(Ok(n)) => {
                    stats::moved(0, n);
                    session.sent(n, now());
                }
                Either::First(Err(e)) => return End::Io(e),
                Either::Second(()) => session.handle_timeout(now()),
            }
            continue;
        }
        let wake = async {
            match slot {
                Some(slot) => slot.woken().await,
                None => core::future::pending().await,
            }
        };
        // The wake is polled first, so once evicted, the slot is freed.
        match select3(wake, io.read(session.receive_buffer()), deadline).await {
            Either3::First(()) => {} // evicted or squeezed: see the loop's top
            Either3::Second(Ok(0)) => session.peer_closed(now()),
            Either3::Second(Ok(n)) => {
                stats::moved(n, 0);
                session.received(n, now());
            }
            Either3::Second(Err(e)) => return End::Io(e),
            Either3::Third(()) => session.handle_timeout(now()),
        }
    }
}
