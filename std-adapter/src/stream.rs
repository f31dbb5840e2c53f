//! Framed blocking streams over `std::net::TcpStream`.
//!
//! The framing itself is `jframe::io::blocking` driving `jframe::Decoder`;
//! this module only supplies the std side: `embedded-io-adapters`' `FromStd`
//! around a `BufReader`/`BufWriter` pair of `TcpStream` halves, plus a reader
//! ([`TimedStream`]) that turns the socket read timeout into the client's
//! idle timeout.
//!
//! `read_frame` reads at most to the end of the current frame, in small
//! reads (prefix, header, body); the `BufReader` turns those into one socket
//! read per batch of pipelined frames, and the `BufWriter` holds queued
//! requests until [`FramedStream::flush`], so a pipelined batch leaves in
//! one write.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use embedded_io_adapters::std::FromStd;
use jframe::io::blocking::{read_body, read_frame, write_frame, write_head};
use jframe::{Decoder, Header, Op, ReadError, Received, Status, WriteError};

use crate::{MAX_HEADER, SCRATCH};

/// A client's `TcpStream` reader: a socket read that waits longer than the
/// idle timeout fails with `TimedOut`, and the peer's first bytes can be
/// kept to name what answered when it is not a jframe server. (The servers
/// read through `server::link`, which also enforces the header deadline.)
#[derive(Debug)]
pub struct TimedStream {
    stream: TcpStream,
    /// The first bytes the peer sent (clients: to tell what a peer that is
    /// not a jframe server is), at most [`FIRST_BYTES`].
    first: Option<Vec<u8>>,
    /// Bytes received so far.
    received: u64,
}

/// How many of a peer's first bytes a client keeps, to name what answered
/// when it is not a jframe server.
pub const FIRST_BYTES: usize = 128;

impl TimedStream {
    /// Wraps `stream`, setting its read timeout to `idle_timeout` (`None`
    /// waits forever).
    pub fn new(stream: TcpStream, idle_timeout: Option<Duration>) -> io::Result<Self> {
        stream.set_read_timeout(idle_timeout)?;
        Ok(TimedStream {
            stream,
            first: None,
            received: 0,
        })
    }

    /// Keeps the first [`FIRST_BYTES`] the peer sends (see [`Self::first_bytes`]).
    pub fn keep_first_bytes(mut self) -> Self {
        self.first = Some(Vec::new());
        self
    }

    /// The first bytes the peer sent, when kept.
    pub fn first_bytes(&self) -> &[u8] {
        self.first.as_deref().unwrap_or_default()
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Ok(n) => {
                    self.received += n as u64;
                    if let Some(first) = &mut self.first
                        && first.len() < FIRST_BYTES
                    {
                        let room = (FIRST_BYTES - first.len()).min(n);
                        first.extend_from_slice(buf.get(..room).unwrap_or_default());
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

/// Buffered, framed read half.
pub type FrameReader = FromStd<BufReader<TimedStream>>;
/// Buffered, framed write half.
pub type FrameWriter = FromStd<BufWriter<TcpStream>>;

/// Socket buffer sizes: small, since a server holds one of each per
/// connection (1,000 connections must fit in 64 MiB).
pub const READ_BUF: usize = 4096;
/// See [`READ_BUF`].
pub const WRITE_BUF: usize = 4096;
/// Decoder buffer: a full-size header plus small bodies held whole; larger
/// bodies are streamed.
pub const DECODE_BUF: usize = 8192;

/// Splits `stream` into framed halves.
pub fn split(stream: TimedStream) -> io::Result<(FrameReader, FrameWriter)> {
    let write = stream.get_ref().try_clone()?;
    Ok((
        FromStd::new(BufReader::with_capacity(READ_BUF, stream)),
        FromStd::new(BufWriter::with_capacity(WRITE_BUF, write)),
    ))
}

/// A streaming decoder with the std adapter's limits.
pub fn decoder() -> Decoder<Vec<u8>> {
    Decoder::new(vec![0u8; DECODE_BUF])
        .with_max_header(MAX_HEADER)
        .streaming(true)
}

/// Converts a jframe read error into an `io::Error` for callers that only
/// need a message.
pub fn read_err(e: ReadError<io::Error>) -> io::Error {
    match e {
        ReadError::Io(e) => e,
        ReadError::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed in the middle of a frame",
        ),
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Converts a jframe write error into an `io::Error`.
pub fn write_err(e: WriteError<io::Error>) -> io::Error {
    match e {
        WriteError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// One received frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The parsed header.
    pub header: Header,
    /// The whole body (for an error reply: at most [`MAX_ERROR_BODY`] bytes).
    pub body: Vec<u8>,
    /// The header's JSON as it arrived (unknown keys included).
    pub header_json: Vec<u8>,
}

impl Message {
    /// The reply status; a reply without one (as the seed-002 Python servers
    /// write) counts as `ok`.
    pub fn status(&self) -> Status {
        self.header.status().unwrap_or(Status::Ok)
    }
}

/// The most body bytes a client reads in one go (a streamed body is read
/// in chunks of this size).
const CHUNK: usize = 64 * 1024;

/// The most a client keeps of an error reply's body (the message is in the
/// header; SPEC error replies have empty bodies). A larger one is not read:
/// the client keeps this much and closes the connection, so a peer cannot
/// make it read or buffer a body it declared as 400 MiB.
pub const MAX_ERROR_BODY: u64 = 4096;

/// The start of the body of the echo request a client sends to tell a
/// server's welcome frame from the reply to its first request (see
/// [`FramedStream::queue_probe`]). Upper-case, so `upper` keeps it as is.
pub const PROBE_PREFIX: &str = "JFRAME-PROBE-";

/// What a peer that is not a jframe server looks like from its first bytes:
/// an HTTP, TLS or SSH server, or a line-based text protocol.
pub fn identify(first: &[u8]) -> Option<String> {
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

/// A framed TCP connection for clients: buffered halves, a streaming
/// decoder, a limit on the bodies it will hold in memory, and errors that
/// say who the peer is, how long was waited and what answered.
pub struct FramedStream {
    /// Read half (`FromStd<BufReader<..>>`).
    pub reader: FrameReader,
    /// Write half (`FromStd<BufWriter<..>>`).
    pub writer: FrameWriter,
    /// The jframe decoder (streaming mode).
    pub decoder: Decoder<Vec<u8>>,
    scratch: Vec<u8>,
    max_body: u64,
    peer: Option<SocketAddr>,
    timeout: Option<Duration>,
    /// Why the connection was given up (an oversized reply left unread).
    abandoned: Option<String>,
    /// The body of the queued welcome probe, until its reply is read.
    probe: Option<Vec<u8>>,
}

impl std::fmt::Debug for FramedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramedStream")
            .field("peer", &self.peer)
            .field("decoder", &self.decoder)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl FramedStream {
    /// Connects, with `timeout` for the connection and for every read/write.
    /// Each address `addr` resolves to is tried in turn (`localhost` may be
    /// `::1` and `127.0.0.1`); the error names the address and the cause.
    pub fn connect<A: ToSocketAddrs>(addr: A, timeout: Duration) -> io::Result<Self> {
        let mut errors: Vec<(SocketAddr, io::Error)> = Vec::new();
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => return Self::from_stream(s, Some(timeout)),
                Err(e) => errors.push((a, e)),
            }
        }
        match errors.len() {
            0 => Err(io::Error::other("address resolved to nothing")),
            // One address: the error as it is (the caller names the address).
            1 => Err(errors.remove(0).1),
            _ => {
                let kind = errors
                    .last()
                    .map_or(io::ErrorKind::Other, |(_, e)| e.kind());
                let all: Vec<String> = errors.iter().map(|(a, e)| format!("{a}: {e}")).collect();
                Err(io::Error::new(kind, all.join("; ")))
            }
        }
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream, timeout: Option<Duration>) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(timeout)?;
        let peer = stream.peer_addr().ok();
        let timed = TimedStream::new(stream, timeout)?.keep_first_bytes();
        let (reader, writer) = split(timed)?;
        Ok(FramedStream {
            reader,
            writer,
            decoder: decoder(),
            scratch: vec![0u8; SCRATCH],
            max_body: 64 << 20,
            peer,
            timeout,
            abandoned: None,
            probe: None,
        })
    }

    /// The peer's address.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Largest body [`Self::recv`] will hold in memory (default 64 MiB).
    pub fn set_max_body(&mut self, max: u64) {
        self.max_body = max;
    }

    /// Queues a frame (sent on [`Self::flush`] or when the buffer fills).
    pub fn send(&mut self, header: &Header, body: &[u8]) -> io::Result<()> {
        write_frame(&mut self.writer, &mut self.scratch, header, body).map_err(write_err)
    }

    /// Queues a frame whose header is given as JSON bytes (any keys; the
    /// caller vouches for `data_size` matching `body`).
    pub fn send_json(&mut self, header_json: &[u8], body: &[u8]) -> io::Result<()> {
        let prefix = i32::try_from(header_json.len())
            .ok()
            .filter(|&n| n >= 2 && n.unsigned_abs() <= MAX_HEADER)
            .ok_or_else(|| {
                invalid(format!(
                    "header of {} bytes (the limit is {MAX_HEADER})",
                    header_json.len()
                ))
            })?;
        let w = self.writer.inner_mut();
        w.write_all(&prefix.to_le_bytes())?;
        w.write_all(header_json)?;
        w.write_all(body)
    }

    /// Queues a request for `op` with `body`.
    pub fn send_request(&mut self, op: Op, body: &[u8]) -> io::Result<()> {
        self.send(&Header::request(op, body.len() as u64), body)
    }

    /// Queues a frame head; the caller then writes `data_size` body bytes.
    pub fn send_head(&mut self, header: &Header) -> io::Result<()> {
        write_head(&mut self.writer, &mut self.scratch, header).map_err(write_err)
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.inner_mut().flush().map_err(|e| {
            let to = self.peer.map(|p| format!(" to {p}")).unwrap_or_default();
            io::Error::new(e.kind(), format!("write{to}: {e}"))
        })
    }

    /// Queues an `echo` request with a unique body starting with
    /// [`PROBE_PREFIX`]. A server started with a welcome text sends that
    /// frame first on every connection, and it looks like any `ok` reply:
    /// after this probe (and the caller's requests) are flushed,
    /// [`Self::take_welcome`] reads up to the probe's reply and returns the
    /// welcome frame if one came first. The probe costs no round trip.
    pub fn queue_probe(&mut self) -> io::Result<()> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let body = format!(
            "{PROBE_PREFIX}{:016X}",
            (nanos as u64) ^ (u64::from(std::process::id()) << 32)
        )
        .into_bytes();
        self.send_request(Op::Echo, &body)?;
        self.probe = Some(body);
        Ok(())
    }

    /// Reads the reply to [`Self::queue_probe`]'s request, and the welcome
    /// frame before it if the server sent one (`Some`). A `busy` refusal is
    /// an error; a server that refuses the probe (say, one that does not
    /// serve `echo`) has no welcome as far as this can tell.
    pub fn take_welcome(&mut self) -> io::Result<Option<Message>> {
        let Some(probe) = self.probe.take() else {
            return Ok(None);
        };
        let is_probe_reply = |m: &Message| {
            m.status() == Status::Ok && m.body.windows(probe.len()).any(|w| w == probe.as_slice())
        };
        let closed = |peer: Option<SocketAddr>| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} closed the connection without replying",
                    peer.map(|p| p.to_string())
                        .unwrap_or_else(|| "the server".into())
                ),
            )
        };
        let first = self.recv()?.ok_or_else(|| closed(self.peer))?;
        if is_probe_reply(&first) {
            return Ok(None);
        }
        if first.status() == Status::Busy {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!(
                    "server busy: {}",
                    first
                        .header
                        .error
                        .as_deref()
                        .unwrap_or("too many connections")
                ),
            ));
        }
        if first.status() != Status::Ok {
            if let Some(why) = &self.abandoned {
                // Not an answer to the probe a server could mean: say what came.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: {} ({why})",
                        first.status(),
                        first.header.error.as_deref().unwrap_or("(no message)")
                    ),
                ));
            }
            return Ok(None);
        }
        // An `ok` frame that is not the probe's reply came first: the welcome.
        match self.recv()? {
            Some(_) => Ok(Some(first)),
            None => Err(closed(self.peer)),
        }
    }

    /// Turns a read error into one that names the peer, what it looks like
    /// when it is not a jframe server, and how long was waited.
    fn explain(&self, e: ReadError<io::Error>, since: Instant) -> io::Error {
        let peer = self
            .peer
            .map(|p| p.to_string())
            .unwrap_or_else(|| "the server".into());
        let timed = self.reader.inner().get_ref();
        let first = timed.first_bytes();
        let waited = human(since.elapsed());
        let what = identify(first);
        match e {
            ReadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
                let limit = self.timeout.map(human).unwrap_or(waited);
                let hint = match (&what, timed.received()) {
                    (Some(what), _) => format!(": it is not a jframe server but {what}"),
                    (None, 0) => ": it accepted the connection but has sent nothing at all \
                        (is it a jframe server? an HTTP or TLS server, for one, waits \
                        silently for a request of its own kind)"
                        .to_string(),
                    (None, _) => String::new(),
                };
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no reply from {peer} within {limit}{hint}"),
                )
            }
            ReadError::Io(e) => io::Error::new(e.kind(), format!("reading from {peer}: {e}")),
            ReadError::UnexpectedEof => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                match what {
                    Some(what) => {
                        format!("{peer} is not a jframe server: it looks like {what}, and closed")
                    }
                    None => format!("{peer} closed the connection in the middle of a frame"),
                },
            ),
            ReadError::Decode(d) => io::Error::new(
                io::ErrorKind::InvalidData,
                match what {
                    Some(what) if !d.is_recoverable() => format!(
                        "{peer} is not a jframe server: it looks like {what} \
                         (as a frame: {d}; after {waited})"
                    ),
                    _ => format!("bad frame from {peer}: {d}"),
                },
            ),
            other => io::Error::other(format!("reading from {peer}: {other}")),
        }
    }

    fn check_open(&self) -> io::Result<()> {
        match &self.abandoned {
            Some(why) => Err(io::Error::new(io::ErrorKind::NotConnected, why.clone())),
            None => Ok(()),
        }
    }

    /// Gives the connection up: nothing more is read from it.
    fn abandon(&mut self, why: String) {
        let _ = self.writer.inner().get_ref().shutdown(Shutdown::Both);
        self.abandoned = Some(why);
    }

    /// Receives the next frame whole. `Ok(None)`: the peer closed cleanly.
    /// An error reply keeps at most [`MAX_ERROR_BODY`] bytes of its body; if
    /// it declared more, the rest is not read and the connection is closed
    /// (later calls fail). An `ok` body above the limit
    /// ([`Self::set_max_body`]) is an error, before any of it is read.
    pub fn recv(&mut self) -> io::Result<Option<Message>> {
        self.check_open()?;
        let since = Instant::now();
        let (header, json, data_size) = match read_frame(&mut self.reader, &mut self.decoder) {
            Err(e) => return Err(self.explain(e, since)),
            Ok(None) => return Ok(None),
            Ok(Some(Received::Frame(f))) => {
                let mut body = f.body.to_vec();
                if f.header.status().unwrap_or(Status::Ok) != Status::Ok {
                    body.truncate(MAX_ERROR_BODY as usize);
                }
                return Ok(Some(Message {
                    header: f.header.clone(),
                    body,
                    header_json: f.header_json.to_vec(),
                }));
            }
            Ok(Some(Received::Head(h))) => (h.header.clone(), h.header_json.to_vec(), h.data_size),
        };
        let refusal = header.status().unwrap_or(Status::Ok) != Status::Ok;
        let keep = if refusal {
            MAX_ERROR_BODY.min(data_size)
        } else if data_size > self.max_body {
            let why = format!(
                "reply body of {data_size} bytes exceeds the limit of {}; connection closed",
                self.max_body
            );
            self.abandon(why.clone());
            return Err(invalid(why));
        } else {
            data_size
        };
        // Read straight into the body, a chunk at a time (no staging copy;
        // a declared size is not trusted for a single allocation).
        let mut body = Vec::new();
        while (body.len() as u64) < keep {
            let have = body.len();
            let want = usize::try_from(keep - have as u64)
                .unwrap_or(usize::MAX)
                .min(CHUNK);
            body.resize(have + want, 0);
            let buf = body.get_mut(have..).unwrap_or_default();
            match read_body(&mut self.reader, &mut self.decoder, buf) {
                Ok(Some(data)) => {
                    let n = data.len();
                    body.truncate(have + n);
                }
                Ok(None) => {
                    body.truncate(have);
                    break;
                }
                Err(e) => return Err(self.explain(e, since)),
            }
        }
        if keep < data_size {
            self.abandon(format!(
                "the connection was closed after a {} reply whose body declared {data_size} \
                 bytes (only the first {keep} were read)",
                header.status().unwrap_or(Status::Error)
            ));
        }
        Ok(Some(Message {
            header,
            body,
            header_json: json,
        }))
    }

    /// Receives the next frame and hands its body to `sink` chunk by chunk,
    /// never holding more than one chunk (for downloads of any size). An
    /// error reply's body is bounded as in [`Self::recv`].
    pub fn recv_streamed(
        &mut self,
        sink: impl FnMut(&Header, &[u8]) -> io::Result<()>,
    ) -> io::Result<Option<Header>> {
        self.recv_stream(|_, _| {}, sink)
    }

    /// [`Self::recv_streamed`], calling `on_head(header, data_size)` as
    /// soon as the header has arrived (before any body byte).
    pub fn recv_stream(
        &mut self,
        mut on_head: impl FnMut(&Header, u64),
        mut sink: impl FnMut(&Header, &[u8]) -> io::Result<()>,
    ) -> io::Result<Option<Header>> {
        self.check_open()?;
        let since = Instant::now();
        let (header, data_size) = match read_frame(&mut self.reader, &mut self.decoder) {
            Err(e) => return Err(self.explain(e, since)),
            Ok(None) => return Ok(None),
            Ok(Some(Received::Frame(f))) => {
                let header = f.header.clone();
                on_head(&header, f.body.len() as u64);
                let refusal = header.status().unwrap_or(Status::Ok) != Status::Ok;
                let body = if refusal {
                    f.body.get(..MAX_ERROR_BODY as usize).unwrap_or(f.body)
                } else {
                    f.body
                };
                sink(&header, body)?;
                return Ok(Some(header));
            }
            Ok(Some(Received::Head(h))) => (h.header.clone(), h.data_size),
        };
        on_head(&header, data_size);
        let refusal = header.status().unwrap_or(Status::Ok) != Status::Ok;
        let keep = if refusal {
            MAX_ERROR_BODY.min(data_size)
        } else {
            data_size
        };
        let mut chunk = vec![0u8; CHUNK.min(usize::try_from(keep).unwrap_or(CHUNK))];
        let mut got = 0u64;
        while got < keep {
            let want = usize::try_from(keep - got)
                .unwrap_or(usize::MAX)
                .min(chunk.len());
            let buf = chunk.get_mut(..want).unwrap_or_default();
            match read_body(&mut self.reader, &mut self.decoder, buf) {
                Ok(Some(data)) => {
                    got += data.len() as u64;
                    sink(&header, data)?;
                }
                Ok(None) => break,
                Err(e) => return Err(self.explain(e, since)),
            }
        }
        if keep < data_size {
            self.abandon(format!(
                "the connection was closed after an error reply whose body declared \
                 {data_size} bytes (only the first {keep} were read)"
            ));
        }
        Ok(Some(header))
    }

    /// Bytes received on this connection so far.
    pub fn received(&self) -> u64 {
        self.reader.inner().get_ref().received()
    }

    /// Closes the write side (the peer sees end of stream after our frames).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.flush()?;
        self.writer.inner().get_ref().shutdown(Shutdown::Write)
    }
}

fn invalid<E: ToString>(e: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Decodes one UDP datagram as exactly one frame, in place. Returns the
/// header and the body, borrowed from the datagram.
pub fn decode_datagram(datagram: &[u8]) -> Result<(Header, &[u8]), (Status, String)> {
    let mut header = Header::default();
    match jframe::parse_frame(datagram, MAX_HEADER, &mut header) {
        Ok(jframe::Parse::Complete { body, len, .. }) if len == datagram.len() => {
            Ok((header, body))
        }
        Ok(jframe::Parse::Complete { .. }) => Err((
            Status::BadFrame,
            "bytes after the frame in the datagram".to_string(),
        )),
        Ok(jframe::Parse::Partial { .. }) => Err((
            Status::Truncated,
            "datagram is shorter than its header says".to_string(),
        )),
        Err(e) => Err((e.status(), e.to_string())),
    }
}
