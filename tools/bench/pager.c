/*
 * tools/bench/pager.c: "pager", random 4 KiB page reads over one file.
 *
 * regio: regio_pager_read (READ_FIXED from a registered buffer, checksum
 * verified on completion) keeping qd reads in flight, each completion
 * queueing the next, reaped at least qd/4 at a time (regio_engine_wait's
 * min_complete, fio batched's --iodepth_batch_complete_min). The primary
 * baseline, on the same file in the same round, is fio's io_uring engine
 * tuned: fixed buffers, registered files, whole-depth submits and reaps of
 * at least a quarter of the depth
 * (--iodepth_batch_submit/complete_min/complete_max), so that it enters the
 * kernel about as rarely as regio does. fio with its defaults (one enter per
 * read) and qd threads of O_DIRECT pread are secondary rows. fio 3.33 has
 * no registered ring fd option, and regio has no polled or SQPOLL mode, so
 * fio runs without them. Both sides run the same length after the same
 * 0.2 s warm-up (fio's --runtime and --ramp_time in milliseconds).
 *
 * A further reader, "regio engine", does the same reads through
 * regio_file_read on the same engine without the page check. fio never
 * looks at the bytes it reads and the pager must hash every one of them;
 * the engine row is what regio's I/O path costs beside fio's, and pager
 * minus engine is what the check costs. CPU per read is process CPU time
 * (user + system) over reads; fio's comes from its usr_cpu/sys_cpu over its
 * runtime. Every row is paired rounds (stats.c).
 *
 * The file is 1 GiB (64 MiB with --quick), read with O_DIRECT on every
 * side, so the host's page cache plays no part whatever the memory size;
 * what the device is (and whether a virtual disk is cached by its host) is
 * in the output's device record.
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
#define MAX_RUNS    BENCH_MAX_ROUNDS
#define WARMUP_NS   200000000 /* 0.2 s, fio's --ramp_time too */

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
    for (int i = 0; i < qd && rc == 0; i++)
        rc = regio_issue(&slots[i]);
    /* Reap at least a quarter of the depth per wait, as fio batched does
     * (--iodepth_batch_complete_min): one io_uring_enter per batch. */
    unsigned batch = qd / 4 > 0 ? (unsigned)qd / 4 : 1;
    /* The same warm-up as fio's --ramp_time: reads run, nothing counted. */
    int64_t warm_end = bench_now_ns() + WARMUP_NS;
    while (rc == 0 && bench_now_ns() < warm_end) {
        int n = regio_engine_wait(s->e, batch, -1);
        if (n < 0)
            rc = n;
    }
    r.reads = 0;
    r.lat.n = 0;
    int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
    int64_t end = t0 + (int64_t)(seconds * 1e9);
    while (rc == 0 && bench_now_ns() < end) {
        int n = regio_engine_wait(s->e, batch, -1);
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
    char cmd[1024], batch[160] = "";
    if (batched)
        snprintf(batch, sizeof(batch),
                 "--iodepth_batch_submit=%d --iodepth_batch_complete_min=%d "
                 "--iodepth_batch_complete_max=%d ",
                 qd, qd / 4 > 0 ? qd / 4 : 1, qd);
    /* Run length and warm-up in milliseconds, equal to regio's. */
    snprintf(cmd, sizeof(cmd),
             "fio --name=pager --filename=%s --ioengine=io_uring --fixedbufs --registerfiles "
             "--direct=1 --rw=randread --bs=4k --iodepth=%d %s--size=%llu --runtime=%dms "
             "--ramp_time=%dms --time_based --norandommap --randrepeat=0 --lat_percentiles=1 "
             "--cpus_allowed=%d --output-format=json 2>/dev/null",
             s->path, qd, batch, (unsigned long long)(s->pages * PAGE_BYTES),
             (int)(seconds * 1000 + 0.5), WARMUP_NS / 1000000, s->cpu);
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

/* ---- The page check alone -------------------------------------------------
 *
 * fio never looks at the bytes it reads; the pager hashes every one. These
 * rows isolate that cost in the same run: regio_pager_verify_image (XXH3-64
 * over the page, the check the pager runs on every read) against one pass
 * that only loads the page's words, on pages in the cache and on pages from
 * memory (a buffer larger than the cache, walked once a pass, as pages fresh
 * from DMA are). The baseline is not a competitor: it is what touching the
 * page costs without hashing it, so regio's figure minus it is the hash's
 * computation and the baseline is the memory traffic any reader of the page
 * pays. report.py sets the figures beside the pager's and fio's CPU per
 * read.
 */
#define CHECK_HOT_PAGES 8

struct check_set {
    uint8_t *pages; /* valid images of pages 0..n-1, read from the bench file */
    uint64_t n;
    uint64_t sink; /* keeps the word sums alive */
};

static int check_set_load(struct setup *s, struct check_set *c)
{
    uint64_t bytes = (s->ctx->quick ? 16ull : 256ull) << 20;
    if (bytes > s->pages * PAGE_BYTES)
        bytes = s->pages * PAGE_BYTES;
    c->n = bytes / PAGE_BYTES;
    c->pages = aligned_alloc(PAGE_BYTES, bytes);
    if (c->pages == NULL)
        return -ENOMEM;
    int fd = open(s->path, O_RDONLY);
    if (fd < 0)
        return -errno;
    ssize_t got = pread(fd, c->pages, bytes, 0);
    int rc = got == (ssize_t)bytes ? 0 : got < 0 ? -errno : -EIO;
    close(fd);
    for (uint64_t i = 0; rc == 0 && i < c->n; i++)
        rc = regio_pager_verify_image(c->pages + i * PAGE_BYTES, PAGE_BYTES, i) == 0 ? 0 : -EIO;
    return rc;
}

static uint64_t page_words(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    uint64_t sum = 0;
    for (size_t i = 0; i < PAGE_BYTES / 8; i++)
        sum += w[i];
    return sum;
}

/* CPU ns per page over about `seconds`: verify (or load the words of) page
 * i % span, span = CHECK_HOT_PAGES (in cache) or the whole set (memory). */
static struct bench_trial check_trial(struct check_set *c, bool hot, bool verify, double seconds)
{
    uint64_t span = hot ? CHECK_HOT_PAGES : c->n, done = 0;
    int bad = 0;
    struct bench_clock clk;
    bench_clock_start(&clk);
    int64_t end = clk.wall_ns + (int64_t)(seconds * 1e9);
    while (bench_now_ns() < end) {
        for (uint64_t k = 0; k < span; k++, done++) {
            uint64_t i = (done * 7919) % span; /* not sequential: no stream prefetch */
            const uint8_t *pg = c->pages + i * PAGE_BYTES;
            if (verify)
                bad |= regio_pager_verify_image(pg, PAGE_BYTES, i);
            else
                c->sink += page_words(pg);
        }
    }
    int64_t cpu;
    bench_clock_stop(&clk, &cpu);
    double ns = bench_per_op(cpu, (double)done);
    return (struct bench_trial){bad ? NAN : ns, ns};
}

static int bench_check(struct setup *s)
{
    struct check_set c = {0};
    int rc = check_set_load(s, &c);
    cpu_set_t old;
    bool pinned = rc == 0 && pin_self(s->cpu, &old);
    static struct bench_pair pairs[2];
    memset(pairs, 0, sizeof(pairs));
    double secs = s->ctx->seconds / 2;
    for (int round = 0; rc == 0 && bench_pair_more(s->ctx, &pairs[1], false); round++) {
        for (int hot = 0; hot < 2; hot++) {
            struct bench_trial v, b;
            if (round % 2) {
                b = check_trial(&c, hot, false, secs);
                v = check_trial(&c, hot, true, secs);
            } else {
                v = check_trial(&c, hot, true, secs);
                b = check_trial(&c, hot, false, secs);
            }
            bench_pair_add(&pairs[hot], v, b);
        }
    }
    if (pinned)
        pthread_setaffinity_np(pthread_self(), sizeof(old), &old);
    char note[160];
    snprintf(note, sizeof(note),
             "%llu pages of 4 KiB read from the bench file, %s; CPU time per page; checksums "
             "through %s",
             (unsigned long long)c.n, "verified once a pass in a scattered order",
             regio_checksum_impl());
    if (rc == 0) {
        bench_pair_row(s->ctx, "pager", "page check (verify_image), page from memory", "ns/page",
                       false, &pairs[0], "load the page's words, no hash", note);
        bench_pair_row(s->ctx, "pager", "page check (verify_image), page in cache", "ns/page",
                       false, &pairs[1], "load the page's words, no hash", note);
    }
    free(c.pages);
    return rc;
}

/* ---- Driver --------------------------------------------------------------- */

typedef int (*run_fn)(struct setup *s, int qd, double seconds, struct measure *m);

enum { R_PAGER, R_ENGINE, R_PREAD, R_FIO, R_FIOB, R_KINDS };

/* The rows of one depth, each a pair of regio's reader and a baseline. */
enum {
    P_IOPS,     /* pager vs fio batched */
    P_P50,      /* pager vs fio batched */
    P_P99,      /* pager vs fio batched */
    P_CPU,      /* pager vs fio batched, CPU per read as the figure */
    P_FIO_IOPS, /* pager vs fio plain */
    P_PREAD,    /* pager vs pread threads */
    P_ENG_IOPS, /* engine vs fio batched */
    P_ENG_CPU,  /* engine vs fio batched, CPU per read */
    P_KINDS
};

static struct bench_trial tv(double value, double cpu_ns)
{
    return (struct bench_trial){value, cpu_ns};
}

/*
 * Rounds of the pager, the engine alone, pread, fio and fio batched at
 * depth qd, each round starting one reader later than the one before (in a
 * fixed order the pager always ran just after fio had exited and 128 pread
 * threads had, and a slot that is always the same one can be always better
 * or worse), until bench_pair_more is satisfied. A failed fio run leaves
 * NANs, and the rows say so.
 */
static int measure_depth(struct setup *s, int qd, bool fio, struct bench_pair *p, bool *fio_failed)
{
    static const run_fn fns[R_KINDS] = {run_regio, run_engine, run_pread, run_fio, run_fio_batched};
    memset(p, 0, sizeof(*p) * P_KINDS);
    *fio_failed = false;
    for (int i = 0;
         bench_pair_more(s->ctx, &p[P_IOPS], true) || bench_pairs_short(s->ctx, p, P_KINDS); i++) {
        struct measure m[R_KINDS];
        for (int j = 0; j < R_KINDS; j++) {
            int k = (j + i) % R_KINDS;
            bool is_fio = k == R_FIO || k == R_FIOB;
            m[k] = (struct measure){NAN, NAN, NAN, NAN};
            if (is_fio && (!fio || *fio_failed))
                continue;
            int rc = fns[k](s, qd, s->ctx->seconds, &m[k]);
            if (rc != 0 && is_fio)
                *fio_failed = true;
            else if (rc != 0)
                return rc;
        }
        const struct measure *g = &m[R_PAGER], *e = &m[R_ENGINE], *b = &m[R_FIOB];
        bench_pair_add(&p[P_IOPS], tv(g->iops, g->cpu_ns), tv(b->iops, b->cpu_ns));
        bench_pair_add(&p[P_P50], tv(g->p50_us, g->cpu_ns), tv(b->p50_us, b->cpu_ns));
        bench_pair_add(&p[P_P99], tv(g->p99_us, g->cpu_ns), tv(b->p99_us, b->cpu_ns));
        bench_pair_add(&p[P_CPU], tv(g->cpu_ns, g->cpu_ns), tv(b->cpu_ns, b->cpu_ns));
        bench_pair_add(&p[P_FIO_IOPS], tv(g->iops, g->cpu_ns), tv(m[R_FIO].iops, m[R_FIO].cpu_ns));
        bench_pair_add(&p[P_PREAD], tv(g->iops, g->cpu_ns), tv(m[R_PREAD].iops, m[R_PREAD].cpu_ns));
        bench_pair_add(&p[P_ENG_IOPS], tv(e->iops, e->cpu_ns), tv(b->iops, b->cpu_ns));
        bench_pair_add(&p[P_ENG_CPU], tv(e->cpu_ns, e->cpu_ns), tv(b->cpu_ns, b->cpu_ns));
    }
    return 0;
}

static void depth_rows(const struct bench_ctx *ctx, int qd, const struct bench_pair *p,
                       const char *fio_note)
{
    static const struct {
        const char *what, *metric, *base;
        bool higher;
    } r[P_KINDS] = {
        {"IOPS", "IOPS", "fio batched", true},
        {"p50 latency", "us", "fio batched", false},
        {"p99 latency", "us", "fio batched", false},
        {"CPU per read", "ns/read", "fio batched", false},
        {"IOPS", "IOPS", "fio io_uring", true},
        {"IOPS", "IOPS", "pread threads", true},
        {"engine IOPS", "IOPS", "fio batched", true},
        {"engine CPU per read", "ns/read", "fio batched", false},
    };
    for (int k = 0; k < P_KINDS; k++) {
        char name[64];
        snprintf(name, sizeof(name), "qd%d %s", qd, r[k].what);
        bench_pair_row(ctx, "pager", name, r[k].metric, r[k].higher, &p[k], r[k].base,
                       k == P_PREAD ? NULL : fio_note);
    }
}

static int bench_pager(const struct bench_ctx *ctx)
{
    struct setup s;
    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.cpu = ctx->cpu; /* REGIO_BENCH_CPU, or where the bench started (main.c) */
    int rc = setup_open(&s);
    if (rc != 0) {
        bench_note(ctx, "pager: setup failed: %s %s", regio_strerror(rc), regio_error_detail());
        setup_close(&s);
        return rc;
    }
    struct regio_engine_stats st;
    regio_engine_stats(s.e, &st);
    bench_note(ctx,
               "pager: %llu pages of 4 KiB in %s (O_DIRECT on every side, so the page cache "
               "plays no part; %.1f GiB of memory), ring flags 0x%x, regio and fio pinned to "
               "CPU %d, %.1f s a run after a %.1f s warm-up on both, checksums through %s; "
               "fio batched: whole-depth submits, reaps of a quarter of the depth at least "
               "(fio %s has no registered ring fd option; regio has no polled or SQPOLL mode, "
               "so neither fio runs with them)",
               (unsigned long long)s.pages, s.path,
               (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1u << 30),
               st.setup_flags, s.cpu, ctx->seconds, WARMUP_NS / 1e9, regio_checksum_impl(), "3.33");
    bool fio = have_fio();
    static const int depths[] = {1, 32, 128};
    static struct bench_pair pairs[P_KINDS];
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        int qd = depths[i];
        bool fio_failed;
        rc = measure_depth(&s, qd, fio, pairs, &fio_failed);
        if (rc != 0)
            break;
        const char *fio_note = !fio ? "fio not installed" : fio_failed ? "fio run failed" : NULL;
        depth_rows(ctx, qd, pairs, fio_note);
    }
    if (rc == 0) {
        rc = bench_check(&s);
        if (rc != 0)
            bench_note(ctx, "pager: page check rows: %s", regio_strerror(rc));
    }
    setup_close(&s);
    return rc;
}

BENCH_REGISTER("pager",
               "random 4 KiB page reads at qd 1/32/128 (pager, and engine without the check) vs "
               "fio io_uring (plain and batched) and pread threads",
               bench_pager)
