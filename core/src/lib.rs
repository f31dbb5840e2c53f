//! # jframe
//!
//! Length-prefixed frames with a JSON header, as the classic Python socket
//! tutorials send them, in a `no_std`, allocation-free, panic-free codec:
//!
//! ```text
//! +-------------------+-----------------------------+----------------------+
//! | H: i32, LE, 4 B   | header: H bytes of JSON     | body: data_size bytes|
//! +-------------------+-----------------------------+----------------------+
//! ```
//!
//! - [`prefix`]: the 4-byte length prefix;
//! - [`header`]: the [`Header`] model and user serde types;
//! - [`decoder`]: the sans-IO incremental [`Decoder`];
//! - [`encoder`]: [`encode_frame`] / [`encode_head`];
//! - [`error`]: every error type, one per operation;
//! - [`io`]: read/write helpers over `embedded-io` and `embedded-io-async`;
//! - [`service`]: the protocol engine: SPEC's requests and replies, over any
//!   stream or datagram, with an extension point for what core cannot do.
//!
//! ```
//! use jframe::{Decoder, Event, Header, encode_frame};
//!
//! // Encode a frame the way jframe writes it...
//! let mut wire = [0u8; 64];
//! let n = encode_frame(&mut wire, &Header::new(2), b"hi").unwrap();
//! assert_eq!(&wire[..n], b"\x0f\x00\x00\x00{\"data_size\":2}hi");
//!
//! // ...and decode what a Python peer sends, one byte at a time.
//! let python = b"\x10\x00\x00\x00{\"data_size\": 2}hi";
//! let mut decoder = Decoder::new([0u8; 256]);
//! let mut got = None;
//! for byte in python.chunks(1) {
//!     let (used, event) = decoder.feed(byte);
//!     assert_eq!(used, 1);
//!     if let Event::Frame(frame) = event.unwrap() {
//!         got = Some((frame.header.data_size, frame.body.to_vec()));
//!     }
//! }
//! assert_eq!(got, Some((2, b"hi".to_vec())));
//! ```
//!
//! # Panics
//!
//! No function in this crate panics, whatever its input: indexing is
//! checked, arithmetic on lengths is checked or saturating, and nesting is
//! tracked without recursion. The `panic-never` check in `.ci/run` links a
//! release build whose panic handler does not exist to prove the optimizer
//! found no reachable panic.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Lengths cross u64/usize/u32/i32 boundaries everywhere here: never silently.
#![warn(clippy::cast_possible_truncation)]

#[cfg(test)]
extern crate std;

mod bounds;
mod codes;
mod copy;
mod decimal;
pub mod decoder;
pub mod encoder;
pub mod error;
pub mod header;
pub mod io;
mod parse;
// The header scanner is an implementation detail: its limits are public
// through `header`, and `header::validate` checks a header for other types.
mod json;
pub mod prefix;
pub mod service;

pub use decoder::{DecodeError, Decoder, Event, Frame, Head, Parse, parse_frame};
pub use encoder::{EncodeError, encode_frame, encode_head, encode_head_with};
pub use header::{
    CompactHeader, Header, HeaderError, Op, ParseHeader, Serde, ServiceHeader, Status,
    parse_header_as,
};
pub use io::{ReadError, Received, WriteError};
pub use prefix::{DEFAULT_MAX_HEADER_LEN, PREFIX_LEN};

/// The root README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
