#!/usr/bin/env bash
# The jframe core on a real Cortex-M0: builds core/m0-check for
# thumbv6m-none-eabi and runs it on QEMU's `microbit` (nRF51822, 256 KiB
# flash, 16 KiB RAM). The firmware replays every TCP case of the
# conformance table through core's engine over an in-memory pipe and
# compares the replies byte for byte with the host's golden vectors
# (core/m0-check/src/vectors.rs, checked by
# `cargo test -p jframe-std --test conform_vectors`); it reports over
# semihosting and exits with failure on any mismatch, panic or HardFault.
#
# Usage: scripts/m0-check.sh
#   JFRAME_TOOLCHAIN=1.87.0 scripts/m0-check.sh   with that rustup toolchain
#
# Prints every case's result, then flash (text + rodata + data) and static
# RAM (data + bss) of the firmware, and the instructions one small echo
# frame takes under QEMU's -icount (deterministic: the same figure on every
# run). Exits non-zero if the build or any case fails.
#
# Toolchain: as scripts/embedded-check.sh (scripts/cross-toolchain.sh), and
# the compiler must be at least the core's rust-version. qemu-system-arm
# (Debian's, 7.2 or later for `-M microbit` with semihosting) is installed
# when missing and running as root.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
crate=$root/core/m0-check
target=thumbv6m-none-eabi
export CARGO_TARGET_DIR=${M0_TARGET_DIR:-$root/target/m0-check${JFRAME_TOOLCHAIN:+-$JFRAME_TOOLCHAIN}}

say() { echo "m0-check: $*" >&2; }

# shellcheck source=scripts/cross-toolchain.sh
. "$root/scripts/cross-toolchain.sh"
NEED_RUST=$(rust_version_of "$root/core/Cargo.toml")

command -v arm-none-eabi-size >/dev/null || apt_install binutils-arm-none-eabi
command -v qemu-system-arm >/dev/null || apt_install qemu-system-arm
qemu_version=$(qemu-system-arm --version | sed -n '1s/.*version \([0-9.]*\).*/\1/p')
if ! version_ge "$qemu_version" 7.2; then
    say "qemu-system-arm $qemu_version is older than 7.2 (needed for -M microbit with semihosting)"
    exit 1
fi
if ! qemu-system-arm -M help | grep -q '^microbit '; then
    say "qemu-system-arm $qemu_version has no microbit machine"
    exit 1
fi

cd "$crate"
cargo_for "$target" --release
elf=$CARGO_TARGET_DIR/$target/release/jframe-m0-check

# -icount: virtual time advances per instruction, so the firmware's SysTick
# figures are instruction counts and repeat exactly. shift=6: 64 ns per
# instruction, about one 16 MHz SysTick tick.
say "qemu-system-arm $qemu_version -M microbit (Cortex-M0): $elf"
status=0
timeout 120 qemu-system-arm -M microbit -nographic -monitor none \
    -semihosting-config enable=on,target=native -icount shift=6 \
    -kernel "$elf" </dev/null || status=$?

echo
arm-none-eabi-size -A "$elf" | awk '
    $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
    $1 == ".data" { flash += $2; ram += $2 }
    $1 == ".bss" || $1 == ".uninit" { ram += $2 }
    $1 == ".text" { text = $2 }
    $1 == ".rodata" { rodata = $2 }
    END { printf "m0-check: firmware flash %d bytes of 262144 (code %d, read-only data %d: mostly the golden vectors), static RAM %d bytes of 16384 (the stack takes the rest)\n", flash, text, rodata, ram }'
# jframe's share: the code symbols named jframe::* after LTO (a lower
# bound: the engine itself is inlined into serve_in_memory).
jframe_bytes=0
while read -r _ size kind name; do
    case $kind in t | T | w | W) [[ $name == jframe::* || $name == "<jframe::"* ]] && jframe_bytes=$((jframe_bytes + 16#$size)) ;; esac
done < <(arm-none-eabi-nm -C -S "$elf")
echo "m0-check: of which functions named jframe::* after LTO: $jframe_bytes bytes"
if [ "$status" = 0 ]; then
    say "every conformance case passed on the Cortex-M0: OK"
else
    say "FAILED (qemu exit $status): a case failed, or the firmware faulted or timed out"
fi
exit "$status"
