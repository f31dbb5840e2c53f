#!/usr/bin/env bash
# Side-by-side load figures for jframe-std (see README.md, "Performance").
# Starts each server on 127.0.0.1, runs `jframe load` against it for a few
# seconds per configuration, prints a table; then opens 1,000 connections to
# `jframe serve` and reports its peak RSS (VmHWM). Every run is bounded by
# --duration; every server is killed by its own PID at the end.
#
#   bash std-adapter/bench/compare.sh            # DURATION=3 by default
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/tgt-std}"
DUR="${DURATION:-3}"
CONNS="${CONNS:-64}"
SIZE="${SIZE:-64}"
cd "$here/.."
cargo build --release --quiet --features tokio --bin jframe --example tokio_reference --example plain_echo
bin="$CARGO_TARGET_DIR/release"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME CMD...: runs CMD, waits for its "listening on tcp ADDR" line.
start() {
  local log; log="$(mktemp)"
  "$@" >"$log" 2>/dev/null &
  pids+=($!)
  last_pid=$!
  for _ in $(seq 100); do
    addr="$(grep -m1 'listening on tcp' "$log" | awk '{print $NF}' || true)"
    [ -n "$addr" ] && return 0
    sleep 0.05
  done
  echo "server did not start: $*" >&2; exit 1
}

start "$bin/jframe" serve --listen 127.0.0.1:0; jf="$addr"; jf_pid=$last_pid
start "$bin/examples/tokio_reference" 127.0.0.1:0; tk="$addr"
start "$bin/examples/plain_echo" 127.0.0.1:0; pe="$addr"
start python3 "$here/py_server.py" 0; py="$addr"

run() { # name addr pipeline [extra]
  local name="$1" addr="$2" pl="$3"; shift 3
  local out
  out="$("$bin/jframe" load "$addr" --conns "$CONNS" --duration "$DUR" --size "$SIZE" --pipeline "$pl" "$@" 2>/dev/null || true)"
  local rps mbps p50 p99 max err
  rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$out")
  mbps=$(sed -n 's/.*MB\/s=\([0-9.]*\).*/\1/p' <<<"$out")
  p50=$(sed -n 's/.*p50=\([0-9]*\)us.*/\1/p' <<<"$out")
  p99=$(sed -n 's/.*p99=\([0-9]*\)us.*/\1/p' <<<"$out")
  max=$(sed -n 's/.*max=\([0-9]*\)us.*/\1/p' <<<"$out")
  err=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")
  printf '| %-28s | %2s | %9s | %7s | %6s | %6s | %7s | %s |\n' "$name" "$pl" "$rps" "$mbps" "$p50" "$p99" "$max" "$err"
  eval "rps_${name//[^a-z0-9]/_}_$pl=${rps:-0}"
}

echo "conns=$CONNS size=$SIZE duration=${DUR}s, $(nproc) cores, $(date -u +%F)"
echo
printf '| %-28s | %2s | %9s | %7s | %6s | %6s | %7s | %s |\n' server pl "req/s" "MB/s" "p50us" "p99us" "max us" errors
echo "|------------------------------|----|-----------|---------|--------|--------|---------|--------|"
for pl in 1 16; do
  run "jframe-std" "$jf" "$pl"
  run "tokio-reference" "$tk" "$pl"
  run "plain-echo (raw)" "$pe" "$pl" --raw-echo
  run "python-seed002" "$py" "$pl"
done
echo
for pl in 1 16; do
  j=$(eval echo "\$rps_jframe_std_$pl"); t=$(eval echo "\$rps_tokio_reference_$pl")
  p=$(eval echo "\$rps_plain_echo__raw__$pl"); y=$(eval echo "\$rps_python_seed002_$pl")
  awk -v j="$j" -v t="$t" -v p="$p" -v y="$y" -v pl="$pl" 'BEGIN {
    printf "pipeline %2d: %.1fx python (target >= 20), %.2fx tokio (>= 1.0), %.2fx plain echo (>= 0.8)\n",
      pl, (y>0? j/y : 0), (t>0? j/t : 0), (p>0? j/p : 0) }'
done

# 1,000 concurrent connections: peak RSS of a fresh jframe serve.
kill "$jf_pid" 2>/dev/null || true
start "$bin/jframe" serve --listen 127.0.0.1:0 --max-conns 1100; big="$addr"; big_pid=$last_pid
outf="$(mktemp)"
"$bin/jframe" load "$big" --conns 1000 --duration "$DUR" --size "$SIZE" --pipeline 1 >"$outf" 2>/dev/null &
load_pid=$!
sleep "$(awk -v d="$DUR" 'BEGIN {print d / 2 + 1}')"
threads=$(awk '/^Threads/ {print $2}' "/proc/$big_pid/status")
wait "$load_pid" || true
out="$(cat "$outf")"
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$big_pid/status")
echo
echo "1000 connections: $out"
echo "jframe serve peak RSS (VmHWM) = $((hwm / 1024)) MiB ($hwm kB), $threads server threads mid-run (target <= 64 MiB)"
