//! The device's echo service: jframe requests on TCP port 7.
//!
//! A thin driver around core's protocol engine
//! ([`jframe::service::engine::asynch::serve`]): everything SPEC says about
//! requests (which op, which status, `greet` of `exit`, replies never
//! answered, what is fatal) lives there. This module only does what is the
//! device's own:
//!
//! - [`serve_socket`] is one slot of the listening pool: it accepts one
//!   connection at a time on its own socket buffers, serves it and closes it
//!   properly. Firmware and the host simulator spawn several slots on the
//!   same port, because a single socket that re-accepts in a loop leaves a
//!   gap in which a reconnecting client is reset.
//! - [`Pool`] is what the slots share: each one's state (listening, idle
//!   between frames since when, busy in a frame). The pool keeps one socket
//!   spare: when a client takes the last listening socket, the connection
//!   idle longest between frames is closed so the next client finds a
//!   listener, and when no connection is idle the newcomer is answered
//!   `busy` at once. Silent peers cannot pin a full pool.
//! - [`Link`] puts the device's timeouts on a stream (SPEC: a slow peer
//!   cannot hold a connection slot for ever): between frames the idle
//!   timeout; from a frame's first byte, a header deadline; while a body
//!   arrives, a minimum rate (after a grace period); every write bounded by
//!   the idle timeout.
//!
//! Memory per connection is fixed: [`RX_BUF`] for socket reads,
//! [`FRAME_BUF`] for a header (and a body small enough to arrive whole),
//! [`TX_BUF`] for replies, plus the socket's own buffers. A body of any size
//! is streamed through them and never held whole.

use core::cell::Cell;

use embassy_futures::select::{Either, select};
use embassy_net::Stack;
use embassy_net::tcp::{State, TcpSocket};
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Instant, TICK_HZ, Timer, with_deadline, with_timeout};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use jframe::io::asynch::write_all;
use jframe::service::engine::asynch as engine;
use jframe::service::{Buffers, Builtin, Config, Deadlines, End, Limits, Phase};
use jframe::{Header, Status, encode_frame};

/// The TCP port of the echo service (RFC 862's echo port).
pub const ECHO_PORT: u16 = 7;
/// Socket reads land here.
pub const RX_BUF: usize = 256;
/// A frame that arrives in pieces is gathered here: its header (so this is
/// also the largest header the device can take) and a body that fits after
/// it; larger bodies are streamed.
pub const FRAME_BUF: usize = 256;
/// Replies are gathered here. It must hold the largest reply head: an error
/// reply with a 128-byte message is about 200 bytes.
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
pub struct EchoConfig {
    /// TCP port to listen on.
    pub port: u16,
    /// Idle limit: the longest wait for a peer's next bytes, or for it to
    /// take our reply, before the connection is given up.
    pub timeout: Duration,
    /// From a frame's first byte, how long its prefix and header may take.
    pub header_timeout: Duration,
    /// A body is given this long, plus the time its bytes take at
    /// [`body_min_rate`](Self::body_min_rate): a peer that sends slower
    /// than that is cut off. The deadline is cumulative (bytes since the
    /// body began), so a body that has kept the rate on average survives
    /// any stall shorter than the grace. The default grace equals the
    /// default idle timeout, so that a retransmission stall on a lossy link
    /// (smoltcp's RTO starts at 1 s and doubles) cannot cut a body that the
    /// socket's own 30 s timeout would not have cut anyway.
    pub body_grace: Duration,
    /// The slowest body, in bytes per second, a connection slot waits for
    /// (0: no rate, only the idle timeout per read).
    pub body_min_rate: u32,
    /// Largest header accepted (clamped to [`FRAME_BUF`]); a longer
    /// prefix is a `bad_frame` and ends the connection.
    pub max_header: u32,
    /// How long closing waits for the peer's FIN and its ACK of ours.
    pub close_timeout: Duration,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            port: ECHO_PORT,
            timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            body_grace: Duration::from_secs(30),
            body_min_rate: 256,
            max_header: DEFAULT_MAX_HEADER,
            close_timeout: Duration::from_secs(2),
        }
    }
}

/// What the device waited for when a timeout struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Wait {
    /// The next frame (idle timeout).
    Idle,
    /// The rest of a header (header deadline).
    Header,
    /// The rest of a body (minimum rate).
    Body,
    /// The peer to take our reply (idle timeout).
    Write,
}

/// A [`Link`]'s error: a timeout, or the stream's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkError<E> {
    /// A deadline passed.
    Timeout(Wait),
    /// The connection was idle between frames when a new client needed its
    /// slot ([`Pool`]).
    Evicted,
    /// The stream failed.
    Io(E),
}

impl<E: core::fmt::Debug> core::fmt::Display for LinkError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LinkError::Timeout(Wait::Idle) => f.write_str("idle timeout"),
            LinkError::Timeout(Wait::Header) => f.write_str("header deadline passed"),
            LinkError::Timeout(Wait::Body) => f.write_str("body slower than the minimum rate"),
            LinkError::Timeout(Wait::Write) => f.write_str("peer did not take our reply"),
            LinkError::Evicted => f.write_str("idle longest when a new client came to a full pool"),
            LinkError::Io(e) => write!(f, "{e:?}"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for LinkError<E> {}

impl<E: embedded_io_async::Error> embedded_io_async::Error for LinkError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            LinkError::Timeout(_) => ErrorKind::TimedOut,
            LinkError::Evicted => ErrorKind::ConnectionAborted,
            LinkError::Io(e) => e.kind(),
        }
    }
}

/// What one slot of a [`Pool`] is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Not listening and not serving (starting, or closing a connection).
    Down,
    /// Its socket is listening: the next client can land here.
    Listening,
    /// Serving a connection that is inside a frame or writing a reply.
    Busy,
    /// Serving a connection that has been idle between frames since then.
    Idle(Instant),
    /// Chosen to make room for a new client: closing.
    Evicted,
}

/// One slot's shared state.
struct SlotCell {
    state: Mutex<CriticalSectionRawMutex, Cell<SlotState>>,
    evict: Signal<CriticalSectionRawMutex, ()>,
}

impl core::fmt::Debug for SlotCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SlotCell").field(&self.get()).finish()
    }
}

impl SlotCell {
    const fn new() -> Self {
        SlotCell {
            state: Mutex::new(Cell::new(SlotState::Down)),
            evict: Signal::new(),
        }
    }

    fn get(&self) -> SlotState {
        self.state.lock(Cell::get)
    }

    fn set(&self, state: SlotState) {
        self.state.lock(|cell| cell.set(state));
    }
}

/// The listening pool of `N` sockets on one port: what its slots
/// ([`serve_socket`], one task each) share.
///
/// smoltcp answers a SYN that no listening socket takes with a reset, and
/// the device never learns of it, so the pool keeps one socket spare as its
/// way of seeing a new client: a client that takes the **last** listening
/// socket closes the connection that has been idle between frames longest
/// (it gets a FIN, as from a server ending an idle keep-alive), so a
/// listener is back within `EVICT_LINGER` (0.5 s); if every other connection is
/// inside a frame, the newcomer gets a `busy` reply at once and is closed.
/// So `N` sockets serve `N - 1` connections for sure, and silent peers
/// cannot pin the pool. `StackResources` must count all `N`.
#[derive(Debug)]
pub struct Pool<const N: usize> {
    slots: [SlotCell; N],
}

impl<const N: usize> Default for Pool<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Pool<N> {
    /// A pool whose slots are all down (a `static` is fine).
    pub const fn new() -> Self {
        Pool {
            slots: [const { SlotCell::new() }; N],
        }
    }

    /// Slot `index` (`0..N`), for one [`serve_socket`] task.
    ///
    /// # Panics
    ///
    /// If `index >= N`.
    pub fn slot(&self, index: usize) -> Slot<'_> {
        assert!(index < N, "slot {index} of a pool of {N}");
        Slot {
            all: &self.slots,
            me: index,
        }
    }
}

/// One slot of a [`Pool`].
#[derive(Debug, Clone, Copy)]
pub struct Slot<'p> {
    all: &'p [SlotCell],
    me: usize,
}

impl Slot<'_> {
    fn cell(&self) -> &SlotCell {
        &self.all[self.me]
    }

    fn state(&self) -> SlotState {
        self.cell().get()
    }

    fn set(&self, state: SlotState) {
        self.cell().set(state);
    }

    /// Whether another slot of the pool is listening.
    fn others_listening(&self) -> bool {
        self.all
            .iter()
            .enumerate()
            .any(|(i, c)| i != self.me && c.get() == SlotState::Listening)
    }

    /// Closes the connection idle longest between frames (not this slot's);
    /// false if no connection is idle.
    fn evict_longest_idle(&self) -> bool {
        let oldest = self
            .all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.me)
            .filter_map(|(i, c)| match c.get() {
                SlotState::Idle(since) => Some((since, i)),
                _ => None,
            })
            .min();
        match oldest {
            Some((_, i)) => {
                self.all[i].set(SlotState::Evicted);
                self.all[i].evict.signal(());
                true
            }
            None => false,
        }
    }
}

/// How a connection ended, as the engine reports it.
pub type Ended<E> = End<LinkError<E>>;

/// A stream with the device's deadlines: what the engine reads from and
/// writes to. The engine tells it the [`Phase`] before every read.
#[derive(Debug)]
pub struct Link<'a, S> {
    io: &'a mut S,
    config: &'a EchoConfig,
    phase: Phase,
    /// Header phase: its deadline. Body phase: when the body began.
    mark: Instant,
    /// Body bytes read since `mark`.
    body_bytes: u64,
    /// The pool slot this connection holds, told when it is idle (its
    /// state is the record of since when).
    slot: Option<Slot<'a>>,
}

impl<'a, S> Link<'a, S> {
    /// Wraps `io` with the timeouts of `config`.
    pub fn new(io: &'a mut S, config: &'a EchoConfig) -> Self {
        Link {
            io,
            config,
            phase: Phase::Idle,
            mark: Instant::now(),
            body_bytes: 0,
            slot: None,
        }
    }

    /// Wraps `io` for a connection that holds `slot` of a [`Pool`]: while
    /// it is idle between frames, a new client may take its place.
    pub fn in_slot(io: &'a mut S, config: &'a EchoConfig, slot: Slot<'a>) -> Self {
        let mut link = Link::new(io, config);
        link.slot = Some(slot);
        link
    }

    /// Whether this connection's slot was taken for a new client.
    fn evicted(&self) -> bool {
        self.slot.is_some_and(|s| s.state() == SlotState::Evicted)
    }

    /// Tells the slot whether the connection is idle between frames: a
    /// busy slot becomes idle since now, an idle one busy; an idle slot
    /// keeps its time, and an evicted one stays evicted.
    fn set_idle(&self, idle: bool) {
        let Some(slot) = self.slot else { return };
        slot.cell().state.lock(|cell| match (idle, cell.get()) {
            (true, SlotState::Busy) => cell.set(SlotState::Idle(Instant::now())),
            (false, SlotState::Idle(_)) => cell.set(SlotState::Busy),
            _ => {}
        });
    }

    /// When the read about to start must have delivered.
    fn read_deadline(&self) -> Instant {
        let idle = after(Instant::now(), self.config.timeout);
        match self.phase {
            Phase::Idle => idle,
            Phase::Header => self.mark.min(idle),
            Phase::Body => {
                let rate = u64::from(self.config.body_min_rate);
                if rate == 0 {
                    return idle;
                }
                let earned = Duration::from_ticks(self.body_bytes.saturating_mul(TICK_HZ) / rate);
                let body = after(after(self.mark, self.config.body_grace), earned);
                body.min(idle)
            }
        }
    }
}

/// `at + d`, saturating.
fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or(Instant::MAX)
}

impl<S> Deadlines for Link<'_, S> {
    fn before_read(&mut self, phase: Phase) -> bool {
        self.set_idle(phase == Phase::Idle);
        if self.evicted() {
            // Only honoured between frames; a frame is never cut short.
            return false;
        }
        if phase != self.phase {
            match phase {
                // The frame's first bytes arrived with the last read.
                Phase::Header => self.mark = after(Instant::now(), self.config.header_timeout),
                Phase::Body => {
                    self.mark = Instant::now();
                    self.body_bytes = 0;
                }
                Phase::Idle => {}
            }
            self.phase = phase;
        }
        true
    }
}

impl<S: ErrorType> ErrorType for Link<'_, S> {
    type Error = LinkError<S::Error>;
}

impl<S: Read> Read for Link<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let deadline = self.read_deadline();
        let read = with_deadline(deadline, self.io.read(buf));
        let result = match (self.phase, self.slot) {
            // Idle between frames: a new client may take this slot. The
            // eviction is polled first, so once chosen, the slot is freed.
            (Phase::Idle, Some(slot)) => match select(slot.cell().evict.wait(), read).await {
                Either::First(()) => return Err(LinkError::Evicted),
                Either::Second(result) => result,
            },
            _ => read.await,
        };
        match result {
            Ok(Ok(n)) => {
                match self.phase {
                    Phase::Body => self.body_bytes = self.body_bytes.saturating_add(n as u64),
                    // A frame has begun: no longer idle.
                    Phase::Idle if n > 0 => self.set_idle(false),
                    _ => {}
                }
                Ok(n)
            }
            Ok(Err(e)) => Err(LinkError::Io(e)),
            Err(_) => Err(LinkError::Timeout(match self.phase {
                Phase::Idle => Wait::Idle,
                Phase::Header => Wait::Header,
                Phase::Body => Wait::Body,
            })),
        }
    }
}

impl<S: Write> Write for Link<'_, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        match with_timeout(self.config.timeout, self.io.write(buf)).await {
            Ok(result) => result.map_err(LinkError::Io),
            Err(_) => Err(LinkError::Timeout(Wait::Write)),
        }
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        match with_timeout(self.config.timeout, self.io.flush()).await {
            Ok(result) => result.map_err(LinkError::Io),
            Err(_) => Err(LinkError::Timeout(Wait::Write)),
        }
    }
}

/// Serves one slot of `pool` forever: accept on `config.port` with a socket
/// on these buffers, serve the connection, close it, repeat. Spawn one task
/// per slot of the pool, each with its own buffers and its own
/// [`Pool::slot`].
pub async fn serve_socket(
    stack: Stack<'_>,
    rx_buffer: &mut [u8],
    tx_buffer: &mut [u8],
    config: &EchoConfig,
    slot: Slot<'_>,
) -> ! {
    loop {
        slot.set(SlotState::Down);
        let mut socket = TcpSocket::new(stack, &mut *rx_buffer, &mut *tx_buffer);
        // smoltcp's timeout covers unacknowledged data and connection setup;
        // idle and slow peers are bounded by the Link's deadlines.
        socket.set_timeout(Some(config.timeout));
        // Replies are written in pieces (head, chunks): Nagle would hold
        // each small tail until the peer's delayed ACK.
        socket.set_nagle_enabled(false);
        slot.cell().evict.reset();
        slot.set(SlotState::Listening);
        if let Err(e) = socket.accept(config.port).await {
            slot.set(SlotState::Down);
            jlog!(warn, "echo: accept on port {} failed: {:?}", config.port, e);
            drop(socket);
            Timer::after(ACCEPT_RETRY).await;
            continue;
        }
        slot.set(SlotState::Busy);
        let peer = socket.remote_endpoint();
        // This client took the last listener: make room for the next one
        // by closing the connection idle longest, or, if every connection
        // is inside a frame, answer this one `busy`.
        if !slot.others_listening() && !slot.evict_longest_idle() {
            jlog!(debug, "echo: pool full, {:?} answered busy", peer);
            refuse(&mut socket, config).await;
            continue;
        }
        jlog!(debug, "echo: connection from {:?}", peer);
        let end = serve(&mut Link::in_slot(&mut socket, config, slot), config).await;
        jlog!(debug, "echo: connection from {:?} ended: {:?}", peer, end);
        slot.set(SlotState::Down);
        let limit = match end {
            End::Io(LinkError::Evicted) | End::Stopped => config.close_timeout.min(EVICT_LINGER),
            _ => config.close_timeout,
        };
        close(&mut socket, graceful(&end), limit).await;
    }
}

/// Answers a client the pool has no room for: a `busy` reply, then close.
async fn refuse(socket: &mut TcpSocket<'_>, config: &EchoConfig) {
    let mut out = [0u8; 128];
    let header = Header::error_reply(Status::Busy, BUSY_MESSAGE);
    let sent = match encode_frame(&mut out, &header, &[]) {
        Ok(n) => matches!(
            with_timeout(config.timeout, write_all(socket, &out[..n])).await,
            Ok(Ok(()))
        ),
        Err(_) => false,
    };
    close(socket, sent, config.close_timeout).await;
}

/// Whether a connection that ended this way is closed with a FIN (its
/// last replies, such as `bad_frame` or `Bye!`, already flushed by the
/// engine, must arrive) rather than reset.
fn graceful<E>(end: &Ended<E>) -> bool {
    !matches!(end, End::Io(LinkError::Io(_)) | End::WriteZero)
}

/// Closes a served connection so that everything we sent arrives: FIN,
/// then wait (bounded) for the peer's FIN and for our FIN's ACK. A failed
/// connection, or one that does not close in time, is reset.
async fn close(socket: &mut TcpSocket<'_>, graceful: bool, limit: Duration) {
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
    }
    socket.abort();
    let _ = with_timeout(ABORT_FLUSH, socket.flush()).await;
}

/// Serves jframe requests on one connection until it ends: core's engine
/// over a [`Link`]. Generic over the transport, so it runs on an
/// embassy-net socket or any other embedded-io-async stream.
pub async fn serve_connection<S: Read + Write>(io: &mut S, config: &EchoConfig) -> Ended<S::Error> {
    serve(&mut Link::new(io, config), config).await
}

/// The engine over `link`, with the device's buffers.
async fn serve<S: Read + Write>(link: &mut Link<'_, S>, config: &EchoConfig) -> Ended<S::Error> {
    let mut rx = [0u8; RX_BUF];
    let mut frame = [0u8; FRAME_BUF];
    let mut tx = [0u8; TX_BUF];
    let buffers = Buffers {
        rx: &mut rx,
        frame: &mut frame,
        tx: &mut tx,
    };
    let session = Config {
        limits: Limits {
            max_header: config.max_header,
            max_body: u64::MAX,
        },
        welcome: None,
    };
    engine::serve(link, buffers, &mut Builtin, &session).await
}
