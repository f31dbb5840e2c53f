//! The protocol engine: everything SPEC says about requests, replies and
//! slow peers, written once, with no I/O and no clock of its own (like
//! quinn-proto's `Connection` and smoltcp's `poll(timestamp)`).
//!
//! - [`session`]: one connection, sans-IO: bytes and the time in, bytes to
//!   write and the next deadline out;
//! - [`time`]: the [`Instant`] a driver supplies, and the deadline rules;
//! - [`admission`]: which session makes room when a server is full, and the
//!   `busy` refusal;
//! - [`request`]: what a request gets: answered by which service, refused
//!   with which status, or (a reply) never answered (one crate-private
//!   decision, `plan`, for every transport), and the [`Limits`] it is held to;
//! - [`transform`]: the chunk-wise services `echo`, ASCII `upper`, `greet`;
//! - [`api`]: how users add their own endpoints ([`Service`], [`Answer`],
//!   [`Reply`], [`Fallback`]);
//! - [`demo`]: SPEC's demo ops (`upper`, `echo`, `greet`) as one service;
//! - [`engine`]: one call that serves a connection over an `embedded-io`
//!   or `embedded-io-async` stream;
//! - [`datagram`]: one request datagram to one reply datagram.
//!
//! A transport is a loop around these: it moves bytes between its socket
//! and the session and sleeps until the session's next deadline, nothing
//! more.

pub mod admission;
pub mod api;
mod buffers;
pub mod datagram;
pub mod demo;
mod end;
pub mod engine;
mod out;
pub mod request;
mod respond;
pub mod session;
pub mod time;
pub mod transform;

pub use admission::{Admission, Refused, admit};
pub use api::{Answer, Either, Fallback, NoKeys, Reply, Request, Service, Source, SourceError};
pub use buffers::{Buffers, Storage};
pub use demo::Demo;
pub use engine::Clock;
pub use request::{Limits, Message, Refusal};
pub use session::{Config, End, HEAD_RESERVE, Parked, Session};
pub use time::{Deadline, Instant, Timeouts};
pub use transform::Transform;
