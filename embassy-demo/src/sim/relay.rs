//! One direction of a forwarded connection ([`OneWay`]): it moves bytes from
//! one side to the other without changing or holding back a byte, and
//! counts them and the jframe frames they complete.

use core::cell::Cell;
use std::boxed::Box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::vec;

use embassy_time::Instant;
use embedded_io_async::{Read, Write};
use jframe::Event;

/// Size of each direction's relay buffer.
const RELAY_BUF: usize = 8192;

/// Why a relay stopped.
#[derive(Debug)]
pub(super) enum OneWayError {
    Read,
    Write,
}

impl core::fmt::Display for OneWayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            OneWayError::Read => "reading a side failed",
            OneWayError::Write => "writing a side failed",
        })
    }
}

/// One direction of a forwarded connection. Its state lives outside the
/// future, so a `run` cancelled by `select` loses no bytes: the next `run`
/// first writes what the previous one read. Bytes written, and the jframe
/// frames they complete, go to the counters as they move.
pub(super) struct OneWay<'s> {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    bytes: &'s AtomicU64,
    frames: FrameCounter<'s>,
}

impl<'s> OneWay<'s> {
    pub(super) fn new(bytes: &'s AtomicU64, frames: &'s AtomicU64) -> Self {
        OneWay {
            buf: vec![0; RELAY_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            bytes,
            frames: FrameCounter::new(frames),
        }
    }

    pub(super) fn reset(&mut self) {
        (self.start, self.end) = (0, 0);
        self.frames.reset();
    }

    /// Moves bytes from `from` to `to` until `from` ends (`Ok`), setting
    /// `last` whenever bytes move.
    pub(super) async fn run<R: Read, W: Write>(
        &mut self,
        from: &mut R,
        to: &mut W,
        last: &Cell<Instant>,
    ) -> Result<(), OneWayError> {
        loop {
            if self.start == self.end {
                let n = from.read(&mut self.buf).await.map_err(|e| {
                    log::debug!(
                        "forward: read failed: {:?}",
                        embedded_io_async::Error::kind(&e)
                    );
                    OneWayError::Read
                })?;
                last.set(Instant::now());
                if n == 0 {
                    return to.flush().await.map_err(|_| OneWayError::Write);
                }
                (self.start, self.end) = (0, n);
            }
            let pending = &self.buf[self.start..self.end];
            match to.write(pending).await {
                Ok(0) | Err(_) => return Err(OneWayError::Write),
                Ok(n) => {
                    last.set(Instant::now());
                    self.frames.feed(&pending[..n]);
                    self.start += n;
                    self.bytes.fetch_add(n as u64, Relaxed);
                }
            }
        }
    }
}

/// Counts the whole jframe frames passing one way through a forwarded
/// connection, without changing or holding back a byte: it only watches
/// what the relay has already written. Core's streaming [`jframe::Decoder`]
/// does the framing, headers up to [`jframe::DEFAULT_MAX_HEADER_LEN`]
/// bytes; no body is held (each passes as borrowed chunks), and a bad
/// prefix or header leaves the decoder failed, which stops the count.
struct FrameCounter<'s> {
    decoder: jframe::Decoder<Box<[u8]>, Checked>,
    frames: &'s AtomicU64,
}

/// A header checked as core's decoder checks every header
/// ([`jframe::header::validate`]), nothing else kept: any well-formed
/// frame counts, whatever its keys hold.
#[derive(Debug)]
struct Checked;

impl jframe::header::ParseHeader for Checked {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, jframe::DecodeError> {
        jframe::header::validate(json)
    }
}

impl<'s> FrameCounter<'s> {
    fn new(frames: &'s AtomicU64) -> Self {
        let buf = vec![0; jframe::DEFAULT_MAX_HEADER_LEN as usize].into_boxed_slice();
        FrameCounter {
            decoder: jframe::Decoder::with_header(buf, Checked)
                .with_max_body(0)
                .streaming(true),
            frames,
        }
    }

    /// A new connection: a new stream.
    fn reset(&mut self) {
        self.decoder.reset();
    }

    /// Takes the next bytes of the stream.
    fn feed(&mut self, mut bytes: &[u8]) {
        // A failed decoder consumes nothing: counting has stopped.
        while !bytes.is_empty() && !self.decoder.is_failed() {
            let (used, event) = self.decoder.feed(bytes);
            if let Ok(Event::Frame(_) | Event::BodyChunk { remaining: 0, .. }) = event {
                self.frames.fetch_add(1, Relaxed);
            }
            bytes = &bytes[used..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(header: &str, body: &[u8]) -> std::vec::Vec<u8> {
        let mut out = (header.len() as i32).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        out
    }

    /// Counts what `chunks` complete, fed one after another.
    fn counted(chunks: &[&[u8]]) -> u64 {
        let n = AtomicU64::new(0);
        let mut counter = FrameCounter::new(&n);
        for chunk in chunks {
            counter.feed(chunk);
        }
        n.load(Relaxed)
    }

    #[test]
    fn frames_are_counted_whole_in_any_split() {
        let mut stream = frame(r#"{"data_size": 2, "op": "echo"}"#, b"hi");
        stream.extend(frame(r#"{"data_size": 0}"#, b""));
        stream.extend(frame(r#"{"data_size":5,"status":"ok"}"#, b"HELLO"));
        assert_eq!(counted(&[&stream]), 3);
        // Byte by byte.
        let bytes: std::vec::Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(counted(&bytes), 3);
        // A frame cut inside its body is not counted.
        assert_eq!(counted(&[&stream[..stream.len() - 1]]), 2);
    }

    #[test]
    fn a_well_formed_frame_counts_whatever_its_keys_hold() {
        // A bad request (`op` not a string) is still a whole frame, and a
        // body larger than the header buffer passes without being held.
        let mut stream = frame(r#"{"data_size": 1, "op": 5}"#, b"x");
        stream.extend(frame(r#"{"data_size": 10000}"#, &[b'y'; 10_000]));
        stream.extend(frame(r#"{"data_size": 0}"#, b""));
        assert_eq!(counted(&[&stream]), 3);
        let chunks: std::vec::Vec<&[u8]> = stream.chunks(7).collect();
        assert_eq!(counted(&chunks), 3);
    }

    #[test]
    fn a_stream_that_is_not_jframe_stops_the_count() {
        let good = frame(r#"{"data_size": 1}"#, b"x");
        // A prefix out of range (an HTTP request's first bytes).
        let mut http = good.clone();
        http.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        http.extend(good.clone());
        assert_eq!(counted(&[&http]), 1);
        // A header that is not JSON.
        let mut bad = good.clone();
        bad.extend(frame("{nope", b""));
        bad.extend(good);
        assert_eq!(counted(&[&bad]), 1);
    }
}
