/* safetensors.c — safetensors reading and writing for librnnrt, and rnnrt_params_load.
 * Owns the parsing (with libyaml: JSON is YAML flow syntax) and validation of the JSON
 * header, the compact JSON header writer (the atomic file write is rt_util.c's),
 * and the matching of a tensor file against the model's parameter table.
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
#include <yaml.h>

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

/* Bytes of `ndim` dims of `size`-byte elements into *out; -1 on overflow of int64. */
static int shape_bytes(int ndim, const long *shape, int size, uint64_t *out)
{
    uint64_t n = (uint64_t)size;

    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d != 0 && n > (uint64_t)INT64_MAX / d) {
            return -1;
        }
        n *= d;
    }
    *out = n;
    return 0;
}

/* ---- reading ------------------------------------------------------------------------ */

/* Where a tensor's bytes are, relative to the start of the data buffer. */
typedef struct Extent {
    uint64_t begin, end;
} Extent;

/* A plain (unquoted) non-negative decimal integer scalar. */
static int scalar_u64(const yaml_node_t *n, uint64_t *out)
{
    const unsigned char *s;
    uint64_t v = 0;

    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
        n->data.scalar.length == 0) {
        return -1;
    }
    s = n->data.scalar.value;
    for (size_t i = 0; i < n->data.scalar.length; i++) {
        unsigned d = (unsigned)s[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int scalar_is(const yaml_node_t *n, const char *s)
{
    size_t len = strlen(s);

    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
           memcmp(n->data.scalar.value, s, len) == 0;
}

/* The value of `key` in mapping node `map`, or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (scalar_is(yaml_document_get_node(doc, p->key), key)) {
            return yaml_document_get_node(doc, p->value);
        }
    }
    return NULL;
}

/* Fills t's dtype and shape and *ext from one header entry, checking them against the
 * data buffer of `data_len` bytes. Reports a problem as one line of `e`. */
static int parse_entry(ErrList *e, const char *path, yaml_document_t *doc, const yaml_node_t *val,
                       uint64_t data_len, RnnrtTensor *t, Extent *ext)
{
    const char *name = t->name;
    yaml_node_t *dt, *shape, *offs;
    uint64_t nbytes, o[2];
    char sbuf[SHAPE_BUF];
    int found = -1;

    if (val->type != YAML_MAPPING_NODE) {
        err_line(e, "%s: tensor '%s': header entry is not an object", path, name);
        return -1;
    }
    dt = map_get(doc, val, "dtype");
    shape = map_get(doc, val, "shape");
    offs = map_get(doc, val, "data_offsets");
    if (!dt || !shape || !offs) {
        err_line(e, "%s: tensor '%s': header entry has no '%s'", path, name,
                 !dt      ? "dtype"
                 : !shape ? "shape"
                          : "data_offsets");
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (scalar_is(dt, dtype_names[i])) {
            found = i;
        }
    }
    if (found < 0) {
        if (dt->type == YAML_SCALAR_NODE) {
            err_line(e,
                     "%s: tensor '%s' has unsupported dtype %.*s (expected F32, F64, I32 "
                     "or I64)",
                     path, name, (int)(dt->data.scalar.length < 32 ? dt->data.scalar.length : 32),
                     (const char *)dt->data.scalar.value);
        } else {
            err_line(e, "%s: tensor '%s': 'dtype' is not a string", path, name);
        }
        return -1;
    }
    t->dtype = (RnnrtDtype)found;
    if (shape->type != YAML_SEQUENCE_NODE) {
        err_line(e, "%s: tensor '%s': 'shape' is not a list", path, name);
        return -1;
    }
    if (shape->data.sequence.items.top - shape->data.sequence.items.start > RNNRT_MAX_DIMS) {
        err_line(e, "%s: tensor '%s' has more than %d dimensions", path, name, RNNRT_MAX_DIMS);
        return -1;
    }
    t->ndim = 0;
    for (yaml_node_item_t *it = shape->data.sequence.items.start;
         it < shape->data.sequence.items.top; it++) {
        uint64_t d;
        if (scalar_u64(yaml_document_get_node(doc, *it), &d) != 0 || d > LONG_MAX) {
            err_line(e, "%s: tensor '%s': 'shape' must be a list of non-negative integers", path,
                     name);
            return -1;
        }
        t->shape[t->ndim++] = (long)d;
    }
    if (shape_bytes(t->ndim, t->shape, rnnrt_dtype_size(t->dtype), &nbytes) != 0) {
        err_line(e, "%s: tensor '%s' has an impossibly large shape %s", path, name,
                 fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape));
        return -1;
    }
    if (offs->type != YAML_SEQUENCE_NODE ||
        offs->data.sequence.items.top - offs->data.sequence.items.start != 2 ||
        scalar_u64(yaml_document_get_node(doc, offs->data.sequence.items.start[0]), &o[0]) != 0 ||
        scalar_u64(yaml_document_get_node(doc, offs->data.sequence.items.start[1]), &o[1]) != 0) {
        err_line(e, "%s: tensor '%s': 'data_offsets' must be two non-negative integers", path,
                 name);
        return -1;
    }
    if (o[0] > o[1] || o[1] > data_len) {
        err_line(e,
                 "%s: tensor '%s' has data_offsets [%llu, %llu] outside the data buffer "
                 "(%llu bytes)",
                 path, name, (unsigned long long)o[0], (unsigned long long)o[1],
                 (unsigned long long)data_len);
        return -1;
    }
    if (o[1] - o[0] != nbytes) {
        err_line(e,
                 "%s: tensor '%s' (%s, shape %s) needs %llu bytes, but its data_offsets "
                 "[%llu, %llu] span %llu",
                 path, name, dtype_names[found], fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape),
                 (unsigned long long)nbytes, (unsigned long long)o[0], (unsigned long long)o[1],
                 (unsigned long long)(o[1] - o[0]));
        return -1;
    }
    ext->begin = o[0];
    ext->end = o[1];
    return 0;
}

/* Walks the loaded header document into out->t (names, dtypes, shapes) and exts. */
static int walk_header(const char *path, yaml_document_t *doc, uint64_t data_len,
                       RnnrtTensorFile *out, Extent **exts, RnnrtError *err)
{
    ErrList e = {err, 0, 0};
    yaml_node_t *root = yaml_document_get_root_node(doc);
    size_t npairs;

    if (!root || root->type != YAML_MAPPING_NODE) {
        rnnrt_util_set_err(err, "%s: header is not a JSON object", path);
        return -1;
    }
    npairs = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    out->t = calloc(npairs ? npairs : 1, sizeof *out->t);
    *exts = calloc(npairs ? npairs : 1, sizeof **exts);
    if (!out->t || !*exts) {
        rnnrt_util_set_err(err, "%s: out of memory reading the header", path);
        return -1;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *val = yaml_document_get_node(doc, p->value);
        RnnrtTensor *t = &out->t[out->n];
        size_t len;

        if (!key || key->type != YAML_SCALAR_NODE || !val) {
            err_line(&e, "%s: header has a key that is not a string", path);
            continue;
        }
        len = key->data.scalar.length;
        if (strlen((const char *)key->data.scalar.value) != len) {
            err_line(&e, "%s: header has a tensor name containing a NUL character", path);
            continue;
        }
        if (scalar_is(key, "__metadata__")) {
            if (val->type != YAML_MAPPING_NODE) {
                err_line(&e, "%s: header's '__metadata__' is not an object", path);
            }
            continue;
        }
        t->name = malloc(len + 1);
        if (!t->name) {
            rnnrt_util_set_err(err, "%s: out of memory reading the header", path);
            return -1;
        }
        memcpy(t->name, key->data.scalar.value, len + 1);
        parse_entry(&e, path, doc, val, data_len, t, &(*exts)[out->n]);
        out->n++;
    }
    for (int i = 0; i < out->n; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(out->t[i].name, out->t[j].name) == 0) {
                err_line(&e, "%s: duplicate tensor name '%s'", path, out->t[i].name);
                break;
            }
        }
    }
    return err_finish(&e);
}

/* Parses the `len`-byte JSON header `hdr` with libyaml and walks it. */
static int parse_header(const char *path, const char *hdr, size_t len, uint64_t data_len,
                        RnnrtTensorFile *out, Extent **exts, RnnrtError *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    size_t i = 0;
    int rc;

    while (i < len && (hdr[i] == ' ' || hdr[i] == '\t' || hdr[i] == '\n' || hdr[i] == '\r')) {
        i++;
    }
    if (i == len || hdr[i] != '{') {
        rnnrt_util_set_err(err, "%s: header is not a JSON object", path);
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        rnnrt_util_set_err(err, "%s: out of memory initialising the JSON parser", path);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)hdr, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rnnrt_util_set_err(err, "%s: malformed JSON header: %s (at header byte %zu)", path,
                           parser.problem ? parser.problem : "parse error",
                           parser.problem_mark.index);
        yaml_parser_delete(&parser);
        return -1;
    }
    rc = walk_header(path, &doc, data_len, out, exts, err);
    yaml_document_delete(&doc);
    if (rc == 0) {
        /* The header must hold exactly one document. */
        if (!yaml_parser_load(&parser, &doc)) {
            rnnrt_util_set_err(err, "%s: malformed JSON header: %s (at header byte %zu)", path,
                               parser.problem ? parser.problem : "parse error",
                               parser.problem_mark.index);
            rc = -1;
        } else {
            if (yaml_document_get_root_node(&doc)) {
                rnnrt_util_set_err(err, "%s: malformed JSON header: trailing content", path);
                rc = -1;
            }
            yaml_document_delete(&doc);
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Reads each tensor's bytes; the data buffer starts at file offset `base`. */
static int read_data(FILE *f, const char *path, uint64_t base, RnnrtTensorFile *out,
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
        if (bytes && (fseeko(f, (off_t)(base + exts[i].begin), SEEK_SET) != 0 ||
                      fread(t->data, 1, bytes, f) != bytes)) {
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

int rnnrt_st_read(const char *path, RnnrtTensorFile *out, RnnrtError *err)
{
    unsigned char lenb[8];
    uint64_t hlen = 0, avail;
    Extent *exts = NULL;
    char *hdr = NULL;
    struct stat st;
    FILE *f;
    int rc = -1;

    memset(out, 0, sizeof *out);
    rnnrt_util_clear_err(err);
    f = rnnrt_util_open_read(path, err);
    if (!f) {
        return -1;
    }
    if (fstat(fileno(f), &st) != 0) {
        rnnrt_util_set_err(err, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (st.st_size < 8 || fread(lenb, 1, 8, f) != 8) {
        rnnrt_util_set_err(err, "%s: not a safetensors file (shorter than 8 bytes)", path);
        goto done;
    }
    for (int i = 0; i < 8; i++) {
        hlen |= (uint64_t)lenb[i] << (8 * i);
    }
    avail = (uint64_t)st.st_size - 8;
    if (hlen > avail) {
        rnnrt_util_set_err(err,
                           "%s: not a safetensors file (header length %llu exceeds the %llu "
                           "bytes that follow it)",
                           path, (unsigned long long)hlen, (unsigned long long)avail);
        goto done;
    }
    if (hlen >= ST_MAX_HEADER) {
        rnnrt_util_set_err(err, "%s: header length %llu is too large (limit %llu)", path,
                           (unsigned long long)hlen, ST_MAX_HEADER);
        goto done;
    }
    hdr = malloc((size_t)hlen + 1);
    if (!hdr) {
        rnnrt_util_set_err(err, "%s: out of memory for the %llu-byte header", path,
                           (unsigned long long)hlen);
        goto done;
    }
    if (fread(hdr, 1, (size_t)hlen, f) != (size_t)hlen) {
        rnnrt_util_set_err(err, "%s: read error in the header", path);
        goto done;
    }
    hdr[hlen] = '\0';
    rc = parse_header(path, hdr, (size_t)hlen, avail - hlen, out, &exts, err);
    if (rc == 0) {
        rc = read_data(f, path, 8 + hlen, out, exts, err);
    }
done:
    if (rc != 0) {
        rnnrt_st_free(out);
    }
    free(exts);
    free(hdr);
    fclose(f);
    return rc;
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

/* `s` as a JSON string literal (UTF-8 passes through unchanged). */
static void sb_json_str(Sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            sb_printf(b, "\\%c", c);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_printf(b, "%c", c);
        }
    }
    sb_printf(b, "\"");
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
        for (int j = 0; j < i; j++) {
            if (ts[j].name && strcmp(ts[j].name, t->name) == 0) {
                err_line(&e, "%s: cannot write: duplicate tensor name '%s'", path, name);
                break;
            }
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

int rnnrt_params_load(const RnnrtTensorFile *f, const RnnrtParamSpec *specs, int n, int dbl,
                      void *params, RnnrtError *err)
{
    ErrList e = {err, 0, 0};
    char have[SHAPE_BUF], want[SHAPE_BUF];
    char *used;

    rnnrt_util_clear_err(err);
    used = calloc(f->n > 0 ? (size_t)f->n : 1, 1);
    if (!used) {
        rnnrt_util_set_err(err, "out of memory matching the parameter tensors");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const RnnrtParamSpec *s = &specs[i];
        const RnnrtTensor *t = rnnrt_st_find(f, s->name);

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
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = rnnrt_st_find(f, specs[i].name);
        long numel =
            specs[i].ndim == 1 ? specs[i].shape[0] : specs[i].shape[0] * specs[i].shape[1];
        copy_tensor(t, numel, dbl, params, specs[i].offset);
    }
    return 0;
}
