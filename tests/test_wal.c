/* regio-test: labels=io timeout=300 */
/*
 * tests/test_wal.c: the WAL on one thread: append/sync/reopen round trips,
 * records back byte for byte through both readers, clean close and epochs,
 * second open refused, oversized record refused, checkpoint kept across
 * reopen, truncation recycles and ignores stale records, the live reader
 * tails the durable end, notify_durable calls back in LSN order, salvage mode
 * keeps the prefix before a damaged record, pads verify over a lapped ring,
 * a log of an older format version is refused, a reopen with a larger buffer
 * takes records bigger than the old window (in the next segment), the
 * tuning options are checked and honoured.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "regio/stats.h"
#include "wal_hold.h"
#include "wal_internal.h"

#include <xxhash.h>

#define SEG (1024u * 1024u)
#define BUF (64u * 1024u)

static struct regio_wal_opts small_opts(void)
{
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = BUF, .create = true};
    return o;
}

/* Deterministic payload of record i: length and bytes derived from i. */
static size_t payload(uint64_t i, uint8_t *out, size_t cap)
{
    uint64_t s = i * 0x9e3779b97f4a7c15ull + 1;
    size_t len = 1 + (size_t)(test_rand(&s) % 3000);
    if (len > cap)
        len = cap;
    for (size_t k = 0; k < len; k++)
        out[k] = (uint8_t)(test_rand(&s) >> 56);
    return len;
}

/* Read every record with a directory reader and compare with payload(i). */
static void verify_dir(const char *dir, uint64_t first, uint64_t count)
{
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(dir, 0, &r));
    struct regio_wal_record rec;
    uint8_t want[4096];
    uint64_t i = first;
    int rc;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1) {
        size_t len = payload(i, want, sizeof(want));
        CHECK_EQ(rec.len, len);
        CHECK(memcmp(rec.data, want, len) == 0);
        i++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(i, first + count);
    CHECK_OK(regio_wal_reader_close(r));
}

static void test_round_trip(void)
{
    const char *dir = test_tmpdir("wal-rt");
    struct regio_wal_opts o = small_opts();
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_EMPTY);
    CHECK_EQ(info.epoch, 1);
    uint8_t buf[4096];
    uint64_t lsn = 0, prev = 0;
    /* Enough records to cross several 1 MiB segments. */
    for (uint64_t i = 0; i < 3000; i++) {
        size_t len = payload(i, buf, sizeof(buf));
        CHECK_OK(regio_wal_append(w, buf, len, &lsn));
        CHECK(lsn > prev);
        prev = lsn;
        if (i % 7 == 0)
            CHECK_OK(regio_wal_sync(w, lsn));
    }
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK(regio_wal_durable_lsn(w) > lsn);
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK_EQ(st.records, 3000);
    CHECK_EQ(st.records_synced, 3000);
    CHECK(st.syncs > 0 && st.bytes_padded > 0 && st.block_bytes >= 4096);
    CHECK_OK(regio_wal_close(w));
    verify_dir(dir, 0, 3000);

    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.records, 3000);
    CHECK_EQ(info.epoch, 2);
    CHECK_EQ(info.bytes_cut, 0);
    for (uint64_t i = 3000; i < 3100; i++) {
        size_t len = payload(i, buf, sizeof(buf));
        CHECK_OK(regio_wal_append(w, buf, len, &lsn));
    }
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_close(w));
    verify_dir(dir, 0, 3100);
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.records, 3100);
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

/*
 * Pads over a ring that has been lapped many times: zero_ahead clears ring
 * bytes before they can be reserved, so that a pad need not clear its own
 * payload; recovery checks that every pad payload is zero (format version
 * 2), so a pad over a stale ring byte would fail the reopen. A ring too small
 * to spare a slack block clears in the pad instead, and must verify too.
 */
static void pads_over_lapped_ring(size_t buffer_bytes, bool expect_prezeroed)
{
    const char *dir = test_tmpdir("wal-pads");
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = buffer_bytes, .create = true};
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    uint8_t buf[4096];
    uint64_t lsn = 0;
    const uint64_t n = 2000;
    for (uint64_t i = 0; i < n; i++) {
        size_t len = payload(i, buf, buffer_bytes / 2);
        CHECK_OK(regio_wal_append(w, buf, len, &lsn));
        CHECK_OK(regio_wal_sync(w, lsn)); /* every sync pads to the block */
    }
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK(st.bytes_written > 8 * 4 * buffer_bytes); /* the ring lapped 8 times or more */
    uint64_t pre = atomic_load(&w->pads_prezeroed);
    /* Without slack only the first lap (cleared at open) is known zero. */
    CHECK(expect_prezeroed ? pre > n / 2 : pre <= 4 * buffer_bytes / 4096);
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.records, n);
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(dir, 0, &r));
    struct regio_wal_record rec;
    uint8_t want[4096];
    uint64_t i = 0;
    int rc;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1) {
        size_t len = payload(i, want, buffer_bytes / 2);
        CHECK_EQ(rec.len, len);
        CHECK(memcmp(rec.data, want, len) == 0);
        i++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(i, n);
    CHECK_OK(regio_wal_reader_close(r));
    test_rmdir_all(dir);
}

static void test_pads_over_lapped_ring(void)
{
    pads_over_lapped_ring(BUF, true);   /* 256 KiB ring: 16 KiB slack */
    pads_over_lapped_ring(4096, false); /* 16 KiB ring: no slack */
}

/* Create a log in dir with opts o holding one durable record, and close it. */
static void one_record_log(const char *dir, const struct regio_wal_opts *o)
{
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, o, &w, NULL));
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "x", 1, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_close(w));
}

/* A log of an older format version is refused with a clear error, not read
 * under the new rules (docs/format.md, "Earlier versions"). */
static void test_old_version_refused(void)
{
    const char *dir = test_tmpdir("wal-ver");
    struct regio_wal_opts o = small_opts();
    one_record_log(dir, &o);
    struct regio_wal *w;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, REGIO__WAL_CTL_NAME);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t b[72];
    CHECK_EQ(pread(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
    CHECK_EQ(regio__le32_get(b + 8), REGIO__WAL_VERSION);
    regio__le32_put(b + 8, 1); /* as written by version 1, checksum valid */
    regio__le64_put(b + 64, XXH3_64bits(b, 64));
    CHECK_EQ(pwrite(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
    close(fd);
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBADMSG);
    CHECK(strstr(regio_error_detail(), "format version 1, written by an earlier regio") != NULL);
    test_rmdir_all(dir);
}

/* Reopening with a larger buffer than the open that last wrote the log: the
 * old in-flight window bounds this open while it writes in that segment, so
 * a record bigger than the window starts the next segment early (it once
 * waited for ring space forever), and everything reads back after reopen. */
static void test_reopen_larger_buffer(void)
{
    const char *dir = test_tmpdir("wal-grow");
    const uint64_t seg = 16u << 20;
    /* 64 KiB buffers: a 256 KiB window. */
    struct regio_wal_opts o = {.segment_bytes = seg, .buffer_bytes = BUF, .create = true};
    one_record_log(dir, &o);
    struct regio_wal *w;
    uint64_t lsn;
    struct regio_wal_opts big = {.segment_bytes = seg, .buffer_bytes = 1u << 20};
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &big, &w, &info));
    size_t max = regio_wal_max_record_bytes(w);
    CHECK_EQ(max, (1u << 20) - 32);
    uint8_t *rec = malloc(max);
    CHECK(rec != NULL);
    for (size_t k = 0; k < max; k++)
        rec[k] = (uint8_t)(k * 7 + 1);
    CHECK_OK(regio_wal_append(w, "small", 5, &lsn));
    CHECK(lsn < seg); /* small records stay in the old segment */
    CHECK_OK(regio_wal_append(w, rec, max, &lsn));
    CHECK_EQ(lsn / seg, 1); /* the big one starts segment 1 */
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_append(w, rec, max, &lsn)); /* full window from now on */
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(dir, &big, &w, &info));
    CHECK_EQ(info.records, 4);
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(dir, 0, &r));
    struct regio_wal_record got;
    size_t want_len[] = {1, 5, max, max};
    for (int k = 0; k < 4; k++) {
        CHECK_EQ(regio_wal_reader_next(r, &got), 1);
        CHECK_EQ(got.len, want_len[k]);
        if (k >= 2)
            CHECK(memcmp(got.data, rec, max) == 0);
    }
    CHECK_EQ(regio_wal_reader_next(r, &got), 0);
    CHECK_OK(regio_wal_reader_close(r));
    free(rec);
    test_rmdir_all(dir);
}

static void test_busy_and_too_large(void)
{
    /* test_tmpdir returns a static buffer that the next call reuses. */
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("wal-busy"));
    struct regio_wal_opts o = small_opts();
    struct regio_wal *w, *w2;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    CHECK_EQ(regio_wal_open(dir, &o, &w2, NULL), -EBUSY);
    size_t max = regio_wal_max_record_bytes(w);
    CHECK_EQ(max, BUF - 32);
    uint8_t *big = calloc(1, max + 1);
    CHECK(big != NULL);
    uint64_t lsn;
    CHECK_EQ(regio_wal_append(w, big, max + 1, &lsn), -EINVAL);
    CHECK_EQ(regio_wal_append(w, big, 0, &lsn), -EINVAL);
    CHECK_OK(regio_wal_append(w, big, max, &lsn)); /* the largest fits */
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_append(w, "ok", 2, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_EQ(regio_wal_sync(w, lsn + 1000000), -EINVAL);
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.records, 2);
    CHECK_OK(regio_wal_close(w));
    /* A buffer ring that does not fit the segment is refused, and leaves
     * nothing behind that would stop a correct open. */
    const char *geo = test_tmpdir("wal-geo");
    struct regio_wal_opts bad = {.segment_bytes = 64 * 1024, .buffer_bytes = BUF, .create = true};
    CHECK_EQ(regio_wal_open(geo, &bad, &w2, NULL), -EINVAL);
    CHECK_OK(regio_wal_open(geo, &o, &w2, NULL));
    CHECK_OK(regio_wal_close(w2));
    test_rmdir_all(geo);
    o.no_create_log = true;
    const char *empty = test_tmpdir("wal-none");
    CHECK_EQ(regio_wal_open(empty, &o, &w, NULL), -ENOENT);
    test_rmdir_all(empty);
    free(big);
    test_rmdir_all(dir);
}

static void test_checkpoint_truncate(void)
{
    const char *dir = test_tmpdir("wal-ckpt");
    struct regio_wal_opts o = small_opts();
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    uint8_t buf[4096];
    uint64_t lsns[4000];
    for (uint64_t i = 0; i < 4000; i++) {
        size_t len = payload(i, buf, sizeof(buf));
        CHECK_OK(regio_wal_append(w, buf, len, &lsns[i]));
    }
    CHECK_OK(regio_wal_sync(w, lsns[3999]));
    CHECK(regio__wal_seg(w, lsns[3999]) >= 4);
    /* Checkpoint at record 2000: truncation stops below its segment. */
    CHECK_OK(regio_wal_set_checkpoint(w, lsns[2000]));
    int n = regio_wal_truncate_before(w, lsns[3999]);
    CHECK(n >= 1);
    CHECK_EQ((uint64_t)n, regio__wal_seg(w, lsns[2000]));
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.checkpoint_lsn, lsns[2000]);
    CHECK(info.start_lsn <= lsns[2000]);
    CHECK(info.start_lsn >= regio__wal_seg(w, lsns[2000]) * SEG);
    /* Recycled segments are reused with new salts: write through them and
     * make sure recovery never picks up a stale record. */
    uint64_t base = info.records, lsn = 0;
    for (uint64_t i = 0; i < 6000; i++) {
        size_t len = payload(10000 + i, buf, sizeof(buf));
        CHECK_OK(regio_wal_append(w, buf, len, &lsn));
    }
    CHECK_OK(regio_wal_sync(w, lsn));
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.records, base + 6000);
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

struct order_ctx {
    _Atomic uint64_t last;
    _Atomic int calls;
    _Atomic int bad;
    pthread_t self;
};
struct order_item {
    struct order_ctx *c;
    uint64_t lsn;
};

static void order_cb(void *ctx, int res)
{
    struct order_item *it = ctx;
    if (res != 0 || it->lsn < atomic_load(&it->c->last) ||
        pthread_equal(pthread_self(), it->c->self))
        atomic_fetch_add(&it->c->bad, 1);
    atomic_store(&it->c->last, it->lsn);
    atomic_fetch_add(&it->c->calls, 1);
}

static void test_async_and_live_reader(void)
{
    const char *dir = test_tmpdir("wal-async");
    struct regio_wal_opts o = small_opts();
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open_live(w, 0, &r));
    struct regio_wal_record rec;
    CHECK_EQ(regio_wal_reader_next(r, &rec), 0); /* nothing yet */
    static struct order_item items[500];
    struct order_ctx c = {.self = pthread_self()};
    uint8_t buf[4096];
    /* Hold the flusher so that nothing becomes durable while callbacks are
     * registered out of order: they must still come in LSN order. */
    struct wal_hold h;
    wal_hold_start(&h, w);
    for (int i = 0; i < 500; i++) {
        size_t len = payload((uint64_t)i, buf, sizeof(buf)) % 200 + 1;
        CHECK_OK(regio_wal_append(w, buf, len, &items[i].lsn));
        items[i].c = &c;
    }
    for (int i = 499; i >= 0; i -= 2)
        CHECK_OK(regio_wal_notify_durable(w, items[i].lsn, order_cb, &items[i]));
    for (int i = 0; i < 500; i += 2)
        CHECK_OK(regio_wal_notify_durable(w, items[i].lsn, order_cb, &items[i]));
    CHECK_EQ(atomic_load(&c.calls), 0);
    wal_hold_release(&h);
    for (int spin = 0; atomic_load(&c.calls) < 500 && spin < 10000; spin++)
        usleep(1000);
    CHECK_EQ(atomic_load(&c.calls), 500);
    CHECK_EQ(atomic_load(&c.bad), 0);
    /* The live reader sees exactly the durable records, then "no more yet". */
    uint8_t want[4096];
    for (int i = 0; i < 500; i++) {
        CHECK_EQ(regio_wal_reader_next(r, &rec), 1);
        CHECK_EQ(rec.lsn, items[i].lsn);
        size_t len = payload((uint64_t)i, want, sizeof(want)) % 200 + 1;
        CHECK_EQ(rec.len, len);
        CHECK(memcmp(rec.data, want, len) == 0);
    }
    CHECK_EQ(regio_wal_reader_next(r, &rec), 0);
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "tail", 4, &lsn));
    CHECK_EQ(regio_wal_reader_next(r, &rec), 0); /* appended, not durable */
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_EQ(regio_wal_reader_next(r, &rec), 1);
    CHECK_EQ(rec.len, 4);
    CHECK(memcmp(rec.data, "tail", 4) == 0);
    /* A pinned reader at the start keeps truncation from recycling. */
    CHECK_EQ(regio_wal_truncate_before(w, lsn), 0);
    CHECK_OK(regio_wal_reader_close(r));
    /* A reader from a record start in the middle; a non-start is refused. */
    CHECK_OK(regio_wal_reader_open_live(w, items[250].lsn, &r));
    CHECK_EQ(regio_wal_reader_next(r, &rec), 1);
    CHECK_EQ(rec.lsn, items[250].lsn);
    CHECK_OK(regio_wal_reader_close(r));
    CHECK_EQ(regio_wal_reader_open_live(w, items[250].lsn + 8, &r), -EINVAL);
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_reader_open(dir, items[100].lsn, &r));
    CHECK_EQ(regio_wal_reader_next(r, &rec), 1);
    CHECK_EQ(rec.lsn, items[100].lsn);
    CHECK_OK(regio_wal_reader_close(r));
    test_rmdir_all(dir);
}

/* A damaged record in the middle: strict open refuses, salvage keeps the
 * prefix, reports the drop, and leaves a log that opens strictly after. */
static void test_salvage(void)
{
    const char *dir = test_tmpdir("wal-salvage");
    struct regio_wal_opts o = small_opts();
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    uint8_t buf[4096];
    uint64_t lsns[50];
    for (uint64_t i = 0; i < 50; i++) {
        size_t len = payload(i, buf, sizeof(buf));
        CHECK_OK(regio_wal_append(w, buf, len, &lsns[i]));
        CHECK_OK(regio_wal_sync(w, lsns[i]));
    }
    CHECK_OK(regio_wal_close(w));
    char path[4096];
    snprintf(path, sizeof(path), "%s/0000000000000000.wal", dir);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t byte;
    CHECK(pread(fd, &byte, 1, (off_t)lsns[10] + 40) == 1);
    byte ^= 0x10;
    CHECK(pwrite(fd, &byte, 1, (off_t)lsns[10] + 40) == 1);
    close(fd);
    struct regio_wal_recovery info;
    CHECK_EQ(regio_wal_open(dir, &o, &w, &info), -EBADMSG);
    CHECK(strstr(regio_error_detail(), "corrupt") != NULL);
    o.recovery = REGIO_WAL_RECOVER_SALVAGE;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_SALVAGED);
    CHECK_EQ(info.records, 10);
    CHECK(info.records_dropped >= 40);
    CHECK_EQ(info.end_lsn % 4096, 0);
    for (uint64_t i = 10; i < 20; i++) {
        size_t len = payload(i, buf, sizeof(buf));
        uint64_t lsn;
        CHECK_OK(regio_wal_append(w, buf, len, &lsn));
        CHECK_OK(regio_wal_sync(w, lsn));
    }
    CHECK_OK(regio_wal_close(w));
    o.recovery = REGIO_WAL_RECOVER_STRICT;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.records, 20);
    CHECK_OK(regio_wal_close(w));
    verify_dir(dir, 0, 20);
    test_rmdir_all(dir);
}

/* An arena the WAL makes with a stats name publishes the WAL's counters. */
static void test_live_stats(void)
{
    const char *dir = test_tmpdir("wal-stats");
    struct regio_wal_opts o = small_opts();
    char name[64];
    snprintf(name, sizeof(name), "waltest%d", (int)getpid());
    o.stats_name = name;
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    uint64_t lsn;
    for (int i = 0; i < 10; i++)
        CHECK_OK(regio_wal_append(w, "stats", 5, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm/regio.%d.%s", (int)getpid(), name);
    static struct regio_stats_file sf;
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        usleep(20000);
        CHECK_OK(regio_stats_read(path, &sf));
        for (int k = 0; k < REGIO_STATS_MAX_WALS; k++)
            if (sf.wals[k].used && sf.wals[k].records == 10 && sf.wals[k].records_synced == 10 &&
                sf.wals[k].durable_lsn == regio_wal_durable_lsn(w))
                seen = true;
    }
    CHECK(seen);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
}

/* The tuning fields of the options: out-of-range values are refused with a
 * detail naming the field, 0 gives the defaults, and a log written under
 * the other settings reads back whole. */
static void test_tuning(void)
{
    const char *dir = test_tmpdir("wal-tune");
    struct regio_wal *w = NULL;
    struct regio_wal_opts o = small_opts();
    o.max_flushes = REGIO_WAL_MAX_FLUSHES + 1;
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EINVAL);
    CHECK(strstr(regio_error_detail(), "max_flushes") != NULL);
    o = small_opts();
    o.sync_method = (enum regio_wal_sync_method)7;
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EINVAL);
    CHECK(strstr(regio_error_detail(), "sync_method") != NULL);

    o = small_opts();
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    CHECK(w->dsync_writes && w->max_flushes_in_flight == 2 && w->poll_ns > 0);
    CHECK_OK(regio_wal_close(w));
    const struct regio_wal_opts tunings[2] = {
        {.sync_method = REGIO_WAL_SYNC_FDATASYNC, .max_flushes = 1, .flusher_poll_ns = -1},
        {.sync_method = REGIO_WAL_SYNC_DSYNC,
         .max_flushes = REGIO_WAL_MAX_FLUSHES,
         .flusher_poll_ns = 1000},
    };
    uint8_t buf[4096];
    uint64_t lsn = 0, n = 0;
    for (int t = 0; t < 2; t++) {
        o = small_opts();
        o.sync_method = tunings[t].sync_method;
        o.max_flushes = tunings[t].max_flushes;
        o.flusher_poll_ns = tunings[t].flusher_poll_ns;
        CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
        CHECK_EQ(w->dsync_writes, t == 1);
        CHECK_EQ(w->max_flushes_in_flight, tunings[t].max_flushes);
        CHECK_EQ(w->poll_ns, tunings[t].flusher_poll_ns);
        for (uint64_t end = n + 400; n < end; n++) {
            CHECK_OK(regio_wal_append(w, buf, payload(n, buf, sizeof(buf)), &lsn));
            if (n % 5 == 0)
                CHECK_OK(regio_wal_sync(w, lsn));
        }
        CHECK_OK(regio_wal_close(w));
        verify_dir(dir, 0, n);
    }
    test_rmdir_all(dir);
}

int main(void)
{
    test_round_trip();
    test_pads_over_lapped_ring();
    test_old_version_refused();
    test_reopen_larger_buffer();
    test_busy_and_too_large();
    test_checkpoint_truncate();
    test_async_and_live_reader();
    test_salvage();
    test_live_stats();
    test_tuning();
    printf("wal: ok\n");
    return 0;
}
