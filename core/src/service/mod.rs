//! The protocol engine: everything SPEC says about requests and replies,
//! written once, with no I/O of its own (like quinn-proto's core).
//!
//! - [`request`]: what a request gets ([`plan`]): answered by which service,
//!   refused with which status, or (a reply) never answered;
//! - [`transform`]: the chunk-wise services `echo`, ASCII `upper`, `greet`;
//! - [`extension`]: where a driver's crate plugs in what core cannot do
//!   (Unicode `upper`, `get`), without a copy of the dispatch;
//! - [`engine`]: a whole connection over any `embedded-io` or
//!   `embedded-io-async` stream;
//! - [`datagram`]: one request datagram to one reply datagram.
//!
//! A transport is a thin driver around these: it moves bytes between its
//! socket and the engine and applies its own timeouts, nothing more.

pub mod datagram;
pub mod engine;
pub mod extension;
pub mod request;
pub mod transform;

pub use engine::{Buffers, Config, Deadlines, End, Phase};
pub use extension::{Builtin, Claim, Extension, Source, SourceError};
pub use request::{Limits, Message, Plan, Refusal, plan};
pub use transform::Transform;
