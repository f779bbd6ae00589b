/*
 * wal/wal_pager.c: a pager bound to a WAL, so that a page never reaches the
 * disk before the log records that changed it (the write-ahead rule).
 *
 * The pager sits below the WAL and knows nothing of it; binding installs a
 * gate (engine_internal.h) whose two calls use only the WAL's public API: a
 * page whose LSN the log has made durable is written at once, any other is
 * parked and released by regio_wal_notify_durable, which also asks the log
 * to flush, so a parked write waits for one group commit at most.
 */
#include "engine_internal.h"
#include "regio/pager.h"
#include "regio/wal.h"
#include "wal_internal.h"

/* A page LSN at or past the log's end names no record of this log. */
static int lsn_beyond_end(struct regio_wal *w, uint64_t lsn)
{
    struct regio_wal_stats st;
    if (regio_wal_stats(w, &st) == 0 && lsn >= st.appended_lsn) {
        regio__set_detail("page LSN %llu is not below the WAL's end %llu: store the LSN of the "
                          "record that changed the page (regio_pager_set_image_lsn)",
                          (unsigned long long)lsn, (unsigned long long)st.appended_lsn);
        return -EINVAL;
    }
    return 0;
}

static int gate_admit(void *ctx, uint64_t lsn, regio_cb ready, void *op)
{
    struct regio_wal *w = ctx;
    REGIO_ASSERT(lsn != 0); /* the pager writes a page without an LSN at once */
    if (regio_wal_durable_lsn(w) > lsn)
        return 1;
    int rc = lsn_beyond_end(w, lsn);
    if (rc == 0)
        rc = regio_wal_notify_durable(w, lsn, ready, op);
    return rc;
}

static int gate_sync(void *ctx, uint64_t lsn)
{
    struct regio_wal *w = ctx;
    REGIO_ASSERT(lsn != 0); /* the pager asks only for a page LSN */
    if (regio_wal_durable_lsn(w) > lsn)
        return 0;
    int rc = lsn_beyond_end(w, lsn);
    return rc != 0 ? rc : regio_wal_sync(w, lsn);
}

/* The pager dropped its gate (unbound, rebound or closed). */
static void gate_release(void *ctx)
{
    struct regio_wal *w = ctx;
    unsigned before = atomic_fetch_sub(&w->bound_pagers, 1);
    REGIO_ASSERT(before > 0);
}

int regio_pager_bind_wal(struct regio_pager *p, struct regio_wal *w)
{
    regio__clear_detail();
    if (p == NULL) {
        regio__set_detail("pager is NULL");
        return -EINVAL;
    }
    /* Count the binding before the gate can be used, so that a concurrent
     * regio_wal_close refuses rather than freeing w under it. */
    if (w != NULL)
        atomic_fetch_add(&w->bound_pagers, 1);
    struct regio__pager_gate g = {gate_admit, gate_sync, gate_release, w};
    int rc = regio__pager_set_gate(p, w != NULL ? &g : NULL);
    if (rc != 0 && w != NULL)
        gate_release(w);
    /* Bound: close refuses until the pager lets go. */
    REGIO_ASSERT(rc != 0 || w == NULL || atomic_load(&w->bound_pagers) > 0);
    return rc;
}
