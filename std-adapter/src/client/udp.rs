//! The UDP client: one request datagram, one reply datagram, read as
//! exactly one frame.

use std::io;
use std::net::{ToSocketAddrs, UdpSocket};
use std::time::Duration;

use jframe::{Header, Op, Status};

use super::diagnose::identify;
use super::{MAX_ERROR_BODY, OwnedFrame, encode_request_head, invalid};
use crate::MAX_HEADER;

/// A UDP client: one request datagram, one reply datagram.
///
/// ```
/// use std::time::Duration;
/// use jframe::Op;
/// use jframe_std::client::UdpClient;
/// use jframe_std::server::{Config, Server};
///
/// let any = "127.0.0.1:0".parse()?;
/// let server = Server::bind(any, Some(any), Config::default())?;
/// let udp = server.udp_addr().expect("UDP is bound");
/// let stop = server.shutdown_handle()?;
/// let running = std::thread::spawn(move || server.run());
///
/// let mut client = UdpClient::connect(udp, Duration::from_secs(5))?;
/// assert_eq!(client.request(Op::Upper, b"abc")?.body, b"ABC");
///
/// stop.shutdown();
/// running.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    pub fn request_raw(&mut self, datagram: &[u8]) -> io::Result<OwnedFrame> {
        self.sock.send(datagram)?;
        let n = self.sock.recv(&mut self.buf)?;
        reply_datagram(self.buf.get(..n).unwrap_or_default())
    }

    /// Sends a request for the service `op` whose header carries the
    /// caller's extra keys (see [`encode_request_head`]).
    pub fn request_with<T: serde::Serialize + ?Sized>(
        &mut self,
        op: &str,
        extra: &T,
        body: &[u8],
    ) -> io::Result<OwnedFrame> {
        let mut datagram = encode_request_head(op, extra, body.len())?;
        datagram.extend_from_slice(body);
        self.request_raw(&datagram)
    }

    /// Sends a request for `op` and returns the reply.
    pub fn request(&mut self, op: Op, body: &[u8]) -> io::Result<OwnedFrame> {
        let mut frame = vec![0u8; crate::SCRATCH + body.len()];
        let len = jframe::encode_frame(&mut frame, &Header::request(op, body.len() as u64), body)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        self.request_raw(frame.get(..len).unwrap_or_default())
    }
}

/// Reads one UDP datagram as exactly one reply frame, with core's
/// [`jframe::parse_frame`]; the error says what is wrong with it, and what
/// the peer looks like when it is not a jframe server.
fn reply_datagram(datagram: &[u8]) -> io::Result<OwnedFrame> {
    let mut header = Header::default();
    let why = match jframe::parse_frame(datagram, MAX_HEADER, &mut header) {
        Ok(jframe::Parse::Complete {
            header_json,
            body,
            len,
        }) if len == datagram.len() => {
            let keep = if header.reply_status() == Status::Ok {
                body
            } else {
                body.get(..MAX_ERROR_BODY as usize).unwrap_or(body)
            };
            return Ok(OwnedFrame {
                welcome: header.welcome,
                header,
                body: keep.to_vec(),
                header_json: header_json.to_vec(),
            });
        }
        Ok(jframe::Parse::Complete { len, .. }) => {
            format!("{} bytes follow its frame", datagram.len() - len)
        }
        Ok(jframe::Parse::Partial { .. }) => {
            format!("it ends after {} bytes, inside its frame", datagram.len())
        }
        Err(e) => e.to_string(),
    };
    let what = identify(datagram)
        .map(|w| format!(" (the peer looks like {w})"))
        .unwrap_or_default();
    Err(invalid(format!("bad reply datagram: {why}{what}")))
}
