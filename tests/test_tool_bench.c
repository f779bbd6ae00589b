/* regio-test: labels=io timeout=600 */
/*
 * tests/test_tool_bench.c: every regio-bench subcommand, run briefly
 * (--quick --json), prints one valid JSON document whose rows name the
 * regio figure, the same-run baseline and their ratio; the table mode and
 * bad usage behave. Speeds are never asserted.
 */
#include "check.h"
#include "test_tool_util.h"

static char out_path[4200], err_path[4200];

static int bench(char *a1, char *a2, char *a3, char *a4, char *a5, char *a6)
{
    char *argv[] = {(char *)tool_path("bench"), a1, a2, a3, a4, a5, a6, NULL};
    int rc = tool_run(argv, out_path, err_path);
    fprintf(stderr, "exit %d\n", rc);
    if (rc != 0)
        tool_show("stderr", err_path, 4000);
    return rc;
}

int main(void)
{
    const char *root = test_tmpdir("tool_bench");
    snprintf(out_path, sizeof(out_path), "%s/out.json", root);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", root);
    const char *names[] = {"slab", "register", "pager", "wal"};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(bench((char *)names[i], "--quick", "--json", "--dir", (char *)root, NULL), 0);
        char expr[1024];
        snprintf(expr, sizeof(expr),
                 "d['tool']=='regio-bench' and d['quick'] and len(d['rows'])>0"
                 " and d['benchmarks']==[{'name':'%s','ok':True,'error':None}]"
                 " and all(r['bench']=='%s' and isinstance(r['regio'],(int,float))"
                 " and isinstance(r['baseline_name'],str) and 'ratio' in r and 'metric' in r"
                 " and (r['ratio'] is None or r['ratio']>0)"
                 " and (r['baseline'] is not None or r['note']) for r in d['rows'])",
                 names[i], names[i]);
        CHECK_EQ(json_check(out_path, expr, false), 0);
        /* Where fio is installed (tools/install-deps.sh installs it), the
         * pager's comparison must be against fio measured in this run,
         * plain at every depth and batched above depth 1. */
        if (i == 2 && system("fio --version >/dev/null 2>&1") == 0) {
            CHECK_EQ(json_check(out_path,
                                "all(any(r['name']=='qd%d IOPS'%q and r['baseline_name']==b"
                                " and r['baseline']>0 for r in d['rows'])"
                                " for q,b in [(1,'fio io_uring'),(32,'fio io_uring'),"
                                "(128,'fio io_uring'),(32,'fio batched'),(128,'fio batched')])",
                                false),
                     0);
        }
    }
    /* The table: a header and rows. */
    CHECK_EQ(bench("register", "--quick", "--dir", (char *)root, NULL, NULL), 0);
    CHECK(file_contains(out_path, "ratio"));
    CHECK(file_contains(out_path, "create+register"));
    /* Bad usage. */
    CHECK_EQ(bench("nosuch", NULL, NULL, NULL, NULL, NULL), 2);
    CHECK_EQ(bench(NULL, NULL, NULL, NULL, NULL, NULL), 2);
    CHECK_EQ(bench("slab", "--seconds", "0", NULL, NULL, NULL), 2);
    CHECK_EQ(bench("slab", "--dir", "/nonexistent/x", NULL, NULL, NULL), 2);
    CHECK_EQ(bench("slab", "wal", NULL, NULL, NULL, NULL), 2);
    CHECK_EQ(bench("--help", NULL, NULL, NULL, NULL, NULL), 0);
    CHECK(file_contains(out_path, "register"));
    test_rmdir_all(root);
    printf("tool_bench: ok\n");
    return 0;
}
