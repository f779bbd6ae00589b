/* regio-test: labels=unit timeout=120 */
/*
 * tests/test_stats_hostile.c: live stats files planted by someone else in the
 * world-writable /dev/shm (issue 20, defect 5). A FIFO named like a stats
 * file neither blocks regio_stats_read nor `regio-dump arena`; a copy of a
 * real stats file that others may write, or whose owner is not the user of
 * the process it names, is refused (-EPERM) rather than listed as live; a
 * directory of files stuck mid-update is read in bounded time; a file
 * planted at the path an arena would publish to never makes
 * regio_arena_create or regio_wal_open fail, and is never opened: one of our
 * own user is replaced as stale, one of another owner leaves the arena
 * unpublished with the reason in its stats.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"
#include "regio/stats.h"
#include "test_tool_util.h"

#define OTHER_UID 4242 /* a user that runs no process of this test */

static void stats_path(char *out, size_t n, long pid, const char *name)
{
    snprintf(out, n, "%s/%s%ld.%s", REGIO_STATS_DIR, REGIO_STATS_PREFIX, pid, name);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_stats_hostile: a stats read blocked (alarm)\n";
    if (write(2, msg, sizeof(msg) - 1) < 0)
        _exit(1);
    _exit(1);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, data, n), (ssize_t)n);
    CHECK_EQ(fchmod(fd, mode), 0);
    close(fd);
}

/* A real snapshot of this process's publisher, to forge copies from. */
static void real_snapshot(struct regio_stats_file *f)
{
    char name[64], path[PATH_MAX];
    snprintf(name, sizeof(name), "hostile-src-%d", (int)getpid());
    struct regio_arena_opts o = {
        .size_bytes = 2u << 20, .pages = REGIO_PAGES_NORMAL, .stats_name = name};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&o, &a));
    stats_path(path, sizeof(path), getpid(), name);
    CHECK_OK(regio_stats_read(path, f));
    CHECK_OK(regio_arena_destroy(a));
}

/* A FIFO: the open must not block (alarm fails the test if it does). */
static void test_fifo(void)
{
    char path[PATH_MAX];
    stats_path(path, sizeof(path), 1, "hostile-fifo");
    unlink(path);
    CHECK_EQ(mkfifo(path, 0600), 0);
    static struct regio_stats_file f;
    alarm(10);
    regio__set_detail("sentinel");
    CHECK_EQ(regio_stats_read(path, &f), -EBADMSG);
    CHECK(strcmp(regio_error_detail(), "sentinel") != 0);
    /* The dump lists every stats file, the FIFO among them (when the tools
     * are built; the library's part above stands alone). */
    char dump[4200];
    const char *bd = getenv("REGIO_BUILD_DIR");
    snprintf(dump, sizeof(dump), "%s/regio-dump", bd != NULL ? bd : ".");
    if (access(dump, X_OK) == 0) {
        char *argv[] = {dump, "arena", "--pid", "1", NULL};
        int rc = tool_run(argv, "/dev/null", "/dev/null");
        CHECK(rc == 0 || rc == 1);
    } else {
        fprintf(stderr, "%s is not built: the dump part is skipped\n", dump);
    }
    alarm(0);
    unlink(path);
}

/* A forged entry: the bytes of a real file, but writable by others, or
 * owned by a user other than the one its process runs as. */
static void test_forged(const struct regio_stats_file *real)
{
    char path[PATH_MAX];
    stats_path(path, sizeof(path), getpid(), "hostile-forged");
    static struct regio_stats_file f;
    write_file(path, real, sizeof(*real), 0666);
    CHECK_EQ(regio_stats_read(path, &f), -EPERM);
    write_file(path, real, sizeof(*real), 0600);
    CHECK_OK(regio_stats_read(path, &f)); /* ours: we can only fool ourselves */
    unlink(path);
    if (geteuid() != 0) {
        fprintf(stderr, "not root: the other-owner cases are skipped\n");
        return;
    }
    /* Owned by another user and naming a process of root (ours): refused. */
    write_file(path, real, sizeof(*real), 0600);
    CHECK_EQ(chown(path, OTHER_UID, OTHER_UID), 0);
    regio__set_detail("sentinel");
    CHECK_EQ(regio_stats_read(path, &f), -EPERM);
    CHECK(strstr(regio_error_detail(), "another user") != NULL);
    unlink(path);
}

/* Files stuck mid-update (odd sequence counter) are given up on quickly:
 * fifty of them once cost ten seconds; the alarm allows five. */
static void test_stuck_files(const struct regio_stats_file *real)
{
    static struct regio_stats_file odd, f;
    odd = *real;
    odd.header.seq |= 1;
    char path[PATH_MAX];
    stats_path(path, sizeof(path), getpid(), "hostile-odd");
    write_file(path, &odd, sizeof(odd), 0600);
    alarm(5);
    for (int i = 0; i < 50; i++)
        CHECK_EQ(regio_stats_read(path, &f), -EAGAIN);
    alarm(0);
    unlink(path);
}

/* A file planted at the path an arena of this process will publish to. */
static void test_planted(void)
{
    char name[64], path[PATH_MAX];
    snprintf(name, sizeof(name), "hostile-plant-%d", (int)getpid());
    stats_path(path, sizeof(path), getpid(), name);
    static struct regio_stats_file f;
    static const char junk[] = "not a stats file";
    struct regio_arena_opts o = {
        .size_bytes = 2u << 20, .pages = REGIO_PAGES_NORMAL, .stats_name = name};
    struct regio_arena *a, *b;
    struct regio_arena_stats st;

    /* Of our own user: stale (an earlier process with our pid); replaced. */
    write_file(path, junk, sizeof(junk), 0600);
    CHECK_OK(regio_arena_create(&o, &a));
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.stats_error, 0);
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_EQ(f.header.pid, getpid());

    /* A second arena of this process with the same name: created, not
     * published, and the first one's file is untouched. */
    CHECK_OK(regio_arena_create(&o, &b));
    CHECK_OK(regio_arena_stats(b, &st));
    CHECK_EQ(st.stats_error, -EEXIST);
    CHECK(regio_error_detail()[0] != '\0');
    CHECK_OK(regio_arena_destroy(b));
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_OK(regio_arena_destroy(a));

    /* Planted as a FIFO of our own: replaced too, never opened. */
    CHECK_EQ(mkfifo(path, 0600), 0);
    alarm(10);
    CHECK_OK(regio_arena_create(&o, &a));
    alarm(0);
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.stats_error, 0);
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_OK(regio_arena_destroy(a));

    if (geteuid() != 0)
        return;
    /* Of another owner: left alone; arena and WAL work unpublished. */
    write_file(path, junk, sizeof(junk), 0600);
    CHECK_EQ(chown(path, OTHER_UID, OTHER_UID), 0);
    CHECK_OK(regio_arena_create(&o, &a));
    CHECK_OK(regio_arena_stats(a, &st));
    CHECK_EQ(st.stats_error, -EEXIST);
    CHECK(strstr(regio_error_detail(), path) != NULL);
    CHECK_OK(regio_arena_destroy(a));
    struct stat sb;
    CHECK_EQ(stat(path, &sb), 0);
    CHECK_EQ(sb.st_uid, OTHER_UID);

    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/wal", test_tmpdir("stats_hostile"));
    struct regio_wal_opts wo = {
        .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10, .create = true, .stats_name = name};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &wo, &w, NULL));
    CHECK_OK(regio_wal_append(w, "x", 1, NULL));
    CHECK_OK(regio_wal_close(w));
    unlink(path);
    test_rmdir_all(test_tmpdir("stats_hostile"));
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    static struct regio_stats_file real;
    real_snapshot(&real);
    test_fifo();
    test_forged(&real);
    test_stuck_files(&real);
    test_planted();
    printf("stats_hostile: ok\n");
    return 0;
}
