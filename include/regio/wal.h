/*
 * regio/wal.h: the write-ahead log.
 *
 * LSN = byte position in the logical log. Appends return at once with the
 * record's start LSN; regio_wal_sync(lsn) returns when that record and every
 * one before it is durable. Group commit makes one flush serve many
 * appenders. A record is acknowledged only after its bytes and a successful
 * sync completed; after a write or sync error the log is failed and
 * acknowledges nothing more until it is closed and reopened.
 */
#ifndef REGIO_WAL_H
#define REGIO_WAL_H

#include <sys/uio.h>

#include "regio/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Record types 0..REGIO_WAL_TYPE_USER_MAX belong to the caller. */
#define REGIO_WAL_TYPE_USER_MAX 0xEFFF

enum regio_wal_recovery_mode {
    REGIO_WAL_RECOVER_STRICT = 0,  /* torn tail cut; corruption is -EBADMSG */
    REGIO_WAL_RECOVER_SALVAGE = 1, /* keep the valid prefix, report what was dropped */
};

/* Upper bounds of regio_wal_opts sizes (larger is -EINVAL): each spare
 * segment is a whole file prepared on disk, and the WAL buffer is four pool
 * buffers that must each fit one arena region. */
#define REGIO_WAL_MAX_BUFFER_BYTES   ((size_t)256 << 20)
#define REGIO_WAL_MAX_SEGMENT_BYTES  (1ull << 40)
#define REGIO_WAL_MAX_SPARE_SEGMENTS 64u

/* How a flush is made durable (regio_wal_opts.sync_method). AUTO probes
 * the device at open (five 4 KiB durable writes each way in an unnamed
 * file in the log's directory, a few milliseconds on a slow disk) and keeps
 * RWF_DSYNC unless write + fdatasync's best time is under 3/4 of its own;
 * regio_wal_stats says which it chose and both probe times. */
enum regio_wal_sync_method {
    REGIO_WAL_SYNC_DSYNC = 0,     /* each write carries RWF_DSYNC (the default) */
    REGIO_WAL_SYNC_FDATASYNC = 1, /* each write is followed by a linked fdatasync */
    REGIO_WAL_SYNC_AUTO = 2,      /* probed at open: fdatasync only when clearly faster */
};

/* The most flushes regio_wal_opts.max_flushes may allow in flight. */
#define REGIO_WAL_MAX_FLUSHES 31

struct regio_wal_opts {
    struct regio_arena *arena; /* share this arena (else the WAL makes one) */
    size_t segment_bytes;      /* 0 = 64 MiB; multiple of the block size; <= 1 TiB */
    size_t buffer_bytes;       /* WAL buffer; 0 = 1 MiB; <= 256 MiB */
    uint32_t spare_segments;   /* prepared ahead; 0 = 2; <= 64 */
    enum regio_wal_recovery_mode recovery;
    bool create;            /* create the directory when missing */
    bool no_create_log;     /* fail with -ENOENT when no log exists */
    const char *stats_name; /* live stats name for an arena the WAL makes */
    /* Tuning; 0 is the measured default (docs/decisions.md). An RWF_DSYNC
     * write is durable by itself; a linked fdatasync is a second SQE that
     * the kernel runs on an io-wq worker. Which is faster depends on the
     * device and the filesystem. */
    enum regio_wal_sync_method sync_method;
    /* Flushes in flight at once (each a write of the buffer filled since the
     * last): 0 = 2, at most REGIO_WAL_MAX_FLUSHES. More overlap device
     * latency at the cost of smaller writes. */
    uint32_t max_flushes;
    /* How long the flusher polls for work before it sleeps: 0 = 50 us;
     * negative = it looks once. Polling spares a wake-up per commit at the
     * cost of a busy core while commits trickle in. */
    int64_t flusher_poll_ns;
};

enum regio_wal_end {
    REGIO_WAL_END_EMPTY = 0,    /* new log */
    REGIO_WAL_END_CLEAN = 1,    /* ended with a close record */
    REGIO_WAL_END_TORN = 2,     /* crash: torn or missing tail cut */
    REGIO_WAL_END_SALVAGED = 3, /* salvage mode dropped invalid records */
};

struct regio_wal_recovery {
    uint32_t segments;       /* segments holding records */
    uint64_t records;        /* valid caller records found */
    uint64_t start_lsn;      /* oldest record kept */
    uint64_t end_lsn;        /* where the next record goes */
    uint64_t checkpoint_lsn; /* from the control file (0: none, or ignored) */
    /* A stored checkpoint below the recovered end that is no record start
     * (a damaged control file, or one written before
     * regio_wal_set_checkpoint checked its LSN). Open ignores it rather
     * than make the log unreadable: checkpoint_lsn is then 0 (replay from
     * the oldest record) and the control file forgets it. 0 when none was
     * ignored. A checkpoint past the recovered end is kept (the durable
     * records up to it are lost, and the detail says so). */
    uint64_t checkpoint_ignored_lsn;
    uint64_t bytes_cut;       /* torn tail bytes cut and zeroed; salvage: the
                               * LSN span dropped from the damage on */
    uint64_t records_dropped; /* salvage: the damaged record (unless the
                               * damage is zeroed space) plus every valid
                               * caller record found after it */
    uint32_t epoch;           /* epoch of this open */
    /* The directory is on tmpfs or ramfs: every sync succeeds, but nothing
     * survives a reboot or power loss. Accepted (tests use it); the detail
     * says so too. */
    bool volatile_storage;
    enum regio_wal_end end;
    char detail[160]; /* what was found at the end, in words */
};

struct regio_wal_record {
    uint64_t lsn;     /* start of the record */
    uint64_t end_lsn; /* first byte after it */
    uint16_t type;
    uint32_t epoch;
    uint32_t len;     /* payload bytes */
    const void *data; /* valid until the next reader call */
};

struct regio_wal_stats {
    uint64_t appended_lsn; /* end of the last reserved record */
    uint64_t durable_lsn;
    uint64_t records;        /* records appended */
    uint64_t syncs;          /* flushes made durable */
    uint64_t records_synced; /* records made durable (records/sync = this / syncs) */
    uint64_t bytes_written;
    uint64_t bytes_padded; /* padding written to end flushes on a block */
    uint64_t segments_used;
    /* Segments prepared as new zero-filled files (the rest of segments_used
     * reused recycled files, which needs no zero-filling). Zero-filling
     * writes a whole segment in the background, competing with commits. */
    uint64_t segments_zero_filled;
    uint32_t block_bytes;                   /* padding unit */
    int failed;                             /* 0, or the error that failed the log */
    enum regio_wal_sync_method sync_method; /* in use: DSYNC or FDATASYNC, never AUTO */
    /* The open's probe: best time of one 4 KiB durable write each way (0:
     * no probe, the mode was given). */
    uint64_t sync_probe_dsync_ns, sync_probe_fdatasync_ns;
    bool volatile_storage; /* on tmpfs or ramfs: lost at reboot (see regio_wal_recovery) */
};

struct regio_wal;
struct regio_wal_reader;

/*
 * Open the log in dir, recovering it (cut a torn tail, take a new epoch,
 * durably), or create one when dir holds none. Starts the WAL's threads and
 * its own shared-mode engine (on opts->arena when set, else on an arena of
 * its own). opts (NULL: defaults) is only read during the call; info_out
 * (may be NULL) receives what recovery found. On success *out is the
 * caller's until regio_wal_close(), and the directory is locked against
 * other opens (in this or another process). On failure nothing is left
 * running, and a create that fails removes the lock file it made and the
 * directory if it made it (an existing directory keeps its other files).
 * Any thread.
 *   -EINVAL   dir or out NULL; buffer_bytes, segment_bytes or
 *             spare_segments above their REGIO_WAL_MAX_* bound; buffer_bytes
 *             not a multiple of 4 KiB or of the log's block; segment_bytes not
 *             a multiple of the block, or smaller than 8 buffers plus 4
 *             blocks; sync_method not a regio_wal_sync_method, or
 *             max_flushes above REGIO_WAL_MAX_FLUSHES.
 *   -ENOENT   dir does not exist (and create is not set), or no_create_log
 *             is set and dir holds no log.
 *   -EBUSY    the log is open elsewhere (the directory is locked by another
 *             open, in this or another process).
 *   -EBADMSG  damage recovery may not cut: a corrupt or missing control
 *             file beside segments, a corrupt record before the log's end,
 *             or a segment missing from the chain (strict mode; salvage mode
 *             keeps the valid prefix instead and reports it in info_out).
 *   -ENOMEM   no memory, or the arena's registration exceeds RLIMIT_MEMLOCK.
 *   other     the negative errno of a system call on the directory or its
 *             files (-EACCES, -ENOSPC, -EIO, -ENAMETOOLONG, ...).
 * regio_error_detail() says which file and what was found.
 */
REGIO_API int regio_wal_open(const char *dir, const struct regio_wal_opts *opts,
                             struct regio_wal **out, struct regio_wal_recovery *info_out);

/*
 * Append one record of type 0 holding len bytes from data; *lsn_out (may be
 * NULL) is its start LSN. The data is copied before the call returns; the
 * record is durable only once regio_wal_sync(lsn) returns 0 (or the
 * regio_wal_notify_durable callback gets 0). May block while the WAL's
 * buffer is full, until a flush frees space. Any thread, concurrently.
 *   -EINVAL  w NULL; len 0 or above regio_wal_max_record_bytes(w); data NULL
 *            with len > 0 (regio_error_detail() gives the sizes).
 *   other    the error that failed the log (a write or sync error, see
 *            regio_wal_stats().failed): nothing is appended any more.
 */
REGIO_API int regio_wal_append(struct regio_wal *w, const void *data, size_t len,
                               uint64_t *lsn_out);
/* As regio_wal_append, the record's payload gathered from iov[0..iovcnt):
 * len is the sum of the iovec lengths, checked element by element so that a
 * sum that would wrap is refused too. Also -EINVAL for a negative iovcnt, iov
 * NULL with iovcnt > 0, or an element with a NULL base and a non-zero
 * length. */
REGIO_API int regio_wal_appendv(struct regio_wal *w, const struct iovec *iov, int iovcnt,
                                uint64_t *lsn_out);
/* As regio_wal_appendv, with the caller's record type (0..
 * REGIO_WAL_TYPE_USER_MAX; -EINVAL above), and *end_lsn_out (may be NULL)
 * the LSN just past the record, where the next one may start. */
REGIO_API int regio_wal_append_record(struct regio_wal *w, uint16_t type, const struct iovec *iov,
                                      int iovcnt, uint64_t *lsn_out, uint64_t *end_lsn_out);

/*
 * Block until the record starting at lsn and every record before it are
 * durable. Leads the flush itself when nobody else is flushing (group
 * commit: one flush serves every caller waiting meanwhile). Returns 0 once
 * durable. Any thread, concurrently.
 *   -EINVAL  w NULL, or lsn at or past the end of the appended log.
 *   other    the error that failed the log, before or while waiting.
 */
REGIO_API int regio_wal_sync(struct regio_wal *w, uint64_t lsn);

/*
 * Ask for cb(ctx, res) once the record starting at lsn is durable, without
 * blocking: res is 0 when it is, or the error that failed the log, or
 * -ECANCELED when the log was closed before it became durable. Callbacks
 * run on the WAL's callback thread, in LSN order, never inside this call; a
 * callback may append and sync. Every accepted request is answered exactly
 * once, at the latest by regio_wal_close. Any thread.
 *   -EINVAL  w or cb NULL, or lsn at or past the end of the appended log.
 *   -ENOMEM  no memory for the request.
 *   other    the error that failed the log (cb is not called).
 */
REGIO_API int regio_wal_notify_durable(struct regio_wal *w, uint64_t lsn, regio_cb cb, void *ctx);

/*
 * Store lsn as the checkpoint (the LSN recovery and truncation keep the log
 * from), durably, in the control file. Only an LSN that a reader can open
 * at is accepted, so a checkpoint never makes the log unreadable: 0, the
 * durable LSN, or the start of a durable record (checked against the
 * segment on disk). regio_wal_checkpoint_begin/_end use it in the right
 * order. Any thread.
 *   -EINVAL  w NULL; lsn past the end of the appended log, not durable yet,
 *            or not the start of a record (regio_error_detail() says which).
 *   other    the error that failed the log, the negative errno of reading
 *            the segment that should hold lsn, or of writing or syncing the
 *            control file.
 */
REGIO_API int regio_wal_set_checkpoint(struct regio_wal *w, uint64_t lsn);

/*
 * A checkpoint begun and not yet ended. redo_lsn is where replay starts
 * after a crash once the checkpoint is ended; token is the WAL's and only
 * regio_wal_checkpoint_end reads it.
 */
struct regio_wal_checkpoint {
    uint64_t redo_lsn;
    uint64_t token;
};

/*
 * Begin a checkpoint (docs/embedding.md, "Checkpoints and truncation"):
 * append a record of the caller's type (its 8-byte payload is the token)
 * whose LSN becomes the redo point, and fill *ck_out. Then write every page
 * changed by a record before ck_out->redo_lsn, regio_pager_sync, and call
 * regio_wal_checkpoint_end. A later begin supersedes this one. Any thread.
 *   -EINVAL  w or ck_out NULL, or type above REGIO_WAL_TYPE_USER_MAX.
 *   other    what regio_wal_append_record returns (the error that failed
 *            the log, -ENOMEM, ...).
 */
REGIO_API int regio_wal_checkpoint_begin(struct regio_wal *w, uint16_t type,
                                         struct regio_wal_checkpoint *ck_out);

/*
 * End the checkpoint begun last: make its begin record durable
 * (regio_wal_sync) and publish its redo LSN (regio_wal_set_checkpoint), so
 * that recovery reports it as checkpoint_lsn. ck is only read.
 *   -EINVAL  w or ck NULL; ck is not the checkpoint begun last (ended
 *            already, superseded by a later begin, or not from begin):
 *            nothing is published.
 *   other    the error of regio_wal_sync or regio_wal_set_checkpoint.
 */
REGIO_API int regio_wal_checkpoint_end(struct regio_wal *w, const struct regio_wal_checkpoint *ck);
/* The durable LSN: every record that starts below it is durable (0 for a
 * NULL w). Any thread. */
REGIO_API uint64_t regio_wal_durable_lsn(const struct regio_wal *w);
/* The largest payload one record may have: buffer_bytes - 32 (0 for a NULL
 * w). Any thread. */
REGIO_API size_t regio_wal_max_record_bytes(const struct regio_wal *w);
/*
 * Recycle the segments that lie wholly before min(lsn, checkpoint, the
 * position of the oldest live reader) and before the durable LSN's segment:
 * they are renamed to spares and reused, their records gone. Returns how
 * many. Any thread.
 *   -EINVAL  w NULL.
 *   other    the error that failed the log, or the negative errno of
 *            renaming a segment (the segments before it were recycled).
 */
REGIO_API int regio_wal_truncate_before(struct regio_wal *w, uint64_t lsn);
/*
 * Fill *out (the caller's memory) with the WAL's counters. Any thread.
 *   -EINVAL  w or out NULL.
 */
REGIO_API int regio_wal_stats(const struct regio_wal *w, struct regio_wal_stats *out);
/*
 * Close the log: append and sync a close record, answer every pending
 * regio_wal_notify_durable callback, stop the WAL's threads and engine,
 * mark the log cleanly closed in its control file, free w.
 * -EBUSY is a refusal: w is untouched and usable. Every other outcome,
 * success or error, frees w and unlocks the directory: do not use w after.
 * Call it once, when no other call on w runs.
 *   -EINVAL  w NULL (nothing to free).
 *   -EBUSY   a live reader (regio_wal_reader_open_live) is still open on w,
 *            or a pager is still bound to w (regio_pager_bind_wal): unbind
 *            or close it first.
 *   other    the error that failed the log (then no close record is written,
 *            and the next open recovers the log as after a crash), or the
 *            negative errno of writing the close record or the control file.
 */
REGIO_API int regio_wal_close(struct regio_wal *w);

/*
 * Open a reader of the log in dir from from_lsn (0: the oldest record still
 * in the directory), independent of any open WAL (another process may have
 * it open: the reader sees what is on disk; it takes no lock and cuts
 * nothing). On success *out is the caller's until regio_wal_reader_close().
 * Use a reader from one thread at a time.
 *   -EINVAL   dir or out NULL, or from_lsn is not the start of a record.
 *   -ENOENT   dir holds no segment and no control file.
 *   -EBADMSG  the oldest segment's header is damaged or zeroed, or is not a
 *             regular file, or dir holds a control file but no segment
 *             (strict recovery refuses such a log too).
 *   -ENOMEM   no memory.
 *   other     the negative errno of opening or reading a segment or the
 *             control file.
 */
REGIO_API int regio_wal_reader_open(const char *dir, uint64_t from_lsn,
                                    struct regio_wal_reader **out);
/*
 * Open a reader of the open log w from from_lsn (0: the oldest record), up
 * to the durable LSN as it grows. While it is open, truncation keeps the
 * segments from its position on and regio_wal_close(w) is -EBUSY.
 *   -EINVAL  w or out NULL; from_lsn not the start of a durable record nor
 *            the durable LSN itself.
 *   -ENOMEM  no memory.
 *   other    the negative errno of opening or reading a segment.
 */
REGIO_API int regio_wal_reader_open_live(struct regio_wal *w, uint64_t from_lsn,
                                         struct regio_wal_reader **out);
/*
 * Read the next caller record into *rec (its data is valid until the next
 * call on r). Returns 1 with a record, 0 at the end of the log (live: no
 * more durable records yet; call again later). Internal records (padding,
 * segment ends, close records) are skipped.
 *   -EINVAL   r or rec NULL.
 *   -EBADMSG  directory reader: the log is damaged where this reader
 *             stopped, as strict regio_wal_open would find it (the same
 *             classification, docs/format.md): the records before the
 *             damage were returned, the end of the log is never reported in
 *             its place. Live reader: an invalid record below the durable
 *             LSN. It is returned again by every later call.
 *   -ENOMEM   no memory.
 *   other     live: the error that failed the log; the negative errno of
 *             reading a segment.
 */
REGIO_API int regio_wal_reader_next(struct regio_wal_reader *r, struct regio_wal_record *rec);
/* Close the reader and free r (a live reader also releases its hold on the
 * log). Returns 0; -EINVAL for a NULL r. Cannot fail otherwise. */
REGIO_API int regio_wal_reader_close(struct regio_wal_reader *r);

#ifdef __cplusplus
}
#endif

#endif
