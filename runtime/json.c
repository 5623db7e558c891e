/* json.c — UTF-8 checking and the strict JSON (RFC 8259) reader of librnnrt, used for the
 * safetensors header (safetensors.c): well-formed UTF-8 sequences, the scanner's tokens
 * (strings with their escapes, numbers, words) and the syntax of values nobody reads.
 * Faults stop the reading with one message in the reader's RnnrtError (see json.h).
 */
#include "json.h"

#include "rt_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64 /* nesting of values nobody reads (unknown fields), then refused */

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/* The length (1-4) of the well-formed UTF-8 sequence at s[0..n), its code point in *cp; 0
 * when there is none: a stray continuation byte, a truncated or overlong sequence, a
 * surrogate or a code point above U+10FFFF (RFC 3629, what Rust's from_utf8 accepts). */
int rnnrt_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    uint32_t v, min;
    int len;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < (size_t)len) {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        return 0;
    }
    *cp = v;
    return len;
}

/* The offset of the first byte of s[0..n) that is not well-formed UTF-8, or n. */
size_t rnnrt_utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint32_t cp;

    while (i < n) {
        int k = s[i] < 0x80 ? 1 : rnnrt_utf8_seq(s + i, n - i, &cp);
        if (k == 0) {
            return i;
        }
        i += (size_t)k;
    }
    return n;
}

/* Appends code point `cp` (valid, not a surrogate) as UTF-8; returns the bytes written. */
static int utf8_put(unsigned char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char)(0xc0 | cp >> 6);
        d[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xe0 | cp >> 12);
        d[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        d[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (unsigned char)(0xf0 | cp >> 18);
    d[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    d[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    d[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- the reader ----------------------------------------------------------------------- */

/* Reports that memory ran out while reading the header; returns -1. */
int rnnrt_json_oom(Json *j)
{
    if (!j->bad) {
        rnnrt_util_set_err(j->err, "%s: out of memory reading the header", j->path);
        j->bad = 1;
    }
    return -1;
}

/* Reports a fault of the whole header at the current position; returns -1. */
int rnnrt_json_fail(Json *j, const char *what)
{
    if (!j->bad) {
        rnnrt_util_set_err(j->err, "%s: malformed JSON header: %s (at header byte %zu)", j->path,
                           what, j->pos);
        j->bad = 1;
    }
    return -1;
}

void rnnrt_json_ws(Json *j)
{
    while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                               j->s[j->pos] == '\n' || j->s[j->pos] == '\r')) {
        j->pos++;
    }
}

/* The next byte after white space, or 0 at the end. */
int rnnrt_json_peek(Json *j)
{
    rnnrt_json_ws(j);
    return j->pos < j->len ? j->s[j->pos] : 0;
}

/* Consumes `c` after white space, or reports `what` is expected. */
int rnnrt_json_expect(Json *j, int c, const char *what)
{
    if (rnnrt_json_peek(j) != c) {
        return rnnrt_json_fail(j, what);
    }
    j->pos++;
    return 0;
}

/* Four hex digits at the current position into *v. */
static int js_hex4(Json *j, uint32_t *v)
{
    *v = 0;
    if (j->len - j->pos < 4) {
        return rnnrt_json_fail(j, "truncated \\u escape");
    }
    for (int i = 0; i < 4; i++) {
        int c = j->s[j->pos++], d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (c | 0x20) - 'a' + 10;
        } else {
            j->pos--;
            return rnnrt_json_fail(j, "bad hex digit in a \\u escape");
        }
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* A string at the current position (after white space), decoded into j->str. Surrogate-pair
 * escapes (what Python's json.dumps writes for U+10000 and above) become one code point; a
 * lone surrogate, a raw control character and an unknown escape are refused. */
int rnnrt_json_string(Json *j)
{
    size_t start, end, o = 0;

    if (rnnrt_json_peek(j) != '"') {
        return rnnrt_json_fail(j, "expected a string");
    }
    start = ++j->pos;
    for (end = start; end < j->len && j->s[end] != '"'; end++) {
        if (j->s[end] == '\\' && end + 1 < j->len) {
            end++;
        }
    }
    if (end >= j->len) {
        return rnnrt_json_fail(j, "unterminated string");
    }
    /* decoding never lengthens: an escape of 2, 6 or 12 bytes gives at most 4 */
    if (end - start + 1 > j->strcap) {
        char *p = realloc(j->str, end - start + 1);
        if (!p) {
            return rnnrt_json_oom(j);
        }
        j->str = p;
        j->strcap = end - start + 1;
    }
    while (j->pos < end) {
        unsigned c = j->s[j->pos];
        uint32_t cp, lo;
        if (c < 0x20) {
            return rnnrt_json_fail(j, "control character in a string (write it as \\u00XX)");
        }
        if (c != '\\') {
            j->str[o++] = (char)c;
            j->pos++;
            continue;
        }
        j->pos++;
        c = j->s[j->pos++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            j->str[o++] = (char)c;
            continue;
        case 'b':
            j->str[o++] = '\b';
            continue;
        case 'f':
            j->str[o++] = '\f';
            continue;
        case 'n':
            j->str[o++] = '\n';
            continue;
        case 'r':
            j->str[o++] = '\r';
            continue;
        case 't':
            j->str[o++] = '\t';
            continue;
        case 'u':
            break;
        default:
            j->pos -= 2;
            return rnnrt_json_fail(j, "unknown escape in a string");
        }
        if (js_hex4(j, &cp) != 0) {
            return -1;
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            j->pos -= 6;
            return rnnrt_json_fail(j, "lone low surrogate escape in a string");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - j->pos < 6 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u') {
                j->pos -= 6;
                return rnnrt_json_fail(j, "lone high surrogate escape in a string");
            }
            j->pos += 2;
            if (js_hex4(j, &lo) != 0) {
                return -1;
            }
            if (lo < 0xdc00 || lo > 0xdfff) {
                j->pos -= 12;
                return rnnrt_json_fail(j, "lone high surrogate escape in a string");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        o += (size_t)utf8_put((unsigned char *)j->str + o, cp);
    }
    j->pos = end + 1;
    j->str[o] = '\0';
    j->strlen = o;
    return 0;
}

/* A number at the current position (after white space), checked against JSON's grammar.
 * *is_uint says whether it is a plain non-negative integer (no sign, fraction or exponent)
 * that fits in 64 bits, which is then in *v: the only numbers a header needs. */
int rnnrt_json_number(Json *j, uint64_t *v, int *is_uint)
{
    size_t p;
    int digits = 0;

    rnnrt_json_ws(j);
    p = j->pos;
    *v = 0;
    *is_uint = 1;
    if (p < j->len && j->s[p] == '-') {
        *is_uint = 0;
        p++;
    }
    if (p < j->len && j->s[p] == '0') {
        p++;
        digits = 1;
    } else {
        while (p < j->len && j->s[p] >= '0' && j->s[p] <= '9') {
            unsigned d = j->s[p++] - '0';
            if (*v > (UINT64_MAX - d) / 10) {
                *is_uint = 0;
            }
            *v = *v * 10 + d;
            digits++;
        }
    }
    if (!digits) {
        return rnnrt_json_fail(j, "expected a value");
    }
    if (p < j->len && j->s[p] >= '0' && j->s[p] <= '9') {
        j->pos = p;
        return rnnrt_json_fail(j, "number with a leading zero");
    }
    if (p < j->len && j->s[p] == '.') {
        *is_uint = 0;
        if (++p >= j->len || j->s[p] < '0' || j->s[p] > '9') {
            j->pos = p;
            return rnnrt_json_fail(j, "expected a digit after '.'");
        }
        while (p < j->len && j->s[p] >= '0' && j->s[p] <= '9') {
            p++;
        }
    }
    if (p < j->len && (j->s[p] == 'e' || j->s[p] == 'E')) {
        *is_uint = 0;
        p++;
        if (p < j->len && (j->s[p] == '+' || j->s[p] == '-')) {
            p++;
        }
        if (p >= j->len || j->s[p] < '0' || j->s[p] > '9') {
            j->pos = p;
            return rnnrt_json_fail(j, "expected a digit in an exponent");
        }
        while (p < j->len && j->s[p] >= '0' && j->s[p] <= '9') {
            p++;
        }
    }
    j->pos = p;
    return 0;
}

/* One of the words true, false, null. */
static int js_word(Json *j)
{
    static const char *const words[] = {"true", "false", "null"};

    rnnrt_json_ws(j);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (j->len - j->pos >= n && memcmp(j->s + j->pos, words[i], n) == 0) {
            j->pos += n;
            return 0;
        }
    }
    return rnnrt_json_fail(j, "expected a value");
}

/* Reads past any value, checking its syntax (a field nobody uses must still be JSON). */
int rnnrt_json_skip(Json *j, int depth)
{
    int c = rnnrt_json_peek(j), close;
    uint64_t v;
    int is_uint;

    if (c == '"') {
        return rnnrt_json_string(j);
    }
    if (c != '{' && c != '[') {
        return c == '-' || (c >= '0' && c <= '9') ? rnnrt_json_number(j, &v, &is_uint)
                                                  : js_word(j);
    }
    if (depth >= JSON_MAX_DEPTH) {
        return rnnrt_json_fail(j, "values nested too deeply");
    }
    close = c == '{' ? '}' : ']';
    j->pos++;
    if (rnnrt_json_peek(j) == close) {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (c == '{' &&
            (rnnrt_json_string(j) != 0 || rnnrt_json_expect(j, ':', "expected ':'") != 0)) {
            return -1;
        }
        if (rnnrt_json_skip(j, depth + 1) != 0) {
            return -1;
        }
        if (rnnrt_json_peek(j) == close) {
            j->pos++;
            return 0;
        }
        if (rnnrt_json_expect(j, ',', c == '{' ? "expected ',' or '}'" : "expected ',' or ']'") !=
            0) {
            return -1;
        }
    }
}

/* Calls `item(j, ctx, index)` on each value of an array (after white space); *count gets
 * how many there were. The callback reads (or skips) the value.
 * `item` returns -1 on a syntax fault, else 0. */
int rnnrt_json_array(Json *j, size_t *count, int (*item)(Json *, void *, size_t), void *ctx)
{
    *count = 0;
    if (rnnrt_json_expect(j, '[', "expected '['") != 0) {
        return -1;
    }
    if (rnnrt_json_peek(j) == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (item(j, ctx, (*count)++) != 0) {
            return -1;
        }
        if (rnnrt_json_peek(j) == ']') {
            j->pos++;
            return 0;
        }
        if (rnnrt_json_expect(j, ',', "expected ',' or ']'") != 0) {
            return -1;
        }
    }
}
