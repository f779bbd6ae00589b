/*
 * engine/pager.c: a page file of fixed-size, checksummed pages over an
 * engine.
 *
 * Every page ends with a 16-byte trailer: XXH3-64 of the payload seeded with
 * the page number, then the page number, both little-endian. Seeding with the
 * page number and storing it means a page written at the wrong offset fails
 * verification even when its bytes are intact. A read is verified in the
 * pager's own completion, which then calls the caller's callback.
 *
 * In-place page writes are not atomic: a power cut can tear one, and the
 * checksum then reports -EBADMSG. Surviving a torn page is the embedding
 * database's protocol (full-page images in its log, or a doublewrite area).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "engine_internal.h"
#include "hash_internal.h"
#include "regio/pager.h"

struct page_trailer {
    uint8_t checksum_le[8]; /* XXH3-64(payload, seed = page number) */
    uint8_t page_no_le[8];
};
_Static_assert(sizeof(struct page_trailer) == REGIO_PAGE_TRAILER_BYTES,
               "the trailer is the last 16 bytes of every page on disk");

#define PAGER_MIN_PAGE_BYTES 4096u
#define PAGER_MAX_PAGE_BYTES 65536u
/* Slice of a shared-mode synchronous wait: another thread may reap our
 * completion, so the wait re-checks instead of sleeping on a CQE. */
#define PAGER_SHARED_WAIT_NS 10000000

struct pager_op {
    struct regio_pager *p;
    uint64_t page_no;
    struct regio_buf b;
    regio_cb cb;
    void *ctx;
    struct pager_op *next_free;
};

struct regio_pager {
    struct regio_engine *e;
    struct regio_file *f;
    uint32_t page_bytes;
    uint32_t in_flight;
    struct pager_op *free_ops;
};

static bool page_bytes_valid(uint32_t n)
{
    return n >= PAGER_MIN_PAGE_BYTES && n <= PAGER_MAX_PAGE_BYTES && (n & (n - 1)) == 0;
}

static void fill_trailer(void *page, uint32_t page_bytes, uint64_t page_no)
{
    size_t payload = page_bytes - REGIO_PAGE_TRAILER_BYTES;
    struct page_trailer t;
    regio__le64_put(t.checksum_le, regio__xxh3_64_seed(page, payload, page_no));
    regio__le64_put(t.page_no_le, page_no);
    memcpy((uint8_t *)page + payload, &t, sizeof(t));
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
    size_t payload = page_bytes - REGIO_PAGE_TRAILER_BYTES;
    struct page_trailer t;
    memcpy(&t, (const uint8_t *)page + payload, sizeof(t));
    if (regio__le64_get(t.page_no_le) == page_no &&
        regio__le64_get(t.checksum_le) == regio__xxh3_64_seed(page, payload, page_no))
        return 0;
    return regio__all_zero(page, page_bytes) ? -ENODATA : -EBADMSG;
}

/* ---- Operation contexts -------------------------------------------------------- */

static struct pager_op *op_get(struct regio_pager *p)
{
    struct pager_op *op = p->free_ops;
    if (op != NULL)
        p->free_ops = op->next_free;
    else
        op = malloc(sizeof(*op));
    return op;
}

static void op_put(struct regio_pager *p, struct pager_op *op)
{
    op->next_free = p->free_ops;
    p->free_ops = op;
}

/* The engine calls back with the engine entered, so the pager's state is
 * guarded here as in every other pager call. */
static void read_done(void *ctx, int res)
{
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    uint32_t pb = p->page_bytes;
    if (res == 0) {
        memset(op->b.data, 0, pb); /* past the end of the file */
        res = -ENODATA;
    } else if (res > 0 && (uint32_t)res < pb) {
        res = -EBADMSG; /* the file ends inside this page */
    } else if (res > 0) {
        int v = regio_pager_verify_image(op->b.data, pb, op->page_no);
        res = v == 0 ? (int)pb : v;
    }
    regio_cb cb = op->cb;
    void *cctx = op->ctx;
    REGIO_ASSERT(p->in_flight > 0);
    p->in_flight--;
    op_put(p, op);
    if (cb != NULL)
        cb(cctx, res);
}

static void write_done(void *ctx, int res)
{
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    regio_cb cb = op->cb;
    void *cctx = op->ctx;
    REGIO_ASSERT(p->in_flight > 0);
    p->in_flight--;
    op_put(p, op);
    if (cb != NULL)
        cb(cctx, res);
}

static int page_io(struct regio_pager *p, uint64_t page_no, struct regio_buf b, bool write,
                   regio_cb cb, void *ctx)
{
    if (p == NULL)
        return -EINVAL;
    struct regio_engine *e = p->e;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    if (b.cap_bytes < p->page_bytes || b.data == NULL ||
        page_no > (uint64_t)INT64_MAX / p->page_bytes - 1) {
        regio__set_detail("buffer of %u bytes for pages of %u, or page %llu out of range",
                          b.cap_bytes, p->page_bytes, (unsigned long long)page_no);
        regio__engine_leave(e);
        return b.data == NULL ? -EFAULT : -EINVAL;
    }
    struct pager_op *op = op_get(p);
    if (op == NULL) {
        regio__engine_leave(e);
        return -ENOMEM;
    }
    *op = (struct pager_op){p, page_no, b, cb, ctx, NULL};
    uint64_t off = page_no * p->page_bytes;
    if (write) {
        /* Validate the buffer before touching it: the engine call below
         * repeats the checks, but filling the trailer must not write into
         * memory that is not a live buffer of the engine's slab. */
        rc = regio_slab_check(e->slab, b);
        if (rc >= 0) {
            fill_trailer(b.data, p->page_bytes, page_no);
            rc = regio_file_write(p->f, b, off, p->page_bytes, write_done, op);
        }
    } else {
        rc = regio_file_read(p->f, b, off, p->page_bytes, read_done, op);
    }
    if (rc == 0)
        p->in_flight++;
    else
        op_put(p, op);
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

/* ---- Synchronous helpers ------------------------------------------------------- */

struct sync_wait {
    bool done;
    int res;
};

static void sync_cb(void *ctx, int res)
{
    struct sync_wait *w = ctx;
    w->res = res;
    w->done = true;
}

/* Wait for w to be called back. The request is in flight and its callback
 * writes w, so this cannot return before it ran. */
static int wait_for(struct regio_engine *e, struct sync_wait *w)
{
    int64_t slice = e->shared ? PAGER_SHARED_WAIT_NS : -1;
    for (;;) {
        int rc = regio__engine_enter(e);
        REGIO_ASSERT(rc == 0);
        bool done = w->done;
        regio__engine_leave(e);
        if (done)
            return w->res;
        regio_engine_wait(e, 1, slice);
    }
}

int regio_pager_read_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b)
{
    struct sync_wait w = {false, 0};
    int rc = regio_pager_read(p, page_no, b, sync_cb, &w);
    return rc != 0 ? rc : wait_for(p->e, &w);
}

int regio_pager_write_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b)
{
    struct sync_wait w = {false, 0};
    int rc = regio_pager_write(p, page_no, b, sync_cb, &w);
    return rc != 0 ? rc : wait_for(p->e, &w);
}

static void sync_done(void *ctx, int res)
{
    struct pager_op *op = ctx;
    struct regio_pager *p = op->p;
    struct sync_wait *w = op->ctx;
    p->in_flight--;
    op_put(p, op);
    sync_cb(w, res);
}

int regio_pager_sync(struct regio_pager *p)
{
    if (p == NULL)
        return -EINVAL;
    struct regio_engine *e = p->e;
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    struct sync_wait w = {false, 0};
    struct pager_op *op = op_get(p);
    rc = op == NULL ? -ENOMEM : 0;
    if (rc == 0) {
        *op = (struct pager_op){p, 0, {0}, NULL, &w, NULL};
        rc = regio_file_fsync(p->f, true, sync_done, op);
        if (rc == 0)
            p->in_flight++;
        else
            op_put(p, op);
    }
    regio__engine_leave(e);
    return rc != 0 ? rc : wait_for(e, &w);
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
        free(p);
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
    if (p->in_flight > 0) {
        regio__set_detail("%u page operations in flight", p->in_flight);
        regio__engine_leave(e);
        return -EBUSY;
    }
    rc = regio_file_close(p->f);
    REGIO_ASSERT(rc == 0);
    regio__engine_user_put(e);
    regio__engine_leave(e);
    while (p->free_ops != NULL) {
        struct pager_op *op = p->free_ops;
        p->free_ops = op->next_free;
        free(op);
    }
    free(p);
    return 0;
}
