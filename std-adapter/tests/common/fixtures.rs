//! In-process servers, the `get` fixture, memory readings and the
//! conformance table's verdict.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A library server serving in a thread of this process: where it
/// listens, and what stops it; shut down (bounded) on drop.
pub struct InProcess {
    pub tcp: SocketAddr,
    pub udp: Option<SocketAddr>,
    pub handle: jframe_std::server::ShutdownHandle,
    done: std::sync::mpsc::Receiver<std::io::Result<()>>,
}

impl InProcess {
    /// Runs `server` in a thread of its own.
    pub fn start<S: jframe::service::Service + 'static>(
        server: jframe_std::server::Server<S>,
    ) -> InProcess {
        let tcp = server.local_addr().unwrap();
        let udp = server.udp_addr();
        let handle = server.shutdown_handle().unwrap();
        let (tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(server.run());
        });
        InProcess {
            tcp,
            udp,
            handle,
            done,
        }
    }

    /// Shuts down and waits for `run` to return, at most `limit`.
    pub fn stop(&self, limit: Duration) -> std::io::Result<()> {
        self.handle.shutdown();
        self.done
            .recv_timeout(limit)
            .expect("server stopped within the limit")
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.handle.shutdown();
        let _ = self.done.recv_timeout(Duration::from_secs(20));
    }
}

/// [`InProcess`] with `config` on 127.0.0.1 (the threads driver, no UDP).
pub fn spawn_server(config: jframe_std::server::Config) -> InProcess {
    let any = "127.0.0.1:0".parse().unwrap();
    InProcess::start(jframe_std::server::Server::bind(any, None, config).unwrap())
}

/// A memory field (`VmRSS:`, `VmHWM:`) of `/proc/PID/status` (`pid`:
/// a number or `self`), in bytes.
pub fn proc_status_bytes(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

/// What `get` must answer for one name: the body, or the refusal's status.
pub type GetExpect = (String, Result<&'static [u8], jframe::Status>);

/// The `get` fixture: a root with files, a subdirectory, a FIFO and
/// symlinks that stay inside or lead out, beside a secret outside it
/// (returned: the temporary base, the root, and what `get` must answer for
/// each name, for the server and for `Root::prepare` alike).
pub fn get_fixture() -> (tempfile::TempDir, PathBuf, Vec<GetExpect>) {
    use jframe::Status::{Forbidden, NotFound};
    use std::os::unix::fs::symlink;
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("ok.txt"), b"fine").unwrap();
    std::fs::write(root.join("sub/inner.txt"), b"inner").unwrap();
    let secret = base.path().join("secret.txt");
    std::fs::write(&secret, b"secret").unwrap();
    symlink(&secret, root.join("out_link")).unwrap();
    symlink(root.join("ok.txt"), root.join("in_link")).unwrap();
    symlink("../secret.txt", root.join("rel_out")).unwrap();
    symlink("sub/../ok.txt", root.join("rel_in")).unwrap();
    symlink(root.join("sub"), root.join("abs_dir")).unwrap();
    symlink("nowhere", root.join("dangling")).unwrap();
    let mkfifo = Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .unwrap();
    assert!(mkfifo.success(), "mkfifo failed");
    let served: [(&str, &'static [u8]); 5] = [
        ("ok.txt", b"fine"),
        ("./ok.txt", b"fine"),
        ("sub/inner.txt", b"inner"),
        ("in_link", b"fine"),
        ("rel_in", b"fine"),
    ];
    let refused = [
        (secret.to_str().unwrap(), Forbidden),
        ("/etc/passwd", Forbidden),
        ("../secret.txt", Forbidden),
        ("sub/../../secret.txt", Forbidden),
        ("ok.txt\0.png", Forbidden),
        ("", Forbidden),
        ("sub", Forbidden),
        (".", Forbidden),
        ("fifo", Forbidden),
        ("out_link", Forbidden),
        ("rel_out", Forbidden),
        ("abs_dir", Forbidden),
        ("dangling", NotFound),
        ("ok.txt/", NotFound),
        ("%2e%2e/x", NotFound),
        ("sub/missing", NotFound),
        ("missing.txt", NotFound),
    ];
    let expect = served
        .into_iter()
        .map(|(name, body)| (name.to_string(), Ok(body)))
        .chain(refused.map(|(name, status)| (name.to_string(), Err(status))))
        .collect();
    (base, root, expect)
}

/// Every case of the conformance table passes: strictly (`strict`: the
/// server's replies also follow what SPEC asks of senders), or at least
/// does what SPEC requires.
pub fn assert_all_pass(what: &str, outcomes: &[jframe_std::conform::Outcome], strict: bool) {
    if let Err(failed) = jframe_std::conform::report::all_pass(outcomes, strict) {
        panic!("{what}: {failed}");
    }
}
