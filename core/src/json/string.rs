//! A JSON string's contents as the scanner validated them ([`RawStr`]),
//! compared and unescaped without a copy ([`Unescape`]).

use crate::error::HeaderError;

/// The raw contents of a JSON string between its quotes, already validated:
/// escapes are well formed and surrogates come in pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawStr<'a>(&'a [u8]);

impl<'a> RawStr<'a> {
    /// The empty string.
    pub(super) const EMPTY: RawStr<'static> = RawStr(&[]);

    /// The contents of a string the scanner has validated.
    pub(super) const fn validated(raw: &'a [u8]) -> Self {
        RawStr(raw)
    }

    /// The unescaped characters.
    pub fn chars(&self) -> Unescape<'a> {
        Unescape { rest: self.0 }
    }

    /// Whether the unescaped string equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        // Byte equality settles almost every comparison (different lengths
        // fail at once); only a key with an escape needs unescaping.
        if self.0 == s.as_bytes() {
            return !s.contains('\\');
        }
        self.0.contains(&b'\\') && self.chars().eq(s.chars())
    }

    /// Whether two keys are the same after unescaping.
    pub(super) fn same_key(&self, other: RawStr<'_>) -> bool {
        if self.0 == other.0 {
            return true;
        }
        let escaped = self.0.contains(&b'\\') || other.0.contains(&b'\\');
        escaped && self.chars().eq(other.chars())
    }

    /// The length in bytes of the unescaped (UTF-8) string.
    pub fn unescaped_len(&self) -> usize {
        if !self.0.contains(&b'\\') {
            return self.0.len();
        }
        self.chars().map(char::len_utf8).sum()
    }

    /// Unescapes into a fixed-capacity string.
    pub fn unescape_into<const N: usize>(
        &self,
        out: &mut heapless::String<N>,
    ) -> Result<(), HeaderError> {
        // One non-generic body for every capacity: this is flash on a microcontroller.
        self.unescape_into_view(out.as_mut_view())
    }

    fn unescape_into_view(
        &self,
        out: &mut heapless::string::StringView,
    ) -> Result<(), HeaderError> {
        out.clear();
        if !self.0.contains(&b'\\') {
            // Validated UTF-8 on the way in, so this cannot fail; map rather than unwrap.
            let s = core::str::from_utf8(self.0).map_err(|_| HeaderError::InvalidUtf8)?;
            return out.push_str(s).map_err(|_| HeaderError::FieldTooLong);
        }
        for c in self.chars() {
            out.push(c).map_err(|_| HeaderError::FieldTooLong)?;
        }
        Ok(())
    }
}

/// Iterator over the characters of a validated [`RawStr`].
#[derive(Debug, Clone)]
pub struct Unescape<'a> {
    rest: &'a [u8],
}

impl Iterator for Unescape<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let (&first, tail) = self.rest.split_first()?;
        if first != b'\\' {
            // Decode one UTF-8 scalar; the input was validated as UTF-8.
            let len = utf8_len(first);
            let (head, rest) = self.rest.split_at_checked(len)?;
            self.rest = rest;
            return core::str::from_utf8(head).ok()?.chars().next();
        }
        let (&esc, tail) = tail.split_first()?;
        self.rest = tail;
        let c = match esc {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(tail)?;
                self.rest = tail.get(4..)?;
                if (0xD800..0xDC00).contains(&hi) {
                    // Validation guaranteed a `\uDC00..\uDFFF` follows.
                    let lo = hex4(self.rest.get(2..)?)?;
                    self.rest = self.rest.get(6..)?;
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return char::from_u32(code);
                }
                return char::from_u32(hi);
            }
            _ => return None,
        };
        Some(c)
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

pub(super) fn hex4(bytes: &[u8]) -> Option<u32> {
    let digits = bytes.get(..4)?;
    let mut v = 0u32;
    for &d in digits {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u32::from(n);
    }
    Some(v)
}
