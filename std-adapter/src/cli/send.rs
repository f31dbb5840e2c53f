//! `jframe send`: requests as frames, pipelined over TCP or one datagram
//! each over UDP; each reply printed.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use jframe_std::client::{TcpClient, UdpClient};
use serde_json::Value;

use jframe_std::json_line::Ordered;

use crate::output::{OutputArgs, Show};
use crate::{Ctx, args};

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
            let path = Path::new(OsStr::from_bytes(path));
            fs::read(path).with_context(|| format!("-d @{}: cannot read it", path.display()))
        }
        None => Ok(bytes.to_vec()),
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

pub fn run(a: SendArgs, ctx: &Ctx) -> Result<ExitCode> {
    let addr = args::client_addr(&a.addr)?;
    let mut op = a.op.clone();
    let extra = header_args(&a.headers, &mut op)?;
    // In the order given: core encodes them after `data_size` and `op`.
    let extra = Ordered(&extra);
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
