//! Log output and the panic handler.
//!
//! Everything logs through defmt: this crate's messages and the library's
//! (jframe-embassy-demo's `fmt.rs`, feature `defmt`), one path with defmt's
//! compact encoding and no `core::fmt` in flash. The format strings stay in
//! the ELF (not in flash); the host decodes the frames with
//! `defmt-print -e ELF`. With the default `semihosting` feature the frames
//! go to the host through ARM semihosting (QEMU writes them to its stdout)
//! and a panic ends QEMU with a failure exit code. With `rtt` instead they
//! go over RTT, for a real board with a debug probe, where semihosting would
//! halt the core without a debugger attached.
//!
//! The log level is chosen at build time (`DEFMT_LOG`, set by `build.sh`).

use core::sync::atomic::{AtomicBool, Ordering};

#[cfg(feature = "semihosting")]
use defmt_semihosting as _;

// Only one transport may be the global logger.
#[cfg(all(feature = "rtt", not(feature = "semihosting")))]
use defmt_rtt as _;

#[cfg(not(any(feature = "semihosting", feature = "rtt")))]
compile_error!("pick a log transport: feature `semihosting` (QEMU) or `rtt` (a debug probe)");

/// Ends the program: under QEMU with semihosting, QEMU exits with success
/// or failure; elsewhere the core stops in a breakpoint/loop.
pub fn exit(success: bool) -> ! {
    #[cfg(feature = "semihosting")]
    cortex_m_semihosting::debug::exit(if success {
        cortex_m_semihosting::debug::EXIT_SUCCESS
    } else {
        cortex_m_semihosting::debug::EXIT_FAILURE
    });
    let _ = success;
    loop {
        cortex_m::asm::udf();
    }
}

/// Set by the first panic: a panic raised while logging the first (defmt's
/// logger is not reentrant and panics when taken twice) must not recurse.
static PANICKED: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // That, not where nor what: reading the panic's location or message
    // keeps every panic site's location and message arguments, and the
    // `core::fmt` that formats them, in flash (13.6 KB, measured). A
    // debugger's backtrace says where.
    if !PANICKED.swap(true, Ordering::Relaxed) {
        defmt::error!("panic");
    }
    exit(false)
}
