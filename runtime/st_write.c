/* st_write.c — safetensors writing for librnnrt (rnnrt_st_write): the checks of the tensors
 * to write, the compact JSON header with its names escaped so that any reader takes them,
 * padded to 8 bytes, and the little-endian data; the atomic file write is rt_util.c's.
 */
#include "json.h"
#include "rnnrt.h"
#include "rt_util.h"
#include "st_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the header text ---------------------------------------------------------------- */

/* `s` (well-formed UTF-8: check_tensors saw to it) as a JSON string literal. Quotes,
 * backslashes, controls (C0, DEL, C1) and the noncharacters U+FFFE and U+FFFF become \u
 * escapes, so that the header is plain printable text to any reader (YAML-based readers
 * refuse the raw characters); everything else passes through as UTF-8. */
static void sb_json_str(RnnrtBuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, run = 0;

    rnnrt_buf_put(b, "\"", 1);
    while (i < n) {
        uint32_t cp;
        int k = rnnrt_utf8_seq(u + i, n - i, &cp);
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
        rnnrt_buf_put(b, s + i - run, run);
        run = 0;
        if (cp == '"' || cp == '\\') {
            esc[0] = '\\';
            esc[1] = (char)cp;
            rnnrt_buf_put(b, esc, 2);
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            rnnrt_buf_put(b, esc, 6);
        }
        i += (size_t)k;
    }
    rnnrt_buf_put(b, s + i - run, run);
    rnnrt_buf_put(b, "\"", 1);
}

/* ---- writing ------------------------------------------------------------------------ */

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
            rnnrt_sti_err_line(&e, "%s: cannot write tensor %d: invalid name '%s'", path, i, name);
            continue;
        }
        if (rnnrt_utf8_valid_prefix((const unsigned char *)name, strlen(name)) != strlen(name)) {
            rnnrt_sti_err_line(&e, "%s: cannot write tensor %d: its name is not valid UTF-8", path,
                               i);
            continue;
        }
        if (t->dtype != RNNRT_F32 && t->dtype != RNNRT_F64 && t->dtype != RNNRT_I32 &&
            t->dtype != RNNRT_I64) {
            rnnrt_sti_err_line(&e, "%s: cannot write tensor '%s': invalid dtype %d", path, name,
                               (int)t->dtype);
            continue;
        }
        if (t->ndim < 0 || t->ndim > RNNRT_MAX_DIMS) {
            rnnrt_sti_err_line(&e, "%s: cannot write tensor '%s': ndim %d is out of range 0..%d",
                               path, name, t->ndim, RNNRT_MAX_DIMS);
            continue;
        }
        for (int j = 0; j < t->ndim; j++) {
            bad_dim |= t->shape[j] < 0;
        }
        if (bad_dim ||
            rnnrt_sti_shape_bytes(t->ndim, t->shape, rnnrt_dtype_size(t->dtype), &nbytes) != 0) {
            char sbuf[SHAPE_BUF];
            rnnrt_sti_err_line(&e, "%s: cannot write tensor '%s': invalid shape %s", path, name,
                               rnnrt_sti_fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape));
            continue;
        }
        if (nbytes > 0 && !t->data) {
            rnnrt_sti_err_line(&e, "%s: cannot write tensor '%s': it has no data", path, name);
        }
    }
    if (rnnrt_sti_report_duplicates(&e, path, "cannot write: ", ts, n) != 0) {
        rnnrt_util_set_err(err, "%s: out of memory", path);
        return -1;
    }
    return rnnrt_sti_err_finish(&e);
}

int rnnrt_st_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err)
{
    unsigned char lenb[8];
    RnnrtBuf hb = {NULL, 0, 0, 0};
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
    rnnrt_buf_printf(&hb, "{");
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = &ts[i];
        uint64_t nbytes = 0;

        rnnrt_sti_shape_bytes(t->ndim, t->shape, rnnrt_dtype_size(t->dtype), &nbytes);
        rnnrt_buf_printf(&hb, i ? "," : "");
        sb_json_str(&hb, t->name);
        rnnrt_buf_printf(&hb, ":{\"dtype\":\"%s\",\"shape\":[", rnnrt_sti_dtype_names[t->dtype]);
        for (int j = 0; j < t->ndim; j++) {
            rnnrt_buf_printf(&hb, j ? ",%ld" : "%ld", t->shape[j]);
        }
        rnnrt_buf_printf(&hb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
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
    rnnrt_buf_printf(&hb, "}");
    while (!hb.oom && hb.len % 8 != 0) {
        rnnrt_buf_printf(&hb, " ");
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
