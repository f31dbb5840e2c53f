//! The names SPEC gives on the wire: a reply's [`Status`] and a request's
//! [`Op`], with their spellings.

use core::fmt;

/// The status codes of SPEC, as carried in a reply's `status` key.
///
/// # Example
///
/// ```
/// use jframe::Status;
///
/// assert_eq!(Status::from_wire("too_large"), Some(Status::TooLarge));
/// assert_eq!(Status::BadFrame.as_str(), "bad_frame");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Status {
    /// Success.
    Ok,
    /// `get` of a file that does not exist.
    NotFound,
    /// `get` outside the root, or without a root.
    Forbidden,
    /// The body is larger than the receiver accepts.
    TooLarge,
    /// The frame itself was malformed.
    BadFrame,
    /// A well-formed frame asking for something unknown or invalid.
    BadRequest,
    /// A datagram shorter than its header says.
    Truncated,
    /// The server is at its connection limit.
    Busy,
    /// Any other failure.
    Error,
}

impl Status {
    /// Every status, for iteration in tests and tools.
    pub const ALL: [Status; 9] = [
        Status::Ok,
        Status::NotFound,
        Status::Forbidden,
        Status::TooLarge,
        Status::BadFrame,
        Status::BadRequest,
        Status::Truncated,
        Status::Busy,
        Status::Error,
    ];

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NotFound => "not_found",
            Status::Forbidden => "forbidden",
            Status::TooLarge => "too_large",
            Status::BadFrame => "bad_frame",
            Status::BadRequest => "bad_request",
            Status::Truncated => "truncated",
            Status::Busy => "busy",
            Status::Error => "error",
        }
    }

    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The services of SPEC, as named by a request's `op` key.
///
/// # Example
///
/// ```
/// use jframe::{Header, Op};
///
/// assert_eq!(Op::from_wire("greet"), Some(Op::Greet));
/// assert_eq!(Header::request(Op::Get, 0).op.as_deref(), Some("get"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Op {
    /// Upper-case the body (the default when `op` is absent).
    Upper,
    /// Return the body verbatim.
    Echo,
    /// `Hello, <body>!`; `exit` ends the session.
    Greet,
    /// Fetch the file `name`.
    Get,
}

impl Op {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Upper => "upper",
            Op::Echo => "echo",
            Op::Greet => "greet",
            Op::Get => "get",
        }
    }

    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Op> {
        [Op::Upper, Op::Echo, Op::Greet, Op::Get]
            .into_iter()
            .find(|op| op.as_str() == s)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
