/*
 * tools/bench/wal.c: "wal", durable appends, each appender waiting for its
 * record to be durable (regio_wal_append + regio_wal_sync).
 *
 * One appender, 100-byte records: regio against the best of the ways to
 * write durably by hand (pwrite + fdatasync, O_DSYNC, pwritev2 RWF_DSYNC,
 * io_uring write + linked fsync, io_uring write RWF_DSYNC; wal_util.c), all
 * measured in every round with 4 KiB writes (regio pads each flush to a
 * 4 KiB block, so the device sees the same writes); the best is the mode
 * with the highest median over the run. regio runs with sync_method AUTO
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
 * Rows that say why a target is missed, measured in the same rounds:
 * forced DSYNC against the raw RWF_DSYNC loop that enters the kernel as the
 * lone appender does (submit, then a separate timed wait), with context
 * switches per append and the appending thread's own CPU; what one
 * cross-thread wake-up costs on this machine (wal_wake.c); for 16 and 64
 * appenders the log's own flushes written by hand (its flush size, 2 in
 * flight), the same appenders on a log with 8 flushes in flight, and the
 * wake-ups of one flush's waiters.
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
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "wal_gc.h"
#include "wal_util.h"

#define MAX_THREADS            64
#define MAX_SAMPLES_PER_THREAD (1u << 16)

struct wal_trial {
    struct bench_trial t; /* appends/s (or MB/s), CPU ns per append */
    double p50_us, p99_us, per_sync;
    /* What the log and the process did, per append or per sync: */
    double cs_per_op;      /* the process's context switches */
    double thread_cpu_ns;  /* CPU of the appending threads alone */
    double bytes_per_sync; /* log bytes per flush write */
    double syncs_per_s;
    double cpus_busy; /* process CPU time over wall time */
};

/* ---- Appenders: regio or the hand-written group commit -------------------- */

struct appender {
    struct regio_wal *w; /* regio, or */
    struct gc_log *g;    /* the group commit */
    size_t rec_bytes;
    int64_t deadline_ns;
    int64_t *lat;
    uint64_t n;
    int64_t cpu_ns; /* this thread's CPU time over the trial */
    int err;
};

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *appender_main(void *arg)
{
    struct appender *ap = arg;
    uint8_t *rec = malloc(ap->rec_bytes);
    if (rec == NULL) {
        ap->err = -ENOMEM;
        return NULL;
    }
    memset(rec, 0x5a, ap->rec_bytes);
    int64_t cpu0 = thread_cpu_ns();
    /* At least one append: on a crowded machine a thread may first run after
     * the deadline, and a trial where no appender appended measures nothing
     * (a round lost to the interval). */
    do {
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
    } while (bench_now_ns() < ap->deadline_ns);
    ap->cpu_ns = thread_cpu_ns() - cpu0;
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
    int64_t cs0 = wal_context_switches();
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
    int64_t thread_cpu = 0;
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (ap[t].err != 0)
            rc = ap[t].err;
        total += ap[t].n;
        thread_cpu += ap[t].cpu_ns;
    }
    int64_t cpu;
    int64_t wall = bench_clock_stop(&c, &cpu);
    int64_t cs = wal_context_switches() - cs0;
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
    out->cs_per_op = total ? (double)cs / (double)total : NAN;
    out->thread_cpu_ns = bench_per_op(thread_cpu, (double)total);
    out->bytes_per_sync =
        w != NULL && syncs ? (double)(s1.bytes_written - s0.bytes_written) / (double)syncs : NAN;
    out->syncs_per_s = (double)syncs * 1e9 / (double)wall;
    out->cpus_busy = (double)cpu / (double)wall;
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

/* The one-appender rows run the first three; LOG_WIDE is AUTO's method
 * with more flushes in flight, for the many-appender rows. */
enum log_kind { LOG_AUTO, LOG_DSYNC, LOG_FDATASYNC, LOG_KINDS, LOG_WIDE = LOG_KINDS, LOG_ALL };

/* LOG_WIDE's flushes in flight (the default is WAL_DEFAULT_FLUSHES). */
#define WIDE_FLUSHES 8

struct wal_bench {
    const struct bench_ctx *ctx;
    char dir[LOG_ALL][1024], raw[1024];
    struct wal_rocks rdb;
    struct regio_wal *w[LOG_ALL];
    uint64_t seg_bytes;
    double secs; /* per trial */
};

static int open_logs(struct wal_bench *b)
{
    enum regio_wal_sync_method m[LOG_ALL] = {REGIO_WAL_SYNC_AUTO, REGIO_WAL_SYNC_DSYNC,
                                             REGIO_WAL_SYNC_FDATASYNC, REGIO_WAL_SYNC_AUTO};
    for (int k = 0; k < LOG_ALL; k++) {
        struct regio_wal_opts o = {.sync_method = m[k]};
        if (k == LOG_WIDE) {
            /* The method AUTO chose, so that only the flushes in flight differ. */
            struct regio_wal_stats st;
            regio_wal_stats(b->w[LOG_AUTO], &st);
            o.sync_method = st.sync_method;
            o.max_flushes = WIDE_FLUSHES;
        }
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
 * five 4 KiB durable writes each way). The row's ratio is the fdatasync
 * probe's time over the RWF_DSYNC probe's (>1: RWF_DSYNC faster); an
 * interval that holds 1.0 says the two methods are a toss-up on this device,
 * where AUTO keeps RWF_DSYNC (fdatasync needs under 3/4 of its time). CPU
 * per operation is the whole open's, on both sides.
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

/* Per-round figures of the one-appender rows that explain its gap. */
enum one_fig {
    OF_REGIO_CS,   /* forced DSYNC: the process's context switches per append */
    OF_RAW_CS,     /* raw io_uring RWF_DSYNC loop, one enter */
    OF_SPLIT_CS,   /* the same write, submit and wait apart */
    OF_THREAD_CPU, /* forced DSYNC: the appending thread's CPU ns per append */
    OF_REGIO_P50,
    OF_RAW_P50,
    OF_SPLIT_P50,
    OF_COUNT
};
static const char *const one_fig_key[OF_COUNT] = {
    "regio_cs_per_op", "raw_cs_per_op", "split_cs_per_op", "appender_cpu_ns",
    "regio_p50_us",    "raw_p50_us",    "split_p50_us"};

static void one_figures(double fig[OF_COUNT][BENCH_MAX_ROUNDS], int n, const struct wal_trial *d,
                        const struct raw_result *raw)
{
    const struct raw_result *one = &raw[RAW_URING_DSYNC], *split = &raw[RAW_URING_DSYNC_SPLIT];
    double v[OF_COUNT] = {d->cs_per_op, one->cs_per_op, split->cs_per_op, d->thread_cpu_ns,
                          d->p50_us,    one->p50_us,    split->p50_us};
    for (int k = 0; k < OF_COUNT; k++)
        fig[k][n] = v[k];
}

static int one_appender(struct wal_bench *b)
{
    static struct bench_pair best, each[RAW_MODES], forced[4];
    static double fig[OF_COUNT][BENCH_MAX_ROUNDS];
    memset(&best, 0, sizeof(best));
    memset(each, 0, sizeof(each));
    memset(forced, 0, sizeof(forced));
    double p50[BENCH_MAX_ROUNDS], rawp50[RAW_MODES][BENCH_MAX_ROUNDS];
    int rc = 0;
    for (int round = 0; rc == 0 && (bench_pair_more(b->ctx, &best, true) ||
                                    bench_pairs_short(b->ctx, each, RAW_MODES) ||
                                    bench_pairs_short(b->ctx, forced, 4));
         round++) {
        struct wal_trial r[LOG_KINDS];
        struct raw_result raw[RAW_MODES_ALL];
        /* regio's three logs and the raw loops (the five of the best-of and
         * the split one), in an order that turns each round. */
        for (int j = 0; rc == 0 && j < LOG_KINDS + RAW_MODES_ALL; j++) {
            int k = (j + round) % (LOG_KINDS + RAW_MODES_ALL);
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
        one_figures(fig, best.n, &r[LOG_DSYNC], raw);
        /* Only to decide when the rounds suffice (--max-rounds); the row
         * pairs regio with the run's best mode (below). */
        bench_pair_add(&best, r[LOG_AUTO].t, (struct bench_trial){raw[top].ops, raw[top].cpu_ns});
        bench_pair_add(&forced[0], r[LOG_DSYNC].t,
                       (struct bench_trial){raw[RAW_URING_DSYNC].ops, raw[RAW_URING_DSYNC].cpu_ns});
        bench_pair_add(&forced[2], r[LOG_DSYNC].t,
                       (struct bench_trial){raw[RAW_RWF_DSYNC].ops, raw[RAW_RWF_DSYNC].cpu_ns});
        bench_pair_add(
            &forced[1], r[LOG_FDATASYNC].t,
            (struct bench_trial){raw[RAW_URING_LINKED].ops, raw[RAW_URING_LINKED].cpu_ns});
        bench_pair_add(&forced[3], r[LOG_DSYNC].t,
                       (struct bench_trial){raw[RAW_URING_DSYNC_SPLIT].ops,
                                            raw[RAW_URING_DSYNC_SPLIT].cpu_ns});
    }
    if (rc != 0)
        return rc;
    /* The baseline is the run's best way to write durably by hand: the
     * mode with the highest median over the rounds, paired round by round.
     * The fastest mode of each round instead would be the largest of five
     * noisy trials, above every mode's own typical rate whenever two modes
     * are close. */
    int top = 0;
    for (int m = 1; m < RAW_MODES; m++) {
        struct bench_summary sm, st;
        bench_pair_summary(&each[m], true, &sm);
        bench_pair_summary(&each[top], true, &st);
        if (sm.base > st.base)
            top = m;
    }
    char note[256];
    snprintf(note, sizeof(note), "regio p50 %.1f us; the run's best raw mode: %s",
             bench_median(p50, best.n), raw_mode_name[top]);
    bench_pair_row(b->ctx, "wal", "1 appender, 100 B, sync each", "durable appends/s", true,
                   &each[top], "best raw durable 4K write loop", note);
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
    /* DSYNC against the raw RWF_DSYNC loop that enters the kernel as the
     * lone appender does (submit, then a separate timed wait), with what
     * report.py takes the gap apart by: context switches per append on
     * both sides (a hand-off to another thread would show as more than the
     * raw loop's one), the appending thread's own CPU, and the p50s. */
    snprintf(note, sizeof(note),
             "context switches per append: regio %.2f, raw one enter %.2f, raw split %.2f; "
             "appending thread CPU %.0f ns per append",
             bench_median(fig[OF_REGIO_CS], best.n), bench_median(fig[OF_RAW_CS], best.n),
             bench_median(fig[OF_SPLIT_CS], best.n), bench_median(fig[OF_THREAD_CPU], best.n));
    bench_pair_row(b->ctx, "wal", "1 appender, sync_method DSYNC", "durable appends/s", true,
                   &forced[3], "raw 4K io_uring write RWF_DSYNC, submit and wait apart", note);
    for (int k = 0; k < OF_COUNT; k++)
        bench_row_figure(b->ctx, one_fig_key[k], bench_median(fig[k], best.n));
    return 0;
}

/*
 * What one cross-thread wake-up costs on this machine (wal_wake.c): the
 * unit a sync waiter pays when another thread's flush covers its record,
 * against the two system calls of a wake-up that does not sleep.
 */
static int wake_row(struct wal_bench *b)
{
    static struct bench_pair p;
    memset(&p, 0, sizeof(p));
    double cs[BENCH_MAX_ROUNDS];
    int rc = 0;
    while (rc == 0 && bench_pair_more(b->ctx, &p, false)) {
        struct bench_trial wake, floor;
        rc = wal_wake_pingpong(b->secs / 2, &wake, &floor, &cs[p.n]);
        if (rc == 0)
            bench_pair_add(&p, wake, floor);
    }
    if (rc != 0)
        return rc;
    char note[160];
    snprintf(note, sizeof(note),
             "two threads, each asleep in FUTEX_WAIT until the other wakes it; %.2f context "
             "switches per wake-up",
             bench_median(cs, p.n));
    bench_pair_row(b->ctx, "wal", "cross-thread wake-up (futex ping-pong)", "us per wake-up", false,
                   &p, "its 2 futex calls without the sleep", note);
    bench_row_figure(b->ctx, "cs_per_wake", bench_median(cs, p.n));
    return 0;
}

enum many_base { MB_GC, MB_DEV, MB_ROCKS, MB_ROCKS_UNORDERED, MB_WIDE, MB_KINDS };

/* The WAL's flushes in flight at most by default (regio_wal_opts.max_flushes). */
#define WAL_DEFAULT_FLUSHES 2

/* Per-round figures of what the log did in the many-appender rows. */
enum many_fig {
    MF_P50, /* regio's append + sync, us */
    MF_P99,
    MF_PER_SYNC, /* records per flush */
    MF_GC_PER,   /* the group commit's records per fdatasync */
    MF_KIB,      /* log KiB per flush write */
    MF_SYNCS,    /* regio's syncs/s */
    MF_HAND,     /* the same flushes by hand: syncs/s */
    MF_BUSY,     /* regio's CPUs busy */
    MF_CS,       /* regio's context switches per append */
    MF_THREAD,   /* CPU ns per append of the appending threads alone */
    MF_WAITERS,  /* the fan-out's sleepers */
    MF_COUNT
};

/*
 * The log's flushes written by hand right after the round's trials: a
 * stream of RWF_DSYNC writes of regio's mean flush size in this round,
 * as many in flight as the log allows (wal_util.h, raw_flush_stream). Its
 * syncs/s times regio's records per sync is what regio would do if each
 * flush took only the device's time; a ratio near 1 says the device's
 * flushes bound the row, one well below 1 that the rest of the commit
 * cycle (waking the waiters, their next appends) does.
 */
static int hand_flushes(struct wal_bench *b, const struct wal_trial *r, struct bench_trial *t,
                        double *syncs_per_s)
{
    /* The mean flush, in whole 4 KiB blocks (a flush is a mix of, say, 8
     * and 12 KiB writes; rounding up would make every hand write larger). */
    double mean = isfinite(r->bytes_per_sync) ? r->bytes_per_sync : 0;
    double chunk = fmax(round(mean / 4096), 1) * 4096;
    double per = isfinite(r->per_sync) && r->per_sync > 0 ? r->per_sync : 1;
    struct raw_result fl;
    int rc = raw_flush_stream(b->raw, b->secs, (size_t)chunk, WAL_DEFAULT_FLUSHES, &fl);
    if (rc != 0)
        return rc;
    *syncs_per_s = fl.ops / chunk;
    *t = (struct bench_trial){*syncs_per_s * per, fl.cpu_ns / per};
    return 0;
}

/* One flush's waiters: the round's records per sync, at most the appenders. */
static int waiters_of(const struct wal_trial *r, int n)
{
    int w = isfinite(r->per_sync) ? (int)lround(r->per_sync) : 1;
    int most = n < WAL_WAKE_MAX ? n : WAL_WAKE_MAX;
    return w < 1 ? 1 : w > most ? most : w;
}

static void many_figures(double fig[MF_COUNT][BENCH_MAX_ROUNDS], int i, const struct wal_trial *r,
                         const struct wal_trial *gc, double hand_syncs, int waiters)
{
    double v[MF_COUNT] = {
        r->p50_us,      r->p99_us,  r->per_sync,  gc->per_sync, r->bytes_per_sync / 1024,
        r->syncs_per_s, hand_syncs, r->cpus_busy, r->cs_per_op, r->thread_cpu_ns,
        (double)waiters};
    for (int k = 0; k < MF_COUNT; k++)
        fig[k][i] = v[k];
}

static void many_rows(struct wal_bench *b, int n, bool rocks, struct bench_pair *p,
                      struct bench_pair *hand, struct bench_pair *fan,
                      double fig[MF_COUNT][BENCH_MAX_ROUNDS])
{
    char name[64], note[320];
    int rounds = p[MB_GC].n;
    double f[MF_COUNT];
    for (int k = 0; k < MF_COUNT; k++)
        f[k] = bench_median(fig[k], rounds);
    snprintf(name, sizeof(name), "%d appenders, 100 B, sync each", n);
    snprintf(note, sizeof(note),
             "regio p50 %.1f us, p99 %.1f us, %.1f records per sync; the group commit %.1f",
             f[MF_P50], f[MF_P99], f[MF_PER_SYNC], f[MF_GC_PER]);
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
    snprintf(note, sizeof(note),
             "regio %.0f syncs/s of %.1f KiB (%.1f records) each, by hand %.0f syncs/s; regio "
             "kept %.2f CPUs busy, %.2f context switches and %.0f ns of appending-thread CPU "
             "per append",
             f[MF_SYNCS], f[MF_KIB], f[MF_PER_SYNC], f[MF_HAND], f[MF_BUSY], f[MF_CS],
             f[MF_THREAD]);
    bench_pair_row(b->ctx, "wal", name, "durable appends/s", true, hand,
                   "the log's flushes by hand (RWF_DSYNC, same size, 2 in flight)", note);
    static const char *const keys[] = {"p50_us",      "records_per_flush", "kib_per_flush",
                                       "syncs_per_s", "hand_syncs_per_s",  "cpus_busy",
                                       "cs_per_op",   "appender_cpu_ns"};
    static const int idx[] = {MF_P50,  MF_PER_SYNC, MF_KIB, MF_SYNCS,
                              MF_HAND, MF_BUSY,     MF_CS,  MF_THREAD};
    for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++)
        bench_row_figure(b->ctx, keys[k], f[idx[k]]);
    snprintf(name, sizeof(name), "%d appenders: one flush's wake-ups", n);
    snprintf(note, sizeof(note),
             "%.0f threads asleep on one futex word (the round's records per sync), woken by "
             "one FUTEX_WAKE as a flush's waiters are",
             f[MF_WAITERS]);
    bench_pair_row(b->ctx, "wal", name, "us until the last runs", false, fan,
                   "the waker's FUTEX_WAKE call alone", note);
    bench_row_figure(b->ctx, "waiters", f[MF_WAITERS]);
}

/*
 * The same appenders on a log that keeps WIDE_FLUSHES flushes in flight
 * instead of the default 2 (same sync method, opened and warmed the same
 * way), in the same rounds: a ratio near 1 says that waiting for a free
 * flush slot is not what bounds the row.
 */
static void wide_row(struct wal_bench *b, int n, const struct bench_pair *p,
                     double fig[2][BENCH_MAX_ROUNDS])
{
    char name[64], base[96], note[160];
    snprintf(name, sizeof(name), "%d appenders, 100 B, sync each", n);
    snprintf(base, sizeof(base), "regio with max_flushes %d (default %d)", WIDE_FLUSHES,
             WAL_DEFAULT_FLUSHES);
    double syncs = bench_median(fig[0], p->n), per = bench_median(fig[1], p->n);
    snprintf(note, sizeof(note), "max_flushes %d: %.0f syncs/s, %.1f records per sync",
             WIDE_FLUSHES, syncs, per);
    bench_pair_row(b->ctx, "wal", name, "durable appends/s", true, p, base, note);
    bench_row_figure(b->ctx, "wide_syncs_per_s", syncs);
    bench_row_figure(b->ctx, "wide_records_per_flush", per);
}

static int many_appenders(struct wal_bench *b, int n, bool rocks)
{
    static struct bench_pair p[MB_KINDS], hand, fan;
    static double fig[MF_COUNT][BENCH_MAX_ROUNDS], wide_fig[2][BENCH_MAX_ROUNDS];
    memset(p, 0, sizeof(p));
    memset(&hand, 0, sizeof(hand));
    memset(&fan, 0, sizeof(fan));
    if (rocks && !db_prepare(&b->rdb, n)) {
        bench_note(b->ctx, "wal: db_bench failed to prepare its database; RocksDB rows left out");
        rocks = false;
    }
    int rc = 0;
    for (int round = 0; rc == 0 && (bench_pair_more(b->ctx, &p[MB_GC], true) ||
                                    bench_pairs_short(b->ctx, p, MB_KINDS));
         round++) {
        struct wal_trial r, gc, wide;
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
            else if (k == 1 + MB_WIDE)
                rc = run_appenders(b->w[LOG_WIDE], b->seg_bytes, NULL, n, 100, b->secs, &wide);
            else if (rocks)
                db[k - 1 - MB_ROCKS] = db_bench(&b->rdb, n, b->secs, k == 1 + MB_ROCKS_UNORDERED);
        }
        /* Sized from this round's regio trial, so after the others. */
        struct bench_trial h, last, call;
        double hand_syncs = NAN;
        int waiters = waiters_of(&r, n);
        if (rc == 0)
            rc = hand_flushes(b, &r, &h, &hand_syncs);
        if (rc == 0)
            rc = wal_wake_fanout(waiters, b->secs / 2, &last, &call);
        if (rc != 0)
            break;
        many_figures(fig, p[MB_GC].n, &r, &gc, hand_syncs, waiters);
        bench_pair_add(&p[MB_GC], r.t, gc.t);
        bench_pair_add(&p[MB_DEV], r.t, (struct bench_trial){dev.ops, dev.cpu_ns});
        bench_pair_add(&p[MB_ROCKS], r.t, db[0]);
        bench_pair_add(&p[MB_ROCKS_UNORDERED], r.t, db[1]);
        bench_pair_add(&p[MB_WIDE], r.t, wide.t);
        wide_fig[0][p[MB_WIDE].n - 1] = wide.syncs_per_s;
        wide_fig[1][p[MB_WIDE].n - 1] = wide.per_sync;
        bench_pair_add(&hand, r.t, h);
        bench_pair_add(&fan, last, call);
    }
    if (rc != 0)
        return rc;
    many_rows(b, n, rocks, p, &hand, &fan, fig);
    wide_row(b, n, &p[MB_WIDE], wide_fig);
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
    static const char *const kind[LOG_ALL] = {"auto", "dsync", "fdatasync", "wide"};
    for (int k = 0; k < LOG_ALL; k++)
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
    if (rc == 0)
        rc = wake_row(&b);
    /* --quick: 16 appenders only (db_bench takes seconds a run). */
    static const int many[] = {16, 64};
    for (size_t i = 0; rc == 0 && i < (ctx->quick ? 1 : sizeof(many) / sizeof(many[0])); i++)
        rc = many_appenders(&b, many[i], rocks);
    if (rc == 0)
        rc = big_records(&b);
    if (rc != 0)
        bench_note(ctx, "wal: %s %s", regio_strerror(rc), regio_error_detail());
    for (int k = 0; k < LOG_ALL; k++) {
        if (b.w[k] != NULL) {
            int crc = regio_wal_close(b.w[k]);
            rc = rc != 0 ? rc : crc;
        }
        wal_rm(b.dir[k]);
    }
    for (int k = 0; k < 2; k++)
        unlink(b.rdb.opts[k]);
    raw_remove(b.raw);
    return rc;
}

BENCH_REGISTER("wal",
               "durable appends (1/16/64 threads, 64 KiB) vs the best raw durable-write loop, a "
               "hand-written group commit, tuned db_bench and the device's concurrent syncs",
               bench_wal)
