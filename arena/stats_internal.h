/*
 * arena/stats_internal.h: the live stats publisher (see regio/stats.h), as
 * seen by the modules. Not installed.
 *
 * The arena starts the publisher when it has a stats name and stops it on
 * destroy. Slabs, engines and WALs built on the arena attach a provider: a
 * callback that the publisher thread calls about every 100 ms with the
 * object's section of the shared file, which it fills from the object's own
 * stats call (per-thread counters summed when read) through its module's
 * converter (regio__slab_stats_section, regio__engine_stats_section,
 * regio__wal_stats_section). The publisher knows the file's format and the
 * kinds of section, never the modules above it. So the I/O paths never
 * write to the shared file, and an object whose arena publishes nothing pays
 * one failed lookup at create time.
 */
#ifndef REGIO_STATS_INTERNAL_H
#define REGIO_STATS_INTERNAL_H

#include "regio/arena.h"
#include "regio/stats.h"

enum regio_stats_kind {
    REGIO_STATS_SLAB = 0,   /* section: struct regio_stats_slab */
    REGIO_STATS_ENGINE = 1, /* section: struct regio_stats_engine */
    REGIO_STATS_WAL = 2,    /* section: struct regio_stats_wal */
};

/* Fill `section` (of the kind attached) from ctx's object. Runs on the
 * publisher thread, with the publisher's lock held; must not block long and
 * must not call regio__stats_attach/detach. */
typedef void (*regio_stats_fill_fn)(void *ctx, void *section);

/*
 * Create /dev/shm/regio.<pid>.<name> for arena a and start its publisher
 * thread; the first snapshot is written before this returns. -EINVAL for a
 * name outside 1..63 of [A-Za-z0-9_.-]; -EEXIST when another arena of this
 * process publishes under the name, or a file of another owner is at the
 * path (one of our own user is stale and replaced); other negative errnos
 * from the system. Called by regio_arena_create, for which only -EINVAL is
 * an error.
 */
int regio__stats_start(struct regio_arena *a, const char *name);

/* Stop the publisher of a (if any), remove the file. Called by
 * regio_arena_destroy once the destroy is certain to succeed. */
void regio__stats_stop(struct regio_arena *a);

/*
 * Publish an object in arena a's stats file. Returns a handle (>= 0) for
 * regio__stats_detach, -ENOENT when a publishes no stats, -ENOSPC when the
 * kind's table is full (the file's dropped_sections counts it). Failure is
 * not an error for the object: keep the handle (negative) and pass it to
 * detach, which ignores it. name may be NULL.
 */
int regio__stats_attach(struct regio_arena *a, enum regio_stats_kind kind, const char *name,
                        regio_stats_fill_fn fill, void *ctx);

/* Withdraw a provider: after return, fill is never called again for it. A
 * negative handle is ignored. Call before the object is torn down. */
void regio__stats_detach(struct regio_arena *a, int handle);

/* Withdraw every provider of arena a whose ctx is ctx (for objects that keep
 * no handle); same guarantee as regio__stats_detach. No-op when none. */
void regio__stats_detach_ctx(struct regio_arena *a, const void *ctx);

#endif
