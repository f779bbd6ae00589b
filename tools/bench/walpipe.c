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
 * 4 KiB records; then 4 and 16 threads with 4096 each, each also against
 * one thread of the same depth and record size in the same rounds. The log is opened and
 * warmed to recycled segments once, a checkpointer recycles segments
 * throughout, and each round measures the bandwidth and then every
 * configuration.
 */
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <stddef.h>
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

/* A full window waits until it has drained to a quarter free, and only the
 * callback that crosses that mark wakes the appender: a wake-up per record
 * (a FUTEX_WAKE by the callback thread and a FUTEX_WAIT by the appender for
 * every record once the device is the bottleneck) would be the harness's
 * cost, not the log's, and a database that commits in batches refills its
 * window in batches too. */
static uint32_t low_water(uint32_t depth)
{
    return depth - (depth + 3) / 4;
}

static void pipe_cb(void *ctx, int res)
{
    struct piper *p = ctx;
    if (res != 0)
        atomic_store(&p->cb_err, res);
    atomic_fetch_add_explicit(&p->done, 1, memory_order_relaxed);
    if (atomic_fetch_sub(&p->inflight, 1) - 1 == low_water(p->depth))
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
            while (v > low_water(p->depth) && !atomic_load(&p->stop)) {
                syscall(SYS_futex, (uint32_t *)&p->inflight, FUTEX_WAIT_PRIVATE, v, &ms, NULL, 0);
                v = atomic_load(&p->inflight);
            }
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

/* What the log did during a trial, from regio_wal_stats. */
struct pipe_stats {
    double per_sync;       /* records made durable per sync */
    double bytes_per_sync; /* log bytes (headers and padding included) per flush write */
    double syncs_per_s;
    double bytes_per_rec; /* log bytes per record */
    double cpus_busy;     /* process CPU time / wall time: appenders, flusher, callbacks */
    double cs_per_rec;    /* the process's context switches per durable record */
};

/* One trial: durable records/s over the last 90 % of `seconds` (the first
 * tenth fills the pipeline), what the log did in *ps. */
static int pipe_trial(struct regio_wal *w, const struct pipe_cfg *c, double seconds,
                      struct bench_trial *t, struct pipe_stats *ps)
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
    int64_t cs0 = wal_context_switches();
    struct bench_clock clk;
    bench_clock_start(&clk);
    usleep((useconds_t)(seconds * 9e5));
    /* A few records at least, however slow the device is right now (one in
     * flight on a loaded disk may take longer than a short window). */
    for (int i = 0; i < 2000 && pipers_done(p, started) - d0 < 4; i++)
        usleep(1000);
    int64_t cpu;
    int64_t wall = bench_clock_stop(&clk, &cpu);
    int64_t cs = wal_context_switches() - cs0;
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
    double syncs = (double)(s1.syncs - s0.syncs);
    double bytes = (double)(s1.bytes_written - s0.bytes_written);
    double recs = (double)(s1.records_synced - s0.records_synced);
    ps->per_sync = syncs > 0 ? recs / syncs : NAN;
    ps->bytes_per_sync = syncs > 0 ? bytes / syncs : NAN;
    ps->syncs_per_s = syncs * 1e9 / (double)wall;
    ps->bytes_per_rec = recs > 0 ? bytes / recs : NAN;
    ps->cpus_busy = (double)cpu / (double)wall;
    ps->cs_per_rec = d1 > d0 ? (double)cs / (double)(d1 - d0) : NAN;
    return rc;
}

/*
 * The 4 KiB rows fall short of the device's bandwidth, which is measured
 * with a sync every 16 MiB. A second baseline says how much of that is the
 * log's durability cadence rather than regio's code: the log's own flushes
 * written by hand, in the same round, right after regio's trial: RWF_DSYNC
 * writes of the trial's median flush size (log bytes per sync), as many in
 * flight as the log allows (max_flushes, default 2). The ratio is regio's
 * durable log bytes per second over the hand-written stream's.
 */
#define WAL_DEFAULT_FLUSHES 2

static bool has_hand_row(const struct pipe_cfg *c)
{
    return c->rec_bytes == 4096 && c->depth == 4096 && c->threads <= 4;
}

static int hand_trial(const char *raw, double secs, const struct pipe_cfg *c,
                      const struct pipe_stats *ps, struct bench_trial t, struct bench_pair *p)
{
    /* A short trial on a slow device can end before any sync completes in
     * its window: then the log's defaults stand in (a flush of the 1 MiB
     * buffer, a 32-byte header a record), so that every round is paired. */
    double flush = ps->bytes_per_sync > 0 ? ps->bytes_per_sync : (double)(1u << 20);
    double per_rec = ps->bytes_per_rec > 0 ? ps->bytes_per_rec : (double)c->rec_bytes + 32;
    struct raw_result fl;
    int rc = raw_flush_stream(raw, secs, (size_t)flush, WAL_DEFAULT_FLUSHES, &fl);
    if (rc != 0)
        return rc;
    struct bench_trial b = {fl.ops / per_rec, fl.cpu_ns / (flush / per_rec)};
    bench_pair_add(p, t, b);
    return 0;
}

static double stat_median(const struct pipe_stats *st, int n, size_t off)
{
    double v[BENCH_MAX_ROUNDS];
    for (int k = 0; k < n; k++)
        v[k] = *(const double *)(const void *)((const char *)&st[k] + off);
    return bench_median(v, n);
}

static void pipe_rows(const struct bench_ctx *ctx, const struct pipe_cfg *c,
                      const struct bench_pair *p, const struct bench_pair *hand,
                      const struct pipe_stats *st)
{
    char name[96], base[96], note[256];
    snprintf(name, sizeof(name), "%d thread%s x %u in flight, %zu B", c->threads,
             c->threads > 1 ? "s" : "", c->depth, c->rec_bytes);
    snprintf(base, sizeof(base), "device seq write bandwidth / %zu B", c->rec_bytes);
    struct bench_summary s;
    bench_pair_summary(p, true, &s);
    double bps = stat_median(st, p->n, offsetof(struct pipe_stats, bytes_per_sync));
    double per_sync = stat_median(st, p->n, offsetof(struct pipe_stats, per_sync));
    double syncs = stat_median(st, p->n, offsetof(struct pipe_stats, syncs_per_s));
    double busy = stat_median(st, p->n, offsetof(struct pipe_stats, cpus_busy));
    double cs = stat_median(st, p->n, offsetof(struct pipe_stats, cs_per_rec));
    snprintf(note, sizeof(note),
             "%.1f MB/s of payload, device %.1f MB/s; %.0f records per sync; %.0f KiB per flush "
             "write, %.0f syncs/s; CPU %.0f ns per record, %.2f CPUs busy",
             s.regio * (double)c->rec_bytes / 1e6, s.base * (double)c->rec_bytes / 1e6, per_sync,
             bps / 1024, syncs, s.regio_cpu, busy);
    bench_pair_row(ctx, "walpipe", name, "durable records/s", true, p, base, note);
    /* The same figures for report.py, which explains a miss from them (the
     * 4-thread rows against the one-thread rows: CPU-bound or not, CPU per
     * record growing with threads or not, flush sizes). CPUs busy is the
     * whole process's CPU time over the trial's wall time, per round;
     * context switches per record the whole process's (getrusage), which
     * grow when threads block and are woken again. */
    bench_row_figure(ctx, "cpus_busy", busy);
    bench_row_figure(ctx, "records_per_flush", per_sync);
    bench_row_figure(ctx, "kib_per_flush", bps / 1024);
    bench_row_figure(ctx, "syncs_per_s", syncs);
    bench_row_figure(ctx, "cs_per_record", cs);
    if (hand->n == 0)
        return;
    snprintf(note, sizeof(note),
             "the log's flushes by hand: RWF_DSYNC writes of the trial's flush size (median "
             "%.0f KiB), %d in flight, right after regio's trial",
             bps / 1024, WAL_DEFAULT_FLUSHES);
    bench_pair_row(ctx, "walpipe", name, "durable records/s", true, hand,
                   "the log's flushes by hand (RWF_DSYNC, same size)", note);
}

/* The one-thread configuration with c's depth and record size (-1: none,
 * or c is one). */
static int one_thread_cfg(const struct pipe_cfg *c)
{
    if (c->threads == 1)
        return -1;
    for (size_t i = 0; i < CFG_COUNT; i++)
        if (cfgs[i].threads == 1 && cfgs[i].depth == c->depth && cfgs[i].rec_bytes == c->rec_bytes)
            return (int)i;
    return -1;
}

/* Pipelined commits scale with threads when this row's ratio is >= 1: the
 * threads' durable records/s over one thread's, round by round, so that a
 * round in which the device was slow moves both (the medians of the two
 * rows come from different rounds). */
static void scale_row(const struct bench_ctx *ctx, const struct pipe_cfg *c,
                      const struct bench_pair *p)
{
    char name[96], base[96];
    snprintf(name, sizeof(name), "%d threads x %u in flight, %zu B", c->threads, c->depth,
             c->rec_bytes);
    snprintf(base, sizeof(base), "1 thread x %u in flight, same record size", c->depth);
    bench_pair_row(ctx, "walpipe", name, "durable records/s", true, p, base,
                   "both measured in every round; the ratio is the per-round ratio's median");
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
    static struct bench_pair pairs[CFG_COUNT], hand[CFG_COUNT], scale[CFG_COUNT];
    static struct pipe_stats st[CFG_COUNT][BENCH_MAX_ROUNDS];
    memset(pairs, 0, sizeof(pairs));
    memset(hand, 0, sizeof(hand));
    memset(scale, 0, sizeof(scale));
    double secs = ctx->seconds / 2;
    for (int round = 0;
         rc == 0 &&
         (bench_pair_more(ctx, &pairs[0], true) || bench_pairs_short(ctx, pairs, CFG_COUNT) ||
          bench_pairs_short(ctx, hand, CFG_COUNT) || bench_pairs_short(ctx, scale, CFG_COUNT));
         round++) {
        struct raw_result bw;
        rc = raw_bandwidth(raw, secs, &bw);
        struct bench_trial trial[CFG_COUNT];
        for (size_t k = 0; rc == 0 && k < CFG_COUNT; k++) {
            /* Alternate the order of configurations between rounds. */
            size_t i = round % 2 ? CFG_COUNT - 1 - k : k;
            struct bench_trial b = {bw.ops / (double)cfgs[i].rec_bytes,
                                    bw.cpu_ns / ((1u << 20) / (double)cfgs[i].rec_bytes)};
            struct pipe_stats *ps = &st[i][pairs[i].n];
            rc = pipe_trial(w, &cfgs[i], secs, &trial[i], ps);
            if (rc == 0)
                bench_pair_add(&pairs[i], trial[i], b);
            if (rc == 0 && has_hand_row(&cfgs[i]))
                rc = hand_trial(raw, secs, &cfgs[i], ps, trial[i], &hand[i]);
        }
        /* More threads against one thread with the same depth and record
         * size, paired within the round. */
        for (size_t i = 0; rc == 0 && i < CFG_COUNT; i++) {
            int one = one_thread_cfg(&cfgs[i]);
            if (one >= 0)
                bench_pair_add(&scale[i], trial[i], trial[one]);
        }
    }
    int crc = wal_checkpointer_stop(&ck);
    rc = rc != 0 ? rc : crc;
    for (size_t i = 0; rc == 0 && i < CFG_COUNT; i++) {
        pipe_rows(ctx, &cfgs[i], &pairs[i], &hand[i], st[i]);
        if (scale[i].n > 0)
            scale_row(ctx, &cfgs[i], &scale[i]);
    }
    int closed = regio_wal_close(w);
    wal_rm(dir);
    raw_remove(raw);
    return rc != 0 ? rc : closed;
}

BENCH_REGISTER("walpipe",
               "pipelined commits (K records in flight, callbacks) vs the device's sequential "
               "write bandwidth",
               bench_walpipe)
