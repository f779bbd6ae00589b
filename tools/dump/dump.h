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

/* Each subcommand: *_main parses the command line and calls the function
 * below with stdout; the fuzz target (tests/fuzz/fuzz_dump.c) calls the same
 * functions with its own stream, so what it reaches is what the tool runs. */
int dump_arena_main(int argc, char **argv);
int dump_wal_main(int argc, char **argv);
int dump_pages_main(int argc, char **argv);

struct dump_wal_opts {
    const char *dir;
    uint64_t from_lsn; /* list records at or after this LSN only */
    bool stats, json;
};

/* Where the log ends, as the dump reports it: end_kind is "empty", "clean",
 * "torn", "open_or_crashed", "corrupt", "unreadable" or "not_a_log" (a
 * static string). */
struct dump_wal_result {
    const char *end_kind;
    uint64_t end_lsn;
};

/* `regio-dump wal`: the report on out; DUMP_OK or DUMP_FAIL. */
int dump_wal(const struct dump_wal_opts *o, FILE *out, struct dump_wal_result *res);

struct dump_pages_opts {
    const char *file;
    uint64_t page_bytes; /* a power of two from 4096 to 65536 */
    bool json;
};

/* `regio-dump pages`: the report on out; DUMP_OK or DUMP_FAIL. */
int dump_pages(const struct dump_pages_opts *o, FILE *out);

struct dump_arena_opts {
    long pid; /* 0: every process */
    bool watch, json;
    double interval_s;
    uint64_t count; /* refreshes in watch mode; 0: until interrupted */
};

/* One listing of `regio-dump arena` (no watching) over the stats files in
 * dir (REGIO_STATS_DIR for the tool); returns how many are live. */
size_t dump_arena_show(const struct dump_arena_opts *o, const char *dir, FILE *out);

#endif
