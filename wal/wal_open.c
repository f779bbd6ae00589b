/*
 * wal/wal_open.c: the WAL's files: lock, control file, segment preparation
 * and recycling, and recovery (where the log ends, torn tail or corruption).
 * Everything here uses plain pread/pwrite/fsync: it runs before the commit
 * path starts (recovery) or beside it (spare preparation), never in it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal_internal.h"
#include "wal_judge.h"

uint64_t regio__wal_random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = (uint64_t)regio__now_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    return v | 1; /* never 0, so a salt is never confused with zeroed memory */
}

int regio__wal_fsync_dir(struct regio_wal *w)
{
    REGIO_ASSERT(w->dir_fd >= 0);
    return fsync(w->dir_fd) == 0 ? 0 : -errno;
}

/* Every file of an open log is reached through w->dir_fd, never by path:
 * a later chdir, or the directory renamed or deleted and re-created under
 * the same name, must not make the log write into another directory. */
static int open_in_dir(const struct regio_wal *w, const char *name, int flags)
{
    REGIO_ASSERT(w->dir_fd >= 0 && name != NULL);
    int fd = openat(w->dir_fd, name, flags | O_CLOEXEC, 0600);
    return fd >= 0 ? fd : -errno;
}

static int rename_in_dir(const struct regio_wal *w, const char *from, const char *to)
{
    REGIO_ASSERT(w->dir_fd >= 0 && strcmp(from, to) != 0); /* a self-rename moves nothing */
    return renameat(w->dir_fd, from, w->dir_fd, to) == 0 ? 0 : -errno;
}

/* A directory stream of the log's own directory (a fresh fd, so that its
 * offset is not w->dir_fd's). */
static DIR *open_dir_stream(const struct regio_wal *w)
{
    REGIO_ASSERT(w->dir_fd >= 0);
    int fd = openat(w->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL)
        close(fd);
    return d;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    REGIO_ASSERT(fd >= 0 && (len == 0 || buf != NULL));
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Drop what buffered reads and writes left of fd's file in the page cache
 * (clean pages only: callers have synced what they wrote). While a segment
 * has cached pages, every O_DIRECT write into it also invalidates the page
 * cache over its range, on the commit path (docs/decisions.md). */
static void drop_cache(int fd)
{
    REGIO_ASSERT(fd >= 0);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int regio__wal_write_control(struct regio_wal *w, const struct regio__wal_ctl_info *c)
{
    REGIO_ASSERT(c->epoch > 0 && c->block_bytes == w->block_bytes &&
                 c->segment_bytes == w->seg_bytes);
    uint8_t buf[REGIO__WAL_CTL_FILE_BYTES];
    regio__wal_encode_control(c, buf);
    int fd = open_in_dir(w, REGIO__WAL_CTL_TMP, O_WRONLY | O_CREAT | O_TRUNC);
    if (fd < 0)
        return fd;
    int err = pwrite_all(fd, buf, sizeof(buf), 0);
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    close(fd);
    if (err == 0)
        err = rename_in_dir(w, REGIO__WAL_CTL_TMP, REGIO__WAL_CTL_NAME);
    if (err == 0)
        err = regio__wal_fsync_dir(w);
    return err;
}

/*
 * The control file with this open's epoch, written before the first record
 * of the open reaches a segment: the judge ends the chain at any record
 * whose epoch is above the control file's (wal_judge.c, max_epoch), so a
 * record written first could be durable and acknowledged, and then cut. Until
 * then the file still says "closed cleanly at close_lsn" with the previous
 * epoch, which is the truth on disk: nothing of this open is in the chain
 * (docs/format.md, "Epochs").
 */
int regio__wal_persist_epoch(struct regio_wal *w)
{
    regio__lock(&w->ctl_mu);
    int err = 0;
    if (atomic_load(&w->epoch_pending)) {
        err = regio__wal_write_control(w, &w->ctl);
        if (err == 0)
            atomic_store(&w->epoch_pending, false);
    }
    regio__unlock(&w->ctl_mu);
    return err;
}

/* A zero-filled file of seg_bytes: written (not only allocated) so that later
 * O_DIRECT writes into it need no extent conversion at sync time. Written
 * through a second O_DIRECT descriptor where the filesystem allows it, so
 * that preparing a spare does not fill the page cache with pages the commit
 * path's O_DIRECT writes would then have to invalidate. */
static int zero_fill(const struct regio_wal *w, const char *name, int fd, uint64_t bytes)
{
    /* Whole 4 KiB blocks: the O_DIRECT writes need them. */
    REGIO_ASSERT(fd >= 0 && bytes > 0 && bytes % 4096 == 0);
    static const uint8_t zeros[65536] __attribute__((aligned(4096)));
    int dfd = open_in_dir(w, name, O_WRONLY | O_DIRECT);
    int wfd = dfd >= 0 ? dfd : fd;
    int err = 0;
    for (uint64_t off = 0; off < bytes && err == 0; off += sizeof(zeros)) {
        /* A close does not wait for a spare nobody will use: the file is
         * left short under its prep name, and the next preparation
         * rewrites it. */
        if (atomic_load(&w->stopping)) {
            err = -ECANCELED;
            break;
        }
        size_t n = bytes - off < sizeof(zeros) ? (size_t)(bytes - off) : sizeof(zeros);
        err = pwrite_all(wfd, zeros, n, off);
        if (err == -EINVAL && wfd == dfd) {
            wfd = fd; /* O_DIRECT refused this write: fall back to buffered */
            err = pwrite_all(wfd, zeros, n, off);
        }
    }
    if (dfd >= 0)
        close(dfd);
    return err;
}

/* Find a recycled file to reuse (its name into out); false when none. */
static bool find_recycled(struct regio_wal *w, char *out, size_t n)
{
    REGIO_ASSERT(out != NULL && n >= 32); /* room for a recycle-<segno>.tmp name */
    DIR *d = open_dir_stream(w);
    if (d == NULL)
        return false;
    bool found = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        /* A prep file left by a crash mid-preparation is reused the same way
         * (it is fully rewritten unless it already has the segment size). */
        bool reusable =
            strncmp(de->d_name, "recycle-", 8) == 0 || strncmp(de->d_name, "prep-", 5) == 0;
        /* Only a regular file is reused. Anything else under these names (a
         * FIFO or directory named like a stale segment, recycled as one) is
         * removed where it can be: preparing it would fail the log. */
        struct stat st;
        if (reusable && (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                         !S_ISREG(st.st_mode))) {
            (void)unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (reusable && strstr(de->d_name, ".tmp") != NULL && strlen(de->d_name) < n) {
            strcpy(out, de->d_name);
            found = true;
            break;
        }
    }
    closedir(d);
    return found;
}

/* Give a new file its full size without writing it: fallocate, or the
 * zero-fill where the filesystem has no fallocate. */
static int allocate_file(const struct regio_wal *w, const char *name, int fd, uint64_t bytes)
{
    REGIO_ASSERT(fd >= 0 && bytes > 0 && bytes <= (uint64_t)INT64_MAX); /* an off_t */
    if (fallocate(fd, 0, 0, (off_t)bytes) == 0)
        return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS)
        return -errno;
    return zero_fill(w, name, fd, bytes);
}

static int prepare_segment(struct regio_wal *w, uint64_t segno, bool allocate_only);

int regio__wal_prepare_segment(struct regio_wal *w, uint64_t segno)
{
    REGIO_ASSERT(w->seg_bytes > 0 && w->block_bytes >= 4096 && w->seg_bytes % w->block_bytes == 0);
    return prepare_segment(w, segno, false);
}

static int prepare_segment(struct regio_wal *w, uint64_t segno, bool allocate_only)
{
    char tmp[256], fin[32];
    regio__wal_segment_name(segno, fin);
    if (!find_recycled(w, tmp, sizeof(tmp)))
        snprintf(tmp, sizeof(tmp), "prep-%016llx.tmp", (unsigned long long)segno);
    int fd = open_in_dir(w, tmp, O_RDWR | O_CREAT);
    if (fd < 0)
        return fd;
    int err = 0;
    struct stat st;
    if (fstat(fd, &st) != 0)
        err = -errno;
    /* A recycled file keeps its old records: the new salt makes them fail
     * their checksums, so only a short or new file needs zero-filling. */
    bool zeroed = false;
    if (err == 0 && (uint64_t)st.st_size != w->seg_bytes && allocate_only) {
        /* Allocated space reads as zeros just as written zeros do. */
        err = allocate_file(w, tmp, fd, w->seg_bytes);
        zeroed = err == 0;
    } else if (err == 0 && (uint64_t)st.st_size != w->seg_bytes) {
        err = zero_fill(w, tmp, fd, w->seg_bytes);
        zeroed = err == 0;
        if (err == 0)
            atomic_fetch_add(&w->segments_zero_filled, 1);
    }
    struct regio__wal_segslot *ss = &w->segs[segno % w->seg_table_len];
    uint64_t salt = regio__wal_random64();
    if (err == 0) {
        uint8_t hdr[4096] = {0};
        struct regio__wal_seg_info si = {
            .segment_no = segno,
            .first_lsn = regio__wal_seg_first(w, segno),
            .segment_bytes = w->seg_bytes,
            .salt = salt,
            .window_bytes = w->ring_bytes,
            .epoch = w->epoch,
            .block_bytes = w->block_bytes,
            /* Recovery trusts that bytes nobody wrote read as zero here. */
            .flags = zeroed ? REGIO__WAL_SEG_ZERO_FILLED : 0,
        };
        regio__wal_encode_segment_header(&si, hdr);
        err = pwrite_all(fd, hdr, w->block_bytes < sizeof(hdr) ? w->block_bytes : sizeof(hdr), 0);
    }
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    if (err == 0)
        drop_cache(fd);
    close(fd);
    if (err == 0)
        err = rename_in_dir(w, tmp, fin);
    if (err == 0)
        err = regio__wal_fsync_dir(w);
    if (err == 0) {
        /* A slot of the table only ever moves on to a later segment. */
        REGIO_ASSERT(atomic_load_explicit(&ss->ready, memory_order_relaxed) < segno + 1);
        ss->salt = salt;
        ss->window_bytes = w->ring_bytes;
        atomic_store_explicit(&ss->ready, segno + 1, memory_order_release);
    }
    return err;
}

int regio__wal_recycle_segment(struct regio_wal *w, uint64_t segno)
{
    REGIO_ASSERT(w->dir_fd >= 0);
    char name[32], tname[64];
    regio__wal_segment_name(segno, name);
    snprintf(tname, sizeof(tname), "recycle-%016llx.tmp", (unsigned long long)segno);
    int err = rename_in_dir(w, name, tname);
    if (err == 0)
        err = regio__wal_fsync_dir(w);
    return err;
}

/* ---- Recovery ------------------------------------------------------------ */

static int lock_fd_or_busy(struct regio_wal *w, int fd, const char *what)
{
    REGIO_ASSERT(fd >= 0);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
    regio__set_detail("wal: %s is open elsewhere (%s held)", w->dir, what);
    return err;
}

/*
 * One writer per log. The lock that counts is on the directory itself: a
 * lock file can be unlinked while its holder runs, after which a second
 * process creates a new one, locks it and appends beside the first (two
 * writers, interleaved records, a corrupt log). The directory cannot go
 * while the log's files are in it, and a directory renamed away takes the
 * lock with it. Its own open file description (openat ".") so that the
 * lock does not depend on how dir_fd was opened. wal.lock is still locked
 * too, so that an older regio, which locks only that, is kept out as well.
 */
static int open_lock(struct regio_wal *w)
{
    w->dir_lock_fd = openat(w->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dir_lock_fd < 0) {
        int err = -errno;
        regio__set_detail("wal: cannot open %s to lock it: %s", w->dir, strerror(-err));
        return err;
    }
    int err = lock_fd_or_busy(w, w->dir_lock_fd, "directory lock");
    if (err != 0)
        return err;
    REGIO_ASSERT(w->lock_fd < 0); /* one lock per open */
    w->lock_fd = open_in_dir(w, REGIO__WAL_LOCK_NAME, O_RDWR | O_CREAT);
    if (w->lock_fd < 0) {
        err = w->lock_fd;
        w->lock_fd = -1;
        regio__set_detail("wal: cannot open %s/%s: %s", w->dir, REGIO__WAL_LOCK_NAME,
                          strerror(-err));
        return err;
    }
    return lock_fd_or_busy(w, w->lock_fd, "lock file");
}

/* Write a filler record (pad or segend) at lsn into segment file fd. */
static int write_filler_plain(struct regio_wal *w, int fd, const struct regio__wal_seg_info *si,
                              uint64_t lsn, uint64_t *next_out)
{
    REGIO_ASSERT(lsn % REGIO__WAL_REC_ALIGN == 0 && lsn / si->segment_bytes == si->segment_no);
    uint64_t base = si->segment_no * si->segment_bytes;
    uint64_t fe = regio__wal_round_up(lsn + REGIO__WAL_REC_HDR_BYTES, w->block_bytes);
    uint16_t type = REGIO__WAL_TYPE_PAD;
    if (fe >= base + si->segment_bytes) {
        fe = base + si->segment_bytes;
        type = REGIO__WAL_TYPE_SEGEND;
    }
    size_t total = (size_t)(fe - lsn);
    uint8_t *buf = calloc(1, total);
    if (buf == NULL)
        return -ENOMEM;
    /* The filler's payload is its span minus the header, all zero. */
    /* Everything before the cut is the log as recovered: the filler proves
     * it, so that later damage there is never taken for a torn tail. */
    regio__wal_encode_record(buf, si->salt, lsn, type, w->epoch,
                             (uint32_t)(total - REGIO__WAL_REC_HDR_BYTES),
                             regio__wal_proof(lsn, lsn, w->block_bytes));
    int err = pwrite_all(fd, buf, total, lsn - base);
    free(buf);
    *next_out = type == REGIO__WAL_TYPE_SEGEND ? regio__wal_seg_first(w, si->segment_no + 1) : fe;
    /* The filler ends the block: the next record starts on one. */
    REGIO_ASSERT(total >= REGIO__WAL_REC_HDR_BYTES && *next_out % w->block_bytes == 0);
    return err;
}

struct cut_plan {
    uint64_t at;       /* X */
    uint64_t zero_end; /* zero [new start, zero_end) in X's segment */
    bool clean;        /* a clean end: nothing of an earlier open can be unsynced */
};

/* Apply a cut at X: filler from X to the next block, zero the raced window
 * after it (and, for a salvaged short file, up to its full size, so that it
 * is a whole segment again), fsync. Returns where new records start. */
static int apply_cut(struct regio_wal *w, struct regio__wal_judge *j, const struct cut_plan *cp,
                     uint64_t *next_out)
{
    REGIO_ASSERT(cp->at <= cp->zero_end);
    struct regio__wal_seg_image *s = &j->segs[j->end_idx];
    if (!s->loaded) {
        int lerr = regio__wal_judge_load(j, s);
        if (lerr != 0)
            return lerr;
    }
    char name[32];
    regio__wal_segment_name(s->segno, name);
    int fd = open_in_dir(w, name, O_RDWR);
    if (fd < 0)
        return fd;
    int err = 0;
    uint64_t next = cp->at;
    bool wrote = cp->at % w->block_bytes != 0;
    if (wrote)
        err = write_filler_plain(w, fd, &s->si, cp->at, &next);
    uint64_t base = s->segno * s->si.segment_bytes;
    uint64_t zstart = next > base + s->si.segment_bytes ? base + s->si.segment_bytes : next;
    uint64_t zend =
        cp->zero_end > base + s->si.segment_bytes ? base + s->si.segment_bytes : cp->zero_end;
    /* The window is compared with zeros through the mapping: ask for it in
     * one read rather than fault it in page by page. */
    if (zstart < zend && zend - base <= s->len) {
        uintptr_t a = ((uintptr_t)s->data + (zstart - base)) & ~(uintptr_t)4095;
        madvise((void *)a, (uintptr_t)s->data + (zend - base) - a, MADV_WILLNEED);
    }
    static const uint8_t zeros[65536];
    for (uint64_t p = zstart; err == 0 && p < zend;) {
        size_t n = zend - p < sizeof(zeros) ? (size_t)(zend - p) : sizeof(zeros);
        bool dirty = p - base + n > s->len || memcmp(s->data + (p - base), zeros, n) != 0;
        if (dirty) {
            err = pwrite_all(fd, zeros, n, p - base);
            wrote = true;
        }
        p += n;
    }
    /* After a clean end with nothing written there is nothing to make
     * durable; after a crash the fsync also covers what an earlier,
     * interrupted recovery may have left in the page cache. */
    if (err == 0 && (wrote || !cp->clean) && fsync(fd) != 0)
        err = -errno;
    if (err == 0)
        drop_cache(fd);
    close(fd);
    /* New records start on a block: the filler fills the cut's block. */
    REGIO_ASSERT(err != 0 || next % w->block_bytes == 0);
    *next_out = next;
    return err;
}

static bool nonzero_between(const struct regio__wal_seg_image *s, uint64_t from, uint64_t to)
{
    REGIO_ASSERT(from >= s->segno * s->si.segment_bytes);
    uint64_t base = s->segno * s->si.segment_bytes;
    for (uint64_t p = from; p < to && p - base < s->len; p++)
        if (s->data[p - base] != 0)
            return true;
    return false;
}

/* Salvage keeps the valid prefix before X and drops everything from X on:
 * the damaged spot and every valid record found beyond it. */
static void report_salvage(const struct regio__wal_judge *j, struct regio_wal_recovery *info)
{
    REGIO_ASSERT(j->verdict == REGIO__WAL_V_CORRUPT && j->salvageable);
    info->end = REGIO_WAL_END_SALVAGED;
    /* The damaged spot counts as a record unless it is zeroed space. */
    bool zeroed = j->why != NULL && strcmp(j->why, "zeroed space") == 0;
    info->records_dropped = j->beyond_user + (zeroed ? 0 : 1);
    snprintf(info->detail, sizeof(info->detail),
             "salvaged at LSN %llu: %s; %s; dropped the damaged record and %llu valid caller "
             "record(s) after it",
             (unsigned long long)j->end, j->why ? j->why : "?", j->corrupt,
             (unsigned long long)j->beyond_user);
}

/* Turn the judge's verdict into the cut plan and the report (strict: torn
 * tail or -EBADMSG; salvage: keep the prefix or refuse); changes nothing on
 * disk. */
static int plan_cut(struct regio_wal *w, struct regio__wal_judge *j,
                    struct regio_wal_recovery *info, struct cut_plan *cp)
{
    /* A judged log with a control file: EMPTY is recovery's fresh start. */
    REGIO_ASSERT(j->have_ctl && j->verdict != REGIO__WAL_V_EMPTY && j->verdict != 0);
    bool corrupt = j->verdict == REGIO__WAL_V_CORRUPT;
    bool salvage = w->opts.recovery == REGIO_WAL_RECOVER_SALVAGE;
    if (corrupt && (!salvage || !j->salvageable)) {
        regio__wal_judge_detail(j, salvage ? "wal: salvage refused (no prefix to keep)" : "wal");
        return -EBADMSG;
    }
    struct regio__wal_seg_image *es = &j->segs[j->end_idx];
    uint64_t base = es->segno * es->si.segment_bytes;
    cp->at = j->end;
    cp->zero_end = j->end + j->window;
    if (j->furthest > cp->zero_end)
        cp->zero_end = j->furthest;
    /* A short file is filled back to its full size; a salvaged segment is
     * zeroed to its end, so that bytes nobody will write read as zero there
     * again (what a zero-filled segment promises recovery). */
    if (es->len < es->si.segment_bytes || corrupt)
        cp->zero_end = base + es->si.segment_bytes;
    /* Bytes past a clean close are no torn tail (what a recycled segment
     * held before, under another salt): nothing was cut, bytes_cut is 0. */
    bool clean_end = j->verdict == REGIO__WAL_V_CLEAN && !corrupt;
    cp->clean = clean_end;
    /* After a clean close no record of this segment's salt lies past the
     * close record: the close record was written last, after every flush
     * of its life had completed, and each earlier recovery cleared the
     * window past its own cut. So there is no raced window to clear, and
     * reading it (4 MiB compared with zeros) was most of a clean reopen's
     * reads. A short file is still filled back to its size. */
    if (clean_end && es->len >= es->si.segment_bytes)
        cp->zero_end = cp->at;
    bool had_bytes = !clean_end && nonzero_between(es, j->end, cp->zero_end);
    if (corrupt) {
        report_salvage(j, info);
    } else if (j->verdict == REGIO__WAL_V_CLEAN) {
        info->end = REGIO_WAL_END_CLEAN;
        snprintf(info->detail, sizeof(info->detail), "clean close at LSN %llu",
                 (unsigned long long)w->ctl.close_lsn);
    } else {
        info->end = REGIO_WAL_END_TORN;
        snprintf(info->detail, sizeof(info->detail),
                 "crash: log ends at LSN %llu (%s); %llu raced record(s) in the window cut",
                 (unsigned long long)j->end, j->why ? j->why : "?",
                 (unsigned long long)j->beyond_records);
    }
    uint64_t cut_end = cp->zero_end < j->furthest ? j->furthest : cp->zero_end;
    /* The zeroed range starts at the cut (a refused corruption returned). */
    REGIO_ASSERT(cp->at <= cp->zero_end && cp->at <= cut_end);
    info->bytes_cut = had_bytes || corrupt ? cut_end - j->end : 0;
    return 0;
}

/* Choose the padding unit for a new log: the larger of the DIO alignment
 * and the physical block size, at least 4 KiB. */
static uint32_t choose_block(struct regio_wal *w)
{
    uint32_t block = 4096;
    struct statx sx;
    if (statx(w->dir_fd, ".", 0, STATX_DIOALIGN | STATX_BASIC_STATS, &sx) == 0) {
        if ((sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align > block)
            block = sx.stx_dio_offset_align;
        if (sx.stx_blksize > block && sx.stx_blksize <= 65536)
            block = sx.stx_blksize;
    }
    REGIO_ASSERT(block >= 4096 && (block & (block - 1)) == 0); /* a power of two for O_DIRECT */
    return block;
}

static int new_log(struct regio_wal *w, struct regio_wal_recovery *info, uint64_t *next_out)
{
    if (w->opts.no_create_log) {
        regio__set_detail("wal: no log in %s", w->dir);
        return -ENOENT;
    }
    w->block_bytes = choose_block(w);
    w->seg_bytes = w->opts.segment_bytes ? w->opts.segment_bytes : 64ull * REGIO_MIB;
    if (w->seg_bytes % w->block_bytes != 0) {
        regio__set_detail("wal: segment_bytes %llu is not a multiple of the block (%u)",
                          (unsigned long long)w->seg_bytes, w->block_bytes);
        return -EINVAL;
    }
    memset(&w->ctl, 0, sizeof(w->ctl));
    w->ctl.version = REGIO__WAL_VERSION;
    w->ctl.block_bytes = w->block_bytes;
    w->ctl.segment_bytes = w->seg_bytes;
    info->end = REGIO_WAL_END_EMPTY;
    snprintf(info->detail, sizeof(info->detail), "new log");
    *next_out = regio__wal_seg_first(w, 0);
    w->first_segno = 0;
    REGIO_ASSERT(*next_out == w->block_bytes); /* after segment 0's header block */
    return 0;
}

/* Recover an existing log: the judge finds the chain, its end and the
 * verdict; turn it into the cut plan. */
static int existing_log(struct regio_wal *w, struct regio__wal_judge *j,
                        struct regio_wal_recovery *info, struct cut_plan *cp)
{
    w->block_bytes = w->ctl.block_bytes;
    w->seg_bytes = w->ctl.segment_bytes;
    int err = plan_cut(w, j, info, cp);
    if (err != 0)
        return err;
    /* The chain ends at or after its first segment: segments counts both. */
    REGIO_ASSERT(j->chain_first <= j->end_idx && j->end_idx < j->nsegs);
    w->first_segno = j->segs[j->chain_first].segno;
    w->end_si = j->segs[j->end_idx].si;
    info->segments = (uint32_t)(j->segs[j->end_idx].segno - w->first_segno + 1);
    info->records = j->records;
    info->start_lsn = j->start_lsn;
    return 0;
}

/* A stored checkpoint a reader cannot start at would make replay fail
 * after every open: ignore it (and forget it with the control file written
 * next), saying so in the report. Never fails the open. */
static void check_stored_checkpoint(struct regio_wal *w, struct regio_wal_recovery *info,
                                    uint64_t end)
{
    REGIO_ASSERT(w->dir_fd >= 0); /* the position is checked in the log's files */
    uint64_t ck = w->ctl.checkpoint_lsn;
    if (ck == 0)
        return;
    char why[300];
    if (ck > end) {
        /* Kept: the records up to it were durable and are gone, which the
         * caller must hear about rather than have replay start earlier. */
        size_t used = strlen(info->detail);
        snprintf(info->detail + used, sizeof(info->detail) - used,
                 "; checkpoint LSN %llu lies past the recovered end", (unsigned long long)ck);
        return;
    }
    if (regio__wal_check_position(w->dir_fd, ck) != 0) {
        snprintf(why, sizeof(why), "%s", regio_error_detail());
    } else {
        return;
    }
    regio__clear_detail();
    info->checkpoint_ignored_lsn = ck;
    w->ctl.checkpoint_lsn = 0;
    size_t used = strlen(info->detail);
    snprintf(info->detail + used, sizeof(info->detail) - used,
             "; stored checkpoint LSN %llu ignored (%s)", (unsigned long long)ck, why);
}

/* The buffer ring must fit a segment twice over, so that every record
 * fits and at most one segment switch is in flight. */
static int check_geometry(struct regio_wal *w)
{
    REGIO_ASSERT(w->ring_bytes == REGIO__WAL_PIECES * w->piece_bytes && w->block_bytes > 0);
    if (w->piece_bytes % w->block_bytes != 0 || w->piece_bytes < w->block_bytes ||
        w->seg_bytes < 2 * w->ring_bytes + 4ull * w->block_bytes) {
        regio__set_detail("wal: buffer_bytes %llu must be a multiple of the block (%u), and "
                          "segment_bytes %llu at least twice 4 buffers plus 4 blocks",
                          (unsigned long long)w->piece_bytes, w->block_bytes,
                          (unsigned long long)w->seg_bytes);
        return -EINVAL;
    }
    return 0;
}

/* Segments after the end become spares: they are renamed to recycle names,
 * and the preparer gives each a fresh salt before use, so nothing they held
 * can be taken for a record of this log again. */
static int recycle_after(struct regio_wal *w, const struct regio__wal_judge *j, uint64_t end_segno)
{
    REGIO_ASSERT(end_segno >= w->first_segno);
    for (uint32_t i = 0; i < j->nsegs; i++) {
        if (j->segs[i].segno <= end_segno)
            continue;
        int err = regio__wal_recycle_segment(w, j->segs[i].segno);
        if (err != 0)
            return err;
    }
    return 0;
}

/* A new log: segment 0 prepared and installed, then the control file with
 * the first epoch; both durable before any record can be written. */
int regio__wal_create_first_segment(struct regio_wal *w)
{
    REGIO_ASSERT(w->fresh_log && w->ctl.epoch == w->epoch);
    /* Allocated, not zero-filled: writing 64 MiB of zeros made creating a
     * log take a quarter of a second. The price is that commits into this
     * first segment convert unwritten extents at sync time; every later
     * segment is zero-filled by the preparer thread, after open returned. */
    int err = prepare_segment(w, 0, true);
    /* Segment 0 is in place before the control file names the log. */
    REGIO_ASSERT(err != 0 || atomic_load(&w->segs[0].ready) == 1);
    if (err == 0)
        err = regio__wal_write_control(w, &w->ctl);
    return err;
}

/* Recover or create, take the new epoch (durably, before any record of it is
 * written), cut the torn tail. */
int regio__wal_recover(struct regio_wal *w, struct regio_wal_recovery *info)
{
    REGIO_ASSERT(w->dir != NULL && w->dir_fd >= 0);
    memset(info, 0, sizeof(*info));
    int err = open_lock(w);
    if (err != 0)
        return err;
    /* Recovery reads and cuts only what no other process writes. */
    REGIO_ASSERT(w->dir_lock_fd >= 0 && w->lock_fd >= 0);
    /* Only what the decoder says now may go into the message below, never
     * the detail of an earlier failure on this thread (nor of the judge,
     * which reads the segments after it). */
    regio__clear_detail();
    int cerr = regio__wal_read_control_at(w->dir_fd, &w->ctl);
    char ctl_why[256];
    snprintf(ctl_why, sizeof(ctl_why), "%s",
             regio_error_detail()[0] != '\0' ? regio_error_detail()
             : cerr == -ENOENT               ? "missing, with segments present"
                                             : "unreadable");
    struct regio__wal_judge j = {.dir_fd = w->dir_fd, .dir = w->dir, .have_ctl = cerr == 0};
    j.ctl = w->ctl;
    int jerr = cerr == 0 || cerr == -ENOENT ? regio__wal_judge_run(&j) : 0;
    if (jerr != 0 && jerr != -ENOENT) {
        regio__wal_judge_free(&j);
        return jerr;
    }
    uint64_t next = 0;
    struct cut_plan cp = {0};
    bool fresh = false;
    if (cerr == -ENOENT && jerr == 0 && j.verdict == REGIO__WAL_V_EMPTY) {
        /* Segment 0 was installed but the control file never written: open
         * returns only after both, so no record can exist. Start afresh,
         * reusing the file as a spare. */
        err = regio__wal_recycle_segment(w, 0);
        if (err != 0) {
            regio__wal_judge_free(&j);
            return err;
        }
        jerr = -ENOENT;
    }
    if (cerr == -ENOENT && jerr == -ENOENT) {
        fresh = true;
        err = new_log(w, info, &next);
    } else if (cerr != 0) {
        /* Keep what the decoder found (unknown version, bad checksum, ...). */
        regio__set_detail("wal: control file of %s: %s (%s)", w->dir, ctl_why,
                          regio_strerror(cerr));
        err = cerr == -ENOENT ? -EBADMSG : cerr;
    } else if (jerr == -ENOENT) {
        regio__set_detail("wal: control file present but no valid segment");
        err = -EBADMSG;
    } else {
        err = existing_log(w, &j, info, &cp);
    }
    if (err == 0)
        err = check_geometry(w);
    if (err == 0 && !fresh)
        check_stored_checkpoint(w, info, j.end);
    if (err == 0) {
        w->epoch = w->ctl.epoch + 1;
        w->ctl.epoch = w->epoch;
        w->ctl.flags = 0;
        w->ctl.close_lsn = 0;
        /* A new log writes its control file only after segment 0 is in
         * place (regio__wal_create_first_segment), so that a control file
         * without a valid segment always means damage. After a clean close
         * it is written later, before the first record (epoch_pending);
         * after a crash now, since the cut below writes with the new epoch,
         * and when a stored checkpoint was ignored, which it forgets. */
        if (!fresh && info->end == REGIO_WAL_END_CLEAN && info->checkpoint_ignored_lsn == 0)
            atomic_store(&w->epoch_pending, true);
        else if (!fresh)
            err = regio__wal_write_control(w, &w->ctl);
    }
    w->fresh_log = fresh;
    if (err == 0 && !fresh)
        err = apply_cut(w, &j, &cp, &next);
    if (err == 0 && !fresh)
        err = recycle_after(w, &j, j.segs[j.end_idx].segno);
    regio__wal_judge_free(&j);
    if (err != 0)
        return err;
    w->has_end_si = !fresh;
    /* Appends start at a record boundary after a segment's header block,
     * under an epoch no earlier open used. */
    REGIO_ASSERT(next % REGIO__WAL_REC_ALIGN == 0 && next % w->seg_bytes >= w->block_bytes &&
                 w->epoch > 0);
    info->epoch = w->epoch;
    info->end_lsn = next;
    info->checkpoint_lsn = w->ctl.checkpoint_lsn;
    atomic_store(&w->insert_pos, next);
    w->opened_at = next;
    return 0;
}
