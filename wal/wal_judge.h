/*
 * wal/wal_judge.h: where a log directory ends, and whether what stops it is a
 * torn tail (cut) or corruption (reported). The one classification that
 * recovery (wal_open.c), the directory reader (wal_reader.c) and
 * `regio-dump wal` share, so that they cannot disagree about a log
 * (docs/format.md, "Where the log ends"). Not installed.
 *
 * It reads the files and changes nothing: recovery applies the cut itself.
 */
#ifndef REGIO_WAL_JUDGE_H
#define REGIO_WAL_JUDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "wal_format.h"

/* One segment file as the judge read it. */
struct regio__wal_seg_image {
    uint64_t segno;
    struct regio__wal_seg_info si;
    int hdr_err;    /* 0: a valid header of this log; else why not */
    uint8_t *data;  /* whole file (at most segment_bytes), mapped read-only on demand */
    size_t len;     /* bytes in data; shorter than segment_bytes for a cut file */
    size_t map_len; /* bytes mapped at data (0: data is no mapping) */
    size_t ra_end;  /* data[0, ra_end) asked for (regio__wal_judge_prefetch) */
    size_t ra_step; /* the next request's size: doubles from 64 KiB to 8 MiB */
    bool loaded;
};

enum regio__wal_verdict {
    REGIO__WAL_V_EMPTY = 1,   /* no control file, only a crashed creation's segment 0 */
    REGIO__WAL_V_CLEAN = 2,   /* ends after the close record the control file names */
    REGIO__WAL_V_TORN = 3,    /* crashed: nothing at or after the end was acknowledged */
    REGIO__WAL_V_CORRUPT = 4, /* damage: acknowledged data is lost or the chain broken */
};

struct regio__wal_judge {
    /* In: the directory (its fd for reading the segments, its name for
     * listing and messages) and its control file when present. */
    int dir_fd;
    const char *dir;
    bool have_ctl;
    struct regio__wal_ctl_info ctl;

    /* Out: the segments, sorted by number; images freed as the walk passes
     * them, except those from end_idx on. */
    struct regio__wal_seg_image *segs;
    uint32_t nsegs;
    uint32_t chain_first; /* index of the first segment of the chain */
    uint32_t end_idx;     /* index of the segment holding end */
    uint64_t end;         /* X: first LSN of the chain holding no valid record */
    const char *why;      /* why X holds no valid record */
    uint64_t records;     /* caller records before X */
    uint64_t start_lsn;   /* first caller record */
    bool saw_close_at_ctl;
    uint64_t window; /* largest in-flight window of the segments involved */
    /* Valid records beyond X (every 8-byte offset tried). */
    uint64_t beyond_records; /* any type */
    uint64_t beyond_user;    /* caller records among them */
    uint64_t furthest;       /* end of the furthest of them (0: none) */
    bool close_beyond;
    uint64_t proven; /* highest durable LSN a valid record beyond X proves (0: none) */
    enum regio__wal_verdict verdict;
    const char *corrupt; /* CORRUPT: the rule that proves it, in words */
    /* CORRUPT: a cut at X keeps a prefix (salvage may repair); false when the
     * damage lies before the first record or at a segment switch. */
    bool salvageable;
};

/*
 * Read dir (j->dir_fd, j->dir, j->have_ctl and j->ctl set by the caller) and
 * judge it. 0 with j->verdict set (CORRUPT is a verdict, not an error); a
 * negative errno when a file cannot be listed or read (-ENOMEM included), or
 * -ENOENT when dir holds no segment file. Free with regio__wal_judge_free.
 */
int regio__wal_judge_run(struct regio__wal_judge *j);
void regio__wal_judge_free(struct regio__wal_judge *j);

/* Load a segment's whole image (recovery reads it again before cutting). */
int regio__wal_judge_load(struct regio__wal_judge *j, struct regio__wal_seg_image *s);

/* Ask the kernel, ahead of use, for the image's bytes around [off, off+len)
 * and a step beyond (the mapping has no fault readahead; see wal_judge.c). */
void regio__wal_judge_prefetch(struct regio__wal_seg_image *s, uint64_t off, uint64_t len);

/* Set regio_error_detail to "<who>: corruption at LSN X (why): rule". */
void regio__wal_judge_detail(const struct regio__wal_judge *j, const char *who);

/*
 * Judge the log in dir for a reader or a tool: reads the control file (absent
 * is allowed, damaged is CORRUPT), runs the judge and frees its images.
 * 0 with *verdict, *end_lsn and, for CORRUPT, regio_error_detail set (with
 * who as prefix); a negative errno when the files cannot be read.
 */
int regio__wal_judge_dir(const char *dir, const char *who, enum regio__wal_verdict *verdict,
                         uint64_t *end_lsn);
/* The same through a held directory fd (dir names it in details only). */
int regio__wal_judge_at(int dir_fd, const char *dir, const char *who,
                        enum regio__wal_verdict *verdict, uint64_t *end_lsn);

#endif
