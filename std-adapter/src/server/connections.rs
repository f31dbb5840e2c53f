//! The live connections of a TCP server, whichever driver serves them:
//! admission against the limits, a slot freed however a connection ends,
//! closing idle ones at shutdown, and draining within the grace period.

use std::collections::HashMap;
use std::net::{IpAddr, Shutdown};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Busy, Config, admission};

/// A live connection as the registry sees it.
pub(super) trait Live {
    /// Whether it waits between frames (shutdown may close it at once).
    fn is_idle(&self) -> bool;
    /// Shuts its socket down.
    fn shutdown(&self, how: Shutdown);
}

#[derive(Debug)]
struct Registry<C> {
    next_id: u64,
    conns: HashMap<u64, Arc<C>>,
    /// Live connections per client address.
    per_client: HashMap<IpAddr, usize>,
}

/// The registry and its "all gone" signal.
#[derive(Debug)]
pub(super) struct Connections<C> {
    registry: Mutex<Registry<C>>,
    drained: Condvar,
}

impl<C: Live> Connections<C> {
    pub(super) fn new() -> Self {
        Connections {
            registry: Mutex::new(Registry {
                next_id: 0,
                conns: HashMap::new(),
                per_client: HashMap::new(),
            }),
            drained: Condvar::new(),
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry<C>> {
        // A panicking connection must not take the server down.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Why a new connection from `client` would be answered `busy`, if it
    /// would. Drivers call this and [`Self::register`] from their one
    /// accepting thread, so nothing is admitted in between.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(super) fn busy(&self, client: IpAddr, config: &Config) -> Option<Busy> {
        let reg = self.registry();
        let from_client = reg
            .per_client
            .get(&client_key(client))
            .copied()
            .unwrap_or(0);
        admission(reg.conns.len(), from_client, config)
    }

    /// [`Self::busy`] and [`Self::register`] under one lock, for drivers
    /// that admit from more than one thread (a connection behind a PROXY
    /// header is admitted once its header has been read, by its own task).
    pub(super) fn try_register(
        self: &Arc<Self>,
        client: IpAddr,
        config: &Config,
        conn: impl FnOnce() -> Arc<C>,
    ) -> Result<Slot<C>, Busy> {
        let mut reg = self.registry();
        let key = client_key(client);
        let from_client = reg.per_client.get(&key).copied().unwrap_or(0);
        if let Some(why) = admission(reg.conns.len(), from_client, config) {
            return Err(why);
        }
        Ok(self.insert(&mut reg, key, conn()))
    }

    /// Registers a connection; it stays registered while the slot lives.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(super) fn register(self: &Arc<Self>, client: IpAddr, conn: Arc<C>) -> Slot<C> {
        let mut reg = self.registry();
        self.insert(&mut reg, client_key(client), conn)
    }

    fn insert(self: &Arc<Self>, reg: &mut Registry<C>, client: IpAddr, conn: Arc<C>) -> Slot<C> {
        crate::metrics::connection_opened();
        let id = reg.next_id;
        reg.next_id += 1;
        reg.conns.insert(id, conn);
        *reg.per_client.entry(client).or_insert(0) += 1;
        Slot {
            conns: self.clone(),
            id,
            client,
        }
    }

    /// At shutdown: closes the read side of every connection waiting
    /// between frames. A connection sets its idle flag before it checks
    /// `stopping`, and shutdown sets `stopping` before this reads the
    /// flags (both SeqCst): one side sees the other, so none is left
    /// blocked.
    pub(super) fn close_idle(&self) {
        for conn in self.registry().conns.values() {
            if conn.is_idle() {
                conn.shutdown(Shutdown::Read);
            }
        }
    }

    /// Waits for connections to finish, up to `grace`; then closes what is
    /// left and waits briefly for them to notice.
    pub(super) fn drain(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let mut reg = self.registry();
        while !reg.conns.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
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
        let deadline = Instant::now() + Duration::from_secs(2);
        while !reg.conns.is_empty() && Instant::now() < deadline {
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
pub(super) struct Slot<C: Live> {
    conns: Arc<Connections<C>>,
    id: u64,
    client: IpAddr,
}

impl<C: Live> Drop for Slot<C> {
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
