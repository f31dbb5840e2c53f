//! The tests' shared helpers: the requests and the replies they must get
//! ([`Case`]), an in-process testbed (the device and a host-side stack on
//! the virtual wire, the device's pool, all driven by one
//! `block_on`, and a jframe client over host-side sockets), and, in
//! [`host_sim`], std clients of the built `host-sim` binary.
#![allow(dead_code)]

pub mod host_sim;

use std::future::Future;
use std::sync::Arc;

use embassy_futures::join::{join, join_array, join4};
use embassy_futures::select::{Either, select};
use embassy_net::tcp::TcpSocket;
use embassy_net::{IpEndpoint, Stack, StackResources};
use embassy_time::{Duration, with_timeout};
use jframe::io::asynch::{read_frame, write_all, write_frame};
use jframe::{Decoder, Header, Op, Received, Status};
use jframe_embassy_demo::device::{self, DeviceConfig};
use jframe_embassy_demo::sim::net::{self, DEVICE_IP, DEVICE_MAC, HOST_IP, HOST_MAC};
use jframe_embassy_demo::sim::wire::{self, PortState, WireFaults, WireStats};

/// Connections the device serves at once; its pool has one socket more
/// (the spare through which a new client makes room, `device::Pool`).
pub const POOL: usize = 4;
const SOCKETS: usize = POOL + 1;
const DEVICE_BUF: usize = 4096;
pub const CLIENT_BUF: usize = 16 * 1024;
/// Largest reply a test client holds whole.
pub const MAX_REPLY: usize = 70 * 1024;

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

fn leak_buf(len: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; len].into_boxed_slice())
}

/// Runs `client` against a fresh simulated device; panics if it does not
/// finish by `deadline`. Returns the wire's counters.
pub fn run<F, Fut>(
    faults: WireFaults,
    config: DeviceConfig,
    deadline: Duration,
    client: F,
) -> Arc<WireStats>
where
    F: FnOnce(Stack<'static>) -> Fut,
    Fut: Future<Output = ()>,
{
    let _ = env_logger::builder().is_test(true).try_init();
    let stats = Arc::new(WireStats::default());
    let seed = faults.seed;
    let (device_port, host_port, wire) = wire::wire(
        (leak(PortState::new()), DEVICE_MAC),
        (leak(PortState::new()), HOST_MAC),
        faults,
        stats.clone(),
    );
    let (device, mut device_runner) = net::stack(
        device_port,
        DEVICE_IP,
        leak(StackResources::<{ SOCKETS + 2 }>::new()),
        seed,
    );
    let (host, mut host_runner) = net::stack(
        host_port,
        HOST_IP,
        leak(StackResources::<16>::new()),
        seed + 1,
    );
    let config: &'static DeviceConfig = leak(config);
    let slots: &'static device::Pool<SOCKETS> = leak(device::Pool::new());
    let pool: [_; SOCKETS] = core::array::from_fn(|i| {
        device::serve_socket(
            device,
            leak_buf(DEVICE_BUF),
            leak_buf(DEVICE_BUF),
            config,
            slots.slot(i),
            jframe_embassy_demo::stats::device_service,
        )
    });
    let background = join4(
        wire.run(),
        device_runner.run(),
        host_runner.run(),
        join_array(pool),
    );
    let test = with_timeout(deadline, async {
        host.wait_config_up().await;
        client(host).await
    });
    match futures_lite::future::block_on(select(background, test)) {
        Either::First(_) => unreachable!("the device and the wire run forever"),
        Either::Second(Ok(())) => {}
        Either::Second(Err(_)) => panic!(
            "test did not finish within {deadline:?}; wire: {}",
            stats.summary()
        ),
    }
    stats
}

pub fn device_endpoint() -> IpEndpoint {
    IpEndpoint::new(DEVICE_IP.into(), device::PORT)
}

/// Opens a client connection to the device.
pub async fn connect<'a>(host: Stack<'a>, rx: &'a mut [u8], tx: &'a mut [u8]) -> TcpSocket<'a> {
    let mut socket = TcpSocket::new(host, rx, tx);
    socket.set_timeout(Some(Duration::from_secs(120)));
    socket
        .connect(device_endpoint())
        .await
        .expect("connect to the device");
    socket
}

/// A request and the reply it must get.
#[derive(Debug, Clone)]
pub struct Case {
    pub op: Op,
    pub body: Vec<u8>,
}

impl Case {
    pub fn expected(&self) -> Vec<u8> {
        match self.op {
            Op::Echo => self.body.clone(),
            Op::Greet => [b"Hello, ".as_slice(), &self.body, b"!"].concat(),
            _ => self.body.to_ascii_uppercase(),
        }
    }

    /// Checks reply `i` to this case: `ok`, and the expected body byte for
    /// byte.
    pub fn check(&self, i: usize, header: &Header, body: &[u8]) {
        assert_eq!(header.status(), Some(Status::Ok), "reply {i}: {header:?}");
        let expected = self.expected();
        assert_eq!(
            body.len(),
            expected.len(),
            "reply {i} ({:?}) length",
            self.op
        );
        assert!(
            body == expected.as_slice(),
            "reply {i} ({:?}) differs",
            self.op
        );
    }
}

/// `count` requests with sizes from 0 up to `max` (edges included) and
/// pseudo-random mixed-case bodies, ops rotating.
pub fn cases(count: usize, max: usize, seed: u64) -> Vec<Case> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let edges = [
        0, 1, 2, 255, 256, 490, 511, 512, 1023, 1024, 1025, 4096, max,
    ];
    (0..count)
        .map(|i| {
            let len = edges
                .get(i)
                .copied()
                .unwrap_or_else(|| rng.usize(0..=max))
                .min(max);
            let body = (0..len)
                .map(|_| {
                    if rng.bool() {
                        rng.alphanumeric() as u8
                    } else {
                        rng.u8(..)
                    }
                })
                .collect();
            let op = [Op::Upper, Op::Echo, Op::Greet][i % 3];
            Case { op, body }
        })
        .collect()
}

/// Sends all `cases` pipelined on one connection while reading the
/// replies concurrently, and checks every reply byte for byte.
pub async fn exchange(host: Stack<'_>, cases: &[Case]) {
    let (mut rx, mut tx) = (vec![0; CLIENT_BUF], vec![0; CLIENT_BUF]);
    let mut socket = connect(host, &mut rx, &mut tx).await;
    {
        let (mut reader, mut writer) = socket.split();
        let send = async {
            let mut scratch = [0u8; 1024];
            for case in cases {
                let header = Header::request(case.op, case.body.len() as u64);
                write_frame(&mut writer, &mut scratch, &header, &case.body)
                    .await
                    .expect("send request");
            }
        };
        let receive = async {
            let mut decoder = Decoder::new(vec![0u8; MAX_REPLY]);
            for (i, case) in cases.iter().enumerate() {
                let reply = read_frame(&mut reader, &mut decoder).await;
                let Ok(Some(Received::Frame(frame))) = reply else {
                    panic!("reply {i}: expected a frame, got {reply:?}");
                };
                case.check(i, frame.header, frame.body);
            }
        };
        join(send, receive).await;
    }
    socket.close();
    let _ = with_timeout(Duration::from_secs(5), socket.flush()).await;
}

/// Writes raw bytes and returns the next reply header (None: the device
/// closed the connection).
pub async fn raw_request(socket: &mut TcpSocket<'_>, bytes: &[u8]) -> Option<Header> {
    write_all(socket, bytes).await.expect("write raw bytes");
    next_reply(socket).await
}

pub async fn next_reply(socket: &mut TcpSocket<'_>) -> Option<Header> {
    let mut decoder = Decoder::new(vec![0u8; 4096]);
    match read_frame(socket, &mut decoder).await {
        Ok(Some(Received::Frame(frame))) => Some(frame.header.clone()),
        Ok(None) => None,
        other => panic!("unexpected reply: {other:?}"),
    }
}

/// A frame as raw bytes with this header JSON.
pub fn raw_frame(header_json: &str, body: &[u8]) -> Vec<u8> {
    let len = i32::try_from(header_json.len()).expect("test headers are short");
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(header_json.as_bytes());
    out.extend_from_slice(body);
    out
}

pub fn test_config() -> DeviceConfig {
    DeviceConfig {
        timeouts: jframe::service::Timeouts {
            idle_ms: 90_000,
            write_ms: 90_000,
            ..jframe::service::Timeouts::DEVICE
        },
        ..DeviceConfig::default()
    }
}

/// Closes a client socket properly (FIN, bounded wait) before it is dropped,
/// so the device's pool slot is freed at once.
pub async fn hang_up(socket: &mut TcpSocket<'_>) {
    socket.close();
    let _ = with_timeout(Duration::from_secs(5), socket.flush()).await;
}
