/* regio-test: labels=io,mt timeout=300 */
/*
 * tests/test_example_minikv_powerloss.c: the example store of
 * docs/examples/minikv under the engine's power-loss simulation.
 *
 * Two writer threads put keys while the main thread checkpoints; the page
 * writes of the store's pager (page file and doublewrite file) are
 * recorded. Then, at crash points across the whole recording and with two
 * seeds each, the page file and doublewrite file are rebuilt as a power cut
 * could have left them (undurable writes kept, dropped or torn at 512
 * bytes) next to a copy of the log, which the WAL's own tests cover and
 * which holds every acknowledged put. Opening the store must repair every
 * torn page by itself (the pager's doublewrite; minikv has no code for it),
 * read every page, replay the log by page LSN, and hold every acknowledged
 * put with its value. Some images must have needed a repair.
 */
#define MINIKV_NO_MAIN
#include "../docs/examples/minikv/minikv.c"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "regio/testing.h"

enum { WRITERS = 2, PUTS = 150, SAMPLES = 8, SEEDS = 2 };

struct pl_writer {
    struct kv *db;
    int id;
};

static void *pl_writer_main(void *arg)
{
    struct pl_writer *w = arg;
    char key[32], val[32];
    for (int i = 0; i < PUTS; i++) {
        snprintf(key, sizeof(key), "w%d-%d", w->id, i);
        snprintf(val, sizeof(val), "val%d", i * 3 + w->id);
        CHECK_OK(kv_change(w->db, key, val));
    }
    return NULL;
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(in >= 0 && out >= 0);
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        CHECK_EQ(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static void copy_dir(const char *from, const char *to) /* paths under 1 KiB */
{
    CHECK(mkdir(to, 0700) == 0);
    DIR *d = opendir(from);
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char a[1400], b[1400];
        snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
        copy_file(a, b);
    }
    closedir(d);
}

static void image(struct regio_recording *rec, const char *file, const char *out, uint64_t crash,
                  uint64_t seed)
{
    for (uint32_t i = 0; i < regio_recording_file_count(rec); i++) {
        if (strcmp(regio_recording_file_path(rec, i), file) != 0)
            continue;
        int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0);
        CHECK_OK(regio_recording_write_image(rec, i, crash, REGIO_RECORDING_RANDOM, seed, fd));
        close(fd);
    }
}

int main(void)
{
    char dir[512], store[600];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("example_minikv_powerloss"));
    snprintf(store, sizeof(store), "%s/store", dir);
    CHECK(mkdir(store, 0755) == 0);
    minikv_replay_all = true;
    minikv_keep_log = true;

    static struct kv db;
    kv_open(&db, store);
    CHECK_OK(regio_engine_record_start(db.engine));
    pthread_t t[WRITERS];
    struct pl_writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct pl_writer){&db, i};
        CHECK(pthread_create(&t[i], NULL, pl_writer_main, &w[i]) == 0);
    }
    for (int c = 0; c < 6; c++) {
        usleep(5000);
        kv_checkpoint(&db);
    }
    for (int i = 0; i < WRITERS; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    kv_checkpoint(&db);
    struct regio_recording *rec;
    CHECK_OK(regio_engine_record_stop(db.engine, &rec));
    kv_close(&db);

    char pages[700], dw[800];
    snprintf(pages, sizeof(pages), "%s/pages", store);
    snprintf(dw, sizeof(dw), "%s/pages.dw", store);
    uint64_t last = regio_recording_last_seq(rec), repaired = 0;
    int opened = 0;
    for (int s = 0; s <= SAMPLES; s++) {
        uint64_t crash = last * (uint64_t)s / SAMPLES;
        for (uint64_t seed = 1; seed <= SEEDS; seed++) {
            char img[700], wal[800], to[900];
            snprintf(img, sizeof(img), "%s/crash-%d-%llu", dir, s, (unsigned long long)seed);
            CHECK(mkdir(img, 0755) == 0);
            snprintf(wal, sizeof(wal), "%s/wal", store);
            snprintf(to, sizeof(to), "%s/wal", img);
            copy_dir(wal, to);
            snprintf(to, sizeof(to), "%s/pages", img);
            image(rec, pages, to, crash, crash * 31 + seed);
            snprintf(to, sizeof(to), "%s/pages.dw", img);
            image(rec, dw, to, crash, crash * 31 + seed);
            static struct kv again;
            kv_open(&again, img); /* exits on a page it cannot read */
            repaired += regio_pager_pages_repaired(again.pager);
            char val[MAX_VAL + 1], key[32], want[32];
            for (int id = 0; id < WRITERS; id++) {
                for (int i = 0; i < PUTS; i++) {
                    snprintf(key, sizeof(key), "w%d-%d", id, i);
                    snprintf(want, sizeof(want), "val%d", i * 3 + id);
                    CHECK(kv_get(&again, key, val) == 1);
                    CHECK(strcmp(val, want) == 0);
                }
            }
            kv_close(&again);
            test_rmdir_all(img);
            opened++;
        }
    }
    fprintf(stderr, "%d crash images over %llu events: every put present, %llu pages repaired\n",
            opened, (unsigned long long)last, (unsigned long long)repaired);
    CHECK(repaired > 0);
    regio_recording_destroy(rec);
    test_rmdir_all(dir);
    return 0;
}
