/*
 * wal/wal_checkpoint.c: a checkpoint as a pair of calls whose order the
 * WAL checks.
 *
 * The redo point of a checkpoint must be taken before its pages are
 * written: a change logged after the pages were written but before the
 * redo point would be neither in the pages nor replayed. So begin appends
 * a record (of the caller's type) whose LSN is the redo point, and end, which
 * the caller calls after writing and syncing every page dirtied before
 * begin, makes that record durable and publishes it as the checkpoint. end
 * takes the token begin handed out and refuses any other, so it cannot
 * publish a redo point that no begin took, nor one superseded by a later
 * begin, nor the same one twice.
 */
#include <string.h>

#include "bytes.h"
#include "wal_internal.h"

int regio_wal_checkpoint_begin(struct regio_wal *w, uint16_t type,
                               struct regio_wal_checkpoint *ck_out)
{
    if (w == NULL || ck_out == NULL || type > REGIO_WAL_TYPE_USER_MAX) {
        regio__set_detail("wal: checkpoint begin needs a log, an out-pointer and a record type "
                          "of the caller's (0..0x%x), got %u",
                          REGIO_WAL_TYPE_USER_MAX, type);
        return -EINVAL;
    }
    REGIO_ASSERT(!regio__lock_held(&w->ctl_mu)); /* not recursive */
    regio__lock(&w->ctl_mu);
    uint64_t token = ++w->ckpt_tokens_issued;
    regio__unlock(&w->ctl_mu);
    /* The payload is the token, so a replay can match begin records with
     * the checkpoint that recovery reports. */
    uint8_t payload[8];
    regio__le64_put(payload, token);
    struct iovec iov = {payload, sizeof(payload)};
    uint64_t lsn = 0;
    int rc = regio_wal_append_record(w, type, &iov, 1, &lsn, NULL);
    if (rc != 0)
        return rc;
    regio__lock(&w->ctl_mu);
    /* A later begin supersedes this one: the newest redo point wins. */
    if (token > w->ckpt_token) {
        w->ckpt_token = token;
        w->ckpt_redo_lsn = lsn;
    }
    /* Tokens only grow: ours, or a later begin's. end checks against it. */
    REGIO_ASSERT(w->ckpt_token >= token && w->ckpt_token <= w->ckpt_tokens_issued);
    regio__unlock(&w->ctl_mu);
    *ck_out = (struct regio_wal_checkpoint){.redo_lsn = lsn, .token = token};
    return 0;
}

int regio_wal_checkpoint_end(struct regio_wal *w, const struct regio_wal_checkpoint *ck)
{
    if (w == NULL || ck == NULL) {
        regio__set_detail("wal: checkpoint end needs a log and the checkpoint begin returned");
        return -EINVAL;
    }
    REGIO_ASSERT(!regio__lock_held(&w->ctl_mu));
    regio__lock(&w->ctl_mu);
    bool current = ck->token != 0 && ck->token == w->ckpt_token && ck->redo_lsn == w->ckpt_redo_lsn;
    uint64_t want = w->ckpt_token;
    regio__unlock(&w->ctl_mu);
    if (!current) {
        regio__set_detail("wal: checkpoint %llu (redo LSN %llu) is not the one begun last and not "
                          "ended (%llu): ended already, superseded by a later begin, or not from "
                          "regio_wal_checkpoint_begin",
                          (unsigned long long)ck->token, (unsigned long long)ck->redo_lsn,
                          (unsigned long long)want);
        return -EINVAL;
    }
    /* The begin record must survive a crash for recovery to start there. */
    int rc = regio_wal_sync(w, ck->redo_lsn);
    if (rc != 0)
        return rc;
    REGIO_ASSERT(regio_wal_durable_lsn(w) > ck->redo_lsn); /* set_checkpoint refuses less */
    regio__lock(&w->ctl_mu);
    if (w->ckpt_token != ck->token) {
        regio__unlock(&w->ctl_mu);
        regio__set_detail("wal: checkpoint %llu was superseded by a later begin while it ended",
                          (unsigned long long)ck->token);
        return -EINVAL;
    }
    w->ckpt_token = 0;
    regio__unlock(&w->ctl_mu);
    return regio_wal_set_checkpoint(w, ck->redo_lsn);
}
