//! The loopback port forwarder: what QEMU's `hostfwd` does for firmware,
//! done for the simulated device.
//!
//! An accept loop takes clients on a std `TcpListener` (through `async-io`,
//! whose reactor thread wakes the embassy executor) and hands them to a pool
//! of forwarders. Each forwarder opens a connection to the device, either
//! with a `TcpSocket` on the host-side embassy-net stack (virtual wire) or
//! with a kernel socket (TAP mode), and pumps bytes both ways until both
//! sides are done. Half-closes are passed on, so a client that sends its
//! requests, shuts down its write half and reads the replies works.

use std::boxed::Box;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::vec;

use async_io::Async;
use embassy_futures::select::{Either, select};
use embassy_net::tcp::{State, TcpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_time::{Duration, Timer, with_timeout};
use embedded_io_adapters::futures_03::FromFutures;
use embedded_io_async::{Read, Write};

/// Clients accepted but not yet taken by a forwarder.
pub const BACKLOG: usize = 8;
/// How long opening the device side may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// After one side has finished, how long the other gets to finish too.
const LINGER: Duration = Duration::from_secs(30);
/// Idle limit of a forwarded connection (the device's own is shorter).
const IDLE: Duration = Duration::from_secs(120);
/// Size of each direction's pump buffer.
const PUMP_BUF: usize = 8192;

/// Accepted clients waiting for a forwarder.
pub type Inbox = Channel<CriticalSectionRawMutex, Async<TcpStream>, BACKLOG>;

/// Where forwarders connect to.
#[derive(Clone, Copy)]
pub enum Target<'d> {
    /// Through the host-side embassy-net stack on the virtual wire.
    Stack {
        /// The host-side stack.
        stack: Stack<'d>,
        /// The device's echo endpoint.
        device: IpEndpoint,
    },
    /// Through the kernel (TAP mode: the device is on a TAP interface).
    Kernel(SocketAddr),
}

impl core::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Target::Stack { device, .. } => write!(f, "{device} via the virtual wire"),
            Target::Kernel(addr) => write!(f, "{addr} via the kernel"),
        }
    }
}

/// Forwarder counters.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Client connections accepted.
    pub connections: AtomicU64,
    /// Connections whose device side could not be opened.
    pub failed: AtomicU64,
    /// Bytes from clients to the device.
    pub bytes_up: AtomicU64,
    /// Bytes from the device to clients.
    pub bytes_down: AtomicU64,
}

impl ForwardStats {
    /// A one-line summary.
    pub fn summary(&self) -> std::string::String {
        std::format!(
            "{} connections ({} failed to reach the device), {} bytes up, {} bytes down",
            self.connections.load(Relaxed),
            self.failed.load(Relaxed),
            self.bytes_up.load(Relaxed),
            self.bytes_down.load(Relaxed),
        )
    }
}

/// Accepts clients forever and queues them for the forwarders.
pub async fn accept_loop(listener: &Async<TcpListener>, inbox: &Inbox) -> ! {
    loop {
        match listener.accept().await {
            Ok((client, peer)) => {
                log::debug!("forward: client {peer}");
                // Small request/reply frames should not wait for Nagle.
                let _ = client.get_ref().set_nodelay(true);
                inbox.send(client).await;
            }
            Err(e) => {
                log::warn!("forward: accept failed: {e}");
                Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One forwarder of the pool: takes a client, forwards it, repeats.
/// `rx_buffer`/`tx_buffer` back the host-side socket ([`Target::Stack`]).
pub async fn forwarder(
    target: Target<'_>,
    inbox: &Inbox,
    rx_buffer: &mut [u8],
    tx_buffer: &mut [u8],
    stats: &ForwardStats,
) -> ! {
    let mut up = Pump::new();
    let mut down = Pump::new();
    loop {
        let client = inbox.receive().await;
        stats.connections.fetch_add(1, Relaxed);
        up.reset();
        down.reset();
        let reached = match target {
            Target::Stack { stack, device } => {
                let socket = TcpSocket::new(stack, &mut *rx_buffer, &mut *tx_buffer);
                via_stack(socket, device, &client, (&mut up, &mut down)).await
            }
            Target::Kernel(addr) => via_kernel(addr, &client, (&mut up, &mut down)).await,
        };
        if !reached {
            stats.failed.fetch_add(1, Relaxed);
        }
        stats.bytes_up.fetch_add(up.moved, Relaxed);
        stats.bytes_down.fetch_add(down.moved, Relaxed);
        finish_client(&client).await;
    }
}

/// Forwards one client through the host-side stack; false if the device
/// could not be reached.
async fn via_stack(
    mut socket: TcpSocket<'_>,
    device: IpEndpoint,
    client: &Async<TcpStream>,
    (up, down): (&mut Pump, &mut Pump),
) -> bool {
    socket.set_timeout(Some(IDLE));
    if !matches!(
        with_timeout(CONNECT_TIMEOUT, socket.connect(device)).await,
        Ok(Ok(()))
    ) {
        log::warn!("forward: cannot reach the device at {device}");
        reset(&mut socket).await;
        return false;
    }
    socket.set_nagle_enabled(false);
    let mut client_in = FromFutures::new(client);
    let mut client_out = FromFutures::new(client);
    let first = {
        let (mut from_device, mut to_device) = socket.split();
        let both = select(
            up.run(&mut client_in, &mut to_device),
            down.run(&mut from_device, &mut client_out),
        );
        with_timeout(IDLE, both).await
    };
    match first {
        // The client has sent everything: pass its FIN on, then let the
        // device finish its replies.
        Ok(Either::First(Ok(()))) => {
            socket.close();
            let _ = with_timeout(LINGER, down.run(&mut socket, &mut client_out)).await;
        }
        // The device closed: the client gets its FIN in finish_client.
        Ok(Either::Second(Ok(()))) => socket.close(),
        Ok(Either::First(Err(e)) | Either::Second(Err(e))) => {
            log::debug!("forward: {e}");
            socket.abort();
        }
        Err(_) => socket.abort(),
    }
    // Let the FIN (or RST) reach the device before the socket goes away.
    let _ = with_timeout(Duration::from_secs(2), socket.flush()).await;
    if !matches!(socket.state(), State::Closed | State::TimeWait) {
        reset(&mut socket).await;
    }
    true
}

/// Forwards one client through a kernel socket (TAP mode).
async fn via_kernel(
    addr: SocketAddr,
    client: &Async<TcpStream>,
    (up, down): (&mut Pump, &mut Pump),
) -> bool {
    let device = match with_timeout(CONNECT_TIMEOUT, Async::<TcpStream>::connect(addr)).await {
        Ok(Ok(device)) => device,
        Ok(Err(e)) => {
            log::warn!("forward: cannot reach the device at {addr}: {e}");
            return false;
        }
        Err(_) => {
            log::warn!("forward: connecting to the device at {addr} timed out");
            return false;
        }
    };
    let _ = device.get_ref().set_nodelay(true);
    let (mut client_in, mut client_out) = (FromFutures::new(client), FromFutures::new(client));
    let (mut device_in, mut device_out) = (FromFutures::new(&device), FromFutures::new(&device));
    let first = with_timeout(
        IDLE,
        select(
            up.run(&mut client_in, &mut device_out),
            down.run(&mut device_in, &mut client_out),
        ),
    )
    .await;
    if let Ok(Either::First(Ok(()))) = first {
        let _ = device.get_ref().shutdown(Shutdown::Write);
        let _ = with_timeout(LINGER, down.run(&mut device_in, &mut client_out)).await;
    }
    true
}

/// Closes the client's side: FIN, then read what it still sends (so the
/// kernel does not answer unread data with a reset that could overtake the
/// replies), bounded in time.
async fn finish_client(client: &Async<TcpStream>) {
    let _ = client.get_ref().shutdown(Shutdown::Write);
    let mut sink = FromFutures::new(client);
    let mut buf = [0u8; 512];
    let _ = with_timeout(Duration::from_secs(2), async {
        while let Ok(1..) = sink.read(&mut buf).await {}
    })
    .await;
}

/// Aborts a host-side socket and waits (bounded) for the RST to leave.
async fn reset(socket: &mut TcpSocket<'_>) {
    socket.abort();
    let _ = with_timeout(Duration::from_millis(200), socket.flush()).await;
}

/// Why a pump stopped.
#[derive(Debug)]
enum PumpError {
    Read,
    Write,
}

impl core::fmt::Display for PumpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PumpError::Read => "reading a side failed",
            PumpError::Write => "writing a side failed",
        })
    }
}

/// One direction of a forwarded connection. Its state lives outside the
/// future, so a `run` cancelled by `select` loses no bytes: the next `run`
/// first writes what the previous one read.
struct Pump {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    moved: u64,
}

impl Pump {
    fn new() -> Self {
        Pump {
            buf: vec![0; PUMP_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            moved: 0,
        }
    }

    fn reset(&mut self) {
        (self.start, self.end, self.moved) = (0, 0, 0);
    }

    /// Moves bytes from `from` to `to` until `from` ends (`Ok`).
    async fn run<R: Read, W: Write>(&mut self, from: &mut R, to: &mut W) -> Result<(), PumpError> {
        loop {
            if self.start == self.end {
                let n = from
                    .read(&mut self.buf)
                    .await
                    .map_err(|_| PumpError::Read)?;
                if n == 0 {
                    return to.flush().await.map_err(|_| PumpError::Write);
                }
                (self.start, self.end) = (0, n);
            }
            let pending = &self.buf[self.start..self.end];
            match to.write(pending).await {
                Ok(0) | Err(_) => return Err(PumpError::Write),
                Ok(n) => {
                    self.start += n;
                    self.moved += n as u64;
                }
            }
        }
    }
}
