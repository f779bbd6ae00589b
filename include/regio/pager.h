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

/*
 * Open (or, with opts->create, create) the page file at path on engine e.
 * opts (NULL: 4 KiB pages, no create) is only read during the call. On
 * success *out is the caller's until regio_pager_close() succeeds, and
 * regio_engine_destroy(e) is -EBUSY until then. Engine thread rules apply
 * (regio/engine.h) to this and every pager call that queues or waits.
 *   -EINVAL  e, path or out NULL; page_bytes not a power of two from 4 KiB to
 *            64 KiB, or not a multiple of the file's O_DIRECT alignment; the
 *            filesystem refuses O_DIRECT.
 *   -EPERM   owned engine, called from another thread.
 *   -EBADF   the engine is being destroyed.
 *   -EMFILE  the engine's file table is full.
 *   -ENOMEM  no memory.
 *   other    the negative errno of open() (-ENOENT without create, ...).
 */
REGIO_API int regio_pager_open(struct regio_engine *e, const char *path,
                               const struct regio_pager_opts *opts, struct regio_pager **out);

/* Bytes of each page that belong to the caller (page size - trailer), and
 * the page size; 0 for a NULL p. Any thread. */
REGIO_API size_t regio_pager_payload_bytes(const struct regio_pager *p);
REGIO_API uint32_t regio_pager_page_bytes(const struct regio_pager *p);

/*
 * Queue a read of page page_no into b (a live buffer or view of the engine's
 * slab with cap_bytes >= the page size). A rejected call never calls cb; an
 * accepted one calls it exactly once, with:
 *   the page size  the page verified (checksum and page number);
 *   -EBADMSG       checksum or page number mismatch, or the file ends inside
 *                  the page;
 *   -ENODATA       a page never written (all zeros) or past the end of the
 *                  file; b is all zeros then;
 *   or the read's negative errno (see regio_cb).
 * Errors of the call itself:
 *   -EINVAL  p NULL; b smaller than a page; page_no so large that its offset
 *            passes 2^63; and the other -EINVAL cases of regio_file_read.
 *   -EFAULT  b.data NULL, or b outside the engine's arena.
 *   -ENOMEM  no memory for the operation's context.
 *   -EPERM, -EBADF, -ESTALE, -EALREADY, -EAGAIN  as regio_file_read.
 */
REGIO_API int regio_pager_read(struct regio_pager *p, uint64_t page_no, struct regio_buf b,
                               regio_cb cb, void *ctx);

/*
 * Queue a write of page page_no from b. The trailer is written into the last
 * REGIO_PAGE_TRAILER_BYTES of b's page first, so the caller's payload must
 * fit in regio_pager_payload_bytes(). cb gets the page size or a negative
 * errno; the page is durable only after a later regio_pager_sync(). The
 * errors of regio_pager_read, and b is checked to be a live buffer of the
 * engine's slab before the trailer is written (-EINVAL, -EFAULT, -ESTALE,
 * -EALREADY: nothing touched).
 */
REGIO_API int regio_pager_write(struct regio_pager *p, uint64_t page_no, struct regio_buf b,
                                regio_cb cb, void *ctx);

/*
 * Queue, submit and block until the read (write) of one page has completed,
 * running any other callbacks of the engine that complete meanwhile. Return
 * the page size, or the error of the call or of its completion, as
 * regio_pager_read (regio_pager_write) describes.
 */
REGIO_API int regio_pager_read_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b);
REGIO_API int regio_pager_write_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b);

/*
 * Block until every page write that completed before the call, and every
 * length change, is durable: one fdatasync through the ring. Returns 0.
 *   -EINVAL  p NULL.
 *   -ENOMEM  no memory for the operation's context.
 *   -EPERM, -EBADF, -EAGAIN  as regio_file_fsync.
 *   other    the fdatasync's negative errno (-EIO, ...): the writes since the
 *            last successful sync may not be durable.
 */
REGIO_API int regio_pager_sync(struct regio_pager *p);

/*
 * Whole pages the file holds (its size / page size, rounded down) in
 * *count_out. Any thread.
 *   -EINVAL  p or count_out NULL.
 *   -EBADF   the file was closed.
 *   other    the negative errno of fstat.
 */
REGIO_API int regio_pager_page_count(struct regio_pager *p, uint64_t *count_out);
/*
 * Grow the file to at least page_count pages (fallocate; ftruncate where the
 * filesystem has none; nothing when it is that long already), or set it to
 * exactly page_count pages (ftruncate). New pages read back -ENODATA. Like
 * page writes, a length change is durable only after regio_pager_sync; a
 * power loss before it may keep or lose the change, as a whole. Do not
 * change the length while page I/O beyond the new end is in flight.
 *   -EINVAL  p NULL, or page_count * page size beyond 2^63.
 *   -EPERM   owned engine, called from another thread.
 *   other    the negative errno of fstat, fallocate or ftruncate (-ENOSPC,
 *            ...).
 */
REGIO_API int regio_pager_extend(struct regio_pager *p, uint64_t page_count);
REGIO_API int regio_pager_truncate(struct regio_pager *p, uint64_t page_count);

/*
 * Close the page file and free p; nothing is synced (call regio_pager_sync
 * first for durability). On success p is freed; a refusal leaves p untouched
 * and usable.
 *   -EINVAL  p NULL.
 *   -EPERM   owned engine, called from another thread.
 *   -EBUSY   page I/O of this pager is in flight (wait for its callbacks).
 */
REGIO_API int regio_pager_close(struct regio_pager *p);

/*
 * Verify a page image in memory (regio-dump uses it on pages it read
 * itself): 0 when the trailer matches page_no and the checksum. Pure: any
 * thread, no pager needed (a function of the page format, hence no pager
 * argument).
 *   -ENODATA  the page is all zeros (never written).
 *   -EBADMSG  checksum or page number mismatch.
 *   -EINVAL   page NULL, or page_bytes not a page size a pager can have (a
 *             power of two from 4 KiB to 64 KiB).
 */
REGIO_API int regio_pager_verify_image(const void *page, uint32_t page_bytes, uint64_t page_no);

#ifdef __cplusplus
}
#endif

#endif
