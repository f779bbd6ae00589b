#!/usr/bin/env bash
# tools/install-deps.sh: install, with apt-get, whatever regio needs to build,
# test and benchmark that is not installed yet. Idempotent: when everything
# is present it changes nothing and does not touch the network. Quiet, but it
# says what it installed.
set -euo pipefail

# Build: cmake, make, pkg-config, a C17 compiler, liburing, xxhash.
# Tests: cmocka, binutils (nm, for the exported-symbol check), util-linux
# (setarch, for ThreadSanitizer runs), python3 (tools/count-asserts.py, the
# assertion-density test, and the tools' JSON checks). Later issues: clang (fuzzing),
# clang-format (style), fio (benchmark baseline), rocksdb-tools (db_bench,
# the WAL benchmark's RocksDB baseline), libjemalloc2 and libmimalloc2.0 (the
# slab benchmark's allocator baselines, loaded with dlopen), libsqlite3-dev,
# librocksdb-dev and liblmdb-dev (the kv benchmark's competitors, through
# their C APIs; regio-bench builds without them and says so in its rows).
packages=(cmake make pkg-config gcc clang clang-format binutils util-linux python3
          liburing-dev libxxhash-dev libcmocka-dev fio rocksdb-tools
          libjemalloc2 libmimalloc2.0 libsqlite3-dev librocksdb-dev liblmdb-dev)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo_cmd=(sudo)
    else
        echo "install-deps: missing ${missing[*]}, and not root (no sudo): install them first" >&2
        exit 1
    fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}"
