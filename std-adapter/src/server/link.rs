//! The TCP driver's side of the engine: a `TcpStream` as an `embedded-io`
//! stream whose read timeouts follow the engine's phases.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jframe::service::{Deadlines, Phase};

/// Timeouts of one connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// Longest wait for the next frame.
    pub idle: Duration,
    /// From a frame's first byte to the end of its header.
    pub header: Duration,
    /// Longest wait for any read within a body.
    pub body_read: Duration,
}

/// A connection's socket, as the engine sees it.
#[derive(Debug)]
pub(super) struct TcpLink<'a> {
    stream: TcpStream,
    timeouts: Timeouts,
    phase: Phase,
    /// When the current frame's header must be complete.
    header_deadline: Option<Instant>,
    /// The read timeout set on the socket, to avoid a setsockopt per read.
    current: Option<Duration>,
    /// When the last read returned data.
    last_data: Instant,
    /// True exactly while waiting between frames (shutdown closes those).
    idle: &'a AtomicBool,
    stopping: &'a AtomicBool,
}

impl<'a> TcpLink<'a> {
    pub(super) fn new(
        stream: TcpStream,
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
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "header deadline passed"));
                    }
                    (left.min(self.timeouts.idle), "header deadline passed")
                }
                _ => (self.timeouts.body_read, "body read timeout"),
            };
            self.set_timeout(wait)?;
            match self.stream.read(buf) {
                Ok(n) => {
                    if n > 0 {
                        self.last_data = Instant::now();
                    }
                    return Ok(n);
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if self.phase == Phase::Header {
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
            match self.stream.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
