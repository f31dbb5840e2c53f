//! One connection's batches: framed through the client core, each reply
//! checked against core's own transforms, or raw echo; the request bodies
//! they send.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::TcpStream;

use jframe::service::Answer;
use jframe::{Header, Op, Status};

use super::LoadConfig;
use crate::client::{TcpClient, invalid};

/// The request bodies: lowercase letters, `size + 26` of them, so that
/// `window(seed)` gives a body that differs from batch to batch without
/// generating it byte by byte.
pub(super) struct Bodies {
    letters: Vec<u8>,
    size: usize,
}

impl Bodies {
    pub(super) fn new(size: usize) -> Self {
        let letters = (0..size + 26).map(|i| b'a' + (i % 26) as u8).collect();
        Bodies { letters, size }
    }

    fn window(&self, seed: usize) -> &[u8] {
        let from = seed % 26;
        self.letters.get(from..from + self.size).unwrap_or_default()
    }
}

/// Appends what the server must answer to `body` (lowercase letters):
/// core's own transforms, so the client cannot disagree with the servers.
/// (A body is consecutive letters, never `greet`'s `exit`, which ends a
/// session: see the test below.)
fn push_expected(op: Op, body: &[u8], out: &mut Vec<u8>) {
    match jframe::service::demo::answer::<core::convert::Infallible>(Some(op.as_str())) {
        Answer::Transform(t) => {
            out.extend_from_slice(t.prefix());
            let from = out.len();
            out.extend_from_slice(body);
            if let Some(new) = out.get_mut(from..) {
                t.apply(new);
            }
            out.extend_from_slice(t.suffix());
        }
        _ => out.extend_from_slice(body),
    }
}

/// A framed connection plus the buffers its batches reuse, so that, like
/// the raw-echo client, it allocates nothing per request.
pub(super) struct Framed {
    s: TcpClient,
    /// Prefix + header of every request (one op, one size): encoded once,
    /// by core.
    head: Vec<u8>,
    /// Expected reply bodies of the batch, back to back, and where each ends.
    want: Vec<u8>,
    ends: Vec<usize>,
    /// Replies of the current batch received and verified so far, and
    /// the bytes of their requests and replies.
    pub(super) answered: usize,
    pub(super) answered_bytes: u64,
}

impl Framed {
    pub(super) fn new(s: TcpClient, cfg: &LoadConfig) -> io::Result<Self> {
        let mut scratch = vec![0u8; crate::SCRATCH];
        let header = Header::request(cfg.op, cfg.size as u64);
        let n = jframe::encode_head(&mut scratch, &header).map_err(invalid)?;
        Ok(Framed {
            s,
            head: scratch.get(..n).unwrap_or_default().to_vec(),
            want: Vec::new(),
            ends: Vec::new(),
            answered: 0,
            answered_bytes: 0,
        })
    }

    /// Sends one batch of `pipeline` requests in one write, then reads and
    /// checks every reply.
    pub(super) fn batch(
        &mut self,
        cfg: &LoadConfig,
        bodies: &Bodies,
        seed: usize,
        count: usize,
    ) -> io::Result<u64> {
        self.want.clear();
        self.ends.clear();
        for k in 0..count {
            let body = bodies.window(seed + k);
            self.s.send_bytes(&self.head)?;
            self.s.send_bytes(body)?;
            push_expected(cfg.op, body, &mut self.want);
            self.ends.push(self.want.len());
        }
        self.answered = 0;
        self.answered_bytes = 0;
        self.s.flush()?;
        let mut from = 0;
        for i in 0..self.ends.len() {
            let to = self.ends.get(i).copied().unwrap_or(from);
            let got = self.reply(from, to)?;
            self.answered_bytes += (cfg.size + got) as u64;
            self.answered += 1;
            from = to;
        }
        Ok(self.answered_bytes)
    }

    /// Whether `e` ended the batch with the server closing the connection
    /// between frames (no reply cut short): what a restarting server does.
    pub(super) fn closed_between_frames(&self, e: &io::Error) -> bool {
        let closed = match e.kind() {
            io::ErrorKind::UnexpectedEof => e.to_string() == SERVER_CLOSED,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => true,
            _ => false,
        };
        closed && self.s.is_between_frames()
    }

    /// Reads one reply through the client core (a welcome set aside) and
    /// checks it against `want[from..to]` chunk by chunk; returns its body
    /// length.
    fn reply(&mut self, from: usize, to: usize) -> io::Result<usize> {
        let want = self.want.get(from..to).unwrap_or_default();
        let len = want.len();
        // Why the reply is wrong, known from its header before its body.
        let wrong: RefCell<Option<String>> = RefCell::new(None);
        let mut at = 0usize;
        let header = self.s.recv_stream(
            |header, data_size| {
                *wrong.borrow_mut() = check_head(header, data_size, len).err();
            },
            |_, chunk| {
                if let Some(why) = wrong.borrow().as_ref() {
                    return Err(invalid(why));
                }
                if want.get(at..at + chunk.len()) != Some(chunk) {
                    return Err(invalid(format!(
                        "wrong reply body {:?}",
                        String::from_utf8_lossy(chunk)
                    )));
                }
                at += chunk.len();
                Ok(())
            },
        )?;
        if header.is_none() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, SERVER_CLOSED));
        }
        if let Some(why) = wrong.into_inner() {
            return Err(invalid(why));
        }
        Ok(len)
    }
}

/// A close between replies.
const SERVER_CLOSED: &str = "server closed the connection";

/// A reply's head must say `ok` (or no status: [`Header::reply_status`])
/// and announce the expected body length.
fn check_head(header: &Header, data_size: u64, len: usize) -> Result<(), String> {
    let status = header.reply_status();
    if status != Status::Ok {
        return Err(format!(
            "status {status}: {}",
            header.error.as_deref().unwrap_or("(no message)")
        ));
    }
    if data_size != len as u64 {
        return Err(format!(
            "wrong reply: {data_size} body bytes, expected {len}"
        ));
    }
    Ok(())
}

/// The raw-echo batch: the same bodies back to back, one write, read back
/// exactly as many bytes, one comparison.
pub(super) fn raw_batch(
    s: &mut TcpStream,
    len: usize,
    bodies: &Bodies,
    batch: &mut Vec<u8>,
    back: &mut [u8],
    seed: usize,
) -> io::Result<u64> {
    batch.clear();
    let mut k = 0;
    while batch.len() < len {
        batch.extend_from_slice(bodies.window(seed + k));
        k += 1;
        if bodies.size == 0 {
            break;
        }
    }
    let back = back.get_mut(..batch.len()).unwrap_or_default();
    s.write_all(batch)?;
    s.read_exact(back)?;
    if back != batch.as_slice() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "echo differs from what was sent",
        ));
    }
    Ok(2 * batch.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_body_ends_a_greet_session() {
        let exit = jframe::service::transform::GREET_EXIT;
        let bodies = Bodies::new(exit.len());
        for seed in 0..26 {
            assert_ne!(bodies.window(seed), exit);
        }
    }
}
