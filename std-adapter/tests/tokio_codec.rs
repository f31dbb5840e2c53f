//! The tokio-util codec (feature `tokio`) over real sockets.
#![cfg(feature = "tokio")]

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use jframe::{Header, Op, Status};
use jframe_std::codec::{Incoming, JframeCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, FramedWrite};

#[tokio::test]
async fn codec_round_trips_and_recovers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // As Python writes it, a bad header, a body too large, then ours.
        s.write_all(b"\x10\x00\x00\x00{\"data_size\": 2}hi")
            .await
            .unwrap();
        s.write_all(b"\x0b\x00\x00\x00{\"size\": 2}hi")
            .await
            .unwrap();
        s.write_all(b"\x04\x00\x00\x00nope").await.unwrap();
        s.write_all(b"\x11\x00\x00\x00{\"data_size\":100}")
            .await
            .unwrap();
        s.write_all(&[b'x'; 100]).await.unwrap();
        let mut w = FramedWrite::new(s, JframeCodec::default());
        w.send((Header::request(Op::Echo, 3), Bytes::from_static(b"abc")))
            .await
            .unwrap();
        w.into_inner()
            .write_all(&(-5i32).to_le_bytes())
            .await
            .unwrap();
    });
    let (sock, _) = listener.accept().await.unwrap();
    let mut r = FramedRead::new(sock, JframeCodec::new(4096, 16));
    let mut got = Vec::new();
    while let Some(item) = r.next().await {
        match item {
            Ok(Incoming::Frame { header, body }) => got.push(format!(
                "{:?}:{}",
                header.op(),
                String::from_utf8_lossy(&body)
            )),
            Ok(Incoming::Rejected(e)) => got.push(format!("rejected:{}", e.status())),
            Err(e) => {
                got.push(format!("fatal:{}", e.kind()));
                break;
            }
        }
    }
    client.await.unwrap();
    assert_eq!(
        got,
        [
            "Ok(Upper):hi",
            "Ok(Upper):hi",
            "rejected:bad_frame",
            "rejected:too_large",
            "Ok(Echo):abc",
            "fatal:invalid data",
        ]
    );
    let _ = Status::Ok;
}
