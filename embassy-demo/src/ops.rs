//! The services of SPEC.md that the device answers, applied to a body one
//! chunk at a time so no body is ever held whole.

use jframe::Op;

/// What the device does with a request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// ASCII upper-casing (the firmware's `upper`).
    Upper,
    /// The body verbatim.
    Echo,
    /// `Hello, <body>!`.
    Greet,
}

/// `greet` wraps the body in these.
pub const GREET_PREFIX: &[u8] = b"Hello, ";
/// See [`GREET_PREFIX`].
pub const GREET_SUFFIX: &[u8] = b"!";
/// A `greet` body that ends the session.
pub const GREET_EXIT: &[u8] = b"exit";
/// The reply to [`GREET_EXIT`].
pub const GREET_BYE: &[u8] = b"Bye!";

impl Service {
    /// The service for a request op, `None` for ops this device does not
    /// serve (`get` needs a file system; unknown ops are bad requests).
    pub fn for_op(op: Op) -> Option<Service> {
        match op {
            Op::Upper => Some(Service::Upper),
            Op::Echo => Some(Service::Echo),
            Op::Greet => Some(Service::Greet),
            // `get` needs a file system; ops added later are not served.
            _ => None,
        }
    }

    /// Bytes the reply body adds around the request body, or `None` when
    /// the reply's length would overflow a u64.
    pub fn reply_size(self, body_size: u64) -> Option<u64> {
        match self {
            Service::Upper | Service::Echo => Some(body_size),
            // Both constants are a few bytes: the casts cannot truncate.
            Service::Greet => {
                body_size.checked_add((GREET_PREFIX.len() + GREET_SUFFIX.len()) as u64)
            }
        }
    }

    /// Bytes sent before the first body chunk.
    pub fn prefix(self) -> &'static [u8] {
        if self == Service::Greet {
            GREET_PREFIX
        } else {
            b""
        }
    }

    /// Bytes sent after the last body chunk.
    pub fn suffix(self) -> &'static [u8] {
        if self == Service::Greet {
            GREET_SUFFIX
        } else {
            b""
        }
    }

    /// Transforms one chunk of the body in place.
    pub fn apply(self, chunk: &mut [u8]) {
        if self == Service::Upper {
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
        let mut whole = text.to_vec();
        Service::Upper.apply(&mut whole);
        let mut pieces = text.to_vec();
        for chunk in pieces.chunks_mut(3) {
            Service::Upper.apply(chunk);
        }
        assert_eq!(whole, pieces);
        assert_eq!(core::str::from_utf8(&whole).unwrap(), "HéLLO WöRLD ß");
    }

    #[test]
    fn greet_size_counts_prefix_and_suffix() {
        assert_eq!(Service::Greet.reply_size(3), Some(11));
        assert_eq!(Service::Greet.reply_size(u64::MAX), None);
        assert_eq!(Service::Echo.reply_size(u64::MAX), Some(u64::MAX));
        assert_eq!(Service::for_op(Op::Get), None);
    }
}
