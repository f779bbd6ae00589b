/*
 * tools/bench/open.c: "open", what a command-line database pays for its log
 * on every command: creating a WAL, and reopening a cleanly closed one that
 * holds one record (regio_wal_open until it returns; spares are prepared
 * after that, by the WAL's thread).
 *
 * Baselines, in the same run, are the floors of a crash-safe log on the same
 * filesystem, done with plain system calls:
 *   create: make the directory, allocate a segment file of the same size
 *           (fallocate), fsync it, rename it into place, write a control
 *           file (write, fsync, rename, fsync the directory);
 *   reopen: read the control file and write it back with a new epoch
 *           (write, fsync, rename, fsync the directory), which is what
 *           makes an open's epoch durable before any record of it.
 * After a clean close regio defers that write to the open's first flush
 * (docs/format.md, "Why the lazy write is safe"), so a third row measures
 * where the cost went: reopen and one durable 100-byte append, against the
 * reopen floor plus one 4 KiB write + fdatasync into the segment file.
 * Paired rounds (bench.h): the ratio is floor/regio, so 1.0 means regio
 * costs no more than the floor. CPU per open counts every thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "regio.h"

#define SEG_BYTES (64ull << 20)

/* Remove dir and the files in it (a log directory has no subdirectory). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

/* Write name in dir crash-safely: tmp file, fsync, rename, fsync dir. */
static int write_durable(int dfd, const char *name, const void *buf, size_t len)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int err = pwrite(fd, buf, len, 0) == (ssize_t)len && fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    if (err == 0 && renameat(dfd, tmp, dfd, name) != 0)
        err = -errno;
    if (err == 0 && fsync(dfd) != 0)
        err = -errno;
    return err;
}

static int floor_create(const char *dir)
{
    static char ctl[4096];
    if (mkdir(dir, 0700) != 0)
        return -errno;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int fd = openat(dfd, "seg.tmp", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int err = fd < 0 ? -errno : 0;
    if (err == 0 && (fallocate(fd, 0, 0, (off_t)SEG_BYTES) != 0 || fsync(fd) != 0))
        err = -errno;
    if (fd >= 0)
        close(fd);
    if (err == 0 && renameat(dfd, "seg.tmp", dfd, "seg") != 0)
        err = -errno;
    if (err == 0)
        err = write_durable(dfd, "ctl", ctl, sizeof(ctl));
    close(dfd);
    return err;
}

static int floor_reopen(const char *dir)
{
    static char ctl[4096];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int fd = openat(dfd, "ctl", O_RDONLY | O_CLOEXEC);
    int err = fd < 0 || pread(fd, ctl, sizeof(ctl), 0) < 0 ? -errno : 0;
    if (fd >= 0)
        close(fd);
    ctl[0]++; /* the new epoch */
    if (err == 0)
        err = write_durable(dfd, "ctl", ctl, sizeof(ctl));
    close(dfd);
    return err;
}

/* One timed call: its wall ms and CPU ns in *t, or the error. */
struct timed {
    struct bench_trial t;
    int err;
};

static struct timed regio_create(const char *dir, bool one_record)
{
    struct regio_wal_opts o = {.create = true};
    struct regio_wal *w;
    struct bench_clock c;
    int64_t cpu;
    bench_clock_start(&c);
    int err = regio_wal_open(dir, &o, &w, NULL);
    int64_t ns = bench_clock_stop(&c, &cpu);
    if (err == 0 && one_record) {
        uint64_t lsn;
        err = regio_wal_append(w, "one record", 10, &lsn);
        if (err == 0)
            err = regio_wal_sync(w, lsn);
    }
    if (err == 0)
        err = regio_wal_close(w);
    return (struct timed){{(double)ns / 1e6, (double)cpu}, err};
}

static struct timed regio_reopen(const char *dir)
{
    struct regio_wal_opts o = {.no_create_log = true};
    struct regio_wal *w;
    struct regio_wal_recovery info;
    struct bench_clock c;
    int64_t cpu;
    bench_clock_start(&c);
    int err = regio_wal_open(dir, &o, &w, &info);
    int64_t ns = bench_clock_stop(&c, &cpu);
    if (err == 0) {
        int cerr = regio_wal_close(w);
        err = info.end != REGIO_WAL_END_CLEAN ? -EBADMSG : cerr;
    }
    return (struct timed){{(double)ns / 1e6, (double)cpu}, err};
}

/* Reopen and append one record, durable: until regio_wal_sync returns. */
static struct timed regio_reopen_append(const char *dir)
{
    struct regio_wal_opts o = {.no_create_log = true};
    struct regio_wal *w = NULL;
    struct bench_clock c;
    int64_t cpu;
    bench_clock_start(&c);
    int err = regio_wal_open(dir, &o, &w, NULL);
    uint64_t lsn;
    if (err == 0)
        err = regio_wal_append(w, "one record", 10, &lsn);
    if (err == 0)
        err = regio_wal_sync(w, lsn);
    int64_t ns = bench_clock_stop(&c, &cpu);
    if (w != NULL) {
        int cerr = regio_wal_close(w);
        err = err != 0 ? err : cerr;
    }
    return (struct timed){{(double)ns / 1e6, (double)cpu}, err};
}

/* The reopen floor, then one 4 KiB block written and made durable. */
static int floor_reopen_append(const char *dir)
{
    static char block[4096];
    int err = floor_reopen(dir);
    int dfd = err == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    int fd = dfd >= 0 ? openat(dfd, "seg", O_WRONLY | O_CLOEXEC) : -1;
    if (err == 0 && (fd < 0 || pwrite(fd, block, sizeof(block), 4096) != (ssize_t)sizeof(block) ||
                     fdatasync(fd) != 0))
        err = -errno;
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    return err;
}

enum floor_kind { FLOOR_CREATE, FLOOR_REOPEN, FLOOR_REOPEN_APPEND };

static struct timed floor_timed(const char *dir, enum floor_kind k)
{
    struct bench_clock c;
    int64_t cpu;
    bench_clock_start(&c);
    int err = k == FLOOR_CREATE   ? floor_create(dir)
              : k == FLOOR_REOPEN ? floor_reopen(dir)
                                  : floor_reopen_append(dir);
    int64_t ns = bench_clock_stop(&c, &cpu);
    return (struct timed){{(double)ns / 1e6, (double)cpu}, err};
}

/* One round of the three rows; regio first in even rounds. */
static int round_once(const struct bench_ctx *ctx, int k, struct bench_pair *create,
                      struct bench_pair *reopen, struct bench_pair *append)
{
    char rdir[4200], fdir[4200];
    snprintf(rdir, sizeof(rdir), "%s/regio-bench-open-%d-r", ctx->dir, (int)getpid());
    snprintf(fdir, sizeof(fdir), "%s/regio-bench-open-%d-f", ctx->dir, (int)getpid());
    remove_dir(rdir);
    remove_dir(fdir);
    struct timed rc, fc, rr = {{0, 0}, 0}, fr = {{0, 0}, 0}, ra = {{0, 0}, 0}, fa = {{0, 0}, 0};
    if (k % 2 == 0) {
        rc = regio_create(rdir, true);
        fc = floor_timed(fdir, FLOOR_CREATE);
    } else {
        fc = floor_timed(fdir, FLOOR_CREATE);
        rc = regio_create(rdir, true);
    }
    if (rc.err == 0 && fc.err == 0) {
        if (k % 2 == 0) {
            rr = regio_reopen(rdir);
            fr = floor_timed(fdir, FLOOR_REOPEN);
            ra = regio_reopen_append(rdir);
            fa = floor_timed(fdir, FLOOR_REOPEN_APPEND);
        } else {
            fa = floor_timed(fdir, FLOOR_REOPEN_APPEND);
            ra = regio_reopen_append(rdir);
            fr = floor_timed(fdir, FLOOR_REOPEN);
            rr = regio_reopen(rdir);
        }
    }
    remove_dir(rdir);
    remove_dir(fdir);
    int err = rc.err   ? rc.err
              : fc.err ? fc.err
              : rr.err ? rr.err
              : fr.err ? fr.err
              : ra.err ? ra.err
                       : fa.err;
    if (err != 0) {
        bench_note(ctx, "open: round %d failed: %s %s", k, regio_strerror(err),
                   regio_error_detail());
        return err;
    }
    bench_pair_add(create, rc.t, fc.t);
    bench_pair_add(reopen, rr.t, fr.t);
    bench_pair_add(append, ra.t, fa.t);
    return 0;
}

static int bench_open(const struct bench_ctx *ctx)
{
    static struct bench_pair create, reopen, append;
    memset(&create, 0, sizeof(create));
    memset(&reopen, 0, sizeof(reopen));
    memset(&append, 0, sizeof(append));
    for (int k = 0; bench_pair_more(ctx, &create, false) || bench_pair_more(ctx, &reopen, false) ||
                    bench_pair_more(ctx, &append, false);
         k++) {
        int err = round_once(ctx, k, &create, &reopen, &append);
        if (err != 0)
            return err;
    }
    bench_pair_row(ctx, "open", "create (64 MiB segments)", "ms", false, &create,
                   "floor: fallocate+fsync+rename+ctl", "target <= 20 ms (issue 19)");
    bench_pair_row(ctx, "open", "reopen clean, 1 record", "ms", false, &reopen,
                   "floor: ctl rewrite+fsyncs",
                   "target <= 5 ms (issue 19); regio writes the control file at the first "
                   "flush, the floor at open");
    bench_pair_row(ctx, "open", "reopen clean + 1 durable append", "ms", false, &append,
                   "floor: ctl rewrite+fsyncs, 4K write+fdatasync",
                   "where the reopen's control file write went");
    return 0;
}

BENCH_REGISTER("open",
               "create a WAL, reopen a clean one: regio_wal_open against the crash-safe floor",
               bench_open)
