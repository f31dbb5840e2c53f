//! Reading a reply back and judging it: its status and body against an
//! [`Expect`], and its header against what SPEC asks of senders.

use std::fmt;

use super::Expect;

/// One reply, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reply {
    pub status: Option<String>,
    pub error: Option<String>,
    pub body: Vec<u8>,
    /// The header's JSON, as sent.
    pub header: Vec<u8>,
}

pub(super) fn show_bytes(b: &[u8]) -> String {
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

/// A header as text for a message: printable ASCII as is, other bytes
/// escaped, at most 120 bytes shown.
fn show_header(h: &[u8]) -> String {
    const MAX: usize = 120;
    let mut shown = String::new();
    for &c in h.iter().take(MAX) {
        if c.is_ascii_graphic() || c == b' ' {
            shown.push(char::from(c));
        } else {
            shown.extend(c.escape_ascii().map(char::from));
        }
    }
    if h.len() > MAX {
        shown.push_str("...");
    }
    shown
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

/// How a case's replies depart from what SPEC asks of senders: each kind
/// once, with the first header that shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Departures(Vec<(Kind, String)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoStatus,
    NotCompact,
    NotSizeFirst,
}

impl Departures {
    fn add(&mut self, kind: Kind, header: &[u8]) {
        if self.0.iter().any(|(k, _)| *k == kind) {
            return;
        }
        let what = match kind {
            Kind::NoStatus => "no status (readers take it as ok; senders write it)",
            Kind::NotCompact => "not compact JSON",
            Kind::NotSizeFirst => "data_size is not the first key",
        };
        self.0
            .push((kind, format!("{what}: {}", show_header(header))));
    }

    /// Adds every departure of `other` not already here.
    pub fn merge(&mut self, other: Departures) {
        for (kind, text) in other.0 {
            if !self.0.iter().any(|(k, _)| *k == kind) {
                self.0.push((kind, text));
            }
        }
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0.into_iter().map(|(_, t)| t).collect()
    }
}

/// `got` against `want`: `Err` with a reason if it is not what the case
/// needs, else how its header departs from what SPEC asks of senders.
pub(super) fn check(want: &Expect, got: &Reply) -> Result<Departures, String> {
    let mut d = Departures::default();
    match got.status.as_deref() {
        Some(s) if s == want.status => {}
        // SPEC: a missing status reads as ok.
        None if want.status == "ok" => d.add(Kind::NoStatus, &got.header),
        None => {
            return Err(format!(
                "expected status {}, got {got} (no status reads as ok)",
                want.status
            ));
        }
        Some(_) => return Err(format!("expected status {}, got {got}", want.status)),
    }
    if let Some(body) = &want.body
        && *body != got.body
    {
        return Err(format!(
            "expected body {}, got {}",
            show_bytes(body),
            show_bytes(&got.body)
        ));
    }
    let compact = strip_whitespace(&got.header);
    if compact.len() != got.header.len() {
        d.add(Kind::NotCompact, &got.header);
    }
    if !compact.starts_with(br#"{"data_size":"#) {
        d.add(Kind::NotSizeFirst, &got.header);
    }
    Ok(d)
}

/// `header` (valid JSON) without the whitespace outside its strings.
fn strip_whitespace(header: &[u8]) -> Vec<u8> {
    let (mut in_string, mut escaped) = (false, false);
    let mut out = Vec::with_capacity(header.len());
    for &b in header {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b' ' | b'\t' | b'\n' | b'\r' => continue,
                _ => {}
            }
        }
        out.push(b);
    }
    out
}

/// Largest reply header and body this tester accepts.
const MAX_REPLY_HEADER: u32 = 1 << 16;
const MAX_REPLY_BODY: u64 = 16 << 20;

/// Parses one frame from the front of `buf` with jframe's own parser (the
/// same validation every jframe receiver applies): `Ok(None)` if incomplete.
/// `whole`: `buf` is a datagram, which must be exactly one frame.
pub(super) fn parse_frame(buf: &[u8], whole: bool) -> Result<Option<(Reply, usize)>, String> {
    let mut header = jframe::Header::default();
    match jframe::parse_frame(buf, MAX_REPLY_HEADER, &mut header) {
        Ok(jframe::Parse::Complete {
            header_json,
            body,
            len,
        }) => {
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
                header: header_json.to_vec(),
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

#[cfg(test)]
mod tests {
    use super::super::frame;
    use super::*;

    fn reply(header: &str, body: &[u8]) -> Reply {
        parse_frame(&frame(header.as_bytes(), body), true)
            .unwrap()
            .unwrap()
            .0
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
        let r = reply(r#"{"data_size":0,"status":"bad_frame","error":"no"}"#, b"");
        assert_eq!(r.to_string(), r#"bad_frame (body "", error "no")"#);
        assert_eq!(
            check(
                &Expect::status("bad_frame"),
                &reply(r#"{"data_size":2,"status":"ok"}"#, b"HI")
            )
            .unwrap_err(),
            r#"expected status bad_frame, got ok (body "HI")"#
        );
    }

    #[test]
    fn strict_and_non_strict_replies() {
        // What jframe writes: strict.
        let strict = reply(r#"{"data_size":2,"status":"ok"}"#, b"HI");
        assert_eq!(
            check(&Expect::ok(b"HI"), &strict).unwrap(),
            Departures::default()
        );
        // What seed 002's Python server writes: no status, json.dumps spacing.
        let seed = reply(r#"{"data_size": 2}"#, b"HI");
        let d = check(&Expect::ok(b"HI"), &seed).unwrap().into_vec();
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(
            d[0],
            r#"no status (readers take it as ok; senders write it): {"data_size": 2}"#
        );
        assert_eq!(d[1], r#"not compact JSON: {"data_size": 2}"#);
        // No status is not bad_frame, nor a wrong body.
        let e = check(&Expect::status("bad_frame"), &seed).unwrap_err();
        assert!(e.contains("a frame without status"), "{e}");
        assert!(check(&Expect::ok(b"hi"), &seed).is_err());
        // Key order and the old alias.
        let late = reply(r#"{"status":"ok","data_size":2}"#, b"HI");
        let d = check(&Expect::any_ok(), &late).unwrap().into_vec();
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("data_size is not the first key: "),
            "{d:?}"
        );
        let alias = reply(r#"{"size": 2, "status": "ok"}"#, b"HI");
        assert_eq!(
            check(&Expect::any_ok(), &alias).unwrap().into_vec().len(),
            2
        );
        // Whitespace inside a string is not a departure.
        let spaced = reply(r#"{"data_size":0,"status":"ok","error":"a b"}"#, b"");
        assert_eq!(
            check(&Expect::any_ok(), &spaced).unwrap(),
            Departures::default()
        );
        // Merging keeps each kind once.
        let mut all = check(&Expect::ok(b"HI"), &seed).unwrap();
        all.merge(check(&Expect::ok(b"HI"), &seed).unwrap());
        assert_eq!(all.into_vec().len(), 2);
    }
}
