/*
 * arena/hash_internal.h: the XXH3 entry points every checksum in regio goes
 * through (not installed). Include this instead of <xxhash.h>.
 *
 * Debian's libxxhash builds its plain XXH3 functions for the x86-64 baseline
 * (SSE2). The same library exports *_dispatch variants that pick AVX2 or
 * AVX-512 at run time, and <xxh_x86dispatch.h> maps the plain names onto
 * them. Alone, hot in cache, the dispatching hash is faster (175 ns per
 * 4 KiB against 690 ns). Measured over a whole pager read it costs more CPU
 * per read, not less (docs/decisions.md), so regio uses the plain functions
 * unless built with REGIO_XXH_DISPATCH=ON, which defines
 * REGIO_USE_XXH_DISPATCH. The two compute the same values, so the on-disk
 * formats do not depend on the choice (tests/test_pager.c checks this).
 */
#ifndef REGIO_HASH_INTERNAL_H
#define REGIO_HASH_INTERNAL_H

#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#endif
#include <xxhash.h>

#if defined(REGIO_USE_XXH_DISPATCH) && REGIO_USE_XXH_DISPATCH
#include <xxh_x86dispatch.h>
#endif

#endif
