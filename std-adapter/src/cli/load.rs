//! `jframe load`: the load generator's command line, live progress line
//! and report.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use clap::{Args, ValueEnum};
use jframe::Op;
use jframe_std::load::{self, LoadConfig, LoadReport};
use serde_json::{Value, json};

use crate::{Ctx, args};

/// Services `load` may call.
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

pub fn run(a: LoadArgs, ctx: &Ctx) -> Result<ExitCode> {
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
