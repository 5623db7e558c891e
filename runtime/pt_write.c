/* pt_write.c — writing PyTorch .pt files for librnnrt (rnnrt_pt_write): the tensors are
 * checked, pickled by pickle_write.c and laid out, with torch's entry names and order, by
 * a stored-only zip writer of its own (64-byte aligned data, no timestamps: deterministic
 * output) that torch.load reads. The zip writer also serves tests (rnnrt_pt_zip_mem).
 */
#include "pt.h"
#include "pickle.h"
#include "rnnrt.h"
#include "rt_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 if `s` is valid UTF-8 (torch.load decodes names as such). */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int n = *p < 0x80             ? 0
                : (*p & 0xe0) == 0xc0 ? 1
                : (*p & 0xf0) == 0xe0 ? 2
                : (*p & 0xf8) == 0xf0 ? 3
                                      : -1;
        uint32_t c = n == 0 ? *p : n == 1 ? *p & 0x1fu : n == 2 ? *p & 0x0fu : *p & 0x07u;
        if (n < 0) {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
            c = c << 6 | (p[i] & 0x3fu);
        }
        if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
            c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0; /* overlong, out of range or a surrogate */
        }
        p += n + 1;
    }
    return 1;
}

static int cmp_tensor_names(const void *a, const void *b)
{
    const RnnrtTensor *x = *(const RnnrtTensor *const *)a, *y = *(const RnnrtTensor *const *)b;

    return strcmp(x->name, y->name);
}

/* Checks the tensors to write; the first problem is reported. */
static int check_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err)
{
    const RnnrtTensor **by;
    int rc = 0;

    if (n < 0 || (n > 0 && !ts) || n > 65000) {
        rnnrt_util_set_err(err, "%s: cannot write: invalid tensor list (%d tensors)", path, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = &ts[i];
        uint64_t bytes = 0;
        if (!t->name || !utf8_ok(t->name)) {
            rnnrt_util_set_err(err, "%s: cannot write tensor %d: its name is %s", path, i,
                               t->name ? "not valid UTF-8" : "missing");
            return -1;
        }
        if (t->dtype != RNNRT_F32 && t->dtype != RNNRT_F64 && t->dtype != RNNRT_I32 &&
            t->dtype != RNNRT_I64) {
            rnnrt_util_set_err(err, "%s: cannot write tensor '%s': invalid dtype %d", path,
                               t->name, (int)t->dtype);
            return -1;
        }
        if (t->ndim < 0 || t->ndim > RNNRT_MAX_DIMS) {
            rnnrt_util_set_err(err, "%s: cannot write tensor '%s': ndim %d is out of range 0..%d",
                               path, t->name, t->ndim, RNNRT_MAX_DIMS);
            return -1;
        }
        bytes = (uint64_t)rnnrt_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 ||
                (t->shape[d] > 0 && bytes > (uint64_t)UINT32_MAX / (uint64_t)t->shape[d])) {
                rnnrt_util_set_err(err,
                                   "%s: cannot write tensor '%s': a negative or too large "
                                   "shape (at most 4 GiB per file)",
                                   path, t->name);
                return -1;
            }
            bytes *= (uint64_t)t->shape[d];
        }
        if (bytes > 0 && !t->data) {
            rnnrt_util_set_err(err, "%s: cannot write tensor '%s': it has no data", path, t->name);
            return -1;
        }
    }
    by = malloc((size_t)(n ? n : 1) * sizeof *by);
    if (!by) {
        rnnrt_util_set_err(err, "%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        by[i] = &ts[i];
    }
    qsort(by, (size_t)n, sizeof *by, cmp_tensor_names);
    for (int i = 1; i < n && rc == 0; i++) {
        if (strcmp(by[i - 1]->name, by[i]->name) == 0) {
            rnnrt_util_set_err(err, "%s: cannot write: duplicate tensor name '%s'", path,
                               by[i]->name);
            rc = -1;
        }
    }
    free(by);
    return rc;
}

/* CRC-32 (the zip polynomial) of `n` bytes, continuing from `crc`; `tab` from crc_table. */
static uint32_t crc32_update(const uint32_t *tab, uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = tab[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

static void crc_table(uint32_t *tab)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        }
        tab[i] = c;
    }
}

static unsigned char *le16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}

static unsigned char *le32(unsigned char *p, uint32_t v)
{
    p = le16(p, v & 0xffff);
    return le16(p, v >> 16);
}

/* A planned archive: bufs/lens in file order, the headers all in `hdr`. */
typedef struct ZipPlan {
    const void **bufs; /* (nbufs) */
    size_t *lens;      /* (nbufs) */
    int nbufs;
    unsigned char *hdr;
} ZipPlan;

static void zip_plan_free(ZipPlan *zp)
{
    free(zp->bufs);
    free(zp->lens);
    free(zp->hdr);
    memset(zp, 0, sizeof *zp);
}

#define ZIP_DATE 0x0021 /* 1980-01-01, 00:00 (no timestamps: the output is deterministic) */
#define ZIP_VERSION 20

/* Lays out a stored-only zip of the `n` entries: local header (with an extra field of
 * padding, id "FB" as torch's writer uses, so that the data starts on a 64-byte boundary),
 * data; then the central directory and its end record. */
static int zip_plan(const PtEntry *e, int n, const char *path, ZipPlan *zp, RnnrtError *err)
{
    uint32_t tab[256], *crcs = NULL;
    uint64_t off = 0, cd_start, hdr_bytes = 22;
    unsigned char *h;
    uint32_t *offs = NULL;

    memset(zp, 0, sizeof *zp);
    if (n < 0 || n > 65535) {
        rnnrt_util_set_err(err, "%s: cannot write %d zip entries (at most 65535)", path, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        hdr_bytes += 30 + 46 + 2 * strlen(e[i].name) + 64 + 4;
    }
    zp->bufs = malloc((size_t)(2 * n + 2) * sizeof *zp->bufs);
    zp->lens = malloc((size_t)(2 * n + 2) * sizeof *zp->lens);
    zp->hdr = malloc((size_t)hdr_bytes);
    crcs = malloc((size_t)(n + 1) * sizeof *crcs);
    offs = malloc((size_t)(n + 1) * sizeof *offs);
    if (!zp->bufs || !zp->lens || !zp->hdr || !crcs || !offs) {
        rnnrt_util_set_err(err, "%s: out of memory", path);
        goto fail;
    }
    crc_table(tab);
    h = zp->hdr;
    for (int i = 0; i < n; i++) {
        size_t nlen = strlen(e[i].name);
        uint64_t pad = (64 - (off + 30 + nlen) % 64) % 64;
        unsigned char *start = h;

        if (pad > 0 && pad < 4) {
            pad += 64; /* room for the extra field's own 4-byte header */
        }
        if (nlen > 0xffff || e[i].len > UINT32_MAX || off > UINT32_MAX) {
            rnnrt_util_set_err(err, "%s: too large for a zip without zip64 (4 GiB)", path);
            goto fail;
        }
        crcs[i] = crc32_update(tab, 0, e[i].data, e[i].len);
        offs[i] = (uint32_t)off;
        h = le32(h, 0x04034b50);
        h = le16(h, ZIP_VERSION);
        h = le16(h, 0); /* flags */
        h = le16(h, 0); /* stored */
        h = le16(h, 0); /* time */
        h = le16(h, ZIP_DATE);
        h = le32(h, crcs[i]);
        h = le32(h, (uint32_t)e[i].len);
        h = le32(h, (uint32_t)e[i].len);
        h = le16(h, (uint32_t)nlen);
        h = le16(h, (uint32_t)pad);
        memcpy(h, e[i].name, nlen);
        h += nlen;
        if (pad > 0) {
            h = le16(h, 'F' | 'B' << 8);
            h = le16(h, (uint32_t)pad - 4);
            memset(h, 'Z', (size_t)pad - 4);
            h += pad - 4;
        }
        zp->bufs[zp->nbufs] = start;
        zp->lens[zp->nbufs++] = (size_t)(h - start);
        zp->bufs[zp->nbufs] = e[i].data;
        zp->lens[zp->nbufs++] = e[i].len;
        off += (uint64_t)(h - start) + e[i].len;
    }
    cd_start = off;
    unsigned char *cd = h;
    for (int i = 0; i < n; i++) {
        size_t nlen = strlen(e[i].name);
        h = le32(h, 0x02014b50);
        h = le16(h, ZIP_VERSION); /* made by: MS-DOS, 2.0 */
        h = le16(h, ZIP_VERSION);
        h = le16(h, 0);
        h = le16(h, 0);
        h = le16(h, 0);
        h = le16(h, ZIP_DATE);
        h = le32(h, crcs[i]);
        h = le32(h, (uint32_t)e[i].len);
        h = le32(h, (uint32_t)e[i].len);
        h = le16(h, (uint32_t)nlen);
        h = le16(h, 0); /* extra */
        h = le16(h, 0); /* comment */
        h = le16(h, 0); /* disk */
        h = le16(h, 0); /* internal attributes */
        h = le32(h, 0); /* external attributes */
        h = le32(h, offs[i]);
        memcpy(h, e[i].name, nlen);
        h += nlen;
    }
    uint64_t cd_size = (uint64_t)(h - cd);
    if (cd_start + cd_size > UINT32_MAX) {
        rnnrt_util_set_err(err, "%s: too large for a zip without zip64 (4 GiB)", path);
        goto fail;
    }
    h = le32(h, 0x06054b50);
    h = le16(h, 0);
    h = le16(h, 0);
    h = le16(h, (uint32_t)n);
    h = le16(h, (uint32_t)n);
    h = le32(h, (uint32_t)cd_size);
    h = le32(h, (uint32_t)cd_start);
    h = le16(h, 0);
    zp->bufs[zp->nbufs] = cd;
    zp->lens[zp->nbufs++] = (size_t)(h - cd);
    free(crcs);
    free(offs);
    return 0;
fail:
    free(crcs);
    free(offs);
    zip_plan_free(zp);
    return -1;
}

int rnnrt_pt_zip_mem(const PtEntry *e, int n, const char *name, unsigned char **buf, size_t *len,
                     RnnrtError *err)
{
    ZipPlan zp;
    size_t total = 0;

    *buf = NULL;
    *len = 0;
    if (zip_plan(e, n, name, &zp, err) != 0) {
        return -1;
    }
    for (int i = 0; i < zp.nbufs; i++) {
        total += zp.lens[i];
    }
    *buf = malloc(total);
    if (!*buf) {
        rnnrt_util_set_err(err, "%s: out of memory", name);
        zip_plan_free(&zp);
        return -1;
    }
    for (int i = 0; i < zp.nbufs; i++) {
        if (zp.lens[i]) {
            memcpy(*buf + *len, zp.bufs[i], zp.lens[i]);
            *len += zp.lens[i];
        }
    }
    zip_plan_free(&zp);
    return 0;
}

int rnnrt_pt_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err)
{
    unsigned char *pkl = NULL;
    size_t plen = 0;
    PtEntry *e = NULL;
    char(*names)[32] = NULL;
    void **copies = NULL;
    ZipPlan zp;
    int rc = -1;

    rnnrt_util_clear_err(err);
    if (check_write(path, ts, n, err) != 0) {
        return -1;
    }
    e = calloc((size_t)n + 4, sizeof *e);
    names = calloc((size_t)n + 1, sizeof *names);
    copies = calloc((size_t)n + 1, sizeof *copies);
    if (!e || !names || !copies || rnnrt_pkl_write(ts, n, &pkl, &plen) != 0) {
        rnnrt_util_set_err(err, "%s: out of memory", path);
        goto done;
    }
    /* torch's order: data.pkl, byteorder, the storages, version */
    e[0] = (PtEntry){"archive/data.pkl", pkl, plen};
    e[1] = (PtEntry){"archive/byteorder", "little", 6};
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = &ts[i];
        size_t bytes = (size_t)rnnrt_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) {
            bytes *= (size_t)t->shape[d];
        }
        snprintf(names[i], sizeof names[i], "archive/data/%d", i);
        e[2 + i] = (PtEntry){names[i], bytes ? t->data : NULL, bytes};
        if (!rnnrt_util_host_is_le() && bytes > 0) {
            copies[i] = malloc(bytes);
            if (!copies[i]) {
                rnnrt_util_set_err(err, "%s: out of memory", path);
                goto done;
            }
            memcpy(copies[i], t->data, bytes);
            rnnrt_util_byteswap(copies[i], bytes / (size_t)rnnrt_dtype_size(t->dtype),
                                rnnrt_dtype_size(t->dtype));
            e[2 + i].data = copies[i];
        }
    }
    e[2 + n] = (PtEntry){"archive/version", "3\n", 2};
    if (zip_plan(e, n + 3, path, &zp, err) == 0) {
        rc = rnnrt_util_write_atomic(path, zp.bufs, zp.lens, zp.nbufs, err);
        zip_plan_free(&zp);
    }
done:
    for (int i = 0; copies && i < n; i++) {
        free(copies[i]);
    }
    free(copies);
    free(names);
    free(e);
    free(pkl);
    return rc;
}
