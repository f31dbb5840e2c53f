//! A small, validating, non-recursive JSON scanner for frame headers.
//!
//! Why not just `serde_json_core`: it has no nesting limit (its recursion
//! overflows a microcontroller's stack on `[[[[...`), it accepts duplicate
//! keys, and `from_slice` hands back escaped strings as they are. This scanner
//! checks everything SPEC (`docs/SPEC.md`) asks of a header in one
//! pass over the bytes, with O(1) state:
//!
//! - the whole header is UTF-8, one object, nothing but whitespace after it;
//! - nesting depth at most [`MAX_DEPTH`] (the top-level object is depth 1),
//!   tracked in a bit stack, never by recursion;
//! - strings have valid escapes (including `\uXXXX` surrogate pairs) and no
//!   raw control characters; numbers and literals follow the JSON grammar;
//! - top-level keys are unique, compared after unescaping (`"a"` and
//!   `"\u0061"` are the same key).
//!
//! Top-level members are handed to a visitor; nested values are validated and
//! skipped. Every index is checked (`get`), so no input can make it panic.

mod string;

use crate::bounds::{MAX_DEPTH, MAX_KEYS};
use crate::error::HeaderError;

pub use string::RawStr;
use string::hex4;

/// Keys remembered (as slices, 16 bytes each on 64-bit hosts, 8 on Cortex-M)
/// for the duplicate check before falling back to re-reading the header.
const REMEMBERED_KEYS: usize = 8;

/// A top-level member's value as the visitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string.
    Str(RawStr<'a>),
    /// A number, as its JSON text (grammar already checked).
    Number(&'a [u8]),
    /// `true` or `false`.
    Bool(bool),
    /// `null`, an object or an array (validated, skipped).
    Other,
}

/// Validates `json` as a header object and calls `visit` for every top-level
/// member, in order.
pub fn scan<'a, F>(json: &'a [u8], mut visit: F) -> Result<(), HeaderError>
where
    F: FnMut(RawStr<'a>, Value<'a>) -> Result<(), HeaderError>,
{
    // Headers are nearly always ASCII, which checks a word at a time.
    if !json.is_ascii() {
        core::str::from_utf8(json).map_err(|_| HeaderError::InvalidUtf8)?;
    }
    let mut p = Parser { json, pos: 0 };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(HeaderError::NotAnObject);
    }
    p.pos += 1;
    p.ws();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        let object_start = p.pos;
        // The first keys are remembered, so small headers check duplicates
        // without re-parsing; beyond that, earlier keys are re-read.
        let mut recent: [RawStr<'a>; REMEMBERED_KEYS] = [RawStr::EMPTY; REMEMBERED_KEYS];
        let mut keys = 0;
        loop {
            let key_start = p.pos;
            let key = p.string()?;
            let duplicate = if keys <= REMEMBERED_KEYS {
                recent.iter().take(keys).any(|other| other.same_key(key))
            } else {
                p.key_seen_before(object_start, key_start, key)?
            };
            if duplicate {
                return Err(HeaderError::DuplicateKey);
            }
            if let Some(slot) = recent.get_mut(keys) {
                *slot = key;
            }
            keys += 1;
            if keys > MAX_KEYS {
                return Err(HeaderError::TooManyKeys);
            }
            p.ws();
            p.expect(b':')?;
            p.ws();
            let value = p.value()?;
            visit(key, value)?;
            p.ws();
            match p.next_byte()? {
                b',' => p.ws(),
                b'}' => break,
                _ => return Err(HeaderError::Syntax),
            }
        }
    }
    p.ws();
    if p.pos != json.len() {
        return Err(HeaderError::TrailingBytes);
    }
    Ok(())
}

struct Parser<'a> {
    json: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.json.get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Result<u8, HeaderError> {
        let b = self.peek().ok_or(HeaderError::Syntax)?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8) -> Result<(), HeaderError> {
        if self.next_byte()? == want {
            Ok(())
        } else {
            Err(HeaderError::Syntax)
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string starting at the opening quote; returns its raw contents.
    fn string(&mut self) -> Result<RawStr<'a>, HeaderError> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            // Skip ordinary bytes in one tight pass, then look at the special one.
            let rest = self.json.get(self.pos..).unwrap_or_default();
            let plain = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            self.pos += plain;
            match self.next_byte()? {
                b'"' => break,
                b'\\' => self.escape()?,
                _ => return Err(HeaderError::Syntax),
            }
        }
        let raw = self
            .json
            .get(start..self.pos - 1)
            .ok_or(HeaderError::Syntax)?;
        Ok(RawStr::validated(raw))
    }

    /// The rest of an escape sequence, after the backslash.
    fn escape(&mut self) -> Result<(), HeaderError> {
        match self.next_byte()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low one.
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(HeaderError::Syntax),
                        }
                    }
                    0xDC00..=0xDFFF => Err(HeaderError::Syntax),
                    _ => Ok(()),
                }
            }
            _ => Err(HeaderError::Syntax),
        }
    }

    fn hex4(&mut self) -> Result<u32, HeaderError> {
        let rest = self.json.get(self.pos..).ok_or(HeaderError::Syntax)?;
        let v = hex4(rest).ok_or(HeaderError::Syntax)?;
        self.pos += 4;
        Ok(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<&'a [u8], HeaderError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(HeaderError::Syntax),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(HeaderError::Syntax);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(HeaderError::Syntax);
            }
        }
        self.json.get(start..self.pos).ok_or(HeaderError::Syntax)
    }

    fn literal(&mut self) -> Result<Value<'a>, HeaderError> {
        let rest = self.json.get(self.pos..).unwrap_or_default();
        for (word, value) in [
            (&b"true"[..], Value::Bool(true)),
            (b"false", Value::Bool(false)),
            (b"null", Value::Other),
        ] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err(HeaderError::Syntax)
    }

    /// A top-level member's value.
    fn value(&mut self) -> Result<Value<'a>, HeaderError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => Ok(Value::Number(self.number()?)),
            Some(b'{' | b'[') => {
                self.skip_container()?;
                Ok(Value::Other)
            }
            _ => self.literal(),
        }
    }

    /// Validates and skips a nested object or array without recursion.
    /// The container being opened is at depth 2 (inside the header object).
    fn skip_container(&mut self) -> Result<(), HeaderError> {
        // Bit i of `arrays` says whether open container i (0 = outermost
        // nested one) is an array. MAX_DEPTH - 1 levels fit in a u32.
        let mut arrays: u32 = 0;
        let mut open: u32 = 0;
        loop {
            // Expecting a value here.
            self.ws();
            match self.peek() {
                Some(open_byte @ (b'{' | b'[')) => {
                    if open + 2 > MAX_DEPTH {
                        return Err(HeaderError::TooDeep);
                    }
                    let is_array = open_byte == b'[';
                    if is_array {
                        arrays |= 1 << open;
                    } else {
                        arrays &= !(1 << open);
                    }
                    open += 1;
                    self.pos += 1;
                    self.ws();
                    let close = if is_array { b']' } else { b'}' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        open -= 1;
                    } else {
                        if !is_array {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => {
                    self.literal()?;
                }
            }
            // After a value: close containers or move to the next element.
            loop {
                if open == 0 {
                    return Ok(());
                }
                let in_array = arrays & (1 << (open - 1)) != 0;
                self.ws();
                match (self.next_byte()?, in_array) {
                    (b',', true) => break,
                    (b',', false) => {
                        self.ws();
                        self.member_key()?;
                        break;
                    }
                    (b']', true) | (b'}', false) => open -= 1,
                    _ => return Err(HeaderError::Syntax),
                }
            }
        }
    }

    /// `"key" :` inside a nested object.
    fn member_key(&mut self) -> Result<(), HeaderError> {
        self.string()?;
        self.ws();
        self.expect(b':')
    }

    /// Whether `key` equals one of the top-level keys between `object_start`
    /// and `key_start` (bytes already validated by this parser).
    fn key_seen_before(
        &self,
        object_start: usize,
        key_start: usize,
        key: RawStr<'a>,
    ) -> Result<bool, HeaderError> {
        let mut earlier = Parser {
            json: self.json.get(..key_start).unwrap_or_default(),
            pos: object_start,
        };
        while earlier.pos < key_start {
            let other = earlier.string()?;
            if other.same_key(key) {
                return Ok(true);
            }
            earlier.ws();
            earlier.expect(b':')?;
            earlier.ws();
            earlier.value()?;
            earlier.ws();
            earlier.expect(b',')?;
            earlier.ws();
        }
        Ok(false)
    }
}

/// Parses a JSON number as a byte count: digits only, no sign, fraction or
/// exponent, at most `u64::MAX`.
#[inline]
pub fn parse_size(number: &[u8]) -> Option<u64> {
    if number.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    if number.len() <= 19 {
        // At most 10^19 - 1: cannot overflow, so no checks per digit.
        for &d in number {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(digit));
        }
        return Some(v);
    }
    for &d in number {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<(), HeaderError> {
        scan(json.as_bytes(), |_, _| Ok(()))
    }

    #[test]
    fn accepts_valid_headers() {
        for ok in [
            "{}",
            " {\"data_size\": 12} ",
            "{\"a\":[1,2,{\"b\":null}],\"c\":{\"d\":[true,false]},\"e\":-1.5e+3}",
            "{\"s\":\"\\ud83d\\ude00 \\\" \\\\ \\/ \\n\"}",
            "{\"empty\":[],\"o\":{}}",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_json() {
        for (bad, err) in [
            ("", HeaderError::NotAnObject),
            ("[]", HeaderError::NotAnObject),
            ("{", HeaderError::Syntax),
            ("{\"a\":}", HeaderError::Syntax),
            ("{\"a\":1,}", HeaderError::Syntax),
            ("{\"a\":01}", HeaderError::Syntax),
            ("{\"a\":1.}", HeaderError::Syntax),
            ("{\"a\":tru}", HeaderError::Syntax),
            ("{\"a\":\"\\x\"}", HeaderError::Syntax),
            ("{\"a\":\"\\ud800\"}", HeaderError::Syntax),
            ("{\"a\":\"\\udc00\"}", HeaderError::Syntax),
            ("{\"a\":\"\t\"}", HeaderError::Syntax),
            ("{\"a\":[1}", HeaderError::Syntax),
            ("{\"a\":{\"b\"}}", HeaderError::Syntax),
            ("{} x", HeaderError::TrailingBytes),
            ("{}{}", HeaderError::TrailingBytes),
            ("{\"a\":1,\"a\":2}", HeaderError::DuplicateKey),
            (
                "{\"a\":1,\"b\":[1],\"\\u0061\":2}",
                HeaderError::DuplicateKey,
            ),
        ] {
            assert_eq!(check(bad), Err(err), "{bad}");
        }
    }

    #[test]
    fn duplicates_found_among_remembered_and_re_read_keys() {
        for keys in [
            2,
            REMEMBERED_KEYS,
            REMEMBERED_KEYS + 1,
            REMEMBERED_KEYS + 5,
            MAX_KEYS - 1,
        ] {
            for dup_of in [0, keys / 2, keys - 1] {
                let mut json = std::string::String::from("{");
                for i in 0..keys {
                    json.push_str(&std::format!("\"k{i}\":[{i}],"));
                }
                // The same key again, once spelled with an escape.
                json.push_str(&std::format!("\"\\u006b{dup_of}\":0}}"));
                assert_eq!(
                    check(&json),
                    Err(HeaderError::DuplicateKey),
                    "{keys} keys, dup of {dup_of}"
                );
                let unique = json.replace("\\u006b", "x");
                assert_eq!(check(&unique), Ok(()), "{unique}");
            }
        }
    }

    #[test]
    fn depth_limit_is_sixteen() {
        let deep = |n: usize| {
            let mut s = std::string::String::from("{\"a\":");
            s.push_str(&"[".repeat(n - 1));
            s.push_str(&"]".repeat(n - 1));
            s.push('}');
            s
        };
        assert_eq!(check(&deep(16)), Ok(()));
        assert_eq!(check(&deep(17)), Err(HeaderError::TooDeep));
        let bomb = "[".repeat(4096);
        assert_eq!(
            check(&std::format!("{{\"a\":{bomb}")),
            Err(HeaderError::TooDeep)
        );
    }

    #[test]
    fn unescapes() {
        let json = br#"{"k":"a\"b\\c\/\u00e9\ud83d\ude00\n"}"#;
        let mut got = None;
        scan(json, |_, v| {
            if let Value::Str(s) = v {
                let mut out = heapless::String::<32>::new();
                s.unescape_into(&mut out)?;
                got = Some(out);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(got.unwrap().as_str(), "a\"b\\c/é😀\n");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_size(b"18446744073709551616"), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"1e3"), None);
        assert_eq!(parse_size(b"1.0"), None);
        // The unchecked loop (up to 19 digits) and the checked one agree.
        assert_eq!(
            parse_size(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(
            parse_size(b"10000000000000000000"),
            Some(10_000_000_000_000_000_000)
        );
        assert_eq!(parse_size(b"99999999999999999990"), None);
        assert_eq!(parse_size(b"123456789012345678/"), None);
        assert_eq!(parse_size(b":"), None);
        assert_eq!(parse_size(b"007"), Some(7));
    }
}
