#!/bin/bash
# Lay this project's files over a copy of the QEMU source tree.
#
#   scripts/overlay.sh [--only DIR]... QEMU_SRC OUT_DIR
#
# --only DIR lays only our files under DIR (under each DIR, if given more
# than once) and applies only the edits of files under it: stock QEMU with
# just our fuzz harness and the qtest QXL driver it includes (--only
# tests/qtest/fuzz --only tests/qtest/libqos, used by
# scripts/build-stock-qemu.sh --fuzz).
#
# OUT_DIR becomes a tree of symbolic links to QEMU_SRC, with every file of
# ours (see OVERLAY_DIRS) linked over it, so that editing one of our files and
# running make recompiles only that file.  The few build-file edits that wire
# our files in are declared below, in EDITS, and nowhere else: each edited file
# is regenerated from the pristine QEMU copy and replaced only when its
# content changes (idempotent, and it keeps meson from reconfiguring).
set -euo pipefail

only=""
while [ "${1:-}" = "--only" ]; do
    only="$only ${2:?--only needs a directory}"
    shift 2
done
src=$(realpath "$1")
out=$2
top=$(realpath "$(dirname "$0")/..")

# Directories of ours that mirror QEMU's layout.
OVERLAY_DIRS="hw include ui chardev audio tests/qtest contrib"

# Stock QEMU files that our files replace outright: every SPICE file stock
# QEMU 10.0 compiles (stock qxl-logger.c is simply no longer compiled).
# Listed for the record and for the check below; the replacement itself is
# done by linking ours over them.  After each build,
# scripts/check-no-stock-spice.py fails the build if any stock SPICE file
# was compiled all the same.
REPLACED="hw/display/qxl.c hw/display/qxl.h hw/display/qxl-render.c
          ui/spice-core.c ui/spice-input.c ui/spice-display.c ui/spice-app.c
          ui/spice-module.c include/ui/spice-display.h include/ui/qemu-spice.h
          include/ui/qemu-spice-module.h audio/spiceaudio.c
          chardev/spice.c include/chardev/spice.h"

# ---- build-file edits -----------------------------------------------------
#   "FILE|ANCHOR LINE|LINE TO INSERT AFTER IT"
#   "FILE|=OLD LINE|LINE THAT REPLACES IT"
#   "FILE|<<OUR FILE|"   (appends our file's lines to FILE)
# Lines are matched whole.
EDITS=(
    # Trace events of our ui/spice-display.c (framebuffer export).
    "ui/trace-events|<<ui/trace-events.spice-display|"
    # Trace events of our ui/spice-core.c, ui/spice-input.c, ui/spice-gl.c.
    "ui/trace-events|<<ui/trace-events.spice-core|"
    # SPICE OpenGL displays (ui/spice-gl.c, with OpenGL and GBM) and their
    # scanout state machine (always: tests/qtest/spice-gl-state-test.c).
    "ui/meson.build|    'spice-input.c',|    'spice-gl-state.c',"
    "ui/meson.build|  ui_modules += {'spice-core' : spice_core_ss}|  spice_core_ss.add(when: [opengl, gbm], if_true: [files('spice-gl.c'), gbm])"
    # Our qtests (listed in tests/qtest/spice-stack/meson.build) join QEMU's.
    "tests/qtest/meson.build|qtest_executables = {}|subdir('spice-stack')"
    # Our QXL device's files instead of stock's qxl.c, qxl-logger.c and
    # qxl-render.c, and its trace events.
    "hw/display/meson.build|=  qxl_ss.add(when: 'CONFIG_QXL', if_true: [files('qxl.c', 'qxl-logger.c', 'qxl-render.c'),|  qxl_ss.add(when: 'CONFIG_QXL', if_true: [files('qxl.c', 'qxl-spice.c', 'qxl-io.c', 'qxl-migrate.c', 'qxl-reset.c', 'qxl-mode.c', 'qxl-ring.c', 'qxl-monitors.c', 'qxl-render.c', 'qxl-snapshot.c', 'qxl-drawable.c', 'qxl-walk.c', 'qxl-surface.c', 'qxl-cursor.c', 'qxl-memslot.c', 'qxl-services.c', 'qxl-worker.c'),"
    "hw/display/trace-events|<<hw/display/trace-events.qxl|"
    # Who owns the VM's one SPICE agent channel (chardev/spice-vdagent.c):
    # linked whenever SPICE is, as both chardev/spice.c and vdi-port use it.
    "chardev/meson.build|    'testdev.c'))|system_ss.add(when: spice, if_true: files('spice-vdagent.c'))"
    # Trace events of our audio/spiceaudio.c.
    "audio/trace-events|<<audio/trace-events.spice|"
    # Trace events of our chardev/spice.c.
    "chardev/trace-events|<<chardev/trace-events.spice|"
    # The VDI port device (hw/char/vdi-port.c), its Kconfig symbol and events.
    "hw/Kconfig|source char/Kconfig|source char/Kconfig.vdi-port"
    "hw/char/meson.build|system_ss.add(when: 'CONFIG_VIRTIO_SERIAL', if_true: files('virtio-console.c'))|system_ss.add(when: 'CONFIG_VDI_PORT', if_true: [files('vdi-port.c'), spice])"
    "hw/char/trace-events|<<hw/char/trace-events.vdi-port|"
    # The structure-aware fuzz targets of the QXL and VDI port devices
    # (tests/qtest/fuzz/qxl_fuzz.c, docs/fuzzing.rst), in QEMU's fuzzer.
    "tests/qtest/fuzz/meson.build|specific_fuzz_ss.add(files('generic_fuzz.c'))|specific_fuzz_ss.add(when: 'CONFIG_QXL', if_true: [files('qxl_fuzz.c'), spice, spice_protocol])"
)
# ---------------------------------------------------------------------------

if [ -n "$only" ]; then
    OVERLAY_DIRS=$only
    REPLACED=""
    kept=()
    for e in "${EDITS[@]}"; do
        for d in $only; do
            case "${e%%|*}" in "$d"/*) kept+=("$e") ;; esac
        done
    done
    EDITS=("${kept[@]}")
fi

if [ ! -f "$src/VERSION" ]; then
    echo "overlay: $src is not a QEMU source tree (no VERSION file)" >&2
    exit 1
fi

if [ ! -f "$out/.overlay-src" ] || [ "$(cat "$out/.overlay-src")" != "$src" ]; then
    echo "[overlay] linking QEMU tree $src -> $out" >&2
    rm -rf "$out"
    mkdir -p "$out"
    cp -rs "$src/." "$out/"
    echo "$src" > "$out/.overlay-src"
fi

# Our files, linked over (or beside) QEMU's.
for d in $OVERLAY_DIRS; do
    [ -d "$top/$d" ] || continue
    (cd "$top" && find "$d" -type f ! -name '*~' ! -name '.*') | while read -r f; do
        dst="$out/$f"
        if [ "$(readlink "$dst" 2>/dev/null)" != "$top/$f" ]; then
            mkdir -p "$(dirname "$dst")"
            ln -sfn "$top/$f" "$dst"
        fi
    done
done

# Links to files of ours that are gone: restore QEMU's file, or drop the link.
find "$out" -type l -lname "$top/*" | while read -r l; do
    [ -e "$l" ] && continue
    rel=${l#"$out"/}
    rm -f "$l"
    if [ -e "$src/$rel" ]; then ln -s "$src/$rel" "$l"; fi
done

# Build-file edits.
declare -A edited=()
for e in "${EDITS[@]}"; do
    f=${e%%|*}; edited[$f]=1
done
for f in "${!edited[@]}"; do
    tmp=$(mktemp)
    cp "$src/$f" "$tmp"
    for e in "${EDITS[@]}"; do
        IFS='|' read -r ef anchor line <<<"$e"
        [ "$ef" = "$f" ] || continue
        replace=0
        case "$anchor" in
        "<<"*) cat "$top/${anchor#<<}" >> "$tmp"; continue ;;
        =*) replace=1; anchor=${anchor#=} ;;
        esac
        if ! grep -qxF "$anchor" "$tmp"; then
            echo "overlay: cannot apply edit to $f: line '$anchor' not found." >&2
            echo "  Is $src the QEMU 10.0 tree this project expects?" >&2
            rm -f "$tmp"; exit 1
        fi
        awk -v a="$anchor" -v l="$line" -v r=$replace \
            '$0 == a { if (!r) print; print l; next } { print }' "$tmp" > "$tmp.new"
        mv "$tmp.new" "$tmp"
    done
    if [ -L "$out/$f" ] || ! cmp -s "$tmp" "$out/$f"; then
        rm -f "$out/$f"
        mv "$tmp" "$out/$f"
    else
        rm -f "$tmp"
    fi
done

# Files edited by an earlier run whose edits are gone: back to QEMU's.
if [ -f "$out/.overlay-edited" ]; then
    while read -r f; do
        if [ -z "${edited[$f]+x}" ] && [ ! -L "$out/$f" ]; then
            rm -f "$out/$f"
            ln -s "$src/$f" "$out/$f"
        fi
    done < "$out/.overlay-edited"
fi
printf '%s\n' "${!edited[@]}" > "$out/.overlay-edited"

# Stock files we replace must not survive as stock.
for f in $REPLACED; do
    if [ "$(readlink "$out/$f")" != "$top/$f" ]; then
        echo "overlay: $f should be replaced by ours but is not" >&2
        exit 1
    fi
done
