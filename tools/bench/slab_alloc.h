/*
 * tools/bench/slab_alloc.h: the slab bench's baseline allocators (see
 * slab_alloc.c).
 */
#ifndef REGIO_BENCH_SLAB_ALLOC_H
#define REGIO_BENCH_SLAB_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Per-thread, per-class stack of pre-aligned buffers; cls < 64. */
void *freelist_alloc(unsigned cls, size_t bytes);
void freelist_free(unsigned cls, void *p);
/* Free every buffer the calling thread's free lists hold (at the end of a
 * trial's thread, so that the buffers do not outlive it). */
void freelist_drain(void);

void *glibc_alloc(size_t bytes);
void glibc_free(void *p);

enum ext_alloc { EXT_JEMALLOC, EXT_MIMALLOC };
/* dlopen the library; false when it is not installed. */
bool ext_alloc_load(enum ext_alloc which);
void *ext_alloc(enum ext_alloc which, size_t bytes);
void ext_free(enum ext_alloc which, void *p, size_t bytes);

#endif
