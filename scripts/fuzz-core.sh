#!/usr/bin/env bash
# Fuzzes the jframe core (core/fuzz, cargo-fuzz + libFuzzer, nightly), CI's way:
#  1. replays every regression seed of every target once (core/fuzz/seeds/<t>,
#     the hand-written SPEC vectors, and core/fuzz/regressions/<t>, the
#     minimized corpus of scripts/fuzz-deep.sh): a replay, not a search;
#  2. then fuzzes briefly: SECONDS in total, split across the targets.
# Usage: scripts/fuzz-core.sh [SECONDS]   (default 30; 0: replay only)
# Exits non-zero if a seed fails or a target finds a crash (the input is left
# in core/fuzz/artifacts/<target>/ and printed). Skips, with a message and
# exit 0, when nightly or cargo-fuzz is unavailable and cannot be installed.
# Targets are built with optimizations AND debug assertions (overflow checks),
# so arithmetic that would silently wrap in release fails here too.
set -euo pipefail
total=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_dir=$root/core/fuzz

targets=(decode header read_frame differential session)

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz-core: no nightly toolchain, installing it" >&2
    rustup toolchain install nightly --profile minimal >&2 || true
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz-core: SKIPPED: no nightly toolchain (rustup toolchain install nightly failed)" >&2
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-core: cargo-fuzz missing, installing it" >&2
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz-core: SKIPPED: could not install cargo-fuzz" >&2
        exit 0
    fi
fi

cd "$fuzz_dir"
# Build all targets first, so build time does not eat the fuzzing time.
cargo +nightly fuzz build -O --debug-assertions
status=0

# 1. Replay: -runs=0 executes each input of the given directories once
# while loading them, and fuzzes nothing.
for t in "${targets[@]}"; do
    mkdir -p "seeds/$t" "regressions/$t"
    n=$(find "seeds/$t" "regressions/$t" -type f | wc -l)
    log=$(mktemp)
    if cargo +nightly fuzz run -O --debug-assertions "$t" "seeds/$t" "regressions/$t" -- \
        -runs=0 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        echo "fuzz-core: $t: replayed $n seeds: OK" >&2
    else
        echo "fuzz-core: $t: a seed FAILED:" >&2
        grep -m1 -B2 -A20 'panicked at\|ERROR: libFuzzer\|ERROR: AddressSanitizer' "$log" >&2 || tail -30 "$log" >&2
        status=1
    fi
    rm -f "$log"
done

(( total > 0 )) || exit $status
# 2. A brief search.
per=$(( total / ${#targets[@]} ))
(( per >= 1 )) || per=1
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "fuzz-core: $t for ${per}s" >&2
    # corpus/$t (gitignored) collects new inputs; seeds/ and regressions/ are read.
    if ! cargo +nightly fuzz run -O --debug-assertions "$t" "corpus/$t" "seeds/$t" "regressions/$t" -- \
        -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "fuzz-core: CRASH in $t; inputs:" >&2
        ls -l "artifacts/$t" >&2 || true
        status=1
    fi
done
exit $status
