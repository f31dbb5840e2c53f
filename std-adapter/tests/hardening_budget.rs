//! docs/SPEC.md: "a server bounds the memory of all the requests it holds
//! at once, not only of each one: a service that needs a body whole
//! (Unicode `upper`, `greet`) counts it against a server-wide budget and
//! answers `busy` or `too_large` past it". 64 connections each send a
//! 16 MiB `upper` body of "\u{390}" (3x longer upper-cased) and leave the
//! reply unread; the peak memory stays near the budget however many
//! connections do this. (Without the budget: about 115 MiB of RSS per such
//! connection, with no bound.)
//!
//! In-process server on 127.0.0.1 with a 128 MiB budget; the measure is
//! this process's peak RSS (VmHWM), reset before the connections start.
//! Bounded: 64 connections, each socket with timeouts.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{proc_status_bytes, send_upper, spawn_server};
use jframe_std::server::Config;

const CONNS: usize = 64;
const BODY: usize = 16 << 20;
const BUDGET: u64 = 128 << 20;
const MIB: u64 = 1 << 20;

#[test]
fn sixty_four_unread_unicode_uppers_stay_within_the_budget() {
    let config = Config {
        max_body: BODY as u64,
        body_budget: BUDGET,
        // Replies left unread must stay held while we measure.
        write_timeout: Duration::from_secs(120),
        grace: Duration::from_secs(1),
        ..Config::default()
    };
    let server = spawn_server(config);
    let addr = server.tcp;

    // One shared body for every client, touched before the baseline.
    let body: Arc<Vec<u8>> = Arc::new("\u{390}".repeat(BODY / 2).into_bytes());
    assert_eq!(body.len(), BODY);
    // Reset the peak to the current RSS (Linux >= 4.0); else measure from
    // the current RSS anyway.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = proc_status_bytes("self", "VmRSS:");
    let started = Instant::now();

    let barrier = Arc::new(Barrier::new(CONNS + 1));
    let clients: Vec<_> = (0..CONNS)
        .map(|_| {
            let (body, barrier) = (body.clone(), barrier.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let (stream, status) = send_upper(addr, &body, Duration::from_secs(60));
                    // Hold the connection, reply unread, until measured.
                    barrier.wait();
                    drop(stream);
                    status
                })
                .unwrap()
        })
        .collect();
    barrier.wait();
    let peak = proc_status_bytes("self", "VmHWM:").saturating_sub(base);
    let statuses: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok = statuses.iter().filter(|s| *s == "ok").count();
    let busy = statuses.iter().filter(|s| *s == "busy").count();
    server.stop(Duration::from_secs(60)).unwrap();

    // The bound: the budget, plus per connection its buffers (28 KiB) and
    // the stack it touches (at most CONN_STACK), plus the 64 client
    // threads' stacks and allocator slack.
    let per_conn = 28 * 1024 + jframe_std::server::CONN_STACK as u64 + 256 * 1024;
    let bound = BUDGET + CONNS as u64 * per_conn + 32 * MIB;
    eprintln!(
        "{CONNS} connections x {} MiB of \\u{{390}} in {:?}: {ok} ok, {busy} busy; \
         peak RSS growth {} MiB (bound {} MiB, budget {} MiB)",
        BODY as u64 / MIB,
        started.elapsed(),
        peak / MIB,
        bound / MIB,
        BUDGET / MIB
    );
    assert_eq!(ok + busy, CONNS, "statuses: {statuses:?}");
    assert!(ok >= 1, "no request was served at all");
    assert!(
        peak <= bound,
        "peak RSS grew {} MiB, over the bound of {} MiB",
        peak / MIB,
        bound / MIB
    );
}
