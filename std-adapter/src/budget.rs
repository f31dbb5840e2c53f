//! A server-wide budget for memory held on a peer's behalf (SPEC, "Errors
//! and recovery": a server bounds the memory of all the requests it holds
//! at once, not only of each one).
//!
//! A [`Budget`] is a shared counter of bytes against a limit. A service
//! that needs memory asks for a [`Reservation`] before allocating; the
//! reservation gives the bytes back when it is dropped, however the request
//! ends (answered, refused, abandoned, the connection dropped).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default server-wide budget: 256 MiB.
pub const DEFAULT_BODY_BUDGET: u64 = 256 << 20;

#[derive(Debug)]
struct Inner {
    limit: u64,
    used: AtomicU64,
}

/// Bytes that may be held at once, server-wide. Cheap to clone: clones
/// share one counter.
#[derive(Debug, Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// The request alone needs more than the whole budget: `too_large`.
    TooLarge,
    /// Others hold too much of the budget right now: `busy`.
    Busy,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shortfall::TooLarge => "more than the server's whole memory budget",
            Shortfall::Busy => "the server's memory budget is in use",
        })
    }
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Budget {
            inner: Arc::new(Inner {
                limit,
                used: AtomicU64::new(0),
            }),
        }
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.inner.limit
    }

    /// Bytes reserved right now.
    pub fn used(&self) -> u64 {
        self.inner.used.load(Ordering::SeqCst)
    }

    /// Takes `n` bytes, all or nothing.
    pub fn reserve(&self, n: u64) -> Result<Reservation, Shortfall> {
        self.take(n)?;
        Ok(Reservation {
            budget: self.clone(),
            bytes: n,
        })
    }

    fn take(&self, n: u64) -> Result<(), Shortfall> {
        if n > self.inner.limit {
            return Err(Shortfall::TooLarge);
        }
        let limit = self.inner.limit;
        self.inner
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(n).filter(|&total| total <= limit)
            })
            .map(|used| crate::metrics::budget_in_use(used + n))
            .map_err(|_| Shortfall::Busy)
    }

    fn give_back(&self, n: u64) {
        // Never below zero, whatever happens.
        if let Ok(used) = self
            .inner
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                Some(used.saturating_sub(n))
            })
        {
            crate::metrics::budget_in_use(used.saturating_sub(n));
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_BODY_BUDGET)
    }
}

/// Bytes taken from a [`Budget`]; given back on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: Budget,
    bytes: u64,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Keeps only `n` bytes (no-op if it holds `n` or fewer).
    pub fn shrink_to(&mut self, n: u64) {
        if n < self.bytes {
            self.budget.give_back(self.bytes - n);
            self.bytes = n;
        }
    }

    /// Takes `extra` more bytes, all or nothing.
    pub fn grow(&mut self, extra: u64) -> Result<(), Shortfall> {
        let total = self.bytes.checked_add(extra).ok_or(Shortfall::TooLarge)?;
        if total > self.budget.limit() {
            return Err(Shortfall::TooLarge);
        }
        self.budget.take(extra)?;
        self.bytes = total;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_release_and_shortfalls() {
        let b = Budget::new(100);
        assert_eq!(b.reserve(101).unwrap_err(), Shortfall::TooLarge);
        let mut r = b.reserve(60).unwrap();
        assert_eq!(b.used(), 60);
        assert_eq!(b.reserve(41).unwrap_err(), Shortfall::Busy);
        let r2 = b.reserve(40).unwrap();
        assert_eq!(b.used(), 100);
        assert_eq!(r.grow(1).unwrap_err(), Shortfall::Busy);
        assert_eq!(r.grow(41).unwrap_err(), Shortfall::TooLarge);
        drop(r2);
        r.grow(10).unwrap();
        assert_eq!(b.used(), 70);
        r.shrink_to(5);
        assert_eq!(b.used(), 5);
        let c = b.clone();
        drop(r);
        assert_eq!(c.used(), 0);
    }
}
