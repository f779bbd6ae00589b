/*
 * regio/common.h: conventions shared by every regio module.
 *
 * Every fallible call returns 0 (or a non-negative count) on success and a
 * negative errno on failure; nothing sets or reads errno for the caller.
 * The meaning of each code is fixed across the library:
 *
 *   -EFAULT     pointer or range not inside one registered region
 *   -EINVAL     bad argument, or offset/length/address misaligned for O_DIRECT
 *   -ENOBUFS    no free buffer
 *   -ETIMEDOUT  a wait ran out
 *   -EBUSY      object still has buffers, registrations or operations in flight
 *   -ESTALE     buffer handle from an earlier generation (freed and reused)
 *   -EXDEV      buffer handle of another slab (on the same arena) than the one given
 *   -EALREADY   double free
 *   -EBADMSG    checksum mismatch or corrupt structure
 *   -ENODATA    a page never written (all zeros)
 *   -EPROTO     a page of an older on-disk format (docs/format.md)
 *   -ENXIO      a page past the end of its file (not written, or the file cut short)
 *   -EAGAIN     too many requests in flight (reap, then retry)
 *   -ECANCELED  a linked request that did not run because its predecessor failed
 *   -ENOMEM     memory or locked-memory limits
 *   -EIO/-ENOSPC device errors, passed through
 *   -EPERM      call from a thread that does not own an owned-mode engine
 *   -EBADF      closed or unknown file / object
 *   -ENOENT     no such file, log, registration or recording
 *   -EEXIST     already there (a ring registered twice, a stats file name taken)
 *   -EMFILE     the engine's registered-file table is full
 *
 * Each declaration in include/regio/ lists the codes it returns and when,
 * and says who owns what it hands out and from which threads it may be
 * called. Names follow one grammar, regio_<object>_<verb> (docs/architecture.md,
 * "Names"). A close or destroy that refuses (-EBUSY, -EPERM, -EINVAL) leaves
 * its object untouched and usable; one that fails on I/O while closing still
 * frees the object and reports the error. Failing calls leave a longer
 * explanation in regio_error_detail(), written by that call (never the
 * text of an earlier failure; tests/test_misuse.c checks every case).
 */
#ifndef REGIO_COMMON_H
#define REGIO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "regio/export.h"

#define REGIO_VERSION_MAJOR 0
#define REGIO_VERSION_MINOR 1
#define REGIO_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A static, human-readable message for err, a negative errno returned by
 * regio or a positive errno; any int is accepted. regio's own words for the
 * codes above (and a few more), the C library's description for the
 * others, "unknown error" for values no errno has. Never NULL and never
 * fails; the string is owned by the library. Any thread.
 */
REGIO_API const char *regio_strerror(int err);

/*
 * A longer explanation of the last failure on the calling thread, when the
 * failing call had more to say than its errno (for example the bytes a
 * registration needed and the RLIMIT_MEMLOCK in force). Empty string when
 * there is none. The string is thread-local and owned by the library; it is
 * valid until the next regio call on this thread.
 */
REGIO_API const char *regio_error_detail(void);

/* The library version as "MAJOR.MINOR.PATCH"; a static string owned by the
 * library. Any thread. */
REGIO_API const char *regio_version(void);

/*
 * Which XXH3 entry points the checksums go through in this process, for
 * reports: "plain XXH3 (SSE2)" or "dispatching XXH3 (AVX-512, AVX2 or
 * SSE2)". Both compute the same values; the choice is made once, at the
 * first checksum, and only changes speed (README, docs/decisions.md). A
 * static string owned by the library.
 */
REGIO_API const char *regio_checksum_impl(void);

#ifdef __cplusplus
}
#endif

#endif
