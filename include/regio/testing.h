/*
 * regio/testing.h: fault injection and power-loss recording, for tests and
 * test tools only. Not included by <regio.h>: a program that stores data
 * has no use for them, and keeping them apart keeps the I/O API small.
 *
 * Both work through one hook in the engine: a pointer that is NULL while
 * no fault is armed and nothing is recorded, tested once per submission
 * (as SQLite routes its system calls through one table). An engine that
 * never calls these functions pays one predicted branch per SQE.
 */
#ifndef REGIO_TESTING_H
#define REGIO_TESTING_H

#include "regio/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Fault injection ----------------------------------------------------------- */

/* The operations a fault can hit. */
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

/*
 * Arm one fault, replacing any armed for the same op kind; *f is copied.
 * Counting starts at the next submission of that kind: the nth (and with
 * sticky every later one) completes with f->err without running, comes back
 * f->short_bytes long (rounded down to the file's offset alignment), or
 * stalls. A faulted write of regio_file_write_durable cancels its linked
 * sync, as the kernel does. Engine thread rules apply (regio/engine.h).
 *   -EINVAL  e or f NULL; unknown op; nth 0; err positive; neither err,
 *            short_bytes nor stall given; an fsync fault with neither err
 *            nor stall.
 *   -EPERM   owned engine, called from another thread.
 */
REGIO_API int regio_engine_fault_arm(struct regio_engine *e, const struct regio_fault *f);

/* Disarm every fault. Does nothing for a NULL e or from a thread that may
 * not call an owned engine. */
REGIO_API void regio_engine_fault_clear(struct regio_engine *e);

/* ---- Power-loss recording ------------------------------------------------------ */

/*
 * While recording, every write and fsync submitted to the ring is logged
 * with its data, flags, file and the event sequence numbers of its
 * submission and completion; each file's contents are captured when it is
 * first written. regio_recording_write_image then builds the image a file
 * could hold after a power loss at any event sequence number: writes made
 * durable by then (completed with RWF_DSYNC, or followed by a completed
 * fsync of the file submitted after the write completed) are kept; every
 * other submitted write is kept, dropped or torn at 512-byte granularity,
 * by seed. The pager's length changes (regio_pager_extend,
 * regio_pager_truncate) are logged too: durable after such an fsync,
 * otherwise kept or lost whole.
 */
struct regio_recording;

/*
 * Start recording every write, fsync and pager length change of e. The
 * recording holds copies of all data written, so it is for tests: when it
 * cannot grow (no memory, or a file it cannot capture) the process aborts
 * rather than simulate from an incomplete log. Engine thread rules apply.
 *   -EINVAL  e is NULL.
 *   -EPERM   owned engine, called from another thread.
 *   -EBUSY   e is already recording.
 *   -ENOMEM  no memory.
 */
REGIO_API int regio_engine_record_start(struct regio_engine *e);

/*
 * Stop recording. On success *out is the caller's, independent of e, until
 * regio_recording_destroy(); requests still in flight complete unrecorded.
 * Engine thread rules apply.
 *   -EINVAL  e or out NULL.
 *   -EPERM   owned engine, called from another thread.
 *   -ENOENT  e is not recording.
 */
REGIO_API int regio_engine_record_stop(struct regio_engine *e, struct regio_recording **out);

/* The current event sequence number (0 for a NULL e; any thread): an event
 * at or before it has happened. */
REGIO_API uint64_t regio_engine_record_seq(const struct regio_engine *e);

/* Free a recording (NULL is ignored). Cannot fail. */
REGIO_API void regio_recording_destroy(struct regio_recording *r);

/* The files written while recording (0 for a NULL r), the path of file i as
 * it was opened (owned by r; NULL for a NULL r or i out of range), and the
 * last event sequence number (0 for a NULL r). Any thread. */
REGIO_API uint32_t regio_recording_file_count(const struct regio_recording *r);
REGIO_API const char *regio_recording_file_path(const struct regio_recording *r, uint32_t i);
REGIO_API uint64_t regio_recording_last_seq(const struct regio_recording *r);

/* How regio_recording_write_image treats writes not durable at the crash. */
enum regio_recording_mode {
    REGIO_RECORDING_RANDOM = 0, /* each undurable write kept, dropped or torn by seed */
    REGIO_RECORDING_DROP = 1,   /* every undurable write dropped */
    REGIO_RECORDING_KEEP = 2,   /* every submitted write kept */
};

/*
 * Write to out_fd (truncated to the image's length, written from offset 0)
 * the contents file i could hold after a power loss at event crash_seq,
 * choosing for each undurable write by mode and seed (the same seed gives
 * the same image). Synchronous; r is only read, so several threads may build
 * images of one recording at once.
 *   -EINVAL  r NULL, i out of range, out_fd negative, or an unknown mode.
 *   -ENOMEM  no memory for the image.
 *   other    the negative errno of ftruncate or pwrite on out_fd.
 */
REGIO_API int regio_recording_write_image(const struct regio_recording *r, uint32_t i,
                                          uint64_t crash_seq, enum regio_recording_mode mode,
                                          uint64_t seed, int out_fd);

#ifdef __cplusplus
}
#endif

#endif
