/*
 * regio/stats.h: the live stats file an arena publishes.
 *
 * When regio_arena_opts.stats_name is set, the arena creates
 * /dev/shm/regio.<pid>.<name> (mode 0600, owner only, never opening an
 * existing file: one of the same user is stale and removed first, one of
 * another owner leaves the arena unpublished, see regio_arena_create) and a publisher thread
 * rewrites it about every 100 ms with the counters of the arena and of the slabs, engines and WALs
 * built on it. The I/O paths never touch the file: the publisher asks each object for its stats
 * (which sum per-thread counters) and copies them in. The file is removed when the arena is
 * destroyed; a file whose process is gone (pid not alive, or alive with another start time) is
 * stale.
 *
 * The layout below is the contract between the process and its readers
 * (regio-dump, monitoring agents): fixed-width fields in the host's byte
 * order, sizes pinned by _Static_assert, a version that changes whenever the
 * layout does. A reader takes a consistent snapshot with the sequence
 * counter (a seqlock): the writer makes `seq` odd, updates, makes it even
 * again; a copy taken while `seq` was even and unchanged is consistent.
 * regio_stats_read() does exactly that.
 */
#ifndef REGIO_STATS_H
#define REGIO_STATS_H

#include "regio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REGIO_STATS_MAGIC        0x3153544154534752ull /* "RGSTATS1", little-endian */
#define REGIO_STATS_VERSION      2u
#define REGIO_STATS_DIR          "/dev/shm"
#define REGIO_STATS_PREFIX       "regio."
#define REGIO_STATS_NAME_BYTES   64  /* stats_name: 1..63 of [A-Za-z0-9_.-] */
#define REGIO_STATS_REASON_BYTES 160 /* = REGIO_ARENA_REASON_BYTES */
#define REGIO_STATS_CLASSES      64  /* = REGIO_SLAB_MAX_CLASSES */
#define REGIO_STATS_MAX_SLABS    4
#define REGIO_STATS_MAX_ENGINES  8
#define REGIO_STATS_MAX_WALS     4
#define REGIO_STATS_INTERVAL_MS  100

/* Values of regio_stats_header.state. */
#define REGIO_STATS_STATE_RUNNING 1u
#define REGIO_STATS_STATE_CLOSING 2u

struct regio_stats_header {
    uint64_t magic;                    /* REGIO_STATS_MAGIC */
    uint32_t version;                  /* REGIO_STATS_VERSION */
    uint32_t file_bytes;               /* sizeof(struct regio_stats_file) */
    uint64_t seq;                      /* seqlock: odd while the publisher writes */
    int32_t pid;                       /* publishing process */
    uint32_t state;                    /* REGIO_STATS_STATE_* */
    uint64_t start_time_ticks;         /* field 22 of /proc/<pid>/stat: tells a reused pid apart */
    uint64_t created_realtime_ns;      /* CLOCK_REALTIME when the file was made */
    uint64_t updated_realtime_ns;      /* CLOCK_REALTIME of the last refresh */
    uint64_t updates;                  /* refreshes so far */
    uint32_t interval_ms;              /* refresh period */
    uint32_t dropped_sections;         /* objects not shown: their kind's table was full */
    char name[REGIO_STATS_NAME_BYTES]; /* stats_name, NUL-terminated */
};
_Static_assert(sizeof(struct regio_stats_header) == 136, "stats header layout");

struct regio_stats_arena {
    uint64_t size_bytes;   /* mapped bytes */
    uint64_t region_bytes; /* bytes per region */
    uint32_t region_count;
    uint32_t pages;             /* enum regio_pages the kernel really gave */
    uint64_t kernel_page_bytes; /* KernelPageSize from smaps */
    uint64_t anon_huge_bytes;   /* AnonHugePages from smaps */
    uint64_t chunks_total;      /* 2 MiB chunks */
    uint64_t chunks_used;       /* chunks handed to slabs */
    uint32_t registrations;     /* rings holding the regions registered */
    uint32_t clones;            /* of those, shared by cloning */
    uint32_t users;             /* slabs and engines built on the arena */
    uint32_t reserved0;
    uint64_t pinned_bytes;                          /* bytes pin-accounted by the kernel */
    char fallback_reason[REGIO_STATS_REASON_BYTES]; /* "" when nothing was refused */
};
_Static_assert(sizeof(struct regio_stats_arena) == 240, "stats arena layout");

struct regio_stats_class {
    uint32_t buf_bytes; /* bytes per buffer */
    uint32_t pool;      /* 1 for a fixed-count pool, 0 for a tier class */
    uint64_t capacity;  /* buffers carved (pools: reserved) */
    uint64_t in_use;
    uint64_t in_flight;
    uint64_t high_water;
    uint64_t allocs;
    uint64_t exhaustions; /* allocations that found no buffer */
    uint64_t waits;       /* allocations that had to wait */
};
_Static_assert(sizeof(struct regio_stats_class) == 64, "stats class layout");

/* Sections of objects: `used` is 1 while the object exists. */
struct regio_stats_slab {
    uint32_t used;
    uint32_t class_count; /* tiers + pools, at most REGIO_STATS_CLASSES */
    uint32_t tier_count;
    uint32_t reserved0;
    uint64_t chunks; /* 2 MiB chunks held */
    char name[REGIO_STATS_NAME_BYTES];
    struct regio_stats_class classes[REGIO_STATS_CLASSES];
};
_Static_assert(sizeof(struct regio_stats_slab) == 24 + 64 + 64 * 64, "stats slab layout");

#define REGIO_STATS_ENGINE_CLONED 0x1u
#define REGIO_STATS_ENGINE_SHARED 0x2u

struct regio_stats_engine {
    uint32_t used;
    uint32_t flags;       /* REGIO_STATS_ENGINE_* */
    uint32_t setup_flags; /* IORING_SETUP_* the ring was created with */
    uint32_t in_flight;   /* requests accepted and not called back */
    uint64_t submitted;   /* SQEs handed to the kernel */
    uint64_t completed;   /* callbacks run */
    uint64_t errors;      /* callbacks run with a negative result */
    uint64_t retries;     /* -EAGAIN/-EINTR resubmissions */
    uint64_t short_resubmits;
    uint64_t enters;          /* io_uring_enter calls */
    uint64_t stall_probes;    /* version 2: times the stall probe fired */
    uint64_t stall_resubmits; /* version 2: requests it cancelled unstarted and resubmitted */
    char name[REGIO_STATS_NAME_BYTES];
};
_Static_assert(sizeof(struct regio_stats_engine) == 16 + 64 + 64, "stats engine layout");

struct regio_stats_wal {
    uint32_t used;
    uint32_t block_bytes; /* padding unit */
    int32_t failed;       /* 0, or the negative errno that failed the log */
    uint32_t reserved0;
    uint64_t appended_lsn; /* end of the last reserved record */
    uint64_t durable_lsn;
    uint64_t records;        /* records appended */
    uint64_t syncs;          /* flushes made durable */
    uint64_t records_synced; /* records made durable: records per sync = this / syncs */
    uint64_t bytes_written;
    uint64_t bytes_padded; /* padding written to end flushes on a block */
    uint64_t segments_used;
    uint64_t segments_zero_filled;     /* version 2: prepared as new zero-filled files */
    char name[REGIO_STATS_NAME_BYTES]; /* the log directory, possibly shortened */
};
_Static_assert(sizeof(struct regio_stats_wal) == 16 + 72 + 64, "stats WAL layout");

/* The whole file. */
struct regio_stats_file {
    struct regio_stats_header header;
    struct regio_stats_arena arena;
    struct regio_stats_slab slabs[REGIO_STATS_MAX_SLABS];
    struct regio_stats_engine engines[REGIO_STATS_MAX_ENGINES];
    struct regio_stats_wal wals[REGIO_STATS_MAX_WALS];
};
_Static_assert(sizeof(struct regio_stats_file) == 136 + 240 + 4 * 4184 + 8 * 144 + 4 * 152,
               "stats file layout");

/*
 * Take a consistent snapshot of the stats file at path into *out (the
 * caller's memory), with pread (a file truncated under the reader gives an
 * error, never SIGBUS). Safe on hostile files (/dev/shm is world-writable):
 * the path is opened with O_NONBLOCK and O_NOFOLLOW, so neither a FIFO nor a
 * symlink can block or redirect it. Names in the copy are NUL-terminated.
 * Any thread; needs no arena. Every failure sets regio_error_detail().
 *   -EINVAL   path or out NULL.
 *   -ENOENT   no such file.
 *   -EACCES   not readable by us.
 *   -ELOOP    path is a symbolic link (never followed).
 *   -EBADMSG  not a regio stats file of this version (not a regular file,
 *             too short, wrong magic, version or size).
 *   -EPERM    writable by group or others, or owned by a user that is neither
 *             the reader's nor the one the process it names runs as (a forged
 *             entry).
 *   -EAGAIN   no consistent copy: the sequence counter stayed odd for 2 ms
 *             (the publisher is stuck mid-update, or has not initialised the
 *             file), 20 ms at most in all.
 *   other     the negative errno of open or fstat.
 */
REGIO_API int regio_stats_read(const char *path, struct regio_stats_file *out);

/*
 * 1 when the process that published *st still runs (same pid and, where
 * /proc tells, the same start time), 0 when the file is stale or st is NULL.
 * Never fails.
 */
REGIO_API int regio_stats_alive(const struct regio_stats_file *st);

#ifdef __cplusplus
}
#endif

#endif
