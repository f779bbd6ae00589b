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

struct regio_wal_opts {
    struct regio_arena *arena; /* share this arena (else the WAL makes one) */
    size_t segment_bytes;      /* 0 = 64 MiB; multiple of the block size; <= 1 TiB */
    size_t buffer_bytes;       /* WAL buffer; 0 = 1 MiB; <= 256 MiB */
    uint32_t spare_segments;   /* prepared ahead; 0 = 2; <= 64 */
    enum regio_wal_recovery_mode recovery;
    bool create;            /* create the directory when missing */
    bool no_create_log;     /* fail with -ENOENT when no log exists */
    const char *stats_name; /* live stats name for an arena the WAL makes */
};

enum regio_wal_end {
    REGIO_WAL_END_EMPTY = 0,    /* new log */
    REGIO_WAL_END_CLEAN = 1,    /* ended with a close record */
    REGIO_WAL_END_TORN = 2,     /* crash: torn or missing tail cut */
    REGIO_WAL_END_SALVAGED = 3, /* salvage mode dropped invalid records */
};

struct regio_wal_recovery {
    uint32_t segments;        /* segments holding records */
    uint64_t records;         /* valid caller records found */
    uint64_t start_lsn;       /* oldest record kept */
    uint64_t end_lsn;         /* where the next record goes */
    uint64_t checkpoint_lsn;  /* from the control file (0: none) */
    uint64_t bytes_cut;       /* torn tail bytes cut and zeroed */
    uint64_t records_dropped; /* salvage: invalid records dropped */
    uint32_t epoch;           /* epoch of this open */
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
    uint32_t block_bytes; /* padding unit */
    int failed;           /* 0, or the error that failed the log */
};

struct regio_wal;
struct regio_wal_reader;

/* Open (recovering) or create the log in dir. *out is the caller's until
 * regio_wal_close. info_out may be NULL. -EBUSY when the log is open
 * elsewhere; -EBADMSG on corruption (strict mode). */
REGIO_API int regio_wal_open(const char *dir, const struct regio_wal_opts *opts,
                             struct regio_wal **out, struct regio_wal_recovery *info_out);

/* Append one record of type 0; *lsn_out (may be NULL) is its start LSN.
 * -EINVAL for len 0 or larger than regio_wal_max_record_bytes (for the
 * vector calls: the sum of the iovec lengths, checked element by element so
 * that a sum that would wrap is refused too), iovcnt < 0, a NULL iovec array
 * or a non-empty iovec at NULL, and a type above REGIO_WAL_TYPE_USER_MAX.
 * The data is copied before the call returns. */
REGIO_API int regio_wal_append(struct regio_wal *w, const void *data, size_t len,
                               uint64_t *lsn_out);
REGIO_API int regio_wal_appendv(struct regio_wal *w, const struct iovec *iov, int iovcnt,
                                uint64_t *lsn_out);
REGIO_API int regio_wal_append_record(struct regio_wal *w, uint16_t type, const struct iovec *iov,
                                      int iovcnt, uint64_t *lsn_out, uint64_t *end_lsn_out);

/* Return when the record starting at lsn and all before it are durable. */
REGIO_API int regio_wal_sync(struct regio_wal *w, uint64_t lsn);

/* Call cb(ctx, 0 or -errno) on a WAL thread, in LSN order, once lsn is durable. */
REGIO_API int regio_wal_notify_durable(struct regio_wal *w, uint64_t lsn, regio_cb cb, void *ctx);

REGIO_API int regio_wal_set_checkpoint(struct regio_wal *w, uint64_t lsn);
REGIO_API uint64_t regio_wal_durable_lsn(const struct regio_wal *w);
/* The largest payload one record may have: buffer_bytes - 32. */
REGIO_API size_t regio_wal_max_record_bytes(const struct regio_wal *w);
/* Recycle segments wholly before min(lsn, checkpoint, oldest live reader);
 * returns how many. */
REGIO_API int regio_wal_truncate_before(struct regio_wal *w, uint64_t lsn);
REGIO_API int regio_wal_stats(const struct regio_wal *w, struct regio_wal_stats *out);
/* Write and sync a close record, stop the WAL's threads, free w. -EBUSY
 * (and nothing changes) while a live reader is open. Returns the error that
 * failed the log, if any (w is freed then too). */
REGIO_API int regio_wal_close(struct regio_wal *w);

REGIO_API int regio_wal_reader_open(const char *dir, uint64_t from_lsn,
                                    struct regio_wal_reader **out);
REGIO_API int regio_wal_reader_open_live(struct regio_wal *w, uint64_t from_lsn,
                                         struct regio_wal_reader **out);
/* 1 with a record, 0 at the end (live: nothing more yet), negative on error. */
REGIO_API int regio_wal_reader_next(struct regio_wal_reader *r, struct regio_wal_record *rec);
REGIO_API int regio_wal_reader_close(struct regio_wal_reader *r);

#ifdef __cplusplus
}
#endif

#endif
