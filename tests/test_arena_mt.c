/* regio-test: labels=mt timeout=300 */
/*
 * tests/test_arena_mt.c: the arena's thread-safe parts under contention.
 * Threads allocate and free chunk runs, publish themselves as owners and
 * check that nobody else holds their chunks (a run handed out twice would be
 * seen as a foreign owner or a foreign byte), while others look pointers up,
 * take user references and read stats.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "arena_internal.h"

#define MIB     ((size_t)1 << 20)
#define THREADS 4
#define ROUNDS  20000

static struct regio_arena *arena;
static atomic_int stop_readers;

struct worker {
    int id;
    uint64_t seed;
    uint64_t allocs;
    uint64_t full;
};

static void *chunk_worker(void *arg)
{
    struct worker *w = arg;
    uint8_t tag = (uint8_t)(w->id + 1);
    for (int round = 0; round < ROUNDS; round++) {
        uint32_t n = 1 + (uint32_t)(test_rand(&w->seed) % 3);
        uint32_t first;
        int r = regio__arena_chunks_alloc(arena, n, &first);
        if (r == -ENOMEM) {
            w->full++;
            continue;
        }
        CHECK_OK(r);
        w->allocs++;
        uint32_t per_region = (uint32_t)(regio__arena_region_bytes(arena) >> REGIO_CHUNK_SHIFT);
        CHECK_EQ(first / per_region, (first + n - 1) / per_region);
        for (uint32_t i = first; i < first + n; i++) {
            uint8_t *p = regio__arena_chunk_ptr(arena, i);
            CHECK(regio__arena_chunk_owner(arena, p) == NULL);
            regio__arena_chunk_set_owner(arena, i, w);
            p[0] = tag;
            p[REGIO_CHUNK_BYTES - 1] = tag;
        }
        for (uint32_t i = first; i < first + n; i++) {
            uint8_t *p = regio__arena_chunk_ptr(arena, i);
            CHECK(regio__arena_chunk_owner(arena, p + 4096) == w);
            CHECK_EQ(p[0], tag);
            CHECK_EQ(p[REGIO_CHUNK_BYTES - 1], tag);
        }
        regio__arena_chunks_free(arena, first, n);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(arena, &st));
    uint64_t seed = 42;
    while (!atomic_load(&stop_readers)) {
        size_t off = (size_t)(test_rand(&seed) % st.size_bytes);
        int r = regio_arena_region_of(arena, (uint8_t *)st.base + off, 1);
        CHECK_EQ(r, (int)(off / st.region_bytes));
        regio__arena_user_get(arena);
        struct regio_arena_stats now;
        CHECK_OK(regio_arena_stats(arena, &now));
        CHECK(now.users >= 1);
        CHECK(now.chunks_used <= now.chunks_total);
        regio__arena_user_put(arena);
    }
    return NULL;
}

int main(void)
{
    uint64_t seed = test_seed();
    /* 4 regions of 3 chunks: small enough that threads collide often. */
    struct regio_arena_opts o = {.size_bytes = 24 * MIB, .region_bytes = 6 * MIB};
    CHECK_OK(regio_arena_create(&o, &arena));
    pthread_t t[THREADS], rd;
    struct worker w[THREADS];
    CHECK_EQ(pthread_create(&rd, NULL, reader, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.id = i, .seed = seed + (uint64_t)i};
        CHECK_EQ(pthread_create(&t[i], NULL, chunk_worker, &w[i]), 0);
    }
    uint64_t allocs = 0;
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        allocs += w[i].allocs;
    }
    atomic_store(&stop_readers, 1);
    CHECK_EQ(pthread_join(rd, NULL), 0);
    CHECK(allocs > 0);
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(arena, &st));
    CHECK_EQ(st.chunks_used, 0);
    CHECK_EQ(st.users, 0);
    CHECK_OK(regio_arena_destroy(arena));
    printf("arena mt: %llu runs allocated\n", (unsigned long long)allocs);
    return 0;
}
