/*
 * wal/wal.c: appends, group commit, the flusher, sync waiters, checkpoint,
 * truncation and close.
 *
 * Appenders reserve an LSN range with a compare-and-swap on insert_pos, copy
 * their record into the ring of registered WAL buffers in parallel, and
 * publish in an insertion slot the lowest LSN they are still writing
 * (PostgreSQL's insertion locks). Whoever holds flush_mu flushes: it walks
 * the records whose copies are complete, writes whole blocks with
 * WRITE_FIXED (+RWF_DSYNC) on the WAL's shared-mode engine, ends a flush
 * that must stop mid-block with a pad record, and acknowledges flushes
 * strictly in LSN order as they complete. A sync caller that finds flush_mu
 * free leads its own flush and waits for it in the kernel (a lone appender
 * involves no other thread); otherwise the flusher thread holds it, and each
 * sync waiter sleeps on the futex bucket of the flush that covers its record,
 * woken once per acknowledged flush.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "engine_internal.h"
#include "hash_internal.h"
#include "stats_internal.h"
#include "wal_internal.h"

static const uint8_t wal_zeros[REGIO__WAL_REC_ALIGN];

/* ---- Ring of WAL buffers: LSN x lives at offset x % ring_bytes ---------- */

static uint8_t *ring_at(const struct regio_wal *w, uint64_t lsn, uint64_t *contig)
{
    uint64_t r = lsn % w->ring_bytes;
    uint64_t piece = r / w->piece_bytes, off = r % w->piece_bytes;
    REGIO_ASSERT(piece < REGIO__WAL_PIECES);
    *contig = w->piece_bytes - off;
    return (uint8_t *)w->pieces[piece].data + off;
}

static void ring_put(struct regio_wal *w, uint64_t lsn, const void *src, uint64_t len)
{
    REGIO_ASSERT(len <= w->piece_bytes); /* a longer copy would lap the ring onto itself */
    const uint8_t *p = src;
    while (len > 0) {
        uint64_t contig;
        uint8_t *dst = ring_at(w, lsn, &contig);
        uint64_t n = len < contig ? len : contig;
        memcpy(dst, p, n);
        p += n;
        lsn += n;
        len -= n;
    }
}

static void ring_get(struct regio_wal *w, uint64_t lsn, void *out, uint64_t len)
{
    REGIO_ASSERT(len <= w->piece_bytes);
    uint8_t *p = out;
    while (len > 0) {
        uint64_t contig;
        const uint8_t *src = ring_at(w, lsn, &contig);
        uint64_t n = len < contig ? len : contig;
        memcpy(p, src, n);
        p += n;
        lsn += n;
        len -= n;
    }
}

/* Zero the ring bytes of LSNs [lsn, end). */
static void ring_clear(struct regio_wal *w, uint64_t lsn, uint64_t end)
{
    REGIO_ASSERT(lsn <= end && end - lsn <= w->ring_bytes);
    while (lsn < end) {
        uint64_t contig;
        uint8_t *p = ring_at(w, lsn, &contig);
        uint64_t n = end - lsn < contig ? end - lsn : contig;
        memset(p, 0, n);
        lsn += n;
    }
}

/* ---- Failure and wake-ups --------------------------------------------- */

static void futex_wait(_Atomic uint32_t *word, uint32_t val, int64_t timeout_ns)
{
    struct timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    REGIO_ASSERT(timeout_ns > 0); /* a zero timespec would not wait at all */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* Wake the sync waiters sleeping on the bucket of flush seq (they re-check
 * the durable LSN themselves). Only a bucket with sleepers costs a syscall. */
static void wake_bucket(struct regio_wal *w, uint64_t seq)
{
    REGIO_ASSERT(seq <= atomic_load(&w->acked_seq)); /* only acknowledged flushes wake */
    _Atomic uint32_t *b = w->ack_words[seq % REGIO__WAL_ACK_BUCKETS];
    atomic_store(&b[0], (uint32_t)seq);
    if (atomic_load(&b[1]) > 0)
        futex_wake_all(&b[0]);
}

static void wake_all_buckets(struct regio_wal *w)
{
    REGIO_ASSERT(atomic_load(&w->failed) != 0); /* only a failure wakes every waiter */
    for (uint32_t i = 0; i < REGIO__WAL_ACK_BUCKETS; i++) {
        atomic_fetch_add(&w->ack_words[i][0], 1);
        futex_wake_all(&w->ack_words[i][0]);
    }
}

/* What a call on a failed log returns: the error that failed it, with a
 * detail saying so (the caller's own detail was cleared on entry). */
static int failed_error(int err)
{
    REGIO_ASSERT(err < 0);
    regio__set_detail("wal: the log failed earlier (%s); close and reopen it", regio_strerror(err));
    return err;
}

static void wal_fail(struct regio_wal *w, int err)
{
    int expect = 0;
    REGIO_ASSERT(err < 0);
    /* It takes mu: the preparer lets go of mu before it reports a failure. */
    REGIO_ASSERT(!regio__lock_held(&w->mu));
    atomic_compare_exchange_strong(&w->failed, &expect, err);
    wake_all_buckets(w);
    regio__lock(&w->mu);
    pthread_cond_broadcast(&w->done_cond);
    pthread_cond_broadcast(&w->work_cond);
    pthread_cond_broadcast(&w->prep_cond);
    regio__unlock(&w->mu);
    regio__lock(&w->async_mu);
    pthread_cond_broadcast(&w->cb_cond);
    regio__unlock(&w->async_mu);
}

static void atomic_max(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load(a);
    while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

/* ---- Insertion slots ---------------------------------------------------- */

static _Thread_local uint32_t tl_slot_hint = UINT32_MAX;
static _Atomic uint32_t slot_rr;

static int slot_acquire(struct regio_wal *w, uint32_t *slot_out)
{
    if (tl_slot_hint == UINT32_MAX)
        tl_slot_hint = atomic_fetch_add(&slot_rr, 1) % REGIO__WAL_SLOTS;
    for (;;) {
        for (uint32_t i = 0; i < REGIO__WAL_SLOTS; i++) {
            uint32_t idx = (tl_slot_hint + i) % REGIO__WAL_SLOTS;
            uint64_t expect = REGIO__WAL_SLOT_FREE;
            if (atomic_compare_exchange_strong(&w->slots[idx][0], &expect, REGIO__WAL_SLOT_BUSY)) {
                *slot_out = idx;
                return 0;
            }
        }
        int err = atomic_load(&w->failed);
        if (err != 0)
            return err; /* failed appenders keep their slots */
        sched_yield();
    }
}

/* Lowest LSN an insertion is still writing, or q when none. */
static uint64_t min_inflight(struct regio_wal *w, uint64_t q)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu));
    uint64_t m = q;
    for (uint32_t i = 0; i < REGIO__WAL_SLOTS; i++) {
        uint64_t v;
        /* BUSY lasts only across the reservation CAS loop, which never blocks. */
        while ((v = atomic_load(&w->slots[i][0])) == REGIO__WAL_SLOT_BUSY)
            sched_yield();
        if (v != REGIO__WAL_SLOT_FREE && v < m)
            m = v;
    }
    /* An insertion below walk_pos would mean the walker passed bytes still
     * being copied. */
    REGIO_ASSERT(m >= w->walk_pos);
    return m;
}

/* ---- Reservation --------------------------------------------------------- */

/* Reservations have reached segment seg: past narrow_seg, the full limit
 * applies (recovery takes the largest window of the segments involved). */
static void leave_narrow_segment(struct regio_wal *w, uint64_t seg)
{
    REGIO_ASSERT(w->full_limit_bytes <= w->ring_bytes);
    if (seg > w->narrow_seg && atomic_load(&w->limit_bytes) < w->full_limit_bytes)
        atomic_store(&w->limit_bytes, w->full_limit_bytes);
}

/* Reserve total bytes for a record with a compare-and-swap loop on
 * insert_pos (an atomic add could not move a record that does not fit to the
 * next segment). A record that does not fit in the rest of its segment
 * (leaving room for a SEGEND header) goes to the next segment, and its
 * reserver also owns the SEGEND filler at the old position. */
static void reserve(struct regio_wal *w, uint64_t total, uint64_t *start, uint64_t *segend_at)
{
    REGIO_ASSERT(total % REGIO__WAL_REC_ALIGN == 0 && total <= w->piece_bytes);
    uint64_t p = atomic_load(&w->insert_pos);
    for (;;) {
        uint64_t s, next, se = 0;
        /* A record bigger than the narrow segment's window could never be in
         * flight there: it starts the next segment early instead. */
        bool narrow = regio__wal_seg(w, p) == w->narrow_seg && total > atomic_load(&w->limit_bytes);
        if (!narrow && p + total + REGIO__WAL_REC_HDR_BYTES <= regio__wal_seg_end(w, p)) {
            s = p;
        } else {
            se = p;
            s = regio__wal_seg_first(w, regio__wal_seg(w, p) + 1);
        }
        next = s + total;
        if (atomic_compare_exchange_weak(&w->insert_pos, &p, next)) {
            /* The record fits its segment with room for a SEGEND after it. */
            REGIO_ASSERT(next + REGIO__WAL_REC_HDR_BYTES <= regio__wal_seg_end(w, s));
            *start = s;
            *segend_at = se;
            if (se != 0)
                leave_narrow_segment(w, regio__wal_seg(w, s));
            return;
        }
    }
}

/*
 * Fill hdr (checksum field left for the caller) for a record at lsn and
 * start the checksum over the header, seeded with its segment's salt. The
 * caller hashes the payload and puts the digest in bytes 0..7.
 */
static void record_begin(struct regio_wal *w, uint8_t hdr[REGIO__WAL_REC_HDR_BYTES], uint64_t lsn,
                         uint32_t len, uint16_t type, XXH3_state_t *st)
{
    struct regio__wal_segslot *ss = &w->segs[regio__wal_seg(w, lsn) % w->seg_table_len];
    memset(hdr, 0, REGIO__WAL_REC_HDR_BYTES);
    /* The salt is the segment's only once it is prepared. */
    REGIO_ASSERT(lsn % REGIO__WAL_REC_ALIGN == 0 &&
                 atomic_load_explicit(&ss->ready, memory_order_acquire) ==
                     regio__wal_seg(w, lsn) + 1);
    /* The durable LSN this record proves: damage below it, found later
     * under a valid copy of this record, is corruption, not a torn tail. */
    uint16_t proof = regio__wal_proof(lsn, atomic_load(&w->durable), w->block_bytes);
    regio__wal_fill_header(hdr, ss->salt, lsn, type, w->epoch, len, proof);
    /* A stack state must be initialised before a seeded reset: the reset
     * skips deriving the secret when the garbage seed field happens to equal
     * the seed, and would then hash with whatever secret the stack held. */
    XXH3_INITSTATE(st);
    XXH3_64bits_reset_withSeed(st, ss->salt);
    regio__xxh3_update(st, hdr + 8, REGIO__WAL_REC_HDR_BYTES - 8);
}

/* Filler record (pad or segend) spanning [lsn, end) written into the ring.
 * Its checksum covers the header only and its payload must be zero (format
 * version 2); the payload bytes are cleared here unless the caller knows
 * they are zero already (zero_ahead cleared them in the shadow of a write). */
static void put_filler(struct regio_wal *w, uint64_t lsn, uint64_t end, uint16_t type,
                       bool known_zero)
{
    uint8_t hdr[REGIO__WAL_REC_HDR_BYTES];
    XXH3_state_t st;
    record_begin(w, hdr, lsn, (uint32_t)(end - lsn - REGIO__WAL_REC_HDR_BYTES), type, &st);
    REGIO_ASSERT(regio__wal_is_filler(type) && end % w->block_bytes == 0);
    if (!known_zero)
        ring_clear(w, lsn + REGIO__WAL_REC_HDR_BYTES, end);
    regio__le64_put(hdr, XXH3_64bits_digest(&st));
    ring_put(w, lsn, hdr, sizeof(hdr));
}

/*
 * Clear ring bytes ahead of the reservable range, so that a pad finds its
 * payload zero and a lone appender's commit does not pay for clearing it.
 * Called under flush_mu right after a flush is submitted, while the device
 * works. The bytes of LSNs [released + limit, released + ring) are safe to
 * clear: no appender can reserve them yet (reservations end at or below
 * released + limit) and the data they held one lap earlier is released.
 * Known zero afterwards: [zero_lo, zero_hi), minus records written since.
 */
static void zero_ahead(struct regio_wal *w)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu));
    uint64_t r = atomic_load(&w->released);
    uint64_t lo = r + atomic_load(&w->limit_bytes), hi = r + w->ring_bytes;
    if (lo >= hi)
        return; /* no slack: pads clear their own payload */
    if (w->zero_hi < lo)
        w->zero_lo = w->zero_hi = lo; /* released jumped past the cleared part */
    uint64_t to =
        w->zero_hi + REGIO__WAL_ZERO_STEP_BYTES < hi ? w->zero_hi + REGIO__WAL_ZERO_STEP_BYTES : hi;
    ring_clear(w, w->zero_hi, to);
    w->zero_hi = to;
    REGIO_ASSERT(w->zero_lo <= w->zero_hi && w->zero_hi <= hi);
}

static uint64_t filler_end(struct regio_wal *w, uint64_t lsn, uint16_t *type)
{
    uint64_t fe = regio__wal_round_up(lsn + REGIO__WAL_REC_HDR_BYTES, w->block_bytes);
    /* A filler never crosses its segment's end (a SEGEND ends there). */
    REGIO_ASSERT(fe <= regio__wal_seg_end(w, lsn));
    *type = fe >= regio__wal_seg_end(w, lsn) ? REGIO__WAL_TYPE_SEGEND : REGIO__WAL_TYPE_PAD;
    return fe;
}

static int wait_segment(struct regio_wal *w, uint64_t segno)
{
    struct regio__wal_segslot *ss = &w->segs[segno % w->seg_table_len];
    if (atomic_load_explicit(&ss->ready, memory_order_acquire) == segno + 1)
        return 0;
    REGIO_ASSERT(!regio__lock_held(&w->flush_mu)); /* the flusher could never prepare it */
    regio__lock(&w->mu);
    atomic_max(&w->max_seg_seen, segno);
    pthread_cond_broadcast(&w->prep_cond);
    while (atomic_load_explicit(&ss->ready, memory_order_acquire) != segno + 1 &&
           atomic_load(&w->failed) == 0)
        regio__lock_wait(&w->done_cond, &w->mu);
    regio__unlock(&w->mu);
    return atomic_load(&w->failed);
}

static int wait_space(struct regio_wal *w, uint64_t end)
{
    REGIO_ASSERT(!regio__lock_held(&w->flush_mu)); /* only the flush_mu holder frees space */
    if (end - atomic_load(&w->released) <= atomic_load(&w->limit_bytes))
        return 0;
    regio__lock(&w->mu);
    atomic_fetch_add(&w->space_waiters, 1);
    if (w->flusher_idle)
        pthread_cond_signal(&w->work_cond);
    while (end - atomic_load(&w->released) > atomic_load(&w->limit_bytes) &&
           atomic_load(&w->failed) == 0)
        regio__lock_wait(&w->done_cond, &w->mu);
    atomic_fetch_sub(&w->space_waiters, 1);
    regio__unlock(&w->mu);
    return atomic_load(&w->failed);
}

/* ---- Appends -------------------------------------------------------------- */

static int append_common(struct regio_wal *w, uint16_t type, const struct iovec *iov, int iovcnt,
                         uint64_t *lsn_out, uint64_t *end_out)
{
    if (w == NULL || iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
        regio__set_detail("wal: append needs a log and iovcnt >= 0 with an iovec array");
        return -EINVAL;
    }
    size_t max = regio_wal_max_record_bytes(w);
    uint64_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0 && iov[i].iov_base == NULL) {
            regio__set_detail("wal: iovec %d has %zu bytes at NULL", i, iov[i].iov_len);
            return -EINVAL;
        }
        /* Checked per element, before adding: a sum of caller lengths may
         * wrap (2^63 + 2^63 + 8 is 8) and then pass the size check. */
        if (iov[i].iov_len > max - len) {
            regio__set_detail("wal: record larger than %zu bytes (iovec %d)", max, i);
            return -EINVAL;
        }
        len += iov[i].iov_len;
    }
    if (len == 0 && type <= REGIO_WAL_TYPE_USER_MAX) {
        regio__set_detail("wal: record of %llu bytes (1..%zu allowed)", (unsigned long long)len,
                          regio_wal_max_record_bytes(w));
        return -EINVAL;
    }
    int err = atomic_load(&w->failed);
    if (err != 0)
        return failed_error(err);
    uint64_t total = regio__wal_rec_total(len), start, segend_at;
    uint32_t slot;
    err = slot_acquire(w, &slot);
    if (err != 0)
        return err;
    reserve(w, total, &start, &segend_at);
    REGIO_ASSERT(segend_at == 0 || segend_at < start);
    atomic_store(&w->slots[slot][0], segend_at != 0 ? segend_at : start);
    err = wait_segment(w, regio__wal_seg(w, start));
    if (err == 0 && segend_at != 0) {
        /* The segend goes in first: the ring space the record needs may be
         * released only by the flush that carries it (after an early switch
         * the rest of the old segment lies between them in LSNs). */
        uint16_t ft;
        uint64_t fe = filler_end(w, segend_at, &ft);
        err = wait_space(w, fe);
        if (err == 0) {
            put_filler(w, segend_at, fe, REGIO__WAL_TYPE_SEGEND, false);
            atomic_store(&w->slots[slot][0], start);
            atomic_max(&w->max_seg_seen, regio__wal_seg(w, start));
            regio__lock(&w->mu);
            pthread_cond_broadcast(&w->prep_cond);
            regio__unlock(&w->mu);
        }
    }
    if (err == 0)
        err = wait_space(w, start + total);
    if (err != 0) {
        /* The log failed while we waited. The reserved range stays empty, so
         * the slot stays held at its start: the flusher must never walk
         * into bytes nobody wrote. */
        return err;
    }
    /* wait_space's promise: the record's bytes lie within one lap of what
     * the flushes released, so the copy overwrites nothing unflushed. */
    REGIO_ASSERT(start + total - atomic_load(&w->released) <= w->ring_bytes);
    uint8_t hdr[REGIO__WAL_REC_HDR_BYTES];
    XXH3_state_t st;
    record_begin(w, hdr, start, (uint32_t)len, type, &st);
    uint64_t at = start + REGIO__WAL_REC_HDR_BYTES;
    for (int i = 0; i < iovcnt; i++) {
        regio__xxh3_update(&st, iov[i].iov_base, iov[i].iov_len);
        ring_put(w, at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    uint64_t rounding = start + total - at;
    regio__xxh3_update(&st, wal_zeros, rounding);
    ring_put(w, at, wal_zeros, rounding);
    regio__le64_put(hdr, XXH3_64bits_digest(&st));
    ring_put(w, start, hdr, sizeof(hdr));
    REGIO_ASSERT(at <= start + total && rounding < REGIO__WAL_REC_ALIGN);
    atomic_store(&w->slots[slot][0], REGIO__WAL_SLOT_FREE);
    atomic_fetch_add_explicit(&w->records, 1, memory_order_relaxed);
    if (lsn_out != NULL)
        *lsn_out = start;
    if (end_out != NULL)
        *end_out = start + total;
    return 0;
}

int regio_wal_append(struct regio_wal *w, const void *data, size_t len, uint64_t *lsn_out)
{
    regio__clear_detail();
    struct iovec v = {.iov_base = (void *)data, .iov_len = len};
    return append_common(w, 0, &v, 1, lsn_out, NULL);
}

int regio_wal_appendv(struct regio_wal *w, const struct iovec *iov, int iovcnt, uint64_t *lsn_out)
{
    regio__clear_detail();
    return append_common(w, 0, iov, iovcnt, lsn_out, NULL);
}

int regio_wal_append_record(struct regio_wal *w, uint16_t type, const struct iovec *iov, int iovcnt,
                            uint64_t *lsn_out, uint64_t *end_lsn_out)
{
    regio__clear_detail();
    if (type > REGIO_WAL_TYPE_USER_MAX) {
        regio__set_detail("wal: record type %u is reserved (0..%u allowed)", (unsigned)type,
                          (unsigned)REGIO_WAL_TYPE_USER_MAX);
        return -EINVAL;
    }
    return append_common(w, type, iov, iovcnt, lsn_out, end_lsn_out);
}

size_t regio_wal_max_record_bytes(const struct regio_wal *w)
{
    /* A record with its header fits one piece: a piece is 4 KiB at least. */
    REGIO_ASSERT(w == NULL || w->piece_bytes >= 4096);
    return w == NULL ? 0 : (size_t)(w->piece_bytes - REGIO__WAL_REC_HDR_BYTES);
}

/* ---- The flusher ----------------------------------------------------------- */

/* Advance walk_pos over records whose copies are complete (below m). */
static void walk(struct regio_wal *w, uint64_t m)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu));
    while (w->walk_pos < m) {
        uint8_t hdr[REGIO__WAL_REC_HDR_BYTES];
        ring_get(w, w->walk_pos, hdr, sizeof(hdr));
        REGIO_ASSERT(regio__le64_get(hdr + 8) == w->walk_pos);
        uint64_t total = regio__wal_rec_total(regio__le32_get(hdr + 16));
        /* No record or filler is longer than a piece (a torn copy would be). */
        REGIO_ASSERT(total <= w->piece_bytes);
        if (regio__le16_get(hdr + 24) == REGIO__WAL_TYPE_SEGEND) {
            REGIO_ASSERT(w->walk_pos + total <= regio__wal_seg_end(w, w->walk_pos));
            w->segend_at_end = w->walk_pos + total;
            w->walk_pos = regio__wal_seg_first(w, regio__wal_seg(w, w->walk_pos) + 1);
            w->segend_next = w->walk_pos;
        } else {
            w->walk_pos += total;
        }
    }
}

/* The largest record boundary at or below b, counting caller records. The
 * header of a record that straddles b is read once and remembered: its bytes
 * below b are released with the flush and may be overwritten in the ring. */
static uint64_t rec_end_for(struct regio_wal *w, uint64_t b, uint64_t *records)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu) && w->last_rec_end <= b);
    uint64_t x = w->last_rec_end;
    *records = 0;
    while (x < b) {
        if (w->pend_at != x) {
            uint8_t hdr[REGIO__WAL_REC_HDR_BYTES];
            ring_get(w, x, hdr, sizeof(hdr));
            REGIO_ASSERT(regio__le64_get(hdr + 8) == x);
            uint64_t total = regio__wal_rec_total(regio__le32_get(hdr + 16));
            uint16_t type = regio__le16_get(hdr + 24);
            w->pend_at = x;
            w->pend_end = x + total;
            w->pend_user = type <= REGIO_WAL_TYPE_USER_MAX;
            w->pend_next = type == REGIO__WAL_TYPE_SEGEND
                               ? regio__wal_seg_first(w, regio__wal_seg(w, x) + 1)
                               : x + total;
        }
        if (w->pend_end > b)
            break;
        if (w->pend_user)
            (*records)++;
        x = w->pend_next;
    }
    w->last_rec_end = x;
    return x;
}

static struct regio_file *segment_file(struct regio_wal *w, uint64_t segno, int *err)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu)); /* segment files are the holder's */
    struct regio__wal_segslot *ss = &w->segs[segno % w->seg_table_len];
    /* Only a prepared segment is written, and its slot is not reused yet
     * (the table holds every spare and the segments in flight). */
    REGIO_ASSERT(atomic_load_explicit(&ss->ready, memory_order_acquire) == segno + 1);
    if (ss->file != NULL && ss->file_segno == segno)
        return ss->file;
    if (ss->file != NULL) {
        regio_file_close(ss->file);
        ss->file = NULL;
    }
    char name[32];
    regio__wal_segment_name(segno, name);
    *err = regio_file_openat(w->engine, w->dir_fd, name, O_RDWR, 0600, &ss->file);
    if (*err != 0) {
        ss->file = NULL;
        return NULL;
    }
    ss->file_segno = segno;
    return ss->file;
}

static void complete_flushes(struct regio_wal *w)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu));
    bool progressed = false;
    uint64_t acked_from = atomic_load(&w->acked_seq);
    while (w->fl_count > 0) {
        struct regio__wal_flush *f = &w->flushes[w->fl_head];
        if (f->done < f->ops)
            break;
        REGIO_ASSERT(f->done == f->ops);
        if (f->err != 0)
            wal_fail(w, f->err);
        if (atomic_load(&w->failed) != 0) {
            /* Nothing written at or after a failed flush is acknowledged. */
            w->fl_head = (w->fl_head + 1) % REGIO__WAL_MAX_FLUSHES;
            w->fl_count--;
            continue;
        }
        /* The counters first: a waiter returns as soon as it sees the new
         * durable LSN, and the stats it reads next must already count the
         * flush that acknowledged it (test_wal_mt saw them lag under TSan). */
        atomic_fetch_add(&w->syncs, 1);
        atomic_fetch_add(&w->records_synced, f->records);
        /* Flushes are acknowledged in issue order, and durable only grows. */
        REGIO_ASSERT(f->seq == atomic_load(&w->acked_seq) + 1 &&
                     f->rec_end >= atomic_load(&w->durable));
        REGIO_ASSERT(f->rec_end <= f->release_to && f->end <= f->release_to);
        atomic_store(&w->durable, f->rec_end);
        atomic_store(&w->released, f->release_to);
        atomic_store(&w->acked_seq, f->seq);
        w->fl_head = (w->fl_head + 1) % REGIO__WAL_MAX_FLUSHES;
        w->fl_count--;
        progressed = true;
    }
    if (!progressed)
        return;
    /* One wake-up per acknowledged flush, for the waiters of that flush
     * only: a waiter whose record is in a later flush sleeps on. */
    uint64_t acked_to = atomic_load(&w->acked_seq);
    for (uint64_t q = acked_from + 1; q <= acked_to; q++)
        wake_bucket(w, q);
    /* Ring-space waiters and the callback thread wait on conditions (a
     * space waiter counts itself under mu before it checks, a callback
     * under async_mu before it reads durable: one of us sees the other). */
    if (atomic_load(&w->space_waiters) > 0) {
        REGIO_ASSERT(!regio__lock_held(&w->mu)); /* flush_mu holders never take mu first */
        regio__lock(&w->mu);
        pthread_cond_broadcast(&w->done_cond);
        regio__unlock(&w->mu);
    }
    if (atomic_load(&w->async_count) > 0) {
        REGIO_ASSERT(!regio__lock_held(&w->async_mu));
        regio__lock(&w->async_mu);
        if (w->async_head != NULL)
            pthread_cond_signal(&w->cb_cond);
        regio__unlock(&w->async_mu);
    }
}

static void write_done(void *ctx, int res)
{
    struct regio__wal_flush *f = ctx;
    f->done++;
    REGIO_ASSERT(f->done <= f->ops);
    if (res < 0 && f->err == 0)
        f->err = res;
    complete_flushes(f->w);
}

/* Queue one write of [a, b) (inside one piece and one segment). */
static int queue_write(struct regio_wal *w, struct regio__wal_flush *f, uint64_t a, uint64_t b)
{
    REGIO_ASSERT(a < b && regio__wal_seg(w, a) == regio__wal_seg(w, b - 1));
    int err = 0;
    struct regio_file *file = segment_file(w, regio__wal_seg(w, a), &err);
    if (file == NULL)
        return err;
    uint64_t r = a % w->ring_bytes;
    struct regio_buf v;
    err = regio_buf_view(w->pieces[r / w->piece_bytes], r % w->piece_bytes, b - a, &v);
    if (err != 0)
        return err;
    uint64_t off = a - regio__wal_seg(w, a) * w->seg_bytes;
    /* One piece (the length is a uint32), past the header block, inside
     * the file. */
    REGIO_ASSERT(b - a <= w->piece_bytes && off >= w->block_bytes && off + (b - a) <= w->seg_bytes);
    for (;;) {
#ifdef REGIO_MUTATION_SKIP_SYNC
        /* A deliberately broken build for the mutation test
         * wal_crash_mutant_skip_sync (CMakeLists.txt): plain writes, so
         * records are acknowledged without a sync. Never defined otherwise. */
        err = regio_file_write(file, v, off, (uint32_t)(b - a), write_done, f);
        if (err != -EAGAIN)
            return err;
        regio_engine_wait(w->engine, 1, -1);
        continue;
#endif
        if (w->dsync_writes)
            err = regio_file_write_flags(file, v, off, (uint32_t)(b - a), REGIO_WRITE_DSYNC,
                                         write_done, f);
        else
            err = regio_file_write_durable(file, v, off, (uint32_t)(b - a), write_done, f);
        if (err != -EAGAIN)
            return err;
        regio__engine_wait(w->engine, 1, -1);
    }
}

/* Issue a flush of [a, b), b block aligned, in one segment. */
static void issue_range(struct regio_wal *w, uint64_t a, uint64_t b, uint64_t release_to)
{
    REGIO_ASSERT(w->fl_count < REGIO__WAL_MAX_FLUSHES);
    REGIO_ASSERT(a % w->block_bytes == 0 && b % w->block_bytes == 0 && a < b);
    uint32_t idx = (w->fl_head + w->fl_count) % REGIO__WAL_MAX_FLUSHES;
    struct regio__wal_flush *f = &w->flushes[idx];
    memset(f, 0, sizeof(*f));
    f->w = w;
    f->start = a;
    f->end = b;
    f->release_to = release_to;
    f->rec_end = rec_end_for(w, b, &f->records);
    f->seq = atomic_load(&w->issue_seq) + 1;
    atomic_store(&w->issued_end, f->rec_end);
    atomic_store(&w->issue_seq, f->seq);
    /* Count the write as issued until queued, so that an early completion
     * cannot retire the flush before its last write is queued. */
    f->ops = 1;
    w->fl_count++;
    for (uint64_t x = a; x < b;) {
        uint64_t contig;
        (void)ring_at(w, x, &contig);
        uint64_t e = b - x < contig ? b : x + contig;
        f->ops++;
        int err = queue_write(w, f, x, e);
        if (err != 0) {
            f->ops--;
            if (f->err == 0)
                f->err = err;
            break;
        }
        x = e;
    }
    atomic_fetch_add(&w->bytes_written, b - a);
    f->done++;
    regio_engine_submit(w->engine);
    zero_ahead(w);
    complete_flushes(w);
}

/*
 * The ring order the flushing code relies on: durable <= released <= flushed
 * <= walk_pos <= insert_pos, with the newest issued flush's record end
 * between durable and flushed. (durable is a record boundary at or below a
 * flush's end, released that end or the next segment's start.) Checked by
 * the holder of flush_mu, the only writer of all of them but insert_pos,
 * which only grows; not inside issue_range, which moves released past
 * flushed until issue_to catches up at a segment switch.
 */
static void check_ring_order(struct regio_wal *w)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu));
    uint64_t durable = atomic_load_explicit(&w->durable, memory_order_relaxed);
    uint64_t released = atomic_load_explicit(&w->released, memory_order_relaxed);
    REGIO_ASSERT(durable <= released && released <= w->flushed);
    REGIO_ASSERT(durable <= w->last_rec_end && w->last_rec_end <= w->flushed);
    REGIO_ASSERT(w->flushed <= w->walk_pos && w->walk_pos <= atomic_load(&w->insert_pos));
}

/* Flush [flushed, p), splitting at the segment switch the walker passed. */
static void issue_to(struct regio_wal *w, uint64_t p)
{
    REGIO_ASSERT(p <= w->walk_pos); /* only walked (complete) bytes go out */
    /* The first flush of an open after a clean close makes the open's
     * epoch durable first (regio__wal_persist_epoch says why). */
    if (atomic_load(&w->epoch_pending)) {
        int err = regio__wal_persist_epoch(w);
        if (err != 0) {
            wal_fail(w, err);
            return;
        }
    }
    while (w->flushed < p && atomic_load(&w->failed) == 0) {
        if (regio__wal_seg(w, p - 1) != regio__wal_seg(w, w->flushed)) {
            REGIO_ASSERT(w->segend_at_end != 0);
            /* The segend leads to the next segment's first record. */
            REGIO_ASSERT(w->segend_next ==
                         regio__wal_seg_first(w, regio__wal_seg(w, w->flushed) + 1));
            uint64_t e = regio__wal_round_up(w->segend_at_end, w->block_bytes);
            if (e > w->flushed)
                issue_range(w, w->flushed, e, w->segend_next);
            w->flushed = w->segend_next;
            w->segend_at_end = 0;
            continue;
        }
        issue_range(w, w->flushed, p, p);
        w->flushed = p;
    }
    check_ring_order(w);
}

/* Try to end the flush at walk_pos with a pad; false when someone reserved
 * past it meanwhile or the ring has no room for the pad yet. */
static bool try_pad(struct regio_wal *w, uint64_t q)
{
    REGIO_ASSERT(q == w->walk_pos && q % w->block_bytes != 0);
    uint16_t type;
    uint64_t fe = filler_end(w, q, &type);
    uint64_t next =
        type == REGIO__WAL_TYPE_SEGEND ? regio__wal_seg_first(w, regio__wal_seg(w, q) + 1) : fe;
    if (fe - atomic_load(&w->released) > atomic_load(&w->limit_bytes))
        return false;
    if (type == REGIO__WAL_TYPE_SEGEND &&
        atomic_load(&w->segs[regio__wal_seg(w, next) % w->seg_table_len].ready) !=
            regio__wal_seg(w, next) + 1)
        return false; /* the successor is not prepared yet: never wait here */
    uint64_t expect = q;
    if (!atomic_compare_exchange_strong(&w->insert_pos, &expect, next))
        return false;
    /* Nobody reserved past q, so [q, fe) holds what zero_ahead left. */
    bool known_zero = q >= w->zero_lo && fe <= w->zero_hi;
    if (known_zero)
        atomic_fetch_add_explicit(&w->pads_prezeroed, 1, memory_order_relaxed);
    put_filler(w, q, fe, type, known_zero);
    atomic_fetch_add(&w->bytes_padded, fe - q);
    if (type == REGIO__WAL_TYPE_SEGEND) {
        leave_narrow_segment(w, regio__wal_seg(w, next));
        atomic_max(&w->max_seg_seen, regio__wal_seg(w, next));
        regio__lock(&w->mu);
        pthread_cond_broadcast(&w->prep_cond);
        regio__unlock(&w->mu);
    }
    walk(w, next);
    return true;
}

enum step { STEP_IDLE, STEP_PROGRESS, STEP_SPIN };

/* One round of flushing under flush_mu. want_own is the record start + 1 a
 * leading appender flushes for (0 on the flusher thread, which serves the
 * highest LSN anyone asked for). */
static enum step flusher_step(struct regio_wal *w, uint64_t want_own)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu));
    check_ring_order(w);
    if (atomic_load(&w->failed) != 0 || w->fl_count >= w->max_flushes_in_flight)
        return STEP_IDLE;
    uint64_t q = atomic_load(&w->insert_pos);
    uint64_t m = min_inflight(w, q);
    walk(w, m);
    uint64_t want = want_own != 0 ? want_own : atomic_load(&w->requested);
    /* Wanted and not yet in any issued flush (last_rec_end covers those):
     * otherwise the flusher only has to wait for completions, in the kernel. */
    bool need = want > atomic_load(&w->durable) && want > w->last_rec_end;
    bool stopping = w->stopping;
    if ((need && want <= w->walk_pos) || (stopping && w->walk_pos == q && w->flushed < q)) {
        if (w->walk_pos % w->block_bytes != 0) {
            if (w->walk_pos != q || !try_pad(w, q)) {
                uint64_t full = w->walk_pos / w->block_bytes * w->block_bytes;
                if (full > w->flushed) {
                    issue_to(w, full);
                    return STEP_PROGRESS;
                }
                return STEP_SPIN;
            }
        }
        if (w->walk_pos > w->flushed) {
            issue_to(w, w->walk_pos);
            return STEP_PROGRESS;
        }
        return STEP_SPIN;
    }
    uint64_t full = w->walk_pos / w->block_bytes * w->block_bytes;
    bool pressure = atomic_load(&w->space_waiters) > 0 || full - w->flushed >= w->piece_bytes;
    if (pressure && full > w->flushed) {
        issue_to(w, full);
        return STEP_PROGRESS;
    }
    /* Someone waits for ring space or durability: keep going, do not sleep. */
    bool waiting = need || atomic_load(&w->space_waiters) > 0;
    return waiting || (stopping && w->walk_pos < q) ? STEP_SPIN : STEP_IDLE;
}

/* Durability someone asked for and nobody is flushing for: a leading
 * appender serves itself, and hands the rest to the flusher on release. */
static bool sync_work(struct regio_wal *w)
{
    return atomic_load(&w->requested) > atomic_load(&w->durable) && !atomic_load(&w->leader);
}

static bool has_work(struct regio_wal *w)
{
    return w->call != NULL || w->stopping || sync_work(w) || atomic_load(&w->space_waiters) > 0;
}

#define FLUSHER_POLL_NS 50000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static bool poll_for_work(struct regio_wal *w)
{
    int64_t until = regio__now_ns() + w->poll_ns;
    do {
        if (sync_work(w) || atomic_load(&w->space_waiters) > 0 || atomic_load(&w->stopping))
            return true;
        cpu_relax();
    } while (regio__now_ns() < until);
    return false;
}

/* Runs with flush_mu held, so that no appender flushes while a test holds
 * the flusher in a call or records and arms faults. */
static void run_engine_call(struct regio_wal *w)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu));
    regio__lock(&w->mu);
    struct regio__wal_call *c = w->call;
    if (c != NULL) {
        w->call = NULL;
        /* The call runs unlocked: it may take long, and appenders need mu. */
        regio__unlock(&w->mu);
        int res = c->fn(w->engine, c->arg);
        regio__lock(&w->mu);
        c->res = res;
        c->done = true;
        pthread_cond_broadcast(&w->done_cond);
    }
    regio__unlock(&w->mu);
}

/* The flusher sleeps until there is work (with a 10 ms bound), then takes
 * flush_mu only if it is free. It never blocks on flush_mu: a leading
 * appender holds it for every one of its syncs, and a flusher queued on the
 * mutex was woken by each release (a futex wake and a context switch per
 * commit, measured in docs/decisions.md). A leader that leaves work behind
 * wakes the flusher after letting go (lead_flush). */
static void flusher_reacquire(struct regio_wal *w)
{
    /* Not fl_count == 0 here: fl_count is flush_mu's, and an appender may
     * lead a flush the moment the flusher has let go (flusher_main asserts
     * it before letting go). */
    REGIO_ASSERT(!regio__lock_held(&w->flush_mu));
    for (;;) {
        /* A lone appender comes back with its next sync within a few
         * microseconds of being acknowledged: poll briefly before sleeping,
         * which saves a wake-up on its commit path. */
        if (poll_for_work(w) && regio__lock_try(&w->flush_mu))
            return;
        /* The flag goes up before the check for work: a sync caller stores
         * its request before it reads the flag (see regio_wal_sync). */
        regio__lock(&w->mu);
        atomic_store(&w->flusher_idle, true);
        if (!has_work(w)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            regio__lock_timedwait(&w->work_cond, &w->mu, &ts);
        }
        atomic_store(&w->flusher_idle, false);
        regio__unlock(&w->mu);
        if (regio__lock_try(&w->flush_mu))
            return;
        /* Someone leads: yield so that a sync caller between its trylock
         * and its leader flag does not meet a spinning flusher. */
        sched_yield();
    }
}

static void *flusher_main(void *arg)
{
    struct regio_wal *w = arg;
    /* Shared mode: an appender holding flush_mu issues and reaps too. */
    struct regio_engine_opts eo = {.queue_depth = 64, .shared = true};
    int err = regio_engine_create(w->arena, w->slab, &eo, &w->engine);
    REGIO_ASSERT(err != 0 || w->engine != NULL);
    regio__lock(&w->mu);
    w->engine_err = err;
    w->engine_ready = true;
    pthread_cond_broadcast(&w->done_cond);
    regio__unlock(&w->mu);
    if (err != 0)
        return NULL;
    regio__lock(&w->flush_mu);
    for (;;) {
        run_engine_call(w);
        enum step s = flusher_step(w, 0);
        bool done = w->stopping && w->fl_count == 0 &&
                    (atomic_load(&w->failed) != 0 || (w->flushed >= atomic_load(&w->insert_pos) &&
                                                      w->walk_pos >= atomic_load(&w->insert_pos)));
        if (done)
            break;
        if (w->fl_count > 0) {
            /* Block in the kernel for a completion; re-check soon when an
             * insertion was about to finish (SPIN), at once after progress. */
            regio__engine_wait(w->engine, 1,
                               s == STEP_PROGRESS ? 0
                               : s == STEP_SPIN   ? 20000
                                                  : 200000);
            continue;
        }
        if (s == STEP_SPIN) {
            sched_yield();
            continue;
        }
        if (s == STEP_PROGRESS)
            continue;
        /* Nothing in flight and nothing to do: let a lone appender lead its
         * own flush while the flusher polls or sleeps. flush_mu is given up
         * only with nothing in flight (a leader starts at fl_count == 0). */
        REGIO_ASSERT(w->fl_count == 0);
        regio__unlock(&w->flush_mu);
        flusher_reacquire(w);
    }
    regio_engine_drain(w->engine, -1);
    /* Segment files close below: no write may still use one. */
    REGIO_ASSERT(regio_engine_in_flight(w->engine) == 0 && w->fl_count == 0);
    for (uint32_t i = 0; i < w->seg_table_len; i++)
        if (w->segs[i].file != NULL) {
            regio_file_close(w->segs[i].file);
            w->segs[i].file = NULL;
        }
    /* Engine calls asked for during shutdown still get an answer. */
    run_engine_call(w);
    regio_engine_destroy(w->engine);
    w->engine = NULL;
    regio__unlock(&w->flush_mu);
    return NULL;
}

int regio__wal_engine_call(struct regio_wal *w, int (*fn)(struct regio_engine *, void *), void *arg)
{
    struct regio__wal_call c = {.fn = fn, .arg = arg};
    /* The flusher runs it holding flush_mu: a caller holding it would wait
     * for ever. */
    REGIO_ASSERT(!regio__lock_held(&w->flush_mu));
    regio__lock(&w->mu);
    while (w->call != NULL)
        regio__lock_wait(&w->done_cond, &w->mu);
    w->call = &c;
    pthread_cond_signal(&w->work_cond);
    while (!c.done)
        regio__lock_wait(&w->done_cond, &w->mu);
    regio__unlock(&w->mu);
    return c.res;
}

struct regio_engine *regio__wal_engine(struct regio_wal *w)
{
    REGIO_ASSERT(w->threads_started); /* the flusher's engine lives while it runs */
    return w->engine;
}

/* ---- Sync waiters ----------------------------------------------------------- */

/* Signal the flusher thread if it sleeps (mu only then). */
static void wake_flusher(struct regio_wal *w)
{
    REGIO_ASSERT(!regio__lock_held(&w->mu));
    if (!atomic_load(&w->flusher_idle))
        return;
    regio__lock(&w->mu);
    if (atomic_load(&w->flusher_idle))
        pthread_cond_signal(&w->work_cond);
    regio__unlock(&w->mu);
}

/*
 * The caller holds flush_mu with nothing in flight: flush for lsn on this
 * thread and wait for it in the kernel, so a lone appender's commit involves
 * no other thread (measured in docs/decisions.md). Ends with nothing in
 * flight (completions are reaped by the thread that submitted them) and
 * hands whatever others asked for meanwhile to the flusher thread.
 */
static void lead_flush(struct regio_wal *w, uint64_t lsn)
{
    REGIO_ASSERT(regio__lock_held(&w->flush_mu) && w->fl_count == 0);
    atomic_store(&w->leader, true);
    for (;;) {
        enum step s = flusher_step(w, lsn + 1);
        if (w->fl_count > 0) {
            regio__engine_wait(w->engine, 1, s == STEP_SPIN ? 20000 : -1);
            continue;
        }
        if (atomic_load(&w->durable) > lsn || atomic_load(&w->failed) != 0)
            break;
        if (s == STEP_SPIN)
            sched_yield(); /* an earlier record's copy is finishing */
        else if (s != STEP_PROGRESS)
            break; /* nothing this thread can flush; the flusher takes over */
    }
    atomic_store(&w->leader, false);
    REGIO_ASSERT(w->fl_count == 0); /* flush_mu is given up with nothing in flight */
    regio__unlock(&w->flush_mu);
    if (has_work(w))
        wake_flusher(w);
}

/* Sleep until the flush expected to cover lsn is acknowledged (or 1 ms, a
 * bound for the case that it did not cover lsn after all). */
static void wait_ack(struct regio_wal *w, uint64_t lsn)
{
    uint64_t seq = atomic_load(&w->issue_seq);
    if (lsn >= atomic_load(&w->issued_end))
        seq++; /* not in any issued flush: the next one */
    _Atomic uint32_t *b = w->ack_words[seq % REGIO__WAL_ACK_BUCKETS];
    atomic_fetch_add(&b[1], 1);
    REGIO_ASSERT(!regio__lock_held(&w->flush_mu)); /* its holder is who would wake us */
    uint32_t v = atomic_load(&b[0]);
    if (atomic_load(&w->acked_seq) < seq && atomic_load(&w->durable) <= lsn &&
        atomic_load(&w->failed) == 0)
        futex_wait(&b[0], v, 1000000);
    atomic_fetch_sub(&b[1], 1);
}

int regio_wal_sync(struct regio_wal *w, uint64_t lsn)
{
    regio__clear_detail();
    if (w == NULL) {
        regio__set_detail("wal: sync of a NULL log");
        return -EINVAL;
    }
    int err = atomic_load(&w->failed);
    if (err != 0)
        return failed_error(err);
    if (lsn >= atomic_load(&w->insert_pos)) {
        regio__set_detail("wal: sync of LSN %llu, not below the appended end %llu",
                          (unsigned long long)lsn, (unsigned long long)atomic_load(&w->insert_pos));
        return -EINVAL;
    }
    if (atomic_load(&w->durable) > lsn)
        return 0;
    /* Lead when nobody is flushing: no hand-off to the flusher thread. */
    if (regio__lock_try(&w->flush_mu))
        lead_flush(w, lsn);
    if (atomic_load(&w->durable) <= lsn && atomic_load(&w->failed) == 0) {
        atomic_max(&w->requested, lsn + 1);
        /* The holder of flush_mu, if any, sees the request; else the
         * flusher may be asleep. It sets flusher_idle before it checks for
         * work, and we stored the request before reading the flag, so one
         * of us sees the other (both sequentially consistent). */
        wake_flusher(w);
        while (atomic_load(&w->durable) <= lsn && atomic_load(&w->failed) == 0) {
            wait_ack(w, lsn);
            /* Woken unsatisfied: whoever flushed has let go, or the wait
             * timed out; lead if nobody else does. */
            if (atomic_load(&w->durable) <= lsn && regio__lock_try(&w->flush_mu))
                lead_flush(w, lsn);
        }
    }
    return atomic_load(&w->durable) > lsn ? 0 : failed_error(atomic_load(&w->failed));
}

/* Insert a into the pending list, in LSN order, under async_mu. Records come in
 * LSN order from one thread and nearly so from many, so the place is found
 * from the tail: a walk from the head cost one step per pending callback,
 * and with thousands in flight per thread it made pipelined commits slower
 * with every thread added (docs/performance.md, walpipe). */
static void async_insert(struct regio_wal *w, struct regio__wal_async *a)
{
    REGIO_ASSERT(regio__lock_held(&w->async_mu));
    struct regio__wal_async *p = w->async_tail;
    while (p != NULL && p->lsn > a->lsn) {
        p = p->prev;
        w->async_insert_steps++;
    }
    a->prev = p;
    a->next = p != NULL ? p->next : w->async_head;
    if (a->next != NULL)
        a->next->prev = a;
    else
        w->async_tail = a;
    if (p != NULL)
        p->next = a;
    else
        w->async_head = a;
    /* In LSN order: async_take_due detaches the durable prefix. */
    REGIO_ASSERT(a->prev == NULL || a->prev->lsn <= a->lsn);
}

/*
 * A node for one callback, under async_mu: a spare one when the callback
 * thread has returned any, else NULL. A malloc per record, freed by the
 * callback thread, made the appenders and the callback thread take the
 * allocator's arena locks against each other for every record: with 4
 * appenders of pipelined 4 KiB records the callback thread spent most of
 * its time blocked in free (docs/decisions.md). Spares cost no lock of
 * their own: notify_durable holds async_mu anyway, and cb_main returns a
 * whole batch in one splice when it retakes async_mu.
 */
static struct regio__wal_async *async_node_take(struct regio_wal *w)
{
    REGIO_ASSERT(regio__lock_held(&w->async_mu));
    struct regio__wal_async *a = w->async_spare;
    if (a == NULL)
        return NULL;
    REGIO_ASSERT(w->async_spare_count > 0);
    w->async_spare = a->next;
    w->async_spare_count--;
    return a;
}

int regio_wal_notify_durable(struct regio_wal *w, uint64_t lsn, regio_cb cb, void *ctx)
{
    regio__clear_detail();
    if (w == NULL || cb == NULL || lsn >= atomic_load(&w->insert_pos)) {
        regio__set_detail("wal: notify needs a log, a callback and an LSN below the appended end");
        return -EINVAL;
    }
    int err = atomic_load(&w->failed);
    if (err != 0)
        return failed_error(err);
    atomic_max(&w->requested, lsn + 1);
    REGIO_ASSERT(!regio__lock_held(&w->async_mu) && !regio__lock_held(&w->mu));
    regio__lock(&w->async_mu);
    struct regio__wal_async *a = async_node_take(w);
    if (a == NULL) {
        /* Not under the lock: the allocator may take its own or fault. */
        regio__unlock(&w->async_mu);
        a = malloc(sizeof(*a));
        if (a == NULL) {
            regio__set_detail("wal: no memory for a callback node");
            return -ENOMEM;
        }
        regio__lock(&w->async_mu);
    }
    a->lsn = lsn;
    a->cb = cb;
    a->ctx = ctx;
    async_insert(w, a);
    atomic_fetch_add(&w->async_count, 1);
    /* Wake the callback thread only for a record already durable: for the
     * others the flush that makes them durable wakes it (complete_flushes
     * reads async_count after publishing the durable LSN, and we counted
     * before reading it, so one of the two sees the other). A wake-up per
     * call made the callback thread run, find nothing, and sleep again for
     * every record. */
    if (lsn < atomic_load(&w->durable) || atomic_load(&w->failed) != 0)
        pthread_cond_signal(&w->cb_cond);
    regio__unlock(&w->async_mu);
    /* The request was stored before: a flusher going idle sees it. */
    wake_flusher(w);
    return 0;
}

static void async_free_chain(struct regio__wal_async *a)
{
    while (a != NULL) {
        struct regio__wal_async *next = a->next;
        free(a);
        a = next;
    }
}

/* Keep the answered nodes first..last (n, linked by next) as spares, under
 * async_mu, unless that takes the spares past async_spare_max: then returns
 * the whole chain, to free after letting go of the lock (else NULL). A batch
 * is kept or freed whole, so that no step walks it under the lock. */
static struct regio__wal_async *async_node_return(struct regio_wal *w,
                                                  struct regio__wal_async *first,
                                                  struct regio__wal_async *last, uint32_t n)
{
    REGIO_ASSERT(regio__lock_held(&w->async_mu));
    REGIO_ASSERT(first != NULL && last != NULL && last->next == NULL && n > 0);
    if (w->async_spare_count >= w->async_spare_max || n > w->async_spare_max - w->async_spare_count)
        return first;
    last->next = w->async_spare;
    w->async_spare = first;
    w->async_spare_count += n;
    REGIO_ASSERT(w->async_spare_count <= w->async_spare_max);
    return NULL;
}

/* Detach, under async_mu, the callbacks that are due: the durable prefix, or all
 * of them once the log has failed. Returns the first (NULL: none). */
static struct regio__wal_async *async_take_due(struct regio_wal *w, int failed)
{
    REGIO_ASSERT(regio__lock_held(&w->async_mu));
    uint64_t durable = atomic_load(&w->durable);
    struct regio__wal_async *first = w->async_head, *last = NULL;
    uint32_t n = 0;
    for (struct regio__wal_async *a = first; a != NULL && (a->lsn < durable || failed != 0);
         a = a->next) {
        last = a;
        n++;
    }
    if (last == NULL)
        return NULL;
    w->async_head = last->next;
    if (w->async_head != NULL)
        w->async_head->prev = NULL;
    else
        w->async_tail = NULL;
    last->next = NULL;
    atomic_fetch_sub(&w->async_count, n);
    REGIO_ASSERT(n > 0 && (w->async_head == NULL || w->async_head->lsn >= first->lsn));
    return first;
}

/* Runs async callbacks in LSN order, never inside the call that registered
 * them, and never on the flusher (a callback may append and wait for ring
 * space, which only the flusher frees). All callbacks that are due run in
 * one batch outside async_mu: one lock round trip per flush, not per record. */
static void *cb_main(void *arg)
{
    struct regio_wal *w = arg;
    regio__lock(&w->async_mu);
    for (;;) {
        int failed = atomic_load(&w->failed);
        struct regio__wal_async *a = async_take_due(w, failed);
        if (a != NULL) {
            regio__unlock(&w->async_mu);
            uint64_t durable = atomic_load(&w->durable);
            struct regio__wal_async *first = a, *last = NULL;
            uint32_t n = 0;
            while (a != NULL) {
                struct regio__wal_async *next = a->next;
                /* Taken as due against an earlier (never larger) durable. */
                REGIO_ASSERT(a->lsn < durable || failed != 0);
                a->cb(a->ctx, a->lsn < durable ? 0 : failed);
                last = a;
                n++;
                a = next;
            }
            regio__lock(&w->async_mu);
            struct regio__wal_async *spill = async_node_return(w, first, last, n);
            if (spill != NULL) {
                regio__unlock(&w->async_mu);
                async_free_chain(spill);
                regio__lock(&w->async_mu);
            }
            continue;
        }
        if (w->cb_stop && w->async_head == NULL)
            break;
        regio__lock_wait(&w->cb_cond, &w->async_mu);
    }
    regio__unlock(&w->async_mu);
    return NULL;
}

/* Keeps spare_segments segments prepared past the newest in use. */
static void *prep_main(void *arg)
{
    struct regio_wal *w = arg;
    regio__lock(&w->mu);
    for (;;) {
        uint64_t target = atomic_load(&w->max_seg_seen) + w->opts.spare_segments;
        if (w->prep_stop || atomic_load(&w->failed) != 0)
            break;
        if (w->next_prep > target) {
            regio__lock_wait(&w->prep_cond, &w->mu);
            continue;
        }
        uint64_t segno = w->next_prep;
        regio__unlock(&w->mu);
        int err = regio__wal_prepare_segment(w, segno);
        regio__lock(&w->mu);
        if (err == -ECANCELED && atomic_load(&w->stopping))
            break; /* closing: the spare is abandoned, not failed */
        if (err != 0) {
            w->prep_err = err;
            regio__unlock(&w->mu);
            wal_fail(w, err);
            regio__lock(&w->mu);
            break;
        }
        /* Only this thread moves next_prep once the threads run. */
        REGIO_ASSERT(w->next_prep == segno);
        w->next_prep = segno + 1;
        atomic_fetch_add(&w->segments_used, 1);
        pthread_cond_broadcast(&w->done_cond);
    }
    regio__unlock(&w->mu);
    return NULL;
}

/* ---- Checkpoint, truncation, stats ------------------------------------------ */

/*
 * A checkpoint is where replay starts after a crash, so it must survive
 * the crash: durable (a record not yet durable may be cut by recovery),
 * and a place a reader can open at (a record's start, or the durable end,
 * where the next record goes). 0 clears it.
 */
static int checkpoint_ok(struct regio_wal *w, uint64_t lsn)
{
    uint64_t durable = atomic_load(&w->durable);
    REGIO_ASSERT(durable <= atomic_load(&w->insert_pos)); /* read later, it only grew */
    if (lsn > durable) {
        regio__set_detail("wal: checkpoint LSN %llu is not durable yet (durable up to %llu): "
                          "sync its record first",
                          (unsigned long long)lsn, (unsigned long long)durable);
        return -EINVAL;
    }
    if (lsn == 0 || lsn == durable)
        return 0;
    int err = regio__wal_check_position(w->dir_fd, lsn);
    if (err != 0) {
        char why[400];
        snprintf(why, sizeof(why), "%s", regio_error_detail());
        regio__set_detail("wal: checkpoint LSN %llu refused: %s", (unsigned long long)lsn, why);
    }
    return err;
}

int regio_wal_set_checkpoint(struct regio_wal *w, uint64_t lsn)
{
    regio__clear_detail();
    if (w == NULL || lsn > atomic_load(&w->insert_pos)) {
        regio__set_detail("wal: checkpoint needs a log and an LSN at most the appended end");
        return -EINVAL;
    }
    int err = atomic_load(&w->failed);
    if (err != 0)
        return failed_error(err);
    err = checkpoint_ok(w, lsn);
    if (err != 0)
        return err;
    REGIO_ASSERT(!regio__lock_held(&w->ctl_mu)); /* not recursive */
    regio__lock(&w->ctl_mu);
    struct regio__wal_ctl_info c = w->ctl;
    c.checkpoint_lsn = lsn;
    err = regio__wal_write_control(w, &c);
    if (err == 0) {
        w->ctl = c;
        atomic_store(&w->epoch_pending, false); /* it carries this open's epoch */
    }
    REGIO_ASSERT(err != 0 || w->ctl.checkpoint_lsn == lsn);
    regio__unlock(&w->ctl_mu);
    return err;
}

uint64_t regio_wal_durable_lsn(const struct regio_wal *w)
{
    return w == NULL ? 0 : atomic_load(&((struct regio_wal *)w)->durable);
}

int regio_wal_truncate_before(struct regio_wal *w, uint64_t lsn)
{
    regio__clear_detail();
    if (w == NULL) {
        regio__set_detail(
            "regio_wal_truncate_before: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    int err = atomic_load(&w->failed);
    if (err != 0)
        return err;
    uint64_t limit = lsn, durable = atomic_load(&w->durable);
    REGIO_ASSERT(!regio__lock_held(&w->ctl_mu)); /* not recursive */
    regio__lock(&w->ctl_mu);
    if (w->ctl.checkpoint_lsn != 0 && w->ctl.checkpoint_lsn < limit)
        limit = w->ctl.checkpoint_lsn;
    regio__unlock(&w->ctl_mu);
    regio__lock(&w->mu);
    for (struct regio__wal_pin *p = w->pins; p != NULL; p = p->next)
        if (p->lsn < limit)
            limit = p->lsn;
    int count = 0;
    while ((w->first_segno + 1) * w->seg_bytes <= limit &&
           w->first_segno < regio__wal_seg(w, durable)) {
        REGIO_ASSERT(w->first_segno < w->next_prep); /* never one not prepared yet */
        err = regio__wal_recycle_segment(w, w->first_segno);
        if (err != 0)
            break;
        w->first_segno++;
        count++;
    }
    /* The durable end's segment stays: live readers open at or below it. */
    REGIO_ASSERT(w->first_segno <= regio__wal_seg(w, durable));
    regio__unlock(&w->mu);
    return err != 0 ? err : count;
}

int regio_wal_stats(const struct regio_wal *cw, struct regio_wal_stats *out)
{
    if (cw == NULL || out == NULL) {
        regio__set_detail("regio_wal_stats: NULL log or out pointer");
        return -EINVAL;
    }
    struct regio_wal *w = (struct regio_wal *)cw;
    memset(out, 0, sizeof(*out));
    /* durable first: read after it, the appended end is at least as far. */
    out->durable_lsn = atomic_load(&w->durable);
    out->appended_lsn = atomic_load(&w->insert_pos);
    REGIO_ASSERT(out->durable_lsn <= out->appended_lsn);
    out->records = atomic_load(&w->records);
    out->syncs = atomic_load(&w->syncs);
    out->records_synced = atomic_load(&w->records_synced);
    out->bytes_written = atomic_load(&w->bytes_written);
    out->bytes_padded = atomic_load(&w->bytes_padded);
    out->segments_used = atomic_load(&w->segments_used);
    out->segments_zero_filled = atomic_load(&w->segments_zero_filled);
    out->block_bytes = w->block_bytes;
    out->failed = atomic_load(&w->failed);
    out->sync_method = w->sync_method;
    out->sync_probe_dsync_ns = w->probe_dsync_ns;
    out->sync_probe_fdatasync_ns = w->probe_fdatasync_ns;
    out->volatile_storage = w->volatile_storage;
    return 0;
}

/* ---- Open and close ------------------------------------------------------------ */

void regio__wal_stats_section(struct regio_stats_wal *s, const struct regio_wal_stats *st)
{
    REGIO_ASSERT(st->durable_lsn <= st->appended_lsn); /* regio_wal_stats reads them in order */
    s->block_bytes = st->block_bytes;
    s->failed = st->failed;
    s->appended_lsn = st->appended_lsn;
    s->durable_lsn = st->durable_lsn;
    s->records = st->records;
    s->syncs = st->syncs;
    s->records_synced = st->records_synced;
    s->bytes_written = st->bytes_written;
    s->bytes_padded = st->bytes_padded;
    s->segments_used = st->segments_used;
    s->segments_zero_filled = st->segments_zero_filled;
}

/* Live stats: the arena's publisher thread calls this about every 100 ms. */
static void wal_stats_fill(void *ctx, void *section)
{
    struct regio_wal_stats st;
    regio_wal_stats(ctx, &st);
    regio__wal_stats_section(section, &st);
}

static int make_memory(struct regio_wal *w)
{
    int err = 0;
    if (w->opts.arena != NULL) {
        w->arena = w->opts.arena;
    } else {
        struct regio_arena_opts ao = {
            .size_bytes =
                regio__wal_round_up(w->ring_bytes, REGIO_CHUNK_BYTES) + 2 * REGIO_CHUNK_BYTES,
            .stats_name = w->opts.stats_name,
        };
        err = regio_arena_create(&ao, &w->arena);
        if (err != 0)
            return err;
        w->own_arena = true;
    }
    static const size_t one_class[] = {4096};
    struct regio_pool_opts po = {.buf_bytes = w->piece_bytes, .count = REGIO__WAL_PIECES};
    struct regio_slab_opts so = {
        .class_bytes = one_class, .class_count = 1, .pools = &po, .pool_count = 1};
    err = regio_slab_create(w->arena, &so, &w->slab);
    if (err != 0)
        return err;
    REGIO_ASSERT(w->piece_bytes % 4096 == 0 && w->ring_bytes == REGIO__WAL_PIECES * w->piece_bytes);
    /* A publishing failure is not an error for the log (see stats_internal.h). */
    w->stats_handle = regio__stats_attach(w->arena, REGIO_STATS_WAL, w->dir, wal_stats_fill, w);
    for (uint32_t i = 0; i < REGIO__WAL_PIECES; i++) {
        err = regio_slab_alloc_pool(w->slab, 0, 0, &w->pieces[i]);
        if (err != 0)
            return err;
        /* ring_at maps an LSN to a piece assuming each is exactly this long. */
        REGIO_ASSERT(w->pieces[i].cap_bytes == w->piece_bytes);
        memset(w->pieces[i].data, 0, w->piece_bytes);
    }
    return 0;
}

static void free_memory(struct regio_wal *w)
{
    REGIO_ASSERT(!w->threads_started); /* the flusher writes from the pieces */
    if (w->arena != NULL)
        regio__stats_detach(w->arena, w->stats_handle);
    for (uint32_t i = 0; i < REGIO__WAL_PIECES; i++)
        if (w->pieces[i].data != NULL)
            regio_slab_free(w->slab, w->pieces[i]);
    if (w->slab != NULL)
        regio_slab_destroy(w->slab);
    if (w->own_arena)
        regio_arena_destroy(w->arena);
}

static void stop_threads(struct regio_wal *w)
{
    if (!w->threads_started)
        return;
    /* The flusher needs flush_mu to exit, the others mu: joining them while
     * holding either would wait for ever. */
    REGIO_ASSERT(!regio__lock_held(&w->flush_mu) && !regio__lock_held(&w->mu));
    regio__lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->work_cond);
    regio__unlock(&w->mu);
    /* Joined, or the thread would run on w after it is freed. */
    int rc = pthread_join(w->flusher, NULL);
    REGIO_ASSERT(rc == 0);
    REGIO_ASSERT(w->engine == NULL); /* the flusher destroyed it on its way out */
    regio__lock(&w->async_mu);
    w->cb_stop = true;
    /* Whatever was never made durable is answered with the failure, or
     * with -ECANCELED when the log closes without one. */
    if (atomic_load(&w->failed) == 0 && w->async_head != NULL) {
        int expect = 0;
        atomic_compare_exchange_strong(&w->failed, &expect, -ECANCELED);
    }
    pthread_cond_broadcast(&w->cb_cond);
    regio__unlock(&w->async_mu);
    regio__lock(&w->mu);
    w->prep_stop = true;
    pthread_cond_broadcast(&w->prep_cond);
    regio__unlock(&w->mu);
    rc = pthread_join(w->cbthread, NULL);
    REGIO_ASSERT(rc == 0);
    rc = pthread_join(w->prepper, NULL);
    REGIO_ASSERT(rc == 0);
    w->threads_started = false;
}

static void destroy(struct regio_wal *w)
{
    /* A reader's pin points into w (close refuses while one is live). */
    REGIO_ASSERT(w->pins == NULL && atomic_load(&w->bound_pagers) == 0);
    stop_threads(w);
    /* The callback thread answered every node before it stopped. */
    REGIO_ASSERT(w->async_head == NULL);
    async_free_chain(w->async_spare);
    w->async_spare = NULL;
    free_memory(w);
    free(w->segs);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    if (w->dir_lock_fd >= 0)
        close(w->dir_lock_fd);
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    regio__lock_destroy(&w->mu);
    regio__lock_destroy(&w->async_mu);
    regio__lock_destroy(&w->ctl_mu);
    regio__lock_destroy(&w->flush_mu);
    pthread_cond_destroy(&w->work_cond);
    pthread_cond_destroy(&w->done_cond);
    pthread_cond_destroy(&w->cb_cond);
    pthread_cond_destroy(&w->prep_cond);
    free(w->dir);
    free(w);
}

static void init_segments(struct regio_wal *w)
{
    uint64_t pos = atomic_load(&w->insert_pos);
    atomic_store(&w->durable, pos);
    atomic_store(&w->released, pos);
    w->flushed = pos;
    w->walk_pos = pos;
    w->last_rec_end = pos;
    /* A slack of 1/16 of the ring between what appenders may reserve and
     * what the ring holds lets zero_ahead clear bytes before they are
     * reserved (none when the ring is too small to spare a block). */
    uint64_t slack = w->ring_bytes / 16 / w->block_bytes * w->block_bytes;
    w->full_limit_bytes = w->ring_bytes - slack;
    atomic_store(&w->limit_bytes, w->full_limit_bytes);
    REGIO_ASSERT(w->full_limit_bytes > 0 && w->full_limit_bytes % w->block_bytes == 0);
    w->narrow_seg = UINT64_MAX;
    w->next_prep = regio__wal_seg(w, pos);
    if (w->has_end_si) {
        struct regio__wal_segslot *ss = &w->segs[w->end_si.segment_no % w->seg_table_len];
        ss->salt = w->end_si.salt;
        ss->window_bytes = w->end_si.window_bytes;
        atomic_store(&ss->ready, w->end_si.segment_no + 1);
        if (w->end_si.window_bytes < w->full_limit_bytes) {
            /* Written by an open with a smaller ring: its window bounds what
             * may be in flight while the log writes in this segment. */
            atomic_store(&w->limit_bytes, w->end_si.window_bytes);
            w->narrow_seg = w->end_si.segment_no;
        }
        w->next_prep = w->end_si.segment_no + 1;
    }
    atomic_store(&w->max_seg_seen, regio__wal_seg(w, pos));
    /* make_memory clears the whole ring, and nothing is in flight yet. */
    w->zero_lo = pos;
    w->zero_hi = pos + w->ring_bytes;
    for (uint32_t i = 0; i < REGIO__WAL_SLOTS; i++)
        atomic_store(&w->slots[i][0], REGIO__WAL_SLOT_FREE);
    /* The preparer never prepares again a segment the log writes in now. */
    REGIO_ASSERT(w->next_prep >= regio__wal_seg(w, pos));
}

static int start_threads(struct regio_wal *w)
{
    REGIO_ASSERT(!w->threads_started && w->engine == NULL); /* the flusher creates it */
    if (pthread_create(&w->flusher, NULL, flusher_main, w) != 0)
        return -ENOMEM;
    regio__lock(&w->mu);
    while (!w->engine_ready)
        regio__lock_wait(&w->done_cond, &w->mu);
    regio__unlock(&w->mu);
    if (w->engine_err != 0) {
        pthread_join(w->flusher, NULL);
        return w->engine_err;
    }
    bool cb_ok = pthread_create(&w->cbthread, NULL, cb_main, w) == 0;
    bool prep_ok = cb_ok && pthread_create(&w->prepper, NULL, prep_main, w) == 0;
    w->threads_started = true;
    if (!prep_ok) {
        /* Unwind with the threads that did start. */
        regio__lock(&w->mu);
        w->stopping = true;
        pthread_cond_broadcast(&w->work_cond);
        regio__unlock(&w->mu);
        regio__lock(&w->async_mu);
        w->cb_stop = true;
        pthread_cond_broadcast(&w->cb_cond);
        regio__unlock(&w->async_mu);
        pthread_join(w->flusher, NULL);
        if (cb_ok)
            pthread_join(w->cbthread, NULL);
        w->threads_started = false;
        return -ENOMEM;
    }
    return 0;
}

/* Bounds on caller sizes, checked before any arithmetic uses them: the ring
 * is REGIO__WAL_PIECES buffers of buffer_bytes, each in one arena region, and
 * every spare segment is a whole file on disk, so an unbounded count would
 * fill the disk and the segment table (docs/reliability.md). */
static int check_opts(const struct regio_wal_opts *o)
{
    if (o->buffer_bytes > REGIO_WAL_MAX_BUFFER_BYTES) {
        regio__set_detail("wal: buffer_bytes %zu above %zu", o->buffer_bytes,
                          (size_t)REGIO_WAL_MAX_BUFFER_BYTES);
        return -EINVAL;
    }
    if (o->segment_bytes > REGIO_WAL_MAX_SEGMENT_BYTES) {
        regio__set_detail("wal: segment_bytes %zu above %llu", o->segment_bytes,
                          (unsigned long long)REGIO_WAL_MAX_SEGMENT_BYTES);
        return -EINVAL;
    }
    if (o->spare_segments > REGIO_WAL_MAX_SPARE_SEGMENTS) {
        regio__set_detail("wal: spare_segments %u above %u", o->spare_segments,
                          (unsigned)REGIO_WAL_MAX_SPARE_SEGMENTS);
        return -EINVAL;
    }
    if ((unsigned)o->sync_method > REGIO_WAL_SYNC_AUTO) {
        regio__set_detail("wal: unknown sync_method %d", (int)o->sync_method);
        return -EINVAL;
    }
    if (o->max_flushes > REGIO_WAL_MAX_FLUSHES) {
        regio__set_detail("wal: max_flushes %u above %u", o->max_flushes,
                          (unsigned)REGIO_WAL_MAX_FLUSHES);
        return -EINVAL;
    }
    if ((unsigned)o->recovery > REGIO_WAL_RECOVER_SALVAGE) {
        regio__set_detail("wal: unknown recovery mode %d", (int)o->recovery);
        return -EINVAL;
    }
    if (o->buffer_bytes % 4096 != 0) {
        regio__set_detail("wal: buffer_bytes %zu is not a multiple of 4096", o->buffer_bytes);
        return -EINVAL;
    }
    return 0;
}

/* An open with create that fails leaves nothing behind that it made: the
 * lock file it created (removed while the log's locks are still held, so
 * no other opener can be holding it) and the directory, if open made it
 * and it is empty again. A directory that existed keeps everything else. */
static void undo_create(struct regio_wal *w, bool made_dir)
{
    if (w->dir_fd >= 0 && w->fresh_log)
        (void)unlinkat(w->dir_fd, REGIO__WAL_LOCK_NAME, 0);
    if (made_dir) {
        REGIO_ASSERT(w->dir != NULL);
        char *path = strdup(w->dir);
        destroy(w);
        if (path != NULL)
            (void)rmdir(path);
        free(path);
        return;
    }
    destroy(w);
}

/* The tuning fields of w->opts (checked by check_opts), defaults filled
 * in: two flushes in flight, 50 us of polling (the
 * measurements are in docs/decisions.md). */
static void apply_tuning(struct regio_wal *w)
{
    const struct regio_wal_opts *o = &w->opts;
    w->max_flushes_in_flight = o->max_flushes != 0 ? o->max_flushes : 2;
    w->poll_ns = o->flusher_poll_ns != 0 ? o->flusher_poll_ns : FLUSHER_POLL_NS;
    REGIO_ASSERT(w->max_flushes_in_flight >= 1 &&
                 w->max_flushes_in_flight <= REGIO_WAL_MAX_FLUSHES);
}

/* A log on memory-backed storage acknowledges records that a reboot
 * loses: not refused (tests and scratch logs want it), but reported where
 * the embedder looks, in the recovery report and the stats. */
static void note_volatile(struct regio_wal *w, struct regio_wal_recovery *info)
{
    /* Appended to recovery's report, which is terminated. */
    REGIO_ASSERT(w->dir_fd >= 0 &&
                 strnlen(info->detail, sizeof(info->detail)) < sizeof(info->detail));
    struct statfs sf;
    if (fstatfs(w->dir_fd, &sf) != 0)
        return;
    w->volatile_storage = sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
    info->volatile_storage = w->volatile_storage;
    if (!w->volatile_storage)
        return;
    size_t used = strlen(info->detail);
    snprintf(info->detail + used, sizeof(info->detail) - used,
             "; on %s: the log does not survive a reboot",
             sf.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
}

int regio_wal_open(const char *dir, const struct regio_wal_opts *opts, struct regio_wal **out,
                   struct regio_wal_recovery *info_out)
{
    regio__clear_detail();
    if (dir == NULL || out == NULL) {
        regio__set_detail("wal: open needs a directory and an out pointer");
        return -EINVAL;
    }
    if (opts != NULL) {
        int err = check_opts(opts);
        if (err != 0)
            return err;
    }
    struct regio_wal *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        regio__set_detail("wal: out of memory");
        return -ENOMEM;
    }
    if (opts != NULL)
        w->opts = *opts;
    if (w->opts.spare_segments == 0)
        w->opts.spare_segments = 2;
    w->piece_bytes = w->opts.buffer_bytes ? w->opts.buffer_bytes : REGIO_MIB;
    w->ring_bytes = REGIO__WAL_PIECES * w->piece_bytes;
    apply_tuning(w);
    w->async_spare_max = REGIO__WAL_ASYNC_SPARE_MAX;
    w->lock_fd = -1;
    w->dir_lock_fd = -1;
    w->stats_handle = -1;
    regio__lock_init(&w->mu, false);
    regio__lock_init(&w->async_mu, false);
    regio__lock_init(&w->ctl_mu, false);
    regio__lock_init(&w->flush_mu, false);
    pthread_cond_init(&w->work_cond, NULL);
    pthread_cond_init(&w->done_cond, NULL);
    pthread_cond_init(&w->cb_cond, NULL);
    pthread_cond_init(&w->prep_cond, NULL);
    w->dir = strdup(dir);
    bool made_dir = w->opts.create && mkdir(dir, 0700) == 0;
    w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = w->dir == NULL ? -ENOMEM : w->dir_fd < 0 ? -errno : 0;
    struct regio_wal_recovery info;
    memset(&info, 0, sizeof(info));
    if (err == 0)
        err = regio__wal_recover(w, &info);
    /* After recovery, which holds the log's lock: no probe on a log that
     * is open elsewhere. */
    if (err == 0)
        regio__wal_choose_sync(w);
    if (err == 0)
        note_volatile(w, &info);
    if (err == 0) {
        w->seg_table_len = w->opts.spare_segments + 8;
        w->segs = calloc(w->seg_table_len, sizeof(*w->segs));
        err = w->segs == NULL ? -ENOMEM : 0;
        /* Spares and the segments in use never share a slot of the table. */
        REGIO_ASSERT(w->seg_table_len > w->opts.spare_segments + 2);
    }
    if (err == 0) {
        init_segments(w);
        err = make_memory(w);
    }
    if (err == 0 && w->fresh_log) {
        err = regio__wal_create_first_segment(w);
        if (err == 0) {
            w->next_prep = 1;
            atomic_fetch_add(&w->segments_used, 1);
        }
    }
    if (err == 0)
        err = start_threads(w);
    if (err != 0) {
        undo_create(w, made_dir);
        return err;
    }
    REGIO_ASSERT(w->threads_started && w->epoch != 0);
    if (info_out != NULL)
        *info_out = info;
    *out = w;
    return 0;
}

int regio_wal_close(struct regio_wal *w)
{
    regio__clear_detail();
    if (w == NULL) {
        regio__set_detail("regio_wal_close: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    /* A live reader points into the WAL; closing under it would leave the
     * reader with freed memory. Nothing is changed: close the readers and
     * call again. */
    REGIO_ASSERT(!regio__lock_held(&w->mu));
    regio__lock(&w->mu);
    bool readers = w->pins != NULL;
    regio__unlock(&w->mu);
    if (readers) {
        regio__set_detail("wal: live readers are still open; close them first");
        return -EBUSY;
    }
    /* A bound pager's gate points at w: freeing w under it would let the
     * pager's next write use freed memory. */
    unsigned bound = atomic_load(&w->bound_pagers);
    if (bound > 0) {
        regio__set_detail("wal: %u pager(s) still bound to this log; unbind (regio_pager_bind_wal "
                          "with NULL) or close them first",
                          bound);
        return -EBUSY;
    }
    int err = atomic_load(&w->failed);
    uint64_t close_lsn = 0;
    if (err == 0 && atomic_load(&w->epoch_pending) && atomic_load(&w->insert_pos) == w->opened_at) {
        /* Nothing appended since a clean close and the control file never
         * rewritten: the files are as that close left them, and say so.
         * Closing as usual would make an open that reads nothing pay the
         * epoch's control file (two fsyncs), a close record (a durable
         * write) and the clean control file (two fsyncs). */
        destroy(w);
        return 0;
    }
    if (err == 0) {
        err = append_common(w, REGIO__WAL_TYPE_CLOSE, NULL, 0, &close_lsn, NULL);
        if (err == 0)
            err = regio_wal_sync(w, close_lsn);
    }
    stop_threads(w);
    if (err == 0) {
        /* Clean means the close record is durable: recovery trusts it. */
        REGIO_ASSERT(atomic_load(&w->durable) > close_lsn && !w->threads_started);
        struct regio__wal_ctl_info c = w->ctl;
        c.flags |= REGIO__WAL_CTL_CLEAN;
        c.close_lsn = close_lsn;
        err = regio__wal_write_control(w, &c);
        if (err != 0)
            regio__set_detail("wal: writing the control file at close: %s", regio_strerror(err));
    } else if (regio_error_detail()[0] == '\0') {
        regio__set_detail("wal: closed a failed log (%s); it recovers at the next open",
                          regio_strerror(err));
    }
    /* destroy() frees the slab through public calls, each of which starts a
     * fresh detail: keep the one that says why the close failed. */
    char why[256];
    snprintf(why, sizeof(why), "%s", regio_error_detail());
    destroy(w);
    if (err != 0)
        regio__set_detail("%s", why);
    return err;
}
