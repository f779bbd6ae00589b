#!/usr/bin/env bash
# tests/consumer/run.sh BUILD_DIR CMAKE CC [SANITIZE]: install the build into
# a temporary prefix, then build and run a tiny program against the
# installed package twice: with find_package(regio) and with
# `pkg-config --cflags --libs regio`. Also checks that the installed shared
# library exports regio_* symbols only.
set -euo pipefail
build=$1
cmake_bin=$2
cc=$3
sanitize=${4:-}
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d /tmp/regio-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

"$cmake_bin" --install "$build" --prefix "$prefix" >"$work/install.log" ||
    { cat "$work/install.log"; exit 1; }
libdir=$(dirname "$(find "$prefix" -name 'libregio.so' | head -n1)")
[ -f "$libdir/libregio.so" ] || { echo "no libregio.so installed under $prefix"; exit 1; }
[ -f "$prefix/include/regio.h" ] || { echo "no regio.h installed"; exit 1; }

# A sanitizer build's library needs its runtime in the consumer too.
flags=()
if [ -n "$sanitize" ]; then
    flags=(-fsanitize="$sanitize")
fi

echo "== find_package(regio)"
"$cmake_bin" -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="${flags[*]}" >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log"; exit 1; }
"$cmake_bin" --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1 ||
    { cat "$work/cmake-build.log"; exit 1; }
LD_LIBRARY_PATH=$libdir "$work/cmake-build/consumer_cmake"
"$work/cmake-build/consumer_static"
# The CMake-built program must use the installed library, not the build tree.
# (ldd's output is captured first: with pipefail, grep -q closing the pipe
# early would fail the pipeline through ldd's SIGPIPE.)
linked=$(LD_LIBRARY_PATH=$libdir ldd "$work/cmake-build/consumer_cmake")
grep -q "$libdir/libregio.so" <<<"$linked" ||
    { echo "consumer_cmake is not linked to $libdir/libregio.so:"; echo "$linked"; exit 1; }

echo "== pkg-config regio"
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc_flags=$(pkg-config --cflags --libs regio)
echo "pkg-config --cflags --libs regio: $pc_flags"
# shellcheck disable=SC2086
"$cc" -std=c17 "${flags[@]}" "$here/demo.c" $pc_flags -o "$work/consumer_pc"
LD_LIBRARY_PATH=$libdir "$work/consumer_pc"

echo "== exported symbols"
bad=$(nm -D --defined-only "$libdir/libregio.so" | awk '{print $3}' |
      grep -v -E '^regio_[a-z0-9]' | grep -v -E '^(_init|_fini)$' || true)
internal=$(nm -D --defined-only "$libdir/libregio.so" | awk '{print $3}' | grep -E '^regio__' || true)
if [ -n "$bad$internal" ]; then
    echo "libregio.so exports symbols outside the regio_ API:" $bad $internal
    exit 1
fi
echo "exports: $(nm -D --defined-only "$libdir/libregio.so" | grep -c ' regio_') regio_* symbols, nothing else"
