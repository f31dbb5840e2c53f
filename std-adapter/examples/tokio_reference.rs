//! The reference to beat: what a tokio developer would write for the same
//! protocol with off-the-shelf parts. tokio-util's `LengthDelimitedCodec`
//! (4-byte little-endian length) cuts out the JSON header, `serde_json`
//! parses it, and the body (`data_size` bytes) follows; replies are fed and
//! flushed only when no further request is buffered (as jframe-std does).
//!
//! `cargo run --release --features tokio --example tokio_reference -- 127.0.0.1:0`

use bytes::{Buf, BufMut, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Decoder, Encoder, Framed, LengthDelimitedCodec};

const MAX_BODY: usize = 16 << 20;

struct RefCodec {
    header: LengthDelimitedCodec,
    pending: Option<usize>,
}

impl RefCodec {
    fn new() -> Self {
        RefCodec {
            header: LengthDelimitedCodec::builder()
                .little_endian()
                .length_field_length(4)
                .max_frame_length(4096)
                .new_codec(),
            pending: None,
        }
    }
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

impl Decoder for RefCodec {
    type Item = BytesMut;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, std::io::Error> {
        loop {
            if let Some(size) = self.pending {
                if src.len() < size {
                    src.reserve(size - src.len());
                    return Ok(None);
                }
                self.pending = None;
                return Ok(Some(src.split_to(size)));
            }
            let Some(json) = self.header.decode(src)? else {
                return Ok(None);
            };
            let header: serde_json::Value =
                serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
            let size = header
                .get("data_size")
                .or_else(|| header.get("size"))
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| bad("no data_size"))?;
            let size = usize::try_from(size).map_err(|_| bad("too large"))?;
            if size > MAX_BODY {
                return Err(bad("too large"));
            }
            self.pending = Some(size);
        }
    }
}

impl Encoder<Vec<u8>> for RefCodec {
    type Error = std::io::Error;

    fn encode(&mut self, body: Vec<u8>, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        let header =
            serde_json::to_vec(&serde_json::json!({"data_size": body.len(), "status": "ok"}))?;
        let len = i32::try_from(header.len()).map_err(|_| bad("header too long"))?;
        dst.reserve(4 + header.len() + body.len());
        dst.put_i32_le(len);
        dst.put_slice(&header);
        dst.put_slice(&body);
        Ok(())
    }
}

fn upper(body: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(body) {
        Ok(s) => s.to_uppercase().into_bytes(),
        Err(_) => body.to_ascii_uppercase(),
    }
}

async fn serve(sock: TcpStream) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut framed = Framed::new(sock, RefCodec::new());
    while let Some(body) = framed.next().await {
        let body = body?;
        framed.feed(upper(body.chunk())).await?;
        if framed.read_buffer().is_empty() {
            framed.flush().await?;
        }
    }
    framed.flush().await
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "tokio_reference: listening on tcp {}",
        listener.local_addr()?
    );
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                tokio::spawn(async move {
                    let _ = serve(sock).await;
                });
            }
            Err(e) => {
                eprintln!("tokio_reference: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
