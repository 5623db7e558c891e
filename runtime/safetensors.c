/* safetensors.c — safetensors reading and writing for librnnrt, and rnnrt_params_load.
 * Owns the strict JSON reader and the validation of the header (names, dtypes, shapes, and
 * offsets that tile the data buffer, as the reference implementation checks them), the
 * compact JSON header writer (the atomic file write is rt_util.c's), and the matching of a
 * tensor file against the model's parameter table.
 */
#define _POSIX_C_SOURCE 200809L

#include "rnnrt.h"
#include "rt_util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define ST_MAX_HEADER 100000000ULL /* the limit of the reference (Rust) implementation */
#define MAX_LINES 20               /* error lines reported before "... and N more" */
#define SHAPE_BUF (RNNRT_MAX_DIMS * 24 + 4)

static const char *const dtype_names[] = {"F32", "F64", "I32", "I64"};

/* ---- error reporting ---------------------------------------------------------------- */

/* Collects the lines of a multi-problem error report. */
typedef struct ErrList {
    RnnrtError *err;
    int lines;   /* written into err->msg */
    int dropped; /* over the cap, only counted */
} ErrList;

static void err_line(ErrList *e, const char *fmt, ...)
{
    va_list ap;
    size_t len;

    if (e->lines >= MAX_LINES) {
        e->dropped++;
        return;
    }
    e->lines++;
    if (!e->err) {
        return;
    }
    len = strlen(e->err->msg);
    if (len + 2 >= sizeof e->err->msg) {
        return;
    }
    if (len > 0) {
        e->err->msg[len++] = '\n';
        e->err->msg[len] = '\0';
    }
    va_start(ap, fmt);
    vsnprintf(e->err->msg + len, sizeof e->err->msg - len, fmt, ap);
    va_end(ap);
}

/* Appends "... and N more" if lines were dropped; returns -1 if anything was reported. */
static int err_finish(ErrList *e)
{
    if (e->dropped > 0 && e->err) {
        size_t len = strlen(e->err->msg);
        snprintf(e->err->msg + len, sizeof e->err->msg - len, "%s... and %d more",
                 len > 0 ? "\n" : "", e->dropped);
    }
    return e->lines + e->dropped > 0 ? -1 : 0;
}

/* ---- small helpers ------------------------------------------------------------------ */

/* "[256, 10]" */
static const char *fmt_shape(char *buf, size_t cap, int ndim, const long *shape)
{
    size_t n = 0;

    buf[n++] = '[';
    buf[n] = '\0';
    for (int i = 0; i < ndim && n < cap; i++) {
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %ld" : "%ld", shape[i]);
    }
    if (n + 2 <= cap) {
        buf[n++] = ']';
        buf[n] = '\0';
    }
    return buf;
}

/* Bytes of `ndim` dims of `size`-byte elements into *out; -1 when the product of the
 * non-zero dims overflows int64, so that no product of any of the dims, in any order, that
 * a caller forms later can overflow either. */
static int shape_bytes(int ndim, const long *shape, int size, uint64_t *out)
{
    uint64_t n = (uint64_t)size;
    int zero = 0;

    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d == 0) {
            zero = 1;
            continue;
        }
        if (n > (uint64_t)INT64_MAX / d) {
            return -1;
        }
        n *= d;
    }
    *out = zero ? 0 : n;
    return 0;
}

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/* The length (1-4) of the well-formed UTF-8 sequence at s[0..n), its code point in *cp; 0
 * when there is none: a stray continuation byte, a truncated or overlong sequence, a
 * surrogate or a code point above U+10FFFF (RFC 3629, what Rust's from_utf8 accepts). */
static int utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
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
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint32_t cp;

    while (i < n) {
        int k = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i, &cp);
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

/* ---- reading: the JSON header --------------------------------------------------------- */

/* The header is strict JSON (RFC 8259), read here rather than by a YAML parser: YAML's
 * aliases, anchors, tags, comments, single quotes and plain scalars are all refused, as the
 * reference implementation (serde_json) refuses them, and so are its limits (1024-character
 * keys) and gaps (surrogate-pair escapes). Whole-header faults (syntax) stop the reading
 * with one message; faults of single tensors are collected, one line each. */

#define JSON_MAX_DEPTH 64 /* nesting of values nobody reads (unknown fields), then refused */

typedef struct Json {
    const unsigned char *s; /* the header text, `len` bytes, valid UTF-8 */
    size_t len, pos;
    const char *path;
    RnnrtError *err;
    int bad;       /* a syntax error (or out of memory) was reported: stop */
    char *str;     /* the last string read, decoded and NUL-terminated (owned) */
    size_t strlen; /* its length in bytes (it may hold NULs from \u0000) */
    size_t strcap;
} Json;

/* Reports that memory ran out while reading the header; returns -1. */
static int js_oom(Json *j)
{
    if (!j->bad) {
        rnnrt_util_set_err(j->err, "%s: out of memory reading the header", j->path);
        j->bad = 1;
    }
    return -1;
}

/* Reports a fault of the whole header at the current position; returns -1. */
static int js_fail(Json *j, const char *what)
{
    if (!j->bad) {
        rnnrt_util_set_err(j->err, "%s: malformed JSON header: %s (at header byte %zu)", j->path,
                           what, j->pos);
        j->bad = 1;
    }
    return -1;
}

static void js_ws(Json *j)
{
    while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                               j->s[j->pos] == '\n' || j->s[j->pos] == '\r')) {
        j->pos++;
    }
}

/* The next byte after white space, or 0 at the end. */
static int js_peek(Json *j)
{
    js_ws(j);
    return j->pos < j->len ? j->s[j->pos] : 0;
}

/* Consumes `c` after white space, or reports `what` is expected. */
static int js_expect(Json *j, int c, const char *what)
{
    if (js_peek(j) != c) {
        return js_fail(j, what);
    }
    j->pos++;
    return 0;
}

/* Four hex digits at the current position into *v. */
static int js_hex4(Json *j, uint32_t *v)
{
    *v = 0;
    if (j->len - j->pos < 4) {
        return js_fail(j, "truncated \\u escape");
    }
    for (int i = 0; i < 4; i++) {
        int c = j->s[j->pos++], d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (c | 0x20) - 'a' + 10;
        } else {
            j->pos--;
            return js_fail(j, "bad hex digit in a \\u escape");
        }
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* A string at the current position (after white space), decoded into j->str. Surrogate-pair
 * escapes (what Python's json.dumps writes for U+10000 and above) become one code point; a
 * lone surrogate, a raw control character and an unknown escape are refused. */
static int js_string(Json *j)
{
    size_t start, end, o = 0;

    if (js_peek(j) != '"') {
        return js_fail(j, "expected a string");
    }
    start = ++j->pos;
    for (end = start; end < j->len && j->s[end] != '"'; end++) {
        if (j->s[end] == '\\' && end + 1 < j->len) {
            end++;
        }
    }
    if (end >= j->len) {
        return js_fail(j, "unterminated string");
    }
    /* decoding never lengthens: an escape of 2, 6 or 12 bytes gives at most 4 */
    if (end - start + 1 > j->strcap) {
        char *p = realloc(j->str, end - start + 1);
        if (!p) {
            return js_oom(j);
        }
        j->str = p;
        j->strcap = end - start + 1;
    }
    while (j->pos < end) {
        unsigned c = j->s[j->pos];
        uint32_t cp, lo;
        if (c < 0x20) {
            return js_fail(j, "control character in a string (write it as \\u00XX)");
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
            return js_fail(j, "unknown escape in a string");
        }
        if (js_hex4(j, &cp) != 0) {
            return -1;
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            j->pos -= 6;
            return js_fail(j, "lone low surrogate escape in a string");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - j->pos < 6 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u') {
                j->pos -= 6;
                return js_fail(j, "lone high surrogate escape in a string");
            }
            j->pos += 2;
            if (js_hex4(j, &lo) != 0) {
                return -1;
            }
            if (lo < 0xdc00 || lo > 0xdfff) {
                j->pos -= 12;
                return js_fail(j, "lone high surrogate escape in a string");
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
static int js_number(Json *j, uint64_t *v, int *is_uint)
{
    size_t p;
    int digits = 0;

    js_ws(j);
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
        return js_fail(j, "expected a value");
    }
    if (p < j->len && j->s[p] >= '0' && j->s[p] <= '9') {
        j->pos = p;
        return js_fail(j, "number with a leading zero");
    }
    if (p < j->len && j->s[p] == '.') {
        *is_uint = 0;
        if (++p >= j->len || j->s[p] < '0' || j->s[p] > '9') {
            j->pos = p;
            return js_fail(j, "expected a digit after '.'");
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
            return js_fail(j, "expected a digit in an exponent");
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

    js_ws(j);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (j->len - j->pos >= n && memcmp(j->s + j->pos, words[i], n) == 0) {
            j->pos += n;
            return 0;
        }
    }
    return js_fail(j, "expected a value");
}

/* Reads past any value, checking its syntax (a field nobody uses must still be JSON). */
static int js_skip(Json *j, int depth)
{
    int c = js_peek(j), close;
    uint64_t v;
    int is_uint;

    if (c == '"') {
        return js_string(j);
    }
    if (c != '{' && c != '[') {
        return c == '-' || (c >= '0' && c <= '9') ? js_number(j, &v, &is_uint) : js_word(j);
    }
    if (depth >= JSON_MAX_DEPTH) {
        return js_fail(j, "values nested too deeply");
    }
    close = c == '{' ? '}' : ']';
    j->pos++;
    if (js_peek(j) == close) {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (c == '{' && (js_string(j) != 0 || js_expect(j, ':', "expected ':'") != 0)) {
            return -1;
        }
        if (js_skip(j, depth + 1) != 0) {
            return -1;
        }
        if (js_peek(j) == close) {
            j->pos++;
            return 0;
        }
        if (js_expect(j, ',', c == '{' ? "expected ',' or '}'" : "expected ',' or ']'") != 0) {
            return -1;
        }
    }
}

/* Calls `item(j, ctx, index)` on each value of an array (after white space), at most
 * `max` of them; *count gets how many there were. The callback reads (or skips) the value.
 * `item` returns -1 on a syntax fault, else 0. */
static int js_array(Json *j, size_t *count, int (*item)(Json *, void *, size_t), void *ctx)
{
    *count = 0;
    if (js_expect(j, '[', "expected '['") != 0) {
        return -1;
    }
    if (js_peek(j) == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (item(j, ctx, (*count)++) != 0) {
            return -1;
        }
        if (js_peek(j) == ']') {
            j->pos++;
            return 0;
        }
        if (js_expect(j, ',', "expected ',' or ']'") != 0) {
            return -1;
        }
    }
}

/* Where a tensor's bytes are, relative to the start of the data buffer. */
typedef struct Extent {
    uint64_t begin, end;
} Extent;

/* The unsigned integers of a `shape` or `data_offsets` list as they are read. */
typedef struct UintList {
    uint64_t v[RNNRT_MAX_DIMS];
    size_t max; /* kept: at most this many */
    int bad;    /* an item was not a non-negative integer */
} UintList;

static int read_uint_item(Json *j, void *ctx, size_t i)
{
    UintList *l = ctx;
    uint64_t v;
    int is_uint;
    int c = js_peek(j);

    if (c != '-' && (c < '0' || c > '9')) {
        l->bad = 1;
        return js_skip(j, 1);
    }
    if (js_number(j, &v, &is_uint) != 0) {
        return -1;
    }
    if (!is_uint) {
        l->bad = 1;
    } else if (i < l->max) {
        l->v[i] = v;
    }
    return 0;
}

/* The fields of one tensor's header entry, as read. */
typedef struct Entry {
    int dtype;        /* index into dtype_names; -1 not given, -2 unsupported */
    char dname[32];   /* an unsupported dtype as written (cut) */
    int dtype_string; /* the dtype was a string */
    int has_shape, has_offsets;
    UintList shape, offs;
    size_t nshape, noffs;
    const char *dup; /* a field given twice */
} Entry;

/* Reads one tensor's entry `{"dtype": .., "shape": [..], "data_offsets": [a, b]}` (other
 * fields are skipped, as the reference does) and checks it against the data buffer of
 * `data_len` bytes: t and *ext filled and 0, or one line in `e` and 1; -1 on a syntax fault. */
static int parse_entry(Json *j, ErrList *e, uint64_t data_len, RnnrtTensor *t, Extent *ext)
{
    const char *path = j->path, *name = t->name;
    Entry en;
    uint64_t nbytes;
    char sbuf[SHAPE_BUF];

    memset(&en, 0, sizeof en);
    en.dtype = -1;
    en.shape.max = RNNRT_MAX_DIMS;
    en.offs.max = 2;
    if (js_peek(j) != '{') {
        if (js_skip(j, 1) != 0) {
            return -1;
        }
        err_line(e, "%s: tensor '%s': header entry is not an object", path, name);
        return 1;
    }
    j->pos++;
    while (js_peek(j) != '}') {
        if (js_string(j) != 0 || js_expect(j, ':', "expected ':'") != 0) {
            return -1;
        }
        if (strcmp(j->str, "dtype") == 0 && j->strlen == 5) {
            en.dup = en.dtype != -1 || en.dtype_string ? "dtype" : en.dup;
            if (js_peek(j) != '"') {
                en.dtype = -2;
                if (js_skip(j, 1) != 0) {
                    return -1;
                }
            } else {
                if (js_string(j) != 0) {
                    return -1;
                }
                en.dtype_string = 1;
                en.dtype = -2;
                for (int i = 0; i < 4; i++) {
                    if (strcmp(j->str, dtype_names[i]) == 0 && j->strlen == 3) {
                        en.dtype = i;
                    }
                }
                snprintf(en.dname, sizeof en.dname, "%s", j->str);
            }
        } else if (strcmp(j->str, "shape") == 0 && j->strlen == 5) {
            en.dup = en.has_shape ? "shape" : en.dup;
            en.has_shape = 1;
            if (js_peek(j) != '[') {
                en.shape.bad = 1;
                if (js_skip(j, 1) != 0) {
                    return -1;
                }
            } else if (js_array(j, &en.nshape, read_uint_item, &en.shape) != 0) {
                return -1;
            }
        } else if (strcmp(j->str, "data_offsets") == 0 && j->strlen == 12) {
            en.dup = en.has_offsets ? "data_offsets" : en.dup;
            en.has_offsets = 1;
            if (js_peek(j) != '[') {
                en.offs.bad = 1;
                if (js_skip(j, 1) != 0) {
                    return -1;
                }
            } else if (js_array(j, &en.noffs, read_uint_item, &en.offs) != 0) {
                return -1;
            }
        } else if (js_skip(j, 1) != 0) {
            return -1;
        }
        if (js_peek(j) == ',') {
            j->pos++;
            if (js_peek(j) == '}') {
                return js_fail(j, "trailing ',' in an object");
            }
        } else if (js_peek(j) != '}') {
            return js_fail(j, "expected ',' or '}'");
        }
    }
    j->pos++;

    if (en.dup) {
        err_line(e, "%s: tensor '%s': '%s' is given twice", path, name, en.dup);
        return 1;
    }
    if (en.dtype == -1 || !en.has_shape || !en.has_offsets) {
        err_line(e, "%s: tensor '%s': header entry has no '%s'", path, name,
                 en.dtype == -1  ? "dtype"
                 : !en.has_shape ? "shape"
                                 : "data_offsets");
        return 1;
    }
    if (en.dtype < 0) {
        if (en.dtype_string) {
            err_line(e,
                     "%s: tensor '%s' has unsupported dtype %s (expected F32, F64, I32 "
                     "or I64)",
                     path, name, en.dname);
        } else {
            err_line(e, "%s: tensor '%s': 'dtype' is not a string", path, name);
        }
        return 1;
    }
    t->dtype = (RnnrtDtype)en.dtype;
    if (en.nshape > RNNRT_MAX_DIMS) {
        err_line(e, "%s: tensor '%s' has more than %d dimensions", path, name, RNNRT_MAX_DIMS);
        return 1;
    }
    t->ndim = (int)en.nshape;
    for (int i = 0; i < t->ndim; i++) {
        en.shape.bad |= en.shape.v[i] > LONG_MAX;
        t->shape[i] = en.shape.bad ? 0 : (long)en.shape.v[i];
    }
    if (en.shape.bad) {
        err_line(e, "%s: tensor '%s': 'shape' must be a list of non-negative integers", path,
                 name);
        return 1;
    }
    if (shape_bytes(t->ndim, t->shape, rnnrt_dtype_size(t->dtype), &nbytes) != 0) {
        err_line(e, "%s: tensor '%s' has an impossibly large shape %s", path, name,
                 fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape));
        return 1;
    }
    if (en.offs.bad || en.noffs != 2) {
        err_line(e, "%s: tensor '%s': 'data_offsets' must be two non-negative integers", path,
                 name);
        return 1;
    }
    if (en.offs.v[0] > en.offs.v[1] || en.offs.v[1] > data_len) {
        err_line(e,
                 "%s: tensor '%s' has data_offsets [%llu, %llu] outside the data buffer "
                 "(%llu bytes)",
                 path, name, (unsigned long long)en.offs.v[0], (unsigned long long)en.offs.v[1],
                 (unsigned long long)data_len);
        return 1;
    }
    if (en.offs.v[1] - en.offs.v[0] != nbytes) {
        err_line(e,
                 "%s: tensor '%s' (%s, shape %s) needs %llu bytes, but its data_offsets "
                 "[%llu, %llu] span %llu",
                 path, name, dtype_names[t->dtype],
                 fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape), (unsigned long long)nbytes,
                 (unsigned long long)en.offs.v[0], (unsigned long long)en.offs.v[1],
                 (unsigned long long)(en.offs.v[1] - en.offs.v[0]));
        return 1;
    }
    ext->begin = en.offs.v[0];
    ext->end = en.offs.v[1];
    return 0;
}

/* `__metadata__`: null, or an object of strings (the reference's HashMap<String, String>). */
static int parse_metadata(Json *j, ErrList *e)
{
    int ok = 1;

    if (js_peek(j) != '{') {
        if (js_peek(j) == 'n' && j->len - j->pos >= 4 && memcmp(j->s + j->pos, "null", 4) == 0) {
            j->pos += 4;
            return 0;
        }
        if (js_skip(j, 1) != 0) {
            return -1;
        }
        err_line(e, "%s: header's '__metadata__' is not an object", j->path);
        return 0;
    }
    j->pos++;
    while (js_peek(j) != '}') {
        if (js_string(j) != 0 || js_expect(j, ':', "expected ':'") != 0) {
            return -1;
        }
        ok &= js_peek(j) == '"';
        if (js_skip(j, 1) != 0) {
            return -1;
        }
        if (js_peek(j) == ',') {
            j->pos++;
            if (js_peek(j) == '}') {
                return js_fail(j, "trailing ',' in an object");
            }
        } else if (js_peek(j) != '}') {
            return js_fail(j, "expected ',' or '}'");
        }
    }
    j->pos++;
    if (!ok) {
        err_line(e, "%s: header's '__metadata__' has a value that is not a string", j->path);
    }
    return 0;
}

/* ---- reading: checks over all tensors ------------------------------------------------- */

/* A name with its place, sorted to find duplicates in n log n. */
typedef struct NameRef {
    const char *name;
    int index;
} NameRef;

static int cmp_name_ref(const void *a, const void *b)
{
    const NameRef *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* The `n` names (NULL entries skipped) sorted with their indices into a fresh array; NULL
 * when out of memory. */
static NameRef *sorted_names(const RnnrtTensor *ts, int n, int *count)
{
    NameRef *refs = malloc((size_t)(n > 0 ? n : 1) * sizeof *refs);
    int k = 0;

    if (!refs) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (ts[i].name) {
            refs[k].name = ts[i].name;
            refs[k++].index = i;
        }
    }
    qsort(refs, (size_t)k, sizeof *refs, cmp_name_ref);
    *count = k;
    return refs;
}

/* Reports each name that occurs more than once (once per name, in sorted order), as
 * "<path>: <lead>duplicate tensor name '<name>'". -1 when out of memory. */
static int report_duplicates(ErrList *e, const char *path, const char *lead, const RnnrtTensor *ts,
                             int n)
{
    int k;
    NameRef *refs = sorted_names(ts, n, &k);

    if (!refs) {
        return -1;
    }
    for (int i = 1; i < k; i++) {
        if (strcmp(refs[i].name, refs[i - 1].name) == 0 &&
            (i == 1 || strcmp(refs[i - 1].name, refs[i - 2].name) != 0)) {
            err_line(e, "%s: %sduplicate tensor name '%s'", path, lead, refs[i].name);
        }
    }
    free(refs);
    return 0;
}

/* An extent with its tensor, sorted by (begin, end) as the reference sorts them. */
typedef struct ExtRef {
    Extent x;
    int index;
} ExtRef;

static int cmp_ext_ref(const void *a, const void *b)
{
    const ExtRef *p = a, *q = b;
    if (p->x.begin != q->x.begin) {
        return p->x.begin < q->x.begin ? -1 : 1;
    }
    if (p->x.end != q->x.end) {
        return p->x.end < q->x.end ? -1 : 1;
    }
    return (p->index > q->index) - (p->index < q->index);
}

/* The tensors, sorted by offsets, must tile the data buffer exactly: from 0 to its end, no
 * byte shared by two tensors (one could be changed through the other), none in no tensor
 * (the reference's MetadataIncompleteBuffer). Zero-size tensors may sit at any boundary.
 * Reports every overlap and hole. -1 when out of memory. */
static int check_tiling(ErrList *e, const char *path, const RnnrtTensorFile *f, const Extent *exts,
                        uint64_t data_len)
{
    ExtRef *refs = malloc((size_t)(f->n > 0 ? f->n : 1) * sizeof *refs);
    uint64_t at = 0;
    int last = -1; /* the tensor that ends at `at` */

    if (!refs) {
        return -1;
    }
    for (int i = 0; i < f->n; i++) {
        refs[i].x = exts[i];
        refs[i].index = i;
    }
    qsort(refs, (size_t)f->n, sizeof *refs, cmp_ext_ref);
    for (int i = 0; i < f->n; i++) {
        const Extent *x = &refs[i].x;
        const char *name = f->t[refs[i].index].name;
        if (x->begin < at) {
            err_line(e,
                     "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap in the "
                     "data buffer",
                     path, f->t[last].name, (unsigned long long)exts[last].begin,
                     (unsigned long long)exts[last].end, name, (unsigned long long)x->begin,
                     (unsigned long long)x->end);
        } else if (x->begin > at) {
            err_line(e, "%s: bytes [%llu, %llu) of the data buffer belong to no tensor", path,
                     (unsigned long long)at, (unsigned long long)x->begin);
        }
        if (x->end >= at) {
            at = x->end;
            last = refs[i].index;
        }
    }
    if (at < data_len) {
        err_line(e, "%s: bytes [%llu, %llu) of the data buffer belong to no tensor", path,
                 (unsigned long long)at, (unsigned long long)data_len);
    }
    free(refs);
    return 0;
}

/* ---- reading: the file ---------------------------------------------------------------- */

/* Where the bytes come from: a file, or a buffer in memory. */
typedef struct Src {
    FILE *f;
    const unsigned char *mem;
    uint64_t size; /* bytes in all */
} Src;

/* Copies n bytes at offset `off` into dst; -1 when they are not all there. */
static int src_read(const Src *s, uint64_t off, void *dst, size_t n)
{
    if (off > s->size || n > s->size - off) {
        return -1;
    }
    if (s->mem) {
        if (n) {
            memcpy(dst, s->mem + off, n);
        }
        return 0;
    }
    return fseeko(s->f, (off_t)off, SEEK_SET) == 0 && fread(dst, 1, n, s->f) == n ? 0 : -1;
}

/* Grows the tensor and extent arrays to hold one more; -1 when out of memory. */
static int grow_tensors(RnnrtTensorFile *out, Extent **exts, int *cap)
{
    RnnrtTensor *t;
    Extent *x;
    int ncap;

    if (out->n < *cap) {
        return 0;
    }
    if (*cap > INT_MAX / 2) {
        return -1;
    }
    ncap = *cap ? *cap * 2 : 16;
    t = realloc(out->t, (size_t)ncap * sizeof *t);
    if (!t) {
        return -1;
    }
    out->t = t;
    x = realloc(*exts, (size_t)ncap * sizeof *x);
    if (!x) {
        return -1;
    }
    *exts = x;
    *cap = ncap;
    return 0;
}

/* Parses the `len`-byte header into out->t (names, dtypes, shapes) and *exts, then checks
 * the names and the tiling of the `data_len`-byte data buffer. */
static int parse_header(const char *path, const char *hdr, size_t len, uint64_t data_len,
                        RnnrtTensorFile *out, Extent **exts, RnnrtError *err)
{
    Json j = {(const unsigned char *)hdr, len, 0, path, err, 0, NULL, 0, 0};
    ErrList e = {err, 0, 0};
    int cap = 0, have_meta = 0, rc = -1;
    size_t bad = utf8_valid_prefix(j.s, len);

    if (bad < len) {
        rnnrt_util_set_err(err, "%s: header is not valid UTF-8 (at header byte %zu)", path, bad);
        return -1;
    }
    if (js_peek(&j) != '{') {
        rnnrt_util_set_err(err, "%s: header is not a JSON object", path);
        return -1;
    }
    j.pos++;
    while (js_peek(&j) != '}') {
        RnnrtTensor *t;
        if (js_string(&j) != 0 || js_expect(&j, ':', "expected ':'") != 0) {
            goto done;
        }
        if (strlen(j.str) != j.strlen) {
            err_line(&e, "%s: header has a tensor name containing a NUL character", path);
            if (js_skip(&j, 1) != 0) {
                goto done;
            }
        } else if (strcmp(j.str, "__metadata__") == 0) {
            if (have_meta++) {
                err_line(&e, "%s: header has '__metadata__' twice", path);
            }
            if (parse_metadata(&j, &e) != 0) {
                goto done;
            }
        } else {
            if (grow_tensors(out, exts, &cap) != 0 || !(out->t[out->n].name = strdup(j.str))) {
                js_oom(&j);
                goto done;
            }
            t = &out->t[out->n++];
            t->data = NULL;
            t->ndim = 0;
            if (parse_entry(&j, &e, data_len, t, &(*exts)[out->n - 1]) < 0) {
                goto done;
            }
        }
        if (js_peek(&j) == ',') {
            j.pos++;
            if (js_peek(&j) == '}') {
                js_fail(&j, "trailing ',' in an object");
                goto done;
            }
        } else if (js_peek(&j) != '}') {
            js_fail(&j, "expected ',' or '}'");
            goto done;
        }
    }
    j.pos++;
    js_ws(&j);
    if (j.pos != j.len) { /* a NUL too: only white space may pad the header */
        js_fail(&j, "content after the header object");
        goto done;
    }
    if (report_duplicates(&e, path, "", out->t, out->n) != 0 ||
        (e.lines == 0 && check_tiling(&e, path, out, *exts, data_len) != 0)) {
        js_oom(&j);
        goto done;
    }
    rc = 0;
done:
    free(j.str);
    return rc == 0 && !j.bad ? err_finish(&e) : -1;
}

/* Reads each tensor's bytes; the data buffer starts at offset `base` of `src`. */
static int read_data(const Src *src, const char *path, uint64_t base, RnnrtTensorFile *out,
                     const Extent *exts, RnnrtError *err)
{
    for (int i = 0; i < out->n; i++) {
        RnnrtTensor *t = &out->t[i];
        size_t bytes = (size_t)(exts[i].end - exts[i].begin);

        t->data = malloc(bytes ? bytes : 1);
        if (!t->data) {
            rnnrt_util_set_err(err, "%s: out of memory for tensor '%s' (%zu bytes)", path, t->name,
                               bytes);
            return -1;
        }
        if (bytes && src_read(src, base + exts[i].begin, t->data, bytes) != 0) {
            rnnrt_util_set_err(err, "%s: read error in tensor '%s'", path, t->name);
            return -1;
        }
        if (!rnnrt_util_host_is_le()) {
            int size = rnnrt_dtype_size(t->dtype);
            rnnrt_util_byteswap(t->data, bytes / (size_t)size, size);
        }
    }
    return 0;
}

/* Reads a whole safetensors file from `src`; `path` names it in messages. */
static int st_read_src(const Src *src, const char *path, RnnrtTensorFile *out, RnnrtError *err)
{
    unsigned char lenb[8];
    uint64_t hlen = 0, avail;
    Extent *exts = NULL;
    char *hdr = NULL, what[4200];
    int rc = -1;

    if (src->size < 8 || src_read(src, 0, lenb, 8) != 0) {
        rnnrt_util_set_err(err, "%s: not a safetensors file (shorter than 8 bytes)", path);
        return -1;
    }
    for (int i = 0; i < 8; i++) {
        hlen |= (uint64_t)lenb[i] << (8 * i);
    }
    avail = src->size - 8;
    if (hlen > avail) {
        rnnrt_util_set_err(err,
                           "%s: not a safetensors file (header length %llu exceeds the %llu "
                           "bytes that follow it)",
                           path, (unsigned long long)hlen, (unsigned long long)avail);
        return -1;
    }
    if (hlen > ST_MAX_HEADER) {
        rnnrt_util_set_err(err, "%s: header length %llu is too large (limit %llu)", path,
                           (unsigned long long)hlen, ST_MAX_HEADER);
        return -1;
    }
    hdr = malloc((size_t)hlen + 1);
    if (!hdr) {
        rnnrt_util_set_err(err, "%s: out of memory for the %llu-byte header", path,
                           (unsigned long long)hlen);
        return -1;
    }
    if (src_read(src, 8, hdr, (size_t)hlen) != 0) {
        rnnrt_util_set_err(err, "%s: read error in the header", path);
        goto done;
    }
    hdr[hlen] = '\0';
    if (parse_header(path, hdr, (size_t)hlen, avail - hlen, out, &exts, err) != 0) {
        goto done;
    }
    /* the tensors tile the data buffer: their bytes in all are its size */
    snprintf(what, sizeof what, "%s: the tensor data", path);
    if (rnnrt_mem_check(avail - hlen, what, err) != 0) {
        goto done;
    }
    rc = read_data(src, path, 8 + hlen, out, exts, err);
done:
    if (rc != 0) {
        rnnrt_st_free(out);
    }
    free(exts);
    free(hdr);
    return rc;
}

int rnnrt_st_read(const char *path, RnnrtTensorFile *out, RnnrtError *err)
{
    struct stat st;
    Src src = {NULL, NULL, 0};
    int rc;

    memset(out, 0, sizeof *out);
    rnnrt_util_clear_err(err);
    src.f = rnnrt_util_open_read(path, err);
    if (!src.f) {
        return -1;
    }
    if (fstat(fileno(src.f), &st) != 0) {
        rnnrt_util_set_err(err, "%s: cannot stat: %s", path, strerror(errno));
        fclose(src.f);
        return -1;
    }
    src.size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    rc = st_read_src(&src, path, out, err);
    fclose(src.f);
    return rc;
}

int rnnrt_st_read_mem(const void *buf, size_t len, const char *name, RnnrtTensorFile *out,
                      RnnrtError *err)
{
    Src src = {NULL, buf, len};

    memset(out, 0, sizeof *out);
    rnnrt_util_clear_err(err);
    if (!buf && len) {
        rnnrt_util_set_err(err, "%s: no buffer", name);
        return -1;
    }
    if (!buf) {
        src.mem = (const unsigned char *)"";
    }
    return st_read_src(&src, name, out, err);
}

const RnnrtTensor *rnnrt_st_find(const RnnrtTensorFile *f, const char *name)
{
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->t[i].name, name) == 0) {
            return &f->t[i];
        }
    }
    return NULL;
}

void rnnrt_st_free(RnnrtTensorFile *f)
{
    if (!f) {
        return;
    }
    for (int i = 0; i < f->n; i++) {
        free(f->t[i].name);
        free(f->t[i].data);
    }
    free(f->t);
    f->t = NULL;
    f->n = 0;
}

/* ---- writing ------------------------------------------------------------------------ */

/* A growable string; `oom` is set (and sticks) when an allocation fails. */
typedef struct Sbuf {
    char *p;
    size_t len, cap;
    int oom;
} Sbuf;

static void sb_printf(Sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + (size_t)n + 1) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends n bytes. */
static void sb_put(Sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* `s` (well-formed UTF-8: check_tensors saw to it) as a JSON string literal. Quotes,
 * backslashes, controls (C0, DEL, C1) and the noncharacters U+FFFE and U+FFFF become \u
 * escapes, so that the header is plain printable text to any reader (YAML-based readers
 * refuse the raw characters); everything else passes through as UTF-8. */
static void sb_json_str(Sbuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, run = 0;

    sb_put(b, "\"", 1);
    while (i < n) {
        uint32_t cp;
        int k = utf8_seq(u + i, n - i, &cp);
        char esc[8];
        if (k == 0) { /* not reached after check_tensors; keeps the loop finite */
            k = 1;
            cp = 0xfffd;
        }
        if (cp >= 0x20 && cp != '"' && cp != '\\' && !(cp >= 0x7f && cp <= 0x9f) && cp != 0xfffe &&
            cp != 0xffff) {
            i += (size_t)k;
            run += (size_t)k;
            continue;
        }
        sb_put(b, s + i - run, run);
        run = 0;
        if (cp == '"' || cp == '\\') {
            esc[0] = '\\';
            esc[1] = (char)cp;
            sb_put(b, esc, 2);
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            sb_put(b, esc, 6);
        }
        i += (size_t)k;
    }
    sb_put(b, s + i - run, run);
    sb_put(b, "\"", 1);
}

/* Checks the tensors to write, reporting every problem as one line. */
static int check_tensors(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err)
{
    ErrList e = {err, 0, 0};

    if (n < 0 || (n > 0 && !ts)) {
        rnnrt_util_set_err(err, "%s: cannot write: invalid tensor list", path);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = &ts[i];
        const char *name = t->name ? t->name : "(null)";
        uint64_t nbytes = 0;
        int bad_dim = 0;

        if (!t->name || strcmp(t->name, "__metadata__") == 0) {
            err_line(&e, "%s: cannot write tensor %d: invalid name '%s'", path, i, name);
            continue;
        }
        if (utf8_valid_prefix((const unsigned char *)name, strlen(name)) != strlen(name)) {
            err_line(&e, "%s: cannot write tensor %d: its name is not valid UTF-8", path, i);
            continue;
        }
        if (t->dtype != RNNRT_F32 && t->dtype != RNNRT_F64 && t->dtype != RNNRT_I32 &&
            t->dtype != RNNRT_I64) {
            err_line(&e, "%s: cannot write tensor '%s': invalid dtype %d", path, name,
                     (int)t->dtype);
            continue;
        }
        if (t->ndim < 0 || t->ndim > RNNRT_MAX_DIMS) {
            err_line(&e, "%s: cannot write tensor '%s': ndim %d is out of range 0..%d", path, name,
                     t->ndim, RNNRT_MAX_DIMS);
            continue;
        }
        for (int j = 0; j < t->ndim; j++) {
            bad_dim |= t->shape[j] < 0;
        }
        if (bad_dim || shape_bytes(t->ndim, t->shape, rnnrt_dtype_size(t->dtype), &nbytes) != 0) {
            char sbuf[SHAPE_BUF];
            err_line(&e, "%s: cannot write tensor '%s': invalid shape %s", path, name,
                     fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape));
            continue;
        }
        if (nbytes > 0 && !t->data) {
            err_line(&e, "%s: cannot write tensor '%s': it has no data", path, name);
        }
    }
    if (report_duplicates(&e, path, "cannot write: ", ts, n) != 0) {
        rnnrt_util_set_err(err, "%s: out of memory", path);
        return -1;
    }
    return err_finish(&e);
}

int rnnrt_st_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err)
{
    unsigned char lenb[8];
    Sbuf hb = {NULL, 0, 0, 0};
    const void **bufs = NULL;
    size_t *lens = NULL;
    void **copies = NULL;
    uint64_t off = 0;
    int rc = -1;

    rnnrt_util_clear_err(err);
    if (check_tensors(path, ts, n, err) != 0) {
        return -1;
    }
    bufs = malloc((size_t)(n + 2) * sizeof *bufs);
    lens = malloc((size_t)(n + 2) * sizeof *lens);
    copies = calloc((size_t)n + 1, sizeof *copies);
    if (!bufs || !lens || !copies) {
        rnnrt_util_set_err(err, "%s: out of memory", path);
        goto done;
    }
    sb_printf(&hb, "{");
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = &ts[i];
        uint64_t nbytes = 0;

        shape_bytes(t->ndim, t->shape, rnnrt_dtype_size(t->dtype), &nbytes);
        sb_printf(&hb, i ? "," : "");
        sb_json_str(&hb, t->name);
        sb_printf(&hb, ":{\"dtype\":\"%s\",\"shape\":[", dtype_names[t->dtype]);
        for (int j = 0; j < t->ndim; j++) {
            sb_printf(&hb, j ? ",%ld" : "%ld", t->shape[j]);
        }
        sb_printf(&hb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                  (unsigned long long)(off + nbytes));
        off += nbytes;
        bufs[i + 2] = t->data;
        lens[i + 2] = (size_t)nbytes;
        if (!rnnrt_util_host_is_le() && nbytes > 0) {
            copies[i] = malloc((size_t)nbytes);
            if (!copies[i]) {
                rnnrt_util_set_err(err, "%s: out of memory", path);
                goto done;
            }
            memcpy(copies[i], t->data, (size_t)nbytes);
            rnnrt_util_byteswap(copies[i], (size_t)nbytes / (size_t)rnnrt_dtype_size(t->dtype),
                                rnnrt_dtype_size(t->dtype));
            bufs[i + 2] = copies[i];
        }
    }
    sb_printf(&hb, "}");
    while (!hb.oom && hb.len % 8 != 0) {
        sb_printf(&hb, " ");
    }
    if (hb.oom) {
        rnnrt_util_set_err(err, "%s: out of memory formatting the header", path);
        goto done;
    }
    for (int i = 0; i < 8; i++) {
        lenb[i] = (unsigned char)((uint64_t)hb.len >> (8 * i));
    }
    bufs[0] = lenb;
    lens[0] = 8;
    bufs[1] = hb.p;
    lens[1] = hb.len;
    rc = rnnrt_util_write_atomic(path, bufs, lens, n + 2, err);
done:
    if (copies) {
        for (int i = 0; i < n; i++) {
            free(copies[i]);
        }
    }
    free(copies);
    free(lens);
    free(bufs);
    free(hb.p);
    return rc;
}

/* ---- matching a tensor file against the parameter table ------------------------------ */

static int shape_equal(const RnnrtTensor *t, const RnnrtParamSpec *s)
{
    if (t->ndim != s->ndim) {
        return 0;
    }
    for (int i = 0; i < s->ndim; i++) {
        if (t->shape[i] != s->shape[i]) {
            return 0;
        }
    }
    return 1;
}

static void copy_tensor(const RnnrtTensor *t, long numel, int dbl, void *params, long offset)
{
    if (numel == 0) {
        return;
    }
    if (dbl) {
        double *dst = (double *)params + offset;
        if (t->dtype == RNNRT_F64) {
            memcpy(dst, t->data, (size_t)numel * sizeof *dst);
        } else {
            const float *src = t->data;
            for (long i = 0; i < numel; i++) {
                dst[i] = (double)src[i];
            }
        }
    } else {
        float *dst = (float *)params + offset;
        if (t->dtype == RNNRT_F32) {
            memcpy(dst, t->data, (size_t)numel * sizeof *dst);
        } else {
            const double *src = t->data;
            for (long i = 0; i < numel; i++) {
                dst[i] = (float)src[i];
            }
        }
    }
}

/* The first tensor called `name` through the sorted names `refs` (k of them), or NULL. */
static const RnnrtTensor *find_sorted(const RnnrtTensorFile *f, const NameRef *refs, int k,
                                      const char *name)
{
    int lo = 0, hi = k;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].name, name) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < k && strcmp(refs[lo].name, name) == 0 ? &f->t[refs[lo].index] : NULL;
}

int rnnrt_params_load(const RnnrtTensorFile *f, const RnnrtParamSpec *specs, int n, int dbl,
                      void *params, RnnrtError *err)
{
    ErrList e = {err, 0, 0};
    char have[SHAPE_BUF], want[SHAPE_BUF];
    char *used;
    NameRef *refs;
    int k = 0;

    rnnrt_util_clear_err(err);
    used = calloc(f->n > 0 ? (size_t)f->n : 1, 1);
    /* sorted once, looked up by bisection: n log n for files of any size */
    refs = sorted_names(f->t, f->n, &k);
    if (!used || !refs) {
        free(used);
        free(refs);
        rnnrt_util_set_err(err, "out of memory matching the parameter tensors");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const RnnrtParamSpec *s = &specs[i];
        const RnnrtTensor *t = find_sorted(f, refs, k, s->name);

        if (s->ndim < 1 || s->ndim > 2 || s->offset < 0) {
            err_line(&e, "invalid parameter spec for '%s' (ndim %d, offset %ld)", s->name, s->ndim,
                     s->offset);
            continue;
        }
        fmt_shape(want, sizeof want, s->ndim, s->shape);
        if (!t) {
            err_line(&e, "missing tensor '%s' (expected shape %s)", s->name, want);
            continue;
        }
        used[t - f->t] = 1;
        if (t->dtype != RNNRT_F32 && t->dtype != RNNRT_F64) {
            err_line(&e, "tensor '%s' has dtype %s, expected F32 or F64", s->name,
                     dtype_names[t->dtype]);
        }
        if (!shape_equal(t, s)) {
            err_line(&e, "tensor '%s' has shape %s, expected %s", s->name,
                     fmt_shape(have, sizeof have, t->ndim, t->shape), want);
        }
    }
    for (int j = 0; j < f->n; j++) {
        if (!used[j]) {
            err_line(&e, "unexpected tensor '%s' (shape %s)", f->t[j].name,
                     fmt_shape(have, sizeof have, f->t[j].ndim, f->t[j].shape));
        }
    }
    free(used);
    if (err_finish(&e) != 0) {
        free(refs);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = find_sorted(f, refs, k, specs[i].name);
        long numel =
            specs[i].ndim == 1 ? specs[i].shape[0] : specs[i].shape[0] * specs[i].shape[1];
        copy_tensor(t, numel, dbl, params, specs[i].offset);
    }
    free(refs);
    return 0;
}
