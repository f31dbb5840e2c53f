//! The framed TCP client: buffered halves of one `TcpStream`, core's
//! streaming decoder, a limit on the bodies it will hold in memory, and
//! errors that say who the peer is, how long was waited and what answered.
//!
//! The framing itself is `jframe::io::blocking` driving `jframe::Decoder`;
//! this module only supplies the std side: `embedded-io-adapters`' `FromStd`
//! around a `BufReader`/`BufWriter` pair of `TcpStream` halves, over a
//! reader (`super::timed`) that turns the socket read timeout into the
//! client's idle timeout.
//!
//! `read_frame` reads at most to the end of the current frame, in small
//! reads (prefix, header, body); the `BufReader` turns those into one socket
//! read per batch of pipelined frames, and the `BufWriter` holds queued
//! requests until [`TcpClient::flush`], so a pipelined batch leaves in
//! one write.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use embedded_io_adapters::std::FromStd;
use jframe::io::blocking::{read_body, read_frame, write_all, write_frame, write_head};
use jframe::{Decoder, Header, Op, Received, Status, WriteError};

use super::diagnose::{self, Peer};
use super::timed::TimedStream;
use super::{MAX_ERROR_BODY, OwnedFrame, encode_request_head, invalid};
use crate::{MAX_HEADER, SCRATCH};

/// Buffered, framed read half.
type FrameReader = FromStd<BufReader<TimedStream>>;
/// Buffered, framed write half.
type FrameWriter = FromStd<BufWriter<TcpStream>>;

/// Socket buffer sizes: small, as a client may hold many connections
/// (`jframe load -c 1000`).
const READ_BUF: usize = 4096;
const WRITE_BUF: usize = 4096;
/// Decoder buffer: a full-size header plus small bodies held whole; larger
/// bodies are streamed.
const DECODE_BUF: usize = 8192;

/// The most body bytes a client reads in one go (a streamed body is read
/// in chunks of this size).
const CHUNK: usize = 64 * 1024;

/// Converts a jframe write error into an `io::Error`.
fn write_err(e: WriteError<io::Error>) -> io::Error {
    match e {
        WriteError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// SPEC: a welcome is marked `"welcome": true`. `unmarked`: the frame is
/// where an unmarked welcome is expected (the first), and is taken as one
/// when it is `ok` (a `busy` refusal in its place stays a refusal).
fn is_welcome(header: &Header, unmarked: bool) -> bool {
    header.welcome || (unmarked && header.reply_status() == Status::Ok)
}

/// A frame read up to its body: held whole, or a head whose body follows.
enum Next {
    Whole(OwnedFrame),
    Head(HeadOnly),
}

/// A frame whose body is still to be read.
struct HeadOnly {
    header: Header,
    header_json: Vec<u8>,
    data_size: u64,
    welcome: bool,
}

/// A framed TCP connection for clients: buffered halves, a streaming
/// decoder, a limit on the bodies it will hold in memory, and errors that
/// say who the peer is, how long was waited and what answered.
///
/// Requests queue until [`Self::flush`], so several pipeline; replies come
/// back in order. A server's welcome frame is set aside as it arrives
/// ([`Self::recv`], [`Self::recv_stream`]) and handed out by
/// [`Self::take_welcome`]; it is recognised by its `"welcome": true` alone,
/// or, after [`Self::expect_welcome`], as the connection's first frame.
///
/// ```
/// use std::time::Duration;
/// use jframe::{Op, Status};
/// use jframe_std::client::TcpClient;
/// use jframe_std::server::{Config, Server};
///
/// let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle()?;
/// let running = std::thread::spawn(move || server.run());
///
/// let mut client = TcpClient::connect(addr, Duration::from_secs(5))?;
/// client.send_request(Op::Echo, b"ping")?;
/// client.flush()?;
/// let reply = client.recv()?.expect("a reply");
/// assert_eq!(reply.status(), Status::Ok);
/// assert_eq!(reply.body, b"ping");
///
/// drop(client);
/// stop.shutdown();
/// running.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TcpClient {
    reader: FrameReader,
    writer: FrameWriter,
    decoder: Decoder<Vec<u8>>,
    scratch: Vec<u8>,
    max_body: u64,
    peer: Option<SocketAddr>,
    timeout: Option<Duration>,
    /// Why the connection was given up (an oversized reply left unread).
    abandoned: Option<String>,
    /// The first frame is a welcome even without the mark.
    expect_welcome: bool,
    /// Frames received so far.
    frames: u64,
    /// The welcome frame, set aside until taken.
    welcome: Option<OwnedFrame>,
}

impl std::fmt::Debug for TcpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpClient")
            .field("peer", &self.peer)
            .field("decoder", &self.decoder)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl TcpClient {
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
        let write = stream.try_clone()?;
        let timed = TimedStream::new(stream, timeout)?;
        Ok(TcpClient {
            reader: FromStd::new(BufReader::with_capacity(READ_BUF, timed)),
            writer: FromStd::new(BufWriter::with_capacity(WRITE_BUF, write)),
            decoder: Decoder::new(vec![0u8; DECODE_BUF])
                .with_max_header(MAX_HEADER)
                .streaming(true),
            scratch: vec![0u8; SCRATCH],
            max_body: 64 << 20,
            peer,
            timeout,
            abandoned: None,
            expect_welcome: false,
            frames: 0,
            welcome: None,
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

    /// For a server that does not mark its welcome: the connection's first
    /// frame is taken as the welcome, whatever it carries.
    pub fn expect_welcome(&mut self, on: bool) {
        self.expect_welcome = on;
    }

    /// The server's welcome frame, once it has been received (it comes
    /// first, so after the first [`Self::recv`]).
    pub fn take_welcome(&mut self) -> Option<OwnedFrame> {
        self.welcome.take()
    }

    /// Queues a frame (sent on [`Self::flush`] or when the buffer fills).
    pub fn send(&mut self, header: &Header, body: &[u8]) -> io::Result<()> {
        write_frame(&mut self.writer, &mut self.scratch, header, body).map_err(write_err)
    }

    /// Queues a request for `op` with `body`.
    pub fn send_request(&mut self, op: Op, body: &[u8]) -> io::Result<()> {
        self.send(&Header::request(op, body.len() as u64), body)
    }

    /// Queues a frame head; the caller then writes `data_size` body bytes
    /// with [`Self::send_bytes`].
    pub fn send_head(&mut self, header: &Header) -> io::Result<()> {
        write_head(&mut self.writer, &mut self.scratch, header).map_err(write_err)
    }

    /// Queues a request for the service `op` whose header carries the
    /// caller's extra keys (see [`encode_request_head`]).
    pub fn send_request_with<T: serde::Serialize + ?Sized>(
        &mut self,
        op: &str,
        extra: &T,
        body: &[u8],
    ) -> io::Result<()> {
        let head = encode_request_head(op, extra, body.len())?;
        self.send_bytes(&head)?;
        self.send_bytes(body)
    }

    /// Queues bytes core has framed (a head encoded once and sent many
    /// times), or the body a [`Self::send_head`] announced.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        write_all(&mut self.writer, bytes).map_err(write_err)
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.inner_mut().flush().map_err(|e| {
            let to = self.peer.map(|p| format!(" to {p}")).unwrap_or_default();
            io::Error::new(e.kind(), format!("write{to}: {e}"))
        })
    }

    /// Turns a read error into one that names the peer and what it looks
    /// like ([`diagnose::explain`]).
    fn explain(&self, e: jframe::ReadError<io::Error>, since: Instant) -> io::Error {
        let timed = self.reader.inner().get_ref();
        let peer = Peer {
            addr: self.peer,
            timeout: self.timeout,
            first: &timed.first,
            received: timed.received,
        };
        diagnose::explain(&peer, e, since)
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

    /// Reads the next frame up to its body: a small frame whole, or the
    /// head of a streamed one. Tells the welcome apart.
    fn next(&mut self, since: Instant) -> io::Result<Option<Next>> {
        self.check_open()?;
        let first = self.frames == 0;
        let expect = self.expect_welcome;
        let next = match read_frame(&mut self.reader, &mut self.decoder) {
            Err(e) => return Err(self.explain(e, since)),
            Ok(None) => return Ok(None),
            Ok(Some(Received::Frame(f))) => {
                let mut body = f.body.to_vec();
                if f.header.reply_status() != Status::Ok {
                    body.truncate(MAX_ERROR_BODY as usize);
                }
                Next::Whole(OwnedFrame {
                    welcome: is_welcome(f.header, first && expect),
                    header: f.header.clone(),
                    body,
                    header_json: f.header_json.to_vec(),
                })
            }
            Ok(Some(Received::Head(h))) => Next::Head(HeadOnly {
                welcome: is_welcome(h.header, first && expect),
                header: h.header.clone(),
                header_json: h.header_json.to_vec(),
                data_size: h.data_size,
            }),
        };
        self.frames += 1;
        let welcome = match &next {
            Next::Whole(m) => m.welcome,
            Next::Head(h) => h.welcome,
        };
        if welcome && !first {
            let why = format!(
                "{} sent a welcome frame after {} other frames (SPEC: a welcome comes first)",
                diagnose::peer_name(self.peer),
                self.frames - 1
            );
            self.abandon(why.clone());
            return Err(invalid(why));
        }
        Ok(Some(next))
    }

    /// The body bytes to read of a frame that declared `data_size`: all of
    /// an `ok` one (an error above the limit), at most [`MAX_ERROR_BODY`]
    /// of a refusal.
    fn keep(&mut self, header: &Header, data_size: u64, limit: u64) -> io::Result<u64> {
        if header.reply_status() != Status::Ok {
            return Ok(MAX_ERROR_BODY.min(data_size));
        }
        if data_size > limit {
            let why = format!(
                "reply body of {data_size} bytes exceeds the limit of {limit}; connection closed"
            );
            self.abandon(why.clone());
            return Err(invalid(why));
        }
        Ok(data_size)
    }

    /// Passes the body of the head just read to `sink`, a chunk at a time
    /// (at most `keep` bytes of `data_size`; the connection is given up
    /// when the rest is left unread).
    fn stream_body(
        &mut self,
        header: &Header,
        data_size: u64,
        keep: u64,
        since: Instant,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
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
                    sink(data)?;
                }
                Ok(None) => break,
                Err(e) => return Err(self.explain(e, since)),
            }
        }
        if keep < data_size {
            self.abandon(format!(
                "the connection was closed after a {} reply whose body declared {data_size} \
                 bytes (only the first {keep} were read)",
                header.reply_status()
            ));
        }
        Ok(())
    }

    /// Receives the next frame whole, welcome or not
    /// ([`OwnedFrame::welcome`] says which). `Ok(None)`: the peer closed
    /// cleanly. An error reply keeps at most [`MAX_ERROR_BODY`] bytes of
    /// its body; if it declared more, the rest is not read and the
    /// connection is closed (later calls fail). An `ok` body above the
    /// limit ([`Self::set_max_body`]) is an error, before any of it is read.
    pub fn recv_frame(&mut self) -> io::Result<Option<OwnedFrame>> {
        let since = Instant::now();
        match self.next(since)? {
            None => Ok(None),
            Some(Next::Whole(m)) => {
                // The limit holds however the frame arrived.
                self.keep(&m.header, m.body.len() as u64, self.max_body)?;
                Ok(Some(m))
            }
            Some(Next::Head(h)) => self.read_whole(h, since).map(Some),
        }
    }

    /// The rest of a frame whose head was read, held whole (bounded as in
    /// [`Self::recv_frame`]).
    fn read_whole(&mut self, h: HeadOnly, since: Instant) -> io::Result<OwnedFrame> {
        let keep = self.keep(&h.header, h.data_size, self.max_body)?;
        // Filled as it arrives: a declared size is not trusted for one allocation.
        let mut body = Vec::new();
        self.stream_body(&h.header, h.data_size, keep, since, |data| {
            body.extend_from_slice(data);
            Ok(())
        })?;
        Ok(OwnedFrame {
            header: h.header,
            body,
            header_json: h.header_json,
            welcome: h.welcome,
        })
    }

    /// Receives the next reply whole, setting a welcome frame aside
    /// ([`Self::take_welcome`]). `Ok(None)`: the peer closed cleanly. Bodies
    /// are bounded as in [`Self::recv_frame`].
    pub fn recv(&mut self) -> io::Result<Option<OwnedFrame>> {
        // A welcome comes first, so at most one is passed over.
        for _ in 0..2 {
            match self.recv_frame()? {
                Some(m) if m.welcome => self.welcome = Some(m),
                other => return Ok(other),
            }
        }
        Err(invalid(
            "unreachable: a second welcome is an error in next()",
        ))
    }

    /// Receives the next reply and hands its body to `sink` chunk by chunk,
    /// never holding more than one chunk (for downloads of any size). A
    /// welcome frame is set aside; an error reply's body is bounded as in
    /// [`Self::recv`].
    pub fn recv_streamed(
        &mut self,
        sink: impl FnMut(&Header, &[u8]) -> io::Result<()>,
    ) -> io::Result<Option<Header>> {
        self.recv_stream(|_, _| {}, sink)
    }

    /// [`Self::recv_streamed`], calling `on_head(header, data_size)` as
    /// soon as the reply's header has arrived (before any body byte).
    pub fn recv_stream(
        &mut self,
        mut on_head: impl FnMut(&Header, u64),
        mut sink: impl FnMut(&Header, &[u8]) -> io::Result<()>,
    ) -> io::Result<Option<Header>> {
        let since = Instant::now();
        for _ in 0..2 {
            let h = match self.next(since)? {
                None => return Ok(None),
                Some(Next::Whole(m)) if m.welcome => {
                    self.welcome = Some(m);
                    continue;
                }
                Some(Next::Whole(m)) => {
                    on_head(&m.header, m.header.data_size);
                    sink(&m.header, &m.body)?;
                    return Ok(Some(m.header));
                }
                Some(Next::Head(h)) if h.welcome => {
                    // Held whole, as any welcome (bounded like a reply).
                    self.welcome = Some(self.read_whole(h, since)?);
                    continue;
                }
                Some(Next::Head(h)) => h,
            };
            let (header, data_size) = (h.header, h.data_size);
            on_head(&header, data_size);
            let keep = self.keep(&header, data_size, u64::MAX)?;
            self.stream_body(&header, data_size, keep, since, |d| sink(&header, d))?;
            return Ok(Some(header));
        }
        Err(invalid(
            "unreachable: a second welcome is an error in next()",
        ))
    }

    /// Bytes received on this connection so far.
    pub fn received(&self) -> u64 {
        self.reader.inner().get_ref().received
    }

    /// Whether no reply is partly read: a close now falls between frames.
    pub fn is_between_frames(&self) -> bool {
        self.decoder.is_idle()
    }

    /// Closes the write side (the peer sees end of stream after our frames).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.flush()?;
        self.writer.inner().get_ref().shutdown(Shutdown::Write)
    }
}
