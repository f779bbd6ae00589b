/* regio-test: labels=unit timeout=120 */
/*
 * tests/test_arena.c: arena geometry and bookkeeping: region math at every
 * edge, bad sizes, destroy refused while a user or a registration remains,
 * the chunk allocator and the page-descriptor table.
 */
#include <liburing.h>
#include <unistd.h>

#include "check.h"
#include "arena_internal.h"

#define MIB ((size_t)1 << 20)

static struct regio_arena *make(size_t size, size_t region, enum regio_pages pages)
{
    struct regio_arena_opts o = {.size_bytes = size, .region_bytes = region, .pages = pages};
    struct regio_arena *a = NULL;
    CHECK_OK(regio_arena_create(&o, &a));
    CHECK(a != NULL);
    return a;
}

/* Every region: first byte, last byte, the whole region, straddles of the
 * boundaries on both sides, one byte before the arena and one after. */
static void check_region_math(struct regio_arena *a)
{
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(a, &st));
    uint8_t *base = st.base;
    size_t rb = st.region_bytes;
    CHECK_EQ((uintptr_t)base % (2 * MIB), 0);
    for (uint32_t i = 0; i < st.region_count; i++) {
        uint8_t *r = base + (size_t)i * rb;
        size_t len = i + 1 < st.region_count ? rb : st.size_bytes - (size_t)i * rb;
        CHECK_EQ(regio_arena_region_of(a, r, 1), i);
        CHECK_EQ(regio_arena_region_of(a, r + len - 1, 1), i);
        CHECK_EQ(regio_arena_region_of(a, r, len), i);
        CHECK_EQ(regio_arena_region_of(a, r + 4096, len - 4096), i);
        CHECK_EQ(regio_arena_region_of(a, r, len + 1), -EFAULT);
        if (i > 0) {
            CHECK_EQ(regio_arena_region_of(a, r - 1, 2), -EFAULT);
            CHECK_EQ(regio_arena_region_of(a, r - 1, 1), i - 1);
        }
        CHECK_EQ(regio_arena_region_of(a, r, 0), -EINVAL);
    }
    CHECK_EQ(regio_arena_region_of(a, base - 1, 1), -EFAULT);
    CHECK_EQ(regio_arena_region_of(a, base - 1, 2), -EFAULT);
    CHECK_EQ(regio_arena_region_of(a, base + st.size_bytes, 1), -EFAULT);
    CHECK_EQ(regio_arena_region_of(a, base + st.size_bytes - 1, 2), -EFAULT);
    CHECK_EQ(regio_arena_region_of(a, base, st.size_bytes + 1), -EFAULT);
    CHECK_EQ(regio_arena_region_of(a, base + 1, SIZE_MAX), -EFAULT);
    CHECK_EQ(regio_arena_region_of(a, NULL, 1), -EFAULT);
    CHECK_EQ(regio_arena_region_of(NULL, base, 1), -EFAULT);
    if (st.region_count == 1)
        CHECK_EQ(regio_arena_region_of(a, base, st.size_bytes), 0);
    else
        CHECK_EQ(regio_arena_region_of(a, base, st.size_bytes), -EFAULT);
}

static void test_region_math(void)
{
    /* One region (default region_bytes = size). */
    struct regio_arena *a = make(4 * MIB, 0, REGIO_PAGES_NORMAL);
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.region_count, 1);
    CHECK_EQ(st.region_bytes, 4 * MIB);
    check_region_math(a);
    CHECK_OK(regio_arena_destroy(a));

    /* Several regions, power-of-two size. */
    a = make(16 * MIB, 4 * MIB, REGIO_PAGES_NORMAL);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.region_count, 4);
    check_region_math(a);
    CHECK_OK(regio_arena_destroy(a));

    /* Region size not a power of two, and a shorter last region. */
    a = make(14 * MIB, 6 * MIB, REGIO_PAGES_AUTO);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.region_count, 3);
    CHECK_EQ(st.size_bytes, 14 * MIB);
    check_region_math(a);
    CHECK_OK(regio_arena_destroy(a));

    /* Size rounded up to 2 MiB. */
    a = make(3 * MIB + 1, 0, REGIO_PAGES_NORMAL);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.size_bytes, 4 * MIB);
    CHECK_EQ(st.region_bytes, 4 * MIB);
    check_region_math(a);
    CHECK_OK(regio_arena_destroy(a));
}

static void test_bad_sizes(void)
{
    struct regio_arena *a = (struct regio_arena *)0x1;
    struct regio_arena_opts o = {0};
    CHECK_EQ(regio_arena_create(&o, &a), -EINVAL);
    CHECK(a == (struct regio_arena *)0x1);
    o.size_bytes = 8 * MIB;
    o.region_bytes = 3 * MIB;
    CHECK_EQ(regio_arena_create(&o, &a), -EINVAL);
    CHECK(strstr(regio_error_detail(), "2 MiB") != NULL);
    o.region_bytes = 4096;
    CHECK_EQ(regio_arena_create(&o, &a), -EINVAL);
    o.region_bytes = 1024 * MIB + 2 * MIB;
    CHECK_EQ(regio_arena_create(&o, &a), -EINVAL);
    o.region_bytes = 0;
    o.size_bytes = SIZE_MAX;
    CHECK_EQ(regio_arena_create(&o, &a), -EINVAL);
    o.size_bytes = 8 * MIB;
    o.pages = (enum regio_pages)7;
    CHECK_EQ(regio_arena_create(&o, &a), -EINVAL);
    o.pages = REGIO_PAGES_NORMAL;
    CHECK_EQ(regio_arena_create(NULL, &a), -EINVAL);
    CHECK_EQ(regio_arena_create(&o, NULL), -EINVAL);
    CHECK(a == (struct regio_arena *)0x1);
    CHECK_EQ(regio_arena_destroy(NULL), -EINVAL);
    CHECK_EQ(regio_arena_stats(NULL, NULL), -EINVAL);

    /* Exactly 1 GiB regions are allowed (reserved address space only is
     * not enough: the arena prefaults, so keep the arena itself small). */
    o.size_bytes = 2 * MIB;
    o.region_bytes = 1024 * MIB;
    CHECK_OK(regio_arena_create(&o, &a));
    CHECK_EQ(regio__arena_region_count(a), 1);
    CHECK_OK(regio_arena_destroy(a));
}

static void test_destroy_busy(void)
{
    struct regio_arena *a = make(4 * MIB, 2 * MIB, REGIO_PAGES_NORMAL);
    regio__arena_user_get(a);
    regio__arena_user_get(a);
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.users, 2);
    CHECK_EQ(regio_arena_destroy(a), -EBUSY);
    regio__arena_user_put(a);
    CHECK_EQ(regio_arena_destroy(a), -EBUSY);
    regio__arena_user_put(a);

    /* A ring registration keeps it alive too. */
    struct io_uring ring;
    int r = io_uring_queue_init(4, &ring, 0);
    if (r < 0)
        SKIP("io_uring_queue_init: %s", strerror(-r));
    CHECK_OK(regio_arena_register_ring(a, ring.ring_fd));
    CHECK_EQ(regio_arena_register_ring(a, ring.ring_fd), -EEXIST);
    CHECK_EQ(regio_arena_register_ring(a, -1), -EBADF);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 1);
    CHECK_EQ(st.pinned_bytes, 4 * MIB);
    CHECK_EQ(regio_arena_destroy(a), -EBUSY);
    CHECK(strstr(regio_error_detail(), "1 ring registrations") != NULL);
    CHECK_EQ(regio_arena_unregister_ring(a, ring.ring_fd + 100), -ENOENT);
    CHECK_OK(regio_arena_unregister_ring(a, ring.ring_fd));
    CHECK_EQ(regio_arena_unregister_ring(a, ring.ring_fd), -ENOENT);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 0);
    CHECK_EQ(st.pinned_bytes, 0);

    /* Not a ring: the kernel refuses and nothing is recorded. */
    int pipefd[2];
    CHECK_EQ(pipe(pipefd), 0);
    CHECK(regio_arena_register_ring(a, pipefd[0]) < 0);
    CHECK(regio_error_detail()[0] != '\0');
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 0);
    close(pipefd[0]);
    close(pipefd[1]);

    /* A ring closed before unregistering took its buffers with it: the
     * entry is dropped (with the error reported), so destroy can proceed. */
    CHECK_OK(regio_arena_register_ring(a, ring.ring_fd));
    int fd = ring.ring_fd;
    io_uring_queue_exit(&ring);
    CHECK_EQ(regio_arena_unregister_ring(a, fd), -EBADF);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 0);
    CHECK_OK(regio_arena_destroy(a));
}

/* Runs never cross a region, exhaustion is -ENOMEM, frees make room again,
 * and the owner table maps every byte of a chunk to its owner. */
static void test_chunks(void)
{
    /* 3 regions of 3 chunks (6 MiB), 9 chunks in all. */
    struct regio_arena *a = make(18 * MIB, 6 * MIB, REGIO_PAGES_NORMAL);
    uint32_t first = 0, runs[3];
    CHECK_EQ(regio__arena_chunks_alloc(a, 0, &first), -EINVAL);
    CHECK_EQ(regio__arena_chunks_alloc(a, 4, &first), -EINVAL);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(regio__arena_chunks_alloc(a, 2, &runs[i]));
        CHECK_EQ(runs[i] / 3, (runs[i] + 1) / 3); /* both chunks in one region */
        uint8_t *p = regio__arena_chunk_ptr(a, runs[i]);
        CHECK_EQ(regio_arena_region_of(a, p, 2 * 2 * MIB), (int)(runs[i] / 3));
    }
    /* One free chunk per region is left: no run of 2 exists anywhere. */
    CHECK_EQ(regio__arena_chunks_alloc(a, 2, &first), -ENOMEM);
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.chunks_total, 9);
    CHECK_EQ(st.chunks_used, 6);
    uint32_t singles[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(regio__arena_chunks_alloc(a, 1, &singles[i]));
    CHECK_EQ(regio__arena_chunks_alloc(a, 1, &first), -ENOMEM);
    /* Chunks are bookkeeping; the slabs holding them count as users. */
    CHECK_OK(regio_arena_destroy(a));

    a = make(18 * MIB, 6 * MIB, REGIO_PAGES_NORMAL);
    CHECK_OK(regio__arena_chunks_alloc(a, 3, &first));
    CHECK_EQ(first % 3, 0);
    int owner_tag[3];
    for (uint32_t i = 0; i < 3; i++)
        regio__arena_chunk_set_owner(a, first + i, &owner_tag[i]);
    uint8_t *p = regio__arena_chunk_ptr(a, first);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK(regio__arena_chunk_owner(a, p + i * 2 * MIB) == &owner_tag[i]);
        CHECK(regio__arena_chunk_owner(a, p + i * 2 * MIB + 2 * MIB - 1) == &owner_tag[i]);
    }
    CHECK(regio__arena_chunk_owner(a, regio__arena_base(a) + regio__arena_size(a)) == NULL);
    CHECK(regio__arena_chunk_owner(a, (uint8_t *)regio__arena_base(a) - 1) == NULL);
    CHECK(regio__arena_chunk_owner(a, NULL) == NULL);
    regio__arena_chunks_free(a, first, 3);
    CHECK(regio__arena_chunk_owner(a, p) == NULL);
    for (int i = 0; i < 3; i++)
        CHECK_OK(regio__arena_chunks_alloc(a, 3, &runs[i]));
    CHECK_EQ(regio__arena_chunks_alloc(a, 1, &first), -ENOMEM);
    regio__arena_chunks_free(a, runs[1], 3);
    CHECK_OK(regio__arena_chunks_alloc(a, 3, &first));
    CHECK_EQ(first, runs[1]);
    CHECK_OK(regio_arena_destroy(a));
}

static void test_names(void)
{
    CHECK(strcmp(regio_pages_name(REGIO_PAGES_AUTO), "auto") == 0);
    CHECK(strcmp(regio_pages_name(REGIO_PAGES_HUGE_2M), "huge-2m") == 0);
    CHECK(strcmp(regio_pages_name(REGIO_PAGES_THP), "thp") == 0);
    CHECK(strcmp(regio_pages_name(REGIO_PAGES_NORMAL), "normal") == 0);
}

/* Every code of the brief has its own message naming the code, for both
 * signs; anything else is still a non-NULL string. */
static void test_strerror(void)
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
        {EFAULT, "EFAULT"},
        {EINVAL, "EINVAL"},
        {ENOBUFS, "ENOBUFS"},
        {ETIMEDOUT, "ETIMEDOUT"},
        {EBUSY, "EBUSY"},
        {ESTALE, "ESTALE"},
        {EALREADY, "EALREADY"},
        {EBADMSG, "EBADMSG"},
        {ENODATA, "ENODATA"},
        {EAGAIN, "EAGAIN"},
        {ECANCELED, "ECANCELED"},
        {ENOMEM, "ENOMEM"},
        {EIO, "EIO"},
        {ENOSPC, "ENOSPC"},
        {EPERM, "EPERM"},
        {EBADF, "EBADF"},
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        const char *m = regio_strerror(-codes[i].code);
        CHECK(m != NULL);
        CHECK(strcmp(m, regio_strerror(codes[i].code)) == 0);
        char want[32];
        snprintf(want, sizeof(want), "(%s)", codes[i].name);
        if (strstr(m, want) == NULL) {
            fprintf(stderr, "regio_strerror(-%s) = \"%s\"\n", codes[i].name, m);
            exit(1);
        }
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(m, regio_strerror(-codes[j].code)) != 0);
    }
    CHECK(strcmp(regio_strerror(0), "success") == 0);
    CHECK(regio_strerror(-123456) != NULL);
    CHECK(strcmp(regio_version(), "0.1.0") == 0);
}

int main(void)
{
    test_region_math();
    test_bad_sizes();
    test_destroy_busy();
    test_chunks();
    test_names();
    test_strerror();
    printf("arena: ok\n");
    return 0;
}
