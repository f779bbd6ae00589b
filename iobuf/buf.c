/*
 * iobuf/buf.c: buffer handles, the per-thread caches and the fast paths.
 *
 * The fast path of an allocation is: the length to a class through a table,
 * the calling thread's cache through one thread-local compare, a pop from the
 * class's magazine and one store to the slot's state word. A free is the
 * handle's checks (shifts, a multiply and compares), one compare-and-swap on
 * the state word and a push on the magazine. No lock, no system call and no
 * division; the shared depot (slab.c) is reached only when a magazine is
 * empty or full, or while a thread waits for the class.
 *
 * Handle generations are the slot's generation XOR the slab's salt, so that
 * a handle given to the wrong slab is unlikely to match anything there.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "slab_internal.h"

/* The wait for a tier class re-checks this often: a chunk that another class
 * gives back to the arena wakes nobody, but can be carved for this class. */
#define SLAB_WAIT_SLICE_NS (5 * 1000 * 1000)

/* The registry lock guards every slab's list of caches, the caches' slab
 * pointers and the counters of exited threads. Order: registry, then class. */
static struct regio__lock g_registry = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;

/* The last cache this thread used; initial-exec so that reaching it is a
 * plain %fs-relative load even inside the shared library. */
struct tl_hint {
    uint64_t serial; /* serials are never reused, and 0 is none */
    struct slab_tcache *tc;
};
static _Thread_local struct tl_hint tl_hint __attribute__((tls_model("initial-exec")));
/* Every cache of this thread, for the thread-exit flush. */
static _Thread_local struct slab_tcache *tl_list __attribute__((tls_model("initial-exec")));

/* ---- Counters ------------------------------------------------------------ */

uint64_t regio__counter_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Only the owning thread writes its counters, so a load and a store suffice
 * (no locked instruction); readers sum them with relaxed loads. */
static inline void counter_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void counters_fold(struct slab_counters *to, const struct slab_counters *from)
{
    REGIO_ASSERT(to != from);
    counter_add(&to->allocs, regio__counter_get(&from->allocs));
    counter_add(&to->frees, regio__counter_get(&from->frees));
    counter_add(&to->exhaustions, regio__counter_get(&from->exhaustions));
    counter_add(&to->waits, regio__counter_get(&from->waits));
    counter_add(&to->flight_begins, regio__counter_get(&from->flight_begins));
    counter_add(&to->flight_ends, regio__counter_get(&from->flight_ends));
}

/* ---- Thread caches ------------------------------------------------------- */

/* Give every buffer in tc's magazines back to the depot. */
static void tcache_flush(struct regio_slab *s, struct slab_tcache *tc)
{
    REGIO_ASSERT(regio__lock_held(&g_registry)); /* tc may not go away meanwhile */
    for (uint32_t cid = 0; cid < s->class_count; cid++) {
        struct slab_mag *m = &tc->mags[cid];
        if (m->count > 0)
            regio__depot_push(s, cid, m->e, m->count);
        m->count = 0;
    }
}

/* Unlink tc from its slab (registry lock held); the slab stops counting it. */
static void tcache_detach(struct regio_slab *s, struct slab_tcache *tc)
{
    REGIO_ASSERT(regio__lock_held(&g_registry) && atomic_load(&tc->slab) == s);
    if (tc->slab_prev)
        tc->slab_prev->slab_next = tc->slab_next;
    else
        s->caches = tc->slab_next;
    if (tc->slab_next)
        tc->slab_next->slab_prev = tc->slab_prev;
    tc->slab_prev = tc->slab_next = NULL;
    atomic_store_explicit(&tc->slab, NULL, memory_order_release);
}

/* pthread key destructor: the thread is exiting; its caches go back to their
 * slabs' depots and its counters to the slabs' retired totals. */
static void thread_exit(void *arg)
{
    struct slab_tcache *tc = arg;
    /* Taken below: a thread exiting with it held would deadlock itself. */
    REGIO_ASSERT(!regio__lock_held(&g_registry));
    tl_list = NULL;
    memset(&tl_hint, 0, sizeof(tl_hint));
    regio__lock(&g_registry);
    while (tc) {
        struct slab_tcache *next = tc->thread_next;
        struct regio_slab *s = atomic_load_explicit(&tc->slab, memory_order_acquire);
        if (s) {
            tcache_flush(s, tc);
            for (uint32_t cid = 0; cid < s->class_count; cid++)
                counters_fold(&s->retired[cid], &tc->mags[cid].n);
            tcache_detach(s, tc);
        }
        free(tc);
        tc = next;
    }
    regio__unlock(&g_registry);
}

static void key_create(void)
{
    REGIO_ASSERT(pthread_key_create(&g_key, thread_exit) == 0);
}

/* Free this thread's caches whose slab was destroyed. */
static void tcache_prune(void)
{
    pthread_once(&g_key_once, key_create);
    struct slab_tcache **pp = &tl_list;
    while (*pp) {
        struct slab_tcache *tc = *pp;
        REGIO_ASSERT(tc->serial != 0); /* every cache carries its slab's serial */
        if (atomic_load_explicit(&tc->slab, memory_order_acquire) == NULL) {
            *pp = tc->thread_next;
            free(tc);
        } else {
            pp = &tc->thread_next;
        }
    }
    pthread_setspecific(g_key, tl_list);
}

static inline size_t round64(size_t v)
{
    return (v + 63) & ~(size_t)63;
}

static struct slab_tcache *tcache_new(struct regio_slab *s)
{
    REGIO_ASSERT(s->class_count > 0 && s->class_count <= REGIO_SLAB_MAX_CLASSES);
    size_t nc = s->class_count;
    size_t hdr = sizeof(struct slab_tcache) + nc * sizeof(struct slab_mag);
    size_t ents = 0;
    for (uint32_t cid = 0; cid < nc; cid++)
        ents += s->classes[cid].mag_cap * sizeof(struct slab_entry);
    /* 64-byte aligned and padded, so no two threads' caches share a line. */
    struct slab_tcache *tc = aligned_alloc(64, round64(hdr + ents));
    if (tc == NULL)
        return NULL;
    memset(tc, 0, hdr);
    struct slab_entry *e = (struct slab_entry *)((char *)tc + hdr);
    for (uint32_t cid = 0; cid < nc; cid++) {
        tc->mags[cid].cap = s->classes[cid].mag_cap;
        tc->mags[cid].e = e;
        e += tc->mags[cid].cap;
    }
    /* The magazines fit the allocation. */
    REGIO_ASSERT((char *)e <= (char *)tc + round64(hdr + ents));
    atomic_init(&tc->slab, s);
    tc->serial = s->serial;
    REGIO_ASSERT(!regio__lock_held(&g_registry));
    regio__lock(&g_registry);
    tc->slab_next = s->caches;
    if (s->caches)
        s->caches->slab_prev = tc;
    s->caches = tc;
    regio__unlock(&g_registry);
    return tc;
}

static struct slab_tcache *tcache_slow(struct regio_slab *s)
{
    REGIO_ASSERT(s->serial != 0); /* 0 is the hint of a thread with no cache */
    tcache_prune();
    struct slab_tcache *tc = tl_list;
    while (tc && !(atomic_load(&tc->slab) == s && tc->serial == s->serial))
        tc = tc->thread_next;
    if (tc == NULL) {
        tc = tcache_new(s);
        if (tc == NULL)
            return NULL;
        tc->thread_next = tl_list;
        tl_list = tc;
        pthread_setspecific(g_key, tl_list);
    }
    tl_hint.serial = s->serial;
    tl_hint.tc = tc;
    REGIO_ASSERT(atomic_load(&tc->slab) == s && tc->serial == s->serial); /* the hint's cache */
    return tc;
}

static inline struct slab_tcache *tcache_get(struct regio_slab *s)
{
    if (REGIO_LIKELY(tl_hint.serial == s->serial))
        return tl_hint.tc;
    return tcache_slow(s);
}

int regio__tcache_retire_all(struct regio_slab *s)
{
    REGIO_ASSERT(!regio__lock_held(&g_registry));
    regio__lock(&g_registry);
    for (uint32_t cid = 0; cid < s->class_count; cid++) {
        struct slab_counters sum;
        memset(&sum, 0, sizeof(sum));
        counters_fold(&sum, &s->retired[cid]);
        for (struct slab_tcache *tc = s->caches; tc; tc = tc->slab_next)
            counters_fold(&sum, &tc->mags[cid].n);
        uint64_t out = regio__counter_get(&sum.allocs) - regio__counter_get(&sum.frees);
        if (out != 0 || atomic_load(&s->classes[cid].waiters) != 0) {
            regio__unlock(&g_registry);
            regio__set_detail("slab class %u (%u bytes) still has %llu buffers out", cid,
                              s->classes[cid].buf_bytes, (unsigned long long)out);
            return -EBUSY;
        }
    }
    /* Every buffer is free: the only ones not in the depot are in caches. */
    for (struct slab_tcache *tc = s->caches; tc; tc = tc->slab_next)
        tcache_flush(s, tc);
    for (uint32_t cid = 0; cid < s->class_count; cid++) {
        struct slab_class *c = &s->classes[cid];
        regio__lock(&c->lock);
        bool all_back = c->depot_free == c->capacity;
        regio__unlock(&c->lock);
        if (!all_back) {
            regio__unlock(&g_registry);
            regio__set_detail("slab class %u: a buffer is out that no counter saw", cid);
            return -EBUSY;
        }
    }
    while (s->caches)
        tcache_detach(s, s->caches);
    regio__unlock(&g_registry);
    /* The calling thread frees its own detached caches now; other threads
     * free theirs on their next slow path or when they exit. */
    if (tl_hint.serial == s->serial)
        memset(&tl_hint, 0, sizeof(tl_hint));
    tcache_prune();
    return 0;
}

void regio__tcache_sum(const struct regio_slab *s, uint32_t cid, struct slab_counters *out)
{
    REGIO_ASSERT(cid < s->class_count);
    memset(out, 0, sizeof(*out));
    REGIO_ASSERT(!regio__lock_held(&g_registry));
    regio__lock(&g_registry);
    counters_fold(out, &s->retired[cid]);
    for (struct slab_tcache *tc = s->caches; tc; tc = tc->slab_next)
        counters_fold(out, &tc->mags[cid].n);
    regio__unlock(&g_registry);
}

/* ---- Allocation ---------------------------------------------------------- */

/* Take ownership of free slot e for the caller: only the thread holding a
 * free slot's entry writes its word, and the entry carries the word's
 * generation, so a plain store is enough and the word is never loaded. The
 * entry is the handle: copied as one 16-byte and one 8-byte move (callers
 * copy the 24-byte handle with such wide moves to pass it by value, and a
 * wide load of several narrow stores stalls on store forwarding). */
static inline void slot_claim(const struct regio_slab *s, const struct slab_class *c,
                              const struct slab_entry *e, struct regio_buf *out)
{
    REGIO_ASSERT(e->slot < ((size_t)s->nchunks << c->shift)); /* inside the class's words */
    atomic_store_explicit(&c->words[e->slot], SLOT_OWNED | (e->gen ^ s->salt),
                          memory_order_relaxed);
    memcpy(out, e, sizeof(*out));
}

/* The entry of a buffer just freed through handle b: b with the slot's new
 * generation gen (unsalted), written as one 16-byte and one 8-byte store. */
static inline void entry_of(const struct regio_slab *s, const struct regio_buf *b, uint32_t gen,
                            struct slab_entry *e)
{
    uint64_t tail = (uint64_t)b->slot | (uint64_t)(gen ^ s->salt) << 32;
    memcpy(e, b, 16);
    memcpy((char *)e + 16, &tail, 8);
}

/* Refill the empty magazine of class cid from the depot (half full, so the
 * next frees do not overflow it at once) and pop one entry. */
static bool mag_refill(struct regio_slab *s, struct slab_tcache *tc, uint32_t cid,
                       struct slab_entry *e)
{
    REGIO_ASSERT(tc->mags[cid].count == 0); /* only an empty magazine is refilled */
    struct slab_mag *m = &tc->mags[cid];
    if (m->cap == 0)
        return regio__depot_pop(s, cid, e, 1) == 1;
    uint32_t got = regio__depot_pop(s, cid, m->e, (m->cap + 1) / 2);
    if (got == 0)
        return false;
    *e = m->e[got - 1];
    m->count = got - 1;
    return true;
}

/* Everything but a pop from a non-empty magazine of this thread's current
 * cache: kept out of line so that the fast path stays small. */
static __attribute__((noinline)) int alloc_slow(struct regio_slab *s, uint32_t cid,
                                                struct regio_buf *out)
{
    REGIO_ASSERT(cid < s->class_count);
    struct slab_tcache *tc = tcache_get(s);
    if (tc == NULL)
        return -ENOMEM;
    struct slab_mag *m = &tc->mags[cid];
    struct slab_entry e;
    if (m->count > 0) {
        e = m->e[--m->count];
    } else if (!mag_refill(s, tc, cid, &e)) {
        counter_add(&m->n.exhaustions, 1);
        return -ENOBUFS;
    }
    slot_claim(s, &s->classes[cid], &e, out);
    counter_add(&m->n.allocs, 1);
    return 0;
}

static inline __attribute__((always_inline)) int alloc_class(struct regio_slab *s, uint32_t cid,
                                                             struct regio_buf *out)
{
    if (REGIO_UNLIKELY(tl_hint.serial != s->serial))
        return alloc_slow(s, cid, out);
    struct slab_mag *m = &tl_hint.tc->mags[cid];
    uint32_t n = m->count;
    if (REGIO_UNLIKELY(n == 0))
        return alloc_slow(s, cid, out);
    m->count = n - 1;
    slot_claim(s, &s->classes[cid], &m->e[n - 1], out);
    counter_add(&m->n.allocs, 1);
    return 0;
}

static struct timespec abs_time(int64_t ns)
{
    REGIO_ASSERT(ns >= 0);
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    return ts;
}

/* Block (class lock held) until the depot has a buffer of class cid or
 * deadline_ns passes (INT64_MAX: never). */
static int wait_locked(struct regio_slab *s, struct slab_class *c, uint32_t cid,
                       int64_t deadline_ns, struct slab_entry *e)
{
    REGIO_ASSERT(c == &s->classes[cid] && regio__lock_held(&c->lock));
    for (;;) {
        if (regio__depot_pop_locked(s, cid, e, 1) == 1)
            return 0;
        int64_t now = regio__now_ns();
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        int64_t until = deadline_ns;
        if (!c->pool && until - now > SLAB_WAIT_SLICE_NS)
            until = now + SLAB_WAIT_SLICE_NS;
        if (until == INT64_MAX) {
            regio__lock_wait(&c->cond, &c->lock);
        } else {
            struct timespec ts = abs_time(until);
            regio__lock_timedwait(&c->cond, &c->lock, &ts);
        }
    }
}

static int alloc_wait_class(struct regio_slab *s, uint32_t cid, int64_t timeout_ns,
                            struct regio_buf *out)
{
    REGIO_ASSERT(cid < s->class_count);
    int rc = alloc_class(s, cid, out);
    if (rc != -ENOBUFS || timeout_ns == 0)
        return rc;
    struct slab_tcache *tc = tcache_get(s);
    /* alloc_class reached the class's magazine: this thread has a cache. */
    REGIO_ASSERT(tc != NULL);
    struct slab_class *c = &s->classes[cid];
    int64_t now = regio__now_ns();
    int64_t deadline = INT64_MAX;
    if (timeout_ns > 0 && timeout_ns < INT64_MAX - now)
        deadline = now + timeout_ns;
    counter_add(&tc->mags[cid].n.waits, 1);
    struct slab_entry e;
    REGIO_ASSERT(!regio__lock_held(&c->lock));
    regio__lock(&c->lock);
    /* While waiters is non-zero, frees of the class go to the depot. */
    atomic_fetch_add(&c->waiters, 1);
    rc = wait_locked(s, c, cid, deadline, &e);
    atomic_fetch_sub(&c->waiters, 1);
    regio__unlock(&c->lock);
    if (rc < 0)
        return rc;
    slot_claim(s, &s->classes[cid], &e, out);
    counter_add(&tc->mags[cid].n.allocs, 1);
    return 0;
}

/* The tier class for len, or -EINVAL for 0 or more than the largest class
 * (len - 1 wraps for 0, so one compare covers both). */
static inline int tier_of(const struct regio_slab *s, size_t len)
{
    if (REGIO_UNLIKELY(len - 1 >= s->tier_max_bytes)) {
        regio__set_detail("slab: length %zu outside 1..%zu", len, (size_t)s->tier_max_bytes);
        return -EINVAL;
    }
    return s->lut[(len - 1) >> 12];
}

/* Every failed allocation says why: the allocation paths themselves stay
 * free of detail writes, and this runs only when they fail. */
static __attribute__((noinline)) int alloc_refused(const struct regio_slab *s, size_t len,
                                                   int64_t pool, int rc)
{
    REGIO_ASSERT(rc < 0); /* only refusals are explained */
    if (s == NULL)
        regio__set_detail("regio_slab_alloc: NULL slab or out pointer");
    else if (rc == -EINVAL && pool >= 0)
        regio__set_detail("regio_slab_alloc_pool: pool %lld does not exist (the slab has %u)",
                          (long long)pool, s->class_count - s->tier_count);
    else if (rc == -EINVAL)
        regio__set_detail("regio_slab_alloc: %zu bytes is 0 or more than the largest class (%zu)",
                          len, s->tier_max_bytes);
    else if (rc == -ENOBUFS)
        regio__set_detail("no free buffer of %s %zu bytes, and the arena has no chunk left",
                          pool >= 0 ? "the pool's" : "a class of", len);
    else if (rc == -ETIMEDOUT)
        regio__set_detail("no buffer of %s %zu bytes was freed before the timeout",
                          pool >= 0 ? "the pool's" : "a class of", len);
    else
        regio__set_detail("buffer allocation failed: %s", regio_strerror(rc));
    return rc;
}

int regio_slab_alloc(struct regio_slab *s, size_t len, struct regio_buf *out)
{
    if (REGIO_UNLIKELY(s == NULL || out == NULL))
        return alloc_refused(NULL, len, -1, -EINVAL);
    int cid = tier_of(s, len);
    if (REGIO_UNLIKELY(cid < 0))
        return alloc_refused(s, len, -1, cid);
    int rc = alloc_class(s, (uint32_t)cid, out);
    return REGIO_UNLIKELY(rc < 0) ? alloc_refused(s, len, -1, rc) : 0;
}

int regio_slab_alloc_wait(struct regio_slab *s, size_t len, int64_t timeout_ns,
                          struct regio_buf *out)
{
    if (s == NULL || out == NULL)
        return alloc_refused(NULL, len, -1, -EINVAL);
    int cid = tier_of(s, len);
    if (cid < 0)
        return alloc_refused(s, len, -1, cid);
    int rc = alloc_wait_class(s, (uint32_t)cid, timeout_ns, out);
    REGIO_ASSERT(rc < 0 || out->cap_bytes >= len); /* the class holds len */
    return rc < 0 ? alloc_refused(s, len, -1, rc) : 0;
}

int regio_slab_alloc_pool(struct regio_slab *s, uint32_t pool, int64_t timeout_ns,
                          struct regio_buf *out)
{
    if (s == NULL || out == NULL)
        return alloc_refused(NULL, 0, pool, -EINVAL);
    if (pool >= s->class_count - s->tier_count)
        return alloc_refused(s, 0, pool, -EINVAL);
    uint32_t cid = s->tier_count + pool;
    REGIO_ASSERT(s->classes[cid].pool); /* pools follow the tier classes */
    int rc = alloc_wait_class(s, cid, timeout_ns, out);
    return rc < 0 ? alloc_refused(s, s->classes[cid].buf_bytes, pool, rc) : 0;
}

/* ---- Handle checks ------------------------------------------------------- */

/*
 * The checks that need no slot state: b's range lies in the arena (else
 * -EFAULT), its class and slot exist, and its range lies inside the slot's
 * buffer (for a whole buffer: is the buffer). Gives the slot's state word.
 * Touches no buffer memory.
 */
static inline int handle_word(const struct regio_slab *s, struct regio_buf b, bool whole,
                              _Atomic uint64_t **w_out)
{
    uintptr_t off = (uintptr_t)b.data - (uintptr_t)s->base;
    if (REGIO_UNLIKELY(off >= s->size || b.cap_bytes > s->size - off))
        return -EFAULT;
    if (REGIO_UNLIKELY(b.class_id >= s->class_count || b.cap_bytes == 0))
        return -EINVAL;
    const struct slab_class *c = &s->classes[b.class_id];
    uint32_t first = b.slot >> c->shift;
    uint32_t idx = b.slot & ((1u << c->shift) - 1);
    if (REGIO_UNLIKELY(first >= s->nchunks || idx >= c->spr))
        return -EINVAL;
    char *start = slab_slot_ptr(s, c, b.slot);
    char *p = b.data;
    if (whole) {
        /* A view of the buffer, or a handle whose pointer is not its slot's. */
        if (REGIO_UNLIKELY(p != start || b.cap_bytes != c->buf_bytes))
            return -EINVAL;
    } else if (REGIO_UNLIKELY(p < start || (size_t)(p - start) + b.cap_bytes > c->buf_bytes)) {
        return -EINVAL;
    }
    *w_out = &c->words[b.slot];
    return 0;
}

/* The slot word v against the handle's generation: -EALREADY for the
 * generation just retired while the slot is free, -ESTALE for any other
 * mismatch, 0 when the handle owns the slot. */
static inline int word_state(uint64_t v, uint32_t gen)
{
    if (REGIO_UNLIKELY(!(v & SLOT_OWNED)))
        return (uint32_t)v == gen + 1 ? -EALREADY : -ESTALE;
    if (REGIO_UNLIKELY((uint32_t)v != gen))
        return -ESTALE;
    return 0;
}

int regio__slab_locate(const struct regio_slab *s, const void *p, struct regio__buf_loc *out)
{
    uintptr_t off = (uintptr_t)p - (uintptr_t)s->base;
    if (off >= s->size)
        return -EFAULT;
    uintptr_t r = (uintptr_t)regio__arena_chunk_owner(s->arena, p);
    uintptr_t runs = (uintptr_t)s->runs;
    /* Another slab's run, or a chunk nobody holds. */
    if (r < runs || r >= runs + s->nchunks * sizeof(struct slab_run))
        return -EINVAL;
    const struct slab_run *run = (const struct slab_run *)r;
    uint64_t ident = atomic_load_explicit(&run->ident, memory_order_acquire);
    uint32_t cid = IDENT_CLASS(ident);
    if (cid >= s->class_count)
        return -EINVAL;
    const struct slab_class *c = &s->classes[cid];
    uint32_t first = (uint32_t)(run - s->runs);
    char *run_base = s->base + ((size_t)first << REGIO_CHUNK_SHIFT);
    uint64_t pages = (uint64_t)((const char *)p - run_base) >> 12;
    uint32_t idx = (uint32_t)((pages * c->recip) >> 32);
    if (idx >= IDENT_NSLOTS(ident))
        return -EINVAL; /* the tail of a run that no buffer covers */
    REGIO_ASSERT(IDENT_NSLOTS(ident) <= c->spr);
    out->class_id = cid;
    out->slot = first << c->shift | idx;
    out->region = IDENT_REGION(ident);
    out->buf = run_base + (size_t)idx * c->buf_bytes;
    return 0;
}

/* Whether b's memory lies in an arena chunk that another slab holds: such a
 * handle is not stale, it was given to the wrong slab, and says so. */
static __attribute__((noinline)) bool foreign_buffer(const struct regio_slab *s, struct regio_buf b)
{
    REGIO_ASSERT(s->runs != NULL && s->arena != NULL); /* set up by slab_init */
    uintptr_t r = (uintptr_t)regio__arena_chunk_owner(s->arena, b.data);
    uintptr_t runs = (uintptr_t)s->runs;
    if (r == 0 || (r >= runs && r < runs + s->nchunks * sizeof(struct slab_run)))
        return false;
    uintptr_t chunk = ((uintptr_t)b.data - (uintptr_t)s->base) >> REGIO_CHUNK_SHIFT;
    regio__set_detail("buffer %p (class %u, slot %u) belongs to another slab on the same arena "
                      "(chunk %zu), not to slab #%llu that was given",
                      b.data, b.class_id, b.slot, (size_t)chunk, (unsigned long long)s->serial);
    return true;
}

/* Every refusal of a handle goes through here: -EXDEV for another slab's
 * buffer, otherwise rc with a detail of its own. Off the fast paths. */
static __attribute__((noinline)) int handle_refused(const struct regio_slab *s, struct regio_buf b,
                                                    int rc)
{
    REGIO_ASSERT(rc < 0);
    if (foreign_buffer(s, b))
        return -EXDEV;
    const char *why = rc == -ESTALE     ? "stale handle: the buffer was freed (and maybe reused)"
                      : rc == -EALREADY ? "buffer already freed"
                      : rc == -EFAULT   ? "pointer outside this slab's arena"
                      : rc == -EBUSY    ? "I/O in flight on the buffer"
                      : rc == -EAGAIN   ? "too many I/Os in flight on one buffer"
                                        : "handle does not name a buffer (or view) of this slab";
    regio__set_detail("buffer %p (class %u, slot %u, gen %u): %s", b.data, b.class_id, b.slot,
                      b.gen, why);
    return rc;
}

/* Cross-check a handle that owns its slot against the page-descriptor
 * table: the pointer must lie in that very slot of that class and region.
 * Returns the region. */
static int owner_check(const struct regio_slab *s, struct regio_buf b)
{
    struct regio__buf_loc loc;
    int rc = regio__slab_locate(s, b.data, &loc);
    if (rc < 0)
        return rc;
    if (loc.class_id != b.class_id || loc.slot != b.slot || loc.region != b.region)
        return -EINVAL;
    return (int)loc.region;
}

/* ---- Free, views, in-flight state ----------------------------------------- */

/* Put a freed buffer in the depot, or in this thread's magazine after
 * making room: the slow half of release_entry. The depot is used when the
 * class bypasses caches or someone waits for it (then this thread's cached
 * buffers of the class go too, so the waiter can see them). */
static __attribute__((noinline)) void release_slow(struct regio_slab *s, uint32_t cid,
                                                   const struct regio_buf *b, uint32_t gen)
{
    REGIO_ASSERT(cid < s->class_count && b->class_id == cid);
    struct slab_entry e;
    entry_of(s, b, gen, &e);
    struct slab_tcache *tc = tcache_get(s);
    if (REGIO_UNLIKELY(tc == NULL)) {
        /* No cache could be made: count the free on the slab instead. */
        regio__lock(&g_registry);
        counter_add(&s->retired[cid].frees, 1);
        regio__unlock(&g_registry);
        regio__depot_push(s, cid, &e, 1);
        return;
    }
    struct slab_mag *m = &tc->mags[cid];
    counter_add(&m->n.frees, 1);
    const struct slab_class *c = &s->classes[cid];
    if (m->cap == 0 || atomic_load_explicit(&c->waiters, memory_order_relaxed) != 0) {
        if (m->count > 0)
            regio__depot_push(s, cid, m->e, m->count);
        m->count = 0;
        regio__depot_push(s, cid, &e, 1);
        return;
    }
    if (m->count == m->cap) {
        /* Full: the older half goes to the depot, the recent (warm) stays. */
        uint32_t n = m->cap / 2 ? m->cap / 2 : 1;
        regio__depot_push(s, cid, m->e, n);
        memmove(m->e, m->e + n, (m->count - n) * sizeof(*m->e));
        m->count -= n;
    }
    m->e[m->count++] = e;
}

static inline __attribute__((always_inline)) void
release_entry(struct regio_slab *s, const struct slab_class *c, uint32_t cid,
              const struct regio_buf *b, uint32_t gen)
{
    if (REGIO_LIKELY(tl_hint.serial == s->serial)) {
        struct slab_mag *m = &tl_hint.tc->mags[cid];
        uint32_t n = m->count;
        /* n < cap also excludes classes that bypass the caches (cap 0). */
        if (REGIO_LIKELY(n < m->cap &&
                         atomic_load_explicit(&c->waiters, memory_order_relaxed) == 0)) {
            entry_of(s, b, gen, &m->e[n]);
            m->count = n + 1;
            counter_add(&m->n.frees, 1);
            return;
        }
    }
    release_slow(s, cid, b, gen);
}

/* Why a whole-buffer handle failed the fast checks of regio_slab_free, or
 * why its slot state refuses the free. Never touches buffer memory. */
static int free_refused_why(const struct regio_slab *s, struct regio_buf b);

static __attribute__((noinline)) int free_refused(const struct regio_slab *s, struct regio_buf b)
{
    return handle_refused(s, b, free_refused_why(s, b));
}

static int free_refused_why(const struct regio_slab *s, struct regio_buf b)
{
    _Atomic uint64_t *w;
    int rc = handle_word(s, b, true, &w);
    if (rc < 0)
        return rc;
    uint64_t v = atomic_load_explicit(w, memory_order_acquire);
    rc = word_state(v, b.gen ^ s->salt);
    if (rc < 0)
        return rc;
    if (s->chunk_region[b.slot >> s->classes[b.class_id].shift] != b.region)
        return -EINVAL;
    /* Owned by this generation: busy, or the word changed while we looked
     * (never report a free that did not happen as a success). */
    return (v >> SLOT_FLIGHT_SHIFT) ? -EBUSY : -ESTALE;
}

int regio_slab_free(struct regio_slab *s, struct regio_buf b)
{
    if (REGIO_UNLIKELY(s == NULL)) {
        regio__set_detail("regio_slab_free: NULL slab");
        return -EINVAL;
    }
    uint32_t cid = b.class_id;
    if (REGIO_UNLIKELY(cid >= s->class_count))
        return free_refused(s, b);
    const struct slab_class *c = &s->classes[cid];
    uint32_t slot = b.slot;
    uint32_t first = slot >> c->shift;
    uint32_t idx = slot & ((1u << c->shift) - 1);
    /* The handle must name an existing slot and be that whole buffer, in
     * its region; the owned state word is then the proof of ownership. */
    if (REGIO_UNLIKELY(first >= s->nchunks || idx >= c->spr ||
                       (char *)b.data != slab_slot_ptr(s, c, slot) || b.cap_bytes != c->buf_bytes ||
                       s->chunk_region[first] != b.region))
        return free_refused(s, b);
    uint32_t gen = b.gen ^ s->salt;
    /* One CAS from "owned by this generation, nothing in flight" to free:
     * an io_begin cannot slip in between the check and the change. Its
     * expected value comes from the handle, so the word is not loaded
     * first; on failure v is the word as the CAS saw it. */
    uint64_t owned = SLOT_OWNED | gen, v = owned;
    if (REGIO_UNLIKELY(!atomic_compare_exchange_strong_explicit(
            &c->words[slot], &v, (uint32_t)(gen + 1), memory_order_acq_rel, memory_order_acquire)))
        /* Owned by this generation with I/O in flight, or not ours. */
        return (v & (SLOT_FLIGHT_ONE - 1)) == owned ? handle_refused(s, b, -EBUSY)
                                                    : free_refused(s, b);
    release_entry(s, c, cid, &b, gen + 1);
    return 0;
}

int regio_buf_view(struct regio_buf b, size_t off, size_t len, struct regio_buf *out)
{
    if (out == NULL || len == 0 || off > b.cap_bytes || len > b.cap_bytes - off) {
        regio__set_detail("regio_buf_view: [%zu, +%zu) is empty or leaves the %u-byte buffer%s",
                          off, len, b.cap_bytes, out == NULL ? " (out is NULL)" : "");
        return -EINVAL;
    }
    *out = b;
    out->data = (char *)b.data + off;
    out->cap_bytes = (uint32_t)len;
    REGIO_ASSERT(out->cap_bytes == len); /* len <= b.cap_bytes, so the cast loses nothing */
    return 0;
}

int regio_slab_check(const struct regio_slab *s, struct regio_buf b)
{
    if (s == NULL) {
        regio__set_detail("regio_slab_check: NULL slab");
        return -EINVAL;
    }
    _Atomic uint64_t *w;
    int rc = handle_word(s, b, false, &w);
    if (rc == 0)
        rc = word_state(atomic_load_explicit(w, memory_order_acquire), b.gen ^ s->salt);
    if (rc == 0)
        rc = owner_check(s, b);
    return rc < 0 ? handle_refused(s, b, rc) : rc;
}

/* Count a slot going busy (0 -> 1 in flight) or idle (1 -> 0). */
static void count_flight(struct regio_slab *s, uint32_t cid, bool begin)
{
    struct slab_tcache *tc = tcache_get(s);
    if (REGIO_LIKELY(tc != NULL)) {
        counter_add(begin ? &tc->mags[cid].n.flight_begins : &tc->mags[cid].n.flight_ends, 1);
        return;
    }
    regio__lock(&g_registry);
    counter_add(begin ? &s->retired[cid].flight_begins : &s->retired[cid].flight_ends, 1);
    regio__unlock(&g_registry);
}

int regio_slab_io_begin(struct regio_slab *s, struct regio_buf b)
{
    if (REGIO_UNLIKELY(s == NULL)) {
        regio__set_detail("regio_slab_io_begin: NULL slab");
        return -EINVAL;
    }
    _Atomic uint64_t *w;
    int rc = handle_word(s, b, false, &w);
    if (REGIO_UNLIKELY(rc < 0))
        return handle_refused(s, b, rc);
    uint32_t gen = b.gen ^ s->salt;
    uint64_t v = atomic_load_explicit(w, memory_order_acquire);
    rc = word_state(v, gen);
    if (REGIO_UNLIKELY(rc < 0))
        return handle_refused(s, b, rc);
    int region = owner_check(s, b);
    if (REGIO_UNLIKELY(region < 0))
        return handle_refused(s, b, region);
    /* Checked and marked in one CAS: a concurrent free either sees the
     * in-flight count and fails with -EBUSY, or wins and makes this fail. */
    for (;;) {
        if (REGIO_UNLIKELY((v >> SLOT_FLIGHT_SHIFT) == SLOT_FLIGHT_MAX))
            return handle_refused(s, b, -EAGAIN);
        if (atomic_compare_exchange_weak_explicit(w, &v, v + SLOT_FLIGHT_ONE, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
        rc = word_state(v, gen);
        if (rc < 0)
            return handle_refused(s, b, rc);
    }
    if ((v >> SLOT_FLIGHT_SHIFT) == 0)
        count_flight(s, b.class_id, true);
    return region;
}

int regio_slab_io_end(struct regio_slab *s, struct regio_buf b)
{
    if (REGIO_UNLIKELY(s == NULL)) {
        regio__set_detail("regio_slab_io_end: NULL slab");
        return -EINVAL;
    }
    _Atomic uint64_t *w;
    int rc = handle_word(s, b, false, &w);
    if (REGIO_UNLIKELY(rc < 0))
        return handle_refused(s, b, rc);
    uint32_t gen = b.gen ^ s->salt;
    uint64_t v = atomic_load_explicit(w, memory_order_acquire);
    for (;;) {
        rc = word_state(v, gen);
        if (rc < 0)
            return handle_refused(s, b, rc);
        if ((v >> SLOT_FLIGHT_SHIFT) == 0) {
            regio__set_detail("regio_slab_io_end: no I/O in flight on buffer %p", b.data);
            return -EINVAL;
        }
        if (atomic_compare_exchange_weak_explicit(w, &v, v - SLOT_FLIGHT_ONE, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if ((v >> SLOT_FLIGHT_SHIFT) == 1)
        count_flight(s, b.class_id, false);
    return 0;
}
