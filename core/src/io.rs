//! Frame I/O over `embedded-io` (blocking, [`blocking`]) and
//! `embedded-io-async` ([`asynch`]).
//!
//! Both modules have the same functions, generated from one definition so the
//! two can never drift apart:
//!
//! - `read_frame`: the next frame, `None` on a clean close between frames.
//!   Reads go straight into the decoder's buffer and never past the end of
//!   the current frame, so no bytes of the next frame are lost and no second
//!   buffer is needed.
//! - `read_body`: the next chunk of a streamed body, into the caller's buffer.
//! - `skip_body`: discard the rest of a body (unwanted, or of a rejected frame).
//! - `write_frame` / `write_head`: a frame (or its head, for a streamed
//!   body), encoded in the caller's scratch buffer; small frames leave in one
//!   write.
//! - `write_all`: like the traits' own, but `Ok(0)` from the writer is an
//!   error rather than a panic.

use crate::decoder::{Frame, Head};
use crate::header::Header;

pub use crate::error::{ReadError, WriteError};

/// What `read_frame` returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a, H = Header> {
    /// A whole frame, in the decoder's buffer.
    Frame(Frame<'a, H>),
    /// A streamed frame's header (decoder in streaming mode): read its body
    /// with `read_body`, or let the next `read_frame` skip it.
    Head(Head<'a, H>),
}

macro_rules! frame_io {
    ($Read:path, $Write:path, $($async:ident)?; $($await:tt)*) => {
        use crate::decoder::{Decoder, Event};
        use crate::encoder::{encode_head, EncodeError};
        use crate::header::{Header, ParseHeader};
        use crate::io::{Received, ReadError, WriteError};

        /// Reads the next frame. `Ok(None)`: the peer closed between frames.
        /// An unfinished streamed body from the previous frame is skipped.
        pub $($async)? fn read_frame<'d, R, B, H>(
            reader: &mut R,
            decoder: &'d mut Decoder<B, H>,
        ) -> Result<Option<Received<'d, H>>, ReadError<R::Error>>
        where
            R: $Read,
            B: AsRef<[u8]> + AsMut<[u8]>,
            H: ParseHeader,
        {
            loop {
                if let Some(e) = decoder.failure() {
                    return Err(ReadError::Decode(e));
                }
                if decoder.is_streaming_body() || decoder.is_skipping() {
                    skip_body(reader, decoder) $($await)*?;
                    continue;
                }
                let n = reader.read(decoder.unfilled()) $($await)* .map_err(ReadError::Io)?;
                if n == 0 {
                    return if decoder.is_idle() { Ok(None) } else { Err(ReadError::UnexpectedEof) };
                }
                if decoder.filled(n).map_err(ReadError::Decode)? {
                    break;
                }
            }
            match decoder.event() {
                Event::Frame(frame) => Ok(Some(Received::Frame(frame))),
                Event::Head(head) => Ok(Some(Received::Head(head))),
                // `filled` said a frame or head is ready.
                Event::NeedMore | Event::BodyChunk { .. } => Err(ReadError::UnexpectedEof),
            }
        }

        /// Discards the rest of the current frame's body: a streamed body
        /// the caller does not want, or the body of a rejected frame (after a
        /// recoverable [`crate::DecodeError`]). Reads never go past the end of
        /// that frame and nothing is buffered. Does nothing between frames.
        pub $($async)? fn skip_body<R, B, H>(
            reader: &mut R,
            decoder: &mut Decoder<B, H>,
        ) -> Result<(), ReadError<R::Error>>
        where
            R: $Read,
            B: AsRef<[u8]> + AsMut<[u8]>,
            H: ParseHeader,
        {
            decoder.skip_body();
            let mut discard = [0u8; 256];
            while decoder.is_skipping() {
                let len = decoder.want().min(discard.len());
                let into = discard.get_mut(..len).unwrap_or_default();
                let n = reader.read(into) $($await)* .map_err(ReadError::Io)?;
                if n == 0 {
                    return Err(ReadError::UnexpectedEof);
                }
                let _ = decoder.feed(into.get(..n).unwrap_or_default());
            }
            Ok(())
        }

        /// Reads the next chunk of a streamed body into `buf` (at most
        /// `buf.len()` bytes); `Ok(None)` once the body is complete.
        pub $($async)? fn read_body<'b, R, B, H>(
            reader: &mut R,
            decoder: &mut Decoder<B, H>,
            buf: &'b mut [u8],
        ) -> Result<Option<&'b [u8]>, ReadError<R::Error>>
        where
            R: $Read,
            B: AsRef<[u8]> + AsMut<[u8]>,
            H: ParseHeader,
        {
            if !decoder.is_streaming_body() || buf.is_empty() {
                return Ok(None);
            }
            let len = decoder.want().min(buf.len());
            let into = buf.get_mut(..len).unwrap_or_default();
            let n = reader.read(into) $($await)* .map_err(ReadError::Io)?;
            if n == 0 {
                return Err(ReadError::UnexpectedEof);
            }
            let data = buf.get(..n).unwrap_or_default();
            // The chunk event borrows `data` itself: nothing is copied.
            let _ = decoder.feed(data);
            Ok(Some(data))
        }

        /// Writes a whole frame. `scratch` holds the encoded head (and the
        /// body too when it fits, so small frames leave in one write).
        pub $($async)? fn write_frame<W: $Write>(
            writer: &mut W,
            scratch: &mut [u8],
            header: &Header,
            body: &[u8],
        ) -> Result<(), WriteError<W::Error>> {
            if u64::try_from(body.len()).ok() != Some(header.data_size) {
                return Err(WriteError::Encode(EncodeError::SizeMismatch));
            }
            let head = encode_head(scratch, header).map_err(WriteError::Encode)?;
            let end = head.saturating_add(body.len());
            // Two steps, so the optimizer sees room.len() == body.len() (no panic path).
            if let Some(room) = scratch.get_mut(head..).and_then(|r| r.get_mut(..body.len())) {
                crate::copy::copy(room, body);
                return write_all(writer, scratch.get(..end).unwrap_or_default()) $($await)*;
            }
            write_all(writer, scratch.get(..head).unwrap_or_default()) $($await)*?;
            write_all(writer, body) $($await)*
        }

        /// Writes prefix + header; the caller then writes exactly
        /// `header.data_size` body bytes (with [`write_all`]).
        pub $($async)? fn write_head<W: $Write>(
            writer: &mut W,
            scratch: &mut [u8],
            header: &Header,
        ) -> Result<(), WriteError<W::Error>> {
            let head = encode_head(scratch, header).map_err(WriteError::Encode)?;
            write_all(writer, scratch.get(..head).unwrap_or_default()) $($await)*
        }

        /// Writes all of `bytes`; a writer accepting zero bytes is an error.
        pub $($async)? fn write_all<W: $Write>(
            writer: &mut W,
            mut bytes: &[u8],
        ) -> Result<(), WriteError<W::Error>> {
            while !bytes.is_empty() {
                match writer.write(bytes) $($await)* {
                    Ok(0) => return Err(WriteError::WriteZero),
                    Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                    Err(e) => return Err(WriteError::Io(e)),
                }
            }
            Ok(())
        }
    };
}

/// Blocking helpers over `embedded_io::{Read, Write}`.
///
/// # Example
///
/// A frame written to a `Vec<u8>` and read back from a byte slice:
///
/// ```
/// use jframe::io::{Received, blocking};
/// use jframe::{Decoder, Header};
///
/// let mut wire = Vec::new();
/// let mut scratch = [0u8; 64];
/// blocking::write_frame(&mut wire, &mut scratch, &Header::new(2), b"hi")?;
/// let mut reader = &wire[..];
/// let mut decoder = Decoder::new([0u8; 64]);
/// match blocking::read_frame(&mut reader, &mut decoder) {
///     Ok(Some(Received::Frame(frame))) => assert_eq!(frame.body, b"hi"),
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(blocking::read_frame(&mut reader, &mut decoder), Ok(None)));
/// # Ok::<(), jframe::WriteError<core::convert::Infallible>>(())
/// ```
pub mod blocking {
    frame_io!(embedded_io::Read, embedded_io::Write, ; );
}

/// Async helpers over `embedded_io_async::{Read, Write}`.
pub mod asynch {
    frame_io!(embedded_io_async::Read, embedded_io_async::Write, async; .await);
}
