//! `jframe raw`: an unframed client, like nc.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use crate::{Ctx, args, output};

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

pub fn run(a: RawArgs, ctx: &Ctx) -> Result<ExitCode> {
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
    let mut sink = output::open(a.output.as_deref())?;
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
