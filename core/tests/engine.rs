//! The connection engine over an in-memory transport.

use jframe::service::engine::blocking::serve;
use jframe::service::{Buffers, Builtin, Config, Deadlines, End, Phase};
use jframe::{Decoder, Event, Header, encode_frame};

/// Reads from `input` in pieces of `chunk` bytes, records what is written.
struct Memory<'a> {
    input: &'a [u8],
    chunk: usize,
    output: Vec<u8>,
    phases: Vec<Phase>,
}

impl embedded_io::ErrorType for Memory<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Memory<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.input.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl embedded_io::Write for Memory<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Deadlines for Memory<'_> {
    fn before_read(&mut self, phase: Phase) -> bool {
        self.phases.push(phase);
        true
    }
}

fn frame(json: &str, body: &[u8]) -> Vec<u8> {
    let mut v = (json.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v.extend_from_slice(body);
    v
}

/// (status, body) of every reply frame in `wire`.
fn replies(wire: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut dec = Decoder::new(vec![0u8; 1 << 20]);
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let (used, ev) = dec.feed(rest);
        if let Event::Frame(f) = ev.unwrap() {
            out.push((f.header.status.as_deref().unwrap_or("").to_string(), f.body.to_vec()));
        }
        rest = &rest[used..];
    }
    out
}

fn run(input: &[u8], chunk: usize, sizes: (usize, usize, usize)) -> (End<core::convert::Infallible>, Vec<(String, Vec<u8>)>) {
    let mut io = Memory { input, chunk, output: Vec::new(), phases: Vec::new() };
    let (mut rx, mut fr, mut tx) = (vec![0u8; sizes.0], vec![0u8; sizes.1], vec![0u8; sizes.2]);
    let buffers = Buffers { rx: &mut rx, frame: &mut fr, tx: &mut tx };
    let end = serve(&mut io, buffers, &mut Builtin, &Config::default());
    (end, replies(&io.output))
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
        frame(&format!(r#"{{"data_size":{},"op":"upper"}}"#, big.len()), &big),
        frame(&format!(r#"{{"data_size":{},"op":"greet"}}"#, big.len()), &big),
        frame(r#"{"data_size":4,"op":"greet"}"#, b"exit"),
        frame(r#"{"data_size":1}"#, b"!"),
    ]
    .concat();
    let upper = big.to_ascii_uppercase();
    let greeted = [&b"Hello, "[..], &big, b"!"].concat();
    for chunk in [1, 3, 64, 100_000] {
        for sizes in [(64, 300, 300), (4096, 8192, 4096), (7, 260, 200)] {
            let (end, got) = run(&input, chunk, sizes);
            assert_eq!(end, End::Bye, "{chunk} {sizes:?}");
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
            assert_eq!(got, want, "chunk {chunk}, buffers {sizes:?}");
        }
    }
}

#[test]
fn fatal_headers_close_and_replies_are_not_answered() {
    let smuggled = frame(r#"{"data_size":0,"op":"get","name":"x"}"#, b"");
    let json = format!(r#"{{"op":"echo","op":"echo","data_size":{}}}"#, smuggled.len());
    let input = [frame(&json, &smuggled), frame(r#"{"data_size":1}"#, b"!")].concat();
    let (end, got) = run(&input, 5, (64, 512, 512));
    assert!(matches!(end, End::BadFrame(_)), "{end:?}");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "bad_frame");

    let input = [frame(r#"{"data_size":2,"status":"ok"}"#, b"hi"), frame(r#"{"data_size":1}"#, b"!")].concat();
    let (end, got) = run(&input, 100, (64, 512, 512));
    assert_eq!(end, End::ReplyReceived);
    assert!(got.is_empty());

    let mut wire = vec![0u8; 64];
    let n = encode_frame(&mut wire, &Header::new(1), b"x").unwrap();
    let (end, got) = run(&wire[..n - 1], 100, (64, 512, 512));
    assert_eq!((end, got.len()), (End::Truncated, 0));
}
