//! The `jframe` command: serve, send, recv, get, raw, load, proxy,
//! conform, completions, man. One file per subcommand, each with its
//! arguments and its `run`; `args` parses values with units and
//! addresses, `output` prints frames, `signals` waits for SIGINT/SIGTERM.

mod args;
mod conform;
mod get;
mod load;
mod output;
mod proxy;
mod raw;
mod recv;
mod send;
mod serve;
mod signals;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  jframe serve --root ./public                    # listen on 127.0.0.1:9000
  jframe send localhost:9000 hello world          # HELLO, WORLD: one line per reply
  jframe send :9000 --op echo -d @photo.jpg -N > copy.jpg
  jframe recv :8080 -n 1                          # a frame the server sends unasked
  jframe get :9000 report.pdf -o downloads/       # verified by sha256
  jframe load :9000 -c 64 -d 5s                   # requests/s, latency percentiles
  jframe proxy :9001 :9000                        # watch every frame between them

Addresses are HOST:PORT (localhost:9000, [::1]:9000) or :PORT for localhost.
Durations take units (5s, 250ms, 1m); sizes too (64, 1k, 16MiB).
Errors go to stderr with their cause; the exit code is 1 on any error.";

/// Frames of a JSON header and a body over TCP and UDP: a server, clients,
/// a load generator, a frame-aware proxy and a conformance checker.
#[derive(Debug, Parser)]
#[command(name = "jframe", version, about, propagate_version = true, after_help = EXAMPLES)]
struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace; RUST_LOG overrides).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
    /// Errors only: no progress display, notes or summaries on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (upper, echo, greet, get) on TCP and optionally UDP.
    Serve(serve::ServeArgs),
    /// Send messages, text or files as frames; print each reply body.
    Send(send::SendArgs),
    /// Print the frames a server sends unasked (a welcome, a push), sending nothing.
    Recv(recv::RecvArgs),
    /// Download a file from a server's --root, verifying size and sha256.
    Get(get::GetArgs),
    /// Unframed client, like nc: stdin (or --send) to the peer, the peer to stdout.
    Raw(raw::RawArgs),
    /// Load generator: requests/s, latency histogram and percentiles, errors by cause.
    Load(load::LoadArgs),
    /// Forward connections to UPSTREAM and print every frame both ways.
    Proxy(proxy::ProxyArgs),
    /// Check a server against SPEC: one line per case, exit 1 on any failure.
    Conform(conform::ConformArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `jframe man > jframe.1; man ./jframe.1`.
    Man,
}

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
    let ctx = Ctx {
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Serve(a) => serve::run(a, &ctx),
        Command::Send(a) => send::run(a, &ctx),
        Command::Recv(a) => recv::run(a, &ctx),
        Command::Get(a) => get::run(a, &ctx),
        Command::Raw(a) => raw::run(a, &ctx),
        Command::Load(a) => load::run(a, &ctx),
        Command::Proxy(a) => proxy::run(a, &ctx),
        Command::Conform(a) => conform::run(a, &ctx),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "jframe", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
    };
    let _ = io::stdout().flush();
    match result {
        Ok(code) => code,
        Err(e) => {
            // The whole chain: "cannot listen on ...: Address already in use (os error 98)".
            eprintln!("jframe: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
