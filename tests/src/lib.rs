//! Cross-crate tests live in `tests/tests/`: the std client and the `jframe`
//! command against the simulated embassy device (`host-sim`), clean and with
//! faults on the virtual wire. Helpers shared by them are here, and the
//! `host-sim` launcher is also embassy-demo's (its `tests/host_sim.rs`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A workspace binary (`jframe`, `host-sim`), built by `cargo test --workspace`
/// next to the test executables; built here if this crate is tested alone.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps layout");
    let path = profile_dir.join(name);
    if !path.exists() {
        let (package, bin) = match name {
            "jframe" => ("jframe-std", "jframe"),
            "host-sim" => ("jframe-embassy-demo", "host-sim"),
            other => panic!("unknown workspace binary {other}"),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", package, "--bin", bin]);
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p {package} --bin {bin} failed"
        );
    }
    assert!(
        path.exists(),
        "{} not found after building it",
        path.display()
    );
    path
}

/// The `host-sim` binary under test: `HOST_SIM_UNDER_TEST` may name another
/// build (an older one, to see a test fail before its fix).
pub fn host_sim_bin() -> PathBuf {
    match std::env::var_os("HOST_SIM_UNDER_TEST") {
        Some(path) => PathBuf::from(path),
        None => workspace_bin("host-sim"),
    }
}

/// A running `host-sim`, killed on drop: the one launcher of the workspace's
/// tests (this package's and embassy-demo's `tests/host_sim.rs`).
#[derive(Debug)]
pub struct HostSim {
    child: Child,
    /// The forwarded loopback address.
    pub addr: SocketAddr,
    /// Its stdout after the line that says where it listens, line by line
    /// (a reader thread keeps the pipe drained).
    stdout: Receiver<String>,
}

impl HostSim {
    /// Starts host-sim on an ephemeral loopback port with extra flags.
    pub fn start(flags: &[&str]) -> HostSim {
        HostSim::forwarding("127.0.0.1:0", flags)
    }

    /// Starts host-sim with `--forward forward` and extra flags, and waits
    /// (at most 20 s) for the line that says where it listens
    /// (`host-sim: listening on ADDR, forwarded to ...`).
    pub fn forwarding(forward: &str, flags: &[&str]) -> HostSim {
        let mut child = Command::new(host_sim_bin())
            .args(["--forward", forward])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start host-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = lines.recv_timeout(left) else {
                let _ = child.kill();
                panic!("host-sim did not say where it listens within 20 s (or exited)");
            };
            if let Some(rest) = line.strip_prefix("host-sim: listening on ") {
                let addr = rest.split(',').next().unwrap_or_default();
                break addr.parse().expect("a listening address");
            }
        };
        HostSim {
            child,
            addr,
            stdout: lines,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`INT`, `TERM`), waits (at most 20 s) for the exit,
    /// and returns what host-sim printed since it started listening.
    pub fn stop(mut self, signal: &str) -> (String, ExitStatus) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal}");
        let start = Instant::now();
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "host-sim still runs 20 s after SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread ends at the pipe's end, so this ends too.
        let printed: Vec<String> = self.stdout.iter().collect();
        (printed.join("\n"), exit)
    }
}

impl Drop for HostSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Retries `f` until it succeeds or `limit` passes (the forwarder accepts
/// before the device does, as QEMU's hostfwd would).
pub fn retry<T, E: std::fmt::Debug>(limit: Duration, mut f: impl FnMut() -> Result<T, E>) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if start.elapsed() > limit => panic!("still failing after {limit:?}: {e:?}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
