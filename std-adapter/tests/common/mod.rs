//! Shared helpers: spawn the built `jframe` binary, raw frames, Python.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
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

/// A raw frame: prefix + header JSON + body, built by hand.
pub fn raw_frame(header_json: &str, body: &[u8]) -> Vec<u8> {
    let mut v = (header_json.len() as i32).to_le_bytes().to_vec();
    v.extend_from_slice(header_json.as_bytes());
    v.extend_from_slice(body);
    v
}

/// A connected stream with generous timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads one frame by hand: (header JSON as serde_json::Value-free string, body).
pub fn read_raw_frame(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)?;
    let len = i32::from_le_bytes(prefix);
    assert!((2..=4096).contains(&len), "server sent prefix {len}");
    let mut header = vec![0u8; len as usize];
    s.read_exact(&mut header)?;
    let header = String::from_utf8(header).expect("utf-8 header");
    let parsed = jframe::Header::parse(header.as_bytes()).expect("valid header");
    let mut body = vec![0u8; parsed.data_size as usize];
    s.read_exact(&mut body)?;
    Ok((header, body))
}

/// The `status` of a reply header.
pub fn status_of(header_json: &str) -> String {
    jframe::Header::parse(header_json.as_bytes())
        .expect("valid header")
        .status
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Reads one reply: (status, or "" when absent; body).
pub fn read_reply(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let (h, b) = read_raw_frame(s)?;
    Ok((status_of(&h), b))
}

/// Sends `frame` and returns the reply's (status, body).
pub fn roundtrip(s: &mut TcpStream, frame: &[u8]) -> (String, Vec<u8>) {
    s.write_all(frame).expect("write");
    read_reply(s).expect("reply")
}

/// True once the peer has closed (EOF or reset) within `limit`.
pub fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Writes a request (`header`, then `body`) and reads the reply's header,
/// leaving its body unread.
pub fn request_reply_head(
    s: &mut TcpStream,
    header: &jframe::Header,
    body: &[u8],
) -> jframe::Header {
    let mut head = vec![0u8; jframe_std::SCRATCH];
    let n = jframe::encode_head(&mut head, header).unwrap();
    s.write_all(&head[..n]).unwrap();
    s.write_all(body).unwrap();
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let mut json = vec![0u8; u32::from_le_bytes(prefix) as usize];
    s.read_exact(&mut json).unwrap();
    jframe::Header::parse(&json).unwrap()
}

/// The status a reply header carries, `?` when it has none.
pub fn status_or_unknown(reply: &jframe::Header) -> String {
    reply.status.as_deref().unwrap_or("?").to_string()
}

/// Writes a `get` of `name` and reads the reply's header, leaving its body
/// unread.
pub fn send_get(s: &mut TcpStream, name: &str) -> jframe::Header {
    let head = jframe::Header::request(jframe::Op::Get, 0)
        .with_name(name)
        .unwrap();
    request_reply_head(s, &head, &[])
}

/// Sends one streamed `upper` request and reads only the reply's header:
/// returns the connection and the reply's status. The reply's body is left
/// unread (it holds the server's memory until the connection goes).
pub fn send_upper(addr: SocketAddr, body: &[u8], timeout: Duration) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    let head = jframe::Header::request(jframe::Op::Upper, body.len() as u64);
    let reply = request_reply_head(&mut s, &head, body);
    (s, status_or_unknown(&reply))
}

/// A library server (the threads driver) serving on 127.0.0.1 in a thread
/// of this process: its address, what stops it, and the thread to join.
pub fn spawn_server(
    config: jframe_std::server::Config,
) -> (
    SocketAddr,
    jframe_std::server::ShutdownHandle,
    std::thread::JoinHandle<()>,
) {
    let any = "127.0.0.1:0".parse().unwrap();
    let server = jframe_std::server::Server::bind(any, None, config).unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.shutdown_handle().unwrap();
    let thread = std::thread::spawn(move || server.run().unwrap());
    (addr, handle, thread)
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

/// Frames whose errors are recoverable (docs/SPEC.md: the receiver knows
/// where they end), for a server with `--max-body 1024`: (what, the frame,
/// the status it gets). The connection goes on after each.
pub fn recoverable_frames() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "unknown op",
            raw_frame(r#"{"data_size": 2, "op": "shout"}"#, b"hi"),
            "bad_request",
        ),
        (
            "op of the wrong type",
            raw_frame(r#"{"data_size":2,"op":5}"#, b"hi"),
            "bad_request",
        ),
        (
            "name of the wrong type",
            raw_frame(r#"{"data_size":2,"op":"get","name":7}"#, b"hi"),
            "bad_request",
        ),
        (
            "too large",
            raw_frame(r#"{"data_size": 5000}"#, &[b'x'; 5000]),
            "too_large",
        ),
        (
            "too large, body in pieces",
            raw_frame(r#"{"data_size": 70000}"#, &[b'y'; 70000]),
            "too_large",
        ),
    ]
}

/// Frames whose end is in doubt (docs/SPEC.md: a bad prefix or a
/// malformed header): each gets `bad_frame`, then the connection closes.
pub fn fatal_frames() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("H = 1", 1i32.to_le_bytes().to_vec()),
        ("H = 0", 0i32.to_le_bytes().to_vec()),
        ("negative H", (-5i32).to_le_bytes().to_vec()),
        ("huge H", i32::MAX.to_le_bytes().to_vec()),
        ("bad JSON", raw_frame(r#"{"data_size": 2,"#, b"hi")),
        ("not JSON", raw_frame("nope", b"")),
        ("missing data_size", raw_frame(r#"{"op": "upper"}"#, b"")),
        (
            "duplicate key",
            raw_frame(r#"{"data_size":1,"data_size":1}"#, b"x"),
        ),
    ]
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
    use jframe_std::conform::Verdict;
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| match o.verdict() {
            Verdict::Pass => false,
            Verdict::NonStrict => strict,
            Verdict::Fail => true,
        })
        .map(|o| o.to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{what}: {} of {} cases failed:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    );
}

/// Trickles `byte` into `s`, one at a time with `pause` to notice a close
/// between them, until the server closes the connection (`true`) or
/// `since + limit` passes (`false`).
pub fn trickle_until_closed(
    s: &mut TcpStream,
    byte: u8,
    pause: Duration,
    since: Instant,
    limit: Duration,
) -> bool {
    while since.elapsed() < limit {
        if s.write_all(&[byte]).is_err() || closed_within(s, pause) {
            return true;
        }
    }
    false
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

/// A Python server script from tests/py, started with `args`, on the
/// 127.0.0.1 address it prints first ("listening on tcp HOST:PORT");
/// killed on drop.
pub struct PyServer {
    pub child: Child,
    pub addr: String,
}

impl PyServer {
    pub fn start(script: &str, args: &[&str]) -> PyServer {
        let mut child = Command::new(python3())
            .arg(py_script(script))
            .args(args)
            .stdout(Stdio::piped())
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
