//! Your own services on a std server: a custom op with a typed request
//! header and a typed reply, beside SPEC's demo ops through a fallback, on
//! both TCP engines and UDP, called over real sockets and by a stdlib
//! Python client. An op no service claims is `bad_request`, and the demo
//! ops still pass the whole conformance table.
#![cfg(feature = "tokio")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use jframe::Status;
use jframe::header::Typed;
use jframe::service::{Answer, Demo, Fallback, NoKeys, Refusal, Reply, Request, Service};
use jframe_std::conform::{self, Options};
use jframe_std::server::{Config, Driver, Server};

const T: Duration = Duration::from_secs(20);

/// The request header of `read_sensor`: which channel.
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct SensorRequest {
    #[serde(default)]
    channel: u8,
}

/// The reply's extra header keys.
#[derive(Debug, Clone, serde::Serialize)]
struct Reading {
    channel: u8,
    millicelsius: i32,
}

/// A device-like service: `read_sensor` and `set_config`.
#[derive(Debug, Default)]
struct Sensors;

type Header = Typed<SensorRequest>;

impl Service for Sensors {
    type Header = Header;
    type Source = jframe::service::Either<Reply<Reading, [u8; 0]>, Reply<NoKeys, Vec<u8>>>;

    fn call(&mut self, request: &Request<'_, Header>) -> Answer<Self::Source> {
        use jframe::service::Either::{First, Then};
        match request.op {
            Some("read_sensor") => {
                let channel = request.header.value.channel;
                if channel > 3 {
                    return Answer::Refuse(Refusal::text(Status::NotFound, "no such channel"));
                }
                let reading = Reading {
                    channel,
                    millicelsius: 21_000 + i32::from(channel) * 500,
                };
                Answer::Reply(First(Reply::new(Status::Ok, reading, [])))
            }
            Some("set_config") => Answer::Reply(Then(Reply::new(
                Status::Ok,
                NoKeys {},
                format!("applied {} bytes", request.data_size()).into_bytes(),
            ))),
            _ => Answer::Unclaimed,
        }
    }
}

/// The sensor service beside the demo ops, on `driver` and UDP.
fn start(driver: Driver) -> common::InProcess {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(loopback, Some(loopback), Config::default())
        .unwrap()
        .with_driver(driver)
        .with_service(|| Fallback::new(Sensors, Demo::<Header>::with_header()));
    common::InProcess::start(server)
}

fn read_reply(s: &mut TcpStream) -> (serde_json::Value, Vec<u8>) {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let mut head = vec![0u8; u32::from_le_bytes(prefix) as usize];
    s.read_exact(&mut head).unwrap();
    let head: serde_json::Value = serde_json::from_slice(&head).unwrap();
    let mut body = vec![0u8; head["data_size"].as_u64().unwrap() as usize];
    s.read_exact(&mut body).unwrap();
    (head, body)
}

#[test]
fn a_custom_op_beside_the_demo_ops_on_every_std_transport() {
    for driver in [Driver::Threads, Driver::Tokio] {
        let server = start(driver);
        let (tcp, udp) = (server.tcp, server.udp.expect("udp"));
        let mut s = TcpStream::connect(tcp).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        // Pipelined: the custom op, a refusal of it, the demo's echo, an op
        // nobody claims, and a request whose header does not fit the type.
        s.write_all(
            &[
                common::raw_frame(r#"{"data_size":0,"op":"read_sensor","channel":2}"#, b""),
                common::raw_frame(r#"{"data_size":0,"op":"read_sensor","channel":9}"#, b""),
                common::raw_frame(r#"{"data_size":3,"op":"set_config"}"#, b"a=1"),
                common::raw_frame(r#"{"data_size":2,"op":"echo"}"#, b"hi"),
                common::raw_frame(r#"{"data_size":1,"op":"dance"}"#, b"x"),
                common::raw_frame(r#"{"data_size":0,"op":"read_sensor","channel":"two"}"#, b""),
                common::raw_frame(r#"{"data_size":2}"#, b"ok"),
            ]
            .concat(),
        )
        .unwrap();
        let (head, body) = read_reply(&mut s);
        assert_eq!(
            head,
            serde_json::json!({"data_size":0,"status":"ok","channel":2,"millicelsius":22000}),
            "{driver:?}"
        );
        assert!(body.is_empty());
        assert_eq!(read_reply(&mut s).0["status"], "not_found", "{driver:?}");
        assert_eq!(read_reply(&mut s).1, b"applied 3 bytes", "{driver:?}");
        assert_eq!(read_reply(&mut s).1, b"hi", "{driver:?}");
        let (head, _) = read_reply(&mut s);
        assert_eq!(head["status"], "bad_request", "{driver:?}");
        assert_eq!(head["error"], r#"unknown op "dance""#, "{driver:?}");
        assert_eq!(read_reply(&mut s).0["status"], "bad_request", "{driver:?}");
        assert_eq!(read_reply(&mut s).1, b"OK", "{driver:?}");

        // UDP: the same service.
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(T)).unwrap();
        u.send_to(
            &common::raw_frame(r#"{"data_size":0,"op":"read_sensor","channel":1}"#, b""),
            udp,
        )
        .unwrap();
        let mut buf = [0u8; 512];
        let n = u.recv(&mut buf).unwrap();
        let head: serde_json::Value = serde_json::from_slice(&buf[4..n]).unwrap();
        assert_eq!(head["millicelsius"], 21500, "{driver:?}");

        // The demo ops through the fallback: the whole conformance table.
        let outcomes = conform::run_tcp(tcp, &Options::default());
        common::assert_all_pass(&format!("{driver:?}"), &outcomes, false);
    }
}

/// The stdlib Python client of docs/SERVICES.md, taken from the guide
/// itself so that the guide's code is what runs.
fn python_client() -> String {
    let guide = include_str!("../../docs/SERVICES.md");
    let start = guide
        .find("```python\n")
        .expect("a python block in the guide")
        + 10;
    let len = guide[start..].find("```").expect("its end");
    guide[start..start + len].to_string()
}

#[test]
fn the_guide_s_stdlib_python_client_calls_the_custom_op() {
    let server = start(Driver::Tokio);
    let tcp = server.tcp;
    let client = python_client();
    assert!(client.lines().count() <= 15, "{client}");
    let out = Command::new(common::python3())
        .args(["-c", &client, &tcp.port().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let head: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        head,
        serde_json::json!({"data_size":0,"status":"ok","channel":3,"millicelsius":22500})
    );
}

/// What `read_sensor` takes and gives, as a client types them.
#[derive(Debug, serde::Serialize)]
struct Ask {
    channel: u8,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
struct Got {
    channel: u8,
    millicelsius: i32,
}

#[test]
fn the_typed_client_calls_pipelines_and_types_refusals() {
    use jframe_std::call::{CallError, Client};
    for driver in [Driver::Threads, Driver::Tokio] {
        let server = start(driver);
        let tcp = server.tcp;
        let mut c = Client::connect(tcp, T).unwrap();
        let r = c
            .call::<_, Got>("read_sensor", &Ask { channel: 2 }, b"")
            .unwrap();
        assert_eq!(
            r.head,
            Got {
                channel: 2,
                millicelsius: 22_000
            },
            "{driver:?}"
        );
        // Pipelined: three requests in one write, the replies in order.
        for channel in [0, 9, 1] {
            c.send("read_sensor", &Ask { channel }, b"").unwrap();
        }
        assert_eq!(c.receive::<Got>().unwrap().head.millicelsius, 21_000);
        match c.receive::<Got>() {
            Err(CallError::Refused { status, message }) => {
                assert_eq!(
                    (status, message.as_str()),
                    (Status::NotFound, "no such channel")
                );
            }
            other => panic!("{driver:?}: {other:?}"),
        }
        assert_eq!(c.receive::<Got>().unwrap().head.channel, 1);
        // An op nobody serves, and a demo op with a body.
        match c.call::<_, Got>("dance", &Ask { channel: 0 }, b"") {
            Err(CallError::Refused { status, .. }) => assert_eq!(status, Status::BadRequest),
            other => panic!("{driver:?}: {other:?}"),
        }
        let echo = c
            .call::<_, serde_json::Value>("echo", &NoKeys {}, b"typed")
            .unwrap();
        assert_eq!(echo.body, b"typed");
        // A reply larger than the client takes is an error, not a buffer.
        c.set_max_reply(3);
        assert!(matches!(
            c.call::<_, serde_json::Value>("echo", &NoKeys {}, b"too long"),
            Err(CallError::Io(_))
        ));
    }
}

#[test]
fn the_async_typed_client_calls_and_pipelines() {
    use jframe_std::call::{AsyncClient, CallError};
    let server = start(Driver::Tokio);
    let tcp = server.tcp;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = AsyncClient::connect(tcp, T, 1 << 20).await.unwrap();
        let r = c
            .call::<_, Got>("read_sensor", &Ask { channel: 3 }, b"")
            .await
            .unwrap();
        assert_eq!(r.head.millicelsius, 22_500);
        c.send("read_sensor", &Ask { channel: 7 }, b"")
            .await
            .unwrap();
        c.send("set_config", &NoKeys {}, b"hz=5").await.unwrap();
        match c.receive::<Got>().await {
            Err(CallError::Refused { status, .. }) => assert_eq!(status, Status::NotFound),
            other => panic!("{other:?}"),
        }
        let applied = c.receive::<serde_json::Value>().await.unwrap();
        assert_eq!(applied.body, b"applied 4 bytes");
    });
}
