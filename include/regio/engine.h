/*
 * regio/engine.h: one io_uring ring doing O_DIRECT I/O from registered
 * (fixed) buffers, with completion callbacks, in-flight accounting,
 * drain-before-unregister. Fault injection and power-loss recording for
 * tests are in regio/testing.h.
 *
 * Engine thread rules, which every call below that says so follows (the
 * pager's calls too): an owned-mode engine (the default) is used only by the
 * thread that created it, and a call from any other thread fails with -EPERM
 * and does nothing; a shared-mode engine (regio_engine_opts.shared) takes
 * calls from any thread, serialised by its recursive lock. Callbacks run
 * with the engine entered, so a callback may call the engine again.
 */
#ifndef REGIO_ENGINE_H
#define REGIO_ENGINE_H

#include <sys/types.h>

#include "regio/common.h"
#include "regio/arena.h"
#include "regio/iobuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Completion callback. res is, for a write, the bytes asked for (short
 * transfers are resubmitted until all are done); for a read, the bytes asked
 * for, or fewer when the file ends inside the range (0 at or past its end);
 * 0 for an fsync; or a negative errno: the kernel's (-EIO, -ENOSPC, ...),
 * -EIO for a write that transferred nothing, -ETIMEDOUT for a request the
 * stall probe cancelled and resubmitted retry_limit times, or an injected
 * fault. Runs exactly once per accepted request, on the thread that reaps
 * completions (regio_engine_wait, regio_engine_drain, a _wait helper), with
 * the engine entered: it may queue new requests on the engine but must not
 * block or destroy it. A request queued with a NULL cb runs all the same,
 * and its result is seen only in the engine's counters (completed, errors):
 * the caller cannot learn that it failed, so pass NULL only where a later
 * check covers the outcome (a read whose bytes are verified anyway), never
 * for a write whose durability matters.
 */
typedef void (*regio_cb)(void *ctx, int res);

struct regio_engine_opts {
    uint32_t queue_depth;   /* submission queue entries; 0 = 256 */
    uint32_t max_in_flight; /* requests accepted at once; 0 = 4 * queue_depth */
    uint32_t max_files;     /* registered-file table slots; 0 = 64 */
    uint32_t retry_limit;   /* resubmissions after -EAGAIN/-EINTR; 0 = 16 */
    bool shared;            /* shared mode: calls serialised by a lock, any thread */
    bool no_clone;          /* never clone another ring's buffer registration */
    bool no_setup_flags;    /* plain ring (no SINGLE_ISSUER/DEFER/COOP); for comparison */
    /* Stall probe: after this long with requests in flight and no
     * completion at all, the engine asks the kernel to cancel each of them
     * that has not started, and resubmits those it cancelled (up to
     * retry_limit times each, then -ETIMEDOUT). A request that is running
     * or in the device is not affected. 0 = 2000 ms. See docs/decisions.md
     * ("The stall probe"). */
    uint32_t stall_probe_ms;
};

struct regio_engine_stats {
    uint32_t setup_flags; /* IORING_SETUP_* flags the ring was created with */
    bool cloned;          /* buffer registration cloned from another ring */
    bool shared;
    uint32_t in_flight;       /* requests accepted and not yet called back */
    uint64_t submitted;       /* SQEs handed to the kernel (retries included) */
    uint64_t completed;       /* callbacks run */
    uint64_t errors;          /* callbacks run with a negative result */
    uint64_t retries;         /* -EAGAIN/-EINTR resubmissions */
    uint64_t short_resubmits; /* short transfers completed by resubmission */
    uint64_t enters;          /* io_uring_enter calls */
    uint64_t stall_probes;    /* times the stall probe fired */
    uint64_t stall_resubmits; /* requests it cancelled before they started, resubmitted */
};

struct regio_engine;
struct regio_file;

/*
 * Create an engine: an io_uring on the calling thread (which owns the engine
 * unless opts->shared), the arena's regions registered as fixed buffers
 * (cloned from another ring where possible), an empty sparse file table.
 * The engine validates and marks in flight buffers of slab s only. opts
 * (NULL: defaults) is only read during the call. On success *out is the
 * caller's until regio_engine_destroy() succeeds; the engine holds a user
 * reference and a ring registration on a, so a and s must outlive it.
 *   -EINVAL  a, s or out NULL; s not built on a; queue_depth above 32768,
 *            max_in_flight above 32767 or max_files above 2^20.
 *   -ENOMEM  no memory, or the buffer registration would exceed
 *            RLIMIT_MEMLOCK (regio_error_detail() gives both numbers).
 *   other    the negative errno of io_uring_setup, of registering the file
 *            table or of registering the buffers (regio_arena_register_ring).
 */
REGIO_API int regio_engine_create(struct regio_arena *a, struct regio_slab *s,
                                  const struct regio_engine_opts *opts, struct regio_engine **out);

/*
 * Destroy the engine: refuse new requests, drain every request in flight
 * (running its callback; a callback that queues more gets -EBADF), close
 * every file still open, unregister files and buffers, exit the ring, free
 * an unfinished power-loss recording. On success e and every regio_file of
 * it are freed. A refusal or a failed drain leaves e untouched and usable.
 * From the owning thread (owned mode) or any thread (shared mode), never
 * from one of its callbacks.
 *   -EINVAL  e is NULL.
 *   -EPERM   owned engine, called from another thread.
 *   -EBUSY   a pager is open on e, the call comes from inside a callback of
 *            e, or a destroy of e is already under way.
 *   other    the negative errno of io_uring_enter while draining.
 */
REGIO_API int regio_engine_destroy(struct regio_engine *e);

/*
 * Open path with O_DIRECT and O_CLOEXEC added to flags and register it in
 * the engine's file table. On success *out belongs to e: close it with
 * regio_file_close() or let regio_engine_destroy() do it. Engine thread
 * rules apply (owned: the owning thread only).
 *   -EINVAL  e, path or out NULL; the filesystem refuses O_DIRECT
 *            (regio_error_detail() says so).
 *   -EPERM   owned engine, called from another thread.
 *   -EBADF   the engine is being destroyed.
 *   -EMFILE  every slot of the file table (max_files) is in use.
 *   -ENOMEM  no memory.
 *   other    the negative errno of open() (-ENOENT, -EACCES, ...) or of
 *            registering the fd.
 */
REGIO_API int regio_file_open(struct regio_engine *e, const char *path, int flags, mode_t mode,
                              struct regio_file **out);

/*
 * As regio_file_open, with name resolved relative to the directory open as
 * dir_fd (openat(2); AT_FDCWD for the working directory). For code that
 * holds its directory open so that a chdir, or the directory renamed or
 * re-created, never sends its files elsewhere. dir_fd stays the caller's.
 * Errors as regio_file_open, and -EBADF/-ENOTDIR for a bad dir_fd.
 */
REGIO_API int regio_file_openat(struct regio_engine *e, int dir_fd, const char *name, int flags,
                                mode_t mode, struct regio_file **out);

/*
 * Unregister and close f's file descriptor. The regio_file itself stays
 * allocated until its engine is destroyed, so that a later call through it
 * gets -EBADF instead of touching freed memory. A refusal changes nothing.
 * Engine thread rules apply.
 *   -EBADF  f is NULL or already closed.
 *   -EPERM  owned engine, called from another thread.
 *   -EBUSY  requests on f are in flight (wait for their callbacks).
 */
REGIO_API int regio_file_close(struct regio_file *f);

/*
 * The O_DIRECT alignment of f: of memory addresses in *mem_align_out, and of
 * file offsets and lengths in *offset_align_out (either may be NULL). From
 * statx(STATX_DIOALIGN) where the filesystem reports it, else the device's
 * logical block size, else 4096. Any thread while f is open.
 *   -EBADF  f is NULL or closed.
 */
REGIO_API int regio_file_dio_align(const struct regio_file *f, uint32_t *mem_align_out,
                                   uint32_t *offset_align_out);

/*
 * The underlying fd, owned by f (for fallocate, ftruncate, fstat; do not
 * close it, and do not write through it while requests are in flight).
 * Any thread while f is open.
 *   -EBADF  f is NULL or closed.
 */
REGIO_API int regio_file_fd(const struct regio_file *f);

/*
 * Queue a READ_FIXED of len bytes at file_off into b.data (b may be a view;
 * len <= b.cap_bytes). Every argument is checked before anything is queued;
 * a rejected call returns the error and never calls cb. An accepted call
 * returns 0 and calls cb exactly once (see regio_cb for its result). b is in
 * flight (regio_slab_free is -EBUSY; do not touch its bytes) until cb runs.
 * The request reaches the kernel at the next regio_engine_submit or wait.
 * Engine thread rules apply.
 *   -EBADF    f NULL or closed, or its engine is being destroyed.
 *   -EPERM    owned engine, called from another thread.
 *   -EINVAL   len 0 or above b.cap_bytes; address, offset or length not
 *             aligned as regio_file_dio_align says; offset + len beyond
 *             2^63; a handle naming no slot of the engine's slab.
 *   -EFAULT   [b.data, b.data + len) is not inside one region of the
 *             engine's arena, or not where the handle says.
 *   -ESTALE, -EALREADY  b was freed (see regio_slab_check).
 *   -EXDEV    b is a buffer of another slab than the engine's.
 *   -EAGAIN   max_in_flight requests are in flight: reap some, then retry.
 */
REGIO_API int regio_file_read(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                              uint32_t len, regio_cb cb, void *ctx);

/* As regio_file_read, a WRITE_FIXED of len bytes from b.data; the same
 * errors. Not durable when cb runs: see regio_file_write_durable. */
REGIO_API int regio_file_write(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                               uint32_t len, regio_cb cb, void *ctx);

/* Flags for regio_file_write_flags. */
#define REGIO_WRITE_DSYNC 0x1u /* RWF_DSYNC: durable when it completes */
/* RWF_ATOMIC (kernel 6.11+): all or nothing after a power cut. Only for a
 * file whose statx reports an atomic write unit that covers len, with len a
 * power of two and file_off aligned to it; the kernel refuses it otherwise
 * (-EINVAL or -EOPNOTSUPP from the completion). */
#define REGIO_WRITE_ATOMIC 0x2u

/* As regio_file_write with flags (REGIO_WRITE_DSYNC: cb runs only once the
 * data is durable; REGIO_WRITE_ATOMIC); the same errors, and -EINVAL for an
 * unknown flag. */
REGIO_API int regio_file_write_flags(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                                     uint32_t len, unsigned flags, regio_cb cb, void *ctx);

/*
 * A write followed by an fdatasync linked to it (IOSQE_IO_LINK): cb runs
 * once, with len after both completed, so the bytes are durable when it
 * runs. A short write is completed and the sync re-issued; a sync that
 * fails is retried like a write; nothing above the engine treats the write
 * alone as durable. The same errors as regio_file_write.
 */
REGIO_API int regio_file_write_durable(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                                       uint32_t len, regio_cb cb, void *ctx);

/*
 * Queue an fsync (fdatasync when datasync) of f. It covers the writes that
 * completed before it was submitted; cb gets 0 or a negative errno.
 * Engine thread rules apply.
 *   -EBADF   f NULL or closed, or its engine is being destroyed.
 *   -EPERM   owned engine, called from another thread.
 *   -EAGAIN  max_in_flight requests are in flight.
 */
REGIO_API int regio_file_fsync(struct regio_file *f, bool datasync, regio_cb cb, void *ctx);

/*
 * Hand every queued request to the kernel in one io_uring_enter. Returns the
 * number submitted (0 when nothing was queued). Runs no callback. Engine
 * thread rules apply.
 *   -EINVAL  e is NULL.
 *   -EPERM   owned engine, called from another thread.
 *   other    the negative errno of io_uring_enter.
 */
REGIO_API int regio_engine_submit(struct regio_engine *e);

/*
 * Submit what is queued, then reap completions and run their callbacks until
 * min_complete have run or timeout_ns passes (negative: no limit; 0: only
 * what is ready now). Returns the number of callbacks run (0 only when
 * min_complete is 0). An empty engine is waited on like a slow one, as
 * liburing's io_uring_wait_cqe_timeout does: with nothing in flight the
 * call sleeps out the timeout and returns -ETIMEDOUT, so an event loop of
 * `regio_engine_wait(e, 1, 10 ms)` sleeps while idle instead of spinning. A
 * shared engine wakes for a request another thread submits meanwhile and
 * returns once its callback ran here; one whose callback another thread's
 * wait ran does not count. On an owned engine, when every request in flight
 * completes before min_complete callbacks ran, the call returns those it
 * ran (no more can come). An owned engine's sleep asks the kernel for all
 * the completions still wanted (at most one per request in flight) and
 * wakes once for them, so a caller that reaps a batch at a time enters the
 * kernel once per batch; such a sleep lasts at most the stall probe's
 * period before it looks again. Engine thread rules apply.
 *   -EINVAL     e is NULL.
 *   -EPERM      owned engine, called from another thread.
 *   -ETIMEDOUT  min_complete > 0 and no callback ran before the timeout
 *               (with timeout_ns 0: none was ready), whether or not
 *               anything was in flight.
 *   -EDEADLK    owned engine, min_complete > 0, no limit (timeout_ns < 0)
 *               and nothing in flight: only this thread could submit, so
 *               the wait would never end. Nothing is done.
 *   other       the negative errno of io_uring_enter, when no callback ran.
 */
REGIO_API int regio_engine_wait(struct regio_engine *e, unsigned min_complete, int64_t timeout_ns);

/*
 * Reap and run callbacks until nothing is in flight, or timeout_ns passes
 * (negative: no limit; 0: only what is ready now). Engine thread rules
 * apply.
 *   -EINVAL     e is NULL.
 *   -EPERM      owned engine, called from another thread.
 *   -ETIMEDOUT  requests were still in flight at the timeout.
 *   other       the negative errno of io_uring_enter.
 */
REGIO_API int regio_engine_drain(struct regio_engine *e, int64_t timeout_ns);

/* Requests accepted and not yet called back (0 for a NULL e). Any thread. */
REGIO_API uint32_t regio_engine_in_flight(const struct regio_engine *e);

/*
 * Fill *out (the caller's memory) with the engine's counters. Any thread:
 * the counters are read without the engine lock and may be a moment apart.
 *   -EINVAL  e or out NULL.
 */
REGIO_API int regio_engine_stats(const struct regio_engine *e, struct regio_engine_stats *out);

#ifdef __cplusplus
}
#endif

#endif
