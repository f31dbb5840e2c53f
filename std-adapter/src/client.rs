//! Clients: TCP ([`TcpClient`], pipelining allowed), UDP ([`UdpClient`]),
//! and a verified download ([`download`]).

use std::io::{self, Write};
use std::net::{ToSocketAddrs, UdpSocket};
use std::time::Duration;

use jframe::{Header, Op, Status};
use sha2::{Digest, Sha256};

use crate::files::hex;
pub use crate::stream::{FramedStream as TcpClient, Message};
use crate::stream::{encode_request_head, reply_datagram};

/// A UDP client: one request datagram, one reply datagram.
#[derive(Debug)]
pub struct UdpClient {
    sock: UdpSocket,
    buf: Vec<u8>,
}

impl UdpClient {
    /// Binds an ephemeral local port and connects it to `addr`; replies are
    /// awaited for at most `timeout`.
    pub fn connect<A: ToSocketAddrs>(addr: A, timeout: Duration) -> io::Result<UdpClient> {
        let target = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other("address resolved to nothing"))?;
        let local: std::net::SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local)?;
        sock.connect(target)?;
        sock.set_read_timeout(Some(timeout))?;
        Ok(UdpClient {
            sock,
            buf: vec![0u8; 65_536],
        })
    }

    /// Sends raw datagram bytes and returns the reply datagram's frame.
    pub fn request_raw(&mut self, datagram: &[u8]) -> io::Result<Message> {
        self.sock.send(datagram)?;
        let n = self.sock.recv(&mut self.buf)?;
        reply_datagram(self.buf.get(..n).unwrap_or_default())
    }

    /// Sends a request for the service `op` whose header carries the
    /// caller's extra keys (see [`crate::stream::encode_request_head`]).
    pub fn request_with<T: serde::Serialize + ?Sized>(
        &mut self,
        op: &str,
        extra: &T,
        body: &[u8],
    ) -> io::Result<Message> {
        let mut datagram = encode_request_head(op, extra, body.len())?;
        datagram.extend_from_slice(body);
        self.request_raw(&datagram)
    }

    /// Sends a request for `op` and returns the reply.
    pub fn request(&mut self, op: Op, body: &[u8]) -> io::Result<Message> {
        let mut frame = vec![0u8; crate::SCRATCH + body.len()];
        let len = jframe::encode_frame(&mut frame, &Header::request(op, body.len() as u64), body)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        self.request_raw(frame.get(..len).unwrap_or_default())
    }
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
/// `progress(done, total)`; verifies the size and (when sent) the SHA-256.
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
/// [`crate::stream::MAX_ERROR_BODY`] bytes of its body.
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
