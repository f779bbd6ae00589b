/* regio-test: labels=io */
/*
 * tests/test_errors.c: error texts (issue 20, defect 7). regio_strerror
 * takes any int (INT_MIN once overflowed a negation: UBSan stops the
 * sanitizer build there), gives libc's text for codes regio has no words of
 * its own for (-ELOOP was "unknown error"), and a failed open repeated on
 * one thread does not nest the previous failure's detail into the new one.
 */
#include <limits.h>
#include <unistd.h>

#include "check.h"

static void test_strerror(void)
{
    CHECK(strcmp(regio_strerror(INT_MIN), "unknown error") == 0);
    CHECK(strcmp(regio_strerror(INT_MAX), "unknown error") == 0);
    CHECK(strstr(regio_strerror(-ELOOP), "symbolic links") != NULL);
    CHECK(strstr(regio_strerror(ELOOP), "symbolic links") != NULL);
    CHECK(strstr(regio_strerror(-EBADMSG), "EBADMSG") != NULL);
    CHECK(strcmp(regio_strerror(0), "success") == 0);
    for (int e = -200; e <= 200; e++)
        CHECK(regio_strerror(e) != NULL && regio_strerror(e)[0] != '\0');
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p != NULL; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* A log whose control file is gone: every open fails the same way, and
 * each failure's detail says it once. */
static void test_detail_not_nested(void)
{
    char dir[600], ctl[700];
    snprintf(dir, sizeof(dir), "%s/log", test_tmpdir("errors"));
    snprintf(ctl, sizeof(ctl), "%s/wal.ctl", dir);
    struct regio_wal_opts o = {
        .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10, .create = true};
    struct regio_wal *w;
    CHECK_OK(regio_wal_open(dir, &o, &w, NULL));
    CHECK_OK(regio_wal_append(w, "x", 1, NULL));
    CHECK_OK(regio_wal_close(w));
    CHECK_EQ(unlink(ctl), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(regio_wal_open(dir, &o, &w, NULL), -EBADMSG);
        const char *d = regio_error_detail();
        fprintf(stderr, "open %d: %s\n", i, d);
        CHECK_EQ(count(d, "control file of"), 1);
    }
    test_rmdir_all(test_tmpdir("errors"));
}

int main(void)
{
    test_strerror();
    test_detail_not_nested();
    printf("errors: ok\n");
    return 0;
}
