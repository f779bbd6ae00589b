/*
 * tests/test_tool_util.h: running the built tools as a user would, for the
 * tool tests (tests/test_tool_*.c). The tools are found in $REGIO_BUILD_DIR,
 * which ctest sets; their JSON is checked with python3's json module.
 */
#ifndef REGIO_TEST_TOOL_UTIL_H
#define REGIO_TEST_TOOL_UTIL_H

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

/* Path of the built regio-<name>; skips the test when it is not built. */
static inline const char *tool_path(const char *name)
{
    static char path[4][4096];
    static int next;
    const char *dir = getenv("REGIO_BUILD_DIR");
    if (dir == NULL || dir[0] == '\0')
        SKIP("REGIO_BUILD_DIR is not set (run through ctest)");
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/regio-%s", dir, name);
    if (access(p, X_OK) != 0)
        SKIP("%s is not built", p);
    return p;
}

/* Start argv with stdout to out_path and stderr to err_path (either may be
 * NULL: inherited). Returns the pid. */
static inline pid_t tool_start(char *const argv[], const char *out_path, const char *err_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_path != NULL)
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err_path != NULL)
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "posix_spawn %s: %s\n", argv[0], strerror(rc));
        exit(1);
    }
    return pid;
}

/* Exit status of pid; 128 + signal when it was killed by one. */
static inline int tool_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            exit(1);
        }
    }
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* Run argv to completion; its exit status (see tool_wait). */
static inline int tool_run(char *const argv[], const char *out_path, const char *err_path)
{
    fprintf(stderr, "+");
    for (int i = 0; argv[i] != NULL; i++)
        fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n");
    return tool_wait(tool_start(argv, out_path, err_path));
}

/* Print a file (a tool's output) to stderr, for the test log. */
static inline void tool_show(const char *label, const char *path, size_t max_bytes)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "--- %s (%s)\n", label, path);
    char buf[4096];
    size_t n, total = 0;
    while (total < max_bytes && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        fwrite(buf, 1, n, stderr);
        total += n;
    }
    fclose(f);
}

/* True when file path contains s. */
static inline bool file_contains(const char *path, const char *s)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, s) != NULL;
}

/*
 * Parse path as JSON with python3 and evaluate the Python expression expr
 * on it (bound to d); 0 when the document is valid and expr is true. With
 * lines, every line is a document and d is the last one. Skips the test when
 * python3 is missing.
 */
static inline int json_check(const char *path, const char *expr, bool lines)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        SKIP("python3 is needed to parse the tools' JSON");
    char script[4096];
    snprintf(
        script, sizeof(script),
        "import json,sys\n"
        "t=open(sys.argv[1]).read()\n"
        "docs=[json.loads(l) for l in t.splitlines() if l.strip()] if %s else [json.loads(t)]\n"
        "d=docs[-1]\n"
        "ok=bool(%s)\n"
        "print('json check', 'ok' if ok else 'FAILED', file=sys.stderr)\n"
        "sys.exit(0 if ok else 1)\n",
        lines ? "True" : "False", expr);
    char *argv[] = {"/usr/bin/python3", "-c", script, (char *)path, NULL};
    int rc = tool_wait(tool_start(argv, NULL, NULL));
    if (rc != 0)
        fprintf(stderr, "json check failed on %s: %s\n", path, expr);
    return rc;
}

#endif
