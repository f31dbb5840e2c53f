//! `Decoder::feed` over arbitrary bytes and arbitrary chunkings: no panic,
//! never consumes more than it was given, always makes progress, the same
//! events whatever the chunking, and every frame whose header parses
//! re-encodes to the same header and body (see jframe_fuzz::feed_all).
#![no_main]

use jframe_fuzz::{Config, feed_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((cfg, stream)) = Config::split(data) else {
        return;
    };
    let whole = feed_all(&cfg, stream, &[usize::MAX]);
    let chunked = feed_all(&cfg, stream, &cfg.chunks);
    assert_eq!(whole, chunked, "chunking changed the decoded events");
    let bytewise = feed_all(&cfg, stream, &[1]);
    assert_eq!(
        whole, bytewise,
        "byte-at-a-time feeding changed the decoded events"
    );
});
