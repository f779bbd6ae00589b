/*
 * tools/dump/arena.c: `regio-dump arena`, the live stats files that arenas
 * publish in /dev/shm (layout in regio/stats.h), read with the seqlock
 * reader regio_stats_read so that every snapshot is consistent.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "regio.h"
#include "regio/stats.h"

/* One stats file found in the directory. */
struct found {
    char path[PATH_MAX];
    long pid;
    int err; /* from regio_stats_read */
    bool alive;
    struct regio_stats_file st;
};

static void arena_usage(FILE *out)
{
    fprintf(out,
            "usage: regio-dump arena [--pid P] [--watch] [--interval S] [--count N] [--json]\n"
            "\n"
            "Lists the live stats files of running regio processes (%s/%s<pid>.<name>,\n"
            "published by arenas created with stats_name); stale files of processes\n"
            "that died are marked. --pid P shows that process's arenas in detail:\n"
            "regions, page kind and fallback reason, per-class slab usage, engines, WALs.\n"
            "\n"
            "  --pid P        one process, in detail (exit 1 when it publishes nothing live)\n"
            "  --watch        refresh every --interval seconds (default 1) until interrupted,\n"
            "                 --count refreshes were shown, or (with --pid) the process ends\n"
            "  --json         one JSON document per refresh\n",
            REGIO_STATS_DIR, REGIO_STATS_PREFIX);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int parse_arena_args(int argc, char **argv, struct dump_arena_opts *o)
{
    o->interval_s = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            arena_usage(stdout);
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--watch") == 0) {
            o->watch = true;
        } else if (strcmp(a, "--pid") == 0 && v != NULL && parse_u64(v, &n) == 0 && n > 0 &&
                   n < INT32_MAX) {
            o->pid = (long)n;
            i++;
        } else if (strcmp(a, "--count") == 0 && v != NULL && parse_u64(v, &n) == 0 && n > 0) {
            o->count = n;
            i++;
        } else if (strcmp(a, "--interval") == 0 && v != NULL) {
            char *end;
            o->interval_s = strtod(v, &end);
            if (*end != '\0' || !(o->interval_s >= 0.01 && o->interval_s <= 3600)) {
                fprintf(stderr, "regio-dump arena: bad --interval '%s'\n", v);
                return DUMP_USAGE;
            }
            i++;
        } else {
            fprintf(stderr, "regio-dump arena: bad argument '%s'%s (try --help)\n", a,
                    v == NULL && a[0] == '-' ? " or missing value" : "");
            return DUMP_USAGE;
        }
    }
    return 0;
}

/* "regio.<pid>.<name>" -> pid; 0 when the name is not of that form. */
static long name_pid(const char *name)
{
    size_t plen = strlen(REGIO_STATS_PREFIX);
    if (strncmp(name, REGIO_STATS_PREFIX, plen) != 0)
        return 0;
    char *end;
    errno = 0;
    long pid = strtol(name + plen, &end, 10);
    if (errno != 0 || end == name + plen || *end != '.' || end[1] == '\0' || pid <= 0)
        return 0;
    return pid;
}

static int cmp_found(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Every stats file (of pid, when nonzero), sorted; *n_out entries. */
static struct found *scan(const char *dir, long pid, size_t *n_out)
{
    *n_out = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    struct found *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long p = name_pid(e->d_name);
        if (p == 0 || (pid != 0 && p != pid))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct found *nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL)
                break;
            v = nv;
        }
        struct found *f = &v[n++];
        memset(f, 0, sizeof(*f));
        snprintf(f->path, sizeof(f->path), "%s/%s", dir, e->d_name);
        f->pid = p;
        f->err = regio_stats_read(f->path, &f->st);
        /* A file whose pid field disagrees with its name is not trusted. */
        if (f->err == 0 && f->st.header.pid != p)
            f->err = -EBADMSG;
        f->alive = f->err == 0 && regio_stats_alive(&f->st) == 1;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_found);
    *n_out = n;
    return v;
}

static const char *found_state(const struct found *f)
{
    if (f->err != 0)
        return "unreadable";
    if (!f->alive)
        return "stale";
    return f->st.header.state == REGIO_STATS_STATE_CLOSING ? "closing" : "running";
}

static double age_s(const struct regio_stats_file *st)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return now - (double)st->header.updated_realtime_ns / 1e9;
}

static double records_per_sync(const struct regio_stats_wal *w)
{
    return w->syncs ? (double)w->records_synced / (double)w->syncs : NAN;
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_arena(struct jw *j, const struct regio_stats_arena *a)
{
    jw_obj(j, "arena");
    jw_u64(j, "size_bytes", a->size_bytes);
    jw_u64(j, "region_bytes", a->region_bytes);
    jw_u64(j, "region_count", a->region_count);
    jw_str(j, "pages", regio_pages_name((enum regio_pages)a->pages));
    jw_u64(j, "kernel_page_bytes", a->kernel_page_bytes);
    jw_u64(j, "anon_huge_bytes", a->anon_huge_bytes);
    jw_str(j, "fallback_reason", a->fallback_reason);
    jw_u64(j, "chunks_total", a->chunks_total);
    jw_u64(j, "chunks_used", a->chunks_used);
    jw_u64(j, "registrations", a->registrations);
    jw_u64(j, "clones", a->clones);
    jw_u64(j, "users", a->users);
    jw_u64(j, "pinned_bytes", a->pinned_bytes);
    jw_obj_end(j);
}

static void json_slab(struct jw *j, const struct regio_stats_slab *s)
{
    jw_obj(j, NULL);
    jw_str(j, "name", s->name);
    jw_u64(j, "chunks", s->chunks);
    jw_u64(j, "class_count", s->class_count);
    jw_u64(j, "tier_count", s->tier_count);
    jw_arr(j, "classes");
    for (uint32_t c = 0; c < s->class_count; c++) {
        const struct regio_stats_class *k = &s->classes[c];
        jw_obj(j, NULL);
        jw_u64(j, "class_id", c);
        jw_u64(j, "buf_bytes", k->buf_bytes);
        jw_bool(j, "pool", k->pool != 0);
        jw_u64(j, "capacity", k->capacity);
        jw_u64(j, "in_use", k->in_use);
        jw_u64(j, "in_flight", k->in_flight);
        jw_u64(j, "high_water", k->high_water);
        jw_u64(j, "allocs", k->allocs);
        jw_u64(j, "exhaustions", k->exhaustions);
        jw_u64(j, "waits", k->waits);
        jw_obj_end(j);
    }
    jw_arr_end(j);
    jw_obj_end(j);
}

static void json_engine(struct jw *j, const struct regio_stats_engine *e)
{
    jw_obj(j, NULL);
    jw_str(j, "name", e->name);
    jw_u64(j, "setup_flags", e->setup_flags);
    jw_bool(j, "cloned", (e->flags & REGIO_STATS_ENGINE_CLONED) != 0);
    jw_bool(j, "shared", (e->flags & REGIO_STATS_ENGINE_SHARED) != 0);
    jw_u64(j, "in_flight", e->in_flight);
    jw_u64(j, "submitted", e->submitted);
    jw_u64(j, "completed", e->completed);
    jw_u64(j, "errors", e->errors);
    jw_u64(j, "retries", e->retries);
    jw_u64(j, "short_resubmits", e->short_resubmits);
    jw_u64(j, "enters", e->enters);
    jw_u64(j, "stall_probes", e->stall_probes);
    jw_u64(j, "stall_resubmits", e->stall_resubmits);
    jw_obj_end(j);
}

static void json_wal(struct jw *j, const struct regio_stats_wal *w)
{
    jw_obj(j, NULL);
    jw_str(j, "name", w->name);
    jw_u64(j, "appended_lsn", w->appended_lsn);
    jw_u64(j, "durable_lsn", w->durable_lsn);
    jw_u64(j, "records", w->records);
    jw_u64(j, "syncs", w->syncs);
    jw_u64(j, "records_synced", w->records_synced);
    jw_dbl(j, "records_per_sync", records_per_sync(w));
    jw_u64(j, "bytes_written", w->bytes_written);
    jw_u64(j, "bytes_padded", w->bytes_padded);
    jw_u64(j, "segments_used", w->segments_used);
    jw_u64(j, "segments_zero_filled", w->segments_zero_filled);
    jw_u64(j, "block_bytes", w->block_bytes);
    jw_i64(j, "failed", w->failed);
    jw_obj_end(j);
}

static void json_found(struct jw *j, const struct found *f)
{
    const struct regio_stats_file *st = &f->st;
    jw_obj(j, NULL);
    jw_str(j, "path", f->path);
    jw_i64(j, "pid", f->pid);
    jw_str(j, "state", found_state(f));
    jw_bool(j, "alive", f->alive);
    if (f->err != 0) {
        jw_str(j, "error", regio_strerror(f->err));
        jw_obj_end(j);
        return;
    }
    jw_str(j, "name", st->header.name);
    jw_u64(j, "version", st->header.version);
    jw_u64(j, "updates", st->header.updates);
    jw_u64(j, "interval_ms", st->header.interval_ms);
    jw_dbl(j, "updated_age_s", age_s(st));
    jw_u64(j, "dropped_sections", st->header.dropped_sections);
    json_arena(j, &st->arena);
    jw_arr(j, "slabs");
    for (int i = 0; i < REGIO_STATS_MAX_SLABS; i++)
        if (st->slabs[i].used)
            json_slab(j, &st->slabs[i]);
    jw_arr_end(j);
    jw_arr(j, "engines");
    for (int i = 0; i < REGIO_STATS_MAX_ENGINES; i++)
        if (st->engines[i].used)
            json_engine(j, &st->engines[i]);
    jw_arr_end(j);
    jw_arr(j, "wals");
    for (int i = 0; i < REGIO_STATS_MAX_WALS; i++)
        if (st->wals[i].used)
            json_wal(j, &st->wals[i]);
    jw_arr_end(j);
    jw_obj_end(j);
}

/* ---- Text ------------------------------------------------------------------ */

static void text_list(FILE *out, const char *dir, const struct found *v, size_t n)
{
    if (n == 0) {
        fprintf(out, "no regio process publishes stats in %s\n", dir);
        return;
    }
    fprintf(out, "%-8s %-20s %-10s %-8s %10s %11s %5s %7s %4s %9s\n", "PID", "NAME", "STATE",
            "PAGES", "SIZE_MIB", "CHUNKS", "SLABS", "ENGINES", "WALS", "UPDATED");
    for (size_t i = 0; i < n; i++) {
        const struct found *f = &v[i];
        if (f->err != 0) {
            fprintf(out, "%-8ld %-20s %-10s (%s: %s)\n", f->pid, "?", found_state(f), f->path,
                    regio_strerror(f->err));
            continue;
        }
        const struct regio_stats_file *st = &f->st;
        int slabs = 0, engines = 0, wals = 0;
        for (int k = 0; k < REGIO_STATS_MAX_SLABS; k++)
            slabs += st->slabs[k].used != 0;
        for (int k = 0; k < REGIO_STATS_MAX_ENGINES; k++)
            engines += st->engines[k].used != 0;
        for (int k = 0; k < REGIO_STATS_MAX_WALS; k++)
            wals += st->wals[k].used != 0;
        char chunks[32];
        snprintf(chunks, sizeof(chunks), "%" PRIu64 "/%" PRIu64, st->arena.chunks_used,
                 st->arena.chunks_total);
        fprintf(out, "%-8ld %-20s %-10s %-8s %10" PRIu64 " %11s %5d %7d %4d %7.1fs\n", f->pid,
                st->header.name, found_state(f),
                regio_pages_name((enum regio_pages)st->arena.pages), st->arena.size_bytes >> 20,
                chunks, slabs, engines, wals, age_s(st));
    }
}

static void text_slab(FILE *out, int idx, const struct regio_stats_slab *s)
{
    fprintf(out, "slab %d%s%s%s: %" PRIu64 " chunks of 2 MiB, %u classes (%u tiers)\n", idx,
            s->name[0] ? " \"" : "", s->name, s->name[0] ? "\"" : "", s->chunks, s->class_count,
            s->tier_count);
    fprintf(out, "  %5s %9s %4s %9s %9s %9s %10s %12s %8s %8s\n", "class", "buf_bytes", "kind",
            "capacity", "in_use", "in_flight", "high_water", "allocs", "exhaust", "waits");
    for (uint32_t c = 0; c < s->class_count; c++) {
        const struct regio_stats_class *k = &s->classes[c];
        if (k->capacity == 0 && k->allocs == 0 && k->exhaustions == 0)
            continue; /* never used: only noise */
        fprintf(out,
                "  %5u %9u %4s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10" PRIu64 " %12" PRIu64
                " %8" PRIu64 " %8" PRIu64 "\n",
                c, k->buf_bytes, k->pool ? "pool" : "tier", k->capacity, k->in_use, k->in_flight,
                k->high_water, k->allocs, k->exhaustions, k->waits);
    }
}

static void text_engine(FILE *out, int idx, const struct regio_stats_engine *e)
{
    fprintf(out,
            "engine %d%s%s%s: in flight %u, submitted %" PRIu64 ", completed %" PRIu64
            ", errors %" PRIu64 ", retries %" PRIu64 ", short resubmits %" PRIu64
            ", enters %" PRIu64 ", stall probes %" PRIu64 " (resubmitted %" PRIu64
            "); setup flags 0x%x%s%s\n",
            idx, e->name[0] ? " \"" : "", e->name, e->name[0] ? "\"" : "", e->in_flight,
            e->submitted, e->completed, e->errors, e->retries, e->short_resubmits, e->enters,
            e->stall_probes, e->stall_resubmits, e->setup_flags,
            (e->flags & REGIO_STATS_ENGINE_CLONED) ? ", registration cloned" : "",
            (e->flags & REGIO_STATS_ENGINE_SHARED) ? ", shared" : ", owned");
}

static void text_wal(FILE *out, const struct regio_stats_wal *w)
{
    double pad_pct =
        w->bytes_written ? 100.0 * (double)w->bytes_padded / (double)w->bytes_written : 0.0;
    fprintf(out,
            "wal \"%s\": appended LSN %" PRIu64 ", durable LSN %" PRIu64 " (%" PRIu64
            " bytes not yet durable)\n",
            w->name, w->appended_lsn, w->durable_lsn,
            w->appended_lsn > w->durable_lsn ? w->appended_lsn - w->durable_lsn : 0);
    fprintf(out,
            "  records %" PRIu64 ", syncs %" PRIu64 ", records per sync %.2f, written %" PRIu64
            " bytes, padded %" PRIu64 " (%.1f%%), segments %" PRIu64 " (%" PRIu64
            " zero-filled), block %u%s%s\n",
            w->records, w->syncs, w->syncs ? records_per_sync(w) : 0.0, w->bytes_written,
            w->bytes_padded, pad_pct, w->segments_used, w->segments_zero_filled, w->block_bytes,
            w->failed ? ", FAILED: " : "", w->failed ? regio_strerror(w->failed) : "");
}

static void text_detail(FILE *out, const struct found *f)
{
    fprintf(out, "%s: %s\n", f->path, found_state(f));
    if (f->err != 0) {
        fprintf(out, "  cannot read: %s\n", regio_strerror(f->err));
        return;
    }
    const struct regio_stats_file *st = &f->st;
    const struct regio_stats_arena *a = &st->arena;
    fprintf(out, "process %d, name \"%s\", updated %.2f s ago (%" PRIu64 " updates, every %u ms)\n",
            st->header.pid, st->header.name, age_s(st), st->header.updates, st->header.interval_ms);
    fprintf(out,
            "arena: %" PRIu64 " MiB in %u region(s) of %" PRIu64
            " MiB; pages %s (kernel page %" PRIu64 " KiB, THP %" PRIu64 " MiB)\n",
            a->size_bytes >> 20, a->region_count, a->region_bytes >> 20,
            regio_pages_name((enum regio_pages)a->pages), a->kernel_page_bytes >> 10,
            a->anon_huge_bytes >> 20);
    for (uint32_t r = 0; r < a->region_count && r < 16; r++)
        fprintf(out, "  region %u: bytes [%" PRIu64 ", %" PRIu64 ") of the arena\n", r,
                (uint64_t)r * a->region_bytes, (uint64_t)(r + 1) * a->region_bytes);
    fprintf(out, "  fallback: %s\n", a->fallback_reason[0] ? a->fallback_reason : "none");
    fprintf(out,
            "  chunks %" PRIu64 "/%" PRIu64
            " used; %u ring registration(s), %u cloned; %u users; %" PRIu64 " MiB pinned\n",
            a->chunks_used, a->chunks_total, a->registrations, a->clones, a->users,
            a->pinned_bytes >> 20);
    for (int i = 0; i < REGIO_STATS_MAX_SLABS; i++)
        if (st->slabs[i].used)
            text_slab(out, i, &st->slabs[i]);
    for (int i = 0; i < REGIO_STATS_MAX_ENGINES; i++)
        if (st->engines[i].used)
            text_engine(out, i, &st->engines[i]);
    for (int i = 0; i < REGIO_STATS_MAX_WALS; i++)
        if (st->wals[i].used)
            text_wal(out, &st->wals[i]);
    if (st->header.dropped_sections)
        fprintf(out, "(%u objects not shown: the file's tables were full)\n",
                st->header.dropped_sections);
}

/* ---- Main ------------------------------------------------------------------ */

size_t dump_arena_show(const struct dump_arena_opts *o, const char *dir, FILE *out)
{
    size_t n;
    struct found *v = scan(dir, o->pid, &n);
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += v[i].alive;
    if (o->json) {
        struct jw j;
        jw_init(&j, out);
        jw_obj(&j, NULL);
        if (o->pid)
            jw_i64(&j, "pid", o->pid);
        jw_u64(&j, "live", live);
        jw_arr(&j, "arenas");
        for (size_t i = 0; i < n; i++)
            json_found(&j, &v[i]);
        jw_arr_end(&j);
        jw_obj_end(&j);
    } else if (o->pid == 0) {
        text_list(out, dir, v, n);
    } else if (n == 0) {
        fprintf(out, "process %ld publishes no stats (no %s/%s%ld.*)\n", o->pid, dir,
                REGIO_STATS_PREFIX, o->pid);
    } else {
        for (size_t i = 0; i < n; i++)
            text_detail(out, &v[i]);
    }
    fflush(out);
    free(v);
    return live;
}

int dump_arena_main(int argc, char **argv)
{
    struct dump_arena_opts o = {0};
    int rc = parse_arena_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? DUMP_OK : rc;
    if (!o.watch)
        return (dump_arena_show(&o, REGIO_STATS_DIR, stdout) == 0 && o.pid != 0) ? DUMP_FAIL
                                                                                 : DUMP_OK;

    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    bool clear = !o.json && isatty(STDOUT_FILENO);
    bool seen_live = false;
    for (uint64_t k = 0; !interrupted && (o.count == 0 || k < o.count); k++) {
        if (k > 0) {
            struct timespec ts = {(time_t)o.interval_s,
                                  (long)((o.interval_s - floor(o.interval_s)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (clear)
            printf("\033[H\033[2J");
        size_t live = dump_arena_show(&o, REGIO_STATS_DIR, stdout);
        seen_live |= live > 0;
        /* Watching one process ends with it (once it has been seen: a
         * process that is still starting up is waited for). */
        if (o.pid != 0 && live == 0 && seen_live)
            break;
        if (!clear && !o.json)
            printf("\n");
    }
    return (o.pid != 0 && !seen_live) ? DUMP_FAIL : DUMP_OK;
}
