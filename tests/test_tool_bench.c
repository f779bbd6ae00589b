/* regio-test: labels=io timeout=900 */
/*
 * tests/test_tool_bench.c: every regio-bench benchmark (each name that
 * --help lists), run briefly (--quick --json), prints one valid JSON
 * document with the machine and the commit, whose every row has a measured
 * baseline, paired rounds, an interval around the median ratio that holds
 * it, a "within noise" flag that agrees with the interval, and regio's CPU
 * per operation; a baseline may be missing only where the row's note says
 * the tool is not installed. The table mode and bad usage behave. Speeds
 * are never asserted.
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

/* The benchmark names in --help: "  name  summary" lines after "benchmarks:". */
static int bench_names(char names[][32], int max)
{
    CHECK_EQ(bench("--help", NULL, NULL, NULL, NULL, NULL), 0);
    FILE *f = fopen(out_path, "r");
    CHECK(f != NULL);
    char line[1024];
    bool in = false;
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "benchmarks:", 11) == 0) {
            in = true;
            continue;
        }
        char name[32];
        if (!in || strncmp(line, "  ", 2) != 0 || sscanf(line, " %31s", name) != 1)
            continue;
        if (strcmp(name, "all") != 0 && n < max)
            snprintf(names[n++], sizeof(names[0]), "%s", name);
    }
    fclose(f);
    return n;
}

int main(void)
{
    const char *root = test_tmpdir("tool_bench");
    snprintf(out_path, sizeof(out_path), "%s/out.json", root);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", root);
    char names[32][32];
    int n = bench_names(names, 32);
    CHECK(n >= 5); /* slab, register, pager, wal, walpipe at least */
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "== %s\n", names[i]);
        CHECK_EQ(bench(names[i], "--quick", "--json", "--dir", (char *)root, NULL), 0);
        char expr[4096];
        snprintf(expr, sizeof(expr),
                 "d['tool']=='regio-bench' and d['quick'] and len(d['rows'])>0"
                 " and d['machine']['cpus']>0 and d['rounds']>=3 and 'commit' in d"
                 " and d['benchmarks']==[{'name':'%s','ok':True,'error':None}]"
                 " and all(r['bench']=='%s' and isinstance(r['regio'],(int,float))"
                 " and isinstance(r['baseline_name'],str) and r['rounds']>=3"
                 " and isinstance(r['regio_cpu_ns_per_op'],(int,float))"
                 " and (('not installed' in (r['note'] or '') and r['baseline'] is None)"
                 "  or (isinstance(r['baseline'],(int,float)) and r['paired_rounds']>=3"
                 "      and r['ratio_lo']<=r['ratio']<=r['ratio_hi'] and r['ratio']>0"
                 "      and r['within_noise']==(r['ratio_lo']<=1<=r['ratio_hi'])))"
                 " for r in d['rows'])",
                 names[i], names[i]);
        CHECK_EQ(json_check(out_path, expr, false), 0);
        /* Where SQLite, RocksDB and LMDB were built in (tools/install-deps.sh
         * installs their -dev packages), the kv row of each thread count has
         * the best of them as a measured baseline with an interval, and each of
         * the three its own row. */
        if (strcmp(names[i], "kv") == 0 &&
            system("pkg-config --exists sqlite3 rocksdb lmdb") == 0) {
            CHECK_EQ(json_check(out_path,
                                "all(any(r['name']=='%d thread%s, 16 B keys, 100 B values'%(t,s)"
                                " and r['baseline_name']==b and r['baseline']>0 and r['regio']>0"
                                " and r['ratio_lo']<=r['ratio']<=r['ratio_hi'] and r['rounds']>=3"
                                " for r in d['rows']) for t,s in [(1,''),(16,'s')]"
                                " for b in ['best of SQLite/RocksDB/LMDB',"
                                " 'SQLite WAL, synchronous=FULL', 'RocksDB sync=true, pipelined',"
                                " 'LMDB, a txn per put'])",
                                false),
                     0);
        }
        /* Each slab class's floor row carries regio's pair on the second
         * slab (tools/bench/slab.c): measured, with an interval that holds
         * its ratio. */
        if (strcmp(names[i], "slab") == 0) {
            CHECK_EQ(json_check(out_path,
                                "[f for f in [r['figures'] for r in d['rows']"
                                " if r['baseline_name'].startswith('floor')]"
                                " if f['second_slab_ns_per_pair']>0"
                                " and f['second_slab_cpu_ns_per_pair']>0"
                                " and f['second_slab_ratio_lo']<=f['second_slab_ratio']"
                                "<=f['second_slab_ratio_hi']]"
                                "==[r['figures'] for r in d['rows']"
                                " if r['baseline_name'].startswith('floor')]!=[]",
                                false),
                     0);
        }
    }
    /* Where fio is installed (tools/install-deps.sh installs it), the
     * pager's comparison must be against fio measured in this run. */
    if (system("fio --version >/dev/null 2>&1") == 0) {
        CHECK_EQ(bench("pager", "--quick", "--json", "--dir", (char *)root, NULL), 0);
        CHECK_EQ(json_check(out_path,
                            "all(any(r['name']=='qd%d IOPS'%q and r['baseline_name']==b"
                            " and r['baseline']>0 for r in d['rows'])"
                            " for q,b in [(1,'fio batched'),(32,'fio batched'),"
                            "(128,'fio batched'),(32,'fio io_uring')])",
                            false),
                 0);
    }
    /* The table: a header with the interval and CPU columns, and rows. */
    CHECK_EQ(bench("register", "--quick", "--dir", (char *)root, NULL, NULL), 0);
    CHECK(file_contains(out_path, "ratio [interval]"));
    CHECK(file_contains(out_path, "CPU ns/op"));
    CHECK(file_contains(out_path, "create+register"));
    /* Bad usage. */
    CHECK_EQ(bench("nosuch", NULL, NULL, NULL, NULL, NULL), 2);
    CHECK_EQ(bench(NULL, NULL, NULL, NULL, NULL, NULL), 2);
    CHECK_EQ(bench("slab", "--seconds", "0", NULL, NULL, NULL), 2);
    CHECK_EQ(bench("slab", "--rounds", "0", NULL, NULL, NULL), 2);
    CHECK_EQ(bench("slab", "--dir", "/nonexistent/x", NULL, NULL, NULL), 2);
    CHECK_EQ(bench("slab", "wal", NULL, NULL, NULL, NULL), 2);
    test_rmdir_all(root);
    printf("tool_bench: ok\n");
    return 0;
}
