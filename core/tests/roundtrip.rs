//! Property tests: any chunking of any frame sequence decodes to the same
//! frames, and decode(encode(f)) == f.

use jframe::{Decoder, Event, Header, encode_frame};
use proptest::prelude::*;

fn opt_string(max: usize) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(proptest::string::string_regex(&format!("(?s).{{0,{max}}}")).unwrap())
}

fn arb_frame() -> impl Strategy<Value = (Header, Vec<u8>)> {
    (
        opt_string(4),
        opt_string(40),
        opt_string(4),
        opt_string(30),
        proptest::option::of("[0-9a-f]{64}"),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_filter_map("fits capacities", |(op, name, status, error, sha, body)| {
            let fit = |s: Option<String>, cap: usize| match s {
                Some(s) if s.len() > cap => Err(()),
                Some(s) => Ok(Some(s)),
                None => Ok(None),
            };
            let mut h = Header::new(body.len() as u64);
            h.op = fit(op, 16).ok()?.map(|s| s.as_str().try_into().unwrap());
            h.name = fit(name, 256).ok()?.map(|s| s.as_str().try_into().unwrap());
            h.status = fit(status, 16)
                .ok()?
                .map(|s| s.as_str().try_into().unwrap());
            h.error = fit(error, 128)
                .ok()?
                .map(|s| s.as_str().try_into().unwrap());
            h.sha256 = sha.map(|s| s.as_str().try_into().unwrap());
            Some((h, body))
        })
}

fn encode(frames: &[(Header, Vec<u8>)]) -> Vec<u8> {
    let mut wire = Vec::new();
    for (h, body) in frames {
        let mut out = vec![0u8; 2048 + body.len()];
        let n = encode_frame(&mut out, h, body).unwrap();
        wire.extend_from_slice(&out[..n]);
    }
    wire
}

fn decode_chunked(wire: &[u8], cuts: &[usize], buf: usize) -> Vec<(Header, Vec<u8>)> {
    let mut dec = Decoder::new(vec![0u8; buf]).streaming(true);
    let mut out = Vec::new();
    let mut streamed: Option<(Header, Vec<u8>)> = None;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(0);
    points.push(wire.len());
    points.sort_unstable();
    for pair in points.windows(2) {
        let mut chunk = &wire[pair[0]..pair[1]];
        loop {
            let (used, ev) = dec.feed(chunk);
            assert!(used <= chunk.len());
            match ev.expect("valid frames decode") {
                Event::NeedMore => {
                    assert_eq!(used, chunk.len());
                    break;
                }
                Event::Frame(f) => out.push((f.header.clone(), f.body.to_vec())),
                Event::Head(h) => streamed = Some((h.header.clone(), Vec::new())),
                Event::BodyChunk { data, remaining } => {
                    let (_, body) = streamed.as_mut().expect("head before chunks");
                    body.extend_from_slice(data);
                    if remaining == 0 {
                        out.push(streamed.take().unwrap());
                    }
                }
            }
            chunk = &chunk[used..];
        }
    }
    assert!(dec.is_idle());
    out
}

proptest! {
    #[test]
    fn any_chunking_yields_the_same_frames(
        frames in proptest::collection::vec(arb_frame(), 0..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        buf in 600usize..1200,
    ) {
        let wire = encode(&frames);
        prop_assert_eq!(decode_chunked(&wire, &cuts, buf), frames.clone());
        // One byte at a time, too.
        let every: Vec<usize> = (0..wire.len()).collect();
        prop_assert_eq!(decode_chunked(&wire, &every, buf), frames);
    }

    #[test]
    fn decode_of_encode_is_identity((header, body) in arb_frame()) {
        let wire = encode(&[(header.clone(), body.clone())]);
        let mut dec = Decoder::new(vec![0u8; wire.len()]);
        let (used, ev) = dec.feed(&wire);
        prop_assert_eq!(used, wire.len());
        match ev.unwrap() {
            Event::Frame(f) => {
                prop_assert_eq!(f.header.clone(), header);
                prop_assert_eq!(f.body, &body[..]);
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut dec = Decoder::new([0u8; 128]).streaming(true);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.extend([0, bytes.len()]);
        points.sort_unstable();
        for pair in points.windows(2) {
            let mut chunk = &bytes[pair[0]..pair[1]];
            for _ in 0..10_000 {
                let (used, ev) = dec.feed(chunk);
                prop_assert!(used <= chunk.len());
                let stop = matches!(ev, Ok(Event::NeedMore)) || (used == 0 && ev.is_err());
                chunk = &chunk[used..];
                if stop {
                    break;
                }
            }
        }
    }
}
