//! Helpers shared by the core's integration tests (`common`) and its fuzz
//! targets (`core/fuzz/src/lib.rs` includes this file by path): how a
//! decoding run ended, a reader that hands out short reads like a socket,
//! and a poller for futures that never wait.

use jframe::{Decoder, ParseHeader};

/// How a decoding run ended (not a session's `jframe::service::End`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeEnd {
    /// Every byte consumed, between frames.
    Idle,
    /// Every byte consumed, inside a frame.
    MidFrame,
    /// A fatal error: the decoder is failed.
    Failed,
}

impl DecodeEnd {
    /// Where a decoder that consumed every byte without a fatal error stopped.
    pub fn of<B: AsRef<[u8]> + AsMut<[u8]>, H: ParseHeader>(dec: &Decoder<B, H>) -> DecodeEnd {
        if dec.is_idle() {
            DecodeEnd::Idle
        } else {
            DecodeEnd::MidFrame
        }
    }
}

/// A reader over a slice that hands out at most the next of `sizes` bytes
/// per read (cycled), blocking or async.
#[derive(Debug)]
pub struct Chunked<'a> {
    /// What is still to be read.
    pub data: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl<'a> Chunked<'a> {
    /// Reads of at most `sizes[0]`, `sizes[1]`, ... bytes, cycled (no
    /// limit when `sizes` is empty).
    pub fn new(data: &'a [u8], sizes: &[usize]) -> Self {
        Chunked {
            data,
            sizes: sizes.to_vec(),
            turn: 0,
        }
    }
}

impl embedded_io::ErrorType for Chunked<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        // A read of 0 bytes would look like the end of the stream.
        assert!(!buf.is_empty(), "asked to read 0 bytes");
        let cap = self
            .sizes
            .get(self.turn % self.sizes.len().max(1))
            .copied()
            .unwrap_or(usize::MAX);
        self.turn += 1;
        let n = buf.len().min(cap).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl embedded_io_async::Read for Chunked<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        embedded_io::Read::read(self, buf)
    }
}

/// Polls a future that never waits on anything external (in-memory I/O).
pub fn block_on<F: core::future::Future>(fut: F) -> F::Output {
    let mut fut = core::pin::pin!(fut);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
