//! The chunk-wise services: `echo`, ASCII `upper` and `greet`. Each works
//! on any piece of a body independently, so no body is ever held whole.

/// `greet` wraps the body in these (seed 001).
pub const GREET_PREFIX: &[u8] = b"Hello, ";
/// See [`GREET_PREFIX`].
pub const GREET_SUFFIX: &[u8] = b"!";
/// A `greet` body that ends the session.
pub const GREET_EXIT: &[u8] = b"exit";
/// The reply to [`GREET_EXIT`].
pub const GREET_BYE: &[u8] = b"Bye!";

/// What a built-in service does to a request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transform {
    /// The body verbatim.
    Echo,
    /// ASCII upper-casing (Unicode is the std adapter's, through its
    /// [`super::Service`]).
    Upper,
    /// `Hello, <body>!`.
    Greet,
    /// The service's own chunk-wise map, length for length
    /// ([`super::Service::map`]).
    Map,
}

impl Transform {
    /// The reply body's length for a request body of `size` bytes, or
    /// `None` when it would not fit a u64.
    pub fn reply_size(self, size: u64) -> Option<u64> {
        let extra = self.prefix().len() + self.suffix().len();
        size.checked_add(extra as u64)
    }

    /// Bytes sent before the first body chunk.
    pub fn prefix(self) -> &'static [u8] {
        if self == Transform::Greet {
            GREET_PREFIX
        } else {
            b""
        }
    }

    /// Bytes sent after the last body chunk.
    pub fn suffix(self) -> &'static [u8] {
        if self == Transform::Greet {
            GREET_SUFFIX
        } else {
            b""
        }
    }

    /// Transforms one chunk of the body in place.
    pub fn apply(self, chunk: &mut [u8]) {
        if self == Transform::Upper {
            // ASCII only: a UTF-8 multi-byte sequence never contains ASCII
            // bytes, so chunk boundaries cannot split what this changes.
            chunk.make_ascii_uppercase();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_is_ascii_only_and_chunk_independent() {
        let text = "héllo wörld ß".as_bytes();
        let mut whole = std::vec::Vec::from(text);
        Transform::Upper.apply(&mut whole);
        let mut pieces = std::vec::Vec::from(text);
        for chunk in pieces.chunks_mut(3) {
            Transform::Upper.apply(chunk);
        }
        assert_eq!(whole, pieces);
        assert_eq!(core::str::from_utf8(&whole).unwrap(), "HéLLO WöRLD ß");
    }

    #[test]
    fn greet_size_counts_prefix_and_suffix() {
        assert_eq!(Transform::Greet.reply_size(3), Some(11));
        assert_eq!(Transform::Greet.reply_size(u64::MAX), None);
        assert_eq!(Transform::Echo.reply_size(u64::MAX), Some(u64::MAX));
    }
}
