/* regio-test: labels=io timeout=120 */
/*
 * tests/test_wal_sync_method.c: regio_wal_opts.sync_method. A given mode is the
 * one in use (stats), with no probe; AUTO probes the device at open and
 * keeps RWF_DSYNC unless write + fdatasync is clearly faster (under 3/4 of
 * its time), reporting both probe times; a mode that is not one of
 * the enum's is -EINVAL with a detail that names it. In every mode an
 * appended and synced record reads back after close.
 */
#include "check.h"
#include "wal_internal.h"

static void append_and_read(const char *dir, enum regio_wal_sync_method mode,
                            struct regio_wal_stats *st)
{
    struct regio_wal_opts o = {.create = true, .segment_bytes = 16u << 20, .sync_method = mode};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    char rec[100];
    memset(rec, (int)mode + 1, sizeof(rec));
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, rec, sizeof(rec), &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_stats(w, st));
    CHECK(st->syncs >= 1);
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(dir, lsn, &r));
    struct regio_wal_record rr;
    CHECK_EQ(regio_wal_reader_next(r, &rr), 1);
    CHECK_EQ(rr.len, sizeof(rec));
    CHECK(memcmp(rr.data, rec, sizeof(rec)) == 0);
    CHECK_OK(regio_wal_reader_close(r));
}

/* AUTO's rule on given probe times: a near tie, which flipped from one
 * open to the next on the test machine, keeps RWF_DSYNC. */
static void check_rule(void)
{
    CHECK(!regio__wal_probe_prefers_fdatasync(100000, 100000));
    CHECK(!regio__wal_probe_prefers_fdatasync(100000, 80000));
    CHECK(!regio__wal_probe_prefers_fdatasync(100000, 75000));
    CHECK(regio__wal_probe_prefers_fdatasync(100000, 74999));
    CHECK(regio__wal_probe_prefers_fdatasync(240000, 100000)); /* the 2.4x device */
    CHECK(!regio__wal_probe_prefers_fdatasync(100000, 240000));
}

int main(void)
{
    const char *dir = test_tmpdir("wal_sync_method");
    struct regio_wal_stats st;

    check_rule();

    append_and_read(dir, REGIO_WAL_SYNC_DSYNC, &st);
    CHECK_EQ(st.sync_method, REGIO_WAL_SYNC_DSYNC);
    CHECK_EQ(st.sync_probe_dsync_ns, 0);
    CHECK_EQ(st.sync_probe_fdatasync_ns, 0);

    append_and_read(dir, REGIO_WAL_SYNC_FDATASYNC, &st);
    CHECK_EQ(st.sync_method, REGIO_WAL_SYNC_FDATASYNC);
    CHECK_EQ(st.sync_probe_dsync_ns, 0);

    append_and_read(dir, REGIO_WAL_SYNC_AUTO, &st);
    CHECK(st.sync_method == REGIO_WAL_SYNC_DSYNC || st.sync_method == REGIO_WAL_SYNC_FDATASYNC);
    if (st.sync_probe_dsync_ns == 0) {
        /* No probe on this filesystem (no O_TMPFILE or O_DIRECT): the default. */
        CHECK_EQ(st.sync_method, REGIO_WAL_SYNC_DSYNC);
        CHECK_EQ(st.sync_probe_fdatasync_ns, 0);
    } else {
        CHECK(st.sync_probe_fdatasync_ns > 0);
        /* fdatasync only when under 3/4 of RWF_DSYNC's time (wal.h). */
        CHECK_EQ(st.sync_method, st.sync_probe_fdatasync_ns * 4 < st.sync_probe_dsync_ns * 3
                                     ? REGIO_WAL_SYNC_FDATASYNC
                                     : REGIO_WAL_SYNC_DSYNC);
    }
    fprintf(stderr, "probe: RWF_DSYNC %llu ns, write+fdatasync %llu ns\n",
            (unsigned long long)st.sync_probe_dsync_ns,
            (unsigned long long)st.sync_probe_fdatasync_ns);

    struct regio_wal_opts bad = {.create = true, .sync_method = (enum regio_wal_sync_method)7};
    struct regio_wal *w = NULL;
    CHECK_EQ(regio_wal_open(dir, &bad, &w, NULL), -EINVAL);
    CHECK(w == NULL);
    CHECK(strstr(regio_error_detail(), "sync_method 7") != NULL);

    test_rmdir_all(dir);
    printf("wal_sync_method: ok\n");
    return 0;
}
