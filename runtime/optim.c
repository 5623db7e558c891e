/* optim.c — optimizers and gradient clipping, as PyTorch 1.13 computes them (single-tensor
 * code paths): same formulas, same order of operations, in the model precision, so that a
 * run in PyTorch and in rnnc agree step by step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"
#include "rt_util.h"

int rnnrt_optim_init(RnnrtOptim *o, long n, int dbl, RnnrtError *err)
{
    size_t rs = dbl ? sizeof(double) : sizeof(float);
    o->n = n;
    o->dbl = dbl;
    o->step = 0;
    o->m = calloc((size_t)(n ? n : 1), rs);
    o->v = o->kind == RNNRT_SGD ? NULL : calloc((size_t)(n ? n : 1), rs);
    if (!o->m || (o->kind != RNNRT_SGD && !o->v)) {
        rnnrt_optim_free(o);
        rnnrt_util_set_err(err, "out of memory for the optimizer's state (%ld parameters)", n);
        return -1;
    }
    return 0;
}

void rnnrt_optim_free(RnnrtOptim *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* The update, once per precision R (float or double); SQRT is R's square root. */
#define OPTIM_STEP(R, SQRT)                                                                       \
    static void step_##R(RnnrtOptim *o, R *p, const R *g)                                         \
    {                                                                                             \
        R *m = o->m, *v = o->v;                                                                   \
        const R lr = (R)o->lr, wd = (R)o->weight_decay;                                           \
        o->step++;                                                                                \
        if (o->kind == RNNRT_SGD) {                                                               \
            const R mom = (R)o->momentum;                                                         \
            for (long i = 0; i < o->n; i++) {                                                     \
                R d = g[i];                                                                       \
                if (o->weight_decay != 0)                                                         \
                    d = d + wd * p[i];                                                            \
                if (o->momentum != 0) {                                                           \
                    m[i] = o->step == 1 ? d : m[i] * mom + d;                                     \
                    d = o->nesterov ? d + mom * m[i] : m[i];                                      \
                }                                                                                 \
                p[i] = p[i] + (-lr) * d;                                                          \
            }                                                                                     \
            return;                                                                               \
        }                                                                                         \
        const double bc1 = 1 - pow(o->beta1, (double)o->step);                                    \
        const double bc2 = 1 - pow(o->beta2, (double)o->step);                                    \
        const R step_size = (R)(o->lr / bc1), bc2_sqrt = (R)sqrt(bc2);                            \
        const R b1 = (R)o->beta1, b2 = (R)o->beta2, eps = (R)o->eps;                              \
        const R a1 = (R)(1 - o->beta1), a2 = (R)(1 - o->beta2);                                   \
        const R decay = (R)(1 - o->lr * o->weight_decay);                                         \
        for (long i = 0; i < o->n; i++) {                                                         \
            R d = g[i];                                                                           \
            if (o->kind == RNNRT_ADAMW)                                                           \
                p[i] = p[i] * decay;                                                              \
            else if (o->weight_decay != 0)                                                        \
                d = d + wd * p[i];                                                                \
            m[i] = m[i] * b1 + a1 * d;                                                            \
            v[i] = v[i] * b2 + a2 * (d * d);                                                      \
            const R denom = SQRT(v[i]) / bc2_sqrt + eps;                                          \
            p[i] = p[i] + (-step_size) * (m[i] / denom);                                          \
        }                                                                                         \
    }
OPTIM_STEP(float, sqrtf)
OPTIM_STEP(double, sqrt)

void rnnrt_optim_step(RnnrtOptim *o, void *params, const void *grads)
{
    if (o->dbl)
        step_double(o, params, grads);
    else
        step_float(o, params, grads);
}

double rnnrt_grad_norm(const void *grads, long n, int dbl)
{
    double sum = 0;
    for (long i = 0; i < n; i++) {
        double g = dbl ? ((const double *)grads)[i] : ((const float *)grads)[i];
        sum += g * g;
    }
    return sqrt(sum);
}

double rnnrt_clip_grad_norm(void *grads, long n, int dbl, double max_norm)
{
    double norm = rnnrt_grad_norm(grads, n, dbl), coef = max_norm / (norm + 1e-6);
    if (coef < 1) {
        for (long i = 0; i < n; i++) {
            if (dbl)
                ((double *)grads)[i] *= coef;
            else
                ((float *)grads)[i] *= (float)coef;
        }
    }
    return norm;
}

void rnnrt_clip_grad_value(void *grads, long n, int dbl, double value)
{
    for (long i = 0; i < n; i++) {
        if (dbl) {
            double *g = (double *)grads + i;
            *g = *g > value ? value : *g < -value ? -value : *g;
        } else {
            float *g = (float *)grads + i, fv = (float)value;
            *g = *g > fv ? fv : *g < -fv ? -fv : *g;
        }
    }
}
