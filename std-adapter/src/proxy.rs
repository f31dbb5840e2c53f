//! A frame-aware TCP proxy, the library side of `jframe proxy LISTEN
//! UPSTREAM`: `socat -v` that understands frames.
//!
//! Every accepted connection is forwarded to the upstream address, and
//! every frame in either direction is reported: direction, connection,
//! header JSON, body size and a preview, and (for a reply) the time since
//! the request it answers (replies are paired with requests in order, as
//! SPEC's TCP transport promises). A bad frame (prefix out of range,
//! header that is not a jframe header) is reported as what it is and the
//! rest of that direction is forwarded byte for byte as raw data.
//!
//! Frames are tracked with core's streaming `Decoder` (one header parse per
//! frame, the head's length from core), never by reading prefixes here.
//!
//! Without fault options the bytes are not changed, nor held: each read is
//! forwarded as soon as it has been looked at. With `drop` / `corrupt` /
//! `delay` ([`Faults`], seeded, applied per frame), a frame's prefix and
//! header are held until the header is complete, so each fault applies to
//! whole frames.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use jframe::{Decoder, Event, PREFIX_LEN};

use crate::MAX_HEADER;
use crate::client::identify;

/// Per-frame faults, decided by a PRNG seeded from [`Faults::seed`], the
/// connection number and the direction: the same seed gives the same
/// faults for the same traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Percentage of frames not forwarded at all.
    pub drop_pct: f64,
    /// Percentage of frames forwarded with one bit flipped (anywhere in
    /// the frame: prefix, header or body).
    pub corrupt_pct: f64,
    /// Every frame is forwarded this long after its first byte arrived.
    pub delay: Duration,
    /// The PRNG seed.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            drop_pct: 0.0,
            corrupt_pct: 0.0,
            delay: Duration::ZERO,
            seed: 1,
        }
    }
}

impl Faults {
    /// True when some fault can happen.
    pub fn any(&self) -> bool {
        self.drop_pct > 0.0 || self.corrupt_pct > 0.0 || !self.delay.is_zero()
    }
}

/// What the proxy does.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where connections are forwarded (each address is tried in turn).
    pub upstream: Vec<SocketAddr>,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Faults to inject.
    pub faults: Faults,
    /// Bytes of each body shown in the preview.
    pub preview: usize,
    /// Connecting upstream gives up after this long.
    pub connect_timeout: Duration,
    /// A connection on which neither side sends for this long is closed
    /// (one side may stay quiet for as long as the other moves).
    pub idle_timeout: Duration,
    /// Most connections at once; more are closed on accept.
    pub max_conns: usize,
}

impl ProxyConfig {
    /// Defaults: text output, no faults, 32-byte previews, 5 s connect
    /// timeout, 300 s idle timeout, 256 connections.
    pub fn new(upstream: Vec<SocketAddr>) -> Self {
        ProxyConfig {
            upstream,
            json: false,
            faults: Faults::default(),
            preview: 32,
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
            max_conns: 256,
        }
    }
}

/// Where reports go: one line each, written whole.
pub type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// A bound proxy; [`Proxy::run`] serves until [`Proxy::stop_flag`] is set.
#[derive(Debug)]
pub struct Proxy {
    listener: TcpListener,
    cfg: Arc<ProxyConfig>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Binds `listen`.
    pub fn bind(listen: SocketAddr, cfg: ProxyConfig) -> io::Result<Proxy> {
        // SO_REUSEADDR, so a restarted proxy binds despite TIME_WAIT.
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(listen),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.bind(&listen.into())?;
        socket.listen(1024)?;
        let listener: TcpListener = socket.into();
        Ok(Proxy {
            listener,
            cfg: Arc::new(cfg),
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Set it to make [`Self::run`] return (checked at least every 100 ms).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Accepts and forwards connections, reporting frames to `out`.
    pub fn run(self, out: Sink) -> io::Result<()> {
        self.listener.set_nonblocking(true)?;
        let next_id = AtomicU64::new(1);
        let open = Arc::new(AtomicUsize::new(0));
        let mut backoff = Duration::from_millis(5);
        while !self.stop.load(Ordering::Relaxed) {
            let (client, peer) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => {
                    log::warn!("proxy: accept failed: {e}");
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            backoff = Duration::from_millis(5);
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            if open.load(Ordering::Relaxed) >= self.cfg.max_conns {
                log::warn!("proxy: conn {id} from {peer} closed: --max-conns reached");
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            let (cfg, out, open2) = (self.cfg.clone(), out.clone(), open.clone());
            let spawned = thread::Builder::new()
                .name(format!("proxy-{id}"))
                .spawn(move || {
                    connection(id, client, peer, &cfg, &out);
                    open2.fetch_sub(1, Ordering::Relaxed);
                });
            if let Err(e) = spawned {
                open.fetch_sub(1, Ordering::Relaxed);
                log::warn!("proxy: conn {id}: cannot start a thread: {e}");
            }
        }
        Ok(())
    }
}

fn emit(out: &Sink, line: &str) {
    if let Ok(mut w) = out.lock() {
        let _ = w.write_all(line.as_bytes());
        let _ = w.write_all(b"\n");
        let _ = w.flush();
    }
}

fn connection(id: u64, client: TcpStream, peer: SocketAddr, cfg: &ProxyConfig, out: &Sink) {
    let started = Instant::now();
    let _ = client.set_nonblocking(false);
    let mut upstream = None;
    let mut last_err = None;
    for a in &cfg.upstream {
        match TcpStream::connect_timeout(a, cfg.connect_timeout) {
            Ok(s) => {
                upstream = Some(s);
                break;
            }
            Err(e) => last_err = Some(format!("{a}: {e}")),
        }
    }
    let Some(server) = upstream else {
        let why = last_err.unwrap_or_else(|| "no upstream address".into());
        if cfg.json {
            let line = serde_json::json!({"conn": id, "event": "upstream_failed", "error": why});
            emit(out, &line.to_string());
        } else {
            emit(
                out,
                &format!("[conn {id}] {peer}: cannot connect upstream: {why}"),
            );
        }
        return;
    };
    if !cfg.json {
        let up = server
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        emit(out, &format!("[conn {id}] open {peer} -> {up}"));
    }
    for s in [&client, &server] {
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(cfg.idle_timeout));
        let _ = s.set_write_timeout(Some(cfg.idle_timeout));
    }
    let pending: Pending = Arc::new(Mutex::new(VecDeque::new()));
    let activity = Activity::new(started);
    let pumps = [
        (Dir::ToServer, &client, &server),
        (Dir::ToClient, &server, &client),
    ];
    let totals: Vec<u64> = thread::scope(|scope| {
        let handles: Vec<_> = pumps
            .into_iter()
            .map(|(dir, from, to)| {
                let pending = pending.clone();
                let activity = &activity;
                scope.spawn(move || {
                    let mut pump = Pump::new(id, dir, cfg, out, pending, started);
                    pump.run(from, to, activity)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    if !cfg.json {
        emit(
            out,
            &format!(
                "[conn {id}] closed after {:.3}s: {} bytes to the server, {} back",
                started.elapsed().as_secs_f64(),
                totals.first().copied().unwrap_or(0),
                totals.get(1).copied().unwrap_or(0)
            ),
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

impl Dir {
    fn arrow(self) -> &'static str {
        match self {
            Dir::ToServer => "->",
            Dir::ToClient => "<-",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dir::ToServer => "c2s",
            Dir::ToClient => "s2c",
        }
    }
}

/// splitmix64: small, seedable, good enough for fault dice.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `pct` percent.
    fn chance(&mut self, pct: f64) -> bool {
        pct > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) * 100.0 < pct
    }
}

/// When either direction of a connection last received bytes: the
/// connection is idle only when neither has for the idle time.
#[derive(Debug)]
struct Activity {
    started: Instant,
    /// Milliseconds since `started` of the last read that returned data.
    last_ms: AtomicU64,
}

impl Activity {
    fn new(started: Instant) -> Self {
        Activity {
            started,
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long neither side has sent anything.
    fn quiet_for(&self) -> Duration {
        let last = self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        last.elapsed()
    }
}

/// What a frame's fault dice said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Drop,
    /// Flip a bit of the byte at this offset from the frame's start.
    Corrupt(u64),
}

/// Requests not yet answered, in order: when the proxy saw each end.
type Pending = Arc<Mutex<VecDeque<Instant>>>;

/// One direction of one connection: reads, reports, forwards.
struct Pump<'a> {
    conn: u64,
    dir: Dir,
    cfg: &'a ProxyConfig,
    out: &'a Sink,
    pending: Pending,
    started: Instant,
    rng: Rng,
    /// Core's decoder, streaming every body: it finds each frame's head
    /// and parses its header once.
    decoder: Decoder<Vec<u8>>,
    /// After a bad frame the rest of this direction is raw bytes.
    raw: bool,
    /// Bytes of the current frame received before its head was complete
    /// (prefix and header, held until the frame's faults are known).
    head: Vec<u8>,
    /// Body bytes of the current frame still to come, once its head is in.
    body_left: Option<u64>,
    /// The current frame is marked `"welcome": true`.
    welcome: bool,
    /// Frames seen in this direction.
    count: u64,
    /// The current frame.
    frame_start: Instant,
    frame_pos: u64,
    data_size: u64,
    preview: Vec<u8>,
    note: Option<String>,
    fault: Fault,
    corrupt_pick: u64,
    /// The time of the request this reply answers.
    request_at: Option<Instant>,
    /// Bytes ready to forward.
    outbuf: Vec<u8>,
    /// When the last read returned.
    read_at: Instant,
    forwarded: u64,
}

impl<'a> Pump<'a> {
    fn new(
        conn: u64,
        dir: Dir,
        cfg: &'a ProxyConfig,
        out: &'a Sink,
        pending: Pending,
        started: Instant,
    ) -> Self {
        let seed = cfg.faults.seed
            ^ conn.wrapping_mul(0xA076_1D64_78BD_642F)
            ^ if dir == Dir::ToServer {
                0
            } else {
                0xE703_7ED1_A0B4_28DB
            };
        Pump {
            conn,
            dir,
            cfg,
            out,
            pending,
            started,
            rng: Rng(seed),
            // Bodies are never held (`max_body` 0): each is passed through.
            decoder: Decoder::new(vec![0u8; MAX_HEADER as usize])
                .with_max_header(MAX_HEADER)
                .with_max_body(0)
                .streaming(true),
            raw: false,
            head: Vec::with_capacity(64),
            body_left: None,
            welcome: false,
            count: 0,
            frame_start: started,
            frame_pos: 0,
            data_size: 0,
            preview: Vec::new(),
            note: None,
            fault: Fault::None,
            corrupt_pick: 0,
            request_at: None,
            outbuf: Vec::with_capacity(16 * 1024),
            read_at: started,
            forwarded: 0,
        }
    }

    /// Forwards until `from` ends or either side fails; returns the bytes
    /// forwarded.
    fn run(&mut self, mut from: &TcpStream, mut to: &TcpStream, activity: &Activity) -> u64 {
        let mut buf = vec![0u8; 16 * 1024];
        let idle = self.cfg.idle_timeout;
        // Whether the read timeout was cut to what is left of the idle time.
        let mut shortened = false;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => {
                    self.eof();
                    let _ = to.shutdown(Shutdown::Write);
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) && activity.quiet_for() < idle =>
                {
                    // This side is quiet but the other has moved: wait
                    // for what is left of the idle time since then.
                    let left = idle.saturating_sub(activity.quiet_for());
                    let _ = from.set_read_timeout(Some(left.max(Duration::from_millis(1))));
                    shortened = true;
                    continue;
                }
                Err(e) => {
                    log::debug!("proxy: conn {} {}: {e}", self.conn, self.dir.name());
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                    break;
                }
            };
            activity.touch();
            if shortened {
                let _ = from.set_read_timeout(Some(idle));
                shortened = false;
            }
            self.read_at = Instant::now();
            let chunk = buf.get(..n).unwrap_or_default();
            if self.cfg.faults.any() {
                self.feed(chunk, to);
            } else {
                // Transparent: look, then forward the read exactly as it came.
                self.feed(chunk, &mut io::sink());
                if let Err(e) = to.write_all(chunk) {
                    log::debug!("proxy: conn {} {}: {e}", self.conn, self.dir.name());
                    let _ = from.shutdown(Shutdown::Both);
                    break;
                }
                self.forwarded += n as u64;
            }
            if self.flush(to).is_err() {
                let _ = from.shutdown(Shutdown::Both);
                break;
            }
        }
        self.forwarded
    }

    fn flush(&mut self, mut to: impl Write) -> io::Result<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let r = to.write_all(&self.outbuf);
        self.forwarded += self.outbuf.len() as u64;
        self.outbuf.clear();
        r
    }

    /// Bytes of the current frame go out here (subject to its fault).
    fn pass(&mut self, bytes: &[u8]) {
        if !self.cfg.faults.any() {
            // Transparent mode forwards each read as it came.
            self.frame_pos += bytes.len() as u64;
            return;
        }
        match self.fault {
            Fault::Drop => {}
            Fault::None => self.outbuf.extend_from_slice(bytes),
            Fault::Corrupt(at) => {
                let from = self.outbuf.len();
                self.outbuf.extend_from_slice(bytes);
                let pos = self.frame_pos;
                if at >= pos && at < pos + bytes.len() as u64 {
                    let i = from + (at - pos) as usize;
                    let bit = 1u8 << (self.corrupt_pick % 8);
                    if let Some(b) = self.outbuf.get_mut(i) {
                        *b ^= bit;
                    }
                }
            }
        }
        self.frame_pos += bytes.len() as u64;
    }

    /// Looks at `input`; with faults, queues what to forward in `outbuf`
    /// (written to `to` when a delay must be waited out first).
    fn feed(&mut self, mut input: &[u8], mut to: impl Write) {
        while !input.is_empty() {
            if self.raw {
                self.raw_report(input);
                if self.cfg.faults.any() {
                    self.outbuf.extend_from_slice(input);
                }
                return;
            }
            if let Some(left) = self.body_left {
                // The decoder streams (or skips) this body; it is fed no
                // further than the frame's end.
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                let (now, rest) = input.split_at(take);
                input = rest;
                let _ = self.decoder.feed(now);
                self.body(now);
                continue;
            }
            if self.head.is_empty() {
                self.begin_frame(&mut to);
            }
            let (used, event) = self.decoder.feed(input);
            // The frame's head, once core has parsed it: its length
            // (prefix + header), body size, welcome mark, and what is wrong
            // with a well-formed header whose body is skipped.
            let head_of = |json: &[u8]| PREFIX_LEN + json.len();
            let found = match event {
                Ok(Event::NeedMore | Event::BodyChunk { .. }) => None,
                Ok(Event::Frame(f)) => {
                    Some(Ok((head_of(f.header_json), 0, f.header.welcome, None)))
                }
                Ok(Event::Head(h)) => Some(Ok((
                    head_of(h.header_json),
                    h.data_size,
                    h.header.welcome,
                    None,
                ))),
                Err(
                    e @ jframe::DecodeError::Request {
                        data_size, head, ..
                    },
                ) => Some(Ok((
                    head,
                    data_size,
                    false,
                    Some(format!("{}: {e}", e.status())),
                ))),
                Err(e) => Some(Err(e)),
            };
            // A fatal error may consume nothing: the frame's bytes at hand
            // all belong to the bad frame (what follows is raw anyway).
            let used = if matches!(found, Some(Err(_))) {
                input.len()
            } else {
                used.min(input.len())
            };
            let (now, rest) = input.split_at(used);
            input = rest;
            self.head.extend_from_slice(now);
            match found {
                None => {}
                Some(Ok((head_len, data_size, welcome, note))) => {
                    self.welcome = welcome;
                    self.note = note;
                    self.header_done(head_len, data_size);
                }
                Some(Err(e)) => {
                    let what = identify(&self.head)
                        .map(|w| format!(" (the bytes look like {w})"))
                        .unwrap_or_default();
                    let why = match e {
                        jframe::DecodeError::Header(h) => {
                            format!("bad header ({}): {h}{what}", e.status())
                        }
                        jframe::DecodeError::HeaderTooShort { .. }
                        | jframe::DecodeError::HeaderTooLong { .. } => {
                            format!("bad prefix: {e}{what}")
                        }
                        other => format!("bad header ({}): {other}{what}", e.status()),
                    };
                    let head = self.head.clone();
                    self.bad(why, &head);
                }
            }
        }
    }

    /// Body bytes of the current frame.
    fn body(&mut self, now: &[u8]) {
        let room = self.cfg.preview.saturating_sub(self.preview.len());
        self.preview
            .extend_from_slice(now.get(..room.min(now.len())).unwrap_or_default());
        self.pass(now);
        let left = self.body_left.unwrap_or(0).saturating_sub(now.len() as u64);
        self.body_left = Some(left);
        if left == 0 {
            self.frame_done();
        }
    }

    /// A frame's first byte: roll its faults, wait out its delay.
    fn begin_frame(&mut self, to: &mut impl Write) {
        self.frame_start = Instant::now();
        self.frame_pos = 0;
        self.preview.clear();
        self.note = None;
        self.data_size = 0;
        let f = self.cfg.faults;
        self.fault = if self.rng.chance(f.drop_pct) {
            Fault::Drop
        } else if self.rng.chance(f.corrupt_pct) {
            // The offset is fixed once the frame's length is known.
            Fault::Corrupt(u64::MAX)
        } else {
            Fault::None
        };
        self.corrupt_pick = self.rng.next();
        if !f.delay.is_zero() {
            // What is queued so far belongs to earlier frames.
            let _ = self.flush(&mut *to);
            let _ = to.flush();
            // Released `delay` after it arrived: frames that arrived
            // together leave together, as on a wire with latency.
            let release = self.read_at + f.delay;
            let now = Instant::now();
            if release > now {
                thread::sleep(release - now);
            }
        }
    }

    /// The frame's head (`head_len` bytes, held in `self.head`) is in:
    /// fix its faults, pass it on, expect `data_size` body bytes.
    fn header_done(&mut self, head_len: usize, data_size: u64) {
        self.data_size = data_size;
        if self.fault == Fault::Corrupt(u64::MAX) {
            let total = (head_len as u64).saturating_add(data_size);
            self.fault = Fault::Corrupt(self.corrupt_pick % total.max(1));
        }
        let head = std::mem::take(&mut self.head);
        self.pass(&head);
        self.head = head;
        self.request_at = None;
        self.body_left = Some(data_size);
        if data_size == 0 {
            self.frame_done();
        }
    }

    /// A frame that makes the rest of the stream unreadable as frames.
    fn bad(&mut self, why: String, seen: &[u8]) {
        self.count += 1;
        let t = self.started.elapsed().as_secs_f64() * 1000.0;
        let shown = preview_text(seen, 64);
        if self.cfg.json {
            let line = serde_json::json!({
                "conn": self.conn, "dir": self.dir.name(), "n": self.count,
                "t_ms": round3(t), "error": why, "bytes": shown, "fault": fault_name(self.fault),
            });
            emit(self.out, &line.to_string());
        } else {
            emit(
                self.out,
                &format!(
                    "[conn {}] {} #{} BAD FRAME: {why}: {shown:?}; the rest of this direction is forwarded as raw bytes",
                    self.conn,
                    self.dir.arrow(),
                    self.count
                ),
            );
        }
        // What is held of this frame goes out as it came (or per its fault).
        let head = std::mem::take(&mut self.head);
        self.pass(&head);
        self.raw = true;
        self.fault = Fault::None;
    }

    fn raw_report(&mut self, bytes: &[u8]) {
        let t = self.started.elapsed().as_secs_f64() * 1000.0;
        let shown = preview_text(bytes, self.cfg.preview);
        if self.cfg.json {
            let line = serde_json::json!({
                "conn": self.conn, "dir": self.dir.name(), "t_ms": round3(t),
                "raw_size": bytes.len(), "preview": shown,
            });
            emit(self.out, &line.to_string());
        } else {
            emit(
                self.out,
                &format!(
                    "[conn {}] {} raw {} B {shown:?}",
                    self.conn,
                    self.dir.arrow(),
                    bytes.len()
                ),
            );
        }
    }

    fn frame_done(&mut self) {
        self.count += 1;
        let now = Instant::now();
        let t = self.frame_start.duration_since(self.started).as_secs_f64() * 1000.0;
        if let Ok(mut q) = self.pending.lock() {
            if self.dir == Dir::ToServer {
                if q.len() >= 100_000 {
                    q.pop_front();
                }
                q.push_back(now);
            } else if !self.welcome {
                // A welcome (marked, SPEC) answers no request.
                self.request_at = q.pop_front();
            }
        }
        let json_bytes = self.head.get(PREFIX_LEN..).unwrap_or_default();
        let header_text = String::from_utf8_lossy(json_bytes);
        let since = self
            .request_at
            .map(|r| self.frame_start.saturating_duration_since(r).as_secs_f64() * 1000.0);
        let shown = preview_text(&self.preview, self.cfg.preview);
        let fault = fault_name(self.fault);
        if self.cfg.json {
            let header: serde_json::Value =
                serde_json::from_slice(json_bytes).unwrap_or(serde_json::Value::Null);
            use serde_json::Value;
            let since = match (self.dir, since) {
                (Dir::ToClient, Some(ms)) => Value::from(round3(ms)),
                _ => Value::Null,
            };
            let line = json_line(&[
                ("conn", self.conn.into()),
                ("dir", self.dir.name().into()),
                ("n", self.count.into()),
                ("t_ms", round3(t).into()),
                ("header", header),
                ("body_size", self.data_size.into()),
                ("preview", shown.into()),
                ("since_request_ms", since),
                ("error", self.note.clone().map_or(Value::Null, Value::from)),
                ("fault", fault.map_or(Value::Null, Value::from)),
            ]);
            emit(self.out, &line);
        } else {
            let timing = match (self.dir, since) {
                (Dir::ToServer, _) => format!("at +{t:.3}ms"),
                (Dir::ToClient, Some(ms)) => format!("{ms:.3}ms after the request"),
                (Dir::ToClient, None) if self.welcome => "unsolicited: the welcome".to_string(),
                (Dir::ToClient, None) => "unsolicited (no request pending)".to_string(),
            };
            let note = self
                .note
                .as_ref()
                .map(|n| format!(" [{n}]"))
                .unwrap_or_default();
            let fault = fault.map(|f| format!(" [fault: {f}]")).unwrap_or_default();
            emit(
                self.out,
                &format!(
                    "[conn {}] {} #{} {header_text} {} B {shown:?} {timing}{note}{fault}",
                    self.conn,
                    self.dir.arrow(),
                    self.count,
                    self.data_size
                ),
            );
        }
        self.head.clear();
        self.body_left = None;
        self.welcome = false;
        self.fault = Fault::None;
    }

    fn eof(&mut self) {
        if !self.raw && !self.decoder.is_idle() {
            let held = std::mem::take(&mut self.head);
            let why = "closed in the middle of a frame".to_string();
            if self.cfg.json {
                let line = serde_json::json!({
                    "conn": self.conn, "dir": self.dir.name(), "error": why,
                    "bytes": preview_text(&held, 64),
                });
                emit(self.out, &line.to_string());
            } else {
                emit(
                    self.out,
                    &format!("[conn {}] {} {why}", self.conn, self.dir.arrow()),
                );
            }
            // Held prefix/header bytes still go out.
            self.pass(&held);
        }
    }
}

fn fault_name(f: Fault) -> Option<String> {
    match f {
        Fault::None => None,
        Fault::Drop => Some("drop".into()),
        Fault::Corrupt(at) => Some(format!("corrupt byte {at}")),
    }
}

/// A JSON object on one line with its keys in the order given (a
/// `serde_json::Value` object would sort them); `Null` values are left out.
pub fn json_line(fields: &[(&str, serde_json::Value)]) -> String {
    let mut s = String::from("{");
    for (k, v) in fields.iter().filter(|(_, v)| !v.is_null()) {
        if s.len() > 1 {
            s.push(',');
        }
        s.push_str(&serde_json::Value::from(*k).to_string());
        s.push(':');
        s.push_str(&v.to_string());
    }
    s.push('}');
    s
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// At most `max` bytes as text: UTF-8 kept, other bytes as `\xHH`.
pub fn preview_text(bytes: &[u8], max: usize) -> String {
    let cut = bytes.get(..max.min(bytes.len())).unwrap_or_default();
    let mut s = String::new();
    for chunk in cut.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}
