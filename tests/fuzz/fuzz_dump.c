/*
 * tests/fuzz/fuzz_dump.c: the parsers of regio-dump (tools/dump/), reached
 * through the functions the tool's subcommands call (dump_wal, dump_pages,
 * dump_arena_show), with the output on a memory stream.
 *
 * The first input byte picks the subcommand, the second its options; the
 * rest is the subject:
 *   0 wal    a packed log directory: entries of a 9-byte head (kind, u16
 *            segment number, u32 file size, u16 data length, little-endian)
 *            and the data; each becomes a file (a segment, the control file,
 *            a stray file) holding the data and zeros up to the file size,
 *            or a FIFO or directory named like a segment, or a FIFO named
 *            like the control file.
 *   1 pages  a page file (page size from the option byte).
 *   2 arena  a stats file, named after the pid in its header or rewritten
 *            to this process's pid, in a directory of its own.
 *
 * Invariants: no crash, no sanitizer report, no hang; --json output is one
 * well-formed JSON document; the dump's verdict on a log agrees with strict
 * recovery's (regio_wal_open) and the directory reader's: "corrupt" exactly
 * when strict open refuses with -EBADMSG and the reader ends with it,
 * "clean", "torn" or "open_or_crashed" only for a log strict open opens,
 * "unreadable" only for one it fails to read (an error other than
 * -EBADMSG); text and JSON give the same verdict; pages: exit 0 exactly
 * when every page verifies or was never written and the file is whole
 * pages.
 *
 * REGIO_FUZZ_DUMP_SEEDS=DIR writes the seed corpus (a real crashed and a
 * cleanly closed log, a page file written through the pager, a real stats
 * file, and edge cases) to DIR at the first input, then goes on as usual:
 *   REGIO_FUZZ_DUMP_SEEDS=tests/fuzz/corpus/dump build/fuzz_dump /dev/null
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "fuzz_util.h"
#include "regio.h"
#include "regio/stats.h"
#include "wal_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENTRY_HEAD     9
#define MAX_FILE_BYTES (1u << 20) /* a file's size is taken modulo this */
#define MAX_ENTRIES    16
#define SEG_BYTES      (48u * 1024u) /* the smallest segment with 4 KiB buffers */

enum { SUB_WAL, SUB_PAGES, SUB_ARENA, SUB_COUNT };

static char wal_dir[600], pages_path[600], stats_dir[600];
static struct regio_arena *arena; /* one for every strict open */

/* ---- Helpers ---------------------------------------------------------------- */

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return le16(p) | le16(p + 2) << 16;
}

static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    FUZZ_CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            FUZZ_CHECK(rmdir(path) == 0);
    }
    closedir(d);
}

/* A file of size bytes: data, then zeros (sparse). */
static void write_sized(const char *path, const uint8_t *data, size_t n, size_t size)
{
    fuzz_write_file(path, data, n);
    if (size > n)
        FUZZ_CHECK(truncate(path, (off_t)size) == 0);
}

/* ---- A small JSON validator ------------------------------------------------- */

struct js {
    const char *p, *end;
    int depth;
};

static void js_ws(struct js *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r'))
        s->p++;
}

static bool js_lit(struct js *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool js_string(struct js *s)
{
    if (s->p >= s->end || *s->p != '"')
        return false;
    for (s->p++; s->p < s->end; s->p++) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20 || c >= 0x80) /* the writer escapes controls, replaces non-ASCII */
            return false;
        if (c == '\\') {
            if (++s->p >= s->end)
                return false;
            if (*s->p == 'u') {
                for (int k = 0; k < 4; k++)
                    if (++s->p >= s->end || strchr("0123456789abcdefABCDEF", *s->p) == NULL)
                        return false;
            } else if (strchr("\"\\/bfnrt", *s->p) == NULL) {
                return false;
            }
        }
    }
    return false;
}

static bool js_number(struct js *s)
{
    const char *start = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    bool digits = false;
    while (s->p < s->end && strchr("0123456789.eE+-", *s->p) != NULL) {
        digits |= *s->p >= '0' && *s->p <= '9';
        s->p++;
    }
    return digits && s->p > start;
}

static bool js_value(struct js *s);

static bool js_members(struct js *s, char close, bool keys)
{
    js_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        js_ws(s);
        if (keys) {
            if (!js_string(s))
                return false;
            js_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return false;
        }
        if (!js_value(s))
            return false;
        js_ws(s);
        if (s->p >= s->end)
            return false;
        char c = *s->p++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
    }
}

static bool js_value(struct js *s)
{
    js_ws(s);
    if (s->p >= s->end || ++s->depth > 64)
        return false;
    bool ok;
    char c = *s->p;
    if (c == '{' || c == '[') {
        s->p++;
        ok = js_members(s, c == '{' ? '}' : ']', c == '{');
    } else if (c == '"') {
        ok = js_string(s);
    } else if (c == 't' || c == 'f' || c == 'n') {
        ok = js_lit(s, "true") || js_lit(s, "false") || js_lit(s, "null");
    } else {
        ok = js_number(s);
    }
    s->depth--;
    return ok;
}

/* The output of a --json run: exactly one document. */
static void check_json(const char *buf, size_t len)
{
    struct js s = {buf, buf + len, 0};
    bool ok = js_value(&s);
    js_ws(&s);
    if (!ok || s.p != s.end)
        fprintf(stderr, "bad JSON at byte %zu of %zu:\n%.*s\n", (size_t)(s.p - buf), len, (int)len,
                buf);
    FUZZ_CHECK(ok && s.p == s.end);
}

/* ---- wal -------------------------------------------------------------------- */

/* Unpack the entries into wal_dir. */
static void unpack_log(const uint8_t *p, size_t n)
{
    empty_dir(wal_dir);
    for (int k = 0; k < MAX_ENTRIES && n >= ENTRY_HEAD; k++) {
        uint8_t kind = p[0];
        uint64_t segno = le16(p + 1);
        size_t fsize = le32(p + 3) % MAX_FILE_BYTES;
        size_t dlen = le16(p + 7);
        p += ENTRY_HEAD;
        n -= ENTRY_HEAD;
        dlen = dlen < n ? dlen : n;
        char name[64], path[1024];
        switch (kind % 6) {
        case 1:
        case 5:
            snprintf(name, sizeof(name), "%s", REGIO__WAL_CTL_NAME);
            break;
        case 2:
            snprintf(name, sizeof(name), "prep-%u.tmp", (unsigned)segno);
            break;
        default:
            regio__wal_segment_name(segno, name);
        }
        snprintf(path, sizeof(path), "%s/%s", wal_dir, name);
        if (kind % 6 == 3 || kind % 6 == 5) { /* a FIFO named like a log file */
            if (mkfifo(path, 0600) != 0)
                FUZZ_CHECK(errno == EEXIST);
        } else if (kind % 6 == 4) { /* a directory named like a segment */
            if (mkdir(path, 0700) != 0)
                FUZZ_CHECK(errno == EEXIST);
        } else {
            struct stat st;
            if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
                continue;
            write_sized(path, p, dlen, fsize);
        }
        p += dlen;
        n -= dlen;
    }
}

/* Run the dump on wal_dir; its exit status and verdict. */
static int run_dump_wal(uint8_t opt, bool json, struct dump_wal_result *res)
{
    struct dump_wal_opts o = {.dir = wal_dir,
                              .from_lsn = opt & 2 ? (uint64_t)(opt >> 4) << 12 : 0,
                              .stats = (opt & 4) != 0,
                              .json = json};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    FUZZ_CHECK(out != NULL);
    int rc = dump_wal(&o, out, res);
    FUZZ_CHECK(fclose(out) == 0);
    FUZZ_CHECK(rc == DUMP_OK || rc == DUMP_FAIL);
    if (json && strcmp(res->end_kind, "not_a_log") != 0)
        check_json(buf, len);
    free(buf);
    return rc;
}

static int strict_open(void)
{
    if (arena == NULL) {
        struct regio_arena_opts ao = {.size_bytes = 8u << 20, .pages = REGIO_PAGES_NORMAL};
        FUZZ_CHECK(regio_arena_create(&ao, &arena) == 0);
    }
    struct regio_wal_opts o = {.arena = arena,
                               .segment_bytes = SEG_BYTES,
                               .buffer_bytes = 4096,
                               .spare_segments = 1,
                               .no_create_log = true};
    struct regio_wal *w;
    int rc = regio_wal_open(wal_dir, &o, &w, NULL);
    if (rc == 0) {
        int c = regio_wal_close(w);
        if (c != 0)
            fprintf(stderr, "close after a strict open: %d (%s)\n", c, regio_error_detail());
        FUZZ_CHECK(c == 0);
    }
    return rc;
}

/* The directory reader to the log's end: its last result. */
static int read_to_end(void)
{
    struct regio_wal_reader *r;
    int rc = regio_wal_reader_open(wal_dir, 0, &r);
    if (rc != 0)
        return rc;
    struct regio_wal_record rec;
    uint64_t n = 0;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1)
        FUZZ_CHECK(++n < (1u << 20));
    regio_wal_reader_close(r);
    return rc;
}

static void one_wal(uint8_t opt, const uint8_t *p, size_t n)
{
    unpack_log(p, n);
    struct dump_wal_result text, json;
    int rc_text = run_dump_wal(opt, false, &text);
    int rc_json = run_dump_wal(opt, true, &json);
    FUZZ_CHECK(rc_text == rc_json && strcmp(text.end_kind, json.end_kind) == 0);
    const char *kind = text.end_kind;
    bool corrupt = strcmp(kind, "corrupt") == 0;
    bool opens = strcmp(kind, "clean") == 0 || strcmp(kind, "torn") == 0 ||
                 strcmp(kind, "open_or_crashed") == 0;
    if (corrupt || strcmp(kind, "unreadable") == 0)
        FUZZ_CHECK(rc_text == DUMP_FAIL);
    /* The reader and strict recovery, on the same files, must reach the
     * same verdict (the reader first: strict open cuts and repairs). */
    int reader = read_to_end();
    if (corrupt != (reader == -EBADMSG))
        fprintf(stderr, "disagree: dump says %s, reader %d (%s)\n", kind, reader,
                regio_error_detail());
    FUZZ_CHECK(corrupt == (reader == -EBADMSG));
    int strict = strict_open();
    if (corrupt != (strict == -EBADMSG) || (opens && strict != 0))
        fprintf(stderr, "disagree: dump says %s, strict open %d (%s)\n", kind, strict,
                regio_error_detail());
    FUZZ_CHECK(corrupt == (strict == -EBADMSG));
    if (opens)
        FUZZ_CHECK(strict == 0);
    if (strcmp(kind, "not_a_log") == 0 || strcmp(kind, "empty") == 0)
        FUZZ_CHECK(strict == -ENOENT || strict == 0);
    /* Files the dump cannot read, recovery cannot read either. */
    if (strcmp(kind, "unreadable") == 0)
        FUZZ_CHECK(strict != 0 && strict != -EBADMSG);
}

/* ---- pages ------------------------------------------------------------------ */

static void one_pages(uint8_t opt, const uint8_t *p, size_t n)
{
    uint32_t pb = 4096u << (opt % 5);
    fuzz_write_file(pages_path, p, n);
    struct dump_pages_opts o = {.file = pages_path, .page_bytes = pb, .json = (opt & 8) != 0};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    FUZZ_CHECK(out != NULL);
    int rc = dump_pages(&o, out);
    FUZZ_CHECK(fclose(out) == 0);
    if (o.json)
        check_json(buf, len);
    free(buf);
    /* The verdict: every whole page verifies or was never written. */
    bool ok = n % pb == 0;
    for (size_t off = 0; ok && off + pb <= n; off += pb) {
        static uint8_t page[65536];
        memcpy(page, p + off, pb); /* aligned copy: the input may not be */
        int v = regio_pager_verify_image(page, pb, off / pb);
        ok = v == 0 || v == -ENODATA;
    }
    FUZZ_CHECK(rc == (ok ? DUMP_OK : DUMP_FAIL));
}

/* ---- arena ------------------------------------------------------------------ */

static void one_arena(uint8_t opt, const uint8_t *p, size_t n)
{
    static uint8_t file[sizeof(struct regio_stats_file) + 64];
    size_t len = n < sizeof(file) ? n : sizeof(file);
    memset(file, 0, sizeof(file));
    memcpy(file, p, len);
    /* Short inputs are zero-padded to a whole file: a real file's unused
     * sections are zeros, so the seeds stay small. */
    if (opt & 1 && len < sizeof(struct regio_stats_file))
        len = sizeof(struct regio_stats_file);
    const size_t pid_at = offsetof(struct regio_stats_header, pid);
    int32_t pid;
    memcpy(&pid, file + pid_at, sizeof(pid));
    if (opt & 2 || pid <= 0) {
        pid = (int32_t)getpid();
        memcpy(file + pid_at, &pid, sizeof(pid));
    }
    empty_dir(stats_dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s%d.fuzz", stats_dir, REGIO_STATS_PREFIX, (int)pid);
    fuzz_write_file(path, file, len);
    if (opt & 4) { /* a second name for the same bytes, of another pid */
        snprintf(path, sizeof(path), "%s/%s%ld.other", stats_dir, REGIO_STATS_PREFIX,
                 (long)pid + 1);
        fuzz_write_file(path, file, len);
    }
    struct dump_arena_opts o = {.pid = opt & 8 ? pid : 0, .json = (opt & 16) != 0};
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = open_memstream(&buf, &blen);
    FUZZ_CHECK(out != NULL);
    size_t live = dump_arena_show(&o, stats_dir, out);
    FUZZ_CHECK(fclose(out) == 0);
    FUZZ_CHECK(live <= 2);
    if (o.json)
        check_json(buf, blen);
    free(buf);
}

/* ---- Seeds ------------------------------------------------------------------ */

static void put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

struct packer {
    uint8_t *buf;
    size_t len, cap;
};

static void pack_bytes(struct packer *pk, const void *d, size_t n)
{
    if (pk->len + n > pk->cap) {
        pk->cap = (pk->len + n) * 2;
        pk->buf = realloc(pk->buf, pk->cap);
        FUZZ_CHECK(pk->buf != NULL);
    }
    memcpy(pk->buf + pk->len, d, n);
    pk->len += n;
}

/* One entry: the file's bytes up to its last nonzero one (the rest is
 * zeros again when unpacked). */
static void pack_file(struct packer *pk, uint8_t kind, uint64_t segno, const char *path)
{
    int fd = open(path, O_RDONLY);
    FUZZ_CHECK(fd >= 0);
    struct stat st;
    FUZZ_CHECK(fstat(fd, &st) == 0);
    uint8_t *d = malloc((size_t)st.st_size + 1);
    FUZZ_CHECK(d != NULL && pread(fd, d, (size_t)st.st_size, 0) == st.st_size);
    close(fd);
    size_t used = (size_t)st.st_size;
    while (used > 0 && d[used - 1] == 0)
        used--;
    FUZZ_CHECK(used <= 0xffff && (size_t)st.st_size < MAX_FILE_BYTES);
    uint8_t head[ENTRY_HEAD] = {kind};
    put_u16(head + 1, (uint32_t)segno);
    put_u16(head + 3, (uint32_t)st.st_size);
    put_u16(head + 5, (uint32_t)((uint64_t)st.st_size >> 16));
    put_u16(head + 7, (uint32_t)used);
    pack_bytes(pk, head, sizeof(head));
    pack_bytes(pk, d, used);
    free(d);
}

static void write_seed(const char *dir, const char *name, uint8_t sub, uint8_t opt,
                       const uint8_t *d, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    uint8_t *all = malloc(n + 2);
    FUZZ_CHECK(all != NULL);
    all[0] = sub;
    all[1] = opt;
    memcpy(all + 2, d, n);
    fuzz_write_file(path, all, n + 2);
    free(all);
}

/* Pack a log directory as a wal input. */
static void seed_log(const char *out_dir, const char *name, const char *log, uint8_t opt)
{
    struct packer pk = {0};
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", log, REGIO__WAL_CTL_NAME);
    if (access(path, F_OK) == 0)
        pack_file(&pk, 1, 0, path);
    uint64_t *segnos;
    size_t nseg;
    FUZZ_CHECK(regio__wal_list_segments(log, &segnos, &nseg) == 0);
    for (size_t i = 0; i < nseg; i++) {
        char seg[32];
        regio__wal_segment_name(segnos[i], seg);
        snprintf(path, sizeof(path), "%s/%s", log, seg);
        pack_file(&pk, 0, segnos[i], path);
    }
    free(segnos);
    write_seed(out_dir, name, SUB_WAL, opt, pk.buf, pk.len);
    free(pk.buf);
}

/* Copy the files of a log that is open (a crash leaves them so). */
static void copy_dir(const char *from, const char *to)
{
    FUZZ_CHECK(mkdir(to, 0700) == 0);
    uint64_t *segnos;
    size_t nseg;
    FUZZ_CHECK(regio__wal_list_segments(from, &segnos, &nseg) == 0);
    for (size_t i = 0; i <= nseg; i++) {
        char name[64], a[1024], b[1024];
        if (i < nseg)
            regio__wal_segment_name(segnos[i], name);
        else
            snprintf(name, sizeof(name), "%s", REGIO__WAL_CTL_NAME);
        snprintf(a, sizeof(a), "%s/%s", from, name);
        snprintf(b, sizeof(b), "%s/%s", to, name);
        int fd = open(a, O_RDONLY);
        if (fd < 0)
            continue;
        struct stat st;
        FUZZ_CHECK(fstat(fd, &st) == 0);
        uint8_t *d = malloc((size_t)st.st_size + 1);
        FUZZ_CHECK(d != NULL && pread(fd, d, (size_t)st.st_size, 0) == st.st_size);
        close(fd);
        fuzz_write_file(b, d, (size_t)st.st_size);
        free(d);
    }
    free(segnos);
}

static void seed_wal(const char *out_dir, const char *scratch)
{
    char log[700], crashed[700];
    snprintf(log, sizeof(log), "%s/seed-log", scratch);
    snprintf(crashed, sizeof(crashed), "%s/seed-crashed", scratch);
    struct regio_wal_opts o = {.arena = arena,
                               .segment_bytes = SEG_BYTES,
                               .buffer_bytes = 4096,
                               .spare_segments = 1,
                               .create = true};
    struct regio_wal *w;
    FUZZ_CHECK(regio_wal_open(log, &o, &w, NULL) == 0);
    uint8_t rec[300];
    uint64_t lsn = 0;
    for (int i = 0; i < 200; i++) {
        memset(rec, 'a' + i % 26, sizeof(rec));
        FUZZ_CHECK(regio_wal_append(w, rec, 20 + (size_t)(i * 7) % 250, &lsn) == 0);
        if (i % 50 == 49)
            FUZZ_CHECK(regio_wal_sync(w, lsn) == 0);
        if (i == 100)
            FUZZ_CHECK(regio_wal_set_checkpoint(w, lsn) == 0);
    }
    FUZZ_CHECK(regio_wal_sync(w, lsn) == 0);
    copy_dir(log, crashed);
    FUZZ_CHECK(regio_wal_close(w) == 0);
    seed_log(out_dir, "wal-closed", log, 0);
    seed_log(out_dir, "wal-closed-json-stats", log, 4 | 2 | 0x30);
    seed_log(out_dir, "wal-crashed", crashed, 0);
    /* Edge cases: a control file alone; a FIFO and a directory named like a
     * segment beside the closed log; nothing. */
    static const uint8_t fifo[] = {3, 5, 0, 0, 0, 0, 0, 0, 0, 4, 6, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t fifo_ctl[] = {5, 0, 0, 0, 0, 0, 0, 0, 0};
    struct packer pk = {0};
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", log, REGIO__WAL_CTL_NAME);
    pack_file(&pk, 1, 0, path);
    write_seed(out_dir, "wal-control-only", SUB_WAL, 0, pk.buf, pk.len);
    pack_bytes(&pk, fifo, sizeof(fifo));
    write_seed(out_dir, "wal-control-fifo-dir", SUB_WAL, 0, pk.buf, pk.len);
    free(pk.buf);
    write_seed(out_dir, "wal-nothing", SUB_WAL, 0, NULL, 0);
    write_seed(out_dir, "wal-fifo-control", SUB_WAL, 0, fifo_ctl, sizeof(fifo_ctl));
}

static void seed_pages(const char *out_dir, const char *scratch)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/seed-pages", scratch);
    struct regio_slab *s;
    struct regio_engine *e;
    struct regio_pager *p;
    FUZZ_CHECK(regio_slab_create(arena, NULL, &s) == 0);
    FUZZ_CHECK(regio_engine_create(arena, s, NULL, &e) == 0);
    struct regio_pager_opts po = {.page_bytes = 4096, .create = true};
    FUZZ_CHECK(regio_pager_open(e, path, &po, &p) == 0);
    struct regio_buf b;
    FUZZ_CHECK(regio_slab_alloc(s, 4096, &b) == 0);
    for (uint64_t pg = 0; pg < 6; pg++) {
        if (pg == 4)
            continue; /* never written */
        memset(b.data, (int)(0x30 + pg), regio_pager_payload_bytes(p));
        FUZZ_CHECK(regio_pager_set_image_lsn(b.data, 4096, 100 + pg) == 0);
        FUZZ_CHECK(regio_pager_write_wait(p, pg, b) >= 0);
    }
    FUZZ_CHECK(regio_pager_sync(p) == 0);
    FUZZ_CHECK(regio_pager_close(p) == 0);
    FUZZ_CHECK(regio_slab_free(s, b) == 0);
    FUZZ_CHECK(regio_engine_destroy(e) == 0);
    FUZZ_CHECK(regio_slab_destroy(s) == 0);
    int fd = open(path, O_RDONLY);
    FUZZ_CHECK(fd >= 0);
    static uint8_t d[6 * 4096];
    FUZZ_CHECK(pread(fd, d, sizeof(d), 0) == (ssize_t)sizeof(d));
    close(fd);
    write_seed(out_dir, "pages-4k", SUB_PAGES, 0, d, sizeof(d));
    write_seed(out_dir, "pages-4k-json", SUB_PAGES, 8, d, sizeof(d));
    write_seed(out_dir, "pages-as-8k", SUB_PAGES, 1, d, sizeof(d)); /* wrong size: a hint */
    write_seed(out_dir, "pages-partial", SUB_PAGES, 0, d, 4096 + 100);
    write_seed(out_dir, "pages-empty", SUB_PAGES, 0, NULL, 0);
}

/* A live stats file with a slab, an engine and a WAL (the WAL's own engine
 * on the arena), so that every section the dump prints is in the seeds. */
static void seed_arena(const char *out_dir, const char *scratch)
{
    struct regio_arena_opts ao = {
        .size_bytes = 8u << 20, .pages = REGIO_PAGES_NORMAL, .stats_name = "fuzzseed"};
    struct regio_arena *a;
    FUZZ_CHECK(regio_arena_create(&ao, &a) == 0);
    struct regio_slab *s;
    FUZZ_CHECK(regio_slab_create(a, NULL, &s) == 0);
    char log[700];
    snprintf(log, sizeof(log), "%s/seed-stats-log", scratch);
    struct regio_wal_opts wo = {.arena = a,
                                .segment_bytes = SEG_BYTES,
                                .buffer_bytes = 4096,
                                .spare_segments = 1,
                                .create = true};
    struct regio_wal *w;
    FUZZ_CHECK(regio_wal_open(log, &wo, &w, NULL) == 0);
    uint64_t lsn;
    for (int i = 0; i < 20; i++)
        FUZZ_CHECK(regio_wal_append(w, "seed record", 11, &lsn) == 0);
    FUZZ_CHECK(regio_wal_sync(w, lsn) == 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s%d.fuzzseed", REGIO_STATS_DIR, REGIO_STATS_PREFIX,
             (int)getpid());
    struct regio_stats_file f;
    for (int tries = 0; regio_stats_read(path, &f) != 0 || f.slabs[0].used == 0 ||
                        f.engines[0].used == 0 || f.wals[0].used == 0 || f.wals[0].syncs == 0;
         tries++) {
        FUZZ_CHECK(tries < 5000); /* the publisher refreshes in the background */
        usleep(1000);
    }
    size_t used = sizeof(f);
    const uint8_t *d = (const uint8_t *)&f;
    while (used > 0 && d[used - 1] == 0)
        used--;
    write_seed(out_dir, "arena-list", SUB_ARENA, 1, d, used);
    write_seed(out_dir, "arena-detail", SUB_ARENA, 1 | 2 | 8, d, used);
    write_seed(out_dir, "arena-detail-json", SUB_ARENA, 1 | 2 | 8 | 16, d, used);
    write_seed(out_dir, "arena-two-json", SUB_ARENA, 1 | 2 | 4 | 16, d, used);
    write_seed(out_dir, "arena-short", SUB_ARENA, 0, d, 200);
    FUZZ_CHECK(regio_wal_close(w) == 0);
    FUZZ_CHECK(regio_slab_destroy(s) == 0);
    FUZZ_CHECK(regio_arena_destroy(a) == 0);
}

static void write_seeds(const char *out_dir)
{
    const char *scratch = fuzz_scratch_dir();
    if (arena == NULL) {
        struct regio_arena_opts ao = {.size_bytes = 8u << 20, .pages = REGIO_PAGES_NORMAL};
        FUZZ_CHECK(regio_arena_create(&ao, &arena) == 0);
    }
    seed_wal(out_dir, scratch);
    seed_pages(out_dir, scratch);
    seed_arena(out_dir, scratch);
}

/* ---- Entry ------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (wal_dir[0] == '\0') {
        const char *s = fuzz_scratch_dir();
        snprintf(wal_dir, sizeof(wal_dir), "%s/wal", s);
        snprintf(pages_path, sizeof(pages_path), "%s/pages", s);
        snprintf(stats_dir, sizeof(stats_dir), "%s/stats", s);
        FUZZ_CHECK(mkdir(wal_dir, 0700) == 0 && mkdir(stats_dir, 0700) == 0);
        const char *seeds = getenv("REGIO_FUZZ_DUMP_SEEDS");
        if (seeds != NULL && seeds[0] != '\0')
            write_seeds(seeds);
    }
    if (size < 2)
        return 0;
    switch (data[0] % SUB_COUNT) {
    case SUB_WAL:
        one_wal(data[1], data + 2, size - 2);
        break;
    case SUB_PAGES:
        one_pages(data[1], data + 2, size - 2);
        break;
    default:
        one_arena(data[1], data + 2, size - 2);
    }
    return 0;
}
