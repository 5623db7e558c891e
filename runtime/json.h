/* json.h — internal to librnnrt: UTF-8 checking and the strict JSON reader (json.c) that
 * safetensors.c reads its header with, and the UTF-8 decoding st_write.c escapes names with.
 * Not part of the public rnnrt.h API; the rnnrt_json_ and rnnrt_utf8_ prefixes keep the
 * names clear of the caller's.
 */
#ifndef RNNRT_JSON_H
#define RNNRT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "rnnrt.h"

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/* The length (1-4) of the well-formed UTF-8 sequence at s[0..n) (n >= 1), its code point in
 * *cp; 0 when there is none: a stray continuation byte, a truncated or overlong sequence, a
 * surrogate or a code point above U+10FFFF (RFC 3629, what Rust's from_utf8 accepts). */
int rnnrt_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);

/* The offset of the first byte of s[0..n) that is not well-formed UTF-8, or n. */
size_t rnnrt_utf8_valid_prefix(const unsigned char *s, size_t n);

/* ---- the strict JSON reader ----------------------------------------------------------- */

/* The header is strict JSON (RFC 8259), read here rather than by a YAML parser: YAML's
 * aliases, anchors, tags, comments, single quotes and plain scalars are all refused, as the
 * reference implementation (serde_json) refuses them, and so are its limits (1024-character
 * keys) and gaps (surrogate-pair escapes). Whole-text faults (syntax) stop the reading with
 * one message, "<path>: malformed JSON header: <what> (at header byte <pos>)", in `err`;
 * the caller collects faults of single values itself.
 *
 * Every reader below starts after white space and returns 0, or -1 once a fault is reported
 * (`bad` is then set and later reports are dropped). */
typedef struct Json {
    const unsigned char *s; /* the text, `len` bytes, valid UTF-8 (not owned) */
    size_t len, pos;
    const char *path; /* names the file in messages */
    RnnrtError *err;
    int bad;       /* a syntax error (or out of memory) was reported: stop */
    char *str;     /* the last string read, decoded and NUL-terminated (owned: free it) */
    size_t strlen; /* its length in bytes (it may hold NULs from \u0000) */
    size_t strcap;
} Json;

/* Reports that memory ran out while reading the header (once); returns -1. */
int rnnrt_json_oom(Json *j);

/* Reports `what` as a fault of the whole text at the current position (once); returns -1. */
int rnnrt_json_fail(Json *j, const char *what);

/* Skips white space (space, tab, newline, carriage return). */
void rnnrt_json_ws(Json *j);

/* The next byte after white space (not consumed), or 0 at the end. */
int rnnrt_json_peek(Json *j);

/* Consumes `c` after white space, or reports `what` ("expected ..."). */
int rnnrt_json_expect(Json *j, int c, const char *what);

/* A string, decoded into j->str / j->strlen (grown as needed). Surrogate-pair escapes become
 * one code point; a lone surrogate, a raw control character and an unknown escape are
 * refused. */
int rnnrt_json_string(Json *j);

/* A number, checked against JSON's grammar. *is_uint says whether it is a plain non-negative
 * integer (no sign, fraction or exponent) that fits in 64 bits, which is then in *v. */
int rnnrt_json_number(Json *j, uint64_t *v, int *is_uint);

/* Reads past any value at nesting `depth`, checking its syntax (a field nobody uses must
 * still be JSON); values nested too deeply are refused. */
int rnnrt_json_skip(Json *j, int depth);

/* Reads an array, calling `item(j, ctx, index)` to read (or skip) each value; *count gets
 * how many there were. `item` returns -1 on a syntax fault, else 0. */
int rnnrt_json_array(Json *j, size_t *count, int (*item)(Json *, void *, size_t), void *ctx);

#endif
