//! The per-request families: `jframe_requests_total`,
//! `jframe_body_bytes_{in,out}_total` and
//! `jframe_request_duration_seconds`. A request is recorded into its
//! thread's own shard (plain single-writer atomics: no lock, no shared cache
//! line), and a scrape adds the shards up. A thread's shard is folded into
//! the retired totals when the thread ends.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jframe::{Op, Status};

use super::{BODY_BYTES_IN_TOTAL, BODY_BYTES_OUT_TOTAL, REQUEST_DURATION_SECONDS, REQUESTS_TOTAL};

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
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
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
        "# HELP {name} from the service's call to its reply's head encoded for sending (a streamed body goes out after)"
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
            text.contains(r#"jframe_request_duration_seconds_bucket{op="greet",le="0.0001"} 1"#),
            "{text}"
        );
    }
}
