//! The sans-IO incremental decoder.
//!
//! Feed it bytes in chunks of any size; each [`Decoder::feed`] call returns
//! how many bytes it consumed and one result:
//!
//! - [`Event::NeedMore`]: every input byte was consumed, the frame is not
//!   complete yet;
//! - [`Event::Frame`]: a whole frame, header and body borrowed from the
//!   decoder's buffer;
//! - [`Event::Head`] then [`Event::BodyChunk`]s: a frame whose body does not
//!   fit the buffer, in streaming mode; chunks are borrowed straight from the
//!   input, never copied;
//! - an error ([`DecodeError`]).
//!
//! It consumes at most up to the end of the event it reports, so the
//! unconsumed rest of the input belongs to the next call (as in httparse and
//! postcard's `CobsAccumulator`).
//!
//! # Limits, checked before anything is buffered
//!
//! The prefix is checked against the header limit in the prefix state; the
//! header's `data_size` against the whole-frame limit and the buffer's room
//! as soon as the header is complete, before a single body byte is stored.
//!
//! # Recovery
//!
//! A bad header behind a valid prefix ([`DecodeError::Header`]) and a body too
//! large for whole-frame mode ([`DecodeError::BodyTooLarge`]) are recoverable:
//! the decoder skips the declared body and goes on with the next frame. When
//! the header is too broken to say how long its body is (bad JSON before
//! `data_size`, a `data_size` that is not an integer), the body is taken to be
//! empty, as SPEC's "no `data_size`" case implies. A bad prefix means the stream can no longer be
//! trusted: the decoder stays failed and returns the same error forever.
//!
//! # Panics
//!
//! None: every index is checked and every length conversion is fallible.

use core::fmt;

use crate::header::{self, Header, HeaderError, Status};
use crate::prefix::{self, PREFIX_LEN};

/// Why decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The prefix says the header is shorter than 2 bytes (or negative).
    /// Fatal: the stream cannot be trusted.
    HeaderTooShort {
        /// The prefix value as sent.
        len: i32,
    },
    /// The prefix says the header is longer than the limit. Fatal.
    HeaderTooLong {
        /// The prefix value as sent.
        len: u32,
        /// The configured limit.
        max: u32,
    },
    /// The header is invalid; its body (if its size was readable) is skipped.
    Header(HeaderError),
    /// The body does not fit whole-frame mode; it is skipped.
    BodyTooLarge {
        /// The body length the header declared.
        data_size: u64,
        /// The largest body this decoder holds whole.
        max: u64,
    },
}

impl DecodeError {
    /// Whether the decoder goes on with the next frame after this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, Self::Header(_) | Self::BodyTooLarge { .. })
    }

    /// The reply status SPEC gives this error.
    pub fn status(&self) -> Status {
        match self {
            Self::BodyTooLarge { .. } => Status::TooLarge,
            _ => Status::BadFrame,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeaderTooShort { len } => write!(f, "header length {len} is below 2"),
            Self::HeaderTooLong { len, max } => {
                write!(f, "header length {len} exceeds the limit of {max}")
            }
            Self::Header(e) => write!(f, "bad header: {e}"),
            Self::BodyTooLarge { data_size, max } => {
                write!(f, "body of {data_size} bytes exceeds the limit of {max}")
            }
        }
    }
}

impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Header(e) => Some(e),
            _ => None,
        }
    }
}

impl From<HeaderError> for DecodeError {
    fn from(e: HeaderError) -> Self {
        DecodeError::Header(e)
    }
}

/// What a [`Decoder::feed`] call produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// All input consumed; the current frame is incomplete.
    NeedMore,
    /// A complete frame.
    Frame(Frame<'a>),
    /// Streaming mode: a header whose body follows as [`Event::BodyChunk`]s.
    Head(Head<'a>),
    /// Streaming mode: the next piece of the body, borrowed from the input.
    BodyChunk {
        /// The bytes.
        data: &'a [u8],
        /// Body bytes still to come after this chunk (0 on the last one).
        remaining: u64,
    },
}

/// A complete frame, borrowed from the decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header's JSON bytes (validated).
    pub header_json: &'a [u8],
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Parses the header into the SPEC [`Header`].
    pub fn header(&self) -> Result<Header, HeaderError> {
        Header::parse(self.header_json)
    }

    /// Parses the header into the caller's serde type.
    pub fn header_as<T: serde::Deserialize<'a>>(
        &self,
        scratch: &mut [u8],
    ) -> Result<T, HeaderError> {
        header::parse_header_as(self.header_json, scratch)
    }
}

/// The header of a frame whose body is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    /// The header's JSON bytes (validated).
    pub header_json: &'a [u8],
    /// The body length that follows.
    pub data_size: u64,
}

impl<'a> Head<'a> {
    /// Parses the header into the SPEC [`Header`].
    pub fn header(&self) -> Result<Header, HeaderError> {
        Header::parse(self.header_json)
    }

    /// Parses the header into the caller's serde type.
    pub fn header_as<T: serde::Deserialize<'a>>(
        &self,
        scratch: &mut [u8],
    ) -> Result<T, HeaderError> {
        header::parse_header_as(self.header_json, scratch)
    }
}

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
    /// Passing a large body through as chunks.
    Stream { remaining: u64 },
    /// Discarding the body of a rejected frame.
    Skip { remaining: u64 },
    /// A bad prefix: nothing more can be trusted.
    Failed(DecodeError),
}

const START: State = State::Prefix {
    got: 0,
    bytes: [0; PREFIX_LEN],
};

/// What a step produced, as offsets, so that borrows of the buffer are made
/// once, after the state machine has finished mutating itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    NeedMore,
    Frame {
        header_len: usize,
        body_len: usize,
    },
    Head {
        header_len: usize,
        data_size: u64,
    },
    Chunk {
        start: usize,
        len: usize,
        remaining: u64,
    },
}

/// Whether a buffered stage finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Bytes are still missing.
    Incomplete,
    /// The stage finished and the next one began (prefix → header, say).
    Continue,
    /// The stage finished with something to report.
    Ready(Step),
}

/// An incremental frame decoder over a caller-supplied buffer `B`
/// (`[u8; N]`, `&mut [u8]`, or a `Vec<u8>` on std).
///
/// The buffer holds one frame's header and, in whole-frame mode, its body.
/// State beyond the buffer is a few dozen bytes.
#[derive(Debug)]
pub struct Decoder<B> {
    buf: B,
    state: State,
    max_header: u32,
    max_body: u64,
    streaming: bool,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Decoder<B> {
    /// A whole-frame decoder: headers up to
    /// min(4096, buffer length), bodies up to whatever room the header leaves.
    pub fn new(buf: B) -> Self {
        let cap = u32::try_from(buf.as_ref().len()).unwrap_or(u32::MAX);
        Decoder {
            buf,
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

    /// Whether the decoder sits between frames (no partial frame buffered).
    pub fn is_idle(&self) -> bool {
        self.state == START
    }

    /// Whether a streamed body is being passed through.
    pub fn is_streaming_body(&self) -> bool {
        matches!(self.state, State::Stream { .. })
    }

    /// Whether the body of a rejected (or [`Self::skip_body`]-ed) frame is
    /// being discarded.
    pub fn is_skipping(&self) -> bool {
        matches!(self.state, State::Skip { .. })
    }

    /// Whether a bad prefix has put the decoder in its final failed state.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// Bytes that would complete the current stage (prefix, header, body
    /// or skipped body), capped at `usize::MAX`; 0 once failed. Reading at
    /// most this many bytes never reads past the current frame.
    pub fn want(&self) -> usize {
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        match self.state {
            State::Prefix { got, .. } => PREFIX_LEN.saturating_sub(usize::from(got)),
            State::Header { len, got } => to_usize(u64::from(len - got)),
            State::Body { size, got, .. } => size - got,
            State::Stream { remaining } | State::Skip { remaining } => to_usize(remaining),
            State::Failed(_) => 0,
        }
    }

    /// Discards the rest of the body being streamed; the next bytes fed are
    /// skipped up to the end of the frame.
    pub fn skip_body(&mut self) {
        if let State::Stream { remaining } = self.state {
            self.state = State::Skip { remaining };
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

    /// Consumes input; see the [module docs](self).
    pub fn feed<'a>(&'a mut self, input: &'a [u8]) -> (usize, Result<Event<'a>, DecodeError>) {
        let (consumed, step) = self.advance(input);
        let event = step.map(|step| match step {
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
            other => self.view(other),
        });
        (consumed, event)
    }

    /// The borrowed event for a step that refers to the buffer.
    fn view(&self, step: Step) -> Event<'_> {
        match step {
            Step::NeedMore | Step::Chunk { .. } => Event::NeedMore,
            Step::Frame {
                header_len,
                body_len,
            } => Event::Frame(self.frame_view(header_len, body_len)),
            Step::Head {
                header_len,
                data_size,
            } => Event::Head(self.head_view(header_len, data_size)),
        }
    }

    pub(crate) fn frame_view(&self, header_len: usize, body_len: usize) -> Frame<'_> {
        let buf = self.buf.as_ref();
        Frame {
            header_json: buf.get(..header_len).unwrap_or_default(),
            body: buf
                .get(header_len..header_len.saturating_add(body_len))
                .unwrap_or_default(),
        }
    }

    pub(crate) fn head_view(&self, header_len: usize, data_size: u64) -> Head<'_> {
        Head {
            header_json: self.buf.as_ref().get(..header_len).unwrap_or_default(),
            data_size,
        }
    }

    /// The state machine; returns offsets rather than borrows.
    pub(crate) fn advance(&mut self, input: &[u8]) -> (usize, Result<Step, DecodeError>) {
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
                _ => {
                    let copied = self.fill(rest);
                    pos += copied;
                    match self.complete_stage() {
                        Ok(Progress::Ready(step)) => return (pos, Ok(step)),
                        Ok(Progress::Continue) => {}
                        Ok(Progress::Incomplete) => return (pos, Ok(Step::NeedMore)),
                        Err(e) => return (pos, Err(e)),
                    }
                }
            }
        }
    }

    /// The part of the buffer (or prefix array) the current stage still
    /// needs, for readers that fill it directly.
    pub(crate) fn slot(&mut self) -> &mut [u8] {
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
                let start = *header_len as usize + *got;
                buf.get_mut(start..*header_len as usize + *size)
                    .unwrap_or_default()
            }
            _ => &mut [],
        }
    }

    /// Records that `n` bytes of [`Self::slot`] were filled.
    pub(crate) fn filled(&mut self, n: usize) {
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

    /// Bytes still missing in a buffered stage (0 when it is complete).
    fn want_buffered(&self) -> usize {
        match self.state {
            State::Prefix { .. } | State::Header { .. } | State::Body { .. } => self.want(),
            _ => 0,
        }
    }

    /// Copies as much of `input` as the current buffered stage takes.
    fn fill(&mut self, input: &[u8]) -> usize {
        let slot = self.slot();
        let n = slot.len().min(input.len());
        if let (Some(dst), Some(src)) = (slot.get_mut(..n), input.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.filled(n);
        n
    }

    /// Moves past a completed buffered stage.
    pub(crate) fn complete_stage(&mut self) -> Result<Progress, DecodeError> {
        if self.want_buffered() != 0 {
            return Ok(Progress::Incomplete);
        }
        match self.state {
            State::Prefix { bytes, .. } => {
                match prefix::check(prefix::read(bytes), self.max_header) {
                    Ok(len) => self.state = State::Header { len, got: 0 },
                    Err(e) => {
                        self.state = State::Failed(e);
                        return Err(e);
                    }
                }
                Ok(Progress::Continue)
            }
            State::Header { len, .. } => {
                let header_len = len as usize;
                let json = self.buf.as_ref().get(..header_len).unwrap_or_default();
                let data_size = match header::scan_data_size(json) {
                    Ok(size) => size,
                    Err((e, known_size)) => {
                        self.skip(known_size.unwrap_or(0));
                        return Err(DecodeError::Header(e));
                    }
                };
                let room = self.buf.as_ref().len().saturating_sub(header_len);
                let max = self.max_body.min(room as u64);
                if data_size <= max {
                    let size = min_len(data_size, room);
                    if size == 0 {
                        self.state = START;
                        return Ok(Progress::Ready(Step::Frame {
                            header_len,
                            body_len: 0,
                        }));
                    }
                    self.state = State::Body {
                        header_len: len,
                        size,
                        got: 0,
                    };
                    Ok(Progress::Continue)
                } else if self.streaming {
                    self.state = State::Stream {
                        remaining: data_size,
                    };
                    Ok(Progress::Ready(Step::Head {
                        header_len,
                        data_size,
                    }))
                } else {
                    self.skip(data_size);
                    Err(DecodeError::BodyTooLarge { data_size, max })
                }
            }
            State::Body {
                header_len, size, ..
            } => {
                self.state = START;
                Ok(Progress::Ready(Step::Frame {
                    header_len: header_len as usize,
                    body_len: size,
                }))
            }
            _ => Ok(Progress::Continue),
        }
    }

    fn skip(&mut self, remaining: u64) {
        self.state = if remaining == 0 {
            START
        } else {
            State::Skip { remaining }
        };
    }

    /// Streaming: records that `n` body bytes were delivered outside
    /// [`Self::feed`] (by a reader that read them into its own buffer).
    pub(crate) fn consumed_body(&mut self, n: usize) {
        if let State::Stream { remaining } | State::Skip { remaining } = &mut self.state {
            *remaining = remaining.saturating_sub(n as u64);
            if *remaining == 0 {
                self.state = START;
            }
        }
    }
}

/// `min(a, b)` as a usize, without a truncating cast.
fn min_len(a: u64, b: usize) -> usize {
    usize::try_from(a).map_or(b, |a| a.min(b))
}
