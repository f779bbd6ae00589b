/*
 * tools/bench/slab_alloc.c: the slab bench's baselines, each in this
 * translation unit so that the bench's calls are real calls, as calls into
 * the library are.
 *
 * - The free list: what a database writes by hand instead of using an
 *   allocator for its I/O buffers: per thread and per size class, a stack
 *   of buffers that were aligned once when first made; alloc pops, free
 *   pushes. No checks of any kind, so regio minus this is what regio's
 *   checks and handles cost.
 * - jemalloc and mimalloc aligned allocation (Debian's libjemalloc2 and
 *   libmimalloc2.0), loaded with dlopen so that neither replaces the
 *   process's malloc: jemalloc's mallocx(MALLOCX_ALIGN(4096)) + sdallocx,
 *   mimalloc's mi_malloc_aligned + mi_free.
 * - glibc aligned_alloc + free.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "slab_alloc.h"

#define FL_CLASSES 64
#define FL_CAP     64

struct fl_stack {
    void *v[FL_CAP];
    uint32_t n;
};

static __thread struct fl_stack fl[FL_CLASSES];

void *freelist_alloc(unsigned cls, size_t bytes)
{
    struct fl_stack *s = &fl[cls % FL_CLASSES];
    if (s->n > 0)
        return s->v[--s->n];
    return aligned_alloc(4096, bytes);
}

void freelist_free(unsigned cls, void *p)
{
    struct fl_stack *s = &fl[cls % FL_CLASSES];
    if (s->n < FL_CAP)
        s->v[s->n++] = p;
    else
        free(p);
}

void freelist_drain(void)
{
    for (unsigned c = 0; c < FL_CLASSES; c++)
        while (fl[c].n > 0)
            free(fl[c].v[--fl[c].n]);
}

void *glibc_alloc(size_t bytes)
{
    return aligned_alloc(4096, bytes);
}

void glibc_free(void *p)
{
    free(p);
}

/* jemalloc's MALLOCX_ALIGN(a) is the log2 of a in the low bits. */
#define JE_ALIGN_4096 12

static void *(*je_mallocx)(size_t, int);
static void (*je_sdallocx)(void *, size_t, int);
static void *(*mi_malloc_aligned)(size_t, size_t);
static void (*mi_free)(void *);

static void *open_lib(const char *name)
{
    /* RTLD_LOCAL: the library's malloc does not become the process's. */
    return dlopen(name, RTLD_NOW | RTLD_LOCAL);
}

bool ext_alloc_load(enum ext_alloc which)
{
    if (which == EXT_JEMALLOC) {
        if (je_mallocx != NULL)
            return true;
        void *h = open_lib("libjemalloc.so.2");
        if (h == NULL)
            return false;
        je_mallocx = (void *(*)(size_t, int))dlsym(h, "mallocx");
        je_sdallocx = (void (*)(void *, size_t, int))dlsym(h, "sdallocx");
        return je_mallocx != NULL && je_sdallocx != NULL;
    }
    if (mi_malloc_aligned != NULL)
        return true;
    void *h = open_lib("libmimalloc.so.2");
    if (h == NULL)
        return false;
    mi_malloc_aligned = (void *(*)(size_t, size_t))dlsym(h, "mi_malloc_aligned");
    mi_free = (void (*)(void *))dlsym(h, "mi_free");
    return mi_malloc_aligned != NULL && mi_free != NULL;
}

void *ext_alloc(enum ext_alloc which, size_t bytes)
{
    return which == EXT_JEMALLOC ? je_mallocx(bytes, JE_ALIGN_4096)
                                 : mi_malloc_aligned(bytes, 4096);
}

void ext_free(enum ext_alloc which, void *p, size_t bytes)
{
    if (which == EXT_JEMALLOC)
        je_sdallocx(p, bytes, JE_ALIGN_4096);
    else
        mi_free(p);
}
