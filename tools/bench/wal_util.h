/*
 * tools/bench/wal_util.h: what the WAL benchmarks share: a log brought to
 * the steady state of a long-running database (recycled segments, a
 * checkpointer), the device's own durable-write loops measured beside it,
 * and small file helpers.
 */
#ifndef REGIO_BENCH_WAL_UTIL_H
#define REGIO_BENCH_WAL_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "regio.h"

/* The database's checkpointer: each time half a segment more is durable it
 * checkpoints at the durable end and truncates before it, so segments are
 * recycled (renamed and reused without zero-filling) as in a long-running
 * database. */
struct wal_checkpointer {
    struct regio_wal *w;
    uint64_t every_bytes;
    _Atomic bool stop;
    uint64_t checkpoints, recycled;
    int err;
    pthread_t th;
};

void wal_checkpointer_start(struct wal_checkpointer *c, struct regio_wal *w, uint64_t every_bytes);
int wal_checkpointer_stop(struct wal_checkpointer *c);

/* rm -rf dir. */
void wal_rm(const char *dir);
/* Write back what an earlier step left dirty and give the device a moment,
 * so that no measurement pays for the one before it. */
void wal_settle(void);
/* A fresh log in dir (removed first), warmed to recycled segments. */
int wal_open_warm(const struct bench_ctx *ctx, const char *dir, const struct regio_wal_opts *opts,
                  struct regio_wal **out, uint64_t *seg_bytes_out);

/* ---- The device's durable-write loops (the WAL's raw baselines) ---------- */

enum raw_mode {
    RAW_FDATASYNC,    /* pwrite + fdatasync */
    RAW_ODSYNC,       /* pwrite on an O_DSYNC file */
    RAW_RWF_DSYNC,    /* pwritev2(RWF_DSYNC) */
    RAW_URING_LINKED, /* io_uring write linked to fdatasync, one enter */
    RAW_URING_DSYNC,  /* io_uring write with RWF_DSYNC, one enter (regio's DSYNC method) */
    RAW_MODES,
    /* Not one of the best-of loops: the RWF_DSYNC write entering the kernel
     * as regio's shared engine does for a lone appender's flush (one enter
     * to submit, a second to wait, with a timeout), to see what that costs. */
    RAW_URING_DSYNC_SPLIT = RAW_MODES,
    RAW_MODES_ALL
};
extern const char *const raw_mode_name[RAW_MODES_ALL];

struct raw_result {
    double ops; /* durable writes per second */
    double p50_us;
    double cpu_ns;    /* CPU per write */
    double cs_per_op; /* the process's context switches (voluntary + not) per write */
};

/* The process's context switches so far (voluntary and involuntary, every
 * thread: getrusage RUSAGE_SELF). */
int64_t wal_context_switches(void);

/* The raw_* functions write into a preallocated file at path, filled by
 * the first call that needs it and kept for the next ones (wal_util.c,
 * raw_file, says why): the benchmark removes it at its end. */
void raw_remove(const char *path);

/* One writer, `bytes` per durable write, for `seconds`. */
int raw_loop(const char *path, size_t bytes, enum raw_mode mode, double seconds,
             struct raw_result *r);
/* n writers at once (O_DSYNC, each in its own part of one file): the total
 * durable writes per second the device sustains at that concurrency. */
int raw_concurrent(const char *path, size_t bytes, int n, double seconds, struct raw_result *r);
/* The device's sequential O_DIRECT write bandwidth in bytes/s: 1 MiB writes,
 * 4 in flight through io_uring, made durable every 16 MiB (the best a bulk
 * writer does). */
int raw_bandwidth(const char *path, double seconds, struct raw_result *r);
/* The WAL's flush pattern by hand: sequential O_DIRECT writes of chunk
 * bytes (rounded up to 4 KiB, at most 64 MiB), each with RWF_DSYNC, depth
 * in flight (at most 32). r->ops is bytes/s, r->cpu_ns CPU per write. */
int raw_flush_stream(const char *path, double seconds, size_t chunk, unsigned depth,
                     struct raw_result *r);

/* ---- Wake-ups (wal_wake.c): what the WAL's sleeping sync waiters pay ------ */

#define WAL_WAKE_MAX 64

/* Two threads handing a futex word back and forth, each asleep until the
 * other wakes it: *wake_t is us per wake-up (half a round trip) with CPU ns
 * per wake-up, *floor_t the same two system calls without the sleep, and
 * *cs_per_wake the process's context switches per wake-up. */
int wal_wake_pingpong(double seconds, struct bench_trial *wake_t, struct bench_trial *floor_t,
                      double *cs_per_wake);
/* n threads (1..WAL_WAKE_MAX) asleep on one word, woken by one FUTEX_WAKE,
 * again and again for `seconds`: *last is the median us until the last of
 * them ran, *call the median us the waker spent in the call; both carry
 * the CPU ns per wake-up of the whole process while the fan-outs ran. */
int wal_wake_fanout(int n, double seconds, struct bench_trial *last, struct bench_trial *call);

#endif
