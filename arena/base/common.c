/* arena/base/common.c: error strings, the per-thread error detail, the clock. */
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static _Thread_local char detail_buf[512];

const char *regio_error_detail(void)
{
    return detail_buf;
}

void regio__clear_detail(void)
{
    detail_buf[0] = '\0';
}

void regio__set_detail(const char *fmt, ...)
{
    /* An empty detail reads as "none given": every refusal says why. */
    REGIO_ASSERT(fmt != NULL && fmt[0] != '\0');
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail_buf, sizeof(detail_buf), fmt, ap);
    va_end(ap);
}

_Noreturn void regio__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "regio: invariant violated at %s:%d: %s\n", file, line, expr);
    abort();
}

int64_t regio__now_ns(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    REGIO_ASSERT(rc == 0); /* deadlines computed from garbage would never (or always) expire */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *regio_version(void)
{
    return "0.1.0";
}

/* A code regio gives no meaning of its own (-ELOOP from an open, say) still
 * gets libc's text: strerrordesc_np returns a static string and, unlike
 * strerror, is thread-safe and never formats into a shared buffer. */
static const char *libc_text(int err)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *s = strerrordesc_np(err);
    if (s != NULL)
        return s;
#endif
    return "unknown error";
}

/* Messages say what the code means in regio, not only what libc calls it. */
const char *regio_strerror(int err)
{
    /* Negated in unsigned arithmetic: -INT_MIN does not fit an int. */
    unsigned code = err < 0 ? 0u - (unsigned)err : (unsigned)err;
    if (code > (unsigned)INT_MAX)
        return "unknown error";
    err = (int)code;
    switch (err) {
    case 0:
        return "success";
    case EFAULT:
        return "pointer or range not inside one registered region (EFAULT)";
    case EINVAL:
        return "invalid argument (EINVAL)";
    case ENOBUFS:
        return "no free buffer (ENOBUFS)";
    case ETIMEDOUT:
        return "wait timed out (ETIMEDOUT)";
    case EBUSY:
        return "still has buffers, registrations or operations in flight, or in use (EBUSY)";
    case ESTALE:
        return "stale buffer handle: the buffer was freed and reused (ESTALE)";
    case EXDEV:
        return "buffer of another slab: give it to the slab (or an engine of the slab) it came "
               "from (EXDEV)";
    case EALREADY:
        return "buffer already freed (EALREADY)";
    case EBADMSG:
        return "checksum mismatch or corrupt data (EBADMSG)";
    case ENODATA:
        return "page never written (ENODATA)";
    case EPROTO:
        return "page of an older on-disk format (EPROTO)";
    case ENXIO:
        return "page past the end of the file: not written, or the file was cut short (ENXIO)";
    case EAGAIN:
        return "too many requests in flight: reap completions, then retry (EAGAIN)";
    case ECANCELED:
        return "linked request not run because its predecessor failed (ECANCELED)";
    case ENOMEM:
        return "out of memory or locked-memory limit (ENOMEM)";
    case EIO:
        return "device I/O error (EIO)";
    case ENOSPC:
        return "no space left on device (ENOSPC)";
    case EPERM:
        return "not permitted: called from a thread that does not own the engine (EPERM)";
    case EBADF:
        return "closed or unknown file or object (EBADF)";
    case ENOENT:
        return "no such file, directory or registration (ENOENT)";
    case EEXIST:
        return "already exists (EEXIST)";
    case EOPNOTSUPP:
        return "operation not supported here (EOPNOTSUPP)";
    case ENOSYS:
        return "kernel lacks the feature (ENOSYS)";
    case EROFS:
        return "read-only file system (EROFS)";
    case EINTR:
        return "interrupted (EINTR)";
    case ERANGE:
        return "value out of range (ERANGE)";
    case E2BIG:
        return "argument too large (E2BIG)";
    case EACCES:
        return "permission denied (EACCES)";
    case ENOTDIR:
        return "not a directory (ENOTDIR)";
    default:
        return libc_text(err);
    }
}
