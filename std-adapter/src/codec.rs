//! A zero-copy tokio-util codec on top of jframe's own stateless parser,
//! [`jframe::parse_frame`], and [`jframe::encode_head`] (feature `tokio`):
//! no second parser, no copy of a body.
//!
//! - A whole frame is cut off the read buffer with `split_to(len).freeze()`;
//!   the header JSON and the body handed out are [`Bytes`] slices of it.
//! - A frame whose header is complete but whose body is not is parsed once:
//!   the codec remembers the head length (from core: `Parse::Partial`'s
//!   `head`, and `DecodeError::Request`'s) and `data_size` and only waits for
//!   the buffer to hold the rest (reserving exactly that, never more than
//!   the codec's body limit).
//! - Recoverable errors (SPEC): a well-formed header with a wrong key
//!   (`bad_request`) or a body above the codec's limit (`too_large`) are
//!   reported as [`Incoming::Rejected`], and exactly `data_size` body bytes
//!   are then skipped as they arrive, never buffered (a skip counter).
//! - Fatal errors (a prefix out of range, a malformed header) are an
//!   `InvalidData` error, and the codec stays failed.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use jframe::{DecodeError, Header, PREFIX_LEN, Parse, encode_head, parse_frame};
use std::io;

/// What the codec yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole frame.
    Frame {
        /// Its header (boxed: it is ~500 bytes of fixed-capacity strings).
        header: Box<Header>,
        /// The header's JSON, a slice of the received frame (no copy).
        header_json: Bytes,
        /// Its body, a slice of the received frame (no copy).
        body: Bytes,
    },
    /// A frame that was skipped (recoverable): answer with `err.status()`.
    /// Its body is skipped by the codec as it arrives.
    Rejected(DecodeError),
}

/// Where the codec is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a frame.
    Start,
    /// The header (`head` bytes with the prefix) was parsed into
    /// `JframeCodec::header`; waiting for the `data_size` body bytes.
    Body { head: usize, data_size: usize },
    /// Discarding the body of a rejected frame.
    Skip { remaining: u64 },
    /// A fatal error: nothing more can be trusted.
    Failed(DecodeError),
}

/// `Decoder<Item = Incoming>` and `Encoder<(Header, Bytes)>`.
#[derive(Debug)]
pub struct JframeCodec {
    max_header: u32,
    max_body: usize,
    state: State,
    /// The header of the frame being received (parsed once).
    header: Header,
    /// Room for one encoded reply head.
    scratch: Vec<u8>,
}

impl Default for JframeCodec {
    fn default() -> Self {
        Self::new(crate::MAX_HEADER, 64 * 1024)
    }
}

impl JframeCodec {
    /// Headers up to `max_header` bytes, bodies up to `max_body` bytes
    /// (larger ones are rejected `too_large` and skipped). Nothing is
    /// allocated up front beyond a 1 KiB encoding scratch buffer.
    pub fn new(max_header: u32, max_body: usize) -> Self {
        JframeCodec {
            max_header,
            max_body,
            state: State::Start,
            header: Header::default(),
            scratch: vec![0u8; crate::SCRATCH],
        }
    }

    /// Body bytes of a rejected frame still to be skipped.
    pub fn skipping(&self) -> u64 {
        match self.state {
            State::Skip { remaining } => remaining,
            _ => 0,
        }
    }

    /// Cuts the frame `head + data_size` off `src`, whose header is in
    /// `self.header`.
    fn take_frame(&mut self, src: &mut BytesMut, head: usize, data_size: usize) -> Incoming {
        self.state = State::Start;
        let frame = src.split_to(head + data_size).freeze();
        Incoming::Frame {
            header: Box::new(self.header.clone()),
            header_json: frame.slice(PREFIX_LEN..head),
            body: frame.slice(head..),
        }
    }

    /// Rejects the frame at the start of `src` whose head is `head` bytes:
    /// drops the head and starts skipping its body.
    fn reject(
        &mut self,
        src: &mut BytesMut,
        head: usize,
        data_size: u64,
        e: DecodeError,
    ) -> Incoming {
        src.advance(head.min(src.len()));
        self.state = State::Skip {
            remaining: data_size,
        };
        self.skip(src);
        Incoming::Rejected(e)
    }

    /// Drops what `src` holds of a body being skipped.
    fn skip(&mut self, src: &mut BytesMut) {
        if let State::Skip { remaining } = self.state {
            let n = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(src.len());
            src.advance(n);
            let remaining = remaining - n as u64;
            self.state = if remaining == 0 {
                State::Start
            } else {
                State::Skip { remaining }
            };
        }
    }

    fn too_large(&self, data_size: u64) -> DecodeError {
        DecodeError::BodyTooLarge {
            data_size,
            max: self.max_body as u64,
        }
    }
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl tokio_util::codec::Decoder for JframeCodec {
    type Item = Incoming;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, io::Error> {
        loop {
            match self.state {
                State::Failed(e) => return Err(invalid(e)),
                State::Skip { .. } => {
                    self.skip(src);
                    if self.skipping() > 0 {
                        return Ok(None);
                    }
                }
                State::Body { head, data_size } => {
                    let total = head + data_size;
                    if src.len() < total {
                        src.reserve(total - src.len());
                        return Ok(None);
                    }
                    return Ok(Some(self.take_frame(src, head, data_size)));
                }
                State::Start => {
                    if src.is_empty() {
                        return Ok(None);
                    }
                    return match parse_frame(src, self.max_header, &mut self.header) {
                        Ok(Parse::Complete { body, len, .. }) => {
                            let (size, head) = (body.len(), len - body.len());
                            if size > self.max_body {
                                let e = self.too_large(size as u64);
                                Ok(Some(self.reject(src, head, size as u64, e)))
                            } else {
                                Ok(Some(self.take_frame(src, head, size)))
                            }
                        }
                        Ok(Parse::Partial {
                            data_size: None,
                            head,
                        }) => {
                            // A checked prefix says how long the head is:
                            // room for it, at most the header limit.
                            if let Some(head) = head {
                                src.reserve(head.saturating_sub(src.len()));
                            }
                            Ok(None)
                        }
                        Ok(Parse::Partial {
                            data_size: Some(data_size),
                            head,
                        }) => {
                            // Core parsed the head; it says how long it is.
                            let head = head.unwrap_or(PREFIX_LEN);
                            match usize::try_from(data_size) {
                                Ok(size) if size <= self.max_body => {
                                    self.state = State::Body {
                                        head,
                                        data_size: size,
                                    };
                                    continue;
                                }
                                _ => {
                                    let e = self.too_large(data_size);
                                    Ok(Some(self.reject(src, head, data_size, e)))
                                }
                            }
                        }
                        Err(
                            e @ DecodeError::Request {
                                data_size, head, ..
                            },
                        ) => Ok(Some(self.reject(src, head, data_size, e))),
                        Err(e) => {
                            self.state = State::Failed(e);
                            Err(invalid(e))
                        }
                    };
                }
            }
        }
    }
}

impl tokio_util::codec::Encoder<(Header, Bytes)> for JframeCodec {
    type Error = io::Error;

    fn encode(&mut self, (header, body): (Header, Bytes), dst: &mut BytesMut) -> io::Result<()> {
        if header.data_size != body.len() as u64 {
            return Err(invalid("header data_size differs from the body length"));
        }
        let head = encode_head(&mut self.scratch, &header).map_err(invalid)?;
        dst.reserve(head + body.len());
        dst.put_slice(self.scratch.get(..head).unwrap_or_default());
        dst.put_slice(&body);
        Ok(())
    }
}
