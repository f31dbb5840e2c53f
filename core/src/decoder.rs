//! The sans-IO incremental decoder.
//!
//! Feed it bytes in chunks of any size; each [`Decoder::feed`] call returns
//! how many bytes it consumed and one result:
//!
//! - [`Event::NeedMore`]: every input byte was consumed, the frame is not
//!   complete yet;
//! - [`Event::Frame`]: a whole frame: its parsed header, the header's JSON
//!   and the body. When a call starts between frames and the whole frame is
//!   in its input, they are borrowed from the input (nothing copied);
//!   otherwise the frame is gathered in the decoder's buffer and borrowed
//!   from there. Which path is taken never changes the events: a frame is
//!   held whole only if it fits the buffer and the body limit, however it
//!   arrives;
//! - [`Event::Head`] then [`Event::BodyChunk`]s: a frame whose body does not
//!   fit the buffer, in streaming mode; chunks are borrowed straight from the
//!   input, never copied;
//! - an error ([`DecodeError`]).
//!
//! It consumes at most up to the end of the event it reports, so the
//! unconsumed rest of the input belongs to the next call (as in httparse and
//! postcard's `CobsAccumulator`); [`Event::NeedMore`] means every byte was
//! consumed. Every call on non-empty input consumes at least one byte or
//! reports an event or an error.
//!
//! Readers that can read straight into the decoder's buffer use
//! [`Decoder::unfilled`] (the bytes the current stage still needs, never more
//! than the current frame), then [`Decoder::filled`] with the count read, and
//! [`Decoder::event`] once it says a frame or head is ready, the way tokio's
//! `ReadBuf` is used. [`parse_frame`] parses one frame from a contiguous
//! slice (a datagram, a `BytesMut`) with no state and no copy.
//!
//! # The header is parsed once
//!
//! When a header is complete it is parsed, into jframe's [`Header`] or the
//! caller's type ([`ParseHeader`]), and that parse is what the events lend
//! out: nobody scans the JSON a second time.
//!
//! # Limits, checked before anything is buffered
//!
//! The prefix is checked against the header limit in the prefix state; the
//! header's `data_size` against the whole-frame limit and the buffer's room
//! as soon as the header is complete, before a single body byte is stored.
//!
//! # Errors and recovery (SPEC)
//!
//! A receiver goes on after a bad frame only when it knows, beyond doubt,
//! where that frame ends:
//!
//! - fatal: a prefix out of range, or a malformed header
//!   ([`DecodeError::Header`]: not UTF-8, not one object, trailing bytes, too
//!   deep, too many keys, a duplicate key, `data_size` missing, invalid or
//!   disagreeing with `size`), whatever the order of the keys. The decoder
//!   stays failed and returns the same error forever, consuming nothing
//!   ([`Decoder::reset`] starts over);
//! - recoverable: a well-formed header whose other keys are wrong
//!   ([`DecodeError::Request`]), and a body too large for whole-frame mode
//!   ([`DecodeError::BodyTooLarge`]): exactly `data_size` bytes are skipped
//!   and decoding goes on.
//!
//! # Panics
//!
//! None: every index is checked and every length conversion is fallible.

use crate::header::{Header, ParseHeader};
use crate::prefix::{self, PREFIX_LEN};

pub use crate::error::DecodeError;
pub use crate::parse::{Parse, parse_frame};

use crate::parse::prefix_of;

/// What a [`Decoder::feed`] call produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a, H = Header> {
    /// All input consumed; the current frame is incomplete.
    NeedMore,
    /// A complete frame.
    Frame(Frame<'a, H>),
    /// Streaming mode: a header whose body follows as [`Event::BodyChunk`]s.
    Head(Head<'a, H>),
    /// Streaming mode: the next piece of the body, borrowed from the input.
    BodyChunk {
        /// The bytes.
        data: &'a [u8],
        /// Body bytes still to come after this chunk (0 on the last one).
        remaining: u64,
    },
}

/// A complete frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a, H = Header> {
    /// The parsed header.
    pub header: &'a H,
    /// The header's JSON bytes (validated).
    pub header_json: &'a [u8],
    /// The body.
    pub body: &'a [u8],
}

impl<H> Clone for Frame<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H> Copy for Frame<'_, H> {}

/// The header of a frame whose body is streamed.
#[derive(Debug, PartialEq, Eq)]
pub struct Head<'a, H = Header> {
    /// The parsed header.
    pub header: &'a H,
    /// The header's JSON bytes (validated).
    pub header_json: &'a [u8],
    /// The body length that follows.
    pub data_size: u64,
}

impl<H> Clone for Head<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H> Copy for Head<'_, H> {}

/// The decoder's position within the current frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the 4 prefix bytes.
    Prefix { got: u8, bytes: [u8; PREFIX_LEN] },
    /// Collecting `len` header bytes into `buf[..len]`.
    Header { len: u32, got: u32 },
    /// Collecting a body that fits: `buf[header_len..header_len + size]`.
    Body {
        header_len: u32,
        size: usize,
        got: usize,
    },
    /// A whole frame is in the buffer, not yet handed out by [`Decoder::event`].
    FrameReady { header_len: u32, size: usize },
    /// Streaming: a head is in the buffer, its body not yet begun.
    HeadReady { header_len: u32, data_size: u64 },
    /// Passing a large body through as chunks.
    Stream { remaining: u64 },
    /// Discarding the body of a rejected frame.
    Skip { remaining: u64 },
    /// A bad prefix or a malformed header: nothing more can be trusted.
    Failed(DecodeError),
}

const START: State = State::Prefix {
    got: 0,
    bytes: [0; PREFIX_LEN],
};

/// Where an event's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// In the decoder's buffer.
    Buf,
    /// In the caller's input, at this offset.
    Input(usize),
}

/// What a step produced, as offsets, so that borrows are made once, after
/// the state machine has finished mutating itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    NeedMore,
    Frame {
        src: Src,
        header_len: usize,
        body_len: usize,
    },
    Head {
        src: Src,
        header_len: usize,
        data_size: u64,
    },
    Chunk {
        start: usize,
        len: usize,
        remaining: u64,
    },
}

/// An incremental frame decoder over a caller-supplied buffer `B`
/// (`[u8; N]`, `&mut [u8]`, or a `Vec<u8>` on std), parsing headers into `H`
/// (jframe's [`Header`] unless built with [`Decoder::with_header`]).
///
/// The buffer holds one frame's header and, in whole-frame mode, its body,
/// when the frame arrives in pieces. State beyond the buffer and the header
/// is a few dozen bytes.
///
/// # Example
///
/// A frame that arrives in two pieces:
///
/// ```
/// use jframe::{Decoder, Event};
///
/// let mut decoder = Decoder::new([0u8; 64]);
/// let wire = b"\x0f\x00\x00\x00{\"data_size\":2}hi";
/// assert!(matches!(decoder.feed(&wire[..6]), (6, Ok(Event::NeedMore))));
/// match decoder.feed(&wire[6..]) {
///     (15, Ok(Event::Frame(frame))) => assert_eq!(frame.body, b"hi"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct Decoder<B, H = Header> {
    buf: B,
    header: H,
    state: State,
    max_header: u32,
    max_body: u64,
    streaming: bool,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Decoder<B> {
    /// A whole-frame decoder parsing into jframe's [`Header`]: headers up to
    /// min(4096, buffer length), bodies up to whatever room the header leaves.
    pub fn new(buf: B) -> Self {
        Decoder::with_header(buf, Header::default())
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>, H: ParseHeader> Decoder<B, H> {
    /// Like [`Decoder::new`], parsing headers into `header`'s type instead
    /// (for instance `Serde(MyHeader::default())`).
    pub fn with_header(buf: B, header: H) -> Self {
        let cap = u32::try_from(buf.as_ref().len()).unwrap_or(u32::MAX);
        Decoder {
            buf,
            header,
            state: START,
            max_header: cap.min(prefix::DEFAULT_MAX_HEADER_LEN),
            max_body: u64::MAX,
            streaming: false,
        }
    }

    /// Sets the header limit (clamped to the buffer length).
    #[must_use]
    pub fn with_max_header(mut self, max: u32) -> Self {
        let cap = u32::try_from(self.buf.as_ref().len()).unwrap_or(u32::MAX);
        self.max_header = max.min(cap).min(prefix::MAX_WIRE_HEADER_LEN);
        self
    }

    /// Sets the largest body held whole (the buffer's room still applies).
    #[must_use]
    pub fn with_max_body(mut self, max: u64) -> Self {
        self.max_body = max;
        self
    }

    /// Changes the largest body held whole between frames: a streaming
    /// session holds a body only when its reply fits the room it has left.
    pub fn set_max_body(&mut self, max: u64) {
        self.max_body = max;
    }

    /// In streaming mode, frames whose body exceeds the whole-frame limit are
    /// delivered as [`Event::Head`] + [`Event::BodyChunk`]s instead of
    /// failing with [`DecodeError::BodyTooLarge`].
    #[must_use]
    pub fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// The configured header limit.
    pub fn max_header(&self) -> u32 {
        self.max_header
    }

    /// The header of the last frame (or head) reported.
    pub fn header(&self) -> &H {
        &self.header
    }

    /// Whether the decoder sits between frames (no partial frame buffered).
    pub fn is_idle(&self) -> bool {
        matches!(
            self.state,
            State::Prefix { got: 0, .. } | State::FrameReady { .. }
        )
    }

    /// Whether a frame has begun and its prefix or header is incomplete.
    pub fn is_in_header(&self) -> bool {
        matches!(
            self.state,
            State::Prefix { got: 1.., .. } | State::Header { .. }
        )
    }

    /// Whether a streamed body is being passed through.
    pub fn is_streaming_body(&self) -> bool {
        matches!(self.state, State::Stream { .. } | State::HeadReady { .. })
    }

    /// Whether the body of a rejected (or [`Self::skip_body`]-ed) frame is
    /// being discarded.
    pub fn is_skipping(&self) -> bool {
        matches!(self.state, State::Skip { .. })
    }

    /// Whether a bad prefix or a malformed header has put the decoder in its
    /// final failed state.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// The fatal error, once failed.
    pub fn failure(&self) -> Option<DecodeError> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Bytes that would complete the current stage (prefix, header, body
    /// or skipped body), capped at `usize::MAX`; 0 once failed. Reading at
    /// most this many bytes never reads past the current frame.
    pub fn want(&self) -> usize {
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        match self.state {
            State::Prefix { got, .. } => PREFIX_LEN.saturating_sub(usize::from(got)),
            State::Header { len, got } => to_usize(u64::from(len.saturating_sub(got))),
            State::Body { size, got, .. } => size.saturating_sub(got),
            State::FrameReady { .. } => PREFIX_LEN,
            State::HeadReady {
                data_size: remaining,
                ..
            }
            | State::Stream { remaining }
            | State::Skip { remaining } => to_usize(remaining),
            State::Failed(_) => 0,
        }
    }

    /// Discards the rest of the body being streamed; the next bytes fed are
    /// skipped up to the end of the frame.
    pub fn skip_body(&mut self) {
        match self.state {
            State::Stream { remaining }
            | State::HeadReady {
                data_size: remaining,
                ..
            } => self.state = skip(remaining),
            _ => {}
        }
    }

    /// Forgets any partial frame and any failure.
    pub fn reset(&mut self) {
        self.state = START;
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// The part of the buffer the current stage still needs, for readers
    /// that read straight into it; empty while a streamed body is passed
    /// through or skipped (read those into your own buffer and [`Self::feed`]
    /// them). Never longer than what remains of the current frame.
    pub fn unfilled(&mut self) -> &mut [u8] {
        self.settle();
        let buf = self.buf.as_mut();
        match &mut self.state {
            State::Prefix { got, bytes } => bytes.get_mut(usize::from(*got)..).unwrap_or_default(),
            State::Header { len, got } => {
                let (got, len) = (*got as usize, *len as usize);
                buf.get_mut(got..len).unwrap_or_default()
            }
            State::Body {
                header_len,
                size,
                got,
            } => {
                let start = *header_len as usize;
                buf.get_mut(start + *got..start + *size).unwrap_or_default()
            }
            _ => &mut [],
        }
    }

    /// Records that the first `n` bytes of [`Self::unfilled`] were written.
    /// `Ok(true)`: a frame or head is ready, see [`Self::event`].
    pub fn filled(&mut self, n: usize) -> Result<bool, DecodeError> {
        self.settle();
        self.record(n);
        Ok(self.complete_buffered()? != Step::NeedMore)
    }

    /// The frame or head that [`Self::filled`] reported ready, borrowed from
    /// the buffer; [`Event::NeedMore`] otherwise.
    pub fn event(&self) -> Event<'_, H> {
        match self.state {
            State::FrameReady { header_len, size } => self.view(
                &[],
                Step::Frame {
                    src: Src::Buf,
                    header_len: header_len as usize,
                    body_len: size,
                },
            ),
            State::HeadReady {
                header_len,
                data_size,
            } => self.view(
                &[],
                Step::Head {
                    src: Src::Buf,
                    header_len: header_len as usize,
                    data_size,
                },
            ),
            _ => Event::NeedMore,
        }
    }

    /// Consumes input; see the [module docs](self).
    pub fn feed<'a>(&'a mut self, input: &'a [u8]) -> (usize, Result<Event<'a, H>, DecodeError>) {
        let (consumed, step) = self.advance(input);
        (consumed, step.map(|step| self.view(input, step)))
    }

    /// Leaves a reported-ready state for the next stage.
    fn settle(&mut self) {
        match self.state {
            State::FrameReady { .. } => self.state = START,
            State::HeadReady { data_size, .. } => {
                self.state = State::Stream {
                    remaining: data_size,
                }
            }
            _ => {}
        }
    }

    /// The borrowed event for a step.
    fn view<'a>(&'a self, input: &'a [u8], step: Step) -> Event<'a, H> {
        let source = |src: Src| match src {
            Src::Buf => (self.buf.as_ref(), 0),
            Src::Input(at) => (input, at),
        };
        match step {
            Step::NeedMore => Event::NeedMore,
            Step::Chunk {
                start,
                len,
                remaining,
            } => Event::BodyChunk {
                data: input
                    .get(start..start.saturating_add(len))
                    .unwrap_or_default(),
                remaining,
            },
            Step::Frame {
                src,
                header_len,
                body_len,
            } => {
                let (bytes, at) = source(src);
                let body_at = at.saturating_add(header_len);
                Event::Frame(Frame {
                    header: &self.header,
                    header_json: bytes.get(at..body_at).unwrap_or_default(),
                    body: bytes
                        .get(body_at..body_at.saturating_add(body_len))
                        .unwrap_or_default(),
                })
            }
            Step::Head {
                src,
                header_len,
                data_size,
            } => {
                let (bytes, at) = source(src);
                Event::Head(Head {
                    header: &self.header,
                    header_json: bytes
                        .get(at..at.saturating_add(header_len))
                        .unwrap_or_default(),
                    data_size,
                })
            }
        }
    }

    /// The state machine; returns offsets rather than borrows.
    fn advance(&mut self, input: &[u8]) -> (usize, Result<Step, DecodeError>) {
        self.settle();
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match self.state {
                State::Stream { remaining } => {
                    if rest.is_empty() {
                        return (pos, Ok(Step::NeedMore));
                    }
                    let take = min_len(remaining, rest.len());
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        START
                    } else {
                        State::Stream { remaining }
                    };
                    let chunk = Step::Chunk {
                        start: pos,
                        len: take,
                        remaining,
                    };
                    return (pos + take, Ok(chunk));
                }
                State::Skip { remaining } => {
                    let take = min_len(remaining, rest.len());
                    pos += take;
                    let remaining = remaining - take as u64;
                    if remaining > 0 {
                        self.state = State::Skip { remaining };
                        return (pos, Ok(Step::NeedMore));
                    }
                    self.state = START;
                }
                State::Failed(e) => return (pos, Err(e)),
                State::Prefix { got: 0, .. } if rest.len() >= PREFIX_LEN => {
                    // Between frames with a prefix at hand: parse in place,
                    // so a frame that arrived whole is never copied.
                    let (used, step) = self.whole(rest, pos);
                    pos += used;
                    match step {
                        Ok(Step::NeedMore) => {}
                        other => return (pos, other),
                    }
                }
                _ => {
                    let copied = self.fill(rest);
                    pos += copied;
                    match self.complete_buffered() {
                        Ok(Step::NeedMore) if rest.len() > copied => {}
                        Ok(step) => return (pos, Ok(self.take_ready(step))),
                        Err(e) => return (pos, Err(e)),
                    }
                }
            }
        }
    }

    /// A ready state reported through `feed` is handed out at once.
    fn take_ready(&mut self, step: Step) -> Step {
        self.settle();
        step
    }

    /// Between frames, with at least a prefix in `rest` (at `pos` of the
    /// input): a header that is all there is parsed in place, and a frame
    /// that is all there is handed out from the input, nothing copied.
    #[inline]
    fn whole(&mut self, rest: &[u8], pos: usize) -> (usize, Result<Step, DecodeError>) {
        let header_len = match prefix_of(rest, self.max_header) {
            Ok(Some(len)) => len,
            Ok(None) => return self.gather(rest),
            Err(e) => {
                self.state = State::Failed(e);
                return (0, Err(e));
            }
        };
        let head = PREFIX_LEN + header_len;
        let Some(json) = rest.get(PREFIX_LEN..head) else {
            // Only the prefix (and part of the header): gathered in the buffer.
            return self.gather(rest);
        };
        match self.header.parse_into(json) {
            Ok(data_size) => {
                if self.fits(header_len, data_size) {
                    let body_len = min_len(data_size, usize::MAX);
                    if rest.len().saturating_sub(head) >= body_len {
                        let step = Step::Frame {
                            src: Src::Input(pos + PREFIX_LEN),
                            header_len,
                            body_len,
                        };
                        return (head + body_len, Ok(step));
                    }
                }
                self.header_only(json, data_size)
            }
            Err(e @ DecodeError::Request { data_size, .. }) => {
                self.state = skip(data_size);
                (head, Err(e))
            }
            Err(e) => {
                self.state = State::Failed(e);
                (0, Err(e))
            }
        }
    }

    /// The slow path: `rest` copied into the buffer, stage by stage.
    fn gather(&mut self, rest: &[u8]) -> (usize, Result<Step, DecodeError>) {
        let copied = self.fill(rest);
        match self.complete_buffered() {
            Ok(step) => (copied, Ok(self.take_ready(step))),
            Err(e) => (copied, Err(e)),
        }
    }

    /// A header parsed in place whose frame is not held whole from the
    /// input: its JSON is kept in the buffer for the frame or head to come.
    fn header_only(&mut self, json: &[u8], data_size: u64) -> (usize, Result<Step, DecodeError>) {
        let header_len = json.len();
        if let Some(dst) = self.buf.as_mut().get_mut(..header_len) {
            crate::copy::copy(dst, json);
        }
        let step = self.header_parsed(header_len, Ok(data_size));
        (PREFIX_LEN + header_len, step.map(|s| self.take_ready(s)))
    }

    /// Whether a body of `size` bytes is held whole after a header of `header_len`.
    fn fits(&self, header_len: usize, size: u64) -> bool {
        let room = self.buf.as_ref().len().saturating_sub(header_len);
        size <= self.max_body.min(room as u64)
    }

    /// Whether the current stage collects bytes into the buffer.
    fn is_buffering(&self) -> bool {
        matches!(
            self.state,
            State::Prefix { .. } | State::Header { .. } | State::Body { .. }
        )
    }

    /// Bytes still missing in a buffered stage (0 when it is complete).
    fn want_buffered(&self) -> usize {
        if self.is_buffering() { self.want() } else { 0 }
    }

    /// Records that `n` bytes of [`Self::unfilled`] were written.
    fn record(&mut self, n: usize) {
        match &mut self.state {
            State::Prefix { got, .. } => {
                *got = got
                    .saturating_add(u8::try_from(n).unwrap_or(u8::MAX))
                    .min(4);
            }
            State::Header { len, got } => {
                *got = got
                    .saturating_add(u32::try_from(n).unwrap_or(u32::MAX))
                    .min(*len);
            }
            State::Body { size, got, .. } => *got = got.saturating_add(n).min(*size),
            _ => {}
        }
    }

    /// Copies as much of `input` as the current buffered stage takes.
    fn fill(&mut self, input: &[u8]) -> usize {
        let slot = self.unfilled();
        let n = slot.len().min(input.len());
        if let (Some(dst), Some(src)) = (slot.get_mut(..n), input.get(..n)) {
            crate::copy::copy(dst, src);
        }
        self.record(n);
        n
    }

    /// Moves past a completed buffered stage (prefix, header or body).
    /// Ready frames and heads are left in the `*Ready` states.
    fn complete_buffered(&mut self) -> Result<Step, DecodeError> {
        if self.want_buffered() != 0 {
            return Ok(Step::NeedMore);
        }
        match self.state {
            State::Prefix { bytes, .. } => {
                match prefix::check(prefix::read(bytes), self.max_header) {
                    Ok(len) => self.state = State::Header { len, got: 0 },
                    Err(e) => return Err(self.fail(e)),
                }
                Ok(Step::NeedMore)
            }
            State::Header { len, .. } => {
                let header_len = len as usize;
                let json = self.buf.as_ref().get(..header_len).unwrap_or_default();
                let parsed = self.header.parse_into(json);
                self.header_parsed(header_len, parsed)
            }
            State::Body {
                header_len, size, ..
            } => {
                self.state = State::FrameReady { header_len, size };
                Ok(Step::Frame {
                    src: Src::Buf,
                    header_len: header_len as usize,
                    body_len: size,
                })
            }
            _ => Ok(Step::NeedMore),
        }
    }

    /// Decides a frame once its header (`header_len` bytes, in the buffer)
    /// is parsed: its body held whole, streamed, or skipped.
    fn header_parsed(
        &mut self,
        header_len: usize,
        result: Result<u64, DecodeError>,
    ) -> Result<Step, DecodeError> {
        let data_size = match result {
            Ok(size) => size,
            Err(e @ DecodeError::Request { data_size, .. }) => {
                self.state = skip(data_size);
                return Err(e);
            }
            Err(e) => return Err(self.fail(e)),
        };
        let len32 = u32::try_from(header_len).unwrap_or(u32::MAX);
        if self.fits(header_len, data_size) {
            let size = min_len(data_size, usize::MAX);
            if size == 0 {
                self.state = State::FrameReady {
                    header_len: len32,
                    size: 0,
                };
                return Ok(Step::Frame {
                    src: Src::Buf,
                    header_len,
                    body_len: 0,
                });
            }
            self.state = State::Body {
                header_len: len32,
                size,
                got: 0,
            };
            Ok(Step::NeedMore)
        } else if self.streaming {
            self.state = State::HeadReady {
                header_len: len32,
                data_size,
            };
            Ok(Step::Head {
                src: Src::Buf,
                header_len,
                data_size,
            })
        } else {
            let room = self.buf.as_ref().len().saturating_sub(header_len);
            let max = self.max_body.min(room as u64);
            self.state = skip(data_size);
            Err(DecodeError::BodyTooLarge { data_size, max })
        }
    }

    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.state = State::Failed(e);
        e
    }
}

fn skip(remaining: u64) -> State {
    if remaining == 0 {
        START
    } else {
        State::Skip { remaining }
    }
}

/// `min(a, b)` as a usize, without a truncating cast.
fn min_len(a: u64, b: usize) -> usize {
    usize::try_from(a).map_or(b, |a| a.min(b))
}
