//! `jframe serve --metrics` children and their scrapes (tests/ops.rs,
//! tests/haproxy.rs).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::ServerProc;

/// A `jframe serve` child with its metrics endpoint; killed on drop.
pub struct Backend {
    pub server: ServerProc,
    pub tcp: SocketAddr,
    pub metrics: SocketAddr,
    args: Vec<String>,
}

impl Backend {
    /// Starts `jframe serve --metrics 127.0.0.1:0 ARGS` (on an ephemeral
    /// port unless `ARGS` say `--listen`).
    pub fn start(args: &[&str]) -> Backend {
        let all: Vec<&str> = ["--metrics", "127.0.0.1:0"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        let server = ServerProc::start(&all);
        Backend {
            tcp: server.tcp,
            metrics: server.metrics.expect("metrics address"),
            server,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn scrape(&self) -> Metrics {
        scrape(self.metrics)
    }

    /// SIGTERM, then the exit within `limit`.
    pub fn stop(&mut self, limit: Duration) -> std::process::ExitStatus {
        self.server.terminate();
        self.server.wait_exit(limit)
    }

    /// A new process with the same arguments (the same address).
    pub fn restart(&mut self, drain: Duration) {
        let status = self.stop(drain + Duration::from_secs(5));
        assert!(status.success(), "drained backend exited with {status}");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        *self = Backend::start(&args);
    }
}

/// One scrape: `series value` lines.
pub struct Metrics(pub String);

impl Metrics {
    /// The value of exactly this series (`name{labels}`), if present.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.0.lines().find_map(|l| {
            let (s, v) = l.rsplit_once(' ')?;
            (s == series).then(|| v.parse().ok()).flatten()
        })
    }

    pub fn value(&self, series: &str) -> f64 {
        self.get(series)
            .unwrap_or_else(|| panic!("no series {series} in:\n{}", self.0))
    }
}

pub fn scrape(addr: SocketAddr) -> Metrics {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect metrics");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read metrics");
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Metrics(body.to_string())
}

/// Polls `cond` every 100 ms until it holds, at most `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < until, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
