/* regio-test: labels=mt,io timeout=300 */
/*
 * tests/test_wal_fault.c: fail-stop. An injected EIO or ENOSPC on a write, or
 * on the fdatasync of the write+fdatasync mode, fails the log: the waiter
 * gets the error, every later call and every other waiter too, nothing more
 * is acknowledged; reopening recovers every record acknowledged before.
 * Both durability modes are covered (RWF_DSYNC writes, write + fdatasync).
 * A short write is completed by the engine and is no failure.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "regio/testing.h"
#include "wal_internal.h"

#define SEG (1024u * 1024u)
#define BUF (64u * 1024u)

static int arm(struct regio_engine *e, void *arg)
{
    return regio_engine_fault_arm(e, arg);
}

struct worker {
    struct regio_wal *w;
    uint32_t tid;
    uint32_t acked; /* records of this thread acknowledged */
    int err;
};

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    for (uint32_t i = 0; i < 100000; i++) {
        uint32_t rec[2] = {wk->tid, i};
        uint64_t lsn;
        int rc = regio_wal_append(wk->w, rec, sizeof(rec), &lsn);
        if (rc == 0)
            rc = regio_wal_sync(wk->w, lsn);
        if (rc != 0) {
            wk->err = rc;
            return NULL;
        }
        wk->acked = i + 1;
    }
    return NULL;
}

static void never_called(void *ctx, int res)
{
    (void)ctx;
    (void)res;
    CHECK(!"a request refused by a failed log was answered");
}

/* Each call on the failed log returns its error with a fresh detail that
 * says the log failed (sync and notify once returned it with none). */
static void check_failed_detail(int rc, int err)
{
    CHECK_EQ(rc, err);
    CHECK(strstr(regio_error_detail(), "failed") != NULL);
}

static void check_failed_everywhere(struct regio_wal *w, int err)
{
    uint64_t lsn;
    check_failed_detail(regio_wal_append(w, "x", 1, &lsn), err);
    check_failed_detail(regio_wal_sync(w, 0), err);
    check_failed_detail(regio_wal_notify_durable(w, 0, never_called, NULL), err);
    check_failed_detail(regio_wal_set_checkpoint(w, 0), err);
    CHECK_EQ(regio_wal_truncate_before(w, 0), err);
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK_EQ(st.failed, err);
}

static void fault_case(enum regio_op_kind op, int err, bool fdatasync_mode)
{
    const char *dir = test_tmpdir("walfault");
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = BUF, .create = true};
    o.sync_method = fdatasync_mode ? REGIO_WAL_SYNC_FDATASYNC : REGIO_WAL_SYNC_DSYNC;
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    struct regio_fault f = {.op = op, .nth = 40, .err = err};
    CHECK_OK(regio__wal_engine_call(w, arm, &f));
    enum { T = 4 };
    pthread_t th[T];
    struct worker wk[T];
    for (uint32_t t = 0; t < T; t++) {
        wk[t] = (struct worker){w, t, 0, 0};
        CHECK(pthread_create(&th[t], NULL, worker_main, &wk[t]) == 0);
    }
    for (uint32_t t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(wk[t].err, err); /* every waiter got the error */
    }
    uint64_t durable = regio_wal_durable_lsn(w);
    check_failed_everywhere(w, err);
    CHECK_EQ(regio_wal_durable_lsn(w), durable); /* nothing acknowledged since */
    CHECK_EQ(regio_wal_close(w), err);
    /* The failed close says why (freeing the WAL's slab through public
     * calls once reset the detail to nothing). */
    CHECK(regio_error_detail()[0] != '\0');

    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK(info.end == REGIO_WAL_END_TORN);
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open_live(w, 0, &r));
    uint32_t next[T] = {0};
    struct regio_wal_record rec;
    int rc;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1) {
        uint32_t v[2];
        CHECK_EQ(rec.len, sizeof(v));
        memcpy(v, rec.data, sizeof(v));
        CHECK(v[0] < T);
        CHECK_EQ(v[1], next[v[0]]);
        next[v[0]]++;
    }
    CHECK_EQ(rc, 0);
    CHECK_OK(regio_wal_reader_close(r));
    for (uint32_t t = 0; t < T; t++)
        CHECK(next[t] >= wk[t].acked);
    /* The reopened log works. */
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "again", 5, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

static void short_write_is_completed(void)
{
    const char *dir = test_tmpdir("walshort");
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = BUF, .create = true};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    struct regio_fault f = {.op = REGIO_OP_WRITE, .nth = 2, .short_bytes = 4096, .sticky = true};
    CHECK_OK(regio__wal_engine_call(w, arm, &f));
    uint8_t buf[20000];
    memset(buf, 0xab, sizeof(buf));
    uint64_t lsn;
    for (int i = 0; i < 50; i++) {
        CHECK_OK(regio_wal_append(w, buf, sizeof(buf), &lsn));
        CHECK_OK(regio_wal_sync(w, lsn));
    }
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.records, 50);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

int main(void)
{
    fault_case(REGIO_OP_WRITE, -EIO, false);
    fault_case(REGIO_OP_WRITE, -ENOSPC, false);
    fault_case(REGIO_OP_FSYNC, -EIO, true);
    fault_case(REGIO_OP_WRITE, -EIO, true);
    short_write_is_completed();
    printf("wal_fault: ok\n");
    return 0;
}
