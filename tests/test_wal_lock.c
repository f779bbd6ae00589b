/* regio-test: labels=io */
/*
 * tests/test_wal_lock.c: one writer per log (issue 20, defect 6). A process
 * holds the log open; wal.lock is deleted (as a cleanup script or an
 * operator might); a second process's open must still be -EBUSY, because
 * the lock that counts is on the directory, which cannot be deleted from
 * under the holder. Once the holder is gone the log opens again. A second
 * open in the same process is refused the same way.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static struct regio_wal_opts opts(void)
{
    struct regio_wal_opts o = {
        .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10, .create = true};
    return o;
}

/* A child that opens the log, appends and syncs one record, then reports
 * 'y' on the pipe and waits to be killed, holding the log. */
static pid_t start_holder(const char *dir, int *pipe_rd)
{
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        struct regio_wal_opts o = opts();
        struct regio_wal *w;
        uint64_t lsn;
        char c = 'n';
        if (regio_wal_open(dir, &o, &w, NULL) == 0 && regio_wal_append(w, "a", 1, &lsn) == 0 &&
            regio_wal_sync(w, lsn) == 0)
            c = 'y';
        if (write(pfd[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    *pipe_rd = pfd[0];
    return pid;
}

int main(void)
{
    char dir[600], lock[700];
    snprintf(dir, sizeof(dir), "%s/log", test_tmpdir("wal_lock"));
    snprintf(lock, sizeof(lock), "%s/wal.lock", dir);
    int rd;
    pid_t holder = start_holder(dir, &rd);
    char c = 0;
    CHECK_EQ(read(rd, &c, 1), 1);
    CHECK_EQ(c, 'y');

    struct regio_wal_opts o = opts();
    struct regio_wal *w = NULL;
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBUSY);
    /* The lock file deleted under the holder changes nothing. */
    CHECK_EQ(unlink(lock), 0);
    regio__set_detail("sentinel");
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBUSY);
    CHECK(strstr(regio_error_detail(), "open elsewhere") != NULL);
    /* Nor does a fresh lock file someone else made and holds. */
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBUSY);

    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    close(rd);

    /* The holder is gone: the log opens (recovering the record it synced),
     * and a second open in this process is refused while it is open. */
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.records, 1);
    struct regio_wal *w2 = NULL;
    CHECK_EQ(regio_wal_open(dir, &o, &w2, NULL), -EBUSY);
    CHECK_EQ(unlink(lock), 0);
    CHECK_EQ(regio_wal_open(dir, &o, &w2, NULL), -EBUSY);
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(test_tmpdir("wal_lock"));
    printf("wal_lock: ok\n");
    return 0;
}
