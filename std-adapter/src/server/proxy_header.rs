//! PROXY protocol (v1 text, v2 binary) in front of a TCP connection, as a
//! load balancer such as HAProxy (`send-proxy-v2`) sends it: who the real
//! client is. Parsing is the `ppp` crate's; this module only reads exactly
//! the header's bytes off a freshly accepted socket (never a byte of the
//! first frame behind it), under its own short deadline and size cap, after
//! checking that the peer is a trusted proxy.
//!
//! A driver calls [`read_blocking`] or [`read_async`] before admitting a
//! connection, and from then on uses the address it returns (logs, the
//! per-client limit, `busy`, metrics). Any error means: log it, count it
//! ([`crate::metrics::REFUSALS_TOTAL`]), close the connection.
//!
//! A `LOCAL` v2 header (HAProxy's health checks) and a v1 `UNKNOWN` one
//! carry no client: the connection is the proxy's own, and keeps the
//! peer's address.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

use ppp::{HeaderResult, v1, v2};

/// How long a trusted proxy may take to send the whole header.
pub const HEADER_DEADLINE: Duration = Duration::from_secs(3);

/// The largest header accepted: a v2 header with IPv6 addresses is 52
/// bytes, HAProxy's optional TLVs add a few hundred at most; a v1 line is
/// at most 107.
pub const HEADER_CAP: usize = 1024;

/// The v2 signature.
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 line's start, and its longest length (the spec's 107 bytes).
const V1_SIG: &[u8; 6] = b"PROXY ";
const V1_MAX: usize = 107;

/// An address block in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare
/// address for one host): a `--trusted-proxy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in this block. An IPv4-mapped IPv6 address is
    /// matched as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?}: not an address block (such as 10.0.0.0/8 or ::1/128)"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a connection was refused for its PROXY header.
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    /// The peer is not in any `--trusted-proxy` block.
    #[error("not a trusted proxy: PROXY protocol is required")]
    Untrusted,
    /// The first bytes are no PROXY signature.
    #[error("no PROXY protocol header")]
    Missing,
    /// The header did not arrive whole within [`HEADER_DEADLINE`].
    #[error("PROXY header not complete within {0:?}")]
    Late(Duration),
    /// The header announces more than [`HEADER_CAP`] bytes.
    #[error("PROXY header larger than {HEADER_CAP} bytes")]
    TooLarge,
    /// The peer closed before the header was complete.
    #[error("closed before the PROXY header was complete")]
    Closed,
    /// `ppp` rejected it.
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    /// The socket failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] io::Error),
}

impl ProxyHeaderError {
    /// A routine end (a port scan, a client that left) rather than a
    /// misconfiguration worth a warning.
    pub fn is_routine(&self) -> bool {
        matches!(self, ProxyHeaderError::Closed)
    }
}

/// How many bytes the header needs in total, given its first `have`
/// bytes: `Ok(None)` when `have` are the whole header.
fn wanted(have: &[u8]) -> Result<Option<usize>, ProxyHeaderError> {
    let n = have.len();
    let v2 = &V2_SIG[..n.min(V2_SIG.len())];
    let v1 = &V1_SIG[..n.min(V1_SIG.len())];
    if n < V1_SIG.len() {
        return if have == v2 || have == v1 {
            Ok(Some(V1_SIG.len()))
        } else {
            Err(ProxyHeaderError::Missing)
        };
    }
    if have.starts_with(V1_SIG) {
        if have.ends_with(b"\r\n") {
            Ok(None)
        } else if n >= V1_MAX {
            Err(ProxyHeaderError::Malformed(format!(
                "v1 line longer than {V1_MAX} bytes"
            )))
        } else {
            // A line is read a byte at a time: nothing past its end.
            Ok(Some(n + 1))
        }
    } else if have.get(..n.min(V2_SIG.len())) == Some(v2) {
        if n < 16 {
            return Ok(Some(16));
        }
        let len = usize::from(u16::from_be_bytes([have[14], have[15]]));
        let total = 16 + len;
        if total > HEADER_CAP {
            Err(ProxyHeaderError::TooLarge)
        } else if n < total {
            Ok(Some(total))
        } else {
            Ok(None)
        }
    } else {
        Err(ProxyHeaderError::Missing)
    }
}

/// The client a complete header names (`peer` for a header that names
/// none: v2 `LOCAL`, such as health checks, or v1 `UNKNOWN`).
fn client_of(header: &[u8], peer: SocketAddr) -> Result<SocketAddr, ProxyHeaderError> {
    let malformed = |e: &dyn fmt::Display| ProxyHeaderError::Malformed(e.to_string());
    match HeaderResult::parse(header) {
        HeaderResult::V2(Ok(h)) => Ok(match (h.command, h.addresses) {
            (v2::Command::Local, _) => peer,
            (_, v2::Addresses::IPv4(a)) => SocketAddr::new(a.source_address.into(), a.source_port),
            (_, v2::Addresses::IPv6(a)) => SocketAddr::new(a.source_address.into(), a.source_port),
            (_, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => peer,
        }),
        HeaderResult::V2(Err(e)) => Err(malformed(&e)),
        HeaderResult::V1(Ok(h)) => Ok(match h.addresses {
            v1::Addresses::Tcp4(a) => SocketAddr::new(a.source_address.into(), a.source_port),
            v1::Addresses::Tcp6(a) => SocketAddr::new(a.source_address.into(), a.source_port),
            v1::Addresses::Unknown => peer,
        }),
        HeaderResult::V1(Err(e)) => Err(malformed(&e)),
    }
}

/// Whether `peer` may send a PROXY header.
pub fn trusted(peer: IpAddr, proxies: &[Cidr]) -> bool {
    proxies.iter().any(|c| c.contains(peer))
}

/// Reads the PROXY header a trusted proxy sent at the start of `stream`
/// (blocking; its read timeout is left unset afterwards) and returns the
/// real client's address.
pub fn read_blocking(
    stream: &std::net::TcpStream,
    peer: SocketAddr,
    proxies: &[Cidr],
) -> Result<SocketAddr, ProxyHeaderError> {
    use std::io::Read;
    if !trusted(peer.ip(), proxies) {
        return Err(ProxyHeaderError::Untrusted);
    }
    let until = Instant::now() + HEADER_DEADLINE;
    let mut buf = Vec::with_capacity(64);
    let read = (|| {
        while let Some(want) = wanted(&buf)? {
            let have = buf.len();
            buf.resize(want, 0);
            let mut at = have;
            while at < want {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ProxyHeaderError::Late(HEADER_DEADLINE));
                }
                stream.set_read_timeout(Some(left))?;
                match (&*stream).read(&mut buf[at..want]) {
                    Ok(0) => return Err(ProxyHeaderError::Closed),
                    Ok(n) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    })();
    let _ = stream.set_read_timeout(None);
    read?;
    client_of(&buf, peer)
}

/// [`read_blocking`] for a tokio stream.
#[cfg(feature = "tokio")]
pub async fn read_async(
    stream: &::tokio::net::TcpStream,
    peer: SocketAddr,
    proxies: &[Cidr],
) -> Result<SocketAddr, ProxyHeaderError> {
    if !trusted(peer.ip(), proxies) {
        return Err(ProxyHeaderError::Untrusted);
    }
    let read = async {
        let mut buf = Vec::with_capacity(64);
        while let Some(want) = wanted(&buf)? {
            let mut at = buf.len();
            buf.resize(want, 0);
            while at < want {
                stream.readable().await?;
                match stream.try_read(&mut buf[at..want]) {
                    Ok(0) => return Err(ProxyHeaderError::Closed),
                    Ok(n) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(buf)
    };
    match ::tokio::time::timeout(HEADER_DEADLINE, read).await {
        Ok(buf) => client_of(&buf?, peer),
        Err(_) => Err(ProxyHeaderError::Late(HEADER_DEADLINE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        assert!(cidr("127.0.0.0/8").contains("127.1.2.3".parse().unwrap()));
        assert!(!cidr("127.0.0.0/8").contains("128.0.0.1".parse().unwrap()));
        assert!(cidr("127.0.0.1").contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(cidr("::1/128").contains("::1".parse().unwrap()));
        assert!(cidr("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(!cidr("0.0.0.0/0").contains("::2".parse().unwrap()));
        assert!(cidr("2001:db8::/32").contains("2001:db8:ffff::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }

    /// Feeds `bytes` through the framing and the parser as a reader would.
    fn read_all(bytes: &[u8]) -> Result<(usize, SocketAddr), ProxyHeaderError> {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut have = 0;
        while let Some(want) = wanted(&bytes[..have])? {
            if want > bytes.len() {
                return Err(ProxyHeaderError::Closed);
            }
            have = want;
        }
        Ok((have, client_of(&bytes[..have], peer)?))
    }

    #[test]
    fn v1_and_v2_name_the_client_and_stop_at_the_header() {
        let v1 = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 9000\r\n\x05\x00\x00\x00";
        let (len, client) = read_all(v1).unwrap();
        assert_eq!(len, v1.len() - 4);
        assert_eq!(client.to_string(), "192.0.2.7:40000");

        let from: SocketAddr = "[2001:db8::9]:41000".parse().unwrap();
        let to: SocketAddr = "[::1]:9000".parse().unwrap();
        let mut v2 = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            (from, to),
        )
        .build()
        .unwrap();
        let header_len = v2.len();
        v2.extend_from_slice(b"\x05\x00\x00\x00");
        let (len, client) = read_all(&v2).unwrap();
        assert_eq!((len, client), (header_len, from));

        // A health check's LOCAL header keeps the peer.
        let local = v2::Builder::new(
            v2::Version::Two | v2::Command::Local,
            v2::AddressFamily::Unspecified | v2::Protocol::Unspecified,
        )
        .build()
        .unwrap();
        assert_eq!(read_all(&local).unwrap().1.to_string(), "127.0.0.1:5000");
    }

    #[test]
    fn missing_malformed_and_oversized_headers_are_refused() {
        assert!(matches!(
            read_all(b"\x05\x00\x00\x00{\"op\":"),
            Err(ProxyHeaderError::Missing)
        ));
        assert!(matches!(
            read_all(b"PROXY TCP4 nonsense\r\n"),
            Err(ProxyHeaderError::Malformed(_))
        ));
        let long = [b"PROXY ".as_slice(), &[b'1'; 200]].concat();
        assert!(matches!(
            read_all(&long),
            Err(ProxyHeaderError::Malformed(_))
        ));
        let mut big = V2_SIG.to_vec();
        big.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(matches!(read_all(&big), Err(ProxyHeaderError::TooLarge)));
    }
}
