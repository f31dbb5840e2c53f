//! The sans-IO session: one connection's whole protocol, with no I/O and
//! no clock of its own (quinn-proto's `Connection`, smoltcp's
//! `poll(timestamp)`).
//!
//! Bytes and the current time go in; bytes to write, the next deadline and
//! how the session ended come out:
//!
//! - the driver reads into [`Session::receive_buffer`] and reports
//!   [`Session::received`] (or [`Session::peer_closed`]);
//! - it writes [`Session::transmit`] and reports [`Session::sent`];
//! - it sleeps until [`Session::poll_timeout`] and then calls
//!   [`Session::handle_timeout`];
//! - it stops when [`Session::finished`] says how the session ended, and
//!   closes the connection.
//!
//! Everything SPEC says happens here: requests answered in order by
//! [`plan`], replies never answered, fatal versus recoverable errors,
//! limits, `greet` of `exit`, a welcome, the deadlines of [`super::time`].
//! A pipelined batch is answered into one [`Session::transmit`], and a body
//! of any size streams through the fixed buffers: the session takes input
//! only while it has room for what that input produces, so a peer that
//! does not read its replies stops being read (backpressure) rather than
//! being buffered.
//!
//! # A complete driver
//!
//! A blocking driver over a std `TcpStream` needs nothing from jframe but
//! the session:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//! use jframe::service::{Buffers, Config, Demo, End, Instant, Session, Timeouts};
//!
//! fn serve(mut stream: TcpStream) -> std::io::Result<End> {
//!     let epoch = std::time::Instant::now();
//!     let now = || Instant::from_millis(epoch.elapsed().as_millis() as u64);
//!     // How long a socket call may block: until the session's next deadline.
//!     let wait = |at: Option<Instant>, now: Instant| {
//!         at.map(|at| Duration::from_millis(at.since(now).max(1)))
//!     };
//!     let (mut rx, mut frame, mut tx) = ([0u8; 4096], [0u8; 4096], [0u8; 4096]);
//!     let buffers = Buffers { rx: &mut rx, frame: &mut frame, tx: &mut tx };
//!     let config = Config { timeouts: Timeouts::SERVER, ..Config::default() };
//!     let mut session = Session::new(buffers, Demo::new(), &config, now());
//!     loop {
//!         if let Some(end) = session.finished() {
//!             return Ok(end);
//!         }
//!         let (result, writing) = if !session.transmit().is_empty() {
//!             stream.set_write_timeout(wait(session.poll_timeout(), now()))?;
//!             (stream.write(session.transmit()), true)
//!         } else {
//!             stream.set_read_timeout(wait(session.poll_timeout(), now()))?;
//!             (stream.read(session.receive_buffer()), false)
//!         };
//!         match result {
//!             Ok(n) if writing => session.sent(n, now()),
//!             Ok(0) => session.peer_closed(now()),
//!             Ok(n) => session.received(n, now()),
//!             Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                 session.handle_timeout(now())
//!             }
//!             Err(e) if e.kind() == ErrorKind::Interrupted => {}
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//!
//! let listener = TcpListener::bind("127.0.0.1:9000")?;
//! for stream in listener.incoming() {
//!     std::thread::spawn(move || serve(stream?));
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::decoder::{DecodeError, Decoder, Event};
use crate::encoder::{EncodeError, encode_reply_head};
use crate::header::Status;

use super::api::{Service, Source, SourceError};
use super::request::{Limits, Plan, Refusal, collect_whole, finished, is_exit, plan};
use super::time::{Clock, Deadline, Instant, Phase, Timeouts};
use super::transform::{GREET_BYE, Transform};

/// Room the reply buffer must have before the session takes up the next
/// frame: the largest reply head a refusal, a built-in or the welcome
/// writes. A refusal whose head (with its message) is longer goes out as
/// the bare status, on every transport alike.
pub const HEAD_RESERVE: usize = 200;

/// The longest `ok` head: prefix, `{"data_size":<20 digits>,"status":"ok"}`
/// and the welcome mark.
const OK_HEAD_MAX: usize = 72;

/// What greet adds to a body (`Hello, ` and `!`), at most.
const GREET_EXTRA: usize = 8;

/// Settings of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config<'a> {
    /// Header and body limits.
    pub limits: Limits,
    /// The deadlines (SPEC: a slow peer cannot hold a slot for ever).
    pub timeouts: Timeouts,
    /// Sent as an `ok` frame marked `"welcome": true` when the session
    /// starts (seed 001's `Welcome!`).
    pub welcome: Option<&'a [u8]>,
}

/// The buffers a session works in.
#[derive(Debug)]
pub struct Buffers<'b> {
    /// Socket reads land here ([`Session::receive_buffer`]).
    pub rx: &'b mut [u8],
    /// A frame that arrives in pieces is gathered here: its header (so this
    /// is also the largest header the session takes) and a body that fits
    /// after it; larger bodies stream.
    pub frame: &'b mut [u8],
    /// Replies are gathered here ([`Session::transmit`]); at least
    /// [`HEAD_RESERVE`] bytes, more to batch pipelined replies.
    pub tx: &'b mut [u8],
}

/// How a session ended. `E` is a transport's error, for the one-call
/// drivers of [`super::engine`]; a [`Session`] itself never fails on I/O
/// (its `End` is `End<Infallible>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum End<E = core::convert::Infallible> {
    /// The peer closed between frames.
    PeerClosed,
    /// A `greet` of `exit` was answered with `Bye!`.
    Bye,
    /// The driver asked to stop ([`Session::stop`]), and the session
    /// stopped between frames.
    Stopped,
    /// The session was chosen to make room for a newcomer to a full server
    /// ([`Session::evict`]), and stopped between frames.
    Evicted,
    /// The peer sent a reply (a frame with `status`): never answered, the
    /// connection is closed (SPEC).
    ReplyReceived,
    /// A fatal error: `bad_frame` was sent and the connection is closed.
    BadFrame(DecodeError),
    /// The peer closed in the middle of a frame.
    Truncated,
    /// A deadline passed.
    TimedOut(Deadline),
    /// A service's reply body failed part-way: the reply cannot be
    /// completed, so the connection is closed.
    Source(SourceError),
    /// A reply could not be encoded (the `tx` buffer is too small).
    Encode(EncodeError),
    /// The transport failed.
    Io(E),
    /// The transport accepted zero bytes.
    WriteZero,
}

impl<E> End<E> {
    /// Whether the session ended the way the protocol lets it end (the
    /// peer left, `Bye!`, a stop or an eviction between frames), not on an
    /// error or a deadline.
    pub fn is_clean(&self) -> bool {
        matches!(
            self,
            End::PeerClosed | End::Bye | End::Stopped | End::Evicted
        )
    }

    /// The same end, for a transport whose error is `F`.
    pub fn map_io<F>(self, f: impl FnOnce(E) -> F) -> End<F> {
        match self {
            End::PeerClosed => End::PeerClosed,
            End::Bye => End::Bye,
            End::Stopped => End::Stopped,
            End::Evicted => End::Evicted,
            End::ReplyReceived => End::ReplyReceived,
            End::BadFrame(e) => End::BadFrame(e),
            End::Truncated => End::Truncated,
            End::TimedOut(d) => End::TimedOut(d),
            End::Source(e) => End::Source(e),
            End::Encode(e) => End::Encode(e),
            End::Io(e) => End::Io(f(e)),
            End::WriteZero => End::WriteZero,
        }
    }
}

impl End {
    /// A session's end, for a transport whose error is `E`.
    pub fn into_io<E>(self) -> End<E> {
        self.map_io(|never| match never {})
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for End<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            End::PeerClosed => f.write_str("peer closed"),
            End::Bye => f.write_str("greet exit: Bye!"),
            End::Stopped => f.write_str("stopped between frames"),
            End::Evicted => f.write_str("idle longest when a newcomer needed the slot"),
            End::ReplyReceived => f.write_str("peer sent a reply to a server; closed"),
            End::BadFrame(e) => write!(f, "bad frame: {e}"),
            End::Truncated => f.write_str("peer closed in the middle of a frame"),
            End::TimedOut(d) => f.write_str(d.as_str()),
            End::Source(e) => write!(f, "{e}"),
            End::Encode(e) => write!(f, "{e}"),
            End::Io(e) => write!(f, "transport failed: {e:?}"),
            End::WriteZero => f.write_str("transport accepted zero bytes"),
        }
    }
}

/// What the session is producing or consuming beyond the decoder's own
/// state. Only the states that can happen: each is entered from one plan.
#[derive(Debug)]
enum Work<'b, S> {
    /// Nothing beyond the decoder: between frames, in a header, or skipping.
    None,
    /// A built-in transform's body, chunk by chunk into the reply.
    Stream(Transform),
    /// The service collects the body.
    Collect,
    /// A greet body of `exit`'s length, held until it is all there.
    Exit { got: [u8; 4], len: u8 },
    /// A service's reply: its head (once written), then its body pulled
    /// as room allows.
    Source { source: S, head: bool, left: u64 },
    /// The rest of the welcome's body.
    Welcome(&'b [u8]),
}

/// Reply bytes gathered in `tx`: `buf[sent..len]` are still to be written.
#[derive(Debug)]
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
    sent: usize,
}

impl Out<'_> {
    fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    fn free(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(self.sent..self.len).unwrap_or_default()
    }

    /// Appends `data`, transformed; returns how much fitted.
    fn put(&mut self, data: &[u8], transform: Option<Transform>) -> usize {
        let n = data.len().min(self.room());
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + n), data.get(..n)) {
            crate::copy::copy(dst, src);
            if let Some(t) = transform {
                t.apply(dst);
            }
        }
        self.len += n;
        n
    }

    fn ok_head(&mut self, size: u64) -> Result<(), EncodeError> {
        let n = encode_reply_head(self.free(), Status::Ok, size, None)?;
        self.len += n;
        Ok(())
    }

    /// Appends `data`, transformed by `t`, or by the service's own map for
    /// [`Transform::Map`].
    fn put_transformed<X: Service>(&mut self, data: &[u8], t: Transform, service: &mut X) {
        let at = self.len;
        if t == Transform::Map {
            self.put(data, None);
            if let Some(dst) = self.buf.get_mut(at..self.len) {
                service.map(dst);
            }
        } else {
            self.put(data, Some(t));
        }
    }

    /// A transformed reply: head, prefix, body transformed, suffix. The
    /// caller made room for it.
    fn reply<X: Service>(
        &mut self,
        t: Transform,
        size: u64,
        body: &[u8],
        service: &mut X,
    ) -> Result<(), EncodeError> {
        self.ok_head(size)?;
        self.put(t.prefix(), None);
        self.put_transformed(body, t, service);
        self.put(t.suffix(), None);
        Ok(())
    }

    /// An error reply with its message if its head fits [`HEAD_RESERVE`],
    /// else the bare status: a refusal never becomes a disconnect, and the
    /// choice never depends on how full the buffer happens to be.
    fn refusal(&mut self, r: &Refusal) -> Result<(), EncodeError> {
        let free = self.buf.get_mut(self.len..).unwrap_or_default();
        let within = free.len().min(HEAD_RESERVE);
        let n = match free.get_mut(..within) {
            Some(area) => match encode_reply_head(area, r.status, 0, Some(&r.message)) {
                Ok(n) => n,
                Err(_) => encode_reply_head(area, r.status, 0, None)?,
            },
            None => return Err(EncodeError::BufferTooSmall),
        };
        self.len += n;
        Ok(())
    }

    fn welcome_head(&mut self, size: u64) -> Result<(), EncodeError> {
        let n = crate::encoder::encode_welcome_head(self.free(), size)?;
        self.len += n;
        Ok(())
    }
}

/// What the session must do once an event's borrow of the decoder has
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Continue,
    /// Skip the rest of the body.
    SkipBody,
    /// The collected body is complete: ask the service to finish.
    Finish,
}

/// One connection's protocol state; see the [module docs](self).
#[derive(Debug)]
pub struct Session<'b, X: Service> {
    service: X,
    limits: Limits,
    decoder: Decoder<&'b mut [u8], X::Header>,
    rx: &'b mut [u8],
    rx_start: usize,
    rx_end: usize,
    out: Out<'b>,
    work: Work<'b, X::Source>,
    /// The one refusal of the session, reused for every error reply.
    refusal: Refusal,
    clock: Clock,
    /// Headers completed so far (frames begun and decided), for the clocks.
    heads: u32,
    peer_closed: bool,
    /// [`End::Stopped`] or [`End::Evicted`], once asked.
    stopping: Option<End>,
    end: Option<End>,
    /// Pending replies were given up (the write deadline passed).
    abandoned: bool,
}

impl<'b, X: Service> Session<'b, X> {
    /// A session starting `now`, writing the welcome (if any) at once.
    pub fn new(buffers: Buffers<'b>, service: X, config: &Config<'b>, now: Instant) -> Self {
        let clock = Clock::new(config.timeouts, now);
        let mut session = Session::with(buffers, service, config.limits, clock, 0);
        // (No let chain: the core builds with Rust 1.87.)
        if let (None, Some(welcome)) = (session.end, config.welcome) {
            match session.out.welcome_head(welcome.len() as u64) {
                Ok(()) => session.work = Work::Welcome(welcome),
                Err(e) => session.end = Some(End::Encode(e)),
            }
        }
        session.advance(now);
        session
    }

    /// A session on these buffers, in these clocks (new, or resumed).
    fn with(buffers: Buffers<'b>, service: X, limits: Limits, clock: Clock, heads: u32) -> Self {
        let Buffers { rx, frame, tx } = buffers;
        let too_small = tx.len() < HEAD_RESERVE;
        Session {
            service,
            limits,
            decoder: Decoder::with_header(frame, X::Header::default())
                .with_max_header(limits.max_header)
                .streaming(true),
            rx,
            rx_start: 0,
            rx_end: 0,
            out: Out {
                buf: tx,
                len: 0,
                sent: 0,
            },
            work: Work::None,
            refusal: Refusal::text(Status::Error, ""),
            clock,
            heads,
            peer_closed: false,
            stopping: None,
            end: too_small.then_some(End::Encode(EncodeError::BufferTooSmall)),
            abandoned: false,
        }
    }

    /// Where the driver reads the peer's next bytes; empty while the
    /// session takes no input (its replies are unsent and its buffer still
    /// holds input it has no room to answer, or it has ended).
    pub fn receive_buffer(&mut self) -> &mut [u8] {
        if !self.wants_input() {
            return &mut [];
        }
        self.rx.get_mut(self.rx_end..).unwrap_or_default()
    }

    /// Whether the session takes input now.
    pub fn wants_input(&self) -> bool {
        self.end.is_none()
            && !self.peer_closed
            && self.rx_start >= self.rx_end
            && !(self.stopping.is_some() && self.at_frame_boundary())
    }

    /// `n` bytes were read into [`Self::receive_buffer`] at `now`.
    pub fn received(&mut self, n: usize, now: Instant) {
        if n == 0 || !self.wants_input() {
            return;
        }
        self.rx_end = self.rx_end.saturating_add(n).min(self.rx.len());
        self.clock.read(now);
        self.advance(now);
    }

    /// The peer closed its side at `now` (a read returned 0).
    pub fn peer_closed(&mut self, now: Instant) {
        self.peer_closed = true;
        self.advance(now);
    }

    /// The bytes to write next.
    pub fn transmit(&self) -> &[u8] {
        if self.abandoned {
            return &[];
        }
        self.out.pending()
    }

    /// `n` bytes of [`Self::transmit`] were written at `now`.
    pub fn sent(&mut self, n: usize, now: Instant) {
        if n == 0 {
            return;
        }
        self.out.sent = self.out.sent.saturating_add(n).min(self.out.len);
        if self.out.sent >= self.out.len {
            self.out.sent = 0;
            self.out.len = 0;
        }
        self.clock.wrote(now);
        self.advance(now);
    }

    /// When the driver must call [`Self::handle_timeout`] at the latest, if
    /// ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline().map(|(at, _)| at)
    }

    /// Acts on the deadline, if it has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some((at, which)) = self.deadline() else {
            return;
        };
        if now < at {
            return;
        }
        if which == Deadline::Write {
            self.abandoned = true;
        }
        if self.end.is_none() {
            self.close(End::TimedOut(which));
        }
    }

    /// Asks the session to stop (a server shutting down): it answers every
    /// frame already received (and finishes one that has begun), then ends
    /// with [`End::Stopped`] between frames.
    pub fn stop(&mut self, now: Instant) {
        self.stopping.get_or_insert(End::Stopped);
        self.advance(now);
    }

    /// As [`Self::stop`], ending with [`End::Evicted`]: the server is full
    /// and this session, idle longest, makes room for a newcomer. Its last
    /// frame is a `busy` refusal: a request that crossed the close on the
    /// wire gets that answer (SPEC: a reply, `busy`, or a clean close, never
    /// a silent cut), and a peer with nothing in flight reads it as the
    /// answer to its next request.
    pub fn evict(&mut self, now: Instant) {
        self.stopping.get_or_insert(End::Evicted);
        self.advance(now);
    }

    /// The server is full and this session is inside a body: its body
    /// loses the grace before the minimum rate applies, so that bodies
    /// trickled below the rate cannot keep newcomers at `busy` for the
    /// length of a grace meant for a lossy link.
    pub fn squeeze(&mut self, now: Instant) {
        self.clock.squeeze();
        self.advance(now);
    }

    /// Since when the session has waited between frames with nothing to
    /// send (since it began, for a peer that never sent a byte); `None`
    /// while it is busy. A full server evicts the session idle longest.
    pub fn idle_since(&self) -> Option<Instant> {
        if self.end.is_some() || !self.between_frames() || self.rx_start < self.rx_end {
            return None;
        }
        self.clock.idle_since()
    }

    /// How the session ended, once the driver has nothing more to do but
    /// close: the end is known and every reply is written (or given up).
    pub fn finished(&self) -> Option<End> {
        match self.end {
            Some(end) if self.transmit().is_empty() => Some(end),
            _ => None,
        }
    }

    /// How the session ended (or is ending, while its last replies go
    /// out).
    pub fn end(&self) -> Option<End> {
        self.end
    }

    /// The service.
    pub fn service(&mut self) -> &mut X {
        &mut self.service
    }

    /// Parks a session that waits between frames with nothing to send: its
    /// buffers are free for another connection until [`Parked::resume`],
    /// and nothing is lost (no partial frame, no unsent reply, the same
    /// clocks). A session that is not idle comes back as the error.
    #[allow(clippy::result_large_err)] // the session itself, unchanged
    pub fn park(self) -> Result<Parked<X>, Self> {
        if self.idle_since().is_none() || self.peer_closed || self.stopping.is_some() {
            return Err(self);
        }
        Ok(Parked {
            service: self.service,
            limits: self.limits,
            clock: self.clock,
            heads: self.heads,
        })
    }

    /// Whether no frame is in progress and no reply is being produced.
    fn at_frame_boundary(&self) -> bool {
        matches!(self.work, Work::None) && self.decoder.is_idle()
    }

    /// Whether nothing is in progress: no partial frame, nothing to send.
    fn between_frames(&self) -> bool {
        self.at_frame_boundary() && self.out.len == 0
    }

    fn deadline(&self) -> Option<(Instant, Deadline)> {
        if self.abandoned {
            return None;
        }
        if self.end.is_some() {
            // Only the last replies' write deadline is left.
            return self.clock.next(false);
        }
        self.clock.next(self.wants_input())
    }

    fn phase(&self) -> Phase {
        let replying = matches!(
            self.work,
            Work::None | Work::Source { .. } | Work::Welcome(_)
        );
        if self.decoder.is_idle() && replying {
            Phase::Idle
        } else if self.decoder.is_in_header() {
            Phase::Header
        } else {
            Phase::Body
        }
    }

    /// Ends the session: a service collecting a body lets it go.
    fn close(&mut self, end: End) {
        if matches!(self.work, Work::Collect) {
            self.service.abandon();
        }
        self.work = Work::None;
        self.end = Some(end);
    }

    /// Does all the work the input and the room allow.
    fn advance(&mut self, now: Instant) {
        let heads = self.heads;
        loop {
            if self.end.is_some() || !self.produce() {
                break;
            }
            if self.rx_start >= self.rx_end {
                self.rx_start = 0;
                self.rx_end = 0;
                if self.at_frame_boundary() {
                    if let Some(end) = self.stopping {
                        if end == End::Evicted {
                            if self.out.room() < HEAD_RESERVE {
                                break; // once the replies before are out
                            }
                            let busy = Refusal::text(
                                Status::Busy,
                                "the server is full: this idle connection makes room; try again",
                            );
                            if let Err(e) = self.out.refusal(&busy) {
                                self.close(End::Encode(e));
                                break;
                            }
                        }
                        self.close(end);
                    } else if self.peer_closed {
                        self.close(End::PeerClosed);
                    }
                } else if self.peer_closed {
                    // `produce` is done with any reply body, so a frame is
                    // left half-received.
                    self.close(End::Truncated);
                }
                break;
            }
            let room = self.out.room();
            let limit = match self.work {
                Work::Stream(t) => room.saturating_sub(t.suffix().len()),
                _ if room >= HEAD_RESERVE => usize::MAX,
                _ => 0,
            };
            if limit == 0 {
                break;
            }
            if matches!(self.work, Work::None) {
                // A body is held whole only if its reply fits the room
                // left; larger ones stream, with backpressure.
                let hold = room.saturating_sub(OK_HEAD_MAX + GREET_EXTRA);
                self.decoder.set_max_body(hold as u64);
            }
            if !self.step(limit) {
                break;
            }
        }
        let phase = self.phase();
        self.clock.enter(phase, self.heads != heads, now);
        let pending = !self.transmit().is_empty()
            || matches!(self.work, Work::Source { .. } | Work::Welcome(_));
        self.clock.output(pending, now);
    }

    /// Feeds the decoder at most `limit` bytes of input and acts on what it
    /// reports; false when the session has ended.
    fn step(&mut self, limit: usize) -> bool {
        let in_body = self.phase() == Phase::Body;
        let stop = self.rx_end.min(self.rx_start.saturating_add(limit));
        let Session {
            service,
            limits,
            decoder,
            rx,
            rx_start,
            out,
            work,
            refusal,
            heads,
            ..
        } = self;
        let input = rx.get(*rx_start..stop).unwrap_or_default();
        let (used, event) = decoder.feed(input);
        *rx_start += used;
        if in_body {
            self.clock.body(used);
        }
        let mut answer = Responder {
            service,
            limits,
            out,
            work,
            refusal,
        };
        let result = match event {
            Ok(Event::NeedMore) => Ok(After::Continue),
            Ok(Event::Frame(frame)) => {
                *heads = heads.wrapping_add(1);
                answer.whole(frame.header, frame.body)
            }
            Ok(Event::Head(head)) => {
                *heads = heads.wrapping_add(1);
                answer.head(head.header)
            }
            Ok(Event::BodyChunk { data, remaining }) => answer.chunk(data, remaining),
            Err(e) => {
                *heads = heads.wrapping_add(1);
                *answer.refusal = Refusal::from(e);
                answer.service.replied(e.status(), 0);
                match answer.out.refusal(answer.refusal) {
                    Err(enc) => Err(End::Encode(enc)),
                    Ok(()) if e.is_recoverable() => Ok(After::Continue),
                    Ok(()) => Err(End::BadFrame(e)),
                }
            }
        };
        match result {
            Ok(After::Continue) => true,
            Ok(After::SkipBody) => {
                self.decoder.skip_body();
                true
            }
            Ok(After::Finish) => {
                let claim = self.service.finish(self.decoder.header());
                match finished(claim, &mut self.refusal) {
                    Some(source) => {
                        let left = source.data_size();
                        self.work = Work::Source {
                            source,
                            head: false,
                            left,
                        };
                        true
                    }
                    None => match self.out.refusal(&self.refusal) {
                        Ok(()) => {
                            self.service.replied(self.refusal.status, 0);
                            true
                        }
                        Err(e) => {
                            self.close(End::Encode(e));
                            false
                        }
                    },
                }
            }
            Err(end) => {
                self.close(end);
                false
            }
        }
    }

    /// Pulls what a pending reply body can give into the room left; false
    /// while it waits for room (or the session ended).
    fn produce(&mut self) -> bool {
        match &mut self.work {
            Work::Welcome(rest) => {
                let n = self.out.put(rest, None);
                *rest = rest.get(n..).unwrap_or_default();
                if !rest.is_empty() {
                    return false;
                }
                self.work = Work::None;
                true
            }
            Work::Source { source, head, left } => {
                if !*head {
                    match source.encode_head(self.out.free()) {
                        Ok(n) => {
                            self.out.len += n;
                            *head = true;
                            self.service.replied(source.status(), source.data_size());
                        }
                        Err(EncodeError::BufferTooSmall) if self.out.len > 0 => return false,
                        Err(e) => {
                            self.close(End::Encode(e));
                            return false;
                        }
                    }
                }
                while *left > 0 {
                    let room = self
                        .out
                        .room()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    if room == 0 {
                        return false;
                    }
                    let free = self.out.free();
                    let n = match source.fill(free.get_mut(..room).unwrap_or_default()) {
                        Ok(0) | Err(_) => {
                            self.close(End::Source(SourceError));
                            return false;
                        }
                        Ok(n) => n.min(room),
                    };
                    self.out.len += n;
                    *left -= n as u64;
                }
                self.work = Work::None;
                true
            }
            _ => true,
        }
    }
}

/// The parts of a session that answer one event.
struct Responder<'s, 'b, X: Service> {
    service: &'s mut X,
    limits: &'s Limits,
    out: &'s mut Out<'b>,
    work: &'s mut Work<'b, X::Source>,
    refusal: &'s mut Refusal,
}

impl<X: Service> Responder<'_, '_, X> {
    fn refuse(&mut self) -> Result<After, End> {
        self.out.refusal(self.refusal).map_err(End::Encode)?;
        self.service.replied(self.refusal.status, 0);
        Ok(After::Continue)
    }

    /// A request whose body arrived whole (it fits the room: see `advance`).
    fn whole(&mut self, header: &X::Header, body: &[u8]) -> Result<After, End> {
        let planned = plan(header, Some(body), self.limits, self.service, self.refusal);
        match planned {
            Plan::Transform {
                transform,
                reply_size,
            } => {
                self.out
                    .reply(transform, reply_size, body, self.service)
                    .map_err(End::Encode)?;
                self.service.replied(Status::Ok, reply_size);
            }
            Plan::MaybeExit => self.exit_or_greet(body)?,
            Plan::Reply(source) => self.source(source),
            Plan::Collect => match collect_whole(self.service, header, body, self.refusal) {
                Some(source) => self.source(source),
                None => return self.refuse(),
            },
            Plan::Refuse => return self.refuse(),
            Plan::Ignore => return Err(End::ReplyReceived),
        }
        Ok(After::Continue)
    }

    /// A request whose body follows in chunks.
    fn head(&mut self, header: &X::Header) -> Result<After, End> {
        match plan(header, None, self.limits, self.service, self.refusal) {
            Plan::Transform {
                transform,
                reply_size,
            } => {
                self.out.ok_head(reply_size).map_err(End::Encode)?;
                self.service.replied(Status::Ok, reply_size);
                self.out.put(transform.prefix(), None);
                // A body of 0 bytes arrives whole: this one has chunks.
                *self.work = Work::Stream(transform);
                Ok(After::Continue)
            }
            Plan::MaybeExit => {
                *self.work = Work::Exit {
                    got: [0; 4],
                    len: 0,
                };
                Ok(After::Continue)
            }
            Plan::Reply(source) => {
                self.source(source);
                Ok(After::SkipBody)
            }
            Plan::Collect => {
                *self.work = Work::Collect;
                Ok(After::Continue)
            }
            Plan::Refuse => {
                self.refuse()?;
                Ok(After::SkipBody)
            }
            Plan::Ignore => Err(End::ReplyReceived),
        }
    }

    /// The next piece of a streamed body.
    fn chunk(&mut self, data: &[u8], remaining: u64) -> Result<After, End> {
        match self.work {
            Work::Stream(t) => {
                // `advance` fed no more than the room takes.
                self.out.put_transformed(data, *t, self.service);
                if remaining == 0 {
                    self.out.put(t.suffix(), None);
                    *self.work = Work::None;
                }
                Ok(After::Continue)
            }
            Work::Exit { got, len } => {
                for &b in data {
                    if let Some(slot) = got.get_mut(usize::from(*len)) {
                        *slot = b;
                        *len += 1;
                    }
                }
                if remaining == 0 {
                    let body = *got;
                    let body = body.get(..usize::from(*len)).unwrap_or_default();
                    *self.work = Work::None;
                    self.exit_or_greet(body)?;
                }
                Ok(After::Continue)
            }
            Work::Collect => {
                if let Err(r) = self.service.collect(data) {
                    *self.work = Work::None;
                    self.service.abandon();
                    *self.refusal = r;
                    self.refuse()?;
                    return Ok(After::SkipBody);
                }
                if remaining == 0 {
                    *self.work = Work::None;
                    return Ok(After::Finish);
                }
                Ok(After::Continue)
            }
            _ => Ok(After::Continue),
        }
    }

    /// `greet` of a body of `exit`'s length: `Bye!` and the end, or
    /// `Hello, <body>!`.
    fn exit_or_greet(&mut self, body: &[u8]) -> Result<(), End> {
        if is_exit(body) {
            let size = GREET_BYE.len() as u64;
            self.out
                .reply(Transform::Echo, size, GREET_BYE, self.service)
                .map_err(End::Encode)?;
            self.service.replied(Status::Ok, size);
            return Err(End::Bye);
        }
        let t = Transform::Greet;
        let size = (body.len() + t.prefix().len() + t.suffix().len()) as u64;
        self.out
            .reply(t, size, body, self.service)
            .map_err(End::Encode)?;
        self.service.replied(Status::Ok, size);
        Ok(())
    }

    fn source(&mut self, source: X::Source) {
        let left = source.data_size();
        *self.work = Work::Source {
            source,
            head: false,
            left,
        };
    }
}

/// A session parked between frames, without buffers ([`Session::park`]).
#[derive(Debug)]
pub struct Parked<X> {
    service: X,
    limits: Limits,
    clock: Clock,
    heads: u32,
}

impl<X: Service> Parked<X> {
    /// The idle deadline: when the driver must resume the session to have
    /// it time out, if the peer sends nothing before.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.clock.next(true).map(|(at, _)| at)
    }

    /// Since when the session has been idle between frames.
    pub fn idle_since(&self) -> Option<Instant> {
        self.clock.idle_since()
    }

    /// The session again, on these buffers.
    pub fn resume<'b>(self, buffers: Buffers<'b>) -> Session<'b, X> {
        Session::with(buffers, self.service, self.limits, self.clock, self.heads)
    }
}
