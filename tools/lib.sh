# tools/lib.sh: shell helpers shared by tools/test.sh and tools/run.sh
# (sourced, not run).

# Reserve hugetlb 2 MiB pages when root, so that the arena gets its preferred
# page kind; never lowers vm.nr_hugepages. $1 = pages wanted (0 = leave).
regio_reserve_hugepages() {
    local want=$1 have
    if [ "$want" -le 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ] || [ ! -w /proc/sys/vm/nr_hugepages ]; then
        echo "$(basename "$0"): not root: hugetlb pages left as they are" \
             "(vm.nr_hugepages=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo '?'))"
        return 0
    fi
    have=$(cat /proc/sys/vm/nr_hugepages)
    if [ "$have" -lt "$want" ]; then
        echo "$want" >/proc/sys/vm/nr_hugepages || true
        echo "$(basename "$0"): vm.nr_hugepages raised from $have to" \
             "$(cat /proc/sys/vm/nr_hugepages) (2 MiB hugetlb pages for the arena)"
    fi
}

# Configure and build regio in $1 with sanitizer $2 ('' for none) and build
# type $3, quietly; the logs stay in the build directory and are shown when
# a step fails.
regio_build() {
    local dir=$1 sanitize=$2 type=$3 jobs
    jobs=${REGIO_JOBS:-$(nproc)}
    mkdir -p "$dir"
    cmake -S "$REGIO_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" \
          -DREGIO_SANITIZE="$sanitize" >"$dir/configure.log" 2>&1 ||
        { cat "$dir/configure.log"; return 1; }
    cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 ||
        { cat "$dir/build.log"; return 1; }
    grep -E "warning:" "$dir/build.log" | sort -u || true
}
