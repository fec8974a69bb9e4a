#!/usr/bin/env bash
# tests/fuzz/replay.sh - replay the committed fuzz corpora without libFuzzer: build each target
# with $CC (default gcc) -fsanitize=address,undefined -fno-sanitize-recover=all and
# tests/fuzz/replay_main.c into $BUILD/fuzz/replay/, run it on tests/fuzz/corpus/<target>/, and
# report one line per build, then "N passed, N failed" (inputs replayed) as the last line.
# fuzz_forward is replayed on the host's SIMD path (-march=native) and on the scalar path.
# Environment: CC, BUILD (default build). Exit status 1 if any input failed or a build failed.
set -u
cd "$(dirname "$0")/../.." || exit 2
CC=${CC:-gcc}
out="${BUILD:-build}/fuzz/replay"
mkdir -p "$out" || exit 2
FLAGS="-std=c99 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Wpedantic -Werror"
# gcc's -fsanitize=undefined leaves out float-cast-overflow ((int) of NaN or out-of-range floats)
case "$($CC --version 2>/dev/null | head -n 1)" in *clang*) ;; *) FLAGS="$FLAGS -fsanitize=float-cast-overflow" ;; esac
tp=0; tf=0
# name source extra-flags corpus
run() {
    local name=$1 src=$2 extra=$3 corpus=$4 exe="$out/$1" log="$out/$1.log" line p
    # shellcheck disable=SC2086
    if ! $CC $FLAGS $extra "$src" tests/fuzz/replay_main.c -o "$exe" -lm >"$log" 2>&1; then
        echo "[FAIL] $name: build failed (log: $log)"; tf=$((tf + 1)); return
    fi
    "$exe" "$corpus" >>"$log" 2>&1
    line=$(tail -n 1 "$log")
    if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
        p=${BASH_REMATCH[1]}
        echo "[PASS] $name: $p inputs"
        tp=$((tp + p))
    else
        echo "[FAIL] $name (log: $log)"
        grep -E 'FUZZ INVARIANT FAILED|ERROR: |SUMMARY: |runtime error' -A2 "$log" | head -n 8 | sed 's/^/         /'
        tf=$((tf + 1))
    fi
}
native=-march=native
if ! echo 'int main(void){return 0;}' | $CC -march=native -x c - -o "$out/probe" >/dev/null 2>&1; then native=; fi
run fuzz_forward tests/fuzz/fuzz_forward.c "$native" tests/fuzz/corpus/fuzz_forward
run fuzz_forward_scalar tests/fuzz/fuzz_forward.c "-DMOE_SIMD_SCALAR" tests/fuzz/corpus/fuzz_forward
run fuzz_quant tests/fuzz/fuzz_quant.c "$native" tests/fuzz/corpus/fuzz_quant
run fuzz_gguf tests/fuzz/fuzz_gguf.c "$native" tests/fuzz/corpus/fuzz_gguf
run fuzz_safetensors tests/fuzz/fuzz_safetensors.c "$native" tests/fuzz/corpus/fuzz_safetensors
run fuzz_json tests/fuzz/fuzz_json.c "$native" tests/fuzz/corpus/fuzz_json
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ]
