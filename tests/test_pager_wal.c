/* regio-test: labels=io,mt timeout=300 */
/*
 * tests/test_pager_wal.c: a pager bound to a WAL never writes a page before
 * the log is durable past the page's LSN (the write-ahead rule), and does
 * not block the writing thread to enforce it.
 *
 * - Owned engine: a write whose page LSN is not durable is parked: nothing
 *   reaches the ring, the file stays without the page, the call returns at
 *   once; the WAL's notification releases it and the owner's next pager
 *   call submits it (close and unbind then are -EBUSY); when its callback runs the log is
 *   durable past the LSN.
 * - Shared engine: the notification submits the write itself.
 * - write_wait and write_many_wait wait for the log first.
 * - A page LSN at or past the log's end is refused with a detail; binding
 *   with a write parked is -EBUSY; page LSN 0 is never held back.
 * - A log refuses to close while a pager is bound to it; unbinding,
 *   rebinding to another log or closing the pager releases the binding.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine_internal.h"
#include "regio.h"
#include "wal_hold.h"

enum { PB = 4096 };

struct env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
    struct regio_wal *w;
    struct regio_pager *p;
};

struct done {
    int calls;
    int res;
    uint64_t lsn;
    uint64_t durable_at_cb; /* the log's durable LSN when the write completed */
    struct regio_wal *w;
};

static void done_cb(void *ctx, int res)
{
    struct done *d = ctx;
    d->durable_at_cb = regio_wal_durable_lsn(d->w);
    d->res = res;
    __atomic_store_n(&d->calls, d->calls + 1, __ATOMIC_RELEASE);
}

static void env_open(struct env *v, const char *dir, const char *name, bool shared)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s-wal", dir, name);
    struct regio_wal_opts wo = {
        .create = true, .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10};
    CHECK_OK(regio_wal_open(path, &wo, &v->w, NULL));
    struct regio_arena_opts ao = {.size_bytes = 8u << 20};
    CHECK_OK(regio_arena_create(&ao, &v->a));
    CHECK_OK(regio_slab_create(v->a, NULL, &v->s));
    struct regio_engine_opts eo = {.shared = shared};
    CHECK_OK(regio_engine_create(v->a, v->s, &eo, &v->e));
    snprintf(path, sizeof(path), "%s/%s-pages", dir, name);
    struct regio_pager_opts po = {.page_bytes = PB, .create = true};
    CHECK_OK(regio_pager_open(v->e, path, &po, &v->p));
    CHECK_OK(regio_pager_bind_wal(v->p, v->w));
}

static void env_close(struct env *v)
{
    CHECK_OK(regio_pager_close(v->p));
    CHECK_OK(regio_engine_destroy(v->e));
    CHECK_OK(regio_slab_destroy(v->s));
    CHECK_OK(regio_arena_destroy(v->a));
    CHECK_OK(regio_wal_close(v->w));
}

static uint64_t append(struct regio_wal *w, uint64_t tag)
{
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, &tag, sizeof(tag), &lsn));
    return lsn;
}

static off_t file_bytes(struct regio_pager *p)
{
    uint64_t n = 0;
    CHECK_OK(regio_pager_page_count(p, &n));
    return (off_t)n * PB;
}

static void test_owned(const char *dir)
{
    struct env v;
    env_open(&v, dir, "owned", false);
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, PB, &b));
    memset(b.data, 0x5a, regio_pager_payload_bytes(v.p));

    /* Hold the WAL's flusher so that the record cannot become durable on
     * its own (the flusher writes whatever was appended, unasked) before
     * the page write has been parked. */
    struct wal_hold h;
    wal_hold_start(&h, v.w);
    uint64_t lsn = append(v.w, 1);
    CHECK(regio_wal_durable_lsn(v.w) <= lsn);
    CHECK_OK(regio_pager_set_image_lsn(b.data, PB, lsn));
    struct done d = {.w = v.w};
    CHECK_OK(regio_pager_write(v.p, 2, b, done_cb, &d));
    /* Parked: nothing in the ring, the caller was not blocked. */
    CHECK_EQ(regio__pager_parked(v.p), 1);
    CHECK_EQ(regio_engine_in_flight(v.e), 0);
    wal_hold_release(&h);
    /* The notification asked the log to flush; on an owned engine the write
     * waits for the owner's next pager call, so it is not on disk yet. */
    for (int i = 0; i < 200 && regio_wal_durable_lsn(v.w) <= lsn; i++)
        usleep(1000);
    CHECK(regio_wal_durable_lsn(v.w) > lsn);
    usleep(5000);
    CHECK_EQ(file_bytes(v.p), 0);
    CHECK_EQ(d.calls, 0);
    /* Every pager call hands the released write to the ring; close and
     * unbind then refuse, since it is in flight. */
    CHECK_EQ(regio_pager_close(v.p), -EBUSY);
    CHECK(strstr(regio_error_detail(), "in flight") != NULL);
    CHECK_EQ(regio_pager_bind_wal(v.p, NULL), -EBUSY);
    CHECK_OK(regio_pager_submit(v.p));
    CHECK_EQ(regio__pager_parked(v.p), 0);
    while (__atomic_load_n(&d.calls, __ATOMIC_ACQUIRE) == 0)
        regio_engine_wait(v.e, 1, -1);
    CHECK_EQ(d.res, PB);
    CHECK(d.durable_at_cb > lsn);
    CHECK_EQ(file_bytes(v.p), 3 * PB);

    /* A blocking write waits for the log itself. */
    lsn = append(v.w, 2);
    CHECK_OK(regio_pager_set_image_lsn(b.data, PB, lsn));
    CHECK_EQ(regio_pager_write_wait(v.p, 0, b), PB);
    CHECK(regio_wal_durable_lsn(v.w) > lsn);

    /* A blocking sync waits for a parked write. */
    lsn = append(v.w, 3);
    CHECK_OK(regio_pager_set_image_lsn(b.data, PB, lsn));
    struct done d2 = {.w = v.w};
    CHECK_OK(regio_pager_write(v.p, 1, b, done_cb, &d2));
    CHECK_OK(regio_pager_sync(v.p));
    CHECK_EQ(d2.calls, 1);
    CHECK_EQ(d2.res, PB);
    CHECK(d2.durable_at_cb > lsn);

    /* A batch: waits for the largest LSN. */
    enum { M = 16 };
    struct regio_buf bufs[M];
    uint64_t nos[M];
    int res[M];
    uint64_t max = 0;
    for (int i = 0; i < M; i++) {
        CHECK_OK(regio_slab_alloc(v.s, PB, &bufs[i]));
        nos[i] = 10 + (uint64_t)i;
        max = append(v.w, 100 + (uint64_t)i);
        CHECK_OK(regio_pager_set_image_lsn(bufs[i].data, PB, max));
    }
    CHECK_EQ(regio_pager_write_many_wait(v.p, nos, bufs, res, M), 0);
    CHECK(regio_wal_durable_lsn(v.w) > max);
    for (int i = 0; i < M; i++)
        CHECK_OK(regio_slab_free(v.s, bufs[i]));

    /* An LSN past the log's end names no record: refused, with a detail. */
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(v.w, &st));
    CHECK_OK(regio_pager_set_image_lsn(b.data, PB, st.appended_lsn + 4096));
    CHECK_EQ(regio_pager_write(v.p, 4, b, done_cb, &d), -EINVAL);
    CHECK(strstr(regio_error_detail(), "page LSN") != NULL);
    CHECK_EQ(regio_pager_write_wait(v.p, 4, b), -EINVAL);
    /* Page LSN 0 (no record) is written at once. */
    CHECK_OK(regio_pager_set_image_lsn(b.data, PB, 0));
    CHECK_EQ(regio_pager_write_wait(v.p, 4, b), PB);

    CHECK_OK(regio_slab_free(v.s, b));
    env_close(&v);
}

static void test_shared(const char *dir)
{
    struct env v;
    env_open(&v, dir, "shared", true);
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, PB, &b));
    memset(b.data, 0x33, regio_pager_payload_bytes(v.p));
    for (int round = 0; round < 20; round++) {
        uint64_t lsn = append(v.w, (uint64_t)round);
        CHECK_OK(regio_pager_set_image_lsn(b.data, PB, lsn));
        struct done d = {.w = v.w};
        CHECK_OK(regio_pager_write(v.p, (uint64_t)round, b, done_cb, &d));
        /* No pager call from here on: the WAL's thread submits it. */
        while (__atomic_load_n(&d.calls, __ATOMIC_ACQUIRE) == 0)
            regio_engine_wait(v.e, 1, 1000000);
        CHECK_EQ(d.res, PB);
        CHECK(d.durable_at_cb > lsn);
    }
    CHECK_OK(regio_slab_free(v.s, b));
    env_close(&v);
}

/* A log with a pager bound to it refuses to close (the pager's gate points
 * at it); unbinding, rebinding elsewhere or closing the pager releases it. */
static void test_close_order(const char *dir)
{
    struct env v;
    env_open(&v, dir, "order", false);
    CHECK_EQ(regio_wal_close(v.w), -EBUSY);
    CHECK(strstr(regio_error_detail(), "bound") != NULL);
    /* Still usable after the refusal. */
    uint64_t lsn = append(v.w, 7);
    CHECK_OK(regio_wal_sync(v.w, lsn));
    CHECK_OK(regio_pager_bind_wal(v.p, NULL));
    /* Unbound: close would succeed; bind again and release by rebinding to
     * a second log instead. */
    CHECK_OK(regio_pager_bind_wal(v.p, v.w));
    char path[600];
    snprintf(path, sizeof(path), "%s/order-wal2", dir);
    struct regio_wal_opts wo = {
        .create = true, .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10};
    struct regio_wal *w2;
    CHECK_OK(regio_wal_open(path, &wo, &w2, NULL));
    CHECK_OK(regio_pager_bind_wal(v.p, w2));
    CHECK_OK(regio_wal_close(v.w)); /* released by the rebind */
    CHECK_EQ(regio_wal_close(w2), -EBUSY);
    /* Closing the pager releases its binding too. */
    CHECK_OK(regio_pager_close(v.p));
    CHECK_OK(regio_wal_close(w2));
    CHECK_OK(regio_engine_destroy(v.e));
    CHECK_OK(regio_slab_destroy(v.s));
    CHECK_OK(regio_arena_destroy(v.a));
}

int main(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("pager_wal"));
    test_owned(dir);
    test_shared(dir);
    test_close_order(dir);
    test_rmdir_all(dir);
    return 0;
}
