/* regio-test: labels=io timeout=600 */
/*
 * tests/test_wal_corrupt.c: single-bit flips and truncations of a small log.
 *
 * The log: 64 KiB segments, a 4 KiB buffer (so a 16 KiB in-flight window),
 * six 2000-byte records each synced on its own block, then a group of small
 * ones. It is kept twice: cleanly closed, and "crashed" (copied while open,
 * after the last sync). Each case is rebuilt from memory, damaged, and
 * opened in strict mode:
 *  - closed log: a flip anywhere in the segment header, the records (up to
 *    and including the close record and its padding) or the control file
 *    gives -EBADMSG; a flip in unused space changes nothing;
 *  - crashed log: a flip in a record outside the last window gives
 *    -EBADMSG; inside it, -EBADMSG or a cut exactly at the damaged record;
 *  - truncation of the segment file at every 8-byte offset: -EBADMSG, or a
 *    prefix of the records ending before the cut (a crashed log).
 * Whatever opens returns only records that are byte for byte those written.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "wal_internal.h"

#define SEG  (64u * 1024u)
#define BUF  4096u
#define NREC 10

struct file_img {
    char name[256];
    uint8_t *data;
    size_t len;
};

struct log_img {
    struct file_img files[8];
    int nfiles;
    uint64_t rec_lsn[NREC + 1];
    uint64_t rec_end[NREC];
    uint64_t used_end; /* end of the last written block */
};

static size_t rec_payload(int i, uint8_t *out)
{
    size_t len = i < 6 ? 2000 : 40 + (size_t)i;
    for (size_t k = 0; k < len; k++)
        out[k] = (uint8_t)(i * 31 + k * 7);
    return len;
}

static void load_dir(const char *dir, struct log_img *img)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *de;
    img->nfiles = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, REGIO__WAL_LOCK_NAME) == 0 ||
            strstr(de->d_name, ".tmp") != NULL)
            continue;
        CHECK(img->nfiles < 8);
        struct file_img *f = &img->files[img->nfiles++];
        snprintf(f->name, sizeof(f->name), "%s", de->d_name);
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        int fd = open(path, O_RDONLY);
        CHECK(fd >= 0);
        struct stat st;
        CHECK(fstat(fd, &st) == 0);
        f->len = (size_t)st.st_size;
        f->data = malloc(f->len);
        CHECK(pread(fd, f->data, f->len, 0) == (ssize_t)f->len);
        close(fd);
    }
    closedir(d);
}

static void write_dir(const char *dir, const struct log_img *img)
{
    test_rmdir_all(dir);
    CHECK(mkdir(dir, 0700) == 0);
    for (int i = 0; i < img->nfiles; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, img->files[i].name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0);
        CHECK(write(fd, img->files[i].data, img->files[i].len) == (ssize_t)img->files[i].len);
        close(fd);
    }
}

static struct file_img *find(struct log_img *img, const char *name)
{
    for (int i = 0; i < img->nfiles; i++)
        if (strcmp(img->files[i].name, name) == 0)
            return &img->files[i];
    return NULL;
}

/* Build the log; crashed: snapshot while open, else after a clean close. */
static void build(const char *dir, bool crashed, struct log_img *img)
{
    test_rmdir_all(dir);
    struct regio_wal_opts o = {
        .segment_bytes = SEG, .buffer_bytes = BUF, .create = true, .spare_segments = 1};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    uint8_t buf[4096];
    for (int i = 0; i < NREC; i++) {
        size_t len = rec_payload(i, buf);
        CHECK_OK(regio_wal_append_record(w, 0, &(struct iovec){buf, len}, 1, &img->rec_lsn[i],
                                         &img->rec_end[i]));
        if (i < 6 || i == NREC - 1)
            CHECK_OK(regio_wal_sync(w, img->rec_lsn[i]));
    }
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    img->used_end = st.appended_lsn;
    if (crashed) {
        load_dir(dir, img);
        CHECK_OK(regio_wal_close(w));
    } else {
        CHECK_OK(regio_wal_close(w));
        load_dir(dir, img);
        /* The close record and its padding: one more block. */
        img->used_end = regio__wal_round_up(img->used_end + 1, 4096);
    }
    CHECK(img->used_end < SEG);
}

/* Open strictly; on success check that the records are a prefix of those
 * written, byte for byte, and return how many (negative errno otherwise). */
/* One arena for every open: the test measures recovery, not mapping. */
static struct regio_arena *arena;

static int open_and_count(const char *dir)
{
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = BUF, .arena = arena};
    struct regio_wal *w;
    int rc = regio_wal_open(dir, &o, &w, NULL);
    if (rc != 0)
        return rc;
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open_live(w, 0, &r));
    struct regio_wal_record rec;
    uint8_t want[4096];
    int n = 0;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1) {
        CHECK(n < NREC);
        size_t len = rec_payload(n, want);
        CHECK_EQ(rec.len, len);
        CHECK(memcmp(rec.data, want, len) == 0);
        n++;
    }
    CHECK_EQ(rc, 0);
    CHECK_OK(regio_wal_reader_close(r));
    CHECK_OK(regio_wal_close(w));
    return n;
}

/* Index of the record holding byte lsn, or -1 (padding, unused space). */
static int record_at(const struct log_img *img, uint64_t lsn)
{
    for (int i = 0; i < NREC; i++)
        if (lsn >= img->rec_lsn[i] && lsn < img->rec_end[i])
            return i;
    return -1;
}

struct tally {
    int trials, badmsg, cut, intact;
};

static void flip_case(const char *dir, struct log_img *img, struct file_img *f, size_t byte,
                      int bit, bool crashed, struct tally *t)
{
    f->data[byte] ^= (uint8_t)(1u << bit);
    write_dir(dir, img);
    f->data[byte] ^= (uint8_t)(1u << bit);
    int n = open_and_count(dir);
    t->trials++;
    bool is_seg = strcmp(f->name, "0000000000000000.wal") == 0;
    uint64_t lsn = byte; /* segment 0: LSN == file offset */
    /* The header block beyond the 96-byte header must be zero: a flip
     * there is damage too. */
    bool used = !is_seg || lsn < img->used_end;
    if (n == -EBADMSG) {
        t->badmsg++;
        if (!used) {
            fprintf(stderr, "%s byte %zu bit %d: unused space gave -EBADMSG\n", f->name, byte, bit);
            CHECK(used);
        }
        return;
    }
    CHECK_OK(n);
    if (!used) {
        CHECK_EQ(n, NREC);
        t->intact++;
        return;
    }
    /* Opened despite damage in use: only a crashed log, only a cut inside
     * the last window, exactly at the damaged record (or at the padding
     * after the last record). */
    if (!crashed || !is_seg || byte < 4096) {
        fprintf(stderr, "%s byte %zu bit %d: damage accepted (%d records)\n", f->name, byte, bit,
                n);
        CHECK(0);
    }
    uint64_t window = 4ull * BUF;
    int k = record_at(img, lsn);
    if (k >= 0) {
        CHECK_EQ(n, k);
        CHECK(img->rec_lsn[k] + window >= img->used_end);
    } else {
        CHECK(lsn + window >= img->used_end);
        CHECK(n <= NREC);
    }
    t->cut++;
}

static void flips(const char *dir, bool crashed)
{
    struct log_img img = {0};
    build(dir, crashed, &img);
    struct tally t = {0};
    for (int i = 0; i < img.nfiles; i++) {
        struct file_img *f = &img.files[i];
        bool is_seg0 = strcmp(f->name, "0000000000000000.wal") == 0;
        bool is_ctl = strcmp(f->name, REGIO__WAL_CTL_NAME) == 0;
        if (!is_seg0 && !is_ctl)
            continue; /* spares hold no records */
        for (size_t byte = 0; byte < f->len; byte++) {
            bool hdr = is_ctl ? byte < sizeof(struct regio__wal_ctl)
                              : byte < sizeof(struct regio__wal_seg_hdr);
            if (is_ctl && !hdr)
                continue;
            int rec_hdr = -1;
            for (int k = 0; k < NREC; k++)
                if (is_seg0 && byte >= img.rec_lsn[k] && byte < img.rec_lsn[k] + 32)
                    rec_hdr = k;
            /* Every bit of the control file, the segment header and the
             * headers of the first, a middle and the last record; one bit
             * of every byte of the other record headers, of every 64th byte
             * of payloads and padding, of every 4096th of unused space. */
            bool all_bits = hdr || rec_hdr == 0 || rec_hdr == 6 || rec_hdr == NREC - 1;
            if (all_bits) {
                for (int bit = 0; bit < 8; bit++)
                    flip_case(dir, &img, f, byte, bit, crashed, &t);
            } else if (rec_hdr >= 0 || (byte < img.used_end && byte % 64 == 0) ||
                       byte % 4096 == 0) {
                flip_case(dir, &img, f, byte, (int)(byte % 8), crashed, &t);
            }
        }
    }
    fprintf(stderr, "%s log: %d flips: %d -EBADMSG, %d cut in the last window, %d harmless\n",
            crashed ? "crashed" : "closed", t.trials, t.badmsg, t.cut, t.intact);
    CHECK(t.badmsg > 0);
    for (int i = 0; i < img.nfiles; i++)
        free(img.files[i].data);
}

static void truncations(const char *dir, bool crashed)
{
    struct log_img img = {0};
    build(dir, crashed, &img);
    struct file_img *f = find(&img, "0000000000000000.wal");
    CHECK(f != NULL);
    size_t full = f->len;
    int bad = 0, ok = 0;
    for (size_t cut = 0; cut < img.used_end; cut += 8) {
        /* Every 8-byte point around the header and the records' edges,
         * every 64th elsewhere. */
        bool edge = cut < 128;
        for (int k = 0; k < NREC; k++)
            if (cut + 40 >= img.rec_lsn[k] && cut <= img.rec_lsn[k] + 40)
                edge = true;
        if (!edge && cut % 64 != 0)
            continue;
        f->len = cut;
        write_dir(dir, &img);
        f->len = full;
        int n = open_and_count(dir);
        if (n == -EBADMSG) {
            bad++;
            continue;
        }
        CHECK_OK(n);
        CHECK(crashed);
        /* Only records wholly before the cut can have survived. */
        CHECK(n == 0 || img.rec_end[n - 1] <= cut);
        ok++;
    }
    fprintf(stderr, "%s log: truncations: %d -EBADMSG, %d opened with a prefix\n",
            crashed ? "crashed" : "closed", bad, ok);
    if (!crashed)
        CHECK_EQ(ok, 0);
    for (int i = 0; i < img.nfiles; i++)
        free(img.files[i].data);
}

int main(void)
{
    const char *dir = test_tmpdir("walcorrupt");
    struct regio_arena_opts ao = {.size_bytes = 8u << 20, .pages = REGIO_PAGES_NORMAL};
    CHECK_OK(regio_arena_create(&ao, &arena));
    char d[4096];
    snprintf(d, sizeof(d), "%s/log", dir);
    flips(d, false);
    flips(d, true);
    truncations(d, false);
    truncations(d, true);
    test_rmdir_all(dir);
    CHECK_OK(regio_arena_destroy(arena));
    printf("wal_corrupt: ok\n");
    return 0;
}
