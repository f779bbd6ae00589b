/*
 * tests/fuzz/fuzz_stats.c: regio_stats_read on a file of arbitrary bytes
 * (a stats file any local user could plant in /dev/shm). Invariants: no
 * crash, no sanitizer report; the result is 0 or a documented code; a copy
 * it accepts has the magic, version and size of this library and
 * NUL-terminated names, and regio_stats_alive on it does not crash.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"
#include "regio/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    static struct regio_stats_file f;
    if (path[0] == '\0')
        snprintf(path, sizeof(path), "%s/stats", fuzz_scratch_dir());
    /* Inputs shorter than a stats file are padded with their own bytes so
     * that the fuzzer reaches the seqlock and the validation quickly. */
    static uint8_t buf[sizeof(struct regio_stats_file) + 64];
    size_t n = size;
    if (size > 0 && size < sizeof(struct regio_stats_file) && data[0] & 1) {
        for (size_t i = 0; i < sizeof(struct regio_stats_file); i++)
            buf[i] = data[i % size];
        n = sizeof(struct regio_stats_file);
    } else {
        n = size < sizeof(buf) ? size : sizeof(buf);
        memcpy(buf, data, n);
    }
    fuzz_write_file(path, buf, n);
    int rc = regio_stats_read(path, &f);
    static const int ok[] = {0, -EBADMSG, -EAGAIN, -EPERM};
    FUZZ_CHECK(fuzz_rc_in(rc, ok, sizeof(ok) / sizeof(ok[0])));
    if (rc == 0) {
        FUZZ_CHECK(f.header.magic == REGIO_STATS_MAGIC);
        FUZZ_CHECK(f.header.version == REGIO_STATS_VERSION);
        FUZZ_CHECK(f.header.file_bytes == sizeof(f));
        FUZZ_CHECK(memchr(f.header.name, 0, sizeof(f.header.name)) != NULL);
        for (int i = 0; i < REGIO_STATS_MAX_SLABS; i++)
            FUZZ_CHECK(f.slabs[i].class_count <= REGIO_STATS_CLASSES);
        (void)regio_stats_alive(&f);
    }
    return 0;
}
