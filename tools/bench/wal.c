/*
 * tools/bench/wal.c: "wal", durable appends, each appender waiting for its
 * record to be durable (regio_wal_append + regio_wal_sync).
 *
 * One appender, 100-byte records: regio against the best of the four ways
 * to write durably by hand (pwrite + fdatasync, O_DSYNC, pwritev2
 * RWF_DSYNC, io_uring write + linked fsync; wal_util.c), all measured in
 * the same round with 4 KiB writes (regio pads each flush to a 4 KiB block,
 * so the device sees the same writes). regio runs with sync_method AUTO
 * (the open's probe picks RWF_DSYNC or write + fdatasync) and also with
 * each method forced, against the matching raw loop.
 *
 * 16 and 64 appenders: regio against a hand-written leader/follower group
 * commit over pwrite + fdatasync (wal_gc.c), against RocksDB's db_bench
 * tuned as its authors would (synced overwrites on an existing database,
 * log recycling, auto compactions off, a 256 MiB write buffer, pipelined
 * writes; unordered writes as a second row; a discarded warm-up run of each
 * first), and against the
 * device's capacity with N concurrent O_DSYNC writers.
 *
 * 4 appenders of 64 KiB records: MB/s against 4 concurrent 64 KiB O_DSYNC
 * writers.
 *
 * The logs are opened once and warmed to recycled segments (wal_util.c),
 * and a checkpointer recycles segments during every trial, as in a
 * long-running database. Every comparison is paired rounds (stats.c).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "wal_gc.h"
#include "wal_util.h"

#define MAX_THREADS            64
#define MAX_SAMPLES_PER_THREAD (1u << 16)

struct wal_trial {
    struct bench_trial t; /* appends/s (or MB/s), CPU ns per append */
    double p50_us, p99_us, per_sync;
};

/* ---- Appenders: regio or the hand-written group commit -------------------- */

struct appender {
    struct regio_wal *w; /* regio, or */
    struct gc_log *g;    /* the group commit */
    size_t rec_bytes;
    int64_t deadline_ns;
    int64_t *lat;
    uint64_t n;
    int err;
};

static void *appender_main(void *arg)
{
    struct appender *ap = arg;
    uint8_t *rec = malloc(ap->rec_bytes);
    if (rec == NULL) {
        ap->err = -ENOMEM;
        return NULL;
    }
    memset(rec, 0x5a, ap->rec_bytes);
    while (bench_now_ns() < ap->deadline_ns) {
        int64_t t0 = bench_now_ns();
        int rc;
        if (ap->w != NULL) {
            uint64_t lsn;
            rc = regio_wal_append(ap->w, rec, ap->rec_bytes, &lsn);
            if (rc == 0)
                rc = regio_wal_sync(ap->w, lsn);
        } else {
            rc = gc_commit(ap->g, rec, ap->rec_bytes);
        }
        if (rc != 0) {
            ap->err = rc;
            break;
        }
        if (ap->n < MAX_SAMPLES_PER_THREAD)
            ap->lat[ap->n] = bench_now_ns() - t0;
        ap->n++;
    }
    free(rec);
    return NULL;
}

/* threads appenders for `seconds`, on w (with a checkpointer) or on g. */
static int run_appenders(struct regio_wal *w, uint64_t seg_bytes, struct gc_log *g, int threads,
                         size_t rec_bytes, double seconds, struct wal_trial *out)
{
    struct appender ap[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int64_t *lat = malloc(sizeof(int64_t) * MAX_SAMPLES_PER_THREAD * (size_t)threads);
    if (lat == NULL)
        return -ENOMEM;
    struct wal_checkpointer ck;
    struct regio_wal_stats s0, s1;
    uint64_t gsyncs0 = g != NULL ? g->syncs : 0;
    if (w != NULL) {
        wal_checkpointer_start(&ck, w, seg_bytes / 2);
        regio_wal_stats(w, &s0);
    }
    struct bench_clock c;
    bench_clock_start(&c);
    int64_t deadline = c.wall_ns + (int64_t)(seconds * 1e9);
    int started = 0, rc = 0;
    for (int t = 0; t < threads; t++) {
        ap[t] = (struct appender){.w = w,
                                  .g = g,
                                  .rec_bytes = rec_bytes,
                                  .deadline_ns = deadline,
                                  .lat = lat + (size_t)t * MAX_SAMPLES_PER_THREAD};
        if (pthread_create(&th[t], NULL, appender_main, &ap[t]) != 0) {
            rc = -EAGAIN;
            break;
        }
        started++;
    }
    uint64_t total = 0, samples = 0;
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (ap[t].err != 0)
            rc = ap[t].err;
        total += ap[t].n;
    }
    int64_t cpu;
    int64_t wall = bench_clock_stop(&c, &cpu);
    if (w != NULL) {
        regio_wal_stats(w, &s1);
        int crc = wal_checkpointer_stop(&ck);
        rc = rc != 0 ? rc : crc;
    }
    for (int t = 0; t < started; t++) {
        uint64_t n = ap[t].n < MAX_SAMPLES_PER_THREAD ? ap[t].n : MAX_SAMPLES_PER_THREAD;
        memmove(lat + samples, ap[t].lat, n * sizeof(int64_t));
        samples += n;
    }
    out->t.value = (double)total * 1e9 / (double)wall;
    out->t.cpu_ns_per_op = bench_per_op(cpu, (double)total);
    out->p50_us = samples ? (double)bench_percentile(lat, (int64_t)samples, 0.50) / 1e3 : NAN;
    out->p99_us = samples ? (double)bench_percentile(lat, (int64_t)samples, 0.99) / 1e3 : NAN;
    uint64_t syncs = w != NULL ? s1.syncs - s0.syncs : g->syncs - gsyncs0;
    uint64_t synced = w != NULL ? s1.records_synced - s0.records_synced : total;
    out->per_sync = syncs ? (double)synced / (double)syncs : NAN;
    free(lat);
    return rc;
}

static int run_gc(const char *path, int threads, double seconds, struct wal_trial *out)
{
    struct gc_log g;
    int rc = gc_open(&g, path);
    if (rc == 0)
        rc = run_appenders(NULL, 0, &g, threads, 100, seconds, out);
    gc_close(&g);
    return rc;
}

/* ---- RocksDB's db_bench ------------------------------------------------------ */

static bool have_db_bench(void)
{
    return system("db_bench --version >/dev/null 2>&1") == 0;
}

struct wal_rocks {
    char db[1024], opts[2][1040];
};

/*
 * db_bench 7.8 has no flag for log recycling, so the options come from an
 * options file, one per write mode: recycled log files (which RocksDB only
 * keeps with kSkipAnyCorruptedRecords recovery; any other mode silently
 * turns recycling off), a 256 MiB write buffer and no auto compactions (the
 * run measures the write path, not the LSM's background work), no
 * compression (the value bytes are what reaches the log, as in regio's
 * records), and pipelined or unordered writes.
 */
static int db_options(const char *path, bool unordered)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f,
            "[Version]\n  rocksdb_version=7.8.3\n  options_file_version=1.1\n"
            "[DBOptions]\n  create_if_missing=true\n  recycle_log_file_num=4\n"
            "  wal_recovery_mode=kSkipAnyCorruptedRecords\n  enable_pipelined_write=%s\n"
            "  unordered_write=%s\n  allow_concurrent_memtable_write=true\n"
            "[CFOptions \"default\"]\n  write_buffer_size=268435456\n"
            "  max_write_buffer_number=4\n  disable_auto_compactions=true\n"
            "  compression=kNoCompression\n[TableOptions/BlockBasedTable \"default\"]\n",
            unordered ? "false" : "true", unordered ? "true" : "false");
    return fclose(f) == 0 ? 0 : -EIO;
}

/* Synced overwrites per second of db_bench on the existing database, NAN
 * when it fails; the CPU per write (db_bench's user + system time, its open
 * included) too. */
static struct bench_trial db_bench(const struct wal_rocks *r, int threads, double seconds,
                                   bool unordered)
{
    char cmd[3200];
    int secs = seconds < 1 ? 1 : (int)(seconds + 0.5);
    snprintf(cmd, sizeof(cmd),
             "db_bench --options_file='%s' --benchmarks=overwrite --sync=1 --disable_wal=0 "
             "--threads=%d --duration=%d --value_size=100 --num=100000 --use_existing_db=1 "
             "--db='%s' 2>&1",
             r->opts[unordered ? 1 : 0], threads, secs, r->db);
    struct bench_trial t = {NAN, NAN};
    struct bench_clock c;
    bench_clock_start(&c);
    FILE *fp = popen(cmd, "r");
    if (fp == NULL)
        return t;
    double ops = NAN, done = NAN;
    char line[1024];
    while (fgets(line, sizeof(line), fp) != NULL) {
        /* "overwrite    :  2695.003 micros/op 5859 ops/sec 2.728 seconds 15984 operations; ..." */
        const char *o = strstr(line, " ops/sec");
        if (strncmp(line, "overwrite", 9) != 0 || o == NULL)
            continue;
        const char *p = o;
        while (p > line && p[-1] != ' ')
            p--;
        ops = strtod(p, NULL);
        const char *sec = strstr(o, " seconds ");
        done = sec != NULL ? strtod(sec + 9, NULL) : NAN;
    }
    int st = pclose(fp);
    int64_t cpu;
    bench_clock_stop(&c, &cpu);
    if (st == 0 && isfinite(ops)) {
        t.value = ops;
        t.cpu_ns_per_op = isfinite(done) ? bench_per_op(cpu, done) : NAN;
    }
    return t;
}

/* An existing database, warmed: loaded with 100,000 keys unsynced, then
 * one synced run of each mode whose figures are thrown away. */
static bool db_prepare(struct wal_rocks *r, int threads)
{
    char cmd[2200];
    wal_rm(r->db);
    if (db_options(r->opts[0], false) != 0 || db_options(r->opts[1], true) != 0)
        return false;
    snprintf(cmd, sizeof(cmd),
             "db_bench --options_file='%s' --benchmarks=fillseq --sync=0 --num=100000 "
             "--value_size=100 --db='%s' >/dev/null 2>&1",
             r->opts[0], r->db);
    if (system(cmd) != 0)
        return false;
    return isfinite(db_bench(r, threads, 1, false).value) &&
           isfinite(db_bench(r, threads, 1, true).value);
}

/* ---- Rows ---------------------------------------------------------------------- */

enum log_kind { LOG_AUTO, LOG_DSYNC, LOG_FDATASYNC, LOG_KINDS };

struct wal_bench {
    const struct bench_ctx *ctx;
    char dir[LOG_KINDS][1024], raw[1024];
    struct wal_rocks rdb;
    struct regio_wal *w[LOG_KINDS];
    uint64_t seg_bytes;
    double secs; /* per trial */
};

static int open_logs(struct wal_bench *b)
{
    static const enum regio_wal_sync_method m[LOG_KINDS] = {
        REGIO_WAL_SYNC_AUTO, REGIO_WAL_SYNC_DSYNC, REGIO_WAL_SYNC_FDATASYNC};
    for (int k = 0; k < LOG_KINDS; k++) {
        struct regio_wal_opts o = {.sync_method = m[k]};
        int rc = wal_open_warm(b->ctx, b->dir[k], &o, &b->w[k], &b->seg_bytes);
        if (rc != 0) {
            bench_note(b->ctx, "wal: open %s: %s %s", b->dir[k], regio_strerror(rc),
                       regio_error_detail());
            return rc;
        }
    }
    struct regio_wal_stats st;
    regio_wal_stats(b->w[LOG_AUTO], &st);
    bench_note(b->ctx,
               "wal: sync_method AUTO chose %s (probe: one 4 KiB RWF_DSYNC write %.1f us, "
               "write + fdatasync %.1f us)",
               st.sync_method == REGIO_WAL_SYNC_FDATASYNC ? "write + fdatasync" : "RWF_DSYNC",
               (double)st.sync_probe_dsync_ns / 1e3, (double)st.sync_probe_fdatasync_ns / 1e3);
    return 0;
}

/*
 * How steady AUTO's choice is: a fresh log opened with sync_method AUTO in
 * every round, its probe's two times read from regio_wal_stats (the best of
 * three 4 KiB durable writes each way). The row's ratio is the fdatasync
 * probe's time over the RWF_DSYNC probe's (>1: RWF_DSYNC faster); an
 * interval that holds 1.0 says the two methods are a toss-up on this device
 * and the choice can flip from one open to the next. CPU per operation is
 * the whole open's, on both sides.
 */
static int probe_rounds(struct wal_bench *b)
{
    char dir[1100];
    snprintf(dir, sizeof(dir), "%s-probe", b->dir[LOG_AUTO]);
    static struct bench_pair p;
    memset(&p, 0, sizeof(p));
    int chose_dsync = 0, rc = 0, opens = 0;
    /* A filesystem where the probe cannot run (no O_TMPFILE or O_DIRECT)
     * reports no times: bounded, so such a device gets a note, not a loop. */
    while (rc == 0 && bench_pair_more(b->ctx, &p, false) && opens++ < 2 * BENCH_MAX_ROUNDS) {
        wal_rm(dir);
        struct regio_wal_opts o = {
            .sync_method = REGIO_WAL_SYNC_AUTO, .create = true, .segment_bytes = 16u << 20};
        struct regio_wal *w;
        struct bench_clock c;
        bench_clock_start(&c);
        rc = regio_wal_open(dir, &o, &w, NULL);
        int64_t cpu;
        bench_clock_stop(&c, &cpu);
        if (rc != 0)
            break;
        struct regio_wal_stats st;
        regio_wal_stats(w, &st);
        rc = regio_wal_close(w);
        if (rc != 0 || st.sync_probe_dsync_ns == 0 || st.sync_probe_fdatasync_ns == 0)
            continue;
        chose_dsync += st.sync_method == REGIO_WAL_SYNC_DSYNC;
        bench_pair_add(&p, (struct bench_trial){(double)st.sync_probe_dsync_ns / 1e3, (double)cpu},
                       (struct bench_trial){(double)st.sync_probe_fdatasync_ns / 1e3, (double)cpu});
    }
    wal_rm(dir);
    if (rc != 0) {
        bench_note(b->ctx, "wal: probe: %s %s", regio_strerror(rc), regio_error_detail());
        return rc;
    }
    if (p.n < b->ctx->rounds) {
        bench_note(b->ctx, "wal: the sync probe ran in %d of %d opens: no probe row", p.n, opens);
        return 0;
    }
    char note[160];
    snprintf(note, sizeof(note), "chose RWF_DSYNC in %d of %d opens, write + fdatasync in the rest",
             chose_dsync, p.n);
    bench_pair_row(b->ctx, "wal", "sync_method AUTO: the probe's choice", "us per probe write",
                   false, &p, "the probe's write + fdatasync", note);
    return 0;
}

static int one_appender(struct wal_bench *b)
{
    static struct bench_pair best, each[RAW_MODES], forced[3];
    memset(&best, 0, sizeof(best));
    memset(each, 0, sizeof(each));
    memset(forced, 0, sizeof(forced));
    double p50[BENCH_MAX_ROUNDS], rawp50[RAW_MODES][BENCH_MAX_ROUNDS];
    int rc = 0;
    for (int round = 0; rc == 0 && bench_pair_more(b->ctx, &best, true); round++) {
        struct wal_trial r[LOG_KINDS];
        struct raw_result raw[RAW_MODES];
        /* regio's three logs and the four raw loops, in an order that turns
         * each round. */
        for (int j = 0; rc == 0 && j < LOG_KINDS + RAW_MODES; j++) {
            int k = (j + round) % (LOG_KINDS + RAW_MODES);
            if (k < LOG_KINDS)
                rc = run_appenders(b->w[k], b->seg_bytes, NULL, 1, 100, b->secs, &r[k]);
            else
                rc = raw_loop(b->raw, 4096, (enum raw_mode)(k - LOG_KINDS), b->secs,
                              &raw[k - LOG_KINDS]);
        }
        if (rc != 0)
            break;
        int top = 0;
        for (int m = 0; m < RAW_MODES; m++) {
            bench_pair_add(&each[m], r[LOG_AUTO].t,
                           (struct bench_trial){raw[m].ops, raw[m].cpu_ns});
            rawp50[m][best.n] = raw[m].p50_us;
            if (raw[m].ops > raw[top].ops)
                top = m;
        }
        p50[best.n] = r[LOG_AUTO].p50_us;
        bench_pair_add(&best, r[LOG_AUTO].t, (struct bench_trial){raw[top].ops, raw[top].cpu_ns});
        bench_pair_add(&forced[0], r[LOG_DSYNC].t,
                       (struct bench_trial){raw[RAW_URING_DSYNC].ops, raw[RAW_URING_DSYNC].cpu_ns});
        bench_pair_add(&forced[2], r[LOG_DSYNC].t,
                       (struct bench_trial){raw[RAW_RWF_DSYNC].ops, raw[RAW_RWF_DSYNC].cpu_ns});
        bench_pair_add(
            &forced[1], r[LOG_FDATASYNC].t,
            (struct bench_trial){raw[RAW_URING_LINKED].ops, raw[RAW_URING_LINKED].cpu_ns});
    }
    if (rc != 0)
        return rc;
    char note[256];
    snprintf(note, sizeof(note), "regio p50 %.1f us; the best raw mode of each round",
             bench_median(p50, best.n));
    bench_pair_row(b->ctx, "wal", "1 appender, 100 B, sync each", "durable appends/s", true, &best,
                   "best raw durable 4K write loop", note);
    for (int m = 0; m < RAW_MODES; m++) {
        char base[96];
        snprintf(base, sizeof(base), "raw 4K %s", raw_mode_name[m]);
        snprintf(note, sizeof(note), "raw p50 %.1f us", bench_median(rawp50[m], best.n));
        bench_pair_row(b->ctx, "wal", "1 appender, 100 B, sync each", "durable appends/s", true,
                       &each[m], base, note);
    }
    /* Each forced method against the raw loop that does its I/O (an
     * io_uring write with RWF_DSYNC; one linked to an fdatasync), and DSYNC
     * also against the same write as a plain system call, which the kernel
     * runs in the caller's thread instead of an io-wq worker. */
    bench_pair_row(b->ctx, "wal", "1 appender, sync_method DSYNC", "durable appends/s", true,
                   &forced[0], "raw 4K io_uring write RWF_DSYNC", NULL);
    bench_pair_row(b->ctx, "wal", "1 appender, sync_method DSYNC", "durable appends/s", true,
                   &forced[2], "raw 4K pwritev2 RWF_DSYNC", NULL);
    bench_pair_row(b->ctx, "wal", "1 appender, sync_method FDATASYNC", "durable appends/s", true,
                   &forced[1], "raw 4K io_uring write+linked fsync", NULL);
    return 0;
}

enum many_base { MB_GC, MB_DEV, MB_ROCKS, MB_ROCKS_UNORDERED, MB_KINDS };

static int many_appenders(struct wal_bench *b, int n, bool rocks)
{
    static struct bench_pair p[MB_KINDS];
    memset(p, 0, sizeof(p));
    double p50[BENCH_MAX_ROUNDS], p99[BENCH_MAX_ROUNDS], per[BENCH_MAX_ROUNDS];
    double gc_per[BENCH_MAX_ROUNDS];
    if (rocks && !db_prepare(&b->rdb, n)) {
        bench_note(b->ctx, "wal: db_bench failed to prepare its database; RocksDB rows left out");
        rocks = false;
    }
    int rc = 0;
    for (int round = 0; rc == 0 && bench_pair_more(b->ctx, &p[MB_GC], true); round++) {
        struct wal_trial r, gc;
        struct raw_result dev;
        struct bench_trial db[2] = {{NAN, NAN}, {NAN, NAN}};
        for (int j = 0; rc == 0 && j < 1 + MB_KINDS; j++) {
            int k = (j + round) % (1 + MB_KINDS);
            if (k == 0)
                rc = run_appenders(b->w[LOG_AUTO], b->seg_bytes, NULL, n, 100, b->secs, &r);
            else if (k == 1 + MB_GC)
                rc = run_gc(b->raw, n, b->secs, &gc);
            else if (k == 1 + MB_DEV)
                rc = raw_concurrent(b->raw, 4096, n, b->secs, &dev);
            else if (rocks)
                db[k - 1 - MB_ROCKS] = db_bench(&b->rdb, n, b->secs, k == 1 + MB_ROCKS_UNORDERED);
        }
        if (rc != 0)
            break;
        p50[p[MB_GC].n] = r.p50_us;
        p99[p[MB_GC].n] = r.p99_us;
        per[p[MB_GC].n] = r.per_sync;
        gc_per[p[MB_GC].n] = gc.per_sync;
        bench_pair_add(&p[MB_GC], r.t, gc.t);
        bench_pair_add(&p[MB_DEV], r.t, (struct bench_trial){dev.ops, dev.cpu_ns});
        bench_pair_add(&p[MB_ROCKS], r.t, db[0]);
        bench_pair_add(&p[MB_ROCKS_UNORDERED], r.t, db[1]);
    }
    if (rc != 0)
        return rc;
    char name[64], note[256];
    int rounds = p[MB_GC].n;
    snprintf(name, sizeof(name), "%d appenders, 100 B, sync each", n);
    snprintf(note, sizeof(note),
             "regio p50 %.1f us, p99 %.1f us, %.1f records per sync; the group commit %.1f",
             bench_median(p50, rounds), bench_median(p99, rounds), bench_median(per, rounds),
             bench_median(gc_per, rounds));
    bench_pair_row(b->ctx, "wal", name, "durable appends/s", true, &p[MB_GC],
                   "leader/follower pwrite+fdatasync", note);
    snprintf(note, sizeof(note), "what the device sustains with %d synchronous writers", n);
    bench_pair_row(b->ctx, "wal", name, "durable appends/s", true, &p[MB_DEV],
                   "device: N concurrent 4K O_DSYNC", note);
    const char *rnote = rocks ? "overwrite on an existing db, recycled logs, no auto "
                                "compaction, 256 MiB buffer, warmed; CPU includes its open"
                              : "db_bench not installed or failed (rocksdb-tools)";
    bench_pair_row(b->ctx, "wal", name, "durable appends/s", true, &p[MB_ROCKS],
                   "db_bench sync=1 pipelined", rnote);
    bench_pair_row(b->ctx, "wal", name, "durable appends/s", true, &p[MB_ROCKS_UNORDERED],
                   "db_bench sync=1 unordered", rnote);
    wal_rm(b->rdb.db);
    return 0;
}

static int big_records(struct wal_bench *b)
{
    static struct bench_pair p;
    memset(&p, 0, sizeof(p));
    int rc = 0;
    for (int round = 0; rc == 0 && bench_pair_more(b->ctx, &p, true); round++) {
        struct wal_trial r;
        struct raw_result dev;
        for (int j = 0; rc == 0 && j < 2; j++) {
            if ((j + round) % 2 == 0)
                rc = run_appenders(b->w[LOG_AUTO], b->seg_bytes, NULL, 4, 65536, b->secs, &r);
            else
                rc = raw_concurrent(b->raw, 65536, 4, b->secs, &dev);
        }
        if (rc != 0)
            break;
        r.t.value = r.t.value * 65536 / 1e6;
        r.t.cpu_ns_per_op = r.t.cpu_ns_per_op;
        bench_pair_add(&p, r.t, (struct bench_trial){dev.ops * 65536 / 1e6, dev.cpu_ns});
    }
    if (rc == 0)
        bench_pair_row(b->ctx, "wal", "4 appenders, 64 KiB, sync each", "MB/s", true, &p,
                       "4 concurrent 64K O_DSYNC writers", "CPU per record of 64 KiB");
    return rc;
}

static int bench_wal(const struct bench_ctx *ctx)
{
    static struct wal_bench b;
    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    b.secs = ctx->seconds / 2;
    static const char *const kind[LOG_KINDS] = {"auto", "dsync", "fdatasync"};
    for (int k = 0; k < LOG_KINDS; k++)
        snprintf(b.dir[k], sizeof(b.dir[k]), "%s/regio-bench-wal-%s-%d", ctx->dir, kind[k],
                 (int)getpid());
    snprintf(b.rdb.db, sizeof(b.rdb.db), "%s/regio-bench-wal-rocksdb-%d", ctx->dir, (int)getpid());
    for (int k = 0; k < 2; k++)
        snprintf(b.rdb.opts[k], sizeof(b.rdb.opts[k]), "%s.%s.ini", b.rdb.db,
                 k ? "unordered" : "pipelined");
    snprintf(b.raw, sizeof(b.raw), "%s/regio-bench-wal-raw-%d", ctx->dir, (int)getpid());
    bool rocks = have_db_bench();
    int rc = open_logs(&b);
    if (rc == 0)
        rc = one_appender(&b);
    if (rc == 0)
        rc = probe_rounds(&b);
    /* --quick: 16 appenders only (db_bench takes seconds a run). */
    static const int many[] = {16, 64};
    for (size_t i = 0; rc == 0 && i < (ctx->quick ? 1 : sizeof(many) / sizeof(many[0])); i++)
        rc = many_appenders(&b, many[i], rocks);
    if (rc == 0)
        rc = big_records(&b);
    if (rc != 0)
        bench_note(ctx, "wal: %s %s", regio_strerror(rc), regio_error_detail());
    for (int k = 0; k < LOG_KINDS; k++) {
        if (b.w[k] != NULL) {
            int crc = regio_wal_close(b.w[k]);
            rc = rc != 0 ? rc : crc;
        }
        wal_rm(b.dir[k]);
    }
    for (int k = 0; k < 2; k++)
        unlink(b.rdb.opts[k]);
    return rc;
}

BENCH_REGISTER("wal",
               "durable appends (1/16/64 threads, 64 KiB) vs the best raw durable-write loop, a "
               "hand-written group commit, tuned db_bench and the device's concurrent syncs",
               bench_wal)
