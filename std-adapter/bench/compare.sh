#!/usr/bin/env bash
# Side-by-side load figures for jframe-std (see README.md, "Performance").
# Starts each server on 127.0.0.1, runs `jframe load` against it for a few
# seconds per configuration, and prints a table with the throughput and the
# server's own CPU per request (utime + stime of the server process from
# /proc/PID/stat, before and after the run, so the load client's cost does
# not count). Then: 10,000 connections held open against the tokio driver,
# each served while all are open, with the server's peak RSS (VmHWM); and
# 1,000 connections against the threads driver. Every run is bounded by
# --duration (or a timeout); every server is killed by its own PID.
#
#   bash std-adapter/bench/compare.sh            # DURATION=3 by default
#   env: DURATION, CONNS (64), SIZE (64), BIG (10000), PYTHON (1: include it),
#   NOBUILD=1 (use the binaries already in $CARGO_TARGET_DIR/release)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/tgt-std}"
DUR="${DURATION:-3}"
CONNS="${CONNS:-64}"
SIZE="${SIZE:-64}"
BIG="${BIG:-10000}"
PYTHON="${PYTHON:-1}"
cd "$here/.."
[ "${NOBUILD:-0}" = 1 ] || cargo build --release --quiet --features tokio --bin jframe \
  --example tokio_reference --example plain_echo --example c10k
bin="$CARGO_TARGET_DIR/release"
# 10,000 connections need that many descriptors on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
. "$here/common.sh"

# The tokio driver: `jframe serve --driver tokio`.
tokio_server() { # [max_conns]
  local max="${1:-1024}"
  start "tokio-$max" "$bin/jframe" serve --listen 127.0.0.1:0 --driver tokio --max-conns "$max" --max-conns-per-client "$max"
}

start jf "$bin/jframe" serve --listen 127.0.0.1:0 --driver threads; jf="$addr"; jf_pid=$last_pid
tokio_server; tj="$addr"; tj_pid=$last_pid
start tk "$bin/examples/tokio_reference" 127.0.0.1:0; tk="$addr"; tk_pid=$last_pid
start pe "$bin/examples/plain_echo" 127.0.0.1:0; pe="$addr"; pe_pid=$last_pid
if [ "$PYTHON" = 1 ]; then start py python3 "$here/py_server.py" 0; py="$addr"; py_pid=$last_pid; fi

run() { # key name addr pid pipeline [extra]
  local key="$1" name="$2" addr="$3" pid="$4" pl="$5"; shift 5
  local out before after
  before=$(ticks "$pid")
  out="$("$bin/jframe" load "$addr" --conns "$CONNS" --duration "$DUR" --size "$SIZE" --pipeline "$pl" "$@" 2>/dev/null | tail -n 1 || true)"
  after=$(ticks "$pid")
  local reqs rps mbps p50 p99 max err cpu
  reqs=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
  rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$out")
  mbps=$(sed -n 's/.*MB\/s=\([0-9.]*\).*/\1/p' <<<"$out")
  p50=$(sed -n 's/.*p50=\([0-9]*\)us.*/\1/p' <<<"$out")
  p99=$(sed -n 's/.*p99=\([0-9]*\)us.*/\1/p' <<<"$out")
  max=$(sed -n 's/.*max=\([0-9]*\)us.*/\1/p' <<<"$out")
  err=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")
  # Server CPU per request, in microseconds.
  cpu=$(per_req $((after - before)) "${reqs:-0}")
  printf '| %-24s | %2s | %9s | %7s | %6s | %6s | %7s | %6s | %7s |\n' "$name" "$pl" "$rps" "$mbps" "$p50" "$p99" "$max" "$err" "$cpu"
  eval "rps_${key}_$pl=${rps:-0}; cpu_${key}_$pl=$cpu"
}

echo "conns=$CONNS size=$SIZE duration=${DUR}s, $(nproc) cores, $(date -u +%F)"
echo
printf '| %-24s | %2s | %9s | %7s | %6s | %6s | %7s | %6s | %7s |\n' server pl "req/s" "MB/s" "p50us" "p99us" "max us" errors "cpu us/req"
echo "|--------------------------|----|-----------|---------|--------|--------|---------|--------|------------|"
for pl in 1 16; do
  run threads "jframe threads driver" "$jf" "$jf_pid" "$pl"
  run tokio "jframe tokio driver" "$tj" "$tj_pid" "$pl"
  run ref "tokio-reference" "$tk" "$tk_pid" "$pl"
  run plain "plain-echo (raw)" "$pe" "$pe_pid" "$pl" --raw-echo
  if [ "$PYTHON" = 1 ]; then run py "python-seed002" "$py" "$py_pid" "$pl"; fi
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
for e in threads tokio; do
  r1=$(eval echo "\$rps_${e}_1"); r16=$(eval echo "\$rps_${e}_16"); c16=$(eval echo "\$cpu_${e}_16")
  echo "$e driver:"
  echo "  pipeline 16: $(ratio "$r16" "$rps_ref_16")x tokio-reference req/s (tokio driver target >= 1.5)," \
    "cpu/req $(ratio "$c16" "$cpu_ref_16")x tokio-reference's"
  echo "  pipeline 16: cpu/req $(ratio "$c16" "$cpu_plain_16")x plain echo's (threads driver target <= 1.2)," \
    "req/s $(ratio "$r16" "$rps_plain_16")x"
  echo "  pipeline  1: req/s $(ratio "$r1" "$rps_plain_1")x plain echo (threads driver target >= 0.9)," \
    "cpu/req $(ratio "$(eval echo "\$cpu_${e}_1")" "$cpu_plain_1")x"
  if [ "$PYTHON" = 1 ]; then
    echo "  python: $(ratio "$r1" "$rps_py_1")x at pipeline 1, $(ratio "$r16" "$rps_py_16")x at pipeline 16"
  fi
done
kill "$jf_pid" "$tj_pid" 2>/dev/null || true

# $BIG connections against a fresh tokio driver: all open, each served.
tokio_server $((BIG + 100)); big="$addr"; big_pid=$last_pid
out="$(timeout 300 "$bin/examples/c10k" "$big" "$BIG" 2 2>&1 || true)"
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$big_pid/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$big_pid/status")
echo
echo "tokio driver, $BIG connections held open, each served twice while all are open:"
echo "  $out"
echo "  server peak RSS (VmHWM) = $((hwm / 1024)) MiB ($hwm kB), $threads threads (target <= 128 MiB, 0 errors)"
kill "$big_pid" 2>/dev/null || true

# 1,000 concurrent connections: peak RSS of a fresh threads driver.
start big "$bin/jframe" serve --listen 127.0.0.1:0 --driver threads --max-conns 1100 --max-conns-per-client 1100; big="$addr"; big_pid=$last_pid
outf="$(mktemp)"
"$bin/jframe" load "$big" --conns 1000 --duration "$DUR" --size "$SIZE" --pipeline 1 >"$outf" 2>/dev/null &
load_pid=$!
sleep "$(awk -v d="$DUR" 'BEGIN {print d / 2 + 1}')"
threads=$(awk '/^Threads/ {print $2}' "/proc/$big_pid/status")
wait "$load_pid" || true
out="$(tail -n 1 "$outf")"
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$big_pid/status")
echo
echo "threads driver, 1000 connections: $out"
echo "  peak RSS (VmHWM) = $((hwm / 1024)) MiB ($hwm kB), $threads server threads mid-run (target <= 64 MiB)"
