#!/usr/bin/env bash
# tests/fuzz/fuzz.sh - run libFuzzer targets built by tests/fuzz/fuzz.mk, one after another, each
# for SECONDS seconds, and summarise. Used by `make fuzz` and `make fuzz-ci`; run by hand as
#     tests/fuzz/fuzz.sh SECONDS BUILD_DIR TARGET...
# Each target fuzzes with a writable corpus BUILD_DIR/fuzz/corpus/TARGET (new inputs go there)
# seeded from the committed tests/fuzz/corpus/CORPUS (TARGET without a _scalar suffix), and
# writes crashes to BUILD_DIR/fuzz/artifacts/. Extra libFuzzer flags: FUZZ_OPTS. One line per
# target ("[PASS] fuzz_quant: 1234567 runs in 60 s, 20576 exec/s, corpus 180"; FUZZ_OPTS=-runs=N
# stops a target after N runs), then exit 1 if
# any target found something (its log and reproducer path are printed).
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=${1:?usage: fuzz.sh SECONDS BUILD_DIR TARGET...}
build=${2:?usage: fuzz.sh SECONDS BUILD_DIR TARGET...}
shift 2
out="$build/fuzz"
mkdir -p "$out/artifacts" || exit 2
bad=0
lines=()
for t in "$@"; do
    exe="$out/$t"
    seed="tests/fuzz/corpus/${t%_scalar}"
    work="$out/corpus/$t"
    log="$out/$t.log"
    mkdir -p "$work" "$seed"
    if [ ! -x "$exe" ]; then lines+=("[FAIL] $t: $exe not built"); bad=1; continue; fi
    echo "==== fuzzing $t for ${secs}s (log: $log)"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    "$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix="$out/artifacts/$t-" ${FUZZ_OPTS:-} "$work" "$seed" >"$log" 2>&1
    rc=$?
    el=$(( $(date +%s) - t0 ))
    runs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -n 1)
    eps=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' | tail -n 1)
    corp=$(find "$work" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        lines+=("[PASS] $t: ${runs:-?} runs in ${el} s, ${eps:-?} exec/s, corpus $corp")
    else
        bad=1
        art=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
        lines+=("[FAIL] $t: exit status $rc after ${runs:-?} runs; log: $log${art:+; reproducer: $art}")
        grep -E 'FUZZ INVARIANT FAILED|ERROR: |SUMMARY: |runtime error' -A3 "$log" | head -n 12 | sed 's/^/         /'
    fi
done
printf '%s\n' "${lines[@]}"
exit $bad
