//! `feed`, the reader path (`unfilled`/`filled`/`event`) and `parse_frame`
//! agree on any input in any chunking, in whole-frame and streaming mode;
//! every prefix of a valid frame is incomplete; frames fed whole are
//! borrowed from the input (zero copy); user serde types go through the
//! decoder, a semantic error in them being recoverable.

mod common;

use common::{DecodeEnd, Ev, by_feed, by_parse, by_reader, frame};
use jframe::{
    DecodeError, Decoder, Event, Header, HeaderError, Parse, Serde, encode_frame, parse_frame,
};
use proptest::prelude::*;

/// A frame for the generated streams: valid (with optional keys, Python's
/// spacing or jframe's), recoverable, or fatal.
fn arb_frame() -> impl Strategy<Value = Vec<u8>> {
    let body = proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        6 => (body.clone(), any::<bool>(), proptest::option::of("[a-z]{1,16}"), proptest::option::of("[ -~]{0,40}"))
            .prop_map(|(body, python, op, name)| {
                if python && op.is_none() && name.is_none() {
                    let json = format!("{{\"data_size\": {}}}", body.len());
                    return frame(json.as_bytes(), &body);
                }
                let mut h = Header::new(body.len() as u64);
                h.op = op.map(|s| s.as_str().try_into().unwrap());
                h.name = name.map(|s| s.as_str().try_into().unwrap());
                let mut out = vec![0u8; 1024 + body.len()];
                let n = encode_frame(&mut out, &h, &body).unwrap();
                out.truncate(n);
                out
            }),
        1 => body.clone().prop_map(|body| {
            let json = format!("{{\"op\":7,\"data_size\":{}}}", body.len());
            frame(json.as_bytes(), &body)
        }),
        1 => body.clone().prop_map(|body| {
            let json = format!("{{\"size\":{},\"op\":\"x\",\"zz\":[{{}}]}}", body.len());
            frame(json.as_bytes(), &body)
        }),
        1 => body.prop_map(|body| {
            let json = format!("{{\"data_size\":{},\"op\":1,\"op\":2}}", body.len());
            frame(json.as_bytes(), &body)
        }),
    ]
}

fn wire_of(frames: &[Vec<u8>], cut_tail: usize) -> Vec<u8> {
    let mut wire = frames.concat();
    let keep = wire.len() - cut_tail.min(wire.len());
    wire.truncate(keep);
    wire
}

fn decoder(mode: u8) -> Decoder<Vec<u8>> {
    match mode % 3 {
        0 => Decoder::new(vec![0u8; 1024]),
        1 => Decoder::new(vec![0u8; 1024]).streaming(true),
        // Streaming with room for the headers only: every body is streamed
        // unless it arrived whole with its header.
        _ => Decoder::new(vec![0u8; 256])
            .streaming(true)
            .with_max_body(0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The three ways of decoding agree, whatever the chunking.
    #[test]
    fn feed_reader_and_parse_frame_agree(
        frames in proptest::collection::vec(arb_frame(), 0..8),
        cut_tail in 0usize..40,
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
        sizes in proptest::collection::vec(1usize..64, 1..8),
        mode in 0u8..3,
    ) {
        let wire = wire_of(&frames, cut_tail);
        let whole = by_feed(&mut decoder(mode), &wire, &[]);
        let chunked = by_feed(&mut decoder(mode), &wire, &cuts);
        prop_assert_eq!(&whole, &chunked);
        let reader = by_reader(&mut decoder(mode), &wire, &sizes);
        prop_assert_eq!(&whole, &reader);
        let bytewise = by_reader(&mut decoder(mode), &wire, &[1]);
        prop_assert_eq!(&whole, &bytewise);
        // parse_frame knows no buffer, so compare where none is exceeded.
        let parsed = by_parse(&wire, decoder(mode).max_header());
        if mode != 0 || whole.0.iter().all(|e| !matches!(e, Ev::Err(DecodeError::BodyTooLarge { .. }))) {
            prop_assert_eq!(&whole, &parsed);
        }
    }

    /// Every proper prefix of a valid frame is incomplete, to all three.
    #[test]
    fn every_prefix_is_incomplete(frame in arb_frame().prop_filter("valid", |f| {
        Header::parse(&f[4..4 + u32::from_le_bytes(f[..4].try_into().unwrap()) as usize]).is_ok()
    }), mode in 0u8..3) {
        let hlen = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
        for cut in 0..frame.len() {
            let part = &frame[..cut];
            let mut header = Header::default();
            let want = if cut >= 4 + hlen {
                Parse::Partial { data_size: Some((frame.len() - 4 - hlen) as u64), head: Some(4 + hlen) }
            } else if cut >= 4 {
                Parse::Partial { data_size: None, head: Some(4 + hlen) }
            } else {
                Parse::Partial { data_size: None, head: None }
            };
            prop_assert_eq!(parse_frame(part, 1024, &mut header), Ok(want));
            let mut dec = decoder(mode);
            let mut rest = part;
            loop {
                let (used, ev) = dec.feed(rest);
                rest = &rest[used..];
                match ev {
                    Ok(Event::NeedMore) => break,
                    // Streaming: the head of a body that does not fit, and
                    // chunks of the body, never the last; never a frame.
                    Ok(Event::Head(_)) if mode == 2 => {}
                    Ok(Event::BodyChunk { remaining, .. }) if mode == 2 && remaining > 0 => {}
                    other => prop_assert!(false, "prefix of {} bytes: {:?}", cut, other),
                }
            }
            prop_assert!(rest.is_empty());
            prop_assert!(!dec.is_idle() || cut == 0);
            let (got, end) = by_reader(&mut decoder(mode), part, &[7]);
            prop_assert!(got.is_empty());
            prop_assert_eq!(end, if cut == 0 { DecodeEnd::Idle } else { DecodeEnd::MidFrame });
        }
    }
}

fn contains(outer: &[u8], inner: &[u8]) -> bool {
    let outer = outer.as_ptr_range();
    let inner = inner.as_ptr_range();
    outer.start <= inner.start && inner.end <= outer.end
}

#[test]
fn a_frame_fed_whole_is_borrowed_from_the_input() {
    let body: Vec<u8> = (0..200u8).collect();
    let wire = [
        frame(br#"{"data_size": 200}"#, &body),
        frame(br#"{"data_size":0,"op":"echo"}"#, b""),
        frame(br#"{"op":"greet","data_size":3}"#, b"Bob"),
    ]
    .concat();
    let mut dec = Decoder::new(vec![0u8; 512]);
    let mut rest = &wire[..];
    let mut seen = 0;
    while !rest.is_empty() {
        let (used, ev) = dec.feed(rest);
        let Ok(Event::Frame(f)) = ev else {
            panic!("{ev:?}")
        };
        assert!(contains(rest, f.header_json), "header_json copied");
        assert!(contains(rest, f.body), "body copied");
        assert_eq!(f.header_json.as_ptr(), rest[4..].as_ptr());
        seen += 1;
        rest = &rest[used..];
    }
    assert_eq!(seen, 3);

    // In pieces, the frame is gathered in the decoder's buffer instead.
    let one = frame(br#"{"data_size": 200}"#, &body);
    let mut dec = Decoder::new(vec![0u8; 512]);
    assert_eq!(dec.feed(&one[..10]), (10, Ok(Event::NeedMore)));
    let (used, ev) = dec.feed(&one[10..]);
    assert_eq!(used, one.len() - 10);
    let Ok(Event::Frame(f)) = ev else {
        panic!("{ev:?}")
    };
    assert!(!contains(&one, f.body));
    assert_eq!(f.body, &body[..]);
    let body_at = f.body.as_ptr() as usize;
    let buf = dec.into_inner();
    let range = buf.as_ptr_range();
    assert!((range.start as usize..range.end as usize).contains(&body_at));
}

#[test]
fn parse_frame_borrows_and_reports_its_length() {
    let wire = [
        frame(br#"{"data_size":2,"op":"echo"}"#, b"hi"),
        b"tail".to_vec(),
    ]
    .concat();
    let mut h = Header::default();
    let Ok(Parse::Complete {
        header_json,
        body,
        len,
    }) = parse_frame(&wire, 4096, &mut h)
    else {
        panic!()
    };
    assert_eq!(
        (header_json, body, len),
        (
            &br#"{"data_size":2,"op":"echo"}"#[..],
            &b"hi"[..],
            wire.len() - 4
        )
    );
    assert!(contains(&wire, body) && contains(&wire, header_json));
    assert_eq!(h.op(), Ok(jframe::Op::Echo));
    // The limit applies before the header is read.
    assert_eq!(
        parse_frame(&wire, 10, &mut h),
        Err(DecodeError::HeaderTooLong { len: 27, max: 10 })
    );
    // A semantic error says where the frame ends.
    let bad = frame(br#"{"data_size":2,"op":[]}"#, b"hi");
    assert_eq!(
        parse_frame(&bad, 4096, &mut h),
        Err(DecodeError::Request {
            error: HeaderError::InvalidField,
            data_size: 2,
            head: 4 + br#"{"data_size":2,"op":[]}"#.len(),
        })
    );
    assert_eq!(
        parse_frame(&bad, 4096, &mut h).unwrap_err().head_len(),
        Some(bad.len() - 2)
    );
}

#[test]
fn the_header_is_cleared_between_frames() {
    let wire = [
        frame(
            br#"{"data_size":1,"op":"echo","name":"a","status":"ok","error":"e","sha256":"ab"}"#,
            b"x",
        ),
        frame(br#"{"data_size": 1}"#, b"y"),
        frame(br#"{"data_size":1,"name":"b","zz":1}"#, b"z"),
    ]
    .concat();
    for cuts in [vec![], (0..wire.len()).collect::<Vec<_>>()] {
        let mut dec = Decoder::new(vec![0u8; 256]);
        let mut headers = Vec::new();
        for pair in common::points(wire.len(), &cuts).windows(2) {
            let mut rest = &wire[pair[0]..pair[1]];
            while !rest.is_empty() {
                let (used, ev) = dec.feed(rest);
                if let Ok(Event::Frame(f)) = ev {
                    headers.push(f.header.clone());
                }
                rest = &rest[used..];
            }
        }
        assert_eq!(headers.len(), 3);
        assert_eq!(headers[1], Header::new(1));
        assert_eq!(headers[2], Header::new(1).with_name("b").unwrap());
        assert_eq!(dec.header(), &headers[2]);
    }
}

/// An application's own header, owned.
#[derive(Debug, Default, Clone, PartialEq, serde::Deserialize)]
struct Mine {
    data_size: u64,
    tag: u32,
    #[serde(default)]
    label: Option<heapless::String<8>>,
}

#[test]
fn user_serde_types_through_the_decoder() {
    let wire = [
        frame(
            br#"{"data_size":2,"tag":7,"label":"a\"b","extra":{"x":[1]}}"#,
            b"hi",
        ),
        // Semantic errors: recoverable, the body skipped exactly.
        frame(br#"{"tag":"seven","data_size":3}"#, b"abc"),
        frame(br#"{"data_size":3}"#, b"def"),
        frame(br#"{"data_size":3,"tag":1,"label":"far too long"}"#, b"ghi"),
        frame(br#"{"data_size": 1, "tag": 8}"#, b"!"),
    ]
    .concat();
    let semantic =
        |data_size, json: &[u8]| DecodeError::request(HeaderError::Deserialize, data_size, json);
    let expect = vec![
        Ev::Frame {
            json: br#"{"data_size":2,"tag":7,"label":"a\"b","extra":{"x":[1]}}"#.to_vec(),
            body: b"hi".to_vec(),
        },
        Ev::Err(semantic(3, br#"{"tag":"seven","data_size":3}"#)),
        Ev::Err(semantic(3, br#"{"data_size":3}"#)),
        Ev::Err(semantic(
            3,
            br#"{"data_size":3,"tag":1,"label":"far too long"}"#,
        )),
        Ev::Frame {
            json: br#"{"data_size": 1, "tag": 8}"#.to_vec(),
            body: b"!".to_vec(),
        },
    ];
    for cuts in [
        vec![],
        (0..wire.len()).collect::<Vec<_>>(),
        vec![5, 50, 51, 90],
    ] {
        let mut dec = Decoder::with_header(vec![0u8; 256], Serde(Mine::default()));
        assert_eq!(
            by_feed(&mut dec, &wire, &cuts),
            (expect.clone(), DecodeEnd::Idle)
        );
        assert_eq!(
            dec.header().0,
            Mine {
                data_size: 1,
                tag: 8,
                label: None
            }
        );
        let mut dec = Decoder::with_header(vec![0u8; 256], Serde(Mine::default()));
        assert_eq!(
            by_reader(&mut dec, &wire, &cuts),
            (expect.clone(), DecodeEnd::Idle)
        );
    }
    let mut dec = Decoder::with_header(vec![0u8; 256], Serde(Mine::default()));
    let (_, ev) = dec.feed(&wire);
    let Ok(Event::Frame(f)) = ev else { panic!() };
    assert_eq!(
        f.header.0,
        Mine {
            data_size: 2,
            tag: 7,
            label: Some("a\"b".try_into().unwrap())
        }
    );

    // Malformed headers stay fatal for user types.
    for json in [
        &br#"{"data_size":1,"tag":1,"tag":2}"#[..],
        br#"{"tag":1,"data_size":-1}"#,
        br#"{"tag":1}"#,
        br#"{"data_size":1,"tag":1} x"#,
    ] {
        let wire = [frame(json, b"!"), frame(br#"{"data_size":0,"tag":0}"#, b"")].concat();
        let mut dec = Decoder::with_header(vec![0u8; 256], Serde(Mine::default()));
        let (got, end) = by_feed(&mut dec, &wire, &[3]);
        assert_eq!(end, DecodeEnd::Failed, "{}", String::from_utf8_lossy(json));
        assert!(
            matches!(got[..], [Ev::Err(DecodeError::Header(_))]),
            "{got:?}"
        );
    }
}

/// A header JSON mixing SPEC's keys with values of every kind: strings
/// plain, escaped, at and over their capacities, of the wrong type.
fn arb_header_json() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("op"),
        Just("name"),
        Just("status"),
        Just("error"),
        Just("sha256"),
        Just("x"),
        Just("size"),
    ];
    let value = prop_oneof![
        Just("\"echo\"".to_string()),
        Just("\"ok\"".to_string()),
        Just("\"bad_frame\"".to_string()),
        Just("\"weird\"".to_string()),
        Just("\"gr\\u0065et\"".to_string()),
        Just("\"caf\\u00e9\"".to_string()),
        Just("5".to_string()),
        Just("[1,{\"a\":null}]".to_string()),
        (0usize..300).prop_map(|n| format!("\"{}\"", "a".repeat(n))),
        (0usize..140).prop_map(|n| format!("\"{}\"", "\\n".repeat(n))),
        (0usize..70).prop_map(|n| format!("\"{}\"", "é".repeat(n))),
    ];
    let members = proptest::collection::vec((key, value), 0..5);
    (any::<bool>(), 0u64..1000, members).prop_map(|(spaced, size, members)| {
        let sep = if spaced { ", " } else { "," };
        let colon = if spaced { ": " } else { ":" };
        let mut json = format!("{{\"data_size\"{colon}{size}");
        for (k, v) in members {
            json.push_str(&format!("{sep}\"{k}\"{colon}{v}"));
        }
        json.push('}');
        json
    })
}

proptest! {
    /// `CompactHeader` validates as `Header` does (same result, same
    /// error) and reads the same `data_size`, `op` and `status`: a request
    /// gets the same answer from a server on either.
    #[test]
    fn compact_header_agrees_with_header(json in arb_header_json()) {
        use jframe::{CompactHeader, ParseHeader};
        let (mut full, mut compact) = (Header::default(), CompactHeader::default());
        let (a, b) = (full.parse_into(json.as_bytes()), compact.parse_into(json.as_bytes()));
        prop_assert_eq!(a, b, "{}", json);
        if a.is_ok() {
            prop_assert_eq!(full.data_size, compact.data_size);
            prop_assert_eq!(full.op(), compact.op());
            prop_assert_eq!(full.status(), compact.status());
        }
    }
}
