//! How users add their own endpoints: a [`Service`] answers every
//! well-formed request with an [`Answer`], and the session keeps every SPEC
//! rule around it (replies never answered, fatal versus recoverable errors,
//! limits, deadlines, reply order). An op no service claims is
//! `bad_request`, decided once, by the session.
//!
//! A service sees any op string (`None` when the request has no `op`: the
//! service's default) and the request header parsed into its own type
//! ([`Service::Header`]: jframe's [`Header`](crate::Header),
//! [`CompactHeader`](crate::CompactHeader), or your serde type through
//! [`Typed`](crate::header::Typed)). It answers with:
//!
//! - [`Answer::Reply`]: a status, header keys from your serde type, and a
//!   body from bytes ([`Reply`]) or pulled from any [`Source`];
//! - [`Answer::Transform`]: a chunk-wise transform of the body, streamed
//!   through fixed buffers (echo, ASCII upper, greet, or your own
//!   [`Service::map`]);
//! - [`Answer::Collect`]: the body, chunk by chunk, to [`Service::collect`],
//!   then the answer of [`Service::finish`];
//! - [`Answer::Refuse`]: an error reply;
//! - [`Answer::Unclaimed`]: not this service's op. [`Fallback`] then asks
//!   the next service, so a device serves its own ops beside SPEC's demo
//!   ones ([`Demo`](super::Demo)).
//!
//! Like postcard-rpc's `define_dispatch!` or axum's `Router`, but with no
//! allocation and no macro: a service is a `match` on the op, and services
//! compose with [`Fallback`].

use crate::encoder::{EncodeError, encode_reply_head_with};
use crate::header::{ServiceHeader, Status};

use super::request::Refusal;
use super::transform::Transform;

pub use crate::error::SourceError;

/// A well-formed request, as a service sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a, H> {
    /// The header, parsed into the service's type.
    pub header: &'a H,
    /// The `op`, `None` when absent (the service's default).
    pub op: Option<&'a str>,
    /// The whole body when it arrived in one piece, `None` while it is
    /// still to come. Only a hint: a service must answer the same either
    /// way (SPEC: the same bytes get the same answer on every transport).
    pub body: Option<&'a [u8]>,
}

impl<H: ServiceHeader> Request<'_, H> {
    /// The body's length.
    pub fn data_size(&self) -> u64 {
        self.header.data_size()
    }
}

/// What a service makes of a request.
#[derive(Debug)]
// No heap in core to box into; these live for one request on the stack.
#[allow(clippy::large_enum_variant)]
pub enum Answer<S> {
    /// Not this service's op: the next service is asked ([`Fallback`]), or
    /// the request is `bad_request`.
    Unclaimed,
    /// `ok`, with the body transformed chunk by chunk as it arrives.
    Transform(Transform),
    /// A reply (a body still to come is skipped).
    Reply(S),
    /// The body is wanted whole: [`Service::collect`] gets each chunk, then
    /// [`Service::finish`] answers.
    Collect,
    /// An error reply; the body is skipped and the session goes on.
    Refuse(Refusal),
}

/// A reply's head and body, the body pulled in pieces.
pub trait Source {
    /// The reply's status.
    fn status(&self) -> Status {
        Status::Ok
    }

    /// The body's length (the head's `data_size`).
    fn data_size(&self) -> u64;

    /// Writes the prefix and header into `out`; returns their length.
    fn encode_head(&self, out: &mut [u8]) -> Result<usize, EncodeError>;

    /// Writes the next bytes of the body into `buf`; returns how many.
    /// `Ok(0)` before [`Self::data_size`] bytes is a failure too.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError>;
}

/// Services that never reply themselves: an uninhabited source lets the
/// compiler drop the whole reply path.
impl Source for core::convert::Infallible {
    fn data_size(&self) -> u64 {
        match *self {}
    }

    fn encode_head(&self, _out: &mut [u8]) -> Result<usize, EncodeError> {
        match *self {}
    }

    fn fill(&mut self, _buf: &mut [u8]) -> Result<usize, SourceError> {
        match *self {}
    }
}

/// A reply from values: a status, header keys from a serde type (`head`,
/// written after `data_size` and `status`; [`NoKeys`] for none), and a
/// body from bytes.
#[derive(Debug, Clone)]
pub struct Reply<H, B> {
    status: Status,
    head: H,
    body: B,
    sent: usize,
}

impl<H: serde::Serialize, B: AsRef<[u8]>> Reply<H, B> {
    /// A reply with this status, these extra header keys and this body.
    pub fn new(status: Status, head: H, body: B) -> Self {
        Reply {
            status,
            head,
            body,
            sent: 0,
        }
    }
}

impl<H: serde::Serialize, B: AsRef<[u8]>> Source for Reply<H, B> {
    fn status(&self) -> Status {
        self.status
    }

    fn data_size(&self) -> u64 {
        self.body.as_ref().len() as u64
    }

    fn encode_head(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        encode_reply_head_with(out, self.status, self.data_size(), &self.head)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        let rest = self.body.as_ref().get(self.sent..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            crate::copy::copy(dst, src);
        }
        self.sent += n;
        Ok(n)
    }
}

/// No extra header keys (serializes as `{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NoKeys {}

/// A service: see the [module docs](self).
///
/// # Example
///
/// A service of one op, `shout`; jframe answers any other op `bad_request`:
///
/// ```
/// use jframe::CompactHeader;
/// use jframe::service::{Answer, Limits, Request, Service, Transform, datagram};
///
/// struct Shout;
///
/// impl Service for Shout {
///     type Header = CompactHeader;
///     type Source = core::convert::Infallible;
///
///     fn call(&mut self, request: &Request<'_, CompactHeader>) -> Answer<Self::Source> {
///         match request.op {
///             Some("shout") => Answer::Transform(Transform::Upper),
///             _ => Answer::Unclaimed,
///         }
///     }
/// }
///
/// let json = br#"{"data_size":2,"op":"shout"}"#;
/// let request = [&(json.len() as i32).to_le_bytes()[..], json, b"hi"].concat();
/// let mut out = [0u8; 128];
/// let n = datagram::answer(&request, &mut out, &mut Shout, &Limits::default()).unwrap();
/// assert!(out[..n].ends_with(b"HI"));
/// ```
// A refusal is the error reply itself, built once per refused request.
#[allow(clippy::result_large_err)]
pub trait Service {
    /// What requests' headers are parsed into.
    type Header: ServiceHeader;

    /// The replies' type ([`Reply`], your own [`Source`], or
    /// `core::convert::Infallible` for a service that never replies itself).
    type Source: Source;

    /// Answers a well-formed request (not a reply, within the limits).
    fn call(&mut self, request: &Request<'_, Self::Header>) -> Answer<Self::Source>;

    /// Transforms one chunk of a body in place, for a request answered
    /// `Answer::Transform(Transform::Map)`.
    fn map(&mut self, chunk: &mut [u8]) {
        let _ = chunk;
    }

    /// The next piece of a body answered [`Answer::Collect`]. An error
    /// refuses the request; the rest of the body is skipped.
    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        let _ = chunk;
        Err(Refusal::text(
            Status::Error,
            "this service collects no body",
        ))
    }

    /// The collected body is complete: [`Answer::Reply`] or
    /// [`Answer::Refuse`] (anything else is an `error` reply).
    fn finish(&mut self, header: &Self::Header) -> Answer<Self::Source> {
        let _ = header;
        Answer::Unclaimed
    }

    /// A collected body was abandoned (refused, or the session ended).
    fn abandon(&mut self) {}

    /// The session answered a request with `status` and a body of
    /// `data_size` bytes (every reply frame, error replies of the decoder's
    /// own included, in request order): a place to count.
    fn replied(&mut self, status: Status, data_size: u64) {
        let _ = (status, data_size);
    }
}

/// A borrowed service serves as well: a driver keeps its service and lends
/// it to each session.
impl<S: Service + ?Sized> Service for &mut S {
    type Header = S::Header;
    type Source = S::Source;

    fn call(&mut self, request: &Request<'_, Self::Header>) -> Answer<Self::Source> {
        (**self).call(request)
    }

    fn map(&mut self, chunk: &mut [u8]) {
        (**self).map(chunk)
    }

    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        (**self).collect(chunk)
    }

    fn finish(&mut self, header: &Self::Header) -> Answer<Self::Source> {
        (**self).finish(header)
    }

    fn abandon(&mut self) {
        (**self).abandon()
    }

    fn replied(&mut self, status: Status, data_size: u64) {
        (**self).replied(status, data_size)
    }
}

/// One of two sources: [`Fallback`]'s replies.
#[derive(Debug)]
pub enum Either<A, B> {
    /// The first service's.
    First(A),
    /// The fallback's.
    Then(B),
}

impl<A: Source, B: Source> Source for Either<A, B> {
    fn status(&self) -> Status {
        match self {
            Either::First(a) => a.status(),
            Either::Then(b) => b.status(),
        }
    }

    fn data_size(&self) -> u64 {
        match self {
            Either::First(a) => a.data_size(),
            Either::Then(b) => b.data_size(),
        }
    }

    fn encode_head(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        match self {
            Either::First(a) => a.encode_head(out),
            Either::Then(b) => b.encode_head(out),
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        match self {
            Either::First(a) => a.fill(buf),
            Either::Then(b) => b.fill(buf),
        }
    }
}

/// `first`'s ops, and `then`'s for what `first` leaves
/// [`Answer::Unclaimed`]: a device's own ops beside SPEC's demo ones.
///
/// # Example
///
/// A device's own `ping` beside SPEC's demo ops:
///
/// ```
/// use jframe::service::{Answer, Demo, Fallback, Limits, NoKeys, Reply, Request, Service};
/// use jframe::{CompactHeader, Status};
///
/// struct Ping;
///
/// impl Service for Ping {
///     type Header = CompactHeader;
///     type Source = Reply<NoKeys, &'static [u8]>;
///
///     fn call(&mut self, request: &Request<'_, CompactHeader>) -> Answer<Self::Source> {
///         match request.op {
///             Some("ping") => Answer::Reply(Reply::new(Status::Ok, NoKeys {}, b"pong")),
///             _ => Answer::Unclaimed,
///         }
///     }
/// }
///
/// let mut both = Fallback::new(Ping, Demo::new());
/// for (op, reply) in [("ping", "pong"), ("echo", "hi")] {
///     let json = format!(r#"{{"data_size":2,"op":"{op}"}}"#);
///     let request = [&(json.len() as i32).to_le_bytes()[..], json.as_bytes(), b"hi"].concat();
///     let mut out = [0u8; 128];
///     let limits = Limits::default();
///     let n = jframe::service::datagram::answer(&request, &mut out, &mut both, &limits).unwrap();
///     assert!(out[..n].ends_with(reply.as_bytes()));
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Fallback<A, B> {
    /// Asked first.
    pub first: A,
    /// Asked when `first` does not claim the op.
    pub then: B,
    /// Which one is mapping or collecting the current body.
    then_has_body: bool,
}

impl<A, B> Fallback<A, B> {
    /// `first`, then `then`.
    pub const fn new(first: A, then: B) -> Self {
        Fallback {
            first,
            then,
            then_has_body: false,
        }
    }
}

impl<S> Answer<S> {
    /// The same answer, its reply (if any) mapped: how [`Fallback`] tells
    /// whose reply it is.
    fn map_reply<T>(self, f: impl FnOnce(S) -> T) -> Answer<T> {
        match self {
            Answer::Unclaimed => Answer::Unclaimed,
            Answer::Transform(t) => Answer::Transform(t),
            Answer::Reply(s) => Answer::Reply(f(s)),
            Answer::Collect => Answer::Collect,
            Answer::Refuse(r) => Answer::Refuse(r),
        }
    }
}

impl<A: Service, B: Service<Header = A::Header>> Service for Fallback<A, B> {
    type Header = A::Header;
    type Source = Either<A::Source, B::Source>;

    fn call(&mut self, request: &Request<'_, Self::Header>) -> Answer<Self::Source> {
        match self.first.call(request) {
            Answer::Unclaimed => {
                self.then_has_body = true;
                self.then.call(request).map_reply(Either::Then)
            }
            answer => {
                self.then_has_body = false;
                answer.map_reply(Either::First)
            }
        }
    }

    fn map(&mut self, chunk: &mut [u8]) {
        if self.then_has_body {
            self.then.map(chunk)
        } else {
            self.first.map(chunk)
        }
    }

    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        if self.then_has_body {
            self.then.collect(chunk)
        } else {
            self.first.collect(chunk)
        }
    }

    fn finish(&mut self, header: &Self::Header) -> Answer<Self::Source> {
        if self.then_has_body {
            self.then.finish(header).map_reply(Either::Then)
        } else {
            self.first.finish(header).map_reply(Either::First)
        }
    }

    fn abandon(&mut self) {
        if self.then_has_body {
            self.then.abandon()
        } else {
            self.first.abandon()
        }
    }

    /// Both services see every reply.
    fn replied(&mut self, status: Status, data_size: u64) {
        self.first.replied(status, data_size);
        self.then.replied(status, data_size);
    }
}
