/*
 * tools/walstress/main.c: regio-walstress, a stress test of the write-ahead
 * log that proves what it claims: every record a writer was told is durable
 * is found again, byte for byte and in order, after a clean run (--verify)
 * or after SIGKILL at a random moment (--crash-cycles).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <ftw.h>
#include <time.h>
#include <unistd.h>

#include "regio/stats.h"
#include "walstress.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: regio-walstress [--dir DIR] [--threads N] [--record-bytes MIN[:MAX]]\n"
            "                       [--seconds S | --records N] [--sync every|group|none]\n"
            "                       [--segment-bytes B] [--seed S] [--stats-name NAME]\n"
            "                       [--verify] [--crash-cycles N] [--json]\n"
            "                       [--wal-sync dsync|fdatasync] [--max-flushes N]\n"
            "                       [--flusher-poll-ns NS] [--keep-cycles K]\n"
            "\n"
            "Appends self-describing records to a regio WAL from N threads and measures\n"
            "throughput and durable latency; a progress line every second, a summary at\n"
            "the end.\n"
            "\n"
            "  --dir DIR          log directory (default: a new temporary directory under\n"
            "                     $TMPDIR or /var/tmp, removed afterwards)\n"
            "  --threads N        appender threads (default 4, at most %d)\n"
            "  --record-bytes MIN[:MAX]  record sizes, uniform in [MIN, MAX] (default\n"
            "                     100:1000; at least %u, the record header; K/M suffixes)\n"
            "  --seconds S        run time (default 5); with --crash-cycles, each cycle's\n"
            "                     run time, killed at a random moment from 10%% to 150%% of it\n"
            "  --records N        stop after N records in all (instead of --seconds)\n"
            "  --sync every|group|none  every: each append waits for its sync (default);\n"
            "                     group: appends do not wait, sync callbacks acknowledge\n"
            "                     them; none: no waiting, one sync at the end\n"
            "  --segment-bytes B  WAL segment size (K/M/G suffixes; default the WAL's)\n"
            "  --seed S           seed of record sizes, contents and kill times (default:\n"
            "                     from the clock; printed)\n"
            "  --stats-name NAME  publish live stats (regio-dump arena --pid <pid>)\n"
            "  --verify           after the run re-open the log and check every\n"
            "                     acknowledged record byte for byte and in per-thread order\n"
            "  --crash-cycles N   N times: run the writers in a child process, SIGKILL it\n"
            "                     at a random moment, recover the log, verify\n"
            "  --keep-cycles K    with --crash-cycles: after each recovery, checkpoint the\n"
            "                     log at the start of the last K cycles' records and\n"
            "                     recycle the segments before it, as a database that has\n"
            "                     applied them would; each cycle's records are verified\n"
            "                     after K crashes, and the log stays K cycles long\n"
            "                     (default 0: keep and re-verify every cycle's records)\n"
            "  --json             the summary as one JSON document (progress to stderr)\n"
            "  --wal-sync dsync|fdatasync  how the WAL makes a flush durable: RWF_DSYNC\n"
            "                     writes (the WAL's default) or write + linked fdatasync\n"
            "  --max-flushes N    WAL flushes in flight at once (1 to %d; default the WAL's)\n"
            "  --flusher-poll-ns NS  how long the WAL's flusher polls before sleeping\n"
            "                     (negative: it looks once; default the WAL's)\n"
            "\n"
            "exit status: 0 ok, 1 a failed run or any lost or corrupt record, 2 bad usage\n",
            WS_MAX_THREADS, WS_REC_MIN, REGIO_WAL_MAX_FLUSHES);
}

/* ---- Options ----------------------------------------------------------------- */

static int parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'K':
    case 'k':
        shift = 10;
        break;
    case 'M':
    case 'm':
        shift = 20;
        break;
    case 'G':
    case 'g':
        shift = 30;
        break;
    }
    if (shift)
        end++;
    if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_record_bytes(const char *s, struct ws_opts *o)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *colon = strchr(buf, ':');
    if (colon != NULL)
        *colon = '\0';
    uint64_t lo, hi;
    if (parse_size(buf, &lo) != 0 || (colon ? parse_size(colon + 1, &hi) : (hi = lo, 0)) != 0)
        return -1;
    if (lo < WS_REC_MIN || hi < lo || hi > (64u << 20))
        return -1;
    o->min_bytes = (uint32_t)lo;
    o->max_bytes = (uint32_t)hi;
    return 0;
}

static int bad_value(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "regio-walstress: bad %s '%s': %s\n", opt, v ? v : "", want);
    return 2;
}

/* 0 ok, 2 bad usage, -1 after --help. */
static int parse_args(int argc, char **argv, struct ws_opts *o, bool *seed_given)
{
    *o = (struct ws_opts){
        .threads = 4, .min_bytes = 100, .max_bytes = 1000, .seconds = 5.0, .sync = WS_SYNC_EVERY};
    bool have_seconds = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return -1;
        } else if (strcmp(a, "--verify") == 0) {
            o->verify = true;
            continue;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        } else if (a[0] != '-' || v == NULL) {
            fprintf(stderr, "regio-walstress: bad argument '%s'%s (try --help)\n", a,
                    a[0] == '-' ? " or missing value" : "");
            return 2;
        }
        i++;
        if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_size(v, &n) != 0 || n < 1 || n > WS_MAX_THREADS)
                return bad_value(a, v, "1 to 256 threads");
            o->threads = (uint32_t)n;
        } else if (strcmp(a, "--record-bytes") == 0) {
            if (parse_record_bytes(v, o) != 0)
                return bad_value(a, v, "MIN[:MAX] with 24 <= MIN <= MAX <= 64M");
        } else if (strcmp(a, "--seconds") == 0) {
            char *end;
            o->seconds = strtod(v, &end);
            if (*end != '\0' || !(o->seconds > 0 && o->seconds <= 86400))
                return bad_value(a, v, "0 < S <= 86400");
            have_seconds = true;
        } else if (strcmp(a, "--records") == 0) {
            if (parse_size(v, &n) != 0 || n < 1)
                return bad_value(a, v, "a positive count");
            o->records = n;
        } else if (strcmp(a, "--sync") == 0) {
            if (strcmp(v, "every") == 0)
                o->sync = WS_SYNC_EVERY;
            else if (strcmp(v, "group") == 0)
                o->sync = WS_SYNC_GROUP;
            else if (strcmp(v, "none") == 0)
                o->sync = WS_SYNC_NONE;
            else
                return bad_value(a, v, "every, group or none");
        } else if (strcmp(a, "--segment-bytes") == 0) {
            if (parse_size(v, &n) != 0 || n == 0)
                return bad_value(a, v, "a size such as 4M");
            o->segment_bytes = n;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_size(v, &o->seed) != 0)
                return bad_value(a, v, "a non-negative integer");
            *seed_given = true;
        } else if (strcmp(a, "--stats-name") == 0) {
            o->stats_name = v;
        } else if (strcmp(a, "--wal-sync") == 0) {
            if (strcmp(v, "dsync") == 0)
                o->wal_sync = REGIO_WAL_SYNC_DSYNC;
            else if (strcmp(v, "fdatasync") == 0)
                o->wal_sync = REGIO_WAL_SYNC_FDATASYNC;
            else
                return bad_value(a, v, "dsync or fdatasync");
        } else if (strcmp(a, "--max-flushes") == 0) {
            if (parse_size(v, &n) != 0 || n < 1 || n > REGIO_WAL_MAX_FLUSHES)
                return bad_value(a, v, "1 to 31 flushes");
            o->max_flushes = (uint32_t)n;
        } else if (strcmp(a, "--flusher-poll-ns") == 0) {
            char *end;
            errno = 0;
            long long ns = strtoll(v, &end, 10);
            if (*v == '\0' || *end != '\0' || errno != 0 || ns == 0)
                return bad_value(a, v, "a non-zero count of nanoseconds");
            o->flusher_poll_ns = ns;
        } else if (strcmp(a, "--crash-cycles") == 0) {
            if (parse_size(v, &n) != 0 || n < 1 || n > 10000)
                return bad_value(a, v, "1 to 10000 cycles");
            o->crash_cycles = (uint32_t)n;
        } else if (strcmp(a, "--keep-cycles") == 0) {
            if (parse_size(v, &n) != 0 || n < 1 || n > 10000)
                return bad_value(a, v, "1 to 10000 cycles");
            o->keep_cycles = (uint32_t)n;
        } else {
            fprintf(stderr, "regio-walstress: unknown option '%s' (try --help)\n", a);
            return 2;
        }
    }
    if (o->keep_cycles && !o->crash_cycles) {
        fprintf(stderr, "regio-walstress: --keep-cycles needs --crash-cycles\n");
        return 2;
    }
    if (have_seconds && o->records) {
        fprintf(stderr, "regio-walstress: --seconds and --records exclude each other\n");
        return 2;
    }
    return 0;
}

static const char *sync_name(enum ws_sync s)
{
    return s == WS_SYNC_EVERY ? "every" : s == WS_SYNC_GROUP ? "group" : "none";
}

/* ---- Temporary directory ---------------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static char temp_dir[PATH_MAX];

static int make_temp_dir(struct ws_opts *o)
{
    const char *root = getenv("TMPDIR");
    if (root == NULL || root[0] == '\0')
        root = "/var/tmp";
    snprintf(temp_dir, sizeof(temp_dir), "%s/regio-walstress.XXXXXX", root);
    if (mkdtemp(temp_dir) == NULL) {
        fprintf(stderr, "regio-walstress: cannot create a directory in %s: %s\n", root,
                strerror(errno));
        return -1;
    }
    o->dir = temp_dir;
    o->dir_is_temp = true;
    return 0;
}

/* ---- Output ------------------------------------------------------------------ */

static void print_summary_text(const struct ws_opts *o, const struct ws_run_result *r)
{
    double mb = (double)r->bytes / 1e6;
    printf("summary: %" PRIu64 " records, %.1f MB in %.2f s: %.0f appends/s, %.1f MB/s "
           "(%u threads, %u..%u bytes, sync %s)\n",
           r->records, mb, r->seconds, (double)r->records / r->seconds, mb / r->seconds, o->threads,
           o->min_bytes, o->max_bytes, sync_name(o->sync));
    if (r->lat_count)
        printf("durable latency: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us "
               "(%" PRIu64 " acknowledgements)\n",
               (double)r->lat_p50_ns / 1e3, (double)r->lat_p99_ns / 1e3,
               (double)r->lat_p999_ns / 1e3, (double)r->lat_max_ns / 1e3, r->lat_count);
    printf("wal: %" PRIu64 " syncs, %.1f records per sync, %" PRIu64 " bytes written, %" PRIu64
           " bytes padded (%.1f%%)\n",
           r->wal.syncs, r->wal.syncs ? (double)r->wal.records_synced / (double)r->wal.syncs : 0.0,
           r->wal.bytes_written, r->wal.bytes_padded,
           r->wal.bytes_written ? 100.0 * (double)r->wal.bytes_padded / (double)r->wal.bytes_written
                                : 0.0);
}

static void json_str(const char *key, const char *v, bool comma)
{
    printf("\"%s\": \"", key);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        if ((unsigned char)*p >= 0x20)
            putchar(*p);
    }
    printf("\"%s", comma ? ", " : "");
}

static void print_summary_json_body(const struct ws_opts *o, const struct ws_run_result *r)
{
    printf("{");
    json_str("tool", "regio-walstress", true);
    json_str("dir", o->dir, true);
    printf("\"threads\": %u, \"record_bytes_min\": %u, \"record_bytes_max\": %u, ", o->threads,
           o->min_bytes, o->max_bytes);
    json_str("sync", sync_name(o->sync), true);
    json_str("wal_sync", o->wal_sync == REGIO_WAL_SYNC_FDATASYNC ? "fdatasync" : "dsync", true);
    printf("\"max_flushes\": %u, \"flusher_poll_ns\": %" PRId64 ", ", o->max_flushes,
           o->flusher_poll_ns);
    printf("\"seed\": %" PRIu64 ", \"seconds\": %.6f, \"records\": %" PRIu64 ", \"bytes\": %" PRIu64
           ", \"appends_per_s\": %.3f, \"mb_per_s\": %.3f, ",
           o->seed, r->seconds, r->records, r->bytes, (double)r->records / r->seconds,
           (double)r->bytes / 1e6 / r->seconds);
    printf("\"durable_latency_us\": {\"samples\": %" PRIu64
           ", \"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f}, ",
           r->lat_count, (double)r->lat_p50_ns / 1e3, (double)r->lat_p99_ns / 1e3,
           (double)r->lat_p999_ns / 1e3, (double)r->lat_max_ns / 1e3);
    printf("\"syncs\": %" PRIu64 ", \"records_per_sync\": %.3f, \"bytes_written\": %" PRIu64
           ", \"bytes_padded\": %" PRIu64,
           r->wal.syncs, r->wal.syncs ? (double)r->wal.records_synced / (double)r->wal.syncs : 0.0,
           r->wal.bytes_written, r->wal.bytes_padded);
}

static void print_verify_line(const struct ws_verify_result *v)
{
    FILE *out = stdout;
    if (v->lost == 0 && v->corrupt == 0 && v->error == 0)
        fprintf(out, "verified %" PRIu64 " acknowledged records: 0 lost, 0 corrupt\n",
                v->acknowledged);
    else
        fprintf(out,
                "VERIFY FAILED: %" PRIu64 " acknowledged records: %" PRIu64 " lost, %" PRIu64
                " corrupt%s%s\n",
                v->acknowledged, v->lost, v->corrupt, v->error ? ", reader error: " : "",
                v->error ? regio_strerror(v->error) : "");
    fflush(out);
}

static void json_verify(const struct ws_verify_result *v)
{
    printf("{\"acknowledged\": %" PRIu64 ", \"found\": %" PRIu64 ", \"lost\": %" PRIu64
           ", \"corrupt\": %" PRIu64 ", \"error\": %d, \"ok\": %s}",
           v->acknowledged, v->found, v->lost, v->corrupt, v->error,
           (v->lost == 0 && v->corrupt == 0 && v->error == 0) ? "true" : "false");
}

static bool verify_ok(const struct ws_verify_result *v)
{
    return v->lost == 0 && v->corrupt == 0 && v->error == 0;
}

/* ---- One run ------------------------------------------------------------------ */

/* The same test regio_wal_open makes for regio_wal_recovery.volatile_storage,
 * made before the log is opened so that the banner can say it. */
static bool on_volatile_storage(const char *dir)
{
    struct statfs sf;
    char parent[4096];
    int rc = statfs(dir, &sf);
    if (rc != 0 && errno == ENOENT && strlen(dir) < sizeof(parent)) {
        /* Not made yet: the directory it will be made in. */
        strcpy(parent, dir);
        char *slash = strrchr(parent, '/');
        if (slash != NULL && slash != parent)
            *slash = '\0';
        rc = slash != NULL ? statfs(parent, &sf) : statfs(".", &sf);
    }
    return rc == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
}

static int single_run(const struct ws_opts *o)
{
    static struct ws_shared sh;
    struct ws_run_result r;
    if (!o->json) {
        char budget[64];
        if (o->records)
            snprintf(budget, sizeof(budget), "%" PRIu64 " records", o->records);
        else
            snprintf(budget, sizeof(budget), "%.1f s", o->seconds);
        printf("regio-walstress: %u threads, records %u..%u bytes, sync %s, %s, seed %" PRIu64
               ", dir %s, pid %d\n",
               o->threads, o->min_bytes, o->max_bytes, sync_name(o->sync), budget, o->seed, o->dir,
               (int)getpid());
        if (on_volatile_storage(o->dir))
            printf("regio-walstress: %s is on tmpfs/ramfs: syncs cost no device time and "
                   "nothing survives a reboot (figures are not durable-storage figures)\n",
                   o->dir);
    }
    fflush(stdout);
    int err = ws_run(o, 0, &sh, &r);
    if (err != 0 && r.records == 0) {
        /* Nothing ran (the log could not be opened): say so, in JSON too. */
        if (o->json)
            printf("{\"tool\": \"regio-walstress\", \"error\": %d, \"message\": \"%s\", "
                   "\"ok\": false}\n",
                   err, regio_strerror(err));
        return 1;
    }
    struct ws_verify_result v = {0};
    uint64_t acked[WS_MAX_THREADS];
    for (uint32_t t = 0; t < o->threads; t++)
        acked[t] = atomic_load(&sh.acked[t]);
    struct ws_verify_span span = {.ncycles = 1};
    if (o->verify)
        ws_verify(o, o->dir, acked, &span, &v);
    if (o->json) {
        print_summary_json_body(o, &r);
        printf(", \"error\": %d, \"verify\": ", err);
        if (o->verify)
            json_verify(&v);
        else
            printf("null");
        printf(", \"ok\": %s}\n", (err == 0 && (!o->verify || verify_ok(&v))) ? "true" : "false");
    } else {
        print_summary_text(o, &r);
        if (o->verify)
            print_verify_line(&v);
    }
    return (err == 0 && (!o->verify || verify_ok(&v))) ? 0 : 1;
}

/* ---- Crash cycles --------------------------------------------------------------- */

struct cycle_report {
    double killed_after_s;
    bool finished; /* the child ended on its own before the kill */
    struct regio_wal_recovery rec;
    int recover_err;
    struct ws_verify_result v;
};

static const char *end_name(enum regio_wal_end e)
{
    switch (e) {
    case REGIO_WAL_END_EMPTY:
        return "empty";
    case REGIO_WAL_END_CLEAN:
        return "clean";
    case REGIO_WAL_END_TORN:
        return "torn";
    case REGIO_WAL_END_SALVAGED:
        return "salvaged";
    }
    return "?";
}

/* The child: run the writers until killed (or done); never returns. */
static _Noreturn void child_main(const struct ws_opts *o, uint16_t cycle, struct ws_shared *sh)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct ws_opts co = *o;
    co.quiet = true;
    struct ws_run_result r;
    int err = ws_run(&co, cycle, sh, &r);
    _exit(err == 0 ? 0 : 1);
}

static void remove_child_stats(const struct ws_opts *o, pid_t pid)
{
    if (o->stats_name == NULL)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s%d.%s", REGIO_STATS_DIR, REGIO_STATS_PREFIX, (int)pid,
             o->stats_name);
    unlink(path); /* the killed child could not remove it */
}

/* Run cycle c: fork, wait for the writers to start, kill at a random moment. */
static int crash_one(const struct ws_opts *o, uint16_t c, struct ws_shared *sh, uint64_t *rng,
                     struct cycle_report *rep)
{
    memset(sh, 0, sizeof(*sh));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        child_main(o, c, sh);
    /* Kill somewhere between 10% and 150% of --seconds after the start. A
     * kill past the run's end finds the writers done, their last sync made
     * and the log closed (about a third of the cycles): so --sync none too
     * has acknowledged records, which the next cycles' kills must not lose,
     * and a clean close is crashed into as well as a running log. */
    double frac = 0.1 + 1.4 * (double)(ws_rand(rng) % 1000000) / 1e6;
    int64_t t0 = ws_now_ns();
    int status = 0;
    bool exited = false;
    while (!atomic_load(&sh->ready) && !exited) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int64_t start = ws_now_ns();
    int64_t kill_at = start + (int64_t)(frac * o->seconds * 1e9);
    while (!exited && ws_now_ns() < kill_at) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    rep->finished = exited;
    rep->killed_after_s = (double)(ws_now_ns() - start) / 1e9;
    (void)t0;
    remove_child_stats(o, pid);
    if (exited && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "walstress: cycle %u: the writer failed before the kill\n", c);
        return -EIO;
    }
    return 0;
}

/*
 * Recover the log as a restarting program would: open it, then close it.
 * *end_out is the durable end the open found, where the next cycle's records
 * begin (the close record starts there). A checkpoint_lsn other than 0 is
 * stored as the checkpoint and the segments before it are recycled, as a
 * database does once it has applied the records before it.
 */
static int recover(const struct ws_opts *o, uint64_t checkpoint_lsn, struct regio_wal_recovery *rec,
                   uint64_t *end_out)
{
    struct regio_wal *w;
    struct regio_wal_opts wo = {.segment_bytes = o->segment_bytes};
    int err = regio_wal_open(o->dir, &wo, &w, rec);
    if (err != 0) {
        fprintf(stderr, "walstress: recovery failed: %s %s\n", regio_strerror(err),
                regio_error_detail());
        return err;
    }
    *end_out = regio_wal_durable_lsn(w);
    if (checkpoint_lsn != 0) {
        err = regio_wal_set_checkpoint(w, checkpoint_lsn);
        if (err == 0)
            err = regio_wal_truncate_before(w, checkpoint_lsn);
        if (err < 0) {
            fprintf(stderr, "walstress: checkpoint at LSN %" PRIu64 " failed: %s %s\n",
                    checkpoint_lsn, regio_strerror(err), regio_error_detail());
            regio_wal_close(w);
            return err;
        }
    }
    return regio_wal_close(w);
}

static int crash_cycles(const struct ws_opts *o)
{
    struct ws_shared *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint64_t *acked = calloc((size_t)o->crash_cycles * o->threads, sizeof(*acked));
    /* ends[c]: the durable end the recovery after cycle c found, where cycle
     * c + 1's records begin. */
    uint64_t *ends = calloc(o->crash_cycles, sizeof(*ends));
    if (sh == MAP_FAILED || acked == NULL || ends == NULL) {
        fprintf(stderr, "walstress: out of memory\n");
        return 1;
    }
    uint64_t rng = o->seed ^ 0x6b696c6cull;
    bool ok = true;
    if (!o->json)
        printf("regio-walstress: %u crash cycles, %u threads, records %u..%u bytes, sync %s, "
               "seed %" PRIu64 ", dir %s\n",
               o->crash_cycles, o->threads, o->min_bytes, o->max_bytes, sync_name(o->sync), o->seed,
               o->dir);
    else
        printf("{\"tool\": \"regio-walstress\", \"seed\": %" PRIu64 ", \"crash_cycles\": [",
               o->seed);
    fflush(stdout);
    uint64_t total_acked = 0, total_lost = 0, total_corrupt = 0;
    for (uint32_t c = 0; c < o->crash_cycles; c++) {
        struct cycle_report rep = {0};
        int err = crash_one(o, (uint16_t)c, sh, &rng, &rep);
        for (uint32_t t = 0; t < o->threads; t++) {
            acked[(size_t)c * o->threads + t] = atomic_load(&sh->acked[t]);
            total_acked += acked[(size_t)c * o->threads + t];
        }
        /* With --keep-cycles K this recovery checkpoints away the cycles
         * before c + 1 - K, which have been verified after K crashes. */
        struct ws_verify_span span = {.ncycles = c + 1};
        if (o->keep_cycles != 0 && c + 1 > o->keep_cycles) {
            span.first_cycle = c + 1 - o->keep_cycles;
            span.from_lsn = ends[span.first_cycle - 1];
        }
        if (err == 0)
            err = recover(o, span.from_lsn, &rep.rec, &ends[c]);
        rep.recover_err = err;
        if (err == 0)
            ws_verify(o, o->dir, acked, &span, &rep.v);
        bool cycle_ok = err == 0 && verify_ok(&rep.v);
        ok &= cycle_ok;
        total_lost += rep.v.lost;
        total_corrupt += rep.v.corrupt;
        if (o->json) {
            printf("%s{\"cycle\": %u, \"killed_after_s\": %.3f, \"finished_before_kill\": %s, "
                   "\"recovery_end\": \"%s\", \"bytes_cut\": %" PRIu64 ", \"error\": %d, "
                   "\"verified_from_cycle\": %u, \"verify\": ",
                   c ? ", " : "", c + 1, rep.killed_after_s, rep.finished ? "true" : "false",
                   end_name(rep.rec.end), rep.rec.bytes_cut, err, span.first_cycle + 1);
            json_verify(&rep.v);
            printf("}");
        } else {
            printf("cycle %u/%u: %s after %.2f s; recovery: %s, %" PRIu64 " bytes cut, %" PRIu64
                   " records; ",
                   c + 1, o->crash_cycles, rep.finished ? "finished" : "killed", rep.killed_after_s,
                   end_name(rep.rec.end), rep.rec.bytes_cut, rep.rec.records);
            if (span.first_cycle != 0)
                printf("cycles %u..%u: ", span.first_cycle + 1, c + 1);
            if (err != 0)
                printf("FAILED: %s\n", regio_strerror(err));
            else
                print_verify_line(&rep.v);
        }
        fflush(stdout);
        if (err != 0)
            break;
    }
    if (o->json)
        printf("], \"acknowledged\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"corrupt\": %" PRIu64
               ", \"ok\": %s}\n",
               total_acked, total_lost, total_corrupt, ok ? "true" : "false");
    else
        printf("crash cycles: %" PRIu64 " records acknowledged in all, %" PRIu64 " lost, %" PRIu64
               " corrupt: %s\n",
               total_acked, total_lost, total_corrupt,
               ok ? "no acknowledged record lost or changed" : "FAILED");
    munmap(sh, sizeof(*sh));
    free(acked);
    free(ends);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct ws_opts o;
    bool seed_given = false;
    int rc = parse_args(argc, argv, &o, &seed_given);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (!seed_given)
        o.seed = (uint64_t)ws_now_ns() ^ ((uint64_t)getpid() << 32);
    if (o.dir == NULL && make_temp_dir(&o) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    rc = o.crash_cycles ? crash_cycles(&o) : single_run(&o);
    if (o.dir_is_temp) {
        if (rc == 0)
            nftw(o.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        else
            fprintf(stderr, "regio-walstress: the log is kept for inspection in %s\n", o.dir);
    }
    return rc;
}
