#!/usr/bin/env bash
# Operational figures (benchmarks, not tests), all on 127.0.0.0/8:
#   1. through HAProxy (deploy/haproxy.cfg: PROXY v2 to a tokio and a
#      threads backend) versus the same load direct to one server, side by
#      side: req/s, and server CPU per request (utime + stime from
#      /proc/PID/stat; through HAProxy the two backends' sum, and HAProxy's
#      own apart);
#   2. --metrics on versus off, CPU per request at pipeline 16 (alternated,
#      ROUNDS times each);
#   3. the tokio driver's concurrent connections (C100K, default 100,000),
#      each served twice while all are open, with the server's peak RSS;
#      several source addresses (127.0.0.2..) pass the ephemeral-port range,
#      and nofile is raised (hard limit too, as root).
# Every run is bounded (--duration, timeout); every process is killed by
# its own PID.
#
#   bash std-adapter/bench/ops.sh     # env: DURATION (3), CONNS (64),
#   SIZE (64), ROUNDS (3), C100K (100000), NOBUILD=1, SKIP (e.g. "1 2")
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
DUR="${DURATION:-3}"
CONNS="${CONNS:-64}"
SIZE="${SIZE:-64}"
ROUNDS="${ROUNDS:-3}"
C100K="${C100K:-100000}"
SKIP=" ${SKIP:-} "
cd "$root"
[ "${NOBUILD:-0}" = 1 ] || cargo build --release --quiet -p jframe-std --bin jframe --example c10k
bin="$CARGO_TARGET_DIR/release"
if [ "$(id -u)" = 0 ]; then ulimit -Hn 1048576 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
. "$here/common.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# load ADDR PIPELINE: sets $reqs $rps $errs
load() {
  local out
  out="$(timeout $((DUR + 30)) "$bin/jframe" load "$1" --conns "$CONNS" --duration "$DUR" \
    --size "$SIZE" --pipeline "$2" --op echo 2>/dev/null | tail -n 1 || true)"
  reqs=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out"); reqs=${reqs:-0}
  rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$out"); rps=${rps:-0}
  errs=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out"); errs=${errs:-?}
}

echo "# jframe ops figures: $(nproc) cores, $(date -u '+%F %H:%M') UTC, conns=$CONNS size=$SIZE duration=${DUR}s, echo"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "$SKIP" != *" 1 "* ]]; then
  haproxy_bin="$(command -v haproxy || echo /usr/sbin/haproxy)"
  [ -x "$haproxy_bin" ] || { echo "haproxy is not installed (apt-get install haproxy)" >&2; exit 1; }
  front=$(free_port); pa=$(free_port); pb=$(free_port)
  pp=(--proxy-protocol --trusted-proxy 127.0.0.1/32 --max-conns 4096 --max-conns-per-client 4096)
  start a "$bin/jframe" serve --listen "127.0.0.1:$pa" --driver tokio "${pp[@]}"; a_pid=$last_pid
  start b "$bin/jframe" serve --listen "127.0.0.1:$pb" --driver threads "${pp[@]}"; b_pid=$last_pid
  start direct "$bin/jframe" serve --listen 127.0.0.1:0 --driver tokio --max-conns 4096 --max-conns-per-client 4096
  direct="$addr"; d_pid=$last_pid
  sed -e "s/127.0.0.1:9000/127.0.0.1:$front/" -e "s/127.0.0.1:9001/127.0.0.1:$pa/" \
      -e "s/127.0.0.1:9002/127.0.0.1:$pb/" "$root/deploy/haproxy.cfg" >"$tmp/haproxy.cfg"
  "$haproxy_bin" -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
  h_pid=$!; pids+=($h_pid)
  sleep 2
  echo
  echo "## 1. through HAProxy (2 backends: tokio + threads) vs direct (1 tokio server)"
  echo
  echo "| path | pipeline | req/s | server cpu us/req | haproxy cpu us/req | errors |"
  echo "|---|---|---|---|---|---|"
  for pl in 1 16; do
    before=$(ticks "$d_pid"); load "$direct" "$pl"; after=$(ticks "$d_pid")
    echo "| direct | $pl | $rps | $(per_req $((after - before)) "$reqs") | - | $errs |"
    before=$(ticks "$a_pid" "$b_pid"); hb=$(ticks "$h_pid")
    load "127.0.0.1:$front" "$pl"
    after=$(ticks "$a_pid" "$b_pid"); ha=$(ticks "$h_pid")
    echo "| HAProxy | $pl | $rps | $(per_req $((after - before)) "$reqs") | $(per_req $((ha - hb)) "$reqs") | $errs |"
  done
  kill "$a_pid" "$b_pid" "$d_pid" "$h_pid" 2>/dev/null || true
fi

if [[ "$SKIP" != *" 2 "* ]]; then
  start off "$bin/jframe" serve --listen 127.0.0.1:0 --driver tokio; off="$addr"; off_pid=$last_pid
  start on "$bin/jframe" serve --listen 127.0.0.1:0 --driver tokio --metrics 127.0.0.1:0; on="$addr"; on_pid=$last_pid
  echo
  echo "## 2. --metrics off vs on, tokio driver, pipeline 16 ($ROUNDS rounds each, alternated)"
  echo
  echo "| round | off req/s | off cpu us/req | on req/s | on cpu us/req | on / off cpu |"
  echo "|---|---|---|---|---|---|"
  for r in $(seq "$ROUNDS"); do
    b=$(ticks "$off_pid"); load "$off" 16; a=$(ticks "$off_pid"); c_off=$(per_req $((a - b)) "$reqs"); r_off=$rps
    b=$(ticks "$on_pid"); load "$on" 16; a=$(ticks "$on_pid"); c_on=$(per_req $((a - b)) "$reqs"); r_on=$rps
    echo "| $r | $r_off | $c_off | $r_on | $c_on | $(awk -v a="$c_on" -v b="$c_off" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }') |"
  done
  maddr="$(grep -m1 'metrics on' "$tmp/on.log" | awk '{print $NF}')"
  echo
  echo "metrics scraped after: $(curl -s "$maddr" | grep -c '^jframe_') series, requests: $(curl -s "$maddr" | grep '^jframe_requests_total' | tr '\n' ' ')"
  kill "$off_pid" "$on_pid" 2>/dev/null || true
fi

if [[ "$SKIP" != *" 3 "* ]]; then
  echo
  echo "## 3. tokio driver: connections open at once, each served twice"
  echo
  echo "nofile: soft $(ulimit -n), hard $(ulimit -Hn)"
  # One descriptor per connection on each side (client and server are one
  # process each): a hard limit that cannot be raised caps the run.
  cap=$(( $(ulimit -n) - 200 ))
  if [ "$C100K" -gt "$cap" ]; then
    echo "nofile caps this run at $cap connections (not $C100K): raising the hard limit needs CAP_SYS_RESOURCE"
    C100K=$cap
  fi
  start big "$bin/jframe" serve --listen 127.0.0.1:0 --driver tokio \
    --max-conns $((C100K + 100)) --max-conns-per-client $((C100K + 100))
  big="$addr"; big_pid=$last_pid
  base=$(awk '/VmRSS/ {print $2}' "/proc/$big_pid/status")
  sources=$(( (C100K + 39999) / 40000 ))
  out="$(C10K_SOURCES=$sources timeout 900 "$bin/examples/c10k" "$big" "$C100K" 2 2>&1 || true)"
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$big_pid/status")
  echo "c10k (C10K_SOURCES=$sources): $out"
  echo "server RSS before: $((base / 1024)) MiB; peak (VmHWM): $((hwm / 1024)) MiB;" \
    "per connection: $(awk -v h="$hwm" -v b="$base" -v n="$C100K" 'BEGIN { printf "%.2f", (h - b) / n }') KiB"
  grep -m3 -i 'nofile\|warn' "$tmp/big.log" || true
  kill "$big_pid" 2>/dev/null || true
fi
