//! TCP: the accept loop and one thread per connection.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use jframe::io::blocking::{read_body, read_frame, skip_body, write_all, write_frame, write_head};
use jframe::{Header, HeaderError, Op, ReadError, Received, Status, WriteError};

use super::{CONN_STACK, ConnEntry, Shared, Slot};
use crate::files::Prepared;
use crate::services::{self, BYE, Greeting};
use crate::stream::{self, FrameReader, FrameWriter, Phase, TimedStream, write_err};

/// Accepts until shutdown. Accept errors (out of file descriptors, say)
/// back off and retry; they never end the server.
pub(super) fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let (reject_tx, reject_rx) = sync_channel::<TcpStream>(64);
    let max_conns = shared.config.max_conns;
    let rejector = thread::Builder::new()
        .name("busy".into())
        .stack_size(CONN_STACK)
        .spawn(move || reject_loop(&reject_rx, max_conns));
    if let Err(e) = &rejector {
        log::warn!("no thread for busy replies ({e}); over-limit connections are just closed");
    }
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if shared.stopping() {
                    break;
                }
                log::warn!("accept failed: {e}; retrying in {backoff:?}");
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(5);
        if shared.stopping() {
            break;
        }
        admit(shared, stream, peer, &reject_tx);
    }
    drop(reject_tx);
    if let Ok(t) = rejector {
        let _ = t.join();
    }
}

/// Registers and starts a connection, or hands it to the busy replier.
fn admit(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    reject: &SyncSender<TcpStream>,
) {
    let mut reg = shared.registry();
    if reg.conns.len() >= shared.config.max_conns {
        drop(reg);
        log::debug!("{peer}: at the connection limit, replying busy");
        if let Err(TrySendError::Full(s) | TrySendError::Disconnected(s)) = reject.try_send(stream)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        return;
    }
    let entry = match stream.try_clone() {
        Ok(clone) => Arc::new(ConnEntry {
            stream: clone,
            idle: Arc::new(AtomicBool::new(false)),
        }),
        Err(e) => {
            log::warn!("{peer}: cannot register connection: {e}");
            return;
        }
    };
    let id = reg.next_id;
    reg.next_id += 1;
    reg.conns.insert(id, entry.clone());
    drop(reg);
    let slot = Slot {
        shared: shared.clone(),
        id,
    };
    let spawned = thread::Builder::new()
        .name("conn".into())
        .stack_size(CONN_STACK)
        .spawn(move || {
            let _slot = slot;
            log::debug!("{peer}: connected");
            match serve(&_slot.shared, stream, &entry.idle) {
                Ok(()) => log::debug!("{peer}: closed"),
                // A peer that resets or vanishes is routine.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::BrokenPipe
                            | io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::NotConnected
                    ) =>
                {
                    log::debug!("{peer}: closed: {e}");
                }
                Err(e) => log::info!("{peer}: closed: {e}"),
            }
        });
    if let Err(e) = spawned {
        // The closure (and with it the slot and the stream) was dropped.
        log::warn!("{peer}: cannot start a thread: {e}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Answers over-limit connections with `busy`, one at a time, reading
/// briefly what they sent so that closing does not reset the connection
/// before the reply is read.
fn reject_loop(rx: &Receiver<TcpStream>, max_conns: usize) {
    let header = Header::error_reply(
        Status::Busy,
        &format!("server is at its limit of {max_conns} connections"),
    );
    let mut frame = vec![0u8; crate::SCRATCH];
    let Ok(len) = jframe::encode_frame(&mut frame, &header, &[]) else {
        return;
    };
    for mut stream in rx {
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        if stream.write_all(&frame[..len]).is_err() {
            continue;
        }
        let _ = stream.shutdown(Shutdown::Write);
        let mut sink = [0u8; 4096];
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            match stream.read(&mut sink) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }
}

/// The per-connection state the reply helpers need.
struct Conn<'a> {
    shared: &'a Shared,
    writer: FrameWriter,
    scratch: [u8; crate::SCRATCH],
    /// Reused reply body (upper-cased text), so a reply allocates nothing.
    out: Vec<u8>,
    /// The encoded prefix + header of the last `ok` reply and its body
    /// length: consecutive replies of one size reuse the bytes
    /// `encode_head` produced instead of encoding the same JSON again.
    ok_head: Vec<u8>,
    ok_len: Option<usize>,
}

/// `out` keeps at most this much capacity between requests (a body
/// collected from a streamed request may be up to `--max-body`).
const OUT_KEEP: usize = 16 * 1024;

/// The last request header parsed, keyed by its JSON bytes. Pipelined
/// requests usually repeat one header, and `Header::parse` is a pure
/// function of those bytes, so equal bytes reuse the result instead of a
/// second JSON scan (the decoder has already scanned once, for `data_size`).
/// Only successful parses of short headers are kept; anything else is parsed.
struct HeaderMemo {
    json: Vec<u8>,
    header: Header,
    valid: bool,
}

/// Longest header JSON the memo keeps (a request header is ~30 bytes).
const MEMO_MAX: usize = 256;

impl HeaderMemo {
    fn new() -> Self {
        HeaderMemo {
            json: Vec::with_capacity(MEMO_MAX),
            header: Header::default(),
            valid: false,
        }
    }

    fn parse(&mut self, json: &[u8]) -> Result<&Header, HeaderError> {
        if !(self.valid && self.json == json) {
            self.valid = false;
            self.header = Header::parse(json)?;
            if json.len() <= MEMO_MAX {
                self.json.clear();
                self.json.extend_from_slice(json);
                self.valid = true;
            }
        }
        Ok(&self.header)
    }
}

/// What to do after a frame.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

impl Conn<'_> {
    /// An `ok` reply with `body`: the (memoised) head, then the body, both
    /// into the buffered writer.
    fn ok(&mut self, body: &[u8]) -> io::Result<()> {
        if self.ok_len != Some(body.len()) {
            let header = Header::reply(Status::Ok, body.len() as u64);
            let n = jframe::encode_head(&mut self.scratch, &header)
                .map_err(|e| write_err(WriteError::Encode(e)))?;
            self.ok_head.clear();
            self.ok_head
                .extend_from_slice(self.scratch.get(..n).unwrap_or_default());
            self.ok_len = Some(body.len());
        }
        write_all(&mut self.writer, &self.ok_head).map_err(write_err)?;
        write_all(&mut self.writer, body).map_err(write_err)
    }

    /// `upper`, upper-cased into the reused `out` buffer.
    fn upper(&mut self, body: &[u8]) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        services::upper_into(body, &mut out);
        let sent = self.ok(&out);
        if out.capacity() <= OUT_KEEP {
            self.out = out;
        }
        sent
    }

    fn error(&mut self, status: Status, message: &str) -> io::Result<()> {
        let header = Header::error_reply(status, message);
        write_frame(&mut self.writer, &mut self.scratch, &header, &[]).map_err(write_err)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.inner_mut().flush()
    }

    /// Answers a request whose whole body is at hand.
    fn answer(&mut self, header: &Header, body: &[u8]) -> io::Result<Next> {
        let op = match header.op() {
            Ok(op) => op,
            Err(name) => {
                let msg = format!("unknown op {name:?}");
                self.error(Status::BadRequest, &msg)?;
                return Ok(Next::Continue);
            }
        };
        match op {
            Op::Upper => self.upper(body)?,
            Op::Echo => self.ok(body)?,
            Op::Greet => match services::greet(body) {
                Greeting::Hello(text) => self.ok(&text)?,
                Greeting::Bye => {
                    self.ok(BYE)?;
                    return Ok(Next::Close);
                }
            },
            Op::Get => self.get(header)?,
            other => {
                let msg = format!("op {other} is not served here");
                self.error(Status::BadRequest, &msg)?;
            }
        }
        Ok(Next::Continue)
    }

    /// `get`: refusals are replies; a file that changes size while being
    /// sent aborts the connection (an error), since the announced size can
    /// no longer be honoured.
    fn get(&mut self, header: &Header) -> io::Result<()> {
        let Some(root) = &self.shared.config.root else {
            return self.error(
                Status::Forbidden,
                "get is disabled: the server has no --root",
            );
        };
        let Some(name) = header.name.as_deref() else {
            return self.error(Status::BadRequest, "get needs a name");
        };
        match root.prepare(name) {
            Err(refusal) => {
                log::info!("get {name:?}: {}", refusal.message);
                self.error(refusal.status, &refusal.message)
            }
            Ok(prepared) => {
                log::info!("get {name:?}: sending {} bytes", prepared.size);
                self.send_file(prepared)
            }
        }
    }

    fn send_file(&mut self, mut p: Prepared) -> io::Result<()> {
        let header = Header::reply(Status::Ok, p.size)
            .with_sha256(&p.sha256)
            .map_err(|e| io::Error::other(e.to_string()))?;
        write_head(&mut self.writer, &mut self.scratch, &header).map_err(write_err)?;
        let mut chunk = vec![0u8; 64 * 1024];
        let mut left = p.size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
            let n = match p.file.read(&mut chunk[..want]) {
                Ok(0) => return Err(io::Error::other("file shrank while being sent; aborting")),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            left -= n as u64;
            if left == 0 {
                // Hold the last chunk back until the size is confirmed, so a
                // file that grew or shrank never completes a reply.
                let grew = p.file.read(&mut [0u8; 1])? != 0;
                if grew || p.file.metadata()?.len() != p.size {
                    return Err(io::Error::other(
                        "file changed size while being sent; aborting",
                    ));
                }
            }
            write_all(&mut self.writer, &chunk[..n]).map_err(write_err)?;
        }
        Ok(())
    }
}

/// Serves one connection until the peer leaves, an error, or shutdown.
fn serve(shared: &Shared, stream: TcpStream, idle: &Arc<AtomicBool>) -> io::Result<()> {
    let cfg = &shared.config;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(cfg.write_timeout))?;
    let timed = TimedStream::new(stream, Some(cfg.idle_timeout), Some(cfg.header_timeout))
        .with_idle_flag(idle.clone());
    let (mut reader, writer) = stream::split(timed)?;
    let mut decoder = stream::decoder().with_max_body(cfg.max_body);
    let mut conn = Conn {
        shared,
        writer,
        scratch: [0u8; crate::SCRATCH],
        out: Vec::new(),
        ok_head: Vec::new(),
        ok_len: None,
    };
    let mut memo = HeaderMemo::new();
    if let Some(welcome) = &cfg.welcome {
        conn.ok(welcome.as_bytes())?;
    }
    loop {
        // Flush only when no further request is already buffered, so a
        // pipelined batch gets one write.
        if reader.inner().buffer().is_empty() {
            conn.flush()?;
            set_phase(&mut reader, Phase::Idle);
            if shared.stopping() {
                return Ok(());
            }
        } else {
            // The next frame's first bytes are already buffered: they came
            // with the last socket read, so its header deadline runs from
            // then (no clock read per pipelined frame).
            let started = reader.inner().get_ref().last_data();
            set_phase(&mut reader, Phase::Header(started + cfg.header_timeout));
        }
        let next = match read_frame(&mut reader, &mut decoder) {
            Ok(None) => return Ok(()),
            Ok(Some(Received::Frame(frame))) => {
                set_phase(&mut reader, Phase::Body);
                match memo.parse(frame.header_json) {
                    Ok(header) => conn.answer(header, frame.body)?,
                    Err(e) => {
                        conn.error(Status::BadRequest, &e.to_string())?;
                        Next::Continue
                    }
                }
            }
            Ok(Some(Received::Head(head))) => {
                set_phase(&mut reader, Phase::Body);
                let header = head.header();
                let data_size = head.data_size;
                streamed(&mut conn, &mut reader, &mut decoder, header, data_size)?
            }
            Err(ReadError::Decode(e)) if e.is_recoverable() => {
                set_phase(&mut reader, Phase::Body);
                conn.error(e.status(), &e.to_string())?;
                conn.flush()?;
                skip_body(&mut reader, &mut decoder).map_err(stream::read_err)?;
                Next::Continue
            }
            Err(ReadError::Decode(e)) => {
                // A bad prefix: nothing after it can be trusted.
                conn.error(Status::BadFrame, &e.to_string())?;
                conn.flush()?;
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
            }
            Err(e) => return Err(stream::read_err(e)),
        };
        if next == Next::Close {
            conn.flush()?;
            return Ok(());
        }
    }
}

fn set_phase(reader: &mut FrameReader, phase: Phase) {
    reader.inner_mut().get_mut().set_phase(phase);
}

/// A request whose body exceeds the decoder's buffer: refused and skipped
/// unbuffered when over the limit, echoed chunk by chunk, or collected
/// (growing as bytes arrive, never reserved from the declared size) for
/// services that need it whole.
fn streamed(
    conn: &mut Conn<'_>,
    reader: &mut FrameReader,
    decoder: &mut jframe::Decoder<Vec<u8>>,
    header: Result<Header, jframe::HeaderError>,
    data_size: u64,
) -> io::Result<Next> {
    let refuse = |conn: &mut Conn<'_>,
                  reader: &mut FrameReader,
                  decoder: &mut jframe::Decoder<Vec<u8>>,
                  status: Status,
                  msg: &str| {
        conn.error(status, msg)?;
        // The body may never come: let the peer see the refusal first.
        conn.flush()?;
        skip_body(reader, decoder).map_err(stream::read_err)?;
        Ok(Next::Continue)
    };
    let header = match header {
        Ok(h) => h,
        Err(e) => return refuse(conn, reader, decoder, Status::BadRequest, &e.to_string()),
    };
    let op = match header.op() {
        Ok(op) => op,
        Err(name) => {
            let msg = format!("unknown op {name:?}");
            return refuse(conn, reader, decoder, Status::BadRequest, &msg);
        }
    };
    let max = conn.shared.config.max_body;
    if data_size > max {
        let msg = format!("body of {data_size} bytes exceeds the limit of {max}");
        return refuse(conn, reader, decoder, Status::TooLarge, &msg);
    }
    // Replies to earlier pipelined requests go out before a long body read.
    conn.flush()?;
    let mut chunk = vec![0u8; 16 * 1024];
    match op {
        Op::Echo => {
            let h = Header::reply(Status::Ok, data_size);
            write_head(&mut conn.writer, &mut conn.scratch, &h).map_err(write_err)?;
            while let Some(data) =
                read_body(reader, decoder, &mut chunk).map_err(stream::read_err)?
            {
                write_all(&mut conn.writer, data).map_err(write_err)?;
            }
            Ok(Next::Continue)
        }
        Op::Get => {
            skip_body(reader, decoder).map_err(stream::read_err)?;
            conn.answer(&header, &[])
        }
        _ => {
            let mut body = Vec::new();
            while let Some(data) =
                read_body(reader, decoder, &mut chunk).map_err(stream::read_err)?
            {
                body.extend_from_slice(data);
            }
            conn.answer(&header, &body)
        }
    }
}
