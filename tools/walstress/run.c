/*
 * tools/walstress/run.c: one stress run: N appender threads on one log, a
 * progress line every second, durable-latency percentiles at the end.
 *
 * Sync policies: "every" appends and waits (regio_wal_sync) for each record;
 * "group" appends without waiting and asks for a callback
 * (regio_wal_notify_durable), so each thread keeps many records in flight and
 * one flush acknowledges many; "none" never waits, and one sync at the end
 * acknowledges everything. Durable latency is from the start of the append
 * to the acknowledgement.
 *
 * Latency samples go to per-thread chunked arrays that only grow, so the
 * progress printer can read the samples of the last second while the writer
 * adds more, without locks: it reads up to the count published (release)
 * before them.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "walstress.h"

#define CHUNK_SAMPLES (1u << 16)
#define MAX_CHUNKS    (1u << 12) /* 268 M samples per thread */
#define GROUP_DEPTH   256        /* group mode: records in flight per thread */

struct samples {
    int64_t *chunks[MAX_CHUNKS];
    _Atomic uint64_t count;
};

struct pending {
    uint64_t seq;
    int64_t t0_ns;
};

struct writer {
    struct ws_run *run;
    uint16_t id;
    pthread_t thread;
    uint64_t quota; /* records to write (0: until stopped) */
    uint64_t rng;
    struct samples lat;
    _Atomic uint64_t appended, bytes;
    /* group mode: a ring of records waiting for their callback, filled by
     * the writer and emptied by the callbacks, which come in LSN order. */
    struct pending ring[GROUP_DEPTH];
    _Atomic uint64_t head, tail;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int error;
};

struct ws_run {
    const struct ws_opts *o;
    uint16_t cycle;
    struct regio_wal *wal;
    struct ws_shared *sh;
    struct writer *w;
    atomic_bool stop;
    atomic_int error;
};

int64_t ws_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Samples --------------------------------------------------------------- */

static int samples_add(struct samples *s, int64_t v)
{
    uint64_t n = atomic_load_explicit(&s->count, memory_order_relaxed);
    uint64_t c = n / CHUNK_SAMPLES;
    if (c >= MAX_CHUNKS)
        return 0; /* enough samples for any percentile */
    if (s->chunks[c] == NULL) {
        s->chunks[c] = malloc(CHUNK_SAMPLES * sizeof(int64_t));
        if (s->chunks[c] == NULL)
            return -ENOMEM;
    }
    s->chunks[c][n % CHUNK_SAMPLES] = v;
    atomic_store_explicit(&s->count, n + 1, memory_order_release);
    return 0;
}

static void samples_free(struct samples *s)
{
    for (uint32_t c = 0; c < MAX_CHUNKS && s->chunks[c] != NULL; c++)
        free(s->chunks[c]);
}

/* Append samples [from, to) of s to *v (grown as needed). */
static int samples_collect(struct samples *s, uint64_t from, uint64_t to, int64_t **v, uint64_t *n,
                           uint64_t *cap)
{
    if (*n + (to - from) > *cap) {
        uint64_t nc = (*n + (to - from)) * 2 + 1024;
        int64_t *nv = realloc(*v, nc * sizeof(**v));
        if (nv == NULL)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    for (uint64_t i = from; i < to; i++)
        (*v)[(*n)++] = s->chunks[i / CHUNK_SAMPLES][i % CHUNK_SAMPLES];
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static int64_t pct(const int64_t *v, uint64_t n, double p)
{
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* ---- Appenders ------------------------------------------------------------- */

static void set_error(struct ws_run *r, struct writer *w, int err)
{
    int zero = 0;
    atomic_compare_exchange_strong(&w->error, &zero, err);
    zero = 0;
    atomic_compare_exchange_strong(&r->error, &zero, err);
    atomic_store(&r->stop, true);
}

static void acknowledge(struct writer *w, uint64_t seq, int64_t t0_ns)
{
    samples_add(&w->lat, ws_now_ns() - t0_ns);
    atomic_store_explicit(&w->run->sh->acked[w->id], seq, memory_order_release);
}

/* Group mode: the WAL calls this, in LSN order, once the record is durable. */
static void group_cb(void *ctx, int res)
{
    struct writer *w = ctx;
    uint64_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
    struct pending p = w->ring[tail % GROUP_DEPTH];
    if (res == 0)
        acknowledge(w, p.seq, p.t0_ns);
    else
        set_error(w->run, w, res);
    pthread_mutex_lock(&w->mu);
    atomic_store_explicit(&w->tail, tail + 1, memory_order_release);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait until at most `keep` records of w are waiting for their callback. */
static void group_wait(struct writer *w, uint64_t keep)
{
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&w->head) - atomic_load(&w->tail) > keep)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static int append_one(struct writer *w, uint8_t *buf, uint64_t seq, uint64_t *last_lsn)
{
    const struct ws_opts *o = w->run->o;
    uint32_t span = o->max_bytes - o->min_bytes + 1;
    uint32_t len = o->min_bytes + (uint32_t)(ws_rand(&w->rng) % span);
    ws_record_fill(buf, len, o->seed, w->run->cycle, w->id, seq);
    if (o->sync == WS_SYNC_GROUP)
        group_wait(w, GROUP_DEPTH - 1);
    int64_t t0 = ws_now_ns();
    uint64_t lsn;
    int err = regio_wal_append(w->run->wal, buf, len, &lsn);
    if (err != 0)
        return err;
    atomic_fetch_add_explicit(&w->appended, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->bytes, len, memory_order_relaxed);
    *last_lsn = lsn;
    switch (o->sync) {
    case WS_SYNC_EVERY:
        err = regio_wal_sync(w->run->wal, lsn);
        if (err == 0)
            acknowledge(w, seq, t0);
        return err;
    case WS_SYNC_GROUP: {
        uint64_t head = atomic_load(&w->head);
        w->ring[head % GROUP_DEPTH] = (struct pending){seq, t0};
        atomic_store(&w->head, head + 1);
        err = regio_wal_notify_durable(w->run->wal, lsn, group_cb, w);
        if (err != 0)
            atomic_store(&w->head, head); /* no callback will come */
        return err;
    }
    case WS_SYNC_NONE:
        return 0;
    }
    return -EINVAL;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct ws_run *r = w->run;
    uint8_t *buf = malloc(r->o->max_bytes);
    if (buf == NULL) {
        set_error(r, w, -ENOMEM);
        return NULL;
    }
    uint64_t seq = 0, last_lsn = 0;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed) &&
           (w->quota == 0 || seq < w->quota)) {
        int err = append_one(w, buf, seq + 1, &last_lsn);
        if (err != 0) {
            fprintf(stderr, "walstress: thread %u: append/sync of seq %" PRIu64 " failed: %s\n",
                    w->id, seq + 1, regio_strerror(err));
            set_error(r, w, err);
            break;
        }
        seq++;
    }
    if (r->o->sync == WS_SYNC_GROUP)
        group_wait(w, 0);
    if (r->o->sync == WS_SYNC_NONE && seq > 0 && atomic_load(&w->error) == 0) {
        /* The one acknowledgement of a "none" run: everything is durable. */
        int64_t t0 = ws_now_ns();
        int err = regio_wal_sync(r->wal, last_lsn);
        if (err == 0)
            acknowledge(w, seq, t0);
        else
            set_error(r, w, err);
    }
    free(buf);
    return NULL;
}

/* ---- Progress -------------------------------------------------------------- */

struct progress {
    int64_t t_ns;
    uint64_t appended, bytes, syncs, records_synced;
    uint64_t lat_seen[WS_MAX_THREADS];
};

static void progress_line(struct ws_run *r, struct progress *prev, int64_t start_ns)
{
    const struct ws_opts *o = r->o;
    struct progress now = {.t_ns = ws_now_ns()};
    int64_t *v = NULL;
    uint64_t n = 0, cap = 0;
    for (uint32_t t = 0; t < o->threads; t++) {
        struct writer *w = &r->w[t];
        now.appended += atomic_load(&w->appended);
        now.bytes += atomic_load(&w->bytes);
        now.lat_seen[t] = atomic_load_explicit(&w->lat.count, memory_order_acquire);
        samples_collect(&w->lat, prev->lat_seen[t], now.lat_seen[t], &v, &n, &cap);
    }
    struct regio_wal_stats ws = {0};
    regio_wal_stats(r->wal, &ws);
    now.syncs = ws.syncs;
    now.records_synced = ws.records_synced;
    double dt = (double)(now.t_ns - prev->t_ns) / 1e9;
    if (n > 0) /* qsort must not be given NULL, even for 0 items */
        qsort(v, n, sizeof(*v), cmp_i64);
    uint64_t dsync = now.syncs - prev->syncs;
    FILE *out = o->json ? stderr : stdout;
    fprintf(out,
            "[%6.1fs] appends/s %9.0f  MB/s %7.1f  durable p50 %7.1f us p99 %8.1f us  "
            "syncs/s %7.0f  records/sync %6.1f\n",
            (double)(now.t_ns - start_ns) / 1e9, (double)(now.appended - prev->appended) / dt,
            (double)(now.bytes - prev->bytes) / dt / 1e6, (double)pct(v, n, 0.5) / 1e3,
            (double)pct(v, n, 0.99) / 1e3, (double)dsync / dt,
            dsync ? (double)(now.records_synced - prev->records_synced) / (double)dsync : 0.0);
    fflush(out);
    free(v);
    *prev = now;
}

/* ---- The run --------------------------------------------------------------- */

static void run_summary(struct ws_run *r, int64_t t0, int64_t t1, struct ws_run_result *out)
{
    const struct ws_opts *o = r->o;
    int64_t *v = NULL;
    uint64_t n = 0, cap = 0;
    out->seconds = (double)(t1 - t0) / 1e9;
    for (uint32_t t = 0; t < o->threads; t++) {
        struct writer *w = &r->w[t];
        out->records += atomic_load(&w->appended);
        out->bytes += atomic_load(&w->bytes);
        samples_collect(&w->lat, 0, atomic_load(&w->lat.count), &v, &n, &cap);
    }
    if (n > 0) /* qsort must not be given NULL, even for 0 items */
        qsort(v, n, sizeof(*v), cmp_i64);
    out->lat_count = n;
    out->lat_p50_ns = pct(v, n, 0.5);
    out->lat_p99_ns = pct(v, n, 0.99);
    out->lat_p999_ns = pct(v, n, 0.999);
    out->lat_max_ns = n ? v[n - 1] : 0;
    free(v);
}

static int start_writers(struct ws_run *r)
{
    const struct ws_opts *o = r->o;
    for (uint32_t t = 0; t < o->threads; t++) {
        struct writer *w = &r->w[t];
        w->run = r;
        w->id = (uint16_t)t;
        w->rng = o->seed ^ (0x1000193u * (t + 1)) ^ ((uint64_t)r->cycle << 40);
        if (o->records != 0)
            w->quota = o->records / o->threads + (t < o->records % o->threads ? 1 : 0);
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
    }
    for (uint32_t t = 0; t < o->threads; t++) {
        int rc = pthread_create(&r->w[t].thread, NULL, writer_main, &r->w[t]);
        if (rc != 0) {
            atomic_store(&r->stop, true);
            for (uint32_t k = 0; k < t; k++)
                pthread_join(r->w[k].thread, NULL);
            return -rc;
        }
    }
    return 0;
}

/* Sleep in steps of at most a second, printing progress, until the budget
 * is spent or every writer has finished its quota or failed. */
static void supervise(struct ws_run *r, int64_t t0)
{
    const struct ws_opts *o = r->o;
    struct progress prev = {.t_ns = t0};
    int64_t next_line = t0 + 1000000000;
    int64_t end = o->records ? INT64_MAX : t0 + (int64_t)(o->seconds * 1e9);
    for (;;) {
        int64_t now = ws_now_ns();
        if (now >= end || atomic_load(&r->stop))
            break;
        uint64_t done = 0;
        for (uint32_t t = 0; t < o->threads; t++)
            done += atomic_load(&r->w[t].appended);
        if (o->records && done >= o->records)
            break;
        if (now >= next_line) {
            if (!o->quiet)
                progress_line(r, &prev, t0);
            next_line += 1000000000;
        }
        int64_t wake = next_line < end ? next_line : end;
        int64_t nap = wake - now < 20000000 ? wake - now : 20000000;
        struct timespec ts = {0, nap > 0 ? nap : 0};
        nanosleep(&ts, NULL);
    }
    atomic_store(&r->stop, true);
}

int ws_run(const struct ws_opts *o, uint16_t cycle, struct ws_shared *sh, struct ws_run_result *out)
{
    memset(out, 0, sizeof(*out));
    struct ws_run r = {.o = o, .cycle = cycle, .sh = sh};
    struct regio_wal_opts wo = {.segment_bytes = o->segment_bytes,
                                .create = true,
                                .stats_name = o->stats_name,
                                .sync_method = o->wal_sync,
                                .max_flushes = o->max_flushes,
                                .flusher_poll_ns = o->flusher_poll_ns};
    int err = regio_wal_open(o->dir, &wo, &r.wal, &out->recovery);
    if (err != 0) {
        fprintf(stderr, "walstress: cannot open the log in %s: %s %s\n", o->dir,
                regio_strerror(err), regio_error_detail());
        return err;
    }
    size_t max = regio_wal_max_record_bytes(r.wal);
    if (o->max_bytes > max) {
        fprintf(stderr,
                "walstress: --record-bytes max %u is larger than the log's largest "
                "record (%zu bytes)\n",
                o->max_bytes, max);
        regio_wal_close(r.wal);
        return -EINVAL;
    }
    r.w = calloc(o->threads, sizeof(*r.w));
    if (r.w == NULL) {
        regio_wal_close(r.wal);
        return -ENOMEM;
    }
    int64_t t0 = ws_now_ns();
    err = start_writers(&r);
    if (err == 0) {
        atomic_store(&sh->ready, 1);
        supervise(&r, t0);
        for (uint32_t t = 0; t < o->threads; t++)
            pthread_join(r.w[t].thread, NULL);
    }
    int64_t t1 = ws_now_ns();
    run_summary(&r, t0, t1, out);
    regio_wal_stats(r.wal, &out->wal);
    int cerr = regio_wal_close(r.wal);
    for (uint32_t t = 0; t < o->threads; t++) {
        samples_free(&r.w[t].lat);
        pthread_mutex_destroy(&r.w[t].mu);
        pthread_cond_destroy(&r.w[t].cv);
    }
    free(r.w);
    if (err == 0)
        err = atomic_load(&r.error);
    if (err == 0 && cerr != 0) {
        fprintf(stderr, "walstress: closing the log failed: %s\n", regio_strerror(cerr));
        err = cerr;
    }
    out->error = err;
    return err;
}
