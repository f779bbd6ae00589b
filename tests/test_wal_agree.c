/* regio-test: labels=io */
/*
 * tests/test_wal_agree.c: strict open, salvage, the directory reader and
 * `regio-dump wal` reach the same verdict about a damaged log, because they
 * call the same classification (wal/wal_judge.h). Each case is a log that
 * strict open refuses with -EBADMSG; the reader must return the records
 * before the damage and then -EBADMSG (never 0, an early "end" that would
 * hide acknowledged records), and the dump must exit 1:
 *  - a flipped payload byte of record 10 of 150 synced records of a crashed
 *    log (the records after it lie beyond the in-flight window);
 *  - a segment missing after a segend;
 *  - a damaged record followed, within the window, by a valid close record of
 *    an earlier epoch;
 *  - segment 0's header block zeroed (the reader said -ENODATA, the dump
 *    "spare", exit 0);
 *  - the close record of a cleanly closed log damaged (the dump said "torn
 *    ... recovery cuts it", exit 0).
 * Salvage keeps a prefix and leaves a log strict open accepts, or refuses:
 *  - segment 0's header damaged: salvage refuses (it returned a suffix
 *    with end = CLEAN and records_dropped = 0);
 *  - the tail segment cut short: salvage keeps the records before the cut,
 *    reports them dropped, restores the file's size, and a strict open
 *    afterwards succeeds with the same records (it failed again, and new
 *    appends extended the short file).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "test_tool_util.h"
#include "wal_format.h"

#define SEG  (48u * 1024u)
#define BUF  4096u
#define PAY  100u
#define SEG0 "0000000000000000.wal"

static const struct regio_wal_opts opts = {
    .create = true, .segment_bytes = SEG, .buffer_bytes = BUF};
static uint64_t lsns[400];

/* A child appends n records of PAY bytes (each synced when sync_each, else
 * synced at the end), closes the log when close_it, and exits; without close
 * it is a crash after the last acknowledgement. */
static void write_log(const char *dir, int n, bool sync_each, bool close_it)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct regio_wal *w;
        if (regio_wal_open(dir, &opts, &w, NULL) != 0)
            _exit(2);
        uint8_t buf[PAY];
        for (int i = 0; i < n; i++) {
            memset(buf, 0x40 + i % 64, sizeof(buf));
            buf[0] = (uint8_t)i;
            if (regio_wal_append(w, buf, sizeof(buf), &lsns[i]) != 0 ||
                ((sync_each || i == n - 1) && regio_wal_sync(w, lsns[i]) != 0))
                _exit(3);
        }
        if (write(fds[1], lsns, sizeof(lsns[0]) * (size_t)n) < 0)
            _exit(4);
        if (close_it && regio_wal_close(w) != 0)
            _exit(5);
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < sizeof(lsns[0]) * (size_t)n) {
        ssize_t r = read(fds[0], (uint8_t *)lsns + got, sizeof(lsns[0]) * (size_t)n - got);
        CHECK(r > 0);
        got += (size_t)r;
    }
    close(fds[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void flip_at(const char *dir, const char *seg, uint64_t off)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, seg);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t c;
    CHECK(pread(fd, &c, 1, (off_t)off) == 1);
    c ^= 0x10;
    CHECK(pwrite(fd, &c, 1, (off_t)off) == 1);
    close(fd);
}

/* Records a directory reader returns before its end; *end_rc its last call. */
static int read_count(const char *dir, int *end_rc)
{
    struct regio_wal_reader *r;
    int rc = regio_wal_reader_open(dir, 0, &r);
    if (rc != 0) {
        *end_rc = rc;
        return 0;
    }
    struct regio_wal_record rec;
    int n = 0;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1)
        n++;
    CHECK_OK(regio_wal_reader_close(r));
    *end_rc = rc;
    return n;
}

/* Exit status of `regio-dump wal dir`, -1 when the tool is not built. */
static int dump_status(const char *dir)
{
    const char *bd = getenv("REGIO_BUILD_DIR");
    char path[4096];
    if (bd == NULL || bd[0] == '\0')
        return -1;
    snprintf(path, sizeof(path), "%s/regio-dump", bd);
    if (access(path, X_OK) != 0)
        return -1;
    char *argv[] = {path, "wal", (char *)dir, NULL};
    return tool_wait(tool_start(argv, "/dev/null", "/dev/null"));
}

/* dir holds a damaged log: strict open refuses it, the reader returns
 * want_before records and then -EBADMSG, the dump exits 1. */
static void expect_corrupt(const char *dir, int want_before, const char *what)
{
    struct regio_wal *w;
    struct regio_wal_opts o = opts;
    o.create = false;
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBADMSG);
    int end_rc;
    int n = read_count(dir, &end_rc);
    if (end_rc != -EBADMSG || n != want_before)
        fprintf(stderr, "%s: reader gave %d records then %d (%s)\n", what, n, end_rc,
                regio_error_detail());
    CHECK_EQ(end_rc, -EBADMSG);
    CHECK_EQ(n, want_before);
    int ds = dump_status(dir);
    if (ds != -1 && ds != 1)
        fprintf(stderr, "%s: regio-dump wal exited %d\n", what, ds);
    CHECK(ds == -1 || ds == 1);
}

static void case_flip_record_10(const char *base)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/flip10", base);
    write_log(dir, 150, true, false);
    uint64_t off = lsns[9] % SEG + REGIO__WAL_REC_HDR_BYTES + 7;
    char seg[32];
    regio__wal_segment_name(lsns[9] / SEG, seg);
    flip_at(dir, seg, off);
    expect_corrupt(dir, 9, "flip in record 10");
}

static void case_missing_segment(const char *base)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/missing", base);
    write_log(dir, 40, true, false);
    CHECK(lsns[39] / SEG >= 2);
    int before = 0;
    while (lsns[before] / SEG == 0)
        before++;
    char seg[32], path[4300];
    regio__wal_segment_name(1, seg);
    snprintf(path, sizeof(path), "%s/%s", dir, seg);
    CHECK(unlink(path) == 0);
    expect_corrupt(dir, before, "segment 1 missing");
}

static void case_close_of_earlier_epoch(const char *base)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/close", base);
    write_log(dir, 20, false, true);
    uint64_t third = lsns[2];
    write_log(dir, 2, true, false); /* a later epoch, crashed */
    char seg[32];
    regio__wal_segment_name(third / SEG, seg);
    flip_at(dir, seg, third % SEG + REGIO__WAL_REC_HDR_BYTES + 1);
    expect_corrupt(dir, 2, "damage before an earlier epoch's close record");
}

static void case_zeroed_header(const char *base)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof(dir), "%s/zhdr", base);
    write_log(dir, 10, true, true);
    snprintf(path, sizeof(path), "%s/%s", dir, SEG0);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    static const uint8_t zeros[4096];
    CHECK(pwrite(fd, zeros, sizeof(zeros), 0) == (ssize_t)sizeof(zeros));
    close(fd);
    expect_corrupt(dir, 0, "segment 0 header zeroed");
    /* Salvage cannot keep a prefix of a log whose first header is gone. */
    struct regio_wal *w;
    struct regio_wal_opts o = opts;
    o.recovery = REGIO_WAL_RECOVER_SALVAGE;
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBADMSG);
}

static void case_damaged_close(const char *base)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/dclose", base);
    write_log(dir, 10, true, true);
    struct regio__wal_ctl_info ctl;
    CHECK_OK(regio__wal_read_control(dir, &ctl));
    CHECK(ctl.flags & REGIO__WAL_CTL_CLEAN);
    char seg[32];
    regio__wal_segment_name(ctl.close_lsn / SEG, seg);
    flip_at(dir, seg, ctl.close_lsn % SEG + 3);
    expect_corrupt(dir, 10, "close record damaged");
}

/* Segment 1 of a multi-segment log damaged in its header: salvage keeps
 * segment 0's records (a prefix) rather than the later segments'. */
static void case_salvage_header(const char *base)
{
    char dir[4200], seg[32];
    snprintf(dir, sizeof(dir), "%s/shdr", base);
    write_log(dir, 40, true, false);
    regio__wal_segment_name(0, seg);
    flip_at(dir, seg, 20);
    struct regio_wal *w;
    struct regio_wal_opts o = opts;
    o.recovery = REGIO_WAL_RECOVER_SALVAGE;
    struct regio_wal_recovery info;
    CHECK_EQ(regio_wal_open(dir, &o, &w, &info), -EBADMSG);
    CHECK(strstr(regio_error_detail(), "salvage") != NULL);
}

/* The tail segment cut short: salvage keeps the records before the cut,
 * reports the rest dropped, and leaves a log that strict open accepts. */
static void case_salvage_truncated(const char *base)
{
    char dir[4200], seg[32], path[4300];
    snprintf(dir, sizeof(dir), "%s/strunc", base);
    write_log(dir, 150, true, false);
    uint64_t last_seg = lsns[149] / SEG;
    int keep = 149;
    uint64_t cut = lsns[149] % SEG + 50; /* inside the last record */
    regio__wal_segment_name(last_seg, seg);
    snprintf(path, sizeof(path), "%s/%s", dir, seg);
    CHECK(truncate(path, (off_t)cut) == 0);
    struct regio_wal *w;
    struct regio_wal_opts o = opts;
    o.create = false;
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBADMSG);
    o.recovery = REGIO_WAL_RECOVER_SALVAGE;
    struct regio_wal_recovery info;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_SALVAGED);
    CHECK_EQ(info.records, (uint64_t)keep);
    CHECK_EQ(info.records_dropped, 1u);
    CHECK(info.bytes_cut > 0);
    CHECK_OK(regio_wal_close(w));
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ((uint64_t)st.st_size, (uint64_t)SEG);
    o.recovery = REGIO_WAL_RECOVER_STRICT;
    CHECK_OK(regio_wal_open(dir, &o, &w, &info));
    CHECK_EQ(info.end, REGIO_WAL_END_CLEAN);
    CHECK_EQ(info.records, (uint64_t)keep);
    CHECK_OK(regio_wal_close(w));
    int end_rc;
    CHECK_EQ(read_count(dir, &end_rc), keep);
    CHECK_EQ(end_rc, 0);
}

int main(void)
{
    const char *base = test_tmpdir("wal_agree");
    case_flip_record_10(base);
    case_missing_segment(base);
    case_close_of_earlier_epoch(base);
    case_zeroed_header(base);
    case_damaged_close(base);
    case_salvage_header(base);
    case_salvage_truncated(base);
    test_rmdir_all(base);
    printf("wal_agree: ok\n");
    return 0;
}
