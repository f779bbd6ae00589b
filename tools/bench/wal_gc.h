/*
 * tools/bench/wal_gc.h: a hand-written leader/follower group commit over
 * pwrite + fdatasync, the WAL bench's reference (see wal_gc.c).
 */
#ifndef REGIO_BENCH_WAL_GC_H
#define REGIO_BENCH_WAL_GC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gc_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    const char *path;
    char *buf, *spare; /* the open buffer, and the one being written */
    size_t fill;       /* bytes in buf */
    uint64_t appended; /* records committed to buf so far */
    uint64_t durable;  /* records durable */
    bool leading;      /* a flush is running */
    size_t off;        /* the next flush's file offset (leader only) */
    uint64_t syncs;    /* leader only */
    int err;
};

/* A preallocated 64 MiB file at path; gc_close removes it. */
int gc_open(struct gc_log *g, const char *path);
void gc_close(struct gc_log *g);
/* Append rec and return once it is durable. */
int gc_commit(struct gc_log *g, const void *rec, size_t len);

#endif
