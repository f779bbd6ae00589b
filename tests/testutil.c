/* tests/testutil.c: helpers shared by the test programs (see check.h). */
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void test_rmdir_all(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_tmpdir(const char *test_name)
{
    static char path[PATH_MAX];
    const char *root = getenv("REGIO_TEST_DIR");
    if (root == NULL || root[0] == '\0')
        root = "/var/tmp";
    snprintf(path, sizeof(path), "%s/regio-test-%s-%d", root, test_name, (int)getpid());
    test_rmdir_all(path);
    if (mkdir(path, 0700) != 0) {
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return path;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t test_seed(void)
{
    const char *env = getenv("REGIO_TEST_SEED");
    uint64_t seed;
    if (env != NULL && env[0] != '\0') {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    }
    fprintf(stderr, "seed: REGIO_TEST_SEED=%llu\n", (unsigned long long)seed);
    return seed;
}
