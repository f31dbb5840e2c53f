//! UDP: one frame per datagram, one reply per request, never much larger
//! than the request (no amplification).

use std::io;
use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use jframe::{Header, Op, Status, encode_frame};

use super::Shared;
use crate::services::{self, BYE, Greeting};
use crate::stream::decode_datagram;

/// A reply may exceed its request by at most this many bytes: enough for
/// `,"status":"ok"` and greet's `Hello, !`, too little to amplify traffic.
pub const UDP_MAX_EXTRA: usize = 32;

/// Largest datagram received (the UDP maximum rounds up to this).
const DATAGRAM: usize = 65_536;

/// Source ports whose traffic is dropped: 0 is invalid, and echo (7) and
/// chargen (19) would bounce replies back at us forever.
const BLOCKED_PORTS: [u16; 3] = [0, 7, 19];

pub(super) fn serve(sock: &UdpSocket, shared: &Shared) {
    // A short timeout so that shutdown is noticed.
    if let Err(e) = sock.set_read_timeout(Some(Duration::from_millis(200))) {
        log::error!("udp: cannot set a read timeout ({e}); UDP service stopped");
        return;
    }
    let mut datagram = vec![0u8; DATAGRAM];
    let mut work = vec![0u8; DATAGRAM];
    while !shared.stopping() {
        let (n, src) = match sock.recv_from(&mut datagram) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // ICMP errors from earlier replies surface here; keep going.
                log::debug!("udp: receive failed: {e}");
                thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        if BLOCKED_PORTS.contains(&src.port()) {
            log::debug!("udp: dropped a datagram from {src}");
            continue;
        }
        let Some(reply) = udp_reply(&datagram[..n], &mut work, shared.config.max_body) else {
            log::debug!("udp: no reply fits within the request size for {src}");
            continue;
        };
        if let Err(e) = sock.send_to(&reply, src) {
            log::debug!("udp: reply to {src} failed: {e}");
        }
    }
}

/// The reply to one request datagram, or `None` when not even a bare
/// status fits within `request + UDP_MAX_EXTRA` bytes.
pub fn udp_reply(datagram: &[u8], work: &mut [u8], max_body: u64) -> Option<Vec<u8>> {
    let limit = datagram.len() + UDP_MAX_EXTRA;
    let answer = match decode_datagram(datagram, work) {
        Err(refusal) => Err(refusal),
        Ok((_, body)) if body.len() as u64 > max_body => Err((
            Status::TooLarge,
            format!("body exceeds the limit of {max_body}"),
        )),
        Ok((header, body)) => match header.op() {
            Err(name) => Err((Status::BadRequest, format!("unknown op {name:?}"))),
            Ok(Op::Upper) => Ok(services::upper(body)),
            Ok(Op::Echo) => Ok(body.to_vec()),
            Ok(Op::Greet) => Ok(match services::greet(body) {
                Greeting::Hello(text) => text,
                Greeting::Bye => BYE.to_vec(),
            }),
            Ok(Op::Get) => Err((Status::Forbidden, "get is not served over UDP".to_string())),
            Ok(other) => Err((Status::BadRequest, format!("op {other} is not served here"))),
        },
    };
    let (status, message) = match answer {
        Ok(body) => {
            let header = Header::reply(Status::Ok, body.len() as u64);
            if let Some(frame) = encode_within(&header, &body, limit) {
                return Some(frame);
            }
            (
                Status::TooLarge,
                "reply would be larger than the request".to_string(),
            )
        }
        Err(refusal) => refusal,
    };
    // Error replies: with the message if it fits, else the bare status.
    encode_within(&Header::error_reply(status, &message), &[], limit)
        .or_else(|| encode_within(&Header::reply(status, 0), &[], limit))
}

fn encode_within(header: &Header, body: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; crate::SCRATCH + body.len()];
    let len = encode_frame(&mut out, header, body).ok()?;
    (len <= limit).then(|| {
        out.truncate(len);
        out
    })
}
