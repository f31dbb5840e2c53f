//! The jframe core on a Cortex-M0 (QEMU `microbit`, nRF51822).
//!
//! Replays every TCP case of the conformance table (`vectors.rs`, made and
//! checked on the host) through core's engine over an in-memory pipe
//! (`serve::serve_in_memory`, the one call into core), each with reads of
//! the whole request, of 1 byte and of 5 bytes, and compares the reply bytes
//! and the close with the host's, byte for byte. Prints `ok`/`FAIL` per case
//! over semihosting, then the cost of one small echo frame, and exits with
//! failure on any mismatch; a HardFault (an unaligned access, say) or a
//! panic exits with failure too.
#![no_std]
#![no_main]

mod serve;
mod vectors;

use core::hint::black_box;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hprintln;

/// Read sizes every case is served with (the host checked all give the same).
const CHUNKS: [usize; 3] = [usize::MAX, 1, 5];

/// The small frame whose cost is measured: one `echo` of 5 bytes, then the
/// client closes.
const SMALL: &[u8] = b"\x1b\x00\x00\x00{\"data_size\":5,\"op\":\"echo\"}hello";
const SMALL_REPLY: &[u8] = b"\x1d\x00\x00\x00{\"data_size\":5,\"status\":\"ok\"}hello";

/// SysTick is a 24-bit down-counter.
const SYST_MAX: u32 = 0x00FF_FFFF;

#[entry]
fn main() -> ! {
    stack::paint();
    let mut failed = 0u32;
    let mut runs = 0u32;
    for v in vectors::VECTORS {
        let mut bad = false;
        for chunk in CHUNKS {
            let mut out = [0u8; serve::OUT];
            let (n, closed) = serve::serve_in_memory(black_box(v.input), chunk, v.close, &mut out);
            runs += 1;
            let reply = out.get(..n).unwrap_or_default();
            if reply != v.reply || closed != v.closed {
                bad = true;
                let at = reply
                    .iter()
                    .zip(v.reply)
                    .position(|(a, b)| a != b)
                    .unwrap_or(n.min(v.reply.len()));
                hprintln!(
                    "FAIL {} (reads of {} bytes, 0 = whole): {} reply bytes, want {} (first difference at byte {}); server closed: {}, want {}",
                    v.name,
                    if chunk == usize::MAX { 0 } else { chunk },
                    n,
                    v.reply.len(),
                    at,
                    closed,
                    v.closed
                );
            }
        }
        if bad {
            failed += 1;
        } else {
            hprintln!("ok   {}", v.name);
        }
    }
    hprintln!(
        "m0-check: {} of {} conformance cases passed on the Cortex-M0 ({} runs: reads of whole, 1 and 5 bytes)",
        vectors::VECTORS.len() as u32 - failed,
        vectors::VECTORS.len(),
        runs
    );

    if !measure() {
        failed += 1;
    }
    hprintln!(
        "m0-check: peak stack {} bytes (static RAM is only the runtime's few bytes: every buffer is on the stack)",
        stack::peak()
    );
    debug::exit(if failed == 0 {
        EXIT_SUCCESS
    } else {
        EXIT_FAILURE
    });
    loop {
        core::hint::spin_loop();
    }
}

/// SysTick ticks `f` takes (it must take fewer than 2^24).
fn ticks(syst: &mut SYST, f: impl FnOnce()) -> u32 {
    syst.clear_current();
    let start = SYST::get_current();
    f();
    let end = SYST::get_current();
    start.wrapping_sub(end) & SYST_MAX
}

/// A loop of `2 * n` instructions (`subs`/`bne` per turn) plus a call's
/// few, to turn SysTick ticks into instructions under QEMU's icount.
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: only r0 (declared) and the flags change.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs r0, #1",
            "bne 2b",
            inout("r0") n => _,
            options(nomem, nostack),
        );
    }
}

/// Frames per connection for the marginal cost of a pipelined frame.
const PIPELINED: usize = 16;

/// Measures the small echo frame under QEMU's `-icount`, where virtual time
/// advances per instruction, so SysTick counts instructions (calibrated
/// against a loop of known length; QEMU does not model an M0's 1-3 cycles
/// per instruction): one connection carrying one frame (buffers zeroed,
/// engine set up), and the marginal cost of a frame pipelined in a
/// connection of [`PIPELINED`]. `false` if a reply was wrong.
fn measure() -> bool {
    let Some(mut p) = cortex_m::Peripherals::take() else {
        return false;
    };
    let syst = &mut p.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYST_MAX);
    syst.clear_current();
    syst.enable_counter();

    const TURNS: u32 = 50_000;
    let empty = ticks(syst, || {});
    let spin_ticks = ticks(syst, || spin(black_box(TURNS))) - empty;
    // Instructions per tick, from the loop (u64 division: no divide
    // instruction on an M0, compiler_builtins does it).
    let instructions = |t: u32| u64::from(t) * u64::from(2 * TURNS) / u64::from(spin_ticks.max(1));

    let mut input = [0u8; SMALL.len() * PIPELINED];
    let mut want = [0u8; SMALL_REPLY.len() * PIPELINED];
    for (dst, src) in [(&mut input[..], SMALL), (&mut want[..], SMALL_REPLY)] {
        for piece in dst.chunks_mut(src.len()) {
            piece.copy_from_slice(src);
        }
    }
    let mut ok = true;
    let mut run = |input: &[u8], want: &[u8]| {
        let mut out = [0u8; serve::OUT];
        let mut result = (0, true);
        let t = ticks(syst, || {
            result = serve::serve_in_memory(black_box(input), usize::MAX, true, &mut out)
        }) - empty;
        ok &= out.get(..result.0) == Some(want) && !result.1;
        t
    };
    let one = run(SMALL, SMALL_REPLY);
    let many = run(&input, &want);
    let marginal = many.saturating_sub(one) / (PIPELINED as u32 - 1);
    hprintln!(
        "m0-check: small echo frame ({} B in, {} B out): {} instructions for a connection with one frame, {} per further pipelined frame ({} frames: {}); calibration {} SysTick ticks for {} instructions; replies {}",
        SMALL.len(),
        SMALL_REPLY.len(),
        instructions(one),
        instructions(marginal),
        PIPELINED,
        instructions(many),
        spin_ticks,
        2 * TURNS,
        if ok { "ok" } else { "WRONG" }
    );
    ok
}

/// The stack's high-water mark: the free RAM below the stack is painted
/// with a pattern at start; the lowest word no longer holding it shows how
/// deep the stack went.
mod stack {
    use core::ptr::{addr_of, read_volatile, write_volatile};

    const PAINT: u32 = 0x5AA5_C33C;

    unsafe extern "C" {
        /// cortex-m-rt: the first free word after .bss/.uninit.
        static __sheap: u32;
        /// cortex-m-rt: the initial stack pointer (the end of RAM).
        static _stack_start: u32;
    }

    pub fn paint() {
        let low = addr_of!(__sheap) as usize;
        // Leave the words this function and its caller use alone.
        let high = cortex_m::register::msp::read() as usize - 64;
        let mut p = low;
        while p < high {
            // SAFETY: free RAM between the static data and the live stack,
            // word-aligned (cortex-m-rt aligns __sheap to 4).
            unsafe { write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
    }

    pub fn peak() -> usize {
        let low = addr_of!(__sheap) as usize;
        let top = addr_of!(_stack_start) as usize;
        let mut p = low;
        // SAFETY: reads of the RAM painted above.
        while p < top && unsafe { read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        top - p
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("m0-check: HardFault at pc {:#010x}", frame.pc());
    debug::exit(EXIT_FAILURE);
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("m0-check: panic: {}", info);
    debug::exit(EXIT_FAILURE);
    loop {
        core::hint::spin_loop();
    }
}
