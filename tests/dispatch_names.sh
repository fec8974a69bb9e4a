#!/usr/bin/env bash
# tests/dispatch_names.sh - checks the two lists moe.h keeps for MOE_DISPATCH builds, which read
# the kernels-to-forward part of the header once per kernel path:
#   1. every macro that part #defines is #undef'd at the end of a pass: a macro left over from
#      one pass would be seen by the next (an `#ifdef MOE__HAVE_X` taking another path's branch
#      compiles silently; a differing redefinition is only an error, so this catches both);
#   2. every file-scope name that part defines (functions, tables, typedefs, struct tags) is in
#      the rename list (`#define moe__x MOE__PN(moe__x)`), and each renamed name is #undef'd
#      after the passes. A name missing from the list is a redefinition error when it is
#      compiled in two passes, but not when only one pass compiles it.
# Prints one line per problem and "N passed, N failed" last; exit status 1 on a problem.
set -u
[ -f moe.h ] || cd "$(dirname "$0")/.." || exit 2     # the repository root (run.sh runs a copy from there)
H=moe.h
fail=0; pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

start=$(grep -n '^/\* ---- the part read once per path' "$H" | cut -d: -f1)
endp=$(grep -n '^#ifdef MOE__PASS_NOW   /\* end of a pass' "$H" | cut -d: -f1)
endb=$(grep -n '^#if defined(MOE_IMPLEMENTATION) && defined(MOE__IMPL_NOW) && !defined(MOE__PASS_NOW)' "$H" | cut -d: -f1)
rstart=$(grep -n '^#define MOE__PN3(n, s)' "$H" | cut -d: -f1)
rend=$(grep -n '^#undef MOE__PN$' "$H" | cut -d: -f1)
for v in start endp endb rstart rend; do
    if [ -z "${!v}" ]; then echo "FAIL marker $v not found in $H"; echo "0 passed, 1 failed"; exit 1; fi
done

part=$(sed -n "${start},$((endp - 1))p" "$H")
undefs=$(sed -n "${endp},${endb}p" "$H" | sed -n 's/^#undef \([A-Za-z_0-9]*\).*/\1/p' | sort -u)
defs=$(printf '%s\n' "$part" | sed -n 's/^[ \t]*#[ \t]*define[ \t]\+\([A-Za-z_0-9]*\).*/\1/p' | sort -u)
for d in $defs; do
    if printf '%s\n' "$undefs" | grep -qx "$d"; then ok; else bad "macro $d is defined in the per-path part but not #undef'd at the end of a pass"; fi
done

renamed=$(sed -n "${rstart},${rend}p" "$H" | sed -n 's/^#define \(moe_[A-Za-z_0-9]*\) MOE__PN(\1)$/\1/p' | sort -u)
unrenamed=$(sed -n "${rstart},${rend}p" "$H" | sed -n 's/^#undef \(moe_[A-Za-z_0-9]*\)$/\1/p' | sort -u)
names=$( { printf '%s\n' "$part" | sed -n 's/^static[^;=(\[]*[^A-Za-z_0-9]\(moe__[A-Za-z_0-9]*\)[ \t]*[(\[].*/\1/p'
           printf '%s\n' "$part" | sed -n 's/^MOE__API[^(]*[^A-Za-z_0-9]\(moe_[A-Za-z_0-9]*\)(.*/\1/p'
           printf '%s\n' "$part" | sed -n 's/^typedef[^;{]*[^A-Za-z_0-9]\(moe__[A-Za-z_0-9]*\)[ \t]*;.*/\1/p'
           printf '%s\n' "$part" | sed -n 's/^typedef \(struct\|union\|enum\) \(moe__[A-Za-z_0-9]*\).*/\2/p'
           printf '%s\n' "$part" | sed -n 's/^}[ \t]*\(moe__[A-Za-z_0-9]*\)[ \t]*;.*/\1/p'; } | sort -u)
for n in $names; do
    if printf '%s\n' "$renamed" | grep -qx "$n"; then ok; else bad "$n is defined in the per-path part but missing from the rename list"; fi
done
for n in $renamed; do
    if printf '%s\n' "$unrenamed" | grep -qx "$n"; then ok; else bad "$n is renamed for the passes but not #undef'd after them"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
