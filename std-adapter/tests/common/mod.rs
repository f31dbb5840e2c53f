//! Shared helpers: spawn the built `jframe` binary and Python peers (here),
//! raw frames (`frames`), in-process servers and fixtures (`fixtures`),
//! `--metrics` servers and their scrapes (`metrics`), checks of `jframe
//! conform`'s reports (`report`).
#![allow(dead_code)]

mod fixtures;
mod frames;
mod metrics;
mod report;

// Each test uses some of the helpers, not all.
#[allow(unused_imports)]
pub use fixtures::*;
#[allow(unused_imports)]
pub use frames::*;
#[allow(unused_imports)]
pub use metrics::*;
#[allow(unused_imports)]
pub use report::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The built `jframe` (a test that runs it needs the `cli` feature).
pub const BIN: &str = match option_env!("CARGO_BIN_EXE_jframe") {
    Some(bin) => bin,
    None => "jframe (built only with the cli feature)",
};

/// `bin ARGS`, logging only warnings.
pub fn command(bin: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args).env("RUST_LOG", "warn");
    cmd
}

/// `jframe ARGS`, logging only warnings.
pub fn jframe_command(args: &[&str]) -> Command {
    command(BIN, args)
}

/// The first line a child prints on `from` (its stdout or stderr).
pub fn first_line(from: &mut impl BufRead, what: &str) -> String {
    let mut line = String::new();
    from.read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    line
}

/// Bytes as text, for messages and comparisons.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `jframe ARGS` without stdin, killed past 60 s.
pub fn jframe(args: &[&str]) -> Output {
    run_jframe(args, None)
}

/// `o`'s stderr says `needle`.
pub fn assert_stderr_has(o: &Output, needle: &str) {
    let err = text(&o.stderr);
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

/// A `jframe serve` child on 127.0.0.1 (ephemeral ports unless `args`
/// say `--listen`); killed on drop.
pub struct ServerProc {
    pub child: Child,
    pub tcp: SocketAddr,
    pub udp: Option<SocketAddr>,
    /// The metrics endpoint, with `--metrics`.
    pub metrics: Option<SocketAddr>,
}

impl ServerProc {
    pub fn start(args: &[&str]) -> ServerProc {
        Self::start_bin(BIN, args)
    }

    /// [`Self::start`] with another build of `jframe`.
    pub fn start_bin(bin: &str, args: &[&str]) -> ServerProc {
        let listen: &[&str] = if args.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = command(bin, &[&["serve"], listen, args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn jframe serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut tcp, mut udp, mut metrics) = (None, None, None);
        let udp_wanted = args.contains(&"--udp");
        let metrics_wanted = args.contains(&"--metrics");
        while tcp.is_none()
            || (udp_wanted && udp.is_none())
            || (metrics_wanted && metrics.is_none())
        {
            let mut line = String::new();
            if out.read_line(&mut line).expect("read serve output") == 0 {
                panic!("jframe serve {args:?} exited before listening");
            }
            let last = line.split_whitespace().last().unwrap_or("");
            if line.contains("listening on tcp") {
                tcp = Some(last.parse().expect("tcp address"));
            } else if line.contains("listening on udp") {
                udp = Some(last.parse().expect("udp address"));
            } else if line.contains("metrics on http://") {
                let addr = last
                    .trim_start_matches("http://")
                    .trim_end_matches("/metrics");
                metrics = Some(addr.parse().expect("metrics address"));
            }
        }
        // Keep draining stdout so the child never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        ServerProc {
            child,
            tcp: tcp.unwrap(),
            udp,
            metrics,
        }
    }

    pub fn addr(&self) -> String {
        self.tcp.to_string()
    }

    /// Sends SIGTERM (through kill(1): this crate forbids unsafe code).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < until,
                "server did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A peer on an ephemeral 127.0.0.1 port: the first connection to it is
/// handed to `serve` on a thread of its own. Returns the address and the
/// thread.
pub fn one_peer<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (String, std::thread::JoinHandle<T>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peer = std::thread::spawn(move || serve(listener.accept().unwrap().0));
    (addr, peer)
}

/// `python3`, or a clear failure: these tests must not pass silently.
pub fn python3() -> PathBuf {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3 is required for the Python peer tests but was not found on PATH"
    );
    PathBuf::from("python3")
}

/// A Python peer script in tests/py.
pub fn py_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// Runs `jframe ARGS` with `stdin` (or none), killed past 60 s.
pub fn run_jframe(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = jframe_command(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jframe");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let out = child.wait_with_output().expect("wait jframe");
    let _ = tx.send(());
    let _ = watchdog.join();
    out
}

/// Runs `jframe ARGS`, killing it past `limit`: (exit status, stdout).
pub fn run_bounded(args: &[&str], limit: Duration) -> (ExitStatus, String) {
    let mut child = jframe_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn jframe");
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("jframe {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, reader.join().expect("stdout reader"))
}

/// Runs `jframe ARGS` with stderr discarded: (exit status, stdout).
pub fn conform_quietly(args: &[&str]) -> (ExitStatus, String) {
    let mut all = vec!["-q", "conform"];
    all.extend_from_slice(args);
    run_bounded(&all, Duration::from_secs(120))
}

/// A Python server script from tests/py, started with `args`, on the
/// 127.0.0.1 address it prints first ("listening on tcp HOST:PORT");
/// killed on drop.
pub struct PyServer {
    pub child: Child,
    pub addr: String,
}

impl PyServer {
    pub fn start(script: &str, args: &[&str]) -> PyServer {
        Self::start_with(script, args, Stdio::inherit())
    }

    /// [`Self::start`] with the script's stderr going to `stderr`.
    pub fn start_with(script: &str, args: &[&str], stderr: Stdio) -> PyServer {
        let mut child = Command::new(python3())
            .arg(py_script(script))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn the python server");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let line = first_line(&mut out, "read the python server's address");
        let addr = line
            .split_whitespace()
            .last()
            .unwrap_or_else(|| panic!("{script} {args:?} printed no address: {line:?}"))
            .to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        PyServer { child, addr }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
