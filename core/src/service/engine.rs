//! The connection engine: SPEC's request/reply behaviour over any byte
//! stream, for [`blocking`] (`embedded-io`) and [`asynch`]
//! (`embedded-io-async`) transports, generated from one definition.
//!
//! A driver hands [`blocking::serve`] (or [`asynch::serve`]) its socket and
//! three buffers, and the engine does the rest: it reads as much as the
//! socket has into `rx`, decodes frames in place (a frame that arrived in
//! pieces is gathered in `frame`), answers each request by [`plan`](super::plan), and
//! gathers replies in `tx`, written out when `rx` runs dry, so a pipelined
//! batch gets one write. Bodies larger than `frame` are streamed chunk by
//! chunk, through `tx`, never held whole.
//!
//! Before every read the engine tells the driver where the session is
//! ([`Deadlines::before_read`]), so the driver can apply its own timeouts
//! and stop between frames; it has no other say.

use crate::decoder::DecodeError;
use crate::encoder::{EncodeError, encode_head, encode_reply_head, encode_welcome_head};
use crate::header::{Header, Status};

use super::extension::SourceError;
use super::request::{Limits, Refusal};
use super::transform::Transform;

/// Where a session is when the engine is about to wait for bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// Between frames, nothing pending: the idle timeout applies.
    Idle,
    /// A frame has begun and its prefix or header is incomplete: the
    /// header deadline applies.
    Header,
    /// A body is being received (held, streamed or skipped): the body
    /// deadline applies.
    Body,
}

/// What the engine tells its driver.
pub trait Deadlines {
    /// Called before every read. Returning `false` in [`Phase::Idle`] ends
    /// the session ([`End::Stopped`]), for a server shutting down; in the
    /// other phases it is ignored (a frame is never cut short).
    fn before_read(&mut self, phase: Phase) -> bool;
}

/// Settings of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config<'a> {
    /// Header and body limits.
    pub limits: Limits,
    /// Sent as an `ok` frame marked `"welcome": true` when the session
    /// starts (seed 001's `Welcome!`).
    pub welcome: Option<&'a [u8]>,
}

/// The buffers a session works in.
#[derive(Debug)]
pub struct Buffers<'b> {
    /// Socket reads land here.
    pub rx: &'b mut [u8],
    /// A frame that arrives in pieces is gathered here (its header, and a
    /// body that fits after it); larger bodies are streamed.
    pub frame: &'b mut [u8],
    /// Replies are gathered here; must hold the largest reply head
    /// (a few hundred bytes).
    pub tx: &'b mut [u8],
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum End<E> {
    /// The peer closed between frames.
    PeerClosed,
    /// A `greet` of `exit` was answered with `Bye!`.
    Bye,
    /// The driver asked to stop between frames.
    Stopped,
    /// The peer sent a reply (a frame with `status`): never answered, the
    /// connection is closed (SPEC).
    ReplyReceived,
    /// A fatal error: `bad_frame` was sent (when possible) and the
    /// connection is closed.
    BadFrame(DecodeError),
    /// The peer closed in the middle of a frame.
    Truncated,
    /// An extension's reply body failed part-way: the reply cannot be
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
    /// peer left, `Bye!`, a stop), not on an error.
    pub fn is_clean(&self) -> bool {
        matches!(self, End::PeerClosed | End::Bye | End::Stopped)
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for End<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            End::PeerClosed => f.write_str("peer closed"),
            End::Bye => f.write_str("greet exit: Bye!"),
            End::Stopped => f.write_str("stopped between frames"),
            End::ReplyReceived => f.write_str("peer sent a reply to a server; closed"),
            End::BadFrame(e) => write!(f, "bad frame: {e}"),
            End::Truncated => f.write_str("peer closed in the middle of a frame"),
            End::Source(e) => write!(f, "{e}"),
            End::Encode(e) => write!(f, "{e}"),
            End::Io(e) => write!(f, "transport failed: {e:?}"),
            End::WriteZero => f.write_str("transport accepted zero bytes"),
        }
    }
}

/// What the engine does with the chunks of the body being received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No body in progress (or one being skipped by the decoder).
    None,
    /// A built-in service's reply, chunk by chunk.
    Transform(Transform),
    /// The extension collects it.
    Collect,
}

/// Reply bytes gathered in `tx`.
struct Tx<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Tx<'_> {
    fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// A reply head to encode. Small and `Copy`, so that no 568-byte
/// [`Header`] is kept across an `.await` (that is RAM in every connection's
/// future on a microcontroller) and a built-in reply never builds one.
#[derive(Debug, Clone, Copy)]
enum ReplyHead<'a> {
    /// `ok` with a body of this many bytes.
    Ok(u64),
    /// The welcome frame's head (`ok`, marked `"welcome": true`).
    Welcome(u64),
    /// An error reply, with its message.
    Refused(&'a Refusal),
    /// An error reply without its message, when the message does not fit.
    Bare(Status),
    /// An extension's own header.
    Header(&'a Header),
}

impl ReplyHead<'_> {
    fn encode(self, out: &mut [u8]) -> Result<usize, EncodeError> {
        match self {
            ReplyHead::Ok(size) => encode_reply_head(out, Status::Ok, size, None),
            ReplyHead::Welcome(size) => encode_welcome_head(out, size),
            ReplyHead::Refused(r) => encode_reply_head(out, r.status, 0, Some(&r.message)),
            ReplyHead::Bare(status) => encode_reply_head(out, status, 0, None),
            ReplyHead::Header(h) => encode_head(out, h),
        }
    }
}

/// Encodes `head` at the end of `tx`; `Ok(false)`: no room (flush first).
fn put_head(tx: &mut Tx<'_>, head: ReplyHead<'_>) -> Result<bool, EncodeError> {
    let free = tx.buf.get_mut(tx.len..).unwrap_or_default();
    match head.encode(free) {
        Ok(n) => {
            tx.len += n;
            Ok(true)
        }
        Err(EncodeError::BufferTooSmall) if tx.len > 0 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Copies what fits of `data` to the end of `tx`, transformed; returns how
/// much was taken.
fn put_transformed(tx: &mut Tx<'_>, data: &[u8], transform: Option<Transform>) -> usize {
    let n = data.len().min(tx.room());
    if let (Some(dst), Some(src)) = (tx.buf.get_mut(tx.len..tx.len + n), data.get(..n)) {
        crate::copy::copy(dst, src);
        if let Some(t) = transform {
            t.apply(dst);
        }
    }
    tx.len += n;
    n
}

/// The phase the decoder is in, for [`Deadlines::before_read`].
fn phase_of<B: AsRef<[u8]> + AsMut<[u8]>, H: crate::ParseHeader>(
    decoder: &crate::Decoder<B, H>,
) -> Phase {
    if decoder.is_idle() {
        Phase::Idle
    } else if decoder.is_in_header() {
        Phase::Header
    } else {
        Phase::Body
    }
}

macro_rules! engine {
    ($Read:path, $Write:path, $($async:ident)?; $($await:tt)*) => {
        use crate::decoder::{Decoder, Event};
        use crate::header::ServiceHeader;
        use crate::service::engine::{
            put_head, put_transformed, phase_of, Body, Buffers, Config, Deadlines, End, Phase,
            ReplyHead, Tx,
        };
        use crate::service::extension::{Extension, Source};
        use crate::service::request::{finished, plan, unanswered, Plan, Refusal};
        use crate::service::transform::{Transform, GREET_BYE};

        /// Serves one connection until it ends; see the [module docs](super).
        pub $($async)? fn serve<T, X>(
            io: &mut T,
            buffers: Buffers<'_>,
            extension: &mut X,
            config: &Config<'_>,
        ) -> End<T::Error>
        where
            T: $Read + $Write + Deadlines,
            X: Extension,
        {
            let Buffers { rx, frame, tx } = buffers;
            let mut tx = Tx { buf: tx, len: 0 };
            let mut decoder = Decoder::with_header(frame, X::Header::default())
                .with_max_header(config.limits.max_header)
                .streaming(true);
            let (mut start, mut end) = (0usize, 0usize);
            let mut body = Body::None;
            // The one refusal of the session, reused for every error reply.
            let mut refusal = Refusal::text(crate::Status::Error, "");
            if let Some(welcome) = config.welcome {
                if let Err(e) = reply_whole(io, &mut tx, ReplyHead::Welcome(welcome.len() as u64), welcome, None) $($await)* {
                    return e;
                }
            }
            loop {
                if start >= end {
                    if let Err(e) = flush(io, &mut tx) $($await)* {
                        return e;
                    }
                    let phase = phase_of(&decoder);
                    if !io.before_read(phase) && phase == Phase::Idle {
                        return End::Stopped;
                    }
                    let n = match io.read(rx) $($await)* {
                        Ok(n) => n,
                        Err(e) => return End::Io(e),
                    };
                    if n == 0 {
                        if body == Body::Collect {
                            extension.abandon();
                        }
                        return if decoder.is_idle() { End::PeerClosed } else { End::Truncated };
                    }
                    (start, end) = (0, n);
                }
                let input = rx.get(start..end).unwrap_or_default();
                let (used, event) = decoder.feed(input);
                start += used;
                let step: Result<(), End<T::Error>> = match event {
                    Ok(Event::NeedMore) => Ok(()),
                    Ok(Event::Frame(frame)) => {
                        let whole = whole(io, &mut tx, frame.header, frame.body, extension, config, &mut refusal);
                        match whole $($await)* {
                            Ok(()) => Ok(()),
                            Err(e) => {
                                let _ = flush(io, &mut tx) $($await)*;
                                return e;
                            }
                        }
                    }
                    Ok(Event::Head(head)) => {
                        let header = head.header;
                        match plan(header, None, &config.limits, extension, &mut refusal) {
                            Plan::Serve(t) => {
                                // reply_size was checked by plan.
                                let size = t.reply_size(head.data_size).unwrap_or(u64::MAX);
                                body = Body::Transform(t);
                                match put(io, &mut tx, ReplyHead::Ok(size)) $($await)* {
                                    Ok(()) => write_bytes(io, &mut tx, t.prefix(), None) $($await)*,
                                    Err(e) => Err(e),
                                }
                            }
                            Plan::Collect => {
                                body = Body::Collect;
                                Ok(())
                            }
                            Plan::Reply(reply) => {
                                decoder.skip_body();
                                send_reply(io, &mut tx, reply) $($await)*
                            }
                            Plan::Refuse => {
                                decoder.skip_body();
                                refuse(io, &mut tx, &refusal) $($await)*
                            }
                            Plan::Bye => Ok(()), // only for whole bodies
                            // Replies gathered before it still go out (below).
                            Plan::Ignore => Err(End::ReplyReceived),
                        }
                    }
                    Ok(Event::BodyChunk { data, remaining }) => match body {
                        Body::Transform(t) => {
                            let mut sent = write_bytes(io, &mut tx, data, Some(t)) $($await)*;
                            if remaining == 0 {
                                body = Body::None;
                                if sent.is_ok() {
                                    sent = write_bytes(io, &mut tx, t.suffix(), None) $($await)*;
                                }
                            }
                            sent
                        }
                        Body::Collect => {
                            let collected = match extension.collect(data) {
                                Ok(()) => true,
                                Err(r) => {
                                    refusal = r;
                                    false
                                }
                            };
                            if !collected {
                                body = Body::None;
                                extension.abandon();
                                decoder.skip_body();
                                refuse(io, &mut tx, &refusal) $($await)*
                            } else if remaining > 0 {
                                Ok(())
                            } else {
                                body = Body::None;
                                let claim = extension.finish(decoder.header());
                                match finished(claim, &mut refusal) {
                                    Plan::Reply(reply) => send_reply(io, &mut tx, reply) $($await)*,
                                    _ => refuse(io, &mut tx, &refusal) $($await)*,
                                }
                            }
                        }
                        Body::None => Ok(()),
                    },
                    Err(e) if e.is_recoverable() => {
                        refusal = Refusal::from(e);
                        refuse(io, &mut tx, &refusal) $($await)*
                    }
                    Err(e) => {
                        refusal = Refusal::from(e);
                        let _ = refuse(io, &mut tx, &refusal) $($await)*;
                        let _ = flush(io, &mut tx) $($await)*;
                        return End::BadFrame(e);
                    }
                };
                if let Err(e) = step {
                    if body == Body::Collect {
                        extension.abandon();
                    }
                    // What was answered before goes out, as on every other
                    // end (the transport's own failures aside).
                    if !matches!(e, End::Io(_) | End::WriteZero) {
                        let _ = flush(io, &mut tx) $($await)*;
                    }
                    return e;
                }
            }
        }

        /// Answers a request whose body arrived whole; a refusal goes
        /// through the session's slot.
        $($async)? fn whole<T, X>(
            io: &mut T,
            tx: &mut Tx<'_>,
            header: &X::Header,
            body: &[u8],
            extension: &mut X,
            config: &Config<'_>,
            refusal: &mut Refusal,
        ) -> Result<(), End<T::Error>>
        where
            T: $Write,
            X: Extension,
        {
            match plan(header, Some(body), &config.limits, extension, refusal) {
                Plan::Serve(t) => {
                    let size = t.reply_size(header.data_size()).unwrap_or(u64::MAX);
                    reply_whole(io, tx, ReplyHead::Ok(size), body, Some(t)) $($await)*
                }
                Plan::Bye => {
                    let bye = ReplyHead::Ok(GREET_BYE.len() as u64);
                    reply_whole(io, tx, bye, GREET_BYE, None) $($await)*?;
                    Err(End::Bye)
                }
                Plan::Reply(reply) => send_reply(io, tx, reply) $($await)*,
                Plan::Refuse => refuse(io, tx, refusal) $($await)*,
                // Not for a whole body: `plan` collected it.
                Plan::Collect => {
                    *refusal = unanswered();
                    refuse(io, tx, refusal) $($await)*
                }
                Plan::Ignore => Err(End::ReplyReceived),
            }
        }

        /// A whole reply: head, then `body` (transformed, wrapped in the
        /// transform's prefix and suffix).
        $($async)? fn reply_whole<T: $Write>(
            io: &mut T,
            tx: &mut Tx<'_>,
            head: ReplyHead<'_>,
            body: &[u8],
            transform: Option<Transform>,
        ) -> Result<(), End<T::Error>> {
            put(io, tx, head) $($await)*?;
            if let Some(t) = transform {
                write_bytes(io, tx, t.prefix(), None) $($await)*?;
                write_bytes(io, tx, body, Some(t)) $($await)*?;
                write_bytes(io, tx, t.suffix(), None) $($await)*
            } else {
                write_bytes(io, tx, body, None) $($await)*
            }
        }

        $($async)? fn refuse<T: $Write>(
            io: &mut T,
            tx: &mut Tx<'_>,
            refusal: &Refusal,
        ) -> Result<(), End<T::Error>> {
            put(io, tx, ReplyHead::Refused(refusal)) $($await)*
        }

        /// An extension's reply: its head, then its body pulled through `tx`.
        $($async)? fn send_reply<T: $Write, S: Source>(
            io: &mut T,
            tx: &mut Tx<'_>,
            mut reply: S,
        ) -> Result<(), End<T::Error>> {
            put(io, tx, ReplyHead::Header(reply.header())) $($await)*?;
            let mut left = reply.header().data_size;
            while left > 0 {
                if tx.room() == 0 {
                    flush(io, tx) $($await)*?;
                }
                let room = tx.room().min(usize::try_from(left).unwrap_or(usize::MAX));
                let free = tx.buf.get_mut(tx.len..tx.len + room).unwrap_or_default();
                let n = match reply.fill(free) {
                    Ok(0) => return Err(End::Source(crate::service::SourceError)),
                    Ok(n) => n.min(room),
                    Err(e) => return Err(End::Source(e)),
                };
                tx.len += n;
                left -= n as u64;
            }
            Ok(())
        }

        /// Encodes a head into `tx`, flushing first if it does not fit. An
        /// error reply whose message does not fit even an empty `tx` goes
        /// out as the bare status: a refusal never becomes a disconnect.
        $($async)? fn put<T: $Write>(
            io: &mut T,
            tx: &mut Tx<'_>,
            head: ReplyHead<'_>,
        ) -> Result<(), End<T::Error>> {
            if put_head(tx, head).map_err(End::Encode)? {
                return Ok(());
            }
            flush(io, tx) $($await)*?;
            let fitted = match put_head(tx, head) {
                Err(crate::EncodeError::BufferTooSmall) => match head {
                    ReplyHead::Refused(r) => put_head(tx, ReplyHead::Bare(r.status)),
                    _ => Ok(false),
                },
                other => other,
            };
            if fitted.map_err(End::Encode)? {
                Ok(())
            } else {
                Err(End::Encode(crate::EncodeError::BufferTooSmall))
            }
        }

        /// Appends `data` (transformed) to `tx`, flushing as it fills.
        $($async)? fn write_bytes<T: $Write>(
            io: &mut T,
            tx: &mut Tx<'_>,
            mut data: &[u8],
            transform: Option<Transform>,
        ) -> Result<(), End<T::Error>> {
            while !data.is_empty() {
                if tx.room() == 0 {
                    flush(io, tx) $($await)*?;
                }
                let n = put_transformed(tx, data, transform);
                data = data.get(n..).unwrap_or_default();
            }
            Ok(())
        }

        /// Writes out what `tx` holds.
        $($async)? fn flush<T: $Write>(io: &mut T, tx: &mut Tx<'_>) -> Result<(), End<T::Error>> {
            let mut pending = tx.pending();
            while !pending.is_empty() {
                match io.write(pending) $($await)* {
                    Ok(0) => return Err(End::WriteZero),
                    Ok(n) => pending = pending.get(n..).unwrap_or_default(),
                    Err(e) => return Err(End::Io(e)),
                }
            }
            tx.len = 0;
            Ok(())
        }
    };
}

/// The engine over blocking `embedded_io::{Read, Write}`.
pub mod blocking {
    engine!(embedded_io::Read, embedded_io::Write, ; );
}

/// The engine over `embedded_io_async::{Read, Write}`.
pub mod asynch {
    engine!(embedded_io_async::Read, embedded_io_async::Write, async; .await);
}
