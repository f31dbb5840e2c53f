#!/usr/bin/env bash
# End-to-end test of the jframe firmware under QEMU mps2-an386:
#
#   embassy-demo/firmware/qemu-test.sh            (test)
#   embassy-demo/firmware/qemu-test.sh --bench    (test, then throughput)
#
# Builds the firmware, boots it in QEMU in the background with its port 7
# forwarded to a free 127.0.0.1 port, runs qemu_client.py against it (frames
# of 0 B..64 KiB with echo and upper, 4 concurrent connections, a seed-002
# Python peer, malformed frames per SPEC.md, vanishing clients, a full pool,
# 9 clients on the 4-slot pool), then `jframe conform` (the
# SPEC conformance table of jframe-std, TCP cases), and stops QEMU. Bounded by
# QEMU_TEST_TIMEOUT seconds (default 300). Exits non-zero on any failure.
# Needs qemu-system-arm and python3; installs qemu as root when missing.
# The firmware logs defmt frames on QEMU's stdout: shown decoded when
# `defmt-print` is on PATH (cargo install defmt-print), else only counted.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
limit="${QEMU_TEST_TIMEOUT:-300}"
bench=0
[ "${1:-}" = "--bench" ] && bench=1
start=$SECONDS

if ! command -v qemu-system-arm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm
    else
        echo "qemu-test: qemu-system-arm missing (run as root to install it)" >&2
        exit 1
    fi
fi

elf="$(timeout "$limit" "$here/build.sh" | tail -n 1)"
[ -f "$elf" ] || { echo "qemu-test: build produced no ELF" >&2; exit 1; }

# The conformance runner: the host's `jframe` command (root workspace).
root="$(cd "$here/../.." && pwd)"
echo "qemu-test: building the jframe command (jframe conform)" >&2
timeout "$limit" cargo build --quiet --manifest-path "$root/Cargo.toml" \
    -p jframe-std --features cli --bin jframe >&2
jframe_bin="$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/jframe"
[ -x "$jframe_bin" ] || { echo "qemu-test: no jframe binary at $jframe_bin" >&2; exit 1; }

log="$(mktemp -t jframe-qemu.XXXXXX.log)"
qemu_err="$(mktemp -t jframe-qemu.XXXXXX.err)"
qemu_pid=""
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    rm -f "$log" "$qemu_err"
}
trap cleanup EXIT

# A free loopback port; if another process takes it before QEMU binds,
# QEMU fails to start and we try another.
for attempt in 1 2 3 4 5; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$elf" \
        -nic "user,model=lan9118,hostfwd=tcp:127.0.0.1:$port-:7" >"$log" 2>"$qemu_err" &
    qemu_pid=$!
    sleep 1
    kill -0 "$qemu_pid" 2>/dev/null && break
    echo "qemu-test: QEMU did not start on port $port (attempt $attempt):" >&2
    cat "$qemu_err" >&2
    qemu_pid=""
done
[ -n "$qemu_pid" ] || { echo "qemu-test: QEMU would not start" >&2; exit 1; }
echo "qemu-test: QEMU pid $qemu_pid, 127.0.0.1:$port -> guest port 7"

remaining=$(( limit - (SECONDS - start) ))
[ "$remaining" -gt 10 ] || { echo "qemu-test: no time left after the build" >&2; exit 1; }
status=0
timeout "$remaining" python3 "$here/qemu_client.py" test --port "$port" --deadline $(( remaining - 5 )) || status=$?

if [ "$status" = 0 ]; then
    remaining=$(( limit - (SECONDS - start) ))
    echo "qemu-test: jframe conform 127.0.0.1:$port"
    timeout "$remaining" "$jframe_bin" conform "127.0.0.1:$port" --timeout 10s || status=$?
fi
if ! kill -0 "$qemu_pid" 2>/dev/null; then
    echo "qemu-test: FAIL: the firmware exited (panic or fault?)" >&2
    status=1
fi
if [ "$status" = 0 ] && [ "$bench" = 1 ]; then
    remaining=$(( limit - (SECONDS - start) ))
    timeout "$remaining" python3 "$here/qemu_client.py" bench --port "$port" --seconds 3 --deadline 30 || status=$?
fi
echo "--- firmware log ---"
if command -v defmt-print >/dev/null; then
    defmt-print -e "$elf" <"$log" || true
else
    echo "($(wc -c <"$log") bytes of defmt frames; cargo install defmt-print to read them)"
fi
cat "$qemu_err"
if [ "$status" = 0 ]; then
    echo "qemu-test: PASS"
else
    echo "qemu-test: FAIL ($status)" >&2
fi
exit "$status"
