/* regio-test: labels=io timeout=300 */
/*
 * tests/test_tool_dump.c: regio-dump run as a user runs it.
 *
 * wal: logs built byte by byte with the format functions of
 * wal/wal_format.h (a good, cleanly closed log; one with a flipped byte in
 * an acknowledged record; one with a torn tail; random bytes; an empty
 * file), checked through the exit status, the text and the JSON.
 * pages: a page file written through the pager, then damaged; random bytes.
 * arena: a child process that publishes live stats, then is killed (stale).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "check.h"
#include "regio/stats.h"
#include "test_tool_util.h"
#include "wal_format.h"

#define BLOCK  4096u
#define SEGSZ  (64u * 1024u)
#define WINDOW (8u * 1024u)

static char out_path[4200], err_path[4200];

struct seg_image {
    uint8_t data[SEGSZ];
    struct regio__wal_seg_info si;
    uint64_t off; /* where the next record goes */
};

static void seg_init(struct seg_image *s, uint64_t no, uint64_t salt)
{
    memset(s->data, 0, sizeof(s->data));
    s->si = (struct regio__wal_seg_info){.segment_no = no,
                                         .first_lsn = no * SEGSZ + BLOCK,
                                         .segment_bytes = SEGSZ,
                                         .salt = salt,
                                         .window_bytes = WINDOW,
                                         .version = REGIO__WAL_VERSION,
                                         .epoch = 1,
                                         .block_bytes = BLOCK};
    regio__wal_encode_segment_header(&s->si, s->data);
    s->off = BLOCK;
}

/* Append a record; returns its LSN. */
static uint64_t seg_put(struct seg_image *s, uint16_t type, uint32_t len, uint8_t fill)
{
    uint64_t total = regio__wal_rec_total(len);
    CHECK(s->off + total <= SEGSZ);
    uint8_t *h = s->data + s->off;
    memset(h + REGIO__WAL_REC_HDR_BYTES, 0, total - REGIO__WAL_REC_HDR_BYTES);
    memset(h + REGIO__WAL_REC_HDR_BYTES, fill, len);
    uint64_t lsn = s->si.segment_no * SEGSZ + s->off;
    regio__wal_encode_record(h, s->si.salt, lsn, type, 1, len, 0);
    s->off += total;
    return lsn;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(data, 1, len, f), len);
    CHECK_EQ(fclose(f), 0);
}

enum log_kind { LOG_GOOD, LOG_CORRUPT, LOG_TORN, LOG_HOLE };

/* Two segments: 20 records + segend, then 10 records (+ close when clean).
 * Returns the LSN of record 5, the one LOG_CORRUPT damages. */
static uint64_t make_log(const char *dir, enum log_kind kind)
{
    static struct seg_image s0, s1;
    seg_init(&s0, 0, 0x1111222233334444ull);
    seg_init(&s1, 1, 0x5555666677778888ull);
    uint64_t lsn5 = 0;
    for (int i = 0; i < 20; i++) {
        uint64_t lsn = seg_put(&s0, (uint16_t)(i % 3), 100 + 10 * (uint32_t)i, (uint8_t)i);
        if (i == 5)
            lsn5 = lsn;
    }
    seg_put(&s0, REGIO__WAL_TYPE_SEGEND, 0, 0);
    for (int i = 0; i < 10; i++)
        seg_put(&s1, 7, 200, (uint8_t)(0x40 + i));
    uint64_t close_lsn = 0;
    if (kind != LOG_TORN) {
        close_lsn = seg_put(&s1, REGIO__WAL_TYPE_CLOSE, 0, 0);
        /* As a clean close writes it: a pad fills the close record's block. */
        uint64_t end = (s1.off + REGIO__WAL_REC_HDR_BYTES + BLOCK - 1) / BLOCK * BLOCK;
        seg_put(&s1, REGIO__WAL_TYPE_PAD, (uint32_t)(end - s1.off - REGIO__WAL_REC_HDR_BYTES), 0);
    } else
        memset(s1.data + s1.off, 0xA5, 700); /* a torn flush after the last record */
    if (kind == LOG_CORRUPT)
        s0.data[lsn5 + REGIO__WAL_REC_HDR_BYTES + 3] ^= 0x10;
    if (kind == LOG_HOLE) /* a zeroed record: the scan must not stop there */
        memset(s0.data + lsn5, 0, regio__wal_rec_total(150));
    char name[32];
    regio__wal_segment_name(0, name);
    write_file(dir, name, s0.data, SEGSZ);
    regio__wal_segment_name(1, name);
    write_file(dir, name, s1.data, SEGSZ);
    static uint8_t ctl[REGIO__WAL_CTL_FILE_BYTES];
    struct regio__wal_ctl_info ci = {.version = REGIO__WAL_VERSION,
                                     .flags = kind == LOG_TORN ? 0 : REGIO__WAL_CTL_CLEAN,
                                     .epoch = 1,
                                     .block_bytes = BLOCK,
                                     .segment_bytes = SEGSZ,
                                     .close_lsn = close_lsn};
    regio__wal_encode_control(&ci, ctl);
    write_file(dir, REGIO__WAL_CTL_NAME, ctl, sizeof(ctl));
    return lsn5;
}

static char *sub(const char *root, const char *name)
{
    static char paths[8][4200];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", root, name);
    CHECK_EQ(mkdir(p, 0700), 0);
    return p;
}

static int dump(char *a1, char *a2, char *a3, char *a4)
{
    char *argv[] = {(char *)tool_path("dump"), a1, a2, a3, a4, NULL};
    int rc = tool_run(argv, out_path, err_path);
    fprintf(stderr, "exit %d\n", rc);
    return rc;
}

static void test_wal_good(const char *root)
{
    char *dir = sub(root, "good");
    make_log(dir, LOG_GOOD);
    CHECK_EQ(dump("wal", dir, NULL, NULL), 0);
    CHECK(file_contains(out_path, "end of log: clean"));
    CHECK(file_contains(out_path, "salt 0x1111222233334444"));
    CHECK_EQ(dump("wal", dir, "--json", NULL), 0);
    CHECK_EQ(
        json_check(out_path,
                   "d['ok'] and d['end']['kind']=='clean' and len(d['segments'])==2"
                   " and d['segments'][0]['state']=='full'"
                   " and d['segments'][0]['salt']=='0x1111222233334444'"
                   " and d['segments'][1]['first_lsn']==65536+4096"
                   " and d['stats']['user_records']==30 and d['control']['clean']"
                   " and all(i['checksum_ok'] for s in d['segments'] for i in s['items'])"
                   " and [i['type_name'] for i in d['segments'][1]['items']][-2:]==['close','pad']",
                   false),
        0);
    CHECK_EQ(dump("wal", dir, "--stats", NULL), 0);
    CHECK(file_contains(out_path, "total: 33 records, 30 caller records"));
    /* --from: only records at or after the first record of segment 1. */
    CHECK_EQ(dump("wal", dir, "--from", "69632"), 0);
    CHECK(!file_contains(out_path, "lsn 4096 "));
    CHECK(file_contains(out_path, "lsn 69632 "));
}

static void test_wal_corrupt(const char *root)
{
    char *dir = sub(root, "corrupt");
    uint64_t lsn5 = make_log(dir, LOG_CORRUPT);
    CHECK_EQ(dump("wal", dir, NULL, NULL), 1);
    CHECK(file_contains(out_path, "INVALID at lsn"));
    CHECK(file_contains(out_path, "checksum mismatch"));
    CHECK(file_contains(out_path, "end of log: corrupt"));
    CHECK_EQ(dump("wal", dir, "--json", NULL), 1);
    char expr[512];
    snprintf(expr, sizeof(expr),
             "not d['ok'] and d['end']['kind']=='corrupt' and d['end']['lsn']==%llu and "
             "any((not i['checksum_ok']) and i['lsn']==%llu for i in d['segments'][0]['items'])",
             (unsigned long long)lsn5, (unsigned long long)lsn5);
    CHECK_EQ(json_check(out_path, expr, false), 0);
}

static void test_wal_hole(const char *root)
{
    char *dir = sub(root, "hole");
    uint64_t lsn5 = make_log(dir, LOG_HOLE);
    CHECK_EQ(dump("wal", dir, NULL, NULL), 1);
    CHECK(file_contains(out_path, "a hole"));
    CHECK(file_contains(out_path, "end of log: corrupt"));
    CHECK_EQ(dump("wal", dir, "--json", NULL), 1);
    char expr[256];
    snprintf(expr, sizeof(expr), "d['end']['kind']=='corrupt' and d['end']['lsn']==%llu",
             (unsigned long long)lsn5);
    CHECK_EQ(json_check(out_path, expr, false), 0);
}

static void test_wal_torn(const char *root)
{
    char *dir = sub(root, "torn");
    make_log(dir, LOG_TORN);
    CHECK_EQ(dump("wal", dir, NULL, NULL), 0);
    CHECK(file_contains(out_path, "end of log: torn"));
    CHECK_EQ(dump("wal", dir, "--json", NULL), 0);
    CHECK_EQ(json_check(out_path, "d['ok'] and d['end']['kind']=='torn'", false), 0);
}

static void test_wal_hostile(const char *root)
{
    uint64_t seed = test_seed();
    static uint8_t junk[SEGSZ];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)test_rand(&seed);
    char name[32];
    regio__wal_segment_name(0, name);

    char *dir = sub(root, "random");
    write_file(dir, name, junk, sizeof(junk));
    CHECK_EQ(dump("wal", dir, NULL, NULL), 1);
    CHECK(file_contains(out_path, "ERROR"));
    CHECK_EQ(dump("wal", dir, "--json", NULL), 1);
    CHECK_EQ(json_check(out_path, "not d['ok'] and len(d['errors'])>0", false), 0);

    dir = sub(root, "randctl");
    write_file(dir, REGIO__WAL_CTL_NAME, junk, 4096);
    CHECK_EQ(dump("wal", dir, NULL, NULL), 1);
    CHECK(file_contains(out_path, "control file damaged"));

    dir = sub(root, "empty");
    write_file(dir, name, junk, 0);
    CHECK_EQ(dump("wal", dir, NULL, NULL), 1);
    CHECK_EQ(dump("wal", dir, "--json", NULL), 1);
    CHECK_EQ(json_check(out_path, "not d['ok']", false), 0);

    dir = sub(root, "nolog");
    CHECK_EQ(dump("wal", dir, NULL, NULL), 1);
    CHECK(file_contains(err_path, "not a regio WAL directory"));
    CHECK_EQ(dump("wal", "/nonexistent/regio-dump-test", NULL, NULL), 1);
    CHECK_EQ(dump("wal", NULL, NULL, NULL), 2);
    CHECK_EQ(dump("wal", dir, "--from", "x"), 2);
    CHECK_EQ(dump("nosuch", NULL, NULL, NULL), 2);
    CHECK_EQ(dump("--help", NULL, NULL, NULL), 0);
    CHECK_EQ(dump("wal", "--help", NULL, NULL), 0);
}

/* A page file of 8 KiB pages written through the pager: pages 0..5 and 8,
 * so pages 6 and 7 were never written; page n has page LSN 100 + n. */
static void make_page_file(const char *path)
{
    struct regio_arena_opts ao = {.size_bytes = 16u << 20, .pages = REGIO_PAGES_NORMAL};
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
    struct regio_pager *p;
    CHECK_OK(regio_arena_create(&ao, &a));
    CHECK_OK(regio_slab_create(a, NULL, &s));
    CHECK_OK(regio_engine_create(a, s, NULL, &e));
    struct regio_pager_opts po = {.page_bytes = 8192, .create = true};
    CHECK_OK(regio_pager_open(e, path, &po, &p));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(s, 8192, &b));
    for (uint64_t pg = 0; pg < 9; pg++) {
        if (pg == 6 || pg == 7)
            continue;
        memset(b.data, (int)(0x30 + pg), regio_pager_payload_bytes(p));
        CHECK_OK(regio_pager_set_image_lsn(b.data, 8192, 100 + pg));
        CHECK_OK(regio_pager_write_wait(p, pg, b));
    }
    CHECK_OK(regio_pager_sync(p));
    CHECK_OK(regio_pager_close(p));
    CHECK_OK(regio_slab_free(s, b));
    CHECK_OK(regio_engine_destroy(e));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
}

static void test_pages(const char *root)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/pages.db", root);
    make_page_file(path);
    CHECK_EQ(dump("pages", path, "--page-bytes", "8K"), 0);
    CHECK(file_contains(out_path, "pages scanned 9, valid 7, never written 2, bad checksums 0, "
                                  "highest page LSN 108"));
    CHECK_EQ(dump("pages", path, "--page-bytes", "8192"), 0);
    char *json_argv[] = {
        (char *)tool_path("dump"), "pages", path, "--page-bytes", "8192", "--json", NULL};
    CHECK_EQ(tool_run(json_argv, out_path, err_path), 0);
    CHECK_EQ(json_check(out_path,
                        "d['ok'] and d['pages']==9 and d['valid']==7 and d['empty']==2"
                        " and d['bad']==0 and d['bad_pages']==[] and d['max_page_lsn']==108",
                        false),
             0);
    /* The wrong page size: every page fails, and the right one is hinted. */
    CHECK_EQ(dump("pages", path, NULL, NULL), 1);
    CHECK(file_contains(out_path, "hint: page 0 verifies with --page-bytes 8192"));

    /* A flipped byte in page 4 is found and named. */
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t c;
    CHECK_EQ(pread(fd, &c, 1, 4 * 8192 + 100), 1);
    c ^= 0x01;
    CHECK_EQ(pwrite(fd, &c, 1, 4 * 8192 + 100), 1);
    close(fd);
    CHECK_EQ(tool_run(json_argv, out_path, err_path), 1);
    CHECK_EQ(json_check(out_path,
                        "not d['ok'] and d['bad']==1 and d['bad_pages'][0]['page']==4"
                        " and d['bad_pages'][0]['offset']==32768",
                        false),
             0);
    CHECK_EQ(dump("pages", path, "--page-bytes", "8192"), 1);
    CHECK(file_contains(out_path, "page 4 (offset 32768)"));

    /* Random bytes, a partial page, an empty file, no file, bad sizes. */
    uint64_t seed = test_seed();
    static uint8_t junk[3 * 4096 + 100];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)test_rand(&seed);
    write_file(root, "random.db", junk, sizeof(junk));
    snprintf(path, sizeof(path), "%s/random.db", root);
    CHECK_EQ(dump("pages", path, NULL, NULL), 1);
    CHECK(file_contains(out_path, "bad checksums 3"));
    CHECK(file_contains(out_path, "not a whole page"));
    write_file(root, "empty.db", junk, 0);
    snprintf(path, sizeof(path), "%s/empty.db", root);
    CHECK_EQ(dump("pages", path, NULL, NULL), 0);
    CHECK(file_contains(out_path, "pages scanned 0"));
    CHECK_EQ(dump("pages", "/nonexistent/regio.db", NULL, NULL), 1);
    CHECK_EQ(dump("pages", path, "--page-bytes", "5000"), 2);
    CHECK_EQ(dump("pages", path, "--page-bytes", "128K"), 2);
    CHECK_EQ(dump("pages", NULL, NULL, NULL), 2);
    CHECK_EQ(dump("pages", (char *)root, NULL, NULL), 1);
}

/* A child publishing live stats; dump sees it running, then stale. */
static void test_arena_live_and_stale(void)
{
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        struct regio_arena_opts o = {
            .size_bytes = 4u << 20, .pages = REGIO_PAGES_NORMAL, .stats_name = "dumptest"};
        struct regio_arena *a;
        char c = regio_arena_create(&o, &a) == 0 ? 'y' : 'n';
        if (write(pfd[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c = 0;
    CHECK_EQ(read(pfd[0], &c, 1), 1);
    CHECK_EQ(c, 'y');
    char pidstr[32], expr[512];
    snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);

    CHECK_EQ(dump("arena", "--pid", pidstr, "--json"), 0);
    snprintf(expr, sizeof(expr),
             "d['pid']==%d and d['live']==1 and d['arenas'][0]['state']=='running'"
             " and d['arenas'][0]['name']=='dumptest' and d['arenas'][0]['alive']"
             " and d['arenas'][0]['arena']['size_bytes']==4194304"
             " and d['arenas'][0]['arena']['pages']=='normal'"
             " and d['arenas'][0]['slabs']==[] and 'fallback_reason' in d['arenas'][0]['arena']",
             (int)pid);
    CHECK_EQ(json_check(out_path, expr, false), 0);
    CHECK_EQ(dump("arena", "--pid", pidstr, NULL), 0);
    CHECK(file_contains(out_path, "running"));
    CHECK(file_contains(out_path, "pages normal"));
    CHECK_EQ(dump("arena", NULL, NULL, NULL), 0);
    CHECK(file_contains(out_path, "dumptest"));
    CHECK_EQ(dump("arena", "--json", NULL, NULL), 0);
    CHECK_EQ(json_check(out_path, "isinstance(d['arenas'], list) and d['live']>=1", false), 0);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK_EQ(dump("arena", "--pid", pidstr, "--json"), 1);
    CHECK_EQ(json_check(out_path,
                        "d['live']==0 and d['arenas'][0]['state']=='stale'"
                        " and not d['arenas'][0]['alive']",
                        false),
             0);
    CHECK_EQ(dump("arena", "--pid", pidstr, NULL), 1);
    CHECK(file_contains(out_path, "stale"));
    char path[256];
    snprintf(path, sizeof(path), "%s/%s%d.dumptest", REGIO_STATS_DIR, REGIO_STATS_PREFIX, (int)pid);
    unlink(path);
    CHECK_EQ(dump("arena", "--pid", pidstr, NULL), 1);
    CHECK_EQ(dump("arena", "--pid", "abc", NULL), 2);
    close(pfd[0]);
    close(pfd[1]);
}

int main(void)
{
    const char *root = test_tmpdir("tool_dump");
    snprintf(out_path, sizeof(out_path), "%s/out.txt", root);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", root);
    test_wal_good(root);
    test_wal_corrupt(root);
    test_wal_torn(root);
    test_wal_hole(root);
    test_wal_hostile(root);
    test_pages(root);
    test_arena_live_and_stale();
    test_rmdir_all(root);
    printf("tool_dump: ok\n");
    return 0;
}
