//! The table: every case, its bytes and what SPEC says must come back.
//!
//! One builder makes both tables. [`cases`]: the demo services, where a
//! request that must succeed is an `echo` (or an `upper`, the default op)
//! with a known reply body. The framing cases' `echo` bodies are upper-case
//! ASCII, the same under `upper`: a server whose one service upper-cases
//! (seed 002's) still shows its framing, and echo's own rule (the body
//! verbatim) is the service cases' to check. [`framing_cases`]: a server's own services,
//! where it is the user's [`OkRequest`], answered `ok` with a body this
//! table cannot know.

use std::net::SocketAddr;

use super::{Afterwards, Case, Exchange, Expect, Group, Probe, Writes};

/// A request of the user's own that the server answers `ok`: what the
/// framing cases send where they need a request that succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OkRequest {
    op: String,
    body: Vec<u8>,
    /// `op` as a JSON string's contents (escaped).
    op_json: String,
}

/// The op the table uses as unknown against a server of its own services
/// (the demo table uses `shout`).
const UNKNOWN_OP: &str = "jframe-conform-no-such-op";

/// Longest `op` an [`OkRequest`] takes, escaped as JSON.
pub const MAX_OK_OP: usize = 64;
/// Longest body an [`OkRequest`] takes: the boundary cases fit the request
/// in a 256-byte frame (a device's buffer), with its header padded.
pub const MAX_OK_BODY: usize = 128;

impl OkRequest {
    /// `op`, with this body. Fails if `op` is empty, is the table's unknown
    /// op, or is longer than [`MAX_OK_OP`] escaped, or the body is longer
    /// than [`MAX_OK_BODY`].
    pub fn new(op: &str, body: &[u8]) -> Result<OkRequest, String> {
        if op.is_empty() {
            return Err("the op that answers ok cannot be empty".into());
        }
        if op == UNKNOWN_OP {
            return Err(format!(
                "{UNKNOWN_OP:?} is the op the framing cases send as unknown: name another"
            ));
        }
        let op_json = json_escape(op);
        if op_json.len() > MAX_OK_OP {
            return Err(format!(
                "the op is {} bytes as JSON; at most {MAX_OK_OP}",
                op_json.len()
            ));
        }
        if body.len() > MAX_OK_BODY {
            return Err(format!(
                "the body is {} bytes; at most {MAX_OK_BODY} (the boundary cases fit the request in a 256-byte frame)",
                body.len()
            ));
        }
        Ok(OkRequest {
            op: op.to_string(),
            body: body.to_vec(),
            op_json,
        })
    }

    /// The op.
    pub fn op(&self) -> &str {
        &self.op
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// `s` as the contents of a JSON string.
fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `s` as the contents of a JSON string, its first character written as a
/// `\u` escape (two, for a character outside the BMP).
fn json_escape_first(s: &str) -> String {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut units = [0u16; 2];
    let mut out: String = first
        .encode_utf16(&mut units)
        .iter()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    out.push_str(&json_escape(chars.as_str()));
    out
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

/// The demo table's probe, the frame that proves a connection (or a UDP
/// service) still serves: `{"data_size":2,"op":"echo"}OK`, answered `ok` /
/// `OK` (the same by `upper`, so a server whose only service upper-cases
/// still shows that its connections go on).
pub fn probe() -> Vec<u8> {
    frame(br#"{"data_size":2,"op":"echo"}"#, b"OK")
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
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

/// What the builder knows of the server's services.
struct T<'a> {
    /// `None`: the demo services.
    own: Option<&'a OkRequest>,
    probe: Probe,
}

impl<'a> T<'a> {
    fn new(own: Option<&'a OkRequest>) -> T<'a> {
        let probe = match own {
            None => Probe {
                request: probe(),
                reply: Expect::ok(b"OK"),
            },
            Some(o) => Probe {
                request: o.frame(""),
                reply: Expect::any_ok(),
            },
        };
        T { own, probe }
    }

    fn demo(&self) -> bool {
        self.own.is_none()
    }

    /// The op that no server has.
    fn unknown(&self) -> &'static str {
        if self.demo() { "shout" } else { UNKNOWN_OP }
    }

    /// A body that must be answered `ok`, and the reply: with the demo,
    /// `demo` echoed (or as `demo_reply` says); else the user's body, and
    /// any body back.
    fn ok_body(&self, demo: &[u8], demo_reply: &[u8]) -> (Vec<u8>, Expect) {
        match self.own {
            None => (demo.to_vec(), Expect::ok(demo_reply)),
            Some(o) => (o.body.clone(), Expect::any_ok()),
        }
    }

    /// `template` with `$N` the body's length, `$OP` the op (escaped),
    /// `$EOP` the op with its first character as a `\u` escape.
    fn fill(&self, template: &str, body_len: usize) -> Vec<u8> {
        let (op, eop) = match self.own {
            None => ("echo".to_string(), json_escape_first("echo")),
            Some(o) => (o.op_json.clone(), json_escape_first(&o.op)),
        };
        fill(
            template,
            &[("$EOP", &eop), ("$OP", &op), ("$N", &body_len.to_string())],
        )
    }

    /// A frame that must be answered `ok`: the header `template` (see
    /// [`T::fill`]) and the body of [`T::ok_body`].
    fn ok_frame(&self, template: &str, demo: &[u8], demo_reply: &[u8]) -> (Vec<u8>, Expect) {
        let (body, expect) = self.ok_body(demo, demo_reply);
        (frame(&self.fill(template, body.len()), &body), expect)
    }

    /// A body that is itself a frame, answered if a server parses it
    /// instead of skipping it: `echo` of `BAD` with the demo (its reply
    /// is not the probe's), an unknown op otherwise (its `bad_request` is
    /// not the `ok` the probe or the next request expects).
    fn decoy(&self) -> Vec<u8> {
        let h = format!(r#"{{"data_size":3,"op":"{}"}}"#, self.op_or_unknown());
        frame(h.as_bytes(), b"BAD")
    }

    fn op_or_unknown(&self) -> &str {
        if self.demo() { "echo" } else { UNKNOWN_OP }
    }

    /// A header of exactly `len` bytes: `{"data_size":N,"op":OP,"pad":"ppp…"}`.
    fn padded_header(&self, len: usize, op: &str, data_size: usize) -> Vec<u8> {
        let op = json_escape(op);
        let bare = format!(r#"{{"data_size":{data_size},"op":"{op}","pad":""}}"#);
        let pad = len.saturating_sub(bare.len());
        format!(
            r#"{{"data_size":{data_size},"op":"{op}","pad":"{}"}}"#,
            "p".repeat(pad)
        )
        .into_bytes()
    }

    /// Requests of the user's op, headers padded, exactly `total` bytes in
    /// all, each header at most 256 bytes: the bytes and their count.
    fn own_frames_totalling(&self, o: &OkRequest, total: usize) -> Option<(Vec<u8>, usize)> {
        let b = o.body.len();
        let min_header = self.padded_header(0, &o.op, b).len();
        let most = 4 + 256 + b;
        let k = total.div_ceil(most).max(1);
        let least = k * (4 + min_header + b);
        if least > total {
            return None;
        }
        let pad = total - least;
        let mut v = Vec::with_capacity(total);
        for i in 0..k {
            let h = min_header + pad / k + usize::from(i < pad % k);
            v.extend_from_slice(&frame(&self.padded_header(h, &o.op, b), &o.body));
        }
        (v.len() == total).then_some((v, k))
    }

    fn case(&self, name: String, group: Group, why: &'static str, exchange: Exchange) -> Case {
        Case {
            name,
            group,
            why,
            exchange,
            probe: self.probe.clone(),
        }
    }

    fn tcp(
        &self,
        name: &str,
        group: Group,
        why: &'static str,
        request: Vec<u8>,
        replies: Vec<Expect>,
        end: Afterwards,
    ) -> Case {
        self.case(
            format!("tcp/{name}"),
            group,
            why,
            Exchange::Tcp {
                request,
                writes: Writes::Whole,
                replies,
                end,
            },
        )
    }

    fn udp(
        &self,
        name: &str,
        group: Group,
        why: &'static str,
        datagram: Vec<u8>,
        reply: Option<Expect>,
    ) -> Case {
        self.case(
            format!("udp/{name}"),
            group,
            why,
            Exchange::Udp { datagram, reply },
        )
    }

    /// `header` with every `"echo"` naming the user's op instead.
    fn with_op(&self, header: &[u8]) -> Vec<u8> {
        let Some(o) = self.own else {
            return header.to_vec();
        };
        let (from, to) = (br#""echo""#, format!(r#""{}""#, o.op_json));
        let mut out = Vec::with_capacity(header.len() + to.len());
        let mut i = 0;
        while i < header.len() {
            if header[i..].starts_with(from) {
                out.extend_from_slice(to.as_bytes());
                i += from.len();
            } else {
                out.push(header[i]);
                i += 1;
            }
        }
        out
    }

    /// A header that is fatal: `bad_frame`, then close, with no reply to the
    /// body and the probe written after it.
    fn fatal(&self, name: &str, why: &'static str, header: &[u8]) -> Case {
        self.tcp(
            &format!("fatal/{name}"),
            Group::Framing,
            why,
            cat(&[&frame(&self.with_op(header), b"hi"), &self.probe.request]),
            vec![Expect::status("bad_frame")],
            Afterwards::Closed,
        )
    }

    /// A header that is recoverable: this status, the body (a decoy frame)
    /// skipped exactly, then the probe answered. `$N`: the body's length,
    /// `$U`: the unknown op.
    fn recoverable(
        &self,
        name: &str,
        why: &'static str,
        header: &str,
        status: &'static str,
    ) -> Case {
        let decoy = self.decoy();
        let header = fill(
            header,
            &[("$N", &decoy.len().to_string()), ("$U", self.unknown())],
        );
        self.tcp(
            &format!("recover/{name}"),
            Group::Framing,
            why,
            frame(&header, &decoy),
            vec![Expect::status(status)],
            Afterwards::Open,
        )
    }
}

impl OkRequest {
    /// The request as one frame, its header as `template` says (`""`: the
    /// compact `{"data_size":N,"op":"OP"}`).
    fn frame(&self, template: &str) -> Vec<u8> {
        let template = if template.is_empty() {
            r#"{"data_size":$N,"op":"$OP"}"#
        } else {
            template
        };
        let header = fill(
            template,
            &[("$OP", &self.op_json), ("$N", &self.body.len().to_string())],
        );
        frame(&header, &self.body)
    }
}

/// `template` with each placeholder replaced, in one pass (so that a value
/// that contains a placeholder is left as it is); the first of `values`
/// that matches at a position wins.
fn fill(template: &str, values: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match values.iter().find(|(k, _)| rest.starts_with(k)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &rest[k.len()..];
            }
            None => {
                out.push('$');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

/// A header nesting `depth` levels: the top object, then arrays (or objects)
/// in the value of key `x`; `data_size` (with `extra` keys after it) first
/// or last.
fn nested(depth: usize, objects: bool, size_first: bool, size: &str, extra: &str) -> Vec<u8> {
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
        format!(r#"{{"data_size":{size}{extra},"x":{value}}}"#)
    } else {
        format!(r#"{{"x":{value},"data_size":{size}{extra}}}"#)
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

const WHY_VECTOR_OWN: &str = "Test vectors / The frame: the vectors' header forms (json.dumps's spacing, compact JSON, the old key size), here asking for your op, are accepted";

/// The demo services' table: every case, framing and demo, TCP first, then
/// UDP.
pub fn cases() -> Vec<Case> {
    table(&T::new(None))
}

/// The framing cases for a server with its own services: where a case
/// needs a request that succeeds, it sends `ok`, and checks that the reply
/// is `ok` and well framed (its body is the service's business).
pub fn framing_cases(ok: &OkRequest) -> Vec<Case> {
    table(&T::new(Some(ok)))
}

fn boundary_cases(t: &T) -> Vec<Case> {
    let chunked = |mut case: Case, by: Writes| {
        if let Exchange::Tcp { writes, .. } = &mut case.exchange {
            *writes = by;
        }
        case
    };
    let mut v = Vec::new();
    if t.demo() {
        // greet of exit whose header exactly fills the device's frame
        // buffer: the body cannot be held with it, and `exit` is `Bye!` all
        // the same.
        let exit = frame(&t.padded_header(256, "greet", 4), b"exit");
        for (name, writes) in [("whole", Writes::Whole), ("bytewise", Writes::Chunks(1))] {
            let case = t.tcp(
                &format!("boundary/greet-exit-header-256/{name}"),
                Group::Demo,
                WHY_BOUNDARY,
                cat(&[&exit, &t.probe.request]),
                vec![Expect::ok(b"Bye!")],
                Afterwards::Closed,
            );
            v.push(chunked(case, writes));
        }
        // A greet that is not exit, at the same boundary.
        v.push(t.tcp(
            "boundary/greet-exot-header-256",
            Group::Demo,
            WHY_BOUNDARY,
            frame(&t.padded_header(256, "greet", 4), b"exot"),
            vec![Expect::ok(b"Hello, exot!")],
            Afterwards::Open,
        ));
    }
    // Frames that end exactly at a read buffer's end, and the next one
    // starting there.
    for total in [256usize, 4096, 8192] {
        let (first, replies) = match t.own {
            None => {
                let size = total - 4 - 60;
                let header = t.padded_header(60, "echo", size);
                let body: Vec<u8> = (0..size).map(|i| b'A' + (i % 26) as u8).collect();
                (frame(&header, &body), vec![Expect::ok(&body)])
            }
            Some(o) => {
                let Some((bytes, k)) = t.own_frames_totalling(o, total) else {
                    continue;
                };
                (bytes, vec![Expect::any_ok(); k])
            }
        };
        let (next, next_reply) = match t.own {
            None => (first.clone(), replies[0].clone()),
            Some(o) => (o.frame(""), Expect::any_ok()),
        };
        v.push(t.tcp(
            &format!("boundary/frame-ends-at-{total}"),
            Group::Framing,
            WHY_BOUNDARY,
            first.clone(),
            replies.clone(),
            Afterwards::Open,
        ));
        let mut both = replies;
        both.push(next_reply);
        v.push(t.tcp(
            &format!("boundary/second-frame-starts-at-{total}"),
            Group::Framing,
            WHY_BOUNDARY,
            cat(&[&first, &next]),
            both,
            Afterwards::Open,
        ));
    }
    // A header and body that exactly fill a 256-byte frame buffer (echo
    // bodies of chosen sizes).
    if t.demo() {
        for (header_len, body_len) in [(200usize, 56usize), (250, 6), (100, 156)] {
            let body = vec![b'z'; body_len];
            v.push(t.tcp(
                &format!("boundary/header-{header_len}-body-{body_len}"),
                Group::Demo,
                WHY_BOUNDARY,
                frame(&t.padded_header(header_len, "echo", body_len), &body),
                vec![Expect::ok(&body)],
                Afterwards::Open,
            ));
        }
    }
    // A prefix split at every byte (and every frame after it too).
    for by in [1usize, 2, 3] {
        let (request, replies) = match t.own {
            None => (
                cat(&[
                    &frame(br#"{"data_size": 2}"#, b"hi"),
                    &frame(br#"{"data_size":2,"op":"echo"}"#, b"HI"),
                ]),
                vec![Expect::ok(b"HI"), Expect::ok(b"HI")],
            ),
            Some(o) => (
                cat(&[&o.frame(r#"{"data_size": $N, "op": "$OP"}"#), &o.frame("")]),
                vec![Expect::any_ok(), Expect::any_ok()],
            ),
        };
        let case = t.tcp(
            &format!("boundary/prefix-split-by-{by}"),
            Group::Framing,
            WHY_BOUNDARY,
            request,
            replies,
            Afterwards::Open,
        );
        v.push(chunked(case, Writes::Chunks(by)));
    }
    v
}

/// The table for `t`: TCP first, then UDP.
fn table(t: &T) -> Vec<Case> {
    let demo = t.demo();
    let hi = |h: &str| frame(h.as_bytes(), b"hi");
    let (f, d) = (Group::Framing, Group::Demo);
    let mut v = Vec::new();
    // SPEC test vectors (with the user's op against their own services).
    for (name, header, own) in [
        (
            "vector/python-dialect",
            r#"{"data_size": 2}"#,
            r#"{"data_size": $N, "op": "$OP"}"#,
        ),
        (
            "vector/jframe-dialect",
            r#"{"data_size":2}"#,
            r#"{"data_size":$N,"op":"$OP"}"#,
        ),
        (
            "vector/size-alias",
            r#"{"size": 2}"#,
            r#"{"size": $N, "op": "$OP"}"#,
        ),
    ] {
        v.push(match t.own {
            None => t.tcp(
                name,
                f,
                WHY_VECTOR,
                hi(header),
                vec![Expect::ok(b"HI")],
                Afterwards::Open,
            ),
            Some(o) => t.tcp(
                name,
                f,
                WHY_VECTOR_OWN,
                o.frame(own),
                vec![Expect::any_ok()],
                Afterwards::Open,
            ),
        });
    }
    v.push(t.tcp(
        "vector/negative-prefix",
        f,
        WHY_PREFIX,
        (-5i32).to_le_bytes().to_vec(),
        vec![Expect::status("bad_frame")],
        Afterwards::Closed,
    ));
    // Prefixes (only the prefix is sent: it must be judged alone).
    for (name, prefix) in [
        ("prefix/over-every-limit", 0x7fff_0000i32),
        ("prefix/one", 1),
        ("prefix/zero", 0),
    ] {
        v.push(t.tcp(
            name,
            f,
            WHY_PREFIX,
            prefix.to_le_bytes().to_vec(),
            vec![Expect::status("bad_frame")],
            Afterwards::Closed,
        ));
    }
    // Services.
    if demo {
        v.extend([
            t.tcp(
                "service/echo",
                d,
                WHY_ECHO,
                frame(br#"{"data_size":9,"op":"echo"}"#, b"MiXeD 1!x"),
                vec![Expect::ok(b"MiXeD 1!x")],
                Afterwards::Open,
            ),
            t.tcp(
                "service/upper-ascii",
                d,
                WHY_UPPER,
                frame(br#"{"data_size":16,"op":"upper"}"#, b"hello, World 09!"),
                vec![Expect::ok(b"HELLO, WORLD 09!")],
                Afterwards::Open,
            ),
            t.tcp(
                "service/greet",
                d,
                WHY_GREET,
                frame(br#"{"data_size":7,"op":"greet"}"#, b"Michael"),
                vec![Expect::ok(b"Hello, Michael!")],
                Afterwards::Open,
            ),
            t.tcp(
                "service/greet-exit",
                d,
                WHY_EXIT,
                cat(&[
                    &frame(br#"{"data_size":4,"op":"greet"}"#, b"exit"),
                    &t.probe.request,
                ]),
                vec![Expect::ok(b"Bye!")],
                Afterwards::Closed,
            ),
            t.tcp(
                "service/echo-empty",
                d,
                WHY_EMPTY,
                frame(br#"{"data_size":0,"op":"echo"}"#, b""),
                vec![Expect::ok(b"")],
                Afterwards::Open,
            ),
        ]);
    }

    // Pipelining.
    let (three, three_replies) = match t.own {
        None => (
            cat(&[
                &frame(br#"{"data_size":3}"#, b"abc"),
                &frame(br#"{"data_size":5,"op":"echo"}"#, b"MiXeD"),
                &frame(br#"{"data_size":2,"op":"greet"}"#, b"Al"),
            ]),
            vec![
                Expect::ok(b"ABC"),
                Expect::ok(b"MiXeD"),
                Expect::ok(b"Hello, Al!"),
            ],
        ),
        Some(o) => (o.frame("").repeat(3), vec![Expect::any_ok(); 3]),
    };
    v.push(t.tcp(
        "pipeline/one-write",
        f,
        WHY_PIPELINE,
        three.clone(),
        three_replies.clone(),
        Afterwards::Open,
    ));
    let mut bytewise = t.tcp(
        "pipeline/byte-at-a-time",
        f,
        WHY_PIPELINE,
        three,
        three_replies,
        Afterwards::Open,
    );
    if let Exchange::Tcp { writes, .. } = &mut bytewise.exchange {
        *writes = Writes::Chunks(1);
    }
    v.push(bytewise);
    let decoy = t.decoy();
    let unknown = format!(r#"{{"data_size":{},"op":"{}"}}"#, decoy.len(), t.unknown());
    let (a, a_reply) = t.ok_frame(r#"{"data_size":$N}"#, b"a", b"A");
    let (b, b_reply) = t.ok_frame(r#"{"data_size":$N,"op":"$OP"}"#, b"B", b"B");
    let a = if demo {
        a
    } else {
        t.own.map(|o| o.frame("")).unwrap_or(a)
    };
    v.push(t.tcp(
        "pipeline/error-in-the-middle",
        f,
        WHY_PIPELINE,
        cat(&[&a, &frame(unknown.as_bytes(), &decoy), &b]),
        vec![a_reply, Expect::status("bad_request"), b_reply],
        Afterwards::Open,
    ));

    // Header forms that must be accepted.
    for (name, header, why) in [
        (
            "whitespace",
            "{ \"data_size\" :\t$N ,\r\n \"op\" : \"$OP\" }",
            WHY_HEADER_FORMS,
        ),
        (
            "key-order",
            r#"{"op":"$OP","data_size":$N}"#,
            WHY_HEADER_FORMS,
        ),
        (
            "unknown-keys",
            r#"{"data_size":$N,"x":{"y":[1,2.5,{"z":null}],"w":"\"}"},"op":"$OP","t":true,"u":[]}"#,
            WHY_HEADER_FORMS,
        ),
        (
            "escaped-op",
            r#"{"data_size":$N,"op":"$EOP"}"#,
            WHY_HEADER_FORMS,
        ),
        (
            "size-and-data_size-agree",
            r#"{"data_size":$N,"size":$N,"op":"$OP"}"#,
            WHY_ALIAS_AGREE,
        ),
    ] {
        let (request, reply) = t.ok_frame(header, b"HI", b"HI");
        v.push(t.tcp(
            &format!("header/{name}"),
            f,
            why,
            request,
            vec![reply],
            Afterwards::Open,
        ));
    }
    let (nest_body, nest_reply) = t.ok_body(b"hi", b"HI");
    let nest_header = match t.own {
        None => nested(16, false, true, "2", ""),
        Some(o) => nested(
            16,
            false,
            true,
            &o.body.len().to_string(),
            &format!(r#","op":"{}""#, o.op_json),
        ),
    };
    v.push(t.tcp(
        "header/nesting-16",
        f,
        WHY_NEST_OK,
        frame(&nest_header, &nest_body),
        vec![nest_reply],
        Afterwards::Open,
    ));

    // Recoverable: error reply, body (a decoy frame) skipped, connection open.
    for (name, header) in [
        ("unknown-op", r#"{"data_size":$N,"op":"$U"}"#),
        ("unknown-op/size-last", r#"{"op":"$U","data_size":$N}"#),
        ("op-number", r#"{"data_size":$N,"op":5}"#),
        ("op-array", r#"{"data_size":$N,"op":["x"]}"#),
        ("op-object", r#"{"op":{},"data_size":$N}"#),
    ] {
        v.push(t.recoverable(name, WHY_BAD_REQUEST, header, "bad_request"));
    }
    if demo {
        v.push(t.tcp(
            "recover/greet-unrepresentable-reply",
            d,
            WHY_UNREPRESENTABLE,
            frame(br#"{"data_size":18446744073709551615,"op":"greet"}"#, b""),
            vec![Expect::status("too_large")],
            Afterwards::Stop,
        ));
    }

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
            nested(17, false, true, "2", ""),
        ),
        (
            "nesting-17/size-last",
            WHY_NESTING,
            nested(17, false, false, "2", ""),
        ),
        (
            "nesting-17/objects",
            WHY_NESTING,
            nested(17, true, true, "2", ""),
        ),
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
        v.push(t.fatal(name, why, &header));
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
        v.push(t.fatal(
            &format!("data_size-{name}/size-first"),
            WHY_NOT_INTEGER,
            first.as_bytes(),
        ));
        v.push(t.fatal(
            &format!("data_size-{name}/size-last"),
            WHY_NOT_INTEGER,
            last.as_bytes(),
        ));
    }
    // The smuggling shape: a duplicate op hides a complete request in the
    // body (a get with the demo, the user's op otherwise); exactly one
    // reply (bad_frame), then close.
    let smuggled = match t.own {
        None => frame(br#"{"data_size":0,"op":"get","name":"x"}"#, b""),
        Some(o) => o.frame(""),
    };
    let carrier = t.with_op(
        format!(
            r#"{{"op":"echo","op":"echo","data_size":{}}}"#,
            smuggled.len()
        )
        .as_bytes(),
    );
    v.push(t.tcp(
        "fatal/smuggle-duplicate-op",
        f,
        WHY_SMUGGLE,
        frame(&carrier, &smuggled),
        vec![Expect::status("bad_frame")],
        Afterwards::Closed,
    ));
    // Replies sent to a server: never answered, connection closed.
    v.push(t.tcp(
        "reply/ok",
        f,
        WHY_REPLY,
        cat(&[&hi(r#"{"data_size":2,"status":"ok"}"#), &t.probe.request]),
        vec![],
        Afterwards::Closed,
    ));
    v.push(t.tcp(
        "reply/error",
        f,
        WHY_REPLY,
        cat(&[
            &frame(br#"{"data_size":0,"status":"bad_frame","error":"x"}"#, b""),
            &t.probe.request,
        ]),
        vec![],
        Afterwards::Closed,
    ));

    v.extend(boundary_cases(t));

    // UDP.
    for (name, header, own) in [
        (
            "vector/python-dialect",
            r#"{"data_size": 2}"#,
            r#"{"data_size": $N, "op": "$OP"}"#,
        ),
        (
            "vector/jframe-dialect",
            r#"{"data_size":2}"#,
            r#"{"data_size":$N,"op":"$OP"}"#,
        ),
        (
            "vector/size-alias",
            r#"{"size": 2}"#,
            r#"{"size": $N, "op": "$OP"}"#,
        ),
    ] {
        v.push(match t.own {
            None => t.udp(name, f, WHY_VECTOR, hi(header), Some(Expect::ok(b"HI"))),
            Some(o) => t.udp(
                name,
                f,
                WHY_VECTOR_OWN,
                o.frame(own),
                Some(Expect::any_ok()),
            ),
        });
    }
    v.push(t.udp(
        "vector/negative-prefix",
        f,
        WHY_UDP_FATAL,
        (-5i32).to_le_bytes().to_vec(),
        Some(Expect::status("bad_frame")),
    ));
    if demo {
        v.extend([
            t.udp(
                "service/echo",
                d,
                WHY_ECHO,
                frame(br#"{"data_size":5,"op":"echo"}"#, b"MiXeD"),
                Some(Expect::ok(b"MiXeD")),
            ),
            t.udp(
                "service/greet",
                d,
                WHY_GREET,
                frame(br#"{"data_size":7,"op":"greet"}"#, b"Michael"),
                Some(Expect::ok(b"Hello, Michael!")),
            ),
        ]);
    }
    let (short_body, _) = t.ok_body(b"hi", b"hi");
    v.extend([
        t.udp(
            "recover/unknown-op",
            f,
            WHY_BAD_REQUEST,
            hi(&format!(r#"{{"data_size":2,"op":"{}"}}"#, t.unknown())),
            Some(Expect::status("bad_request")),
        ),
        t.udp(
            "truncated",
            f,
            WHY_UDP_TRUNCATED,
            frame(
                &t.fill(r#"{"data_size":$N,"op":"$OP"}"#, short_body.len() + 8),
                &short_body,
            ),
            Some(Expect::status("truncated")),
        ),
        t.udp(
            "fatal/json-syntax",
            f,
            WHY_UDP_FATAL,
            hi(r#"{"data_size":2,"x":nope}"#),
            Some(Expect::status("bad_frame")),
        ),
        t.udp(
            "fatal/duplicate-key",
            f,
            WHY_UDP_FATAL,
            hi(r#"{"data_size":2,"x":1,"x":2}"#),
            Some(Expect::status("bad_frame")),
        ),
        t.udp(
            "fatal/missing-data_size",
            f,
            WHY_UDP_FATAL,
            frame(&t.with_op(br#"{"op":"echo"}"#), b"hi"),
            Some(Expect::status("bad_frame")),
        ),
        t.udp(
            "reply/ok",
            f,
            WHY_UDP_REPLY,
            hi(r#"{"data_size":2,"status":"ok"}"#),
            None,
        ),
        t.udp(
            "reply/error",
            f,
            WHY_UDP_REPLY,
            frame(br#"{"data_size":0,"status":"bad_frame"}"#, b""),
            None,
        ),
    ]);
    if demo {
        v.push(t.case(
            "udp/too-large/greet-fills-the-datagram".into(),
            d,
            WHY_UDP_TOO_LARGE,
            Exchange::UdpFull {
                op: "greet",
                reply: Expect::status("too_large"),
            },
        ));
        // data_size 2^64-1 in a short datagram: both `truncated` (the
        // datagram is shorter than its header says) and, for greet, an
        // unrepresentable reply. SPEC's datagram rule is unconditional and
        // depends on the bytes alone, while too_large depends on limits and
        // services, which only apply to a complete request: truncated.
        v.push(t.udp(
            "truncated/greet-2^64-1",
            d,
            WHY_UDP_UNREPRESENTABLE,
            frame(br#"{"data_size":18446744073709551615,"op":"greet"}"#, b""),
            Some(Expect::status("truncated")),
        ));
    }
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
pub(super) fn full_datagram(op: &str, max: usize) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Vec<(String, Vec<Case>)> {
        let mut v = vec![("demo".to_string(), cases())];
        for (op, body) in [
            ("read_sensor", &b""[..]),
            ("x", &[b'b'; MAX_OK_BODY][..]),
            (&"\u{e9}q\"\\".repeat(9)[..], &b"{\"k\": 1}"[..]),
            ("\u{1f600}", &b"hi"[..]),
        ] {
            let ok = OkRequest::new(op, body).unwrap();
            v.push((format!("{op:?}"), framing_cases(&ok)));
        }
        v
    }

    #[test]
    fn names_are_unique_and_frames_well_built() {
        for (what, all) in tables() {
            let mut names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{what}: duplicate case names");
            for c in &all {
                let first = match &c.exchange {
                    Exchange::Tcp { request, .. } => request,
                    Exchange::Udp { datagram, .. } => datagram,
                    Exchange::UdpFull { .. } => continue,
                };
                // Every header of the table except the 65-key ones stays
                // within a device's 256-byte limit (the boundary cases
                // reach it exactly).
                if first.len() > 4 && !c.name.contains("65-keys") {
                    let h = i32::from_le_bytes([first[0], first[1], first[2], first[3]]);
                    assert!(h <= 256, "{what}: {}: header of {h} bytes", c.name);
                }
            }
        }
    }

    /// The framing cases are the same ids, in the same order, whatever the
    /// services: a case id means one check.
    #[test]
    fn framing_ids_are_the_same_for_every_server() {
        let demo: Vec<String> = cases()
            .into_iter()
            .filter(|c| c.group == Group::Framing)
            .map(|c| c.name)
            .collect();
        assert!(demo.len() > 60, "{}", demo.len());
        for (what, all) in tables().into_iter().skip(1) {
            let own: Vec<String> = all.iter().map(|c| c.name.clone()).collect();
            assert_eq!(own, demo, "{what}");
            assert!(all.iter().all(|c| c.group == Group::Framing));
        }
    }

    /// Each case's `why` names sections SPEC has.
    #[test]
    fn spec_sections_exist() {
        let spec = include_str!("../../../docs/SPEC.md");
        let headings: Vec<&str> = spec.lines().filter_map(|l| l.strip_prefix("## ")).collect();
        for (_, all) in tables() {
            for c in all {
                for s in c.spec() {
                    assert!(headings.contains(&s), "{}: no SPEC section {s:?}", c.name);
                }
            }
        }
        for s in super::super::spec_sections(super::super::WHY_SENDERS) {
            assert!(headings.contains(&s), "{s:?}");
        }
    }

    /// Against a server of its own, a request that must succeed names the
    /// user's op and body, and its reply body is not checked.
    #[test]
    fn own_requests_use_the_users_op() {
        let ok = OkRequest::new("read_sensor", b"t1").unwrap();
        let all = framing_cases(&ok);
        let needle = br#""op":"read_sensor""#;
        let has = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle);
        for c in &all {
            assert_eq!(
                c.probe.request,
                frame(br#"{"data_size":2,"op":"read_sensor"}"#, b"t1")
            );
            assert_eq!(c.probe.reply, Expect::any_ok());
            let echo = br#""echo""#;
            let bytes = match &c.exchange {
                Exchange::Tcp {
                    request, replies, ..
                } => {
                    assert!(replies.iter().all(|r| r.body.is_none()), "{}", c.name);
                    request
                }
                Exchange::Udp { datagram, .. } => datagram,
                Exchange::UdpFull { .. } => panic!("{}: a demo case", c.name),
            };
            assert!(
                !bytes.windows(echo.len()).any(|w| w == echo),
                "{}: echo",
                c.name
            );
            assert!(
                !bytes.windows(5).any(|w| w == b"shout"),
                "{}: shout",
                c.name
            );
        }
        let find = |n: &str| all.iter().find(|c| c.name == n).unwrap();
        for n in [
            "tcp/header/key-order",
            "tcp/pipeline/one-write",
            "tcp/fatal/data_size-exponent/size-last",
        ] {
            let Exchange::Tcp { request, .. } = &find(n).exchange else {
                panic!()
            };
            assert!(has(request), "{n}");
        }
        let Exchange::Tcp { request, .. } = &find("tcp/header/escaped-op").exchange else {
            panic!()
        };
        assert!(request.ends_with(br#"{"data_size":2,"op":"\u0072ead_sensor"}t1"#));
        // Every boundary case is exactly its size.
        for total in [256usize, 4096, 8192] {
            let Exchange::Tcp {
                request, replies, ..
            } = &find(&format!("tcp/boundary/frame-ends-at-{total}")).exchange
            else {
                panic!()
            };
            assert_eq!(request.len(), total);
            assert!(!replies.is_empty());
        }
    }

    #[test]
    fn ok_requests_are_checked() {
        assert!(OkRequest::new("", b"").is_err());
        assert!(OkRequest::new(UNKNOWN_OP, b"").is_err());
        assert!(OkRequest::new(&"x".repeat(MAX_OK_OP + 1), b"").is_err());
        assert!(OkRequest::new("x", &[0; MAX_OK_BODY + 1]).is_err());
        assert_eq!(json_escape_first("echo"), "\\u0065cho");
        assert_eq!(json_escape_first("\u{1f600}x"), "\\ud83d\\ude00x");
        assert_eq!(json_escape("a\"\\\n"), "a\\\"\\\\\\u000a");
        // Placeholders in the user's op stay as they are.
        let ok = OkRequest::new("a$N$EOP$", b"xy").unwrap();
        assert_eq!(
            ok.frame(""),
            frame(br#"{"data_size":2,"op":"a$N$EOP$"}"#, b"xy")
        );
        let t = T::new(Some(&ok));
        assert_eq!(
            t.fill(r#"{"op":"$EOP","x":"$OP"}"#, 2),
            br#"{"op":"\u0061$N$EOP$","x":"a$N$EOP$"}"#
        );
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
}
