/* safetensors.c — safetensors reading for librnnrt (rnnrt_st_read, _read_mem, _find, _free).
 * Owns the validation of the header, read with json.c's strict JSON reader: names, dtypes,
 * shapes, and offsets that tile the data buffer, as the reference implementation checks
 * them; then the tensors' bytes. Writing is st_write.c's, rnnrt_params_load params.c's.
 */
#define _POSIX_C_SOURCE 200809L

#include "json.h"
#include "rnnrt.h"
#include "rt_util.h"
#include "st_int.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define ST_MAX_HEADER 100000000ULL /* the limit of the reference (Rust) implementation */

/* ---- reading: the JSON header --------------------------------------------------------- */

/* Whole-header faults (syntax) stop the reading with one message (json.h); faults of single
 * tensors are collected, one line each. */

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
    int c = rnnrt_json_peek(j);

    if (c != '-' && (c < '0' || c > '9')) {
        l->bad = 1;
        return rnnrt_json_skip(j, 1);
    }
    if (rnnrt_json_number(j, &v, &is_uint) != 0) {
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
    int dtype;        /* index into rnnrt_sti_dtype_names; -1 not given, -2 unsupported */
    char dname[32];   /* an unsupported dtype as written (cut) */
    int dtype_string; /* the dtype was a string */
    int has_shape, has_offsets;
    UintList shape, offs;
    size_t nshape, noffs;
    const char *dup; /* a field given twice */
} Entry;

/* An entry's `dtype` value into en: the index of a supported dtype, else -2 (a string is
 * kept, cut, for the message). */
static int read_dtype(Json *j, Entry *en)
{
    if (rnnrt_json_peek(j) != '"') {
        en->dtype = -2;
        return rnnrt_json_skip(j, 1);
    }
    if (rnnrt_json_string(j) != 0) {
        return -1;
    }
    en->dtype_string = 1;
    en->dtype = -2;
    for (int i = 0; i < 4; i++) {
        if (strcmp(j->str, rnnrt_sti_dtype_names[i]) == 0 && j->strlen == 3) {
            en->dtype = i;
        }
    }
    snprintf(en->dname, sizeof en->dname, "%s", j->str);
    return 0;
}

/* A `shape` or `data_offsets` value into l, the number of its items into *n; a value that
 * is not a list marks l bad. */
static int read_uint_list(Json *j, UintList *l, size_t *n)
{
    if (rnnrt_json_peek(j) != '[') {
        l->bad = 1;
        return rnnrt_json_skip(j, 1);
    }
    return rnnrt_json_array(j, n, read_uint_item, l);
}

/* The value of the field whose key is in j->str: dtype, shape and data_offsets go into en
 * (one given again is noted in en->dup), others are skipped, as the reference does. */
static int read_entry_field(Json *j, Entry *en)
{
    if (strcmp(j->str, "dtype") == 0 && j->strlen == 5) {
        en->dup = en->dtype != -1 || en->dtype_string ? "dtype" : en->dup;
        return read_dtype(j, en);
    }
    if (strcmp(j->str, "shape") == 0 && j->strlen == 5) {
        en->dup = en->has_shape ? "shape" : en->dup;
        en->has_shape = 1;
        return read_uint_list(j, &en->shape, &en->nshape);
    }
    if (strcmp(j->str, "data_offsets") == 0 && j->strlen == 12) {
        en->dup = en->has_offsets ? "data_offsets" : en->dup;
        en->has_offsets = 1;
        return read_uint_list(j, &en->offs, &en->noffs);
    }
    return rnnrt_json_skip(j, 1);
}

/* The fields of an entry's object into en, from after its '{' to past its '}'. */
static int read_entry_fields(Json *j, Entry *en)
{
    while (rnnrt_json_peek(j) != '}') {
        if (rnnrt_json_string(j) != 0 || rnnrt_json_expect(j, ':', "expected ':'") != 0) {
            return -1;
        }
        if (read_entry_field(j, en) != 0) {
            return -1;
        }
        if (rnnrt_json_peek(j) == ',') {
            j->pos++;
            if (rnnrt_json_peek(j) == '}') {
                return rnnrt_json_fail(j, "trailing ',' in an object");
            }
        } else if (rnnrt_json_peek(j) != '}') {
            return rnnrt_json_fail(j, "expected ',' or '}'");
        }
    }
    j->pos++;
    return 0;
}

/* Checks that tensor `name`'s entry has each field once and a supported dtype: 0, or one
 * line in `e` and 1. */
static int check_entry_fields(ErrList *e, const char *path, const char *name, const Entry *en)
{
    if (en->dup) {
        rnnrt_sti_err_line(e, "%s: tensor '%s': '%s' is given twice", path, name, en->dup);
        return 1;
    }
    if (en->dtype == -1 || !en->has_shape || !en->has_offsets) {
        rnnrt_sti_err_line(e, "%s: tensor '%s': header entry has no '%s'", path, name,
                           en->dtype == -1  ? "dtype"
                           : !en->has_shape ? "shape"
                                            : "data_offsets");
        return 1;
    }
    if (en->dtype < 0) {
        if (en->dtype_string) {
            rnnrt_sti_err_line(e,
                               "%s: tensor '%s' has unsupported dtype %s (expected F32, F64, "
                               "I32 or I64)",
                               path, name, en->dname);
        } else {
            rnnrt_sti_err_line(e, "%s: tensor '%s': 'dtype' is not a string", path, name);
        }
        return 1;
    }
    return 0;
}

/* Checks the shape and data_offsets of t's entry against the data buffer of `data_len`
 * bytes, filling t's ndim and shape (its dtype is set) and *ext: 0, or one line in `e`
 * and 1. */
static int check_entry_extent(ErrList *e, const char *path, Entry *en, uint64_t data_len,
                              RnnrtTensor *t, Extent *ext)
{
    const char *name = t->name;
    uint64_t nbytes;
    char sbuf[SHAPE_BUF];

    if (en->nshape > RNNRT_MAX_DIMS) {
        rnnrt_sti_err_line(e, "%s: tensor '%s' has more than %d dimensions", path, name,
                           RNNRT_MAX_DIMS);
        return 1;
    }
    t->ndim = (int)en->nshape;
    for (int i = 0; i < t->ndim; i++) {
        en->shape.bad |= en->shape.v[i] > LONG_MAX;
        t->shape[i] = en->shape.bad ? 0 : (long)en->shape.v[i];
    }
    if (en->shape.bad) {
        rnnrt_sti_err_line(e, "%s: tensor '%s': 'shape' must be a list of non-negative integers",
                           path, name);
        return 1;
    }
    if (rnnrt_sti_shape_bytes(t->ndim, t->shape, rnnrt_dtype_size(t->dtype), &nbytes) != 0) {
        rnnrt_sti_err_line(e, "%s: tensor '%s' has an impossibly large shape %s", path, name,
                           rnnrt_sti_fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape));
        return 1;
    }
    if (en->offs.bad || en->noffs != 2) {
        rnnrt_sti_err_line(e, "%s: tensor '%s': 'data_offsets' must be two non-negative integers",
                           path, name);
        return 1;
    }
    if (en->offs.v[0] > en->offs.v[1] || en->offs.v[1] > data_len) {
        rnnrt_sti_err_line(e,
                           "%s: tensor '%s' has data_offsets [%llu, %llu] outside the data "
                           "buffer (%llu bytes)",
                           path, name, (unsigned long long)en->offs.v[0],
                           (unsigned long long)en->offs.v[1], (unsigned long long)data_len);
        return 1;
    }
    if (en->offs.v[1] - en->offs.v[0] != nbytes) {
        rnnrt_sti_err_line(e,
                           "%s: tensor '%s' (%s, shape %s) needs %llu bytes, but its "
                           "data_offsets [%llu, %llu] span %llu",
                           path, name, rnnrt_sti_dtype_names[t->dtype],
                           rnnrt_sti_fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape),
                           (unsigned long long)nbytes, (unsigned long long)en->offs.v[0],
                           (unsigned long long)en->offs.v[1],
                           (unsigned long long)(en->offs.v[1] - en->offs.v[0]));
        return 1;
    }
    ext->begin = en->offs.v[0];
    ext->end = en->offs.v[1];
    return 0;
}

/* Reads one tensor's entry `{"dtype": .., "shape": [..], "data_offsets": [a, b]}` (other
 * fields are skipped, as the reference does) and checks it against the data buffer of
 * `data_len` bytes: t and *ext filled and 0, or one line in `e` and 1; -1 on a syntax fault. */
static int parse_entry(Json *j, ErrList *e, uint64_t data_len, RnnrtTensor *t, Extent *ext)
{
    Entry en;

    memset(&en, 0, sizeof en);
    en.dtype = -1;
    en.shape.max = RNNRT_MAX_DIMS;
    en.offs.max = 2;
    if (rnnrt_json_peek(j) != '{') {
        if (rnnrt_json_skip(j, 1) != 0) {
            return -1;
        }
        rnnrt_sti_err_line(e, "%s: tensor '%s': header entry is not an object", j->path, t->name);
        return 1;
    }
    j->pos++;
    if (read_entry_fields(j, &en) != 0) {
        return -1;
    }
    if (check_entry_fields(e, j->path, t->name, &en) != 0) {
        return 1;
    }
    t->dtype = (RnnrtDtype)en.dtype;
    return check_entry_extent(e, j->path, &en, data_len, t, ext);
}

/* `__metadata__`: null, or an object of strings (the reference's HashMap<String, String>). */
static int parse_metadata(Json *j, ErrList *e)
{
    int ok = 1;

    if (rnnrt_json_peek(j) != '{') {
        if (rnnrt_json_peek(j) == 'n' && j->len - j->pos >= 4 &&
            memcmp(j->s + j->pos, "null", 4) == 0) {
            j->pos += 4;
            return 0;
        }
        if (rnnrt_json_skip(j, 1) != 0) {
            return -1;
        }
        rnnrt_sti_err_line(e, "%s: header's '__metadata__' is not an object", j->path);
        return 0;
    }
    j->pos++;
    while (rnnrt_json_peek(j) != '}') {
        if (rnnrt_json_string(j) != 0 || rnnrt_json_expect(j, ':', "expected ':'") != 0) {
            return -1;
        }
        ok &= rnnrt_json_peek(j) == '"';
        if (rnnrt_json_skip(j, 1) != 0) {
            return -1;
        }
        if (rnnrt_json_peek(j) == ',') {
            j->pos++;
            if (rnnrt_json_peek(j) == '}') {
                return rnnrt_json_fail(j, "trailing ',' in an object");
            }
        } else if (rnnrt_json_peek(j) != '}') {
            return rnnrt_json_fail(j, "expected ',' or '}'");
        }
    }
    j->pos++;
    if (!ok) {
        rnnrt_sti_err_line(e, "%s: header's '__metadata__' has a value that is not a string",
                           j->path);
    }
    return 0;
}

/* ---- reading: checks over all tensors ------------------------------------------------- */

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
            rnnrt_sti_err_line(
                e,
                "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap in the "
                "data buffer",
                path, f->t[last].name, (unsigned long long)exts[last].begin,
                (unsigned long long)exts[last].end, name, (unsigned long long)x->begin,
                (unsigned long long)x->end);
        } else if (x->begin > at) {
            rnnrt_sti_err_line(e, "%s: bytes [%llu, %llu) of the data buffer belong to no tensor",
                               path, (unsigned long long)at, (unsigned long long)x->begin);
        }
        if (x->end >= at) {
            at = x->end;
            last = refs[i].index;
        }
    }
    if (at < data_len) {
        rnnrt_sti_err_line(e, "%s: bytes [%llu, %llu) of the data buffer belong to no tensor",
                           path, (unsigned long long)at, (unsigned long long)data_len);
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
    size_t bad = rnnrt_utf8_valid_prefix(j.s, len);

    if (bad < len) {
        rnnrt_util_set_err(err, "%s: header is not valid UTF-8 (at header byte %zu)", path, bad);
        return -1;
    }
    if (rnnrt_json_peek(&j) != '{') {
        rnnrt_util_set_err(err, "%s: header is not a JSON object", path);
        return -1;
    }
    j.pos++;
    while (rnnrt_json_peek(&j) != '}') {
        RnnrtTensor *t;
        if (rnnrt_json_string(&j) != 0 || rnnrt_json_expect(&j, ':', "expected ':'") != 0) {
            goto done;
        }
        if (strlen(j.str) != j.strlen) {
            rnnrt_sti_err_line(&e, "%s: header has a tensor name containing a NUL character",
                               path);
            if (rnnrt_json_skip(&j, 1) != 0) {
                goto done;
            }
        } else if (strcmp(j.str, "__metadata__") == 0) {
            if (have_meta++) {
                rnnrt_sti_err_line(&e, "%s: header has '__metadata__' twice", path);
            }
            if (parse_metadata(&j, &e) != 0) {
                goto done;
            }
        } else {
            if (grow_tensors(out, exts, &cap) != 0 || !(out->t[out->n].name = strdup(j.str))) {
                rnnrt_json_oom(&j);
                goto done;
            }
            t = &out->t[out->n++];
            t->data = NULL;
            t->ndim = 0;
            if (parse_entry(&j, &e, data_len, t, &(*exts)[out->n - 1]) < 0) {
                goto done;
            }
        }
        if (rnnrt_json_peek(&j) == ',') {
            j.pos++;
            if (rnnrt_json_peek(&j) == '}') {
                rnnrt_json_fail(&j, "trailing ',' in an object");
                goto done;
            }
        } else if (rnnrt_json_peek(&j) != '}') {
            rnnrt_json_fail(&j, "expected ',' or '}'");
            goto done;
        }
    }
    j.pos++;
    rnnrt_json_ws(&j);
    if (j.pos != j.len) { /* a NUL too: only white space may pad the header */
        rnnrt_json_fail(&j, "content after the header object");
        goto done;
    }
    if (rnnrt_sti_report_duplicates(&e, path, "", out->t, out->n) != 0 ||
        (e.lines == 0 && check_tiling(&e, path, out, *exts, data_len) != 0)) {
        rnnrt_json_oom(&j);
        goto done;
    }
    rc = 0;
done:
    free(j.str);
    return rc == 0 && !j.bad ? rnnrt_sti_err_finish(&e) : -1;
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
