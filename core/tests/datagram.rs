//! `service::datagram::answer` proves SPEC "Transports" for UDP: one
//! request datagram gets exactly one reply datagram (or none, for a reply),
//! with SPEC "Test vectors", `truncated`, trailing bytes as `bad_frame`,
//! and the size limits of a datagram.

mod common;

use common::{frame, unhex};
use jframe::service::datagram::{BARE_ERROR_MAX, MAX_DATAGRAM, MAX_EXTRA, answer};
use jframe::service::{Answer, Demo, Limits, Refusal, Request, Service, Source, SourceError};
use jframe::{Decoder, Event, Header, Status};
use proptest::prelude::*;

/// The reply datagram decoded: (header, body); it must be exactly one frame.
fn decode(reply: &[u8]) -> (Header, Vec<u8>) {
    let mut dec = Decoder::new(vec![0u8; 1 << 17]);
    let (used, ev) = dec.feed(reply);
    assert_eq!(used, reply.len(), "one frame, nothing after it");
    match ev.unwrap() {
        Event::Frame(f) => (f.header.clone(), f.body.to_vec()),
        other => panic!("{other:?}"),
    }
}

fn ask_with<X: Service>(request: &[u8], ext: &mut X) -> Option<(Header, Vec<u8>)> {
    let mut out = vec![0u8; MAX_DATAGRAM];
    let n = answer(request, &mut out, ext, &Limits::default())?;
    assert!(
        n <= bound(request),
        "amplification: {n} for {}",
        request.len()
    );
    Some(decode(&out[..n]))
}

/// The most a request may draw: its size plus MAX_EXTRA, or a bare error.
fn bound(request: &[u8]) -> usize {
    (request.len() + MAX_EXTRA).max(BARE_ERROR_MAX)
}

fn ask(request: &[u8]) -> Option<(Header, Vec<u8>)> {
    ask_with(request, &mut Demo::new())
}

fn status(request: &[u8]) -> Option<Status> {
    ask(request).map(|(h, _)| h.status().expect("a reply carries status"))
}

#[test]
fn spec_vectors() {
    for hex in [
        "10000000 7b22646174615f73697a65223a20327d 6869",
        "0f000000 7b22646174615f73697a65223a327d 6869",
        "0b000000 7b2273697a65223a20327d 6869",
    ] {
        let (h, body) = ask(&unhex(hex)).unwrap();
        assert_eq!(
            (h.status(), body.as_slice()),
            (Some(Status::Ok), &b"HI"[..])
        );
    }
    assert_eq!(status(&unhex("fbffffff")), Some(Status::BadFrame));
}

#[test]
fn services() {
    let (h, body) = ask(&frame(r#"{"data_size":3,"op":"echo"}"#, b"aBc")).unwrap();
    assert_eq!(
        (h.status(), h.data_size, body),
        (Some(Status::Ok), 3, b"aBc".to_vec())
    );
    let (_, body) = ask(&frame(r#"{"data_size":3,"op":"greet"}"#, b"Ann")).unwrap();
    assert_eq!(body, b"Hello, Ann!");
    let (_, body) = ask(&frame(r#"{"data_size":4,"op":"greet"}"#, b"exit")).unwrap();
    assert_eq!(body, b"Bye!");
    assert_eq!(
        status(&frame(r#"{"data_size":0,"op":"get","name":"x"}"#, b"")),
        Some(Status::BadRequest)
    );
}

#[test]
fn truncated() {
    let whole = frame(r#"{"data_size":5,"op":"echo"}"#, b"hello");
    for cut in 0..whole.len() {
        // A datagram that ends inside its prefix or header is truncated
        // too: every request gets an answer, never silence.
        let (h, _) = ask(&whole[..cut]).unwrap_or_else(|| panic!("cut {cut}: silence"));
        assert_eq!(h.status(), Some(Status::Truncated), "cut {cut}");
    }
    // With room in the bound, the refusal says why.
    let long = frame(r#"{"data_size":100,"op":"echo"}"#, &[b'x'; 100]);
    let (h, _) = ask(&long[..long.len() - 1]).unwrap();
    assert_eq!(h.status(), Some(Status::Truncated));
    assert!(h.error.is_some());
}

#[test]
fn trailing_bytes_are_a_bad_frame() {
    let two = [
        frame(r#"{"data_size":1}"#, b"a"),
        frame(r#"{"data_size":1}"#, b"b"),
    ]
    .concat();
    assert_eq!(status(&two), Some(Status::BadFrame));
    let one_more = [frame(r#"{"data_size":1}"#, b"a"), vec![0]].concat();
    assert_eq!(status(&one_more), Some(Status::BadFrame));
}

#[test]
fn replies_are_never_answered() {
    assert_eq!(ask(&frame(r#"{"data_size":2,"status":"ok"}"#, b"hi")), None);
    assert_eq!(
        ask(&frame(
            r#"{"status":"bad_frame","data_size":0,"error":"x"}"#,
            b""
        )),
        None
    );
    // Cut short, or with a wrong key, a reply is still not answered.
    let reply = frame(r#"{"data_size":5,"status":"ok"}"#, b"hello");
    assert_eq!(ask(&reply[..reply.len() - 2]), None);
    assert_eq!(
        ask(&frame(r#"{"data_size":0,"status":"ok","op":1}"#, b"")),
        None
    );
    assert_eq!(
        ask(&frame(r#"{"data_size":0,"status":"unheard_of"}"#, b"")),
        None
    );
}

#[test]
fn bad_requests_and_bad_frames() {
    assert_eq!(
        status(&frame(r#"{"data_size":1,"op":5}"#, b"x")),
        Some(Status::BadRequest)
    );
    assert_eq!(
        status(&frame(r#"{"op":[],"data_size":1}"#, b"x")),
        Some(Status::BadRequest)
    );
    assert_eq!(
        status(&frame(r#"{"data_size":1,"op":"dance"}"#, b"x")),
        Some(Status::BadRequest)
    );
    for bad in [
        r#"{"data_size":1,"op":"echo","op":"echo"}"#,
        r#"{"data_size":-1}"#,
        r#"{"op":"echo"}"#,
        r#"{"data_size":1,"size":2}"#,
        r#"{"data_size":1} x"#,
        r#"{"data_size":1,"x":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}"#,
        "not json at all",
    ] {
        assert_eq!(status(&frame(bad, b"x")), Some(Status::BadFrame), "{bad}");
    }
    assert_eq!(
        status(&[0xff, 0xff, 0xff, 0x7f, b'{']),
        Some(Status::BadFrame)
    );
}

#[test]
fn body_over_the_limit_is_too_large() {
    let mut out = vec![0u8; 1024];
    let limits = Limits {
        max_body: 3,
        ..Limits::default()
    };
    let req = frame(r#"{"data_size":4,"op":"echo"}"#, b"abcd");
    let n = answer(&req, &mut out, &mut Demo::new(), &limits).unwrap();
    assert_eq!(decode(&out[..n]).0.status(), Some(Status::TooLarge));
}

/// `get` of files of any size, by name.
struct Files;

struct Bytes(Header, Vec<u8>, usize);

impl Source for Bytes {
    fn data_size(&self) -> u64 {
        self.0.data_size
    }

    fn encode_head(&self, out: &mut [u8]) -> Result<usize, jframe::EncodeError> {
        jframe::encode_head(out, &self.0)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        let n = buf.len().min(self.1.len() - self.2).min(100);
        buf[..n].copy_from_slice(&self.1[self.2..self.2 + n]);
        self.2 += n;
        Ok(n)
    }
}

impl Service for Files {
    type Source = Bytes;
    type Header = Header;

    fn call(&mut self, request: &Request<'_, Header>) -> Answer<Bytes> {
        if request.op != Some("get") {
            return jframe::service::demo::answer(request.op);
        }
        let size: usize = request
            .header
            .name
            .as_deref()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        Answer::Reply(Bytes(
            Header::reply(Status::Ok, size as u64),
            vec![b'f'; size],
            0,
        ))
    }

    fn collect(&mut self, _: &[u8]) -> Result<(), Refusal> {
        Ok(())
    }
}

#[test]
fn a_reply_larger_than_request_plus_extra_is_too_large() {
    let small = frame(r#"{"data_size":0,"op":"get","name":"10"}"#, b"");
    let (h, body) = ask_with(&small, &mut Files).unwrap();
    assert_eq!((h.status(), body.len()), (Some(Status::Ok), 10));
    // The largest reply allowed is the request's size plus MAX_EXTRA.
    let head = 4 + r#"{"data_size":99,"status":"ok"}"#.len();
    let req = |n: usize| frame(format!(r#"{{"data_size":0,"op":"get","name":"{n}"}}"#), b"");
    let fits = req(99).len() + MAX_EXTRA - head;
    let (h, body) = ask_with(&req(fits), &mut Files).unwrap();
    assert_eq!((h.status(), body.len()), (Some(Status::Ok), fits));
    let (h, body) = ask_with(&req(fits + 1), &mut Files).unwrap();
    assert_eq!((h.status(), body.len()), (Some(Status::TooLarge), 0));
    let (h, _) = ask_with(&req(100_000), &mut Files).unwrap();
    assert_eq!(h.status(), Some(Status::TooLarge));
    // Also when `out` is what is short.
    let mut out = vec![0u8; 40];
    let n = answer(&req(30), &mut out, &mut Files, &Limits::default()).unwrap();
    assert_eq!(decode(&out[..n]).0.status(), Some(Status::TooLarge));
}

proptest! {
    /// Any bytes: never more than the bound, a reply is one frame that
    /// carries status, and silence only for a datagram that is a reply.
    #[test]
    fn any_datagram_gets_at_most_one_bounded_reply(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        json in "\\{\"data_size\":[0-9]{1,3}(,\"(op|name|status|x)\":(\"[a-z]{0,5}\"|[0-9]|\\[\\]))*\\}",
        body in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        for request in [bytes, frame(&json, &body)] {
            let mut out = vec![0u8; MAX_DATAGRAM];
            if let Some(n) = answer(&request, &mut out, &mut Demo::new(), &Limits::default()) {
                prop_assert!(n <= bound(&request));
                let (h, _) = decode(&out[..n]);
                prop_assert!(h.status.is_some());
            } else {
                // Silence only for replies.
                let mut h = Header::default();
                let _ = jframe::parse_frame(&request, 4096, &mut h);
                prop_assert!(h.status.is_some(), "{:?}", request);
            }
        }
    }
}
