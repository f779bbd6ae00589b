/*
 * tools/bench/main.c: regio-bench, the frame of the benchmarks.
 *
 * Benchmarks live in their own files and register themselves with
 * BENCH_REGISTER (a constructor), so this file knows none of them by symbol:
 * it parses the command line, runs the ones asked for, and prints every
 * comparison row as a table (as it arrives) or as one JSON document (at the
 * end, so that the output is a single valid document even when a benchmark
 * fails half-way).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include "regio.h"

/* ---- Registry ------------------------------------------------------------ */

static struct bench_entry *registry;

void bench_register(struct bench_entry *e)
{
    /* Append, so that the order is stable whatever the constructor order. */
    struct bench_entry **pp = &registry;
    while (*pp != NULL)
        pp = &(*pp)->next;
    e->next = NULL;
    *pp = e;
}

static struct bench_entry *bench_find(const char *name)
{
    for (struct bench_entry *e = registry; e != NULL; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/*
 * The order in which "all" runs the benchmarks: the documented ones first in
 * the order of the stack (slab under register under pager and WAL), then any
 * other registered one in registration order. Names only, never symbols.
 */
static const char *const preferred_order[] = {"slab", "register", "pager", "wal", "walpipe"};
#define PREFERRED_COUNT (sizeof(preferred_order) / sizeof(preferred_order[0]))

static int preferred_rank(const char *name)
{
    for (size_t i = 0; i < PREFERRED_COUNT; i++)
        if (strcmp(preferred_order[i], name) == 0)
            return (int)i;
    return (int)PREFERRED_COUNT;
}

/* ---- Timing and statistics ---------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile: the smallest sample with at least p*n samples at
 * or below it, so p99 of 100 samples is the 99th, never an interpolation. */
int64_t bench_percentile(int64_t *v, int64_t n, double p)
{
    if (v == NULL || n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    if (!(p > 0.0))
        return v[0];
    if (p >= 1.0)
        return v[n - 1];
    int64_t rank = (int64_t)ceil(p * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* ---- Rows ---------------------------------------------------------------- */

struct row {
    char *bench, *name, *metric, *baseline_name, *note;
    bool higher_is_better;
    struct bench_summary s;                /* rounds = 0: a single figure, no interval */
    double regio_rounds[BENCH_MAX_ROUNDS]; /* per-round figures, for the JSON */
    double base_rounds[BENCH_MAX_ROUNDS];
    int figure_count; /* bench_row_figure */
    const char *figure_keys[BENCH_MAX_FIGURES];
    double figures[BENCH_MAX_FIGURES];
};

static struct row *rows;
static size_t row_count, row_cap;
static bool table_header_done;

static char *dup_or_null(const char *s)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL) {
        fprintf(stderr, "regio-bench: out of memory\n");
        exit(1);
    }
    return d;
}

static void fmt_value(char *out, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(out, n, "n/a");
    else if (fabs(v) >= 1e6 || (fabs(v) < 1e-2 && v != 0.0))
        snprintf(out, n, "%.3e", v);
    else
        snprintf(out, n, "%.2f", v);
}

static void print_table_row(const struct row *r)
{
    char rv[32], bv[32], ratio[64], rc[32], bc[32];
    if (!table_header_done) {
        printf("%-9s %-38s %-12s %11s  %-28s %11s %-24s %s\n", "bench", "measurement", "metric",
               "regio", "baseline", "value", "ratio [interval]", "CPU ns/op regio|base");
        table_header_done = true;
    }
    const struct bench_summary *s = &r->s;
    fmt_value(rv, sizeof(rv), s->regio);
    fmt_value(bv, sizeof(bv), s->base);
    fmt_value(rc, sizeof(rc), s->regio_cpu);
    fmt_value(bc, sizeof(bc), s->base_cpu);
    if (isfinite(s->ratio) && isfinite(s->lo))
        snprintf(ratio, sizeof(ratio), "%.2fx [%.2f-%.2f]%s", s->ratio, s->lo, s->hi,
                 s->within_noise ? " ~" : "");
    else if (isfinite(s->ratio))
        snprintf(ratio, sizeof(ratio), "%.2fx", s->ratio);
    else
        snprintf(ratio, sizeof(ratio), "n/a");
    printf("%-9s %-38s %-12s %11s  %-28s %11s %-24s %s|%s\n", r->bench, r->name, r->metric, rv,
           r->baseline_name ? r->baseline_name : "-", bv, ratio, rc, bc);
    if (r->note != NULL && r->note[0] != '\0')
        printf("%9s   note: %s\n", "", r->note);
    fflush(stdout);
}

static struct row *row_new(const char *bench, const char *name, const char *metric,
                           bool higher_is_better, const char *baseline_name, const char *note)
{
    if (row_count == row_cap) {
        size_t cap = row_cap ? row_cap * 2 : 32;
        struct row *n = realloc(rows, cap * sizeof(*n));
        if (n == NULL) {
            fprintf(stderr, "regio-bench: out of memory\n");
            exit(1);
        }
        rows = n;
        row_cap = cap;
    }
    struct row *r = &rows[row_count++];
    memset(r, 0, sizeof(*r));
    r->bench = dup_or_null(bench ? bench : "?");
    r->name = dup_or_null(name ? name : "?");
    r->metric = dup_or_null(metric ? metric : "?");
    r->baseline_name = dup_or_null(baseline_name);
    r->note = dup_or_null(note);
    r->higher_is_better = higher_is_better;
    return r;
}

void bench_row(const struct bench_ctx *ctx, const char *bench, const char *name, const char *metric,
               bool higher_is_better, double regio_value, const char *baseline_name,
               double baseline_value, const char *note)
{
    struct row *r = row_new(bench, name, metric, higher_is_better, baseline_name, note);
    r->s =
        (struct bench_summary){.regio = regio_value,
                               .base = baseline_value,
                               .ratio = bench_ratio(higher_is_better, regio_value, baseline_value),
                               .lo = NAN,
                               .hi = NAN,
                               .coverage = NAN,
                               .regio_cpu = NAN,
                               .base_cpu = NAN};
    if (!ctx->json)
        print_table_row(r);
}

void bench_pair_row(const struct bench_ctx *ctx, const char *bench, const char *name,
                    const char *metric, bool higher_is_better, const struct bench_pair *p,
                    const char *baseline_name, const char *note)
{
    struct row *r = row_new(bench, name, metric, higher_is_better, baseline_name, note);
    bench_pair_summary(p, higher_is_better, &r->s);
    for (int i = 0; i < p->n; i++) {
        r->regio_rounds[i] = p->regio[i].value;
        r->base_rounds[i] = p->base[i].value;
    }
    if (!ctx->json)
        print_table_row(r);
}

void bench_row_figure(const struct bench_ctx *ctx, const char *key, double value)
{
    (void)ctx; /* the table prints the note, which carries the same figures */
    if (row_count == 0)
        return;
    struct row *r = &rows[row_count - 1];
    if (r->figure_count == BENCH_MAX_FIGURES)
        return;
    r->figure_keys[r->figure_count] = key;
    r->figures[r->figure_count++] = value;
}

void bench_note(const struct bench_ctx *ctx, const char *fmt, ...)
{
    FILE *out = ctx->json ? stderr : stdout;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}

/* ---- JSON output --------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    if (s == NULL) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* JSON has no NaN: a figure that could not be measured is null. */
static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

struct run_result {
    const char *name;
    int rc;
};

static void json_field(FILE *f, const char *key, const char *value, bool last)
{
    fprintf(f, "\"%s\": ", key);
    json_string(f, value);
    fputs(last ? "" : ", ", f);
}

static void print_machine(FILE *f, const struct bench_machine *m)
{
    const struct bench_device *d = &m->dev;
    fprintf(f, ",\n  \"commit\": ");
    json_string(f, m->commit);
    fprintf(f, ",\n  \"machine\": {");
    json_field(f, "cpu_model", m->cpu_model, false);
    fprintf(f, "\"cpus\": %d, \"mem_bytes\": %llu, \"hugepages_total\": %ld, ", m->cpus,
            (unsigned long long)m->mem_bytes, m->hugepages_total);
    json_field(f, "kernel", m->kernel, false);
    json_field(f, "thp", m->thp, false);
    fprintf(f, "\"load_start\": %.2f, \"load_end\": %.2f}", m->load_start, m->load_end);
    fprintf(f, ",\n  \"device\": {");
    json_field(f, "fs", d->fs, false);
    json_field(f, "source", d->source, false);
    json_field(f, "name", d->name, false);
    json_field(f, "model", d->model, false);
    json_field(f, "scheduler", d->scheduler, false);
    json_field(f, "fua", d->fua, false);
    json_field(f, "write_cache", d->write_cache, false);
    json_field(f, "rotational", d->rotational, false);
    fprintf(f, "\"size_bytes\": %llu}", (unsigned long long)strtoull(d->sectors, NULL, 10) * 512);
}

static void print_json(const struct bench_ctx *ctx, const struct bench_machine *m,
                       const struct run_result *res, size_t nres)
{
    FILE *f = stdout;
    fprintf(f, "{\n  \"tool\": \"regio-bench\",\n  \"regio_version\": ");
    json_string(f, regio_version());
    print_machine(f, m);
    fprintf(f, ",\n  \"rounds\": %d,\n  \"max_rounds\": %d,\n  \"cpu\": %d", ctx->rounds,
            ctx->max_rounds, ctx->cpu);
    fprintf(f, ",\n  \"seconds\": ");
    json_number(f, ctx->seconds);
    fprintf(f, ",\n  \"dir\": ");
    json_string(f, ctx->dir);
    fprintf(f, ",\n  \"quick\": %s,\n  \"benchmarks\": [", ctx->quick ? "true" : "false");
    for (size_t i = 0; i < nres; i++) {
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        json_string(f, res[i].name);
        fprintf(f, ", \"ok\": %s, \"error\": ", res[i].rc == 0 ? "true" : "false");
        json_string(f, res[i].rc == 0  ? NULL
                       : res[i].rc < 0 ? regio_strerror(res[i].rc)
                                       : "failed");
        fputc('}', f);
    }
    fprintf(f, "\n  ],\n  \"rows\": [");
    for (size_t i = 0; i < row_count; i++) {
        const struct row *r = &rows[i];
        const struct bench_summary *s = &r->s;
        fprintf(f, "%s\n    {\"bench\": ", i ? "," : "");
        json_string(f, r->bench);
        fprintf(f, ", \"name\": ");
        json_string(f, r->name);
        fprintf(f, ", \"metric\": ");
        json_string(f, r->metric);
        fprintf(f,
                ", \"higher_is_better\": %s, \"regio\": ", r->higher_is_better ? "true" : "false");
        json_number(f, s->regio);
        fprintf(f, ", \"baseline_name\": ");
        json_string(f, r->baseline_name);
        fprintf(f, ", \"baseline\": ");
        json_number(f, s->base);
        fprintf(f, ", \"ratio\": ");
        json_number(f, s->ratio);
        fprintf(f, ", \"ratio_lo\": ");
        json_number(f, s->lo);
        fprintf(f, ", \"ratio_hi\": ");
        json_number(f, s->hi);
        fprintf(f, ", \"coverage\": ");
        json_number(f, s->coverage);
        fprintf(f, ", \"within_noise\": %s, \"rounds\": %d, \"paired_rounds\": %d",
                s->within_noise ? "true" : "false", s->rounds, s->paired);
        fprintf(f, ", \"regio_cpu_ns_per_op\": ");
        json_number(f, s->regio_cpu);
        fprintf(f, ", \"baseline_cpu_ns_per_op\": ");
        json_number(f, s->base_cpu);
        fprintf(f, ", \"regio_rounds\": [");
        for (int k = 0; k < s->rounds; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_number(f, r->regio_rounds[k]);
        }
        fprintf(f, "], \"baseline_rounds\": [");
        for (int k = 0; k < s->rounds; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_number(f, r->base_rounds[k]);
        }
        fprintf(f, "], \"figures\": {");
        for (int k = 0; k < r->figure_count; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_string(f, r->figure_keys[k]);
            fputs(": ", f);
            json_number(f, r->figures[k]);
        }
        fprintf(f, "}, \"note\": ");
        json_string(f, r->note);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    fflush(f);
}

/* ---- Command line -------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: regio-bench BENCH|all [--seconds S] [--rounds N] [--max-rounds N] [--dir DIR]\n"
            "                           [--json] [--quick]\n"
            "\n"
            "Runs regio benchmarks, each beside a baseline measured in the same run,\n"
            "and prints one row per comparison: the medians of the regio and baseline\n"
            "figures over paired rounds, the median of the per-round ratios (>1 means\n"
            "regio is ahead, whichever way the metric reads) with its confidence\n"
            "interval (\"~\": the interval contains 1, within noise), and the CPU time\n"
            "per operation of both sides.\n"
            "\n"
            "options:\n"
            "  --seconds S   time budget per measurement (default 1; --quick caps it at 0.2)\n"
            "  --dir DIR     directory for benchmark files, on the filesystem to test\n"
            "                (default /var/tmp)\n"
            "  --json        print one JSON document instead of a table (notes go to stderr)\n"
            "  --rounds N    paired rounds per comparison (default 9; --quick 3)\n"
            "  --max-rounds N  add rounds, up to N, while a ratio's interval is wider\n"
            "                than +-5 %% (default: --rounds)\n"
            "  --quick       smallest sizes and short runs (for tests and smoke checks)\n"
            "  -h, --help    this text\n"
            "\n"
            "benchmarks:\n");
    for (int rank = 0; rank <= (int)PREFERRED_COUNT; rank++)
        for (struct bench_entry *e = registry; e != NULL; e = e->next)
            if (preferred_rank(e->name) == rank)
                fprintf(out, "  %-10s %s\n", e->name, e->summary);
    fprintf(out,
            "  %-10s every benchmark above\n"
            "\nexit status: 0 ok, 1 a benchmark failed, 2 bad usage\n",
            "all");
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0.0 || v > 86400.0)
        return -EINVAL;
    *out = v;
    return 0;
}

struct options {
    struct bench_ctx ctx;
    const char *what;
};

/* Returns 0, or the exit status to leave with (2 bad usage, 0 after --help). */
static int parse_args(int argc, char **argv, struct options *o, bool *done)
{
    o->ctx.seconds = 1.0;
    o->ctx.dir = "/var/tmp";
    *done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            *done = true;
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o->ctx.json = true;
        } else if (strcmp(a, "--quick") == 0) {
            o->ctx.quick = true;
        } else if (strcmp(a, "--rounds") == 0 || strcmp(a, "--max-rounds") == 0) {
            int *dst = a[2] == 'r' ? &o->ctx.rounds : &o->ctx.max_rounds;
            char *end;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *end != '\0' || v < 1 || v > BENCH_MAX_ROUNDS) {
                fprintf(stderr, "regio-bench: %s wants a count from 1 to %d\n", a,
                        BENCH_MAX_ROUNDS);
                return 2;
            }
            *dst = (int)v;
            i++;
        } else if (strcmp(a, "--seconds") == 0 || strcmp(a, "--dir") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "regio-bench: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (a[2] == 's') {
                if (parse_seconds(v, &o->ctx.seconds) != 0) {
                    fprintf(stderr, "regio-bench: bad --seconds '%s' (want 0 < S <= 86400)\n", v);
                    return 2;
                }
            } else {
                o->ctx.dir = v;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "regio-bench: unknown option '%s' (try --help)\n", a);
            return 2;
        } else if (o->what != NULL) {
            fprintf(stderr, "regio-bench: one benchmark name at a time ('%s' and '%s')\n", o->what,
                    a);
            return 2;
        } else {
            o->what = a;
        }
    }
    if (o->what == NULL) {
        usage(stderr);
        return 2;
    }
    if (o->ctx.quick && o->ctx.seconds > 0.2)
        o->ctx.seconds = 0.2;
    if (o->ctx.rounds == 0)
        o->ctx.rounds = o->ctx.quick ? 3 : 9;
    if (o->ctx.max_rounds < o->ctx.rounds)
        o->ctx.max_rounds = o->ctx.rounds;
    /* REGIO_BENCH_CPU chooses the CPU single-threaded trials run on; by
     * default the one the bench starts on. */
    const char *cpu_env = getenv("REGIO_BENCH_CPU");
    cpu_set_t allowed;
    o->ctx.cpu = cpu_env != NULL ? atoi(cpu_env) : -1;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || o->ctx.cpu < 0 ||
        o->ctx.cpu >= CPU_SETSIZE || !CPU_ISSET(o->ctx.cpu, &allowed)) {
        if (cpu_env != NULL)
            fprintf(stderr, "regio-bench: REGIO_BENCH_CPU=%s is not a CPU this process may use\n",
                    cpu_env);
        int here = sched_getcpu();
        o->ctx.cpu = here < 0 ? 0 : here;
    }
    return 0;
}

static int check_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "regio-bench: --dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "regio-bench: --dir %s: not a directory\n", dir);
        return -1;
    }
    return 0;
}

static int run_one(const struct bench_ctx *ctx, struct bench_entry *e, struct run_result *res)
{
    if (!ctx->json)
        printf("== %s: %s\n", e->name, e->summary);
    fflush(stdout);
    int rc = e->fn(ctx);
    res->name = e->name;
    res->rc = rc;
    if (rc != 0)
        fprintf(stderr, "regio-bench: %s failed: %s%s%s\n", e->name,
                rc < 0 ? regio_strerror(rc) : "see messages above",
                regio_error_detail()[0] ? ": " : "", regio_error_detail());
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    bool done;
    int status = parse_args(argc, argv, &o, &done);
    if (status != 0 || done)
        return status;

    size_t n = 0;
    for (struct bench_entry *e = registry; e != NULL; e = e->next)
        n++;
    struct run_result *res = calloc(n ? n : 1, sizeof(*res));
    if (res == NULL) {
        fprintf(stderr, "regio-bench: out of memory\n");
        return 1;
    }
    size_t nres = 0;
    bool all = strcmp(o.what, "all") == 0;
    if (!all && bench_find(o.what) == NULL) {
        fprintf(stderr, "regio-bench: unknown benchmark '%s' (try --help)\n", o.what);
        free(res);
        return 2;
    }
    if (check_dir(o.ctx.dir) != 0) {
        free(res);
        return 2;
    }

    struct bench_machine machine;
    bench_machine_collect(&o.ctx, &machine);
    bench_note(
        &o.ctx,
        "machine: %s, %d CPUs, %.1f GiB, kernel %s; commit %s; %s on %s, device %s (%s; scheduler "
        "%s, fua %s, write_cache %s); %d rounds per comparison, trials pinned to CPU %d; load "
        "average %.2f",
        machine.cpu_model, machine.cpus, (double)machine.mem_bytes / (1u << 30), machine.kernel,
        machine.commit[0] ? machine.commit : "unknown", o.ctx.dir, machine.dev.fs,
        machine.dev.name[0] ? machine.dev.name : "no block device", machine.dev.model,
        machine.dev.scheduler, machine.dev.fua, machine.dev.write_cache, o.ctx.rounds, o.ctx.cpu,
        machine.load_start);
    int failed = 0;
    for (int rank = 0; rank <= (int)PREFERRED_COUNT; rank++) {
        for (struct bench_entry *e = registry; e != NULL; e = e->next) {
            if (preferred_rank(e->name) != rank || (!all && strcmp(e->name, o.what) != 0))
                continue;
            if (run_one(&o.ctx, e, &res[nres++]) != 0)
                failed = 1;
        }
    }
    double l[1] = {0};
    if (getloadavg(l, 1) == 1)
        machine.load_end = l[0];
    if (o.ctx.json)
        print_json(&o.ctx, &machine, res, nres);
    free(res);
    return failed;
}
