#!/usr/bin/env bash
# tools/test.sh: THE test command. Installs what is missing, reserves a few
# hugetlb pages when run as root (so the hugetlb path is really exercised),
# configures and builds, runs the tests, and fails when a test skipped that
# tests/skip-allowlist.txt does not list with a reason.
#
# Environment:
#   REGIO_SANITIZE     '' (default), 'address,undefined' or 'thread'
#   REGIO_BUILD_DIR    build directory (default build/, build-asan/, build-tsan/)
#   REGIO_BUILD_TYPE   CMake build type (default RelWithDebInfo; REGIO_ASSERT
#                      checks stay on in every build type)
#   REGIO_CTEST_ARGS   test selection (default "-LE long": everything but soaks)
#   REGIO_JOBS         parallel build and test jobs (default: number of CPUs)
#   REGIO_HUGEPAGES    hugetlb pages to reserve as root (default 64; 0 = leave)
set -euo pipefail

cd "$(dirname "$0")/.."
REGIO_ROOT=$(pwd)
# shellcheck source=tools/lib.sh
. tools/lib.sh

bash tools/install-deps.sh

sanitize=${REGIO_SANITIZE:-}
case "$sanitize" in
"") default_dir=build ;;
thread) default_dir=build-tsan ;;
*) default_dir=build-asan ;;
esac
build_dir=${REGIO_BUILD_DIR:-$default_dir}
build_type=${REGIO_BUILD_TYPE:-RelWithDebInfo}
jobs=${REGIO_JOBS:-$(nproc)}
read -r -a ctest_args <<<"${REGIO_CTEST_ARGS:--LE long}"

# hugetlb pages: the arena prefers them, and falls back without them; reserve
# some so that the tests cover the preferred path.
regio_reserve_hugepages "${REGIO_HUGEPAGES:-64}"

echo "test.sh: building in $build_dir (${build_type}${sanitize:+, sanitize=$sanitize})"
regio_build "$build_dir" "$sanitize" "$build_type"

# ThreadSanitizer of gcc 12 / clang 14 cannot map its shadow memory with the
# address-space randomisation of recent kernels; run it with ASLR off.
runner=()
if [ "$sanitize" = thread ] && command -v setarch >/dev/null 2>&1; then
    runner=(setarch "$(uname -m)" -R)
fi

log="$build_dir/ctest.log"
set +e
"${runner[@]}" ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
    -j"$jobs" "${ctest_args[@]}" 2>&1 | tee "$log"
ctest_rc=${PIPESTATUS[0]}
set -e

# Every skip must be listed, with its reason, in tests/skip-allowlist.txt:
# lines "test-name  reason..." (test-name may be a shell pattern; # comments).
skip_rc=0
allow=tests/skip-allowlist.txt
mapfile -t skipped < <(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (Skipped)$/\1/p' "$log")
for t in "${skipped[@]}"; do
    listed=
    if [ -f "$allow" ]; then
        while read -r pattern reason; do
            case "$pattern" in "" | "#"*) continue ;; esac
            # shellcheck disable=SC2053
            if [[ $t == $pattern ]] && [ -n "$reason" ]; then
                listed=$reason
                break
            fi
        done <"$allow"
    fi
    if [ -n "$listed" ]; then
        echo "test.sh: skip allowed: $t ($listed)"
    else
        echo "test.sh: FAIL: test $t skipped and is not in $allow with a reason" >&2
        skip_rc=1
    fi
done

if [ "$ctest_rc" -ne 0 ] || [ "$skip_rc" -ne 0 ]; then
    echo "test.sh: FAILED (ctest exit $ctest_rc, unlisted skips: $skip_rc)" >&2
    exit 1
fi
echo "test.sh: all tests passed (${#skipped[@]} allowed skips)"
