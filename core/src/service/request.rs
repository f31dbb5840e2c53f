//! What SPEC says about a request, in one place: whether it is answered,
//! by which service, or refused with which status.

use core::fmt;

use crate::decimal::Decimal;
use crate::decoder::DecodeError;
use crate::encoder::{EncodeError, encode_reply_head};
use crate::error::{Sink, body_too_large};
use crate::header::{ServiceHeader, Status};

use super::api::{Answer, Request, Service};
use super::transform::{GREET_EXIT, Transform};

pub use crate::error::Message;

/// A request refused: the error reply's status and message.
///
/// # Example
///
/// ```
/// use jframe::Status;
/// use jframe::service::Refusal;
///
/// let mut refusal = Refusal::text(Status::TooLarge, "body of ");
/// refusal.push_number(70_000).push(" bytes");
/// assert_eq!(refusal.to_string(), "too_large: body of 70000 bytes");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The SPEC status.
    pub status: Status,
    /// The human-readable `error`.
    pub message: Message,
}

impl Refusal {
    /// A refusal with this message (cut at the capacity: the status says
    /// the rest).
    pub fn text(status: Status, message: &str) -> Self {
        let mut refusal = Refusal {
            status,
            message: Message::new(),
        };
        refusal.push(message);
        refusal
    }

    /// Appends text to the message (cut at the capacity).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.message.as_mut_view().text(text);
        self
    }

    /// Appends a number, in decimal, to the message (cut at the capacity):
    /// messages built from parts, without `core::fmt`.
    pub fn push_number(&mut self, n: u64) -> &mut Self {
        self.message.as_mut_view().number(Decimal::from(n));
        self
    }

    /// Writes the error reply's head into `out`: with the message if it
    /// fits, else the bare status (a refusal never becomes a disconnect).
    pub(crate) fn encode_head(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        match encode_reply_head(out, self.status, 0, Some(&self.message)) {
            Ok(n) => Ok(n),
            Err(_) => encode_reply_head(out, self.status, 0, None),
        }
    }
}

/// The error reply SPEC gives a decode error: its status, and its message.
impl From<DecodeError> for Refusal {
    fn from(e: DecodeError) -> Self {
        let mut refusal = Refusal::text(e.status(), "");
        e.message(&mut refusal.message);
        refusal
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.status.as_str())?;
        f.write_str(": ")?;
        f.write_str(&self.message)
    }
}

/// Limits a server applies to requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest header accepted (a longer prefix is a fatal `bad_frame`).
    pub max_header: u32,
    /// Largest request body accepted; larger ones are `too_large`, skipped.
    pub max_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header: crate::DEFAULT_MAX_HEADER_LEN,
            max_body: u64::MAX,
        }
    }
}

/// What to do with one well-formed request, decided from its header
/// alone, the same way whether its body arrives whole or in pieces. A
/// refusal is not in it but in the caller's one slot: no copy of a 136-byte
/// message per decision, and nothing that size kept across an `.await` on
/// a microcontroller.
#[derive(Debug)]
pub(crate) enum Plan<S> {
    /// A chunk-wise transform: the reply's head can be written at once,
    /// with a body of `reply_size` bytes.
    Transform {
        /// What is done to each chunk.
        transform: Transform,
        /// The reply body's length.
        reply_size: u64,
    },
    /// A `greet` whose body has `exit`'s length: the body decides between
    /// `Bye!` and the end of the session, and `Hello, <body>!`
    /// ([`is_exit`]). The caller holds those few bytes until they are all
    /// there, however they arrive.
    MaybeExit,
    /// The service's reply (a body still to come is skipped).
    Reply(S),
    /// The service wants the body whole: hand it the chunks (or the whole
    /// body as one chunk), then ask it to [`Service::finish`].
    Collect,
    /// An error reply (written to the caller's refusal); the body is
    /// skipped and the session goes on.
    Refuse,
    /// A reply (it carries `status`): never answered. TCP closes, UDP drops.
    Ignore,
}

/// Whether a `greet` body ends the session.
pub(crate) fn is_exit(body: &[u8]) -> bool {
    body == GREET_EXIT
}

/// Decides what a request gets; a refusal is written to `refusal`. `body`
/// is the whole body when it arrived in one piece (`None` while it is still
/// to be streamed), a hint for the service only: the plan itself never
/// depends on it. An op the service leaves unclaimed is `bad_request`,
/// here and nowhere else.
pub(crate) fn plan<S: Service>(
    header: &S::Header,
    body: Option<&[u8]>,
    limits: &Limits,
    service: &mut S,
    refusal: &mut Refusal,
) -> Plan<S::Source> {
    if header.is_reply() {
        return Plan::Ignore;
    }
    let op = header.op_name();
    let answer = service.call(&Request { header, op, body });
    let size = header.data_size();
    if !matches!(answer, Answer::Unclaimed) && size > limits.max_body {
        if matches!(answer, Answer::Collect) {
            service.abandon();
        }
        *refusal = Refusal::text(Status::TooLarge, "");
        body_too_large(refusal.message.as_mut_view(), size, limits.max_body);
        return Plan::Refuse;
    }
    let transform = match answer {
        Answer::Transform(t) => t,
        Answer::Reply(reply) => return Plan::Reply(reply),
        Answer::Collect => return Plan::Collect,
        Answer::Refuse(r) => {
            *refusal = r;
            return Plan::Refuse;
        }
        Answer::Unclaimed => {
            // Not `{name:?}`: str's Debug brings the Unicode printable
            // tables and a panic path to every firmware.
            *refusal = Refusal::text(Status::BadRequest, "unknown op \"");
            refusal.push(op.unwrap_or("")).push("\"");
            return Plan::Refuse;
        }
    };
    if transform == Transform::Greet && size == GREET_EXIT.len() as u64 {
        return Plan::MaybeExit;
    }
    match transform.reply_size(size) {
        Some(reply_size) => Plan::Transform {
            transform,
            reply_size,
        },
        None => {
            *refusal = Refusal::text(Status::TooLarge, "the reply to a body of ");
            refusal
                .push_number(size)
                .push(" bytes would exceed 2^64-1 bytes");
            Plan::Refuse
        }
    }
}

/// Hands a body that arrived whole to the service that asked to collect
/// it: its reply, or `None` with the refusal written to `refusal`.
pub(crate) fn collect_whole<S: Service>(
    service: &mut S,
    header: &S::Header,
    body: &[u8],
    refusal: &mut Refusal,
) -> Option<S::Source> {
    // As for a streamed body: abandon() when collect refuses, not after finish.
    if let Err(r) = service.collect(body) {
        service.abandon();
        *refusal = r;
        return None;
    }
    finished_reply(service.finish(header), refusal)
}

/// What a request gets once the service has collected its body and
/// [`Service::finish`]ed: its reply, or `None` with the refusal written
/// to `refusal` (`error` when it did not answer).
pub(crate) fn finished_reply<S>(answer: Answer<S>, refusal: &mut Refusal) -> Option<S> {
    *refusal = match answer {
        Answer::Reply(reply) => return Some(reply),
        Answer::Refuse(r) => r,
        _ => unanswered(),
    };
    None
}

/// The error reply when a service asked to collect a body, then did not
/// answer it.
fn unanswered() -> Refusal {
    Refusal::text(Status::Error, "the request was not answered")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::HeaderError;
    use std::string::ToString;

    #[test]
    fn a_decode_error_reply_says_what_display_says() {
        for e in [
            DecodeError::HeaderTooShort { len: -7 },
            DecodeError::HeaderTooLong {
                len: 5000,
                max: 4096,
            },
            DecodeError::Header(HeaderError::TooDeep),
            DecodeError::request(HeaderError::InvalidField, 3, b"{}"),
            DecodeError::BodyTooLarge {
                data_size: u64::MAX,
                max: 10,
            },
        ] {
            let refusal = Refusal::from(e);
            assert_eq!(refusal.status, e.status());
            assert_eq!(refusal.message.as_str(), e.to_string());
        }
    }

    #[test]
    fn messages_are_cut_at_a_character_boundary() {
        let mut refusal = Refusal::text(Status::Error, &"é".repeat(70));
        assert_eq!(refusal.message.len(), 128);
        refusal.push("more").push_number(42);
        assert_eq!(refusal.message.as_str(), "é".repeat(64));
        let mut refusal = Refusal::text(Status::Error, &"x".repeat(125));
        refusal.push_number(123_456);
        assert_eq!(
            refusal.message.as_str(),
            std::format!("{}123", "x".repeat(125))
        );
        assert_eq!(
            refusal.to_string(),
            std::format!("error: {}", refusal.message)
        );
    }
}
