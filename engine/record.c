/*
 * engine/record.c: power-loss recording and simulation.
 *
 * While recording, every write and fsync the engine hands to the ring is
 * logged in submission order with its data, its flags and the event
 * sequence numbers of its submission and completion. A file's contents are
 * captured (buffered read through a second descriptor) the first time the
 * recording sees an operation on it. regio_recording_write_image() then rebuilds
 * what the file could hold after a power cut at any sequence number.
 *
 * Durability is derived only from what really went to the ring: a write is
 * durable at crash_seq when it completed in full by then and either carried
 * RWF_DSYNC, or an fsync/fdatasync of its file that started after the write
 * completed has itself completed successfully by then. A plain fsync starts
 * when it is submitted; a sync linked behind a write (regio_file_write_durable)
 * starts when the kernel runs it, which is when its write completed.
 *
 * The pager's length changes (ftruncate, fallocate) are logged too. One is
 * durable like a plain write: once a sync of its file that started after it
 * completed has completed (fdatasync flushes a size change, since reading
 * the data back depends on it). An undurable one happened or did not, as a
 * whole: a journalled filesystem commits a size change atomically.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_internal.h"

#define SIM_SECTOR_BYTES 512u
#define REC_INDEX_BITS   40
#define REC_INDEX_MASK   ((UINT64_C(1) << REC_INDEX_BITS) - 1)

struct rec_file {
    dev_t dev;
    ino_t ino;
    char *path;
    uint8_t *init; /* contents when first seen */
    size_t init_bytes;
};

struct rec_op {
    bool is_sync;
    bool is_resize; /* off is the new length; grow_only for fallocate */
    bool grow_only;
    bool dsync;
    bool atomic; /* RWF_ATOMIC: kept or lost whole, never torn */
    bool completed;
    uint32_t file;
    uint64_t off;
    uint32_t len;
    uint8_t *data;
    uint64_t sub_seq;
    uint64_t start_seq; /* syncs: when the sync began covering writes */
    uint64_t comp_seq;
    int res;
};

struct regio_recording {
    struct rec_file *files;
    uint32_t nfiles;
    uint32_t cap_files;
    struct rec_op *ops;
    size_t nops;
    size_t cap_ops;
    uint64_t last_seq;
};

static uint64_t next_seq(struct regio_engine *e)
{
    REGIO_ASSERT(regio__engine_entered(e)); /* events are ordered by the engine's caller */
    return atomic_fetch_add(&e->seq, 1) + 1;
}

/* Read the whole file through a second, buffered descriptor, opened via
 * /proc/self/fd so that a file unlinked since it was opened still works. */
static int capture(int direct_fd, uint8_t **out, size_t *len_out)
{
    REGIO_ASSERT(direct_fd >= 0); /* an open file's descriptor (file_index checked f->open) */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", direct_fd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len_out = got;
    return 0;
}

static int file_index(struct regio_recording *r, const struct regio_file *f)
{
    REGIO_ASSERT(r->nfiles <= r->cap_files && f->open);
    for (uint32_t i = 0; i < r->nfiles; i++)
        if (r->files[i].dev == f->dev && r->files[i].ino == f->ino)
            return (int)i;
    if (r->nfiles == r->cap_files) {
        uint32_t cap = r->cap_files ? 2 * r->cap_files : 8;
        struct rec_file *n = realloc(r->files, cap * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        r->files = n;
        r->cap_files = cap;
    }
    struct rec_file *rf = &r->files[r->nfiles];
    memset(rf, 0, sizeof(*rf));
    rf->dev = f->dev;
    rf->ino = f->ino;
    rf->path = strdup(f->path);
    int rc = rf->path == NULL ? -ENOMEM : capture(f->fd, &rf->init, &rf->init_bytes);
    if (rc != 0) {
        fprintf(stderr, "regio: cannot capture %s for power-loss simulation: %s\n", f->path,
                strerror(-rc));
        free(rf->path);
        return rc;
    }
    return (int)r->nfiles++;
}

static struct rec_op *op_append(struct regio_recording *r)
{
    REGIO_ASSERT(r->nops <= r->cap_ops);
    if (r->nops == r->cap_ops) {
        size_t cap = r->cap_ops ? 2 * r->cap_ops : 64;
        struct rec_op *n = realloc(r->ops, cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        r->ops = n;
        r->cap_ops = cap;
    }
    struct rec_op *op = &r->ops[r->nops];
    memset(op, 0, sizeof(*op));
    return op;
}

static int64_t op_id(const struct regio_engine *e, const struct regio_recording *r)
{
    REGIO_ASSERT(r->nops > 0 && r->nops - 1 <= REC_INDEX_MASK);
    return (int64_t)((e->test.rec_gen << REC_INDEX_BITS) | (uint64_t)(r->nops - 1));
}

/* The op an id names, or NULL when it belongs to an earlier recording. */
static struct rec_op *op_of(struct regio_engine *e, int64_t id)
{
    if (id < 0 || e->test.rec == NULL || ((uint64_t)id >> REC_INDEX_BITS) != e->test.rec_gen)
        return NULL;
    uint64_t i = (uint64_t)id & REC_INDEX_MASK;
    REGIO_ASSERT(i < e->test.rec->nops);
    return &e->test.rec->ops[i];
}

/* A recording that cannot grow (or capture a file) is a test harness
 * failure, not a condition the I/O path can report through its callback:
 * a simulation built from an incomplete log would be wrong, so stop. */
static void rec_fail(void)
{
    fprintf(stderr, "regio: power-loss recording failed (see above or out of memory)\n");
    abort();
}

/* A new log entry for an operation on f, or NULL when not recording. */
static struct rec_op *op_begin(struct regio_engine *e, struct regio_file *f)
{
    REGIO_ASSERT(regio__engine_entered(e));
    struct regio_recording *r = e->test.rec;
    if (r == NULL)
        return NULL;
    int fi = file_index(r, f);
    struct rec_op *op = fi < 0 ? NULL : op_append(r);
    if (op == NULL)
        rec_fail();
    op->file = (uint32_t)fi;
    return op;
}

/* Log op (from op_begin) as submitted now; returns its id. */
static int64_t op_commit(struct regio_engine *e, struct rec_op *op)
{
    REGIO_ASSERT(e->test.rec != NULL && op == &e->test.rec->ops[e->test.rec->nops]);
    op->sub_seq = next_seq(e);
    e->test.rec->nops++;
    return op_id(e, e->test.rec);
}

int64_t regio__rec_write(struct regio_engine *e, struct regio_file *f, const void *data,
                         uint64_t off, uint32_t len, bool dsync, bool atomic)
{
    REGIO_ASSERT(len > 0 && data != NULL);
    struct rec_op *op = op_begin(e, f);
    if (op == NULL)
        return -1;
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        rec_fail();
    memcpy(copy, data, len);
    op->off = off;
    op->len = len;
    op->data = copy;
    op->dsync = dsync;
    op->atomic = atomic;
    return op_commit(e, op);
}

int64_t regio__rec_sync(struct regio_engine *e, struct regio_file *f, bool linked)
{
    struct rec_op *op = op_begin(e, f);
    if (op == NULL)
        return -1;
    op->is_sync = true;
    /* A sync carries no data: the simulation copies data of writes only. */
    REGIO_ASSERT(op->len == 0 && op->data == NULL);
    int64_t id = op_commit(e, op);
    op->start_seq = linked ? UINT64_MAX : op->sub_seq;
    return id;
}

int64_t regio__rec_resize(struct regio_engine *e, struct regio_file *f, uint64_t len_bytes,
                          bool grow_only)
{
    /* The simulation cuts the image to it: it must fit off_t (set_length's
     * len is one). */
    REGIO_ASSERT(len_bytes <= (uint64_t)INT64_MAX);
    struct rec_op *op = op_begin(e, f);
    if (op == NULL)
        return -1;
    op->is_resize = true;
    op->grow_only = grow_only;
    op->off = len_bytes;
    return op_commit(e, op);
}

void regio__rec_complete(struct regio_engine *e, int64_t id, int res)
{
    REGIO_ASSERT(regio__engine_entered(e));
    struct rec_op *op = op_of(e, id);
    if (op == NULL)
        return;
    REGIO_ASSERT(!op->completed); /* one completion per logged submission */
    op->comp_seq = next_seq(e);
    op->completed = true;
    op->res = res;
    if (!op->is_sync && !op->is_resize && res >= 0 && (uint32_t)res < op->len)
        op->len = (uint32_t)res; /* only that much reached the file */
}

void regio__rec_linked_start(struct regio_engine *e, int64_t sync_id, int64_t write_id)
{
    REGIO_ASSERT(regio__engine_entered(e));
    struct rec_op *s = op_of(e, sync_id);
    struct rec_op *w = op_of(e, write_id);
    REGIO_ASSERT((s == NULL || s->is_sync) && (w == NULL || !w->is_sync));
    if (s != NULL && w != NULL && w->completed)
        s->start_seq = w->comp_seq;
}

/* ---- Public recording calls ---------------------------------------------------- */

int regio_engine_record_start(struct regio_engine *e)
{
    regio__clear_detail();
    if (e == NULL) {
        regio__set_detail("regio_engine_record_start: e is NULL");
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    if (e->test.rec != NULL) {
        regio__set_detail("regio_engine_record_start: already recording");
        rc = -EBUSY;
    } else {
        e->test.rec = calloc(1, sizeof(*e->test.rec));
        if (e->test.rec == NULL) {
            regio__set_detail("regio_engine_record_start: out of memory");
            rc = -ENOMEM;
        }
        e->test.rec_gen++;
        regio__test_hook_update(e);
        /* A recording arms the hook: every submission is logged from now. */
        REGIO_ASSERT(e->test.rec == NULL || e->hook == &e->test);
    }
    regio__engine_leave(e);
    return rc;
}

int regio_engine_record_stop(struct regio_engine *e, struct regio_recording **out)
{
    regio__clear_detail();
    if (e == NULL || out == NULL) {
        regio__set_detail("regio_engine_record_stop: %s is NULL", e == NULL ? "e" : "out");
        return -EINVAL;
    }
    int rc = regio__engine_enter(e);
    if (rc != 0)
        return rc;
    if (e->test.rec == NULL) {
        regio__set_detail("regio_engine_record_stop: not recording");
        rc = -ENOENT;
    } else {
        e->test.rec->last_seq = atomic_load(&e->seq);
        struct regio_recording *r = e->test.rec;
        /* Every logged event happened before the stop. */
        REGIO_ASSERT(r->nops == 0 || (r->ops[r->nops - 1].sub_seq <= r->last_seq &&
                                      r->ops[r->nops - 1].comp_seq <= r->last_seq));
        *out = e->test.rec;
        e->test.rec = NULL;
        regio__test_hook_update(e);
    }
    regio__engine_leave(e);
    return rc;
}

uint64_t regio_engine_record_seq(const struct regio_engine *e)
{
    return e == NULL ? 0 : atomic_load(&e->seq);
}

void regio_recording_destroy(struct regio_recording *r)
{
    if (r == NULL)
        return;
    REGIO_ASSERT(r->nfiles <= r->cap_files && r->nops <= r->cap_ops);
    for (uint32_t i = 0; i < r->nfiles; i++) {
        free(r->files[i].path);
        free(r->files[i].init);
    }
    for (size_t i = 0; i < r->nops; i++)
        free(r->ops[i].data);
    free(r->files);
    free(r->ops);
    free(r);
}

uint32_t regio_recording_file_count(const struct regio_recording *r)
{
    return r == NULL ? 0 : r->nfiles;
}

const char *regio_recording_file_path(const struct regio_recording *r, uint32_t i)
{
    return r == NULL || i >= r->nfiles ? NULL : r->files[i].path;
}

uint64_t regio_recording_last_seq(const struct regio_recording *r)
{
    return r == NULL ? 0 : r->last_seq;
}

/* ---- Simulation ---------------------------------------------------------------- */

static bool sync_covers(const struct rec_op *s, const struct rec_op *w, uint64_t crash_seq)
{
    REGIO_ASSERT(w->file < UINT32_MAX && !w->is_sync);
    return s->is_sync && s->file == w->file && s->completed && s->res >= 0 &&
           s->comp_seq <= crash_seq && s->start_seq != UINT64_MAX && s->start_seq >= w->comp_seq;
}

static bool durable(const struct regio_recording *r, const struct rec_op *w, uint64_t crash_seq)
{
    REGIO_ASSERT(!w->is_sync && w->sub_seq != 0);
    if (!w->completed || w->comp_seq > crash_seq || w->res < 0)
        return false;
    if (w->dsync)
        return true;
    for (size_t i = 0; i < r->nops; i++)
        if (sync_covers(&r->ops[i], w, crash_seq))
            return true;
    return false;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct image {
    uint8_t *bytes;
    size_t len;
    size_t cap;
};

static int image_put(struct image *im, uint64_t off, const uint8_t *src, size_t n)
{
    if (n == 0)
        return 0; /* a file captured empty has no bytes (and src NULL) */
    REGIO_ASSERT(im->len <= im->cap && off <= SIZE_MAX - n);
    size_t end = (size_t)off + n;
    if (end > im->cap) {
        size_t cap = im->cap ? im->cap : 4096;
        while (cap < end)
            cap *= 2;
        uint8_t *b = realloc(im->bytes, cap);
        if (b == NULL)
            return -ENOMEM;
        memset(b + im->cap, 0, cap - im->cap);
        im->bytes = b;
        im->cap = cap;
    }
    memcpy(im->bytes + off, src, n);
    if (end > im->len)
        im->len = end;
    REGIO_ASSERT(im->len <= im->cap);
    return 0;
}

/* Set the image's length to len (grow_only: only ever longer). Every byte
 * at or past im->len is zero (image_put zero-fills what it allocates, and a
 * cut clears what it cuts off), so growing needs only the last byte put and
 * reads zeros, as a file does. */
static int image_resize(struct image *im, uint64_t len, bool grow_only)
{
    REGIO_ASSERT(im->len <= im->cap);
    static const uint8_t zero = 0;
    if (len > im->len)
        return image_put(im, len - 1, &zero, 1);
    if (!grow_only && len < im->len) {
        memset(im->bytes + len, 0, im->len - (size_t)len);
        im->len = (size_t)len;
    }
    return 0;
}

/* Whether an undurable length change happened: always (KEEP), never
 * (DROP), or by seed; never when the call failed. */
static bool resize_happened(const struct rec_op *op, size_t idx, enum regio_recording_mode mode,
                            uint64_t seed)
{
    REGIO_ASSERT(op->is_resize && !op->is_sync);
    if (op->completed && op->res < 0)
        return false;
    if (mode == REGIO_RECORDING_KEEP || mode == REGIO_RECORDING_DROP)
        return mode == REGIO_RECORDING_KEEP;
    return (mix64(seed ^ mix64(idx + 1)) & 1) != 0;
}

/* Apply an undurable write as chosen by mode and seed: whole, not at all,
 * or torn (each 512-byte sector kept or not). */
static int apply_undurable(struct image *im, const struct rec_op *w, size_t idx,
                           enum regio_recording_mode mode, uint64_t seed)
{
    REGIO_ASSERT(!w->is_sync && !w->is_resize && (w->len == 0 || w->data != NULL));
    if (mode == REGIO_RECORDING_KEEP)
        return image_put(im, w->off, w->data, w->len);
    if (mode == REGIO_RECORDING_DROP)
        return 0;
    uint64_t h = mix64(seed ^ mix64(idx + 1));
    switch (h % 3) {
    case 0:
        return image_put(im, w->off, w->data, w->len);
    case 1:
        return 0;
    default:
        if (w->atomic) /* a torn atomic write is lost whole */
            return 0;
        break;
    }
    for (uint32_t s = 0; s < w->len; s += SIM_SECTOR_BYTES) {
        uint32_t n = w->len - s < SIM_SECTOR_BYTES ? w->len - s : SIM_SECTOR_BYTES;
        if (mix64(h ^ (s + 1)) & 1) {
            int rc = image_put(im, w->off + s, w->data + s, n);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static int build_image(const struct regio_recording *r, uint32_t i, uint64_t crash_seq,
                       enum regio_recording_mode mode, uint64_t seed, struct image *im)
{
    REGIO_ASSERT(i < r->nfiles && im->bytes == NULL);
    int rc = image_put(im, 0, r->files[i].init, r->files[i].init_bytes);
    for (size_t k = 0; rc == 0 && k < r->nops; k++) {
        const struct rec_op *w = &r->ops[k];
        REGIO_ASSERT(w->file < r->nfiles); /* every op names a captured file */
        if (w->is_sync || w->file != i || w->sub_seq > crash_seq)
            continue;
        if (w->is_resize) {
            if (durable(r, w, crash_seq) || resize_happened(w, k, mode, seed))
                rc = image_resize(im, w->off, w->grow_only);
            continue;
        }
        if (durable(r, w, crash_seq))
            rc = image_put(im, w->off, w->data, w->len);
        else
            rc = apply_undurable(im, w, k, mode, seed);
    }
    return rc;
}

/* Make fd hold exactly the len bytes at p. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
    REGIO_ASSERT(fd >= 0 && (len == 0 || p != NULL));
    if (ftruncate(fd, (off_t)len) != 0)
        return -errno;
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)done);
        if (n < 0)
            return -errno;
        done += (size_t)n;
    }
    return 0;
}

int regio_recording_write_image(const struct regio_recording *r, uint32_t i, uint64_t crash_seq,
                                enum regio_recording_mode mode, uint64_t seed, int out_fd)
{
    regio__clear_detail();
    if (r == NULL || i >= r->nfiles || out_fd < 0 || (unsigned)mode > REGIO_RECORDING_KEEP) {
        regio__set_detail("regio_recording_write_image: %s",
                          r == NULL        ? "r is NULL"
                          : i >= r->nfiles ? "no such file in the recording"
                          : out_fd < 0     ? "out_fd is negative"
                                           : "mode is not a regio_recording_mode");
        return -EINVAL;
    }
    struct image im = {NULL, 0, 0};
    int rc = build_image(r, i, crash_seq, mode, seed, &im);
    if (rc != 0) {
        regio__set_detail("regio_recording_write_image: out of memory for the image");
        free(im.bytes);
        return rc;
    }
    REGIO_ASSERT(im.len <= im.cap); /* every byte written out was put */
    rc = write_all(out_fd, im.bytes, im.len);
    if (rc != 0)
        regio__set_detail("regio_recording_write_image: writing the image: %s", strerror(-rc));
    free(im.bytes);
    return rc;
}
