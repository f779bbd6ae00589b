/* regio-test: labels=io timeout=300 */
/*
 * tests/test_engine_powerloss.c: a random workload of writes, RWF_DSYNC
 * writes, linked write+fdatasync, fsync and fdatasync, with short writes
 * injected, recorded and then crashed at every acknowledgement point.
 *
 * Each 8 KiB unit carries a version (a new version per write of the unit,
 * stamped in both 4 KiB halves). For a DROP image at crash point c, every
 * half must hold a version between the newest one the workload was told was
 * durable by c (a write_durable or DSYNC callback, or an fsync callback for a
 * write completed before the fsync was issued) and the newest one whose
 * submission had begun by c. So an acknowledged write is never lost, and
 * nothing appears that was not written.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "regio.h"
#include "regio/testing.h"

#define HALF     4096u
#define UNIT     (2 * HALF)
#define UNITS    12
#define OPS      300
#define MAX_ACKS (OPS + 8)

struct unit {
    uint64_t next_version; /* versions 1.. ; 0 = the old contents */
    bool in_flight;
    struct regio_buf b;
    uint64_t completed_version;   /* newest version whose write completed */
    uint64_t sub_before[OPS + 2]; /* record_seq before version v was issued */
};

struct ack {
    uint64_t seq;            /* record_seq when the callback ran */
    uint64_t durable[UNITS]; /* per unit: newest version guaranteed durable */
};

struct world {
    struct regio_engine *e;
    struct regio_file *f;
    struct unit units[UNITS];
    uint64_t durable[UNITS]; /* running guarantee */
    struct ack acks[MAX_ACKS];
    int nacks;
    int errors;
};

struct op {
    struct world *w;
    int unit;                /* -1 for fsync */
    uint64_t version;        /* of the write */
    bool durable_on_ack;     /* write_durable or DSYNC */
    uint64_t covered[UNITS]; /* fsync: completed versions when issued */
};

static void add_ack(struct world *w)
{
    CHECK(w->nacks < MAX_ACKS);
    struct ack *a = &w->acks[w->nacks++];
    a->seq = regio_engine_record_seq(w->e);
    memcpy(a->durable, w->durable, sizeof(a->durable));
}

static void op_cb(void *ctx, int res)
{
    struct op *o = ctx;
    struct world *w = o->w;
    if (o->unit >= 0) {
        struct unit *u = &w->units[o->unit];
        if (res != (int)UNIT)
            w->errors++;
        u->in_flight = false;
        if (o->version > u->completed_version)
            u->completed_version = o->version;
        if (o->durable_on_ack && o->version > w->durable[o->unit]) {
            w->durable[o->unit] = o->version;
            add_ack(w);
        }
    } else {
        if (res != 0)
            w->errors++;
        for (int k = 0; k < UNITS; k++)
            if (o->covered[k] > w->durable[k])
                w->durable[k] = o->covered[k];
        add_ack(w);
    }
    free(o);
}

static void stamp(struct regio_buf b, uint64_t version)
{
    for (uint32_t h = 0; h < 2; h++) {
        char *p = (char *)b.data + h * HALF;
        memset(p, (int)(version & 0xff), HALF);
        memcpy(p, &version, sizeof(version));
    }
}

static void issue_write(struct world *w, int k, int kind)
{
    struct unit *u = &w->units[k];
    struct op *o = calloc(1, sizeof(*o));
    o->w = w;
    o->unit = k;
    o->version = ++u->next_version;
    o->durable_on_ack = kind != 0;
    stamp(u->b, o->version);
    u->sub_before[o->version] = regio_engine_record_seq(w->e);
    u->in_flight = true;
    uint64_t off = (uint64_t)k * UNIT;
    if (kind == 0)
        CHECK_OK(regio_file_write(w->f, u->b, off, UNIT, op_cb, o));
    else if (kind == 1)
        CHECK_OK(regio_file_write_flags(w->f, u->b, off, UNIT, REGIO_WRITE_DSYNC, op_cb, o));
    else
        CHECK_OK(regio_file_write_durable(w->f, u->b, off, UNIT, op_cb, o));
}

static void issue_fsync(struct world *w, bool datasync)
{
    struct op *o = calloc(1, sizeof(*o));
    o->w = w;
    o->unit = -1;
    for (int k = 0; k < UNITS; k++)
        o->covered[k] = w->units[k].completed_version;
    CHECK_OK(regio_file_fsync(w->f, datasync, op_cb, o));
}

static void run_workload(struct world *w, uint64_t *rng)
{
    for (int i = 0; i < OPS; i++) {
        uint64_t r = test_rand(rng);
        if (r % 7 == 0)
            CHECK_OK(
                regio_engine_fault_arm(w->e, &(struct regio_fault){REGIO_OP_WRITE, 1 + (r >> 8) % 3,
                                                                   0, false, HALF, false}));
        if (r % 5 == 0) {
            issue_fsync(w, (r >> 4) & 1);
        } else {
            int k = (int)((r >> 12) % UNITS);
            while (w->units[k].in_flight)
                CHECK(regio_engine_wait(w->e, 1, -1) >= 0);
            issue_write(w, k, (int)((r >> 20) % 3));
        }
        if ((r >> 28) % 4 == 0) {
            int rc = regio_engine_wait(w->e, 1, 0);
            CHECK(rc >= 0 || rc == -ETIMEDOUT);
        }
        if ((r >> 32) % 16 == 0)
            CHECK_OK(regio_engine_drain(w->e, -1));
    }
    CHECK_OK(regio_engine_drain(w->e, -1));
    regio_engine_fault_clear(w->e);
}

/* The version stamped in a half, 0 for the old contents ('O' bytes). */
static uint64_t half_version(const char *p)
{
    if ((unsigned char)p[0] == 'O' && (unsigned char)p[HALF - 1] == 'O' && p[8] == 'O')
        return 0;
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    for (uint32_t i = 8; i < HALF; i++)
        CHECK((unsigned char)p[i] == (v & 0xff));
    return v;
}

static void check_crash(struct world *w, struct regio_recording *rec, const char *img,
                        uint64_t crash, const uint64_t *durable)
{
    int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_OK(regio_recording_write_image(rec, 0, crash, REGIO_RECORDING_DROP, 0, fd));
    char *half = malloc(HALF);
    for (int k = 0; k < UNITS; k++) {
        uint64_t hi = 0;
        for (uint64_t v = 1; v <= w->units[k].next_version; v++)
            if (w->units[k].sub_before[v] < crash)
                hi = v;
        for (uint32_t h = 0; h < 2; h++) {
            CHECK_EQ(pread(fd, half, HALF, (off_t)k * UNIT + h * HALF), HALF);
            uint64_t v = half_version(half);
            if (v < durable[k] || v > hi) {
                fprintf(stderr,
                        "crash at %llu: unit %d half %u holds version %llu, want %llu..%llu\n",
                        (unsigned long long)crash, k, h, (unsigned long long)v,
                        (unsigned long long)durable[k], (unsigned long long)hi);
                exit(1);
            }
        }
    }
    free(half);
    close(fd);
}

int main(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("engine_powerloss"));
    uint64_t rng = test_seed();
    char path[600], img[700];
    snprintf(path, sizeof(path), "%s/data", dir);
    snprintf(img, sizeof(img), "%s/image", dir);

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    char *old = malloc(UNIT * UNITS);
    memset(old, 'O', UNIT * UNITS);
    CHECK_EQ(pwrite(fd, old, UNIT * UNITS, 0), UNIT * UNITS);
    CHECK_EQ(fsync(fd), 0);
    close(fd);
    free(old);

    struct regio_arena *a;
    struct regio_arena_opts ao = {.size_bytes = 16u << 20};
    CHECK_OK(regio_arena_create(&ao, &a));
    struct regio_slab *s;
    CHECK_OK(regio_slab_create(a, NULL, &s));
    static struct world w;
    CHECK_OK(regio_engine_create(a, s, NULL, &w.e));
    CHECK_OK(regio_file_open(w.e, path, O_RDWR, 0, &w.f));
    for (int k = 0; k < UNITS; k++)
        CHECK_OK(regio_slab_alloc(s, UNIT, &w.units[k].b));

    CHECK_OK(regio_engine_record_start(w.e));
    run_workload(&w, &rng);
    struct regio_recording *rec;
    CHECK_OK(regio_engine_record_stop(w.e, &rec));
    CHECK_EQ(w.errors, 0);
    struct regio_engine_stats st;
    CHECK_OK(regio_engine_stats(w.e, &st));
    fprintf(stderr, "%d acknowledgements, %llu short writes completed, last seq %llu\n", w.nacks,
            (unsigned long long)st.short_resubmits,
            (unsigned long long)regio_recording_last_seq(rec));
    CHECK(st.short_resubmits > 0);

    uint64_t none[UNITS] = {0};
    check_crash(&w, rec, img, 0, none);
    for (int i = 0; i < w.nacks; i++)
        check_crash(&w, rec, img, w.acks[i].seq, w.acks[i].durable);
    check_crash(&w, rec, img, regio_recording_last_seq(rec), w.durable);

    regio_recording_destroy(rec);
    for (int k = 0; k < UNITS; k++)
        CHECK_OK(regio_slab_free(s, w.units[k].b));
    CHECK_OK(regio_engine_destroy(w.e));
    CHECK_OK(regio_slab_destroy(s));
    CHECK_OK(regio_arena_destroy(a));
    test_rmdir_all(dir);
    return 0;
}
