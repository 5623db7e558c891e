/* batch.c — one rank's part of a mini-batch: its share of the sequences (split by length),
 * forward, the spec's loss over the whole batch's count, backward through time (full or
 * truncated), and the exchanges that make the ranks one trainer: the counts before the
 * loss, the gradient and the statistics after it, summed in rank order; then clipping and
 * the same optimizer step on every rank.
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* The inputs of sequences idx[0..Bb), steps t0 .. t0+Tb-1, into t->xb in the model
 * precision: copied when the file has it, else converted row by row. */
static void gather_x(Trainer *t, const Dataset *ds, const int *idx, int Bb, int t0, int Tb)
{
    const Net *net = t->r->net;
    const RnnrtArray *x = &ds->d.x;
    int I = net->input_size, same = (x->dtype == RNNRT_F64) == t->dbl;
    if (same) {
        gather(x->data, t->xb, idx, Bb, ds->N, ds->T, t0, Tb, I, t->rs, 1, net->batch_first);
        return;
    }
    for (int i = 0; i < Bb; i++)
        for (int st = 0; st < Tb; st++) {
            long s = net->batch_first ? (long)idx[i] * ds->T + t0 + st
                                      : (long)(t0 + st) * ds->N + idx[i];
            long d = net->batch_first ? (long)i * Tb + st : (long)st * Bb + i;
            for (int k = 0; k < I; k++) {
                double v = x->dtype == RNNRT_F64 ? ((const double *)x->data)[s * I + k]
                                                 : ((const float *)x->data)[s * I + k];
                if (t->dbl)
                    ((double *)t->xb)[d * I + k] = v;
                else
                    ((float *)t->xb)[d * I + k] = (float)v;
            }
        }
}

int batch_share(const Dataset *ds, const int *idx, int B, int rank, int size, int *out)
{
    if (size <= 1) {
        for (int i = 0; i < B; i++)
            out[i] = idx[i];
        return B;
    }
    /* longest first (insertion sort of positions: batches are small), each to the share
     * with the least summed length so far, the lower rank on a tie */
    int *pos = malloc((size_t)(B ? B : 1) * sizeof *pos);
    long *load = calloc((size_t)size, sizeof *load);
    unsigned char *mine = calloc((size_t)(B ? B : 1), 1);
    if (!pos || !load || !mine) { /* fall back to every size-th sequence */
        int n = 0;
        for (int i = rank; i < B; i += size)
            out[n++] = idx[i];
        free(pos);
        free(load);
        free(mine);
        return n;
    }
    for (int i = 0; i < B; i++) {
        int j = i;
        while (j > 0 && ds->d.len[idx[pos[j - 1]]] < ds->d.len[idx[i]]) {
            pos[j] = pos[j - 1];
            j--;
        }
        pos[j] = i;
    }
    for (int k = 0; k < B; k++) {
        int best = 0;
        for (int q = 1; q < size; q++)
            if (load[q] < load[best])
                best = q;
        load[best] += ds->d.len[idx[pos[k]]];
        mine[pos[k]] = best == rank;
    }
    int n = 0;
    for (int i = 0; i < B; i++)
        if (mine[i])
            out[n++] = idx[i];
    free(pos);
    free(load);
    free(mine);
    return n;
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

/* The summed gradient (in t->xbuf) back into t->dp, its norm noted, clipped as the spec
 * says, one optimizer step, and the weights packed again: the same on every rank. */
static void learn_step(Trainer *t)
{
    const Plan *p = t->r->plan;
    const TrainCfg *cfg = t->cfg;
    io_from_double(t->dp, t->xbuf, p->nparams, t->dbl);
    t->grad_norm = rnnrt_grad_norm(t->dp, p->nparams, t->dbl);
    t->gn_sum += t->grad_norm;
    t->gn_n++;
    if (cfg->clip_grad_value > 0)
        rnnrt_clip_grad_value(t->dp, p->nparams, t->dbl, cfg->clip_grad_value);
    if (cfg->clip_grad_norm > 0)
        rnnrt_clip_grad_norm(t->dp, p->nparams, t->dbl, cfg->clip_grad_norm);
    rnnrt_optim_step(&t->opt, t->params, t->dp);
    t->f->pack(t->params, t->packed);
}

/* A window's batch: lenb, the inputs and the targets of the counted rows (compacted when a
 * per-sequence loss counts only some: then rows[] lists them); returns Tb. */
static int window_gather(Trainer *t, const Dataset *ds, const int *idx, int Bb, int t0,
                         const int *lenw, const unsigned char *count, int *nc, int *sub)
{
    const Net *net = t->r->net;
    int Tb = 1;
    for (int i = 0; i < Bb; i++) {
        t->lenb[i] = lenw[i];
        Tb = lenw[i] > Tb ? lenw[i] : Tb;
    }
    gather_x(t, ds, idx, Bb, t0, Tb);
    int *rows = t->order + ds->N, *sidx = rows + t->Bmax; /* scratch: (Bmax) each */
    *nc = 0;
    for (int i = 0; i < Bb; i++)
        if (!count || count[i])
            rows[(*nc)++] = i;
    *sub = count && !t->per_step && *nc < Bb;
    for (int k = 0; k < *nc; k++)
        sidx[k] = idx[rows[k]];
    long trow = net->loss == LOSS_CROSS_ENTROPY ? 1 : net->out_size;
    size_t tes = (size_t)rnnrt_dtype_size(ds->target.dtype);
    int Bl = *sub ? *nc : Bb;
    gather(ds->target.data, t->tb.data, *sub ? sidx : idx, Bl, ds->N, ds->T, t0, Tb, trow, tes,
           t->per_step, net->batch_first);
    t->tb.dtype = ds->target.dtype;
    t->tb.ndim = ds->target.ndim;
    memcpy(t->tb.shape, ds->target.shape, sizeof t->tb.shape);
    if (t->per_step) {
        t->tb.shape[net->batch_first ? 0 : 1] = Bl;
        t->tb.shape[net->batch_first ? 1 : 0] = Tb;
    } else {
        t->tb.shape[0] = Bl;
    }
    return Tb;
}

/* The loss arguments of the counted rows of a window of Bl rows and Tb steps. */
static RnnrtLossArgs loss_args(Trainer *t, int Bl, int Tb, const void *yz, const void *lz)
{
    const Net *net = t->r->net;
    RnnrtLossArgs la = {io_loss_kind(net->loss),
                        t->dbl,
                        Bl,
                        Tb,
                        net->out_size,
                        t->per_step,
                        net->batch_first,
                        t->lenb,
                        net->head.present ? lz : NULL,
                        yz,
                        io_head_act(net->head.activation),
                        0,
                        NULL};
    return la;
}

/* Forward, this share's part of the loss (over the whole window's count `denom`) and, when
 * `learn`, backward into t->xbuf. Adds to *lsum, *correct and *total. 0 or -1 (local). */
static int window_local(Trainer *t, const Dataset *ds, const int *idx, int Bb, int Tb, int nc,
                        int sub, double denom, const void *drop, const void *state0, void *state1,
                        int learn, double *lsum, long *correct, long *total)
{
    Rnnc *r = t->r;
    const Net *net = r->net;
    const Plan *p = r->plan;
    int O = net->out_size;
    if (pair_forward(t->pair, t->f, t->packed, t->xb, t->lenb, Bb, Tb, t->yb, t->lb, drop, state0,
                     state1, t->cache) != 0) {
        diag_error(&r->diag, span_none(), "the model rejected a batch (B=%d, T=%d)", Bb, Tb);
        return -1;
    }
    if (nc == 0 || denom <= 0)
        return 0;
    int *rows = t->order + ds->N, *sidx = rows + t->Bmax;
    void *yz = t->yb, *lz = t->lb;
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
    RnnrtLossArgs la = loss_args(t, sub ? nc : Bb, Tb, yz, lz);
    la.denom = denom;
    la.rows = sub ? sidx : idx;
    RnnrtError err;
    double loss;
    void *dz = sub ? t->ds_ : t->db;
    if (rnnrt_loss(&la, &t->tb, ds->target_name, &loss, dz, &err) < 0) {
        io_rt_error(r, &err);
        return -1;
    }
    if (sub) {
        memset(t->db, 0, (size_t)Bb * O * t->rs);
        for (int k = 0; k < nc; k++)
            memcpy((char *)t->db + (size_t)rows[k] * O * t->rs, (char *)dz + (size_t)k * O * t->rs,
                   (size_t)O * t->rs);
    }
    *lsum += loss;
    count_correct(t, net->head.present ? lz : yz, sub ? nc : Bb, Tb, correct, total);
    if (learn) {
        memset(t->dw, 0, (size_t)p->npacked * t->rs);
        if (pair_backward(t->pair, t->f, t->packed, t->xb, Bb, Tb, t->db, drop, t->dw, t->cache) !=
            0) {
            diag_error(&r->diag, span_none(), "the model rejected a batch (B=%d, T=%d)", Bb, Tb);
            return -1;
        }
        t->f->unpack_grads(t->dw, t->dp);
        io_to_double(t->xbuf, t->dp, p->nparams, t->dbl);
    }
    return 0;
}

/* The whole batch's (idx[0..B)) counted rows and elements in the window at t0 (K <= 0: the
 * whole sequences), from the lengths alone: what the ranks would otherwise sum, when no
 * target is ignored (-100). known[0]: rows, known[1]: elements. */
static void window_counts(const Trainer *t, const Dataset *ds, const int *idx, int B, int t0,
                          int K, double *known)
{
    const Net *net = t->r->net;
    double per = net->loss == LOSS_CROSS_ENTROPY ? 1 : net->out_size;
    known[0] = known[1] = 0;
    for (int i = 0; i < B; i++) {
        int L = ds->d.len[idx[i]];
        if (L <= t0 || !(t->per_step || K <= 0 || L <= t0 + K))
            continue;
        int lw = K <= 0 ? L : L - t0 < K ? L - t0 : K;
        known[0] += 1;
        known[1] += (t->per_step ? lw : 1) * per;
    }
}

/* One window of steps t0 .. t0 + T - 1 of this rank's sequences idx[0 .. Bb) (all of them
 * when t0 is 0 and there is no truncation), which the other ranks run with their own:
 * forward, the loss, and when `learn` backward and one optimizer step on the summed
 * gradient. lenw: each sequence's steps in the window (>= 1). count: NULL, or which
 * sequences the loss of a per-sequence head takes in (truncated BPTT: those ending here).
 * state0/state1: NULL or the carried state in the model's layout for Bb sequences.
 * known: NULL, or the whole window's counted rows and elements (window_counts); without
 * them the ranks sum theirs first. Adds the window's loss to *loss_sum (and 1 to *nloss)
 * when anything counted anywhere. */
static int run_window(Trainer *t, const Dataset *ds, const int *idx, int Bb, int t0,
                      const int *lenw, const unsigned char *count, const void *state0,
                      void *state1, const double *known, int learn, double *loss_sum, long *nloss,
                      long *correct, long *total)
{
    Rnnc *r = t->r;
    const Plan *p = r->plan;
    long np = learn ? p->nparams : 0;
    int nc = 0, sub = 0, Tb = 1, err = 0;
    double cnt = 0;
    if (Bb > 0) {
        Tb = window_gather(t, ds, idx, Bb, t0, lenw, count, &nc, &sub);
        RnnrtLossArgs la = loss_args(t, sub ? nc : Bb, Tb, t->yb, t->lb);
        cnt = nc ? (double)rnnrt_loss_count(&la, &t->tb) : 0;
    }
    /* the window's counted rows and elements over all ranks: known, or a first exchange */
    double *xs = t->xbuf, gnc, gcnt;
    if (known) {
        gnc = known[0];
        gcnt = known[1];
    } else {
        xs[0] = nc;
        xs[1] = cnt;
        if (trainer_exchange(t, t->xbuf, 2) < 0)
            return -1;
        gnc = xs[0];
        gcnt = xs[1];
    }
    void *drop = NULL;
    int oom = 0;
    if (Bb > 0 && learn && !(drop = random_dropout_masks(p, Bb, Tb, t->mask_seed, idx, &oom)) &&
        oom) {
        diag_error(&r->diag, span_none(), "out of memory for the dropout masks");
        err = 1;
    }
    double lsum = 0;
    long cor = 0, tot = 0;
    if (np)
        memset(t->xbuf, 0, (size_t)np * sizeof *t->xbuf);
    if (!err && Bb > 0 &&
        window_local(t, ds, idx, Bb, Tb, nc, sub, gcnt, drop, state0, state1, learn && gnc > 0,
                     &lsum, &cor, &tot) < 0)
        err = 1;
    free(drop);
    if (gnc == 0)
        np = 0; /* nothing counts in this window, anywhere: no loss, no step */
    /* the exchange: the gradient, then the loss and the hits; errors; rank 0's stop */
    xs = t->xbuf + np;
    xs[XS_LOSS] = lsum;
    xs[XS_NLOSS] = 0;
    xs[XS_CORRECT] = (double)cor;
    xs[XS_TOTAL] = (double)tot;
    xs[XS_ERR] = err;
    xs[XS_STOP] = t->stop_req;
    if (trainer_exchange(t, t->xbuf, np + XSTAT) < 0)
        return -1;
    t->stopping |= xs[XS_STOP] > 0;
    if (xs[XS_ERR] > 0)
        return -1;
    if (gnc == 0)
        return 0;
    double loss = xs[XS_LOSS];
    *loss_sum += loss;
    (*nloss)++;
    *correct += (long)xs[XS_CORRECT];
    *total += (long)xs[XS_TOTAL];
    if (learn && isfinite(loss))
        learn_step(t);
    return 0;
}

/* Copies the carried state of the live sequences between the per-sequence layout of
 * t->carry and the model's layout for nlive sequences (to_model), or back. */
static void carry_state(Trainer *t, const int *live, int nlive, int to_model)
{
    const Plan *p = t->r->plan;
    long S = p->state_reals, off = 0;
    for (int li = 0; li < p->nlayers; li++) {
        const PlanLayer *L = &p->layers[li];
        int widths[2] = {L->Hr, L->G == 4 ? L->H : 0};
        for (int part = 0; part < 2; part++) {
            int wdt = widths[part];
            for (int j = 0; j < nlive; j++) {
                char *model = (char *)(to_model ? t->s0 : t->s1) +
                              ((size_t)off * nlive + (size_t)j * wdt) * t->rs;
                char *seq = (char *)t->carry + ((size_t)live[j] * S + (size_t)off) * t->rs;
                if (to_model)
                    memcpy(model, seq, (size_t)wdt * t->rs);
                else
                    memcpy(seq, model, (size_t)wdt * t->rs);
            }
            off += wdt;
        }
    }
}

int batch_run(Trainer *t, const Dataset *ds, const int *idx, int B, int learn, double *loss,
              long *correct, long *total)
{
    const Plan *p = t->r->plan;
    int K = learn ? t->cfg->tbptt : 0, Tb = 1;
    double sum = 0;
    long nl = 0;
    for (int i = 0; i < B; i++)
        Tb = ds->d.len[idx[i]] > Tb ? ds->d.len[idx[i]] : Tb;
    int *mine = t->share;
    int Bb = batch_share(ds, idx, B, t->comm->rank, t->comm->size, mine);
    double counts[2], *known = ds->has_ignore ? NULL : counts;
    if (K <= 0 || K >= Tb) {
        int *lw = t->order + ds->N + 2 * t->Bmax;
        for (int i = 0; i < Bb; i++)
            lw[i] = ds->d.len[mine[i]];
        if (known)
            window_counts(t, ds, idx, B, 0, 0, known);
        if (run_window(t, ds, mine, Bb, 0, lw, NULL, NULL, NULL, known, learn, &sum, &nl, correct,
                       total) < 0)
            return -1;
        *loss = nl ? sum / (double)nl : 0;
        return 0;
    }
    /* carried state: per sequence, every layer and direction's h (and c) */
    memset(t->carry, 0, (size_t)(Bb * p->state_reals) * t->rs);
    unsigned long long seed0 = t->mask_seed;
    for (int t0 = 0; t0 < Tb; t0 += K) {
        int *live = t->order + ds->N + 2 * t->Bmax, *lw = live + t->Bmax, nlive = 0;
        for (int i = 0; i < Bb; i++) {
            int L = ds->d.len[mine[i]];
            if (L <= t0)
                continue;
            t->widx[nlive] = mine[i];
            live[nlive] = i;
            lw[nlive] = L - t0 < K ? L - t0 : K;
            t->countb[nlive] = t->per_step || L <= t0 + K;
            nlive++;
        }
        carry_state(t, live, nlive, 1);
        t->mask_seed = seed0 ^ (unsigned long long)t0 * 0x9E3779B97F4A7C15ull;
        if (known)
            window_counts(t, ds, idx, B, t0, K, known);
        if (run_window(t, ds, t->widx, nlive, t0, lw, t->per_step ? NULL : t->countb, t->s0, t->s1,
                       known, learn, &sum, &nl, correct, total) < 0)
            return -1;
        carry_state(t, live, nlive, 0);
    }
    *loss = nl ? sum / (double)nl : 0;
    return 0;
}

int batch_evaluate(Trainer *t, const Dataset *ds, double *loss, double *acc)
{
    int B = t->cfg->batch_size;
    double sum = 0;
    long correct = 0, total = 0, batches = 0;
    int *idx = t->order; /* the validation set in order */
    for (int i = 0; i < ds->N; i += B) {
        int Bb = ds->N - i < B ? ds->N - i : B;
        for (int k = 0; k < Bb; k++)
            idx[k] = i + k;
        double l;
        if (batch_run(t, ds, idx, Bb, 0, &l, &correct, &total) < 0)
            return -1;
        sum += l;
        batches++;
    }
    *loss = sum / (double)(batches ? batches : 1);
    *acc = total ? (double)correct / (double)total : NAN;
    return 0;
}
