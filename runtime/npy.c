/* npy.c — NumPy .npy reading and writing for librnnrt, the RnnrtArray helpers, and the
 * memory check that readers and host code make before a large allocation.
 * Owns the hand-written parser of the .npy header dict (Python literal syntax),
 * the .npy header writer, and Fortran-order conversion; the byte swapping and the atomic
 * (temporary file + rename) write it uses are rt_util.c's.
 */
#define _POSIX_C_SOURCE 200809L

#include "rnnrt.h"
#include "rt_util.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21      /* numpy's GROWTH_AXIS_MAX_DIGITS */
#define NPY_MAX_HEADER (1L << 20) /* far above anything ndim <= 8 can need */

int rnnrt_dtype_size(RnnrtDtype dt)
{
    switch (dt) {
    case RNNRT_F32:
    case RNNRT_I32:
        return 4;
    case RNNRT_F64:
    case RNNRT_I64:
        return 8;
    }
    return 0;
}

long rnnrt_array_numel(const RnnrtArray *a)
{
    long n = 1;

    for (int i = 0; i < a->ndim; i++) {
        n *= a->shape[i];
    }
    return n;
}

void rnnrt_array_free(RnnrtArray *a)
{
    if (!a) {
        return;
    }
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- memory ------------------------------------------------------------------------ */

size_t rnnrt_mem_product(const long *factors, int n)
{
    size_t p = 1;
    int zero = 0;

    /* a zero factor makes 0, but only when the others do not overflow on their own: the
     * caller's loops may multiply them in any order */
    for (int i = 0; i < n; i++) {
        if (factors[i] < 0) {
            return SIZE_MAX;
        }
        if (factors[i] == 0) {
            zero = 1;
            continue;
        }
        if (p > SIZE_MAX / (size_t)factors[i]) {
            return SIZE_MAX;
        }
        p *= (size_t)factors[i];
    }
    return zero ? 0 : p;
}

size_t rnnrt_mem_sum(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t rnnrt_mem_available(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t have = 0;
    static const int limits[] = {RLIMIT_AS, RLIMIT_DATA};

    if (pages > 0 && page > 0) {
        have = (size_t)pages > SIZE_MAX / (size_t)page ? SIZE_MAX : (size_t)pages * (size_t)page;
    }
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct rlimit rl;
        if (getrlimit(limits[i], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            (have == 0 || rl.rlim_cur < have)) {
            have = (size_t)rl.rlim_cur;
        }
    }
    return have;
}

/* "12.3 GB" (decimal units) into buf. */
static const char *fmt_bytes(char *buf, size_t cap, size_t n)
{
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1000 && u < 6) {
        v /= 1000;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

int rnnrt_mem_check(size_t bytes, const char *what, RnnrtError *err)
{
    size_t have = rnnrt_mem_available();
    char need_s[32], have_s[32];

    if (bytes == SIZE_MAX) {
        rnnrt_util_set_err(err, "%s needs more memory than can be addressed", what);
        return -1;
    }
    if (have != 0 && bytes > have) {
        rnnrt_util_set_err(err,
                           "%s needs %zu bytes (%s), more than the %s of memory of this "
                           "machine",
                           what, bytes, fmt_bytes(need_s, sizeof need_s, bytes),
                           fmt_bytes(have_s, sizeof have_s, have));
        return -1;
    }
    return 0;
}

/* ---- header dict parsing ---------------------------------------------------------- */

/* What the header dict says; `seen` has bit 0/1/2 set for descr/fortran_order/shape. */
typedef struct NpyHeader {
    char descr[32];
    int fortran;
    int ndim;
    long shape[RNNRT_MAX_DIMS];
    int seen;
} NpyHeader;

typedef struct Cursor {
    const char *p;
    const char *end;
} Cursor;

static void skip_ws(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static int accept(Cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal ('...' or "...", no escapes needed for our keys/values)
 * into buf. Returns 0, or -1 if there is none or it does not fit. */
static int parse_str(Cursor *c, char *buf, size_t cap)
{
    char q;
    size_t n = 0;

    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) {
        return -1;
    }
    q = *c->p++;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) {
            return -1;
        }
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) {
        return -1;
    }
    c->p++;
    buf[n] = '\0';
    return 0;
}

static int parse_word(Cursor *c, const char *w)
{
    size_t n = strlen(w);

    skip_ws(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 0;
    }
    return -1;
}

/* A non-negative Python int literal (an old Python 2 'L' suffix is accepted). */
static int parse_dim(Cursor *c, long *out)
{
    long v = 0;
    int digits = 0;

    skip_ws(c);
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p++ - '0';
        if (v > (LONG_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
        digits++;
    }
    if (!digits) {
        return -1;
    }
    if (c->p < c->end && *c->p == 'L') {
        c->p++;
    }
    *out = v;
    return 0;
}

/* A shape tuple: (), (3,), (3, 4), (3, 4,). */
static int parse_shape(Cursor *c, NpyHeader *h, const char *path, RnnrtError *err)
{
    if (!accept(c, '(')) {
        rnnrt_util_set_err(err, "%s: malformed header: 'shape' is not a tuple", path);
        return -1;
    }
    h->ndim = 0;
    if (accept(c, ')')) {
        return 0;
    }
    for (;;) {
        long d;
        if (parse_dim(c, &d) != 0) {
            rnnrt_util_set_err(err, "%s: malformed header: bad dimension in 'shape'", path);
            return -1;
        }
        if (h->ndim == RNNRT_MAX_DIMS) {
            rnnrt_util_set_err(err, "%s: too many dimensions (at most %d are supported)", path,
                               RNNRT_MAX_DIMS);
            return -1;
        }
        h->shape[h->ndim++] = d;
        if (accept(c, ')')) {
            return 0;
        }
        if (!accept(c, ',')) {
            rnnrt_util_set_err(err, "%s: malformed header: expected ',' or ')' in 'shape'", path);
            return -1;
        }
        if (accept(c, ')')) {
            return 0;
        }
    }
}

static int parse_entry(Cursor *c, NpyHeader *h, const char *path, RnnrtError *err)
{
    char key[32];
    int bit;

    if (parse_str(c, key, sizeof key) != 0) {
        rnnrt_util_set_err(err, "%s: malformed header: expected a quoted key", path);
        return -1;
    }
    if (strcmp(key, "descr") == 0) {
        bit = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
        bit = 2;
    } else if (strcmp(key, "shape") == 0) {
        bit = 4;
    } else {
        rnnrt_util_set_err(err, "%s: malformed header: unexpected key '%s'", path, key);
        return -1;
    }
    if (h->seen & bit) {
        rnnrt_util_set_err(err, "%s: malformed header: duplicate key '%s'", path, key);
        return -1;
    }
    h->seen |= bit;
    if (!accept(c, ':')) {
        rnnrt_util_set_err(err, "%s: malformed header: expected ':' after '%s'", path, key);
        return -1;
    }
    if (bit == 1) {
        if (parse_str(c, h->descr, sizeof h->descr) != 0) {
            rnnrt_util_set_err(err,
                               "%s: unsupported dtype (structured or malformed 'descr'; "
                               "expected float32, float64, int32 or int64)",
                               path);
            return -1;
        }
        return 0;
    }
    if (bit == 2) {
        if (parse_word(c, "True") == 0) {
            h->fortran = 1;
        } else if (parse_word(c, "False") == 0) {
            h->fortran = 0;
        } else {
            rnnrt_util_set_err(err, "%s: malformed header: 'fortran_order' is not True or False",
                               path);
            return -1;
        }
        return 0;
    }
    return parse_shape(c, h, path, err);
}

static int parse_header(const char *s, size_t len, NpyHeader *h, const char *path, RnnrtError *err)
{
    Cursor c = {s, s + len};

    memset(h, 0, sizeof *h);
    if (!accept(&c, '{')) {
        rnnrt_util_set_err(err, "%s: malformed header: expected '{'", path);
        return -1;
    }
    while (!accept(&c, '}')) {
        if (parse_entry(&c, h, path, err) != 0) {
            return -1;
        }
        if (!accept(&c, ',')) {
            if (!accept(&c, '}')) {
                rnnrt_util_set_err(err, "%s: malformed header: expected ',' or '}'", path);
                return -1;
            }
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        rnnrt_util_set_err(err, "%s: malformed header: trailing characters after '}'", path);
        return -1;
    }
    if (h->seen != 7) {
        rnnrt_util_set_err(err, "%s: malformed header: missing key '%s'", path,
                           !(h->seen & 1)   ? "descr"
                           : !(h->seen & 2) ? "fortran_order"
                                            : "shape");
        return -1;
    }
    return 0;
}

/* Maps a descr such as '<f4' to a dtype and whether it is big-endian. */
static int parse_descr(const char *d, RnnrtDtype *dt, int *big)
{
    static const struct {
        const char *code;
        RnnrtDtype dt;
    } codes[] = {{"f4", RNNRT_F32}, {"f8", RNNRT_F64}, {"i4", RNNRT_I32}, {"i8", RNNRT_I64}};

    if (strlen(d) != 3 || (d[0] != '<' && d[0] != '>')) {
        return -1;
    }
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(d + 1, codes[i].code) == 0) {
            *dt = codes[i].dt;
            *big = d[0] == '>';
            return 0;
        }
    }
    return -1;
}

/* ---- reading ------------------------------------------------------------------------ */

/* Where the bytes come from, read in order: a file, or a buffer in memory. */
typedef struct Src {
    FILE *f;
    const unsigned char *mem;
    size_t size, pos; /* mem: its length and the read position */
} Src;

/* Reads up to n bytes into dst; returns how many it read. */
static size_t src_read(Src *s, void *dst, size_t n)
{
    if (s->f) {
        return fread(dst, 1, n, s->f);
    }
    if (n > s->size - s->pos) {
        n = s->size - s->pos;
    }
    if (n) {
        memcpy(dst, s->mem + s->pos, n);
    }
    s->pos += n;
    return n;
}

/* Reads the magic, version and header; leaves `src` at the start of the data. */
static int read_header(Src *src, const char *path, NpyHeader *h, long *data_start, RnnrtError *err)
{
    unsigned char pre[12];
    unsigned long hlen;
    size_t lenbytes;
    char *buf;
    int rc;

    if (src_read(src, pre, 8) != 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        rnnrt_util_set_err(err, "%s: not a .npy file (bad magic)", path);
        return -1;
    }
    if ((pre[6] != 1 && pre[6] != 2 && pre[6] != 3) || pre[7] != 0) {
        rnnrt_util_set_err(err, "%s: unsupported .npy version %d.%d (expected 1.0, 2.0 or 3.0)",
                           path, pre[6], pre[7]);
        return -1;
    }
    lenbytes = pre[6] == 1 ? 2 : 4;
    if (src_read(src, pre + 8, lenbytes) != lenbytes) {
        rnnrt_util_set_err(err, "%s: truncated .npy header", path);
        return -1;
    }
    hlen = (unsigned long)pre[8] | (unsigned long)pre[9] << 8;
    if (lenbytes == 4) {
        hlen |= (unsigned long)pre[10] << 16 | (unsigned long)pre[11] << 24;
    }
    if (hlen > (unsigned long)NPY_MAX_HEADER) {
        rnnrt_util_set_err(err, "%s: .npy header length %lu is implausibly large", path, hlen);
        return -1;
    }
    buf = malloc(hlen + 1);
    if (!buf) {
        rnnrt_util_set_err(err, "%s: out of memory reading the .npy header", path);
        return -1;
    }
    if (src_read(src, buf, hlen) != hlen) {
        free(buf);
        rnnrt_util_set_err(err, "%s: truncated .npy header (expected %lu header bytes)", path,
                           hlen);
        return -1;
    }
    buf[hlen] = '\0';
    rc = parse_header(buf, hlen, h, path, err);
    free(buf);
    *data_start = (long)(8 + lenbytes + hlen);
    return rc;
}

/* Reorders a Fortran-order (column-major) buffer into C order in a new buffer. */
static int from_fortran(void **data, const long *shape, int ndim, int size)
{
    long numel = 1, fstride[RNNRT_MAX_DIMS], idx[RNNRT_MAX_DIMS] = {0};
    for (int i = 0; i < ndim; i++) {
        fstride[i] = numel;
        numel *= shape[i];
    }
    unsigned char *src = *data, *dst = malloc((size_t)(numel * size));
    if (!dst)
        return -1;
    for (long c = 0; c < numel; c++) {
        long off = 0;
        for (int i = 0; i < ndim; i++)
            off += idx[i] * fstride[i];
        memcpy(dst + c * size, src + off * size, (size_t)size);
        for (int i = ndim - 1; i >= 0; i--) {
            if (++idx[i] < shape[i])
                break;
            idx[i] = 0;
        }
    }
    free(src);
    *data = dst;
    return 0;
}

/* Reads a whole .npy from `src` (`size` bytes in all); `path` names it in messages. */
static int npy_read_src(Src *src, const char *path, RnnrtArray *out, RnnrtMap *map,
                        RnnrtError *err)
{
    NpyHeader h;
    RnnrtDtype dt;
    int big, size;
    long data_start, numel = 1, nonzero = 1;
    long long have;
    char what[4200];
    void *data;

    if (read_header(src, path, &h, &data_start, err) != 0) {
        return -1;
    }
    if (parse_descr(h.descr, &dt, &big) != 0) {
        rnnrt_util_set_err(err,
                           "%s: unsupported dtype '%s' (expected float32, float64, "
                           "int32 or int64)",
                           path, h.descr);
        return -1;
    }
    size = rnnrt_dtype_size(dt);
    /* the product of the non-zero dims must fit too: callers multiply dims in any order */
    for (int i = 0; i < h.ndim; i++) {
        if (h.shape[i] != 0 && nonzero > LONG_MAX / size / h.shape[i]) {
            rnnrt_util_set_err(err, "%s: array shape is too large", path);
            return -1;
        }
        nonzero *= h.shape[i] ? h.shape[i] : 1;
        numel *= h.shape[i];
    }
    /* the shape against the file's size, before anything is allocated for it */
    have = (long long)src->size - data_start;
    if (have != (long long)numel * size) {
        rnnrt_util_set_err(err, "%s: %s: expected %ld data bytes, found %lld", path,
                           have < (long long)numel * size ? "file is truncated"
                                                          : "file has trailing bytes",
                           numel * size, have);
        return -1;
    }
    snprintf(what, sizeof what, "%s: the array", path);
    /* a file whose bytes are the array's (native byte order, C order, aligned): mapped, so
     * that a large data set costs no memory up front and a rank touches only its rows */
    if (map && src->f && big != rnnrt_util_host_is_le() &&
        !(h.fortran && h.ndim > 1 && numel > 1) && numel > 0 && data_start % size == 0) {
        void *base = mmap(NULL, src->size, PROT_READ, MAP_PRIVATE, fileno(src->f), 0);
        if (base != MAP_FAILED) {
            map->base = base;
            map->len = src->size;
            out->dtype = dt;
            out->ndim = h.ndim;
            memcpy(out->shape, h.shape, sizeof h.shape);
            out->data = (char *)base + data_start;
            return 0;
        }
    }
    if (rnnrt_mem_check(rnnrt_mem_product((const long[]){numel, size, h.fortran ? 2 : 1}, 3), what,
                        err) != 0) {
        return -1;
    }
    data = malloc(numel > 0 ? (size_t)(numel * size) : 1);
    if (!data) {
        rnnrt_util_set_err(err, "%s: out of memory for %ld data bytes", path, numel * size);
        return -1;
    }
    if (src_read(src, data, (size_t)(numel * size)) != (size_t)(numel * size)) {
        rnnrt_util_set_err(err, "%s: read error: expected %ld data bytes", path, numel * size);
        free(data);
        return -1;
    }
    if (big == rnnrt_util_host_is_le()) {
        rnnrt_util_byteswap(data, (size_t)numel, size);
    }
    if (h.fortran && h.ndim > 1 && numel > 1 && from_fortran(&data, h.shape, h.ndim, size) != 0) {
        rnnrt_util_set_err(err, "%s: out of memory for %ld data bytes", path, numel * size);
        free(data);
        return -1;
    }
    out->dtype = dt;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->data = data;
    return 0;
}

/* Reads (map NULL) or maps (map non-NULL, where the layout allows) the .npy file at path. */
static int npy_file(const char *path, RnnrtArray *out, RnnrtMap *map, RnnrtError *err)
{
    struct stat st;
    Src src = {NULL, NULL, 0, 0};
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
    src.size = st.st_size > 0 ? (size_t)st.st_size : 0;
    rc = npy_read_src(&src, path, out, map, err);
    fclose(src.f);
    return rc;
}

int rnnrt_npy_read(const char *path, RnnrtArray *out, RnnrtError *err)
{
    return npy_file(path, out, NULL, err);
}

int rnnrt_npy_map(const char *path, RnnrtArray *out, RnnrtMap *map, RnnrtError *err)
{
    map->base = NULL;
    map->len = 0;
    return npy_file(path, out, map, err);
}

void rnnrt_npy_unmap(RnnrtArray *a, RnnrtMap *map)
{
    if (map->base) {
        munmap(map->base, map->len);
        memset(a, 0, sizeof *a);
        map->base = NULL;
        map->len = 0;
    } else {
        rnnrt_array_free(a);
    }
}

int rnnrt_npy_read_mem(const void *buf, size_t len, const char *name, RnnrtArray *out,
                       RnnrtError *err)
{
    Src src = {NULL, buf, len, 0};

    memset(out, 0, sizeof *out);
    rnnrt_util_clear_err(err);
    if (!buf && len) {
        rnnrt_util_set_err(err, "%s: no buffer", name);
        return -1;
    }
    return npy_read_src(&src, name, out, NULL, err);
}

/* ---- writing ------------------------------------------------------------------------ */

/* Formats numpy's version 1.0 header (magic to final '\n') into buf; returns its length. */
static size_t format_header(char *buf, size_t cap, const RnnrtArray *a, int size)
{
    static const char kind[] = {'f', 'f', 'i', 'i'};
    char shape[RNNRT_MAX_DIMS * 24 + 4];
    size_t n = 0, len, total;
    int grow = 0;

    shape[n++] = '(';
    for (int i = 0; i < a->ndim; i++) {
        n += (size_t)snprintf(shape + n, sizeof shape - n, i ? ", %ld" : "%ld", a->shape[i]);
    }
    if (a->ndim == 1) {
        shape[n++] = ',';
    }
    shape[n++] = ')';
    shape[n] = '\0';
    if (a->ndim > 0) {
        grow = NPY_GROWTH_DIGITS - snprintf(NULL, 0, "%ld", a->shape[0]);
    }
    len = (size_t)snprintf(
        buf + 10, cap - 10, "{'descr': '%c%c%d', 'fortran_order': False, 'shape': %s, }%*s",
        rnnrt_util_host_is_le() ? '<' : '>', kind[a->dtype], size, shape, grow, "");
    /* numpy: padlen = 64 - (10 + len + 1) % 64, then the spaces and a '\n'. */
    total = 10 + len + 1;
    total += NPY_ALIGN - total % NPY_ALIGN;
    memset(buf + 10 + len, ' ', total - 1 - 10 - len);
    buf[total - 1] = '\n';
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    return total;
}

int rnnrt_npy_write(const char *path, const RnnrtArray *a, RnnrtError *err)
{
    char header[1024];
    const void *bufs[2];
    size_t lens[2];
    long numel = 1;
    int size;

    rnnrt_util_clear_err(err);
    if (a->dtype != RNNRT_F32 && a->dtype != RNNRT_F64 && a->dtype != RNNRT_I32 &&
        a->dtype != RNNRT_I64) {
        rnnrt_util_set_err(err, "%s: cannot write: invalid dtype %d", path, (int)a->dtype);
        return -1;
    }
    size = rnnrt_dtype_size(a->dtype);
    if (a->ndim < 0 || a->ndim > RNNRT_MAX_DIMS) {
        rnnrt_util_set_err(err, "%s: cannot write: ndim %d is out of range 0..%d", path, a->ndim,
                           RNNRT_MAX_DIMS);
        return -1;
    }
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] < 0) {
            rnnrt_util_set_err(err, "%s: cannot write: negative dimension %ld", path, a->shape[i]);
            return -1;
        }
        if (a->shape[i] != 0 && numel > LONG_MAX / size / a->shape[i]) {
            rnnrt_util_set_err(err, "%s: cannot write: array shape is too large", path);
            return -1;
        }
        numel *= a->shape[i];
    }
    if (numel > 0 && !a->data) {
        rnnrt_util_set_err(err, "%s: cannot write: array has no data", path);
        return -1;
    }
    bufs[0] = header;
    lens[0] = format_header(header, sizeof header, a, size);
    bufs[1] = a->data;
    lens[1] = (size_t)numel * (size_t)size;
    return rnnrt_util_write_atomic(path, bufs, lens, 2, err);
}
