/*
 * tests/fuzz/fuzz_page.c: page verification (regio_pager_verify_image and
 * the page-LSN getter) over arbitrary page images. The first byte picks the
 * page size (4, 8, 16, 32 or 64 KiB, or an invalid one), the next eight
 * the page number; the rest is the image, repeated to fill the page.
 * Invariants: no crash, no read outside the page (ASan), a documented
 * result; an image the verifier accepts is not all zeros, and one that it
 * calls never written is all zeros.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"
#include "regio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    static const uint32_t sizes[] = {4096, 8192, 16384, 32768, 65536, 4095, 0, 131072};
    uint32_t pb = sizes[data[0] % 8];
    uint64_t page_no = 0;
    memcpy(&page_no, data + 1, 8);
    data += 9;
    size -= 9;
    /* Exactly pb bytes on the heap, so that ASan sees any read past it. */
    uint8_t *page = calloc(1, pb > 0 ? pb : 1);
    FUZZ_CHECK(page != NULL);
    for (uint32_t i = 0; i < pb; i++)
        page[i] = size > 0 ? data[i % size] : 0;
    int rc = regio_pager_verify_image(page, pb, page_no);
    static const int ok[] = {0, -EBADMSG, -ENODATA, -EPROTO, -EINVAL};
    FUZZ_CHECK(fuzz_rc_in(rc, ok, sizeof(ok) / sizeof(ok[0])));
    bool valid_size = pb >= 4096 && pb <= 65536 && (pb & (pb - 1)) == 0;
    FUZZ_CHECK((rc == -EINVAL) == !valid_size);
    if (rc == 0 || rc == -ENODATA) {
        bool zero = true;
        for (uint32_t i = 0; i < pb && zero; i++)
            zero = page[i] == 0;
        FUZZ_CHECK(zero == (rc == -ENODATA));
    }
    if (valid_size)
        (void)regio_pager_image_lsn(page, pb);
    free(page);
    return 0;
}
