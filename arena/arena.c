/*
 * arena/arena.c: the huge-page arena.
 *
 * One anonymous mapping, 2 MiB aligned, split into regions of region_bytes
 * (region i at base + i * region_bytes; the last region may be shorter). The
 * page kind is chosen best first (hugetlb 2 MiB, THP, normal), prefaulted at
 * create, and then read back from /proc/self/smaps, because a call that
 * succeeded does not prove the kernel gave huge pages. The arena also keeps
 * the 2 MiB chunk allocator and page-descriptor table that iobuf builds on,
 * and the bookkeeping of the rings that hold its regions registered.
 *
 * The only io_uring knowledge here is the registration calls themselves
 * (IORING_REGISTER_BUFFERS, IORING_REGISTER_CLONE_BUFFERS,
 * IORING_UNREGISTER_BUFFERS): nothing in arena/ knows about operations.
 */
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arena_internal.h"
#include "lock.h"
#include "stats_internal.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef CAP_IPC_LOCK
#define CAP_IPC_LOCK 14
#endif

/* IORING_REGISTER_CLONE_BUFFERS (kernel 6.12+) is newer than the uapi headers
 * of the distributions we build on, so its opcode and argument are spelled
 * out here with their kernel values. */
#define REGIO_IORING_REGISTER_CLONE_BUFFERS 30
struct regio_io_uring_clone_buffers {
    uint32_t src_fd;
    uint32_t flags;
    uint32_t src_off;
    uint32_t dst_off;
    uint32_t nr; /* 0 = every buffer of the source */
    uint32_t pad[3];
};
_Static_assert(sizeof(struct regio_io_uring_clone_buffers) == 32, "kernel ABI size");

#define REGIO_MAX_REGION_BYTES ((size_t)REGIO_GIB)
#define REGIO_SMALL_PAGE_BYTES ((size_t)4096)

/* One ring that holds the regions registered. A fresh registration starts a
 * pin group; a clone joins the group of the ring it was cloned from. The
 * kernel keeps a group's pages pinned (and accounted once) while any member
 * remains, so pinned_bytes counts live groups, not rings. */
struct regio_arena_reg {
    int ring_fd;
    uint32_t group;
    bool cloned;
};

struct regio_arena {
    uint8_t *base;
    size_t size_bytes;
    size_t region_bytes;
    uint32_t region_count;
    int region_shift; /* log2(region_bytes) when a power of two, else -1 */

    enum regio_pages pages;
    size_t kernel_page_bytes;
    size_t anon_huge_bytes;
    char fallback_reason[REGIO_ARENA_REASON_BYTES];
    char *stats_name;
    int stats_error; /* 0, or why the stats file is not published */

    /* Guards the chunk bitmap and the registration table. */
    struct regio__lock lock;
    uint64_t *chunk_bits; /* bit set = chunk handed out */
    uint32_t chunks_total;
    uint32_t chunks_used;
    uint32_t chunks_per_region;
    _Atomic(void *) *owners; /* page-descriptor table, one per chunk */

    atomic_uint users;

    struct regio_arena_reg *regs;
    uint32_t reg_count;
    uint32_t reg_cap;
    uint32_t next_group;
    atomic_bool clone_unsupported;
};

/* ---- Small helpers ------------------------------------------------------ */

static size_t round_up(size_t v, size_t to)
{
    REGIO_ASSERT(to > 0 && v <= SIZE_MAX - (to - 1)); /* no wrap past the top */
    return (v + to - 1) / to * to;
}

static void append_reason(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reasons accumulate ("...; ...") so that AUTO explains every kind it skipped. */
static void append_reason(char *buf, const char *fmt, ...)
{
    REGIO_ASSERT(strnlen(buf, REGIO_ARENA_REASON_BYTES) < REGIO_ARENA_REASON_BYTES);
    size_t used = strlen(buf);
    if (used > 0 && used + 2 < REGIO_ARENA_REASON_BYTES) {
        memcpy(buf + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= REGIO_ARENA_REASON_BYTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, REGIO_ARENA_REASON_BYTES - used, fmt, ap);
    va_end(ap);
}

/* Value of "key" in /proc/meminfo (the number as printed), or -1. */
static long long meminfo_value(const char *key)
{
    REGIO_ASSERT(key != NULL && key[0] != '\0'); /* an empty key matches every line */
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL)
        return -1;
    char line[256];
    long long v = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtoll(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* The bracketed word of /sys/kernel/mm/transparent_hugepage/enabled
 * ("always", "madvise" or "never"), or "" when THP is not built in. */
static void thp_mode(char *out, size_t out_len)
{
    REGIO_ASSERT(out_len > 0);
    out[0] = '\0';
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    if (f == NULL)
        return;
    char line[128];
    if (fgets(line, sizeof(line), f) != NULL) {
        char *open = strchr(line, '[');
        char *close = open != NULL ? strchr(open, ']') : NULL;
        if (close != NULL && (size_t)(close - open - 1) < out_len) {
            memcpy(out, open + 1, (size_t)(close - open - 1));
            out[close - open - 1] = '\0';
        }
    }
    fclose(f);
}

struct smaps_info {
    size_t kernel_page_bytes; /* KernelPageSize of the VMA holding base */
    size_t anon_huge_bytes;   /* AnonHugePages summed over overlapping VMAs */
    bool found;
};

/* Read back what the kernel really mapped for [base, base + len). Every VMA
 * that overlaps the arena counts, since a mapping can be split or merged by
 * the kernel. */
static int smaps_read(const void *base, size_t len, struct smaps_info *out)
{
    REGIO_ASSERT(len > 0 && (uintptr_t)base <= UINTPTR_MAX - len);
    memset(out, 0, sizeof(*out));
    FILE *f = fopen("/proc/self/smaps", "re");
    if (f == NULL)
        return -errno;
    uintptr_t lo = (uintptr_t)base, hi = lo + len;
    char line[512];
    bool inside = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long start, end;
        char after;
        if (sscanf(line, "%lx-%lx%c", &start, &end, &after) == 3 && after == ' ') {
            inside = start < hi && end > lo;
            continue;
        }
        if (!inside)
            continue;
        unsigned long long kb;
        if (sscanf(line, "KernelPageSize: %llu kB", &kb) == 1) {
            if (!out->found)
                out->kernel_page_bytes = (size_t)kb * 1024;
            out->found = true;
        } else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) {
            out->anon_huge_bytes += (size_t)kb * 1024;
        }
    }
    fclose(f);
    if (out->anon_huge_bytes > len)
        out->anon_huge_bytes = len;
    return out->found ? 0 : -ENOENT;
}

/* ---- Mapping ------------------------------------------------------------- */

/* Fault every page in now, so the memory is real (and a shortage shows up
 * here as an error rather than later as SIGBUS). MADV_POPULATE_WRITE
 * (5.14+) reports failure; older kernels get a write to every page. */
static int prefault(uint8_t *p, size_t len)
{
    REGIO_ASSERT((uintptr_t)p % REGIO_SMALL_PAGE_BYTES == 0 && len % REGIO_SMALL_PAGE_BYTES == 0);
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
        return 0;
    int err = errno;
    if (err != EINVAL)
        return -err;
    for (size_t off = 0; off < len; off += REGIO_SMALL_PAGE_BYTES)
        ((volatile uint8_t *)p)[off] = 0;
    return 0;
}

/* hugetlb 2 MiB pages: the kernel aligns the mapping to 2 MiB itself. On
 * failure the reason names the pool state read from /proc/meminfo. */
static uint8_t *map_hugetlb(size_t len, char *reason)
{
    REGIO_ASSERT(len % REGIO_CHUNK_BYTES == 0); /* whole 2 MiB pages */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
    int err = p == MAP_FAILED ? errno : 0;
    if (p != MAP_FAILED) {
        err = -prefault(p, len);
        if (err == 0)
            return p;
        munmap(p, len);
    }
    long long free_pages = meminfo_value("HugePages_Free");
    long long rsvd = meminfo_value("HugePages_Rsvd");
    if (free_pages == 0)
        append_reason(reason, "no hugetlb pages reserved: HugePages_Free=0");
    else if (err == ENOMEM)
        append_reason(reason,
                      "not enough hugetlb pages: need %zu, HugePages_Free=%lld HugePages_Rsvd=%lld",
                      len / REGIO_CHUNK_BYTES, free_pages, rsvd);
    else
        append_reason(reason, "hugetlb mapping failed: %s", strerror(err));
    return NULL;
}

/* Anonymous memory aligned to 2 MiB (so THP can back it and chunks line up
 * with huge pages): over-map by 2 MiB, then trim the ends. */
static uint8_t *map_aligned(size_t len)
{
    REGIO_ASSERT(len % REGIO_CHUNK_BYTES == 0);
    size_t span = len + REGIO_CHUNK_BYTES;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t aligned = round_up((uintptr_t)p, REGIO_CHUNK_BYTES);
    size_t head = aligned - (uintptr_t)p;
    /* The aligned range lies inside what was mapped: both trims are cuts. */
    REGIO_ASSERT(head < REGIO_CHUNK_BYTES && head + len <= span);
    size_t tail = span - head - len;
    if (head > 0)
        munmap(p, head);
    if (tail > 0)
        munmap((uint8_t *)aligned + len, tail);
    return (uint8_t *)aligned;
}

/* THP: madvise before the first touch so faults allocate huge pages. Whether
 * they did is checked by the caller from smaps. */
static uint8_t *map_thp(size_t len, char *reason)
{
    REGIO_ASSERT(len % REGIO_CHUNK_BYTES == 0);
    char mode[32];
    thp_mode(mode, sizeof(mode));
    if (mode[0] == '\0') {
        append_reason(reason, "THP not available: no /sys/kernel/mm/transparent_hugepage");
        return NULL;
    }
    if (strcmp(mode, "never") == 0) {
        append_reason(reason, "THP disabled: /sys/kernel/mm/transparent_hugepage/enabled=never");
        return NULL;
    }
    uint8_t *p = map_aligned(len);
    if (p == NULL) {
        append_reason(reason, "THP mapping failed: %s", strerror(errno));
        return NULL;
    }
    int err = madvise(p, len, MADV_HUGEPAGE) == 0 ? prefault(p, len) : -errno;
    if (err != 0) {
        append_reason(reason, "THP madvise/prefault failed: %s", strerror(-err));
        munmap(p, len);
        return NULL;
    }
    return p;
}

/* Normal pages, asked for explicitly: MADV_NOHUGEPAGE so that a system in
 * THP "always" mode still gives what was asked. */
static uint8_t *map_normal(size_t len, bool refuse_thp)
{
    REGIO_ASSERT(len % REGIO_CHUNK_BYTES == 0);
    uint8_t *p = map_aligned(len);
    if (p == NULL)
        return NULL;
    if (refuse_thp)
        (void)madvise(p, len, MADV_NOHUGEPAGE);
    if (prefault(p, len) != 0) {
        munmap(p, len);
        return NULL;
    }
    return p;
}

/* Map with the kind asked for (or best first for AUTO), then set the kind
 * from smaps. Returns 0 or -ENOMEM; a strict refusal explains itself in
 * the thread's error detail. */
static int arena_map(struct regio_arena *a, enum regio_pages want, bool strict)
{
    REGIO_ASSERT(a->base == NULL && a->size_bytes % REGIO_CHUNK_BYTES == 0);
    size_t len = a->size_bytes;
    char *reason = a->fallback_reason;
    uint8_t *p = NULL;
    bool thp_mapped = false;

    if (want == REGIO_PAGES_AUTO || want == REGIO_PAGES_HUGE_2M) {
        p = map_hugetlb(len, reason);
        if (p == NULL && strict && want == REGIO_PAGES_HUGE_2M) {
            regio__set_detail("hugetlb 2 MiB pages refused (pages_strict): %s", reason);
            return -ENOMEM;
        }
    }
    if (p == NULL &&
        (want == REGIO_PAGES_AUTO || want == REGIO_PAGES_HUGE_2M || want == REGIO_PAGES_THP)) {
        p = map_thp(len, reason);
        thp_mapped = p != NULL;
        if (p == NULL && strict && want == REGIO_PAGES_THP) {
            regio__set_detail("THP refused (pages_strict): %s", reason);
            return -ENOMEM;
        }
    }
    if (p == NULL)
        p = map_normal(len, want == REGIO_PAGES_NORMAL);
    if (p == NULL) {
        regio__set_detail("cannot map %zu bytes of anonymous memory", len);
        return -ENOMEM;
    }
    a->base = p;

    struct smaps_info si;
    int err = smaps_read(p, len, &si);
    if (err != 0) {
        regio__set_detail("arena mapping not found in /proc/self/smaps");
        munmap(p, len);
        a->base = NULL;
        return -ENOMEM;
    }
    a->kernel_page_bytes = si.kernel_page_bytes;
    a->anon_huge_bytes = si.anon_huge_bytes;
    if (si.kernel_page_bytes == REGIO_CHUNK_BYTES)
        a->pages = REGIO_PAGES_HUGE_2M;
    else if (si.anon_huge_bytes > 0)
        a->pages = REGIO_PAGES_THP;
    else
        a->pages = REGIO_PAGES_NORMAL;

    if (thp_mapped && a->pages == REGIO_PAGES_NORMAL) {
        append_reason(reason, "THP requested but smaps shows AnonHugePages=0");
        if (strict && want == REGIO_PAGES_THP) {
            regio__set_detail("THP refused (pages_strict): %s", reason);
            munmap(p, len);
            a->base = NULL;
            return -ENOMEM;
        }
    }
    /* hugetlb pages come 2 MiB aligned: chunks then never straddle one. */
    REGIO_ASSERT(a->pages != REGIO_PAGES_HUGE_2M || (uintptr_t)a->base % REGIO_CHUNK_BYTES == 0);
    return 0;
}

/* ---- Create / destroy ------------------------------------------------------ */

/* Validate sizes and fill in the geometry. */
static int arena_geometry(struct regio_arena *a, const struct regio_arena_opts *opts)
{
    if (opts->size_bytes == 0 || opts->size_bytes > ((size_t)1 << 46)) {
        regio__set_detail("arena size_bytes %zu must be in 1 .. 2^46", opts->size_bytes);
        return -EINVAL;
    }
    size_t size = round_up(opts->size_bytes, REGIO_CHUNK_BYTES);
    size_t rb = opts->region_bytes;
    if (rb == 0)
        rb = size < REGIO_MAX_REGION_BYTES ? size : REGIO_MAX_REGION_BYTES;
    if (rb % REGIO_CHUNK_BYTES != 0 || rb > REGIO_MAX_REGION_BYTES) {
        regio__set_detail("region_bytes %zu must be a multiple of 2 MiB and at most 1 GiB", rb);
        return -EINVAL;
    }
    size_t count = (size + rb - 1) / rb;
    if (count > UINT16_MAX) {
        regio__set_detail("arena of %zu regions exceeds %u", count, (unsigned)UINT16_MAX);
        return -EINVAL;
    }
    if ((unsigned)opts->pages > REGIO_PAGES_NORMAL) {
        regio__set_detail("unknown page kind %d", (int)opts->pages);
        return -EINVAL;
    }
    a->size_bytes = size;
    a->region_bytes = rb;
    a->region_count = (uint32_t)count;
    a->region_shift = (rb & (rb - 1)) == 0 ? __builtin_ctzll(rb) : -1;
    a->chunks_total = (uint32_t)(size / REGIO_CHUNK_BYTES);
    a->chunks_per_region = (uint32_t)(rb / REGIO_CHUNK_BYTES);
    /* The regions cover every chunk, each with whole chunks. */
    REGIO_ASSERT(a->chunks_per_region > 0 && (size_t)a->region_count * rb >= size);
    return 0;
}

static void arena_free(struct regio_arena *a)
{
    REGIO_ASSERT(atomic_load(&a->users) == 0 && a->reg_count == 0);
    if (a->base != NULL) {
        int rc = munmap(a->base, a->size_bytes);
        REGIO_ASSERT(rc == 0); /* base and size are the mapping's own */
    }
    regio__lock_destroy(&a->lock);
    free(a->chunk_bits);
    free(a->owners);
    free(a->regs);
    free(a->stats_name);
    free(a);
}

int regio_arena_create(const struct regio_arena_opts *opts, struct regio_arena **out)
{
    regio__clear_detail();
    if (opts == NULL || out == NULL) {
        regio__set_detail("regio_arena_create: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    struct regio_arena *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    regio__lock_init(&a->lock, false);
    int err = arena_geometry(a, opts);
    if (err != 0) {
        arena_free(a);
        return err;
    }
    a->chunk_bits = calloc((a->chunks_total + 63) / 64, sizeof(uint64_t));
    a->owners = calloc(a->chunks_total, sizeof(*a->owners));
    if (opts->stats_name != NULL)
        a->stats_name = strdup(opts->stats_name);
    if (a->chunk_bits == NULL || a->owners == NULL ||
        (opts->stats_name != NULL && a->stats_name == NULL)) {
        arena_free(a);
        return -ENOMEM;
    }
    err = arena_map(a, opts->pages, opts->pages_strict);
    if (err != 0) {
        arena_free(a);
        return err;
    }
    /* smaps named the page size: the page kind was judged from it. */
    REGIO_ASSERT(a->base != NULL && a->kernel_page_bytes >= 4096);
    /* A fork() must neither copy the arena nor break pages a ring has
     * pinned (copy-on-write would leave the ring with the old pages). */
    if (madvise(a->base, a->size_bytes, MADV_DONTFORK) != 0) {
        err = -errno;
        regio__set_detail("madvise(MADV_DONTFORK) failed: %s", strerror(-err));
        arena_free(a);
        return err;
    }
    /* Live stats (arena/stats.c) start last, so that the first snapshot
     * sees the finished arena and a failure leaves no file behind. */
    if (a->stats_name != NULL) {
        err = regio__stats_start(a, a->stats_name);
        if (err == -EINVAL) { /* a bad name is the caller's error */
            arena_free(a);
            return err;
        }
        /* Any other failure (a file in the way, /dev/shm full or missing)
         * only costs the monitoring: the arena works, stats say why nothing
         * is published and regio_error_detail() keeps the reason. */
        a->stats_error = err;
    }
    *out = a;
    return 0;
}

int regio_arena_destroy(struct regio_arena *a)
{
    regio__clear_detail();
    if (a == NULL) {
        regio__set_detail("regio_arena_destroy: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    REGIO_ASSERT(!regio__lock_held(&a->lock)); /* taken here, not recursive */
    regio__lock(&a->lock);
    unsigned users = atomic_load(&a->users);
    uint32_t regs = a->reg_count;
    regio__unlock(&a->lock);
    if (users != 0 || regs != 0) {
        regio__set_detail("arena still has %u users and %u ring registrations", users, regs);
        return -EBUSY;
    }
    regio__stats_stop(a); /* removes the live stats file, if any */
    arena_free(a);
    return 0;
}

/* ---- Lookups --------------------------------------------------------------- */

int regio_arena_region_of(const struct regio_arena *a, const void *p, size_t len)
{
    regio__clear_detail();
    if (a == NULL || p == NULL) {
        regio__set_detail("regio_arena_region_of: a required argument is NULL (or out of range)");
        return -EFAULT;
    }
    if (len == 0)
        return -EINVAL;
    uintptr_t off = (uintptr_t)p - (uintptr_t)a->base; /* wraps for p < base */
    if (off >= a->size_bytes || len > a->size_bytes - off) {
        regio__set_detail("arena: [%p, +%zu) is not inside the arena", p, len);
        return -EFAULT;
    }
    uintptr_t last = off + len - 1;
    size_t first_idx, last_idx;
    if (a->region_shift >= 0) {
        first_idx = off >> a->region_shift;
        last_idx = last >> a->region_shift;
    } else {
        first_idx = off / a->region_bytes;
        last_idx = last / a->region_bytes;
    }
    if (first_idx != last_idx)
        return -EFAULT;
    return (int)first_idx;
}

/* Bytes the kernel holds pinned for this arena: size_bytes per live pin
 * group (a fresh registration and the clones made from it). Lock held. */
static uint64_t pinned_now(const struct regio_arena *a)
{
    REGIO_ASSERT(regio__lock_held(&a->lock));
    uint64_t groups = 0;
    for (uint32_t i = 0; i < a->reg_count; i++) {
        bool first = true;
        for (uint32_t j = 0; j < i; j++)
            first &= a->regs[j].group != a->regs[i].group;
        groups += first;
    }
    return groups * a->size_bytes;
}

/* Getters that succeed leave the detail alone (it may explain a warning of
 * the call before, such as a stats file that could not be published). */
int regio_arena_stats(const struct regio_arena *a, struct regio_arena_stats *out)
{
    if (a == NULL || out == NULL) {
        regio__set_detail("regio_arena_stats: NULL arena or out pointer");
        return -EINVAL;
    }
    struct regio_arena *m = (struct regio_arena *)a; /* the lock is not state */
    memset(out, 0, sizeof(*out));
    out->base = a->base;
    out->size_bytes = a->size_bytes;
    out->region_bytes = a->region_bytes;
    out->region_count = a->region_count;
    out->pages = a->pages;
    out->kernel_page_bytes = a->kernel_page_bytes;
    out->anon_huge_bytes = a->anon_huge_bytes;
    out->chunks_total = a->chunks_total;
    memcpy(out->fallback_reason, a->fallback_reason, sizeof(out->fallback_reason));
    out->stats_error = a->stats_error;
    regio__lock(&m->lock);
    out->chunks_used = a->chunks_used;
    out->registrations = a->reg_count;
    for (uint32_t i = 0; i < a->reg_count; i++)
        out->clones += a->regs[i].cloned;
    out->pinned_bytes = pinned_now(a);
    REGIO_ASSERT(out->chunks_used <= out->chunks_total);
    regio__unlock(&m->lock);
    out->users = atomic_load(&a->users);
    return 0;
}

const char *regio_pages_name(enum regio_pages pages)
{
    switch (pages) {
    case REGIO_PAGES_AUTO:
        return "auto";
    case REGIO_PAGES_HUGE_2M:
        return "huge-2m";
    case REGIO_PAGES_THP:
        return "thp";
    case REGIO_PAGES_NORMAL:
        return "normal";
    }
    return "unknown";
}

/* ---- Internal interface -------------------------------------------------- */

void *regio__arena_base(const struct regio_arena *a)
{
    REGIO_ASSERT(a->base != NULL); /* only a mapped arena is handed out */
    return a->base;
}

size_t regio__arena_size(const struct regio_arena *a)
{
    REGIO_ASSERT(a->size_bytes % REGIO_CHUNK_BYTES == 0);
    return a->size_bytes;
}

size_t regio__arena_region_bytes(const struct regio_arena *a)
{
    REGIO_ASSERT(a->region_bytes % REGIO_CHUNK_BYTES == 0 &&
                 a->region_bytes <= REGIO_MAX_REGION_BYTES);
    return a->region_bytes;
}

uint32_t regio__arena_region_count(const struct regio_arena *a)
{
    REGIO_ASSERT(a->region_count > 0 && a->region_count <= UINT16_MAX);
    return a->region_count;
}

static bool chunk_used(const struct regio_arena *a, uint32_t idx)
{
    REGIO_ASSERT(idx < a->chunks_total);
    return (a->chunk_bits[idx / 64] >> (idx % 64)) & 1;
}

static void chunk_mark(struct regio_arena *a, uint32_t idx, bool used)
{
    REGIO_ASSERT(regio__lock_held(&a->lock) && idx < a->chunks_total);
    uint64_t bit = (uint64_t)1 << (idx % 64);
    if (used)
        a->chunk_bits[idx / 64] |= bit;
    else
        a->chunk_bits[idx / 64] &= ~bit;
}

/* First fit of a run of n free chunks inside region r; UINT32_MAX if none. */
static uint32_t find_run(const struct regio_arena *a, uint32_t r, uint32_t n)
{
    REGIO_ASSERT(regio__lock_held(&a->lock) && r < a->region_count && n > 0);
    uint32_t lo = r * a->chunks_per_region;
    uint32_t hi = lo + a->chunks_per_region;
    if (hi > a->chunks_total)
        hi = a->chunks_total;
    uint32_t run = 0;
    for (uint32_t i = lo; i < hi; i++) {
        run = chunk_used(a, i) ? 0 : run + 1;
        if (run == n) {
            REGIO_ASSERT(i + 1 - n >= lo); /* the run lies in region r */
            return i + 1 - n;
        }
    }
    return UINT32_MAX;
}

int regio__arena_chunks_alloc(struct regio_arena *a, uint32_t n, uint32_t *first_out)
{
    if (n == 0 || n > a->chunks_per_region) {
        regio__set_detail("%u chunks cannot lie within one region of %u chunks", n,
                          a->chunks_per_region);
        return -EINVAL;
    }
    REGIO_ASSERT(!regio__lock_held(&a->lock));
    regio__lock(&a->lock);
    uint32_t first = UINT32_MAX;
    for (uint32_t r = 0; r < a->region_count && first == UINT32_MAX; r++)
        first = find_run(a, r, n);
    if (first != UINT32_MAX) {
        /* A run never crosses a region: a buffer is registered per region. */
        REGIO_ASSERT(first / a->chunks_per_region == (first + n - 1) / a->chunks_per_region);
        for (uint32_t i = first; i < first + n; i++)
            chunk_mark(a, i, true);
        a->chunks_used += n;
    }
    regio__unlock(&a->lock);
    if (first == UINT32_MAX) {
        regio__set_detail("no run of %u free chunks within one region", n);
        return -ENOMEM;
    }
    *first_out = first;
    return 0;
}

void regio__arena_chunks_free(struct regio_arena *a, uint32_t first, uint32_t n)
{
    REGIO_ASSERT(n > 0 && first < a->chunks_total && n <= a->chunks_total - first);
    REGIO_ASSERT(!regio__lock_held(&a->lock));
    regio__lock(&a->lock);
    for (uint32_t i = first; i < first + n; i++) {
        REGIO_ASSERT(chunk_used(a, i));
        chunk_mark(a, i, false);
        atomic_store_explicit(&a->owners[i], NULL, memory_order_release);
    }
    a->chunks_used -= n;
    regio__unlock(&a->lock);
}

void *regio__arena_chunk_ptr(const struct regio_arena *a, uint32_t idx)
{
    REGIO_ASSERT(idx < a->chunks_total);
    return a->base + (size_t)idx * REGIO_CHUNK_BYTES;
}

void regio__arena_chunk_set_owner(struct regio_arena *a, uint32_t idx, void *owner)
{
    REGIO_ASSERT(idx < a->chunks_total);
    atomic_store_explicit(&a->owners[idx], owner, memory_order_release);
}

void *regio__arena_chunk_owner(const struct regio_arena *a, const void *p)
{
    uintptr_t off = (uintptr_t)p - (uintptr_t)a->base;
    if (p == NULL || off >= a->size_bytes)
        return NULL;
    return atomic_load_explicit(&a->owners[off >> REGIO_CHUNK_SHIFT], memory_order_acquire);
}

void regio__arena_user_get(struct regio_arena *a)
{
    unsigned before = atomic_fetch_add(&a->users, 1);
    REGIO_ASSERT(before < UINT32_MAX);
}

void regio__arena_user_put(struct regio_arena *a)
{
    unsigned before = atomic_fetch_sub(&a->users, 1);
    REGIO_ASSERT(before > 0);
}

/* ---- Ring registration ----------------------------------------------------- */

static int uring_register(int fd, unsigned opcode, void *arg, unsigned nr_args)
{
    REGIO_ASSERT(fd >= 0 && (nr_args == 0 || arg != NULL));
    long r = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
    return r < 0 ? -errno : (int)r;
}

/* Whether the effective capability set holds CAP_IPC_LOCK, which exempts the
 * process from RLIMIT_MEMLOCK accounting. Read with capget(2) directly, so no
 * libcap is needed. */
static bool have_ipc_lock(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return false;
    return (data[CAP_IPC_LOCK / 32].effective >> (CAP_IPC_LOCK % 32)) & 1;
}

static struct regio_arena_reg *reg_find(struct regio_arena *a, int ring_fd)
{
    REGIO_ASSERT(regio__lock_held(&a->lock));
    for (uint32_t i = 0; i < a->reg_count; i++)
        if (a->regs[i].ring_fd == ring_fd)
            return &a->regs[i];
    return NULL;
}

/* Refuse before the kernel does, with both numbers, when the pin would
 * exceed RLIMIT_MEMLOCK (the kernel's own -ENOMEM says neither). */
static int memlock_check(const struct regio_arena *a)
{
    REGIO_ASSERT(regio__lock_held(&a->lock)); /* pinned_now reads the table */
    if (have_ipc_lock())
        return 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    uint64_t already = pinned_now(a);
    uint64_t need = already + a->size_bytes;
    if (need <= rl.rlim_cur)
        return 0;
    regio__set_detail("registering the arena pins %zu bytes (%llu already pinned by it): "
                      "needs %llu bytes of locked memory, RLIMIT_MEMLOCK is %llu bytes "
                      "(raise it with ulimit -l or grant CAP_IPC_LOCK)",
                      a->size_bytes, (unsigned long long)already, (unsigned long long)need,
                      (unsigned long long)rl.rlim_cur);
    return -ENOMEM;
}

static int register_fresh(struct regio_arena *a, int ring_fd)
{
    REGIO_ASSERT(regio__lock_held(&a->lock) && ring_fd >= 0);
    int err = memlock_check(a);
    if (err != 0)
        return err;
    struct iovec *iov = calloc(a->region_count, sizeof(*iov));
    if (iov == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < a->region_count; i++) {
        size_t off = (size_t)i * a->region_bytes;
        iov[i].iov_base = a->base + off;
        iov[i].iov_len =
            a->size_bytes - off < a->region_bytes ? a->size_bytes - off : a->region_bytes;
        REGIO_ASSERT(off < a->size_bytes); /* no empty region: the kernel would refuse it */
    }
    err = uring_register(ring_fd, IORING_REGISTER_BUFFERS, iov, a->region_count);
    free(iov);
    if (err == -ENOMEM) {
        struct rlimit rl = {0, 0};
        getrlimit(RLIMIT_MEMLOCK, &rl);
        regio__set_detail("kernel refused to pin %zu bytes: RLIMIT_MEMLOCK is %llu bytes, "
                          "shared with other locked memory of this user",
                          a->size_bytes, (unsigned long long)rl.rlim_cur);
    } else if (err < 0) {
        regio__set_detail("IORING_REGISTER_BUFFERS on ring fd %d failed: %s", ring_fd,
                          strerror(-err));
    }
    return err < 0 ? err : 0;
}

/* Share the buffers of a ring that already holds them: no new pinning. */
static int register_clone(int src_fd, int ring_fd)
{
    REGIO_ASSERT(src_fd >= 0 && ring_fd >= 0 && src_fd != ring_fd);
    struct regio_io_uring_clone_buffers arg;
    memset(&arg, 0, sizeof(arg));
    arg.src_fd = (uint32_t)src_fd;
    return uring_register(ring_fd, REGIO_IORING_REGISTER_CLONE_BUFFERS, &arg, 1);
}

/* Make room for one more entry, so that a kernel registration never has to
 * be undone for lack of a slot. */
static int reg_reserve(struct regio_arena *a)
{
    REGIO_ASSERT(regio__lock_held(&a->lock) && a->reg_count <= a->reg_cap);
    if (a->reg_count < a->reg_cap)
        return 0;
    uint32_t cap = a->reg_cap ? a->reg_cap * 2 : 4;
    struct regio_arena_reg *n = realloc(a->regs, cap * sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    a->regs = n;
    a->reg_cap = cap;
    return 0;
}

static void reg_append(struct regio_arena *a, int ring_fd, uint32_t group, bool cloned)
{
    REGIO_ASSERT(regio__lock_held(&a->lock));
    REGIO_ASSERT(a->reg_count < a->reg_cap);
    a->regs[a->reg_count++] = (struct regio_arena_reg){ring_fd, group, cloned};
}

static int register_locked(struct regio_arena *a, int ring_fd, bool may_clone)
{
    REGIO_ASSERT(regio__lock_held(&a->lock));
    if (reg_find(a, ring_fd) != NULL) {
        regio__set_detail("ring fd %d already holds this arena's regions", ring_fd);
        return -EEXIST;
    }
    int err = reg_reserve(a);
    if (err != 0)
        return err;
    /* Clone from any ring that allows it. The kernel refuses (-EEXIST) to
     * clone from a SINGLE_ISSUER ring owned by another thread, so a refusal
     * from one source is no reason to fail: try the others, then pin anew. */
    for (uint32_t i = 0; may_clone && i < a->reg_count && !atomic_load(&a->clone_unsupported);
         i++) {
        const struct regio_arena_reg *src = &a->regs[i];
        err = register_clone(src->ring_fd, ring_fd);
        if (err == 0) {
            reg_append(a, ring_fd, src->group, true);
            return 0;
        }
        if (err == -EINVAL || err == -EOPNOTSUPP)
            atomic_store(&a->clone_unsupported, true);
        else if (err != -EEXIST && err != -EBADF && err != -EBUSY)
            break;
    }
    err = register_fresh(a, ring_fd);
    if (err != 0)
        return err;
    reg_append(a, ring_fd, a->next_group++, false);
    return 0;
}

static int register_ring(struct regio_arena *a, int ring_fd, bool may_clone)
{
    regio__clear_detail();
    if (a == NULL) {
        regio__set_detail("regio_arena_register_ring: NULL arena");
        return -EINVAL;
    }
    if (ring_fd < 0) {
        regio__set_detail("regio_arena_register_ring: ring fd %d", ring_fd);
        return -EBADF;
    }
    REGIO_ASSERT(!regio__lock_held(&a->lock));
    regio__lock(&a->lock);
    int err = register_locked(a, ring_fd, may_clone);
    REGIO_ASSERT(err != 0 || reg_find(a, ring_fd) != NULL); /* unregister finds it */
    regio__unlock(&a->lock);
    return err;
}

int regio_arena_register_ring(struct regio_arena *a, int ring_fd)
{
    regio__clear_detail();
    return register_ring(a, ring_fd, true);
}

int regio__arena_register_ring_fresh(struct regio_arena *a, int ring_fd)
{
    return register_ring(a, ring_fd, false);
}

int regio_arena_unregister_ring(struct regio_arena *a, int ring_fd)
{
    regio__clear_detail();
    if (a == NULL) {
        regio__set_detail("regio_arena_unregister_ring: NULL arena");
        return -EINVAL;
    }
    REGIO_ASSERT(!regio__lock_held(&a->lock));
    regio__lock(&a->lock);
    struct regio_arena_reg *r = reg_find(a, ring_fd);
    if (r == NULL) {
        regio__unlock(&a->lock);
        regio__set_detail("ring fd %d holds no registration of this arena", ring_fd);
        return -ENOENT;
    }
    int err = uring_register(ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
    /* The registration is gone when the kernel says so, and also when the
     * ring fd is no longer a ring (closed: the kernel dropped its buffers
     * with it). Any other failure keeps the entry, so destroy stays -EBUSY. */
    if (err == 0 || err == -ENXIO || err == -EBADF || err == -EOPNOTSUPP) {
        *r = a->regs[--a->reg_count];
        /* A ring is registered once at most (register refuses another). */
        REGIO_ASSERT(reg_find(a, ring_fd) == NULL);
        if (err != 0)
            regio__set_detail("ring fd %d no longer held the buffers: %s", ring_fd, strerror(-err));
    } else {
        regio__set_detail("IORING_UNREGISTER_BUFFERS on ring fd %d failed: %s", ring_fd,
                          strerror(-err));
    }
    regio__unlock(&a->lock);
    return err;
}
