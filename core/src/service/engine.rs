//! One call that serves a whole connection over an `embedded-io`
//! ([`blocking`]) or `embedded-io-async` ([`asynch`]) stream: a thin loop
//! over a [`Session`], for users who want one call rather than a driver
//! of their own.
//!
//! The loop writes what the session has to send, else reads into its
//! buffer, and tells it the time after every call ([`Clock`]). A stream's
//! read cannot be interrupted from here, so a deadline is acted on when the
//! call that was waiting returns: a transport that must cut a silent peer
//! on time bounds its own reads (a socket timeout), or drives the session
//! itself, as jframe's servers do.

use super::buffers::Buffers;
use super::session::{Config, End, Session};
use super::time::Instant;

/// What the one-call drivers need besides reading and writing.
pub trait Clock {
    /// The current time, from any epoch.
    fn now(&mut self) -> Instant;

    /// Whether the session should stop between frames (a server shutting
    /// down); asked before every call.
    fn stopping(&mut self) -> bool {
        false
    }
}

macro_rules! drive {
    ($Read:path, $Write:path, $($async:ident)?; $($await:tt)*) => {
        use super::{Buffers, Clock, Config, End, Session};
        use crate::service::api::Service;

        /// Serves one connection until it ends; see the [module docs](super).
        pub $($async)? fn serve<T, X>(
            io: &mut T,
            buffers: Buffers<'_>,
            service: X,
            config: &Config<'_>,
        ) -> End<T::Error>
        where
            T: $Read + $Write + Clock,
            X: Service,
        {
            let now = io.now();
            let mut session = Session::new(buffers, service, config, now);
            loop {
                let now = io.now();
                if io.stopping() {
                    session.stop(now);
                }
                session.handle_timeout(now);
                if let Some(end) = session.finished() {
                    return end.into_io();
                }
                if !session.transmit().is_empty() {
                    let n = match io.write(session.transmit()) $($await)* {
                        Ok(0) => return End::WriteZero,
                        Ok(n) => n,
                        Err(e) => return End::Io(e),
                    };
                    let now = io.now();
                    session.sent(n, now);
                    continue;
                }
                let buf = session.receive_buffer();
                if buf.is_empty() {
                    // Nothing to send and no input wanted: the session is
                    // ending (see `Session::finished`).
                    session.stop(now);
                    return session.end().map_or(End::Stopped, End::into_io);
                }
                let n = match io.read(buf) $($await)* {
                    Ok(n) => n,
                    Err(e) => return End::Io(e),
                };
                let now = io.now();
                if n == 0 {
                    session.peer_closed(now);
                } else {
                    session.received(n, now);
                }
            }
        }
    };
}

/// The one-call driver over blocking `embedded_io::{Read, Write}`.
///
/// # Example
///
/// A connection over an in-memory stream, served until the peer leaves:
///
/// ```
/// use jframe::service::engine::{Clock, blocking};
/// use jframe::service::{Buffers, Config, Demo, End, Instant};
///
/// /// Reads `input`, collects what is written.
/// struct Pipe {
///     input: &'static [u8],
///     output: Vec<u8>,
/// }
///
/// impl embedded_io::ErrorType for Pipe {
///     type Error = core::convert::Infallible;
/// }
///
/// impl embedded_io::Read for Pipe {
///     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
///         embedded_io::Read::read(&mut self.input, buf)
///     }
/// }
///
/// impl embedded_io::Write for Pipe {
///     fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
///         self.output.extend_from_slice(buf);
///         Ok(buf.len())
///     }
///
///     fn flush(&mut self) -> Result<(), Self::Error> {
///         Ok(())
///     }
/// }
///
/// impl Clock for Pipe {
///     fn now(&mut self) -> Instant {
///         Instant::from_millis(0)
///     }
/// }
///
/// let mut pipe = Pipe {
///     input: b"\x0f\x00\x00\x00{\"data_size\":2}hi",
///     output: Vec::new(),
/// };
/// let (mut rx, mut frame, mut tx) = ([0u8; 256], [0u8; 256], [0u8; 256]);
/// let buffers = Buffers { rx: &mut rx, frame: &mut frame, tx: &mut tx };
/// let end = blocking::serve(&mut pipe, buffers, Demo::new(), &Config::default());
/// assert_eq!(end, End::PeerClosed);
/// assert!(pipe.output.ends_with(b"HI"));
/// ```
pub mod blocking {
    drive!(embedded_io::Read, embedded_io::Write, ; );
}

/// The one-call driver over `embedded_io_async::{Read, Write}`.
pub mod asynch {
    drive!(embedded_io_async::Read, embedded_io_async::Write, async; .await);
}
