/* regio-test: labels=unit timeout=600 */
/*
 * tests/test_wal_flip_sweep.c: no single-byte damage of a crashed log makes
 * strict recovery silently drop an acknowledged record.
 *
 * The log: segments of 48 KiB, 4 KiB buffers (a 16 KiB in-flight window),
 * ten records of 50 to 4064 bytes of random payload, each synced (so each
 * one acknowledged), copied while the log is open: a crash right after the
 * last acknowledgement. Spares hold no record and are left out.
 *
 * Every byte of segment 0 up to the end of the last written block (header
 * block, records, pads) and every 7th byte of the control file is changed in
 * turn (one bit, the byte's index mod 8), and recovery runs as
 * regio_wal_open runs it. It must either refuse the log (-EBADMSG) or
 * succeed with all ten records. A success with fewer is a silent drop of
 * acknowledged data: the test counts them and fails on any. Format version
 * 2 cut 13,320 of these 45,642 as torn tails (every flip in the records of
 * the last 16 KiB window: a damaged record with nothing valid beyond the
 * window); version 3 cuts none: damage below a later record's durable-LSN
 * proof is corruption, and a flipped bit in a written sector is told from a
 * torn write by the header check and the sectors each record spans.
 *
 * The same sweep as if the segment were a recycled file (its old sectors
 * need not be zero): only the final, unproven record may be cut.
 *
 * Then every way a torn final flush can really end (each of its 512-byte
 * sectors wholly old, i.e. zero in this zero-filled segment, or wholly new)
 * for the last record's block: recovery must cut it (never refuse), keeping
 * the nine records before it, or keep all ten when every sector is new.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "wal_internal.h"

#define SEG    (48u * 1024u)
#define BUF    4096u
#define BLOCK  4096u
#define WINDOW (REGIO__WAL_PIECES * BUF)
#define CTL    REGIO__WAL_CTL_FILE_BYTES
#define SEG0   "0000000000000000.wal"
#define NREC   10
#ifndef REGIO__WAL_SECTOR_BYTES /* before format version 3, for measuring it */
#define REGIO__WAL_SECTOR_BYTES 512u
#endif
#define SECTOR REGIO__WAL_SECTOR_BYTES

static const size_t lens[NREC] = {100, 700, 2000, 50, 1500, 3000, 200, BUF - 32, 400, 1000};
static uint8_t payload[NREC][BUF];
static uint8_t seg_img[SEG], ctl_img[CTL];
static uint64_t rec_lsn[NREC];
static char dir[512];
static const struct regio_wal_opts opts = {.segment_bytes = SEG, .buffer_bytes = BUF};

static void write_file(const char *name, const void *data, size_t len)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void read_file(const char *name, void *data, size_t len)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(pread(fd, data, len, 0) == (ssize_t)len);
    close(fd);
}

/* Recovery as regio_wal_open runs it, on a WAL that is not started. */
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

/* Write the log and keep its crashed state (seg_img, ctl_img). */
static void build(void)
{
    uint64_t seed = test_seed();
    for (int i = 0; i < NREC; i++)
        for (size_t k = 0; k < lens[i]; k++)
            payload[i][k] = (uint8_t)(test_rand(&seed) | 1); /* no zero sector by chance */
    struct regio_wal_opts o = opts;
    o.create = true;
    o.spare_segments = 1;
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    for (int i = 0; i < NREC; i++) {
        CHECK_OK(regio_wal_append(w, payload[i], lens[i], &rec_lsn[i]));
        CHECK_OK(regio_wal_sync(w, rec_lsn[i]));
    }
    read_file(SEG0, seg_img, SEG);
    read_file(REGIO__WAL_CTL_NAME, ctl_img, CTL);
    CHECK_OK(regio_wal_close(w));
    CHECK(rec_lsn[NREC - 1] / SEG == 0);
}

/* Put the crashed state back: segment 0 and the control file (recovery
 * writes nothing else here: there is no later segment to recycle). */
static void restore(const uint8_t *seg, const uint8_t *ctl)
{
    write_file(SEG0, seg, SEG);
    write_file(REGIO__WAL_CTL_NAME, ctl, CTL);
}

struct tally {
    uint64_t trials, refused, kept_all, silent_drops, other;
    uint64_t dropped_last_only; /* silent drops of the last record alone */
    bool report;
};

static void trial(struct tally *t, const uint8_t *seg, const uint8_t *ctl, const char *what,
                  size_t at)
{
    restore(seg, ctl);
    struct regio_wal_recovery info;
    int rc = recover_only(&info);
    t->trials++;
    if (rc == -EBADMSG) {
        t->refused++;
    } else if (rc == 0 && info.records == NREC) {
        t->kept_all++;
    } else if (rc == 0) {
        t->silent_drops++;
        t->dropped_last_only += info.records == NREC - 1;
        if (t->silent_drops <= 10 && t->report)
            fprintf(stderr, "silent drop: %s byte %zu: %llu of %d records kept (%s)\n", what, at,
                    (unsigned long long)info.records, NREC, info.detail);
    } else {
        t->other++;
        fprintf(stderr, "%s byte %zu: recovery returned %d (%s)\n", what, at, rc,
                regio_error_detail());
    }
}

static struct tally sweep(const uint8_t *base, uint64_t used_end)
{
    static uint8_t seg[SEG], ctl[CTL];
    struct tally t = {.report = base == seg_img};
    memcpy(ctl, ctl_img, CTL);
    for (size_t i = 0; i < used_end; i++) {
        memcpy(seg, base, SEG);
        seg[i] ^= (uint8_t)(1u << (i % 8));
        trial(&t, seg, ctl, "segment", i);
    }
    memcpy(seg, base, SEG);
    for (size_t i = 0; i < CTL; i += 7) {
        memcpy(ctl, ctl_img, CTL);
        ctl[i] ^= (uint8_t)(1u << (i % 8));
        trial(&t, seg, ctl, "control file", i);
    }
    return t;
}

static void flip_sweep(uint64_t used_end)
{
    struct tally t = sweep(seg_img, used_end);
    printf("flip sweep: %llu flips: %llu refused (-EBADMSG), %llu kept every record, %llu "
           "silently dropped acknowledged records, %llu other results\n",
           (unsigned long long)t.trials, (unsigned long long)t.refused,
           (unsigned long long)t.kept_all, (unsigned long long)t.silent_drops,
           (unsigned long long)t.other);
    CHECK_EQ(t.silent_drops, 0u);
    CHECK_EQ(t.other, 0u);
}

/*
 * The same log as if its segment were a recycled file (ZERO_FILLED clear):
 * there old sectors need not read as zero, so a damaged record spanning
 * several sectors in the final flush may be a tear, and is cut (the limit
 * docs/format.md states). Every other record is proved durable by the one
 * after it: a silent drop may lose the last record only.
 */
static void recycled_sweep(uint64_t used_end)
{
    static uint8_t seg[SEG];
    memcpy(seg, seg_img, SEG);
    struct regio__wal_seg_info si;
    CHECK_OK(regio__wal_decode_segment_header(seg, BLOCK, &si));
    si.flags &= ~REGIO__WAL_SEG_ZERO_FILLED;
    regio__wal_encode_segment_header(&si, seg);
    struct tally t = sweep(seg, used_end);
    printf("flip sweep, as a recycled segment: %llu flips: %llu refused, %llu kept every record, "
           "%llu cut the last record (the final flush, unproven), %llu dropped more\n",
           (unsigned long long)t.trials, (unsigned long long)t.refused,
           (unsigned long long)t.kept_all, (unsigned long long)t.dropped_last_only,
           (unsigned long long)(t.silent_drops - t.dropped_last_only));
    CHECK_EQ(t.silent_drops, t.dropped_last_only);
    CHECK_EQ(t.other, 0u);
}

/* Every subset of the last record's block's sectors left old (zero): a torn
 * final flush is cut, keeping the nine records before it. */
static void torn_sweep(void)
{
    static uint8_t seg[SEG];
    uint64_t blk = rec_lsn[NREC - 1] / BLOCK * BLOCK;
    uint32_t n = BLOCK / SECTOR;
    struct tally t = {0};
    for (uint32_t mask = 0; mask < (1u << n); mask++) {
        memcpy(seg, seg_img, SEG);
        for (uint32_t k = 0; k < n; k++)
            if (mask & (1u << k))
                memset(seg + blk + k * SECTOR, 0, SECTOR);
        struct regio_wal_recovery info;
        restore(seg, ctl_img);
        int rc = recover_only(&info);
        t.trials++;
        bool whole = memcmp(seg + blk, seg_img + blk, BLOCK) == 0;
        if (rc != 0)
            fprintf(stderr, "torn final flush, sectors 0x%x old: recovery returned %d (%s)\n", mask,
                    rc, regio_error_detail());
        CHECK_EQ(rc, 0);
        CHECK_EQ(info.records, (uint64_t)(whole ? NREC : NREC - 1));
    }
    printf("torn final flush: all %llu sector subsets cut or kept, none refused\n",
           (unsigned long long)t.trials);
}

int main(void)
{
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
        snprintf(dir, sizeof(dir), "/dev/shm/regio-test-flipsweep-XXXXXX");
        CHECK(mkdtemp(dir) != NULL);
    } else {
        snprintf(dir, sizeof(dir), "%s", test_tmpdir("flipsweep"));
    }
    build();
    uint64_t used_end =
        (rec_lsn[NREC - 1] + regio__wal_rec_total(lens[NREC - 1]) + BLOCK - 1) / BLOCK * BLOCK;
    torn_sweep();
    flip_sweep(used_end);
    recycled_sweep(used_end);
    test_rmdir_all(dir);
    return 0;
}
