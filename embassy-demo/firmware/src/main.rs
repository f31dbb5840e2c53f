//! jframe device firmware for QEMU `mps2-an386` (Cortex-M4F).
//!
//! SysTick time driver, LAN9118 Ethernet, embassy-net with a static IPv4
//! address on QEMU's user network, and a pool of tasks each serving one TCP
//! connection on port 7. It never opens an outbound connection.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod interrupts;
mod lan9118;
mod logging;
mod time_driver;

use embassy_executor::Spawner;
use embassy_net::{Ipv4Address, Ipv4Cidr, Stack, StackResources, StaticConfigV4};
use jframe_embassy_demo::device::{PORT, DeviceConfig, Pool, PoolSlot, serve_socket};
use jframe_embassy_demo::stats;
use static_cell::StaticCell;

/// Concurrent connections served (one task and one socket each).
const CONNECTIONS: usize = 4;
/// Sockets on port 7: one more than the connections served, the spare
/// through which a new client on a full pool closes the connection idle
/// longest, or gets `busy` (`device::Pool`).
const SOCKETS: usize = CONNECTIONS + 1;
/// Per-connection TCP buffers.
const SOCKET_RX: usize = 1024;
const SOCKET_TX: usize = 1024;
/// QEMU user networking: guest 10.0.2.15/24, gateway (and host) 10.0.2.2.
const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const PREFIX: u8 = 24;
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

/// The network stack's runner, which holds the LAN9118's frame buffers.
type Runner = embassy_net::Runner<'static, lan9118::Lan9118>;

/// Takes the runner by reference: an `async fn` keeps a by-value argument
/// twice in its future (the argument and its binding), and a `Runner` is
/// 3 KiB.
#[embassy_executor::task]
async fn net_task(runner: &'static mut Runner) -> ! {
    runner.run().await
}

static POOL: Pool<SOCKETS> = Pool::new();

#[embassy_executor::task(pool_size = SOCKETS)]
async fn device_task(stack: Stack<'static>, slot: PoolSlot<'static>, config: &'static DeviceConfig) -> ! {
    let mut rx = [0u8; SOCKET_RX];
    let mut tx = [0u8; SOCKET_TX];
    serve_socket(stack, &mut rx, &mut tx, config, slot, stats::device_service).await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let Some(core) = cortex_m::Peripherals::take() else {
        logging::exit(false);
    };
    time_driver::init(core.SYST);

    let device = match lan9118::Lan9118::new() {
        Ok(device) => device,
        Err(e) => {
            defmt::error!("LAN9118 init failed: {}", e);
            logging::exit(false);
        }
    };
    let mac = device.mac();
    let seed = device.entropy()
        ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]);
    interrupts::enable_lan9118();

    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ADDRESS, PREFIX),
        gateway: Some(GATEWAY),
        dns_servers: Default::default(),
    });
    static RESOURCES: StaticCell<StackResources<{ SOCKETS + 1 }>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);

    // Numbers and addresses are formatted by the host (defmt), not by
    // `core::fmt` in flash.
    defmt::info!(
        "jframe firmware: {}/{=u8} gw {}, mac {=[u8]:02x}, port {=u16}, {=usize} connections",
        ADDRESS,
        PREFIX,
        GATEWAY,
        &mac[..],
        PORT,
        CONNECTIONS
    );
    static RUNNER: StaticCell<Runner> = StaticCell::new();
    spawner.spawn(net_task(RUNNER.init(runner)).unwrap());
    // One configuration for every task, rather than a copy in each.
    static CONFIG: StaticCell<DeviceConfig> = StaticCell::new();
    let config = CONFIG.init(DeviceConfig::default());
    for i in 0..SOCKETS {
        spawner.spawn(device_task(stack, POOL.slot(i), config).unwrap());
    }
}
