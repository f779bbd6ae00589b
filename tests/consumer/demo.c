/*
 * tests/consumer/demo.c: a tiny program that uses regio only through its
 * installed public interface (<regio.h>). The consumer test builds it
 * against an installed copy (find_package and pkg-config); tools/run.sh
 * uses it as the arena demo. It maps an arena, checks region lookup, says
 * which page kind the kernel gave and why a better one was not, and unmaps.
 */
#include <stdio.h>
#include <stdlib.h>

#include <regio.h>

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 8;
    struct regio_arena_opts opts = {.size_bytes = mib << 20, .region_bytes = 2u << 20};
    struct regio_arena *arena;
    int err = regio_arena_create(&opts, &arena);
    if (err != 0) {
        fprintf(stderr, "regio_arena_create: %s %s\n", regio_strerror(err), regio_error_detail());
        return 1;
    }
    struct regio_arena_stats st;
    regio_arena_stats(arena, &st);
    char *last = (char *)st.base + st.size_bytes - 1;
    int region = regio_arena_region_of(arena, last, 1);
    printf("regio %s: arena of %zu MiB in %u regions, pages %s (kernel page %zu KiB, "
           "THP %zu KiB)%s%s\n",
           regio_version(), st.size_bytes >> 20, st.region_count, regio_pages_name(st.pages),
           st.kernel_page_bytes >> 10, st.anon_huge_bytes >> 10,
           st.fallback_reason[0] ? "; fallback: " : "", st.fallback_reason);
    if (region != (int)st.region_count - 1) {
        fprintf(stderr, "region_of(last byte) = %d, want %u\n", region, st.region_count - 1);
        return 1;
    }
    err = regio_arena_destroy(arena);
    if (err != 0) {
        fprintf(stderr, "regio_arena_destroy: %s\n", regio_strerror(err));
        return 1;
    }
    return 0;
}
