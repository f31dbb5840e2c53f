//! The live connections of a TCP server, whichever driver serves them:
//! admission against the limits (core's rule: a full server evicts the
//! session idle longest, and only then answers `busy`), a slot freed
//! however a connection ends, closing idle ones at shutdown, and draining
//! within the grace period.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Shutdown};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use jframe::service::{Admission, Instant, admit};

use super::{Busy, Config};

/// A connection as the registry tracks it: what its driver publishes,
/// and how to wake it and shut its socket; the rest follows.
pub(super) trait Tracked {
    /// What its driver publishes of its session.
    fn state(&self) -> &Published;
    /// Wakes it if it waits between frames, so that it sees the server
    /// stopping or an eviction.
    fn wake(&self);
    /// Shuts its socket down.
    fn shutdown(&self, how: Shutdown);

    /// Since when its session has waited between frames with nothing to
    /// send ([`jframe::service::Session::idle_since`]), if it does.
    fn idle_since(&self) -> Option<Instant> {
        self.state().idle_since()
    }

    /// Asks its session to end between frames to make room (once).
    fn evict(&self) {
        if self.state().evict() {
            self.wake();
        }
    }

    /// Whether it was asked to make room.
    fn is_evicted(&self) -> bool {
        self.state().is_evicted()
    }
}

#[derive(Debug)]
struct Registry<C> {
    next_id: u64,
    // In order of arrival: among sessions idle since the same instant, the
    // oldest makes room.
    conns: BTreeMap<u64, Arc<C>>,
    /// Live connections per client address.
    per_client: HashMap<IpAddr, usize>,
}

/// The registry and its "all gone" signal.
#[derive(Debug)]
pub(super) struct Connections<C> {
    registry: Mutex<Registry<C>>,
    drained: Condvar,
}

impl<C: Tracked> Connections<C> {
    pub(super) fn new() -> Self {
        Connections {
            registry: Mutex::new(Registry {
                next_id: 0,
                conns: BTreeMap::new(),
                per_client: HashMap::new(),
            }),
            drained: Condvar::new(),
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry<C>> {
        // A panicking connection must not take the server down.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection from `client` made by `conn`, making room
    /// first (core's rule: a full server evicts the session idle longest),
    /// or says why it is answered `busy`. One lock for both, so drivers may
    /// admit from any thread (a connection behind a PROXY header is
    /// admitted once its header has been read, by its own task). The
    /// connection stays registered while the slot lives.
    pub(super) fn admit(
        self: &Arc<Self>,
        client: IpAddr,
        config: &Config,
        conn: impl FnOnce() -> Arc<C>,
    ) -> Result<Registration<C>, Busy> {
        let mut reg = self.registry();
        let key = client_key(client);
        let from_client = reg.per_client.get(&key).copied().unwrap_or(0);
        if from_client >= config.max_conns_per_client {
            return Err(refused(client, Busy::Client));
        }
        // Sessions already asked to make room are on their way out (only
        // counted when the registry is at its limit: no walk per accept).
        let live = reg.conns.values().filter(|c| !c.is_evicted());
        let full = reg.conns.len() >= config.max_conns && live.clone().count() >= config.max_conns;
        match admit(full, live.map(|c| (c, c.idle_since()))) {
            Admission::Admit => {}
            Admission::Evict(victim) => victim.evict(),
            Admission::Busy => return Err(refused(client, Busy::Server)),
        }
        crate::metrics::connection_opened();
        let id = reg.next_id;
        reg.next_id += 1;
        reg.conns.insert(id, conn());
        *reg.per_client.entry(key).or_insert(0) += 1;
        Ok(Registration {
            conns: self.clone(),
            id,
            client: key,
        })
    }

    /// At shutdown: wakes every connection waiting between frames. A
    /// connection publishes its idle state before it checks `stopping`, and
    /// shutdown sets `stopping` before this reads the states (both SeqCst):
    /// one side sees the other, so none is left waiting.
    pub(super) fn wake_idle(&self) {
        for conn in self.registry().conns.values() {
            if conn.idle_since().is_some() {
                conn.wake();
            }
        }
    }

    /// Waits for connections to finish, up to `grace`; then closes what is
    /// left and waits briefly for them to notice.
    pub(super) fn drain(&self, grace: Duration) {
        let deadline = std::time::Instant::now() + grace;
        let mut reg = self.registry();
        while !reg.conns.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            reg = self
                .drained
                .wait_timeout(reg, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if reg.conns.is_empty() {
            return;
        }
        log::warn!(
            "grace period over: closing {} connection(s) still busy",
            reg.conns.len()
        );
        for conn in reg.conns.values() {
            conn.shutdown(Shutdown::Both);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !reg.conns.is_empty() && std::time::Instant::now() < deadline {
            reg = self
                .drained
                .wait_timeout(reg, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The key `--max-conns-per-client` counts a client by: its IPv4 address,
/// or the /64 of its IPv6 address (one host commonly holds a whole /64).
/// An IPv4-mapped IPv6 address counts as the IPv4 address.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !(u128::MAX >> 64);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// Frees a connection's slot when it ends, however it ends.
#[derive(Debug)]
pub(super) struct Registration<C: Tracked> {
    conns: Arc<Connections<C>>,
    id: u64,
    client: IpAddr,
}

impl<C: Tracked> Drop for Registration<C> {
    fn drop(&mut self) {
        crate::metrics::connection_closed();
        let mut reg = self.conns.registry();
        reg.conns.remove(&self.id);
        if let Some(n) = reg.per_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                reg.per_client.remove(&self.client);
            }
        }
        if reg.conns.is_empty() {
            self.conns.drained.notify_all();
        }
    }
}

/// A connection over a limit, logged and counted once for every driver;
/// the driver answers it `busy`.
fn refused(client: IpAddr, why: Busy) -> Busy {
    log::debug!("{client}: {why:?} connection limit reached, replying busy");
    crate::metrics::refused(why.into());
    why
}

/// What a connection's driver publishes for the registry: its session's
/// idle state, and whether it was asked to make room.
#[derive(Debug)]
pub(super) struct Published {
    /// When the connection was accepted: its session starts then, not
    /// when its thread or task first runs (they run in any order, and the
    /// connection that came first must stay the one idle longest).
    accepted: Instant,
    /// Milliseconds of [`Instant`] since when idle; [`BUSY`] while not.
    idle: AtomicU64,
    evicted: AtomicBool,
}

/// [`Published::idle`] while the session is busy.
const BUSY: u64 = u64::MAX;

impl Published {
    /// A connection accepted at `at`: idle since then until its session
    /// says otherwise (a peer that never sends is idle since it came).
    pub(super) fn accepted(at: Instant) -> Self {
        let state = Published {
            accepted: at,
            idle: AtomicU64::new(BUSY),
            evicted: AtomicBool::new(false),
        };
        state.set_idle(Some(at));
        state
    }

    /// When the connection was accepted: the `now` its session starts at.
    pub(super) fn accepted_at(&self) -> Instant {
        self.accepted
    }

    /// Publishes the session's [`jframe::service::Session::idle_since`].
    pub(super) fn set_idle(&self, since: Option<Instant>) {
        let ms = since.map_or(BUSY, |at| at.as_millis().min(BUSY - 1));
        self.idle.store(ms, Ordering::SeqCst);
    }

    pub(super) fn idle_since(&self) -> Option<Instant> {
        match self.idle.load(Ordering::SeqCst) {
            BUSY => None,
            ms => Some(Instant::from_millis(ms)),
        }
    }

    /// Marks the connection evicted; true the first time.
    pub(super) fn evict(&self) -> bool {
        !self.evicted.swap(true, Ordering::SeqCst)
    }

    pub(super) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::SeqCst)
    }

    /// What both drivers do before each I/O call: publish the session's
    /// idle state, tell it of an eviction or a server stopping, and say
    /// how it ended once it has. The state is published before `stopping`
    /// is read, and shutdown sets `stopping` before it reads the states
    /// (both SeqCst): one side sees the other, so no idle session is left
    /// waiting.
    pub(super) fn sync<X: jframe::service::Service>(
        &self,
        session: &mut jframe::service::Session<'_, X>,
        stopping: &AtomicBool,
    ) -> Option<jframe::service::End> {
        self.set_idle(session.idle_since());
        if self.is_evicted() {
            session.evict(super::now());
        } else if stopping.load(Ordering::SeqCst) {
            session.stop(super::now());
        }
        let end = session.finished();
        if end.is_some() {
            self.set_idle(None);
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::client_key;
    use std::net::IpAddr;

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let key = |s: &str| client_key(s.parse::<IpAddr>().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2:ffff::1").to_string(), "2001:db8:1:2::");
        assert_eq!(key("::ffff:10.0.0.7").to_string(), "10.0.0.7");
        assert_eq!(key("10.0.0.7").to_string(), "10.0.0.7");
    }
}
