/* regio-test: labels=unit timeout=120 */
/*
 * tests/test_iobuf.c: the slab allocator on one thread: classes and their
 * lookup table, alignment, every misuse with its exact code, pointer lookup
 * at the first and last byte of buffers in every class, pools, exhaustion
 * and timed waits, chunk return, stats (also in the arena's live stats
 * file) and destroy refusal.
 */
#include <unistd.h>

#include "check.h"
#include "regio/stats.h"
#include "slab_internal.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

static struct regio_arena *make_arena(size_t size, size_t region)
{
    struct regio_arena_opts o = {
        .size_bytes = size, .region_bytes = region, .pages = REGIO_PAGES_NORMAL};
    struct regio_arena *a = NULL;
    CHECK_OK(regio_arena_create(&o, &a));
    return a;
}

static struct regio_slab *make_slab(struct regio_arena *a, const struct regio_slab_opts *o)
{
    struct regio_slab *s = NULL;
    CHECK_OK(regio_slab_create(a, o, &s));
    CHECK(s != NULL);
    return s;
}

static void check_in_use(struct regio_slab *s, uint32_t cid, uint64_t want)
{
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.classes[cid].in_use, want);
}

/* The default tiers, and that every length maps to the smallest class that
 * fits it. */
static void test_default_classes(void)
{
    static const size_t want_kib[] = {4,   8,   12,  16,  20,  24,  28,  32,  40,  48,
                                      56,  64,  80,  96,  112, 128, 160, 192, 224, 256,
                                      320, 384, 448, 512, 640, 768, 896, 1024};
    struct regio_arena *a = make_arena(64 * MIB, 0);
    struct regio_slab *s = make_slab(a, NULL);
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.tier_count, sizeof(want_kib) / sizeof(want_kib[0]));
    CHECK_EQ(st.class_count, st.tier_count);
    for (uint32_t i = 0; i < st.tier_count; i++) {
        CHECK_EQ(st.classes[i].buf_bytes, want_kib[i] * KIB);
        CHECK(!st.classes[i].pool);
    }
    /* Lengths at and around every class boundary. */
    for (uint32_t i = 0; i < st.tier_count; i++) {
        size_t bytes = want_kib[i] * KIB;
        size_t lens[] = {bytes, bytes - 1, (i ? want_kib[i - 1] * KIB : 0) + 1};
        for (int k = 0; k < 3; k++) {
            struct regio_buf b;
            CHECK_OK(regio_slab_alloc(s, lens[k], &b));
            CHECK_EQ(b.class_id, i);
            CHECK_EQ(b.cap_bytes, bytes);
            CHECK(b.cap_bytes >= lens[k]);
            CHECK_EQ((uintptr_t)b.data % 4096, 0);
            CHECK_EQ(regio_arena_region_of(a, b.data, b.cap_bytes), b.region);
            /* The memory is ours to write, all of it. */
            memset(b.data, 0xa5, b.cap_bytes);
            CHECK_OK(regio_slab_free(s, b));
        }
    }
    struct regio_buf b;
    CHECK_EQ(regio_slab_alloc(s, 0, &b), -EINVAL);
    CHECK_EQ(regio_slab_alloc(s, MIB + 1, &b), -EINVAL);
    CHECK_EQ(regio_slab_alloc(s, SIZE_MAX, &b), -EINVAL);
    CHECK_EQ(regio_slab_alloc_wait(s, 0, 0, &b), -EINVAL);
    CHECK_EQ(regio_slab_alloc(NULL, 4096, &b), -EINVAL);
    CHECK_EQ(regio_slab_alloc(s, 4096, NULL), -EINVAL);
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

static void test_bad_opts(void)
{
    struct regio_arena *a = make_arena(16 * MIB, 8 * MIB);
    struct regio_slab *s = NULL;
    size_t unaligned[] = {4096, 6000};
    size_t descending[] = {8192, 4096};
    size_t equal[] = {4096, 4096};
    size_t too_big[] = {4096, 16 * MIB}; /* larger than a region */
    size_t zero[] = {0};
    size_t ok[] = {8192, 3 * MIB};
    struct regio_slab_opts o = {.class_bytes = unaligned, .class_count = 2};
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    o.class_bytes = descending;
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    o.class_bytes = equal;
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    o.class_bytes = too_big;
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    o.class_bytes = zero;
    o.class_count = 1;
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    o.class_bytes = ok;
    o.class_count = 0;
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    o.class_count = 2;
    struct regio_pool_opts bad_pool = {.buf_bytes = 5000, .count = 4};
    o.pools = &bad_pool;
    o.pool_count = 1;
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    bad_pool.buf_bytes = 4096;
    bad_pool.count = 0;
    CHECK_EQ(regio_slab_create(a, &o, &s), -EINVAL);
    /* A pool that cannot fit in the arena. */
    bad_pool.count = 5000;
    CHECK_EQ(regio_slab_create(a, &o, &s), -ENOMEM);
    CHECK(s == NULL);
    struct regio_slab_opts big_mag = {.magazine_size = 100000};
    CHECK_EQ(regio_slab_create(a, &big_mag, &s), -EINVAL);
    CHECK_EQ(regio_slab_create(NULL, NULL, &s), -EINVAL);
    CHECK_EQ(regio_slab_create(a, NULL, NULL), -EINVAL);
    /* Nothing was left behind by the failures. */
    struct regio_arena_stats ast;
    CHECK_OK(regio_arena_stats(a, &ast));
    CHECK_EQ(ast.chunks_used, 0);
    CHECK_EQ(ast.users, 0);
    CHECK_OK(regio_arena_destroy(a));
}

/* Every misuse of a handle, each with its code. */
static void test_misuse(void)
{
    struct regio_arena *a = make_arena(32 * MIB, 0);
    struct regio_arena *other = make_arena(4 * MIB, 0);
    struct regio_slab *s = make_slab(a, NULL);
    struct regio_slab *so = make_slab(other, NULL);
    struct regio_buf b, v, x;

    /* Stale handle: freed, then the slot reused. */
    CHECK_OK(regio_slab_alloc(s, 8192, &b));
    struct regio_buf old = b;
    CHECK_OK(regio_slab_free(s, b));
    CHECK_EQ(regio_slab_free(s, old), -EALREADY);
    CHECK_EQ(regio_slab_check(s, old), -EALREADY);
    CHECK_OK(regio_slab_alloc(s, 8192, &b));
    CHECK(b.data == old.data && b.slot == old.slot); /* the cache is LIFO */
    CHECK(b.gen != old.gen);
    CHECK_EQ(regio_slab_free(s, old), -ESTALE);
    CHECK_EQ(regio_slab_check(s, old), -ESTALE);
    CHECK_EQ(regio_slab_io_begin(s, old), -ESTALE);
    CHECK_EQ(regio_slab_io_end(s, old), -ESTALE);
    CHECK_EQ(regio_slab_check(s, b), b.region);
    /* An older generation while free again is stale, not a double free. */
    CHECK_OK(regio_slab_free(s, b));
    CHECK_EQ(regio_slab_free(s, old), -ESTALE);
    CHECK_EQ(regio_slab_free(s, b), -EALREADY);

    /* In flight: a count, free refused until it drops to zero. */
    CHECK_OK(regio_slab_alloc(s, 4096, &b));
    CHECK_EQ(regio_slab_io_end(s, b), -EINVAL); /* io_end without begin */
    CHECK_EQ(regio_slab_io_begin(s, b), b.region);
    CHECK_OK(regio_buf_view(b, 512, 1024, &v));
    CHECK_EQ(regio_slab_io_begin(s, v), b.region);
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.classes[0].in_flight, 1); /* one buffer, two I/Os */
    CHECK_EQ(regio_slab_free(s, b), -EBUSY);
    CHECK_EQ(regio_slab_destroy(s), -EBUSY);
    CHECK_OK(regio_slab_io_end(s, b));
    CHECK_EQ(regio_slab_free(s, b), -EBUSY);
    CHECK_OK(regio_slab_io_end(s, v));
    CHECK_EQ(regio_slab_io_end(s, v), -EINVAL);
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.classes[0].in_flight, 0);

    /* Views: not freeable, bounds checked. */
    CHECK_EQ(regio_slab_free(s, v), -EINVAL);
    CHECK_OK(regio_buf_view(b, 0, 4096, &x));
    CHECK_OK(regio_buf_view(b, 4095, 1, &x));
    CHECK_EQ(regio_buf_view(b, 4096, 1, &x), -EINVAL);
    CHECK_EQ(regio_buf_view(b, 0, 0, &x), -EINVAL);
    CHECK_EQ(regio_buf_view(b, 1, 4096, &x), -EINVAL);
    CHECK_EQ(regio_buf_view(b, SIZE_MAX, 2, &x), -EINVAL);
    CHECK_EQ(regio_buf_view(b, 0, 1, NULL), -EINVAL);
    /* A hand-made view that leaves the slot's buffer. */
    x = b;
    x.cap_bytes = 8192;
    CHECK_EQ(regio_slab_check(s, x), -EINVAL);
    CHECK_EQ(regio_slab_io_begin(s, x), -EINVAL);
    CHECK_EQ(regio_slab_free(s, x), -EINVAL);
    x = b;
    x.cap_bytes = 0;
    CHECK_EQ(regio_slab_check(s, x), -EINVAL);

    /* Foreign pointers: malloc'd memory, another arena, NULL. */
    void *heap = aligned_alloc(4096, 4096);
    CHECK(heap != NULL);
    x = b;
    x.data = heap;
    CHECK_EQ(regio_slab_free(s, x), -EFAULT);
    CHECK_EQ(regio_slab_check(s, x), -EFAULT);
    CHECK_EQ(regio_slab_io_begin(s, x), -EFAULT);
    free(heap);
    x.data = NULL;
    CHECK_EQ(regio_slab_free(s, x), -EFAULT);
    struct regio_buf ob;
    CHECK_OK(regio_slab_alloc(so, 4096, &ob));
    CHECK_EQ(regio_slab_free(s, ob), -EFAULT);
    CHECK_EQ(regio_slab_io_begin(s, ob), -EFAULT);
    CHECK_EQ(regio_slab_check(s, ob), -EFAULT);
    CHECK_OK(regio_slab_free(so, ob));
    /* A range that runs off the end of the arena. */
    struct regio_arena_stats ast;
    CHECK_OK(regio_arena_stats(a, &ast));
    x = b;
    x.data = (char *)ast.base + ast.size_bytes - 4096;
    x.cap_bytes = 8192;
    CHECK_EQ(regio_slab_check(s, x), -EFAULT);

    /* Forged handles: a neighbour's slot, another class, a bad region, a
     * pointer moved to the neighbour, out-of-range class and slot. */
    struct regio_buf n;
    CHECK_OK(regio_slab_alloc(s, 4096, &n));
    CHECK(n.slot != b.slot);
    x = b;
    x.slot = n.slot;
    CHECK_EQ(regio_slab_free(s, x), -EINVAL);
    CHECK_EQ(regio_slab_check(s, x), -EINVAL);
    CHECK_EQ(regio_slab_io_begin(s, x), -EINVAL);
    x = b;
    x.data = n.data;
    CHECK_EQ(regio_slab_free(s, x), -EINVAL);
    CHECK_EQ(regio_slab_io_begin(s, x), -EINVAL);
    x = b;
    x.class_id = 1;
    x.cap_bytes = 8192;
    CHECK(regio_slab_free(s, x) < 0);
    CHECK(regio_slab_io_begin(s, x) < 0);
    x = b;
    x.class_id = 200;
    CHECK_EQ(regio_slab_free(s, x), -EINVAL);
    CHECK_EQ(regio_slab_check(s, x), -EINVAL);
    x = b;
    x.slot = UINT32_MAX;
    CHECK_EQ(regio_slab_free(s, x), -EINVAL);
    CHECK_EQ(regio_slab_io_begin(s, x), -EINVAL);
    x = b;
    x.region = (uint16_t)(b.region + 1);
    CHECK_EQ(regio_slab_free(s, x), -EINVAL);
    CHECK_EQ(regio_slab_check(s, x), -EINVAL);
    CHECK_EQ(regio_slab_io_begin(s, x), -EINVAL);
    x = b;
    x.gen ^= 0x1234;
    CHECK_EQ(regio_slab_free(s, x), -ESTALE);
    /* None of that disturbed the real owners. */
    CHECK_EQ(regio_slab_check(s, b), b.region);
    CHECK_EQ(regio_slab_check(s, n), n.region);
    check_in_use(s, 0, 2);
    CHECK_OK(regio_slab_free(s, n));
    CHECK_OK(regio_slab_free(s, b));

    /* A handle of another slab on the same arena. */
    struct regio_slab *s2 = make_slab(a, NULL);
    struct regio_buf b2;
    CHECK_OK(regio_slab_alloc(s2, 4096, &b2));
    CHECK(regio_slab_free(s, b2) < 0);
    CHECK(regio_slab_check(s, b2) < 0);
    CHECK(regio_slab_io_begin(s, b2) < 0);
    CHECK_EQ(regio_slab_check(s2, b2), b2.region);
    CHECK_OK(regio_slab_free(s2, b2));
    CHECK_OK(regio_slab_destroy(s2));

    CHECK_EQ(regio_slab_free(NULL, b), -EINVAL);
    CHECK_EQ(regio_slab_check(NULL, b), -EINVAL);
    check_in_use(s, 0, 0);
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_slab_destroy(so));
    CHECK_OK(regio_arena_destroy(a));
    CHECK_OK(regio_arena_destroy(other));
}

/* io_begin/check on 1-byte views at the first and last byte of buf find
 * the slot, class and region through the page-descriptor table. */
static void check_ends(struct regio_slab *s, struct regio_buf b)
{
    struct regio_buf v;
    size_t ends[] = {0, b.cap_bytes - 1};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(regio_buf_view(b, ends[k], 1, &v));
        CHECK_EQ(regio_slab_check(s, v), b.region);
        CHECK_EQ(regio_slab_io_begin(s, v), b.region);
        CHECK_OK(regio_slab_io_end(s, v));
        struct regio__buf_loc loc;
        CHECK_OK(regio__slab_locate(s, v.data, &loc));
        CHECK_EQ(loc.class_id, b.class_id);
        CHECK_EQ(loc.slot, b.slot);
        CHECK_EQ(loc.region, b.region);
        CHECK(loc.buf == b.data);
    }
}

static void test_lookup_every_class(void)
{
    /* Several regions, a custom class above 2 MiB (a run of chunks), a
     * class that leaves a tail in each chunk, and a pool. */
    struct regio_arena *a = make_arena(96 * MIB, 16 * MIB);
    struct regio_slab *s = make_slab(a, NULL);
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    for (uint32_t cid = 0; cid < st.tier_count; cid++) {
        /* A few buffers per class, including the last slot of a chunk. */
        uint32_t per_chunk = (uint32_t)(2 * MIB / st.classes[cid].buf_bytes);
        uint32_t n = per_chunk + 1 < 40 ? per_chunk + 1 : 40;
        struct regio_buf bufs[40];
        for (uint32_t i = 0; i < n; i++) {
            CHECK_OK(regio_slab_alloc(s, st.classes[cid].buf_bytes, &bufs[i]));
            CHECK_EQ(bufs[i].class_id, cid);
            check_ends(s, bufs[i]);
        }
        for (uint32_t i = 0; i < n; i++)
            CHECK_OK(regio_slab_free(s, bufs[i]));
    }
    CHECK_OK(regio_slab_destroy(s));

    size_t classes[] = {4096, 1536 * KIB, 3 * MIB, 6 * MIB};
    struct regio_pool_opts pool = {.buf_bytes = 12 * KIB, .count = 200};
    struct regio_slab_opts o = {
        .class_bytes = classes, .class_count = 4, .pools = &pool, .pool_count = 1};
    s = make_slab(a, &o);
    for (uint32_t cid = 0; cid < 4; cid++) {
        struct regio_buf bufs[3];
        for (int i = 0; i < 3; i++) {
            CHECK_OK(regio_slab_alloc(s, classes[cid], &bufs[i]));
            CHECK_EQ(bufs[i].class_id, cid);
            CHECK_EQ((uintptr_t)bufs[i].data % 4096, 0);
            check_ends(s, bufs[i]);
        }
        if (cid == 1) {
            /* The 512 KiB left at the end of a 1.5 MiB chunk is nobody's. */
            struct regio__buf_loc loc;
            CHECK_EQ(regio__slab_locate(s, (char *)bufs[0].data + classes[1], &loc), -EINVAL);
        }
        for (int i = 0; i < 3; i++)
            CHECK_OK(regio_slab_free(s, bufs[i]));
    }
    struct regio_buf p;
    CHECK_OK(regio_slab_alloc_pool(s, 0, 0, &p));
    CHECK_EQ(p.class_id, 4);
    CHECK_EQ(p.cap_bytes, 12 * KIB);
    check_ends(s, p);
    CHECK_OK(regio_slab_free(s, p));
    /* A chunk nobody holds and a pointer outside the arena. */
    struct regio_arena_stats ast;
    CHECK_OK(regio_arena_stats(a, &ast));
    struct regio__buf_loc loc;
    CHECK_EQ(regio__slab_locate(s, (char *)ast.base + ast.size_bytes - 1, &loc), -EINVAL);
    CHECK_EQ(regio__slab_locate(s, (char *)ast.base + ast.size_bytes, &loc), -EFAULT);
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

static void test_pools(void)
{
    struct regio_arena *a = make_arena(16 * MIB, 0);
    struct regio_pool_opts pools[2] = {{.buf_bytes = 64 * KIB, .count = 5},
                                       {.buf_bytes = 4 * MIB, .count = 2}};
    struct regio_slab_opts o = {.pools = pools, .pool_count = 2};
    struct regio_slab *s = make_slab(a, &o);
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.class_count, st.tier_count + 2);
    uint32_t p0 = st.tier_count;
    CHECK(st.classes[p0].pool);
    CHECK_EQ(st.classes[p0].capacity, 5);
    CHECK_EQ(st.classes[p0 + 1].capacity, 2);
    CHECK_EQ(st.chunks, 1 + 4); /* reserved up front */

    struct regio_buf b[6];
    for (int i = 0; i < 5; i++) {
        CHECK_OK(regio_slab_alloc_pool(s, 0, 0, &b[i]));
        CHECK_EQ(b[i].class_id, p0);
        CHECK_EQ(b[i].cap_bytes, 64 * KIB);
    }
    CHECK_EQ(regio_slab_alloc_pool(s, 0, 0, &b[5]), -ENOBUFS);
    int64_t t0 = regio__now_ns();
    CHECK_EQ(regio_slab_alloc_pool(s, 0, 20 * 1000 * 1000, &b[5]), -ETIMEDOUT);
    CHECK(regio__now_ns() - t0 >= 20 * 1000 * 1000);
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.classes[p0].in_use, 5);
    CHECK_EQ(st.classes[p0].high_water, 5);
    CHECK_EQ(st.classes[p0].allocs, 5);
    CHECK_EQ(st.classes[p0].exhaustions, 2);
    CHECK_EQ(st.classes[p0].waits, 1);
    /* A freed pool buffer is at once visible to the next allocation. */
    CHECK_OK(regio_slab_free(s, b[2]));
    CHECK_OK(regio_slab_alloc_pool(s, 0, 0, &b[2]));
    for (int i = 0; i < 5; i++)
        CHECK_OK(regio_slab_free(s, b[i]));

    struct regio_buf big[2], extra;
    CHECK_OK(regio_slab_alloc_pool(s, 1, -1, &big[0]));
    CHECK_OK(regio_slab_alloc_pool(s, 1, 0, &big[1]));
    CHECK_EQ(big[0].cap_bytes, 4 * MIB);
    check_ends(s, big[0]);
    CHECK_EQ(regio_slab_alloc_pool(s, 1, 0, &extra), -ENOBUFS);
    CHECK_EQ(regio_slab_alloc_pool(s, 2, 0, &extra), -EINVAL);
    CHECK_OK(regio_slab_free(s, big[0]));
    CHECK_OK(regio_slab_free(s, big[1]));
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.chunks, 5); /* pools keep their chunks */
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

/* A small arena: tier classes exhaust it, time out waiting, and an empty
 * chunk returns to the arena so another class can carve it. */
static void test_exhaustion_and_return(void)
{
    struct regio_arena *a = make_arena(8 * MIB, 0); /* four chunks */
    struct regio_slab *s = make_slab(a, NULL);
    uint32_t c1m = 27; /* 1 MiB */
    struct regio_buf b[9];
    for (int i = 0; i < 8; i++) {
        CHECK_OK(regio_slab_alloc(s, MIB, &b[i]));
        CHECK_EQ(b[i].class_id, c1m);
    }
    CHECK_EQ(regio_slab_alloc(s, MIB, &b[8]), -ENOBUFS);
    CHECK_EQ(regio_slab_alloc(s, 4096, &b[8]), -ENOBUFS);
    CHECK_EQ(regio_slab_alloc_wait(s, MIB, 0, &b[8]), -ENOBUFS);
    CHECK_EQ(regio_slab_alloc_wait(s, MIB, 15 * 1000 * 1000, &b[8]), -ETIMEDOUT);
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.chunks, 4);
    CHECK_EQ(st.classes[c1m].capacity, 8);
    CHECK_EQ(st.classes[c1m].in_use, 8);
    CHECK_EQ(st.classes[c1m].exhaustions, 3);
    CHECK_EQ(st.classes[c1m].waits, 1);
    CHECK_EQ(st.classes[0].exhaustions, 1);

    struct regio_arena_stats ast;
    CHECK_EQ(regio_arena_destroy(a), -EBUSY); /* the slab is a user */
    CHECK_EQ(regio_slab_destroy(s), -EBUSY);  /* buffers are out */
    for (int i = 0; i < 8; i++)
        CHECK_OK(regio_slab_free(s, b[i]));
    /* The thread keeps a few in its cache; the depot keeps one empty run;
     * the rest went back to the arena, so a 4 KiB buffer can be carved. */
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.classes[c1m].in_use, 0);
    CHECK_EQ(st.classes[c1m].high_water, 8);
    CHECK(st.chunks < 4);
    CHECK_OK(regio_arena_stats(a, &ast));
    CHECK_EQ(ast.chunks_used, st.chunks);
    struct regio_buf small;
    CHECK_OK(regio_slab_alloc(s, 100, &small));
    CHECK_EQ(small.cap_bytes, 4096);
    CHECK_OK(regio_slab_free(s, small));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_stats(a, &ast));
    CHECK_EQ(ast.chunks_used, 0);
    CHECK_OK(regio_arena_destroy(a));
}

/* Many small buffers over several chunks: after they are all freed at most
 * the cached ones and one empty run remain. */
static void test_chunk_hysteresis(void)
{
    struct regio_arena *a = make_arena(32 * MIB, 0);
    struct regio_slab *s = make_slab(a, NULL);
    enum { N = 2048 }; /* four chunks of 4 KiB buffers */
    static struct regio_buf b[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_alloc(s, 4096, &b[i]));
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.chunks, 4);
    CHECK_EQ(st.classes[0].capacity, N);
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(s, b[i]));
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK(st.chunks <= 2);
    CHECK(st.chunks >= 1);
    CHECK_EQ(st.classes[0].in_use, 0);
    CHECK_EQ(st.classes[0].allocs, N);
    /* Reallocating finds everything again. */
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_alloc(s, 4096, &b[i]));
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(s, b[i]));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

/* A stale handle whose chunk went back to the arena, and was then carved by
 * another class, is still stale. */
static void test_stale_after_chunk_reuse(void)
{
    struct regio_arena *a = make_arena(4 * MIB, 0); /* two chunks */
    struct regio_slab_opts o = {.magazine_size = 1};
    struct regio_slab *s = make_slab(a, &o);
    struct regio_buf big[4];
    for (int i = 0; i < 4; i++)
        CHECK_OK(regio_slab_alloc(s, MIB, &big[i]));
    for (int i = 0; i < 4; i++)
        CHECK_OK(regio_slab_free(s, big[i]));
    /* One chunk was released (one empty run is kept), unless the cache
     * holds a buffer of it. */
    struct regio_buf small[600];
    int n = 0;
    while (n < 600 && regio_slab_alloc(s, 4096, &small[n]) == 0)
        n++;
    CHECK(n >= 512);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(regio_slab_free(s, big[i]), -EALREADY);
        struct regio_buf v;
        CHECK_OK(regio_buf_view(big[i], 0, 4096, &v));
        CHECK(regio_slab_io_begin(s, v) < 0);
    }
    for (int i = 0; i < n; i++)
        CHECK_OK(regio_slab_free(s, small[i]));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

/* The slab publishes its counters in the arena's live stats file. */
static void test_live_stats(void)
{
    char name[32], path[96];
    snprintf(name, sizeof(name), "iobuf-test-%d", (int)getpid());
    snprintf(path, sizeof(path), "/dev/shm/regio.%d.%s", (int)getpid(), name);
    struct regio_arena_opts o = {
        .size_bytes = 8 * MIB, .pages = REGIO_PAGES_NORMAL, .stats_name = name};
    struct regio_arena *a = NULL;
    CHECK_OK(regio_arena_create(&o, &a));
    struct regio_slab *s = make_slab(a, NULL);
    struct regio_buf b[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(regio_slab_alloc(s, 4096, &b[i]));
    CHECK_EQ(regio_slab_io_begin(s, b[0]), b[0].region);
    static struct regio_stats_file f;
    bool seen = false;
    for (int i = 0; i < 300 && !seen; i++) {
        CHECK_OK(regio_stats_read(path, &f));
        seen = f.slabs[0].used && f.slabs[0].classes[0].in_use == 3 &&
               f.slabs[0].classes[0].in_flight == 1;
        if (!seen)
            usleep(10000);
    }
    CHECK(seen);
    CHECK_EQ(f.slabs[0].tier_count, 28);
    CHECK_EQ(f.slabs[0].classes[0].buf_bytes, 4096);
    CHECK_EQ(f.slabs[0].classes[0].allocs, 3);
    CHECK_EQ(f.slabs[0].chunks, 1);
    CHECK_OK(regio_slab_io_end(s, b[0]));
    for (int i = 0; i < 3; i++)
        CHECK_OK(regio_slab_free(s, b[i]));
    CHECK_OK(regio_slab_destroy(s));
    /* Detached at destroy: the section is cleared at once. */
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_EQ(f.slabs[0].used, 0);
    CHECK_OK(regio_arena_destroy(a));
}

int main(void)
{
    test_default_classes();
    test_bad_opts();
    test_misuse();
    test_lookup_every_class();
    test_pools();
    test_exhaustion_and_return();
    test_chunk_hysteresis();
    test_stale_after_chunk_reuse();
    test_live_stats();
    printf("iobuf: ok\n");
    return 0;
}
