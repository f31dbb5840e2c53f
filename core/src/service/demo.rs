//! SPEC's demo services as one [`Service`]: `upper` (the default, ASCII
//! here; the std adapter serves Unicode), `echo` and `greet`. `get` needs a
//! file system: the std adapter serves it, a device leaves it unclaimed.

use core::marker::PhantomData;

use crate::header::{CompactHeader, ServiceHeader};

use super::api::{Answer, Request, Service};
use super::transform::Transform;

/// SPEC's `upper`, `echo` and `greet`, on any header type `H`
/// ([`CompactHeader`] by default: see its size beside [`Header`]'s).
///
/// [`Header`]: crate::Header
///
/// # Example
///
/// ```
/// use jframe::service::{Demo, Limits, datagram};
///
/// let json = br#"{"data_size":5,"op":"greet"}"#;
/// let request = [&(json.len() as i32).to_le_bytes()[..], json, b"world"].concat();
/// let mut out = [0u8; 128];
/// let n = datagram::answer(&request, &mut out, &mut Demo::new(), &Limits::default()).unwrap();
/// assert!(out[..n].ends_with(b"Hello, world!"));
/// ```
#[derive(Debug)]
pub struct Demo<H = CompactHeader>(PhantomData<fn() -> H>);

impl Demo<CompactHeader> {
    /// The demo services, parsing requests into a [`CompactHeader`].
    pub const fn new() -> Self {
        Demo(PhantomData)
    }
}

impl<H> Demo<H> {
    /// The demo services for a service whose header type is `H` (to fall
    /// back to, see [`super::Fallback`]).
    pub const fn with_header() -> Self {
        Demo(PhantomData)
    }
}

impl<H> Default for Demo<H> {
    fn default() -> Self {
        Demo(PhantomData)
    }
}

impl<H> Clone for Demo<H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H> Copy for Demo<H> {}

/// The demo's answer to an op.
pub fn answer<S>(op: Option<&str>) -> Answer<S> {
    match op {
        None | Some("upper") => Answer::Transform(Transform::Upper),
        Some("echo") => Answer::Transform(Transform::Echo),
        Some("greet") => Answer::Transform(Transform::Greet),
        Some(_) => Answer::Unclaimed,
    }
}

impl<H: ServiceHeader> Service for Demo<H> {
    type Header = H;
    type Source = core::convert::Infallible;

    fn call(&mut self, request: &Request<'_, H>) -> Answer<Self::Source> {
        answer(request.op)
    }
}
