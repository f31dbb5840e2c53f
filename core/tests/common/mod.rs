//! Helpers shared by the core's tests: the three ways of decoding the same
//! bytes (`feed`, `unfilled`/`filled`/`event`, `parse_frame`), each turning
//! the stream into a plain list of owned events so they compare with `==`;
//! and (from `shared.rs`, which the fuzz targets include too) a short-read
//! reader and a poller.
#![allow(dead_code)]

mod shared;

use jframe::{DecodeError, Decoder, Event, Header, Parse, ParseHeader, parse_frame};

// Each test crate uses some of them.
#[allow(unused_imports)]
pub use shared::{Chunked, DecodeEnd, block_on};

/// `prefix + json + body`, with the prefix taken from `json`'s length.
pub fn frame(json: impl AsRef<[u8]>, body: &[u8]) -> Vec<u8> {
    let json = json.as_ref();
    let mut v = i32::try_from(json.len()).unwrap().to_le_bytes().to_vec();
    v.extend_from_slice(json);
    v.extend_from_slice(body);
    v
}

/// Bytes from hex digits, whitespace ignored (SPEC's test vectors).
pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// One decoded thing, owned. Streamed frames (head + chunks) are folded
/// into one `Frame`, so every mode can be compared with every other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Frame { json: Vec<u8>, body: Vec<u8> },
    Err(DecodeError),
}

/// Sorted cut points in `0..=len` from arbitrary numbers.
pub fn points(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut p: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    p.push(0);
    p.push(len);
    p.sort_unstable();
    p.dedup();
    p
}

/// A streamed body's chunk added to the frame begun by its head (`json`,
/// body so far); the last one folds it into one `Ev::Frame`.
fn add_chunk(
    streamed: &mut Option<(Vec<u8>, Vec<u8>)>,
    out: &mut Vec<Ev>,
    data: &[u8],
    remaining: u64,
) {
    let (_, body) = streamed.as_mut().expect("chunk after a head");
    body.extend_from_slice(data);
    if remaining == 0 {
        let (json, body) = streamed.take().unwrap();
        out.push(Ev::Frame { json, body });
    }
}

/// Decodes `wire` with `feed`, in the pieces `cuts` makes, checking the
/// feed contract on every call (and that a fatal error is sticky).
pub fn by_feed<H: ParseHeader + core::fmt::Debug + PartialEq>(
    dec: &mut Decoder<Vec<u8>, H>,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Ev>, DecodeEnd) {
    let mut out = Vec::new();
    let mut streamed: Option<(Vec<u8>, Vec<u8>)> = None;
    for pair in points(wire.len(), cuts).windows(2) {
        let mut input = &wire[pair[0]..pair[1]];
        while !input.is_empty() {
            let (used, result) = dec.feed(input);
            assert!(used <= input.len());
            match result {
                Ok(Event::NeedMore) => assert_eq!(used, input.len(), "NeedMore left input"),
                Ok(Event::Frame(f)) => out.push(Ev::Frame {
                    json: f.header_json.to_vec(),
                    body: f.body.to_vec(),
                }),
                Ok(Event::Head(h)) => {
                    assert!(streamed.is_none());
                    streamed = Some((h.header_json.to_vec(), Vec::new()));
                }
                Ok(Event::BodyChunk { data, remaining }) => {
                    add_chunk(&mut streamed, &mut out, data, remaining)
                }
                Err(e) => {
                    out.push(Ev::Err(e));
                    if !e.is_recoverable() {
                        assert!(dec.is_failed() && dec.failure() == Some(e));
                        assert_eq!(dec.feed(b"\x0f\0\0\0{\"data_size\":0}"), (0, Err(e)));
                        return (out, DecodeEnd::Failed);
                    }
                    assert!(!dec.is_failed());
                }
            }
            assert!(used > 0, "no progress");
            input = &input[used..];
        }
    }
    (out, DecodeEnd::of(dec))
}

/// Decodes `wire` the way a reader that reads straight into the decoder
/// does: `unfilled` / `filled` / `event` while the decoder buffers, `feed`
/// (of at most `want()` bytes) while a body is streamed or skipped. Reads
/// are at most the next of `sizes` bytes (cycled).
pub fn by_reader<H: ParseHeader + core::fmt::Debug + PartialEq>(
    dec: &mut Decoder<Vec<u8>, H>,
    wire: &[u8],
    sizes: &[usize],
) -> (Vec<Ev>, DecodeEnd) {
    let mut out = Vec::new();
    let mut streamed: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut rest = wire;
    let mut turn = 0;
    while !rest.is_empty() {
        let cap = sizes
            .get(turn % sizes.len().max(1))
            .copied()
            .unwrap_or(usize::MAX)
            .max(1);
        turn += 1;
        if dec.is_streaming_body() || dec.is_skipping() {
            let n = rest.len().min(cap).min(dec.want());
            let (used, result) = dec.feed(&rest[..n]);
            assert_eq!(used, n, "a streamed or skipped body takes what it wants");
            match result {
                Ok(Event::BodyChunk { data, remaining }) => {
                    add_chunk(&mut streamed, &mut out, data, remaining)
                }
                Ok(Event::NeedMore) => assert!(dec.is_skipping() || dec.is_idle()),
                other => panic!("unexpected {other:?} in a body"),
            }
            rest = &rest[n..];
            continue;
        }
        let want = dec.want();
        let slot = dec.unfilled();
        assert!(!slot.is_empty(), "unfilled is empty in a buffered stage");
        assert!(slot.len() <= want.max(1));
        let n = slot.len().min(cap).min(rest.len());
        slot[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        match dec.filled(n) {
            Ok(false) => assert_eq!(dec.event(), Event::NeedMore),
            Ok(true) => match dec.event() {
                Event::Frame(f) => out.push(Ev::Frame {
                    json: f.header_json.to_vec(),
                    body: f.body.to_vec(),
                }),
                Event::Head(h) => streamed = Some((h.header_json.to_vec(), Vec::new())),
                other => panic!("filled said ready, event is {other:?}"),
            },
            Err(e) => {
                out.push(Ev::Err(e));
                if !e.is_recoverable() {
                    assert!(dec.is_failed());
                    assert!(dec.unfilled().is_empty());
                    return (out, DecodeEnd::Failed);
                }
            }
        }
    }
    (out, DecodeEnd::of(dec))
}

/// Decodes `wire` with the stateless `parse_frame`, frame after frame
/// (a rejected frame is skipped by the prefix and its `data_size`).
pub fn by_parse(wire: &[u8], max_header: u32) -> (Vec<Ev>, DecodeEnd) {
    let mut out = Vec::new();
    let mut rest = wire;
    let mut header = Header::default();
    while !rest.is_empty() {
        match parse_frame(rest, max_header, &mut header) {
            Ok(Parse::Complete {
                header_json,
                body,
                len,
            }) => {
                assert_eq!(header.data_size, body.len() as u64);
                assert_eq!(len, 4 + header_json.len() + body.len());
                out.push(Ev::Frame {
                    json: header_json.to_vec(),
                    body: body.to_vec(),
                });
                rest = &rest[len..];
            }
            Ok(Parse::Partial { .. }) => return (out, DecodeEnd::MidFrame),
            Err(e @ DecodeError::Request { data_size, .. }) => {
                out.push(Ev::Err(e));
                let hlen = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
                let end = (4 + hlen) as u64 + data_size;
                if end > rest.len() as u64 {
                    return (out, DecodeEnd::MidFrame);
                }
                rest = &rest[end as usize..];
            }
            Err(e) => {
                out.push(Ev::Err(e));
                return (out, DecodeEnd::Failed);
            }
        }
    }
    (out, DecodeEnd::Idle)
}
