/* train.c — `rnnc train`: epochs of mini-batches through the JIT-compiled training unit
 * (forward, the spec's loss, backward through time, full or truncated), the runtime's
 * optimizers and clipping, validation, progress reports and checkpoints.
 */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void dataset_free(Dataset *ds)
{
    io_data_free(&ds->d);
    rnnrt_array_free(&ds->target);
}

static int dataset_load(Rnnc *r, Dataset *ds, const char *x, const char *t, const char *l)
{
    const Net *net = r->net;
    memset(ds, 0, sizeof *ds);
    RnncRunArgs ra = {NULL, x, l, NULL, NULL, NULL, NULL, 1, NULL, NULL};
    RnnrtError err;
    if (io_load_inputs(r, &ra, &ds->d, &ds->N, &ds->T) < 0)
        return -1;
    ds->d.xr = io_to_real(&ds->d.x, net->dbl, rnnrt_array_numel(&ds->d.x));
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
        io_rt_error(r, &err);
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
        io_fmt_shape(got, sizeof got, ds->target.shape, ds->target.ndim);
        io_fmt_shape(exp, sizeof exp, want, nd);
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

/* Adds to *correct and *total the batch's hits: argmax against the class (cross_entropy),
 * logit > 0 against target > 0.5 (bce); z: the logits (or y without a head), Bl rows of the
 * targets in t->tb. mse counts nothing. */
static void count_correct(Trainer *t, const void *z, int Bl, int Tb, long *correct, long *total)
{
    const Net *net = t->r->net;
    int O = net->out_size, ce = net->loss == LOSS_CROSS_ENTROPY;
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
}

/* Backward through the batch just run forward (dL/dy in t->db), the gradients clipped as
 * the spec says, one optimizer step, and the weights packed again. */
static void learn_step(Trainer *t, int Bb, int Tb, const void *drop)
{
    const Plan *p = t->r->plan;
    const TrainCfg *cfg = t->cfg;
    memset(t->dw, 0, (size_t)p->npacked * t->rs);
    t->f.backward(t->packed, t->xb, Bb, Tb, t->db, drop, t->dw, NULL, t->cache);
    t->f.unpack_grads(t->dw, t->dp);
    if (cfg->clip_grad_value > 0)
        rnnrt_clip_grad_value(t->dp, p->nparams, t->dbl, cfg->clip_grad_value);
    if (cfg->clip_grad_norm > 0)
        rnnrt_clip_grad_norm(t->dp, p->nparams, t->dbl, cfg->clip_grad_norm);
    rnnrt_optim_step(&t->opt, t->params, t->dp);
    t->f.pack(t->params, t->packed);
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
    int Tb = 1;
    for (int i = 0; i < Bb; i++) {
        t->lenb[i] = lenw[i];
        Tb = lenw[i] > Tb ? lenw[i] : Tb;
    }
    gather(ds->d.xr, t->xb, idx, Bb, ds->N, ds->T, t0, Tb, net->input_size, t->rs, 1,
           net->batch_first);
    long trow = net->loss == LOSS_CROSS_ENTROPY ? 1 : net->out_size;
    size_t tes = (size_t)rnnrt_dtype_size(ds->target.dtype);
    /* the rows that count: all, or (per-sequence head, truncated) those ending here */
    int *rows = t->order + ds->N; /* scratch: (Bmax) */
    int nc = 0;
    for (int i = 0; i < Bb; i++)
        if (!count || count[i])
            rows[nc++] = i;
    void *drop = NULL;
    int oom = 0;
    if (learn && !(drop = random_dropout_masks(p, Bb, Tb, t->mask_seed, &oom)) && oom) {
        diag_error(&r->diag, span_none(), "out of memory for the dropout masks");
        return -1;
    }
    int rc = -1;
    if (t->f.forward_train(t->packed, t->xb, t->lenb, Bb, Tb, t->yb, t->lb, drop, state0, state1,
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
    RnnrtLossArgs la = {io_loss_kind(net->loss),
                        t->dbl,
                        Bl,
                        Tb,
                        O,
                        t->per_step,
                        net->batch_first,
                        t->lenb,
                        net->head.present ? lz : NULL,
                        yz,
                        io_head_act(net->head.activation)};
    RnnrtError err;
    double loss;
    void *dz = sub ? t->ds_ : t->db;
    if (rnnrt_loss(&la, &t->tb, ds->target_name, &loss, dz, &err) < 0) {
        io_rt_error(r, &err);
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
    count_correct(t, net->head.present ? lz : yz, Bl, Tb, correct, total);
    rc = 0;
    if (learn && isfinite(loss))
        learn_step(t, Bb, Tb, drop);
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
    long S = p->state_reals;
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

/* Refuses what cannot be trained: no loss, or truncated BPTT through a bidirectional block.
 * 0, or -1 with the reason in r->diag. */
static int trainable(Rnnc *r, const TrainCfg *cfg)
{
    const Net *net = r->net;
    if (net->loss == LOSS_NONE) {
        diag_error(&r->diag, span_none(),
                   "%s: the spec says no 'loss:' (cross_entropy, mse or "
                   "bce_with_logits): there is nothing to train for",
                   net->file);
        return -1;
    }
    for (int i = 0; i < net->nblocks && cfg->tbptt > 0; i++)
        if (net->blocks[i].dirs == 2) {
            diag_error(&r->diag, net->train_span,
                       "train.tbptt: truncated backpropagation "
                       "carries the state forward in time, which a "
                       "bidirectional block ('%s') cannot do",
                       net->blocks[i].name);
            return -1;
        }
    return 0;
}

/* The optimizer and every buffer of a run over data sets tr and va (va.N may be 0), sized
 * for batches of cfg->batch_size; llm.c-style, allocated once. 0, or -1 (out of memory). */
static int trainer_alloc(Trainer *t, const Dataset *tr, const Dataset *va)
{
    Rnnc *r = t->r;
    const Net *net = r->net;
    const Plan *p = r->plan;
    const TrainCfg *cfg = t->cfg;
    t->Bmax = cfg->batch_size;
    t->Tmax = tr->T > va->T ? tr->T : va->T;
    static const RnnrtOptKind kinds[] = {
        [RNNC_OPT_SGD] = RNNRT_SGD, [RNNC_OPT_ADAM] = RNNRT_ADAM, [RNNC_OPT_ADAMW] = RNNRT_ADAMW};
    t->opt.kind = kinds[cfg->optimizer];
    t->opt.lr = cfg->lr;
    t->opt.momentum = cfg->momentum;
    t->opt.weight_decay = cfg->weight_decay;
    t->opt.beta1 = cfg->beta1;
    t->opt.beta2 = cfg->beta2;
    t->opt.eps = cfg->eps;
    t->opt.nesterov = cfg->nesterov;
    RnnrtError err;
    if (rnnrt_optim_init(&t->opt, p->nparams, t->dbl, &err) < 0) {
        io_rt_error(r, &err);
        return -1;
    }
    long BT = (long)t->Bmax * t->Tmax, ny = BT * net->out_size;
    long nb = (long)t->Bmax * net->out_size, S = p->state_reals;
    int width = net->input_size > net->out_size ? net->input_size : net->out_size;
    int nmax = tr->N > va->N ? tr->N : va->N;
    t->packed = calloc((size_t)p->npacked + 1, t->rs);
    t->dw = calloc((size_t)p->npacked + 1, t->rs);
    t->dp = calloc((size_t)p->nparams + 1, t->rs);
    t->xb = calloc((size_t)(BT * net->input_size + 1), t->rs);
    t->yb = calloc((size_t)ny + 1, t->rs);
    t->lb = calloc((size_t)ny + 1, t->rs);
    t->db = calloc((size_t)ny + 1, t->rs);
    t->tb.data = calloc((size_t)(BT * width + 1), 8);
    t->lenb = calloc((size_t)t->Bmax, sizeof *t->lenb);
    /* order: (N) then scratch rows (Bmax), counted indices (Bmax), live and lengths (2 Bmax) */
    t->order = calloc((size_t)(nmax + 4 * t->Bmax), sizeof *t->order);
    t->ys = calloc((size_t)nb + 1, t->rs);
    t->ls = calloc((size_t)nb + 1, t->rs);
    t->ds_ = calloc((size_t)nb + 1, t->rs);
    t->carry = calloc((size_t)(t->Bmax * S) + 1, t->rs);
    t->s0 = calloc((size_t)(t->Bmax * S) + 1, t->rs);
    t->s1 = calloc((size_t)(t->Bmax * S) + 1, t->rs);
    t->widx = calloc((size_t)t->Bmax, sizeof *t->widx);
    t->countb = calloc((size_t)t->Bmax, 1);
    if (!t->packed || !t->dw || !t->dp || !t->xb || !t->yb || !t->lb || !t->db || !t->tb.data ||
        !t->lenb || !t->order || !t->ys || !t->ls || !t->ds_ || !t->carry || !t->s0 || !t->s1 ||
        !t->widx || !t->countb) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    return 0;
}

/* The starting weights: a checkpoint's (with the optimizer state and where it stopped), the
 * --init file's, or PyTorch's initialisation from the seed. 0 or -1. */
static int trainer_start(Trainer *t, const RnncTrainArgs *a, long *epoch, long *step)
{
    Rnnc *r = t->r;
    const Plan *p = r->plan;
    *epoch = *step = 0;
    if (a->init)
        return (t->params = rnnc_load_weights(r, a->init)) ? 0 : -1;
    t->params = calloc((size_t)p->nparams + 1, t->rs);
    if (!t->params) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    if (a->resume)
        return checkpoint_read(t, a->resume, epoch, step);
    random_init_params(p, t->params, t->cfg->seed);
    return 0;
}

/* Tells a->progress where training stands: after a step (end_of_epoch 0) or an epoch. */
static void report(const RnncTrainArgs *a, RnncProgress pr, long done, long total_left, double t0)
{
    if (!a->progress)
        return;
    pr.epochs = a->cfg.epochs;
    pr.elapsed = now_s() - t0;
    pr.steps_per_s = pr.elapsed > 0 ? (double)done / pr.elapsed : 0;
    pr.eta = pr.steps_per_s > 0 ? (double)(total_left - done) / pr.steps_per_s : 0;
    a->progress(a->ctx, &pr);
}

/* The epochs from (epoch, step) on, a checkpoint after each; stops early (checkpoint
 * written, a->stopped set) when *a->stop is raised. 0, or -1 (a non-finite loss, an error). */
static int train_epochs(Trainer *t, RnncTrainArgs *a, const Dataset *tr, const Dataset *va,
                        const char *ckpt_path, long start_epoch, long start_step)
{
    Rnnc *r = t->r;
    const TrainCfg *cfg = t->cfg;
    long steps = (tr->N + t->Bmax - 1) / t->Bmax;
    double t0 = now_s();
    long done = 0, total_left = (cfg->epochs - start_epoch) * steps - start_step;
    for (long epoch = start_epoch; epoch < cfg->epochs; epoch++) {
        random_epoch_order(t->order, tr->N, cfg->shuffle, cfg->seed, epoch);
        double sum = 0;
        long correct = 0, total = 0, nb = 0;
        for (long s = epoch == start_epoch ? start_step : 0; s < steps; s++) {
            if (a->stop && *a->stop) {
                a->stopped = 1;
                return checkpoint_write(t, ckpt_path, epoch, s);
            }
            int Bb = (int)(tr->N - s * t->Bmax < t->Bmax ? tr->N - s * t->Bmax : t->Bmax);
            double l;
            t->mask_seed = ((unsigned long long)cfg->seed << 40) ^
                           ((unsigned long long)epoch << 20) ^ (unsigned long long)s ^
                           0xd509d509ull;
            if (batch_run(t, tr, t->order + s * t->Bmax, Bb, 1, &l, &correct, &total) < 0)
                return -1;
            if (!isfinite(l)) {
                diag_error(&r->diag, span_none(),
                           "the loss became %s at epoch %ld, step %ld: "
                           "training stopped (lower train.lr, or clip "
                           "gradients); the last good checkpoint is %s",
                           isnan(l) ? "NaN" : "infinite", epoch + 1, s + 1, ckpt_path);
                return -1;
            }
            sum += l;
            nb++;
            done++;
            RnncProgress pr = {
                (int)epoch + 1, 0, s + 1, steps, sum / (double)nb, 0, 0, 0, 0, NAN, NAN, NAN};
            report(a, pr, done, total_left, t0);
        }
        /* the epoch's accuracy is that of the weights as they were for each batch */
        double vl = NAN, vacc = NAN;
        if (va->N && evaluate(t, va, &vl, &vacc) < 0)
            return -1;
        if (checkpoint_write(t, ckpt_path, epoch + 1, 0) < 0)
            return -1;
        RnncProgress pr = {(int)epoch + 1,
                           0,
                           steps,
                           steps,
                           sum / (double)(nb ? nb : 1),
                           0,
                           0,
                           0,
                           1,
                           total ? (double)correct / (double)total : NAN,
                           vl,
                           vacc};
        report(a, pr, done, total_left, t0);
    }
    return 0;
}

int rnnc_train(Rnnc *r, RnncTrainArgs *a)
{
    const Plan *p = r->plan;
    Trainer t;
    memset(&t, 0, sizeof t);
    Dataset tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    char *ckpt = NULL;
    JitModule *jit = NULL;
    int rc = -1;
    if (trainable(r, &a->cfg) < 0)
        return -1;
    t.r = r;
    t.cfg = &a->cfg;
    t.dbl = r->net->dbl;
    t.rs = (size_t)p->real_size;
    t.per_step = !r->net->head.present || r->net->head.input == HEAD_SEQUENCE;
    if (dataset_load(r, &tr, a->input, a->target, a->lengths) < 0 ||
        (a->val_input && dataset_load(r, &va, a->val_input, a->val_target, a->val_lengths) < 0))
        goto out;
    if (!a->checkpoint) {
        size_t n = strlen(a->save) + 6;
        if ((ckpt = malloc(n)) != NULL)
            snprintf(ckpt, n, "%s.ckpt", a->save);
    }
    const char *ckpt_path = a->checkpoint ? a->checkpoint : ckpt;
    long epoch, step;
    if (!ckpt_path) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    if (trainer_alloc(&t, &tr, &va) < 0 || trainer_start(&t, a, &epoch, &step) < 0 ||
        !(jit = host_compile(r, r->jit, 1, &t.f)))
        goto out;
    t.cache = malloc((size_t)t.f.train_bytes(t.Bmax, t.Tmax));
    if (!t.cache) {
        diag_error(&r->diag, span_none(), "out of memory for the training cache");
        goto out;
    }
    t.f.pack(t.params, t.packed);
    if (train_epochs(&t, a, &tr, &va, ckpt_path, epoch, step) < 0)
        goto out;
    rc = a->stopped ? 0 : io_save_params(r, a->save, t.params);
out:
    free(ckpt);
    jit_free(jit);
    trainer_free(&t);
    dataset_free(&tr);
    dataset_free(&va);
    return rc;
}
