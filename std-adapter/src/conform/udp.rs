//! Running a UDP case: one datagram, one reply or none.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::cases::full_datagram;
use super::check::{Departures, check, parse_frame};
use super::{Case, Exchange, Options, udp_max_payload};

fn udp_socket(addr: SocketAddr, t: Duration) -> Result<UdpSocket, String> {
    let local: IpAddr = match (addr.ip().is_loopback(), addr) {
        (true, SocketAddr::V4(_)) => Ipv4Addr::LOCALHOST.into(),
        (true, SocketAddr::V6(_)) => Ipv6Addr::LOCALHOST.into(),
        (false, SocketAddr::V4(_)) => Ipv4Addr::UNSPECIFIED.into(),
        (false, SocketAddr::V6(_)) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let sock = UdpSocket::bind((local, 0)).map_err(|e| format!("cannot bind UDP: {e}"))?;
    sock.connect(addr)
        .and_then(|()| sock.set_write_timeout(Some(t)))
        .map_err(|e| format!("UDP setup: {e}"))?;
    Ok(sock)
}

/// The next datagram within `wait`: `Ok(None)` if none came.
fn recv(sock: &UdpSocket, buf: &mut [u8], wait: Duration) -> Result<Option<usize>, String> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| format!("UDP setup: {e}"))?;
        match sock.recv(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) => match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Ok(None),
                io::ErrorKind::ConnectionRefused => {
                    return Err("ICMP port unreachable: nothing listens there".into());
                }
                _ => return Err(format!("UDP receive failed: {e}")),
            },
        }
    }
}

/// Plays a UDP case: `Ok` with how the reply departs from what SPEC asks
/// of senders, or `Err` with why the case failed.
pub(super) fn run_case(
    case: &Case,
    addr: SocketAddr,
    opts: &Options,
) -> Result<Departures, String> {
    let (datagram, reply) = match &case.exchange {
        Exchange::Udp { datagram, reply } => (datagram.clone(), reply.clone()),
        Exchange::UdpFull { op, reply } => (
            full_datagram(op, udp_max_payload(&addr)),
            Some(reply.clone()),
        ),
        Exchange::Tcp { .. } => return Err("not a UDP case".into()),
    };
    let t = opts.timeout;
    let sock = udp_socket(addr, t)?;
    let mut buf = vec![0u8; 1 << 16];
    sock.send(&datagram)
        .map_err(|e| format!("cannot send the {}-byte datagram: {e}", datagram.len()))?;
    match reply {
        Some(expect) => {
            let n = recv(&sock, &mut buf, t)?
                .ok_or_else(|| format!("expected {}, got no reply within {t:?}", expect.status))?;
            let (got, _) = parse_frame(&buf[..n], true)?.ok_or("an incomplete datagram")?;
            check(&expect, &got)
        }
        None => {
            if let Some(n) = recv(&sock, &mut buf, opts.no_reply_wait)? {
                return Err(match parse_frame(&buf[..n], true) {
                    Ok(Some((got, _))) => format!("expected no reply, got {got}"),
                    _ => format!("expected no reply, got a {n}-byte datagram"),
                });
            }
            // Then the service must still answer, and the probe's reply must
            // be the next datagram (a late reply to the first would come
            // before it from a server that handles datagrams in order).
            sock.send(&case.probe.request)
                .map_err(|e| format!("cannot send the probe: {e}"))?;
            let n = recv(&sock, &mut buf, t)?
                .ok_or_else(|| format!("no reply to the probe within {t:?}"))?;
            let (got, _) = parse_frame(&buf[..n], true)?.ok_or("an incomplete datagram")?;
            check(&case.probe.reply, &got)
                .map_err(|m| format!("expected no reply, then the probe's ok: {m}"))
        }
    }
}
