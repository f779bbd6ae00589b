/* regio-test: labels=io,mt timeout=120 */
/*
 * tests/test_wal_checkpoint.c: regio_wal_checkpoint_begin/_end.
 *
 * - The redo point is taken before the pages are written: an update logged
 *   and acknowledged by another thread after begin, while "pages are being
 *   written", is at or after the redo LSN, so after a crash (no close) the
 *   log read from the recovered checkpoint_lsn replays it. (With the old
 *   recipe, a checkpoint record appended after the pages were written, that
 *   update lies before the checkpoint and would be lost.)
 * - end refuses a token no begin handed out, one ended already, and one a
 *   later begin superseded, and publishes nothing then; the superseding one
 *   ends fine.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "regio.h"

enum { REC_UPDATE = 1, REC_CKPT = 7 };

struct writer {
    struct regio_wal *w;
    uint64_t lsn;
};

static void *update_thread(void *arg)
{
    struct writer *wr = arg;
    uint64_t v = 0xabcdef;
    CHECK_OK(regio_wal_append_record(wr->w, REC_UPDATE, &(struct iovec){&v, sizeof(v)}, 1, &wr->lsn,
                                     NULL));
    CHECK_OK(regio_wal_sync(wr->w, wr->lsn)); /* acknowledged */
    return NULL;
}

/* Runs in a child that dies without closing the log (a crash). */
static void crash_child(const char *dir)
{
    struct regio_wal_opts wo = {
        .create = true, .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &wo, &w, NULL));
    uint64_t v = 1, lsn;
    CHECK_OK(regio_wal_append_record(w, REC_UPDATE, &(struct iovec){&v, 8}, 1, &lsn, NULL));
    CHECK_OK(regio_wal_sync(w, lsn));
    struct regio_wal_checkpoint ck;
    CHECK_OK(regio_wal_checkpoint_begin(w, REC_CKPT, &ck));
    CHECK(ck.redo_lsn > lsn);
    /* Another thread changes a page that the checkpoint already wrote. */
    struct writer wr = {w, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, update_thread, &wr) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(wr.lsn > ck.redo_lsn);
    /* (pages written and synced here) */
    CHECK_OK(regio_wal_checkpoint_end(w, &ck));
    /* Print the two LSNs for the parent, then crash. */
    printf("%llu %llu\n", (unsigned long long)ck.redo_lsn, (unsigned long long)wr.lsn);
    fflush(stdout);
    _exit(0);
}

static void test_redo_before_pages(const char *dir)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        crash_child(dir);
    }
    close(fds[1]);
    char line[128] = {0};
    CHECK(read(fds[0], line, sizeof(line) - 1) > 0);
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsigned long long redo = 0, update = 0;
    CHECK(sscanf(line, "%llu %llu", &redo, &update) == 2);

    struct regio_wal_opts wo = {.segment_bytes = 1u << 20, .buffer_bytes = 64u << 10};
    struct regio_wal *w;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &wo, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_TORN);
    CHECK_EQ(info.checkpoint_lsn, redo);
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(dir, info.checkpoint_lsn, &r));
    struct regio_wal_record rec;
    CHECK_EQ(regio_wal_reader_next(r, &rec), 1);
    CHECK_EQ(rec.type, REC_CKPT); /* the begin record */
    CHECK_EQ(rec.lsn, redo);
    bool replayed = false;
    while (regio_wal_reader_next(r, &rec) == 1)
        replayed |= rec.lsn == update && rec.type == REC_UPDATE;
    CHECK(replayed);
    CHECK_OK(regio_wal_reader_close(r));
}

static void test_order(const char *dir)
{
    struct regio_wal_opts wo = {
        .create = true, .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &wo, &w, NULL));
    struct regio_wal_checkpoint a, b, forged = {.redo_lsn = 4096, .token = 99};
    CHECK_EQ(regio_wal_checkpoint_end(w, &forged), -EINVAL);
    CHECK(strstr(regio_error_detail(), "not the one begun last") != NULL);
    CHECK_EQ(regio_wal_checkpoint_begin(w, 0xF000, &a), -EINVAL);
    CHECK_OK(regio_wal_checkpoint_begin(w, REC_CKPT, &a));
    CHECK_OK(regio_wal_checkpoint_begin(w, REC_CKPT, &b));
    CHECK(b.redo_lsn > a.redo_lsn);
    CHECK_EQ(regio_wal_checkpoint_end(w, &a), -EINVAL); /* superseded */
    struct regio_wal_checkpoint moved = b;
    moved.redo_lsn += 8;
    CHECK_EQ(regio_wal_checkpoint_end(w, &moved), -EINVAL); /* not the LSN begin took */
    CHECK_OK(regio_wal_checkpoint_end(w, &b));
    CHECK(regio_wal_durable_lsn(w) > b.redo_lsn);
    CHECK_EQ(regio_wal_checkpoint_end(w, &b), -EINVAL); /* ended already */
    CHECK_EQ(regio_wal_checkpoint_end(NULL, &b), -EINVAL);
    CHECK_EQ(regio_wal_checkpoint_begin(w, REC_CKPT, NULL), -EINVAL);
    CHECK_OK(regio_wal_close(w));
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &wo, &w, &info));
    CHECK_EQ(info.checkpoint_lsn, b.redo_lsn);
    CHECK_OK(regio_wal_close(w));
}

int main(void)
{
    char dir[512], sub[600];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("wal_checkpoint"));
    snprintf(sub, sizeof(sub), "%s/crash", dir);
    test_redo_before_pages(sub);
    snprintf(sub, sizeof(sub), "%s/order", dir);
    test_order(sub);
    test_rmdir_all(dir);
    return 0;
}
