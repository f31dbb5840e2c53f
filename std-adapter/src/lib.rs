//! jframe over `std::net`.
//!
//! - [`stream`]: framed blocking streams: `embedded-io-adapters`' `FromStd`
//!   around buffered `TcpStream` halves, driven by `jframe::io::blocking`
//!   (no second codec);
//! - [`services`]: the SPEC services (upper, echo, greet) as pure functions;
//! - [`budget`]: the server-wide budget for bodies held whole;
//! - [`files`]: `get`, safely: name checks, root confinement, hashing;
//! - [`server`]: the thread-per-connection TCP server and the UDP server,
//!   with connection, size and time limits and graceful shutdown;
//! - [`client`]: TCP and UDP clients;
//! - [`conform`]: the SPEC conformance table and its TCP/UDP runners,
//!   behind `jframe conform`;
//! - `load` (feature `cli`): the load generator behind `jframe load`;
//! - `proxy` (feature `cli`): the frame-aware proxy behind `jframe proxy`;
//! - `codec` (feature `tokio`): a tokio-util codec over jframe's decoder.

pub mod budget;
pub mod client;
#[cfg(feature = "tokio")]
pub mod codec;
pub mod conform;
pub mod files;
#[cfg(feature = "cli")]
pub mod load;
#[cfg(feature = "cli")]
pub mod proxy;
pub mod server;
pub mod services;
pub mod stream;

/// Largest header accepted (SPEC: the std adapter defaults to 4096).
pub const MAX_HEADER: u32 = jframe::DEFAULT_MAX_HEADER_LEN;

/// Room for one encoded header (SPEC core: 1024 bytes always hold one).
pub const SCRATCH: usize = 1024;
