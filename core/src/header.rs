//! The header model: the JSON object between the prefix and the body.
//!
//! [`Header`] holds the keys SPEC names, in fixed-capacity strings, so a
//! header costs a known amount of stack and never allocates;
//! [`CompactHeader`] keeps only what core's services read (`data_size`,
//! `op`, `status`) and validates the same, for a device's connections. Applications with
//! their own keys decode into any `serde::Deserialize` type with
//! [`parse_header_as`] (validated by the same scanner first, so the nesting
//! limit and duplicate-key rule hold for them too).

use heapless::String;

use crate::error::DecodeError;
use crate::json::{self, RawStr, Value};

pub use crate::error::HeaderError;

pub use crate::bounds::{
    ERROR_CAPACITY, MAX_DEPTH, MAX_KEYS, NAME_CAPACITY, OP_CAPACITY, SHA256_CAPACITY,
    STATUS_CAPACITY,
};
pub use crate::codes::{Op, Status};

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

    /// Resets every optional key, keeping the value in place (a `Header`
    /// is ~570 bytes: building a new one per frame would move them all).
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
/// without `get` needs, in a few dozen bytes instead of ~570.
pub trait ServiceHeader: ParseHeader + Default {
    /// The body length.
    fn data_size(&self) -> u64;

    /// The requested service, as written; `None` when `op` is absent (the
    /// service's default).
    fn op_name(&self) -> Option<&str>;

    /// Whether the frame carries `status`: a reply, which is never answered.
    fn is_reply(&self) -> bool;
}

impl ServiceHeader for Header {
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

/// A header with only what core's services and a client's status check
/// read: `data_size`, `op` and the reply `status`, in 40 bytes on Cortex-M
/// (a [`Header`] is ~570: it keeps `name`, `error` and `sha256` too).
///
/// It validates exactly as [`Header`] does: the keys it does not keep must
/// still be strings within [`Header`]'s capacities, so a request gets the
/// same answer from a server on either.
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
                self.status = Some(status_of(code.as_bytes()));
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

impl ServiceHeader for CompactHeader {
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

/// A request header parsed into your own serde type `T` beside what the
/// session reads (`data_size`, `op`, `status`, as [`CompactHeader`]): the
/// header a [`Service`](crate::service::Service) with typed requests
/// declares. Validation is jframe's (fatal versus recoverable as SPEC
/// says); a header that validates but does not fit `T` is a recoverable
/// `bad_request` ([`HeaderError::Deserialize`]). Strings are unescaped
/// through a 256-byte scratch buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typed<T> {
    /// What the session reads.
    pub base: CompactHeader,
    /// Your type.
    pub value: T,
}

impl<T: serde::de::DeserializeOwned> ParseHeader for Typed<T> {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError> {
        let data_size = self.base.parse_into(json)?;
        let mut scratch = [0u8; 256];
        match serde_json_core::from_slice_escaped::<T>(json, &mut scratch) {
            Ok((value, _)) => {
                self.value = value;
                Ok(data_size)
            }
            Err(_) => Err(DecodeError::request(
                HeaderError::Deserialize,
                data_size,
                json,
            )),
        }
    }
}

impl<T: serde::de::DeserializeOwned + Default> ServiceHeader for Typed<T> {
    fn data_size(&self) -> u64 {
        self.base.data_size
    }

    fn op_name(&self) -> Option<&str> {
        self.base.op.as_deref()
    }

    fn is_reply(&self) -> bool {
        self.base.status.is_some()
    }
}

/// SPEC's rule for `op`: `upper` when absent, `Err(name)` when unknown.
fn requested_op(op: Option<&str>) -> Result<Op, &str> {
    match op {
        None => Ok(Op::Upper),
        Some(name) => Op::from_wire(name).ok_or(name),
    }
}

/// A status code as [`Header::status`] reads it: unknown is [`Status::Error`].
fn status_of(code: &[u8]) -> Status {
    Status::ALL
        .into_iter()
        .find(|st| st.as_str().as_bytes() == code)
        .unwrap_or(Status::Error)
}

/// Scans a general header: the sizes resolved, every key SPEC names handed
/// to `store` when it is a string (of another type: `InvalidField`), and
/// `welcome` set when the key `welcome` is `true`.
fn parse_known(
    json: &[u8],
    welcome: &mut bool,
    mut store: impl FnMut(Field, RawStr<'_>) -> Result<(), HeaderError>,
) -> Result<u64, DecodeError> {
    let mut sizes = Sizes::default();
    // The first semantic error is kept while the scan goes on: the whole
    // header must still be validated, and `data_size` found, so that the
    // body can be skipped exactly.
    let mut invalid = None;
    json::scan(json, |key, value| {
        if sizes.visit(key, value)? {
            return Ok(());
        }
        if key.eq_str("welcome") {
            *welcome = matches!(value, Value::Bool(true));
            return Ok(());
        }
        let Some(field) = Field::of(key) else {
            return Ok(());
        };
        let stored = match value {
            Value::Str(s) => store(field, s),
            _ => Err(HeaderError::InvalidField),
        };
        if let Err(e) = stored {
            invalid.get_or_insert(e);
        }
        Ok(())
    })
    .map_err(DecodeError::Header)?;
    let data_size = sizes.resolve().map_err(DecodeError::Header)?;
    match invalid {
        None => Ok(data_size),
        Some(error) => Err(DecodeError::request(error, data_size, json)),
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
            Err(_) => Err(DecodeError::request(
                HeaderError::Deserialize,
                data_size,
                json,
            )),
        }
    }
}

/// Validates `json` as a header and returns its `data_size`; every error is
/// fatal ([`DecodeError::Header`]).
pub fn validate(json: &[u8]) -> Result<u64, DecodeError> {
    if let Some(c) = compact(json) {
        return Ok(c.data_size);
    }
    let mut sizes = Sizes::default();
    json::scan(json, |k, v| sizes.visit(k, v).map(|_| ())).map_err(DecodeError::Header)?;
    sizes.resolve().map_err(DecodeError::Header)
}

/// The keys SPEC names, besides the sizes.
#[derive(Debug, Clone, Copy)]
enum Field {
    Op,
    Name,
    Status,
    Error,
    Sha256,
}

impl Field {
    fn of(key: RawStr<'_>) -> Option<Field> {
        Some(if key.eq_str("op") {
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
            return None;
        })
    }
}

/// A string checked against a capacity without being kept: what
/// [`store`] into a string of that capacity would accept.
fn fits(s: RawStr<'_>, capacity: usize) -> Result<(), HeaderError> {
    if s.unescaped_len() <= capacity {
        Ok(())
    } else {
        Err(HeaderError::FieldTooLong)
    }
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

/// Most keys the compact fast path takes besides `data_size`.
const COMPACT_KEYS: usize = 6;

/// A header in the compact shape peers write: `data_size` first, then
/// string keys.
struct Compact<'a> {
    data_size: u64,
    pairs: [(&'a [u8], &'a [u8]); COMPACT_KEYS],
    len: usize,
}

/// Fast path for the headers nearly every peer sends: `{"data_size":N}`,
/// optionally followed by `,"key":"value"` pairs (jframe writes
/// `{"data_size":12,"op":"echo"}`; Python's `json.dumps` adds a space after
/// `:` and `,`), with keys and values of plain printable ASCII: no escape,
/// no control byte. In that shape matching the bytes is a full validation.
/// Anything else (`None`) takes the general scanner, which also names the
/// error: a leading zero, a `size` or `data_size` key again, a duplicate
/// key, a value too long for its field, more than [`COMPACT_KEYS`] keys.
/// The commonest header of all, `{"data_size":N}` or `{"data_size": N}`,
/// matched on its own: no pairs to set up.
#[inline]
fn only_data_size(json: &[u8]) -> Option<u64> {
    let (head, rest) = json.split_first_chunk::<13>()?;
    if head != b"{\"data_size\":" {
        return None;
    }
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let (last, digits) = rest.split_last()?;
    if *last != b'}' || (digits.len() > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    json::parse_size(digits)
}

#[inline]
fn compact(json: &[u8]) -> Option<Compact<'_>> {
    // Fixed-size comparisons: a few word loads, no call to memcmp.
    let (head, rest) = json.split_first_chunk::<13>()?;
    if head != b"{\"data_size\":" {
        return None;
    }
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let digits_end = rest.iter().position(|b| !b.is_ascii_digit())?;
    let (digits, mut rest) = rest.split_at_checked(digits_end)?;
    if digits.len() > 1 && digits.first() == Some(&b'0') {
        return None; // a leading zero is invalid JSON: let the scanner say so
    }
    let mut out = Compact {
        data_size: json::parse_size(digits)?,
        pairs: [(&[], &[]); COMPACT_KEYS],
        len: 0,
    };
    loop {
        match rest {
            [b'}'] => return Some(out),
            [b',', after @ ..] => {
                let after = after.strip_prefix(b" ").unwrap_or(after);
                let (key, after) = plain_string(after)?;
                let after = after.strip_prefix(b":")?;
                let after = after.strip_prefix(b" ").unwrap_or(after);
                let (value, after) = plain_string(after)?;
                let seen = out.pairs.get(..out.len)?;
                if key == b"data_size" || key == b"size" || seen.iter().any(|(k, _)| *k == key) {
                    return None;
                }
                if capacity_of(key).is_some_and(|cap| value.len() > cap) {
                    return None;
                }
                *out.pairs.get_mut(out.len)? = (key, value);
                out.len += 1;
                rest = after;
            }
            _ => return None,
        }
    }
}

/// A `"..."` of printable ASCII without `\` at the start of `s`: its
/// contents and the rest.
#[inline]
fn plain_string(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let s = s.strip_prefix(b"\"")?;
    // One pass: find the closing quote, refusing anything not plain.
    for (end, &b) in s.iter().enumerate() {
        match b {
            b'"' => return Some((s.get(..end)?, s.get(end + 1..)?)),
            b'\\' | 0..0x20 | 0x7f.. => return None,
            _ => {}
        }
    }
    None
}

/// The capacity of the field a key fills, `None` for keys [`Header`] ignores.
fn capacity_of(key: &[u8]) -> Option<usize> {
    match key {
        b"op" => Some(OP_CAPACITY),
        b"name" => Some(NAME_CAPACITY),
        b"status" => Some(STATUS_CAPACITY),
        b"error" => Some(ERROR_CAPACITY),
        b"sha256" => Some(SHA256_CAPACITY),
        _ => None,
    }
}

/// Plain ASCII that fits (checked by [`compact`]) into a field.
fn store_plain<const N: usize>(slot: &mut Option<String<N>>, value: &[u8]) {
    let out = slot.insert(String::new());
    for &b in value {
        // Printable ASCII: each byte is its own char.
        let _ = out.push(char::from(b));
    }
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
            pairs in proptest::collection::vec(
                ("(op|name|status|error|sha256|x|size|data_size|o\\\\u0070)",
                 "([a-z ]{0,3}|[a-z]{17}|\\\\n|é|[\\x00-\\x7f]{0,2}|7|\\[\\])"),
                0..8,
            ),
            quoted in proptest::prelude::any::<bool>(),
            tail in "(\\}|\\} |,\\}|\\}\\})",
        ) {
            let colon = if spaced { ": " } else { ":" };
            let sep = if spaced { ", " } else { "," };
            let mut json = std::format!("{{\"data_size\"{colon}{size}");
            for (key, value) in &pairs {
                let value = if quoted { std::format!("\"{value}\"") } else { value.clone() };
                json.push_str(&std::format!("{sep}\"{key}\"{colon}{value}"));
            }
            json.push_str(&tail);
            let json = json.as_bytes();
            proptest::prop_assert_eq!(Header::parse(json), parse_general(json));
            if let Some(c) = compact(json) {
                proptest::prop_assert_eq!(Ok(c.data_size), parse_general(json).map(|h| h.data_size));
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
