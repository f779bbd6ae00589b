/* regio-test: labels=io,long timeout=3600 */
/*
 * tests/test_tool_walstress_long.c: the soak version of the walstress
 * tests (ctest -L long): 50 crash cycles, and verified runs of every sync
 * policy with more threads and larger records.
 */
#include "check.h"
#include "test_tool_util.h"

static char out_path[4200], err_path[4200];

static void run(char *const args[])
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)tool_path("walstress");
    for (int i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int rc = tool_run(argv, out_path, err_path);
    tool_show("stdout", out_path, 20000);
    if (rc != 0)
        tool_show("stderr", err_path, 8000);
    CHECK_EQ(rc, 0);
    CHECK(file_contains(out_path, "0 lost, 0 corrupt"));
}

int main(void)
{
    const char *root = test_tmpdir("tool_walstress_long");
    snprintf(out_path, sizeof(out_path), "%s/out.txt", root);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", root);
    char seed[32], dir[4200];
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)test_seed());
    const char *policies[] = {"every", "group", "none"};
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof(dir), "%s/%s", root, policies[i]);
        char *args[] = {"--dir",           dir,
                        "--threads",       "16",
                        "--seconds",       "5",
                        "--record-bytes",  "24:64K",
                        "--sync",          (char *)policies[i],
                        "--segment-bytes", "32M",
                        "--seed",          seed,
                        "--verify",        NULL};
        run(args);
        /* Each verified log is gigabytes; on tmpfs that is memory. */
        test_rmdir_all(dir);
    }
    snprintf(dir, sizeof(dir), "%s/crash", root);
    char *args[] = {"--dir",     dir, "--crash-cycles",  "50",  "--seconds", "1",
                    "--threads", "4", "--segment-bytes", "16M", "--seed",    seed,
                    NULL};
    run(args);
    CHECK(file_contains(out_path, "no acknowledged record lost or changed"));
    test_rmdir_all(root);
    printf("tool_walstress_long: ok\n");
    return 0;
}
