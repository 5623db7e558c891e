/* st_util.c — helpers shared by librnnrt's safetensors reader, writer and parameter matching
 * (see st_int.h): the capped multi-line error report, shape formatting and byte counts, and
 * names sorted for duplicate checks and lookups.
 */
#include "st_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 20 /* error lines reported before "... and N more" */

const char *const rnnrt_sti_dtype_names[4] = {"F32", "F64", "I32", "I64"};

/* ---- error reporting ---------------------------------------------------------------- */

void rnnrt_sti_err_line(ErrList *e, const char *fmt, ...)
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
int rnnrt_sti_err_finish(ErrList *e)
{
    if (e->dropped > 0 && e->err) {
        size_t len = strlen(e->err->msg);
        snprintf(e->err->msg + len, sizeof e->err->msg - len, "%s... and %d more",
                 len > 0 ? "\n" : "", e->dropped);
    }
    return e->lines + e->dropped > 0 ? -1 : 0;
}

/* ---- shapes ------------------------------------------------------------------------- */

/* "[256, 10]" */
const char *rnnrt_sti_fmt_shape(char *buf, size_t cap, int ndim, const long *shape)
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
int rnnrt_sti_shape_bytes(int ndim, const long *shape, int size, uint64_t *out)
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

/* ---- names -------------------------------------------------------------------------- */

static int cmp_name_ref(const void *a, const void *b)
{
    const NameRef *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* The `n` names (NULL entries skipped) sorted with their indices into a fresh array; NULL
 * when out of memory. */
NameRef *rnnrt_sti_sorted_names(const RnnrtTensor *ts, int n, int *count)
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
int rnnrt_sti_report_duplicates(ErrList *e, const char *path, const char *lead,
                                const RnnrtTensor *ts, int n)
{
    int k;
    NameRef *refs = rnnrt_sti_sorted_names(ts, n, &k);

    if (!refs) {
        return -1;
    }
    for (int i = 1; i < k; i++) {
        if (strcmp(refs[i].name, refs[i - 1].name) == 0 &&
            (i == 1 || strcmp(refs[i - 1].name, refs[i - 2].name) != 0)) {
            rnnrt_sti_err_line(e, "%s: %sduplicate tensor name '%s'", path, lead, refs[i].name);
        }
    }
    free(refs);
    return 0;
}
