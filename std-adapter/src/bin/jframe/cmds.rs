//! The subcommands.

use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use jframe::{Op, Status};
use jframe_std::client::{self, DownloadError, TcpClient, UdpClient};
use jframe_std::conform;
use jframe_std::files::Root;
use jframe_std::load::{self, LoadConfig};
use jframe_std::server::{Config, Server};

/// Services a client may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OpArg {
    /// Upper-case the body.
    Upper,
    /// Return the body verbatim.
    Echo,
    /// `Hello, <body>!`; `exit` ends the session.
    Greet,
}

impl From<OpArg> for Op {
    fn from(op: OpArg) -> Op {
        match op {
            OpArg::Upper => Op::Upper,
            OpArg::Echo => Op::Echo,
            OpArg::Greet => Op::Greet,
        }
    }
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("cannot resolve {addr}"))?
        .next()
        .with_context(|| format!("{addr} resolves to no address"))
}

fn secs(s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("bad duration: {s}"))
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TCP address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Also serve UDP on this address.
    #[arg(long)]
    udp: Option<SocketAddr>,
    /// Directory `get` serves (without it every `get` is forbidden).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Text sent as a frame on every new connection (seed 001: "Welcome!").
    #[arg(long)]
    welcome: Option<String>,
    /// Most simultaneous connections; the next one gets `busy`. Lowered
    /// to what the descriptor limit allows (raised to its hard limit at start).
    #[arg(long, default_value_t = 1024)]
    max_conns: usize,
    /// Most simultaneous connections from one client address.
    #[arg(long, default_value_t = 256)]
    max_conns_per_client: usize,
    /// Bytes per second a request body must average (after the header
    /// timeout's grace), or the connection is closed; 0: no minimum.
    #[arg(long, default_value_t = 1024)]
    body_min_rate: u64,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_body: u64,
    /// Seconds from a frame's first byte to the end of its header.
    #[arg(long, default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds a connection may wait for its next frame (or any body read).
    #[arg(long, default_value_t = 300.0)]
    idle_timeout: f64,
    /// Seconds a single socket write may block.
    #[arg(long, default_value_t = 30.0)]
    write_timeout: f64,
    /// Seconds shutdown waits for in-flight frames.
    #[arg(long, default_value_t = 10.0)]
    grace: f64,
}

pub fn serve(a: ServeArgs) -> Result<ExitCode> {
    let root = a
        .root
        .as_deref()
        .map(|r| Root::new(r).with_context(|| format!("--root {}", r.display())))
        .transpose()?;
    if a.max_conns == 0 {
        bail!("--max-conns must be at least 1");
    }
    let fds = jframe_std::server::raise_fd_limit();
    let max_conns = jframe_std::server::max_conns_for_fd_limit(a.max_conns, fds);
    match fds {
        Some(fds) if max_conns < a.max_conns => log::warn!(
            "nofile limit {fds}: serving at most {max_conns} connections, not {}",
            a.max_conns
        ),
        Some(fds) => log::info!("nofile limit {fds}: up to {max_conns} connections"),
        None => log::info!("nofile limit unknown: up to {max_conns} connections"),
    }
    let config = Config {
        root,
        welcome: a.welcome,
        max_conns,
        max_conns_per_client: a.max_conns_per_client.max(1),
        body_min_rate: a.body_min_rate,
        max_body: a.max_body,
        body_budget: jframe_std::budget::DEFAULT_BODY_BUDGET,
        header_timeout: secs(a.header_timeout)?,
        idle_timeout: secs(a.idle_timeout)?,
        write_timeout: secs(a.write_timeout)?,
        grace: secs(a.grace)?,
    };
    let server = Server::bind(a.listen, a.udp, config).context("cannot bind")?;
    let handle = server.shutdown_handle()?;
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                log::info!("signal {sig}: shutting down");
                handle.shutdown();
            }
        })?;
    let mut out = io::stdout().lock();
    writeln!(out, "jframe: listening on tcp {}", server.local_addr()?)?;
    if let Some(udp) = server.udp_addr() {
        writeln!(out, "jframe: listening on udp {udp}")?;
    }
    out.flush()?;
    drop(out);
    server.run()?;
    log::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Server address (host:port).
    addr: String,
    /// Service to call.
    #[arg(long, value_enum, default_value_t = OpArg::Upper)]
    op: OpArg,
    /// Use UDP (one datagram per message) instead of TCP.
    #[arg(long)]
    udp: bool,
    /// Read and print the server's welcome frame first (TCP).
    #[arg(long)]
    welcome: bool,
    /// Seconds to wait for the connection and each reply.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Messages; each is one frame.
    #[arg(required = true)]
    messages: Vec<String>,
}

pub fn send(a: SendArgs) -> Result<ExitCode> {
    let timeout = secs(a.timeout)?;
    let op = Op::from(a.op);
    let mut failed = false;
    let mut show = |reply: &client::Message| -> Result<()> {
        if reply.status() == Status::Ok {
            let mut out = io::stdout().lock();
            out.write_all(&reply.body)?;
            out.write_all(b"\n")?;
        } else {
            failed = true;
            eprintln!(
                "jframe: {}: {}",
                reply.status(),
                reply.header.error.as_deref().unwrap_or("(no message)")
            );
        }
        Ok(())
    };
    if a.udp {
        let mut c = UdpClient::connect(a.addr.as_str(), timeout)
            .with_context(|| format!("udp {}", a.addr))?;
        for m in &a.messages {
            let reply = c.request(op, m.as_bytes()).context("no reply")?;
            show(&reply)?;
        }
    } else {
        let mut c = TcpClient::connect(a.addr.as_str(), timeout)
            .with_context(|| format!("cannot connect to {}", a.addr))?;
        if a.welcome {
            let w = c.recv()?.context("server closed before its welcome")?;
            show(&w)?;
        }
        // Pipelined: every request out, then every reply in.
        for m in &a.messages {
            c.send_request(op, m.as_bytes())?;
        }
        c.flush()?;
        for i in 0..a.messages.len() {
            let reply = c.recv()?.with_context(|| {
                format!("server closed after {i} of {} replies", a.messages.len())
            })?;
            show(&reply)?;
        }
    }
    io::stdout().flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Server address (host:port).
    addr: String,
    /// File name, relative to the server's --root.
    name: String,
    /// Where to save it (default: the name's last component, here).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Seconds to wait for the connection and each read.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

pub fn get(a: GetArgs) -> Result<ExitCode> {
    let out = match a.output {
        Some(p) => p,
        None => PathBuf::from(
            Path::new(&a.name)
                .file_name()
                .context("the name has no file part; use -o")?,
        ),
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = out
        .file_name()
        .context("-o has no file name")?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{file_name}.part-{}", std::process::id()));
    let mut client = TcpClient::connect(a.addr.as_str(), secs(a.timeout)?)
        .with_context(|| format!("cannot connect to {}", a.addr))?;
    let mut file = io::BufWriter::new(
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
    );
    let bar = io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let result = client::download(&mut client, &a.name, &mut file, |done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let result = result.and_then(|d| {
        file.flush()?;
        file.get_ref().sync_all()?;
        Ok(d)
    });
    drop(file);
    match result {
        Ok(d) => {
            fs::rename(&tmp, &out)
                .with_context(|| format!("cannot rename to {}", out.display()))?;
            eprintln!(
                "jframe: saved {} ({} bytes, sha256 {})",
                out.display(),
                d.size,
                d.sha256
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            match &e {
                DownloadError::Refused { status, message } => {
                    eprintln!("jframe: get {:?} refused: {status}: {message}", a.name);
                }
                other => eprintln!("jframe: get {:?} failed: {other}", a.name),
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

#[derive(Debug, Args)]
pub struct RawArgs {
    /// Server address (host:port).
    addr: String,
    /// Bytes to send after connecting; \r \n \t \\ and \xHH escapes work.
    #[arg(long)]
    send: Option<String>,
    /// Write what arrives here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Seconds to wait for the connection and between arriving bytes.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

/// Expands \r \n \t \0 \\ and \xHH.
fn unescape(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let text = std::str::from_utf8(&hex).unwrap_or("");
                out.push(
                    u8::from_str_radix(text, 16)
                        .with_context(|| format!("bad \\x escape: {text:?}"))?,
                );
            }
            other => bail!("unknown escape \\{}", other.map(char::from).unwrap_or(' ')),
        }
    }
    Ok(out)
}

pub fn raw(a: RawArgs) -> Result<ExitCode> {
    let timeout = secs(a.timeout)?;
    let addr = resolve(&a.addr)?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {}", a.addr))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    if let Some(text) = &a.send {
        s.write_all(&unescape(text)?)?;
    }
    let mut sink: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(io::BufWriter::new(
            fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(io::stdout().lock()),
    };
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sink.write_all(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("read failed"),
        }
    }
    sink.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Server address (host:port).
    addr: String,
    /// Concurrent connections (one thread each).
    #[arg(long, default_value_t = 64)]
    conns: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Request body size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Service to call.
    #[arg(long, value_enum, default_value_t = OpArg::Upper)]
    op: OpArg,
    /// Unframed: send bytes, expect them echoed (for a plain echo server).
    #[arg(long)]
    raw_echo: bool,
    /// Seconds to wait for any single reply.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

pub fn load(a: LoadArgs) -> Result<ExitCode> {
    let duration = secs(a.duration)?;
    if duration > Duration::from_secs(600) {
        bail!("--duration is limited to 600 seconds");
    }
    let cfg = LoadConfig {
        addr: resolve(&a.addr)?,
        conns: a.conns,
        duration,
        size: a.size,
        pipeline: a.pipeline,
        op: a.op.into(),
        raw_echo: a.raw_echo,
        timeout: secs(a.timeout)?,
    };
    let report = load::run(&cfg)?;
    println!("{report}");
    Ok(if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `3s`, `500ms`, `1.5` (seconds).
fn duration_arg(s: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1.0)
    } else {
        (s, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|n| Duration::try_from_secs_f64(n * scale).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("bad duration {s:?} (e.g. 3s, 500ms)"))
}

#[derive(Debug, Args)]
pub struct ConformArgs {
    /// The server's TCP address (host:port).
    addr: String,
    /// Also run the UDP cases against this address.
    #[arg(long)]
    udp: Option<String>,
    /// Longest wait for a connection, each reply and each close.
    #[arg(long, default_value = "3s", value_parser = duration_arg)]
    timeout: Duration,
    /// The server sends a welcome frame on connect: skip it.
    #[arg(long)]
    welcome: bool,
    /// Run only the cases whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Cases run at once (each TCP case holds one connection).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
}

pub fn conform(a: ConformArgs) -> Result<ExitCode> {
    let tcp = resolve(&a.addr)?;
    let udp = a.udp.as_deref().map(resolve).transpose()?;
    let opts = conform::Options {
        timeout: a.timeout,
        welcome: a.welcome,
        only: a.only,
        jobs: a.jobs.max(1),
        ..conform::Options::default()
    };
    let show = |o: &conform::Outcome| {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{o}");
        let _ = out.flush();
    };
    let outcomes = conform::run(&conform::cases(), Some(tcp), udp, &opts, &show);
    if outcomes.is_empty() {
        bail!(
            "no case to run{}",
            if opts.only.is_some() {
                " matches --only (UDP cases need --udp)"
            } else {
                ""
            }
        );
    }
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    println!("{} passed, {failed} failed", outcomes.len() - failed);
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
