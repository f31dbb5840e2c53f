//! `jframe serve`: the server, with its limits on the command line.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use jframe_std::files::Root;
use jframe_std::server::{self, Config, Server};

use crate::signals::on_signal;
use crate::{Ctx, args};

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
    /// drive core's same session with the same limits. (`--engine` is
    /// the old name, still taken.)
    #[arg(long, alias = "engine", default_value = "tokio")]
    driver: jframe_std::server::Driver,
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
/// source is `server::Config::default()` (`proxy --idle-timeout` takes
/// the server's too).
pub struct Defaults {
    config: Config,
    body_min_rate: String,
    max_body: String,
    body_budget: String,
    header_timeout: String,
    pub idle_timeout: String,
    write_timeout: String,
    grace: String,
}

pub static DEFAULTS: std::sync::LazyLock<Defaults> = std::sync::LazyLock::new(|| {
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

pub fn run(a: ServeArgs, _ctx: &Ctx) -> Result<ExitCode> {
    let listen = args::listen_addr(&a.listen).context("--listen")?;
    let udp = args::listen_addr_opt(a.udp.as_deref()).context("--udp")?;
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
    let metrics = args::listen_addr_opt(a.metrics.as_deref()).context("--metrics")?;
    let what = match udp {
        Some(u) => format!("cannot listen on tcp {listen} and udp {u}"),
        None => format!("cannot listen on {listen}"),
    };
    let server = Server::bind(listen, udp, config)
        .context(what)?
        .with_driver(a.driver);
    let handle = server.shutdown_handle()?;
    on_signal(move |sig| {
        log::info!("signal {sig}: shutting down");
        handle.shutdown();
    })?;
    log::info!("serving TCP with the {:?} driver", a.driver);
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
