//! jframe echo service firmware for QEMU `mps2-an386` (Cortex-M4F).
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
use jframe_embassy_demo::echo::{ECHO_PORT, EchoConfig, serve_socket};
use static_cell::StaticCell;

/// Concurrent connections served (one task and one socket each).
const CONNECTIONS: usize = 4;
/// Per-connection TCP buffers.
const SOCKET_RX: usize = 1024;
const SOCKET_TX: usize = 1024;
/// QEMU user networking: guest 10.0.2.15/24, gateway (and host) 10.0.2.2.
const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const PREFIX: u8 = 24;
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, lan9118::Lan9118>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = CONNECTIONS)]
async fn echo_task(stack: Stack<'static>) -> ! {
    let mut rx = [0u8; SOCKET_RX];
    let mut tx = [0u8; SOCKET_TX];
    serve_socket(stack, &mut rx, &mut tx, &EchoConfig::default()).await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    logging::init(log::LevelFilter::Info);
    let Some(core) = cortex_m::Peripherals::take() else {
        logging::exit(false);
    };
    time_driver::init(core.SYST);

    let device = match lan9118::Lan9118::new() {
        Ok(device) => device,
        Err(e) => {
            log::error!("LAN9118 init failed: {e:?}");
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
        dns_servers: heapless::Vec::new(),
    });
    static RESOURCES: StaticCell<StackResources<{ CONNECTIONS + 1 }>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);

    log::info!(
        "jframe firmware: {ADDRESS}/{PREFIX} gw {GATEWAY}, mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, port {ECHO_PORT}, {CONNECTIONS} connections",
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    );
    spawner.spawn(net_task(runner).unwrap());
    for _ in 0..CONNECTIONS {
        spawner.spawn(echo_task(stack).unwrap());
    }
}
