//! `jframe proxy`: the command line of the library's frame-aware proxy.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use jframe_std::proxy::{FaultPlan, Proxy, ProxyConfig, ReportOut};

use crate::serve::DEFAULTS;
use crate::signals::on_signal;
use crate::{Ctx, args};

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

pub fn run(a: ProxyArgs, ctx: &Ctx) -> Result<ExitCode> {
    let listen = args::listen_addr(&a.listen).context("LISTEN")?;
    let upstream = args::resolve_all(&a.upstream).context("UPSTREAM")?;
    let mut cfg = ProxyConfig::new(upstream);
    cfg.json = a.json;
    cfg.preview = a.preview;
    cfg.max_conns = a.max_conns.max(1);
    cfg.idle_timeout = a.idle_timeout;
    cfg.faults = FaultPlan {
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
    let out: ReportOut = Arc::new(Mutex::new(Box::new(io::stdout())));
    p.run(out)?;
    Ok(ExitCode::SUCCESS)
}
