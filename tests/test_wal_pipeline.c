/* regio-test: labels=mt,io timeout=120 */
/*
 * tests/test_wal_pipeline.c: pipelined commits (regio_wal_notify_durable
 * with many records in flight). Every callback comes once, with 0, in LSN
 * order, from one thread and from four; and a callback registered for a
 * record later than every pending one is placed without walking the pending
 * list: the walk from the head cost a step per pending callback, so with
 * thousands in flight each new record paid for all of them and pipelined
 * commits got slower with every thread added. Answered callbacks' nodes are
 * kept as spares and reused (a malloc per record, freed by the callback
 * thread, made it wait on the allocator's locks), up to a bound past which
 * a batch is freed.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "wal_hold.h"
#include "wal_internal.h"

#define RECORDS 2000 /* 100-byte records: ~260 KB, well inside the ring */
#define THREADS 4

struct seen {
    pthread_mutex_t mu;
    uint64_t last_lsn;
    uint64_t count;
    int bad_res, out_of_order;
};

struct cb_arg {
    struct seen *s;
    uint64_t lsn;
};

static void on_durable(void *ctx, int res)
{
    struct cb_arg *a = ctx;
    struct seen *s = a->s;
    pthread_mutex_lock(&s->mu);
    if (res != 0)
        s->bad_res++;
    if (s->count > 0 && a->lsn <= s->last_lsn)
        s->out_of_order++;
    s->last_lsn = a->lsn;
    s->count++;
    pthread_mutex_unlock(&s->mu);
}

struct worker {
    struct regio_wal *w;
    struct seen *s;
    struct cb_arg *args;
    int n;
};

static void *worker_main(void *arg)
{
    struct worker *k = arg;
    uint8_t rec[100];
    memset(rec, 0x3c, sizeof(rec));
    for (int i = 0; i < k->n; i++) {
        uint64_t lsn;
        CHECK_OK(regio_wal_append(k->w, rec, sizeof(rec), &lsn));
        k->args[i] = (struct cb_arg){k->s, lsn};
        CHECK_OK(regio_wal_notify_durable(k->w, lsn, on_durable, &k->args[i]));
    }
    return NULL;
}

static void wait_count(struct seen *s, uint64_t want)
{
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&s->mu);
        uint64_t c = s->count;
        pthread_mutex_unlock(&s->mu);
        if (c >= want)
            return;
        usleep(1000);
    }
    CHECK(!"callbacks did not all come within 20 s");
}

/* All records are registered while the flusher is held, so all of them are
 * pending at once; then released, they must all come back in order. */
static void run(struct regio_wal *w, int threads, uint64_t *steps_out)
{
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct worker k[THREADS];
    pthread_t th[THREADS];
    struct cb_arg *args = calloc(RECORDS, sizeof(*args));
    CHECK(args != NULL);
    struct wal_hold h;
    wal_hold_start(&h, w);
    uint64_t steps0 = w->async_insert_steps;
    for (int t = 0; t < threads; t++) {
        k[t] = (struct worker){w, &s, args + t * (RECORDS / threads), RECORDS / threads};
        CHECK(pthread_create(&th[t], NULL, worker_main, &k[t]) == 0);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    regio__lock(&w->async_mu);
    *steps_out = w->async_insert_steps - steps0;
    regio__unlock(&w->async_mu);
    wal_hold_release(&h);
    /* Nothing waits with regio_wal_sync: only the callbacks' own requests
     * make the flusher write. */
    wait_count(&s, RECORDS);
    CHECK_EQ(s.count, RECORDS);
    CHECK_EQ(s.bad_res, 0);
    CHECK_EQ(s.out_of_order, 0);
    free(args);
}

/* The spares once the callback thread has returned the last batch (it
 * does so after the batch's callbacks ran). */
static uint32_t spares_settled(struct regio_wal *w, uint32_t want)
{
    uint32_t n = 0;
    for (int i = 0; i < 5000; i++) {
        regio__lock(&w->async_mu);
        n = w->async_spare_count;
        regio__unlock(&w->async_mu);
        if (n == want)
            break;
        usleep(1000);
    }
    return n;
}

static void on_flag(void *ctx, int res)
{
    CHECK_EQ(res, 0);
    atomic_store((_Atomic bool *)ctx, true);
}

/* The spares once every batch answered so far is back: the callback thread
 * returns a batch before it takes the next, so once one more callback has
 * run, every earlier one's node is back (that one's may not be yet). */
static uint32_t spares_after_one_more(struct regio_wal *w)
{
    static _Atomic bool done;
    atomic_store(&done, false);
    uint8_t rec[100] = {0};
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, rec, sizeof(rec), &lsn));
    CHECK_OK(regio_wal_notify_durable(w, lsn, on_flag, (void *)&done));
    for (int i = 0; i < 20000 && !atomic_load(&done); i++)
        usleep(1000);
    CHECK(atomic_load(&done));
    regio__lock(&w->async_mu);
    uint32_t n = w->async_spare_count;
    regio__unlock(&w->async_mu);
    return n;
}

int main(void)
{
    const char *dir = test_tmpdir("wal_pipeline");
    struct regio_wal_opts o = {.create = true, .segment_bytes = 16u << 20};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    uint64_t steps;
    /* One thread: LSNs only grow, so no insert walks at all (the walk from
     * the head took RECORDS * (RECORDS - 1) / 2 steps here). */
    run(w, 1, &steps);
    CHECK_EQ(steps, 0);
    /* Every node came back as a spare. */
    CHECK_EQ(spares_settled(w, RECORDS), RECORDS);
    /* Four threads: order and completeness (an append and its notify are
     * two calls, so another thread's records may come between them and a
     * few steps back are expected; how many depends on scheduling). */
    run(w, THREADS, &steps);
    fprintf(stderr, "4 threads: %llu insert steps for %d records\n", (unsigned long long)steps,
            RECORDS);
    /* The second run took its nodes from the spares: no more of them. */
    CHECK_EQ(spares_settled(w, RECORDS), RECORDS);
    /* Past the bound a batch is freed, not kept: with a bound of 1500 the
     * run takes all 2000 spares, and its 2000 answered nodes cannot all
     * come back. */
    regio__lock(&w->async_mu);
    w->async_spare_max = RECORDS * 3 / 4;
    regio__unlock(&w->async_mu);
    run(w, 1, &steps);
    uint32_t left = spares_after_one_more(w);
    CHECK(left <= RECORDS * 3 / 4);
    fprintf(stderr, "spares after a run with a bound of %d: %u\n", RECORDS * 3 / 4, left);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
    printf("wal_pipeline: ok\n");
    return 0;
}
