/*
 * tools/bench/walpipe.c: "walpipe", pipelined commits: appenders that do
 * not wait for each record's sync but keep up to K records in flight and
 * take each acknowledgement as a callback (regio_wal_notify_durable), as a
 * database that commits in batches does (TigerBeetle: one sync per batch of
 * thousands). The bound is then the device's bandwidth, not its sync
 * latency, so the baseline is the device's sequential O_DIRECT write
 * bandwidth measured in the same round (1 MiB writes, 4 in flight,
 * durable every 16 MiB), expressed as records/s of the record's payload size: the ratio is
 * the fraction of the device's bandwidth that reaches the log as durable
 * payload.
 *
 * Rows: one thread with K = 1, 64, 4096 records in flight, 100-byte and
 * 4 KiB records; then 4 and 16 threads with 4096 each. The log is opened and
 * warmed to recycled segments once, a checkpointer recycles segments
 * throughout, and each round measures the bandwidth and then every
 * configuration.
 */
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "wal_util.h"

#define MAX_PIPE_THREADS 16

struct pipe_cfg {
    int threads;
    uint32_t depth; /* records in flight per thread */
    size_t rec_bytes;
};

static const struct pipe_cfg cfgs[] = {
    {1, 1, 100},     {1, 64, 100},   {1, 4096, 100},  {1, 1, 4096},    {1, 64, 4096},
    {1, 4096, 4096}, {4, 4096, 100}, {16, 4096, 100}, {4, 4096, 4096}, {16, 4096, 4096},
};
#define CFG_COUNT (sizeof(cfgs) / sizeof(cfgs[0]))

struct piper {
    struct regio_wal *w;
    size_t rec_bytes;
    uint32_t depth;
    _Atomic uint32_t inflight;
    _Atomic uint64_t done;
    _Atomic int cb_err;
    _Atomic bool stop;
    int err;
    pthread_t th;
};

static void pipe_cb(void *ctx, int res)
{
    struct piper *p = ctx;
    if (res != 0)
        atomic_store(&p->cb_err, res);
    atomic_fetch_add_explicit(&p->done, 1, memory_order_relaxed);
    if (atomic_fetch_sub(&p->inflight, 1) >= p->depth)
        syscall(SYS_futex, (uint32_t *)&p->inflight, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *piper_main(void *arg)
{
    struct piper *p = arg;
    uint8_t *rec = malloc(p->rec_bytes);
    if (rec == NULL) {
        p->err = -ENOMEM;
        return NULL;
    }
    memset(rec, 0x6b, p->rec_bytes);
    struct timespec ms = {0, 1000000};
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        uint32_t v = atomic_load(&p->inflight);
        if (v >= p->depth) {
            syscall(SYS_futex, (uint32_t *)&p->inflight, FUTEX_WAIT_PRIVATE, v, &ms, NULL, 0);
            continue;
        }
        uint64_t lsn;
        int rc = regio_wal_append(p->w, rec, p->rec_bytes, &lsn);
        if (rc == 0) {
            atomic_fetch_add(&p->inflight, 1);
            rc = regio_wal_notify_durable(p->w, lsn, pipe_cb, p);
            if (rc != 0)
                atomic_fetch_sub(&p->inflight, 1);
        }
        if (rc != 0) {
            p->err = rc;
            break;
        }
    }
    free(rec);
    return NULL;
}

static uint64_t pipers_done(struct piper *p, int n)
{
    uint64_t d = 0;
    for (int i = 0; i < n; i++)
        d += atomic_load(&p[i].done);
    return d;
}

/* One trial: durable records/s over the last 90 % of `seconds` (the first
 * tenth fills the pipeline), records per sync in *per_sync. */
static int pipe_trial(struct regio_wal *w, const struct pipe_cfg *c, double seconds,
                      struct bench_trial *t, double *per_sync)
{
    struct piper p[MAX_PIPE_THREADS];
    int started = 0, rc = 0;
    for (int i = 0; i < c->threads; i++) {
        memset(&p[i], 0, sizeof(p[i]));
        p[i].w = w;
        p[i].rec_bytes = c->rec_bytes;
        p[i].depth = c->depth;
        if (pthread_create(&p[i].th, NULL, piper_main, &p[i]) != 0) {
            rc = -EAGAIN;
            break;
        }
        started++;
    }
    usleep((useconds_t)(seconds * 1e5));
    struct regio_wal_stats s0, s1;
    regio_wal_stats(w, &s0);
    uint64_t d0 = pipers_done(p, started);
    struct bench_clock clk;
    bench_clock_start(&clk);
    usleep((useconds_t)(seconds * 9e5));
    /* A few records at least, however slow the device is right now (one in
     * flight on a loaded disk may take longer than a short window). */
    for (int i = 0; i < 2000 && pipers_done(p, started) - d0 < 4; i++)
        usleep(1000);
    int64_t cpu;
    int64_t wall = bench_clock_stop(&clk, &cpu);
    uint64_t d1 = pipers_done(p, started);
    regio_wal_stats(w, &s1);
    for (int i = 0; i < started; i++)
        atomic_store(&p[i].stop, true);
    for (int i = 0; i < started; i++) {
        pthread_join(p[i].th, NULL);
        /* Every callback comes before the next trial starts. */
        while (atomic_load(&p[i].inflight) > 0)
            usleep(1000);
        if (p[i].err != 0)
            rc = p[i].err;
        if (atomic_load(&p[i].cb_err) != 0)
            rc = atomic_load(&p[i].cb_err);
    }
    t->value = (double)(d1 - d0) * 1e9 / (double)wall;
    t->cpu_ns_per_op = bench_per_op(cpu, (double)(d1 - d0));
    uint64_t syncs = s1.syncs - s0.syncs;
    *per_sync = syncs ? (double)(s1.records_synced - s0.records_synced) / (double)syncs : NAN;
    return rc;
}

static int bench_walpipe(const struct bench_ctx *ctx)
{
    char dir[1024], raw[1024];
    snprintf(dir, sizeof(dir), "%s/regio-bench-walpipe-%d", ctx->dir, (int)getpid());
    snprintf(raw, sizeof(raw), "%s/regio-bench-walpipe-raw-%d", ctx->dir, (int)getpid());
    struct regio_wal_opts o = {0};
    struct regio_wal *w;
    uint64_t seg_bytes;
    int rc = wal_open_warm(ctx, dir, &o, &w, &seg_bytes);
    if (rc != 0) {
        bench_note(ctx, "walpipe: open: %s %s", regio_strerror(rc), regio_error_detail());
        return rc;
    }
    struct wal_checkpointer ck;
    wal_checkpointer_start(&ck, w, seg_bytes / 2);
    static struct bench_pair pairs[CFG_COUNT];
    double per_sync[CFG_COUNT][BENCH_MAX_ROUNDS];
    memset(pairs, 0, sizeof(pairs));
    double secs = ctx->seconds / 2;
    for (int round = 0; rc == 0 && bench_pair_more(ctx, &pairs[0], true); round++) {
        struct raw_result bw;
        rc = raw_bandwidth(raw, secs, &bw);
        for (size_t k = 0; rc == 0 && k < CFG_COUNT; k++) {
            /* Alternate the order of configurations between rounds. */
            size_t i = round % 2 ? CFG_COUNT - 1 - k : k;
            struct bench_trial t, b = {bw.ops / (double)cfgs[i].rec_bytes,
                                       bw.cpu_ns / ((1u << 20) / (double)cfgs[i].rec_bytes)};
            rc = pipe_trial(w, &cfgs[i], secs, &t, &per_sync[i][pairs[i].n]);
            if (rc == 0)
                bench_pair_add(&pairs[i], t, b);
        }
    }
    int crc = wal_checkpointer_stop(&ck);
    rc = rc != 0 ? rc : crc;
    for (size_t i = 0; rc == 0 && i < CFG_COUNT; i++) {
        char name[96], base[96], note[160];
        snprintf(name, sizeof(name), "%d thread%s x %u in flight, %zu B", cfgs[i].threads,
                 cfgs[i].threads > 1 ? "s" : "", cfgs[i].depth, cfgs[i].rec_bytes);
        snprintf(base, sizeof(base), "device seq write bandwidth / %zu B", cfgs[i].rec_bytes);
        double ps[BENCH_MAX_ROUNDS];
        memcpy(ps, per_sync[i], sizeof(double) * (size_t)pairs[i].n);
        struct bench_summary s;
        bench_pair_summary(&pairs[i], true, &s);
        snprintf(note, sizeof(note),
                 "%.1f MB/s of payload, device %.1f MB/s; %.0f records per sync",
                 s.regio * (double)cfgs[i].rec_bytes / 1e6,
                 s.base * (double)cfgs[i].rec_bytes / 1e6, bench_median(ps, pairs[i].n));
        bench_pair_row(ctx, "walpipe", name, "durable records/s", true, &pairs[i], base, note);
    }
    int closed = regio_wal_close(w);
    wal_rm(dir);
    return rc != 0 ? rc : closed;
}

BENCH_REGISTER("walpipe",
               "pipelined commits (K records in flight, callbacks) vs the device's sequential "
               "write bandwidth",
               bench_walpipe)
