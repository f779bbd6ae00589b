/*
 * tools/bench/slab.c: "slab", the cost of an allocation and free of an I/O
 * buffer.
 *
 * For each tier class: nanoseconds per regio_slab_alloc + regio_slab_free
 * pair on one thread, against glibc aligned_alloc(4096, size) + free in the
 * same run; then both on two threads at once (each with its own loop), as
 * throughput and as scaling over one thread. One byte of every buffer is
 * written, on both sides, so that neither allocation can be optimised away.
 * Each measurement gets a quarter of --seconds, split in three trials of
 * which the best is reported: on a shared machine the other load only ever
 * slows a trial down, so the best trial is the least disturbed one. The load
 * average is printed with the results.
 *
 * A last row sets the 4 KiB figure against the floor of the interface on
 * this machine (slab_floor.c: one buffer, one store and one compare-and-swap
 * of its state word per pair, the same 24-byte handle by value, nothing
 * else), measured in the same way.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "regio.h"
#include "slab_floor.h"

#define ARENA_BYTES  ((size_t)128 << 20)
#define WARMUP_PAIRS 256

/* Who a pair loop measures. */
enum pair_kind { PAIRS_REGIO, PAIRS_GLIBC, PAIRS_FLOOR };

/* Aligned so that the two threads' loops never share a cache line. */
struct pair_loop {
    alignas(64) enum pair_kind kind;
    struct regio_slab *s; /* PAIRS_REGIO */
    size_t size;
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

static int glibc_pairs(size_t size, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char *p = aligned_alloc(4096, size);
        if (p == NULL)
            return -ENOMEM;
        ((volatile char *)p)[0] = 1;
        free(p);
    }
    return 0;
}

/* The same loop over the floor allocator (one thread only: one buffer). */
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

static int run_pairs(const struct pair_loop *l, uint32_t n)
{
    switch (l->kind) {
    case PAIRS_REGIO:
        return regio_pairs(l->s, l->size, n);
    case PAIRS_GLIBC:
        return glibc_pairs(l->size, n);
    default:
        return floor_pairs(n);
    }
}

/* Pairs in batches until the budget is spent; the batch shrinks for slow
 * allocators so the loop does not overrun its budget much. */
static void *pair_main(void *arg)
{
    struct pair_loop *l = arg;
    if (l->start)
        pthread_barrier_wait(l->start);
    l->err = run_pairs(l, WARMUP_PAIRS);
    uint32_t batch = 64;
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
    return NULL;
}

/* Pairs per second over nthreads threads (1 or 2), NAN on failure. */
static double measure_once(enum pair_kind kind, struct regio_slab *s, size_t size, int nthreads,
                           int64_t budget_ns)
{
    struct pair_loop l[2];
    pthread_barrier_t start;
    pthread_t t[2];
    pthread_barrier_init(&start, NULL, (unsigned)nthreads);
    for (int i = 0; i < nthreads; i++) {
        l[i] = (struct pair_loop){.kind = kind,
                                  .s = s,
                                  .size = size,
                                  .budget_ns = budget_ns,
                                  .start = nthreads > 1 ? &start : NULL};
    }
    if (nthreads == 1) {
        pair_main(&l[0]);
    } else {
        for (int i = 0; i < nthreads; i++)
            if (pthread_create(&t[i], NULL, pair_main, &l[i]) != 0)
                return NAN;
        for (int i = 0; i < nthreads; i++)
            pthread_join(t[i], NULL);
    }
    pthread_barrier_destroy(&start);
    double rate = 0;
    for (int i = 0; i < nthreads; i++) {
        if (l[i].err < 0 || l[i].elapsed_ns <= 0) {
            fprintf(stderr, "slab bench: %zu bytes: %s\n", size, regio_strerror(l[i].err));
            return NAN;
        }
        rate += (double)l[i].pairs * 1e9 / (double)l[i].elapsed_ns;
    }
    return rate;
}

/* The best of `trials` measurements, each of budget_ns / trials. */
static double measure(enum pair_kind kind, struct regio_slab *s, size_t size, int nthreads,
                      int64_t budget_ns, int trials)
{
    double best = NAN;
    for (int i = 0; i < trials; i++) {
        double r = measure_once(kind, s, size, nthreads, budget_ns / trials);
        if (isnan(r))
            return NAN;
        if (isnan(best) || r > best)
            best = r;
    }
    return best;
}

static void size_name(char *out, size_t len, const char *prefix, size_t bytes)
{
    if (bytes % (1u << 20) == 0)
        snprintf(out, len, "%s %zu MiB", prefix, bytes >> 20);
    else
        snprintf(out, len, "%s %zu KiB", prefix, bytes >> 10);
}

static void bench_class(const struct bench_ctx *ctx, struct regio_slab *s, size_t bytes,
                        int64_t budget_ns)
{
    int n = ctx->quick ? 1 : 3;
    static const char *glibc = "glibc aligned_alloc+free";
    char name[64];
    double r1 = measure(PAIRS_REGIO, s, bytes, 1, budget_ns, n);
    double g1 = measure(PAIRS_GLIBC, NULL, bytes, 1, budget_ns, n);
    double r2 = measure(PAIRS_REGIO, s, bytes, 2, budget_ns, n);
    double g2 = measure(PAIRS_GLIBC, NULL, bytes, 2, budget_ns, n);
    size_name(name, sizeof(name), "1 thread,", bytes);
    bench_row(ctx, "slab", name, "ns/pair", false, 1e9 / r1, glibc, 1e9 / g1, NULL);
    size_name(name, sizeof(name), "2 threads,", bytes);
    bench_row(ctx, "slab", name, "Mpairs/s", true, r2 / 1e6, glibc, g2 / 1e6, NULL);
    size_name(name, sizeof(name), "2T/1T scaling,", bytes);
    bench_row(ctx, "slab", name, "x 1 thread", true, r2 / r1, "glibc scaling", g2 / g1, NULL);
}

static int bench_slab(const struct bench_ctx *ctx)
{
    struct regio_arena_opts ao = {.size_bytes = ARENA_BYTES};
    struct regio_arena *a = NULL;
    int rc = regio_arena_create(&ao, &a);
    if (rc < 0) {
        fprintf(stderr, "slab bench: arena: %s %s\n", regio_strerror(rc), regio_error_detail());
        return rc;
    }
    struct regio_slab *s = NULL;
    rc = regio_slab_create(a, NULL, &s);
    if (rc < 0) {
        regio_arena_destroy(a);
        return rc;
    }
    struct regio_slab_stats st;
    regio_slab_stats(s, &st);
    struct regio_arena_stats ast;
    regio_arena_stats(a, &ast);
    double load[1] = {NAN};
    getloadavg(load, 1);
    bench_note(ctx,
               "slab: %u tier classes, arena of %zu MiB (%s pages), %.2f s per class, "
               "best of %d trials, load average %.2f",
               st.tier_count, ast.size_bytes >> 20, regio_pages_name(ast.pages), ctx->seconds,
               ctx->quick ? 1 : 3, load[0]);
    int64_t budget_ns = (int64_t)(ctx->seconds * 1e9 / 4);
    for (uint32_t cid = 0; cid < st.tier_count; cid++) {
        size_t bytes = st.classes[cid].buf_bytes;
        /* --quick: the smallest, a middle and the largest class. */
        if (ctx->quick && bytes != 4096 && bytes != 65536 && cid + 1 != st.tier_count)
            continue;
        bench_class(ctx, s, bytes, budget_ns);
    }
    /* regio against the interface's floor, measured back to back. */
    int n = ctx->quick ? 1 : 3;
    double r4k = measure(PAIRS_REGIO, s, 4096, 1, budget_ns, n);
    double fl = measure(PAIRS_FLOOR, NULL, 4096, 1, budget_ns, n);
    bench_row(ctx, "slab", "1 thread, 4 KiB vs floor", "ns/pair", false, 1e9 / r4k,
              "floor: 1 store + 1 CAS a pair", 1e9 / fl, NULL);
    rc = regio_slab_destroy(s);
    if (rc == 0)
        rc = regio_arena_destroy(a);
    return rc;
}

BENCH_REGISTER("slab", "ns per buffer alloc+free pair vs glibc aligned_alloc, 1 and 2 threads",
               bench_slab)
