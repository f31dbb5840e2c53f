//! The memory a session works in: three buffers borrowed from the caller
//! ([`Buffers`]), and, for callers that size them at compile time, the
//! arrays behind them ([`Storage`]). A session holds no memory of its own,
//! so a server decides where each connection's bytes live (a stack, a
//! `static`, a pool that lends them only while a connection has work).

use core::fmt;

#[cfg(doc)]
use super::session::{HEAD_RESERVE, Parked, Session};

/// The buffers a session works in.
#[derive(Debug)]
pub struct Buffers<'b> {
    /// Socket reads land here ([`Session::receive_buffer`]).
    pub rx: &'b mut [u8],
    /// A frame that arrives in pieces is gathered here: its header (so this
    /// is also the largest header the session takes) and a body that fits
    /// after it; larger bodies stream.
    pub frame: &'b mut [u8],
    /// Replies are gathered here ([`Session::transmit`]); at least
    /// [`HEAD_RESERVE`] bytes, more to batch pipelined replies.
    pub tx: &'b mut [u8],
}

/// The arrays behind a session's [`Buffers`], sized at compile time
/// (`RX`, `FRAME` and `TX` bytes for [`Buffers::rx`], [`Buffers::frame`]
/// and [`Buffers::tx`]): on the stack, in a `static` cell, or boxed.
///
/// # Example
///
/// ```
/// use jframe::service::{Config, Demo, Instant, Session, Storage};
///
/// let mut memory = Storage::<256, 256, 256>::new();
/// let session = Session::new(memory.buffers(), Demo::new(), &Config::default(), Instant::from_millis(0));
/// assert!(session.transmit().is_empty());
/// ```
pub struct Storage<const RX: usize, const FRAME: usize, const TX: usize> {
    rx: [u8; RX],
    frame: [u8; FRAME],
    tx: [u8; TX],
}

impl<const RX: usize, const FRAME: usize, const TX: usize> Storage<RX, FRAME, TX> {
    /// Zeroed arrays.
    pub const fn new() -> Self {
        Storage {
            rx: [0; RX],
            frame: [0; FRAME],
            tx: [0; TX],
        }
    }

    /// The three buffers, for [`Session::new`] or [`Parked::resume`].
    pub fn buffers(&mut self) -> Buffers<'_> {
        Buffers {
            rx: &mut self.rx,
            frame: &mut self.frame,
            tx: &mut self.tx,
        }
    }
}

impl<const RX: usize, const FRAME: usize, const TX: usize> Default for Storage<RX, FRAME, TX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const RX: usize, const FRAME: usize, const TX: usize> fmt::Debug for Storage<RX, FRAME, TX> {
    /// The sizes, not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Storage<{RX}, {FRAME}, {TX}>")
    }
}
