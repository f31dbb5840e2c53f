//! Opens N connections to a jframe server, and while every one of them is
//! open, each sends one `upper` request and reads its reply (checked); then
//! closes them all. One thread, blocking sockets, bounded by a timeout per
//! operation. Prints one line:
//! `conns=N opened=.. served=.. errors=.. open_s=.. serve_s=..`; exit code
//! 1 unless every connection was opened and served.
//!
//! `cargo run --release --example c10k -- 127.0.0.1:9000 10000 [ROUNDS]`
//!
//! Past the ephemeral-port range (about 28,000 connections to one address),
//! set `C10K_SOURCES=K`: connection `i` then comes from 127.0.0.(2 + i % K)
//! on a port of its own in 10000..60000, so K sources carry up to K × 50,000
//! connections (raise `nofile` on both sides first).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

fn request(i: usize) -> (Vec<u8>, Vec<u8>) {
    let body = format!("connection {i:05} says hello");
    let json = format!(r#"{{"data_size":{}}}"#, body.len());
    let mut frame = (json.len() as i32).to_le_bytes().to_vec();
    frame.extend_from_slice(json.as_bytes());
    frame.extend_from_slice(body.as_bytes());
    (frame, body.to_uppercase().into_bytes())
}

fn read_reply(s: &mut TcpStream) -> std::io::Result<(Option<String>, Vec<u8>)> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)?;
    let len = i32::from_le_bytes(prefix);
    if !(2..=4096).contains(&len) {
        return Err(std::io::Error::other(format!("bad prefix {len}")));
    }
    let mut json = vec![0u8; len as usize];
    s.read_exact(&mut json)?;
    let header = jframe::Header::parse(&json).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut body = vec![0u8; usize::try_from(header.data_size).unwrap_or(0).min(1 << 20)];
    s.read_exact(&mut body)?;
    Ok((header.status.map(|s| s.to_string()), body))
}

/// Connection `i` from 127.0.0.(2 + i % sources), on the first free port
/// from its own slot in 10000..60000.
fn connect_from(i: usize, sources: usize, to: &SocketAddr) -> std::io::Result<TcpStream> {
    let ip = std::net::Ipv4Addr::new(127, 0, 0, 2 + (i % sources) as u8);
    let slot = i / sources;
    let mut last = None;
    for attempt in 0..8 {
        let port = 10_000 + ((slot + attempt * 7_919) % 50_000) as u16;
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        sock.set_reuse_address(true)?;
        if let Err(e) = sock.bind(&SocketAddr::from((ip, port)).into()) {
            last = Some(e);
            continue;
        }
        sock.connect_timeout(&(*to).into(), TIMEOUT)?;
        return Ok(sock.into());
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .expect("usage: c10k ADDR [CONNS] [ROUNDS]")
        .parse()
        .expect("address");
    let n: usize = args.next().map_or(10_000, |v| v.parse().expect("CONNS"));
    let rounds: usize = args.next().map_or(1, |v| v.parse().expect("ROUNDS"));
    let _ = jframe_std::server::raise_fd_limit();

    let start = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut errors = 0usize;
    let sources: usize = std::env::var("C10K_SOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for i in 0..n {
        let connected = if sources > 0 {
            connect_from(i, sources, &addr)
        } else {
            TcpStream::connect_timeout(&addr, TIMEOUT)
        };
        match connected {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(TIMEOUT));
                let _ = s.set_write_timeout(Some(TIMEOUT));
                let _ = s.set_nodelay(true);
                conns.push((i, s));
            }
            Err(e) => {
                if errors < 5 {
                    eprintln!("c10k: connect {i}: {e}");
                }
                errors += 1;
            }
        }
    }
    let opened = conns.len();
    let open_s = start.elapsed().as_secs_f64();

    // Every connection is open: each sends its request, then every reply is
    // read (the server serves them all concurrently), `rounds` times.
    let serve_start = Instant::now();
    let mut served = 0usize;
    for _ in 0..rounds {
        let mut alive = vec![true; conns.len()];
        for (k, (i, s)) in conns.iter_mut().enumerate() {
            if let Err(e) = s.write_all(&request(*i).0) {
                if errors < 5 {
                    eprintln!("c10k: send {i}: {e}");
                }
                errors += 1;
                alive[k] = false;
            }
        }
        for (k, (i, s)) in conns.iter_mut().enumerate() {
            if !alive[k] {
                continue;
            }
            match read_reply(s) {
                Ok((status, body))
                    if matches!(status.as_deref(), None | Some("ok")) && body == request(*i).1 =>
                {
                    served += 1;
                }
                Ok((status, body)) => {
                    if errors < 5 {
                        eprintln!(
                            "c10k: reply {i}: {status:?} {:?}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    errors += 1;
                }
                Err(e) => {
                    if errors < 5 {
                        eprintln!("c10k: reply {i}: {e}");
                    }
                    errors += 1;
                }
            }
        }
    }
    let serve_s = serve_start.elapsed().as_secs_f64();
    println!(
        "conns={n} opened={opened} served={served} rounds={rounds} errors={errors} open_s={open_s:.2} serve_s={serve_s:.2}"
    );
    drop(conns);
    if opened != n || served != n * rounds || errors > 0 {
        std::process::exit(1);
    }
}
