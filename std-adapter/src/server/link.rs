//! The threads driver's side of the engine: a `TcpStream` as an
//! `embedded-io` stream whose reads wait no longer than the deadline the
//! engine's phase gives ([`super::deadline`]).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jframe::service::{Deadlines, Phase};

use super::deadline::{ReadClock, Timeouts};

/// A connection's socket, as the engine sees it.
#[derive(Debug)]
pub(super) struct TcpLink<'a> {
    stream: Arc<TcpStream>,
    clock: ReadClock,
    /// The read timeout set on the socket, to avoid a setsockopt per read.
    current: Option<Duration>,
    /// True exactly while waiting between frames (shutdown closes those).
    idle: &'a AtomicBool,
    stopping: &'a AtomicBool,
    /// Told when every reply so far has been written (metrics on).
    meter: Option<crate::metrics::RequestMeter>,
}

impl<'a> TcpLink<'a> {
    pub(super) fn new(
        stream: Arc<TcpStream>,
        timeouts: Timeouts,
        idle: &'a AtomicBool,
        stopping: &'a AtomicBool,
        meter: Option<crate::metrics::RequestMeter>,
    ) -> Self {
        TcpLink {
            stream,
            clock: ReadClock::new(timeouts),
            current: None,
            idle,
            stopping,
            meter,
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
        if let (Some(m), Phase::Idle | Phase::Header) = (&self.meter, phase) {
            m.flushed();
        }
        let was = self.clock.enter(phase);
        if (was == Phase::Idle) != (phase == Phase::Idle) {
            self.idle.store(phase == Phase::Idle, Ordering::SeqCst);
        }
        // The idle flag is set before `stopping` is read, and shutdown sets
        // `stopping` before reading the flags: one of the two sides sees the
        // other, so no idle connection is left blocked.
        phase != Phase::Idle || !self.stopping.load(Ordering::SeqCst)
    }
}

impl embedded_io::ErrorType for TcpLink<'_> {
    type Error = io::Error;
}

impl embedded_io::Read for TcpLink<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let now = Instant::now();
            let (deadline, what) = self.clock.deadline(now);
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, what));
            }
            self.set_timeout(left)?;
            match (&*self.stream).read(buf) {
                Ok(n) => {
                    self.clock.record(n);
                    if let (Some(m), 1..) = (&self.meter, n) {
                        m.read();
                    }
                    return Ok(n);
                }
                // The loop re-checks the deadline (a socket timeout may
                // fire a little early).
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, what));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
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
