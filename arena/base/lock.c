/*
 * arena/base/lock.c: creating and destroying the holder-tracking lock
 * (lock.h holds the calls on the hot path, inline).
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
    atomic_init(&l->holder, 0);
    l->depth = 0;
    return rc;
}

void regio__lock_destroy(struct regio__lock *l)
{
    REGIO_ASSERT(l->depth == 0);
    pthread_mutex_destroy(&l->mu);
}
