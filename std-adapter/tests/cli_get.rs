//! `jframe get` against fake servers: a refusal that declares a huge body
//! is not read, and the part file stays in the target directory and is
//! removed on Ctrl-C and when the server goes away. Every server here binds
//! 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

// ------------------------------------------------------------- bounds

/// A fake server: answers the first request with an error header declaring
/// a 400 MiB body, then streams junk until the client stops reading
/// (bounded: 10 s, 400 MiB). Returns the address and the bytes it got out.
fn huge_refusal_server() -> (String, thread::JoinHandle<u64>) {
    let (addr, handle) = one_peer(move |mut s| {
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut prefix = [0u8; 4];
        s.read_exact(&mut prefix).unwrap();
        let total: u64 = 400 << 20;
        let head = format!(r#"{{"data_size":{total},"status":"too_large","error":"huge"}}"#);
        s.write_all(&raw_frame(&head, b"")).unwrap();
        let junk = vec![b'j'; 64 * 1024];
        let mut sent = 0u64;
        let until = Instant::now() + Duration::from_secs(10);
        while sent < total && Instant::now() < until {
            match s.write(&junk) {
                Ok(n) => sent += n as u64,
                Err(_) => break,
            }
        }
        sent
    });
    (addr, handle)
}

#[test]
fn a_refusal_with_a_huge_body_is_not_read() {
    let (addr, server) = huge_refusal_server();
    let started = Instant::now();
    let o = jframe(&["send", addr.as_str(), "hi"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("too_large"), "{}", text(&o.stderr));
    let sent = server.join().unwrap();
    // What the kernel's socket buffers take, not 400 MiB.
    assert!(sent < 32 << 20, "the client read {sent} bytes of junk");
    assert!(started.elapsed() < Duration::from_secs(9));
    let (addr, server) = huge_refusal_server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let o = jframe(&["get", &addr, "x", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("too_large"), "{}", text(&o.stderr));
    assert!(server.join().unwrap() < 32 << 20);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ------------------------------------------------------------- get

/// A fake `get` server: a header for `size` bytes, then the body slowly
/// (1 KiB every 20 ms) until the client goes away or `stop` is set.
fn slow_get_server(size: u64, stop: Arc<AtomicBool>) -> (String, thread::JoinHandle<u64>) {
    let (addr, handle) = one_peer(move |mut s| {
        let _ = read_raw_frame(&mut s);
        let head = format!(
            r#"{{"data_size":{size},"status":"ok","sha256":"{}"}}"#,
            "0".repeat(64)
        );
        s.write_all(&raw_frame(&head, b"")).unwrap();
        let sent = AtomicU64::new(0);
        let until = Instant::now() + Duration::from_secs(30);
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            if s.write_all(&[b'x'; 1024]).is_err() {
                break;
            }
            sent.fetch_add(1024, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(20));
        }
        sent.load(Ordering::Relaxed)
    });
    (addr, handle)
}

fn part_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part-"))
        .collect()
}

#[test]
fn get_keeps_its_part_file_in_the_target_directory_and_removes_it_on_ctrl_c() {
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, server) = slow_get_server(10 << 20, stop.clone());
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("into");
    std::fs::create_dir(&target).unwrap();
    let dir_arg = format!("{}/", target.display());
    let mut child = jframe_command(&["get", &addr, "big.bin", "-o", &dir_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The part file appears in the target directory, not its parent.
    let until = Instant::now() + Duration::from_secs(20);
    while part_files(&target).is_empty() && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    let parts = part_files(&target);
    assert_eq!(parts, [format!(".big.bin.part-{}", child.id())]);
    assert!(part_files(parent.path()).is_empty());
    // Ctrl-C: removed, exit 130.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "get did not exit on SIGINT");
        thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(part_files(&target).is_empty(), "part file left behind");
    assert!(!target.join("big.bin").exists());
}

#[test]
fn get_removes_its_part_file_when_the_server_goes_away() {
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, server) = slow_get_server(10 << 20, stop.clone());
    let dir = tempfile::tempdir().unwrap();
    let stopper = {
        let stop = stop.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(500));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let out = dir.path().join("f.bin");
    let o = jframe(&["get", &addr, "f.bin", "-o", out.to_str().unwrap()]);
    stopper.join().unwrap();
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("closed"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
