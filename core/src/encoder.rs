//! The encoder: frames into caller-provided byte slices.
//!
//! [`encode_frame`] writes prefix, header and body; [`encode_head`] writes
//! only prefix and header, for a body the caller streams afterwards. Header
//! JSON is compact, with `data_size` first (SPEC), and strings are escaped.
//! Every write is bounds-checked and every length conversion is checked: a
//! buffer too small is an error, never a panic or a truncated frame.

use crate::header::{Header, Status};
use crate::prefix::{self, PREFIX_LEN};

pub use crate::error::EncodeError;

/// Writes prefix + header + body into `out`; returns the frame's length.
/// `header.data_size` must equal `body.len()`.
///
/// # Example
///
/// ```
/// use jframe::{Header, Op, encode_frame};
///
/// let mut out = [0u8; 64];
/// let n = encode_frame(&mut out, &Header::request(Op::Echo, 2), b"hi")?;
/// assert_eq!(&out[..4], &27i32.to_le_bytes());
/// assert_eq!(&out[4..n], b"{\"data_size\":2,\"op\":\"echo\"}hi");
/// # Ok::<(), jframe::EncodeError>(())
/// ```
pub fn encode_frame(out: &mut [u8], header: &Header, body: &[u8]) -> Result<usize, EncodeError> {
    if u64::try_from(body.len()).ok() != Some(header.data_size) {
        return Err(EncodeError::SizeMismatch);
    }
    let head = encode_head(out, header)?;
    let end = head
        .checked_add(body.len())
        .ok_or(EncodeError::BufferTooSmall)?;
    let room = out.get_mut(head..end).ok_or(EncodeError::BufferTooSmall)?;
    crate::copy::copy(room, body);
    Ok(end)
}

/// Writes prefix + header into `out`; returns their length. The caller
/// sends exactly `header.data_size` body bytes after them.
///
/// # Example
///
/// The head of a body too large to hold, which the caller streams after it:
///
/// ```
/// use jframe::{Header, encode_head};
///
/// let mut out = [0u8; 32];
/// let n = encode_head(&mut out, &Header::new(1_000_000))?;
/// assert_eq!(&out[4..n], b"{\"data_size\":1000000}");
/// # Ok::<(), jframe::EncodeError>(())
/// ```
pub fn encode_head(out: &mut [u8], header: &Header) -> Result<usize, EncodeError> {
    let mut w = Cursor {
        out,
        pos: PREFIX_LEN,
    };
    w.put(b"{\"data_size\":")?;
    w.put_u64(header.data_size)?;
    let fields: [(&[u8], Option<&str>); 5] = [
        (b",\"op\":", header.op.as_deref()),
        (b",\"name\":", header.name.as_deref()),
        (b",\"status\":", header.status.as_deref()),
        (b",\"error\":", header.error.as_deref()),
        (b",\"sha256\":", header.sha256.as_deref()),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            w.put(key)?;
            w.put_json_str(value)?;
        }
    }
    if header.welcome {
        w.put(WELCOME)?;
    }
    w.put(b"}")?;
    w.finish()
}

/// The welcome marker, last in a header (SPEC).
const WELCOME: &[u8] = b",\"welcome\":true";

/// Writes prefix + the header of a reply with `status`, a body of
/// `data_size` bytes and an optional `error` message: the same bytes as
/// [`encode_head`] of [`Header::reply`] / [`Header::error_reply`] (with a
/// message of at most [`crate::header::ERROR_CAPACITY`] bytes), without
/// building a [`Header`].
pub(crate) fn encode_reply_head(
    out: &mut [u8],
    status: Status,
    data_size: u64,
    error: Option<&str>,
) -> Result<usize, EncodeError> {
    reply_head(out, status, data_size, error, false)
}

/// Writes prefix + the header of a server's welcome frame, with a body of
/// `data_size` bytes: `{"data_size":N,"status":"ok","welcome":true}`
/// (SPEC: a welcome is marked, so a client tells it from a reply by that
/// key alone). The same bytes as [`encode_head`] of a [`Header::reply`]
/// with `welcome` set.
pub(crate) fn encode_welcome_head(out: &mut [u8], data_size: u64) -> Result<usize, EncodeError> {
    reply_head(out, Status::Ok, data_size, None, true)
}

fn reply_head(
    out: &mut [u8],
    status: Status,
    data_size: u64,
    error: Option<&str>,
    welcome: bool,
) -> Result<usize, EncodeError> {
    let mut w = Cursor::reply(out, status, data_size)?;
    if let Some(error) = error {
        w.put(b",\"error\":")?;
        w.put_json_str(error)?;
    }
    if welcome {
        w.put(WELCOME)?;
    }
    w.put(b"}")?;
    w.finish()
}

/// Writes prefix + the header of a reply with `status` and a body of
/// `data_size` bytes, followed by the keys of `extra` (a serde struct, in
/// its field order): `{"data_size":N,"status":"ok","uptime_ms":7}`.
///
/// # Example
///
/// ```
/// use jframe::Status;
/// use jframe::encoder::encode_reply_head_with;
///
/// #[derive(serde::Serialize)]
/// struct Uptime {
///     uptime_ms: u64,
/// }
///
/// let mut out = [0u8; 64];
/// let n = encode_reply_head_with(&mut out, Status::Ok, 0, &Uptime { uptime_ms: 7 })?;
/// assert_eq!(&out[4..n], br#"{"data_size":0,"status":"ok","uptime_ms":7}"#);
/// # Ok::<(), jframe::EncodeError>(())
/// ```
pub fn encode_reply_head_with<T: serde::Serialize + ?Sized>(
    out: &mut [u8],
    status: Status,
    data_size: u64,
    extra: &T,
) -> Result<usize, EncodeError> {
    let mut w = Cursor::reply(out, status, data_size)?;
    let at = w.pos;
    let area = w.out.get_mut(at..).ok_or(EncodeError::BufferTooSmall)?;
    let len = serde_json_core::to_slice(extra, area).map_err(|e| match e {
        serde_json_core::ser::Error::BufferFull => EncodeError::BufferTooSmall,
        _ => EncodeError::Serialize,
    })?;
    // `extra` wrote `{...}`: its `{` becomes the `,` after `status`, or,
    // for no keys (`{}`), the closing `}` stands alone.
    match (area.get(..len), len) {
        (Some(b"{}"), _) => {
            if let Some(b) = area.get_mut(0) {
                *b = b'}';
            }
            w.pos = at + 1;
        }
        (Some([b'{', ..]), _) => {
            if let Some(b) = area.get_mut(0) {
                *b = b',';
            }
            w.pos = at + len;
        }
        _ => return Err(EncodeError::Serialize),
    }
    w.finish()
}

/// Writes prefix + a user header type's JSON into `out` (serde, compact).
/// The type decides its own key order; it must carry `data_size`.
///
/// # Example
///
/// ```
/// use jframe::encode_head_with;
///
/// #[derive(serde::Serialize)]
/// struct Tagged<'a> {
///     data_size: u64,
///     tag: &'a str,
/// }
///
/// let mut out = [0u8; 64];
/// let n = encode_head_with(&mut out, &Tagged { data_size: 0, tag: "x" })?;
/// assert_eq!(&out[4..n], br#"{"data_size":0,"tag":"x"}"#);
/// # Ok::<(), jframe::EncodeError>(())
/// ```
pub fn encode_head_with<T: serde::Serialize + ?Sized>(
    out: &mut [u8],
    header: &T,
) -> Result<usize, EncodeError> {
    let json_area = out
        .get_mut(PREFIX_LEN..)
        .ok_or(EncodeError::BufferTooSmall)?;
    let len = serde_json_core::to_slice(header, json_area).map_err(|e| match e {
        serde_json_core::ser::Error::BufferFull => EncodeError::BufferTooSmall,
        _ => EncodeError::Serialize,
    })?;
    Cursor {
        out,
        pos: PREFIX_LEN + len,
    }
    .finish()
}

struct Cursor<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A reply head begun: the prefix's room, then
    /// `{"data_size":N,"status":"S"` (no closing brace yet).
    fn reply(out: &'a mut [u8], status: Status, data_size: u64) -> Result<Self, EncodeError> {
        let mut w = Cursor {
            out,
            pos: PREFIX_LEN,
        };
        w.put(b"{\"data_size\":")?;
        w.put_u64(data_size)?;
        // Status names are plain ASCII: nothing to escape.
        w.put(b",\"status\":\"")?;
        w.put(status.as_str().as_bytes())?;
        w.put(b"\"")?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(EncodeError::BufferTooSmall)?;
        let room = self
            .out
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall)?;
        crate::copy::copy(room, bytes);
        self.pos = end;
        Ok(())
    }

    fn put_u64(&mut self, v: u64) -> Result<(), EncodeError> {
        let mut buf = [0u8; 20];
        self.put(crate::decimal::digits(v, &mut buf))
    }

    fn put_json_str(&mut self, s: &str) -> Result<(), EncodeError> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.put(b"\"")?;
        let bytes = s.as_bytes();
        let mut run_start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x00..=0x1F => &[],
                _ => continue,
            };
            self.put(bytes.get(run_start..i).unwrap_or_default())?;
            if escaped.is_empty() {
                let hex = |n: u8| HEX.get(usize::from(n & 0xF)).copied().unwrap_or(b'0');
                self.put(&[b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b)])?;
            } else {
                self.put(escaped)?;
            }
            run_start = i + 1;
        }
        self.put(bytes.get(run_start..).unwrap_or_default())?;
        self.put(b"\"")
    }

    /// Fills in the prefix now that the header length is known.
    fn finish(self) -> Result<usize, EncodeError> {
        let header_len = self.pos - PREFIX_LEN;
        let bytes = prefix::emit(header_len).ok_or(EncodeError::HeaderTooLong)?;
        let room = self
            .out
            .get_mut(prefix::PREFIX)
            .ok_or(EncodeError::BufferTooSmall)?;
        crate::copy::copy(room, &bytes);
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_heads_match_encode_head() {
        let message = "caf\u{e9} \"quoted\" \n line";
        let cases = [
            (Header::reply(Status::Ok, 12), Status::Ok, 12, None),
            (
                Header::reply(Status::TooLarge, 0),
                Status::TooLarge,
                0,
                None,
            ),
            (
                Header::error_reply(Status::BadRequest, message),
                Status::BadRequest,
                0,
                Some(message),
            ),
        ];
        for (header, status, size, error) in cases {
            let (mut a, mut b) = ([0u8; 128], [0u8; 128]);
            let n = encode_head(&mut a, &header).unwrap();
            let m = encode_reply_head(&mut b, status, size, error).unwrap();
            assert_eq!(&a[..n], &b[..m]);
        }
    }
    use crate::header::{Op, Status};

    #[test]
    fn welcome_head_is_marked_and_parses_back() {
        let mut header = Header::reply(Status::Ok, 8);
        header.welcome = true;
        let (mut a, mut b) = ([0u8; 128], [0u8; 128]);
        let n = encode_head(&mut a, &header).unwrap();
        let m = encode_welcome_head(&mut b, 8).unwrap();
        assert_eq!(&a[..n], &b[..m]);
        assert_eq!(&b[4..m], br#"{"data_size":8,"status":"ok","welcome":true}"#);
        assert_eq!(Header::parse(&b[4..m]).unwrap(), header);
        // As Python's json.dumps writes it, and only `true` marks one.
        let python = Header::parse(br#"{"data_size": 8, "welcome": true, "status": "ok"}"#);
        assert!(python.unwrap().welcome);
        for other in [
            &br#"{"data_size": 8, "status": "ok"}"#[..],
            br#"{"data_size":8,"status":"ok","welcome":"true"}"#,
            br#"{"data_size":8,"welcome":false}"#,
            br#"{"data_size":8,"welcome":1}"#,
        ] {
            assert!(!Header::parse(other).unwrap().welcome);
        }
    }

    #[test]
    fn golden_spec_vector() {
        let mut out = [0u8; 64];
        let n = encode_frame(&mut out, &Header::new(2), b"hi").unwrap();
        assert_eq!(&out[..n], b"\x0f\x00\x00\x00{\"data_size\":2}hi");
    }

    #[test]
    fn field_order_and_escaping() {
        let mut h = Header::reply(Status::Ok, 0)
            .with_name("a\"b\\c\n\u{1}é")
            .unwrap();
        h.op = Header::request(Op::Get, 0).op;
        let mut out = [0u8; 128];
        let n = encode_head(&mut out, &h).unwrap();
        let json = core::str::from_utf8(&out[4..n]).unwrap();
        assert_eq!(
            json,
            r#"{"data_size":0,"op":"get","name":"a\"b\\c\n\u0001é","status":"ok"}"#
        );
        assert_eq!(Header::parse(json.as_bytes()).unwrap(), h);
    }

    #[test]
    fn sizes_in_decimal() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = [0u8; 64];
            let len = encode_head(&mut out, &Header::new(n)).unwrap();
            let want = std::format!("{{\"data_size\":{n}}}");
            assert_eq!(&out[4..len], want.as_bytes());
        }
    }

    #[test]
    fn small_buffers_are_errors() {
        let h = Header::new(2);
        for len in 0..21 {
            let mut out = std::vec![0u8; len];
            assert_eq!(
                encode_frame(&mut out, &h, b"hi"),
                Err(EncodeError::BufferTooSmall),
                "{len}"
            );
        }
        assert_eq!(
            encode_frame(&mut [0; 64], &h, b"h"),
            Err(EncodeError::SizeMismatch)
        );
    }

    #[test]
    fn user_type() {
        #[derive(serde::Serialize)]
        struct Mine {
            data_size: u64,
            tag: &'static str,
        }
        let mut out = [0u8; 64];
        let n = encode_head_with(
            &mut out,
            &Mine {
                data_size: 1,
                tag: "x",
            },
        )
        .unwrap();
        assert_eq!(
            &out[..n],
            b"\x19\x00\x00\x00{\"data_size\":1,\"tag\":\"x\"}"
        );
    }
}
