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
    void *base;               /* first byte of region 0 */
    size_t size_bytes;        /* mapped bytes */
    size_t region_bytes;      /* bytes per region */
    uint32_t region_count;    /* number of regions */
    enum regio_pages pages;   /* page kind the kernel really gave (from smaps) */
    size_t kernel_page_bytes; /* KernelPageSize from /proc/self/smaps */
    size_t anon_huge_bytes;   /* AnonHugePages from smaps (THP coverage) */
    size_t chunks_total;      /* 2 MiB chunks in the arena */
    size_t chunks_used;       /* chunks handed to slabs */
    uint32_t registrations;   /* rings that hold the regions registered */
    uint32_t clones;          /* of those, how many share by cloning */
    uint32_t users;           /* slabs and engines built on the arena */
    uint64_t pinned_bytes;    /* bytes pin-accounted by the kernel for us */
    /* Why a better page kind was not obtained ("" when none was refused). */
    char fallback_reason[REGIO_ARENA_REASON_BYTES];
    /* 0, or the negative errno for which the live stats file asked for with
     * stats_name is not published (for example -EEXIST: a file of another
     * owner is at the path). Not an error of the arena. */
    int stats_error;
};

struct regio_arena;

/*
 * Map an arena: reserve size_bytes of anonymous memory of the page kind
 * asked for (falling back to lesser kinds unless pages_strict), prefault it,
 * mark it MADV_DONTFORK, and start the live stats publisher when
 * opts->stats_name is set. opts is only read during the call.
 * On success *out is owned by the caller until regio_arena_destroy()
 * succeeds; on failure nothing is left mapped and no stats file remains.
 * Failing to publish the stats file is not an error: the call succeeds,
 * regio_arena_stats().stats_error says why and regio_error_detail() holds the
 * reason. A file left at /dev/shm/regio.<pid>.<name> by an earlier process of
 * the same pid and user is replaced; a file of another owner is never opened
 * (the arena then publishes nothing, stats_error -EEXIST). Any thread.
 *   -EINVAL  opts or out NULL; size_bytes 0 or above 2^46; region_bytes not a
 *            multiple of 2 MiB or above 1 GiB; more than 65535 regions; an
 *            unknown page kind; a stats_name that is not 1..63 characters of
 *            [A-Za-z0-9_.-].
 *   -ENOMEM  no memory for the mapping or the bookkeeping; with pages_strict,
 *            the page kind asked for was refused (regio_error_detail() says
 *            why).
 *   other    the negative errno of madvise().
 */
REGIO_API int regio_arena_create(const struct regio_arena_opts *opts, struct regio_arena **out);

/*
 * Unmap the arena and remove its live stats file. On success a is freed.
 * A refusal leaves a untouched and usable. Call it from one thread, with no
 * other call on a running.
 *   -EINVAL  a is NULL.
 *   -EBUSY   a slab or engine built on the arena, or a ring registration of
 *            its regions, remains (regio_error_detail() gives the counts).
 */
REGIO_API int regio_arena_destroy(struct regio_arena *a);

/*
 * Index of the region that holds all of [p, p + len), in O(1). Any thread.
 *   -EFAULT  a or p NULL, a range outside the arena, or one straddling two
 *            regions.
 *   -EINVAL  len 0.
 */
REGIO_API int regio_arena_region_of(const struct regio_arena *a, const void *p, size_t len);

/*
 * Fill *out (the caller's memory) with a snapshot of the arena's state.
 * Any thread.
 *   -EINVAL  a or out NULL.
 */
REGIO_API int regio_arena_stats(const struct regio_arena *a, struct regio_arena_stats *out);

/* "auto", "huge-2m", "thp", "normal", or "unknown" for another value; a static
 * string owned by the library. */
REGIO_API const char *regio_pages_name(enum regio_pages pages);

/*
 * Register every region of the arena with the io_uring whose fd is ring_fd,
 * as fixed buffers 0..region_count-1 (buffer index == region index). When
 * another ring already holds a registration and the kernel supports it
 * (IORING_REGISTER_CLONE_BUFFERS, 6.12+), the registration is cloned so the
 * pages are not pin-accounted again; a ring that refuses to be a source
 * (another thread's SINGLE_ISSUER ring) is skipped. Before pinning anew, the
 * bytes to pin are compared with RLIMIT_MEMLOCK (unless the process has
 * CAP_IPC_LOCK). The ring must stay open until regio_arena_unregister_ring();
 * until then regio_arena_destroy() is -EBUSY. Engines call this themselves;
 * it is public for code that runs its own ring. Any thread.
 *   -EINVAL  a is NULL.
 *   -EBADF   ring_fd is negative.
 *   -EEXIST  ring_fd already holds this arena's regions.
 *   -ENOMEM  the pin would exceed RLIMIT_MEMLOCK (both numbers in
 *            regio_error_detail()), the kernel refused to pin, or no memory.
 *   other    the negative errno of IORING_REGISTER_BUFFERS.
 */
REGIO_API int regio_arena_register_ring(struct regio_arena *a, int ring_fd);

/*
 * Drop the registration made by regio_arena_register_ring() on ring_fd.
 * The caller must have drained every operation that uses the buffers.
 * Any thread.
 *   -EINVAL  a is NULL.
 *   -ENOENT  ring_fd holds no registration of this arena.
 *   -ENXIO, -EBADF, -EOPNOTSUPP  ring_fd is no longer a ring (closed: the
 *            kernel dropped the buffers with it). The registration is
 *            forgotten all the same; the error only reports it.
 *   other    the negative errno of IORING_UNREGISTER_BUFFERS; the
 *            registration is kept, so regio_arena_destroy() stays -EBUSY.
 */
REGIO_API int regio_arena_unregister_ring(struct regio_arena *a, int ring_fd);

#ifdef __cplusplus
}
#endif

#endif
