#!/bin/bash
# Build the small demo/test guest from Debian packages only:
#   - Debian's linux-image-amd64 kernel, booted uncompressed (vmlinux, PVH)
#   - an initramfs: busybox-static, the qxl and bochs (std VGA) DRM drivers
#     and the virtio-serial modules with their dependencies, our init script
#     and a drawn banner.
#
#   scripts/build-guest.sh OUT_LINK
#
# The result is cached under the cache dir, keyed by the inputs (this script,
# tests/guest/*, the package versions), and OUT_LINK points at it.
# Deterministic: fixed file order and timestamps in the cpio archive.
set -euo pipefail

top=$(realpath "$(dirname "$0")/..")
out_link=$(realpath -m "$(dirname "$1")")/$(basename "$1")  # not through the old link
cache=${QEMU_SPICE_CACHE:-$HOME/.cache/qemu-spice-stack}

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
if [ -z "$kpkg" ]; then
    echo "build-guest: cannot resolve linux-image-amd64; run scripts/install-deps.sh" >&2
    exit 1
fi
kver_pkg=$(apt-cache policy "$kpkg" | awk '/Candidate:/ { print $2 }')
bb_ver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
if [ -z "$bb_ver" ]; then
    echo "build-guest: busybox-static is not installed; run scripts/install-deps.sh" >&2
    exit 1
fi

key=$( { cat "$0" "$top"/tests/guest/*; echo "$kpkg $kver_pkg $bb_ver"; } | sha256sum | cut -c1-16)
dir=$cache/guest-$key
if [ -f "$dir/.complete" ]; then
    ln -sfn "$dir" "$out_link"
    exit 0
fi

echo "[guest] building guest ($kpkg $kver_pkg, busybox $bb_ver) in $dir"
rm -rf "$dir"
mkdir -p "$dir/work"
cd "$dir/work"

apt-get download -q "$kpkg" >/dev/null 2>&1 || {
    echo "build-guest: 'apt-get download $kpkg' failed (is apt reachable? run scripts/install-deps.sh)" >&2
    exit 1
}
dpkg-deb -x ./*.deb kpkg
kver=$(ls kpkg/lib/modules | head -n1)
depmod -b kpkg "$kver"

# vmlinux: the ELF inside the bzImage, booted directly (PVH entry point):
# it saves seconds of decompression under TCG.
/usr/bin/python3 "$top/tests/guest/extract-vmlinux.py" "kpkg/boot/vmlinuz-$kver" "$dir/vmlinux"

# initramfs tree
root=$dir/work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,root,lib/modules/"$kver"}
cp /bin/busybox "$root/bin/busybox"
cp "$top/tests/guest/init" "$root/init"
chmod 755 "$root/init"
# Guest programs of make bench (tests/guest/bench-*.c), static.
for c in "$top"/tests/guest/bench-*.c; do
    gcc -static -O2 -I/usr/include/libdrm -o "$root/bin/$(basename "$c" .c)" "$c"
done
/usr/bin/python3 "$top/tests/guest/mkbanner.py" "$root/etc/banner.raw"

# Module closure of what the guest loads, from modules.dep.
modules="qxl bochs virtio_pci virtio_console uio_pci_generic"
mdir=kpkg/lib/modules/$kver
/usr/bin/python3 "$top/tests/guest/module-closure.py" "$mdir" "$root/lib/modules/$kver" $modules
depmod -b "$root" "$kver"
echo "$modules" > "$root/etc/modules"

# Reproducible cpio: sorted names, fixed mtime, root owner.
(cd "$root" && find . -print0 | LC_ALL=C sort -z | \
    xargs -0 touch -h -d @0 && \
    find . -print0 | LC_ALL=C sort -z | \
    cpio --null -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -9 > "$dir/initrd.gz"

echo "$kver" > "$dir/kernel-version"
cd "$dir" && rm -rf work
touch "$dir/.complete"
ln -sfn "$dir" "$out_link"
echo "[guest] done: $(du -sh "$dir/vmlinux" | cut -f1) vmlinux, $(du -sh "$dir/initrd.gz" | cut -f1) initrd"
