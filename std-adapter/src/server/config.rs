//! The server's settings, the session settings they give, and the `busy`
//! refusal for a connection over a limit.

use std::time::Duration;

use jframe::service::{self, Limits, Refusal, Timeouts};

use super::proxy_header;
use crate::files::Root;

/// Server settings.
///
/// ```
/// use std::time::Duration;
/// use jframe_std::server::Config;
///
/// let config = Config {
///     max_conns: 100,
///     idle_timeout: Duration::from_secs(30),
///     ..Config::default()
/// };
/// assert_eq!(config.timeouts().idle_ms, 30_000);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory `get` serves; `None`: every `get` is `forbidden`.
    pub root: Option<Root>,
    /// Sent as a frame on every new TCP connection (seed 001's `Welcome!`).
    pub welcome: Option<String>,
    /// Most simultaneous TCP connections (see [`super::max_conns_for_fd_limit`]).
    pub max_conns: usize,
    /// Most simultaneous TCP connections from one client address.
    pub max_conns_per_client: usize,
    /// Largest request body accepted.
    pub max_body: u64,
    /// Bytes that bodies held whole (Unicode `upper`) and their replies may
    /// take at once, server-wide: past it `busy`, and `too_large` for a
    /// request that alone needs more (see [`crate::services::StdServices`]).
    pub body_budget: u64,
    /// From a frame's first byte to the end of its header.
    pub header_timeout: Duration,
    /// Longest wait for the next frame.
    pub idle_timeout: Duration,
    /// A body must keep arriving at this many bytes per second on average,
    /// after a first `header_timeout` of grace, or the connection is closed
    /// (so a trickling peer cannot hold a slot for ever).
    pub body_min_rate: u64,
    /// Longest a single socket write may block.
    pub write_timeout: Duration,
    /// How long shutdown waits for in-flight frames.
    pub grace: Duration,
    /// Every TCP connection must begin with a PROXY protocol header (v1 or
    /// v2, see [`proxy_header`]) from a peer in [`Self::trusted_proxies`];
    /// the client it names is the connection's address from then on.
    /// Connections from elsewhere, or without a valid header, are closed.
    pub proxy_protocol: bool,
    /// Who may send a PROXY header (with `proxy_protocol`; empty: nobody).
    pub trusted_proxies: Vec<proxy_header::Cidr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: None,
            welcome: None,
            max_conns: 1024,
            max_conns_per_client: 256,
            max_body: 16 << 20,
            body_budget: crate::budget::DEFAULT_BODY_BUDGET,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            body_min_rate: 1024,
            write_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(10),
            proxy_protocol: false,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Config {
    /// The session deadlines these settings give (a body's grace is the
    /// header timeout).
    pub fn timeouts(&self) -> Timeouts {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timeouts {
            idle_ms: ms(self.idle_timeout),
            header_ms: ms(self.header_timeout),
            body_grace_ms: ms(self.header_timeout),
            body_min_rate: u32::try_from(self.body_min_rate).unwrap_or(u32::MAX),
            write_ms: ms(self.write_timeout),
        }
    }

    /// The header and body limits, for sessions and datagrams alike.
    pub(super) fn limits(&self) -> Limits {
        Limits {
            max_header: crate::MAX_HEADER,
            max_body: self.max_body,
        }
    }

    /// A session's settings: these limits and deadlines, and the welcome.
    pub(super) fn session(&self) -> service::Config<'_> {
        service::Config {
            limits: self.limits(),
            timeouts: self.timeouts(),
            welcome: self.welcome.as_deref().map(str::as_bytes),
        }
    }

    /// How long a `busy` reply may take to write: the write timeout, but
    /// at most a second (a refused peer gets no patience).
    pub(super) fn busy_write_ms(&self) -> u64 {
        self.timeouts().write_ms.min(1000)
    }

    /// The `busy` refusal for a connection over a limit.
    pub(super) fn busy(&self, why: Busy) -> Refusal {
        let mut r = Refusal::text(jframe::Status::Busy, "");
        match why {
            Busy::Server => r.push("server is at its limit of "),
            Busy::Client => r.push("this address is at its limit of "),
        };
        let limit = match why {
            Busy::Server => self.max_conns,
            Busy::Client => self.max_conns_per_client,
        };
        r.push_number(limit as u64).push(" connections");
        r
    }
}

/// Why a connection is answered `busy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Busy {
    /// The server holds `max_conns` connections.
    Server,
    /// This client address holds `max_conns_per_client`.
    Client,
}

impl From<Busy> for crate::metrics::RefusalReason {
    fn from(why: Busy) -> Self {
        match why {
            Busy::Server => crate::metrics::RefusalReason::Busy,
            Busy::Client => crate::metrics::RefusalReason::PerClient,
        }
    }
}
