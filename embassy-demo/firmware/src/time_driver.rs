//! `embassy-time` driver on the Cortex-M SysTick timer: one interrupt per
//! millisecond (`tick-hz-1_000`), a 64-bit tick count that never wraps in
//! practice, and `embassy-time-queue-utils`' timer queue to find the next
//! alarm.
//!
//! A 1 kHz interrupt costs a few hundred cycles per millisecond at 25 MHz
//! (about 1 %) and keeps the driver to a handful of lines; a tickless driver
//! on a CMSDK timer would be the next step for a battery-powered board.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// Core clock of the MPS2 AN386 image (QEMU models it as 25 MHz).
pub const CPU_HZ: u32 = 25_000_000;

struct SysTickDriver {
    /// Ticks since `init`.
    ticks: Mutex<Cell<u64>>,
    /// Tick at which the queue next has something to wake.
    alarm: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow_ref_mut(cs);
            if queue.schedule_wake(at, waker) {
                // Wakes what is already due and says when the next one is.
                let now = self.ticks.borrow(cs).get();
                self.alarm.borrow(cs).set(queue.next_expiration(now));
            }
        });
    }
}

impl SysTickDriver {
    fn tick(&self) {
        critical_section::with(|cs| {
            let ticks = self.ticks.borrow(cs);
            let now = ticks.get() + 1;
            ticks.set(now);
            let alarm = self.alarm.borrow(cs);
            if now >= alarm.get() {
                alarm.set(self.queue.borrow_ref_mut(cs).next_expiration(now));
            }
        });
    }
}

// Exports the two `#[unsafe(no_mangle)]` functions embassy-time links to
// (`_embassy_time_now`, `_embassy_time_schedule_wake`); the unsafe attribute
// is inside embassy-time-driver's macro, the functions themselves are safe.
embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    alarm: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// Starts SysTick at `embassy_time_driver::TICK_HZ`.
pub fn init(mut syst: SYST) {
    let reload = CPU_HZ / embassy_time_driver::TICK_HZ as u32 - 1;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(reload);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    DRIVER.tick();
}
