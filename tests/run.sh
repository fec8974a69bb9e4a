#!/usr/bin/env bash
# tests/run.sh - build and run tests/test_moe.c across the matrix: x86-64 SIMD paths, compilers
# and language standards, OpenMP, sanitizers, valgrind, qemu (AArch64, ARMv7) and a Cortex-M
# compile check. One line per configuration:
#     [PASS] gcc-c99-avx2 (5490 passed)
#     [FAIL] clang-c11-native (3 failed, 5487 passed; log: build/tests/clang-c11-native.log)
#     [SKIP] aarch64-neon: aarch64-linux-gnu-gcc not installed
# then, as the very last line, the sum over every run: "N passed, N failed, N skipped".
# Exit status 1 when any configuration failed.
#
# Environment: BUILD (default build), TEST_JOBS (parallel jobs, default: number of cores),
# TEST_TIMEOUT (seconds per run, default 480), TEST_ONLY (a regex: run matching names only).
set -u
cd "$(dirname "$0")/.." || exit 2

B="${BUILD:-build}/tests"
mkdir -p "$B" || exit 2
WARN="-Wall -Wextra -Wpedantic -Werror"
SRC=tests/test_moe.c
LIBS="-lm -pthread"
VS="-DMOE_TEST_VS_SCALAR tests/scalar_tu.c"   # SIMD builds also compare with the scalar path
JOBS="${TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
TMO="${TEST_TIMEOUT:-480}"
ONLY="${TEST_ONLY:-}"
START=$(date +%s)

have() { command -v "$1" >/dev/null 2>&1; }
cpu_has() { # all named flags in /proc/cpuinfo
    local f
    [ -r /proc/cpuinfo ] || return 1
    for f in "$@"; do grep -qw "$f" /proc/cpuinfo || return 1; done
}
is_x86() { case "$(uname -m)" in x86_64|amd64|i?86) return 0 ;; esac; return 1; }

NAMES=()
declare -A CMD RUN SKIP
# add NAME "COMPILE COMMAND (without -o)" "RUN PREFIX" "RUN ARGS"   (RUN PREFIX "-" = compile only)
add() {
    local name=$1 cc=${2%% *}
    if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
    NAMES+=("$name")
    if ! have "$cc"; then SKIP[$name]="$cc not installed"; return; fi
    CMD[$name]=$2
    RUN[$name]="$3|$4"
}
skip() {
    local name=$1
    if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
    NAMES+=("$name")
    SKIP[$name]=$2
}

AVX2_FLAGS="-DMOE_SIMD_AVX2 -mavx2 -mfma -mf16c"
AVX512_FLAGS="-DMOE_SIMD_AVX512 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c"

# ---- long runs first, so two cores stay busy to the end ----------------------------------
if have valgrind; then
    if is_x86; then
        add valgrind-scalar "gcc -std=c99 -O1 -g $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" valgrind --quick
        if cpu_has avx2 fma f16c; then
            add valgrind-avx2 "gcc -std=c99 -O1 -g $WARN $AVX2_FLAGS $SRC $LIBS" valgrind --quick
        else
            skip valgrind-avx2 "this CPU lacks avx2/fma/f16c"
        fi
    else
        add valgrind-scalar "gcc -std=c99 -O1 -g $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" valgrind --quick
        skip valgrind-avx2 "not an x86-64 host"
    fi
else
    skip valgrind-scalar "valgrind not installed"
    skip valgrind-avx2 "valgrind not installed"
fi

cross() { # name compiler qemu flags [extra sources]
    local name=$1 cc=$2 qemu=$3 flags=$4 extra=${5:-}
    if ! have "$cc"; then skip "$name" "$cc not installed"
    elif ! have "$qemu"; then skip "$name" "$qemu not installed"
    else add "$name" "$cc -static -O2 -std=c99 $WARN $flags $SRC $extra $LIBS" "$qemu" --quick; fi
}
cross aarch64-neon aarch64-linux-gnu-gcc qemu-aarch64 "" "$VS"
cross aarch64-scalar aarch64-linux-gnu-gcc qemu-aarch64 "-DMOE_SIMD_SCALAR"
cross aarch64-neon-dotprod aarch64-linux-gnu-gcc qemu-aarch64 "-march=armv8.2-a+dotprod" "$VS"
cross armv7-neon arm-linux-gnueabihf-gcc qemu-arm "-mfpu=neon-vfpv4 -mfloat-abi=hard" "$VS"
cross armv7-scalar arm-linux-gnueabihf-gcc qemu-arm "-mfpu=neon-vfpv4 -mfloat-abi=hard -DMOE_SIMD_SCALAR"

# ---- sanitizers ----------------------------------------------------------------------------
add gcc-asan-ubsan-native "gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $WARN -march=native $SRC $VS $LIBS" "" ""
add gcc-asan-ubsan-scalar "gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" "" ""

# ---- x86-64 SIMD paths × compilers / standards ----------------------------------------------
paths() { # name-prefix compiler-with-std
    local pre=$1 cc=$2
    add "$pre-scalar" "$cc -O2 $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" "" ""
    if is_x86; then
        if cpu_has avx2 fma f16c; then add "$pre-avx2" "$cc -O2 $WARN $AVX2_FLAGS $SRC $VS $LIBS" "" ""
        else skip "$pre-avx2" "this CPU lacks avx2/fma/f16c"; fi
        if cpu_has avx512f avx512bw avx512vl avx512dq avx2 fma f16c; then add "$pre-avx512" "$cc -O2 $WARN $AVX512_FLAGS $SRC $VS $LIBS" "" ""
        else skip "$pre-avx512" "this CPU lacks avx512f/bw/vl/dq"; fi
        if [ "$pre" = gcc-c99 ]; then   # the integer kernels' VNNI forms: AVX-VNNI on the AVX2 path
            if cpu_has avx2 fma f16c avx_vnni; then add "$pre-avx2-vnni" "$cc -O2 $WARN $AVX2_FLAGS -mavxvnni $SRC $VS $LIBS" "" ""
            else skip "$pre-avx2-vnni" "this CPU lacks avx_vnni"; fi
        fi
    fi
    add "$pre-native" "$cc -O2 $WARN -march=native $SRC $VS $LIBS" "" ""
}
for cc in gcc clang; do
    paths "$cc-c99" "$cc -std=c99"
    add "$cc-c11-native" "$cc -std=c11 -O2 $WARN -march=native $SRC $LIBS" "" ""
    add "$cc-c99-2tu" "$cc -std=c99 -O2 $WARN -march=native -DMOE_TEST_TU2 $SRC tests/tu2.c $LIBS" "" --quick
    add "$cc-c99-static" "$cc -std=c99 -O2 $WARN -march=native -DMOE_STATIC $SRC $LIBS" "" --quick
done
for cxx in g++ clang++; do
    paths "$cxx-c++11" "$cxx -x c++ -std=c++11"
done

# ---- OpenMP ------------------------------------------------------------------------------------
add gcc-openmp-native "gcc -std=c99 -O2 $WARN -march=native -fopenmp $SRC $LIBS" "" ""
add gcc-openmp-scalar "gcc -std=c99 -O2 $WARN -DMOE_SIMD_SCALAR -fopenmp $SRC $LIBS" "" ""
if ! have clang; then
    skip clang-openmp-native "clang not installed"
else
    printf '#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n' > "$B/omp_probe.c"
    if clang -fopenmp "$B/omp_probe.c" -o "$B/omp_probe" >/dev/null 2>&1 && "$B/omp_probe"; then
        add clang-openmp-native "clang -std=c11 -O2 $WARN -march=native -fopenmp $SRC $LIBS" "" ""
    else
        skip clang-openmp-native "clang -fopenmp does not link (libomp-dev missing?)"
    fi
fi

# ---- Cortex-M compile-only check -------------------------------------------------------------
add cortex-m4-compile "arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -std=c99 -O2 $WARN -c tests/cortexm.c" - ""

# ---- one configuration: build, run, summarise into $B/NAME.res ---------------------------------
one() {
    local name=$1 exe="$B/test_moe-$1" log="$B/$1.log" res="$B/$1.res" prefix args line p=0 f=0 rc t0 t1
    prefix=${RUN[$name]%%|*}
    args=${RUN[$name]#*|}
    t0=$(date +%s)
    rm -f "$res" "$exe" "$exe.o"
    if [ "$prefix" = "-" ]; then
        if ${CMD[$name]} -o "$exe.o" >"$log" 2>&1; then echo "PASS 1 0 compiled" >"$res"
        else echo "FAIL 0 1 compile failed" >"$res"; fi
        return
    fi
    if ! ${CMD[$name]} -o "$exe" >"$log" 2>&1; then
        echo "FAIL 0 1 build failed" >"$res"
        return
    fi
    case "$prefix" in
    valgrind) timeout "$TMO" valgrind --error-exitcode=1 --leak-check=full --log-file="$B/$name.valgrind" \
                  "$exe" $args >>"$log" 2>&1; rc=$? ;;
    "")       timeout "$TMO" "$exe" $args >>"$log" 2>&1; rc=$? ;;
    *)        timeout "$TMO" $prefix "$exe" $args >>"$log" 2>&1; rc=$? ;;
    esac
    t1=$(date +%s)
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*passed, }; f=${f%% failed*}
    fi
    if [ "$rc" -eq 0 ] && [ -n "$line" ] && [ "$f" -eq 0 ]; then
        echo "PASS $p 0 $((t1 - t0))s" >"$res"
    else
        local why="exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${TMO}s"
        [ -z "$line" ] && why="$why, no summary line"
        [ "$prefix" = valgrind ] && [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && why="$why, valgrind errors: $B/$name.valgrind"
        [ "$f" -eq 0 ] && f=1
        echo "FAIL $p $f $why" >"$res"
    fi
}

# ---- run the matrix, JOBS at a time ----------------------------------------------------------------
for name in "${NAMES[@]}"; do
    [ -n "${SKIP[$name]+x}" ] && continue
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n 2>/dev/null || sleep 0.2; done
    one "$name" &
done
wait

# ---- report ---------------------------------------------------------------------------------------
tp=0; tf=0; ts=0; bad=0
for name in "${NAMES[@]}"; do
    if [ -n "${SKIP[$name]+x}" ]; then
        echo "[SKIP] $name: ${SKIP[$name]}"
        ts=$((ts + 1))
        continue
    fi
    if [ ! -r "$B/$name.res" ]; then
        echo "[FAIL] $name (no result; log: $B/$name.log)"
        tf=$((tf + 1)); bad=1
        continue
    fi
    read -r st p f rest <"$B/$name.res"
    tp=$((tp + p)); tf=$((tf + f))
    if [ "$st" = PASS ]; then
        echo "[PASS] $name ($p passed${rest:+, $rest})"
    else
        bad=1
        echo "[FAIL] $name ($f failed, $p passed; $rest; log: $B/$name.log)"
        grep -E '^FAIL |error:|ERROR|runtime error' "$B/$name.log" | head -n 5 | sed 's/^/         /'
    fi
done
echo "matrix time: $(( $(date +%s) - START ))s, $JOBS parallel jobs"
if [ "$ts" -gt 0 ]; then echo "$tp passed, $tf failed, $ts skipped"; else echo "$tp passed, $tf failed"; fi
exit $bad
