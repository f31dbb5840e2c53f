//! Conformance: one table of cases, every expectation taken from SPEC.md,
//! and the runners that play it against a server over TCP and UDP (the
//! library side of `jframe conform`, in the manner of h2spec).
//!
//! Each TCP case opens its own connection, writes its request bytes (in one
//! write, or in chunks), reads the replies it expects, in order, and then
//! checks what SPEC says happens next:
//!
//! - [`End::Open`]: the connection still serves. The runner proves it by
//!   appending [`probe`] (`{"data_size":2,"op":"echo"}ok`) to the request
//!   and expecting its `ok`/`ok` reply last.
//! - [`End::Closed`]: the server closes: after the expected replies, a read
//!   gives EOF or a reset within the timeout, and no further frame arrives.
//!   Fatal cases put a body and a probe after the bad header, so a server
//!   that wrongly goes on answers something and fails with a concrete reason.
//! - [`End::Stop`]: nothing is checked after the replies (the client ends
//!   the case, e.g. after `too_large` for a body it never sends).
//!
//! A UDP case sends one datagram and expects one reply datagram, or none
//! ([`Exchange::Udp`] with `reply: None`): nothing may arrive within
//! [`Options::no_reply_wait`], and a probe datagram sent afterwards must be
//! the next thing answered.
//!
//! Replies are parsed here, by a small reader independent of the `jframe`
//! codec, so that the tester does not share the bugs of what it tests.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one reply must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The reply header's `status`.
    pub status: &'static str,
    /// The exact body; `None`: any body (error replies).
    pub body: Option<Vec<u8>>,
}

impl Expect {
    /// `status: ok` with exactly this body.
    pub fn ok(body: &[u8]) -> Expect {
        Expect {
            status: "ok",
            body: Some(body.to_vec()),
        }
    }

    /// This status, any body (error replies carry a free-form message).
    pub fn status(status: &'static str) -> Expect {
        Expect { status, body: None }
    }
}

/// How a TCP case's request bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// One `write_all`.
    Whole,
    /// Writes of at most this many bytes each (with `TCP_NODELAY`).
    Chunks(usize),
}

/// What must happen on a TCP connection after the expected replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It still serves: [`probe`] is appended and its reply expected last.
    Open,
    /// The server closes (EOF or reset) and sends nothing more.
    Closed,
    /// Nothing is checked: the client ends the case.
    Stop,
}

/// The bytes a case exchanges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// A fresh TCP connection.
    Tcp {
        /// Everything the client writes (before the probe of [`End::Open`]).
        request: Vec<u8>,
        /// In one write or in chunks.
        writes: Writes,
        /// The replies, in order.
        replies: Vec<Expect>,
        /// What happens next.
        end: End,
    },
    /// One request datagram.
    Udp {
        /// The datagram.
        datagram: Vec<u8>,
        /// The reply datagram; `None`: no reply at all.
        reply: Option<Expect>,
    },
    /// One request datagram with this `op` and a body of `x`s, exactly as
    /// large as a UDP datagram can be on the server's address family
    /// (65,507 bytes over IPv4, 65,527 over IPv6), built by the runner.
    UdpFull {
        /// The request's `op`.
        op: &'static str,
        /// The reply datagram.
        reply: Expect,
    },
}

impl Exchange {
    /// True for the UDP exchanges.
    pub fn is_udp(&self) -> bool {
        !matches!(self, Exchange::Tcp { .. })
    }
}

/// One conformance case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// `tcp/...` or `udp/...`, unique.
    pub name: String,
    /// The SPEC rule the expectation comes from, printed on failure.
    pub why: &'static str,
    /// The bytes and the expectations.
    pub exchange: Exchange,
}

/// How to run the cases.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest wait for a connection, each reply, and the close.
    pub timeout: Duration,
    /// The server sends a welcome frame on connect: skip one leading frame.
    pub welcome: bool,
    /// Run only the cases whose name contains this.
    pub only: Option<String>,
    /// How long a UDP case that expects no reply listens before its probe.
    pub no_reply_wait: Duration,
    /// Cases run at once (each TCP case holds one connection).
    pub jobs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(3),
            welcome: false,
            only: None,
            no_reply_wait: Duration::from_millis(300),
            jobs: 1,
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The case's name.
    pub name: String,
    /// The case's SPEC rule.
    pub why: &'static str,
    /// `Err`: a concrete reason.
    pub result: Result<(), String>,
}

impl fmt::Display for Outcome {
    /// `ok   <name>`, or `FAIL <name>: <reason> [SPEC: <why>]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(()) => write!(f, "ok   {}", self.name),
            Err(reason) => write!(f, "FAIL {}: {reason} [SPEC: {}]", self.name, self.why),
        }
    }
}

/// A frame: the i32 little-endian header length, the header, the body.
pub fn frame(header: &[u8], body: &[u8]) -> Vec<u8> {
    let len = i32::try_from(header.len()).unwrap_or(i32::MAX);
    let mut v = Vec::with_capacity(4 + header.len() + body.len());
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(header);
    v.extend_from_slice(body);
    v
}

/// The frame that proves a connection (or a UDP service) still serves:
/// `{"data_size":2,"op":"echo"}ok`, answered `ok` / `ok`.
pub fn probe() -> Vec<u8> {
    frame(br#"{"data_size":2,"op":"echo"}"#, b"ok")
}

/// A body that is itself a frame (answered `ok` / `BAD` if a server parses
/// it instead of skipping it).
fn decoy() -> Vec<u8> {
    frame(br#"{"data_size":3,"op":"echo"}"#, b"BAD")
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn tcp(name: &str, why: &'static str, request: Vec<u8>, replies: Vec<Expect>, end: End) -> Case {
    Case {
        name: format!("tcp/{name}"),
        why,
        exchange: Exchange::Tcp {
            request,
            writes: Writes::Whole,
            replies,
            end,
        },
    }
}

fn udp(name: &str, why: &'static str, datagram: Vec<u8>, reply: Option<Expect>) -> Case {
    Case {
        name: format!("udp/{name}"),
        why,
        exchange: Exchange::Udp { datagram, reply },
    }
}

/// A header that is fatal: `bad_frame`, then close, with no reply to the
/// body and the probe written after it.
fn fatal(name: &str, why: &'static str, header: &[u8]) -> Case {
    tcp(
        &format!("fatal/{name}"),
        why,
        cat(&[&frame(header, b"hi"), &probe()]),
        vec![Expect::status("bad_frame")],
        End::Closed,
    )
}

/// A header that is recoverable: this status, the body (a decoy frame)
/// skipped exactly, then the probe answered.
fn recoverable(name: &str, why: &'static str, header: &str, status: &'static str) -> Case {
    let header = header.replace("N", &decoy().len().to_string());
    tcp(
        &format!("recover/{name}"),
        why,
        frame(header.as_bytes(), &decoy()),
        vec![Expect::status(status)],
        End::Open,
    )
}

/// A header nesting `depth` levels: the top object, then arrays (or objects)
/// in the value of key `x`; `data_size` first or last.
fn nested(depth: usize, objects: bool, size_first: bool) -> Vec<u8> {
    let inner = depth - 1;
    let (open, close) = if objects {
        (r#"{"x":"#, "}")
    } else {
        ("[", "]")
    };
    let mut value = String::new();
    for _ in 0..inner {
        value.push_str(open);
    }
    if objects {
        value.push('1');
    }
    for _ in 0..inner {
        value.push_str(close);
    }
    let h = if size_first {
        format!(r#"{{"data_size":2,"x":{value}}}"#)
    } else {
        format!(r#"{{"x":{value},"data_size":2}}"#)
    };
    h.into_bytes()
}

/// 65 top-level keys: `data_size` and `k01`..`k64`.
fn many_keys(size_first: bool) -> Vec<u8> {
    let keys: Vec<String> = (1..=64).map(|i| format!(r#""k{i:02}":0"#)).collect();
    let keys = keys.join(",");
    let h = if size_first {
        format!(r#"{{"data_size":2,{keys}}}"#)
    } else {
        format!(r#"{{{keys},"data_size":2}}"#)
    };
    h.into_bytes()
}

const WHY_VECTOR: &str = "Test vectors: this frame means `hi`, and `upper` is the default op";
const WHY_PREFIX: &str = "The frame / Errors and recovery: a prefix H < 2 or above the header limit is rejected before the header is read; fatal: bad_frame, then close";
const WHY_UPPER: &str = "Services: upper upper-cases ASCII like Python's str.upper";
const WHY_ECHO: &str = "Services: echo returns the body verbatim";
const WHY_GREET: &str = "Services: greet answers `Hello, <body>!`";
const WHY_EXIT: &str = "Services: a greet body of `exit` ends the session: reply `Bye!` and close";
const WHY_EMPTY: &str = "The frame: data_size is a non-negative integer, 0 included";
const WHY_PIPELINE: &str = "Services / Transports: every request gets exactly one reply, in request order, so clients may pipeline, however the bytes are split";
const WHY_HEADER_FORMS: &str = "The frame: any JSON whitespace, any key order, escaped strings, unknown keys (nested objects and arrays too) are accepted";
const WHY_NEST_OK: &str =
    "The frame: nesting deeper than 16 levels is an error, so 16 (the top object counts) is not";
const WHY_ALIAS_AGREE: &str =
    "The frame: a header with both size and data_size is valid when they agree";
const WHY_BAD_REQUEST: &str = "Errors and recovery: a well-formed header with a valid data_size whose other keys are wrong (unknown op, wrong type) is recoverable: bad_request, skip exactly data_size bytes, go on";
const WHY_UNREPRESENTABLE: &str = "Errors and recovery: a body over the receiver's limit is too_large, answered before the body is read; greet's reply to a 2^64-1-byte body has no representable size on any implementation";
const WHY_SYNTAX: &str = "Errors and recovery: a header that is not well-formed JSON is fatal (bad_frame, close) whatever the order of the keys";
const WHY_NOT_OBJECT: &str =
    "The frame / Errors and recovery: the header must be one JSON object; anything else is fatal";
const WHY_TRAILING: &str = "Errors and recovery: trailing bytes after the header object are fatal";
const WHY_NESTING: &str =
    "Errors and recovery: nesting deeper than 16 (the top object is level 1) is fatal";
const WHY_KEYS: &str = "Errors and recovery: more keys than the receiver's limit is fatal (the limit is 64 top-level keys)";
const WHY_DUP: &str = "Errors and recovery: a duplicate key (compared after unescaping) is fatal: receivers could disagree on which value counts";
const WHY_UTF8: &str = "Errors and recovery: a header that is not UTF-8 is fatal";
const WHY_MISSING: &str = "Errors and recovery: a header without data_size (or size) is fatal: the body's length is unknown";
const WHY_NOT_INTEGER: &str = "Errors and recovery: a data_size that is not a non-negative integer (written as digits, at most 2^64-1) is fatal; 1e3 and 2.0 are floats to JSON readers such as Python's";
const WHY_DISAGREE: &str = "Errors and recovery: size and data_size that disagree are fatal";
const WHY_SMUGGLE: &str = "Errors and recovery: after a fatal header (here a duplicate op) the server closes; the body, a complete get frame, must never be answered (frame smuggling)";
const WHY_REPLY: &str = "Errors and recovery: a frame that carries status is a reply; a TCP server never answers one and closes the connection";
const WHY_BOUNDARY: &str = "Errors and recovery / Services: every transport gives the same status and outcome for the same bytes, whatever its buffer sizes: a frame that ends exactly at a buffer's end, a header that fills a device's frame buffer, and a greet of `exit` however its body arrives";
const WHY_UDP_TRUNCATED: &str =
    "Transports: a datagram shorter than its header says is answered with truncated";
const WHY_UDP_FATAL: &str = "Errors and recovery / Transports: the same bytes get the same status on every transport: a bad prefix or malformed header is bad_frame";
const WHY_UDP_REPLY: &str =
    "Errors and recovery / Transports: datagrams that carry status (replies) are never answered";
const WHY_UDP_TOO_LARGE: &str = "Transports: a request whose reply would not fit one datagram is answered with too_large, never with silence";
const WHY_UDP_UNREPRESENTABLE: &str = "Transports: a datagram shorter than its header says is truncated; that is a property of the bytes alone, decided before any limit or service (too_large depends on the receiver), so it comes first";

/// A header of exactly `len` bytes: `{"data_size":N,"op":OP,"pad":"ppp…"}`.
fn padded_header(len: usize, op: &str, data_size: usize) -> Vec<u8> {
    let bare = format!(r#"{{"data_size":{data_size},"op":"{op}","pad":""}}"#);
    let pad = len.saturating_sub(bare.len());
    format!(
        r#"{{"data_size":{data_size},"op":"{op}","pad":"{}"}}"#,
        "p".repeat(pad)
    )
    .into_bytes()
}

/// The cases at drivers' buffer sizes: the device's 256-byte frame and read
/// buffers (and its 256-byte header limit), the tokio driver's 4 KiB and
/// the threads driver's 8 KiB reads; a prefix split at every byte.
fn boundary_cases() -> Vec<Case> {
    let hi = |h: &str| frame(h.as_bytes(), b"hi");
    let chunked = |mut case: Case, by: Writes| {
        if let Exchange::Tcp { writes, .. } = &mut case.exchange {
            *writes = by;
        }
        case
    };
    let mut v = Vec::new();
    // greet of exit whose header exactly fills the device's frame buffer:
    // the body cannot be held with it, and `exit` is `Bye!` all the same.
    let exit = frame(&padded_header(256, "greet", 4), b"exit");
    for (name, writes) in [("whole", Writes::Whole), ("bytewise", Writes::Chunks(1))] {
        let case = tcp(
            &format!("boundary/greet-exit-header-256/{name}"),
            WHY_BOUNDARY,
            cat(&[&exit, &probe()]),
            vec![Expect::ok(b"Bye!")],
            End::Closed,
        );
        v.push(chunked(case, writes));
    }
    // A greet that is not exit, at the same boundary.
    v.push(tcp(
        "boundary/greet-exot-header-256",
        WHY_BOUNDARY,
        frame(&padded_header(256, "greet", 4), b"exot"),
        vec![Expect::ok(b"Hello, exot!")],
        End::Open,
    ));
    // Frames that end exactly at a read buffer's end, and the next one
    // starting there.
    for total in [256usize, 4096, 8192] {
        let size = total - 4 - 60;
        let header = padded_header(60, "echo", size);
        let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        v.push(tcp(
            &format!("boundary/frame-ends-at-{total}"),
            WHY_BOUNDARY,
            frame(&header, &body),
            vec![Expect::ok(&body)],
            End::Open,
        ));
        v.push(tcp(
            &format!("boundary/second-frame-starts-at-{total}"),
            WHY_BOUNDARY,
            cat(&[&frame(&header, &body), &frame(&header, &body)]),
            vec![Expect::ok(&body), Expect::ok(&body)],
            End::Open,
        ));
    }
    // A header and body that exactly fill a 256-byte frame buffer.
    for (header_len, body_len) in [(200usize, 56usize), (250, 6), (100, 156)] {
        let body = vec![b'z'; body_len];
        v.push(tcp(
            &format!("boundary/header-{header_len}-body-{body_len}"),
            WHY_BOUNDARY,
            frame(&padded_header(header_len, "echo", body_len), &body),
            vec![Expect::ok(&body)],
            End::Open,
        ));
    }
    // A prefix split at every byte (and every frame after it too).
    for by in [1usize, 2, 3] {
        let case = tcp(
            &format!("boundary/prefix-split-by-{by}"),
            WHY_BOUNDARY,
            cat(&[
                &hi(r#"{"data_size": 2}"#),
                &hi(r#"{"data_size":2,"op":"echo"}"#),
            ]),
            vec![Expect::ok(b"HI"), Expect::ok(b"hi")],
            End::Open,
        );
        v.push(chunked(case, Writes::Chunks(by)));
    }
    v
}

/// The table: every case, TCP first, then UDP.
pub fn cases() -> Vec<Case> {
    let hi = |h: &str| frame(h.as_bytes(), b"hi");
    let mut v = vec![
        // SPEC test vectors.
        tcp(
            "vector/python-dialect",
            WHY_VECTOR,
            hi(r#"{"data_size": 2}"#),
            vec![Expect::ok(b"HI")],
            End::Open,
        ),
        tcp(
            "vector/jframe-dialect",
            WHY_VECTOR,
            hi(r#"{"data_size":2}"#),
            vec![Expect::ok(b"HI")],
            End::Open,
        ),
        tcp(
            "vector/size-alias",
            WHY_VECTOR,
            hi(r#"{"size": 2}"#),
            vec![Expect::ok(b"HI")],
            End::Open,
        ),
        tcp(
            "vector/negative-prefix",
            WHY_PREFIX,
            (-5i32).to_le_bytes().to_vec(),
            vec![Expect::status("bad_frame")],
            End::Closed,
        ),
        // Prefixes (only the prefix is sent: it must be judged alone).
        tcp(
            "prefix/over-every-limit",
            WHY_PREFIX,
            0x7fff_0000i32.to_le_bytes().to_vec(),
            vec![Expect::status("bad_frame")],
            End::Closed,
        ),
        tcp(
            "prefix/one",
            WHY_PREFIX,
            1i32.to_le_bytes().to_vec(),
            vec![Expect::status("bad_frame")],
            End::Closed,
        ),
        tcp(
            "prefix/zero",
            WHY_PREFIX,
            0i32.to_le_bytes().to_vec(),
            vec![Expect::status("bad_frame")],
            End::Closed,
        ),
        // Services.
        tcp(
            "service/echo",
            WHY_ECHO,
            frame(br#"{"data_size":9,"op":"echo"}"#, b"MiXeD 1!x"),
            vec![Expect::ok(b"MiXeD 1!x")],
            End::Open,
        ),
        tcp(
            "service/upper-ascii",
            WHY_UPPER,
            frame(br#"{"data_size":16,"op":"upper"}"#, b"hello, World 09!"),
            vec![Expect::ok(b"HELLO, WORLD 09!")],
            End::Open,
        ),
        tcp(
            "service/greet",
            WHY_GREET,
            frame(br#"{"data_size":7,"op":"greet"}"#, b"Michael"),
            vec![Expect::ok(b"Hello, Michael!")],
            End::Open,
        ),
        tcp(
            "service/greet-exit",
            WHY_EXIT,
            cat(&[
                &frame(br#"{"data_size":4,"op":"greet"}"#, b"exit"),
                &probe(),
            ]),
            vec![Expect::ok(b"Bye!")],
            End::Closed,
        ),
        tcp(
            "service/echo-empty",
            WHY_EMPTY,
            frame(br#"{"data_size":0,"op":"echo"}"#, b""),
            vec![Expect::ok(b"")],
            End::Open,
        ),
    ];

    // Pipelining.
    let three = cat(&[
        &frame(br#"{"data_size":3}"#, b"abc"),
        &frame(br#"{"data_size":5,"op":"echo"}"#, b"MiXeD"),
        &frame(br#"{"data_size":2,"op":"greet"}"#, b"Al"),
    ]);
    let three_replies = vec![
        Expect::ok(b"ABC"),
        Expect::ok(b"MiXeD"),
        Expect::ok(b"Hello, Al!"),
    ];
    v.push(tcp(
        "pipeline/one-write",
        WHY_PIPELINE,
        three.clone(),
        three_replies.clone(),
        End::Open,
    ));
    let mut bytewise = tcp(
        "pipeline/byte-at-a-time",
        WHY_PIPELINE,
        three,
        three_replies,
        End::Open,
    );
    if let Exchange::Tcp { writes, .. } = &mut bytewise.exchange {
        *writes = Writes::Chunks(1);
    }
    v.push(bytewise);
    let shout = format!(r#"{{"data_size":{},"op":"shout"}}"#, decoy().len());
    v.push(tcp(
        "pipeline/error-in-the-middle",
        WHY_PIPELINE,
        cat(&[
            &frame(br#"{"data_size":1}"#, b"a"),
            &frame(shout.as_bytes(), &decoy()),
            &frame(br#"{"data_size":1,"op":"echo"}"#, b"b"),
        ]),
        vec![
            Expect::ok(b"A"),
            Expect::status("bad_request"),
            Expect::ok(b"b"),
        ],
        End::Open,
    ));

    // Header forms that must be accepted.
    for (name, header, why) in [
        (
            "whitespace",
            "{ \"data_size\" :\t2 ,\r\n \"op\" : \"echo\" }",
            WHY_HEADER_FORMS,
        ),
        (
            "key-order",
            r#"{"op":"echo","data_size":2}"#,
            WHY_HEADER_FORMS,
        ),
        (
            "unknown-keys",
            r#"{"data_size":2,"x":{"y":[1,2.5,{"z":null}],"w":"\"}"},"op":"echo","t":true,"u":[]}"#,
            WHY_HEADER_FORMS,
        ),
        (
            "escaped-op",
            r#"{"data_size":2,"op":"\u0065cho"}"#,
            WHY_HEADER_FORMS,
        ),
        (
            "size-and-data_size-agree",
            r#"{"data_size":2,"size":2,"op":"echo"}"#,
            WHY_ALIAS_AGREE,
        ),
    ] {
        v.push(tcp(
            &format!("header/{name}"),
            why,
            hi(header),
            vec![Expect::ok(b"hi")],
            End::Open,
        ));
    }
    v.push(tcp(
        "header/nesting-16",
        WHY_NEST_OK,
        frame(&nested(16, false, true), b"hi"),
        vec![Expect::ok(b"HI")],
        End::Open,
    ));

    // Recoverable: error reply, body (a decoy frame) skipped, connection open.
    for (name, header) in [
        ("unknown-op", r#"{"data_size":N,"op":"shout"}"#),
        ("unknown-op/size-last", r#"{"op":"shout","data_size":N}"#),
        ("op-number", r#"{"data_size":N,"op":5}"#),
        ("op-array", r#"{"data_size":N,"op":["x"]}"#),
        ("op-object", r#"{"op":{},"data_size":N}"#),
    ] {
        v.push(recoverable(name, WHY_BAD_REQUEST, header, "bad_request"));
    }
    v.push(tcp(
        "recover/greet-unrepresentable-reply",
        WHY_UNREPRESENTABLE,
        frame(br#"{"data_size":18446744073709551615,"op":"greet"}"#, b""),
        vec![Expect::status("too_large")],
        End::Stop,
    ));

    // Fatal: bad_frame, close; data_size before and after the offence.
    let fatal_headers: Vec<(&str, &'static str, Vec<u8>)> = vec![
        (
            "json-syntax/size-first",
            WHY_SYNTAX,
            br#"{"data_size":2,"x":nope}"#.to_vec(),
        ),
        (
            "json-syntax/size-last",
            WHY_SYNTAX,
            br#"{"x":nope,"data_size":2}"#.to_vec(),
        ),
        (
            "json-syntax/unterminated",
            WHY_SYNTAX,
            br#"{"data_size":2,"#.to_vec(),
        ),
        (
            "json-syntax/trailing-comma",
            WHY_SYNTAX,
            br#"{"data_size":2,}"#.to_vec(),
        ),
        (
            "json-syntax/single-quotes",
            WHY_SYNTAX,
            br#"{'data_size':2}"#.to_vec(),
        ),
        ("not-object/array", WHY_NOT_OBJECT, br#"[1]"#.to_vec()),
        ("not-object/string", WHY_NOT_OBJECT, br#""x""#.to_vec()),
        (
            "not-object/array-of-header",
            WHY_NOT_OBJECT,
            br#"[{"data_size":2}]"#.to_vec(),
        ),
        (
            "trailing/byte",
            WHY_TRAILING,
            br#"{"data_size":2}x"#.to_vec(),
        ),
        (
            "trailing/object-size-first",
            WHY_TRAILING,
            br#"{"data_size":2}{"x":1}"#.to_vec(),
        ),
        (
            "trailing/object-size-last",
            WHY_TRAILING,
            br#"{"x":1}{"data_size":2}"#.to_vec(),
        ),
        (
            "nesting-17/size-first",
            WHY_NESTING,
            nested(17, false, true),
        ),
        (
            "nesting-17/size-last",
            WHY_NESTING,
            nested(17, false, false),
        ),
        ("nesting-17/objects", WHY_NESTING, nested(17, true, true)),
        ("65-keys/size-first", WHY_KEYS, many_keys(true)),
        ("65-keys/size-last", WHY_KEYS, many_keys(false)),
        (
            "duplicate-key/size-first",
            WHY_DUP,
            br#"{"data_size":2,"x":1,"x":2}"#.to_vec(),
        ),
        (
            "duplicate-key/size-last",
            WHY_DUP,
            br#"{"x":1,"x":2,"data_size":2}"#.to_vec(),
        ),
        (
            "duplicate-op/size-first",
            WHY_DUP,
            br#"{"data_size":2,"op":"echo","op":"echo"}"#.to_vec(),
        ),
        (
            "duplicate-op/size-last",
            WHY_DUP,
            br#"{"op":"echo","op":"echo","data_size":2}"#.to_vec(),
        ),
        (
            "duplicate-op/escaped",
            WHY_DUP,
            br#"{"data_size":2,"op":"echo","\u006fp":"echo"}"#.to_vec(),
        ),
        (
            "duplicate-data_size/same-value",
            WHY_DUP,
            br#"{"data_size":2,"data_size":2}"#.to_vec(),
        ),
        (
            "duplicate-data_size/escaped",
            WHY_DUP,
            br#"{"data_size":2,"data\u005fsize":5}"#.to_vec(),
        ),
        (
            "duplicate-size",
            WHY_DUP,
            br#"{"size":2,"size":2}"#.to_vec(),
        ),
        (
            "utf8/size-first",
            WHY_UTF8,
            b"{\"data_size\":2,\"x\":\"\xff\"}".to_vec(),
        ),
        (
            "utf8/size-last",
            WHY_UTF8,
            b"{\"x\":\"\xff\",\"data_size\":2}".to_vec(),
        ),
        (
            "utf8/overlong",
            WHY_UTF8,
            b"{\"data_size\":2,\"x\":\"\xc0\xaf\"}".to_vec(),
        ),
        (
            "utf8/surrogate",
            WHY_UTF8,
            b"{\"data_size\":2,\"x\":\"\xed\xa0\x80\"}".to_vec(),
        ),
        (
            "utf8/in-key",
            WHY_UTF8,
            b"{\"data_size\":2,\"\xff\":1}".to_vec(),
        ),
        (
            "missing-data_size",
            WHY_MISSING,
            br#"{"op":"echo"}"#.to_vec(),
        ),
        (
            "missing-data_size/empty-object",
            WHY_MISSING,
            br#"{}"#.to_vec(),
        ),
        (
            "size-alias/negative",
            WHY_NOT_INTEGER,
            br#"{"size":-2}"#.to_vec(),
        ),
        (
            "size-disagrees/size-first",
            WHY_DISAGREE,
            br#"{"data_size":2,"size":3}"#.to_vec(),
        ),
        (
            "size-disagrees/size-last",
            WHY_DISAGREE,
            br#"{"size":3,"data_size":2}"#.to_vec(),
        ),
    ];
    for (name, why, header) in fatal_headers {
        v.push(fatal(name, why, &header));
    }
    for (name, value) in [
        ("negative", "-2"),
        ("fraction", "1.5"),
        ("string", r#""2""#),
        ("exponent", "1e3"),
        ("float-integral", "2.0"),
        ("2^64", "18446744073709551616"),
        ("null", "null"),
    ] {
        let first = format!(r#"{{"data_size":{value},"op":"echo"}}"#);
        let last = format!(r#"{{"op":"echo","data_size":{value}}}"#);
        v.push(fatal(
            &format!("data_size-{name}/size-first"),
            WHY_NOT_INTEGER,
            first.as_bytes(),
        ));
        v.push(fatal(
            &format!("data_size-{name}/size-last"),
            WHY_NOT_INTEGER,
            last.as_bytes(),
        ));
    }
    // The smuggling shape: a duplicate op hides a complete get frame in the
    // body; exactly one reply (bad_frame), then close.
    let smuggled = frame(br#"{"data_size":0,"op":"get","name":"x"}"#, b"");
    let carrier = format!(
        r#"{{"op":"echo","op":"echo","data_size":{}}}"#,
        smuggled.len()
    );
    v.push(tcp(
        "fatal/smuggle-duplicate-op",
        WHY_SMUGGLE,
        frame(carrier.as_bytes(), &smuggled),
        vec![Expect::status("bad_frame")],
        End::Closed,
    ));
    // Replies sent to a server: never answered, connection closed.
    v.push(tcp(
        "reply/ok",
        WHY_REPLY,
        cat(&[&hi(r#"{"data_size":2,"status":"ok"}"#), &probe()]),
        vec![],
        End::Closed,
    ));
    v.push(tcp(
        "reply/error",
        WHY_REPLY,
        cat(&[
            &frame(br#"{"data_size":0,"status":"bad_frame","error":"x"}"#, b""),
            &probe(),
        ]),
        vec![],
        End::Closed,
    ));

    v.extend(boundary_cases());

    // UDP.
    for (name, header) in [
        ("vector/python-dialect", r#"{"data_size": 2}"#),
        ("vector/jframe-dialect", r#"{"data_size":2}"#),
        ("vector/size-alias", r#"{"size": 2}"#),
    ] {
        v.push(udp(name, WHY_VECTOR, hi(header), Some(Expect::ok(b"HI"))));
    }
    v.extend([
        udp(
            "vector/negative-prefix",
            WHY_UDP_FATAL,
            (-5i32).to_le_bytes().to_vec(),
            Some(Expect::status("bad_frame")),
        ),
        udp(
            "service/echo",
            WHY_ECHO,
            frame(br#"{"data_size":5,"op":"echo"}"#, b"MiXeD"),
            Some(Expect::ok(b"MiXeD")),
        ),
        udp(
            "service/greet",
            WHY_GREET,
            frame(br#"{"data_size":7,"op":"greet"}"#, b"Michael"),
            Some(Expect::ok(b"Hello, Michael!")),
        ),
        udp(
            "recover/unknown-op",
            WHY_BAD_REQUEST,
            hi(r#"{"data_size":2,"op":"shout"}"#),
            Some(Expect::status("bad_request")),
        ),
        udp(
            "truncated",
            WHY_UDP_TRUNCATED,
            hi(r#"{"data_size":10,"op":"echo"}"#),
            Some(Expect::status("truncated")),
        ),
        udp(
            "fatal/json-syntax",
            WHY_UDP_FATAL,
            hi(r#"{"data_size":2,"x":nope}"#),
            Some(Expect::status("bad_frame")),
        ),
        udp(
            "fatal/duplicate-key",
            WHY_UDP_FATAL,
            hi(r#"{"data_size":2,"x":1,"x":2}"#),
            Some(Expect::status("bad_frame")),
        ),
        udp(
            "fatal/missing-data_size",
            WHY_UDP_FATAL,
            hi(r#"{"op":"echo"}"#),
            Some(Expect::status("bad_frame")),
        ),
        udp(
            "reply/ok",
            WHY_UDP_REPLY,
            hi(r#"{"data_size":2,"status":"ok"}"#),
            None,
        ),
        udp(
            "reply/error",
            WHY_UDP_REPLY,
            frame(br#"{"data_size":0,"status":"bad_frame"}"#, b""),
            None,
        ),
        Case {
            name: "udp/too-large/greet-fills-the-datagram".into(),
            why: WHY_UDP_TOO_LARGE,
            exchange: Exchange::UdpFull {
                op: "greet",
                reply: Expect::status("too_large"),
            },
        },
        // data_size 2^64-1 in a short datagram: both `truncated` (the
        // datagram is shorter than its header says) and, for greet, an
        // unrepresentable reply. SPEC's datagram rule is unconditional and
        // depends on the bytes alone, while too_large depends on limits and
        // services, which only apply to a complete request: truncated.
        udp(
            "truncated/greet-2^64-1",
            WHY_UDP_UNREPRESENTABLE,
            frame(br#"{"data_size":18446744073709551615,"op":"greet"}"#, b""),
            Some(Expect::status("truncated")),
        ),
    ]);
    v
}

/// Largest UDP payload on `addr`'s family (without IPv6 jumbograms).
pub fn udp_max_payload(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 65_507,
        SocketAddr::V6(_) => 65_527,
    }
}

/// The datagram of an [`Exchange::UdpFull`]: exactly `max` bytes.
fn full_datagram(op: &str, max: usize) -> Vec<u8> {
    // The header's length depends on the digits of data_size: settle it.
    let mut n = max;
    for _ in 0..8 {
        let header = format!(r#"{{"data_size":{n},"op":"{op}"}}"#);
        let want = max.saturating_sub(4 + header.len());
        if want == n {
            break;
        }
        n = want;
    }
    let header = format!(r#"{{"data_size":{n},"op":"{op}"}}"#);
    frame(header.as_bytes(), &vec![b'x'; n])
}

// ---------------------------------------------------------------------------
// Running.

/// Runs every TCP case (matching [`Options::only`]) against `addr`.
pub fn run_tcp(addr: SocketAddr, opts: &Options) -> Vec<Outcome> {
    run(&cases(), Some(addr), None, opts, &|_| {})
}

/// Runs every UDP case (matching [`Options::only`]) against `addr`.
pub fn run_udp(addr: SocketAddr, opts: &Options) -> Vec<Outcome> {
    run(&cases(), None, Some(addr), opts, &|_| {})
}

/// Runs `cases` (those matching [`Options::only`], TCP ones only with a
/// `tcp` address, UDP ones only with a `udp` address), `opts.jobs` at a
/// time. `done` sees each outcome in table order, as soon as it and every
/// one before it are known. Returns the outcomes in table order.
pub fn run(
    cases: &[Case],
    tcp: Option<SocketAddr>,
    udp: Option<SocketAddr>,
    opts: &Options,
    done: &(dyn Fn(&Outcome) + Sync),
) -> Vec<Outcome> {
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| opts.only.as_deref().is_none_or(|s| c.name.contains(s)))
        .filter(|c| {
            if c.exchange.is_udp() {
                udp.is_some()
            } else {
                tcp.is_some()
            }
        })
        .collect();
    // The outcomes so far, and how many of them `done` has seen.
    let results: Mutex<(Vec<Option<Outcome>>, usize)> = Mutex::new((vec![None; selected.len()], 0));
    let next = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(case) = selected.get(i) else { break };
            let result = match (&case.exchange, tcp, udp) {
                (Exchange::Tcp { .. }, Some(addr), _) => run_tcp_case(case, addr, opts),
                (_, _, Some(addr)) => run_udp_case(case, addr, opts),
                _ => Err("no address for this transport".into()),
            };
            let outcome = Outcome {
                name: case.name.clone(),
                why: case.why,
                result,
            };
            let mut guard = results.lock().unwrap_or_else(|e| e.into_inner());
            let (all, reported) = &mut *guard;
            all[i] = Some(outcome);
            while let Some(Some(o)) = all.get(*reported) {
                done(o);
                *reported += 1;
            }
        }
    };
    let jobs = opts.jobs.clamp(1, selected.len().max(1));
    std::thread::scope(|s| {
        for _ in 1..jobs {
            s.spawn(worker);
        }
        worker();
    });
    let (all, _) = results.into_inner().unwrap_or_else(|e| e.into_inner());
    all.into_iter().flatten().collect()
}

/// One reply, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    status: Option<String>,
    error: Option<String>,
    body: Vec<u8>,
}

fn show_bytes(b: &[u8]) -> String {
    const MAX: usize = 48;
    let shown: String = b
        .iter()
        .take(MAX)
        .flat_map(|c| c.escape_ascii())
        .map(char::from)
        .collect();
    if b.len() > MAX {
        format!("\"{shown}\"... ({} bytes)", b.len())
    } else {
        format!("\"{shown}\"")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Some(s) => write!(f, "{s}")?,
            None => write!(f, "a frame without status")?,
        }
        write!(f, " (body {}", show_bytes(&self.body))?;
        if let Some(e) = &self.error {
            write!(f, ", error {e:?}")?;
        }
        write!(f, ")")
    }
}

fn check(want: &Expect, got: &Reply) -> Result<(), String> {
    if got.status.as_deref() != Some(want.status) {
        return Err(format!("expected status {}, got {got}", want.status));
    }
    match &want.body {
        Some(body) if *body != got.body => Err(format!(
            "expected body {}, got {}",
            show_bytes(body),
            show_bytes(&got.body)
        )),
        _ => Ok(()),
    }
}

/// Largest reply header and body this tester accepts.
const MAX_REPLY_HEADER: u32 = 1 << 16;
const MAX_REPLY_BODY: u64 = 16 << 20;

/// Parses one frame from the front of `buf` with jframe's own parser (the
/// same validation every jframe receiver applies): `Ok(None)` if incomplete.
/// `whole`: `buf` is a datagram, which must be exactly one frame.
fn parse_frame(buf: &[u8], whole: bool) -> Result<Option<(Reply, usize)>, String> {
    let mut header = jframe::Header::default();
    match jframe::parse_frame(buf, MAX_REPLY_HEADER, &mut header) {
        Ok(jframe::Parse::Complete { body, len, .. }) => {
            if whole && len != buf.len() {
                return Err(format!(
                    "the reply datagram carries {} bytes after its frame",
                    buf.len() - len
                ));
            }
            let reply = Reply {
                status: header.status.as_deref().map(str::to_string),
                error: header.error.as_deref().map(str::to_string),
                body: body.to_vec(),
            };
            Ok(Some((reply, len)))
        }
        Ok(jframe::Parse::Partial { data_size, .. }) => match data_size {
            Some(size) if size > MAX_REPLY_BODY => Err(format!(
                "the server sent data_size {size}, more than this tester reads"
            )),
            _ if whole => Err(format!(
                "the reply datagram ({} bytes) is shorter than its frame",
                buf.len()
            )),
            _ => Ok(None),
        },
        Err(e) => Err(format!("the server sent a malformed frame: {e}")),
    }
}

/// How a wait for a frame ended, other than with a frame.
enum Stop {
    Eof { stray: usize },
    Reset,
    Timeout { partial: usize },
    Bad(String),
    Io(io::Error),
}

impl Stop {
    fn describe(&self, timeout: Duration) -> String {
        match self {
            Stop::Eof { stray: 0 } => "EOF".into(),
            Stop::Eof { stray } => format!("EOF after {stray} bytes of an incomplete frame"),
            Stop::Reset => "a connection reset".into(),
            Stop::Timeout { partial: 0 } => format!("nothing for {timeout:?}"),
            Stop::Timeout { partial } => {
                format!("an incomplete frame ({partial} bytes) for {timeout:?}")
            }
            Stop::Bad(m) => m.clone(),
            Stop::Io(e) => format!("a read error: {e}"),
        }
    }
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// The next frame, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Result<Reply, Stop> {
        let deadline = Instant::now() + timeout;
        let mut tmp = [0u8; 16 * 1024];
        loop {
            match parse_frame(&self.buf, false) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(m) => return Err(Stop::Bad(m)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Stop::Timeout {
                    partial: self.buf.len(),
                });
            }
            if let Err(e) = self.s.set_read_timeout(Some(left)) {
                return Err(Stop::Io(e));
            }
            match self.s.read(&mut tmp) {
                Ok(0) => {
                    return Err(Stop::Eof {
                        stray: self.buf.len(),
                    });
                }
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        return Err(Stop::Timeout {
                            partial: self.buf.len(),
                        });
                    }
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                        return Err(Stop::Reset);
                    }
                    _ => return Err(Stop::Io(e)),
                },
            }
        }
    }

    fn send(&mut self, bytes: &[u8], writes: Writes) -> Result<(), String> {
        let chunk = match writes {
            Writes::Whole => bytes.len().max(1),
            Writes::Chunks(n) => n.max(1),
        };
        let mut sent = 0;
        for part in bytes.chunks(chunk) {
            if let Err(e) = self.s.write_all(part) {
                return Err(format!(
                    "write failed after {sent} of {} bytes: {e}",
                    bytes.len()
                ));
            }
            sent += part.len();
        }
        Ok(())
    }
}

fn run_tcp_case(case: &Case, addr: SocketAddr, opts: &Options) -> Result<(), String> {
    let Exchange::Tcp {
        request,
        writes,
        replies,
        end,
    } = &case.exchange
    else {
        return Err("not a TCP case".into());
    };
    let t = opts.timeout;
    let s = TcpStream::connect_timeout(&addr, t).map_err(|e| format!("cannot connect: {e}"))?;
    s.set_nodelay(true)
        .and_then(|()| s.set_write_timeout(Some(t)))
        .map_err(|e| format!("socket setup: {e}"))?;
    let mut c = Conn { s, buf: Vec::new() };
    if opts.welcome {
        c.next(t)
            .map_err(|e| format!("expected a welcome frame, got {}", e.describe(t)))?;
    }
    let mut bytes = request.clone();
    let mut want = replies.clone();
    if *end == End::Open {
        bytes.extend_from_slice(&probe());
        want.push(Expect::ok(b"ok"));
    }
    // A server may rightly close before reading everything (fatal cases):
    // a failed write only matters if the replies are wrong too.
    let write_failure = c.send(&bytes, *writes).err();
    let note = |reason: String| match &write_failure {
        Some(w) => format!("{reason} ({w})"),
        None => reason,
    };
    let n = want.len();
    for (i, expect) in want.iter().enumerate() {
        match c.next(t) {
            Ok(reply) => check(expect, &reply).map_err(|m| {
                note(if n == 1 {
                    m
                } else if *end == End::Open && i == n - 1 {
                    format!("probe reply: {m}")
                } else {
                    format!("reply {} of {n}: {m}", i + 1)
                })
            })?,
            Err(stop) => {
                return Err(note(format!(
                    "expected {n} repl{}, got {i} then {}",
                    if n == 1 { "y" } else { "ies" },
                    stop.describe(t)
                )));
            }
        }
    }
    if *end != End::Closed {
        return Ok(());
    }
    match c.next(t) {
        Err(Stop::Eof { stray: 0 } | Stop::Reset) => Ok(()),
        Ok(reply) => Err(format!("expected close, got a further reply: {reply}")),
        Err(Stop::Timeout { .. }) => {
            Err(format!("expected close, connection still open after {t:?}"))
        }
        Err(other) => Err(format!("expected close, got {}", other.describe(t))),
    }
}

// ---------------------------------------------------------------------------
// UDP.

fn udp_socket(addr: SocketAddr, t: Duration) -> Result<UdpSocket, String> {
    let local: IpAddr = match (addr.ip().is_loopback(), addr) {
        (true, SocketAddr::V4(_)) => Ipv4Addr::LOCALHOST.into(),
        (true, SocketAddr::V6(_)) => Ipv6Addr::LOCALHOST.into(),
        (false, SocketAddr::V4(_)) => Ipv4Addr::UNSPECIFIED.into(),
        (false, SocketAddr::V6(_)) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let sock = UdpSocket::bind((local, 0)).map_err(|e| format!("cannot bind UDP: {e}"))?;
    sock.connect(addr)
        .and_then(|()| sock.set_write_timeout(Some(t)))
        .map_err(|e| format!("UDP setup: {e}"))?;
    Ok(sock)
}

/// The next datagram within `wait`: `Ok(None)` if none came.
fn recv(sock: &UdpSocket, buf: &mut [u8], wait: Duration) -> Result<Option<usize>, String> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| format!("UDP setup: {e}"))?;
        match sock.recv(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) => match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Ok(None),
                io::ErrorKind::ConnectionRefused => {
                    return Err("ICMP port unreachable: nothing listens there".into());
                }
                _ => return Err(format!("UDP receive failed: {e}")),
            },
        }
    }
}

fn run_udp_case(case: &Case, addr: SocketAddr, opts: &Options) -> Result<(), String> {
    let (datagram, reply) = match &case.exchange {
        Exchange::Udp { datagram, reply } => (datagram.clone(), reply.clone()),
        Exchange::UdpFull { op, reply } => (
            full_datagram(op, udp_max_payload(&addr)),
            Some(reply.clone()),
        ),
        Exchange::Tcp { .. } => return Err("not a UDP case".into()),
    };
    let t = opts.timeout;
    let sock = udp_socket(addr, t)?;
    let mut buf = vec![0u8; 1 << 16];
    sock.send(&datagram)
        .map_err(|e| format!("cannot send the {}-byte datagram: {e}", datagram.len()))?;
    match reply {
        Some(expect) => {
            let n = recv(&sock, &mut buf, t)?
                .ok_or_else(|| format!("expected {}, got no reply within {t:?}", expect.status))?;
            let (got, _) = parse_frame(&buf[..n], true)?.ok_or("an incomplete datagram")?;
            check(&expect, &got)
        }
        None => {
            if let Some(n) = recv(&sock, &mut buf, opts.no_reply_wait)? {
                return Err(match parse_frame(&buf[..n], true) {
                    Ok(Some((got, _))) => format!("expected no reply, got {got}"),
                    _ => format!("expected no reply, got a {n}-byte datagram"),
                });
            }
            // Then the service must still answer, and the probe's reply must
            // be the next datagram (a late reply to the first would come
            // before it from a server that handles datagrams in order).
            sock.send(&probe())
                .map_err(|e| format!("cannot send the probe: {e}"))?;
            let n = recv(&sock, &mut buf, t)?
                .ok_or_else(|| format!("no reply to the probe within {t:?}"))?;
            let (got, _) = parse_frame(&buf[..n], true)?.ok_or("an incomplete datagram")?;
            check(&Expect::ok(b"ok"), &got)
                .map_err(|m| format!("expected no reply, then the probe's ok: {m}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_frames_well_built() {
        let all = cases();
        let mut names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate case names");
        for c in &all {
            if let Exchange::Tcp { request, .. } = &c.exchange {
                // Every header of the table except the 65-key ones stays
                // within a device's 256-byte limit (the boundary cases
                // reach it exactly).
                if request.len() > 4 && !c.name.contains("65-keys") {
                    let h = i32::from_le_bytes([request[0], request[1], request[2], request[3]]);
                    assert!(h <= 256, "{}: header of {h} bytes", c.name);
                }
            }
        }
    }

    #[test]
    fn full_datagram_is_exactly_the_maximum() {
        for max in [65_507, 65_527, 100] {
            assert_eq!(full_datagram("greet", max).len(), max);
        }
        // And greet's reply to it would not fit.
        let d = full_datagram("greet", 65_507);
        let body = d.len() - 4 - i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize;
        let reply = frame(
            format!(r#"{{"data_size":{},"status":"ok"}}"#, body + 8).as_bytes(),
            &vec![0; body + 8],
        );
        assert!(reply.len() > 65_507);
    }

    #[test]
    fn reply_headers_parse() {
        let f = frame(
            br#"{"data_size":2,"status":"ok","x":[{"a":"\u00e9\""}]}"#,
            b"HI",
        );
        let (r, used) = parse_frame(&f, false).unwrap().unwrap();
        assert_eq!(used, f.len());
        assert_eq!(r.status.as_deref(), Some("ok"));
        assert_eq!(r.body, b"HI");
        assert_eq!(parse_frame(&f[..f.len() - 1], false).unwrap(), None);
        assert!(parse_frame(&f[..f.len() - 1], true).is_err());
        assert!(parse_frame(&frame(br#"{"data_size":-1}"#, b""), false).is_err());
        assert!(parse_frame(&frame(br#"{"status":"ok"}"#, b""), false).is_err());
        let e = frame(br#"{"data_size":0,"status":"bad_frame","error":"no"}"#, b"");
        let (r, _) = parse_frame(&e, true).unwrap().unwrap();
        assert_eq!(r.to_string(), r#"bad_frame (body "", error "no")"#);
        assert_eq!(
            check(
                &Expect::status("bad_frame"),
                &Reply {
                    status: Some("ok".into()),
                    error: None,
                    body: b"HI".to_vec()
                }
            )
            .unwrap_err(),
            r#"expected status bad_frame, got ok (body "HI")"#
        );
    }
}
