# Sourced by compare.sh and ops.sh (bash): what both need to start servers,
# stop them, and measure their CPU.

tck="$(getconf CLK_TCK)"
# Every process started is killed by its own PID on exit.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
tmp="$(mktemp -d)"

# start NAME CMD...: runs CMD (its output in $tmp/NAME.log), waits for its
# "listening on tcp ADDR" line; sets $addr and $last_pid.
start() {
  local log="$tmp/$1.log"; shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
  last_pid=$!
  for _ in $(seq 200); do
    addr="$(grep -m1 'listening on tcp' "$log" | awk '{print $NF}' || true)"
    [ -n "$addr" ] && return 0
    sleep 0.05
  done
  echo "did not start: $*" >&2; cat "$log" >&2; exit 1
}

# ticks PID...: utime + stime of these processes, in clock ticks.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat"))); done; echo "$t"; }
# per_req TICKS REQUESTS: CPU microseconds per request.
per_req() { awk -v t="$1" -v hz="$tck" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
