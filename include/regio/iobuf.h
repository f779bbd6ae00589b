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
 * Create a slab allocator on arena a. The arena must outlive the slab
 * (regio_arena_destroy is -EBUSY until the slab is destroyed). Pools are
 * reserved now: -ENOMEM when the arena has no room for them.
 */
REGIO_API int regio_slab_create(struct regio_arena *a, const struct regio_slab_opts *opts,
                                struct regio_slab **out);

/* Destroy the slab. -EBUSY (and nothing changes) while any buffer is out. */
REGIO_API int regio_slab_destroy(struct regio_slab *s);

/*
 * Allocate a buffer of at least len bytes from the smallest tier class that
 * fits. The caller owns the buffer until regio_slab_free(). -EINVAL for len 0
 * or larger than the largest class; -ENOBUFS when none is free.
 */
REGIO_API int regio_slab_alloc(struct regio_slab *s, size_t len, struct regio_buf *out);

/*
 * As regio_slab_alloc, waiting up to timeout_ns for a buffer of the class to
 * be freed: 0 tries once, negative waits without limit. -ETIMEDOUT.
 */
REGIO_API int regio_slab_alloc_wait(struct regio_slab *s, size_t len, int64_t timeout_ns,
                                    struct regio_buf *out);

/* Allocate from fixed pool `pool` (0-based), waiting as regio_slab_alloc_wait. */
REGIO_API int regio_slab_alloc_pool(struct regio_slab *s, uint32_t pool, int64_t timeout_ns,
                                    struct regio_buf *out);

/*
 * Return a whole buffer. The buffer must not be touched afterwards.
 * -ESTALE handle of an earlier generation; -EALREADY freed twice;
 * -EBUSY I/O in flight on it; -EINVAL a view, or a forged handle;
 * -EFAULT a pointer outside this slab's arena.
 */
REGIO_API int regio_slab_free(struct regio_slab *s, struct regio_buf b);

/*
 * A view of [off, off + len) of b: same slot and generation. Views can be
 * given to I/O calls but not freed. -EINVAL when the range is empty or
 * leaves b.
 */
REGIO_API int regio_buf_view(struct regio_buf b, size_t off, size_t len, struct regio_buf *out);

/*
 * Check that handle b is a live buffer (or view) of slab s, current
 * generation, owned, and that [b.data, b.data + b.cap_bytes) lies inside the
 * slot's buffer. Returns the region index, or -EFAULT/-ESTALE/-EALREADY/
 * -EINVAL. Touches no buffer memory.
 */
REGIO_API int regio_slab_check(const struct regio_slab *s, struct regio_buf b);

/*
 * Mark b (a buffer or view) as having one more I/O in flight, after the same
 * checks as regio_slab_check, in one compare-and-swap so that a concurrent
 * free cannot slip in between. Returns the region index. Every successful
 * call must be matched by one regio_slab_io_end() when the I/O completes.
 * Used by the engine; exposed for code that submits I/O itself.
 */
REGIO_API int regio_slab_io_begin(struct regio_slab *s, struct regio_buf b);

/* End one in-flight I/O on b. -EINVAL when none is in flight. */
REGIO_API int regio_slab_io_end(struct regio_slab *s, struct regio_buf b);

/* The arena the slab carves from. */
REGIO_API struct regio_arena *regio_slab_arena(const struct regio_slab *s);

/* Snapshot of per-class counters (summed over threads when read). */
REGIO_API int regio_slab_stats(const struct regio_slab *s, struct regio_slab_stats *out);

#ifdef __cplusplus
}
#endif

#endif
