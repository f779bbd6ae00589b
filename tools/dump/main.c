/*
 * tools/dump/main.c: regio-dump, a look inside regio from the outside: the
 * live stats of running processes (arena), a write-ahead log directory (wal)
 * and a page file (pages). Every input is treated as hostile: a file that is
 * not what it should be gives a clear message and exit 1, never a crash.
 */
#include <string.h>

#include "dump.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: regio-dump arena [--pid P] [--watch] [--interval S] [--count N] [--json]\n"
            "       regio-dump wal DIR [--from LSN] [--stats] [--json]\n"
            "       regio-dump pages FILE [--page-bytes B] [--json]\n"
            "\n"
            "  arena   live stats of running regio processes (from /dev/shm/regio.*);\n"
            "          --pid P shows one in detail; stale files of dead processes are marked\n"
            "  wal     segments, records and where and why the log ends (like pg_waldump)\n"
            "  pages   checksum scan of a page file (like pg_checksums)\n"
            "\n"
            "'regio-dump SUBCOMMAND --help' describes each. Exit status: 0 ok,\n"
            "1 a failed check (corruption, no such process, unreadable input), 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DUMP_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return DUMP_OK;
    }
    if (strcmp(cmd, "arena") == 0)
        return dump_arena_main(argc - 1, argv + 1);
    if (strcmp(cmd, "wal") == 0)
        return dump_wal_main(argc - 1, argv + 1);
    if (strcmp(cmd, "pages") == 0)
        return dump_pages_main(argc - 1, argv + 1);
    fprintf(stderr, "regio-dump: unknown subcommand '%s' (try --help)\n", cmd);
    return DUMP_USAGE;
}
