# The steps both guest builders share (scripts/build-guest.sh,
# scripts/build-agent-guest.sh): Debian's kernel booted uncompressed, the
# module closure of a busybox initramfs, the reproducible cpio archive.
# Sourced, with $top set; none of it needs root.

guest_lib_inputs="$top/scripts/guest-lib.sh $top/tests/guest/extract-vmlinux.py
                  $top/tests/guest/module-closure.py"

# Sets kpkg (the linux-image package linux-image-amd64 depends on) and
# kver_pkg (its version), the kernel inputs of a guest's cache key.
guest_kernel_package() {
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-/ { print $2; exit }')
    if [ -z "$kpkg" ]; then
        echo "$0: cannot resolve linux-image-amd64; run scripts/install-deps.sh" >&2
        exit 1
    fi
    kver_pkg=$(apt-cache policy "$kpkg" | awk '/Candidate:/ { print $2 }')
}

# guest_kernel VMLINUX: download $kpkg into ./kpkg (modules.dep made), write
# its vmlinux (the ELF inside the bzImage, booted directly through its PVH
# entry point: it saves seconds of decompression under TCG) and set kver.
guest_kernel() {
    apt-get download -q "$kpkg" >/dev/null 2>&1 || {
        echo "$0: 'apt-get download $kpkg' failed (is apt reachable? run scripts/install-deps.sh)" >&2
        exit 1
    }
    dpkg-deb -x ./*.deb kpkg
    kver=$(ls kpkg/lib/modules | head -n1)
    depmod -b kpkg "$kver"
    /usr/bin/python3 "$top/tests/guest/extract-vmlinux.py" \
        "kpkg/boot/vmlinuz-$kver" "$1"
}

# guest_modules ROOT MODULE...: those modules of ./kpkg and what they need,
# under ROOT/lib/modules/$kver with their modules.dep.
guest_modules() {
    local root=$1
    shift
    mkdir -p "$root/lib/modules/$kver"
    /usr/bin/python3 "$top/tests/guest/module-closure.py" \
        "kpkg/lib/modules/$kver" "$root/lib/modules/$kver" "$@"
    depmod -b "$root" "$kver"
}

# guest_initrd ROOT OUT: ROOT as a reproducible gzip'd cpio archive (sorted
# names, fixed mtime, root owner).
guest_initrd() {
    (cd "$1" && find . -print0 | LC_ALL=C sort -z | xargs -0 touch -h -d @0 &&
        find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -9 > "$2"
}
