/*
 * tools/bench/kv.c: "kv", durable puts of a small key-value store at 1, 16
 * and 64 threads: regio-minikv (docs/examples/minikv, the example store on
 * regio's public API) against SQLite, RocksDB and LMDB, each set up as its
 * own documentation recommends for durable small writes:
 *
 *   SQLite  WAL journal, synchronous=FULL (the WAL is synced at every
 *           commit), one connection per thread with a busy timeout, one
 *           prepared INSERT OR REPLACE between prepared BEGIN IMMEDIATE and
 *           COMMIT: one insert per transaction.
 *   RocksDB WriteOptions.sync = true on every put; the options of its C
 *           example (IncreaseParallelism, OptimizeLevelStyleCompaction) and
 *           pipelined writes, which its wiki recommends for concurrent
 *           writers with the WAL on; one DB shared by the threads.
 *   LMDB    one env, default (durable) flags plus MDB_NOTLS for threads, one
 *           write transaction per put.
 *
 * Every store lives under --dir (the same filesystem for all), is created
 * once, warmed with one discarded trial at each thread count, and reused
 * across rounds, so each trial overwrites keys of an existing store. Keys
 * are 16 bytes cycling over 2048 keys, values 100 bytes (minikv's bench
 * uses exactly these, and its pages must never fill up). minikv runs as
 * `regio-minikv DIR bench N T` (the program built beside regio-bench), with
 * N chosen from its warm-up rate so that a trial lasts about as long as the
 * others' (which run for a fixed time); figures are its own: puts/s over the
 * puts and CPU per put of its whole process during the puts. The others run
 * in this process; their CPU per put is the whole process's (their
 * background threads too) during the trial.
 *
 * Each round runs all four in an order that turns; the main row's baseline
 * is the best of the three competitors in that round (its note says which
 * won how many rounds), and one row per competitor follows.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "regio.h"
#include "wal_util.h"

#ifdef BENCH_HAVE_SQLITE3
#include <sqlite3.h>
#endif
#ifdef BENCH_HAVE_ROCKSDB
#include <rocksdb/c.h>
#endif
#ifdef BENCH_HAVE_LMDB
#include <lmdb.h>
#endif

enum { KEY_BYTES = 16, VAL_BYTES = 100, KEYS = 2048, MAX_THREADS = 64 };
enum side { S_SQLITE, S_ROCKS, S_LMDB, COMPETITORS };

static const char *const side_name[COMPETITORS] = {"SQLite", "RocksDB", "LMDB"};
static const char *const side_base[COMPETITORS] = {
    "SQLite WAL, synchronous=FULL", "RocksDB sync=true, pipelined", "LMDB, a txn per put"};

struct kv_bench {
    const struct bench_ctx *ctx;
    char dir[COMPETITORS][1024], minikv_dir[1024], minikv[PATH_MAX];
    bool have[COMPETITORS];
    double secs; /* per trial */
#ifdef BENCH_HAVE_SQLITE3
    char sqlite_path[1100];
#endif
#ifdef BENCH_HAVE_ROCKSDB
    rocksdb_t *rdb;
    rocksdb_options_t *ropts;
    rocksdb_writeoptions_t *rwo;
#endif
#ifdef BENCH_HAVE_LMDB
    MDB_env *env;
    MDB_dbi dbi;
#endif
};

/* The key and value of a thread's i-th put, as minikv's bench makes them. */
static void make_kv(long id, long i, char *key, char *val)
{
    char k[32];
    snprintf(k, sizeof(k), "k%015ld", (id * 1000003 + i) % KEYS);
    memcpy(key, k, KEY_BYTES);
    memset(val, 'a' + (int)(i % 26), VAL_BYTES);
}

/* ---- SQLite ---------------------------------------------------------------- */

#ifdef BENCH_HAVE_SQLITE3
struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *begin, *insert, *commit;
};

static int sq_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    fprintf(stderr, "kv: sqlite %s: %s\n", sql, sqlite3_errmsg(db));
    return -EIO;
}

static int sq_connect(struct kv_bench *b, struct sq_conn *c)
{
    memset(c, 0, sizeof(*c));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(b->sqlite_path, &c->db, flags, NULL) != SQLITE_OK)
        return -EIO;
    /* synchronous is a per-connection setting; the busy timeout makes a
     * thread wait for the write lock instead of failing with SQLITE_BUSY. */
    sqlite3_busy_timeout(c->db, 60000);
    if (sq_exec(c->db, "PRAGMA synchronous=FULL") != 0 ||
        sqlite3_prepare_v2(c->db, "BEGIN IMMEDIATE", -1, &c->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)", -1, &c->insert,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "COMMIT", -1, &c->commit, NULL) != SQLITE_OK) {
        fprintf(stderr, "kv: sqlite %s: %s\n", b->sqlite_path, sqlite3_errmsg(c->db));
        return -EIO;
    }
    return 0;
}

static void sq_disconnect(struct sq_conn *c)
{
    sqlite3_finalize(c->begin);
    sqlite3_finalize(c->insert);
    sqlite3_finalize(c->commit);
    sqlite3_close(c->db);
}

static int sq_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_put(struct sq_conn *c, const char *key, const char *val)
{
    if (sq_step(c->begin) != 0)
        return -EIO;
    sqlite3_bind_blob(c->insert, 1, key, KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(c->insert, 2, val, VAL_BYTES, SQLITE_STATIC);
    if (sq_step(c->insert) != 0) {
        sq_exec(c->db, "ROLLBACK");
        return -EIO;
    }
    return sq_step(c->commit);
}

/* The database, in WAL mode (a property of the file), with its table. */
static int sq_open(struct kv_bench *b)
{
    snprintf(b->sqlite_path, sizeof(b->sqlite_path), "%s/kv.db", b->dir[S_SQLITE]);
    sqlite3 *db;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(b->sqlite_path, &db, flags, NULL) == SQLITE_OK ? 0 : -EIO;
    if (rc == 0)
        rc = sq_exec(db, "PRAGMA journal_mode=WAL");
    if (rc == 0)
        rc = sq_exec(db, "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
    sqlite3_close(db);
    return rc;
}
#endif

/* ---- RocksDB --------------------------------------------------------------- */

#ifdef BENCH_HAVE_ROCKSDB
static int rocks_open(struct kv_bench *b)
{
    char *err = NULL;
    b->ropts = rocksdb_options_create();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    rocksdb_options_increase_parallelism(b->ropts, cpus > 0 ? (int)cpus : 1);
    /* The C++ default memtable budget; the C API has no default, and 0
     * (what its example passes) leaves tiny memtables that stall writers. */
    rocksdb_options_optimize_level_style_compaction(b->ropts, 512u << 20);
    rocksdb_options_set_create_if_missing(b->ropts, 1);
    rocksdb_options_set_enable_pipelined_write(b->ropts, 1);
    b->rdb = rocksdb_open(b->ropts, b->dir[S_ROCKS], &err);
    if (err != NULL) {
        bench_note(b->ctx, "kv: rocksdb_open: %s", err);
        free(err);
        return -EIO;
    }
    b->rwo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(b->rwo, 1);
    return 0;
}

static int rocks_put(struct kv_bench *b, const char *key, const char *val)
{
    char *err = NULL;
    rocksdb_put(b->rdb, b->rwo, key, KEY_BYTES, val, VAL_BYTES, &err);
    if (err == NULL)
        return 0;
    free(err);
    return -EIO;
}

static void rocks_close(struct kv_bench *b)
{
    if (b->rdb != NULL)
        rocksdb_close(b->rdb);
    if (b->rwo != NULL)
        rocksdb_writeoptions_destroy(b->rwo);
    if (b->ropts != NULL)
        rocksdb_options_destroy(b->ropts);
    b->rdb = NULL;
}
#endif

/* ---- LMDB ------------------------------------------------------------------ */

#ifdef BENCH_HAVE_LMDB
static int lmdb_open(struct kv_bench *b)
{
    MDB_txn *txn;
    if (mdb_env_create(&b->env) != 0)
        return -ENOMEM;
    /* Default flags are the durable ones (a commit syncs data and meta
     * page); MDB_NOTLS because a thread here may be any of many. */
    if (mdb_env_set_mapsize(b->env, 256u << 20) != 0 ||
        mdb_env_set_maxreaders(b->env, MAX_THREADS + 8) != 0 ||
        mdb_env_open(b->env, b->dir[S_LMDB], MDB_NOTLS, 0600) != 0 ||
        mdb_txn_begin(b->env, NULL, 0, &txn) != 0)
        return -EIO;
    if (mdb_dbi_open(txn, NULL, 0, &b->dbi) != 0) {
        mdb_txn_abort(txn);
        return -EIO;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : -EIO;
}

static int lmdb_put(struct kv_bench *b, const char *key, const char *val)
{
    MDB_txn *txn;
    MDB_val k = {KEY_BYTES, (void *)key}, v = {VAL_BYTES, (void *)val};
    if (mdb_txn_begin(b->env, NULL, 0, &txn) != 0)
        return -EIO;
    if (mdb_put(txn, b->dbi, &k, &v, 0) != 0) {
        mdb_txn_abort(txn);
        return -EIO;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : -EIO;
}
#endif

/* ---- The in-process competitors' trial --------------------------------------- */

struct worker {
    struct kv_bench *b;
    enum side side;
    long id, n;
    int64_t deadline_ns;
    int err;
};

static int put_one(struct worker *w, void *conn, long i)
{
    char key[KEY_BYTES], val[VAL_BYTES];
    make_kv(w->id, i, key, val);
    switch (w->side) {
#ifdef BENCH_HAVE_SQLITE3
    case S_SQLITE:
        return sq_put(conn, key, val);
#endif
#ifdef BENCH_HAVE_ROCKSDB
    case S_ROCKS:
        return rocks_put(w->b, key, val);
#endif
#ifdef BENCH_HAVE_LMDB
    case S_LMDB:
        return lmdb_put(w->b, key, val);
#endif
    default:
        /* Unreachable: workers run only for sides compiled in and opened
         * (b->have[]); a store that is not installed gets no trial and its
         * row says "not installed". */
        (void)conn;
        return -ENOSYS;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    void *conn = NULL;
#ifdef BENCH_HAVE_SQLITE3
    struct sq_conn sc;
    if (w->side == S_SQLITE) {
        if ((w->err = sq_connect(w->b, &sc)) != 0) {
            sq_disconnect(&sc);
            return NULL;
        }
        conn = &sc;
    }
#endif
    /* At least one put, however long it takes: on a loaded machine one
     * commit can outlast a short trial, and a rate of 0 would be no
     * measurement (the trial's time then stretches to cover the put). */
    while (w->err == 0 && (w->n == 0 || bench_now_ns() < w->deadline_ns))
        if ((w->err = put_one(w, conn, w->n)) == 0)
            w->n++;
#ifdef BENCH_HAVE_SQLITE3
    if (w->side == S_SQLITE)
        sq_disconnect(&sc);
#endif
    return NULL;
}

/* threads writers of one competitor for secs: puts/s and CPU per put. */
static int run_side(struct kv_bench *b, enum side side, int threads, double secs,
                    struct bench_trial *out)
{
    static struct worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    struct bench_clock c;
    bench_clock_start(&c);
    int started = 0, rc = 0;
    for (int t = 0; t < threads; t++) {
        w[t] = (struct worker){
            .b = b, .side = side, .id = t, .deadline_ns = c.wall_ns + (int64_t)(secs * 1e9)};
        if (pthread_create(&th[t], NULL, worker_main, &w[t]) != 0) {
            rc = -EAGAIN;
            break;
        }
        started++;
    }
    long total = 0;
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        rc = rc != 0 ? rc : w[t].err;
        total += w[t].n;
    }
    int64_t cpu, wall = bench_clock_stop(&c, &cpu);
    if (rc != 0)
        bench_note(b->ctx, "kv: %s at %d threads failed (%s)", side_name[side], threads,
                   regio_strerror(rc));
    *out =
        (struct bench_trial){(double)total * 1e9 / (double)wall, bench_per_op(cpu, (double)total)};
    return rc;
}

/* ---- minikv ------------------------------------------------------------------ */

/* regio-minikv beside this program (both are built in the same folder). */
static int find_minikv(struct kv_bench *b)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -errno;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return -ENOENT;
    *slash = 0;
    snprintf(b->minikv, sizeof(b->minikv), "%.*s/regio-minikv", PATH_MAX - 16, self);
    return access(b->minikv, X_OK) == 0 ? 0 : -ENOENT;
}

/* One `regio-minikv DIR bench n threads`: its puts/s and CPU per put. */
static int run_minikv(struct kv_bench *b, long n, int threads, struct bench_trial *out)
{
    char cmd[PATH_MAX + 1200], line[512];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' bench %ld %d 2>&1", b->minikv, b->minikv_dir, n, threads);
    FILE *fp = popen(cmd, "r");
    if (fp == NULL)
        return -errno;
    double rate = NAN, cpu_us = NAN;
    while (fgets(line, sizeof(line), fp) != NULL) {
        /* "puts N threads T: R puts/s, p50 A us, p99 B us, cpu C us/put" */
        const char *r = strstr(line, ": "), *c = strstr(line, "cpu ");
        if (strncmp(line, "puts ", 5) == 0 && r != NULL && c != NULL) {
            rate = strtod(r + 2, NULL);
            cpu_us = strtod(c + 4, NULL);
        } else {
            bench_note(b->ctx, "kv: minikv: %s", line);
        }
    }
    int st = pclose(fp);
    if (st != 0 || !isfinite(rate)) {
        bench_note(b->ctx, "kv: %s failed (status %d)", cmd, st);
        return -EIO;
    }
    *out = (struct bench_trial){rate, cpu_us * 1e3};
    return 0;
}

/* ---- Rows ---------------------------------------------------------------------- */

static int open_sides(struct kv_bench *b)
{
    for (int s = 0; s < COMPETITORS; s++)
        if (mkdir(b->dir[s], 0700) != 0 && errno != EEXIST)
            return -errno;
    int rc = 0;
#ifdef BENCH_HAVE_SQLITE3
    b->have[S_SQLITE] = (rc = sq_open(b)) == 0;
#endif
#ifdef BENCH_HAVE_ROCKSDB
    if (rc == 0)
        b->have[S_ROCKS] = (rc = rocks_open(b)) == 0;
#endif
#ifdef BENCH_HAVE_LMDB
    if (rc == 0)
        b->have[S_LMDB] = (rc = lmdb_open(b)) == 0;
#endif
    return rc;
}

/* A warm-up trial of every side at this thread count (figures thrown away);
 * minikv's rate gives the number of puts of its trials. */
static int warm_up(struct kv_bench *b, int threads, long *minikv_n)
{
    struct bench_trial t;
    long n = threads * 50L;
    int rc = run_minikv(b, n, threads, &t);
    for (int s = 0; rc == 0 && s < COMPETITORS; s++)
        if (b->have[s])
            rc = run_side(b, (enum side)s, threads, b->secs / 2, &t);
    if (rc == 0)
        rc = run_minikv(b, n, threads, &t);
    double want = t.value * b->secs;
    *minikv_n = want < threads * 20.0 ? threads * 20L : (long)want;
    return rc;
}

static int one_count(struct kv_bench *b, int threads)
{
    static struct bench_pair best, each[COMPETITORS];
    memset(&best, 0, sizeof(best));
    memset(each, 0, sizeof(each));
    int wins[COMPETITORS] = {0};
    long n;
    int rc = warm_up(b, threads, &n);
    for (int round = 0; rc == 0 && bench_pair_more(b->ctx, &best, true); round++) {
        struct bench_trial m = {NAN, NAN}, c[COMPETITORS];
        for (int j = 0; rc == 0 && j < 1 + COMPETITORS; j++) {
            int k = (j + round) % (1 + COMPETITORS);
            if (k == COMPETITORS)
                rc = run_minikv(b, n, threads, &m);
            else if (b->have[k])
                rc = run_side(b, (enum side)k, threads, b->secs, &c[k]);
            else
                c[k] = (struct bench_trial){NAN, NAN};
        }
        if (rc != 0)
            break;
        int top = -1;
        for (int s = 0; s < COMPETITORS; s++) {
            bench_pair_add(&each[s], m, c[s]);
            if (isfinite(c[s].value) && (top < 0 || c[s].value > c[top].value))
                top = s;
        }
        if (top >= 0)
            wins[top]++;
        bench_pair_add(&best, m, top >= 0 ? c[top] : (struct bench_trial){NAN, NAN});
    }
    if (rc != 0)
        return rc;
    char name[96], note[256];
    snprintf(name, sizeof(name), "%d thread%s, 16 B keys, 100 B values", threads,
             threads > 1 ? "s" : "");
    snprintf(note, sizeof(note),
             "the best competitor of each round: SQLite %d, RocksDB %d, LMDB %d of %d rounds; "
             "minikv %ld puts a trial",
             wins[S_SQLITE], wins[S_ROCKS], wins[S_LMDB], best.n, n);
    bool any = wins[S_SQLITE] + wins[S_ROCKS] + wins[S_LMDB] > 0;
    bench_pair_row(b->ctx, "kv", name, "durable puts/s", true, &best, "best of SQLite/RocksDB/LMDB",
                   any ? note : "SQLite, RocksDB, LMDB not installed (tools/install-deps.sh)");
    for (int s = 0; s < COMPETITORS; s++)
        bench_pair_row(b->ctx, "kv", name, "durable puts/s", true, &each[s], side_base[s],
                       b->have[s] ? NULL : "not installed (tools/install-deps.sh)");
    return 0;
}

static void close_sides(struct kv_bench *b)
{
#ifdef BENCH_HAVE_ROCKSDB
    rocks_close(b);
#endif
#ifdef BENCH_HAVE_LMDB
    if (b->env != NULL)
        mdb_env_close(b->env);
#endif
    for (int s = 0; s < COMPETITORS; s++)
        wal_rm(b->dir[s]);
    wal_rm(b->minikv_dir);
}

static int bench_kv(const struct bench_ctx *ctx)
{
    static struct kv_bench b;
    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    /* A whole --seconds per trial (0.2 s with --quick): shorter trials
     * caught RocksDB's and SQLite's writers all waiting at once. */
    b.secs = ctx->seconds;
    static const char *const tag[COMPETITORS] = {"sqlite", "rocksdb", "lmdb"};
    for (int s = 0; s < COMPETITORS; s++)
        snprintf(b.dir[s], sizeof(b.dir[s]), "%s/regio-bench-kv-%s-%d", ctx->dir, tag[s],
                 (int)getpid());
    snprintf(b.minikv_dir, sizeof(b.minikv_dir), "%s/regio-bench-kv-minikv-%d", ctx->dir,
             (int)getpid());
    int rc = find_minikv(&b);
    if (rc != 0) {
        bench_note(ctx, "kv: regio-minikv not found beside regio-bench (%s)", b.minikv);
        return rc;
    }
    if (mkdir(b.minikv_dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    rc = open_sides(&b);
    /* --quick: 1 and 16 threads (every trial has a warm-up and a process
     * start of minikv). */
    static const int counts[] = {1, 16, 64};
    size_t ncounts = ctx->quick ? 2 : sizeof(counts) / sizeof(counts[0]);
    for (size_t i = 0; rc == 0 && i < ncounts; i++)
        rc = one_count(&b, counts[i]);
    close_sides(&b);
    return rc;
}

BENCH_REGISTER("kv",
               "durable puts of the example store regio-minikv (1/16/64 threads) vs SQLite (WAL, "
               "synchronous=FULL), RocksDB (sync=true) and LMDB, one put per transaction",
               bench_kv)
