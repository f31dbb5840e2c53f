//! Addresses of the simulated network and helpers to build its stacks.
//!
//! The private range lives only on the in-process virtual wire (no kernel
//! socket ever sees it) or inside a network namespace in TAP mode.

use embassy_net::driver::Driver;
use embassy_net::{Config, Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};

/// The device's address.
pub const DEVICE_IP: Ipv4Address = Ipv4Address::new(10, 42, 0, 1);
/// The host side's address (the virtual wire's second stack, or the
/// kernel's TAP interface).
pub const HOST_IP: Ipv4Address = Ipv4Address::new(10, 42, 0, 2);
/// Prefix length of the simulated subnet.
pub const PREFIX_LEN: u8 = 24;
/// The device's MAC (locally administered, unicast).
pub const DEVICE_MAC: [u8; 6] = [0x02, 0x4a, 0x46, 0x00, 0x00, 0x01];
/// The host-side stack's MAC.
pub const HOST_MAC: [u8; 6] = [0x02, 0x4a, 0x46, 0x00, 0x00, 0x02];

/// A static IPv4 configuration on the simulated subnet.
fn static_config(ip: Ipv4Address) -> Config {
    Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, PREFIX_LEN),
        gateway: None,
        dns_servers: Default::default(),
    })
}

/// An embassy-net stack with the static address `ip` on `driver`.
pub fn stack<'d, D: Driver, const SOCKETS: usize>(
    driver: D,
    ip: Ipv4Address,
    resources: &'d mut StackResources<SOCKETS>,
    seed: u64,
) -> (Stack<'d>, Runner<'d, D>) {
    embassy_net::new(driver, static_config(ip), resources, seed)
}
