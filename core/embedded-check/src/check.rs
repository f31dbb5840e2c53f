//! What the firmware does with jframe: serve requests with core's sans-IO
//! session (`jframe::service::Session`, the same session every server
//! runs), driven by a loop that moves bytes and passes the time, then
//! verify the replies with the decoder.

use jframe::service::{Config, Demo, End, Instant, Limits, Session, Storage, Timeouts};
use jframe::{CompactHeader, Decoder, Event, Status};

/// The replies the requests of `main.rs` must get, in order.
const EXPECTED: [(Status, &[u8]); 5] = [
    (Status::Ok, b"HELLO"),
    (Status::Ok, b"abc"),
    (Status::BadRequest, b""),
    (Status::Ok, b"Hello, world!"),
    (Status::Ok, b"streamed through the engine, chunk by chunk"),
];

/// Serves every request in `input` (read `chunk` bytes at a time), then
/// checks the replies. `true` when everything came back as expected.
pub fn run(input: &[u8], chunk: usize) -> bool {
    let mut wire = [0u8; 512];
    let Some(len) = serve_all(input, chunk, &mut wire) else {
        return false;
    };
    let replies = wire.get(..len).unwrap_or_default();
    #[cfg(feature = "io")]
    if !verify_io(replies) {
        return false;
    }
    verify(replies, chunk)
}

/// A copy without `copy_from_slice`'s length check, which at opt-level "z"
/// stays out of line with its panic path (as in jframe's own `copy`).
fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// Runs the session over the requests (read `chunk` bytes at a time, one
/// millisecond apart); returns the replies' total length when the session
/// ended cleanly (the peer closed between frames).
fn serve_all(input: &[u8], chunk: usize, wire: &mut [u8]) -> Option<usize> {
    // A small frame buffer, so that the last request's body is streamed
    // (Head + BodyChunk) while the others arrive whole.
    let mut memory = Storage::<64, 64, 256>::new();
    let buffers = memory.buffers();
    let config = Config {
        limits: Limits {
            max_header: 64,
            max_body: 1024,
        },
        timeouts: Timeouts::DEVICE,
        welcome: None,
    };
    let mut ms = 0u64;
    let mut session = Session::new(buffers, Demo::new(), &config, Instant::from_millis(ms));
    let (mut rest, mut len) = (input, 0usize);
    loop {
        ms += 1;
        let now = Instant::from_millis(ms);
        session.handle_timeout(now);
        if let Some(end) = session.finished() {
            return matches!(end, End::PeerClosed).then_some(len);
        }
        let out = session.transmit();
        if !out.is_empty() {
            let free = wire.get_mut(len..).unwrap_or_default();
            let n = out.len().min(free.len());
            if n == 0 {
                return None;
            }
            copy(free, out);
            len += n;
            session.sent(n, now);
            continue;
        }
        if rest.is_empty() {
            session.peer_closed(now);
            continue;
        }
        let buf = session.receive_buffer();
        let n = buf.len().min(chunk.max(1)).min(rest.len());
        if n == 0 {
            return None;
        }
        copy(buf, rest);
        rest = rest.get(n..).unwrap_or_default();
        session.received(n, now);
    }
}

/// Decodes the replies and compares them with what the requests asked for.
fn verify(replies: &[u8], chunk: usize) -> bool {
    // `&mut [u8]` and `CompactHeader`, as in the engine (with `Builtin`):
    // one copy of the decoder's code.
    let mut buf = [0u8; 128];
    let mut decoder = Decoder::with_header(&mut buf[..], CompactHeader::default());
    let mut seen = 0;
    for piece in replies.chunks(chunk.max(1)) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (used, event) = decoder.feed(rest);
            match event {
                Ok(Event::Frame(frame)) => {
                    let Some((status, body)) = EXPECTED.get(seen) else {
                        return false;
                    };
                    if frame.header.status() != Some(*status) || frame.body != *body {
                        return false;
                    }
                    seen += 1;
                }
                Ok(_) => {}
                Err(_) => return false,
            }
            let Some(next) = rest.get(used..) else {
                return false;
            };
            rest = next;
        }
    }
    seen == EXPECTED.len() && decoder.is_idle()
}

/// The blocking I/O helpers read the same replies.
#[cfg(feature = "io")]
fn verify_io(replies: &[u8]) -> bool {
    use jframe::Received;
    use jframe::io::blocking::read_frame;

    let mut reader = replies;
    let mut buf = [0u8; 128];
    let mut decoder = Decoder::with_header(&mut buf[..], CompactHeader::default());
    for (status, body) in EXPECTED {
        match read_frame(&mut reader, &mut decoder) {
            Ok(Some(Received::Frame(frame)))
                if frame.header.status() == Some(status) && frame.body == body => {}
            _ => return false,
        }
    }
    matches!(read_frame(&mut reader, &mut decoder), Ok(None))
}
