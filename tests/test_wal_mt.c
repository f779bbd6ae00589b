/* regio-test: labels=mt,io timeout=300 */
/*
 * tests/test_wal_mt.c: many appenders. Every record comes back after reopen,
 * byte for byte and in each thread's order; with 8 threads syncing every
 * append, group commit makes at least 2 records durable per sync on
 * average; async waiters and appends from a callback work under load.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include "check.h"
#include "wal_hold.h"
#include "wal_internal.h"

#define SEG  (1024u * 1024u)
#define BUF  (64u * 1024u)
#define MAXT 16

struct worker {
    struct regio_wal *w;
    uint32_t tid;
    uint32_t count;
    bool sync_each;
    uint32_t max_len;
    int err;
};

/* Record (tid, seq): 12 bytes of identity, then bytes derived from both. */
static size_t make_record(uint32_t tid, uint32_t seq, uint32_t max_len, uint8_t *out)
{
    uint64_t s = ((uint64_t)tid << 32 | seq) * 0x9e3779b97f4a7c15ull + 7;
    size_t len = 12 + (size_t)(test_rand(&s) % (max_len - 12));
    memcpy(out, &tid, 4);
    memcpy(out + 4, &seq, 4);
    memcpy(out + 8, &len, 4);
    for (size_t k = 12; k < len; k++)
        out[k] = (uint8_t)(test_rand(&s) >> 56);
    return len;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    uint8_t *buf = malloc(wk->max_len);
    for (uint32_t i = 0; i < wk->count && wk->err == 0; i++) {
        size_t len = make_record(wk->tid, i, wk->max_len, buf);
        uint64_t lsn;
        int rc = regio_wal_append(wk->w, buf, len, &lsn);
        if (rc == 0 && (wk->sync_each || i + 1 == wk->count))
            rc = regio_wal_sync(wk->w, lsn);
        if (rc != 0)
            wk->err = rc;
    }
    free(buf);
    return NULL;
}

static void run_workers(struct regio_wal *w, uint32_t n, uint32_t count, bool sync_each,
                        uint32_t max_len)
{
    pthread_t th[MAXT];
    struct worker wk[MAXT];
    for (uint32_t t = 0; t < n; t++) {
        wk[t] = (struct worker){w, t, count, sync_each, max_len, 0};
        CHECK(pthread_create(&th[t], NULL, worker_main, &wk[t]) == 0);
    }
    for (uint32_t t = 0; t < n; t++) {
        pthread_join(th[t], NULL);
        CHECK_OK(wk[t].err);
    }
}

static void verify(const char *dir, uint32_t n, uint32_t count, uint32_t max_len)
{
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(dir, 0, &r));
    uint32_t next[MAXT] = {0};
    uint8_t *want = malloc(max_len);
    struct regio_wal_record rec;
    int rc;
    uint64_t total = 0;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1) {
        uint32_t tid, seq;
        CHECK(rec.len >= 12);
        memcpy(&tid, rec.data, 4);
        memcpy(&seq, (const uint8_t *)rec.data + 4, 4);
        CHECK(tid < n);
        CHECK_EQ(seq, next[tid]); /* per-thread order, nothing missing */
        size_t len = make_record(tid, seq, max_len, want);
        CHECK_EQ(rec.len, len);
        CHECK(memcmp(rec.data, want, len) == 0);
        next[tid]++;
        total++;
    }
    CHECK_EQ(rc, 0);
    for (uint32_t t = 0; t < n; t++)
        CHECK_EQ(next[t], count);
    CHECK_EQ(total, (uint64_t)n * count);
    CHECK_OK(regio_wal_reader_close(r));
    free(want);
}

static void test_threads_reopen(void)
{
    const char *dir = test_tmpdir("walmt");
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = BUF, .create = true};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    /* Records up to 20 KiB with a 64 KiB buffer: the ring fills and
     * appenders wait for space; segments switch often. */
    run_workers(w, 4, 1500, false, 20000);
    CHECK_OK(regio_wal_close(w));
    verify(dir, 4, 1500, 20000);
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.records, 6000);
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

static bool on_tmpfs(const char *dir)
{
    struct statfs sf;
    CHECK(statfs(dir, &sf) == 0);
    return sf.f_type == TMPFS_MAGIC;
}

/*
 * Group commit as a mechanism: while the flusher is held, 8 threads each
 * append one record and wait in regio_wal_sync; once released, one flush
 * (two when the records straddle a buffer) must make all of them durable.
 * This holds on any device, however fast its syncs.
 */
static void group_round(struct regio_wal *w, uint32_t round)
{
    struct regio_wal_stats before, after;
    CHECK_OK(regio_wal_stats(w, &before));
    struct wal_hold h;
    pthread_t th[8];
    struct worker wk[8];
    wal_hold_start(&h, w);
    for (uint32_t t = 0; t < 8; t++) {
        wk[t] = (struct worker){w, t, 1, true, 100, 0};
        CHECK(pthread_create(&th[t], NULL, worker_main, &wk[t]) == 0);
    }
    /* Every appender has its LSN and is (about to be) waiting for it. */
    struct regio_wal_stats mid;
    do {
        usleep(200);
        CHECK_OK(regio_wal_stats(w, &mid));
    } while (mid.records < before.records + 8);
    usleep(2000);
    wal_hold_release(&h);
    for (uint32_t t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        CHECK_OK(wk[t].err);
    }
    CHECK_OK(regio_wal_stats(w, &after));
    CHECK_EQ(after.records_synced - before.records_synced, 8);
    if (after.syncs - before.syncs > 2) {
        fprintf(stderr, "round %u: 8 held appends took %llu syncs\n", round,
                (unsigned long long)(after.syncs - before.syncs));
        CHECK(after.syncs - before.syncs <= 2);
    }
}

static void test_group_commit(void)
{
    const char *dir = test_tmpdir("walgc");
    struct regio_wal_opts o = {.create = true};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    struct regio_wal_stats st;
    for (uint32_t round = 0; round < 20; round++)
        group_round(w, round);
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK(st.records_synced >= 2 * st.syncs);
    /* Free running: 8 threads syncing every append. Where a durable write
     * costs device time (not tmpfs, where it is a memory copy and a flush
     * finishes before the next appender arrives), flushes must group. */
    uint64_t syncs0 = st.syncs, recs0 = st.records_synced;
    run_workers(w, 8, 400, true, 100);
    CHECK_OK(regio_wal_stats(w, &st));
    double per_sync = (double)(st.records_synced - recs0) / (double)(st.syncs - syncs0);
    fprintf(stderr, "group commit: %llu records, %llu syncs, %.2f records/sync, %llu padded\n",
            (unsigned long long)(st.records_synced - recs0),
            (unsigned long long)(st.syncs - syncs0), per_sync, (unsigned long long)st.bytes_padded);
    CHECK_EQ(st.records_synced - recs0, 3200);
    if (!on_tmpfs(dir))
        CHECK(per_sync >= 2.0);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

struct chain {
    struct regio_wal *w;
    _Atomic int left;
    _Atomic int errors;
};

/* An async callback that appends the next record and registers again. */
static void chain_cb(void *ctx, int res)
{
    struct chain *c = ctx;
    if (res != 0) {
        atomic_fetch_add(&c->errors, 1);
        return;
    }
    if (atomic_fetch_sub(&c->left, 1) <= 1)
        return;
    uint64_t lsn;
    if (regio_wal_append(c->w, "chain", 5, &lsn) != 0 ||
        regio_wal_notify_durable(c->w, lsn, chain_cb, c) != 0)
        atomic_fetch_add(&c->errors, 1);
}

static void test_async_chain_under_load(void)
{
    const char *dir = test_tmpdir("walasync");
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = BUF, .create = true};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    struct chain c = {.w = w, .left = 300};
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "chain", 5, &lsn));
    CHECK_OK(regio_wal_notify_durable(w, lsn, chain_cb, &c));
    run_workers(w, 3, 500, false, 8000);
    for (int i = 0; i < 20000 && atomic_load(&c.left) > 0; i++)
        usleep(500);
    CHECK_EQ(atomic_load(&c.left), 0);
    CHECK_EQ(atomic_load(&c.errors), 0);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

int main(void)
{
    test_threads_reopen();
    test_group_commit();
    test_async_chain_under_load();
    printf("wal_mt: ok\n");
    return 0;
}
