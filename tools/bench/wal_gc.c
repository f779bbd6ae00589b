/*
 * tools/bench/wal_gc.c: the group commit an engineer writes by hand instead
 * of using regio's WAL: a leader/follower commit over pwrite + fdatasync.
 *
 * Committers copy their record into the open buffer under one mutex. The
 * first one that finds no flush running becomes the leader: it takes the
 * buffer (swapping in the spare), pads it to the 4 KiB block that O_DIRECT
 * needs (as regio pads each flush), writes it at the file's next block and
 * fdatasyncs, then marks everything it took durable and wakes the rest; a
 * committer whose record came in meanwhile leads the next flush. The file is
 * preallocated and written once, and reused in a circle, as a recycled
 * segment is. No checksums, no recovery: the least such a log does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal_gc.h"

#define GC_BUF_BYTES  (1u << 20)
#define GC_FILE_BYTES (64u << 20)
#define GC_BLOCK      4096u

int gc_open(struct gc_log *g, const char *path)
{
    memset(g, 0, sizeof(*g));
    g->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
    if (g->fd < 0)
        return -errno;
    if (posix_memalign((void **)&g->buf, GC_BLOCK, GC_BUF_BYTES) != 0 ||
        posix_memalign((void **)&g->spare, GC_BLOCK, GC_BUF_BYTES) != 0)
        return -ENOMEM;
    memset(g->buf, 0, GC_BUF_BYTES);
    memset(g->spare, 0, GC_BUF_BYTES);
    for (size_t off = 0; off < GC_FILE_BYTES; off += GC_BUF_BYTES)
        if (pwrite(g->fd, g->buf, GC_BUF_BYTES, (off_t)off) != GC_BUF_BYTES)
            return -errno;
    if (fdatasync(g->fd) != 0)
        return -errno;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->path = path;
    return 0;
}

void gc_close(struct gc_log *g)
{
    if (g->fd >= 0)
        close(g->fd);
    if (g->path != NULL) {
        unlink(g->path);
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
    }
    free(g->buf);
    free(g->spare);
}

/* The leader's flush, outside the mutex: [0, fill) of its buffer. */
static int gc_flush(struct gc_log *g, char *buf, size_t fill)
{
    size_t len = (fill + GC_BLOCK - 1) / GC_BLOCK * GC_BLOCK;
    memset(buf + fill, 0, len - fill);
    if (g->off + len > GC_FILE_BYTES)
        g->off = 0;
    if (pwrite(g->fd, buf, len, (off_t)g->off) != (ssize_t)len || fdatasync(g->fd) != 0)
        return -errno;
    g->off += len;
    g->syncs++;
    return 0;
}

int gc_commit(struct gc_log *g, const void *rec, size_t len)
{
    pthread_mutex_lock(&g->mu);
    /* A full buffer waits for the flush in progress to hand over the spare. */
    while (g->fill + len > GC_BUF_BYTES && g->err == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    memcpy(g->buf + g->fill, rec, len);
    g->fill += len;
    uint64_t mine = ++g->appended;
    while (g->durable < mine && g->err == 0) {
        if (g->leading) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        g->leading = true;
        char *buf = g->buf;
        size_t fill = g->fill;
        uint64_t upto = g->appended;
        g->buf = g->spare;
        g->fill = 0;
        pthread_mutex_unlock(&g->mu);
        int err = gc_flush(g, buf, fill);
        pthread_mutex_lock(&g->mu);
        g->spare = buf;
        g->leading = false;
        if (err != 0)
            g->err = err;
        else
            g->durable = upto;
        pthread_cond_broadcast(&g->cv);
    }
    int err = g->err;
    pthread_mutex_unlock(&g->mu);
    return err;
}
