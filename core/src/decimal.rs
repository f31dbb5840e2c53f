//! Integers in decimal without `core::fmt`'s integer code, which on
//! Cortex-M brings a lookup table and a panic path (an index check the
//! optimizer keeps) that the panic-never link refuses, and without 64-bit
//! division (a libcall there): digits by repeated subtraction of powers of
//! ten. One routine for the encoder's `data_size` and for messages.

use core::fmt;

/// 10^19 down to 10^0.
const POWERS_OF_TEN: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 19;
    while i > 0 {
        i -= 1;
        table[i] = table[i + 1] * 10;
    }
    table
};

/// The decimal digits of `v`, written into `buf`.
pub(crate) fn digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    // Start at the number's own magnitude: a short number (the usual
    // `data_size`) costs a few comparisons, not twenty.
    let mut first = POWERS_OF_TEN.len() - 1;
    while first > 0 && POWERS_OF_TEN.get(first - 1).is_some_and(|&p| v >= p) {
        first -= 1;
    }
    let mut len = 0;
    for &power in POWERS_OF_TEN.get(first..).unwrap_or_default() {
        let mut d = b'0';
        while v >= power {
            v -= power;
            d += 1;
        }
        if let Some(slot) = buf.get_mut(len) {
            *slot = d;
        }
        len += 1;
    }
    buf.get(..len).unwrap_or_default()
}

/// An integer for `{}` in messages: `Decimal::from(n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    pub(crate) negative: bool,
    pub(crate) magnitude: u64,
}

impl From<u64> for Decimal {
    fn from(magnitude: u64) -> Self {
        Decimal {
            negative: false,
            magnitude,
        }
    }
}

impl From<u32> for Decimal {
    fn from(n: u32) -> Self {
        Decimal::from(u64::from(n))
    }
}

impl From<i32> for Decimal {
    fn from(n: i32) -> Self {
        Decimal {
            negative: n < 0,
            magnitude: u64::from(n.unsigned_abs()),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        let mut buf = [0u8; 20];
        let text = digits(self.magnitude, &mut buf);
        f.write_str(core::str::from_utf8(text).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn matches_core_fmt() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            12345,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(Decimal::from(n).to_string(), n.to_string());
        }
        for n in [0i32, -1, -5, i32::MIN, i32::MAX] {
            assert_eq!(Decimal::from(n).to_string(), n.to_string());
        }
    }
}
