/* regio-test: labels=mt,io timeout=300 */
/*
 * tests/test_engine_mt.c: shared mode used from two threads at once (each
 * writes and reads back its own blocks; either thread may reap the other's
 * completions), an idle shared engine's wait woken by another thread's
 * write, and owned mode refusing every call from a second thread.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "check.h"
#include "regio.h"
#include "regio/stats.h"

#define BLOCK  4096u
#define ROUNDS 200

struct shared_env {
    struct regio_slab *s;
    struct regio_engine *e;
    struct regio_file *f;
};

struct worker {
    struct shared_env *env;
    int id;
    atomic_int done;
    atomic_int errors;
};

static void worker_cb(void *ctx, int res)
{
    struct worker *w = ctx;
    if (res != (int)BLOCK)
        atomic_fetch_add(&w->errors, 1);
    atomic_fetch_add(&w->done, 1);
}

/* Wait until this worker's own callbacks reached target: whichever thread
 * reaps runs them, so the loop re-checks after every short wait. */
static void wait_own(struct worker *w, int target)
{
    while (atomic_load(&w->done) < target) {
        int rc = regio_engine_wait(w->env->e, 1, 1000000);
        CHECK(rc >= 0 || rc == -ETIMEDOUT);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(w->env->s, BLOCK, &b));
    int target = 0;
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t off = ((uint64_t)i * 2 + (uint64_t)w->id) * BLOCK;
        memset(b.data, 'A' + (i + w->id) % 26, BLOCK);
        int rc;
        while ((rc = regio_file_write(w->env->f, b, off, BLOCK, worker_cb, w)) == -EAGAIN)
            regio_engine_wait(w->env->e, 1, 1000000);
        CHECK_OK(rc);
        wait_own(w, ++target);
        memset(b.data, 0, BLOCK);
        CHECK_OK(regio_file_read(w->env->f, b, off, BLOCK, worker_cb, w));
        CHECK_OK(regio_engine_submit(w->env->e));
        wait_own(w, ++target);
        for (uint32_t k = 0; k < BLOCK; k++)
            CHECK(((char *)b.data)[k] == 'A' + (i + w->id) % 26);
    }
    CHECK_OK(regio_slab_free(w->env->s, b));
    return NULL;
}

static void test_shared(const char *dir, struct regio_arena *a, struct regio_slab *s)
{
    struct shared_env env = {s, NULL, NULL};
    struct regio_engine_opts eo = {.shared = true, .queue_depth = 8};
    CHECK_OK(regio_engine_create(a, s, &eo, &env.e));
    struct regio_engine_stats st;
    CHECK_OK(regio_engine_stats(env.e, &st));
    CHECK(st.shared);
    /* Shared mode never asks for a single issuer. */
    CHECK_EQ(st.setup_flags & (1u << 12), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/shared", dir);
    CHECK_OK(regio_file_open(env.e, path, O_RDWR | O_CREAT, 0600, &env.f));

    struct worker w[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        w[i].env = &env;
        w[i].id = i;
        atomic_init(&w[i].done, 0);
        atomic_init(&w[i].errors, 0);
        CHECK_EQ(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(atomic_load(&w[i].done), 2 * ROUNDS);
        CHECK_EQ(atomic_load(&w[i].errors), 0);
    }
    CHECK_OK(regio_engine_stats(env.e, &st));
    CHECK_EQ(st.completed, 4 * ROUNDS);
    CHECK_OK(regio_engine_destroy(env.e));
}

/* An idle shared engine: a thread waiting with a long timeout wakes for a
 * write another thread submits (and only submits) meanwhile, and runs its
 * callback; with no limit it is not refused (another thread may submit). */
struct idle_waiter {
    struct regio_engine *e;
    int64_t timeout_ns;
    int rc;
};

static void *idle_wait_main(void *arg)
{
    struct idle_waiter *x = arg;
    x->rc = regio_engine_wait(x->e, 1, x->timeout_ns);
    return NULL;
}

static void count_cb(void *ctx, int res)
{
    atomic_fetch_add((atomic_int *)ctx, res == (int)BLOCK ? 1 : 100);
}

static void test_shared_idle_wait(const char *dir, struct regio_arena *a, struct regio_slab *s)
{
    struct regio_engine_opts eo = {.shared = true};
    struct regio_engine *e;
    CHECK_OK(regio_engine_create(a, s, &eo, &e));
    char path[600];
    snprintf(path, sizeof(path), "%s/idle", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(e, path, O_RDWR | O_CREAT, 0600, &f));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(s, BLOCK, &b));
    memset(b.data, 'i', BLOCK);
    for (int round = 0; round < 2; round++) {
        struct idle_waiter x = {e, round == 0 ? 60 * 1000000000ll : -1, 0};
        atomic_int calls;
        atomic_init(&calls, 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, idle_wait_main, &x), 0);
        usleep(20000); /* the waiter is (most likely) asleep on the empty engine */
        CHECK_OK(regio_file_write(f, b, 0, BLOCK, count_cb, &calls));
        CHECK(regio_engine_submit(e) >= 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK_EQ(x.rc, 1);
        CHECK_EQ(atomic_load(&calls), 1);
    }
    CHECK_OK(regio_slab_free(s, b));
    CHECK_OK(regio_file_close(f));
    CHECK_OK(regio_engine_destroy(e));
}

struct foreign {
    struct regio_engine *e;
    struct regio_file *f;
    struct regio_buf b;
    const char *path;
    int rc[8];
};

static void *foreign_main(void *arg)
{
    struct foreign *x = arg;
    struct regio_file *g = NULL;
    struct regio_engine_stats st;
    x->rc[0] = regio_file_read(x->f, x->b, 0, BLOCK, NULL, NULL);
    x->rc[1] = regio_file_write(x->f, x->b, 0, BLOCK, NULL, NULL);
    x->rc[2] = regio_file_fsync(x->f, true, NULL, NULL);
    x->rc[3] = regio_engine_wait(x->e, 1, 0);
    x->rc[4] = regio_engine_submit(x->e);
    x->rc[5] = regio_file_open(x->e, x->path, O_RDWR, 0, &g);
    x->rc[6] = regio_engine_destroy(x->e);
    x->rc[7] = regio_engine_stats(x->e, &st);
    return NULL;
}

static void test_owned(const char *dir, struct regio_arena *a, struct regio_slab *s)
{
    struct foreign x;
    memset(&x, 0, sizeof(x));
    CHECK_OK(regio_engine_create(a, s, NULL, &x.e));
    char path[600];
    snprintf(path, sizeof(path), "%s/owned", dir);
    x.path = path;
    CHECK_OK(regio_file_open(x.e, path, O_RDWR | O_CREAT, 0600, &x.f));
    CHECK_OK(regio_slab_alloc(s, BLOCK, &x.b));
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, foreign_main, &x), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    for (int i = 0; i < 7; i++)
        CHECK_EQ(x.rc[i], -EPERM);
    CHECK_EQ(x.rc[7], 0); /* stats are readable from any thread */
    CHECK_EQ(regio_engine_in_flight(x.e), 0);
    /* The owner still works normally. */
    CHECK_OK(regio_file_write(x.f, x.b, 0, BLOCK, NULL, NULL));
    CHECK_OK(regio_engine_drain(x.e, -1));
    CHECK_OK(regio_slab_free(s, x.b));
    CHECK_OK(regio_engine_destroy(x.e));
}

/* A pager on a shared engine, used from two threads with the synchronous
 * helpers: each thread's completions may be reaped by the other. */
struct pager_worker {
    struct regio_pager *p;
    struct regio_slab *s;
    int id;
    int bad;
};

static void *pager_main(void *arg)
{
    struct pager_worker *pw = arg;
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(pw->s, BLOCK, &b));
    size_t payload = regio_pager_payload_bytes(pw->p);
    for (int i = 0; i < 100; i++) {
        uint64_t pg = (uint64_t)i * 2 + (uint64_t)pw->id;
        memset(b.data, 'a' + (int)(pg % 26), payload);
        if (regio_pager_write_wait(pw->p, pg, b) != (int)BLOCK)
            pw->bad++;
        memset(b.data, 0, BLOCK);
        if (regio_pager_read_wait(pw->p, pg, b) != (int)BLOCK)
            pw->bad++;
        for (size_t k = 0; k < payload; k++)
            if (((char *)b.data)[k] != 'a' + (int)(pg % 26)) {
                pw->bad++;
                break;
            }
    }
    if (regio_pager_sync(pw->p) != 0)
        pw->bad++;
    CHECK_OK(regio_slab_free(pw->s, b));
    return NULL;
}

static void test_shared_pager(const char *dir, struct regio_arena *a, struct regio_slab *s)
{
    struct regio_engine *e;
    struct regio_engine_opts eo = {.shared = true};
    CHECK_OK(regio_engine_create(a, s, &eo, &e));
    char path[600];
    snprintf(path, sizeof(path), "%s/pages", dir);
    struct regio_pager_opts po = {.page_bytes = BLOCK, .create = true};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(e, path, &po, &p));
    struct pager_worker pw[2] = {{p, s, 0, 0}, {p, s, 1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, pager_main, &pw[i]), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(pw[i].bad, 0);
    }
    uint64_t count = 0;
    CHECK_OK(regio_pager_page_count(p, &count));
    CHECK_EQ(count, 200);
    CHECK_OK(regio_pager_close(p));
    CHECK_OK(regio_engine_destroy(e));
}

/* The engine's counters appear in the arena's live stats file, filled by
 * the publisher thread (which may read them while the owner does I/O). */
static void test_live_stats(const char *dir)
{
    char name[64];
    snprintf(name, sizeof(name), "test-engine-%d", (int)getpid());
    struct regio_arena_opts ao = {.size_bytes = 8u << 20, .stats_name = name};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&ao, &a));
    struct regio_slab *s;
    CHECK_OK(regio_slab_create(a, NULL, &s));
    struct regio_engine *e;
    CHECK_OK(regio_engine_create(a, s, NULL, &e));
    char path[600];
    snprintf(path, sizeof(path), "%s/stats", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(e, path, O_RDWR | O_CREAT, 0600, &f));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(s, BLOCK, &b));
    memset(b.data, 'x', BLOCK);
    for (int i = 0; i < 10; i++) {
        CHECK_OK(regio_file_write(f, b, (uint64_t)i * BLOCK, BLOCK, NULL, NULL));
        CHECK_OK(regio_engine_drain(e, -1));
    }
    struct regio_engine_stats st;
    CHECK_OK(regio_engine_stats(e, &st));
    snprintf(path, sizeof(path), "%s/%s%d.%s", REGIO_STATS_DIR, REGIO_STATS_PREFIX, (int)getpid(),
             name);
    struct regio_stats_file *sf = malloc(sizeof(*sf));
    bool seen = false;
    for (int tries = 0; tries < 100 && !seen; tries++) {
        CHECK_OK(regio_stats_read(path, sf));
        for (int i = 0; i < REGIO_STATS_MAX_ENGINES; i++)
            if (sf->engines[i].used && sf->engines[i].completed == 10)
                seen = sf->engines[i].setup_flags == st.setup_flags;
        if (!seen)
            usleep(20000);
    }
    CHECK(seen);
    free(sf);
    CHECK_OK(regio_slab_free(s, b));
    CHECK_OK(regio_engine_destroy(e));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

int main(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("engine_mt"));
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_arena_opts ao = {.size_bytes = 16u << 20};
    CHECK_OK(regio_arena_create(&ao, &a));
    struct regio_slab_opts so;
    memset(&so, 0, sizeof(so));
    CHECK_OK(regio_slab_create(a, &so, &s));
    test_shared(dir, a, s);
    test_shared_idle_wait(dir, a, s);
    test_owned(dir, a, s);
    test_shared_pager(dir, a, s);
    test_live_stats(dir);
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
    test_rmdir_all(dir);
    return 0;
}
