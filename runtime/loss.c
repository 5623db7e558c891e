/* loss.c — the training losses of rnnc (cross_entropy, mse, bce_with_logits) over packed,
 * variable-length batches: PyTorch's formulas and reductions (mean over valid elements),
 * padded steps contributing nothing. Computed in double, whatever the model precision.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rnnrt.h"
#include "rt_util.h"

static double get(const void *a, int dbl, long i)
{
    return dbl ? ((const double *)a)[i] : ((const float *)a)[i];
}

static void put(void *a, int dbl, long i, double v)
{
    if (dbl)
        ((double *)a)[i] = v;
    else
        ((float *)a)[i] = (float)v;
}

static long target_at(const RnnrtArray *t, long i)
{
    return t->dtype == RNNRT_I32 ? ((const int *)t->data)[i]
                                 : (long)((const long long *)t->data)[i];
}

static void fmt_shape(char *buf, size_t n, const long *shape, int ndim)
{
    size_t at = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%ld", i ? ", " : "", shape[i]);
    if (at < n)
        snprintf(buf + at, n - at, ndim == 1 ? ",)" : ")");
}

/* Checks the target's dtype and shape against the outputs. */
static int check_target(const RnnrtLossArgs *a, const RnnrtArray *t, const char *name,
                        RnnrtError *err)
{
    long want[3];
    int nd;
    int ce = a->kind == RNNRT_LOSS_CROSS_ENTROPY;
    if (!a->per_step) {
        want[0] = a->B;
        want[1] = a->O;
        nd = ce ? 1 : 2;
    } else {
        want[0] = a->batch_first ? a->B : a->T;
        want[1] = a->batch_first ? a->T : a->B;
        want[2] = a->O;
        nd = ce ? 2 : 3;
    }
    char got[96], exp[96];
    fmt_shape(got, sizeof got, t->shape, t->ndim);
    fmt_shape(exp, sizeof exp, want, nd);
    int int_t = t->dtype == RNNRT_I32 || t->dtype == RNNRT_I64;
    if (ce && !int_t) {
        rnnrt_util_set_err(err,
                           "%s: cross_entropy targets are class ids (int32 or int64), "
                           "found floats",
                           name);
        return -1;
    }
    if (!ce && int_t) {
        rnnrt_util_set_err(err, "%s: %s targets are float32 or float64, found integers", name,
                           a->kind == RNNRT_LOSS_MSE ? "mse" : "bce_with_logits");
        return -1;
    }
    int ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        rnnrt_util_set_err(err, "%s: target has shape %s, expected %s", name, got, exp);
        return -1;
    }
    return 0;
}

/* Row `r` (an output vector) of sequence b at step t, in the caller's layout. */
static long row_of(const RnnrtLossArgs *a, int b, int t)
{
    if (!a->per_step)
        return b;
    return a->batch_first ? (long)b * a->T + t : (long)t * a->B + b;
}

long rnnrt_loss_count(const RnnrtLossArgs *a, const RnnrtArray *target)
{
    long count = 0;
    for (int b = 0; b < a->B; b++) {
        int steps = a->per_step ? a->len[b] : 1;
        for (int t = 0; t < steps; t++) {
            if (a->kind != RNNRT_LOSS_CROSS_ENTROPY)
                count += a->O;
            else
                count += target_at(target, row_of(a, b, t)) != -100;
        }
    }
    return count;
}

int rnnrt_loss(const RnnrtLossArgs *a, const RnnrtArray *target, const char *target_name,
               double *loss, void *dout, RnnrtError *err)
{
    rnnrt_util_clear_err(err);
    if (check_target(a, target, target_name, err) < 0)
        return -1;
    const int O = a->O, dbl = a->dbl;
    const int ce = a->kind == RNNRT_LOSS_CROSS_ENTROPY;
    long rows = (long)a->B * (a->per_step ? a->T : 1);
    for (long i = 0; i < rows * O; i++)
        put(dout, dbl, i, 0.0);
    /* which rows count, and how many elements the mean is over */
    long count = 0;
    for (int b = 0; b < a->B; b++) {
        int steps = a->per_step ? a->len[b] : 1;
        for (int t = 0; t < steps; t++) {
            long r = row_of(a, b, t);
            if (!ce) {
                count += O;
                continue;
            }
            long k = target_at(target, r);
            if (k == -100)
                continue;
            if (k < 0 || k >= O) {
                char at[48] = "";
                if (a->per_step)
                    snprintf(at, sizeof at, ", step %d", t);
                rnnrt_util_set_err(err,
                                   "%s: class %ld at row %d%s is outside 0..%d "
                                   "(or -100 to ignore it)",
                                   target_name, k, a->rows ? a->rows[b] : b, at, O - 1);
                return -1;
            }
            count++;
        }
    }
    double sum = 0;
    const void *z = a->logits ? a->logits : a->y; /* what ce and bce read */
    double denom = a->denom > 0 ? a->denom : (double)count;
    for (int b = 0; b < a->B && count > 0; b++) {
        int steps = a->per_step ? a->len[b] : 1;
        for (int t = 0; t < steps; t++) {
            long r = row_of(a, b, t), base = r * O;
            if (ce) {
                long k = target_at(target, r);
                if (k == -100)
                    continue;
                double m = get(z, dbl, base);
                for (int o = 1; o < O; o++)
                    if (get(z, dbl, base + o) > m)
                        m = get(z, dbl, base + o);
                double s = 0;
                for (int o = 0; o < O; o++)
                    s += exp(get(z, dbl, base + o) - m);
                double lse = m + log(s);
                sum += lse - get(z, dbl, base + k);
                for (int o = 0; o < O; o++) {
                    double p = exp(get(z, dbl, base + o) - lse);
                    put(dout, dbl, base + o, (p - (o == k)) / denom);
                }
            } else if (a->kind == RNNRT_LOSS_BCE) {
                for (int o = 0; o < O; o++) {
                    double x = get(z, dbl, base + o);
                    double tv = get(target->data, target->dtype == RNNRT_F64, base + o);
                    sum += (x > 0 ? x : 0) - x * tv + log1p(exp(-fabs(x)));
                    double sig = 1 / (1 + exp(-x));
                    put(dout, dbl, base + o, (sig - tv) / denom);
                }
            } else {
                double dy[4096], dot = 0;
                int chunked = O > 4096;
                for (int o = 0; o < O; o++) {
                    double y = get(a->y, dbl, base + o);
                    double d = y - get(target->data, target->dtype == RNNRT_F64, base + o);
                    sum += d * d;
                    double g = 2 * d / denom;
                    if (!chunked)
                        dy[o] = g;
                    dot += g * y;
                    if (!a->logits || a->act == RNNRT_ACT_NONE)
                        put(dout, dbl, base + o, g);
                    else if (a->act == RNNRT_ACT_SIGMOID)
                        put(dout, dbl, base + o, g * y * (1 - y));
                }
                if (a->logits && a->act == RNNRT_ACT_SOFTMAX) {
                    if (chunked) {
                        rnnrt_util_set_err(err, "mse through a softmax of over 4096 outputs is "
                                                "not supported");
                        return -1;
                    }
                    for (int o = 0; o < O; o++) {
                        double y = get(a->y, dbl, base + o);
                        put(dout, dbl, base + o, y * (dy[o] - dot));
                    }
                }
            }
        }
    }
    *loss = count > 0 ? sum / denom : 0.0;
    return 0;
}
