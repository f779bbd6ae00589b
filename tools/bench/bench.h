/*
 * tools/bench/bench.h: the frame every regio-bench benchmark plugs into.
 *
 * A benchmark is a function registered under a name with BENCH_REGISTER; it
 * measures regio and a baseline in the same run and reports each comparison
 * with bench_row(). main.c parses the command line, runs the benchmarks asked
 * for and prints the rows as a table or as JSON.
 */
#ifndef REGIO_BENCH_H
#define REGIO_BENCH_H

#include <stdbool.h>
#include <stdint.h>

struct bench_ctx {
    double seconds;   /* time budget per measurement (--seconds) */
    const char *dir;  /* directory for files (--dir), on the filesystem to test */
    bool json;        /* rows go out as JSON */
    bool quick;       /* --quick: smallest sizes, for tests */
};

/*
 * One comparison. `metric` names what was measured ("ns/pair", "IOPS", ...),
 * `higher_is_better` says which way the ratio reads. The ratio printed is
 * regio/baseline when higher is better, baseline/regio otherwise, so >1 is
 * always regio ahead. A baseline that could not be measured is NAN (the
 * ratio is then printed as n/a), with `note` saying why.
 */
void bench_row(const struct bench_ctx *ctx, const char *bench, const char *name,
               const char *metric, bool higher_is_better, double regio_value,
               const char *baseline_name, double baseline_value, const char *note);

/* A line of free text (omitted in JSON mode, where it goes to stderr). */
void bench_note(const struct bench_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef int (*bench_fn)(const struct bench_ctx *ctx);

struct bench_entry {
    const char *name;
    const char *summary;
    bench_fn fn;
    struct bench_entry *next;
};

void bench_register(struct bench_entry *e);

#define BENCH_REGISTER(name_, summary_, fn_)                                                       \
    static struct bench_entry bench_entry_##fn_ = {name_, summary_, fn_, 0};                      \
    __attribute__((constructor)) static void bench_ctor_##fn_(void)                               \
    {                                                                                              \
        bench_register(&bench_entry_##fn_);                                                        \
    }

/* CLOCK_MONOTONIC nanoseconds, and CPU time of the process in nanoseconds. */
int64_t bench_now_ns(void);
int64_t bench_cpu_ns(void);
/* Median of n doubles (sorts in place). */
double bench_median(double *v, int n);
/* p in [0,1] of n sorted-in-place int64 samples. */
int64_t bench_percentile(int64_t *v, int64_t n, double p);

#endif
