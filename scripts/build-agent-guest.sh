#!/bin/bash
# Build the agent test guest from Debian packages only:
#   - a Debian bookworm minbase root file system (debootstrap) with the
#     unmodified SPICE guest agent (spice-vdagent: spice-vdagentd and the
#     X session agent), Xorg with the modesetting and qxl drivers, xrandr and
#     xclip, our VDI port bridge (contrib/vdi-port-bridge), the X client
#     tests/guest/xdraw.c and our init (tests/guest/agent-init), as an ext4
#     image booted read-only with snapshot=on;
#   - Debian's kernel (vmlinux, PVH) and a busybox initramfs that loads the
#     drivers (virtio, bochs DRM, uinput, uio_pci_generic) and switches to
#     that root.
#
#   scripts/build-agent-guest.sh OUT_LINK
#
# Cached under the cache dir, keyed by the inputs (this script, the bridge,
# the init, the X client, package versions); OUT_LINK points at the result.
# Root is needed for one step only, once: debootstrap of the Debian base
# file system, cached as a tarball on its own (keyed by the suite and the
# package list; about 2 minutes and 500 MB).  Without root that step uses
# mmdebstrap in a user namespace (packages mmdebstrap and uidmap, and
# /etc/subuid entries) when it can.  The rest, from that tarball, runs as
# any user: the file system image is made under fakeroot.
set -euo pipefail

top=$(realpath "$(dirname "$0")/..")
out_link=$(realpath -m "$(dirname "$1")")/$(basename "$1")
cache=${QEMU_SPICE_CACHE:-$HOME/.cache/qemu-spice-stack}
suite=bookworm
mirror=http://deb.debian.org/debian
packages=spice-vdagent,dbus,dbus-x11,xserver-xorg-core,xserver-xorg-video-qxl,x11-xserver-utils,xclip,kmod
modules="virtio_pci virtio_blk virtio_console crc32c_generic ext4 bochs qxl uinput uio_pci_generic"
. "$top/scripts/guest-lib.sh"

for tool in mke2fs busybox cpio gcc fakeroot; do
    if ! command -v "$tool" >/dev/null; then
        echo "build-agent-guest: $tool is missing; run scripts/install-deps.sh" >&2
        exit 1
    fi
done
if [ ! -f /usr/include/X11/Xlib.h ] || [ ! -f /usr/include/X11/extensions/Xrender.h ]; then
    echo "build-agent-guest: libX11/libXrender headers are missing (libx11-dev, libxrender-dev); run scripts/install-deps.sh" >&2
    exit 1
fi

guest_kernel_package
key=$( { cat "$0" $guest_lib_inputs "$top"/tests/guest/agent-init \
           "$top"/tests/guest/xdraw.c "$top"/contrib/vdi-port-bridge/*.c \
           "$top"/include/hw/char/vdi-port.h;
         echo "$suite $packages $modules $kpkg $kver_pkg"; } | sha256sum | cut -c1-16)
dir=$cache/agent-guest-$key
if [ -f "$dir/.complete" ]; then
    ln -sfn "$dir" "$out_link"
    exit 0
fi

# The Debian base file system, as a tarball: the slow part, and the only
# one that depends on nothing but the package list.
base=$cache/agent-rootfs-$(echo "$suite $packages" | sha256sum | cut -c1-16).tar
make_base() {
    local log=$cache/agent-rootfs.log
    mkdir -p "$cache"
    if [ "$(id -u)" = 0 ]; then
        echo "[agent-guest] debootstrap $suite (about 2 minutes)"
        local root=$cache/agent-rootfs.tmp
        rm -rf "$root"
        debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" \
            > "$log" 2>&1 || {
            tail -n 20 "$log" >&2
            echo "build-agent-guest: debootstrap failed; log in $log" >&2
            exit 1; }
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -cf "$base.tmp" . && rm -rf "$root"
    elif command -v mmdebstrap >/dev/null && command -v newuidmap >/dev/null; then
        echo "[agent-guest] mmdebstrap $suite in a user namespace (about 2 minutes)"
        mmdebstrap --mode=unshare --format=tar --variant=minbase --include="$packages" \
            "$suite" "$base.tmp" "$mirror" > "$log" 2>&1 || {
            tail -n 20 "$log" >&2
            echo "build-agent-guest: mmdebstrap failed; log in $log" >&2
            exit 1; }
    else
        echo "build-agent-guest: no Debian base file system in $base yet; make it" \
             "once as root (make agent-guest), or install mmdebstrap and uidmap" >&2
        exit 1
    fi
    mv "$base.tmp" "$base"
}
[ -f "$base" ] || make_base

echo "[agent-guest] building in $dir"
rm -rf "$dir"
mkdir -p "$dir/work"
cd "$dir/work"

# Kernel and the initramfs that loads the drivers and switches to the root.
guest_kernel "$dir/vmlinux"
initrd=$dir/work/initrd
mkdir -p "$initrd"/{bin,dev,proc,sys,newroot}
cp /bin/busybox "$initrd/bin/busybox"
guest_modules "$initrd" $modules
cat > "$initrd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $modules; do modprobe \$m || echo "GUEST: modprobe \$m failed" > /dev/ttyS0; done
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
mount /dev/vda /newroot || { echo "GUEST: no root file system" > /dev/ttyS0; exec sh; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/agent-init
INIT
chmod 755 "$initrd/init"
guest_initrd "$initrd" "$dir/initrd.gz"

# Our files, laid over the base below.
ours=$dir/work/ours
mkdir -p "$ours/usr/local/bin" "$ours/usr/sbin"
gcc -O2 -Wall -Wno-address-of-packed-member -I"$top/include/hw/char" \
    $(pkg-config --cflags spice-protocol) \
    -o "$ours/usr/local/bin/vdi-port-bridge" "$top/contrib/vdi-port-bridge/vdi-port-bridge.c"
# The X client of test_qxl_xorg.py, linked against the guest's own libX11
# and libXrender (same Debian release as the host).
gcc -O2 -Wall -o "$ours/usr/local/bin/xdraw" "$top/tests/guest/xdraw.c" -lX11 -lXrender
# /sbin is /usr/sbin in the base (merged /usr).
install -m 755 "$top/tests/guest/agent-init" "$ours/usr/sbin/agent-init"
# An Xorg configuration directory /etc/X11/$1 of the guest: no input
# hot-plugging, one device on driver $2 with the options that follow, each
# '"Name" "value"'.
xorg_conf() {
    local dir=$ours/etc/X11/$1 driver=$2 option
    shift 2
    mkdir -p "$dir"
    {
        printf 'Section "ServerFlags"\n    Option "AutoAddDevices" "false"\nEndSection\n'
        printf 'Section "Device"\n    Identifier "card0"\n    Driver "%s"\n' "$driver"
        for option in "$@"; do
            printf '    Option %s\n' "$option"
        done
        printf 'EndSection\n'
    } > "$dir/10-test.conf"
}
xorg_conf xorg.conf.d modesetting '"kmsdev" "/dev/dri/card0"'
# xdriver=qxl on the kernel command line: Xorg's own qxl driver
# (xserver-xorg-video-qxl, KMS on the kernel's qxl DRM driver) instead.
xorg_conf xorg-qxl.conf.d qxl
# xdriver=qxl-ums: the same driver without the kernel's (the test also
# passes module_blacklist=qxl), programming the device itself.  Debian's
# build reads options left unset as 0 (no heads at all: Xorg crashes at
# start), so the driver's own defaults are spelled out.  Render fallbacks
# are logged (to Xorg's stderr, /tmp/xorg.out): test_qxl_xorg.py checks
# its composites went to the device.
xorg_conf xorg-qxl-ums.conf.d qxl '"NumHeads" "4"' '"EnableSurfaces" "true"' \
    '"EnableImageCache" "true"' '"EnableFallbackCache" "true"' \
    '"DebugRenderFallbacks" "true"'

# The ext4 image: the base with ours over it, every file as the tarball
# says (owners, device nodes), ours root's; fakeroot gives all that to
# tar and mke2fs without root.
mkdir -p "$dir/work/root"
fakeroot -- sh -euc '
    tar -C "$2" -xpf "$1"
    tar -C "$3" -cf - --owner=0 --group=0 . |
        tar -C "$2" -xpf - --keep-directory-symlink --no-overwrite-dir
    mke2fs -q -t ext4 -d "$2" -L agentroot "$4" "$(( $(du -sm "$2" | cut -f1) + 200 ))M"
' sh "$base" "$dir/work/root" "$ours" "$dir/rootfs.ext4"
echo "$kver" > "$dir/kernel-version"
cd "$dir" && rm -rf work
touch "$dir/.complete"
ln -sfn "$dir" "$out_link"
echo "[agent-guest] done: $(du -sh "$dir/rootfs.ext4" | cut -f1) root file system"
