/*
 * tools/bench/slab.c: "slab", the cost of an allocation and free of an I/O
 * buffer.
 *
 * For each tier class, ns per alloc+free pair on one thread, regio against:
 * the hand-written per-thread free list of pre-aligned buffers (the primary
 * baseline: what a database writes instead of an allocator, with no checks),
 * jemalloc and mimalloc aligned allocation, glibc aligned_alloc + free, and
 * the floor of regio's interface (slab_floor.c: one store and one
 * compare-and-swap a pair, nothing else). Then two threads at once, each
 * with its own loop, against the free list on two threads. One byte of
 * every buffer is written on every side, so that no allocation can be
 * optimised away.
 *
 * Each round runs every allocator once for the class, regio's trial first
 * in even rounds and last in odd ones; one-thread trials are pinned to the
 * bench's CPU, the two threads to two different CPUs. Each row is the
 * median of the per-round ratios with its interval (stats.c).
 *
 * A one-thread pair reuses one buffer, one state word and one magazine slot
 * for the whole run, so every round of a class touches the same addresses,
 * and what those addresses cost is in all of its rounds. That cost is not
 * the same everywhere: the instructions of a pair are the same in every
 * class (174 a pair under callgrind), yet in some classes of a run a pair
 * costs about 3 ns more, which class changes from run to run, and moving
 * the state words by 64 bytes and nothing else moves it (docs/tools.md).
 * So each round also runs regio's pair on a second slab, on its own arena:
 * the same code and class with its state words, magazines and buffers at
 * other addresses, and the loop's stack moved by another multiple of 64
 * bytes each round. Its figures go on the floor row (JSON "figures":
 * second_slab_*), so that a class that misses the floor target on one slab
 * and not on the other shows as the addresses' cost, not the class's.
 */
#include <alloca.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "regio.h"
#include "slab_alloc.h"
#include "slab_floor.h"

#define ARENA_BYTES  ((size_t)128 << 20)
#define WARMUP_PAIRS 256

/* Who a pair loop measures. */
enum pair_kind { K_REGIO, K_FREELIST, K_JEMALLOC, K_MIMALLOC, K_GLIBC, K_FLOOR, K_KINDS };

static const char *const kind_name[K_KINDS] = {
    "regio",
    "per-thread free list (no checks)",
    "jemalloc mallocx+sdallocx",
    "mimalloc mi_malloc_aligned+mi_free",
    "glibc aligned_alloc+free",
    "floor: 1 store + 1 CAS a pair",
};

/* Aligned so that the two threads' loops never share a cache line. */
struct pair_loop {
    alignas(64) enum pair_kind kind;
    struct regio_slab *s; /* K_REGIO */
    unsigned cls;
    size_t size;
    int cpu;
    int64_t budget_ns;
    pthread_barrier_t *start;
    uint64_t pairs;
    int64_t elapsed_ns;
    int err;
};

static int regio_pairs(struct regio_slab *s, size_t size, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct regio_buf b;
        int rc = regio_slab_alloc(s, size, &b);
        if (rc < 0)
            return rc;
        ((volatile char *)b.data)[0] = 1;
        rc = regio_slab_free(s, b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int floor_pairs(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct regio_buf b;
        int rc = slab_floor_alloc(&b);
        if (rc < 0)
            return rc;
        ((volatile char *)b.data)[0] = 1;
        rc = slab_floor_free(b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int other_pairs(const struct pair_loop *l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char *p = l->kind == K_FREELIST ? freelist_alloc(l->cls, l->size)
                  : l->kind == K_GLIBC
                      ? glibc_alloc(l->size)
                      : ext_alloc(l->kind == K_JEMALLOC ? EXT_JEMALLOC : EXT_MIMALLOC, l->size);
        if (p == NULL)
            return -ENOMEM;
        ((volatile char *)p)[0] = 1;
        if (l->kind == K_FREELIST)
            freelist_free(l->cls, p);
        else if (l->kind == K_GLIBC)
            glibc_free(p);
        else
            ext_free(l->kind == K_JEMALLOC ? EXT_JEMALLOC : EXT_MIMALLOC, p, l->size);
    }
    return 0;
}

static int run_pairs(const struct pair_loop *l, uint32_t n)
{
    if (l->kind == K_REGIO)
        return regio_pairs(l->s, l->size, n);
    if (l->kind == K_FLOOR)
        return floor_pairs(n);
    return other_pairs(l, n);
}

/* Pairs in batches until the budget is spent; the batch grows while a batch
 * takes under 0.1 ms, so the clock is read rarely and slow allocators do not
 * overrun their budget much. */
static void *pair_main(void *arg)
{
    struct pair_loop *l = arg;
    cpu_set_t old;
    bool pinned = bench_pin(l->cpu, &old);
    if (l->start)
        pthread_barrier_wait(l->start);
    l->err = run_pairs(l, WARMUP_PAIRS);
    uint32_t batch = 16;
    int64_t t0 = bench_now_ns(), now = t0;
    while (l->err == 0 && now - t0 < l->budget_ns) {
        l->err = run_pairs(l, batch);
        l->pairs += batch;
        int64_t t = bench_now_ns();
        if (t - now < 100000 && batch < 65536)
            batch *= 2;
        now = t;
    }
    l->elapsed_ns = now - t0;
    if (l->kind == K_FREELIST)
        freelist_drain();
    if (pinned)
        bench_unpin(&old);
    return NULL;
}

/* One trial: pairs per second over nthreads threads (1 or 2) and the CPU
 * time per pair; value NAN on failure. */
static struct bench_trial trial(const struct bench_ctx *ctx, enum pair_kind kind,
                                struct regio_slab *s, unsigned cls, size_t size, int nthreads,
                                int64_t budget_ns)
{
    struct pair_loop l[2];
    pthread_barrier_t start;
    pthread_t t[2];
    pthread_barrier_init(&start, NULL, (unsigned)nthreads);
    for (int i = 0; i < nthreads; i++)
        l[i] = (struct pair_loop){.kind = kind,
                                  .s = s,
                                  .cls = cls,
                                  .size = size,
                                  .cpu = nthreads == 1 ? ctx->cpu : bench_nth_cpu(i),
                                  .budget_ns = budget_ns,
                                  .start = nthreads > 1 ? &start : NULL};
    struct bench_clock c;
    bench_clock_start(&c);
    struct bench_trial out = {NAN, NAN};
    if (nthreads == 1) {
        pair_main(&l[0]);
    } else {
        for (int i = 0; i < nthreads; i++)
            if (pthread_create(&t[i], NULL, pair_main, &l[i]) != 0)
                return out;
        for (int i = 0; i < nthreads; i++)
            pthread_join(t[i], NULL);
    }
    int64_t cpu;
    bench_clock_stop(&c, &cpu);
    pthread_barrier_destroy(&start);
    double rate = 0, pairs = 0;
    for (int i = 0; i < nthreads; i++) {
        if (l[i].err < 0 || l[i].elapsed_ns <= 0) {
            fprintf(stderr, "slab bench: %zu bytes: %s\n", size, regio_strerror(l[i].err));
            return out;
        }
        rate += (double)l[i].pairs * 1e9 / (double)l[i].elapsed_ns;
        pairs += (double)l[i].pairs + WARMUP_PAIRS;
    }
    out.value = rate;
    out.cpu_ns_per_op = bench_per_op(cpu, pairs);
    return out;
}

/* ns per pair from a pairs/s trial (keeps the CPU figure). */
static struct bench_trial ns_per_pair(struct bench_trial t)
{
    t.value = 1e9 / t.value;
    return t;
}

static void size_name(char *out, size_t len, const char *prefix, size_t bytes)
{
    if (bytes % (1u << 20) == 0)
        snprintf(out, len, "%s %zu MiB", prefix, bytes >> 20);
    else
        snprintf(out, len, "%s %zu KiB", prefix, bytes >> 10);
}

/* regio's one-thread trial on the second slab, with the calling loop's stack
 * moved by a different multiple of 64 bytes each round: the loop's own
 * stores are among the addresses a pair's cost depends on, so the second
 * slab's rounds meet other lines of the page than the first slab's. */
static __attribute__((noinline)) struct bench_trial second_trial(const struct bench_ctx *ctx,
                                                                 struct regio_slab *s2,
                                                                 unsigned cls, size_t bytes,
                                                                 int64_t budget_ns, int round)
{
    volatile char *pad = alloca(64 + (size_t)round * 1088 % 4096);
    pad[0] = 0;
    return ns_per_pair(trial(ctx, K_REGIO, s2, cls, bytes, 1, budget_ns));
}

/* The second slab's figures on the row just made (the floor row): its
 * median ns and CPU ns a pair, and the median of its per-round ratios to
 * the floor with the interval. */
static void second_slab_figures(const struct bench_ctx *ctx, const struct bench_pair *other)
{
    struct bench_summary sum;
    bench_pair_summary(other, false, &sum);
    bench_row_figure(ctx, "second_slab_ns_per_pair", sum.regio);
    bench_row_figure(ctx, "second_slab_cpu_ns_per_pair", sum.regio_cpu);
    bench_row_figure(ctx, "second_slab_ratio", sum.ratio);
    bench_row_figure(ctx, "second_slab_ratio_lo", sum.lo);
    bench_row_figure(ctx, "second_slab_ratio_hi", sum.hi);
}

static void bench_class(const struct bench_ctx *ctx, struct regio_slab *s, struct regio_slab *s2,
                        unsigned cls, size_t bytes, int64_t budget_ns, const bool *have)
{
    static struct bench_pair one[K_KINDS], two, other;
    memset(one, 0, sizeof(one));
    memset(&two, 0, sizeof(two));
    memset(&other, 0, sizeof(other));
    for (int round = 0;
         bench_pair_more(ctx, &one[K_FREELIST], false) || bench_pairs_short(ctx, one, K_KINDS);
         round++) {
        struct bench_trial t[K_KINDS], r2, f2, o;
        /* The second slab before the others in even rounds, after them in odd. */
        if (round % 2 == 0)
            o = second_trial(ctx, s2, cls, bytes, budget_ns, round);
        /* regio first in even rounds, last in odd ones. */
        for (int j = 0; j < K_KINDS; j++) {
            int k = round % 2 ? K_KINDS - 1 - j : j;
            t[k] = have[k] ? ns_per_pair(trial(ctx, (enum pair_kind)k, s, cls, bytes, 1, budget_ns))
                           : (struct bench_trial){NAN, NAN};
        }
        if (round % 2)
            o = second_trial(ctx, s2, cls, bytes, budget_ns, round);
        for (int k = 1; k < K_KINDS; k++)
            bench_pair_add(&one[k], t[K_REGIO], t[k]);
        bench_pair_add(&other, o, t[K_FLOOR]);
        r2 = trial(ctx, K_REGIO, s, cls, bytes, 2, budget_ns);
        f2 = trial(ctx, K_FREELIST, s, cls, bytes, 2, budget_ns);
        r2.value /= 1e6;
        f2.value /= 1e6;
        bench_pair_add(&two, r2, f2);
    }
    char name[64];
    size_name(name, sizeof(name), "1 thread,", bytes);
    for (int k = 1; k < K_KINDS; k++) {
        bench_pair_row(ctx, "slab", name, "ns/pair", false, &one[k], kind_name[k],
                       have[k] ? NULL : "library not installed (tools/install-deps.sh)");
        if (k == K_FLOOR)
            second_slab_figures(ctx, &other);
    }
    size_name(name, sizeof(name), "2 threads,", bytes);
    bench_pair_row(ctx, "slab", name, "Mpairs/s", true, &two, "per-thread free list, 2 threads",
                   NULL);
}

/* An arena of ARENA_BYTES and a slab with the default tiers on it. */
static int slab_make(struct regio_arena **a, struct regio_slab **s)
{
    struct regio_arena_opts ao = {.size_bytes = ARENA_BYTES};
    int rc = regio_arena_create(&ao, a);
    if (rc < 0) {
        fprintf(stderr, "slab bench: arena: %s %s\n", regio_strerror(rc), regio_error_detail());
        return rc;
    }
    rc = regio_slab_create(*a, NULL, s);
    if (rc < 0) {
        fprintf(stderr, "slab bench: slab: %s %s\n", regio_strerror(rc), regio_error_detail());
        regio_arena_destroy(*a);
    }
    return rc;
}

static int slab_unmake(struct regio_arena *a, struct regio_slab *s)
{
    int rc = regio_slab_destroy(s);
    return rc == 0 ? regio_arena_destroy(a) : rc;
}

static void bench_classes(const struct bench_ctx *ctx, struct regio_slab *s, struct regio_slab *s2,
                          const struct regio_arena *a)
{
    struct regio_slab_stats st;
    regio_slab_stats(s, &st);
    struct regio_arena_stats ast;
    regio_arena_stats(a, &ast);
    bool have[K_KINDS] = {true, true, ext_alloc_load(EXT_JEMALLOC), ext_alloc_load(EXT_MIMALLOC),
                          true, true};
    /* Each trial gets a 25th of --seconds: there are 9 a round. */
    int64_t budget_ns = (int64_t)(ctx->seconds * 1e9 / 25);
    bench_note(ctx,
               "slab: %u tier classes, arena of %zu MiB (%s pages), %.0f ms per trial, "
               "jemalloc %s, mimalloc %s",
               st.tier_count, ast.size_bytes >> 20, regio_pages_name(ast.pages),
               (double)budget_ns / 1e6, have[K_JEMALLOC] ? "loaded" : "not installed",
               have[K_MIMALLOC] ? "loaded" : "not installed");
    for (uint32_t cid = 0; cid < st.tier_count; cid++) {
        size_t bytes = st.classes[cid].buf_bytes;
        /* --quick: the smallest, a middle and the largest class. */
        if (ctx->quick && bytes != 4096 && bytes != 65536 && cid + 1 != st.tier_count)
            continue;
        bench_class(ctx, s, s2, cid, bytes, budget_ns, have);
    }
}

static int bench_slab(const struct bench_ctx *ctx)
{
    struct regio_arena *a = NULL, *a2 = NULL;
    struct regio_slab *s = NULL, *s2 = NULL;
    int rc = slab_make(&a, &s);
    if (rc < 0)
        return rc;
    /* The second slab (see the top of this file), on an arena of its own so
     * that the first slab's chunks are what they would be without it. */
    rc = slab_make(&a2, &s2);
    if (rc < 0) {
        slab_unmake(a, s);
        return rc;
    }
    bench_classes(ctx, s, s2, a);
    rc = slab_unmake(a2, s2);
    int rc1 = slab_unmake(a, s);
    return rc < 0 ? rc : rc1;
}

BENCH_REGISTER("slab",
               "ns per buffer alloc+free pair vs a hand-written free list, jemalloc, mimalloc, "
               "glibc and the one-CAS floor; 2 threads",
               bench_slab)
