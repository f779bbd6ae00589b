/* regio-test: labels=io timeout=300 */
/*
 * tests/test_pager_torn.c: torn pages repaired by the pager itself.
 *
 * A workload of page writes (several in flight, through a doublewrite area
 * of 3 slots, so slots are reused behind fdatasyncs) and regio_pager_sync
 * calls is recorded; then, at every event of the recording and with several
 * seeds, the page file and its doublewrite file are rebuilt as a power cut
 * could have left them (undurable writes kept, dropped or torn at 512-byte
 * granularity) and reopened. After the open every page must verify and
 * hold a version at least as new as the last one a regio_pager_sync
 * acknowledged, and no newer than the last one submitted. The same images
 * opened detect-only must show torn pages (so the workload tears pages,
 * and the repair is what saves them).
 *
 * Atomic writes: with the test hook pretending an atomic write unit, AUTO
 * chooses RWF_ATOMIC and no doublewrite file; the same power-loss check
 * holds. A unit smaller than a page falls back to the doublewrite area;
 * TORN_ATOMIC without a unit is -EOPNOTSUPP; this machine's real statx
 * answer picks one of the two.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine_internal.h"
#include "regio.h"

enum { PB = 4096, PAGES = 5, WRITES = 48, MAX_ACKS = WRITES + 2, SEEDS = 2 };

struct env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
};

struct ack {
    uint64_t seq;
    uint64_t durable[PAGES]; /* per page: newest version a sync acknowledged */
};

struct run {
    uint64_t version[PAGES];   /* last version issued per page */
    uint64_t completed[PAGES]; /* newest version completed per page */
    uint64_t issued_seq[WRITES + 1];
    uint64_t issued_page[WRITES + 1];
    uint64_t issued_version[WRITES + 1];
    int nissued;
    struct ack acks[MAX_ACKS];
    int nacks;
};

struct wctx {
    struct run *r;
    uint64_t page, version;
    int done;
};

static void fill(uint8_t *page, uint64_t page_no, uint64_t version)
{
    uint64_t st = page_no * 7919 + version;
    for (size_t i = 16; i + 8 <= PB - REGIO_PAGE_TRAILER_BYTES; i += 8) {
        uint64_t v = test_rand(&st);
        memcpy(page + i, &v, 8);
    }
    memcpy(page, &page_no, 8);
    memcpy(page + 8, &version, 8);
}

static void write_cb(void *ctx, int res)
{
    struct wctx *w = ctx;
    CHECK_EQ(res, PB);
    if (w->version > w->r->completed[w->page])
        w->r->completed[w->page] = w->version;
    w->done = 1;
}

static void add_ack(struct env *v, struct run *r)
{
    CHECK(r->nacks < MAX_ACKS);
    struct ack *a = &r->acks[r->nacks++];
    a->seq = regio_engine_record_seq(v->e);
    memcpy(a->durable, r->completed, sizeof(a->durable));
}

/* Record the workload; returns the recording. */
static struct regio_recording *workload(struct env *v, const char *path, struct run *r,
                                        const struct regio_pager_opts *po)
{
    memset(r, 0, sizeof(*r));
    unlink(path);
    CHECK_OK(regio_engine_record_start(v->e));
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v->e, path, po, &p));
    struct regio_buf bufs[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(regio_slab_alloc(v->s, PB, &bufs[i]));
    uint64_t st = test_seed();
    add_ack(v, r);
    while (r->nissued < WRITES) {
        /* 1 to 3 writes of distinct pages in flight at once. */
        int k = 1 + (int)(test_rand(&st) % 3);
        struct wctx w[3];
        uint64_t first = test_rand(&st) % PAGES;
        for (int i = 0; i < k && r->nissued < WRITES; i++) {
            uint64_t pg = (first + (uint64_t)i) % PAGES;
            uint64_t ver = ++r->version[pg];
            fill(bufs[i].data, pg, ver);
            w[i] = (struct wctx){r, pg, ver, 0};
            int n = ++r->nissued;
            r->issued_seq[n] = regio_engine_record_seq(v->e);
            r->issued_page[n] = pg;
            r->issued_version[n] = ver;
            CHECK_OK(regio_pager_write(p, pg, bufs[i], write_cb, &w[i]));
            k = i + 1;
        }
        for (int i = 0; i < k; i++)
            while (!w[i].done)
                regio_engine_wait(v->e, 1, -1);
        if (test_rand(&st) % 4 == 0) {
            CHECK_OK(regio_pager_sync(p));
            add_ack(v, r);
        }
    }
    CHECK_OK(regio_pager_sync(p));
    add_ack(v, r);
    for (int i = 0; i < 3; i++)
        CHECK_OK(regio_slab_free(v->s, bufs[i]));
    CHECK_OK(regio_pager_close(p));
    struct regio_recording *rec;
    CHECK_OK(regio_engine_record_stop(v->e, &rec));
    return rec;
}

static void write_image(struct regio_recording *rec, const char *file, const char *img,
                        uint64_t crash, uint64_t seed)
{
    unlink(img);
    for (uint32_t i = 0; i < regio_recording_file_count(rec); i++) {
        if (strcmp(regio_recording_file_path(rec, i), file) != 0)
            continue;
        int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0);
        CHECK_OK(regio_recording_write_image(rec, i, crash, REGIO_RECORDING_RANDOM, seed, fd));
        close(fd);
    }
}

/* Open the crash image and check every page; returns the pages that did
 * not verify (detect-only) and adds the pages repaired to *repaired. */
static int check_image(struct env *v, const char *img, const struct run *r, uint64_t crash,
                       enum regio_pager_torn torn, uint64_t *repaired)
{
    const struct ack *floor = &r->acks[0];
    for (int i = 0; i < r->nacks; i++)
        if (r->acks[i].seq <= crash)
            floor = &r->acks[i];
    uint64_t ceiling[PAGES] = {0};
    for (int n = 1; n <= r->nissued; n++)
        if (r->issued_seq[n] <= crash)
            ceiling[r->issued_page[n]] = r->issued_version[n];
    struct regio_pager_opts po = {.page_bytes = PB, .torn = torn, .doublewrite_slots = 3};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v->e, img, &po, &p));
    *repaired += regio_pager_pages_repaired(p);
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v->s, PB, &b));
    int bad = 0;
    for (uint64_t pg = 0; pg < PAGES; pg++) {
        int rc = regio_pager_read_wait(p, pg, b);
        uint64_t got_page = 0, got = 0;
        if (rc == PB) {
            memcpy(&got_page, b.data, 8);
            memcpy(&got, (uint8_t *)b.data + 8, 8);
            CHECK_EQ(got_page, pg);
            uint8_t want[PB];
            fill(want, pg, got);
            CHECK(memcmp(want, b.data, PB - REGIO_PAGE_TRAILER_BYTES) == 0);
        } else if (rc != -ENODATA && rc != -ENXIO) { /* a hole, or past the end */
            CHECK(torn == REGIO_PAGER_TORN_DETECT);
            CHECK_EQ(rc, -EBADMSG);
            bad++;
            continue;
        }
        if (got < floor->durable[pg] || got > ceiling[pg]) {
            fprintf(stderr,
                    "crash %" PRIu64 " page %" PRIu64 ": version %" PRIu64 ", want %" PRIu64
                    "..%" PRIu64 "\n",
                    crash, pg, got, floor->durable[pg], ceiling[pg]);
            CHECK(0);
        }
    }
    CHECK_OK(regio_slab_free(v->s, b));
    CHECK_OK(regio_pager_close(p));
    return bad;
}

static void powerloss(struct env *v, const char *dir, const struct regio_pager_opts *po,
                      bool expect_dw)
{
    char path[600], img[700], dwpath[700], dwimg[800];
    snprintf(path, sizeof(path), "%s/pages", dir);
    snprintf(dwpath, sizeof(dwpath), "%s.dw", path);
    snprintf(img, sizeof(img), "%s/crash", dir);
    snprintf(dwimg, sizeof(dwimg), "%s.dw", img);
    unlink(dwpath);
    struct run *r = calloc(1, sizeof(*r));
    CHECK(r != NULL);
    struct regio_recording *rec = workload(v, path, r, po);
    CHECK_EQ(access(dwpath, F_OK) == 0, expect_dw);
    uint64_t last = regio_recording_last_seq(rec), repaired = 0;
    int torn_seen = 0;
    for (uint64_t crash = 0; crash <= last; crash++) {
        for (uint64_t seed = 1; seed <= SEEDS; seed++) {
            uint64_t s = crash * 1000 + seed;
            write_image(rec, path, img, crash, s);
            if (expect_dw)
                write_image(rec, dwpath, dwimg, crash, s);
            if (access(img, F_OK) != 0)
                continue; /* the page file was not written yet */
            /* Detect-only first: what a pager without repair would see. */
            torn_seen += check_image(v, img, r, crash, REGIO_PAGER_TORN_DETECT, &repaired);
            if (expect_dw)
                check_image(v, img, r, crash, REGIO_PAGER_TORN_DOUBLEWRITE, &repaired);
        }
    }
    if (expect_dw) {
        /* The workload tore pages, and the doublewrite area repaired them. */
        CHECK(torn_seen > 0);
        CHECK(repaired > 0);
        fprintf(stderr,
                "doublewrite: %" PRIu64 " events, %d torn images detect-only, %" PRIu64
                " pages repaired\n",
                last, torn_seen, repaired);
    } else {
        CHECK_EQ(torn_seen, 0); /* atomic writes are never torn */
        fprintf(stderr, "atomic: %" PRIu64 " events, no torn page\n", last);
    }
    regio_recording_destroy(rec);
    free(r);
    unlink(img);
    unlink(dwimg);
}

static void test_modes(struct env *v, const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/modes", dir);
    struct regio_pager *p;
    struct regio_pager_opts po = {.page_bytes = PB, .create = true};
    /* This machine's own answer. */
    regio__test_atomic_unit_bytes = 0;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    enum regio_pager_torn got = regio_pager_torn(p);
    CHECK(got == REGIO_PAGER_TORN_DOUBLEWRITE || got == REGIO_PAGER_TORN_ATOMIC);
    fprintf(stderr, "this device: %s\n",
            got == REGIO_PAGER_TORN_ATOMIC ? "atomic writes" : "doublewrite");
    CHECK_OK(regio_pager_close(p));
    if (got == REGIO_PAGER_TORN_DOUBLEWRITE) {
        po.torn = REGIO_PAGER_TORN_ATOMIC;
        CHECK_EQ(regio_pager_open(v->e, path, &po, &p), -EOPNOTSUPP);
        CHECK(strstr(regio_error_detail(), "atomic write unit") != NULL);
    }
    /* A unit smaller than the page: fall back to the doublewrite area. */
    regio__test_atomic_unit_bytes = 2048;
    po.torn = REGIO_PAGER_TORN_AUTO;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    CHECK_EQ(regio_pager_torn(p), REGIO_PAGER_TORN_DOUBLEWRITE);
    CHECK_OK(regio_pager_close(p));
    /* A unit covering the page: atomic writes. */
    regio__test_atomic_unit_bytes = 65536;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    CHECK_EQ(regio_pager_torn(p), REGIO_PAGER_TORN_ATOMIC);
    CHECK_OK(regio_pager_close(p));
    regio__test_atomic_unit_bytes = 0;
    po.torn = (enum regio_pager_torn)9;
    CHECK_EQ(regio_pager_open(v->e, path, &po, &p), -EINVAL);
    po.torn = REGIO_PAGER_TORN_DOUBLEWRITE;
    po.doublewrite_slots = 100000;
    CHECK_EQ(regio_pager_open(v->e, path, &po, &p), -EINVAL);
}

int main(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("pager_torn"));
    struct env v;
    struct regio_arena_opts ao = {.size_bytes = 8u << 20};
    CHECK_OK(regio_arena_create(&ao, &v.a));
    CHECK_OK(regio_slab_create(v.a, NULL, &v.s));
    CHECK_OK(regio_engine_create(v.a, v.s, NULL, &v.e));
    test_modes(&v, dir);
    struct regio_pager_opts po = {.page_bytes = PB,
                                  .create = true,
                                  .torn = REGIO_PAGER_TORN_DOUBLEWRITE,
                                  .doublewrite_slots = 3};
    powerloss(&v, dir, &po, true);
    regio__test_atomic_unit_bytes = 65536;
    po.torn = REGIO_PAGER_TORN_AUTO;
    powerloss(&v, dir, &po, false);
    regio__test_atomic_unit_bytes = 0;
    CHECK_OK(regio_engine_destroy(v.e));
    CHECK_OK(regio_slab_destroy(v.s));
    CHECK_OK(regio_arena_destroy(v.a));
    test_rmdir_all(dir);
    return 0;
}
