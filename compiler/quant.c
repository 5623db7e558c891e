/* quant.c — quantisation proper: the float weights (PyTorch's order, as doubles) and the
 * calibration ranges to the integers deployed code stores. Per row of each matrix an int8
 * row and its scale; in the integer modes, the biases folded into the accumulators and the
 * multiplier and shift that take each accumulator to its target format, with every value
 * checked against its type. The formats are described in quant.h; the layout is qplan.c's.
 */
#include "quant.h"

#include <math.h>
#include <stdlib.h>

typedef struct QB {
    Arena *a;
    DiagList *d;
    const Plan *p;
    const QPlan *q;
    const double *params;
    int fail;
} QB;

/* The largest factor the requantisation takes: m / 2^e with e >= 1 and m below 2^bits. */
int quant_multiplier(double f, int bits, int *m, int *e)
{
    *m = 0;
    *e = 1;
    if (f == 0)
        return 0;
    if (!(f > 0) || !isfinite(f))
        return -1;
    int ex;
    double fr = frexp(f, &ex); /* f = fr 2^ex, fr in [0.5, 1) */
    long long mm = llround(ldexp(fr, bits));
    if (mm == 1LL << bits) {
        mm >>= 1;
        ex++;
    }
    int s = bits - ex;
    while (s > 62 && mm) { /* a tiny factor: fewer bits rather than a shift past 62 */
        mm = (mm + 1) >> 1;
        s--;
    }
    if (!mm)
        return 0;
    if (s < 1)
        return -1;
    *m = (int)mm;
    *e = s;
    return 0;
}

static void *qalloc(QB *b, long n, size_t size)
{
    void *v = arena_alloc(b->a, (size_t)(n > 0 ? n : 1) * size);
    if (!v)
        b->fail = 1;
    return v;
}

static const double *tensor(const QB *b, int t)
{
    return t >= 0 ? b->params + b->p->tensors[t].offset : NULL;
}

/* Rows of W (rows, cols) to int8 with one symmetric scale each: s = max|row| / 127 (1/127
 * for a row of zeros, whose integers are zero whatever the scale). */
static void quant_rows(QB *b, const double *w, long rows, long cols, signed char **q, double **s)
{
    *q = qalloc(b, rows * cols, 1);
    *s = qalloc(b, rows, sizeof **s);
    if (!*q || !*s)
        return;
    for (long r = 0; r < rows; r++) {
        double mx = 0;
        for (long k = 0; k < cols; k++)
            mx = fmax(mx, fabs(w[r * cols + k]));
        double sc = mx > 0 ? mx / 127 : 1.0 / 127;
        (*s)[r] = sc;
        for (long k = 0; k < cols; k++) {
            long v = lround(w[r * cols + k] / sc);
            (*q)[r * cols + k] = (signed char)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
}

static int bit_len(double v)
{
    int n = 0;
    while (v >= 1 && n < 80) {
        v /= 2;
        n++;
    }
    return n;
}

/* One row's accumulator: its bias in units of `unit` (the weight scale times the input
 * scale), checked to fit beside K products, and the multiplier and shift to `target`.
 * `what` names the row in a diagnostic. 0, or -1 with the diagnostic. */
static int acc_row(QB *b, const char *what, long K, double bias, double unit, double target,
                   long long *bq, int *m, int *e)
{
    const QPlan *q = b->q;
    double bu = bias / unit;
    double bound = (double)K * 127.0 * q->qmax + fabs(bu) + 1;
    double lim = q->acc_size == 4 ? 2147483647.0 : 4.6e18;
    if (bound > lim) {
        diag_error(b->d, span_none(),
                   "%s: the bias %.6g is %.3g units of its %s accumulator (a unit is the "
                   "weight scale times the input scale, %.3g): it overflows; the int16 mode "
                   "(int64 accumulators) or int8-weights hold it",
                   what, bias, bu, q->acc_size == 4 ? "int32" : "int64", unit);
        return -1;
    }
    if (bq)
        *bq = llround(bu);
    int bits = 62 - bit_len(bound);
    bits = bits > QUANT_MAX_BITS ? QUANT_MAX_BITS : bits;
    if (bits < 8 || quant_multiplier(unit / target, bits, m, e) < 0) {
        diag_error(b->d, span_none(),
                   "%s: the accumulator's unit %.3g is too large for the target scale %.3g "
                   "(no integer multiplier of %d bits holds %.3g)",
                   what, unit, target, bits, unit / target);
        return -1;
    }
    return 0;
}

/* Scale of group g's output h (both directions): 2^-(bits-1) for bounded states, else
 * calibrated (a ReLU RNN's h, a projection's h). */
static double out_scale(const QB *b, const QuantRanges *rg, int i)
{
    const PlanLayer *L = &b->p->layers[i];
    double lsb = ldexp(1.0, -(b->q->bits - 1));
    int bounded = !(L->block->cell == CELL_RNN && L->block->nonlin == NONLIN_RELU) && !L->P;
    if (bounded)
        return lsb;
    double mx = 0;
    for (int k = 0; k < b->p->nlayers; k++) {
        const PlanLayer *M = &b->p->layers[k];
        if (M->block_index == L->block_index && M->layer == L->layer)
            mx = fmax(mx, rg->h[k]);
    }
    return mx > 0 ? mx / b->q->qmax : lsb;
}

/* The integer parts of layer i: folded biases, multipliers, the cell state's format. */
static void layer_int(QB *b, const QuantRanges *rg, QuantModel *qm, int i)
{
    const PlanLayer *L = &b->p->layers[i];
    QuantLayer *ql = &qm->layers[i];
    long G = L->G, H = L->H, GH = G * H;
    int after = L->block->cell == CELL_GRU && L->block->reset == RESET_AFTER;
    int relu = L->block->cell == CELL_RNN && L->block->nonlin == NONLIN_RELU;
    const double *bih = tensor(b, L->t_bih), *bhh = tensor(b, L->t_bhh);
    double gate = ldexp(1.0, -QUANT_GATE_FRAC), target = relu ? ql->s_out : gate;
    ql->mx = qalloc(b, GH, sizeof(int)), ql->ex = qalloc(b, GH, sizeof(int));
    ql->mh = qalloc(b, GH, sizeof(int)), ql->eh = qalloc(b, GH, sizeof(int));
    ql->bx = bih ? qalloc(b, GH, sizeof(long long)) : NULL;
    ql->bh = bih && after ? qalloc(b, H, sizeof(long long)) : NULL;
    if (b->fail)
        return;
    for (long j = 0; j < GH; j++) {
        int n_row = after && j >= 2 * H;
        double bias = bih ? bih[j] + (n_row ? 0 : bhh[j]) : 0;
        char *what = arena_printf(b->a, "%s, gate row %ld of W_ih", L->label, j);
        if (acc_row(b, what ? what : L->label, L->I, bias, ql->sx[j] * ql->s_in, target,
                    ql->bx ? &ql->bx[j] : NULL, &ql->mx[j], &ql->ex[j]) < 0)
            b->fail = 1;
        what = arena_printf(b->a, "%s, gate row %ld of W_hh", L->label, j);
        long long *bh = n_row && ql->bh ? &ql->bh[j - 2 * H] : NULL;
        if (acc_row(b, what ? what : L->label, L->Hr, bh ? bhh[j] : 0, ql->sh[j] * ql->s_out,
                    target, bh, &ql->mh[j], &ql->eh[j]) < 0)
            b->fail = 1;
    }
    if (L->P) {
        ql->mr = qalloc(b, L->P, sizeof(int)), ql->er = qalloc(b, L->P, sizeof(int));
        double m_scale = ldexp(1.0, -(b->q->bits - 1));
        for (long r = 0; ql->mr && ql->er && r < L->P; r++)
            if (acc_row(b, L->label, H, 0, ql->sr[r] * m_scale, ql->s_out, NULL, &ql->mr[r],
                        &ql->er[r]) < 0)
                b->fail = 1;
    }
    if (L->G == 4) {
        double cmax = 0;
        for (int k = 0; k < b->p->nlayers; k++)
            if (b->p->layers[k].block_index == L->block_index && b->p->layers[k].layer == L->layer)
                cmax = fmax(cmax, rg->c[k]);
        ql->cfrac = 15;
        while (ql->cfrac > 0 && cmax * ldexp(1.0, ql->cfrac) > 32767)
            ql->cfrac--;
        if (cmax > 32767) {
            diag_error(b->d, span_none(),
                       "%s: the cell state reaches %.6g on the calibration data; int16 holds "
                       "at most 32767",
                       L->label, cmax);
            b->fail = 1;
        }
    }
}

/* Layer i: its rows to int8, and the float biases (int8-weights) or the integer parts. */
static void quant_layer(QB *b, const QuantRanges *rg, QuantModel *qm, int i, double s_in)
{
    const PlanLayer *L = &b->p->layers[i];
    QuantLayer *ql = &qm->layers[i];
    long GH = (long)L->G * L->H;
    quant_rows(b, tensor(b, L->t_wih), GH, L->I, &ql->wx, &ql->sx);
    quant_rows(b, tensor(b, L->t_whh), GH, L->Hr, &ql->wh, &ql->sh);
    if (L->P)
        quant_rows(b, tensor(b, L->t_whr), L->P, L->H, &ql->wr, &ql->sr);
    if (b->fail)
        return;
    if (b->q->integer) {
        ql->s_in = s_in;
        ql->s_out = out_scale(b, rg, i);
        layer_int(b, rg, qm, i);
        return;
    }
    const double *bih = tensor(b, L->t_bih), *bhh = tensor(b, L->t_bhh);
    if (!bih)
        return;
    int after = L->block->cell == CELL_GRU && L->block->reset == RESET_AFTER;
    ql->b = qalloc(b, GH, sizeof(double));
    ql->bhn = after ? qalloc(b, L->H, sizeof(double)) : NULL;
    for (long j = 0; ql->b && j < GH; j++)
        ql->b[j] = bih[j] + (after && j >= 2L * L->H ? 0 : bhh[j]);
    for (long j = 0; ql->bhn && j < L->H; j++)
        ql->bhn[j] = bhh[2L * L->H + j];
}

static void quant_head(QB *b, QuantModel *qm, double s_in)
{
    const Head *h = &b->p->net->head;
    QuantHead *qh = &qm->head;
    long O = h->out_features;
    const double *hb = tensor(b, b->p->head_t_b);
    quant_rows(b, tensor(b, b->p->head_t_w), O, h->in_features, &qh->w, &qh->s);
    if (b->fail)
        return;
    if (!b->q->integer) {
        qh->b = hb ? qalloc(b, O, sizeof(double)) : NULL;
        for (long o = 0; qh->b && o < O; o++)
            qh->b[o] = hb[o];
        return;
    }
    if (h->activation == ACT_SOFTMAX && O > 32767) {
        diag_error(b->d, span_none(),
                   "head %s: the integer softmax sums its outputs in an int: at most 32767 of "
                   "them, not %ld",
                   h->name, O);
        b->fail = 1;
        return;
    }
    double target = h->activation == ACT_NONE ? qm->s_y : ldexp(1.0, -QUANT_GATE_FRAC);
    qh->bq = hb ? qalloc(b, O, sizeof(long long)) : NULL;
    qh->m = qalloc(b, O, sizeof(int));
    qh->e = qalloc(b, O, sizeof(int));
    for (long o = 0; qh->m && qh->e && o < O; o++)
        if (acc_row(b, h->name, h->in_features, hb ? hb[o] : 0, qh->s[o] * s_in, target,
                    qh->bq ? &qh->bq[o] : NULL, &qh->m[o], &qh->e[o]) < 0)
            b->fail = 1;
}

QuantModel *quant_build(Arena *a, DiagList *d, const Plan *p, const QPlan *qp,
                        const double *params, const QuantRanges *rg)
{
    QB b = {a, d, p, qp, params, 0};
    QuantModel *qm = arena_alloc(a, sizeof *qm);
    if (qm)
        qm->layers = arena_alloc(a, (size_t)p->nlayers * sizeof *qm->layers);
    if (!qm || !qm->layers) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    qm->qp = qp;
    double s_in = 1, lsb = ldexp(1.0, -(qp->bits - 1));
    if (qp->integer)
        s_in = qm->s_x = rg->x > 0 ? rg->x / qp->qmax : 1.0 / qp->qmax;
    double s_group = s_in;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir == 0 && i > 0)
            s_in = s_group;
        quant_layer(&b, rg, qm, i, s_in);
        if (qp->integer && !b.fail)
            s_group = qm->layers[i].s_out;
    }
    const Head *h = &p->net->head;
    if (qp->integer)
        qm->s_y = !h->present                 ? s_group
                  : h->activation == ACT_NONE ? (rg->y > 0 ? rg->y / qp->qmax : lsb)
                                              : lsb;
    if (h->present && !b.fail)
        quant_head(&b, qm, s_group);
    if (b.fail) {
        if (!d->nerrors)
            diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    return qm;
}
