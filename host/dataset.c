/* dataset.c — training data: inputs and targets memory-mapped where the .npy files allow
 * (a rank touches only the rows of its shares, and no rank holds a copy of the set), the
 * lengths read whole (every rank splits every batch by them), and the targets checked
 * against the spec before the first step, class ids at their row of the file.
 */
#include "train.h"

#include <stdlib.h>
#include <string.h>

void dataset_free(Dataset *ds)
{
    io_data_free(&ds->d);
    rnnrt_npy_unmap(&ds->target, &ds->tmap);
}

/* Every class id at a valid position of cross_entropy targets in 0..O-1 or -100 (noted in
 * ds->has_ignore); the first few outside it reported at their row (and step) of the file.
 * 0, or -1. */
static int check_classes(Rnnc *r, Dataset *ds, int per_step, int quiet)
{
    const Net *net = r->net;
    int bad = 0, O = net->out_size;
    const RnnrtArray *t = &ds->target;
    for (int b = 0; b < ds->N; b++) {
        int steps = per_step ? ds->d.len[b] : 1;
        for (int st = 0; st < steps; st++) {
            long at = !per_step          ? b
                      : net->batch_first ? (long)b * ds->T + st
                                         : (long)st * ds->N + b;
            long k = t->dtype == RNNRT_I32 ? ((const int *)t->data)[at]
                                           : (long)((const long long *)t->data)[at];
            if (k == -100)
                ds->has_ignore = 1;
            if (k == -100 || (k >= 0 && k < O))
                continue;
            if (bad++ < 5 && !quiet) {
                char step[32] = "";
                if (per_step)
                    snprintf(step, sizeof step, ", step %d", st);
                diag_error(&r->diag, span_none(),
                           "%s: class %ld at row %d%s is outside 0..%d (the head's %d "
                           "outputs; -100 ignores a target)",
                           ds->target_name, k, b, step, O - 1, O);
            }
        }
    }
    if (bad > 5 && !quiet)
        diag_error(&r->diag, span_none(), "%s: %d class ids out of range in all", ds->target_name,
                   bad);
    return bad ? -1 : 0;
}

int dataset_load(Rnnc *r, Dataset *ds, const char *x, const char *t, const char *l, int quiet)
{
    const Net *net = r->net;
    memset(ds, 0, sizeof *ds);
    RnncRunArgs ra = {NULL, x, l, NULL, NULL, NULL, NULL, 1, NULL, NULL};
    RnnrtError err;
    int n0 = r->diag.n, e0 = r->diag.nerrors;
    ds->d.map_x = 1;
    if (io_load_inputs(r, &ra, &ds->d, &ds->N, &ds->T) < 0)
        goto fail;
    if (!ds->d.len) {
        ds->d.len = malloc((size_t)ds->N * sizeof *ds->d.len);
        for (int b = 0; ds->d.len && b < ds->N; b++)
            ds->d.len[b] = ds->T;
    }
    if (!ds->d.len) {
        diag_error(&r->diag, span_none(), "out of memory for %s", x);
        goto fail;
    }
    if (rnnrt_npy_map(t, &ds->target, &ds->tmap, &err) < 0) {
        io_rt_error(r, &err);
        goto fail;
    }
    ds->target_name = t;
    /* the shape rnnrt_loss expects for the whole set */
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    int ce = net->loss == LOSS_CROSS_ENTROPY;
    long want[3] = {per_step ? (net->batch_first ? ds->N : ds->T) : ds->N,
                    per_step ? (net->batch_first ? ds->T : ds->N) : net->out_size, net->out_size};
    int nd = (per_step ? 3 : 2) - ce;
    int ok = ds->target.ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = ds->target.shape[i] == want[i];
    int is_int = ds->target.dtype == RNNRT_I32 || ds->target.dtype == RNNRT_I64;
    if (!ok || is_int != ce) {
        char got[96], exp[96];
        io_fmt_shape(got, sizeof got, ds->target.shape, ds->target.ndim);
        io_fmt_shape(exp, sizeof exp, want, nd);
        diag_error(&r->diag, span_none(), "%s: targets have shape %s (%s), expected %s of %s", t,
                   got, is_int ? "integers" : "floats", exp,
                   ce ? "class ids (int32 or int64)" : "floats");
        goto fail;
    }
    if (ce && check_classes(r, ds, per_step, quiet) < 0)
        goto fail;
    return 0;
fail:
    if (quiet) /* rank 0 reports what every rank finds */
        r->diag.n = n0 < r->diag.n ? n0 : r->diag.n, r->diag.nerrors = e0;
    return -1;
}
