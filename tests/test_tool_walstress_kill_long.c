/* regio-test: labels=io,long timeout=14400 */
/*
 * tests/test_tool_walstress_kill_long.c: the kill soak (issue 20). For every
 * sync policy (every, group, none) and both ways the WAL makes a flush
 * durable (RWF_DSYNC writes, write + linked fdatasync), regio-walstress runs
 * its writers in a child process, SIGKILLs it at a random moment, recovers
 * the log and verifies every acknowledged record, 1,000 times
 * ($REGIO_KILL_CYCLES overrides, for a short check of the test itself).
 *
 * Each recovery also checkpoints the log behind the last two cycles and
 * recycles the segments before it (--keep-cycles 2), as a database that has
 * applied those records would: every cycle's records are verified after two
 * crashes, the kills land on recycled segments too, and the log stays a
 * couple of cycles long. Without it a group-commit run writes about 50 MB a
 * cycle, 50 GB by the last one, and re-reads all of it every cycle.
 *
 * The six runs are independent logs and run at once: most of a cycle is
 * waiting (for the kill, for syncs), so they overlap on two CPUs.
 */
#include <sys/wait.h>

#include "check.h"
#include "test_tool_util.h"

#define NPOLICIES 3
#define NMETHODS  2

static const char *policies[NPOLICIES] = {"every", "group", "none"};
static const char *methods[NMETHODS] = {"dsync", "fdatasync"};

/* The run's last line ("crash cycles: N records acknowledged in all, ..."),
 * so that the test log holds each run's totals. */
static void print_summary(const char *out_path, const char *policy, const char *method)
{
    FILE *f = fopen(out_path, "r");
    CHECK(f != NULL);
    char line[512], last[512] = "";
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "crash cycles:", 13) == 0)
            snprintf(last, sizeof(last), "%s", line);
    fclose(f);
    fprintf(stderr, "%s/%s: %s", policy, method, last);
}

/* One run, to completion, checked; in its own process. */
static _Noreturn void one_run(const char *root, int p, int m, const char *cycles, const char *seed)
{
    char dir[4200], out_path[4300], err_path[4300], expect[64];
    snprintf(dir, sizeof(dir), "%s/%s-%s", root, policies[p], methods[m]);
    snprintf(out_path, sizeof(out_path), "%s.out", dir);
    snprintf(err_path, sizeof(err_path), "%s.err", dir);
    snprintf(expect, sizeof(expect), "cycle %s/%s", cycles, cycles);
    char *argv[] = {(char *)tool_path("walstress"),
                    "--dir",
                    dir,
                    "--crash-cycles",
                    (char *)cycles,
                    "--keep-cycles",
                    "2",
                    "--seconds",
                    "0.2",
                    "--threads",
                    "3",
                    "--sync",
                    (char *)policies[p],
                    "--wal-sync",
                    (char *)methods[m],
                    "--segment-bytes",
                    "16M",
                    "--seed",
                    (char *)seed,
                    NULL};
    int rc = tool_run(argv, out_path, err_path);
    if (rc != 0) {
        fprintf(stderr, "%s/%s: exit status %d\n", policies[p], methods[m], rc);
        tool_show("stdout", out_path, 20000);
        tool_show("stderr", err_path, 8000);
    }
    CHECK_EQ(rc, 0);
    CHECK(file_contains(out_path, expect));
    CHECK(file_contains(out_path, "no acknowledged record lost or changed"));
    CHECK(!file_contains(out_path, "FAILED"));
    print_summary(out_path, policies[p], methods[m]);
    test_rmdir_all(dir);
    exit(0);
}

int main(void)
{
    const char *root = test_tmpdir("tool_walstress_kill_long");
    char seed[32], cycles[32];
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)test_seed());
    const char *env = getenv("REGIO_KILL_CYCLES");
    long n = env != NULL && atol(env) > 0 ? atol(env) : 1000;
    snprintf(cycles, sizeof(cycles), "%ld", n);
    pid_t pids[NPOLICIES * NMETHODS];
    for (int i = 0; i < NPOLICIES * NMETHODS; i++) {
        fflush(NULL);
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0)
            one_run(root, i / NMETHODS, i % NMETHODS, cycles, seed);
    }
    int failed = 0;
    for (int i = 0; i < NPOLICIES * NMETHODS; i++) {
        int st = 0;
        CHECK_EQ(waitpid(pids[i], &st, 0), pids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "%s/%s: FAILED\n", policies[i / NMETHODS], methods[i % NMETHODS]);
            failed++;
        }
    }
    CHECK_EQ(failed, 0);
    test_rmdir_all(root);
    printf("tool_walstress_kill_long: ok\n");
    return 0;
}
