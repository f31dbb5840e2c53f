//! docs/SPEC.md: a `get` name that "resolves (through symlinks) outside the
//! root is `forbidden`", and no race makes it otherwise. One thread
//! keeps swapping a directory inside the root with a symlink to a directory
//! outside it (atomically, with `renameat2(RENAME_EXCHANGE)`, as a client
//! that can write in the root could); another fetches `dir/secret` through
//! a real server on 127.0.0.1, thousands of times. No reply may carry the
//! outside file. (A check-then-open server leaked in about 1 of 11 tries.)
//!
//! Bounded: at most `TRIES` fetches and `LIMIT` of wall time.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{send_get, spawn_server, status_or_unknown};
use jframe_std::files::Root;
use jframe_std::server::Config;

const TRIES: usize = 5_000;
const LIMIT: Duration = Duration::from_secs(30);
const INSIDE: &[u8] = b"inside, fine to serve";
const OUTSIDE: &[u8] = b"OUTSIDE THE ROOT: must never be served";

/// Sends a `get` of `name` and reads the reply: (status, body).
fn get(s: &mut TcpStream, name: &str) -> (String, Vec<u8>) {
    let reply = send_get(s, name);
    assert!(reply.data_size < 1 << 20, "unexpected reply size");
    let mut body = vec![0u8; reply.data_size as usize];
    s.read_exact(&mut body).unwrap();
    (status_or_unknown(&reply), body)
}

#[test]
fn a_symlink_swapped_in_mid_request_never_leaks_the_outside() {
    let base = tempfile::tempdir().unwrap();
    let root_dir = base.path().join("root");
    let outside = base.path().join("outside");
    std::fs::create_dir_all(root_dir.join("dir")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root_dir.join("dir/secret"), INSIDE).unwrap();
    std::fs::write(outside.join("secret"), OUTSIDE).unwrap();
    // The attacker's other half: a symlink in the root to the outside.
    std::os::unix::fs::symlink(&outside, root_dir.join("swap")).unwrap();

    let config = Config {
        root: Some(Root::new(&root_dir).unwrap()),
        grace: Duration::from_secs(1),
        ..Config::default()
    };
    let server = spawn_server(config);
    let addr = server.tcp;

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (stop, swaps, root_dir) = (stop.clone(), swaps.clone(), root_dir.clone());
        std::thread::spawn(move || {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            let (a, b) = (root_dir.join("dir"), root_dir.join("swap"));
            let started = Instant::now();
            // Bounded by the stop flag, a count and the time limit.
            while !stop.load(Ordering::Relaxed)
                && swaps.load(Ordering::Relaxed) < 50_000_000
                && started.elapsed() < LIMIT + Duration::from_secs(10)
            {
                renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).expect("RENAME_EXCHANGE");
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let (mut inside, mut leaks, mut refused, mut tries) = (0usize, 0usize, 0usize, 0usize);
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    let started = Instant::now();
    while tries < TRIES && started.elapsed() < LIMIT {
        tries += 1;
        let (status, body) = get(&mut s, "dir/secret");
        if body == OUTSIDE {
            leaks += 1;
        } else if status == "ok" {
            assert_eq!(body, INSIDE, "an ok reply with other bytes");
            inside += 1;
        } else {
            refused += 1;
        }
        *statuses.entry(status).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    server.stop(Duration::from_secs(60)).unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    eprintln!(
        "{tries} tries in {:?} with {swaps} swaps: {inside} inside, {refused} refused \
         {statuses:?}, {leaks} leaks",
        started.elapsed()
    );
    assert!(swaps > 0, "the swapper never ran");
    assert_eq!(
        leaks, 0,
        "the outside file was served {leaks} times out of {tries}"
    );
}
