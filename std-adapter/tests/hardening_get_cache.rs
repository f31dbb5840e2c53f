//! `get` (docs/SPEC.md: the file "with `status: ok` and `sha256`") must not
//! hash the whole file for every request.
//! Digests are cached by (device, inode, size, mtime, ctime); a second
//! request for an unchanged 50 MiB file is not hashed again, and a changed
//! file misses the cache and gets its new digest. Hashes are counted by
//! the root's counter, not by timing. Through a real server on 127.0.0.1.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{send_get, spawn_server, status_or_unknown};
use jframe_std::files::{Root, SETTLED, hex};
use jframe_std::server::Config;
use sha2::{Digest, Sha256};

const SIZE: usize = 50 << 20;

/// Sends a `get` of `name`; returns (status, announced sha256, SHA-256 of
/// the body received, if `verify`), streaming the body through the hasher.
fn get_checked(s: &mut TcpStream, name: &str, verify: bool) -> (String, Option<String>, String) {
    let reply = send_get(s, name);
    let mut hasher = Sha256::new();
    let mut left = reply.data_size;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let want = buf.len().min(left as usize);
        s.read_exact(&mut buf[..want]).unwrap();
        if verify {
            hasher.update(&buf[..want]);
        }
        left -= want as u64;
    }
    (
        status_or_unknown(&reply),
        reply.sha256.as_deref().map(str::to_string),
        hex(&hasher.finalize()),
    )
}

/// A `get` of `big.bin` must be `ok` and announce `want`; with `verify`,
/// the body received must hash to it too.
fn assert_served(s: &mut TcpStream, want: &str, verify: bool) {
    let (status, sha, got) = get_checked(s, "big.bin", verify);
    assert_eq!((status.as_str(), sha.as_deref()), ("ok", Some(want)));
    if verify {
        assert_eq!(got, want);
    }
}

#[test]
fn an_unchanged_file_is_hashed_once_and_a_changed_one_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let want = hex(&Sha256::digest(&data));
    drop(data);
    // Digests of files changed within SETTLED of hashing are not cached
    // (file times are coarse); let this one settle.
    std::thread::sleep(SETTLED + Duration::from_millis(500));

    let root = Root::new(dir.path()).unwrap();
    let config = Config {
        root: Some(root.clone()),
        grace: Duration::from_secs(1),
        ..Config::default()
    };
    let server = spawn_server(config);
    let addr = server.tcp;
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();

    assert_eq!(root.hashes(), 0);
    assert_served(&mut s, &want, true);
    assert_eq!(root.hashes(), 1, "the first request hashes");

    // Again, on this connection and on another: served from the cache.
    assert_served(&mut s, &want, false);
    let mut other = TcpStream::connect(addr).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    assert_served(&mut other, &want, false);
    assert_eq!(root.hashes(), 1, "a cached digest was hashed again");

    // Changed in place, same size: a new mtime/ctime, so a cache miss and
    // the new digest.
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(SIZE as u64 / 2)).unwrap();
    f.write_all(b"changed").unwrap();
    drop(f);
    let changed = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
    assert_ne!(changed, want);
    assert_served(&mut s, &changed, true);
    assert_eq!(root.hashes(), 2, "the changed file was not hashed again");

    server.stop(Duration::from_secs(60)).unwrap();
}
