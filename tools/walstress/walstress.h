/*
 * tools/walstress/walstress.h: what the parts of regio-walstress share.
 *
 * main.c parses options and runs either one stress run or N crash cycles;
 * run.c drives the appender threads and measures; verify.c defines the
 * self-describing record and checks a log against what was acknowledged.
 */
#ifndef REGIO_WALSTRESS_H
#define REGIO_WALSTRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "regio.h"

#define WS_MAX_THREADS 256

enum ws_sync { WS_SYNC_EVERY, WS_SYNC_GROUP, WS_SYNC_NONE };

struct ws_opts {
    const char *dir; /* log directory (a temporary one when not given) */
    bool dir_is_temp;
    uint32_t threads;              /* appender threads */
    uint32_t min_bytes, max_bytes; /* record sizes, header included */
    double seconds;                /* run time (crash mode: most time per cycle) */
    uint64_t records;              /* total records (0: run for seconds) */
    enum ws_sync sync;
    uint64_t segment_bytes; /* 0: the WAL's default */
    /* The WAL's tuning fields (regio_wal_opts; 0: the WAL's defaults). */
    enum regio_wal_sync_method wal_sync;
    uint32_t max_flushes;
    int64_t flusher_poll_ns;
    uint64_t seed;
    const char *stats_name;
    bool verify;
    uint32_t crash_cycles;
    uint32_t keep_cycles; /* crash mode: cycles the log keeps (0: all) */
    bool json;
    bool quiet; /* no progress lines (crash-mode children) */
};

/* ---- Records (verify.c) -------------------------------------------------- */

/* Every record starts with this header; the rest is a pattern derived from
 * (seed, cycle, thread, seq), so any record can be checked on its own. */
struct ws_rec_hdr {
    uint32_t magic; /* WS_REC_MAGIC */
    uint16_t cycle; /* crash cycle that wrote it (0 without crash cycles) */
    uint16_t thread;
    uint64_t seq; /* 1, 2, ... per thread and cycle */
    uint32_t len; /* whole record bytes, header included */
    uint32_t reserved;
};
_Static_assert(sizeof(struct ws_rec_hdr) == 24, "walstress record header");
#define WS_REC_MAGIC 0x52545357u /* "WSTR" */
#define WS_REC_MIN   ((uint32_t)sizeof(struct ws_rec_hdr))

/* Fill buf (len bytes) with the record (cycle, thread, seq). */
void ws_record_fill(void *buf, uint32_t len, uint64_t seed, uint16_t cycle, uint16_t thread,
                    uint64_t seq);

/* What a verification found. */
struct ws_verify_result {
    uint64_t acknowledged; /* records acknowledged to the writers (of the
                            * cycles verified) */
    uint64_t found;        /* walstress records in the log */
    uint64_t lost;         /* acknowledged but not in the log */
    uint64_t corrupt;      /* bad header, pattern, length or order */
    int error;             /* reader error (negative errno), 0 if none */
};

/* Which part of the log a verification reads and expects. */
struct ws_verify_span {
    uint64_t from_lsn;    /* where the reader starts (0: the oldest record) */
    uint32_t first_cycle; /* cycles before it were checkpointed away */
    uint32_t ncycles;     /* cycles 0..ncycles-1 have written records */
};

/*
 * Read the log in dir from span->from_lsn and check every record against
 * acked[cycle * threads + thread] (highest acknowledged seq), for cycles
 * first_cycle..ncycles-1: byte for byte, and seqs 1, 2, ... in order per
 * thread and cycle. A record of an earlier cycle is corrupt: the checkpoint
 * at from_lsn put those cycles behind the reader's start. Failures are
 * printed (the first few of each kind).
 */
void ws_verify(const struct ws_opts *o, const char *dir, const uint64_t *acked,
               const struct ws_verify_span *span, struct ws_verify_result *out);

/* ---- Runs (run.c) ----------------------------------------------------------- */

/* Counters a run shares with whoever watches it (a crash-mode parent through
 * a shared mapping). acked[t]: highest seq thread t has had acknowledged. */
struct ws_shared {
    atomic_int ready; /* the log is open and the writers run */
    _Atomic uint64_t acked[WS_MAX_THREADS];
};

struct ws_run_result {
    double seconds;
    uint64_t records, bytes;
    uint64_t lat_count;
    int64_t lat_p50_ns, lat_p99_ns, lat_p999_ns, lat_max_ns;
    struct regio_wal_stats wal;
    struct regio_wal_recovery recovery;
    int error; /* first failure (negative errno), 0 if none */
};

/*
 * Open the log, run the appenders until the time or record budget is spent
 * (or the process is killed), close the log. sh->acked is updated as records
 * are acknowledged. With o->quiet no progress lines are printed.
 */
int ws_run(const struct ws_opts *o, uint16_t cycle, struct ws_shared *sh,
           struct ws_run_result *out);

/* ---- Small helpers ---------------------------------------------------------- */

int64_t ws_now_ns(void);
uint64_t ws_rand(uint64_t *state); /* splitmix64 */

#endif
