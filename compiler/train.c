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
    if (emit_unit_jit(r->plan, 1, r->jit == JIT_TCC, &u, &r->diag) < 0)
        return NULL;
    char *s = cunit_join(&u);
    if (!s)
        diag_error(&r->diag, span_none(), "out of memory");
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

#define TRAIN_CALLS(R, S)                                                                         \
    static int fwd_train_##S(void *fn, const void *w, const void *x, const int *len, int B,       \
                             int T, void *y, void *logits, const void *drop, const void *s0,      \
                             void *s1, void *cache)                                               \
    {                                                                                             \
        int (*f)(const R *, const R *, const int *, int, int, R *, R *, const R *, const R *,     \
                 R *, void *);                                                                    \
        memcpy(&f, &fn, sizeof fn);                                                               \
        return f(w, x, len, B, T, y, logits, drop, s0, s1, cache);                                \
    }                                                                                             \
    static int backward_##S(void *fn, const void *w, const void *x, int B, int T,                 \
                            const void *dout, const void *drop, void *dw, void *cache)            \
    {                                                                                             \
        int (*f)(const R *, const R *, int, int, const R *, const R *, R *, void *);              \
        memcpy(&f, &fn, sizeof fn);                                                               \
        return f(w, x, B, T, dout, drop, dw, cache);                                              \
    }                                                                                             \
    static void unary_##S(void *fn, const void *in, void *out)                                    \
    {                                                                                             \
        void (*f)(const R *, R *);                                                                \
        memcpy(&f, &fn, sizeof fn);                                                               \
        f(in, out);                                                                               \
    }
TRAIN_CALLS(float, f32)
TRAIN_CALLS(double, f64)

static unsigned long long mix(unsigned long long *s);
static double uniform01(unsigned long long *s);

/* Dropout masks for a batch of B sequences of T steps: each element 0 with probability p
 * (its layer's block's dropout), else 1/(1-p), drawn from `seed` alone. */
static void *dropout_masks(const Plan *p, int B, int T, unsigned long long seed)
{
    long per = emit_dropout_reals(p);
    int dbl = p->net->dbl;
    if (per == 0)
        return NULL;
    void *m = malloc((size_t)(per * B * T) * (dbl ? sizeof(double) : sizeof(float)));
    if (!m)
        return NULL;
    unsigned long long s = seed;
    long at = 0;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir || !(L->block->dropout > 0 && !L->last_layer))
            continue;
        double q = L->block->dropout, keep = 1 / (1 - q);
        long n = (long)B * T * L->block->dirs * L->Hr;
        for (long k = 0; k < n; k++, at++) {
            double v = uniform01(&s) < q ? 0 : keep;
            if (dbl)
                ((double *)m)[at] = v;
            else
                ((float *)m)[at] = (float)v;
        }
    }
    return m;
}

int rnnc_grad(Rnnc *r, RnncGradArgs *a)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    int dbl = net->dbl, rc = -1, B = 0, T = 0;
    size_t rs = dbl ? sizeof(double) : sizeof(float);
    if (net->loss == LOSS_NONE) {
        diag_error(&r->diag, span_none(),
                   "%s: the spec says no 'loss:' (cross_entropy, mse or "
                   "bce_with_logits), so there is nothing to "
                   "differentiate",
                   net->file);
        return -1;
    }
    RunData d;
    memset(&d, 0, sizeof d);
    RnnrtArray target = {0};
    RnnrtError err;
    void *logits = NULL, *dout = NULL, *dw = NULL, *dp = NULL, *cache = NULL, *drop = NULL;
    RnnrtTensor *ts = NULL;
    RnncRunArgs ra = {a->weights, a->input, a->lengths, NULL, NULL, NULL, NULL, 1};
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
    if (!d.source ||
        !(d.jit = jit_compile(r->jit, d.source, net->name, dbl, &(ModelFns){0}, &r->diag)) ||
        train_fns(r, d.jit, &f) < 0)
        goto out;
    cache = malloc((size_t)f.train_bytes(B, T));
    if (!cache) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d, T=%d", B, T);
        goto out;
    }
    if (a->dropout_seed && emit_dropout_reals(p) > 0 &&
        !(drop = dropout_masks(p, B, T, (unsigned long long)a->dropout_seed))) {
        diag_error(&r->diag, span_none(), "out of memory for the dropout masks");
        goto out;
    }
    (dbl ? unary_f64 : unary_f32)(f.pack, d.params, d.packed);
    if ((dbl ? fwd_train_f64 : fwd_train_f32)(f.forward_train, d.packed, d.xr, d.len, B, T, d.y,
                                              logits, drop, NULL, NULL, cache) != 0) {
        diag_error(&r->diag, span_none(), "the model rejected B=%d, T=%d or the lengths", B, T);
        goto out;
    }
    static const RnnrtLossKind kinds[] = {RNNRT_LOSS_MSE, RNNRT_LOSS_CROSS_ENTROPY, RNNRT_LOSS_MSE,
                                          RNNRT_LOSS_BCE};
    RnnrtLossArgs la = {kinds[net->loss],
                        dbl,
                        B,
                        T,
                        net->out_size,
                        per_step,
                        net->batch_first,
                        d.len,
                        net->head.present ? logits : NULL,
                        d.y,
                        (RnnrtAct)net->head.activation};
    if (rnnrt_loss(&la, &target, a->target, &a->loss, dout, &err) < 0) {
        run_rt_error(r, &err);
        goto out;
    }
    (dbl ? backward_f64 : backward_f32)(f.backward, d.packed, d.xr, B, T, dout, drop, dw, cache);
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
    free(drop);
    rnnrt_array_free(&target);
    run_data_free(&d);
    return rc;
}

/* ---- rnnc train ------------------------------------------------------------------- */

#include <time.h>

/* splitmix64: the one random source of training (init, shuffling), seeded per purpose so
 * that an epoch's order depends on (seed, epoch) only: a resumed run draws the same. */
static unsigned long long mix(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(unsigned long long *s)
{
    return (double)(mix(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* PyTorch's initialisation: every block parameter uniform in +-1/sqrt(H), the head's
 * (nn.Linear) in +-1/sqrt(in_features). */
static void init_params(const Plan *p, void *params, long seed)
{
    unsigned long long s = 0x5eed0000ull + (unsigned long long)seed;
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        double bound = 0;
        for (int k = 0; k < p->nlayers && bound == 0; k++) {
            const PlanLayer *L = &p->layers[k];
            if (i == L->t_wih || i == L->t_whh || i == L->t_bih || i == L->t_bhh || i == L->t_whr)
                bound = 1 / sqrt((double)L->H);
        }
        if (bound == 0)
            bound = 1 / sqrt((double)p->net->head.in_features);
        long n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        for (long j = 0; j < n; j++) {
            double v = (2 * uniform01(&s) - 1) * bound;
            if (p->net->dbl)
                ((double *)params)[t->offset + j] = v;
            else
                ((float *)params)[t->offset + j] = (float)v;
        }
    }
}

/* A data set in memory: inputs in the model precision, lengths, targets. */
typedef struct Dataset {
    RunData d;
    int N, T;
    RnnrtArray target;
    const char *target_name;
} Dataset;

static void dataset_free(Dataset *ds)
{
    run_data_free(&ds->d);
    rnnrt_array_free(&ds->target);
}

static int dataset_load(Rnnc *r, Dataset *ds, const char *x, const char *t, const char *l)
{
    const Net *net = r->net;
    memset(ds, 0, sizeof *ds);
    RnncRunArgs ra = {NULL, x, l, NULL, NULL, NULL, NULL, 1};
    RnnrtError err;
    if (run_load_inputs(r, &ra, &ds->d, &ds->N, &ds->T) < 0)
        return -1;
    ds->d.xr = run_to_real(&ds->d.x, net->dbl, rnnrt_array_numel(&ds->d.x));
    if (!ds->d.len) {
        ds->d.len = malloc((size_t)ds->N * sizeof *ds->d.len);
        for (int b = 0; ds->d.len && b < ds->N; b++)
            ds->d.len[b] = ds->T;
    }
    if (!ds->d.xr || !ds->d.len) {
        diag_error(&r->diag, span_none(), "out of memory for %s", x);
        return -1;
    }
    if (rnnrt_npy_read(t, &ds->target, &err) < 0) {
        run_rt_error(r, &err);
        return -1;
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
        run_fmt_shape(got, sizeof got, ds->target.shape, ds->target.ndim);
        run_fmt_shape(exp, sizeof exp, want, nd);
        diag_error(&r->diag, span_none(), "%s: targets have shape %s (%s), expected %s of %s", t,
                   got, is_int ? "integers" : "floats", exp,
                   ce ? "class ids (int32 or int64)" : "floats");
        return -1;
    }
    return 0;
}

/* Copies the rows of sequences idx[0..Bb) of a (N, T, row) or (T, N, row) array (per_step),
 * or (N, row), into a batch of Tb steps in the same layout. es: bytes per element. */
static void gather(const void *src, void *dst, const int *idx, int Bb, int N, int T, int t0,
                   int Tb, long row, size_t es, int per_step, int batch_first)
{
    size_t rb = (size_t)row * es;
    for (int i = 0; i < Bb; i++) {
        if (!per_step) {
            memcpy((char *)dst + (size_t)i * rb, (const char *)src + (size_t)idx[i] * rb, rb);
            continue;
        }
        for (int t = 0; t < Tb; t++) {
            long s = batch_first ? (long)idx[i] * T + t0 + t : (long)(t0 + t) * N + idx[i];
            long d = batch_first ? (long)i * Tb + t : (long)t * Bb + i;
            memcpy((char *)dst + (size_t)d * rb, (const char *)src + (size_t)s * rb, rb);
        }
    }
}

/* Everything one training run allocates. */
typedef struct Trainer {
    Rnnc *r;
    TrainFns f;
    int dbl, per_step, Bmax, Tmax;
    size_t rs;
    void *params, *packed, *dw, *dp;
    void *xb, *yb, *lb, *db, *cache; /* batch buffers, sized for Bmax x Tmax */
    RnnrtArray tb;                   /* the batch's targets */
    int *lenb, *order;
    RnnrtOptim opt;
    const TrainCfg *cfg;
    unsigned long long mask_seed; /* this step's dropout draw: from (seed, epoch, step) */
    void *ys, *ls, *ds_;          /* (Bmax, O): counted rows of y, logits, their gradient */
    void *carry, *s0, *s1;        /* truncated BPTT: per-sequence state; window state in, out */
    int *widx;                    /* (Bmax) the window's sequences */
    unsigned char *countb;        /* (Bmax) whether each counts in a per-sequence loss */
} Trainer;

static void trainer_free(Trainer *t)
{
    free(t->params);
    free(t->packed);
    free(t->dw);
    free(t->dp);
    free(t->xb);
    free(t->yb);
    free(t->lb);
    free(t->db);
    free(t->cache);
    free(t->tb.data);
    free(t->lenb);
    free(t->order);
    free(t->ys);
    free(t->ls);
    free(t->ds_);
    free(t->carry);
    free(t->s0);
    free(t->s1);
    free(t->widx);
    free(t->countb);
    rnnrt_optim_free(&t->opt);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One window of steps t0 .. t0 + T - 1 of sequences idx[0 .. Bb) (all of them when t0 is 0
 * and there is no truncation): forward, the loss, and when `learn` backward and an
 * optimizer step. lenw: each sequence's steps in the window (>= 1). count: NULL, or which
 * sequences the loss of a per-sequence head takes in (truncated BPTT: those ending here).
 * state0/state1: NULL or the carried state in the model's layout for Bb sequences.
 * Adds the loss to *loss_sum (and 1 to *nloss) when anything counted. */
static int run_window(Trainer *t, const Dataset *ds, const int *idx, int Bb, int t0,
                      const int *lenw, const unsigned char *count, const void *state0,
                      void *state1, int learn, double *loss_sum, long *nloss, long *correct,
                      long *total)
{
    Rnnc *r = t->r;
    const Net *net = r->net;
    const Plan *p = r->plan;
    const TrainCfg *cfg = t->cfg;
    int Tb = 1;
    for (int i = 0; i < Bb; i++) {
        t->lenb[i] = lenw[i];
        Tb = lenw[i] > Tb ? lenw[i] : Tb;
    }
    gather(ds->d.xr, t->xb, idx, Bb, ds->N, ds->T, t0, Tb, net->input_size, t->rs, 1,
           net->batch_first);
    int ce = net->loss == LOSS_CROSS_ENTROPY;
    long trow = ce ? 1 : net->out_size;
    size_t tes = (size_t)rnnrt_dtype_size(ds->target.dtype);
    /* the rows that count: all, or (per-sequence head, truncated) those ending here */
    int *rows = t->order + ds->N; /* scratch: (Bmax) */
    int nc = 0;
    for (int i = 0; i < Bb; i++)
        if (!count || count[i])
            rows[nc++] = i;
    void *drop = NULL;
    if (learn && emit_dropout_reals(p) > 0 && !(drop = dropout_masks(p, Bb, Tb, t->mask_seed))) {
        diag_error(&r->diag, span_none(), "out of memory for the dropout masks");
        return -1;
    }
    int rc = -1;
    if ((t->dbl ? fwd_train_f64 : fwd_train_f32)(t->f.forward_train, t->packed, t->xb, t->lenb, Bb,
                                                 Tb, t->yb, t->lb, drop, state0, state1,
                                                 t->cache) != 0) {
        diag_error(&r->diag, span_none(), "the model rejected a batch (B=%d, T=%d)", Bb, Tb);
        goto out;
    }
    if (nc == 0) {
        rc = 0;
        goto out;
    }
    /* the loss over the counted rows; a subset (count) is compacted first, then scattered */
    int O = net->out_size, sub = count && !t->per_step && nc < Bb;
    void *yz = t->yb, *lz = t->lb;
    int *sidx = t->order + ds->N + t->Bmax; /* (Bmax) dataset indices of the counted rows */
    for (int k = 0; k < nc; k++)
        sidx[k] = idx[rows[k]];
    if (sub) {
        for (int k = 0; k < nc; k++) {
            memcpy((char *)t->ys + (size_t)k * O * t->rs,
                   (char *)t->yb + (size_t)rows[k] * O * t->rs, (size_t)O * t->rs);
            memcpy((char *)t->ls + (size_t)k * O * t->rs,
                   (char *)t->lb + (size_t)rows[k] * O * t->rs, (size_t)O * t->rs);
        }
        yz = t->ys;
        lz = t->ls;
    }
    gather(ds->target.data, t->tb.data, sub ? sidx : idx, sub ? nc : Bb, ds->N, ds->T, t0, Tb,
           trow, tes, t->per_step, net->batch_first);
    t->tb.dtype = ds->target.dtype;
    t->tb.ndim = ds->target.ndim;
    memcpy(t->tb.shape, ds->target.shape, sizeof t->tb.shape);
    int Bl = sub ? nc : Bb;
    if (t->per_step) {
        t->tb.shape[net->batch_first ? 0 : 1] = Bl;
        t->tb.shape[net->batch_first ? 1 : 0] = Tb;
    } else {
        t->tb.shape[0] = Bl;
    }
    static const RnnrtLossKind kinds[] = {RNNRT_LOSS_MSE, RNNRT_LOSS_CROSS_ENTROPY, RNNRT_LOSS_MSE,
                                          RNNRT_LOSS_BCE};
    RnnrtLossArgs la = {kinds[net->loss],
                        t->dbl,
                        Bl,
                        Tb,
                        O,
                        t->per_step,
                        net->batch_first,
                        t->lenb,
                        net->head.present ? lz : NULL,
                        yz,
                        (RnnrtAct)net->head.activation};
    RnnrtError err;
    double loss;
    void *dz = sub ? t->ds_ : t->db;
    if (rnnrt_loss(&la, &t->tb, ds->target_name, &loss, dz, &err) < 0) {
        run_rt_error(r, &err);
        goto out;
    }
    if (sub) {
        memset(t->db, 0, (size_t)Bb * O * t->rs);
        for (int k = 0; k < nc; k++)
            memcpy((char *)t->db + (size_t)rows[k] * O * t->rs, (char *)dz + (size_t)k * O * t->rs,
                   (size_t)O * t->rs);
    }
    *loss_sum += loss;
    (*nloss)++;
    /* accuracy: argmax against the class (cross_entropy), logit > 0 against target > 0.5 */
    const void *z = net->head.present ? lz : yz;
    for (int i = 0; i < Bl && net->loss != LOSS_MSE; i++) {
        int steps = t->per_step ? t->lenb[i] : 1;
        for (int st = 0; st < steps; st++) {
            long row = !t->per_step ? i : net->batch_first ? (long)i * Tb + st : (long)st * Bl + i;
            const double *zd = z;
            const float *zf = z;
            if (ce) {
                long k = t->tb.dtype == RNNRT_I32 ? ((int *)t->tb.data)[row]
                                                  : (long)((long long *)t->tb.data)[row];
                if (k == -100)
                    continue;
                int best = 0;
                for (int o = 1; o < O; o++)
                    if ((t->dbl ? zd[row * O + o] : zf[row * O + o]) >
                        (t->dbl ? zd[row * O + best] : zf[row * O + best]))
                        best = o;
                *correct += best == k;
                (*total)++;
            } else {
                for (int o = 0; o < O; o++) {
                    double v = t->dbl ? zd[row * O + o] : zf[row * O + o];
                    double tv = t->tb.dtype == RNNRT_F64 ? ((double *)t->tb.data)[row * O + o]
                                                         : ((float *)t->tb.data)[row * O + o];
                    *correct += (v > 0) == (tv > 0.5);
                    (*total)++;
                }
            }
        }
    }
    rc = 0;
    if (!learn || !isfinite(loss))
        goto out;
    memset(t->dw, 0, (size_t)p->npacked * t->rs);
    (t->dbl ? backward_f64 : backward_f32)(t->f.backward, t->packed, t->xb, Bb, Tb, t->db, drop,
                                           t->dw, t->cache);
    (t->dbl ? unary_f64 : unary_f32)(t->f.unpack_grads, t->dw, t->dp);
    if (cfg->clip_grad_value > 0)
        rnnrt_clip_grad_value(t->dp, p->nparams, t->dbl, cfg->clip_grad_value);
    if (cfg->clip_grad_norm > 0)
        rnnrt_clip_grad_norm(t->dp, p->nparams, t->dbl, cfg->clip_grad_norm);
    rnnrt_optim_step(&t->opt, t->params, t->dp);
    (t->dbl ? unary_f64 : unary_f32)(t->f.pack, t->params, t->packed);
out:
    free(drop);
    return rc;
}

/* One mini-batch: whole sequences, or windows of train.tbptt steps with the state carried
 * from window to window (the gradient cut at their borders, an optimizer step per window).
 * *loss: the mean of the batch's (window) losses. */
static int batch_run(Trainer *t, const Dataset *ds, const int *idx, int Bb, int learn,
                     double *loss, long *correct, long *total)
{
    const Plan *p = t->r->plan;
    int K = learn ? t->cfg->tbptt : 0, Tb = 1;
    double sum = 0;
    long nl = 0;
    for (int i = 0; i < Bb; i++)
        Tb = ds->d.len[idx[i]] > Tb ? ds->d.len[idx[i]] : Tb;
    if (K <= 0 || K >= Tb) {
        int *lw = t->order + ds->N + 2 * t->Bmax;
        for (int i = 0; i < Bb; i++)
            lw[i] = ds->d.len[idx[i]];
        if (run_window(t, ds, idx, Bb, 0, lw, NULL, NULL, NULL, learn, &sum, &nl, correct, total) <
            0)
            return -1;
        *loss = nl ? sum / (double)nl : 0;
        return 0;
    }
    /* carried state: per sequence, every layer and direction's h (and c) */
    long S = emit_state_reals(p);
    int per_step = t->per_step;
    memset(t->carry, 0, (size_t)(Bb * S) * t->rs);
    for (int t0 = 0; t0 < Tb; t0 += K) {
        int *live = t->order + ds->N + 2 * t->Bmax, *lw = live + t->Bmax, nlive = 0;
        unsigned char *cnt = t->countb;
        for (int i = 0; i < Bb; i++) {
            int L = ds->d.len[idx[i]];
            if (L <= t0)
                continue;
            int *wi = t->widx;
            wi[nlive] = idx[i];
            live[nlive] = i;
            lw[nlive] = L - t0 < K ? L - t0 : K;
            cnt[nlive] = per_step || L <= t0 + K;
            nlive++;
        }
        /* carried state -> the model's layout for these sequences, and back after */
        long off = 0;
        for (int li = 0; li < p->nlayers; li++) {
            const PlanLayer *L = &p->layers[li];
            int widths[2] = {L->Hr, L->G == 4 ? L->H : 0};
            for (int part = 0; part < 2; part++) {
                int wdt = widths[part];
                for (int j = 0; j < nlive; j++)
                    memcpy((char *)t->s0 + ((size_t)off * nlive + (size_t)j * wdt) * t->rs,
                           (char *)t->carry + ((size_t)live[j] * S + (size_t)off) * t->rs,
                           (size_t)wdt * t->rs);
                off += wdt;
            }
        }
        t->mask_seed ^= (unsigned long long)t0 * 0x9E3779B97F4A7C15ull;
        if (run_window(t, ds, t->widx, nlive, t0, lw, per_step ? NULL : cnt, t->s0, t->s1, learn,
                       &sum, &nl, correct, total) < 0)
            return -1;
        off = 0;
        for (int li = 0; li < p->nlayers; li++) {
            const PlanLayer *L = &p->layers[li];
            int widths[2] = {L->Hr, L->G == 4 ? L->H : 0};
            for (int part = 0; part < 2; part++) {
                int wdt = widths[part];
                for (int j = 0; j < nlive; j++)
                    memcpy((char *)t->carry + ((size_t)live[j] * S + (size_t)off) * t->rs,
                           (char *)t->s1 + ((size_t)off * nlive + (size_t)j * wdt) * t->rs,
                           (size_t)wdt * t->rs);
                off += wdt;
            }
        }
    }
    *loss = nl ? sum / (double)nl : 0;
    return 0;
}

/* A checkpoint: the weights (state_dict names), the optimizer's state ("optim.m.<name>",
 * "optim.v.<name>") and "rnnc.progress" = [epoch, steps done in it, optimizer steps]. */
static int checkpoint_write(Trainer *t, const char *path, long epoch, long step)
{
    const Plan *p = t->r->plan;
    int n = p->ntensors, k = 0;
    RnnrtTensor *ts = calloc((size_t)(3 * n + 1), sizeof *ts);
    char **names = calloc((size_t)(2 * n), sizeof *names);
    long long prog[3] = {epoch, step, t->opt.step};
    int rc = -1;
    if (!ts || !names)
        goto out;
    for (int i = 0; i < n; i++) {
        const PlanTensor *pt = &p->tensors[i];
        void *bufs[3] = {t->params, t->opt.m, t->opt.v};
        for (int b = 0; b < 3; b++) {
            if (!bufs[b])
                continue;
            RnnrtTensor *x = &ts[k++];
            if (b == 0) {
                x->name = (char *)pt->name;
            } else {
                size_t len = strlen(pt->name) + 10;
                char *nm = malloc(len);
                if (!nm)
                    goto out;
                snprintf(nm, len, "optim.%c.%s", b == 1 ? 'm' : 'v', pt->name);
                names[2 * i + b - 1] = nm;
                x->name = nm;
            }
            x->dtype = t->dbl ? RNNRT_F64 : RNNRT_F32;
            x->ndim = pt->ndim;
            x->shape[0] = pt->shape[0];
            x->shape[1] = pt->shape[1];
            x->data = (char *)bufs[b] + (size_t)pt->offset * t->rs;
        }
    }
    RnnrtTensor *pr = &ts[k++];
    pr->name = "rnnc.progress";
    pr->dtype = RNNRT_I64;
    pr->ndim = 1;
    pr->shape[0] = 3;
    pr->data = prog;
    RnnrtError err;
    if (rnnrt_st_write(path, ts, k, &err) < 0)
        run_rt_error(t->r, &err);
    else
        rc = 0;
out:
    if (rc < 0 && !t->r->diag.nerrors)
        diag_error(&t->r->diag, span_none(), "out of memory writing %s", path);
    for (int i = 0; names && i < 2 * n; i++)
        free(names[i]);
    free(names);
    free(ts);
    return rc;
}

static int checkpoint_read(Trainer *t, const char *path, long *epoch, long *step)
{
    const Plan *p = t->r->plan;
    RnnrtTensorFile f;
    RnnrtError err;
    if (rnnrt_st_read(path, &f, &err) < 0) {
        run_rt_error(t->r, &err);
        return -1;
    }
    int rc = -1;
    const RnnrtTensor *pr = rnnrt_st_find(&f, "rnnc.progress");
    if (!pr || pr->dtype != RNNRT_I64 || pr->ndim != 1 || pr->shape[0] != 3) {
        diag_error(&t->r->diag, span_none(), "%s: not an rnnc checkpoint (no rnnc.progress)",
                   path);
        goto out;
    }
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *pt = &p->tensors[i];
        void *bufs[3] = {t->params, t->opt.m, t->opt.v};
        for (int b = 0; b < 3; b++) {
            if (!bufs[b])
                continue;
            char nm[512];
            if (b > 0)
                snprintf(nm, sizeof nm, "optim.%c.%s", b == 1 ? 'm' : 'v', pt->name);
            else
                snprintf(nm, sizeof nm, "%s", pt->name);
            const RnnrtTensor *x = rnnrt_st_find(&f, nm);
            long want = pt->shape[0] * (pt->ndim == 2 ? pt->shape[1] : 1);
            long got = 1;
            for (int d = 0; x && d < x->ndim; d++)
                got *= x->shape[d];
            if (!x || got != want || x->dtype != (t->dbl ? RNNRT_F64 : RNNRT_F32)) {
                diag_error(&t->r->diag, span_none(),
                           "%s: checkpoint lacks '%s' of %ld %s "
                           "values (another spec or optimizer?)",
                           path, nm, want, t->dbl ? "float64" : "float32");
                goto out;
            }
            memcpy((char *)bufs[b] + (size_t)pt->offset * t->rs, x->data, (size_t)want * t->rs);
        }
    }
    const long long *pv = pr->data;
    *epoch = (long)pv[0];
    *step = (long)pv[1];
    t->opt.step = (long)pv[2];
    rc = 0;
out:
    rnnrt_st_free(&f);
    return rc;
}

/* The order of an epoch's sequences: shuffled from (seed, epoch) alone. */
static void epoch_order(int *order, int N, int shuffle, long seed, long epoch)
{
    for (int i = 0; i < N; i++)
        order[i] = i;
    if (!shuffle)
        return;
    unsigned long long s = ((unsigned long long)seed << 20) ^ (unsigned long long)epoch;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(mix(&s) % (unsigned long long)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

/* Mean loss and accuracy over a whole data set, without learning. */
static int evaluate(Trainer *t, const Dataset *ds, double *loss, double *acc)
{
    int B = t->cfg->batch_size;
    double sum = 0;
    long correct = 0, total = 0, batches = 0;
    for (int i = 0; i < ds->N; i += B) {
        int Bb = ds->N - i < B ? ds->N - i : B;
        for (int k = 0; k < Bb; k++)
            t->order[k] = i + k;
        double l;
        if (batch_run(t, ds, t->order, Bb, 0, &l, &correct, &total) < 0)
            return -1;
        sum += l;
        batches++;
    }
    *loss = sum / (double)(batches ? batches : 1);
    *acc = total ? (double)correct / (double)total : NAN;
    return 0;
}

int rnnc_train(Rnnc *r, RnncTrainArgs *a)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    const TrainCfg *cfg = &a->cfg;
    Trainer t;
    memset(&t, 0, sizeof t);
    Dataset tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    char *source = NULL, *ckpt = NULL;
    JitModule *jit = NULL;
    int rc = -1, has_val = a->val_input != NULL;
    if (net->loss == LOSS_NONE) {
        diag_error(&r->diag, span_none(),
                   "%s: the spec says no 'loss:' (cross_entropy, mse or "
                   "bce_with_logits): there is nothing to train for",
                   net->file);
        return -1;
    }
    for (int i = 0; i < net->nblocks && cfg->tbptt > 0; i++)
        if (net->blocks[i].dirs == 2) {
            diag_error(&r->diag, net->train.span,
                       "train.tbptt: truncated backpropagation "
                       "carries the state forward in time, which a "
                       "bidirectional block ('%s') cannot do",
                       net->blocks[i].name);
            return -1;
        }
    t.r = r;
    t.cfg = cfg;
    t.dbl = net->dbl;
    t.rs = t.dbl ? sizeof(double) : sizeof(float);
    t.per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    if (dataset_load(r, &tr, a->input, a->target, a->lengths) < 0)
        goto out;
    if (has_val && dataset_load(r, &va, a->val_input, a->val_target, a->val_lengths) < 0)
        goto out;
    t.Bmax = cfg->batch_size;
    t.Tmax = tr.T > va.T ? tr.T : va.T;
    if (!a->checkpoint) {
        size_t n = strlen(a->save) + 6;
        ckpt = malloc(n);
        if (ckpt)
            snprintf(ckpt, n, "%s.ckpt", a->save);
    }
    const char *ckpt_path = a->checkpoint ? a->checkpoint : ckpt;
    static const RnnrtOptKind kinds[] = {RNNRT_SGD, RNNRT_ADAM, RNNRT_ADAMW};
    t.opt.kind = kinds[cfg->optimizer];
    t.opt.lr = cfg->lr;
    t.opt.momentum = cfg->momentum;
    t.opt.weight_decay = cfg->weight_decay;
    t.opt.beta1 = cfg->beta1;
    t.opt.beta2 = cfg->beta2;
    t.opt.eps = cfg->eps;
    t.opt.nesterov = cfg->nesterov;
    RnnrtError err;
    if (rnnrt_optim_init(&t.opt, p->nparams, t.dbl, &err) < 0) {
        run_rt_error(r, &err);
        goto out;
    }
    long BT = (long)t.Bmax * t.Tmax, ny = BT * net->out_size;
    int width = net->input_size > net->out_size ? net->input_size : net->out_size;
    t.packed = calloc((size_t)p->npacked + 1, t.rs);
    t.dw = calloc((size_t)p->npacked + 1, t.rs);
    t.dp = calloc((size_t)p->nparams + 1, t.rs);
    t.xb = calloc((size_t)(BT * net->input_size + 1), t.rs);
    t.yb = calloc((size_t)ny + 1, t.rs);
    t.lb = calloc((size_t)ny + 1, t.rs);
    t.db = calloc((size_t)ny + 1, t.rs);
    t.tb.data = calloc((size_t)(BT * width + 1), 8);
    t.lenb = calloc((size_t)t.Bmax, sizeof *t.lenb);
    int nmax = tr.N > va.N ? tr.N : va.N;
    /* order: (N) then scratch rows (Bmax), counted indices (Bmax), live and lengths (2 Bmax) */
    t.order = calloc((size_t)(nmax + 4 * t.Bmax), sizeof *t.order);
    long S = emit_state_reals(p);
    t.ys = calloc((size_t)t.Bmax * net->out_size + 1, t.rs);
    t.ls = calloc((size_t)t.Bmax * net->out_size + 1, t.rs);
    t.ds_ = calloc((size_t)t.Bmax * net->out_size + 1, t.rs);
    t.carry = calloc((size_t)(t.Bmax * S) + 1, t.rs);
    t.s0 = calloc((size_t)(t.Bmax * S) + 1, t.rs);
    t.s1 = calloc((size_t)(t.Bmax * S) + 1, t.rs);
    t.widx = calloc((size_t)t.Bmax, sizeof *t.widx);
    t.countb = calloc((size_t)t.Bmax, 1);
    if (!ckpt_path || !t.packed || !t.dw || !t.dp || !t.xb || !t.yb || !t.lb || !t.db ||
        !t.tb.data || !t.lenb || !t.order || !t.ys || !t.ls || !t.ds_ || !t.carry || !t.s0 ||
        !t.s1 || !t.widx || !t.countb) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    long start_epoch = 0, start_step = 0;
    if (a->resume) {
        t.params = calloc((size_t)p->nparams + 1, t.rs);
        if (!t.params || checkpoint_read(&t, a->resume, &start_epoch, &start_step) < 0)
            goto out;
    } else if (a->init) {
        if (!(t.params = rnnc_load_weights(r, a->init)))
            goto out;
    } else {
        t.params = calloc((size_t)p->nparams + 1, t.rs);
        if (!t.params) {
            diag_error(&r->diag, span_none(), "out of memory");
            goto out;
        }
        init_params(p, t.params, cfg->seed);
    }
    source = train_source(r);
    if (!source ||
        !(jit = jit_compile(r->jit, source, net->name, t.dbl, &(ModelFns){0}, &r->diag)) ||
        train_fns(r, jit, &t.f) < 0)
        goto out;
    t.cache = malloc((size_t)t.f.train_bytes(t.Bmax, t.Tmax));
    if (!t.cache) {
        diag_error(&r->diag, span_none(), "out of memory for the training cache");
        goto out;
    }
    (t.dbl ? unary_f64 : unary_f32)(t.f.pack, t.params, t.packed);
    long steps = (tr.N + t.Bmax - 1) / t.Bmax;
    double t0 = now_s();
    long done = 0, total_left = (cfg->epochs - start_epoch) * steps - start_step;
    for (long epoch = start_epoch; epoch < cfg->epochs; epoch++) {
        epoch_order(t.order, tr.N, cfg->shuffle, cfg->seed, epoch);
        double sum = 0;
        long correct = 0, total = 0, nb = 0;
        for (long s = epoch == start_epoch ? start_step : 0; s < steps; s++) {
            if (a->stop && *a->stop) {
                if (checkpoint_write(&t, ckpt_path, epoch, s) < 0)
                    goto out;
                a->stopped = 1;
                rc = 0;
                goto out;
            }
            int Bb = (int)(tr.N - s * t.Bmax < t.Bmax ? tr.N - s * t.Bmax : t.Bmax);
            double l;
            t.mask_seed = ((unsigned long long)cfg->seed << 40) ^
                          ((unsigned long long)epoch << 20) ^ (unsigned long long)s ^
                          0xd509d509ull;
            if (batch_run(&t, &tr, t.order + s * t.Bmax, Bb, 1, &l, &correct, &total) < 0)
                goto out;
            if (!isfinite(l)) {
                diag_error(&r->diag, span_none(),
                           "the loss became %s at epoch %ld, step %ld: "
                           "training stopped (lower train.lr, or clip "
                           "gradients); the last good checkpoint is %s",
                           isnan(l) ? "NaN" : "infinite", epoch + 1, s + 1, ckpt_path);
                goto out;
            }
            sum += l;
            nb++;
            done++;
            if (a->progress) {
                double el = now_s() - t0, rate = el > 0 ? (double)done / el : 0;
                RnncProgress pr = {(int)epoch + 1,
                                   cfg->epochs,
                                   s + 1,
                                   steps,
                                   sum / (double)nb,
                                   el,
                                   rate,
                                   rate > 0 ? (double)(total_left - done) / rate : 0,
                                   0,
                                   NAN,
                                   NAN,
                                   NAN};
                a->progress(a->ctx, &pr);
            }
        }
        /* the epoch's accuracy is that of the weights as they were for each batch */
        double vl = NAN, vacc = NAN;
        if (has_val && evaluate(&t, &va, &vl, &vacc) < 0)
            goto out;
        if (checkpoint_write(&t, ckpt_path, epoch + 1, 0) < 0)
            goto out;
        if (a->progress) {
            double el = now_s() - t0, rate = el > 0 ? (double)done / el : 0;
            RnncProgress pr = {(int)epoch + 1,
                               cfg->epochs,
                               steps,
                               steps,
                               sum / (double)(nb ? nb : 1),
                               el,
                               rate,
                               rate > 0 ? (double)(total_left - done) / rate : 0,
                               1,
                               total ? (double)correct / (double)total : NAN,
                               vl,
                               vacc};
            a->progress(a->ctx, &pr);
        }
    }
    RnnrtTensor *ts = calloc((size_t)p->ntensors, sizeof *ts);
    if (!ts) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *pt = &p->tensors[i];
        ts[i].name = (char *)pt->name;
        ts[i].dtype = t.dbl ? RNNRT_F64 : RNNRT_F32;
        ts[i].ndim = pt->ndim;
        ts[i].shape[0] = pt->shape[0];
        ts[i].shape[1] = pt->shape[1];
        ts[i].data = (char *)t.params + (size_t)pt->offset * t.rs;
    }
    if (rnnrt_st_write(a->save, ts, p->ntensors, &err) < 0)
        run_rt_error(r, &err);
    else
        rc = 0;
    free(ts);
out:
    free(source);
    free(ckpt);
    jit_free(jit);
    trainer_free(&t);
    dataset_free(&tr);
    dataset_free(&va);
    return rc;
}

/* ---- the interactive model (rnnc_model_*) ------------------------------------------ */

struct RnncModel {
    Rnnc *r;
    JitModule *jit;
    TrainFns f;
    int dbl;
    size_t rs;
    void *params, *packed; /* state_dict order and packed, model precision */
    double *state;         /* carried state of one sequence: emit_state_reals values */
    void *s_in, *s_out;    /* the same in the model precision */
    void *cache;           /* of the last run */
    int cache_T;
    void *xb, *yb, *lb; /* the last run's buffers */
    double *gates, *tensor;
};

static double now_ms(void)
{
    return now_s() * 1e3;
}

RnncModel *rnnc_model_new(Rnnc *r, long seed, double *gen_ms, double *compile_ms)
{
    const Plan *p = r->plan;
    RnncModel *m = calloc(1, sizeof *m);
    if (!m) {
        diag_error(&r->diag, span_none(), "out of memory");
        return NULL;
    }
    m->r = r;
    m->dbl = r->net->dbl;
    m->rs = m->dbl ? sizeof(double) : sizeof(float);
    double t0 = now_ms();
    char *source = train_source(r);
    double t1 = now_ms();
    if (source)
        m->jit = jit_compile(r->jit, source, r->net->name, m->dbl, &(ModelFns){0}, &r->diag);
    double t2 = now_ms();
    free(source);
    if (gen_ms)
        *gen_ms = t1 - t0;
    if (compile_ms)
        *compile_ms = t2 - t1;
    long S = emit_state_reals(p);
    m->params = calloc((size_t)p->nparams + 1, m->rs);
    m->packed = calloc((size_t)p->npacked + 1, m->rs);
    m->state = calloc((size_t)S + 1, sizeof *m->state);
    m->s_in = calloc((size_t)S + 1, m->rs);
    m->s_out = calloc((size_t)S + 1, m->rs);
    m->gates = calloc((size_t)(p->max_h * 4) + 1, sizeof *m->gates);
    m->tensor = calloc((size_t)p->nparams + 1, sizeof *m->tensor);
    if (!m->jit || train_fns(r, m->jit, &m->f) < 0 || !m->params || !m->packed || !m->state ||
        !m->s_in || !m->s_out || !m->gates || !m->tensor) {
        if (m->jit && !r->diag.nerrors)
            diag_error(&r->diag, span_none(), "out of memory");
        rnnc_model_free(m);
        return NULL;
    }
    rnnc_model_init(m, seed);
    return m;
}

void rnnc_model_free(RnncModel *m)
{
    if (!m)
        return;
    jit_free(m->jit);
    free(m->params);
    free(m->packed);
    free(m->state);
    free(m->s_in);
    free(m->s_out);
    free(m->cache);
    free(m->xb);
    free(m->yb);
    free(m->lb);
    free(m->gates);
    free(m->tensor);
    free(m);
}

static void model_pack(RnncModel *m)
{
    (m->dbl ? unary_f64 : unary_f32)(m->f.pack, m->params, m->packed);
}

void rnnc_model_init(RnncModel *m, long seed)
{
    init_params(m->r->plan, m->params, seed);
    model_pack(m);
}

int rnnc_model_load(RnncModel *m, const char *path)
{
    void *p = rnnc_load_weights(m->r, path);
    if (!p)
        return -1;
    free(m->params);
    m->params = p;
    model_pack(m);
    return 0;
}

int rnnc_model_save(RnncModel *m, const char *path)
{
    const Plan *p = m->r->plan;
    RnnrtTensor *ts = calloc((size_t)p->ntensors, sizeof *ts);
    if (!ts) {
        diag_error(&m->r->diag, span_none(), "out of memory");
        return -1;
    }
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *pt = &p->tensors[i];
        ts[i].name = (char *)pt->name;
        ts[i].dtype = m->dbl ? RNNRT_F64 : RNNRT_F32;
        ts[i].ndim = pt->ndim;
        ts[i].shape[0] = pt->shape[0];
        ts[i].shape[1] = pt->shape[1];
        ts[i].data = (char *)m->params + (size_t)pt->offset * m->rs;
    }
    RnnrtError err;
    int rc = rnnrt_st_write(path, ts, p->ntensors, &err);
    if (rc < 0)
        run_rt_error(m->r, &err);
    free(ts);
    return rc < 0 ? -1 : 0;
}

int rnnc_model_take_weights(RnncModel *m, const RnncModel *from)
{
    const Plan *a = m->r->plan, *b = from->r->plan;
    if (a->ntensors != b->ntensors || a->nparams != b->nparams || m->dbl != from->dbl)
        return -1;
    for (int i = 0; i < a->ntensors; i++)
        if (strcmp(a->tensors[i].name, b->tensors[i].name) != 0 ||
            a->tensors[i].shape[0] != b->tensors[i].shape[0] ||
            a->tensors[i].shape[1] != b->tensors[i].shape[1])
            return -1;
    memcpy(m->params, from->params, (size_t)a->nparams * m->rs);
    model_pack(m);
    return 0;
}

void rnnc_model_reset(RnncModel *m)
{
    memset(m->state, 0, (size_t)emit_state_reals(m->r->plan) * sizeof *m->state);
}

/* One forward call of `T` steps of x from state s0 (NULL: zero) into s1 (model precision);
 * the outputs, as doubles, into y (rows x O). */
static int model_call(RnncModel *m, const double *x, int T, const void *s0, void *s1, double *y,
                      int rows)
{
    Rnnc *r = m->r;
    int I = r->net->input_size, O = r->net->out_size;
    free(m->cache);
    free(m->xb);
    free(m->yb);
    free(m->lb);
    m->cache = malloc((size_t)m->f.train_bytes(1, T));
    m->xb = malloc((size_t)T * I * m->rs);
    m->yb = calloc((size_t)T * O + 1, m->rs);
    m->lb = calloc((size_t)T * O + 1, m->rs);
    if (!m->cache || !m->xb || !m->yb || !m->lb) {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        return -1;
    }
    m->cache_T = T;
    for (long i = 0; i < (long)T * I; i++) {
        if (m->dbl)
            ((double *)m->xb)[i] = x[i];
        else
            ((float *)m->xb)[i] = (float)x[i];
    }
    int len = T;
    if ((m->dbl ? fwd_train_f64 : fwd_train_f32)(m->f.forward_train, m->packed, m->xb, &len, 1, T,
                                                 m->yb, m->lb, NULL, s0, s1, m->cache) != 0) {
        diag_error(&r->diag, span_none(), "the model rejected the input (T=%d)", T);
        return -1;
    }
    for (long i = 0; i < (long)rows * O; i++)
        y[i] = m->dbl ? ((double *)m->yb)[i] : ((float *)m->yb)[i];
    return 0;
}

int rnnc_model_run_stoppable(RnncModel *m, const double *x, int T, volatile sig_atomic_t *stop,
                             double **y, int *rows)
{
    Rnnc *r = m->r;
    const Plan *p = r->plan;
    int per_step = !r->net->head.present || r->net->head.input == HEAD_SEQUENCE;
    int I = r->net->input_size, O = r->net->out_size, chunk = 1024;
    *rows = per_step ? T : 1;
    *y = malloc((size_t)*rows * O * sizeof **y);
    if (!*y) {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        return -1;
    }
    if (!emit_can_stream(p) || T <= chunk)
        return model_call(m, x, T, NULL, m->s_out, *y, *rows) < 0 ? -1 : 0;
    /* a long unidirectional run in pieces, the state carried: the same numbers, and Ctrl-C
     * is heard between pieces */
    long S = emit_state_reals(p);
    void *a = calloc((size_t)S + 1, m->rs), *b = calloc((size_t)S + 1, m->rs);
    int rc = a && b ? 0 : -1;
    for (int t0 = 0; rc == 0 && t0 < T; t0 += chunk) {
        if (stop && *stop) {
            rc = 1;
            break;
        }
        int n = T - t0 < chunk ? T - t0 : chunk;
        double *dst = per_step ? *y + (long)t0 * O : *y;
        rc = model_call(m, x + (long)t0 * I, n, t0 ? a : NULL, b, dst, per_step ? n : 1);
        void *tmp = a;
        a = b;
        b = tmp;
    }
    free(a);
    free(b);
    if (rc != 0) {
        free(*y);
        *y = NULL;
    }
    return rc;
}

int rnnc_model_run(RnncModel *m, const double *x, int T, int stream, double **y, int *rows)
{
    Rnnc *r = m->r;
    const Net *net = r->net;
    const Plan *p = r->plan;
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long S = emit_state_reals(p);
    if (stream && !emit_can_stream(p)) {
        diag_error(&r->diag, span_none(),
                   "a bidirectional stack needs the whole sequence: "
                   "it cannot run step by step");
        return -1;
    }
    *rows = per_step ? T : 1;
    *y = malloc((size_t)*rows * net->out_size * sizeof **y);
    if (!*y) {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        return -1;
    }
    for (long i = 0; i < S; i++) {
        if (m->dbl)
            ((double *)m->s_in)[i] = m->state[i];
        else
            ((float *)m->s_in)[i] = (float)m->state[i];
    }
    if (model_call(m, x, T, stream ? m->s_in : NULL, m->s_out, *y, *rows) < 0) {
        free(*y);
        *y = NULL;
        return -1;
    }
    if (stream)
        for (long i = 0; i < S; i++)
            m->state[i] = m->dbl ? ((double *)m->s_out)[i] : ((float *)m->s_out)[i];
    return 0;
}

const double *rnnc_model_state(RnncModel *m, int i, const double **c)
{
    const Plan *p = m->r->plan;
    if (i < 0 || i >= p->nlayers)
        return NULL;
    long off = 0;
    for (int k = 0; k < i; k++)
        off += p->layers[k].Hr + (p->layers[k].G == 4 ? p->layers[k].H : 0);
    if (c)
        *c = p->layers[i].G == 4 ? m->state + off + p->layers[i].Hr : NULL;
    return m->state + off;
}

const double *rnnc_model_gates(RnncModel *m, int i)
{
    const Plan *p = m->r->plan;
    if (!m->cache || i < 0 || i >= p->nlayers)
        return NULL;
    char name[160];
    snprintf(name, sizeof name, "%s_acts", m->r->net->name);
    void *fp = jit_symbol(m->jit, name);
    if (!fp)
        return NULL;
    const PlanLayer *L = &p->layers[i];
    long GH = (long)L->G * L->H;
    int t = L->dir ? 0 : m->cache_T - 1; /* the last step each direction took */
    if (m->dbl) {
        double *(*f)(void *, int, int, int);
        memcpy(&f, &fp, sizeof fp);
        const double *a = f(m->cache, 1, m->cache_T, i) + (long)t * GH;
        memcpy(m->gates, a, (size_t)GH * sizeof *a);
    } else {
        float *(*f)(void *, int, int, int);
        memcpy(&f, &fp, sizeof fp);
        const float *a = f(m->cache, 1, m->cache_T, i) + (long)t * GH;
        for (long k = 0; k < GH; k++)
            m->gates[k] = a[k];
    }
    return m->gates;
}

const double *rnnc_model_tensor(RnncModel *m, const char *name, long *n)
{
    const Plan *p = m->r->plan;
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        if (strcmp(t->name, name) != 0)
            continue;
        *n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        for (long k = 0; k < *n; k++)
            m->tensor[k] = m->dbl ? ((double *)m->params)[t->offset + k]
                                  : ((float *)m->params)[t->offset + k];
        return m->tensor;
    }
    return NULL;
}
