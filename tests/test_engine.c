/* regio-test: labels=io timeout=300 */
/*
 * tests/test_engine.c: the engine's request path on a real ring: round trips,
 * every rejected argument (exact code, callback never run), in-flight
 * buffers, drain, destroy with requests in flight, limits, clone.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine_internal.h"
#include "regio.h"

#define BLOCK 4096u

struct env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
    const char *dir;
};

static void env_up(struct env *v, const struct regio_engine_opts *eo)
{
    struct regio_arena_opts ao = {.size_bytes = 32u << 20, .pages = REGIO_PAGES_AUTO};
    CHECK_OK(regio_arena_create(&ao, &v->a));
    struct regio_slab_opts so;
    memset(&so, 0, sizeof(so));
    CHECK_OK(regio_slab_create(v->a, &so, &v->s));
    CHECK_OK(regio_engine_create(v->a, v->s, eo, &v->e));
}

static void env_down(struct env *v)
{
    CHECK_OK(regio_engine_destroy(v->e));
    CHECK_OK(regio_slab_destroy(v->s));
    CHECK_OK(regio_arena_destroy(v->a));
}

static char path_buf[1100];
static const char *file_path(const char *dir, const char *name)
{
    snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
    return path_buf;
}

/* Create (or open) a test file for reading and writing on v's engine. */
static struct regio_file *open_rw(struct env *v, const char *dir, const char *name)
{
    struct regio_file *f = NULL;
    CHECK_OK(regio_file_open(v->e, file_path(dir, name), O_RDWR | O_CREAT, 0600, &f));
    return f;
}

static void fill(void *p, uint32_t n, uint64_t tag)
{
    uint64_t st = tag * 7919 + 1;
    for (uint32_t i = 0; i < n; i += 8) {
        uint64_t v = test_rand(&st);
        memcpy((char *)p + i, &v, 8);
    }
}

struct counter {
    int calls;
    int last_res;
    int errors;
};

static void count_cb(void *ctx, int res)
{
    struct counter *c = ctx;
    c->calls++;
    c->last_res = res;
    if (res < 0)
        c->errors++;
}

static void test_round_trip(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    struct regio_engine_stats st;
    CHECK_OK(regio_engine_stats(v.e, &st));
    fprintf(stderr, "ring setup flags 0x%x cloned %d\n", st.setup_flags, (int)st.cloned);
    CHECK(!st.shared);

    struct regio_file *f = open_rw(&v, dir, "rt");
    uint32_t mem = 0, off = 0;
    CHECK_OK(regio_file_dio_align(f, &mem, &off));
    fprintf(stderr, "dio alignment: memory %u, offset %u\n", mem, off);
    CHECK(mem >= 1 && off >= 1 && BLOCK % off == 0);

    enum { N = 256, BATCH = 64 };
    struct regio_buf bufs[BATCH];
    for (int i = 0; i < BATCH; i++)
        CHECK_OK(regio_slab_alloc(v.s, BLOCK, &bufs[i]));
    struct counter c = {0, 0, 0};
    for (int base = 0; base < N; base += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            fill(bufs[i].data, BLOCK, (uint64_t)(base + i));
            CHECK_OK(
                regio_file_write(f, bufs[i], (uint64_t)(base + i) * BLOCK, BLOCK, count_cb, &c));
        }
        CHECK_EQ(regio_engine_submit(v.e), BATCH);
        CHECK_OK(regio_engine_drain(v.e, -1));
    }
    CHECK_EQ(c.calls, N);
    CHECK_EQ(c.errors, 0);
    CHECK_EQ(c.last_res, BLOCK);

    /* Read back in a different grouping, with larger requests of 4 blocks. */
    struct regio_buf big;
    CHECK_OK(regio_slab_alloc(v.s, 4 * BLOCK, &big));
    char *want = malloc(4 * BLOCK);
    for (int blk = 0; blk < N; blk += 4) {
        struct counter rc = {0, 0, 0};
        memset(big.data, 0, 4 * BLOCK);
        CHECK_OK(regio_file_read(f, big, (uint64_t)blk * BLOCK, 4 * BLOCK, count_cb, &rc));
        CHECK_EQ(regio_engine_wait(v.e, 1, -1), 1);
        CHECK_EQ(rc.calls, 1);
        CHECK_EQ(rc.last_res, 4 * BLOCK);
        for (int k = 0; k < 4; k++)
            fill(want + k * BLOCK, BLOCK, (uint64_t)(blk + k));
        CHECK(memcmp(big.data, want, 4 * BLOCK) == 0);
    }
    free(want);

    /* write_flags with DSYNC, write_durable and fsync all complete normally. */
    struct counter sc = {0, 0, 0};
    CHECK_OK(regio_file_write_flags(f, bufs[0], 0, BLOCK, REGIO_WRITE_DSYNC, count_cb, &sc));
    CHECK_OK(regio_file_write_durable(f, bufs[1], BLOCK, BLOCK, count_cb, &sc));
    CHECK_OK(regio_file_fsync(f, false, count_cb, &sc));
    CHECK_OK(regio_file_fsync(f, true, count_cb, &sc));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(sc.calls, 4);
    CHECK_EQ(sc.errors, 0);

    /* A read past the end of the file transfers nothing. */
    struct counter ec = {0, 0, 0};
    CHECK_OK(regio_file_read(f, bufs[2], (uint64_t)(N + 10) * BLOCK, BLOCK, count_cb, &ec));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(ec.calls, 1);
    CHECK_EQ(ec.last_res, 0);

    /* Nothing in flight: a poll finds no callback to run. */
    CHECK_EQ(regio_engine_wait(v.e, 1, 0), -ETIMEDOUT);
    CHECK_EQ(regio_engine_wait(v.e, 0, 0), 0);

    CHECK_OK(regio_engine_stats(v.e, &st));
    CHECK(st.completed >= (uint64_t)N + N / 4 + 5);
    CHECK(st.submitted >= st.completed);
    CHECK_EQ(st.in_flight, 0);

    for (int i = 0; i < BATCH; i++)
        CHECK_OK(regio_slab_free(v.s, bufs[i]));
    CHECK_OK(regio_slab_free(v.s, big));
    CHECK_OK(regio_file_close(f));
    env_down(&v);
}

static void test_rejects(const char *dir)
{
    struct env v, w;
    env_up(&v, NULL);
    env_up(&w, NULL);
    struct regio_file *f, *g, *closed;
    CHECK_OK(regio_file_open(v.e, file_path(dir, "rej"), O_RDWR | O_CREAT, 0600, &f));
    CHECK_OK(regio_file_open(w.e, file_path(dir, "rej2"), O_RDWR | O_CREAT, 0600, &g));
    CHECK_OK(regio_file_open(v.e, file_path(dir, "rej3"), O_RDWR | O_CREAT, 0600, &closed));
    CHECK_OK(regio_file_close(closed));
    CHECK_EQ(regio_file_close(closed), -EBADF);
    uint32_t mem = 0, off = 0;
    CHECK_OK(regio_file_dio_align(f, &mem, &off));

    struct regio_buf b, other;
    CHECK_OK(regio_slab_alloc(v.s, 2 * BLOCK, &b));
    CHECK_OK(regio_slab_alloc(w.s, BLOCK, &other));
    struct counter c = {0, 0, 0};

    /* Misaligned offset and length (when the file needs any alignment). */
    if (off > 1) {
        CHECK_EQ(regio_file_read(f, b, off / 2, BLOCK, count_cb, &c), -EINVAL);
        CHECK_EQ(regio_file_write(f, b, off / 2, BLOCK, count_cb, &c), -EINVAL);
        CHECK_EQ(regio_file_read(f, b, 0, BLOCK + off / 2, count_cb, &c), -EINVAL);
    }
    /* Misaligned address: a view starting inside the alignment unit. */
    if (mem > 1) {
        struct regio_buf view;
        CHECK_OK(regio_buf_view(b, mem / 2, BLOCK, &view));
        CHECK_EQ(regio_file_read(f, view, 0, BLOCK, count_cb, &c), -EINVAL);
    }
    /* Length 0, and a length larger than the buffer. */
    CHECK_EQ(regio_file_read(f, b, 0, 0, count_cb, &c), -EINVAL);
    CHECK_EQ(regio_file_write(f, b, 0, 3 * BLOCK, count_cb, &c), -EINVAL);
    struct regio_buf small;
    CHECK_OK(regio_buf_view(b, 0, BLOCK, &small));
    CHECK_EQ(regio_file_read(f, small, 0, 2 * BLOCK, count_cb, &c), -EINVAL);

    /* A pointer from outside the arena, with a handle that claims otherwise. */
    void *foreign = aligned_alloc(4096, BLOCK);
    struct regio_buf forged = b;
    forged.data = foreign;
    forged.cap_bytes = BLOCK;
    CHECK_EQ(regio_file_read(f, forged, 0, BLOCK, count_cb, &c), -EFAULT);
    free(foreign);
    /* A buffer of another engine's arena. */
    CHECK_EQ(regio_file_read(f, other, 0, BLOCK, count_cb, &c), -EFAULT);

    /* A stale handle: freed, and its slot handed out again. */
    struct regio_buf stale, fresh;
    CHECK_OK(regio_slab_alloc(v.s, BLOCK, &stale));
    CHECK_OK(regio_slab_free(v.s, stale));
    CHECK_OK(regio_slab_alloc(v.s, BLOCK, &fresh));
    CHECK_EQ(regio_file_write(f, stale, 0, BLOCK, count_cb, &c), -ESTALE);

    /* Closed file, no file; a file of another engine goes to that engine,
     * which refuses a buffer of this engine's slab. */
    CHECK_EQ(regio_file_read(closed, b, 0, BLOCK, count_cb, &c), -EBADF);
    CHECK_EQ(regio_file_fsync(closed, true, count_cb, &c), -EBADF);
    CHECK_EQ(regio_file_write(g, b, 0, BLOCK, count_cb, &c), -EFAULT);
    CHECK_EQ(regio_file_read(NULL, b, 0, BLOCK, count_cb, &c), -EBADF);
    CHECK_EQ(regio_file_fsync(NULL, true, count_cb, &c), -EBADF);
    /* Unknown write flags. */
    CHECK_EQ(regio_file_write_flags(f, b, 0, BLOCK, 0x80, count_cb, &c), -EINVAL);
    /* A file of a filesystem path that does not exist. */
    struct regio_file *none;
    CHECK_EQ(regio_file_open(v.e, file_path(dir, "missing/x"), O_RDWR, 0, &none), -ENOENT);
    /* procfs has no direct I/O: a clear -EINVAL that says so. */
    CHECK_EQ(regio_file_open(v.e, "/proc/self/status", O_RDONLY, 0, &none), -EINVAL);
    CHECK(strstr(regio_error_detail(), "refuses O_DIRECT") != NULL);

    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.calls, 0);
    CHECK_EQ(regio_engine_in_flight(v.e), 0);
    /* Nothing was left marked in flight: the buffers free normally. */
    CHECK_OK(regio_slab_free(v.s, b));
    CHECK_OK(regio_slab_free(v.s, fresh));
    CHECK_OK(regio_slab_free(w.s, other));
    CHECK_OK(regio_file_close(f));
    CHECK_OK(regio_file_close(g));
    env_down(&v);
    env_down(&w);
}

struct destroyer {
    struct regio_engine *e;
    int rc;
};

static void destroy_cb(void *ctx, int res)
{
    struct destroyer *d = ctx;
    d->rc = regio_engine_destroy(d->e);
}

static void test_in_flight(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    struct regio_file *f = open_rw(&v, dir, "busy");
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, BLOCK, &b));
    fill(b.data, BLOCK, 1);
    struct counter c = {0, 0, 0};
    CHECK_OK(regio_file_write(f, b, 0, BLOCK, count_cb, &c));
    /* The buffer is in flight from acceptance to callback. */
    CHECK_EQ(regio_slab_free(v.s, b), -EBUSY);
    CHECK_EQ(regio_file_close(f), -EBUSY);
    CHECK_EQ(regio_engine_in_flight(v.e), 1);
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.calls, 1);
    /* A callback cannot destroy the engine that runs it. */
    struct destroyer d = {v.e, 0};
    CHECK_OK(regio_file_read(f, b, 0, BLOCK, destroy_cb, &d));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(d.rc, -EBUSY);
    CHECK_OK(regio_slab_free(v.s, b));
    CHECK_OK(regio_file_close(f));
    env_down(&v);
}

/* n buffers allocated, each filled with the pattern of its block number and
 * written to block i of f; returns with the writes not yet drained. */
static void write_blocks(struct env *v, struct regio_file *f, struct regio_buf *bufs, int n,
                         struct counter *c)
{
    for (int i = 0; i < n; i++) {
        CHECK_OK(regio_slab_alloc(v->s, BLOCK, &bufs[i]));
        fill(bufs[i].data, BLOCK, (uint64_t)i);
        CHECK_OK(regio_file_write(f, bufs[i], (uint64_t)i * BLOCK, BLOCK, count_cb, c));
    }
}

/* Every buffer holds the pattern of its block number; all are freed. */
static void check_blocks_and_free(struct env *v, struct regio_buf *bufs, int n)
{
    char want[BLOCK];
    for (int i = 0; i < n; i++) {
        fill(want, BLOCK, (uint64_t)i);
        CHECK(memcmp(bufs[i].data, want, BLOCK) == 0);
        CHECK_OK(regio_slab_free(v->s, bufs[i]));
    }
}

static void test_drain_many(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    struct regio_file *f = open_rw(&v, dir, "drain");
    enum { N = 160 };
    struct regio_buf bufs[N];
    struct counter c = {0, 0, 0};
    write_blocks(&v, f, bufs, N, &c);
    CHECK_EQ(regio_engine_in_flight(v.e), N);
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.calls, N);
    CHECK_EQ(c.errors, 0);
    CHECK_EQ(regio_engine_in_flight(v.e), 0);
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_file_read(f, bufs[i], (uint64_t)i * BLOCK, BLOCK, count_cb, &c));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.calls, 2 * N);
    check_blocks_and_free(&v, bufs, N);
    env_down(&v); /* also closes f */
}

/* Reads queued by completion callbacks reach the kernel during the batch of
 * completions, not after its last callback: a device that completed a burst
 * would otherwise idle while the whole burst's callbacks run. */
struct early {
    struct regio_engine *e;
    struct regio_file *f;
    struct regio_buf *bufs;
    uint64_t enters_first; /* the engine's io_uring_enter count at the first callback */
    int calls;
    int requeued;
    int late; /* 1 when the second callback ran before the first requeue was submitted */
    int errors;
};

struct early_slot {
    struct early *x;
    int i;
};

static void early_cb(void *ctx, int res)
{
    struct early_slot *sl = ctx;
    struct early *x = sl->x;
    struct regio_engine_stats st;
    CHECK_OK(regio_engine_stats(x->e, &st));
    /* The first callback's read must have been handed to the kernel (an
     * io_uring_enter since then) before the second callback runs. */
    if (x->calls == 0)
        x->enters_first = st.enters;
    else if (x->calls == 1 && st.enters == x->enters_first)
        x->late = 1;
    x->calls++;
    if (res != (int)BLOCK)
        x->errors++;
    if (x->requeued < 8) {
        x->requeued++;
        CHECK_OK(
            regio_file_read(x->f, x->bufs[sl->i], (uint64_t)sl->i * BLOCK, BLOCK, early_cb, sl));
    }
}

/* A wait whose timeout passes before any completion returns -ETIMEDOUT and
 * runs nothing; the request stays in flight and a later drain completes it. */
static void test_wait_timeout(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    struct regio_file *f = open_rw(&v, dir, "timeout");
    struct regio_buf bufs[1];
    struct counter c = {0, 0, 0};
    write_blocks(&v, f, bufs, 1, &c);
    /* A timeout of 1 ns ends before the queued write can complete. */
    CHECK_EQ(regio_engine_wait(v.e, 1, 1), -ETIMEDOUT);
    CHECK_EQ(c.calls, 0);
    CHECK_EQ(regio_engine_in_flight(v.e), 1);
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.calls, 1);
    CHECK_EQ(c.last_res, BLOCK);
    CHECK_EQ(regio_engine_in_flight(v.e), 0);
    /* Nothing in flight: a timed wait sleeps the timeout out, nothing run. */
    CHECK_EQ(regio_engine_wait(v.e, 1, 1000000), -ETIMEDOUT);
    check_blocks_and_free(&v, bufs, 1);
    env_down(&v);
}

static void test_early_submit(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    struct regio_file *f = open_rw(&v, dir, "early");
    enum { N = 8 };
    struct regio_buf bufs[N];
    struct counter c = {0, 0, 0};
    write_blocks(&v, f, bufs, N, &c);
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.errors, 0);

    struct early x = {v.e, f, bufs, 0, 0, 0, 0, 0};
    struct early_slot slots[N];
    for (int i = 0; i < N; i++) {
        slots[i] = (struct early_slot){&x, i};
        CHECK_OK(regio_file_read(f, bufs[i], (uint64_t)i * BLOCK, BLOCK, early_cb, &slots[i]));
    }
    CHECK_EQ(regio_engine_submit(v.e), N);
    /* Let all eight complete, so that one reap sees them together. */
    usleep(200 * 1000);
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(x.calls, 2 * N);
    CHECK_EQ(x.errors, 0);
    CHECK_EQ(x.late, 0);
    check_blocks_and_free(&v, bufs, N);
    env_down(&v);
}

/* A wait for min_complete callbacks asks the kernel for all of them in one
 * sleep: one io_uring_enter for a batch of reads that the device completes
 * at different moments, instead of one per wake-up. */
static void test_wait_batch(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    struct regio_file *f = open_rw(&v, dir, "batch");
    enum { N = 32, BIG = 16 * BLOCK };
    struct regio_buf bufs[N];
    struct counter c = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        CHECK_OK(regio_slab_alloc(v.s, BIG, &bufs[i]));
        fill(bufs[i].data, BIG, (uint64_t)i);
        CHECK_OK(regio_file_write(f, bufs[i], (uint64_t)i * BIG, BIG, count_cb, &c));
    }
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.errors, 0);
    for (int round = 0; round < 4; round++) {
        struct counter rc = {0, 0, 0};
        for (int i = 0; i < N; i++)
            CHECK_OK(regio_file_read(f, bufs[i], (uint64_t)((i * 7 + round) % N) * BIG, BIG,
                                     count_cb, &rc));
        struct regio_engine_stats before, after;
        CHECK_OK(regio_engine_stats(v.e, &before));
        CHECK_EQ(regio_engine_wait(v.e, N, -1), N);
        CHECK_OK(regio_engine_stats(v.e, &after));
        CHECK_EQ(rc.calls, N);
        CHECK_EQ(rc.errors, 0);
        /* The submit and the sleep are one enter. */
        CHECK_EQ(after.enters - before.enters, 1);
    }
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(v.s, bufs[i]));
    CHECK_OK(regio_file_close(f));
    env_down(&v);
}

/* Reads queued, submitted and left to complete together, so that one reap
 * sees them all: the case where the engine prefetches the next one's data. */
static void read_burst(struct env *v, struct regio_file *f, struct regio_buf *bufs, int n,
                       struct counter *c)
{
    for (int i = 0; i < n; i++)
        CHECK_OK(regio_file_read(f, bufs[i], (uint64_t)i * BLOCK, BLOCK, count_cb, c));
    CHECK_EQ(regio_engine_submit(v->e), n);
    usleep(200 * 1000);
    CHECK_OK(regio_engine_drain(v->e, -1));
}

/* The next completed read's data is prefetched only for the pager's files,
 * whose callbacks hash every byte; a plain file's reader may never look at
 * its buffers, and for it the prefetch cost about 350 ns of CPU a read at
 * depth 128 (docs/decisions.md). */
static void test_prefetch(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    enum { N = 8 };
    struct regio_buf bufs[N];
    struct counter c = {0, 0, 0};
    struct regio_file *f = open_rw(&v, dir, "prefetch");
    write_blocks(&v, f, bufs, N, &c);
    CHECK_OK(regio_engine_drain(v.e, -1));
    read_burst(&v, f, bufs, N, &c);
    CHECK_EQ(c.errors, 0);
    CHECK_EQ(v.e->prefetched, 0);
    char want[BLOCK];
    for (int i = 0; i < N; i++) {
        fill(want, BLOCK, (uint64_t)i);
        CHECK(memcmp(bufs[i].data, want, BLOCK) == 0);
    }

    struct regio_pager *p;
    struct regio_pager_opts po = {
        .page_bytes = BLOCK, .create = true, .torn = REGIO_PAGER_TORN_DETECT};
    CHECK_OK(regio_pager_open(v.e, file_path(dir, "prefetch.pages"), &po, &p));
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_pager_write_wait(p, (uint64_t)i, bufs[i]));
    struct counter pc = {0, 0, 0};
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_pager_read(p, (uint64_t)i, bufs[i], count_cb, &pc));
    CHECK_EQ(regio_engine_submit(v.e), N);
    usleep(200 * 1000);
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(pc.calls, N);
    CHECK_EQ(pc.errors, 0);
    CHECK(v.e->prefetched > 0);
    CHECK_OK(regio_pager_close(p));
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(v.s, bufs[i]));
    CHECK_OK(regio_file_close(f));
    env_down(&v);
}

/* A callback that tries to queue more work while the engine is destroyed. */
struct requeue {
    struct regio_engine *e;
    struct regio_file *f;
    struct regio_buf b;
    int calls;
    int requeue_res;
};

static void requeue_cb(void *ctx, int res)
{
    struct requeue *q = ctx;
    q->calls++;
    q->requeue_res = regio_file_read(q->f, q->b, 0, BLOCK, requeue_cb, q);
}

static void test_destroy_in_flight(const char *dir)
{
    struct env v;
    env_up(&v, NULL);
    struct regio_file *f = open_rw(&v, dir, "destroy");
    enum { N = 120 };
    struct regio_buf bufs[N];
    struct counter c = {0, 0, 0};
    write_blocks(&v, f, bufs, N, &c);
    struct regio_buf qb;
    CHECK_OK(regio_slab_alloc(v.s, BLOCK, &qb));
    struct requeue q = {v.e, f, qb, 0, 0};
    CHECK_OK(regio_file_read(f, qb, 0, BLOCK, requeue_cb, &q));
    struct regio_arena_stats as;
    CHECK_OK(regio_arena_stats(v.a, &as));
    CHECK_EQ(as.registrations, 1);
    /* The arena cannot go while the engine (and slab) live. */
    CHECK_EQ(regio_arena_destroy(v.a), -EBUSY);
    CHECK_OK(regio_engine_destroy(v.e));
    CHECK_EQ(c.calls, N);
    CHECK_EQ(q.calls, 1);
    CHECK_EQ(q.requeue_res, -EBADF); /* refused: the engine was closing */
    CHECK_OK(regio_arena_stats(v.a, &as));
    CHECK_EQ(as.registrations, 0);
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(v.s, bufs[i]));
    CHECK_OK(regio_slab_free(v.s, qb));
    CHECK_EQ(regio_arena_destroy(v.a), -EBUSY); /* the slab still lives */
    CHECK_OK(regio_slab_destroy(v.s));
    CHECK_OK(regio_arena_destroy(v.a));
}

static void test_limits_and_clone(const char *dir)
{
    struct env v;
    struct regio_engine_opts eo = {.queue_depth = 4, .max_in_flight = 6, .max_files = 2};
    env_up(&v, &eo);
    struct regio_file *f, *f2, *f3;
    CHECK_OK(regio_file_open(v.e, file_path(dir, "lim"), O_RDWR | O_CREAT, 0600, &f));
    CHECK_OK(regio_file_open(v.e, file_path(dir, "lim2"), O_RDWR | O_CREAT, 0600, &f2));
    CHECK_EQ(regio_file_open(v.e, file_path(dir, "lim3"), O_RDWR | O_CREAT, 0600, &f3), -EMFILE);
    CHECK_OK(regio_file_close(f2));
    CHECK_OK(regio_file_open(v.e, file_path(dir, "lim3"), O_RDWR | O_CREAT, 0600, &f3));

    struct regio_buf b[7];
    struct counter c = {0, 0, 0};
    for (int i = 0; i < 7; i++) {
        CHECK_OK(regio_slab_alloc(v.s, BLOCK, &b[i]));
        fill(b[i].data, BLOCK, (uint64_t)i);
    }
    /* Six accepted (more than the SQ holds: it is submitted when full),
     * the seventh refused until completions are reaped. */
    for (int i = 0; i < 6; i++)
        CHECK_OK(regio_file_write_durable(i % 2 ? f : f3, b[i], (uint64_t)i * BLOCK, BLOCK,
                                          count_cb, &c));
    CHECK_EQ(regio_file_write(f, b[6], 6 * BLOCK, BLOCK, count_cb, &c), -EAGAIN);
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.calls, 6);
    CHECK_EQ(c.errors, 0);
    CHECK_OK(regio_file_write(f, b[6], 6 * BLOCK, BLOCK, count_cb, &c));
    CHECK_OK(regio_engine_drain(v.e, -1));
    CHECK_EQ(c.calls, 7);

    /* Sizes beyond what the kernel's rings allow are refused up front; a
     * deep queue alone gets a request table the CQ can hold. */
    struct regio_engine *e2;
    struct regio_engine_opts huge = {.max_in_flight = 40000};
    CHECK_EQ(regio_engine_create(v.a, v.s, &huge, &e2), -EINVAL);
    huge = (struct regio_engine_opts){.queue_depth = 32768};
    CHECK_OK(regio_engine_create(v.a, v.s, &huge, &e2));
    CHECK_OK(regio_engine_destroy(e2));

    /* A second engine on the same arena shares the registration where the
     * kernel can clone it, and does I/O from the same buffers. */
    CHECK_OK(regio_engine_create(v.a, v.s, NULL, &e2));
    struct regio_engine_stats st;
    CHECK_OK(regio_engine_stats(e2, &st));
    fprintf(stderr, "second engine: cloned %d\n", (int)st.cloned);
    struct regio_arena_stats as;
    CHECK_OK(regio_arena_stats(v.a, &as));
    CHECK_EQ(as.registrations, 2);
    CHECK_EQ(as.clones, st.cloned ? 1 : 0);
    struct regio_file *h;
    CHECK_OK(regio_file_open(e2, file_path(dir, "lim"), O_RDONLY, 0, &h));
    CHECK_OK(regio_file_read(h, b[0], 6 * BLOCK, BLOCK, count_cb, &c));
    CHECK_OK(regio_engine_drain(e2, -1));
    CHECK_EQ(c.last_res, BLOCK);
    CHECK(memcmp(b[0].data, b[6].data, BLOCK) == 0);
    CHECK_OK(regio_engine_destroy(e2));

    /* no_clone pins its own registration; plain setup flags on request.
     * The arena records that pin like any other: it is counted in
     * pinned_bytes and keeps the arena from being destroyed. */
    struct regio_arena_stats before;
    CHECK_OK(regio_arena_stats(v.a, &before));
    struct regio_engine_opts plain = {.no_clone = true, .no_setup_flags = true};
    CHECK_OK(regio_engine_create(v.a, v.s, &plain, &e2));
    CHECK_OK(regio_engine_stats(e2, &st));
    CHECK(!st.cloned);
    CHECK_OK(regio_arena_stats(v.a, &as));
    CHECK_EQ(as.registrations, before.registrations + 1);
    CHECK_EQ(as.clones, before.clones);
    CHECK_EQ(as.pinned_bytes, before.pinned_bytes + as.size_bytes);
    CHECK_EQ(st.setup_flags & ~(uint32_t)(1u << 3), 0); /* only CQSIZE */
    CHECK_OK(regio_file_open(e2, file_path(dir, "lim"), O_RDONLY, 0, &h));
    CHECK_OK(regio_file_read(h, b[1], 6 * BLOCK, BLOCK, count_cb, &c));
    CHECK_OK(regio_engine_drain(e2, -1));
    CHECK(memcmp(b[1].data, b[6].data, BLOCK) == 0);
    CHECK_OK(regio_engine_destroy(e2));
    CHECK_OK(regio_arena_stats(v.a, &as));
    CHECK_EQ(as.registrations, before.registrations);
    CHECK_EQ(as.pinned_bytes, before.pinned_bytes);

    for (int i = 0; i < 7; i++)
        CHECK_OK(regio_slab_free(v.s, b[i]));
    env_down(&v);
}

int main(void)
{
    const char *dir = test_tmpdir("engine");
    char keep[512];
    snprintf(keep, sizeof(keep), "%s", dir);
    test_round_trip(keep);
    test_rejects(keep);
    test_in_flight(keep);
    test_drain_many(keep);
    test_early_submit(keep);
    test_wait_timeout(keep);
    test_wait_batch(keep);
    test_prefetch(keep);
    test_destroy_in_flight(keep);
    test_limits_and_clone(keep);
    test_rmdir_all(keep);
    return 0;
}
