//! host-sim: the device's jframe service on embassy-net, on the host.
//!
//! The device stack runs on embassy-executor (platform-std) and is joined by
//! an in-process virtual Ethernet wire to a second, host-side embassy-net
//! stack. A loopback port is forwarded through that wire to the device's
//! port 7, the way QEMU's `hostfwd` reaches firmware, so any jframe client
//! (the `jframe` CLI, the Python seed client, `nc`) can talk to it. With
//! `--tap` the device stack sits on a real TAP interface instead and the
//! forwarder reaches it through the kernel.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;

use async_io::Async;
use clap::Parser;
use embassy_executor::{Executor, Spawner};
use embassy_net::{IpEndpoint, Runner, Stack, StackResources};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::Duration;
use jframe_embassy_demo::device::{self, DeviceConfig, Pool, PoolSlot};
use jframe_embassy_demo::sim::forward::{self, Dispatch, ForwardConfig, ForwardStats, Target};
use jframe_embassy_demo::sim::net::{self, DEVICE_IP, DEVICE_MAC, HOST_IP, HOST_MAC};
use jframe_embassy_demo::sim::wire::{
    self, MAX_MTU, MIN_MTU, Port, PortState, Wire, WireFaults, WireStats,
};
use jframe_embassy_demo::stats;
use static_cell::StaticCell;

/// Sockets on the device's port 7 (the pool): 8 connections served,
/// plus the spare through which a ninth client makes room (`device::Pool`).
const DEVICE_SOCKETS: usize = 9;
/// Concurrent forwarded connections: more than the device's pool, so that
/// the device's policy (not the forwarder, which plays QEMU's `hostfwd`)
/// decides who is served.
const FORWARDERS: usize = 32;
/// Device socket buffers: a microcontroller-sized window.
const DEVICE_SOCKET_BUF: usize = 4096;
/// Host-side socket buffers.
const HOST_SOCKET_BUF: usize = 16 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "host-sim",
    version,
    about = "Run the jframe device (embassy-net) on the host, reachable through a forwarded loopback port",
    after_help = "Examples:\n  host-sim --drop 5 --seed 42, then: jframe send 127.0.0.1:7000 hello\n  \
                  host-sim --forward :7001   (localhost:7001; a name is bound on its IPv4 address first)\n\n\
                  Ctrl-C, SIGTERM or SIGHUP prints a summary and exits 0."
)]
struct Args {
    /// Address forwarded to the device's port 7: HOST:PORT or :PORT (localhost:PORT); port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000", value_parser = forward_addr)]
    forward: SocketAddr,
    /// Percentage of Ethernet frames the virtual wire drops.
    #[arg(long, value_name = "PCT", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    drop: u8,
    /// Percentage of Ethernet frames the virtual wire corrupts (one bit flipped).
    #[arg(long, value_name = "PCT", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    corrupt: u8,
    /// One-way latency the virtual wire adds to every frame, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    delay: u64,
    /// Ethernet MTU of the virtual wire and both stacks (frame bytes, header included).
    #[arg(long, value_name = "N", default_value_t = MAX_MTU as u64,
          value_parser = clap::value_parser!(u64).range(MIN_MTU as u64..=MAX_MTU as u64))]
    mtu: u64,
    /// Seed of the fault PRNG and the stacks' randomness: same seed, same faults.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Put the device on this TAP interface instead of the virtual wire (needs root).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["drop", "corrupt", "delay", "mtu"])]
    tap: Option<String>,
    /// Idle timeout of a device connection, in seconds (default: the
    /// device's, `Timeouts::DEVICE`).
    #[arg(long, value_name = "SECS", default_value_t = jframe::service::Timeouts::DEVICE.idle_ms / 1000, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Idle limit of a forwarded connection, in seconds: closed when nothing moved either way for this long.
    #[arg(long, value_name = "SECS", default_value_t = forward::DEFAULT_IDLE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    forward_idle: u64,
}

static EXECUTOR: StaticCell<Executor> = StaticCell::new();
static DEVICE_CONFIG: StaticCell<DeviceConfig> = StaticCell::new();
static DISPATCH: Dispatch<FORWARDERS> = Dispatch::new();
static POOL: Pool<DEVICE_SOCKETS> = Pool::new();
static FWD_STATS: StaticCell<Arc<ForwardStats>> = StaticCell::new();
static LISTENER: StaticCell<Async<TcpListener>> = StaticCell::new();
static DEVICE_RESOURCES: StaticCell<StackResources<{ DEVICE_SOCKETS + 2 }>> = StaticCell::new();
static HOST_RESOURCES: StaticCell<StackResources<{ FORWARDERS + 2 }>> = StaticCell::new();
static PORT_A: StaticCell<PortState> = StaticCell::new();
static PORT_B: StaticCell<PortState> = StaticCell::new();

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    match start(&args) {
        Ok(setup) => run(args, setup),
        Err(message) => {
            eprintln!("host-sim: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The address to listen on for `--forward`, the way `jframe serve -l`
/// resolves it: `:PORT` means `localhost:PORT`; a name that resolves to both
/// families (`localhost`) is bound on its IPv4 address, which is what most
/// clients reach first.
fn forward_addr(addr: &str) -> Result<SocketAddr, String> {
    let a = addr.trim();
    if a.is_empty() {
        return Err("empty address: write HOST:PORT (e.g. localhost:7000)".into());
    }
    let a = match a.strip_prefix(':') {
        Some(port) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => {
            format!("localhost:{port}")
        }
        _ => a.to_string(),
    };
    let has_port = a.rsplit_once(':').is_some_and(|(host, port)| {
        !port.is_empty()
            && port.chars().all(|c| c.is_ascii_digit())
            && (!host.contains(':') || host.ends_with(']'))
    });
    if !has_port {
        return Err(format!(
            "{a:?} has no port: write HOST:PORT (e.g. localhost:7000, 127.0.0.1:7000, [::1]:7000)"
        ));
    }
    let all: Vec<SocketAddr> = a
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {a}: {e}"))?
        .collect();
    all.iter()
        .copied()
        .find(SocketAddr::is_ipv4)
        .or(all.first().copied())
        .ok_or_else(|| format!("{a} resolves to no address"))
}

/// What `start` prepared before the executor takes over the thread.
struct Setup {
    listener: &'static Async<TcpListener>,
    tap: Option<TunTapDevice>,
}

/// Binds the forwarded port and opens the TAP device, with clear errors.
fn start(args: &Args) -> Result<Setup, String> {
    let listener = TcpListener::bind(args.forward)
        .map_err(|e| format!("cannot listen on {}: {e}", args.forward))?;
    let listener = Async::new(listener).map_err(|e| format!("cannot poll the listener: {e}"))?;
    let tap = match &args.tap {
        None => None,
        Some(name) => Some(open_tap(name)?),
    };
    Ok(Setup {
        listener: LISTENER.init(listener),
        tap,
    })
}

fn open_tap(name: &str) -> Result<TunTapDevice, String> {
    let mut device = TunTapDevice::new(name).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                "permission denied: TAP mode needs root (CAP_NET_ADMIN)".to_string()
            }
            std::io::ErrorKind::NotFound => {
                "/dev/net/tun does not exist (no TUN/TAP support)".to_string()
            }
            _ => e.to_string(),
        };
        format!("cannot open TAP interface {name:?}: {why}")
    })?;
    device.set_hardware_address(DEVICE_MAC);
    Ok(device)
}

fn run(args: Args, setup: Setup) -> ExitCode {
    let wire_stats = Arc::new(WireStats::default());
    let fwd_stats: &'static Arc<ForwardStats> = FWD_STATS.init(Arc::new(ForwardStats::default()));
    let config: &'static DeviceConfig = DEVICE_CONFIG.init(DeviceConfig {
        timeouts: jframe::service::Timeouts {
            idle_ms: args.timeout.saturating_mul(1000),
            ..jframe::service::Timeouts::DEVICE
        },
        ..DeviceConfig::default()
    });
    let local = setup
        .listener
        .get_ref()
        .local_addr()
        .unwrap_or(args.forward);
    let device = IpEndpoint::new(DEVICE_IP.into(), config.port);
    let how = match &args.tap {
        Some(name) => format!(
            "host-sim: device {DEVICE_IP} (jframe on port {}) on TAP interface {name}; give the kernel side \
             {HOST_IP}/{} (ip addr add {HOST_IP}/{} dev {name}; ip link set {name} up)",
            config.port,
            net::PREFIX_LEN,
            net::PREFIX_LEN
        ),
        None => format!(
            "host-sim: device {DEVICE_IP} (jframe on port {}) on a virtual Ethernet wire to host-side stack {HOST_IP} \
             [drop {}%, corrupt {}%, delay {} ms, mtu {}, seed {}]",
            config.port, args.drop, args.corrupt, args.delay, args.mtu, args.seed
        ),
    };
    println!("{how}");
    // Tests read this line to find an ephemeral port: keep its shape.
    println!("host-sim: listening on {local}, forwarded to {device}");
    println!(
        "host-sim: try: cargo run -p jframe-std --bin jframe -- send {local} hello   (Ctrl-C prints a summary and exits)"
    );
    let _ = std::io::stdout().flush();

    // The forwarder's counts (connections, jframe frames, bytes), then, on
    // the virtual wire, its Ethernet frames (TAP mode has no wire to count).
    let summary = {
        let (wire_stats, fwd_stats) = (wire_stats.clone(), Arc::clone(fwd_stats));
        let virtual_wire = args.tap.is_none();
        move || {
            let mut line = format!("host-sim: {}", fwd_stats.summary());
            if virtual_wire {
                line.push_str("; virtual wire: ");
                line.push_str(&wire_stats.summary());
            }
            line
        }
    };
    // SIGINT, and with ctrlc's `termination` feature SIGTERM and SIGHUP too:
    // the same summary, exit 0.
    if let Err(e) = ctrlc::set_handler(move || {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n{}", summary());
        let _ = out.flush();
        std::process::exit(0);
    }) {
        eprintln!("host-sim: warning: no summary on Ctrl-C or SIGTERM: {e}");
    }

    let faults = WireFaults {
        drop_pct: args.drop,
        corrupt_pct: args.corrupt,
        delay: Duration::from_millis(args.delay),
        mtu: usize::try_from(args.mtu).unwrap_or(MAX_MTU),
        seed: args.seed,
    };
    let seed = args.seed;
    let forward = ForwardConfig {
        idle: Duration::from_secs(args.forward_idle),
    };
    EXECUTOR.init(Executor::new()).run(move |spawner| {
        let spawned = match setup.tap {
            Some(tap) => spawn_tap(
                spawner,
                tap,
                seed,
                config,
                (forward, fwd_stats),
                setup.listener,
            ),
            None => spawn_virtual(
                spawner,
                faults,
                wire_stats,
                config,
                (forward, fwd_stats),
                setup.listener,
            ),
        };
        if let Err(e) = spawned {
            eprintln!("host-sim: error: cannot start tasks: {e:?}");
            std::process::exit(1);
        }
    })
}

/// Device and host-side stacks on the virtual wire, plus the forwarders.
fn spawn_virtual(
    spawner: Spawner,
    faults: WireFaults,
    stats: Arc<WireStats>,
    config: &'static DeviceConfig,
    fwd: (ForwardConfig, &'static Arc<ForwardStats>),
    listener: &'static Async<TcpListener>,
) -> Result<(), embassy_executor::SpawnError> {
    let seed = faults.seed;
    let (device_port, host_port, wire) = wire::wire(
        (PORT_A.init(PortState::new()), DEVICE_MAC),
        (PORT_B.init(PortState::new()), HOST_MAC),
        faults,
        stats,
    );
    let (device, device_runner) = net::stack(
        device_port,
        DEVICE_IP,
        DEVICE_RESOURCES.init(StackResources::new()),
        seed,
    );
    let (host, host_runner) = net::stack(
        host_port,
        HOST_IP,
        HOST_RESOURCES.init(StackResources::new()),
        seed.wrapping_add(1),
    );
    spawner.spawn(wire_task(wire)?);
    spawner.spawn(port_net_task(device_runner)?);
    spawner.spawn(port_net_task(host_runner)?);
    spawn_device(spawner, device, config)?;
    let target = Target::Stack {
        stack: host,
        device: IpEndpoint::new(DEVICE_IP.into(), config.port),
    };
    spawn_forward(spawner, target, fwd, listener)
}

/// The device stack on a TAP interface; forwarders go through the kernel.
fn spawn_tap(
    spawner: Spawner,
    tap: TunTapDevice,
    seed: u64,
    config: &'static DeviceConfig,
    fwd: (ForwardConfig, &'static Arc<ForwardStats>),
    listener: &'static Async<TcpListener>,
) -> Result<(), embassy_executor::SpawnError> {
    let (device, runner) = net::stack(
        tap,
        DEVICE_IP,
        DEVICE_RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(tap_net_task(runner)?);
    spawn_device(spawner, device, config)?;
    let target = Target::Kernel(SocketAddr::from((DEVICE_IP.octets(), config.port)));
    spawn_forward(spawner, target, fwd, listener)
}

fn spawn_device(
    spawner: Spawner,
    device: Stack<'static>,
    config: &'static DeviceConfig,
) -> Result<(), embassy_executor::SpawnError> {
    for i in 0..DEVICE_SOCKETS {
        spawner.spawn(device_task(device, config, POOL.slot(i))?);
    }
    Ok(())
}

fn spawn_forward(
    spawner: Spawner,
    target: Target<'static>,
    (config, stats): (ForwardConfig, &'static Arc<ForwardStats>),
    listener: &'static Async<TcpListener>,
) -> Result<(), embassy_executor::SpawnError> {
    for i in 0..FORWARDERS {
        spawner.spawn(forward_task(target, i, config, stats)?);
    }
    spawner.spawn(accept_task(listener)?);
    Ok(())
}

#[embassy_executor::task]
async fn wire_task(wire: Wire<'static>) -> ! {
    wire.run().await
}

#[embassy_executor::task(pool_size = 2)]
async fn port_net_task(mut runner: Runner<'static, Port<'static>>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn tap_net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// One slot of the device's listening pool.
#[embassy_executor::task(pool_size = DEVICE_SOCKETS)]
async fn device_task(
    stack: Stack<'static>,
    config: &'static DeviceConfig,
    slot: PoolSlot<'static>,
) -> ! {
    let mut rx = [0u8; DEVICE_SOCKET_BUF];
    let mut tx = [0u8; DEVICE_SOCKET_BUF];
    device::serve_socket(stack, &mut rx, &mut tx, config, slot, stats::device_service).await
}

#[embassy_executor::task(pool_size = FORWARDERS)]
async fn forward_task(
    target: Target<'static>,
    index: usize,
    config: ForwardConfig,
    stats: &'static Arc<ForwardStats>,
) -> ! {
    let mut rx = vec![0u8; HOST_SOCKET_BUF];
    let mut tx = vec![0u8; HOST_SOCKET_BUF];
    forward::forwarder(target, (&DISPATCH, index), &mut rx, &mut tx, config, stats).await
}

#[embassy_executor::task]
async fn accept_task(listener: &'static Async<TcpListener>) -> ! {
    forward::accept_loop(listener, &DISPATCH).await
}

#[cfg(test)]
mod tests {
    use super::forward_addr;
    use std::net::SocketAddr;

    #[test]
    fn forward_addresses_resolve_like_jframe_serve() {
        let v4 = |port| SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(forward_addr("127.0.0.1:7000"), Ok(v4(7000)));
        assert_eq!(forward_addr("localhost:7000"), Ok(v4(7000)));
        assert_eq!(forward_addr(":7000"), Ok(v4(7000)));
        assert_eq!(forward_addr(" :0 "), Ok(v4(0)));
        assert_eq!(
            forward_addr("[::1]:9"),
            Ok(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 9)))
        );
        for bad in [
            "",
            ":",
            "127.0.0.1",
            "::1",
            "localhost",
            ":x",
            "localhost:70000",
        ] {
            assert!(forward_addr(bad).is_err(), "{bad:?}");
        }
    }
}
