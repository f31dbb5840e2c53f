//! Who gets a connection slot, written once for every server: when a
//! server is full, the session idle longest between frames makes room (a
//! session that never sent a byte has been idle since it began); only when
//! none is idle is the newcomer refused with `busy` ([`Refused`]).

use crate::encoder::EncodeError;

use super::request::Refusal;
use super::time::Instant;

/// What a newcomer to a server gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission<K> {
    /// There is room.
    Admit,
    /// Evict this session ([`Session::evict`](super::Session::evict)),
    /// then admit.
    Evict(K),
    /// Refuse with `busy` ([`Refused`]).
    Busy,
}

/// The rule: `full` says whether the server holds as many sessions as it
/// may; `sessions` gives each one's key and
/// [`Session::idle_since`](super::Session::idle_since).
///
/// # Example
///
/// ```
/// use jframe::service::{Admission, Instant, admit};
///
/// let at = Instant::from_millis;
/// assert_eq!(admit(false, [("a", Some(at(5)))]), Admission::Admit);
/// // Full: the session idle longest makes room; a busy one (`None`) never does.
/// let sessions = [("a", Some(at(5))), ("b", Some(at(1))), ("c", None)];
/// assert_eq!(admit(true, sessions), Admission::Evict("b"));
/// assert_eq!(admit(true, [("a", None)]), Admission::Busy);
/// ```
pub fn admit<K>(
    full: bool,
    sessions: impl IntoIterator<Item = (K, Option<Instant>)>,
) -> Admission<K> {
    if !full {
        return Admission::Admit;
    }
    let mut oldest: Option<(Instant, K)> = None;
    for (key, since) in sessions {
        let Some(since) = since else { continue };
        // Strictly earlier: among equals, the first (oldest) stays.
        if oldest.as_ref().is_none_or(|(at, _)| since < *at) {
            oldest = Some((since, key));
        }
    }
    match oldest {
        Some((_, key)) => Admission::Evict(key),
        None => Admission::Busy,
    }
}

/// A connection refused with `busy`, sans-IO like a session: the driver
/// writes [`Refused::transmit`], then closes its sending side and reads
/// (and drops) what the peer sends until [`Refused::finished`]: the peer
/// closed, or the linger passed. Closing at once could reset the
/// connection before the peer has read the reply.
///
/// # Example
///
/// ```
/// use jframe::Status;
/// use jframe::service::{Instant, Refusal, Refused};
///
/// let at = Instant::from_millis;
/// let mut buf = [0u8; 128];
/// let busy = Refusal::text(Status::Busy, "the server is full");
/// let mut refused = Refused::new(&mut buf, &busy, 1_000, 500, at(0))?;
/// let written = refused.transmit().len();
/// refused.sent(written, at(1));
/// // The peer does not close: the linger ends it.
/// refused.handle_timeout(at(501));
/// assert!(refused.finished());
/// # Ok::<(), jframe::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct Refused<'b> {
    frame: &'b [u8],
    sent: usize,
    /// Until when the reply may wait to be written, then until when the
    /// peer may take to close.
    write_until: Instant,
    linger_ms: u64,
    linger_until: Option<Instant>,
    done: bool,
}

impl<'b> Refused<'b> {
    /// Encodes `refusal` (its message, or the bare status if that does not
    /// fit) into `buf`; `write_ms` bounds the write, `linger_ms` the wait
    /// for the peer's close once it is written.
    pub fn new(
        buf: &'b mut [u8],
        refusal: &Refusal,
        write_ms: u64,
        linger_ms: u64,
        now: Instant,
    ) -> Result<Self, EncodeError> {
        let n = refusal.encode_head(buf)?;
        Ok(Refused {
            frame: buf.get(..n).unwrap_or_default(),
            sent: 0,
            write_until: now.after(write_ms),
            linger_ms,
            linger_until: None,
            done: false,
        })
    }

    /// The reply bytes still to write; once empty, the driver closes its
    /// sending side.
    pub fn transmit(&self) -> &[u8] {
        if self.done {
            return &[];
        }
        self.frame.get(self.sent..).unwrap_or_default()
    }

    /// `n` bytes of [`Self::transmit`] were written.
    pub fn sent(&mut self, n: usize, now: Instant) {
        self.sent = self.sent.saturating_add(n).min(self.frame.len());
        if self.sent == self.frame.len() && self.linger_until.is_none() {
            self.linger_until = Some(now.after(self.linger_ms));
        }
    }

    /// The peer closed (a read returned 0), or failed.
    pub fn peer_closed(&mut self) {
        self.done = true;
    }

    /// When to call [`Self::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        Some(self.linger_until.unwrap_or(self.write_until))
    }

    /// Gives up once the write or the linger has taken too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|at| now >= at) {
            self.done = true;
        }
    }

    /// Whether the driver may close now.
    pub fn finished(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn the_session_idle_longest_makes_room() {
        let t = Instant::from_millis;
        let sessions = [
            (1, Some(t(50))),
            (2, None),
            (3, Some(t(10))),
            (4, Some(t(30))),
        ];
        assert_eq!(admit(false, sessions), Admission::Admit);
        assert_eq!(admit(true, sessions), Admission::Evict(3));
        assert_eq!(admit(true, [(1, None), (2, None)]), Admission::<i32>::Busy);
    }

    #[test]
    fn a_refusal_writes_then_lingers_until_the_peer_closes() {
        let mut buf = [0u8; 128];
        let busy = Refusal::text(Status::Busy, "full");
        let t = Instant::from_millis;
        let mut r = Refused::new(&mut buf, &busy, 1000, 200, t(0)).unwrap();
        assert_eq!(
            r.transmit(),
            b"\x2e\x00\x00\x00{\"data_size\":0,\"status\":\"busy\",\"error\":\"full\"}"
        );
        assert_eq!(r.poll_timeout(), Some(t(1000)));
        r.sent(10, t(5));
        r.sent(100, t(6));
        assert!(r.transmit().is_empty());
        assert_eq!(r.poll_timeout(), Some(t(206)));
        r.handle_timeout(t(100));
        assert!(!r.finished());
        r.handle_timeout(t(206));
        assert!(r.finished());
    }
}
