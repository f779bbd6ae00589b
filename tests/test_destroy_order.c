/* regio-test: labels=io timeout=120 */
/*
 * tests/test_destroy_order.c: every destroy or close against every object
 * that depends on it (docs/embedding.md, "Objects, ownership and
 * lifetimes"). Each pair either refuses with -EBUSY, a detail and nothing
 * changed (the dependent object still works afterwards), or is safe (the
 * dependent object is taken down with it, or never needed the other).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "regio.h"

struct env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
};

static void env_up(struct env *v)
{
    struct regio_arena_opts ao = {.size_bytes = 16u << 20, .pages = REGIO_PAGES_NORMAL};
    CHECK_OK(regio_arena_create(&ao, &v->a));
    CHECK_OK(regio_slab_create(v->a, NULL, &v->s));
    CHECK_OK(regio_engine_create(v->a, v->s, NULL, &v->e));
}

static void env_down(struct env *v)
{
    CHECK_OK(regio_engine_destroy(v->e));
    CHECK_OK(regio_slab_destroy(v->s));
    CHECK_OK(regio_arena_destroy(v->a));
}

/* A refusal: -EBUSY with a detail of its own (not left over). */
#define CHECK_BUSY(expr)                                                                           \
    do {                                                                                           \
        regio__set_detail("left over");                                                            \
        CHECK_EQ((expr), -EBUSY);                                                                  \
        CHECK(regio_error_detail()[0] != '\0');                                                    \
        CHECK(strcmp(regio_error_detail(), "left over") != 0);                                     \
    } while (0)

void regio__set_detail(const char *fmt, ...);

struct result {
    int calls;
    int res;
};

static void res_cb(void *ctx, int res)
{
    struct result *r = ctx;
    r->calls++;
    r->res = res;
}

/* A write and read through the engine still work (nothing was pulled from
 * under it). */
static void engine_works(struct env *v, const char *path)
{
    struct regio_file *f;
    CHECK_OK(regio_file_open(v->e, path, O_RDWR | O_CREAT, 0600, &f));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v->s, 4096, &b));
    memset(b.data, 0x5a, 4096);
    struct result r = {0};
    CHECK_OK(regio_file_write(f, b, 0, 4096, res_cb, &r));
    CHECK_OK(regio_engine_drain(v->e, -1));
    CHECK_EQ(r.res, 4096);
    CHECK_OK(regio_slab_free(v->s, b));
    CHECK_OK(regio_file_close(f));
}

/* Slab under an engine: refused while the engine lives (the engine checks
 * every handle against the slab), allowed once it is gone. */
static void slab_vs_engine(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/slab_engine", dir);
    struct env v;
    env_up(&v);
    CHECK_BUSY(regio_slab_destroy(v.s));
    CHECK(strstr(regio_error_detail(), "engine") != NULL);
    engine_works(&v, path);
    env_down(&v);
}

static void slab_vs_buffer(void)
{
    struct env v;
    env_up(&v);
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, 8192, &b));
    CHECK_OK(regio_engine_destroy(v.e));
    CHECK_BUSY(regio_slab_destroy(v.s));
    memset(b.data, 1, 8192); /* still mapped and ours */
    CHECK_OK(regio_slab_free(v.s, b));
    CHECK_OK(regio_slab_destroy(v.s));
    CHECK_OK(regio_arena_destroy(v.a));
}

static void arena_vs_slab_and_engine(void)
{
    struct env v;
    env_up(&v);
    CHECK_BUSY(regio_arena_destroy(v.a));
    CHECK_OK(regio_engine_destroy(v.e));
    CHECK_BUSY(regio_arena_destroy(v.a));
    CHECK_OK(regio_slab_destroy(v.s));
    CHECK_OK(regio_arena_destroy(v.a));
}

/* Engine under a pager: refused; under a plain file: safe (destroy closes
 * it); with requests in flight: safe (destroy drains, running callbacks). */
static void engine_vs_pager_file_requests(const char *dir)
{
    char path[512];
    struct env v;
    env_up(&v);
    snprintf(path, sizeof(path), "%s/pages", dir);
    struct regio_pager_opts po = {.create = true};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v.e, path, &po, &p));
    CHECK_BUSY(regio_engine_destroy(v.e));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, 4096, &b));
    memset(b.data, 7, 100);
    CHECK_OK(regio_pager_write_wait(p, 0, b)); /* the pager still works */
    CHECK_OK(regio_pager_close(p));

    snprintf(path, sizeof(path), "%s/file", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(v.e, path, O_RDWR | O_CREAT, 0600, &f));
    struct result r = {0};
    CHECK_OK(regio_file_write(f, b, 0, 4096, res_cb, &r));
    CHECK_OK(regio_engine_destroy(v.e)); /* drains, then closes f */
    CHECK_EQ(r.calls, 1);
    CHECK_EQ(r.res, 4096);
    CHECK_OK(regio_slab_free(v.s, b));
    CHECK_OK(regio_slab_destroy(v.s));
    CHECK_OK(regio_arena_destroy(v.a));
}

/* Pager and file closes with their own I/O in flight: refused. */
static void pager_file_vs_inflight(const char *dir)
{
    char path[512];
    struct env v;
    env_up(&v);
    snprintf(path, sizeof(path), "%s/pages2", dir);
    struct regio_pager_opts po = {.create = true};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v.e, path, &po, &p));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, 4096, &b));
    struct result r = {0};
    CHECK_OK(regio_pager_write(p, 0, b, res_cb, &r));
    CHECK_BUSY(regio_pager_close(p));
    CHECK_BUSY(regio_slab_free(v.s, b));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(r.res, 4096);
    CHECK_OK(regio_pager_close(p));

    snprintf(path, sizeof(path), "%s/file2", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(v.e, path, O_RDWR | O_CREAT, 0600, &f));
    memset(&r, 0, sizeof(r));
    CHECK_OK(regio_file_write(f, b, 0, 4096, res_cb, &r));
    CHECK_BUSY(regio_file_close(f));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_OK(regio_file_close(f));
    CHECK_OK(regio_slab_free(v.s, b));
    env_down(&v);
}

struct destroy_in_cb {
    struct regio_engine *e;
    int rc;
};

static void destroy_cb(void *ctx, int res)
{
    (void)res;
    struct destroy_in_cb *d = ctx;
    regio__set_detail("left over");
    d->rc = regio_engine_destroy(d->e);
    CHECK(strcmp(regio_error_detail(), "left over") != 0);
}

static void engine_vs_own_callback(const char *dir)
{
    char path[512];
    struct env v;
    env_up(&v);
    snprintf(path, sizeof(path), "%s/file3", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(v.e, path, O_RDWR | O_CREAT, 0600, &f));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, 4096, &b));
    struct destroy_in_cb d = {.e = v.e, .rc = 1};
    CHECK_OK(regio_file_write(f, b, 0, 4096, destroy_cb, &d));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(d.rc, -EBUSY);
    CHECK_OK(regio_slab_free(v.s, b));
    env_down(&v);
}

static struct regio_wal_opts wal_opts(struct regio_arena *a)
{
    struct regio_wal_opts o = {.arena = a,
                               .segment_bytes = 1u << 20,
                               .buffer_bytes = 64u << 10,
                               .spare_segments = 1,
                               .create = true};
    return o;
}

/* A WAL on the caller's arena: the arena refuses while the WAL lives; the
 * WAL refuses to close under a live reader; a directory reader needs
 * neither (it reads the files) and outlives the WAL. */
static void wal_pairs(const char *dir)
{
    char wdir[512];
    snprintf(wdir, sizeof(wdir), "%s/wal", dir);
    struct regio_arena_opts ao = {.size_bytes = 32u << 20, .pages = REGIO_PAGES_NORMAL};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&ao, &a));
    struct regio_wal_opts o = wal_opts(a);
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(wdir, &o, &w, NULL));
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "one", 3, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_BUSY(regio_arena_destroy(a));

    struct regio_wal_reader *live, *offline;
    CHECK_OK(regio_wal_reader_open_live(w, 0, &live));
    CHECK_OK(regio_wal_reader_open(wdir, 0, &offline));
    CHECK_BUSY(regio_wal_close(w));
    CHECK_OK(regio_wal_append(w, "two", 3, &lsn)); /* still open */
    CHECK_OK(regio_wal_sync(w, lsn));
    struct regio_wal_record rec;
    CHECK_EQ(regio_wal_reader_next(live, &rec), 1);
    CHECK_EQ(rec.len, 3);
    CHECK_OK(regio_wal_reader_close(live));
    CHECK_OK(regio_wal_close(w));

    /* The directory reader, opened while the WAL was open, still reads. */
    CHECK_EQ(regio_wal_reader_next(offline, &rec), 1);
    CHECK(memcmp(rec.data, "one", 3) == 0);
    CHECK_EQ(regio_wal_reader_next(offline, &rec), 1);
    CHECK(memcmp(rec.data, "two", 3) == 0);
    CHECK_EQ(regio_wal_reader_next(offline, &rec), 0);
    CHECK_OK(regio_wal_reader_close(offline));
    CHECK_OK(regio_arena_destroy(a));
}

/* Two WALs share one arena: closing one leaves the other working. */
static void two_wals_one_arena(const char *dir)
{
    char d1[512], d2[512];
    snprintf(d1, sizeof(d1), "%s/w1", dir);
    snprintf(d2, sizeof(d2), "%s/w2", dir);
    struct regio_arena_opts ao = {.size_bytes = 64u << 20, .pages = REGIO_PAGES_NORMAL};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&ao, &a));
    struct regio_wal_opts o = wal_opts(a);
    struct regio_wal *w1, *w2;
    CHECK_OK(regio_wal_open(d1, &o, &w1, NULL));
    CHECK_OK(regio_wal_open(d2, &o, &w2, NULL));
    CHECK_OK(regio_wal_close(w1));
    CHECK_BUSY(regio_arena_destroy(a));
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w2, "x", 1, &lsn));
    CHECK_OK(regio_wal_sync(w2, lsn));
    CHECK_OK(regio_wal_close(w2));
    CHECK_OK(regio_arena_destroy(a));
}

int main(void)
{
    const char *dir = test_tmpdir("destroy_order");
    slab_vs_engine(dir);
    slab_vs_buffer();
    arena_vs_slab_and_engine();
    engine_vs_pager_file_requests(dir);
    pager_file_vs_inflight(dir);
    engine_vs_own_callback(dir);
    wal_pairs(dir);
    two_wals_one_arena(dir);
    test_rmdir_all(dir);
    printf("ok\n");
    return 0;
}
