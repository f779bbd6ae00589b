/* regio-test: labels=io */
/*
 * tests/test_example_fpw.c: surviving a torn page write with full-page
 * images in the WAL (PostgreSQL's full_page_writes), written as an embedder
 * would. It is the example of docs/embedding.md ("Torn pages").
 *
 * A toy database of N_PAGES pages keeps its pages in slab buffers. The first
 * change of a page after a checkpoint logs the whole new page (REC_IMAGE);
 * later changes log only the bytes changed (REC_DELTA). Every record is
 * durable (regio_wal_sync) before the page is written in place: the
 * write-ahead rule. A power cut that tears an in-place write is then
 * repaired at restart by replaying the WAL from the checkpoint: the image
 * replaces whatever half-written page the disk holds, the deltas follow.
 */
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "regio.h"

enum { N_PAGES = 8, PAGE_BYTES = 4096, TORN_PAGE = 5 };
enum { REC_IMAGE = 1, REC_DELTA = 2, REC_CHECKPOINT = 3 }; /* our WAL record types */

struct delta_hdr {
    uint64_t page_no;
    uint32_t off; /* first payload byte changed */
    uint32_t len; /* bytes changed; they follow the header */
};

struct db {
    struct regio_arena *arena; /* shared by the WAL and our engine */
    struct regio_wal *wal;
    struct regio_slab *slab;
    struct regio_engine *engine; /* owned by this thread */
    struct regio_pager *pager;
    struct regio_buf pages[N_PAGES]; /* the buffer pool: one buffer per page */
    bool imaged[N_PAGES];            /* full image logged since the checkpoint */
    size_t payload;                  /* our bytes of each page */
};

static void db_open(struct db *db, const char *dir, struct regio_wal_recovery *info)
{
    char path[512];
    memset(db, 0, sizeof(*db));
    struct regio_arena_opts ao = {.size_bytes = 16u << 20};
    CHECK_OK(regio_arena_create(&ao, &db->arena));
    /* Opening the WAL recovers it; info tells where replay must start. */
    snprintf(path, sizeof(path), "%s/wal", dir);
    struct regio_wal_opts wo = {
        .arena = db->arena, .create = true, .segment_bytes = 1u << 20, .buffer_bytes = 64u << 10};
    CHECK_OK(regio_wal_open(path, &wo, &db->wal, info));
    CHECK_OK(regio_slab_create(db->arena, NULL, &db->slab));
    /* Our engine shares the arena with the WAL's: it clones the WAL ring's
     * registration where the kernel allows it, else pins the arena anew. */
    struct regio_engine_opts eo = {0};
    CHECK_OK(regio_engine_create(db->arena, db->slab, &eo, &db->engine));
    snprintf(path, sizeof(path), "%s/pages", dir);
    /* Detect only: this example is the embedder's own protocol, which the
     * pager's doublewrite (the default) would make unnecessary. */
    struct regio_pager_opts po = {
        .page_bytes = PAGE_BYTES, .create = true, .torn = REGIO_PAGER_TORN_DETECT};
    CHECK_OK(regio_pager_open(db->engine, path, &po, &db->pager));
    db->payload = regio_pager_payload_bytes(db->pager);
    for (int i = 0; i < N_PAGES; i++)
        CHECK_OK(regio_slab_alloc(db->slab, PAGE_BYTES, &db->pages[i]));
}

/* The reverse order of db_open: each object is gone before what it uses. */
static void db_close(struct db *db)
{
    for (int i = 0; i < N_PAGES; i++)
        CHECK_OK(regio_slab_free(db->slab, db->pages[i]));
    CHECK_OK(regio_pager_close(db->pager));
    CHECK_OK(regio_engine_destroy(db->engine));
    CHECK_OK(regio_slab_destroy(db->slab));
    CHECK_OK(regio_wal_close(db->wal));
    CHECK_OK(regio_arena_destroy(db->arena));
}

/* Change len bytes of page page_no at off: log, wait for the log, write. */
static void db_update(struct db *db, uint64_t page_no, uint32_t off, const void *bytes,
                      uint32_t len)
{
    CHECK(page_no < N_PAGES && off + len <= db->payload);
    unsigned char *page = db->pages[page_no].data;
    memcpy(page + off, bytes, len);
    uint64_t lsn;
    if (!db->imaged[page_no]) {
        /* First change since the checkpoint: the whole new page, so that
         * replay never depends on what a torn write left on disk. */
        struct iovec iov[2] = {{&page_no, sizeof(page_no)}, {page, db->payload}};
        CHECK_OK(regio_wal_append_record(db->wal, REC_IMAGE, iov, 2, &lsn, NULL));
        db->imaged[page_no] = true;
    } else {
        /* The page is in the log since the checkpoint: a delta is enough. */
        struct delta_hdr h = {.page_no = page_no, .off = off, .len = len};
        struct iovec iov[2] = {{&h, sizeof(h)}, {page + off, len}};
        CHECK_OK(regio_wal_append_record(db->wal, REC_DELTA, iov, 2, &lsn, NULL));
    }
    /* The write-ahead rule: the record is durable before the page changes. */
    CHECK_OK(regio_wal_sync(db->wal, lsn));
    CHECK_EQ(regio_pager_write_wait(db->pager, page_no, db->pages[page_no]), PAGE_BYTES);
}

/* Make every page write durable, then log where replay starts from now on. */
static uint64_t db_checkpoint(struct db *db)
{
    CHECK_OK(regio_pager_sync(db->pager));
    uint64_t lsn, marker = 0;
    struct iovec iov = {&marker, sizeof(marker)};
    CHECK_OK(regio_wal_append_record(db->wal, REC_CHECKPOINT, &iov, 1, &lsn, NULL));
    CHECK_OK(regio_wal_sync(db->wal, lsn));
    CHECK_OK(regio_wal_set_checkpoint(db->wal, lsn));
    memset(db->imaged, 0, sizeof(db->imaged));
    return lsn;
}

/* Restart: redo every record from the checkpoint into the buffer pool, then
 * write back each page the log touched. Returns the pages rewritten. */
static int db_replay(struct db *db, const char *dir, uint64_t from_lsn)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/wal", dir);
    struct regio_wal_reader *r;
    CHECK_OK(regio_wal_reader_open(path, from_lsn, &r));
    bool touched[N_PAGES] = {false};
    struct regio_wal_record rec;
    int got;
    while ((got = regio_wal_reader_next(r, &rec)) == 1) {
        const unsigned char *p = rec.data;
        uint64_t page_no;
        if (rec.type == REC_IMAGE) {
            CHECK_EQ(rec.len, sizeof(page_no) + db->payload);
            memcpy(&page_no, p, sizeof(page_no));
            CHECK(page_no < N_PAGES);
            memcpy(db->pages[page_no].data, p + sizeof(page_no), db->payload);
            touched[page_no] = true;
        } else if (rec.type == REC_DELTA) {
            struct delta_hdr h;
            CHECK(rec.len >= sizeof(h));
            memcpy(&h, p, sizeof(h));
            CHECK(h.page_no < N_PAGES && rec.len == sizeof(h) + h.len);
            /* A delta always follows an image of its page since the
             * checkpoint; without one the protocol above was broken. */
            CHECK(touched[h.page_no]);
            memcpy((unsigned char *)db->pages[h.page_no].data + h.off, p + sizeof(h), h.len);
        } else {
            CHECK_EQ(rec.type, REC_CHECKPOINT);
        }
    }
    CHECK_OK(got);
    CHECK_OK(regio_wal_reader_close(r));
    int rewritten = 0;
    for (uint64_t i = 0; i < N_PAGES; i++) {
        if (touched[i]) {
            CHECK_EQ(regio_pager_write_wait(db->pager, i, db->pages[i]), PAGE_BYTES);
            rewritten++;
        }
    }
    CHECK_OK(regio_pager_sync(db->pager));
    return rewritten;
}

/* A power cut during the in-place write of page_no: the second half of the
 * page still holds old_page (contents and trailer of its previous version). */
static void tear_page(const char *dir, uint64_t page_no, const unsigned char *old_page)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/pages", dir);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    off_t half = PAGE_BYTES / 2;
    CHECK_EQ(pwrite(fd, old_page + half, (size_t)half, (off_t)page_no * PAGE_BYTES + half), half);
    CHECK_EQ(fsync(fd), 0);
    CHECK_EQ(close(fd), 0);
}

int main(void)
{
    const char *dir = test_tmpdir("example_fpw");
    uint64_t seed = test_seed();
    struct db db;
    struct regio_wal_recovery info;
    db_open(&db, dir, &info);
    CHECK_EQ(info.end, REGIO_WAL_END_EMPTY);

    /* Load: every page gets its first contents (logged as images too). */
    unsigned char bytes[PAGE_BYTES];
    for (uint64_t i = 0; i < N_PAGES; i++) {
        memset(bytes, (int)('a' + i), db.payload);
        db_update(&db, i, 0, bytes, (uint32_t)db.payload);
    }
    uint64_t ckpt_lsn = db_checkpoint(&db);

    /* Work after the checkpoint: random changes to every page but the last,
     * which stays as the checkpoint left it. */
    for (int n = 0; n < 200; n++) {
        uint64_t page_no = test_rand(&seed) % (N_PAGES - 1);
        uint32_t len = 1 + (uint32_t)(test_rand(&seed) % 600);
        uint32_t off = (uint32_t)(test_rand(&seed) % (db.payload - len + 1));
        for (uint32_t k = 0; k < len; k++)
            bytes[k] = (unsigned char)test_rand(&seed);
        db_update(&db, page_no, off, bytes, len);
    }

    /* The last write of TORN_PAGE, a delta spanning both halves, is the one
     * the power cut tears: keep the page's previous on-disk version. */
    unsigned char *old_page = malloc(PAGE_BYTES);
    CHECK(old_page != NULL);
    CHECK_EQ(regio_pager_read_wait(db.pager, TORN_PAGE, db.pages[TORN_PAGE]), PAGE_BYTES);
    memcpy(old_page, db.pages[TORN_PAGE].data, PAGE_BYTES);
    memset(bytes, 0x5a, 1024);
    db_update(&db, TORN_PAGE, PAGE_BYTES / 2 - 512, bytes, 1024);

    /* Remember what every page must hold, then "crash" and tear the page. */
    unsigned char *want = malloc((size_t)N_PAGES * PAGE_BYTES);
    CHECK(want != NULL);
    for (int i = 0; i < N_PAGES; i++)
        memcpy(want + (size_t)i * PAGE_BYTES, db.pages[i].data, db.payload);
    size_t payload = db.payload;
    db_close(&db);
    tear_page(dir, TORN_PAGE, old_page);

    /* Restart. The checksum finds the torn page; the others read fine. */
    db_open(&db, dir, &info);
    CHECK_EQ(info.checkpoint_lsn, ckpt_lsn);
    for (uint64_t i = 0; i < N_PAGES; i++) {
        int res = regio_pager_read_wait(db.pager, i, db.pages[i]);
        CHECK_EQ(res, i == TORN_PAGE ? -EBADMSG : PAGE_BYTES);
        /* A page that failed its checksum is never used, not even as the
         * base for deltas: only its logged image can rebuild it. */
        if (res < 0)
            memset(db.pages[i].data, 0, PAGE_BYTES);
    }

    /* Redo from the checkpoint: the torn page is rebuilt from its image and
     * deltas, the untouched last page is not rewritten. */
    CHECK_EQ(db_replay(&db, dir, info.checkpoint_lsn), N_PAGES - 1);
    for (uint64_t i = 0; i < N_PAGES; i++) {
        memset(db.pages[i].data, 0xee, PAGE_BYTES);
        CHECK_EQ(regio_pager_read_wait(db.pager, i, db.pages[i]), PAGE_BYTES);
        CHECK(memcmp(db.pages[i].data, want + i * PAGE_BYTES, payload) == 0);
    }
    db_close(&db);
    free(want);
    free(old_page);
    test_rmdir_all(dir);
    printf("example_fpw: torn page %d detected and rebuilt from the WAL\n", TORN_PAGE);
    return 0;
}
