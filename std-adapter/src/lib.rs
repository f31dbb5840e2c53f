//! jframe over `std::net`.
//!
//! - [`services`]: what std adds to core's engine through its extension
//!   point: Unicode `upper` and `get`;
//! - [`budget`]: the server-wide budget for bodies held whole;
//! - [`files`]: `get`, safely: name checks, root confinement, hashing;
//! - [`server`]: thin drivers around core's protocol engine: TCP with a
//!   thread per connection or on tokio (feature `tokio`), and UDP, with
//!   connection, size and time limits and graceful shutdown;
//! - [`client`]: TCP and UDP clients: `embedded-io-adapters`' `FromStd`
//!   around buffered `TcpStream` halves, driven by `jframe::io::blocking`
//!   (no second codec), and a verified download;
//! - [`call`]: a typed client over the TCP one (and an async one on tokio);
//! - [`conform`]: the SPEC conformance table and its TCP/UDP runners,
//!   behind `jframe conform`;
//! - [`metrics`]: what a server reports to Prometheus (recorded with the
//!   feature `metrics`);
//! - `load` (feature `cli`): the load generator behind `jframe load`;
//! - `proxy` (feature `cli`): the frame-aware proxy behind `jframe proxy`;
//! - `codec` (feature `tokio`): a tokio-util codec over jframe's decoder.
//!
//! # A server and a client
//!
//! ```
//! use std::time::Duration;
//! use jframe::Op;
//! use jframe_std::client::TcpClient;
//! use jframe_std::server::{Config, Server};
//!
//! // A server on a free loopback port (the threads driver; see `Driver`).
//! let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
//! let addr = server.local_addr()?;
//! let stop = server.shutdown_handle()?;
//! let running = std::thread::spawn(move || server.run());
//!
//! // Pipeline two requests, then read both replies in order.
//! let mut client = TcpClient::connect(addr, Duration::from_secs(5))?;
//! client.send_request(Op::Upper, b"hello")?;
//! client.send_request(Op::Greet, b"Michael")?;
//! client.flush()?;
//! assert_eq!(client.recv()?.unwrap().body, b"HELLO");
//! assert_eq!(client.recv()?.unwrap().body, b"Hello, Michael!");
//!
//! drop(client);
//! stop.shutdown();
//! running.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # tokio: `Framed` with `codec::JframeCodec` (feature `tokio`)
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use futures::{SinkExt, StreamExt};
//! use jframe::{Header, Op};
//! use jframe_std::codec::{Incoming, JframeCodec};
//! use jframe_std::server::{Config, Server};
//! use tokio_util::codec::Framed;
//!
//! let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
//! let addr = server.local_addr()?;
//! let stop = server.shutdown_handle()?;
//! let running = std::thread::spawn(move || server.run());
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let stream = tokio::net::TcpStream::connect(addr).await?;
//!     let mut framed = Framed::new(stream, JframeCodec::default());
//!     framed.send((Header::request(Op::Echo, 5), Bytes::from_static(b"hello"))).await?;
//!     match framed.next().await {
//!         Some(Ok(Incoming::Frame { header, body, .. })) => {
//!             assert_eq!(header.status(), Some(jframe::Status::Ok));
//!             assert_eq!(&body[..], b"hello"); // a slice of the read buffer, not a copy
//!         }
//!         other => panic!("{other:?}"),
//!     }
//!     Ok::<(), std::io::Error>(())
//! })?;
//!
//! stop.shutdown();
//! running.join().unwrap()?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```

pub mod budget;
pub mod call;
pub mod client;
#[cfg(feature = "tokio")]
pub mod codec;
pub mod conform;
pub mod files;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod json_line;
#[cfg(feature = "cli")]
pub mod load;
pub mod metrics;
#[cfg(feature = "cli")]
pub mod proxy;
pub mod server;
pub mod services;

/// Largest header accepted (SPEC: the std adapter defaults to 4096).
pub const MAX_HEADER: u32 = jframe::DEFAULT_MAX_HEADER_LEN;

/// Room for one encoded prefix and header: the largest header the std
/// adapter accepts (SPEC: "the std adapter defaults to 4096") behind its
/// prefix. Any header core encodes fits, even with every field at its
/// capacity and escaped: a 256-byte name of control characters alone takes
/// 1,536 bytes as `\u00XX` escapes (the test below).
pub const SCRATCH: usize = jframe::PREFIX_LEN + MAX_HEADER as usize;

/// Whether `e` says the peer closed or reset the connection: end of
/// stream where more was due, a reset, an abort, a broken pipe.
pub(crate) fn peer_closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

#[cfg(test)]
mod tests {
    use jframe::header::{ERROR_CAPACITY, NAME_CAPACITY, SHA256_CAPACITY};
    use jframe::{Header, Op, Status};

    #[test]
    fn scratch_holds_the_longest_header_core_encodes() {
        let escaped = |n: usize| "\u{1}".repeat(n);
        let mut header = Header::error_reply(Status::NotFound, &escaped(ERROR_CAPACITY))
            .with_name(&escaped(NAME_CAPACITY))
            .unwrap()
            .with_sha256(&escaped(SHA256_CAPACITY))
            .unwrap();
        header.op = Header::request(Op::Greet, 0).op;
        header.data_size = u64::MAX;
        let mut scratch = [0u8; super::SCRATCH];
        let n = jframe::encode_head(&mut scratch, &header).unwrap();
        assert!(n > 1024 + NAME_CAPACITY, "{n} bytes");
    }
}
