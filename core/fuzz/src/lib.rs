//! Helpers shared by the fuzz targets: a decoder configuration taken from
//! the fuzz input, and the decoded stream as a plain list of events, so two
//! ways of decoding the same bytes can be compared with `==`.

#[path = "../../tests/common/shared.rs"]
mod shared;

use jframe::{DecodeError, Decoder, Event, Header, encode_frame, encode_head};

pub use shared::{Chunked, DecodeEnd, block_on};

/// Decoder settings and read/feed chunk sizes, from the first bytes of the input.
#[derive(Debug, Clone)]
pub struct Config {
    pub buf_len: usize,
    pub max_header: Option<u32>,
    pub max_body: Option<u64>,
    pub streaming: bool,
    /// Streaming: skip bodies (`skip_body` / let `read_frame` skip) instead of reading them.
    pub skip_bodies: bool,
    /// Sizes of the successive chunks the input is fed or read in (cycled).
    pub chunks: Vec<usize>,
}

/// Bytes of the input the configuration uses.
pub const CONFIG_LEN: usize = 12;

impl Config {
    /// Splits `data` into a configuration and the stream to decode.
    pub fn split(data: &[u8]) -> Option<(Config, &[u8])> {
        let (cfg, stream) = data.split_at_checked(CONFIG_LEN)?;
        let flags = cfg[0];
        // 1..=4608 bytes: small enough to hit every "does not fit" path.
        let buf_len = 1 + usize::from(u16::from_le_bytes([cfg[1], cfg[2]])) % 4608;
        let max_header = (cfg[3] != 0).then(|| u32::from(cfg[3]) * 16);
        let max_body = (cfg[4] != 0xff).then(|| u64::from(cfg[4]) * 8);
        let chunks = cfg[5..]
            .iter()
            .map(|&c| {
                if c == 0 {
                    4096
                } else {
                    usize::from(c % 64) + 1
                }
            })
            .collect();
        Some((
            Config {
                buf_len,
                max_header,
                max_body,
                streaming: flags & 1 != 0,
                skip_bodies: flags & 2 != 0,
                chunks,
            },
            stream,
        ))
    }

    pub fn decoder(&self) -> Decoder<Vec<u8>> {
        let mut d = Decoder::new(vec![0u8; self.buf_len]).streaming(self.streaming);
        if let Some(m) = self.max_header {
            d = d.with_max_header(m);
        }
        if let Some(m) = self.max_body {
            d = d.with_max_body(m);
        }
        d
    }
}

/// One decoded thing, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Frame {
        header: Vec<u8>,
        body: Vec<u8>,
    },
    /// A streamed frame; `body` is the concatenation of its chunks (empty when skipped).
    Head {
        header: Vec<u8>,
        data_size: u64,
        body: Vec<u8>,
    },
    Err(DecodeError),
}

/// Decodes `stream` with `Decoder::feed`, in chunks of the given sizes
/// (cycled), checking the feed contract on every call.
pub fn feed_all(cfg: &Config, stream: &[u8], chunks: &[usize]) -> (Vec<Ev>, DecodeEnd) {
    let mut d = cfg.decoder();
    let mut events = Vec::new();
    let mut offset = 0;
    let mut turn = 0;
    while offset < stream.len() {
        let size = chunks
            .get(turn % chunks.len().max(1))
            .copied()
            .unwrap_or(usize::MAX);
        turn += 1;
        let end = offset.saturating_add(size).min(stream.len());
        let mut input = &stream[offset..end];
        while !input.is_empty() {
            let (used, event) = d.feed(input);
            assert!(used <= input.len(), "consumed {used} of {}", input.len());
            match event {
                Ok(Event::NeedMore) => assert_eq!(used, input.len(), "NeedMore left input"),
                Ok(Event::Frame(f)) => {
                    check_frame(cfg, f.header_json, f.body);
                    // The header lent out is the parse of the JSON lent out.
                    assert_eq!(Header::parse(f.header_json).as_ref(), Ok(f.header));
                    events.push(Ev::Frame {
                        header: f.header_json.to_vec(),
                        body: f.body.to_vec(),
                    });
                }
                Ok(Event::Head(h)) => {
                    assert!(cfg.streaming, "Head outside streaming mode");
                    check_head(h.header_json, h.data_size);
                    assert_eq!(Header::parse(h.header_json).as_ref(), Ok(h.header));
                    events.push(Ev::Head {
                        header: h.header_json.to_vec(),
                        data_size: h.data_size,
                        body: Vec::new(),
                    });
                    if cfg.skip_bodies {
                        d.skip_body();
                    }
                }
                Ok(Event::BodyChunk { data, remaining }) => {
                    assert!(!data.is_empty(), "empty body chunk");
                    match events.last_mut() {
                        Some(Ev::Head {
                            data_size, body, ..
                        }) => {
                            body.extend_from_slice(data);
                            assert_eq!(
                                *data_size,
                                body.len() as u64 + remaining,
                                "chunk accounting"
                            );
                        }
                        other => panic!("body chunk after {other:?}"),
                    }
                }
                Err(e) => {
                    events.push(Ev::Err(e));
                    if !e.is_recoverable() {
                        assert!(d.is_failed(), "fatal {e:?} but decoder not failed");
                        // The failure is sticky and consumes nothing.
                        let (again, second) = d.feed(input);
                        assert_eq!((again, second), (0, Err(e)));
                        return (events, DecodeEnd::Failed);
                    }
                    assert!(!d.is_failed(), "recoverable {e:?} but decoder failed");
                }
            }
            // Liveness: a caller looping on feed must always get somewhere.
            assert!(used > 0, "feed made no progress on non-empty input");
            input = &input[used..];
        }
        offset = end;
    }
    (events, DecodeEnd::of(&d))
}

/// Everything a delivered frame promises.
pub fn check_frame(cfg: &Config, header_json: &[u8], body: &[u8]) {
    assert!(header_json.len() <= cfg.buf_len);
    // A header with a wrong key is a DecodeError::Request, never delivered.
    match Header::parse(header_json) {
        Ok(h) => {
            assert_eq!(h.data_size, body.len() as u64, "body length != data_size");
            roundtrip(&h, body);
        }
        Err(e) => panic!("decoder delivered a header that fails with {e:?}"),
    }
}

/// Everything a delivered head promises.
pub fn check_head(header_json: &[u8], data_size: u64) {
    match Header::parse(header_json) {
        Ok(h) => {
            assert_eq!(h.data_size, data_size);
            let mut out = vec![0u8; 4096];
            let n = encode_head(&mut out, &h).expect("a parsed header encodes");
            assert_eq!(Header::parse(&out[4..n]), Ok(h));
        }
        Err(e) => panic!("decoder delivered a head that fails with {e:?}"),
    }
}

/// Encodes `h` + `body`, decodes it back, and checks both are unchanged and
/// that encoding is stable.
pub fn roundtrip(h: &Header, body: &[u8]) {
    // Worst case: every string byte escaped as \u00XX (6x), plus keys.
    let mut out = vec![0u8; 4 + 64 + 6 * (16 + 256 + 16 + 128 + 64) + body.len()];
    let n = encode_frame(&mut out, h, body).expect("a parsed header encodes");
    let wire = &out[..n];
    let mut d = Decoder::new(vec![0u8; n]).with_max_header(u32::try_from(n).unwrap());
    let (used, event) = d.feed(wire);
    assert_eq!(used, n);
    let Ok(Event::Frame(f)) = event else {
        panic!("re-encoded frame decodes as {event:?}")
    };
    assert_eq!(f.body, body);
    let back = f.header.clone();
    assert_eq!(Header::parse(f.header_json).as_ref(), Ok(&back));
    assert_eq!(&back, h);
    let mut again = vec![0u8; n];
    assert_eq!(encode_frame(&mut again, &back, body), Ok(n));
    assert_eq!(again, wire, "encoding is not stable");
}
