/*
 * iobuf/slab.c: slab creation and destruction, the size classes, the shared
 * depot of free buffers and the carving of arena chunks into slabs.
 *
 * The depot of a class is a list of runs that have free slots, each run
 * holding a stack of its free slot indexes, all under the class lock. It is
 * only reached when a thread's cache is empty or full, so a mutex is cheap
 * enough here and keeps the bookkeeping simple.
 */
#include <string.h>
#include <time.h>

#include "slab_internal.h"
#include "stats_internal.h"

static _Atomic uint64_t g_slab_serial;

/* ---- Size classes ------------------------------------------------------- */

/* The default tiers: every 4 KiB to 16 KiB, then four per doubling to 1 MiB. */
static uint32_t default_tiers(size_t *out)
{
    REGIO_ASSERT(out != NULL);
    uint32_t n = 0;
    for (size_t b = 4096; b <= 16384; b += 4096)
        out[n++] = b;
    for (size_t base = 16384; base < REGIO_MIB; base *= 2)
        for (size_t k = 1; k <= 4; k++)
            out[n++] = base + k * (base / 4);
    return n;
}

static bool buf_size_ok(size_t bytes, size_t region_bytes)
{
    return bytes > 0 && bytes % 4096 == 0 && bytes <= SLAB_BUF_MAX && bytes <= region_bytes;
}

static uint32_t ceil_log2(uint32_t v)
{
    REGIO_ASSERT(v <= UINT32_C(1) << 31); /* else the shift loop never ends */
    uint32_t s = 0;
    while ((1u << s) < v)
        s++;
    return s;
}

/* Magazine capacity: small enough that one thread cannot hoard much memory
 * of a large class, and for pools a small share of the pool (a pool below 16
 * buffers bypasses the caches, so every free buffer is visible to every
 * thread). */
static uint32_t mag_capacity(const struct regio_slab_opts *o, size_t buf_bytes, bool pool,
                             uint32_t pool_count)
{
    REGIO_ASSERT(buf_bytes > 0);
    uint32_t cap = o->magazine_size ? o->magazine_size : SLAB_MAG_DEFAULT;
    if (cap > SLAB_MAG_MAX)
        cap = SLAB_MAG_MAX;
    size_t by_bytes = SLAB_MAG_BYTES_MAX / buf_bytes;
    if (by_bytes < 1)
        by_bytes = 1;
    if (cap > by_bytes)
        cap = (uint32_t)by_bytes;
    if (pool && cap > pool_count / 16)
        cap = pool_count / 16;
    return cap;
}

static int class_init(struct regio_slab *s, uint32_t cid, size_t bytes, bool pool,
                      uint32_t pool_count, const struct regio_slab_opts *o)
{
    REGIO_ASSERT(cid < s->class_count && bytes > 0 && bytes % 4096 == 0);
    struct slab_class *c = &s->classes[cid];
    c->buf_bytes = (uint32_t)bytes;
    c->pages = (uint32_t)(bytes >> 12);
    c->recip = ((UINT64_C(1) << 32) + c->pages - 1) / c->pages;
    if (bytes <= REGIO_CHUNK_BYTES) {
        c->cpr = 1;
        c->spr = (uint32_t)(REGIO_CHUNK_BYTES / bytes);
    } else {
        c->cpr = (uint32_t)((bytes + REGIO_CHUNK_BYTES - 1) >> REGIO_CHUNK_SHIFT);
        c->spr = 1;
    }
    /* At least 8 state words (one cache line) per run, so that two threads
     * working on buffers of different runs never share a state-word line. */
    c->shift = ceil_log2(c->spr) < 3 ? 3 : ceil_log2(c->spr);
    /* A slot is first << shift | index, and run free lists are uint16. */
    REGIO_ASSERT(c->spr <= (1u << c->shift) && c->spr <= UINT16_MAX + 1u);
    c->pool = pool;
    c->pool_count = pool_count;
    c->mag_cap = mag_capacity(o, bytes, pool, pool_count);
    atomic_init(&c->waiters, 0);
    /* calloc of this size is an anonymous mapping: only the pages of words
     * whose chunks this class actually carves are ever touched. */
    c->words = calloc((size_t)s->nchunks << c->shift, sizeof(*c->words));
    if (c->words == NULL)
        return -ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    regio__lock_init(&c->lock, false);
    return 0;
}

static void class_fini(struct slab_class *c)
{
    REGIO_ASSERT(atomic_load(&c->waiters) == 0); /* nobody sleeps on what is destroyed */
    if (c->words == NULL)
        return;
    free(c->words);
    c->words = NULL;
    regio__lock_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
}

/* ---- Runs: carving chunks and giving them back --------------------------- */

static void run_link_head(struct slab_class *c, struct slab_run *r)
{
    REGIO_ASSERT(regio__lock_held(&c->lock) && r->nfree > 0);
    r->prev = NULL;
    r->next = c->partial;
    if (c->partial)
        c->partial->prev = r;
    c->partial = r;
}

static void run_unlink(struct slab_class *c, struct slab_run *r)
{
    /* Only a listed run is unlinked: else c->partial would be lost. */
    REGIO_ASSERT(r->prev != NULL || c->partial == r);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->partial = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/*
 * Carve one run for class cid with nslots slots (class lock held). The
 * run's slots all go to the depot. -ENOMEM when the arena has no run free.
 */
static int run_carve(struct regio_slab *s, uint32_t cid, uint32_t nslots)
{
    REGIO_ASSERT(regio__lock_held(&s->classes[cid].lock) && nslots > 0 &&
                 nslots <= s->classes[cid].spr);
    struct slab_class *c = &s->classes[cid];
    uint32_t first;
    int rc = regio__arena_chunks_alloc(s->arena, c->cpr, &first);
    if (rc < 0)
        return rc;
    struct slab_run *r = &s->runs[first];
    REGIO_ASSERT(IDENT_CLASS(atomic_load(&r->ident)) == SLAB_CLASS_NONE);
    r->free_idx = malloc(sizeof(*r->free_idx) * nslots);
    if (r->free_idx == NULL) {
        regio__arena_chunks_free(s->arena, first, c->cpr);
        return -ENOMEM;
    }
    char *p = regio__arena_chunk_ptr(s->arena, first);
    int region = regio_arena_region_of(s->arena, p, (size_t)c->cpr * REGIO_CHUNK_BYTES);
    REGIO_ASSERT(region >= 0 && (uint32_t)region == s->chunk_region[first]);
    /* Pushed in reverse so that slot 0 is handed out first. */
    for (uint32_t i = 0; i < nslots; i++)
        r->free_idx[i] = (uint16_t)(nslots - 1 - i);
    r->nfree = nslots;
    atomic_store_explicit(&r->ident, slab_ident(cid, (uint32_t)region, nslots),
                          memory_order_release);
    for (uint32_t i = 0; i < c->cpr; i++)
        regio__arena_chunk_set_owner(s->arena, first + i, r);
    run_link_head(c, r);
    c->capacity += nslots;
    c->depot_free += nslots;
    c->empty_runs++;
    REGIO_ASSERT(c->depot_free <= c->capacity);
    atomic_fetch_add(&s->chunks_held, c->cpr);
    return 0;
}

/* Give an empty run back to the arena (class lock held). Bookkeeping only:
 * the memory stays mapped and registered, never MADV_DONTNEED'd, since a
 * ring may hold it. The slots' state words keep their generations. */
static void run_release(struct regio_slab *s, struct slab_class *c, struct slab_run *r)
{
    REGIO_ASSERT(regio__lock_held(&c->lock));
    uint32_t first = (uint32_t)(r - s->runs);
    uint32_t nslots = IDENT_NSLOTS(atomic_load_explicit(&r->ident, memory_order_relaxed));
    REGIO_ASSERT(r->nfree == nslots);
    run_unlink(c, r);
    atomic_store_explicit(&r->ident, slab_ident(SLAB_CLASS_NONE, 0, 0), memory_order_release);
    free(r->free_idx);
    r->free_idx = NULL;
    r->nfree = 0;
    REGIO_ASSERT(c->capacity >= nslots && c->depot_free >= nslots); /* its slots were counted */
    c->capacity -= nslots;
    c->depot_free -= nslots;
    atomic_fetch_sub(&s->chunks_held, c->cpr);
    /* chunks_free also clears the owner table entries. */
    regio__arena_chunks_free(s->arena, first, c->cpr);
}

/* Release the empty runs that other tier classes keep for hysteresis, so
 * that class `except` can carve. We hold the lock of `except`, so the others
 * are only try-locked: two classes reclaiming from each other must not
 * deadlock, and a busy class is skipped. Returns the runs released. */
static uint32_t reclaim_empty(struct regio_slab *s, uint32_t except)
{
    REGIO_ASSERT(regio__lock_held(&s->classes[except].lock)); /* hence only try-locks */
    uint32_t released = 0;
    for (uint32_t cid = 0; cid < s->tier_count; cid++) {
        struct slab_class *c = &s->classes[cid];
        if (cid == except || !regio__lock_try(&c->lock))
            continue;
        struct slab_run *r = c->partial;
        while (r != NULL && c->empty_runs > 0) {
            struct slab_run *next = r->next;
            uint64_t ident = atomic_load_explicit(&r->ident, memory_order_relaxed);
            if (r->nfree == IDENT_NSLOTS(ident)) {
                c->empty_runs--;
                run_release(s, c, r);
                released++;
            }
            r = next;
        }
        regio__unlock(&c->lock);
    }
    return released;
}

/* Carve a run for tier class cid, taking back other classes' spare empty
 * runs when the arena is full. */
static int tier_carve(struct regio_slab *s, uint32_t cid)
{
    REGIO_ASSERT(cid < s->tier_count && regio__lock_held(&s->classes[cid].lock));
    struct slab_class *c = &s->classes[cid];
    int rc = run_carve(s, cid, c->spr);
    if (rc == -ENOMEM && reclaim_empty(s, cid) > 0)
        rc = run_carve(s, cid, c->spr);
    return rc;
}

/* ---- The depot ----------------------------------------------------------- */

uint32_t regio__depot_pop_locked(struct regio_slab *s, uint32_t cid, struct slab_entry *out,
                                 uint32_t n)
{
    REGIO_ASSERT(cid < s->class_count && regio__lock_held(&s->classes[cid].lock));
    struct slab_class *c = &s->classes[cid];
    uint32_t got = 0;
    while (got < n) {
        if (c->partial == NULL && (c->pool || tier_carve(s, cid) < 0))
            break;
        struct slab_run *r = c->partial;
        uint32_t first = (uint32_t)(r - s->runs);
        uint64_t ident = atomic_load_explicit(&r->ident, memory_order_relaxed);
        REGIO_ASSERT(r->nfree > 0);
        if (r->nfree == IDENT_NSLOTS(ident))
            c->empty_runs--;
        char *base = s->base + ((size_t)first << REGIO_CHUNK_SHIFT);
        while (got < n && r->nfree > 0) {
            uint32_t idx = r->free_idx[--r->nfree];
            out[got].data = base + (size_t)idx * c->buf_bytes;
            out[got].cap_bytes = c->buf_bytes;
            out[got].region = (uint16_t)IDENT_REGION(ident);
            out[got].class_id = (uint16_t)cid;
            out[got].slot = first << c->shift | idx;
            /* A slot in the depot is free, and nobody writes a free word. */
            uint64_t v = atomic_load_explicit(&c->words[out[got].slot], memory_order_relaxed);
            REGIO_ASSERT((v & ~(uint64_t)UINT32_MAX) == 0);
            out[got].gen = (uint32_t)v ^ s->salt;
            got++;
            c->depot_free--;
        }
        if (r->nfree == 0)
            run_unlink(c, r);
    }
    uint64_t outside = c->capacity - c->depot_free;
    if (outside > c->high_water)
        c->high_water = outside;
    return got;
}

uint32_t regio__depot_pop(struct regio_slab *s, uint32_t cid, struct slab_entry *out, uint32_t n)
{
    REGIO_ASSERT(cid < s->class_count && n > 0);
    struct slab_class *c = &s->classes[cid];
    REGIO_ASSERT(
        !regio__lock_held(&c->lock)); /* not recursive: a holder must use the _locked form */
    regio__lock(&c->lock);
    uint32_t got = regio__depot_pop_locked(s, cid, out, n);
    regio__unlock(&c->lock);
    return got;
}

void regio__depot_push_locked(struct regio_slab *s, uint32_t cid, const struct slab_entry *e,
                              uint32_t n)
{
    REGIO_ASSERT(cid < s->class_count && regio__lock_held(&s->classes[cid].lock));
    struct slab_class *c = &s->classes[cid];
    for (uint32_t i = 0; i < n; i++) {
        struct slab_run *r = &s->runs[e[i].slot >> c->shift];
        uint64_t ident = atomic_load_explicit(&r->ident, memory_order_relaxed);
        uint32_t nslots = IDENT_NSLOTS(ident);
        REGIO_ASSERT(IDENT_CLASS(ident) == cid && r->nfree < nslots);
        r->free_idx[r->nfree++] = (uint16_t)(e[i].slot & ((1u << c->shift) - 1));
        c->depot_free++;
        /* A run that just got its first free slot is nearly full: put it
         * first, so allocation prefers full runs and emptier ones drain. */
        if (r->nfree == 1)
            run_link_head(c, r);
        if (r->nfree == nslots) {
            /* Hysteresis: keep one empty run per tier class, so a class
             * that oscillates around a run boundary does not carve and
             * release a chunk on every allocation. */
            if (!c->pool && c->empty_runs >= 1)
                run_release(s, c, r);
            else
                c->empty_runs++;
        }
    }
}

void regio__depot_push(struct regio_slab *s, uint32_t cid, const struct slab_entry *e, uint32_t n)
{
    REGIO_ASSERT(cid < s->class_count);
    struct slab_class *c = &s->classes[cid];
    REGIO_ASSERT(
        !regio__lock_held(&c->lock)); /* not recursive: a holder must use the _locked form */
    regio__lock(&c->lock);
    regio__depot_push_locked(s, cid, e, n);
    if (atomic_load_explicit(&c->waiters, memory_order_relaxed) > 0)
        pthread_cond_broadcast(&c->cond);
    regio__unlock(&c->lock);
}

/* ---- Create / destroy ---------------------------------------------------- */

static void slab_free(struct regio_slab *s)
{
    REGIO_ASSERT(s->caches == NULL);           /* retire_all detached every thread's cache */
    REGIO_ASSERT(atomic_load(&s->users) == 0); /* an engine checks its handles against s */
    for (uint32_t cid = 0; cid < s->class_count; cid++) {
        struct slab_class *c = &s->classes[cid];
        if (c->words == NULL)
            continue;
        while (c->partial) {
            struct slab_run *r = c->partial;
            run_unlink(c, r);
            uint32_t first = (uint32_t)(r - s->runs);
            atomic_store(&r->ident, slab_ident(SLAB_CLASS_NONE, 0, 0));
            free(r->free_idx);
            r->free_idx = NULL;
            regio__arena_chunks_free(s->arena, first, c->cpr);
        }
        class_fini(c);
    }
    free(s->runs);
    free(s->chunk_region);
    free(s);
}

static int check_opts(const struct regio_slab_opts *o, size_t region_bytes, size_t *tiers,
                      uint32_t *tier_count)
{
    if (o->class_bytes == NULL) {
        if (o->class_count != 0)
            return -EINVAL;
        *tier_count = default_tiers(tiers);
    } else {
        if (o->class_count == 0 || o->class_count > REGIO_SLAB_MAX_CLASSES)
            return -EINVAL;
        for (uint32_t i = 0; i < o->class_count; i++) {
            if (!buf_size_ok(o->class_bytes[i], region_bytes))
                return -EINVAL;
            if (i > 0 && o->class_bytes[i] <= o->class_bytes[i - 1])
                return -EINVAL;
            tiers[i] = o->class_bytes[i];
        }
        *tier_count = o->class_count;
    }
    if (o->pool_count > 0 && o->pools == NULL)
        return -EINVAL;
    if ((uint64_t)*tier_count + o->pool_count > REGIO_SLAB_MAX_CLASSES)
        return -EINVAL;
    for (uint32_t i = 0; i < o->pool_count; i++)
        if (!buf_size_ok(o->pools[i].buf_bytes, region_bytes) || o->pools[i].count == 0)
            return -EINVAL;
    if (o->magazine_size > SLAB_MAG_MAX)
        return -EINVAL;
    /* create sizes the length table by the largest tier. */
    REGIO_ASSERT(*tier_count > 0 && *tier_count <= REGIO_SLAB_MAX_CLASSES);
    return 0;
}

/* The length table (its space comes with the slab, see regio_slab_create). */
static void build_lut(struct regio_slab *s, const size_t *tiers)
{
    REGIO_ASSERT(s->tier_count > 0 && s->tier_count <= REGIO_SLAB_MAX_CLASSES);
    s->tier_max_bytes = tiers[s->tier_count - 1];
    size_t n = s->tier_max_bytes >> 12;
    uint32_t cid = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = (i + 1) << 12; /* the largest len that maps to entry i */
        while (tiers[cid] < len)
            cid++;
        REGIO_ASSERT(cid < s->tier_count); /* the largest tier covers every entry */
        s->lut[i] = (uint8_t)cid;
    }
}

/* Reserve a pool's buffers now: whole runs, the last one holding only the
 * remainder, so that the pool has exactly `count` buffers. */
static int pool_reserve(struct regio_slab *s, uint32_t cid)
{
    REGIO_ASSERT(cid >= s->tier_count && cid < s->class_count && s->classes[cid].pool);
    struct slab_class *c = &s->classes[cid];
    uint32_t left = c->pool_count;
    regio__lock(&c->lock);
    int rc = 0;
    while (left > 0 && rc == 0) {
        uint32_t n = left < c->spr ? left : c->spr;
        rc = run_carve(s, cid, n);
        left -= rc == 0 ? n : 0;
    }
    /* Exactly count buffers: the last run holds only the remainder. */
    REGIO_ASSERT(rc < 0 || c->capacity == c->pool_count);
    regio__unlock(&c->lock);
    if (rc < 0)
        regio__set_detail("pool of %u buffers of %u bytes does not fit in the arena", c->pool_count,
                          c->buf_bytes);
    return rc;
}

static int slab_init(struct regio_slab *s, const struct regio_slab_opts *o, const size_t *tiers)
{
    REGIO_ASSERT(s->arena != NULL && s->nchunks > 0);
    build_lut(s, tiers);
    int rc;
    s->runs = calloc(s->nchunks, sizeof(*s->runs));
    s->chunk_region = malloc(sizeof(*s->chunk_region) * s->nchunks);
    if (s->chunk_region == NULL)
        return -ENOMEM;
    size_t per_region = regio__arena_region_bytes(s->arena) >> REGIO_CHUNK_SHIFT;
    for (uint32_t i = 0; i < s->nchunks; i++)
        s->chunk_region[i] = (uint16_t)(i / per_region);
    if (s->runs == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < s->nchunks; i++)
        atomic_init(&s->runs[i].ident, slab_ident(SLAB_CLASS_NONE, 0, 0));
    for (uint32_t cid = 0; cid < s->class_count; cid++) {
        bool pool = cid >= s->tier_count;
        size_t bytes = pool ? o->pools[cid - s->tier_count].buf_bytes : tiers[cid];
        uint32_t count = pool ? o->pools[cid - s->tier_count].count : 0;
        rc = class_init(s, cid, bytes, pool, count, o);
        if (rc < 0)
            return rc;
    }
    for (uint32_t cid = s->tier_count; cid < s->class_count; cid++) {
        rc = pool_reserve(s, cid);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void regio__slab_stats_section(struct regio_stats_slab *s, const struct regio_slab_stats *st)
{
    uint32_t n = st->class_count < REGIO_STATS_CLASSES ? st->class_count : REGIO_STATS_CLASSES;
    s->class_count = n;
    s->tier_count = st->tier_count;
    s->chunks = st->chunks;
    memset(s->classes, 0, sizeof(s->classes));
    for (uint32_t i = 0; i < n; i++) {
        const struct regio_slab_class_stats *c = &st->classes[i];
        s->classes[i] = (struct regio_stats_class){
            .buf_bytes = c->buf_bytes,
            .pool = c->pool ? 1u : 0u,
            .capacity = c->capacity,
            .in_use = c->in_use,
            .in_flight = c->in_flight,
            .high_water = c->high_water,
            .allocs = c->allocs,
            .exhaustions = c->exhaustions,
            .waits = c->waits,
        };
    }
}

/* The live stats provider: runs on the arena's publisher thread. */
static void stats_fill(void *ctx, void *section)
{
    struct regio_slab_stats st;
    if (regio_slab_stats(ctx, &st) == 0)
        regio__slab_stats_section(section, &st);
}

int regio_slab_create(struct regio_arena *a, const struct regio_slab_opts *opts,
                      struct regio_slab **out)
{
    regio__clear_detail();
    static const struct regio_slab_opts defaults;
    if (a == NULL || out == NULL) {
        regio__set_detail("regio_slab_create: a required argument is NULL (or out of range)");
        return -EINVAL;
    }
    const struct regio_slab_opts *o = opts ? opts : &defaults;
    size_t tiers[REGIO_SLAB_MAX_CLASSES];
    uint32_t tier_count;
    int rc = check_opts(o, regio__arena_region_bytes(a), tiers, &tier_count);
    if (rc < 0) {
        regio__set_detail("slab: options out of range (classes: ascending multiples of 4 KiB "
                          "within a region; pools: count >= 1; at most %u classes in all)",
                          (unsigned)REGIO_SLAB_MAX_CLASSES);
        return rc;
    }
    /* 64-byte aligned for the classes' cache lines; the length table follows
     * the structure. */
    size_t bytes = sizeof(struct regio_slab) + (tiers[tier_count - 1] >> 12);
    struct regio_slab *s = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (s == NULL)
        return -ENOMEM;
    memset(s, 0, bytes);
    s->arena = a;
    s->base = regio__arena_base(a);
    s->size = regio__arena_size(a);
    s->nchunks = (uint32_t)(s->size >> REGIO_CHUNK_SHIFT);
    s->serial = atomic_fetch_add(&g_slab_serial, 1) + 1;
    /* The salt only has to differ between slabs, so that a handle of one
     * slab presented to another is unlikely to carry a valid generation. */
    uint64_t mix = (s->serial + (uint64_t)regio__now_ns()) * 0x9e3779b97f4a7c15ull;
    s->salt = (uint32_t)(mix >> 32);
    s->tier_count = tier_count;
    s->class_count = tier_count + o->pool_count;
    /* Serial 0 is a thread's "no cache" hint; one wrap would alias it. */
    REGIO_ASSERT(s->serial != 0 && s->class_count <= REGIO_SLAB_MAX_CLASSES);
    rc = slab_init(s, o, tiers);
    if (rc < 0) {
        slab_free(s);
        return rc;
    }
    regio__arena_user_get(a);
    /* Publish in the arena's live stats file when it has one (-ENOENT when
     * not; a full table is not an error for the slab either). */
    s->stats_handle = regio__stats_attach(a, REGIO_STATS_SLAB, NULL, stats_fill, s);
    *out = s;
    return 0;
}

void regio__slab_user_get(struct regio_slab *s)
{
    uint32_t before = atomic_fetch_add(&s->users, 1);
    REGIO_ASSERT(before < UINT32_MAX);
}

void regio__slab_user_put(struct regio_slab *s)
{
    uint32_t before = atomic_fetch_sub(&s->users, 1);
    REGIO_ASSERT(before > 0);
}

int regio_slab_destroy(struct regio_slab *s)
{
    regio__clear_detail();
    if (s == NULL) {
        regio__set_detail("regio_slab_destroy: NULL slab");
        return -EINVAL;
    }
    /* An engine checks every handle against its slab and keeps buffers in
     * flight: freeing the slab under it would be a use after free. */
    uint32_t users = atomic_load(&s->users);
    if (users != 0) {
        regio__set_detail("slab still has %u engine(s) built on it: destroy them first", users);
        return -EBUSY;
    }
    int rc = regio__tcache_retire_all(s);
    if (rc < 0)
        return rc;
    struct regio_arena *a = s->arena;
    regio__stats_detach(a, s->stats_handle);
    slab_free(s);
    regio__arena_user_put(a);
    return 0;
}

struct regio_arena *regio_slab_arena(const struct regio_slab *s)
{
    return s ? s->arena : NULL;
}

/*
 * in_use and in_flight are differences of per-thread counters; high_water
 * is the most buffers that were outside the depot at once (in use or held in
 * a thread's cache), recorded whenever the depot hands buffers out, and
 * raised to in_use when that is larger. It can exceed the true peak in use
 * by what the thread caches held at that moment.
 */
int regio_slab_stats(const struct regio_slab *s, struct regio_slab_stats *out)
{
    if (s == NULL || out == NULL) {
        regio__set_detail("regio_slab_stats: NULL slab or out pointer");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    REGIO_ASSERT(s->class_count <= REGIO_SLAB_MAX_CLASSES); /* out->classes holds them all */
    out->class_count = s->class_count;
    out->tier_count = s->tier_count;
    out->chunks = atomic_load(&s->chunks_held);
    for (uint32_t cid = 0; cid < s->class_count; cid++) {
        /* The class lock is taken through a const slab: the slab is never a
         * const object, only this interface is. */
        struct slab_class *c = (struct slab_class *)&s->classes[cid];
        struct regio_slab_class_stats *cs = &out->classes[cid];
        struct slab_counters sum;
        regio__tcache_sum(s, cid, &sum);
        regio__lock(&c->lock);
        cs->capacity = c->capacity;
        cs->high_water = c->high_water;
        /* The depot holds no more buffers than the class has (not so the
         * peak: capacity shrinks when an empty run goes back). */
        REGIO_ASSERT(c->depot_free <= c->capacity);
        regio__unlock(&c->lock);
        cs->buf_bytes = c->buf_bytes;
        cs->pool = c->pool;
        cs->allocs = regio__counter_get(&sum.allocs);
        uint64_t frees = regio__counter_get(&sum.frees);
        cs->in_use = cs->allocs >= frees ? cs->allocs - frees : 0;
        uint64_t b = regio__counter_get(&sum.flight_begins);
        uint64_t e = regio__counter_get(&sum.flight_ends);
        cs->in_flight = b >= e ? b - e : 0;
        cs->exhaustions = regio__counter_get(&sum.exhaustions);
        cs->waits = regio__counter_get(&sum.waits);
        if (cs->in_use > cs->high_water)
            cs->high_water = cs->in_use;
    }
    return 0;
}
