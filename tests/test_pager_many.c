/* regio-test: labels=io,mt timeout=300 */
/*
 * tests/test_pager_many.c: many pages in one blocking call, and the page
 * LSN of trailer format 2.
 *
 * - regio_pager_write_many_wait / read_many_wait on an engine that accepts
 *   only 8 requests at once (so the batch of 200 must reap and retry on
 *   -EAGAIN), owned and shared; a result per page, with a corrupted page, a
 *   never-written page, a page past the end and a freed buffer among the
 *   good ones, and the return value counting exactly those.
 * - The page LSN stored with regio_pager_set_image_lsn reads back with the page,
 *   and is covered by the checksum.
 * - A page of format 1 (16-byte trailer) is told apart: -EPROTO with a
 *   detail, not -EBADMSG.
 */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <xxhash.h>

#include "check.h"
#include "regio.h"

enum { N = 200, PB = 4096 };

struct env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
};

static void fill(void *p, size_t n, uint64_t page_no, uint64_t version)
{
    uint64_t st = page_no * 1000003 + version;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v = test_rand(&st);
        memcpy((char *)p + i, &v, 8);
    }
}

static void env_open(struct env *v, bool shared)
{
    struct regio_arena_opts ao = {.size_bytes = 8u << 20};
    CHECK_OK(regio_arena_create(&ao, &v->a));
    CHECK_OK(regio_slab_create(v->a, NULL, &v->s));
    struct regio_engine_opts eo = {.queue_depth = 8, .max_in_flight = 8, .shared = shared};
    CHECK_OK(regio_engine_create(v->a, v->s, &eo, &v->e));
}

static void env_close(struct env *v)
{
    CHECK_OK(regio_engine_destroy(v->e));
    CHECK_OK(regio_slab_destroy(v->s));
    CHECK_OK(regio_arena_destroy(v->a));
}

static void corrupt_page(const char *path, uint64_t page_no)
{
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t b[PB];
    CHECK_EQ(pread(fd, b, PB, (off_t)(page_no * PB)), PB);
    b[17] ^= 0x40;
    CHECK_EQ(pwrite(fd, b, PB, (off_t)(page_no * PB)), PB);
    close(fd);
}

static void test_many(const char *dir, bool shared)
{
    struct env v;
    env_open(&v, shared);
    char path[600];
    snprintf(path, sizeof(path), "%s/many-%s", dir, shared ? "shared" : "owned");
    struct regio_pager_opts po = {.page_bytes = PB, .create = true};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v.e, path, &po, &p));
    size_t payload = regio_pager_payload_bytes(p);
    static struct regio_buf bufs[N];
    static uint64_t nos[N];
    static int res[N];
    for (int i = 0; i < N; i++) {
        CHECK_OK(regio_slab_alloc(v.s, PB, &bufs[i]));
        nos[i] = (uint64_t)(N - 1 - i); /* reverse order */
        fill(bufs[i].data, payload, nos[i], 1);
        CHECK_OK(regio_pager_set_image_lsn(bufs[i].data, PB, 1000 + nos[i]));
        res[i] = 12345;
    }
    CHECK_EQ(regio_pager_write_many_wait(p, nos, bufs, res, N), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(res[i], PB);
    CHECK_OK(regio_pager_sync(p));
    CHECK_EQ(regio_engine_in_flight(v.e), 0);

    /* Bad pages among good ones: page 7 corrupted on disk, page N+3 past
     * the end; the last buffer freed (refused when queued). */
    corrupt_page(path, 7);
    for (int i = 0; i < N; i++) {
        nos[i] = (uint64_t)i;
        memset(bufs[i].data, 0xee, PB);
        res[i] = 12345;
    }
    nos[50] = N + 3;
    struct regio_buf freed = bufs[N - 1];
    CHECK_OK(regio_slab_free(v.s, freed));
    CHECK_EQ(regio_pager_read_many_wait(p, nos, bufs, res, N), 3);
    for (int i = 0; i < N - 1; i++) {
        if (i == 7) {
            CHECK_EQ(res[i], -EBADMSG);
        } else if (i == 50) {
            CHECK_EQ(res[i], -ENXIO); /* past the end, not a hole */
            for (int k = 0; k < PB; k++)
                CHECK(((uint8_t *)bufs[i].data)[k] == 0);
        } else {
            CHECK_EQ(res[i], PB);
            char want[PB];
            fill(want, payload, (uint64_t)i, 1);
            CHECK(memcmp(bufs[i].data, want, payload) == 0);
            CHECK_EQ(regio_pager_image_lsn(bufs[i].data, PB), 1000 + i);
        }
    }
    CHECK(res[N - 1] < 0 && res[N - 1] != 12345);

    /* Rewrite page 7 in a batch of one with a new LSN: healed. */
    CHECK_OK(regio_slab_alloc(v.s, PB, &bufs[N - 1]));
    fill(bufs[0].data, payload, 7, 2);
    CHECK_OK(regio_pager_set_image_lsn(bufs[0].data, PB, 77777));
    uint64_t seven = 7;
    CHECK_EQ(regio_pager_write_many_wait(p, &seven, bufs, res, 1), 0);
    memset(bufs[1].data, 0, PB);
    CHECK_EQ(regio_pager_read_wait(p, 7, bufs[1]), PB);
    CHECK_EQ(regio_pager_image_lsn(bufs[1].data, PB), 77777);
    CHECK_OK(regio_pager_verify_image(bufs[1].data, PB, 7));
    /* The LSN is under the checksum. */
    CHECK_OK(regio_pager_set_image_lsn(bufs[1].data, PB, 77778));
    CHECK_EQ(regio_pager_verify_image(bufs[1].data, PB, 7), -EBADMSG);

    /* Argument errors queue nothing. */
    CHECK_EQ(regio_pager_read_many_wait(NULL, nos, bufs, res, 1), -EINVAL);
    CHECK_EQ(regio_pager_read_many_wait(p, NULL, bufs, res, 1), -EINVAL);
    CHECK_EQ(regio_pager_write_many_wait(p, nos, bufs, NULL, 1), -EINVAL);
    CHECK_EQ(regio_pager_read_many_wait(p, NULL, NULL, NULL, 0), 0);
    CHECK_EQ(regio_pager_set_image_lsn(NULL, PB, 1), -EINVAL);
    CHECK_EQ(regio_pager_set_image_lsn(bufs[0].data, 5000, 1), -EINVAL);

    for (int i = 0; i < N; i++)
        CHECK_OK(regio_slab_free(v.s, bufs[i]));
    CHECK_OK(regio_pager_close(p));
    env_close(&v);
}

/* Format 1: payload of PB-16 bytes, XXH3-64 seeded with the page number,
 * then the page number. The pager reports such a page as -EPROTO. */
static void test_format1(const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/format1", dir);
    uint8_t page[PB];
    fill(page, PB - 16, 3, 9);
    uint64_t sum = XXH3_64bits_withSeed(page, PB - 16, 3), no = 3;
    memcpy(page + PB - 16, &sum, 8); /* little-endian host */
    memcpy(page + PB - 8, &no, 8);
    CHECK_EQ(regio_pager_verify_image(page, PB, 3), -EPROTO);
    CHECK(strstr(regio_error_detail(), "format 1") != NULL);
    CHECK_EQ(regio_pager_verify_image(page, PB, 4), -EBADMSG);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(pwrite(fd, page, PB, 3 * PB), PB);
    close(fd);

    struct env v;
    env_open(&v, false);
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v.e, path, NULL, &p));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, PB, &b));
    CHECK_EQ(regio_pager_read_wait(p, 3, b), -EPROTO);
    CHECK_EQ(regio_pager_read_wait(p, 2, b), -ENODATA);
    CHECK_OK(regio_slab_free(v.s, b));
    CHECK_OK(regio_pager_close(p));
    env_close(&v);
}

int main(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("pager_many"));
    test_many(dir, false);
    test_many(dir, true);
    test_format1(dir);
    test_rmdir_all(dir);
    return 0;
}
