/*
 * tools/bench/wal.c: "wal", durable appends.
 *
 * regio: N threads each appending a 100-byte record and waiting for it to be
 * durable (regio_wal_append + regio_wal_sync), for N = 1, 16, 64; and 64 KiB
 * records for MB/s. Baselines in the same run on the same filesystem: a raw
 * loop of 4 KiB O_DIRECT pwrite + fdatasync (and 64 KiB for MB/s), and the
 * group-commit bound N / F, where F is the median latency of one 4 KiB
 * O_DSYNC write. RocksDB's db_bench (Debian's rocksdb-tools) runs the same
 * shape where installed: fillrandom, sync=1, N threads, 100-byte values, a
 * database directory beside the log. Each figure is the median of 3 runs
 * (1 with --quick).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "regio.h"

#define MAX_THREADS            64
#define MAX_SAMPLES_PER_THREAD (1u << 18)

struct wal_measure {
    double ops;  /* durable appends per second */
    double mbps; /* payload MB/s */
    double p50_us, p99_us, p999_us;
    double per_sync;                /* records per sync */
    double pad_pct;                 /* padding / bytes written */
    uint64_t checkpoints, recycled; /* by the checkpointer during the run */
    uint64_t zero_filled;           /* segments zero-filled during the run */
};

struct appender {
    struct regio_wal *w;
    size_t rec_bytes;
    int64_t deadline_ns;
    int64_t *lat;
    uint64_t n;
    int err;
};

static void *appender_main(void *arg)
{
    struct appender *ap = arg;
    uint8_t *rec = calloc(1, ap->rec_bytes);
    if (rec == NULL) {
        ap->err = -ENOMEM;
        return NULL;
    }
    memset(rec, 0x5a, ap->rec_bytes);
    while (bench_now_ns() < ap->deadline_ns) {
        int64_t t0 = bench_now_ns();
        uint64_t lsn;
        int rc = regio_wal_append(ap->w, rec, ap->rec_bytes, &lsn);
        if (rc == 0)
            rc = regio_wal_sync(ap->w, lsn);
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

/* The database's checkpointer: each time half a segment more is durable it
 * checkpoints at the durable end and truncates before it, so segments are
 * recycled (renamed and reused without zero-filling) as in a long-running
 * database. Without it every segment would be a new file zero-filled in the
 * background, which at one appender doubles what the device writes. */
struct checkpointer {
    struct regio_wal *w;
    uint64_t every_bytes;
    _Atomic bool stop;
    uint64_t checkpoints;
    uint64_t recycled;
    int err;
};

static void *checkpointer_main(void *arg)
{
    struct checkpointer *c = arg;
    uint64_t last = 0;
    while (!atomic_load(&c->stop)) {
        usleep(2000);
        uint64_t d = regio_wal_durable_lsn(c->w);
        if (d < last + c->every_bytes)
            continue;
        int rc = regio_wal_set_checkpoint(c->w, d);
        if (rc == 0)
            rc = regio_wal_truncate_before(c->w, d);
        if (rc < 0) {
            c->err = rc;
            return NULL;
        }
        c->checkpoints++;
        c->recycled += (uint64_t)rc;
        last = d;
    }
    return NULL;
}

/*
 * Bring a fresh log to the steady state of a long-running database before
 * measuring: write three segments' worth of large records, checkpointing and
 * truncating as the checkpointer does, so that the preparer has recycled
 * files to reuse. A fresh log's first segment switches would otherwise
 * zero-fill whole new segments in the background during the measured run,
 * which no baseline does (measured: the one-appender p50 gap to the raw
 * loop was that zero-filling; docs/decisions.md).
 */
static int warm_up(struct regio_wal *w, uint64_t seg_bytes)
{
    const size_t rec = 256 * 1024;
    uint8_t *buf = calloc(1, rec);
    if (buf == NULL)
        return -ENOMEM;
    memset(buf, 0xa5, rec);
    int rc = 0;
    uint64_t start = regio_wal_durable_lsn(w), last = start;
    while (rc >= 0 && regio_wal_durable_lsn(w) - start < 3 * seg_bytes) {
        uint64_t lsn;
        for (int i = 0; i < 8 && rc == 0; i++)
            rc = regio_wal_append(w, buf, rec, &lsn);
        if (rc == 0)
            rc = regio_wal_sync(w, lsn);
        uint64_t d = regio_wal_durable_lsn(w);
        if (rc == 0 && d - last >= seg_bytes / 2) {
            rc = regio_wal_set_checkpoint(w, d);
            if (rc == 0)
                rc = regio_wal_truncate_before(w, d); /* >= 0: segments recycled */
            rc = rc > 0 ? 0 : rc;
            last = d;
        }
    }
    free(buf);
    if (rc < 0)
        return rc;
    /* Let the preparer finish with the recycled files. */
    struct regio_wal_stats st;
    uint64_t used = 0;
    for (int i = 0; i < 400; i++) {
        regio_wal_stats(w, &st);
        if (i > 0 && st.segments_used == used)
            break;
        used = st.segments_used;
        usleep(20000);
    }
    return 0;
}

/* Before a measurement: write back whatever an earlier step left dirty
 * (db_bench's files, a removed log's metadata) and give the device a moment,
 * so that no measurement pays for the one before it. */
static void settle(void)
{
    sync();
    usleep(100000);
}

static void rm_log(const char *dir)
{
    char cmd[1040]; /* rm -rf and quotes around a path of up to 1023 bytes */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "wal bench: could not remove %s\n", dir);
}

static int run_wal(const struct bench_ctx *ctx, const char *dir, int threads, size_t rec_bytes,
                   struct wal_measure *m)
{
    rm_log(dir);
    settle();
    struct regio_wal_opts o = {.create = true};
    if (ctx->quick)
        o.segment_bytes = 16u << 20;
    struct regio_wal *w;
    int rc = regio_wal_open(dir, &o, &w, NULL);
    if (rc != 0)
        return rc;
    /* Let the preparer finish the spares (zero-filled in the background)
     * before measuring: a long-running log has them ready. */
    for (int i = 0; i < 2000; i++) {
        struct regio_wal_stats st;
        regio_wal_stats(w, &st);
        if (st.segments_used >= 3)
            break;
        usleep(5000);
    }
    uint64_t seg_bytes = o.segment_bytes ? o.segment_bytes : 64u << 20;
    rc = warm_up(w, seg_bytes);
    if (rc != 0) {
        regio_wal_close(w);
        return rc;
    }
    /* The warm-up wrote three segments: let the device absorb them. */
    settle();
    usleep(400000);
    struct regio_wal_stats st0;
    regio_wal_stats(w, &st0);
    struct appender ap[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int64_t *lat = malloc(sizeof(int64_t) * MAX_SAMPLES_PER_THREAD * (size_t)threads);
    if (lat == NULL) {
        regio_wal_close(w);
        return -ENOMEM;
    }
    struct checkpointer ck = {.w = w, .every_bytes = seg_bytes / 2};
    pthread_t ck_th;
    pthread_create(&ck_th, NULL, checkpointer_main, &ck);
    int64_t start = bench_now_ns();
    int64_t deadline = start + (int64_t)(ctx->seconds * 1e9);
    for (int t = 0; t < threads; t++) {
        ap[t] = (struct appender){w, rec_bytes, deadline, lat + (size_t)t * MAX_SAMPLES_PER_THREAD,
                                  0, 0};
        pthread_create(&th[t], NULL, appender_main, &ap[t]);
    }
    uint64_t total = 0, samples = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (ap[t].err != 0)
            rc = ap[t].err;
        total += ap[t].n;
    }
    double secs = (double)(bench_now_ns() - start) / 1e9;
    atomic_store(&ck.stop, true);
    pthread_join(ck_th, NULL);
    if (ck.err != 0 && rc == 0)
        rc = ck.err;
    m->checkpoints = ck.checkpoints;
    m->recycled = ck.recycled;
    for (int t = 0; t < threads; t++) {
        uint64_t n = ap[t].n < MAX_SAMPLES_PER_THREAD ? ap[t].n : MAX_SAMPLES_PER_THREAD;
        memmove(lat + samples, ap[t].lat, n * sizeof(int64_t));
        samples += n;
    }
    struct regio_wal_stats st;
    regio_wal_stats(w, &st);
    m->ops = (double)total / secs;
    m->mbps = (double)total * (double)rec_bytes / secs / 1e6;
    m->p50_us = samples ? (double)bench_percentile(lat, (int64_t)samples, 0.50) / 1e3 : NAN;
    m->p99_us = samples ? (double)bench_percentile(lat, (int64_t)samples, 0.99) / 1e3 : NAN;
    m->p999_us = samples ? (double)bench_percentile(lat, (int64_t)samples, 0.999) / 1e3 : NAN;
    /* Counted over the measured run only, not the warm-up. */
    uint64_t syncs = st.syncs - st0.syncs, synced = st.records_synced - st0.records_synced;
    uint64_t written = st.bytes_written - st0.bytes_written;
    m->per_sync = syncs ? (double)synced / (double)syncs : 0;
    m->pad_pct =
        written ? 100.0 * (double)(st.bytes_padded - st0.bytes_padded) / (double)written : 0;
    m->zero_filled = st.segments_zero_filled - st0.segments_zero_filled;
    free(lat);
    int crc = regio_wal_close(w);
    rm_log(dir);
    return rc != 0 ? rc : crc;
}

/* ---- Baselines: raw O_DIRECT writes --------------------------------------- */

/* ops/s of write(bytes)+fdatasync (or O_DSYNC writes when dsync), and the
 * median latency of one in microseconds. */
static int raw_loop(const struct bench_ctx *ctx, const char *path, size_t bytes, bool dsync,
                    double *ops_out, double *p50_us_out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC | (dsync ? O_DSYNC : 0), 0600);
    if (fd < 0)
        return -errno;
    size_t file_bytes = 64u << 20;
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, bytes) != 0) {
        close(fd);
        return -ENOMEM;
    }
    memset(buf, 0x5a, bytes);
    /* Preallocated and written once, as the WAL's segments are. */
    for (size_t off = 0; off < file_bytes; off += bytes)
        if (pwrite(fd, buf, bytes, (off_t)off) != (ssize_t)bytes)
            break;
    fsync(fd);
    size_t cap = 1u << 20, n = 0;
    int64_t *lat = malloc(cap * sizeof(int64_t));
    int64_t start = bench_now_ns(), deadline = start + (int64_t)(ctx->seconds * 1e9);
    size_t off = 0;
    int rc = 0;
    while (bench_now_ns() < deadline && n < cap) {
        int64_t t0 = bench_now_ns();
        if (pwrite(fd, buf, bytes, (off_t)off) != (ssize_t)bytes ||
            (!dsync && fdatasync(fd) != 0)) {
            rc = -errno;
            break;
        }
        lat[n++] = bench_now_ns() - t0;
        off = (off + bytes) % file_bytes;
    }
    double secs = (double)(bench_now_ns() - start) / 1e9;
    *ops_out = (double)n / secs;
    *p50_us_out = n ? (double)bench_percentile(lat, (int64_t)n, 0.5) / 1e3 : NAN;
    free(lat);
    free(buf);
    close(fd);
    unlink(path);
    return rc;
}

/* ---- Baseline: do concurrent O_DSYNC writes overlap? ------------------- */

/*
 * N/F assumes that N synchronous writes in flight take F each, all at once.
 * This measures what the device really does with two: two threads, each
 * writing 4 KiB O_DSYNC blocks into its own half of one preallocated file.
 * Their total rate beside one writer's says whether the device overlaps
 * synchronous writes at all.
 */
struct dsync_writer {
    int fd;
    void *buf;
    size_t base, span;
    int64_t deadline_ns;
    uint64_t n;
    int err;
};

static void *dsync_writer_main(void *arg)
{
    struct dsync_writer *d = arg;
    size_t off = 0;
    while (bench_now_ns() < d->deadline_ns) {
        if (pwrite(d->fd, d->buf, 4096, (off_t)(d->base + off)) != 4096) {
            d->err = -errno;
            break;
        }
        d->n++;
        off = (off + 4096) % d->span;
    }
    return NULL;
}

static int dsync_pair(const struct bench_ctx *ctx, const char *path, double *ops_out)
{
    const size_t file_bytes = 64u << 20;
    int fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_DSYNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, 65536) != 0) {
        close(fd);
        return -ENOMEM;
    }
    memset(buf, 0x5a, 65536);
    int rc = 0;
    for (size_t off = 0; off < file_bytes && rc == 0; off += 65536)
        if (pwrite(fd, buf, 65536, (off_t)off) != 65536)
            rc = -errno;
    struct dsync_writer d[2];
    pthread_t th[2];
    int64_t start = bench_now_ns();
    for (int i = 0; i < 2 && rc == 0; i++) {
        d[i] = (struct dsync_writer){fd,
                                     buf,
                                     (size_t)i * file_bytes / 2,
                                     file_bytes / 2,
                                     start + (int64_t)(ctx->seconds * 1e9),
                                     0,
                                     0};
        pthread_create(&th[i], NULL, dsync_writer_main, &d[i]);
    }
    if (rc == 0) {
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            if (d[i].err != 0)
                rc = d[i].err;
        }
        *ops_out = (double)(d[0].n + d[1].n) / ((double)(bench_now_ns() - start) / 1e9);
    }
    free(buf);
    close(fd);
    unlink(path);
    return rc;
}

/* ---- Baseline: RocksDB's db_bench ------------------------------------------ */

static bool have_db_bench(void)
{
    return system("db_bench --version >/dev/null 2>&1") == 0;
}

/*
 * Synced writes per second of db_bench fillrandom with `threads` threads and
 * 100-byte values, in a fresh database under dir (same filesystem as the
 * log). --duration bounds the run by time; --num only has to be large enough
 * never to end it first. Compression is off so that the value bytes are
 * what reaches the WAL, as in regio's run. NAN when the run fails or prints
 * no "fillrandom ... ops/sec" line.
 */
static double run_db_bench(const struct bench_ctx *ctx, const char *dir, int threads)
{
    char cmd[2048];
    int secs = ctx->seconds < 1 ? 1 : (int)(ctx->seconds + 0.5);
    rm_log(dir);
    settle();
    snprintf(cmd, sizeof(cmd),
             "db_bench --benchmarks=fillrandom --sync=1 --disable_wal=0 --threads=%d "
             "--value_size=100 --num=100000000 --duration=%d --compression_type=none "
             "--use_existing_db=0 --db='%s' 2>&1",
             threads, secs, dir);
    FILE *fp = popen(cmd, "r");
    if (fp == NULL)
        return NAN;
    double ops = NAN;
    char line[1024];
    while (fgets(line, sizeof(line), fp) != NULL) {
        /* "fillrandom   :    1047.128 micros/op 954 ops/sec 2.093 seconds ..." */
        const char *o = strstr(line, " ops/sec");
        if (strncmp(line, "fillrandom", 10) != 0 || o == NULL)
            continue;
        const char *p = o;
        while (p > line && p[-1] != ' ')
            p--;
        ops = strtod(p, NULL);
    }
    int st = pclose(fp);
    rm_log(dir);
    return st == 0 ? ops : NAN;
}

/* ---- Baseline: the machine's sleep/wake ceiling ------------------------ */

/*
 * A group commit in which every committer sleeps until its flush is
 * acknowledged cannot acknowledge more commits per second than the machine
 * can put threads to sleep and wake them. This measures that ceiling with no
 * I/O and no copying at all: `threads` threads sleep on one futex word, and a
 * "flusher" bumps it and wakes them all as fast as it can; each wake-up is
 * one commit. On few cores it, not the device, bounds N/F.
 */
struct wake_floor {
    _Atomic uint32_t gen;
    _Atomic uint32_t sleeping;
    _Atomic bool stop;
    _Atomic uint64_t commits;
};

static void *wake_floor_main(void *arg)
{
    struct wake_floor *f = arg;
    while (!atomic_load(&f->stop)) {
        uint32_t g = atomic_load(&f->gen);
        atomic_fetch_add(&f->sleeping, 1);
        syscall(SYS_futex, (uint32_t *)&f->gen, FUTEX_WAIT_PRIVATE, g, NULL, NULL, 0);
        atomic_fetch_add(&f->commits, 1);
    }
    return NULL;
}

static double wake_ceiling(const struct bench_ctx *ctx, int threads)
{
    struct wake_floor f = {0};
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, wake_floor_main, &f);
    int64_t start = bench_now_ns(), deadline = start + (int64_t)(ctx->seconds * 1e9);
    uint64_t c0 = 0;
    bool counting = false;
    while (bench_now_ns() < deadline) {
        /* Let the threads start before counting. */
        if (!counting && bench_now_ns() - start > (int64_t)(ctx->seconds * 1e8)) {
            counting = true;
            c0 = atomic_load(&f.commits);
            start = bench_now_ns();
        }
        if (atomic_exchange(&f.sleeping, 0) == 0) {
            sched_yield();
            continue;
        }
        atomic_fetch_add(&f.gen, 1);
        syscall(SYS_futex, (uint32_t *)&f.gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    }
    double rate = (double)(atomic_load(&f.commits) - c0) / ((double)(bench_now_ns() - start) / 1e9);
    atomic_store(&f.stop, true);
    for (int t = 0; t < threads; t++) {
        /* Wake until each has seen stop (a thread may be about to sleep). */
        void *ret;
        while (pthread_tryjoin_np(th[t], &ret) != 0) {
            atomic_fetch_add(&f.gen, 1);
            syscall(SYS_futex, (uint32_t *)&f.gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
            sched_yield();
        }
    }
    return rate;
}

static double median3(double *v, int n)
{
    return bench_median(v, n);
}

static int bench_wal(const struct bench_ctx *ctx)
{
    char dir[1024], raw[1024], rdb[1024];
    snprintf(dir, sizeof(dir), "%s/regio-bench-wal-%d", ctx->dir, (int)getpid());
    snprintf(rdb, sizeof(rdb), "%s/regio-bench-wal-rocksdb-%d", ctx->dir, (int)getpid());
    bool rocks = have_db_bench();
    snprintf(raw, sizeof(raw), "%s/regio-bench-wal-raw-%d", ctx->dir, (int)getpid());
    int runs = ctx->quick ? 1 : 3;
    double raw_ops[3], raw_p50[3], dsync_p50[3], dsync_ops[3], dsync2_ops[3], raw64_ops[3],
        raw64_p50[3];
    for (int i = 0; i < runs; i++) {
        int rc = raw_loop(ctx, raw, 4096, false, &raw_ops[i], &raw_p50[i]);
        if (rc == 0)
            rc = raw_loop(ctx, raw, 4096, true, &dsync_ops[i], &dsync_p50[i]);
        if (rc == 0)
            rc = dsync_pair(ctx, raw, &dsync2_ops[i]);
        if (rc == 0)
            rc = raw_loop(ctx, raw, 65536, false, &raw64_ops[i], &raw64_p50[i]);
        if (rc != 0) {
            fprintf(stderr, "wal bench: raw loop on %s: %s\n", ctx->dir, regio_strerror(rc));
            return rc;
        }
    }
    double raw_o = median3(raw_ops, runs), raw_l = median3(raw_p50, runs);
    double f_us = median3(dsync_p50, runs);
    double raw64 = median3(raw64_ops, runs) * 65536 / 1e6;
    bench_note(ctx,
               "raw 4 KiB O_DIRECT write+fdatasync: %.0f/s (p50 %.1f us); "
               "F = median 4 KiB O_DSYNC write %.1f us (%.0f/s); 64 KiB write+fdatasync %.1f MB/s",
               raw_o, raw_l, f_us, median3(dsync_ops, runs), raw64);
    bench_note(ctx,
               "2 concurrent 4 KiB O_DSYNC writers: %.0f/s in all (%.2fx one writer; N/F "
               "assumes %dx for N writers)",
               median3(dsync2_ops, runs), median3(dsync2_ops, runs) / median3(dsync_ops, runs), 2);
    static const int threads[] = {1, 16, 64};
    for (size_t k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
        int n = threads[k];
        struct wal_measure m[3];
        double ops[3], p50[3], p99[3], p999[3], per[3], pad[3], rdb_ops[3], raw_after[3],
            raw_after_p50[3];
        bool rdb_failed = false;
        for (int i = 0; i < runs; i++) {
            /* Interleaved with regio's runs, so both see the same load. */
            if (rocks) {
                rdb_ops[i] = run_db_bench(ctx, rdb, n);
                rdb_failed = rdb_failed || isnan(rdb_ops[i]);
            }
            int rc = run_wal(ctx, dir, n, 100, &m[i]);
            if (rc != 0) {
                fprintf(stderr, "wal bench: %d appenders: %s (%s)\n", n, regio_strerror(rc),
                        regio_error_detail());
                return rc;
            }
            if (n == 1) {
                /* The raw loop again right after the WAL's run, so that the
                 * pair sees the same device (its latency drifts by tens of
                 * percent within a minute here). */
                settle();
                rc = raw_loop(ctx, raw, 4096, false, &raw_after[i], &raw_after_p50[i]);
                if (rc != 0)
                    return rc;
            }
            ops[i] = m[i].ops;
            p50[i] = m[i].p50_us;
            p99[i] = m[i].p99_us;
            p999[i] = m[i].p999_us;
            per[i] = m[i].per_sync;
            pad[i] = m[i].pad_pct;
        }
        char name[64];
        snprintf(name, sizeof(name), "%d appender%s, 100 B, sync each", n, n > 1 ? "s" : "");
        double o = median3(ops, runs);
        if (n == 1) {
            bench_row(ctx, "wal", name, "durable appends/s", true, o, "raw 4K write+fdatasync loop",
                      median3(raw_after, runs), NULL);
            bench_note(ctx,
                       "  1 appender, each run beside a raw loop right after it: WAL/raw %.2f, "
                       "%.2f, %.2f (raw p50 %.1f us)",
                       ops[0] / raw_after[0], runs > 1 ? ops[1] / raw_after[1] : NAN,
                       runs > 2 ? ops[2] / raw_after[2] : NAN, median3(raw_after_p50, runs));
        } else {
            bench_row(ctx, "wal", name, "durable appends/s", true, o, "bound N/F", n * 1e6 / f_us,
                      NULL);
            double ceil_ops[3];
            for (int i = 0; i < runs; i++)
                ceil_ops[i] = wake_ceiling(ctx, n);
            bench_row(ctx, "wal", name, "appends/s vs wake ceiling", true, o,
                      "sleep/wake ceiling, no I/O", median3(ceil_ops, runs), NULL);
        }
        const char *rnote = !rocks       ? "db_bench not installed (Debian package rocksdb-tools)"
                            : rdb_failed ? "db_bench run failed"
                                         : NULL;
        bench_row(ctx, "wal", name, "appends/s vs RocksDB", true, o, "db_bench fillrandom sync=1",
                  rocks && !rdb_failed ? median3(rdb_ops, runs) : NAN, rnote);
        bench_note(
            ctx,
            "  %d appender(s): p50 %.1f us, p99 %.1f us, p99.9 %.1f us; %.2f records/sync; "
            "padding %.1f%% of bytes written; last run: %llu checkpoints, %llu segments "
            "recycled, %llu zero-filled",
            n, median3(p50, runs), median3(p99, runs), median3(p999, runs), median3(per, runs),
            median3(pad, runs), (unsigned long long)m[runs - 1].checkpoints,
            (unsigned long long)m[runs - 1].recycled, (unsigned long long)m[runs - 1].zero_filled);
    }
    double mb[3], pad64[3];
    for (int i = 0; i < runs; i++) {
        struct wal_measure m;
        int rc = run_wal(ctx, dir, 4, 65536, &m);
        if (rc != 0)
            return rc;
        mb[i] = m.mbps;
        pad64[i] = m.pad_pct;
    }
    bench_note(ctx, "  64 KiB records: padding %.1f%% of bytes written", median3(pad64, runs));
    bench_row(ctx, "wal", "4 appenders, 64 KiB, sync each", "MB/s", true, median3(mb, runs),
              "raw 64K write+fdatasync loop", raw64, NULL);
    return 0;
}

BENCH_REGISTER("wal", "durable WAL appends (1/16/64 threads) vs write+fdatasync and N/F", bench_wal)
