/*
 * wal/wal_judge.c: the classification of a log directory's end shared by
 * recovery, the directory reader and regio-dump (wal_judge.h). Segment
 * images are read-only mappings, so only what is walked or searched is
 * read: it runs at open, at a reader's end and in a tool, never on the
 * commit path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "regio/wal.h"
#include "wal_judge.h"

/* Prefetch steps of a segment image: small first (a clean reopen reads a
 * block or two), doubling while a walk or search goes on. */
#define JUDGE_RA_FIRST (64u << 10)
#define JUDGE_RA_MAX   (8u << 20)

static int open_seg(const struct regio__wal_judge *j, uint64_t segno)
{
    REGIO_ASSERT(j->dir_fd >= 0);
    char name[32];
    regio__wal_segment_name(segno, name);
    /* O_NONBLOCK: a FIFO named like a segment must not block recovery. */
    int fd = openat(j->dir_fd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
}

/* Read a segment's header; a header of another geometry than the control
 * file's is not one of this log. */
static int load_header(struct regio__wal_judge *j, struct regio__wal_seg_image *s)
{
    REGIO_ASSERT(s >= j->segs && s < j->segs + j->nsegs);
    int fd = open_seg(j, s->segno);
    if (fd < 0)
        return fd;
    s->hdr_err = regio__wal_read_segment_header(fd, &s->si);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    if (s->hdr_err == 0 && s->si.segment_no != s->segno)
        s->hdr_err = -EBADMSG;
    if (s->hdr_err == 0 && j->have_ctl &&
        (s->si.segment_bytes != j->ctl.segment_bytes || s->si.block_bytes != j->ctl.block_bytes))
        s->hdr_err = -EBADMSG;
    return 0;
}

/* Unmap an image and drop what reading it left in the page cache (while a
 * segment has cached pages, every O_DIRECT write into it also invalidates
 * them, on the commit path). */
static void unload(struct regio__wal_judge *j, struct regio__wal_seg_image *s)
{
    REGIO_ASSERT(s->map_len == 0 || (s->data != NULL && s->loaded));
    if (s->map_len > 0) {
        munmap(s->data, s->map_len);
        int fd = open_seg(j, s->segno);
        if (fd >= 0) {
            (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    s->data = NULL;
    s->len = s->map_len = 0;
    s->loaded = false;
}

int regio__wal_judge_load(struct regio__wal_judge *j, struct regio__wal_seg_image *s)
{
    REGIO_ASSERT(j->dir_fd >= 0 && s >= j->segs && s < j->segs + j->nsegs);
    unload(j, s);
    int fd = open_seg(j, s->segno);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    size_t want = (size_t)st.st_size;
    if (s->hdr_err == 0 && want > s->si.segment_bytes)
        want = (size_t)s->si.segment_bytes;
    /* Mapped, not read: the judge touches only the records it walks and
     * the bytes it searches, so opening a small log no longer reads whole
     * segments (a 64 MiB read per segment was most of an open's time). The
     * log's locks keep other opens from changing the files meanwhile. */
    static uint8_t empty[1];
    void *m = want > 0 ? mmap(NULL, want, PROT_READ, MAP_PRIVATE, fd, 0) : (void *)empty;
    int err = m == MAP_FAILED ? -errno : 0;
    close(fd);
    if (err != 0)
        return err;
    s->data = m;
    s->len = want;
    s->map_len = want;
    s->loaded = true;
    s->ra_end = 0;
    s->ra_step = JUDGE_RA_FIRST;
    /* No fault readahead: a fault on a file mapping reads read_ahead_kb
     * around it (8 MiB on this project's VM disk), so the first record of
     * a small log cost an 8 MiB read, most of a clean reopen's CPU, and
     * the page cache then had to be dropped again. The walk and the search
     * ask for what they are about to read instead (prefetch below). */
    if (want > 0)
        (void)madvise(m, want, MADV_RANDOM);
    /* A valid header caps the image at its segment's size. */
    REGIO_ASSERT(s->hdr_err != 0 || s->len <= s->si.segment_bytes);
    return 0;
}

void regio__wal_judge_prefetch(struct regio__wal_seg_image *s, uint64_t off, uint64_t len)
{
    if (s->map_len == 0 || off >= s->len)
        return;
    uint64_t end = len > s->len - off ? s->len : off + len;
    /* Once the reader is within half the last step of the end of what was
     * asked for, the next (doubled) step is asked for: the read stays ahead
     * of the walk, as readahead does, and a small log reads one step. */
    while (s->ra_end < s->len && s->ra_end < end + s->ra_step / 4) {
        size_t from = s->ra_end > (off & ~(uint64_t)4095) ? s->ra_end : (off & ~(uint64_t)4095);
        size_t n = s->ra_step < s->len - from ? s->ra_step : s->len - from;
        (void)madvise(s->data + from, n, MADV_WILLNEED);
        s->ra_end = from + n;
        if (s->ra_step < JUDGE_RA_MAX)
            s->ra_step *= 2;
    }
}

static int list_images(struct regio__wal_judge *j)
{
    REGIO_ASSERT(j->segs == NULL && j->nsegs == 0);
    uint64_t *segnos;
    size_t n;
    int err = regio__wal_list_segments_at(j->dir_fd, &segnos, &n);
    if (err != 0)
        return err;
    if (n == 0)
        return -ENOENT;
    j->segs = n <= UINT32_MAX ? calloc(n, sizeof(*j->segs)) : NULL;
    if (j->segs == NULL) {
        free(segnos);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        j->segs[i].segno = segnos[i];
    free(segnos);
    j->nsegs = (uint32_t)n;
    return 0;
}

static void set_corrupt(struct regio__wal_judge *j, const char *rule, bool salvageable)
{
    REGIO_ASSERT(rule != NULL);
    j->verdict = REGIO__WAL_V_CORRUPT;
    j->corrupt = rule;
    j->salvageable = salvageable;
}

/* The epoch bound of records: no open after the control file's epoch has
 * written anything; without a control file nothing bounds it. */
static uint32_t max_epoch(const struct regio__wal_judge *j)
{
    return j->have_ctl ? j->ctl.epoch : UINT32_MAX;
}

/* A valid record at off of s that may follow one of epoch prev. */
static int check_in_chain(const struct regio__wal_judge *j, struct regio__wal_seg_image *s,
                          uint64_t off, uint32_t prev_epoch, struct regio__wal_rec_info *ri,
                          const char **why)
{
    /* The whole record is read for its checksum: ask for all of it. */
    if (off + REGIO__WAL_REC_HDR_BYTES <= s->len)
        regio__wal_judge_prefetch(s, off,
                                  regio__wal_rec_total(regio__le32_get(s->data + off + 16)));
    int rc = regio__wal_check_record(&s->si, s->data, s->len, (size_t)off, ri, why);
    if (rc == 0 &&
        (ri->epoch < prev_epoch || ri->epoch > max_epoch(j) || ri->epoch < s->si.epoch)) {
        *why = "record epoch out of order (stale record of an earlier open)";
        return -EBADMSG;
    }
    if (rc == -ENODATA)
        *why = "zeroed space";
    /* load_header matched the header's segment number to the file name. */
    REGIO_ASSERT(rc != 0 || ri->lsn == s->segno * s->si.segment_bytes + off);
    return rc;
}

static void note_record(struct regio__wal_judge *j, const struct regio__wal_rec_info *ri)
{
    REGIO_ASSERT(ri->total_bytes >= REGIO__WAL_REC_HDR_BYTES && ri->proven_lsn <= ri->lsn);
    if (ri->type <= REGIO_WAL_TYPE_USER_MAX) {
        if (j->records == 0)
            j->start_lsn = ri->lsn;
        j->records++;
    }
    /* After a clean close only fillers may follow the close record. */
    if (!regio__wal_is_filler(ri->type))
        j->saw_close_at_ctl =
            ri->type == REGIO__WAL_TYPE_CLOSE && j->have_ctl && ri->lsn == j->ctl.close_lsn;
}

/* Walk the chain of valid records from the first segment; stop at the first
 * spot that is no valid record (or breaks the epoch order). 1 when a segend
 * leads to a missing or damaged segment (CORRUPT set). */
static int walk_chain(struct regio__wal_judge *j)
{
    REGIO_ASSERT(j->have_ctl && j->chain_first < j->nsegs && j->segs[j->chain_first].hdr_err == 0);
    uint32_t prev_epoch = 0;
    for (uint32_t i = j->chain_first;; i++) {
        struct regio__wal_seg_image *s = &j->segs[i];
        int err = regio__wal_judge_load(j, s);
        if (err != 0)
            return err;
        uint64_t base = s->segno * s->si.segment_bytes;
        uint64_t off = s->si.block_bytes;
        struct regio__wal_rec_info ri;
        const char *why = NULL;
        while (check_in_chain(j, s, off, prev_epoch, &ri, &why) == 0) {
            prev_epoch = ri.epoch;
            note_record(j, &ri);
            if (ri.type == REGIO__WAL_TYPE_SEGEND)
                break;
            off += ri.total_bytes;
        }
        /* The walk stops on a record boundary past the header block. */
        REGIO_ASSERT(off % REGIO__WAL_REC_ALIGN == 0 && off >= s->si.block_bytes);
        j->end = base + off;
        j->end_idx = i;
        if (why != NULL) {
            j->why = why;
            return 0;
        }
        /* A segend: the successor must be the next file, with a valid header. */
        if (i + 1 >= j->nsegs || j->segs[i + 1].segno != s->segno + 1 ||
            j->segs[i + 1].hdr_err != 0) {
            j->end = base + s->si.segment_bytes + s->si.block_bytes;
            j->why = "segment missing or with a bad header after a segend record";
            set_corrupt(j, "the log continues in a segment that is missing or damaged", false);
            return 1;
        }
        unload(j, s);
    }
}

static void note_beyond(struct regio__wal_judge *j, const struct regio__wal_seg_image *s,
                        const struct regio__wal_rec_info *ri)
{
    REGIO_ASSERT(ri->lsn > j->end);          /* beyond X, never at or before it */
    REGIO_ASSERT(ri->proven_lsn <= ri->lsn); /* a record proves nothing past itself */
    j->beyond_records++;
    if (ri->type <= REGIO_WAL_TYPE_USER_MAX)
        j->beyond_user++;
    if (ri->lsn + ri->total_bytes > j->furthest)
        j->furthest = ri->lsn + ri->total_bytes;
    if (ri->type == REGIO__WAL_TYPE_CLOSE)
        j->close_beyond = true;
    if (ri->proven_lsn > j->proven)
        j->proven = ri->proven_lsn;
    if (s->si.window_bytes > j->window)
        j->window = s->si.window_bytes;
}

/* Valid records beyond X, at every 8-byte offset of X's segment after X and
 * of every later segment file with a valid header, below limit. */
static int scan_beyond(struct regio__wal_judge *j, uint64_t limit)
{
    REGIO_ASSERT(j->end_idx < j->nsegs && j->beyond_records == 0);
    for (uint32_t i = j->end_idx; i < j->nsegs; i++) {
        struct regio__wal_seg_image *s = &j->segs[i];
        if (s->hdr_err != 0)
            continue;
        if (s->segno * s->si.segment_bytes >= limit)
            break;
        if (!s->loaded) {
            int err = regio__wal_judge_load(j, s);
            if (err != 0)
                return err;
        }
        uint64_t base = s->segno * s->si.segment_bytes;
        uint64_t off = i == j->end_idx ? j->end - base + REGIO__WAL_REC_ALIGN : s->si.block_bytes;
        uint64_t stop = limit - base < s->len ? limit - base : s->len;
        /* X is a record boundary: the search visits every aligned offset. */
        REGIO_ASSERT(off % REGIO__WAL_REC_ALIGN == 0 && stop <= s->len);
        for (; off + REGIO__WAL_REC_HDR_BYTES <= stop; off += REGIO__WAL_REC_ALIGN) {
            if (off % 4096 == 0 || off + 4096 > s->ra_end)
                regio__wal_judge_prefetch(s, off, 4096);
            /* Cheap filter first: only a header naming its own LSN can be a
             * record here. */
            const uint8_t *p = s->data + off;
            if (regio__le16_get(p + 28) != REGIO__WAL_REC_MAGIC ||
                regio__le64_get(p + 8) != base + off)
                continue;
            struct regio__wal_rec_info ri;
            if (regio__wal_check_record(&s->si, s->data, s->len, (size_t)off, &ri, NULL) != 0)
                continue;
            if (ri.epoch > max_epoch(j))
                continue; /* cannot have been written by any open so far */
            note_beyond(j, s, &ri);
        }
    }
    return 0;
}

static bool bytes_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* The header at off of s is one this log wrote there: its check verifies
 * with the fields a reader knows (the magic, and the LSN, which is the
 * position) restored, so a flip in either is recognised. In a recycled
 * segment the LSN is not restored: a stale header of the file's earlier use
 * at the same offset differs from X only there, and must stay stale. */
static bool header_ours(const struct regio__wal_seg_image *s, uint64_t off, bool fresh)
{
    uint8_t h[REGIO__WAL_REC_HDR_BYTES];
    REGIO_ASSERT(off + sizeof(h) <= s->len); /* not_a_tear checked it */
    memcpy(h, s->data + off, sizeof(h));
    uint64_t lsn = s->segno * s->si.segment_bytes + off;
    if (!fresh && regio__le64_get(h + 8) != lsn)
        return false;
    regio__le64_put(h + 8, lsn);
    regio__le16_put(h + 28, REGIO__WAL_REC_MAGIC);
    return regio__wal_hdr_check(s->si.salt, h) == regio__le16_get(h + 30);
}

/*
 * Could a torn write have left the invalid record at off (header intact
 * and ours)? A power cut leaves each 512-byte sector of a write wholly old
 * or wholly new, so yes only if some sector of the record, other than those
 * holding header bytes 8..31 (verified, hence new), may be old: all zero in
 * a zero-filled segment (its old content), anything in a recycled one (stale
 * bytes of its earlier use). A filler's payload is zero when new, so in a
 * zero-filled segment only its checksum's sector can explain it.
 */
static bool tear_explains_body(const struct regio__wal_seg_image *s, uint64_t off, bool fresh)
{
    REGIO_ASSERT(off + REGIO__WAL_REC_HDR_BYTES <= s->len); /* the header is read */
    const uint8_t *h = s->data + off;
    uint64_t total = regio__wal_rec_total(regio__le32_get(h + 16));
    uint64_t end = off + total < s->len ? off + total : s->len;
    uint64_t verified_lo = (off + 8) / REGIO__WAL_SECTOR_BYTES;
    uint64_t verified_hi = (off + REGIO__WAL_REC_HDR_BYTES - 1) / REGIO__WAL_SECTOR_BYTES;
    bool filler = regio__wal_is_filler(regio__le16_get(h + 24));
    if (filler && fresh)
        end = off + 8; /* only the checksum bytes could be old */
    for (uint64_t sec = off / REGIO__WAL_SECTOR_BYTES; sec * REGIO__WAL_SECTOR_BYTES < end; sec++) {
        if (sec >= verified_lo && sec <= verified_hi)
            continue;
        if (!fresh)
            return true;
        uint64_t a = sec * REGIO__WAL_SECTOR_BYTES;
        uint64_t b = a + REGIO__WAL_SECTOR_BYTES < s->len ? a + REGIO__WAL_SECTOR_BYTES : s->len;
        REGIO_ASSERT(a < b); /* end <= len: the sector has bytes in the image */
        if (bytes_zero(s->data + a, (size_t)(b - a)))
            return true;
    }
    return false;
}

/*
 * Nothing proves the invalid spot X durable: is it a torn write (cut) or
 * damage a tear cannot leave (reported)? NULL for a possible tear, else the
 * reason. Zero bytes, a header that is not this log's (unused space, stale
 * bytes, a header torn across a sector boundary) and a record with a sector
 * that may be old are tears; a header this log wrote with a changed byte,
 * or a record whose every sector was written but whose checksum fails, is not.
 */
static const char *not_a_tear(const struct regio__wal_judge *j)
{
    REGIO_ASSERT(j->end_idx < j->nsegs);
    const struct regio__wal_seg_image *s = &j->segs[j->end_idx];
    /* X is at or past its segment's start (past its end after a segend
     * to a missing segment): off is no wrapped difference. */
    REGIO_ASSERT(j->end >= s->segno * s->si.segment_bytes);
    uint64_t off = j->end - s->segno * s->si.segment_bytes;
    if (off + REGIO__WAL_REC_HDR_BYTES > s->len ||
        off + REGIO__WAL_REC_HDR_BYTES > s->si.segment_bytes)
        return NULL;
    const uint8_t *h = s->data + off;
    if (bytes_zero(h, REGIO__WAL_REC_HDR_BYTES) ||
        regio__wal_check_record(&s->si, s->data, s->len, (size_t)off, NULL, NULL) == 0)
        return NULL; /* unused space, or a whole record out of epoch order */
    bool fresh = (s->si.flags & REGIO__WAL_SEG_ZERO_FILLED) != 0;
    uint64_t lsn = s->segno * s->si.segment_bytes + off;
    bool claims = regio__le16_get(h + 28) == REGIO__WAL_REC_MAGIC && regio__le64_get(h + 8) == lsn;
    /* A header across a sector boundary of a recycled segment can be half
     * new and half stale: then it may claim X without being ours. */
    bool crosses = off / REGIO__WAL_SECTOR_BYTES !=
                   (off + REGIO__WAL_REC_HDR_BYTES - 1) / REGIO__WAL_SECTOR_BYTES;
    if (!header_ours(s, off, fresh))
        return claims && (fresh || !crosses) ? "a header written here has a changed byte (its "
                                               "check fails)"
                                             : NULL;
    if (!claims)
        return "a header written here has a changed LSN or magic (its check verifies with them "
               "restored)";
    if (off + regio__wal_rec_total(regio__le32_get(h + 16)) > s->si.segment_bytes)
        return "a header written here names a length past the segment";
    if (!tear_explains_body(s, off, fresh))
        return "every sector of the record was written, yet its checksum fails: a changed byte, "
               "not a torn write";
    return NULL;
}

/* The rules of docs/format.md, "Where the log ends", step 4. */
static void classify(struct regio__wal_judge *j)
{
    REGIO_ASSERT(j->end_idx < j->nsegs && j->verdict == 0); /* judged once */
    bool clean = j->have_ctl && (j->ctl.flags & REGIO__WAL_CTL_CLEAN) != 0;
    const struct regio__wal_seg_image *es = &j->segs[j->end_idx];
    const char *tear;
    /* Segments are zero-filled to full size before they are named, and
     * writes never change a file's size: a short one was cut afterwards, and
     * what it lost cannot be told from a torn tail. */
    if (es->len < es->si.segment_bytes)
        set_corrupt(j, "segment file shorter than segment_bytes (truncated)", true);
    else if (clean && (!j->saw_close_at_ctl ||
                       !regio__wal_clean_end_ok(j->end, j->ctl.close_lsn, es->si.block_bytes)))
        set_corrupt(j, "invalid record before the close record of a cleanly closed log", true);
    else if (clean && j->beyond_records > 0)
        set_corrupt(j, "valid records after the close record of a cleanly closed log", true);
    else if (j->close_beyond)
        set_corrupt(j, "invalid record before a valid close record", true);
    else if (j->beyond_records > 0 && j->furthest > j->end + j->window)
        set_corrupt(j, "invalid record followed by valid records beyond the in-flight window",
                    true);
    else if (j->proven > j->end)
        set_corrupt(j, "invalid record below the durable LSN a later valid record proves", true);
    else if (!clean && (tear = not_a_tear(j)) != NULL)
        set_corrupt(j, tear, true);
    else
        j->verdict = clean ? REGIO__WAL_V_CLEAN : REGIO__WAL_V_TORN;
    REGIO_ASSERT(j->verdict != REGIO__WAL_V_EMPTY &&
                 (j->verdict != REGIO__WAL_V_CORRUPT || j->corrupt != NULL));
}

/* No control file: a creation that crashed before writing it leaves at most
 * segment 0 with a valid header and no record (open returns only after both,
 * so nothing was acknowledged); anything else is damage. */
static bool crashed_creation(struct regio__wal_judge *j)
{
    REGIO_ASSERT(!j->have_ctl);
    if (j->nsegs != 1 || j->segs[0].segno != 0 || j->segs[0].hdr_err != 0)
        return false;
    struct regio__wal_seg_image *s = &j->segs[0];
    if (regio__wal_judge_load(j, s) != 0 || s->len < s->si.block_bytes + 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (s->data[s->si.block_bytes + i] != 0)
            return false;
    return true;
}

/* The chain starts at the lowest segment; a bad header there cannot be a
 * spare being prepared (spares are renamed into place only once complete). */
static int find_chain(struct regio__wal_judge *j)
{
    REGIO_ASSERT(j->nsegs > 0); /* list_images refuses an empty directory */
    for (uint32_t i = 0; i < j->nsegs; i++) {
        int err = load_header(j, &j->segs[i]);
        if (err != 0)
            return err;
    }
    if (j->segs[0].hdr_err != 0) {
        j->end = j->segs[0].segno * (j->have_ctl ? j->ctl.segment_bytes : 0);
        j->why = j->segs[0].hdr_err == -ENODATA ? "zeroed segment header" : "bad segment header";
        set_corrupt(j, "the oldest segment has no valid header", false);
        return 1;
    }
    j->chain_first = 0;
    j->window = j->segs[0].si.window_bytes;
    /* load_header matched the header to the file name. */
    REGIO_ASSERT(j->segs[0].si.segment_no == j->segs[0].segno);
    return 0;
}

int regio__wal_judge_run(struct regio__wal_judge *j)
{
    REGIO_ASSERT(j->dir != NULL && j->dir_fd >= 0);
    int err = list_images(j);
    if (err != 0)
        return err;
    err = find_chain(j);
    if (err != 0)
        return err < 0 ? err : 0;
    if (!j->have_ctl) {
        if (crashed_creation(j)) {
            j->verdict = REGIO__WAL_V_EMPTY;
            j->end = j->segs[0].si.first_lsn;
            return 0;
        }
        j->end = j->segs[0].si.first_lsn;
        j->why = "no control file";
        set_corrupt(j, "segment files without a control file", false);
        return 0;
    }
    err = walk_chain(j);
    if (err != 0)
        return err < 0 ? err : 0;
    j->window = j->segs[j->end_idx].si.window_bytes;
    /* After a crash every byte past the end is searched: a valid record
     * anywhere there tells a torn tail from damage. After a clean close
     * that ends where the control file says, only the next two blocks are:
     * an open after the close writes contiguously from the close's next
     * block, so the chain walk itself runs into its records (and the close
     * record is then not the last). Searching whole segments and spares
     * made every open read them. A damaged clean log is searched whole. */
    const struct regio__wal_seg_image *es = &j->segs[j->end_idx];
    bool clean_end = (j->ctl.flags & REGIO__WAL_CTL_CLEAN) != 0 && j->saw_close_at_ctl &&
                     regio__wal_clean_end_ok(j->end, j->ctl.close_lsn, es->si.block_bytes);
    err = scan_beyond(j, clean_end ? j->end + 2ull * es->si.block_bytes : UINT64_MAX);
    if (err != 0)
        return err;
    classify(j);
    /* X lies at or after the chain's first record position. */
    REGIO_ASSERT(j->end >= j->segs[j->chain_first].si.first_lsn);
    return 0;
}

void regio__wal_judge_free(struct regio__wal_judge *j)
{
    REGIO_ASSERT(j->nsegs == 0 || j->segs != NULL);
    for (uint32_t i = 0; i < j->nsegs; i++)
        unload(j, &j->segs[i]);
    free(j->segs);
    j->segs = NULL;
    j->nsegs = 0;
}

void regio__wal_judge_detail(const struct regio__wal_judge *j, const char *who)
{
    REGIO_ASSERT(j->verdict == REGIO__WAL_V_CORRUPT); /* only damage is reported */
    regio__set_detail("%s: corruption at LSN %llu (%s): %s", who, (unsigned long long)j->end,
                      j->why ? j->why : "?", j->corrupt ? j->corrupt : "?");
}

int regio__wal_judge_dir(const char *dir, const char *who, enum regio__wal_verdict *verdict,
                         uint64_t *end_lsn)
{
    REGIO_ASSERT(dir != NULL && who != NULL); /* both name the log in details */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int err = regio__wal_judge_at(dfd, dir, who, verdict, end_lsn);
    close(dfd);
    return err;
}

int regio__wal_judge_at(int dir_fd, const char *dir, const char *who,
                        enum regio__wal_verdict *verdict, uint64_t *end_lsn)
{
    REGIO_ASSERT(dir_fd >= 0 && verdict != NULL && end_lsn != NULL);
    struct regio__wal_judge j = {0};
    j.dir = dir;
    j.dir_fd = dir_fd;
    int cerr = regio__wal_read_control_at(dir_fd, &j.ctl);
    j.have_ctl = cerr == 0;
    int err = cerr == 0 || cerr == -ENOENT ? regio__wal_judge_run(&j) : 0;
    if (cerr != 0 && cerr != -ENOENT && cerr != -EBADMSG)
        err = cerr;
    if (err == 0 && cerr == -EBADMSG) {
        j.verdict = REGIO__WAL_V_CORRUPT;
        char why[200];
        snprintf(why, sizeof(why), "%s", regio_error_detail());
        regio__set_detail("%s: control file of %s: %s", who, dir, why);
    } else if (err == 0 && j.verdict == REGIO__WAL_V_CORRUPT) {
        regio__wal_judge_detail(&j, who);
    }
    if (err == 0) {
        *verdict = j.verdict;
        *end_lsn = j.end;
    }
    regio__wal_judge_free(&j);
    return err;
}
