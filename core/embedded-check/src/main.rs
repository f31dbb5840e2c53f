//! The panic-never proof and size probe for the jframe core.
//!
//! Serves five pipelined requests (read in chunks, from a static array
//! hidden behind `black_box` so nothing is folded away) with core's protocol
//! engine, the one every server runs, then decodes the replies and checks
//! them. The panic handler calls a function that no object defines: if any
//! panic path survives optimization, the link fails.
//!
//! Features: `io` also reads the replies with `jframe::io::blocking`;
//! `baseline` leaves jframe out (for size attribution); `allow-panic`
//! defines the handler so a failing build can be inspected.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};

#[cfg(not(feature = "baseline"))]
mod check;

/// Five requests as a Python client sends them (json.dumps spacing): an
/// `upper`, an `echo`, one whose `op` has the wrong type (answered with
/// `bad_request`, the connection goes on), a `greet`, and an `echo` whose
/// body is larger than the engine's frame buffer (streamed).
static REQUESTS: &[u8] =
    b"\x2c\x00\x00\x00{\"data_size\": 5, \"op\": \"upper\", \"name\": \"x\"}hello\
\x1e\x00\x00\x00{\"data_size\": 3, \"op\": \"echo\"}abc\
\x19\x00\x00\x00{\"data_size\": 2, \"op\": 7}zz\
\x1f\x00\x00\x00{\"data_size\": 5, \"op\": \"greet\"}world\
\x1f\x00\x00\x00{\"data_size\": 43, \"op\": \"echo\"}streamed through the engine, chunk by chunk";

/// Sizes on this target, exported as the *sizes* of symbols so the build
/// script reads them with `nm -S`: the decoder's own state (beyond its
/// buffer and its header), and its header, jframe's `Header` and the
/// `CompactHeader` the engine uses with `Builtin`.
#[cfg(not(feature = "baseline"))]
mod sizes {
    use core::mem::size_of;
    use jframe::service::{Demo, Session};
    use jframe::{CompactHeader, Decoder, Header};

    const STATE: usize =
        size_of::<Decoder<&mut [u8]>>() - size_of::<&mut [u8]>() - size_of::<Header>();

    #[used]
    #[unsafe(no_mangle)]
    static JFRAME_DECODER_STATE_BYTES: [u8; STATE] = [0; STATE];

    #[used]
    #[unsafe(no_mangle)]
    static JFRAME_HEADER_BYTES: [u8; size_of::<Header>()] = [0; size_of::<Header>()];

    /// A whole connection's protocol state, beyond its three buffers: the
    /// sans-IO session with `Builtin` (decoder, clocks, refusal, work).
    #[used]
    #[unsafe(no_mangle)]
    static JFRAME_SESSION_BYTES: [u8; size_of::<Session<'static, Demo>>()] =
        [0; size_of::<Session<'static, Demo>>()];

    #[used]
    #[unsafe(no_mangle)]
    static JFRAME_COMPACT_HEADER_BYTES: [u8; size_of::<CompactHeader>()] =
        [0; size_of::<CompactHeader>()];

    // The decoder state must not grow by the header's padding either.
    const _: () = assert!(
        size_of::<Decoder<&mut [u8], CompactHeader>>()
            <= size_of::<&mut [u8]>() + size_of::<CompactHeader>() + STATE
    );
}

#[entry]
fn main() -> ! {
    let input = black_box(REQUESTS);
    let chunk = black_box(7usize);
    #[cfg(not(feature = "baseline"))]
    let ok = check::run(input, chunk);
    #[cfg(feature = "baseline")]
    let ok = black_box(input.len() + chunk) != 0;
    debug::exit(if ok { EXIT_SUCCESS } else { EXIT_FAILURE });
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(feature = "allow-panic"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unsafe extern "C" {
        /// Defined nowhere: referencing it fails the link.
        fn jframe_panic_path_survived_optimization() -> !;
    }
    // SAFETY: never runs; the link fails first if this is reachable at all.
    unsafe { jframe_panic_path_survived_optimization() }
}

#[cfg(feature = "allow-panic")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(EXIT_FAILURE);
    loop {
        core::hint::spin_loop();
    }
}
