//! `jframe conform` against a server that is not jframe's and has only its
//! own ops (no `upper`, `echo`, `greet` or `get`): the framing cases pass,
//! the demo ops' cases are skipped or fail as they must.

mod common;

use common::*;
use jframe_std::conform;

#[test]
fn a_server_with_only_its_own_ops_passes_the_framing_cases() {
    let (tcp, udp) = own_ops::start();
    let (tcp, udp) = (tcp.to_string(), udp.to_string());
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("own.xml");
    let common = ["--udp", udp.as_str(), "--timeout", "3s", "--jobs", "8"];

    // Text: one line per case, all ok, and the summary says 0 failed.
    let mut args = vec![tcp.as_str(), "--framing-only", "--ok-op", "read_sensor"];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    let ok = conform::framing_cases(&conform::OkRequest::new("read_sensor", b"").unwrap()).len();
    let summary = text.lines().last().unwrap_or("");
    assert!(
        status.success() && summary == format!("{ok} passed (0 non-strict), 0 failed"),
        "{status}: {text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        ok,
        "{text}"
    );

    // JSON and JUnit, with a body for the other op.
    let mut args = vec![
        tcp.as_str(),
        "--op",
        "set_config",
        "--ok-body",
        r#"{"led":1}"#,
    ];
    args.extend(["--json", "--junit", junit.to_str().unwrap()]);
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert!(status.success(), "{text}");
    let (cases, summary) = json_report(&text);
    check_junit(&junit, &cases, &summary);
    assert_eq!(summary["fail"], 0, "{summary}");
    assert_eq!(summary["pass"], ok, "{summary}");
    assert_eq!(summary["services"]["ok_op"], "set_config");
    assert!(cases.iter().any(|c| c["transport"] == "udp"));
    assert!(cases.iter().all(|c| c["group"] == "framing"));

    // The checks can fail: an op it does not have is bad_request, and the
    // demo services are not there.
    let mut args = vec![tcp.as_str(), "--ok-op", "upper", "--only", "tcp/vector/"];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL       tcp/vector/jframe-dialect: reply 1 of 2: expected status ok, got bad_request"),
        "{text}"
    );
    let (status, text) = conform_quietly(&[&tcp, "--only", "tcp/service/echo"]);
    assert_eq!(status.code(), Some(1), "{text}");
}

/// A server with only its own ops, `read_sensor` and `set_config` (no
/// upper, echo, greet or get), written on jframe's decoder and encoder the
/// way a user would: TCP (a thread per connection) and UDP.
mod own_ops {
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
    use std::time::{Duration, Instant};

    use jframe::{DecodeError, Decoder, Event, Header, Parse, Status};

    fn reply(out: &mut Vec<u8>, header: &Header, body: &[u8]) {
        let mut buf = vec![0u8; 512 + body.len()];
        let n = jframe::encode_frame(&mut buf, header, body).expect("encode");
        out.extend_from_slice(&buf[..n]);
    }

    /// The answer to a well-formed request.
    fn answer(out: &mut Vec<u8>, op: Option<&str>, body: &[u8]) {
        match op {
            Some("read_sensor") => reply(out, &Header::reply(Status::Ok, 4), b"21.5"),
            Some("set_config") => {
                let text = format!("stored {} bytes", body.len());
                reply(
                    out,
                    &Header::reply(Status::Ok, text.len() as u64),
                    text.as_bytes(),
                );
            }
            _ => reply(
                out,
                &Header::error_reply(Status::BadRequest, "unknown op"),
                b"",
            ),
        }
    }

    fn error(out: &mut Vec<u8>, e: &DecodeError) {
        reply(out, &Header::error_reply(e.status(), "bad frame"), b"");
    }

    /// Sends what is pending, then closes without a reset: stop writing,
    /// read what the peer still sends (bounded), drop.
    fn close(mut s: TcpStream, out: &[u8]) {
        let _ = s.write_all(out);
        let _ = s.shutdown(Shutdown::Write);
        let until = Instant::now() + Duration::from_secs(2);
        let mut sink = [0u8; 4096];
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        while Instant::now() < until {
            match s.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    }

    fn connection(mut s: TcpStream) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let mut dec = Decoder::new(vec![0u8; 16 * 1024]);
        let mut input = [0u8; 8192];
        loop {
            let n = match s.read(&mut input) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mut rest = &input[..n];
            let mut out = Vec::new();
            // Each feed consumes a byte or reports an event or an error; a
            // fatal error ends the connection.
            for _ in 0..=2 * n + 2 {
                if rest.is_empty() {
                    break;
                }
                let (used, event) = dec.feed(rest);
                let mut end = false;
                match event {
                    Ok(Event::NeedMore) => {}
                    Ok(Event::Frame(f)) if f.header.status.is_some() => end = true,
                    Ok(Event::Frame(f)) => answer(&mut out, f.header.op.as_deref(), f.body),
                    Ok(Event::Head(_) | Event::BodyChunk { .. }) => end = true,
                    Err(e) if e.is_recoverable() => error(&mut out, &e),
                    Err(e) => {
                        error(&mut out, &e);
                        end = true;
                    }
                }
                if end {
                    return close(s, &out);
                }
                rest = &rest[used..];
            }
            if s.write_all(&out).is_err() {
                return;
            }
        }
    }

    fn datagrams(sock: UdpSocket) {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                return;
            };
            let mut header = Header::default();
            let mut out = Vec::new();
            match jframe::parse_frame(&buf[..n], 4096, &mut header) {
                Ok(Parse::Complete { .. }) if header.status.is_some() => continue,
                Ok(Parse::Complete { body, len, .. }) if len == n => {
                    answer(&mut out, header.op.as_deref(), body)
                }
                Ok(Parse::Complete { .. })
                | Ok(Parse::Partial {
                    data_size: None, ..
                }) => reply(
                    &mut out,
                    &Header::error_reply(Status::BadFrame, "bad datagram"),
                    b"",
                ),
                Ok(Parse::Partial {
                    data_size: Some(_), ..
                }) => reply(
                    &mut out,
                    &Header::error_reply(Status::Truncated, "short"),
                    b"",
                ),
                Err(e) => error(&mut out, &e),
            }
            let _ = sock.send_to(&out, peer);
        }
    }

    /// Starts the server on 127.0.0.1: (TCP, UDP) addresses.
    pub fn start() -> (SocketAddr, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addrs = (listener.local_addr().unwrap(), udp.local_addr().unwrap());
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                std::thread::spawn(move || connection(s));
            }
        });
        std::thread::spawn(move || datagrams(udp));
        addrs
    }
}
