//! The embedded-io helpers (`io::blocking`, `io::asynch`) over in-memory
//! streams with short reads: they read what the decoder reads, stream and
//! skip bodies, and report a close mid-frame and a bad prefix (SPEC "Errors
//! and recovery").

mod common;

use common::{Chunked, block_on};
use jframe::io::{Received, asynch, blocking};
use jframe::{Decoder, Header, Op, ReadError};

fn wire() -> Vec<u8> {
    let mut out = Vec::new();
    let mut scratch = [0u8; 1024];
    blocking::write_frame(
        &mut out,
        &mut scratch,
        &Header::request(Op::Echo, 5),
        b"hello",
    )
    .unwrap();
    let big = vec![b'x'; 3000];
    blocking::write_frame(&mut out, &mut scratch, &Header::new(3000), &big).unwrap();
    blocking::write_frame(&mut out, &mut scratch, &Header::new(0), b"").unwrap();
    out
}

#[test]
fn blocking_reads_pipelined_frames_and_streams_big_bodies() {
    let wire = wire();
    for step in [1, 3, 4096] {
        let mut reader = Chunked::new(&wire, &[step]);
        let mut dec = Decoder::new([0u8; 512]).streaming(true);
        match blocking::read_frame(&mut reader, &mut dec).unwrap() {
            Some(Received::Frame(f)) => {
                assert_eq!(f.header.clone().op(), Ok(Op::Echo));
                assert_eq!(f.body, b"hello");
            }
            other => panic!("{other:?}"),
        }
        match blocking::read_frame(&mut reader, &mut dec).unwrap() {
            Some(Received::Head(h)) => assert_eq!(h.data_size, 3000),
            other => panic!("{other:?}"),
        }
        let mut body = Vec::new();
        let mut buf = [0u8; 100];
        while let Some(chunk) = blocking::read_body(&mut reader, &mut dec, &mut buf).unwrap() {
            body.extend_from_slice(chunk);
        }
        assert_eq!(body, vec![b'x'; 3000]);
        assert!(matches!(
            blocking::read_frame(&mut reader, &mut dec).unwrap(),
            Some(Received::Frame(f)) if f.body.is_empty()
        ));
        assert_eq!(
            blocking::read_frame(&mut reader, &mut dec).unwrap(),
            None,
            "clean close"
        );
    }
}

#[test]
fn blocking_skips_an_unread_streamed_body() {
    let wire = wire();
    let mut reader = Chunked::new(&wire, &[7]);
    let mut dec = Decoder::new([0u8; 512]).streaming(true);
    blocking::read_frame(&mut reader, &mut dec).unwrap();
    assert!(matches!(
        blocking::read_frame(&mut reader, &mut dec).unwrap(),
        Some(Received::Head(_))
    ));
    // Not reading the body: the next read_frame skips it.
    assert!(matches!(
        blocking::read_frame(&mut reader, &mut dec).unwrap(),
        Some(Received::Frame(f)) if f.body.is_empty()
    ));
}

#[test]
fn blocking_eof_mid_frame_is_an_error() {
    let wire = wire();
    for cut in [1, 10, 25] {
        let mut reader = Chunked::new(&wire[..cut], &[64]);
        let mut dec = Decoder::new([0u8; 512]);
        assert_eq!(
            blocking::read_frame(&mut reader, &mut dec),
            Err(ReadError::UnexpectedEof),
            "{cut}"
        );
    }
}

#[test]
fn blocking_bad_prefix_is_reported_and_final() {
    let bad = (-5i32).to_le_bytes();
    let mut reader = Chunked::new(&bad, &[64]);
    let mut dec = Decoder::new([0u8; 64]);
    let err = blocking::read_frame(&mut reader, &mut dec).unwrap_err();
    assert_eq!(
        err,
        ReadError::Decode(jframe::DecodeError::HeaderTooShort { len: -5 })
    );
    assert_eq!(
        blocking::read_frame(&mut reader, &mut dec).unwrap_err(),
        err
    );
}

#[test]
fn async_helpers_match_blocking() {
    let wire = wire();
    block_on(async {
        let mut reader = Chunked::new(&wire, &[5]);
        let mut dec = Decoder::new([0u8; 512]).streaming(true);
        let mut out: Vec<u8> = Vec::new();
        let mut scratch = [0u8; 1024];
        loop {
            let frame = asynch::read_frame(&mut reader, &mut dec).await.unwrap();
            match frame {
                None => break,
                Some(Received::Frame(f)) => {
                    let h = f.header.clone();
                    let body = f.body.to_vec();
                    asynch::write_frame(&mut out, &mut scratch, &h, &body)
                        .await
                        .unwrap();
                }
                Some(Received::Head(h)) => {
                    let header = h.header.clone();
                    asynch::write_head(&mut out, &mut scratch, &header)
                        .await
                        .unwrap();
                    let mut buf = [0u8; 64];
                    while let Some(chunk) = asynch::read_body(&mut reader, &mut dec, &mut buf)
                        .await
                        .unwrap()
                    {
                        asynch::write_all(&mut out, chunk).await.unwrap();
                    }
                }
            }
        }
        assert_eq!(out, wire, "echoing every frame reproduces the stream");
    });
}

#[test]
fn skip_body_discards_exactly_the_rejected_or_unwanted_body() {
    // A frame too large for whole-frame mode (recoverable), then a small one.
    let mut wire = Vec::new();
    let mut scratch = [0u8; 1024];
    blocking::write_frame(&mut wire, &mut scratch, &Header::new(1000), &[b'z'; 1000]).unwrap();
    blocking::write_frame(&mut wire, &mut scratch, &Header::new(2), b"ok").unwrap();
    let mut reader = Chunked::new(&wire, &[100]);
    let mut dec = Decoder::new([0u8; 128]);
    let err = blocking::read_frame(&mut reader, &mut dec).unwrap_err();
    assert!(matches!(err, ReadError::Decode(e) if e.is_recoverable()));
    assert!(dec.is_skipping());
    blocking::skip_body(&mut reader, &mut dec).unwrap();
    assert!(dec.is_idle());
    // Nothing past the skipped body was read: the 21-byte second frame is left.
    assert_eq!(reader.data.len(), 21);
    // Between frames it does nothing.
    blocking::skip_body(&mut reader, &mut dec).unwrap();
    assert!(matches!(
        blocking::read_frame(&mut reader, &mut dec).unwrap(),
        Some(Received::Frame(f)) if f.body == b"ok"
    ));

    // An unwanted streamed body, asynchronously.
    let mut reader = Chunked::new(&wire, &[7]);
    let mut dec = Decoder::new([0u8; 128]).streaming(true);
    block_on(async {
        assert!(matches!(
            asynch::read_frame(&mut reader, &mut dec).await.unwrap(),
            Some(Received::Head(h)) if h.data_size == 1000
        ));
        asynch::skip_body(&mut reader, &mut dec).await.unwrap();
        assert!(matches!(
            asynch::read_frame(&mut reader, &mut dec).await.unwrap(),
            Some(Received::Frame(f)) if f.body == b"ok"
        ));
    });
}
