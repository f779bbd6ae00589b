/*
 * arena/stats.c: the live stats file of an arena (layout in regio/stats.h).
 *
 * One publisher per arena that has a stats name: a file in /dev/shm mapped
 * shared, and a thread that refreshes it every REGIO_STATS_INTERVAL_MS by
 * asking the arena and every attached provider for their counters. Writers
 * of the file are only this thread (and start/stop), so the seqlock needs no
 * lock between writers; the publisher's mutex orders the thread against
 * attach/detach, so that a provider is never called after it detached.
 *
 * Publishers are found by arena pointer in a small global list, which keeps
 * the arena's own struct free of stats state and lets a slab, engine or WAL
 * attach knowing only its arena.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "lock.h"
#include "stats_internal.h"

struct stats_provider {
    bool used;
    regio_stats_fill_fn fill;
    void *ctx;
    char name[REGIO_STATS_NAME_BYTES];
};

struct stats_publisher {
    struct regio_arena *arena;
    struct stats_publisher *next;
    char path[PATH_MAX];
    int fd;
    struct regio_stats_file *map;
    uint64_t seq; /* last value stored in map->header.seq (even between writes) */
    bool stop;
    bool thread_started;
    pthread_t thread;
    struct regio__lock lock; /* providers, stop, and the file while it is written */
    pthread_cond_t cond;
    struct stats_provider slabs[REGIO_STATS_MAX_SLABS];
    struct stats_provider engines[REGIO_STATS_MAX_ENGINES];
    struct stats_provider wals[REGIO_STATS_MAX_WALS];
};

/* Handles encode kind * HANDLE_KIND_STRIDE + index. */
#define HANDLE_KIND_STRIDE 64

static struct regio__lock publishers_lock = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct stats_publisher *publishers;

/* ---- Small helpers ---------------------------------------------------------
 */

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void copy_name(char *dst, const char *src)
{
    REGIO_ASSERT(dst != NULL); /* a name field of the file, REGIO_STATS_NAME_BYTES long */
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    /* Keep the tail of a long name (a WAL directory's last components say
     * more than its first ones). */
    size_t len = strlen(src);
    if (len >= REGIO_STATS_NAME_BYTES)
        src += len - (REGIO_STATS_NAME_BYTES - 1);
    snprintf(dst, REGIO_STATS_NAME_BYTES, "%s", src);
}

static bool name_valid(const char *name)
{
    REGIO_ASSERT(name != NULL); /* regio__stats_start refused NULL */
    size_t len = strlen(name);
    if (len == 0 || len >= REGIO_STATS_NAME_BYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/*
 * Start time of a process in clock ticks since boot: field 22 of
 * /proc/<pid>/stat. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'. 0 when unknown.
 */
static uint64_t process_start_ticks(pid_t pid)
{
    REGIO_ASSERT(pid > 0); /* /proc/0 and negative pids name no process */
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    p++;
    /* Field 3 is the first token after ')'; field 22 is the 20th. */
    for (int field = 3; field < 22; field++) {
        while (*p == ' ')
            p++;
        while (*p != ' ' && *p != '\0')
            p++;
    }
    return strtoull(p, NULL, 10);
}

static struct stats_publisher *publisher_find_locked(const struct regio_arena *a)
{
    REGIO_ASSERT(regio__lock_held(&publishers_lock));
    for (struct stats_publisher *p = publishers; p != NULL; p = p->next)
        if (p->arena == a)
            return p;
    return NULL;
}

static struct stats_provider *kind_table(struct stats_publisher *p, enum regio_stats_kind kind,
                                         uint32_t *count_out)
{
    REGIO_ASSERT(regio__lock_held(&p->lock)); /* the provider tables are the lock's */
    switch (kind) {
    case REGIO_STATS_SLAB:
        *count_out = REGIO_STATS_MAX_SLABS;
        return p->slabs;
    case REGIO_STATS_ENGINE:
        *count_out = REGIO_STATS_MAX_ENGINES;
        return p->engines;
    case REGIO_STATS_WAL:
        *count_out = REGIO_STATS_MAX_WALS;
        return p->wals;
    }
    *count_out = 0;
    return NULL;
}

/* ---- Writing the file ------------------------------------------------------
 */

static void fill_arena_section(struct stats_publisher *p)
{
    struct regio_arena_stats st;
    REGIO_ASSERT(p->map != NULL); /* mapped before the publisher is listed */
    struct regio_stats_arena *s = &p->map->arena;
    if (regio_arena_stats(p->arena, &st) != 0)
        return;
    s->size_bytes = st.size_bytes;
    s->region_bytes = st.region_bytes;
    s->region_count = st.region_count;
    s->pages = (uint32_t)st.pages;
    s->kernel_page_bytes = st.kernel_page_bytes;
    s->anon_huge_bytes = st.anon_huge_bytes;
    s->chunks_total = st.chunks_total;
    s->chunks_used = st.chunks_used;
    s->registrations = st.registrations;
    s->clones = st.clones;
    s->users = st.users;
    s->pinned_bytes = st.pinned_bytes;
    _Static_assert(REGIO_STATS_REASON_BYTES == REGIO_ARENA_REASON_BYTES, "reason size");
    memcpy(s->fallback_reason, st.fallback_reason, sizeof(s->fallback_reason));
    s->fallback_reason[sizeof(s->fallback_reason) - 1] = '\0';
}

/* Each section begins with `uint32_t used` and ends with the name; the fill
 * callback writes the counters in between. */
static void fill_sections(struct stats_provider *table, uint32_t count, void *sections,
                          size_t section_bytes, size_t name_offset)
{
    /* The name ends the section: its copy stays inside it. */
    REGIO_ASSERT(name_offset >= sizeof(uint32_t) &&
                 name_offset + REGIO_STATS_NAME_BYTES <= section_bytes);
    for (uint32_t i = 0; i < count; i++) {
        char *sec = (char *)sections + i * section_bytes;
        if (!table[i].used) {
            memset(sec, 0, section_bytes);
            continue;
        }
        REGIO_ASSERT(table[i].fill != NULL); /* attach refused a provider without one */
        table[i].fill(table[i].ctx, sec);
        *(uint32_t *)sec = 1;
        memcpy(sec + name_offset, table[i].name, REGIO_STATS_NAME_BYTES);
    }
}

/* The body of one refresh; the caller holds p->lock and the seqlock. */
static void refresh_body(struct stats_publisher *p)
{
    struct regio_stats_file *f = p->map;
    /* Readers retry while seq is odd: the body runs only inside write_begin
     * and write_end. */
    REGIO_ASSERT(regio__lock_held(&p->lock) &&
                 __atomic_load_n(&f->header.seq, __ATOMIC_RELAXED) == p->seq + 1);
    fill_arena_section(p);
    fill_sections(p->slabs, REGIO_STATS_MAX_SLABS, f->slabs, sizeof(f->slabs[0]),
                  offsetof(struct regio_stats_slab, name));
    fill_sections(p->engines, REGIO_STATS_MAX_ENGINES, f->engines, sizeof(f->engines[0]),
                  offsetof(struct regio_stats_engine, name));
    fill_sections(p->wals, REGIO_STATS_MAX_WALS, f->wals, sizeof(f->wals[0]),
                  offsetof(struct regio_stats_wal, name));
    f->header.updates++;
    f->header.updated_realtime_ns = realtime_ns();
}

/* Seqlock write side: seq odd while the body runs, even (and higher) after. */
static void write_begin(struct stats_publisher *p)
{
    REGIO_ASSERT((p->seq & 1) == 0);
    /* An acquire exchange keeps the data stores that follow from moving
     * before the odd value (a release fence would too, but TSan does not
     * model fences). */
    (void)__atomic_exchange_n(&p->map->header.seq, p->seq + 1, __ATOMIC_ACQUIRE);
}

static void write_end(struct stats_publisher *p)
{
    /* Paired with write_begin: the file's seq is still the odd one. */
    REGIO_ASSERT(__atomic_load_n(&p->map->header.seq, __ATOMIC_RELAXED) == p->seq + 1);
    p->seq += 2;
    __atomic_store_n(&p->map->header.seq, p->seq, __ATOMIC_RELEASE);
}

static void refresh_locked(struct stats_publisher *p)
{
    REGIO_ASSERT(regio__lock_held(&p->lock));
    write_begin(p);
    refresh_body(p);
    write_end(p);
}

static void *publisher_main(void *arg)
{
    struct stats_publisher *p = arg;
    REGIO_ASSERT(p->map != NULL); /* started once the file is mapped and listed */
    regio__lock(&p->lock);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)REGIO_STATS_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        /* Spurious wake-ups only refresh early, which is harmless. */
        regio__lock_timedwait(&p->cond, &p->lock, &ts);
        if (!p->stop)
            refresh_locked(p);
    }
    regio__unlock(&p->lock);
    return NULL;
}

/* ---- Start and stop --------------------------------------------------------
 */

/*
 * Something is already at our path. It cannot be a live publisher of this
 * process (the caller holds publishers_lock and checked the list), so it is
 * either left by an earlier process that had our pid, or planted. Remove it
 * only when it belongs to our own user: then it is nobody else's data, and
 * in the sticky /dev/shm nobody else can swap it between lstat and unlink.
 * Anything of another owner stays, and this arena publishes nothing.
 */
static bool remove_stale_own(const char *path)
{
    REGIO_ASSERT(regio__lock_held(&publishers_lock));
    struct stat st;
    if (lstat(path, &st) != 0 || st.st_uid != geteuid())
        return false;
    return unlink(path) == 0;
}

static bool publisher_path_taken_locked(const char *path)
{
    REGIO_ASSERT(regio__lock_held(&publishers_lock));
    for (struct stats_publisher *q = publishers; q != NULL; q = q->next)
        if (strcmp(q->path, path) == 0)
            return true;
    return false;
}

/* Caller holds publishers_lock. */
static int publisher_file_create(struct stats_publisher *p, const char *name)
{
    REGIO_ASSERT(regio__lock_held(&publishers_lock) && p->fd < 0 && p->map == NULL);
    snprintf(p->path, sizeof(p->path), "%s/%s%d.%s", REGIO_STATS_DIR, REGIO_STATS_PREFIX,
             (int)getpid(), name);
    if (publisher_path_taken_locked(p->path)) {
        regio__set_detail("stats file %s is already published by another arena of this process",
                          p->path);
        return -EEXIST;
    }
    /* O_EXCL and O_NOFOLLOW: never adopt a file (or a symlink) someone else
     * put there; the counters of this process are nobody else's business. */
    p->fd = open(p->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (p->fd < 0 && errno == EEXIST && remove_stale_own(p->path))
        p->fd = open(p->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (p->fd < 0) {
        int err = -errno;
        regio__set_detail("cannot create stats file %s: %s", p->path, strerror(-err));
        return err;
    }
    int err = 0;
    if (fchmod(p->fd, 0600) != 0 || ftruncate(p->fd, sizeof(struct regio_stats_file)) != 0)
        err = -errno;
    if (err == 0) {
        void *m = mmap(NULL, sizeof(struct regio_stats_file), PROT_READ | PROT_WRITE, MAP_SHARED,
                       p->fd, 0);
        if (m == MAP_FAILED)
            err = -errno;
        else
            p->map = m;
    }
    if (err != 0) {
        regio__set_detail("cannot size or map stats file %s: %s", p->path, strerror(-err));
        unlink(p->path);
        close(p->fd);
        p->fd = -1;
    }
    return err;
}

static void publisher_file_init(struct stats_publisher *p, const char *name)
{
    REGIO_ASSERT(regio__lock_held(&p->lock));
    struct regio_stats_header *h = &p->map->header;
    /* The file is all zeros: seq 0 with magic 0 is "not ready" to readers;
     * make it odd before writing anything else. */
    p->seq = 0;
    write_begin(p);
    h->magic = REGIO_STATS_MAGIC;
    h->version = REGIO_STATS_VERSION;
    h->file_bytes = (uint32_t)sizeof(struct regio_stats_file);
    h->pid = (int32_t)getpid();
    h->state = REGIO_STATS_STATE_RUNNING;
    h->start_time_ticks = process_start_ticks(getpid());
    h->created_realtime_ns = realtime_ns();
    h->interval_ms = REGIO_STATS_INTERVAL_MS;
    copy_name(h->name, name);
    refresh_body(p);
    write_end(p);
}

static void publisher_free(struct stats_publisher *p)
{
    /* Its thread, if it ever ran, was told to stop and joined. */
    REGIO_ASSERT(!p->thread_started || p->stop);
    if (p->map != NULL) {
        unlink(p->path);
        munmap(p->map, sizeof(struct regio_stats_file));
    }
    if (p->fd >= 0)
        close(p->fd);
    pthread_cond_destroy(&p->cond);
    regio__lock_destroy(&p->lock);
    free(p);
}

/* The publisher thread takes no signals: they belong to the application. */
static int publisher_thread_start(struct stats_publisher *p)
{
    REGIO_ASSERT(!p->thread_started && p->map != NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, publisher_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        regio__set_detail("cannot start the stats publisher thread: %s", strerror(rc));
        return -rc;
    }
    p->thread_started = true;
    return 0;
}

int regio__stats_start(struct regio_arena *a, const char *name)
{
    if (a == NULL || name == NULL || !name_valid(name)) {
        regio__set_detail("stats_name must be 1..%d characters of [A-Za-z0-9_.-]",
                          REGIO_STATS_NAME_BYTES - 1);
        return -EINVAL;
    }
    struct stats_publisher *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->arena = a;
    p->fd = -1;
    regio__lock_init(&p->lock, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);

    /* Created and listed under one lock, so that two arenas of this process
     * with one name cannot both take the path (or remove each other's file
     * as stale). Listed before the thread starts, so that a provider
     * attaching right after arena create finds it; nobody has the arena
     * yet, so nobody attaches before the file is initialised. */
    REGIO_ASSERT(!regio__lock_held(
        &publishers_lock)); /* a stats fill callback never (re)starts a publisher */
    regio__lock(&publishers_lock);
    REGIO_ASSERT(publisher_find_locked(a) == NULL);
    int err = publisher_file_create(p, name);
    if (err == 0) {
        regio__lock(&p->lock);
        publisher_file_init(p, name);
        regio__unlock(&p->lock);
        p->next = publishers;
        publishers = p;
    }
    /* Listed exactly when the file was made: attach finds only live ones. */
    REGIO_ASSERT((err == 0) == (publisher_find_locked(a) == p));
    regio__unlock(&publishers_lock);
    if (err != 0) {
        publisher_free(p);
        return err;
    }
    err = publisher_thread_start(p);
    if (err != 0) {
        regio__stats_stop(a);
        return err;
    }
    return 0;
}

void regio__stats_stop(struct regio_arena *a)
{
    REGIO_ASSERT(!regio__lock_held(&publishers_lock));
    regio__lock(&publishers_lock);
    struct stats_publisher **pp = &publishers;
    while (*pp != NULL && (*pp)->arena != a)
        pp = &(*pp)->next;
    struct stats_publisher *p = *pp;
    if (p != NULL)
        *pp = p->next;
    /* One publisher per arena: unlisted, none is left to find. */
    REGIO_ASSERT(publisher_find_locked(a) == NULL);
    regio__unlock(&publishers_lock);
    if (p == NULL)
        return;

    regio__lock(&p->lock);
    p->stop = true;
    write_begin(p);
    p->map->header.state = REGIO_STATS_STATE_CLOSING;
    write_end(p);
    pthread_cond_signal(&p->cond);
    regio__unlock(&p->lock);
    if (p->thread_started) {
        int rc = pthread_join(p->thread, NULL);
        REGIO_ASSERT(rc == 0); /* else it would refresh a freed file */
    }
    publisher_free(p);
}

/* ---- Providers -------------------------------------------------------------
 */

int regio__stats_attach(struct regio_arena *a, enum regio_stats_kind kind, const char *name,
                        regio_stats_fill_fn fill, void *ctx)
{
    if (a == NULL || fill == NULL)
        return -EINVAL;
    int handle = -ENOENT;
    REGIO_ASSERT(!regio__lock_held(
        &publishers_lock)); /* no fill callback attaches: it runs under the publisher */
    regio__lock(&publishers_lock);
    struct stats_publisher *p = publisher_find_locked(a);
    if (p != NULL) {
        uint32_t count;
        regio__lock(&p->lock);
        struct stats_provider *t = kind_table(p, kind, &count);
        handle = t == NULL ? -EINVAL : -ENOSPC;
        for (uint32_t i = 0; t != NULL && i < count; i++) {
            if (!t[i].used) {
                t[i] = (struct stats_provider){.used = true, .fill = fill, .ctx = ctx};
                copy_name(t[i].name, name);
                handle = (int)kind * HANDLE_KIND_STRIDE + (int)i;
                /* detach decodes the handle: kind and index must come back. */
                REGIO_ASSERT(i < HANDLE_KIND_STRIDE && handle / HANDLE_KIND_STRIDE == (int)kind);
                break;
            }
        }
        if (handle == -ENOSPC) {
            write_begin(p);
            p->map->header.dropped_sections++;
            write_end(p);
        }
        regio__unlock(&p->lock);
    }
    regio__unlock(&publishers_lock);
    return handle;
}

void regio__stats_detach(struct regio_arena *a, int handle)
{
    if (a == NULL || handle < 0)
        return;
    REGIO_ASSERT(!regio__lock_held(&publishers_lock));
    regio__lock(&publishers_lock);
    struct stats_publisher *p = publisher_find_locked(a);
    if (p != NULL) {
        uint32_t count;
        regio__lock(&p->lock);
        struct stats_provider *t =
            kind_table(p, (enum regio_stats_kind)(handle / HANDLE_KIND_STRIDE), &count);
        uint32_t i = (uint32_t)(handle % HANDLE_KIND_STRIDE);
        REGIO_ASSERT(t != NULL && i < count && t[i].used);
        t[i].used = false;
        /* Clear the section now rather than at the next refresh, so that a
         * reader never sees a destroyed object for 100 ms. */
        refresh_locked(p);
        regio__unlock(&p->lock);
    }
    regio__unlock(&publishers_lock);
}

void regio__stats_detach_ctx(struct regio_arena *a, const void *ctx)
{
    if (a == NULL)
        return;
    REGIO_ASSERT(!regio__lock_held(&publishers_lock));
    regio__lock(&publishers_lock);
    struct stats_publisher *p = publisher_find_locked(a);
    if (p != NULL) {
        regio__lock(&p->lock);
        bool changed = false;
        for (int kind = REGIO_STATS_SLAB; kind <= REGIO_STATS_WAL; kind++) {
            uint32_t count;
            struct stats_provider *t = kind_table(p, (enum regio_stats_kind)kind, &count);
            REGIO_ASSERT(t != NULL); /* every kind in the range has a table */
            for (uint32_t i = 0; i < count; i++) {
                if (t[i].used && t[i].ctx == ctx) {
                    t[i].used = false;
                    changed = true;
                }
            }
        }
        if (changed)
            refresh_locked(p);
        regio__unlock(&p->lock);
    }
    regio__unlock(&publishers_lock);
}

/* ---- Converters ------------------------------------------------------------
 */

/* ---- Readers ---------------------------------------------------------------
 */

static int read_seq(int fd, uint64_t *out)
{
    ssize_t n = pread(fd, out, sizeof(*out), offsetof(struct regio_stats_header, seq));
    return n == (ssize_t)sizeof(*out) ? 0 : -EBADMSG;
}

/*
 * The seqlock read side, with pread rather than a mapping: a file that a
 * hostile or dying process truncates then gives a short read, not SIGBUS.
 * Each pread is a system call, which orders it against the other two.
 */
static int snapshot_once(int fd, struct regio_stats_file *out, uint64_t *seq_out)
{
    REGIO_ASSERT(fd >= 0 && out != NULL && seq_out != NULL);
    uint64_t s1, s2, magic;
    if (read_seq(fd, &s1) != 0 || pread(fd, &magic, sizeof(magic), 0) != sizeof(magic))
        return -EBADMSG;
    *seq_out = s1;
    /* The magic never changes once written: a file without it is not ours
     * (or not initialised yet, when it is all zeros), whatever its seq. */
    if (magic != REGIO_STATS_MAGIC)
        return (magic == 0 && s1 <= 1) ? -EAGAIN : -EBADMSG;
    if (s1 & 1)
        return -EAGAIN;
    ssize_t n = pread(fd, out, sizeof(*out), 0);
    if (n != (ssize_t)sizeof(*out))
        return -EBADMSG;
    if (read_seq(fd, &s2) != 0)
        return -EBADMSG;
    if (s1 != s2 || out->header.seq != s1)
        return -EAGAIN;
    if (out->header.magic == 0 && s1 == 0)
        return -EAGAIN; /* created, not yet initialised */
    return 0;
}

static int snapshot_validate(struct regio_stats_file *out)
{
    if (out->header.magic != REGIO_STATS_MAGIC || out->header.version != REGIO_STATS_VERSION ||
        out->header.file_bytes != sizeof(*out))
        return -EBADMSG;
    /* Strings come from another process: never trust their terminators. */
    out->header.name[REGIO_STATS_NAME_BYTES - 1] = '\0';
    out->arena.fallback_reason[REGIO_STATS_REASON_BYTES - 1] = '\0';
    for (int i = 0; i < REGIO_STATS_MAX_SLABS; i++) {
        out->slabs[i].name[REGIO_STATS_NAME_BYTES - 1] = '\0';
        if (out->slabs[i].class_count > REGIO_STATS_CLASSES)
            out->slabs[i].class_count = REGIO_STATS_CLASSES;
    }
    for (int i = 0; i < REGIO_STATS_MAX_ENGINES; i++)
        out->engines[i].name[REGIO_STATS_NAME_BYTES - 1] = '\0';
    for (int i = 0; i < REGIO_STATS_MAX_WALS; i++)
        out->wals[i].name[REGIO_STATS_NAME_BYTES - 1] = '\0';
    return 0;
}

/*
 * Open a stats file without trusting what is at the path. O_NONBLOCK: a FIFO
 * (anyone can make one in the world-writable /dev/shm) would block the open
 * for ever; O_NOFOLLOW: no symlink to elsewhere. Then only a regular file of
 * the full size that nobody but its owner may write is read at all.
 */
static int stats_open(const char *path, int *fd_out, uid_t *owner_out)
{
    REGIO_ASSERT(path != NULL && fd_out != NULL && owner_out != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        int err = -errno;
        regio__set_detail("stats file %s: %s", path, strerror(-err));
        return err;
    }
    struct stat st;
    int err = fstat(fd, &st) != 0 ? -errno : 0;
    if (err == 0 &&
        (!S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(struct regio_stats_file))) {
        regio__set_detail("stats file %s: not a regular file of %zu bytes", path,
                          sizeof(struct regio_stats_file));
        err = -EBADMSG;
    } else if (err == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        regio__set_detail("stats file %s: writable by group or others (mode %o)", path,
                          (unsigned)(st.st_mode & 07777));
        err = -EPERM;
    }
    if (err != 0) {
        close(fd);
        return err;
    }
    *fd_out = fd;
    *owner_out = st.st_uid;
    return 0;
}

/*
 * Whether a file owned by `owner` may speak for process pid: it is ours (we
 * can only fool ourselves), or the process runs as its owner. A process that
 * is gone is judged stale by regio_stats_alive whoever wrote the file.
 */
static bool owner_may_speak_for(uid_t owner, int32_t pid)
{
    if (owner == geteuid())
        return true;
    if (pid <= 0)
        return false;
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
    struct stat ps;
    if (stat(proc, &ps) != 0)
        return errno == ENOENT;
    return ps.st_uid == owner;
}

static int check_owner(int fd, uid_t owner, const char *path)
{
    REGIO_ASSERT(fd >= 0);
    struct regio_stats_header h;
    if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        regio__set_detail("stats file %s: short header", path);
        return -EBADMSG;
    }
    if (h.magic == REGIO_STATS_MAGIC && !owner_may_speak_for(owner, h.pid)) {
        regio__set_detail("stats file %s: owned by uid %u, but process %d runs as another user",
                          path, (unsigned)owner, (int)h.pid);
        return -EPERM;
    }
    return 0;
}

/* A refresh takes microseconds: a seq that stays odd this long belongs to a
 * stuck (or forged) file. The total bounds a live publisher that keeps
 * changing it. A directory of such files costs milliseconds each, not the
 * 200 ms each it once did. */
#define STATS_READ_STUCK_NS  2000000
#define STATS_READ_BUDGET_NS 20000000

static int snapshot_retry(int fd, struct regio_stats_file *out)
{
    int64_t start = regio__now_ns(), same_since = start;
    uint64_t last = UINT64_MAX, seq = 0;
    for (;;) {
        int err = snapshot_once(fd, out, &seq);
        int64_t now = regio__now_ns();
        if (seq != last) {
            last = seq;
            same_since = now;
        }
        /* A consistent copy was taken between two equal, even seqs. */
        REGIO_ASSERT(err != 0 || (seq & 1) == 0);
        if (err != -EAGAIN || now - start > STATS_READ_BUDGET_NS ||
            now - same_since > STATS_READ_STUCK_NS)
            return err;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

int regio_stats_read(const char *path, struct regio_stats_file *out)
{
    regio__clear_detail();
    if (path == NULL || out == NULL) {
        regio__set_detail("stats read needs a path and an output");
        return -EINVAL;
    }
    int fd = -1;
    uid_t owner = 0;
    int err = stats_open(path, &fd, &owner);
    if (err != 0)
        return err;
    err = check_owner(fd, owner, path);
    if (err == 0) {
        err = snapshot_retry(fd, out);
        if (err == -EAGAIN)
            regio__set_detail("stats file %s: no consistent copy (writer stuck mid-update)", path);
        else if (err != 0)
            regio__set_detail("stats file %s: not a regio stats file", path);
    }
    close(fd);
    if (err == 0) {
        err = snapshot_validate(out);
        if (err != 0)
            regio__set_detail("stats file %s: not a regio stats file of version %u", path,
                              REGIO_STATS_VERSION);
    }
    /* Validated: every string of another process is terminated. */
    REGIO_ASSERT(err != 0 || out->header.name[REGIO_STATS_NAME_BYTES - 1] == '\0');
    if (err == 0 && !owner_may_speak_for(owner, out->header.pid)) {
        regio__set_detail("stats file %s: owned by uid %u, but process %d runs as another user",
                          path, (unsigned)owner, (int)out->header.pid);
        err = -EPERM;
    }
    return err;
}

int regio_stats_alive(const struct regio_stats_file *st)
{
    if (st == NULL || st->header.pid <= 0)
        return 0;
    pid_t pid = (pid_t)st->header.pid;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 0;
    uint64_t ticks = process_start_ticks(pid);
    /* Without /proc the pid is all we can go by. */
    if (ticks == 0 || st->header.start_time_ticks == 0)
        return 1;
    return ticks == st->header.start_time_ticks ? 1 : 0;
}
