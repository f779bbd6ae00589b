/*
 * tests/check.h: the few assertions regio's tests use. A failed check prints
 * the expression, the values and the place, then exits 1; a skip prints why
 * and exits 77 (ctest's SKIP_RETURN_CODE). Checks stay on in every build.
 */
#ifndef REGIO_TEST_CHECK_H
#define REGIO_TEST_CHECK_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regio.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Compare two integers (as long long) and print both on failure; for errno
 * results the message names the codes. */
#define CHECK_EQ(got, want)                                                                        \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        if (got_ != want_) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, want %s == %lld", __FILE__,        \
                    __LINE__, #got, got_, #want, want_);                                           \
            if (got_ < 0 && got_ > -4096)                                                          \
                fprintf(stderr, " (got %s)", regio_strerror((int)got_));                           \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A call that must succeed (return >= 0). */
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        long long r_ = (long long)(expr);                                                          \
        if (r_ < 0) {                                                                              \
            fprintf(stderr, "%s:%d: %s failed: %lld (%s) %s\n", __FILE__, __LINE__, #expr, r_,     \
                    regio_strerror((int)r_), regio_error_detail());                                \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define SKIP(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(77);                                                                                  \
    } while (0)

/* A fresh empty directory for this test under $REGIO_TEST_DIR (default
 * /var/tmp, on the root filesystem), removed by test_rmdir_all. The string
 * is static. */
const char *test_tmpdir(const char *test_name);
/* rm -rf path (nftw). */
void test_rmdir_all(const char *path);
/* A deterministic pseudo-random generator for tests (splitmix64). */
uint64_t test_rand(uint64_t *state);
/* Seed from $REGIO_TEST_SEED or the clock; printed so a failure can be replayed. */
uint64_t test_seed(void);

#endif
