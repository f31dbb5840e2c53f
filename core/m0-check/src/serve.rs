//! The one call into core's protocol engine, shared word for word by the
//! M0 firmware (`core/m0-check`) and the host exporter that makes its golden
//! vectors (`std-adapter/tests/conform_vectors.rs`, which includes this file
//! with `#[path]`). When the engine is replaced by a sans-IO session, only
//! [`serve_in_memory`] changes; both sides follow.
//!
//! `no_std`, no allocation: fixed buffers on the stack, sized for a 16 KiB
//! Cortex-M0.

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use jframe::service::engine::blocking::serve;
use jframe::service::{Buffers, Builtin, Config, Deadlines, End, Limits, Phase};

/// Socket reads land here (small, so pipelined requests span reads).
pub const RX: usize = 128;
/// A frame that arrives in pieces is gathered here; larger bodies stream.
pub const FRAME: usize = 1024;
/// Replies are gathered here.
pub const TX: usize = 512;
/// The client's receive buffer: everything the server writes on one
/// connection must fit (the exporter checks that every case's does).
pub const OUT: usize = 1024;

/// One connection of the loopback pipe, server side: the client's bytes
/// come in, at most `chunk` per read; the server's go to `out`.
struct Pipe<'a> {
    input: &'a [u8],
    chunk: usize,
    /// The client half-closes once `input` is used up; otherwise it stays
    /// connected and silent, and the server waits.
    close: bool,
    out: &'a mut [u8],
    len: usize,
}

impl ErrorType for Pipe<'_> {
    type Error = ErrorKind;
}

impl Read for Pipe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.input.is_empty() {
            // EOF if the client closed; else nothing more will ever come.
            return if self.close {
                Ok(0)
            } else {
                Err(ErrorKind::TimedOut)
            };
        }
        let n = buf.len().min(self.chunk.max(1)).min(self.input.len());
        let (Some(dst), Some(src)) = (buf.get_mut(..n), self.input.get(..n)) else {
            return Err(ErrorKind::Other);
        };
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        self.input = self.input.get(n..).unwrap_or_default();
        Ok(n)
    }
}

impl Write for Pipe<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let free = self.out.get_mut(self.len..).unwrap_or_default();
        let n = buf.len().min(free.len());
        for (d, s) in free.iter_mut().zip(buf.get(..n).unwrap_or_default()) {
            *d = *s;
        }
        self.len += n;
        // A full `out` accepts nothing: the engine ends with WriteZero.
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl Deadlines for Pipe<'_> {
    /// A silent client that did not close: stop between frames (nothing
    /// more will come); inside a frame the engine reads on and gets
    /// `TimedOut`.
    fn before_read(&mut self, _phase: Phase) -> bool {
        !self.input.is_empty() || self.close
    }
}

/// Serves one connection in memory: the client writes `input` (delivered
/// `chunk` bytes per read), then half-closes if `close`, else stays silent.
/// Returns how many reply bytes the server wrote into `out`, and whether the
/// server closed the connection on its own (a fatal header, `Bye!`, a reply
/// sent to it, or a failure) rather than because the client closed or went
/// silent.
pub fn serve_in_memory(input: &[u8], chunk: usize, close: bool, out: &mut [u8]) -> (usize, bool) {
    let mut pipe = Pipe {
        input,
        chunk,
        close,
        out,
        len: 0,
    };
    let (mut rx, mut frame, mut tx) = ([0u8; RX], [0u8; FRAME], [0u8; TX]);
    let buffers = Buffers {
        rx: &mut rx,
        frame: &mut frame,
        tx: &mut tx,
    };
    let config = Config {
        limits: Limits::default(),
        welcome: None,
    };
    let end = serve(&mut pipe, buffers, &mut Builtin, &config);
    let server_closed = !matches!(
        end,
        End::PeerClosed | End::Truncated | End::Stopped | End::Io(ErrorKind::TimedOut)
    );
    (pipe.len, server_closed)
}
