/*
 * regio/arena.h: the huge-page arena.
 *
 * One virtual reservation, split into regions of region_bytes each, region i
 * starting at base + i * region_bytes. Every I/O buffer in regio lives in an
 * arena; the engine registers the regions with io_uring as fixed buffers.
 */
#ifndef REGIO_ARENA_H
#define REGIO_ARENA_H

#include "regio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Page kinds, best first. AUTO tries HUGE_2M, then THP, then NORMAL. */
enum regio_pages {
    REGIO_PAGES_AUTO = 0,
    REGIO_PAGES_HUGE_2M = 1, /* hugetlb 2 MiB pages (MAP_HUGETLB) */
    REGIO_PAGES_THP = 2,     /* transparent huge pages (MADV_HUGEPAGE) */
    REGIO_PAGES_NORMAL = 3,  /* base pages */
};

struct regio_arena_opts {
    /* Bytes to map; rounded up to 2 MiB. 0 is -EINVAL. */
    size_t size_bytes;
    /* Bytes per region: a multiple of 2 MiB, at most 1 GiB. 0 = min(size, 1 GiB). */
    size_t region_bytes;
    /* Page kind wanted; AUTO (0) tries them best first. */
    enum regio_pages pages;
    /* Fail with -ENOMEM instead of falling back to a lesser page kind. */
    bool pages_strict;
    /* When set, publish live stats in a shared-memory file that regio-dump
     * reads (see regio/stats.h). The string is copied. */
    const char *stats_name;
};

#define REGIO_ARENA_REASON_BYTES 160

struct regio_arena_stats {
    void *base;                  /* first byte of region 0 */
    size_t size_bytes;           /* mapped bytes */
    size_t region_bytes;         /* bytes per region */
    uint32_t region_count;       /* number of regions */
    enum regio_pages pages;      /* page kind the kernel really gave (from smaps) */
    size_t kernel_page_bytes;    /* KernelPageSize from /proc/self/smaps */
    size_t anon_huge_bytes;      /* AnonHugePages from smaps (THP coverage) */
    size_t chunks_total;         /* 2 MiB chunks in the arena */
    size_t chunks_used;          /* chunks handed to slabs */
    uint32_t registrations;      /* rings that hold the regions registered */
    uint32_t clones;             /* of those, how many share by cloning */
    uint32_t users;              /* slabs and engines built on the arena */
    uint64_t pinned_bytes;       /* bytes pin-accounted by the kernel for us */
    /* Why a better page kind was not obtained ("" when none was refused). */
    char fallback_reason[REGIO_ARENA_REASON_BYTES];
};

struct regio_arena;

/*
 * Map an arena. On success *out is owned by the caller until
 * regio_arena_destroy() succeeds. On failure nothing is left mapped.
 * -EINVAL bad sizes; -ENOMEM no memory (or, with pages_strict, the page kind
 * asked for is not available: regio_error_detail() says why).
 */
REGIO_API int regio_arena_create(const struct regio_arena_opts *opts, struct regio_arena **out);

/*
 * Unmap the arena. -EBUSY (and nothing changes) while any slab or engine built
 * on it, or any ring registration of its regions, remains.
 */
REGIO_API int regio_arena_destroy(struct regio_arena *a);

/*
 * Index of the region that holds all of [p, p + len), in O(1).
 * -EFAULT for NULL, a range outside the arena, or one straddling two regions;
 * -EINVAL for len 0.
 */
REGIO_API int regio_arena_region_of(const struct regio_arena *a, const void *p, size_t len);

/* Fill *out with a snapshot of the arena's state. -EINVAL for NULL. */
REGIO_API int regio_arena_stats(const struct regio_arena *a, struct regio_arena_stats *out);

/* "auto", "huge-2m", "thp", "normal"; owned by the library. */
REGIO_API const char *regio_pages_name(enum regio_pages pages);

/*
 * Register every region of the arena with the io_uring whose fd is ring_fd,
 * as fixed buffers 0..region_count-1 (buffer index == region index). When
 * another ring already holds a registration and the kernel supports it
 * (IORING_REGISTER_CLONE_BUFFERS, 6.12+), the registration is cloned so the
 * pages are not pin-accounted again. Before pinning anew, the bytes to pin
 * are compared with RLIMIT_MEMLOCK (unless the process has CAP_IPC_LOCK) and
 * -ENOMEM is returned with both numbers in regio_error_detail().
 * The ring must stay open until regio_arena_unregister_ring().
 */
REGIO_API int regio_arena_register_ring(struct regio_arena *a, int ring_fd);

/*
 * Drop the registration made by regio_arena_register_ring() on ring_fd.
 * The caller must have drained every operation that uses the buffers.
 * -ENOENT when ring_fd holds no registration of this arena.
 */
REGIO_API int regio_arena_unregister_ring(struct regio_arena *a, int ring_fd);

#ifdef __cplusplus
}
#endif

#endif
