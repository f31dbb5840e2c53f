# Sourced by the scripts that cross-build for Cortex-M (embedded-check.sh,
# m0-check.sh): finds a compiler for a thumb target, checks that it is new
# enough, and builds with it. Not a script of its own.
#
# The caller sets:
#   say()          prints a message to stderr with the caller's name
#   NEED_RUST      the rust-version the build needs (see rust_version_of)
# and may set JFRAME_TOOLCHAIN to a rustup toolchain (e.g. 1.87.0) to use
# instead of the default one.
#
# Routes, in order (see /work/shared/EMBEDDED.md):
#  1. rustup, when the toolchain has the target installed;
#  2. Debian's rustc-web/cargo-web with -Zbuild-std=core, linking with
#     rustup's rust-lld (or Debian's lld).
# Either compiler must be at least NEED_RUST, else the build stops and says so.
# Debian packages are installed (or upgraded) when missing and running as root.

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing $*"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    else
        say "missing $* (run as root to install them)"
        exit 1
    fi
}

# rust_version_of MANIFEST: the package's rust-version (the workspace's when
# it inherits it).
rust_version_of() {
    local v
    v=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$1" | head -1)
    if [ -z "$v" ] && grep -q '^rust-version.workspace *= *true' "$1"; then
        local dir
        dir=$(cd "$(dirname "$1")" && pwd)
        while [ "$dir" != / ]; do
            dir=$(dirname "$dir")
            if grep -q '^\[workspace.package\]' "$dir/Cargo.toml" 2>/dev/null; then
                v=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$dir/Cargo.toml" | head -1)
                break
            fi
        done
    fi
    [ -n "$v" ] || { say "no rust-version in $1"; exit 1; }
    echo "$v"
}

# version_ge A B: A >= B, for dotted versions (1.87 == 1.87.0).
version_ge() {
    local a b i
    IFS=. read -r -a a <<<"$1"
    IFS=. read -r -a b <<<"$2"
    for i in 0 1 2; do
        if (( ${a[i]:-0} > ${b[i]:-0} )); then return 0; fi
        if (( ${a[i]:-0} < ${b[i]:-0} )); then return 1; fi
    done
    return 0
}

# rustc_version RUSTC...: the version a compiler command reports (1.96.0).
rustc_version() {
    "$@" --version 2>/dev/null | awk '{ print $2 }' | sed 's/-.*//'
}

# new_enough WHAT VERSION: says whether VERSION meets NEED_RUST; returns 1 if not.
new_enough() {
    if [ -z "$2" ]; then
        say "$1: could not read its version"
        return 1
    fi
    if version_ge "$2" "$NEED_RUST"; then
        return 0
    fi
    say "$1 is rustc $2, OLDER than $NEED_RUST, the rust-version this build needs:" \
        "install a newer one (rustup toolchain install stable, or Debian's rustc-web >= $NEED_RUST)"
    return 1
}

# The rustup toolchain argument ("+1.87.0"), if one was asked for.
toolchain_arg=()
[ -n "${JFRAME_TOOLCHAIN:-}" ] && toolchain_arg=("+$JFRAME_TOOLCHAIN")

have_rustup_target() {
    command -v rustup >/dev/null || return 1
    local tc=()
    [ -n "${JFRAME_TOOLCHAIN:-}" ] && tc=(--toolchain "$JFRAME_TOOLCHAIN")
    rustup target list --installed "${tc[@]}" 2>/dev/null | grep -qx "$1"
}

# Sets up the Debian route once, when a target is not installed in rustup.
debian_ready=""
lld_dir=""
debian_setup() {
    [ -n "$debian_ready" ] && return
    if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
        apt_install rustc-web cargo-web rust-web-src
    fi
    if ! new_enough "Debian's /usr/bin/rustc" "$(rustc_version /usr/bin/rustc)"; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            say "trying to upgrade Debian's rustc-web"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src >&2
        fi
        new_enough "Debian's /usr/bin/rustc" "$(rustc_version /usr/bin/rustc)" || exit 1
    fi
    # Debian's rustc has no rust-lld (the thumb targets' default linker).
    if command -v rustup >/dev/null; then
        local sysroot host
        sysroot=$(rustup run stable rustc --print sysroot 2>/dev/null || true)
        host=$(rustup run stable rustc -vV 2>/dev/null | sed -n 's/^host: //p' || true)
        [ -n "$sysroot" ] && [ -x "$sysroot/lib/rustlib/$host/bin/rust-lld" ] && lld_dir=$sysroot/lib/rustlib/$host/bin
    fi
    if [ -n "$lld_dir" ]; then
        export PATH="$lld_dir:$PATH"
    else
        command -v ld.lld >/dev/null || apt_install lld
    fi
    debian_ready=1
}

# cargo_for TARGET ARGS...: cargo build for TARGET by whichever route works,
# with a compiler of at least NEED_RUST.
cargo_for() {
    local target=$1
    shift
    if have_rustup_target "$target"; then
        local v
        v=$(rustc_version rustc "${toolchain_arg[@]}")
        new_enough "rustup's rustc${JFRAME_TOOLCHAIN:+ ($JFRAME_TOOLCHAIN)}" "$v" || exit 1
        say "cargo build --target $target $* (rustup rustc $v, needs >= $NEED_RUST)"
        cargo "${toolchain_arg[@]}" build --target "$target" "$@"
    else
        debian_setup
        local linker=()
        [ -z "$lld_dir" ] && linker=(--config "target.$target.linker=\"ld.lld\"")
        say "cargo build --target $target $* (Debian rustc $(rustc_version /usr/bin/rustc)," \
            "needs >= $NEED_RUST; -Zbuild-std=core)"
        RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build "${linker[@]}" \
            -Zbuild-std=core --target "$target" "$@"
    fi
}
