#!/bin/bash
# Stock QEMU 10.0, built unmodified from the same fetched source as ours:
# the peer every comparison with stock uses (benchmarks, migration both
# ways, QMP replies).  This is the one place that builds it.  The build is
# kept in the cache beside the source; prints the binary's path on stdout.
#
#   scripts/build-stock-qemu.sh [CACHE_DIR]
set -euo pipefail

top=$(realpath "$(dirname "$0")/..")
cache=${1:-${QEMU_SPICE_CACHE:-$HOME/.cache/qemu-spice-stack}}
src=$("$top/scripts/fetch-qemu.sh" "$cache")
ver=$(cat "$src/VERSION")
out="$cache/stock-$ver"
bin="$out/qemu-system-x86_64"

if [ ! -f "$out/build.ninja" ]; then
    echo "[stock] configuring stock QEMU $ver in $out" >&2
    rm -rf "$out"
    mkdir -p "$out"
    args=(
        --python=/usr/bin/python3
        --target-list=x86_64-softmmu
        --enable-spice
        --disable-docs
        --disable-install-blobs
        --disable-user
        --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/share/ipxe/qemu
    )
    if command -v ccache >/dev/null; then
        args+=(--cc="ccache cc" --cxx="ccache c++")
    fi
    (cd "$out" && "$src/configure" "${args[@]}") > "$out/../stock-configure.log" 2>&1 || {
        tail -n 30 "$out/../stock-configure.log" >&2
        echo "build-stock-qemu: stock QEMU's configure failed" >&2
        rm -f "$out/build.ninja"
        exit 1
    }
fi
echo "[stock] building stock QEMU $ver (first time: several minutes)" >&2
CCACHE_BASEDIR="$out" CCACHE_NOHASHDIR=1 ninja -C "$out" qemu-system-x86_64 >&2
# As for ours: a binary run from its build tree finds Debian's firmware.
for d in /usr/share/qemu /usr/share/seabios /usr/share/ipxe/qemu; do
    mkdir -p "$out/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$out/qemu-bundle$d"
done
echo "$bin"
