//! Puts memory.x where cortex-m-rt's link.x finds it and passes the linker
//! scripts: the setup every Cortex-M binary here shares, in ../link/cortex_m.rs.

include!("../link/cortex_m.rs");

fn main() {
    println!("cargo:rerun-if-changed=../link/cortex_m.rs");
    link_cortex_m(include_bytes!("memory.x"), false);
}
