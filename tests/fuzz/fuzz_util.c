/* tests/fuzz/fuzz_util.c: see fuzz_util.h. */
#include "fuzz_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[512];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_scratch(void)
{
    if (scratch[0] != '\0')
        nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch_dir(void)
{
    if (scratch[0] == '\0') {
        const char *root = getenv("REGIO_TEST_DIR");
        snprintf(scratch, sizeof(scratch), "%s/regio-fuzz-%d",
                 root != NULL && root[0] != '\0' ? root : "/dev/shm", (int)getpid());
        nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        FUZZ_CHECK(mkdir(scratch, 0700) == 0);
        atexit(remove_scratch);
    }
    return scratch;
}

void fuzz_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(n == 0 || write(fd, data, n) == (ssize_t)n);
    close(fd);
}

bool fuzz_rc_in(int rc, const int *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == ok[i])
            return true;
    return false;
}
