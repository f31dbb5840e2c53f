#!/usr/bin/env bash
# Fuzzes the jframe core (core/fuzz, cargo-fuzz + libFuzzer, nightly).
# Usage: scripts/fuzz-core.sh [SECONDS]   total time, split across the targets (default 30)
# Exits non-zero if any target finds a crash (the input is left in
# core/fuzz/artifacts/<target>/ and printed). Skips, with a message and exit 0,
# when nightly or cargo-fuzz is unavailable and cannot be installed.
# Targets are built with optimizations AND debug assertions (overflow checks),
# so arithmetic that would silently wrap in release fails here too.
set -euo pipefail
total=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_dir=$root/core/fuzz
targets=(decode header read_frame session)

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz-core: SKIPPED: no nightly toolchain (rustup toolchain install nightly)" >&2
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-core: cargo-fuzz missing, installing it" >&2
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz-core: SKIPPED: could not install cargo-fuzz" >&2
        exit 0
    fi
fi

per=$(( total / ${#targets[@]} ))
(( per >= 1 )) || per=1
cd "$fuzz_dir"
# Build all targets first, so build time does not eat the fuzzing time.
cargo +nightly fuzz build -O --debug-assertions
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "fuzz-core: $t for ${per}s" >&2
    # corpus/$t (gitignored) collects new inputs; seeds/$t holds the SPEC vectors.
    if ! cargo +nightly fuzz run -O --debug-assertions "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "fuzz-core: CRASH in $t; inputs:" >&2
        ls -l "artifacts/$t" >&2 || true
        status=1
    fi
done
exit $status
