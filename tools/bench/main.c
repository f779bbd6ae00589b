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
static const char *const preferred_order[] = {"slab", "register", "pager", "wal"};
#define PREFERRED_COUNT (sizeof(preferred_order) / sizeof(preferred_order[0]))

static int preferred_rank(const char *name)
{
    for (size_t i = 0; i < PREFERRED_COUNT; i++)
        if (strcmp(preferred_order[i], name) == 0)
            return (int)i;
    return (int)PREFERRED_COUNT;
}

/* ---- Timing and statistics ---------------------------------------------- */

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    if (v == NULL || n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    if (n % 2 == 1)
        return v[n / 2];
    return (v[n / 2 - 1] + v[n / 2]) / 2.0;
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
    double regio, baseline, ratio;
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

static double row_ratio(bool higher_is_better, double regio_value, double baseline_value)
{
    if (!isfinite(regio_value) || !isfinite(baseline_value))
        return NAN;
    if (higher_is_better)
        return baseline_value != 0.0 ? regio_value / baseline_value : NAN;
    return regio_value != 0.0 ? baseline_value / regio_value : NAN;
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
    char rv[32], bv[32], ratio[32];
    if (!table_header_done) {
        printf("%-9s %-34s %-10s %12s  %-22s %12s %7s\n", "bench", "measurement", "metric", "regio",
               "baseline", "value", "ratio");
        table_header_done = true;
    }
    fmt_value(rv, sizeof(rv), r->regio);
    fmt_value(bv, sizeof(bv), r->baseline);
    if (isfinite(r->ratio))
        snprintf(ratio, sizeof(ratio), "%.2fx", r->ratio);
    else
        snprintf(ratio, sizeof(ratio), "n/a");
    printf("%-9s %-34s %-10s %12s  %-22s %12s %7s\n", r->bench, r->name, r->metric, rv,
           r->baseline_name ? r->baseline_name : "-", bv, ratio);
    if (r->note != NULL && r->note[0] != '\0')
        printf("%9s   note: %s\n", "", r->note);
    fflush(stdout);
}

void bench_row(const struct bench_ctx *ctx, const char *bench, const char *name, const char *metric,
               bool higher_is_better, double regio_value, const char *baseline_name,
               double baseline_value, const char *note)
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
    r->bench = dup_or_null(bench ? bench : "?");
    r->name = dup_or_null(name ? name : "?");
    r->metric = dup_or_null(metric ? metric : "?");
    r->baseline_name = dup_or_null(baseline_name);
    r->note = dup_or_null(note);
    r->higher_is_better = higher_is_better;
    r->regio = regio_value;
    r->baseline = baseline_value;
    r->ratio = row_ratio(higher_is_better, regio_value, baseline_value);
    if (!ctx->json)
        print_table_row(r);
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

static void print_json(const struct bench_ctx *ctx, const struct run_result *res, size_t nres)
{
    FILE *f = stdout;
    fprintf(f, "{\n  \"tool\": \"regio-bench\",\n  \"regio_version\": ");
    json_string(f, regio_version());
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
        fprintf(f, "%s\n    {\"bench\": ", i ? "," : "");
        json_string(f, r->bench);
        fprintf(f, ", \"name\": ");
        json_string(f, r->name);
        fprintf(f, ", \"metric\": ");
        json_string(f, r->metric);
        fprintf(f,
                ", \"higher_is_better\": %s, \"regio\": ", r->higher_is_better ? "true" : "false");
        json_number(f, r->regio);
        fprintf(f, ", \"baseline_name\": ");
        json_string(f, r->baseline_name);
        fprintf(f, ", \"baseline\": ");
        json_number(f, r->baseline);
        fprintf(f, ", \"ratio\": ");
        json_number(f, r->ratio);
        fprintf(f, ", \"note\": ");
        json_string(f, r->note);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    fflush(f);
}

/* ---- Command line -------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: regio-bench BENCH|all [--seconds S] [--dir DIR] [--json] [--quick]\n"
                 "\n"
                 "Runs regio benchmarks, each beside a baseline measured in the same run,\n"
                 "and prints one row per comparison: the regio figure, the baseline figure\n"
                 "and their ratio (>1 means regio is ahead, whichever way the metric reads).\n"
                 "\n"
                 "options:\n"
                 "  --seconds S   time budget per measurement (default 1; --quick caps it at 0.2)\n"
                 "  --dir DIR     directory for benchmark files, on the filesystem to test\n"
                 "                (default /var/tmp)\n"
                 "  --json        print one JSON document instead of a table (notes go to stderr)\n"
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

    int failed = 0;
    for (int rank = 0; rank <= (int)PREFERRED_COUNT; rank++) {
        for (struct bench_entry *e = registry; e != NULL; e = e->next) {
            if (preferred_rank(e->name) != rank || (!all && strcmp(e->name, o.what) != 0))
                continue;
            if (run_one(&o.ctx, e, &res[nres++]) != 0)
                failed = 1;
        }
    }
    if (o.ctx.json)
        print_json(&o.ctx, res, nres);
    free(res);
    return failed;
}
