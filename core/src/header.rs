//! The header model: the JSON object between the prefix and the body.
//!
//! [`Header`] holds the keys SPEC names, in fixed-capacity strings, so a
//! header costs a known amount of stack and never allocates;
//! [`CompactHeader`] keeps only what core's services read (`data_size`,
//! `op`, `status`) and validates the same, for a device's connections. Applications with
//! their own keys decode into any `serde::Deserialize` type with
//! [`parse_header_as`] (validated by the same scanner first, so the nesting
//! limit and duplicate-key rule hold for them too).

mod fast;
mod scan;
mod typed;

use heapless::String;

use crate::error::DecodeError;

use fast::{compact, only_data_size, store_plain};
use scan::{Field, fits, parse_known, store};

pub use crate::error::HeaderError;
pub use scan::validate;
pub use typed::{Serde, Typed, parse_header_as};

pub use crate::bounds::{
    ERROR_CAPACITY, MAX_DEPTH, MAX_KEYS, NAME_CAPACITY, OP_CAPACITY, SHA256_CAPACITY,
    STATUS_CAPACITY,
};
pub use crate::codes::{Op, Status};

/// A frame header with the keys SPEC defines. Unknown keys are ignored on
/// decode; absent optional keys are `None`.
///
/// Its strings are fixed-capacity (the `*_CAPACITY` constants), so a
/// `Header` is about 570 bytes wherever it lives; [`CompactHeader`] keeps
/// only what services read, in 40 bytes on Cortex-M.
///
/// # Example
///
/// ```
/// use jframe::{Header, Op, Status};
///
/// let request = Header::parse(br#"{"data_size": 5, "op": "echo"}"#)?;
/// assert_eq!((request.data_size, request.op()), (5, Ok(Op::Echo)));
/// // A reply without `status` (as the seed servers send) reads as `ok`.
/// assert_eq!(Header::new(5).reply_status(), Status::Ok);
/// # Ok::<(), jframe::HeaderError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Body length in bytes (`data_size`, or its alias `size`).
    pub data_size: u64,
    /// Requested service.
    pub op: Option<String<OP_CAPACITY>>,
    /// File name for `get`.
    pub name: Option<String<NAME_CAPACITY>>,
    /// Reply status (`ok` or an error code).
    pub status: Option<String<STATUS_CAPACITY>>,
    /// Human-readable error message.
    pub error: Option<String<ERROR_CAPACITY>>,
    /// Hex SHA-256 of the body.
    pub sha256: Option<String<SHA256_CAPACITY>>,
    /// `"welcome": true`: a server's welcome frame, sent unasked when a
    /// session starts, not a reply to a request (SPEC). Any other value of
    /// the key is ignored, like an unknown key.
    pub welcome: bool,
}

impl Header {
    /// A header with only `data_size`.
    pub fn new(data_size: u64) -> Self {
        Header {
            data_size,
            ..Header::default()
        }
    }

    /// A request for `op` with a body of `data_size` bytes.
    pub fn request(op: Op, data_size: u64) -> Self {
        let mut h = Header::new(data_size);
        h.op = Some(fixed(op.as_str()));
        h
    }

    /// A reply with `status` and a body of `data_size` bytes.
    pub fn reply(status: Status, data_size: u64) -> Self {
        let mut h = Header::new(data_size);
        h.status = Some(fixed(status.as_str()));
        h
    }

    /// An error reply (empty body) with `status` and a message. The message is
    /// cut at a character boundary if it exceeds [`ERROR_CAPACITY`].
    pub fn error_reply(status: Status, message: &str) -> Self {
        let mut h = Header::reply(status, 0);
        h.error = Some(truncated(message));
        h
    }

    /// Sets `name`; fails if it exceeds [`NAME_CAPACITY`].
    pub fn with_name(mut self, name: &str) -> Result<Self, HeaderError> {
        self.name = Some(String::try_from(name).map_err(|_| HeaderError::FieldTooLong)?);
        Ok(self)
    }

    /// Sets `sha256`; fails if it exceeds [`SHA256_CAPACITY`].
    pub fn with_sha256(mut self, hex: &str) -> Result<Self, HeaderError> {
        self.sha256 = Some(String::try_from(hex).map_err(|_| HeaderError::FieldTooLong)?);
        Ok(self)
    }

    /// The requested service: `Ok(Op::Upper)` when `op` is absent,
    /// `Err(name)` for an unknown one.
    pub fn op(&self) -> Result<Op, &str> {
        requested_op(self.op.as_deref())
    }

    /// The reply status, `None` when absent. An unknown code reads as
    /// [`Status::Error`], so a client never mistakes it for success.
    pub fn status(&self) -> Option<Status> {
        self.status
            .as_ref()
            .map(|s| Status::from_wire(s).unwrap_or(Status::Error))
    }

    /// Parses and validates a header's JSON bytes. The first error found
    /// is returned; [`HeaderError::is_fatal`] tells whether the frame's
    /// end is still known.
    pub fn parse(json: &[u8]) -> Result<Header, HeaderError> {
        let mut h = Header::default();
        match h.parse_into(json) {
            Ok(_) => Ok(h),
            Err(DecodeError::Request { error, .. }) => Err(error),
            Err(DecodeError::Header(e)) => Err(e),
            Err(_) => Err(HeaderError::Syntax),
        }
    }

    /// Resets every optional key, keeping the value in place (see the
    /// size on [`Header`]: building a new one per frame would move it all).
    fn clear(&mut self, data_size: u64) {
        self.data_size = data_size;
        self.op = None;
        self.name = None;
        self.status = None;
        self.error = None;
        self.sha256 = None;
        self.welcome = false;
    }

    /// The status SPEC reads in a reply: `status`, or `ok` when it is
    /// absent (the seed servers' replies carry none); an unknown code is
    /// [`Status::Error`]. The one place clients apply that rule.
    pub fn reply_status(&self) -> Status {
        self.status().unwrap_or(Status::Ok)
    }
}

impl ParseHeader for Header {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError> {
        if let Some(n) = only_data_size(json) {
            self.clear(n);
            return Ok(n);
        }
        if let Some(c) = compact(json) {
            self.clear(c.data_size);
            for &(key, value) in c.pairs.get(..c.len).unwrap_or_default() {
                match key {
                    b"op" => store_plain(&mut self.op, value),
                    b"name" => store_plain(&mut self.name, value),
                    b"status" => store_plain(&mut self.status, value),
                    b"error" => store_plain(&mut self.error, value),
                    b"sha256" => store_plain(&mut self.sha256, value),
                    _ => {}
                }
            }
            return Ok(c.data_size);
        }
        self.clear(0);
        let data_size = parse_known(json, &mut self.welcome, |field, s| match field {
            Field::Op => store(&mut self.op, s),
            Field::Name => store(&mut self.name, s),
            Field::Status => store(&mut self.status, s),
            Field::Error => store(&mut self.error, s),
            Field::Sha256 => store(&mut self.sha256, s),
        })?;
        self.data_size = data_size;
        Ok(data_size)
    }
}

/// What core's protocol engine reads from a request's header
/// ([`crate::service`]): its size, its `op`, and whether it is a reply.
/// jframe's [`Header`] is one; [`CompactHeader`] is the one a server
/// without `get` needs, a fraction of its size.
pub trait ServiceHeader: ParseHeader + Default {
    /// The body length.
    fn data_size(&self) -> u64;

    /// The requested service, as written; `None` when `op` is absent (the
    /// service's default).
    fn op_name(&self) -> Option<&str>;

    /// Whether the frame carries `status`: a reply, which is never answered.
    fn is_reply(&self) -> bool;
}

/// [`ServiceHeader`] for a type with the fields `data_size`, `op` and
/// `status` (an `Option`): jframe's two header models.
macro_rules! service_header {
    ($($t:ty),*) => {$(
        impl ServiceHeader for $t {
            fn data_size(&self) -> u64 {
                self.data_size
            }

            fn op_name(&self) -> Option<&str> {
                self.op.as_deref()
            }

            fn is_reply(&self) -> bool {
                self.status.is_some()
            }
        }
    )*};
}

service_header!(Header, CompactHeader);

/// A header with only what core's services and a client's status check
/// read: `data_size`, `op` and the reply `status` (a [`Header`] keeps
/// `name`, `error` and `sha256` too: see its size).
///
/// It validates exactly as [`Header`] does: the keys it does not keep must
/// still be strings within [`Header`]'s capacities, so a request gets the
/// same answer from a server on either.
///
/// # Example
///
/// ```
/// use jframe::{CompactHeader, Decoder, Event, Op};
///
/// let mut decoder = Decoder::with_header([0u8; 128], CompactHeader::default());
/// let json = br#"{"data_size":2,"op":"echo","name":"ignored"}"#;
/// let wire = [&(json.len() as i32).to_le_bytes()[..], json, b"hi"].concat();
/// match decoder.feed(&wire) {
///     (_, Ok(Event::Frame(frame))) => assert_eq!(frame.header.op(), Ok(Op::Echo)),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactHeader {
    /// Body length in bytes (`data_size`, or its alias `size`).
    pub data_size: u64,
    /// Requested service.
    pub op: Option<String<OP_CAPACITY>>,
    /// Reply status; an unknown code reads as [`Status::Error`].
    pub status: Option<Status>,
}

impl CompactHeader {
    /// The requested service: `Ok(Op::Upper)` when `op` is absent,
    /// `Err(name)` for an unknown one.
    pub fn op(&self) -> Result<Op, &str> {
        requested_op(self.op.as_deref())
    }

    /// The reply status, `None` when absent (as [`Header::status`]).
    pub fn status(&self) -> Option<Status> {
        self.status
    }
}

impl ParseHeader for CompactHeader {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError> {
        // No byte-matching fast path (`compact`): on a microcontroller it
        // is a kilobyte of flash to save microseconds; the scanner alone.
        self.op = None;
        self.status = None;
        self.data_size = 0;
        let data_size = parse_known(json, &mut false, |field, s| match field {
            Field::Op => store(&mut self.op, s),
            Field::Status => {
                let mut code = String::<STATUS_CAPACITY>::new();
                s.unescape_into(&mut code)?;
                // An unknown code reads as an error, as in `Header::status`.
                self.status = Some(Status::from_wire(&code).unwrap_or(Status::Error));
                Ok(())
            }
            Field::Name => fits(s, NAME_CAPACITY),
            Field::Error => fits(s, ERROR_CAPACITY),
            Field::Sha256 => fits(s, SHA256_CAPACITY),
        })?;
        self.data_size = data_size;
        Ok(data_size)
    }
}

/// SPEC's rule for `op`: `upper` when absent, `Err(name)` when unknown.
fn requested_op(op: Option<&str>) -> Result<Op, &str> {
    match op {
        None => Ok(Op::Upper),
        Some(name) => Op::from_wire(name).ok_or(name),
    }
}

/// How the decoder turns a header's JSON into a value: jframe's own
/// [`Header`], or an application's type (see [`Serde`]).
///
/// An implementation validates with jframe's scanner (depth, duplicates,
/// UTF-8, `data_size`) and reports SPEC's two classes of error:
/// [`DecodeError::Header`] when the header is malformed, so the frame's end
/// is unknown (fatal), and [`DecodeError::Request`] when it is well-formed
/// with a valid `data_size` but a key is wrong (recoverable: the body is
/// skipped).
pub trait ParseHeader {
    /// Overwrites `self` with the header in `json`; returns `data_size`.
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError>;
}

/// A short static string into a fixed one (all callers pass wire names that fit).
fn fixed<const N: usize>(s: &str) -> String<N> {
    truncated(s)
}

/// `s` cut at the last character boundary that fits `N`.
fn truncated<const N: usize>(s: &str) -> String<N> {
    let mut out = String::new();
    push_truncated(out.as_mut_view(), s);
    out
}

/// Non-generic, so each capacity does not get its own copy in flash.
fn push_truncated(out: &mut heapless::string::StringView, s: &str) {
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_fields() {
        let h = Header::parse(
            br#"{"data_size": 5, "op": "get", "name": "a\/b.txt", "status": "ok",
                "error": "caf\u00e9", "sha256": "ab", "x": {"y": [1]}}"#,
        )
        .unwrap();
        assert_eq!(h.data_size, 5);
        assert_eq!(h.op(), Ok(Op::Get));
        assert_eq!(h.name.as_deref(), Some("a/b.txt"));
        assert_eq!(h.status(), Some(Status::Ok));
        assert_eq!(h.error.as_deref(), Some("café"));
        assert_eq!(h.sha256.as_deref(), Some("ab"));
    }

    #[test]
    fn size_alias() {
        assert_eq!(Header::parse(br#"{"size": 2}"#).unwrap().data_size, 2);
        assert_eq!(
            Header::parse(br#"{"size":2,"data_size":2}"#)
                .unwrap()
                .data_size,
            2
        );
        assert_eq!(
            Header::parse(br#"{"size":2,"data_size":3}"#),
            Err(HeaderError::SizeMismatch)
        );
    }

    #[test]
    fn field_errors() {
        assert_eq!(
            Header::parse(br#"{"data_size":1,"op":5}"#),
            Err(HeaderError::InvalidField)
        );
        let long = std::format!(r#"{{"data_size":1,"op":"{}"}}"#, "x".repeat(17));
        assert_eq!(
            Header::parse(long.as_bytes()),
            Err(HeaderError::FieldTooLong)
        );
        assert_eq!(
            Header::parse(br#"{"op":"echo"}"#),
            Err(HeaderError::MissingDataSize)
        );
    }

    #[test]
    fn unknown_op_and_status() {
        let h = Header::parse(br#"{"data_size":0,"op":"dance","status":"weird"}"#).unwrap();
        assert_eq!(h.op(), Err("dance"));
        assert_eq!(h.status(), Some(Status::Error));
        assert_eq!(Header::new(0).op(), Ok(Op::Upper));
    }
}
