//! Every fixed size of the crate, in one leaf module: the prefix, the
//! scanner's limits and the header model's string capacities. The modules
//! that own each meaning re-export it ([`crate::prefix`], [`crate::header`]);
//! it lives here so that the error messages can state these numbers without
//! `error` depending on the modules that report the errors.

/// Length of the prefix in bytes.
pub const PREFIX_LEN: usize = 4;

/// Shortest possible header: `{}`.
pub const MIN_HEADER_LEN: u32 = 2;

/// Deepest nesting a header may use; the top-level object counts as 1.
pub const MAX_DEPTH: u32 = 16;

/// Most top-level keys a header may have. The duplicate-key check compares
/// each key with the earlier ones, so without a cap its cost would grow with
/// the square of the header length.
pub const MAX_KEYS: usize = 64;

/// Capacity of `Header::op`, in bytes.
pub const OP_CAPACITY: usize = 16;
/// Capacity of `Header::name`, in bytes.
pub const NAME_CAPACITY: usize = 256;
/// Capacity of `Header::status`, in bytes.
pub const STATUS_CAPACITY: usize = 16;
/// Capacity of `Header::error`, in bytes: the longest error message a
/// reply carries ([`crate::error::Message`]).
pub const ERROR_CAPACITY: usize = 128;
/// Capacity of `Header::sha256`, in bytes (a hex SHA-256 digest).
pub const SHA256_CAPACITY: usize = 64;
