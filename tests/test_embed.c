/* regio-test: labels=io timeout=300 */
/*
 * tests/test_embed.c: the defects an embedding database hit (issue 19):
 * every failing public call leaves a detail of its own (never the previous
 * failure's text); another slab's buffer is -EXDEV, not -ESTALE; a clean
 * close cuts nothing (bytes_cut 0, also in a recycled segment);
 * regio_engine_wait waits on an idle engine like a slow one (-ETIMEDOUT
 * after the timeout, -EDEADLK without limit on an owned engine); a log keeps its files in the
 * directory it was opened in, whatever happens to the path afterwards.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "regio.h"
#include "regio/testing.h"
#include "wal_internal.h"

void regio__set_detail(const char *fmt, ...);

#define LEFT_OVER "left over from an earlier failure"

/* expr must fail with want, and leave a detail that is not the previous
 * failure's. */
#define CHECK_FRESH(expr, want)                                                                    \
    do {                                                                                           \
        regio__set_detail(LEFT_OVER);                                                              \
        CHECK_EQ((expr), (want));                                                                  \
        if (strcmp(regio_error_detail(), LEFT_OVER) == 0) {                                        \
            fprintf(stderr, "%s:%d: %s left the previous detail\n", __FILE__, __LINE__, #expr);    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

struct env {
    struct regio_arena *a;
    struct regio_slab *s;
    struct regio_engine *e;
};

static void env_up(struct env *v)
{
    struct regio_arena_opts ao = {.size_bytes = 16u << 20, .pages = REGIO_PAGES_NORMAL};
    CHECK_OK(regio_arena_create(&ao, &v->a));
    CHECK_OK(regio_slab_create(v->a, NULL, &v->s));
    CHECK_OK(regio_engine_create(v->a, v->s, NULL, &v->e));
}

static void env_down(struct env *v)
{
    CHECK_OK(regio_engine_destroy(v->e));
    CHECK_OK(regio_slab_destroy(v->s));
    CHECK_OK(regio_arena_destroy(v->a));
}

static void nop_cb(void *ctx, int res)
{
    (void)ctx;
    (void)res;
}

/* One failing call of every public function that can fail cheaply. */
static void fresh_details(const char *dir)
{
    struct env v;
    env_up(&v);
    struct regio_buf b, view;
    CHECK_OK(regio_slab_alloc(v.s, 4096, &b));
    CHECK_FRESH(regio_buf_view(b, 4000, 200, &view), -EINVAL);
    CHECK_FRESH(regio_buf_view(b, 0, 0, &view), -EINVAL);
    CHECK_FRESH(regio_slab_alloc(v.s, 0, &view), -EINVAL);
    CHECK_FRESH(regio_slab_alloc(NULL, 4096, &view), -EINVAL);
    CHECK_FRESH(regio_slab_alloc_wait(v.s, 1u << 30, 0, &view), -EINVAL);
    CHECK_FRESH(regio_slab_alloc_pool(v.s, 3, 0, &view), -EINVAL);
    CHECK_OK(regio_buf_view(b, 0, 512, &view));
    CHECK_FRESH(regio_slab_free(v.s, view), -EINVAL);
    CHECK_FRESH(regio_slab_io_end(v.s, b), -EINVAL);
    CHECK_FRESH(regio_slab_free(NULL, b), -EINVAL);
    CHECK_FRESH(regio_slab_check(NULL, b), -EINVAL);
    CHECK_FRESH(regio_slab_stats(v.s, NULL), -EINVAL);
    CHECK_FRESH(regio_slab_create(NULL, NULL, &v.s), -EINVAL);
    CHECK_FRESH(regio_arena_region_of(v.a, NULL, 1), -EFAULT);
    CHECK_FRESH(regio_arena_stats(v.a, NULL), -EINVAL);
    CHECK_FRESH(regio_engine_stats(v.e, NULL), -EINVAL);
    CHECK_FRESH(regio_engine_wait(NULL, 1, 0), -EINVAL);
    CHECK_FRESH(regio_engine_drain(NULL, 0), -EINVAL);
    CHECK_FRESH(regio_engine_submit(NULL), -EINVAL);
    CHECK_FRESH(regio_engine_fault_arm(v.e, NULL), -EINVAL);
    CHECK_FRESH(regio_engine_record_stop(v.e, NULL), -EINVAL);

    char path[512];
    snprintf(path, sizeof(path), "%s/file", dir);
    struct regio_file *f;
    CHECK_FRESH(regio_file_open(v.e, NULL, O_RDWR, 0600, &f), -EINVAL);
    CHECK_OK(regio_file_open(v.e, path, O_RDWR | O_CREAT, 0600, &f));
    CHECK_FRESH(regio_file_read(f, b, 100, 4096, nop_cb, NULL), -EINVAL);
    CHECK_FRESH(regio_file_write(f, b, 0, 8192, nop_cb, NULL), -EINVAL);
    CHECK_FRESH(regio_file_write_flags(f, b, 0, 4096, 0x80, nop_cb, NULL), -EINVAL);
    CHECK_FRESH(regio_file_fsync(NULL, true, nop_cb, NULL), -EBADF);
    CHECK_FRESH(regio_file_dio_align(NULL, NULL, NULL), -EBADF);
    CHECK_FRESH(regio_file_close(NULL), -EBADF);
    CHECK_OK(regio_file_close(f));
    CHECK_FRESH(regio_file_close(f), -EBADF);
    CHECK_FRESH(regio_file_fd(f), -EBADF);

    snprintf(path, sizeof(path), "%s/pages", dir);
    struct regio_pager_opts po = {.create = true};
    struct regio_pager *p;
    CHECK_FRESH(regio_pager_open(v.e, NULL, &po, &p), -EINVAL);
    CHECK_OK(regio_pager_open(v.e, path, &po, &p));
    struct regio_buf small;
    CHECK_OK(regio_buf_view(b, 0, 2048, &small));
    CHECK_FRESH(regio_pager_read(p, 0, small, nop_cb, NULL), -EINVAL);
    CHECK_FRESH(regio_pager_write_wait(p, 0, small), -EINVAL);
    CHECK_FRESH(regio_pager_page_count(p, NULL), -EINVAL);
    CHECK_FRESH(regio_pager_verify_image(NULL, 4096, 0), -EINVAL);
    CHECK_OK(regio_pager_close(p));
    CHECK_OK(regio_slab_free(v.s, b));
    env_down(&v);

    char wdir[512];
    snprintf(wdir, sizeof(wdir), "%s/wal", dir);
    struct regio_wal_opts o = {
        .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10, .create = true};
    struct regio_wal *w;
    CHECK_FRESH(regio_wal_open(NULL, &o, &w, NULL), -EINVAL);
    CHECK_OK(regio_wal_open(wdir, &o, &w, NULL));
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    CHECK_FRESH(regio_wal_append_record(w, 0xF001, &iov, 1, NULL, NULL), -EINVAL);
    CHECK_FRESH(regio_wal_append(w, "x", 0, NULL), -EINVAL);
    CHECK_FRESH(regio_wal_appendv(w, NULL, 2, NULL), -EINVAL);
    CHECK_FRESH(regio_wal_stats(w, NULL), -EINVAL);
    CHECK_FRESH(regio_wal_set_checkpoint(NULL, 0), -EINVAL);
    CHECK_FRESH(regio_wal_sync(NULL, 0), -EINVAL);
    CHECK_FRESH(regio_wal_truncate_before(NULL, 0), -EINVAL);
    CHECK_FRESH(regio_wal_notify_durable(NULL, 0, nop_cb, NULL), -EINVAL);
    struct regio_wal_reader *r;
    CHECK_FRESH(regio_wal_reader_open_live(w, 0, NULL), -EINVAL);
    CHECK_FRESH(regio_wal_reader_open(NULL, 0, &r), -EINVAL);
    CHECK_FRESH(regio_wal_reader_next(NULL, NULL), -EINVAL);
    CHECK_FRESH(regio_wal_close(NULL), -EINVAL);
    CHECK_OK(regio_wal_close(w));
}

/* A buffer of slab 2 given to slab 1 (both on one arena): -EXDEV, with a
 * detail that says so, from every call that checks a handle. */
static void other_slab(const char *dir)
{
    struct env v;
    env_up(&v);
    struct regio_slab *s2;
    CHECK_OK(regio_slab_create(v.a, NULL, &s2));
    struct regio_buf b2;
    CHECK_OK(regio_slab_alloc(s2, 4096, &b2));
    CHECK_FRESH(regio_slab_free(v.s, b2), -EXDEV);
    CHECK(strstr(regio_error_detail(), "another slab") != NULL);
    CHECK_FRESH(regio_slab_check(v.s, b2), -EXDEV);
    CHECK_FRESH(regio_slab_io_begin(v.s, b2), -EXDEV);
    char path[512];
    snprintf(path, sizeof(path), "%s/xdev", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(v.e, path, O_RDWR | O_CREAT, 0600, &f));
    CHECK_FRESH(regio_file_write(f, b2, 0, 4096, nop_cb, NULL), -EXDEV);
    CHECK(strstr(regio_error_detail(), "another slab") != NULL);
    CHECK_OK(regio_file_close(f));
    /* Its own slab still takes it; a freed handle stays -ESTALE/-EALREADY. */
    CHECK_OK(regio_slab_check(s2, b2));
    CHECK_OK(regio_slab_free(s2, b2));
    CHECK_FRESH(regio_slab_free(s2, b2), -EALREADY);
    struct regio_buf b1;
    CHECK_OK(regio_slab_alloc(v.s, 4096, &b1));
    CHECK_OK(regio_slab_free(v.s, b1));
    CHECK_FRESH(regio_slab_check(v.s, b1), -EALREADY);
    CHECK_OK(regio_slab_destroy(s2));
    env_down(&v);
    CHECK(strstr(regio_strerror(-EXDEV), "slab") != NULL);
    CHECK(strstr(regio_strerror(-EINVAL), "O_DIRECT") == NULL);
}

/* A clean close cuts nothing, also when the log ends in a recycled segment
 * whose bytes past the close record are a previous use's. */
static void clean_close_cuts_nothing(const char *dir)
{
    char wdir[512];
    snprintf(wdir, sizeof(wdir), "%s/wal_cut", dir);
    struct regio_wal_opts o = {
        .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10, .create = true};
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(wdir, &o, &w, &info));
    static char buf[3000];
    memset(buf, 0xab, sizeof(buf));
    uint64_t lsn = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 1000; i++)
            CHECK_OK(regio_wal_append(w, buf, sizeof(buf), &lsn));
        CHECK_OK(regio_wal_sync(w, lsn));
        CHECK_OK(regio_wal_set_checkpoint(w, lsn));
        CHECK_OK(regio_wal_truncate_before(w, lsn));
    }
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK(st.segments_used > st.segments_zero_filled); /* a recycled one was used */
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(wdir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.bytes_cut, 0);
    CHECK_OK(regio_wal_close(w));
}

struct count {
    int calls;
};

static void count_cb(void *ctx, int res)
{
    (void)res;
    ((struct count *)ctx)->calls++;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An idle owned engine is waited on like a slow one: a timed wait sleeps
 * the timeout out and says -ETIMEDOUT (an event loop of short waits must
 * not spin), a poll says -ETIMEDOUT at once, a wait without limit is
 * refused with -EDEADLK (it could never end). A request the kernel holds (a
 * stalled fault): -ETIMEDOUT once the timeout passes. */
static void engine_wait_contract(const char *dir)
{
    struct env v;
    env_up(&v);
    int64_t t0 = mono_ns();
    CHECK_FRESH(regio_engine_wait(v.e, 1, 50 * 1000000ll), -ETIMEDOUT);
    CHECK(mono_ns() - t0 >= 50 * 1000000ll); /* slept it out: a lower bound only */
    CHECK_FRESH(regio_engine_wait(v.e, 1, 0), -ETIMEDOUT);
    CHECK_FRESH(regio_engine_wait(v.e, 1, -1), -EDEADLK);
    CHECK(strstr(regio_error_detail(), "nothing in flight") != NULL);
    CHECK_EQ(regio_engine_wait(v.e, 0, 0), 0);
    CHECK_EQ(regio_engine_wait(v.e, 0, 20 * 1000000ll), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/wait", dir);
    struct regio_file *f;
    CHECK_OK(regio_file_open(v.e, path, O_RDWR | O_CREAT, 0600, &f));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, 4096, &b));
    struct regio_fault ft = {.op = REGIO_OP_WRITE, .nth = 1, .stall = true};
    CHECK_OK(regio_engine_fault_arm(v.e, &ft));
    struct count c = {0};
    CHECK_OK(regio_file_write(f, b, 0, 4096, count_cb, &c));
    CHECK_EQ(regio_engine_wait(v.e, 1, 20 * 1000000ll), -ETIMEDOUT);
    CHECK_EQ(c.calls, 0);
    CHECK_OK(regio_engine_drain(v.e, -1)); /* the stall probe ends it */
    CHECK_EQ(c.calls, 1);
    CHECK_OK(regio_slab_free(v.s, b));
    CHECK_OK(regio_file_close(f));
    env_down(&v);
}

static size_t entries_in(const char *path)
{
    DIR *d = opendir(path);
    CHECK(d != NULL);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static const struct regio_wal_opts small_wal = {
    .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10, .spare_segments = 1, .create = true};

/* Append n records of 3000 bytes (enough for several segment switches at
 * 1 MiB segments when n is 1000), sync; the first one's LSN. */
static uint64_t append_some(struct regio_wal *w, int n)
{
    static char buf[3000];
    uint64_t first = 0, lsn = 0;
    for (int i = 0; i < n; i++) {
        memset(buf, i & 0xff, sizeof(buf));
        CHECK_OK(regio_wal_append(w, buf, sizeof(buf), &lsn));
        if (i == 0)
            first = lsn;
    }
    CHECK_OK(regio_wal_sync(w, lsn));
    return first;
}

static uint64_t count_records(const char *wdir, uint64_t from)
{
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(wdir, from, &r));
    struct regio_wal_record rec;
    uint64_t n = 0;
    int rc;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1)
        n++;
    CHECK_EQ(rc, 0);
    CHECK_OK(regio_wal_reader_close(r));
    return n;
}

/* Opened by a relative path, then the process changes directory: every
 * later file operation (control file, segment preparation, recycling,
 * segment opens, the close) still happens in the log's directory, and
 * nothing appears in the new working directory. */
static void held_directory_chdir(const char *dir)
{
    char cwd[4096], here[1024], away[1024];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    snprintf(here, sizeof(here), "%s/rel", dir);
    snprintf(away, sizeof(away), "%s/away", dir);
    CHECK(mkdir(here, 0700) == 0 && mkdir(away, 0700) == 0);
    CHECK(chdir(here) == 0);
    struct regio_wal *w;
    CHECK_OK(regio_wal_open("log", &small_wal, &w, NULL));
    uint64_t first = append_some(w, 10);
    CHECK(chdir(away) == 0);
    struct regio_wal_reader *live;
    CHECK_OK(regio_wal_reader_open_live(w, 0, &live));
    CHECK_OK(regio_wal_set_checkpoint(w, first));
    append_some(w, 1000); /* segment switches */
    uint64_t later = append_some(w, 10);
    CHECK_OK(regio_wal_set_checkpoint(w, later));
    struct regio_wal_record rec;
    CHECK_EQ(regio_wal_reader_next(live, &rec), 1);
    CHECK_OK(regio_wal_reader_close(live));
    CHECK(regio_wal_truncate_before(w, later) > 0); /* recycling */
    append_some(w, 1000);
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(entries_in(away), 0);
    CHECK(chdir(here) == 0);
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open("log", &small_wal, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.checkpoint_lsn, later);
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(count_records("log", later), 1010);
    CHECK(chdir(cwd) == 0);
}

/* The directory renamed away and a new one made under its name (a store
 * replaced under a running process): the log keeps writing into its own
 * directory and never into the new one. Deleted and re-created: the log
 * cannot write its files any more (and fails), but still writes nothing
 * into the new directory. */
static void held_directory_recreated(const char *dir)
{
    char wdir[1024], moved[1024];
    snprintf(wdir, sizeof(wdir), "%s/store", dir);
    snprintf(moved, sizeof(moved), "%s/store.old", dir);
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(wdir, &small_wal, &w, NULL));
    uint64_t first = append_some(w, 10);
    CHECK(rename(wdir, moved) == 0 && mkdir(wdir, 0700) == 0);
    CHECK_OK(regio_wal_set_checkpoint(w, first));
    append_some(w, 1000);
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(entries_in(wdir), 0);
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(moved, &small_wal, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.checkpoint_lsn, first);
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(count_records(moved, 0), 1010);

    /* Deleted (every file, then the directory) and re-created. */
    CHECK_OK(regio_wal_open(moved, &small_wal, &w, NULL));
    first = append_some(w, 10);
    /* (The preparer may still add a spare until the directory is gone.) */
    for (int i = 0; i < 100 && mkdir(moved, 0700) != 0; i++) {
        test_rmdir_all(moved);
        usleep(10000);
    }
    CHECK_EQ(entries_in(moved), 0);
    CHECK(regio_wal_set_checkpoint(w, first) < 0);
    regio_wal_close(w); /* fails too: its control file has nowhere to go */
    CHECK_EQ(entries_in(moved), 0);
}

/* Overwrite the stored checkpoint of a closed log (as a damaged control
 * file, or an older regio, could leave it). */
static void store_checkpoint(const char *wdir, uint64_t lsn)
{
    struct regio__wal_ctl_info c;
    CHECK_OK(regio__wal_read_control(wdir, &c));
    c.checkpoint_lsn = lsn;
    uint8_t buf[REGIO__WAL_CTL_FILE_BYTES];
    regio__wal_encode_control(&c, buf);
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", wdir, REGIO__WAL_CTL_NAME);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
    CHECK(fsync(fd) == 0);
    close(fd);
}

/* A checkpoint never makes the log unreadable: set_checkpoint refuses an
 * LSN inside a record or not yet durable; open ignores (and reports) a
 * stored one that is no record start; a directory reader refuses an LSN
 * inside a record with a detail naming the record, and starts at the
 * durable end. */
static void checkpoint_validated(const char *dir)
{
    char wdir[1024];
    snprintf(wdir, sizeof(wdir), "%s/ckpt", dir);
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(wdir, &small_wal, &w, NULL));
    uint64_t first = append_some(w, 20);
    uint64_t rec_bytes = regio__wal_rec_total(3000);
    CHECK_FRESH(regio_wal_set_checkpoint(w, first + 8), -EINVAL);
    CHECK(strstr(regio_error_detail(), "inside the record") != NULL);
    CHECK_FRESH(regio_wal_set_checkpoint(w, first + 5 * rec_bytes + 64), -EINVAL);
    uint64_t unsynced;
    CHECK_OK(regio_wal_append(w, "late", 4, NULL));
    CHECK_OK(regio_wal_append(w, "later", 5, &unsynced));
    if (unsynced > regio_wal_durable_lsn(w)) { /* (unless a flush took it already) */
        CHECK_FRESH(regio_wal_set_checkpoint(w, unsynced), -EINVAL);
        CHECK(strstr(regio_error_detail(), "not durable") != NULL);
    }
    CHECK_FRESH(regio_wal_set_checkpoint(w, 1ull << 50), -EINVAL);
    CHECK_OK(regio_wal_set_checkpoint(w, first + 3 * rec_bytes)); /* the 4th record */
    CHECK_OK(regio_wal_sync(w, unsynced));
    uint64_t end = regio_wal_durable_lsn(w);
    CHECK_OK(regio_wal_set_checkpoint(w, end)); /* the durable end */
    CHECK_OK(regio_wal_close(w));
    CHECK_OK(regio_wal_open(wdir, &small_wal, &w, &info));
    CHECK_EQ(info.checkpoint_lsn, end);
    CHECK_EQ(info.checkpoint_ignored_lsn, 0);
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(count_records(wdir, end), 0);
    CHECK_EQ(count_records(wdir, first + 3 * rec_bytes), 19);

    struct regio_wal_reader *r;
    CHECK_FRESH(regio_wal_reader_open(wdir, first + 8, &r), -EINVAL);
    CHECK(strstr(regio_error_detail(), "inside the record") != NULL);
    CHECK_FRESH(regio_wal_reader_open(wdir, end + 4096 * 3, &r), -EINVAL);

    /* A stored checkpoint inside a record: open ignores it and says so. */
    store_checkpoint(wdir, first + 8);
    CHECK_OK(regio_wal_open(wdir, &small_wal, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.checkpoint_lsn, 0);
    CHECK_EQ(info.checkpoint_ignored_lsn, first + 8);
    CHECK(strstr(info.detail, "ignored") != NULL);
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(count_records(wdir, 0), 22);
    /* ... and forgot it: the next open finds none. */
    CHECK_OK(regio_wal_open(wdir, &small_wal, &w, &info));
    CHECK_EQ(info.checkpoint_lsn, 0);
    CHECK_EQ(info.checkpoint_ignored_lsn, 0);
    CHECK_OK(regio_wal_close(w));
    /* Past the end of the log: kept (durable records up to it are gone,
     * which replay must not paper over), and said. */
    store_checkpoint(wdir, 1ull << 40);
    CHECK_OK(regio_wal_open(wdir, &small_wal, &w, &info));
    CHECK_EQ(info.checkpoint_lsn, 1ull << 40);
    CHECK_EQ(info.checkpoint_ignored_lsn, 0);
    CHECK(strstr(info.detail, "past the recovered end") != NULL);
    CHECK_OK(regio_wal_close(w));
}

/* A page file cut short: its lost pages read -ENXIO, told apart from a
 * never-written page inside the file (-ENODATA). */
static void pages_past_end(const char *dir)
{
    struct env v;
    env_up(&v);
    char path[1024];
    snprintf(path, sizeof(path), "%s/cut.pages", dir);
    struct regio_pager_opts po = {.create = true};
    struct regio_pager *p;
    CHECK_OK(regio_pager_open(v.e, path, &po, &p));
    struct regio_buf b;
    CHECK_OK(regio_slab_alloc(v.s, 4096, &b));
    for (uint64_t i = 0; i < 4; i++) {
        memset(b.data, (int)i + 1, regio_pager_payload_bytes(p));
        CHECK_EQ(regio_pager_write_wait(p, i, b), 4096);
    }
    CHECK_OK(regio_pager_extend(p, 6)); /* pages 4 and 5: never written */
    CHECK_OK(regio_pager_sync(p));
    CHECK_FRESH(regio_pager_read_wait(p, 5, b), -ENODATA);
    CHECK_FRESH(regio_pager_read_wait(p, 6, b), -ENXIO);
    CHECK(truncate(path, 2 * 4096) == 0); /* lost: pages 2..5 */
    CHECK_EQ(regio_pager_read_wait(p, 1, b), 4096);
    memset(b.data, 0xee, 4096);
    CHECK_FRESH(regio_pager_read_wait(p, 3, b), -ENXIO);
    for (size_t k = 0; k < 4096; k++)
        CHECK(((uint8_t *)b.data)[k] == 0);
    CHECK(strstr(regio_strerror(-ENXIO), "past the end") != NULL);
    CHECK_OK(regio_slab_free(v.s, b));
    CHECK_OK(regio_pager_close(p));
    env_down(&v);
}

/* A log on tmpfs or ramfs is accepted and reported as volatile (recovery
 * report, its detail, the stats); one elsewhere is not. The answer must
 * match the filesystem this test runs on. */
static void volatile_reported(const char *dir)
{
    char wdir[1024];
    snprintf(wdir, sizeof(wdir), "%s/vol", dir);
    struct statfs sf;
    CHECK(statfs(dir, &sf) == 0);
    bool want = sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(wdir, &small_wal, &w, &info));
    CHECK_EQ(info.volatile_storage, want);
    CHECK_EQ(strstr(info.detail, "does not survive a reboot") != NULL, want);
    struct regio_wal_stats st;
    CHECK_OK(regio_wal_stats(w, &st));
    CHECK_EQ(st.volatile_storage, want);
    CHECK_OK(regio_wal_close(w));
    /* Always on tmpfs where /dev/shm is one. */
    if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC)
        return;
    char shm[256];
    snprintf(shm, sizeof(shm), "/dev/shm/regio-test-embed-vol-%d", (int)getpid());
    CHECK_OK(regio_wal_open(shm, &small_wal, &w, &info));
    CHECK(info.volatile_storage);
    CHECK(strstr(info.detail, "tmpfs") != NULL);
    CHECK_OK(regio_wal_close(w));
    test_rmdir_all(shm);
}

/* A new log: open returns with segment 0 allocated and the spares still to
 * come from the WAL's preparer; records go in at once, and the spares do
 * appear. A close while a spare is being zero-filled abandons it, and the
 * next open reuses the file. (No timing is asserted: only that the work
 * happens, and where.) */
static void spares_after_open(const char *dir)
{
    char wdir[1024];
    snprintf(wdir, sizeof(wdir), "%s/spares", dir);
    struct regio_wal_opts o = {
        .segment_bytes = 8u << 20, .buffer_bytes = 64u << 10, .spare_segments = 2, .create = true};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(wdir, &o, &w, NULL));
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "first", 5, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    struct regio_wal_stats st;
    for (int i = 0; i < 2000; i++) { /* up to 20 s on a loaded machine */
        CHECK_OK(regio_wal_stats(w, &st));
        if (st.segments_zero_filled >= 2 && st.segments_used >= 3)
            break;
        usleep(10000);
    }
    /* Segment 0 was allocated, not written; both spares were zero-filled. */
    CHECK_EQ(st.segments_zero_filled, 2);
    CHECK_EQ(st.segments_used, 3);
    CHECK_OK(regio_wal_close(w));

    /* Closed at once: whatever spare was in preparation is dropped. */
    snprintf(wdir, sizeof(wdir), "%s/spares2", dir);
    CHECK_OK(regio_wal_open(wdir, &o, &w, NULL));
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(wdir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    append_some(w, 10000); /* 30 MB: through the spares, whatever state they were left in */
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(count_records(wdir, 0), 10000);
}

struct section {
    const char *name;
    void (*fn)(const char *dir);
};

static const struct section sections[] = {
    {"fresh_details", fresh_details},
    {"other_slab", other_slab},
    {"clean_close_cuts_nothing", clean_close_cuts_nothing},
    {"engine_wait_contract", engine_wait_contract},
    {"held_directory_chdir", held_directory_chdir},
    {"held_directory_recreated", held_directory_recreated},
    {"checkpoint_validated", checkpoint_validated},
    {"pages_past_end", pages_past_end},
    {"volatile_reported", volatile_reported},
    {"spares_after_open", spares_after_open},
};

/* With an argument, run only the section of that name. */
int main(int argc, char **argv)
{
    const char *dir = test_tmpdir("embed");
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (argc < 2 || strcmp(argv[1], sections[i].name) == 0)
            sections[i].fn(dir);
    test_rmdir_all(dir);
    printf("ok\n");
    return 0;
}
