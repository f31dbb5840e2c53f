//! TCP: the accept loop and one thread per connection.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use jframe::service::engine::blocking;
use jframe::service::{self, Buffers, End, Limits};

use super::deadline::Timeouts;
use super::link::TcpLink;
use super::{Busy, BusyFrames, CONN_STACK, ConnEntry, Shared, accept_until_stopped};
use crate::services::StdServices;

/// Accepts until shutdown. Accept errors (out of file descriptors, say)
/// back off and retry; they never end the server.
pub(super) fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let (reject_tx, reject_rx) = sync_channel::<(Arc<TcpStream>, Busy)>(64);
    let frames = BusyFrames::new(&shared.config);
    let rejector = thread::Builder::new()
        .name("busy".into())
        .stack_size(CONN_STACK)
        .spawn(move || reject_loop(&reject_rx, &frames));
    if let Err(e) = &rejector {
        log::warn!("no thread for busy replies ({e}); over-limit connections are just closed");
    }
    accept_until_stopped(listener, shared, |stream, peer| {
        admit(shared, stream, peer, &reject_tx);
    });
    drop(reject_tx);
    if let Ok(t) = rejector {
        let _ = t.join();
    }
}

/// Registers and starts a connection, or hands it to the busy replier.
/// Behind a PROXY header, the connection's own thread reads the header
/// first and admits it by the client the header names.
fn admit(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    reject: &SyncSender<(Arc<TcpStream>, Busy)>,
) {
    if shared.config.proxy_protocol {
        // An untrusted peer is refused here, before it costs a thread.
        if !super::proxy_header::trusted(peer.ip(), &shared.config.trusted_proxies) {
            let untrusted = Err(super::proxy_header::ProxyHeaderError::Untrusted);
            let _ = super::proxy_refusal(untrusted, peer, |how| {
                let _ = stream.shutdown(how);
            });
            return;
        }
        let (shared, reject) = (shared.clone(), reject.clone());
        spawn(peer, move || {
            if let Some(client) = super::proxied_client(&stream, peer, &shared.config)
                && let Some(run) = register(&shared, stream, client, &reject)
            {
                run();
            }
        });
        return;
    }
    if let Some(run) = register(shared, stream, peer, reject) {
        spawn(peer, run);
    }
}

/// Starts a connection thread running `run`.
fn spawn(peer: std::net::SocketAddr, run: impl FnOnce() + Send + 'static) {
    let spawned = thread::Builder::new()
        .name("conn".into())
        .stack_size(CONN_STACK)
        .spawn(run);
    if let Err(e) = spawned {
        // The closure (and with it the slot and the stream) was dropped.
        log::warn!("{peer}: cannot start a thread: {e}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Registers the connection of `client` and returns what serves it, or
/// hands it to the busy replier.
fn register(
    shared: &Arc<Shared>,
    stream: TcpStream,
    client: std::net::SocketAddr,
    reject: &SyncSender<(Arc<TcpStream>, Busy)>,
) -> Option<impl FnOnce() + Send + 'static> {
    // One descriptor per connection: the registry (for shutdown) and the
    // connection's thread share the same socket.
    let stream = Arc::new(stream);
    let entry = Arc::new(ConnEntry {
        stream: stream.clone(),
        idle: Arc::new(AtomicBool::new(false)),
    });
    let slot = match shared
        .conns
        .try_register(client.ip(), &shared.config, || entry.clone())
    {
        Ok(slot) => slot,
        Err(why) => {
            log::debug!("{client}: {why:?} connection limit reached, replying busy");
            crate::metrics::refused(why.into());
            if let Err(TrySendError::Full((s, _)) | TrySendError::Disconnected((s, _))) =
                reject.try_send((stream, why))
            {
                let _ = s.shutdown(Shutdown::Both);
            }
            return None;
        }
    };
    let conn_shared = shared.clone();
    Some(move || {
        let _slot = slot;
        log::debug!("{client}: connected");
        match serve(&conn_shared, stream, &entry.idle) {
            Ok(()) => log::debug!("{client}: closed"),
            Err(e) => {
                crate::metrics::ended(&e);
                // A peer that resets or vanishes is routine.
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::NotConnected
                ) {
                    log::debug!("{client}: closed: {e}");
                } else {
                    log::info!("{client}: closed: {e}");
                }
            }
        }
    })
}

/// Answers over-limit connections with `busy`, one at a time, reading
/// briefly what they sent so that closing does not reset the connection
/// before the reply is read.
fn reject_loop(rx: &Receiver<(Arc<TcpStream>, Busy)>, frames: &BusyFrames) {
    for (stream, why) in rx {
        let mut stream = &*stream;
        let frame = frames.frame(why);
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        if stream.write_all(frame).is_err() {
            continue;
        }
        let _ = stream.shutdown(Shutdown::Write);
        let mut sink = [0u8; 4096];
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            match stream.read(&mut sink) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }
}

/// Buffer sizes of one connection: reads, a frame arriving in pieces
/// (a full-size header plus bodies held whole; larger ones stream), and
/// replies. Small, since a server holds one set per connection.
const RX: usize = 8 * 1024;
const FRAME: usize = crate::MAX_HEADER as usize + 8 * 1024;
const TX: usize = 8 * 1024;

/// Serves one connection until the peer leaves, an error, or shutdown: the
/// engine does the protocol, this only supplies the socket and the limits.
fn serve(shared: &Shared, stream: Arc<TcpStream>, idle: &AtomicBool) -> io::Result<()> {
    let cfg = &shared.config;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(cfg.write_timeout))?;
    let timeouts = Timeouts {
        idle: cfg.idle_timeout,
        header: cfg.header_timeout,
        body_min_rate: cfg.body_min_rate,
    };
    let meter = crate::metrics::RequestMeter::if_enabled();
    let mut link = TcpLink::new(stream, timeouts, idle, &shared.stopping, meter.clone());
    let (mut rx, mut frame, mut tx) = (vec![0u8; RX], vec![0u8; FRAME], vec![0u8; TX]);
    let buffers = Buffers {
        rx: &mut rx,
        frame: &mut frame,
        tx: &mut tx,
    };
    let mut services =
        StdServices::with_budget(cfg.root.clone(), cfg.max_body, shared.budget.clone())
            .with_meter(meter);
    let config = service::Config {
        limits: Limits {
            max_header: crate::MAX_HEADER,
            max_body: cfg.max_body,
        },
        welcome: cfg.welcome.as_deref().map(str::as_bytes),
    };
    match blocking::serve(&mut link, buffers, &mut services, &config) {
        End::Io(e) => Err(e),
        end if end.is_clean() => Ok(()),
        end => Err(io::Error::new(io::ErrorKind::InvalidData, end.to_string())),
    }
}
