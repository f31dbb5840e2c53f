//! The figure for the README's body budget: the peak RSS (VmHWM) of a
//! `jframe serve` child with its default settings while N connections
//! (default 64) each send a 16 MiB `upper` body of "\u{390}" and leave the
//! reply unread (`tests/hardening_budget.rs` asserts the bound in process).
//! A measurement that prints its figures and asserts nothing:
//!
//! ```text
//! JFRAME_MEASURE_CONNS=64 cargo bench -p jframe-std --bench budget_peak_rss
//! ```
//!
//! Set `JFRAME_BIN` to measure another build of `jframe`. 127.0.0.1 only;
//! bounded: N connections, socket timeouts, the child killed at the end.
//! Under `cargo test` (no `--bench` argument) it does nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{BIN, ServerProc, proc_status_bytes, send_upper};

const BODY: usize = 16 << 20;
const MIB: u64 = 1 << 20;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let bin = std::env::var("JFRAME_BIN").unwrap_or_else(|_| BIN.to_string());
    let conns: usize = std::env::var("JFRAME_MEASURE_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
        .clamp(1, 256);
    let server = ServerProc::start_bin(&bin, &[]);
    let (addr, pid) = (server.tcp, server.child.id().to_string());
    let before = proc_status_bytes(&pid, "VmHWM:");

    let body: Arc<Vec<u8>> = Arc::new("\u{390}".repeat(BODY / 2).into_bytes());
    let barrier = Arc::new(Barrier::new(conns + 1));
    let started = Instant::now();
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            let (body, barrier) = (body.clone(), barrier.clone());
            std::thread::spawn(move || {
                let (stream, status) = send_upper(addr, &body, Duration::from_secs(120));
                barrier.wait();
                drop(stream);
                status
            })
        })
        .collect();
    barrier.wait();
    let peak = proc_status_bytes(&pid, "VmHWM:");
    let statuses: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok = statuses.iter().filter(|s| *s == "ok").count();
    drop(server);
    println!(
        "{bin}: {conns} connections x 16 MiB of \\u{{390}}, replies unread, in {:?}: \
         {ok} ok, {} other; VmHWM {} MiB at start, {} MiB peak",
        started.elapsed(),
        conns - ok,
        before / MIB,
        peak / MIB
    );
}
