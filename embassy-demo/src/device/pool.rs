//! The listening pool: what the slots of one port share, and the rules by
//! which a newcomer finds a listener (core's admission rule) and by which a
//! slot may start listening (never in front of another slot's handshake).

use core::cell::Cell;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, with_timeout};
use jframe::service::{Admission, Instant, admit};

/// What one slot of a [`Pool`] is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotState {
    /// Not listening and not serving (starting, or closing a connection).
    Down,
    /// About to listen, once no other slot is in a handshake (see
    /// [`Pool`]): counted as a listener when the pool decides it is full.
    Arming,
    /// Its socket is listening: the next client can land here.
    Listening,
    /// Its socket took a client's SYN and waits for the handshake's last
    /// ACK (SYN-RECEIVED): no other slot may start listening meanwhile.
    Handshake,
    /// Serving a connection that is inside a frame or writing a reply.
    Busy,
    /// Serving a connection that has been idle between frames since then.
    Idle(Instant),
    /// Chosen to make room for a new client: closing.
    Evicted,
}

/// One slot's shared state.
pub(super) struct SlotCell {
    state: Mutex<CriticalSectionRawMutex, Cell<SlotState>>,
    /// The pool was full while this slot's connection was inside a frame
    /// (its session is told to squeeze its body's grace).
    squeezed: Mutex<CriticalSectionRawMutex, Cell<bool>>,
    /// Wakes the slot's connection: it was evicted, or squeezed.
    wake: Signal<CriticalSectionRawMutex, ()>,
}

impl core::fmt::Debug for SlotCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SlotCell").field(&self.get()).finish()
    }
}

impl SlotCell {
    const fn new() -> Self {
        SlotCell {
            state: Mutex::new(Cell::new(SlotState::Down)),
            squeezed: Mutex::new(Cell::new(false)),
            wake: Signal::new(),
        }
    }

    pub(super) fn get(&self) -> SlotState {
        self.state.lock(Cell::get)
    }

    pub(super) fn set(&self, state: SlotState) {
        self.state.lock(|cell| cell.set(state));
    }
}

/// The listening pool of `N` sockets on one port: what its slots
/// ([`serve_socket`](super::serve_socket), one task each) share.
///
/// smoltcp answers a SYN that no listening socket takes with a reset, and
/// the device never learns of it, so the pool keeps one socket spare as its
/// way of seeing a new client: a client that takes the **last** listening
/// socket closes the connection that has been idle between frames longest
/// (it gets a FIN, as from a server ending an idle keep-alive), so a
/// listener is back within `EVICT_LINGER` (0.5 s); if every other connection is
/// inside a frame, the newcomer gets a `busy` reply at once and is closed.
/// So `N` sockets serve `N - 1` connections for sure, and silent peers
/// cannot pin the pool. `StackResources` must count all `N`.
///
/// A slot starts listening only while no other slot is in a handshake
/// (bounded by the write timeout, smoltcp's own bound on a handshake).
/// smoltcp offers each segment to its sockets in order and a SYN goes to
/// the first listener; a socket that began listening after another took a
/// client's SYN can sit in front of it, take that client's retransmitted
/// SYN (its SYN-ACK was lost), and reset the client when the ACK of the
/// other's SYN-ACK reaches it. With the gate every listener was there
/// before the SYN, so it sits behind the socket that took it.
///
/// The gate is best-effort: a slot publishes its handshake when its task
/// next polls `accept`, one executor turn after the stack took the SYN, so
/// a slot arming in that turn can still start listening in front of it.
/// Closing that window needs smoltcp to prefer the socket a segment's four
/// addresses match over a listener.
///
/// ```
/// use jframe_embassy_demo::device::Pool;
///
/// // 4 connections served at once, plus the spare; each slot goes to its
/// // own `serve_socket` task.
/// static POOL: Pool<5> = Pool::new();
/// let slots: Vec<_> = (0..5).map(|i| POOL.slot(i)).collect();
/// # assert_eq!(slots.len(), 5);
/// ```
#[derive(Debug)]
pub struct Pool<const N: usize> {
    slots: [SlotCell; N],
}

impl<const N: usize> Default for Pool<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Pool<N> {
    /// A pool whose slots are all down (a `static` is fine).
    pub const fn new() -> Self {
        Pool {
            slots: [const { SlotCell::new() }; N],
        }
    }

    /// Slot `index` (`0..N`), for one [`serve_socket`](super::serve_socket) task.
    ///
    /// # Panics
    ///
    /// If `index >= N`.
    pub fn slot(&self, index: usize) -> PoolSlot<'_> {
        assert!(index < N, "slot {index} of a pool of {N}");
        PoolSlot {
            all: &self.slots,
            me: index,
        }
    }
}

/// One slot of a [`Pool`].
#[derive(Debug, Clone, Copy)]
pub struct PoolSlot<'p> {
    all: &'p [SlotCell],
    me: usize,
}

impl PoolSlot<'_> {
    fn cell(&self) -> &SlotCell {
        &self.all[self.me]
    }

    /// A fresh start for a new connection: no wake or squeeze left over
    /// from the last one, and waiting to listen ([`SlotState::Arming`]).
    pub(super) fn arm(&self) {
        self.cell().wake.reset();
        self.cell().squeezed.lock(|c| c.set(false));
        self.set(SlotState::Arming);
    }

    /// Whether the pool squeezed this connection since last asked.
    pub(super) fn take_squeezed(&self) -> bool {
        self.cell().squeezed.lock(|c| c.replace(false))
    }

    /// Waits until the pool wakes this connection (evicted, or squeezed).
    pub(super) async fn woken(&self) {
        self.cell().wake.wait().await;
    }

    pub(super) fn state(&self) -> SlotState {
        self.cell().get()
    }

    pub(super) fn set(&self, state: SlotState) {
        self.cell().set(state);
    }

    /// Makes room for the client this slot just accepted (core's rule):
    /// with no other slot listening, the connection idle longest between
    /// frames is evicted; false if none is idle (the newcomer gets `busy`).
    pub(super) fn make_room(&self) -> bool {
        let full = !self
            .others()
            .any(|(_, c)| matches!(c.get(), SlotState::Listening | SlotState::Arming));
        let idle = self.others().map(|(i, c)| match c.get() {
            SlotState::Idle(since) => (i, Some(since)),
            _ => (i, None),
        });
        match admit(full, idle) {
            Admission::Admit => true,
            Admission::Evict(i) => {
                if let Some(cell) = self.all.get(i) {
                    cell.set(SlotState::Evicted);
                    cell.wake.signal(());
                }
                true
            }
            Admission::Busy => {
                // Every connection is inside a frame: their bodies lose the
                // grace meant for a lossy link (core's squeeze), so that
                // trickled bodies cannot keep newcomers at `busy`.
                for (_, cell) in self.others() {
                    if cell.get() == SlotState::Busy {
                        cell.squeezed.lock(|c| c.set(true));
                        cell.wake.signal(());
                    }
                }
                false
            }
        }
    }

    /// Whether another slot is in a handshake.
    fn handshake_elsewhere(&self) -> bool {
        self.others().any(|(_, c)| c.get() == SlotState::Handshake)
    }

    /// The other slots of the pool, with their indices.
    fn others(&self) -> impl Iterator<Item = (usize, &SlotCell)> {
        let me = self.me;
        self.all.iter().enumerate().filter(move |(i, _)| *i != me)
    }

    /// Waits (at most `limit`) until no other slot is in a handshake, so
    /// that this slot may start listening (see [`Pool`]).
    pub(super) async fn wait_for_handshakes(&self, limit: Duration) {
        let _ = with_timeout(limit, async {
            while self.handshake_elsewhere() {
                self.cell().wake.wait().await;
            }
        })
        .await;
    }

    /// This slot's handshake is over (its socket listens again, or the
    /// connection is up): the slots waiting to listen may.
    pub(super) fn handshake_over(&self) {
        self.set(SlotState::Listening);
        for (_, cell) in self.others() {
            if cell.get() == SlotState::Arming {
                cell.wake.signal(());
            }
        }
    }

    /// Publishes the session's idle state; an evicted slot stays evicted.
    pub(super) fn publish(&self, idle_since: Option<Instant>) {
        self.cell().state.lock(|cell| {
            if cell.get() != SlotState::Evicted {
                cell.set(match idle_since {
                    Some(since) => SlotState::Idle(since),
                    None => SlotState::Busy,
                });
            }
        });
    }
}
