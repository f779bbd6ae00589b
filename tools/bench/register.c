/*
 * tools/bench/register.c: "register", the cost of making memory usable for
 * fixed-buffer I/O.
 *
 * regio: create an arena (hugetlb when enough pages are reserved, THP
 * otherwise) and register it with a ring: a handful of iovecs, at most
 * 1 GiB each. Baseline, in the same run: the same bytes as separate 64 KiB
 * buffers from a plain mmap, registered with io_uring_register_buffers (the
 * kernel takes at most IORING_MAX_REG_BUFFERS = 16384 per table, exactly a
 * 1 GiB arena's worth). Both timings include faulting the memory in, since
 * registration pins every page; teardown is not timed.
 */
#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "regio.h"

#define SEPARATE_BUF_BYTES (64u * 1024u)

struct reg_sizes {
    size_t total_bytes;
    unsigned buffers; /* total_bytes / SEPARATE_BUF_BYTES */
};

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

/* One regio measurement: ms to create + register (and, in *reg_ms, to
 * register alone), or NAN with *err_out set. The page kind obtained and the
 * reason for any fallback go to *st. */
static double time_regio(size_t bytes, enum regio_pages pages, bool strict,
                         struct regio_arena_stats *st, double *reg_ms, int *err_out)
{
    struct io_uring ring;
    int err = io_uring_queue_init(8, &ring, 0);
    if (err < 0) {
        *err_out = err;
        return NAN;
    }
    struct regio_arena_opts o = {.size_bytes = bytes, .pages = pages, .pages_strict = strict};
    struct regio_arena *a = NULL;
    int64_t t0 = bench_now_ns(), tc = t0;
    err = regio_arena_create(&o, &a);
    if (err == 0) {
        tc = bench_now_ns();
        err = regio_arena_register_ring(a, ring.ring_fd);
        if (err != 0) {
            regio_arena_destroy(a);
            a = NULL;
        }
    }
    int64_t t1 = bench_now_ns();
    *reg_ms = (double)(t1 - tc) / 1e6;
    if (err == 0) {
        regio_arena_stats(a, st);
        regio_arena_unregister_ring(a, ring.ring_fd);
        regio_arena_destroy(a);
    }
    io_uring_queue_exit(&ring);
    *err_out = err;
    return err == 0 ? (double)(t1 - t0) / 1e6 : NAN;
}

/* One baseline measurement: ms to mmap and register n separate buffers;
 * *reg_ms: registering them again once the memory is faulted in. */
static double time_separate(const struct reg_sizes *sz, struct iovec *iov, double *reg_ms,
                            int *err_out)
{
    struct io_uring ring;
    int err = io_uring_queue_init(8, &ring, 0);
    if (err < 0) {
        *err_out = err;
        return NAN;
    }
    int64_t t0 = bench_now_ns();
    void *m =
        mmap(NULL, sz->total_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        err = -errno;
    } else {
        for (unsigned i = 0; i < sz->buffers; i++) {
            iov[i].iov_base = (char *)m + (size_t)i * SEPARATE_BUF_BYTES;
            iov[i].iov_len = SEPARATE_BUF_BYTES;
        }
        err = io_uring_register_buffers(&ring, iov, sz->buffers);
    }
    int64_t t1 = bench_now_ns();
    if (err == 0) {
        io_uring_unregister_buffers(&ring);
        int64_t t2 = bench_now_ns();
        err = io_uring_register_buffers(&ring, iov, sz->buffers);
        *reg_ms = (double)(bench_now_ns() - t2) / 1e6;
        if (err == 0)
            io_uring_unregister_buffers(&ring);
    }
    if (m != MAP_FAILED)
        munmap(m, sz->total_bytes);
    io_uring_queue_exit(&ring);
    *err_out = err;
    return err == 0 ? (double)(t1 - t0) / 1e6 : NAN;
}

#define MAX_REPS 9

/*
 * Alternate regio and baseline runs (so that neither always runs on a
 * freshly reclaimed machine) until the time budget or MAX_REPS is spent;
 * report the medians.
 */
static int compare_kind(const struct bench_ctx *ctx, const struct reg_sizes *sz, struct iovec *iov,
                        enum regio_pages pages, bool strict)
{
    double r[MAX_REPS], b[MAX_REPS], rr[MAX_REPS], br[MAX_REPS];
    int n = 0, err = 0;
    struct regio_arena_stats st = {0};
    int64_t deadline = bench_now_ns() + (int64_t)(ctx->seconds * 1e9);
    while (n < MAX_REPS && (n < 3 || bench_now_ns() < deadline)) {
        r[n] = time_regio(sz->total_bytes, pages, strict, &st, &rr[n], &err);
        if (err != 0)
            break;
        b[n] = time_separate(sz, iov, &br[n], &err);
        if (err != 0)
            break;
        n++;
    }
    if (err != 0) {
        bench_note(ctx, "register: %s failed: %s %s", regio_pages_name(pages), regio_strerror(err),
                   regio_error_detail());
        return err;
    }
    /* note holds the fixed words, two page-kind names and a whole fallback reason. */
    char name[96], base[64], note[REGIO_ARENA_REASON_BYTES + 160];
    snprintf(name, sizeof(name), "create+register %zu MiB (%s)", sz->total_bytes >> 20,
             regio_pages_name(st.pages));
    snprintf(base, sizeof(base), "%u x 64 KiB buffers", sz->buffers);
    snprintf(note, sizeof(note),
             "asked %s%s, got %s (kernel page %zu KiB, THP %zu MiB%s%s); median of %d",
             regio_pages_name(pages), strict ? " strictly" : "", regio_pages_name(st.pages),
             st.kernel_page_bytes >> 10, st.anon_huge_bytes >> 20,
             st.fallback_reason[0] ? "; fallback: " : "", st.fallback_reason, n);
    bench_row(ctx, "register", name, "ms", false, bench_median(r, n), base, bench_median(b, n),
              note);
    snprintf(name, sizeof(name), "register only, %zu MiB faulted (%s)", sz->total_bytes >> 20,
             regio_pages_name(st.pages));
    bench_row(ctx, "register", name, "ms", false, bench_median(rr, n), base, bench_median(br, n),
              "memory already faulted in; pinning and the kernel's buffer table only");
    return 0;
}

static int bench_register_fn(const struct bench_ctx *ctx)
{
    struct reg_sizes sz;
    /* --quick: 64 MiB, enough to see the shape in a test. */
    sz.total_bytes = ctx->quick ? ((size_t)64 << 20) : ((size_t)1 << 30);
    sz.buffers = (unsigned)(sz.total_bytes / SEPARATE_BUF_BYTES);
    struct iovec *iov = calloc(sz.buffers, sizeof(*iov));
    if (iov == NULL)
        return -ENOMEM;
    long huge_needed = (long)(sz.total_bytes >> 21);
    long huge_free = hugetlb_free_pages();
    int err = 0;
    if (huge_free >= huge_needed) {
        err = compare_kind(ctx, &sz, iov, REGIO_PAGES_HUGE_2M, true);
        /* Another process may take the free pages between the count and the
         * mapping; that leaves the hugetlb row out, it is no failed run. */
        if (err == -ENOMEM) {
            bench_note(ctx, "register: hugetlb row left out: the free pages were taken meanwhile");
            err = 0;
        }
    } else {
        bench_note(ctx,
                   "register: hugetlb skipped: %ld free 2 MiB pages, %ld needed "
                   "(reserve with: echo %ld > /proc/sys/vm/nr_hugepages)",
                   huge_free, huge_needed, huge_needed);
    }
    if (err == 0)
        err = compare_kind(ctx, &sz, iov, REGIO_PAGES_THP, false);
    free(iov);
    return err;
}

BENCH_REGISTER("register", "create and register an arena vs 16,384 separate 64 KiB buffers",
               bench_register_fn)
