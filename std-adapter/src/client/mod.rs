//! Clients: TCP ([`TcpClient`], pipelining allowed), UDP ([`UdpClient`]),
//! and a verified download ([`download`]).
//!
//! [`TcpClient`] is the one client core: `jframe send`, `get`, `load` and
//! `recv` frame through it, and it frames only through core (`read_frame` /
//! `read_body` over core's `Decoder`, `encode_head` / `encode_head_with`).
//! SPEC's client rules live here once: a reply without `status` is `ok`
//! ([`jframe::Header::reply_status`]), a frame marked `"welcome": true` is
//! the server's welcome, not a reply, and no request goes out that the
//! caller did not ask for.
//!
//! - `tcp`: [`TcpClient`];
//! - `udp`: [`UdpClient`] and the reading of a reply datagram;
//! - `diagnose`: naming a peer that is not a jframe server from its first
//!   bytes, and read errors that say so;
//! - `timed`: the socket reader with the idle timeout, keeping those first
//!   bytes.

mod diagnose;
mod tcp;
mod timed;
mod udp;

use std::io::{self, Write};

use jframe::{Header, Op, PREFIX_LEN, Status};
use sha2::{Digest, Sha256};

use crate::MAX_HEADER;
use crate::files::hex;

#[cfg(feature = "cli")]
pub(crate) use diagnose::identify;
pub use tcp::TcpClient;
pub use udp::UdpClient;

/// One received frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    /// The parsed header.
    pub header: Header,
    /// The whole body (for an error reply: at most [`MAX_ERROR_BODY`] bytes).
    pub body: Vec<u8>,
    /// The header's JSON as it arrived (unknown keys included).
    pub header_json: Vec<u8>,
    /// Whether this is the server's welcome frame (marked
    /// `"welcome": true`, or the first frame of a connection told to
    /// expect an unmarked one), not a reply.
    pub welcome: bool,
}

impl OwnedFrame {
    /// The reply status ([`Header::reply_status`]: absent means `ok`).
    pub fn status(&self) -> Status {
        self.header.reply_status()
    }
}

/// The most a client keeps of an error reply's body (the message is in the
/// header; SPEC error replies have empty bodies). A larger one is not read:
/// the client keeps this much and closes the connection, so a peer cannot
/// make it read or buffer a body it declared as 400 MiB.
pub const MAX_ERROR_BODY: u64 = 4096;

/// A request header: `data_size` first (SPEC: senders write it first),
/// `op`, then the caller's own keys.
#[derive(serde::Serialize)]
struct RequestHead<'a, T: ?Sized> {
    data_size: u64,
    op: &'a str,
    #[serde(flatten)]
    extra: &'a T,
}

/// Prefix + header of a request for `op` with the caller's extra keys
/// (a serde map or struct) and a body of `body_len` bytes, encoded by core
/// (`encode_head_with`: compact JSON, the prefix, the wire's limits). The
/// header is checked with core's parser before it goes out: a key given
/// twice, or a `data_size`/`size` among the extras, is an error here
/// rather than a `bad_frame` from the server.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Channel { channel: u8 }
///
/// let head = jframe_std::client::encode_request_head("read_sensor", &Channel { channel: 1 }, 0)?;
/// assert_eq!(&head[4..], br#"{"data_size":0,"op":"read_sensor","channel":1}"#);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn encode_request_head<T: serde::Serialize + ?Sized>(
    op: &str,
    extra: &T,
    body_len: usize,
) -> io::Result<Vec<u8>> {
    let header = RequestHead {
        data_size: body_len as u64,
        op,
        extra,
    };
    let mut head = vec![0u8; crate::SCRATCH];
    let n = jframe::encode_head_with(&mut head, &header).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot encode the request header: {e} (the limit is {MAX_HEADER} bytes)"),
        )
    })?;
    head.truncate(n);
    let json = head.get(PREFIX_LEN..).unwrap_or_default();
    match jframe::header::validate(json) {
        Ok(size) if size == body_len as u64 => Ok(head),
        Ok(size) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the header says data_size {size}, the body has {body_len} bytes"),
        )),
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the request header would be malformed: {e}"),
        )),
    }
}

/// An `InvalidData` error carrying `e`'s text.
pub(crate) fn invalid<E: ToString>(e: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server refused (`not_found`, `forbidden`, ...).
    #[error("server refused ({status}): {message}")]
    Refused {
        /// The reply status.
        status: Status,
        /// The server's message.
        message: String,
    },
    /// The bytes do not match what the header promised.
    #[error("download corrupted: {0}")]
    Mismatch(String),
    /// The connection or the output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What a successful download received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Bytes written.
    pub size: u64,
    /// Their verified SHA-256 (hex).
    pub sha256: String,
}

/// Requests `name` and writes its body to `out` as it arrives, calling
/// `progress(done, total)`; verifies the size and the SHA-256 the reply
/// announces.
///
/// ```
/// use std::time::Duration;
/// use jframe_std::client::{TcpClient, download};
/// use jframe_std::files::Root;
/// use jframe_std::server::{Config, Server};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("hello.txt"), b"hello, file")?;
/// let config = Config { root: Some(Root::new(dir.path())?), ..Config::default() };
/// let server = Server::bind("127.0.0.1:0".parse()?, None, config)?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle()?;
/// let running = std::thread::spawn(move || server.run());
///
/// let mut client = TcpClient::connect(addr, Duration::from_secs(5))?;
/// let mut out = Vec::new();
/// let got = download(&mut client, "hello.txt", &mut out, |_done, _total| {})?;
/// assert_eq!((got.size, out.as_slice()), (11, &b"hello, file"[..]));
///
/// drop(client);
/// stop.shutdown();
/// running.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn download<W: Write>(
    client: &mut TcpClient,
    name: &str,
    out: &mut W,
    progress: impl FnMut(u64, u64),
) -> Result<Downloaded, DownloadError> {
    download_with(client, name, out, |_| {}, progress)
}

/// [`download`], calling `on_head(size)` when the reply's header arrives
/// (a server hashes the file before it answers, which takes a while for a
/// large one). A welcome frame before the reply is set aside
/// ([`TcpClient::take_welcome`]). A refusal keeps at most
/// [`MAX_ERROR_BODY`] bytes of its body.
pub fn download_with<W: Write>(
    client: &mut TcpClient,
    name: &str,
    out: &mut W,
    mut on_head: impl FnMut(u64),
    mut progress: impl FnMut(u64, u64),
) -> Result<Downloaded, DownloadError> {
    let request = Header::request(Op::Get, 0).with_name(name).map_err(|e| {
        DownloadError::Io(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
    })?;
    client.send(&request, &[])?;
    client.flush()?;
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    let mut message = Vec::new();
    let refusal = |h: &Header| h.reply_status() != Status::Ok;
    let header = client
        .recv_stream(
            |header, size| {
                if !refusal(header) {
                    on_head(size);
                }
            },
            |header, chunk| {
                if refusal(header) {
                    message.extend_from_slice(chunk);
                    return Ok(());
                }
                hasher.update(chunk);
                done += chunk.len() as u64;
                progress(done, header.data_size);
                out.write_all(chunk)
            },
        )?
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed without a reply",
            )
        })?;
    if refusal(&header) {
        return Err(DownloadError::Refused {
            status: header.reply_status(),
            message: header
                .error
                .as_deref()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&message).into_owned()),
        });
    }
    if done != header.data_size {
        return Err(DownloadError::Mismatch(format!(
            "got {done} bytes, header said {}",
            header.data_size
        )));
    }
    let sha256 = hex(&hasher.finalize());
    match header.sha256.as_deref() {
        Some(want) if !want.eq_ignore_ascii_case(&sha256) => Err(DownloadError::Mismatch(format!(
            "sha256 is {sha256}, header said {want}"
        ))),
        Some(_) => Ok(Downloaded { size: done, sha256 }),
        None => Err(DownloadError::Mismatch(
            "the reply carries no sha256 to verify (is this a jframe `get` reply?)".to_string(),
        )),
    }
}
