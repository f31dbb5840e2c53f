//! A full server makes room (core's admission rule, on both TCP drivers):
//! the connection idle longest between frames is closed for a newcomer,
//! and only when every connection is inside a frame is the newcomer told
//! `busy`. Silent connections come from several loopback addresses, each
//! under the per-address limit.
#![cfg(feature = "tokio")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{InProcess, connect_from, raw_frame, read_raw_frame};
use jframe_std::server::{Config, Driver, Server};

const T: Duration = Duration::from_secs(20);
const MAX_CONNS: usize = 12;
const PER_CLIENT: usize = 4;

fn start(driver: Driver) -> InProcess {
    let config = Config {
        max_conns: MAX_CONNS,
        max_conns_per_client: PER_CLIENT,
        ..Config::default()
    };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), None, config).unwrap();
    InProcess::start(server.with_driver(driver))
}

/// A connection from `127.0.0.<host>`.
fn from_host(host: u8, to: SocketAddr) -> TcpStream {
    let s = connect_from(&format!("127.0.0.{host}"), to);
    s.set_read_timeout(Some(T)).unwrap();
    s
}

fn echo(s: &mut TcpStream, body: &[u8]) -> (String, Vec<u8>) {
    s.write_all(&raw_frame(
        &format!(r#"{{"data_size":{},"op":"echo"}}"#, body.len()),
        body,
    ))
    .unwrap();
    read_raw_frame(s).unwrap()
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
        .map(|i| from_host(2 + (i / PER_CLIENT) as u8, addr))
        .collect()
}

#[test]
fn silent_connections_make_room_for_a_newcomer_on_both_drivers() {
    for driver in [Driver::Threads, Driver::Tokio] {
        let server = start(driver);
        let addr = server.tcp;
        // Connections that never send a byte, accepted (FIFO) before the
        // newcomer: the first has been idle longest.
        let mut silent = fill(addr);
        let mut newcomer = from_host(20, addr);
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
        let (header, _) = read_raw_frame(&mut silent[0])
            .unwrap_or_else(|e| panic!("{driver:?}: no busy before the close: {e}"));
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
        server.handle.shutdown();
    }
}

#[test]
fn a_server_whose_connections_are_all_in_a_frame_answers_busy() {
    for driver in [Driver::Threads, Driver::Tokio] {
        let server = start(driver);
        let addr = server.tcp;
        let mut busy = fill(addr);
        for s in &mut busy {
            // A whole request and, in the same write, a prefix and half a
            // header: once the reply to the first is here, the server has
            // read the second and counts the connection as inside a frame.
            let mut bytes = raw_frame(r#"{"data_size":2,"op":"echo"}"#, b"go");
            bytes.extend_from_slice(&raw_frame(r#"{"data_size":2,"op":"echo"}"#, b"hi")[..10]);
            s.write_all(&bytes).unwrap();
            assert_eq!(read_raw_frame(s).unwrap().1, b"go", "{driver:?}");
        }
        let mut newcomer = from_host(20, addr);
        let (header, _) = read_raw_frame(&mut newcomer).expect("a busy reply");
        assert!(
            header.contains(r#""status":"busy""#),
            "{driver:?}: {header}"
        );
        assert!(closed(&mut newcomer), "{driver:?}");
        for s in &mut busy {
            s.write_all(&raw_frame(r#"{"data_size":2,"op":"echo"}"#, b"hi")[10..])
                .unwrap();
            assert_eq!(read_raw_frame(s).unwrap().1, b"hi", "{driver:?}");
        }
        server.handle.shutdown();
    }
}
