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

use std::time::Duration;

use jframe::{Op, Status};

/// Connections open now.
pub const CONNECTIONS_OPEN: &str = "jframe_connections_open";
/// Connections admitted since start.
pub const CONNECTIONS_TOTAL: &str = "jframe_connections_total";
/// Connections refused, by [`Refusal`].
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
pub enum Refusal {
    /// The server was at `max_conns`.
    Busy,
    /// The client was at `max_conns_per_client`.
    PerClient,
    /// A missing, malformed, late or untrusted PROXY header.
    ProxyProtocol,
}

impl Refusal {
    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Busy => "busy",
            Refusal::PerClient => "per_client",
            Refusal::ProxyProtocol => "proxy_protocol",
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

    /// The cut a driver's timeout error names (the messages of
    /// `server::deadline` and the drivers' write timeouts).
    pub fn of_timeout(message: &str) -> Option<Cut> {
        if message.contains("header deadline") {
            Some(Cut::Header)
        } else if message.contains("minimum rate") {
            Some(Cut::Body)
        } else if message.contains("idle timeout") {
            Some(Cut::Idle)
        } else if message.contains("write timeout") {
            Some(Cut::Write)
        } else {
            None
        }
    }
}

/// Why the endpoint did not start.
#[cfg(feature = "metrics")]
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The address could not be bound.
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The recorder could not be set up (one is installed already, say).
    #[error("cannot record metrics: {0}")]
    Recorder(#[from] metrics_exporter_prometheus::BuildError),
}

#[cfg(feature = "metrics")]
mod on {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

    use super::*;

    static ON: AtomicBool = AtomicBool::new(false);

    #[inline]
    pub(super) fn on() -> bool {
        ON.load(Ordering::Relaxed)
    }

    /// Latency buckets, in seconds: 50 µs to 10 s.
    const BUCKETS: &[f64] = &[
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
        1.0, 2.5, 10.0,
    ];

    /// Starts recording, and serves the Prometheus text format at
    /// `http://ADDR/metrics` on a thread of its own; returns the address
    /// bound (port 0 picks one).
    pub fn install(addr: std::net::SocketAddr) -> Result<std::net::SocketAddr, InstallError> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| InstallError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| InstallError::Bind { addr, source })?;
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION_SECONDS.to_string()), BUCKETS)?
            .install_recorder()?;
        // Histogram samples wait in lock-free buckets until upkeep folds
        // them in: without a scrape for a while, this keeps them bounded.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .map_err(|source| InstallError::Bind { addr, source })?;
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || super::http::serve(&listener, &handle))
            .map_err(|source| InstallError::Bind { addr, source })?;
        describe_gauge!(CONNECTIONS_OPEN, "TCP connections open now");
        describe_counter!(CONNECTIONS_TOTAL, "TCP connections admitted");
        describe_counter!(REFUSALS_TOTAL, "TCP connections refused, by reason");
        describe_counter!(REQUESTS_TOTAL, "requests answered, by op and status");
        describe_counter!(BODY_BYTES_IN_TOTAL, Unit::Bytes, "request body bytes");
        describe_counter!(BODY_BYTES_OUT_TOTAL, Unit::Bytes, "reply body bytes");
        describe_histogram!(
            REQUEST_DURATION_SECONDS,
            Unit::Seconds,
            "from a request's header to its reply's last byte handed to the socket"
        );
        describe_counter!(CUTS_TOTAL, "connections cut by a deadline, by phase");
        describe_gauge!(
            BODY_BUDGET_BYTES_IN_USE,
            Unit::Bytes,
            "bytes of the body budget reserved now"
        );
        describe_counter!(GET_DIGEST_CACHE_TOTAL, "get digest cache lookups");
        // Present from the first scrape, at zero.
        gauge!(CONNECTIONS_OPEN).set(0.0);
        counter!(CONNECTIONS_TOTAL).absolute(0);
        for r in [Refusal::Busy, Refusal::PerClient, Refusal::ProxyProtocol] {
            counter!(REFUSALS_TOTAL, "reason" => r.as_str()).absolute(0);
        }
        counter!(BODY_BYTES_IN_TOTAL).absolute(0);
        counter!(BODY_BYTES_OUT_TOTAL).absolute(0);
        for c in [Cut::Header, Cut::Body, Cut::Idle, Cut::Write] {
            counter!(CUTS_TOTAL, "phase" => c.as_str()).absolute(0);
        }
        gauge!(BODY_BUDGET_BYTES_IN_USE).set(0.0);
        for r in ["hit", "miss"] {
            counter!(GET_DIGEST_CACHE_TOTAL, "result" => r).absolute(0);
        }
        ON.store(true, Ordering::Relaxed);
        Ok(bound)
    }

    pub(super) fn connection_opened() {
        gauge!(CONNECTIONS_OPEN).increment(1.0);
        counter!(CONNECTIONS_TOTAL).increment(1);
    }

    pub(super) fn connection_closed() {
        gauge!(CONNECTIONS_OPEN).decrement(1.0);
    }

    pub(super) fn refused(why: Refusal) {
        counter!(REFUSALS_TOTAL, "reason" => why.as_str()).increment(1);
    }

    /// The ops and statuses known when this was written; others (both
    /// enums are non-exhaustive) take the slower path of a registry lookup.
    const OPS: [Op; 4] = [Op::Upper, Op::Echo, Op::Greet, Op::Get];

    /// Per-request handles, registered once: recording a request is then a
    /// few atomic operations, not a registry lookup per metric.
    struct Handles {
        /// By `OPS` index × `Status::ALL` index.
        requests: Vec<metrics::Counter>,
        /// By `OPS` index.
        latency: Vec<metrics::Histogram>,
        body_in: metrics::Counter,
        body_out: metrics::Counter,
    }

    static HANDLES: std::sync::OnceLock<Handles> = std::sync::OnceLock::new();

    fn handles() -> &'static Handles {
        HANDLES.get_or_init(|| Handles {
            requests: OPS
                .iter()
                .flat_map(|op| {
                    Status::ALL.iter().map(move |st| {
                        counter!(REQUESTS_TOTAL, "op" => op.as_str(), "status" => st.as_str())
                    })
                })
                .collect(),
            latency: OPS
                .iter()
                .map(|op| metrics::histogram!(REQUEST_DURATION_SECONDS, "op" => op.as_str()))
                .collect(),
            body_in: counter!(BODY_BYTES_IN_TOTAL),
            body_out: counter!(BODY_BYTES_OUT_TOTAL),
        })
    }

    pub(super) fn request(op: Op, status: Status, body_in: u64, body_out: u64, latency: Duration) {
        let h = handles();
        let o = OPS.iter().position(|x| *x == op);
        let st = Status::ALL.iter().position(|x| *x == status);
        match (o, st) {
            (Some(o), Some(st)) => {
                if let Some(c) = h.requests.get(o * Status::ALL.len() + st) {
                    c.increment(1);
                }
            }
            _ => counter!(REQUESTS_TOTAL, "op" => op.as_str(), "status" => status.as_str())
                .increment(1),
        }
        match o.and_then(|o| h.latency.get(o)) {
            Some(hist) => hist.record(latency.as_secs_f64()),
            None => metrics::histogram!(REQUEST_DURATION_SECONDS, "op" => op.as_str())
                .record(latency.as_secs_f64()),
        }
        h.body_in.increment(body_in);
        h.body_out.increment(body_out);
    }

    pub(super) fn cut(phase: Cut) {
        counter!(CUTS_TOTAL, "phase" => phase.as_str()).increment(1);
    }

    pub(super) fn budget_in_use(bytes: u64) {
        gauge!(BODY_BUDGET_BYTES_IN_USE).set(bytes as f64);
    }

    pub(super) fn digest_cache(hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        counter!(GET_DIGEST_CACHE_TOTAL, "result" => result).increment(1);
    }
}

#[cfg(feature = "metrics")]
pub use on::install;

/// The endpoint: one scrape at a time, each answered with the whole text
/// and closed (Prometheus scrapes every few seconds; nothing more is
/// needed, and no HTTP stack is linked for it).
#[cfg(feature = "metrics")]
mod http {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use metrics_exporter_prometheus::PrometheusHandle;

    pub(super) fn serve(listener: &TcpListener, handle: &PrometheusHandle) {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    if let Err(e) = answer(s, handle) {
                        log::debug!("metrics scrape: {e}");
                    }
                }
                Err(e) => {
                    log::warn!("metrics: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn answer(mut s: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        // The request line and headers (what they say hardly matters).
        let mut req = Vec::with_capacity(512);
        let mut buf = [0u8; 512];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
            match s.read(&mut buf)? {
                0 => break,
                n => req.extend_from_slice(&buf[..n]),
            }
        }
        let (status, body) = if req.starts_with(b"GET /metrics ") || req.starts_with(b"GET / ") {
            handle.run_upkeep();
            ("200 OK", handle.render())
        } else {
            ("404 Not Found", "try GET /metrics\n".to_string())
        };
        write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        s.flush()
    }
}

/// Whether metrics are being recorded (an exporter was installed).
#[inline]
pub fn enabled() -> bool {
    #[cfg(feature = "metrics")]
    {
        on::on()
    }
    #[cfg(not(feature = "metrics"))]
    {
        false
    }
}

/// Defines each recording function: with the feature, a check of
/// [`enabled`] then the recording; without it, nothing.
macro_rules! record {
    ($($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $(#[$doc])*
        #[inline]
        #[allow(unused_variables)]
        pub fn $name($($arg: $ty),*) {
            #[cfg(feature = "metrics")]
            if on::on() {
                on::$name($($arg),*);
            }
        }
    )*};
}

record! {
    /// A connection was admitted (the registry calls this).
    pub fn connection_opened();
    /// An admitted connection ended (its registry slot was freed).
    pub fn connection_closed();
    /// A connection was refused.
    pub fn refused(why: Refusal);
    /// A request was answered: its op and status, its body's bytes in, its
    /// reply's body bytes out, and how long it took.
    pub fn request(op: Op, status: Status, body_in: u64, body_out: u64, latency: Duration);
    /// A connection was cut by a deadline.
    pub fn cut(phase: Cut);
    /// The body budget now holds `bytes`.
    pub fn budget_in_use(bytes: u64);
    /// A `get` found its file's digest in the cache (`true`) or hashed it.
    pub fn digest_cache(hit: bool);
}

/// Records a connection's end: a deadline's cut, if one ended it.
pub fn ended(e: &std::io::Error) {
    if enabled()
        && let Some(c) = Cut::of_error(e)
    {
        cut(c);
    }
}

impl Cut {
    /// The cut an I/O error from a driver's link is (a raw `WouldBlock`
    /// is a socket write timeout: the links turn read timeouts into
    /// `TimedOut` errors naming their deadline).
    pub fn of_error(e: &std::io::Error) -> Option<Cut> {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::TimedOut => Cut::of_timeout(&e.to_string()),
            ErrorKind::WouldBlock => Some(Cut::of_timeout(&e.to_string()).unwrap_or(Cut::Write)),
            _ => None,
        }
    }
}

/// One connection's requests between the services, which see each
/// request's op and answer, and the driver's link, which sees when the
/// answers have been written: the bridge until the protocol session
/// reports requests itself. A driver makes one per connection with
/// [`RequestMeter::if_enabled`], gives a clone to the services
/// ([`crate::services::StdServices::with_meter`]) and calls
/// [`RequestMeter::flushed`] from its link whenever the engine, between
/// frames or within a header, asks for more bytes (every reply claimed
/// before has then been handed to the socket).
#[derive(Debug, Clone, Default)]
pub struct RequestMeter {
    inner: std::sync::Arc<std::sync::Mutex<Pending>>,
}

#[derive(Debug, Default)]
struct Pending {
    answered: Vec<Request>,
    collecting: Option<Request>,
}

#[derive(Debug)]
struct Request {
    op: Op,
    status: Status,
    body_in: u64,
    body_out: u64,
    start: std::time::Instant,
}

impl Pending {
    fn record(&mut self) {
        let now = std::time::Instant::now();
        for r in self.answered.drain(..) {
            request(r.op, r.status, r.body_in, r.body_out, now - r.start);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.record();
    }
}

impl RequestMeter {
    /// A meter when metrics are on; `None` (nothing to do) otherwise.
    pub fn if_enabled() -> Option<RequestMeter> {
        enabled().then(RequestMeter::default)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request was answered (its reply is being written).
    pub fn answered(&self, op: Op, status: Status, body_in: u64, body_out: u64) {
        self.pending().answered.push(Request {
            op,
            status,
            body_in,
            body_out,
            start: std::time::Instant::now(),
        });
    }

    /// A request's body is being collected before it is answered.
    pub fn collecting(&self, op: Op, body_in: u64) {
        self.pending().collecting = Some(Request {
            op,
            status: Status::Ok,
            body_in,
            body_out: 0,
            start: std::time::Instant::now(),
        });
    }

    /// The request being collected was answered.
    pub fn collected(&self, status: Status, body_out: u64) {
        let mut p = self.pending();
        if let Some(mut r) = p.collecting.take() {
            r.status = status;
            r.body_out = body_out;
            p.answered.push(r);
        }
    }

    /// The request being collected was abandoned with its connection.
    pub fn abandoned(&self) {
        self.pending().collecting = None;
    }

    /// Every reply answered so far has been written: records them.
    pub fn flushed(&self) {
        self.pending().record();
    }
}
