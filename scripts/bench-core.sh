#!/usr/bin/env bash
# Runs the jframe core benchmark (core/benches/codec.rs) and prints the
# ratios the core issue sets targets for:
#   small frames: jframe (feed, header parsed) vs LengthDelimitedCodec + serde_json, target >= 4x
#                 jframe vs bare LengthDelimitedCodec (parses no header),           target >= 2x
#   1 MiB body fed from 64 KiB reads: jframe whole-frame decode vs memcpy,           target >= 0.95x
# and, for information, the path of frames that arrive in pieces (1 KiB reads)
# and read_frame.
# Usage: scripts/bench-core.sh [extra criterion args]
# Short measurement times by default (shared 2-core machine); pass e.g.
# `--measurement-time 10` to override. Figures are reported, never asserted:
# the script fails only if the benchmark itself fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target

cargo bench -p jframe --bench codec -- --warm-up-time 1 --measurement-time 3 "$@"

python3 - "$target/criterion/codec" <<'PY'
import json, os, sys
base = sys.argv[1]
def est(name):
    with open(os.path.join(base, name, "new", "estimates.json")) as f:
        e = json.load(f)
    # Median is less sensitive than the mean to the other jobs on a shared machine.
    return e["median"]["point_estimate"], e["median"]["confidence_interval"]
frames, mib = 1024, 1 << 20
rows = [
    ("small_jframe", "frames"), ("small_ldc_serde_json", "frames"),
    ("small_ldc_bare", "frames"), ("small_jframe_1KiB_reads", "frames"),
    ("small_jframe_read_frame", "frames"),
    ("1MiB_jframe_64KiB_reads", "bytes"), ("1MiB_memcpy", "bytes"),
    ("header_request_parse", "frame"),
    ("worst_header_4KiB_many_keys", "frame"),
]
rate = {}
print(f"\n{'benchmark':<26}{'median/iter':>14}{'95% CI':>24}{'throughput':>20}")
for name, unit in rows:
    ns, ci = est(name)
    lo, hi = ci["lower_bound"], ci["upper_bound"]
    if unit == "frames":
        r = frames / ns * 1e9
        shown = f"{r/1e6:.2f} Mframes/s  ({ns/frames:.1f} ns/frame)"
    elif unit == "bytes":
        r = mib / ns * 1e9
        shown = f"{r/2**30:.2f} GiB/s"
    else:
        r = 1 / ns * 1e9
        shown = f"{r/1e6:.2f} M/s  ({ns:.1f} ns each)"
    rate[name] = r
    print(f"{name:<26}{ns/1e3:>11.2f} us  [{lo/1e3:.2f}, {hi/1e3:.2f}] us   {shown}")
def ratio(a, b, target=None):
    x = rate[a] / rate[b]
    if target is None:
        print(f"{a} / {b} = {x:.2f}x")
        return
    verdict = "meets" if x >= target else "MISSES"
    print(f"{a} / {b} = {x:.2f}x  (target >= {target}x: {verdict})")
print()
ratio("small_jframe", "small_ldc_serde_json", 4.0)
ratio("small_jframe", "small_ldc_bare", 2.0)
ratio("1MiB_jframe_64KiB_reads", "1MiB_memcpy", 0.95)
ratio("small_jframe_1KiB_reads", "small_ldc_serde_json")
ratio("small_jframe_read_frame", "small_ldc_serde_json")
PY
