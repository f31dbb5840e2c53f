//! The header model: the JSON object between the prefix and the body.
//!
//! [`Header`] holds the keys SPEC names, in fixed-capacity strings, so a
//! header costs a known amount of stack and never allocates. Applications with
//! their own keys decode into any `serde::Deserialize` type with
//! [`parse_header_as`] (validated by the same scanner first, so the nesting
//! limit and duplicate-key rule hold for them too).

use core::fmt;

use heapless::String;

use crate::decoder::DecodeError;
use crate::json::{self, RawStr, Value};

pub use crate::json::{MAX_DEPTH, MAX_KEYS};

pub use crate::error::HeaderError;

/// Capacity of [`Header::op`], in bytes.
pub const OP_CAPACITY: usize = 16;
/// Capacity of [`Header::name`], in bytes.
pub const NAME_CAPACITY: usize = 256;
/// Capacity of [`Header::status`], in bytes.
pub const STATUS_CAPACITY: usize = 16;
/// Capacity of [`Header::error`], in bytes.
pub const ERROR_CAPACITY: usize = 128;
/// Capacity of [`Header::sha256`], in bytes (a hex SHA-256 digest).
pub const SHA256_CAPACITY: usize = 64;

/// The status codes of SPEC, as carried in a reply's `status` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Status {
    /// Success.
    Ok,
    /// `get` of a file that does not exist.
    NotFound,
    /// `get` outside the root, or without a root.
    Forbidden,
    /// The body is larger than the receiver accepts.
    TooLarge,
    /// The frame itself was malformed.
    BadFrame,
    /// A well-formed frame asking for something unknown or invalid.
    BadRequest,
    /// A datagram shorter than its header says.
    Truncated,
    /// The server is at its connection limit.
    Busy,
    /// Any other failure.
    Error,
}

impl Status {
    /// Every status, for iteration in tests and tools.
    pub const ALL: [Status; 9] = [
        Status::Ok,
        Status::NotFound,
        Status::Forbidden,
        Status::TooLarge,
        Status::BadFrame,
        Status::BadRequest,
        Status::Truncated,
        Status::Busy,
        Status::Error,
    ];

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NotFound => "not_found",
            Status::Forbidden => "forbidden",
            Status::TooLarge => "too_large",
            Status::BadFrame => "bad_frame",
            Status::BadRequest => "bad_request",
            Status::Truncated => "truncated",
            Status::Busy => "busy",
            Status::Error => "error",
        }
    }

    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The services of SPEC, as named by a request's `op` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Op {
    /// Upper-case the body (the default when `op` is absent).
    Upper,
    /// Return the body verbatim.
    Echo,
    /// `Hello, <body>!`; `exit` ends the session.
    Greet,
    /// Fetch the file `name`.
    Get,
}

impl Op {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Upper => "upper",
            Op::Echo => "echo",
            Op::Greet => "greet",
            Op::Get => "get",
        }
    }

    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Op> {
        [Op::Upper, Op::Echo, Op::Greet, Op::Get]
            .into_iter()
            .find(|op| op.as_str() == s)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame header with the keys SPEC defines. Unknown keys are ignored on
/// decode; absent optional keys are `None`.
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
        match &self.op {
            None => Ok(Op::Upper),
            Some(s) => Op::from_wire(s).ok_or(s.as_str()),
        }
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

    /// Resets every optional key, keeping the value in place (a `Header`
    /// is ~570 bytes: building a new one per frame would move them all).
    fn clear(&mut self, data_size: u64) {
        self.data_size = data_size;
        self.op = None;
        self.name = None;
        self.status = None;
        self.error = None;
        self.sha256 = None;
    }
}

impl ParseHeader for Header {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError> {
        if let Some(n) = only_data_size(json) {
            self.clear(n);
            return Ok(n);
        }
        self.clear(0);
        let mut sizes = Sizes::default();
        // The first semantic error is kept while the scan goes on: the whole
        // header must still be validated, and `data_size` found, so that the
        // body can be skipped exactly.
        let mut invalid = None;
        json::scan(json, |key, value| {
            if sizes.visit(key, value)? {
                return Ok(());
            }
            let slot = if key.eq_str("op") {
                Field::Op
            } else if key.eq_str("name") {
                Field::Name
            } else if key.eq_str("status") {
                Field::Status
            } else if key.eq_str("error") {
                Field::Error
            } else if key.eq_str("sha256") {
                Field::Sha256
            } else {
                return Ok(());
            };
            let stored = match value {
                Value::Str(s) => match slot {
                    Field::Op => store(&mut self.op, s),
                    Field::Name => store(&mut self.name, s),
                    Field::Status => store(&mut self.status, s),
                    Field::Error => store(&mut self.error, s),
                    Field::Sha256 => store(&mut self.sha256, s),
                },
                _ => Err(HeaderError::InvalidField),
            };
            if let Err(e) = stored {
                invalid.get_or_insert(e);
            }
            Ok(())
        })
        .map_err(DecodeError::Header)?;
        let data_size = sizes.resolve().map_err(DecodeError::Header)?;
        self.data_size = data_size;
        match invalid {
            None => Ok(data_size),
            Some(error) => Err(DecodeError::Request { error, data_size }),
        }
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

/// An application's own header type, decoded with serde after jframe's
/// validation. Strings are unescaped through a 256-byte scratch buffer, so
/// an escaped string longer than that is a [`HeaderError::Deserialize`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Serde<T>(pub T);

impl<T: serde::de::DeserializeOwned> ParseHeader for Serde<T> {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError> {
        let data_size = validate(json)?;
        let mut scratch = [0u8; 256];
        match serde_json_core::from_slice_escaped::<T>(json, &mut scratch) {
            Ok((value, _)) => {
                self.0 = value;
                Ok(data_size)
            }
            Err(_) => Err(DecodeError::Request {
                error: HeaderError::Deserialize,
                data_size,
            }),
        }
    }
}

/// Validates `json` as a header and returns its `data_size`; every error is
/// fatal ([`DecodeError::Header`]).
pub fn validate(json: &[u8]) -> Result<u64, DecodeError> {
    if let Some(n) = only_data_size(json) {
        return Ok(n);
    }
    let mut sizes = Sizes::default();
    json::scan(json, |k, v| sizes.visit(k, v).map(|_| ())).map_err(DecodeError::Header)?;
    sizes.resolve().map_err(DecodeError::Header)
}

enum Field {
    Op,
    Name,
    Status,
    Error,
    Sha256,
}

fn store<const N: usize>(slot: &mut Option<String<N>>, s: RawStr<'_>) -> Result<(), HeaderError> {
    // Unescape in place: a Header is ~570 bytes, and moving strings of up to
    // 256 bytes around was a fifth of the parse time.
    s.unescape_into(slot.insert(String::new()))
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

/// `data_size` and `size` as seen while scanning.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sizes {
    data_size: Option<u64>,
    size: Option<u64>,
}

impl Sizes {
    /// Records the member if it is a size key; returns whether it was.
    pub(crate) fn visit(&mut self, key: RawStr<'_>, value: Value<'_>) -> Result<bool, HeaderError> {
        let slot = if key.eq_str("data_size") {
            &mut self.data_size
        } else if key.eq_str("size") {
            &mut self.size
        } else {
            return Ok(false);
        };
        let Value::Number(n) = value else {
            return Err(HeaderError::InvalidDataSize);
        };
        *slot = Some(json::parse_size(n).ok_or(HeaderError::InvalidDataSize)?);
        Ok(true)
    }

    pub(crate) fn resolve(&self) -> Result<u64, HeaderError> {
        match (self.data_size, self.size) {
            (Some(a), Some(b)) if a != b => Err(HeaderError::SizeMismatch),
            (Some(a), _) | (None, Some(a)) => Ok(a),
            (None, None) => Err(HeaderError::MissingDataSize),
        }
    }
}

/// Fast path for the header nearly every peer sends: exactly
/// `{"data_size":N}` (jframe) or `{"data_size": N}` (Python's `json.dumps`).
/// Plain ASCII with one key, so matching the bytes is a full validation;
/// anything else (`None`) takes the general scanner.
#[inline]
fn only_data_size(json: &[u8]) -> Option<u64> {
    // Fixed-size comparisons: a few word loads, no call to memcmp.
    let (head, rest) = json.split_first_chunk::<13>()?;
    if head != b"{\"data_size\":" {
        return None;
    }
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let (last, digits) = rest.split_last()?;
    if *last != b'}' {
        return None;
    }
    if digits.len() > 1 && digits.first() == Some(&b'0') {
        return None; // a leading zero is invalid JSON: let the scanner say so
    }
    json::parse_size(digits)
}

/// Decodes a header into the caller's own serde type, after the same
/// validation [`Header::parse`] applies (depth, duplicates, trailing bytes,
/// a valid `data_size`). Escaped strings are unescaped into `scratch`, which
/// must be as large as the longest escaped string.
pub fn parse_header_as<'a, T>(json: &'a [u8], scratch: &mut [u8]) -> Result<T, HeaderError>
where
    T: serde::Deserialize<'a>,
{
    validate(json).map_err(|e| match e {
        DecodeError::Header(e) => e,
        _ => HeaderError::Syntax,
    })?;
    match serde_json_core::from_slice_escaped::<T>(json, scratch) {
        Ok((value, _)) => Ok(value),
        Err(_) => Err(HeaderError::Deserialize),
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

    /// The full scanner, without the fast path.
    fn parse_general(json: &[u8]) -> Result<Header, HeaderError> {
        let mut padded = std::vec::Vec::from(json);
        padded.insert(1, b' '); // defeats the byte-matching fast path
        if json.first() != Some(&b'{') {
            return Header::parse(json);
        }
        Header::parse(&padded)
    }

    proptest::proptest! {
        /// The fast path gives what the scanner gives, on near-misses too.
        #[test]
        fn fast_path_agrees_with_the_scanner(
            size in "(0|[1-9][0-9]{0,20}|0[0-9]|-1|1\\.5|1e3|)",
            spaced in proptest::prelude::any::<bool>(),
            tail in "(\\}|\\} |,\\}|,\"op\":\"x\"\\}|\\}\\})",
        ) {
            let colon = if spaced { ": " } else { ":" };
            let json = std::format!("{{\"data_size\"{colon}{size}{tail}");
            let json = json.as_bytes();
            proptest::prop_assert_eq!(Header::parse(json), parse_general(json));
            if let Some(n) = only_data_size(json) {
                proptest::prop_assert_eq!(Ok(n), parse_general(json).map(|h| h.data_size));
            }
        }
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

    #[test]
    fn user_types() {
        #[derive(serde::Deserialize)]
        struct Mine<'a> {
            data_size: u64,
            tag: heapless::String<8>,
            #[serde(borrow)]
            raw: &'a str,
        }
        let json = br#"{"data_size":3,"tag":"a\"b","raw":"plain","extra":[1]}"#;
        let m: Mine<'_> = parse_header_as(json, &mut [0; 16]).unwrap();
        assert_eq!((m.data_size, m.tag.as_str(), m.raw), (3, "a\"b", "plain"));
        let deep = br#"{"data_size":3,"tag":"x","raw":"y","d":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}"#;
        assert_eq!(
            parse_header_as::<Mine<'_>>(deep, &mut [0; 16]).err(),
            Some(HeaderError::TooDeep)
        );
    }
}
