/*
 * arena/base/lock.h: a mutex that knows its holder, so that a function which
 * relies on a lock being held can assert it (REGIO_ASSERT(regio__lock_held(l)))
 * instead of saying so in a comment that nothing checks. Not installed.
 *
 * The holder is recorded as the thread id (regio__thread_id) of the thread
 * that took the lock, stored and read with relaxed atomics: only the holder
 * writes it while it holds the mutex, so a thread reads its own identity
 * there exactly when it holds the lock (another thread's value, or 0,
 * otherwise). A condition wait gives the lock up, so it goes through
 * regio__lock_wait, which clears and restores the holder around it. Cost
 * over a bare mutex: two relaxed stores per lock/unlock pair, and one load
 * and compare per assertion.
 */
#ifndef REGIO_LOCK_H
#define REGIO_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

struct regio__lock {
    pthread_mutex_t mu;
    _Atomic uintptr_t holder; /* regio__thread_id() of the holder, 0 when free */
    uint32_t depth;           /* holds by the holder (recursive locks) */
};

/* A value unique to each live thread: its thread pointer where the compiler
 * reads it inline (one move from a segment register on x86-64), else
 * pthread_self(). Only ever compared with itself. */
static inline uintptr_t regio__thread_id(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 11 || defined(__clang__))
    return (uintptr_t)__builtin_thread_pointer();
#else
    return (uintptr_t)pthread_self();
#endif
}

/* Whether the calling thread holds l. */
static inline bool regio__lock_held(const struct regio__lock *l)
{
    return atomic_load_explicit(&l->holder, memory_order_relaxed) == regio__thread_id();
}

/* Initialise l; recursive: the holder may take it again (each take needs its
 * own unlock). 0 or the pthread error. */
int regio__lock_init(struct regio__lock *l, bool recursive);

/* Destroy l, which nobody may hold. */
void regio__lock_destroy(struct regio__lock *l);

/* Take l (a holder of a recursive l takes it again). Out of line: it wraps
 * a futex operation anyway, and inline it made its callers too big for the
 * compiler to inline them on the I/O path. */
void regio__lock(struct regio__lock *l);

/* Take l if nobody holds it; true when taken. */
bool regio__lock_try(struct regio__lock *l);

void regio__unlock(struct regio__lock *l);

/* pthread_cond_wait on l, which the caller holds once. */
void regio__lock_wait(pthread_cond_t *c, struct regio__lock *l);

/* pthread_cond_timedwait on l, which the caller holds once; its result. */
int regio__lock_timedwait(pthread_cond_t *c, struct regio__lock *l,
                          const struct timespec *deadline);

#endif
