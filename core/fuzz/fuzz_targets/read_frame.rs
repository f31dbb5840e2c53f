//! The blocking `read_frame` / `read_body` over a reader that returns
//! arbitrary short reads: no panic, always terminates, and decodes exactly
//! what `Decoder::feed` decodes from the same bytes; a clean close is
//! reported only between frames.
#![no_main]

use jframe::io::blocking::{read_body, read_frame};
use jframe::{ReadError, Received};
use jframe_fuzz::{Chunked, Config, Ev, DecodeEnd, feed_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((cfg, stream)) = Config::split(data) else {
        return;
    };
    let (expected, end) = feed_all(&cfg, stream, &[usize::MAX]);

    let mut reader = Chunked::new(stream, &cfg.chunks);
    let mut decoder = cfg.decoder();
    let mut got = Vec::new();
    let mut body_buf = vec![0u8; 1 + cfg.chunks.first().copied().unwrap_or(1).min(512)];
    // Every call consumes at least one byte or ends the loop.
    for _ in 0..=stream.len() + 1 {
        match read_frame(&mut reader, &mut decoder) {
            Ok(None) => {
                assert_eq!(end, DecodeEnd::Idle, "clean close reported mid-frame");
                assert!(reader.data.is_empty());
                assert_eq!(got, expected);
                return;
            }
            Ok(Some(Received::Frame(f))) => got.push(Ev::Frame {
                header: f.header_json.to_vec(),
                body: f.body.to_vec(),
            }),
            Ok(Some(Received::Head(h))) => {
                let (header, data_size) = (h.header_json.to_vec(), h.data_size);
                let mut body = Vec::new();
                if !cfg.skip_bodies {
                    loop {
                        match read_body(&mut reader, &mut decoder, &mut body_buf) {
                            Ok(Some(chunk)) => body.extend_from_slice(chunk),
                            Ok(None) => break,
                            Err(ReadError::UnexpectedEof) => break,
                            Err(e) => panic!("read_body: {e:?}"),
                        }
                    }
                }
                got.push(Ev::Head {
                    header,
                    data_size,
                    body,
                });
            }
            Err(ReadError::Decode(e)) => {
                got.push(Ev::Err(e));
                if !e.is_recoverable() {
                    assert_eq!(end, DecodeEnd::Failed);
                    assert_eq!(got, expected);
                    return;
                }
            }
            Err(ReadError::UnexpectedEof) => {
                assert_eq!(end, DecodeEnd::MidFrame, "EOF error between frames");
                assert!(reader.data.is_empty());
                // A streamed body cut short: feed saw the same partial chunks.
                assert_eq!(got, expected);
                return;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    panic!("read_frame loop did not terminate");
});
