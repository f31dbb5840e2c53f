//! How a session ends: [`End`], for the session and the drivers around it.

use crate::error::{DecodeError, EncodeError, SourceError};

use super::time::Deadline;

/// How a session ended. `E` is a transport's error, for the one-call
/// drivers of [`super::engine`]; a [`Session`](super::Session) itself never fails on I/O
/// (its `End` is `End<Infallible>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum End<E = core::convert::Infallible> {
    /// The peer closed between frames.
    PeerClosed,
    /// A `greet` of `exit` was answered with `Bye!`.
    Bye,
    /// The driver asked to stop ([`Session::stop`](super::Session::stop)), and the session
    /// stopped between frames.
    Stopped,
    /// The session was chosen to make room for a newcomer to a full server
    /// ([`Session::evict`](super::Session::evict)), and stopped between frames.
    Evicted,
    /// The peer sent a reply (a frame with `status`): never answered, the
    /// connection is closed (SPEC).
    ReplyReceived,
    /// A fatal error: `bad_frame` was sent and the connection is closed.
    BadFrame(DecodeError),
    /// The peer closed in the middle of a frame.
    Truncated,
    /// A deadline passed.
    TimedOut(Deadline),
    /// A service's reply body failed part-way: the reply cannot be
    /// completed, so the connection is closed.
    Source(SourceError),
    /// A reply could not be encoded (the `tx` buffer is too small).
    Encode(EncodeError),
    /// The transport failed.
    Io(E),
    /// The transport accepted zero bytes.
    WriteZero,
}

impl<E> End<E> {
    /// Whether the session ended the way the protocol lets it end (the
    /// peer left, `Bye!`, a stop or an eviction between frames), not on an
    /// error or a deadline.
    pub fn is_clean(&self) -> bool {
        matches!(
            self,
            End::PeerClosed | End::Bye | End::Stopped | End::Evicted
        )
    }

    /// The same end, for a transport whose error is `F`.
    pub fn map_io<F>(self, f: impl FnOnce(E) -> F) -> End<F> {
        match self {
            End::PeerClosed => End::PeerClosed,
            End::Bye => End::Bye,
            End::Stopped => End::Stopped,
            End::Evicted => End::Evicted,
            End::ReplyReceived => End::ReplyReceived,
            End::BadFrame(e) => End::BadFrame(e),
            End::Truncated => End::Truncated,
            End::TimedOut(d) => End::TimedOut(d),
            End::Source(e) => End::Source(e),
            End::Encode(e) => End::Encode(e),
            End::Io(e) => End::Io(f(e)),
            End::WriteZero => End::WriteZero,
        }
    }
}

impl End {
    /// A session's end, for a transport whose error is `E`.
    pub fn into_io<E>(self) -> End<E> {
        self.map_io(|never| match never {})
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for End<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            End::PeerClosed => f.write_str("peer closed"),
            End::Bye => f.write_str("greet exit: Bye!"),
            End::Stopped => f.write_str("stopped between frames"),
            End::Evicted => f.write_str("idle longest when a newcomer needed the slot"),
            End::ReplyReceived => f.write_str("peer sent a reply to a server; closed"),
            End::BadFrame(e) => write!(f, "bad frame: {e}"),
            End::Truncated => f.write_str("peer closed in the middle of a frame"),
            End::TimedOut(d) => f.write_str(d.as_str()),
            End::Source(e) => write!(f, "{e}"),
            End::Encode(e) => write!(f, "{e}"),
            End::Io(e) => write!(f, "transport failed: {e:?}"),
            End::WriteZero => f.write_str("transport accepted zero bytes"),
        }
    }
}
