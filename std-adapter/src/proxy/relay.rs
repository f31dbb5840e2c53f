//! One direction of one connection: read, have `track` find the frames,
//! let their bytes out as `faults` say, have `report` describe them.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::faults::FrameFaults;
use super::report::{Report, ReportOut};
use super::track::{Pending, Seen, Track};
use super::{Activity, Dir, ProxyConfig};

/// One direction of one connection: reads, has its frames tracked and
/// reported, forwards them as their faults say.
pub(super) struct Relay<'a> {
    conn: u64,
    dir: Dir,
    cfg: &'a ProxyConfig,
    out: &'a ReportOut,
    track: Track,
    faults: FrameFaults,
    /// Bytes ready to forward (with faults; without, each read is
    /// forwarded as it came).
    outbuf: Vec<u8>,
    /// When the last read returned.
    read_at: Instant,
    forwarded: u64,
}

impl<'a> Relay<'a> {
    pub(super) fn new(
        conn: u64,
        dir: Dir,
        cfg: &'a ProxyConfig,
        out: &'a ReportOut,
        pending: Pending,
        started: Instant,
    ) -> Self {
        Relay {
            conn,
            dir,
            cfg,
            out,
            track: Track::new(dir, started, pending, cfg.preview),
            faults: FrameFaults::new(&cfg.faults, conn, dir),
            // Grows only when faults queue bytes: a transparent relay
            // writes straight from its read buffer.
            outbuf: Vec::new(),
            read_at: started,
            forwarded: 0,
        }
    }

    fn report(&self, r: &Report<'_>) {
        r.emit(self.out, self.cfg.json);
    }
    /// Forwards until `from` ends or either side fails; returns the bytes
    /// forwarded.
    pub(super) fn run(
        &mut self,
        mut from: &TcpStream,
        mut to: &TcpStream,
        activity: &Activity,
    ) -> u64 {
        let mut buf = vec![0u8; 16 * 1024];
        let idle = self.cfg.idle_timeout;
        // Whether the read timeout was cut to what is left of the idle time.
        let mut shortened = false;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => {
                    self.eof(to);
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
        let queue = self.cfg.faults.any();
        self.faults.pass(bytes, &mut self.outbuf, queue);
    }

    /// Looks at `input`; with faults, queues what to forward in `outbuf`
    /// (written to `to` when a delay must be waited out first).
    fn feed(&mut self, mut input: &[u8], mut to: impl Write) {
        while !input.is_empty() {
            if self.track.between_frames() {
                self.begin_frame(&mut to);
            }
            match self.track.next(&mut input) {
                Seen::Raw(bytes) => {
                    self.report(&Report::Raw {
                        conn: self.conn,
                        dir: self.dir,
                        t_ms: self.track.now_ms(),
                        bytes,
                        preview: self.cfg.preview,
                    });
                    if self.cfg.faults.any() {
                        self.outbuf.extend_from_slice(bytes);
                    }
                }
                Seen::HeadPart => {}
                Seen::Head { len, data_size } => {
                    // The head is held until now: its faults are known.
                    self.faults.frame_len(len, data_size);
                    let head = std::mem::take(&mut self.track.head);
                    self.pass(&head);
                    self.track.head = head;
                    if self.track.body_done() {
                        self.frame_done();
                    }
                }
                Seen::Body(bytes) => {
                    self.pass(bytes);
                    if self.track.body_done() {
                        self.frame_done();
                    }
                }
                Seen::Bad(why) => {
                    self.report(&Report::Bad {
                        conn: self.conn,
                        dir: self.dir,
                        n: self.track.count,
                        t_ms: self.track.now_ms(),
                        why: &why,
                        seen: &self.track.head,
                        fault: self.faults.name(),
                    });
                    // What is held of this frame goes out as it came (or
                    // per its fault).
                    let head = std::mem::take(&mut self.track.head);
                    self.pass(&head);
                    self.faults.clear();
                }
            }
        }
    }

    /// A frame's first byte: roll its faults, wait out its delay.
    fn begin_frame(&mut self, to: &mut impl Write) {
        self.track.begin();
        let plan = self.cfg.faults;
        self.faults.roll(&plan);
        if !plan.delay.is_zero() {
            // What is queued so far belongs to earlier frames.
            let _ = self.flush(&mut *to);
            let _ = to.flush();
            // Released `delay` after it arrived: frames that arrived
            // together leave together, as on a wire with latency.
            let release = self.read_at + plan.delay;
            let now = Instant::now();
            if release > now {
                thread::sleep(release - now);
            }
        }
    }

    fn frame_done(&mut self) {
        let frame = self.track.frame(self.conn, self.faults.name());
        Report::Frame(frame).emit(self.out, self.cfg.json);
        self.track.end_frame();
        self.faults.clear();
    }

    /// The direction ended: report a frame cut short, and pass on what is
    /// held of it before the end is passed on.
    fn eof(&mut self, to: impl Write) {
        if let Some(held) = self.track.cut_short() {
            self.report(&Report::CutShort {
                conn: self.conn,
                dir: self.dir,
                held: &held,
            });
            // A head not yet complete is still held (with faults; without,
            // it went out as it came and this only counts it). Mid-body,
            // the head and the body so far have gone out already.
            if !self.track.head_passed() {
                self.pass(&held);
            }
        }
        // With faults, what is queued goes out before the end: the server
        // must see the cut-short frame as its fault lets it out (whole, or
        // not at all when the fault drops it).
        let _ = self.flush(to);
    }
}
