#!/usr/bin/env bash
# tests/run.sh - build and run tests/test_moe.c across the matrix: x86-64 SIMD paths, compilers
# and language standards (C99, C11, C++11, C++17, C++20; gcc, clang, tcc), -O3 builds (with
# their compile time), -O3 -flto over two translation units, -ffast-math, OpenMP, sanitizers,
# valgrind, qemu (AArch64, ARMv7, RISC-V 64, and s390x: big-endian), i386 (-m32: x87 float
# math, and SSE math with the AVX2 path), MinGW-w64 under wine (Win32 threads), a Cortex-M
# compile check and the README's usage snippet compiled as C99 and C++11; tests/test_files.c
# (the GGUF and safetensors readers) on several of them (s390x, i386, tcc and MinGW included);
# runtime CPU dispatch (-DMOE_DISPATCH, the dispatch-* configurations): tests/test_dispatch.c,
# every path of one dispatched build bit for bit against the static build of that path
# (tests/dispatch_tu.c, one object per path) with gcc, clang, g++, MinGW under wine, AArch64
# and x86-64 CPUs without AVX-512 under qemu, and tests/test_moe.c built once dispatched and
# run forced to each path this CPU has (--path), and with OpenMP; tests/dispatch_names.sh checks
# the name lists moe.h keeps for those builds (in --check too).
# A configuration whose tools are missing is skipped, by name, with the tool it lacks
# (.ci/run installs them all). Each configuration prints its line as soon as it is done:
#     [PASS] gcc-c99-avx2 (4540 passed; build 6.2s, run 1.3s)
#     [FAIL] clang-c11-native (3 failed, 4067 passed; exit status 1; build 7.1s; log: build/tests/clang-c11-native.log)
#     [SKIP] aarch64-neon: aarch64-linux-gnu-gcc not installed
# then the whole matrix again in order and, as the very last line, the sum over every run:
# "N passed, N failed, N skipped". Exit status 1 when any configuration failed.
#
#     bash tests/run.sh            the whole matrix (make test; about 27 minutes on 2 cores)
#     bash tests/run.sh --check    the quick check (make check; about a minute): one -march=native
#                                  build also compared with the scalar path, run with --quick,
#                                  the dispatched build against the static ones (test_dispatch
#                                  --quick), moe.h's dispatch name lists, and the README snippet
#                                  compiled as C99 and C++11
#
# Environment: BUILD (default build), TEST_JOBS (parallel jobs, default: number of cores),
# TEST_TIMEOUT (seconds per run, default 480), TEST_ONLY (a regex: run matching names only),
# CC / CXX (the compilers of --check; default cc / c++). The MinGW-w64 configurations keep a
# wine prefix in $BUILD/tests/wine (about 700 MB, made on first use, in ~10 s).
set -u
cd "$(dirname "$0")/.." || exit 2

B="${BUILD:-build}/tests"
mkdir -p "$B" || exit 2
WARN="-Wall -Wextra -Wpedantic -Werror"
SRC=tests/test_moe.c
FSRC=tests/test_files.c
SSRC=tests/test_shard.c
LIBS="-lm -pthread"
VS="-DMOE_TEST_VS_SCALAR tests/scalar_tu.c"   # SIMD builds also compare with the scalar path
JOBS="${TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
TMO="${TEST_TIMEOUT:-480}"
ONLY="${TEST_ONLY:-}"
START=$(date +%s)
MODE=full
case "${1:-}" in
"") ;;
--check) MODE=check ;;
*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

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
# add_sh NAME TOOL 'BASH SCRIPT' "RUN PREFIX" "RUN ARGS": a build that is a small script (several
# compile steps, or a generated source); it runs with $EXE set to the executable (or, compile
# only, the object) to produce. Skipped when TOOL is not installed.
add_sh() {
    local name=$1 tool=$2
    if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
    NAMES+=("$name")
    if ! have "$tool"; then SKIP[$name]="$tool not installed"; return; fi
    CMD[$name]="sh:$3"
    RUN[$name]="$4|$5"
}
skip() {
    local name=$1
    if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
    NAMES+=("$name")
    SKIP[$name]=$2
}

AVX2_FLAGS="-DMOE_SIMD_AVX2 -mavx2 -mfma -mf16c"
AVX512_FLAGS="-DMOE_SIMD_AVX512 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c"
HAVE_AVX2=0; HAVE_AVX512=0
if is_x86; then
    cpu_has avx2 fma f16c && HAVE_AVX2=1
    cpu_has avx512f avx512bw avx512vl avx512dq avx2 fma f16c && HAVE_AVX512=1
fi

# ---- the README's usage snippet (between <!-- snippet:begin --> and <!-- snippet:end -->, one
# ```c block), wrapped in a function that declares what it uses, compiled as C99 and C++11 -----
SNIP="$B/readme_snippet.c"
SNIP_ERR=""
make_snippet() {
    local body first
    rm -f "$SNIP" "$SNIP.err"
    if ! grep -q '^<!-- snippet:begin -->' README.md || ! grep -q '^<!-- snippet:end -->' README.md; then
        SNIP_ERR="README.md has no '<!-- snippet:begin -->' ... '<!-- snippet:end -->' markers around its usage snippet"
        return
    fi
    body=$(awk '/^<!-- snippet:begin -->/ { on = 1; next } /^<!-- snippet:end -->/ { on = 0 }
                on && /^```/ { fence++; next } on && fence == 1 { print }' README.md)
    first=$(awk '/^<!-- snippet:begin -->/ { on = 1; next } on && /^```/ { print NR + 1; exit }' README.md)
    if [ -z "$body" ]; then
        SNIP_ERR="README.md: no \`\`\`c block between the snippet markers"
        return
    fi
    {
        echo '/* generated by tests/run.sh from README.md: the usage snippet, wrapped in a function */'
        echo '#include <stdio.h>'
        echo '#include <stdlib.h>'
        echo '#define MOE_IMPLEMENTATION'
        echo '#include "moe.h"'
        echo 'int moe_readme_snippet(const float *router, const float *gate, const float *up, const float *down,'
        echo '                       const float *x, float *y, int n_tokens);'
        echo 'int moe_readme_snippet(const float *router, const float *gate, const float *up, const float *down,'
        echo '                       const float *x, float *y, int n_tokens)'
        echo '{'
        echo '    (void)router; (void)gate; (void)up; (void)down; (void)x; (void)y; (void)n_tokens;'
        echo '    {'
        echo "#line ${first:-1} \"README.md\""
        printf '%s\n' "$body"
        echo '    }'
        echo '    return 0;'
        echo '}'
    } >"$SNIP"
}
snippet_cfg() { # name compiler-with-std
    if [ -n "$SNIP_ERR" ]; then
        printf 'error: %s\n' "$SNIP_ERR" >"$SNIP.err"
        add_sh "$1" "${2%% *}" "cat '$SNIP.err' >&2; exit 1" - ""
    else
        add_sh "$1" "${2%% *}" "$2 -O1 $WARN -I. -c $SNIP -o \$EXE" - ""
    fi
}

# ---- -ffast-math: the implementation alone (tests/impl_tu.c) is built with it; test_moe.c
# (-DMOE_TEST_EXTERN_IMPL) is not, as its float64 reference and isnan checks cannot run under it ----
fastmath_cfg() { # name compiler flags
    local cc=$2 fl=$3
    add_sh "$1" "$cc" "$cc -std=c99 -O2 $WARN $fl -ffast-math -c tests/impl_tu.c -o \$EXE.impl.o && \
$cc -std=c99 -O2 $WARN $fl -DMOE_TEST_EXTERN_IMPL -c $SRC -o \$EXE.test.o && $cc \$EXE.test.o \$EXE.impl.o -o \$EXE $LIBS" "" ""
}

quick_matrix() {
    local cc=${CC:-cc} cxx=${CXX:-c++} vs=""
    is_x86 || [ "$(uname -m)" = aarch64 ] && vs=$VS
    make_snippet
    add check-native "$cc -std=c99 -O2 $WARN -march=native $SRC $vs $LIBS" "" --quick
    add check-files "$cc -std=c99 -O2 $WARN -march=native $FSRC -lm" "" ""
    add check-shard "$cc -std=c99 -O2 $WARN -march=native $SSRC $LIBS" "" --quick
    if is_x86; then dispatch_cfg check-dispatch "$cc -std=c99" "" "$X86_TUS" "" --quick
    elif [ "$(uname -m)" = aarch64 ]; then dispatch_cfg check-dispatch "$cc -std=c99" "" "$ARM_TUS" "" --quick
    else dispatch_cfg check-dispatch "$cc -std=c99" "-DMOE_DTU_NONE" "" "" --quick; fi
    add_sh dispatch-names bash "cp tests/dispatch_names.sh \$EXE" bash ""   # moe.h's MOE_DISPATCH name lists
    snippet_cfg readme-snippet-c99 "$cc -std=c99"
    snippet_cfg readme-snippet-c++11 "$cxx -x c++ -std=c++11"
}

full_matrix() {
    make_snippet
    # ---- long runs first, so two cores stay busy to the end ------------------------------
    if have valgrind; then
        add valgrind-scalar "gcc -std=c99 -O1 -g $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" valgrind --quick
        if [ $HAVE_AVX2 = 1 ]; then
            add valgrind-avx2 "gcc -std=c99 -O1 -g $WARN $AVX2_FLAGS $SRC $LIBS" valgrind --quick
        elif is_x86; then skip valgrind-avx2 "this CPU lacks avx2/fma/f16c"
        else skip valgrind-avx2 "not an x86-64 host"; fi
    else
        skip valgrind-scalar "valgrind not installed"
        skip valgrind-avx2 "valgrind not installed"
    fi

    dispatch_matrix

    cross aarch64-neon aarch64-linux-gnu-gcc qemu-aarch64 "" "$VS"
    cross aarch64-scalar aarch64-linux-gnu-gcc qemu-aarch64 "-DMOE_SIMD_SCALAR"
    cross aarch64-neon-dotprod aarch64-linux-gnu-gcc qemu-aarch64 "-march=armv8.2-a+dotprod" "$VS"
    # i8mm (smmla) integer-batch tiles: -march=armv8.6-a; qemu's max CPU has i8mm. Only the groups
    # that run those tiles (white-box and layers), to keep the matrix short; the rest is dotprod's
    if ! have aarch64-linux-gnu-gcc; then skip aarch64-neon-i8mm "aarch64-linux-gnu-gcc not installed"
    elif ! have qemu-aarch64; then skip aarch64-neon-i8mm "qemu-aarch64 not installed"
    else add aarch64-neon-i8mm "aarch64-linux-gnu-gcc -static -O2 -std=c99 $WARN -march=armv8.6-a $SRC $VS $LIBS" \
        "qemu-aarch64 -cpu max" "--quick --group kernels,ibatch,variants"; fi
    cross armv7-neon arm-linux-gnueabihf-gcc qemu-arm "-mfpu=neon-vfpv4 -mfloat-abi=hard" "$VS"
    cross armv7-scalar arm-linux-gnueabihf-gcc qemu-arm "-mfpu=neon-vfpv4 -mfloat-abi=hard -DMOE_SIMD_SCALAR"
    cross s390x-scalar s390x-linux-gnu-gcc qemu-s390x ""            # big-endian: moe.h builds the scalar path
    cross riscv64-scalar riscv64-linux-gnu-gcc qemu-riscv64 ""
    if have s390x-linux-gnu-gcc && have qemu-s390x; then           # the file readers on a big-endian host
        add files-s390x "s390x-linux-gnu-gcc -static -std=c99 -O2 $WARN $FSRC -lm" qemu-s390x ""
    else skip files-s390x "s390x-linux-gnu-gcc or qemu-s390x not installed"; fi

    # ---- sanitizers ----------------------------------------------------------------------
    add gcc-asan-ubsan-native "gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $WARN -march=native $SRC $VS $LIBS" "" ""
    add gcc-asan-ubsan-scalar "gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" "" ""

    # ---- x86-64 SIMD paths x compilers / standards ----------------------------------------
    local cc cxx
    for cc in gcc clang; do
        paths "$cc-c99" "$cc -std=c99"
        add "$cc-c11-native" "$cc -std=c11 -O2 $WARN -march=native $SRC $LIBS" "" ""
        add "$cc-c99-2tu" "$cc -std=c99 -O2 $WARN -march=native -DMOE_TEST_TU2 $SRC tests/tu2.c $LIBS" "" --quick
        add "$cc-c99-static" "$cc -std=c99 -O2 $WARN -march=native -DMOE_STATIC $SRC $LIBS" "" --quick
    done
    for cxx in g++ clang++; do
        paths "$cxx-c++11" "$cxx -x c++ -std=c++11"
    done
    # AVX2 without FMA (-mavx2 alone): the AVX2 path with separate multiply and add
    if [ $HAVE_AVX2 = 1 ]; then add gcc-c99-avx2-nofma "gcc -std=c99 -O2 $WARN -mavx2 $SRC $VS $LIBS" "" ""
    else skip gcc-c99-avx2-nofma "this CPU lacks avx2 (or is not x86-64)"; fi

    # AVX-512F without BW (Knights Landing): the AVX-512 path without its BW kernels (integer
    # batches run EXACT, FP8 rows take the AVX2 form)
    if [ $HAVE_AVX512 = 1 ]; then add gcc-c99-avx512f-nobw "gcc -std=c99 -O2 $WARN -DMOE_SIMD_AVX512 -mavx512f -mavx2 -mfma -mf16c $SRC $VS $LIBS" "" --quick
    else skip gcc-c99-avx512f-nobw "this CPU lacks avx512f (or is not x86-64)"; fi

    # ---- AMX (cfg.batch_amx): the tiles' portable C model (MOE_AMX_EMULATE) on any AVX-512 CPU,
    # also under ASan + UBSan; the real tiles where the CPU has them, else the same build checks
    # that batch_amx = 1 is refused (and the kernels compile warning-free) ------------------
    local AMXF="-mamx-tile -mamx-int8 -mamx-bf16 -DMOE_AMX"
    if [ $HAVE_AVX512 = 1 ]; then
        add gcc-c99-amx-emulated "gcc -std=c99 -O2 $WARN -march=native -DMOE_AMX -DMOE_AMX_EMULATE $SRC $VS $LIBS" "" "--group amx,ibatch,prepack,bf16dot"
        add gcc-asan-ubsan-amx-emulated "gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $WARN -march=native -DMOE_AMX -DMOE_AMX_EMULATE $SRC $LIBS" "" "--quick --group amx"
    else
        skip gcc-c99-amx-emulated "this CPU lacks avx512f/bw/vl/dq (or is not x86-64)"
        skip gcc-asan-ubsan-amx-emulated "this CPU lacks avx512f/bw/vl/dq (or is not x86-64)"
    fi
    if [ $HAVE_AVX512 = 1 ] && cpu_has amx_tile amx_int8 amx_bf16; then
        add gcc-c99-amx "gcc -std=c99 -O2 $WARN -march=native $AMXF $SRC $VS $LIBS" "" ""
        add clang-c99-amx "clang -std=c99 -O2 $WARN -march=native $AMXF $SRC $LIBS" "" "--quick --group amx"
    else
        skip gcc-c99-amx "this CPU lacks amx_tile/amx_int8/amx_bf16"
        skip clang-c99-amx "this CPU lacks amx_tile/amx_int8/amx_bf16"
        if [ $HAVE_AVX512 = 1 ]; then add gcc-c99-amx-refused "gcc -std=c99 -O2 $WARN -march=native $AMXF $SRC $LIBS" "" "--group amx"; fi
    fi

    # ---- -O3 builds: their lines report the compile time (no threshold) -------------------
    for cc in gcc clang; do
        if [ $HAVE_AVX2 = 1 ]; then add "$cc-c99-O3-avx2" "$cc -std=c99 -O3 $WARN $AVX2_FLAGS $SRC $LIBS" "" ""
        else skip "$cc-c99-O3-avx2" "this CPU lacks avx2/fma/f16c (or is not x86-64)"; fi
        if [ $HAVE_AVX512 = 1 ]; then add "$cc-c99-O3-avx512" "$cc -std=c99 -O3 $WARN $AVX512_FLAGS $SRC $LIBS" "" ""
        else skip "$cc-c99-O3-avx512" "this CPU lacks avx512f/bw/vl/dq (or is not x86-64)"; fi
        add "$cc-c99-O3-native" "$cc -std=c99 -O3 $WARN -march=native $SRC $LIBS" "" ""
    done

    # ---- i386 (x87 float math; SSE math with the AVX2 path), tcc, C++17/C++20, -O3 -flto over
    # two translation units, MinGW-w64 under wine (Win32 threads) ------------------------------
    if [ -n "$M32_ERR" ]; then skip i386-scalar "$M32_ERR"; skip i386-avx2 "$M32_ERR"
    else
        add i386-scalar "gcc -m32 -std=c99 -O2 $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" "" ""
        if [ $HAVE_AVX2 = 1 ]; then add i386-avx2 "gcc -m32 -msse2 -mfpmath=sse -std=c99 -O2 $WARN $AVX2_FLAGS $SRC $VS $LIBS" "" --quick
        else skip i386-avx2 "this CPU lacks avx2/fma/f16c"; fi
    fi
    add tcc "tcc -std=c99 -Wall -Werror $SRC -lm -pthread" "" --quick    # no SIMD macros: the scalar path
    add g++-c++17-native "g++ -x c++ -std=c++17 -O2 $WARN -march=native $SRC $VS $LIBS" "" ""
    add g++-c++20-native "g++ -x c++ -std=c++20 -O2 $WARN -march=native $SRC $VS $LIBS" "" ""
    add clang++-c++20-native "clang++ -x c++ -std=c++20 -O2 $WARN -march=native $SRC $VS $LIBS" "" ""
    add gcc-O3-flto-2tu "gcc -std=c99 -O3 -flto=auto $WARN -march=native -DMOE_TEST_TU2 $SRC tests/tu2.c $VS $LIBS" "" ""
    if [ $HAVE_AVX2 = 1 ]; then mingw mingw-w64-avx2 "$AVX2_FLAGS" "$SRC $VS"
    else skip mingw-w64-avx2 "this CPU lacks avx2/fma/f16c (or is not x86-64)"; fi
    if [ $HAVE_AVX512 = 1 ]; then mingw mingw-w64-avx512 "$AVX512_FLAGS" "$SRC $VS"   # 64-byte vectors, 16-byte-aligned Win64 stack
    else skip mingw-w64-avx512 "this CPU lacks avx512f/bw/vl/dq (or is not x86-64)"; fi
    mingw mingw-w64-scalar "-DMOE_SIMD_SCALAR" "$SRC"

    # ---- -ffast-math (the implementation's translation unit only) -------------------------
    for cc in gcc clang; do
        fastmath_cfg "$cc-fastmath-native" "$cc" "-march=native"
        if [ $HAVE_AVX512 = 1 ]; then fastmath_cfg "$cc-fastmath-avx512" "$cc" "$AVX512_FLAGS"
        else skip "$cc-fastmath-avx512" "this CPU lacks avx512f/bw/vl/dq (or is not x86-64)"; fi
    done

    # ---- OpenMP --------------------------------------------------------------------------
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

    # ---- the file readers (GGUF, safetensors, JSON): tests/test_files.c --------------------
    add files-gcc-c99 "gcc -std=c99 -O2 $WARN -march=native $FSRC -lm" "" ""
    add files-gcc-O3 "gcc -std=c99 -O3 $WARN -march=native $FSRC -lm" "" ""
    add files-clang-c11 "clang -std=c11 -O2 $WARN -march=native $FSRC -lm" "" ""
    add files-g++-c++11 "g++ -x c++ -std=c++11 -O2 $WARN -march=native $FSRC -lm" "" ""
    add files-asan-ubsan "gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $WARN $FSRC -lm" "" ""
    if have aarch64-linux-gnu-gcc && have qemu-aarch64; then
        add files-aarch64 "aarch64-linux-gnu-gcc -static -std=c99 -O2 $WARN $FSRC -lm" qemu-aarch64 ""
    else skip files-aarch64 "aarch64-linux-gnu-gcc or qemu-aarch64 not installed"; fi
    if [ -n "$M32_ERR" ]; then skip files-i386 "$M32_ERR"
    else add files-i386 "gcc -m32 -std=c99 -O2 $WARN $FSRC -lm" "" ""; fi
    add files-tcc "tcc -std=c99 -Wall -Werror $FSRC -lm" "" ""
    mingw files-mingw-w64 "" "$FSRC"
    add_sh files-cli gcc "cp tests/cli_smoke.sh \$EXE" bash "$B/cli"    # examples/moe_run.c on test-written GGUFs
    if have valgrind; then add files-valgrind "gcc -std=c99 -O1 -g $WARN -DMOE_SIMD_SCALAR $FSRC -lm" valgrind ""
    else skip files-valgrind "valgrind not installed"; fi

    # ---- routed and sharded runs: tests/test_shard.c, bit for bit against moe_forward --------
    add shard-gcc-native-openmp "gcc -std=c99 -O2 $WARN -march=native -fopenmp $SSRC $LIBS" "" ""
    add shard-gcc-scalar "gcc -std=c99 -O2 $WARN -DMOE_SIMD_SCALAR $SSRC $LIBS" "" ""
    if [ "$HAVE_AVX2" = 1 ]; then add shard-gcc-avx2 "gcc -std=c99 -O2 $WARN $AVX2_FLAGS $SSRC $LIBS" "" ""
    else skip shard-gcc-avx2 "CPU lacks avx2"; fi
    add shard-g++-c++11 "g++ -x c++ -std=c++11 -O2 $WARN -march=native $SSRC $LIBS" "" --quick
    add shard-asan-ubsan "gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $WARN $SSRC $LIBS" "" --quick
    if have aarch64-linux-gnu-gcc && have qemu-aarch64; then
        add shard-aarch64 "aarch64-linux-gnu-gcc -static -std=c99 -O2 $WARN $SSRC -lm" qemu-aarch64 --quick
    else skip shard-aarch64 "aarch64-linux-gnu-gcc or qemu-aarch64 not installed"; fi

    # ---- the committed fuzz corpora, replayed without libFuzzer (gcc, ASan+UBSan) -----------
    add_sh fuzz-corpus-replay gcc "cp tests/fuzz/replay.sh \$EXE" "env BUILD=$B bash" ""

    add_sh dispatch-names bash "cp tests/dispatch_names.sh \$EXE" bash ""   # moe.h's MOE_DISPATCH name lists

    # ---- compile-only: Cortex-M, the README snippet ------------------------------------------
    add cortex-m4-compile "arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -std=c99 -O2 $WARN -c tests/cortexm.c" - ""
    snippet_cfg readme-snippet-c99 "gcc -std=c99"
    snippet_cfg readme-snippet-c++11 "g++ -x c++ -std=c++11"
}

# i386: gcc -m32 with libc6-dev-i386 and lib32gcc-12-dev (on Debian 12 gcc-multilib conflicts
# with the ARM cross compilers); probed by building and running a small program
M32_ERR=""
m32_probe() {
    if ! is_x86; then M32_ERR="not an x86 host"; return; fi
    if ! have gcc; then M32_ERR="gcc not installed"; return; fi
    printf '#include <math.h>\n#include <pthread.h>\n#include <stdio.h>\nint main(void) { printf("%%g\\n", sqrt(2.0)); return 0; }\n' >"$B/m32_probe.c"
    if ! gcc -m32 "$B/m32_probe.c" -o "$B/m32_probe" -lm -pthread >/dev/null 2>&1 || ! "$B/m32_probe" >/dev/null 2>&1; then
        M32_ERR="gcc -m32 cannot build and run a program (libc6-dev-i386, lib32gcc-12-dev not installed?)"
    fi
}
# MinGW-w64: x86_64-w64-mingw32-gcc, the .exe run under wine (Debian: wine64, and wine for the
# command) in a prefix of its own, $B/wine, made once (under flock: the configurations run in
# parallel); the test program uses Win32 threads there. Its output has CRLF line ends.
WINE=""
if have wine; then WINE=wine; elif have wine64; then WINE=wine64; elif [ -x /usr/lib/wine/wine64 ]; then WINE=/usr/lib/wine/wine64; fi
# wine_setup NAME: 1 when NAME is filtered out or skipped (a tool or the host missing), else 0 with
# $W_RUN (the run prefix) and $W_INIT (makes the prefix once, under flock) set
wine_setup() {
    local name=$1
    if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return 1; fi
    if ! have x86_64-w64-mingw32-gcc; then skip "$name" "x86_64-w64-mingw32-gcc not installed"; return 1; fi
    if [ -z "$WINE" ]; then skip "$name" "wine not installed"; return 1; fi
    if ! is_x86; then skip "$name" "not an x86-64 host (wine runs the .exe natively)"; return 1; fi
    W_RUN="env WINEDEBUG=-all WINEPREFIX=$(cd "$B" && pwd)/wine $WINE"
    W_INIT="$W_RUN cmd /c exit"
    have flock && W_INIT="flock $B/wine.lock $W_INIT"
    return 0
}
mingw() { # name flags sources
    local name=$1 flags=$2 srcs=$3 run init
    wine_setup "$name" || return 0
    run=$W_RUN; init=$W_INIT
    # mingw's gcc names its output NAME.exe; the matrix runs $EXE
    add_sh "$name" x86_64-w64-mingw32-gcc "x86_64-w64-mingw32-gcc -std=c99 -O2 $WARN $flags $srcs -lm -o \$EXE.exe && \
mv -f \$EXE.exe \$EXE && { $init || true; }" "$run" ""
}

cross() { # name compiler qemu flags [extra sources]
    local name=$1 cc=$2 qemu=$3 flags=$4 extra=${5:-}
    if ! have "$cc"; then skip "$name" "$cc not installed"
    elif ! have "$qemu"; then skip "$name" "$qemu not installed"
    else add "$name" "$cc -static -O2 -std=c99 $WARN $flags $SRC $extra $LIBS" "$qemu" --quick; fi
}
paths() { # name-prefix compiler-with-std
    local pre=$1 cc=$2
    add "$pre-scalar" "$cc -O2 $WARN -DMOE_SIMD_SCALAR $SRC $LIBS" "" ""
    if is_x86; then
        if [ $HAVE_AVX2 = 1 ]; then add "$pre-avx2" "$cc -O2 $WARN $AVX2_FLAGS $SRC $VS $LIBS" "" ""
        else skip "$pre-avx2" "this CPU lacks avx2/fma/f16c"; fi
        if [ $HAVE_AVX512 = 1 ]; then add "$pre-avx512" "$cc -O2 $WARN $AVX512_FLAGS $SRC $VS $LIBS" "" ""
        else skip "$pre-avx512" "this CPU lacks avx512f/bw/vl/dq"; fi
        if [ "$pre" = gcc-c99 ]; then   # the integer kernels' VNNI forms: AVX-VNNI on the AVX2 path
            if cpu_has avx2 fma f16c avx_vnni; then add "$pre-avx2-vnni" "$cc -O2 $WARN $AVX2_FLAGS -mavxvnni $SRC $VS $LIBS" "" ""
            else skip "$pre-avx2-vnni" "this CPU lacks avx_vnni"; fi
            # BF16 batches on vdpbf16ps (cfg.batch_bf16 = MOE_BF16_DOT): the AVX-512 path with AVX512-BF16
            if [ $HAVE_AVX512 = 1 ] && cpu_has avx512_bf16; then add "$pre-avx512-bf16" "$cc -O2 $WARN $AVX512_FLAGS -mavx512bf16 $SRC $VS $LIBS" "" ""
            else skip "$pre-avx512-bf16" "this CPU lacks avx512_bf16"; fi
        fi
    fi
    add "$pre-native" "$cc -O2 $WARN -march=native $SRC $VS $LIBS" "" ""
}

# ---- runtime dispatch (MOE_DISPATCH) ---------------------------------------------------------------
# tests/test_dispatch.c is built with -DMOE_DISPATCH and no -m flags and linked with one object of
# tests/dispatch_tu.c per static path (-DMOE_TU_NAME=NAME and that path's flags below): the
# references each dispatched path must equal bit for bit.
DSRC=tests/test_dispatch.c
DTU=tests/dispatch_tu.c
X86_TUS="scalar avx2 avx2_vnni avx512 avx512_vnni"
ARM_TUS="scalar neon neon_dotprod"
tu_flags() { # static path name -> its flags
    case $1 in
    scalar) echo "-DMOE_SIMD_SCALAR" ;;
    avx2) echo "$AVX2_FLAGS" ;;
    avx2_vnni) echo "$AVX2_FLAGS -mavxvnni" ;;
    avx512) echo "$AVX512_FLAGS" ;;
    avx512_vnni) echo "$AVX512_FLAGS -mavx512vnni" ;;
    neon) echo "-DMOE_SIMD_NEON" ;;
    neon_dotprod) echo "-DMOE_SIMD_NEON -march=armv8.2-a+dotprod" ;;
    esac
}
# the build script of test_dispatch: compiler with its -std (and -x c++), extra flags for every
# step, the static objects; OUT (default \$EXE) is the executable
dispatch_script() { # cc-with-std extra tus [out]
    local cc=$1 extra=$2 tus=$3 out=${4:-\$EXE} s="" objs="" n
    for n in $tus; do
        s="$s$cc -O2 $WARN $extra -DMOE_TU_NAME=$n $(tu_flags "$n") -c $DTU -o $out.$n.o && "
        objs="$objs $out.$n.o"
    done
    echo "$s$cc -O2 $WARN $extra -DMOE_DISPATCH $DSRC -x none$objs -o $out -lm"
}
dispatch_cfg() { # name cc-with-std extra tus run-prefix args
    add_sh "$1" "${2%% *}" "$(dispatch_script "$2" "$3" "$4")" "$5" "$6"
}
# A build shared by several configurations (each runs it differently): the first to take the lock
# builds it once per run of this script, into $B/KEY.shared; the others copy it.
RUN_ID="$$-$START"
shared_sh() { # key 'build script writing $OUT'
    local key=$1 out="$B/$1.shared"
    if ! have flock; then echo "OUT=\$EXE; $2"; return; fi
    echo "exec 9>'$out.lock'; flock 9; \
if [ \"\$(cat '$out.stamp' 2>/dev/null)\" != '$RUN_ID ok' ] && [ \"\$(cat '$out.stamp' 2>/dev/null)\" != '$RUN_ID failed' ]; then \
  OUT='$out'; rm -f '$out'; if ( $2 ) >'$out.log' 2>&1; then echo '$RUN_ID ok' >'$out.stamp'; else echo '$RUN_ID failed' >'$out.stamp'; fi; fi; \
cat '$out.log'; [ \"\$(cat '$out.stamp')\" = '$RUN_ID ok' ] && cp '$out' \$EXE"
}

dispatch_matrix() {
    # test_dispatch: every path this CPU runs against its static build, each compiler
    local cc p n full=""
    for cc in "gcc -std=c99" "clang -std=c99" "g++ -x c++ -std=c++11"; do
        n=${cc%% *}
        if is_x86; then dispatch_cfg "dispatch-$n" "$cc" "" "$X86_TUS" "" ""
        elif [ "$(uname -m)" = aarch64 ]; then dispatch_cfg "dispatch-$n" "$cc" "" "$ARM_TUS" "" ""
        else dispatch_cfg "dispatch-$n" "$cc" "-DMOE_DTU_NONE" "" "" ""; fi
    done
    # test_moe.c built once with -DMOE_DISPATCH (and the scalar path to compare with), run forced
    # to each path this CPU has: --quick, and in full on the one AUTO picks
    if is_x86; then
        local pathflags=("scalar:" "avx2:avx2 fma f16c" "avx2-vnni:avx2 fma f16c avx_vnni"
                         "avx512:avx512f avx512bw avx512vl avx512dq avx2 fma f16c"
                         "avx512-vnni:avx512f avx512bw avx512vl avx512dq avx2 fma f16c avx512_vnni")
        for p in "${pathflags[@]}"; do
            # shellcheck disable=SC2086
            if [ -z "${p#*:}" ] || cpu_has ${p#*:}; then full=${p%%:*}; fi
        done
        for p in "${pathflags[@]}"; do
            n=${p%%:*}
            # shellcheck disable=SC2086
            if [ -n "${p#*:}" ] && ! cpu_has ${p#*:}; then skip "dispatch-moe-$n" "this CPU lacks ${p#*:}"; continue; fi
            add_sh "dispatch-moe-$n" gcc "$(shared_sh dispatch-moe "gcc -std=c99 -O2 $WARN -DMOE_DISPATCH $SRC $VS -o \$OUT $LIBS")" \
                "" "$([ "$n" = "$full" ] || echo "--quick ")--path $n"
        done
    else
        skip dispatch-moe "not an x86-64 host (test_moe --path on each x86 path)"
    fi
    # OpenMP: the outlined parallel regions inside the per-path (target-attribute) functions
    add dispatch-openmp "gcc -std=c99 -O2 $WARN -DMOE_DISPATCH -fopenmp $SRC $VS $LIBS" "" --quick
    # AArch64 under qemu: neon and neon-dotprod (-cpu max has dotprod, cortex-a57 lacks it)
    if ! have aarch64-linux-gnu-gcc; then skip dispatch-aarch64 "aarch64-linux-gnu-gcc not installed"; skip dispatch-aarch64-a57 "aarch64-linux-gnu-gcc not installed"
    elif ! have qemu-aarch64; then skip dispatch-aarch64 "qemu-aarch64 not installed"; skip dispatch-aarch64-a57 "qemu-aarch64 not installed"
    else
        local arm; arm=$(dispatch_script "aarch64-linux-gnu-gcc -static -std=c99" "" "$ARM_TUS" "\$OUT")
        add_sh dispatch-aarch64 aarch64-linux-gnu-gcc "$(shared_sh dispatch-aarch64 "$arm")" "qemu-aarch64 -cpu max" --quick
        add_sh dispatch-aarch64-a57 aarch64-linux-gnu-gcc "$(shared_sh dispatch-aarch64 "$arm")" "qemu-aarch64 -cpu cortex-a57" --quick
    fi
    # x86-64 CPUs without AVX-512 under qemu (TCG has AVX2, FMA, F16C, no AVX-512 or VNNI): the
    # detection and AUTO's fall-back; the CPU's features from CPUID (--cpuid), not the host's
    # /proc/cpuinfo
    if ! is_x86; then skip dispatch-qemu-haswell "not an x86-64 host"; skip dispatch-qemu-x86-64-v1 "not an x86-64 host"
    elif ! have qemu-x86_64; then skip dispatch-qemu-haswell "qemu-x86_64 not installed"; skip dispatch-qemu-x86-64-v1 "qemu-x86_64 not installed"
    else
        local x86; x86=$(dispatch_script "gcc -std=c99" "" "$X86_TUS" "\$OUT")
        add_sh dispatch-qemu-haswell gcc "$(shared_sh dispatch-qemu "$x86")" "qemu-x86_64 -cpu Haswell" "--quick --cpuid"
        add_sh dispatch-qemu-x86-64-v1 gcc "$(shared_sh dispatch-qemu "$x86")" "qemu-x86_64 -cpu qemu64" "--quick --cpuid"
    fi
    # MinGW-w64 (Win64 ABI: 16-byte-aligned stack under 64-byte vectors) under wine
    dispatch_mingw dispatch-mingw
}
dispatch_mingw() { # name: like mingw(), the test_dispatch build
    local name=$1 run init
    wine_setup "$name" || return 0
    run=$W_RUN; init=$W_INIT
    # mingw's gcc names its output NAME.exe; the matrix runs $EXE
    add_sh "$name" x86_64-w64-mingw32-gcc "$(dispatch_script "x86_64-w64-mingw32-gcc -std=c99" "" "$X86_TUS" "\$EXE.exe")" "" "" && \
        CMD[$name]="${CMD[$name]} && mv -f \$EXE.exe \$EXE && { $init || true; }"
    [ -n "${CMD[$name]+x}" ] && RUN[$name]="$run|"
}

if [ "$MODE" = check ]; then quick_matrix; else m32_probe; full_matrix; fi

now_ms() { local t; t=$(date +%s%N 2>/dev/null); case "$t" in *N|"") echo $(( $(date +%s) * 1000 )) ;; *) echo $(( t / 1000000 )) ;; esac; }
secs() { printf '%d.%ds' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }   # milliseconds -> "12.3s"

# ---- one configuration: build, run, summarise into $B/NAME.res, print its line --------------------
build_cmd() { # name exe: run the configuration's build, output into its log
    local name=$1 exe=$2 c=${CMD[$1]}
    if [[ $c == sh:* ]]; then EXE=$exe bash -c "${c#sh:}"
    else $c -o "$exe"; fi
}
one() {
    local name=$1 exe="$B/test_moe-$1" log="$B/$1.log" res="$B/$1.res" prefix args line p=0 f=0 rc t0 tb t1
    prefix=${RUN[$name]%%|*}
    args=${RUN[$name]#*|}
    t0=$(now_ms)
    rm -f "$res" "$exe" "$exe.o" "$exe".*.o
    if [ "$prefix" = "-" ]; then
        if build_cmd "$name" "$exe.o" >"$log" 2>&1; then echo "PASS 1 0 compiled in $(secs $(( $(now_ms) - t0 )))" >"$res"
        else echo "FAIL 0 1 compile failed" >"$res"; fi
        print_line "$name"
        return
    fi
    if ! build_cmd "$name" "$exe" >"$log" 2>&1; then
        echo "FAIL 0 1 build failed" >"$res"
        print_line "$name"
        return
    fi
    tb=$(now_ms)
    case "$prefix" in
    valgrind) timeout "$TMO" valgrind --error-exitcode=1 --leak-check=full --log-file="$B/$name.valgrind" \
                  "$exe" $args >>"$log" 2>&1; rc=$? ;;
    "")       timeout "$TMO" "$exe" $args >>"$log" 2>&1; rc=$? ;;
    *)        timeout "$TMO" $prefix "$exe" $args >>"$log" 2>&1; rc=$? ;;
    esac
    t1=$(now_ms)
    line=$(tr -d '\r' <"$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)   # CRLF: MinGW under wine
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*passed, }; f=${f%% failed*}
    fi
    if [ "$rc" -eq 0 ] && [ -n "$line" ] && [ "$f" -eq 0 ]; then
        echo "PASS $p 0 build $(secs $(( tb - t0 ))), run $(secs $(( t1 - tb )))" >"$res"
    else
        local why="exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${TMO}s"
        [ -z "$line" ] && why="$why, no summary line"
        [ "$prefix" = valgrind ] && [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && why="$why, valgrind errors: $B/$name.valgrind"
        [ "$f" -eq 0 ] && f=1
        echo "FAIL $p $f $why; build $(secs $(( tb - t0 )))" >"$res"
    fi
    print_line "$name"
}
# The result line of one configuration (a failure adds up to 5 lines from its log), written
# with one printf so that lines of parallel jobs do not interleave.
print_line() {
    local name=$1 st p f rest out
    if [ -n "${SKIP[$name]+x}" ]; then printf '[SKIP] %s: %s\n' "$name" "${SKIP[$name]}"; return; fi
    if [ ! -r "$B/$name.res" ]; then printf '[FAIL] %s (no result; log: %s)\n' "$name" "$B/$name.log"; return; fi
    read -r st p f rest <"$B/$name.res"
    if [ "$st" = PASS ]; then
        printf '[PASS] %s (%s passed%s)\n' "$name" "$p" "${rest:+; $rest}"
    else
        out=$(printf '[FAIL] %s (%s failed, %s passed; %s; log: %s)' "$name" "$f" "$p" "$rest" "$B/$name.log")
        out="$out$(tr -d '\r' <"$B/$name.log" | grep -E '^FAIL |^ERROR |error:|runtime error' | head -n 5 | sed 's/^/\n         /')"
        printf '%s\n' "$out"
    fi
}

# ---- run the matrix, JOBS at a time; each line is printed when its configuration is done ----------
echo "moe.h tests ($MODE): ${#NAMES[@]} configurations, $JOBS parallel jobs"
for name in "${NAMES[@]}"; do
    [ -n "${SKIP[$name]+x}" ] && continue
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n 2>/dev/null || sleep 0.2; done
    one "$name" &
done
wait

# ---- report: every configuration in order, then the totals --------------------------------------
echo "---- summary"
tp=0; tf=0; ts=0; bad=0
for name in "${NAMES[@]}"; do
    print_line "$name"
    if [ -n "${SKIP[$name]+x}" ]; then ts=$((ts + 1)); continue; fi
    if [ ! -r "$B/$name.res" ]; then tf=$((tf + 1)); bad=1; continue; fi
    read -r st p f rest <"$B/$name.res"
    tp=$((tp + p)); tf=$((tf + f))
    [ "$st" = PASS ] || bad=1
done
echo "matrix time: $(( $(date +%s) - START ))s, $JOBS parallel jobs"
if [ "$ts" -gt 0 ]; then echo "$tp passed, $tf failed, $ts skipped"; else echo "$tp passed, $tf failed"; fi
exit $bad
