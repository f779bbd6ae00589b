/*
 * arena/base/hash_internal.h: the XXH3 entry points every checksum in regio goes
 * through (not installed). Include this, and call the regio__xxh3_*
 * functions, instead of calling libxxhash's directly.
 *
 * Debian's libxxhash builds its plain XXH3 functions for the x86-64 baseline
 * (SSE2). The same shared library exports *_dispatch variants that pick AVX2
 * or AVX-512 at run time. Which of the two makes a pager read cheaper
 * depends on the processor, measured over whole reads (docs/decisions.md):
 * on the AMD EPYC machines the dispatching ones cost less CPU per read and
 * gave more IOPS; on an Intel Xeon they made the whole read slower, kernel
 * time included. So the choice is made once per process, at the first
 * checksum (regio__xxh3_choose). The two compute the same values, so the
 * on-disk formats do not depend on it (tests/test_pager.c checks this).
 */
#ifndef REGIO_HASH_INTERNAL_H
#define REGIO_HASH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#endif
#include <xxhash.h>

enum regio__xxh3_impl { REGIO__XXH3_PLAIN = 0, REGIO__XXH3_DISPATCH = 1 };

/* XXH3-64 of [p, p+n), seed 0 and seed seed; the same values whichever
 * entry points are in use. */
uint64_t regio__xxh3_64(const void *p, size_t n);
uint64_t regio__xxh3_64_seed(const void *p, size_t n, uint64_t seed);

/* XXH3_64bits_update through the chosen entry points. The state is reset
 * and digested with libxxhash's plain functions: only the update has a
 * dispatching form, and it works on the same state. */
XXH_errorcode regio__xxh3_update(XXH3_state_t *st, const void *p, size_t n);

/*
 * The rule, without side effects, so that a test can check every branch:
 * env is the REGIO_XXH3 environment variable (NULL when unset), build is the
 * REGIO_XXH_DISPATCH build mode (0 OFF, 1 ON, 2 AUTO), have says whether
 * libxxhash has the dispatching functions, amd whether the processor is an
 * AMD one. No dispatching functions: plain. REGIO_XXH3=plain or =dispatch
 * overrides the build mode, for measurements. AUTO: dispatching on AMD.
 */
enum regio__xxh3_impl regio__xxh3_choose(const char *env, int build, bool have, bool amd);

/* The entry points in use (choosing them now if no checksum has yet). */
enum regio__xxh3_impl regio__xxh3_current(void);

/* Tests only: use impl from now on; -ENOTSUP if libxxhash lacks it. */
int regio__xxh3_force(enum regio__xxh3_impl impl);

#endif
