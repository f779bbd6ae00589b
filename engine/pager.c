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
#include <stddef.h>
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

#define PAGER_MIN_PAGE_BYTES 4096u
#define PAGER_MAX_PAGE_BYTES 65536u
/* Slice of a synchronous wait that must re-check: in shared mode another
 * thread may reap our completion; a parked write may be released by the WAL
 * without any completion in this ring. */
#define PAGER_SLICE_NS 10000000

enum op_kind { OP_READ, OP_WRITE, OP_SYNC };

struct pager_op {
    struct regio_pager *p;
    uint64_t page_no;
    struct regio_buf b;
    regio_cb cb;
    void *ctx;
    enum op_kind kind;
    int gate_res;          /* what the gate's notification reported */
    struct pager_op *next; /* free list, or the list of released writes */
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
};

static bool page_bytes_valid(uint32_t n)
{
    return n >= PAGER_MIN_PAGE_BYTES && n <= PAGER_MAX_PAGE_BYTES && (n & (n - 1)) == 0;
}

static struct page_trailer *trailer_of(void *page, uint32_t page_bytes)
{
    return (struct page_trailer *)((uint8_t *)page + page_bytes - REGIO_PAGE_TRAILER_BYTES);
}

static uint64_t format2_checksum(const void *page, uint32_t page_bytes, uint64_t page_no)
{
    return regio__xxh3_64_seed(page, PAGE_CHECKSUMMED(page_bytes), page_no ^ PAGE_FORMAT2_SEED);
}

/* Stamp sequence, checksum and page number; the page LSN is the caller's. */
static void fill_trailer(void *page, uint32_t page_bytes, uint64_t page_no, uint64_t seq)
{
    struct page_trailer *t = trailer_of(page, page_bytes);
    regio__le64_put(t->seq_le, seq);
    regio__le64_put(t->checksum_le, format2_checksum(page, page_bytes, page_no));
    regio__le64_put(t->page_no_le, page_no);
}

/* A page of format 1: checksum over the payload before a 16-byte trailer,
 * seeded with the bare page number. */
static bool is_format1(const uint8_t *page, uint32_t page_bytes, uint64_t page_no)
{
    const uint8_t *t = page + page_bytes - 16;
    return regio__le64_get(t + 8) == page_no &&
           regio__le64_get(t) == regio__xxh3_64_seed(page, page_bytes - 16u, page_no);
}

int regio_pager_verify_image(const void *page, uint32_t page_bytes, uint64_t page_no)
{
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
    if (page == NULL || !page_bytes_valid(page_bytes)) {
        regio__set_detail("page %p of %u bytes: want a power of two from 4 KiB to 64 KiB", page,
                          page_bytes);
        return -EINVAL;
    }
    regio__le64_put(trailer_of(page, page_bytes)->lsn_le, lsn);
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
    struct pager_op *op = p->free_ops;
    if (op != NULL)
        p->free_ops = op->next;
    else
        op = malloc(sizeof(*op));
    return op;
}

static void op_put(struct regio_pager *p, struct pager_op *op)
{
    op->next = p->free_ops;
    p->free_ops = op;
}

/* Retire op and call its callback; the engine is entered. */
static void op_finish(struct pager_op *op, int res)
{
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
    if (res == 0) {
        memset(op->b.data, 0, pb); /* past the end of the file */
        res = -ENODATA;
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
    op_finish(ctx, res);
}

/* Stamp the trailer and hand the write to the ring; the engine is entered
 * and the buffer was checked when the write was accepted. */
static int start_write(struct regio_pager *p, struct pager_op *op)
{
    fill_trailer(op->b.data, p->page_bytes, op->page_no, p->next_seq++);
    return regio_file_write(p->f, op->b, op->page_no * p->page_bytes, p->page_bytes, write_done,
                            op);
}

static void push_released(struct regio_pager *p, struct pager_op *op, int res)
{
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

/* The gate's notification, on whatever thread the gate runs it: a shared
 * engine is entered and the write submitted now; an owned engine's owner
 * submits it at its next pager call (submit_released). */
static void gate_ready(void *ctx, int res)
{
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    if (!p->e->shared) {
        push_released(p, op, res);
        return;
    }
    int rc = regio__engine_enter(p->e);
    REGIO_ASSERT(rc == 0);
    release_parked(op, res);
    regio_engine_submit(p->e);
    regio__engine_leave(p->e);
    /* Wake a blocking call of this pager that sleeps on the parked write. */
    pthread_mutex_lock(&p->released_mu);
    pthread_cond_broadcast(&p->released_cond);
    pthread_mutex_unlock(&p->released_mu);
}

/* Write op now, or park it until the gate says its page LSN is durable. */
static int admit_write(struct regio_pager *p, struct pager_op *op)
{
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
    *op = (struct pager_op){p, page_no, b, cb, ctx, write ? OP_WRITE : OP_READ, 0, NULL};
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
    return page_io(p, page_no, b, false, cb, ctx);
}

int regio_pager_write(struct regio_pager *p, uint64_t page_no, struct regio_buf b, regio_cb cb,
                      void *ctx)
{
    return page_io(p, page_no, b, true, cb, ctx);
}

int regio__pager_set_gate(struct regio_pager *p, const struct regio__pager_gate *g)
{
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
        p->gate = g != NULL ? *g : (struct regio__pager_gate){0};
    }
    regio__engine_leave(p->e);
    return rc;
}

uint32_t regio__pager_parked(const struct regio_pager *p)
{
    return p->parked;
}

int regio_pager_submit(struct regio_pager *p)
{
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
    regio_engine_wait(e, 1, slice ? PAGER_SLICE_NS : -1);
}

/* Block until *counter (a pager field guarded by the engine) reaches target. */
static void wait_counter(struct regio_pager *p, const size_t *counter, size_t target)
{
    for (;;) {
        int rc = regio__engine_enter(p->e);
        REGIO_ASSERT(rc == 0);
        submit_released(p);
        bool done = *counter >= target;
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
    w->res = res;
    w->done = 1;
}

/* With a gate, wait until lsn is durable before queueing: a blocking call
 * may block, and waiting here asks the log to flush now instead of parking
 * the write until someone else does. */
static int gate_sync(struct regio_pager *p, uint64_t lsn)
{
    if (p->gate.sync == NULL || lsn == 0)
        return 0;
    return p->gate.sync(p->gate.ctx, lsn);
}

int regio_pager_read_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b)
{
    struct sync_wait w = {0, 0};
    int rc = regio_pager_read(p, page_no, b, sync_cb, &w);
    if (rc != 0)
        return rc;
    wait_counter(p, &w.done, 1);
    return w.res;
}

int regio_pager_write_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b)
{
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
    return w.res;
}

/* ---- Many pages at once -------------------------------------------------------- */

struct many_wait {
    int *results;
    size_t done;
};

struct many_slot {
    struct many_wait *w;
    size_t i;
};

static void many_cb(void *ctx, int res)
{
    struct many_slot *s = ctx;
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
    struct many_wait w = {results, 0};
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
    free(slots);
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += results[i] != (int)p->page_bytes;
    return failed;
}

int regio_pager_read_many_wait(struct regio_pager *p, const uint64_t *page_nos,
                               const struct regio_buf *bufs, int *results, size_t n)
{
    int rc = many_args(p, page_nos, bufs, results, n);
    return rc != 0 || n == 0 ? rc : many_run(p, page_nos, bufs, results, n, false);
}

int regio_pager_write_many_wait(struct regio_pager *p, const uint64_t *page_nos,
                                const struct regio_buf *bufs, int *results, size_t n)
{
    int rc = many_args(p, page_nos, bufs, results, n);
    if (rc != 0 || n == 0)
        return rc;
    rc = gate_sync(p, batch_max_lsn(p, bufs, n));
    return rc != 0 ? rc : many_run(p, page_nos, bufs, results, n, true);
}

/* ---- Sync ---------------------------------------------------------------------- */

static void fsync_done(void *ctx, int res)
{
    op_finish(ctx, res);
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
        *op = (struct pager_op){p, 0, {0}, sync_cb, &w, OP_SYNC, 0, NULL};
        rc = regio_file_fsync(p->f, true, fsync_done, op);
        if (rc == 0)
            p->in_flight++;
        else
            op_put(p, op);
    }
    regio__engine_leave(e);
    if (rc != 0)
        return rc;
    wait_counter(p, &w.done, 1);
    return w.res;
}

/* ---- Open, size, close --------------------------------------------------------- */

static int pager_check_align(struct regio_pager *p, const char *path)
{
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

static void pager_free(struct regio_pager *p)
{
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
    if (e == NULL || path == NULL || out == NULL)
        return -EINVAL;
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
        rc = pager_check_align(p, path);
        if (rc != 0)
            regio_file_close(p->f);
    }
    if (rc == 0)
        rc = regio__engine_enter(e);
    if (rc != 0) {
        pager_free(p);
        return rc;
    }
    regio__engine_user_get(e);
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
    if (p == NULL || count_out == NULL)
        return -EINVAL;
    struct stat st;
    if (fstat(regio_file_fd(p->f), &st) != 0)
        return -errno;
    *count_out = (uint64_t)st.st_size / p->page_bytes;
    return 0;
}

/* ftruncate (grow_only false) or fallocate, falling back to ftruncate
 * where the filesystem has no fallocate, with the engine entered so that a
 * power-loss recording logs the change in order with the I/O. */
static int set_length(struct regio_pager *p, off_t len, bool grow_only)
{
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
    if (p == NULL || page_count > (uint64_t)INT64_MAX / p->page_bytes) {
        regio__set_detail("pager: truncate needs a pager and a page count whose bytes fit off_t");
        return -EINVAL;
    }
    return set_length(p, (off_t)(page_count * p->page_bytes), false);
}

int regio_pager_close(struct regio_pager *p)
{
    if (p == NULL)
        return -EINVAL;
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
    rc = regio_file_close(p->f);
    REGIO_ASSERT(rc == 0);
    regio__engine_user_put(e);
    regio__engine_leave(e);
    pager_free(p);
    return 0;
}
