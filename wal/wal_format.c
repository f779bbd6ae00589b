/* wal/wal_format.c: encoding, decoding and checking of the on-disk WAL format. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash_internal.h"
#include "internal.h"
#include "wal_format.h"

void regio__wal_encode_segment_header(const struct regio__wal_seg_info *in, void *hdr_out)
{
    REGIO_ASSERT(in->block_bytes >= 4096 && (in->block_bytes & (in->block_bytes - 1)) == 0 &&
                 in->segment_bytes % in->block_bytes == 0 &&
                 in->first_lsn == in->segment_no * in->segment_bytes + in->block_bytes);
    uint8_t *b = hdr_out;
    memset(b, 0, sizeof(struct regio__wal_seg_hdr));
    regio__le64_put(b + 0, REGIO__WAL_SEG_MAGIC);
    regio__le32_put(b + 8, REGIO__WAL_VERSION);
    regio__le32_put(b + 12, (uint32_t)sizeof(struct regio__wal_seg_hdr));
    regio__le64_put(b + 16, in->segment_no);
    regio__le64_put(b + 24, in->first_lsn);
    regio__le64_put(b + 32, in->segment_bytes);
    regio__le64_put(b + 40, in->salt);
    regio__le32_put(b + 48, in->epoch);
    regio__le32_put(b + 52, in->block_bytes);
    regio__le64_put(b + 56, in->window_bytes);
    regio__le32_put(b + 64, in->flags);
    regio__le64_put(b + 88, regio__xxh3_64(b, 88));
    /* What is written must read back: the decoder's checks, on the encoder. */
    struct regio__wal_seg_info back;
    REGIO_ASSERT(regio__wal_decode_segment_header(b, sizeof(struct regio__wal_seg_hdr), &back) ==
                     0 &&
                 back.salt == in->salt && back.window_bytes == in->window_bytes);
}

static bool is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

int regio__wal_decode_segment_header(const void *block, size_t len, struct regio__wal_seg_info *out)
{
    REGIO_ASSERT(block != NULL && out != NULL);
    const uint8_t *b = block;
    if (len < sizeof(struct regio__wal_seg_hdr)) {
        regio__set_detail("segment header: file shorter than its header");
        return -EBADMSG;
    }
    if (regio__all_zero(b, sizeof(struct regio__wal_seg_hdr)))
        return -ENODATA;
    if (regio__le64_get(b) != REGIO__WAL_SEG_MAGIC) {
        regio__set_detail("segment header: bad magic");
        return -EBADMSG;
    }
    if (regio__le64_get(b + 88) != regio__xxh3_64(b, 88)) {
        regio__set_detail("segment header: checksum mismatch");
        return -EBADMSG;
    }
    out->version = regio__le32_get(b + 8);
    out->segment_no = regio__le64_get(b + 16);
    out->first_lsn = regio__le64_get(b + 24);
    out->segment_bytes = regio__le64_get(b + 32);
    out->salt = regio__le64_get(b + 40);
    out->epoch = regio__le32_get(b + 48);
    out->block_bytes = regio__le32_get(b + 52);
    out->window_bytes = regio__le64_get(b + 56);
    out->flags = regio__le32_get(b + 64);
    if (out->version < REGIO__WAL_VERSION && regio__le32_get(b + 12) == 96) {
        regio__set_detail("segment header: format version %u, written by an earlier regio "
                          "(this one reads version %u only: replay the log with the regio "
                          "that wrote it)",
                          out->version, REGIO__WAL_VERSION);
        return -EBADMSG;
    }
    if (out->version != REGIO__WAL_VERSION ||
        regio__le32_get(b + 12) != sizeof(struct regio__wal_seg_hdr)) {
        regio__set_detail("segment header: unknown version %u", out->version);
        return -EBADMSG;
    }
    if (!is_pow2(out->block_bytes) || out->block_bytes < 4096 ||
        out->segment_bytes % out->block_bytes != 0 ||
        out->segment_bytes < 4ull * out->block_bytes ||
        out->first_lsn != out->segment_no * out->segment_bytes + out->block_bytes) {
        regio__set_detail("segment header: inconsistent geometry");
        return -EBADMSG;
    }
    /* Bytes 96..4095 are zero; no checksum covers them, so check them. */
    size_t rest = len < 4096 ? len : 4096;
    if (!regio__all_zero(b + sizeof(struct regio__wal_seg_hdr),
                         rest - sizeof(struct regio__wal_seg_hdr))) {
        regio__set_detail("segment header: nonzero bytes after the header in block 0");
        return -EBADMSG;
    }
    return 0;
}

int regio__wal_read_segment_header(int fd, struct regio__wal_seg_info *out)
{
    REGIO_ASSERT(fd >= 0);
    /* Aligned so that the read also works on an O_DIRECT descriptor. */
    static _Thread_local uint8_t buf[4096] __attribute__((aligned(4096)));
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    if (n < 0)
        return -errno;
    return regio__wal_decode_segment_header(buf, (size_t)n, out);
}

uint64_t regio__wal_record_checksum(uint64_t salt, const void *hdr, const void *payload1,
                                    size_t len1, const void *payload2, size_t len2)
{
    REGIO_ASSERT((len1 == 0 || payload1 != NULL) && (len2 == 0 || payload2 != NULL));
    XXH3_state_t st;
    /* A stack state must be initialised before a seeded reset: the reset
     * skips deriving the secret when the garbage seed field happens to equal
     * the seed, and would then hash with whatever secret the stack held. */
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset_withSeed(&st, salt);
    regio__xxh3_update(&st, (const uint8_t *)hdr + 8, REGIO__WAL_REC_HDR_BYTES - 8);
    if (len1 > 0)
        regio__xxh3_update(&st, payload1, len1);
    if (len2 > 0)
        regio__xxh3_update(&st, payload2, len2);
    return XXH3_64bits_digest(&st);
}

uint16_t regio__wal_hdr_check(uint64_t salt, const void *hdr)
{
    return (uint16_t)regio__xxh3_64_seed((const uint8_t *)hdr + 8, 22, salt);
}

uint16_t regio__wal_proof(uint64_t lsn, uint64_t durable, uint32_t block_bytes)
{
    uint64_t floor = lsn - lsn % block_bytes;
    uint64_t back = durable >= floor ? 0 : (floor - durable + block_bytes - 1) / block_bytes;
    uint16_t proof = back + 1 > 0xFFFF ? 0 : (uint16_t)(back + 1);
    /* Read back, it never claims more than the writer saw durable: damage
     * below the proven LSN is judged corruption, not a tear. */
    REGIO_ASSERT(regio__wal_proven(lsn, proof, block_bytes) <= durable);
    return proof;
}

uint64_t regio__wal_proven(uint64_t lsn, uint16_t proof, uint32_t block_bytes)
{
    REGIO_ASSERT(is_pow2(block_bytes)); /* a decoded header's, or the log's own */
    uint64_t floor = lsn - lsn % block_bytes;
    uint64_t back = (uint64_t)(proof - 1) * block_bytes;
    return proof == 0 || back > floor ? 0 : floor - back;
}

void regio__wal_fill_header(void *hdr, uint64_t salt, uint64_t lsn, uint16_t type, uint32_t epoch,
                            uint32_t len, uint16_t proof)
{
    REGIO_ASSERT(lsn % REGIO__WAL_REC_ALIGN == 0 &&
                 (type <= 0xEFFF /* user types */ || regio__wal_is_filler(type) ||
                  type == REGIO__WAL_TYPE_CLOSE));
    uint8_t *b = hdr;
    regio__le64_put(b + 8, lsn);
    regio__le32_put(b + 16, len);
    regio__le32_put(b + 20, epoch);
    regio__le16_put(b + 24, type);
    regio__le16_put(b + 26, proof);
    regio__le16_put(b + 28, REGIO__WAL_REC_MAGIC);
    regio__le16_put(b + 30, regio__wal_hdr_check(salt, b));
}

void regio__wal_encode_record(void *hdr, uint64_t salt, uint64_t lsn, uint16_t type, uint32_t epoch,
                              uint32_t len, uint16_t proof)
{
    uint8_t *b = hdr;
    regio__wal_fill_header(b, salt, lsn, type, epoch, len, proof);
    size_t body = regio__wal_is_filler(type)
                      ? 0
                      : (size_t)(regio__wal_rec_total(len) - REGIO__WAL_REC_HDR_BYTES);
    /* One-shot hash of the contiguous bytes 8..end gives the same value as
     * the streaming form used for wrapped records. */
    regio__le64_put(b, regio__xxh3_64_seed(b + 8, REGIO__WAL_REC_HDR_BYTES - 8 + body, salt));
    REGIO_ASSERT(regio__wal_record_checksum(salt, b, b + REGIO__WAL_REC_HDR_BYTES, body, NULL, 0) ==
                 regio__le64_get(b));
}

int regio__wal_check_record_at(const struct regio__wal_seg_info *si, const void *rec, size_t avail,
                               uint64_t off, struct regio__wal_rec_info *out, const char **reason)
{
    REGIO_ASSERT(si != NULL && si->segment_bytes > 0 && (avail == 0 || rec != NULL));
    const uint8_t *b = rec;
    const char *why = NULL;
    if (off % REGIO__WAL_REC_ALIGN != 0 || off < si->block_bytes ||
        avail < REGIO__WAL_REC_HDR_BYTES || off + REGIO__WAL_REC_HDR_BYTES > si->segment_bytes) {
        why = "header outside the segment";
        goto bad;
    }
    if (regio__all_zero(b, REGIO__WAL_REC_HDR_BYTES)) {
        if (reason)
            *reason = "zero header (unused space)";
        return -ENODATA;
    }
    if (regio__le16_get(b + 28) != REGIO__WAL_REC_MAGIC) {
        why = "bad record magic";
        goto bad;
    }
    if (regio__le16_get(b + 30) != regio__wal_hdr_check(si->salt, b)) {
        why = "header check mismatch (torn, corrupt, or stale from a recycled segment)";
        goto bad;
    }
    uint64_t lsn = regio__le64_get(b + 8);
    if (lsn != si->segment_no * si->segment_bytes + off) {
        why = "LSN does not match the record's position (stale or misplaced)";
        goto bad;
    }
    uint32_t len = regio__le32_get(b + 16);
    uint64_t total = regio__wal_rec_total(len);
    if (off + total > si->segment_bytes || total > avail) {
        why = "length runs past the segment";
        goto bad;
    }
    /* A filler's payload is zero by rule, so it is checked as it is and only
     * its header is hashed (version 2; see docs/format.md). */
    bool filler = regio__wal_is_filler(regio__le16_get(b + 24));
    size_t hashed = filler ? REGIO__WAL_REC_HDR_BYTES - 8 : (size_t)total - 8;
    uint64_t sum = regio__xxh3_64_seed(b + 8, hashed, si->salt);
    if (sum != regio__le64_get(b)) {
        why = "checksum mismatch (torn, corrupt, or stale from a recycled segment)";
        goto bad;
    }
    if (filler &&
        !regio__all_zero(b + REGIO__WAL_REC_HDR_BYTES, (size_t)total - REGIO__WAL_REC_HDR_BYTES)) {
        why = "nonzero filler payload (torn or corrupt)";
        goto bad;
    }
    REGIO_ASSERT(total >= REGIO__WAL_REC_HDR_BYTES && total % REGIO__WAL_REC_ALIGN == 0);
    if (out != NULL) {
        out->lsn = lsn;
        out->total_bytes = total;
        out->len = len;
        out->epoch = regio__le32_get(b + 20);
        out->type = regio__le16_get(b + 24);
        out->proven_lsn = regio__wal_proven(lsn, regio__le16_get(b + 26), si->block_bytes);
    }
    if (reason)
        *reason = NULL;
    return 0;
bad:
    if (reason)
        *reason = why;
    return -EBADMSG;
}

int regio__wal_check_record(const struct regio__wal_seg_info *si, const void *seg, size_t seg_len,
                            size_t off, struct regio__wal_rec_info *out, const char **reason)
{
    REGIO_ASSERT(seg != NULL || seg_len == 0);
    if (off >= seg_len) {
        if (reason)
            *reason = "header outside the segment";
        return -EBADMSG;
    }
    return regio__wal_check_record_at(si, (const uint8_t *)seg + off, seg_len - off, off, out,
                                      reason);
}

void regio__wal_scan_init(struct regio__wal_scan *s, const struct regio__wal_seg_info *si,
                          const void *seg, size_t seg_len)
{
    REGIO_ASSERT(si->block_bytes >= REGIO__WAL_REC_HDR_BYTES &&
                 si->block_bytes < si->segment_bytes);
    s->si = si;
    s->seg = seg;
    s->seg_len = seg_len < si->segment_bytes ? seg_len : (size_t)si->segment_bytes;
    s->off = si->block_bytes;
    s->done = false;
}

int regio__wal_scan_next(struct regio__wal_scan *s, struct regio__wal_scan_item *out)
{
    REGIO_ASSERT(s->off % REGIO__WAL_REC_ALIGN == 0 && s->off >= s->si->block_bytes);
    if (s->done || s->off + REGIO__WAL_REC_HDR_BYTES > s->seg_len)
        return 0;
    const char *why = NULL;
    struct regio__wal_rec_info ri;
    int rc = regio__wal_check_record(s->si, s->seg, s->seg_len, s->off, &ri, &why);
    if (rc == 0) {
        memset(out, 0, sizeof(*out));
        out->kind = REGIO__WAL_SCAN_RECORD;
        out->offset = s->off;
        out->bytes = ri.total_bytes;
        out->rec = ri;
        out->payload = s->seg + s->off + REGIO__WAL_REC_HDR_BYTES;
        s->off += ri.total_bytes;
        REGIO_ASSERT(s->off <= s->seg_len); /* check_record saw the whole record */
        if (ri.type == REGIO__WAL_TYPE_SEGEND)
            s->done = true;
        return 1;
    }
    if (rc == -ENODATA) {
        s->done = true;
        return 0;
    }
    /* Resynchronise: the next offset holding a valid record of this segment. */
    uint64_t next = s->off + REGIO__WAL_REC_ALIGN;
    while (next + REGIO__WAL_REC_HDR_BYTES <= s->seg_len &&
           regio__wal_check_record(s->si, s->seg, s->seg_len, next, NULL, NULL) != 0)
        next += REGIO__WAL_REC_ALIGN;
    memset(out, 0, sizeof(*out));
    out->kind = REGIO__WAL_SCAN_INVALID;
    out->offset = s->off;
    out->reason = why;
    if (next + REGIO__WAL_REC_HDR_BYTES > s->seg_len) {
        out->bytes = s->seg_len - s->off;
        s->done = true;
    } else {
        out->bytes = next - s->off;
        s->off = next;
    }
    REGIO_ASSERT(out->bytes > 0); /* every step moves on: the scan ends */
    return 1;
}

void regio__wal_encode_control(const struct regio__wal_ctl_info *in, void *out_4096)
{
    REGIO_ASSERT(in->block_bytes >= 4096 && (in->block_bytes & (in->block_bytes - 1)) == 0 &&
                 in->segment_bytes % in->block_bytes == 0);
    uint8_t *b = out_4096;
    memset(b, 0, REGIO__WAL_CTL_FILE_BYTES);
    regio__le64_put(b + 0, REGIO__WAL_CTL_MAGIC);
    regio__le32_put(b + 8, REGIO__WAL_VERSION);
    regio__le32_put(b + 12, in->flags);
    regio__le32_put(b + 16, in->epoch);
    regio__le32_put(b + 20, in->block_bytes);
    regio__le64_put(b + 24, in->segment_bytes);
    regio__le64_put(b + 32, in->checkpoint_lsn);
    regio__le64_put(b + 40, in->close_lsn);
    regio__le64_put(b + 64, regio__xxh3_64(b, 64));
    struct regio__wal_ctl_info back;
    REGIO_ASSERT(regio__wal_decode_control(b, REGIO__WAL_CTL_FILE_BYTES, &back) == 0 &&
                 back.epoch == in->epoch && back.checkpoint_lsn == in->checkpoint_lsn &&
                 back.close_lsn == in->close_lsn);
}

int regio__wal_decode_control(const void *buf, size_t len, struct regio__wal_ctl_info *out)
{
    REGIO_ASSERT(buf != NULL && out != NULL);
    const uint8_t *b = buf;
    if (len < REGIO__WAL_CTL_FILE_BYTES) {
        regio__set_detail("control file: shorter than %u bytes (truncated)",
                          REGIO__WAL_CTL_FILE_BYTES);
        return -EBADMSG;
    }
    if (regio__le64_get(b) != REGIO__WAL_CTL_MAGIC ||
        regio__le64_get(b + 64) != regio__xxh3_64(b, 64)) {
        regio__set_detail("control file: bad magic or checksum");
        return -EBADMSG;
    }
    out->version = regio__le32_get(b + 8);
    out->flags = regio__le32_get(b + 12);
    out->epoch = regio__le32_get(b + 16);
    out->block_bytes = regio__le32_get(b + 20);
    out->segment_bytes = regio__le64_get(b + 24);
    out->checkpoint_lsn = regio__le64_get(b + 32);
    out->close_lsn = regio__le64_get(b + 40);
    if (out->version != REGIO__WAL_VERSION) {
        regio__set_detail(out->version < REGIO__WAL_VERSION
                              ? "control file: format version %u, written by an earlier regio "
                                "(this one reads version 3 only: replay the log with the regio "
                                "that wrote it)"
                              : "control file: unknown version %u",
                          out->version);
        return -EBADMSG;
    }
    /* No checksum covers bytes 72..4095: they must be zero. */
    if (!regio__all_zero(b + sizeof(struct regio__wal_ctl),
                         REGIO__WAL_CTL_FILE_BYTES - sizeof(struct regio__wal_ctl))) {
        regio__set_detail("control file: nonzero bytes after its 72-byte header");
        return -EBADMSG;
    }
    return 0;
}

int regio__wal_read_control(const char *dir, struct regio__wal_ctl_info *out)
{
    REGIO_ASSERT(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int err = regio__wal_read_control_at(dfd, out);
    close(dfd);
    return err;
}

int regio__wal_read_control_at(int dir_fd, struct regio__wal_ctl_info *out)
{
    REGIO_ASSERT(dir_fd >= 0);
    uint8_t buf[REGIO__WAL_CTL_FILE_BYTES];
    /* O_NONBLOCK: a FIFO planted under the name must not block the open (a
     * regular file ignores the flag); its read then fails (-ESPIPE). */
    int fd = openat(dir_fd, REGIO__WAL_CTL_NAME, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    int err = n < 0 ? -errno : 0;
    close(fd);
    if (err != 0)
        return err;
    return regio__wal_decode_control(buf, (size_t)n, out);
}

bool regio__wal_parse_segment_name(const char *name, uint64_t *segno_out)
{
    REGIO_ASSERT(name != NULL && segno_out != NULL);
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return false;
        v = (v << 4) | (uint64_t)d;
    }
    if (strcmp(name + 16, REGIO__WAL_SEG_SUFFIX) != 0)
        return false;
    *segno_out = v;
    return true;
}

void regio__wal_segment_name(uint64_t segno, char out[32])
{
    snprintf(out, 32, "%016llx%s", (unsigned long long)segno, REGIO__WAL_SEG_SUFFIX);
    uint64_t back;
    REGIO_ASSERT(regio__wal_parse_segment_name(out, &back) && back == segno);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Append v to the growable array *vp of *np items and *capp capacity. */
static int push_u64(uint64_t **vp, size_t *np, size_t *capp, uint64_t v)
{
    REGIO_ASSERT(*np <= *capp);
    if (*np == *capp) {
        size_t cap = *capp ? *capp * 2 : 16;
        uint64_t *nv = realloc(*vp, cap * sizeof(*nv));
        if (nv == NULL)
            return -ENOMEM;
        *vp = nv;
        *capp = cap;
    }
    (*vp)[(*np)++] = v;
    return 0;
}

int regio__wal_list_segments(const char *dir, uint64_t **segnos_out, size_t *n_out)
{
    REGIO_ASSERT(dir != NULL && segnos_out != NULL && n_out != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int err = regio__wal_list_segments_at(dfd, segnos_out, n_out);
    close(dfd);
    return err;
}

int regio__wal_list_segments_at(int dir_fd, uint64_t **segnos_out, size_t *n_out)
{
    /* A fresh fd for the stream: its offset is not dir_fd's to move. */
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int e = -errno;
        if (fd >= 0)
            close(fd);
        return e;
    }
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    struct dirent *de;
    while (err == 0 && (de = readdir(d)) != NULL) {
        uint64_t segno;
        if (regio__wal_parse_segment_name(de->d_name, &segno))
            err = push_u64(&v, &n, &cap, segno);
    }
    closedir(d);
    if (err != 0) {
        free(v);
        return err;
    }
    if (n > 1) /* one item or none is in order already */
        qsort(v, n, sizeof(*v), cmp_u64);
    for (size_t i = 1; i < n; i++)
        REGIO_ASSERT(v[i - 1] < v[i]); /* names are unique, so the order is strict */
    *segnos_out = v;
    *n_out = n;
    return 0;
}

const char *regio__wal_type_name(uint16_t type)
{
    switch (type) {
    case REGIO__WAL_TYPE_PAD:
        return "pad";
    case REGIO__WAL_TYPE_SEGEND:
        return "segend";
    case REGIO__WAL_TYPE_CLOSE:
        return "close";
    default:
        return type <= 0xEFFF ? "user" : "internal?";
    }
}
