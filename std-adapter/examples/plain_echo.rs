//! The ceiling for `jframe load --raw-echo`: an unframed echo server, one
//! thread per connection, no parsing at all.
//!
//! `cargo run --release --example plain_echo -- 127.0.0.1:0`

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

fn echo(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n])?;
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr)?;
    println!("plain_echo: listening on tcp {}", listener.local_addr()?);
    for conn in listener.incoming() {
        match conn {
            Ok(s) => {
                let spawned = thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || echo(s));
                if let Err(e) = spawned {
                    eprintln!("plain_echo: no thread: {e}");
                }
            }
            Err(e) => {
                eprintln!("plain_echo: accept: {e}");
                thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    Ok(())
}
