//! Unicode `upper` of text, with the most it can grow (the ASCII case is
//! core's, chunk by chunk).

/// Unicode upper-casing makes a valid UTF-8 text at most this many times
/// longer in bytes (`ΐ`, 2 bytes, becomes `Ϊ́`, 6 bytes).
pub const UPPER_GROWTH: u64 = 3;

/// The body as text when Unicode upper-casing applies to it: valid UTF-8
/// and not all ASCII (ASCII is upper-cased byte for byte, in place).
pub(super) fn unicode_text(body: &[u8]) -> Option<&str> {
    if body.is_ascii() {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// The length in bytes of `text` upper-cased, without building it.
pub(super) fn upper_len(text: &str) -> usize {
    text.chars()
        .flat_map(char::to_uppercase)
        .map(char::len_utf8)
        .sum()
}

/// Appends `text` upper-cased to `out`, char by char (no intermediate
/// `String`: `out` was sized with [`upper_len`], so it never reallocates).
pub(super) fn push_upper(text: &str, out: &mut Vec<u8>) {
    let mut utf8 = [0u8; 4];
    for c in text.chars().flat_map(char::to_uppercase) {
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
}
