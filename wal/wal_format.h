/*
 * wal/wal_format.h: the on-disk format of the write-ahead log (not installed).
 *
 * Described byte by byte in docs/format.md. Everything on disk is fixed-width
 * little-endian. This header is also the inspection interface of regio-dump:
 * it can read a segment header, scan the records of a segment image and read
 * the control file without opening the log (and without taking its lock).
 *
 * A log directory holds:
 *   <segment_no as 16 hex digits>.wal   segments (segment_bytes each)
 *   wal.ctl                             control file (epoch, checkpoint, clean close)
 *   wal.lock                            flock(LOCK_EX|LOCK_NB) against a second open
 *                                       of an older regio; the directory itself is
 *                                       flocked too, and that is the lock that counts
 *   *.tmp                               files being prepared (ignored by recovery)
 *
 * LSN = segment_no * segment_bytes + offset in the segment file. The first
 * block of each segment is its header; records start at offset block_bytes.
 */
#ifndef REGIO_WAL_FORMAT_H
#define REGIO_WAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"

#define REGIO__WAL_SEG_MAGIC 0x4c41574f49474552ull /* "REGIOWAL" read as LE u64 */
#define REGIO__WAL_CTL_MAGIC 0x4c54434f49474552ull /* "REGIOCTL" read as LE u64 */
#define REGIO__WAL_REC_MAGIC 0x5752u               /* "RW" read as LE u16 */
/* 3: records carry a durable-LSN proof and a header check, segments a
 * zero-filled flag, so that damage is told from a torn write (docs/format.md,
 * "Damage that is never cut silently"). 2: a filler's checksum covers its
 * header only and its payload must be zero. Version 1 hashed the payload.
 * Logs of earlier versions are refused (-EBADMSG naming the version). */
#define REGIO__WAL_VERSION 3u
/* The unit a write tears at: a power cut leaves each 512-byte sector of a
 * write wholly old or wholly new (the engine's power-loss recording tears
 * at this size; devices with larger atomic units tear at multiples of it). */
#define REGIO__WAL_SECTOR_BYTES 512u
/* Segment header flags. */
#define REGIO__WAL_SEG_ZERO_FILLED 0x1u /* every byte after block 0 was zero when named */

#define REGIO__WAL_CTL_NAME   "wal.ctl"
#define REGIO__WAL_CTL_TMP    "wal.ctl.tmp"
#define REGIO__WAL_LOCK_NAME  "wal.lock"
#define REGIO__WAL_SEG_SUFFIX ".wal"

/* Internal record types, above REGIO_WAL_TYPE_USER_MAX (0xEFFF). */
#define REGIO__WAL_TYPE_PAD    0xFFF0u /* fills a flush to the end of its block */
#define REGIO__WAL_TYPE_SEGEND 0xFFF1u /* last record of a segment: continue in the next */
#define REGIO__WAL_TYPE_CLOSE  0xFFF2u /* written by a clean close */

/* Records start on 8-byte boundaries; a record's size is its header plus its
 * payload rounded up to 8 (the rounding bytes are zero and checksummed). */
#define REGIO__WAL_REC_ALIGN 8u

/* ---- Segment header (first bytes of block 0 of every segment) ---------- */
struct regio__wal_seg_hdr {
    uint64_t magic;         /* REGIO__WAL_SEG_MAGIC */
    uint32_t version;       /* REGIO__WAL_VERSION */
    uint32_t hdr_bytes;     /* sizeof(struct regio__wal_seg_hdr) */
    uint64_t segment_no;    /* must match the file name */
    uint64_t first_lsn;     /* segment_no * segment_bytes + block_bytes */
    uint64_t segment_bytes; /* size of every segment of the log */
    uint64_t salt;          /* random, new each time the file is (re)used */
    uint32_t epoch;         /* open epoch that prepared the segment */
    uint32_t block_bytes;   /* padding unit (>= 4096, power of two) */
    uint64_t window_bytes;  /* in-flight window: most bytes written but unacknowledged */
    uint32_t flags;         /* REGIO__WAL_SEG_ZERO_FILLED */
    uint32_t reserved32;    /* zero */
    uint64_t reserved[2];   /* zero */
    uint64_t checksum;      /* XXH3-64, seed 0, over the bytes above */
};
_Static_assert(sizeof(struct regio__wal_seg_hdr) == 96, "segment header layout");
_Static_assert(offsetof(struct regio__wal_seg_hdr, flags) == 64, "segment header layout");
_Static_assert(offsetof(struct regio__wal_seg_hdr, checksum) == 88, "segment header layout");

/* ---- Record header (every record, 8-byte aligned) ---------------------- */
struct regio__wal_rec_hdr {
    uint64_t checksum;  /* XXH3-64 seeded with the segment salt over bytes 8..31
                         * of this header, then the payload and its zero rounding */
    uint64_t lsn;       /* the record's own start LSN */
    uint32_t len;       /* payload bytes (rounding excluded) */
    uint32_t epoch;     /* open epoch that wrote the record */
    uint16_t type;      /* 0..0xEFFF caller's, 0xFFF0.. internal */
    uint16_t proof;     /* 0: none; v: every record starting below
                         * round_down(lsn, block) - (v - 1) * block was durable
                         * when this one was written */
    uint16_t magic;     /* REGIO__WAL_REC_MAGIC */
    uint16_t hdr_check; /* low 16 bits of XXH3-64 seeded with the salt over bytes 8..29 */
};
_Static_assert(sizeof(struct regio__wal_rec_hdr) == 32, "record header layout");
_Static_assert(offsetof(struct regio__wal_rec_hdr, proof) == 26, "record header layout");
_Static_assert(offsetof(struct regio__wal_rec_hdr, magic) == 28, "record header layout");
_Static_assert(offsetof(struct regio__wal_rec_hdr, hdr_check) == 30, "record header layout");
/* A header never tears inside a field the classification trusts alone:
 * sectors are multiples of the record alignment. */
_Static_assert(REGIO__WAL_SECTOR_BYTES % REGIO__WAL_REC_ALIGN == 0, "sector and alignment");
#define REGIO__WAL_REC_HDR_BYTES 32u

/* ---- Control file wal.ctl (first bytes of a 4096-byte file) ------------ */
#define REGIO__WAL_CTL_CLEAN 0x1u /* the last open ended with a clean close */
struct regio__wal_ctl {
    uint64_t magic;          /* REGIO__WAL_CTL_MAGIC */
    uint32_t version;        /* REGIO__WAL_VERSION */
    uint32_t flags;          /* REGIO__WAL_CTL_CLEAN */
    uint32_t epoch;          /* epoch of the last open (the next open uses epoch + 1) */
    uint32_t block_bytes;    /* padding unit of the log */
    uint64_t segment_bytes;  /* segment size of the log */
    uint64_t checkpoint_lsn; /* replay starts here (0: none) */
    uint64_t close_lsn;      /* CLEAN: LSN of the close record */
    uint64_t reserved[2];    /* zero */
    uint64_t checksum;       /* XXH3-64, seed 0, over the bytes above */
};
_Static_assert(sizeof(struct regio__wal_ctl) == 72, "control file layout");
_Static_assert(offsetof(struct regio__wal_ctl, checksum) == 64, "control file layout");
#define REGIO__WAL_CTL_FILE_BYTES 4096u

/* Bytes a record of len payload bytes occupies. */
static inline uint64_t regio__wal_rec_total(uint64_t len)
{
    return REGIO__WAL_REC_HDR_BYTES + ((len + REGIO__WAL_REC_ALIGN - 1) & ~(uint64_t)7);
}

/* ---- Decoded forms and inspection functions ---------------------------- */

/* A segment header as read from disk. */
struct regio__wal_seg_info {
    uint64_t segment_no;
    uint64_t first_lsn;
    uint64_t segment_bytes;
    uint64_t salt;
    uint64_t window_bytes;
    uint32_t version;
    uint32_t epoch;
    uint32_t block_bytes;
    uint32_t flags; /* REGIO__WAL_SEG_ZERO_FILLED */
};

/* Encode a segment header (with its checksum) into hdr_out (>= 96 bytes). */
void regio__wal_encode_segment_header(const struct regio__wal_seg_info *in, void *hdr_out);

/*
 * Decode and check the segment header at the start of block (len bytes).
 * 0 on success; -EBADMSG when the magic, version, checksum or geometry is
 * wrong (regio_error_detail says which); -ENODATA when the bytes are all zero
 * (a file being prepared).
 */
int regio__wal_decode_segment_header(const void *block, size_t len,
                                     struct regio__wal_seg_info *out);

/* pread the first 4096 bytes of fd and decode them as above; -EIO-style
 * errors of pread are passed through, a short file is -EBADMSG. */
int regio__wal_read_segment_header(int fd, struct regio__wal_seg_info *out);

/* A decoded record header. */
struct regio__wal_rec_info {
    uint64_t lsn;
    uint64_t total_bytes; /* header + rounded payload */
    uint32_t len;
    uint32_t epoch;
    uint16_t type;
    uint64_t proven_lsn; /* every record starting below was durable when it was written (0: none) */
};

/*
 * Check the record that would start at byte off of a segment image seg
 * (seg_len bytes from the start of the segment file; it may be shorter than
 * the segment). 0 when it is a valid record of this segment (magic, own LSN,
 * length inside the segment and the image, checksum with the segment's salt);
 * -ENODATA when the 32 header bytes are all zero; -EBADMSG otherwise, with
 * *reason (may be NULL) set to a static description.
 */
int regio__wal_check_record(const struct regio__wal_seg_info *si, const void *seg, size_t seg_len,
                            size_t off, struct regio__wal_rec_info *out, const char **reason);

/* As regio__wal_check_record for a record held at rec (avail bytes from its
 * start) that lies at byte off of its segment file. */
int regio__wal_check_record_at(const struct regio__wal_seg_info *si, const void *rec, size_t avail,
                               uint64_t off, struct regio__wal_rec_info *out, const char **reason);

/* Encode a record header with its checksum over hdr + payload (payload holds
 * regio__wal_rec_total(len) - 32 bytes, rounding zeroed by the caller). The
 * checksum is computed over the payload in place after the header, so hdr
 * must be followed in memory by the payload. A filler's (pad, segend)
 * checksum covers the header alone; its payload must be zero. */
void regio__wal_encode_record(void *hdr, uint64_t salt, uint64_t lsn, uint16_t type, uint32_t epoch,
                              uint32_t len, uint16_t proof);

/* The proof field of a record at lsn written while records starting below
 * durable were durable; 0 when the distance does not fit. */
uint16_t regio__wal_proof(uint64_t lsn, uint64_t durable, uint32_t block_bytes);
/* The LSN a proof field proves durable (0: none). */
uint64_t regio__wal_proven(uint64_t lsn, uint16_t proof, uint32_t block_bytes);
/* Fill bytes 8..31 of a record header (everything but the checksum),
 * hdr_check included. */
void regio__wal_fill_header(void *hdr, uint64_t salt, uint64_t lsn, uint16_t type, uint32_t epoch,
                            uint32_t len, uint16_t proof);
/* The header check of the 32-byte header hdr: bytes 8..29 hashed with salt. */
uint16_t regio__wal_hdr_check(uint64_t salt, const void *hdr);

/* True for the types whose payload is all zero and not hashed. */
/* Whether a cleanly closed log may end at LSN end: after its close record
 * (at close_lsn), at a block boundary, since the close record's pad fills its
 * block. Recovery and the directory reader apply the same rule. */
static inline bool regio__wal_clean_end_ok(uint64_t end, uint64_t close_lsn, uint64_t block_bytes)
{
    return end > close_lsn && end % block_bytes == 0;
}

static inline bool regio__wal_is_filler(uint16_t type)
{
    return type == REGIO__WAL_TYPE_PAD || type == REGIO__WAL_TYPE_SEGEND;
}

/* The checksum of a record whose header (32 bytes) and rounded payload are
 * given separately; for records that wrap in a ring buffer. */
uint64_t regio__wal_record_checksum(uint64_t salt, const void *hdr, const void *payload1,
                                    size_t len1, const void *payload2, size_t len2);

/* What a scan of a segment image reports. */
enum regio__wal_scan_kind {
    REGIO__WAL_SCAN_RECORD = 1,  /* a valid record (any type) */
    REGIO__WAL_SCAN_INVALID = 2, /* bytes that are no valid record: [offset, offset+bytes) */
};

struct regio__wal_scan_item {
    enum regio__wal_scan_kind kind;
    uint64_t offset;                /* in the segment file */
    uint64_t bytes;                 /* record total, or invalid span up to the next valid record */
    struct regio__wal_rec_info rec; /* RECORD */
    const void *payload;            /* RECORD: len payload bytes inside the image */
    const char *reason;             /* INVALID: why the first spot is not a record */
};

/* Iterator over the records of one segment image. */
struct regio__wal_scan {
    const struct regio__wal_seg_info *si;
    const uint8_t *seg;
    size_t seg_len;
    uint64_t off;
    bool done;
};

/* Start scanning the image seg (seg_len bytes, from offset 0 of the file). */
void regio__wal_scan_init(struct regio__wal_scan *s, const struct regio__wal_seg_info *si,
                          const void *seg, size_t seg_len);

/*
 * Next item: 1 with *out filled, 0 at the end. The scan ends after a SEGEND
 * record, at an all-zero header (unused space), or at the image end. An
 * invalid spot is reported once, with the distance to the next valid record
 * of this segment (searched at every 8-byte offset); when none follows, the
 * INVALID item spans to the image end and the scan ends.
 */
int regio__wal_scan_next(struct regio__wal_scan *s, struct regio__wal_scan_item *out);

/* A decoded control file. */
struct regio__wal_ctl_info {
    uint32_t version;
    uint32_t flags;
    uint32_t epoch;
    uint32_t block_bytes;
    uint64_t segment_bytes;
    uint64_t checkpoint_lsn;
    uint64_t close_lsn;
};

void regio__wal_encode_control(const struct regio__wal_ctl_info *in, void *out_4096);
int regio__wal_decode_control(const void *buf, size_t len, struct regio__wal_ctl_info *out);
/* Read dir/wal.ctl: 0, -ENOENT when absent, -EBADMSG when damaged. */
int regio__wal_read_control(const char *dir, struct regio__wal_ctl_info *out);
/* The same through a held directory fd (an open log never looks its
 * directory up by path again: docs/embedding.md). */
int regio__wal_read_control_at(int dir_fd, struct regio__wal_ctl_info *out);

/* Parse "<16 hex>.wal"; true and *segno_out on a match. */
bool regio__wal_parse_segment_name(const char *name, uint64_t *segno_out);
/* Write "<16 hex>.wal" into out (>= 21 bytes). */
void regio__wal_segment_name(uint64_t segno, char out[32]);
/*
 * The segment numbers of dir's files named "<16 hex>.wal", ascending: the one
 * listing that recovery and regio-dump share, so both see the same segments.
 * 0 with *segnos_out (malloc'd, the caller frees it; NULL when there are
 * none) and *n_out; -errno when dir cannot be opened, -ENOMEM.
 */
int regio__wal_list_segments(const char *dir, uint64_t **segnos_out, size_t *n_out);
/* The same through a held directory fd. */
int regio__wal_list_segments_at(int dir_fd, uint64_t **segnos_out, size_t *n_out);

/* Name of a record type ("user", "pad", "segend", "close", "internal?"). */
const char *regio__wal_type_name(uint16_t type);

#endif
