/*
 * tools/bench/stats.c: the statistics every regio-bench row is made of.
 *
 * A comparison is a number of rounds; in each round regio and the baseline
 * run one trial each, back to back (in alternating order), so a load change
 * on the shared machine hits both alike. The row's ratio is the median of
 * the per-round ratios, not a ratio of medians: a round in which the whole
 * machine was slow moves both sides of its ratio, and the median of ratios
 * ignores it. The interval is the distribution-free confidence interval of
 * that median from order statistics (the binomial rule: with n rounds the
 * k-th smallest and k-th largest ratio bracket the true median with
 * probability 1 - 2 P(Binomial(n, 1/2) < k)); it assumes nothing about the
 * shape of the noise, which on a VM is anything but normal. A row whose
 * interval contains 1.0 is "within noise": the run cannot tell the two
 * apart.
 *
 * CPU per operation is user + system time of this process and of the
 * children it waited for (fio, db_bench) over the operations of the trial,
 * so that a figure bought with a spinning thread shows on its row.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

/* The clocks and the median every benchmark uses (bench.h), here with the
 * statistics so that a test can build this file alone. */
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

double bench_median(double *v, int n)
{
    if (v == NULL || n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    if (n % 2 == 1)
        return v[n / 2];
    return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

int64_t bench_cpu_all_ns(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return tv_ns(self.ru_utime) + tv_ns(self.ru_stime) + tv_ns(kids.ru_utime) +
           tv_ns(kids.ru_stime);
}

void bench_clock_start(struct bench_clock *c)
{
    c->cpu_ns = bench_cpu_all_ns();
    c->wall_ns = bench_now_ns();
}

int64_t bench_clock_stop(const struct bench_clock *c, int64_t *cpu_ns_out)
{
    int64_t wall = bench_now_ns() - c->wall_ns;
    if (cpu_ns_out != NULL)
        *cpu_ns_out = bench_cpu_all_ns() - c->cpu_ns;
    return wall;
}

double bench_per_op(int64_t cpu_ns, double ops)
{
    return ops > 0 ? (double)cpu_ns / ops : NAN;
}

/* ---- Pinning -------------------------------------------------------------- */

bool bench_pin(int cpu, cpu_set_t *old)
{
    if (cpu < 0 || pthread_getaffinity_np(pthread_self(), sizeof(*old), old) != 0)
        return false;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
}

void bench_unpin(const cpu_set_t *old)
{
    pthread_setaffinity_np(pthread_self(), sizeof(*old), old);
}

int bench_nth_cpu(int n)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return -1;
    int count = CPU_COUNT(&allowed);
    if (count <= 0)
        return -1;
    n %= count;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed) && n-- == 0)
            return cpu;
    return -1;
}

/* ---- Paired rounds -------------------------------------------------------- */

double bench_ratio(bool higher_is_better, double regio_value, double baseline_value)
{
    if (!isfinite(regio_value) || !isfinite(baseline_value))
        return NAN;
    if (higher_is_better)
        return baseline_value != 0.0 ? regio_value / baseline_value : NAN;
    return regio_value != 0.0 ? baseline_value / regio_value : NAN;
}

void bench_pair_add(struct bench_pair *p, struct bench_trial regio, struct bench_trial base)
{
    if (p->n >= BENCH_MAX_ROUNDS)
        return;
    p->regio[p->n] = regio;
    p->base[p->n] = base;
    p->n++;
}

/* P(Binomial(n, 1/2) < k). */
static double binom_below(int n, int k)
{
    double c = 1.0, sum = 0.0; /* c = C(n, i) */
    for (int i = 0; i < k; i++) {
        sum += c;
        c = c * (double)(n - i) / (double)(i + 1);
    }
    return sum / pow(2.0, n);
}

/* The median of the finite values among v[0..n), NAN when there are none;
 * sorts a copy into tmp and returns the count there in *m. */
static double finite_median(const double *v, int n, double *tmp, int *m)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            tmp[k++] = v[i];
    *m = k;
    return k ? bench_median(tmp, k) : NAN;
}

void bench_interval(double *sorted, int n, double *lo, double *hi, double *coverage)
{
    if (n <= 0) {
        *lo = *hi = *coverage = NAN;
        return;
    }
    /* The largest k whose interval still has 95 % coverage; with fewer than
     * 6 rounds none has, and min..max (k = 1) is the best there is. */
    int k = 1;
    while (k + 1 <= n / 2 && 2.0 * binom_below(n, k + 1) <= 0.05)
        k++;
    *lo = sorted[k - 1];
    *hi = sorted[n - k];
    *coverage = 1.0 - 2.0 * binom_below(n, k);
}

void bench_pair_summary(const struct bench_pair *p, bool higher_is_better, struct bench_summary *s)
{
    double v[BENCH_MAX_ROUNDS], tmp[BENCH_MAX_ROUNDS];
    int m;
    memset(s, 0, sizeof(*s));
    s->rounds = p->n;
    for (int i = 0; i < p->n; i++)
        v[i] = p->regio[i].value;
    s->regio = finite_median(v, p->n, tmp, &m);
    for (int i = 0; i < p->n; i++)
        v[i] = p->base[i].value;
    s->base = finite_median(v, p->n, tmp, &m);
    for (int i = 0; i < p->n; i++)
        v[i] = p->regio[i].cpu_ns_per_op;
    s->regio_cpu = finite_median(v, p->n, tmp, &m);
    for (int i = 0; i < p->n; i++)
        v[i] = p->base[i].cpu_ns_per_op;
    s->base_cpu = finite_median(v, p->n, tmp, &m);
    for (int i = 0; i < p->n; i++)
        v[i] = bench_ratio(higher_is_better, p->regio[i].value, p->base[i].value);
    s->ratio = finite_median(v, p->n, tmp, &m); /* tmp: the sorted ratios */
    s->paired = m;
    bench_interval(tmp, m, &s->lo, &s->hi, &s->coverage);
    s->within_noise = m > 0 && s->lo <= 1.0 && s->hi >= 1.0;
}

static bool pair_short(const struct bench_ctx *ctx, const struct bench_pair *p)
{
    if (p->n >= BENCH_MAX_ROUNDS || p->n < 1)
        return false;
    struct bench_summary s;
    bench_pair_summary(p, true, &s);
    return s.paired > 0 && s.paired < ctx->rounds && p->n < ctx->max_rounds + ctx->rounds;
}

bool bench_pairs_short(const struct bench_ctx *ctx, const struct bench_pair *p, int n)
{
    for (int i = 0; i < n; i++)
        if (pair_short(ctx, &p[i]))
            return true;
    return false;
}

bool bench_pair_more(const struct bench_ctx *ctx, const struct bench_pair *p, bool higher_is_better)
{
    if (p->n >= BENCH_MAX_ROUNDS)
        return false;
    if (p->n < ctx->rounds)
        return true;
    struct bench_summary s;
    bench_pair_summary(p, higher_is_better, &s);
    /* A round where either side measured nothing (a failed or starved
     * trial) pairs nothing: replace it, up to --rounds extra rounds, so the
     * row still has --rounds paired rounds. Not when no round paired: then
     * the baseline is missing (not installed), and more rounds cannot help. */
    if (s.paired > 0 && s.paired < ctx->rounds)
        return p->n < ctx->max_rounds + ctx->rounds;
    if (p->n >= ctx->max_rounds)
        return false;
    /* Narrow: the interval within +-5 % of the median ratio. */
    return !(isfinite(s.ratio) && s.hi - s.lo <= 0.1 * s.ratio);
}
