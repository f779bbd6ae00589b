/*
 * tests/fuzz/fuzz_util.h: what the fuzz targets share. An invariant that
 * does not hold aborts (FUZZ_CHECK), which libFuzzer reports as a crash with
 * the input that caused it and the replay driver turns into a failed test.
 */
#ifndef REGIO_FUZZ_UTIL_H
#define REGIO_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A private scratch directory of this process (made once, under
 * $REGIO_TEST_DIR or /dev/shm), for targets that need files. */
const char *fuzz_scratch_dir(void);

/* Write n bytes to path (created or truncated). */
void fuzz_write_file(const char *path, const void *data, size_t n);

/* True when rc is one of the n codes in ok[]. */
bool fuzz_rc_in(int rc, const int *ok, size_t n);

#endif
