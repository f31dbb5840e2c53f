//! What a server reports to Prometheus (`jframe serve --metrics ADDR`):
//! every metric name, and the one function per event that the drivers,
//! the services, the budget and the digest cache call.
//!
//! With the `metrics` feature (which `cli` enables) the functions record
//! through the [`metrics`](https://docs.rs/metrics) facade once [`install`]
//! has started an exporter; until then each is one relaxed atomic load.
//! Without the feature they are empty inline functions: a library user
//! pays nothing and links neither `metrics` nor the exporter.
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `jframe_connections_open` | gauge | |
//! | `jframe_connections_total` | counter | |
//! | `jframe_refusals_total` | counter | `reason`: busy, per_client, proxy_protocol |
//! | `jframe_requests_total` | counter | `op`, `status` |
//! | `jframe_body_bytes_in_total` | counter | |
//! | `jframe_body_bytes_out_total` | counter | |
//! | `jframe_request_duration_seconds` | histogram | `op` |
//! | `jframe_cuts_total` | counter | `phase`: header, body, idle, write |
//! | `jframe_body_budget_bytes_in_use` | gauge | |
//! | `jframe_get_digest_cache_total` | counter | `result`: hit, miss |
//!
//! - `recorder`: [`install`], and the recording behind each function;
//! - `http`: the endpoint Prometheus scrapes;
//! - `requests`: the per-request families, kept in per-thread shards.
//!
//! ```
//! # #[cfg(feature = "metrics")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use jframe_std::server::{Config, Server};
//!
//! // Before the server starts: every server in the process records.
//! let endpoint = jframe_std::metrics::install("127.0.0.1:0".parse()?)?;
//! assert!(jframe_std::metrics::enabled());
//! println!("scrape http://{endpoint}/metrics");
//! let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
//! # drop(server);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "metrics"))]
//! # fn main() {}
//! ```

use std::time::Duration;

use jframe::service::{Answer, Request, Service};
use jframe::{Op, Status};

/// Connections open now.
pub const CONNECTIONS_OPEN: &str = "jframe_connections_open";
/// Connections admitted since start.
pub const CONNECTIONS_TOTAL: &str = "jframe_connections_total";
/// Connections refused, by [`RefusalReason`].
pub const REFUSALS_TOTAL: &str = "jframe_refusals_total";
/// Requests answered, by op and status.
pub const REQUESTS_TOTAL: &str = "jframe_requests_total";
/// Request body bytes received.
pub const BODY_BYTES_IN_TOTAL: &str = "jframe_body_bytes_in_total";
/// Reply body bytes sent.
pub const BODY_BYTES_OUT_TOTAL: &str = "jframe_body_bytes_out_total";
/// Request latency, by op.
pub const REQUEST_DURATION_SECONDS: &str = "jframe_request_duration_seconds";
/// Connections cut by a deadline, by [`Cut`].
pub const CUTS_TOTAL: &str = "jframe_cuts_total";
/// Bytes of the body budget reserved now.
pub const BODY_BUDGET_BYTES_IN_USE: &str = "jframe_body_budget_bytes_in_use";
/// `get` digest cache lookups, by result.
pub const GET_DIGEST_CACHE_TOTAL: &str = "jframe_get_digest_cache_total";

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The server was at `max_conns`.
    Busy,
    /// The client was at `max_conns_per_client`.
    PerClient,
    /// A missing, malformed, late or untrusted PROXY header.
    ProxyProtocol,
}

impl RefusalReason {
    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Busy => "busy",
            RefusalReason::PerClient => "per_client",
            RefusalReason::ProxyProtocol => "proxy_protocol",
        }
    }
}

/// The deadline that cut a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The header deadline.
    Header,
    /// A body below the minimum rate (or a body read past the idle timeout).
    Body,
    /// The idle timeout between frames.
    Idle,
    /// The write timeout.
    Write,
}

impl Cut {
    /// The `phase` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Cut::Header => "header",
            Cut::Body => "body",
            Cut::Idle => "idle",
            Cut::Write => "write",
        }
    }
}

#[cfg(feature = "metrics")]
mod http;
#[cfg(feature = "metrics")]
mod recorder;
#[cfg(feature = "metrics")]
mod requests;

#[cfg(feature = "metrics")]
pub use recorder::{InstallError, install};

/// Whether metrics are being recorded (an exporter was installed).
#[inline]
pub fn enabled() -> bool {
    #[cfg(feature = "metrics")]
    {
        recorder::on()
    }
    #[cfg(not(feature = "metrics"))]
    {
        false
    }
}

/// Defines each recording function: with the feature, a check of
/// [`enabled`] then the recording; without it, nothing.
macro_rules! record {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $(#[$doc])*
        #[inline]
        #[allow(unused_variables)]
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(feature = "metrics")]
            if recorder::on() {
                recorder::$name($($arg),*);
            }
        }
    )*};
}

record! {
    /// A connection was admitted (the registry calls this).
    fn connection_opened();
    /// An admitted connection ended (its registry slot was freed).
    fn connection_closed();
    /// A connection was refused.
    fn refused(why: RefusalReason);
    /// A request was answered: its op (`None`: not one of SPEC's), its
    /// status, its body's bytes in, its reply's body bytes out, and how
    /// long it took.
    fn request(op: Option<Op>, status: Status, body_in: u64, body_out: u64, latency: Duration);
    /// A connection was cut by a deadline.
    fn cut(phase: Cut);
    /// The body budget now holds `bytes`.
    fn budget_in_use(bytes: u64);
    /// A `get` found its file's digest in the cache (`true`) or hashed it.
    fn digest_cache(hit: bool);
}

/// A service whose every request is counted: its op, status, body bytes
/// in and out, and the time from its header to its reply, from the
/// session's own report ([`Service::replied`], in request order, error
/// replies of the decoder's own included). Costs a branch per request when
/// metrics are off.
#[derive(Debug)]
pub(crate) struct Metered<S> {
    inner: S,
    on: bool,
    /// The request the next reply answers: its op, body size, start.
    pending: Option<(Option<Op>, u64, std::time::Instant)>,
}

impl<S> Metered<S> {
    /// `inner`, counted when metrics are on.
    pub(crate) fn new(inner: S) -> Self {
        Metered {
            inner,
            on: enabled(),
            pending: None,
        }
    }
}

impl<S: Service> Service for Metered<S> {
    type Header = S::Header;
    type Source = S::Source;

    fn call(&mut self, request: &Request<'_, S::Header>) -> Answer<S::Source> {
        if self.on {
            // Absent: the demo's default, `upper`; a user's op: "other".
            let op = Op::from_wire(request.op.unwrap_or("upper"));
            self.pending = Some((op, request.data_size(), std::time::Instant::now()));
        }
        self.inner.call(request)
    }

    fn map(&mut self, chunk: &mut [u8]) {
        self.inner.map(chunk)
    }

    fn collect(&mut self, chunk: &[u8]) -> Result<(), jframe::service::Refusal> {
        self.inner.collect(chunk)
    }

    fn finish(&mut self, header: &S::Header) -> Answer<S::Source> {
        self.inner.finish(header)
    }

    fn abandon(&mut self) {
        self.inner.abandon()
    }

    fn replied(&mut self, status: Status, data_size: u64) {
        self.inner.replied(status, data_size);
        if self.on {
            // A reply the decoder made (a bad frame) has no request before it.
            let (op, body_in, start) =
                self.pending
                    .take()
                    .unwrap_or((None, 0, std::time::Instant::now()));
            request(op, status, body_in, data_size, start.elapsed());
        }
    }
}

impl Cut {
    /// The cut a session's deadline is.
    pub(crate) fn of_deadline(d: jframe::service::Deadline) -> Cut {
        use jframe::service::Deadline;
        match d {
            Deadline::Idle => Cut::Idle,
            Deadline::Header => Cut::Header,
            Deadline::Body => Cut::Body,
            Deadline::Write => Cut::Write,
        }
    }
}

/// Records a session's end: a deadline's cut, if one ended it.
pub(crate) fn session_ended<E>(end: &jframe::service::End<E>) {
    if let jframe::service::End::TimedOut(d) = end {
        cut(Cut::of_deadline(*d));
    }
}
