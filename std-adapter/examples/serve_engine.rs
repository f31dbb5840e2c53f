//! The library server with a chosen TCP engine, for the benchmarks until
//! `jframe serve --engine` exists: `serve_engine tokio|threads ADDR
//! [MAX_CONNS]` (the per-client limit is set to the same value). Runs until
//! killed. The tokio engine needs `--features tokio`.
//!
//! `cargo run --release --features tokio --example serve_engine -- tokio 127.0.0.1:0`

use jframe_std::server::{self, Config, Engine, Server};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let engine: Engine = args
        .next()
        .unwrap_or_else(|| "tokio".into())
        .parse()
        .map_err(std::io::Error::other)?;
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(std::io::Error::other)?;
    let wanted: usize = args
        .next()
        .map(|n| n.parse().map_err(std::io::Error::other))
        .transpose()?
        .unwrap_or(1024);
    let max_conns = server::max_conns_for_fd_limit(wanted, server::raise_fd_limit());
    let config = Config {
        max_conns,
        max_conns_per_client: max_conns,
        ..Config::default()
    };
    let server = Server::bind(addr, None, config)?.with_engine(engine);
    println!(
        "serve_engine ({engine:?}, max {max_conns} conns): listening on tcp {}",
        server.local_addr()?
    );
    server.run()
}
