/*
 * tools/bench/torn.c: "torn", what the pager's torn-page protection costs
 * per page write.
 *
 * regio: a pager with the protection AUTO picks (RWF_ATOMIC where the
 * device offers a unit covering the page, else the doublewrite file: a
 * RWF_DSYNC copy before each in-place write). Baseline: the same pager
 * detect-only (checksums, no repair). Both write the same pages and end
 * with regio_pager_sync, so both sides' figures are for durable pages:
 * one page at a time (regio_pager_write_wait) and batches of 32
 * (regio_pager_write_many_wait). Figures are microseconds per page.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "regio.h"

#define PAGE  4096u
#define BATCH 32u

struct torn_env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
    struct regio_buf bufs[BATCH];
    uint64_t nos[BATCH];
    int res[BATCH];
};

/* Write pages pages (batch 1 or BATCH at a time), sync; us per page. */
static int trial(const struct bench_ctx *ctx, struct torn_env *v, enum regio_pager_torn torn,
                 uint32_t batch, uint32_t pages, struct bench_trial *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/torn-bench.pages", ctx->dir);
    struct regio_pager_opts po = {.page_bytes = PAGE, .create = true, .torn = torn};
    struct regio_pager *p;
    int rc = regio_pager_open(v->e, path, &po, &p);
    if (rc != 0)
        return rc;
    struct bench_clock clk;
    bench_clock_start(&clk);
    for (uint32_t done = 0; rc >= 0 && done < pages; done += batch) {
        for (uint32_t i = 0; i < batch; i++)
            v->nos[i] = done + i;
        if (batch == 1)
            rc = regio_pager_write_wait(p, done, v->bufs[0]);
        else
            rc = regio_pager_write_many_wait(p, v->nos, v->bufs, v->res, batch) == 0 ? 0 : -EIO;
    }
    if (rc >= 0)
        rc = regio_pager_sync(p);
    int64_t cpu = 0;
    int64_t wall = bench_clock_stop(&clk, &cpu);
    regio_pager_close(p);
    unlink(path);
    char dw[4200];
    snprintf(dw, sizeof(dw), "%s.dw", path);
    unlink(dw);
    out->value = (double)wall / 1e3 / pages;
    out->cpu_ns_per_op = bench_per_op(cpu, pages);
    return rc < 0 ? rc : 0;
}

static int torn_env_open(struct torn_env *v)
{
    memset(v, 0, sizeof(*v));
    struct regio_arena_opts ao = {.size_bytes = 4u << 20};
    int rc = regio_arena_create(&ao, &v->a);
    if (rc == 0)
        rc = regio_slab_create(v->a, NULL, &v->s);
    if (rc == 0)
        rc = regio_engine_create(v->a, v->s, NULL, &v->e);
    for (uint32_t i = 0; rc == 0 && i < BATCH; i++) {
        rc = regio_slab_alloc(v->s, PAGE, &v->bufs[i]);
        if (rc == 0)
            memset(v->bufs[i].data, (int)i + 1, PAGE);
    }
    return rc;
}

static void torn_env_close(struct torn_env *v)
{
    for (uint32_t i = 0; i < BATCH; i++)
        if (v->bufs[i].data != NULL)
            regio_slab_free(v->s, v->bufs[i]);
    if (v->e != NULL)
        regio_engine_destroy(v->e);
    if (v->s != NULL)
        regio_slab_destroy(v->s);
    if (v->a != NULL)
        regio_arena_destroy(v->a);
}

static int bench_torn(const struct bench_ctx *ctx)
{
    struct torn_env v;
    int rc = torn_env_open(&v);
    uint32_t pages = ctx->quick ? 64 : 1024;
    static struct bench_pair pairs[2];
    memset(pairs, 0, sizeof(pairs));
    const uint32_t batches[2] = {1, BATCH};
    enum regio_pager_torn used = REGIO_PAGER_TORN_AUTO;
    for (int k = 0; rc == 0 && k < 2; k++) {
        while (rc == 0 && bench_pair_more(ctx, &pairs[k], false)) {
            struct bench_trial r, b;
            /* Alternate which side goes first, round by round. */
            bool regio_first = pairs[k].n % 2 == 0;
            rc = trial(ctx, &v, regio_first ? REGIO_PAGER_TORN_AUTO : REGIO_PAGER_TORN_DETECT,
                       batches[k], pages, regio_first ? &r : &b);
            if (rc == 0)
                rc = trial(ctx, &v, regio_first ? REGIO_PAGER_TORN_DETECT : REGIO_PAGER_TORN_AUTO,
                           batches[k], pages, regio_first ? &b : &r);
            if (rc == 0)
                bench_pair_add(&pairs[k], r, b);
        }
    }
    if (rc == 0) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/torn-bench.probe", ctx->dir);
        struct regio_pager_opts po = {.page_bytes = PAGE, .create = true};
        struct regio_pager *p;
        if (regio_pager_open(v.e, path, &po, &p) == 0) {
            used = regio_pager_torn(p);
            regio_pager_close(p);
        }
        unlink(path);
        char dw[4200];
        snprintf(dw, sizeof(dw), "%s.dw", path);
        unlink(dw);
        const char *how = used == REGIO_PAGER_TORN_ATOMIC ? "RWF_ATOMIC" : "doublewrite";
        char note[160];
        snprintf(note, sizeof(note), "%s vs detect-only, durable (pager_sync at the end)", how);
        bench_pair_row(ctx, "torn", "write_wait 4K page, us/page", "us/page", false, &pairs[0],
                       "detect-only", note);
        bench_pair_row(ctx, "torn", "write_many_wait 32 x 4K, us/page", "us/page", false, &pairs[1],
                       "detect-only", note);
    }
    torn_env_close(&v);
    if (rc != 0)
        fprintf(stderr, "regio-bench torn: %s %s\n", regio_strerror(rc), regio_error_detail());
    return rc == 0 ? 0 : 1;
}

BENCH_REGISTER("torn", "torn-page protection (doublewrite or RWF_ATOMIC) vs detect-only, per page",
               bench_torn)
