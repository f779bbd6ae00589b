/*
 * tools/bench/wal_wake.c: what the WAL's sync waiters pay to sleep and be
 * woken, measured on this machine beside the WAL rows (wal_util.h).
 *
 * A sync caller whose record is in a flush led by another thread sleeps
 * with FUTEX_WAIT on the bucket of that flush, and whoever acknowledges the
 * flush wakes the whole bucket with one FUTEX_WAKE (wal/wal.c, wait_ack and
 * wake_bucket). Two measurements of that mechanism, with plain futexes
 * between the bench's own threads (no regio code, so that they say what the
 * machine charges, not what regio adds):
 *
 * - the ping-pong: two threads hand a word back and forth, each sleeping
 *   in FUTEX_WAIT until the other wakes it; one wake-up is half a round
 *   trip, from the waker's call to the sleeper running. Beside it, the two
 *   system calls of a wake-up without the sleep (a FUTEX_WAKE nobody waits
 *   for, a FUTEX_WAIT on a word that has already changed).
 * - the fan-out: n threads asleep on one word, woken by one FUTEX_WAKE, as
 *   a flush's waiters are: the time until the last of them runs, and the
 *   time the waker spends in the call (which the flusher spends before it
 *   can issue the next flush).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wal_util.h"

static long futex(_Atomic uint32_t *word, int op, uint32_t val, int64_t timeout_ns)
{
    struct timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    return syscall(SYS_futex, (uint32_t *)word, op, val, timeout_ns > 0 ? &ts : NULL, NULL, 0);
}

/* Sleep while *word == val (a bounded sleep, so a stop is always seen). */
static void sleep_on(_Atomic uint32_t *word, uint32_t val)
{
    while (atomic_load(word) == val)
        futex(word, FUTEX_WAIT_PRIVATE, val, 10 * 1000 * 1000);
}

static void wake(_Atomic uint32_t *word, int n)
{
    futex(word, FUTEX_WAKE_PRIVATE, (uint32_t)n, 0);
}

/* ---- Ping-pong ------------------------------------------------------------- */

struct pingpong {
    _Atomic uint32_t turn; /* odd: the partner's turn, even: the starter's */
    _Atomic bool stop;
};

static void *partner_main(void *arg)
{
    struct pingpong *p = arg;
    for (uint32_t t = 1;; t += 2) {
        sleep_on(&p->turn, t - 1);
        if (atomic_load(&p->stop))
            break;
        atomic_store(&p->turn, t + 1);
        wake(&p->turn, 1);
    }
    return NULL;
}

int wal_wake_pingpong(double seconds, struct bench_trial *wake_t, struct bench_trial *floor_t,
                      double *cs_per_wake)
{
    struct pingpong p = {0};
    pthread_t th;
    if (pthread_create(&th, NULL, partner_main, &p) != 0)
        return -EAGAIN;
    uint64_t trips = 0;
    int64_t cs0 = wal_context_switches();
    struct bench_clock c;
    bench_clock_start(&c);
    int64_t deadline = c.wall_ns + (int64_t)(seconds * 1e9);
    for (uint32_t t = 0; bench_now_ns() < deadline; t += 2, trips++) {
        atomic_store(&p.turn, t + 1);
        wake(&p.turn, 1);
        sleep_on(&p.turn, t + 1);
    }
    int64_t cpu;
    int64_t wall = bench_clock_stop(&c, &cpu);
    int64_t cs = wal_context_switches() - cs0;
    atomic_store(&p.stop, true);
    atomic_fetch_add(&p.turn, 1);
    wake(&p.turn, 1);
    pthread_join(th, NULL);
    double wakes = 2.0 * (double)trips;
    wake_t->value = wakes > 0 ? (double)wall / wakes / 1e3 : NAN;
    wake_t->cpu_ns_per_op = bench_per_op(cpu, wakes);
    *cs_per_wake = wakes > 0 ? (double)cs / wakes : NAN;
    /* The floor: the same two calls a wake-up makes, neither of which
     * sleeps (nobody waits on the word; the word never holds the value). */
    _Atomic uint32_t word = 1;
    uint64_t n = 0;
    bench_clock_start(&c);
    deadline = c.wall_ns + (int64_t)(seconds * 1e9);
    while (bench_now_ns() < deadline) {
        wake(&word, 1);
        futex(&word, FUTEX_WAIT_PRIVATE, 0, 1000000);
        n++;
    }
    wall = bench_clock_stop(&c, &cpu);
    floor_t->value = n ? (double)wall / (double)n / 1e3 : NAN;
    floor_t->cpu_ns_per_op = bench_per_op(cpu, (double)n);
    return 0;
}

/* ---- Fan-out ----------------------------------------------------------------- */

struct fanout {
    _Atomic uint32_t gen;     /* bumped once per wake-up of all */
    _Atomic uint32_t arrived; /* sleepers that ran since the last bump */
    _Atomic bool stop;
    int n;
    pid_t tid[WAL_WAKE_MAX];
};

struct sleeper {
    struct fanout *f;
    int idx;
};

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    struct fanout *f = s->f;
    f->tid[s->idx] = (pid_t)syscall(SYS_gettid);
    uint32_t seen = 0;
    for (;;) {
        sleep_on(&f->gen, seen);
        if (atomic_load(&f->stop))
            break;
        seen = atomic_load(&f->gen);
        if ((int)atomic_fetch_add(&f->arrived, 1) + 1 == f->n)
            wake(&f->arrived, 1);
    }
    return NULL;
}

/* Whether thread tid is asleep ('S' in /proc/self/task/tid/stat). */
static bool asleep(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return false;
    bool s = false;
    if (fgets(buf, sizeof(buf), fp) != NULL) {
        const char *p = strrchr(buf, ')');
        s = p != NULL && p[1] == ' ' && p[2] == 'S';
    }
    fclose(fp);
    return s;
}

/* Until every sleeper is in the kernel (at most 20 ms: a loaded machine
 * may keep one from getting there, and the round then measures less than
 * a full fan-out rather than hang). */
static void all_asleep(const struct fanout *f)
{
    int64_t until = bench_now_ns() + 20 * 1000 * 1000;
    for (int i = 0; i < f->n && bench_now_ns() < until;) {
        if (f->tid[i] != 0 && asleep(f->tid[i]))
            i++;
        else
            usleep(50);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* One fan-out after another for `seconds`: the median time until the last
 * sleeper ran and of the waker's call. */
static void fan_rounds(struct fanout *f, double seconds, struct bench_trial *last,
                       struct bench_trial *call)
{
    enum { MAX_ROUNDS = 4096 };
    static int64_t t_last[MAX_ROUNDS], t_call[MAX_ROUNDS];
    int rounds = 0;
    int64_t cpu_sum = 0;
    int64_t deadline = bench_now_ns() + (int64_t)(seconds * 1e9);
    while (rounds < MAX_ROUNDS && (rounds < 3 || bench_now_ns() < deadline)) {
        all_asleep(f);
        atomic_store(&f->arrived, 0);
        int64_t cpu0 = bench_cpu_ns();
        int64_t t0 = bench_now_ns();
        atomic_fetch_add(&f->gen, 1);
        wake(&f->gen, INT_MAX);
        int64_t t1 = bench_now_ns();
        for (uint32_t a; (a = atomic_load(&f->arrived)) < (uint32_t)f->n;)
            futex(&f->arrived, FUTEX_WAIT_PRIVATE, a, 1000000);
        int64_t t2 = bench_now_ns();
        cpu_sum += bench_cpu_ns() - cpu0;
        t_last[rounds] = t2 - t0;
        t_call[rounds] = t1 - t0;
        rounds++;
    }
    qsort(t_last, (size_t)rounds, sizeof(int64_t), cmp_i64);
    qsort(t_call, (size_t)rounds, sizeof(int64_t), cmp_i64);
    /* CPU per wake-up, of every thread, while the fan-outs ran. */
    double cpu = bench_per_op(cpu_sum, (double)rounds * f->n);
    *last = (struct bench_trial){(double)t_last[rounds / 2] / 1e3, cpu};
    *call = (struct bench_trial){(double)t_call[rounds / 2] / 1e3, cpu};
}

int wal_wake_fanout(int n, double seconds, struct bench_trial *last, struct bench_trial *call)
{
    if (n < 1 || n > WAL_WAKE_MAX)
        return -EINVAL;
    struct fanout *f = calloc(1, sizeof(*f));
    struct sleeper *s = calloc((size_t)n, sizeof(*s));
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    int rc = f == NULL || s == NULL || th == NULL ? -ENOMEM : 0;
    int started = 0;
    if (rc == 0)
        f->n = n;
    for (int i = 0; rc == 0 && i < n; i++) {
        s[i] = (struct sleeper){f, i};
        if (pthread_create(&th[i], NULL, sleeper_main, &s[i]) != 0)
            rc = -EAGAIN;
        else
            started++;
    }
    if (rc == 0)
        fan_rounds(f, seconds, last, call);
    if (f != NULL) {
        atomic_store(&f->stop, true);
        atomic_fetch_add(&f->gen, 1);
        wake(&f->gen, INT_MAX);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(s);
    free(f);
    return rc;
}
