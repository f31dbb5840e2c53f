//! Signal handling: SIGINT and SIGTERM, once, on a thread of its own.

use anyhow::{Context, Result};

/// Calls `then(signal)`, on a thread of its own, when SIGINT or SIGTERM
/// first arrives.
pub fn on_signal(then: impl FnOnce(i32) + Send + 'static) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                then(sig);
            }
        })?;
    Ok(())
}
