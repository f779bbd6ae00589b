/*
 * wal/wal_sync_probe.c: how the log makes a flush durable on this device,
 * chosen at open by a short probe (regio_wal_opts.sync_method = AUTO).
 *
 * The log can end each flush in one of two ways: writes that carry
 * RWF_DSYNC, or plain writes followed by a linked fdatasync. Which is faster
 * depends on the device and is not knowable from sysfs: on a disk with FUA,
 * RWF_DSYNC is one command; without FUA the kernel turns it into a write and
 * a cache flush, and some consumer SSDs have been measured 2.4x slower with
 * RWF_DSYNC than with write + fsync. So the open times both, five times
 * each and alternating, on 4 KiB O_DIRECT overwrites of an unnamed file
 * (O_TMPFILE) in the log's directory, and compares their best times: on a
 * shared machine interference only ever adds time, so the minimum is the
 * device. The file has no name, so a crash leaves nothing behind. Cost:
 * eleven syncs (one to allocate the file, then ten), a few milliseconds on
 * a slow disk.
 *
 * Write + fdatasync is chosen only when it is clearly faster, its best time
 * under 3/4 of RWF_DSYNC's: the log's fdatasync is a second request that
 * io_uring always hands to an io-wq worker, which the probe's plain system
 * calls do not pay, and on a device where the two are close the choice
 * flipped from one open to the next (regio-bench wal, "sync_method AUTO:
 * the probe's choice": 6 of 9 opens one way) while the log with RWF_DSYNC
 * was the faster in the same rounds. The devices the choice is for differ
 * by far more (2.4x above).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wal_internal.h"

#define PROBE_BLOCK  4096u
#define PROBE_BLOCKS 4u
#define PROBE_ROUNDS 5

static int probe_write(int fd, void *buf, off_t off, bool dsync, int64_t *ns)
{
    /* O_DIRECT-aligned, and inside the blocks written first: overwrites. */
    REGIO_ASSERT(off % PROBE_BLOCK == 0 && off < (off_t)(PROBE_BLOCK * PROBE_BLOCKS));
    struct iovec iov = {buf, PROBE_BLOCK};
    int64_t t0 = regio__now_ns();
    ssize_t n = pwritev2(fd, &iov, 1, off, dsync ? RWF_DSYNC : 0);
    if (n == (ssize_t)PROBE_BLOCK && !dsync && fdatasync(fd) != 0)
        return -errno;
    if (n != (ssize_t)PROBE_BLOCK)
        return n < 0 ? -errno : -EIO;
    *ns = regio__now_ns() - t0;
    REGIO_ASSERT(*ns >= 0); /* a monotonic clock */
    return 0;
}

int regio__wal_probe_sync(int dir_fd, int64_t *dsync_ns, int64_t *fdatasync_ns)
{
    int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    void *buf = NULL;
    if (posix_memalign(&buf, PROBE_BLOCK, PROBE_BLOCK * PROBE_BLOCKS) != 0) {
        close(fd);
        return -ENOMEM;
    }
    memset(buf, 0, PROBE_BLOCK * PROBE_BLOCKS);
    /* Allocated and written once: the probe's writes are overwrites, as a
     * recycled segment's are. */
    int err = 0;
    if (pwrite(fd, buf, PROBE_BLOCK * PROBE_BLOCKS, 0) != (ssize_t)(PROBE_BLOCK * PROBE_BLOCKS) ||
        fdatasync(fd) != 0)
        err = errno ? -errno : -EIO;
    int64_t best[2] = {INT64_MAX, INT64_MAX};
    for (int r = 0; r < PROBE_ROUNDS && err == 0; r++) {
        for (int k = 0; k < 2 && err == 0; k++) {
            bool dsync = (r + k) % 2 == 0; /* alternate which goes first */
            int64_t ns = 0;
            off_t off = (off_t)(((unsigned)(r * 2 + k) % PROBE_BLOCKS) * PROBE_BLOCK);
            err = probe_write(fd, buf, off, dsync, &ns);
            if (err == 0 && ns < best[dsync ? 0 : 1])
                best[dsync ? 0 : 1] = ns;
        }
    }
    free(buf);
    close(fd);
    if (err != 0)
        return err;
    REGIO_ASSERT(best[0] != INT64_MAX && best[1] != INT64_MAX); /* both were measured */
    *dsync_ns = best[0];
    *fdatasync_ns = best[1];
    return 0;
}

bool regio__wal_probe_prefers_fdatasync(int64_t dsync_ns, int64_t fdatasync_ns)
{
    REGIO_ASSERT(dsync_ns >= 0 && fdatasync_ns >= 0);
    /* f < d * 3/4 in integers; probe times are far below 2^61 ns. */
    return fdatasync_ns * 4 < dsync_ns * 3;
}

void regio__wal_choose_sync(struct regio_wal *w)
{
    /* After recovery: the probe's file goes into the log's own directory. */
    REGIO_ASSERT(w->dir_fd >= 0 && w->lock_fd >= 0);
    enum regio_wal_sync_method m = w->opts.sync_method;
    w->probe_dsync_ns = w->probe_fdatasync_ns = 0;
    if (m == REGIO_WAL_SYNC_AUTO) {
        int64_t d, f;
        /* No probe possible (a filesystem without O_TMPFILE or O_DIRECT):
         * RWF_DSYNC, one request per write. */
        if (regio__wal_probe_sync(w->dir_fd, &d, &f) == 0) {
            w->probe_dsync_ns = (uint64_t)d;
            w->probe_fdatasync_ns = (uint64_t)f;
            m = regio__wal_probe_prefers_fdatasync(d, f) ? REGIO_WAL_SYNC_FDATASYNC
                                                         : REGIO_WAL_SYNC_DSYNC;
        } else {
            m = REGIO_WAL_SYNC_DSYNC;
        }
    }
    REGIO_ASSERT(m == REGIO_WAL_SYNC_DSYNC || m == REGIO_WAL_SYNC_FDATASYNC); /* AUTO resolved */
    w->sync_method = m;
    w->dsync_writes = m == REGIO_WAL_SYNC_DSYNC;
}
