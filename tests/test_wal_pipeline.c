/* regio-test: labels=mt,io timeout=120 */
/*
 * tests/test_wal_pipeline.c: pipelined commits (regio_wal_notify_durable
 * with many records in flight). Every callback comes once, with 0, in LSN
 * order, from one thread and from four; and a callback registered for a
 * record later than every pending one is placed without walking the pending
 * list: the walk from the head cost a step per pending callback, so with
 * thousands in flight each new record paid for all of them and pipelined
 * commits got slower with every thread added.
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
    regio__lock(&w->mu);
    *steps_out = w->async_insert_steps - steps0;
    regio__unlock(&w->mu);
    wal_hold_release(&h);
    /* Nothing waits with regio_wal_sync: only the callbacks' own requests
     * make the flusher write. */
    wait_count(&s, RECORDS);
    CHECK_EQ(s.count, RECORDS);
    CHECK_EQ(s.bad_res, 0);
    CHECK_EQ(s.out_of_order, 0);
    free(args);
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
    /* Four threads: order and completeness (an append and its notify are
     * two calls, so another thread's records may come between them and a
     * few steps back are expected; how many depends on scheduling). */
    run(w, THREADS, &steps);
    fprintf(stderr, "4 threads: %llu insert steps for %d records\n", (unsigned long long)steps,
            RECORDS);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(dir);
    printf("wal_pipeline: ok\n");
    return 0;
}
