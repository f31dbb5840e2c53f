//! The loopback port forwarder: what QEMU's `hostfwd` does for firmware,
//! done for the simulated device.
//!
//! An accept loop takes clients on a std `TcpListener` (through `async-io`,
//! whose reactor thread wakes the embassy executor) and hands each to a free
//! forwarder of the pool ([`Dispatch`]: every forwarder waits on its own
//! signal, so an idle pool sleeps; one channel shared by all of them has a
//! single receiver waker, over which the waiting tasks kept waking each
//! other). Each forwarder opens a connection to the device, either
//! with a `TcpSocket` on the host-side embassy-net stack (virtual wire) or
//! with a kernel socket (TAP mode), and relays bytes both ways until both
//! sides are done, or until nothing has moved either way for the idle limit
//! (idle means idle: a session that keeps moving bytes is never cut). Half-closes are passed on, so a client that sends its
//! requests, shuts down its write half and reads the replies works.

use core::cell::Cell;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::relay::OneWay;
use async_io::Async;
use embassy_futures::select::{Either, select};
use embassy_net::tcp::{State, TcpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Instant, Timer, with_timeout};
use embedded_io_adapters::futures_03::FromFutures;
use embedded_io_async::Read;

/// How long opening the device side may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default idle limit of a forwarded connection: nothing moved either way
/// for this long (the device's own idle timeout is shorter).
pub const DEFAULT_IDLE: Duration = Duration::from_secs(150);

/// Hands accepted clients to free forwarders: `N` forwarders, each waiting
/// on its own [`Signal`], and a queue of the free ones that only the accept
/// loop reads. Every waker has exactly one waiter, so nothing wakes while
/// no client comes. The accept loop takes a client only when a forwarder is
/// free; until then clients wait in the kernel's listen backlog.
pub struct Dispatch<const N: usize> {
    free: Channel<CriticalSectionRawMutex, usize, N>,
    hand: [Signal<CriticalSectionRawMutex, Async<TcpStream>>; N],
}

impl<const N: usize> core::fmt::Debug for Dispatch<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dispatch")
            .field("free", &self.free.len())
            .finish_non_exhaustive()
    }
}

impl<const N: usize> Default for Dispatch<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Dispatch<N> {
    /// A dispatcher for `N` forwarders (a `static` is fine).
    pub const fn new() -> Self {
        Dispatch {
            free: Channel::new(),
            hand: [const { Signal::new() }; N],
        }
    }

    /// Forwarder `me` is free: waits for its next client.
    async fn next_client(&self, me: usize) -> Async<TcpStream> {
        // Never full: each forwarder is in the queue at most once.
        let _ = self.free.try_send(me);
        self.hand[me].wait().await
    }
}

/// How forwarders behave.
#[derive(Debug, Clone, Copy)]
pub struct ForwardConfig {
    /// A session in which nothing moves either way for this long is closed.
    pub idle: Duration,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig { idle: DEFAULT_IDLE }
    }
}

/// Where forwarders connect to.
#[derive(Clone, Copy)]
pub enum Target<'d> {
    /// Through the host-side embassy-net stack on the virtual wire.
    Stack {
        /// The host-side stack.
        stack: Stack<'d>,
        /// The device's service endpoint (port 7).
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

/// Forwarder counters, updated as bytes move (a summary taken while
/// sessions are open includes what they moved so far).
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
    /// Whole jframe frames (prefix, header and body) from clients to the
    /// device: the requests. A stream that stops being well-formed jframe
    /// (a bad prefix or header) is counted no further on that connection;
    /// its bytes still count and are still forwarded.
    pub requests: AtomicU64,
    /// Whole jframe frames from the device to clients: the replies.
    pub replies: AtomicU64,
}

impl ForwardStats {
    /// A one-line summary, e.g. `1 connection (0 failed to reach the
    /// device), 3 jframe requests, 3 jframe replies, 120 bytes up, 117 bytes
    /// down`.
    pub fn summary(&self) -> std::string::String {
        let n = |counter: &AtomicU64| counter.load(Relaxed);
        std::format!(
            "{} ({} failed to reach the device), {}, {}, {} up, {} down",
            count(n(&self.connections), "connection", "connections"),
            n(&self.failed),
            count(n(&self.requests), "jframe request", "jframe requests"),
            count(n(&self.replies), "jframe reply", "jframe replies"),
            count(n(&self.bytes_up), "byte", "bytes"),
            count(n(&self.bytes_down), "byte", "bytes"),
        )
    }
}

/// `n` and its noun, singular for 1: `1 connection`, `2 connections`
/// (the wire's summary says its frames the same way).
pub(crate) fn count(n: u64, one: &str, many: &str) -> std::string::String {
    std::format!("{n} {}", if n == 1 { one } else { many })
}

/// Accepts clients forever, each once a forwarder is free, and hands it
/// over.
pub async fn accept_loop<const N: usize>(
    listener: &Async<TcpListener>,
    dispatch: &Dispatch<N>,
) -> ! {
    loop {
        let free = dispatch.free.receive().await;
        let client = loop {
            match listener.accept().await {
                Ok((client, peer)) => {
                    log::debug!("forward: client {peer} to forwarder {free}");
                    // Small request/reply frames should not wait for Nagle.
                    let _ = client.get_ref().set_nodelay(true);
                    break client;
                }
                Err(e) => {
                    log::warn!("forward: accept failed: {e}");
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        };
        dispatch.hand[free].signal(client);
    }
}

/// Forwarder `me` of the pool: takes a client, forwards it, repeats.
/// `rx_buffer`/`tx_buffer` back the host-side socket ([`Target::Stack`]).
pub async fn forwarder<const N: usize>(
    target: Target<'_>,
    (dispatch, me): (&Dispatch<N>, usize),
    rx_buffer: &mut [u8],
    tx_buffer: &mut [u8],
    config: ForwardConfig,
    stats: &ForwardStats,
) -> ! {
    let mut up = OneWay::new(&stats.bytes_up, &stats.requests);
    let mut down = OneWay::new(&stats.bytes_down, &stats.replies);
    loop {
        let client = dispatch.next_client(me).await;
        stats.connections.fetch_add(1, Relaxed);
        up.reset();
        down.reset();
        let session = Forwarded {
            client: &client,
            idle: config.idle,
            last: Cell::new(Instant::now()),
        };
        let reached = match target {
            Target::Stack { stack, device } => {
                let socket = TcpSocket::new(stack, &mut *rx_buffer, &mut *tx_buffer);
                via_stack(socket, device, &session, (&mut up, &mut down)).await
            }
            Target::Kernel(addr) => via_kernel(addr, &session, (&mut up, &mut down)).await,
        };
        if !reached {
            stats.failed.fetch_add(1, Relaxed);
        }
        finish_client(&client).await;
    }
}

/// One forwarded client, and when bytes last moved either way.
struct Forwarded<'c> {
    client: &'c Async<TcpStream>,
    idle: Duration,
    last: Cell<Instant>,
}

impl Forwarded<'_> {
    /// Ends once nothing has moved for the idle limit; each relay moves
    /// `last` forward, so a session that keeps moving is never cut.
    async fn idle_out(&self) {
        loop {
            let due = self
                .last
                .get()
                .checked_add(self.idle)
                .unwrap_or(Instant::MAX);
            if Instant::now() >= due {
                return;
            }
            Timer::at(due).await;
        }
    }
}

/// Forwards one client through the host-side stack; false if the device
/// could not be reached.
async fn via_stack(
    mut socket: TcpSocket<'_>,
    device: IpEndpoint,
    session: &Forwarded<'_>,
    (up, down): (&mut OneWay<'_>, &mut OneWay<'_>),
) -> bool {
    let (client, last) = (session.client, &session.last);
    // smoltcp's own timeout: nothing heard from the device for this long
    // while data waits for its ACK.
    socket.set_timeout(Some(session.idle));
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
            up.run(&mut client_in, &mut to_device, last),
            down.run(&mut from_device, &mut client_out, last),
        );
        idle_or(session, both).await
    };
    match first {
        // The client has sent everything: pass its FIN on, then let the
        // device finish its replies.
        Some(Either::First(Ok(()))) => {
            socket.close();
            let _ = idle_or(session, down.run(&mut socket, &mut client_out, last)).await;
        }
        // The device closed: the client gets its FIN in finish_client.
        Some(Either::Second(Ok(()))) => socket.close(),
        Some(Either::First(Err(e)) | Either::Second(Err(e))) => {
            log::debug!("forward: {e}");
            socket.abort();
        }
        None => {
            log::debug!("forward: idle for {} s, closed", session.idle.as_secs());
            socket.abort();
        }
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
    session: &Forwarded<'_>,
    (up, down): (&mut OneWay<'_>, &mut OneWay<'_>),
) -> bool {
    let (client, last) = (session.client, &session.last);
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
    let first = idle_or(
        session,
        select(
            up.run(&mut client_in, &mut device_out, last),
            down.run(&mut device_in, &mut client_out, last),
        ),
    )
    .await;
    if let Some(Either::First(Ok(()))) = first {
        let _ = device.get_ref().shutdown(Shutdown::Write);
        let _ = idle_or(session, down.run(&mut device_in, &mut client_out, last)).await;
    }
    true
}

/// Runs `work` until it ends (`Some`) or the session has been idle for its
/// limit (`None`).
async fn idle_or<T>(
    session: &Forwarded<'_>,
    work: impl core::future::Future<Output = T>,
) -> Option<T> {
    match select(work, session.idle_out()).await {
        Either::First(done) => Some(done),
        Either::Second(()) => None,
    }
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
