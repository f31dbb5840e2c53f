//! `get` (docs/SPEC.md: the file "with `status: ok` and `sha256`") must not
//! hash the whole file for every request.
//! Digests are cached by (device, inode, size, mtime, ctime); a second
//! request for an unchanged 50 MiB file is not hashed again, and a changed
//! file misses the cache and gets its new digest. Hashes are counted by
//! the root's counter, not by timing. Through a real server on 127.0.0.1.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::time::Duration;

use jframe::{Header, Op};
use jframe_std::files::{Root, SETTLED, hex};
use jframe_std::server::{Config, Server};
use sha2::{Digest, Sha256};

const SIZE: usize = 50 << 20;

/// Sends a `get` of `name`; returns (status, announced sha256, SHA-256 of
/// the body received, if `verify`), streaming the body through the hasher.
fn get_checked(s: &mut TcpStream, name: &str, verify: bool) -> (String, Option<String>, String) {
    let head = Header::request(Op::Get, 0).with_name(name).unwrap();
    let mut frame = vec![0u8; 1024];
    let n = jframe::encode_frame(&mut frame, &head, &[]).unwrap();
    s.write_all(&frame[..n]).unwrap();
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let mut json = vec![0u8; u32::from_le_bytes(prefix) as usize];
    s.read_exact(&mut json).unwrap();
    let reply = Header::parse(&json).unwrap();
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
        reply.status.as_deref().unwrap_or("?").to_string(),
        reply.sha256.as_deref().map(str::to_string),
        hex(&hasher.finalize()),
    )
}

fn get(s: &mut TcpStream, name: &str) -> (String, Option<String>, String) {
    get_checked(s, name, true)
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
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), None, config).unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.shutdown_handle().unwrap();
    let thread = std::thread::spawn(move || server.run().unwrap());
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();

    assert_eq!(root.hashes(), 0);
    let (status, sha, got) = get(&mut s, "big.bin");
    assert_eq!(
        (status.as_str(), sha.as_deref()),
        ("ok", Some(want.as_str()))
    );
    assert_eq!(got, want);
    assert_eq!(root.hashes(), 1, "the first request hashes");

    // Again, on this connection and on another: served from the cache.
    let (status, sha, _) = get_checked(&mut s, "big.bin", false);
    assert_eq!(
        (status.as_str(), sha.as_deref()),
        ("ok", Some(want.as_str()))
    );
    let mut other = TcpStream::connect(addr).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let (status, sha, _) = get_checked(&mut other, "big.bin", false);
    assert_eq!(
        (status.as_str(), sha.as_deref()),
        ("ok", Some(want.as_str()))
    );
    assert_eq!(root.hashes(), 1, "a cached digest was hashed again");

    // Changed in place, same size: a new mtime/ctime, so a cache miss and
    // the new digest.
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(SIZE as u64 / 2)).unwrap();
    f.write_all(b"changed").unwrap();
    drop(f);
    let changed = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
    assert_ne!(changed, want);
    let (status, sha, got) = get(&mut s, "big.bin");
    assert_eq!(
        (status.as_str(), sha.as_deref()),
        ("ok", Some(changed.as_str()))
    );
    assert_eq!(got, changed);
    assert_eq!(root.hashes(), 2, "the changed file was not hashed again");

    handle.shutdown();
    thread.join().unwrap();
}
