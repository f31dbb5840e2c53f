//! The TCP driver's side of the engine: a `TcpStream` as an `embedded-io`
//! stream whose read timeouts follow the engine's phases.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jframe::service::{Deadlines, Phase};

/// Timeouts of one connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// Longest wait for the next frame.
    pub idle: Duration,
    /// From a frame's first byte to the end of its header; also the grace
    /// a body gets before its minimum rate applies.
    pub header: Duration,
    /// Bytes per second a body must average (0: no minimum).
    pub body_min_rate: u64,
}

/// A connection's socket, as the engine sees it.
#[derive(Debug)]
pub(super) struct TcpLink<'a> {
    stream: Arc<TcpStream>,
    timeouts: Timeouts,
    phase: Phase,
    /// When the current frame's header must be complete.
    header_deadline: Option<Instant>,
    /// The read timeout set on the socket, to avoid a setsockopt per read.
    current: Option<Duration>,
    /// When the last read returned data.
    last_data: Instant,
    /// When the body being received began, and its bytes so far.
    body_start: Instant,
    body_bytes: u64,
    /// True exactly while waiting between frames (shutdown closes those).
    idle: &'a AtomicBool,
    stopping: &'a AtomicBool,
}

impl<'a> TcpLink<'a> {
    pub(super) fn new(
        stream: Arc<TcpStream>,
        timeouts: Timeouts,
        idle: &'a AtomicBool,
        stopping: &'a AtomicBool,
    ) -> Self {
        TcpLink {
            stream,
            timeouts,
            phase: Phase::Body,
            header_deadline: None,
            current: None,
            last_data: Instant::now(),
            body_start: Instant::now(),
            body_bytes: 0,
            idle,
            stopping,
        }
    }

    fn set_timeout(&mut self, want: Duration) -> io::Result<()> {
        let want = Some(want.max(Duration::from_millis(1)));
        if self.current != want {
            self.stream.set_read_timeout(want)?;
            self.current = want;
        }
        Ok(())
    }
}

impl TcpLink<'_> {
    /// The body's deadline: the grace, plus the time its bytes so far buy
    /// at the minimum rate. A peer that keeps up never reaches it; one that
    /// trickles falls behind, however often it sends a byte.
    fn body_deadline(&self) -> Option<Instant> {
        let rate = self.timeouts.body_min_rate;
        if rate == 0 {
            return None;
        }
        let earned = Duration::from_secs_f64(self.body_bytes as f64 / rate as f64);
        Some(self.body_start + self.timeouts.header + earned)
    }
}

impl Deadlines for TcpLink<'_> {
    fn before_read(&mut self, phase: Phase) -> bool {
        let was = self.phase;
        self.phase = phase;
        if (was == Phase::Idle) != (phase == Phase::Idle) {
            self.idle.store(phase == Phase::Idle, Ordering::SeqCst);
        }
        match phase {
            // The idle flag is set before `stopping` is read, and shutdown
            // sets `stopping` before reading the flags: one of the two sides
            // sees the other, so no idle connection is left blocked.
            Phase::Idle => {
                self.header_deadline = None;
                !self.stopping.load(Ordering::SeqCst)
            }
            Phase::Header => {
                // The frame began with bytes of the last read.
                if self.header_deadline.is_none() {
                    self.header_deadline = Some(self.last_data + self.timeouts.header);
                }
                true
            }
            Phase::Body => {
                self.header_deadline = None;
                if was != Phase::Body {
                    // The body began with bytes of the last read.
                    self.body_start = self.last_data;
                    self.body_bytes = 0;
                }
                true
            }
        }
    }
}

impl embedded_io::ErrorType for TcpLink<'_> {
    type Error = io::Error;
}

impl embedded_io::Read for TcpLink<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let (wait, what) = match (self.phase, self.header_deadline) {
                (Phase::Idle, _) => (self.timeouts.idle, "idle timeout"),
                (Phase::Header, Some(deadline)) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "header deadline passed",
                        ));
                    }
                    (left.min(self.timeouts.idle), "header deadline passed")
                }
                _ => match self.body_deadline() {
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "body arriving below the minimum rate",
                            ));
                        }
                        (
                            left.min(self.timeouts.idle),
                            "body arriving below the minimum rate",
                        )
                    }
                    None => (self.timeouts.idle, "idle timeout within a body"),
                },
            };
            self.set_timeout(wait)?;
            match (&*self.stream).read(buf) {
                Ok(n) => {
                    if n > 0 {
                        self.last_data = Instant::now();
                        if self.phase == Phase::Body {
                            self.body_bytes = self.body_bytes.saturating_add(n as u64);
                        }
                    }
                    return Ok(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.phase != Phase::Idle {
                        continue; // the loop re-checks the deadline
                    }
                    return Err(io::Error::new(io::ErrorKind::TimedOut, what));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl embedded_io::Write for TcpLink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&*self.stream).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}
