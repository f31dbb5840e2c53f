//! jframe against the obvious std way of doing what the Python seeds do.
//!
//! One criterion group, `codec`, so the figures sit side by side. Every pair
//! that is compared gets the same input bytes and does the same work: the
//! frame split, its header parsed (and available), its body available.
//!
//! - `small/jframe`: `FRAMES` Python-style frames (`{"data_size": 12}` with
//!   json.dumps' space, 12-byte body) concatenated in one buffer, as one
//!   large socket read leaves them, fed to `Decoder::feed` in a loop; each
//!   frame's parsed header (`frame.header.data_size`) and body are used.
//! - `small/ldc_serde_json`: the reference. tokio-util's `LengthDelimitedCodec`
//!   (4-byte little-endian length, max 4096, so it splits off exactly the
//!   JSON header), `serde_json::from_slice` into a `#[derive(Deserialize)]`
//!   struct `{ data_size: u64 }`, then `BytesMut::split_to(data_size)` for the
//!   body: what a Python peer's `struct.unpack` + `json.loads` + `recv(n)`
//!   does, in Rust. Its input is a `BytesMut` holding the same bytes, made
//!   in criterion's untimed setup (`iter_batched_ref`), as a socket read
//!   would have filled it.
//! - `small/ldc_bare`: the same codec splitting the same stream with no JSON
//!   parsing at all (the body is split by the known constant size): bare
//!   framing, which parses no header.
//! - `small/jframe_1KiB_reads`: the same stream, fed in 1 KiB pieces, so
//!   about one frame in 30 straddles two pieces and is gathered in the
//!   decoder's buffer (the path of frames that arrive in pieces).
//! - `small/jframe_read_frame`: the same stream through
//!   `io::blocking::read_frame` over an in-memory reader (reads straight
//!   into the decoder's buffer, never past the current stage).
//! - `1MiB/jframe_64KiB_reads`: one frame with a 1 MiB body, fed from 64 KiB
//!   reads to a whole-frame `Decoder` over a `Vec` of 1 MiB + 4 KiB (the body
//!   is gathered in the decoder's buffer), header parsed; `1MiB/memcpy`: the
//!   same 64 KiB reads of the same bytes copied into a buffer with
//!   `copy_from_slice`, the floor. Throughput in body bytes.
//! - `header/request_parse`: the general (not fast-path) header parser.
//! - `worst/header_4KiB_many_keys`: one frame whose 4 KiB header (the
//!   default limit) holds as many distinct keys as allowed, decoded and
//!   parsed: the cost an adversary can make one frame have.
//!
//! Run `scripts/bench-core.sh` for the ratios.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jframe::io::blocking::read_frame;
use jframe::{Decoder, Event, Received};
use tokio_util::codec::{Decoder as _, LengthDelimitedCodec};

/// Frames per iteration of the small-frame benchmarks.
const FRAMES: usize = 1024;
const BODY: &[u8; 12] = b"hello world!";
/// `json.dumps({"data_size": 12})`.
const PY_HEADER: &[u8] = b"{\"data_size\": 12}";
const MIB: usize = 1 << 20;
const KIB: usize = 1 << 10;

/// What the reference deserializes the header into.
#[derive(serde::Deserialize)]
struct PyHeader {
    data_size: u64,
}

/// `struct.pack('i', len(h)) + h + body`, as Python sends it.
fn python_frame(header: &[u8], body: &[u8]) -> Vec<u8> {
    let len = i32::try_from(header.len()).expect("small header");
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

fn small_stream() -> Vec<u8> {
    python_frame(PY_HEADER, BODY).repeat(FRAMES)
}

/// Decodes every frame of `stream`, fed in pieces of `piece` bytes; returns
/// how many frames there were.
fn jframe_frames(decoder: &mut Decoder<[u8; 256]>, stream: &[u8], piece: usize) -> usize {
    let mut frames = 0;
    for mut input in stream.chunks(piece) {
        while !input.is_empty() {
            let (used, event) = decoder.feed(input);
            match event {
                Ok(Event::Frame(frame)) => {
                    black_box(frame.header.data_size);
                    black_box(frame.body);
                    frames += 1;
                }
                Ok(Event::NeedMore) => {}
                other => panic!("unexpected {other:?}"),
            }
            input = &input[used..];
        }
    }
    frames
}

/// An in-memory socket.
struct Slice<'a>(&'a [u8]);

impl embedded_io::ErrorType for Slice<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn length_delimited() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .little_endian()
        .length_field_length(4)
        .max_frame_length(4096)
        .new_codec()
}

/// The reference: header split by the codec, parsed by serde_json, body
/// split by its `data_size`.
fn ldc_serde_frames(codec: &mut LengthDelimitedCodec, buf: &mut BytesMut) -> usize {
    let mut frames = 0;
    while let Some(header) = codec.decode(buf).expect("valid prefix") {
        let parsed: PyHeader = serde_json::from_slice(&header).expect("valid header");
        let size = usize::try_from(parsed.data_size).expect("fits");
        assert!(buf.len() >= size, "whole stream is buffered");
        black_box(parsed.data_size);
        let body = buf.split_to(size).freeze();
        black_box(body);
        frames += 1;
    }
    frames
}

/// Bare framing: the codec splits the header, the body is split by the
/// size the benchmark knows, nothing is parsed.
fn ldc_bare_frames(codec: &mut LengthDelimitedCodec, buf: &mut BytesMut) -> usize {
    let mut frames = 0;
    while let Some(header) = codec.decode(buf).expect("valid prefix") {
        black_box(header);
        let body = buf.split_to(BODY.len()).freeze();
        black_box(body);
        frames += 1;
    }
    frames
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let stream = small_stream();
    group.throughput(Throughput::Elements(FRAMES as u64));

    let mut decoder = Decoder::new([0u8; 256]);
    group.bench_function("small/jframe", |b| {
        b.iter(|| {
            let n = jframe_frames(&mut decoder, black_box(&stream), usize::MAX);
            assert_eq!(n, FRAMES);
        });
    });
    let mut ldc = length_delimited();
    type Ldc = fn(&mut LengthDelimitedCodec, &mut BytesMut) -> usize;
    for (name, frames) in [
        ("small/ldc_serde_json", ldc_serde_frames as Ldc),
        ("small/ldc_bare", ldc_bare_frames),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || BytesMut::from(&stream[..]),
                |buf| {
                    let n = frames(&mut ldc, buf);
                    assert_eq!((n, buf.remaining()), (FRAMES, 0));
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.bench_function("small/jframe_1KiB_reads", |b| {
        b.iter(|| {
            let n = jframe_frames(&mut decoder, black_box(&stream), KIB);
            assert_eq!(n, FRAMES);
        });
    });
    group.bench_function("small/jframe_read_frame", |b| {
        b.iter(|| {
            let mut socket = Slice(black_box(&stream));
            let mut n = 0;
            while let Some(received) = read_frame(&mut socket, &mut decoder).expect("valid") {
                let Received::Frame(frame) = received else {
                    panic!("whole-frame mode")
                };
                black_box(frame.header.data_size);
                black_box(frame.body);
                n += 1;
            }
            assert_eq!(n, FRAMES);
        });
    });

    let body: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    let header = format!("{{\"data_size\": {MIB}}}");
    let big = python_frame(header.as_bytes(), &body);
    group.throughput(Throughput::Bytes(MIB as u64));

    let mut big_decoder = Decoder::new(vec![0u8; MIB + 4096]);
    group.bench_function("1MiB/jframe_64KiB_reads", |b| {
        b.iter(|| {
            let mut frames = 0;
            for mut read in black_box(&big).chunks(64 * KIB) {
                while !read.is_empty() {
                    let (used, event) = big_decoder.feed(read);
                    match event {
                        Ok(Event::Frame(frame)) => {
                            assert_eq!(frame.header.data_size, MIB as u64);
                            black_box(frame.body);
                            frames += 1;
                        }
                        Ok(Event::NeedMore) => {}
                        other => panic!("unexpected {other:?}"),
                    }
                    read = &read[used..];
                }
            }
            assert_eq!(frames, 1);
        });
    });
    let mut dst = vec![0u8; big.len()];
    group.bench_function("1MiB/memcpy", |b| {
        b.iter(|| {
            let mut at = 0;
            for read in black_box(&big).chunks(64 * KIB) {
                dst[at..at + read.len()].copy_from_slice(read);
                at += read.len();
            }
            black_box(&mut dst);
        });
    });

    // The general (not fast-path) header parser on a typical request header.
    let request = br#"{"data_size": 64, "op": "upper", "name": "a.txt"}"#;
    group.throughput(Throughput::Elements(1));
    group.bench_function("header/request_parse", |b| {
        b.iter(|| black_box(jframe::Header::parse(black_box(request)).expect("valid")));
    });

    // Adversarial for the duplicate-key check: the most top-level keys a
    // header may have (header::MAX_KEYS), made long enough to fill 4 KiB.
    let mut many = String::from("{\"data_size\":0");
    let key_len = (4096 - 20) / jframe::header::MAX_KEYS - 6;
    for i in 1..jframe::header::MAX_KEYS {
        many.push_str(&format!(",\"{i:0key_len$x}\":0"));
    }
    many.push('}');
    assert!(many.len() <= 4096, "{}", many.len());
    let worst = python_frame(many.as_bytes(), b"");
    group.throughput(Throughput::Bytes(many.len() as u64));
    let mut worst_decoder = Decoder::new([0u8; 4096]);
    group.bench_function("worst/header_4KiB_many_keys", |b| {
        b.iter(|| {
            let (used, event) = worst_decoder.feed(black_box(&worst));
            match event {
                Ok(Event::Frame(frame)) => black_box(frame.header.data_size),
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(used, worst.len());
        });
    });
    group.finish();
}

/// Prints facts the figures depend on, once, before the measurements.
fn facts(_: &mut Criterion) {
    let state = std::mem::size_of::<Decoder<&mut [u8]>>()
        - std::mem::size_of::<&mut [u8]>()
        - std::mem::size_of::<jframe::Header>();
    eprintln!(
        "codec: Decoder state beyond its buffer and header on this host: {state} bytes; \
         Header: {} bytes; small frame: {} bytes",
        std::mem::size_of::<jframe::Header>(),
        python_frame(PY_HEADER, BODY).len()
    );
}

criterion_group!(benches, facts, codec);
criterion_main!(benches);
