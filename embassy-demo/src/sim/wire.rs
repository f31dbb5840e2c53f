//! The virtual Ethernet wire: two `embassy-net-driver-channel` devices whose
//! runners are joined by a task that moves frames both ways, and injects
//! faults on the way in the style of smoltcp's `FaultInjector`: a seeded
//! PRNG drops or corrupts a percentage of frames, frames above the MTU are
//! dropped, and a delay line holds each frame for a fixed time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::Context;
use std::vec::Vec;

use embassy_futures::join::join;
use embassy_futures::select::{Either, select};
use embassy_net::driver::{Capabilities, Driver, HardwareAddress, LinkState};
use embassy_net_driver_channel as channel;
use embassy_time::{Duration, Instant, Timer};

/// Largest Ethernet frame (without FCS) either end handles.
pub const MAX_MTU: usize = 1514;
/// Smallest MTU the wire accepts: room for Ethernet + IPv4 + TCP headers
/// and some payload.
pub const MIN_MTU: usize = 128;
/// Frames each end buffers in each direction.
const QUEUE: usize = 8;
/// Frames the delay line holds per direction before the wire stops taking
/// more (backpressure rather than loss, which only the PRNG decides).
const LINE_CAP: usize = 1024;

/// The shared storage of one end of the wire.
pub type PortState = channel::State<MAX_MTU, QUEUE, QUEUE>;

/// Fault injection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFaults {
    /// Percentage of frames dropped (0-100).
    pub drop_pct: u8,
    /// Percentage of frames with one bit flipped (0-100).
    pub corrupt_pct: u8,
    /// One-way latency added to every frame.
    pub delay: Duration,
    /// Largest frame carried; both stacks are told this MTU too.
    pub mtu: usize,
    /// PRNG seed: the same seed gives the same sequence of faults.
    pub seed: u64,
}

impl Default for WireFaults {
    fn default() -> Self {
        WireFaults {
            drop_pct: 0,
            corrupt_pct: 0,
            delay: Duration::from_ticks(0),
            mtu: MAX_MTU,
            seed: 1,
        }
    }
}

/// What the wire did, counted across both directions.
#[derive(Debug, Default)]
pub struct WireStats {
    /// Frames delivered (corrupted ones included).
    pub delivered: AtomicU64,
    /// Frames dropped by the PRNG.
    pub dropped: AtomicU64,
    /// Frames delivered with a flipped bit.
    pub corrupted: AtomicU64,
    /// Frames dropped for exceeding the MTU.
    pub oversize: AtomicU64,
}

impl WireStats {
    /// A one-line summary of the Ethernet frames the wire carried, e.g.
    /// `11 Ethernet frames delivered, 0 dropped, 0 corrupted, 0 oversize`.
    pub fn summary(&self) -> std::string::String {
        std::format!(
            "{} delivered, {} dropped, {} corrupted, {} oversize",
            super::forward::count(
                self.delivered.load(Relaxed),
                "Ethernet frame",
                "Ethernet frames"
            ),
            self.dropped.load(Relaxed),
            self.corrupted.load(Relaxed),
            self.oversize.load(Relaxed),
        )
    }
}

/// One end of the wire, as an embassy-net driver: the channel device with
/// the wire's MTU in its capabilities (the channel's own is the buffer size).
pub struct Port<'d> {
    inner: channel::Device<'d, MAX_MTU>,
    mtu: usize,
}

impl core::fmt::Debug for Port<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Port")
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}

impl<'d> Driver for Port<'d> {
    type RxToken<'a>
        = <channel::Device<'d, MAX_MTU> as Driver>::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = <channel::Device<'d, MAX_MTU> as Driver>::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.inner.receive(cx)
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(cx)
    }

    fn link_state(&mut self, cx: &mut Context) -> LinkState {
        self.inner.link_state(cx)
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.inner.capabilities();
        caps.max_transmission_unit = self.mtu;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        self.inner.hardware_address()
    }
}

/// The wire between two ports; [`Wire::run`] must be polled for frames to
/// move.
pub struct Wire<'d> {
    a: channel::Runner<'d, MAX_MTU>,
    b: channel::Runner<'d, MAX_MTU>,
    faults: WireFaults,
    stats: Arc<WireStats>,
}

impl core::fmt::Debug for Wire<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Wire")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

/// Builds the two ports (MACs `mac_a`, `mac_b`) and the wire between them.
/// `faults.mtu` is clamped to [`MIN_MTU`]..=[`MAX_MTU`].
///
/// Each port is an embassy-net driver: put a stack on each, and poll
/// [`Wire::run`] beside the stacks' runners (host-sim spawns each as a
/// task; the tests join them in one `block_on`).
///
/// ```
/// use std::sync::Arc;
///
/// use embassy_net::StackResources;
/// use jframe_embassy_demo::sim::net::{self, DEVICE_IP, DEVICE_MAC, HOST_IP, HOST_MAC};
/// use jframe_embassy_demo::sim::wire::{self, PortState, WireFaults, WireStats};
///
/// let faults = WireFaults { drop_pct: 5, seed: 42, ..WireFaults::default() };
/// let stats = Arc::new(WireStats::default());
/// let (device_port, host_port, wire) = wire::wire(
///     (Box::leak(Box::new(PortState::new())), DEVICE_MAC),
///     (Box::leak(Box::new(PortState::new())), HOST_MAC),
///     faults,
///     Arc::clone(&stats),
/// );
/// let device_resources = Box::leak(Box::new(StackResources::<4>::new()));
/// let host_resources = Box::leak(Box::new(StackResources::<4>::new()));
/// let (device, device_runner) = net::stack(device_port, DEVICE_IP, device_resources, 1);
/// let (host, host_runner) = net::stack(host_port, HOST_IP, host_resources, 2);
/// // Poll `wire.run()`, `device_runner.run()` and `host_runner.run()`,
/// // then serve on `device` and connect from `host`.
/// # let _ = (device, host, device_runner, host_runner, wire);
/// assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
/// ```
pub fn wire<'d>(
    (state_a, mac_a): (&'d mut PortState, [u8; 6]),
    (state_b, mac_b): (&'d mut PortState, [u8; 6]),
    mut faults: WireFaults,
    stats: Arc<WireStats>,
) -> (Port<'d>, Port<'d>, Wire<'d>) {
    faults.mtu = faults.mtu.clamp(MIN_MTU, MAX_MTU);
    faults.drop_pct = faults.drop_pct.min(100);
    faults.corrupt_pct = faults.corrupt_pct.min(100);
    let (a, dev_a) = channel::new(state_a, HardwareAddress::Ethernet(mac_a));
    let (b, dev_b) = channel::new(state_b, HardwareAddress::Ethernet(mac_b));
    let port = |inner| Port {
        inner,
        mtu: faults.mtu,
    };
    let (port_a, port_b) = (port(dev_a), port(dev_b));
    let wire = Wire {
        a,
        b,
        faults,
        stats,
    };
    (port_a, port_b, wire)
}

impl Wire<'_> {
    /// Moves frames both ways, forever.
    pub async fn run(self) -> ! {
        let (state_a, rx_a, tx_a) = self.a.split();
        let (state_b, rx_b, tx_b) = self.b.split();
        state_a.set_link_state(LinkState::Up);
        state_b.set_link_state(LinkState::Up);
        // Each direction has its own PRNG stream, so one direction's
        // traffic does not change the other's faults.
        let seed = self.faults.seed;
        let a_to_b = Direction::new(&self.faults, seed, &self.stats);
        let b_to_a = Direction::new(&self.faults, seed ^ 0x9e37_79b9_7f4a_7c15, &self.stats);
        join(a_to_b.run(tx_a, rx_b), b_to_a.run(tx_b, rx_a)).await;
        unreachable!("wire directions never end")
    }
}

/// One direction of the wire.
struct Direction<'s> {
    faults: &'s WireFaults,
    rng: fastrand::Rng,
    stats: &'s WireStats,
    /// Frames in flight with their delivery time.
    line: VecDeque<(Instant, Vec<u8>)>,
}

impl<'s> Direction<'s> {
    fn new(faults: &'s WireFaults, seed: u64, stats: &'s WireStats) -> Self {
        Direction {
            faults,
            rng: fastrand::Rng::with_seed(seed),
            stats,
            line: VecDeque::new(),
        }
    }

    async fn run(
        mut self,
        mut from: channel::TxRunner<'_, MAX_MTU>,
        mut to: channel::RxRunner<'_, MAX_MTU>,
    ) -> ! {
        loop {
            let due = self.line.front().map(|(at, _)| *at);
            let room = self.line.len() < LINE_CAP;
            let taken = async {
                if !room {
                    core::future::pending::<()>().await;
                }
                let frame = from.tx_buf().await.to_vec();
                from.tx_done();
                frame
            };
            let deadline = async {
                match due {
                    Some(at) => Timer::at(at).await,
                    None => core::future::pending().await,
                }
            };
            // Delivery first, so a busy sender cannot starve the line.
            match select(deadline, taken).await {
                Either::Second(frame) => {
                    if let Some(frame) = self.inject(frame) {
                        let at = Instant::now() + self.faults.delay;
                        self.line.push_back((at, frame));
                    }
                }
                Either::First(()) => {
                    if let Some((_, frame)) = self.line.pop_front() {
                        // Waits for room in the receiving stack's queue:
                        // a full queue slows the sender rather than losing
                        // frames the PRNG did not choose.
                        let buf = to.rx_buf().await;
                        if let Some(dst) = buf.get_mut(..frame.len()) {
                            dst.copy_from_slice(&frame);
                            to.rx_done(frame.len());
                            self.stats.delivered.fetch_add(1, Relaxed);
                        }
                    }
                }
            }
        }
    }

    /// Applies the faults to one frame: `None` if it is lost.
    fn inject(&mut self, mut frame: Vec<u8>) -> Option<Vec<u8>> {
        if frame.len() > self.faults.mtu {
            self.stats.oversize.fetch_add(1, Relaxed);
            return None;
        }
        if self.rng.u8(0..100) < self.faults.drop_pct {
            self.stats.dropped.fetch_add(1, Relaxed);
            return None;
        }
        if !frame.is_empty() && self.rng.u8(0..100) < self.faults.corrupt_pct {
            let at = self.rng.usize(0..frame.len());
            frame[at] ^= 1 << self.rng.u8(0..8);
            self.stats.corrupted.fetch_add(1, Relaxed);
        }
        Some(frame)
    }
}
