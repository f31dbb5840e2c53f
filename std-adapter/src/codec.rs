//! A tokio-util codec on top of jframe's own [`jframe::Decoder`] and
//! [`jframe::encode_head`] (feature `tokio`): no second parser.
//!
//! The decoder runs in whole-frame mode over a buffer of `max_header +
//! max_body` bytes; a frame whose body exceeds it is skipped by jframe and
//! reported as [`Incoming::Rejected`], as are bad headers, so a server can
//! answer them and go on. A bad prefix is a fatal `InvalidData` error.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use jframe::{DecodeError, Decoder, Event, Header, encode_head};
use std::io;

/// What the codec yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole frame.
    Frame {
        /// Its header (boxed: it is ~500 bytes of fixed-capacity strings).
        header: Box<Header>,
        /// Its body.
        body: Bytes,
    },
    /// A frame that was skipped (recoverable): answer with `err.status()`.
    Rejected(DecodeError),
}

/// `Decoder<Item = Incoming>` and `Encoder<(Header, Bytes)>`.
#[derive(Debug)]
pub struct JframeCodec {
    decoder: Decoder<Vec<u8>>,
    scratch: Vec<u8>,
}

impl Default for JframeCodec {
    fn default() -> Self {
        Self::new(crate::MAX_HEADER, 64 * 1024)
    }
}

impl JframeCodec {
    /// Headers up to `max_header` bytes, bodies up to `max_body` bytes
    /// (both held in one buffer allocated here).
    pub fn new(max_header: u32, max_body: usize) -> Self {
        let len = (max_header as usize).saturating_add(max_body);
        JframeCodec {
            decoder: Decoder::new(vec![0u8; len])
                .with_max_header(max_header)
                .with_max_body(max_body as u64),
            scratch: vec![0u8; crate::SCRATCH],
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
        while !src.is_empty() {
            let (used, event) = self.decoder.feed(src);
            let out = match event {
                Ok(Event::NeedMore) => None,
                Ok(Event::Frame(f)) => Some(Ok(Incoming::Frame {
                    header: Box::new(f.header.clone()),
                    body: Bytes::copy_from_slice(f.body),
                })),
                Ok(_) => Some(Err(invalid("unexpected streaming event"))),
                Err(e) if e.is_recoverable() => Some(Ok(Incoming::Rejected(e))),
                Err(e) => Some(Err(invalid(e))),
            };
            src.advance(used);
            if let Some(result) = out {
                return result.map(Some);
            }
        }
        Ok(None)
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
        dst.put_slice(&self.scratch[..head]);
        dst.put_slice(&body);
        Ok(())
    }
}
