#!/bin/bash
# Build the small demo/test guest from Debian packages only:
#   - Debian's linux-image-amd64 kernel, booted uncompressed (vmlinux, PVH)
#   - an initramfs: busybox-static, the qxl and bochs (std VGA) DRM drivers
#     and the virtio-serial modules with their dependencies, our init script,
#     a drawn banner, tests/guest/fbcounter.c; the input and sound modules
#     and tests/guest/guest-io.c for the SPICE input and audio tests.
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
. "$top/scripts/guest-lib.sh"

guest_kernel_package
bb_ver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
if [ -z "$bb_ver" ]; then
    echo "build-guest: busybox-static is not installed; run scripts/install-deps.sh" >&2
    exit 1
fi

key=$( { cat "$0" $guest_lib_inputs "$top"/tests/guest/*; echo "$kpkg $kver_pkg $bb_ver"; } |
       sha256sum | cut -c1-16)
dir=$cache/guest-$key
if [ -f "$dir/.complete" ]; then
    ln -sfn "$dir" "$out_link"
    exit 0
fi

echo "[guest] building guest ($kpkg $kver_pkg, busybox $bb_ver) in $dir"
rm -rf "$dir"
mkdir -p "$dir/work"
cd "$dir/work"
guest_kernel "$dir/vmlinux"

# initramfs tree
root=$dir/work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,root}
cp /bin/busybox "$root/bin/busybox"
cp "$top/tests/guest/init" "$root/init"
# The migration tests' frame counter (static: the initramfs has no libc).
cc -static -O2 -Wall -o "$root/bin/fbcounter" "$top/tests/guest/fbcounter.c"
chmod 755 "$root/init"
# Guest programs of make bench (tests/guest/bench-*.c), static.
for c in "$top"/tests/guest/bench-*.c; do
    gcc -static -O2 -I/usr/include/libdrm -o "$root/bin/$(basename "$c" .c)" "$c"
done
/usr/bin/python3 "$top/tests/guest/mkbanner.py" "$root/etc/banner.raw"

# The SPICE input and audio tests' helper (tests/guest/guest-io.c).
cc -static -O2 -Wall -o "$root/bin/guest-io" "$top/tests/guest/guest-io.c"

# Module closure of what the guest loads, from modules.dep; the input and
# sound modules are there for the tests that load them (test_spice_*.py).
modules="qxl bochs virtio_pci virtio_console uio_pci_generic"
on_demand="evdev psmouse virtio_input snd_hda_codec_generic snd_hda_intel snd_pcm_oss"
guest_modules "$root" $modules $on_demand
echo "$modules" > "$root/etc/modules"
guest_initrd "$root" "$dir/initrd.gz"

echo "$kver" > "$dir/kernel-version"
cd "$dir" && rm -rf work
touch "$dir/.complete"
ln -sfn "$dir" "$out_link"
echo "[guest] done: $(du -sh "$dir/vmlinux" | cut -f1) vmlinux, $(du -sh "$dir/initrd.gz" | cut -f1) initrd"
