//! The library's log messages, the way embassy's crates write theirs: each
//! macro forwards its format string and arguments unchanged to `defmt` with
//! the `defmt` feature (firmware), else to `log` with the `log` feature (the
//! host simulator), else nowhere. Unchanged, because wrapping them in
//! `defmt::Debug2Format` would throw away defmt's compact encoding and link
//! `core::fmt` into the firmware. So an argument must be both `Debug` (for
//! `log`'s `{:?}`) and `defmt::Format`: log numbers and the stack's and
//! core's own types, which derive both.

/// One message at `$level`, to whichever backend the features pick.
macro_rules! emit {
    ($level:ident, $s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::$level!($s $(, $x)*);
        #[cfg(all(feature = "log", not(feature = "defmt")))]
        ::log::$level!($s $(, $x)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = ($(&$x),*);
    }};
}

macro_rules! debug {
    ($($message:tt)*) => { emit!(debug, $($message)*) };
}

macro_rules! warn {
    ($($message:tt)*) => { emit!(warn, $($message)*) };
}
