/*
 * arena/base/lock.c: the holder-tracking lock (lock.h says why it exists).
 */
#include "lock.h"

int regio__lock_init(struct regio__lock *l, bool recursive)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    if (recursive)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    int rc = pthread_mutex_init(&l->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    /* Callers use the lock whatever this returns: it must be one. */
    REGIO_ASSERT(rc == 0);
    atomic_init(&l->holder, 0);
    l->depth = 0;
    return rc;
}

void regio__lock_destroy(struct regio__lock *l)
{
    REGIO_ASSERT(l->depth == 0);
    pthread_mutex_destroy(&l->mu);
}

/* After the mutex was taken: the caller is the holder. */
static void took(struct regio__lock *l)
{
    if (l->depth++ == 0)
        atomic_store_explicit(&l->holder, regio__thread_id(), memory_order_relaxed);
    REGIO_ASSERT(regio__lock_held(l));
}

/* Before the mutex is given up by a condition wait: nobody holds it. */
static void give_up(struct regio__lock *l)
{
    REGIO_ASSERT(regio__lock_held(l) && l->depth == 1);
    l->depth = 0;
    atomic_store_explicit(&l->holder, 0, memory_order_relaxed);
}

void regio__lock(struct regio__lock *l)
{
    int rc = pthread_mutex_lock(&l->mu);
    REGIO_ASSERT(rc == 0);
    took(l);
}

bool regio__lock_try(struct regio__lock *l)
{
    if (pthread_mutex_trylock(&l->mu) != 0)
        return false;
    took(l);
    return true;
}

void regio__unlock(struct regio__lock *l)
{
    REGIO_ASSERT(regio__lock_held(l) && l->depth > 0);
    if (--l->depth == 0)
        atomic_store_explicit(&l->holder, 0, memory_order_relaxed);
    int rc = pthread_mutex_unlock(&l->mu);
    REGIO_ASSERT(rc == 0);
}

void regio__lock_wait(pthread_cond_t *c, struct regio__lock *l)
{
    give_up(l);
    int rc = pthread_cond_wait(c, &l->mu);
    REGIO_ASSERT(rc == 0); /* EINVAL/EPERM: the mutex was not ours to wait on */
    took(l);
}

int regio__lock_timedwait(pthread_cond_t *c, struct regio__lock *l, const struct timespec *deadline)
{
    give_up(l);
    int rc = pthread_cond_timedwait(c, &l->mu, deadline);
    REGIO_ASSERT(rc == 0 || rc == ETIMEDOUT);
    took(l);
    return rc;
}
