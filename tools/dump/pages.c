/*
 * tools/dump/pages.c: `regio-dump pages FILE`, a checksum scan of a page
 * file, like pg_checksums: every page is checked with regio_pager_verify_image
 * (XXH3-64 trailer of page format 2 over the payload and page LSN, seeded
 * with the page number), all-zero pages are counted as never written, pages
 * of format 1 are named as such, the highest page LSN is reported, and a
 * file whose length is not a whole number of pages is reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "regio.h"

#define READ_BYTES    (1u << 20) /* pages are read in batches of this many bytes */
#define LIST_MAX      100        /* bad pages listed as text (all are counted) */
#define JSON_LIST_MAX 10000      /* bad pages listed in JSON */

static void pages_usage(FILE *out)
{
    fprintf(out, "usage: regio-dump pages FILE [--page-bytes B] [--json]\n"
                 "\n"
                 "Checks the checksum trailer of every page of a regio page file.\n"
                 "\n"
                 "  --page-bytes B  page size: a power of two from 4K to 64K (default 4096;\n"
                 "                  K suffix accepted)\n"
                 "  --json          one JSON document\n"
                 "\n"
                 "exit status: 0 every page is valid or never written; 1 a bad checksum, a\n"
                 "partial last page, or an unreadable file; 2 bad usage\n");
}

static int parse_pages_args(int argc, char **argv, struct dump_pages_opts *o)
{
    o->page_bytes = 4096;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            pages_usage(stdout);
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--page-bytes") == 0) {
            uint64_t v;
            if (i + 1 >= argc || parse_u64(argv[i + 1], &v) != 0 || v < 4096 || v > 65536 ||
                (v & (v - 1)) != 0) {
                fprintf(stderr, "regio-dump pages: --page-bytes must be a power of two from "
                                "4096 to 65536\n");
                return DUMP_USAGE;
            }
            o->page_bytes = v;
            i++;
        } else if (a[0] == '-' || o->file != NULL) {
            fprintf(stderr, "regio-dump pages: bad argument '%s' (try --help)\n", a);
            return DUMP_USAGE;
        } else {
            o->file = a;
        }
    }
    if (o->file == NULL) {
        pages_usage(stderr);
        return DUMP_USAGE;
    }
    return 0;
}

/*
 * When page 0 does not verify at the size given, try the others: a hint
 * that the wrong --page-bytes was given is worth more than a wall of bad
 * checksums. Returns the size that verifies, or 0.
 */
static uint32_t guess_page_bytes(int fd, uint32_t given)
{
    static uint8_t buf[65536];
    for (uint32_t pb = 4096; pb <= 65536; pb *= 2) {
        if (pb == given)
            continue;
        if (pread(fd, buf, pb, 0) == (ssize_t)pb && regio_pager_verify_image(buf, pb, 0) == 0)
            return pb;
    }
    return 0;
}

struct scan_result {
    uint64_t pages, ok, empty, bad, partial_bytes;
    uint64_t max_lsn; /* highest page LSN of the valid pages */
    int read_err;
};

static void report_bad(const struct dump_pages_opts *o, FILE *out, struct jw *j, uint64_t page_no,
                       int rc, uint64_t nbad)
{
    const char *why = rc == -EBADMSG  ? "checksum or page number mismatch"
                      : rc == -EPROTO ? "page of format 1 (16-byte trailer, regio before 0.2)"
                                      : regio_strerror(rc);
    if (o->json) {
        if (nbad > JSON_LIST_MAX)
            return;
        jw_obj(j, NULL);
        jw_u64(j, "page", page_no);
        jw_u64(j, "offset", page_no * o->page_bytes);
        jw_str(j, "error", why);
        jw_obj_end(j);
    } else if (nbad <= LIST_MAX) {
        fprintf(out, "page %" PRIu64 " (offset %" PRIu64 "): %s\n", page_no,
                page_no * o->page_bytes, why);
    } else if (nbad == LIST_MAX + 1) {
        fprintf(out, "(more bad pages: only the first %d are listed)\n", LIST_MAX);
    }
}

static void scan_pages(const struct dump_pages_opts *o, FILE *out, int fd, uint64_t size,
                       struct jw *j, struct scan_result *r, uint8_t *buf)
{
    uint64_t pb = o->page_bytes;
    uint64_t whole = size / pb;
    r->partial_bytes = size % pb;
    for (uint64_t off = 0; off < whole * pb; off += READ_BYTES) {
        uint64_t want = whole * pb - off < READ_BYTES ? whole * pb - off : READ_BYTES;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n != (ssize_t)want) {
            r->read_err = n < 0 ? -errno : -EIO;
            return;
        }
        for (uint64_t p = 0; p < want / pb; p++) {
            uint64_t page_no = off / pb + p;
            int rc = regio_pager_verify_image(buf + p * pb, (uint32_t)pb, page_no);
            r->pages++;
            if (rc == 0) {
                r->ok++;
                uint64_t lsn = regio_pager_image_lsn(buf + p * pb, (uint32_t)pb);
                r->max_lsn = lsn > r->max_lsn ? lsn : r->max_lsn;
            } else if (rc == -ENODATA) {
                r->empty++;
            } else {
                r->bad++;
                report_bad(o, out, j, page_no, rc, r->bad);
            }
        }
    }
}

int dump_pages(const struct dump_pages_opts *o, FILE *out)
{
    int fd = open(o->file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "regio-dump pages: %s: %s\n", o->file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return DUMP_FAIL;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "regio-dump pages: %s: not a regular file\n", o->file);
        close(fd);
        return DUMP_FAIL;
    }
    uint8_t *buf = malloc(READ_BYTES);
    if (buf == NULL) {
        close(fd);
        return DUMP_FAIL;
    }
    struct jw j;
    struct scan_result r = {0};
    if (o->json) {
        jw_init(&j, out);
        jw_obj(&j, NULL);
        jw_str(&j, "file", o->file);
        jw_u64(&j, "file_bytes", (uint64_t)st.st_size);
        jw_u64(&j, "page_bytes", o->page_bytes);
        jw_arr(&j, "bad_pages");
    }
    scan_pages(o, out, fd, (uint64_t)st.st_size, &j, &r, buf);
    free(buf);
    uint32_t guess = 0;
    if (r.bad > 0 && r.ok == 0)
        guess = guess_page_bytes(fd, (uint32_t)o->page_bytes);
    close(fd);
    bool ok = r.bad == 0 && r.partial_bytes == 0 && r.read_err == 0;
    if (o->json) {
        jw_arr_end(&j);
        jw_u64(&j, "pages", r.pages);
        jw_u64(&j, "valid", r.ok);
        jw_u64(&j, "empty", r.empty);
        jw_u64(&j, "bad", r.bad);
        jw_u64(&j, "partial_bytes", r.partial_bytes);
        jw_u64(&j, "max_page_lsn", r.max_lsn);
        if (r.read_err != 0)
            jw_str(&j, "read_error", regio_strerror(r.read_err));
        else
            jw_null(&j, "read_error");
        if (guess != 0)
            jw_u64(&j, "page_bytes_hint", guess);
        jw_bool(&j, "ok", ok);
        jw_obj_end(&j);
        return ok ? DUMP_OK : DUMP_FAIL;
    }
    if (r.read_err != 0)
        fprintf(out, "read error after %" PRIu64 " pages: %s\n", r.pages,
                regio_strerror(r.read_err));
    if (r.partial_bytes != 0)
        fprintf(out,
                "the file ends with %" PRIu64 " bytes that are not a whole page of %" PRIu64
                " bytes\n",
                r.partial_bytes, o->page_bytes);
    if (guess != 0)
        fprintf(out, "hint: page 0 verifies with --page-bytes %u\n", guess);
    fprintf(out,
            "%s: page size %" PRIu64 ": pages scanned %" PRIu64 ", valid %" PRIu64
            ", never written %" PRIu64 ", bad checksums %" PRIu64 ", highest page LSN %" PRIu64
            "\n",
            o->file, o->page_bytes, r.pages, r.ok, r.empty, r.bad, r.max_lsn);
    fprintf(out, "%s\n", ok ? "checksums ok" : "checksum scan FAILED");
    return ok ? DUMP_OK : DUMP_FAIL;
}

int dump_pages_main(int argc, char **argv)
{
    struct dump_pages_opts o = {0};
    int rc = parse_pages_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? DUMP_OK : rc;
    return dump_pages(&o, stdout);
}
