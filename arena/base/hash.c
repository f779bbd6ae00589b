/*
 * arena/base/hash.c: the XXH3 entry points regio's checksums go through, plain
 * or dispatching, chosen once per process (hash_internal.h says why).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hash_internal.h"
#include "internal.h"

#if defined(REGIO_HAVE_XXH_DISPATCH) && REGIO_HAVE_XXH_DISPATCH
#define XXH_DISPATCH_DISABLE_REPLACE /* this file names both variants */
#include <xxh_x86dispatch.h>
#define HAVE_DISPATCH true
#else
#define HAVE_DISPATCH false
#endif

#ifndef REGIO_XXH_DISPATCH_MODE
#define REGIO_XXH_DISPATCH_MODE 2 /* AUTO */
#endif

struct xxh3_fns {
    XXH64_hash_t (*h)(const void *, size_t);
    XXH64_hash_t (*hs)(const void *, size_t, XXH64_hash_t);
    XXH_errorcode (*update)(XXH3_state_t *, const void *, size_t);
};

static const struct xxh3_fns fns_plain = {XXH3_64bits, XXH3_64bits_withSeed, XXH3_64bits_update};
#if defined(REGIO_HAVE_XXH_DISPATCH) && REGIO_HAVE_XXH_DISPATCH
static const struct xxh3_fns fns_dispatch = {XXH3_64bits_dispatch, XXH3_64bits_withSeed_dispatch,
                                             XXH3_64bits_update_dispatch};
#endif

/* NULL until the first checksum. Two threads that race to choose compute
 * the same choice, so either store is right. */
static _Atomic(const struct xxh3_fns *) chosen;

enum regio__xxh3_impl regio__xxh3_choose(const char *env, int build, bool have, bool amd)
{
    if (!have)
        return REGIO__XXH3_PLAIN;
    if (env != NULL && strcmp(env, "plain") == 0)
        return REGIO__XXH3_PLAIN;
    if (env != NULL && strcmp(env, "dispatch") == 0)
        return REGIO__XXH3_DISPATCH;
    if (build == 0)
        return REGIO__XXH3_PLAIN;
    if (build == 1)
        return REGIO__XXH3_DISPATCH;
    return amd ? REGIO__XXH3_DISPATCH : REGIO__XXH3_PLAIN;
}

static bool cpu_is_amd(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init(); /* may run before the constructors that would */
    return __builtin_cpu_is("amd");
#else
    return false;
#endif
}

static const struct xxh3_fns *fns_of(enum regio__xxh3_impl impl)
{
#if defined(REGIO_HAVE_XXH_DISPATCH) && REGIO_HAVE_XXH_DISPATCH
    if (impl == REGIO__XXH3_DISPATCH)
        return &fns_dispatch;
#endif
    REGIO_ASSERT(impl == REGIO__XXH3_PLAIN);
    return &fns_plain;
}

/* The library's one environment variable, REGIO_XXH3 (README), stays one:
 * the choice is made once per process, before and apart from any object
 * whose options could carry it (the pager, the WAL and regio-dump all hash),
 * and both choices compute the same values, so it changes speed only, never
 * a result or the format. It exists to measure one against the other. */
static const struct xxh3_fns *fns(void)
{
    const struct xxh3_fns *f = atomic_load_explicit(&chosen, memory_order_acquire);
    if (f != NULL)
        return f;
    f = fns_of(regio__xxh3_choose(getenv("REGIO_XXH3"), REGIO_XXH_DISPATCH_MODE, HAVE_DISPATCH,
                                  cpu_is_amd()));
    atomic_store_explicit(&chosen, f, memory_order_release);
    return f;
}

uint64_t regio__xxh3_64(const void *p, size_t n)
{
    return fns()->h(p, n);
}

uint64_t regio__xxh3_64_seed(const void *p, size_t n, uint64_t seed)
{
    return fns()->hs(p, n, seed);
}

XXH_errorcode regio__xxh3_update(XXH3_state_t *st, const void *p, size_t n)
{
    return fns()->update(st, p, n);
}

enum regio__xxh3_impl regio__xxh3_current(void)
{
    return fns() == &fns_plain ? REGIO__XXH3_PLAIN : REGIO__XXH3_DISPATCH;
}

int regio__xxh3_force(enum regio__xxh3_impl impl)
{
    if (impl == REGIO__XXH3_DISPATCH && !HAVE_DISPATCH)
        return -ENOTSUP;
    atomic_store_explicit(&chosen, fns_of(impl), memory_order_release);
    REGIO_ASSERT(regio__xxh3_current() == impl);
    return 0;
}

const char *regio_checksum_impl(void)
{
    return regio__xxh3_current() == REGIO__XXH3_PLAIN ? "plain XXH3 (SSE2)"
                                                      : "dispatching XXH3 (AVX-512, AVX2 or SSE2)";
}
