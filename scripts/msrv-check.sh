#!/usr/bin/env bash
# Builds and tests the jframe core with exactly its declared MSRV (the
# rust-version of core/Cargo.toml), so a release can never raise it by
# accident: a newer API, a let chain, or a dependency whose rust-version is
# higher (cargo checks those at the MSRV) fails here.
#
#  1. finds a toolchain of exactly that version: rustup's (installed, or
#     `rustup toolchain install`), else Debian's /usr/bin/rustc if its
#     version is exactly that;
#  2. builds the library (no features, then defmt) and runs its tests, with
#     the committed Cargo.lock (--locked);
#  3. cross-builds the library for thumbv6m-none-eabi and
#     thumbv7em-none-eabihf with it, when rustup has (or can add) the targets.
#
# Exits non-zero on any failure, and when no toolchain of the exact version
# can be had: then set JFRAME_MSRV_OPTIONAL=1 to skip instead, with the reason.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "msrv-check: $*" >&2; }
# shellcheck source=scripts/cross-toolchain.sh
. "$root/scripts/cross-toolchain.sh"

msrv=$(rust_version_of "$root/core/Cargo.toml")
# rust-version 1.87 means 1.87.0.
exact=$msrv
[[ $exact =~ ^[0-9]+\.[0-9]+$ ]] && exact=$exact.0
export CARGO_TARGET_DIR=$root/target/msrv-$exact

unobtainable() {
    if [ "${JFRAME_MSRV_OPTIONAL:-}" = 1 ]; then
        say "SKIPPED: $*"
        exit 0
    fi
    say "FAILED: $* (JFRAME_MSRV_OPTIONAL=1 skips this step instead)"
    exit 1
}

cargo_at=()
route=""
if command -v rustup >/dev/null; then
    if ! rustup run "$exact" rustc --version >/dev/null 2>&1; then
        say "installing rustup toolchain $exact"
        rustup toolchain install "$exact" --profile minimal >&2 || true
    fi
    if [ "$(rustc_version rustup run "$exact" rustc)" = "$exact" ]; then
        cargo_at=(cargo "+$exact")
        route="rustup toolchain $exact"
    fi
fi
if [ -z "$route" ] && [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ]; then
    if [ "$(rustc_version /usr/bin/rustc)" = "$exact" ]; then
        cargo_at=(env RUSTC=/usr/bin/rustc /usr/bin/cargo)
        route="Debian rustc $exact"
    else
        say "Debian's /usr/bin/rustc is $(rustc_version /usr/bin/rustc), not $exact"
    fi
fi
[ -n "$route" ] || unobtainable "no Rust $exact here: rustup could not install it and" \
    "Debian's rustc-web is another version (apt-cache policy rustc-web lists those Debian has)"

say "core's rust-version is $msrv: building with $route"
cd "$root"
"${cargo_at[@]}" build -p jframe --lib --locked
"${cargo_at[@]}" build -p jframe --lib --features defmt --locked
"${cargo_at[@]}" test -p jframe --locked

if [ "$route" = "rustup toolchain $exact" ]; then
    for t in thumbv6m-none-eabi thumbv7em-none-eabihf; do
        if ! rustup target list --installed --toolchain "$exact" | grep -qx "$t"; then
            rustup target add --toolchain "$exact" "$t" >&2 || true
        fi
        if rustup target list --installed --toolchain "$exact" | grep -qx "$t"; then
            "${cargo_at[@]}" build -p jframe --lib --release --locked --target "$t"
            say "$t: built with $exact"
        else
            say "$t: not built with $exact (rustup could not add the target)"
        fi
    done
fi
say "the core builds and passes its tests with Rust $exact, its declared MSRV: OK"
