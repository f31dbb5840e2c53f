//! Frames by hand on a raw `TcpStream`: building, reading, the tables of
//! bad frames, and peers that trickle.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A raw frame: prefix + header JSON + body, built by hand.
pub fn raw_frame(header_json: &str, body: &[u8]) -> Vec<u8> {
    let mut v = (header_json.len() as i32).to_le_bytes().to_vec();
    v.extend_from_slice(header_json.as_bytes());
    v.extend_from_slice(body);
    v
}

/// A connected stream with generous timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads one frame by hand: (header JSON as serde_json::Value-free string, body).
pub fn read_raw_frame(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)?;
    let len = i32::from_le_bytes(prefix);
    assert!((2..=4096).contains(&len), "server sent prefix {len}");
    let mut header = vec![0u8; len as usize];
    s.read_exact(&mut header)?;
    let header = String::from_utf8(header).expect("utf-8 header");
    let parsed = jframe::Header::parse(header.as_bytes()).expect("valid header");
    let mut body = vec![0u8; parsed.data_size as usize];
    s.read_exact(&mut body)?;
    Ok((header, body))
}

/// The `status` of a reply header.
pub fn status_of(header_json: &str) -> String {
    jframe::Header::parse(header_json.as_bytes())
        .expect("valid header")
        .status
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// A connection to `to` from the local address `from` (127.0.0.2, say).
pub fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    sock.bind(&local.into()).unwrap();
    sock.connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends an `echo` of `body`; returns the reply's status.
pub fn echo_status(s: &mut TcpStream, body: &[u8]) -> String {
    let header = format!(r#"{{"op":"echo","data_size":{}}}"#, body.len());
    s.write_all(&raw_frame(&header, body)).unwrap();
    let (header, _) = read_raw_frame(s).expect("reply");
    status_of(&header)
}

/// Reads one reply: (status, or "" when absent; body).
pub fn read_reply(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let (h, b) = read_raw_frame(s)?;
    Ok((status_of(&h), b))
}

/// Sends `frame` and returns the reply's (status, body).
pub fn roundtrip(s: &mut TcpStream, frame: &[u8]) -> (String, Vec<u8>) {
    s.write_all(frame).expect("write");
    read_reply(s).expect("reply")
}

/// True once the peer has closed (EOF or reset) within `limit`.
pub fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Writes a request (`header`, then `body`) and reads the reply's header,
/// leaving its body unread.
pub fn request_reply_head(
    s: &mut TcpStream,
    header: &jframe::Header,
    body: &[u8],
) -> jframe::Header {
    let mut head = vec![0u8; jframe_std::SCRATCH];
    let n = jframe::encode_head(&mut head, header).unwrap();
    s.write_all(&head[..n]).unwrap();
    s.write_all(body).unwrap();
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let mut json = vec![0u8; u32::from_le_bytes(prefix) as usize];
    s.read_exact(&mut json).unwrap();
    jframe::Header::parse(&json).unwrap()
}

/// The status a reply header carries, `?` when it has none.
pub fn status_or_unknown(reply: &jframe::Header) -> String {
    reply.status.as_deref().unwrap_or("?").to_string()
}

/// Writes a `get` of `name` and reads the reply's header, leaving its body
/// unread.
pub fn send_get(s: &mut TcpStream, name: &str) -> jframe::Header {
    let head = jframe::Header::request(jframe::Op::Get, 0)
        .with_name(name)
        .unwrap();
    request_reply_head(s, &head, &[])
}

/// Sends one streamed `upper` request and reads only the reply's header:
/// returns the connection and the reply's status. The reply's body is left
/// unread (it holds the server's memory until the connection goes).
pub fn send_upper(addr: SocketAddr, body: &[u8], timeout: Duration) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    let head = jframe::Header::request(jframe::Op::Upper, body.len() as u64);
    let reply = request_reply_head(&mut s, &head, body);
    (s, status_or_unknown(&reply))
}

/// Frames whose errors are recoverable (docs/SPEC.md: the receiver knows
/// where they end), for a server with `--max-body 1024`: (what, the frame,
/// the status it gets). The connection goes on after each.
pub fn recoverable_frames() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "unknown op",
            raw_frame(r#"{"data_size": 2, "op": "shout"}"#, b"hi"),
            "bad_request",
        ),
        (
            "op of the wrong type",
            raw_frame(r#"{"data_size":2,"op":5}"#, b"hi"),
            "bad_request",
        ),
        (
            "name of the wrong type",
            raw_frame(r#"{"data_size":2,"op":"get","name":7}"#, b"hi"),
            "bad_request",
        ),
        (
            "too large",
            raw_frame(r#"{"data_size": 5000}"#, &[b'x'; 5000]),
            "too_large",
        ),
        (
            "too large, body in pieces",
            raw_frame(r#"{"data_size": 70000}"#, &[b'y'; 70000]),
            "too_large",
        ),
    ]
}

/// Frames whose end is in doubt (docs/SPEC.md: a bad prefix or a
/// malformed header): each gets `bad_frame`, then the connection closes.
pub fn fatal_frames() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("H = 1", 1i32.to_le_bytes().to_vec()),
        ("H = 0", 0i32.to_le_bytes().to_vec()),
        ("negative H", (-5i32).to_le_bytes().to_vec()),
        ("huge H", i32::MAX.to_le_bytes().to_vec()),
        ("bad JSON", raw_frame(r#"{"data_size": 2,"#, b"hi")),
        ("not JSON", raw_frame("nope", b"")),
        ("missing data_size", raw_frame(r#"{"op": "upper"}"#, b"")),
        (
            "duplicate key",
            raw_frame(r#"{"data_size":1,"data_size":1}"#, b"x"),
        ),
    ]
}

/// Trickles `byte` into `s`, one at a time with `pause` to notice a close
/// between them, until the server closes the connection (`true`) or
/// `since + limit` passes (`false`).
pub fn trickle_until_closed(
    s: &mut TcpStream,
    byte: u8,
    pause: Duration,
    since: Instant,
    limit: Duration,
) -> bool {
    while since.elapsed() < limit {
        if s.write_all(&[byte]).is_err() || closed_within(s, pause) {
            return true;
        }
    }
    false
}
