#!/bin/bash
# A long fuzzing run that goes on after a finding: each libFuzzer session
# ends at its first crash or hang (its input saved in the artifacts
# folder); the next one starts from the corpus grown so far.  Prints one
# line per session and the total executions.  See docs/fuzzing.rst.
#
#   scripts/fuzz-long.sh FUZZER SECONDS [libFuzzer options...]
set -uo pipefail

bin=${1:?fuzz-long.sh FUZZER SECONDS}
secs=${2:?fuzz-long.sh FUZZER SECONDS}
shift 2
top=$(realpath "$(dirname "$0")/..")
work=${FUZZ_WORK:-$(dirname "$bin")/fuzz}
mkdir -p "$work/corpus"
if [ "${FUZZ_SEEDS:-1}" = 1 ]; then
    cp -n "$top/tests/qtest/fuzz/qxl-corpus/"* "$work/corpus/"
fi
export FUZZ_SEEDS=0
t0=$(date +%s)
end=$(( $(date +%s) + secs ))
total=0
n=0
while [ "$(date +%s)" -lt "$end" ]; do
    n=$((n + 1))
    left=$(( end - $(date +%s) ))
    log=$work/long-$n.log
    start=$(( $(date +%s) - t0 ))
    "$top/scripts/fuzz.sh" run "$bin" -max_total_time="$left" "$@" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    total=$(( total + ${execs:-0} ))
    what=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer): [a-z-]+( [a-z-]+)*|runtime error: .*' "$log" || true)
    art=$(grep -m1 -oE 'Test unit written to [^ ]+' "$log" | sed 's/.* //' || true)
    echo "session $n: at ${start}s-$(( $(date +%s) - t0 ))s, rc $rc, ${execs:-0} execs, total $total${what:+, $what}${art:+, $art}"
    if [ -n "$art" ] && [ -f "$art" ]; then
        sum=$(sha1sum < "$art" | cut -c1-40)
        for f in "$work/corpus"/*; do
            [ "$(sha1sum < "$f" | cut -c1-40)" = "$sum" ] && rm -f "$f"
        done
    fi
done
echo "total executions: $total in $n sessions"
