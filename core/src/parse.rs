//! One frame parsed from one contiguous slice (a datagram, a `BytesMut`),
//! in place: no state, no copy. The decoder's fast path between frames
//! reads the prefix the same way ([`prefix_of`]).

use crate::error::DecodeError;
use crate::header::ParseHeader;
use crate::prefix::{self, PREFIX_LEN};

/// A frame parsed from one contiguous slice by [`parse_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse<'a> {
    /// A whole frame, the first `len` bytes of the input.
    Complete {
        /// The header's JSON bytes (validated, parsed into the caller's header).
        header_json: &'a [u8],
        /// The body.
        body: &'a [u8],
        /// Prefix + header + body.
        len: usize,
    },
    /// The input ends before the frame does.
    Partial {
        /// The body length, once the header was complete and parsed (so the
        /// input is known to be shorter than its header says).
        data_size: Option<u64>,
        /// Prefix + header bytes, once the prefix has arrived (checked):
        /// where the body starts, so a caller never reads the prefix itself.
        head: Option<usize>,
    },
}

/// Parses the frame at the start of `input`, in place: no state, no copy.
/// The header is parsed into `header` (and checked against `max_header`
/// first); the body is borrowed from `input`. Errors are those of the
/// decoder: [`DecodeError::Request`] means the header was parsed, well-formed,
/// with a wrong key (its `head` says where the body to skip starts).
///
/// # Example
///
/// ```
/// use jframe::{Header, Parse, parse_frame};
///
/// let datagram = b"\x0f\x00\x00\x00{\"data_size\":2}hi";
/// let mut header = Header::default();
/// match parse_frame(datagram, 4096, &mut header)? {
///     Parse::Complete { body, len, .. } => assert_eq!((body, len), (&b"hi"[..], 21)),
///     Parse::Partial { .. } => unreachable!("the datagram holds the whole frame"),
/// }
/// assert_eq!(header.data_size, 2);
/// # Ok::<(), jframe::DecodeError>(())
/// ```
pub fn parse_frame<'a, H: ParseHeader + ?Sized>(
    input: &'a [u8],
    max_header: u32,
    header: &mut H,
) -> Result<Parse<'a>, DecodeError> {
    let Some(json_len) = prefix_of(input, max_header)? else {
        return Ok(Parse::Partial {
            data_size: None,
            head: None,
        });
    };
    let head = PREFIX_LEN + json_len;
    let Some(json) = input.get(PREFIX_LEN..head) else {
        return Ok(Parse::Partial {
            data_size: None,
            head: Some(head),
        });
    };
    let data_size = header.parse_into(json)?;
    let needed = (head as u64).saturating_add(data_size);
    match usize::try_from(needed)
        .ok()
        .and_then(|end| input.get(head..end))
    {
        Some(body) => Ok(Parse::Complete {
            header_json: json,
            body,
            len: head + body.len(),
        }),
        None => Ok(Parse::Partial {
            data_size: Some(data_size),
            head: Some(head),
        }),
    }
}

/// The header length from the prefix at the start of `input`, checked;
/// `None` when fewer than 4 bytes are there.
#[inline]
pub(crate) fn prefix_of(input: &[u8], max_header: u32) -> Result<Option<usize>, DecodeError> {
    let Some(&[a, b, c, d]) = input.get(..PREFIX_LEN) else {
        return Ok(None);
    };
    let len = prefix::check(prefix::read([a, b, c, d]), max_header)?;
    Ok(Some(len as usize))
}
