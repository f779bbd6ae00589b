/*
 * regio/pager.h: a page file of fixed-size checksummed pages over an engine.
 *
 * The last 32 bytes of every page are a trailer (page format 2,
 * docs/format.md): the page LSN (the caller's), the pager's write sequence,
 * XXH3-64 of everything before it seeded with the page number, and the page
 * number itself, so a flipped bit and a page written at the wrong offset are
 * both caught on read (-EBADMSG). A pager bound to a WAL
 * (regio_pager_bind_wal) writes a page only once the log is durable past
 * its page LSN.
 */
#ifndef REGIO_PAGER_H
#define REGIO_PAGER_H

#include <sys/types.h>

#include "regio/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REGIO_PAGE_TRAILER_BYTES 32

struct regio_wal;

/*
 * Protection against torn pages (a power cut in the middle of a page write;
 * docs/embedding.md, "Torn pages").
 */
enum regio_pager_torn {
    /* ATOMIC where the device reports an atomic write unit covering a page,
     * else DOUBLEWRITE. */
    REGIO_PAGER_TORN_AUTO = 0,
    /* Each write goes first to a slot of PATH.dw (RWF_DSYNC), then in place;
     * open restores a torn page from its copy. */
    REGIO_PAGER_TORN_DOUBLEWRITE = 1,
    /* Every page write is RWF_ATOMIC (kernel 6.11+); open fails with
     * -EOPNOTSUPP where the device cannot. */
    REGIO_PAGER_TORN_ATOMIC = 2,
    /* Detect only: a torn page reads -EBADMSG, surviving it is the caller's. */
    REGIO_PAGER_TORN_DETECT = 3,
};

struct regio_pager_opts {
    uint32_t page_bytes; /* 4 KiB to 64 KiB, power of two; 0 = 4096 */
    bool create;         /* create the file when missing */
    mode_t mode;         /* for create (and the doublewrite file); 0 = 0644 */
    enum regio_pager_torn torn;
    uint32_t doublewrite_slots; /* DOUBLEWRITE: copies in flight at most; 0 = 32, max 4096 */
};

struct regio_pager;

/*
 * Open (or, with opts->create, create) the page file at path on engine e.
 * opts (NULL: 4 KiB pages, no create, AUTO torn-page protection) is only
 * read during the call. With the doublewrite protection the file path.dw
 * is created (or opened) too, and every page torn by a power cut is
 * restored from it, durably, before the call returns. On
 * success *out is the caller's until regio_pager_close() succeeds, and
 * regio_engine_destroy(e) is -EBUSY until then. Engine thread rules apply
 * (regio/engine.h) to this and every pager call that queues or waits.
 *   -EINVAL  e, path or out NULL; page_bytes not a power of two from 4 KiB to
 *            64 KiB, or not a multiple of the file's O_DIRECT alignment; the
 *            filesystem refuses O_DIRECT.
 *   -EPERM   owned engine, called from another thread.
 *   -EBADF   the engine is being destroyed.
 *   -EINVAL  also: an unknown opts->torn, or doublewrite_slots > 4096.
 *   -EOPNOTSUPP  opts->torn is REGIO_PAGER_TORN_ATOMIC and statx reports no
 *            atomic write unit covering the page size.
 *   -EMFILE  the engine's file table is full.
 *   -ENOMEM  no memory.
 *   other    the negative errno of open() (-ENOENT without create, ...), or
 *            of the doublewrite file's creation or repair (-EIO, -ENOSPC).
 */
REGIO_API int regio_pager_open(struct regio_engine *e, const char *path,
                               const struct regio_pager_opts *opts, struct regio_pager **out);

/*
 * The protection the pager uses (AUTO resolved), and the torn pages it
 * restored from the doublewrite file when it opened. Any thread; for a NULL
 * p, AUTO and 0.
 */
REGIO_API enum regio_pager_torn regio_pager_torn(const struct regio_pager *p);
REGIO_API uint64_t regio_pager_pages_repaired(const struct regio_pager *p);

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
 *   -EPROTO        a valid page of format 1 (regio before 0.2), which this
 *                  pager does not read (docs/format.md);
 *   -ENODATA       a page inside the file never written (all zeros);
 *   -ENXIO         the page lies wholly past the end of the file: never
 *                  written, or the file was cut short (b is zeroed for
 *                  -ENODATA and -ENXIO alike; only the caller's own page
 *                  count tells a fresh page from a lost one);
 *   or the read's negative errno (see regio_cb).
 * Errors of the call itself:
 *   -EINVAL  p NULL; b smaller than a page; page_no so large that its offset
 *            passes 2^63; and the other -EINVAL cases of regio_file_read.
 *   -EFAULT  b.data NULL, or b outside the engine's arena.
 *   -ENOMEM  no memory for the operation's context.
 *   -EPERM, -EBADF, -ESTALE, -EALREADY, -EXDEV, -EAGAIN  as regio_file_read.
 */
REGIO_API int regio_pager_read(struct regio_pager *p, uint64_t page_no, struct regio_buf b,
                               regio_cb cb, void *ctx);

/*
 * Queue a write of page page_no from b. The trailer is written into the last
 * REGIO_PAGE_TRAILER_BYTES of b's page first (all but the page LSN, which
 * the caller stored with regio_pager_set_image_lsn), so the caller's payload must
 * fit in regio_pager_payload_bytes(). cb gets the page size or a negative
 * errno; the page is durable only after a later regio_pager_sync(). b is
 * the pager's until cb runs. On a pager bound to a WAL, a page whose LSN is
 * not 0 and not yet durable in the log is parked, not refused: it reaches
 * the ring once the log is durable past it (at once on a shared engine; on
 * an owned engine at the owner's next pager call, regio_pager_submit
 * included), and cb gets the log's error instead if the log fails first.
 * The errors of regio_pager_read, and b is checked to be a live buffer of the
 * engine's slab before the trailer is written (-EINVAL, -EFAULT, -ESTALE,
 * -EALREADY: nothing touched); bound, also -EINVAL for a page LSN at or
 * past the log's end (it names no record), or the error that failed the log.
 */
REGIO_API int regio_pager_write(struct regio_pager *p, uint64_t page_no, struct regio_buf b,
                                regio_cb cb, void *ctx);

/*
 * Queue, submit and block until the read (write) of one page has completed,
 * running any other callbacks of the engine that complete meanwhile. Return
 * the page size, or the error of the call or of its completion, as
 * regio_pager_read (regio_pager_write) describes. On a bound pager,
 * write_wait first waits (regio_wal_sync) until the log is durable past the
 * page LSN, and returns that call's error if it fails.
 */
REGIO_API int regio_pager_read_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b);
REGIO_API int regio_pager_write_wait(struct regio_pager *p, uint64_t page_no, struct regio_buf b);

/*
 * Read (write) n pages at once, page page_nos[i] into (from) bufs[i], and
 * block until every one has its result in results[i]: the page size, or
 * what the single-page call or its callback would have reported for that
 * page (a page refused when queued, for example a freed buffer, gets the
 * refusal; the others still run). As many pages are in flight at once as
 * the engine accepts; the call reaps whenever it is full. A bound pager's
 * batch write first waits until the log is durable past the largest page
 * LSN of the batch. The arrays are only used during the call. Returns the
 * number of pages whose result is not the page size (0: all done), or, with
 * nothing queued:
 *   -EINVAL  p NULL, or an array NULL with n > 0.
 *   -ENOMEM  no memory for the batch's contexts.
 *   -EPERM   owned engine, called from another thread.
 *   other    bound: the error of the log (regio_wal_sync).
 */
REGIO_API int regio_pager_read_many_wait(struct regio_pager *p, const uint64_t *page_nos,
                                         const struct regio_buf *bufs, int *results, size_t n);
REGIO_API int regio_pager_write_many_wait(struct regio_pager *p, const uint64_t *page_nos,
                                          const struct regio_buf *bufs, int *results, size_t n);

/*
 * Block until every page write of p queued before the call (parked ones
 * included) has completed, then until every completed page write and every
 * length change is durable: one fdatasync through the ring. Returns 0.
 *   -EINVAL  p NULL.
 *   -ENOMEM  no memory for the operation's context.
 *   -EPERM, -EBADF, -EAGAIN  as regio_file_fsync.
 *   other    the fdatasync's negative errno (-EIO, ...): the writes since the
 *            last successful sync may not be durable.
 */
REGIO_API int regio_pager_sync(struct regio_pager *p);

/*
 * Hand to the ring the writes a bound WAL released, and submit: on an owned
 * engine a parked write is submitted only by the owner, at its next pager
 * call; a loop that otherwise only waits on the engine calls this. Returns
 * what regio_engine_submit returns (requests submitted).
 *   -EINVAL  p NULL.
 *   -EPERM   owned engine, called from another thread.
 */
REGIO_API int regio_pager_submit(struct regio_pager *p);

/*
 * Bind p to the log w (w NULL: unbind): from then on a page write whose page
 * LSN is not 0 reaches the disk only after w is durable past that LSN (the
 * write-ahead rule; docs/embedding.md). w is not owned by p; while p is
 * bound, regio_wal_close(w) refuses with -EBUSY, so unbind or close p first.
 * Binding to another log, unbinding, or closing p releases the binding.
 *   -EINVAL  p NULL.
 *   -EBUSY   a write of p is in flight or parked.
 *   -EPERM   owned engine, called from another thread.
 */
REGIO_API int regio_pager_bind_wal(struct regio_pager *p, struct regio_wal *w);

/*
 * The page LSN in the trailer of a page image of page_bytes bytes (a buffer
 * about to be written, or one read): store the LSN of the WAL record that
 * last changed the page before writing it; it reads back with the page and
 * is covered by the checksum. 0 means no record. Pure, any thread.
 * regio_pager_set_image_lsn: 0, or -EINVAL for page NULL or page_bytes not a page
 * size a pager can have; regio_pager_image_lsn returns 0 then.
 */
REGIO_API int regio_pager_set_image_lsn(void *page, uint32_t page_bytes, uint64_t lsn);
REGIO_API uint64_t regio_pager_image_lsn(const void *page, uint32_t page_bytes);

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
 *   -EBUSY   page I/O of this pager is in flight or parked (wait for its
 *            callbacks; regio_pager_sync waits for them all).
 */
REGIO_API int regio_pager_close(struct regio_pager *p);

/*
 * Verify a page image in memory (regio-dump uses it on pages it read
 * itself): 0 when the trailer matches page_no and the checksum. Pure: any
 * thread, no pager needed (a function of the page format, hence no pager
 * argument).
 *   -ENODATA  the page is all zeros (never written).
 *   -EBADMSG  checksum or page number mismatch.
 *   -EPROTO   a valid page of format 1 (16-byte trailer, regio before 0.2).
 *   -EINVAL   page NULL, or page_bytes not a page size a pager can have (a
 *             power of two from 4 KiB to 64 KiB).
 */
REGIO_API int regio_pager_verify_image(const void *page, uint32_t page_bytes, uint64_t page_no);

#ifdef __cplusplus
}
#endif

#endif
