#!/usr/bin/env bash
# cli_smoke.sh DIR - examples/moe_run.c on the GGUF files that tests/test_files.c writes: every
# file with a MoE layer must list it and run it (routing histogram, time per token); a file
# whose layers the reader refuses must say why and exit non-zero; 40 tokens with --prepack give
# the same y (hash) as without; --int8 runs; --amx (this build has no MOE_AMX) is refused with
# a reason. Ends "N passed, N failed".
set -u
[ -f tests/test_files.c ] || cd "$(dirname "$0")/.." || exit 2   # from the repository root
D=${1:-build/tests/cli}
rm -rf "$D" && mkdir -p "$D/seeds/fuzz_gguf" "$D/seeds/fuzz_safetensors" "$D/seeds/fuzz_json" || exit 2
CC=${CC:-cc}
WARN="-Wall -Wextra -Wpedantic -Werror"
$CC -std=c99 -O2 $WARN tests/test_files.c -o "$D/test_files" -lm || exit 2
$CC -std=c99 -O2 $WARN -I. examples/moe_run.c -o "$D/moe_run" -lm || exit 2
"$D/test_files" --seeds "$D/seeds" >"$D/test_files.log" 2>&1 || { echo "test_files failed"; exit 2; }
pass=0; fail=0; ran=0; packed=0
for f in "$D"/seeds/fuzz_gguf/*; do
    list=$("$D/moe_run" "$f" --list 2>&1); rc=$?
    n=$(printf '%s\n' "$list" | sed -n 's/^[0-9]* layers: \([0-9]*\) MoE.*/\1/p')
    if [ -z "$n" ]; then                       # refused at open: non-zero exit and a reason
        if [ $rc -ne 0 ] && [ -n "$list" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $f: no layer count, rc $rc"; fi
        continue
    fi
    if [ "$n" -eq 0 ]; then pass=$((pass + 1)); continue; fi
    out=$("$D/moe_run" "$f" -t 3 -n 1 2>&1); rc=$?
    if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q 'per token' && printf '%s\n' "$out" | grep -q 'routing'; then
        pass=$((pass + 1)); ran=$((ran + 1))
        # 40 tokens with and without --prepack: the same y bit for bit (its hash)
        a=$("$D/moe_run" "$f" -t 40 -n 1 2>&1 | sed -n 's/.*y hash \([0-9a-f]*\).*/\1/p')
        outp=$("$D/moe_run" "$f" -t 40 -n 1 --prepack 2>&1)
        b=$(printf '%s\n' "$outp" | sed -n 's/.*y hash \([0-9a-f]*\).*/\1/p')
        if [ -n "$a" ] && [ "$a" = "$b" ] && printf '%s\n' "$outp" | grep -q '^pre-packed \|^nothing to pre-pack'; then
            pass=$((pass + 1))
            printf '%s\n' "$outp" | grep -q '^pre-packed ' && packed=$((packed + 1))
        else
            fail=$((fail + 1)); echo "FAIL $f: moe_run -t 40 --prepack: y hash '$b', without '$a'"; printf '%s\n' "$outp" | tail -n 3
        fi
        # --int8 (MOE_BATCH_INT8) runs; --amx, in this build without MOE_AMX, exits non-zero and says why
        outi=$("$D/moe_run" "$f" -t 40 -n 1 --int8 2>&1); rc=$?
        if [ $rc -eq 0 ] && printf '%s\n' "$outi" | grep -q 'y hash'; then pass=$((pass + 1))
        else fail=$((fail + 1)); echo "FAIL $f: moe_run -t 40 --int8 exited $rc"; printf '%s\n' "$outi" | tail -n 3; fi
        if [ -z "${amx_done:-}" ]; then
            amx_done=1; outa=$("$D/moe_run" "$f" -t 40 -n 1 --amx 2>&1); rc=$?
            if [ $rc -ne 0 ] && printf '%s\n' "$outa" | grep -q 'AMX tiles are not usable'; then pass=$((pass + 1))
            else fail=$((fail + 1)); echo "FAIL $f: moe_run --amx without MOE_AMX: rc $rc"; printf '%s\n' "$outa" | tail -n 3; fi
        fi
    elif [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q '^moe_run: moe_layer_init: [a-z_.]*: '; then
        pass=$((pass + 1))                     # a layer moe.h refuses, named (e.g. groups of 1 expert)
    else
        fail=$((fail + 1)); echo "FAIL $f: moe_run -t 3 exited $rc"; printf '%s\n' "$out" | tail -n 3
    fi
done
echo "moe_run ran a layer of $ran GGUF files, $packed of them also on pre-packed tiles (moe_prepack)"
if [ $ran -lt 5 ]; then echo "FAIL: fewer than 5 runnable GGUF files"; fail=$((fail + 1)); fi
if [ $packed -lt 1 ]; then echo "FAIL: no GGUF file had a layer to pre-pack"; fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
