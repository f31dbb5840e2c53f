//! SPEC "Errors and recovery", case by case: every malformed header is
//! fatal whether `data_size` comes before or after the offending part, fed
//! whole or in any pieces, through `feed`, the reader path
//! (`unfilled`/`filled`) and `parse_frame`; and a well-formed header with a
//! wrong key skips exactly `data_size` bytes and decoding goes on.

mod common;

use common::{DecodeEnd, Ev, by_feed, by_parse, by_reader, frame};
use jframe::{DecodeError, Decoder, HeaderError, Status};
use proptest::prelude::*;

/// A frame that must never be decoded: it is what a smuggler hides in the
/// body of the frame before it.
fn smuggled() -> Vec<u8> {
    frame(br#"{"data_size":0,"op":"get","name":"secret"}"#, b"")
}

/// The frame that follows; decoded only after a recoverable error.
fn follower() -> Vec<u8> {
    frame(br#"{"data_size":1}"#, b"!")
}

/// `{ data_size: n, part }` and `{ part, data_size: n }`.
fn both_orders(part: &[u8], n: usize) -> [Vec<u8>; 2] {
    let size = format!("\"data_size\":{n}");
    let before = [b"{", size.as_bytes(), b",", part, b"}"].concat();
    let after = [b"{", part, b",", size.as_bytes(), b"}"].concat();
    [before, after]
}

/// Every fatal header of SPEC, each whose body (if believed) is the
/// smuggled frame: (name, header JSON, expected error).
fn fatal_headers() -> Vec<(String, Vec<u8>, HeaderError)> {
    let n = smuggled().len();
    let mut cases = Vec::new();
    let mut add = |name: &str, part: &[u8], error: HeaderError| {
        for (i, json) in both_orders(part, n).into_iter().enumerate() {
            let order = ["data_size first", "data_size last"][i];
            cases.push((format!("{name}, {order}"), json, error));
        }
    };
    add(
        "not UTF-8 (value)",
        b"\"x\":\"\xff\"",
        HeaderError::InvalidUtf8,
    );
    add(
        "not UTF-8 (key)",
        b"\"\xc3\x28\":1",
        HeaderError::InvalidUtf8,
    );
    add(
        "overlong UTF-8",
        b"\"x\":\"\xc0\xaf\"",
        HeaderError::InvalidUtf8,
    );
    add("syntax: bare word", b"nope", HeaderError::Syntax);
    add("syntax: bad escape", b"\"x\":\"\\q\"", HeaderError::Syntax);
    add(
        "syntax: lone surrogate",
        b"\"x\":\"\\ud800\"",
        HeaderError::Syntax,
    );
    add(
        "syntax: raw control",
        b"\"x\":\"a\x01\"",
        HeaderError::Syntax,
    );
    add("syntax: leading zero", b"\"x\":01", HeaderError::Syntax);
    let deep = format!("\"x\":{}1{}", "[".repeat(16), "]".repeat(16));
    add("nesting 17", deep.as_bytes(), HeaderError::TooDeep);
    let deep_obj = format!("\"x\":{}1{}", "{\"a\":".repeat(16), "}".repeat(16));
    add(
        "nesting 17 (objects)",
        deep_obj.as_bytes(),
        HeaderError::TooDeep,
    );
    let keys: Vec<String> = (0..64).map(|i| format!("\"k{i}\":{i}")).collect();
    add(
        "65 keys",
        keys.join(",").as_bytes(),
        HeaderError::TooManyKeys,
    );
    add(
        "duplicate key",
        b"\"op\":\"echo\",\"op\":\"upper\"",
        HeaderError::DuplicateKey,
    );
    add(
        "escaped duplicate key",
        b"\"op\":\"echo\",\"\\u006fp\":\"upper\"",
        HeaderError::DuplicateKey,
    );
    add(
        "escaped duplicate key (\\/)",
        b"\"a/b\":1,\"a\\/b\":2",
        HeaderError::DuplicateKey,
    );
    add(
        "duplicate data_size",
        b"\"data_size\":0",
        HeaderError::DuplicateKey,
    );
    add(
        "escaped duplicate data_size",
        b"\"d\\u0061ta_size\":0",
        HeaderError::DuplicateKey,
    );
    for bad in [
        &b"-1"[..],
        b"1.5",
        b"1e3",
        b"\"5\"",
        b"null",
        b"true",
        b"[1]",
        b"{\"n\":1}",
        b"18446744073709551616",
    ] {
        let name = format!("size = {}", String::from_utf8_lossy(bad));
        add(
            &name,
            &[b"\"size\":", bad].concat(),
            HeaderError::InvalidDataSize,
        );
    }
    add(
        &format!("size = {}", n + 1),
        format!("\"size\":{}", n + 1).as_bytes(),
        HeaderError::SizeMismatch,
    );
    add("size = 0", b"\"size\":0", HeaderError::SizeMismatch);

    // Shapes that do not fit the before/after template.
    let n_str = n.to_string();
    let mut add1 = |name: &str, json: Vec<u8>, error: HeaderError| {
        cases.push((name.to_string(), json, error));
    };
    for bad in [
        "-1",
        "1.5",
        "1e3",
        "\"5\"",
        "null",
        "true",
        "[1]",
        "18446744073709551616",
        "-0",
    ] {
        let json = format!("{{\"op\":\"echo\",\"data_size\":{bad}}}");
        add1(
            &format!("data_size = {bad}"),
            json.into_bytes(),
            HeaderError::InvalidDataSize,
        );
        let json = format!("{{\"data_size\":{bad},\"op\":\"echo\"}}");
        add1(
            &format!("data_size = {bad}, first"),
            json.into_bytes(),
            HeaderError::InvalidDataSize,
        );
    }
    add1(
        "data_size missing",
        br#"{"op":"echo"}"#.to_vec(),
        HeaderError::MissingDataSize,
    );
    add1("empty object", b"{}".to_vec(), HeaderError::MissingDataSize);
    add1(
        "data_size only nested",
        br#"{"x":{"data_size":3}}"#.to_vec(),
        HeaderError::MissingDataSize,
    );
    add1(
        "data_size misspelled",
        format!("{{\"Data_size\":{n_str}}}").into_bytes(),
        HeaderError::MissingDataSize,
    );
    add1(
        "not an object (array)",
        format!("[{{\"data_size\":{n_str}}}]").into_bytes(),
        HeaderError::NotAnObject,
    );
    add1(
        "not an object (string)",
        format!("\"data_size\":{n_str}").into_bytes(),
        HeaderError::NotAnObject,
    );
    add1(
        "two objects, data_size in the first",
        format!("{{\"data_size\":{n_str}}}{{\"a\":1}}").into_bytes(),
        HeaderError::TrailingBytes,
    );
    add1(
        "two objects, data_size in the second",
        format!("{{\"a\":1}}{{\"data_size\":{n_str}}}").into_bytes(),
        HeaderError::TrailingBytes,
    );
    add1(
        "trailing bytes after the object",
        format!("{{\"data_size\":{n_str}}} x").into_bytes(),
        HeaderError::TrailingBytes,
    );
    add1(
        "trailing bytes before data_size",
        format!("{{\"a\":1}},\"data_size\":{n_str}}}").into_bytes(),
        HeaderError::TrailingBytes,
    );
    add1(
        "unterminated object",
        format!("{{\"data_size\":{n_str},   ").into_bytes(),
        HeaderError::Syntax,
    );
    cases
}

/// Well-formed headers with a wrong key: (name, header JSON, expected error).
fn recoverable_headers() -> Vec<(String, Vec<u8>, HeaderError)> {
    let n = smuggled().len();
    let mut cases = Vec::new();
    let long_name = format!("\"name\":\"{}\"", "n".repeat(257));
    let long_escaped = format!("\"name\":\"{}\"", "\\u00e9".repeat(129)); // 258 bytes
    let parts: [(&str, &[u8], HeaderError); 9] = [
        (
            "op of wrong type (number)",
            b"\"op\":5",
            HeaderError::InvalidField,
        ),
        (
            "op of wrong type (null)",
            b"\"op\":null",
            HeaderError::InvalidField,
        ),
        (
            "op of wrong type (object)",
            b"\"op\":{\"a\":[1]}",
            HeaderError::InvalidField,
        ),
        (
            "status of wrong type",
            b"\"status\":true",
            HeaderError::InvalidField,
        ),
        (
            "name of wrong type",
            b"\"name\":[\"a\"]",
            HeaderError::InvalidField,
        ),
        (
            "name too long (257 bytes)",
            long_name.as_bytes(),
            HeaderError::FieldTooLong,
        ),
        (
            "name too long (escaped)",
            long_escaped.as_bytes(),
            HeaderError::FieldTooLong,
        ),
        (
            "op too long",
            b"\"op\":\"abcdefghijklmnopq\"",
            HeaderError::FieldTooLong,
        ),
        (
            "error too long",
            &[b"\"error\":\"", &[b'e'; 129][..], b"\""].concat(),
            HeaderError::FieldTooLong,
        ),
    ];
    for (name, part, error) in parts {
        for (i, json) in both_orders(part, n).into_iter().enumerate() {
            let order = ["data_size first", "data_size last"][i];
            cases.push((format!("{name}, {order}"), json, error));
        }
    }
    cases
}

/// Headers that are fine: unknown keys of every shape, the `size` alias,
/// a name of exactly 256 bytes.
fn fine_headers() -> Vec<Vec<u8>> {
    let n = smuggled().len();
    let name256 = format!("\"name\":\"{}\"", "n".repeat(256));
    let deep16 = format!("\"x\":{}1{}", "[".repeat(15), "]".repeat(15));
    let keys: Vec<String> = (0..63).map(|i| format!("\"k{i}\":{i}")).collect();
    let parts: Vec<Vec<u8>> = vec![
        b"\"zzz\":{\"a\":[1,2,{\"b\":null}],\"op\":5}".to_vec(),
        b"\"unknown\":\"\\ud83d\\ude00\"".to_vec(),
        b"\"op\":\"dance\"".to_vec(),
        format!("\"size\":{n}").into_bytes(),
        name256.into_bytes(),
        deep16.into_bytes(),
        keys.join(",").into_bytes(),
        b"\"f\":-1.5e+3,\"t\":true,\"e\":[]".to_vec(),
    ];
    let mut out = Vec::new();
    for part in parts {
        out.extend(both_orders(&part, n));
    }
    out.push(format!(" {{ \"data_size\" : {n} }} \r\n\t").into_bytes());
    out.push(format!("{{\"size\": {n}}}").into_bytes());
    out
}

fn decoders() -> [Decoder<Vec<u8>>; 2] {
    [
        Decoder::new(vec![0u8; 2048]),
        // Streaming, with a buffer the smuggled body does not fit after a
        // long header.
        Decoder::new(vec![0u8; 1100])
            .streaming(true)
            .with_max_body(8),
    ]
}

fn check_fatal(name: &str, json: &[u8], want: HeaderError, cuts: &[usize]) {
    let wire = [frame(json, &smuggled()), follower()].concat();
    let expect = vec![Ev::Err(DecodeError::Header(want))];
    for mut dec in decoders() {
        let (got, end) = by_feed(&mut dec, &wire, cuts);
        assert_eq!(
            (&got, end),
            (&expect, DecodeEnd::Failed),
            "{name}: feed, cuts {cuts:?}"
        );
    }
    for mut dec in decoders() {
        let (got, end) = by_reader(&mut dec, &wire, cuts);
        assert_eq!(
            (&got, end),
            (&expect, DecodeEnd::Failed),
            "{name}: reader, sizes {cuts:?}"
        );
    }
    assert_eq!(
        by_parse(&wire, 4096),
        (expect, DecodeEnd::Failed),
        "{name}: parse_frame"
    );
}

fn check_recoverable(name: &str, json: &[u8], want: HeaderError, cuts: &[usize]) {
    let n = smuggled().len() as u64;
    let wire = [frame(json, &smuggled()), follower()].concat();
    let expect = vec![
        Ev::Err(DecodeError::request(want, n, json)),
        Ev::Frame {
            json: br#"{"data_size":1}"#.to_vec(),
            body: b"!".to_vec(),
        },
    ];
    for mut dec in decoders() {
        let (got, end) = by_feed(&mut dec, &wire, cuts);
        assert_eq!(
            (&got, end),
            (&expect, DecodeEnd::Idle),
            "{name}: feed, cuts {cuts:?}"
        );
    }
    for mut dec in decoders() {
        let (got, end) = by_reader(&mut dec, &wire, cuts);
        assert_eq!(
            (&got, end),
            (&expect, DecodeEnd::Idle),
            "{name}: reader, sizes {cuts:?}"
        );
    }
    assert_eq!(
        by_parse(&wire, 4096),
        (expect, DecodeEnd::Idle),
        "{name}: parse_frame"
    );
}

#[test]
fn fatal_headers_whole_and_byte_by_byte() {
    let cases = fatal_headers();
    assert!(cases.len() > 60);
    for (name, json, want) in &cases {
        check_fatal(name, json, *want, &[]);
        let bytewise: Vec<usize> = (0..600).collect();
        check_fatal(name, json, *want, &bytewise);
        let e = DecodeError::Header(*want);
        assert!(
            !e.is_recoverable() && e.status() == Status::BadFrame,
            "{name}"
        );
    }
}

#[test]
fn recoverable_headers_whole_and_byte_by_byte() {
    for (name, json, want) in &recoverable_headers() {
        check_recoverable(name, json, *want, &[]);
        let bytewise: Vec<usize> = (0..900).collect();
        check_recoverable(name, json, *want, &bytewise);
        let e = DecodeError::request(*want, 0, json);
        assert!(
            e.is_recoverable() && e.status() == Status::BadRequest,
            "{name}"
        );
    }
}

#[test]
fn unknown_keys_are_fine() {
    let n = smuggled().len();
    for json in fine_headers() {
        let wire = [frame(&json, &smuggled()), follower()].concat();
        let expect = vec![
            Ev::Frame {
                json: json.clone(),
                body: smuggled(),
            },
            Ev::Frame {
                json: br#"{"data_size":1}"#.to_vec(),
                body: b"!".to_vec(),
            },
        ];
        for cuts in [vec![], (0..wire.len()).collect()] {
            for mut dec in decoders() {
                let (got, end) = by_feed(&mut dec, &wire, &cuts);
                assert_eq!(
                    (&got, end),
                    (&expect, DecodeEnd::Idle),
                    "{}",
                    String::from_utf8_lossy(&json)
                );
            }
        }
        assert_eq!(by_parse(&wire, 4096), (expect, DecodeEnd::Idle));
        let mut dec = Decoder::new(vec![0u8; 2048]);
        let (_, ev) = dec.feed(&wire);
        match ev.unwrap() {
            jframe::Event::Frame(f) => assert_eq!(f.header.data_size, n as u64),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn body_too_large_skips_exactly_and_goes_on() {
    let wire = [frame(br#"{"data_size":42}"#, &smuggled()[..42]), follower()].concat();
    let mut dec = Decoder::new(vec![0u8; 2048]).with_max_body(41);
    let (got, end) = by_feed(&mut dec, &wire, &[7, 19, 30]);
    assert_eq!(end, DecodeEnd::Idle);
    assert_eq!(
        got[0],
        Ev::Err(DecodeError::BodyTooLarge {
            data_size: 42,
            max: 41
        })
    );
    assert_eq!(got.len(), 2);
    assert_eq!(
        DecodeError::BodyTooLarge {
            data_size: 42,
            max: 41
        }
        .status(),
        Status::TooLarge
    );
}

#[test]
fn prefix_out_of_range_is_fatal() {
    for (prefix, want) in [
        (-5i32, DecodeError::HeaderTooShort { len: -5 }),
        (0, DecodeError::HeaderTooShort { len: 0 }),
        (1, DecodeError::HeaderTooShort { len: 1 }),
        (i32::MIN, DecodeError::HeaderTooShort { len: i32::MIN }),
        (
            2049,
            DecodeError::HeaderTooLong {
                len: 2049,
                max: 2048,
            },
        ),
    ] {
        let wire = [&prefix.to_le_bytes()[..], &follower()].concat();
        for cuts in [vec![], vec![1, 2, 3, 4, 5]] {
            let mut dec = Decoder::new(vec![0u8; 2048]);
            assert_eq!(
                by_feed(&mut dec, &wire, &cuts),
                (vec![Ev::Err(want)], DecodeEnd::Failed)
            );
            let mut dec = Decoder::new(vec![0u8; 2048]);
            assert_eq!(
                by_reader(&mut dec, &wire, &cuts),
                (vec![Ev::Err(want)], DecodeEnd::Failed)
            );
        }
        assert_eq!(
            by_parse(&wire, 2048),
            (vec![Ev::Err(want)], DecodeEnd::Failed)
        );
    }
}

fn all_cases() -> Vec<(String, Vec<u8>, HeaderError, bool)> {
    let mut all: Vec<_> = fatal_headers()
        .into_iter()
        .map(|(n, j, e)| (n, j, e, true))
        .collect();
    all.extend(
        recoverable_headers()
            .into_iter()
            .map(|(n, j, e)| (n, j, e, false)),
    );
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every case, in every chunking: the same verdict.
    #[test]
    fn every_case_in_any_chunking(
        pick in any::<proptest::sample::Index>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let all = all_cases();
        let (name, json, want, fatal) = &all[pick.index(all.len())];
        if *fatal {
            check_fatal(name, json, *want, &cuts);
        } else {
            check_recoverable(name, json, *want, &cuts);
        }
    }
}
