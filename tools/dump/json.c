/* tools/dump/json.c: the streaming JSON writer and number parsing. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"

void jw_init(struct jw *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
}

static void jw_escape(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else if (*p >= 0x80)
            fputc('?', f); /* names from files are not trusted to be UTF-8 */
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Separator and key before a value. */
static void jw_pre(struct jw *j, const char *key)
{
    if (j->comma[j->depth])
        fputc(',', j->f);
    j->comma[j->depth] = true;
    if (key != NULL) {
        jw_escape(j->f, key);
        fputc(':', j->f);
    }
}

static void jw_open(struct jw *j, const char *key, char c)
{
    jw_pre(j, key);
    fputc(c, j->f);
    if (j->depth + 1 < JW_MAX_DEPTH)
        j->depth++;
    j->comma[j->depth] = false;
}

static void jw_close(struct jw *j, char c)
{
    fputc(c, j->f);
    if (j->depth > 0)
        j->depth--;
    if (j->depth == 0) {
        fputc('\n', j->f);
        fflush(j->f);
        j->comma[0] = false;
    }
}

void jw_obj(struct jw *j, const char *key)
{
    jw_open(j, key, '{');
}

void jw_obj_end(struct jw *j)
{
    jw_close(j, '}');
}

void jw_arr(struct jw *j, const char *key)
{
    jw_open(j, key, '[');
}

void jw_arr_end(struct jw *j)
{
    jw_close(j, ']');
}

void jw_str(struct jw *j, const char *key, const char *v)
{
    jw_pre(j, key);
    if (v == NULL)
        fputs("null", j->f);
    else
        jw_escape(j->f, v);
}

void jw_u64(struct jw *j, const char *key, uint64_t v)
{
    jw_pre(j, key);
    fprintf(j->f, "%" PRIu64, v);
}

void jw_i64(struct jw *j, const char *key, int64_t v)
{
    jw_pre(j, key);
    fprintf(j->f, "%" PRId64, v);
}

void jw_dbl(struct jw *j, const char *key, double v)
{
    jw_pre(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.6g", v);
    else
        fputs("null", j->f);
}

void jw_bool(struct jw *j, const char *key, bool v)
{
    jw_pre(j, key);
    fputs(v ? "true" : "false", j->f);
}

void jw_null(struct jw *j, const char *key)
{
    jw_pre(j, key);
    fputs("null", j->f);
}

int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s)
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift != 0)
        end++;
    if (*end != '\0')
        return -1;
    if (shift != 0 && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}
