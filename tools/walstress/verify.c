/*
 * tools/walstress/verify.c: the self-describing records and the check of a
 * log against what its writers were told was durable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walstress.h"

#define SHOW_MAX 10 /* failures printed per kind; all are counted */

uint64_t ws_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t pattern_seed(uint64_t seed, uint16_t cycle, uint16_t thread, uint64_t seq)
{
    return seed ^ ((uint64_t)cycle << 48) ^ ((uint64_t)thread << 32) ^
           (seq * 0x2545f4914f6cdd1dull);
}

void ws_record_fill(void *buf, uint32_t len, uint64_t seed, uint16_t cycle, uint16_t thread,
                    uint64_t seq)
{
    struct ws_rec_hdr h = {
        .magic = WS_REC_MAGIC, .cycle = cycle, .thread = thread, .seq = seq, .len = len};
    memcpy(buf, &h, sizeof(h));
    uint64_t st = pattern_seed(seed, cycle, thread, seq);
    uint8_t *p = (uint8_t *)buf + sizeof(h);
    uint32_t left = len - (uint32_t)sizeof(h);
    while (left >= 8) {
        uint64_t v = ws_rand(&st);
        memcpy(p, &v, 8);
        p += 8;
        left -= 8;
    }
    if (left > 0) {
        uint64_t v = ws_rand(&st);
        memcpy(p, &v, left);
    }
}

/* Offset of the first byte that differs from the pattern, or -1. */
static int64_t pattern_mismatch(const uint8_t *data, uint32_t len, uint64_t seed,
                                const struct ws_rec_hdr *h, uint8_t *scratch)
{
    ws_record_fill(scratch, len, seed, h->cycle, h->thread, h->seq);
    if (memcmp(scratch, data, len) == 0)
        return -1;
    for (uint32_t i = 0; i < len; i++)
        if (scratch[i] != data[i])
            return i;
    return -1;
}

struct verify_state {
    const struct ws_opts *o;
    uint32_t first_cycle, ncycles;
    uint64_t *next; /* next expected seq per (cycle, thread) */
    uint8_t *scratch;
    uint64_t shown;
};

static void bad(struct verify_state *v, struct ws_verify_result *out, uint64_t lsn, const char *fmt,
                uint64_t a, uint64_t b)
{
    out->corrupt++;
    if (v->shown++ >= SHOW_MAX)
        return;
    fprintf(stderr, "walstress: corrupt record at LSN %" PRIu64 ": ", lsn);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

static void check_record(struct verify_state *v, const struct regio_wal_record *rec,
                         struct ws_verify_result *out)
{
    struct ws_rec_hdr h;
    if (rec->len < sizeof(h)) {
        bad(v, out, rec->lsn, "%" PRIu64 " bytes, shorter than a header of %" PRIu64, rec->len,
            sizeof(h));
        return;
    }
    memcpy(&h, rec->data, sizeof(h));
    if (h.magic != WS_REC_MAGIC || h.len != rec->len) {
        bad(v, out, rec->lsn, "bad header (magic 0x%" PRIx64 ", length %" PRIu64 ")", h.magic,
            h.len);
        return;
    }
    if (h.thread >= v->o->threads || h.cycle >= v->ncycles) {
        bad(v, out, rec->lsn, "thread %" PRIu64 " / cycle %" PRIu64 " out of range", h.thread,
            h.cycle);
        return;
    }
    if (h.cycle < v->first_cycle) {
        bad(v, out, rec->lsn,
            "cycle %" PRIu64 " is behind the checkpoint (cycles from %" PRIu64 " expected)",
            h.cycle, v->first_cycle);
        return;
    }
    out->found++;
    uint64_t *next = &v->next[(size_t)h.cycle * v->o->threads + h.thread];
    if (h.seq != *next) {
        bad(v, out, rec->lsn, "out of order: seq %" PRIu64 " where %" PRIu64 " was due", h.seq,
            *next);
        *next = h.seq + 1;
        return;
    }
    (*next)++;
    int64_t at = pattern_mismatch(rec->data, rec->len, v->o->seed, &h, v->scratch);
    if (at >= 0)
        bad(v, out, rec->lsn, "byte %" PRIu64 " of %" PRIu64 " differs from the pattern",
            (uint64_t)at, rec->len);
}

/* Acknowledged records that the log does not hold. */
static void count_lost(struct verify_state *v, const uint64_t *acked, struct ws_verify_result *out)
{
    uint64_t shown = 0;
    for (uint32_t c = v->first_cycle; c < v->ncycles; c++) {
        for (uint32_t t = 0; t < v->o->threads; t++) {
            size_t i = (size_t)c * v->o->threads + t;
            uint64_t have = v->next[i] - 1;
            out->acknowledged += acked[i];
            if (have >= acked[i])
                continue;
            out->lost += acked[i] - have;
            if (shown++ < SHOW_MAX)
                fprintf(stderr,
                        "walstress: LOST: cycle %u thread %u: acknowledged up to seq %" PRIu64
                        ", the log holds 1..%" PRIu64 "\n",
                        c, t, acked[i], have);
        }
    }
}

void ws_verify(const struct ws_opts *o, const char *dir, const uint64_t *acked,
               const struct ws_verify_span *span, struct ws_verify_result *out)
{
    memset(out, 0, sizeof(*out));
    uint32_t ncycles = span->ncycles;
    struct verify_state v = {.o = o, .first_cycle = span->first_cycle, .ncycles = ncycles};
    v.next = malloc((size_t)ncycles * o->threads * sizeof(*v.next));
    v.scratch = malloc(o->max_bytes);
    if (v.next == NULL || v.scratch == NULL) {
        out->error = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < (size_t)ncycles * o->threads; i++)
        v.next[i] = 1;
    struct regio_wal_reader *r;
    out->error = regio_wal_reader_open(dir, span->from_lsn, &r);
    if (out->error == 0) {
        struct regio_wal_record rec;
        int rc;
        while ((rc = regio_wal_reader_next(r, &rec)) == 1)
            check_record(&v, &rec, out);
        if (rc < 0) {
            out->error = rc;
            fprintf(stderr, "walstress: reading the log failed: %s %s\n", regio_strerror(rc),
                    regio_error_detail());
        }
        regio_wal_reader_close(r);
    } else if (out->error == -ENOENT) {
        out->error = 0; /* no log at all: every acknowledged record is lost */
    } else {
        fprintf(stderr, "walstress: cannot open a reader on %s: %s %s\n", dir,
                regio_strerror(out->error), regio_error_detail());
    }
    count_lost(&v, acked, out);
done:
    free(v.next);
    free(v.scratch);
}
