//! The subcommands.

use std::ffi::OsString;
use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use jframe::{Op, Status};
use jframe_std::client::{self, DownloadError, TcpClient, UdpClient};
use jframe_std::conform;
use jframe_std::files::Root;
use jframe_std::load::{self, LoadConfig, LoadReport};
use jframe_std::proxy::{self, Faults, Proxy, ProxyConfig};
use jframe_std::server::{self, Config, Server};
use serde_json::{Value, json};

use crate::args;

/// Global options every subcommand sees.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// `-q`: errors only.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
}

impl Ctx {
    /// A note for a person on stderr (not with `-q`).
    fn note(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("jframe: {text}");
        }
    }

    /// Whether a live display (progress bar, spinner) belongs on stderr.
    fn live(&self) -> bool {
        !self.quiet && io::stderr().is_terminal()
    }
}

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

// ---------------------------------------------------------------- serve

const SERVE_EXAMPLES: &str = "\
Examples:
  jframe serve                                     # TCP on 127.0.0.1:9000
  jframe serve -l localhost:9000 --udp :9000 --root ./public
  jframe serve --welcome 'Welcome!' --max-body 1MiB --idle-timeout 1m";

#[derive(Debug, Args)]
#[command(after_help = SERVE_EXAMPLES)]
pub struct ServeArgs {
    /// TCP address to listen on (HOST:PORT or :PORT; port 0 picks a free one).
    #[arg(short, long, default_value = "127.0.0.1:9000")]
    listen: String,
    /// Also serve UDP on this address.
    #[arg(short, long)]
    udp: Option<String>,
    /// Directory `get` serves (without it every `get` is forbidden).
    #[arg(short, long)]
    root: Option<PathBuf>,
    /// Text sent as a frame on every new connection (e.g. "Welcome!").
    #[arg(short, long)]
    welcome: Option<String>,
    /// How TCP connections are served: `tokio` (async tasks on one
    /// runtime per core; the faster, and cheap per idle connection) or
    /// `threads` (a thread per connection, as the Python seeds do). Both
    /// run the same protocol engine with the same limits.
    #[arg(long, default_value = "tokio")]
    engine: jframe_std::server::Driver,
    /// Most simultaneous connections; the next one gets `busy`. Lowered
    /// to what the descriptor limit allows (raised to its hard limit at start).
    #[arg(long, default_value_t = DEFAULTS.config.max_conns)]
    max_conns: usize,
    /// Most simultaneous connections from one client address.
    #[arg(long, default_value_t = DEFAULTS.config.max_conns_per_client)]
    max_conns_per_client: usize,
    /// Bytes per second a request body must average (after the header
    /// timeout's grace), or the connection is closed; 0: no minimum (e.g. 1k).
    #[arg(long, default_value = DEFAULTS.body_min_rate.as_str(), value_parser = args::size)]
    body_min_rate: u64,
    /// Largest request body (e.g. 64k, 16MiB).
    #[arg(long, default_value = DEFAULTS.max_body.as_str(), value_parser = args::size)]
    max_body: u64,
    /// Memory that bodies held whole (Unicode upper of a streamed body)
    /// may take at once, server-wide (e.g. 256MiB); past it `busy`.
    #[arg(long, default_value = DEFAULTS.body_budget.as_str(), value_parser = args::size)]
    body_budget: u64,
    /// From a frame's first byte to the end of its header (e.g. 10s).
    #[arg(long, default_value = DEFAULTS.header_timeout.as_str(), value_parser = args::nonzero_duration)]
    header_timeout: Duration,
    /// How long a connection may wait for its next frame (or any body read).
    #[arg(long, default_value = DEFAULTS.idle_timeout.as_str(), value_parser = args::nonzero_duration)]
    idle_timeout: Duration,
    /// How long a single socket write may block.
    #[arg(long, default_value = DEFAULTS.write_timeout.as_str(), value_parser = args::nonzero_duration)]
    write_timeout: Duration,
    /// On SIGTERM or SIGINT: stop accepting, answer every frame already
    /// received, close connections between frames, and exit within this
    /// long (connections still busy then are closed).
    #[arg(long, visible_alias = "grace", default_value = DEFAULTS.grace.as_str(), value_parser = args::duration)]
    drain_timeout: Duration,
    /// Require a PROXY protocol header (v1 or v2, as HAProxy's
    /// `send-proxy-v2` sends) on every connection, from a --trusted-proxy;
    /// logs, limits and metrics then use the client it names.
    #[arg(long, requires = "trusted_proxy")]
    proxy_protocol: bool,
    /// An address block allowed to send PROXY headers (e.g. 127.0.0.1/32,
    /// 10.0.0.0/8); repeatable. Connections from anywhere else are closed.
    #[arg(long, value_name = "CIDR", requires = "proxy_protocol")]
    trusted_proxy: Vec<server::proxy_header::Cidr>,
    /// Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT, or :PORT
    /// for localhost only). Off by default.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
}

/// The server's defaults as the command line writes them. Their one
/// source is `server::Config::default()`.
struct Defaults {
    config: Config,
    body_min_rate: String,
    max_body: String,
    body_budget: String,
    header_timeout: String,
    idle_timeout: String,
    write_timeout: String,
    grace: String,
}

static DEFAULTS: std::sync::LazyLock<Defaults> = std::sync::LazyLock::new(|| {
    let config = Config::default();
    let time = |d: Duration| humantime::format_duration(d).to_string();
    Defaults {
        body_min_rate: args::size_text(config.body_min_rate),
        max_body: args::size_text(config.max_body),
        body_budget: args::size_text(config.body_budget),
        header_timeout: time(config.header_timeout),
        idle_timeout: time(config.idle_timeout),
        write_timeout: time(config.write_timeout),
        grace: time(config.grace),
        config,
    }
});

pub fn serve(a: ServeArgs, _ctx: &Ctx) -> Result<ExitCode> {
    let listen = args::listen_addr(&a.listen).context("--listen")?;
    let udp = a
        .udp
        .as_deref()
        .map(args::listen_addr)
        .transpose()
        .context("--udp")?;
    let root = a
        .root
        .as_deref()
        .map(|r| Root::new(r).with_context(|| format!("--root {}", r.display())))
        .transpose()?;
    if a.max_conns == 0 {
        bail!("--max-conns must be at least 1");
    }
    let fds = server::raise_fd_limit();
    let max_conns = server::max_conns_for_fd_limit(a.max_conns, fds);
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
        body_budget: a.body_budget,
        header_timeout: a.header_timeout,
        idle_timeout: a.idle_timeout,
        write_timeout: a.write_timeout,
        grace: a.drain_timeout,
        proxy_protocol: a.proxy_protocol,
        trusted_proxies: a.trusted_proxy,
    };
    let metrics = a
        .metrics
        .as_deref()
        .map(args::listen_addr)
        .transpose()
        .context("--metrics")?;
    let what = match udp {
        Some(u) => format!("cannot listen on tcp {listen} and udp {u}"),
        None => format!("cannot listen on {listen}"),
    };
    let server = Server::bind(listen, udp, config)
        .context(what)?
        .with_driver(a.engine);
    let handle = server.shutdown_handle()?;
    on_signal(move |sig| {
        log::info!("signal {sig}: shutting down");
        handle.shutdown();
    })?;
    log::info!("serving TCP with the {:?} engine", a.engine);
    let mut out = io::stdout().lock();
    writeln!(out, "jframe: listening on tcp {}", server.local_addr()?)?;
    if let Some(udp) = server.udp_addr() {
        writeln!(out, "jframe: listening on udp {udp}")?;
    }
    if let Some(addr) = metrics {
        let bound = jframe_std::metrics::install(addr)?;
        writeln!(out, "jframe: metrics on http://{bound}/metrics")?;
    }
    out.flush()?;
    drop(out);
    server.run()?;
    log::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- send

const SEND_EXAMPLES: &str = "\
Examples:
  jframe send localhost:9000 hello world           # HELLO / WORLD
  jframe send :9000 --op greet Michael             # Hello, Michael!
  jframe send :9000 --op echo -d @photo.jpg -N > copy.jpg
  printf 'a\\0b' | jframe send :9000 --op echo -d @- -N | od -c
  jframe send :9000 -H trace=abc -H n=5 hi         # extra header keys
  jframe send :9000 --json hi | jq .header         # one JSON line per reply
  jframe send -u :9000 --op echo hi                # over UDP

Only the frames asked for are sent. A server's welcome frame (marked
\"welcome\": true) is shown on stderr, or as a JSON line with --json; for a
server whose welcome is not marked, --welcome takes its first frame as the
welcome. A non-ok reply is printed as \"jframe: reply N: STATUS: MESSAGE\" on
stderr and the exit code is 1.";

/// How frames are printed (`send`, `recv`).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One JSON line per frame: {"n", "welcome", "status", "header", "body" or "body_base64"}.
    #[arg(short, long)]
    json: bool,
    /// Write bodies back to back, without a newline after each (binary data).
    #[arg(short = 'N', long)]
    no_newline: bool,
    /// Write what is printed to FILE instead of stdout (- is stdout).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = SEND_EXAMPLES)]
pub struct SendArgs {
    /// Server address (HOST:PORT or :PORT).
    addr: String,
    /// Messages; each is one frame (any bytes the shell passes).
    messages: Vec<OsString>,
    /// A body to send as one more frame: TEXT, @FILE, or @- for stdin (repeatable).
    #[arg(short, long = "data", value_name = "DATA")]
    data: Vec<OsString>,
    /// Service to call: SPEC's upper, echo or greet, or any op the server
    /// serves (a device's stats, your read_sensor).
    #[arg(long, default_value = "upper", value_parser = op_name)]
    op: String,
    /// An extra header key, KEY=VALUE; VALUE is JSON if it parses, else a string (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    headers: Vec<String>,
    /// Use UDP (one datagram per message) instead of TCP.
    #[arg(short, long)]
    udp: bool,
    #[command(flatten)]
    out: OutputArgs,
    /// The server sends one frame first without marking it
    /// `"welcome": true`: take that frame as its welcome.
    #[arg(short, long, conflicts_with = "udp")]
    welcome: bool,
    /// Longest wait for the connection and for each reply (e.g. 10s).
    #[arg(short, long, default_value = "10s", value_parser = args::nonzero_duration)]
    timeout: Duration,
    /// Largest reply body held in memory.
    #[arg(long, default_value = "64MiB", value_parser = args::size)]
    max_reply: u64,
}

/// A body from `-d`: TEXT, @FILE or @-.
fn data_arg(d: &OsString, stdin_used: &mut bool) -> Result<Vec<u8>> {
    let bytes = d.as_bytes();
    match bytes.strip_prefix(b"@") {
        Some(b"-") => {
            if std::mem::replace(stdin_used, true) {
                bail!("-d @- may be given once (stdin is read to its end)");
            }
            let mut body = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut body)
                .context("cannot read stdin")?;
            Ok(body)
        }
        Some(path) => {
            let path = Path::new(std::ffi::OsStr::from_bytes(path));
            fs::read(path).with_context(|| format!("-d @{}: cannot read it", path.display()))
        }
        None => Ok(bytes.to_vec()),
    }
}

/// The `-H` keys, in the order given, as a map for the request header
/// (core encodes it after `data_size` and `op`).
struct ExtraKeys<'a>(&'a [(String, Value)]);

impl serde::Serialize for ExtraKeys<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// An op name as `--op` takes it: any non-empty name up to 64 bytes (the
/// server decides whether it serves it).
fn op_name(s: &str) -> std::result::Result<String, String> {
    match s.len() {
        0 => Err("the op name is empty".into()),
        1..=64 => Ok(s.to_string()),
        n => Err(format!("an op name of {n} bytes; at most 64")),
    }
}

/// `-H KEY=VALUE` pairs; `op` replaces `--op`, `data_size`/`size` are refused.
fn header_args(hs: &[String], op: &mut String) -> Result<Vec<(String, Value)>> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for h in hs {
        let (k, v) = h
            .split_once('=')
            .or_else(|| h.split_once(':'))
            .with_context(|| format!("-H {h:?}: write KEY=VALUE"))?;
        let k = k.trim();
        if k.is_empty() {
            bail!("-H {h:?}: the key is empty");
        }
        if k == "data_size" || k == "size" {
            bail!("-H {k}: the body's length is set by jframe");
        }
        let v: Value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        if k == "op" {
            let name = v.as_str().unwrap_or_default();
            *op = op_name(name).map_err(|e| anyhow!("-H op={name}: {e}"))?;
            continue;
        }
        if out.iter().any(|(have, _)| have == k) {
            bail!("-H {k}: given twice (SPEC: duplicate keys are an error)");
        }
        out.push((k.to_string(), v));
    }
    Ok(out)
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// One frame as a JSON line.
fn reply_json(n: usize, m: &client::OwnedFrame) -> String {
    let header: Value = serde_json::from_slice(&m.header_json).unwrap_or(Value::Null);
    let (key, body) = match std::str::from_utf8(&m.body) {
        Ok(text) => ("body", Value::from(text)),
        Err(_) => ("body_base64", Value::from(base64(&m.body))),
    };
    proxy::json_line(&[
        ("n", n.into()),
        ("welcome", if m.welcome { true.into() } else { Value::Null }),
        ("status", m.status().as_str().into()),
        ("header", header),
        (key, body),
    ])
}

/// Prints frames and remembers whether one failed.
struct Show {
    json: bool,
    newline: bool,
    failed: bool,
    n: usize,
    out: Box<dyn Write>,
}

impl Show {
    fn new(o: &OutputArgs) -> Result<Show> {
        let out: Box<dyn Write> = match &o.output {
            Some(p) if p.as_os_str() != "-" => Box::new(io::BufWriter::new(
                fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
            )),
            _ => Box::new(io::stdout()),
        };
        Ok(Show {
            json: o.json,
            newline: !o.no_newline,
            failed: false,
            n: 0,
            out,
        })
    }

    /// A welcome frame: a JSON line (numbered 0) with --json, else a note.
    fn welcome(&mut self, ctx: &Ctx, m: &client::OwnedFrame) -> Result<()> {
        if self.json {
            writeln!(self.out, "{}", reply_json(0, m))?;
            self.out.flush()?;
        } else {
            ctx.note(format_args!(
                "welcome from the server: {}",
                String::from_utf8_lossy(&m.body)
            ));
        }
        Ok(())
    }

    fn reply(&mut self, m: &client::OwnedFrame) -> Result<()> {
        self.n += 1;
        if self.json {
            writeln!(self.out, "{}", reply_json(self.n, m))?;
        } else if m.status() == Status::Ok {
            self.out.write_all(&m.body)?;
            if self.newline {
                self.out.write_all(b"\n")?;
            }
        }
        self.out.flush()?;
        if m.status() != Status::Ok {
            self.failed = true;
            eprintln!(
                "jframe: reply {}: {}: {}",
                self.n,
                m.status(),
                m.header.error.as_deref().unwrap_or("(no message)")
            );
        }
        Ok(())
    }

    fn code(&self) -> ExitCode {
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Prints a note if no reply has come after a few seconds: a peer that
/// accepts connections and says nothing is the usual sign of a server of
/// another kind. Dropping the returned sender cancels it.
fn waiting_note(ctx: &Ctx, addr: &str, timeout: Duration) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    let after = Duration::from_secs(3);
    if !ctx.quiet && timeout > after {
        let addr = addr.to_string();
        std::thread::spawn(move || {
            if rx.recv_timeout(after) == Err(mpsc::RecvTimeoutError::Timeout) {
                eprintln!(
                    "jframe: no reply from {addr} after {}s; waiting up to {}s (--timeout)",
                    after.as_secs(),
                    timeout.as_secs_f64()
                );
            }
        });
    }
    tx
}

pub fn send(a: SendArgs, ctx: &Ctx) -> Result<ExitCode> {
    let addr = args::client_addr(&a.addr)?;
    let mut op = a.op.clone();
    let extra = header_args(&a.headers, &mut op)?;
    let extra = ExtraKeys(&extra);
    let mut bodies: Vec<Vec<u8>> = a.messages.iter().map(|m| m.as_bytes().to_vec()).collect();
    let mut stdin_used = false;
    for d in &a.data {
        bodies.push(data_arg(d, &mut stdin_used)?);
    }
    if bodies.is_empty() {
        bail!("nothing to send: give MESSAGE..., -d TEXT, -d @FILE or -d @- (stdin)");
    }
    let mut show = Show::new(&a.out)?;
    if a.udp {
        let mut c =
            UdpClient::connect(addr.as_str(), a.timeout).with_context(|| format!("udp {addr}"))?;
        for body in &bodies {
            let reply = c.request_with(&op, &extra, body).map_err(|e| {
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) {
                    anyhow!(
                        "no reply from {addr} (udp) within {}s: the datagram or its reply was \
                         lost, or nothing answers there (is the server started with --udp?)",
                        a.timeout.as_secs_f64()
                    )
                } else {
                    anyhow!(e).context(format!("udp {addr}"))
                }
            })?;
            show.reply(&reply)?;
        }
        return Ok(show.code());
    }
    let mut c = TcpClient::connect(addr.as_str(), a.timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    c.set_max_body(a.max_reply);
    c.expect_welcome(a.welcome);
    // Pipelined: every request out, then every reply in; nothing else is sent.
    for body in &bodies {
        c.send_request_with(&op, &extra, body)?;
    }
    c.flush()?;
    let waiting = waiting_note(ctx, &addr, a.timeout);
    for i in 0..bodies.len() {
        let reply = c.recv()?.with_context(|| {
            format!(
                "{addr} closed the connection after {i} of {} replies",
                bodies.len()
            )
        })?;
        if i == 0 {
            let _ = waiting.send(());
        }
        if let Some(w) = c.take_welcome() {
            show.welcome(ctx, &w)?;
        }
        show.reply(&reply)?;
    }
    Ok(show.code())
}

// ---------------------------------------------------------------- recv

const RECV_EXAMPLES: &str = "\
Examples:
  jframe recv :8080                                # every frame until the server closes
  jframe recv :8080 -n 1 --json                    # one frame, as a JSON line
  jframe recv :9000 -n 1 -N -o welcome.txt         # a welcome frame's body, to a file

Nothing is sent: this is for servers that speak first (a welcome, a push,
seed 002's {\"size\": 13} Hello Client!). Both dialects (data_size and size)
are read. Without -n it reads until the server closes, or until it has
been quiet for --timeout after its first frame.";

#[derive(Debug, Args)]
#[command(after_help = RECV_EXAMPLES)]
pub struct RecvArgs {
    /// Server address (HOST:PORT or :PORT).
    addr: String,
    /// Stop after this many frames.
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    #[command(flatten)]
    out: OutputArgs,
    /// Longest wait for the connection and for each frame (e.g. 10s).
    #[arg(short, long, default_value = "10s", value_parser = args::nonzero_duration)]
    timeout: Duration,
    /// Largest frame body held in memory.
    #[arg(long, default_value = "64MiB", value_parser = args::size)]
    max_reply: u64,
}

pub fn recv(a: RecvArgs, ctx: &Ctx) -> Result<ExitCode> {
    let addr = args::client_addr(&a.addr)?;
    let mut c = TcpClient::connect(addr.as_str(), a.timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    c.set_max_body(a.max_reply);
    let mut show = Show::new(&a.out)?;
    let mut got = 0u64;
    while a.count.is_none_or(|n| got < n) {
        let frame = match c.recv_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) if got > 0 && a.count.is_none() => break,
            Ok(None) => bail!(
                "{addr} closed the connection after {got} frame{}{}",
                if got == 1 { "" } else { "s" },
                a.count.map(|n| format!(" of {n}")).unwrap_or_default()
            ),
            Err(e) if e.kind() == io::ErrorKind::TimedOut && got > 0 && a.count.is_none() => {
                if ctx.verbose > 0 {
                    ctx.note(format_args!(
                        "{addr} quiet for {}s after {got} frames; done",
                        a.timeout.as_secs_f64()
                    ));
                }
                break;
            }
            Err(e) => return Err(e.into()),
        };
        got += 1;
        show.reply(&frame)?;
    }
    Ok(show.code())
}

// ---------------------------------------------------------------- get

const GET_EXAMPLES: &str = "\
Examples:
  jframe get :9000 report.pdf                      # ./report.pdf
  jframe get :9000 docs/report.pdf -o /tmp/        # /tmp/report.pdf
  jframe get :9000 data.bin -o - | sha256sum       # to stdout

The file is written to .NAME.part-PID next to the target and renamed only
once its size and sha256 match; on any error or Ctrl-C the part file is removed.";

#[derive(Debug, Args)]
#[command(after_help = GET_EXAMPLES)]
pub struct GetArgs {
    /// Server address (HOST:PORT or :PORT).
    addr: String,
    /// File name, relative to the server's --root.
    name: String,
    /// Where to save it: a file, a directory (DIR/), or - for stdout
    /// (default: the name's last component, here).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Longest wait for the connection and for each read (e.g. 30s).
    #[arg(short, long, default_value = "30s", value_parser = args::nonzero_duration)]
    timeout: Duration,
    /// The server sends one frame first without marking it
    /// `"welcome": true` (see `send --help`).
    #[arg(short, long)]
    welcome: bool,
}

/// The part file to remove if the command is interrupted.
static PART_FILE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// On SIGINT/SIGTERM: remove the part file, exit 130.
fn remove_part_file_on_signal() -> Result<()> {
    on_signal(|sig| {
        let part = PART_FILE.lock().map(|mut p| p.take()).unwrap_or(None);
        if let Some(p) = part {
            let _ = fs::remove_file(&p);
        }
        eprintln!("jframe: interrupted (signal {sig}); nothing saved");
        std::process::exit(130);
    })
}

/// Calls `then(signal)`, on a thread of its own, when SIGINT or SIGTERM
/// first arrives.
fn on_signal(then: impl FnOnce(i32) + Send + 'static) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                then(sig);
            }
        })?;
    Ok(())
}

fn bar_style() -> indicatif::ProgressStyle {
    use indicatif::{HumanBytes, HumanDuration, ProgressState, ProgressStyle};
    // The rate is the average since the reply's header arrived (not since
    // the request, which includes the server's hashing), so the first
    // estimate is sane; shown once there is something to average.
    let rate = |s: &ProgressState| {
        let secs = s.elapsed().as_secs_f64();
        (secs >= 0.25 && s.pos() > 0).then(|| s.pos() as f64 / secs)
    };
    ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {avg_rate} eta {avg_eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "avg_rate",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| match rate(s) {
                Some(r) => {
                    let _ = write!(w, "{}/s", HumanBytes(r as u64));
                }
                None => {
                    let _ = w.write_str("-");
                }
            },
        )
        .with_key(
            "avg_eta",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| match rate(s) {
                Some(r) => {
                    let left = s.len().unwrap_or(0).saturating_sub(s.pos()) as f64 / r;
                    let _ = write!(w, "{}", HumanDuration(Duration::from_secs_f64(left)));
                }
                None => {
                    let _ = w.write_str("-");
                }
            },
        )
}

/// Where `get` writes: stdout, or a file (with its part file beside it).
enum Target {
    Stdout,
    File { out: PathBuf, part: PathBuf },
}

fn target(name: &str, output: Option<PathBuf>) -> Result<Target> {
    let base = || -> Result<PathBuf> {
        Ok(PathBuf::from(Path::new(name).file_name().with_context(
            || format!("{name:?} has no file part; use -o FILE"),
        )?))
    };
    let out = match output {
        Some(p) if p.as_os_str() == "-" => return Ok(Target::Stdout),
        Some(p) if p.is_dir() || p.as_os_str().as_bytes().ends_with(b"/") => p.join(base()?),
        Some(p) => p,
        None => base()?,
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot save to {}: {} is not a directory",
            out.display(),
            dir.display()
        );
    }
    let file_name = out
        .file_name()
        .with_context(|| format!("-o {}: no file name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let part = dir.join(format!(".{file_name}.part-{}", std::process::id()));
    Ok(Target::File { out, part })
}

pub fn get(a: GetArgs, ctx: &Ctx) -> Result<ExitCode> {
    let addr = args::client_addr(&a.addr)?;
    let target = target(&a.name, a.output)?;
    let mut client = TcpClient::connect(addr.as_str(), a.timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    client.expect_welcome(a.welcome);
    let mut sink: Box<dyn Write> = match &target {
        Target::Stdout => Box::new(io::BufWriter::new(io::stdout().lock())),
        Target::File { part, .. } => {
            remove_part_file_on_signal()?;
            let file = fs::File::create(part)
                .with_context(|| format!("cannot create {}", part.display()))?;
            if let Ok(mut p) = PART_FILE.lock() {
                *p = Some(part.clone());
            }
            Box::new(io::BufWriter::new(file))
        }
    };
    let live = ctx.live();
    let spinner = live.then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message(format!("waiting for {addr} to hash and send {}", a.name));
        s.enable_steady_tick(Duration::from_millis(100));
        s
    });
    let bar: std::cell::RefCell<Option<indicatif::ProgressBar>> = std::cell::RefCell::new(None);
    let result = client::download_with(
        &mut client,
        &a.name,
        &mut sink,
        |size| {
            if let Some(s) = &spinner {
                s.finish_and_clear();
            }
            if live {
                let b = indicatif::ProgressBar::new(size);
                b.set_style(bar_style());
                *bar.borrow_mut() = Some(b);
            }
        },
        |done, _| {
            if let Some(b) = &*bar.borrow() {
                b.set_position(done);
            }
        },
    );
    if let Some(s) = &spinner {
        s.finish_and_clear();
    }
    if let Some(b) = &*bar.borrow() {
        b.finish_and_clear();
    }
    let result = result.and_then(|d| {
        sink.flush()?;
        Ok(d)
    });
    drop(sink);
    let failed = |e: &DownloadError| match e {
        DownloadError::Refused { status, message } => {
            format!("get {:?} refused: {status}: {message}", a.name)
        }
        other => format!("get {:?} failed: {other}", a.name),
    };
    match (result, target) {
        (Ok(d), Target::Stdout) => {
            ctx.note(format_args!(
                "wrote {} bytes to stdout, sha256 {}",
                d.size, d.sha256
            ));
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), Target::Stdout) => {
            eprintln!(
                "jframe: {} (what was written to stdout is incomplete or wrong)",
                failed(&e)
            );
            Ok(ExitCode::FAILURE)
        }
        (Ok(d), Target::File { out, part }) => {
            let saved = fs::File::open(&part)
                .and_then(|f| f.sync_all())
                .and_then(|()| fs::rename(&part, &out));
            let part_taken = PART_FILE.lock().map(|mut p| p.take()).unwrap_or(None);
            if let Err(e) = saved {
                if let Some(p) = part_taken {
                    let _ = fs::remove_file(p);
                }
                return Err(e).with_context(|| format!("cannot save {}", out.display()));
            }
            ctx.note(format_args!(
                "saved {} ({} bytes, sha256 {})",
                out.display(),
                d.size,
                d.sha256
            ));
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), Target::File { .. }) => {
            if let Some(p) = PART_FILE.lock().map(|mut p| p.take()).unwrap_or(None) {
                let _ = fs::remove_file(p);
            }
            eprintln!("jframe: {}", failed(&e));
            Ok(ExitCode::FAILURE)
        }
    }
}

// ---------------------------------------------------------------- raw

const RAW_EXAMPLES: &str = "\
Examples:
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | jframe raw example.test:80
  jframe raw example.test:80 --send 'GET / HTTP/1.0\\r\\n\\r\\n' -o page.html
  jframe raw :9000 | od -c | head                 # see a welcome frame's bytes

Without --send, stdin is sent as it comes and the sending side is closed at
its end (the peer sees end of stream). The exit code is 0 once anything has
arrived, even if the peer then stays silent until --timeout.";

#[derive(Debug, Args)]
#[command(after_help = RAW_EXAMPLES)]
pub struct RawArgs {
    /// Peer address (HOST:PORT or :PORT).
    addr: String,
    /// Send these bytes instead of stdin; \r \n \t \0 \\ and \xHH escapes work.
    #[arg(short, long)]
    send: Option<String>,
    /// Write what arrives here instead of stdout (- is stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Longest wait for the connection, and for more bytes (e.g. 30s).
    #[arg(short, long, default_value = "30s", value_parser = args::nonzero_duration)]
    timeout: Duration,
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

fn connect_any(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let mut last = None;
    for a in args::resolve_all(addr)? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(anyhow!(e).context(format!("cannot connect to {a}"))),
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("{addr} resolves to no address")))
}

pub fn raw(a: RawArgs, ctx: &Ctx) -> Result<ExitCode> {
    let s = connect_any(&a.addr, a.timeout)?;
    s.set_read_timeout(Some(a.timeout))?;
    s.set_write_timeout(Some(a.timeout))?;
    match &a.send {
        Some(text) => (&s).write_all(&unescape(text)?).context("send failed")?,
        None => {
            // stdin to the peer as it comes, like nc; at its end, half-close.
            let w = s.try_clone()?;
            std::thread::Builder::new()
                .name("stdin".into())
                .spawn(move || {
                    let mut w = w;
                    let copied = io::copy(&mut io::stdin().lock(), &mut w);
                    if let Err(e) = copied {
                        log::debug!("raw: stdin: {e}");
                    }
                    let _ = w.shutdown(Shutdown::Write);
                })?;
        }
    }
    let mut sink: Box<dyn Write> = match &a.output {
        Some(p) if p.as_os_str() != "-" => Box::new(io::BufWriter::new(
            fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        _ => Box::new(io::stdout().lock()),
    };
    let mut buf = [0u8; 16 * 1024];
    let mut got = 0u64;
    let mut reader = &s;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got += n as u64;
                sink.write_all(&buf[..n])?;
                sink.flush()?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) && got > 0 =>
            {
                if ctx.verbose > 0 {
                    ctx.note(format_args!(
                        "{} quiet for {}s after {got} bytes; done",
                        a.addr,
                        a.timeout.as_secs_f64()
                    ));
                }
                break;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                bail!(
                    "nothing arrived from {} within {}s (--timeout)",
                    a.addr,
                    a.timeout.as_secs_f64()
                );
            }
            Err(e) => return Err(e).context(format!("reading from {}", a.addr)),
        }
    }
    sink.flush()?;
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- load

const LOAD_EXAMPLES: &str = "\
Examples:
  jframe load :9000                                # 64 connections for 5s
  jframe load :9000 -c 8 -n 10000 -p 16            # 10,000 requests, pipelined by 16
  jframe load :9000 -c 4 --rate 1000 -d 10s        # paced: 1,000 requests/s
  jframe load :9000 -s 16k --op echo --json | jq .p99_us
  jframe load :9001 --raw-echo                     # a plain (unframed) echo server

Every reply is checked (status, size, body). Latency is the round trip of a
request's batch (-p requests at once). The last line of the text report is
requests=.. rps=.. MB/s=.. p50=.. p90=.. p99=.. p99.9=.. max=.. errors=.. reconnects=..;
exit code 1 if any error.";

#[derive(Debug, Args)]
#[command(after_help = LOAD_EXAMPLES)]
pub struct LoadArgs {
    /// Server address (HOST:PORT or :PORT).
    addr: String,
    /// Concurrent connections (one thread each).
    #[arg(short, long, default_value_t = 64)]
    conns: usize,
    /// How long to run (e.g. 5s, 1m); with -n, an upper bound (default then 10m).
    #[arg(short, long, value_parser = args::nonzero_duration)]
    duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Request body size (e.g. 64, 1k, 16KiB).
    #[arg(short, long, default_value = "64", value_parser = args::size_usize)]
    size: usize,
    /// Requests in flight per connection.
    #[arg(short, long, default_value_t = 1)]
    pipeline: usize,
    /// At most this many requests per second, over all connections.
    #[arg(short, long)]
    rate: Option<f64>,
    /// Service to call.
    #[arg(long, value_enum, default_value_t = OpArg::Upper)]
    op: OpArg,
    /// Unframed: send bytes, expect them echoed (for a plain echo server).
    #[arg(long)]
    raw_echo: bool,
    /// The server sends one frame first without marking it
    /// `"welcome": true` (see `send --help`).
    #[arg(short, long, conflicts_with = "raw_echo")]
    welcome: bool,
    /// Longest wait for any single reply.
    #[arg(short, long, default_value = "10s", value_parser = args::nonzero_duration)]
    timeout: Duration,
    /// When the server closes a connection between frames (a restart
    /// behind a balancer), connect again and carry on: unanswered requests
    /// are sent again, and reconnects are counted apart from errors.
    #[arg(long)]
    reconnect: bool,
    /// The report as one JSON object.
    #[arg(short, long)]
    json: bool,
}

fn report_json(cfg: &LoadConfig, r: &LoadReport) -> Value {
    json!({
        "addr": cfg.addr.to_string(),
        "conns": cfg.conns,
        "pipeline": cfg.pipeline,
        "size": cfg.size,
        "op": cfg.op.as_str(),
        "requests": r.requests,
        "errors": r.errors,
        "reconnects": r.reconnects,
        "errors_by_cause": r.causes.iter().map(|(c, n)| json!({"cause": c, "count": n})).collect::<Vec<_>>(),
        "elapsed_s": r.elapsed.as_secs_f64(),
        "rps": r.rps(),
        "mb_per_s": r.mbps(),
        "bytes": r.bytes,
        "latency_us": {
            "min": r.min_us, "mean": r.mean_us, "p50": r.p50_us, "p90": r.p90_us,
            "p99": r.p99_us, "p99_9": r.p999_us, "max": r.max_us,
        },
        "p50_us": r.p50_us,
        "p99_us": r.p99_us,
        "histogram": r.histogram.iter().map(|(le, n)| json!({"le_us": le, "count": n})).collect::<Vec<_>>(),
    })
}

pub fn load(a: LoadArgs, ctx: &Ctx) -> Result<ExitCode> {
    let limit = Duration::from_secs(600);
    let duration = match (a.duration, a.requests) {
        (Some(d), _) => d,
        (None, Some(_)) => limit,
        (None, None) => Duration::from_secs(5),
    };
    if duration > limit {
        bail!("--duration is limited to 10 minutes");
    }
    if a.requests == Some(0) {
        bail!("-n must be at least 1");
    }
    let mut cfg = LoadConfig {
        conns: a.conns,
        size: a.size,
        pipeline: a.pipeline,
        op: a.op.into(),
        raw_echo: a.raw_echo,
        welcome: a.welcome,
        timeout: a.timeout,
        requests: a.requests,
        rate: a.rate,
        reconnect: a.reconnect,
        ..LoadConfig::new(args::listen_addr(&a.addr)?, duration)
    };
    // The first address that answers as expected (localhost: ::1 or 127.0.0.1).
    let mut last = None;
    for addr in args::resolve_all(&a.addr)? {
        cfg.addr = addr;
        match load::preflight(&cfg) {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        return Err(anyhow!(e));
    }
    let live = Arc::new(load::Progress::default());
    let show = ctx.live();
    let started = Instant::now();
    let mut last_line = Instant::now();
    let report = load::run_with(&cfg, &live, |t| {
        let every = if show {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(1)
        };
        if !(show || ctx.verbose > 0) || last_line.elapsed() < every {
            return;
        }
        last_line = Instant::now();
        let done = live.requests.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        let total = match a.requests {
            Some(n) => format!("{done}/{n}"),
            None => format!("{done}"),
        };
        let line = format!(
            "{:>6.1}s/{:.0}s  {total} requests  {:.0} req/s  {errors} errors",
            t.as_secs_f64(),
            duration.as_secs_f64(),
            done as f64 / t.as_secs_f64().max(1e-3)
        );
        if show {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("jframe: {line}");
        }
    })?;
    if show {
        eprint!("\r\x1b[2K");
    }
    log::debug!("load: ran {:.2}s", started.elapsed().as_secs_f64());
    if a.json {
        println!("{}", report_json(&cfg, &report));
    } else {
        println!("{}", report.details());
    }
    Ok(if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

// ---------------------------------------------------------------- proxy

const PROXY_EXAMPLES: &str = "\
Examples:
  jframe proxy :9001 :9000           # then: jframe send :9001 hello
  jframe proxy :9001 device.local:7 --json | jq -c 'select(.dir == \"s2c\")'
  jframe proxy :9001 :9000 --drop 5 --delay 50ms --seed 7

Each line: [conn N] -> (client to server) or <- (server to client), the
frame's number in that direction, its header JSON, body size and preview,
and for a reply the time since the request it answers. Bad frames are shown
as such and forwarded byte for byte; without fault options nothing is
changed or held back. TCP only.";

#[derive(Debug, Args)]
#[command(after_help = PROXY_EXAMPLES)]
pub struct ProxyArgs {
    /// Where to listen (HOST:PORT or :PORT).
    listen: String,
    /// Where to forward (HOST:PORT or :PORT).
    upstream: String,
    /// One JSON object per frame on stdout.
    #[arg(short, long)]
    json: bool,
    /// Percentage of frames not forwarded (per frame, seeded).
    #[arg(long, value_name = "PCT", default_value = "0", value_parser = args::percent)]
    drop: f64,
    /// Percentage of frames forwarded with one bit flipped.
    #[arg(long, value_name = "PCT", default_value = "0", value_parser = args::percent)]
    corrupt: f64,
    /// Hold every frame this long (e.g. 50ms).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = args::duration)]
    delay: Duration,
    /// Seed of the fault dice: same seed, same traffic, same faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Body bytes shown per frame.
    #[arg(long, default_value_t = 32)]
    preview: usize,
    /// Most connections at once.
    #[arg(long, default_value_t = 256)]
    max_conns: usize,
    /// A connection on which neither side has sent anything for this long
    /// is closed (one side may stay quiet while the other moves).
    #[arg(long, default_value = DEFAULTS.idle_timeout.as_str(), value_parser = args::nonzero_duration)]
    idle_timeout: Duration,
}

pub fn proxy(a: ProxyArgs, ctx: &Ctx) -> Result<ExitCode> {
    let listen = args::listen_addr(&a.listen).context("LISTEN")?;
    let upstream = args::resolve_all(&a.upstream).context("UPSTREAM")?;
    let mut cfg = ProxyConfig::new(upstream);
    cfg.json = a.json;
    cfg.preview = a.preview;
    cfg.max_conns = a.max_conns.max(1);
    cfg.idle_timeout = a.idle_timeout;
    cfg.faults = Faults {
        drop_pct: a.drop,
        corrupt_pct: a.corrupt,
        delay: a.delay,
        seed: a.seed,
    };
    let faults = cfg.faults.any();
    let p = Proxy::bind(listen, cfg).with_context(|| format!("cannot listen on {listen}"))?;
    let stop = p.stop_flag();
    on_signal(move |_| stop.store(true, Ordering::Relaxed))?;
    ctx.note(format_args!(
        "proxy listening on {}, forwarding to {}{}",
        p.local_addr()?,
        a.upstream,
        if faults {
            format!(
                " (faults: drop {}%, corrupt {}%, delay {:?}, seed {})",
                a.drop, a.corrupt, a.delay, a.seed
            )
        } else {
            String::new()
        }
    ));
    let out: proxy::Sink = Arc::new(Mutex::new(Box::new(io::stdout())));
    p.run(out)?;
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- conform

#[derive(Debug, Args)]
#[command(after_help = "\
Verdicts: ok (pass); non-strict (what SPEC requires is done, but the replies
depart from what SPEC asks of senders, e.g. no status, which readers take as
ok); FAIL, with the reason and the SPEC rule.

Examples:
  jframe conform :9000 --udp :9000
  jframe conform :7000 --framing-only --ok-op read_sensor
  jframe conform :7000 --ok-op set_config --ok-body '{\"led\":1}' --json --junit conform.xml")]
pub struct ConformArgs {
    /// The server's TCP address (HOST:PORT or :PORT).
    addr: String,
    /// Also run the UDP cases against this address.
    #[arg(short, long)]
    udp: Option<String>,
    /// Longest wait for a connection, each reply and each close.
    #[arg(short, long, default_value = "3s", value_parser = args::nonzero_duration)]
    timeout: Duration,
    /// The server sends a welcome frame on connect: skip it.
    #[arg(short, long)]
    welcome: bool,
    /// Run only the cases whose id contains this.
    #[arg(long)]
    only: Option<String>,
    /// Cases run at once (each TCP case holds one connection).
    #[arg(short, long, default_value_t = 1)]
    jobs: usize,
    /// Only the framing cases (prefix, header, errors and recovery,
    /// pipelining, buffer boundaries), not SPEC's demo services.
    #[arg(long)]
    framing_only: bool,
    /// An op of your server that answers ok: the framing cases send it
    /// wherever they need a request that succeeds, and check that its reply
    /// is ok and well framed, not its body. Implies --framing-only.
    #[arg(long, value_name = "OP", visible_alias = "op")]
    ok_op: Option<String>,
    /// The body sent with --ok-op (at most 128 bytes; empty by default).
    #[arg(long, value_name = "TEXT", requires = "ok_op")]
    ok_body: Option<String>,
    /// One JSON object per case on stdout, then a summary object.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report to FILE, for CI systems.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Exit 1 on non-strict passes too (as h2spec's strict mode).
    #[arg(long)]
    strict: bool,
}

pub fn conform(a: ConformArgs, ctx: &Ctx) -> Result<ExitCode> {
    use conform::report::{self, Counts};

    let resolve = |s: &str| -> Result<SocketAddr> { Ok(args::resolve_all(s)?[0]) };
    let tcp = args::listen_addr(&a.addr).or_else(|_| resolve(&a.addr))?;
    let udp = a.udp.as_deref().map(args::listen_addr).transpose()?;
    let cases = match &a.ok_op {
        Some(op) => {
            let body = a.ok_body.as_deref().unwrap_or("");
            let ok = conform::OkRequest::new(op, body.as_bytes())
                .map_err(|e| anyhow!("--ok-op/--ok-body: {e}"))?;
            conform::framing_cases(&ok)
        }
        None if a.framing_only => conform::cases()
            .into_iter()
            .filter(|c| c.group == conform::Group::Framing)
            .collect(),
        None => conform::cases(),
    };
    let opts = conform::Options {
        timeout: a.timeout,
        welcome: a.welcome,
        only: a.only,
        jobs: a.jobs.max(1),
        ..conform::Options::default()
    };
    if conform::select(&cases, true, udp.is_some(), &opts).is_empty() {
        bail!(
            "no case to run{}",
            if opts.only.is_some() {
                " matches --only (UDP cases need --udp)"
            } else {
                ""
            }
        );
    }
    let json = a.json;
    let show = |o: &conform::Outcome| {
        let mut out = io::stdout().lock();
        let _ = if json {
            writeln!(out, "{}", report::json_case(o))
        } else {
            writeln!(out, "{o}")
        };
        let _ = out.flush();
    };
    let outcomes = conform::run(&cases, Some(tcp), udp, &opts, &show);
    let all = Counts::of(&outcomes);
    if json {
        let mut summary = report::json_summary(&outcomes);
        summary["services"] = match &a.ok_op {
            Some(op) => json!({ "own": true, "ok_op": op }),
            None => json!({ "own": false }),
        };
        println!("{summary}");
    } else {
        println!("{all}");
    }
    let groups = report::by_group(&outcomes);
    if groups.len() > 1 {
        let each: Vec<String> = groups.iter().map(|(g, c)| format!("{g}: {c}")).collect();
        ctx.note(each.join("; "));
    }
    if all.non_strict > 0 {
        ctx.note(format_args!(
            "{} case(s) passed non-strict: the server does what SPEC requires, but its replies depart from what SPEC asks of senders{}",
            all.non_strict,
            if a.strict { " (--strict: they count as failures)" } else { "" }
        ));
    }
    let framing_ok = groups
        .iter()
        .any(|(g, c)| *g == conform::Group::Framing && c.passed() > 0);
    let demo_failed = groups
        .iter()
        .any(|(g, c)| *g == conform::Group::Demo && c.fail > 0);
    if framing_ok && demo_failed {
        ctx.note(format!(
            "a server with services of its own: jframe conform {} --framing-only --ok-op NAME (an op of yours that answers ok)",
            a.addr
        ));
    }
    if let Some(path) = &a.junit {
        fs::write(path, report::junit(&outcomes))
            .with_context(|| format!("cannot write the JUnit report {}", path.display()))?;
    }
    Ok(if all.fail > 0 || (a.strict && all.non_strict > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        a: ServeArgs,
    }

    #[test]
    fn serve_defaults_are_the_servers() {
        let a = Serve::try_parse_from(["serve"]).unwrap().a;
        let d = Config::default();
        assert_eq!(a.max_conns, d.max_conns);
        assert_eq!(a.max_conns_per_client, d.max_conns_per_client);
        assert_eq!(a.body_min_rate, d.body_min_rate);
        assert_eq!(a.max_body, d.max_body);
        assert_eq!(a.body_budget, d.body_budget);
        assert_eq!(a.header_timeout, d.header_timeout);
        assert_eq!(a.idle_timeout, d.idle_timeout);
        assert_eq!(a.write_timeout, d.write_timeout);
        assert_eq!(a.drain_timeout, d.grace);
    }
}
