//! Conformance: one table of cases, every expectation taken from SPEC.md,
//! and the runners that play it against a server over TCP and UDP (the
//! library side of `jframe conform`, in the manner of h2spec and Autobahn).
//!
//! # Two groups, two ways to run them
//!
//! Each case belongs to a [`Group`]:
//!
//! - [`Group::Framing`]: the prefix, the header, fatal and recoverable
//!   errors, replies that are never answered, pipelining, an unknown op
//!   answered `bad_request`, and the buffer-boundary cases. Any server that
//!   speaks SPEC's frames must pass them, whatever its services.
//! - [`Group::Demo`]: SPEC's demo services (upper, echo, greet, get) and the
//!   cases that only they can express (greet's `exit`, echo bodies of chosen
//!   sizes).
//!
//! [`cases`] is the whole table for a server of the demo services. Where a
//! framing case needs a request that succeeds, it asks for `echo` (or the
//! default op, `upper`, for SPEC's test vectors) and checks the reply body.
//! [`framing_cases`] is the framing group for a server with its own
//! services: the user names one op of theirs that answers `ok` (an
//! [`OkRequest`]), and every request that must succeed, the probe included,
//! asks for it instead. Its reply body is not known, so those replies are
//! checked for status `ok` and framing only.
//!
//! # Verdicts
//!
//! Every case ends in a [`Verdict`]: [`Verdict::Pass`];
//! [`Verdict::NonStrict`] when the server does what the case requires but
//! its replies depart from what SPEC asks of senders (a reply without
//! `status`, which readers take as `ok`; a header that is not compact JSON
//! with `data_size` first), as the seeds' Python servers write them; or
//! [`Verdict::Fail`], with a concrete reason. Each case has a stable id (its
//! name) and names the SPEC sections its expectation comes from.
//!
//! # How a case runs
//!
//! Each TCP case opens its own connection, writes its request bytes (in one
//! write, or in chunks), reads the replies it expects, in order, and then
//! checks what SPEC says happens next:
//!
//! - [`Afterwards::Open`]: the connection still serves. The runner proves
//!   it by appending the case's [`Probe`] to the request and expecting its
//!   reply last.
//! - [`Afterwards::Closed`]: the server closes: after the expected replies,
//!   a read gives EOF or a reset within the timeout, and no further frame
//!   arrives. Fatal cases put a body and a probe after the bad header, so a
//!   server that wrongly goes on answers something and fails with a
//!   concrete reason.
//! - [`Afterwards::Stop`]: nothing is checked after the replies (the client
//!   ends the case, e.g. after `too_large` for a body it never sends).
//!
//! A UDP case sends one datagram and expects one reply datagram, or none
//! ([`Exchange::Udp`] with `reply: None`): nothing may arrive within
//! [`Options::no_reply_wait`], and the probe sent afterwards must be the
//! next thing answered.
//!
//! Replies are parsed here, by a small reader independent of the `jframe`
//! codec's framing loop, so that the tester does not share the bugs of what
//! it tests. [`report`] writes the results as text, JSON lines or JUnit XML.

mod cases;
mod check;
pub mod report;
mod tcp;
mod udp;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub use cases::{
    MAX_OK_BODY, MAX_OK_OP, OkRequest, cases, frame, framing_cases, probe, udp_max_payload,
};

/// What one reply must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The reply header's `status`.
    pub status: &'static str,
    /// The exact body; `None`: any body (error replies, and replies to a
    /// user's own op).
    pub body: Option<Vec<u8>>,
}

impl Expect {
    /// `status: ok` with exactly this body.
    pub fn ok(body: &[u8]) -> Expect {
        Expect {
            status: "ok",
            body: Some(body.to_vec()),
        }
    }

    /// `status: ok`, any body (the reply to a user's own op).
    pub fn any_ok() -> Expect {
        Expect::status("ok")
    }

    /// This status, any body (error replies carry a free-form message).
    pub fn status(status: &'static str) -> Expect {
        Expect { status, body: None }
    }
}

/// How a TCP case's request bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// One `write_all`.
    Whole,
    /// Writes of at most this many bytes each (with `TCP_NODELAY`).
    Chunks(usize),
}

/// What must happen on a TCP connection after the expected replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Afterwards {
    /// It still serves: the case's [`Probe`] is appended and its reply
    /// expected last.
    Open,
    /// The server closes (EOF or reset) and sends nothing more.
    Closed,
    /// Nothing is checked: the client ends the case.
    Stop,
}

/// The bytes a case exchanges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// A fresh TCP connection.
    Tcp {
        /// Everything the client writes (before the probe of [`Afterwards::Open`]).
        request: Vec<u8>,
        /// In one write or in chunks.
        writes: Writes,
        /// The replies, in order.
        replies: Vec<Expect>,
        /// What happens next.
        end: Afterwards,
    },
    /// One request datagram.
    Udp {
        /// The datagram.
        datagram: Vec<u8>,
        /// The reply datagram; `None`: no reply at all (then the probe is
        /// sent and must be answered).
        reply: Option<Expect>,
    },
    /// One request datagram with this `op` and a body of `x`s, exactly as
    /// large as a UDP datagram can be on the server's address family
    /// (65,507 bytes over IPv4, 65,527 over IPv6), built by the runner.
    UdpFull {
        /// The request's `op`.
        op: &'static str,
        /// The reply datagram.
        reply: Expect,
    },
}

impl Exchange {
    /// True for the UDP exchanges.
    pub fn is_udp(&self) -> bool {
        !matches!(self, Exchange::Tcp { .. })
    }
}

/// The request that proves a connection (or a UDP service) still serves,
/// and its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// One frame.
    pub request: Vec<u8>,
    /// Its reply.
    pub reply: Expect,
}

/// Which part of SPEC a case checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// Frames, errors and recovery, pipelining: every server.
    Framing,
    /// SPEC's demo services (upper, echo, greet, get).
    Demo,
}

impl Group {
    /// `framing` or `demo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Framing => "framing",
            Group::Demo => "demo",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One conformance case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The stable id: `tcp/...` or `udp/...`, unique.
    pub name: String,
    /// Framing or demo services.
    pub group: Group,
    /// The SPEC rule the expectation comes from: `Section[ / Section]: rule`.
    pub why: &'static str,
    /// The bytes and the expectations.
    pub exchange: Exchange,
    /// What proves the connection (or service) still serves.
    pub probe: Probe,
}

impl Case {
    /// The SPEC sections (`## ` headings) the expectation comes from.
    pub fn spec(&self) -> Vec<&'static str> {
        spec_sections(self.why)
    }
}

/// The sections named before the first `": "` of a `why`, split on `" / "`.
fn spec_sections(why: &'static str) -> Vec<&'static str> {
    let head = why.split_once(": ").map_or(why, |(h, _)| h);
    head.split(" / ").map(str::trim).collect()
}

/// How to run the cases.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest wait for a connection, each reply, and the close.
    pub timeout: Duration,
    /// The server sends a welcome frame on connect: skip one leading frame.
    pub welcome: bool,
    /// Run only the cases whose name contains this.
    pub only: Option<String>,
    /// How long a UDP case that expects no reply listens before its probe.
    pub no_reply_wait: Duration,
    /// Cases run at once (each TCP case holds one connection).
    pub jobs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(3),
            welcome: false,
            only: None,
            no_reply_wait: Duration::from_millis(300),
            jobs: 1,
        }
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Everything as SPEC says.
    Pass,
    /// It works, but the replies depart from what SPEC asks of senders.
    NonStrict,
    /// It does not do what SPEC requires.
    Fail,
}

impl Verdict {
    /// `pass`, `non-strict` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NonStrict => "non-strict",
            Verdict::Fail => "fail",
        }
    }

    /// Whether this verdict fails a run: a failure always, a non-strict
    /// pass in a `strict` run (as h2spec's strict mode).
    pub fn fails(self, strict: bool) -> bool {
        match self {
            Verdict::Pass => false,
            Verdict::NonStrict => strict,
            Verdict::Fail => true,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SPEC rule a non-strict reply departs from.
pub const WHY_SENDERS: &str =
    "The frame: senders write compact JSON with data_size first, and a reply carries status";

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The case's id.
    pub name: String,
    /// The case's group.
    pub group: Group,
    /// The case's SPEC rule.
    pub why: &'static str,
    /// `Err`: the case failed, for this concrete reason.
    pub result: Result<(), String>,
    /// How the replies depart from what SPEC asks of senders (each once,
    /// with an example); empty when strict. Only meaningful if `result` is
    /// `Ok`.
    pub departures: Vec<String>,
}

impl Outcome {
    /// Pass, non-strict or fail.
    pub fn verdict(&self) -> Verdict {
        match (&self.result, self.departures.is_empty()) {
            (Err(_), _) => Verdict::Fail,
            (Ok(()), true) => Verdict::Pass,
            (Ok(()), false) => Verdict::NonStrict,
        }
    }

    /// The SPEC sections the case's expectation comes from.
    pub fn spec(&self) -> Vec<&'static str> {
        spec_sections(self.why)
    }

    /// `tcp` or `udp`.
    pub fn transport(&self) -> &str {
        self.name.split('/').next().unwrap_or("")
    }
}

impl fmt::Display for Outcome {
    /// `ok         <id>`,
    /// `non-strict <id>: <departures> [SPEC <rule>]`, or
    /// `FAIL       <id>: <reason> [SPEC: <why>]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.result, self.verdict()) {
            (Err(reason), _) => {
                write!(f, "FAIL       {}: {reason} [SPEC: {}]", self.name, self.why)
            }
            (Ok(()), Verdict::NonStrict) => write!(
                f,
                "non-strict {}: {} [SPEC: {WHY_SENDERS}]",
                self.name,
                self.departures.join("; ")
            ),
            (Ok(()), _) => write!(f, "ok         {}", self.name),
        }
    }
}

/// Runs every TCP case of [`cases`] (matching [`Options::only`]) against
/// `addr`.
///
/// ```
/// use jframe_std::conform::{self, Options, Verdict};
/// use jframe_std::server::{Config, Server};
///
/// let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle()?;
/// let running = std::thread::spawn(move || server.run());
///
/// let opts = Options { jobs: 4, ..Options::default() };
/// let outcomes = conform::run_tcp(addr, &opts);
/// assert!(outcomes.iter().all(|o| o.verdict() == Verdict::Pass));
///
/// stop.shutdown();
/// running.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_tcp(addr: SocketAddr, opts: &Options) -> Vec<Outcome> {
    run(&cases(), Some(addr), None, opts, &|_| {})
}

/// Runs every UDP case of [`cases`] (matching [`Options::only`]) against
/// `addr`.
pub fn run_udp(addr: SocketAddr, opts: &Options) -> Vec<Outcome> {
    run(&cases(), None, Some(addr), opts, &|_| {})
}

/// The cases of `cases` that [`run`] would play: those matching
/// [`Options::only`], TCP ones only with a `tcp` address, UDP ones only
/// with a `udp` address.
pub fn select<'a>(cases: &'a [Case], tcp: bool, udp: bool, opts: &Options) -> Vec<&'a Case> {
    cases
        .iter()
        .filter(|c| opts.only.as_deref().is_none_or(|s| c.name.contains(s)))
        .filter(|c| if c.exchange.is_udp() { udp } else { tcp })
        .collect()
}

/// Runs `cases` (those [`select`] keeps), `opts.jobs` at a time. `done`
/// sees each outcome in table order, as soon as it and every one before it
/// are known. Returns the outcomes in table order.
pub fn run(
    cases: &[Case],
    tcp: Option<SocketAddr>,
    udp: Option<SocketAddr>,
    opts: &Options,
    done: &(dyn Fn(&Outcome) + Sync),
) -> Vec<Outcome> {
    let selected = select(cases, tcp.is_some(), udp.is_some(), opts);
    // The outcomes so far, and how many of them `done` has seen.
    let results: Mutex<(Vec<Option<Outcome>>, usize)> = Mutex::new((vec![None; selected.len()], 0));
    let next = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(case) = selected.get(i) else { break };
            let result = match (&case.exchange, tcp, udp) {
                (Exchange::Tcp { .. }, Some(addr), _) => tcp::run_case(case, addr, opts),
                (_, _, Some(addr)) => udp::run_case(case, addr, opts),
                _ => Err("no address for this transport".into()),
            };
            let (result, departures) = match result {
                Ok(d) => (Ok(()), d.into_vec()),
                Err(e) => (Err(e), Vec::new()),
            };
            let outcome = Outcome {
                name: case.name.clone(),
                group: case.group,
                why: case.why,
                result,
                departures,
            };
            let mut guard = results.lock().unwrap_or_else(|e| e.into_inner());
            let (all, reported) = &mut *guard;
            all[i] = Some(outcome);
            while let Some(Some(o)) = all.get(*reported) {
                done(o);
                *reported += 1;
            }
        }
    };
    let jobs = opts.jobs.clamp(1, selected.len().max(1));
    std::thread::scope(|s| {
        for _ in 1..jobs {
            s.spawn(worker);
        }
        worker();
    });
    let (all, _) = results.into_inner().unwrap_or_else(|e| e.into_inner());
    all.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_lines() {
        let mut o = Outcome {
            name: "tcp/vector/python-dialect".into(),
            group: Group::Framing,
            why: "Test vectors: this frame means `hi`",
            result: Ok(()),
            departures: vec![],
        };
        assert_eq!(o.verdict(), Verdict::Pass);
        assert_eq!(o.to_string(), "ok         tcp/vector/python-dialect");
        assert_eq!(o.spec(), ["Test vectors"]);
        assert_eq!(o.transport(), "tcp");
        o.departures.push("no status".into());
        assert_eq!(o.verdict(), Verdict::NonStrict);
        assert!(o.to_string().starts_with(
            "non-strict tcp/vector/python-dialect: no status [SPEC: The frame: senders"
        ));
        o.result = Err("EOF".into());
        assert_eq!(o.verdict(), Verdict::Fail);
        assert!(
            o.to_string()
                .starts_with("FAIL       tcp/vector/python-dialect: EOF [SPEC: Test")
        );
        assert_eq!(
            spec_sections("The frame / Errors and recovery: x: y"),
            ["The frame", "Errors and recovery"]
        );
    }
}
