#!/usr/bin/env bash
# tools/run.sh: THE run command. Installs what is missing, reserves hugetlb
# pages when root, builds, then runs the main job: regio-walstress appending
# with verification for a few seconds while regio-dump reads its live stats
# from outside the process.
#
# Environment: REGIO_BUILD_DIR (default build/), REGIO_HUGEPAGES (default 64).
set -euo pipefail

cd "$(dirname "$0")/.."
REGIO_ROOT=$(pwd)
# shellcheck source=tools/lib.sh
. tools/lib.sh

bash tools/install-deps.sh
regio_reserve_hugepages "${REGIO_HUGEPAGES:-64}"
build_dir=${REGIO_BUILD_DIR:-build}
echo "run.sh: building in $build_dir"
regio_build "$build_dir" "" "${REGIO_BUILD_TYPE:-RelWithDebInfo}"

echo "run.sh: regio-walstress --seconds 5 --threads 4 --verify --stats-name run"
"$build_dir/regio-walstress" --seconds 5 --threads 4 --verify --stats-name run &
pid=$!
# --watch waits for the process to publish, then shows its live stats three
# times, 1.5 s apart (fewer if it ends first).
echo "run.sh: regio-dump arena --pid $pid --watch --interval 1.5 --count 3"
dump_rc=0
"$build_dir/regio-dump" arena --pid "$pid" --watch --interval 1.5 --count 3 || dump_rc=$?
stress_rc=0
wait "$pid" || stress_rc=$?
if [ "$stress_rc" -ne 0 ] || [ "$dump_rc" -ne 0 ]; then
    echo "run.sh: FAILED (regio-walstress exit $stress_rc, regio-dump exit $dump_rc)" >&2
    exit 1
fi
echo "run.sh: done: every acknowledged record verified, live stats read from outside"
