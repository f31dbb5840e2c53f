//! The client's socket reader: the idle timeout as an error of its own,
//! and the peer's first bytes kept for [`super::diagnose`].

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Duration;

/// A client's `TcpStream` reader: a socket read that waits longer than the
/// idle timeout fails with `TimedOut`, and the peer's first bytes are kept
/// to name what answered when it is not a jframe server. (The servers read
/// through their own drivers, which also enforce the header deadline.)
#[derive(Debug)]
pub(super) struct TimedStream {
    stream: TcpStream,
    /// The first bytes the peer sent, at most [`FIRST_BYTES`].
    pub(super) first: Vec<u8>,
    /// Bytes received so far.
    pub(super) received: u64,
}

/// How many of a peer's first bytes a client keeps, to name what answered
/// when it is not a jframe server.
const FIRST_BYTES: usize = 128;

impl TimedStream {
    /// Wraps `stream`, setting its read timeout to `idle_timeout` (`None`
    /// waits forever).
    pub(super) fn new(stream: TcpStream, idle_timeout: Option<Duration>) -> io::Result<Self> {
        stream.set_read_timeout(idle_timeout)?;
        Ok(TimedStream {
            stream,
            first: Vec::new(),
            received: 0,
        })
    }
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Ok(n) => {
                    self.received += n as u64;
                    if self.first.len() < FIRST_BYTES {
                        let room = (FIRST_BYTES - self.first.len()).min(n);
                        self.first
                            .extend_from_slice(buf.get(..room).unwrap_or_default());
                    }
                    return Ok(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
