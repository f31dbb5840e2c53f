//! Time, as the session sees it: a number the driver supplies, and SPEC's
//! rule that a slow peer cannot hold a connection slot for ever, written
//! once for every transport.
//!
//! Core never reads a clock. A driver passes the current [`Instant`] into
//! every session call, asks [`Session::poll_timeout`](super::Session::poll_timeout)
//! when to call back, and calls
//! [`Session::handle_timeout`](super::Session::handle_timeout) then, as
//! smoltcp's `poll(timestamp)` and quinn-proto's `handle_timeout(now)` do.
//!
//! # The deadlines ([`Deadline`])
//!
//! - **idle**: between frames, the peer has [`Timeouts::idle_ms`] to begin
//!   the next one;
//! - **header**: from a frame's first byte, its prefix and header must be
//!   complete within [`Timeouts::header_ms`];
//! - **body**: a body must average [`Timeouts::body_min_rate`] bytes per
//!   second after a grace of [`Timeouts::body_grace_ms`] (a peer sending one
//!   byte every few seconds falls behind however often it sends), and no
//!   single wait within it lasts longer than the idle timeout;
//! - **write**: while replies are pending, the peer must take some of them
//!   within [`Timeouts::write_ms`].
//!
//! The read deadlines run only while the session waits for the peer: while
//! its replies are unsent (the peer is slow to read, or a large reply is
//! being produced), only the write deadline applies, and the read clocks
//! resume where they stood once the replies are out.

/// A point in time: milliseconds from an epoch the driver chooses (boot,
/// the process start, the Unix epoch). Only differences are used.
///
/// # Example
///
/// ```
/// use jframe::service::Instant;
///
/// let start = Instant::from_millis(1_000);
/// assert_eq!(start.after(250).since(start), 250);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the driver's epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the driver's epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `ms` milliseconds later, saturating.
    pub const fn after(self, ms: u64) -> Self {
        Instant(self.0.saturating_add(ms))
    }

    /// `ms` milliseconds later, unless that overflows (a timeout of
    /// `u64::MAX` means none).
    pub const fn checked_after(self, ms: u64) -> Option<Self> {
        match self.0.checked_add(ms) {
            Some(at) => Some(Instant(at)),
            None => None,
        }
    }

    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub const fn since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Deadline {
    /// No next frame within the idle timeout.
    Idle,
    /// A frame's prefix and header took too long.
    Header,
    /// A body arrived below the minimum rate.
    Body,
    /// The peer took none of our replies within the write timeout.
    Write,
}

impl Deadline {
    /// What passed, in words.
    pub const fn as_str(self) -> &'static str {
        match self {
            Deadline::Idle => "idle timeout",
            Deadline::Header => "header deadline passed",
            Deadline::Body => "body arriving below the minimum rate",
            Deadline::Write => "peer took none of our replies within the write timeout",
        }
    }
}

impl core::fmt::Display for Deadline {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session's time limits. The rules are the same on every transport; the
/// values are each server's ([`Timeouts::SERVER`], [`Timeouts::DEVICE`]).
///
/// # Example
///
/// ```
/// use jframe::service::{Config, Timeouts};
///
/// // A device's deadlines, with more time for a header.
/// let timeouts = Timeouts { header_ms: 20_000, ..Timeouts::DEVICE };
/// let config = Config { timeouts, ..Config::default() };
/// assert_eq!(config.timeouts.idle_ms, Timeouts::DEVICE.idle_ms);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timeouts {
    /// Longest wait for the next frame, and for any one read within a body.
    pub idle_ms: u64,
    /// From a frame's first byte to the end of its header.
    pub header_ms: u64,
    /// How long a body may take before its minimum rate applies.
    pub body_grace_ms: u64,
    /// Bytes per second a body must average after the grace (0: none).
    pub body_min_rate: u32,
    /// Longest a pending reply may wait for the peer to take any of it.
    pub write_ms: u64,
}

impl Timeouts {
    /// A std server's: 5 minutes idle, 10 s for a header, a body at
    /// 1 KiB/s after 10 s, 30 s for a write.
    pub const SERVER: Timeouts = Timeouts {
        idle_ms: 300_000,
        header_ms: 10_000,
        body_grace_ms: 10_000,
        body_min_rate: 1024,
        write_ms: 30_000,
    };

    /// A device's: 120 s idle, 10 s for a header, a body at 256 B/s after
    /// 30 s, 120 s for a write.
    ///
    /// The idle and write limits must outlast a lossy link's
    /// retransmissions: the timer starts at 1 s and doubles (RFC 6298, as
    /// smoltcp does it), and a round fails when the segment or its ACK is
    /// lost (about 1 in 5 at 10 % loss), so five failed rounds, 31 s, are
    /// not rare over a few hundred replies, while seven (127 s) are. A long
    /// idle limit costs a device no slot: a full pool closes the connection
    /// idle longest. The body's grace (a body segment lost five times is
    /// 1 in 100,000 at 10 % loss) shrinks to 2 s while the pool is full
    /// ([`Session::squeeze`](super::Session::squeeze)).
    pub const DEVICE: Timeouts = Timeouts {
        idle_ms: 120_000,
        header_ms: 10_000,
        body_grace_ms: 30_000,
        body_min_rate: 256,
        write_ms: 120_000,
    };

    /// No deadlines at all (tests, or a transport that bounds time itself).
    pub const NONE: Timeouts = Timeouts {
        idle_ms: u64::MAX,
        header_ms: u64::MAX,
        body_grace_ms: u64::MAX,
        body_min_rate: 0,
        write_ms: u64::MAX,
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::SERVER
    }
}

/// A body's grace while the server is full ([`Session::squeeze`](super::Session::squeeze)): one
/// retransmission timeout or so, not the length a lossy link needs.
pub const SQUEEZED_GRACE_MS: u64 = 2_000;

/// Where the session's input stands, for the read deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Between frames.
    Idle,
    /// A frame has begun; its prefix or header is incomplete.
    Header,
    /// A body is arriving (held, streamed or skipped).
    Body,
}

/// The session's clocks: when each phase began, and what the body has
/// brought so far.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phases {
    pub(crate) timeouts: Timeouts,
    pub(crate) phase: Phase,
    /// When the session last became idle between frames (or was created).
    idle_since: Instant,
    /// When the current frame began.
    header_start: Instant,
    /// When the current body began, and its bytes since.
    body_start: Instant,
    body_bytes: u64,
    /// When a read last brought bytes.
    last_read: Instant,
    /// While replies are pending: since when, and the last write progress.
    output_since: Option<Instant>,
    last_write: Instant,
    /// The server is full: bodies get no grace.
    squeezed: bool,
}

impl Phases {
    pub(crate) fn new(timeouts: Timeouts, now: Instant) -> Self {
        Phases {
            timeouts,
            phase: Phase::Idle,
            idle_since: now,
            header_start: now,
            body_start: now,
            body_bytes: 0,
            last_read: now,
            output_since: None,
            last_write: now,
            squeezed: false,
        }
    }

    /// The server is full: from now on a body gets no grace.
    pub(crate) fn squeeze(&mut self) {
        self.squeezed = true;
    }

    /// Bytes arrived.
    pub(crate) fn read(&mut self, now: Instant) {
        self.last_read = now;
    }

    /// Body bytes consumed.
    pub(crate) fn body(&mut self, n: usize) {
        self.body_bytes = self.body_bytes.saturating_add(n as u64);
    }

    /// The input's phase after a step; `new_frame`: a frame ended and
    /// another one began within the step.
    pub(crate) fn enter(&mut self, phase: Phase, new_frame: bool, now: Instant) {
        let changed = phase != self.phase || new_frame;
        if changed {
            match phase {
                Phase::Idle => self.idle_since = now,
                Phase::Header => self.header_start = now,
                Phase::Body => {
                    if new_frame || self.phase == Phase::Idle {
                        self.header_start = now;
                    }
                    self.body_start = now;
                    self.body_bytes = 0;
                }
            }
        }
        self.phase = phase;
    }

    /// Whether replies are pending; the read clocks stand still while they
    /// are, and resume where they stood.
    pub(crate) fn output(&mut self, pending: bool, now: Instant) {
        match (pending, self.output_since) {
            (true, None) => {
                self.output_since = Some(now);
                self.last_write = now;
            }
            (false, Some(since)) => {
                self.output_since = None;
                let stalled = now.since(since);
                self.header_start = self.header_start.after(stalled);
                self.body_start = self.body_start.after(stalled);
                self.last_read = self.last_read.after(stalled);
                // Idle between frames counts from when the replies were out.
                self.idle_since = self.idle_since.max(now);
            }
            _ => {}
        }
    }

    /// The peer took some of our replies.
    pub(crate) fn wrote(&mut self, now: Instant) {
        self.last_write = now;
    }

    /// Since when the session has been idle between frames with nothing
    /// pending, if it is.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        (self.phase == Phase::Idle && self.output_since.is_none()).then_some(self.idle_since)
    }

    /// The next deadline: the write deadline while replies are pending,
    /// else the read deadline of the phase (`reading`: the session waits
    /// for input).
    pub(crate) fn next(&self, reading: bool) -> Option<(Instant, Deadline)> {
        let t = &self.timeouts;
        if self.output_since.is_some() {
            return Some((self.last_write.after(t.write_ms), Deadline::Write));
        }
        if !reading {
            return None;
        }
        let idle = (self.last_read.after(t.idle_ms), Deadline::Idle);
        let at = match self.phase {
            Phase::Idle => (self.idle_since.after(t.idle_ms), Deadline::Idle),
            Phase::Header => (self.header_start.after(t.header_ms), Deadline::Header),
            Phase::Body if t.body_min_rate == 0 => idle,
            Phase::Body => {
                let earned = self
                    .body_bytes
                    .saturating_mul(1000)
                    .checked_div(u64::from(t.body_min_rate))
                    .unwrap_or(0);
                let grace = if self.squeezed {
                    t.body_grace_ms.min(SQUEEZED_GRACE_MS)
                } else {
                    t.body_grace_ms
                };
                let body = self.body_start.after(grace).after(earned);
                if body <= idle.0 {
                    (body, Deadline::Body)
                } else {
                    idle
                }
            }
        };
        Some(at)
    }
}
