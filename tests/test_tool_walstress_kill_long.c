/* regio-test: labels=io,long timeout=14400 */
/*
 * tests/test_tool_walstress_kill_long.c: the kill soak (issue 20). For every
 * sync policy (every, group, none) and both ways the WAL makes a flush
 * durable (RWF_DSYNC writes, write + linked fdatasync), regio-walstress runs
 * its writers in a child process, SIGKILLs it at a random moment, recovers
 * the log and verifies every acknowledged record, 1,000 times
 * ($REGIO_KILL_CYCLES overrides, for a short check of the test itself).
 */
#include "check.h"
#include "test_tool_util.h"

int main(void)
{
    const char *root = test_tmpdir("tool_walstress_kill_long");
    char out_path[4200], err_path[4200], seed[32], cycles[32], dir[4200], expect[64];
    snprintf(out_path, sizeof(out_path), "%s/out.txt", root);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", root);
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)test_seed());
    const char *env = getenv("REGIO_KILL_CYCLES");
    long n = env != NULL && atol(env) > 0 ? atol(env) : 1000;
    snprintf(cycles, sizeof(cycles), "%ld", n);
    snprintf(expect, sizeof(expect), "cycle %ld/%ld", n, n);
    const char *policies[] = {"every", "group", "none"};
    const char *methods[] = {"dsync", "fdatasync"};
    for (int p = 0; p < 3; p++) {
        for (int m = 0; m < 2; m++) {
            snprintf(dir, sizeof(dir), "%s/%s-%s", root, policies[p], methods[m]);
            char *argv[] = {(char *)tool_path("walstress"),
                            "--dir",
                            dir,
                            "--crash-cycles",
                            cycles,
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
                            seed,
                            NULL};
            int rc = tool_run(argv, out_path, err_path);
            if (rc != 0) {
                tool_show("stdout", out_path, 20000);
                tool_show("stderr", err_path, 8000);
            }
            CHECK_EQ(rc, 0);
            CHECK(file_contains(out_path, expect));
            CHECK(file_contains(out_path, "no acknowledged record lost or changed"));
            CHECK(!file_contains(out_path, "FAILED"));
            fprintf(stderr, "%s/%s: %ld kill cycles, no acknowledged record lost or changed\n",
                    policies[p], methods[m], n);
            test_rmdir_all(dir);
        }
    }
    test_rmdir_all(root);
    printf("tool_walstress_kill_long: ok\n");
    return 0;
}
