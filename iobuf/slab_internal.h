/*
 * iobuf/slab_internal.h: the slab allocator's internal structures (not
 * installed). slab.c owns creation, the shared depot and chunk carving;
 * buf.c owns the per-thread caches and the buffer fast paths.
 *
 * Slot numbering. A "run" is the set of contiguous arena chunks that one
 * class carves at once: one 2 MiB chunk for buffers up to 2 MiB, else
 * ceil(buf / 2 MiB) chunks holding one buffer. A slot is named by the arena
 * index of its run's first chunk and its index inside the run:
 *     slot = first_chunk << class->shift | idx
 * so a slot maps to its address with a shift and a multiply, and the slot
 * numbers of a chunk never change. Each class has one 64-bit state word per
 * possible slot (a lazily touched calloc'd array), so generations survive a
 * chunk going back to the arena and coming back, and a handle that outlived
 * its chunk is still reported as stale.
 */
#ifndef REGIO_SLAB_INTERNAL_H
#define REGIO_SLAB_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "regio/iobuf.h"
#include "regio/stats.h"
#include "arena_internal.h"
#include "lock.h"

/*
 * The slot state word: bits 0-31 the generation, bit 32 set while owned,
 * bits 33-63 the number of I/Os in flight. Changed by CAS except for the
 * FREE -> OWNED step, a plain store by the thread holding the slot's entry
 * (nobody else writes a FREE word, so the entry's generation is the
 * word's).
 */
#define SLOT_OWNED        ((uint64_t)1 << 32)
#define SLOT_FLIGHT_SHIFT 33
#define SLOT_FLIGHT_ONE   ((uint64_t)1 << SLOT_FLIGHT_SHIFT)
#define SLOT_FLIGHT_MAX   ((UINT64_C(1) << (64 - SLOT_FLIGHT_SHIFT)) - 1)

#define SLAB_MAG_DEFAULT 32
#define SLAB_MAG_MAX     256
/* A thread caches at most this many bytes of one tier class. */
#define SLAB_MAG_BYTES_MAX ((size_t)4 * REGIO_MIB)
/* Largest buffer (the handle's cap_bytes is 32 bits; 64 MiB keeps runs small). */
#define SLAB_BUF_MAX    ((size_t)64 * REGIO_MIB)
#define SLAB_CLASS_NONE 0xffffu

/* A free buffer as the caches and the depot hand it around: laid out as
 * the handle that its next allocation gives out, generation included (the
 * slot's generation XOR the slab's salt), so that an allocation copies it
 * into the handle with one 16-byte and one 8-byte move and never has to
 * load the slot's state word. */
struct slab_entry {
    char *data;
    uint32_t cap_bytes;
    uint16_t region;
    uint16_t class_id;
    uint32_t slot;
    uint32_t gen;
};
_Static_assert(sizeof(struct slab_entry) == sizeof(struct regio_buf) &&
                   offsetof(struct slab_entry, cap_bytes) ==
                       offsetof(struct regio_buf, cap_bytes) &&
                   offsetof(struct slab_entry, region) == offsetof(struct regio_buf, region) &&
                   offsetof(struct slab_entry, class_id) == offsetof(struct regio_buf, class_id) &&
                   offsetof(struct slab_entry, slot) == offsetof(struct regio_buf, slot) &&
                   offsetof(struct slab_entry, gen) == offsetof(struct regio_buf, gen),
               "an entry is laid out as a handle");

/*
 * One run descriptor per arena chunk index (used only at run starts). The
 * arena's owner table points every chunk of a run at its descriptor. The
 * descriptors live as long as the slab, so a racing lookup never reads freed
 * memory; `ident` is one atomic word so that it is never read torn.
 */
struct slab_run {
    _Atomic uint64_t ident; /* class_id | region << 16 | nslots << 32 */
    uint32_t nfree;         /* free slots in the depot (class lock) */
    uint16_t *free_idx;     /* stack of free slot indexes (class lock) */
    struct slab_run *prev;  /* list of runs with free slots (class lock) */
    struct slab_run *next;
};

static inline uint64_t slab_ident(uint32_t class_id, uint32_t region, uint32_t nslots)
{
    /* IDENT_CLASS and IDENT_REGION read 16 bits each back. */
    REGIO_ASSERT(class_id <= 0xffff && region <= 0xffff);
    return (uint64_t)class_id | (uint64_t)region << 16 | (uint64_t)nslots << 32;
}
#define IDENT_CLASS(x)  ((uint32_t)((x)&0xffff))
#define IDENT_REGION(x) ((uint32_t)(((x) >> 16) & 0xffff))
#define IDENT_NSLOTS(x) ((uint32_t)((x) >> 32))

struct slab_class {
    /* Read-only after create (read by every fast path). */
    uint32_t buf_bytes;
    uint32_t pages;   /* buf_bytes >> 12 */
    uint64_t recip;   /* ceil(2^32 / pages): offset -> slot index without a divide */
    uint32_t spr;     /* slots per run */
    uint32_t cpr;     /* chunks per run */
    uint32_t shift;   /* slot = first_chunk << shift | idx */
    uint32_t mag_cap; /* per-thread cache capacity; 0 = always the depot */
    bool pool;
    uint32_t pool_count;      /* pools: buffers reserved */
    _Atomic uint64_t *words;  /* state word per slot, (nchunks << shift) of them */
    _Atomic uint32_t waiters; /* threads blocked in a wait on this class */

    /* The depot, under lock; on its own cache lines. */
    alignas(64) struct regio__lock lock;
    pthread_cond_t cond;
    struct slab_run *partial; /* runs with free slots, fullest first */
    uint64_t capacity;        /* slots carved */
    uint64_t depot_free;      /* free slots in the depot */
    uint64_t high_water;      /* most slots outside the depot at once */
    uint32_t empty_runs;      /* runs whose every slot is in the depot */
};

/* Per-thread, per-class counters, written only by their thread. */
struct slab_counters {
    _Atomic uint64_t allocs;
    _Atomic uint64_t frees;
    _Atomic uint64_t exhaustions;
    _Atomic uint64_t waits;
    _Atomic uint64_t flight_begins; /* slot in-flight count went 0 -> 1 */
    _Atomic uint64_t flight_ends;   /* and 1 -> 0 */
};

/* One class's magazine and counters in a thread's cache: one cache line,
 * the only one of the cache that an allocation or free of the class touches. */
struct slab_mag {
    alignas(64) uint32_t count;
    uint32_t cap;
    struct slab_entry *e;
    struct slab_counters n;
};
_Static_assert(sizeof(struct slab_mag) == 64, "one cache line per magazine");

/*
 * A thread's cache for one slab. Only its thread touches the magazines,
 * except slab destroy, which flushes them (legal only once no buffer is out)
 * and the thread-exit destructor, which is the owner itself.
 */
struct slab_tcache {
    struct regio_slab *_Atomic slab; /* NULL once the slab is destroyed */
    uint64_t serial;                 /* slab serial at creation */
    struct slab_tcache *slab_prev;   /* slab's list (registry lock) */
    struct slab_tcache *slab_next;
    struct slab_tcache *thread_next; /* thread's list (owner thread) */
    struct slab_mag mags[];          /* class_count of them */
};

struct regio_slab {
    /* Read-only after create. */
    struct regio_arena *arena;
    char *base;
    size_t size;
    uint32_t nchunks;
    uint32_t salt; /* XORed into handle generations (see buf.c) */
    uint64_t serial;
    uint32_t tier_count;
    uint32_t class_count;
    size_t tier_max_bytes;
    struct slab_run *runs;  /* nchunks of them */
    uint16_t *chunk_region; /* region of each chunk */

    _Atomic uint64_t chunks_held;
    /* Engines built on the slab: while any is alive the slab refuses to be
     * destroyed, since the engine checks every handle against it. */
    _Atomic uint32_t users;
    int stats_handle; /* provider in the arena's live stats, or negative */

    /* Under the registry lock (buf.c). */
    struct slab_tcache *caches;
    struct slab_counters retired[REGIO_SLAB_MAX_CLASSES]; /* of exited threads */

    /* The classes and the length table are part of the slab itself, so the
     * fast paths reach them at a fixed offset from s, without loading a
     * pointer first. class_count of the classes are in use. */
    struct slab_class classes[REGIO_SLAB_MAX_CLASSES];
    uint8_t lut[]; /* (len - 1) >> 12 -> tier class, tier_max_bytes >> 12 of them */
};

/* Address of slot `slot` of class c (no checks). */
static inline char *slab_slot_ptr(const struct regio_slab *s, const struct slab_class *c,
                                  uint32_t slot)
{
    size_t first = slot >> c->shift;
    size_t idx = slot & ((1u << c->shift) - 1);
    return s->base + (first << REGIO_CHUNK_SHIFT) + idx * c->buf_bytes;
}

/* Users of the slab (engines), counted so that regio_slab_destroy refuses
 * while one is alive (slab.c). */
void regio__slab_user_get(struct regio_slab *s);
void regio__slab_user_put(struct regio_slab *s);

/* Depot (slab.c). All take and drop the class lock themselves unless named
 * _locked. Pop returns the number of entries taken (up to n). */
uint32_t regio__depot_pop(struct regio_slab *s, uint32_t cid, struct slab_entry *out, uint32_t n);
uint32_t regio__depot_pop_locked(struct regio_slab *s, uint32_t cid, struct slab_entry *out,
                                 uint32_t n);
void regio__depot_push(struct regio_slab *s, uint32_t cid, const struct slab_entry *e, uint32_t n);
void regio__depot_push_locked(struct regio_slab *s, uint32_t cid, const struct slab_entry *e,
                              uint32_t n);

/* Thread caches (buf.c). */
/* For slab destroy: -EBUSY while any buffer is out or any thread waits;
 * else flush every thread's cache into the depot and detach the caches
 * from s (their threads free them), so that s can be freed. */
int regio__tcache_retire_all(struct regio_slab *s);
/* Sum the counters of class cid over every thread into *out (registry lock
 * taken inside). */
void regio__tcache_sum(const struct regio_slab *s, uint32_t cid, struct slab_counters *out);
uint64_t regio__counter_get(const _Atomic uint64_t *c);

/*
 * Where pointer p lies in slab s, through the arena's page-descriptor table
 * and without touching p: class, slot and region of the buffer holding p.
 * -EFAULT outside the arena, -EINVAL when p is not inside a buffer this slab
 * has carved (another slab's chunk, a chunk nobody holds, a run's tail).
 */
struct regio__buf_loc {
    uint32_t class_id;
    uint32_t slot;
    uint32_t region;
    char *buf; /* first byte of the buffer holding p */
};
int regio__slab_locate(const struct regio_slab *s, const void *p, struct regio__buf_loc *out);

/* The slab's section of the live stats file (regio/stats.h) from its
 * stats call: each module converts its own stats, so the publisher
 * (arena/stats.c) knows only the file's format. */
void regio__slab_stats_section(struct regio_stats_slab *s, const struct regio_slab_stats *st);

#endif
