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
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal_internal.h"

uint64_t regio__wal_random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = (uint64_t)regio__now_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    return v | 1; /* never 0, so a salt is never confused with zeroed memory */
}

int regio__wal_fsync_dir(struct regio_wal *w)
{
    return fsync(w->dir_fd) == 0 ? 0 : -errno;
}

static int path_of(const struct regio_wal *w, const char *name, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/%s", w->dir, name);
    return len > 0 && (size_t)len < n ? 0 : -ENAMETOOLONG;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
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
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
    uint8_t *p = buf;
    size_t total = 0;
    while (total < len) {
        ssize_t n = pread(fd, p + total, len - total, (off_t)(off + total));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    *got = total;
    return 0;
}

int regio__wal_write_control(struct regio_wal *w, const struct regio__wal_ctl_info *c)
{
    char tmp[4096], fin[4096];
    uint8_t buf[REGIO__WAL_CTL_FILE_BYTES];
    int err = path_of(w, REGIO__WAL_CTL_TMP, tmp, sizeof(tmp));
    if (err == 0)
        err = path_of(w, REGIO__WAL_CTL_NAME, fin, sizeof(fin));
    if (err != 0)
        return err;
    regio__wal_encode_control(c, buf);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    err = pwrite_all(fd, buf, sizeof(buf), 0);
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    close(fd);
    if (err == 0 && rename(tmp, fin) != 0)
        err = -errno;
    if (err == 0)
        err = regio__wal_fsync_dir(w);
    return err;
}

/* A zero-filled file of seg_bytes: written (not only allocated) so that later
 * O_DIRECT writes into it need no extent conversion at sync time. Written
 * through a second O_DIRECT descriptor where the filesystem allows it, so
 * that preparing a spare does not fill the page cache with pages the commit
 * path's O_DIRECT writes would then have to invalidate. */
static int zero_fill(const char *path, int fd, uint64_t bytes)
{
    static const uint8_t zeros[65536] __attribute__((aligned(4096)));
    int dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    int wfd = dfd >= 0 ? dfd : fd;
    int err = 0;
    for (uint64_t off = 0; off < bytes && err == 0; off += sizeof(zeros)) {
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
    DIR *d = opendir(w->dir);
    if (d == NULL)
        return false;
    bool found = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        /* A prep file left by a crash mid-preparation is reused the same way
         * (it is fully rewritten unless it already has the segment size). */
        bool reusable =
            strncmp(de->d_name, "recycle-", 8) == 0 || strncmp(de->d_name, "prep-", 5) == 0;
        if (reusable && strstr(de->d_name, ".tmp") != NULL) {
            found = path_of(w, de->d_name, out, n) == 0;
            break;
        }
    }
    closedir(d);
    return found;
}

int regio__wal_prepare_segment(struct regio_wal *w, uint64_t segno)
{
    char tmp[4096], fin[4096], name[32], tname[64];
    regio__wal_segment_name(segno, name);
    snprintf(tname, sizeof(tname), "prep-%016llx.tmp", (unsigned long long)segno);
    int err = path_of(w, name, fin, sizeof(fin));
    if (err != 0)
        return err;
    bool reuse = find_recycled(w, tmp, sizeof(tmp));
    if (!reuse && (err = path_of(w, tname, tmp, sizeof(tmp))) != 0)
        return err;
    int fd = open(tmp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0)
        err = -errno;
    /* A recycled file keeps its old records: the new salt makes them fail
     * their checksums, so only a short or new file needs zero-filling. */
    if (err == 0 && (uint64_t)st.st_size != w->seg_bytes) {
        err = zero_fill(tmp, fd, w->seg_bytes);
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
        };
        regio__wal_encode_segment_header(&si, hdr);
        err = pwrite_all(fd, hdr, w->block_bytes < sizeof(hdr) ? w->block_bytes : sizeof(hdr), 0);
    }
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    if (err == 0)
        drop_cache(fd);
    close(fd);
    if (err == 0 && rename(tmp, fin) != 0)
        err = -errno;
    if (err == 0)
        err = regio__wal_fsync_dir(w);
    if (err == 0) {
        ss->salt = salt;
        ss->window_bytes = w->ring_bytes;
        atomic_store_explicit(&ss->ready, segno + 1, memory_order_release);
    }
    return err;
}

int regio__wal_recycle_segment(struct regio_wal *w, uint64_t segno)
{
    char from[4096], to[4096], name[32], tname[64];
    regio__wal_segment_name(segno, name);
    snprintf(tname, sizeof(tname), "recycle-%016llx.tmp", (unsigned long long)segno);
    int err = path_of(w, name, from, sizeof(from));
    if (err == 0)
        err = path_of(w, tname, to, sizeof(to));
    if (err == 0 && rename(from, to) != 0)
        err = -errno;
    if (err == 0)
        err = regio__wal_fsync_dir(w);
    return err;
}

/* ---- Recovery ------------------------------------------------------------ */

struct seg_image {
    uint64_t segno;
    struct regio__wal_seg_info si;
    int hdr_err;   /* 0 valid, else why not */
    uint8_t *data; /* whole file, loaded on demand */
    size_t len;
};

struct scan_state {
    struct seg_image *segs;
    uint32_t nsegs;
    uint32_t chain_first, chain_last; /* indexes of the chain's segments */
    uint64_t end;                     /* X: first position that is no valid record */
    uint32_t end_idx;                 /* segment index holding end */
    uint64_t records;                 /* caller records */
    uint64_t start_lsn;               /* first caller record */
    uint64_t last_type_lsn;
    bool saw_close_at_ctl;
    uint32_t max_epoch;
    const char *why;
    uint64_t window;
};

static int list_segments(struct regio_wal *w, struct seg_image **out, uint32_t *n_out)
{
    uint64_t *segnos;
    size_t n;
    int err = regio__wal_list_segments(w->dir, &segnos, &n);
    if (err != 0)
        return err;
    struct seg_image *v = n > 0 ? calloc(n, sizeof(*v)) : NULL;
    if (n > 0 && (v == NULL || n > UINT32_MAX)) {
        free(segnos);
        free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        v[i].segno = segnos[i];
    free(segnos);
    *out = v;
    *n_out = (uint32_t)n;
    return 0;
}

static int load_segment(struct regio_wal *w, struct seg_image *s, bool whole)
{
    char name[32], path[4096];
    regio__wal_segment_name(s->segno, name);
    int err = path_of(w, name, path, sizeof(path));
    if (err != 0)
        return err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (!whole) {
        s->hdr_err = regio__wal_read_segment_header(fd, &s->si);
        if (s->hdr_err == 0 && s->si.segment_no != s->segno)
            s->hdr_err = -EBADMSG;
        drop_cache(fd);
        close(fd);
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = -errno;
        close(fd);
        return err;
    }
    size_t want = (size_t)st.st_size;
    if (s->hdr_err == 0 && want > s->si.segment_bytes)
        want = (size_t)s->si.segment_bytes;
    s->data = malloc(want ? want : 1);
    if (s->data == NULL) {
        close(fd);
        return -ENOMEM;
    }
    err = pread_all(fd, s->data, want, 0, &s->len);
    drop_cache(fd);
    close(fd);
    return err;
}

/* Walk the chain of valid records from the first segment; stop at the first
 * spot that is no valid record (or breaks the epoch order). */
static int walk_chain(struct regio_wal *w, struct scan_state *st)
{
    uint32_t i = st->chain_first;
    uint32_t prev_epoch = 0;
    for (;;) {
        struct seg_image *s = &st->segs[i];
        int err = load_segment(w, s, true);
        if (err != 0)
            return err;
        uint64_t off = s->si.block_bytes;
        for (;;) {
            struct regio__wal_rec_info ri;
            const char *why = NULL;
            int rc = regio__wal_check_record(&s->si, s->data, s->len, (size_t)off, &ri, &why);
            if (rc == 0 &&
                (ri.epoch < prev_epoch || ri.epoch > w->ctl.epoch || ri.epoch < s->si.epoch)) {
                rc = -EBADMSG;
                why = "record epoch out of order (stale record of an earlier open)";
            }
            if (rc != 0) {
                st->end = s->si.segment_no * s->si.segment_bytes + off;
                st->end_idx = i;
                st->chain_last = i;
                st->why = rc == -ENODATA ? "zeroed space" : why;
                return 0;
            }
            prev_epoch = ri.epoch;
            if (ri.type <= REGIO_WAL_TYPE_USER_MAX) {
                if (st->records == 0)
                    st->start_lsn = ri.lsn;
                st->records++;
            }
            /* After a clean close only fillers may follow the close record. */
            if (ri.type != REGIO__WAL_TYPE_PAD && ri.type != REGIO__WAL_TYPE_SEGEND)
                st->saw_close_at_ctl =
                    ri.type == REGIO__WAL_TYPE_CLOSE && ri.lsn == w->ctl.close_lsn;
            st->last_type_lsn = ri.lsn;
            if (ri.type != REGIO__WAL_TYPE_SEGEND) {
                off += ri.total_bytes;
                continue;
            }
            /* The successor must be the next file, with a valid header. */
            if (i + 1 >= st->nsegs || st->segs[i + 1].segno != s->segno + 1 ||
                st->segs[i + 1].hdr_err != 0) {
                regio__set_detail("wal: segment %llu ends with a SEGEND record but segment "
                                  "%llu is missing or has a bad header",
                                  (unsigned long long)s->segno, (unsigned long long)s->segno + 1);
                return -EBADMSG;
            }
            free(s->data);
            s->data = NULL;
            i++;
            break;
        }
    }
}

/* Valid records beyond the end X: the furthest end among them, whether any
 * is a close record, and how many. Every 8-byte offset is tried. */
static int scan_beyond(struct regio_wal *w, struct scan_state *st, uint64_t *furthest,
                       uint64_t *count, bool *close_seen)
{
    *furthest = 0;
    *count = 0;
    *close_seen = false;
    for (uint32_t i = st->end_idx; i < st->nsegs; i++) {
        struct seg_image *s = &st->segs[i];
        if (s->hdr_err != 0)
            continue;
        if (s->data == NULL) {
            int err = load_segment(w, s, true);
            if (err != 0)
                return err;
        }
        uint64_t base = s->si.segment_no * s->si.segment_bytes;
        uint64_t off = i == st->end_idx ? st->end - base + REGIO__WAL_REC_ALIGN : s->si.block_bytes;
        for (; off + REGIO__WAL_REC_HDR_BYTES <= s->len; off += REGIO__WAL_REC_ALIGN) {
            /* Cheap filter first: only a header naming its own LSN can be a
             * record here. */
            const uint8_t *p = s->data + off;
            if (regio__le32_get(p + 28) != REGIO__WAL_REC_MAGIC ||
                regio__le64_get(p + 8) != base + off)
                continue;
            struct regio__wal_rec_info ri;
            if (regio__wal_check_record(&s->si, s->data, s->len, (size_t)off, &ri, NULL) != 0)
                continue;
            if (ri.epoch > w->ctl.epoch)
                continue; /* cannot have been written by any open so far */
            (*count)++;
            if (ri.lsn + ri.total_bytes > *furthest)
                *furthest = ri.lsn + ri.total_bytes;
            if (ri.type == REGIO__WAL_TYPE_CLOSE)
                *close_seen = true;
            if (s->si.window_bytes > st->window)
                st->window = s->si.window_bytes;
        }
    }
    return 0;
}

static int lock_fd_or_busy(struct regio_wal *w, int fd, const char *what)
{
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
    char path[4096];
    err = path_of(w, REGIO__WAL_LOCK_NAME, path, sizeof(path));
    if (err != 0)
        return err;
    w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (w->lock_fd < 0) {
        err = -errno;
        regio__set_detail("wal: cannot open %s: %s", path, strerror(-err));
        return err;
    }
    return lock_fd_or_busy(w, w->lock_fd, "lock file");
}

/* Write a filler record (pad or segend) at lsn into segment file fd. */
static int write_filler_plain(struct regio_wal *w, int fd, const struct regio__wal_seg_info *si,
                              uint64_t lsn, uint64_t *next_out)
{
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
    regio__wal_encode_record(buf, si->salt, lsn, type, w->epoch,
                             (uint32_t)(total - REGIO__WAL_REC_HDR_BYTES));
    int err = pwrite_all(fd, buf, total, lsn - base);
    free(buf);
    *next_out = type == REGIO__WAL_TYPE_SEGEND ? regio__wal_seg_first(w, si->segment_no + 1) : fe;
    return err;
}

struct cut_plan {
    uint64_t at;       /* X */
    uint64_t zero_end; /* zero [new start, zero_end) in X's segment */
};

/* Apply a cut at X: filler from X to the next block, zero the raced window
 * after it, fsync. Returns where new records start. */
static int apply_cut(struct regio_wal *w, struct scan_state *st, const struct cut_plan *cp,
                     uint64_t *next_out)
{
    struct seg_image *s = &st->segs[st->end_idx];
    char name[32], path[4096];
    regio__wal_segment_name(s->segno, name);
    int err = path_of(w, name, path, sizeof(path));
    if (err != 0)
        return err;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint64_t next = cp->at;
    if (cp->at % w->block_bytes != 0)
        err = write_filler_plain(w, fd, &s->si, cp->at, &next);
    uint64_t base = s->segno * s->si.segment_bytes;
    uint64_t zstart = next > base + s->si.segment_bytes ? base + s->si.segment_bytes : next;
    uint64_t zend =
        cp->zero_end > base + s->si.segment_bytes ? base + s->si.segment_bytes : cp->zero_end;
    static const uint8_t zeros[65536];
    for (uint64_t p = zstart; err == 0 && p < zend;) {
        size_t n = zend - p < sizeof(zeros) ? (size_t)(zend - p) : sizeof(zeros);
        bool dirty = p - base + n > s->len || memcmp(s->data + (p - base), zeros, n) != 0;
        if (dirty)
            err = pwrite_all(fd, zeros, n, p - base);
        p += n;
    }
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    if (err == 0)
        drop_cache(fd);
    close(fd);
    *next_out = next;
    return err;
}

static bool nonzero_between(const struct seg_image *s, uint64_t from, uint64_t to)
{
    uint64_t base = s->segno * s->si.segment_bytes;
    for (uint64_t p = from; p < to && p - base < s->len; p++)
        if (s->data[p - base] != 0)
            return true;
    return false;
}

/* Decide where the log ends (strict: torn tail or -EBADMSG; salvage: keep
 * the prefix); fills the cut plan and the report, changes nothing on disk. */
static int classify(struct regio_wal *w, struct scan_state *st, struct regio_wal_recovery *info,
                    struct cut_plan *cp)
{
    bool clean = (w->ctl.flags & REGIO__WAL_CTL_CLEAN) != 0;
    st->window = st->segs[st->end_idx].si.window_bytes;
    uint64_t furthest, count;
    bool close_seen;
    int err = scan_beyond(w, st, &furthest, &count, &close_seen);
    if (err != 0)
        return err;
    bool salvage = w->opts.recovery == REGIO_WAL_RECOVER_SALVAGE;
    const char *corrupt = NULL;
    const struct seg_image *es = &st->segs[st->end_idx];
    /* Segments are zero-filled to full size before they are named, and
     * writes never change a file's size: a short one was cut afterwards, and
     * what it lost cannot be told from a torn tail. */
    if (es->len < es->si.segment_bytes)
        corrupt = "segment file shorter than segment_bytes (truncated)";
    else if (clean && (!st->saw_close_at_ctl ||
                       !regio__wal_clean_end_ok(st->end, w->ctl.close_lsn, w->block_bytes)))
        corrupt = "invalid record before the close record of a cleanly closed log";
    else if (clean && count > 0)
        corrupt = "valid records after the close record of a cleanly closed log";
    else if (close_seen)
        corrupt = "invalid record before a valid close record";
    else if (count > 0 && furthest > st->end + st->window)
        corrupt = "invalid record followed by valid records beyond the in-flight window";
    if (corrupt != NULL && !salvage) {
        regio__set_detail("wal: corruption at LSN %llu (%s): %s", (unsigned long long)st->end,
                          st->why ? st->why : "?", corrupt);
        return -EBADMSG;
    }
    cp->at = st->end;
    cp->zero_end = st->end + st->window;
    if (furthest > cp->zero_end)
        cp->zero_end = furthest;
    bool had_bytes = nonzero_between(&st->segs[st->end_idx], st->end, cp->zero_end);
    if (corrupt != NULL) {
        info->end = REGIO_WAL_END_SALVAGED;
        info->records_dropped = count + 1;
        snprintf(info->detail, sizeof(info->detail), "salvaged at LSN %llu: %s; %s",
                 (unsigned long long)st->end, st->why ? st->why : "?", corrupt);
    } else if (clean) {
        info->end = REGIO_WAL_END_CLEAN;
        snprintf(info->detail, sizeof(info->detail), "clean close at LSN %llu",
                 (unsigned long long)w->ctl.close_lsn);
    } else {
        info->end = REGIO_WAL_END_TORN;
        snprintf(info->detail, sizeof(info->detail),
                 "crash: log ends at LSN %llu (%s); %llu raced record(s) in the window cut",
                 (unsigned long long)st->end, st->why ? st->why : "?", (unsigned long long)count);
    }
    info->bytes_cut = had_bytes ? cp->zero_end - st->end : 0;
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
    return 0;
}

static void free_images(struct scan_state *st)
{
    for (uint32_t i = 0; i < st->nsegs; i++)
        free(st->segs[i].data);
    free(st->segs);
}

/* Recover an existing log: find the chain, its end, classify, cut. */
static int existing_log(struct regio_wal *w, struct scan_state *st, struct regio_wal_recovery *info,
                        struct cut_plan *cp)
{
    w->block_bytes = w->ctl.block_bytes;
    w->seg_bytes = w->ctl.segment_bytes;
    uint32_t first = UINT32_MAX;
    for (uint32_t i = 0; i < st->nsegs; i++) {
        int err = load_segment(w, &st->segs[i], false);
        if (err != 0)
            return err;
        if (st->segs[i].hdr_err == 0 && (st->segs[i].si.segment_bytes != w->seg_bytes ||
                                         st->segs[i].si.block_bytes != w->block_bytes))
            st->segs[i].hdr_err = -EBADMSG;
        if (st->segs[i].hdr_err == 0 && first == UINT32_MAX)
            first = i;
        if (st->segs[i].hdr_err != 0 && first == UINT32_MAX) {
            /* A damaged file before every valid one cannot be a spare being
             * prepared: spares are renamed into place only once complete. */
            regio__set_detail("wal: segment %llu has a bad header",
                              (unsigned long long)st->segs[i].segno);
            if (w->opts.recovery != REGIO_WAL_RECOVER_SALVAGE)
                return -EBADMSG;
        }
    }
    if (first == UINT32_MAX) {
        regio__set_detail("wal: control file present but no valid segment");
        return -EBADMSG;
    }
    st->chain_first = first;
    w->first_segno = st->segs[first].segno;
    int err = walk_chain(w, st);
    if (err != 0)
        return err;
    err = classify(w, st, info, cp);
    if (err != 0)
        return err;
    w->end_si = st->segs[st->end_idx].si;
    info->segments = st->segs[st->end_idx].segno - st->segs[first].segno + 1;
    info->records = st->records;
    info->start_lsn = st->start_lsn;
    return 0;
}

/* The buffer ring must fit a segment twice over, so that every record
 * fits and at most one segment switch is in flight. */
static int check_geometry(struct regio_wal *w)
{
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
static int recycle_after(struct regio_wal *w, struct scan_state *st, uint64_t end_segno)
{
    for (uint32_t i = 0; i < st->nsegs; i++) {
        if (st->segs[i].segno <= end_segno)
            continue;
        int err = regio__wal_recycle_segment(w, st->segs[i].segno);
        if (err != 0)
            return err;
    }
    return 0;
}

/* True when the only segment file is segment 0 with a valid header and no
 * record in its first block: a creation that crashed between installing the
 * segment and writing the control file. */
static bool crashed_creation(struct regio_wal *w, const struct seg_image *s)
{
    char name[32], path[4096];
    if (s->segno != 0)
        return false;
    regio__wal_segment_name(0, name);
    if (path_of(w, name, path, sizeof(path)) != 0)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct regio__wal_seg_info si;
    uint8_t first[64];
    bool empty = regio__wal_read_segment_header(fd, &si) == 0 && si.segment_no == 0 &&
                 pread(fd, first, sizeof(first), (off_t)si.block_bytes) == (ssize_t)sizeof(first);
    for (size_t i = 0; empty && i < sizeof(first); i++)
        empty = first[i] == 0;
    close(fd);
    return empty;
}

/* A new log: segment 0 prepared and installed, then the control file with
 * the first epoch; both durable before any record can be written. */
int regio__wal_create_first_segment(struct regio_wal *w)
{
    int err = regio__wal_prepare_segment(w, 0);
    if (err == 0)
        err = regio__wal_write_control(w, &w->ctl);
    return err;
}

/* Recover or create, take the new epoch (durably, before any record of it is
 * written), cut the torn tail. */
int regio__wal_recover(struct regio_wal *w, struct regio_wal_recovery *info)
{
    memset(info, 0, sizeof(*info));
    int err = open_lock(w);
    if (err != 0)
        return err;
    struct scan_state st = {0};
    err = list_segments(w, &st.segs, &st.nsegs);
    if (err != 0)
        return err;
    /* Only what the decoder says now may go into the message below, never
     * the detail of an earlier failure on this thread. */
    regio__clear_detail();
    int cerr = regio__wal_read_control(w->dir, &w->ctl);
    uint64_t next = 0;
    struct cut_plan cp = {0};
    bool fresh = false;
    if (cerr == -ENOENT && st.nsegs == 1 && crashed_creation(w, &st.segs[0])) {
        /* Segment 0 was installed but the control file never written: open
         * returns only after both, so no record can exist. Start afresh,
         * reusing the file as a spare. */
        err = regio__wal_recycle_segment(w, 0);
        if (err != 0) {
            free_images(&st);
            return err;
        }
        st.nsegs = 0;
    }
    if (cerr == -ENOENT && st.nsegs == 0) {
        fresh = true;
        err = new_log(w, info, &next);
    } else if (cerr != 0) {
        /* Keep what the decoder found (unknown version, bad checksum, ...). */
        char why[256];
        snprintf(why, sizeof(why), "%s",
                 regio_error_detail()[0] != '\0' ? regio_error_detail()
                 : cerr == -ENOENT               ? "missing, with segments present"
                                                 : "unreadable");
        regio__set_detail("wal: control file of %s: %s (%s)", w->dir, why, regio_strerror(cerr));
        err = cerr == -ENOENT ? -EBADMSG : cerr;
    } else {
        err = existing_log(w, &st, info, &cp);
    }
    if (err == 0)
        err = check_geometry(w);
    if (err == 0) {
        w->epoch = w->ctl.epoch + 1;
        w->ctl.epoch = w->epoch;
        w->ctl.flags = 0;
        w->ctl.close_lsn = 0;
        /* A new log writes its control file only after segment 0 is in
         * place (regio__wal_create_first_segment), so that a control file
         * without a valid segment always means damage. */
        if (!fresh)
            err = regio__wal_write_control(w, &w->ctl);
    }
    w->fresh_log = fresh;
    if (err == 0 && !fresh)
        err = apply_cut(w, &st, &cp, &next);
    if (err == 0 && !fresh)
        err = recycle_after(w, &st, st.segs[st.end_idx].segno);
    free_images(&st);
    if (err != 0)
        return err;
    w->has_end_si = !fresh;
    info->epoch = w->epoch;
    info->end_lsn = next;
    info->checkpoint_lsn = w->ctl.checkpoint_lsn;
    atomic_store(&w->insert_pos, next);
    return 0;
}
