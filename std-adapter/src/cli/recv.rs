//! `jframe recv`: the frames a server sends unasked, sending nothing.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use jframe_std::client::TcpClient;

use crate::output::{OutputArgs, Show};
use crate::{Ctx, args};

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

pub fn run(a: RecvArgs, ctx: &Ctx) -> Result<ExitCode> {
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
