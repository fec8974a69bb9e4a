#!/usr/bin/env bash
# tests/cmake/run.sh - builds and runs the consumer in tests/cmake/consumer/ against this working
# tree each way moe.h can be consumed, in a temporary directory, and prints one line per way:
#   add_subdirectory   add_subdirectory(<repo>)
#   FetchContent       FetchContent_Declare(GIT_REPOSITORY file://<snapshot> GIT_TAG v<version>),
#                      the snapshot: a throwaway git repository of the working tree's files
#   top-level          cmake on the repo itself: MOE_BUILD_EXAMPLES builds examples/, minimal runs
#   find_package       cmake --install --prefix P, then find_package(moe CONFIG REQUIRED) with
#                      CMAKE_PREFIX_PATH=P (the package was configured for another prefix:
#                      the installed files must be relocatable)
#   pkg-config         cc main.c $(pkg-config --cflags --libs moe), PKG_CONFIG_PATH=P/share/pkgconfig
#   find_package+omp   the same with moe configured -DMOE_OPENMP=ON (find_dependency(OpenMP))
#   pkg-config+omp     pkg-config on that install: -fopenmp in Cflags and Libs
# Needs cmake (>= 3.14), pkg-config, git and a C compiler ($CC, default cc); a missing tool fails.
# Exits non-zero if any way fails; then, or with KEEP=1, the temporary directory (logs) is kept.
#   bash tests/cmake/run.sh       (or: make cmake-check)
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CONSUMER="$REPO/tests/cmake/consumer"
CC=${CC:-cc}
export CC
# the consumer is compiled as the project compiles itself; with add_subdirectory moe.h comes in
# through -I (not -isystem), so a warning in the header fails the build
CFLAGS_CHECK="-Wall -Wextra -Wpedantic -Werror"

fails=0
missing=""
for tool in cmake pkg-config git "$CC"; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "FAIL  cmake-check: missing tool(s):$missing (Debian: apt-get install cmake pkg-config git)"
    exit 1
fi

VERSION=$(sed -n 's/^#define MOE_VERSION_\(MAJOR\|MINOR\|PATCH\) \+\([0-9]\+\).*/\2/p' "$REPO/moe.h" | paste -sd.)
case "$VERSION" in
    *.*.*) ;;
    *) echo "FAIL  cmake-check: no MOE_VERSION_MAJOR/MINOR/PATCH in moe.h"; exit 1 ;;
esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/moe-cmake.XXXXXX")
# the temporary directory goes when every way passed (unless KEEP=1); otherwise its logs stay
trap 'if [ "$fails" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$TMP"; else echo "cmake-check: logs in $TMP"; fi' EXIT
echo "cmake-check: moe $VERSION, $(cmake --version | head -n 1), pkg-config $(pkg-config --version), $CC"

# report NAME LOG STATUS: one line; on failure the end of the log
report() {
    if [ "$3" -eq 0 ]; then
        printf 'PASS  %-18s %s\n' "$1" "$(grep '^consumer:' "$2" | tail -n 1)"
    else
        printf 'FAIL  %-18s (log: %s)\n' "$1" "$2"
        tail -n 25 "$2" | sed 's/^/      | /'
        fails=$((fails + 1))
    fi
}

# consumer NAME [cmake args...]: configure, build and run the CMake consumer in $TMP/NAME
consumer() {
    local name=$1; shift
    local b="$TMP/$name"
    {
        cmake -S "$CONSUMER" -B "$b" -DCMAKE_C_FLAGS="$CFLAGS_CHECK" -DEXPECT_VERSION="$VERSION" "$@" &&
        cmake --build "$b" &&
        "$b/consumer"
    } >"$TMP/$name.log" 2>&1
    report "$name" "$TMP/$name.log" $?
}

# pkgconfig NAME PREFIX [extra cc args]: compile main.c with cc and pkg-config's flags, run it
# shellcheck disable=SC2046,SC2086 # pkg-config's output and CFLAGS_CHECK are meant to be split
pkgconfig() {
    local name=$1 prefix=$2; shift 2
    {
        export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
        pkg-config --exists --print-errors "moe = $VERSION" &&
        echo "pkg-config --cflags --libs moe: $(pkg-config --cflags --libs moe)" &&
        "$CC" -std=c99 $CFLAGS_CHECK "$@" -DEXPECT_VERSION="\"$VERSION\"" \
            $(pkg-config --cflags moe) "$CONSUMER/main.c" -o "$TMP/$name.bin" \
            $(pkg-config --libs moe) &&
        "$TMP/$name.bin"
    } >"$TMP/$name.log" 2>&1
    report "$name" "$TMP/$name.log" $?
}

# install NAME PREFIX [cmake args...]: configure moe for the default prefix, install it to PREFIX
install_moe() {
    local name=$1 prefix=$2; shift 2
    {
        cmake -S "$REPO" -B "$TMP/$name" -DMOE_BUILD_EXAMPLES=OFF "$@" &&
        cmake --install "$TMP/$name" --prefix "$prefix" &&
        (for f in include/moe.h share/cmake/moe/moeConfig.cmake share/cmake/moe/moeConfigVersion.cmake \
                  share/cmake/moe/moeTargets.cmake share/pkgconfig/moe.pc; do
            [ -f "$prefix/$f" ] || { echo "not installed: $prefix/$f"; exit 1; }
        done)
    } >"$TMP/$name.log" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || report "$name" "$TMP/$name.log" $rc
    return $rc
}

# (a) add_subdirectory
consumer add_subdirectory -DMOE_VIA=subdirectory -DMOE_SOURCE="$REPO"

# (b) FetchContent from a local git snapshot of the working tree (uncommitted edits included)
snap="$TMP/moe-git"
if {
    mkdir -p "$snap" &&
    if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$REPO" && git ls-files -z -co --exclude-standard |
            while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
            tar --null -T - -cf -) | tar -xf - -C "$snap"
    else
        (cd "$REPO" && tar --exclude=./build -cf - .) | tar -xf - -C "$snap"
    fi &&
    git -C "$snap" init -q &&
    git -C "$snap" add -A &&
    git -C "$snap" -c user.name=moe -c user.email=moe@localhost -c commit.gpgsign=false \
        commit -q -m snapshot &&
    git -C "$snap" tag "v$VERSION"
} >"$TMP/snapshot.log" 2>&1; then
    consumer FetchContent -DMOE_VIA=fetchcontent -DMOE_GIT="file://$snap" -DMOE_TAG="v$VERSION"
else
    report FetchContent "$TMP/snapshot.log" 1
fi

# the repo as the top-level project: default options build the examples
{
    cmake -S "$REPO" -B "$TMP/toplevel" -DCMAKE_C_FLAGS="$CFLAGS_CHECK" &&
    cmake --build "$TMP/toplevel" &&
    "$TMP/toplevel/minimal" | sed -n '1s/^/consumer: /p' &&
    [ -x "$TMP/toplevel/demo" ]
} >"$TMP/top-level.log" 2>&1
report top-level "$TMP/top-level.log" $?

# (c) cmake --install, find_package; (d) pkg-config on the same prefix
if install_moe install "$TMP/prefix"; then
    consumer find_package -DMOE_VIA=find_package -DCMAKE_PREFIX_PATH="$TMP/prefix"
    pkgconfig pkg-config "$TMP/prefix"
else
    echo "FAIL  find_package       (not run: the install failed)"
    echo "FAIL  pkg-config         (not run: the install failed)"
    fails=$((fails + 2))
fi

# the same with MOE_OPENMP=ON: the config file finds OpenMP, moe.pc carries its flags
if install_moe install-omp "$TMP/prefix-omp" -DMOE_OPENMP=ON; then
    consumer find_package+omp -DMOE_VIA=find_package -DCMAKE_PREFIX_PATH="$TMP/prefix-omp" \
        -DEXPECT_OPENMP=ON
    pkgconfig pkg-config+omp "$TMP/prefix-omp" -DEXPECT_OPENMP
else
    echo "FAIL  find_package+omp   (not run: the install failed)"
    echo "FAIL  pkg-config+omp     (not run: the install failed)"
    fails=$((fails + 2))
fi

if [ "$fails" -ne 0 ]; then
    echo "cmake-check: $fails failed"
    exit 1
fi
echo "cmake-check: all passed"
