/* pt.c — reading PyTorch .pt files (the zip format of torch.save, PyTorch >= 1.6) for
 * librnnrt: the archive read with libzip (limits on every size, the strict pickle reader of
 * pickle_read.c), strided views gathered into C order, float16/bfloat16 widened to float32;
 * and the rnnrt_tensors_read/write entry points that pick .pt or safetensors. The writer
 * (its own stored-only zip writer) is pt_write.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "pt.h"
#include "pickle.h"
#include "rnnrt.h"
#include "rt_util.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zip.h>

/* ---- what kind of file ------------------------------------------------------------------ */

typedef enum FileKind { FK_ZIP, FK_LEGACY, FK_PICKLE, FK_OTHER } FileKind;

/* The first bytes of a pre-1.6 torch.save file: PROTO 2, LONG1 of the magic number
 * 0x1950a86a20f9469cfc6c. */
static const unsigned char legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                             0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static FileKind sniff(const unsigned char *b, size_t n)
{
    if (n >= 4 && b[0] == 'P' && b[1] == 'K' &&
        ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6))) {
        return FK_ZIP;
    }
    if (n >= sizeof legacy_magic && memcmp(b, legacy_magic, sizeof legacy_magic) == 0) {
        return FK_LEGACY;
    }
    if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) {
        return FK_PICKLE;
    }
    return FK_OTHER;
}

static int refuse_kind(FileKind k, const char *path, RnnrtError *err)
{
    if (k == FK_LEGACY) {
        rnnrt_util_set_err(err,
                           "%s: legacy torch.save format (PyTorch < 1.6, or "
                           "_use_new_zipfile_serialization=False): re-save it with "
                           "torch.save(torch.load(path), path, "
                           "_use_new_zipfile_serialization=True)",
                           path);
    } else if (k == FK_PICKLE) {
        rnnrt_util_set_err(err,
                           "%s: a bare pickle, not a torch.save zip archive; save the "
                           "state_dict with torch.save(model.state_dict(), path)",
                           path);
    } else {
        rnnrt_util_set_err(err,
                           "%s: not a PyTorch file (it starts with neither a zip header, "
                           "PK\\3\\4, nor a pickle)",
                           path);
    }
    return -1;
}

/* ---- reading archive entries ------------------------------------------------------------ */

typedef struct Rd {
    zip_t *za;
    const char *path;
    char prefix[256]; /* the archive's top folder */
    uint64_t archive_size;
    uint64_t used; /* bytes read and made so far, against PT_MAX_BYTES */
    RnnrtError *err;
} Rd;

/* Charges `n` bytes to the reader's budget. */
static int charge(Rd *r, uint64_t n, const char *what)
{
    if (n > PT_MAX_BYTES - r->used) {
        rnnrt_util_set_err(r->err, "%s: %s would take the file past %llu bytes (the limit)",
                           r->path, what, (unsigned long long)PT_MAX_BYTES);
        return -1;
    }
    r->used += n;
    return 0;
}

/* Reads the entry <prefix>/<sub> into a malloc'd *buf (*len bytes), checking the declared
 * sizes against `max`, the archive and, unless `want` is UINT64_MAX, against `want`; then
 * that the entry holds exactly its declared size (libzip checks the CRC at its end).
 * Returns 1 when the entry is absent and `optional`, 0 on success, -1 on error. */
static int read_entry(Rd *r, const char *sub, uint64_t want, uint64_t max, int optional,
                      unsigned char **buf, size_t *len)
{
    char name[512];
    zip_stat_t st;
    zip_int64_t idx, got;
    zip_file_t *zf;
    unsigned char probe;
    size_t done = 0;

    *buf = NULL;
    *len = 0;
    snprintf(name, sizeof name, "%s/%s", r->prefix, sub);
    idx = zip_name_locate(r->za, name, ZIP_FL_ENC_RAW);
    if (idx < 0) {
        if (optional) {
            return 1;
        }
        rnnrt_util_set_err(r->err, "%s: the archive has no entry '%s'", r->path, name);
        return -1;
    }
    zip_stat_init(&st);
    if (zip_stat_index(r->za, (zip_uint64_t)idx, ZIP_FL_ENC_RAW, &st) != 0 ||
        (st.valid & (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD)) !=
            (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD)) {
        rnnrt_util_set_err(r->err, "%s: cannot read the directory entry of '%s'", r->path, name);
        return -1;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        rnnrt_util_set_err(r->err, "%s: entry '%s' is encrypted", r->path, name);
        return -1;
    }
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
        rnnrt_util_set_err(r->err,
                           "%s: entry '%s' uses compression method %u (torch.save stores "
                           "entries uncompressed; only stored and deflated entries are read)",
                           r->path, name, (unsigned)st.comp_method);
        return -1;
    }
    if (st.comp_size > r->archive_size ||
        (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size) ||
        (st.comp_method == ZIP_CM_DEFLATE && st.size / PT_MAX_RATIO > st.comp_size)) {
        rnnrt_util_set_err(r->err,
                           "%s: entry '%s' declares %llu bytes from %llu compressed bytes in "
                           "a %llu-byte archive: the sizes are inconsistent (a zip bomb or a "
                           "corrupt file)",
                           r->path, name, (unsigned long long)st.size,
                           (unsigned long long)st.comp_size, (unsigned long long)r->archive_size);
        return -1;
    }
    if (st.size > max || st.size >= SIZE_MAX) {
        rnnrt_util_set_err(r->err, "%s: entry '%s' declares %llu bytes (the limit is %llu)",
                           r->path, name, (unsigned long long)st.size, (unsigned long long)max);
        return -1;
    }
    if (want != UINT64_MAX && st.size != want) {
        rnnrt_util_set_err(r->err,
                           "%s: entry '%s' holds %llu bytes but the pickle declares %llu for "
                           "its storage",
                           r->path, name, (unsigned long long)st.size, (unsigned long long)want);
        return -1;
    }
    if (charge(r, st.size, name) != 0) {
        return -1;
    }
    *buf = malloc(st.size ? (size_t)st.size : 1);
    if (!*buf) {
        rnnrt_util_set_err(r->err, "%s: out of memory for entry '%s' (%llu bytes)", r->path, name,
                           (unsigned long long)st.size);
        return -1;
    }
    zf = zip_fopen_index(r->za, (zip_uint64_t)idx, 0);
    if (!zf) {
        rnnrt_util_set_err(r->err, "%s: cannot open entry '%s': %s", r->path, name,
                           zip_strerror(r->za));
        goto fail;
    }
    while (done < st.size) {
        got = zip_fread(zf, *buf + done, st.size - done);
        if (got <= 0) {
            break;
        }
        done += (size_t)got;
    }
    if (done == st.size) {
        got = zip_fread(zf, &probe, 1); /* end of entry: libzip checks the CRC here */
    }
    if (done != st.size || got != 0) {
        if (got < 0) {
            rnnrt_util_set_err(r->err, "%s: entry '%s' is corrupt: %s", r->path, name,
                               zip_file_strerror(zf));
        } else if (done != st.size) {
            rnnrt_util_set_err(r->err, "%s: entry '%s' is truncated (%zu of %llu bytes)", r->path,
                               name, done, (unsigned long long)st.size);
        } else {
            rnnrt_util_set_err(r->err, "%s: entry '%s' holds more than its declared %llu bytes",
                               r->path, name, (unsigned long long)st.size);
        }
        zip_fclose(zf);
        goto fail;
    }
    if (zip_fclose(zf) != 0) {
        rnnrt_util_set_err(r->err, "%s: entry '%s' is corrupt", r->path, name);
        goto fail;
    }
    *len = (size_t)st.size;
    return 0;
fail:
    free(*buf);
    *buf = NULL;
    return -1;
}

/* ---- element conversion and gathering --------------------------------------------------- */

/* IEEE half to float, exactly; NaNs come out quiet, as from PyTorch's conversion. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    float f;

    if (exp == 0x1f) {
        bits = sign | 0x7f800000 | (man << 13) | (man ? 0x400000 : 0);
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            int e = 0;
            while (!(man & 0x400)) {
                man <<= 1;
                e++;
            }
            bits = sign | (uint32_t)(113 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else {
        bits = sign | (exp + 112) << 23 | man << 13;
    }
    memcpy(&f, &bits, 4);
    return f;
}

/* An element of `size` bytes at `p`, byte-swapped when `swap`, into `v`. */
static void load(void *v, const unsigned char *p, int size, int swap)
{
    memcpy(v, p, (size_t)size);
    if (swap) {
        rnnrt_util_byteswap(v, 1, size);
    }
}

/* Converts one storage element at `src` to the output element at `dst`. */
static void convert(unsigned char *dst, const unsigned char *src, PklDtype dt, int swap)
{
    uint16_t h;
    uint32_t w;
    float f;

    switch (dt) {
    case PKL_F16:
        load(&h, src, 2, swap);
        f = half_to_float(h);
        memcpy(dst, &f, 4);
        break;
    case PKL_BF16:
        load(&h, src, 2, swap);
        w = (uint32_t)h << 16;
        memcpy(dst, &w, 4);
        break;
    case PKL_F32:
    case PKL_I32:
        load(dst, src, 4, swap);
        break;
    case PKL_F64:
    case PKL_I64:
        load(dst, src, 8, swap);
        break;
    case PKL_OTHER:
        break;
    }
}

static RnnrtDtype out_dtype(PklDtype dt)
{
    switch (dt) {
    case PKL_F64:
        return RNNRT_F64;
    case PKL_I32:
        return RNNRT_I32;
    case PKL_I64:
        return RNNRT_I64;
    default:
        return RNNRT_F32;
    }
}

/* Copies the strided view `p` of the storage `st` (p->storage_numel elements, already read
 * and checked) into the C-order tensor *t. `swap`: the storage's byte order is not ours. */
static int gather(Rd *r, const PklTensor *p, const unsigned char *st, int swap, int64_t *expand,
                  RnnrtTensor *t)
{
    int64_t numel = 1, last = p->offset, idx[RNNRT_MAX_DIMS] = {0};
    int osize = rnnrt_dtype_size(out_dtype(p->dtype)), contiguous = 1;
    char what[200];

    for (int d = 0; d < p->ndim; d++) {
        if (p->shape[d] != 0 && numel > INT64_MAX / 8 / p->shape[d]) {
            rnnrt_util_set_err(r->err, "%s: tensor '%s' has an impossibly large shape", r->path,
                               p->name);
            return -1;
        }
        numel *= p->shape[d];
    }
    for (int64_t d = p->ndim - 1, cs = 1; d >= 0 && numel > 0; d--) {
        if (p->shape[d] > 1 && p->stride[d] != cs) {
            contiguous = 0;
        }
        cs *= p->shape[d]; /* at most numel: no overflow */
    }
    for (int d = 0; d < p->ndim && numel > 0; d++) {
        if (p->stride[d] != 0 && p->shape[d] - 1 > (INT64_MAX - last) / p->stride[d]) {
            last = INT64_MAX;
            break;
        }
        last += (p->shape[d] - 1) * p->stride[d];
    }
    if ((numel > 0 && last >= p->storage_numel) || p->offset > p->storage_numel) {
        rnnrt_util_set_err(r->err,
                           "%s: tensor '%s' (offset %lld, its strides and shape) reaches "
                           "outside its storage '%s' of %lld elements",
                           r->path, p->name, (long long)p->offset, p->storage,
                           (long long)p->storage_numel);
        return -1;
    }
    if (numel > p->storage_numel) {
        *expand += numel - p->storage_numel;
        if (*expand > PT_MAX_EXPAND) {
            rnnrt_util_set_err(r->err,
                               "%s: tensor '%s' repeats its storage's elements (stride 0) "
                               "beyond %lld elements in all (the limit)",
                               r->path, p->name, (long long)PT_MAX_EXPAND);
            return -1;
        }
    }
    snprintf(what, sizeof what, "tensor '%.150s'", p->name);
    if (charge(r, (uint64_t)numel * (uint64_t)osize, what) != 0) {
        return -1;
    }
    t->name = strdup(p->name);
    t->data = malloc(numel ? (size_t)numel * (size_t)osize : 1);
    if (!t->name || !t->data) {
        rnnrt_util_set_err(r->err, "%s: out of memory for tensor '%s'", r->path, p->name);
        return -1;
    }
    t->dtype = out_dtype(p->dtype);
    t->ndim = p->ndim;
    for (int d = 0; d < p->ndim; d++) {
        if (p->shape[d] > LONG_MAX) {
            rnnrt_util_set_err(r->err, "%s: tensor '%s' is too large", r->path, p->name);
            return -1;
        }
        t->shape[d] = (long)p->shape[d];
    }
    if (contiguous && !swap && p->elsize == osize && numel > 0) {
        memcpy(t->data, st + (size_t)p->offset * (size_t)p->elsize, (size_t)numel * (size_t)osize);
        return 0;
    }
    unsigned char *dst = t->data;
    int64_t src = p->offset;
    for (int64_t k = 0; k < numel; k++, dst += osize) {
        convert(dst, st + (size_t)src * (size_t)p->elsize, p->dtype, swap);
        /* the next index in C order; src stays within [offset, last] (no overflow) */
        for (int d = p->ndim - 1; d >= 0; d--) {
            if (idx[d] + 1 < p->shape[d]) {
                idx[d]++;
                src += p->stride[d];
                break;
            }
            src -= p->stride[d] * idx[d];
            idx[d] = 0;
        }
    }
    return 0;
}

/* ---- reading a whole archive ------------------------------------------------------------ */

static int cmp_storage(const void *a, const void *b)
{
    const PklTensor *x = *(const PklTensor *const *)a, *y = *(const PklTensor *const *)b;
    int c = strcmp(x->storage, y->storage);

    return c ? c : (x < y ? -1 : x > y);
}

/* Finds the archive's top folder (from its first entry, as torch does) into r->prefix. */
static int find_prefix(Rd *r)
{
    const char *first, *slash;
    zip_int64_t n = zip_get_num_entries(r->za, 0);

    if (n <= 0) {
        rnnrt_util_set_err(r->err, "%s: the zip archive is empty: not a torch.save file", r->path);
        return -1;
    }
    first = zip_get_name(r->za, 0, ZIP_FL_ENC_RAW);
    slash = first ? strchr(first, '/') : NULL;
    if (!slash || slash == first || (size_t)(slash - first) >= sizeof r->prefix - 16) {
        rnnrt_util_set_err(r->err,
                           "%s: the archive's entries are not inside one top folder: not a "
                           "torch.save file",
                           r->path);
        return -1;
    }
    memcpy(r->prefix, first, (size_t)(slash - first));
    r->prefix[slash - first] = '\0';
    return 0;
}

/* The storages' byte order from <prefix>/byteorder (PyTorch >= 2.1), else little-endian. */
static int read_byteorder(Rd *r, int *swap)
{
    unsigned char *b;
    size_t n;
    int rc = read_entry(r, "byteorder", UINT64_MAX, 16, 1, &b, &n);
    int little = 1;

    if (rc < 0) {
        return -1;
    }
    if (rc == 0) {
        if (n == 3 && memcmp(b, "big", 3) == 0) {
            little = 0;
        } else if (!(n == 6 && memcmp(b, "little", 6) == 0)) {
            rnnrt_util_set_err(r->err, "%s: the byteorder entry is neither 'little' nor 'big'",
                               r->path);
            free(b);
            return -1;
        }
        free(b);
    }
    *swap = little != rnnrt_util_host_is_le();
    return 0;
}

/* Reads each storage once and gathers the tensors that view it into out->t (dict order). */
static int read_tensors(Rd *r, const PklDict *d, RnnrtTensorFile *out, int swap)
{
    const PklTensor **by = malloc((size_t)(d->n ? d->n : 1) * sizeof *by);
    int64_t expand = 0;
    int rc = 0;

    out->t = calloc((size_t)(d->n ? d->n : 1), sizeof *out->t);
    if (!by || !out->t) {
        free(by);
        rnnrt_util_set_err(r->err, "%s: out of memory", r->path);
        return -1;
    }
    out->n = d->n;
    for (int i = 0; i < d->n; i++) {
        by[i] = &d->t[i];
    }
    qsort(by, (size_t)d->n, sizeof *by, cmp_storage);
    for (int i = 0; i < d->n && rc == 0;) {
        const PklTensor *s = by[i];
        unsigned char *data = NULL;
        char sub[96];
        size_t len;
        int j = i;

        for (; j < d->n && strcmp(by[j]->storage, s->storage) == 0; j++) {
            if (by[j]->dtype != s->dtype || by[j]->storage_numel != s->storage_numel) {
                rnnrt_util_set_err(r->err,
                                   "%s: storage '%s' is declared both as %lld %s and as %lld "
                                   "%s elements",
                                   r->path, s->storage, (long long)s->storage_numel, s->dtype_name,
                                   (long long)by[j]->storage_numel, by[j]->dtype_name);
                rc = -1;
                break;
            }
        }
        if (rc == 0 && (uint64_t)s->storage_numel > PT_MAX_BYTES / (uint64_t)s->elsize) {
            rnnrt_util_set_err(r->err, "%s: storage '%s' declares %lld elements (too many)",
                               r->path, s->storage, (long long)s->storage_numel);
            rc = -1;
        }
        snprintf(sub, sizeof sub, "data/%s", s->storage);
        if (rc == 0) {
            rc = read_entry(r, sub, (uint64_t)s->storage_numel * (uint64_t)s->elsize, PT_MAX_BYTES,
                            0, &data, &len);
        }
        for (int k = i; k < j && rc == 0; k++) {
            rc = gather(r, by[k], data, swap, &expand, &out->t[by[k] - d->t]);
        }
        free(data);
        i = j;
    }
    free(by);
    return rc;
}

/* Reads an opened zip archive; *r is filled but for prefix. */
static int read_zip(Rd *r, RnnrtTensorFile *out)
{
    char where[512];
    unsigned char *pkl;
    size_t plen;
    PklDict d;
    int swap = 0, rc;

    if (find_prefix(r) != 0) {
        return -1;
    }
    rc = read_entry(r, "data.pkl", UINT64_MAX, PT_MAX_PICKLE, 1, &pkl, &plen);
    if (rc == 1) {
        char name[300];
        snprintf(name, sizeof name, "%s/constants.pkl", r->prefix);
        if (zip_name_locate(r->za, name, ZIP_FL_ENC_RAW) >= 0) {
            rnnrt_util_set_err(r->err,
                               "%s: a TorchScript archive (torch.jit.save), not a state_dict: "
                               "save it with torch.save(model.state_dict(), path)",
                               r->path);
        } else {
            rnnrt_util_set_err(r->err,
                               "%s: the archive has no '%s/data.pkl': not a torch.save "
                               "file",
                               r->path, r->prefix);
        }
        return -1;
    }
    if (rc < 0 || read_byteorder(r, &swap) != 0) {
        free(pkl);
        return -1;
    }
    snprintf(where, sizeof where, "%s: %s/data.pkl", r->path, r->prefix);
    rc = rnnrt_pkl_read(pkl, plen, where, &d, r->err);
    free(pkl);
    if (rc != 0) {
        return -1;
    }
    rc = read_tensors(r, &d, out, swap);
    rnnrt_pkl_free(&d);
    return rc;
}

/* Opens the archive in `src` (taking it over) and reads it into *out. */
static int read_source(zip_source_t *src, uint64_t size, const char *path, RnnrtTensorFile *out,
                       RnnrtError *err)
{
    Rd r;
    zip_error_t ze;
    int rc;

    memset(&r, 0, sizeof r);
    r.path = path;
    r.archive_size = size;
    r.err = err;
    zip_error_init(&ze);
    r.za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!r.za) {
        rnnrt_util_set_err(err, "%s: not a readable zip archive: %s", path,
                           zip_error_strerror(&ze));
        zip_error_fini(&ze);
        zip_source_free(src);
        return -1;
    }
    zip_error_fini(&ze);
    rc = read_zip(&r, out);
    zip_discard(r.za);
    if (rc != 0) {
        rnnrt_st_free(out);
    }
    return rc;
}

int rnnrt_pt_read_mem(const void *buf, size_t n, const char *name, RnnrtTensorFile *out,
                      RnnrtError *err)
{
    FileKind k = sniff(buf, n);
    zip_source_t *src;
    zip_error_t ze;

    memset(out, 0, sizeof *out);
    rnnrt_util_clear_err(err);
    if (k != FK_ZIP) {
        return refuse_kind(k, name, err);
    }
    zip_error_init(&ze);
    src = zip_source_buffer_create(buf, n, 0, &ze);
    if (!src) {
        rnnrt_util_set_err(err, "%s: %s", name, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    zip_error_fini(&ze);
    return read_source(src, n, name, out, err);
}

int rnnrt_pt_read(const char *path, RnnrtTensorFile *out, RnnrtError *err)
{
    unsigned char head[sizeof legacy_magic];
    zip_source_t *src;
    zip_error_t ze;
    struct stat st;
    size_t n;
    FILE *f;

    memset(out, 0, sizeof *out);
    rnnrt_util_clear_err(err);
    f = rnnrt_util_open_read(path, err);
    if (!f) {
        return -1;
    }
    n = fread(head, 1, sizeof head, f);
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rnnrt_util_set_err(err, "%s: not a regular file", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (sniff(head, n) != FK_ZIP) {
        return refuse_kind(sniff(head, n), path, err);
    }
    zip_error_init(&ze);
    src = zip_source_file_create(path, 0, 0, &ze);
    if (!src) {
        rnnrt_util_set_err(err, "%s: cannot open: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    zip_error_fini(&ze);
    return read_source(src, (uint64_t)st.st_size, path, out, err);
}

/* ---- the format-neutral entry points ---------------------------------------------------- */

int rnnrt_tensors_read(const char *path, RnnrtTensorFile *out, RnnrtError *err)
{
    unsigned char head[9];
    size_t n;
    FILE *f;

    memset(out, 0, sizeof *out);
    rnnrt_util_clear_err(err);
    f = rnnrt_util_open_read(path, err);
    if (!f) {
        return -1;
    }
    n = fread(head, 1, sizeof head, f);
    fclose(f);
    /* safetensors: a u64 header length (under 4 GiB here), then '{'; its first byte may be
     * 0x80, a pickle's PROTO, when the length is 128 modulo 256 */
    int st = n == 9 && head[8] == '{' && !head[4] && !head[5] && !head[6] && !head[7];
    if (!st && (sniff(head, n) == FK_ZIP || (n >= 1 && head[0] == 0x80))) {
        return rnnrt_pt_read(path, out, err);
    }
    return rnnrt_st_read(path, out, err);
}

/* 1 if `path` ends in .pt or .pth (any case). */
static int is_pt_path(const char *path)
{
    const char *dot = strrchr(path, '.');

    return dot && !strchr(dot, '/') &&
           (strcasecmp(dot, ".pt") == 0 || strcasecmp(dot, ".pth") == 0);
}

int rnnrt_tensors_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err)
{
    return is_pt_path(path) ? rnnrt_pt_write(path, ts, n, err) : rnnrt_st_write(path, ts, n, err);
}
