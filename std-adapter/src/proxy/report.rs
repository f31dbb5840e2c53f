//! The proxy's reports: what it saw, as one line of text or one JSON
//! object each. Each event is built once ([`Report`]); [`Report::text`]
//! and [`Report::json`] each format all of them.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use jframe::PREFIX_LEN;
use serde_json::Value;

use crate::json_line::json_line;

use super::Dir;

/// Where reports go: one line each, written whole (the connections'
/// threads share it).
pub type ReportOut = Arc<Mutex<Box<dyn Write + Send>>>;

/// Something the proxy saw.
#[derive(Debug)]
pub(super) enum Report<'a> {
    /// No upstream address took the connection.
    UpstreamFailed {
        conn: u64,
        peer: SocketAddr,
        why: &'a str,
    },
    /// A connection is forwarded.
    Opened {
        conn: u64,
        peer: SocketAddr,
        upstream: String,
    },
    /// Both directions ended.
    Closed {
        conn: u64,
        secs: f64,
        to_server: u64,
        back: u64,
    },
    /// A whole frame.
    Frame(FrameReport<'a>),
    /// A frame that makes the rest of the direction unreadable as frames.
    Bad {
        conn: u64,
        dir: Dir,
        n: u64,
        t_ms: f64,
        why: &'a str,
        seen: &'a [u8],
        fault: Option<String>,
    },
    /// Bytes after a bad frame.
    Raw {
        conn: u64,
        dir: Dir,
        t_ms: f64,
        bytes: &'a [u8],
        preview: usize,
    },
    /// The direction ended in the middle of a frame.
    CutShort { conn: u64, dir: Dir, held: &'a [u8] },
}

/// A whole frame, as reported.
#[derive(Debug)]
pub(super) struct FrameReport<'a> {
    pub conn: u64,
    pub dir: Dir,
    /// Its number in its direction.
    pub n: u64,
    /// When its first byte arrived, since the connection opened.
    pub t_ms: f64,
    /// Its prefix and header.
    pub head: &'a [u8],
    pub body_size: u64,
    /// Its body's first bytes, up to `preview_max`.
    pub preview: &'a [u8],
    pub preview_max: usize,
    /// For a reply, the time since the request it answers.
    pub since_request_ms: Option<f64>,
    pub welcome: bool,
    /// What is wrong with a well-framed request.
    pub note: Option<&'a str>,
    pub fault: Option<String>,
}

const CUT_SHORT: &str = "closed in the middle of a frame";

impl Report<'_> {
    /// The report as a line of text, if text shows it.
    pub(super) fn text(&self) -> Option<String> {
        Some(match self {
            Report::UpstreamFailed { conn, peer, why } => {
                format!("[conn {conn}] {peer}: cannot connect upstream: {why}")
            }
            Report::Opened {
                conn,
                peer,
                upstream,
            } => format!("[conn {conn}] open {peer} -> {upstream}"),
            Report::Closed {
                conn,
                secs,
                to_server,
                back,
            } => format!(
                "[conn {conn}] closed after {secs:.3}s: {to_server} bytes to the server, {back} back"
            ),
            Report::Frame(f) => {
                let header_text =
                    String::from_utf8_lossy(f.head.get(PREFIX_LEN..).unwrap_or_default());
                let shown = preview_text(f.preview, f.preview_max);
                let t = f.t_ms;
                let timing = match (f.dir, f.since_request_ms) {
                    (Dir::ToServer, _) => format!("at +{t:.3}ms"),
                    (Dir::ToClient, Some(ms)) => format!("{ms:.3}ms after the request"),
                    (Dir::ToClient, None) if f.welcome => "unsolicited: the welcome".to_string(),
                    (Dir::ToClient, None) => "unsolicited (no request pending)".to_string(),
                };
                let note = f.note.map(|n| format!(" [{n}]")).unwrap_or_default();
                let fault = f
                    .fault
                    .as_ref()
                    .map(|f| format!(" [fault: {f}]"))
                    .unwrap_or_default();
                format!(
                    "[conn {}] {} #{} {header_text} {} B {shown:?} {timing}{note}{fault}",
                    f.conn,
                    f.dir.arrow(),
                    f.n,
                    f.body_size
                )
            }
            Report::Bad {
                conn,
                dir,
                n,
                why,
                seen,
                ..
            } => format!(
                "[conn {conn}] {} #{n} BAD FRAME: {why}: {:?}; the rest of this direction is forwarded as raw bytes",
                dir.arrow(),
                preview_text(seen, 64)
            ),
            Report::Raw {
                conn,
                dir,
                bytes,
                preview,
                ..
            } => format!(
                "[conn {conn}] {} raw {} B {:?}",
                dir.arrow(),
                bytes.len(),
                preview_text(bytes, *preview)
            ),
            Report::CutShort { conn, dir, .. } => {
                format!("[conn {conn}] {} {CUT_SHORT}", dir.arrow())
            }
        })
    }

    /// The report as a JSON object on one line, if JSON shows it (opening
    /// and closing a connection are not).
    pub(super) fn json(&self) -> Option<String> {
        Some(match self {
            Report::UpstreamFailed { conn, why, .. } => json_line(&[
                ("conn", (*conn).into()),
                ("event", "upstream_failed".into()),
                ("error", why.to_string().into()),
            ]),
            Report::Opened { .. } | Report::Closed { .. } => return None,
            Report::Frame(f) => {
                let header: Value =
                    serde_json::from_slice(f.head.get(PREFIX_LEN..).unwrap_or_default())
                        .unwrap_or(Value::Null);
                let since = match (f.dir, f.since_request_ms) {
                    (Dir::ToClient, Some(ms)) => Value::from(round3(ms)),
                    _ => Value::Null,
                };
                json_line(&[
                    ("conn", f.conn.into()),
                    ("dir", f.dir.name().into()),
                    ("n", f.n.into()),
                    ("t_ms", round3(f.t_ms).into()),
                    ("header", header),
                    ("body_size", f.body_size.into()),
                    ("preview", preview_text(f.preview, f.preview_max).into()),
                    ("since_request_ms", since),
                    ("error", f.note.map_or(Value::Null, Value::from)),
                    ("fault", f.fault.clone().map_or(Value::Null, Value::from)),
                ])
            }
            Report::Bad {
                conn,
                dir,
                n,
                t_ms,
                why,
                seen,
                fault,
            } => json_line(&[
                ("conn", (*conn).into()),
                ("dir", dir.name().into()),
                ("n", (*n).into()),
                ("t_ms", round3(*t_ms).into()),
                ("error", why.to_string().into()),
                ("bytes", preview_text(seen, 64).into()),
                ("fault", fault.clone().map_or(Value::Null, Value::from)),
            ]),
            Report::Raw {
                conn,
                dir,
                t_ms,
                bytes,
                preview,
            } => json_line(&[
                ("conn", (*conn).into()),
                ("dir", dir.name().into()),
                ("t_ms", round3(*t_ms).into()),
                ("raw_size", bytes.len().into()),
                ("preview", preview_text(bytes, *preview).into()),
            ]),
            Report::CutShort { conn, dir, held } => json_line(&[
                ("conn", (*conn).into()),
                ("dir", dir.name().into()),
                ("error", CUT_SHORT.into()),
                ("bytes", preview_text(held, 64).into()),
            ]),
        })
    }

    /// Writes the report to `out`, as JSON or text, if that format shows it.
    pub(super) fn emit(&self, out: &ReportOut, json: bool) {
        let line = if json { self.json() } else { self.text() };
        if let (Some(line), Ok(mut w)) = (line, out.lock()) {
            let _ = w.write_all(line.as_bytes());
            let _ = w.write_all(b"\n");
            let _ = w.flush();
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// At most `max` bytes as text: UTF-8 kept, other bytes as `\xHH`.
fn preview_text(bytes: &[u8], max: usize) -> String {
    let cut = bytes.get(..max.min(bytes.len())).unwrap_or_default();
    let mut s = String::new();
    for chunk in cut.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}
