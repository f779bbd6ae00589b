/*
 * tools/bench/slab_floor.c: the least that an allocator with regio's buffer
 * interface does per alloc+free pair, as a floor for the slab bench.
 *
 * One buffer and one state word. Allocation stores "owned" into the word and
 * writes the 24-byte handle (one 16-byte and one 8-byte move, as regio does);
 * free is the single compare-and-swap of the word that a race-free free needs
 * and writes the next handle back. No size classes, thread caches, handle
 * checks or counters. In its own translation unit, so that the bench's calls
 * are real calls, as calls into the library are.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "slab_floor.h"

#define FLOOR_OWNED ((uint64_t)1 << 32)

static alignas(4096) char floor_buf[4096];
static alignas(64) _Atomic uint64_t floor_word;
static alignas(64) struct regio_buf floor_next = {.data = floor_buf,
                                                  .cap_bytes = sizeof(floor_buf)};

int slab_floor_alloc(struct regio_buf *out)
{
    /* Not even a check that the buffer is free: the bench frees it each time. */
    atomic_store_explicit(&floor_word, FLOOR_OWNED | floor_next.gen, memory_order_relaxed);
    memcpy(out, &floor_next, sizeof(*out));
    return 0;
}

int slab_floor_free(struct regio_buf b)
{
    uint64_t v = FLOOR_OWNED | b.gen;
    if (!atomic_compare_exchange_strong_explicit(&floor_word, &v, (uint32_t)(b.gen + 1),
                                                 memory_order_acq_rel, memory_order_acquire))
        return -EALREADY;
    uint64_t tail = (uint64_t)b.slot | (uint64_t)(b.gen + 1) << 32;
    memcpy(&floor_next, &b, 16);
    memcpy((char *)&floor_next + 16, &tail, 8);
    return 0;
}
