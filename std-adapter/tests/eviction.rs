//! A full server makes room (core's admission rule, on both TCP engines):
//! the connection idle longest between frames is closed for a newcomer,
//! and only when every connection is inside a frame is the newcomer told
//! `busy`. Silent connections come from several loopback addresses, each
//! under the per-address limit.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use jframe_std::server::{Config, Driver, Server, ShutdownHandle};

const T: Duration = Duration::from_secs(20);
const MAX_CONNS: usize = 12;
const PER_CLIENT: usize = 4;

fn start(driver: Driver) -> (SocketAddr, ShutdownHandle) {
    let config = Config {
        max_conns: MAX_CONNS,
        max_conns_per_client: PER_CLIENT,
        ..Config::default()
    };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), None, config)
        .unwrap()
        .with_driver(driver);
    let addr = server.local_addr().unwrap();
    let handle = server.shutdown_handle().unwrap();
    std::thread::spawn(move || server.run());
    (addr, handle)
}

/// A connection from `127.0.0.<host>`.
fn connect_from(host: u8, to: SocketAddr) -> TcpStream {
    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0);
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&from.into()).unwrap();
    s.connect(&to.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(T)).unwrap();
    s
}

fn frame(json: &str, body: &[u8]) -> Vec<u8> {
    let mut v = (json.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v.extend_from_slice(body);
    v
}

/// Reads one reply frame: (header JSON, body).
fn reply(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)?;
    let mut header = vec![0u8; u32::from_le_bytes(prefix) as usize];
    s.read_exact(&mut header)?;
    let header = String::from_utf8(header).unwrap();
    let size: usize = header
        .split("\"data_size\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    let mut body = vec![0u8; size];
    s.read_exact(&mut body)?;
    Ok((header, body))
}

fn echo(s: &mut TcpStream, body: &[u8]) -> (String, Vec<u8>) {
    s.write_all(&frame(
        &format!(r#"{{"data_size":{},"op":"echo"}}"#, body.len()),
        body,
    ))
    .unwrap();
    reply(s).unwrap()
}

/// Whether the server closed `s` (EOF or reset) without sending a byte,
/// waiting at most `T`.
fn closed(s: &mut TcpStream) -> bool {
    match s.read(&mut [0u8; 64]) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// `MAX_CONNS` connections, `PER_CLIENT` from each of 127.0.0.2, .3, ...
fn fill(addr: SocketAddr) -> Vec<TcpStream> {
    (0..MAX_CONNS)
        .map(|i| connect_from(2 + (i / PER_CLIENT) as u8, addr))
        .collect()
}

#[test]
fn silent_connections_make_room_for_a_newcomer_on_both_engines() {
    for driver in [Driver::Threads, Driver::Tokio] {
        let (addr, handle) = start(driver);
        // Connections that never send a byte, accepted (FIFO) before the
        // newcomer: the first has been idle longest.
        let mut silent = fill(addr);
        let mut newcomer = connect_from(20, addr);
        assert_eq!(
            echo(&mut newcomer, b"room?"),
            (
                r#"{"data_size":5,"status":"ok"}"#.to_string(),
                b"room?".to_vec()
            ),
            "{driver:?}: the newcomer is served at once"
        );
        // The connection idle longest made room: `busy` (the answer to a
        // request that might have crossed the close), then closed.
        let (header, _) = reply(&mut silent[0]).expect("busy before the close");
        assert!(
            header.contains(r#""status":"busy""#),
            "{driver:?}: {header}"
        );
        assert!(
            closed(&mut silent[0]),
            "{driver:?}: the connection idle longest made room"
        );
        // The others still serve.
        for (i, s) in silent.iter_mut().enumerate().skip(1) {
            let body = format!("still {i}");
            assert_eq!(echo(s, body.as_bytes()).1, body.as_bytes(), "{driver:?}");
        }
        handle.shutdown();
    }
}

#[test]
fn a_server_whose_connections_are_all_in_a_frame_answers_busy() {
    for driver in [Driver::Threads, Driver::Tokio] {
        let (addr, handle) = start(driver);
        let mut busy = fill(addr);
        for s in &mut busy {
            // A whole request and, in the same write, a prefix and half a
            // header: once the reply to the first is here, the server has
            // read the second and counts the connection as inside a frame.
            let mut bytes = frame(r#"{"data_size":2,"op":"echo"}"#, b"go");
            bytes.extend_from_slice(&frame(r#"{"data_size":2,"op":"echo"}"#, b"hi")[..10]);
            s.write_all(&bytes).unwrap();
            assert_eq!(reply(s).unwrap().1, b"go", "{driver:?}");
        }
        let mut newcomer = connect_from(20, addr);
        let (header, _) = reply(&mut newcomer).expect("a busy reply");
        assert!(
            header.contains(r#""status":"busy""#),
            "{driver:?}: {header}"
        );
        assert!(closed(&mut newcomer), "{driver:?}");
        for s in &mut busy {
            s.write_all(&frame(r#"{"data_size":2,"op":"echo"}"#, b"hi")[10..])
                .unwrap();
            assert_eq!(reply(s).unwrap().1, b"hi", "{driver:?}");
        }
        handle.shutdown();
    }
}
