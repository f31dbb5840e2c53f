#!/usr/bin/env bash
# Builds the firmware ELF for thumbv7em-none-eabihf (QEMU mps2-an386).
#
#   embassy-demo/firmware/build.sh [extra cargo args, e.g. --features ...]
#
# Prefers a rustup toolchain with the thumbv7em-none-eabihf target installed;
# otherwise uses Debian's rustc/cargo 1.96 and builds `core` from source
# (-Zbuild-std=core, RUSTC_BOOTSTRAP=1) and links with rustup's rust-lld.
# Installs the Debian packages it needs when they are missing and it runs
# as root. Prints the ELF path (last line of stdout) and its size.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="${FIRMWARE_TARGET_DIR:-$here/target}"
# defmt's log level, fixed at build time (defmt's own default is errors
# only): the boot line and warnings; DEFMT_LOG=debug adds each connection.
export DEFMT_LOG="${DEFMT_LOG:-info}"

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "build.sh: installing $*" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    else
        echo "build.sh: missing $* (run as root to install, or install them)" >&2
        exit 1
    fi
}

command -v arm-none-eabi-size >/dev/null || apt_install binutils-arm-none-eabi

# The compiler must be at least the rust-version of this firmware and of the
# jframe core it builds, whichever is higher; say so when it is older.
say() { echo "build.sh: $*" >&2; }
# shellcheck source=scripts/cross-toolchain.sh
. "$here/../../scripts/cross-toolchain.sh"
NEED_RUST=$(rust_version_of "$here/Cargo.toml")
core_rust=$(rust_version_of "$here/../../core/Cargo.toml")
version_ge "$NEED_RUST" "$core_rust" || NEED_RUST=$core_rust

cd "$here"
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    new_enough "rustup's rustc" "$(rustc_version rustc)" || exit 1
    echo "build.sh: rustup toolchain with $target (rustc $(rustc_version rustc), needs >= $NEED_RUST)" >&2
    cargo build --release --target "$target" "$@" >&2
else
    if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
        apt_install rustc-web cargo-web rust-web-src
    fi
    new_enough "Debian's /usr/bin/rustc" "$(rustc_version /usr/bin/rustc)" || exit 1
    # Debian's rustc has no rust-lld (the thumb targets' default linker):
    # use rustup's copy if there is one, else Debian's lld.
    lld_dir=""
    if command -v rustup >/dev/null; then
        sysroot="$(rustup run stable rustc --print sysroot 2>/dev/null || true)"
        host="$(rustup run stable rustc -vV 2>/dev/null | sed -n 's/^host: //p' || true)"
        if [ -n "$sysroot" ] && [ -x "$sysroot/lib/rustlib/$host/bin/rust-lld" ]; then
            lld_dir="$sysroot/lib/rustlib/$host/bin"
        fi
    fi
    linker_args=()
    if [ -n "$lld_dir" ]; then
        export PATH="$lld_dir:$PATH"
    else
        command -v ld.lld >/dev/null || apt_install lld
        linker_args=(--config "target.$target.linker=\"ld.lld\"")
    fi
    echo "build.sh: Debian rustc $(/usr/bin/rustc --version | cut -d' ' -f2) with -Zbuild-std=core" >&2
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build "${linker_args[@]}" \
        -Zbuild-std=core --target "$target" --release "$@" >&2
fi

elf="$CARGO_TARGET_DIR/$target/release/jframe-firmware"
arm-none-eabi-size "$elf" >&2
echo "$elf"
