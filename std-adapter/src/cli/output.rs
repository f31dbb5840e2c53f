//! How frames are printed (`send`, `recv`): bodies as they are, or one
//! JSON line per frame.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use jframe::Status;
use jframe_std::client;
use jframe_std::json_line::json_line;
use serde_json::Value;

use crate::Ctx;

/// How frames are printed (`send`, `recv`).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One JSON line per frame: {"n", "welcome", "status", "header", "body" or "body_base64"}.
    #[arg(short, long)]
    json: bool,
    /// Write bodies back to back, without a newline after each (binary data).
    #[arg(short = 'N', long)]
    no_newline: bool,
    /// Write what is printed to FILE instead of stdout (- is stdout).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Where a subcommand writes what it prints: FILE (buffered), or stdout
/// for none or `-`.
pub fn open(path: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => Box::new(io::BufWriter::new(
            fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        _ => Box::new(io::stdout()),
    })
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// One frame as a JSON line.
fn reply_json(n: usize, m: &client::OwnedFrame) -> String {
    let header: Value = serde_json::from_slice(&m.header_json).unwrap_or(Value::Null);
    let (key, body) = match std::str::from_utf8(&m.body) {
        Ok(text) => ("body", Value::from(text)),
        Err(_) => ("body_base64", Value::from(base64(&m.body))),
    };
    json_line(&[
        ("n", n.into()),
        ("welcome", if m.welcome { true.into() } else { Value::Null }),
        ("status", m.status().as_str().into()),
        ("header", header),
        (key, body),
    ])
}

/// Prints frames and remembers whether one failed.
pub struct Show {
    json: bool,
    newline: bool,
    failed: bool,
    n: usize,
    out: Box<dyn Write>,
}

impl Show {
    pub fn new(o: &OutputArgs) -> Result<Show> {
        Ok(Show {
            json: o.json,
            newline: !o.no_newline,
            failed: false,
            n: 0,
            out: open(o.output.as_deref())?,
        })
    }

    /// A welcome frame: a JSON line (numbered 0) with --json, else a note.
    pub fn welcome(&mut self, ctx: &Ctx, m: &client::OwnedFrame) -> Result<()> {
        if self.json {
            writeln!(self.out, "{}", reply_json(0, m))?;
            self.out.flush()?;
        } else {
            ctx.note(format_args!(
                "welcome from the server: {}",
                String::from_utf8_lossy(&m.body)
            ));
        }
        Ok(())
    }

    /// A reply (or, for `recv`, any frame): its body, or a JSON line.
    pub fn reply(&mut self, m: &client::OwnedFrame) -> Result<()> {
        self.n += 1;
        if self.json {
            writeln!(self.out, "{}", reply_json(self.n, m))?;
        } else if m.status() == Status::Ok {
            self.out.write_all(&m.body)?;
            if self.newline {
                self.out.write_all(b"\n")?;
            }
        }
        self.out.flush()?;
        if m.status() != Status::Ok {
            self.failed = true;
            eprintln!(
                "jframe: reply {}: {}: {}",
                self.n,
                m.status(),
                m.header.error.as_deref().unwrap_or("(no message)")
            );
        }
        Ok(())
    }

    /// Exit code 1 if any reply was not ok.
    pub fn code(&self) -> ExitCode {
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}
