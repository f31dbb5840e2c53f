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
//! Everything SPEC says happens here: requests answered in order by the
//! rules of [`super::request`], replies never answered, fatal versus
//! recoverable errors, limits, `greet` of `exit`, a welcome, the deadlines
//! of [`super::time`].
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

use crate::decoder::{Decoder, Event};
use crate::encoder::EncodeError;
use crate::header::Status;

use super::api::{Service, Source, SourceError};
use super::buffers::Buffers;
use super::out::Out;
use super::request::{Limits, Refusal, finished_reply};
use super::respond::{After, Responder, Work};
use super::time::{Deadline, Instant, Phase, Phases, Timeouts};

pub use super::end::End;

/// Room the reply buffer must have before the session takes up the next
/// frame: the largest reply head a refusal, a built-in or the welcome
/// writes. A refusal whose head (with its message) is longer goes out as
/// the bare status, on every transport alike.
pub const HEAD_RESERVE: usize = 200;

/// The longest `ok` head: prefix, `{"data_size":<20 digits>,"status":"ok"}`
/// and the welcome mark.
const OK_HEAD_MAX: usize = 72;

/// What greet adds to a body (`Hello, ` and `!`), at most.
const GREET_EXTRA: usize =
    super::transform::GREET_PREFIX.len() + super::transform::GREET_SUFFIX.len();

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

/// One connection's protocol state; see the [module docs](self).
///
/// # Example
///
/// One request in, its reply out, then the peer leaves:
///
/// ```
/// use jframe::service::{Buffers, Config, Demo, End, Instant, Session};
///
/// let at = Instant::from_millis;
/// let (mut rx, mut frame, mut tx) = ([0u8; 256], [0u8; 256], [0u8; 256]);
/// let buffers = Buffers { rx: &mut rx, frame: &mut frame, tx: &mut tx };
/// let mut session = Session::new(buffers, Demo::new(), &Config::default(), at(0));
/// let request = b"\x1b\x00\x00\x00{\"data_size\":2,\"op\":\"echo\"}hi";
/// session.receive_buffer()[..request.len()].copy_from_slice(request);
/// session.received(request.len(), at(1));
/// let reply = session.transmit();
/// assert!(reply.ends_with(b"{\"data_size\":2,\"status\":\"ok\"}hi"));
/// let written = reply.len();
/// session.sent(written, at(2));
/// session.peer_closed(at(3));
/// assert_eq!(session.finished(), Some(End::PeerClosed));
/// ```
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
    clock: Phases,
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
        let clock = Phases::new(config.timeouts, now);
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
    fn with(buffers: Buffers<'b>, service: X, limits: Limits, clock: Phases, heads: u32) -> Self {
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
                            if let Err(e) = self.out.refusal_head(&busy) {
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
                match answer.out.refusal_head(answer.refusal) {
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
                match finished_reply(claim, &mut self.refusal) {
                    Some(source) => {
                        let left = source.data_size();
                        self.work = Work::Source {
                            source,
                            head: false,
                            left,
                        };
                        true
                    }
                    None => match self.out.refusal_head(&self.refusal) {
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

/// A session parked between frames, without buffers ([`Session::park`]).
#[derive(Debug)]
pub struct Parked<X> {
    service: X,
    limits: Limits,
    clock: Phases,
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
