//! The descriptor limit: raised at start, and the connections it can
//! carry.

/// Descriptors kept back from connections: the listener, the UDP socket,
/// the busy replier's sockets, files `get` opens, logging.
pub const RESERVED_FDS: u64 = 64;

/// Raises the soft `nofile` limit to the hard one (as Go's runtime and many
/// servers do at start) and returns the new soft limit; `None` where it
/// cannot be read.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => limit = raised,
            Err(e) => log::debug!("cannot raise the nofile limit: {e}"),
        }
    }
    limit.current
}

/// The most connections `fds` descriptors can carry: one per connection
/// (plus [`RESERVED_FDS`]), and never more than `wanted`.
pub fn max_conns_for_fd_limit(wanted: usize, fds: Option<u64>) -> usize {
    match fds {
        Some(fds) => {
            let room = usize::try_from(fds.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
            wanted.min(room.max(1))
        }
        None => wanted,
    }
}
