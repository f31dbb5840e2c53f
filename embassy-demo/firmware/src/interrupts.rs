//! Interrupt wiring without a peripheral access crate: cortex-m-rt's default
//! vector table sends every device interrupt to `DefaultHandler`, which
//! dispatches on the interrupt number. Also the HardFault report.

use cortex_m::peripheral::NVIC;
use cortex_m_rt::{ExceptionFrame, exception};

use crate::lan9118;

/// A device interrupt number for `NVIC` (cortex-m wants an `InterruptNumber`).
#[derive(Debug, Clone, Copy)]
struct Irq(u16);

// SAFETY: `number` returns a valid device interrupt number of this board
// (LAN9118 = 13; the M4 NVIC has up to 240).
#[allow(unsafe_code)]
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// Unmasks the LAN9118 interrupt in the NVIC.
pub fn enable_lan9118() {
    NVIC::unpend(Irq(lan9118::IRQ));
    // SAFETY: unmasking can break a critical section based on masking this
    // interrupt; this program uses none (critical sections disable all
    // interrupts with `critical-section-single-core`), and the handler only
    // touches the LAN9118's interrupt registers and an `AtomicWaker`.
    #[allow(unsafe_code)]
    unsafe {
        NVIC::unmask(Irq(lan9118::IRQ));
    }
}

// cortex-m-rt requires `unsafe fn` for these two handlers' signatures; the
// bodies do nothing unsafe.
#[allow(unsafe_code)]
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == lan9118::IRQ as i16 {
        lan9118::on_interrupt();
    } else {
        // A negative number is a core exception.
        defmt::error!("unexpected interrupt {=i16}", irqn);
        crate::logging::exit(false);
    }
}

#[allow(unsafe_code)]
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // The faulting PC is what a post-mortem needs (addr2line); the whole
    // frame's Debug output would cost flash for little more.
    defmt::error!("hard fault at pc {=u32:#010x}", frame.pc());
    crate::logging::exit(false)
}
