//! Framed blocking streams over `std::net::TcpStream`.
//!
//! The framing itself is `jframe::io::blocking` driving `jframe::Decoder`;
//! this module only supplies the std side: `embedded-io-adapters`' `FromStd`
//! around a `BufReader`/`BufWriter` pair of `TcpStream` halves, plus a reader
//! ([`TimedStream`]) that enforces the idle timeout and the per-frame header
//! deadline with plain socket read timeouts.
//!
//! `read_frame` reads at most to the end of the current frame, in small
//! reads (prefix, header, body); the `BufReader` turns those into one socket
//! read per batch of pipelined frames, and the `BufWriter` is flushed only
//! when no further request is already buffered, so a pipelined batch is
//! answered with one write.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use embedded_io_adapters::std::FromStd;
use jframe::io::blocking::{read_body, read_frame, write_frame, write_head};
use jframe::{Decoder, Header, Op, ReadError, Received, Status, WriteError};

use crate::{MAX_HEADER, SCRATCH};

/// Where a connection is within its current frame, which decides how long a
/// socket read may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Between frames: the idle timeout applies; the first byte that arrives
    /// starts the header deadline.
    Idle,
    /// A frame has started: its header must be complete by this instant.
    Header(Instant),
    /// Reading or skipping a body: the idle timeout applies to each read.
    Body,
}

/// A `TcpStream` reader that turns socket read timeouts into the idle
/// timeout and the header deadline (slowloris), and reports idleness to the
/// server's shutdown logic.
#[derive(Debug)]
pub struct TimedStream {
    stream: TcpStream,
    phase: Phase,
    idle_timeout: Option<Duration>,
    header_timeout: Option<Duration>,
    /// The read timeout currently set on the socket, to avoid a setsockopt
    /// per read on the hot path.
    current: Option<Duration>,
    /// Set while waiting for a new frame (so shutdown may close the read side).
    idle_flag: Option<Arc<AtomicBool>>,
    /// When the last socket read returned data.
    last_data: Instant,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl TimedStream {
    /// Wraps `stream`. `None` timeouts wait forever (clients only).
    pub fn new(
        stream: TcpStream,
        idle_timeout: Option<Duration>,
        header_timeout: Option<Duration>,
    ) -> Self {
        TimedStream {
            stream,
            phase: Phase::Body,
            idle_timeout,
            header_timeout,
            current: None,
            idle_flag: None,
            last_data: Instant::now(),
        }
    }

    /// Shares a flag that is true exactly while the stream waits between frames.
    pub fn with_idle_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        flag.store(self.phase == Phase::Idle, Ordering::SeqCst);
        self.idle_flag = Some(flag);
        self
    }

    /// Moves to `phase`.
    pub fn set_phase(&mut self, phase: Phase) {
        let was_idle = self.phase == Phase::Idle;
        self.phase = phase;
        // The flag changes only with idleness: no atomic store per frame.
        if was_idle != (phase == Phase::Idle)
            && let Some(flag) = &self.idle_flag
        {
            flag.store(phase == Phase::Idle, Ordering::SeqCst);
        }
    }

    /// When the last socket read returned data (construction time before
    /// any): bytes still buffered above this stream arrived no later.
    pub fn last_data(&self) -> Instant {
        self.last_data
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    fn apply(&mut self, want: Option<Duration>) -> io::Result<()> {
        if self.current != want {
            self.stream.set_read_timeout(want)?;
            self.current = want;
        }
        Ok(())
    }
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.phase {
                Phase::Idle | Phase::Body => self.apply(self.idle_timeout)?,
                Phase::Header(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left < Duration::from_millis(1) {
                        return Err(timed_out("header deadline passed"));
                    }
                    let want = self.idle_timeout.map_or(left, |idle| idle.min(left));
                    // Only shrink: a longer timeout left over from earlier
                    // would let the deadline pass unnoticed.
                    if self.current.is_none_or(|c| c > want) {
                        self.apply(Some(want))?;
                    }
                }
            }
            match self.stream.read(buf) {
                Ok(n) => {
                    if n > 0 {
                        // One clock read per socket read, not per frame.
                        self.last_data = Instant::now();
                        if self.phase == Phase::Idle {
                            let phase = match self.header_timeout {
                                Some(t) => Phase::Header(self.last_data + t),
                                None => Phase::Body,
                            };
                            self.set_phase(phase);
                        }
                    }
                    return Ok(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Phase::Header(_) = self.phase {
                        // The socket timeout may be shorter than the
                        // deadline's remainder; the loop re-checks it.
                        continue;
                    }
                    return Err(timed_out("idle timeout"));
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
    /// The whole body.
    pub body: Vec<u8>,
}

impl Message {
    /// The reply status; a reply without one (as the seed-002 Python servers
    /// write) counts as `ok`.
    pub fn status(&self) -> Status {
        self.header.status().unwrap_or(Status::Ok)
    }
}

/// A framed TCP connection for clients: buffered halves, a streaming
/// decoder, and a limit on the bodies it will hold in memory.
pub struct FramedStream {
    /// Read half (`FromStd<BufReader<..>>`).
    pub reader: FrameReader,
    /// Write half (`FromStd<BufWriter<..>>`).
    pub writer: FrameWriter,
    /// The jframe decoder (streaming mode).
    pub decoder: Decoder<Vec<u8>>,
    scratch: Vec<u8>,
    max_body: u64,
}

impl std::fmt::Debug for FramedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramedStream")
            .field("peer", &self.writer.inner().get_ref().peer_addr().ok())
            .field("decoder", &self.decoder)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl FramedStream {
    /// Connects, with `timeout` for the connection and for every read/write.
    pub fn connect<A: ToSocketAddrs>(addr: A, timeout: Duration) -> io::Result<Self> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => return Self::from_stream(s, Some(timeout)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("address resolved to nothing")))
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream, timeout: Option<Duration>) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(timeout)?;
        let (reader, writer) = split(TimedStream::new(stream, timeout, None))?;
        Ok(FramedStream {
            reader,
            writer,
            decoder: decoder(),
            scratch: vec![0u8; SCRATCH],
            max_body: 64 << 20,
        })
    }

    /// Largest body [`Self::recv`] will hold in memory (default 64 MiB).
    pub fn set_max_body(&mut self, max: u64) {
        self.max_body = max;
    }

    /// Queues a frame (sent on [`Self::flush`] or when the buffer fills).
    pub fn send(&mut self, header: &Header, body: &[u8]) -> io::Result<()> {
        write_frame(&mut self.writer, &mut self.scratch, header, body).map_err(write_err)
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
        self.writer.inner_mut().flush()
    }

    /// Receives the next frame whole. `Ok(None)`: the peer closed cleanly.
    pub fn recv(&mut self) -> io::Result<Option<Message>> {
        self.recv_with(|_| Ok(()))
            .map(|m| m.map(|(header, body)| Message { header, body }))
    }

    /// Receives the next frame; bodies above the decoder's room arrive in
    /// chunks passed to `on_chunk` (with progress) and collected.
    fn recv_with(
        &mut self,
        mut on_chunk: impl FnMut(usize) -> io::Result<()>,
    ) -> io::Result<Option<(Header, Vec<u8>)>> {
        match read_frame(&mut self.reader, &mut self.decoder).map_err(read_err)? {
            None => Ok(None),
            Some(Received::Frame(f)) => {
                Ok(Some((f.header.clone(), f.body.to_vec())))
            }
            Some(Received::Head(h)) => {
                let header = h.header.clone();
                if h.data_size > self.max_body {
                    return Err(invalid(format!(
                        "reply body of {} bytes exceeds the limit of {}",
                        h.data_size, self.max_body
                    )));
                }
                let mut body = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                while let Some(data) =
                    read_body(&mut self.reader, &mut self.decoder, &mut chunk).map_err(read_err)?
                {
                    body.extend_from_slice(data);
                    on_chunk(data.len())?;
                }
                Ok(Some((header, body)))
            }
        }
    }

    /// Receives the next frame and hands its body to `sink` chunk by chunk,
    /// never holding more than one chunk (for downloads of any size).
    pub fn recv_streamed(
        &mut self,
        mut sink: impl FnMut(&Header, &[u8]) -> io::Result<()>,
    ) -> io::Result<Option<Header>> {
        match read_frame(&mut self.reader, &mut self.decoder).map_err(read_err)? {
            None => Ok(None),
            Some(Received::Frame(f)) => {
                let header = f.header.clone();
                sink(&header, f.body)?;
                Ok(Some(header))
            }
            Some(Received::Head(h)) => {
                let header = h.header.clone();
                let mut chunk = vec![0u8; 64 * 1024];
                while let Some(data) =
                    read_body(&mut self.reader, &mut self.decoder, &mut chunk).map_err(read_err)?
                {
                    sink(&header, data)?;
                }
                Ok(Some(header))
            }
        }
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
        Ok(jframe::Parse::Complete { body, len, .. }) if len == datagram.len() => Ok((header, body)),
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
