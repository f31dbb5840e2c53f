//! The 4-byte length prefix.
//!
//! ```text
//! +--------+--------+--------+--------+
//! | H (i32, little-endian): header length in bytes |
//! +--------+--------+--------+--------+
//! ```
//!
//! It is what Python's `struct.pack('i', n)` writes on little-endian
//! machines. H is signed on the wire, so a receiver sees negative values and
//! must reject them, like anything below [`MIN_HEADER_LEN`] (`{}` is the
//! shortest JSON object) or above its own limit.

use crate::error::DecodeError;

pub use crate::bounds::{MIN_HEADER_LEN, PREFIX_LEN};

/// Longest header the wire format can express (`i32::MAX`).
pub const MAX_WIRE_HEADER_LEN: u32 = 0x7FFF_FFFF;

/// Header limit the std adapter uses unless configured otherwise (SPEC).
pub const DEFAULT_MAX_HEADER_LEN: u32 = 4096;

/// Byte range of the prefix inside a frame.
pub const PREFIX: core::ops::Range<usize> = 0..PREFIX_LEN;

/// Reads H as the wire carries it (signed).
pub const fn read(prefix: [u8; PREFIX_LEN]) -> i32 {
    i32::from_le_bytes(prefix)
}

/// Checks H against `[MIN_HEADER_LEN, max]`; returns it as a length.
pub fn check(raw: i32, max: u32) -> Result<u32, DecodeError> {
    let len = u32::try_from(raw).map_err(|_| DecodeError::HeaderTooShort { len: raw })?;
    if len < MIN_HEADER_LEN {
        return Err(DecodeError::HeaderTooShort { len: raw });
    }
    if len > max {
        return Err(DecodeError::HeaderTooLong { len, max });
    }
    Ok(len)
}

/// The prefix for a header of `len` bytes, if it fits the wire's i32.
pub fn emit(len: usize) -> Option<[u8; PREFIX_LEN]> {
    i32::try_from(len).ok().map(i32::to_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden() {
        assert_eq!(emit(16), Some([0x10, 0, 0, 0]));
        assert_eq!(read([0xfb, 0xff, 0xff, 0xff]), -5);
        assert_eq!(
            check(-5, 4096),
            Err(DecodeError::HeaderTooShort { len: -5 })
        );
        assert_eq!(check(1, 4096), Err(DecodeError::HeaderTooShort { len: 1 }));
        assert_eq!(check(2, 4096), Ok(2));
        assert_eq!(
            check(4097, 4096),
            Err(DecodeError::HeaderTooLong {
                len: 4097,
                max: 4096
            })
        );
        assert_eq!(emit(usize::MAX), None);
    }
}
