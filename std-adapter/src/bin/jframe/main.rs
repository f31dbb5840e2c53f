//! The `jframe` command: serve, send, get, raw, load, conform.

mod cmds;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Length-prefixed JSON-header frames over TCP and UDP (see SPEC.md).
#[derive(Debug, Parser)]
#[command(name = "jframe", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (upper, echo, greet, get) on TCP and optionally UDP.
    Serve(cmds::ServeArgs),
    /// Send each MESSAGE as a frame and print each reply body on its own line.
    Send(cmds::SendArgs),
    /// Download a file from a server's --root, verifying size and sha256.
    Get(cmds::GetArgs),
    /// Unframed client (seed 001): connect, send, read until the peer closes.
    Raw(cmds::RawArgs),
    /// Load generator: requests/s, MB/s, latency percentiles, errors.
    Load(cmds::LoadArgs),
    /// Check a server against SPEC: one line per case, exit 1 on any failure.
    Conform(cmds::ConformArgs),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => cmds::serve(a),
        Command::Send(a) => cmds::send(a),
        Command::Get(a) => cmds::get(a),
        Command::Raw(a) => cmds::raw(a),
        Command::Load(a) => cmds::load(a),
        Command::Conform(a) => cmds::conform(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jframe: error: {e}");
            ExitCode::FAILURE
        }
    }
}
