/* regio-test: labels=io timeout=180 */
/*
 * tests/test_arena_ring.c: the arena's regions registered with real rings.
 * A READ_FIXED from an O_DIRECT file lands in region 1 through buffer index
 * 1; a second ring shares the registration by cloning where the kernel can;
 * and an unprivileged process with a small RLIMIT_MEMLOCK is refused with
 * both numbers named.
 */
#include <fcntl.h>
#include <liburing.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MIB      ((size_t)1 << 20)
#define IO_BYTES (64 * 1024)

static int ring_init(struct io_uring *ring)
{
    int r = io_uring_queue_init(8, ring, 0);
    if (r == -ENOSYS || r == -EPERM)
        SKIP("io_uring unavailable: %s", strerror(-r));
    return r;
}

/* One READ_FIXED of len bytes at file offset 0 into dst, using buffer
 * index buf_index; returns the completion result. */
static int read_fixed(struct io_uring *ring, int fd, void *dst, unsigned len, int buf_index)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    CHECK(sqe != NULL);
    io_uring_prep_read_fixed(sqe, fd, dst, len, 0, buf_index);
    CHECK_EQ(io_uring_submit(ring), 1);
    struct io_uring_cqe *cqe;
    CHECK_EQ(io_uring_wait_cqe(ring, &cqe), 0);
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

/* A file of IO_BYTES holding a known pattern, opened O_DIRECT. */
static int pattern_file(const char *dir, uint8_t *pattern)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/data", dir);
    for (size_t i = 0; i < IO_BYTES; i++)
        pattern[i] = (uint8_t)(i * 131 + 7);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(pwrite(fd, pattern, IO_BYTES, 0), IO_BYTES);
    CHECK_EQ(fsync(fd), 0);
    close(fd);
    fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0 && errno == EINVAL)
        SKIP("O_DIRECT not supported on %s", dir);
    CHECK(fd >= 0);
    return fd;
}

static bool kernel_at_least(int major, int minor)
{
    struct utsname u;
    CHECK_EQ(uname(&u), 0);
    int ma = 0, mi = 0;
    sscanf(u.release, "%d.%d", &ma, &mi);
    return ma > major || (ma == major && mi >= minor);
}

static void test_read_fixed_and_clone(const char *dir)
{
    static uint8_t pattern[IO_BYTES];
    int fd = pattern_file(dir, pattern);

    struct regio_arena_opts o = {.size_bytes = 4 * MIB, .region_bytes = 2 * MIB};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&o, &a));
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.region_count, 2);
    uint8_t *region1 = (uint8_t *)st.base + 2 * MIB;

    struct io_uring r1, r2;
    CHECK_OK(ring_init(&r1));
    CHECK_OK(regio_arena_register_ring(a, r1.ring_fd));

    /* Buffer index 1 is region 1; index 0 does not cover region 1. */
    uint8_t *dst = region1 + 2 * MIB - IO_BYTES; /* the last bytes of region 1 */
    memset(dst, 0, IO_BYTES);
    CHECK_EQ(read_fixed(&r1, fd, dst, IO_BYTES, 1), IO_BYTES);
    CHECK(memcmp(dst, pattern, IO_BYTES) == 0);
    CHECK_EQ(read_fixed(&r1, fd, dst, IO_BYTES, 0), -EFAULT);
    CHECK_EQ(read_fixed(&r1, fd, region1 - 4096, 8192, 1), -EFAULT);

    /* A second ring: cloned where the kernel can (6.12+), no new pinning. */
    CHECK_OK(ring_init(&r2));
    CHECK_OK(regio_arena_register_ring(a, r2.ring_fd));
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 2);
    bool clone_expected = kernel_at_least(6, 12);
    CHECK_EQ(st.clones, clone_expected ? 1 : 0);
    CHECK_EQ(st.pinned_bytes, clone_expected ? 4 * MIB : 8 * MIB);
    CHECK_EQ(regio_arena_destroy(a), -EBUSY);

    /* The first ring leaves; the clone still reaches both regions. */
    CHECK_OK(regio_arena_unregister_ring(a, r1.ring_fd));
    memset(st.base, 0, IO_BYTES);
    CHECK_EQ(read_fixed(&r2, fd, st.base, IO_BYTES, 0), IO_BYTES);
    CHECK(memcmp(st.base, pattern, IO_BYTES) == 0);
    memset(dst, 0, IO_BYTES);
    CHECK_EQ(read_fixed(&r2, fd, dst, IO_BYTES, 1), IO_BYTES);
    CHECK(memcmp(dst, pattern, IO_BYTES) == 0);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 1);
    CHECK_EQ(st.pinned_bytes, 4 * MIB);
    CHECK_EQ(regio_arena_destroy(a), -EBUSY);

    /* After unregistering, the ring has no fixed buffers any more. */
    CHECK_OK(regio_arena_unregister_ring(a, r2.ring_fd));
    CHECK(read_fixed(&r2, fd, dst, IO_BYTES, 1) < 0);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 0);
    CHECK_EQ(st.pinned_bytes, 0);
    io_uring_queue_exit(&r1);
    io_uring_queue_exit(&r2);
    close(fd);
    CHECK_OK(regio_arena_destroy(a));
    printf("read_fixed and clone: ok (%s, clone %s)\n", regio_pages_name(st.pages),
           clone_expected ? "used" : "not offered by this kernel");
}

/* Child body: 4 MiB arena, a 1 MiB RLIMIT_MEMLOCK, and, when root, uid
 * nobody (which drops CAP_IPC_LOCK). Exit 0 when the refusal is right. */
static int memlock_child(void)
{
    struct regio_arena_opts o = {.size_bytes = 4 * MIB, .region_bytes = 2 * MIB};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&o, &a));
    struct rlimit rl = {.rlim_cur = 1 * MIB, .rlim_max = 1 * MIB};
    CHECK_EQ(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
    if (geteuid() == 0) {
        CHECK_EQ(setresgid(65534, 65534, 65534), 0);
        CHECK_EQ(setresuid(65534, 65534, 65534), 0);
    }
    struct io_uring ring;
    int r = io_uring_queue_init(4, &ring, 0);
    if (r < 0) {
        fprintf(stderr, "unprivileged io_uring_queue_init: %s\n", strerror(-r));
        return 77;
    }
    CHECK_EQ(regio_arena_register_ring(a, ring.ring_fd), -ENOMEM);
    const char *d = regio_error_detail();
    fprintf(stderr, "refusal: %s\n", d);
    CHECK(strstr(d, "4194304") != NULL);
    CHECK(strstr(d, "1048576") != NULL);
    struct regio_arena_stats st;
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.registrations, 0);
    io_uring_queue_exit(&ring);
    CHECK_OK(regio_arena_destroy(a));
    return 0;
}

static void test_memlock_refusal(void)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(memlock_child());
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        SKIP("unprivileged io_uring disabled (kernel.io_uring_disabled)");
    CHECK_EQ(WEXITSTATUS(status), 0);
    printf("memlock refusal: ok\n");
}

int main(void)
{
    const char *dir = test_tmpdir("arena_ring");
    test_read_fixed_and_clone(dir);
    test_rmdir_all(dir);
    test_memlock_refusal();
    return 0;
}
