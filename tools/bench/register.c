/*
 * tools/bench/register.c: "register", the cost of making memory usable for
 * fixed-buffer I/O, and of undoing it.
 *
 * regio: create an arena (hugetlb when enough pages are reserved, THP
 * otherwise) and register it with a ring (a handful of iovecs, at most
 * 1 GiB each); then unregister it; and the clone of a registration into a
 * second ring (regio_arena_register_ring on a ring while another holds the
 * arena clones, IORING_REGISTER_CLONE_BUFFERS, kernel 6.12+), per GiB.
 *
 * The primary baseline is the same kind of memory mapped by hand (hugetlb,
 * or anonymous memory with MADV_HUGEPAGE, faulted in) and registered as one
 * iovec per GiB with io_uring_register_buffers; its unregister and its clone
 * by the raw syscall are the rows beside regio's. The naive approach, the
 * same bytes as 64 KiB buffers of small pages (16,384 iovecs per GiB, the
 * kernel's limit per table), is kept as a labelled row: it measures what
 * page size and iovec count cost, not regio. Create + register includes
 * faulting the memory in on both sides (registration pins every page).
 * One round runs every measurement once, regio and baselines alternating
 * first; the thread is pinned to the bench's CPU.
 */
#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "regio.h"

#define SEPARATE_BUF_BYTES (64u * 1024u)
#define GIB                ((size_t)1 << 30)

/* IORING_REGISTER_CLONE_BUFFERS: newer than Debian 12's uapi headers. */
#define CLONE_BUFFERS_OP 30
struct clone_buffers_arg {
    uint32_t src_fd, flags, src_off, dst_off, nr, pad[3];
};

/* One round's figures of one side, in ms (NAN: not measured). */
struct reg_times {
    double create_reg, reg, unreg, clone;
    double cpu_create_reg, cpu_reg, cpu_unreg, cpu_clone; /* ms of CPU */
};

/* CPU time of this thread: the calls below run on it, synchronously, and
 * the process clock's resolution is too coarse for a 0.1 ms call. */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long hugetlb_free_pages(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return 0;
    char line[256];
    long v = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* Before every trial: ask the kernel to compact free memory, so that each
 * side finds free huge pages the same way. Without it the side that ran
 * right after another one's 1 GiB of huge pages was freed got them ready,
 * and the side that ran after the naive row's small pages paid for direct
 * compaction (regio's THP arena measured 8x the CPU of the same mapping
 * by hand for that alone). Needs root; without it, a note says so. */
static bool compact_memory(void)
{
    FILE *f = fopen("/proc/sys/vm/compact_memory", "w");
    if (f == NULL)
        return false;
    bool ok = fputs("1", f) >= 0;
    return fclose(f) == 0 && ok;
}

static double ms_since(int64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e6;
}

static int time_regio(size_t bytes, enum regio_pages pages, bool strict,
                      struct regio_arena_stats *st, struct reg_times *t)
{
    struct io_uring r1, r2;
    int err = io_uring_queue_init(8, &r1, 0);
    if (err < 0)
        return err;
    err = io_uring_queue_init(8, &r2, 0);
    if (err < 0) {
        io_uring_queue_exit(&r1);
        return err;
    }
    struct regio_arena_opts o = {.size_bytes = bytes, .pages = pages, .pages_strict = strict};
    struct regio_arena *a = NULL;
    struct bench_clock c;
    bench_clock_start(&c);
    err = regio_arena_create(&o, &a);
    int64_t tr = bench_now_ns(), cr = thread_cpu_ns();
    if (err == 0)
        err = regio_arena_register_ring(a, r1.ring_fd);
    int64_t cpu;
    t->create_reg = (double)bench_clock_stop(&c, &cpu) / 1e6;
    t->cpu_create_reg = (double)cpu / 1e6;
    t->reg = ms_since(tr);
    t->cpu_reg = (double)(thread_cpu_ns() - cr) / 1e6;
    if (err == 0) {
        int64_t t0 = bench_now_ns(), c0 = thread_cpu_ns();
        err = regio_arena_register_ring(a, r2.ring_fd);
        t->clone = ms_since(t0) * (double)GIB / (double)bytes;
        t->cpu_clone = (double)(thread_cpu_ns() - c0) / 1e6 * (double)GIB / (double)bytes;
        regio_arena_stats(a, st);
        if (err == 0 && st->clones == 0)
            t->clone = NAN; /* the kernel could not clone: a second pin, not a clone */
        if (err == 0)
            regio_arena_unregister_ring(a, r2.ring_fd);
        t0 = bench_now_ns();
        c0 = thread_cpu_ns();
        int e2 = regio_arena_unregister_ring(a, r1.ring_fd);
        t->unreg = ms_since(t0);
        t->cpu_unreg = (double)(thread_cpu_ns() - c0) / 1e6;
        err = err != 0 ? err : e2;
    }
    if (a != NULL)
        regio_arena_destroy(a);
    io_uring_queue_exit(&r2);
    io_uring_queue_exit(&r1);
    return err;
}

/* The same kind of memory by hand: hugetlb, or THP asked for and faulted. */
static void *map_like(size_t bytes, enum regio_pages got)
{
    bool huge = got == REGIO_PAGES_HUGE_2M;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0);
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (got == REGIO_PAGES_THP)
        madvise(m, bytes, MADV_HUGEPAGE);
    for (size_t off = 0; off < bytes; off += 4096)
        ((volatile char *)m)[off] = 0;
    return m;
}

static int time_one_iovec(size_t bytes, enum regio_pages got, struct reg_times *t)
{
    struct io_uring r1, r2;
    int err = io_uring_queue_init(8, &r1, 0);
    if (err < 0)
        return err;
    err = io_uring_queue_init(8, &r2, 0);
    if (err < 0) {
        io_uring_queue_exit(&r1);
        return err;
    }
    struct bench_clock c;
    bench_clock_start(&c);
    void *m = map_like(bytes, got);
    int64_t tr = bench_now_ns(), cr = thread_cpu_ns();
    unsigned n = (unsigned)((bytes + GIB - 1) / GIB);
    struct iovec iov[16];
    for (unsigned i = 0; i < n; i++) {
        iov[i].iov_base = (char *)m + (size_t)i * GIB;
        iov[i].iov_len = bytes - (size_t)i * GIB < GIB ? bytes - (size_t)i * GIB : GIB;
    }
    err = m == NULL ? -ENOMEM : io_uring_register_buffers(&r1, iov, n);
    int64_t cpu;
    t->create_reg = (double)bench_clock_stop(&c, &cpu) / 1e6;
    t->cpu_create_reg = (double)cpu / 1e6;
    t->reg = ms_since(tr);
    t->cpu_reg = (double)(thread_cpu_ns() - cr) / 1e6;
    if (err == 0) {
        struct clone_buffers_arg arg = {.src_fd = (uint32_t)r1.ring_fd};
        int64_t t0 = bench_now_ns(), c0 = thread_cpu_ns();
        long rc = syscall(__NR_io_uring_register, r2.ring_fd, CLONE_BUFFERS_OP, &arg, 1);
        t->clone = rc == 0 ? ms_since(t0) * (double)GIB / (double)bytes : NAN;
        t->cpu_clone = (double)(thread_cpu_ns() - c0) / 1e6 * (double)GIB / (double)bytes;
        if (rc == 0)
            io_uring_unregister_buffers(&r2);
        t0 = bench_now_ns();
        c0 = thread_cpu_ns();
        err = io_uring_unregister_buffers(&r1);
        t->unreg = ms_since(t0);
        t->cpu_unreg = (double)(thread_cpu_ns() - c0) / 1e6;
    }
    if (m != NULL)
        munmap(m, bytes);
    io_uring_queue_exit(&r2);
    io_uring_queue_exit(&r1);
    return err;
}

/* The naive approach: n separate 64 KiB buffers of small pages. */
static int time_separate(size_t bytes, struct iovec *iov, struct reg_times *t)
{
    struct io_uring ring;
    int err = io_uring_queue_init(8, &ring, 0);
    if (err < 0)
        return err;
    unsigned n = (unsigned)(bytes / SEPARATE_BUF_BYTES);
    struct bench_clock c;
    bench_clock_start(&c);
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        err = -errno;
    } else {
        madvise(m, bytes, MADV_NOHUGEPAGE);
        for (unsigned i = 0; i < n; i++) {
            iov[i].iov_base = (char *)m + (size_t)i * SEPARATE_BUF_BYTES;
            iov[i].iov_len = SEPARATE_BUF_BYTES;
        }
        err = io_uring_register_buffers(&ring, iov, n);
    }
    int64_t cpu;
    t->create_reg = (double)bench_clock_stop(&c, &cpu) / 1e6;
    t->cpu_create_reg = (double)cpu / 1e6;
    if (err == 0)
        io_uring_unregister_buffers(&ring);
    if (m != MAP_FAILED)
        munmap(m, bytes);
    io_uring_queue_exit(&ring);
    return err;
}

static struct bench_trial tr(double ms, double cpu_ms)
{
    return (struct bench_trial){ms, cpu_ms * 1e6};
}

static int compare_kind(const struct bench_ctx *ctx, size_t bytes, struct iovec *iov,
                        enum regio_pages pages, bool strict)
{
    enum { P_CREATE, P_NAIVE, P_REG, P_UNREG, P_CLONE, P_KINDS };
    static struct bench_pair p[P_KINDS];
    memset(p, 0, sizeof(p));
    struct regio_arena_stats st = {0};
    cpu_set_t old;
    bool pinned = bench_pin(ctx->cpu, &old);
    bool compacted = true;
    int err = 0;
    for (int round = 0; err == 0 && (bench_pair_more(ctx, &p[P_CREATE], false) ||
                                     bench_pairs_short(ctx, p, P_KINDS));
         round++) {
        struct reg_times r = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN}, one = r, naive = r;
        for (int j = 0; err == 0 && j < 3; j++) {
            int k = (j + round) % 3;
            if (pages == REGIO_PAGES_THP) /* hugetlb comes from its reserved pool */
                compacted = compact_memory() && compacted;
            if (k == 0)
                err = time_regio(bytes, pages, strict, &st, &r);
            else if (k == 1)
                err = time_one_iovec(bytes, st.pages ? st.pages : pages, &one);
            else
                err = time_separate(bytes, iov, &naive);
        }
        if (err != 0)
            break;
        bench_pair_add(&p[P_CREATE], tr(r.create_reg, r.cpu_create_reg),
                       tr(one.create_reg, one.cpu_create_reg));
        bench_pair_add(&p[P_NAIVE], tr(r.create_reg, r.cpu_create_reg),
                       tr(naive.create_reg, naive.cpu_create_reg));
        bench_pair_add(&p[P_REG], tr(r.reg, r.cpu_reg), tr(one.reg, one.cpu_reg));
        bench_pair_add(&p[P_UNREG], tr(r.unreg, r.cpu_unreg), tr(one.unreg, one.cpu_unreg));
        bench_pair_add(&p[P_CLONE], tr(r.clone, r.cpu_clone), tr(one.clone, one.cpu_clone));
    }
    if (pinned)
        bench_unpin(&old);
    if (err != 0) {
        bench_note(ctx, "register: %s failed: %s %s", regio_pages_name(pages), regio_strerror(err),
                   regio_error_detail());
        return err;
    }
    char name[96], base[96], note[REGIO_ARENA_REASON_BYTES + 160];
    const char *kind = regio_pages_name(st.pages);
    snprintf(note, sizeof(note), "asked %s%s, got %s (kernel page %zu KiB, THP %zu MiB%s%s)%s",
             regio_pages_name(pages), strict ? " strictly" : "", kind, st.kernel_page_bytes >> 10,
             st.anon_huge_bytes >> 20, st.fallback_reason[0] ? "; fallback: " : "",
             st.fallback_reason,
             pages != REGIO_PAGES_THP ? ""
             : compacted              ? "; memory compacted before each trial"
                                      : "; memory NOT compacted before each trial (not root)");
    snprintf(name, sizeof(name), "create+register %zu MiB (%s)", bytes >> 20, kind);
    snprintf(base, sizeof(base), "same memory, 1 iovec/GiB");
    bench_pair_row(ctx, "register", name, "ms", false, &p[P_CREATE], base, note);
    bench_pair_row(ctx, "register", name, "ms", false, &p[P_NAIVE],
                   "naive: 64 KiB iovecs of 4 KiB pages", "the approach regio replaces");
    snprintf(name, sizeof(name), "register only %zu MiB (%s)", bytes >> 20, kind);
    bench_pair_row(ctx, "register", name, "ms", false, &p[P_REG], base,
                   "memory already faulted in: pinning and the buffer table");
    snprintf(name, sizeof(name), "unregister %zu MiB (%s)", bytes >> 20, kind);
    bench_pair_row(ctx, "register", name, "ms", false, &p[P_UNREG], base, "unpin");
    snprintf(name, sizeof(name), "clone into a 2nd ring (%s)", kind);
    bench_pair_row(ctx, "register", name, "ms per GiB", false, &p[P_CLONE],
                   "raw IORING_REGISTER_CLONE_BUFFERS",
                   "n/a when the kernel cannot clone (before 6.12)");
    return 0;
}

static int bench_register_fn(const struct bench_ctx *ctx)
{
    /* --quick: 64 MiB, enough to see the shape in a test. */
    size_t bytes = ctx->quick ? ((size_t)64 << 20) : GIB;
    struct iovec *iov = calloc(bytes / SEPARATE_BUF_BYTES, sizeof(*iov));
    if (iov == NULL)
        return -ENOMEM;
    long huge_needed = (long)(bytes >> 21);
    long huge_free = hugetlb_free_pages();
    int err = 0;
    if (huge_free >= huge_needed) {
        err = compare_kind(ctx, bytes, iov, REGIO_PAGES_HUGE_2M, true);
        /* Another process may take the free pages between the count and the
         * mapping; that leaves the hugetlb rows out, it is no failed run. */
        if (err == -ENOMEM) {
            bench_note(ctx, "register: hugetlb rows left out: the free pages were taken meanwhile");
            err = 0;
        }
    } else {
        bench_note(ctx,
                   "register: hugetlb skipped: %ld free 2 MiB pages, %ld needed "
                   "(reserve with: echo %ld > /proc/sys/vm/nr_hugepages)",
                   huge_free, huge_needed, huge_needed);
    }
    if (err == 0)
        err = compare_kind(ctx, bytes, iov, REGIO_PAGES_THP, false);
    free(iov);
    return err;
}

BENCH_REGISTER("register",
               "create, register, unregister and clone an arena vs the same memory registered "
               "by hand (one iovec per GiB) and vs 64 KiB iovecs",
               bench_register_fn)
