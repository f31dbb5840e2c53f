//! Cross-crate tests live in `tests/tests/`: the std client and the `jframe`
//! command against the simulated embassy device (`host-sim`), clean and with
//! faults on the virtual wire. Helpers shared by them are here.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

/// A running `host-sim`, killed on drop.
#[derive(Debug)]
pub struct HostSim {
    child: Child,
    /// The forwarded loopback address.
    pub addr: String,
}

impl HostSim {
    /// Starts host-sim on an ephemeral loopback port with extra flags and
    /// waits (at most 20 s) for the line that says where it listens.
    pub fn start(flags: &[&str]) -> HostSim {
        let mut child = Command::new(workspace_bin("host-sim"))
            .args(["--forward", "127.0.0.1:0"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start host-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("host-sim: listening on ") {
                    let addr = rest.split(',').next().unwrap_or_default().to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("host-sim did not say where it listens within 20 s");
        HostSim { child, addr }
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
