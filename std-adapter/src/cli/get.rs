//! `jframe get`: a file from a server's --root, verified by size and
//! sha256, written to a part file and renamed once it is whole.

use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use jframe_std::client::{self, DownloadError, TcpClient};

use crate::signals::on_signal;
use crate::{Ctx, args};

const GET_EXAMPLES: &str = "\
Examples:
  jframe get :9000 report.pdf                      # ./report.pdf
  jframe get :9000 docs/report.pdf -o /tmp/        # /tmp/report.pdf
  jframe get :9000 data.bin -o - | sha256sum       # to stdout

The file is written to .NAME.part-PID next to the target and renamed only
once its size and sha256 match; on any error or Ctrl-C the part file is removed.";

#[derive(Debug, Args)]
#[command(after_help = GET_EXAMPLES)]
pub struct GetArgs {
    /// Server address (HOST:PORT or :PORT).
    addr: String,
    /// File name, relative to the server's --root.
    name: String,
    /// Where to save it: a file, a directory (DIR/), or - for stdout
    /// (default: the name's last component, here).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Longest wait for the connection and for each read (e.g. 30s).
    #[arg(short, long, default_value = "30s", value_parser = args::nonzero_duration)]
    timeout: Duration,
    /// The server sends one frame first without marking it
    /// `"welcome": true` (see `send --help`).
    #[arg(short, long)]
    welcome: bool,
}

/// The part file to remove if the command is interrupted.
static PART_FILE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Unregisters the part file being written, if any.
fn take_part_file() -> Option<PathBuf> {
    PART_FILE.lock().map(|mut p| p.take()).unwrap_or(None)
}

/// Removes the part file being written, if any.
fn discard_part_file() {
    if let Some(p) = take_part_file() {
        let _ = fs::remove_file(p);
    }
}

/// On SIGINT/SIGTERM: remove the part file, exit 130.
fn remove_part_file_on_signal() -> Result<()> {
    on_signal(|sig| {
        discard_part_file();
        eprintln!("jframe: interrupted (signal {sig}); nothing saved");
        std::process::exit(130);
    })
}

fn bar_style() -> indicatif::ProgressStyle {
    use indicatif::{HumanBytes, HumanDuration, ProgressState, ProgressStyle};
    // The rate is the average since the reply's header arrived (not since
    // the request, which includes the server's hashing), so the first
    // estimate is sane; shown once there is something to average.
    let rate = |s: &ProgressState| {
        let secs = s.elapsed().as_secs_f64();
        (secs >= 0.25 && s.pos() > 0).then(|| s.pos() as f64 / secs)
    };
    ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {avg_rate} eta {avg_eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "avg_rate",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| match rate(s) {
                Some(r) => {
                    let _ = write!(w, "{}/s", HumanBytes(r as u64));
                }
                None => {
                    let _ = w.write_str("-");
                }
            },
        )
        .with_key(
            "avg_eta",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| match rate(s) {
                Some(r) => {
                    let left = s.len().unwrap_or(0).saturating_sub(s.pos()) as f64 / r;
                    let _ = write!(w, "{}", HumanDuration(Duration::from_secs_f64(left)));
                }
                None => {
                    let _ = w.write_str("-");
                }
            },
        )
}

/// Where `get` writes: stdout, or a file (with its part file beside it).
enum Target {
    Stdout,
    File { out: PathBuf, part: PathBuf },
}

fn target(name: &str, output: Option<PathBuf>) -> Result<Target> {
    let base = || -> Result<PathBuf> {
        Ok(PathBuf::from(Path::new(name).file_name().with_context(
            || format!("{name:?} has no file part; use -o FILE"),
        )?))
    };
    let out = match output {
        Some(p) if p.as_os_str() == "-" => return Ok(Target::Stdout),
        Some(p) if p.is_dir() || p.as_os_str().as_bytes().ends_with(b"/") => p.join(base()?),
        Some(p) => p,
        None => base()?,
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot save to {}: {} is not a directory",
            out.display(),
            dir.display()
        );
    }
    let file_name = out
        .file_name()
        .with_context(|| format!("-o {}: no file name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let part = dir.join(format!(".{file_name}.part-{}", std::process::id()));
    Ok(Target::File { out, part })
}

pub fn run(a: GetArgs, ctx: &Ctx) -> Result<ExitCode> {
    let addr = args::client_addr(&a.addr)?;
    let target = target(&a.name, a.output)?;
    let mut client = TcpClient::connect(addr.as_str(), a.timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    client.expect_welcome(a.welcome);
    let mut sink: Box<dyn Write> = match &target {
        Target::Stdout => Box::new(io::BufWriter::new(io::stdout().lock())),
        Target::File { part, .. } => {
            remove_part_file_on_signal()?;
            let file = fs::File::create(part)
                .with_context(|| format!("cannot create {}", part.display()))?;
            if let Ok(mut p) = PART_FILE.lock() {
                *p = Some(part.clone());
            }
            Box::new(io::BufWriter::new(file))
        }
    };
    let live = ctx.live();
    let spinner = live.then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message(format!("waiting for {addr} to hash and send {}", a.name));
        s.enable_steady_tick(Duration::from_millis(100));
        s
    });
    let bar: std::cell::RefCell<Option<indicatif::ProgressBar>> = std::cell::RefCell::new(None);
    let result = client::download_with(
        &mut client,
        &a.name,
        &mut sink,
        |size| {
            if let Some(s) = &spinner {
                s.finish_and_clear();
            }
            if live {
                let b = indicatif::ProgressBar::new(size);
                b.set_style(bar_style());
                *bar.borrow_mut() = Some(b);
            }
        },
        |done, _| {
            if let Some(b) = &*bar.borrow() {
                b.set_position(done);
            }
        },
    );
    if let Some(s) = &spinner {
        s.finish_and_clear();
    }
    if let Some(b) = &*bar.borrow() {
        b.finish_and_clear();
    }
    let result = result.and_then(|d| {
        sink.flush()?;
        Ok(d)
    });
    drop(sink);
    let failed = |e: &DownloadError| match e {
        DownloadError::Refused { status, message } => {
            format!("get {:?} refused: {status}: {message}", a.name)
        }
        other => format!("get {:?} failed: {other}", a.name),
    };
    match (result, target) {
        (Ok(d), Target::Stdout) => {
            ctx.note(format_args!(
                "wrote {} bytes to stdout, sha256 {}",
                d.size, d.sha256
            ));
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), Target::Stdout) => {
            eprintln!(
                "jframe: {} (what was written to stdout is incomplete or wrong)",
                failed(&e)
            );
            Ok(ExitCode::FAILURE)
        }
        (Ok(d), Target::File { out, part }) => {
            let saved = fs::File::open(&part)
                .and_then(|f| f.sync_all())
                .and_then(|()| fs::rename(&part, &out));
            if let Err(e) = saved {
                discard_part_file();
                return Err(e).with_context(|| format!("cannot save {}", out.display()));
            }
            // Saved under its name: no part file left to clean up.
            take_part_file();
            ctx.note(format_args!(
                "saved {} ({} bytes, sha256 {})",
                out.display(),
                d.size,
                d.sha256
            ));
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), Target::File { .. }) => {
            discard_part_file();
            eprintln!("jframe: {}", failed(&e));
            Ok(ExitCode::FAILURE)
        }
    }
}
