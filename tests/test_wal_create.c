/* regio-test: labels=io */
/*
 * tests/test_wal_create.c: a crash while a new log is being created leaves
 * a directory that opens as a new, empty log (nothing could have been
 * acknowledged yet), while a control file without any segment is damage.
 * The states are those a crash can leave between the creation steps:
 * segment 0 prepared (prep-*.tmp), installed, then the control file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define SEG (1024u * 1024u)
#define BUF (64u * 1024u)

static const struct regio_wal_opts opts = {
    .create = true, .segment_bytes = SEG, .buffer_bytes = BUF};

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* Opens as a new log, takes and returns a record. */
static void check_fresh(const char *dir)
{
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &opts, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_EMPTY);
    CHECK_EQ(info.records, 0);
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "hello", 5, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(dir, &opts, &w, &info));
    CHECK_EQ(info.records, 1);
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_OK(regio_wal_close(w));
}

static void keep_only_segment0(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *de;
    char p[4200];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "0000000000000000.wal") == 0 ||
            strcmp(de->d_name, "wal.lock") == 0)
            continue;
        path_in(p, sizeof(p), dir, de->d_name);
        CHECK(unlink(p) == 0);
    }
    closedir(d);
}

int main(void)
{
    char p[4200];
    /* 1. Only a half-written prep file of segment 0. */
    const char *dir = test_tmpdir("wal-create");
    path_in(p, sizeof(p), dir, "prep-0000000000000000.tmp");
    int fd = open(p, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 12345) == 0);
    close(fd);
    check_fresh(dir);
    test_rmdir_all(dir);

    /* 2. Segment 0 installed, control file not yet written: made by a child
     * that opens a new log and dies without closing it, then removing the
     * control file. */
    dir = test_tmpdir("wal-create");
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct regio_wal *w;
        _exit(regio_wal_open(dir, &opts, &w, NULL) == 0 ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    path_in(p, sizeof(p), dir, "wal.ctl");
    CHECK(unlink(p) == 0);
    /* The spares the child may have prepared after open came later than
     * the control file: in the state a crash leaves before it, only
     * segment 0 exists. */
    keep_only_segment0(dir);
    check_fresh(dir);

    /* 3. A control file with every segment gone is damage, not a new log. */
    path_in(p, sizeof(p), dir, "0000000000000000.wal");
    CHECK(unlink(p) == 0);
    struct regio_wal *w;
    CHECK_EQ(regio_wal_open(dir, &opts, &w, NULL), -EBADMSG);
    test_rmdir_all(dir);

    /* 4. A create refused for its options leaves nothing behind: not the
     * directory it made, not a lock file in one that existed. */
    dir = test_tmpdir("wal-create");
    path_in(p, sizeof(p), dir, "new");
    struct regio_wal_opts bad = opts;
    bad.buffer_bytes = BUF + 512; /* not a multiple of 4096 */
    CHECK_EQ(regio_wal_open(p, &bad, &w, NULL), -EINVAL);
    CHECK(access(p, F_OK) != 0 && errno == ENOENT);
    CHECK(strstr(regio_error_detail(), "buffer_bytes") != NULL);
    bad = opts;
    bad.segment_bytes = SEG + 512; /* not a multiple of the block */
    CHECK_EQ(regio_wal_open(p, &bad, &w, NULL), -EINVAL);
    CHECK(strstr(regio_error_detail(), "segment_bytes") != NULL);
    CHECK(access(p, F_OK) != 0 && errno == ENOENT);
    bad.segment_bytes = 2 * BUF; /* smaller than the ring twice over */
    CHECK_EQ(regio_wal_open(p, &bad, &w, NULL), -EINVAL);
    CHECK(access(p, F_OK) != 0 && errno == ENOENT);
    CHECK_EQ(regio_wal_open(dir, &bad, &w, NULL), -EINVAL);
    path_in(p, sizeof(p), dir, "wal.lock");
    CHECK(access(p, F_OK) != 0 && errno == ENOENT);
    test_rmdir_all(dir);
    fprintf(stderr, "wal_create: ok\n");
    return 0;
}
