/*
 * engine/engine_internal.h: what the engine's own files share (engine.c,
 * record.c, pager.c). Not installed.
 */
#ifndef REGIO_ENGINE_INTERNAL_H
#define REGIO_ENGINE_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

#include "regio/engine.h"
#include "regio/stats.h"
#include "regio/testing.h"
#include "arena_internal.h"
#include "lock.h"

/* Request kinds as the engine tracks them (one request can own two SQEs). */
enum regio__req_kind {
    REGIO__REQ_READ = 0,
    REGIO__REQ_WRITE = 1,
    REGIO__REQ_FSYNC = 2,
    REGIO__REQ_WRITE_SYNC = 3, /* write linked to an fdatasync */
};

struct regio_file {
    struct regio_engine *e;
    int fd;
    uint32_t slot; /* index in the registered-file table */
    uint32_t mem_align;
    uint32_t off_align;
    uint32_t in_flight; /* requests on this file not yet called back */
    bool open;
    /* The callbacks of reads of this file read the whole buffer (the
     * pager's hash): the engine prefetches the next completed read's data
     * for them. Set by the pager on its files only; a plain regio_file_read
     * caller may never look at the bytes (docs/decisions.md). */
    bool prefetch_reads;
    dev_t dev; /* identity for the power-loss recording */
    ino_t ino;
    char *path;
    struct regio_file *next; /* every file the engine ever opened */
};

/* Fault state of one operation kind. */
struct regio__fault_state {
    bool armed;
    struct regio_fault f;
    uint64_t seen; /* operations of the kind submitted since arming */
};

/* What a fault decided for one SQE. */
struct regio__fault_hit {
    int err;            /* complete with this instead of running the op */
    uint32_t short_len; /* submit only this many bytes (0: no change) */
    bool stall;         /* submit a timer that only a cancel ends instead */
};

/* What the testing API (regio/testing.h) keeps in an engine. */
struct regio__test_hook {
    struct regio__fault_state faults[3]; /* by enum regio_op_kind */
    struct regio_recording *rec;         /* non-NULL while recording */
    uint64_t rec_gen;                    /* bumped at each record_start */
};

struct regio__req;

struct regio_engine {
    struct io_uring ring;
    struct regio_arena *arena;
    struct regio_slab *slab;
    uint32_t setup_flags;
    bool cloned;
    bool shared;
    bool closing;
    pthread_t owner;
    /* Shared mode: recursive, held by every call. Owned mode: never locked;
     * its holder is the creating thread for good, so that
     * regio__engine_entered() means "inside a call" in both modes. */
    struct regio__lock lock;
    uint32_t queue_depth;
    uint32_t max_in_flight;
    uint32_t retry_limit;
    uint32_t max_files;
    _Atomic uint32_t in_flight;
    uint32_t waiters;  /* shared mode: threads blocked in the kernel */
    bool wake_pending; /* shared mode: a wake-up NOP is in the ring */
    uint32_t users;    /* objects built on it (pagers): destroy is -EBUSY while any remain */
    uint32_t cb_depth; /* callbacks running now: destroy from one is -EBUSY */
    /* Stall watchdog: a timer in the ring while anyone sleeps with requests
     * in flight; the kernel reads watchdog_ts when the timer is submitted. */
    struct __kernel_timespec watchdog_ts;
    bool watchdog_armed;
    uint64_t prefetched;      /* completed reads whose data was prefetched (tests) */
    uint64_t progress;        /* request CQEs handled */
    uint64_t progress_at_arm; /* progress when the timer was armed */
    uint32_t probe_cqes;      /* the stall probe's cancels not yet completed */

    struct regio__req *reqs;
    uint32_t free_head; /* free list of reqs by index, UINT32_MAX = empty */

    uint8_t *slot_used; /* file table slots in use */
    struct regio_file *files;

    /* The testing hook: &test while a fault is armed or a recording runs,
     * NULL otherwise. The I/O path tests only this pointer, once per SQE
     * (regio__test_hook_update keeps it in step with test). */
    struct regio__test_hook *hook;
    struct regio__test_hook test;
    _Atomic uint64_t seq; /* event sequence numbers for the recording */

    /* Counters: written by the one thread inside the engine at a time,
     * read by any (the live stats publisher), hence relaxed atomics. */
    struct {
        _Atomic uint64_t submitted;
        _Atomic uint64_t completed;
        _Atomic uint64_t errors;
        _Atomic uint64_t retries;
        _Atomic uint64_t short_resubmits;
        _Atomic uint64_t enters;
        _Atomic uint64_t stall_probes;
        _Atomic uint64_t stall_resubmits;
    } ctr;
    int stats_handle; /* live stats provider, negative when none */
};

/* Enter/leave an engine call: owner check (owned mode, -EPERM) or the lock
 * (shared mode). The pager uses them to guard its own state too. */
int regio__engine_enter(const struct regio_engine *e);
void regio__engine_leave(const struct regio_engine *e);

/* regio_engine_wait for callers that wait only for requests they know are
 * in flight (the pager, the WAL): nothing in flight returns 0 at once, never
 * sleeps out the timeout or refuses; sets no detail. */
int regio__engine_wait(struct regio_engine *e, unsigned min_complete, int64_t timeout_ns);

/* Whether the calling thread is inside a call of e (entered it): what every
 * function that touches the ring, the request table or the files relies on. */
static inline bool regio__engine_entered(const struct regio_engine *e)
{
    return regio__lock_held(&e->lock);
}

/* Point e->hook at e->test when anything in it is armed or recording, else
 * NULL. Called with the engine entered after every change to e->test. */
void regio__test_hook_update(struct regio_engine *e);

/* Recording hooks, called by engine.c with the engine entered. A write
 * record returns an id (or -1 when not recording) to pass at completion. */
int64_t regio__rec_write(struct regio_engine *e, struct regio_file *f, const void *data,
                         uint64_t off, uint32_t len, bool dsync, bool atomic);

/* RWF_ATOMIC (linux/fs.h of kernel 6.11; older headers lack it). */
#define REGIO__RWF_ATOMIC 0x00000040
/*
 * Test hook: nonzero pretends that every file reports this atomic write unit
 * (statx STATX_WRITE_ATOMIC, as the pager asks), and REGIO_WRITE_ATOMIC
 * writes are then recorded as atomic but submitted without RWF_ATOMIC, which
 * a device without the feature refuses. Set before opening pagers.
 */
extern uint32_t regio__test_atomic_unit_bytes;
int64_t regio__rec_sync(struct regio_engine *e, struct regio_file *f, bool linked);
void regio__rec_complete(struct regio_engine *e, int64_t id, int res);
/* A linked sync starts when its write completes: record that moment. */
void regio__rec_linked_start(struct regio_engine *e, int64_t sync_id, int64_t write_id);
/* A change of f's length to len_bytes (grow_only: fallocate, which never
 * shrinks; else ftruncate), recorded before the system call so that a file
 * first seen here is captured as it was; pass the call's result to
 * regio__rec_complete. Called by the pager with the engine entered. */
int64_t regio__rec_resize(struct regio_engine *e, struct regio_file *f, uint64_t len_bytes,
                          bool grow_only);

/* Users: objects built on the engine (pagers) take one while they exist, so
 * regio_engine_destroy is -EBUSY until they are gone; a count, as the arena
 * keeps, so that the engine knows nothing of what is built on it. Called with
 * the engine entered. */
void regio__engine_user_get(struct regio_engine *e);
void regio__engine_user_put(struct regio_engine *e);

/* The engine's section of the live stats file (regio/stats.h) from its
 * stats call: each module converts its own stats, so the publisher
 * (arena/stats.c) knows only the file's format. */
void regio__engine_stats_section(struct regio_stats_engine *s, const struct regio_engine_stats *st);

/*
 * The pager's write gate: what a bound WAL (wal/wal_pager.c) installs so
 * that the pager, below the WAL, never calls up into it. admit returns 1
 * when lsn is durable (write now), 0 when it called notify (ready(op, res))
 * to run once lsn is durable or the log failed, or a negative errno. sync
 * blocks until lsn is durable.
 */
struct regio_pager;
struct regio__pager_gate {
    int (*admit)(void *ctx, uint64_t lsn, regio_cb ready, void *op);
    int (*sync)(void *ctx, uint64_t lsn);
    /* Called once when the pager drops the gate (replaced, removed, or the
     * pager closed), so the owner of ctx knows nothing refers to it any more. */
    void (*release)(void *ctx);
    void *ctx;
};

/* Install (g != NULL) or remove the gate: -EBUSY while a write of p is in
 * flight or parked, -EPERM from a thread that does not own an owned engine.
 * On success the gate it replaces, if any, is released. */
int regio__pager_set_gate(struct regio_pager *p, const struct regio__pager_gate *g);
/* Writes parked at the gate now (engine entered or quiescent). */
uint32_t regio__pager_parked(const struct regio_pager *p);

#endif
