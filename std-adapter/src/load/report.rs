//! What a run measured: each connection's [`Tally`], merged into the
//! [`LoadReport`] with its latency percentiles and histogram.

use std::collections::HashMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Replies received and verified.
    pub requests: u64,
    /// Body bytes sent plus body bytes received.
    pub bytes: u64,
    /// Failed connections, bad replies and I/O errors.
    pub errors: u64,
    /// The errors by cause (a reply status or what failed), most frequent first.
    pub causes: Vec<(String, u64)>,
    /// Connections the server closed between frames that were opened
    /// again (with [`super::LoadConfig::reconnect`]; not errors).
    pub reconnects: u64,
    /// Measured wall-clock time.
    pub elapsed: Duration,
    /// Latency of a request (its batch's round trip), microseconds: fastest.
    pub min_us: u64,
    /// Mean, microseconds.
    pub mean_us: f64,
    /// Median, microseconds.
    pub p50_us: u64,
    /// 90th percentile, microseconds.
    pub p90_us: u64,
    /// 99th percentile, microseconds.
    pub p99_us: u64,
    /// 99.9th percentile, microseconds.
    pub p999_us: u64,
    /// Maximum, microseconds.
    pub max_us: u64,
    /// Latency histogram: (upper bound in microseconds, requests), in order.
    pub histogram: Vec<(u64, u64)>,
}

impl LoadReport {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Body megabytes (10^6) per second, both directions.
    pub fn mbps(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The report for a person: latency percentiles, a histogram, errors by
    /// cause; the last line is the [`Display`](std::fmt::Display) summary.
    pub fn details(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let ms = |us: u64| format!("{:.3} ms", us as f64 / 1000.0);
        let _ = writeln!(
            s,
            "{} requests in {:.2}s, {:.0} req/s, {:.2} MB/s (bodies, both ways), {} errors",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rps(),
            self.mbps(),
            self.errors
        );
        if self.requests > 0 {
            let _ = writeln!(s, "\nLatency (round trip of a request's batch):");
            for (name, v) in [
                ("min", self.min_us),
                ("p50", self.p50_us),
                ("p90", self.p90_us),
                ("p99", self.p99_us),
                ("p99.9", self.p999_us),
                ("max", self.max_us),
            ] {
                let _ = writeln!(s, "  {name:<6}{:>12}", ms(v));
            }
            let _ = writeln!(s, "  {:<6}{:>9.3} ms", "mean", self.mean_us / 1000.0);
            let _ = writeln!(s, "\nHistogram:");
            let top = self.histogram.iter().map(|b| b.1).max().unwrap_or(1).max(1);
            for (upper, count) in &self.histogram {
                let bar = "#".repeat(((count * 40).div_ceil(top)) as usize);
                let _ = writeln!(s, "  <= {:>12} [{count:>9}] {bar}", ms(*upper));
            }
        }
        if !self.causes.is_empty() {
            let _ = writeln!(s, "\nErrors:");
            for (cause, n) in &self.causes {
                let _ = writeln!(s, "  {n:>9}  {cause}");
            }
        }
        let _ = writeln!(s);
        let _ = write!(s, "{self}");
        s
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests={} rps={:.0} MB/s={:.2} p50={}us p90={}us p99={}us p99.9={}us max={}us errors={} reconnects={} elapsed={:.2}s",
            self.requests,
            self.rps(),
            self.mbps(),
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.p999_us,
            self.max_us,
            self.errors,
            self.reconnects,
            self.elapsed.as_secs_f64()
        )
    }
}

/// The most distinct error causes a report keeps apart; the rest are "other".
const MAX_CAUSES: usize = 32;

/// What one connection (or, merged, the run) counted.
#[derive(Debug)]
pub(super) struct Tally {
    pub(super) requests: u64,
    pub(super) bytes: u64,
    pub(super) errors: u64,
    pub(super) reconnects: u64,
    causes: HashMap<String, u64>,
    pub(super) hist: Histogram<u64>,
}

impl Tally {
    pub(super) fn new() -> Self {
        Tally {
            requests: 0,
            bytes: 0,
            errors: 0,
            reconnects: 0,
            causes: HashMap::new(),
            hist: histogram(),
        }
    }

    /// Counts `n` verified replies that took `us` microseconds as a batch,
    /// `bytes` sent and received for them.
    pub(super) fn replies(&mut self, n: usize, us: u64, bytes: u64) {
        let _ = self.hist.record_n(us.max(1), n as u64);
        self.requests += n as u64;
        self.bytes += bytes;
    }

    /// Counts an error by its cause.
    pub(super) fn error(&mut self, cause: String) {
        self.errors += 1;
        let key = if self.causes.len() < MAX_CAUSES || self.causes.contains_key(&cause) {
            cause
        } else {
            "other".to_string()
        };
        *self.causes.entry(key).or_default() += 1;
    }

    /// Adds what another connection counted.
    pub(super) fn merge(&mut self, t: Tally) {
        self.requests += t.requests;
        self.bytes += t.bytes;
        self.errors += t.errors;
        self.reconnects += t.reconnects;
        for (cause, n) in t.causes {
            *self.causes.entry(cause).or_default() += n;
        }
        let _ = self.hist.add(&t.hist);
    }

    /// The report of a run that took `elapsed`.
    pub(super) fn report(self, elapsed: Duration) -> LoadReport {
        let mut causes: Vec<(String, u64)> = self.causes.into_iter().collect();
        causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let h = &self.hist;
        LoadReport {
            requests: self.requests,
            bytes: self.bytes,
            errors: self.errors,
            causes,
            reconnects: self.reconnects,
            elapsed,
            min_us: if h.is_empty() { 0 } else { h.min() },
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            histogram: buckets(h),
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 us .. 10 min, 3 significant digits; cannot fail with these bounds.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

/// Ten buckets from the fastest request to the 99.9th percentile, and one
/// up to the maximum when it lies beyond.
fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let (lo, hi, max) = (h.min(), h.value_at_quantile(0.999), h.max());
    let step = (hi.saturating_sub(lo) / 10).max(1);
    let mut out = Vec::new();
    let mut from = 0;
    let mut upper = lo;
    for _ in 0..10 {
        upper = (upper + step).min(hi);
        out.push((upper, h.count_between(from, upper)));
        from = upper + 1;
        if upper >= hi {
            break;
        }
    }
    if max > upper {
        out.push((max, h.count_between(from, max)));
    }
    out
}
