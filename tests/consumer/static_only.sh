#!/usr/bin/env bash
# tests/consumer/static_only.sh SOURCE_DIR CMAKE CC [SANITIZE [BUILD_TYPE [LAUNCHER]]]:
# configure regio with -DREGIO_BUILD_SHARED=OFF (library only), build and
# install it, then build the outside program against the installed static
# library: with find_package(regio), where regio::regio must name the static
# library, and with `pkg-config --static`. A static-only configuration once
# failed outright ("cannot create ALIAS target regio::regio because target
# regio is itself an ALIAS"), and nothing else in the suite configures it.
set -euo pipefail
src=$1
cmake_bin=$2
cc=$3
sanitize=${4:-}
build_type=${5:-RelWithDebInfo}
launcher=${6:-}
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d /tmp/regio-static-only.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

# Same flags as the build under test, so that ccache (when it is the
# launcher) finds the objects it already has: the build directory must not
# enter its hash.
export CCACHE_NOHASHDIR=1
args=(-DREGIO_BUILD_SHARED=OFF -DREGIO_BUILD_TESTS=OFF -DREGIO_BUILD_TOOLS=OFF
      -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$build_type" -DREGIO_SANITIZE="$sanitize")
if [ -n "$launcher" ]; then
    args+=(-DCMAKE_C_COMPILER_LAUNCHER="$launcher")
fi

echo "== configure with REGIO_BUILD_SHARED=OFF"
"$cmake_bin" -S "$src" -B "$work/build" "${args[@]}" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; exit 1; }
"$cmake_bin" --build "$work/build" -j2 >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; exit 1; }
"$cmake_bin" --install "$work/build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; exit 1; }
[ -n "$(find "$prefix" -name 'libregio.a')" ] || { echo "no libregio.a installed"; exit 1; }
[ -z "$(find "$prefix" -name 'libregio.so*')" ] || { echo "a shared library was installed"; exit 1; }

flags=()
if [ -n "$sanitize" ]; then
    flags=(-fsanitize="$sanitize")
fi

echo "== find_package(regio): regio::regio is the static library"
"$cmake_bin" -S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="${flags[*]}" >"$work/consumer.log" 2>&1 ||
    { cat "$work/consumer.log"; exit 1; }
"$cmake_bin" --build "$work/consumer" >"$work/consumer-build.log" 2>&1 ||
    { cat "$work/consumer-build.log"; exit 1; }
"$work/consumer/consumer_cmake"
"$work/consumer/consumer_static"
linked=$(ldd "$work/consumer/consumer_cmake" || true)
if grep -q "libregio" <<<"$linked"; then
    echo "consumer_cmake links a shared libregio:"; echo "$linked"; exit 1
fi

echo "== pkg-config --static regio"
libdir=$(dirname "$(find "$prefix" -name 'libregio.a' | head -n1)")
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc_flags=$(pkg-config --static --cflags --libs regio)
echo "pkg-config --static --cflags --libs regio: $pc_flags"
# shellcheck disable=SC2086
"$cc" -std=c17 "${flags[@]}" "$here/demo.c" $pc_flags -o "$work/consumer_pc"
"$work/consumer_pc"
echo "static-only build, install and consumers: ok"
