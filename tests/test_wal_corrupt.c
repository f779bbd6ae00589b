/* regio-test: labels=unit timeout=600 */
/*
 * tests/test_wal_corrupt.c: every single-bit flip and every truncation point
 * of a small log, in two states: cleanly closed, and crashed (copied while
 * open, after its last sync; a crash before any spare was prepared).
 *
 * The log: segments of 48 KiB (the smallest the options allow: two rings of
 * four 4 KiB buffers plus four blocks), so a 16 KiB in-flight window; six
 * records in four synced flushes (two sharing a block, the first with 7
 * bytes of rounding, one spanning a block boundary, pads of 1984, 2128 and
 * 64 bytes, a record of the largest size filling its block exactly) over
 * blocks 1..5, so that block 1 lies outside the crashed log's last window; a
 * checkpoint set; for the closed log the close record and its pad in block 6.
 * The log files are wal.ctl and segment 0 (spares hold no record and are
 * left out). The test runs on tmpfs (/dev/shm when usable): it is I/O-bound.
 *
 * Every bit of: the control file (all 4096 bytes), the segment's header
 * block (all of block 0), every record byte up to the end of the last
 * written block (close record and pads included). A bit is flipped in place
 * and recovery must give exactly:
 *  - closed log, anywhere: -EBADMSG;
 *  - crashed log, anywhere, the last window included: -EBADMSG (format
 *    version 3: a record is proved durable by the next one's proof, and a
 *    changed bit in a written sector of this zero-filled segment is never
 *    taken for a torn write; version 2 cut the last window's records).
 * Bytes after the last written block are not part of the log (a recycled
 * segment holds old records there); a sample of flips there must change
 * nothing.
 *
 * Every truncation point: a preallocated segment never changes size (it is
 * zero-filled before it is named; the log writes inside it), and the control
 * file is written whole and renamed into place, so "the file ends at byte k"
 * is damage for every k below the file's size: segment 0 cut at each byte
 * up to the end of the last written block and at each 512-byte sector after
 * it, and the control file cut at each byte 0..4095, give -EBADMSG in both
 * states (and a directory reader over the cut segment ends in -EBADMSG). What a power cut does
 * leave, the log's end lost from byte k (zeros from k, as preallocated space reads), is swept at
 * every byte of the written records: -EBADMSG for the closed log (its close record is gone); for
 * the crashed log, from every 512-byte sector boundary, a cut exactly at the first record that
 * lost a byte (a lost tail cannot be told from a crash there); from inside a sector (which no
 * power cut leaves: a sector is written wholly or not at all) that cut or -EBADMSG.
 *
 * In all 491,520 flips (closed log 262,144, crashed 229,376: 32,768 in the
 * control file, 32,768 in the header block, 8 per record byte), 61,528 file
 * truncations and 41,024 lost tails; 18,498 of the crashed log's 20,480
 * lost tails recover with a cut (all 40 lost from a sector boundary; of the
 * others, lost from inside a sector, 1,982 are refused), the unused-space
 * flips change nothing, and all the others fail. A failed open must change nothing
 * on disk (watched with inotify, else read back). Every trial expected to fail runs regio_wal_open
 * itself, which fails inside its recovery step. One that recovers would
 * cost an open with its engine and threads (over a millisecond): it runs
 * recovery as regio_wal_open runs it (regio__wal_recover on a WAL not
 * started) and then check_cut reads what it left on disk; every XCHECK-th
 * of them runs the full regio_wal_open and reads the records back with a
 * live reader instead, which must agree. The trials are dealt out by byte
 * to two processes when there are two CPUs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wal_internal.h"

#define SEG    (48u * 1024u)
#define BUF    4096u
#define BLOCK  4096u
#define WINDOW (REGIO__WAL_PIECES * BUF)
#define CTL    REGIO__WAL_CTL_FILE_BYTES
#define SEG0   "0000000000000000.wal"
#define XCHECK 199 /* every XCHECK-th successful recovery through regio_wal_open */

static const struct {
    size_t len;
    bool sync;
} recs[] = {{41, false}, {2000, true}, {3000, false}, {3000, true}, {4000, true}, {BUF - 32, true}};
#define NREC ((int)(sizeof(recs) / sizeof(recs[0])))
#define CKPT 2 /* the checkpoint is set at this record */

static uint8_t payload[NREC][BUF];

static void make_payloads(void)
{
    for (int i = 0; i < NREC; i++)
        for (size_t k = 0; k < recs[i].len; k++)
            payload[i][k] = (uint8_t)(i * 31 + k * 7 + (k >> 8));
}

/* A record of the image, user or internal, from the scan of the pristine log. */
struct unit {
    uint64_t start, end;
    uint16_t type;
};

struct state {
    const char *name;
    bool crashed;
    /* The images of the files: pristine, but for the damage of a trial. */
    uint8_t ctl[CTL], seg[SEG];
    struct regio__wal_seg_info si;
    struct unit units[32];
    int nunits;
    uint64_t used_end; /* end of the last written block */
    uint64_t rec_lsn[NREC];
};

/* The test directory, its two files and an inotify watch on it. */
static char dir[512], ctl_path[600], seg_path[600];
static int seg_fd = -1, ctl_fd = -1, ino_fd = -1;
static struct regio_arena *arena;
/* Trials are dealt out by byte to this many processes (CPUs, up to two). */
static int worker, nworkers = 1;
static const struct regio_wal_opts opts = {.segment_bytes = SEG, .buffer_bytes = BUF};

struct tally {
    long trials, badmsg, cut, intact, full_opens;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void read_file(const char *path, void *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    CHECK_EQ(st.st_size, len);
    CHECK(pread(fd, data, len, 0) == (ssize_t)len);
    close(fd);
}

/* Drain the watch; true when something other than the lock file changed. */
static bool dir_changed(void)
{
    if (ino_fd < 0)
        return false;
    bool changed = false;
    _Alignas(struct inotify_event) char buf[4096];
    ssize_t n;
    while ((n = read(ino_fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len == 0 || strcmp(ev->name, REGIO__WAL_LOCK_NAME) != 0)
                changed = true;
            p += sizeof(*ev) + ev->len;
        }
    }
    return changed;
}

/* Put the files of s in place; full: and nothing else in the directory
 * (a full open prepares spares; recovery alone renames only wal.ctl). */
static void restore(const struct state *s, bool full)
{
    DIR *d = full ? opendir(dir) : NULL;
    CHECK(d != NULL || !full);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, REGIO__WAL_LOCK_NAME) == 0 ||
            strcmp(de->d_name, SEG0) == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%.255s", dir, de->d_name);
        CHECK(unlink(p) == 0);
    }
    if (d != NULL)
        closedir(d);
    if (seg_fd < 0)
        seg_fd = open(seg_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(seg_fd >= 0);
    CHECK(ftruncate(seg_fd, SEG) == 0);
    CHECK(pwrite(seg_fd, s->seg, SEG, 0) == SEG);
    if (ctl_fd >= 0)
        close(ctl_fd);
    ctl_fd = open(ctl_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(ctl_fd >= 0);
    CHECK(pwrite(ctl_fd, s->ctl, CTL, 0) == CTL);
    dir_changed();
}

/* The damage of the current trial: in one file, the bytes [off, off + len)
 * as they were (in the image and on disk), or the file cut to len bytes. */
static struct {
    bool ctl_file, cut;
    size_t off, len;
    uint8_t was[SEG];
} dmg;

static void damage(struct state *s, bool ctl_file, size_t off, size_t len, const uint8_t *bytes)
{
    uint8_t *img = ctl_file ? s->ctl : s->seg;
    dmg.ctl_file = ctl_file;
    dmg.cut = false;
    dmg.off = off;
    dmg.len = len;
    memcpy(dmg.was, img + off, len);
    memcpy(img + off, bytes, len);
    CHECK(pwrite(ctl_file ? ctl_fd : seg_fd, bytes, len, (off_t)off) == (ssize_t)len);
}

static void cut_file(bool ctl_file, size_t len)
{
    dmg.ctl_file = ctl_file;
    dmg.cut = true;
    dmg.off = dmg.len = len;
    CHECK(ftruncate(ctl_file ? ctl_fd : seg_fd, (off_t)len) == 0);
}

/* Undo the damage in the image, and on disk too when recovery left the
 * files as they were. */
static void undo(struct state *s, bool disk)
{
    uint8_t *img = dmg.ctl_file ? s->ctl : s->seg;
    size_t size = dmg.ctl_file ? CTL : SEG;
    int fd = dmg.ctl_file ? ctl_fd : seg_fd;
    if (!dmg.cut)
        memcpy(img + dmg.off, dmg.was, dmg.len);
    if (disk && dmg.cut)
        CHECK(pwrite(fd, img + dmg.len, size - dmg.len, (off_t)dmg.len) ==
              (ssize_t)(size - dmg.len));
    else if (disk)
        CHECK(pwrite(fd, img + dmg.off, dmg.len, (off_t)dmg.off) == (ssize_t)dmg.len);
}

/* A failed open must leave the directory as it was: watched with inotify,
 * else by reading the files back. */
static void check_unchanged(const struct state *s)
{
    if (ino_fd >= 0) {
        CHECK(!dir_changed());
        return;
    }
    static uint8_t seg[SEG], ctl[CTL];
    size_t seg_len = dmg.cut && !dmg.ctl_file ? dmg.len : SEG;
    size_t ctl_len = dmg.cut && dmg.ctl_file ? dmg.len : CTL;
    read_file(seg_path, seg, seg_len);
    read_file(ctl_path, ctl, ctl_len);
    CHECK(memcmp(seg, s->seg, seg_len) == 0 && memcmp(ctl, s->ctl, ctl_len) == 0);
}

/* Records from r must be the first ones written, byte for byte; returns
 * how many, and in *end what the reader said after the last. */
static int read_records(struct regio_wal_reader *r, int *end)
{
    struct regio_wal_record rec;
    int n = 0;
    while ((*end = regio_wal_reader_next(r, &rec)) == 1) {
        CHECK(n < NREC);
        CHECK_EQ(rec.len, recs[n].len);
        CHECK(memcmp(rec.data, payload[n], rec.len) == 0);
        n++;
    }
    return n;
}

/* Recovery exactly as regio_wal_open runs it, on a WAL that is not started:
 * the fields open sets before regio__wal_recover, no arena, engine or
 * threads. What it must leave on disk is checked by check_cut. */
static int recover_only(struct regio_wal_recovery *info)
{
    size_t sz = regio__wal_round_up(sizeof(struct regio_wal), 64);
    struct regio_wal *w = aligned_alloc(64, sz);
    CHECK(w != NULL);
    memset(w, 0, sz);
    w->dir = dir;
    w->opts = opts;
    w->opts.spare_segments = 2;
    w->piece_bytes = BUF;
    w->ring_bytes = WINDOW;
    w->lock_fd = -1;
    w->dir_lock_fd = -1;
    w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(w->dir_fd >= 0);
    int rc = regio__wal_recover(w, info);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    if (w->dir_lock_fd >= 0)
        close(w->dir_lock_fd);
    close(w->dir_fd);
    free(w);
    return rc;
}

/*
 * After recovery cut the log at at (format.md, "Where the log ends", step 6):
 * the bytes before at are those of the damaged image (so every record
 * before the cut is there byte for byte), a pad of the new epoch runs from
 * at to next when at is mid-block, zeros follow up to at + window, and the
 * rest is untouched; the control file keeps the checkpoint, under the new
 * epoch, not clean. A clean end (the closed log opened intact) is left as
 * it is: nothing zeroed, and the control file still the close's until the
 * open's first flush (format.md, "Why the lazy write is safe"). A reader
 * then finds exactly the records before at. Returns what is wrong, or NULL.
 */
static const char *check_cut(const struct state *s, uint64_t at, uint64_t next, uint32_t epoch)
{
    static uint8_t got[SEG];
    static const uint8_t zeros[WINDOW];
    CHECK(pread(seg_fd, got, SEG, 0) == SEG);
    uint64_t zero_end = !s->crashed ? next : at + WINDOW < SEG ? at + WINDOW : SEG;
    struct regio__wal_rec_info ri;
    struct regio__wal_ctl_info c;
    if (memcmp(got, s->seg, at) != 0)
        return "bytes before the cut changed";
    if (next > at &&
        (regio__wal_check_record(&s->si, got, SEG, at, &ri, NULL) != 0 ||
         ri.type != REGIO__WAL_TYPE_PAD || ri.epoch != epoch || at + ri.total_bytes != next))
        return "no pad of the new epoch from the cut to the next block";
    if (memcmp(got + next, zeros, zero_end - next) != 0)
        return "the window after the cut is not zeroed";
    if (memcmp(got + zero_end, s->seg + zero_end, SEG - zero_end) != 0)
        return "bytes beyond the window changed";
    if (!s->crashed) {
        uint8_t ctl[CTL];
        int fd = open(ctl_path, O_RDONLY | O_CLOEXEC); /* by name: a rename replaces it */
        CHECK(fd >= 0 && pread(fd, ctl, CTL, 0) == CTL);
        close(fd);
        return memcmp(ctl, s->ctl, CTL) != 0 ? "the clean close's control file changed" : NULL;
    }
    if (regio__wal_read_control(dir, &c) != 0 || c.epoch != epoch || c.flags != 0 ||
        c.checkpoint_lsn != s->rec_lsn[CKPT])
        return "control file not the new epoch with the checkpoint kept";
    return NULL;
}

/* The full open, with a live reader over what it recovered. */
static int open_full(struct regio_wal_recovery *info, int *records)
{
    struct regio_wal_opts o = opts;
    o.arena = arena;
    struct regio_wal *w;
    int rc = regio_wal_open(dir, &o, &w, info);
    if (rc != 0)
        return rc;
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open_live(w, 0, &r));
    int end;
    *records = read_records(r, &end);
    CHECK_EQ(end, 0);
    CHECK_OK(regio_wal_reader_close(r));
    CHECK_OK(regio_wal_close(w));
    return 0;
}

/* What a trial must give. */
enum expect {
    EXPECT_BADMSG, /* -EBADMSG */
    EXPECT_CUT,    /* a torn tail cut exactly at cut_at, or -EBADMSG */
    EXPECT_TORN,   /* a torn tail cut exactly at cut_at (a lost tail) */
    EXPECT_INTACT, /* nothing changes: every record */
};

/* bit < 0: what names a cut, not a flip. */
static void fail_trial(const struct state *s, const char *what, size_t byte, int bit, int rc,
                       const char *why)
{
    char b[16] = "";
    if (bit >= 0)
        snprintf(b, sizeof(b), " bit %d", bit);
    fprintf(stderr, "%s log, %s byte %zu%s: open %d (%s): %s\n", s->name, what, byte, b, rc,
            rc ? regio_error_detail() : "ok", why);
    exit(1);
}

/* Run one trial on the damaged directory (s holds its image) and check
 * the outcome; cut_at is the start of the damaged record (for an intact log
 * its end). A failed open must have changed nothing; after a recovery the
 * pristine files are put back. */
static void trial(struct state *s, struct tally *t, enum expect e, uint64_t cut_at,
                  const char *what, size_t byte, int bit)
{
    static long successes;
    struct regio_wal_recovery info;
    int n = -1, rc;
    bool full = e == EXPECT_BADMSG || successes++ % XCHECK == 0;
    t->trials++;
    t->full_opens += full;
    dir_changed();
    rc = full ? open_full(&info, &n) : recover_only(&info);
    if (rc == -EBADMSG) {
        if (e == EXPECT_TORN || e == EXPECT_INTACT)
            fail_trial(s, what, byte, bit, rc, "want the log opened");
        t->badmsg++;
        check_unchanged(s);
        undo(s, true);
        return;
    }
    if (rc != 0)
        fail_trial(s, what, byte, bit, rc, "unexpected error");
    if (e == EXPECT_BADMSG)
        fail_trial(s, what, byte, bit, rc, "damage accepted, want -EBADMSG");
    /* New records start after the pad written at a mid-block cut. */
    uint64_t next = cut_at % BLOCK ? regio__wal_round_up(cut_at + 32, BLOCK) : cut_at;
    const char *bad = full ? NULL : check_cut(s, cut_at, next, info.epoch);
    if (bad != NULL)
        fail_trial(s, what, byte, bit, rc, bad);
    if (!full)
        n = (int)info.records;
    int want = 0;
    for (int i = 0; i < NREC; i++)
        if (s->rec_lsn[i] < cut_at)
            want = i + 1;
    if (n != want || info.records != (uint64_t)want || info.checkpoint_lsn != s->rec_lsn[CKPT]) {
        fprintf(stderr, "got %d records (recovery: %llu), want %d; checkpoint %llu, want %llu\n", n,
                (unsigned long long)info.records, want, (unsigned long long)info.checkpoint_lsn,
                (unsigned long long)s->rec_lsn[CKPT]);
        fail_trial(s, what, byte, bit, rc, "wrong records after recovery");
    }
    if (e == EXPECT_INTACT) {
        t->intact++;
        if (info.end != (s->crashed ? REGIO_WAL_END_TORN : REGIO_WAL_END_CLEAN))
            fail_trial(s, what, byte, bit, rc, "wrong end kind");
    } else {
        t->cut++;
        if (info.end != REGIO_WAL_END_TORN)
            fail_trial(s, what, byte, bit, rc, "not a torn tail cut at the damaged record");
    }
    if (info.end_lsn != next)
        fail_trial(s, what, byte, bit, rc, "new records do not start after the cut");
    undo(s, false);
    restore(s, full);
}

/* Flip bit of byte in the control file or segment 0 and run a trial. */
static void flip(struct state *s, struct tally *t, bool ctl_file, size_t byte, int bit,
                 enum expect e, uint64_t cut_at)
{
    uint8_t v = (uint8_t)((ctl_file ? s->ctl : s->seg)[byte] ^ (1u << bit));
    damage(s, ctl_file, byte, 1, &v);
    trial(s, t, e, cut_at, ctl_file ? "wal.ctl" : SEG0, byte, bit);
}

static const struct unit *unit_at(const struct state *s, uint64_t off)
{
    for (int i = 0; i < s->nunits; i++)
        if (off >= s->units[i].start && off < s->units[i].end)
            return &s->units[i];
    CHECK(0);
    return NULL;
}

/* The outcome the format promises for damage to the record holding off. */
static enum expect record_damage(const struct state *s, uint64_t off, uint64_t *cut_at)
{
    const struct unit *u = unit_at(s, off);
    *cut_at = u->start;
    /* Format version 3: a changed bit in a written sector of a zero-filled
     * segment is never taken for a torn write, in the last window too. */
    return EXPECT_BADMSG;
}

static bool mine(size_t byte)
{
    return byte % (size_t)nworkers == (size_t)worker;
}

static void report(const struct state *s, const char *what, const struct tally *t, double t0)
{
    fprintf(stderr,
            "worker %d/%d, %s log, %s: %ld trials: %ld -EBADMSG, %ld cut at the damaged record, "
            "%ld intact (%ld through regio_wal_open), %.1f s\n",
            worker + 1, nworkers, s->name, what, t->trials, t->badmsg, t->cut, t->intact,
            t->full_opens, now_s() - t0);
}

static void flips(struct state *s)
{
    struct tally t = {0};
    double t0 = now_s();
    for (size_t byte = 0; byte < CTL; byte++)
        for (int bit = 0; bit < 8 && mine(byte); bit++)
            flip(s, &t, true, byte, bit, EXPECT_BADMSG, 0);
    CHECK_EQ(t.badmsg, t.trials);
    report(s, "control file flips", &t, t0);

    t = (struct tally){0};
    t0 = now_s();
    for (size_t byte = 0; byte < s->used_end; byte++) {
        if (!mine(byte))
            continue;
        uint64_t cut_at = 0;
        enum expect e = byte < BLOCK ? EXPECT_BADMSG : record_damage(s, byte, &cut_at);
        for (int bit = 0; bit < 8; bit++)
            flip(s, &t, false, byte, bit, e, cut_at);
    }
    report(s, "segment flips (header block and records)", &t, t0);
    CHECK_EQ(t.badmsg, t.trials);

    /* Unused space: every bit of the next record's header spot, then one
     * bit in every 61st byte to the segment end. */
    t = (struct tally){0};
    t0 = now_s();
    for (size_t byte = s->used_end; byte < SEG; byte++) {
        if (!mine(byte))
            continue;
        if (byte < s->used_end + 32) {
            for (int bit = 0; bit < 8; bit++)
                flip(s, &t, false, byte, bit, EXPECT_INTACT, s->used_end);
        } else if (byte % 61 == 0) {
            flip(s, &t, false, byte, (int)(byte % 8), EXPECT_INTACT, s->used_end);
        }
    }
    CHECK_EQ(t.intact, t.trials);
    report(s, "unused-space flips", &t, t0);
}

/* A directory reader over a cut segment: the records before the cut, then
 * -EBADMSG, not the end of the log; and it writes nothing. */
static void reader_refuses(const struct state *s, size_t k)
{
    dir_changed();
    struct regio_wal_reader *r;
    int rc = regio_wal_reader_open(dir, 0, &r);
    if (rc == 0) {
        read_records(r, &rc);
        CHECK_OK(regio_wal_reader_close(r));
    }
    if (rc != -EBADMSG)
        fail_trial(s, "directory reader, segment cut at", k, -1, rc, "want -EBADMSG");
    CHECK(!dir_changed());
}

static void truncations(struct state *s)
{
    struct tally t = {0};
    double t0 = now_s();
    for (size_t k = 0; k < SEG; k += k < s->used_end ? 1 : 512) {
        if (!mine(k / (k < s->used_end ? 1 : 512)))
            continue;
        cut_file(false, k);
        reader_refuses(s, k);
        trial(s, &t, EXPECT_BADMSG, 0, "segment cut at", k, -1);
    }
    for (size_t k = 0; k < CTL; k++) {
        if (!mine(k))
            continue;
        cut_file(true, k);
        trial(s, &t, EXPECT_BADMSG, 0, "control file cut at", k, -1);
    }
    CHECK_EQ(t.badmsg, t.trials);
    report(s, "file truncations", &t, t0);

    /* The end of the log lost from byte k: zeros from k on, for every byte
     * k of the written records (so every record boundary and every byte
     * inside a record). */
    t = (struct tally){0};
    t0 = now_s();
    static const uint8_t zeros[SEG];
    for (size_t k = BLOCK; k < s->used_end; k++) {
        /* The first record losing a byte is where the log must end. */
        size_t f = k;
        while (f < s->used_end && s->seg[f] == 0)
            f++;
        if (f == s->used_end)
            break; /* zeros already (a pad's payload): nothing lost */
        if (!mine(k))
            continue;
        damage(s, false, k, s->used_end - k, zeros);
        /* A power cut loses whole sectors: from a sector boundary the loss
         * is a torn tail; from inside a sector it is damage no power cut
         * leaves, which recovery may cut or report. */
        enum expect e = !s->crashed                        ? EXPECT_BADMSG
                        : k % REGIO__WAL_SECTOR_BYTES == 0 ? EXPECT_TORN
                                                           : EXPECT_CUT;
        trial(s, &t, e, unit_at(s, f)->start, "log lost from", k, -1);
    }
    if (s->crashed)
        CHECK_EQ(t.cut + t.badmsg, t.trials);
    else
        CHECK_EQ(t.badmsg, t.trials);
    report(s, "lost tails", &t, t0);
}

/* Keep the images of wal.ctl and segment 0 of the log in from. */
static void snapshot(const char *from, struct state *s)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", from, REGIO__WAL_CTL_NAME);
    read_file(p, s->ctl, CTL);
    snprintf(p, sizeof(p), "%s/%s", from, SEG0);
    read_file(p, s->seg, SEG);
}

/* Scan the pristine segment: the records must tile blocks 1.. up to a block
 * boundary, the user ones at the LSNs the appends returned. */
static void model(struct state *s)
{
    CHECK_OK(regio__wal_decode_segment_header(s->seg, BLOCK, &s->si));
    struct regio__wal_scan sc;
    regio__wal_scan_init(&sc, &s->si, s->seg, SEG);
    struct regio__wal_scan_item it;
    uint64_t pos = BLOCK;
    int user = 0;
    s->nunits = 0;
    while (regio__wal_scan_next(&sc, &it) == 1) {
        CHECK(it.kind == REGIO__WAL_SCAN_RECORD);
        CHECK_EQ(it.offset, pos);
        CHECK(s->nunits < 32);
        struct unit *u = &s->units[s->nunits++];
        *u = (struct unit){it.offset, it.offset + it.bytes, it.rec.type};
        if (it.rec.type <= REGIO_WAL_TYPE_USER_MAX) {
            CHECK(user < NREC);
            CHECK_EQ(it.offset, s->rec_lsn[user]);
            CHECK_EQ(it.rec.len, recs[user].len);
            CHECK(memcmp(it.payload, payload[user], recs[user].len) == 0);
            user++;
        }
        pos = u->end;
    }
    CHECK_EQ(user, NREC);
    CHECK_EQ(pos % BLOCK, 0);
    s->used_end = pos;
    CHECK(s->units[s->nunits - 1].type == (s->crashed ? 0 : REGIO__WAL_TYPE_PAD));
}

/* Write the log in live; the crashed state is its copy before the close. */
static void build(const char *live, struct state *crashed, struct state *closed)
{
    struct regio_wal_opts o = opts;
    o.create = true;
    o.spare_segments = 1;
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(live, &o, &w, NULL));
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK_EQ(st.block_bytes, BLOCK);
    for (int i = 0; i < NREC; i++) {
        CHECK_OK(regio_wal_append_record(w, 0, &(struct iovec){payload[i], recs[i].len}, 1,
                                         &crashed->rec_lsn[i], NULL));
        if (recs[i].sync)
            CHECK_OK(regio_wal_sync(w, crashed->rec_lsn[i]));
    }
    CHECK_OK(regio_wal_set_checkpoint(w, crashed->rec_lsn[CKPT]));
    snapshot(live, crashed);
    CHECK_OK(regio_wal_close(w));
    snapshot(live, closed);
    memcpy(closed->rec_lsn, crashed->rec_lsn, sizeof(closed->rec_lsn));
    model(crashed);
    model(closed);
    /* Some records of the crashed log lie outside its last window. */
    CHECK(crashed->used_end > crashed->rec_lsn[1] + WINDOW);
    CHECK_EQ(closed->used_end, crashed->used_end + BLOCK);
}

/* The other workers, while they run: a failed check in the first one
 * stops them rather than leave them holding the test's output open. */
static pid_t pids[2];

static void stop_workers(void)
{
    for (int i = 1; i < nworkers && worker == 0; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGKILL);
}

int main(void)
{
    char base[256];
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
        snprintf(base, sizeof(base), "/dev/shm/regio-test-walcorrupt-XXXXXX");
        CHECK(mkdtemp(base) != NULL);
    } else {
        snprintf(base, sizeof(base), "%s", test_tmpdir("walcorrupt"));
    }
    make_payloads();
    static struct state crashed = {.name = "crashed", .crashed = true}, closed = {.name = "closed"};
    char live[4200];
    snprintf(live, sizeof(live), "%s/live", base);
    build(live, &crashed, &closed);
    /* The log is built and closed (no thread left): fork the workers. */
    nworkers = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
    for (int i = 1; i < nworkers && worker == 0; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0)
            worker = i;
    }
    if (worker == 0)
        atexit(stop_workers);
    snprintf(dir, sizeof(dir), "%s/log-%d", base, worker);
    snprintf(ctl_path, sizeof(ctl_path), "%s/%s", dir, REGIO__WAL_CTL_NAME);
    snprintf(seg_path, sizeof(seg_path), "%s/%s", dir, SEG0);
    CHECK(mkdir(dir, 0700) == 0);
    struct regio_arena_opts ao = {.size_bytes = 8u << 20, .pages = REGIO_PAGES_NORMAL};
    CHECK_OK(regio_arena_create(&ao, &arena));
    ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino_fd >= 0 && inotify_add_watch(ino_fd, dir,
                                         IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE |
                                             IN_MOVED_FROM | IN_MOVED_TO) < 0) {
        close(ino_fd);
        ino_fd = -1;
    }
    if (ino_fd < 0)
        fprintf(stderr, "no inotify: failed opens are checked by reading the files back\n");
    struct state *states[] = {&closed, &crashed};
    for (int i = 0; i < 2; i++) {
        restore(states[i], true);
        flips(states[i]);
        truncations(states[i]);
    }
    close(seg_fd);
    close(ctl_fd);
    if (ino_fd >= 0)
        close(ino_fd);
    CHECK_OK(regio_arena_destroy(arena));
    if (worker != 0)
        exit(0);
    for (int i = 1; i < nworkers; i++) {
        int status;
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        pids[i] = 0;
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    test_rmdir_all(base);
    printf("wal_corrupt: ok\n");
    return 0;
}
