/*
 * tests/wal_hold.h: hold a WAL's flusher thread still. The flusher runs
 * engine calls (regio__wal_engine_call) between flushes, so a call that waits
 * keeps it from flushing until released: tests use this to line up appenders
 * or async waiters before anything can become durable.
 *
 * Usage: struct wal_hold h; wal_hold_start(&h, w); ... wal_hold_release(&h);
 */
#ifndef REGIO_TEST_WAL_HOLD_H
#define REGIO_TEST_WAL_HOLD_H

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "check.h"
#include "wal_internal.h"

struct wal_hold {
    struct regio_wal *w;
    pthread_t thread;
    _Atomic bool holding;
    _Atomic bool release;
};

static int wal_hold_fn(struct regio_engine *e, void *arg)
{
    struct wal_hold *h = arg;
    (void)e;
    atomic_store(&h->holding, true);
    while (!atomic_load(&h->release))
        usleep(100);
    return 0;
}

static void *wal_hold_main(void *arg)
{
    struct wal_hold *h = arg;
    CHECK_OK(regio__wal_engine_call(h->w, wal_hold_fn, h));
    return NULL;
}

/* Returns once the flusher is held. */
static inline void wal_hold_start(struct wal_hold *h, struct regio_wal *w)
{
    h->w = w;
    atomic_store(&h->holding, false);
    atomic_store(&h->release, false);
    CHECK(pthread_create(&h->thread, NULL, wal_hold_main, h) == 0);
    while (!atomic_load(&h->holding))
        usleep(100);
}

static inline void wal_hold_release(struct wal_hold *h)
{
    atomic_store(&h->release, true);
    pthread_join(h->thread, NULL);
}

#endif
