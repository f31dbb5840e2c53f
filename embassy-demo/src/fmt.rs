//! Logging that goes to `defmt` with the `defmt` feature, else to `log`.
//! Arguments are wrapped in `Debug2Format` for defmt so call sites can pass
//! any `Debug` value either way.

macro_rules! jlog {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::$level!($fmt $(, ::defmt::Debug2Format(&$arg))*);
        #[cfg(not(feature = "defmt"))]
        ::log::$level!($fmt $(, $arg)*);
    }};
}
