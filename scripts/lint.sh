#!/bin/bash
# Style and structure checks of our sources, run by "make check":
#   - QEMU's scripts/checkpatch.pl (from the fetched QEMU source) over every
#     C file of ours, as QEMU's maintainers would run it on a patch;
#   - scripts/check-qxl-layers.py: the QXL device's files call downward
#     only, as hw/display/qxl.h's file map says.
# Usage: scripts/lint.sh BUILD_DIR   (configured: its config.mk names the
# QEMU source, whose checkpatch.pl is used)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: lint.sh BUILD_DIR}
src=$(sed -n 's/^QEMU_SRC := //p' "$build/config.mk" 2>/dev/null || true)
if [ -z "$src" ]; then
    echo "lint: $build is not configured: run ./configure first" >&2
    exit 1
fi
checkpatch=$src/scripts/checkpatch.pl
if [ ! -x "$checkpatch" ] && [ ! -f "$checkpatch" ]; then
    echo "lint: $checkpatch is missing: run ./configure (it fetches QEMU)" >&2
    exit 1
fi

cd "$top"
status=0
files=$(git ls-files '*.c' '*.h' | grep -E '^(hw|include|ui|chardev|audio|contrib|tests/qtest|tests/guest)/')
n=0
for f in $files; do
    n=$((n + 1))
    if ! out=$(perl "$checkpatch" --no-tree --terse -f "$f" 2>&1); then
        echo "$out" | grep -E '(ERROR|WARNING)' || echo "$out"
        status=1
    fi
done
if [ $status = 0 ]; then
    echo "lint: checkpatch.pl: $n files clean"
fi
python3 "$top/scripts/check-qxl-layers.py" "$top/hw/display" || status=1
exit $status
