//! The one-call engine (`service::engine`, blocking and async) over an
//! in-memory transport: SPEC "Services", "Welcome frames" and "Errors and
//! recovery" hold in any chunking and buffer size, with the built-in
//! services and with an extension's replies, collected bodies and refusals.

mod common;

use common::{block_on, frame};
use jframe::service::engine::{asynch, blocking};
use jframe::service::{
    Answer, Buffers, Clock, Config, Demo, End, Instant, Limits, Refusal, Request, Service, Source,
    SourceError, Storage,
};
use jframe::{Decoder, Event, Header, Status, encode_frame};

/// Reads from `input` in pieces of `chunk` bytes, records what is written.
struct Memory<'a> {
    input: &'a [u8],
    chunk: usize,
    output: Vec<u8>,
    /// Reads made so far.
    reads: usize,
    /// `stopping` answers `true` once this many reads were made.
    go: usize,
    /// Writes accept at most this many bytes each.
    write_chunk: usize,
}

impl<'a> Memory<'a> {
    fn new(input: &'a [u8], chunk: usize) -> Self {
        Memory {
            input,
            chunk,
            output: Vec::new(),
            reads: 0,
            go: usize::MAX,
            write_chunk: usize::MAX,
        }
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        assert!(!buf.is_empty(), "the engine read into an empty buffer");
        self.reads += 1;
        let n = self.input.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        n
    }

    fn write_from(&mut self, buf: &[u8]) -> usize {
        assert!(!buf.is_empty(), "the engine wrote nothing");
        let n = buf.len().min(self.write_chunk);
        self.output.extend_from_slice(&buf[..n]);
        n
    }
}

impl embedded_io::ErrorType for Memory<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Memory<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.read_into(buf))
    }
}

impl embedded_io::Write for Memory<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(self.write_from(buf))
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io_async::Read for Memory<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.read_into(buf))
    }
}

impl embedded_io_async::Write for Memory<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(self.write_from(buf))
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Clock for Memory<'_> {
    fn now(&mut self) -> Instant {
        Instant::from_millis(0)
    }

    fn stopping(&mut self) -> bool {
        self.reads >= self.go
    }
}

/// A reply frame, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    status: String,
    body: Vec<u8>,
    header: Header,
}

/// The whole reply frames in `wire`, and whether nothing follows them.
fn replies_until(wire: &[u8]) -> (Vec<Got>, bool) {
    let mut dec = Decoder::new(vec![0u8; 1 << 20]);
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let (used, ev) = dec.feed(rest);
        if let Event::Frame(f) = ev.unwrap() {
            out.push(Got {
                status: f.header.status.as_deref().unwrap_or("").to_string(),
                body: f.body.to_vec(),
                header: f.header.clone(),
            });
        }
        rest = &rest[used..];
    }
    (out, dec.is_idle())
}

fn pairs(got: &[Got]) -> Vec<(String, Vec<u8>)> {
    got.iter()
        .map(|g| (g.status.clone(), g.body.clone()))
        .collect()
}

/// What a session did.
struct Session {
    end: End<core::convert::Infallible>,
    got: Vec<Got>,
    raw: Vec<u8>,
}

/// Runs one session, blocking or async.
fn session<X: Service>(
    io: &mut Memory<'_>,
    sizes: (usize, usize, usize),
    extension: &mut X,
    config: &Config<'_>,
    asynchronous: bool,
) -> Session {
    let (mut rx, mut fr, mut tx) = (vec![0u8; sizes.0], vec![0u8; sizes.1], vec![0u8; sizes.2]);
    let buffers = Buffers {
        rx: &mut rx,
        frame: &mut fr,
        tx: &mut tx,
    };
    let end = if asynchronous {
        block_on(asynch::serve(io, buffers, extension, config))
    } else {
        blocking::serve(io, buffers, extension, config)
    };
    Session {
        end,
        got: {
            let (got, whole) = replies_until(&io.output);
            // Only a reply body that failed part-way is ever cut short.
            assert!(
                whole || matches!(end, End::Source(_)),
                "a reply frame was cut short: {end:?}"
            );
            got
        },
        raw: io.output.clone(),
    }
}

/// [`session`] with the demo services and the default configuration.
fn demo_session(io: &mut Memory<'_>, sizes: (usize, usize, usize), asynchronous: bool) -> Session {
    session(
        io,
        sizes,
        &mut Demo::new(),
        &Config::default(),
        asynchronous,
    )
}

fn run(
    input: &[u8],
    chunk: usize,
    sizes: (usize, usize, usize),
) -> (End<core::convert::Infallible>, Vec<(String, Vec<u8>)>) {
    let s = demo_session(&mut Memory::new(input, chunk), sizes, false);
    (s.end, pairs(&s.got))
}

#[test]
fn serves_a_session_in_any_chunking_and_buffer_sizes() {
    let big: Vec<u8> = (0..5000).map(|i| b'a' + (i % 26) as u8).collect();
    let input = [
        frame(r#"{"data_size": 2}"#, b"hi"),
        frame(r#"{"data_size":3,"op":"echo"}"#, b"abc"),
        frame(r#"{"data_size":7,"op":"greet"}"#, b"Michael"),
        frame(r#"{"data_size":2,"op":5}"#, b"zz"),
        frame(r#"{"data_size":0,"op":"dance"}"#, b""),
        frame(
            format!(r#"{{"data_size":{},"op":"upper"}}"#, big.len()),
            &big,
        ),
        frame(
            format!(r#"{{"data_size":{},"op":"greet"}}"#, big.len()),
            &big,
        ),
        frame(r#"{"data_size":4,"op":"greet"}"#, b"exit"),
        frame(r#"{"data_size":1}"#, b"!"),
    ]
    .concat();
    let upper = big.to_ascii_uppercase();
    let greeted = [&b"Hello, "[..], &big, b"!"].concat();
    let want: Vec<(String, Vec<u8>)> = vec![
        ("ok".into(), b"HI".to_vec()),
        ("ok".into(), b"abc".to_vec()),
        ("ok".into(), b"Hello, Michael!".to_vec()),
        ("bad_request".into(), vec![]),
        ("bad_request".into(), vec![]),
        ("ok".into(), upper.clone()),
        ("ok".into(), greeted.clone()),
        ("ok".into(), b"Bye!".to_vec()),
    ];
    for asynchronous in [false, true] {
        for chunk in [1, 3, 64, 100_000] {
            for sizes in [(64, 300, 300), (4096, 8192, 4096), (7, 260, 200)] {
                let mut io = Memory::new(&input, chunk);
                io.write_chunk = chunk;
                let s = session(
                    &mut io,
                    sizes,
                    &mut Demo::new(),
                    &Config::default(),
                    asynchronous,
                );
                assert_eq!(s.end, End::Bye, "{chunk} {sizes:?}");
                assert_eq!(
                    pairs(&s.got),
                    want,
                    "chunk {chunk}, buffers {sizes:?}, async {asynchronous}"
                );
            }
        }
    }
}

#[test]
fn fatal_headers_close_and_replies_are_not_answered() {
    let smuggled = frame(r#"{"data_size":0,"op":"get","name":"x"}"#, b"");
    let json = format!(
        r#"{{"op":"echo","op":"echo","data_size":{}}}"#,
        smuggled.len()
    );
    let input = [frame(&json, &smuggled), frame(r#"{"data_size":1}"#, b"!")].concat();
    let (end, got) = run(&input, 5, (64, 512, 512));
    assert!(matches!(end, End::BadFrame(_)), "{end:?}");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "bad_frame");

    let input = [
        frame(r#"{"data_size":2,"status":"ok"}"#, b"hi"),
        frame(r#"{"data_size":1}"#, b"!"),
    ]
    .concat();
    let (end, got) = run(&input, 100, (64, 512, 512));
    assert_eq!(end, End::ReplyReceived);
    assert!(got.is_empty());

    let mut wire = vec![0u8; 64];
    let n = encode_frame(&mut wire, &Header::new(1), b"x").unwrap();
    let (end, got) = run(&wire[..n - 1], 100, (64, 512, 512));
    assert_eq!((end, got.len()), (End::Truncated, 0));
}

/// An extension test double: `get` of a few names, Unicode `upper` by
/// collecting the body, a budget for collected bodies.
#[derive(Default)]
struct Files {
    collected: Vec<u8>,
    budget: usize,
    abandoned: usize,
    finished: usize,
}

/// A reply body pulled in pieces of at most `step` bytes, failing after
/// `fail_after` bytes if set.
struct Pieces {
    head: Header,
    data: Vec<u8>,
    at: usize,
    step: usize,
    fail_after: Option<usize>,
}

impl Source for Pieces {
    fn data_size(&self) -> u64 {
        self.head.data_size
    }

    fn encode_head(&self, out: &mut [u8]) -> Result<usize, jframe::EncodeError> {
        jframe::encode_head(out, &self.head)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        if self.fail_after.is_some_and(|f| self.at >= f) {
            return Err(SourceError);
        }
        let n = buf.len().min(self.step).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn file(name: &str) -> Vec<u8> {
    match name {
        "small" => b"small file".to_vec(),
        _ => (0..3000u32).map(|i| (i % 251) as u8).collect(),
    }
}

impl Service for Files {
    type Source = Pieces;
    type Header = Header;

    fn call(&mut self, request: &Request<'_, Header>) -> Answer<Pieces> {
        let (header, body) = (request.header, request.body);
        match request.op {
            Some("get") => {
                let name = header.name.as_deref().unwrap_or("");
                let fail_after = match name {
                    "small" | "big" => None,
                    "broken" => Some(1000),
                    "empty-source" => {
                        return Answer::Reply(Pieces {
                            head: Header::reply(Status::Ok, 5),
                            data: vec![],
                            at: 0,
                            step: 1,
                            fail_after: None,
                        });
                    }
                    n if n.contains("..") => {
                        return Answer::Refuse(Refusal::text(Status::Forbidden, n));
                    }
                    n => return Answer::Refuse(Refusal::text(Status::NotFound, n)),
                };
                let data = file(name);
                let head = Header::reply(Status::Ok, data.len() as u64)
                    .with_sha256("ab")
                    .unwrap();
                Answer::Reply(Pieces {
                    head,
                    data,
                    at: 0,
                    step: 700,
                    fail_after,
                })
            }
            None | Some("upper") => {
                assert!(body.is_none() || body.map(<[u8]>::len) == Some(header.data_size as usize));
                self.collected.clear();
                Answer::Collect
            }
            op => jframe::service::demo::answer(op),
        }
    }

    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        if self.collected.len() + chunk.len() > self.budget {
            return Err(Refusal::text(Status::Busy, "over budget"));
        }
        self.collected.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(&mut self, header: &Header) -> Answer<Pieces> {
        self.finished += 1;
        assert_eq!(self.collected.len() as u64, header.data_size);
        if self.collected == b"nobody" {
            return Answer::Unclaimed; // a bug in a service: answered with `error`
        }
        let text = String::from_utf8_lossy(&self.collected)
            .to_uppercase()
            .into_bytes();
        Answer::Reply(Pieces {
            head: Header::reply(Status::Ok, text.len() as u64),
            data: text,
            at: 0,
            step: 5,
            fail_after: None,
        })
    }

    fn abandon(&mut self) {
        self.abandoned += 1;
        self.collected.clear();
    }
}

#[test]
fn every_status_through_the_engine_with_an_extension() {
    let long_name = "n".repeat(257);
    let input = [
        frame(r#"{"data_size":7}"#, "straße".as_bytes()), // collect, whole
        frame(r#"{"data_size":0,"op":"get","name":"small"}"#, b""), // ok + sha256
        frame(r#"{"data_size":0,"op":"get","name":"big"}"#, b""), // larger than tx
        frame(r#"{"data_size":0,"op":"get","name":"nope"}"#, b""), // not_found
        frame(r#"{"data_size":0,"op":"get","name":"../etc"}"#, b""), // forbidden
        frame(r#"{"data_size":3,"op":"dance"}"#, b"abc"), // bad_request: unknown op
        frame(r#"{"data_size":3,"op":[]}"#, b"abc"),      // bad_request: wrong type
        frame(
            format!(r#"{{"data_size":1,"op":"get","name":"{long_name}"}}"#),
            b"x",
        ), // bad_request: too long
        frame(r#"{"data_size":600,"op":"echo"}"#, &[b'e'; 600]), // too_large (max_body)
        frame(r#"{"data_size":40}"#, &[b'u'; 40]),        // busy (collect budget)
        frame(r#"{"data_size":6}"#, b"nobody"),           // error (nothing answered)
        frame(r#"{"data_size":2,"op":"echo"}"#, b"ok"),   // still going
        frame(r#"{"data_size":3,"op":"echo","op":"x"}"#, b"abc"), // bad_frame, fatal
        frame(r#"{"data_size":1}"#, b"!"),                // never read
    ]
    .concat();
    let config = Config {
        limits: Limits {
            max_header: 512,
            max_body: 500,
        },
        ..Config::default()
    };
    for asynchronous in [false, true] {
        for chunk in [1, 13, 4096] {
            for sizes in [(64, 520, 300), (4096, 4096, 4096), (5, 600, 200)] {
                let mut files = Files {
                    budget: 30,
                    ..Files::default()
                };
                let s = session(
                    &mut Memory::new(&input, chunk),
                    sizes,
                    &mut files,
                    &config,
                    asynchronous,
                );
                let statuses: Vec<&str> = s.got.iter().map(|g| g.status.as_str()).collect();
                let what = format!("chunk {chunk}, sizes {sizes:?}, async {asynchronous}");
                assert_eq!(
                    statuses,
                    [
                        "ok",
                        "ok",
                        "ok",
                        "not_found",
                        "forbidden",
                        "bad_request",
                        "bad_request",
                        "bad_request",
                        "too_large",
                        "busy",
                        "error",
                        "ok",
                        "bad_frame"
                    ],
                    "{what}"
                );
                assert!(
                    matches!(s.end, End::BadFrame(jframe::DecodeError::Header(_))),
                    "{what}"
                );
                assert_eq!(s.got[0].body, "STRASSE".as_bytes(), "{what}");
                assert_eq!(s.got[1].body, b"small file", "{what}");
                assert_eq!(s.got[1].header.sha256.as_deref(), Some("ab"));
                assert_eq!(s.got[2].body, file("big"), "{what}");
                assert_eq!(s.got[11].body, b"ok", "{what}");
                for g in &s.got[3..11] {
                    assert!(
                        g.body.is_empty() && g.header.error.is_some(),
                        "{what}: {g:?}"
                    );
                }
                assert_eq!((files.finished, files.abandoned), (2, 1), "{what}");
                // Every status of SPEC but `truncated` (a datagram's).
                let mut seen: Vec<&str> = statuses.clone();
                seen.sort_unstable();
                seen.dedup();
                let mut all: Vec<&str> = Status::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .filter(|s| *s != "truncated")
                    .collect();
                all.sort_unstable();
                assert_eq!(seen, all);
            }
        }
    }
}

#[test]
fn collect_of_a_streamed_body() {
    // A body larger than the frame buffer is handed to the extension chunk
    // by chunk, then answered by finish.
    let text = "grüße aus köln ".repeat(40);
    let input = [
        frame(
            format!(r#"{{"data_size":{}}}"#, text.len()),
            text.as_bytes(),
        ),
        frame(r#"{"data_size":2,"op":"echo"}"#, b"hi"),
    ]
    .concat();
    for asynchronous in [false, true] {
        for chunk in [1, 7, 100, 4096] {
            // The input (whole or cut) served with a collecting budget.
            let serve = |input: &[u8], budget: usize| {
                let mut files = Files {
                    budget,
                    ..Files::default()
                };
                let s = session(
                    &mut Memory::new(input, chunk),
                    (32, 64, 200),
                    &mut files,
                    &Config::default(),
                    asynchronous,
                );
                (s, files)
            };
            let (s, _) = serve(&input, 10_000);
            assert_eq!(s.end, End::PeerClosed);
            assert_eq!(
                pairs(&s.got),
                [
                    ("ok".into(), text.to_uppercase().into_bytes()),
                    ("ok".into(), b"hi".to_vec())
                ]
            );
            // Over budget part-way: busy, the rest skipped, the session goes on.
            let (s, files) = serve(&input, 100);
            assert_eq!(s.end, End::PeerClosed);
            assert_eq!(
                pairs(&s.got),
                [("busy".into(), vec![]), ("ok".into(), b"hi".to_vec())]
            );
            assert_eq!(files.abandoned, 1);
            // The peer leaves in the middle of a collected body.
            let (s, files) = serve(&input[..200], 10_000);
            assert_eq!(
                (s.end, s.got.len(), files.abandoned),
                (End::Truncated, 0, 1)
            );
        }
    }
}

#[test]
fn a_source_that_fails_part_way_ends_the_session() {
    for name in ["broken", "empty-source"] {
        let input = [
            frame(r#"{"data_size":2,"op":"echo"}"#, b"hi"),
            frame(
                format!(r#"{{"data_size":0,"op":"get","name":"{name}"}}"#),
                b"",
            ),
            frame(r#"{"data_size":1,"op":"echo"}"#, b"!"),
        ]
        .concat();
        for asynchronous in [false, true] {
            let mut files = Files::default();
            let s = session(
                &mut Memory::new(&input, 4096),
                (4096, 4096, 4096),
                &mut files,
                &Config::default(),
                asynchronous,
            );
            assert_eq!(s.end, End::Source(SourceError), "{name}");
            // The reply before is delivered, the broken one is cut short
            // (the peer sees the close inside it), nothing after it is served.
            let (got, whole) = replies_until(&s.raw);
            assert_eq!(pairs(&got), [("ok".into(), b"hi".to_vec())], "{name}");
            assert!(!whole, "{name}");
            assert!(!s.raw.ends_with(b"!"), "{name}");
        }
    }
}

#[test]
fn welcome_frame_first() {
    let input = frame(r#"{"data_size":3,"op":"greet"}"#, b"Ann");
    for asynchronous in [false, true] {
        let config = Config {
            welcome: Some(b"Welcome!"),
            ..Config::default()
        };
        let s = session(
            &mut Memory::new(&input, 4096),
            (64, 64, 200),
            &mut Demo::new(),
            &config,
            asynchronous,
        );
        assert_eq!(s.end, End::PeerClosed);
        assert_eq!(
            pairs(&s.got),
            [
                ("ok".into(), b"Welcome!".to_vec()),
                ("ok".into(), b"Hello, Ann!".to_vec())
            ]
        );
        // SPEC: the welcome is marked, the reply is not.
        let welcome = frame(
            r#"{"data_size":8,"status":"ok","welcome":true}"#,
            b"Welcome!",
        );
        assert!(
            s.raw.starts_with(&welcome),
            "{:?}",
            String::from_utf8_lossy(&s.raw)
        );
        assert!(!s.raw[welcome.len()..].windows(7).any(|w| w == b"welcome"));
        // Sent even when the peer says nothing.
        let s = session(
            &mut Memory::new(b"", 1),
            (64, 64, 200),
            &mut Demo::new(),
            &config,
            asynchronous,
        );
        assert_eq!(
            (s.end, pairs(&s.got)),
            (End::PeerClosed, vec![("ok".into(), b"Welcome!".to_vec())])
        );
    }
}

#[test]
fn stop_only_between_frames() {
    let input = [
        frame(r#"{"data_size":2,"op":"echo"}"#, b"hi"),
        frame(r#"{"data_size":1}"#, b"!"),
    ]
    .concat();
    for asynchronous in [false, true] {
        // Stop asked before anything arrives.
        let mut io = Memory::new(&input, 1);
        io.go = 0;
        let s = demo_session(&mut io, (64, 64, 200), asynchronous);
        assert_eq!((s.end, s.got.len()), (End::Stopped, 0));
        // Stop asked from the second read on: ignored inside the first
        // frame, which is answered (and flushed) before the session stops.
        let mut io = Memory::new(&input, 1);
        io.go = 1;
        let s = demo_session(&mut io, (64, 64, 200), asynchronous);
        assert_eq!(s.end, End::Stopped);
        assert_eq!(pairs(&s.got), [("ok".into(), b"hi".to_vec())]);
        // Pipelined: a stop between the two frames that arrived together.
        let mut io = Memory::new(&input, 4096);
        io.go = 1;
        let s = demo_session(&mut io, (4096, 64, 200), asynchronous);
        assert_eq!(s.end, End::Stopped);
        assert_eq!(
            pairs(&s.got),
            [("ok".into(), b"hi".to_vec()), ("ok".into(), b"!".to_vec())]
        );
    }
}

#[test]
fn pipelined_replies_before_a_reply_frame_are_delivered() {
    // Requests answered before the peer sent a reply frame still reach it,
    // whether that reply's body fits the frame buffer or is streamed.
    for body in [&b"ok"[..], &[b'z'; 300][..]] {
        let input = [
            frame(r#"{"data_size":2,"op":"echo"}"#, b"hi"),
            frame(
                format!(r#"{{"data_size":{},"status":"ok"}}"#, body.len()),
                body,
            ),
        ]
        .concat();
        let s = demo_session(&mut Memory::new(&input, 4096), (4096, 128, 256), false);
        assert_eq!(s.end, End::ReplyReceived);
        assert_eq!(
            pairs(&s.got),
            [("ok".into(), b"hi".to_vec())],
            "body of {}",
            body.len()
        );
    }
}

#[test]
fn abandon_when_collect_refuses_not_after_finish() {
    for (body, budget, abandoned, status) in [
        (&b"uuuuuuuuuu"[..], 5, 1, "busy"),
        (b"nobody", 100, 0, "error"),
    ] {
        let input = frame(format!(r#"{{"data_size":{}}}"#, body.len()), body);
        // The body whole in the frame buffer, then streamed through a small one.
        for sizes in [(4096, 4096, 4096), (4, 20, 200)] {
            for asynchronous in [false, true] {
                let mut files = Files {
                    budget,
                    ..Files::default()
                };
                let s = session(
                    &mut Memory::new(&input, 4096),
                    sizes,
                    &mut files,
                    &Config::default(),
                    asynchronous,
                );
                assert_eq!(s.end, End::PeerClosed);
                assert_eq!(s.got.len(), 1);
                assert_eq!(s.got[0].status, status);
                assert_eq!(files.abandoned, abandoned, "{status} {sizes:?}");
            }
        }
    }
}

/// The async engine's future is `Send` when its transport and extension
/// are, so it runs on multi-threaded executors (tokio's work-stealing
/// runtime). A compile-time check: this fails to build otherwise.
#[allow(dead_code)]
fn async_engine_future_is_send(io: &'static mut SendLink, b: Buffers<'static>) {
    fn is_send<F: Send>(_: F) {}
    static CONFIG: Config<'static> = Config {
        limits: jframe::service::Limits {
            max_header: 256,
            max_body: u64::MAX,
        },
        timeouts: jframe::service::Timeouts::NONE,
        welcome: None,
    };
    let ext: &'static mut Demo = Box::leak(Box::new(Demo::new()));
    is_send(jframe::service::engine::asynch::serve(io, b, ext, &CONFIG));
}

/// An async transport that is `Send`.
struct SendLink;

impl embedded_io_async::ErrorType for SendLink {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Read for SendLink {
    async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(0)
    }
}

impl embedded_io_async::Write for SendLink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Clock for SendLink {
    fn now(&mut self) -> Instant {
        Instant::from_millis(0)
    }
}

/// The async engine's future is what a microcontroller keeps per
/// connection, beside its buffers: no 568-byte `Header` may live across an
/// `.await` (only the decoder's own). x86_64 sizes; Cortex-M's are smaller.
#[test]
fn async_engine_future_stays_small() {
    let mut memory = Storage::<64, 256, 256>::new();
    let mut link = SendLink;
    let mut ext = Demo::new();
    let config = Config::default();
    let future =
        jframe::service::engine::asynch::serve(&mut link, memory.buffers(), &mut ext, &config);
    let size = core::mem::size_of_val(&future);
    let header = core::mem::size_of::<Header>();
    let session = core::mem::size_of::<jframe::service::Session<'_, &mut Demo>>();
    println!("engine future: {size} bytes, of which the session {session} (a Header is {header})");
    // 912 bytes (5,416 while Headers crossed awaits, 2,080 while the
    // decoder held a whole Header, 1,560 while plans and refusals crossed
    // awaits): the decoder with Builtin's CompactHeader, the session's one
    // refusal, and the deepest nested future. A Header, or a second
    // refusal, across an await breaks this.
    assert!(size <= 1024, "engine future is {size} bytes");
}
