/* params.c — rnnrt_params_load: matching a tensor file read by librnnrt against the model's
 * parameter table (names, dtypes, shapes; every problem reported at once), then copying the
 * tensors into the flat parameter block, converting F32/F64 as the model needs.
 */
#include "rnnrt.h"
#include "rt_util.h"
#include "st_int.h"

#include <stdlib.h>
#include <string.h>

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
    refs = rnnrt_sti_sorted_names(f->t, f->n, &k);
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
            rnnrt_sti_err_line(&e, "invalid parameter spec for '%s' (ndim %d, offset %ld)",
                               s->name, s->ndim, s->offset);
            continue;
        }
        rnnrt_sti_fmt_shape(want, sizeof want, s->ndim, s->shape);
        if (!t) {
            rnnrt_sti_err_line(&e, "missing tensor '%s' (expected shape %s)", s->name, want);
            continue;
        }
        used[t - f->t] = 1;
        if (t->dtype != RNNRT_F32 && t->dtype != RNNRT_F64) {
            rnnrt_sti_err_line(&e, "tensor '%s' has dtype %s, expected F32 or F64", s->name,
                               rnnrt_sti_dtype_names[t->dtype]);
        }
        if (!shape_equal(t, s)) {
            rnnrt_sti_err_line(&e, "tensor '%s' has shape %s, expected %s", s->name,
                               rnnrt_sti_fmt_shape(have, sizeof have, t->ndim, t->shape), want);
        }
    }
    for (int j = 0; j < f->n; j++) {
        if (!used[j]) {
            rnnrt_sti_err_line(
                &e, "unexpected tensor '%s' (shape %s)", f->t[j].name,
                rnnrt_sti_fmt_shape(have, sizeof have, f->t[j].ndim, f->t[j].shape));
        }
    }
    free(used);
    if (rnnrt_sti_err_finish(&e) != 0) {
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
