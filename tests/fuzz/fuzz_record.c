/*
 * tests/fuzz/fuzz_record.c: the WAL record decoder and the segment scan
 * over arbitrary segment images. The input is the image after a valid
 * segment header (so the fuzzer spends its time in records, not in the
 * header's checksum); a first byte with the low bit set uses the input's
 * own first block as the header instead. Invariants: no crash, no read
 * outside the image (ASan); every record the decoder accepts lies inside the
 * segment and the image, at its own LSN, and the scan moves strictly
 * forward.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"
#include "wal_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BLOCK 4096u
#define SEG   (64u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool own_header = data[0] & 1;
    data++;
    size--;
    size_t n = BLOCK + (size < SEG - BLOCK ? size : SEG - BLOCK);
    uint8_t *seg = calloc(1, n);
    FUZZ_CHECK(seg != NULL);
    struct regio__wal_seg_info si = {0};
    if (own_header) {
        memcpy(seg, data, size < BLOCK ? size : BLOCK);
        memcpy(seg + BLOCK, data, n - BLOCK);
        if (regio__wal_decode_segment_header(seg, n, &si) != 0) {
            free(seg);
            return 0;
        }
    } else {
        si = (struct regio__wal_seg_info){.segment_no = 3,
                                          .segment_bytes = SEG,
                                          .block_bytes = BLOCK,
                                          .first_lsn = 3ull * SEG + BLOCK,
                                          .epoch = 1,
                                          .version = REGIO__WAL_VERSION,
                                          .window_bytes = 16384,
                                          .salt = 0x1234567890abcdefull};
        regio__wal_encode_segment_header(&si, seg);
        FUZZ_CHECK(regio__wal_decode_segment_header(seg, n, &si) == 0);
        memcpy(seg + BLOCK, data, n - BLOCK);
    }
    /* Every offset of the first blocks, as a reader positioned anywhere. */
    for (size_t off = si.block_bytes; off < n && off < si.block_bytes + 512; off += 8) {
        struct regio__wal_rec_info ri;
        const char *why = NULL;
        int rc = regio__wal_check_record(&si, seg, n, off, &ri, &why);
        FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -ENODATA);
        if (rc == 0) {
            FUZZ_CHECK(off + ri.total_bytes <= n);
            FUZZ_CHECK(off + ri.total_bytes <= si.segment_bytes);
            FUZZ_CHECK(ri.total_bytes >= 32);
        }
    }
    struct regio__wal_scan s;
    regio__wal_scan_init(&s, &si, seg, n);
    struct regio__wal_scan_item it;
    uint64_t last = 0;
    for (int i = 0; i < 100000; i++) {
        int rc = regio__wal_scan_next(&s, &it);
        if (rc != 1)
            break;
        FUZZ_CHECK(it.offset >= si.block_bytes && (last == 0 || it.offset > last));
        FUZZ_CHECK(it.bytes > 0 && it.offset + it.bytes <= n);
        if (it.kind == REGIO__WAL_SCAN_RECORD) {
            FUZZ_CHECK((const uint8_t *)it.payload + it.rec.len <= seg + n);
            FUZZ_CHECK(it.rec.lsn == si.segment_no * si.segment_bytes + it.offset);
        }
        last = it.offset;
    }
    free(seg);
    return 0;
}
