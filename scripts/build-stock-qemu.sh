#!/bin/bash
# Stock QEMU 10.0, built unmodified from the same fetched source as ours:
# the peer every comparison with stock uses (benchmarks, migration both
# ways, QMP replies).  This is the one place that builds it.  The build is
# kept in the cache beside the source; prints the binary's path on stdout.
#
#   scripts/build-stock-qemu.sh [--fuzz] [CACHE_DIR]
#
# --fuzz builds stock QEMU with our fuzz harness (tests/qtest/fuzz/, laid
# over the pristine tree by scripts/overlay.sh --only tests/qtest/fuzz, with
# the qtest QXL driver's header it includes from tests/qtest/libqos) the
# way ./configure --enable-fuzzing builds ours: Debian's clang 14, libFuzzer,
# ASan and UBSan.  It prints the path of qemu-fuzz-x86_64.  Its layout
# (overlay/ and qemu/ under one folder) is that of our build-fuzz/, so
# ccache serves the files both share.
set -euo pipefail

top=$(realpath "$(dirname "$0")/..")
fuzz=0
if [ "${1:-}" = "--fuzz" ]; then
    fuzz=1
    shift
fi
cache=${1:-${QEMU_SPICE_CACHE:-$HOME/.cache/qemu-spice-stack}}
src=$("$top/scripts/fetch-qemu.sh" "$cache")
ver=$(cat "$src/VERSION")

if [ $fuzz = 1 ]; then
    base="$cache/stock-fuzz-$ver"
    out="$base/qemu"
    "$top/scripts/overlay.sh" --only tests/qtest/fuzz --only tests/qtest/libqos \
        "$src" "$base/overlay"
    if [ ! -f "$out/build.ninja" ]; then
        echo "[stock] configuring stock QEMU $ver for fuzzing in $out" >&2
        rm -rf "$out"
        mkdir -p "$out"
        cc="clang-14"; cxx="clang++-14"
        if command -v ccache >/dev/null; then
            cc="ccache $cc"; cxx="ccache $cxx"
        fi
        # The same arguments as our ./configure --enable-fuzzing.
        (cd "$out" && "$base/overlay/configure" \
            --python=/usr/bin/python3 --target-list=x86_64-softmmu \
            --enable-spice --disable-docs --disable-install-blobs \
            --disable-user \
            --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/share/ipxe/qemu \
            --cc="$cc" --cxx="$cxx" --enable-fuzzing --enable-asan --enable-ubsan) \
            > "$base/configure.log" 2>&1 || {
            tail -n 30 "$base/configure.log" >&2
            echo "build-stock-qemu: stock QEMU's configure (fuzzing) failed" >&2
            rm -f "$out/build.ninja"
            exit 1
        }
    fi
    echo "[stock] building stock QEMU $ver with the fuzz harness" >&2
    CCACHE_BASEDIR="$base" CCACHE_NOHASHDIR=1 \
        ninja -C "$out" qemu-fuzz-x86_64 >&2
    for d in /usr/share/qemu /usr/share/seabios /usr/share/ipxe/qemu; do
        mkdir -p "$out/qemu-bundle$(dirname "$d")"
        ln -sfn "$d" "$out/qemu-bundle$d"
    done
    echo "$out/qemu-fuzz-x86_64"
    exit 0
fi

out="$cache/stock-$ver"
bin="$out/qemu-system-x86_64"

# As Debian's package (and our ./configure): SPICE and OpenGL.
args=(
    --python=/usr/bin/python3
    --target-list=x86_64-softmmu
    --enable-spice
    --enable-opengl
    --disable-docs
    --disable-install-blobs
    --disable-user
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/share/ipxe/qemu
)
if command -v ccache >/dev/null; then
    args+=(--cc="ccache cc" --cxx="ccache c++")
fi
# A build configured with other arguments is configured again.
if [ -f "$out/build.ninja" ] &&
   [ "$(cat "$out/.stock-args" 2>/dev/null)" != "${args[*]}" ]; then
    rm -f "$out/build.ninja"
fi
if [ ! -f "$out/build.ninja" ]; then
    echo "[stock] configuring stock QEMU $ver in $out" >&2
    rm -rf "$out"
    mkdir -p "$out"
    (cd "$out" && "$src/configure" "${args[@]}") > "$out/../stock-configure.log" 2>&1 || {
        tail -n 30 "$out/../stock-configure.log" >&2
        echo "build-stock-qemu: stock QEMU's configure failed" >&2
        rm -f "$out/build.ninja"
        exit 1
    }
    echo "${args[*]}" > "$out/.stock-args"
fi
echo "[stock] building stock QEMU $ver (first time: several minutes)" >&2
CCACHE_BASEDIR="$out" CCACHE_NOHASHDIR=1 ninja -C "$out" qemu-system-x86_64 >&2
# As for ours: a binary run from its build tree finds Debian's firmware.
for d in /usr/share/qemu /usr/share/seabios /usr/share/ipxe/qemu; do
    mkdir -p "$out/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$out/qemu-bundle$d"
done
echo "$bin"
