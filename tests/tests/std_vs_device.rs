//! The std side (jframe-std's client and the `jframe` command) against the
//! embassy device in `host-sim`, through its forwarded loopback port.

use std::process::Command;
use std::time::{Duration, Instant};

use jframe::{Op, Status};
use jframe_std::client::TcpClient;
use jframe_tests::{HostSim, retry, workspace_bin};

fn jframe(args: &[&str]) -> std::process::Output {
    Command::new(workspace_bin("jframe"))
        .args(args)
        .output()
        .expect("run jframe")
}

#[test]
fn jframe_send_reaches_the_device() {
    let sim = HostSim::start(&[]);
    let addr = sim.addr.to_string();
    let out = retry(Duration::from_secs(10), || {
        let out = jframe(&["send", &addr, "hello", "wörld"]);
        if out.status.success() {
            Ok(out)
        } else {
            Err(out)
        }
    });
    // The device upper-cases ASCII only (SPEC: firmware rules).
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\nWöRLD\n");

    let out = jframe(&["send", &addr, "--op", "greet", "jframe", "exit"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello, jframe!\nBye!\n"
    );

    // The device does not serve files: `jframe get` says why and fails,
    // leaving no file behind.
    let target = std::env::temp_dir().join(format!("jframe-device-get-{}", std::process::id()));
    let out = jframe(&["get", &addr, "notes.txt", "-o", target.to_str().unwrap()]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad_request"),
        "{out:?}"
    );
    assert!(!target.exists());
}

/// Pipelined frames of 0 B to 64 KiB through a wire that drops and corrupts
/// Ethernet frames: TCP on embassy-net repairs it, the bytes come back exact.
#[test]
fn std_client_is_byte_exact_through_a_faulty_wire() {
    let sim = HostSim::start(&["--drop", "3", "--corrupt", "3", "--seed", "11"]);
    let sizes = [0usize, 1, 12, 100, 1000, 1460, 4096, 10_000, 65_536];
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut conn = retry(Duration::from_secs(10), || {
        let mut c = TcpClient::connect(&sim.addr, Duration::from_secs(60))?;
        c.send_request(Op::Echo, b"probe")?;
        c.flush()?;
        match c.recv()? {
            Some(m) if m.body == b"probe" => Ok(c),
            other => Err(std::io::Error::other(format!("probe got {other:?}"))),
        }
    });
    for (i, &size) in sizes.iter().enumerate() {
        let body: Vec<u8> = (0..size).map(|j| ((i * 31 + j * 7) % 256) as u8).collect();
        let op = if i % 2 == 0 { Op::Echo } else { Op::Upper };
        conn.send_request(op, &body).unwrap();
        conn.flush().unwrap();
        let reply = conn.recv().unwrap().expect("a reply");
        assert_eq!(reply.status(), Status::Ok);
        let want = if op == Op::Upper {
            body.to_ascii_uppercase()
        } else {
            body
        };
        assert!(reply.body == want, "size {size}: body differs");
        assert!(
            Instant::now() < deadline,
            "too slow: stopped at size {size}"
        );
    }
}

#[test]
fn jframe_load_against_the_device_sees_no_errors() {
    let sim = HostSim::start(&[]);
    let addr = sim.addr.to_string();
    retry(Duration::from_secs(10), || {
        let out = jframe(&["send", &addr, "--op", "echo", "ready"]);
        if out.status.success() {
            Ok(())
        } else {
            Err(out)
        }
    });
    let out = jframe(&[
        "load",
        &addr,
        "--conns",
        "4",
        "--duration",
        "1",
        "--size",
        "256",
        "--op",
        "echo",
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors=0"), "{text}");
    let requests: u64 = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("requests="))
        .and_then(|n| n.parse().ok())
        .expect("a requests= figure");
    assert!(requests > 0, "{text}");
}

/// At 10% frame loss, four std clients doing 50 round trips each, at once,
/// all complete byte-exact (before, the forwarder cut every session at
/// 120 s whatever it was doing: `peer closed after 0 of 4 bytes`). Every round trip is bounded by the client's 60 s read timeout,
/// the whole test by 120 s.
#[test]
fn four_clients_50_round_trips_each_through_a_10_percent_lossy_wire() {
    let sim = HostSim::start(&["--drop", "10", "--seed", "5"]);
    let start = Instant::now();
    let limit = Duration::from_secs(120);
    let took: Vec<Duration> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..4u8)
            .map(|c| {
                let addr = sim.addr;
                scope.spawn(move || {
                    let mut conn = retry(Duration::from_secs(10), || {
                        TcpClient::connect(addr, Duration::from_secs(60))
                    });
                    for i in 0..50u32 {
                        let body: Vec<u8> = (0..512u32)
                            .map(|j| b'a' + ((j + i + u32::from(c)) % 26) as u8)
                            .collect();
                        conn.send_request(Op::Upper, &body)
                            .and_then(|()| conn.flush())
                            .unwrap_or_else(|e| panic!("client {c}, request {i}: {e}"));
                        let reply = conn
                            .recv()
                            .unwrap_or_else(|e| panic!("client {c}, reply {i}: {e}"))
                            .unwrap_or_else(|| panic!("client {c}: closed before reply {i}"));
                        assert_eq!(reply.status(), Status::Ok);
                        assert!(
                            reply.body == body.to_ascii_uppercase(),
                            "client {c}, reply {i}"
                        );
                        assert!(
                            start.elapsed() < limit,
                            "client {c}: only {i} round trips in {limit:?}"
                        );
                    }
                    start.elapsed()
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().expect("client"))
            .collect()
    });
    eprintln!("--drop 10: 4 x 50 round trips done in {took:?}");
}

/// The device's own `stats` op (beside SPEC.md's demo ops), called three
/// ways: the `jframe` command with any op name, and the typed client,
/// blocking and async.
#[test]
fn the_device_s_stats_op_through_the_command_and_the_typed_clients() {
    use jframe_std::call::{AsyncClient, CallError, Client};

    #[derive(Debug, serde::Deserialize)]
    struct Stats {
        uptime_ms: u64,
        requests: u64,
        connections: u64,
    }

    let sim = HostSim::start(&[]);
    let addr = sim.addr.to_string();
    let out = retry(Duration::from_secs(10), || {
        let out = jframe(&["send", &addr, "--op", "stats", "--json", ""]);
        if out.status.success() {
            Ok(out)
        } else {
            Err(out)
        }
    });
    let line = String::from_utf8_lossy(&out.stdout);
    let reply: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(reply["status"], "ok", "{line}");
    assert!(reply["header"]["uptime_ms"].as_u64().unwrap() > 0, "{line}");

    let t = Duration::from_secs(30);
    let mut c = Client::connect(sim.addr, t).unwrap();
    let before = c
        .call::<_, Stats>("stats", &jframe::service::NoKeys {}, b"")
        .unwrap();
    assert!(before.head.uptime_ms > 0 && before.head.connections >= 2);
    match c.call::<_, Stats>("reboot", &jframe::service::NoKeys {}, b"") {
        Err(CallError::Refused { status, message }) => {
            assert_eq!(status, Status::BadRequest);
            assert_eq!(message, r#"unknown op "reboot""#);
        }
        other => panic!("{other:?}"),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let after = rt.block_on(async {
        let mut c = AsyncClient::connect(sim.addr, t, 4096).await.unwrap();
        c.call::<_, Stats>("stats", &jframe::service::NoKeys {}, b"")
            .await
            .unwrap()
    });
    // Every reply counts: the first stats, the refusal, and more.
    assert!(after.head.requests >= before.head.requests + 2, "{after:?}");
}
