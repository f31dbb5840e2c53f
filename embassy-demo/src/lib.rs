//! # jframe-embassy-demo
//!
//! The jframe service of the embedded device, on an
//! [`embassy_net::Stack`]: it listens on TCP port 7 with a pool of sockets
//! and answers `upper`, `echo` and `greet` frames (SPEC.md), streaming
//! bodies of any size through fixed buffers of under 1 KiB.
//!
//! - [`device`]: a loop around core's sans-IO session
//!   ([`jframe::service::Session`]) and the socket pool
//!   ([`device::serve_socket`] is what firmware and the host simulator spawn,
//!   once per pool slot);
//! - [`stats`]: the device's own `stats` op beside SPEC's demo ops, written
//!   as a user writes a service;
//! - `sim` (host only): the in-process virtual Ethernet wire with fault
//!   injection and the loopback forwarder that `host-sim` is made of.
//!
//! The library is `no_std` and builds for `thumbv7em-none-eabihf`; everything
//! that needs std sits behind `cfg(not(target_os = "none"))`.
#![no_std]

#[cfg(not(target_os = "none"))]
extern crate std;

#[macro_use]
mod fmt;

pub mod device;
pub mod stats;

#[cfg(not(target_os = "none"))]
pub mod sim;

/// The guide to your own services (`docs/SERVICES.md`): its Rust code runs
/// as this crate's doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/SERVICES.md")]
pub struct ServicesGuide;
