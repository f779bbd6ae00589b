/* regio-test: labels=io */
/*
 * tests/test_wal_reader.c: a directory reader tells the end of a log from
 * corruption. A damaged record followed by valid ones in a cleanly closed
 * log is -EBADMSG (and stays so), never an early "end" that would hide the
 * records after it; so is damage to the pad after a clean log's close
 * record, as regio_wal_open finds it; a log that simply ends reads to 0.
 * A reader cannot start inside a segment's header block.
 */
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "wal_format.h"

#define SEG (1024u * 1024u)
#define BUF (64u * 1024u)

static void write_log(const char *dir, uint64_t *lsn, int n)
{
    struct regio_wal_opts o = {.create = true, .segment_bytes = SEG, .buffer_bytes = BUF};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    char buf[100];
    for (int i = 0; i < n; i++) {
        memset(buf, 'a' + i, sizeof(buf));
        CHECK_OK(regio_wal_append(w, buf, sizeof(buf), &lsn[i]));
    }
    CHECK_OK(regio_wal_sync(w, lsn[n - 1]));
    CHECK_OK(regio_wal_close(w));
}

static int read_all(const char *dir, int *count)
{
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(dir, 0, &r));
    struct regio_wal_record rec;
    int rc;
    *count = 0;
    while ((rc = regio_wal_reader_next(r, &rec)) == 1)
        (*count)++;
    if (rc < 0) /* the error sticks */
        CHECK_EQ(regio_wal_reader_next(r, &rec), rc);
    CHECK_OK(regio_wal_reader_close(r));
    return rc;
}

static void flip_bit(const char *dir, uint64_t lsn_in_segment_0)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/0000000000000000.wal", dir);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t c;
    CHECK(pread(fd, &c, 1, (off_t)lsn_in_segment_0) == 1);
    c ^= 1;
    CHECK(pwrite(fd, &c, 1, (off_t)lsn_in_segment_0) == 1);
    close(fd);
}

/* A damaged log in dir: a directory reader gives want records, then
 * -EBADMSG with detail in its message, and regio_wal_open refuses the log
 * too. Removes dir. */
static void expect_damage(const char *dir, int want, const char *detail)
{
    int count;
    CHECK_EQ(read_all(dir, &count), -EBADMSG);
    CHECK_EQ(count, want);
    CHECK(strstr(regio_error_detail(), detail) != NULL);
    struct regio_wal_opts o = {.segment_bytes = SEG, .buffer_bytes = BUF};
    struct regio_wal *w;
    CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBADMSG);
    test_rmdir_all(dir);
}

/* The pad after the close record of a cleanly closed log, its header
 * damaged: nothing valid follows it, and it is still damage. */
static void test_damaged_close_pad(const char *dir)
{
    uint64_t lsn[3];
    write_log(dir, lsn, 3);
    struct regio__wal_ctl_info ctl;
    CHECK_OK(regio__wal_read_control(dir, &ctl));
    CHECK(ctl.flags & REGIO__WAL_CTL_CLEAN);
    uint64_t pad = ctl.close_lsn + regio__wal_rec_total(0);
    CHECK(pad % 4096 != 0); /* a pad fills the close record's block */
    int count;
    CHECK_EQ(read_all(dir, &count), 0);
    CHECK_EQ(count, 3);
    flip_bit(dir, pad + 8); /* its LSN field: the header checksum fails */
    expect_damage(dir, 3, "before the close record of a cleanly closed log");
}

int main(void)
{
    const char *dir = test_tmpdir("wal-reader");
    uint64_t lsn[10];
    write_log(dir, lsn, 10);
    int count;
    CHECK_EQ(read_all(dir, &count), 0);
    CHECK_EQ(count, 10);

    /* A start inside segment 0's header block is no record start: refused
     * as one inside a record is (it used to open, and the first read then
     * reported damage, -EBADMSG, on this healthy log). */
    for (uint64_t at = 8; at < 4096; at += 4080) {
        struct regio_wal_reader *r = NULL;
        CHECK_EQ(regio_wal_reader_open(dir, at, &r), -EINVAL);
        CHECK(strstr(regio_error_detail(), "header block") != NULL);
    }

    /* Flip one payload bit of the fifth record (segment 0: LSN = offset). */
    flip_bit(dir, lsn[4] + 40);
    expect_damage(dir, 4, "cleanly closed");
    test_damaged_close_pad(test_tmpdir("wal-reader-pad"));
    fprintf(stderr, "wal_reader: ok\n");
    return 0;
}
