//! A frame cut short by its sender reaches the other side as it was sent,
//! through a proxy with faults as without: the proxy holds a frame's head
//! until it is complete (so that faults apply to whole frames), and what it
//! holds when the sender closes must still go out before the close, once.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jframe_std::proxy::{FaultPlan, Proxy, ProxyConfig, ReportOut};

/// Sends `bytes` through a proxy with `faults`, then closes; returns what
/// the upstream received before the close.
fn through_proxy(faults: FaultPlan, bytes: &[u8]) -> Vec<u8> {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let received = std::thread::spawn(move || {
        let (mut s, _) = upstream.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let mut cfg = ProxyConfig::new(vec![upstream_addr]);
    cfg.faults = faults;
    let proxy = Proxy::bind("127.0.0.1:0".parse().unwrap(), cfg).unwrap();
    let addr = proxy.local_addr().unwrap();
    let stop = proxy.stop_flag();
    let out: ReportOut = Arc::new(Mutex::new(Box::new(std::io::sink())));
    let proxying = std::thread::spawn(move || proxy.run(out));
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(bytes).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let got = received.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    proxying.join().unwrap().unwrap();
    got
}

fn frame_head(header: &str) -> Vec<u8> {
    let mut v = (header.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v
}

fn delayed() -> FaultPlan {
    FaultPlan {
        delay: Duration::from_millis(1),
        ..FaultPlan::default()
    }
}

#[test]
fn a_head_cut_short_reaches_the_upstream_through_a_faulty_proxy() {
    let head = frame_head(r#"{"data_size":10,"op":"echo"}"#);
    let cut = &head[..7];
    assert_eq!(through_proxy(FaultPlan::default(), cut), cut);
    assert_eq!(through_proxy(delayed(), cut), cut);
}

#[test]
fn a_body_cut_short_reaches_the_upstream_once_through_a_faulty_proxy() {
    let mut sent = frame_head(r#"{"data_size":10,"op":"echo"}"#);
    sent.extend_from_slice(b"abc");
    assert_eq!(through_proxy(FaultPlan::default(), &sent), sent);
    assert_eq!(through_proxy(delayed(), &sent), sent);
}
