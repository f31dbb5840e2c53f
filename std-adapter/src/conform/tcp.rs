//! Running a TCP case: one connection per case.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::check::{Departures, Reply, check, parse_frame};
use super::{Afterwards, Case, Exchange, Options, Writes};

/// How a wait for a frame ended, other than with a frame.
enum Stop {
    Eof { stray: usize },
    Reset,
    Timeout { partial: usize },
    Bad(String),
    Io(io::Error),
}

impl Stop {
    fn describe(&self, timeout: Duration) -> String {
        match self {
            Stop::Eof { stray: 0 } => "EOF".into(),
            Stop::Eof { stray } => format!("EOF after {stray} bytes of an incomplete frame"),
            Stop::Reset => "a connection reset".into(),
            Stop::Timeout { partial: 0 } => format!("nothing for {timeout:?}"),
            Stop::Timeout { partial } => {
                format!("an incomplete frame ({partial} bytes) for {timeout:?}")
            }
            Stop::Bad(m) => m.clone(),
            Stop::Io(e) => format!("a read error: {e}"),
        }
    }
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// The next frame, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Result<Reply, Stop> {
        let deadline = Instant::now() + timeout;
        let mut tmp = [0u8; 16 * 1024];
        loop {
            match parse_frame(&self.buf, false) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(m) => return Err(Stop::Bad(m)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Stop::Timeout {
                    partial: self.buf.len(),
                });
            }
            if let Err(e) = self.s.set_read_timeout(Some(left)) {
                return Err(Stop::Io(e));
            }
            match self.s.read(&mut tmp) {
                Ok(0) => {
                    return Err(Stop::Eof {
                        stray: self.buf.len(),
                    });
                }
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        return Err(Stop::Timeout {
                            partial: self.buf.len(),
                        });
                    }
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                        return Err(Stop::Reset);
                    }
                    _ => return Err(Stop::Io(e)),
                },
            }
        }
    }

    fn send(&mut self, bytes: &[u8], writes: Writes) -> Result<(), String> {
        let chunk = match writes {
            Writes::Whole => bytes.len().max(1),
            Writes::Chunks(n) => n.max(1),
        };
        let mut sent = 0;
        for part in bytes.chunks(chunk) {
            if let Err(e) = self.s.write_all(part) {
                return Err(format!(
                    "write failed after {sent} of {} bytes: {e}",
                    bytes.len()
                ));
            }
            sent += part.len();
        }
        Ok(())
    }
}

/// Plays a TCP case: `Ok` with how the replies depart from what SPEC asks
/// of senders, or `Err` with why the case failed.
pub(super) fn run_case(
    case: &Case,
    addr: SocketAddr,
    opts: &Options,
) -> Result<Departures, String> {
    let Exchange::Tcp {
        request,
        writes,
        replies,
        end,
    } = &case.exchange
    else {
        return Err("not a TCP case".into());
    };
    let t = opts.timeout;
    let s = TcpStream::connect_timeout(&addr, t).map_err(|e| format!("cannot connect: {e}"))?;
    s.set_nodelay(true)
        .and_then(|()| s.set_write_timeout(Some(t)))
        .map_err(|e| format!("socket setup: {e}"))?;
    let mut c = Conn { s, buf: Vec::new() };
    if opts.welcome {
        c.next(t)
            .map_err(|e| format!("expected a welcome frame, got {}", e.describe(t)))?;
    }
    let mut bytes = request.clone();
    let mut want = replies.clone();
    if *end == Afterwards::Open {
        bytes.extend_from_slice(&case.probe.request);
        want.push(case.probe.reply.clone());
    }
    // A server may rightly close before reading everything (fatal cases):
    // a failed write only matters if the replies are wrong too.
    let write_failure = c.send(&bytes, *writes).err();
    let note = |reason: String| match &write_failure {
        Some(w) => format!("{reason} ({w})"),
        None => reason,
    };
    let mut departures = Departures::default();
    let n = want.len();
    for (i, expect) in want.iter().enumerate() {
        match c.next(t) {
            Ok(reply) => departures.merge(check(expect, &reply).map_err(|m| {
                note(if n == 1 {
                    m
                } else if *end == Afterwards::Open && i == n - 1 {
                    format!("probe reply: {m}")
                } else {
                    format!("reply {} of {n}: {m}", i + 1)
                })
            })?),
            Err(stop) => {
                return Err(note(format!(
                    "expected {n} repl{}, got {i} then {}",
                    if n == 1 { "y" } else { "ies" },
                    stop.describe(t)
                )));
            }
        }
    }
    if *end != Afterwards::Closed {
        return Ok(departures);
    }
    match c.next(t) {
        Err(Stop::Eof { stray: 0 } | Stop::Reset) => Ok(departures),
        Ok(reply) => Err(format!("expected close, got a further reply: {reply}")),
        Err(Stop::Timeout { .. }) => {
            Err(format!("expected close, connection still open after {t:?}"))
        }
        Err(other) => Err(format!("expected close, got {}", other.describe(t))),
    }
}
