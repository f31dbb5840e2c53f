//! The recorder (feature `metrics`): [`install`] starts the exporter and
//! its endpoint; the recording functions of [`super`] call here once it
//! has.

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
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| InstallError::Bind { addr, source })?;
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

/// Why the endpoint did not start.
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
