/* regio-test: labels=io timeout=120 */
/*
 * tests/test_misuse.c: the misuse catalogue. One table of cases, each a call
 * of a public function with one class of bad input (NULL, foreign or forged
 * handles, stale handles, double free, free in flight, overflowing sizes,
 * misaligned offsets, wrong thread, wrong destroy order, out-of-range
 * options). For each case the runner checks the documented negative errno and
 * that regio_error_detail() was set by this very call: a sentinel detail is
 * planted first and must be replaced by a non-empty text. A case that
 * crashes, returns another code or leaves the sentinel fails the test.
 * docs/reliability.md cites the number of cases this prints.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"
#include "regio.h"
#include "regio/stats.h"

/* The objects every case may use, made fresh by fx_open for each case so
 * that one case's damage cannot leak into the next. */
struct fx {
    char dir[512];
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
    struct regio_file *f;
    struct regio_pager *p;
    struct regio_wal *w;
    struct regio_buf b; /* a 4 KiB buffer of s, owned */
};

struct mcase {
    const char *name;
    const char *klass;
    int want;
    int (*call)(struct fx *x);
};

#define MAX_CASES 512
static struct mcase cases[MAX_CASES];
static int case_count;

/* Define a case: MISUSE(name, "class", -EWANT) { body returning the rc }.
 * The constructor files it in the table, in the order of this file. */
#define MISUSE(id, klass_, want_)                                                                  \
    static int id(struct fx *x);                                                                   \
    __attribute__((constructor)) static void reg_##id(void)                                        \
    {                                                                                              \
        if (case_count < MAX_CASES)                                                                \
            cases[case_count++] = (struct mcase){#id, klass_, want_, id};                          \
    }                                                                                              \
    static int id(struct fx *x)

static const char *SENTINEL = "misuse: sentinel detail planted before the call";

static void fx_open(struct fx *x, const char *dir)
{
    memset(x, 0, sizeof(*x));
    snprintf(x->dir, sizeof(x->dir), "%s", dir);
    struct regio_arena_opts ao = {.size_bytes = 16u << 20, .pages = REGIO_PAGES_NORMAL};
    CHECK_OK(regio_arena_create(&ao, &x->a));
    CHECK_OK(regio_slab_create(x->a, NULL, &x->s));
    CHECK_OK(regio_engine_create(x->a, x->s, NULL, &x->e));
    char path[600];
    snprintf(path, sizeof(path), "%s/data", dir);
    CHECK_OK(regio_file_open(x->e, path, O_RDWR | O_CREAT, 0600, &x->f));
    snprintf(path, sizeof(path), "%s/pages", dir);
    struct regio_pager_opts po = {.page_bytes = 4096, .create = true};
    CHECK_OK(regio_pager_open(x->e, path, &po, &x->p));
    snprintf(path, sizeof(path), "%s/wal", dir);
    struct regio_wal_opts wo = {
        .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10, .create = true, .arena = x->a};
    CHECK_OK(regio_wal_open(path, &wo, &x->w, NULL));
    CHECK_OK(regio_slab_alloc(x->s, 4096, &x->b));
}

/* Close what the case left open; a case that consumed an object sets its
 * pointer to NULL. */
static void fx_close(struct fx *x)
{
    if (x->w != NULL)
        CHECK_OK(regio_wal_close(x->w));
    if (x->p != NULL)
        CHECK_OK(regio_pager_close(x->p));
    if (x->e != NULL) {
        CHECK_OK(regio_engine_drain(x->e, -1));
        CHECK_OK(regio_engine_destroy(x->e));
    }
    if (x->s != NULL) {
        if (x->b.data != NULL)
            regio_slab_free(x->s, x->b);
        CHECK_OK(regio_slab_destroy(x->s));
    }
    if (x->a != NULL)
        CHECK_OK(regio_arena_destroy(x->a));
    test_rmdir_all(x->dir);
    CHECK(mkdir(x->dir, 0700) == 0);
}

static void no_cb(void *ctx, int res)
{
    (void)ctx;
    (void)res;
}

/* ---- Overflowing sizes ------------------------------------------------------ */

/* 2^63 + 1 and 2^63 + 7 add up to 8 in 64 bits: a sum checked after the
 * fact passes, and the record code then hashes 2^63 bytes. */
MISUSE(wal_appendv_len_wraps, "overflow", -EINVAL)
{
    static char bytes[16];
    struct iovec v[2] = {{bytes, (1ull << 63) + 1}, {bytes, (1ull << 63) + 7}};
    return regio_wal_appendv(x->w, v, 2, NULL);
}

MISUSE(wal_append_record_len_wraps, "overflow", -EINVAL)
{
    static char bytes[16];
    struct iovec v[3] = {{bytes, SIZE_MAX}, {bytes, 1}, {bytes, 8}};
    uint64_t lsn, end;
    return regio_wal_append_record(x->w, 7, v, 3, &lsn, &end);
}

MISUSE(wal_append_len_max, "overflow", -EINVAL)
{
    static char bytes[16];
    return regio_wal_append(x->w, bytes, SIZE_MAX, NULL);
}

MISUSE(wal_appendv_negative_count, "overflow", -EINVAL)
{
    static char bytes[16];
    struct iovec v = {bytes, 1};
    return regio_wal_appendv(x->w, &v, -1, NULL);
}

MISUSE(wal_sync_lsn_max, "overflow", -EINVAL)
{
    return regio_wal_sync(x->w, UINT64_MAX);
}

MISUSE(wal_notify_lsn_max, "overflow", -EINVAL)
{
    return regio_wal_notify_durable(x->w, UINT64_MAX, no_cb, NULL);
}

MISUSE(wal_set_checkpoint_lsn_max, "overflow", -EINVAL)
{
    return regio_wal_set_checkpoint(x->w, UINT64_MAX);
}

MISUSE(wal_open_buffer_huge, "overflow", -EINVAL)
{
    struct regio_wal_opts o = {.buffer_bytes = (SIZE_MAX / 4) + 4096, .create = true};
    struct regio_wal *w = NULL;
    char path[600];
    snprintf(path, sizeof(path), "%s/wal2", x->dir);
    return regio_wal_open(path, &o, &w, NULL);
}

MISUSE(wal_open_segment_huge, "overflow", -EINVAL)
{
    struct regio_wal_opts o = {.segment_bytes = SIZE_MAX - 4095, .create = true};
    struct regio_wal *w = NULL;
    char path[600];
    snprintf(path, sizeof(path), "%s/wal2", x->dir);
    return regio_wal_open(path, &o, &w, NULL);
}

MISUSE(wal_open_spare_segments_huge, "overflow", -EINVAL)
{
    struct regio_wal_opts o = {.spare_segments = 100000, .create = true};
    struct regio_wal *w = NULL;
    char path[600];
    snprintf(path, sizeof(path), "%s/wal2", x->dir);
    return regio_wal_open(path, &o, &w, NULL);
}

MISUSE(wal_reader_from_lsn_max, "overflow", -EINVAL)
{
    struct regio_wal_reader *r = NULL;
    char path[600];
    snprintf(path, sizeof(path), "%s/wal", x->dir);
    return regio_wal_reader_open(path, UINT64_MAX, &r);
}

MISUSE(wal_live_reader_from_lsn_max, "overflow", -EINVAL)
{
    struct regio_wal_reader *r = NULL;
    return regio_wal_reader_open_live(x->w, UINT64_MAX, &r);
}

MISUSE(file_read_offset_wraps, "overflow", -EINVAL)
{
    return regio_file_read(x->f, x->b, UINT64_MAX - 4095, 4096, no_cb, NULL);
}

MISUSE(file_write_offset_past_off_t, "overflow", -EINVAL)
{
    return regio_file_write(x->f, x->b, (uint64_t)INT64_MAX - 4095, 4096, no_cb, NULL);
}

MISUSE(pager_read_page_no_max, "overflow", -EINVAL)
{
    return regio_pager_read(x->p, UINT64_MAX, x->b, no_cb, NULL);
}

MISUSE(pager_write_page_no_wraps, "overflow", -EINVAL)
{
    return regio_pager_write(x->p, (UINT64_MAX / 4096) + 1, x->b, no_cb, NULL);
}

MISUSE(pager_extend_count_max, "overflow", -EINVAL)
{
    return regio_pager_extend(x->p, UINT64_MAX);
}

MISUSE(pager_truncate_count_max, "overflow", -EINVAL)
{
    return regio_pager_truncate(x->p, UINT64_MAX / 2);
}

MISUSE(pager_verify_page_bytes_huge, "overflow", -EINVAL)
{
    static char page[4096];
    return regio_pager_verify_image(page, UINT32_MAX, 0);
}

MISUSE(buf_view_range_wraps, "overflow", -EINVAL)
{
    struct regio_buf v;
    return regio_buf_view(x->b, 8, SIZE_MAX - 4, &v);
}

MISUSE(arena_region_of_len_wraps, "overflow", -EFAULT)
{
    return regio_arena_region_of(x->a, x->b.data, SIZE_MAX);
}

MISUSE(arena_create_size_max, "overflow", -EINVAL)
{
    struct regio_arena_opts o = {.size_bytes = SIZE_MAX};
    struct regio_arena *a = NULL;
    return regio_arena_create(&o, &a);
}

MISUSE(arena_create_region_max, "overflow", -EINVAL)
{
    struct regio_arena_opts o = {.size_bytes = 4u << 20, .region_bytes = SIZE_MAX - 4095};
    struct regio_arena *a = NULL;
    return regio_arena_create(&o, &a);
}

MISUSE(slab_alloc_len_max, "overflow", -EINVAL)
{
    struct regio_buf b;
    return regio_slab_alloc(x->s, SIZE_MAX, &b);
}

MISUSE(slab_create_pool_huge, "overflow", -EINVAL)
{
    struct regio_pool_opts pool = {.buf_bytes = SIZE_MAX - 4095, .count = UINT32_MAX};
    struct regio_slab_opts o = {.pools = &pool, .pool_count = 1};
    struct regio_slab *s = NULL;
    return regio_slab_create(x->a, &o, &s);
}

MISUSE(slab_create_pool_count_wraps, "overflow", -EINVAL)
{
    struct regio_pool_opts pool = {.buf_bytes = 4096, .count = 1};
    struct regio_slab_opts o = {.pools = &pool, .pool_count = UINT32_MAX};
    struct regio_slab *s = NULL;
    return regio_slab_create(x->a, &o, &s);
}

/* ---- Runner ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("misuse"));
    int failed = 0, ran = 0;
    for (int i = 0; i < case_count; i++) {
        const struct mcase *c = &cases[i];
        if (only != NULL && strcmp(only, c->name) != 0)
            continue;
        struct fx x;
        fx_open(&x, dir);
        regio__set_detail("%s", SENTINEL);
        int rc = c->call(&x);
        const char *d = regio_error_detail();
        bool fresh = d[0] != '\0' && strcmp(d, SENTINEL) != 0;
        if (rc != c->want || !fresh) {
            fprintf(stderr, "FAIL %s [%s]: rc %d (%s), want %d (%s); detail \"%s\"\n", c->name,
                    c->klass, rc, regio_strerror(rc), c->want, regio_strerror(c->want), d);
            failed++;
        }
        ran++;
        fx_close(&x);
    }
    test_rmdir_all(dir);
    printf("misuse: %d cases, %d failed\n", ran, failed);
    return failed == 0 ? 0 : 1;
}
