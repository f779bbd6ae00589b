/*
 * arena/base/internal.h: helpers shared by every module of the library (not
 * installed): the error detail, REGIO_ASSERT, the clock, sizes. The base
 * (arena/base/) sits below the arena and includes nothing of any module;
 * every module includes it, and the build lets nothing here include a
 * module's header (docs/architecture.md, "Dependency direction").
 */
#ifndef REGIO_INTERNAL_H
#define REGIO_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "regio/common.h"

/* Invariant checks that stay on in release builds: an invariant that does
 * not hold means memory or data can no longer be trusted, so stop. */
#define REGIO_ASSERT(cond)                                                                         \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0))                                                          \
            regio__assert_fail(#cond, __FILE__, __LINE__);                                         \
    } while (0)

_Noreturn void regio__assert_fail(const char *expr, const char *file, int line);

/* Set the calling thread's detail message (see regio_error_detail). */
void regio__set_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void regio__clear_detail(void);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t regio__now_ns(void);

#define REGIO_MIB         (1024u * 1024u)
#define REGIO_GIB         (1024u * 1024u * 1024u)
#define REGIO_CHUNK_SHIFT 21
#define REGIO_CHUNK_BYTES ((size_t)1 << REGIO_CHUNK_SHIFT) /* 2 MiB */

#define REGIO_LIKELY(x)   __builtin_expect(!!(x), 1)
#define REGIO_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
