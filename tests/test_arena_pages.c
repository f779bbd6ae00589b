/* regio-test: labels=unit timeout=180 */
/*
 * tests/test_arena_pages.c: every page kind this machine offers, checked
 * against /proc/self/smaps read independently of the library, the fallback
 * reasons for the kinds it lacks, pages_strict, and MADV_DONTFORK.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MIB ((size_t)1 << 20)

struct vma_info {
    size_t kernel_page_bytes;
    size_t anon_huge_bytes;
    char vm_flags[512];
};

/* The VMA that holds addr, as the kernel describes it. */
static void smaps_of(const void *addr, struct vma_info *out)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen("/proc/self/smaps", "re");
    CHECK(f != NULL);
    char line[512];
    bool inside = false, found = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi;
        char sp;
        if (sscanf(line, "%lx-%lx%c", &lo, &hi, &sp) == 3 && sp == ' ') {
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
            found |= inside;
            continue;
        }
        unsigned long long kb;
        if (!inside)
            continue;
        if (sscanf(line, "KernelPageSize: %llu kB", &kb) == 1)
            out->kernel_page_bytes = kb * 1024;
        else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
            out->anon_huge_bytes = kb * 1024;
        else if (strncmp(line, "VmFlags:", 8) == 0)
            snprintf(out->vm_flags, sizeof(out->vm_flags), "%s", line + 8);
    }
    fclose(f);
    CHECK(found);
}

static bool has_vm_flag(const struct vma_info *v, const char *flag)
{
    char padded[8];
    snprintf(padded, sizeof(padded), " %s", flag);
    const char *p = v->vm_flags;
    while ((p = strstr(p, padded)) != NULL) {
        char next = p[strlen(padded)];
        if (next == ' ' || next == '\n' || next == '\0')
            return true;
        p++;
    }
    return false;
}

static long long meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "re");
    CHECK(f != NULL);
    char line[256];
    long long v = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
            v = strtoll(line + strlen(key) + 1, NULL, 10);
    fclose(f);
    return v;
}

static void thp_mode(char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    if (f == NULL)
        return;
    char line[128] = "";
    CHECK(fgets(line, sizeof(line), f) != NULL);
    fclose(f);
    char *o = strchr(line, '['), *c = o ? strchr(o, ']') : NULL;
    CHECK(c != NULL && (size_t)(c - o) < n);
    memcpy(out, o + 1, (size_t)(c - o - 1));
    out[c - o - 1] = '\0';
}

static int create(size_t size, enum regio_pages pages, bool strict, struct regio_arena **a,
                  struct regio_arena_stats *st)
{
    struct regio_arena_opts o = {.size_bytes = size, .pages = pages, .pages_strict = strict};
    int r = regio_arena_create(&o, a);
    if (r == 0)
        CHECK_OK(regio_arena_stats(*a, st));
    return r;
}

/* The kind the library reports agrees with smaps, the memory is usable and
 * was faulted in at create. */
static void check_agrees(const struct regio_arena_stats *st)
{
    struct vma_info v;
    smaps_of(st->base, &v);
    CHECK_EQ(st->kernel_page_bytes, v.kernel_page_bytes);
    CHECK(has_vm_flag(&v, "dc")); /* VM_DONTCOPY: MADV_DONTFORK */
    switch (st->pages) {
    case REGIO_PAGES_HUGE_2M:
        CHECK_EQ(v.kernel_page_bytes, 2 * MIB);
        CHECK(has_vm_flag(&v, "ht"));
        break;
    case REGIO_PAGES_THP:
        CHECK_EQ(v.kernel_page_bytes, 4096);
        CHECK(v.anon_huge_bytes > 0);
        CHECK(st->anon_huge_bytes > 0);
        CHECK(has_vm_flag(&v, "hg"));
        break;
    case REGIO_PAGES_NORMAL:
        CHECK_EQ(v.kernel_page_bytes, 4096);
        CHECK_EQ(st->anon_huge_bytes, 0);
        break;
    default:
        CHECK(!"reported kind AUTO");
    }
    memset(st->base, 0xa5, st->size_bytes);
    CHECK_EQ(((uint8_t *)st->base)[st->size_bytes - 1], 0xa5);
}

static void test_normal(void)
{
    struct regio_arena *a;
    struct regio_arena_stats st;
    CHECK_OK(create(6 * MIB, REGIO_PAGES_NORMAL, true, &a, &st));
    CHECK_EQ(st.pages, REGIO_PAGES_NORMAL);
    CHECK_EQ(st.fallback_reason[0], '\0');
    check_agrees(&st);
    CHECK_OK(regio_arena_destroy(a));
    printf("normal: ok\n");
}

static void test_thp(void)
{
    char mode[32];
    thp_mode(mode, sizeof(mode));
    struct regio_arena *a;
    struct regio_arena_stats st;
    if (mode[0] == '\0' || strcmp(mode, "never") == 0) {
        /* Missing THP: strict refuses and says why; non-strict falls back. */
        CHECK_EQ(create(4 * MIB, REGIO_PAGES_THP, true, &a, &st), -ENOMEM);
        CHECK(strstr(regio_error_detail(), "THP") != NULL);
        CHECK_OK(create(4 * MIB, REGIO_PAGES_THP, false, &a, &st));
        CHECK_EQ(st.pages, REGIO_PAGES_NORMAL);
        CHECK(strstr(st.fallback_reason, "THP") != NULL);
        check_agrees(&st);
        CHECK_OK(regio_arena_destroy(a));
        printf("thp: not offered here (%s), fallback checked\n", mode[0] ? mode : "absent");
        return;
    }
    int r = create(8 * MIB, REGIO_PAGES_THP, true, &a, &st);
    if (r != 0)
        fprintf(stderr, "THP strict failed: %s\n", regio_error_detail());
    CHECK_OK(r);
    CHECK_EQ(st.pages, REGIO_PAGES_THP);
    CHECK_EQ(st.fallback_reason[0], '\0');
    check_agrees(&st);
    CHECK_OK(regio_arena_destroy(a));
    printf("thp (%s): ok, AnonHugePages=%zu\n", mode, st.anon_huge_bytes);
}

static void test_hugetlb(void)
{
    struct regio_arena *a;
    struct regio_arena_stats st;
    long long free_pages = meminfo("HugePages_Free");
    if (free_pages >= 2) {
        int r = create(4 * MIB, REGIO_PAGES_HUGE_2M, true, &a, &st);
        if (r == -ENOMEM && meminfo("HugePages_Free") < 2) {
            /* Another test took the pages in between: the refusal must say so. */
            CHECK(strstr(regio_error_detail(), "HugePages_Free") != NULL);
        } else {
            CHECK_OK(r);
            CHECK_EQ(st.pages, REGIO_PAGES_HUGE_2M);
            CHECK_EQ(st.fallback_reason[0], '\0');
            check_agrees(&st);
            CHECK_OK(regio_arena_destroy(a));
        }
        printf("hugetlb: ok (HugePages_Free was %lld)\n", free_pages);
    }
    /* Ask for more hugetlb pages than the pool holds (HugePages_Total, not
     * HugePages_Free: other tests may free pages meanwhile): strict refuses,
     * naming the pool; AUTO falls back with the reason. Bounded so that the
     * fallback mapping stays small. */
    long long total = meminfo("HugePages_Total");
    long long overcommit = 0;
    FILE *oc = fopen("/proc/sys/vm/nr_overcommit_hugepages", "re");
    if (oc != NULL) {
        CHECK_EQ(fscanf(oc, "%lld", &overcommit), 1);
        fclose(oc);
    }
    if (total > 96 || overcommit > 0) {
        printf("hugetlb shortage not exercised: HugePages_Total=%lld overcommit=%lld\n", total,
               overcommit);
        return;
    }
    size_t size = (size_t)(total + 1) * 2 * MIB;
    CHECK_EQ(create(size, REGIO_PAGES_HUGE_2M, true, &a, &st), -ENOMEM);
    CHECK(strstr(regio_error_detail(), "HugePages_Free=") != NULL);
    if (total == 0)
        CHECK(strstr(regio_error_detail(), "no hugetlb pages reserved: HugePages_Free=0") != NULL);
    CHECK_OK(create(size, REGIO_PAGES_AUTO, false, &a, &st));
    CHECK(st.pages == REGIO_PAGES_THP || st.pages == REGIO_PAGES_NORMAL);
    CHECK(strstr(st.fallback_reason, "HugePages_Free=") != NULL);
    check_agrees(&st);
    CHECK_OK(regio_arena_destroy(a));
    printf("hugetlb shortage: fallback to %s: %s\n", regio_pages_name(st.pages),
           st.fallback_reason);
}

static void test_auto_best(void)
{
    struct regio_arena *a;
    struct regio_arena_stats st;
    CHECK_OK(create(4 * MIB, REGIO_PAGES_AUTO, false, &a, &st));
    check_agrees(&st);
    /* AUTO gives less than hugetlb only with a reason. */
    if (st.pages != REGIO_PAGES_HUGE_2M)
        CHECK(st.fallback_reason[0] != '\0');
    printf("auto: %s (%s)\n", regio_pages_name(st.pages), st.fallback_reason);
    CHECK_OK(regio_arena_destroy(a));
}

static void on_segv(int sig)
{
    (void)sig;
    _exit(99);
}

/* After fork the child has no arena at all: touching it faults. */
static void test_dontfork(void)
{
    struct regio_arena *a;
    struct regio_arena_stats st;
    CHECK_OK(create(4 * MIB, REGIO_PAGES_AUTO, false, &a, &st));
    volatile uint8_t *p = st.base;
    p[0] = 7;
    p[st.size_bytes - 1] = 9;
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_segv;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        uint8_t v = p[0];
        _exit(v == 7 ? 1 : 2);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 99);
    CHECK_EQ(p[0], 7);
    CHECK_EQ(p[st.size_bytes - 1], 9);
    CHECK_OK(regio_arena_destroy(a));
    printf("dontfork: ok\n");
}

int main(void)
{
    test_normal();
    test_thp();
    test_hugetlb();
    test_auto_best();
    test_dontfork();
    return 0;
}
