#!/usr/bin/env bash
# TAP mode of host-sim, end to end, inside a network namespace made here
# and removed on exit (even on failure). Needs root; without it, says why
# and passes.
#
#   bash embassy-demo/scripts/tap-test.sh      (from the workspace root)
#
# In the namespace: tap0 (kernel side 10.42.0.2/24), host-sim's device stack
# on tap0 as 10.42.0.1, and a Python seed-002 peer that talks to the device
# both directly through the kernel (10.42.0.1:7) and through host-sim's
# forwarded loopback port.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "tap-test: skipped: TAP mode needs root (ip netns, /dev/net/tun)"
    exit 0
fi
if ! command -v ip >/dev/null && command -v apt-get >/dev/null; then
    echo "tap-test: installing iproute2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >&2
fi
for tool in ip python3 cargo; do
    command -v "$tool" >/dev/null || { echo "tap-test: FAILED: $tool not found" >&2; exit 1; }
done
[ -e /dev/net/tun ] || { echo "tap-test: FAILED: /dev/net/tun missing" >&2; exit 1; }

here="$(cd "$(dirname "$0")/.." && pwd)"
cargo build -q -p jframe-embassy-demo --bin host-sim --manifest-path "$here/Cargo.toml"
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps --manifest-path "$here/Cargo.toml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
host_sim="$target_dir/debug/host-sim"
peer="$here/tests/peers/seed002_client.py"

ns="jframe-tap-$$"
log="$(mktemp)"
sim_pid=""
cleanup() {
    set +e
    if [ -n "$sim_pid" ]; then
        kill "$sim_pid" 2>/dev/null
        wait "$sim_pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -f "$log"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add 10.42.0.2/24 dev tap0
ip -n "$ns" link set tap0 up

ip netns exec "$ns" "$host_sim" --tap tap0 --forward 127.0.0.1:0 >"$log" 2>&1 &
sim_pid=$!
port=""
for _ in $(seq 1 100); do
    port="$(sed -n 's/^host-sim: listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$log")"
    [ -n "$port" ] && break
    kill -0 "$sim_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "tap-test: FAILED: host-sim did not start:" >&2
    cat "$log" >&2
    exit 1
fi

run_peer() { # PORT HOST: retried while the device's ARP/first SYN settle
    for _ in 1 2 3 4 5; do
        if out="$(ip netns exec "$ns" timeout 120 python3 "$peer" "$1" "$2" 2>&1)"; then
            echo "$out"
            return 0
        fi
        sleep 1
    done
    echo "tap-test: FAILED: peer against $2:$1: $out" >&2
    return 1
}

direct="$(run_peer 7 10.42.0.1)"
forwarded="$(run_peer "$port" 127.0.0.1)"
[ "$direct" = "ok 24" ] && [ "$forwarded" = "ok 24" ] || {
    echo "tap-test: FAILED: direct=$direct forwarded=$forwarded" >&2
    exit 1
}
echo "tap-test: 2 passed, 0 failed (device on tap0 in netns $ns: direct 10.42.0.1:7 and forwarded 127.0.0.1:$port)"
