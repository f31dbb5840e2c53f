//! Copying bytes without a panic path at any optimization level.
//!
//! `<[u8]>::copy_from_slice` checks that the lengths match and panics if
//! they do not; at opt-level "z" (what firmware is built with) that check
//! lives in an out-of-line function the optimizer cannot see through, so
//! the panic path survives even where every caller has proved the lengths
//! equal. A zip loop has no such path, and LLVM turns it into `memcpy`.

/// Copies `src` into the front of `dst`, as many bytes as both have.
#[inline]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}
