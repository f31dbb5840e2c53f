#!/usr/bin/env bash
# Deep fuzzing of the jframe core: runs each given cargo-fuzz target of
# core/fuzz to a number of executions (default 10 M), then minimizes what it
# found into core/fuzz/regressions/<target>/, the regression seeds that
# scripts/fuzz-core.sh replays on every CI run.
#
# Usage: scripts/fuzz-deep.sh [-n RUNS] [TARGET...]
#   RUNS    executions per target (default 10000000)
#   TARGET  cargo-fuzz targets (default: every [[bin]] of core/fuzz/Cargo.toml)
#
# Each target starts from its seeds (core/fuzz/seeds/<t>, hand-written SPEC
# vectors), its committed regressions and its working corpus
# (core/fuzz/corpus/<t>, gitignored, kept between runs). The fuzzer runs at
# nice 19, so it only takes idle CPU. Prints, per target, the executions
# libFuzzer reports (stat::number_of_executed_units), the seconds, and the
# number and size of the minimized seeds; the log of each run is
# core/fuzz/logs/<t>.log (gitignored). Exits non-zero if any target crashed,
# leaking the input in core/fuzz/artifacts/<t>/.
#
# Targets are built with optimizations AND debug assertions (overflow checks).
set -euo pipefail

runs=10000000
while getopts "n:" opt; do
    case $opt in
        n) runs=$OPTARG ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_dir=$root/core/fuzz
cd "$fuzz_dir"
if (( $# )); then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -vx jframe-fuzz)
fi

say() { echo "fuzz-deep: $*" >&2; }
cargo +nightly --version >/dev/null 2>&1 || { say "no nightly toolchain (rustup toolchain install nightly)"; exit 1; }
cargo fuzz --version >/dev/null 2>&1 || { say "cargo-fuzz missing (cargo install cargo-fuzz --locked)"; exit 1; }

nice -n 10 cargo +nightly fuzz build -O --debug-assertions
mkdir -p logs

# deep TARGET: fuzz, then minimize into regressions/TARGET. Prints one line.
deep() {
    local t=$1 log=logs/$1.log start status=0
    mkdir -p "corpus/$t" "regressions/$t" "seeds/$t"
    start=$(date +%s)
    say "$t: $runs executions (log: core/fuzz/$log)"
    if ! nice -n 19 cargo +nightly fuzz run -O --debug-assertions "$t" \
        "corpus/$t" "regressions/$t" "seeds/$t" -- \
        -runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        say "$t: CRASH; input(s) in core/fuzz/artifacts/$t/:"
        ls -l "artifacts/$t" >&2 || true
        grep -m1 -A12 'panicked at\|ERROR: libFuzzer' "$log" >&2 || true
        status=1
    fi
    local secs=$(( $(date +%s) - start ))
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # Minimize: the smallest set of inputs with the same coverage as the
    # working corpus, the committed regressions and the seeds together.
    local fresh
    fresh=$(mktemp -d)
    nice -n 19 cargo +nightly fuzz run -O --debug-assertions "$t" "$fresh" \
        "regressions/$t" "corpus/$t" "seeds/$t" -- -merge=1 -timeout=10 \
        -rss_limit_mb=2048 >>"$log" 2>&1
    rm -rf "regressions/$t"
    mv "$fresh" "regressions/$t"
    local n bytes
    n=$(find "regressions/$t" -type f | wc -l)
    bytes=$(find "regressions/$t" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    printf '%-14s executions %10s in %5ss  regression seeds %5s (%s bytes)%s\n' \
        "$t" "${execs:-?}" "$secs" "$n" "$bytes" "$([ $status = 0 ] || echo '  CRASH')"
    return $status
}

status=0
for t in "${targets[@]}"; do deep "$t" || status=1; done
exit $status
