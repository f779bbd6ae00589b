/*
 * wal/wal_internal.h: state shared by the WAL's own files (wal.c, wal_open.c,
 * wal_reader.c) and the accessors tests use. Not installed.
 */
#ifndef REGIO_WAL_INTERNAL_H
#define REGIO_WAL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "regio/wal.h"
#include "regio/stats.h"
#include "internal.h"
#include "lock.h"
#include "wal_format.h"

#define REGIO__WAL_SLOTS           64u /* insertion slots (PostgreSQL's insertion locks) */
#define REGIO__WAL_MAX_FLUSHES     64u /* flush entries tracked at once */
#define REGIO__WAL_SLOT_FREE       UINT64_MAX
#define REGIO__WAL_SLOT_BUSY       0u            /* taken, start LSN not yet known */
#define REGIO__WAL_PIECES          4u            /* pool buffers forming the ring */
#define REGIO__WAL_ZERO_STEP_BYTES (64u * 1024u) /* most zero_ahead clears at once */
#define REGIO__WAL_ACK_BUCKETS     64u /* futex words sync waiters sleep on, by flush sequence */

/* One segment the WAL knows: indexed by segno % seg_table_len. */
struct regio__wal_segslot {
    _Atomic uint64_t ready; /* segno + 1 once prepared (salt valid), else 0 */
    uint64_t salt;
    uint64_t window_bytes;
    struct regio_file *file; /* whoever holds flush_mu (flusher or leader) */
    uint64_t file_segno;
};

/* One flush: [start, end) written, durable prefix becomes rec_end. */
struct regio__wal_flush {
    uint64_t start;
    uint64_t end;
    uint64_t rec_end;    /* records starting below this are whole inside the flush */
    uint64_t release_to; /* ring space free up to here once durable */
    uint32_t ops;        /* writes issued */
    uint32_t done;       /* writes completed */
    int err;
    uint64_t records; /* caller records made durable by it */
    uint64_t seq;     /* flush sequence number (1, 2, ...) */
    struct regio_wal *w;
};

/* Spare callback nodes a log keeps at most (48 bytes each with malloc's
 * header: 3 MiB): the callback thread frees an answered batch that would
 * take the spares past it. */
#define REGIO__WAL_ASYNC_SPARE_MAX 65536u

struct regio__wal_async {
    uint64_t lsn;
    regio_cb cb;
    void *ctx;
    struct regio__wal_async *next, *prev;
};

struct regio__wal_call {
    int (*fn)(struct regio_engine *, void *);
    void *arg;
    int res;
    bool done;
};

struct regio__wal_pin {
    uint64_t lsn;
    struct regio__wal_pin *next;
};

struct regio_wal {
    char *dir;
    int dir_fd;
    int lock_fd;           /* wal.lock, flocked (what older versions lock) */
    int dir_lock_fd;       /* the directory itself, flocked: the lock that counts */
    bool volatile_storage; /* dir on tmpfs/ramfs (wal.c) */
    struct regio_wal_opts opts;

    /* Geometry, fixed for the open. */
    uint64_t seg_bytes;
    uint32_t block_bytes;
    uint64_t piece_bytes; /* one pool buffer */
    uint64_t ring_bytes;  /* REGIO__WAL_PIECES * piece_bytes */
    /* Most bytes reserved beyond the released point: full_limit_bytes, or
     * while the log writes in narrow_seg (the segment recovery ended in, whose
     * recorded in-flight window is smaller) that window. UINT64_MAX: none. */
    _Atomic uint64_t limit_bytes;
    uint64_t full_limit_bytes;
    uint64_t narrow_seg;
    uint32_t epoch;
    uint32_t seg_table_len;
    struct regio__wal_segslot *segs;

    struct regio_arena *arena;
    bool own_arena;
    int stats_handle; /* live stats provider, negative when not published */
    struct regio_slab *slab;
    struct regio_buf pieces[REGIO__WAL_PIECES];
    struct regio_engine *engine;                 /* shared mode; used only under flush_mu */
    bool dsync_writes;                           /* RWF_DSYNC (else write + linked fdatasync) */
    enum regio_wal_sync_method sync_method;      /* chosen at open, never AUTO */
    uint64_t probe_dsync_ns, probe_fdatasync_ns; /* the open's probe (0: none) */
    int64_t poll_ns;                             /* flusher polls this long before sleeping */

    /* Hot atomics, each on its own line. */
    _Alignas(64) _Atomic uint64_t insert_pos; /* next free LSN */
    _Alignas(64) _Atomic uint64_t durable;    /* records starting below are durable */
    _Alignas(64) _Atomic uint64_t released;   /* ring free below + limit */
    _Alignas(64) _Atomic uint64_t requested;  /* a record start someone waits for, +1 */
    _Alignas(64) _Atomic int failed;
    /* Flush sequence numbers: issue_seq counts flushes issued, acked_seq
     * flushes acknowledged (in order); issued_end is the rec_end of the
     * newest issued flush. A sync waiter sleeps on the bucket of the flush
     * that will cover its record and is woken when that flush is acked. */
    _Alignas(64) _Atomic uint64_t issue_seq;
    _Atomic uint64_t issued_end;
    _Alignas(64) _Atomic uint64_t acked_seq;
    _Atomic bool leader; /* an appender holds flush_mu and flushes for itself */
    _Atomic uint64_t records;
    _Atomic uint64_t syncs;
    _Atomic uint64_t records_synced;
    _Atomic uint64_t bytes_written;
    _Atomic uint64_t bytes_padded;
    _Atomic uint64_t segments_used;
    _Atomic uint64_t segments_zero_filled;
    _Atomic uint32_t space_waiters;
    _Atomic uint32_t seg_waiters;
    _Atomic uint64_t max_seg_seen; /* highest segment a reservation reached */
    _Alignas(64) _Atomic uint64_t slots[REGIO__WAL_SLOTS][8]; /* [i][0] used; padded */
    /* [i][0]: futex word (low bits of the last acked seq in bucket i);
     * [i][1]: sleepers on it. Padded to a cache line each. */
    _Alignas(64) _Atomic uint32_t ack_words[REGIO__WAL_ACK_BUCKETS][16];

    /* Flushing state, guarded by flush_mu: whoever holds it (the flusher
     * thread, or an appender leading its own flush) issues flushes and reaps
     * the engine, so completions run under it too. It is released only with
     * no flush in flight. */
    struct regio__lock flush_mu;
    uint64_t flushed;  /* end of the last issued flush (block aligned) */
    uint64_t walk_pos; /* record boundary: every record below is complete */
    uint64_t walk_records;
    uint64_t last_rec_end;
    uint64_t pend_at, pend_end, pend_next; /* record at last_rec_end, once read */
    bool pend_user;
    uint64_t zero_lo, zero_hi;       /* ring bytes of these LSNs are zero (zero_ahead) */
    _Atomic uint64_t pads_prezeroed; /* pads whose payload zero_ahead had cleared (tests) */
    uint64_t segend_at_end;          /* end of the SEGEND filler the walker passed (0: none) */
    uint64_t segend_next;            /* where that segment's successor starts */
    struct regio__wal_flush flushes[REGIO__WAL_MAX_FLUSHES];
    uint32_t fl_head, fl_count;
    uint32_t max_flushes_in_flight;
    uint64_t prev_flush_records;

    struct regio__lock mu;     /* guards the conditions and lists below */
    pthread_cond_t work_cond;  /* flusher sleeps here */
    pthread_cond_t done_cond;  /* sync and ring-space waiters */
    pthread_cond_t cb_cond;    /* callback thread, with async_mu */
    pthread_cond_t prep_cond;  /* spare preparer */
    _Atomic bool flusher_idle; /* set and cleared under mu; read without it */
    _Atomic bool stopping;     /* read by the flusher without mu */
    bool closing;
    bool cb_stop;
    bool prep_stop;
    /* Pending callbacks in LSN order; new ones come at or near the tail.
     * The callback state (the list, the spares, cb_stop, cb_cond) has its
     * own lock, async_mu, never held with mu: every pipelined record takes
     * it, and under mu it made the appenders queue behind the ring-space
     * waiters and the flusher's signals (docs/decisions.md). */
    struct regio__lock async_mu;
    struct regio__wal_async *async_head, *async_tail;
    uint64_t async_insert_steps;  /* list steps taken by inserts, under async_mu (tests) */
    _Atomic uint32_t async_count; /* changed under async_mu, read without it */
    /* Answered callback nodes kept for reuse, under async_mu (wal.c, async_node_take). */
    struct regio__wal_async *async_spare;
    uint32_t async_spare_count;
    uint32_t async_spare_max; /* REGIO__WAL_ASYNC_SPARE_MAX (tests lower it) */
    struct regio__wal_pin *pins;
    /* Pagers bound to this log (wal/wal_pager.c): each holds a gate whose
     * context is w, so close refuses while any is bound. */
    atomic_uint bound_pagers;
    /* An engine call waiting to run on the flusher thread, which holds
     * flush_mu meanwhile so that no appender uses the WAL's (shared-mode)
     * engine during it. */
    struct regio__wal_call *call;

    pthread_t flusher;
    pthread_t cbthread;
    pthread_t prepper;
    bool threads_started;
    int engine_err;
    bool engine_ready;

    /* Preparer state (mu). */
    uint64_t next_prep;   /* first segno not yet prepared */
    uint64_t first_segno; /* oldest segment still in the log */
    int prep_err;

    struct regio__wal_seg_info end_si; /* recovery: the segment the log ended in */
    bool has_end_si;
    bool fresh_log; /* recovery found no log: open creates segment 0, then the control file */

    struct regio__lock ctl_mu; /* control file writes */
    struct regio__wal_ctl_info ctl;
    /* After a clean close the open leaves the control file as it was (the
     * previous open's epoch, marked clean): true until w->ctl, with this
     * open's epoch, is written. Written before the first flush of a record
     * (regio__wal_persist_epoch), by set_checkpoint, or never, when the log
     * is closed with nothing appended (docs/format.md, "Epochs"). Under
     * ctl_mu; read without it as a hint. */
    _Atomic bool epoch_pending;
    uint64_t opened_at; /* insert_pos when open returned */
    /* The checkpoint begun last and not yet ended (wal/wal_checkpoint.c),
     * under ctl_mu: 0 = none. Tokens are never reused within an open. */
    uint64_t ckpt_token;
    uint64_t ckpt_redo_lsn;
    uint64_t ckpt_tokens_issued;
};

/* ---- Internal interfaces between the WAL's files ---------------------- */

/* Segment geometry helpers. */
static inline uint64_t regio__wal_seg(const struct regio_wal *w, uint64_t lsn)
{
    return lsn / w->seg_bytes;
}
static inline uint64_t regio__wal_seg_first(const struct regio_wal *w, uint64_t segno)
{
    return segno * w->seg_bytes + w->block_bytes;
}
static inline uint64_t regio__wal_seg_end(const struct regio_wal *w, uint64_t lsn)
{
    return (lsn / w->seg_bytes + 1) * w->seg_bytes;
}
static inline uint64_t regio__wal_round_up(uint64_t v, uint64_t unit)
{
    return (v + unit - 1) / unit * unit;
}

/* Recovery at open (wal_open.c): lock, control, scan, cut, new epoch. Fills
 * w's geometry, epoch, insert position and prepared segments. */
int regio__wal_recover(struct regio_wal *w, struct regio_wal_recovery *info);
/* Write the control file durably (temp, fsync, rename, dir fsync). */
int regio__wal_write_control(struct regio_wal *w, const struct regio__wal_ctl_info *c);
/* Make this open's epoch durable (w->ctl written) if it is not yet: before
 * the first record write of an open that followed a clean close. */
int regio__wal_persist_epoch(struct regio_wal *w);
/* Prepare segment segno as a spare (recycled .tmp file or a new zero-filled
 * one): header with a fresh salt, fsync, rename, dir fsync. */
int regio__wal_prepare_segment(struct regio_wal *w, uint64_t segno);
int regio__wal_create_first_segment(struct regio_wal *w);
/* wal_sync_probe.c: best ns of one 4 KiB durable write with RWF_DSYNC and
 * with write + fdatasync, in an unnamed file in the directory. */
int regio__wal_probe_sync(int dir_fd, int64_t *dsync_ns, int64_t *fdatasync_ns);
/* AUTO's rule: write + fdatasync only when its probe time is under 3/4 of
 * RWF_DSYNC's (wal_sync_probe.c says why). */
bool regio__wal_probe_prefers_fdatasync(int64_t dsync_ns, int64_t fdatasync_ns);
/* Set w->sync_method and dsync_writes from opts.sync_method (probing for AUTO). */
void regio__wal_choose_sync(struct regio_wal *w);
/* Rename the segment file segno to a recycle .tmp name, durably. */
int regio__wal_recycle_segment(struct regio_wal *w, uint64_t segno);
int regio__wal_fsync_dir(struct regio_wal *w);
/* 0 when a reader may start at lsn in the log of dir_fd (a record starts
 * there, or the valid records end there); -EINVAL with a detail otherwise
 * (wal_reader.c). */
int regio__wal_check_position(int dir_fd, uint64_t lsn);
uint64_t regio__wal_random64(void);

/* ---- For tests ---------------------------------------------------------- */

/* Run fn(engine, arg) on the flusher thread, which created the WAL's engine,
 * with flush_mu held so that no leading appender flushes meanwhile, and
 * return its result (for record_start/stop and fault_arm in tests). */
int regio__wal_engine_call(struct regio_wal *w, int (*fn)(struct regio_engine *, void *),
                           void *arg);
/* The WAL's engine, for calls documented as any-thread (record_seq). */
struct regio_engine *regio__wal_engine(struct regio_wal *w);

/* The WAL's section of the live stats file (regio/stats.h) from its
 * stats call: each module converts its own stats, so the publisher
 * (arena/stats.c) knows only the file's format. */
void regio__wal_stats_section(struct regio_stats_wal *s, const struct regio_wal_stats *st);

#endif
