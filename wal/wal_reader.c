/*
 * wal/wal_reader.c: readers. A directory reader sees what is on disk (and
 * cuts nothing: it stops at the first spot that is no valid record). A live
 * reader over an open log stops at the durable end, answering "nothing more
 * yet", and pins its position so that truncation keeps its segments.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wal_internal.h"
#include "wal_judge.h"

struct regio_wal_reader {
    int dir_fd;             /* the log's directory, held: files are opened relative to it */
    struct regio_wal *live; /* NULL for a directory reader */
    struct regio__wal_pin pin;
    int fd; /* current segment file, -1 none */
    uint64_t segno;
    uint64_t seg_bytes; /* of the log (from the WAL or the oldest header) */
    struct regio__wal_seg_info si;
    uint64_t pos; /* next record start */
    uint8_t *buf; /* holds the current record */
    size_t buf_cap;
    bool at_end;          /* directory reader: nothing valid further */
    int end_err;          /* at_end: 0 for the end of the log, -EBADMSG for corruption */
    bool reread;          /* the record at pos was read again after the judge saw it valid */
    char end_detail[256]; /* the detail of end_err, given again with it */
};

static int reader_open_segment(struct regio_wal_reader *r, uint64_t segno)
{
    REGIO_ASSERT(r->fd < 0 || r->si.segment_no == r->segno);
    if (r->fd >= 0 && r->segno == segno)
        return 0;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    char name[32];
    regio__wal_segment_name(segno, name);
    /* O_NONBLOCK: a FIFO named like a segment must not block the reader. */
    int fd = openat(r->dir_fd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Something other than a regular file under a segment's name holds no
     * header: damage, as the judge (wal_judge.c) calls it too. */
    struct stat st;
    int err = fstat(fd, &st) != 0 ? -errno : !S_ISREG(st.st_mode) ? -EBADMSG : 0;
    if (err == 0)
        err = regio__wal_read_segment_header(fd, &r->si);
    if (err == 0 && r->si.segment_no != segno)
        err = -EBADMSG;
    if (err != 0) {
        close(fd);
        return err;
    }
    r->fd = fd;
    r->segno = segno;
    r->seg_bytes = r->si.segment_bytes;
    return 0;
}

/* Read and check the record at r->pos. 0 valid (in r->buf), -ENODATA/-EBADMSG
 * no valid record there, other errors from the file. */
static int read_record(struct regio_wal_reader *r, struct regio__wal_rec_info *ri)
{
    REGIO_ASSERT(r->seg_bytes > 0); /* pos / seg_bytes names the segment */
    uint64_t segno = r->pos / r->seg_bytes;
    int err = reader_open_segment(r, segno);
    if (err != 0)
        return err;
    uint64_t off = r->pos - segno * r->si.segment_bytes;
    uint8_t hdr[REGIO__WAL_REC_HDR_BYTES];
    ssize_t n = pread(r->fd, hdr, sizeof(hdr), (off_t)off);
    if (n < 0)
        return -errno;
    if ((size_t)n < sizeof(hdr))
        return -ENODATA;
    uint64_t total = regio__wal_rec_total(regio__le32_get(hdr + 16));
    if (off + total > r->si.segment_bytes)
        total = REGIO__WAL_REC_HDR_BYTES; /* let the check report it */
    if (total > r->buf_cap) {
        uint8_t *nb = realloc(r->buf, (size_t)total);
        if (nb == NULL)
            return -ENOMEM;
        r->buf = nb;
        r->buf_cap = (size_t)total;
    }
    n = pread(r->fd, r->buf, (size_t)total, (off_t)off);
    if (n < 0)
        return -errno;
    /* The image handed to the checker starts at the segment's offset 0. */
    int rc = regio__wal_check_record_at(&r->si, r->buf, (size_t)n, off, ri, NULL);
    /* The record handed out (rec->data) lies in the buffer. */
    REGIO_ASSERT(rc != 0 || ri->total_bytes <= r->buf_cap);
    return rc;
}

/*
 * A directory reader found no valid record at r->pos (or no segment file
 * there). Whether that is the end of the log or damage is what recovery
 * would decide: the reader asks the same judge (wal_judge.h), so a log that
 * strict open refuses is never read as one that ends early. 0 at the end of
 * the log, 1 when the log has grown past r->pos since the read (read again),
 * -EBADMSG for damage, other errors from reading the files.
 */
/* Whether a writer holds the log now: it holds the directory's flock
 * exclusively (wal_open.c), so a shared try-lock on our own open file
 * description of the directory fails. An error other than EWOULDBLOCK
 * counts as held, which only costs the wait below. */
static bool writer_holds_log(int dir_fd)
{
    REGIO_ASSERT(dir_fd >= 0);
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return true;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0;
    close(fd); /* drops the shared lock with the description */
    return held;
}

static int reader_at_invalid(struct regio_wal_reader *r)
{
    REGIO_ASSERT(r->live == NULL && r->seg_bytes > 0); /* below a live end all is valid */
    enum regio__wal_verdict v;
    uint64_t end;
    int err = regio__wal_judge_at(r->dir_fd, "the log directory", "wal reader", &v, &end);
    if (err == 0 && v == REGIO__WAL_V_CORRUPT && writer_holds_log(r->dir_fd)) {
        /* A writer elsewhere may have been mid-write at the end, where a
         * read can see part of a sector: damage must still be there a
         * moment later. With no writer the files cannot change, so the
         * first judgement stands (and a damaged log costs no wait). */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        err = regio__wal_judge_at(r->dir_fd, "the log directory", "wal reader", &v, &end);
    }
    if (err != 0)
        return err;
    if (v == REGIO__WAL_V_CORRUPT)
        return -EBADMSG;
    if (r->pos < end)
        return 1;
    return 0;
}

/* dir_fd is the reader's own from here on (closed by reader close). */
static int reader_new(int dir_fd, uint64_t from_lsn, struct regio_wal_reader **out)
{
    REGIO_ASSERT(out != NULL);
    *out = NULL;
    if (dir_fd < 0)
        return -errno;
    struct regio_wal_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        close(dir_fd);
        return -ENOMEM;
    }
    r->dir_fd = dir_fd;
    r->fd = -1;
    r->pos = from_lsn;
    *out = r;
    return 0;
}

/* Position at the oldest segment of the directory when from_lsn is 0. */
static int reader_first(struct regio_wal_reader *r, uint64_t first_segno)
{
    REGIO_ASSERT(r->live == NULL && r->pos == 0);
    int err = reader_open_segment(r, first_segno);
    if (err != 0)
        return err;
    r->pos = r->si.first_lsn;
    return 0;
}

/* Walk segment si's records in the image img from its first one up to
 * target: 0 when a record boundary falls on target (a record starts there,
 * or the segment's valid records end there), else -EINVAL with a detail
 * saying what lies at target. */
static int walk_to(const struct regio__wal_seg_info *si, const uint8_t *img, size_t n,
                   uint64_t target_off)
{
    REGIO_ASSERT(target_off < si->segment_bytes); /* the caller's LSN is in this segment */
    uint64_t base = si->segment_no * si->segment_bytes;
    uint64_t off = si->block_bytes;
    if (target_off < off) {
        /* The header block holds no record: a start there would open, and
         * the first read then report damage on a healthy log. */
        regio__set_detail("wal reader: LSN %llu is inside the header block of segment %llu; its "
                          "records start at LSN %llu",
                          (unsigned long long)(base + target_off),
                          (unsigned long long)si->segment_no, (unsigned long long)(base + off));
        return -EINVAL;
    }
    while (off < target_off) {
        struct regio__wal_rec_info ri;
        if (regio__wal_check_record(si, img, n, off, &ri, NULL) != 0) {
            regio__set_detail("wal reader: LSN %llu is past the end of the log (its valid "
                              "records end at LSN %llu)",
                              (unsigned long long)(base + target_off),
                              (unsigned long long)(base + off));
            return -EINVAL;
        }
        REGIO_ASSERT(ri.total_bytes >= REGIO__WAL_REC_HDR_BYTES); /* the walk moves on */
        if (off + ri.total_bytes > target_off) {
            regio__set_detail("wal reader: LSN %llu is inside the record at LSN %llu; records "
                              "start at %llu and %llu",
                              (unsigned long long)(base + target_off),
                              (unsigned long long)(base + off), (unsigned long long)(base + off),
                              (unsigned long long)(base + off + ri.total_bytes));
            return -EINVAL;
        }
        off += ri.total_bytes;
    }
    REGIO_ASSERT(off == target_off); /* a record boundary falls on target */
    return 0;
}

/*
 * No valid record at r->pos: it is still a place to start when it is the
 * end of the valid records (the next record of the log goes there; the
 * reader then reports the end, or the damage, as next does), or the first
 * record position of a segment. Anything else, inside a record or past the
 * end, is refused: starting at the next record instead would silently skip
 * part of what the caller asked for.
 */
static int reader_check_boundary(struct regio_wal_reader *r)
{
    REGIO_ASSERT(r->seg_bytes > 0 && r->si.block_bytes > 0); /* geometry read first */
    uint64_t segno = r->pos / r->seg_bytes;
    uint64_t block = r->si.block_bytes;
    if (r->pos == segno * r->seg_bytes + block)
        return 0;
    int err = reader_open_segment(r, segno);
    if (err != 0) {
        regio__set_detail("wal reader: LSN %llu is in segment %llu, which the log does not have "
                          "(recycled, or past the end)",
                          (unsigned long long)r->pos, (unsigned long long)segno);
        return -EINVAL;
    }
    uint8_t *img = malloc(r->si.segment_bytes);
    if (img == NULL)
        return -ENOMEM;
    ssize_t n = pread(r->fd, img, r->si.segment_bytes, 0);
    err = n < 0 ? -errno : walk_to(&r->si, img, (size_t)n, r->pos - segno * r->seg_bytes);
    free(img);
    return err;
}

/* A from_lsn other than 0 must be a record start (or the end of the log). */
static int reader_check_start(struct regio_wal_reader *r)
{
    REGIO_ASSERT(r->pos != 0 && r->seg_bytes > 0);
    struct regio__wal_rec_info ri;
    int err = read_record(r, &ri);
    if (err == -ENODATA || err == -EBADMSG || err == -ENOENT)
        return reader_check_boundary(r);
    return err;
}

static int oldest_segment(int dir_fd, uint64_t *segno_out)
{
    REGIO_ASSERT(dir_fd >= 0);
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int err = -errno;
        if (fd >= 0)
            close(fd);
        return err;
    }
    bool found = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t s;
        if (regio__wal_parse_segment_name(de->d_name, &s) && (!found || s < *segno_out)) {
            *segno_out = s;
            found = true;
        }
    }
    closedir(d);
    return found ? 0 : -ENOENT;
}

int regio__wal_check_position(int dir_fd, uint64_t lsn)
{
    REGIO_ASSERT(dir_fd >= 0 && lsn != 0); /* 0 is "from the start", no position */
    struct regio_wal_reader *r;
    int err = reader_new(fcntl(dir_fd, F_DUPFD_CLOEXEC, 0), lsn, &r);
    if (err != 0)
        return err;
    uint64_t first = 0;
    err = oldest_segment(r->dir_fd, &first);
    if (err == 0)
        err = reader_open_segment(r, first); /* the geometry */
    if (err == 0)
        err = reader_check_start(r);
    regio_wal_reader_close(r);
    return err;
}

/* No segment file: a log only when a control file is there, and then a
 * damaged one (a new log writes its control file after segment 0), as strict
 * open judges it (wal_open.c): -EBADMSG; -ENOENT with no control file
 * either; the control file's read error when it cannot be read. */
static int no_segment(int dir_fd, const char *dir)
{
    REGIO_ASSERT(dir_fd >= 0 && dir != NULL);
    struct regio__wal_ctl_info ctl;
    int cerr = regio__wal_read_control_at(dir_fd, &ctl);
    if (cerr == -ENOENT) {
        regio__set_detail("wal reader: %s holds no log (no segment, no control file)", dir);
        return -ENOENT;
    }
    if (cerr == 0 || cerr == -EBADMSG) {
        regio__set_detail("wal reader: %s has a control file but no segment (strict recovery "
                          "refuses the log)",
                          dir);
        return -EBADMSG;
    }
    regio__set_detail("wal reader: control file of %s: %s", dir, regio_strerror(cerr));
    return cerr;
}

int regio_wal_reader_open(const char *dir, uint64_t from_lsn, struct regio_wal_reader **out)
{
    regio__clear_detail();
    if (dir == NULL || out == NULL) {
        regio__set_detail("wal reader: NULL directory or out pointer");
        return -EINVAL;
    }
    struct regio_wal_reader *r;
    int err = reader_new(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), from_lsn, &r);
    if (err != 0) {
        regio__set_detail("wal reader: cannot open directory %s: %s", dir, regio_strerror(err));
        return err;
    }
    uint64_t first = 0;
    err = oldest_segment(r->dir_fd, &first);
    if (err == -ENOENT) {
        err = no_segment(r->dir_fd, dir);
        regio_wal_reader_close(r);
        return err;
    }
    /* The geometry comes from the oldest segment's header. */
    if (err == 0)
        err = reader_open_segment(r, first);
    if (err == -ENODATA || err == -EBADMSG) {
        /* The log begins at its oldest segment: a bad or zeroed header there
         * is damage, as recovery judges it (wal_judge.h). */
        enum regio__wal_verdict v;
        uint64_t end;
        err = regio__wal_judge_at(r->dir_fd, dir, "wal reader", &v, &end);
        if (err == 0 && v != REGIO__WAL_V_CORRUPT)
            regio__set_detail("wal reader: segment %llu of %s has a bad header",
                              (unsigned long long)first, dir);
        if (err == 0)
            err = -EBADMSG;
    }
    if (err == 0 && from_lsn == 0)
        err = reader_first(r, first);
    else if (err == 0)
        err = reader_check_start(r);
    if (err != 0) {
        if (regio_error_detail()[0] == '\0')
            regio__set_detail("wal reader: cannot read segment %llu of %s: %s",
                              (unsigned long long)first, dir, regio_strerror(err));
        regio_wal_reader_close(r);
        return err;
    }
    REGIO_ASSERT(r->seg_bytes > 0 && r->pos != 0); /* geometry known, positioned */
    *out = r;
    return 0;
}

int regio_wal_reader_open_live(struct regio_wal *w, uint64_t from_lsn,
                               struct regio_wal_reader **out)
{
    regio__clear_detail();
    if (w == NULL || out == NULL) {
        regio__set_detail(
            "regio_wal_reader_open_live: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    struct regio_wal_reader *r;
    /* The open log's own directory fd, not its path: see wal_open.c. */
    int err = reader_new(fcntl(w->dir_fd, F_DUPFD_CLOEXEC, 0), from_lsn, &r);
    if (err != 0)
        return err;
    r->live = w;
    r->seg_bytes = w->seg_bytes;
    REGIO_ASSERT(!regio__lock_held(&w->mu)); /* not recursive */
    regio__lock(&w->mu);
    uint64_t first = w->first_segno;
    /* Pin before looking, so that truncation cannot recycle the segment.
     * Truncation never recycled the segment of the durable end. */
    REGIO_ASSERT(first <= regio__wal_seg(w, atomic_load(&w->durable)));
    r->pin.lsn = from_lsn != 0 ? from_lsn : first * w->seg_bytes;
    r->pin.next = w->pins;
    w->pins = &r->pin;
    regio__unlock(&w->mu);
    if (from_lsn == 0) {
        /* Opened lazily: below the durable end the segment exists. */
        r->pos = regio__wal_seg_first(w, first);
    } else if (from_lsn < atomic_load(&w->durable)) {
        err = reader_check_start(r);
    } else if (from_lsn != atomic_load(&w->durable)) {
        regio__set_detail("wal reader: LSN %llu is past the durable end %llu",
                          (unsigned long long)from_lsn,
                          (unsigned long long)atomic_load(&w->durable));
        err = -EINVAL;
    }
    if (err != 0) {
        regio_wal_reader_close(r);
        return err == -ENOENT ? -EINVAL : err;
    }
    *out = r;
    return 0;
}

int regio_wal_reader_next(struct regio_wal_reader *r, struct regio_wal_record *rec)
{
    regio__clear_detail();
    if (r == NULL || rec == NULL) {
        regio__set_detail("regio_wal_reader_next: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    REGIO_ASSERT(r->seg_bytes > 0); /* a segend moves pos to the next segment */
    for (;;) {
        if (r->live != NULL && r->pos >= atomic_load(&r->live->durable)) {
            int failed = atomic_load(&r->live->failed);
            if (failed != 0)
                regio__set_detail("wal reader: the log failed (%s)", regio_strerror(failed));
            return failed != 0 ? failed : 0;
        }
        if (r->at_end) {
            /* The error sticks, and so does its explanation. */
            if (r->end_err != 0)
                regio__set_detail("%s", r->end_detail);
            return r->end_err;
        }
        struct regio__wal_rec_info ri;
        int err = read_record(r, &ri);
        bool missing = err == -ENOENT && r->live == NULL;
        if (err == -ENODATA || err == -EBADMSG || missing) {
            if (r->live != NULL) {
                /* Below the durable end everything is valid. */
                regio__set_detail("wal reader: no valid record at LSN %llu below the durable end",
                                  (unsigned long long)r->pos);
                return -EBADMSG;
            }
            err = reader_at_invalid(r);
            if (err == 1 && !r->reread) {
                r->reread = true; /* a writer elsewhere got there since */
                continue;
            }
            r->at_end = true;
            r->end_err = err == 1 ? -EBADMSG : err;
            if (err == 1)
                regio__set_detail("wal reader: no valid record at LSN %llu, below the end of "
                                  "the log",
                                  (unsigned long long)r->pos);
            snprintf(r->end_detail, sizeof(r->end_detail), "%s", regio_error_detail());
            return r->end_err;
        }
        if (err != 0)
            return err;
        r->reread = false;
        uint64_t start = r->pos;
        REGIO_ASSERT(ri.lsn == start); /* the checker matched the header to its place */
        if (ri.type == REGIO__WAL_TYPE_SEGEND)
            r->pos = (start / r->seg_bytes + 1) * r->seg_bytes + r->si.block_bytes;
        else
            r->pos = start + ri.total_bytes;
        REGIO_ASSERT(r->pos > start); /* every record read moves on: next ends */
        if (r->live != NULL) {
            regio__lock(&r->live->mu);
            r->pin.lsn = r->pos;
            regio__unlock(&r->live->mu);
        }
        if (ri.type > REGIO_WAL_TYPE_USER_MAX)
            continue;
        rec->lsn = start;
        rec->end_lsn = start + ri.total_bytes;
        rec->type = ri.type;
        rec->epoch = ri.epoch;
        rec->len = ri.len;
        rec->data = r->buf + REGIO__WAL_REC_HDR_BYTES;
        return 1;
    }
}

/* A successful close leaves the detail alone, so that the explanation of
 * the reader's last error can still be read after closing it. */
int regio_wal_reader_close(struct regio_wal_reader *r)
{
    if (r == NULL) {
        regio__set_detail("regio_wal_reader_close: NULL reader");
        return -EINVAL;
    }
    if (r->live != NULL) {
        REGIO_ASSERT(!regio__lock_held(&r->live->mu));
        regio__lock(&r->live->mu);
        struct regio__wal_pin **pp = &r->live->pins;
        while (*pp != NULL && *pp != &r->pin)
            pp = &(*pp)->next;
        REGIO_ASSERT(*pp != NULL); /* a live reader is pinned until it closes */
        if (*pp != NULL)
            *pp = r->pin.next;
        regio__unlock(&r->live->mu);
    }
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    close(r->dir_fd);
    free(r);
    return 0;
}
