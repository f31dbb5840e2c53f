//! `jframe conform`: SPEC's conformance table against a server.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use jframe_std::conform;
use serde_json::json;

use crate::{Ctx, args};

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

pub fn run(a: ConformArgs, ctx: &Ctx) -> Result<ExitCode> {
    use conform::report::{self, Counts};

    let tcp = args::listen_addr(&a.addr)?;
    let udp = args::listen_addr_opt(a.udp.as_deref())?;
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
    Ok(if all.failed(a.strict) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
