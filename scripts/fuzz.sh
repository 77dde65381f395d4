#!/bin/bash
# Run the QXL / VDI port fuzzer (tests/qtest/fuzz/qxl_fuzz.c), see
# docs/fuzzing.rst.
#
#   scripts/fuzz.sh check BUILD_DIR
#       CI's short run: replay the seed corpus, then explore for
#       $FUZZ_SECONDS (default 150) seconds.  Fails on any crash, hang or
#       sanitizer report; the input is kept in BUILD_DIR/fuzz/artifacts/.
#   scripts/fuzz.sh run FUZZER [libFuzzer options...]
#       a long run of FUZZER (ours: build-fuzz/qemu-fuzz-x86_64, stock:
#       scripts/build-stock-qemu.sh --fuzz) on a working corpus seeded from
#       the repository's; by default until stopped.  Work files go to
#       $FUZZ_WORK (default: FUZZER's folder/fuzz).
#   scripts/fuzz.sh repro FUZZER INPUT...
#       run the inputs once each (a crash's reproducer).
set -euo pipefail

top=$(realpath "$(dirname "$0")/..")
seeds=$top/tests/qtest/fuzz/qxl-corpus
dict=$top/tests/qtest/fuzz/qxl.dict

# Leaks are QEMU's at exit, not findings; UBSan stops at its first report
# so that libFuzzer keeps the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_abort=1:handle_sigtrap=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
common=(--fuzz-target=qxl -dict="$dict" -max_len=4096 -timeout=20
        -rss_limit_mb=6144 -detect_leaks=0 -print_final_stats=1)

mode=${1:?usage: fuzz.sh check BUILD_DIR | run FUZZER [options] | repro FUZZER INPUT...}
shift
case "$mode" in
check)
    build=$(realpath "${1:?fuzz.sh check BUILD_DIR}")
    bin=$build/qemu-fuzz-x86_64
    work=$build/fuzz
    rm -rf "$work/ci-corpus"
    mkdir -p "$work/ci-corpus" "$work/artifacts"
    secs=${FUZZ_SECONDS:-150}
    start=$(date +%s)
    echo "[fuzz] replaying $(ls "$seeds" | wc -l) seed inputs"
    "$bin" "${common[@]}" -runs=0 -artifact_prefix="$work/artifacts/" \
        "$seeds" > "$work/replay.log" 2>&1 || {
        tail -n 60 "$work/replay.log"
        echo "fuzz: a seed input crashes the device (log: $work/replay.log)" >&2
        exit 1
    }
    echo "[fuzz] exploring for ${secs}s"
    "$bin" "${common[@]}" -max_total_time="$secs" \
        -artifact_prefix="$work/artifacts/" "$work/ci-corpus" "$seeds" \
        > "$work/explore.log" 2>&1 || {
        tail -n 80 "$work/explore.log"
        echo "fuzz: crash found; input in $work/artifacts/ (log: $work/explore.log)" >&2
        exit 1
    }
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
        "$work/explore.log" || true
    echo "[fuzz] no crash in $(( $(date +%s) - start ))s"
    ;;
run)
    work=${FUZZ_WORK:-$(dirname "${1:?fuzz.sh run FUZZER}")/fuzz}
    bin=$(realpath "$1")
    shift
    mkdir -p "$work/corpus" "$work/artifacts"
    # FUZZ_SEEDS=0: start from nothing instead of the repository's seeds.
    if [ "${FUZZ_SEEDS:-1}" = 1 ]; then
        set -- "$@" "$work/corpus" "$seeds"
    else
        set -- "$@" "$work/corpus"
    fi
    exec "$bin" "${common[@]}" -artifact_prefix="$work/artifacts/" "$@"
    ;;
repro)
    bin=$(realpath "${1:?fuzz.sh repro FUZZER INPUT...}")
    shift
    QXL_FUZZ_VERBOSE=1 exec "$bin" "${common[@]}" -runs=1 "$@"
    ;;
*)
    echo "fuzz.sh: unknown mode '$mode'" >&2
    exit 1
    ;;
esac
