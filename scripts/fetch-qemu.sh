#!/bin/bash
# Fetch Debian's QEMU 10.0 source (with Debian's patches applied) into a cache
# outside the work tree, once.  Prints the path of the source tree on stdout.
#
#   scripts/fetch-qemu.sh [CACHE_DIR]
set -euo pipefail

cache=${1:-${QEMU_SPICE_CACHE:-$HOME/.cache/qemu-spice-stack}}
mkdir -p "$cache/qemu-src"
cd "$cache/qemu-src"

tree=$(ls -d qemu-10.0*/ 2>/dev/null | head -n1 || true)
if [ -n "$tree" ] && [ -f "$tree/VERSION" ] && [ -f "$tree/.fetch-complete" ]; then
    echo "$cache/qemu-src/${tree%/}"
    exit 0
fi

if ! command -v dpkg-source >/dev/null; then
    echo "fetch-qemu: dpkg-source not found; run scripts/install-deps.sh first" >&2
    exit 1
fi

echo "[qemu] fetching Debian's QEMU 10.0 source (apt-get source qemu/trixie) into $cache/qemu-src" >&2
rm -rf qemu-10.0* qemu_*
if ! apt-get source -q --only-source qemu/trixie >&2; then
    echo "fetch-qemu: 'apt-get source qemu/trixie' failed." >&2
    echo "  Run scripts/install-deps.sh (it adds the trixie deb-src entries), or pass" >&2
    echo "  --qemu-src DIR to ./configure with your own QEMU 10.0.x tree." >&2
    exit 1
fi
tree=$(ls -d qemu-10.0*/ 2>/dev/null | head -n1 || true)
if [ -z "$tree" ]; then
    echo "fetch-qemu: the fetched source is not a QEMU 10.0 tree: $(ls)" >&2
    exit 1
fi
# The tarball is big; the .orig/.debian archives are no longer needed.
rm -f qemu_*.tar.* qemu_*.dsc
touch "$tree/.fetch-complete"
echo "$cache/qemu-src/${tree%/}"
