#!/bin/bash
# Install every Debian package this project needs to build, run the demo and
# run the tests.  Idempotent: a second run only checks and says so.
#
#   scripts/install-deps.sh          # everything (build + demo + tests)
#
# Only root installs; as any other user it checks that everything is there
# (make check runs it) and names what is missing.
#
# It adds the apt entries it needs:
#   deb-src trixie, trixie-updates, trixie-security  -> QEMU 10.0 source
#   deb bookworm-backports                           -> meson >= 1.5
set -euo pipefail

say() { printf '[deps] %s\n' "$*"; }

export DEBIAN_FRONTEND=noninteractive

# Build dependencies of QEMU (x86_64-softmmu with SPICE and, as Debian's
# package, OpenGL: libepoxy, libgbm), our build helpers,
# firmware the binary loads at run time, the demo's guest ingredients and the
# real test peers (spice-gtk client libraries, remote-viewer), and the
# fuzzing/sanitizer build's clang 14 with libFuzzer and llvm-cov;
# for make bench valgrind (callgrind), matplotlib (the plot) and the DRM
# headers of the guest's drawing program (tests/guest/bench-draw.c), and
# libvirt 9.0 (daemons and virsh, without libvirt-daemon-system: no systemd
# here; tests/integration/libvirt_hosts.py starts the daemons itself).
pkgs=(
    build-essential ccache ninja-build pkg-config dpkg-dev git
    python3 python3-venv flex bison
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev libslirp-dev
    libspice-server-dev libspice-protocol-dev
    libepoxy-dev libgbm-dev
    libcap-ng-dev libattr1-dev libseccomp-dev
    seabios ipxe-qemu qemu-system-data
    busybox-static cpio kmod xz-utils zstd debootstrap e2fsprogs
    python3-gi gir1.2-spiceclientglib-2.0 gir1.2-glib-2.0
    libspice-client-glib-2.0-dev libx11-dev libxrender-dev
    spice-client-gtk virt-viewer
    imagemagick netcat-openbsd
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients iproute2
    clang-14 libclang-rt-14-dev llvm-14
    valgrind python3-matplotlib libdrm-dev
    python3-pytest python3-pytest-timeout fakeroot mmdebstrap uidmap
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
meson_ok=0
if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" ge 1.5; then
    meson_ok=1
fi

if [ "$(id -u)" != 0 ]; then
    if [ ${#missing[@]} -eq 0 ] && [ $meson_ok = 1 ]; then
        say "all packages present"
        exit 0
    fi
    [ $meson_ok = 1 ] || missing+=("meson>=1.5 (bookworm-backports)")
    echo "install-deps: missing: ${missing[*]}; run 'make deps' as root" >&2
    exit 1
fi

src_list=/etc/apt/sources.list.d/qemu-spice-stack.sources
want_sources='Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'

updated=0
if [ ! -f "$src_list" ] || [ "$(cat "$src_list")" != "$want_sources" ]; then
    say "adding apt entries ($src_list): trixie deb-src, bookworm-backports"
    printf '%s\n' "$want_sources" > "$src_list"
    say "apt-get update"
    apt-get update -q >/dev/null
    updated=1
fi

# libvirt's QEMU driver looks up its default user, libvirt-qemu, before it
# reads qemu.conf: libvirt-daemon-system would create it; we do without.
ensure_libvirt_user() {
    if ! getent passwd libvirt-qemu >/dev/null; then
        say "adding the system user libvirt-qemu (libvirt's QEMU driver needs it)"
        useradd --system --user-group --no-create-home --home-dir /var/lib/libvirt \
            --shell /usr/sbin/nologin libvirt-qemu
    fi
}

if [ ${#missing[@]} -eq 0 ] && [ $meson_ok = 1 ]; then
    ensure_libvirt_user
    say "all packages present"
    exit 0
fi

if [ $updated = 0 ]; then
    say "apt-get update"
    apt-get update -q >/dev/null
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $meson_ok = 0 ]; then
    say "installing meson from bookworm-backports (QEMU 10.0 needs meson >= 1.5)"
    apt-get install -y -q --no-install-recommends -t bookworm-backports meson >/dev/null
fi
ensure_libvirt_user
say "done"
