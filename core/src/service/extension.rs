//! The extension point: what core cannot do itself (Unicode `upper`, `get`
//! with a file system) is plugged in here by a driver's crate, without a
//! copy of the dispatch. The engine asks the extension about every
//! well-formed request before the built-in services run.

use crate::header::{CompactHeader, Header, Op, ServiceHeader};

use super::request::Refusal;

pub use crate::error::SourceError;

/// An extension's reply: its header, then its body pulled in pieces.
pub trait Source {
    /// The reply's header: `status`, `data_size` = the body's length, and
    /// whatever keys the extension adds (such as `sha256`).
    fn header(&self) -> &Header;

    /// Writes the next bytes of the body into `buf`; returns how many.
    /// `Ok(0)` before the announced size is reached is a failure too.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError>;
}

/// [`Builtin`]'s source: it never replies itself, and an uninhabited source
/// lets the compiler drop the whole reply path from the engine.
impl Source for core::convert::Infallible {
    fn header(&self) -> &Header {
        match *self {}
    }

    fn fill(&mut self, _buf: &mut [u8]) -> Result<usize, SourceError> {
        match *self {}
    }
}

/// An extension's answer to a request.
#[derive(Debug)]
// No heap in core to box into; these live for one request on the stack.
#[allow(clippy::large_enum_variant)]
pub enum Claim<S> {
    /// Not the extension's: the built-in service answers.
    Builtin,
    /// The extension's reply (a body still to come is skipped).
    Reply(S),
    /// The extension needs the body whole: [`Extension::collect`] gets each
    /// chunk, then [`Extension::finish`] replies.
    Collect,
    /// An error reply.
    Refuse(Refusal),
}

/// Services a driver's crate adds to core's.
// A refusal is the error reply itself, built once per refused request.
#[allow(clippy::result_large_err)]
pub trait Extension {
    /// The body type of the extension's replies.
    type Source: Source;

    /// What requests' headers are parsed into: jframe's [`Header`] when the
    /// extension reads keys such as `name`, else [`CompactHeader`] (a few
    /// dozen bytes instead of ~570, per connection).
    type Header: ServiceHeader;

    /// Offered every well-formed request (not a reply, known op, within the
    /// body limit). `body` is the whole body when it arrived in one piece.
    fn claim(&mut self, header: &Self::Header, op: Op, body: Option<&[u8]>) -> Claim<Self::Source>;

    /// The next piece of a body claimed with [`Claim::Collect`]. An error
    /// refuses the request; the rest of the body is skipped.
    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal>;

    /// The whole body was collected: reply (or refuse).
    fn finish(&mut self, header: &Self::Header) -> Claim<Self::Source>;

    /// A collected body was abandoned (refused, or the session ended).
    fn abandon(&mut self) {}
}

/// No extension: only core's services, on [`CompactHeader`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Builtin;

impl Extension for Builtin {
    type Source = core::convert::Infallible;
    type Header = CompactHeader;

    fn claim(&mut self, _: &CompactHeader, _: Op, _: Option<&[u8]>) -> Claim<Self::Source> {
        Claim::Builtin
    }

    fn collect(&mut self, _: &[u8]) -> Result<(), Refusal> {
        Ok(())
    }

    fn finish(&mut self, _: &CompactHeader) -> Claim<Self::Source> {
        Claim::Builtin
    }
}

/// A borrowed extension serves as well: a driver keeps its extension and
/// lends it to each session.
impl<X: Extension + ?Sized> Extension for &mut X {
    type Source = X::Source;
    type Header = X::Header;

    fn claim(&mut self, header: &Self::Header, op: Op, body: Option<&[u8]>) -> Claim<Self::Source> {
        (**self).claim(header, op, body)
    }

    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        (**self).collect(chunk)
    }

    fn finish(&mut self, header: &Self::Header) -> Claim<Self::Source> {
        (**self).finish(header)
    }

    fn abandon(&mut self) {
        (**self).abandon()
    }
}
