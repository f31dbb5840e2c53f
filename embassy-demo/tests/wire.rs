//! The device's service on a simulated device, end to end through two
//! embassy-net stacks and the virtual wire, in one process.

mod common;

use common::{
    Case, cases, connect, exchange, hang_up, next_reply, raw_frame, raw_request, run, test_config,
};
use embassy_futures::join::join_array;
use embassy_time::Duration;
use jframe::{Op, Status};
use jframe_embassy_demo::sim::wire::WireFaults;
use std::sync::atomic::Ordering::Relaxed;

const DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn two_hundred_frames_up_to_64k_are_byte_exact() {
    let cases = cases(200, 64 * 1024, 200);
    let stats = run(
        WireFaults::default(),
        test_config(),
        DEADLINE,
        |host| async move {
            exchange(host, &cases).await;
        },
    );
    assert!(stats.delivered.load(Relaxed) > 200);
    assert_eq!(stats.dropped.load(Relaxed), 0);
}

/// 15% of frames dropped and 15% corrupted, each direction: TCP must still
/// deliver every byte. Smaller than the clean run because smoltcp's minimum
/// retransmission timeout is one second.
fn lossy(seed: u64) {
    let faults = WireFaults {
        drop_pct: 15,
        corrupt_pct: 15,
        seed,
        ..WireFaults::default()
    };
    let cases = cases(24, 6 * 1024, seed);
    let stats = run(faults, test_config(), DEADLINE, |host| async move {
        exchange(host, &cases).await;
    });
    // The faults did happen, so the test proves recovery, not luck.
    assert!(stats.dropped.load(Relaxed) > 0, "{}", stats.summary());
    assert!(stats.corrupted.load(Relaxed) > 0, "{}", stats.summary());
}

#[test]
fn lossy_wire_seed_7_is_byte_exact() {
    lossy(7);
}

#[test]
fn lossy_wire_seed_2024_is_byte_exact() {
    lossy(2024);
}

#[test]
fn concurrent_connections_fill_the_pool() {
    let sets: Vec<Vec<Case>> = (0..common::POOL as u64)
        .map(|i| cases(40, 16 * 1024, 100 + i))
        .collect();
    run(
        WireFaults::default(),
        test_config(),
        DEADLINE,
        |host| async move {
            let clients: [_; common::POOL] = core::array::from_fn(|i| exchange(host, &sets[i]));
            join_array(clients).await;
        },
    );
}

#[test]
fn quick_reconnects_are_never_refused() {
    // One socket re-accepting in a loop would reset some of these; the
    // pool keeps a listener ready.
    let one = vec![Case {
        op: Op::Echo,
        body: b"ping".to_vec(),
    }];
    run(
        WireFaults::default(),
        test_config(),
        DEADLINE,
        |host| async move {
            for _ in 0..30 {
                exchange(host, &one).await;
            }
        },
    );
}

#[test]
fn malformed_frames_are_answered_and_the_device_keeps_serving() {
    run(
        WireFaults::default(),
        test_config(),
        DEADLINE,
        |host| async move {
            let (mut rx, mut tx) = (vec![0; 8192], vec![0; 8192]);
            let mut s = connect(host, &mut rx, &mut tx).await;
            let status = |h: Option<jframe::Header>| h.expect("a reply").status();

            // Recoverable: a well-formed header with a valid `data_size`
            // whose other keys are wrong. Error reply, the body is skipped,
            // the same connection goes on.
            let cases: [(&str, &[u8], Status); 3] = [
                (r#"{"data_size":3,"op":"frob"}"#, b"abc", Status::BadRequest),
                (
                    r#"{"data_size":3,"op":"get","name":"x"}"#,
                    b"abc",
                    Status::BadRequest,
                ),
                (r#"{"data_size":3,"op":5}"#, b"abc", Status::BadRequest),
            ];
            for (json, body, want) in cases {
                assert_eq!(
                    status(raw_request(&mut s, &raw_frame(json, body)).await),
                    Some(want),
                    "{json}"
                );
                // The next good frame on the same connection still works.
                let h = raw_request(&mut s, &raw_frame(r#"{"data_size": 2}"#, b"hi"))
                    .await
                    .expect("reply");
                assert_eq!(h.status(), Some(Status::Ok), "after {json}");
            }
            // A large body with an unknown op is skipped, not served.
            let big = vec![b'z'; 5000];
            let h = raw_request(
                &mut s,
                &raw_frame(r#"{"data_size":5000,"op":"frob"}"#, &big),
            )
            .await;
            assert_eq!(status(h), Some(Status::BadRequest));
            // The old `size` dialect and Python's spacing.
            let h = raw_request(&mut s, &raw_frame(r#"{"size": 2}"#, b"ok")).await;
            assert_eq!(status(h), Some(Status::Ok));

            // Fatal: where the frame ends is unknown or ambiguous (a prefix
            // out of range, a header that is not well-formed, a missing or
            // bad `data_size`): bad_frame, then the device closes, even if
            // a good frame follows on the same connection.
            let mut fatal: Vec<Vec<u8>> = [1i32, -5, 300, i32::MAX]
                .iter()
                .map(|prefix| prefix.to_le_bytes().to_vec())
                .collect();
            for json in [
                r#"{"data_size":3,"op":"upper""#,
                r#"{"op":"echo"}"#,
                r#"{"data_size":-1}"#,
                r#"{"data_size":1,"size":2}"#,
                r#"[1,2]"#,
            ] {
                fatal.push(raw_frame(json, b"abc"));
            }
            for bytes in &fatal {
                let (mut rx, mut tx) = (vec![0; 4096], vec![0; 4096]);
                let mut s = connect(host, &mut rx, &mut tx).await;
                let mut then_good = bytes.clone();
                then_good.extend_from_slice(&raw_frame(r#"{"data_size": 2}"#, b"hi"));
                let h = raw_request(&mut s, &then_good).await;
                assert_eq!(status(h), Some(Status::BadFrame), "{bytes:x?}");
                assert!(
                    next_reply(&mut s).await.is_none(),
                    "{bytes:x?}: connection must close"
                );
                hang_up(&mut s).await;
            }

            // A reply sent to the device is never answered: it closes.
            let (mut rx, mut tx) = (vec![0; 4096], vec![0; 4096]);
            let mut r = connect(host, &mut rx, &mut tx).await;
            let reply = raw_frame(r#"{"data_size":2,"status":"ok"}"#, b"hi");
            assert!(raw_request(&mut r, &reply).await.is_none());
            hang_up(&mut r).await;

            // greet exit: Bye! and close.
            let h = raw_request(
                &mut s,
                &raw_frame(r#"{"data_size":4,"op":"greet"}"#, b"exit"),
            )
            .await;
            assert_eq!(status(h), Some(Status::Ok));
            assert!(next_reply(&mut s).await.is_none(), "greet exit must close");
            hang_up(&mut s).await;

            // A client that vanishes mid-frame does not hurt the next one.
            let (mut rx, mut tx) = (vec![0; 4096], vec![0; 4096]);
            let mut cut = connect(host, &mut rx, &mut tx).await;
            jframe::io::asynch::write_all(
                &mut cut,
                &raw_frame(r#"{"data_size":100}"#, b"only part"),
            )
            .await
            .expect("write");
            hang_up(&mut cut).await;
            assert!(next_reply(&mut cut).await.is_none());

            exchange(
                host,
                &[Case {
                    op: Op::Greet,
                    body: b"still here".to_vec(),
                }],
            )
            .await;
        },
    );
}

/// SPEC: a slow peer cannot hold a connection slot for ever. A header has a
/// deadline from its first byte, a body a minimum rate; the idle timeout
/// (90 s here) is not what frees these slots.
#[test]
fn slow_headers_and_bodies_lose_their_slot() {
    let base = test_config();
    let config = jframe_embassy_demo::device::DeviceConfig {
        timeouts: jframe::service::Timeouts {
            header_ms: 1000,
            body_grace_ms: 1000,
            body_min_rate: 1000,
            ..base.timeouts
        },
        ..base
    };
    run(WireFaults::default(), config, DEADLINE, |host| async move {
        // Until the device closes: every byte it sent before its FIN.
        async fn until_closed(s: &mut embassy_net::tcp::TcpSocket<'_>) -> Vec<u8> {
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            for _ in 0..1000 {
                match embedded_io_async::Read::read(s, &mut buf).await {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            panic!("the device kept sending");
        }

        // Half a header, then nothing.
        let (mut rx, mut tx) = (vec![0; 4096], vec![0; 4096]);
        let mut s = connect(host, &mut rx, &mut tx).await;
        let frame = raw_frame(r#"{"data_size": 2}"#, b"hi");
        jframe::io::asynch::write_all(&mut s, &frame[..10])
            .await
            .expect("write");
        assert!(
            until_closed(&mut s).await.is_empty(),
            "no reply to half a header"
        );
        hang_up(&mut s).await;
        drop(s);

        // A whole header announcing 100000 bytes, 10 of them, then nothing:
        // the reply head and the first bytes come back, then the device closes.
        let mut s = connect(host, &mut rx, &mut tx).await;
        let head = raw_frame(r#"{"data_size":100000,"op":"echo"}"#, b"0123456789");
        jframe::io::asynch::write_all(&mut s, &head)
            .await
            .expect("write");
        let got = until_closed(&mut s).await;
        assert!(got.ends_with(b"0123456789"), "{got:x?}");
        hang_up(&mut s).await;

        // The slots were freed: the device still serves.
        exchange(
            host,
            &[Case {
                op: Op::Upper,
                body: b"after".to_vec(),
            }],
        )
        .await;
    });
}
