/* regio-test: labels=mt timeout=120 */
/*
 * tests/test_tool_stats.c: the live stats file of an arena (regio/stats.h):
 * created 0600 with the process's pid and name, refreshed by the publisher
 * thread, providers attached and detached, consistent snapshots, removed on
 * destroy, stale files recognised, hostile files refused.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "regio/stats.h"
#include "engine_internal.h"
#include "stats_internal.h"
#include "wal_internal.h"

static void stats_path(char *out, size_t n, pid_t pid, const char *name)
{
    snprintf(out, n, "%s/%s%d.%s", REGIO_STATS_DIR, REGIO_STATS_PREFIX, (int)pid, name);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A fake WAL provider whose counters move; the publisher reads them. */
struct fake_wal {
    _Atomic uint64_t appended;
    atomic_int fills;
};

static void fake_wal_fill(void *ctx, void *section)
{
    struct fake_wal *w = ctx;
    struct regio_wal_stats st = {0};
    st.appended_lsn = atomic_load(&w->appended);
    st.durable_lsn = st.appended_lsn / 2;
    st.syncs = 3;
    st.records_synced = 12;
    st.segments_zero_filled = 2;
    st.block_bytes = 4096;
    regio__wal_stats_section(section, &st);
    atomic_fetch_add(&w->fills, 1);
}

static void test_publish_and_remove(void)
{
    char path[PATH_MAX];
    struct regio_arena_opts o = {
        .size_bytes = 4u << 20, .pages = REGIO_PAGES_NORMAL, .stats_name = "unit-stats"};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&o, &a));
    stats_path(path, sizeof(path), getpid(), "unit-stats");

    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(st.st_uid, getuid());

    static struct regio_stats_file f;
    CHECK_OK(regio_stats_read(path, &f));
    CHECK(f.header.magic == REGIO_STATS_MAGIC);
    CHECK_EQ(f.header.version, REGIO_STATS_VERSION);
    CHECK_EQ(f.header.pid, getpid());
    CHECK_EQ(f.header.state, REGIO_STATS_STATE_RUNNING);
    CHECK(strcmp(f.header.name, "unit-stats") == 0);
    CHECK_EQ(f.arena.size_bytes, 4u << 20);
    CHECK_EQ(f.arena.region_count, 1);
    CHECK_EQ(f.arena.pages, REGIO_PAGES_NORMAL);
    CHECK_EQ(f.arena.chunks_total, 2);
    CHECK_EQ(regio_stats_alive(&f), 1);
    CHECK_EQ(f.wals[0].used, 0);

    /* A provider shows up, its counters move, and it goes away on detach. */
    struct fake_wal w = {0};
    atomic_store(&w.appended, 1000);
    int h = regio__stats_attach(a, REGIO_STATS_WAL, "/some/dir/wal", fake_wal_fill, &w);
    CHECK(h >= 0);
    uint64_t updates0 = f.header.updates;
    for (int i = 0; i < 100 && atomic_load(&w.fills) < 2; i++)
        sleep_ms(20);
    CHECK(atomic_load(&w.fills) >= 2);
    CHECK_OK(regio_stats_read(path, &f));
    CHECK(f.header.updates > updates0);
    CHECK_EQ(f.wals[0].used, 1);
    CHECK_EQ(f.wals[0].appended_lsn, 1000);
    CHECK_EQ(f.wals[0].durable_lsn, 500);
    CHECK_EQ(f.wals[0].records_synced, 12);
    CHECK_EQ(f.wals[0].segments_zero_filled, 2);
    /* The engine's section carries the stall probe's counters. */
    struct regio_stats_engine es;
    memset(&es, 0, sizeof(es));
    regio__engine_stats_section(
        &es, &(struct regio_engine_stats){.enters = 9, .stall_probes = 3, .stall_resubmits = 2});
    CHECK_EQ(es.enters, 9);
    CHECK_EQ(es.stall_probes, 3);
    CHECK_EQ(es.stall_resubmits, 2);
    CHECK(strcmp(f.wals[0].name, "/some/dir/wal") == 0);

    regio__stats_detach(a, h);
    int fills = atomic_load(&w.fills);
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_EQ(f.wals[0].used, 0);
    sleep_ms(250);
    CHECK_EQ(atomic_load(&w.fills), fills); /* never called after detach */

    /* Detach by context, for objects that keep no handle. */
    CHECK(regio__stats_attach(a, REGIO_STATS_WAL, "by-ctx", fake_wal_fill, &w) >= 0);
    for (int i = 0; i < 100 && !f.wals[0].used; i++) {
        sleep_ms(20);
        CHECK_OK(regio_stats_read(path, &f));
    }
    CHECK_EQ(f.wals[0].used, 1);
    regio__stats_detach_ctx(a, &w);
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_EQ(f.wals[0].used, 0);
    fills = atomic_load(&w.fills);
    sleep_ms(250);
    CHECK_EQ(atomic_load(&w.fills), fills);

    /* A second arena with the same name in the same process works, but
     * publishes nothing (a publishing failure is not an arena failure). */
    struct regio_arena *b;
    CHECK_OK(regio_arena_create(&o, &b));
    struct regio_arena_stats bst;
    CHECK_OK(regio_arena_stats(b, &bst));
    CHECK_EQ(bst.stats_error, -EEXIST);
    CHECK_OK(regio_arena_destroy(b));
    CHECK_OK(regio_stats_read(path, &f));

    CHECK_OK(regio_arena_destroy(a));
    CHECK_EQ(stat(path, &st), -1);
    CHECK_EQ(errno, ENOENT);
    CHECK_EQ(regio_stats_read(path, &f), -ENOENT);
}

static void test_bad_names_and_no_stats(void)
{
    const char *bad[] = {"", "a/b", "..", "with space",
                         "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct regio_arena_opts o = {.size_bytes = 2u << 20, .stats_name = bad[i]};
        struct regio_arena *a;
        CHECK_EQ(regio_arena_create(&o, &a), -EINVAL);
    }
    /* Without a name nothing is published and attach says so. */
    struct regio_arena_opts o = {.size_bytes = 2u << 20, .pages = REGIO_PAGES_NORMAL};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&o, &a));
    struct fake_wal w = {0};
    CHECK_EQ(regio__stats_attach(a, REGIO_STATS_WAL, "x", fake_wal_fill, &w), -ENOENT);
    regio__stats_detach(a, -ENOENT);
    CHECK_OK(regio_arena_destroy(a));
}

static void test_table_full(void)
{
    struct regio_arena_opts o = {
        .size_bytes = 2u << 20, .pages = REGIO_PAGES_NORMAL, .stats_name = "unit-full"};
    struct regio_arena *a;
    CHECK_OK(regio_arena_create(&o, &a));
    struct fake_wal w = {0};
    int h[REGIO_STATS_MAX_WALS];
    for (int i = 0; i < REGIO_STATS_MAX_WALS; i++)
        CHECK((h[i] = regio__stats_attach(a, REGIO_STATS_WAL, "w", fake_wal_fill, &w)) >= 0);
    CHECK_EQ(regio__stats_attach(a, REGIO_STATS_WAL, "w", fake_wal_fill, &w), -ENOSPC);
    char path[PATH_MAX];
    stats_path(path, sizeof(path), getpid(), "unit-full");
    static struct regio_stats_file f;
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_EQ(f.header.dropped_sections, 1);
    for (int i = 0; i < REGIO_STATS_MAX_WALS; i++)
        regio__stats_detach(a, h[i]);
    CHECK_OK(regio_arena_destroy(a));
}

/* A child that publishes and is killed leaves a stale file behind. */
static void test_stale(void)
{
    int pipefd[2];
    CHECK_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        struct regio_arena_opts o = {
            .size_bytes = 2u << 20, .pages = REGIO_PAGES_NORMAL, .stats_name = "unit-stale"};
        struct regio_arena *a;
        char c = regio_arena_create(&o, &a) == 0 ? 'y' : 'n';
        if (write(pipefd[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c = 0;
    CHECK_EQ(read(pipefd[0], &c, 1), 1);
    CHECK_EQ(c, 'y');
    char path[PATH_MAX];
    stats_path(path, sizeof(path), pid, "unit-stale");
    static struct regio_stats_file f;
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_EQ(regio_stats_alive(&f), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK_OK(regio_stats_read(path, &f));
    CHECK_EQ(regio_stats_alive(&f), 0);
    /* A live pid with another start time is stale too. */
    f.header.pid = getpid();
    f.header.start_time_ticks += 1;
    CHECK_EQ(regio_stats_alive(&f), 0);
    unlink(path);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* Files that are not stats files: refused with -EBADMSG, never a crash. */
static void test_hostile_files(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/regio-unit-hostile-%d", test_tmpdir("tool_stats"),
             (int)getpid());
    static struct regio_stats_file f;
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ(regio_stats_read(path, &f), -EBADMSG); /* empty */
    uint64_t seed = test_seed();
    static unsigned char junk[sizeof(struct regio_stats_file) + 100];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)test_rand(&seed);
    junk[16] &= 0xfe; /* an even seq, so the reader gets as far as the magic */
    fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    CHECK_EQ(regio_stats_read(path, &f), -EBADMSG);
    /* An odd seq (a writer "mid-update") does not make junk worth waiting for. */
    junk[16] |= 1;
    fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    CHECK_EQ(regio_stats_read(path, &f), -EBADMSG);
    unlink(path);
    test_rmdir_all(test_tmpdir("tool_stats"));
}

int main(void)
{
    test_publish_and_remove();
    test_bad_names_and_no_stats();
    test_table_full();
    test_stale();
    test_hostile_files();
    printf("tool_stats: ok\n");
    return 0;
}
