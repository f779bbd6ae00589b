/* regio-test: labels=io timeout=300 */
/*
 * tests/test_pager.c: page files of 4 KiB and 16 KiB pages: batches of 64+
 * pages written and read back in one submit each, a flipped byte and a
 * misdirected page caught (-EBADMSG), never-written and past-the-end pages
 * (-ENODATA / -ENXIO, zeros), size calls, close while busy, bad arguments; the
 * checksums on disk are the plain XXH3 values whichever XXH3 entry points
 * the process uses; truncate and extend under a simulated power loss.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include "check.h"
#include "engine_internal.h"
#include "hash_internal.h"
#include "regio.h"
#include "regio/testing.h"

struct env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
};

struct result {
    int calls;
    int res;
};

static void res_cb(void *ctx, int res)
{
    struct result *r = ctx;
    r->calls++;
    r->res = res;
}

static void fill_payload(void *p, size_t n, uint64_t page_no)
{
    uint64_t st = page_no * 31 + 7;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v = test_rand(&st);
        memcpy((char *)p + i, &v, 8);
    }
}

static void test_batches(struct env *v, const char *path, uint32_t page_bytes)
{
    /* Detect only: the batch goes to the ring in one submit, with no
     * doublewrite copies first (tests/test_pager_torn.c tests those). */
    struct regio_pager_opts po = {
        .page_bytes = page_bytes, .create = true, .torn = REGIO_PAGER_TORN_DETECT};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    CHECK_EQ(regio_pager_page_bytes(p), page_bytes);
    size_t payload = regio_pager_payload_bytes(p);
    CHECK_EQ(payload, page_bytes - REGIO_PAGE_TRAILER_BYTES);

    enum { N = 96 };
    struct regio_buf bufs[N];
    struct result r[N];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < N; i++) {
        CHECK_OK(regio_slab_alloc(v->s, page_bytes, &bufs[i]));
        fill_payload(bufs[i].data, payload, (uint64_t)i);
        CHECK_OK(regio_pager_write(p, (uint64_t)i, bufs[i], res_cb, &r[i]));
    }
    /* One submit for the batch. */
    CHECK_EQ(regio_engine_submit(v->e), N);
    CHECK_OK(regio_engine_drain(v->e, -1));
    for (int i = 0; i < N; i++) {
        CHECK_EQ(r[i].calls, 1);
        CHECK_EQ(r[i].res, page_bytes);
    }
    CHECK_OK(regio_pager_sync(p));
    uint64_t count = 0;
    CHECK_OK(regio_pager_page_count(p, &count));
    CHECK_EQ(count, N);

    /* Read back in reverse, as one batch. */
    memset(r, 0, sizeof(r));
    for (int i = 0; i < N; i++) {
        memset(bufs[i].data, 0xee, page_bytes);
        CHECK_OK(regio_pager_read(p, (uint64_t)(N - 1 - i), bufs[i], res_cb, &r[i]));
    }
    CHECK_EQ(regio_engine_submit(v->e), N);
    CHECK_OK(regio_engine_drain(v->e, -1));
    char *want = malloc(payload);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(r[i].res, page_bytes);
        fill_payload(want, payload, (uint64_t)(N - 1 - i));
        CHECK(memcmp(bufs[i].data, want, payload) == 0);
        CHECK_OK(regio_pager_verify_image(bufs[i].data, page_bytes, (uint64_t)(N - 1 - i)));
    }
    free(want);

    /* Never written (inside the file after extend) and past the end. */
    CHECK_OK(regio_pager_extend(p, N + 50));
    CHECK_OK(regio_pager_page_count(p, &count));
    CHECK_EQ(count, N + 50);
    memset(bufs[0].data, 0xee, page_bytes);
    CHECK_EQ(regio_pager_read_wait(p, N + 10, bufs[0]), -ENODATA);
    for (uint32_t k = 0; k < page_bytes; k++)
        CHECK(((uint8_t *)bufs[0].data)[k] == 0);
    memset(bufs[0].data, 0xee, page_bytes);
    CHECK_EQ(regio_pager_read_wait(p, 100000, bufs[0]), -ENXIO);
    for (uint32_t k = 0; k < page_bytes; k++)
        CHECK(((uint8_t *)bufs[0].data)[k] == 0);
    CHECK_OK(regio_pager_truncate(p, N));
    CHECK_OK(regio_pager_page_count(p, &count));
    CHECK_EQ(count, N);

    /* A flipped byte, and a page copied to the wrong place, from outside. */
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t *page = malloc(page_bytes);
    CHECK_EQ(pread(fd, page, page_bytes, 3 * (off_t)page_bytes), page_bytes);
    page[100] ^= 0x10;
    CHECK_EQ(pwrite(fd, page, page_bytes, 3 * (off_t)page_bytes), page_bytes);
    CHECK_EQ(pread(fd, page, page_bytes, 5 * (off_t)page_bytes), page_bytes);
    CHECK_EQ(pwrite(fd, page, page_bytes, 6 * (off_t)page_bytes), page_bytes);
    /* A flip inside the trailer is caught too. */
    CHECK_EQ(pread(fd, page, page_bytes, 7 * (off_t)page_bytes), page_bytes);
    page[page_bytes - 3] ^= 1;
    CHECK_EQ(pwrite(fd, page, page_bytes, 7 * (off_t)page_bytes), page_bytes);
    CHECK_EQ(fsync(fd), 0);
    close(fd);
    free(page);
    CHECK_EQ(regio_pager_read_wait(p, 3, bufs[0]), -EBADMSG);
    CHECK_EQ(regio_pager_read_wait(p, 6, bufs[0]), -EBADMSG);
    CHECK_EQ(regio_pager_read_wait(p, 7, bufs[0]), -EBADMSG);
    CHECK_EQ(regio_pager_read_wait(p, 5, bufs[0]), (int)page_bytes);
    /* Rewriting the page heals it. */
    fill_payload(bufs[0].data, payload, 3);
    CHECK_EQ(regio_pager_write_wait(p, 3, bufs[0]), (int)page_bytes);
    CHECK_EQ(regio_pager_read_wait(p, 3, bufs[0]), (int)page_bytes);

    /* Close while busy, then after the drain. */
    struct result busy = {0, 0};
    CHECK_OK(regio_pager_read(p, 1, bufs[1], res_cb, &busy));
    CHECK_EQ(regio_pager_close(p), -EBUSY);
    CHECK_EQ(regio_engine_destroy(v->e), -EBUSY); /* a pager is open */
    CHECK_OK(regio_engine_drain(v->e, -1));
    CHECK_EQ(busy.res, page_bytes);
    CHECK_OK(regio_pager_close(p));
    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(v->s, bufs[i]));

    /* Reopened without create: the pages are still there. */
    po.create = false;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v->s, page_bytes, &b));
    CHECK_EQ(regio_pager_read_wait(p, 40, b), (int)page_bytes);
    CHECK_OK(regio_slab_free(v->s, b));
    CHECK_OK(regio_pager_close(p));
}

static void test_args(struct env *v, const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/args", dir);
    struct regio_pager *p;
    static const uint32_t bad[] = {2048, 3 * 4096, 131072, 4097};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct regio_pager_opts po = {.page_bytes = bad[i], .create = true};
        CHECK_EQ(regio_pager_open(v->e, path, &po, &p), -EINVAL);
    }
    struct regio_pager_opts po = {.create = false};
    snprintf(path, sizeof(path), "%s/does-not-exist", dir);
    CHECK_EQ(regio_pager_open(v->e, path, &po, &p), -ENOENT);
    snprintf(path, sizeof(path), "%s/args", dir);
    po.create = true;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p)); /* default 4 KiB */
    CHECK_EQ(regio_pager_page_bytes(p), 4096);
    struct regio_buf small, big;
    CHECK_OK(regio_slab_alloc(v->s, 4096, &big));
    CHECK_OK(regio_buf_view(big, 0, 2048, &small));
    struct result r = {0, 0};
    CHECK_EQ(regio_pager_read(p, 0, small, res_cb, &r), -EINVAL);
    CHECK_EQ(regio_pager_write(p, 0, small, res_cb, &r), -EINVAL);
    struct regio_buf stale;
    CHECK_OK(regio_slab_alloc(v->s, 4096, &stale));
    CHECK_OK(regio_slab_free(v->s, stale));
    CHECK_EQ(regio_pager_write(p, 0, stale, res_cb, &r), -EALREADY); /* freed, not reused */
    CHECK_EQ(r.calls, 0);

    uint8_t zero[4096];
    memset(zero, 0, sizeof(zero));
    CHECK_EQ(regio_pager_verify_image(zero, 4096, 0), -ENODATA);
    zero[9] = 1;
    CHECK_EQ(regio_pager_verify_image(zero, 4096, 0), -EBADMSG);
    CHECK_OK(regio_slab_free(v->s, big));
    CHECK_OK(regio_pager_close(p));
}

/* Every length around XXH3's block and stripe boundaries, through regio's
 * one-shot and streaming entry points, against libxxhash's plain ones. */
static void check_entry_points_agree(void)
{
    static uint8_t data[5000];
    uint64_t st = 99;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)test_rand(&st);
    for (size_t len = 0; len <= sizeof(data); len += len < 300 ? 1 : 37) {
        uint64_t seed = len * 0x9e3779b97f4a7c15ull;
        CHECK(regio__xxh3_64_seed(data, len, seed) == XXH3_64bits_withSeed(data, len, seed));
        CHECK(regio__xxh3_64(data, len) == XXH3_64bits(data, len));
        XXH3_state_t s1;
        XXH3_INITSTATE(&s1);
        CHECK(XXH3_64bits_reset_withSeed(&s1, seed) == XXH_OK);
        size_t third = len / 3;
        CHECK(regio__xxh3_update(&s1, data, third) == XXH_OK);
        CHECK(regio__xxh3_update(&s1, data + third, len - third) == XXH_OK);
        CHECK(XXH3_64bits_digest(&s1) == XXH3_64bits_withSeed(data, len, seed));
    }
}

/* A page written with the entry points in use holds, in its trailer, the
 * value libxxhash's plain function computes over everything before the
 * checksum (format 2: seeded with the page number ^ "REGIPAG2"), and reads
 * back verified. */
static void check_trailer_is_plain(struct env *v, const char *path)
{
    struct regio_pager_opts po = {.page_bytes = 4096, .create = true};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    size_t payload = regio_pager_payload_bytes(p);
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v->s, 4096, &b));
    fill_payload(b.data, payload, 77);
    CHECK_OK(regio_pager_write_wait(p, 5, b));
    uint64_t want = XXH3_64bits_withSeed(b.data, 4096 - 16, 5 ^ 0x3247415049474552ull), got = 0;
    const uint8_t *t = (const uint8_t *)b.data + 4096 - 16;
    for (int i = 7; i >= 0; i--)
        got = (got << 8) | t[i];
    CHECK(got == want);
    memset(b.data, 0, 4096);
    CHECK_OK(regio_pager_read_wait(p, 5, b));
    char *again = malloc(payload);
    CHECK(again != NULL);
    fill_payload(again, payload, 77);
    CHECK(memcmp(b.data, again, payload) == 0);
    free(again);
    CHECK_OK(regio_slab_free(v->s, b));
    CHECK_OK(regio_pager_close(p));
}

/* The choice between libxxhash's plain and dispatching entry points, every
 * branch of its rule (arena/base/hash_internal.h). */
static void check_choice_rule(void)
{
    CHECK_EQ(regio__xxh3_choose(NULL, 2, false, true), REGIO__XXH3_PLAIN);
    CHECK_EQ(regio__xxh3_choose("dispatch", 1, false, true), REGIO__XXH3_PLAIN);
    CHECK_EQ(regio__xxh3_choose(NULL, 2, true, true), REGIO__XXH3_DISPATCH);
    CHECK_EQ(regio__xxh3_choose(NULL, 2, true, false), REGIO__XXH3_PLAIN);
    CHECK_EQ(regio__xxh3_choose(NULL, 1, true, false), REGIO__XXH3_DISPATCH);
    CHECK_EQ(regio__xxh3_choose(NULL, 0, true, true), REGIO__XXH3_PLAIN);
    CHECK_EQ(regio__xxh3_choose("plain", 1, true, true), REGIO__XXH3_PLAIN);
    CHECK_EQ(regio__xxh3_choose("dispatch", 0, true, false), REGIO__XXH3_DISPATCH);
    CHECK_EQ(regio__xxh3_choose("other", 0, true, true), REGIO__XXH3_PLAIN);
}

/* The on-disk formats must not depend on which XXH3 entry points the
 * process uses: both are checked, wherever libxxhash has both. */
static void test_checksum_values(struct env *v, const char *path)
{
    check_choice_rule();
    enum regio__xxh3_impl was = regio__xxh3_current();
    printf("test_pager: checksums through %s\n", regio_checksum_impl());
    static const enum regio__xxh3_impl impls[] = {REGIO__XXH3_PLAIN, REGIO__XXH3_DISPATCH};
    for (size_t i = 0; i < 2; i++) {
        int rc = regio__xxh3_force(impls[i]);
        if (rc == -ENOTSUP) {
            printf("test_pager: this libxxhash has no dispatching XXH3; plain functions only\n");
            continue;
        }
        CHECK_OK(rc);
        CHECK_EQ(regio__xxh3_current(), impls[i]);
        CHECK(strstr(regio_checksum_impl(), i == 0 ? "plain" : "dispatching") != NULL);
        check_entry_points_agree();
        check_trailer_is_plain(v, path);
    }
    CHECK_OK(regio__xxh3_force(was));
}

/* The image a power loss at crash could leave (mode, seed): its length in
 * bytes, and for each whole page among the first n whether it verifies
 * (1), was never written (0) or is damaged (-1). */
static uint64_t image_bytes(struct regio_recording *rec, const char *img, uint64_t crash,
                            enum regio_recording_mode mode, uint64_t seed, int *state, uint64_t n)
{
    int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_OK(regio_recording_write_image(rec, 0, crash, mode, seed, fd));
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    static uint8_t page[4096];
    for (uint64_t i = 0; i < n && (i + 1) * 4096 <= (uint64_t)st.st_size; i++) {
        CHECK_EQ(pread(fd, page, 4096, (off_t)(i * 4096)), 4096);
        int v = regio_pager_verify_image(page, 4096, i);
        state[i] = v == 0 ? 1 : v == -ENODATA ? 0 : -1;
    }
    close(fd);
    return (uint64_t)st.st_size;
}

struct other_thread {
    struct regio_pager *p;
    int truncate_rc, extend_rc;
};

static void *other_thread_main(void *arg)
{
    struct other_thread *t = arg;
    t->truncate_rc = regio_pager_truncate(t->p, 0);
    t->extend_rc = regio_pager_extend(t->p, 100);
    return NULL;
}

/* Length changes are engine calls: on an owned engine, another thread gets
 * -EPERM and the file keeps its length. */
static void test_length_other_thread(struct env *v, const char *path)
{
    struct regio_pager_opts po = {.page_bytes = 4096, .create = true};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    CHECK_OK(regio_pager_truncate(p, 0));
    CHECK_OK(regio_pager_extend(p, 5));
    struct other_thread t = {p, 0, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, other_thread_main, &t) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_EQ(t.truncate_rc, -EPERM);
    CHECK_EQ(t.extend_rc, -EPERM);
    uint64_t n = 0;
    CHECK_OK(regio_pager_page_count(p, &n));
    CHECK_EQ(n, 5);
    CHECK_OK(regio_pager_close(p));
}

/*
 * Length changes under a simulated power loss. Eight pages are written and
 * synced; then, recorded: truncate to 3 (A), sync (B), extend to 10 (C),
 * write page 9 (D), no sync. Before its sync a length change may or may
 * not survive, as a whole; after it, it must. A page that was synced must
 * survive unless a durable truncate removed it.
 */
static void test_powerloss_length(struct env *v, const char *path, const char *img)
{
    struct regio_pager_opts po = {
        .page_bytes = 4096, .create = true, .torn = REGIO_PAGER_TORN_DETECT};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v->e, path, &po, &p));
    CHECK_OK(regio_pager_truncate(p, 0));
    size_t payload = regio_pager_payload_bytes(p);
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v->s, 4096, &b));
    for (uint64_t i = 0; i < 8; i++) {
        fill_payload(b.data, payload, i);
        CHECK_OK(regio_pager_write_wait(p, i, b));
    }
    CHECK_OK(regio_pager_sync(p));

    CHECK_OK(regio_engine_record_start(v->e));
    CHECK_OK(regio_pager_truncate(p, 3));
    uint64_t a = regio_engine_record_seq(v->e);
    CHECK_OK(regio_pager_sync(p));
    uint64_t bseq = regio_engine_record_seq(v->e);
    CHECK_OK(regio_pager_extend(p, 10));
    uint64_t c = regio_engine_record_seq(v->e);
    fill_payload(b.data, payload, 9);
    CHECK_OK(regio_pager_write_wait(p, 9, b)); /* a plain write: not durable */
    uint64_t d = regio_engine_record_seq(v->e);
    struct regio_recording *rec;
    CHECK_OK(regio_engine_record_stop(v->e, &rec));
    CHECK_EQ(regio_recording_file_count(rec), 1);

    int st[10];
    /* A: the truncate is not durable; dropped, all 8 synced pages remain. */
    CHECK_EQ(image_bytes(rec, img, a, REGIO_RECORDING_DROP, 0, st, 8), 8 * 4096);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(st[i], 1);
    CHECK_EQ(image_bytes(rec, img, a, REGIO_RECORDING_KEEP, 0, st, 3), 3 * 4096);
    /* B: synced, so kept in every mode. */
    CHECK_EQ(image_bytes(rec, img, bseq, REGIO_RECORDING_DROP, 0, st, 3), 3 * 4096);
    CHECK_EQ(image_bytes(rec, img, bseq, REGIO_RECORDING_KEEP, 0, st, 3), 3 * 4096);
    /* C: the extension may be lost; kept, it adds never-written pages. */
    CHECK_EQ(image_bytes(rec, img, c, REGIO_RECORDING_DROP, 0, st, 3), 3 * 4096);
    CHECK_EQ(image_bytes(rec, img, c, REGIO_RECORDING_KEEP, 0, st, 10), 10 * 4096);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(st[i], i < 3 ? 1 : 0);
    /* D: page 9 is there only if its write is kept; at random, the length
     * is one of the two and the first three pages always verify. */
    CHECK_EQ(image_bytes(rec, img, d, REGIO_RECORDING_KEEP, 0, st, 10), 10 * 4096);
    CHECK_EQ(st[9], 1);
    CHECK_EQ(image_bytes(rec, img, d, REGIO_RECORDING_DROP, 0, st, 3), 3 * 4096);
    /* At random: the extension survived (10 pages), or it did not and the
     * write of page 9 was dropped (3 pages) or kept in part, sectors from
     * the start of page 9 extending the file as a write past the end does.
     * The synced pages always verify. */
    int lengths_seen = 0;
    for (uint64_t seed = 1; seed <= 32; seed++) {
        uint64_t n = image_bytes(rec, img, d, REGIO_RECORDING_RANDOM, seed, st, 10);
        CHECK(n == 3 * 4096 || (n > 9 * 4096 && n <= 10 * 4096 && n % 512 == 0));
        lengths_seen |= n == 3 * 4096 ? 1 : n == 10 * 4096 ? 2 : 4;
        for (int i = 0; i < 3; i++)
            CHECK_EQ(st[i], 1);
    }
    CHECK(lengths_seen & 1 && lengths_seen & 2); /* both whole outcomes occur */
    regio_recording_destroy(rec);

    /* A length change whose system call failed never happened, in any mode:
     * logged through the pager's own hooks, on a second handle of the file
     * (the recording knows a file by device and inode). */
    struct regio_file *f2;
    CHECK_OK(regio_file_open(v->e, path, O_RDWR, 0, &f2));
    CHECK_OK(regio_engine_record_start(v->e));
    regio__rec_complete(v->e, regio__rec_resize(v->e, f2, 40 * 4096, true), -EFBIG);
    regio__rec_complete(v->e, regio__rec_resize(v->e, f2, 4096, false), -EIO);
    uint64_t e = regio_engine_record_seq(v->e);
    CHECK_OK(regio_engine_record_stop(v->e, &rec));
    CHECK_OK(regio_file_close(f2));
    CHECK_EQ(image_bytes(rec, img, e, REGIO_RECORDING_KEEP, 0, st, 10), 10 * 4096);
    for (uint64_t seed = 0; seed < 8; seed++)
        CHECK_EQ(image_bytes(rec, img, e, REGIO_RECORDING_RANDOM, seed, st, 0), 10 * 4096);
    regio_recording_destroy(rec);
    unlink(img);
    CHECK_OK(regio_slab_free(v->s, b));
    CHECK_OK(regio_pager_close(p));
}

int main(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("pager"));
    struct env v;
    struct regio_arena_opts ao = {.size_bytes = 32u << 20};
    CHECK_OK(regio_arena_create(&ao, &v.a));
    struct regio_slab_opts so;
    memset(&so, 0, sizeof(so));
    CHECK_OK(regio_slab_create(v.a, &so, &v.s));
    CHECK_OK(regio_engine_create(v.a, v.s, NULL, &v.e));
    char path[600];
    snprintf(path, sizeof(path), "%s/pages4k", dir);
    test_batches(&v, path, 4096);
    snprintf(path, sizeof(path), "%s/pages16k", dir);
    test_batches(&v, path, 16384);
    test_args(&v, dir);
    snprintf(path, sizeof(path), "%s/checksums", dir);
    test_checksum_values(&v, path);
    char img[600];
    snprintf(path, sizeof(path), "%s/lengths", dir);
    snprintf(img, sizeof(img), "%s/lengths.img", dir);
    test_powerloss_length(&v, path, img);
    snprintf(path, sizeof(path), "%s/lengths-thread", dir);
    test_length_other_thread(&v, path);
    CHECK_OK(regio_engine_destroy(v.e));
    CHECK_OK(regio_slab_destroy(v.s));
    CHECK_OK(regio_arena_destroy(v.a));
    test_rmdir_all(dir);
    return 0;
}
