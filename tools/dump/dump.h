/*
 * tools/dump/dump.h: what the regio-dump subcommands share: a small JSON
 * writer (output is built as it goes, so no document tree is held) and
 * number parsing for the command line.
 *
 * Exit statuses of every subcommand: 0 ok, 1 a failed check (corruption,
 * missing or stale process, unreadable input), 2 bad usage.
 */
#ifndef REGIO_DUMP_H
#define REGIO_DUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define DUMP_OK    0
#define DUMP_FAIL  1
#define DUMP_USAGE 2

#define JW_MAX_DEPTH 32

/* A streaming JSON writer: each call writes one value, with a key when the
 * enclosing container is an object (key != NULL) and none in an array. */
struct jw {
    FILE *f;
    int depth;
    bool comma[JW_MAX_DEPTH];
};

void jw_init(struct jw *j, FILE *f);
void jw_obj(struct jw *j, const char *key);
void jw_obj_end(struct jw *j);
void jw_arr(struct jw *j, const char *key);
void jw_arr_end(struct jw *j);
void jw_str(struct jw *j, const char *key, const char *v);
void jw_u64(struct jw *j, const char *key, uint64_t v);
void jw_i64(struct jw *j, const char *key, int64_t v);
void jw_dbl(struct jw *j, const char *key, double v); /* non-finite: null */
void jw_bool(struct jw *j, const char *key, bool v);
void jw_null(struct jw *j, const char *key);

/* Parse a non-negative integer with an optional K/M/G suffix (powers of
 * 1024); 0x hex accepted. -1 on junk or overflow. */
int parse_u64(const char *s, uint64_t *out);

int dump_arena_main(int argc, char **argv);
int dump_wal_main(int argc, char **argv);
int dump_pages_main(int argc, char **argv);

#endif
