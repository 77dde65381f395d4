#!/bin/bash
# Line and branch coverage of our device code (hw/display/qxl*.c,
# hw/char/vdi-port.c) reached by a fuzzing corpus, with llvm-cov.
#
#   scripts/fuzz-coverage.sh BUILD_DIR CORPUS_DIR...
#
# BUILD_DIR is the fuzzing build (build-fuzz/).  Only our device files are
# compiled again, with clang's source-based coverage, into
# BUILD_DIR/fuzz-cov/, and linked with the build's other objects into a
# second qemu-fuzz-x86_64 there; the corpus is replayed through it in
# batches (a batch that hangs is dropped) and llvm-cov reports.  The
# summary is printed and kept in BUILD_DIR/fuzz-cov/summary.txt.
set -euo pipefail

build=$(realpath "${1:?fuzz-coverage.sh BUILD_DIR CORPUS_DIR...}")
shift
qb=$build/qemu
cov=$build/fuzz-cov
rm -rf "$cov"
mkdir -p "$cov/obj" "$cov/prof"
ln -sfn ../qemu/qemu-bundle "$cov/qemu-bundle"

/usr/bin/python3 - "$qb" "$cov" <<'PY'
import json, os, re, shlex, subprocess, sys

qb, cov = sys.argv[1], sys.argv[2]
ours = re.compile(r"/hw/display/qxl[^/]*\.c$|/hw/char/vdi-port\.c$")
flags = ["-fprofile-instr-generate", "-fcoverage-mapping"]
replaced = {}
for e in json.load(open(os.path.join(qb, "compile_commands.json"))):
    if not ours.search(e["file"]) or "/tests/" in e["file"]:
        continue
    args = shlex.split(e["command"])
    out, a, i = None, [], 0
    while i < len(args):
        if args[i] in ("-MF", "-MQ"):
            i += 2
            continue
        if args[i] == "-MD":
            i += 1
            continue
        if args[i] == "-o":
            out = args[i + 1]
            i += 2
            continue
        a.append(args[i])
        i += 1
    new = os.path.join(cov, "obj", os.path.basename(out))
    subprocess.run(a + flags + ["-o", new], cwd=e["directory"], check=True)
    replaced[out] = new

# The link of qemu-fuzz-x86_64, from build.ninja, with those objects.
text = open(os.path.join(qb, "build.ninja")).read().replace("$\n", "")
m = re.search(r"^build qemu-fuzz-x86_64: (\S+) (.*)\n((?: .*\n)*)", text, re.M)
rule, ins, var_lines = m.group(1), m.group(2), m.group(3)
ins = re.split(r"(?<!\$) ", ins.split(" | ")[0].split(" || ")[0])
ins = [replaced.get(x.replace("$ ", " "), x.replace("$ ", " ")) for x in ins]
vars = dict(re.findall(r"^ (\w+) = (.*)$", var_lines, re.M))
link = (["clang-14", "-m64"] + shlex.split(vars.get("ARGS", "")) +
        ["-o", os.path.join(cov, "qemu-fuzz-x86_64")] + ins +
        shlex.split(vars.get("LINK_ARGS", "")) + ["-fprofile-instr-generate"])
rsp = os.path.join(cov, "link.rsp")
open(rsp, "w").write(" ".join(shlex.quote(x) for x in link[2:]))
subprocess.run(["clang-14", "-m64", "@" + rsp], cwd=qb, check=True)
print("[coverage] %d files instrumented" % len(replaced))
PY

# Replay the corpus, 25 inputs per process (QXL_FUZZ_AVOID: see
# docs/fuzzing.rst; a batch that hangs loses its profile).
export ASAN_OPTIONS=detect_leaks=0 QXL_FUZZ_AVOID=worker-spin
files=()
for d in "$@"; do
    for f in "$d"/*; do files+=("$f"); done
done
n=${#files[@]}
for ((i = 0; i < n; i += 25)); do
    LLVM_PROFILE_FILE="$cov/prof/$i.profraw" timeout 300 \
        "$cov/qemu-fuzz-x86_64" --fuzz-target=qxl -timeout=10 -runs=1 \
        "${files[@]:i:25}" > "$cov/replay-$i.log" 2>&1 ||
        echo "[coverage] batch at $i did not finish (rc $?); dropped"
done
llvm-profdata-14 merge -o "$cov/all.profdata" "$cov"/prof/*.profraw
# Only our device files (llvm-cov's own file filter trips over the
# overlay's symbolic links): one line each, and their total.
(cd "$qb" && llvm-cov-14 report "$cov/qemu-fuzz-x86_64" \
    -instr-profile="$cov/all.profdata") |
    awk '$1 ~ /overlay\/hw\/(display\/qxl[^\/]*|char\/vdi-port)\.c$/ {
            sub(/.*overlay\//, "", $1)
            printf "%-28s lines %5d/%-5d %6.2f%%  branches %4d/%-4d %6.2f%%  functions %3d/%-3d\n",
                $1, $8 - $9, $8, $8 ? 100 * ($8 - $9) / $8 : 0,
                $11 - $12, $11, $11 ? 100 * ($11 - $12) / $11 : 0, $5 - $6, $5
            l += $8; ml += $9; b += $11; mb += $12; f += $5; mf += $6
         }
         END {
            printf "%-28s lines %5d/%-5d %6.2f%%  branches %4d/%-4d %6.2f%%  functions %3d/%-3d\n",
                "TOTAL", l - ml, l, 100 * (l - ml) / l, b - mb, b,
                100 * (b - mb) / b, f - mf, f
         }' | tee "$cov/summary.txt"
srcs=$(cd "$qb" && ls ../overlay/hw/display/qxl*.c ../overlay/hw/char/vdi-port.c)
(cd "$qb" && llvm-cov-14 show "$cov/qemu-fuzz-x86_64" \
    -instr-profile="$cov/all.profdata" -format=html \
    -output-dir="$cov/html" $srcs) || true
echo "[coverage] $n inputs; report in $cov/summary.txt, $cov/html/"
