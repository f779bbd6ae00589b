/*
 * regio/iobuf.h: the slab allocator of registered I/O buffers.
 *
 * Buffers are carved from arena chunks of 2 MiB (one size class per slab
 * chunk) and are handed out as small handles passed by value. Every buffer
 * is aligned to at least 4 KiB. A handle carries the slot's generation, so a
 * handle kept after its buffer was freed is detected (-ESTALE) instead of
 * silently touching someone else's buffer.
 */
#ifndef REGIO_IOBUF_H
#define REGIO_IOBUF_H

#include "regio/common.h"
#include "regio/arena.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A buffer handle. data/cap_bytes describe the bytes the holder may use. */
struct regio_buf {
    void *data;         /* first byte (4 KiB aligned for whole buffers) */
    uint32_t cap_bytes; /* usable bytes from data */
    uint16_t region;    /* arena region that holds the buffer */
    uint16_t class_id;  /* size class or pool the buffer came from */
    uint32_t slot;      /* slot index within the class */
    uint32_t gen;       /* slot generation when the handle was made */
};

#define REGIO_SLAB_MAX_CLASSES 64

/* A fixed-count pool: count buffers of buf_bytes reserved at slab creation. */
struct regio_pool_opts {
    size_t buf_bytes; /* a multiple of 4 KiB, at most 64 MiB */
    uint32_t count;   /* buffers reserved up front */
};

struct regio_slab_opts {
    /* Size classes in bytes, ascending multiples of 4 KiB. NULL = the default
     * tiers: every 4 KiB to 16 KiB, then four per doubling up to 1 MiB. */
    const size_t *class_bytes;
    uint32_t class_count;
    /* Fixed pools, reserved now; pool i has class_id = tier count + i. */
    const struct regio_pool_opts *pools;
    uint32_t pool_count;
    /* Buffers per per-thread magazine; 0 = default. */
    uint32_t magazine_size;
};

struct regio_slab_class_stats {
    uint32_t buf_bytes;   /* size of each buffer in the class */
    bool pool;            /* fixed-count pool rather than tier class */
    uint64_t capacity;    /* buffers carved so far (pools: reserved) */
    uint64_t in_use;      /* buffers allocated and not freed */
    uint64_t in_flight;   /* buffers with I/O in flight */
    uint64_t high_water;  /* most buffers in use at once (see docs) */
    uint64_t allocs;      /* successful allocations */
    uint64_t exhaustions; /* allocations that found no buffer */
    uint64_t waits;       /* allocations that had to wait */
};

struct regio_slab_stats {
    uint32_t class_count; /* tiers + pools */
    uint32_t tier_count;
    uint64_t chunks; /* 2 MiB arena chunks held */
    struct regio_slab_class_stats classes[REGIO_SLAB_MAX_CLASSES];
};

struct regio_slab;

/*
 * Create a slab allocator on arena a, carving 2 MiB chunks of the arena as
 * classes need them. opts (NULL: the default tiers, no pools) is only read
 * during the call. Pools are reserved now. On success *out is the caller's
 * until regio_slab_destroy() succeeds, and the slab holds a user reference
 * on a: regio_arena_destroy() is -EBUSY until the slab is destroyed. Any
 * thread.
 *   -EINVAL  a or out NULL; class_bytes given with class_count 0 or above 64,
 *            or class_count without class_bytes; a class or pool size that is
 *            0, not a multiple of 4 KiB, above 64 MiB or above the arena's
 *            region_bytes; classes not ascending; pool_count without pools,
 *            or a pool of count 0; tiers + pools above 64; magazine_size
 *            above 256.
 *   -ENOMEM  no memory for the slab, or the arena has no room for the pools
 *            (regio_error_detail() names the pool).
 */
REGIO_API int regio_slab_create(struct regio_arena *a, const struct regio_slab_opts *opts,
                                struct regio_slab **out);

/*
 * Destroy the slab and give its chunks back to the arena. On success s is
 * freed; a refusal leaves s untouched and usable. Call it from one thread,
 * with no other call on s running.
 *   -EINVAL  s is NULL.
 *   -EBUSY   an engine built on the slab still exists, a buffer of some
 *            class is still out, or an allocation is waiting
 *            (regio_error_detail() says which).
 */
REGIO_API int regio_slab_destroy(struct regio_slab *s);

/*
 * Allocate a whole buffer of at least len bytes from the smallest tier class
 * that fits (pools are reached only through regio_slab_alloc_pool). On
 * success *out is a handle the caller owns until regio_slab_free(). Never
 * blocks. Any thread (a per-thread magazine serves most calls without a
 * lock).
 *   -EINVAL   s or out NULL; len 0 or larger than the largest tier class.
 *   -ENOBUFS  no buffer of the class is free and the arena has no chunk left.
 *   -ENOMEM   this thread's cache could not be allocated.
 */
REGIO_API int regio_slab_alloc(struct regio_slab *s, size_t len, struct regio_buf *out);

/*
 * As regio_slab_alloc, but when no buffer is free, block up to timeout_ns
 * for one of the class to be freed: 0 tries once, negative waits without
 * limit. Any thread.
 *   -EINVAL, -ENOMEM  as regio_slab_alloc.
 *   -ENOBUFS    none free and timeout_ns is 0.
 *   -ETIMEDOUT  none was freed within timeout_ns.
 */
REGIO_API int regio_slab_alloc_wait(struct regio_slab *s, size_t len, int64_t timeout_ns,
                                    struct regio_buf *out);

/*
 * Allocate from fixed pool `pool` (0-based; its class_id is the tier count +
 * pool), waiting as regio_slab_alloc_wait: timeout_ns 0 tries once, negative
 * waits without limit. A pool never grows, so it always waits when empty
 * (the name has no _wait because a pool has no other way to allocate).
 * Any thread.
 *   -EINVAL     s or out NULL, or no such pool.
 *   -ENOBUFS    the pool is empty and timeout_ns is 0.
 *   -ETIMEDOUT  no buffer was freed within timeout_ns.
 *   -ENOMEM     this thread's cache could not be allocated.
 */
REGIO_API int regio_slab_alloc_pool(struct regio_slab *s, uint32_t pool, int64_t timeout_ns,
                                    struct regio_buf *out);

/*
 * Return a whole buffer (not a view) to the slab. On success the handle and
 * every view of it are dead: the buffer must not be touched afterwards. A
 * refused free changes nothing. Touches no buffer memory. Any thread. On the
 * I/O path: sets regio_error_detail() only when it fails.
 *   -EINVAL    s NULL; a view rather than the whole buffer; a handle naming
 *              no slot of this slab, or whose pointer or region is not its
 *              slot's.
 *   -EFAULT    b.data is outside this slab's arena.
 *   -EALREADY  the buffer was already freed (this handle's generation was
 *              the last one to own it).
 *   -ESTALE    a handle of an earlier generation: the slot was freed and
 *              handed out again.
 *   -EBUSY     I/O is in flight on the buffer (regio_slab_io_begin without
 *              its regio_slab_io_end).
 *   -EXDEV     a buffer of another slab on the same arena (the detail
 *              names its chunk): give it back to the slab it came from.
 */
REGIO_API int regio_slab_free(struct regio_slab *s, struct regio_buf b);

/*
 * A view of [off, off + len) of b in *out: same slot and generation, so the
 * checks on b apply to it. Views can be given to I/O calls but not freed;
 * they die with b. Pure arithmetic: any thread, no slab access.
 *   -EINVAL  out NULL, len 0, or the range leaves b.
 */
REGIO_API int regio_buf_view(struct regio_buf b, size_t off, size_t len, struct regio_buf *out);

/*
 * Check that handle b is a live buffer (or view) of slab s, of the current
 * generation, owned, and that [b.data, b.data + b.cap_bytes) lies inside the
 * slot's buffer. Returns the region index (>= 0). Touches no buffer memory.
 * Any thread. Sets regio_error_detail() only when it fails.
 *   -EINVAL    s NULL, or a handle naming no slot of this slab, or whose
 *              range leaves its slot.
 *   -EFAULT    the range is outside this slab's arena.
 *   -EALREADY  the buffer was freed by this very handle.
 *   -ESTALE    a handle of an earlier generation.
 *   -EXDEV     a buffer of another slab on the same arena.
 */
REGIO_API int regio_slab_check(const struct regio_slab *s, struct regio_buf b);

/*
 * Mark b (a buffer or view) as having one more I/O in flight, after the same
 * checks as regio_slab_check, in one compare-and-swap so that a concurrent
 * free cannot slip in between. Returns the region index. Every successful
 * call must be matched by one regio_slab_io_end() when the I/O completes;
 * until then regio_slab_free() is -EBUSY. Used by the engine; public for
 * code that submits I/O itself. Any thread. Sets regio_error_detail() only
 * when it fails.
 *   -EINVAL, -EFAULT, -EALREADY, -ESTALE, -EXDEV  as regio_slab_check.
 *   -EAGAIN  the slot's in-flight counter is at its maximum.
 */
REGIO_API int regio_slab_io_begin(struct regio_slab *s, struct regio_buf b);

/*
 * End one in-flight I/O on b, begun by regio_slab_io_begin. Any thread.
 * Sets regio_error_detail() only when it fails.
 *   -EINVAL   s NULL, a handle naming no slot of this slab, or no I/O in
 *             flight on the slot.
 *   -EFAULT, -EALREADY, -ESTALE, -EXDEV  as regio_slab_check.
 */
REGIO_API int regio_slab_io_end(struct regio_slab *s, struct regio_buf b);

/* The arena the slab carves from (NULL for a NULL s). Any thread. */
REGIO_API struct regio_arena *regio_slab_arena(const struct regio_slab *s);

/*
 * Fill *out (the caller's memory) with a snapshot of the per-class counters,
 * summed over the threads' caches when read. Any thread.
 *   -EINVAL  s or out NULL.
 */
REGIO_API int regio_slab_stats(const struct regio_slab *s, struct regio_slab_stats *out);

#ifdef __cplusplus
}
#endif

#endif
