//! The decoder against SPEC "The frame" and "Test vectors": the vectors
//! decode, every prefix of a frame needs more, each bad input gives its own
//! error, and recovery follows "Errors and recovery" (fatal stays failed, a
//! recoverable error skips exactly `data_size` bytes).

mod common;

use common::{frame, unhex};
use jframe::{DecodeError, Decoder, Event, Header, HeaderError, encode_frame};

/// SPEC's test vectors: (hex, header data_size, body).
const VECTORS: [(&str, u64, &[u8]); 3] = [
    ("10000000 7b22646174615f73697a65223a20327d 6869", 2, b"hi"),
    ("0f000000 7b22646174615f73697a65223a327d 6869", 2, b"hi"),
    ("0b000000 7b2273697a65223a20327d 6869", 2, b"hi"),
];

type Frames = Vec<(Header, Vec<u8>)>;

/// Decodes a whole input, returning (header, body) pairs and the first error.
fn decode_all(dec: &mut Decoder<Vec<u8>>, input: &[u8]) -> (Frames, Option<DecodeError>) {
    let (frames, err, _) = decode_until_error(dec, input);
    (frames, err)
}

/// Like [`decode_all`], also returning how many bytes were consumed.
fn decode_until_error(
    dec: &mut Decoder<Vec<u8>>,
    mut input: &[u8],
) -> (Frames, Option<DecodeError>, usize) {
    let total = input.len();
    let mut frames = Vec::new();
    loop {
        let (used, result) = dec.feed(input);
        assert!(used <= input.len());
        let event = match result {
            Ok(event) => event,
            Err(e) => return (frames, Some(e), total - input.len() + used),
        };
        let done = matches!(event, Event::NeedMore);
        if let Event::Frame(f) = event {
            frames.push((f.header.clone(), f.body.to_vec()));
        }
        input = &input[used..];
        if done {
            assert!(
                input.is_empty(),
                "NeedMore must mean all input was consumed"
            );
            return (frames, None, total);
        }
    }
}

#[test]
fn spec_vectors_parse() {
    for (hex, size, body) in VECTORS {
        let bytes = unhex(hex);
        let mut dec = Decoder::new(vec![0u8; 64]);
        let (frames, err) = decode_all(&mut dec, &bytes);
        assert_eq!(err, None, "{hex}");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0.data_size, size);
        assert_eq!(frames[0].1, body);
        assert!(dec.is_idle());
    }
}

#[test]
fn spec_vector_emitted() {
    let mut out = [0u8; 32];
    let n = encode_frame(&mut out, &Header::new(2), b"hi").unwrap();
    assert_eq!(&out[..n], &unhex(VECTORS[1].0)[..]);
}

#[test]
fn spec_negative_prefix_rejected() {
    let mut dec = Decoder::new(vec![0u8; 64]);
    let (_, err) = decode_all(&mut dec, &unhex("fbffffff"));
    assert_eq!(err, Some(DecodeError::HeaderTooShort { len: -5 }));
}

#[test]
fn every_prefix_needs_more() {
    for (hex, ..) in VECTORS {
        let bytes = unhex(hex);
        for cut in 0..bytes.len() {
            let mut dec = Decoder::new(vec![0u8; 64]);
            let (used, event) = dec.feed(&bytes[..cut]);
            assert_eq!(used, cut);
            assert_eq!(event, Ok(Event::NeedMore), "prefix of {cut} bytes");
            // And the rest completes it.
            let (used, event) = dec.feed(&bytes[cut..]);
            assert_eq!(used, bytes.len() - cut);
            assert!(matches!(event, Ok(Event::Frame(f)) if f.body == b"hi"));
        }
    }
}

#[test]
fn many_frames_in_one_chunk_stop_at_each_frame() {
    let mut input = Vec::new();
    for (hex, ..) in VECTORS {
        input.extend(unhex(hex));
    }
    let mut dec = Decoder::new(vec![0u8; 64]);
    let (used, event) = dec.feed(&input);
    assert_eq!(
        used,
        unhex(VECTORS[0].0).len(),
        "consumes exactly one frame"
    );
    assert!(matches!(event, Ok(Event::Frame(_))));
    let (frames, err) = decode_all(&mut dec, &input[used..]);
    assert_eq!((frames.len(), err), (2, None));
}

/// The bad-input table: each gives its specific error, and a valid frame
/// after a recoverable one still decodes.
#[test]
fn bad_inputs() {
    use DecodeError as D;
    use HeaderError as H;
    let nest = |n: usize| {
        format!(
            "{{\"data_size\":0,\"a\":{}{}}}",
            "[".repeat(n - 1),
            "]".repeat(n - 1)
        )
    };
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "H = 0",
            0i32.to_le_bytes().to_vec(),
            D::HeaderTooShort { len: 0 },
        ),
        ("H = 1", frame(b"{", b""), D::HeaderTooShort { len: 1 }),
        (
            "H negative",
            (-1i32).to_le_bytes().to_vec(),
            D::HeaderTooShort { len: -1 },
        ),
        (
            "H = i32::MIN",
            i32::MIN.to_le_bytes().to_vec(),
            D::HeaderTooShort { len: i32::MIN },
        ),
        (
            "H huge",
            i32::MAX.to_le_bytes().to_vec(),
            D::HeaderTooLong {
                len: i32::MAX as u32,
                max: 4096,
            },
        ),
        (
            "H just above limit",
            4097i32.to_le_bytes().to_vec(),
            D::HeaderTooLong {
                len: 4097,
                max: 4096,
            },
        ),
        (
            "missing data_size",
            frame(br#"{"op": "echo"}"#, b""),
            D::Header(H::MissingDataSize),
        ),
        (
            "size disagrees",
            frame(br#"{"size": 1, "data_size": 2}"#, b"ab"),
            D::Header(H::SizeMismatch),
        ),
        (
            "float size",
            frame(br#"{"data_size": 2.0}"#, b""),
            D::Header(H::InvalidDataSize),
        ),
        (
            "negative size",
            frame(br#"{"data_size": -2}"#, b""),
            D::Header(H::InvalidDataSize),
        ),
        (
            "string size",
            frame(br#"{"data_size": "2"}"#, b""),
            D::Header(H::InvalidDataSize),
        ),
        (
            "exponent size",
            frame(br#"{"data_size": 1e3}"#, b""),
            D::Header(H::InvalidDataSize),
        ),
        (
            "size above u64",
            frame(br#"{"data_size": 18446744073709551616}"#, b""),
            D::Header(H::InvalidDataSize),
        ),
        (
            "duplicate key",
            frame(br#"{"data_size": 2, "data_size": 2}"#, b"ab"),
            D::Header(H::DuplicateKey),
        ),
        (
            "escaped duplicate",
            frame(br#"{"op":"a","data_size":0,"\u006fp":"b"}"#, b""),
            D::Header(H::DuplicateKey),
        ),
        (
            "trailing bytes",
            frame(br#"{"data_size": 2} x"#, b"ab"),
            D::Header(H::TrailingBytes),
        ),
        (
            "two objects",
            frame(br#"{"data_size": 0}{}"#, b""),
            D::Header(H::TrailingBytes),
        ),
        (
            "invalid UTF-8",
            frame(b"{\"data_size\": 0, \"x\": \"\xff\"}", b""),
            D::Header(H::InvalidUtf8),
        ),
        (
            "not an object",
            frame(b"[1, 2]", b""),
            D::Header(H::NotAnObject),
        ),
        (
            "bad JSON",
            frame(br#"{"data_size": 2"#, b"ab"),
            D::Header(H::Syntax),
        ),
        (
            "bad escape",
            frame(br#"{"data_size":0,"x":"\q"}"#, b""),
            D::Header(H::Syntax),
        ),
        (
            "lone surrogate",
            frame(br#"{"data_size":0,"x":"\ud800"}"#, b""),
            D::Header(H::Syntax),
        ),
        (
            "depth 17",
            frame(nest(17).as_bytes(), b""),
            D::Header(H::TooDeep),
        ),
        (
            "4 KiB of [",
            frame(
                [&b"{\"data_size\":0,\"a\":"[..], &[b'['; 4070][..]].concat(),
                b"",
            ),
            D::Header(H::TooDeep),
        ),
        (
            "too large for buffer",
            frame(br#"{"data_size": 1000}"#, &[0; 1000]),
            D::BodyTooLarge {
                data_size: 1000,
                max: 4077,
            },
        ),
    ];
    let follow = frame(br#"{"data_size":2}"#, b"ok");
    for (name, bytes, want) in cases {
        let mut dec = Decoder::new(vec![0u8; 4096]).with_max_body(512);
        let want = match want {
            D::BodyTooLarge { data_size, .. } => D::BodyTooLarge {
                data_size,
                max: 512,
            },
            other => other,
        };
        let input = [bytes.clone(), follow.clone()].concat();
        let (frames, err, used) = decode_until_error(&mut dec, &input);
        assert!(frames.is_empty(), "{name}");
        assert_eq!(err, Some(want), "{name}");
        if want.is_recoverable() {
            // The decoder skips the bad frame's body and goes on.
            let (frames, err) = decode_all(&mut dec, &input[used..]);
            assert_eq!(err, None, "{name}: recovery");
            assert_eq!(frames.len(), 1, "{name}: recovery");
            assert_eq!(frames[0].1, b"ok", "{name}: recovery");
        } else {
            // A bad prefix is final.
            assert!(dec.is_failed(), "{name}");
            assert_eq!(dec.feed(&follow).1, Err(want), "{name}: stays failed");
        }
    }
}

#[test]
fn malformed_header_is_fatal_whatever_the_key_order() {
    // SPEC: a malformed header leaves the frame's end in doubt, so nothing
    // after it is read as a frame (frame smuggling), with `data_size` before
    // or after the offending part.
    let smuggled = frame(br#"{"data_size":0,"op":"get","name":"x"}"#, b"");
    let n = smuggled.len();
    for json in [
        format!(r#"{{"op":"echo","op":"echo","data_size":{n}}}"#),
        format!(r#"{{"data_size":{n},"op":"echo","op":"echo"}}"#),
        "{nope}".to_string(),
        format!(r#"{{"x":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]],"data_size":{n}}}"#),
        format!(r#"{{"data_size":{n},"x":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}}"#),
    ] {
        let mut dec = Decoder::new(vec![0u8; 256]);
        let input = [
            frame(json.as_bytes(), &smuggled),
            frame(br#"{"data_size":1}"#, b"!"),
        ]
        .concat();
        let (frames, err) = decode_all(&mut dec, &input);
        assert!(frames.is_empty(), "{json}");
        assert!(
            matches!(err, Some(DecodeError::Header(_))),
            "{json}: {err:?}"
        );
        assert!(dec.is_failed(), "{json}");
    }
}

#[test]
fn wrong_key_is_recoverable_and_skips_exactly() {
    let mut dec = Decoder::new(vec![0u8; 256]);
    let input = [
        frame(br#"{"data_size":2,"op":5}"#, b"xy"),
        frame(br#"{"data_size":1}"#, b"!"),
    ]
    .concat();
    let (_, err, used) = decode_until_error(&mut dec, &input);
    assert_eq!(
        err,
        Some(DecodeError::Request {
            error: HeaderError::InvalidField,
            data_size: 2,
            head: 4 + br#"{"data_size":2,"op":5}"#.len(),
        })
    );
    let (frames, err) = decode_all(&mut dec, &input[used..]);
    assert_eq!((frames.len(), err), (1, None));
    assert_eq!(frames[0].1, b"!");
}

#[test]
fn streaming_large_bodies() {
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut wire = vec![0u8; 10_100];
    let n = encode_frame(&mut wire, &Header::new(body.len() as u64), &body).unwrap();
    wire.truncate(n);
    for chunk in [1, 7, 64, 10_100] {
        let mut dec = Decoder::new([0u8; 64]).streaming(true);
        let mut got = Vec::new();
        let mut heads = 0;
        for piece in wire.chunks(chunk) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (used, ev) = dec.feed(rest);
                match ev.unwrap() {
                    Event::Head(h) => {
                        heads += 1;
                        assert_eq!(h.data_size, body.len() as u64);
                    }
                    Event::BodyChunk { data, remaining } => {
                        got.extend_from_slice(data);
                        assert_eq!(remaining, (body.len() - got.len()) as u64);
                    }
                    Event::Frame(_) => panic!("body cannot fit a 64-byte buffer"),
                    Event::NeedMore => {}
                }
                rest = &rest[used..];
            }
        }
        assert_eq!(
            (heads, got == body, dec.is_idle()),
            (1, true, true),
            "chunk {chunk}"
        );
    }
}

#[test]
fn skip_body_discards_the_rest() {
    let mut dec = Decoder::new([0u8; 32]).streaming(true);
    let input = [
        frame(br#"{"data_size":100}"#, &[7; 100]),
        frame(br#"{"data_size":1}"#, b"x"),
    ]
    .concat();
    let (used, ev) = dec.feed(&input);
    assert!(matches!(ev, Ok(Event::Head(_))));
    dec.skip_body();
    let (skipped, ev) = dec.feed(&input[used..used + 100]);
    assert_eq!((skipped, ev), (100, Ok(Event::NeedMore)));
    assert!(dec.is_idle());
    let (used, ev) = dec.feed(&input[used + 100..]);
    assert!(matches!(ev, Ok(Event::Frame(f)) if f.body == b"x"));
    assert_eq!(used, input.len() - 100 - 21);
}

#[test]
fn state_beyond_the_buffer_is_small() {
    let total = core::mem::size_of::<Decoder<&mut [u8]>>();
    let state = total - core::mem::size_of::<&mut [u8]>() - core::mem::size_of::<Header>();
    assert!(state <= 64, "decoder state is {state} bytes");
}
