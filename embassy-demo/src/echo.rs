//! The device's echo service: jframe requests on TCP port 7.
//!
//! [`serve_socket`] is one slot of the listening pool: it accepts one
//! connection at a time on its own buffers, serves it with
//! [`serve_connection`] and starts over. Firmware and the host simulator
//! spawn several slots on the same port, because a single socket that
//! re-accepts in a loop leaves a gap in which a reconnecting client is reset.
//!
//! Memory per connection is fixed: a 512-byte decoder buffer (header, and
//! bodies small enough to arrive whole), a 1 KiB chunk buffer for streamed
//! bodies and a 512-byte scratch for reply heads. A body of any size passes
//! through the chunk buffer and is never held whole.
//!
//! Errors follow SPEC.md: a bad header behind a valid prefix gets an error
//! reply and the connection goes on; a bad prefix gets `bad_frame` and the
//! connection is closed. Every read and write is bounded by the idle timeout.

use core::fmt::Write as _;
use core::future::Future;

use embassy_net::Stack;
use embassy_net::tcp::{State, TcpSocket};
use embassy_time::{Duration, Timer, with_timeout};
use embedded_io_async::{Read, Write};
use jframe::io::asynch::{read_body, read_frame, write_all, write_frame, write_head};
use jframe::{Decoder, Header, HeaderError, ReadError, Received, Status, WriteError};

use crate::ops::{GREET_BYE, GREET_EXIT, Service};

/// The TCP port of the echo service (RFC 862's echo port).
pub const ECHO_PORT: u16 = 7;
/// Decoder buffer: holds a header and a body that fits after it.
pub const DECODER_BUF: usize = 512;
/// Chunk buffer for streamed bodies.
pub const CHUNK_BUF: usize = 1024;
/// Scratch for encoding reply heads (and small replies whole).
const SCRATCH_BUF: usize = 512;
/// Largest header a request may carry by default: "a few hundred bytes".
pub const DEFAULT_MAX_HEADER: u32 = 256;
/// Pause after a failed `accept` so a misconfigured port cannot spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How long an `abort` gets to put its RST on the wire.
const ABORT_FLUSH: Duration = Duration::from_millis(200);

/// How the service behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoConfig {
    /// TCP port to listen on.
    pub port: u16,
    /// Idle limit: the longest wait for a peer's next bytes, or for it to
    /// take our reply, before the connection is given up.
    pub timeout: Duration,
    /// Largest header accepted (clamped to [`DECODER_BUF`]); a longer
    /// prefix is a `bad_frame` and ends the connection.
    pub max_header: u32,
    /// How long closing waits for the peer's FIN and its ACK of ours.
    pub close_timeout: Duration,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            port: ECHO_PORT,
            timeout: Duration::from_secs(30),
            max_header: DEFAULT_MAX_HEADER,
            close_timeout: Duration::from_secs(2),
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum End {
    /// The peer closed between frames.
    PeerClosed,
    /// A `greet` of `exit` was answered with `Bye!`.
    Bye,
    /// A bad prefix was answered with `bad_frame`.
    BadFrame,
    /// The peer was idle (or did not take our reply) for the timeout.
    Idle,
    /// The peer closed in the middle of a frame.
    Truncated,
    /// The connection failed (reset, or a write that could not complete).
    Failed,
}

/// Serves one pool slot forever: accept on `config.port` with a socket on
/// these buffers, serve the connection, close it, repeat.
pub async fn serve_socket(
    stack: Stack<'_>,
    rx_buffer: &mut [u8],
    tx_buffer: &mut [u8],
    config: &EchoConfig,
) -> ! {
    loop {
        let mut socket = TcpSocket::new(stack, &mut *rx_buffer, &mut *tx_buffer);
        // smoltcp's timeout covers unacknowledged data and connection setup;
        // idle peers are bounded by the per-operation timeouts below.
        socket.set_timeout(Some(config.timeout));
        // Replies are written in pieces (head, chunks): Nagle would hold
        // each small tail until the peer's delayed ACK.
        socket.set_nagle_enabled(false);
        if let Err(e) = socket.accept(config.port).await {
            jlog!(warn, "echo: accept on port {} failed: {:?}", config.port, e);
            drop(socket);
            Timer::after(ACCEPT_RETRY).await;
            continue;
        }
        let peer = socket.remote_endpoint();
        jlog!(debug, "echo: connection from {:?}", peer);
        let end = serve_connection(&mut socket, config).await;
        jlog!(debug, "echo: connection from {:?} ended: {:?}", peer, end);
        close(&mut socket, end, config.close_timeout).await;
    }
}

/// Closes a served connection so that everything we sent arrives: FIN,
/// then wait (bounded) for the peer's FIN and for our FIN's ACK. A failed
/// connection, or one that does not close in time, is reset.
async fn close(socket: &mut TcpSocket<'_>, end: End, limit: Duration) {
    if end != End::Failed {
        socket.close();
        let closed = with_timeout(limit, async {
            // Whatever the peer still sends (frames pipelined after `exit` or
            // a bad prefix) is discarded until its FIN.
            let mut sink = [0u8; 64];
            while let Ok(1..) = socket.read(&mut sink).await {}
            socket.flush().await
        })
        .await;
        if matches!(closed, Ok(Ok(()))) && matches!(socket.state(), State::Closed | State::TimeWait)
        {
            return;
        }
    }
    socket.abort();
    let _ = with_timeout(ABORT_FLUSH, socket.flush()).await;
}

/// Serves jframe requests on one connection until it ends. Generic over
/// the transport, so it runs on an embassy-net socket or any other
/// embedded-io-async stream.
pub async fn serve_connection<S: Read + Write>(io: &mut S, config: &EchoConfig) -> End {
    let mut decoder_buf = [0u8; DECODER_BUF];
    let mut decoder = Decoder::new(&mut decoder_buf[..])
        .with_max_header(config.max_header)
        .streaming(true);
    let mut chunk = [0u8; CHUNK_BUF];
    let mut scratch = [0u8; SCRATCH_BUF];
    let timeout = config.timeout;
    loop {
        let Ok(received) = with_timeout(timeout, read_frame(io, &mut decoder)).await else {
            return End::Idle;
        };
        let step = match received {
            Ok(None) => return End::PeerClosed,
            Ok(Some(Received::Frame(frame))) => match request(frame.header()) {
                Ok(Service::Greet) if frame.body == GREET_EXIT => {
                    let bye = Header::reply(Status::Ok, GREET_BYE.len() as u64);
                    let sent = send(timeout, write_frame(io, &mut scratch, &bye, GREET_BYE)).await;
                    return sent.err().unwrap_or(End::Bye);
                }
                Ok(service) => {
                    let reply = small_reply(service, frame.body, &mut chunk);
                    let header = Header::reply(Status::Ok, reply.len() as u64);
                    send(timeout, write_frame(io, &mut scratch, &header, reply)).await
                }
                Err((status, message)) => {
                    let header = Header::error_reply(status, &message);
                    send(timeout, write_frame(io, &mut scratch, &header, b"")).await
                }
            },
            Ok(Some(Received::Head(head))) => {
                let data_size = head.data_size;
                match request(head.header()) {
                    Ok(service) => {
                        let bufs = (&mut chunk[..], &mut scratch[..]);
                        stream_reply(io, &mut decoder, bufs, service, data_size, timeout).await
                    }
                    // The unread body is skipped by the next read_frame.
                    Err((status, message)) => {
                        let header = Header::error_reply(status, &message);
                        send(timeout, write_frame(io, &mut scratch, &header, b"")).await
                    }
                }
            }
            Err(ReadError::Decode(e)) => {
                let header = Header::error_reply(e.status(), &message(format_args!("{e}")));
                jlog!(debug, "echo: bad frame: {:?}", e);
                let sent = send(timeout, write_frame(io, &mut scratch, &header, b"")).await;
                if !e.is_recoverable() {
                    return End::BadFrame;
                }
                sent
            }
            Err(ReadError::UnexpectedEof) => return End::Truncated,
            Err(e) => {
                jlog!(debug, "echo: read failed: {:?}", e);
                return End::Failed;
            }
        };
        if let Err(end) = step {
            return end;
        }
    }
}

/// A reply message, cut to the header's `error` capacity.
type Message = heapless::String<{ jframe::header::ERROR_CAPACITY }>;

fn message(args: core::fmt::Arguments<'_>) -> Message {
    let mut s = Message::new();
    // A message longer than the capacity is cut; the code says the rest.
    let _ = s.write_fmt(args);
    s
}

/// The service a request asks for, or the error reply it gets.
// no_std, no heap: the message travels by value, once per bad request.
#[allow(clippy::result_large_err)]
fn request(header: Result<Header, HeaderError>) -> Result<Service, (Status, Message)> {
    let header =
        header.map_err(|e| (Status::BadRequest, message(format_args!("bad header: {e}"))))?;
    match header.op() {
        Ok(op) => Service::for_op(op).ok_or_else(|| {
            let text = format_args!("op {} is not served by this device", op.as_str());
            (Status::BadRequest, message(text))
        }),
        Err(name) => Err((
            Status::BadRequest,
            message(format_args!("unknown op {name:?}")),
        )),
    }
}

/// The reply to a body that arrived whole (it fits the decoder buffer, so
/// prefix + body + suffix fits the larger chunk buffer).
fn small_reply<'c>(service: Service, body: &[u8], chunk: &'c mut [u8]) -> &'c [u8] {
    let parts = [service.prefix(), body, service.suffix()];
    let mut len = 0;
    for part in parts {
        let Some(room) = chunk.get_mut(len..len + part.len()) else {
            break;
        };
        room.copy_from_slice(part);
        len += part.len();
    }
    let start = service.prefix().len();
    if let Some(body) = chunk.get_mut(start..start + body.len()) {
        service.apply(body);
    }
    &chunk[..len]
}

/// Replies to a request whose body is streamed: the reply head first
/// (the reply's size is known from the request's), then each chunk as it
/// arrives, transformed, so the body is never held whole.
async fn stream_reply<S: Read + Write, B: AsRef<[u8]> + AsMut<[u8]>>(
    io: &mut S,
    decoder: &mut Decoder<B>,
    (chunk, scratch): (&mut [u8], &mut [u8]),
    service: Service,
    data_size: u64,
    timeout: Duration,
) -> Result<(), End> {
    let Some(size) = service.reply_size(data_size) else {
        let header = Header::error_reply(Status::TooLarge, "reply would exceed 2^64-1 bytes");
        return send(timeout, write_frame(io, scratch, &header, b"")).await;
    };
    send(
        timeout,
        write_head(io, scratch, &Header::reply(Status::Ok, size)),
    )
    .await?;
    send(timeout, write_all(io, service.prefix())).await?;
    loop {
        let n = match with_timeout(timeout, read_body(io, decoder, chunk)).await {
            Err(_) => return Err(End::Idle),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(data))) => data.len(),
            Ok(Err(ReadError::UnexpectedEof)) => return Err(End::Truncated),
            Ok(Err(e)) => {
                jlog!(debug, "echo: body read failed: {:?}", e);
                return Err(End::Failed);
            }
        };
        let data = &mut chunk[..n];
        service.apply(data);
        send(timeout, write_all(io, data)).await?;
    }
    send(timeout, write_all(io, service.suffix())).await
}

/// Runs a write under the idle timeout.
async fn send<E: core::fmt::Debug>(
    timeout: Duration,
    write: impl Future<Output = Result<(), WriteError<E>>>,
) -> Result<(), End> {
    match with_timeout(timeout, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            jlog!(debug, "echo: write failed: {:?}", e);
            Err(End::Failed)
        }
        Err(_) => Err(End::Idle),
    }
}
