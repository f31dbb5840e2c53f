//! Log output and the panic handler.
//!
//! Everything logs through the `log` facade. With the default `semihosting`
//! feature, records go to the host through ARM semihosting (QEMU prints them
//! on its stdout) and a panic prints its message and ends QEMU with a
//! failure exit code. With `defmt` instead, records are forwarded to `defmt`
//! (RTT transport) for a real board with a debug probe, where semihosting
//! would halt the core without a debugger attached.

use log::{LevelFilter, Log, Metadata, Record};

// The RTT transport defmt writes to (linked for its `global_logger`).
#[cfg(all(feature = "defmt", not(feature = "semihosting")))]
use defmt_rtt as _;

struct Logger;

static LOGGER: Logger = Logger;

/// Installs the logger; messages below `level` are compiled in but skipped.
pub fn init(level: LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            emit(record);
        }
    }

    fn flush(&self) {}
}

#[cfg(feature = "semihosting")]
fn emit(record: &Record) {
    cortex_m_semihosting::hprintln!("[{}] {}", record.level(), record.args());
}

#[cfg(all(feature = "defmt", not(feature = "semihosting")))]
fn emit(record: &Record) {
    let text = defmt::Display2Format(record.args());
    match record.level() {
        log::Level::Error => defmt::error!("{}", text),
        log::Level::Warn => defmt::warn!("{}", text),
        log::Level::Info => defmt::info!("{}", text),
        log::Level::Debug => defmt::debug!("{}", text),
        log::Level::Trace => defmt::trace!("{}", text),
    }
}

#[cfg(not(any(feature = "defmt", feature = "semihosting")))]
fn emit(_record: &Record) {}

/// Ends the program: under QEMU with semihosting, QEMU exits with `code`'s
/// success or failure; elsewhere the core stops in a breakpoint/loop.
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

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // Where, not what: formatting panic messages would link the Display of
    // every panic's arguments into flash.
    #[cfg(feature = "semihosting")]
    if let Some(at) = info.location() {
        cortex_m_semihosting::hprintln!("panic at {}:{}", at.file(), at.line());
    }
    #[cfg(all(feature = "defmt", not(feature = "semihosting")))]
    defmt::error!("panic: {}", defmt::Display2Format(info));
    #[cfg(not(any(feature = "defmt", feature = "semihosting")))]
    let _ = info;
    exit(false)
}
