/* regio-test: labels=io,mt */
/*
 * tests/test_wal_share.c: one arena shared by the WAL and the caller's own
 * engines, in either order and across threads (the kernel refuses to clone
 * a registration from another thread's SINGLE_ISSUER ring, so the arena must
 * fall back to registering afresh); and regio_wal_close refusing (-EBUSY,
 * nothing changed) while a live reader is open.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "check.h"

#define SEG (1024u * 1024u)
#define BUF (64u * 1024u)

static void store_res(void *ctx, int res)
{
    *(int *)ctx = res;
}

/* A write and a read through engine e prove its registration works. */
static void read_through(struct regio_engine *e, struct regio_slab *s, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(e, path, O_RDWR | O_CREAT, 0600, &f));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(s, 4096, &b));
    memset(b.data, 0x5a, 4096);
    int res = -1;
    CHECK_OK(regio_file_write(f, b, 0, 4096, store_res, &res));
    CHECK_EQ(regio_engine_wait(e, 1, -1), 1);
    CHECK_EQ(res, 4096);
    memset(b.data, 0, 4096);
    CHECK_OK(regio_file_read(f, b, 0, 4096, store_res, &res));
    CHECK_EQ(regio_engine_wait(e, 1, -1), 1);
    CHECK_EQ(res, 4096);
    CHECK_EQ(((uint8_t *)b.data)[4095], 0x5a);
    CHECK_OK(regio_file_close(f));
    CHECK_OK(regio_slab_free(s, b));
}

struct other {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
    _Atomic int state; /* 1 created, 2 may destroy, 3 destroyed */
};

static void *other_main(void *arg)
{
    struct other *o = arg;
    CHECK_OK(regio_engine_create(o->a, o->s, NULL, &o->e));
    atomic_store(&o->state, 1);
    while (atomic_load(&o->state) != 2)
        usleep(100);
    CHECK_OK(regio_engine_destroy(o->e));
    atomic_store(&o->state, 3);
    return NULL;
}

int main(void)
{
    const char *dir = test_tmpdir("wal-share");
    char wdir[4200];
    snprintf(wdir, sizeof(wdir), "%s/wal", dir);
    struct regio_arena_opts ao = {.size_bytes = 64u * 1024 * 1024};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&ao, &a));
    struct regio_slab *s;
    CHECK_OK(regio_slab_create(a, NULL, &s));

    /* Engine first, then the WAL's engine on its flusher thread. */
    struct regio_engine *e;
    CHECK_OK(regio_engine_create(a, s, NULL, &e));
    struct regio_wal_opts wo = {
        .arena = a, .create = true, .segment_bytes = SEG, .buffer_bytes = BUF};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(wdir, &wo, &w, NULL));
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "shared", 6, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    read_through(e, s, dir);
    CHECK_OK(regio_engine_destroy(e));

    /* The WAL first, then a new engine here, and one on another thread. */
    CHECK_OK(regio_engine_create(a, s, NULL, &e));
    read_through(e, s, dir);
    struct other o = {.a = a, .s = s};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, other_main, &o) == 0);
    while (atomic_load(&o.state) != 1)
        usleep(100);
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 3);
    atomic_store(&o.state, 2);
    pthread_join(th, NULL);
    CHECK_OK(regio_engine_destroy(e));

    /* A live reader keeps the WAL from closing; nothing changes. */
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open_live(w, 0, &r));
    CHECK_EQ(regio_wal_close(w), -EBUSY);
    CHECK_OK(regio_wal_append(w, "after", 5, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    struct regio_wal_record rec;
    CHECK_EQ(regio_wal_reader_next(r, &rec), 1);
    CHECK_EQ(rec.len, 6);
    CHECK_EQ(regio_wal_reader_next(r, &rec), 1);
    CHECK_EQ(rec.len, 5);
    CHECK_OK(regio_wal_reader_close(r));
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
    test_rmdir_all(dir);
    fprintf(stderr, "wal_share: ok\n");
    return 0;
}
