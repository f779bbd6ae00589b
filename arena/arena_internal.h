/*
 * arena/arena_internal.h: what the arena offers the modules built on it
 * (iobuf carves chunks, the engine counts itself as a user, the stats
 * publisher attaches providers). Not installed.
 */
#ifndef REGIO_ARENA_INTERNAL_H
#define REGIO_ARENA_INTERNAL_H

#include "regio/arena.h"
#include "internal.h"

/* Base address and geometry (never change after create). */
void *regio__arena_base(const struct regio_arena *a);
size_t regio__arena_size(const struct regio_arena *a);
size_t regio__arena_region_bytes(const struct regio_arena *a);
uint32_t regio__arena_region_count(const struct regio_arena *a);
/* Register the regions on ring_fd with a pin of its own (never a clone),
 * recorded like any registration: counted in pinned_bytes, checked against
 * RLIMIT_MEMLOCK first, undone by regio_arena_unregister_ring, and keeping
 * regio_arena_destroy at -EBUSY while it lasts. For an engine's no_clone. */
int regio__arena_register_ring_fresh(struct regio_arena *a, int ring_fd);

/*
 * Chunks: the arena is cut in 2 MiB chunks. Allocate n contiguous chunks that
 * lie within one region; *first_out is the index of the first. -ENOMEM when
 * no such run is free. Thread-safe. Freeing is bookkeeping only: the memory
 * is never MADV_DONTNEED'd or remapped, since a ring may hold it registered.
 */
int regio__arena_chunks_alloc(struct regio_arena *a, uint32_t n, uint32_t *first_out);
void regio__arena_chunks_free(struct regio_arena *a, uint32_t first, uint32_t n);
void *regio__arena_chunk_ptr(const struct regio_arena *a, uint32_t idx);

/*
 * The page-descriptor table: one pointer per chunk, set by whoever holds the
 * chunk (iobuf stores its slab-chunk descriptor), read in O(1) from any
 * pointer by (p - base) >> 21. Lookup returns NULL for a pointer outside the
 * arena or a chunk nobody holds. Stores are release, loads acquire.
 */
void regio__arena_chunk_set_owner(struct regio_arena *a, uint32_t idx, void *owner);
void *regio__arena_chunk_owner(const struct regio_arena *a, const void *p);

/* Users (slabs, engines): regio_arena_destroy is -EBUSY while any remain. */
void regio__arena_user_get(struct regio_arena *a);
void regio__arena_user_put(struct regio_arena *a);

#endif
