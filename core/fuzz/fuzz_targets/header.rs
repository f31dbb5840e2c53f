//! `Header::parse` on arbitrary bytes: no panic; a header it accepts
//! re-encodes to itself, and serde_json (as an oracle) reads the same
//! `data_size` and the same string fields from it.
#![no_main]

use jframe::{Header, encode_head};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A user header type, for the `parse_header_as` path.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct User<'a> {
    data_size: u64,
    #[serde(borrow)]
    op: Option<&'a str>,
    name: Option<heapless::String<32>>,
}

fuzz_target!(|data: &[u8]| {
    let parsed = Header::parse(data);
    // The user-type path must not panic either, and it validates the same way.
    let user = jframe::parse_header_as::<User<'_>>(data, &mut [0u8; 64]);
    if parsed.is_err() {
        assert!(user.is_err() || jframe::parse_header_as::<User<'_>>(data, &mut [0u8; 64]).is_ok());
    }
    let Ok(h) = parsed else { return };

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
