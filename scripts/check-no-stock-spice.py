#!/usr/bin/python3
"""Fail if the build compiled any of stock QEMU's SPICE files.

    scripts/check-no-stock-spice.py QEMU_BUILD_DIR [QEMU_SRC]

QEMU_SRC, the QEMU source tree the overlay links to, defaults to the one
scripts/overlay.sh recorded beside the build (../overlay/.overlay-src).

Every file the build compiled, sources and headers alike, comes from
ninja's dependency log.  A file counts as SPICE code if its name says so
(*spice*, qxl*) or if it calls spice-server itself (spice_server_*,
spice_qxl_*, #include <spice.h>).  Each such file must be one of ours
(scripts/overlay.sh links ours over QEMU's): a SPICE file that still
resolves into the QEMU source tree is stock code, and the build fails.
Stock files that only call through the qemu_spice operations
(system/vl.c, ui/ui-qmp-cmds.c, audio/audio.c, ...) are not SPICE code.
"""
import os
import re
import subprocess
import sys

SPICE_CALLS = re.compile(rb"spice_server_|spice_qxl_|#include <spice\.h>")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[2].strip())
    build = os.path.realpath(sys.argv[1])
    if len(sys.argv) == 3:
        src = sys.argv[2]
    else:
        with open(os.path.join(build, "..", "overlay", ".overlay-src")) as f:
            src = f.read().strip()
    src = os.path.realpath(src)
    out = subprocess.run(["ninja", "-C", build, "-t", "deps"],
                         capture_output=True, text=True).stdout
    deps = {line.split()[0] for line in out.splitlines()
            if line.startswith(" ") and line.strip()}
    if not deps:
        sys.exit("check-no-stock-spice: no dependency log in %s (not built?)"
                 % build)
    stock = []
    for f in sorted(deps):
        real = os.path.realpath(os.path.join(build, f))
        if not real.startswith(src + os.sep) or not os.path.isfile(real):
            continue                # ours, generated or a system header
        name = os.path.basename(f)
        if "spice" in name or name.startswith("qxl"):
            stock.append(f)
            continue
        with open(real, "rb") as fh:
            if SPICE_CALLS.search(fh.read()):
                stock.append(f)
    if stock:
        print("check-no-stock-spice: the build compiled stock QEMU SPICE code:",
              file=sys.stderr)
        for f in stock:
            print("  " + f.replace("../overlay/", ""), file=sys.stderr)
        print("  Replace it with ours (scripts/overlay.sh, REPLACED), "
              "or stop compiling it.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
