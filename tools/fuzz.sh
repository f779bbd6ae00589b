#!/usr/bin/env bash
# tools/fuzz.sh: run the fuzz targets (tests/fuzz/fuzz_*.c) with libFuzzer.
# Configures a clang build with REGIO_FUZZ=ON and ASan+UBSan in build-fuzz/,
# then runs each target (or those named) for SECONDS seconds, one after the
# other, at the lowest priority. New inputs go to build-fuzz/corpus/<name>/
# (seeded from the committed corpus); a crash leaves its input in
# build-fuzz/findings/<name>/ and stops that target. A finding that is fixed
# becomes a file in tests/fuzz/corpus/<name>/, so every ordinary test run
# replays it (the test fuzz_<name>). Prints executions per target.
# Targets: wal (recovery and readers over mutated logs), record (decoder and
# segment scan), page (page verification), stats (stats reader), dump (the
# regio-dump wal/pages/arena parsers, their verdicts against strict open).
#
#   tools/fuzz.sh [SECONDS] [name...]     default 60 seconds, every target
#
# Environment: REGIO_FUZZ_DIR (build directory, default build-fuzz),
# REGIO_JOBS (build jobs, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
dir=${REGIO_FUZZ_DIR:-build-fuzz}
command -v clang >/dev/null || { echo "tools/fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGIO_FUZZ=ON \
  -DREGIO_SANITIZE=address,undefined -DREGIO_BUILD_TOOLS=OFF >/dev/null
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    [ "$n" = fuzz_util ] || names+=("${n#fuzz_}")
  done
fi
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
cmake --build "$dir" -j "${REGIO_JOBS:-2}" --target "${targets[@]}" >/dev/null
for n in "${names[@]}"; do
  mkdir -p "$dir/corpus/$n" "$dir/findings/$n"
  cp -n tests/fuzz/corpus/"$n"/* "$dir/corpus/$n/" 2>/dev/null || true
  log="$dir/findings/$n/last.log"
  rc=0
  REGIO_TEST_DIR=/dev/shm nice -n 19 "$dir/fuzz_$n" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$dir/findings/$n/" "$dir/corpus/$n" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "fuzz_$n: ${execs:-?} executions in ${seconds} s, exit $rc$([ $rc -ne 0 ] && echo " (finding: see $log)")"
done
