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

    use metrics::{Unit, counter, describe_counter, describe_gauge, gauge};
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    static ON: AtomicBool = AtomicBool::new(false);

    #[inline]
    pub(super) fn on() -> bool {
        ON.load(Ordering::Relaxed)
    }

    /// Starts recording, and serves the Prometheus text format at
    /// `http://ADDR/metrics` on a thread of its own; returns the address
    /// bound (port 0 picks one).
    pub fn install(addr: std::net::SocketAddr) -> Result<std::net::SocketAddr, InstallError> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| InstallError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| InstallError::Bind { addr, source })?;
        // Per-connection events go through the `metrics` facade; the
        // per-request families are kept in per-thread shards
        // (`super::requests`) and rendered next to them.
        let handle = PrometheusBuilder::new().install_recorder()?;
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || super::http::serve(&listener, &handle))
            .map_err(|source| InstallError::Bind { addr, source })?;
        describe_gauge!(CONNECTIONS_OPEN, "TCP connections open now");
        describe_counter!(CONNECTIONS_TOTAL, "TCP connections admitted");
        describe_counter!(REFUSALS_TOTAL, "TCP connections refused, by reason");
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
        for r in [
            RefusalReason::Busy,
            RefusalReason::PerClient,
            RefusalReason::ProxyProtocol,
        ] {
            counter!(REFUSALS_TOTAL, "reason" => r.as_str()).absolute(0);
        }
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

    pub(super) fn refused(why: RefusalReason) {
        counter!(REFUSALS_TOTAL, "reason" => why.as_str()).increment(1);
    }

    pub(super) fn request(
        op: Option<Op>,
        status: Status,
        body_in: u64,
        body_out: u64,
        latency: Duration,
    ) {
        super::requests::record(&[(op, status, body_in, body_out, latency)]);
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
            let mut text = handle.render();
            super::requests::render(&mut text);
            ("200 OK", text)
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
    pub fn refused(why: RefusalReason);
    /// A request was answered: its op (`None`: not one of SPEC's), its
    /// status, its body's bytes in, its reply's body bytes out, and how
    /// long it took.
    pub fn request(op: Option<Op>, status: Status, body_in: u64, body_out: u64, latency: Duration);
    /// A connection was cut by a deadline.
    pub fn cut(phase: Cut);
    /// The body budget now holds `bytes`.
    pub fn budget_in_use(bytes: u64);
    /// A `get` found its file's digest in the cache (`true`) or hashed it.
    pub fn digest_cache(hit: bool);
}

/// A service whose every request is counted: its op, status, body bytes
/// in and out, and the time from its header to its reply, from the
/// session's own report ([`Service::replied`], in request order, error
/// replies of the decoder's own included). Costs a branch per request when
/// metrics are off.
#[derive(Debug)]
pub struct Metered<S> {
    inner: S,
    on: bool,
    /// The request the next reply answers: its op, body size, start.
    pending: Option<(Option<Op>, u64, std::time::Instant)>,
}

impl<S> Metered<S> {
    /// `inner`, counted when metrics are on.
    pub fn new(inner: S) -> Self {
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
    pub fn of_deadline(d: jframe::service::Deadline) -> Cut {
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
pub fn session_ended<E>(end: &jframe::service::End<E>) {
    if let jframe::service::End::TimedOut(d) = end {
        cut(Cut::of_deadline(*d));
    }
}

/// The per-request families: `jframe_requests_total`,
/// `jframe_body_bytes_{in,out}_total` and
/// `jframe_request_duration_seconds`. A request is recorded into its
/// thread's own shard (plain single-writer atomics: no lock, no shared cache
/// line), and a scrape adds the shards up. A thread's shard is folded into
/// the retired totals when the thread ends.
#[cfg(feature = "metrics")]
mod requests {
    use std::fmt::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use jframe::{Op, Status};

    use super::{
        BODY_BYTES_IN_TOTAL, BODY_BYTES_OUT_TOTAL, REQUEST_DURATION_SECONDS, REQUESTS_TOTAL,
    };

    /// Every op SPEC names, then every other (a user's), as `other`.
    const OPS: [Option<Op>; 5] = [
        Some(Op::Upper),
        Some(Op::Echo),
        Some(Op::Greet),
        Some(Op::Get),
        None,
    ];
    const STATUSES: usize = Status::ALL.len();
    /// Latency bucket bounds, in seconds: 50 µs to 10 s.
    const BUCKETS: [f64; 16] = [
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
        1.0, 2.5, 10.0,
    ];

    #[derive(Debug)]
    struct Shard {
        /// By op index × status index.
        requests: [AtomicU64; OPS.len() * STATUSES],
        body_in: AtomicU64,
        body_out: AtomicU64,
        /// By op: requests per bucket (not cumulative; past the last: none).
        buckets: [[AtomicU64; BUCKETS.len()]; OPS.len()],
        sum_ns: [AtomicU64; OPS.len()],
        count: [AtomicU64; OPS.len()],
    }

    fn zeros<const N: usize>() -> [AtomicU64; N] {
        std::array::from_fn(|_| AtomicU64::new(0))
    }

    impl Shard {
        fn new() -> Self {
            Shard {
                requests: zeros(),
                body_in: AtomicU64::new(0),
                body_out: AtomicU64::new(0),
                buckets: std::array::from_fn(|_| zeros()),
                sum_ns: zeros(),
                count: zeros(),
            }
        }

        /// Adds `other` into this one (any thread).
        fn absorb(&self, other: &Shard) {
            let add = |a: &AtomicU64, b: &AtomicU64| {
                a.fetch_add(b.load(Relaxed), Relaxed);
            };
            self.requests
                .iter()
                .zip(&other.requests)
                .for_each(|(a, b)| add(a, b));
            add(&self.body_in, &other.body_in);
            add(&self.body_out, &other.body_out);
            for (a, b) in self.buckets.iter().zip(&other.buckets) {
                a.iter().zip(b).for_each(|(a, b)| add(a, b));
            }
            self.sum_ns
                .iter()
                .zip(&other.sum_ns)
                .for_each(|(a, b)| add(a, b));
            self.count
                .iter()
                .zip(&other.count)
                .for_each(|(a, b)| add(a, b));
        }
    }

    /// Only the owning thread writes its shard: a load and a store, no
    /// read-modify-write.
    fn bump(a: &AtomicU64, n: u64) {
        a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// The live shards, and what ended threads recorded.
    struct Shards {
        live: Vec<Arc<Shard>>,
        retired: Shard,
    }

    static SHARDS: Mutex<Option<Shards>> = Mutex::new(None);

    fn shards() -> std::sync::MutexGuard<'static, Option<Shards>> {
        SHARDS.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A thread's shard, registered while the thread lives.
    struct Local(Arc<Shard>);

    impl Local {
        fn new() -> Self {
            let shard = Arc::new(Shard::new());
            shards()
                .get_or_insert_with(|| Shards {
                    live: Vec::new(),
                    retired: Shard::new(),
                })
                .live
                .push(shard.clone());
            Local(shard)
        }
    }

    impl Drop for Local {
        fn drop(&mut self) {
            if let Some(s) = shards().as_mut() {
                s.retired.absorb(&self.0);
                s.live.retain(|x| !Arc::ptr_eq(x, &self.0));
            }
        }
    }

    thread_local! {
        static LOCAL: Local = Local::new();
    }

    fn index(op: Option<Op>, status: Status) -> (Option<usize>, usize) {
        let o = OPS.iter().position(|x| *x == op);
        // A status added to core later counts as `error` until named here.
        let st = Status::ALL
            .iter()
            .position(|x| *x == status)
            .unwrap_or(STATUSES - 1);
        (o, st)
    }

    fn add(shard: &Shard, (op, status, body_in, body_out, latency): Item) {
        let (Some(o), st) = index(op, status) else {
            return;
        };
        if let Some(c) = shard.requests.get(o * STATUSES + st) {
            bump(c, 1);
        }
        bump(&shard.body_in, body_in);
        bump(&shard.body_out, body_out);
        let secs = latency.as_secs_f64();
        if let Some(b) = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .and_then(|b| shard.buckets.get(o).and_then(|o| o.get(b)))
        {
            bump(b, 1);
        }
        if let (Some(sum), Some(count)) = (shard.sum_ns.get(o), shard.count.get(o)) {
            bump(sum, u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
            bump(count, 1);
        }
    }

    type Item = (Option<Op>, Status, u64, u64, Duration);

    /// Records requests into this thread's shard.
    pub(super) fn record(items: &[Item]) {
        record_batch(items.iter().copied());
    }

    /// [`record`] from an iterator.
    pub(super) fn record_batch(items: impl Iterator<Item = Item>) {
        let mut items = Some(items);
        let done = LOCAL.try_with(|l| {
            if let Some(items) = items.take() {
                items.for_each(|i| add(&l.0, i));
            }
        });
        if done.is_err() {
            // The thread is ending: straight into the retired totals.
            if let (Some(items), Some(s)) = (items, shards().as_mut()) {
                let tmp = Shard::new();
                items.for_each(|i| add(&tmp, i));
                s.retired.absorb(&tmp);
            }
        }
    }

    /// Appends the per-request families, summed over every shard.
    pub(super) fn render(out: &mut String) {
        let total = Shard::new();
        if let Some(s) = shards().as_ref() {
            total.absorb(&s.retired);
            for shard in &s.live {
                total.absorb(shard);
            }
        }
        let get = |a: &AtomicU64| a.load(Relaxed);
        let _ = writeln!(
            out,
            "# HELP {REQUESTS_TOTAL} requests answered, by op and status"
        );
        let _ = writeln!(out, "# TYPE {REQUESTS_TOTAL} counter");
        for (o, op) in OPS.iter().enumerate() {
            for (st, status) in Status::ALL.iter().enumerate() {
                let n = total.requests.get(o * STATUSES + st).map_or(0, get);
                if n > 0 {
                    let (op, status) = (op.map_or("other", Op::as_str), status.as_str());
                    let _ = writeln!(
                        out,
                        r#"{REQUESTS_TOTAL}{{op="{op}",status="{status}"}} {n}"#
                    );
                }
            }
        }
        for (name, help, v) in [
            (BODY_BYTES_IN_TOTAL, "request body bytes", &total.body_in),
            (BODY_BYTES_OUT_TOTAL, "reply body bytes", &total.body_out),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", get(v));
        }
        let name = REQUEST_DURATION_SECONDS;
        let _ = writeln!(
            out,
            "# HELP {name} from the read that brought a request to its reply handed to the socket"
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (o, op) in OPS.iter().enumerate() {
            let count = total.count.get(o).map_or(0, get);
            if count == 0 {
                continue;
            }
            let op = op.map_or("other", Op::as_str);
            let mut cumulative = 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                cumulative += total.buckets.get(o).and_then(|o| o.get(b)).map_or(0, get);
                let _ = writeln!(out, r#"{name}_bucket{{op="{op}",le="{le}"}} {cumulative}"#);
            }
            let _ = writeln!(out, r#"{name}_bucket{{op="{op}",le="+Inf"}} {count}"#);
            let sum = total.sum_ns.get(o).map_or(0, get) as f64 / 1e9;
            let _ = writeln!(out, r#"{name}_sum{{op="{op}"}} {sum}"#);
            let _ = writeln!(out, r#"{name}_count{{op="{op}"}} {count}"#);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_op_has_a_shard_slot() {
            for op in ["upper", "echo", "greet", "get"] {
                let op = Op::from_wire(op).unwrap();
                assert!(OPS.contains(&Some(op)));
            }
        }

        #[test]
        fn shards_of_ended_threads_still_count() {
            std::thread::spawn(|| {
                record(&[(
                    Some(Op::Greet),
                    Status::Ok,
                    5,
                    12,
                    Duration::from_micros(70),
                )]);
            })
            .join()
            .unwrap();
            let mut text = String::new();
            render(&mut text);
            assert!(
                text.contains(r#"jframe_requests_total{op="greet",status="ok"} 1"#),
                "{text}"
            );
            assert!(
                text.contains(
                    r#"jframe_request_duration_seconds_bucket{op="greet",le="0.0001"} 1"#
                ),
                "{text}"
            );
        }
    }
}
