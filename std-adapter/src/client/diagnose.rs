//! Telling what answered when a peer is not a jframe server: its first
//! bytes named (HTTP, TLS, SSH, a text protocol), and read errors turned
//! into messages that say who the peer is, how long was waited and what
//! it looks like.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jframe::ReadError;

/// What a peer that is not a jframe server looks like from its first bytes:
/// an HTTP, TLS or SSH server, or a line-based text protocol.
pub(crate) fn identify(first: &[u8]) -> Option<String> {
    let line_end = first
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(first.len());
    let line: String =
        String::from_utf8_lossy(first.get(..line_end.min(72)).unwrap_or_default()).into_owned();
    let starts = |p: &[u8]| {
        first.len() >= p.len()
            && first
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    if starts(b"HTTP/") {
        return Some(format!("an HTTP server (it sent {line:?})"));
    }
    if starts(b"<!doctype") || starts(b"<html") || starts(b"<!DO") || starts(b"<?xml") {
        return Some(format!("an HTTP server or a web page (it sent {line:?})"));
    }
    if let [kind @ (0x14..=0x17), 3, minor, ..] = first
        && *minor <= 4
    {
        let what = match kind {
            0x15 => "an alert",
            0x16 => "a handshake",
            _ => "a record",
        };
        return Some(format!(
            "a TLS server (it sent {what}; try the plain-text port)"
        ));
    }
    if starts(b"SSH-") {
        return Some(format!("an SSH server (it sent {line:?})"));
    }
    let text = first.get(..line_end).unwrap_or_default();
    if line_end >= 3
        && std::str::from_utf8(text).is_ok_and(|t| t.chars().all(|c| !c.is_control() || c == '\t'))
    {
        return Some(format!("a text protocol (its first line: {line:?})"));
    }
    None
}

/// A duration for messages: `3.0s`, `250ms`.
fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// What a client knows of its peer when a read fails.
pub(super) struct Peer<'a> {
    /// Its address, if known.
    pub addr: Option<SocketAddr>,
    /// The client's idle timeout.
    pub timeout: Option<Duration>,
    /// The first bytes it sent.
    pub first: &'a [u8],
    /// How many bytes it sent in all.
    pub received: u64,
}

/// The peer as messages name it.
pub(super) fn peer_name(addr: Option<SocketAddr>) -> String {
    addr.map(|p| p.to_string())
        .unwrap_or_else(|| "the server".into())
}

/// Turns a read error into one that names the peer, what it looks like
/// when it is not a jframe server, and how long was waited (since `since`).
pub(super) fn explain(peer: &Peer<'_>, e: ReadError<io::Error>, since: Instant) -> io::Error {
    let name = peer_name(peer.addr);
    let waited = human(since.elapsed());
    let what = identify(peer.first);
    match e {
        ReadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            let limit = peer.timeout.map(human).unwrap_or(waited);
            let hint = match (&what, peer.received) {
                (Some(what), _) => format!(": it is not a jframe server but {what}"),
                (None, 0) => ": it accepted the connection but has sent nothing at all \
                    (is it a jframe server? an HTTP or TLS server, for one, waits \
                    silently for a request of its own kind)"
                    .to_string(),
                (None, _) => String::new(),
            };
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no reply from {name} within {limit}{hint}"),
            )
        }
        ReadError::Io(e) => io::Error::new(e.kind(), format!("reading from {name}: {e}")),
        ReadError::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            match what {
                Some(what) => {
                    format!("{name} is not a jframe server: it looks like {what}, and closed")
                }
                None => format!("{name} closed the connection in the middle of a frame"),
            },
        ),
        ReadError::Decode(d) => io::Error::new(
            io::ErrorKind::InvalidData,
            match what {
                Some(what) if !d.is_recoverable() => format!(
                    "{name} is not a jframe server: it looks like {what} \
                     (as a frame: {d}; after {waited})"
                ),
                _ => format!("bad frame from {name}: {d}"),
            },
        ),
        other => io::Error::other(format!("reading from {name}: {other}")),
    }
}
