//! Differential: the same bytes through the stateful `Decoder` (fed in the
//! input's chunking, whole, and byte by byte) and through the stateless
//! `parse_frame` (walked frame by frame over the contiguous stream) must give
//! the same frames, the same errors and the same end state.
//!
//! `parse_frame` knows nothing of the decoder's buffer, body limit or
//! streaming mode, so the reference applies the decoder's documented rules on
//! top of it: a frame is held whole when
//! `data_size <= min(max_body, buffer - header)`; otherwise it is a `Head` + its body in streaming mode, or a
//! recoverable `BodyTooLarge` (body skipped) in whole-frame mode; a
//! `Request` error skips its body; any other error is fatal. The header limit
//! given to `parse_frame` is the decoder's own (`Decoder::max_header`, which
//! clamps the configured one to its buffer).
#![no_main]

use jframe::{DecodeError, Header, PREFIX_LEN, Parse, parse_frame};
use jframe_fuzz::{Config, Ev, DecodeEnd, feed_all};
use libfuzzer_sys::fuzz_target;

/// The events and end state `parse_frame` implies for `stream`.
fn reference(cfg: &Config, max_header: u32, stream: &[u8]) -> (Vec<Ev>, DecodeEnd) {
    let mut events = Vec::new();
    let max_body = cfg.max_body.unwrap_or(u64::MAX);
    let fits = |header_len: usize, size: u64| {
        let room = cfg.buf_len.saturating_sub(header_len) as u64;
        size <= max_body.min(room)
    };
    let mut rest = stream;
    loop {
        if rest.is_empty() {
            return (events, DecodeEnd::Idle);
        }
        // Where the header JSON is, once the prefix is known (parse_frame
        // checked the prefix before it looked at the header).
        let json_len = || {
            let p: [u8; PREFIX_LEN] = rest[..PREFIX_LEN].try_into().unwrap();
            i32::from_le_bytes(p) as usize
        };
        match parse_frame(rest, max_header, &mut Header::default()) {
            Ok(Parse::Complete {
                header_json,
                body,
                len,
            }) => {
                assert_eq!(len, PREFIX_LEN + header_json.len() + body.len());
                assert_eq!(header_json.len(), json_len());
                let size = body.len() as u64;
                if fits(header_json.len(), size) {
                    events.push(Ev::Frame {
                        header: header_json.to_vec(),
                        body: body.to_vec(),
                    });
                } else if cfg.streaming {
                    events.push(Ev::Head {
                        header: header_json.to_vec(),
                        data_size: size,
                        body: if cfg.skip_bodies {
                            Vec::new()
                        } else {
                            body.to_vec()
                        },
                    });
                } else {
                    let room = cfg.buf_len.saturating_sub(header_json.len()) as u64;
                    events.push(Ev::Err(DecodeError::BodyTooLarge {
                        data_size: size,
                        max: max_body.min(room),
                    }));
                }
                rest = &rest[len..];
            }
            Ok(Parse::Partial {
                data_size: None, ..
            }) => return (events, DecodeEnd::MidFrame),
            Ok(Parse::Partial {
                data_size: Some(size),
                ..
            }) => {
                let header_len = json_len();
                let head = PREFIX_LEN + header_len;
                // parse_frame says the body is cut short: it really is.
                assert!((rest.len() - head) as u64 <= size.saturating_sub(1));
                if fits(header_len, size) {
                    // Collecting the body: no event yet.
                } else if cfg.streaming {
                    events.push(Ev::Head {
                        header: rest[PREFIX_LEN..head].to_vec(),
                        data_size: size,
                        body: if cfg.skip_bodies {
                            Vec::new()
                        } else {
                            rest[head..].to_vec()
                        },
                    });
                } else {
                    let room = cfg.buf_len.saturating_sub(header_len) as u64;
                    events.push(Ev::Err(DecodeError::BodyTooLarge {
                        data_size: size,
                        max: max_body.min(room),
                    }));
                }
                return (events, DecodeEnd::MidFrame);
            }
            Err(e @ DecodeError::Request { data_size, .. }) => {
                events.push(Ev::Err(e));
                let end = ((PREFIX_LEN + json_len()) as u64).saturating_add(data_size);
                match usize::try_from(end).ok().and_then(|end| rest.get(end..)) {
                    Some(after) => rest = after,
                    None => return (events, DecodeEnd::MidFrame),
                }
            }
            Err(e) => {
                assert!(!e.is_recoverable(), "{e:?} from parse_frame");
                events.push(Ev::Err(e));
                return (events, DecodeEnd::Failed);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((cfg, stream)) = Config::split(data) else {
        return;
    };
    let max_header = cfg.decoder().max_header();
    let expected = reference(&cfg, max_header, stream);
    for chunks in [&cfg.chunks[..], &[usize::MAX], &[1]] {
        let got = feed_all(&cfg, stream, chunks);
        assert_eq!(
            got, expected,
            "Decoder (chunks {chunks:?}) and parse_frame disagree"
        );
    }
});
