/*
 * tools/bench/slab_floor.h: the floor of regio's buffer interface, for the
 * slab bench (see slab_floor.c).
 */
#ifndef REGIO_BENCH_SLAB_FLOOR_H
#define REGIO_BENCH_SLAB_FLOOR_H

#include "regio.h"

/* Hand out the one buffer of the floor allocator (no check that it is free). */
int slab_floor_alloc(struct regio_buf *out);
/* Take it back: one compare-and-swap of its state word (-EALREADY when the
 * handle's generation is not the owner's). */
int slab_floor_free(struct regio_buf b);

#endif
