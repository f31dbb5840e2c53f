//! A typed client: a call takes an op, your request header type and a
//! body, and returns the reply with its header parsed into your type. A
//! status other than `ok` is a typed error carrying the status and the
//! server's message. Calls pipeline: [`Client::send`] several, then
//! [`Client::receive`] their replies, in order.
//!
//! Blocking ([`Client`], over the client core [`TcpClient`]) and async
//! ([`AsyncClient`], tokio, over the [`JframeCodec`](crate::codec::JframeCodec);
//! feature `tokio`). Both encode requests with core's encoder
//! ([`encode_request_head`](crate::client::encode_request_head)), read
//! replies with core's decoder, bound the reply size and time out; "no
//! `status` means `ok`" is [`jframe::Header::reply_status`]'s rule,
//! written once.
//!
//! ```no_run
//! use jframe_std::call::{CallError, Client};
//!
//! #[derive(serde::Serialize)]
//! struct Channel { channel: u8 }
//!
//! #[derive(serde::Deserialize)]
//! struct Reading { millicelsius: i32 }
//!
//! let mut device = Client::connect("127.0.0.1:7000", std::time::Duration::from_secs(5))?;
//! let reply = device.call::<_, Reading>("read_sensor", &Channel { channel: 1 }, b"")?;
//! println!("{} m°C", reply.head.millicelsius);
//! match device.call::<_, Reading>("read_sensor", &Channel { channel: 9 }, b"") {
//!     Err(CallError::Refused { status, message }) => println!("{status}: {message}"),
//!     other => println!("{:?}", other.map(|r| r.body)),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::net::ToSocketAddrs;
use std::time::Duration;

use jframe::Status;

use crate::client::TcpClient;

/// A reply: its header parsed into your type, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<H> {
    /// The header, as your type (serde; unknown keys are yours to ignore).
    pub head: H,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The server answered with an error status (its `error` message).
    Refused {
        /// The status.
        status: Status,
        /// The server's message (empty when it sent none).
        message: String,
    },
    /// The reply's header does not fit your type.
    Head(String),
    /// The server closed the connection before replying.
    Closed,
    /// The connection failed, timed out, or the reply broke a limit.
    Io(io::Error),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Refused { status, message } if message.is_empty() => write!(f, "{status}"),
            CallError::Refused { status, message } => write!(f, "{status}: {message}"),
            CallError::Head(e) => write!(f, "the reply's header does not fit: {e}"),
            CallError::Closed => f.write_str("the server closed the connection before replying"),
            CallError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        CallError::Io(e)
    }
}

/// A reply frame made typed: `ok` (or no status) parses the header into
/// `H`; anything else is [`CallError::Refused`].
fn typed<H: serde::de::DeserializeOwned>(
    status: Status,
    error: Option<&str>,
    header_json: &[u8],
    body: Vec<u8>,
) -> Result<Reply<H>, CallError> {
    if status != Status::Ok {
        return Err(CallError::Refused {
            status,
            message: error.unwrap_or_default().to_string(),
        });
    }
    let head = serde_json::from_slice(header_json).map_err(|e| CallError::Head(e.to_string()))?;
    Ok(Reply { head, body })
}

/// A blocking typed client over one connection.
///
/// ```
/// use std::time::Duration;
/// use jframe_std::call::{CallError, Client};
/// use jframe_std::server::{Config, Server};
///
/// let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
/// let addr = server.local_addr()?;
/// let stop = server.shutdown_handle()?;
/// let running = std::thread::spawn(move || server.run());
///
/// #[derive(serde::Serialize)]
/// struct NoKeys {}
/// #[derive(serde::Deserialize)]
/// struct Head { data_size: u64 }
///
/// let mut client = Client::connect(addr, Duration::from_secs(5))?;
/// let reply = client.call::<_, Head>("echo", &NoKeys {}, b"hello")?;
/// assert_eq!((reply.head.data_size, reply.body.as_slice()), (5, &b"hello"[..]));
/// match client.call::<_, Head>("dance", &NoKeys {}, b"") {
///     Err(CallError::Refused { status, .. }) => assert_eq!(status, jframe::Status::BadRequest),
///     other => panic!("{:?}", other.map(|r| r.body)),
/// }
///
/// drop(client);
/// stop.shutdown();
/// running.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Client {
    stream: TcpClient,
}

impl Client {
    /// Connects; `timeout` bounds the connect and every read and write.
    pub fn connect<A: ToSocketAddrs>(addr: A, timeout: Duration) -> io::Result<Client> {
        Ok(Client {
            stream: TcpClient::connect(addr, timeout)?,
        })
    }

    /// The largest reply body accepted (larger ones are an error).
    pub fn set_max_reply(&mut self, bytes: u64) {
        self.stream.set_max_body(bytes);
    }

    /// Queues a request (`op`, your header keys, a body); sent at the next
    /// [`Self::receive`] or [`Self::flush`], so several pipeline.
    pub fn send<Q: serde::Serialize + ?Sized>(
        &mut self,
        op: &str,
        head: &Q,
        body: &[u8],
    ) -> io::Result<()> {
        self.stream.send_request_with(op, head, body)
    }

    /// Sends what is queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }

    /// The reply to the oldest request not yet answered.
    pub fn receive<H: serde::de::DeserializeOwned>(&mut self) -> Result<Reply<H>, CallError> {
        self.stream.flush()?;
        let Some(m) = self.stream.recv()? else {
            return Err(CallError::Closed);
        };
        typed(
            m.status(),
            m.header.error.as_deref(),
            &m.header_json,
            m.body,
        )
    }

    /// One request and its reply.
    pub fn call<Q: serde::Serialize + ?Sized, H: serde::de::DeserializeOwned>(
        &mut self,
        op: &str,
        head: &Q,
        body: &[u8],
    ) -> Result<Reply<H>, CallError> {
        self.send(op, head, body)?;
        self.receive()
    }
}

#[cfg(feature = "tokio")]
pub use self::asynch::AsyncClient;

#[cfg(feature = "tokio")]
mod asynch {
    use std::io;
    use std::time::Duration;

    use futures::{SinkExt, StreamExt};
    use tokio::net::{TcpStream, ToSocketAddrs};
    use tokio::time::timeout;
    use tokio_util::codec::{Framed, FramedParts};

    use super::{CallError, Reply, typed};
    use crate::client::encode_request_head;
    use crate::codec::{Incoming, JframeCodec};

    /// An async (tokio) typed client over one connection: the same calls
    /// as [`super::Client`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use jframe_std::call::AsyncClient;
    /// use jframe_std::server::{Config, Server};
    ///
    /// let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?;
    /// let addr = server.local_addr()?;
    /// let stop = server.shutdown_handle()?;
    /// let running = std::thread::spawn(move || server.run());
    ///
    /// #[derive(serde::Serialize)]
    /// struct NoKeys {}
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// let body = runtime.block_on(async {
    ///     let mut client = AsyncClient::connect(addr, Duration::from_secs(5), 1 << 20).await?;
    ///     let reply = client.call::<_, serde_json::Value>("upper", &NoKeys {}, b"quiet").await?;
    ///     Ok::<_, Box<dyn std::error::Error>>(reply.body)
    /// })?;
    /// assert_eq!(body, b"QUIET");
    ///
    /// stop.shutdown();
    /// running.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Debug)]
    pub struct AsyncClient {
        framed: Framed<TcpStream, JframeCodec>,
        timeout: Duration,
    }

    impl AsyncClient {
        /// Connects; `timeout` bounds the connect and every reply; replies
        /// are at most `max_reply` bytes of body.
        pub async fn connect<A: ToSocketAddrs>(
            addr: A,
            timeout_after: Duration,
            max_reply: usize,
        ) -> io::Result<AsyncClient> {
            let stream = timeout(timeout_after, TcpStream::connect(addr))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            stream.set_nodelay(true)?;
            let codec = JframeCodec::new(crate::MAX_HEADER, max_reply);
            Ok(AsyncClient {
                framed: Framed::from_parts(FramedParts::new(stream, codec)),
                timeout: timeout_after,
            })
        }

        /// Queues a request; sent at the next [`Self::receive`] or
        /// [`Self::flush`], so several pipeline.
        pub async fn send<Q: serde::Serialize + ?Sized>(
            &mut self,
            op: &str,
            head: &Q,
            body: &[u8],
        ) -> io::Result<()> {
            let mut bytes = encode_request_head(op, head, body.len())?;
            bytes.extend_from_slice(body);
            self.framed.write_buffer_mut().extend_from_slice(&bytes);
            Ok(())
        }

        /// Sends what is queued.
        pub async fn flush(&mut self) -> io::Result<()> {
            timeout(self.timeout, self.framed.flush())
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?
        }

        /// The reply to the oldest request not yet answered.
        pub async fn receive<H: serde::de::DeserializeOwned>(
            &mut self,
        ) -> Result<Reply<H>, CallError> {
            self.flush().await?;
            loop {
                let next = timeout(self.timeout, self.framed.next())
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply in time"))?;
                match next {
                    None => return Err(CallError::Closed),
                    Some(Err(e)) => return Err(CallError::Io(e)),
                    // A welcome is not a reply.
                    Some(Ok(Incoming::Frame { header, .. })) if header.welcome => {}
                    Some(Ok(Incoming::Frame {
                        header,
                        header_json,
                        body,
                    })) => {
                        return typed(
                            header.reply_status(),
                            header.error.as_deref(),
                            &header_json,
                            body.to_vec(),
                        );
                    }
                    Some(Ok(Incoming::Rejected(e))) => {
                        return Err(CallError::Io(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("unreadable reply: {e}"),
                        )));
                    }
                }
            }
        }

        /// One request and its reply.
        pub async fn call<Q: serde::Serialize + ?Sized, H: serde::de::DeserializeOwned>(
            &mut self,
            op: &str,
            head: &Q,
            body: &[u8],
        ) -> Result<Reply<H>, CallError> {
            self.send(op, head, body).await?;
            self.receive().await
        }
    }
}
