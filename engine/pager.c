/*
 * engine/pager.c: a page file of fixed-size, checksummed pages over an
 * engine.
 *
 * Every page ends with a 32-byte trailer (format 2, docs/format.md): the
 * page LSN the caller stored, the pager's write sequence, XXH3-64 of all the
 * bytes before it seeded with the page number, then the page number, all
 * little-endian. Seeding with the page number and storing it means a page
 * written at the wrong offset fails verification even when its bytes are
 * intact. A read is verified in the pager's own completion, which then calls
 * the caller's callback.
 *
 * A page write passes through a gate before it reaches the ring: a pager
 * bound to a WAL (wal/wal_pager.c installs the gate, so this file never
 * calls up into the WAL) holds a write back, parked, until the log is
 * durable past the page's LSN. The notification hands it to the ring: at
 * once on a shared engine; on an owned engine, by the owner's next pager
 * call, since only the owner may touch the ring.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "engine_internal.h"
#include "hash_internal.h"
#include "regio/pager.h"

/*
 * The trailer of format 2. The checksum covers every byte before it
 * (payload, page LSN, write sequence), seeded with the page number mixed
 * with a format constant, so a page of format 1 (a 16-byte trailer: checksum
 * over the payload seeded with the bare page number) never verifies as
 * format 2 and is told apart instead of being read with the wrong layout.
 */
struct page_trailer {
    uint8_t lsn_le[8];      /* the caller's: LSN of the WAL record that last changed the page */
    uint8_t seq_le[8];      /* the pager's write sequence: orders doublewrite copies */
    uint8_t checksum_le[8]; /* XXH3-64(bytes before it, seed = page number ^ PAGE_FORMAT2_SEED) */
    uint8_t page_no_le[8];
};
_Static_assert(sizeof(struct page_trailer) == REGIO_PAGE_TRAILER_BYTES,
               "the trailer is the last 32 bytes of every page on disk");
_Static_assert(offsetof(struct page_trailer, checksum_le) == 16 &&
                   offsetof(struct page_trailer, page_no_le) == 24,
               "checksum and page number end the page, where format 1 had them");

#define PAGE_FORMAT2_SEED    0x3247415049474552ull /* "REGIPAG2" read little-endian */
#define PAGE_CHECKSUMMED(pb) ((size_t)(pb)-16u)    /* bytes before the checksum */

#define PAGER_DW_SLOTS_DEFAULT 32u
#define PAGER_DW_SLOTS_MAX     4096u
#define PAGER_MIN_PAGE_BYTES   4096u
#define PAGER_MAX_PAGE_BYTES   65536u
/* Slice of a synchronous wait that must re-check: in shared mode another
 * thread may reap our completion; a parked write may be released by the WAL
 * without any completion in this ring. */
#define PAGER_SLICE_NS 10000000

enum op_kind { OP_READ, OP_WRITE, OP_SYNC };

/* Where a doublewrite write is, for a retry after the ring was full. */
enum op_stage { STAGE_SLOT, STAGE_IN_PLACE, STAGE_REUSE_SYNC };

/* A doublewrite slot: FREE may take a new copy; BUSY holds the copy of a
 * write not yet completed in place; WRITTEN holds the copy of a write
 * completed in place but perhaps not durable there, so it may be needed to
 * repair that page until an fdatasync of the page file submitted after the
 * completion succeeds. */
enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_WRITTEN };

struct dw_slot {
    uint8_t state;
    uint64_t sync_gen; /* WRITTEN: fdatasyncs submitted when the write completed */
};

struct pager_op {
    struct regio_pager *p;
    uint64_t page_no;
    struct regio_buf b;
    regio_cb cb;
    void *ctx;
    enum op_kind kind;
    int gate_res;           /* what the gate's notification reported */
    uint32_t slot;          /* doublewrite slot of a write */
    enum op_stage stage;    /* doublewrite: what to submit on a retry */
    struct pager_op *retry; /* list of operations to submit once the ring has room */
    struct pager_op *next;  /* free list, or the list of released writes */
};

struct regio_pager {
    struct regio_engine *e;
    struct regio_file *f;
    uint32_t page_bytes;
    uint32_t in_flight; /* operations accepted and not yet called back (parked included) */
    uint32_t writes;    /* page writes accepted and not yet called back (parked included) */
    uint32_t parked;    /* writes waiting for the gate */
    uint64_t next_seq;  /* write sequence stamped into the next page written */
    struct pager_op *free_ops;
    struct regio__pager_gate gate; /* admit == NULL: no gate */
    /* Writes the gate released on an owned engine, for the owner to submit.
     * Written by the notifying thread, hence the lock. */
    pthread_mutex_t released_mu;
    pthread_cond_t released_cond;
    struct pager_op *released;
    _Atomic uint32_t released_count;
    /* Torn-page protection (docs/embedding.md, "Torn pages"). */
    enum regio_pager_torn torn;
    uint32_t atomic_unit_bytes; /* statx's atomic write unit max (0: none) */
    struct regio_file *dwf;     /* the doublewrite file, when torn is DOUBLEWRITE */
    struct dw_slot *slots;
    uint32_t nslots;
    uint32_t free_slots;
    uint64_t sync_gen;          /* fdatasyncs of the page file submitted */
    bool reuse_sync_in_flight;  /* an fdatasync to free WRITTEN slots is in flight */
    struct pager_op *slot_wait; /* writes waiting for a free slot, FIFO */
    struct pager_op *retry;     /* stages to submit once the ring has room, FIFO */
    uint64_t pages_repaired;    /* torn pages restored from the doublewrite file at open */
};

static bool page_bytes_valid(uint32_t n)
{
    return n >= PAGER_MIN_PAGE_BYTES && n <= PAGER_MAX_PAGE_BYTES && (n & (n - 1)) == 0;
}

static struct page_trailer *trailer_of(void *page, uint32_t page_bytes)
{
    REGIO_ASSERT(page_bytes_valid(page_bytes)); /* the trailer ends the page */
    return (struct page_trailer *)((uint8_t *)page + page_bytes - REGIO_PAGE_TRAILER_BYTES);
}

static uint64_t format2_checksum(const void *page, uint32_t page_bytes, uint64_t page_no)
{
    return regio__xxh3_64_seed(page, PAGE_CHECKSUMMED(page_bytes), page_no ^ PAGE_FORMAT2_SEED);
}

/* Stamp sequence, checksum and page number; the page LSN is the caller's. */
static void fill_trailer(void *page, uint32_t page_bytes, uint64_t page_no, uint64_t seq)
{
    /* check_buf refused page numbers whose offset does not fit off_t. */
    REGIO_ASSERT(page_no < (uint64_t)INT64_MAX / page_bytes);
    struct page_trailer *t = trailer_of(page, page_bytes);
    regio__le64_put(t->seq_le, seq);
    regio__le64_put(t->checksum_le, format2_checksum(page, page_bytes, page_no));
    regio__le64_put(t->page_no_le, page_no);
}

/* A page of format 1: checksum over the payload before a 16-byte trailer,
 * seeded with the bare page number. */
static bool is_format1(const uint8_t *page, uint32_t page_bytes, uint64_t page_no)
{
    REGIO_ASSERT(page_bytes_valid(page_bytes)); /* the 16-byte trailer lies inside the page */
    const uint8_t *t = page + page_bytes - 16;
    return regio__le64_get(t + 8) == page_no &&
           regio__le64_get(t) == regio__xxh3_64_seed(page, page_bytes - 16u, page_no);
}

int regio_pager_verify_image(const void *page, uint32_t page_bytes, uint64_t page_no)
{
    regio__clear_detail();
    /* Only the page sizes a pager can have: an arbitrary length would send
     * the trailer read anywhere past the caller's page. */
    if (page == NULL || !page_bytes_valid(page_bytes)) {
        regio__set_detail("pager: verify needs a page of 4096..65536 bytes (power of two), got %u",
                          page_bytes);
        return -EINVAL;
    }
    const struct page_trailer *t = trailer_of((void *)page, page_bytes);
    if (regio__le64_get(t->page_no_le) == page_no &&
        regio__le64_get(t->checksum_le) == format2_checksum(page, page_bytes, page_no))
        return 0;
    if (regio__all_zero(page, page_bytes))
        return -ENODATA;
    if (is_format1(page, page_bytes, page_no)) {
        regio__set_detail("page %llu is of format 1 (16-byte trailer, regio before 0.2): "
                          "this pager reads format 2 only (docs/format.md)",
                          (unsigned long long)page_no);
        return -EPROTO;
    }
    regio__set_detail("page %llu: checksum or page number mismatch (torn, corrupt or misplaced)",
                      (unsigned long long)page_no);
    return -EBADMSG;
}

int regio_pager_set_image_lsn(void *page, uint32_t page_bytes, uint64_t lsn)
{
    regio__clear_detail();
    if (page == NULL || !page_bytes_valid(page_bytes)) {
        regio__set_detail("page %p of %u bytes: want a power of two from 4 KiB to 64 KiB", page,
                          page_bytes);
        return -EINVAL;
    }
    regio__le64_put(trailer_of(page, page_bytes)->lsn_le, lsn);
    /* The gate and the write path read it back with regio_pager_image_lsn. */
    REGIO_ASSERT(regio_pager_image_lsn(page, page_bytes) == lsn);
    return 0;
}

uint64_t regio_pager_image_lsn(const void *page, uint32_t page_bytes)
{
    if (page == NULL || !page_bytes_valid(page_bytes))
        return 0;
    return regio__le64_get(trailer_of((void *)page, page_bytes)->lsn_le);
}

/* ---- Operation contexts -------------------------------------------------------- */

static struct pager_op *op_get(struct regio_pager *p)
{
    REGIO_ASSERT(regio__engine_entered(p->e)); /* the free list is guarded by the engine */
    struct pager_op *op = p->free_ops;
    if (op != NULL)
        p->free_ops = op->next;
    else
        op = malloc(sizeof(*op));
    return op;
}

static void op_put(struct regio_pager *p, struct pager_op *op)
{
    REGIO_ASSERT(regio__engine_entered(p->e) && op->p == p);
    op->next = p->free_ops;
    p->free_ops = op;
}

/* Retire op and call its callback; the engine is entered. */
static void op_finish(struct pager_op *op, int res)
{
    REGIO_ASSERT(regio__engine_entered(op->p->e)); /* "the engine is entered" */
    struct regio_pager *p = op->p;
    regio_cb cb = op->cb;
    void *cctx = op->ctx;
    REGIO_ASSERT(p->in_flight > 0);
    p->in_flight--;
    if (op->kind == OP_WRITE) {
        REGIO_ASSERT(p->writes > 0);
        p->writes--;
    }
    op_put(p, op);
    if (cb != NULL)
        cb(cctx, res);
}

/* The engine calls back with the engine entered, so the pager's state is
 * guarded here as in every other pager call. */
static void read_done(void *ctx, int res)
{
    struct pager_op *op = ctx;
    uint32_t pb = op->p->page_bytes;
    REGIO_ASSERT(regio__engine_entered(op->p->e));
    if (res == 0) {
        /* Past the end of the file: told apart from a never-written page
         * inside it, so that a file cut short does not pass for pages
         * nobody wrote (the buffer is zeroed all the same). */
        memset(op->b.data, 0, pb);
        res = -ENXIO;
    } else if (res > 0 && (uint32_t)res < pb) {
        res = -EBADMSG; /* the file ends inside this page */
    } else if (res > 0) {
        int v = regio_pager_verify_image(op->b.data, pb, op->page_no);
        res = v == 0 ? (int)pb : v;
    }
    op_finish(op, res);
}

static void write_done(void *ctx, int res)
{
    REGIO_ASSERT(((struct pager_op *)ctx)->kind == OP_WRITE);
    op_finish(ctx, res);
}

/* ---- Doublewrite ----------------------------------------------------------------
 *
 * A write goes first to a free slot of the doublewrite file with RWF_DSYNC,
 * then in place. The copy is durable before the in-place write starts, so
 * whenever a power cut tears the in-place page, its copy is intact; a slot
 * is reused only after an fdatasync of the page file that was submitted
 * after the in-place write completed, so the copy stays until the page is
 * durable in place. Copies carry their write sequence: at open the newest
 * copy of each page repairs a torn page (pager_dw_repair). Everything here
 * runs with the engine entered. */

static void list_append(struct pager_op **head, struct pager_op *op)
{
    op->retry = NULL;
    while (*head != NULL) {
        REGIO_ASSERT(*head != op); /* listed twice, the list would loop */
        head = &(*head)->retry;
    }
    *head = op;
}

static int take_slot(struct regio_pager *p)
{
    REGIO_ASSERT(regio__engine_entered(p->e) && p->free_slots <= p->nslots);
    for (uint32_t i = 0; p->free_slots > 0 && i < p->nslots; i++) {
        if (p->slots[i].state == SLOT_FREE) {
            p->slots[i].state = SLOT_BUSY;
            p->free_slots--;
            return (int)i;
        }
    }
    return -1;
}

static void slot_free(struct regio_pager *p, uint32_t i)
{
    REGIO_ASSERT(regio__engine_entered(p->e) && i < p->nslots);
    REGIO_ASSERT(p->slots[i].state != SLOT_FREE);
    p->slots[i].state = SLOT_FREE;
    p->free_slots++;
}

/* An fdatasync of the page file submitted as generation gen succeeded:
 * every write completed in place before it is durable there. */
static void free_synced(struct regio_pager *p, uint64_t gen)
{
    REGIO_ASSERT(regio__engine_entered(p->e));
    for (uint32_t i = 0; i < p->nslots; i++)
        if (p->slots[i].state == SLOT_WRITTEN && p->slots[i].sync_gen < gen)
            slot_free(p, i);
    REGIO_ASSERT(p->free_slots <= p->nslots);
}

static void dw_pump(struct regio_pager *p);

static void inplace_done(void *ctx, int res)
{
    REGIO_ASSERT(regio__engine_entered(((struct pager_op *)ctx)->p->e));
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    /* Failed or not, the in-place page may hold part of this write: keep the
     * copy until a later fdatasync, as for a completed one. */
    REGIO_ASSERT(op->slot < p->nslots && p->slots[op->slot].state == SLOT_BUSY);
    p->slots[op->slot].state = SLOT_WRITTEN;
    p->slots[op->slot].sync_gen = p->sync_gen;
    op_finish(op, res);
    dw_pump(p);
}

static int submit_stage(struct regio_pager *p, struct pager_op *op);

static void slot_done(void *ctx, int res)
{
    REGIO_ASSERT(regio__engine_entered(((struct pager_op *)ctx)->p->e));
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    /* The copy is in its slot, which nobody else may take meanwhile. */
    REGIO_ASSERT(op->stage == STAGE_SLOT && p->slots[op->slot].state == SLOT_BUSY);
    if (res >= 0) {
        op->stage = STAGE_IN_PLACE;
        res = submit_stage(p, op);
        if (res == -EAGAIN)
            list_append(&p->retry, op);
        if (res == 0 || res == -EAGAIN)
            return;
    }
    slot_free(p, op->slot); /* the page in place was not touched */
    op_finish(op, res);
    dw_pump(p);
}

static void fail_slot_waiters(struct regio_pager *p, int res)
{
    REGIO_ASSERT(regio__engine_entered(p->e) && res < 0);
    while (p->slot_wait != NULL) {
        struct pager_op *op = p->slot_wait;
        p->slot_wait = op->retry;
        op_finish(op, res);
    }
}

static void reuse_sync_done(void *ctx, int res)
{
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    REGIO_ASSERT(op->kind == OP_SYNC && p->reuse_sync_in_flight);
    p->reuse_sync_in_flight = false;
    if (res == 0)
        free_synced(p, op->page_no);
    op_finish(op, res);
    /* Without a durable page file no slot can be reused: fail-stop, as the
     * caller would for a failed regio_pager_sync. */
    if (res != 0)
        fail_slot_waiters(p, res);
    dw_pump(p);
}

static int submit_stage(struct regio_pager *p, struct pager_op *op)
{
    REGIO_ASSERT(regio__engine_entered(p->e));
    REGIO_ASSERT((op->stage == STAGE_REUSE_SYNC) == (op->kind == OP_SYNC));
    uint32_t pb = p->page_bytes;
    switch (op->stage) {
    case STAGE_SLOT:
        return regio_file_write_flags(p->dwf, op->b, (uint64_t)op->slot * pb, pb, REGIO_WRITE_DSYNC,
                                      slot_done, op);
    case STAGE_IN_PLACE:
        return regio_file_write(p->f, op->b, op->page_no * pb, pb, inplace_done, op);
    case STAGE_REUSE_SYNC: {
        op->page_no = ++p->sync_gen;
        int rc = regio_file_fsync(p->f, true, reuse_sync_done, op);
        if (rc != 0)
            p->sync_gen--;
        return rc;
    }
    }
    return -EINVAL;
}

static bool any_written(const struct regio_pager *p)
{
    REGIO_ASSERT(p->torn == REGIO_PAGER_TORN_DOUBLEWRITE); /* slots exist only then */
    for (uint32_t i = 0; i < p->nslots; i++)
        if (p->slots[i].state == SLOT_WRITTEN)
            return true;
    return false;
}

/* Writes wait for a slot and none is free: make the completed ones durable
 * in place so that their slots can be reused. */
static void maybe_reuse_sync(struct regio_pager *p)
{
    REGIO_ASSERT(regio__engine_entered(p->e));
    if (p->slot_wait == NULL || p->free_slots > 0 || p->reuse_sync_in_flight || !any_written(p))
        return;
    struct pager_op *op = op_get(p);
    if (op == NULL)
        return; /* retried at the next pump */
    *op = (struct pager_op){.p = p, .kind = OP_SYNC, .stage = STAGE_REUSE_SYNC};
    p->in_flight++;
    p->reuse_sync_in_flight = true;
    int rc = submit_stage(p, op);
    if (rc == -EAGAIN) {
        list_append(&p->retry, op);
    } else if (rc != 0) {
        p->reuse_sync_in_flight = false;
        op_finish(op, rc);
        fail_slot_waiters(p, rc);
    }
}

/* A stage of op failed to queue with rc (not -EAGAIN): undo and report. */
static void stage_failed(struct regio_pager *p, struct pager_op *op, int rc)
{
    REGIO_ASSERT(regio__engine_entered(p->e) && rc < 0);
    if (op->stage == STAGE_REUSE_SYNC) {
        p->reuse_sync_in_flight = false;
        op_finish(op, rc);
        fail_slot_waiters(p, rc);
        return;
    }
    if (op->stage == STAGE_SLOT)
        slot_free(p, op->slot);
    else
        p->slots[op->slot].state = SLOT_WRITTEN; /* the slot copy is newer than the page */
    op_finish(op, rc);
}

/* Submit what waited for room in the ring, then writes waiting for a slot. */
static void dw_pump(struct regio_pager *p)
{
    REGIO_ASSERT(regio__engine_entered(p->e));
    if (p->torn != REGIO_PAGER_TORN_DOUBLEWRITE)
        return;
    while (p->retry != NULL) {
        struct pager_op *op = p->retry;
        int rc = submit_stage(p, op);
        if (rc == -EAGAIN)
            return;
        p->retry = op->retry;
        if (rc != 0)
            stage_failed(p, op, rc);
    }
    while (p->slot_wait != NULL && p->free_slots > 0) {
        struct pager_op *op = p->slot_wait;
        op->slot = (uint32_t)take_slot(p);
        op->stage = STAGE_SLOT;
        int rc = submit_stage(p, op);
        if (rc == -EAGAIN) {
            slot_free(p, op->slot);
            return;
        }
        p->slot_wait = op->retry;
        if (rc != 0) {
            slot_free(p, op->slot);
            op_finish(op, rc);
        }
    }
    maybe_reuse_sync(p);
}

/* Start a doublewrite: copy first; without a free slot, wait for one. */
static int dw_start(struct regio_pager *p, struct pager_op *op)
{
    REGIO_ASSERT(regio__engine_entered(p->e));
    int slot = take_slot(p);
    if (slot < 0) {
        list_append(&p->slot_wait, op);
        maybe_reuse_sync(p);
        return 0;
    }
    op->slot = (uint32_t)slot;
    op->stage = STAGE_SLOT;
    int rc = submit_stage(p, op);
    if (rc != 0)
        slot_free(p, op->slot);
    return rc;
}

/* Stamp the trailer and hand the write to the ring (or to the doublewrite
 * pipeline); the engine is entered and the buffer was checked when the
 * write was accepted. */
static int start_write(struct regio_pager *p, struct pager_op *op)
{
    REGIO_ASSERT(regio__engine_entered(p->e) && op->kind == OP_WRITE);
    fill_trailer(op->b.data, p->page_bytes, op->page_no, p->next_seq++);
    if (p->torn == REGIO_PAGER_TORN_DOUBLEWRITE)
        return dw_start(p, op);
    unsigned flags = p->torn == REGIO_PAGER_TORN_ATOMIC ? REGIO_WRITE_ATOMIC : 0;
    return regio_file_write_flags(p->f, op->b, op->page_no * p->page_bytes, p->page_bytes, flags,
                                  write_done, op);
}

static void push_released(struct regio_pager *p, struct pager_op *op, int res)
{
    REGIO_ASSERT(op->kind == OP_WRITE && op->p == p); /* only parked writes are released */
    op->gate_res = res;
    pthread_mutex_lock(&p->released_mu);
    op->next = p->released;
    p->released = op;
    atomic_fetch_add(&p->released_count, 1);
    pthread_cond_broadcast(&p->released_cond);
    pthread_mutex_unlock(&p->released_mu);
}

/* A parked write the gate released (res 0) or failed (res < 0), with the
 * engine entered. A full ring (-EAGAIN) keeps it released for the next
 * pager call instead of failing a write the caller can no longer retry. */
static void release_parked(struct pager_op *op, int res)
{
    REGIO_ASSERT(regio__engine_entered(op->p->e)); /* "with the engine entered" */
    struct regio_pager *p = op->p;
    if (res == 0) {
        res = start_write(p, op);
        if (res == -EAGAIN) {
            push_released(p, op, 0);
            return;
        }
    }
    REGIO_ASSERT(p->parked > 0);
    p->parked--;
    if (res != 0)
        op_finish(op, res);
}

/* Submit the writes the gate released for an owned engine; the engine is
 * entered by its owner. */
static void submit_released(struct regio_pager *p)
{
    REGIO_ASSERT(regio__engine_entered(p->e));
    dw_pump(p);
    if (atomic_load(&p->released_count) == 0)
        return;
    pthread_mutex_lock(&p->released_mu);
    struct pager_op *list = p->released;
    p->released = NULL;
    atomic_store(&p->released_count, 0);
    pthread_mutex_unlock(&p->released_mu);
    while (list != NULL) {
        struct pager_op *op = list;
        list = op->next;
        release_parked(op, op->gate_res);
    }
    regio_engine_submit(p->e);
}

/* The gate's notification, on whatever thread the gate runs it: it enters
 * a shared engine and submits the write now; an owned engine's owner
 * submits it at its next pager call (submit_released). */
static void gate_ready(void *ctx, int res)
{
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    /* Not parked > 0: on an owned engine this runs outside it, maybe before
     * admit_write counted the write as parked (release_parked checks it). */
    REGIO_ASSERT(op->kind == OP_WRITE && op->p == p);
    if (!p->e->shared) {
        push_released(p, op, res);
        return;
    }
    struct regio_engine *e = p->e;
    int rc = regio__engine_enter(e);
    REGIO_ASSERT(rc == 0);
    release_parked(op, res);
    regio_engine_submit(e);
    /* Wake a blocking call of this pager that sleeps on the parked write.
     * Still inside the engine: once we leave, the write may complete and
     * the pager be closed and freed by another thread. */
    pthread_mutex_lock(&p->released_mu);
    pthread_cond_broadcast(&p->released_cond);
    pthread_mutex_unlock(&p->released_mu);
    regio__engine_leave(e);
}

/* Write op now, or park it until the gate says its page LSN is durable. */
static int admit_write(struct regio_pager *p, struct pager_op *op)
{
    REGIO_ASSERT(regio__engine_entered(p->e) && op->kind == OP_WRITE);
    uint64_t lsn = regio_pager_image_lsn(op->b.data, p->page_bytes);
    int rc = 1;
    if (p->gate.admit != NULL && lsn != 0)
        rc = p->gate.admit(p->gate.ctx, lsn, gate_ready, op);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        p->parked++;
        return 0;
    }
    return start_write(p, op);
}

static int check_buf(struct regio_pager *p, uint64_t page_no, struct regio_buf b, bool write)
{
    if (b.cap_bytes < p->page_bytes || b.data == NULL ||
        page_no > (uint64_t)INT64_MAX / p->page_bytes - 1) {
        regio__set_detail("buffer of %u bytes for pages of %u, or page %llu out of range",
                          b.cap_bytes, p->page_bytes, (unsigned long long)page_no);
        return b.data == NULL ? -EFAULT : -EINVAL;
    }
    /* Validate a write's buffer before touching it: the engine call repeats
     * the checks, but reading the page LSN and filling the trailer must not
     * touch memory that is not a live buffer of the engine's slab. */
    if (write) {
        int rc = regio_slab_check(p->e->slab, b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int page_io(struct regio_pager *p, uint64_t page_no, struct regio_buf b, bool write,
                   regio_cb cb, void *ctx)
{
    if (p == NULL) {
        regio__set_detail("pager is NULL");
        return -EINVAL;
    }
    struct regio_engine *e = p->e;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    submit_released(p);
    rc = check_buf(p, page_no, b, write);
    struct pager_op *op = rc == 0 ? op_get(p) : NULL;
    if (rc == 0 && op == NULL) {
        regio__set_detail("no memory for a page operation");
        rc = -ENOMEM;
    }
    if (rc != 0) {
        regio__engine_leave(e);
        return rc;
    }
    *op = (struct pager_op){.p = p,
                            .page_no = page_no,
                            .b = b,
                            .cb = cb,
                            .ctx = ctx,
                            .kind = write ? OP_WRITE : OP_READ};
    p->in_flight++;
    if (write)
        p->writes++;
    if (write)
        rc = admit_write(p, op);
    else
        rc = regio_file_read(p->f, b, page_no * p->page_bytes, p->page_bytes, read_done, op);
    if (rc != 0) {
        p->in_flight--;
        if (write)
            p->writes--;
        op_put(p, op);
    }
    regio__engine_leave(e);
    return rc;
}

int regio_pager_read(struct regio_pager *p, uint64_t page_no, struct regio_buf b, regio_cb cb,
                     void *ctx)
{
    regio__clear_detail();
    return page_io(p, page_no, b, false, cb, ctx);
}

int regio_pager_write(struct regio_pager *p, uint64_t page_no, struct regio_buf b, regio_cb cb,
                      void *ctx)
{
    regio__clear_detail();
    return page_io(p, page_no, b, true, cb, ctx);
}

/* Release the installed gate, if any, to its owner. */
static void drop_gate(struct regio_pager *p)
{
    REGIO_ASSERT(p->writes == 0); /* a parked write would wait on a gate that is gone */
    if (p->gate.release != NULL)
        p->gate.release(p->gate.ctx);
    p->gate = (struct regio__pager_gate){0};
}

int regio__pager_set_gate(struct regio_pager *p, const struct regio__pager_gate *g)
{
    /* A gate without release would keep its log's bound count for ever. */
    REGIO_ASSERT(g == NULL || (g->admit != NULL && g->release != NULL));
    int rc = regio__engine_enter(p->e);
    if (rc != 0)
        return rc;
    submit_released(p);
    if (p->writes > 0) {
        regio__set_detail("%u page writes in flight or parked: bind or unbind the WAL while "
                          "none is",
                          p->writes);
        rc = -EBUSY;
    } else {
        drop_gate(p);
        p->gate = g != NULL ? *g : (struct regio__pager_gate){0};
    }
    regio__engine_leave(p->e);
    return rc;
}

uint32_t regio__pager_parked(const struct regio_pager *p)
{
    REGIO_ASSERT(p->parked <= p->writes);
    return p->parked;
}

int regio_pager_submit(struct regio_pager *p)
{
    regio__clear_detail();
    if (p == NULL) {
        regio__set_detail("pager is NULL");
        return -EINVAL;
    }
    int rc = regio__engine_enter(p->e);
    if (rc != 0)
        return rc;
    submit_released(p);
    rc = regio_engine_submit(p->e);
    regio__engine_leave(p->e);
    return rc;
}

/* ---- Waiting ------------------------------------------------------------------- */

/* One step of a blocking pager call, with nothing entered: reap what
 * completes within a slice, or, when only parked writes remain and the ring
 * holds nothing, sleep until the gate releases one. */
static void wait_step(struct regio_pager *p)
{
    REGIO_ASSERT(!p->e->shared || !regio__engine_entered(p->e)); /* "with nothing entered" */
    struct regio_engine *e = p->e;
    int rc = regio__engine_enter(e);
    REGIO_ASSERT(rc == 0);
    uint32_t parked = p->parked;
    regio__engine_leave(e);
    bool parked_only = parked > 0 && regio_engine_in_flight(e) == 0;
    if (parked_only) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += PAGER_SLICE_NS;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&p->released_mu);
        if (atomic_load(&p->released_count) == 0)
            pthread_cond_timedwait(&p->released_cond, &p->released_mu, &ts);
        pthread_mutex_unlock(&p->released_mu);
        return;
    }
    bool slice = e->shared || parked > 0;
    regio__engine_wait(e, 1, slice ? PAGER_SLICE_NS : -1);
}

/* Block until *counter (a pager field guarded by the engine) reaches target. */
static void wait_counter(struct regio_pager *p, const size_t *counter, size_t target)
{
    for (;;) {
        int rc = regio__engine_enter(p->e);
        REGIO_ASSERT(rc == 0);
        submit_released(p);
        bool done = *counter >= target;
        /* One callback per operation queued: never more than the target. */
        REGIO_ASSERT(*counter <= target);
        regio__engine_leave(p->e);
        if (done)
            return;
        wait_step(p);
    }
}

struct sync_wait {
    size_t done;
    int res;
};

static void sync_cb(void *ctx, int res)
{
    struct sync_wait *w = ctx;
    REGIO_ASSERT(w->done == 0); /* one callback per operation */
    w->res = res;
    w->done = 1;
}

/* With a gate, wait until lsn is durable before queueing: a blocking call
 * may block, and waiting here asks the log to flush now instead of parking
 * the write until someone else does. */
static int gate_sync(struct regio_pager *p, uint64_t lsn)
{
    /* It blocks on the log: never inside a shared engine, whose other users
     * (the log's flusher among them) would wait for it. */
    REGIO_ASSERT(!p->e->shared || !regio__engine_entered(p->e));
    if (p->gate.sync == NULL || lsn == 0)
        return 0;
    return p->gate.sync(p->gate.ctx, lsn);
}

int regio_pager_read_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b)
{
    regio__clear_detail();
    struct sync_wait w = {0, 0};
    int rc = regio_pager_read(p, page_no, b, sync_cb, &w);
    if (rc != 0)
        return rc;
    wait_counter(p, &w.done, 1);
    REGIO_ASSERT(w.done == 1);
    return w.res;
}

int regio_pager_write_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b)
{
    regio__clear_detail();
    if (p == NULL) {
        regio__set_detail("pager is NULL");
        return -EINVAL;
    }
    int rc = check_buf(p, page_no, b, true);
    if (rc == 0)
        rc = gate_sync(p, regio_pager_image_lsn(b.data, p->page_bytes));
    struct sync_wait w = {0, 0};
    if (rc == 0)
        rc = regio_pager_write(p, page_no, b, sync_cb, &w);
    if (rc != 0)
        return rc;
    wait_counter(p, &w.done, 1);
    REGIO_ASSERT(w.done == 1);
    return w.res;
}

/* ---- Many pages at once -------------------------------------------------------- */

struct many_wait {
    int *results;
    size_t done;
    size_t n; /* pages in the batch */
};

struct many_slot {
    struct many_wait *w;
    size_t i;
};

static void many_cb(void *ctx, int res)
{
    struct many_slot *s = ctx;
    /* Out of the batch, or one callback too many, would write past results. */
    REGIO_ASSERT(s->i < s->w->n && s->w->done < s->w->n);
    s->w->results[s->i] = res;
    s->w->done++;
}

static int many_args(struct regio_pager *p, const uint64_t *page_nos, const struct regio_buf *bufs,
                     int *results, size_t n)
{
    if (p == NULL || (n > 0 && (page_nos == NULL || bufs == NULL || results == NULL))) {
        regio__set_detail("pager, page numbers, buffers or results NULL for %zu pages", n);
        return -EINVAL;
    }
    return 0;
}

/* The largest page LSN of a batch of writes, reading only buffers that
 * pass the slab's checks (the others fail when queued). */
static uint64_t batch_max_lsn(struct regio_pager *p, const struct regio_buf *bufs, size_t n)
{
    uint64_t max = 0;
    REGIO_ASSERT(n > 0 && bufs != NULL); /* many_args checked them */
    for (size_t i = 0; i < n; i++) {
        if (bufs[i].cap_bytes < p->page_bytes || regio_slab_check(p->e->slab, bufs[i]) < 0)
            continue;
        uint64_t lsn = regio_pager_image_lsn(bufs[i].data, p->page_bytes);
        max = lsn > max ? lsn : max;
    }
    return max;
}

/* Queue every page, reaping whenever the engine is full (-EAGAIN), and wait
 * for them all. A page refused when queued gets the refusal as its result. */
static int many_run(struct regio_pager *p, const uint64_t *page_nos, const struct regio_buf *bufs,
                    int *results, size_t n, bool write)
{
    struct many_slot *slots = malloc(n * sizeof(*slots));
    if (slots == NULL) {
        regio__set_detail("no memory for a batch of %zu pages", n);
        return -ENOMEM;
    }
    struct many_wait w = {results, 0, n};
    size_t next = 0, refused = 0;
    while (next < n) {
        slots[next] = (struct many_slot){&w, next};
        int rc = page_io(p, page_nos[next], bufs[next], write, many_cb, &slots[next]);
        if (rc == -EAGAIN) {
            wait_step(p); /* the ring is full: reap, then queue the rest */
            continue;
        }
        if (rc != 0) {
            results[next] = rc;
            refused++;
        }
        next++;
    }
    wait_counter(p, &w.done, n - refused);
    REGIO_ASSERT(w.done == n - refused); /* every queued page called back, once */
    free(slots);
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += results[i] != (int)p->page_bytes;
    return failed;
}

int regio_pager_read_many_wait(struct regio_pager *p, const uint64_t *page_nos,
                               const struct regio_buf *bufs, int *results, size_t n)
{
    regio__clear_detail();
    int rc = many_args(p, page_nos, bufs, results, n);
    rc = rc != 0 || n == 0 ? rc : many_run(p, page_nos, bufs, results, n, false);
    REGIO_ASSERT(rc < 0 || (size_t)rc <= n); /* the pages that failed, of n */
    return rc;
}

int regio_pager_write_many_wait(struct regio_pager *p, const uint64_t *page_nos,
                                const struct regio_buf *bufs, int *results, size_t n)
{
    regio__clear_detail();
    int rc = many_args(p, page_nos, bufs, results, n);
    if (rc != 0 || n == 0)
        return rc;
    rc = gate_sync(p, batch_max_lsn(p, bufs, n));
    rc = rc != 0 ? rc : many_run(p, page_nos, bufs, results, n, true);
    REGIO_ASSERT(rc < 0 || (size_t)rc <= n); /* the pages that failed, of n */
    return rc;
}

/* ---- Sync ---------------------------------------------------------------------- */

static void fsync_done(void *ctx, int res)
{
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    REGIO_ASSERT(op->kind == OP_SYNC && op->page_no <= p->sync_gen);
    if (res == 0 && p->torn == REGIO_PAGER_TORN_DOUBLEWRITE)
        free_synced(p, op->page_no);
    op_finish(op, res);
    dw_pump(p);
}

/* Wait until no write of p is parked or in flight. */
static void wait_writes(struct regio_pager *p)
{
    for (;;) {
        int rc = regio__engine_enter(p->e);
        REGIO_ASSERT(rc == 0);
        submit_released(p);
        bool done = p->writes == 0;
        regio__engine_leave(p->e);
        if (done)
            return;
        wait_step(p);
    }
}

int regio_pager_sync(struct regio_pager *p)
{
    regio__clear_detail();
    if (p == NULL) {
        regio__set_detail("pager is NULL");
        return -EINVAL;
    }
    struct regio_engine *e = p->e;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    regio__engine_leave(e);
    wait_writes(p);
    rc = regio__engine_enter(e);
    REGIO_ASSERT(rc == 0);
    struct sync_wait w = {0, 0};
    struct pager_op *op = op_get(p);
    rc = op == NULL ? -ENOMEM : 0;
    if (rc == 0) {
        *op = (struct pager_op){
            .p = p, .page_no = ++p->sync_gen, .cb = sync_cb, .ctx = &w, .kind = OP_SYNC};
        rc = regio_file_fsync(p->f, true, fsync_done, op);
        if (rc == 0) {
            p->in_flight++;
        } else {
            p->sync_gen--;
            op_put(p, op);
        }
    }
    regio__engine_leave(e);
    if (rc != 0)
        return rc;
    wait_counter(p, &w.done, 1);
    REGIO_ASSERT(w.done == 1);
    return w.res;
}

/* ---- Open, size, close --------------------------------------------------------- */

static int pager_check_align(struct regio_pager *p, const char *path)
{
    REGIO_ASSERT(p->f != NULL && page_bytes_valid(p->page_bytes));
    uint32_t mem = 0, off = 0;
    int rc = regio_file_dio_align(p->f, &mem, &off);
    if (rc != 0)
        return rc;
    if (p->page_bytes % off != 0 || p->page_bytes % mem != 0) {
        regio__set_detail("page size %u is not a multiple of the O_DIRECT alignment %u/%u of %s",
                          p->page_bytes, mem, off, path);
        return -EINVAL;
    }
    return 0;
}

/* ---- Torn-page protection at open ---------------------------------------------- */

/* statx as of kernel 6.11 (uapi linux/stat.h), for the atomic write unit;
 * the system headers of older distributions end before these fields. */
#define PAGER_STATX_WRITE_ATOMIC 0x00010000u
struct pager_statx {
    uint32_t mask;
    uint8_t skip[164];
    uint32_t atomic_write_unit_min; /* offset 168 */
    uint32_t atomic_write_unit_max; /* offset 172 */
    uint8_t tail[80];
};
_Static_assert(offsetof(struct pager_statx, atomic_write_unit_min) == 168 &&
                   sizeof(struct pager_statx) == 256,
               "struct statx layout of linux/stat.h");

/* The largest atomic write unit of fd when it covers a page (0: none). */
static uint32_t atomic_unit_for(int fd, uint32_t page_bytes)
{
    REGIO_ASSERT(fd >= 0 && page_bytes_valid(page_bytes));
    uint32_t min = 0, max = 0;
    if (regio__test_atomic_unit_bytes != 0) {
        min = PAGER_MIN_PAGE_BYTES;
        max = regio__test_atomic_unit_bytes;
    } else {
        struct pager_statx sx;
        memset(&sx, 0, sizeof(sx));
        if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, PAGER_STATX_WRITE_ATOMIC, &sx) != 0 ||
            (sx.mask & PAGER_STATX_WRITE_ATOMIC) == 0)
            return 0;
        min = sx.atomic_write_unit_min;
        max = sx.atomic_write_unit_max;
    }
    return min != 0 && min <= page_bytes && page_bytes <= max ? max : 0;
}

static int fsync_parent_dir(const char *path)
{
    REGIO_ASSERT(path != NULL && path[0] != '\0'); /* the doublewrite file's, never empty */
    char *copy = strdup(path);
    if (copy == NULL)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* The newest valid copy of each page in the doublewrite file. */
struct dw_copy {
    uint64_t page_no;
    uint64_t seq;
    uint32_t slot;
};

static size_t find_copies(int dwfd, uint32_t pb, uint64_t nslots, uint8_t *img,
                          struct dw_copy *copies, uint64_t *max_seq)
{
    size_t n = 0;
    for (uint64_t i = 0; i < nslots; i++) {
        if (pread(dwfd, img, pb, (off_t)(i * pb)) != (ssize_t)pb)
            break;
        const struct page_trailer *t = trailer_of(img, pb);
        uint64_t page_no = regio__le64_get(t->page_no_le), seq = regio__le64_get(t->seq_le);
        if (regio__le64_get(t->checksum_le) != format2_checksum(img, pb, page_no))
            continue; /* never used, or a copy torn before its in-place write began */
        *max_seq = seq > *max_seq ? seq : *max_seq;
        size_t k = 0;
        while (k < n && copies[k].page_no != page_no)
            k++;
        REGIO_ASSERT(k < nslots); /* copies has a place per slot read */
        if (k == n)
            n++;
        else if (copies[k].seq >= seq)
            continue;
        copies[k] = (struct dw_copy){page_no, seq, (uint32_t)i};
    }
    return n;
}

/* Restore c in place when the page there is torn: it fails its checksum
 * (or the file ends inside it) and is not newer than the copy, judging by
 * the write sequence its trailer holds; a page that only fails verification
 * because of later damage is newer than a stale copy and is left to read
 * -EBADMSG. Returns 1 when restored. */
static int repair_one(struct regio_pager *p, int dwfd, const struct dw_copy *c, uint8_t *img,
                      uint8_t *cur)
{
    uint32_t pb = p->page_bytes;
    /* Two buffers: the copy must not land on the page it is judged against. */
    REGIO_ASSERT(img + pb <= cur || cur + pb <= img);
    int fd = regio_file_fd(p->f);
    ssize_t n = pread(fd, cur, pb, (off_t)(c->page_no * pb));
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0; /* past the end: the write never reached the file, or it was truncated */
    if (n == (ssize_t)pb) {
        int v = regio_pager_verify_image(cur, pb, c->page_no);
        if (v != -EBADMSG || regio__le64_get(trailer_of(cur, pb)->seq_le) > c->seq)
            return 0;
    }
    if (pread(dwfd, img, pb, (off_t)((uint64_t)c->slot * pb)) != (ssize_t)pb)
        return -EIO;
    if (pwrite(fd, img, pb, (off_t)(c->page_no * pb)) != (ssize_t)pb)
        return -errno;
    return 1;
}

/* At open: restore every torn page from its newest copy, make that durable,
 * and continue the write sequence after every copy's. */
static int pager_dw_repair(struct regio_pager *p, int dwfd, uint64_t slots_on_disk)
{
    uint32_t pb = p->page_bytes;
    uint8_t *buf = NULL;
    struct dw_copy *copies = calloc(slots_on_disk ? slots_on_disk : 1, sizeof(*copies));
    if (copies == NULL || posix_memalign((void **)&buf, PAGER_MAX_PAGE_BYTES, 2u * pb) != 0) {
        free(copies);
        return -ENOMEM;
    }
    uint64_t max_seq = 0;
    size_t n = find_copies(dwfd, pb, slots_on_disk, buf, copies, &max_seq);
    int rc = 0;
    for (size_t k = 0; k < n && rc >= 0; k++) {
        rc = repair_one(p, dwfd, &copies[k], buf, buf + pb);
        if (rc > 0)
            p->pages_repaired++;
    }
    REGIO_ASSERT(p->pages_repaired <= n); /* a copy repairs one page at most */
    if (rc >= 0 && p->pages_repaired > 0)
        rc = fdatasync(regio_file_fd(p->f)) == 0 ? 0 : -errno;
    if (rc < 0)
        regio__set_detail("pager: repairing torn pages from the doublewrite file: %s",
                          strerror(-rc));
    p->next_seq = max_seq + 1;
    free(buf);
    free(copies);
    return rc < 0 ? rc : 0;
}

/* Open (create) path.dw with nslots slots, repair from it, ready the slots. */
static int pager_dw_open(struct regio_pager *p, const char *path, uint32_t nslots, mode_t mode)
{
    REGIO_ASSERT(p->dwf == NULL && p->slots == NULL && nslots > 0); /* opened once */
    uint32_t pb = p->page_bytes;
    size_t len = strlen(path) + 4;
    char *dwpath = malloc(len);
    if (dwpath == NULL)
        return -ENOMEM;
    snprintf(dwpath, len, "%s.dw", path);
    int rc = regio_file_open(p->e, dwpath, O_RDWR | O_CREAT, mode, &p->dwf);
    int fd = rc == 0 ? regio_file_fd(p->dwf) : -1;
    struct stat st;
    if (rc == 0 && fstat(fd, &st) != 0)
        rc = -errno;
    uint64_t have = rc == 0 ? (uint64_t)st.st_size / pb : 0;
    if (rc == 0 && have < nslots) {
        /* A new (or shorter) file: its length and name must be durable
         * before a copy in it is trusted to be. */
        if (ftruncate(fd, (off_t)nslots * pb) != 0 || fsync(fd) != 0)
            rc = -errno;
        if (rc == 0)
            rc = fsync_parent_dir(dwpath);
    }
    if (rc == 0)
        rc = pager_dw_repair(p, fd, have);
    p->slots = rc == 0 ? calloc(nslots, sizeof(*p->slots)) : NULL;
    if (rc == 0 && p->slots == NULL)
        rc = -ENOMEM;
    free(dwpath);
    p->nslots = p->free_slots = nslots;
    return rc;
}

/* Choose the protection against torn pages (docs/embedding.md). */
static int pager_torn_setup(struct regio_pager *p, const char *path,
                            const struct regio_pager_opts *o)
{
    p->atomic_unit_bytes = atomic_unit_for(regio_file_fd(p->f), p->page_bytes);
    enum regio_pager_torn want = o->torn;
    if (want == REGIO_PAGER_TORN_AUTO)
        want = p->atomic_unit_bytes ? REGIO_PAGER_TORN_ATOMIC : REGIO_PAGER_TORN_DOUBLEWRITE;
    if (want == REGIO_PAGER_TORN_ATOMIC && p->atomic_unit_bytes == 0) {
        regio__set_detail("pager: %s: the device reports no atomic write unit covering %u-byte "
                          "pages (statx STATX_WRITE_ATOMIC)",
                          path, p->page_bytes);
        return -EOPNOTSUPP;
    }
    if (want > REGIO_PAGER_TORN_DETECT) {
        regio__set_detail("pager: unknown torn-page protection %d", (int)want);
        return -EINVAL;
    }
    uint32_t nslots = o->doublewrite_slots ? o->doublewrite_slots : PAGER_DW_SLOTS_DEFAULT;
    if (nslots > PAGER_DW_SLOTS_MAX) {
        regio__set_detail("pager: %u doublewrite slots: at most %u", nslots, PAGER_DW_SLOTS_MAX);
        return -EINVAL;
    }
    REGIO_ASSERT(want != REGIO_PAGER_TORN_AUTO); /* resolved above */
    p->torn = want;
    if (want != REGIO_PAGER_TORN_DOUBLEWRITE)
        return 0;
    return pager_dw_open(p, path, nslots, o->mode ? o->mode : 0644);
}

enum regio_pager_torn regio_pager_torn(const struct regio_pager *p)
{
    return p == NULL ? REGIO_PAGER_TORN_AUTO : p->torn;
}

uint64_t regio_pager_pages_repaired(const struct regio_pager *p)
{
    return p == NULL ? 0 : p->pages_repaired;
}

static void pager_free(struct regio_pager *p)
{
    /* An operation in flight would call back into freed memory. */
    REGIO_ASSERT(p->in_flight == 0 && p->parked == 0);
    /* The gate was dropped: a kept one would hold its log's bound count. */
    REGIO_ASSERT(p->gate.admit == NULL && p->gate.release == NULL);
    free(p->slots);
    while (p->free_ops != NULL) {
        struct pager_op *op = p->free_ops;
        p->free_ops = op->next;
        free(op);
    }
    pthread_mutex_destroy(&p->released_mu);
    pthread_cond_destroy(&p->released_cond);
    free(p);
}

int regio_pager_open(struct regio_engine *e, const char *path, const struct regio_pager_opts *opts,
                     struct regio_pager **out)
{
    regio__clear_detail();
    if (e == NULL || path == NULL || out == NULL) {
        regio__set_detail("regio_pager_open: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    struct regio_pager_opts o = opts != NULL ? *opts : (struct regio_pager_opts){0};
    uint32_t pb = o.page_bytes ? o.page_bytes : PAGER_MIN_PAGE_BYTES;
    if (!page_bytes_valid(pb)) {
        regio__set_detail("page size %u: want a power of two from 4 KiB to 64 KiB", pb);
        return -EINVAL;
    }
    struct regio_pager *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->e = e;
    p->page_bytes = pb;
    p->next_seq = 1;
    pthread_mutex_init(&p->released_mu, NULL);
    pthread_cond_init(&p->released_cond, NULL);
    int flags = O_RDWR | (o.create ? O_CREAT : 0);
    int rc = regio_file_open(e, path, flags, o.mode ? o.mode : 0644, &p->f);
    if (rc == 0) {
        p->f->prefetch_reads = true; /* every read is hashed whole (read_done) */
        rc = pager_check_align(p, path);
    }
    if (rc == 0)
        rc = pager_torn_setup(p, path, &o);
    /* AUTO is resolved at open; doublewrite has its file and slots. */
    REGIO_ASSERT(rc != 0 || (p->torn != REGIO_PAGER_TORN_AUTO &&
                             (p->torn != REGIO_PAGER_TORN_DOUBLEWRITE ||
                              (p->dwf != NULL && p->slots != NULL && p->nslots > 0))));
    if (rc != 0 && p->f != NULL) {
        if (p->dwf != NULL)
            regio_file_close(p->dwf);
        regio_file_close(p->f);
    }
    if (rc == 0)
        rc = regio__engine_enter(e);
    if (rc != 0) {
        pager_free(p);
        return rc;
    }
    regio__engine_user_get(e);
    /* Sequences start at 1: a copy stamped 0 would never be the newest. */
    REGIO_ASSERT(p->next_seq >= 1);
    regio__engine_leave(e);
    *out = p;
    return 0;
}

size_t regio_pager_payload_bytes(const struct regio_pager *p)
{
    return p == NULL ? 0 : p->page_bytes - REGIO_PAGE_TRAILER_BYTES;
}

uint32_t regio_pager_page_bytes(const struct regio_pager *p)
{
    return p == NULL ? 0 : p->page_bytes;
}

int regio_pager_page_count(struct regio_pager *p, uint64_t *count_out)
{
    regio__clear_detail();
    if (p == NULL || count_out == NULL)
        return -EINVAL;
    struct stat st;
    if (fstat(regio_file_fd(p->f), &st) != 0)
        return -errno;
    *count_out = (uint64_t)st.st_size / p->page_bytes;
    return 0;
}

/* ftruncate (grow_only false) or fallocate, falling back to ftruncate
 * where the filesystem has no fallocate, inside the engine so that a
 * power-loss recording logs the change in order with the I/O. */
static int set_length(struct regio_pager *p, off_t len, bool grow_only)
{
    REGIO_ASSERT(len >= 0 && (uint64_t)len % p->page_bytes == 0);
    int rc = regio__engine_enter(p->e);
    if (rc != 0)
        return rc;
    int fd = regio_file_fd(p->f);
    int64_t id = regio__rec_resize(p->e, p->f, (uint64_t)len, grow_only);
    bool use_ftruncate = !grow_only;
    if (grow_only && fallocate(fd, 0, 0, len) != 0) {
        rc = -errno;
        use_ftruncate = rc == -EOPNOTSUPP;
    }
    if (use_ftruncate)
        rc = ftruncate(fd, len) == 0 ? 0 : -errno;
    regio__rec_complete(p->e, id, rc);
    regio__engine_leave(p->e);
    return rc;
}

int regio_pager_extend(struct regio_pager *p, uint64_t page_count)
{
    regio__clear_detail();
    if (p == NULL || page_count > (uint64_t)INT64_MAX / p->page_bytes) {
        regio__set_detail("pager: extend needs a pager and a page count whose bytes fit off_t");
        return -EINVAL;
    }
    uint64_t have = 0;
    int rc = regio_pager_page_count(p, &have);
    if (rc != 0 || have >= page_count)
        return rc;
    /* A filesystem without fallocate still grows the file, sparsely: the
     * new pages read back as never written either way. */
    return set_length(p, (off_t)(page_count * p->page_bytes), true);
}

int regio_pager_truncate(struct regio_pager *p, uint64_t page_count)
{
    regio__clear_detail();
    if (p == NULL || page_count > (uint64_t)INT64_MAX / p->page_bytes) {
        regio__set_detail("pager: truncate needs a pager and a page count whose bytes fit off_t");
        return -EINVAL;
    }
    return set_length(p, (off_t)(page_count * p->page_bytes), false);
}

/* A successful close leaves the detail alone (see regio_wal_reader_close). */
int regio_pager_close(struct regio_pager *p)
{
    if (p == NULL) {
        regio__set_detail("regio_pager_close: NULL pager");
        return -EINVAL;
    }
    struct regio_engine *e = p->e;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    submit_released(p);
    if (p->in_flight > 0) {
        regio__set_detail("%u page operations in flight (%u of them writes parked until the WAL "
                          "is durable past their page LSN)",
                          p->in_flight, p->parked);
        regio__engine_leave(e);
        return -EBUSY;
    }
    /* Nothing in flight: no write is parked or queued either. */
    REGIO_ASSERT(p->writes == 0 && p->parked == 0 && p->retry == NULL && p->slot_wait == NULL);
    rc = regio_file_close(p->f);
    REGIO_ASSERT(rc == 0);
    if (p->dwf != NULL) {
        rc = regio_file_close(p->dwf);
        REGIO_ASSERT(rc == 0);
    }
    drop_gate(p);
    regio__engine_user_put(e);
    regio__engine_leave(e);
    pager_free(p);
    return 0;
}
