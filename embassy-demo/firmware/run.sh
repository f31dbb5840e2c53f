#!/usr/bin/env bash
# Runs the firmware under QEMU (mps2-an386) with user networking, forwarding
# 127.0.0.1:HOSTPORT on the host to the jframe service on guest port 7.
#
#   embassy-demo/firmware/run.sh [HOSTPORT]      (default 7007)
#
# Builds first unless FIRMWARE_ELF names an ELF to run. The firmware's log
# (defmt frames over semihosting) is decoded by `defmt-print` when it is on
# PATH (cargo install defmt-print), else written raw to stdout; Ctrl-A X
# quits QEMU.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${1:-7007}"
case "$port" in ''|*[!0-9]*) echo "run.sh: HOSTPORT must be a number" >&2; exit 2 ;; esac

if ! command -v qemu-system-arm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm >&2
    else
        echo "run.sh: qemu-system-arm missing (run as root to install it)" >&2
        exit 1
    fi
fi

elf="${FIRMWARE_ELF:-$("$here/build.sh" | tail -n 1)}"
echo "run.sh: $elf on 127.0.0.1:$port -> guest 10.0.2.15:7" >&2
qemu=(qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none
    -semihosting-config enable=on,target=native
    -kernel "$elf"
    -nic "user,model=lan9118,hostfwd=tcp:127.0.0.1:$port-:7")
if command -v defmt-print >/dev/null; then
    "${qemu[@]}" | defmt-print -e "$elf"
else
    exec "${qemu[@]}"
fi
