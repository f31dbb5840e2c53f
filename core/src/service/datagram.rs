//! One request datagram, one reply datagram (SPEC, "Transports: UDP").
//!
//! - A datagram shorter than its header says gets `truncated`.
//! - A reply never exceeds its request by more than [`MAX_EXTRA`] bytes,
//!   so the service cannot amplify traffic; a reply that would is refused
//!   with `too_large`, as is one that would not fit a datagram at all.
//! - An error reply carries its message when that fits the same bound, and
//!   is the bare status otherwise (at most [`BARE_ERROR_MAX`] bytes, even
//!   for a 4-byte request): every request gets an answer, never silence,
//!   and no request can draw more than that from a refusal.
//! - A datagram that carries `status` is a reply: never answered, so no
//!   forged datagram can start a loop between servers.

use crate::decoder::{DecodeError, Parse, parse_frame};
use crate::encoder::encode_reply_head;
use crate::header::{ServiceHeader, Status};

use super::api::{Service, Source};
use super::request::{Limits, Plan, Refusal, collect_whole, is_exit, plan};
use super::transform::{GREET_BYE, Transform};

/// A reply may exceed its request by at most this many bytes: enough for
/// `,"status":"ok"` and greet's `Hello, !`, too little to amplify.
pub const MAX_EXTRA: usize = 32;

/// The longest bare error reply: `{"data_size":0,"status":"bad_request"}`
/// and its prefix.
pub const BARE_ERROR_MAX: usize = 42;

/// The largest UDP payload over IPv4 (65,535 − 8 − 20).
pub const MAX_DATAGRAM: usize = 65_507;

/// The reply to one request datagram, encoded into `out`; its length, or
/// `None` when no reply is due (the datagram is itself a reply) or not even
/// a bare status fits the amplification bound.
///
/// # Example
///
/// A datagram shorter than its header says is answered `truncated`; a reply
/// is never answered:
///
/// ```
/// use jframe::service::{Demo, Limits, datagram};
/// use jframe::{Decoder, Event, Status};
///
/// let mut out = [0u8; 128];
/// let short = b"\x0f\x00\x00\x00{\"data_size\":9}hi";
/// let n = datagram::answer(short, &mut out, &mut Demo::new(), &Limits::default()).unwrap();
/// let mut decoder = Decoder::new([0u8; 256]);
/// match decoder.feed(&out[..n]) {
///     (_, Ok(Event::Frame(frame))) => assert_eq!(frame.header.status(), Some(Status::Truncated)),
///     other => panic!("{other:?}"),
/// }
/// let reply = b"\x1d\x00\x00\x00{\"data_size\":0,\"status\":\"ok\"}";
/// assert_eq!(datagram::answer(reply, &mut out, &mut Demo::new(), &Limits::default()), None);
/// ```
pub fn answer<X: Service>(
    request: &[u8],
    out: &mut [u8],
    service: &mut X,
    limits: &Limits,
) -> Option<usize> {
    let limit = request
        .len()
        .saturating_add(MAX_EXTRA)
        .min(MAX_DATAGRAM)
        .min(out.len());
    let mut header = X::Header::default();
    let refusal = match parse_frame(request, limits.max_header, &mut header) {
        Ok(Parse::Complete { body, len, .. }) if len == request.len() => {
            match serve(&header, body, out, limit, service, limits) {
                Answer::Sent(n) => return Some(n),
                Answer::Silent => return None,
                Answer::Refused(refusal) => refusal,
            }
        }
        // A reply is never answered, whatever follows it.
        Ok(Parse::Complete { .. }) if header.is_reply() => return None,
        Ok(Parse::Complete { len, .. }) => {
            let extra = request.len() - len;
            let mut refusal = Refusal::text(Status::BadFrame, "");
            refusal
                .push_number(extra as u64)
                .push(" bytes follow the frame in the datagram");
            refusal
        }
        Ok(Parse::Partial { data_size, .. }) => {
            if header.is_reply() && data_size.is_some() {
                return None;
            }
            let got = request.len();
            let mut refusal = Refusal::text(Status::Truncated, "the datagram ends after ");
            refusal
                .push_number(got as u64)
                .push(" bytes, inside its frame");
            refusal
        }
        Err(DecodeError::Request { .. }) if header.is_reply() => return None,
        Err(e) => Refusal::from(e),
    };
    encode_refusal(&refusal, out, limit)
}

enum Answer {
    Sent(usize),
    Silent,
    Refused(Refusal),
}

fn serve<X: Service>(
    header: &X::Header,
    body: &[u8],
    out: &mut [u8],
    limit: usize,
    service: &mut X,
    limits: &Limits,
) -> Answer {
    let mut refusal = Refusal::text(Status::Error, "");
    let reply = match plan(header, Some(body), limits, service, &mut refusal) {
        Plan::Ignore => return Answer::Silent,
        Plan::Refuse => return Answer::Refused(refusal),
        Plan::Collect => match collect_whole(service, header, body, &mut refusal) {
            Some(reply) => pull(out, limit, reply),
            None => return Answer::Refused(refusal),
        },
        Plan::Transform { transform, .. } => compose(out, limit, body, transform, service),
        Plan::MaybeExit if is_exit(body) => {
            compose(out, limit, GREET_BYE, Transform::Echo, service)
        }
        Plan::MaybeExit => compose(out, limit, body, Transform::Greet, service),
        Plan::Reply(reply) => pull(out, limit, reply),
    };
    match reply {
        Some(n) => Answer::Sent(n),
        None => {
            let mut refusal = Refusal::text(
                Status::TooLarge,
                "the reply would not fit one datagram of at most ",
            );
            refusal.push_number(limit as u64).push(" bytes");
            Answer::Refused(refusal)
        }
    }
}

/// A transformed reply into `out[..limit]`: head, prefix, body transformed
/// (by the service's own map for [`Transform::Map`]), suffix.
fn compose<X: Service>(
    out: &mut [u8],
    limit: usize,
    body: &[u8],
    t: Transform,
    service: &mut X,
) -> Option<usize> {
    let size = t.reply_size(body.len() as u64)?;
    let out = out.get_mut(..limit)?;
    let mut at = encode_reply_head(out, Status::Ok, size, None).ok()?;
    for (part, apply) in [(t.prefix(), false), (body, true), (t.suffix(), false)] {
        let dst = out.get_mut(at..at.checked_add(part.len())?)?;
        crate::copy::copy(dst, part);
        if apply && t == Transform::Map {
            service.map(dst);
        } else if apply {
            t.apply(dst);
        }
        at += part.len();
    }
    Some(at)
}

/// A service's reply into `out[..limit]`, if it fits.
fn pull<S: Source>(out: &mut [u8], limit: usize, mut reply: S) -> Option<usize> {
    let out = out.get_mut(..limit)?;
    let head = reply.encode_head(out).ok()?;
    let size = usize::try_from(reply.data_size()).ok()?;
    let end = head.checked_add(size)?;
    let mut dst = out.get_mut(head..end)?;
    while !dst.is_empty() {
        let n = reply.fill(dst).ok()?;
        if n == 0 {
            return None;
        }
        dst = dst.get_mut(n..)?;
    }
    Some(end)
}

/// An error reply within `limit` ([`Refusal::encode_head`]: with its
/// message if it fits, else the bare status); when even that does not fit
/// within `limit`, the bare status, which is always answered.
fn encode_refusal(refusal: &Refusal, out: &mut [u8], limit: usize) -> Option<usize> {
    if let Some(n) = out
        .get_mut(..limit)
        .and_then(|within| refusal.encode_head(within).ok())
    {
        return Some(n);
    }
    let bare = out.get_mut(..BARE_ERROR_MAX.min(out.len()))?;
    encode_reply_head(bare, refusal.status, 0, None).ok()
}
