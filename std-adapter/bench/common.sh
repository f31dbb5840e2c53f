# Sourced by the benchmark scripts (compare.sh, ops.sh): the servers they
# start, each killed by its own PID on exit, and their logs in $tmp.
pids=()
tmp="$(mktemp -d)"
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

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
