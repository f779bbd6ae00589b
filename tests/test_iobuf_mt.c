/* regio-test: labels=mt timeout=300 */
/*
 * tests/test_iobuf_mt.c: the slab allocator across threads: a wait woken by
 * a free from another thread (pool and tier class), a thread's cache going
 * back to the depot when the thread exits, destroy while other threads still
 * hold (empty-handed) caches, and a soak of 4+ threads with mixed classes,
 * a free racing io_begin/io_end on one buffer (never freed while in flight),
 * cross-thread frees through a shared queue and random in-flight views,
 * ending with every buffer accounted for.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "slab_internal.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define MS  ((int64_t)1000 * 1000)

static struct regio_arena *make_arena(size_t size)
{
    struct regio_arena_opts o = {.size_bytes = size, .pages = REGIO_PAGES_NORMAL};
    struct regio_arena *a = NULL;
    CHECK_OK(regio_arena_create(&o, &a));
    return a;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- A wait woken by a free from another thread ------------------------- */

struct waiter {
    struct regio_slab *s;
    int pool; /* pool index, or -1 for a 1 MiB tier allocation */
    int64_t timeout_ns;
    int rc;
    struct regio_buf b;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    if (w->pool >= 0)
        w->rc = regio_slab_alloc_pool(w->s, (uint32_t)w->pool, w->timeout_ns, &w->b);
    else
        w->rc = regio_slab_alloc_wait(w->s, MIB, w->timeout_ns, &w->b);
    return NULL;
}

static void wait_for_waits(struct regio_slab *s, uint32_t cid, uint64_t n)
{
    struct regio_slab_stats st;
    for (int i = 0; i < 5000; i++) {
        CHECK_OK(regio_slab_stats(s, &st));
        if (st.classes[cid].waits >= n)
            break;
        sleep_ms(1);
    }
    CHECK(st.classes[cid].waits >= n);
    sleep_ms(30); /* let the waiter block */
}

static void test_wait_woken(void)
{
    struct regio_arena *a = make_arena(4 * MIB); /* two chunks */
    struct regio_pool_opts pool = {.buf_bytes = 4096, .count = 1};
    struct regio_slab_opts o = {.pools = &pool, .pool_count = 1};
    struct regio_slab *s = NULL;
    CHECK_OK(regio_slab_create(a, &o, &s));
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    uint32_t pcid = st.tier_count;

    /* Pool: the only buffer is out; a waiter without limit gets it. */
    struct regio_buf held;
    CHECK_OK(regio_slab_alloc_pool(s, 0, 0, &held));
    struct waiter w = {.s = s, .pool = 0, .timeout_ns = -1};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, waiter_main, &w), 0);
    wait_for_waits(s, pcid, 1);
    CHECK_OK(regio_slab_free(s, held));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_OK(w.rc);
    CHECK(w.b.data == held.data);
    CHECK(w.b.gen != held.gen);
    CHECK_EQ(regio_slab_free(s, held), -ESTALE);
    CHECK_OK(regio_slab_free(s, w.b));

    /* Tier class: one chunk is the pool's, the other holds two 1 MiB
     * buffers; both out, a third waits (bounded) and a free wakes it. */
    struct regio_buf m[2], extra;
    CHECK_OK(regio_slab_alloc(s, MIB, &m[0]));
    CHECK_OK(regio_slab_alloc(s, MIB, &m[1]));
    CHECK_EQ(regio_slab_alloc(s, MIB, &extra), -ENOBUFS);
    struct waiter w2 = {.s = s, .pool = -1, .timeout_ns = 10000 * MS};
    CHECK_EQ(pthread_create(&t, NULL, waiter_main, &w2), 0);
    wait_for_waits(s, m[0].class_id, 1);
    int64_t t0 = regio__now_ns();
    CHECK_OK(regio_slab_free(s, m[1]));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_OK(w2.rc);
    CHECK(regio__now_ns() - t0 < 5000 * MS); /* woken, not timed out */
    CHECK(w2.b.data == m[1].data);
    CHECK_OK(regio_slab_free(s, w2.b));
    CHECK_OK(regio_slab_free(s, m[0]));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

/* ---- Thread-exit flush and destroy with live caches ---------------------- */

struct churn {
    struct regio_slab *s;
    uint32_t n;
    pthread_barrier_t *park; /* when set, wait here twice before exiting */
};

/* Take every buffer of pool 0, free them all (some stay in this thread's
 * cache), then optionally park. */
static void *churn_main(void *arg)
{
    struct churn *c = arg;
    struct regio_buf *b = calloc(c->n, sizeof(*b));
    CHECK(b != NULL);
    for (uint32_t i = 0; i < c->n; i++)
        CHECK_OK(regio_slab_alloc_pool(c->s, 0, 0, &b[i]));
    for (uint32_t i = 0; i < c->n; i++)
        CHECK_OK(regio_slab_free(c->s, b[i]));
    free(b);
    if (c->park) {
        pthread_barrier_wait(c->park);
        pthread_barrier_wait(c->park);
    }
    return NULL;
}

static void test_thread_exit_flush(void)
{
    struct regio_arena *a = make_arena(8 * MIB);
    enum { N = 128 }; /* its cache holds N / 16 */
    struct regio_pool_opts pool = {.buf_bytes = 4096, .count = N};
    struct regio_slab_opts o = {.pools = &pool, .pool_count = 1};
    struct regio_slab *s = NULL;
    CHECK_OK(regio_slab_create(a, &o, &s));

    pthread_barrier_t park;
    pthread_barrier_init(&park, NULL, 2);
    struct churn c = {.s = s, .n = N, .park = &park};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, churn_main, &c), 0);
    pthread_barrier_wait(&park);
    /* The parked thread's cache holds some: not all N are reachable. */
    static struct regio_buf b[N];
    uint32_t got = 0;
    while (got < N && regio_slab_alloc_pool(s, 0, 0, &b[got]) == 0)
        got++;
    CHECK(got < N);
    CHECK(got >= N - N / 16);
    for (uint32_t i = 0; i < got; i++)
        CHECK_OK(regio_slab_free(s, b[i]));
    pthread_barrier_wait(&park);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* It exited: its cache went back to the depot. */
    for (uint32_t i = 0; i < N; i++)
        CHECK_OK(regio_slab_alloc_pool(s, 0, 0, &b[i]));
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.classes[st.tier_count].in_use, N);
    CHECK_EQ(st.classes[st.tier_count].allocs, 2 * N + got);
    for (uint32_t i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(s, b[i]));

    /* Destroy while another thread is alive with a non-empty cache: the
     * cache is flushed and detached; the thread exits afterwards. (This
     * thread's cache holds some of the pool now, so take half.) */
    c.n = N / 2;
    CHECK_EQ(pthread_create(&t, NULL, churn_main, &c), 0);
    pthread_barrier_wait(&park);
    CHECK_OK(regio_slab_destroy(s));
    pthread_barrier_wait(&park);
    CHECK_EQ(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&park);
    CHECK_OK(regio_arena_destroy(a));
}

/* ---- Free racing io_begin/io_end ---------------------------------------- */

struct racer {
    struct regio_slab *s;
    struct regio_buf b;
    atomic_int go;
    atomic_uint_fast64_t begins;
};

/* Mark I/O in flight and done on views of b until the buffer is freed
 * under us. A successful begin must always be matched by a successful end:
 * the free can never slip in while the I/O is in flight. */
static void *racer_main(void *arg)
{
    struct racer *r = arg;
    while (atomic_load(&r->go) == 0)
        ;
    for (;;) {
        struct regio_buf v;
        CHECK_OK(regio_buf_view(r->b, atomic_load(&r->begins) % 4096, 1, &v));
        int rc = regio_slab_io_begin(r->s, v);
        if (rc < 0) {
            CHECK_EQ(rc, -EALREADY);
            break;
        }
        atomic_fetch_add(&r->begins, 1);
        CHECK_OK(regio_slab_io_end(r->s, v));
    }
    return NULL;
}

static void test_free_races_io(void)
{
    struct regio_arena *a = make_arena(4 * MIB);
    struct regio_slab *s = NULL;
    CHECK_OK(regio_slab_create(a, NULL, &s));
    uint64_t busy_total = 0;
    for (int round = 0; round < 50; round++) {
        struct racer r = {.s = s};
        CHECK_OK(regio_slab_alloc(s, 4096, &r.b));
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, racer_main, &r), 0);
        atomic_store(&r.go, 1);
        /* Let the racer get going, then free until the free wins. */
        while (atomic_load(&r.begins) < 1000)
            CHECK_EQ(regio_slab_check(s, r.b), r.b.region);
        int rc;
        while ((rc = regio_slab_free(s, r.b)) == -EBUSY)
            busy_total++;
        CHECK_OK(rc);
        CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK_EQ(regio_slab_free(s, r.b), -EALREADY);
    }
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(s, &st));
    CHECK_EQ(st.classes[0].in_use, 0);
    CHECK_EQ(st.classes[0].in_flight, 0);
    fprintf(stderr, "free vs io race: %llu frees refused with -EBUSY\n",
            (unsigned long long)busy_total);
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

/* ---- Soak ---------------------------------------------------------------- */

#define SOAK_THREADS 4
#define QUEUE_CAP    64

/* A bounded queue of handles passed between threads for cross-thread frees. */
struct queue {
    pthread_mutex_t lock;
    struct regio_buf items[QUEUE_CAP];
    uint64_t tokens[QUEUE_CAP];
    uint32_t head, count;
};

struct soak {
    struct regio_slab *s;
    struct queue q;
    int64_t end_ns;
    atomic_uint_fast64_t ops;
};

struct held {
    struct regio_buf b;
    uint64_t token;
    struct regio_buf view; /* in flight when flight > 0 */
    int flight;
};

/* Each buffer carries a token in its first and last 8 bytes; a buffer handed
 * to two owners at once would have its token overwritten. */
static void stamp(struct regio_buf b, uint64_t token)
{
    memcpy(b.data, &token, 8);
    memcpy((char *)b.data + b.cap_bytes - 8, &token, 8);
}

static void verify(struct regio_buf b, uint64_t token)
{
    uint64_t x, y;
    memcpy(&x, b.data, 8);
    memcpy(&y, (char *)b.data + b.cap_bytes - 8, 8);
    CHECK_EQ(x, token);
    CHECK_EQ(y, token);
}

static bool queue_put(struct queue *q, struct regio_buf b, uint64_t token)
{
    pthread_mutex_lock(&q->lock);
    bool ok = q->count < QUEUE_CAP;
    if (ok) {
        uint32_t i = (q->head + q->count++) % QUEUE_CAP;
        q->items[i] = b;
        q->tokens[i] = token;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static bool queue_take(struct queue *q, struct regio_buf *b, uint64_t *token)
{
    pthread_mutex_lock(&q->lock);
    bool ok = q->count > 0;
    if (ok) {
        *b = q->items[q->head];
        *token = q->tokens[q->head];
        q->head = (q->head + 1) % QUEUE_CAP;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static void release(struct soak *k, struct held *h)
{
    while (h->flight > 0) {
        CHECK_EQ(regio_slab_free(k->s, h->b), -EBUSY);
        CHECK_OK(regio_slab_io_end(k->s, h->view));
        h->flight--;
    }
    verify(h->b, h->token);
    CHECK_OK(regio_slab_free(k->s, h->b));
    CHECK_EQ(regio_slab_free(k->s, h->b), -EALREADY);
}

static void *soak_main(void *arg)
{
    struct soak *k = arg;
    static const size_t sizes[] = {4096, 9000, 16384, 70000, 300 * KIB, MIB};
    enum { HELD = 24 };
    struct held h[HELD];
    int n = 0;
    uint64_t rng = (uint64_t)(uintptr_t)&h ^ (uint64_t)regio__now_ns();
    uint64_t ops = 0;
    while (regio__now_ns() < k->end_ns) {
        uint64_t r = test_rand(&rng);
        struct regio_buf b;
        uint64_t token;
        switch (r % 8) {
        case 0:
        case 1:
        case 2: /* allocate */
            if (n == HELD)
                break;
            int rc = (r >> 8) % 5 == 0
                         ? regio_slab_alloc_pool(k->s, 0, 1 * MS, &b)
                         : regio_slab_alloc(k->s, 1 + (r >> 16) % sizes[(r >> 8) % 6], &b);
            if (rc == -ENOBUFS || rc == -ETIMEDOUT)
                break;
            CHECK_OK(rc);
            CHECK_EQ((uintptr_t)b.data % 4096, 0);
            token = test_rand(&rng);
            stamp(b, token);
            h[n++] = (struct held){.b = b, .token = token};
            break;
        case 3: /* free here */
        case 4:
            if (n == 0)
                break;
            uint64_t i = (r >> 8) % n;
            release(k, &h[i]);
            h[i] = h[--n];
            break;
        case 5: /* hand to another thread */
            if (n == 0)
                break;
            struct held *x = &h[(r >> 8) % n];
            if (x->flight > 0)
                break;
            if (queue_put(&k->q, x->b, x->token))
                *x = h[--n];
            break;
        case 6: /* free one handed over by another thread */
            if (queue_take(&k->q, &b, &token)) {
                struct held y = {.b = b, .token = token};
                release(k, &y);
            }
            break;
        case 7: /* an I/O on a view */
            if (n == 0)
                break;
            struct held *z = &h[(r >> 8) % n];
            if (z->flight == 0) {
                size_t off = (r >> 16) % z->b.cap_bytes;
                CHECK_OK(regio_buf_view(z->b, off, z->b.cap_bytes - off, &z->view));
                CHECK_EQ(regio_slab_io_begin(k->s, z->view), z->b.region);
                z->flight = 1;
            } else {
                CHECK_OK(regio_slab_io_end(k->s, z->view));
                z->flight = 0;
            }
            break;
        }
        ops++;
    }
    for (int i = 0; i < n; i++)
        release(k, &h[i]);
    atomic_fetch_add(&k->ops, ops);
    return NULL;
}

static void test_soak(void)
{
    struct regio_arena *a = make_arena(64 * MIB);
    struct regio_pool_opts pool = {.buf_bytes = 8192, .count = 64};
    struct regio_slab_opts o = {.pools = &pool, .pool_count = 1};
    struct soak k = {.end_ns = regio__now_ns() + 1500 * MS};
    CHECK_OK(regio_slab_create(a, &o, &k.s));
    pthread_mutex_init(&k.q.lock, NULL);
    pthread_t t[SOAK_THREADS];
    for (int i = 0; i < SOAK_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, soak_main, &k), 0);
    for (int i = 0; i < SOAK_THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    struct regio_buf b;
    uint64_t token;
    while (queue_take(&k.q, &b, &token)) {
        verify(b, token);
        CHECK_OK(regio_slab_free(k.s, b));
    }
    struct regio_slab_stats st;
    CHECK_OK(regio_slab_stats(k.s, &st));
    uint64_t allocs = 0;
    for (uint32_t cid = 0; cid < st.class_count; cid++) {
        CHECK_EQ(st.classes[cid].in_use, 0);
        CHECK_EQ(st.classes[cid].in_flight, 0);
        allocs += st.classes[cid].allocs;
    }
    fprintf(stderr, "soak: %llu ops, %llu allocations, %llu chunks held\n",
            (unsigned long long)atomic_load(&k.ops), (unsigned long long)allocs,
            (unsigned long long)st.chunks);
    CHECK(allocs > 0);
    CHECK_EQ(regio_arena_destroy(a), -EBUSY);
    CHECK_OK(regio_slab_destroy(k.s));
    pthread_mutex_destroy(&k.q.lock);
    CHECK_OK(regio_arena_destroy(a));
}

int main(void)
{
    test_wait_woken();
    test_thread_exit_flush();
    test_free_races_io();
    test_soak();
    printf("iobuf_mt: ok\n");
    return 0;
}
