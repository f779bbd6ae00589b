/*
 * engine/engine.c: one io_uring ring doing O_DIRECT I/O from the arena's
 * registered regions, with request validation before anything is queued,
 * short-transfer and -EAGAIN handling, linked write+fdatasync, in-flight
 * accounting, drain-before-unregister and fault injection.
 *
 * Every request owns an entry of a fixed table (max_in_flight entries). Its
 * SQEs carry user_data = generation << 32 | index << 1 | part, where part 1
 * is the fdatasync linked behind a write (regio_file_write_durable). The generation
 * lets a completion that does not belong to the live request be caught as
 * an invariant violation rather than run someone else's callback.
 *
 * Threads: in owned mode only the creating thread may call in (else -EPERM);
 * in shared mode a recursive mutex is held by every call and also while
 * callbacks run, so a callback sees consistent state and may queue new
 * requests; it is dropped only while a thread sleeps in the kernel.
 * Callbacks run on whichever thread reaps (wait, drain, destroy).
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine_internal.h"
#include "slab_internal.h"
#include "regio/iobuf.h"
#include "stats_internal.h"

#define REQ_NONE UINT32_MAX
/* Longest a shared-mode thread sleeps in the kernel before re-checking. */
#define SHARED_WAIT_SLICE_NS 5000000
/* Largest request table: two CQEs each plus a wake-up NOP must fit the
 * kernel's largest CQ (65536 entries). */
#define REGIO_ENGINE_MAX_IN_FLIGHT 32767u
/* One writer at a time (the engine's owner or lock holder): a relaxed load
 * and store, no locked instruction on the I/O path. */
#define CTR_INC(e, field)                                                                          \
    atomic_store_explicit(&(e)->ctr.field,                                                         \
                          atomic_load_explicit(&(e)->ctr.field, memory_order_relaxed) + 1,         \
                          memory_order_relaxed)
#define CTR_GET(e, field) atomic_load_explicit(&(e)->ctr.field, memory_order_relaxed)
/* user_data of the NOP that wakes other waiters in shared mode. */
#define WAKE_USER_DATA UINT64_MAX
/* user_data of the stall probe's cancel SQEs. */
#define PROBE_USER_DATA (UINT64_MAX - 1)
/* user_data of the stall watchdog's timer. */
#define WATCHDOG_USER_DATA     (UINT64_MAX - 2)
#define STALL_PROBE_DEFAULT_MS 2000

uint32_t regio__test_atomic_unit_bytes;

struct regio__req {
    uint8_t kind;
    bool busy;
    bool datasync;      /* fsync: fdatasync */
    bool dsync;         /* write: RWF_DSYNC */
    bool atomic;        /* write: RWF_ATOMIC (never torn by a power cut) */
    bool sync_only;     /* write_durable: only the sync is being (re)issued */
    bool write_faulted; /* write_durable: an injected fault hit the write part */
    bool hooked;        /* the testing hook prepared an SQE of this request */
    uint8_t pending;    /* SQEs of this request still to complete */
    bool probed;        /* the stall probe asked to cancel this submission */
    uint32_t gen;
    uint32_t next_free;
    uint32_t retries;
    struct regio_file *f;
    struct regio_buf b;
    uint16_t region;
    uint64_t off;
    uint32_t len;
    uint32_t done;
    int fault_err[2]; /* injected result of part 0 / part 1 */
    int wres;         /* write_durable: result of the write part */
    int sres;         /* write_durable: result of the sync part */
    int64_t rec_id[2];
    regio_cb cb;
    void *ctx;
};

/* ---- Entering and leaving a call ----------------------------------------------- */

int regio__engine_enter(const struct regio_engine *e)
{
    if (e->shared) {
        regio__lock((struct regio__lock *)&e->lock);
        return 0;
    }
    if (!pthread_equal(pthread_self(), e->owner)) {
        regio__set_detail("owned-mode engine called from a thread that did not create it");
        return -EPERM;
    }
    return 0;
}

void regio__engine_leave(const struct regio_engine *e)
{
    if (e->shared)
        regio__unlock((struct regio__lock *)&e->lock);
}

/* ---- Request table ------------------------------------------------------------- */

static uint64_t req_user_data(const struct regio_engine *e, const struct regio__req *r,
                              unsigned part)
{
    uint64_t idx = (uint64_t)(r - e->reqs);
    return ((uint64_t)r->gen << 32) | (idx << 1) | part;
}

/* The inverse of req_user_data: the request slot a request CQE names, and
 * the generation it was submitted under. */
static uint32_t user_data_index(uint64_t ud)
{
    return (uint32_t)(ud & 0xffffffffu) >> 1;
}

static uint32_t user_data_gen(uint64_t ud)
{
    return (uint32_t)(ud >> 32);
}

static struct regio__req *req_alloc(struct regio_engine *e)
{
    REGIO_ASSERT(regio__engine_entered(e));
    uint32_t i = e->free_head;
    REGIO_ASSERT(i != REQ_NONE);
    struct regio__req *r = &e->reqs[i];
    e->free_head = r->next_free;
    uint32_t gen = r->gen;
    memset(r, 0, sizeof(*r));
    r->gen = gen;
    r->busy = true;
    r->rec_id[0] = r->rec_id[1] = -1;
    return r;
}

static void req_free(struct regio_engine *e, struct regio__req *r)
{
    REGIO_ASSERT(r->busy && r->pending == 0);
    r->busy = false;
    r->gen = (r->gen + 1) & 0x7fffffffu;
    r->next_free = e->free_head;
    e->free_head = (uint32_t)(r - e->reqs);
}

/* ---- Submission queue ---------------------------------------------------------- */

/* Submit what is queued. The CQ is sized for every SQE the table can have
 * outstanding, so the kernel never refuses a submission for CQ overflow. */
static int flush_sq(struct regio_engine *e)
{
    REGIO_ASSERT(regio__engine_entered(e));
    if (io_uring_sq_ready(&e->ring) == 0)
        return 0;
    CTR_INC(e, enters);
    return io_uring_submit(&e->ring);
}

/* An SQE, submitting queued ones first when the SQ is full, so that n SQEs
 * of one request are always contiguous in the ring (IOSQE_IO_LINK needs it). */
static struct io_uring_sqe *get_sqes(struct regio_engine *e, unsigned n)
{
    REGIO_ASSERT(n >= 1 && n <= 2); /* a request owns at most two SQEs */
    if (io_uring_sq_space_left(&e->ring) < n) {
        int r = flush_sq(e);
        REGIO_ASSERT(r >= 0);
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
    REGIO_ASSERT(sqe != NULL);
    return sqe;
}

/* ---- Fault injection ----------------------------------------------------------- */

void regio__test_hook_update(struct regio_engine *e)
{
    REGIO_ASSERT(regio__engine_entered(e));
    const struct regio__test_hook *t = &e->test;
    bool active = t->rec != NULL;
    for (unsigned k = 0; k < 3; k++)
        active = active || t->faults[k].armed;
    e->hook = active ? &e->test : NULL;
}

/* Decide the fault, if any, for the next SQE of kind op (len bytes, align:
 * the file's offset alignment, which a short transfer must keep). */
static struct regio__fault_hit fault_next(struct regio_engine *e, enum regio_op_kind op,
                                          uint32_t len, uint32_t align)
{
    REGIO_ASSERT((unsigned)op <= REGIO_OP_FSYNC && align > 0);
    struct regio__fault_hit hit = {0, 0, false};
    struct regio__fault_state *st = &e->test.faults[op];
    if (!st->armed)
        return hit;
    st->seen++;
    if (st->seen < st->f.nth)
        return hit;
    if (!st->f.sticky) {
        st->armed = false;
        regio__test_hook_update(e);
    }
    if (st->f.err != 0) {
        hit.err = st->f.err;
    } else if (st->f.stall) {
        hit.stall = true;
    } else if (op != REGIO_OP_FSYNC) {
        uint32_t s = st->f.short_bytes - st->f.short_bytes % align;
        if (s > 0 && s < len)
            hit.short_len = s;
    }
    return hit;
}

/* Why f cannot be armed, or NULL when it can. */
static const char *fault_invalid(const struct regio_fault *f)
{
    if ((unsigned)f->op > REGIO_OP_FSYNC)
        return "fault: op is not a regio_op_kind";
    if (f->nth == 0)
        return "fault: nth is 1-based";
    if (f->err > 0)
        return "fault: err must be a negative errno";
    if (f->err == 0 && f->short_bytes == 0 && !f->stall)
        return "fault: none of err, short_bytes, stall given";
    if (f->op == REGIO_OP_FSYNC && f->err == 0 && !f->stall)
        return "fault: an fsync cannot be short";
    return NULL;
}

int regio_engine_fault_arm(struct regio_engine *e, const struct regio_fault *f)
{
    regio__clear_detail();
    if (e == NULL || f == NULL) {
        regio__set_detail("regio_engine_fault_arm: %s is NULL", e == NULL ? "e" : "f");
        return -EINVAL;
    }
    const char *why = fault_invalid(f);
    if (why != NULL) {
        regio__set_detail("%s", why);
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    e->test.faults[f->op] = (struct regio__fault_state){.armed = true, .f = *f, .seen = 0};
    regio__test_hook_update(e);
    REGIO_ASSERT(e->hook == &e->test);
    regio__engine_leave(e);
    return 0;
}

void regio_engine_fault_clear(struct regio_engine *e)
{
    if (e == NULL || regio__engine_enter(e) != 0)
        return;
    memset(e->test.faults, 0, sizeof(e->test.faults));
    regio__test_hook_update(e);
    /* Unarmed, the hook stays only for a recording. */
    REGIO_ASSERT(e->hook == NULL || e->test.rec != NULL);
    regio__engine_leave(e);
}

/* ---- Preparing SQEs ------------------------------------------------------------ */

/* An injected stall: a timer that outlives any test, so that only the stall
 * probe's cancel ends it. The kernel reads the timespec at submission. */
static struct __kernel_timespec stall_ts = {3600, 0};

static void prep_stall(struct io_uring_sqe *sqe)
{
    io_uring_prep_timeout(sqe, &stall_ts, 0, 0);
}

/* The READ_FIXED or WRITE_FIXED of n bytes from where r has got to. */
static void prep_rw_sqe(struct regio__req *r, struct io_uring_sqe *sqe, uint32_t n)
{
    char *data = (char *)r->b.data + r->done;
    uint64_t off = r->off + r->done;
    if (r->kind != REGIO__REQ_READ) {
        io_uring_prep_write_fixed(sqe, (int)r->f->slot, data, n, off, r->region);
        sqe->rw_flags = (r->dsync ? RWF_DSYNC : 0) |
                        (r->atomic && regio__test_atomic_unit_bytes == 0 ? REGIO__RWF_ATOMIC : 0);
    } else {
        io_uring_prep_read_fixed(sqe, (int)r->f->slot, data, n, off, r->region);
    }
    sqe->flags |= IOSQE_FIXED_FILE;
}

/* The testing hook's part of a read or write SQE: an armed fault replaces
 * or shortens it, a recording logs the write. r is marked so that its
 * completion goes through hook_complete. */
static void hook_prep_rw(struct regio_engine *e, struct regio__req *r, struct io_uring_sqe *sqe)
{
    REGIO_ASSERT(e->hook == &e->test); /* the only thing it ever points at */
    bool write = r->kind != REGIO__REQ_READ;
    uint32_t remaining = r->len - r->done;
    struct regio__fault_hit hit =
        fault_next(e, write ? REGIO_OP_WRITE : REGIO_OP_READ, remaining, r->f->off_align);
    r->hooked = true;
    if (r->kind == REGIO__REQ_WRITE_SYNC && (hit.err != 0 || hit.short_len != 0))
        r->write_faulted = true;
    if (hit.err != 0) {
        /* The operation is not run: a NOP carries the injected error back
         * through the ring, so completion order stays the ring's. */
        io_uring_prep_nop(sqe);
        r->fault_err[0] = hit.err;
        return;
    }
    if (hit.stall) {
        prep_stall(sqe);
        return;
    }
    uint32_t n = hit.short_len ? hit.short_len : remaining;
    REGIO_ASSERT(n > 0 && n <= remaining);
    prep_rw_sqe(r, sqe, n);
    if (write)
        r->rec_id[0] = regio__rec_write(e, r->f, (char *)r->b.data + r->done, r->off + r->done, n,
                                        r->dsync, r->atomic);
}

static void prep_rw(struct regio_engine *e, struct regio__req *r, unsigned sqe_flags)
{
    REGIO_ASSERT(r->done < r->len);
    struct io_uring_sqe *sqe = get_sqes(e, r->kind == REGIO__REQ_WRITE_SYNC ? 2 : 1);
    if (REGIO_UNLIKELY(e->hook != NULL))
        hook_prep_rw(e, r, sqe);
    else
        prep_rw_sqe(r, sqe, r->len - r->done);
    sqe->flags |= sqe_flags;
    io_uring_sqe_set_data64(sqe, req_user_data(e, r, 0));
    r->pending++;
    CTR_INC(e, submitted);
}

static void prep_sync_sqe(struct regio__req *r, struct io_uring_sqe *sqe)
{
    REGIO_ASSERT(r->kind == REGIO__REQ_FSYNC || r->kind == REGIO__REQ_WRITE_SYNC);
    io_uring_prep_fsync(sqe, (int)r->f->slot, r->datasync ? IORING_FSYNC_DATASYNC : 0);
    sqe->flags |= IOSQE_FIXED_FILE;
}

/* The testing hook's part of an fsync SQE (part of r): a fault replaces it,
 * a recording logs it. */
static void hook_prep_sync(struct regio_engine *e, struct regio__req *r, struct io_uring_sqe *sqe,
                           unsigned part, bool linked)
{
    REGIO_ASSERT(e->hook == &e->test && part < 2);
    struct regio__fault_hit hit = fault_next(e, REGIO_OP_FSYNC, 0, 1);
    r->hooked = true;
    if (hit.err != 0) {
        io_uring_prep_nop(sqe);
        r->fault_err[part] = hit.err;
    } else if (hit.stall) {
        prep_stall(sqe);
    } else {
        prep_sync_sqe(r, sqe);
        r->rec_id[part] = regio__rec_sync(e, r->f, linked);
    }
}

static void prep_sync(struct regio_engine *e, struct regio__req *r, unsigned part, bool linked)
{
    REGIO_ASSERT(part < 2 && (part == 1) == (r->kind == REGIO__REQ_WRITE_SYNC));
    struct io_uring_sqe *sqe = get_sqes(e, 1);
    if (REGIO_UNLIKELY(e->hook != NULL))
        hook_prep_sync(e, r, sqe, part, linked);
    else
        prep_sync_sqe(r, sqe);
    io_uring_sqe_set_data64(sqe, req_user_data(e, r, part));
    r->pending++;
    CTR_INC(e, submitted);
}

static void issue_pair(struct regio_engine *e, struct regio__req *r)
{
    REGIO_ASSERT(r->kind == REGIO__REQ_WRITE_SYNC && r->pending == 0);
    r->probed = false;
    r->sync_only = false;
    r->write_faulted = false;
    r->rec_id[0] = r->rec_id[1] = -1;
    prep_rw(e, r, IOSQE_IO_LINK);
    prep_sync(e, r, 1, true);
}

static void issue_sync_only(struct regio_engine *e, struct regio__req *r)
{
    REGIO_ASSERT(r->kind == REGIO__REQ_WRITE_SYNC && r->pending == 0);
    r->probed = false;
    r->sync_only = true;
    r->write_faulted = false;
    r->rec_id[1] = -1;
    prep_sync(e, r, 1, false);
}

static void issue(struct regio_engine *e, struct regio__req *r)
{
    REGIO_ASSERT(r->busy && r->pending == 0); /* never two submissions at once */
    r->probed = false;
    r->rec_id[0] = -1;
    switch (r->kind) {
    case REGIO__REQ_READ:
    case REGIO__REQ_WRITE:
        prep_rw(e, r, 0);
        break;
    case REGIO__REQ_FSYNC:
        prep_sync(e, r, 0, false);
        break;
    default:
        issue_pair(e, r);
        break;
    }
}

/* ---- Completions --------------------------------------------------------------- */

static bool retryable(int res)
{
    return res == -EAGAIN || res == -EINTR;
}

/* Run the callback of r with res and release everything it held. The buffer
 * is released first, so the callback may free or reuse it. Returns 1. */
static int finish(struct regio_engine *e, struct regio__req *r, int res)
{
    REGIO_ASSERT(r->busy && r->pending == 0);
    if (r->kind != REGIO__REQ_FSYNC) {
        int rc = regio_slab_io_end(e->slab, r->b);
        REGIO_ASSERT(rc == 0);
    }
    REGIO_ASSERT(r->f->in_flight > 0);
    r->f->in_flight--;
    regio_cb cb = r->cb;
    void *ctx = r->ctx;
    req_free(e, r);
    uint32_t before = atomic_fetch_sub_explicit(&e->in_flight, 1, memory_order_release);
    REGIO_ASSERT(before > 0);
    CTR_INC(e, completed);
    if (res < 0)
        CTR_INC(e, errors);
    if (cb != NULL) {
        e->cb_depth++;
        cb(ctx, res);
        e->cb_depth--;
    }
    return 1;
}

static bool retry_ok(struct regio_engine *e, struct regio__req *r)
{
    REGIO_ASSERT(r->retries <= e->retry_limit);
    if (r->retries >= e->retry_limit)
        return false;
    r->retries++;
    CTR_INC(e, retries);
    return true;
}

/* res is the stall probe's cancel of a submission the kernel had not
 * started: it did nothing, so it is resubmitted. Past the retry limit the
 * request fails with -ETIMEDOUT, which says more than -ECANCELED would. */
static bool stall_cancelled(const struct regio__req *r, int res)
{
    return res == -ECANCELED && r->probed;
}

static bool stall_retry(struct regio_engine *e, struct regio__req *r, int *res)
{
    REGIO_ASSERT(*res < 0);
    if (!stall_cancelled(r, *res))
        return false;
    if (!retry_ok(e, r)) {
        regio__set_detail("request stalled in the kernel; cancelled and resubmitted %u times",
                          r->retries);
        *res = -ETIMEDOUT;
        return false;
    }
    CTR_INC(e, stall_resubmits);
    return true;
}

/* A read or write SQE completed with res. */
static int rw_done(struct regio_engine *e, struct regio__req *r, int res)
{
    if (res < 0) {
        if (stall_retry(e, r, &res) || (retryable(res) && retry_ok(e, r))) {
            issue(e, r);
            return 0;
        }
        return finish(e, r, res);
    }
    if (res == 0) {
        /* A read of nothing is the end of the file; a write of nothing
         * would loop for ever, and the kernel reports no reason. */
        return finish(e, r, r->kind == REGIO__REQ_READ ? (int)r->done : -EIO);
    }
    r->done += (uint32_t)res;
    REGIO_ASSERT(r->done <= r->len);
    if (r->done == r->len)
        return finish(e, r, (int)r->len);
    /* A short read that ends off the alignment is the end of the file: the
     * remainder could not be asked for with O_DIRECT anyway. */
    if (r->kind == REGIO__REQ_READ && r->done % r->f->off_align != 0)
        return finish(e, r, (int)r->done);
    CTR_INC(e, short_resubmits);
    issue(e, r);
    return 0;
}

/* Both SQEs of a write_durable pair (or its re-issued sync) completed. */
static int pair_done(struct regio_engine *e, struct regio__req *r)
{
    REGIO_ASSERT(r->kind == REGIO__REQ_WRITE_SYNC && r->pending == 0);
    if (!r->sync_only) {
        int w = r->wres;
        if (w < 0) {
            if (stall_retry(e, r, &w) || (retryable(w) && retry_ok(e, r))) {
                issue_pair(e, r);
                return 0;
            }
            return finish(e, r, w);
        }
        if (w == 0)
            return finish(e, r, -EIO);
        r->done += (uint32_t)w;
        REGIO_ASSERT(r->done <= r->len);
        if (r->done < r->len) {
            /* The kernel cancelled the linked sync (-ECANCELED): write the
             * remainder and sync again. */
            CTR_INC(e, short_resubmits);
            issue_pair(e, r);
            return 0;
        }
    }
    int s = r->sres;
    if (s >= 0)
        return finish(e, r, (int)r->len);
    /* A sync the kernel cancelled because its write came up short is
     * retried like one the stall probe cancelled before it started. */
    if (stall_retry(e, r, &s) || ((s == -ECANCELED || retryable(s)) && retry_ok(e, r))) {
        issue_sync_only(e, r);
        return 0;
    }
    return finish(e, r, s);
}

/* The testing hook's part of a completion of part (0/1) of r, which the hook
 * prepared: the injected result replaces res, the recording logs it.
 * Returns the result the request goes on with. */
static int hook_complete(struct regio_engine *e, struct regio__req *r, unsigned part, int res)
{
    REGIO_ASSERT(r->hooked);
    REGIO_ASSERT(part < 2);
    if (r->fault_err[part] != 0) {
        res = r->fault_err[part];
        r->fault_err[part] = 0;
    }
    /* The kernel cancels a sync linked to a failed or short write; an
     * injected fault on the write must look the same. */
    if (r->kind == REGIO__REQ_WRITE_SYNC && part == 1 && r->write_faulted && !r->sync_only)
        res = -ECANCELED;
    regio__rec_complete(e, r->rec_id[part], res);
    if (r->kind == REGIO__REQ_WRITE_SYNC && part == 0)
        regio__rec_linked_start(e, r->rec_id[1], r->rec_id[0]);
    return res;
}

static void watchdog_fired(struct regio_engine *e);

static int handle_cqe(struct regio_engine *e, uint64_t ud, int res)
{
    REGIO_ASSERT(regio__engine_entered(e));
    if (ud == WAKE_USER_DATA) {
        e->wake_pending = false;
        return 0;
    }
    if (ud == PROBE_USER_DATA) {
        REGIO_ASSERT(e->probe_cqes > 0);
        e->probe_cqes--;
        return 0;
    }
    if (ud == WATCHDOG_USER_DATA) {
        watchdog_fired(e);
        return 0;
    }
    e->progress++;
    uint32_t idx = user_data_index(ud);
    unsigned part = (unsigned)(ud & 1);
    REGIO_ASSERT(idx < e->max_in_flight);
    struct regio__req *r = &e->reqs[idx];
    REGIO_ASSERT(r->busy && r->gen == user_data_gen(ud) && r->pending > 0);
    r->pending--;
    if (REGIO_UNLIKELY(r->hooked))
        res = hook_complete(e, r, part, res);
    switch (r->kind) {
    case REGIO__REQ_READ:
    case REGIO__REQ_WRITE:
        return rw_done(e, r, res);
    case REGIO__REQ_FSYNC:
        if (res < 0 && (stall_retry(e, r, &res) || (retryable(res) && retry_ok(e, r)))) {
            issue(e, r);
            return 0;
        }
        return finish(e, r, res < 0 ? res : 0);
    default:
        break;
    }
    if (part == 0)
        r->wres = res;
    else
        r->sres = res;
    return r->pending == 0 ? pair_done(e, r) : 0;
}

/*
 * Start loading the data of the completion after the one about to run, if
 * it is a read that returned bytes on a file whose reads' callbacks read
 * their buffer (prefetch_reads: the pager's files, where the hash reads
 * every byte), since a buffer fresh from DMA is not in this core's cache.
 * For a caller that never looks at the bytes the prefetch is pure cost. Asking for the next
 * buffer's lines while the current callback runs overlaps the two. Only the first PREFETCH_BYTES:
 * the hardware's stream prefetcher follows on, and prefetching a whole
 * page stalls on the core's fill buffers (docs/decisions.md, "The next
 * completed read's buffer is prefetched"). The entry is only a hint: a
 * stale or foreign one is checked like any CQE, and a prefetch never
 * faults.
 */
#define PREFETCH_BYTES 3072
static void prefetch_next_read(struct regio_engine *e)
{
    if (io_uring_cq_ready(&e->ring) < 2)
        return;
    unsigned head = *e->ring.cq.khead + 1;
    const struct io_uring_cqe *nx = &e->ring.cq.cqes[head & e->ring.cq.ring_mask];
    uint64_t ud = nx->user_data;
    if (nx->res <= 0 || ud >= WATCHDOG_USER_DATA) /* the engine's own CQEs */
        return;
    uint32_t idx = user_data_index(ud);
    if (idx >= e->max_in_flight)
        return;
    const struct regio__req *r = &e->reqs[idx];
    if (!r->busy || r->kind != REGIO__REQ_READ || r->gen != user_data_gen(ud) ||
        !r->f->prefetch_reads)
        return;
    e->prefetched++;
    const char *d = (const char *)r->b.data + r->done;
    int n = nx->res < PREFETCH_BYTES ? nx->res : PREFETCH_BYTES;
    for (int k = 0; k < n; k += 64)
        __builtin_prefetch(d + k);
}

/*
 * Whether the SQEs that callbacks have queued during a reap should go to the
 * kernel now rather than with the wait's own submit after the batch. They
 * should when the kernel holds no more requests than are queued: the
 * device is then running dry while the rest of the batch's callbacks run.
 * While it still holds more, an early submit only adds an io_uring_enter
 * (and on a VM a doorbell exit) for no IOPS (docs/decisions.md, "Requests
 * queued by callbacks"). The kernel's share is what is in flight less what is queued and what has
 * completed unreaped; engine-internal SQEs (the watchdog timer, a wake-up
 * NOP) make it a slight underestimate, which errs towards submitting.
 */
static bool submit_early(struct regio_engine *e)
{
    int64_t queued = io_uring_sq_ready(&e->ring);
    int64_t unreaped = io_uring_cq_ready(&e->ring);
    if (queued == 0 || unreaped == 0)
        return false; /* nothing to send, or the wait's submit comes next */
    int64_t in_kernel = (int64_t)atomic_load(&e->in_flight) - queued - unreaped;
    return queued >= in_kernel;
}

/* Run every completion already in the CQ; returns the callbacks run. Each
 * CQE is consumed before it is handled, so a callback that re-enters the
 * engine never sees it again. Requests that callbacks queue go out during
 * the batch when submit_early says the device needs them, else with the
 * wait's own submit after it. A failed early submit leaves the SQEs
 * queued; that submit reports it. */
static int reap(struct regio_engine *e)
{
    struct io_uring_cqe *cqe;
    int ran = 0;
    while (io_uring_peek_cqe(&e->ring, &cqe) == 0 && cqe != NULL) {
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        prefetch_next_read(e);
        io_uring_cqe_seen(&e->ring, cqe);
        ran += handle_cqe(e, ud, res);
        if (submit_early(e))
            (void)flush_sq(e);
    }
    return ran;
}

/* ---- Waiting ------------------------------------------------------------------- */

/* Shared mode: other threads may be blocked in the kernel waiting for CQEs
 * this thread has just consumed. A NOP completion wakes them so they can
 * re-check their condition instead of sleeping until their timeout. */
static void wake_waiters(struct regio_engine *e)
{
    REGIO_ASSERT(regio__engine_entered(e));
    if (!e->shared || e->waiters == 0 || e->wake_pending)
        return;
    struct io_uring_sqe *sqe = get_sqes(e, 1);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, WAKE_USER_DATA);
    e->wake_pending = true;
    flush_sq(e);
}

/*
 * The stall probe. io-wq has been seen to queue a request and never run it:
 * the SQE consumed, no worker thread, no CQE, for ever (docs/decisions.md).
 * When a whole watchdog period passes with requests in flight and not one
 * of their completions, ask the kernel to cancel every submission in flight. One it had not
 * started completes with -ECANCELED and is resubmitted (stall_retry). One
 * that is running or in the device is not stopped: its cancel completes
 * with -EALREADY or -ENOENT. No second probe goes out while the cancels of
 * one are outstanding, which bounds the CQEs the probe adds.
 */
static void stall_probe(struct regio_engine *e)
{
    REGIO_ASSERT(e->probe_cqes == 0); /* one probe's cancels at a time */
    CTR_INC(e, stall_probes);
    for (uint32_t i = 0; i < e->max_in_flight; i++) {
        struct regio__req *r = &e->reqs[i];
        if (!r->busy || r->pending == 0)
            continue;
        r->probed = true;
        unsigned parts = r->kind == REGIO__REQ_WRITE_SYNC ? 2 : 1;
        for (unsigned part = 0; part < parts; part++) {
            struct io_uring_sqe *sqe = get_sqes(e, 1);
            io_uring_prep_cancel64(sqe, req_user_data(e, r, part), 0);
            io_uring_sqe_set_data64(sqe, PROBE_USER_DATA);
            e->probe_cqes++;
        }
    }
    /* Two cancels per request at most: ring_setup sized the CQ for them. */
    REGIO_ASSERT(e->probe_cqes <= 2 * e->max_in_flight);
    (void)flush_sq(e); /* a failed submit leaves them queued for the next */
}

/* The watchdog's timer CQE: a period has passed since it was armed. */
static void watchdog_fired(struct regio_engine *e)
{
    REGIO_ASSERT(e->watchdog_armed);
    e->watchdog_armed = false;
    if (e->progress == e->progress_at_arm && atomic_load(&e->in_flight) > 0 && e->probe_cqes == 0)
        stall_probe(e);
}

/* Before a thread sleeps for completions: make sure a watchdog timer is in
 * the ring, so that a request that never completes wakes the sleeper after
 * a period instead of never. One timer serves every wait of a busy period
 * (it fires once per period, not once per wait), which keeps timers off
 * the per-request path. It goes out with the sleeper's own submit. */
static void watchdog_arm(struct regio_engine *e)
{
    REGIO_ASSERT(regio__engine_entered(e));
    if (e->watchdog_armed || atomic_load(&e->in_flight) == 0)
        return;
    struct io_uring_sqe *sqe = get_sqes(e, 1);
    io_uring_prep_timeout(sqe, &e->watchdog_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, WATCHDOG_USER_DATA);
    e->watchdog_armed = true;
    e->progress_at_arm = e->progress;
}

/*
 * How many CQEs an owned engine's sleep asks the kernel for: the callbacks
 * the caller still wants, but never more than the requests in flight (each
 * posts at least one CQE), so the count can always be reached. Asking for
 * the whole batch in one io_uring_enter is what min_complete is for: a
 * reader that reaps a quarter of its depth at a time enters the kernel once
 * per batch instead of once per wake-up (docs/decisions.md, "A wait asks
 * the kernel for the whole batch").
 */
static unsigned wait_count(const struct regio_engine *e, unsigned want)
{
    unsigned in_flight = atomic_load(&e->in_flight);
    if (want > in_flight)
        want = in_flight;
    return want > 0 ? want : 1;
}

/* A sleep for more than one CQE could outlast a stalled request: the
 * watchdog's timer posts one CQE, not the count. Such a sleep is bounded by
 * the watchdog's period, after which the loop reaps the timer and the probe
 * runs. */
static struct __kernel_timespec *wait_bound(struct regio_engine *e, unsigned nr,
                                            struct __kernel_timespec *ts)
{
    if (nr <= 1)
        return ts;
    const struct __kernel_timespec *w = &e->watchdog_ts;
    if (ts == NULL || ts->tv_sec > w->tv_sec ||
        (ts->tv_sec == w->tv_sec && ts->tv_nsec > w->tv_nsec))
        return &e->watchdog_ts;
    return ts;
}

/* Block in the kernel until want CQEs are ready (an owned engine; a shared
 * one wakes at the first) or ts passes (NULL: no limit). */
static int block(struct regio_engine *e, struct __kernel_timespec *ts, unsigned want)
{
    REGIO_ASSERT(regio__engine_entered(e));
    CTR_INC(e, enters);
    watchdog_arm(e);
    if (!e->shared) {
        struct io_uring_cqe *cqe;
        unsigned nr = wait_count(e, want);
        return io_uring_submit_and_wait_timeout(&e->ring, &cqe, nr, wait_bound(e, nr, ts), NULL);
    }
    int rc = flush_sq(e);
    if (rc < 0)
        return rc;
    /* Wait without the lock, through the raw syscall, which touches no
     * user-space ring state that another thread may be changing. The wait
     * is sliced: between our unlock and our entering the kernel, another
     * thread may reap our completion and even the wake-up NOP it posted
     * for us, and the kernel would then sleep on an empty CQ. */
    struct __kernel_timespec slice = {0, SHARED_WAIT_SLICE_NS};
    if (ts == NULL || ts->tv_sec > 0 || ts->tv_nsec > SHARED_WAIT_SLICE_NS)
        ts = &slice;
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.sigmask_sz = _NSIG / 8;
    arg.ts = (uint64_t)(uintptr_t)ts;
    int fd = e->ring.ring_fd;
    e->waiters++;
    regio__unlock(&e->lock);
    long r = syscall(__NR_io_uring_enter, fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                     &arg, sizeof(arg));
    int err = r < 0 ? -errno : 0;
    regio__lock(&e->lock);
    REGIO_ASSERT(e->waiters > 0);
    e->waiters--;
    return err;
}

/*
 * Reap until min_complete callbacks ran or timeout_ns passes. idle_waits
 * selects what an empty engine means. false (drain, the pager, the WAL):
 * nothing in flight ends the wait at once, since the caller only waits for
 * requests it knows of. true (regio_engine_wait): the caller waits for
 * callbacks, so an empty engine is waited on like a slow one: until the
 * timeout, or, shared, until a request another thread submits completes.
 * An owned engine that emptied after running some callbacks returns them:
 * no more can come.
 */
static int wait_entered(struct regio_engine *e, unsigned min_complete, int64_t timeout_ns,
                        bool idle_waits)
{
    REGIO_ASSERT(regio__engine_entered(e));
    int64_t deadline = timeout_ns > 0 ? regio__now_ns() + timeout_ns : 0;
    int ran = 0;
    for (;;) {
        bool busy = atomic_load(&e->in_flight) > 0 || (idle_waits && (e->shared || ran == 0));
        bool need = (unsigned)ran < min_complete && busy && io_uring_cq_ready(&e->ring) == 0;
        int rc;
        if (!need && io_uring_cq_ready(&e->ring) > 0 && io_uring_sq_ready(&e->ring) == 0) {
            /* Completions are posted and nothing waits to be submitted: reap
             * them without entering the kernel (an RWF_DSYNC write often
             * completes inside its own submit). */
            rc = 0;
        } else if (!need || timeout_ns == 0) {
            CTR_INC(e, enters);
            rc = io_uring_submit_and_get_events(&e->ring);
        } else if (timeout_ns < 0) {
            rc = block(e, NULL, min_complete - (unsigned)ran);
        } else {
            int64_t left = deadline - regio__now_ns();
            if (left <= 0)
                break;
            struct __kernel_timespec ts = {left / 1000000000, left % 1000000000};
            rc = block(e, &ts, min_complete - (unsigned)ran);
        }
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            if (ran == 0)
                return rc;
            break;
        }
        int n = reap(e);
        if (n > 0)
            wake_waiters(e);
        ran += n;
        bool idle = atomic_load(&e->in_flight) == 0 && !(idle_waits && (e->shared || ran == 0));
        if ((unsigned)ran >= min_complete || idle || timeout_ns == 0)
            break;
        if (timeout_ns > 0 && regio__now_ns() >= deadline)
            break;
    }
    if (ran == 0 && min_complete > 0 && (idle_waits || atomic_load(&e->in_flight) > 0))
        return -ETIMEDOUT;
    return ran;
}

int regio__engine_wait(struct regio_engine *e, unsigned min_complete, int64_t timeout_ns)
{
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    rc = wait_entered(e, min_complete, timeout_ns, false);
    regio__engine_leave(e);
    return rc;
}

int regio_engine_wait(struct regio_engine *e, unsigned min_complete, int64_t timeout_ns)
{
    regio__clear_detail();
    if (e == NULL) {
        regio__set_detail("regio_engine_wait: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    if (!e->shared && timeout_ns < 0 && min_complete > 0 && atomic_load(&e->in_flight) == 0) {
        /* Only this thread can submit to an owned engine, and it would be
         * asleep: the wait could never end. */
        regio__set_detail("regio_engine_wait: no limit and nothing in flight on an owned engine "
                          "(it would never return)");
        rc = -EDEADLK;
    } else {
        rc = wait_entered(e, min_complete, timeout_ns, true);
        if (rc == -ETIMEDOUT)
            regio__set_detail("regio_engine_wait: no callback ran within the timeout");
    }
    regio__engine_leave(e);
    return rc;
}

static int drain_entered(struct regio_engine *e, int64_t timeout_ns)
{
    REGIO_ASSERT(regio__engine_entered(e));
    int64_t deadline = timeout_ns > 0 ? regio__now_ns() + timeout_ns : 0;
    while (atomic_load(&e->in_flight) > 0) {
        int64_t left = -1;
        if (timeout_ns >= 0) {
            left = timeout_ns == 0 ? 0 : deadline - regio__now_ns();
            if (left < 0)
                left = 0;
        }
        int rc = wait_entered(e, 1, left, false);
        if (rc < 0 && rc != -ETIMEDOUT)
            return rc;
        if (left == 0 && atomic_load(&e->in_flight) > 0)
            return -ETIMEDOUT;
        if (timeout_ns > 0 && regio__now_ns() >= deadline && atomic_load(&e->in_flight) > 0)
            return -ETIMEDOUT;
    }
    return 0;
}

int regio_engine_drain(struct regio_engine *e, int64_t timeout_ns)
{
    regio__clear_detail();
    if (e == NULL) {
        regio__set_detail("regio_engine_drain: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    rc = drain_entered(e, timeout_ns);
    /* Still entered: nobody could queue more since the drain ended. */
    REGIO_ASSERT(rc != 0 || atomic_load(&e->in_flight) == 0);
    regio__engine_leave(e);
    return rc;
}

int regio_engine_submit(struct regio_engine *e)
{
    regio__clear_detail();
    if (e == NULL) {
        regio__set_detail("regio_engine_submit: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    rc = flush_sq(e);
    regio__engine_leave(e);
    return rc;
}

uint32_t regio_engine_in_flight(const struct regio_engine *e)
{
    return e == NULL ? 0 : atomic_load(&e->in_flight);
}

/* Any thread, any mode: the counters are atomics and the rest never
 * changes after create. */
int regio_engine_stats(const struct regio_engine *e, struct regio_engine_stats *out)
{
    if (e == NULL || out == NULL) {
        regio__set_detail("regio_engine_stats: NULL engine or out pointer");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->setup_flags = e->setup_flags;
    out->cloned = e->cloned;
    out->shared = e->shared;
    out->in_flight = atomic_load(&e->in_flight);
    REGIO_ASSERT(out->in_flight <= e->max_in_flight); /* one table entry per request */
    out->submitted = CTR_GET(e, submitted);
    out->completed = CTR_GET(e, completed);
    out->errors = CTR_GET(e, errors);
    out->retries = CTR_GET(e, retries);
    out->short_resubmits = CTR_GET(e, short_resubmits);
    out->enters = CTR_GET(e, enters);
    out->stall_probes = CTR_GET(e, stall_probes);
    out->stall_resubmits = CTR_GET(e, stall_resubmits);
    return 0;
}

void regio__engine_stats_section(struct regio_stats_engine *s, const struct regio_engine_stats *st)
{
    s->flags = (st->cloned ? REGIO_STATS_ENGINE_CLONED : 0u) |
               (st->shared ? REGIO_STATS_ENGINE_SHARED : 0u);
    s->setup_flags = st->setup_flags;
    s->in_flight = st->in_flight;
    s->submitted = st->submitted;
    s->completed = st->completed;
    s->errors = st->errors;
    s->retries = st->retries;
    s->short_resubmits = st->short_resubmits;
    s->enters = st->enters;
    s->stall_probes = st->stall_probes;
    s->stall_resubmits = st->stall_resubmits;
}

/* The live stats provider: runs on the arena's publisher thread. */
static void stats_fill(void *ctx, void *section)
{
    struct regio_engine_stats st;
    regio_engine_stats(ctx, &st);
    regio__engine_stats_section(section, &st);
}

/* ---- Accepting requests -------------------------------------------------------- */

static int check_file(const struct regio_engine *e, const struct regio_file *f)
{
    if (e->closing) {
        regio__set_detail("engine is being destroyed");
        return -EBADF;
    }
    if (f == NULL || f->e != e) {
        regio__set_detail("file does not belong to this engine");
        return -EBADF;
    }
    if (!f->open) {
        regio__set_detail("file is closed");
        return -EBADF;
    }
    return 0;
}

/* Every check that does not change state; returns the region of b.data. */
static int check_rw(const struct regio_engine *e, const struct regio_file *f, struct regio_buf b,
                    uint64_t off, uint32_t len)
{
    int rc = check_file(e, f);
    if (rc != 0)
        return rc;
    if (len == 0) {
        regio__set_detail("length 0");
        return -EINVAL;
    }
    if (len > b.cap_bytes) {
        regio__set_detail("length %u exceeds the buffer's %u bytes", len, b.cap_bytes);
        return -EINVAL;
    }
    int region = regio_arena_region_of(e->arena, b.data, len);
    if (region < 0) {
        regio__set_detail("buffer %p + %u is not inside one region of the engine's arena", b.data,
                          len);
        return region;
    }
    if ((uintptr_t)b.data % f->mem_align != 0 || off % f->off_align != 0 ||
        len % f->off_align != 0) {
        regio__set_detail("O_DIRECT needs address aligned to %u and offset/length to %u "
                          "(address %p, offset %llu, length %u)",
                          f->mem_align, f->off_align, b.data, (unsigned long long)off, len);
        return -EINVAL;
    }
    if (off > UINT64_MAX - len || off + len > (uint64_t)INT64_MAX) {
        regio__set_detail("offset %llu + length %u out of range", (unsigned long long)off, len);
        return -EINVAL;
    }
    return region;
}

static int check_capacity(const struct regio_engine *e)
{
    if (atomic_load(&e->in_flight) >= e->max_in_flight) {
        regio__set_detail("%u requests in flight (max_in_flight)", e->max_in_flight);
        return -EAGAIN;
    }
    return 0;
}

static struct regio__req *accept_req(struct regio_engine *e, struct regio_file *f, uint8_t kind,
                                     regio_cb cb, void *ctx)
{
    struct regio__req *r = req_alloc(e);
    r->kind = kind;
    r->f = f;
    r->cb = cb;
    r->ctx = ctx;
    f->in_flight++;
    atomic_fetch_add_explicit(&e->in_flight, 1, memory_order_relaxed);
    return r;
}

static int rw_entered(struct regio_engine *e, struct regio_file *f, struct regio_buf b,
                      uint64_t off, uint32_t len, uint8_t kind, unsigned wflags, regio_cb cb,
                      void *ctx)
{
    int region = check_rw(e, f, b, off, len);
    if (region < 0)
        return region;
    int rc = check_capacity(e);
    if (rc != 0)
        return rc;
    /* Last, since it marks the buffer in flight: the slab's own checks
     * (live, current generation, inside the slot) in one step. */
    int slab_region = regio_slab_io_begin(e->slab, b);
    if (slab_region < 0)
        return slab_region;
    if (slab_region != region) {
        regio_slab_io_end(e->slab, b);
        regio__set_detail("buffer handle names region %d but its data is in region %d", slab_region,
                          region);
        return -EFAULT;
    }
    struct regio__req *r = accept_req(e, f, kind, cb, ctx);
    r->b = b;
    r->region = (uint16_t)region;
    r->off = off;
    r->len = len;
    r->dsync = (wflags & REGIO_WRITE_DSYNC) != 0;
    r->atomic = (wflags & REGIO_WRITE_ATOMIC) != 0;
    r->datasync = true;
    issue(e, r);
    return 0;
}

/* The engine a file handle belongs to, or NULL (with a detail) for a NULL
 * handle. A file stays allocated until its engine is destroyed, so a closed
 * file still names its engine and check_file reports it closed. */
static struct regio_engine *file_engine(const struct regio_file *f)
{
    if (f == NULL) {
        regio__set_detail("no file (NULL handle)");
        return NULL;
    }
    REGIO_ASSERT(f->e != NULL);
    return f->e;
}

static int rw_call(struct regio_file *f, struct regio_buf b, uint64_t off, uint32_t len,
                   uint8_t kind, unsigned wflags, regio_cb cb, void *ctx)
{
    struct regio_engine *e = file_engine(f);
    if (e == NULL)
        return -EBADF;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    regio__clear_detail();
    rc = rw_entered(e, f, b, off, len, kind, wflags, cb, ctx);
    regio__engine_leave(e);
    return rc;
}

int regio_file_read(struct regio_file *f, struct regio_buf b, uint64_t file_off, uint32_t len,
                    regio_cb cb, void *ctx)
{
    return rw_call(f, b, file_off, len, REGIO__REQ_READ, 0, cb, ctx);
}

int regio_file_write(struct regio_file *f, struct regio_buf b, uint64_t file_off, uint32_t len,
                     regio_cb cb, void *ctx)
{
    return rw_call(f, b, file_off, len, REGIO__REQ_WRITE, 0, cb, ctx);
}

int regio_file_write_flags(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                           uint32_t len, unsigned flags, regio_cb cb, void *ctx)
{
    const unsigned known = REGIO_WRITE_DSYNC | REGIO_WRITE_ATOMIC;
    if ((flags & ~known) != 0) {
        regio__set_detail("unknown write flags 0x%x", flags & ~known);
        return -EINVAL;
    }
    return rw_call(f, b, file_off, len, REGIO__REQ_WRITE, flags, cb, ctx);
}

int regio_file_write_durable(struct regio_file *f, struct regio_buf b, uint64_t file_off,
                             uint32_t len, regio_cb cb, void *ctx)
{
    return rw_call(f, b, file_off, len, REGIO__REQ_WRITE_SYNC, 0, cb, ctx);
}

int regio_file_fsync(struct regio_file *f, bool datasync, regio_cb cb, void *ctx)
{
    struct regio_engine *e = file_engine(f);
    if (e == NULL)
        return -EBADF;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    regio__clear_detail();
    rc = check_file(e, f);
    if (rc == 0)
        rc = check_capacity(e);
    if (rc == 0) {
        struct regio__req *r = accept_req(e, f, REGIO__REQ_FSYNC, cb, ctx);
        r->datasync = datasync;
        issue(e, r);
    }
    regio__engine_leave(e);
    return rc;
}

/* ---- Files --------------------------------------------------------------------- */

/* The device's logical block size from sysfs (the partition's parent holds
 * the queue directory), or 0. */
static uint32_t sysfs_logical_block(dev_t dev)
{
    static const char *const fmts[] = {"/sys/dev/block/%u:%u/queue/logical_block_size",
                                       "/sys/dev/block/%u:%u/../queue/logical_block_size"};
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        char path[96];
        snprintf(path, sizeof(path), fmts[i], major(dev), minor(dev));
        FILE *fp = fopen(path, "re");
        if (fp == NULL)
            continue;
        unsigned v = 0;
        int n = fscanf(fp, "%u", &v);
        fclose(fp);
        if (n == 1 && v >= 512 && (v & (v - 1)) == 0)
            return v;
    }
    return 0;
}

/* Learn the O_DIRECT alignment of fd: statx(STATX_DIOALIGN) where the
 * filesystem reports it, else the device's logical block size, else 4096. */
static void learn_alignment(int fd, struct regio_file *f)
{
    struct statx stx;
    memset(&stx, 0, sizeof(stx));
    f->mem_align = f->off_align = 0;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN | STATX_INO, &stx) == 0) {
        f->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
        f->ino = stx.stx_ino;
        if ((stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align != 0 &&
            stx.stx_dio_mem_align != 0) {
            f->mem_align = stx.stx_dio_mem_align;
            f->off_align = stx.stx_dio_offset_align;
            return;
        }
    }
    struct stat st;
    uint32_t lbs = 0;
    if (fstat(fd, &st) == 0) {
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        int ss = 0;
        if (S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &ss) == 0 && ss > 0)
            lbs = (uint32_t)ss;
        else
            lbs = sysfs_logical_block(st.st_dev);
    }
    if (lbs == 0)
        lbs = 4096;
    /* Every alignment check divides by these. */
    REGIO_ASSERT(lbs >= 512 && (lbs & (lbs - 1)) == 0);
    f->mem_align = f->off_align = lbs;
}

static int slot_alloc(struct regio_engine *e)
{
    REGIO_ASSERT(regio__engine_entered(e));
    for (uint32_t i = 0; i < e->max_files; i++) {
        if (!e->slot_used[i]) {
            e->slot_used[i] = 1;
            return (int)i;
        }
    }
    regio__set_detail("all %u registered-file slots are in use (max_files)", e->max_files);
    return -EMFILE;
}

static int open_direct(int dir_fd, const char *path, int flags, mode_t mode)
{
    REGIO_ASSERT(path != NULL && (dir_fd >= 0 || dir_fd == AT_FDCWD));
    int fd = openat(dir_fd, path, flags | O_DIRECT | O_CLOEXEC, mode);
    if (fd >= 0)
        return fd;
    int err = -errno;
    if (err == -EINVAL) {
        int probe = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);
        if (probe >= 0) {
            close(probe);
            regio__set_detail("the filesystem holding %s refuses O_DIRECT", path);
            return -EINVAL;
        }
    }
    regio__set_detail("open %s: %s", path, strerror(-err));
    return err;
}

static int file_open_entered(struct regio_engine *e, int dir_fd, const char *path, int flags,
                             mode_t mode, struct regio_file **out)
{
    REGIO_ASSERT(regio__engine_entered(e));
    if (e->closing)
        return -EBADF;
    struct regio_file *f = calloc(1, sizeof(*f));
    char *copy = strdup(path);
    if (f == NULL || copy == NULL) {
        free(f);
        free(copy);
        return -ENOMEM;
    }
    int slot = slot_alloc(e);
    int fd = slot < 0 ? slot : open_direct(dir_fd, path, flags, mode);
    if (fd < 0) {
        if (slot >= 0)
            e->slot_used[slot] = 0;
        free(f);
        free(copy);
        return fd;
    }
    learn_alignment(fd, f);
    /* Every alignment check divides by these. */
    REGIO_ASSERT(f->mem_align != 0 && f->off_align != 0);
    int rc = io_uring_register_files_update(&e->ring, (unsigned)slot, &fd, 1);
    if (rc < 0) {
        regio__set_detail("registering %s in file slot %d: %s", path, slot, strerror(-rc));
        close(fd);
        e->slot_used[slot] = 0;
        free(f);
        free(copy);
        return rc;
    }
    f->e = e;
    f->fd = fd;
    f->slot = (uint32_t)slot;
    f->open = true;
    f->path = copy;
    f->next = e->files;
    e->files = f;
    REGIO_ASSERT(f->slot < e->max_files && e->slot_used[f->slot]);
    *out = f;
    return 0;
}

int regio_file_open(struct regio_engine *e, const char *path, int flags, mode_t mode,
                    struct regio_file **out)
{
    return regio_file_openat(e, AT_FDCWD, path, flags, mode, out);
}

int regio_file_openat(struct regio_engine *e, int dir_fd, const char *name, int flags, mode_t mode,
                      struct regio_file **out)
{
    regio__clear_detail();
    if (e == NULL || name == NULL || out == NULL) {
        regio__set_detail("regio_file_open: NULL engine, path or out pointer");
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    rc = file_open_entered(e, dir_fd, name, flags, mode, out);
    REGIO_ASSERT(rc != 0 || ((*out)->open && (*out)->e == e));
    regio__engine_leave(e);
    return rc;
}

/* Unregister and close; the struct stays on the engine's list (freed at
 * destroy) so a later call through a stale pointer gets -EBADF. */
static void file_shut(struct regio_engine *e, struct regio_file *f)
{
    REGIO_ASSERT(f->open && f->in_flight == 0 && f->slot < e->max_files);
    int minus_one = -1;
    /* The slot is reused: were the kernel still to map it to this file, a
     * request on the next file in the slot would reach this one. */
    int rc = io_uring_register_files_update(&e->ring, f->slot, &minus_one, 1);
    REGIO_ASSERT(rc == 1);
    close(f->fd);
    e->slot_used[f->slot] = 0;
    f->fd = -1;
    f->open = false;
}

/* A successful close leaves the detail alone (see regio_wal_reader_close). */
int regio_file_close(struct regio_file *f)
{
    if (f == NULL) {
        regio__set_detail("regio_file_close: NULL file");
        return -EBADF;
    }
    struct regio_engine *e = f->e;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    if (!f->open) {
        regio__set_detail("file %s is already closed", f->path);
        rc = -EBADF;
    } else if (f->in_flight > 0) {
        regio__set_detail("%u requests in flight on %s", f->in_flight, f->path);
        rc = -EBUSY;
    } else {
        file_shut(e, f);
    }
    REGIO_ASSERT(rc != 0 || (!f->open && f->fd == -1)); /* its slot is free again */
    regio__engine_leave(e);
    return rc;
}

int regio_file_dio_align(const struct regio_file *f, uint32_t *mem_align_out,
                         uint32_t *offset_align_out)
{
    if (f == NULL || !f->open) {
        regio__set_detail("regio_file_dio_align: file NULL or closed");
        return -EBADF;
    }
    /* Callers divide by them (the pager's page size check). */
    REGIO_ASSERT(f->mem_align != 0 && f->off_align != 0);
    if (mem_align_out != NULL)
        *mem_align_out = f->mem_align;
    if (offset_align_out != NULL)
        *offset_align_out = f->off_align;
    return 0;
}

int regio_file_fd(const struct regio_file *f)
{
    if (f == NULL || !f->open) {
        regio__set_detail("regio_file_fd: file NULL or closed");
        return -EBADF;
    }
    REGIO_ASSERT(f->fd >= 0); /* an open file keeps its descriptor */
    return f->fd;
}

/* ---- Create and destroy -------------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t v)
{
    REGIO_ASSERT(v <= UINT32_C(1) << 31); /* else the loop never ends */
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

/* Try setup flags best first; the first the kernel accepts wins. */
static int ring_setup(struct regio_engine *e, const struct regio_engine_opts *o)
{
    REGIO_ASSERT(e->queue_depth > 0 && e->max_in_flight > 0);
    static const uint32_t owned[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, IORING_SETUP_SUBMIT_ALL, 0};
    static const uint32_t shared[] = {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
                                      IORING_SETUP_SUBMIT_ALL, 0};
    static const uint32_t plain[] = {0};
    const uint32_t *cand = o->no_setup_flags ? plain : o->shared ? shared : owned;
    size_t n = o->no_setup_flags ? 1 : o->shared ? 3 : 4;
    /* Room in the CQ for every SQE the request table can have outstanding
     * (two per request, one wake-up NOP, the watchdog timer) and for a stall
     * probe's cancels (two per request), so completions do not overflow. The
     * kernel's largest CQ (65536) is smaller than that only for the largest
     * tables; there, an overflow is held by the kernel (IORING_FEAT_NODROP)
     * and reaped later. */
    uint32_t cq = pow2_at_least(4 * e->max_in_flight + 3);
    if (cq > 65536)
        cq = 65536;
    if (cq < 2 * e->queue_depth)
        cq = 2 * e->queue_depth;
    int rc = -EINVAL;
    for (size_t i = 0; i < n; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = cand[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = cq;
        rc = io_uring_queue_init_params(e->queue_depth, &e->ring, &p);
        if (rc == 0) {
            e->setup_flags = p.flags;
            return 0;
        }
        if (rc != -EINVAL)
            break;
    }
    regio__set_detail("io_uring_setup with %u entries failed: %s", e->queue_depth, strerror(-rc));
    return rc;
}

static int register_buffers(struct regio_engine *e, bool no_clone)
{
    REGIO_ASSERT(e->ring.ring_fd >= 0);
    /* no_clone: a pin of this ring's own, still recorded by the arena, so
     * that it is counted, memlock-checked and blocks arena destroy. */
    if (no_clone)
        return regio__arena_register_ring_fresh(e->arena, e->ring.ring_fd);
    struct regio_arena_stats before, after;
    int rc = regio_arena_stats(e->arena, &before);
    if (rc != 0)
        return rc;
    rc = regio_arena_register_ring(e->arena, e->ring.ring_fd);
    if (rc != 0)
        return rc;
    if (regio_arena_stats(e->arena, &after) == 0)
        e->cloned = after.clones > before.clones;
    return 0;
}

static void unregister_buffers(struct regio_engine *e)
{
    REGIO_ASSERT(e->closing); /* only destroy gives the ring's buffers back */
    int rc = regio_arena_unregister_ring(e->arena, e->ring.ring_fd);
    REGIO_ASSERT(rc == 0);
}

static void engine_free(struct regio_engine *e)
{
    REGIO_ASSERT(atomic_load(&e->in_flight) == 0); /* the kernel may still write into reqs */
    REGIO_ASSERT(e->users == 0);                   /* a pager would keep a pointer to e */
    struct regio_file *f = e->files;
    while (f != NULL) {
        struct regio_file *next = f->next;
        free(f->path);
        free(f);
        f = next;
    }
    free(e->slot_used);
    free(e->reqs);
    free(e);
}

static int engine_init(struct regio_engine *e, const struct regio_engine_opts *o)
{
    REGIO_ASSERT(e->max_in_flight <= REGIO_ENGINE_MAX_IN_FLIGHT); /* user_data index bits */
    e->reqs = calloc(e->max_in_flight, sizeof(*e->reqs));
    e->slot_used = calloc(e->max_files, 1);
    if (e->reqs == NULL || e->slot_used == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < e->max_in_flight; i++)
        e->reqs[i].next_free = i + 1 < e->max_in_flight ? i + 1 : REQ_NONE;
    e->free_head = 0;
    /* The free list ends: req_alloc's REQ_NONE check relies on it. */
    REGIO_ASSERT(e->max_in_flight > 0 && e->reqs[e->max_in_flight - 1].next_free == REQ_NONE);
    int rc = ring_setup(e, o);
    if (rc != 0)
        return rc;
    rc = io_uring_register_files_sparse(&e->ring, e->max_files);
    if (rc < 0) {
        regio__set_detail("registering a sparse table of %u files: %s", e->max_files,
                          strerror(-rc));
        io_uring_queue_exit(&e->ring);
        return rc;
    }
    rc = register_buffers(e, o->no_clone);
    if (rc != 0) {
        io_uring_unregister_files(&e->ring);
        io_uring_queue_exit(&e->ring);
    }
    return rc;
}

int regio_engine_create(struct regio_arena *a, struct regio_slab *s,
                        const struct regio_engine_opts *opts, struct regio_engine **out)
{
    regio__clear_detail();
    if (a == NULL || s == NULL || out == NULL) {
        regio__set_detail("regio_engine_create: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    if (regio_slab_arena(s) != a) {
        regio__set_detail("the slab is not built on this arena");
        return -EINVAL;
    }
    struct regio_engine_opts o = opts != NULL ? *opts : (struct regio_engine_opts){0};
    /* The CQ holds two entries per request (the kernel allows 65536). */
    if (o.queue_depth > 32768 || o.max_in_flight > REGIO_ENGINE_MAX_IN_FLIGHT ||
        o.max_files > (1u << 20)) {
        regio__set_detail("queue_depth <= 32768, max_in_flight <= %u, max_files <= %u",
                          REGIO_ENGINE_MAX_IN_FLIGHT, 1u << 20);
        return -EINVAL;
    }
    struct regio_engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return -ENOMEM;
    e->arena = a;
    e->slab = s;
    e->shared = o.shared;
    e->owner = pthread_self();
    e->queue_depth = o.queue_depth ? o.queue_depth : 256;
    e->max_in_flight = o.max_in_flight ? o.max_in_flight : 4 * e->queue_depth;
    if (e->max_in_flight > REGIO_ENGINE_MAX_IN_FLIGHT)
        e->max_in_flight = REGIO_ENGINE_MAX_IN_FLIGHT;
    e->max_files = o.max_files ? o.max_files : 64;
    e->retry_limit = o.retry_limit ? o.retry_limit : 16;
    /* ring_setup sizes the CQ from these; pow2_at_least needs the bound. */
    REGIO_ASSERT(e->queue_depth <= 32768 && e->max_in_flight >= 1 && e->max_files >= 1);
    uint32_t probe_ms = o.stall_probe_ms ? o.stall_probe_ms : STALL_PROBE_DEFAULT_MS;
    e->watchdog_ts.tv_sec = probe_ms / 1000;
    e->watchdog_ts.tv_nsec = (long long)(probe_ms % 1000) * 1000000;
    int rc = engine_init(e, &o);
    if (rc != 0) {
        engine_free(e);
        return rc;
    }
    regio__lock_init(&e->lock, true);
    if (!e->shared)
        atomic_store_explicit(&e->lock.holder, regio__thread_id(), memory_order_relaxed);
    /* Owned: the creator is inside for good; shared: nobody is yet. */
    REGIO_ASSERT(regio__engine_entered(e) == !e->shared);
    regio__arena_user_get(a);
    regio__slab_user_get(s);
    e->stats_handle = regio__stats_attach(a, REGIO_STATS_ENGINE, NULL, stats_fill, e);
    *out = e;
    return 0;
}

void regio__engine_user_get(struct regio_engine *e)
{
    REGIO_ASSERT(e->users < UINT32_MAX);
    e->users++;
}

void regio__engine_user_put(struct regio_engine *e)
{
    REGIO_ASSERT(e->users > 0);
    e->users--;
}

int regio_engine_destroy(struct regio_engine *e)
{
    regio__clear_detail();
    if (e == NULL) {
        regio__set_detail("regio_engine_destroy: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    if (e->users > 0 || e->closing || e->cb_depth > 0) {
        regio__set_detail("engine busy: %u users (pagers) open, %s", e->users,
                          e->cb_depth ? "called from a callback" : "not in a callback");
        regio__engine_leave(e);
        return -EBUSY;
    }
    /* New requests are refused from here on, also from callbacks that the
     * drain runs. */
    e->closing = true;
    rc = drain_entered(e, -1);
    if (rc == 0) {
        regio__stats_detach(e->arena, e->stats_handle);
        e->stats_handle = -1;
    }
    if (rc != 0) {
        e->closing = false;
        regio__engine_leave(e);
        return rc;
    }
    REGIO_ASSERT(atomic_load(&e->in_flight) == 0 && e->cb_depth == 0);
    for (struct regio_file *f = e->files; f != NULL; f = f->next)
        if (f->open)
            file_shut(e, f);
    io_uring_unregister_files(&e->ring);
    unregister_buffers(e);
    io_uring_queue_exit(&e->ring);
    if (e->test.rec != NULL)
        regio_recording_destroy(e->test.rec);
    regio__slab_user_put(e->slab);
    regio__arena_user_put(e->arena);
    regio__engine_leave(e);
    regio__lock_destroy(&e->lock);
    engine_free(e);
    return 0;
}
