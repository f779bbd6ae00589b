/*
 * regio/pager.h: a page file of fixed-size checksummed pages over an engine.
 *
 * The last 16 bytes of every page are a trailer: XXH3-64 of the page payload
 * seeded with the page number, and the page number itself, so a flipped bit
 * and a page written at the wrong offset are both caught on read (-EBADMSG).
 * In-place page writes are not atomic: a power cut can tear one, and the
 * checksum then reports -EBADMSG. Surviving that is the embedding database's
 * protocol (full-page images in its WAL, or a doublewrite area).
 */
#ifndef REGIO_PAGER_H
#define REGIO_PAGER_H

#include <sys/types.h>

#include "regio/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REGIO_PAGE_TRAILER_BYTES 16

struct regio_pager_opts {
    uint32_t page_bytes; /* 4 KiB to 64 KiB, power of two; 0 = 4096 */
    bool create;         /* create the file when missing */
    mode_t mode;         /* for create; 0 = 0644 */
};

struct regio_pager;

/* Open (or create) a page file on engine e; the pager belongs to the caller
 * until regio_pager_close and must be closed before e is destroyed. */
REGIO_API int regio_pager_open(struct regio_engine *e, const char *path,
                               const struct regio_pager_opts *opts, struct regio_pager **out);

/* Bytes of each page that belong to the caller (page size - trailer). */
REGIO_API size_t regio_pager_payload_bytes(const struct regio_pager *p);
REGIO_API uint32_t regio_pager_page_bytes(const struct regio_pager *p);

/*
 * Queue a read of page page_no into b (cap_bytes >= page size). cb gets the
 * page size, -EBADMSG (checksum or page number mismatch), -ENODATA (page
 * never written or past the end; b is then all zeros), or an I/O error.
 */
REGIO_API int regio_pager_read(struct regio_pager *p, uint64_t page_no, struct regio_buf b,
                               regio_cb cb, void *ctx);

/* Queue a write of page page_no from b: the trailer is filled in first, so
 * the caller's payload must fit in regio_pager_payload_bytes(). */
REGIO_API int regio_pager_write(struct regio_pager *p, uint64_t page_no, struct regio_buf b,
                                regio_cb cb, void *ctx);

/* Synchronous helpers: queue, submit, wait. */
REGIO_API int regio_pager_read_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b);
REGIO_API int regio_pager_write_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b);

/* Make every completed page write durable (fdatasync through the ring). */
REGIO_API int regio_pager_sync(struct regio_pager *p);

/* Pages the file holds (size / page size). */
REGIO_API int regio_pager_page_count(struct regio_pager *p, uint64_t *count_out);
/*
 * Grow the file to at least page_count pages (fallocate; ftruncate where the
 * filesystem has none), or set it to exactly page_count pages (ftruncate).
 * Like page writes, a length change is durable only after regio_pager_sync;
 * a power loss before it may keep or lose the change, as a whole. Both are
 * engine calls: from a thread that does not own an owned engine, -EPERM.
 */
REGIO_API int regio_pager_extend(struct regio_pager *p, uint64_t page_count);
REGIO_API int regio_pager_truncate(struct regio_pager *p, uint64_t page_count);

/* -EBUSY while page I/O of this pager is in flight. */
REGIO_API int regio_pager_close(struct regio_pager *p);

/* Verify a page image in memory (used by regio-dump): 0 ok, -EBADMSG,
 * -ENODATA for all zeros. */
REGIO_API int regio_pager_verify_image(const void *page, uint32_t page_bytes, uint64_t page_no);

#ifdef __cplusplus
}
#endif

#endif
