/* regio-test: labels=mt,io timeout=600 */
/*
 * tests/test_wal_crash.c: power-loss states from the engine's recording.
 *
 * A multi-threaded run with small segments and a small buffer is recorded;
 * each acknowledged record is noted with the recording's event number read
 * after its sync returned. A fifth thread takes checkpoints meanwhile
 * (regio_wal_checkpoint_begin/_end) and keeps each control file it caused,
 * with the event numbers around it. Then, for random crash points and
 * seeds, the directory is rebuilt as the disk could hold it after a power
 * cut (every undurable write kept, dropped or torn by seed; the control file
 * as of the last checkpoint that ended before the crash point), and recovery
 * in strict mode must keep every acknowledged record byte for byte, in each
 * thread's order, return nothing that is not one of the records written, and
 * report the last ended checkpoint, where a reader finds its begin record.
 *
 * The control file is written with plain syscalls, outside the engine's
 * recording, so a checkpoint in flight at the crash point is rebuilt with the
 * control file before it: the conservative choice, as the new one could only
 * be on disk after its redo record was durable.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "regio/testing.h"
#include "wal_internal.h"

#ifndef CRASH_TRIALS
#define CRASH_TRIALS 500
#endif
#define THREADS    4
#define PER_THREAD 400
#define MAX_LEN    3000
#define CKPT_TYPE  1u /* the checkpoint begin records; the workers' are type 0 */
#define MAX_CKPTS  64

/* One ended checkpoint: the control file it wrote, and the recording's event
 * numbers read just before regio_wal_checkpoint_end and just after. */
struct ckpt {
    uint64_t ev_before_end, ev_after_end, redo_lsn, token;
    uint8_t ctl[REGIO__WAL_CTL_FILE_BYTES];
};

struct checkpointer {
    struct regio_wal *w;
    const char *dir;
    atomic_bool stop, ended_one;
    uint32_t count;
    struct ckpt *ck; /* [MAX_CKPTS] */
    int err;
};

struct acks {
    uint64_t ack_seq[PER_THREAD]; /* event number after the sync, UINT64_MAX: not acked */
};

struct worker {
    struct regio_wal *w;
    uint32_t tid;
    uint64_t seed;
    struct acks *acks;
    int err;
};

static size_t make_record(uint32_t tid, uint32_t seq, uint8_t *out)
{
    uint64_t s = ((uint64_t)tid << 32 | seq) * 0x9e3779b97f4a7c15ull + 3;
    size_t len = 8 + (size_t)(test_rand(&s) % (MAX_LEN - 8));
    memcpy(out, &tid, 4);
    memcpy(out + 4, &seq, 4);
    for (size_t k = 8; k < len; k += 8) {
        uint64_t v = test_rand(&s);
        memcpy(out + k, &v, len - k < 8 ? len - k : 8);
    }
    return len;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    uint8_t buf[MAX_LEN];
    uint32_t unacked_from = 0;
    for (uint32_t i = 0; i < PER_THREAD; i++) {
        wk->acks->ack_seq[i] = UINT64_MAX;
        size_t len = make_record(wk->tid, i, buf);
        uint64_t lsn;
        int rc = regio_wal_append(wk->w, buf, len, &lsn);
        if (rc == 0 && (test_rand(&wk->seed) % 4 == 0 || i + 1 == PER_THREAD)) {
            rc = regio_wal_sync(wk->w, lsn);
            uint64_t ev = regio_engine_record_seq(regio__wal_engine(wk->w));
            for (uint32_t k = unacked_from; k <= i; k++)
                wk->acks->ack_seq[k] = ev;
            unacked_from = i + 1;
        }
        if (rc != 0) {
            wk->err = rc;
            break;
        }
    }
    return NULL;
}

static void read_ctl(const char *dir, uint8_t out[REGIO__WAL_CTL_FILE_BYTES])
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, REGIO__WAL_CTL_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(pread(fd, out, REGIO__WAL_CTL_FILE_BYTES, 0) == REGIO__WAL_CTL_FILE_BYTES);
    close(fd);
}

/* Checkpoints back to back (0.3 ms apart) until the workers end. The
 * only writer of the control file while the run is recorded, so the file
 * read after each end is the one that end wrote. */
static void *checkpointer_main(void *arg)
{
    struct checkpointer *cp = arg;
    /* At least two, whatever the scheduler does: the workers start after
     * the first has ended, and the last may end after they have. */
    while ((!atomic_load(&cp->stop) || cp->count < 2) && cp->count < MAX_CKPTS) {
        struct regio_wal_checkpoint tok;
        int rc = regio_wal_checkpoint_begin(cp->w, CKPT_TYPE, &tok);
        struct ckpt *c = &cp->ck[cp->count];
        c->ev_before_end = regio_engine_record_seq(regio__wal_engine(cp->w));
        if (rc == 0)
            rc = regio_wal_checkpoint_end(cp->w, &tok);
        if (rc != 0) {
            cp->err = rc;
            atomic_store(&cp->ended_one, true); /* let the workers go; main checks err */
            break;
        }
        c->ev_after_end = regio_engine_record_seq(regio__wal_engine(cp->w));
        c->redo_lsn = tok.redo_lsn;
        c->token = tok.token;
        read_ctl(cp->dir, c->ctl);
        cp->count++;
        atomic_store(&cp->ended_one, true);
        usleep(300);
    }
    return NULL;
}

static int call_record_start(struct regio_engine *e, void *arg)
{
    (void)arg;
    return regio_engine_record_start(e);
}

static int call_record_stop(struct regio_engine *e, void *arg)
{
    return regio_engine_record_stop(e, (struct regio_recording **)arg);
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    CHECK(in >= 0);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(out >= 0);
    static uint8_t buf[1 << 20];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        CHECK(write(out, buf, (size_t)n) == n);
    close(in);
    close(out);
}

/* Copy the live directory's files (not the lock, not files being prepared). */
static void snapshot(const char *from, const char *to)
{
    mkdir(to, 0700);
    DIR *d = opendir(from);
    CHECK(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, REGIO__WAL_LOCK_NAME) == 0 ||
            strstr(de->d_name, ".tmp") != NULL)
            continue;
        char a[4096], b[4096];
        snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
        copy_file(a, b);
    }
    closedir(d);
}

struct trial_stats {
    uint64_t torn, clean_cut, acked_total, recovered_total, checkpointed;
};

/* The control file on disk at crash_seq: the one of the last checkpoint that
 * ended before it, else the one the run started with (ck[0] holds that). */
static const struct ckpt *ckpt_at(const struct ckpt *ck, uint32_t count, uint64_t crash_seq)
{
    const struct ckpt *cur = &ck[0];
    for (uint32_t i = 1; i < count; i++)
        if (ck[i].ev_after_end <= crash_seq)
            cur = &ck[i];
    return cur;
}

static void run_trial(const char *tmpl, const char *dir, const struct regio_recording *rec,
                      const struct acks *acks, const struct ckpt *ck, uint32_t ck_count,
                      uint64_t crash_seq, uint64_t seed, struct trial_stats *ts)
{
    test_rmdir_all(dir);
    snapshot(tmpl, dir);
    const struct ckpt *cur = ckpt_at(ck, ck_count, crash_seq);
    {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", dir, REGIO__WAL_CTL_NAME);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        CHECK(write(fd, cur->ctl, sizeof(cur->ctl)) == (ssize_t)sizeof(cur->ctl));
        close(fd);
    }
    for (uint32_t i = 0; i < regio_recording_file_count(rec); i++) {
        char path[4096], copy[8200];
        snprintf(path, sizeof(path), "%s", regio_recording_file_path(rec, i));
        snprintf(copy, sizeof(copy), "%s/%s", dir, basename(path));
        int fd = open(copy, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        CHECK_OK(regio_recording_write_image(rec, i, crash_seq, REGIO_RECORDING_RANDOM, seed, fd));
        close(fd);
    }
    struct regio_wal_opts o = {.segment_bytes = 1u << 20, .buffer_bytes = 16384};
    struct regio_wal *w;
    struct regio_wal_recovery info;
    int rc = regio_wal_open(dir, &o, &w, &info);
    if (rc != 0)
        fprintf(stderr, "crash_seq %llu seed %llu: open %d %s\n", (unsigned long long)crash_seq,
                (unsigned long long)seed, rc, regio_error_detail());
    CHECK_OK(rc);
    if (info.bytes_cut > 0)
        ts->torn++;
    /* The last ended checkpoint is reported, and a reader finds its begin
     * record there. */
    if (cur->redo_lsn != 0 && info.checkpoint_lsn >= info.end_lsn)
        fprintf(stderr, "lost acked checkpoint record at LSN %llu (end %llu, crash_seq %llu)\n",
                (unsigned long long)cur->redo_lsn, (unsigned long long)info.end_lsn,
                (unsigned long long)crash_seq);
    CHECK_EQ(info.checkpoint_ignored_lsn, 0);
    CHECK_EQ(info.checkpoint_lsn, cur->redo_lsn);
    CHECK(info.checkpoint_lsn < info.end_lsn || cur->redo_lsn == 0);
    struct regio_wal_reader *r;
    struct regio_wal_record recd;
    if (cur->redo_lsn != 0) {
        ts->checkpointed++;
        CHECK_OK(regio_wal_reader_open_live(w, info.checkpoint_lsn, &r));
        CHECK_EQ(regio_wal_reader_next(r, &recd), 1);
        CHECK_EQ(recd.lsn, cur->redo_lsn);
        CHECK_EQ(recd.type, CKPT_TYPE);
        CHECK_EQ(recd.len, 8);
        uint64_t token;
        memcpy(&token, recd.data, 8);
        CHECK_EQ(token, cur->token);
        CHECK_OK(regio_wal_reader_close(r));
    }
    CHECK_OK(regio_wal_reader_open_live(w, 0, &r));
    uint32_t next[THREADS] = {0};
    uint8_t want[MAX_LEN];
    while ((rc = regio_wal_reader_next(r, &recd)) == 1) {
        if (recd.type == CKPT_TYPE) {
            CHECK_EQ(recd.len, 8);
            continue;
        }
        CHECK_EQ(recd.type, 0);
        uint32_t tid, seq;
        CHECK(recd.len >= 8);
        memcpy(&tid, recd.data, 4);
        memcpy(&seq, (const uint8_t *)recd.data + 4, 4);
        CHECK(tid < THREADS);
        CHECK_EQ(seq, next[tid]);
        size_t len = make_record(tid, seq, want);
        CHECK_EQ(recd.len, len);
        CHECK(memcmp(recd.data, want, len) == 0);
        next[tid]++;
        ts->recovered_total++;
    }
    CHECK_EQ(rc, 0);
    CHECK_OK(regio_wal_reader_close(r));
    for (uint32_t t = 0; t < THREADS; t++) {
        for (uint32_t k = 0; k < PER_THREAD; k++) {
            if (acks[t].ack_seq[k] <= crash_seq) {
                ts->acked_total++;
                if (k >= next[t])
                    fprintf(stderr, "lost acked record t%u #%u (crash_seq %llu seed %llu)\n", t, k,
                            (unsigned long long)crash_seq, (unsigned long long)seed);
                CHECK(k < next[t]);
            }
        }
    }
    /* The recovered log stays usable: one more record, durable. */
    uint64_t lsn;
    CHECK_OK(regio_wal_append(w, "after", 5, &lsn));
    CHECK_OK(regio_wal_sync(w, lsn));
    CHECK_OK(regio_wal_close(w));
}

int main(void)
{
    uint64_t seed = test_seed();
    const char *base = test_tmpdir("walcrash");
    char live[4096], tmpl[4096], trial[4096];
    snprintf(live, sizeof(live), "%s/live", base);
    snprintf(tmpl, sizeof(tmpl), "%s/template", base);
    snprintf(trial, sizeof(trial), "%s/trial", base);
    struct regio_wal_opts o = {.segment_bytes = 1u << 20, .buffer_bytes = 16384, .create = true};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(live, &o, &w, NULL));
    /* ck[0]: the control file the run starts with (no checkpoint). */
    static struct ckpt ck[MAX_CKPTS + 1];
    read_ctl(live, ck[0].ctl);
    CHECK_OK(regio__wal_engine_call(w, call_record_start, NULL));
    static struct acks acks[THREADS];
    pthread_t th[THREADS], cth;
    struct worker wk[THREADS];
    struct checkpointer cp = {.w = w, .dir = live, .ck = &ck[1]};
    CHECK(pthread_create(&cth, NULL, checkpointer_main, &cp) == 0);
    while (!atomic_load(&cp.ended_one))
        usleep(100);
    for (uint32_t t = 0; t < THREADS; t++) {
        wk[t] = (struct worker){w, t, seed + t, &acks[t], 0};
        CHECK(pthread_create(&th[t], NULL, worker_main, &wk[t]) == 0);
    }
    for (uint32_t t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_OK(wk[t].err);
    }
    atomic_store(&cp.stop, true);
    pthread_join(cth, NULL);
    CHECK_OK(cp.err);
    CHECK(cp.count >= 2);
    uint32_t ck_count = cp.count + 1;
    struct regio_recording *rec = NULL;
    CHECK_OK(regio__wal_engine_call(w, call_record_stop, &rec));
    CHECK(rec != NULL);
    snapshot(live, tmpl);
    CHECK_OK(regio_wal_close(w));
    uint64_t last = regio_recording_last_seq(rec);
    fprintf(stderr, "recorded %u files, %llu events, %u checkpoints\n",
            regio_recording_file_count(rec), (unsigned long long)last, cp.count);
    CHECK(regio_recording_file_count(rec) >= 2); /* the run crossed segments */
    struct trial_stats ts = {0};
    uint64_t rs = seed ^ 0x5eed;
    for (int i = 0; i < CRASH_TRIALS; i++) {
        uint64_t crash_seq = test_rand(&rs) % (last + 1);
        /* Every tenth trial crashes at the very end: all acks must be there. */
        if (i % 10 == 0)
            crash_seq = last;
        run_trial(tmpl, trial, rec, acks, ck, ck_count, crash_seq, test_rand(&rs), &ts);
    }
    fprintf(stderr,
            "%d crash states: %llu with a torn tail cut, %llu after a checkpoint, %llu "
            "acknowledged records checked, %llu recovered\n",
            CRASH_TRIALS, (unsigned long long)ts.torn, (unsigned long long)ts.checkpointed,
            (unsigned long long)ts.acked_total, (unsigned long long)ts.recovered_total);
    regio_recording_destroy(rec);
    test_rmdir_all(base);
    printf("wal_crash: ok\n");
    return 0;
}
