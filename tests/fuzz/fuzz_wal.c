/*
 * tests/fuzz/fuzz_wal.c: recovery and both readers over mutated log
 * directories. Once per process a known log is written (records of known
 * payloads, each synced, a checkpoint, across segment switches) and its
 * files captured twice: while open (a crashed log) and after close (a
 * cleanly closed one). Each input picks one of the two and encodes
 * mutations of its files, 8 bytes each: a kind (flip, set, zero a sector,
 * truncate, extend, delete, copy 32 bytes from elsewhere, which replays a
 * valid record header at the wrong place), a file, an offset and a value.
 *
 * Invariants: no crash, no sanitizer report, no hang; the directory reader
 * returns only records the log really held (payload equal to what was
 * appended at that LSN), in LSN order, no duplicates, and ends with 0 or a
 * documented error; strict open succeeds or returns a documented error, and
 * a log it opens is then read back as a prefix of the held records; salvage
 * open does the same; when strict open succeeds, salvage open does too; the
 * reader ends with -EBADMSG exactly when strict open refuses with -EBADMSG
 * (one classification of the log's end, wal/wal_judge.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "regio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEG     (64u * 1024u)
#define BUF     (4u * 1024u)
#define NREC    240
#define MAXFILE 16

struct file_img {
    char name[256];
    uint8_t *bytes;
    size_t len;
};

struct image {
    struct file_img f[MAXFILE];
    int n;
};

static struct image crashed, closed;
static uint64_t rec_lsn[NREC];
static char base_dir[600], work_a[600], work_b[600];

/* Record i's payload, generated once: made byte by byte at every check, it
 * cost more than the rest of the reading (each loop comparison is traced
 * for the fuzzer). */
static uint8_t payloads[NREC][1501];
static size_t payload_len[NREC];

static size_t payload(int i, uint8_t *out)
{
    uint64_t s = (uint64_t)i * 0x9e3779b97f4a7c15ull + 7;
    size_t len = 1 + (size_t)((s >> 17) % 1500);
    for (size_t k = 0; k < len; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        out[k] = (uint8_t)(s >> 56);
    }
    return len;
}

/* One arena for every open: mapping and prefaulting one per open would
 * dominate the time of an execution. Huge pages where there are any (AUTO):
 * each open's engine registers the arena, and pinning four 2 MiB pages
 * costs less than pinning 2,048 small ones. */
static struct regio_arena *arena;

static struct regio_wal_opts wal_opts(enum regio_wal_recovery_mode mode)
{
    if (arena == NULL) {
        struct regio_arena_opts ao = {.size_bytes = 8u << 20, .pages = REGIO_PAGES_AUTO};
        FUZZ_CHECK(regio_arena_create(&ao, &arena) == 0);
    }
    struct regio_wal_opts o = {.arena = arena,
                               .segment_bytes = SEG,
                               .buffer_bytes = BUF,
                               .spare_segments = 1,
                               .recovery = mode,
                               .no_create_log = true};
    return o;
}

static void image_free(struct image *img)
{
    for (int i = 0; i < img->n; i++)
        free(img->f[i].bytes);
    img->n = 0;
}

/* One pass over dir: false when a listed file vanished before it was read
 * (an open log's spare preparer renames prep-*.tmp into place in the
 * background), so that the caller captures again. */
static bool capture_once(const char *dir, struct image *img)
{
    DIR *d = opendir(dir);
    FUZZ_CHECK(d != NULL);
    struct dirent *e;
    img->n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "wal.lock") == 0)
            continue;
        FUZZ_CHECK(img->n < MAXFILE);
        struct file_img *f = &img->f[img->n++];
        snprintf(f->name, sizeof(f->name), "%s", e->d_name);
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0 && errno == ENOENT) {
            img->n--;
            closedir(d);
            image_free(img);
            return false;
        }
        FUZZ_CHECK(fd >= 0);
        struct stat st;
        FUZZ_CHECK(fstat(fd, &st) == 0);
        f->len = (size_t)st.st_size;
        f->bytes = malloc(f->len + 1);
        FUZZ_CHECK(f->bytes != NULL && pread(fd, f->bytes, f->len, 0) == (ssize_t)f->len);
        close(fd);
    }
    closedir(d);
    return true;
}

static void capture(const char *dir, struct image *img)
{
    for (int tries = 0; !capture_once(dir, img); tries++) {
        FUZZ_CHECK(tries < 10000);
        usleep(1000);
    }
}

/* The known log: NREC records, each synced, a checkpoint at a third. */
static void make_base(void)
{
    const char *s = fuzz_scratch_dir();
    snprintf(base_dir, sizeof(base_dir), "%s/base", s);
    snprintf(work_a, sizeof(work_a), "%s/a", s);
    snprintf(work_b, sizeof(work_b), "%s/b", s);
    struct regio_wal_opts o = wal_opts(REGIO_WAL_RECOVER_STRICT);
    o.no_create_log = false;
    o.create = true;
    struct regio_wal *w;
    FUZZ_CHECK(regio_wal_open(base_dir, &o, &w, NULL) == 0);
    static uint8_t buf[2048];
    for (int i = 0; i < NREC; i++) {
        size_t len = payload(i, buf);
        memcpy(payloads[i], buf, len);
        payload_len[i] = len;
        FUZZ_CHECK(regio_wal_append(w, buf, len, &rec_lsn[i]) == 0);
        if (i % 3 == 2 || i == NREC - 1)
            FUZZ_CHECK(regio_wal_sync(w, rec_lsn[i]) == 0);
        if (i == NREC / 3)
            FUZZ_CHECK(regio_wal_set_checkpoint(w, rec_lsn[i]) == 0);
    }
    capture(base_dir, &crashed);
    FUZZ_CHECK(regio_wal_close(w) == 0);
    capture(base_dir, &closed);
}

static int index_of(uint64_t lsn)
{
    int lo = 0, hi = NREC - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (rec_lsn[mid] == lsn)
            return mid;
        if (rec_lsn[mid] < lsn)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void apply(struct image *img, const uint8_t *ops, size_t n)
{
    for (size_t k = 0; k + 8 <= n && k < 8 * 24; k += 8) {
        const uint8_t *op = ops + k;
        struct file_img *f = &img->f[op[1] % img->n];
        uint32_t off;
        memcpy(&off, op + 2, 4);
        uint8_t v = op[6], v2 = op[7];
        size_t at = f->len > 0 ? off % f->len : 0;
        switch (op[0] % 8) {
        case 0: /* flip bits of one byte */
            if (f->len > 0)
                f->bytes[at] ^= v != 0 ? v : 1;
            break;
        case 1: /* set one byte */
            if (f->len > 0)
                f->bytes[at] = v;
            break;
        case 2: /* zero a 512-byte sector (a write that never landed) */
            at -= at % 512;
            memset(f->bytes + at, 0, f->len - at < 512 ? f->len - at : 512);
            break;
        case 3: /* truncate */
            f->len = at;
            break;
        case 4: /* extend with zeros or junk */
        {
            size_t add = 1 + off % 8192;
            uint8_t *nb = realloc(f->bytes, f->len + add + 1);
            FUZZ_CHECK(nb != NULL);
            f->bytes = nb;
            memset(f->bytes + f->len, v2 & 1 ? v : 0, add);
            f->len += add;
            break;
        }
        case 5: /* delete the file */
            f->name[0] = '\0';
            break;
        case 6: /* copy 32 bytes from elsewhere in the file (a replayed header) */
        {
            size_t from = f->len > 0 ? ((size_t)v << 12 | (size_t)v2 << 4) % f->len : 0;
            if (f->len >= 32 && at + 32 <= f->len && from + 32 <= f->len)
                memmove(f->bytes + at, f->bytes + from, 32);
            break;
        }
        case 7: /* the next 16 input bytes land at the offset */
            if (k + 24 <= n && at + 16 <= f->len) {
                memcpy(f->bytes + at, ops + k + 8, 16);
                k += 16;
            }
            break;
        }
    }
}

static void materialise(const struct image *img, const char *dir)
{
    rm_dir(dir);
    FUZZ_CHECK(mkdir(dir, 0700) == 0);
    for (int i = 0; i < img->n; i++) {
        if (img->f[i].name[0] == '\0')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, img->f[i].name);
        fuzz_write_file(path, img->f[i].bytes, img->f[i].len);
    }
}

/* Read dir with a directory reader; every record must be a held one, in
 * order. Returns the reader's last result (0 or negative) and the count. */
static int read_all(const char *dir, int *count, bool prefix)
{
    struct regio_wal_reader *r;
    *count = 0;
    int rc = regio_wal_reader_open(dir, 0, &r);
    if (rc != 0) {
        static const int ok[] = {-ENOENT, -EBADMSG, -EINVAL, -ENODATA};
        FUZZ_CHECK(fuzz_rc_in(rc, ok, sizeof(ok) / sizeof(ok[0])));
        return rc;
    }
    struct regio_wal_record rec;
    int last = -1;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1) {
        int i = index_of(rec.lsn);
        FUZZ_CHECK(i >= 0);   /* a record the log held ... */
        FUZZ_CHECK(i > last); /* ... in LSN order, no duplicates ... */
        FUZZ_CHECK(!prefix || i == last + 1 || last == -1);
        FUZZ_CHECK(rec.len == payload_len[i] &&
                   memcmp(rec.data, payloads[i], payload_len[i]) == 0); /* ... byte for byte */
        last = i;
        (*count)++;
        FUZZ_CHECK(*count <= NREC);
    }
    static const int ok[] = {0, -EBADMSG, -ENODATA, -EINVAL, -ENOENT};
    FUZZ_CHECK(fuzz_rc_in(rc, ok, sizeof(ok) / sizeof(ok[0])));
    regio_wal_reader_close(r);
    return rc;
}

/* Open dir in mode; on success read it back (all records held, in order,
 * none past what the log held) and close. Returns open's result. */
static int open_and_read(const char *dir, enum regio_wal_recovery_mode mode)
{
    struct regio_wal_opts o = wal_opts(mode);
    struct regio_wal *w;
    struct regio_wal_recovery info;
    int rc = regio_wal_open(dir, &o, &w, &info);
    static const int ok[] = {0, -EBADMSG, -ENOENT, -EINVAL};
    if (!fuzz_rc_in(rc, ok, sizeof(ok) / sizeof(ok[0])))
        fprintf(stderr, "open: %d %s\n", rc, regio_error_detail());
    FUZZ_CHECK(fuzz_rc_in(rc, ok, sizeof(ok) / sizeof(ok[0])));
    if (rc != 0)
        return rc;
    FUZZ_CHECK(info.records <= NREC);
    FUZZ_CHECK(regio_wal_close(w) == 0);
    int n = 0;
    int end = read_all(dir, &n, false);
    FUZZ_CHECK(end == 0); /* an opened log reads to its end without error */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (crashed.n == 0)
        make_base();
    const struct image *src = data[0] & 1 ? &closed : &crashed;
    static struct image img;
    img.n = src->n;
    for (int i = 0; i < src->n; i++) {
        img.f[i] = src->f[i];
        img.f[i].bytes = malloc(src->f[i].len + 1);
        FUZZ_CHECK(img.f[i].bytes != NULL);
        memcpy(img.f[i].bytes, src->f[i].bytes, src->f[i].len);
    }
    apply(&img, data + 1, size - 1);
    materialise(&img, work_a);
    materialise(&img, work_b);
    for (int i = 0; i < img.n; i++)
        free(img.f[i].bytes);

    int count = 0;
    int reader_end = read_all(work_a, &count, false);
    int strict = open_and_read(work_a, REGIO_WAL_RECOVER_STRICT);
    /* One classification (wal/wal_judge.c): the reader calls damage what
     * strict open refuses, and nothing else. */
    if ((reader_end == -EBADMSG) != (strict == -EBADMSG))
        fprintf(stderr, "disagree: reader %d, strict open %d\n", reader_end, strict);
    FUZZ_CHECK((reader_end == -EBADMSG) == (strict == -EBADMSG));
    int salvage = open_and_read(work_b, REGIO_WAL_RECOVER_SALVAGE);
    if (strict == 0)
        FUZZ_CHECK(salvage == 0);
    /* Unmutated, the log is read whole and opens: the harness itself works. */
    if (size == 1)
        FUZZ_CHECK(count == NREC && strict == 0 && salvage == 0);
    rm_dir(work_a);
    rm_dir(work_b);
    return 0;
}
