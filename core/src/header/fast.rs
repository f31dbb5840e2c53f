//! The byte-matching fast path for the headers nearly every peer sends
//! (see [`compact`]); anything else takes the general scanner.

use heapless::String;

use crate::bounds::{ERROR_CAPACITY, NAME_CAPACITY, OP_CAPACITY, SHA256_CAPACITY, STATUS_CAPACITY};
use crate::json;

/// Most keys the compact fast path takes besides `data_size`.
const COMPACT_KEYS: usize = 6;

/// A header in the compact shape peers write: `data_size` first, then
/// string keys.
pub(super) struct Compact<'a> {
    pub(super) data_size: u64,
    pub(super) pairs: [(&'a [u8], &'a [u8]); COMPACT_KEYS],
    pub(super) len: usize,
}

/// The commonest header of all, `{"data_size":N}` or `{"data_size": N}`,
/// matched on its own: no pairs to set up.
#[inline]
pub(super) fn only_data_size(json: &[u8]) -> Option<u64> {
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

/// Fast path for the headers nearly every peer sends: `{"data_size":N}`,
/// optionally followed by `,"key":"value"` pairs (jframe writes
/// `{"data_size":12,"op":"echo"}`; Python's `json.dumps` adds a space after
/// `:` and `,`), with keys and values of plain printable ASCII: no escape,
/// no control byte. In that shape matching the bytes is a full validation.
/// Anything else (`None`) takes the general scanner, which also names the
/// error: a leading zero, a `size` or `data_size` key again, a duplicate
/// key, a value too long for its field, more than [`COMPACT_KEYS`] keys.
#[inline]
pub(super) fn compact(json: &[u8]) -> Option<Compact<'_>> {
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
pub(super) fn store_plain<const N: usize>(slot: &mut Option<String<N>>, value: &[u8]) {
    let out = slot.insert(String::new());
    for &b in value {
        // Printable ASCII: each byte is its own char.
        let _ = out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HeaderError;
    use crate::header::Header;

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
}
