/* regio-test: labels=io timeout=300 */
/*
 * tests/test_example_minikv.c: the example database of docs/examples/minikv
 * killed with SIGKILL at random moments while 4 writer threads put keys and
 * a checkpoint runs every 20 ms; after each kill the store is reopened
 * (recovery: pages, torn-page repair, replay from the checkpoint) and every
 * put it acknowledged (printed only after its record was durable) must be
 * there with its value. Also the CLI: put, get (exit 1 when absent), del,
 * check.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "test_tool_util.h"

enum { THREADS = 4, PER_THREAD = 400000, CYCLES = 8 };

static uint8_t acked[THREADS * PER_THREAD];

/* Run minikv with args; its stdout into out (may be NULL). Exit status. */
static int run(const char *const *args, char *out, size_t cap)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while (out != NULL && n + 1 < cap && (k = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    if (out != NULL)
        out[n] = 0;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool parse_key(const char *line, int *id, long *i, long *v)
{
    return sscanf(line, "t%d-%ld v%ld", id, i, v) == 3 && *id >= 0 && *id < THREADS && *i >= 0 &&
           *i < PER_THREAD;
}

/* Read acknowledged lines from fd until the deadline, then kill. */
static long stress_cycle(const char *tool, const char *dir, uint64_t *st)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(tool, tool, dir, "stress", "4", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    long ms = 100 + (long)(test_rand(st) % 400);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    static char buf[1 << 16];
    size_t have = 0;
    long lines = 0;
    bool killed = false;
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (!killed && el >= ms) {
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        if (poll(&pfd, 1, 10) <= 0)
            continue;
        ssize_t k = read(fds[0], buf + have, sizeof(buf) - 1 - have);
        if (k <= 0)
            break;
        have += (size_t)k;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = 0;
            int id;
            long i, v;
            CHECK(parse_key(line, &id, &i, &v));
            CHECK_EQ(v, i * 7 + id);
            acked[id * PER_THREAD + i] = 1;
            lines++;
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return lines;
}

static void verify(const char *tool, const char *dir)
{
    static char out[16 << 20];
    const char *args[] = {tool, dir, "dump", NULL};
    CHECK_EQ(run(args, out, sizeof(out)), 0);
    static uint8_t present[THREADS * PER_THREAD];
    memset(present, 0, sizeof(present));
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        int id;
        long i, v;
        CHECK(parse_key(line, &id, &i, &v));
        CHECK_EQ(v, i * 7 + id);
        present[id * PER_THREAD + i] = 1;
    }
    for (size_t k = 0; k < sizeof(acked); k++)
        if (acked[k] && !present[k]) {
            fprintf(stderr, "acknowledged put t%zu-%zu lost\n", k / PER_THREAD, k % PER_THREAD);
            CHECK(0);
        }
}

static void test_cli(const char *tool, const char *dir)
{
    char out[256];
    const char *put[] = {tool, dir, "put", "alpha", "one", NULL};
    CHECK_EQ(run(put, NULL, 0), 0);
    const char *get[] = {tool, dir, "get", "alpha", NULL};
    CHECK_EQ(run(get, out, sizeof(out)), 0);
    CHECK(strcmp(out, "one\n") == 0);
    const char *del[] = {tool, dir, "del", "alpha", NULL};
    CHECK_EQ(run(del, NULL, 0), 0);
    CHECK_EQ(run(get, out, sizeof(out)), 1);
    const char *check[] = {tool, dir, "check", NULL};
    CHECK_EQ(run(check, out, sizeof(out)), 0);
    CHECK(strstr(out, "ok: 0 keys") != NULL);
}

int main(void)
{
    const char *tool = tool_path("minikv");
    char dir[512], cli[600], kv[600];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir("example_minikv"));
    snprintf(cli, sizeof(cli), "%s/cli", dir);
    snprintf(kv, sizeof(kv), "%s/kill", dir);
    CHECK(mkdir(cli, 0755) == 0 && mkdir(kv, 0755) == 0);
    test_cli(tool, cli);
    uint64_t st = test_seed();
    long total = 0;
    for (int c = 0; c < CYCLES; c++) {
        total += stress_cycle(tool, kv, &st);
        verify(tool, kv);
    }
    fprintf(stderr, "%d kill cycles, %ld acknowledged puts, none lost\n", CYCLES, total);
    CHECK(total > 0);
    test_rmdir_all(dir);
    return 0;
}
