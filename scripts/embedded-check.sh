#!/usr/bin/env bash
# The embedded proof for the jframe core:
#  1. cross-builds the jframe crate (lib only, from the root workspace) for
#     thumbv6m-none-eabi (Cortex-M0) and thumbv7em-none-eabihf (Cortex-M4F);
#  2. builds core/embedded-check, a small no_std firmware that decodes and
#     encodes frames, whose panic handler calls an undefined function: the
#     link fails if any panic path survives optimization (panic-never). On
#     such a failure the script rebuilds with a defined handler and lists
#     the functions that still call into core::panicking;
#  3. runs that firmware on QEMU mps2-an386 when qemu-system-arm is present
#     (it exits through semihosting, with failure if its replies were wrong);
#  4. prints text sizes (firmware, jframe's share) and the decoder's state
#     beyond its buffer and its header (target 64 bytes), and with each
#     header type (jframe's Header, the engine's CompactHeader).
# Exits non-zero if a build, the link or the QEMU run fails. Sizes over
# target are reported, not fatal.
#
# Toolchain (scripts/cross-toolchain.sh): rustup's targets when installed,
# else Debian's rustc/cargo with -Zbuild-std=core and rustup's rust-lld (see
# /work/shared/EMBEDDED.md); missing Debian packages are installed when
# running as root. Either compiler must be at least the core's rust-version:
# the script says so and stops when it is older.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
check_dir=$root/core/embedded-check
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
lib_targets=(thumbv6m-none-eabi thumbv7em-none-eabihf)
fw_target=thumbv7em-none-eabihf

say() { echo "embedded-check: $*" >&2; }

# shellcheck source=scripts/cross-toolchain.sh
. "$root/scripts/cross-toolchain.sh"
# The compiler must be at least the core's rust-version (its MSRV).
NEED_RUST=$(rust_version_of "$root/core/Cargo.toml")

command -v arm-none-eabi-size >/dev/null || apt_install binutils-arm-none-eabi

# 1. The library for both targets.
cd "$root"
for t in "${lib_targets[@]}"; do
    cargo_for "$t" -p jframe --lib --release
done

# 2. The firmware: panic-never link, then the io variant and the baseline.
cd "$check_dir"
elf_dir=$CARGO_TARGET_DIR/$fw_target/release
saved=$CARGO_TARGET_DIR/embedded-check
mkdir -p "$saved"

# build_fw NAME FEATURES: builds and keeps the ELF as $saved/NAME.elf.
build_fw() {
    local name=$1 features=$2 log
    log=$(mktemp)
    if ! cargo_for "$fw_target" --release --features "$features" 2>"$log"; then
        cat "$log" >&2
        if grep -q jframe_panic_path_survived_optimization "$log"; then
            say "PANIC PATH: the '$name' firmware links only with a panic handler"
            diagnose "$features"
        fi
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
    cp "$elf_dir/jframe-embedded-check" "$saved/$name.elf"
}

# Rebuilds with a defined panic handler and lists who calls the panic machinery.
diagnose() {
    if ! cargo_for "$fw_target" --release --features "$1,allow-panic" >&2; then
        say "diagnostic build failed too"
        return
    fi
    local elf=$elf_dir/jframe-embedded-check
    say "call sites into the panic machinery, with their inlining chains (innermost first):"
    # Calls to panic_*/…_fail/unwrap_failed from functions that are not
    # themselves part of the panic machinery.
    arm-none-eabi-objdump -d -C --no-show-raw-insn "$elf" | awk '
        /^[0-9a-f]+ <.*>:$/ { fn = $0; machinery = (fn ~ /panic|_fail|unwrap_failed|expect_failed/) }
        /\tb(l|lx|\.w|\.n)?\t[0-9a-f]+ <.*(panic|_fail|unwrap_failed|expect_failed)/ && !machinery {
            sub(/:.*/, "", $1); print $1
        }' | sort -u | while read -r addr; do
        echo "  at 0x$addr:" >&2
        arm-none-eabi-addr2line -f -i -C -e "$elf" "0x$addr" | paste - - | sed 's/^/      /' >&2
    done
}

build_fw codec ""
build_fw io io
build_fw baseline baseline
say "panic-never: OK (codec and io firmware link with an undefined panic handler)"

# 3. Run it.
if command -v qemu-system-arm >/dev/null; then
    for name in codec io; do
        if timeout 20 qemu-system-arm -M mps2-an386 -nographic -monitor none \
            -semihosting-config enable=on,target=native -kernel "$saved/$name.elf" </dev/null >&2; then
            say "qemu mps2-an386: '$name' firmware decoded, answered and verified its frames: OK"
        else
            say "qemu mps2-an386: '$name' firmware FAILED (exit $?)"
            exit 1
        fi
    done
else
    say "qemu-system-arm not found: run skipped (apt-get install qemu-system-arm)"
fi

# 4. Sizes.
text_of() { arm-none-eabi-size -A "$1" | awk '$1 == ".text" { print $2 }'; }
rodata_of() { arm-none-eabi-size -A "$1" | awk '$1 == ".rodata" { print $2 }'; }
# sum_syms ELF REGEX: total size of the code symbols whose demangled name matches.
sum_syms() {
    local total=0 addr size kind name
    while read -r addr size kind name; do
        case $kind in t | T | w | W) [[ $name =~ $2 ]] && total=$((total + 16#$size)) ;; esac
    done < <(arm-none-eabi-nm -C -S "$1")
    echo "$total"
}
echo
printf '%-10s %8s %8s %8s %8s\n' firmware text data bss total
for name in codec io baseline; do
    arm-none-eabi-size "$saved/$name.elf" | awk -v n="$name" 'NR == 2 { printf "%-10s %8s %8s %8s %8s\n", n, $1, $2, $3, $4 }'
done
# marker NAME: the size of a size-marker symbol of the codec firmware.
marker() {
    local hex
    hex=$(arm-none-eabi-nm -S "$saved/codec.elf" | awk -v n="$1" '$4 == n { print $2 }')
    echo $(( 16#${hex:-0} ))
}
state=$(marker JFRAME_DECODER_STATE_BYTES)
header=$(marker JFRAME_HEADER_BYTES)
compact=$(marker JFRAME_COMPACT_HEADER_BYTES)
session=$(marker JFRAME_SESSION_BYTES)
markers=$(( state + header + compact + session ))
base_code=$(( $(text_of "$saved/baseline.elf") + $(rodata_of "$saved/baseline.elf") ))
for name in codec io; do
    code=$(( $(text_of "$saved/$name.elf") + $(rodata_of "$saved/$name.elf") ))
    # The size markers are in .rodata of the jframe builds only.
    delta=$(( code - base_code - markers ))
    echo "$name: .text+.rodata over the baseline firmware: $delta bytes" \
        "(jframe + the check's own logic; target <= 8192: $([ "$delta" -le 8192 ] && echo meets || echo MISSES))"
    echo "$name: functions named jframe::* after LTO: $(sum_syms "$saved/$name.elf" 'jframe::') bytes" \
        "(+ $(sum_syms "$saved/$name.elf" '^(compiler_builtins::|__aeabi_|__udivmoddi4|memc|memset)') bytes of" \
        "compiler_builtins: memcpy, u64 division; the rest of the delta is the check's own code)"
done
echo "decoder state beyond its buffer and its header on $fw_target: $state bytes" \
    "(target <= 64: $([ "$state" -le 64 ] && echo meets || echo MISSES))"
echo "decoder state beyond its buffer, header included: $(( state + header )) bytes with" \
    "jframe's Header ($header), $(( state + compact )) with the CompactHeader ($compact) the" \
    "engine uses with Builtin"
echo "session state per connection on $fw_target, beyond its three buffers:" \
    "$session bytes (Session with Demo: decoder, clocks, refusal, work)"
echo "largest functions (codec firmware):"
# Not `| head`: with pipefail, nm's SIGPIPE would fail the script.
arm-none-eabi-nm -C --size-sort -S -r "$saved/codec.elf" | awk 'NR <= 16' |
    while read -r addr size kind name; do printf '  %6d  %s\n' $((16#$size)) "$name"; done
