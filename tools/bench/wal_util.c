/*
 * tools/bench/wal_util.c: the WAL benchmarks' shared parts (wal_util.h).
 *
 * The raw loops are what an engineer writes by hand for durable appends to
 * a preallocated file, in each of the four ways Linux offers; which one is
 * fastest depends on the device (a drive with a volatile cache and no FUA
 * turns RWF_DSYNC into write + flush, one with FUA makes it a single
 * command), so all four run in the same round and the best is the baseline.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wal_util.h"

const char *const raw_mode_name[RAW_MODES_ALL] = {
    "pwrite+fdatasync",         "O_DSYNC pwrite",
    "pwritev2 RWF_DSYNC",       "io_uring write+linked fsync",
    "io_uring write RWF_DSYNC", "io_uring write RWF_DSYNC, submit and wait apart"};

int64_t wal_context_switches(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0;
    return (int64_t)u.ru_nvcsw + (int64_t)u.ru_nivcsw;
}

static void *checkpointer_main(void *arg)
{
    struct wal_checkpointer *c = arg;
    uint64_t last = regio_wal_durable_lsn(c->w);
    while (!atomic_load(&c->stop)) {
        usleep(2000);
        uint64_t d = regio_wal_durable_lsn(c->w);
        if (d < last + c->every_bytes)
            continue;
        int rc = regio_wal_set_checkpoint(c->w, d);
        if (rc == 0)
            rc = regio_wal_truncate_before(c->w, d);
        if (rc < 0) {
            c->err = rc;
            return NULL;
        }
        c->checkpoints++;
        c->recycled += (uint64_t)rc;
        last = d;
    }
    return NULL;
}

void wal_checkpointer_start(struct wal_checkpointer *c, struct regio_wal *w, uint64_t every_bytes)
{
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->every_bytes = every_bytes;
    if (pthread_create(&c->th, NULL, checkpointer_main, c) != 0)
        c->err = -EAGAIN;
}

int wal_checkpointer_stop(struct wal_checkpointer *c)
{
    if (c->err == -EAGAIN)
        return c->err;
    atomic_store(&c->stop, true);
    pthread_join(c->th, NULL);
    return c->err;
}

void wal_rm(const char *dir)
{
    char cmd[1040]; /* rm -rf and quotes around a path of up to 1023 bytes */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "wal bench: could not remove %s\n", dir);
}

void wal_settle(void)
{
    sync();
    usleep(100000);
}

/*
 * Three segments' worth of large records, checkpointing and truncating as
 * the checkpointer does, so that the preparer has recycled files to reuse:
 * a fresh log's first segment switches would otherwise zero-fill whole new
 * segments in the background during the measured run, which no baseline
 * does (docs/decisions.md).
 */
static int warm_up(struct regio_wal *w, uint64_t seg_bytes)
{
    const size_t rec = 256 * 1024;
    uint8_t *buf = calloc(1, rec);
    if (buf == NULL)
        return -ENOMEM;
    memset(buf, 0xa5, rec);
    int rc = 0;
    uint64_t start = regio_wal_durable_lsn(w), last = start;
    while (rc >= 0 && regio_wal_durable_lsn(w) - start < 3 * seg_bytes) {
        uint64_t lsn;
        for (int i = 0; i < 8 && rc == 0; i++)
            rc = regio_wal_append(w, buf, rec, &lsn);
        if (rc == 0)
            rc = regio_wal_sync(w, lsn);
        uint64_t d = regio_wal_durable_lsn(w);
        if (rc == 0 && d - last >= seg_bytes / 2) {
            rc = regio_wal_set_checkpoint(w, d);
            if (rc == 0)
                rc = regio_wal_truncate_before(w, d); /* >= 0: segments recycled */
            rc = rc > 0 ? 0 : rc;
            last = d;
        }
    }
    free(buf);
    if (rc < 0)
        return rc;
    /* Let the preparer finish with the recycled files. */
    struct regio_wal_stats st;
    uint64_t used = 0;
    for (int i = 0; i < 400; i++) {
        regio_wal_stats(w, &st);
        if (i > 0 && st.segments_used == used)
            break;
        used = st.segments_used;
        usleep(20000);
    }
    return 0;
}

int wal_open_warm(const struct bench_ctx *ctx, const char *dir, const struct regio_wal_opts *opts,
                  struct regio_wal **out, uint64_t *seg_bytes_out)
{
    wal_rm(dir);
    wal_settle();
    struct regio_wal_opts o = *opts;
    o.create = true;
    if (ctx->quick && o.segment_bytes == 0)
        o.segment_bytes = 16u << 20;
    struct regio_wal *w;
    int rc = regio_wal_open(dir, &o, &w, NULL);
    if (rc != 0)
        return rc;
    /* The spares are zero-filled in the background: a long-running log has
     * them ready. */
    for (int i = 0; i < 2000; i++) {
        struct regio_wal_stats st;
        regio_wal_stats(w, &st);
        if (st.segments_used >= 3)
            break;
        usleep(5000);
    }
    uint64_t seg_bytes = o.segment_bytes ? o.segment_bytes : 64u << 20;
    rc = warm_up(w, seg_bytes);
    if (rc != 0) {
        regio_wal_close(w);
        return rc;
    }
    wal_settle(); /* the warm-up wrote three segments: let the device absorb them */
    *out = w;
    *seg_bytes_out = seg_bytes;
    return 0;
}

/* ---- Raw loops -------------------------------------------------------------- */

#define RAW_FILE_BYTES (64u << 20)

/*
 * A preallocated, written-once file (as the WAL's recycled segments are),
 * kept from call to call until raw_remove: filled only when it is shorter
 * than file_bytes. Filling it for every trial wrote up to 256 MiB just
 * before each raw trial, and the device was still absorbing them during
 * the trial after it: in the one-appender rounds a log that ran right after
 * a raw loop did 7 794 commits/s, the same log type that ran after another
 * log 8 389/s (both forced DSYNC, same rounds), and the gap went when each
 * trial had a discarded warm-up before it.
 */
static int raw_file(const char *path, int flags, size_t file_bytes, void **buf, size_t bytes)
{
    int fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC | flags, 0600);
    if (fd < 0)
        return -errno;
    size_t chunk = bytes > (1u << 20) ? bytes : (1u << 20);
    if (posix_memalign(buf, 4096, chunk) != 0) {
        close(fd);
        return -ENOMEM;
    }
    memset(*buf, 0x5a, chunk);
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= file_bytes)
        return fd;
    int fd2 = open(path, O_RDWR | O_DIRECT | O_CLOEXEC); /* fill without O_DSYNC */
    for (size_t off = 0; fd2 >= 0 && off < file_bytes; off += chunk)
        if (pwrite(fd2, *buf, chunk, (off_t)off) != (ssize_t)chunk)
            break;
    if (fd2 >= 0) {
        fdatasync(fd2);
        close(fd2);
    }
    return fd;
}

struct uring_writer {
    struct io_uring ring;
    bool ok;
};

/* Queue one WRITE_FIXED carrying RWF_DSYNC, as regio's DSYNC sync method
 * issues its flushes. */
static void prep_dsync_write(struct uring_writer *u, void *buf, size_t bytes, off_t off)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&u->ring);
    io_uring_prep_write_fixed(s, 0, buf, (unsigned)bytes, (uint64_t)off, 0);
    s->flags |= IOSQE_FIXED_FILE;
    s->rw_flags = RWF_DSYNC;
}

/* Consume the write's completion c: 0 when all bytes were written. */
static int write_result(struct uring_writer *u, struct io_uring_cqe *c, size_t bytes)
{
    int res = c->res;
    io_uring_cqe_seen(&u->ring, c);
    return res == (int)bytes ? 0 : res < 0 ? res : -EIO;
}

/* The shared engine's sleep for a completion (engine.c, block): the raw
 * io_uring_enter with a timeout slice (5 ms there), no submission. */
#define SPLIT_WAIT_SLICE_NS 5000000

/* The RWF_DSYNC write of uring_dsync_write, but submitted in one kernel
 * entry and waited for in a second, as the WAL's lone appender does: its
 * flush is submitted when issued, and the appender then sleeps in the
 * engine's wait. The difference to uring_dsync_write is what that second
 * entry costs on this machine and device. */
static int uring_dsync_split(struct uring_writer *u, void *buf, size_t bytes, off_t off)
{
    prep_dsync_write(u, buf, bytes, off);
    int rc = io_uring_submit(&u->ring);
    if (rc < 0)
        return rc;
    struct io_uring_cqe *c;
    while (io_uring_peek_cqe(&u->ring, &c) != 0) {
        struct __kernel_timespec ts = {0, SPLIT_WAIT_SLICE_NS};
        struct io_uring_getevents_arg arg = {.sigmask_sz = _NSIG / 8,
                                             .ts = (uint64_t)(uintptr_t)&ts};
        long r = syscall(__NR_io_uring_enter, u->ring.ring_fd, 0, 1,
                         IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
        if (r < 0 && errno != ETIME && errno != EINTR && errno != EAGAIN && errno != EBUSY)
            return -errno;
    }
    return write_result(u, c, bytes);
}

/* One WRITE_FIXED carrying RWF_DSYNC, as regio's DSYNC sync method issues
 * its flushes: the same I/O as pwritev2(RWF_DSYNC), through the ring (where
 * the kernel may hand it to an io-wq worker, since it can block). */
static int uring_dsync_write(struct uring_writer *u, void *buf, size_t bytes, off_t off)
{
    prep_dsync_write(u, buf, bytes, off);
    int rc = io_uring_submit_and_wait(&u->ring, 1);
    if (rc < 0)
        return rc;
    struct io_uring_cqe *c;
    rc = io_uring_wait_cqe(&u->ring, &c);
    if (rc < 0)
        return rc;
    return write_result(u, c, bytes);
}

static int uring_durable_write(struct uring_writer *u, void *buf, size_t bytes, off_t off)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&u->ring);
    io_uring_prep_write_fixed(s, 0, buf, (unsigned)bytes, (uint64_t)off, 0);
    s->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
    s = io_uring_get_sqe(&u->ring);
    io_uring_prep_fsync(s, 0, IORING_FSYNC_DATASYNC);
    s->flags |= IOSQE_FIXED_FILE;
    int rc = io_uring_submit_and_wait(&u->ring, 2);
    if (rc < 0)
        return rc;
    int err = 0;
    for (int i = 0; i < 2; i++) {
        struct io_uring_cqe *c;
        rc = io_uring_wait_cqe(&u->ring, &c);
        if (rc < 0)
            return rc;
        if (c->res < 0 && err == 0)
            err = c->res;
        io_uring_cqe_seen(&u->ring, c);
    }
    return err;
}

static int raw_write(int fd, struct uring_writer *u, enum raw_mode mode, void *buf, size_t bytes,
                     off_t off)
{
    struct iovec iov = {buf, bytes};
    switch (mode) {
    case RAW_FDATASYNC:
        if (pwrite(fd, buf, bytes, off) != (ssize_t)bytes || fdatasync(fd) != 0)
            return -errno;
        return 0;
    case RAW_ODSYNC:
        return pwrite(fd, buf, bytes, off) == (ssize_t)bytes ? 0 : -errno;
    case RAW_RWF_DSYNC:
        return pwritev2(fd, &iov, 1, off, RWF_DSYNC) == (ssize_t)bytes ? 0 : -errno;
    case RAW_URING_DSYNC:
        return uring_dsync_write(u, buf, bytes, off);
    case RAW_URING_DSYNC_SPLIT:
        return uring_dsync_split(u, buf, bytes, off);
    default:
        return uring_durable_write(u, buf, bytes, off);
    }
}

void raw_remove(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        fprintf(stderr, "wal bench: could not remove %s: %s\n", path, strerror(errno));
}

int raw_loop(const char *path, size_t bytes, enum raw_mode mode, double seconds,
             struct raw_result *r)
{
    void *buf = NULL;
    int fd = raw_file(path, mode == RAW_ODSYNC ? O_DSYNC : 0, RAW_FILE_BYTES, &buf, bytes);
    if (fd < 0)
        return fd;
    struct uring_writer u = {.ok = false};
    int rc = 0;
    if (mode == RAW_URING_LINKED || mode == RAW_URING_DSYNC || mode == RAW_URING_DSYNC_SPLIT) {
        /* The split loop's ring is set up as the WAL's shared engine sets
         * up its own (engine.c: cooperative task running, else plain). */
        struct io_uring_params p = {.flags =
                                        mode == RAW_URING_DSYNC_SPLIT
                                            ? IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL
                                            : 0};
        rc = io_uring_queue_init_params(8, &u.ring, &p);
        if (rc < 0 && p.flags != 0) {
            memset(&p, 0, sizeof(p));
            rc = io_uring_queue_init_params(8, &u.ring, &p);
        }
        struct iovec iov = {buf, bytes};
        if (rc == 0) {
            u.ok = true;
            rc = io_uring_register_buffers(&u.ring, &iov, 1);
        }
        if (rc == 0)
            rc = io_uring_register_files(&u.ring, &fd, 1);
    }
    size_t cap = 1u << 20, n = 0;
    int64_t *lat = malloc(cap * sizeof(int64_t));
    if (lat == NULL)
        rc = -ENOMEM;
    int64_t cs0 = wal_context_switches();
    struct bench_clock c;
    bench_clock_start(&c);
    int64_t deadline = c.wall_ns + (int64_t)(seconds * 1e9);
    size_t off = 0;
    while (rc == 0 && bench_now_ns() < deadline && n < cap) {
        int64_t t0 = bench_now_ns();
        rc = raw_write(fd, &u, mode, buf, bytes, (off_t)off);
        lat[n++] = bench_now_ns() - t0;
        off = (off + bytes) % RAW_FILE_BYTES;
    }
    int64_t cpu;
    int64_t wall = bench_clock_stop(&c, &cpu);
    r->ops = (double)n * 1e9 / (double)wall;
    r->cpu_ns = bench_per_op(cpu, (double)n);
    r->cs_per_op = n ? (double)(wal_context_switches() - cs0) / (double)n : NAN;
    r->p50_us = n ? (double)bench_percentile(lat, (int64_t)n, 0.5) / 1e3 : NAN;
    free(lat);
    if (u.ok)
        io_uring_queue_exit(&u.ring);
    free(buf);
    close(fd);
    return rc;
}

struct conc_writer {
    int fd;
    void *buf;
    size_t bytes, base, span;
    int64_t deadline_ns;
    uint64_t n;
    int err;
};

static void *conc_main(void *arg)
{
    struct conc_writer *d = arg;
    size_t off = 0;
    /* At least one write: on a crowded machine a thread may first run after
     * the deadline, and a trial where no writer wrote measures nothing. */
    do {
        if (pwrite(d->fd, d->buf, d->bytes, (off_t)(d->base + off)) != (ssize_t)d->bytes) {
            d->err = -errno;
            break;
        }
        d->n++;
        off = (off + d->bytes) % d->span;
    } while (bench_now_ns() < d->deadline_ns);
    return NULL;
}

int raw_concurrent(const char *path, size_t bytes, int n, double seconds, struct raw_result *r)
{
    /* Each writer's part holds whole writes; one file as the WAL has one. */
    size_t span = RAW_FILE_BYTES / (size_t)n / bytes * bytes;
    if (span < bytes)
        span = bytes;
    void *buf = NULL;
    int fd = raw_file(path, O_DSYNC, span * (size_t)n, &buf, bytes);
    if (fd < 0)
        return fd;
    struct conc_writer *d = calloc((size_t)n, sizeof(*d));
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    int rc = d == NULL || th == NULL ? -ENOMEM : 0;
    struct bench_clock c;
    bench_clock_start(&c);
    int started = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        d[i] = (struct conc_writer){.fd = fd,
                                    .buf = buf,
                                    .bytes = bytes,
                                    .base = (size_t)i * span,
                                    .span = span,
                                    .deadline_ns = c.wall_ns + (int64_t)(seconds * 1e9)};
        if (pthread_create(&th[i], NULL, conc_main, &d[i]) != 0)
            rc = -EAGAIN;
        else
            started++;
    }
    uint64_t total = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (d[i].err != 0)
            rc = d[i].err;
        total += d[i].n;
    }
    int64_t cpu;
    int64_t wall = bench_clock_stop(&c, &cpu);
    r->ops = (double)total * 1e9 / (double)wall;
    r->cpu_ns = bench_per_op(cpu, (double)total);
    r->p50_us = NAN;
    r->cs_per_op = NAN;
    free(d);
    free(th);
    free(buf);
    close(fd);
    return rc;
}

int raw_bandwidth(const char *path, double seconds, struct raw_result *r)
{
    /* 1 MiB O_DIRECT writes, 4 in flight through io_uring (the WAL keeps
     * two flushes in flight; a bulk writer keeps the queue fuller still),
     * made durable by an fdatasync every 16 MiB once the writes before it
     * completed: the most a sequential writer gets from the device. */
    enum { CHUNK = 1u << 20, DEPTH = 4, SYNC_EVERY = 16u << 20 };
    const size_t file_bytes = 256u << 20;
    void *buf = NULL;
    int fd = raw_file(path, 0, file_bytes, &buf, CHUNK);
    if (fd < 0)
        return fd;
    struct io_uring ring;
    int rc = io_uring_queue_init(2 * DEPTH, &ring, 0);
    if (rc < 0) {
        free(buf);
        close(fd);
        return rc;
    }
    struct iovec iov = {buf, CHUNK};
    rc = io_uring_register_buffers(&ring, &iov, 1);
    struct bench_clock c;
    bench_clock_start(&c);
    int64_t deadline = c.wall_ns + (int64_t)(seconds * 1e9);
    size_t off = 0;
    uint64_t bytes = 0;
    /* 16 MiB at a time: DEPTH writes in flight until all 16 completed,
     * then the fdatasync that makes them durable. */
    while (rc == 0 && bench_now_ns() < deadline) {
        unsigned submitted = 0, done = 0, group = SYNC_EVERY / CHUNK;
        while (rc == 0 && done < group) {
            while (submitted < group && submitted - done < DEPTH) {
                struct io_uring_sqe *s = io_uring_get_sqe(&ring);
                io_uring_prep_write_fixed(s, fd, buf, CHUNK, off, 0);
                off = (off + CHUNK) % file_bytes;
                submitted++;
            }
            rc = io_uring_submit_and_wait(&ring, 1);
            rc = rc < 0 ? rc : 0;
            struct io_uring_cqe *cqe;
            while (rc == 0 && io_uring_peek_cqe(&ring, &cqe) == 0) {
                if (cqe->res != (int)CHUNK)
                    rc = cqe->res < 0 ? cqe->res : -EIO;
                io_uring_cqe_seen(&ring, cqe);
                done++;
            }
        }
        if (rc == 0 && fdatasync(fd) != 0)
            rc = -errno;
        bytes += (uint64_t)done * CHUNK;
    }
    int64_t cpu;
    int64_t wall = bench_clock_stop(&c, &cpu);
    r->ops = (double)bytes * 1e9 / (double)wall;
    r->cpu_ns = bench_per_op(cpu, (double)bytes / CHUNK);
    r->p50_us = NAN;
    r->cs_per_op = NAN;
    io_uring_queue_exit(&ring);
    free(buf);
    close(fd);
    return rc;
}

int raw_flush_stream(const char *path, double seconds, size_t chunk, unsigned depth,
                     struct raw_result *r)
{
    /* The WAL's own write pattern without the WAL: sequential O_DIRECT
     * writes of chunk bytes, each durable by itself (RWF_DSYNC, the WAL's
     * default sync method), depth in flight (its max_flushes). */
    chunk = (chunk + 4095) / 4096 * 4096;
    if (chunk == 0 || chunk > (64u << 20) || depth == 0 || depth > 32)
        return -EINVAL;
    size_t file_bytes = chunk * 8 > (64u << 20) ? chunk * 8 : (64u << 20);
    file_bytes = file_bytes / chunk * chunk;
    void *buf = NULL;
    int fd = raw_file(path, 0, file_bytes, &buf, chunk);
    if (fd < 0)
        return fd;
    struct io_uring ring;
    int rc = io_uring_queue_init(2 * depth, &ring, 0);
    if (rc < 0) {
        free(buf);
        close(fd);
        return rc;
    }
    struct bench_clock c;
    bench_clock_start(&c);
    int64_t deadline = c.wall_ns + (int64_t)(seconds * 1e9);
    size_t off = 0;
    uint64_t bytes = 0, writes = 0;
    unsigned inflight = 0;
    while (rc == 0 && (bench_now_ns() < deadline || inflight > 0)) {
        while (inflight < depth && bench_now_ns() < deadline) {
            struct io_uring_sqe *s = io_uring_get_sqe(&ring);
            io_uring_prep_write(s, fd, buf, (unsigned)chunk, (uint64_t)off);
            s->rw_flags = RWF_DSYNC;
            off = (off + chunk) % file_bytes;
            inflight++;
        }
        rc = io_uring_submit_and_wait(&ring, 1);
        rc = rc < 0 ? rc : 0;
        struct io_uring_cqe *cqe;
        while (rc == 0 && io_uring_peek_cqe(&ring, &cqe) == 0) {
            if (cqe->res != (int)chunk)
                rc = cqe->res < 0 ? cqe->res : -EIO;
            io_uring_cqe_seen(&ring, cqe);
            inflight--;
            bytes += chunk;
            writes++;
        }
    }
    int64_t cpu;
    int64_t wall = bench_clock_stop(&c, &cpu);
    r->ops = (double)bytes * 1e9 / (double)wall;
    r->cpu_ns = bench_per_op(cpu, (double)writes);
    r->p50_us = NAN;
    r->cs_per_op = NAN;
    io_uring_queue_exit(&ring);
    free(buf);
    close(fd);
    return rc;
}
