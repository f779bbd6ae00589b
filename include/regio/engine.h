/*
 * regio/engine.h: one io_uring ring doing O_DIRECT I/O from registered
 * (fixed) buffers, with completion callbacks, in-flight accounting,
 * drain-before-unregister, and fault injection for tests.
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

/* Completion callback: res is the bytes transferred (all of them), 0 for a
 * sync, or a negative errno. Runs on the thread that reaps completions. */
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
     * ("requests the kernel queued and never ran"). */
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
 * Create an engine: a ring on the calling thread (which owns it unless
 * opts->shared), the arena's regions registered as fixed buffers (cloned
 * where possible), an empty sparse file table. The engine validates and marks
 * in flight buffers of slab s only; a, s must outlive the engine.
 */
REGIO_API int regio_engine_create(struct regio_arena *a, struct regio_slab *s,
                                  const struct regio_engine_opts *opts, struct regio_engine **out);

/* Drain every request (running its callback), close every open file,
 * unregister files and buffers, exit the ring, free e. */
REGIO_API int regio_engine_destroy(struct regio_engine *e);

/*
 * Open path with O_DIRECT added (O_CLOEXEC too) and register it. The file
 * belongs to e; close it with regio_file_close or let engine destroy do it.
 * -EINVAL when the filesystem refuses O_DIRECT (regio_error_detail says so).
 */
REGIO_API int regio_file_open(struct regio_engine *e, const char *path, int flags, mode_t mode,
                              struct regio_file **out);

/* -EBUSY with requests in flight on f; -EBADF when already closed. */
REGIO_API int regio_file_close(struct regio_file *f);

/* Alignment of memory address, and of file offset and length, for f. */
REGIO_API int regio_file_dio_align(const struct regio_file *f, uint32_t *mem_align_out,
                                   uint32_t *offset_align_out);

/* The underlying fd (for fallocate/ftruncate/fstat; do not close it). */
REGIO_API int regio_file_fd(const struct regio_file *f);

/*
 * Queue a READ_FIXED of len bytes at file_off into b.data (b may be a view;
 * len <= b.cap_bytes). Every argument is checked before anything is queued;
 * a rejected call returns the error and never calls cb. An accepted call
 * calls cb exactly once. b is in flight (must not be freed or touched) until
 * cb runs. -EAGAIN when max_in_flight requests are in flight.
 */
REGIO_API int regio_file_read(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                              uint32_t len, regio_cb cb, void *ctx);

/* As regio_file_read, a WRITE_FIXED from b.data. */
REGIO_API int regio_file_write(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                               uint32_t len, regio_cb cb, void *ctx);

/* Flags for regio_file_write_flags. */
#define REGIO_WRITE_DSYNC 0x1u /* RWF_DSYNC: durable when it completes */

/* As regio_file_write with flags (REGIO_WRITE_DSYNC). */
REGIO_API int regio_file_write_flags(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                                     uint32_t len, unsigned flags, regio_cb cb, void *ctx);

/*
 * A write followed by an fdatasync linked to it (IOSQE_IO_LINK): cb runs once,
 * with len on success after both completed. A short write is completed and
 * the sync re-issued; nothing above the engine treats the write alone as
 * durable.
 */
REGIO_API int regio_file_write_durable(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                                       uint32_t len, regio_cb cb, void *ctx);

/* Queue an fsync (fdatasync when datasync) of f. */
REGIO_API int regio_file_fsync(struct regio_file *f, bool datasync, regio_cb cb, void *ctx);

/* Hand every queued request to the kernel in one io_uring_enter. Returns the
 * number submitted. */
REGIO_API int regio_engine_submit(struct regio_engine *e);

/*
 * Submit, then reap completions and run callbacks until min_complete have
 * run or timeout_ns passes (negative: no limit; 0: only what is ready).
 * Returns the callbacks run; -ETIMEDOUT when none ran before the timeout.
 */
REGIO_API int regio_engine_wait(struct regio_engine *e, unsigned min_complete, int64_t timeout_ns);

/* Wait until nothing is in flight. -ETIMEDOUT. */
REGIO_API int regio_engine_drain(struct regio_engine *e, int64_t timeout_ns);

/* Requests accepted and not yet called back. Any thread. */
REGIO_API uint32_t regio_engine_in_flight(const struct regio_engine *e);

REGIO_API int regio_engine_stats(const struct regio_engine *e, struct regio_engine_stats *out);

/* ---- Fault injection (compiled in, inert unless armed) ---------------- */

enum regio_op_kind { REGIO_OP_READ = 0, REGIO_OP_WRITE = 1, REGIO_OP_FSYNC = 2 };

struct regio_fault {
    enum regio_op_kind op; /* which kind of operation */
    uint64_t nth;          /* 1-based: the nth operation of that kind from now */
    int err;               /* negative errno to complete it with (0: none) */
    bool sticky;           /* fail every one from the nth on */
    uint32_t short_bytes;  /* instead of err: complete only this many bytes */
    /* Instead of err and short_bytes: the kernel accepts the operation and
     * never runs it (a timer of an hour stands in for it) until the stall
     * probe cancels it, as io-wq has been seen to do (docs/decisions.md). */
    bool stall;
};

/* Arm one fault (replacing any armed for the same op kind). */
REGIO_API int regio_engine_fault_arm(struct regio_engine *e, const struct regio_fault *f);
REGIO_API void regio_engine_fault_clear(struct regio_engine *e);

/*
 * Power-loss recording. While recording, every write and fsync submitted to
 * the ring is logged with its data, flags, file and the event sequence numbers
 * of its submission and completion; each file's contents are captured when
 * it is first written. regio_sim_* then builds the image a file could hold
 * after a power loss at any event sequence number: writes made durable by
 * then (completed with RWF_DSYNC, or followed by a completed fsync of the
 * file submitted after the write completed) are kept; every other submitted
 * write is kept, dropped or torn at 512-byte granularity, by seed. The
 * pager's length changes (regio_pager_extend, regio_pager_truncate) are
 * logged too: durable after such an fsync, otherwise kept or lost whole.
 */
struct regio_recording;

REGIO_API int regio_engine_record_start(struct regio_engine *e);
/* Stop recording; *out is owned by the caller (regio_recording_free). */
REGIO_API int regio_engine_record_stop(struct regio_engine *e, struct regio_recording **out);
/* The current event sequence number (any thread): an event at or before it
 * has happened. */
REGIO_API uint64_t regio_engine_record_seq(const struct regio_engine *e);
REGIO_API void regio_recording_free(struct regio_recording *r);
/* Files written while recording, and the last event sequence number. */
REGIO_API uint32_t regio_recording_file_count(const struct regio_recording *r);
REGIO_API const char *regio_recording_file_path(const struct regio_recording *r, uint32_t i);
REGIO_API uint64_t regio_recording_last_seq(const struct regio_recording *r);

enum regio_sim_mode {
    REGIO_SIM_RANDOM = 0, /* each undurable write kept, dropped or torn by seed */
    REGIO_SIM_DROP = 1,   /* every undurable write dropped */
    REGIO_SIM_KEEP = 2,   /* every submitted write kept */
};

/* Write to out_fd the image file i could hold after power loss at crash_seq. */
REGIO_API int regio_recording_write_image(const struct regio_recording *r, uint32_t i,
                                          uint64_t crash_seq, enum regio_sim_mode mode,
                                          uint64_t seed, int out_fd);

#ifdef __cplusplus
}
#endif

#endif
