/*
 * tools/bench/machine.c: what the figures were measured on, recorded by the
 * bench itself so that a report never has to be told it: processor, cores,
 * memory, kernel, huge pages, the load average before and after, the commit
 * of the source tree, and for the --dir the filesystem and the block device
 * under it with its scheduler, `fua` and `write_cache` (a device that
 * acknowledges flushes from a volatile cache makes every sync cheap; one
 * with write-through makes them all equal to a write).
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

/* First line of a file, newline cut; "" when unreadable. */
static void read_line(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(out, (int)cap, f) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* The value after "key" in a "key: value" file (cpuinfo, meminfo). */
static void read_keyed(const char *path, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[512];
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, kl) != 0)
            continue;
        const char *p = strchr(line + kl, ':');
        if (p == NULL)
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        snprintf(out, cap, "%s", p);
        out[strcspn(out, "\n")] = '\0';
        break;
    }
    fclose(f);
}

/* The commit of the tree this file was compiled from (__FILE__ is the
 * absolute source path in CMake builds), with "-dirty" when it has local
 * changes; "" when git or the tree is not there. */
static void source_commit(char *out, size_t cap)
{
    char dir[PATH_MAX], cmd[PATH_MAX + 128];
    out[0] = '\0';
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    char *cut = strstr(dir, "/tools/bench/");
    if (dir[0] != '/' || cut == NULL)
        return;
    *cut = '\0';
    snprintf(cmd, sizeof(cmd),
             "git -C '%s' describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return;
    if (fgets(out, (int)cap, p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

void bench_device_of(const char *dir, struct bench_device *d)
{
    memset(d, 0, sizeof(*d));
    struct stat st;
    if (stat(dir, &st) != 0)
        return;
    /* The mount holding dir: the longest mount point that prefixes its real path. */
    char real[PATH_MAX];
    if (realpath(dir, real) == NULL)
        snprintf(real, sizeof(real), "%s", dir);
    FILE *m = fopen("/proc/self/mounts", "r");
    size_t best = 0;
    char src[256], mnt[PATH_MAX], fs[64];
    while (m != NULL && fscanf(m, "%255s %4095s %63s %*[^\n]", src, mnt, fs) == 3) {
        size_t l = strlen(mnt);
        bool under = strncmp(real, mnt, l) == 0 && (real[l] == '/' || real[l] == '\0' || l == 1);
        if (under && l >= best) {
            best = l;
            snprintf(d->fs, sizeof(d->fs), "%.63s", fs);
            snprintf(d->source, sizeof(d->source), "%.255s", src);
        }
    }
    if (m != NULL)
        fclose(m);
    if (major(st.st_dev) == 0)
        return; /* tmpfs and the like: no block device */
    char path[PATH_MAX + 64], link[PATH_MAX];
    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
    if (realpath(path, link) == NULL)
        return;
    /* A partition's queue is its disk's, one directory up. */
    snprintf(path, sizeof(path), "%s/partition", link);
    if (access(path, F_OK) == 0)
        *strrchr(link, '/') = '\0';
    snprintf(d->name, sizeof(d->name), "%.63s", strrchr(link, '/') + 1);
    static const struct {
        const char *file;
        size_t off, cap;
    } q[] = {
#define FIELD(f) offsetof(struct bench_device, f), sizeof(((struct bench_device *)0)->f)
        {"queue/scheduler", FIELD(scheduler)},
        {"queue/fua", FIELD(fua)},
        {"queue/write_cache", FIELD(write_cache)},
        {"queue/rotational", FIELD(rotational)},
        {"device/model", FIELD(model)},
        {"size", FIELD(sectors)},
#undef FIELD
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", link, q[i].file);
        read_line(path, (char *)d + q[i].off, q[i].cap);
    }
    /* "none [mq-deadline] kyber": the one in brackets is in use. */
    char *open = strchr(d->scheduler, '['), *close = open ? strchr(open, ']') : NULL;
    if (open != NULL && close != NULL) {
        *close = '\0';
        memmove(d->scheduler, open + 1, strlen(open + 1) + 1);
    }
    char *sp = d->model + strlen(d->model);
    while (sp > d->model && sp[-1] == ' ')
        *--sp = '\0';
}

void bench_machine_collect(const struct bench_ctx *ctx, struct bench_machine *m)
{
    memset(m, 0, sizeof(*m));
    read_keyed("/proc/cpuinfo", "model name", m->cpu_model, sizeof(m->cpu_model));
    m->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    m->mem_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof(m->kernel), "%s", u.release);
    char v[64];
    read_keyed("/proc/meminfo", "HugePages_Total", v, sizeof(v));
    m->hugepages_total = atol(v);
    read_line("/sys/kernel/mm/transparent_hugepage/enabled", m->thp, sizeof(m->thp));
    source_commit(m->commit, sizeof(m->commit));
    bench_device_of(ctx->dir, &m->dev);
    double l[1] = {0};
    if (getloadavg(l, 1) == 1)
        m->load_start = l[0];
}
