//! The device's own op, written the way a user of jframe writes one:
//! `stats`, the device's window for operators. It answers with a typed
//! reply whose header carries the figures (body empty):
//!
//! ```text
//! {"data_size":0,"status":"ok","uptime_ms":81234,"connections":12,
//!  "requests":340,"bytes_in":18022,"bytes_out":17301,"bad_frame":1,
//!  "bad_request":2,"too_large":0,"busy":3,"other_errors":0}
//! ```
//!
//! [`DeviceService`] is `stats` with SPEC's demo ops as the fallback
//! ([`jframe::service::Fallback`]): every other op goes to
//! [`jframe::service::Demo`], and an op neither claims is `bad_request`
//! from the session. The counters are the device's, shared by every
//! connection; a driver adds what it sees (connections, bytes) and the
//! service counts every reply through [`Service::replied`].

use core::cell::Cell;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use jframe::service::{Answer, Demo, Fallback, Reply, Request, Service};
use jframe::{CompactHeader, Status};

/// The device's figures since boot, as `stats` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Figures {
    /// Milliseconds since boot.
    pub uptime_ms: u64,
    /// Connections served (accepted into the pool).
    pub connections: u64,
    /// Requests answered (every reply frame).
    pub requests: u64,
    /// Bytes received and sent on served connections.
    pub bytes_in: u64,
    /// See [`Figures::bytes_in`].
    pub bytes_out: u64,
    /// Refusals by status (flat keys: one struct, one serializer, on a
    /// device counting its flash): fatal frames,
    pub bad_frame: u64,
    /// unknown ops and wrong keys,
    pub bad_request: u64,
    /// bodies over a limit,
    pub too_large: u64,
    /// connections turned away from a full pool,
    pub busy: u64,
    /// and anything else.
    pub other_errors: u64,
}

static FIGURES: Mutex<CriticalSectionRawMutex, Cell<Figures>> = Mutex::new(Cell::new(Figures {
    uptime_ms: 0,
    connections: 0,
    requests: 0,
    bytes_in: 0,
    bytes_out: 0,
    bad_frame: 0,
    bad_request: 0,
    too_large: 0,
    busy: 0,
    other_errors: 0,
}));

fn update(f: impl FnOnce(&mut Figures)) {
    FIGURES.lock(|cell| {
        let mut figures = cell.get();
        f(&mut figures);
        cell.set(figures);
    });
}

/// The figures now.
///
/// ```
/// let now = jframe_embassy_demo::stats::figures();
/// assert_eq!(now.requests, 0); // nothing served yet in this process
/// ```
pub fn figures() -> Figures {
    let mut figures = FIGURES.lock(Cell::get);
    figures.uptime_ms = embassy_time::Instant::now().as_millis();
    figures
}

/// A connection was accepted into the pool.
pub(crate) fn connection() {
    update(|f| f.connections = f.connections.wrapping_add(1));
}

/// A connection was turned away with `busy`.
pub(crate) fn turned_away() {
    update(|f| f.busy = f.busy.wrapping_add(1));
}

/// Bytes moved on a served connection.
pub(crate) fn moved(bytes_in: usize, bytes_out: usize) {
    update(|f| {
        f.bytes_in = f.bytes_in.wrapping_add(bytes_in as u64);
        f.bytes_out = f.bytes_out.wrapping_add(bytes_out as u64);
    });
}

/// The `stats` op: it claims `stats` and leaves every other op to the
/// next service.
///
/// ```
/// use jframe::CompactHeader;
/// use jframe::service::{Answer, Request, Service};
/// use jframe_embassy_demo::stats::Stats;
///
/// let header = CompactHeader::default();
/// let stats = Request { header: &header, op: Some("stats"), body: None };
/// assert!(matches!(Stats.call(&stats), Answer::Reply(_)));
/// let echo = Request { op: Some("echo"), ..stats };
/// assert!(matches!(Stats.call(&echo), Answer::Unclaimed));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats;

impl Service for Stats {
    type Header = CompactHeader;
    type Source = Reply<Figures, [u8; 0]>;

    fn call(&mut self, request: &Request<'_, CompactHeader>) -> Answer<Self::Source> {
        match request.op {
            Some("stats") => Answer::Reply(Reply::new(Status::Ok, figures(), [])),
            _ => Answer::Unclaimed,
        }
    }

    fn replied(&mut self, status: Status, _: u64) {
        update(|f| {
            f.requests = f.requests.wrapping_add(1);
            let slot = match status {
                Status::Ok => return,
                Status::BadFrame => &mut f.bad_frame,
                Status::BadRequest => &mut f.bad_request,
                Status::TooLarge => &mut f.too_large,
                Status::Busy => &mut f.busy,
                _ => &mut f.other_errors,
            };
            *slot = slot.wrapping_add(1);
        });
    }
}

/// What the device serves: `stats`, then SPEC's demo ops.
pub type DeviceService = Fallback<Stats, Demo>;

/// A new [`DeviceService`] for one connection: what the firmware and
/// host-sim give [`crate::device::serve_socket`] to make one per connection.
///
/// ```
/// use jframe::CompactHeader;
/// use jframe::service::{Answer, Request, Service};
/// use jframe_embassy_demo::stats::device_service;
///
/// let mut service = device_service();
/// let header = CompactHeader::default();
/// for op in ["stats", "echo", "upper", "greet"] {
///     let request = Request { header: &header, op: Some(op), body: None };
///     assert!(!matches!(service.call(&request), Answer::Unclaimed), "{op}");
/// }
/// // An op neither claims: the session answers it `bad_request`.
/// let request = Request { header: &header, op: Some("dance"), body: None };
/// assert!(matches!(service.call(&request), Answer::Unclaimed));
/// ```
pub const fn device_service() -> DeviceService {
    Fallback::new(Stats, Demo::new())
}
