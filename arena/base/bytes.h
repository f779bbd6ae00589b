/*
 * arena/base/bytes.h: little-endian codecs and the zero test, shared by every
 * on-disk format of the library (not installed). The WAL's segments, records
 * and control file and the pager's trailers are all little-endian byte
 * strings, so they are written and read byte by byte through these, never by
 * casting a struct onto a buffer: the result is then the same on any host and
 * for any alignment of the buffer.
 */
#ifndef REGIO_BYTES_H
#define REGIO_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t regio__le16_get(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] | (b[1] << 8));
}

static inline uint32_t regio__le32_get(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static inline uint64_t regio__le64_get(const void *p)
{
    return (uint64_t)regio__le32_get(p) | ((uint64_t)regio__le32_get((const uint8_t *)p + 4) << 32);
}

static inline void regio__le16_put(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static inline void regio__le32_put(void *p, uint32_t v)
{
    uint8_t *b = p;
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static inline void regio__le64_put(void *p, uint64_t v)
{
    regio__le32_put(p, (uint32_t)v);
    regio__le32_put((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/* True when [p, p+n) holds only zero bytes: how a never-written block, page
 * or header is told from a damaged one. Word by word, 64 bytes per branch,
 * because it runs over whole segments' worth of blocks during recovery. */
static inline bool regio__all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i = 0;
    /* 64 bytes per test: recovery checks every filler's payload (up to a
     * block per sync) and every header this way, and one branch per 64 bytes
     * costs an eighth of one per word (under the fuzzers' comparison
     * tracing, an eighth of the traced comparisons). */
    for (; i + 64 <= n; i += 64) {
        uint64_t w[8];
        memcpy(w, b + i, 64);
        if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0)
            return false;
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, b + i, 8);
        if (v != 0)
            return false;
    }
    for (; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

#endif
