//! The echo service on a simulated device, end to end through two
//! embassy-net stacks and the virtual wire, in one process.

mod common;

use common::{
    Case, cases, connect, exchange, hang_up, next_reply, raw_frame, raw_request, run, test_config,
};
use embassy_futures::join::join_array;
use embassy_time::Duration;
use jframe::{Op, Status};
use jframe_embassy_demo::sim::wire::Faults;
use std::sync::atomic::Ordering::Relaxed;

const DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn two_hundred_frames_up_to_64k_are_byte_exact() {
    let cases = cases(200, 64 * 1024, 200);
    let stats = run(
        Faults::default(),
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
    let faults = Faults {
        drop_pct: 15,
        corrupt_pct: 15,
        seed,
        ..Faults::default()
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
        Faults::default(),
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
        Faults::default(),
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
        Faults::default(),
        test_config(),
        DEADLINE,
        |host| async move {
            let (mut rx, mut tx) = (vec![0; 8192], vec![0; 8192]);
            let mut s = connect(host, &mut rx, &mut tx).await;
            let status = |h: Option<jframe::Header>| h.expect("a reply").status();

            // Recoverable: error reply, same connection goes on.
            let cases: [(&str, &[u8], Status); 8] = [
                (r#"{"data_size":3,"op":"frob"}"#, b"abc", Status::BadRequest),
                (
                    r#"{"data_size":3,"op":"get","name":"x"}"#,
                    b"abc",
                    Status::BadRequest,
                ),
                (r#"{"data_size":3,"op":5}"#, b"abc", Status::BadRequest),
                // The size is read before the syntax error: its body is skipped.
                (r#"{"data_size":3,"op":"upper""#, b"abc", Status::BadFrame),
                (r#"{"op":"echo"}"#, b"", Status::BadFrame),
                (r#"{"data_size":-1}"#, b"", Status::BadFrame),
                (r#"{"data_size":1,"size":2}"#, b"x", Status::BadFrame),
                (r#"[1,2]"#, b"", Status::BadFrame),
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

            // Fatal: a prefix out of range gets bad_frame, then the device closes.
            for prefix in [1i32, -5, 300, i32::MAX] {
                let (mut rx, mut tx) = (vec![0; 4096], vec![0; 4096]);
                let mut s = connect(host, &mut rx, &mut tx).await;
                let h = raw_request(&mut s, &prefix.to_le_bytes()).await;
                assert_eq!(status(h), Some(Status::BadFrame), "prefix {prefix}");
                assert!(
                    next_reply(&mut s).await.is_none(),
                    "prefix {prefix}: connection must close"
                );
                hang_up(&mut s).await;
            }

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
