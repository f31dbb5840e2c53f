//! Every error type of the crate, one small `Copy` enum per operation,
//! each with `Display`, `core::error::Error` and (feature `defmt`)
//! `defmt::Format`.
//!
//! The decode errors' messages are written once, through a small sink:
//! into a [`Message`] (an error reply's `error`, built without `core::fmt`,
//! whose machinery is flash a microcontroller need not spend) and into a
//! `fmt::Formatter` for `Display`. Integers are written without
//! `core::fmt`'s integer code (see `decimal.rs`), so no message adds a panic
//! path on Cortex-M.

use core::fmt;

use heapless::string::StringView;

use crate::bounds::{ERROR_CAPACITY, MAX_DEPTH, MAX_KEYS, MIN_HEADER_LEN, PREFIX_LEN};
use crate::codes::Status;
use crate::decimal::Decimal;

/// An error reply's message: text cut to the header's `error` capacity.
pub type Message = heapless::String<ERROR_CAPACITY>;

/// Where a message is written: text and integers, in order.
pub(crate) trait Sink {
    fn text(&mut self, s: &str);
    fn number(&mut self, n: Decimal);
}

/// A fixed-capacity string: what does not fit is cut at a character
/// boundary (the status says the rest).
impl Sink for StringView {
    fn text(&mut self, s: &str) {
        // Char by char, so the cut falls on a character boundary.
        for c in s.chars() {
            if self.push(c).is_err() {
                break;
            }
        }
    }

    fn number(&mut self, n: Decimal) {
        if n.negative {
            self.text("-");
        }
        let mut buf = [0u8; 20];
        for &d in crate::decimal::digits(n.magnitude, &mut buf) {
            if self.push(char::from(d)).is_err() {
                break;
            }
        }
    }
}

/// `Display` on top of the same text; the first error is kept.
struct Fmt<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    result: fmt::Result,
}

impl Sink for Fmt<'_, '_> {
    fn text(&mut self, s: &str) {
        if self.result.is_ok() {
            self.result = self.f.write_str(s);
        }
    }

    fn number(&mut self, n: Decimal) {
        if self.result.is_ok() {
            self.result = fmt::Display::fmt(&n, self.f);
        }
    }
}

/// Writes `write`'s message through a formatter.
fn display(f: &mut fmt::Formatter<'_>, write: impl FnOnce(&mut Fmt<'_, '_>)) -> fmt::Result {
    let mut sink = Fmt { f, result: Ok(()) };
    write(&mut sink);
    sink.result
}

/// Why a header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum HeaderError {
    /// The header bytes are not UTF-8.
    InvalidUtf8,
    /// The header is not a JSON object.
    NotAnObject,
    /// Malformed JSON (bad token, bad escape, unterminated value).
    Syntax,
    /// Nesting deeper than [`crate::header::MAX_DEPTH`] levels.
    TooDeep,
    /// Something other than whitespace follows the object.
    TrailingBytes,
    /// A top-level key appears twice.
    DuplicateKey,
    /// More than [`crate::header::MAX_KEYS`] top-level keys.
    TooManyKeys,
    /// Neither `data_size` nor `size` is present.
    MissingDataSize,
    /// `data_size`/`size` is not a non-negative integer that fits in a u64.
    InvalidDataSize,
    /// `data_size` and `size` are both present and disagree.
    SizeMismatch,
    /// A known key has a value of the wrong type.
    InvalidField,
    /// A string value does not fit its fixed capacity.
    FieldTooLong,
    /// A user header type could not be deserialized from the (valid) JSON.
    Deserialize,
}

impl HeaderError {
    /// Writes the message (what `Display` writes); the limits are the
    /// constants themselves, so the text cannot drift from them.
    fn write(self, out: &mut (impl Sink + ?Sized)) {
        let text = match self {
            Self::InvalidUtf8 => "header is not valid UTF-8",
            Self::NotAnObject => "header is not a JSON object",
            Self::Syntax => "header is not valid JSON",
            Self::TooDeep => {
                out.text("header nests deeper than ");
                out.number(Decimal::from(MAX_DEPTH));
                " levels"
            }
            Self::TrailingBytes => "header has bytes after the JSON object",
            Self::DuplicateKey => "header has a duplicate key",
            Self::TooManyKeys => {
                out.text("header has more than ");
                out.number(Decimal::from(MAX_KEYS as u64));
                " top-level keys"
            }
            Self::MissingDataSize => "header has no data_size",
            Self::InvalidDataSize => "data_size is not a non-negative integer below 2^64",
            Self::SizeMismatch => "data_size and size disagree",
            Self::InvalidField => "a header field has the wrong type",
            Self::FieldTooLong => "a header field is too long",
            Self::Deserialize => "header does not match the expected type",
        };
        out.text(text);
    }

    /// Whether the header is malformed, so the frame's end is unknown and
    /// the stream cannot go on (SPEC: fatal). The others are well-formed
    /// headers with a wrong key: `bad_request`, body skipped.
    pub const fn is_fatal(self) -> bool {
        !matches!(
            self,
            Self::InvalidField | Self::FieldTooLong | Self::Deserialize
        )
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |out| self.write(out))
    }
}

impl core::error::Error for HeaderError {}

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
    /// The header is malformed, so where its frame ends is unknown. Fatal.
    Header(HeaderError),
    /// The header is well-formed with a valid `data_size`, but a key is
    /// wrong (`bad_request`). Recoverable: the body is skipped.
    Request {
        /// What is wrong.
        error: HeaderError,
        /// The body length, skipped.
        data_size: u64,
        /// Prefix + header bytes: where the skipped body starts in the
        /// frame (see [`DecodeError::request`]).
        head: usize,
    },
    /// The body does not fit whole-frame mode (`too_large`). Recoverable:
    /// the body is skipped.
    BodyTooLarge {
        /// The body length the header declared.
        data_size: u64,
        /// The largest body this decoder holds whole.
        max: u64,
    },
}

impl DecodeError {
    /// The recoverable error for a well-formed header `header_json` with a
    /// valid `data_size` whose key is wrong: what a [`ParseHeader`]
    /// implementation returns, with the head's length filled in.
    ///
    /// [`ParseHeader`]: crate::header::ParseHeader
    pub const fn request(error: HeaderError, data_size: u64, header_json: &[u8]) -> Self {
        Self::Request {
            error,
            data_size,
            head: PREFIX_LEN.saturating_add(header_json.len()),
        }
    }

    /// Where a recoverable error's skipped body starts: prefix + header
    /// bytes ([`DecodeError::Request`]); `None` for the other errors.
    pub const fn head_len(&self) -> Option<usize> {
        match self {
            Self::Request { head, .. } => Some(*head),
            _ => None,
        }
    }

    /// Whether the decoder goes on with the next frame after this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, Self::Request { .. } | Self::BodyTooLarge { .. })
    }

    /// The reply status SPEC gives this error.
    pub fn status(&self) -> Status {
        match self {
            Self::BodyTooLarge { .. } => Status::TooLarge,
            Self::Request { .. } => Status::BadRequest,
            _ => Status::BadFrame,
        }
    }
}

impl DecodeError {
    /// Appends the message (what `Display` writes) to `out`, cut at its
    /// capacity: an error reply's text without `core::fmt`.
    pub fn message(&self, out: &mut Message) {
        self.write(out.as_mut_view());
    }

    fn write(&self, out: &mut (impl Sink + ?Sized)) {
        match *self {
            Self::HeaderTooShort { len } => {
                out.text("header length ");
                out.number(Decimal::from(len));
                out.text(" is below ");
                out.number(Decimal::from(MIN_HEADER_LEN));
            }
            Self::HeaderTooLong { len, max } => {
                out.text("header length ");
                out.number(Decimal::from(len));
                out.text(" exceeds the limit of ");
                out.number(Decimal::from(max));
            }
            Self::Header(e) => {
                out.text("bad header: ");
                e.write(out);
            }
            Self::Request { error, .. } => {
                out.text("bad request: ");
                error.write(out);
            }
            Self::BodyTooLarge { data_size, max } => body_too_large(out, data_size, max),
        }
    }
}

/// `body of N bytes exceeds the limit of M`: a decode error's message, and
/// the engine's for a body over its limit.
pub(crate) fn body_too_large(out: &mut (impl Sink + ?Sized), size: u64, max: u64) {
    out.text("body of ");
    out.number(Decimal::from(size));
    out.text(" bytes exceeds the limit of ");
    out.number(Decimal::from(max));
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |out| self.write(out))
    }
}

impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Header(e) | Self::Request { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small for the frame.
    BufferTooSmall,
    /// The header is longer than the wire's i32 prefix can express.
    HeaderTooLong,
    /// `header.data_size` differs from the body's length.
    SizeMismatch,
    /// A user header type failed to serialize.
    Serialize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BufferTooSmall => "output buffer too small for the frame",
            Self::HeaderTooLong => "header longer than the prefix can express",
            Self::SizeMismatch => "header data_size differs from the body length",
            Self::Serialize => "header type failed to serialize",
        })
    }
}

impl core::error::Error for EncodeError {}

/// Why reading a frame failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ReadError<E> {
    /// The underlying reader failed.
    Io(E),
    /// The bytes are not a valid frame (see [`DecodeError::is_recoverable`]).
    Decode(DecodeError),
    /// The peer closed in the middle of a frame.
    UnexpectedEof,
}

impl<E: fmt::Debug> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "read failed: {e:?}"),
            Self::Decode(e) => write!(f, "{e}"),
            Self::UnexpectedEof => f.write_str("connection closed in the middle of a frame"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for ReadError<E> {}

/// Why writing a frame failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WriteError<E> {
    /// The underlying writer failed.
    Io(E),
    /// The frame could not be encoded.
    Encode(EncodeError),
    /// The writer accepted zero bytes.
    WriteZero,
}

impl<E: fmt::Debug> fmt::Display for WriteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "write failed: {e:?}"),
            Self::Encode(e) => write!(f, "{e}"),
            Self::WriteZero => f.write_str("writer accepted zero bytes"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for WriteError<E> {}

/// A reply body that could not be produced in full (a file that changed
/// while being sent): the announced size cannot be honoured, so the engine
/// ends the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SourceError;

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the reply body could not be produced in full")
    }
}

impl core::error::Error for SourceError {}
