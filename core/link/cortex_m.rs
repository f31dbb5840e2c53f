// The link setup of the Cortex-M binaries, written once and `include!`d by
// each one's build.rs (core/embedded-check, core/m0-check,
// embassy-demo/firmware): no `.cargo/config.toml`, which would leak the
// linker scripts into host builds.

/// Puts `memory_x` where cortex-m-rt's link.x finds it and passes the linker
/// scripts on a thumb target (defmt's too, when the binary always logs
/// through defmt, `defmt_always`, or has the feature `defmt`).
fn link_cortex_m(memory_x: &[u8], defmt_always: bool) {
    use std::{env, fs, path::PathBuf};

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), memory_x).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("TARGET").is_ok_and(|t| t.starts_with("thumb")) {
        println!("cargo:rustc-link-arg-bins=--nmagic");
        println!("cargo:rustc-link-arg-bins=-Tlink.x");
        if defmt_always || env::var_os("CARGO_FEATURE_DEFMT").is_some() {
            println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
        }
    }
}
