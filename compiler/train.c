/* train.c — the library side of `rnnc grad` and `rnnc train`: JIT-compiles the training
 * unit (emit_train.c), runs forward and backward through time over packed batches, the
 * losses and optimizers of runtime/, checkpoints.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "run_int.h"

/* The training unit as one translation unit for the JIT. */
static char *train_source(Rnnc *r)
{
    CUnit u;
    if (emit_unit_train(r->plan, &u, &r->diag) < 0)
        return NULL;
    size_t nh = strlen(u.header), na = strlen(u.banner), nb = strlen(u.body);
    char *s = malloc(nh + na + nb + 1);
    if (s) {
        memcpy(s, u.header, nh);
        memcpy(s + nh, u.banner, na);
        memcpy(s + nh + na, u.body, nb + 1);
    } else {
        diag_error(&r->diag, span_none(), "out of memory");
    }
    cunit_free(&u);
    return s;
}

/* The training entry points of a JIT module, with the model precision erased to void *:
 * called through typed pointers of the right precision only (see call_*). */
typedef struct TrainFns {
    long (*train_bytes)(int B, int T);
    void *forward_train, *backward, *unpack_grads, *pack;
} TrainFns;

static int train_fns(Rnnc *r, JitModule *m, TrainFns *f)
{
    char name[160];
    const char *n = r->net->name;
    void *p;
    snprintf(name, sizeof name, "%s_train_bytes", n);
    p = jit_symbol(m, name);
    memcpy(&f->train_bytes, &p, sizeof p);
    snprintf(name, sizeof name, "%s_forward_train", n);
    f->forward_train = jit_symbol(m, name);
    snprintf(name, sizeof name, "%s_backward", n);
    f->backward = jit_symbol(m, name);
    snprintf(name, sizeof name, "%s_unpack_grads", n);
    f->unpack_grads = jit_symbol(m, name);
    snprintf(name, sizeof name, "%s_pack", n);
    f->pack = jit_symbol(m, name);
    if (!p || !f->forward_train || !f->backward || !f->unpack_grads || !f->pack) {
        diag_error(&r->diag, span_none(), "JIT: the training code lacks an entry point");
        return -1;
    }
    return 0;
}

#define TRAIN_CALLS(R, S)                                                                   \
    static int fwd_train_##S(void *fn, const void *w, const void *x, const int *len, int B, \
                             int T, void *y, void *logits, void *cache)                     \
    {                                                                                       \
        int (*f)(const R *, const R *, const int *, int, int, R *, R *, void *);            \
        memcpy(&f, &fn, sizeof fn);                                                         \
        return f(w, x, len, B, T, y, logits, cache);                                        \
    }                                                                                       \
    static int backward_##S(void *fn, const void *w, const void *x, int B, int T,           \
                            const void *dout, void *dw, void *cache)                        \
    {                                                                                       \
        int (*f)(const R *, const R *, int, int, const R *, R *, void *);                   \
        memcpy(&f, &fn, sizeof fn);                                                         \
        return f(w, x, B, T, dout, dw, cache);                                              \
    }                                                                                       \
    static void unary_##S(void *fn, const void *in, void *out)                              \
    {                                                                                       \
        void (*f)(const R *, R *);                                                          \
        memcpy(&f, &fn, sizeof fn);                                                         \
        f(in, out);                                                                         \
    }
TRAIN_CALLS(float, f32)
TRAIN_CALLS(double, f64)

int rnnc_grad(Rnnc *r, RnncGradArgs *a)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    int dbl = net->dbl, rc = -1, B = 0, T = 0;
    size_t rs = dbl ? sizeof(double) : sizeof(float);
    if (net->loss == LOSS_NONE) {
        diag_error(&r->diag, span_none(), "%s: the spec says no 'loss:' (cross_entropy, mse or "
                                          "bce_with_logits), so there is nothing to "
                                          "differentiate", net->file);
        return -1;
    }
    RunData d;
    memset(&d, 0, sizeof d);
    RnnrtArray target = {0};
    RnnrtError err;
    void *logits = NULL, *dout = NULL, *dw = NULL, *dp = NULL, *cache = NULL;
    RnnrtTensor *ts = NULL;
    RnncRunArgs ra = {a->weights, a->input, a->lengths, NULL, NULL, NULL, NULL};
    d.params = rnnc_load_weights(r, a->weights);
    if (!d.params || run_load_inputs(r, &ra, &d, &B, &T) < 0)
        goto out;
    if (rnnrt_npy_read(a->target, &target, &err) < 0) {
        run_rt_error(r, &err);
        goto out;
    }
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long ny = (long)B * (per_step ? T : 1) * net->out_size;
    d.xr = run_to_real(&d.x, dbl, rnnrt_array_numel(&d.x));
    d.packed = calloc((size_t)p->npacked + 1, rs);
    d.y = calloc((size_t)ny + 1, rs);
    logits = calloc((size_t)ny + 1, rs);
    dout = calloc((size_t)ny + 1, rs);
    dw = calloc((size_t)p->npacked + 1, rs);
    dp = calloc((size_t)p->nparams + 1, rs);
    ts = calloc((size_t)p->ntensors, sizeof *ts);
    if (!d.xr || !d.packed || !d.y || !logits || !dout || !dw || !dp || !ts) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d, T=%d", B, T);
        goto out;
    }
    if (!d.len) {
        d.len = malloc((size_t)B * sizeof *d.len);
        if (!d.len) {
            diag_error(&r->diag, span_none(), "out of memory");
            goto out;
        }
        for (int b = 0; b < B; b++)
            d.len[b] = T;
    }
    d.source = train_source(r);
    TrainFns f;
    if (!d.source || !(d.jit = jit_compile(d.source, net->name, dbl, &(ModelFns){0}, &r->diag)) ||
        train_fns(r, d.jit, &f) < 0)
        goto out;
    cache = malloc((size_t)f.train_bytes(B, T));
    if (!cache) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d, T=%d", B, T);
        goto out;
    }
    (dbl ? unary_f64 : unary_f32)(f.pack, d.params, d.packed);
    if ((dbl ? fwd_train_f64 : fwd_train_f32)(f.forward_train, d.packed, d.xr, d.len, B, T, d.y,
                                               logits, cache) != 0) {
        diag_error(&r->diag, span_none(), "the model rejected B=%d, T=%d or the lengths", B, T);
        goto out;
    }
    static const RnnrtLossKind kinds[] = {RNNRT_LOSS_MSE, RNNRT_LOSS_CROSS_ENTROPY,
                                          RNNRT_LOSS_MSE, RNNRT_LOSS_BCE};
    RnnrtLossArgs la = {kinds[net->loss], dbl, B, T, net->out_size, per_step,
                        net->batch_first, d.len, net->head.present ? logits : NULL, d.y,
                        (RnnrtAct)net->head.activation};
    if (rnnrt_loss(&la, &target, a->target, &a->loss, dout, &err) < 0) {
        run_rt_error(r, &err);
        goto out;
    }
    (dbl ? backward_f64 : backward_f32)(f.backward, d.packed, d.xr, B, T, dout, dw, cache);
    (dbl ? unary_f64 : unary_f32)(f.unpack_grads, dw, dp);
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        ts[i].name = (char *)t->name;
        ts[i].dtype = dbl ? RNNRT_F64 : RNNRT_F32;
        ts[i].ndim = t->ndim;
        ts[i].shape[0] = t->shape[0];
        ts[i].shape[1] = t->shape[1];
        ts[i].data = (char *)dp + (size_t)t->offset * rs;
    }
    if (rnnrt_st_write(a->output, ts, p->ntensors, &err) < 0) {
        run_rt_error(r, &err);
        goto out;
    }
    rc = 0;
out:
    free(logits);
    free(dout);
    free(dw);
    free(dp);
    free(ts);
    free(cache);
    rnnrt_array_free(&target);
    run_data_free(&d);
    return rc;
}
