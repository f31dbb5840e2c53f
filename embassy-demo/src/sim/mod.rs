//! The host simulator's parts (std only): two embassy-net stacks joined by
//! an in-process virtual Ethernet wire with fault injection ([`wire`]),
//! their addresses ([`net`]), and the loopback port forwarder that plays
//! QEMU's `hostfwd` ([`forward`]).

pub mod forward;
pub mod net;
mod relay;
pub mod wire;
