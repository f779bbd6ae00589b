/*
 * tools/bench/pager.c: "pager", random 4 KiB page reads over one file.
 *
 * regio: regio_pager_read (READ_FIXED from a registered buffer, checksum
 * verified on completion) keeping qd reads in flight, each completion
 * queueing the next. Baselines on the same file in the same run: qd threads
 * each doing O_DIRECT pread, and fio's io_uring engine with fixed buffers
 * and registered files (where fio is installed).
 *
 * fio runs a second time with whole-batch submits and reaps (fio_run):
 * the issue's target is against the plain command, and the batched one
 * says how regio compares with a tuned io_uring program.
 *
 * A fourth reader, "regio engine", does the same reads through regio_file_read
 * on the same engine without the page check. fio never looks at the bytes
 * it reads and the pager must hash every one of them; the engine row is
 * what regio's I/O path costs beside fio's, and pager minus engine is what
 * the check costs. It does not replace the pager rows. Each figure is the median
 * of 3 runs (1 with --quick). CPU per read is process CPU time (user +
 * system) over reads; fio's comes from its usr_cpu/sys_cpu over its runtime.
 *
 * regio's thread and fio's job run pinned to the same CPU. On a machine
 * whose block device interrupts one CPU only, a reader on that CPU is
 * charged the interrupt work and completes reads at another rate; left to
 * the scheduler, the two landed on different CPUs from one round to the
 * next and single rounds differed by 0.6x-1.4x for that alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "regio.h"

#define PAGE_BYTES  4096u
#define MAX_QD      128
#define MAX_SAMPLES (1u << 22)
#define MAX_RUNS    9

struct measure {
    double iops;
    double p50_us;
    double p99_us;
    double cpu_ns; /* CPU time per read */
};

struct setup {
    const struct bench_ctx *ctx;
    int cpu; /* regio and fio run pinned here */
    char path[512];
    uint64_t pages;
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
    struct regio_pager *p;
    struct regio_file *f; /* the same file, for unverified engine reads */
};

static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- The file: every page written through the pager, so reads verify --- */

struct fill_state {
    int pending;
    int errors;
};

static void fill_cb(void *ctx, int res)
{
    struct fill_state *f = ctx;
    f->pending--;
    if (res < 0)
        f->errors++;
}

static int fill_file(struct setup *s)
{
    enum { DEPTH = 64 };
    struct regio_buf bufs[DEPTH];
    for (int i = 0; i < DEPTH; i++) {
        int rc = regio_slab_alloc(s->s, PAGE_BYTES, &bufs[i]);
        if (rc != 0)
            return rc;
    }
    struct fill_state st = {0, 0};
    uint64_t seed = 42;
    size_t payload = regio_pager_payload_bytes(s->p);
    for (uint64_t pg = 0; pg < s->pages && st.errors == 0;) {
        int n = 0;
        for (; n < DEPTH && pg < s->pages; n++, pg++) {
            uint64_t *w = bufs[n].data;
            for (size_t k = 0; k < payload / 8; k++)
                w[k] = rng_next(&seed);
            int rc = regio_pager_write(s->p, pg, bufs[n], fill_cb, &st);
            if (rc != 0)
                return rc;
            st.pending++;
        }
        int rc = regio_engine_drain(s->e, -1);
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < DEPTH; i++)
        regio_slab_free(s->s, bufs[i]);
    int rc = regio_pager_sync(s->p);
    return st.errors ? -EIO : rc;
}

static int setup_open(struct setup *s)
{
    size_t file_bytes = s->ctx->quick ? (64u << 20) : (1024u << 20);
    s->pages = file_bytes / PAGE_BYTES;
    snprintf(s->path, sizeof(s->path), "%s/regio-bench-pager-%zu.dat", s->ctx->dir,
             file_bytes >> 20);
    struct regio_arena_opts ao = {.size_bytes = 8u << 20};
    int rc = regio_arena_create(&ao, &s->a);
    if (rc == 0)
        rc = regio_slab_create(s->a, NULL, &s->s);
    struct regio_engine_opts eo = {.queue_depth = 256};
    if (rc == 0)
        rc = regio_engine_create(s->a, s->s, &eo, &s->e);
    /* Detect only: the file is filled once for reads, which are measured;
     * doublewrite copies would only slow the fill. */
    struct regio_pager_opts po = {
        .page_bytes = PAGE_BYTES, .create = true, .torn = REGIO_PAGER_TORN_DETECT};
    if (rc == 0)
        rc = regio_pager_open(s->e, s->path, &po, &s->p);
    uint64_t have = 0;
    if (rc == 0)
        rc = regio_pager_page_count(s->p, &have);
    if (rc == 0 && have != s->pages) {
        bench_note(s->ctx, "pager: writing %llu pages to %s", (unsigned long long)s->pages,
                   s->path);
        rc = regio_pager_truncate(s->p, 0);
        if (rc == 0)
            rc = fill_file(s);
    }
    if (rc == 0)
        rc = regio_file_open(s->e, s->path, O_RDONLY, 0, &s->f);
    return rc;
}

/* The file is removed at the end: 1 GiB is not left behind in --dir. */
static void setup_close(struct setup *s)
{
    if (s->path[0] != '\0')
        unlink(s->path);
    if (s->f != NULL)
        regio_file_close(s->f);
    if (s->p != NULL)
        regio_pager_close(s->p);
    if (s->e != NULL)
        regio_engine_destroy(s->e);
    if (s->s != NULL)
        regio_slab_destroy(s->s);
    if (s->a != NULL)
        regio_arena_destroy(s->a);
}

/* ---- Latency samples ------------------------------------------------------ */

struct samples {
    int64_t *v;
    uint64_t n;
    uint64_t cap;
};

static void sample_add(struct samples *s, int64_t ns)
{
    if (s->n < s->cap)
        s->v[s->n++] = ns;
}

static void finish_measure(struct measure *m, struct samples *s, uint64_t reads, int64_t wall_ns,
                           int64_t cpu_ns)
{
    m->iops = (double)reads * 1e9 / (double)wall_ns;
    m->p50_us = s->n ? (double)bench_percentile(s->v, (int64_t)s->n, 0.50) / 1e3 : NAN;
    m->p99_us = s->n ? (double)bench_percentile(s->v, (int64_t)s->n, 0.99) / 1e3 : NAN;
    m->cpu_ns = reads ? (double)cpu_ns / (double)reads : NAN;
}

/* ---- regio ---------------------------------------------------------------- */

struct slot {
    struct regio_run *run;
    struct regio_buf b;
    int64_t start_ns;
};

struct regio_run {
    struct setup *s;
    struct samples lat;
    uint64_t reads;
    uint64_t rng;
    int errors;
    bool stop;
    bool engine_only; /* regio_file_read without the page check */
};

static void regio_read_cb(void *ctx, int res);

static int regio_issue(struct slot *sl)
{
    struct regio_run *r = sl->run;
    uint64_t pg = rng_next(&r->rng) % r->s->pages;
    sl->start_ns = bench_now_ns();
    if (r->engine_only)
        return regio_file_read(r->s->f, sl->b, pg * PAGE_BYTES, PAGE_BYTES, regio_read_cb, sl);
    return regio_pager_read(r->s->p, pg, sl->b, regio_read_cb, sl);
}

static void regio_read_cb(void *ctx, int res)
{
    struct slot *sl = ctx;
    struct regio_run *r = sl->run;
    sample_add(&r->lat, bench_now_ns() - sl->start_ns);
    r->reads++;
    if (res != (int)PAGE_BYTES)
        r->errors++;
    if (!r->stop && regio_issue(sl) != 0)
        r->errors++;
}

/* Pin the calling thread to cpu, saving its mask in old; false if it could
 * not be pinned (the run then goes on unpinned). */
static bool pin_self(int cpu, cpu_set_t *old)
{
    if (pthread_getaffinity_np(pthread_self(), sizeof(*old), old) != 0)
        return false;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
}

static int run_reads(struct setup *s, int qd, double seconds, bool engine_only, struct measure *m)
{
    cpu_set_t old;
    bool pinned = pin_self(s->cpu, &old);
    struct slot slots[MAX_QD];
    struct regio_run r = {
        s, {malloc(MAX_SAMPLES * sizeof(int64_t)), 0, MAX_SAMPLES}, 0, 7, 0, false, engine_only};
    int rc = r.lat.v == NULL ? -ENOMEM : 0;
    int have = 0; /* slots with a buffer */
    while (rc == 0 && have < qd) {
        slots[have].run = &r;
        rc = regio_slab_alloc(s->s, PAGE_BYTES, &slots[have].b);
        if (rc == 0)
            have++;
    }
    int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
    for (int i = 0; i < qd && rc == 0; i++)
        rc = regio_issue(&slots[i]);
    int64_t end = t0 + (int64_t)(seconds * 1e9);
    while (rc == 0 && bench_now_ns() < end) {
        int n = regio_engine_wait(s->e, 1, -1);
        if (n < 0)
            rc = n;
    }
    r.stop = true;
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    uint64_t reads = r.reads;
    regio_engine_drain(s->e, -1);
    for (int i = 0; i < have; i++)
        regio_slab_free(s->s, slots[i].b);
    if (rc == 0 && r.errors)
        rc = -EIO;
    finish_measure(m, &r.lat, reads, t1 - t0, c1 - c0);
    free(r.lat.v);
    if (pinned)
        pthread_setaffinity_np(pthread_self(), sizeof(old), &old);
    return rc;
}

static int run_regio(struct setup *s, int qd, double seconds, struct measure *m)
{
    return run_reads(s, qd, seconds, false, m);
}

static int run_engine(struct setup *s, int qd, double seconds, struct measure *m)
{
    return run_reads(s, qd, seconds, true, m);
}

/* ---- pread threads -------------------------------------------------------- */

struct pread_run {
    const char *path;
    uint64_t pages;
    atomic_bool stop;
    struct samples lat[MAX_QD];
    uint64_t reads[MAX_QD];
    int errors[MAX_QD];
    int id_next;
    pthread_mutex_t lock;
};

static void *pread_main(void *arg)
{
    struct pread_run *r = arg;
    pthread_mutex_lock(&r->lock);
    int id = r->id_next++;
    pthread_mutex_unlock(&r->lock);
    int fd = open(r->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    void *buf = NULL;
    if (fd < 0 || posix_memalign(&buf, 4096, PAGE_BYTES) != 0) {
        r->errors[id]++;
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint64_t rng = 1000 + (uint64_t)id;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        uint64_t pg = rng_next(&rng) % r->pages;
        int64_t t = bench_now_ns();
        if (pread(fd, buf, PAGE_BYTES, (off_t)(pg * PAGE_BYTES)) != PAGE_BYTES)
            r->errors[id]++;
        sample_add(&r->lat[id], bench_now_ns() - t);
        r->reads[id]++;
    }
    free(buf);
    close(fd);
    return NULL;
}

static int run_pread(struct setup *s, int qd, double seconds, struct measure *m)
{
    struct pread_run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->path = s->path;
    r->pages = s->pages;
    pthread_mutex_init(&r->lock, NULL);
    uint32_t per = MAX_SAMPLES / (uint32_t)qd;
    int64_t *all = malloc(MAX_SAMPLES * sizeof(int64_t));
    if (all == NULL) {
        free(r);
        return -ENOMEM;
    }
    for (int i = 0; i < qd; i++) {
        r->lat[i].v = all + (size_t)i * per;
        r->lat[i].cap = per;
    }
    pthread_t t[MAX_QD];
    int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
    for (int i = 0; i < qd; i++)
        pthread_create(&t[i], NULL, pread_main, r);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&r->stop, true);
    for (int i = 0; i < qd; i++)
        pthread_join(t[i], NULL);
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    /* Per-thread sample runs are per entries apart; pack them for the
     * percentile. */
    struct samples packed = {all, 0, MAX_SAMPLES};
    uint64_t reads = 0;
    int errors = 0;
    for (int i = 0; i < qd; i++) {
        memmove(all + packed.n, r->lat[i].v, r->lat[i].n * sizeof(int64_t));
        packed.n += r->lat[i].n;
        reads += r->reads[i];
        errors += r->errors[i];
    }
    finish_measure(m, &packed, reads, t1 - t0, c1 - c0);
    free(all);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return errors ? -EIO : 0;
}

/* ---- fio ------------------------------------------------------------------ */

/* The number after "key" : following from in s, or NAN. */
static double json_after(const char *s, const char *key)
{
    if (s == NULL)
        return NAN;
    const char *p = strstr(s, key);
    if (p == NULL)
        return NAN;
    p = strchr(p + strlen(key), ':');
    return p == NULL ? NAN : strtod(p + 1, NULL);
}

static bool have_fio(void)
{
    return system("fio --version >/dev/null 2>&1") == 0;
}

/*
 * fio's io_uring engine with fixed buffers and registered files, the
 * issue's baseline. batched adds --iodepth_batch_submit=qd and
 * --iodepth_batch_complete_max=qd: fio then submits and reaps whole
 * batches in one io_uring_enter each instead of one per read. On a VM
 * where every submit that reaches the device costs a doorbell exit, the
 * unbatched fio spends most of its CPU there and regio, which batches,
 * looks far better than it is against a tuned io_uring program; the
 * batched run is that tuned program.
 */
static int fio_run(struct setup *s, int qd, double seconds, bool batched, struct measure *m)
{
    char cmd[1024], batch[96] = "";
    int secs = seconds < 1 ? 1 : (int)(seconds + 0.5);
    if (batched)
        snprintf(batch, sizeof(batch), "--iodepth_batch_submit=%d --iodepth_batch_complete_max=%d ",
                 qd, qd);
    snprintf(cmd, sizeof(cmd),
             "fio --name=pager --filename=%s --ioengine=io_uring --fixedbufs --registerfiles "
             "--direct=1 --rw=randread --bs=4k --iodepth=%d %s--size=%llu --runtime=%d "
             "--time_based --norandommap --randrepeat=0 --lat_percentiles=1 --cpus_allowed=%d "
             "--output-format=json 2>/dev/null",
             s->path, qd, batch, (unsigned long long)(s->pages * PAGE_BYTES), secs, s->cpu);
    FILE *fp = popen(cmd, "r");
    if (fp == NULL)
        return -errno;
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap + 1);
    size_t n;
    while (out != NULL && (n = fread(out + len, 1, cap - len, fp)) > 0)
        len += n;
    int st = pclose(fp);
    if (out == NULL)
        return -ENOMEM;
    out[len] = '\0';
    const char *read = strstr(out, "\"read\" :");
    const char *lat = read ? strstr(read, "\"lat_ns\" :") : NULL;
    const char *pct = lat ? strstr(lat, "\"percentile\" :") : NULL;
    double ios = json_after(read, "\"total_ios\"");
    double runtime_ms = json_after(out, "\"job_runtime\"");
    double cpu_pct = json_after(out, "\"usr_cpu\"") + json_after(out, "\"sys_cpu\"");
    m->iops = json_after(read, "\"iops\"");
    m->p50_us = json_after(pct, "\"50.000000\"") / 1e3;
    m->p99_us = json_after(pct, "\"99.000000\"") / 1e3;
    m->cpu_ns = cpu_pct / 100.0 * runtime_ms * 1e6 / ios;
    free(out);
    return st == 0 && !isnan(m->iops) ? 0 : -EIO;
}

static int run_fio(struct setup *s, int qd, double seconds, struct measure *m)
{
    return fio_run(s, qd, seconds, false, m);
}

static int run_fio_batched(struct setup *s, int qd, double seconds, struct measure *m)
{
    return fio_run(s, qd, seconds, true, m);
}

/* ---- Driver --------------------------------------------------------------- */

typedef int (*run_fn)(struct setup *s, int qd, double seconds, struct measure *m);

/* Field-by-field medians of n measurements. */
static void median_measure(struct measure *m, int n, struct measure *out)
{
    double v[4][MAX_RUNS];
    for (int i = 0; i < n; i++) {
        v[0][i] = m[i].iops;
        v[1][i] = m[i].p50_us;
        v[2][i] = m[i].p99_us;
        v[3][i] = m[i].cpu_ns;
    }
    out->iops = bench_median(v[0], n);
    out->p50_us = bench_median(v[1], n);
    out->p99_us = bench_median(v[2], n);
    out->cpu_ns = bench_median(v[3], n);
}

/* R_FIO2 is fio again, in its own slot of each round: the spread of fio
 * against itself is the noise that any ratio to fio here carries. R_FIOB
 * is fio batched (fio_run), run at depths above 1 only: at depth 1 its
 * command is the plain one. */
enum { R_PAGER, R_ENGINE, R_PREAD, R_FIO, R_FIO2, R_FIOB, R_KINDS };

struct depth_result {
    struct measure med[R_KINDS]; /* medians over rounds */
    double paired[MAX_RUNS];     /* pager / fio IOPS, per round */
    double self_iops[MAX_RUNS];  /* second fio / first fio, per round */
    double self_cpu[MAX_RUNS];
    bool fio_failed;
};

/*
 * runs rounds of the pager, the engine alone, pread, fio (twice) and fio
 * batched at depth qd, interleaved so that a load change on the machine
 * during the run hits all alike, then the median of each. Each round
 * starts one reader later than the one before (pager, engine, pread, fio,
 * fio, fio batched; then engine, pread, ..., pager; ...): in a fixed
 * order the pager always ran first, just after fio exited and 128 pread
 * threads had, and a slot that is always the same one can be always
 * better or worse. A failed fio run leaves NANs.
 */
static int measure_depth(struct setup *s, int qd, int runs, bool fio, struct depth_result *out)
{
    static const run_fn fns[R_KINDS] = {run_regio, run_engine, run_pread,
                                        run_fio,   run_fio,    run_fio_batched};
    struct measure m[R_KINDS][MAX_RUNS];
    out->fio_failed = false;
    for (int i = 0; i < runs; i++) {
        for (int j = 0; j < R_KINDS; j++) {
            int k = (j + i) % R_KINDS;
            bool is_fio = k == R_FIO || k == R_FIO2 || k == R_FIOB;
            m[k][i] = (struct measure){NAN, NAN, NAN, NAN};
            if ((is_fio && (!fio || out->fio_failed)) || (k == R_FIOB && qd == 1))
                continue;
            int rc = fns[k](s, qd, s->ctx->seconds, &m[k][i]);
            if (rc != 0 && is_fio)
                out->fio_failed = true;
            else if (rc != 0)
                return rc;
        }
    }
    /* Ratios within each round: the readers ran seconds apart, so a device
     * that drifts between rounds affects both alike. */
    bool have = fio && !out->fio_failed;
    for (int i = 0; i < runs; i++) {
        out->paired[i] = have ? m[R_PAGER][i].iops / m[R_FIO][i].iops : NAN;
        out->self_iops[i] = have ? m[R_FIO2][i].iops / m[R_FIO][i].iops : NAN;
        out->self_cpu[i] = have ? m[R_FIO2][i].cpu_ns / m[R_FIO][i].cpu_ns : NAN;
    }
    for (int k = 0; k < R_KINDS; k++)
        median_measure(m[k], runs, &out->med[k]);
    if (!have)
        out->med[R_FIO] = out->med[R_FIO2] = out->med[R_FIOB] =
            (struct measure){NAN, NAN, NAN, NAN};
    return 0;
}

/* "a-b (median m)" of v[0..n) into buf; sorts v. */
static void spread(char *buf, size_t cap, double *v, int n)
{
    double med = bench_median(v, n); /* sorts */
    snprintf(buf, cap, "%.2f-%.2f (median %.2f)", v[0], v[n - 1], med);
}

/* The per-round notes: pager over fio, and fio over itself (sorts the
 * per-round arrays). */
static void round_notes(const struct bench_ctx *ctx, int qd, int runs, struct depth_result *d)
{
    char list[MAX_RUNS * 8] = "";
    for (int k = 0; k < runs; k++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), " %.2f", d->paired[k]);
    bench_note(ctx, "pager: qd%d regio/fio IOPS in each round:%s (median %.2fx)", qd, list,
               bench_median(d->paired, runs));
    char iops[64], cpu[64];
    spread(iops, sizeof(iops), d->self_iops, runs);
    spread(cpu, sizeof(cpu), d->self_cpu, runs);
    bench_note(ctx,
               "pager: qd%d fio against itself (a second fio run in each round, second/first): "
               "IOPS %s, CPU per read %s; a ratio to fio this close to 1 is noise",
               qd, iops, cpu);
}

/* what names the reader measured: "" for the pager, "engine " for it. */
static void rows(const struct bench_ctx *ctx, int qd, const char *what, const struct measure *r,
                 const char *base, const struct measure *b, const char *note)
{
    char name[64];
    snprintf(name, sizeof(name), "qd%d %sIOPS", qd, what);
    bench_row(ctx, "pager", name, "IOPS", true, r->iops, base, b->iops, note);
    snprintf(name, sizeof(name), "qd%d %sp50 latency", qd, what);
    bench_row(ctx, "pager", name, "us", false, r->p50_us, base, b->p50_us, note);
    snprintf(name, sizeof(name), "qd%d %sp99 latency", qd, what);
    bench_row(ctx, "pager", name, "us", false, r->p99_us, base, b->p99_us, note);
    snprintf(name, sizeof(name), "qd%d %sCPU per read", qd, what);
    bench_row(ctx, "pager", name, "ns/read", false, r->cpu_ns, base, b->cpu_ns, note);
}

static int bench_pager(const struct bench_ctx *ctx)
{
    struct setup s;
    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    /* REGIO_BENCH_CPU chooses the CPU; by default, or when it names one
     * this process may not run on, the one the bench starts on. */
    const char *cpu_env = getenv("REGIO_BENCH_CPU");
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    s.cpu = cpu_env != NULL ? atoi(cpu_env) : -1;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || s.cpu < 0 || s.cpu >= CPU_SETSIZE ||
        !CPU_ISSET(s.cpu, &allowed)) {
        if (cpu_env != NULL)
            bench_note(ctx, "pager: REGIO_BENCH_CPU=%s is not a CPU this process may use", cpu_env);
        int here = sched_getcpu();
        s.cpu = here < 0 ? 0 : here;
    }
    int rc = setup_open(&s);
    if (rc != 0) {
        bench_note(ctx, "pager: setup failed: %s %s", regio_strerror(rc), regio_error_detail());
        setup_close(&s);
        return rc;
    }
    struct regio_engine_stats st;
    regio_engine_stats(s.e, &st);
    /* 3 rounds by default; REGIO_BENCH_PAGER_RUNS (1-9) asks for more
     * where the device is noisy and the ratio must be decided. */
    const char *env = getenv("REGIO_BENCH_PAGER_RUNS");
    int runs = ctx->quick ? 1 : 3;
    if (!ctx->quick && env != NULL && atoi(env) >= 1 && atoi(env) <= MAX_RUNS)
        runs = atoi(env);
    bench_note(ctx,
               "pager: %llu pages of 4 KiB in %s, ring flags 0x%x, median of %d runs, regio and "
               "fio pinned to CPU %d, checksums through %s",
               (unsigned long long)s.pages, s.path, st.setup_flags, runs, s.cpu,
               regio_checksum_impl());
    bool fio = have_fio();
    static const int depths[] = {1, 32, 128};
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        int qd = depths[i];
        struct depth_result d;
        rc = measure_depth(&s, qd, runs, fio, &d);
        if (rc != 0)
            break;
        if (fio && !d.fio_failed)
            round_notes(ctx, qd, runs, &d);
        const struct measure *m = d.med;
        const char *fio_note = !fio ? "fio not installed" : d.fio_failed ? "fio run failed" : NULL;
        rows(ctx, qd, "", &m[R_PAGER], "fio io_uring", &m[R_FIO], fio_note);
        rows(ctx, qd, "", &m[R_PAGER], "pread threads", &m[R_PREAD], NULL);
        rows(ctx, qd, "engine ", &m[R_ENGINE], "fio io_uring", &m[R_FIO], fio_note);
        if (qd > 1) {
            rows(ctx, qd, "", &m[R_PAGER], "fio batched", &m[R_FIOB], fio_note);
            rows(ctx, qd, "engine ", &m[R_ENGINE], "fio batched", &m[R_FIOB], fio_note);
        }
        bench_note(ctx,
                   "pager: qd%d CPU per read, pager %.0f ns, engine without the page check %.0f "
                   "ns, difference %.0f ns (the medians of rounds; noise can make it negative)",
                   qd, m[R_PAGER].cpu_ns, m[R_ENGINE].cpu_ns,
                   m[R_PAGER].cpu_ns - m[R_ENGINE].cpu_ns);
    }
    setup_close(&s);
    return rc;
}

BENCH_REGISTER("pager",
               "random 4 KiB page reads at qd 1/32/128 (pager, and engine without the check) vs "
               "fio io_uring (plain and batched) and pread threads",
               bench_pager)
