//! The one call into core's sans-IO session, shared word for word by the
//! M0 firmware (`core/m0-check`) and the host exporter that makes its golden
//! vectors (`std-adapter/tests/conform_vectors.rs`, which includes this file
//! with `#[path]`).
//!
//! `no_std`, no allocation: fixed buffers on the stack, sized for a 16 KiB
//! Cortex-M0.

use jframe::service::{Config, Demo, End, Instant, Limits, Session, Storage, Timeouts};

/// Socket reads land here (small, so pipelined requests span reads).
pub const RX: usize = 128;
/// A frame that arrives in pieces is gathered here; larger bodies stream.
pub const FRAME: usize = 1024;
/// Replies are gathered here.
pub const TX: usize = 512;
/// The client's receive buffer: everything the server writes on one
/// connection must fit (the exporter checks that every case's does).
pub const OUT: usize = 1024;

/// A copy without `copy_from_slice`'s length check (no panic path).
fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// Serves one connection in memory, driving core's sans-IO session by
/// hand: the client writes `input` (delivered `chunk` bytes per read), then
/// half-closes if `close`, else stays silent. Returns how many reply bytes
/// the server wrote into `out`, and whether the server closed the
/// connection on its own (a fatal header, `Bye!`, a reply sent to it, or a
/// failure) rather than because the client closed or went silent.
pub fn serve_in_memory(input: &[u8], chunk: usize, close: bool, out: &mut [u8]) -> (usize, bool) {
    let mut memory = Storage::<RX, FRAME, TX>::new();
    let buffers = memory.buffers();
    let config = Config {
        limits: Limits::default(),
        timeouts: Timeouts::NONE,
        welcome: None,
    };
    // No clock here: nothing in a case waits on a deadline.
    let now = Instant::from_millis(0);
    let mut session = Session::new(buffers, Demo::new(), &config, now);
    let (mut rest, mut len) = (input, 0usize);
    loop {
        if let Some(end) = session.finished() {
            let by_client = matches!(end, End::PeerClosed | End::Truncated | End::Stopped);
            return (len, !by_client);
        }
        let pending = session.transmit();
        if !pending.is_empty() {
            let free = out.get_mut(len..).unwrap_or_default();
            let n = pending.len().min(free.len());
            if n == 0 {
                // The client's buffer is full: the connection fails.
                return (len, true);
            }
            copy(free, pending);
            len += n;
            session.sent(n, now);
            continue;
        }
        if rest.is_empty() {
            if close {
                session.peer_closed(now);
                continue;
            }
            // A silent client: nothing more will come.
            return (len, false);
        }
        let buf = session.receive_buffer();
        let n = buf.len().min(chunk.max(1)).min(rest.len());
        if n == 0 {
            return (len, true);
        }
        copy(buf, rest);
        rest = rest.get(n..).unwrap_or_default();
        session.received(n, now);
    }
}
