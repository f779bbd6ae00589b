/*
 * arena/hash_internal.h: the XXH3 entry points every checksum in regio goes
 * through (not installed). Include this instead of <xxhash.h>.
 *
 * Debian's libxxhash builds its plain XXH3 functions for the x86-64 baseline
 * (SSE2). The same library exports *_dispatch variants that pick AVX2 or
 * AVX-512 at run time, and <xxh_x86dispatch.h> maps the plain names onto
 * them. On this project's machines that is 175 ns per 4 KiB instead of
 * 690 ns (docs/performance.md), and every page read verifies one such hash.
 * The dispatching functions compute the same values, so the on-disk formats
 * do not depend on which one was used (tests/test_pager.c checks this).
 * CMake defines REGIO_HAVE_XXH_DISPATCH only where the header exists and a
 * program calling a dispatch function links against the library.
 */
#ifndef REGIO_HASH_INTERNAL_H
#define REGIO_HASH_INTERNAL_H

#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#endif
#include <xxhash.h>

#if defined(REGIO_HAVE_XXH_DISPATCH) && REGIO_HAVE_XXH_DISPATCH
#include <xxh_x86dispatch.h>
#endif

#endif
