//! Puts memory.x where cortex-m-rt's link.x finds it and passes the linker
//! scripts: the setup every Cortex-M binary here shares, in core/link/cortex_m.rs.

include!("../../core/link/cortex_m.rs");

fn main() {
    println!("cargo:rerun-if-changed=../../core/link/cortex_m.rs");
    // The firmware always logs through defmt.
    link_cortex_m(include_bytes!("memory.x"), true);
}
