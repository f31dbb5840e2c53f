//! What SPEC says about a request, in one place: whether it is answered,
//! by which service, or refused with which status.

use core::fmt::{self, Write as _};

use crate::decimal::Decimal;
use crate::header::{ERROR_CAPACITY, Header, Status};

use super::extension::{Claim, Extension};
use super::transform::{GREET_EXIT, Transform};

/// An error reply's message, cut to the header's `error` capacity.
pub type Message = heapless::String<ERROR_CAPACITY>;

/// A request refused: the error reply's status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The SPEC status.
    pub status: Status,
    /// The human-readable `error`.
    pub message: Message,
}

impl Refusal {
    /// A refusal with a formatted message (cut at the capacity).
    pub fn new(status: Status, message: fmt::Arguments<'_>) -> Self {
        let mut text = Message::new();
        // A message longer than the capacity is cut; the status says the rest.
        let _ = text.write_fmt(message);
        Refusal {
            status,
            message: text,
        }
    }

    /// The reply header.
    pub fn header(&self) -> Header {
        Header::error_reply(self.status, &self.message)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
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

/// What to do with one well-formed request.
#[derive(Debug)]
// No heap in core to box into; these live for one request on the stack.
#[allow(clippy::large_enum_variant)]
pub enum Plan<S> {
    /// A built-in service, chunk by chunk.
    Serve(Transform),
    /// `greet` of `exit`: reply `Bye!` and end the session.
    Bye,
    /// The extension's reply.
    Reply(S),
    /// The extension wants the body whole: hand it the chunks, then ask it
    /// to [`Extension::finish`].
    Collect,
    /// An error reply; the body is skipped and the session goes on.
    Refuse(Refusal),
    /// A reply (it carries `status`): never answered. TCP closes, UDP drops.
    Ignore,
}

/// Decides what a request gets. `body` is the whole body when it arrived
/// in one piece (`None` while it is still to be streamed).
pub fn plan<X: Extension>(
    header: &Header,
    body: Option<&[u8]>,
    limits: &Limits,
    extension: &mut X,
) -> Plan<X::Source> {
    if header.status.is_some() {
        return Plan::Ignore;
    }
    let op = match header.op() {
        Ok(op) => op,
        Err(name) => {
            // Not `{name:?}`: str's Debug brings the Unicode printable
            // tables and a panic path to every firmware.
            let why = format_args!("unknown op \"{name}\"");
            return Plan::Refuse(Refusal::new(Status::BadRequest, why));
        }
    };
    let size = header.data_size;
    if size > limits.max_body {
        let (size, max) = (Decimal::from(size), Decimal::from(limits.max_body));
        let why = format_args!("body of {size} bytes exceeds the limit of {max}");
        return Plan::Refuse(Refusal::new(Status::TooLarge, why));
    }
    match extension.claim(header, op, body) {
        Claim::Builtin => {}
        Claim::Reply(reply) => return Plan::Reply(reply),
        Claim::Collect => return Plan::Collect,
        Claim::Refuse(refusal) => return Plan::Refuse(refusal),
    }
    let Some(transform) = Transform::for_op(op) else {
        let why = format_args!("op {} is not served here", op.as_str());
        return Plan::Refuse(Refusal::new(Status::BadRequest, why));
    };
    if transform == Transform::Greet && body == Some(GREET_EXIT) {
        return Plan::Bye;
    }
    if transform.reply_size(size).is_none() {
        let size = Decimal::from(size);
        let why = format_args!("the reply to a body of {size} bytes would exceed 2^64-1 bytes");
        return Plan::Refuse(Refusal::new(Status::TooLarge, why));
    }
    Plan::Serve(transform)
}
