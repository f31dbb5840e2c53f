//! The real thing: HAProxy (`deploy/haproxy.cfg`, TCP mode, PROXY v2,
//! health checks) in front of two `jframe serve` processes, one per TCP
//! driver: the conformance table through it, both backends serving,
//! `--max-conns-per-client` counting the real client, and a rolling restart
//! under `jframe load --reconnect` with no failed request. Skipped, loudly,
//! without `haproxy`.
//!
//! Everything binds 127.0.0.0/8. Every wait is bounded.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

fn haproxy() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file());
    if found.is_none() {
        // Not a pass in disguise: say so loudly.
        eprintln!(
            "SKIPPED: haproxy is not installed (Debian: apt-get install haproxy; \
             .ci/run installs it when run as root)"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// HAProxy on `deploy/haproxy.cfg`, with its addresses replaced; killed on
/// drop.
struct Haproxy {
    child: Child,
    front: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    fn start(bin: &Path, front: u16, a: u16, b: u16) -> Haproxy {
        let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy.cfg");
        let text = std::fs::read_to_string(&cfg).expect("deploy/haproxy.cfg");
        for addr in ["127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"] {
            assert!(
                text.contains(addr),
                "deploy/haproxy.cfg no longer uses {addr}"
            );
        }
        let text = text
            .replace("127.0.0.1:9000", &format!("127.0.0.1:{front}"))
            .replace("127.0.0.1:9001", &format!("127.0.0.1:{a}"))
            .replace("127.0.0.1:9002", &format!("127.0.0.1:{b}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, text).unwrap();
        let log = std::fs::File::create(dir.path().join("haproxy.log")).unwrap();
        let check = Command::new(bin)
            .args(["-c", "-q", "-f"])
            .arg(&path)
            .status()
            .expect("run haproxy -c");
        assert!(check.success(), "haproxy rejects deploy/haproxy.cfg");
        let child = Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn haproxy");
        let front: SocketAddr = format!("127.0.0.1:{front}").parse().unwrap();
        wait_for("haproxy listening", Duration::from_secs(20), || {
            TcpStream::connect(front).is_ok()
        });
        Haproxy {
            child,
            front,
            _dir: dir,
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests a backend answered with `op` and status ok.
fn served(b: &Backend, op: &str) -> f64 {
    b.scrape()
        .get(&format!(
            r#"jframe_requests_total{{op="{op}",status="ok"}}"#
        ))
        .unwrap_or(0.0)
}

#[test]
fn behind_haproxy_with_proxy_v2_and_a_rolling_restart() {
    let Some(bin) = haproxy() else { return };
    let (front, pa, pb) = (free_port(), free_port(), free_port());
    let drain = Duration::from_secs(5);
    let backend = |port: u16, engine: &str| {
        Backend::start(&[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--driver",
            engine,
            "--proxy-protocol",
            "--trusted-proxy",
            "127.0.0.1/32",
            "--max-conns-per-client",
            "8",
            "--drain-timeout",
            "5s",
        ])
    };
    let mut a = backend(pa, "tokio");
    let mut b = backend(pb, "threads");
    let lb = Haproxy::start(&bin, front, pa, pb);
    // Health checks (a PROXY v2 header, then an echo) reach both.
    wait_for("health checks on both", Duration::from_secs(20), || {
        served(&a, "echo") > 0.0 && served(&b, "echo") > 0.0
    });

    // The conformance table, through HAProxy.
    let opts = jframe_std::conform::Options {
        jobs: 2,
        ..Default::default()
    };
    let outcomes = jframe_std::conform::run_tcp(lb.front, &opts);
    assert_all_pass("through HAProxy", &outcomes, false);
    // Both backends served some of it.
    assert!(
        served(&a, "upper") > 0.0,
        "the tokio backend served no upper"
    );
    assert!(
        served(&b, "upper") > 0.0,
        "the threads backend served no upper"
    );

    // --max-conns-per-client counts the real client: 17 connections from
    // 127.0.0.2 over two backends allowing 8 each cannot all be served,
    // while 127.0.0.3 (the same HAProxy, 127.0.0.1, in between) still is.
    let mut held = Vec::new();
    let mut busy = 0;
    for _ in 0..17 {
        let mut s = connect_from("127.0.0.2", lb.front);
        match echo_status(&mut s, b"hi").as_str() {
            "ok" => held.push(s),
            "busy" => busy += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        busy >= 1 && held.len() <= 16,
        "{} served, {busy} busy",
        held.len()
    );
    let mut other = connect_from("127.0.0.3", lb.front);
    assert_eq!(
        echo_status(&mut other, b"hi"),
        "ok",
        "another client was refused"
    );
    let per_client = |m: &Backend| {
        m.scrape()
            .value(r#"jframe_refusals_total{reason="per_client"}"#)
    };
    assert_eq!(per_client(&a) + per_client(&b), busy as f64);
    drop((held, other));

    // A rolling restart under load: each backend in turn gets SIGTERM,
    // drains, exits, and comes back on the same address.
    let front = lb.front.to_string();
    let mut load = jframe_command(&["load", &front, "--reconnect"])
        .args(["-c", "4", "-p", "4", "--duration", "25s", "-s", "256"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn jframe load");
    let (ua, ub) = (served(&a, "upper"), served(&b, "upper"));
    wait_for("load on both backends", Duration::from_secs(20), || {
        served(&a, "upper") > ua && served(&b, "upper") > ub
    });
    for (name, backend) in [("tokio", &mut a), ("threads", &mut b)] {
        backend.restart(drain);
        // Up again in HAProxy's eyes: its health checks are answered (the
        // load's connections moved to the other backend and stay there
        // until that one restarts in turn).
        wait_for(
            &format!("health checks on the restarted {name} backend"),
            Duration::from_secs(20),
            || served(backend, "echo") > 0.0,
        );
    }
    assert!(
        load.try_wait().unwrap().is_none(),
        "jframe load finished before both restarts did: the machine is too slow for a 25 s run"
    );
    let mut out = String::new();
    load.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = load.wait().unwrap();
    let last = out.lines().last().unwrap_or("");
    let field = |name: &str| -> u64 {
        last.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {last:?}"))
    };
    eprintln!("rolling restart: {last}");
    assert_eq!(field("errors"), 0, "{out}");
    assert!(field("reconnects") > 0, "no reconnect reported: {last}");
    assert!(field("requests") > 0, "{last}");
    assert!(status.success(), "{out}");
}
