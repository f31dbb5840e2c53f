//! Fault injection: which frames are dropped, corrupted or delayed, by
//! seeded dice, and the bytes of a frame as its fault lets them out.

use std::time::Duration;

use super::Dir;

/// Per-frame faults, decided by a PRNG seeded from [`FaultPlan::seed`],
/// the connection number and the direction: the same seed gives the same
/// faults for the same traffic.
///
/// ```
/// use std::time::Duration;
/// use jframe_std::proxy::{FaultPlan, ProxyConfig};
///
/// let mut cfg = ProxyConfig::new(vec!["127.0.0.1:9000".parse()?]);
/// assert!(!cfg.faults.any()); // transparent by default
/// cfg.faults = FaultPlan {
///     drop_pct: 5.0,
///     delay: Duration::from_millis(50),
///     seed: 7,
///     ..FaultPlan::default()
/// };
/// assert!(cfg.faults.any());
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// Percentage of frames not forwarded at all.
    pub drop_pct: f64,
    /// Percentage of frames forwarded with one bit flipped (anywhere in
    /// the frame: prefix, header or body).
    pub corrupt_pct: f64,
    /// Every frame is forwarded this long after its first byte arrived.
    pub delay: Duration,
    /// The PRNG seed.
    pub seed: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            drop_pct: 0.0,
            corrupt_pct: 0.0,
            delay: Duration::ZERO,
            seed: 1,
        }
    }
}

impl FaultPlan {
    /// True when some fault can happen.
    pub fn any(&self) -> bool {
        self.drop_pct > 0.0 || self.corrupt_pct > 0.0 || !self.delay.is_zero()
    }
}

/// splitmix64: small, seedable, good enough for fault dice.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `pct` percent.
    fn chance(&mut self, pct: f64) -> bool {
        pct > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) * 100.0 < pct
    }
}

/// What a frame's fault dice said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Drop,
    /// Flip a bit of the byte at this offset from the frame's start
    /// (`u64::MAX` until the frame's length is known).
    Corrupt(u64),
}

/// The faults of one direction of one connection: its dice, and the
/// current frame's fault and position.
#[derive(Debug)]
pub(super) struct FrameFaults {
    rng: Rng,
    fault: Fault,
    /// Which bit (and, once the length is known, which byte) to flip.
    corrupt_pick: u64,
    /// Bytes of the current frame passed so far.
    frame_pos: u64,
}

impl FrameFaults {
    pub(super) fn new(plan: &FaultPlan, conn: u64, dir: Dir) -> Self {
        let seed = plan.seed
            ^ conn.wrapping_mul(0xA076_1D64_78BD_642F)
            ^ if dir == Dir::ToServer {
                0
            } else {
                0xE703_7ED1_A0B4_28DB
            };
        FrameFaults {
            rng: Rng(seed),
            fault: Fault::None,
            corrupt_pick: 0,
            frame_pos: 0,
        }
    }

    /// A frame's first byte: roll its fault.
    pub(super) fn roll(&mut self, plan: &FaultPlan) {
        self.frame_pos = 0;
        self.fault = if self.rng.chance(plan.drop_pct) {
            Fault::Drop
        } else if self.rng.chance(plan.corrupt_pct) {
            // The offset is fixed once the frame's length is known.
            Fault::Corrupt(u64::MAX)
        } else {
            Fault::None
        };
        self.corrupt_pick = self.rng.next();
    }

    /// The frame's length is known: pick the byte to corrupt.
    pub(super) fn frame_len(&mut self, head_len: usize, data_size: u64) {
        if self.fault == Fault::Corrupt(u64::MAX) {
            let total = (head_len as u64).saturating_add(data_size);
            self.fault = Fault::Corrupt(self.corrupt_pick % total.max(1));
        }
    }

    /// Bytes of the current frame, queued in `out` as its fault says;
    /// with `queue` false (no faults: each read is forwarded as it came)
    /// they are only counted.
    pub(super) fn pass(&mut self, bytes: &[u8], out: &mut Vec<u8>, queue: bool) {
        if queue {
            match self.fault {
                Fault::Drop => {}
                Fault::None => out.extend_from_slice(bytes),
                Fault::Corrupt(at) => {
                    let from = out.len();
                    out.extend_from_slice(bytes);
                    let pos = self.frame_pos;
                    if at >= pos && at < pos + bytes.len() as u64 {
                        let i = from + (at - pos) as usize;
                        let bit = 1u8 << (self.corrupt_pick % 8);
                        if let Some(b) = out.get_mut(i) {
                            *b ^= bit;
                        }
                    }
                }
            }
        }
        self.frame_pos += bytes.len() as u64;
    }

    /// The current frame's fault as reports name it.
    pub(super) fn name(&self) -> Option<String> {
        match self.fault {
            Fault::None => None,
            Fault::Drop => Some("drop".into()),
            Fault::Corrupt(at) => Some(format!("corrupt byte {at}")),
        }
    }

    /// The frame is over: what follows is not its.
    pub(super) fn clear(&mut self) {
        self.fault = Fault::None;
    }
}
