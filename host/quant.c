/* quant.c (host) — quantised models on data: calibration data read and checked, the float
 * reference (every cell in double, from the state_dict) that records the activation ranges
 * calibration needs, the quantised model in memory (its deployed code compiled by libtcc,
 * each layer read back through RNNC_PROBE), and the error report of rnnc check --calib.
 */
#define _POSIX_C_SOURCE 200809L
#include "qhost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"

/* ---- calibration data -------------------------------------------------------------- */

void rnnc_calib_free(RnncCalib *c)
{
    free(c->x);
    free(c->lengths);
    memset(c, 0, sizeof *c);
}

int rnnc_calib_load(Rnnc *r, const char *x_path, const char *lengths_path, RnncCalib *out)
{
    const Net *net = r->net;
    memset(out, 0, sizeof *out);
    RnncRunArgs a = {0};
    a.input = x_path;
    a.lengths = lengths_path;
    RunData d;
    memset(&d, 0, sizeof d);
    int B = 0, T = 0, rc = -1;
    if (io_load_inputs(r, &a, &d, &B, &T) < 0) {
        diag_note(&r->diag, span_none(), "in the calibration data (--calib)");
        goto out;
    }
    long I = net->input_size, n = (long)B * T * I;
    out->x = malloc((size_t)n * sizeof *out->x);
    if (!out->x) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (long i = 0; i < I; i++) {
                long src = (net->batch_first ? (long)b * T + t : (long)t * B + b) * I + i;
                double v = d.x.dtype == RNNRT_F64 ? ((const double *)d.x.data)[src]
                                                  : ((const float *)d.x.data)[src];
                if (!isfinite(v)) {
                    diag_error(&r->diag, span_none(),
                               "%s: calibration value %g at sequence %d, step %d, feature %ld "
                               "is not finite",
                               x_path, v, b, t, i);
                    goto out;
                }
                out->x[((long)b * T + t) * I + i] = v;
            }
    out->B = B;
    out->T = T;
    if (d.len) {
        out->lengths = d.len;
        d.len = NULL;
    }
    rc = 0;
out:
    io_data_free(&d);
    if (rc < 0)
        rnnc_calib_free(out);
    return rc;
}

/* ---- the float reference ------------------------------------------------------------- */

static double sigm(double v)
{
    return 1 / (1 + exp(-v));
}

static double dot(const double *w, const double *v, long n)
{
    double s = 0;
    for (long k = 0; k < n; k++)
        s += w[k] * v[k];
    return s;
}

static const double *tensor(const RnncQuant *q, int t)
{
    return t >= 0 ? q->params + q->r->plan->tensors[t].offset : NULL;
}

static void grow(double *m, double v)
{
    *m = fmax(*m, fabs(v));
}

/* One step of layer i in double, as PyTorch: h (Hr) and c (H) updated; scratch g (G*H), gh
 * (H), t (H). The pre-activations, h and c grow the ranges. */
static void ref_cell(RnncQuant *q, int i, const double *x, double *h, double *c, double *rgpre,
                     double *rgh, double *rgc)
{
    const PlanLayer *L = &q->r->plan->layers[i];
    const double *wih = tensor(q, L->t_wih), *whh = tensor(q, L->t_whh);
    const double *bih = tensor(q, L->t_bih), *bhh = tensor(q, L->t_bhh),
                 *whr = tensor(q, L->t_whr);
    long H = L->H, GH = (long)L->G * H, I = L->I, Hr = L->Hr;
    double *g = q->scratch, *gh = g + GH, *t = gh + H;
    int gru = L->block->cell == CELL_GRU, after = gru && L->block->reset == RESET_AFTER;
    for (long j = 0; j < GH; j++) {
        int n_row = gru && j >= 2 * H;
        g[j] = (bih ? bih[j] : 0) + dot(wih + j * I, x, I);
        if (!n_row)
            g[j] += (bhh ? bhh[j] : 0) + dot(whh + j * Hr, h, Hr);
        else if (after)
            gh[j - 2 * H] = (bhh ? bhh[j] : 0) + dot(whh + j * Hr, h, Hr);
        else
            g[j] += bhh ? bhh[j] : 0;
    }
    if (gru && !after) { /* reset before: n's product takes r * h */
        for (long k = 0; k < H; k++)
            t[k] = sigm(g[k]) * h[k];
        for (long j = 2 * H; j < GH; j++)
            g[j] += dot(whh + j * Hr, t, Hr);
    }
    for (long j = 0; j < GH; j++)
        grow(rgpre, after && j >= 2 * H ? g[j] + sigm(g[j - 2 * H]) * gh[j - 2 * H] : g[j]);
    if (L->block->cell == CELL_RNN) {
        for (long j = 0; j < H; j++)
            h[j] = L->block->nonlin == NONLIN_RELU ? fmax(g[j], 0) : tanh(g[j]);
    } else if (gru) {
        for (long j = 0; j < H; j++) {
            double r = sigm(g[j]), z = sigm(g[H + j]);
            double n = tanh(g[2 * H + j] + (after ? r * gh[j] : 0));
            h[j] = (1 - z) * n + z * h[j];
        }
    } else {
        for (long j = 0; j < H; j++) {
            double ig = sigm(g[j]), fg = sigm(g[H + j]), gg = tanh(g[2 * H + j]);
            double og = sigm(g[3 * H + j]);
            c[j] = fg * c[j] + ig * gg;
            grow(rgc, c[j]);
            t[j] = og * tanh(c[j]);
        }
        for (long k = 0; k < Hr; k++)
            h[k] = whr ? dot(whr + k * H, t, H) : t[k];
    }
    for (long k = 0; k < Hr; k++)
        grow(rgh, h[k]);
}

/* The head on one input vector: y (O); the logits grow *rgy. */
static void ref_head(RnncQuant *q, const double *hin, double *y, double *rgy)
{
    const Plan *p = q->r->plan;
    const Head *hd = &p->net->head;
    const double *w = tensor(q, p->head_t_w), *b = tensor(q, p->head_t_b);
    long F = hd->in_features, O = hd->out_features;
    double mx = -INFINITY, s = 0;
    for (long o = 0; o < O; o++) {
        y[o] = (b ? b[o] : 0) + dot(w + o * F, hin, F);
        grow(rgy, y[o]);
        mx = fmax(mx, y[o]);
    }
    for (long o = 0; o < O; o++) {
        if (hd->activation == ACT_SIGMOID)
            y[o] = sigm(y[o]);
        else if (hd->activation == ACT_SOFTMAX)
            s += y[o] = exp(y[o] - mx);
    }
    for (long o = 0; hd->activation == ACT_SOFTMAX && o < O; o++)
        y[o] /= s;
}

void qhost_ref(RnncQuant *q, const double *x, int T, double **outs, double *y, QuantRanges *rg)
{
    const Plan *p = q->r->plan;
    const QPlan *qp = q->qp;
    const Net *net = p->net;
    double dummy = 0, *h = q->scratch + 4L * p->max_h + p->max_h + p->max_h;
    double *c = h + p->max_hr, *hlast = c + p->max_h, *buf[2] = {hlast + 2L * p->max_hr, NULL};
    buf[1] = buf[0] + (long)T * qp->buf_width;
    for (long k = 0; rg && k < (long)T * net->input_size; k++)
        grow(&rg->x, x[k]);
    const double *in = x;
    long in_w = net->input_size;
    int nb = 0;
    for (int g = 0; g < qp->ngroups; g++) {
        int i0 = qp->group_layer[g];
        const PlanLayer *L0 = &p->layers[i0];
        long W = (long)L0->block->dirs * L0->Hr;
        QOut out = qp->group_out[g];
        double *dst = out == QOUT_BUF ? buf[nb] : out == QOUT_Y ? y : NULL;
        for (int d = 0; d < L0->block->dirs; d++) {
            int i = i0 + d;
            memset(h, 0, (size_t)L0->Hr * sizeof *h);
            memset(c, 0, (size_t)L0->H * sizeof *c);
            for (int s = 0; s < T; s++) {
                int t = d ? T - 1 - s : s;
                ref_cell(q, i, in + t * in_w, h, c, rg ? &rg->pre[i] : &dummy,
                         rg ? &rg->h[i] : &dummy, rg ? &rg->c[i] : &dummy);
                if (dst)
                    memcpy(dst + t * W + d * L0->Hr, h, (size_t)L0->Hr * sizeof *h);
            }
            if (out == QOUT_LAST)
                memcpy(hlast + d * L0->Hr, h, (size_t)L0->Hr * sizeof *h);
        }
        if (outs && outs[g])
            memcpy(outs[g], out == QOUT_LAST ? hlast : dst,
                   (size_t)(out == QOUT_LAST ? W : T * W) * sizeof *h);
        if (out == QOUT_Y && rg)
            for (long k = 0; k < T * W; k++)
                grow(&rg->y, y[k]);
        if (out == QOUT_BUF) {
            in = buf[nb];
            in_w = W;
            nb = 1 - nb;
        }
    }
    if (!net->head.present)
        return;
    double *rgy = rg ? &rg->y : &dummy;
    if (net->head.input == HEAD_LAST)
        ref_head(q, hlast, y, rgy);
    else
        for (int t = 0; t < T; t++)
            ref_head(q, in + t * in_w, y + (long)t * net->head.out_features, rgy);
}

/* Scratch of the reference for sequences of up to T steps; 0 or -1. */
static int ref_scratch(RnncQuant *q, int T)
{
    const Plan *p = q->r->plan;
    long n = 6L * p->max_h + p->max_hr + p->max_h + 2L * p->max_hr + 2L * T * q->qp->buf_width;
    free(q->scratch);
    q->scratch = calloc((size_t)n + 1, sizeof *q->scratch);
    return q->scratch ? 0 : -1;
}

/* ---- the quantised model in memory ---------------------------------------------------- */

/* The probe hook and its table, before the deployed unit: each group's values copied to
 * rnnc_probe_to[group] when the host has set it. */
static const char probe_src[] =
    "void *rnnc_probe_to[64];\n"
    "#define RNNC_PROBE(g, v, n)                                                      \\\n"
    "    {                                                                            \\\n"
    "        const unsigned char *s_ = (const unsigned char *)(v);                    \\\n"
    "        unsigned char *d_ = (unsigned char *)rnnc_probe_to[g];                   \\\n"
    "        for (long i_ = 0; d_ && i_ < (long)(n) * (long)sizeof *(v); i_++)        \\\n"
    "            d_[i_] = s_[i_];                                                     \\\n"
    "    }\n";

/* Compiles q's deployed unit (no self-test) with the probe through libtcc. 0 or -1. */
static int quant_compile(RnncQuant *q)
{
    Rnnc *r = q->r;
    CUnit u;
    if (qhost_emit(q, "model.h", "memory", 0, 0, NULL, NULL, &u) < 0)
        return -1;
    char *unit = cunit_join(&u);
    cunit_free(&u);
    size_t n = unit ? strlen(unit) : 0;
    char *src = unit ? malloc(sizeof probe_src + n) : NULL;
    if (!src) {
        free(unit);
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    memcpy(src, probe_src, sizeof probe_src - 1);
    memcpy(src + sizeof probe_src - 1, unit, n + 1);
    free(unit);
    q->jit = jit_compile(JIT_TCC, src, NULL, 0, NULL, &r->diag);
    free(src);
    if (!q->jit)
        return -1;
    char name[160];
    snprintf(name, sizeof name, "%s_forward", r->net->name);
    void *f = jit_symbol(q->jit, name);
    q->probe = jit_symbol(q->jit, "rnnc_probe_to");
    if (!f || !q->probe) {
        diag_error(&r->diag, span_none(), "JIT: the quantised code has no %s", name);
        return -1;
    }
    memcpy(&q->forward, &f, sizeof f);
    return 0;
}

/* The float model's ranges over the calibration sequences. 0 or -1. */
static int calibrate(RnncQuant *q, const RnncCalib *c)
{
    const Plan *p = q->r->plan;
    QuantRanges *rg = &q->rg;
    long O = p->net->out_size;
    double *y = malloc((size_t)c->T * (size_t)(O + p->max_width) * sizeof *y);
    if (!y || ref_scratch(q, c->T) < 0) {
        free(y);
        diag_error(&q->r->diag, span_none(), "out of memory");
        return -1;
    }
    for (int b = 0; b < c->B; b++) {
        int T = c->lengths ? c->lengths[b] : c->T;
        qhost_ref(q, c->x + (long)b * c->T * p->net->input_size, T, NULL, y, rg);
    }
    free(y);
    return 0;
}

RnncQuant *rnnc_quant_new(Rnnc *r, const char *mode, const double *params, const RnncCalib *c)
{
    const Plan *p = r->plan;
    int m = mode ? quant_mode_parse(mode) : (int)r->net->quantize;
    if (m < 0) {
        diag_error(&r->diag, span_none(),
                   "unknown quantised mode '%s': int8-weights, int8 or int16", mode);
        return NULL;
    }
    if (m == QUANT_NONE) {
        diag_error(&r->diag, span_none(),
                   mode ? "quantised mode none: the float model is the reference itself; give "
                          "int8-weights, int8 or int16"
                        : "no quantised mode: the spec says no deploy.quantize; give --quantize "
                          "int8-weights, int8 or int16");
        return NULL;
    }
    if ((m == QUANT_INT8 || m == QUANT_INT16) && !c) {
        diag_error(&r->diag, span_none(),
                   "%s needs calibration data (--calib X.npy [--calib-lengths L.npy]): the "
                   "activation ranges of the float model over it set the scales",
                   quant_mode_name((QuantMode)m));
        return NULL;
    }
    RnncQuant *q = calloc(1, sizeof *q);
    if (!q) {
        diag_error(&r->diag, span_none(), "out of memory");
        return NULL;
    }
    q->r = r;
    arena_init(&q->arena);
    q->qp = qplan_build(&q->arena, p, (QuantMode)m);
    q->params = malloc((size_t)(p->nparams + 1) * sizeof *q->params);
    QuantRanges *rg = &q->rg;
    rg->h = arena_alloc(&q->arena, (size_t)p->nlayers * sizeof(double));
    rg->c = arena_alloc(&q->arena, (size_t)p->nlayers * sizeof(double));
    rg->pre = arena_alloc(&q->arena, (size_t)p->nlayers * sizeof(double));
    if (!q->qp || !q->params || !rg->h || !rg->c || !rg->pre || ref_scratch(q, 1) < 0) {
        diag_error(&r->diag, span_none(), "out of memory");
        rnnc_quant_free(q);
        return NULL;
    }
    memcpy(q->params, params, (size_t)p->nparams * sizeof *q->params);
    if (c && calibrate(q, c) < 0)
        goto fail;
    q->qm = quant_build(&q->arena, &r->diag, p, q->qp, q->params, c ? rg : NULL);
    if (!q->qm || quant_compile(q) < 0)
        goto fail;
    long nio = (long)r->net->max_seq_len * (r->net->input_size + r->net->out_size);
    q->work = calloc(1, (size_t)q->qp->work_bytes);
    q->xq = calloc((size_t)nio + 1, 8);
    q->yq = calloc((size_t)nio + 1, 8);
    if (!q->work || !q->xq || !q->yq) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto fail;
    }
    return q;
fail:
    rnnc_quant_free(q);
    return NULL;
}

void rnnc_quant_free(RnncQuant *q)
{
    if (!q)
        return;
    jit_free(q->jit);
    arena_free(&q->arena);
    free(q->params);
    free(q->work);
    free(q->xq);
    free(q->yq);
    free(q->scratch);
    free(q);
}

const char *rnnc_quant_mode(const RnncQuant *q)
{
    return quant_mode_name(q->qp->mode);
}

/* n values of the mode's type at v as reals (times `scale` in the integer modes). */
static void from_mode(const RnncQuant *q, const void *v, long n, double scale, double *out)
{
    const QPlan *qp = q->qp;
    for (long k = 0; k < n; k++)
        out[k] = !qp->integer ? (q->r->net->dbl ? ((const double *)v)[k] : ((const float *)v)[k])
                 : qp->bits == 8 ? ((const signed char *)v)[k] * scale
                                 : ((const short *)v)[k] * scale;
}

/* x (n reals) in the mode's type: rounded to the nearest step of the input scale, clamped. */
static void to_mode(const RnncQuant *q, const double *x, long n, void *out)
{
    const QPlan *qp = q->qp;
    for (long k = 0; k < n; k++) {
        if (!qp->integer) {
            if (q->r->net->dbl)
                ((double *)out)[k] = x[k];
            else
                ((float *)out)[k] = (float)x[k];
            continue;
        }
        double v = floor(x[k] / q->qm->s_x + 0.5);
        v = v > qp->qmax ? qp->qmax : v < -qp->qmax ? -qp->qmax : v;
        if (qp->bits == 8)
            ((signed char *)out)[k] = (signed char)v;
        else
            ((short *)out)[k] = (short)v;
    }
}

int rnnc_quant_run(RnncQuant *q, const double *x, int T, double *y, int ref)
{
    const Net *net = q->r->net;
    long ny =
        (long)(!net->head.present || net->head.input == HEAD_SEQUENCE ? T : 1) * net->out_size;
    if (ref) {
        if (ref_scratch(q, T) < 0) {
            diag_error(&q->r->diag, span_none(), "out of memory");
            return -1;
        }
        qhost_ref(q, x, T, NULL, y, NULL);
        return 0;
    }
    if (T < 1 || T > net->max_seq_len) {
        diag_error(&q->r->diag, span_none(),
                   "the quantised code takes 1..%d steps (deploy.max_seq_len), not %d",
                   net->max_seq_len, T);
        return -1;
    }
    to_mode(q, x, (long)T * net->input_size, q->xq);
    if (q->forward(q->xq, T, q->yq, q->work) != 0) {
        diag_error(&q->r->diag, span_none(), "the quantised code refused the sequence");
        return -1;
    }
    from_mode(q, q->yq, ny, q->qm ? q->qm->s_y : 1, y);
    return 0;
}

/* ---- the error report ----------------------------------------------------------------- */

typedef struct Stat {
    double worst, sum, fmax;
    long n;
} Stat;

static void stat_add(Stat *s, const double *got, const double *want, long n)
{
    for (long k = 0; k < n; k++) {
        double d = fabs(got[k] - want[k]);
        s->worst = fmax(s->worst, d);
        s->sum += d;
        s->fmax = fmax(s->fmax, fabs(want[k]));
    }
    s->n += n;
}

static long argmax(const double *v, long n)
{
    long k = 0;
    for (long i = 1; i < n; i++)
        if (v[i] > v[k])
            k = i;
    return k;
}

static void print_row(FILE *out, const char *what, double scale, const Stat *s)
{
    char sc[32] = "real";
    if (scale > 0 && frexp(scale, &(int){0}) == 0.5)
        snprintf(sc, sizeof sc, "2^%d", (int)lround(log2(scale)));
    else if (scale > 0)
        snprintf(sc, sizeof sc, "%.4g", scale);
    fprintf(out, "  %-28s %-10s %11.4g %13.4g %13.4g\n", what, sc, s->fmax, s->worst,
            s->n ? s->sum / (double)s->n : 0.0);
}

/* Both models over one sequence: each group's values and the output compared. */
static void report_seq(RnncQuant *q, const double *x, int T, double **outs, void **qbuf,
                       double *yf, double *yq, Stat *st, long *agree)
{
    const Plan *p = q->r->plan;
    const QPlan *qp = q->qp;
    const Net *net = p->net;
    long O = net->out_size, ny = (!net->head.present || net->head.input == HEAD_SEQUENCE ? T : 1);
    qhost_ref(q, x, T, outs, yf, NULL);
    for (int g = 0; g < qp->ngroups && g < 64; g++)
        q->probe[g] = qbuf[g];
    rnnc_quant_run(q, x, T, yq, 0);
    for (int g = 0; g < qp->ngroups && g < 64; g++) {
        const PlanLayer *L = &p->layers[qp->group_layer[g]];
        long W = (long)L->block->dirs * L->Hr, n = qp->group_out[g] == QOUT_LAST ? W : T * W;
        double *tmp = yf + ny * O; /* room after the output */
        from_mode(q, qbuf[g], n, qp->integer ? q->qm->layers[qp->group_layer[g]].s_out : 1, tmp);
        stat_add(&st[g], tmp, outs[g], n);
        q->probe[g] = NULL;
    }
    stat_add(&st[qp->ngroups], yq, yf, ny * O);
    for (long t = 0; O > 1 && t < ny; t++)
        *agree += argmax(yq + t * O, O) == argmax(yf + t * O, O);
}

int rnnc_quant_report(RnncQuant *q, const RnncCalib *c, FILE *out)
{
    const Plan *p = q->r->plan;
    const QPlan *qp = q->qp;
    const Net *net = p->net;
    int T = c->T < net->max_seq_len ? c->T : net->max_seq_len, G = qp->ngroups, rc = -1, cut = 0;
    long O = net->out_size, steps = 0, agree = 0, nout = 0, W = p->max_width;
    double **outs = calloc((size_t)G, sizeof *outs), *yf = NULL, *yq = NULL;
    void **qbuf = calloc((size_t)G, sizeof *qbuf);
    Stat *st = calloc((size_t)G + 1, sizeof *st);
    for (int g = 0; outs && qbuf && g < G; g++) {
        outs[g] = malloc((size_t)T * (size_t)W * sizeof **outs);
        qbuf[g] = malloc((size_t)T * (size_t)W * 8);
        if (!outs[g] || !qbuf[g])
            goto out;
    }
    yf = malloc((size_t)T * (size_t)(O + W) * sizeof *yf);
    yq = malloc((size_t)T * (size_t)O * sizeof *yq);
    if (!outs || !qbuf || !st || !yf || !yq || ref_scratch(q, T) < 0)
        goto out;
    for (int b = 0; b < c->B; b++) {
        int len = c->lengths ? c->lengths[b] : c->T;
        cut += len > T;
        len = len < T ? len : T;
        report_seq(q, c->x + (long)b * c->T * net->input_size, len, outs, qbuf, yf, yq, st,
                   &agree);
        steps += len;
        nout += !net->head.present || net->head.input == HEAD_SEQUENCE ? len : 1;
    }
    fprintf(out, "quantised %s against the float model: %d calibration sequences, %ld steps%s\n",
            quant_mode_name(qp->mode), c->B, steps, cut ? " (some cut to max_seq_len)" : "");
    fprintf(out, "  %-28s %-10s %11s %13s %13s\n", "layer", "scale", "max|float|", "worst |diff|",
            "mean |diff|");
    for (int g = 0; g < G; g++) {
        const PlanLayer *L = &p->layers[qp->group_layer[g]];
        char what[96];
        snprintf(what, sizeof what, "%s layer %d%s", L->block->name, L->layer,
                 qp->group_out[g] == QOUT_LAST ? " (final h)" : "");
        print_row(out, what, qp->integer ? q->qm->layers[qp->group_layer[g]].s_out : 0, &st[g]);
    }
    print_row(out, net->head.present ? "output (head)" : "output", qp->integer ? q->qm->s_y : 0,
              &st[G]);
    if (O > 1 && net->head.present &&
        (net->head.activation == ACT_SOFTMAX || net->loss == LOSS_CROSS_ENTROPY))
        fprintf(out, "  argmax of the output agrees on %.2f %% of %ld %s\n",
                100.0 * (double)agree / (double)(nout ? nout : 1), nout,
                net->head.present && net->head.input == HEAD_LAST ? "sequences" : "steps");
    double pre = 0;
    for (int i = 0; i < p->nlayers; i++)
        pre = fmax(pre, p->layers[i].block->cell == CELL_RNN &&
                                p->layers[i].block->nonlin == NONLIN_RELU
                            ? 0
                            : q->rg.pre[i]);
    if (qp->integer && pre > 0)
        fprintf(out,
                "  gate pre-activations reach %.3g on the calibration data (Q3.12 holds "
                "+-8)\n",
                pre);
    rc = 0;
out:
    if (rc < 0)
        diag_error(&q->r->diag, span_none(), "out of memory");
    for (int g = 0; g < G; g++) {
        free(outs ? outs[g] : NULL);
        free(qbuf ? qbuf[g] : NULL);
    }
    free(outs);
    free(qbuf);
    free(st);
    free(yf);
    free(yq);
    return rc;
}
