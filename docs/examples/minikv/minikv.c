/*
 * docs/examples/minikv/minikv.c: a small durable key-value store on regio's
 * public API only (docs/examples/minikv/README.md).
 *
 * Keys hash to one of N_PAGES pages of 4 KiB, all cached in memory. A put
 * changes its page in memory and logs a record under the page's lock, then
 * waits for the log (regio_wal_sync) before it returns: acknowledged means
 * durable. Pages reach the page file only at checkpoints: begin takes the
 * redo point, the dirty pages are written in one batch and synced, end
 * publishes it. The pager is bound to the WAL (no page on disk before its
 * log records) and repairs torn pages itself (doublewrite). Recovery reads
 * every page, then replays the log from the checkpoint, applying a record
 * only to a page whose page LSN is older.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <regio.h>

enum { N_PAGES = 256, PAGE_BYTES = 4096, MAX_KEY = 64, MAX_VAL = 200 };
enum { REC_PUT = 1, REC_DEL = 2, REC_CKPT = 3 };

struct kv {
    struct regio_wal *wal;
    struct regio_arena *arena;
    struct regio_slab *slab;
    struct regio_engine *engine; /* shared: puts never touch it, checkpoints may run anywhere */
    struct regio_pager *pager;
    size_t payload;
    pthread_mutex_t ckpt_mu;
    struct page {
        pthread_mutex_t mu;
        struct regio_buf buf; /* the page; its trailer holds the page LSN */
        bool dirty;
    } pages[N_PAGES];
    struct regio_buf snap[N_PAGES]; /* checkpoint copies */
};

/* Record payload: header, then key and value bytes. */
struct rec_hdr {
    uint32_t page;
    uint8_t klen, vlen;
    uint8_t pad[2];
};

/* For tests/test_example_minikv_powerloss.c, which builds the store's page
 * files as a power cut could leave them but keeps the whole log: replay it
 * all (from the oldest record, not the checkpoint), and never recycle it. */
static bool minikv_replay_all, minikv_keep_log;

static void die(const char *what, int rc)
{
    fprintf(stderr, "minikv: %s: %s %s\n", what, regio_strerror(rc), regio_error_detail());
    exit(2);
}

#define TRY(what, expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0)                                                                               \
            die(what, rc_);                                                                        \
    } while (0)

static uint32_t page_of(const char *key, size_t klen)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (uint8_t)key[i]) * 16777619u;
    return h % N_PAGES;
}

/* ---- A page: u16 used bytes, then entries [klen][vlen][key][value] ---- */

static uint8_t *entry_find(uint8_t *pg, const char *key, size_t klen)
{
    uint16_t used;
    memcpy(&used, pg, 2);
    for (uint8_t *e = pg + 2; e < pg + 2 + used; e += 2 + e[0] + e[1])
        if (e[0] == klen && memcmp(e + 2, key, klen) == 0)
            return e;
    return NULL;
}

static void entry_del(uint8_t *pg, const char *key, size_t klen)
{
    uint8_t *e = entry_find(pg, key, klen);
    if (e == NULL)
        return;
    uint16_t used;
    memcpy(&used, pg, 2);
    size_t n = 2u + e[0] + e[1], tail = (size_t)(pg + 2 + used - (e + n));
    memmove(e, e + n, tail);
    used = (uint16_t)(used - n);
    memcpy(pg, &used, 2);
}

static bool entry_fits(uint8_t *pg, size_t payload, const char *key, size_t klen, size_t vlen)
{
    uint16_t used;
    memcpy(&used, pg, 2);
    uint8_t *old = entry_find(pg, key, klen);
    size_t freed = old ? 2u + old[0] + old[1] : 0;
    return 2u + used - freed + 2 + klen + vlen <= payload;
}

static void entry_put(uint8_t *pg, const char *key, size_t klen, const char *val, size_t vlen)
{
    entry_del(pg, key, klen);
    uint16_t used;
    memcpy(&used, pg, 2);
    uint8_t *e = pg + 2 + used;
    e[0] = (uint8_t)klen;
    e[1] = (uint8_t)vlen;
    memcpy(e + 2, key, klen);
    memcpy(e + 2 + klen, val, vlen);
    used = (uint16_t)(used + 2 + klen + vlen);
    memcpy(pg, &used, 2);
}

/* ---- Log and recovery ---- */

static void apply(struct kv *db, const struct regio_wal_record *rec)
{
    if ((rec->type != REC_PUT && rec->type != REC_DEL) || rec->len < sizeof(struct rec_hdr))
        return;
    struct rec_hdr h;
    memcpy(&h, rec->data, sizeof(h));
    const char *k = (const char *)rec->data + sizeof(h);
    struct page *pg = &db->pages[h.page % N_PAGES];
    if (regio_pager_image_lsn(pg->buf.data, PAGE_BYTES) >= rec->lsn)
        return; /* the page on disk has it already */
    if (rec->type == REC_PUT)
        entry_put(pg->buf.data, k, h.klen, k + h.klen, h.vlen);
    else
        entry_del(pg->buf.data, k, h.klen);
    TRY("page lsn", regio_pager_set_image_lsn(pg->buf.data, PAGE_BYTES, rec->lsn));
    pg->dirty = true;
}

static void recover(struct kv *db, const char *waldir, uint64_t from)
{
    uint64_t nos[N_PAGES];
    int res[N_PAGES];
    struct regio_buf bufs[N_PAGES];
    for (int i = 0; i < N_PAGES; i++) {
        nos[i] = (uint64_t)i;
        bufs[i] = db->pages[i].buf;
    }
    TRY("read pages", regio_pager_read_many_wait(db->pager, nos, bufs, res, N_PAGES));
    for (int i = 0; i < N_PAGES; i++)
        /* Never written: a hole (-ENODATA) or past the file's end (-ENXIO);
         * replay from the checkpoint restores whatever they should hold. */
        if (res[i] != PAGE_BYTES && res[i] != -ENODATA && res[i] != -ENXIO)
            die("page unreadable", res[i]);
    struct regio_wal_reader *r;
    TRY("reader", regio_wal_reader_open(waldir, from, &r));
    struct regio_wal_record rec;
    int rc;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1)
        apply(db, &rec);
    TRY("replay", rc);
    regio_wal_reader_close(r);
}

static void kv_open(struct kv *db, const char *dir)
{
    char path[4096];
    memset(db, 0, sizeof(*db));
    snprintf(path, sizeof(path), "%s/wal", dir);
    struct regio_wal_opts wo = {
        .create = true, .segment_bytes = 4u << 20, .buffer_bytes = 256u << 10};
    struct regio_wal_recovery info;
    TRY("wal open", regio_wal_open(path, &wo, &db->wal, &info));
    struct regio_arena_opts ao = {.size_bytes = 4u << 20};
    TRY("arena", regio_arena_create(&ao, &db->arena));
    TRY("slab", regio_slab_create(db->arena, NULL, &db->slab));
    struct regio_engine_opts eo = {.shared = true};
    TRY("engine", regio_engine_create(db->arena, db->slab, &eo, &db->engine));
    char pages[4096];
    snprintf(pages, sizeof(pages), "%s/pages", dir);
    struct regio_pager_opts po = {.page_bytes = PAGE_BYTES, .create = true};
    TRY("pager open", regio_pager_open(db->engine, pages, &po, &db->pager));
    TRY("bind", regio_pager_bind_wal(db->pager, db->wal));
    db->payload = regio_pager_payload_bytes(db->pager);
    pthread_mutex_init(&db->ckpt_mu, NULL);
    for (int i = 0; i < N_PAGES; i++) {
        pthread_mutex_init(&db->pages[i].mu, NULL);
        TRY("alloc", regio_slab_alloc(db->slab, PAGE_BYTES, &db->pages[i].buf));
        TRY("alloc", regio_slab_alloc(db->slab, PAGE_BYTES, &db->snap[i]));
    }
    recover(db, path, minikv_replay_all ? 0 : info.checkpoint_lsn);
}

/* ---- Operations ---- */

/* Put (val != NULL) or delete; returns once durable. -ENOSPC: page full. */
static int kv_change(struct kv *db, const char *key, const char *val)
{
    size_t klen = strlen(key), vlen = val ? strlen(val) : 0;
    if (klen == 0 || klen > MAX_KEY || vlen > MAX_VAL)
        return -EINVAL;
    struct rec_hdr h = {page_of(key, klen), (uint8_t)klen, (uint8_t)vlen, {0}};
    struct page *pg = &db->pages[h.page];
    struct iovec iov[3] = {{&h, sizeof(h)}, {(void *)key, klen}, {(void *)val, vlen}};
    uint64_t lsn;
    pthread_mutex_lock(&pg->mu);
    if (val != NULL && !entry_fits(pg->buf.data, db->payload, key, klen, vlen)) {
        pthread_mutex_unlock(&pg->mu);
        return -ENOSPC;
    }
    /* Log and change the page under its lock: LSNs of one page increase. */
    int rc =
        regio_wal_append_record(db->wal, val ? REC_PUT : REC_DEL, iov, val ? 3 : 2, &lsn, NULL);
    if (rc == 0) {
        if (val != NULL)
            entry_put(pg->buf.data, key, klen, val, vlen);
        else
            entry_del(pg->buf.data, key, klen);
        regio_pager_set_image_lsn(pg->buf.data, PAGE_BYTES, lsn);
        pg->dirty = true;
    }
    pthread_mutex_unlock(&pg->mu);
    return rc != 0 ? rc : regio_wal_sync(db->wal, lsn);
}

/* 1 and the value in out when present, 0 when absent. */
static int kv_get(struct kv *db, const char *key, char *out)
{
    size_t klen = strlen(key);
    struct page *pg = &db->pages[page_of(key, klen)];
    pthread_mutex_lock(&pg->mu);
    uint8_t *e = entry_find(pg->buf.data, key, klen);
    if (e != NULL) {
        memcpy(out, e + 2 + e[0], e[1]);
        out[e[1]] = 0;
    }
    pthread_mutex_unlock(&pg->mu);
    return e != NULL;
}

/* Redo point first, then the dirty pages (copied under their locks), then
 * publish it and recycle the log before it. */
static void kv_checkpoint(struct kv *db)
{
    pthread_mutex_lock(&db->ckpt_mu);
    struct regio_wal_checkpoint ck;
    TRY("checkpoint begin", regio_wal_checkpoint_begin(db->wal, REC_CKPT, &ck));
    uint64_t nos[N_PAGES];
    struct regio_buf bufs[N_PAGES];
    int res[N_PAGES];
    size_t n = 0;
    for (int i = 0; i < N_PAGES; i++) {
        struct page *pg = &db->pages[i];
        pthread_mutex_lock(&pg->mu);
        if (pg->dirty) {
            memcpy(db->snap[i].data, pg->buf.data, PAGE_BYTES);
            pg->dirty = false;
            nos[n] = (uint64_t)i;
            bufs[n++] = db->snap[i];
        }
        pthread_mutex_unlock(&pg->mu);
    }
    TRY("write pages", regio_pager_write_many_wait(db->pager, nos, bufs, res, n));
    TRY("sync pages", regio_pager_sync(db->pager));
    TRY("checkpoint end", regio_wal_checkpoint_end(db->wal, &ck));
    if (!minikv_keep_log)
        TRY("truncate", regio_wal_truncate_before(db->wal, ck.redo_lsn));
    pthread_mutex_unlock(&db->ckpt_mu);
}

static void kv_close(struct kv *db)
{
    kv_checkpoint(db);
    for (int i = 0; i < N_PAGES; i++) {
        regio_slab_free(db->slab, db->pages[i].buf);
        regio_slab_free(db->slab, db->snap[i]);
    }
    TRY("unbind", regio_pager_bind_wal(db->pager, NULL));
    TRY("pager close", regio_pager_close(db->pager));
    TRY("engine", regio_engine_destroy(db->engine));
    TRY("slab", regio_slab_destroy(db->slab));
    TRY("arena", regio_arena_destroy(db->arena));
    TRY("wal close", regio_wal_close(db->wal));
}

#ifndef MINIKV_NO_MAIN /* tests/test_example_minikv_powerloss.c brings its own */

static int usage(void)
{
    fprintf(stderr, "usage: minikv DIR put K V | get K | del K | check | bench N THREADS\n");
    return 2;
}

/* ---- Threads: bench and stress ---- */

struct worker {
    struct kv *db;
    int id;
    long n;          /* puts to do (bench), or until killed (stress: n < 0) */
    double *lat_us;  /* bench: latency of each put */
    bool print_acks; /* stress: print every acknowledged put */
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* bench: 16-byte keys cycling over BENCH_KEYS (so that the store never
 * fills up: a put overwrites), 100-byte values; regio-bench kv gives its
 * competitors the same keys and values. */
enum { BENCH_KEYS = 2048, BENCH_VAL = 100 };

static void bench_kv(const struct worker *w, long i, char *key, char *val)
{
    snprintf(key, 17, "k%015ld", ((long)w->id * 1000003 + i) % BENCH_KEYS);
    memset(val, 'a' + (int)(i % 26), BENCH_VAL);
    val[BENCH_VAL] = 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char key[32], val[BENCH_VAL + 1];
    for (long i = 0; w->n < 0 || i < w->n; i++) {
        if (w->lat_us != NULL) {
            bench_kv(w, i, key, val);
        } else {
            snprintf(key, sizeof(key), "t%d-%ld", w->id, i);
            snprintf(val, sizeof(val), "v%ld", i * 7 + w->id);
        }
        double t0 = now_us();
        int rc = kv_change(w->db, key, val);
        if (rc == -ENOSPC && w->lat_us == NULL)
            break; /* stress: this toy's pages are full */
        TRY("put", rc);
        if (w->lat_us != NULL)
            w->lat_us[i] = now_us() - t0;
        if (w->print_acks) {
            printf("%s %s\n", key, val);
            fflush(stdout);
        }
    }
    return NULL;
}

static void *checkpointer_main(void *arg)
{
    for (;;) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        kv_checkpoint(arg);
    }
    return NULL;
}

/* CPU time of the whole process (every thread), in microseconds. */
static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_threads(struct kv *db, long total, int threads, bool stress)
{
    pthread_t t[256], ck;
    struct worker w[256];
    if (threads > 256)
        return usage();
    long per = stress ? -1 : total / threads;
    double *lat = stress ? NULL : calloc((size_t)(per * threads) + 1, sizeof(double));
    if (stress)
        pthread_create(&ck, NULL, checkpointer_main, db);
    double t0 = now_us(), cpu0 = cpu_us();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){db, i, per, lat ? lat + i * per : NULL, stress};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    if (stress)
        return 0; /* only when every writer stopped (pages full) */
    double secs = (now_us() - t0) / 1e6, cpu = cpu_us() - cpu0;
    long n = per * threads;
    if (n == 0)
        return usage();
    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    /* CPU of the puts alone (all threads), not of open and close. */
    printf("puts %ld threads %d: %.0f puts/s, p50 %.0f us, p99 %.0f us, cpu %.2f us/put\n", n,
           threads, n / secs, lat[n / 2], lat[(n * 99) / 100], cpu / (double)n);
    free(lat);
    return 0;
}

/* ---- CLI ---- */

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *cmd = argv[2];
    struct kv *db = malloc(sizeof(*db));
    kv_open(db, argv[1]);
    int status = 0;
    char val[MAX_VAL + 1];
    if (strcmp(cmd, "put") == 0 && argc == 5) {
        TRY("put", kv_change(db, argv[3], argv[4]));
    } else if (strcmp(cmd, "get") == 0 && argc == 4) {
        if (kv_get(db, argv[3], val))
            printf("%s\n", val);
        else
            status = 1;
    } else if (strcmp(cmd, "del") == 0 && argc == 4) {
        TRY("del", kv_change(db, argv[3], NULL));
    } else if (strcmp(cmd, "check") == 0 || strcmp(cmd, "dump") == 0) {
        long keys = 0;
        for (int i = 0; i < N_PAGES; i++) {
            uint8_t *pg = db->pages[i].buf.data;
            uint16_t used;
            memcpy(&used, pg, 2);
            for (uint8_t *e = pg + 2; e < pg + 2 + used; e += 2 + e[0] + e[1], keys++)
                if (cmd[0] == 'd')
                    printf("%.*s %.*s\n", e[0], (char *)e + 2, e[1], (char *)e + 2 + e[0]);
        }
        if (cmd[0] == 'c')
            printf("ok: %ld keys in %d pages\n", keys, N_PAGES);
    } else if (strcmp(cmd, "bench") == 0 && argc == 5) {
        status = run_threads(db, atol(argv[3]), atoi(argv[4]) < 1 ? 1 : atoi(argv[4]), false);
    } else if (strcmp(cmd, "stress") == 0 && argc == 4) {
        status = run_threads(db, 0, atoi(argv[3]) < 1 ? 1 : atoi(argv[3]), true);
    } else {
        status = usage();
    }
    kv_close(db);
    free(db);
    return status;
}
#endif
