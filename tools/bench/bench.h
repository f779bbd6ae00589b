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

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

struct bench_ctx {
    double seconds;  /* time budget per measurement (--seconds) */
    const char *dir; /* directory for files (--dir), on the filesystem to test */
    bool json;       /* rows go out as JSON */
    bool quick;      /* --quick: smallest sizes, for tests */
    int rounds;      /* paired rounds per comparison (--rounds; 9, --quick 3) */
    int max_rounds;  /* more rounds, up to this, while the interval is wide */
    int cpu;         /* the CPU single-threaded trials are pinned to */
};

/* ---- Statistics (stats.c) -------------------------------------------------
 *
 * How to write a row: for each round, run regio's trial and the baseline's
 * trial back to back (alternate which goes first), each measured with a
 * bench_clock so that it has a CPU time, and add both with bench_pair_add;
 * loop while bench_pair_more() says so; then bench_pair_row(). The row
 * carries the medians of both sides, the median of the per-round ratios,
 * its confidence interval, "within noise" when the interval contains 1.0,
 * and both sides' CPU per operation.
 */
#define BENCH_MAX_ROUNDS 64

/* Wall time and CPU time (user + system, this process and the children it
 * has waited for) since bench_clock_start. */
struct bench_clock {
    int64_t wall_ns, cpu_ns;
};
void bench_clock_start(struct bench_clock *c);
/* Returns the wall ns since start; *cpu_ns_out (may be NULL) the CPU ns. */
int64_t bench_clock_stop(const struct bench_clock *c, int64_t *cpu_ns_out);
/* CPU ns of this process and its waited-for children so far. */
int64_t bench_cpu_all_ns(void);
/* cpu_ns / ops, NAN when ops is 0. */
double bench_per_op(int64_t cpu_ns, double ops);

/* One side of one round: its figure, and CPU ns per operation (NAN when the
 * side cannot say). */
struct bench_trial {
    double value;
    double cpu_ns_per_op;
};

struct bench_pair {
    int n;
    struct bench_trial regio[BENCH_MAX_ROUNDS], base[BENCH_MAX_ROUNDS];
};

struct bench_summary {
    int rounds, paired;         /* rounds, and rounds with both sides measured */
    double regio, base;         /* medians of the two sides' figures */
    double ratio, lo, hi;       /* median per-round ratio (>1: regio ahead), its interval */
    double coverage;            /* confidence of [lo, hi], e.g. 0.961 for 9 rounds */
    double regio_cpu, base_cpu; /* median CPU ns per operation */
    bool within_noise;          /* lo <= 1 <= hi */
};

void bench_pair_add(struct bench_pair *p, struct bench_trial regio, struct bench_trial base);
/* True while the comparison needs another round: fewer than ctx->rounds;
 * fewer than ctx->rounds paired (both sides measured) but some, and fewer
 * than ctx->max_rounds + ctx->rounds; or an interval wider than +-5 % of
 * the ratio and fewer than ctx->max_rounds. */
bool bench_pair_more(const struct bench_ctx *ctx, const struct bench_pair *p,
                     bool higher_is_better);
/* True while one of the n comparisons that share a loop of rounds has
 * fewer than ctx->rounds paired rounds but some, and another round is
 * allowed (bench_pair_more's rule): a loop that asks bench_pair_more of one
 * comparison only must also ask this of the others, or a baseline that
 * measured nothing in a round leaves its row short of rounds. */
bool bench_pairs_short(const struct bench_ctx *ctx, const struct bench_pair *p, int n);
void bench_pair_summary(const struct bench_pair *p, bool higher_is_better, struct bench_summary *s);
/* The order-statistics interval of the median of sorted[0..n). */
void bench_interval(double *sorted, int n, double *lo, double *hi, double *coverage);
/* regio/baseline when higher is better, else baseline/regio; NAN if either is. */
double bench_ratio(bool higher_is_better, double regio_value, double baseline_value);

/* A comparison row from paired rounds (see above). */
void bench_pair_row(const struct bench_ctx *ctx, const char *bench, const char *name,
                    const char *metric, bool higher_is_better, const struct bench_pair *p,
                    const char *baseline_name, const char *note);

/* Attaches a named figure to the row just made (JSON "figures": {key: value}),
 * for figures a report reads back rather than parses out of the note: what
 * the system under test did during the trials (e.g. the log's flush size),
 * medians over the row's rounds. Up to BENCH_MAX_FIGURES a row; more are
 * dropped. key must outlive the run (a string literal). NAN becomes null. */
#define BENCH_MAX_FIGURES 8
void bench_row_figure(const struct bench_ctx *ctx, const char *key, double value);

/* Pin the calling thread to cpu (old: its mask before); false if it could not. */
bool bench_pin(int cpu, cpu_set_t *old);
void bench_unpin(const cpu_set_t *old);
/* The n-th CPU (modulo their count) this process may run on, or -1. */
int bench_nth_cpu(int n);

/* ---- The machine (machine.c) --------------------------------------------- */

struct bench_device {
    char fs[64], source[256];  /* filesystem type and source of the mount */
    char name[64], model[128]; /* block device (the disk, not the partition) */
    char scheduler[128], fua[8], write_cache[128], rotational[8], sectors[32];
};

struct bench_machine {
    char cpu_model[128], kernel[128], thp[128], commit[64];
    int cpus;
    uint64_t mem_bytes;
    long hugepages_total;
    double load_start, load_end;
    struct bench_device dev; /* under --dir */
};

/* The block device (and filesystem) under dir; empty fields when none. */
void bench_device_of(const char *dir, struct bench_device *d);
void bench_machine_collect(const struct bench_ctx *ctx, struct bench_machine *m);

/*
 * A single-figure comparison with no rounds (no interval): prefer
 * bench_pair_row. One comparison. `metric` names what was measured ("ns/pair", "IOPS", ...),
 * `higher_is_better` says which way the ratio reads. The ratio printed is
 * regio/baseline when higher is better, baseline/regio otherwise, so >1 is
 * always regio ahead. A baseline that could not be measured is NAN (the
 * ratio is then printed as n/a), with `note` saying why.
 */
void bench_row(const struct bench_ctx *ctx, const char *bench, const char *name, const char *metric,
               bool higher_is_better, double regio_value, const char *baseline_name,
               double baseline_value, const char *note);

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
    static struct bench_entry bench_entry_##fn_ = {name_, summary_, fn_, 0};                       \
    __attribute__((constructor)) static void bench_ctor_##fn_(void)                                \
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
