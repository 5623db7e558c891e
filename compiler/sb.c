/* sb.c — string builder used by the emitter and the diagnostics renderer. */
#include "sb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(Sb *sb)
{
    memset(sb, 0, sizeof *sb);
}

void sb_free(Sb *sb)
{
    free(sb->buf);
    sb_init(sb);
}

static int sb_reserve(Sb *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    if (sb->len + extra + 1 <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *p = realloc(sb->buf, cap);
    if (!p) {
        sb->failed = 1;
        return -1;
    }
    sb->buf = p;
    sb->cap = cap;
    return 0;
}

static void sb_vprintf(Sb *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        sb->failed = 1;
        return;
    }
    if (sb_reserve(sb, (size_t)n) < 0)
        return;
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void sb_printf(Sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

void sb_puts(Sb *sb, const char *s)
{
    size_t n = strlen(s);
    if (sb_reserve(sb, n) < 0)
        return;
    memcpy(sb->buf + sb->len, s, n + 1);
    sb->len += n;
}

void sb_line(Sb *sb, const char *fmt, ...)
{
    if (sb_reserve(sb, (size_t)sb->indent) < 0)
        return;
    memset(sb->buf + sb->len, ' ', (size_t)sb->indent);
    sb->len += (size_t)sb->indent;
    sb->buf[sb->len] = '\0';
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
    sb_puts(sb, "\n");
}

char *sb_take(Sb *sb)
{
    char *p = NULL;
    if (!sb->failed) {
        if (sb_reserve(sb, 0) == 0) {
            sb->buf[sb->len] = '\0';
            p = sb->buf;
            sb->buf = NULL;
        }
    }
    sb_free(sb);
    return p;
}

void sb_close(Sb *sb, int n)
{
    while (n-- > 0) {
        sb->indent -= 4;
        sb_line(sb, "}");
    }
}
