//! The read deadlines both TCP drivers (threads and tokio) apply, from the
//! engine's phases: written once here, so the two cannot drift apart.
//!
//! - between frames: the idle timeout;
//! - a frame's header: a deadline from its first byte;
//! - a body: it must average the minimum rate after the header timeout's
//!   grace (a peer sending one byte every few seconds falls behind however
//!   often it sends), and no single read waits longer than the idle timeout.

use std::time::{Duration, Instant};

use jframe::service::Phase;

/// Timeouts of one connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// Longest wait for the next frame, and for any one read in a body.
    pub idle: Duration,
    /// From a frame's first byte to the end of its header; also the grace
    /// a body gets before its minimum rate applies.
    pub header: Duration,
    /// Bytes per second a body must average (0: no minimum).
    pub body_min_rate: u64,
}

/// Where a connection is, and what its reads have brought.
#[derive(Debug)]
pub(super) struct ReadClock {
    timeouts: Timeouts,
    phase: Phase,
    /// When the current frame's header must be complete.
    header_deadline: Option<Instant>,
    /// When the last read returned data.
    last_data: Instant,
    /// When the body being received began, and its bytes so far.
    body_start: Instant,
    body_bytes: u64,
}

impl ReadClock {
    pub(super) fn new(timeouts: Timeouts) -> Self {
        let now = Instant::now();
        ReadClock {
            timeouts,
            phase: Phase::Body,
            header_deadline: None,
            last_data: now,
            body_start: now,
            body_bytes: 0,
        }
    }

    /// The engine's phase before a read; returns the previous one.
    pub(super) fn enter(&mut self, phase: Phase) -> Phase {
        let was = self.phase;
        self.phase = phase;
        match phase {
            Phase::Idle => self.header_deadline = None,
            Phase::Header => {
                // The frame began with bytes of the last read.
                if self.header_deadline.is_none() {
                    self.header_deadline = Some(self.last_data + self.timeouts.header);
                }
            }
            Phase::Body => {
                self.header_deadline = None;
                if was != Phase::Body {
                    // The body began with bytes of the last read.
                    self.body_start = self.last_data;
                    self.body_bytes = 0;
                }
            }
        }
        was
    }

    /// The current phase (the tokio driver parks a session in `Idle`).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(super) fn phase(&self) -> Phase {
        self.phase
    }

    /// By when the next read must return, and what to call it if it does not.
    pub(super) fn deadline(&self, now: Instant) -> (Instant, &'static str) {
        let idle = (now + self.timeouts.idle, "idle timeout");
        let limit = match self.phase {
            Phase::Idle => None,
            Phase::Header => self
                .header_deadline
                .map(|at| (at, "header deadline passed")),
            Phase::Body => self
                .body_deadline()
                .map(|at| (at, "body arriving below the minimum rate")),
        };
        match limit {
            Some(limit) if limit.0 < idle.0 => limit,
            _ => idle,
        }
    }

    /// Records a read that returned `n` bytes.
    pub(super) fn record(&mut self, n: usize) {
        if n > 0 {
            self.last_data = Instant::now();
            if self.phase == Phase::Body {
                self.body_bytes = self.body_bytes.saturating_add(n as u64);
            }
        }
    }

    /// The body's deadline: the grace, plus the time its bytes so far buy
    /// at the minimum rate.
    fn body_deadline(&self) -> Option<Instant> {
        let rate = self.timeouts.body_min_rate;
        if rate == 0 {
            return None;
        }
        let earned = Duration::from_secs_f64(self.body_bytes as f64 / rate as f64);
        Some(self.body_start + self.timeouts.header + earned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> ReadClock {
        ReadClock::new(Timeouts {
            idle: Duration::from_secs(300),
            header: Duration::from_secs(10),
            body_min_rate: 100,
        })
    }

    #[test]
    fn each_phase_has_its_deadline() {
        let mut c = clock();
        let now = Instant::now();
        c.enter(Phase::Idle);
        assert_eq!(c.deadline(now).1, "idle timeout");
        c.record(10);
        c.enter(Phase::Header);
        let (at, what) = c.deadline(now);
        assert_eq!(what, "header deadline passed");
        assert!(at <= Instant::now() + Duration::from_secs(10));
        // A body earns time at the minimum rate: 1,000 bytes at 100 B/s
        // buy 10 s beyond the 10 s grace.
        c.enter(Phase::Body);
        c.record(1000);
        let (at, what) = c.deadline(now);
        assert_eq!(what, "body arriving below the minimum rate");
        assert!(at >= now + Duration::from_secs(19), "{:?}", at - now);
        assert!(at <= Instant::now() + Duration::from_secs(21));
    }
}
