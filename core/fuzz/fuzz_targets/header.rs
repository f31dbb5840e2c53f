//! The header parsers on arbitrary bytes: no panic; the scanner
//! (`header::validate`) and every parser built on it agree on what SPEC
//! forbids (docs/SPEC.md, "Errors and recovery") and on `data_size`,
//! whatever the target type (jframe's `Header`, `CompactHeader`, a user's
//! serde type); a header `Header::parse` accepts re-encodes to itself, and
//! serde_json (as an oracle) reads the same `data_size` and the same string
//! fields from it.
#![no_main]

use jframe::header::{CompactHeader, HeaderError, ParseHeader, Serde, Typed, validate};
use jframe::{DecodeError, Header, encode_head};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A user header type, for the `parse_header_as` path (borrowing).
#[derive(serde::Deserialize)]
struct User<'a> {
    data_size: u64,
    #[serde(borrow)]
    op: Option<&'a str>,
}

/// A user header type, for the `Typed` and `Serde` paths (owned).
#[derive(serde::Deserialize, Default)]
struct Owned {
    data_size: Option<u64>,
    op: Option<heapless::String<16>>,
}

/// What SPEC makes of a header, as `parse_into` reports it: `Ok(n)` (valid,
/// `data_size` n), `Err(Some(e))` (fatal), `Err(None)` (recoverable).
fn verdict(r: Result<u64, DecodeError>) -> Result<u64, Option<HeaderError>> {
    match r {
        Ok(n) => Ok(n),
        Err(DecodeError::Header(e)) => Err(Some(e)),
        Err(DecodeError::Request { .. }) => Err(None),
        Err(e) => panic!("a header parse returned {e:?}"),
    }
}

/// Every parser agrees with the scanner: a header it rejects as malformed
/// is rejected by all with the same error, and a header it accepts is
/// accepted (or refused as a recoverable `bad_request` after the same
/// `data_size`) by all.
fn agree(
    data: &[u8],
    scanned: Result<u64, HeaderError>,
    parser: &str,
    r: Result<u64, DecodeError>,
) {
    match (scanned, r) {
        (Err(e), Err(DecodeError::Header(got))) => assert_eq!(got, e, "{parser}: fatal error"),
        (Err(e), other) => panic!("{parser} accepts what the scanner rejects ({e:?}): {other:?}"),
        (Ok(n), Ok(got)) => assert_eq!(got, n, "{parser}: data_size"),
        (
            Ok(n),
            Err(DecodeError::Request {
                data_size, head, ..
            }),
        ) => {
            assert_eq!(data_size, n, "{parser}: data_size of a bad request");
            assert_eq!(head, 4 + data.len(), "{parser}: where the body starts");
        }
        (Ok(_), Err(e)) => panic!("{parser} finds fatal {e:?} where the scanner accepts"),
    }
}

fuzz_target!(|data: &[u8]| {
    let scanned = validate(data).map_err(|e| match e {
        DecodeError::Header(e) => e,
        other => panic!("validate returned {other:?}"),
    });
    let mut full = Header::default();
    let full_verdict = full.parse_into(data);
    agree(data, scanned, "Header", full_verdict);
    let mut compact = CompactHeader::default();
    let compact_verdict = compact.parse_into(data);
    agree(data, scanned, "CompactHeader", compact_verdict);
    agree(
        data,
        scanned,
        "Typed",
        Typed::<Owned>::default().parse_into(data),
    );
    let mut serde = Serde(Owned::default());
    let serde_verdict = serde.parse_into(data);
    agree(data, scanned, "Serde", serde_verdict);
    // What the session reads agrees between the two header models.
    if let (Ok(_), Ok(_)) = (verdict(full_verdict), verdict(compact_verdict)) {
        assert_eq!(compact.op.as_deref(), full.op.as_deref());
        assert_eq!(compact.status, full.status());
    }
    // A serde type reads the same `data_size` and `op` as jframe's header.
    if let (Ok(n), Ok(_)) = (scanned, verdict(full_verdict)) {
        if let Ok(user) = jframe::parse_header_as::<User<'_>>(data, &mut [0u8; 64]) {
            assert_eq!(user.data_size, n);
            assert_eq!(user.op, full.op.as_deref());
        }
        if serde_verdict.is_ok() {
            assert!(serde.0.data_size.is_none_or(|size| size == n));
            assert_eq!(serde.0.op.as_deref(), full.op.as_deref());
        }
    }
    // What the scanner forbids, a serde type never gets.
    if let Err(e) = scanned {
        assert_eq!(
            jframe::parse_header_as::<User<'_>>(data, &mut [0u8; 64]).err(),
            Some(e),
            "parse_header_as past the scanner"
        );
    }
    let Ok(h) = Header::parse(data) else { return };

    // Head alone keeps any data_size, up to u64::MAX.
    let mut out = vec![0u8; 4096];
    let n = encode_head(&mut out, &h).expect("a parsed header encodes");
    assert_eq!(Header::parse(&out[4..n]).as_ref(), Ok(&h));
    // A whole frame with a small body.
    let mut small = h.clone();
    small.data_size = 3;
    jframe_fuzz::roundtrip(&small, b"abc");

    // Oracle. serde_json rejects numbers it cannot hold (1e400) that JSON
    // allows; everything else jframe accepts, it must accept too.
    let v: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) if e.to_string().contains("number out of range") => return,
        Err(e) => panic!("jframe accepted what serde_json rejects: {e}"),
    };
    let size = v
        .get("data_size")
        .or_else(|| v.get("size"))
        .and_then(Value::as_u64);
    assert_eq!(size, Some(h.data_size));
    for (key, field) in [
        ("op", h.op.as_deref()),
        ("name", h.name.as_deref()),
        ("status", h.status.as_deref()),
        ("error", h.error.as_deref()),
        ("sha256", h.sha256.as_deref()),
    ] {
        assert_eq!(v.get(key).and_then(Value::as_str), field, "field {key}");
    }
});
