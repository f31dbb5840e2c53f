//! UDP: one frame per datagram, one reply per request, never much larger
//! than the request (no amplification: core's [`datagram::answer`]).

use std::io;
use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use jframe::service::{Service, datagram};

use super::Shared;

/// Largest datagram received (the UDP maximum rounds up to this).
const DATAGRAM: usize = 65_536;

/// Source ports whose traffic is dropped: 0 is invalid, and echo (7) and
/// chargen (19) would bounce replies back at us forever.
const BLOCKED_PORTS: [u16; 3] = [0, 7, 19];

pub(super) fn serve<S: Service>(sock: &UdpSocket, shared: &Shared, make: &dyn Fn() -> S) {
    // A short timeout so that shutdown is noticed.
    if let Err(e) = sock.set_read_timeout(Some(Duration::from_millis(200))) {
        log::error!("udp: cannot set a read timeout ({e}); UDP service stopped");
        return;
    }
    let mut datagram = vec![0u8; DATAGRAM];
    let mut reply = vec![0u8; DATAGRAM];
    let mut services = crate::metrics::Metered::new(make());
    let limits = shared.config.limits();
    while !shared.stopping() {
        let (n, src) = match sock.recv_from(&mut datagram) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // ICMP errors from earlier replies surface here; keep going.
                log::debug!("udp: receive failed: {e}");
                thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        if BLOCKED_PORTS.contains(&src.port()) {
            log::debug!("udp: dropped a datagram from {src}");
            continue;
        }
        let Some(len) = datagram::answer(&datagram[..n], &mut reply, &mut services, &limits) else {
            log::debug!("udp: no reply due to {src}");
            continue;
        };
        if let Err(e) = sock.send_to(&reply[..len], src) {
            log::debug!("udp: reply to {src} failed: {e}");
        }
    }
}
