//! The endpoint: one scrape at a time, each answered with the whole text
//! and closed (Prometheus scrapes every few seconds; nothing more is
//! needed, and no HTTP stack is linked for it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

pub(super) fn serve(listener: &TcpListener, handle: &PrometheusHandle) {
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(e) = answer(s, handle) {
                    log::debug!("metrics scrape: {e}");
                }
            }
            Err(e) => {
                log::warn!("metrics: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn answer(mut s: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    // The request line and headers (what they say hardly matters).
    let mut req = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        match s.read(&mut buf)? {
            0 => break,
            n => req.extend_from_slice(&buf[..n]),
        }
    }
    let (status, body) = if req.starts_with(b"GET /metrics ") || req.starts_with(b"GET / ") {
        handle.run_upkeep();
        let mut text = handle.render();
        super::requests::render(&mut text);
        ("200 OK", text)
    } else {
        ("404 Not Found", "try GET /metrics\n".to_string())
    };
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    s.flush()
}
