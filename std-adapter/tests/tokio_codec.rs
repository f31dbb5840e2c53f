//! The tokio-util codec (feature `tokio`): over a real socket with
//! Python-style frames, and driven directly for chunking and skipping.
#![cfg(feature = "tokio")]

mod common;

use bytes::{Bytes, BytesMut};
use common::raw_frame;
use futures::{SinkExt, StreamExt};
use jframe::{Header, Op};
use jframe_std::codec::{Incoming, JframeCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};

/// One line per item: what a test compares.
fn describe(item: Result<Incoming, std::io::Error>) -> String {
    match item {
        Ok(Incoming::Frame {
            header,
            header_json,
            body,
        }) => format!(
            "{:?}:{}:{}",
            header.op(),
            String::from_utf8_lossy(&header_json),
            String::from_utf8_lossy(&body)
        ),
        Ok(Incoming::Rejected(e)) => format!("rejected:{}", e.status()),
        Err(e) => format!("fatal:{}", e.kind()),
    }
}

/// A stream exercising every path: Python's spacing, the old `size`
/// dialect, a bad request, a body over the limit (16 bytes here), an empty
/// body, a body that arrives in pieces, then a fatal prefix.
fn mixed_stream() -> Vec<u8> {
    let mut wire = Vec::new();
    wire.extend(raw_frame(r#"{"data_size": 2}"#, b"hi"));
    wire.extend(raw_frame(r#"{"size": 2}"#, b"yo"));
    wire.extend(raw_frame(r#"{"data_size":2,"op":5}"#, b"xy"));
    wire.extend(raw_frame(r#"{"data_size": 3, "op": "shout"}"#, b"abc"));
    wire.extend(raw_frame(r#"{"data_size":100}"#, &[b'x'; 100]));
    wire.extend(raw_frame(r#"{"data_size":0,"op":"echo"}"#, b""));
    wire.extend(raw_frame(
        r#"{"data_size":16,"op":"echo"}"#,
        b"0123456789abcdef",
    ));
    wire.extend((-5i32).to_le_bytes());
    wire
}

fn mixed_expected() -> Vec<&'static str> {
    vec![
        r#"Ok(Upper):{"data_size": 2}:hi"#,
        r#"Ok(Upper):{"size": 2}:yo"#,
        "rejected:bad_request",
        // An unknown op is well-formed: the frame is the server's to refuse.
        r#"Err("shout"):{"data_size": 3, "op": "shout"}:abc"#,
        "rejected:too_large",
        r#"Ok(Echo):{"data_size":0,"op":"echo"}:"#,
        r#"Ok(Echo):{"data_size":16,"op":"echo"}:0123456789abcdef"#,
        "fatal:invalid data",
    ]
}

/// Feeds `wire` to a fresh codec in `chunk`-byte pieces, as FramedRead
/// would (decode until `None` after every read), and lists the items.
fn decode_in_chunks(wire: &[u8], chunk: usize, max_body: usize) -> Vec<String> {
    let mut codec = JframeCodec::new(4096, max_body);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => got.push(describe(Ok(item))),
                Ok(None) => break,
                Err(e) => {
                    got.push(describe(Err(e)));
                    return got;
                }
            }
        }
    }
    got
}

#[test]
fn any_chunking_gives_the_same_items() {
    let wire = mixed_stream();
    let want = mixed_expected();
    for chunk in [1, 2, 3, 4, 5, 7, 13, 17, 64, 1000, wire.len()] {
        assert_eq!(
            decode_in_chunks(&wire, chunk, 16),
            want,
            "chunks of {chunk}"
        );
    }
}

#[test]
fn op_of_the_wrong_type_is_bad_request_and_decoding_goes_on() {
    let mut wire = raw_frame(r#"{"data_size":2,"op":5}"#, b"xy");
    wire.extend(raw_frame(r#"{"data_size":2}"#, b"ok"));
    assert_eq!(
        decode_in_chunks(&wire, wire.len(), 1024),
        ["rejected:bad_request", r#"Ok(Upper):{"data_size":2}:ok"#]
    );
}

#[test]
fn a_frame_is_cut_out_without_copying_its_body() {
    let wire = raw_frame(r#"{"data_size":5,"op":"echo"}"#, b"hello");
    let mut buf = BytesMut::from(&wire[..]);
    let body_at = buf.as_ptr() as usize + wire.len() - 5;
    let mut codec = JframeCodec::default();
    let Some(Incoming::Frame { body, .. }) = codec.decode(&mut buf).unwrap() else {
        panic!("expected a frame");
    };
    assert_eq!(&body[..], b"hello");
    assert_eq!(
        body.as_ptr() as usize,
        body_at,
        "the body is a slice of the read buffer"
    );
    assert!(buf.is_empty());
}

#[test]
fn a_partial_body_reserves_exactly_the_rest_of_its_frame() {
    let head = raw_frame(r#"{"data_size":10000}"#, b"");
    let mut codec = JframeCodec::new(4096, 10_000);
    let mut buf = BytesMut::from(&head[..]);
    buf.extend_from_slice(&[b'a'; 100]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() >= head.len() + 10_000);
    // The rest arrives in pieces; the header is not parsed again (its bytes
    // are not even looked at: corrupting them now changes nothing).
    buf[0] = 0xff;
    for _ in 0..98 {
        buf.extend_from_slice(&[b'a'; 100]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }
    buf.extend_from_slice(&[b'a'; 100]);
    let Some(Incoming::Frame { body, .. }) = codec.decode(&mut buf).unwrap() else {
        panic!("expected the frame");
    };
    assert_eq!(body.len(), 10_000);
}

#[test]
fn a_16_mib_declared_body_is_skipped_without_growing_the_buffer() {
    const DECLARED: usize = 16 << 20;
    const CHUNK: usize = 64 * 1024;
    let mut codec = JframeCodec::new(4096, 64 * 1024);
    let mut buf = BytesMut::with_capacity(CHUNK);
    buf.extend_from_slice(&raw_frame(&format!(r#"{{"data_size":{DECLARED}}}"#), b""));
    let mut items = Vec::new();
    let body = vec![b'z'; CHUNK];
    let mut max_capacity = 0;
    let mut sent = 0;
    while sent < DECLARED {
        let n = CHUNK.min(DECLARED - sent);
        buf.extend_from_slice(&body[..n]);
        sent += n;
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            items.push(describe(Ok(item)));
        }
        max_capacity = max_capacity.max(buf.capacity());
    }
    assert_eq!(codec.skipping(), 0);
    buf.extend_from_slice(&raw_frame(r#"{"data_size":2}"#, b"ok"));
    while let Some(item) = codec.decode(&mut buf).unwrap() {
        items.push(describe(Ok(item)));
    }
    assert_eq!(
        items,
        ["rejected:too_large", r#"Ok(Upper):{"data_size":2}:ok"#]
    );
    assert!(
        max_capacity <= 4 * CHUNK,
        "read buffer grew to {max_capacity} bytes while skipping"
    );
}

#[tokio::test]
async fn codec_round_trips_and_recovers_over_a_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let wire = mixed_stream();
        // Everything but the fatal prefix, then our own encoder, then it.
        let (frames, fatal) = wire.split_at(wire.len() - 4);
        s.write_all(frames).await.unwrap();
        let mut w = FramedWrite::new(s, JframeCodec::default());
        w.send((Header::request(Op::Echo, 3), Bytes::from_static(b"abc")))
            .await
            .unwrap();
        w.into_inner().write_all(fatal).await.unwrap();
    });
    let (sock, _) = listener.accept().await.unwrap();
    let mut r = FramedRead::new(sock, JframeCodec::new(4096, 16));
    let mut got = Vec::new();
    while let Some(item) = r.next().await {
        let fatal = item.is_err();
        got.push(describe(item));
        if fatal {
            break;
        }
    }
    client.await.unwrap();
    let mut want = mixed_expected();
    want.insert(7, r#"Ok(Echo):{"data_size":3,"op":"echo"}:abc"#);
    assert_eq!(got, want);
}
