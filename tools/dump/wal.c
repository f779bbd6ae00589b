/*
 * tools/dump/wal.c: `regio-dump wal DIR`, like pg_waldump: the control file,
 * every segment (number, first LSN, salt, state), every record (LSN, type,
 * length, epoch, checksum), and where and why the log ends.
 *
 * It reads the files directly through the format functions of
 * wal/wal_format.h, without opening the log (no lock, nothing cut or
 * repaired), so it works on a log that is open elsewhere or damaged. Where
 * the log ends is judged as recovery would: an invalid spot with no valid
 * record after it, or valid ones only within the in-flight window, is a torn
 * tail that recovery cuts (exit 0); an invalid spot below a valid record
 * beyond the window, or before the close record of a cleanly closed log, is
 * corruption (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "regio.h"
#include "wal_format.h"
#include "wal_judge.h"

/* Larger segment files are refused rather than read into memory. */
#define MAX_SEGMENT_FILE_BYTES ((uint64_t)4 << 30)

/* Per-type totals for --stats. */
struct type_count {
    uint16_t type;
    uint64_t records, bytes;
};

struct wal_state {
    struct dump_wal_opts o;
    FILE *out;
    struct jw j;
    bool have_ctl;
    bool ctl_damaged; /* the control file is corrupt: recovery refuses the log */
    int ctl_read_err; /* it cannot be read (-errno): recovery fails with that */
    struct regio__wal_ctl_info ctl;
    bool failed;      /* a failed check: exit 1 */
    uint64_t records; /* valid records of any type */
    uint64_t user_records, user_payload_bytes;
    struct type_count types[64];
    uint32_t type_count;
    bool have_end;      /* a valid record was seen */
    uint64_t end_lsn;   /* end of the last valid record */
    uint16_t last_type; /* of the last valid record other than padding */
    bool have_invalid;  /* first invalid spot */
    uint64_t invalid_lsn;
    const char *invalid_reason;
    uint64_t invalid_window;   /* window of the segment that holds it */
    bool valid_beyond_window;  /* a valid record after the invalid spot, beyond its window */
    bool valid_after_invalid;  /* any valid record after it */
    uint64_t last_valid_after; /* LSN of the last such record */
    uint64_t expect_lsn;       /* where the next segment's first record must start */
    bool have_expect;
    char *errors[32]; /* JSON mode: failed checks, written at the end */
    uint32_t error_count;
};

static void wal_usage(FILE *out)
{
    fprintf(out, "usage: regio-dump wal DIR [--from LSN] [--stats] [--json]\n"
                 "\n"
                 "Shows a regio write-ahead log directory without opening the log: the\n"
                 "control file, each segment (number, first LSN, salt, state), each record\n"
                 "(LSN, type, length, epoch, checksum) and where and why the log ends.\n"
                 "\n"
                 "  --from LSN   list records starting at or after LSN only\n"
                 "  --stats      a summary per record type instead of the record list\n"
                 "  --json       one JSON document\n"
                 "\n"
                 "exit status: 0 the log is readable (a torn tail, which recovery cuts, is\n"
                 "reported but not a failure); 1 corruption, a damaged segment or control\n"
                 "file, or not a WAL directory; 2 bad usage\n");
}

static int parse_wal_args(int argc, char **argv, struct dump_wal_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            wal_usage(stdout);
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--stats") == 0) {
            o->stats = true;
        } else if (strcmp(a, "--from") == 0) {
            if (i + 1 >= argc || parse_u64(argv[i + 1], &o->from_lsn) != 0) {
                fprintf(stderr, "regio-dump wal: --from needs an LSN\n");
                return DUMP_USAGE;
            }
            i++;
        } else if (a[0] == '-' || o->dir != NULL) {
            fprintf(stderr, "regio-dump wal: bad argument '%s' (try --help)\n", a);
            return DUMP_USAGE;
        } else {
            o->dir = a;
        }
    }
    if (o->dir == NULL) {
        wal_usage(stderr);
        return DUMP_USAGE;
    }
    return 0;
}

/* ---- Reporting helpers ------------------------------------------------------ */

/* A failed check: printed at once as text, gathered for JSON. */
static void fail(struct wal_state *s, const char *where, const char *why)
{
    s->failed = true;
    if (!s->o.json) {
        fprintf(s->out, "  ERROR: %s: %s\n", where, why);
        return;
    }
    char *msg = NULL;
    if (s->error_count < sizeof(s->errors) / sizeof(s->errors[0]) &&
        asprintf(&msg, "%s: %s", where, why) >= 0)
        s->errors[s->error_count++] = msg;
}

static void write_errors(struct wal_state *s)
{
    jw_arr(&s->j, "errors");
    for (uint32_t i = 0; i < s->error_count; i++) {
        jw_str(&s->j, NULL, s->errors[i]);
        free(s->errors[i]);
    }
    jw_arr_end(&s->j);
    s->error_count = 0;
}

static void count_type(struct wal_state *s, uint16_t type, uint64_t bytes)
{
    for (uint32_t i = 0; i < s->type_count; i++) {
        if (s->types[i].type == type) {
            s->types[i].records++;
            s->types[i].bytes += bytes;
            return;
        }
    }
    if (s->type_count < sizeof(s->types) / sizeof(s->types[0]))
        s->types[s->type_count++] = (struct type_count){type, 1, bytes};
}

/* ---- Segments --------------------------------------------------------------- */

struct seg_file {
    uint64_t no;
    char name[32];
};

/* Segment files of dir, by number (the listing recovery uses); NULL with
 * *n_out 0 when none; -errno when dir cannot be read. */
static int list_segments(const char *dir, struct seg_file **out, size_t *n_out)
{
    uint64_t *segnos;
    size_t n;
    int err = regio__wal_list_segments(dir, &segnos, &n);
    if (err != 0)
        return err;
    struct seg_file *v = n > 0 ? calloc(n, sizeof(*v)) : NULL;
    if (n > 0 && v == NULL) {
        free(segnos);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].no = segnos[i];
        regio__wal_segment_name(segnos[i], v[i].name);
    }
    free(segnos);
    *out = v;
    *n_out = n;
    return 0;
}

static void note_record(struct wal_state *s, const struct regio__wal_seg_info *si,
                        const struct regio__wal_scan_item *it)
{
    const struct regio__wal_rec_info *r = &it->rec;
    s->records++;
    count_type(s, r->type, r->total_bytes);
    if (r->type <= REGIO_WAL_TYPE_USER_MAX) {
        s->user_records++;
        s->user_payload_bytes += r->len;
    }
    if (s->have_invalid && r->lsn > s->invalid_lsn) {
        s->valid_after_invalid = true;
        s->last_valid_after = r->lsn;
        if (r->lsn >= s->invalid_lsn + s->invalid_window && r->type != REGIO__WAL_TYPE_PAD)
            s->valid_beyond_window = true;
    }
    s->have_end = true;
    s->end_lsn = r->lsn + r->total_bytes;
    /* Padding after a close record (to the block end) still ends cleanly. */
    if (r->type != REGIO__WAL_TYPE_PAD)
        s->last_type = r->type;
    if (s->o.stats || r->lsn < s->o.from_lsn)
        return;
    if (s->o.json) {
        jw_obj(&s->j, NULL);
        jw_u64(&s->j, "lsn", r->lsn);
        jw_u64(&s->j, "end_lsn", r->lsn + r->total_bytes);
        jw_u64(&s->j, "type", r->type);
        jw_str(&s->j, "type_name", regio__wal_type_name(r->type));
        jw_u64(&s->j, "len", r->len);
        jw_u64(&s->j, "epoch", r->epoch);
        jw_bool(&s->j, "checksum_ok", true);
        jw_obj_end(&s->j);
    } else {
        fprintf(s->out,
                "  lsn %" PRIu64 " end %" PRIu64 " type %s (0x%04x) len %u epoch %u checksum ok\n",
                r->lsn, r->lsn + r->total_bytes, regio__wal_type_name(r->type), r->type, r->len,
                r->epoch);
    }
    (void)si;
}

static void note_invalid(struct wal_state *s, const struct regio__wal_seg_info *si, uint64_t offset,
                         uint64_t bytes, const char *reason)
{
    uint64_t lsn = si->segment_no * si->segment_bytes + offset;
    if (!s->have_invalid) {
        s->have_invalid = true;
        s->invalid_lsn = lsn;
        s->invalid_reason = reason ? reason : "invalid record";
        s->invalid_window = si->window_bytes;
    }
    if (s->o.stats && !s->o.json)
        return;
    if (s->o.json) {
        jw_obj(&s->j, NULL);
        jw_u64(&s->j, "lsn", lsn);
        jw_u64(&s->j, "offset", offset);
        jw_u64(&s->j, "bytes", bytes);
        jw_bool(&s->j, "checksum_ok", false);
        jw_str(&s->j, "reason", reason ? reason : "invalid record");
        jw_obj_end(&s->j);
    } else {
        fprintf(s->out,
                "  INVALID at lsn %" PRIu64 " (offset %" PRIu64 "): %s; %" PRIu64
                " bytes to the next valid record or the end\n",
                lsn, offset, reason ? reason : "invalid record", bytes);
    }
}

/*
 * The scanner stops at a zeroed record header. Valid records after such a
 * hole would mean acknowledged data beyond a gap; look for one, so that a
 * zeroed block in the middle of a segment is not mistaken for its end.
 */
static uint64_t find_after_hole(const struct regio__wal_seg_info *si, const uint8_t *img,
                                size_t len, uint64_t from)
{
    for (uint64_t off = from; off + REGIO__WAL_REC_HDR_BYTES <= len; off += REGIO__WAL_REC_ALIGN)
        if (regio__wal_check_record(si, img, len, off, NULL, NULL) == 0)
            return off;
    return 0;
}

/* Scan one segment image; returns the number of valid records and sets *segend. */
static uint64_t scan_segment(struct wal_state *s, const struct regio__wal_seg_info *si,
                             const uint8_t *img, size_t len, bool *segend, uint64_t *invalid_out)
{
    struct regio__wal_scan sc;
    struct regio__wal_scan_item it;
    uint64_t n = 0, end_off = si->block_bytes;
    *segend = false;
    *invalid_out = 0;
    if (s->o.json)
        jw_arr(&s->j, "items");
    regio__wal_scan_init(&sc, si, img, len);
    while (regio__wal_scan_next(&sc, &it) == 1) {
        if (it.kind == REGIO__WAL_SCAN_RECORD) {
            if (n == 0 && s->have_expect && it.rec.lsn != s->expect_lsn && !s->have_invalid)
                note_invalid(s, si, it.offset, 0,
                             "first record does not continue the previous segment");
            note_record(s, si, &it);
            n++;
            *segend = it.rec.type == REGIO__WAL_TYPE_SEGEND;
        } else {
            note_invalid(s, si, it.offset, it.bytes, it.reason);
            (*invalid_out)++;
        }
        end_off = it.offset + it.bytes;
    }
    size_t limit = len < si->segment_bytes ? len : (size_t)si->segment_bytes;
    if (!*segend && end_off < limit) {
        uint64_t next = find_after_hole(si, img, limit, end_off);
        if (next != 0) {
            note_invalid(s, si, end_off, next - end_off,
                         "zeroed bytes with valid records after them (a hole)");
            (*invalid_out)++;
            /* Count what follows the hole as records after the invalid spot. */
            struct regio__wal_scan sc2 = sc;
            sc2.off = next;
            sc2.done = false;
            while (regio__wal_scan_next(&sc2, &it) == 1) {
                if (it.kind == REGIO__WAL_SCAN_RECORD) {
                    note_record(s, si, &it);
                    n++;
                    *segend = it.rec.type == REGIO__WAL_TYPE_SEGEND;
                } else {
                    note_invalid(s, si, it.offset, it.bytes, it.reason);
                    (*invalid_out)++;
                }
            }
        }
    }
    if (s->o.json)
        jw_arr_end(&s->j);
    return n;
}

/* Read a whole segment file; NULL with the error printed on failure. */
static uint8_t *read_segment(struct wal_state *s, const char *name, int fd, uint64_t size)
{
    if (size > MAX_SEGMENT_FILE_BYTES) {
        fail(s, name, "segment file larger than 4 GiB: not read");
        return NULL;
    }
    uint8_t *img = malloc(size ? size : 1);
    if (img == NULL) {
        fail(s, name, "out of memory reading the segment");
        return NULL;
    }
    uint64_t done = 0;
    while (done < size) {
        ssize_t r = pread(fd, img + done, size - done, (off_t)done);
        if (r <= 0) {
            fail(s, name, r < 0 ? strerror(errno) : "file shrank while read");
            free(img);
            return NULL;
        }
        done += (uint64_t)r;
    }
    return img;
}

static const char *seg_state(uint64_t records, bool segend)
{
    if (segend)
        return "full";
    return records ? "current" : "empty";
}

static void dump_segment(struct wal_state *s, const struct seg_file *sf)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->o.dir, sf->name);
    if (s->o.json) {
        jw_obj(&s->j, NULL);
        jw_str(&s->j, "file", sf->name);
        jw_u64(&s->j, "segment_no", sf->no);
    } else {
        fprintf(s->out, "segment %s:", sf->name);
    }
    /* O_NONBLOCK: a FIFO named like a segment must not block the dump. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (!s->o.json)
            fprintf(s->out, "\n");
        fail(s, sf->name, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        goto out;
    }
    struct regio__wal_seg_info si;
    int rc = regio__wal_read_segment_header(fd, &si);
    if (rc == -ENODATA) {
        /* Spares are renamed into place only once their header is durable,
         * so a named segment with a zeroed header was damaged; the verdict
         * at the end says whether recovery can do without it. */
        if (s->o.json)
            jw_str(&s->j, "state", "zeroed_header");
        else
            fprintf(s->out, " zeroed header (a spare is named only once its header is durable)\n");
        close(fd);
        goto out;
    }
    if (rc != 0) {
        if (!s->o.json)
            fprintf(s->out, "\n");
        fail(s, sf->name,
             rc == -EBADMSG ? (regio_error_detail()[0] ? regio_error_detail()
                                                       : "not a regio WAL segment header")
                            : strerror(-rc));
        close(fd);
        goto out;
    }
    if (s->o.json) {
        jw_u64(&s->j, "first_lsn", si.first_lsn);
        char salt[24];
        snprintf(salt, sizeof(salt), "0x%016" PRIx64, si.salt);
        jw_str(&s->j, "salt", salt);
        jw_u64(&s->j, "epoch", si.epoch);
        jw_u64(&s->j, "segment_bytes", si.segment_bytes);
        jw_u64(&s->j, "block_bytes", si.block_bytes);
        jw_u64(&s->j, "window_bytes", si.window_bytes);
    } else {
        fprintf(s->out,
                " no %" PRIu64 ", first LSN %" PRIu64 ", salt 0x%016" PRIx64
                ", epoch %u, segment %" PRIu64 " bytes, block %u, window %" PRIu64 "\n",
                si.segment_no, si.first_lsn, si.salt, si.epoch, si.segment_bytes, si.block_bytes,
                si.window_bytes);
    }
    if (si.segment_no != sf->no)
        fail(s, sf->name, "segment number in the header does not match the file name");
    if (s->have_ctl && si.segment_bytes != s->ctl.segment_bytes)
        fail(s, sf->name, "segment size differs from the control file's");
    if ((uint64_t)st.st_size < si.segment_bytes)
        fail(s, sf->name, "file shorter than its segment size (truncated)");
    uint64_t size =
        (uint64_t)st.st_size < si.segment_bytes ? (uint64_t)st.st_size : si.segment_bytes;
    uint8_t *img = read_segment(s, sf->name, fd, size);
    close(fd);
    if (img == NULL)
        goto out;
    bool segend;
    uint64_t invalid;
    uint64_t n = scan_segment(s, &si, img, (size_t)size, &segend, &invalid);
    free(img);
    if (segend) {
        s->have_expect = true;
        s->expect_lsn = (si.segment_no + 1) * si.segment_bytes + si.block_bytes;
    }
    if (s->o.json) {
        jw_str(&s->j, "state", seg_state(n, segend));
        jw_u64(&s->j, "records", n);
        jw_u64(&s->j, "invalid_spans", invalid);
    } else {
        fprintf(s->out, "  state %s: %" PRIu64 " records, %" PRIu64 " invalid spans\n",
                seg_state(n, segend), n, invalid);
    }
out:
    if (s->o.json)
        jw_obj_end(&s->j);
}

/* ---- Control file and the end of the log ------------------------------------ */

static void dump_control(struct wal_state *s)
{
    int rc = regio__wal_read_control(s->o.dir, &s->ctl);
    s->have_ctl = rc == 0;
    if (s->o.json) {
        jw_obj(&s->j, "control");
        jw_bool(&s->j, "present", rc != -ENOENT);
        if (rc == 0) {
            jw_u64(&s->j, "epoch", s->ctl.epoch);
            jw_bool(&s->j, "clean", (s->ctl.flags & REGIO__WAL_CTL_CLEAN) != 0);
            jw_u64(&s->j, "checkpoint_lsn", s->ctl.checkpoint_lsn);
            jw_u64(&s->j, "close_lsn", s->ctl.close_lsn);
            jw_u64(&s->j, "segment_bytes", s->ctl.segment_bytes);
            jw_u64(&s->j, "block_bytes", s->ctl.block_bytes);
        }
    } else if (rc == 0) {
        fprintf(s->out,
                "control: epoch %u, %s, checkpoint LSN %" PRIu64 ", segments of %" PRIu64
                " bytes, block %u\n",
                s->ctl.epoch,
                (s->ctl.flags & REGIO__WAL_CTL_CLEAN) ? "closed cleanly" : "not closed cleanly",
                s->ctl.checkpoint_lsn, s->ctl.segment_bytes, s->ctl.block_bytes);
    } else if (rc == -ENOENT) {
        fprintf(s->out, "control: no %s (a log never opened to the end, or not a log)\n",
                REGIO__WAL_CTL_NAME);
    } else {
        fprintf(s->out, "control: %s\n", REGIO__WAL_CTL_NAME);
    }
    /* Damage is -EBADMSG; any other error (a FIFO under the name: -ESPIPE)
     * is the file being unreadable, which recovery reports as that error. */
    s->ctl_damaged = rc == -EBADMSG;
    s->ctl_read_err = rc != 0 && rc != -ENOENT && rc != -EBADMSG ? rc : 0;
    if (rc != 0 && rc != -ENOENT)
        fail(s, REGIO__WAL_CTL_NAME,
             rc == -EBADMSG ? "control file damaged (bad magic, version or checksum)"
                            : strerror(-rc));
    if (s->o.json)
        jw_obj_end(&s->j);
}

/* Run recovery's own classification (wal/wal_judge.h) over the directory:
 * 0 with j filled, or -errno when the files cannot be read. */
static int judge_log(struct wal_state *s, struct regio__wal_judge *j)
{
    j->dir = s->o.dir;
    j->dir_fd = open(s->o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dir_fd < 0)
        return -errno;
    j->have_ctl = s->have_ctl;
    j->ctl = s->ctl;
    int err = regio__wal_judge_run(j);
    close(j->dir_fd);
    return err;
}

/* The verdict in words: kind and detail. */
static const char *verdict_words(const struct wal_state *s, const struct regio__wal_judge *j,
                                 char *detail, size_t n)
{
    switch (j->verdict) {
    case REGIO__WAL_V_EMPTY:
        snprintf(detail, n, "no records (a creation that stopped before its control file)");
        return "empty";
    case REGIO__WAL_V_CLEAN:
        snprintf(detail, n, "close record ends the log at LSN %" PRIu64, s->ctl.close_lsn);
        return "clean";
    case REGIO__WAL_V_TORN:
        if (j->beyond_records == 0 && j->why != NULL && strcmp(j->why, "zeroed space") == 0) {
            snprintf(detail, n,
                     "log ends at LSN %" PRIu64
                     ", zeroed space follows: the log is open or its process crashed",
                     j->end);
            return "open_or_crashed";
        }
        snprintf(detail, n, "torn tail at LSN %" PRIu64 " (%s)%s; recovery cuts it", j->end,
                 j->why ? j->why : "?",
                 j->beyond_records ? ", raced records only within the window" : "");
        return "torn";
    default:
        snprintf(detail, n,
                 "corruption at LSN %" PRIu64 " (%s): %s: strict recovery refuses the log%s",
                 j->end, j->why ? j->why : "?", j->corrupt ? j->corrupt : "?",
                 j->salvageable ? "" : ", and salvage cannot keep a prefix");
        return "corrupt";
    }
}

/* Where and why the log ends, as recovery decides it (the same code); sets
 * s->failed where strict recovery refuses the log, and the verdict in res. */
static void dump_end(struct wal_state *s, struct dump_wal_result *res)
{
    const char *kind;
    char detail[400];
    uint64_t lsn = 0;
    struct regio__wal_judge j = {0};
    int err = s->ctl_damaged || s->ctl_read_err ? 0 : judge_log(s, &j);
    if (s->ctl_damaged) {
        kind = "corrupt";
        snprintf(detail, sizeof(detail), "the control file is damaged: recovery refuses the log");
    } else if (s->ctl_read_err) {
        kind = "unreadable";
        snprintf(detail, sizeof(detail), "cannot read the control file: %s",
                 strerror(-s->ctl_read_err));
    } else if (err == -ENOENT && !s->have_ctl) {
        kind = "empty";
        snprintf(detail, sizeof(detail), "no records");
    } else if (err == -ENOENT) {
        kind = "corrupt";
        snprintf(detail, sizeof(detail), "a control file but no segment file");
    } else if (err != 0) {
        kind = "unreadable";
        snprintf(detail, sizeof(detail), "cannot read the log: %s", strerror(-err));
    } else {
        kind = verdict_words(s, &j, detail, sizeof(detail));
        lsn = j.end;
    }
    regio__wal_judge_free(&j);
    if (strcmp(kind, "corrupt") == 0 || strcmp(kind, "unreadable") == 0)
        s->failed = true;
    res->end_kind = kind;
    res->end_lsn = lsn;
    if (s->o.json) {
        jw_obj(&s->j, "end");
        jw_u64(&s->j, "lsn", lsn);
        jw_str(&s->j, "kind", kind);
        jw_str(&s->j, "detail", detail);
        jw_obj_end(&s->j);
    } else {
        fprintf(s->out, "end of log: %s: %s\n", kind, detail);
    }
}

static void dump_stats(struct wal_state *s)
{
    if (s->o.json) {
        jw_obj(&s->j, "stats");
        jw_u64(&s->j, "records", s->records);
        jw_u64(&s->j, "user_records", s->user_records);
        jw_u64(&s->j, "user_payload_bytes", s->user_payload_bytes);
        jw_arr(&s->j, "by_type");
        for (uint32_t i = 0; i < s->type_count; i++) {
            jw_obj(&s->j, NULL);
            jw_u64(&s->j, "type", s->types[i].type);
            jw_str(&s->j, "name", regio__wal_type_name(s->types[i].type));
            jw_u64(&s->j, "records", s->types[i].records);
            jw_u64(&s->j, "bytes", s->types[i].bytes);
            jw_obj_end(&s->j);
        }
        jw_arr_end(&s->j);
        jw_obj_end(&s->j);
        return;
    }
    if (!s->o.stats)
        return;
    fprintf(s->out, "%-10s %-8s %12s %16s\n", "type", "name", "records", "bytes (on disk)");
    for (uint32_t i = 0; i < s->type_count; i++)
        fprintf(s->out, "0x%04x     %-8s %12" PRIu64 " %16" PRIu64 "\n", s->types[i].type,
                regio__wal_type_name(s->types[i].type), s->types[i].records, s->types[i].bytes);
    fprintf(s->out,
            "total: %" PRIu64 " records, %" PRIu64 " caller records with %" PRIu64
            " payload bytes\n",
            s->records, s->user_records, s->user_payload_bytes);
}

int dump_wal(const struct dump_wal_opts *o, FILE *out, struct dump_wal_result *res)
{
    static struct wal_state s;
    memset(&s, 0, sizeof(s));
    s.o = *o;
    s.out = out;
    *res = (struct dump_wal_result){.end_kind = "unreadable"};
    size_t nseg;
    struct seg_file *segs;
    int rc = list_segments(s.o.dir, &segs, &nseg);
    if (rc != 0) {
        fprintf(stderr, "regio-dump wal: %s: %s\n", s.o.dir, strerror(-rc));
        return DUMP_FAIL;
    }
    struct stat st;
    char ctl_path[PATH_MAX];
    snprintf(ctl_path, sizeof(ctl_path), "%s/%s", s.o.dir, REGIO__WAL_CTL_NAME);
    if (nseg == 0 && stat(ctl_path, &st) != 0) {
        fprintf(stderr,
                "regio-dump wal: %s is not a regio WAL directory (no segment files, no %s)\n",
                s.o.dir, REGIO__WAL_CTL_NAME);
        free(segs);
        res->end_kind = "not_a_log";
        return DUMP_FAIL;
    }
    if (s.o.json) {
        jw_init(&s.j, out);
        jw_obj(&s.j, NULL);
        jw_str(&s.j, "dir", s.o.dir);
    } else {
        fprintf(out, "log %s: %zu segment file(s)\n", s.o.dir, nseg);
    }
    dump_control(&s);
    if (s.o.json)
        jw_arr(&s.j, "segments");
    for (size_t i = 0; i < nseg; i++)
        dump_segment(&s, &segs[i]);
    if (s.o.json)
        jw_arr_end(&s.j);
    free(segs);
    dump_stats(&s);
    dump_end(&s, res);
    if (s.o.json) {
        write_errors(&s);
        jw_bool(&s.j, "ok", !s.failed);
        jw_obj_end(&s.j);
    }
    return s.failed ? DUMP_FAIL : DUMP_OK;
}

int dump_wal_main(int argc, char **argv)
{
    struct dump_wal_opts o = {0};
    int rc = parse_wal_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? DUMP_OK : rc;
    struct dump_wal_result res;
    return dump_wal(&o, stdout, &res);
}
