/* api.c — the generated entry points: <name>_pack and <name>_unpack_grads (mirror
 * images), the head, <name>_scratch_bytes, <name>_forward(_par) over the layers, and the
 * training API: the cache's layout (train_mem), <name>_forward_train, <name>_backward and
 * <name>_acts. Parameter gradients accumulate in the packed layout beside the weights.
 */
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

/* Where a layer reads its input and writes its output, as C expressions. */
typedef struct Io {
    char ptr[64], sb[48], st[48];
} Io;

/* The network's input x as a layer's input: its pointer and strides per sequence and step. */
static Io input_io(const Net *net)
{
    Io in;
    snprintf(in.ptr, sizeof in.ptr, "x");
    snprintf(in.sb, sizeof in.sb, net->batch_first ? "(long)T * %d" : "%d", net->input_size);
    snprintf(in.st, sizeof in.st, net->batch_first ? "%d" : "(long)B * %d", net->input_size);
    return in;
}

/* "ireals", the schedule's ints rounded up to reals (an aligned layout's: to 64 bytes), of
 * layout l, as a declaration. */
static void ireals_decl(Emitter *e, const PlanLayout *l, const char *decl)
{
    if (l->align)
        sb_line(e->sb, "%s = ((%dL * B + %dL * T) * (long)sizeof(int) + 63) / 64 * 64 /", decl,
                l->ints_B, l->ints_T);
    else
        sb_line(e->sb, "%s = ((%dL * B + %dL * T) * (long)sizeof(int) + (long)sizeof(real) - 1) /",
                decl, l->ints_B, l->ints_T);
    sb_line(e->sb, "    (long)sizeof(real);");
}

/* Regions of the training cache, in the order train_mem carves them. */
void em_train_mem(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const Head *hd = &net->head;
    int ng = 0;
    for (int i = 0; i < p->nlayers; i++)
        ng += p->layers[i].dir == 0;
    sb_line(sb, "/* What forward_train keeps for backward, carved from one cache block. */");
    sb_line(sb, "typedef struct TrainMem {");
    sb_line(sb, "    int *len, *perm, *bs; /* (B), (B), (T): the packed schedule */");
    sb_line(sb, "    real *h, *c;          /* the running state, (B, %d) and (B, %d) */",
            p->max_hr, p->max_h);
    sb_line(sb, "    real *out[%d];         /* each layer's outputs, (B, T, D*Hr) */", ng);
    sb_line(sb, "    real *din[%d];         /* outputs after dropout, the next layer's input */",
            ng);
    sb_line(sb,
            "    real *a[%d], *cs[%d], *ex[%d]; /* per layer and direction: activations, c, "
            "gh */",
            p->nlayers, p->nlayers, p->nlayers);
    sb_line(sb,
            "    real *h0[%d], *c0[%d]; /* per layer and direction: the state before step 0 */",
            p->nlayers, p->nlayers);
    sb_line(sb, "    real *wb[%d]; /* per layer and direction: W_ih, W_hh, W_hr untransposed */",
            p->nlayers);
    sb_line(sb, "    real *hlast, *dhlast; /* the head's input and its gradient, (B, %d) */",
            hd->present ? hd->in_features : 0);
    sb_line(sb, "    real *dy[%d];          /* per layer, the gradient of its outputs */", ng);
    sb_line(sb,
            "    real *dhn[%d], *dcn[%d]; /* per layer, dL/dh and dL/dc carried back in time */",
            ng, ng);
    sb_line(sb,
            "    real *bz[%d];          /* per batched layer, its backward's scratch (B, W) */",
            ng);
    sb_line(sb, "} TrainMem;");
    sb_line(sb, "%s", "");
    sb_line(sb, "/* Carves `cache` (when not NULL) and returns its size in reals. */");
    sb_line(sb, "static long train_mem(void *cache, int B, int T, TrainMem *m)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "real *r = (real *)cache;");
    ireals_decl(e, &p->cache, "long at");
    sb_line(sb, "const long BT = (long)B * T;");
    /* every field set on every path (NULL when sizing), so that no compiler sees a read of
     * one unset */
    sb_line(sb, "m->len = (int *)cache;");
    sb_line(sb, "m->perm = r ? m->len + B : 0;");
    sb_line(sb, "m->bs = r ? m->perm + B : 0;");
    /* the plan's table of the cache, region by region */
    for (int k = 0; k < p->cache.n; k++) {
        const PlanRegion *g = &p->cache.r[k];
        static const char *const per[] = {
            [PER_ONE] = "", [PER_B] = "(long)B * ", [PER_BT] = "BT * "};
        sb_line(sb, "m->%s = r ? r + at : 0;", g->name);
        sb_line(sb, "at += %s%ld;", per[g->per], g->width);
    }
    sb_line(sb, "return at;");
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
    sb_line(sb, "long %s_train_bytes(int B, int T)", net->name);
    sb_line(sb, "{");
    sb_line(sb, "    TrainMem m;");
    sb_line(sb, "    return (long)sizeof(real) * train_mem(0, B, T, &m);");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* head_linear (the logits, kept for the loss: the activation is applied outside so that the
 * cross-entropy works on logits as PyTorch's does) and head_back (dW, db of the head, and
 * dL/dx for the layer below), both over one input vector. */
static void head_train(Emitter *e)
{
    const Plan *p = e->p;
    const Head *h = &p->net->head;
    Sb *sb = e->sb;
    long F = h->in_features, O = h->out_features;
    sb_line(sb, "/* Head '%s' without its activation: the logits. */", h->name);
    sb_line(sb, "static void head_linear(const real *w, const real *x, real *y)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "const real *hw = w + %ld;", p->head_pk_w);
    if (h->bias)
        sb_line(sb, "const real *hb = w + %ld;", p->head_pk_b);
    Term t = {"hw", "x", F, O, 0};
    em_product(e, 0, "y", 0, O, h->bias ? "hb" : NULL, 0, &t, 1);
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
    sb_line(sb, "/* Backward of head_linear: dl = dL/dlogits; accumulates dW, db; sets dx. */");
    sb_line(sb, "static void head_back(const real *w, const real *x, const real *dl, real *dw, "
                "real *dx)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "const real *hw = w + %ld;", p->head_pk_w);
    sb_line(sb, "real *dhw = dw + %ld;", p->head_pk_w);
    sb_line(sb, "for (int f = 0; f < %ld; f++) {", F);
    sb_line(sb, "    const real xf = x[f], *r = hw + f * %ld;", O);
    sb_line(sb, "    real *dr = dhw + f * %ld, s = %s;", O, e->zero);
    sb_line(sb, "    for (int o = 0; o < %ld; o++) {", O);
    sb_line(sb, "        dr[o] += dl[o] * xf;");
    sb_line(sb, "        s += r[o] * dl[o];");
    sb_line(sb, "    }");
    sb_line(sb, "    dx[f] = s;");
    sb_line(sb, "}");
    if (h->bias) {
        sb_line(sb, "for (int o = 0; o < %ld; o++)", O);
        sb_line(sb, "    dw[%ld + o] += dl[o];", p->head_pk_b);
    }
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* The position (b, t) of a per-step output in the caller's layout, as a C expression. */
static const char *user_at(const Net *net, long width)
{
    static char buf[2][64];
    static int k;
    char *s = buf[k++ & 1];
    if (net->batch_first)
        snprintf(s, 64, "((long)b * T + t) * %ld", width);
    else
        snprintf(s, 64, "((long)t * B + b) * %ld", width);
    return s;
}

/* Layer-direction i's state before its first step into the cache (m.h0 or m.c0) and the
 * running state (m.h or m.c), for each sequence b of the part: from state0 at `off` (the
 * plan's state layout), or zero. */
static void state_in(Emitter *e, const char *v, int i, long off, int n, long stride)
{
    Sb *sb = e->sb;
    sb_line(sb, "for (int q = 0; q < np; q++) {");
    sb_line(sb, "    const long at = (long)pp[q] * %d;", n);
    sb_line(sb, "    if (state0)");
    sb_line(sb, "        vec_copy(m.%s0[%d] + at, state0 + (long)B * %ld + at, %d);", v, i, off,
            n);
    sb_line(sb, "    else");
    sb_line(sb, "        vec_zero(m.%s0[%d] + at, %d);", v, i, n);
    sb_line(sb, "    vec_copy(m.%s + (long)pp[q] * %ld, m.%s0[%d] + at, %d);", v, stride, v, i, n);
    sb_line(sb, "}");
}

/* y from the top layer's outputs m.out[g]: copied, or through the head (logits kept). */
static void train_output(Emitter *e, int g)
{
    const Net *net = e->p->net;
    Sb *sb = e->sb;
    const Head *hd = &net->head;
    int head_last = hd->present && hd->input == HEAD_LAST;
    long O = net->out_size, F = hd->in_features;
    if (!hd->present) {
        sb_line(sb, "for (int q = 0; q < np; q++) {");
        sb_line(sb, "    const int b = pp[q];");
        sb_line(sb, "    for (int t = 0; t < plen[b]; t++)");
        sb_line(sb, "        vec_copy(y + %s, m.out[%d] + ((long)b * T + t) * %ld, %ld);",
                user_at(net, O), g, O, O);
        sb_line(sb, "}");
    } else {
        const char *act = hd->activation == ACT_NONE ? "" : cell_act_name(hd->activation);
        sb_line(sb, "/* head %s: logits, then y = %s(logits) */", hd->name, act);
        sb_line(sb, "for (int q = 0; q < np; q++) {");
        sb->indent += 4;
        sb_line(sb, "const int b = pp[q];");
        const char *at = "(long)b * ";
        char atbuf[80];
        if (head_last) {
            snprintf(atbuf, sizeof atbuf, "%s%ld", at, O);
            sb_line(sb, "{");
            sb_line(sb, "    head_linear(w, m.hlast + (long)b * %ld, logits + %s);", F, atbuf);
        } else {
            snprintf(atbuf, sizeof atbuf, "%s", user_at(net, O));
            sb_line(sb, "for (int t = 0; t < plen[b]; t++) {");
            sb_line(sb, "    head_linear(w, m.out[%d] + ((long)b * T + t) * %ld, logits + %s);", g,
                    F, atbuf);
        }
        sb_line(sb, "    vec_copy(y + %s, logits + %s, %ld);", atbuf, atbuf, O);
        if (hd->activation == ACT_SOFTMAX)
            sb_line(sb, "    act_softmax(y + %s, %ld);", atbuf, O);
        else if (hd->activation == ACT_SIGMOID) {
            sb_line(sb, "    for (int o = 0; o < %ld; o++)", O);
            sb_line(sb, "        y[%s + o] = act_sigmoid(y[%s + o]);", atbuf, atbuf);
        }
        sb_line(sb, "}");
        sb_close(sb, 1);
    }
}

/* <name>_forward_train: the forward pass that keeps, in the cache, everything backward reads
 * (each layer's outputs and activations, the initial states), with dropout between layers
 * when masks are given and the state carried in and out for truncated BPTT. Part `part` of
 * `nparts` runs pack_part's share of the sequences through every layer and the head: a
 * sequence's forward reads and writes only its own rows, so parts run at once on threads
 * with no barrier, and their bits are one part's. Part 0 keeps the schedule backward reads
 * in the cache; with more than one part each has its own in sched (2B + T ints). */
static void forward_train_entry(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const Head *hd = &net->head;
    int head_last = hd->present && hd->input == HEAD_LAST;
    long O = net->out_size, F = hd->in_features;
    int per_step = !hd->present || hd->input == HEAD_SEQUENCE;
    sb_line(sb, "int %s_forward_train(const real *w, const real *x, const int *lengths, int B,",
            net->name);
    sb_line(
        sb,
        "    int T, real *y, real *logits, const real *drop, const real *state0, real *state1,");
    sb_line(sb, "    void *cache, int part, int nparts, int *sched)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "TrainMem m;");
    if (!p->dropout_reals)
        sb_line(sb, "(void)drop; /* no dropout between layers */");
    sb_line(sb, "if (B < 1 || T < 1%s || nparts < 1 || part < 0 || part >= nparts ||",
            hd->present ? " || !logits" : "");
    sb_line(sb, "    (nparts > 1 && !sched))");
    sb_line(sb, "    return -1;");
    if (!hd->present)
        sb_line(sb, "(void)logits;");
    sb_line(sb, "train_mem(cache, B, T, &m);");
    sb_line(sb, "/* this part's schedule: the cache's own in one part, else its own in sched */");
    sb_line(sb, "int *plen = nparts > 1 ? sched : m.len, *pp = plen + B, *pbs = pp + B;");
    sb_line(sb, "if (pack_batch(lengths, B, T, plen, pp, pbs) < 0 ||");
    sb_line(
        sb,
        "    (nparts > 1 && part == 0 && pack_batch(lengths, B, T, m.len, m.perm, m.bs) < 0))");
    sb_line(sb, "    return -1;");
    sb_line(sb, "const int np = pack_part(pp, pbs, B, T, part, nparts); /* pp[0..np) */");
    sb_line(sb, "for (int q = 0; q < np; q++) {");
    sb->indent += 4;
    sb_line(sb, "const int b = pp[q];");
    for (int k = 0; k < 1 + hd->present; k++) {
        const char *v = k ? "logits" : "y";
        if (per_step && !net->batch_first) {
            sb_line(sb, "for (int t = 0; t < T; t++)");
            sb_line(sb, "    vec_zero(%s + ((long)t * B + b) * %ld, %ld);", v, O, O);
        } else {
            sb_line(sb, "vec_zero(%s + (long)b * %s%ld, %s%ld);", v, per_step ? "T * " : "", O,
                    per_step ? "T * " : "", O);
        }
    }
    sb_close(sb, 1);
    int g = -1;
    Io io = input_io(net);
    char *in = io.ptr, *isb = io.sb, *ist = io.st;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        int W = L->block->dirs * L->Hr;
        if (L->dir == 0 && g >= 0) {
            const PlanLayer *P = &p->layers[i - 1];
            int Wp = P->block->dirs * P->Hr;
            if (P->drop_off >= 0) {
                snprintf(in, sizeof io.ptr, "(drop ? m.din[%d] : m.out[%d])", g, g);
                sb_line(sb, "if (drop) /* dropout after %s layer %d: training only */",
                        P->block->name, P->layer);
                sb_line(sb, "    for (int q = 0; q < np; q++)");
                sb_line(sb,
                        "        for (long at = (long)pp[q] * T * %d; at < ((long)pp[q] * T + "
                        "plen[pp[q]]) * %d; at++)",
                        Wp, Wp);
                sb_line(
                    sb,
                    "            m.din[%d][at] = m.out[%d][at] * drop[(long)B * T * %ld + at];", g,
                    g, P->drop_off);
            } else {
                snprintf(in, sizeof io.ptr, "m.out[%d]", g);
            }
            snprintf(isb, sizeof io.sb, "(long)T * %d", Wp);
            snprintf(ist, sizeof io.st, "%d", Wp);
        }
        if (L->dir == 0)
            g++;
        sb_line(sb, "/* %s */", L->label);
        long hs = em_hstride(e, L, 1), cs = em_cstride(e, L, 1);
        state_in(e, "h", i, L->st_h, L->Hr, hs);
        if (L->st_c >= 0)
            state_in(e, "c", i, L->st_c, L->H, cs);
        char extra[64] = "";
        if (cell_desc(L->block)->has_c)
            snprintf(extra, sizeof extra, "m.c, m.cs[%d], ", i);
        else if (cell_desc(L->block)->has_gh)
            snprintf(extra, sizeof extra, "m.ex[%d], ", i);
        sb_line(sb, "%s_seqc(w + %ld, %s, %s, %s, m.out[%d] + %d,", L->fn, L->pk, in, isb, ist, g,
                L->dir * L->Hr);
        sb_line(sb, "    (long)T * %d, %d, T, pbs, pp, m.h, %sm.a[%d], %d);", W, W, extra, i,
                L->dir);
        sb_line(sb, "for (int q = 0; q < np; q++) {");
        sb->indent += 4;
        sb_line(sb, "const long b = pp[q];");
        if (L->top && L->last_layer && head_last)
            sb_line(sb, "vec_copy(m.hlast + b * %ld + %d, m.h + b * %ld, %d);", F, L->dir * L->Hr,
                    hs, L->Hr);
        sb_line(sb, "if (state1) {");
        sb_line(sb, "    vec_copy(state1 + (long)B * %ld + b * %d, m.h + b * %ld, %d);", L->st_h,
                L->Hr, hs, L->Hr);
        if (L->st_c >= 0)
            sb_line(sb, "    vec_copy(state1 + (long)B * %ld + b * %d, m.c + b * %ld, %d);",
                    L->st_c, L->H, cs, L->H);
        sb_line(sb, "}");
        sb_close(sb, 1);
    }
    train_output(e, g);
    sb_line(sb, "return 0;");
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* Layer-direction i's weights as backward reads them: PyTorch's (untransposed) layout, copied
 * out of the packed block into the cache (m.wb) once per call, by the part that runs it. */
static void untranspose(Emitter *e, int i)
{
    const PlanLayer *L = &e->p->layers[i];
    Sb *sb = e->sb;
    long GH = (long)L->G * L->H;
    sb_line(sb, "/* %s: the weights as backward reads them, PyTorch's layout */", L->label);
    if (e->tcc_calls) { /* the same copies, compiled ahead of time */
        const char *x = e->p->net->dbl ? "f64" : "f32";
        sb_line(sb, "rnnc_transpose_%s(m.wb[%d], %d, w + %ld, %ld, %ld, %d);", x, i, L->I,
                L->pk_wx, GH, GH, L->I);
        sb_line(sb, "rnnc_transpose_%s(m.wb[%d] + %ld, %d, w + %ld, %ld, %ld, %d);", x, i,
                GH * L->I, L->Hr, L->pk_wh, GH, GH, L->Hr);
        if (L->P)
            sb_line(sb, "rnnc_transpose_%s(m.wb[%d] + %ld, %d, w + %ld, %d, %d, %d);", x, i,
                    GH * (L->I + L->Hr), L->H, L->pk_wr, L->P, L->P, L->H);
        return;
    }
    sb_line(sb, "for (int j = 0; j < %ld; j++) {", GH);
    sb_line(sb, "    for (int k = 0; k < %d; k++)", L->I);
    sb_line(sb, "        m.wb[%d][j * %d + k] = w[%ld + k * %ld + j];", i, L->I, L->pk_wx, GH);
    sb_line(sb, "    for (int k = 0; k < %d; k++)", L->Hr);
    sb_line(sb, "        m.wb[%d][%ld + j * %d + k] = w[%ld + k * %ld + j];", i, GH * L->I, L->Hr,
            L->pk_wh, GH);
    sb_line(sb, "}");
    if (L->P) {
        sb_line(sb, "for (int q = 0; q < %d; q++)", L->P);
        sb_line(sb, "    for (int j = 0; j < %d; j++)", L->H);
        sb_line(sb, "        m.wb[%d][%ld + q * %d + j] = w[%ld + j * %d + q];", i,
                GH * (L->I + L->Hr), L->H, L->pk_wr, L->P);
    }
}

/* dL/dy of the top layer's outputs (m.dy[ng - 1]) from dout: through the head's backward
 * (which also adds the head's weight gradients), or dout itself without a head. */
static void backward_head(Emitter *e, int ng)
{
    const Net *net = e->p->net;
    Sb *sb = e->sb;
    const Head *hd = &net->head;
    long O = net->out_size, F = hd->in_features;
    if (hd->present && hd->input == HEAD_LAST) {
        sb_line(sb, "for (int b = 0; b < B; b++)");
        sb_line(sb, "    head_back(w, m.hlast + (long)b * %ld, dout + (long)b * %ld, dw,", F, O);
        sb_line(sb, "              m.dhlast + (long)b * %ld);", F);
    } else {
        sb_line(sb, "for (int b = 0; b < B; b++)");
        sb_line(sb, "    for (int t = 0; t < m.len[b]; t++)");
        if (hd->present)
            sb_line(sb,
                    "        head_back(w, m.out[%d] + ((long)b * T + t) * %ld, dout + %s, dw, "
                    "m.dy[%d] + ((long)b * T + t) * %ld);",
                    ng - 1, F, user_at(net, O), ng - 1, F);
        else
            sb_line(sb, "        vec_copy(m.dy[%d] + ((long)b * T + t) * %ld, dout + %s, %ld);",
                    ng - 1, O, user_at(net, O), O);
    }
}

/* dL/dh [dL/dc] of layer-direction li (layer g of the stack) before its backward's first
 * step: zero, or for the top layer under a head of the last state, the head's gradient. */
static void seqb_begin(Emitter *e, int li, int g)
{
    const PlanLayer *L = &e->p->layers[li];
    const Head *hd = &e->p->net->head;
    Sb *sb = e->sb;
    sb_line(sb, "vec_zero(m.dhn[%d], (long)B * %d);", g, L->Hr);
    if (cell_desc(L->block)->has_c)
        sb_line(sb, "vec_zero(m.dcn[%d], (long)B * %d);", g, L->H);
    if (em_dy_zero(e, L)) {
        sb_line(sb, "for (int b = 0; b < B; b++)");
        sb_line(sb, "    vec_copy(m.dhn[%d] + (long)b * %d, m.dhlast + (long)b * %d + %d, %d);", g,
                L->Hr, hd->in_features, L->dir * L->Hr, L->Hr);
    }
}

/* The backward of layer-direction li (layer g of the stack) over the packed batch, steps s0
 * to s1 - 1 of its backward: its input `io`, the gradient of its outputs in m.dy[g], of its
 * input (when it has a layer below) into m.dy[g - 1], its state's carried back in time. */
static void seqb_call(Emitter *e, int li, int g, const Io *io, int first, int W, const char *s0,
                      const char *s1, int ring)
{
    const PlanLayer *L = &e->p->layers[li];
    const CellDesc *cd = cell_desc(L->block);
    Sb *sb = e->sb;
    char extra[64] = "", dcn[32] = "", c0[32] = "", dx[32] = "0", bz[32] = "";
    if (cd->has_c) {
        snprintf(extra, sizeof extra, "m.cs[%d], ", li);
        snprintf(dcn, sizeof dcn, "m.dcn[%d], ", g);
        snprintf(c0, sizeof c0, "m.c0[%d], ", li);
    } else if (cd->has_gh) {
        snprintf(extra, sizeof extra, "m.ex[%d], ", li);
    }
    if (!first)
        snprintf(dx, sizeof dx, "m.dy[%d]", g - 1);
    if (em_split(e, L)) /* the rows a call leaves for the next one's weight gradients */
        snprintf(bz, sizeof bz, ring ? "bzq, &nz, hand, " : "m.bz[%d], &nz, 0, ", g);
    sb_line(sb, "%s_seqb(m.wb[%d], %s, %s, %s, %s,", L->fn, li, io->ptr, io->sb, io->st, dx);
    char dy[32] = "0";
    if (!em_dy_zero(e, L))
        snprintf(dy, sizeof dy, "m.dy[%d] + %d", g, L->dir * L->Hr);
    sb_line(sb, "    m.out[%d] + %d, %s, (long)T * %d, %d, T, %s, %s, m.bs, m.perm,", g,
            L->dir * L->Hr, dy, W, W, s0, s1);
    sb_line(sb, "    m.len, m.a[%d], %sm.dhn[%d], %sdw + %ld, m.h0[%d], %s%s%d);", li, extra, g,
            dcn, L->pk, li, c0, bz, L->dir);
}

/* After layer-direction li's backward: dL/dstate0, its state's before the first step. */
static void seqb_end(Emitter *e, int li, int g)
{
    const PlanLayer *L = &e->p->layers[li];
    Sb *sb = e->sb;
    sb_line(sb, "if (dstate0) { /* dL/dh (dL/dc) before the first step: the initial state's */");
    sb_line(sb, "    vec_copy(dstate0 + (long)B * %ld, m.dhn[%d], (long)B * %d);", L->st_h, g,
            L->Hr);
    if (cell_desc(L->block)->has_c)
        sb_line(sb, "    vec_copy(dstate0 + (long)B * %ld, m.dcn[%d], (long)B * %d);", L->st_c, g,
                L->H);
    sb_line(sb, "}");
}

/* Back through the dropout under layer g: dL/dx of its input, m.dy[g - 1] (B, T, I), times
 * the mask, at the times of steps s0 to s1 - 1 (all times when `all`) of each sequence. */
static void drop_back(Emitter *e, const PlanLayer *below, int g, long I, int all)
{
    Sb *sb = e->sb;
    sb_line(sb, "if (drop) /* back through the dropout below */");
    sb_line(sb, "    for (int b = 0; b < B; b++) {");
    if (all) {
        sb_line(sb, "        const long at0 = (long)b * T * %ld;", I);
        sb_line(sb, "        const long at1 = ((long)b * T + m.len[b]) * %ld;", I);
    } else {
        sb_line(sb, "        const int te = T - s0 < m.len[b] ? T - s0 : m.len[b];");
        sb_line(sb, "        const long at0 = ((long)b * T + T - s1) * %ld;", I);
        sb_line(sb, "        const long at1 = ((long)b * T + te) * %ld;", I);
    }
    sb_line(sb, "        for (long at = at0; at < at1; at++)");
    sb_line(sb, "            m.dy[%d][at] *= drop[(long)B * T * %ld + at];", g - 1,
            below->drop_off);
    sb_line(sb, "    }");
}

/* Layer g of the stack (layer-directions i0 .. i0 + D - 1), run by one part: its weights
 * untransposed, the gradient of its input zeroed, then its backward. One direction runs its
 * steps in turns when the call has parts (sync): before each step it says how far it is
 * and waits until the layer above has passed that step, whose dL/dy it reads; after the
 * step the layer below may take that step's dL/dx. Both directions of a bidirectional layer
 * run over all times, after the layer above has finished. */
static void backward_layer(Emitter *e, int i0, int g, int ng)
{
    const Plan *p = e->p;
    const PlanLayer *L0 = &p->layers[i0];
    Sb *sb = e->sb;
    int D = L0->block->dirs, W = D * L0->Hr, first = i0 == 0, top = g == ng - 1;
    const PlanLayer *below = first ? NULL : &p->layers[i0 - 1];
    Io io = input_io(p->net);
    if (!first) {
        snprintf(io.ptr, sizeof io.ptr,
                 below->drop_off >= 0 ? "(drop ? m.din[%d] : m.out[%d])" : "m.out[%d]", g - 1,
                 g - 1);
        snprintf(io.sb, sizeof io.sb, "(long)T * %d", L0->I);
        snprintf(io.st, sizeof io.st, "%d", L0->I);
    }
    /* in parts, a step at a time: whether this layer leaves its dW_ih to the part below
     * (ring), and whether the layer above left its own to this one (up); a ring of two
     * (the plan's bz_ring) implies one direction over one direction */
    int ring = em_split(e, L0) && L0->bz_ring == 2;
    const PlanLayer *up = top ? NULL : &p->layers[i0 + 1];
    if (up && !(em_split(e, up) && up->bz_ring == 2))
        up = NULL;
    int bw = p->kern.bw_steps;
    sb_line(sb, "/* %s layer %d */", L0->block->name, L0->layer);
    sb_line(sb, "if (%d %% nparts == part) {", ng - 1 - g);
    sb->indent += 4;
    if (em_split(e, L0)) /* a call per step (in parts) flushes dW every bw_steps steps */
        sb_line(sb, "int nz = 0; /* rows of m.bz[%d] waiting for the weight gradients */", g);
    if (ring) /* the part below runs its first layer at once: no part waits on itself */
        sb_line(sb, "const int hand = sync && %d < nparts; /* dW_ih to the part below */", ng - g);
    if (up)
        sb_line(sb, "const int took = sync && %d < nparts; /* the layer above's dW_ih */",
                ng - g - 1);
    for (int dir = 0; dir < D; dir++)
        untranspose(e, i0 + dir);
    if (!first && !em_dx_set(e, L0))
        sb_line(sb, "vec_zero(m.dy[%d], (long)B * T * %d);", g - 1, L0->I);
    if (D == 1 && ng > 1) {
        seqb_begin(e, i0, g);
        sb_line(sb, "for (int s0 = 0, s1; s0 < T; s0 = s1) {");
        sb->indent += 4;
        sb_line(sb, "s1 = sync ? s0 + 1 : T;");
        sb_line(sb, "if (sync) /* s0 steps done; wait for the layer above to have done s1 */");
        sb_line(sb, "    sync(ctx, %d, s0, %s);", g, top ? "0" : "s1");
        if (up) {
            sb_line(sb, "if (took && (s0 %% %d == %d || s0 + 1 == T)) {", bw, bw - 1);
            sb_line(sb, "    /* the layer above's group of steps is done: its dW_ih */");
            sb_line(sb, "    int n = 0;");
            sb_line(sb, "    for (int s = s0 - s0 %% %d; s <= s0; s++)", bw);
            sb_line(sb, "        n += m.bs[T - 1 - s];");
            sb_line(sb, "    %s_bwx(dw + %ld, n, m.bz[%d] + (long)(s0 / %d %% 2) * B * %ld);",
                    up->fn, up->pk, g + 1, bw, (long)bw * up->bz_width);
            sb_line(sb, "}");
        }
        if (ring) {
            sb_line(sb, "if (hand && s0 %% %d == 0 && s0 >= %d) /* its ring's half: taken */", bw,
                    2 * bw);
            sb_line(sb, "    sync(ctx, %d, s0, -(s0 - %d));", g, bw);
            sb_line(sb,
                    "real *const bzq = m.bz[%d] + (hand ? (long)(s0 / %d %% 2) * B * %ld : 0);", g,
                    bw, (long)bw * L0->bz_width);
        }
        seqb_call(e, i0, g, &io, first, W, "s0", "s1", ring);
        if (below && below->drop_off >= 0)
            drop_back(e, below, g, L0->I, 0);
        sb_close(sb, 1);
        seqb_end(e, i0, g);
    } else {
        if (!top) {
            sb_line(sb, "if (sync) /* wait for the layer above to finish */");
            sb_line(sb, "    sync(ctx, %d, 0, T);", g);
        }
        for (int dir = D - 1; dir >= 0; dir--) {
            seqb_begin(e, i0 + dir, g);
            seqb_call(e, i0 + dir, g, &io, first, W, "0", "T", 0);
            seqb_end(e, i0 + dir, g);
        }
        if (below && below->drop_off >= 0)
            drop_back(e, below, g, L0->I, 1);
    }
    if (ng > 1) {
        sb_line(sb, "if (sync) /* all T steps done: the layer below may take every dL/dx */");
        sb_line(sb, "    sync(ctx, %d, T, 0);", g);
    }
    sb_close(sb, 1);
}

/* <name>_backward: from dL/dout back through the head and the layers, top to bottom, each
 * direction over the packed batch in reverse time, accumulating dW in the packed layout.
 * Part `part` of `nparts` (threads at once, or 1 and 0) runs layers ng - 1 - part,
 * ng - 1 - part - nparts, ... of the ng, and the head with part 0; each layer's arithmetic is
 * the same whoever runs it, so any number of parts gives one part's bits. Parts meet in
 * sync(ctx, g, done, need): layer g has done `done` steps (its dL/dx there is final); return
 * when layer g + 1 has done `need` (0: at once), or for a negative need when layer g - 1
 * has done -need. A layer whose part below runs its first layer at once (ng - g < nparts)
 * leaves that part its dW_ih: every bw_steps steps' rows of bz (dz and x) stay in one half
 * of a ring of two, and the part below, once the group is done, adds them into dW_ih in
 * the order the layer's own part would; before writing into a half again the layer waits
 * for the part below to have taken it (T1: the top layer did 1.85x the lower's work). */
static void backward_entry(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    int ng = 0;
    for (int i = 0; i < p->nlayers; i++)
        ng += p->layers[i].dir == 0;
    const PlanLayer *top = &p->layers[p->nlayers - 1];
    long Wtop = top->block->dirs * top->Hr;
    sb_line(sb, "int %s_backward(const real *w, const real *x, int B, int T, const real *dout,",
            net->name);
    sb_line(sb,
            "    const real *drop, real *dw, real *dstate0, void *cache, int part, int nparts,");
    sb_line(sb, "    void (*sync)(void *, int, int, int), void *ctx)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "TrainMem m;");
    if (!p->dropout_reals)
        sb_line(sb, "(void)drop; /* no dropout between layers */");
    if (ng == 1) {
        sb_line(sb, "(void)sync; /* one layer: one part runs it */");
        sb_line(sb, "(void)ctx;");
    }
    sb_line(sb, "if (B < 1 || T < 1 || nparts < 1 || part < 0 || part >= nparts)");
    sb_line(sb, "    return -1;");
    sb_line(sb, "train_mem(cache, B, T, &m);");
    sb_line(sb, "if (part == 0) {");
    sb->indent += 4;
    if (!em_dy_zero(e, top))
        sb_line(sb, "vec_zero(m.dy[%d], (long)B * T * %ld);", ng - 1, Wtop);
    backward_head(e, ng);
    sb_close(sb, 1);
    int g = ng;
    for (int i = p->nlayers - 1; i >= 0;) {
        int D = p->layers[i].block->dirs;
        backward_layer(e, i - (D - 1), --g, ng);
        i -= D;
    }
    sb_line(sb, "return 0;");
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* The training API after the layers' functions: the head's pair, <name>_acts, the two
 * drivers and <name>_unpack_grads (the mirror image of <name>_pack). */
void em_train_api(Emitter *e)
{
    Sb *sb = e->sb;
    sb_line(sb, "/* The gate activations layer-direction i stored in `cache` (B, T, G*H), for "
                "inspection. */");
    sb_line(sb, "real *%s_acts(void *cache, int B, int T, int i)", e->p->net->name);
    sb_line(sb, "{");
    sb_line(sb, "    TrainMem m;");
    sb_line(sb, "    train_mem(cache, B, T, &m);");
    sb_line(sb, "    return i >= 0 && i < %d ? m.a[i] : 0;", e->p->nlayers);
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
    em_cache_at(e);
    if (e->p->net->head.present)
        head_train(e);
    forward_train_entry(e);
    backward_entry(e);
    em_pack(e, 1);
}

/* The inference head: unrolled when the plan says the product is small (PlanKernels). */
void em_head(Emitter *e)
{
    const Plan *p = e->p;
    const Head *h = &p->net->head;
    Sb *sb = e->sb;
    long F = h->in_features, O = h->out_features;
    int unrolled = e->p->kern.head_unrolled;
    sb_line(sb, "/* Head '%s': Linear(%ld, %ld)%s, activation %s; one input vector. */", h->name,
            F, O, h->bias ? "" : " without bias", cell_act_name(h->activation));
    sb_line(sb, "%sstatic void head_apply(const real *w, const real *x, real *y)", e->fn);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "const real *hw = w + %ld; /* W^T (%ld, %ld) */", p->head_pk_w, F, O);
    if (h->bias)
        sb_line(sb, "const real *hb = w + %ld;", p->head_pk_b);
    Term t = {"hw", "x", F, O, 0};
    em_product(e, unrolled, "y", 0, O, h->bias ? "hb" : NULL, 0, &t, 1);
    if (h->activation == ACT_SOFTMAX)
        sb_line(sb, "act_softmax(y, %ld);", O);
    else if (h->activation == ACT_SIGMOID) {
        sb_line(sb, "for (int j = 0; j < %ld; j++)", O);
        sb_line(sb, "    y[j] = act_sigmoid(y[j]);");
    }
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* Copies PyTorch tensor `t` (rows, cols) transposed into packed (cols, rows) at `pk`, or
 * (unpack) back: p[t] <-> pw[pk]; 16 rows at a time, so that the packed side moves a
 * cache line at a time and the other side's 16 lines stay cached across the columns (row by
 * row, every packed element was a line of its own: the pack after each training step read
 * its weights back from far caches). */
static void pack_transposed(Emitter *e, const PlanTensor *t, long pk, long row, int unpack)
{
    long R = t->shape[0], K = t->shape[1];
    if (e->tcc_calls) { /* the same copies, compiled ahead of time */
        const char *x = e->p->net->dbl ? "f64" : "f32";
        if (unpack)
            sb_line(e->sb, "rnnc_transpose_%s(dp + %ld, %ld, g + %ld, %ld, %ld, %ld); /* %s */", x,
                    t->offset, K, pk, row, R, K, t->name);
        else
            sb_line(e->sb, "rnnc_transpose_%s(pw + %ld, %ld, p + %ld, %ld, %ld, %ld); /* %s */", x,
                    pk, row, t->offset, K, K, R, t->name);
        return;
    }
    sb_line(e->sb, "for (long r0 = 0; r0 < %ld; r0 += 16) /* %s */", R, t->name);
    sb_line(e->sb, "    for (long k = 0; k < %ld; k++)", K);
    if (R % 16)
        sb_line(e->sb, "        for (long r = r0; r < (r0 + 16 < %ld ? r0 + 16 : %ld); r++)", R,
                R);
    else
        sb_line(e->sb, "        for (long r = r0; r < r0 + 16; r++)");
    if (unpack)
        sb_line(e->sb, "            dp[%ld + r * %ld + k] = g[%ld + k * %ld + r];", t->offset, K,
                pk, row);
    else
        sb_line(e->sb, "            pw[%ld + k * %ld + r] = p[%ld + r * %ld + k];", pk, row,
                t->offset, K);
}

/* Both directions of one mapping, so that they cannot disagree: pack sums b_ih + b_hh into
 * the merged bias and transposes every weight; unpack gives a merged bias's gradient to both
 * biases and transposes back. */
void em_pack(Emitter *e, int unpack)
{
    const Plan *p = e->p;
    Sb *sb = e->sb;
    if (unpack)
        sb_line(sb, "void %s_unpack_grads(const real *g, real *dp)", p->net->name);
    else
        sb_line(sb, "void %s_pack(const real *p, real *pw)", p->net->name);
    sb_line(sb, "{");
    sb->indent += 4;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        long GH = (long)L->G * L->H;
        sb_line(sb, "/* %s */", L->label);
        if (L->pk_b >= 0) {
            const PlanTensor *bi = &p->tensors[L->t_bih], *bh = &p->tensors[L->t_bhh];
            long merged = L->pk_bhn >= 0 ? 2L * L->H : GH;
            if (unpack) {
                sb_line(sb, "for (long j = 0; j < %ld; j++) /* a merged bias feeds both */",
                        merged);
                sb_line(sb, "    dp[%ld + j] = dp[%ld + j] = g[%ld + j];", bi->offset, bh->offset,
                        L->pk_b);
            } else {
                sb_line(sb, "for (long j = 0; j < %ld; j++) /* b_ih + b_hh */", merged);
                sb_line(sb, "    pw[%ld + j] = p[%ld + j] + p[%ld + j];", L->pk_b, bi->offset,
                        bh->offset);
            }
            if (L->pk_bhn >= 0) {
                const char *to = unpack ? "dp" : "pw", *from = unpack ? "g" : "p";
                long in_b = unpack ? bi->offset + merged : L->pk_b + merged;
                long in_src = unpack ? L->pk_b + merged : bi->offset + merged;
                long hn_to = unpack ? bh->offset + merged : L->pk_bhn;
                long hn_src = unpack ? L->pk_bhn : bh->offset + merged;
                sb_line(sb, "for (long j = 0; j < %d; j++) { /* b_in; b_hn apart */", L->H);
                sb_line(sb, "    %s[%ld + j] = %s[%ld + j];", to, in_b, from, in_src);
                sb_line(sb, "    %s[%ld + j] = %s[%ld + j];", to, hn_to, from, hn_src);
                sb_line(sb, "}");
            }
        }
        pack_transposed(e, &p->tensors[L->t_wih], L->pk_wx, GH, unpack);
        pack_transposed(e, &p->tensors[L->t_whh], L->pk_wh, GH, unpack);
        if (L->t_whr >= 0)
            pack_transposed(e, &p->tensors[L->t_whr], L->pk_wr, L->P, unpack);
    }
    if (p->net->head.present) {
        const Head *h = &p->net->head;
        sb_line(sb, "/* head %s */", h->name);
        pack_transposed(e, &p->tensors[p->head_t_w], p->head_pk_w, h->out_features, unpack);
        if (p->head_t_b >= 0) {
            long hb = p->tensors[p->head_t_b].offset;
            sb_line(sb, "for (long j = 0; j < %d; j++)", h->out_features);
            if (unpack)
                sb_line(sb, "    dp[%ld + j] = g[%ld + j];", hb, p->head_pk_b);
            else
                sb_line(sb, "    pw[%ld + j] = p[%ld + j];", p->head_pk_b, hb);
        }
    }
    for (int i = 0; i < p->nlayers && !unpack; i++) {
        const PlanLayer *L = &p->layers[i];
        long W = L->tile_w;
        if (L->pk_panel >= 0) {
            sb_line(sb, "/* %s: W_hh^T again, in its one-sequence tiles' panels of %ld units */",
                    L->label, W);
            em_unit_panels(e, L, "pw", L->pk_wh, L->Hr, "pw", L->pk_panel, W);
        }
        if (L->pk_blk >= 0) {
            long wh = plan_blk_wh(L);
            sb_line(sb, "/* %s: %s again, in its tiles' panels of %d units */", L->label,
                    wh ? "W_ih^T and W_hh^T" : "W_hh^T", L->tile_u);
            if (wh)
                em_unit_panels(e, L, "pw", L->pk_wx, L->I, "pw", L->pk_blk, L->tile_u);
            em_unit_panels(e, L, "pw", L->pk_wh, L->Hr, "pw", L->pk_blk + wh, L->tile_u);
        }
    }
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* " + (long)B * kB + (long)B * T * kBT + k1" for the nonzero terms, into buf. */
static void offset_expr(char *buf, size_t n, long kB, long kBT, long k1)
{
    int at = 0;
    buf[0] = '\0';
    if (kB)
        at += snprintf(buf + at, n - (size_t)at, " + (long)B * %ld", kB);
    if (kBT)
        at += snprintf(buf + at, n - (size_t)at, " + (long)B * T * %ld", kBT);
    if (k1)
        snprintf(buf + at, n - (size_t)at, " + %ld", k1);
}

/* <name>_scratch_bytes: the plan's scratch table summed. */
static void scratch_bytes(Emitter *e, const PlanLayout *l)
{
    Sb *sb = e->sb;
    long kB, kBT, k1;
    char off[128];
    plan_region_offset(l, l->n, &kB, &kBT, &k1);
    offset_expr(off, sizeof off, kB, kBT, k1);
    sb_line(sb, "long %s_scratch_bytes(int B, int T)", e->p->net->name);
    sb_line(sb, "{");
    sb->indent += 4;
    ireals_decl(e, l, "const long ireals");
    sb_line(sb, "return (long)sizeof(real) * (ireals%s);", off);
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* Whether the forward uses scratch region `name`. */
static int region_used(const Emitter *e, const char *name)
{
    const Plan *p = e->p;
    const Head *hd = &p->net->head;
    if (strcmp(name, "c") == 0) {
        int lstm = 0;
        for (int i = 0; i < p->nlayers; i++)
            lstm |= cell_desc(p->layers[i].block)->has_c;
        return lstm;
    }
    if (strncmp(name, "buf", 3) == 0)
        return hd->present || p->nlayers > p->layers[0].block->dirs;
    if (strcmp(name, "hlast") == 0)
        return hd->present && hd->input == HEAD_LAST;
    if (strcmp(name, "xp") == 0)
        return !e->dep && p->xp_width > 0;
    return 1;
}

/* The forward's pointers into its scratch, each region where the plan's table puts it; the
 * parts of <name>_forward_par share the `shared` regions (layer outputs, the head's input). */
static void carve(Emitter *e, const PlanLayout *l)
{
    Sb *sb = e->sb;
    int any_shared = 0;
    ireals_decl(e, l, "const long ireals");
    for (int k = 0; k < l->n; k++) {
        const PlanRegion *g = &l->r[k];
        if (!region_used(e, g->name))
            continue;
        long kB, kBT, k1;
        char off[128];
        plan_region_offset(l, k, &kB, &kBT, &k1);
        offset_expr(off, sizeof off, kB, kBT, k1);
        int shared = g->shared && !e->dep;
        any_shared |= shared;
        if (strcmp(g->name, "buf[0]") == 0)
            sb_line(sb, "real *buf[2]; /* layer outputs, 2 x (B, T, %ld) */", g->cols);
        sb_line(sb, "%s%s = (real *)%s + ireals%s; /* (B, %s%ld) */",
                strncmp(g->name, "buf", 3) ? "real *" : "", g->name, shared ? "shared" : "scratch",
                off, g->per == PER_BT ? "T, " : "", g->cols);
    }
    if (!e->dep && !any_shared)
        sb_line(sb, "(void)shared;");
}

/* The signature, the checks, the scratch carved and the batch packed; y cleared (a part: its
 * own sequences only, then a barrier). */
static void forward_open(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    int head_last = net->head.present && net->head.input == HEAD_LAST;
    long O = net->out_size;
    if (e->dep) {
        sb_line(sb,
                "/* The whole network on B sequences, as <name>_forward of the run-time API. */");
        sb_line(sb,
                "%sstatic int forward_batch(const real *w, const real *x, const int *lengths, "
                "int B,",
                e->fn);
        sb_line(sb, "    int T, real *y, real *h_n, real *c_n, void *scratch)");
    } else {
        scratch_bytes(e, &p->scratch);
        em_section(e, "forward");
        sb_line(sb,
                "int %s_forward_par(const real *w, const real *x, const int *lengths, int B, "
                "int T,",
                net->name);
        sb_line(sb, "    const real *h0, const real *c0, real *y, real *h_n, real *c_n, void "
                    "*scratch,");
        sb_line(sb, "    void *shared, int part, int nparts, void (*sync)(void *), void *ctx)");
    }
    sb_line(sb, "{");
    sb->indent += 4;
    if (net->blocks[net->nblocks - 1].cell != CELL_LSTM)
        sb_line(sb, e->dep ? "(void)c_n; /* the top block has no cell state */"
                           : "(void)c0, (void)c_n; /* the top block has no cell state */");
    sb_line(sb, "if (B < 1 || T < 1%s)",
            e->dep ? "" : " || nparts < 1 || part < 0 || part >= nparts");
    sb_line(sb, "    return -1;");
    sb_line(sb, "int *len = (int *)scratch, *perm = len + B, *bs = perm + B;");
    if (!e->dep)
        sb_line(sb, "int *pp = bs + T, *pbs = pp + B; /* this part's perm and bs */");
    carve(e, e->dep ? &p->dep_scratch : &p->scratch);
    sb_line(sb, "if (pack_batch(lengths, B, T, len, perm, bs) < 0)");
    sb_line(sb, "    return -1;");
    if (e->dep) {
        sb_line(sb, head_last ? "vec_zero(y, (long)B * %ld);" : "vec_zero(y, (long)B * T * %ld);",
                O);
        return;
    }
    sb_line(sb, "for (int i = 0; i < B; i++)");
    sb_line(sb, "    pp[i] = perm[i];");
    sb_line(sb, "for (int t = 0; t < T; t++)");
    sb_line(sb, "    pbs[t] = bs[t];");
    sb_line(sb, "const int np = pack_part(pp, pbs, B, T, part, nparts); /* pp[0..np) */");
    /* every output of a live step is written whole (by the top layer's directions, or the
     * head), so only the padding after each sequence's end is cleared here */
    sb_line(sb, "for (int i = 0; i < np; i++) {");
    sb_line(sb, "    const int b = pp[i];");
    if (head_last)
        sb_line(sb, "    vec_zero(y + (long)b * %ld, %ld);", O, O);
    else if (net->batch_first)
        sb_line(sb, "    vec_zero(y + ((long)b * T + len[b]) * %ld, (long)(T - len[b]) * %ld);", O,
                O);
    else {
        sb_line(sb, "    for (int t = len[b]; t < T; t++)");
        sb_line(sb, "        vec_zero(y + ((long)t * B + b) * %ld, %ld);", O, O);
    }
    sb_line(sb, "}");
    sb_line(sb, "if (sync) /* no part writes y before every part has cleared its own */");
    sb_line(sb, "    sync(ctx);");
}

/* After layer-direction L ran: the final states of the top block's sequences into h_n
 * (c_n), and the top layer's last state into the head's input. */
static void final_states(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const Head *hd = &e->p->net->head;
    int lstm = cell_desc(L->block)->has_c, W = L->block->dirs * L->Hr;
    long slot = (long)L->layer * L->block->dirs + L->dir;
    sb_line(sb, "for (int i = 0; i < sn; i++) {");
    sb->indent += 4;
    sb_line(sb, "const int b = sp[i];");
    sb_line(sb, "if (h_n)");
    sb_line(sb, "    vec_copy(h_n + ((long)B * %ld + b) * %d, h + (long)b * %d, %d);", slot, L->Hr,
            L->Hr, L->Hr);
    if (lstm) {
        sb_line(sb, "if (c_n)");
        sb_line(sb, "    vec_copy(c_n + ((long)B * %ld + b) * %d, c + (long)b * %d, %d);", slot,
                L->H, L->H, L->H);
    }
    if (hd->present && hd->input == HEAD_LAST && L->last_layer)
        sb_line(sb, "vec_copy(hlast + (long)b * %d + %d, h + (long)b * %d, %d);", W,
                L->dir * L->Hr, L->Hr, L->Hr);
    sb_close(sb, 1);
}

/* The state `v` (h or c, n values a sequence) before layer-direction L's first step: zero,
 * or for the top block from the caller's v0 (h0 or c0: (L*D, B, n), h_n's layout). */
static void emit_state0(Emitter *e, const PlanLayer *L, const char *v, int n)
{
    Sb *sb = e->sb;
    if (!L->top || e->dep) {
        sb_line(sb, "vec_zero(%s, (long)B * %d);", v, n);
        return;
    }
    long slot = (long)L->layer * L->block->dirs + L->dir;
    char at[48] = "";
    if (slot)
        snprintf(at, sizeof at, " + (long)B * %ld", slot * n);
    sb_line(sb, "if (%s0) /* the top block's initial state */", v);
    sb_line(sb, "    vec_copy(%s, %s0%s, (long)B * %d);", v, v, at, n);
    sb_line(sb, "else");
    sb_line(sb, "    vec_zero(%s, (long)B * %d);", v, n);
}

/* Layer i (both directions) from `in` to `out`. */
static void forward_layer(Emitter *e, int i, const Io *in, const Io *out)
{
    const Plan *p = e->p;
    Sb *sb = e->sb;
    const PlanLayer *L0 = &p->layers[i];
    int D = L0->block->dirs, top = L0->top; /* the top block copies final states: sn too */
    /* whose sequences: all (deployed); this part's; or, synchronised, all of them for a
     * bidirectional layer, whose directions go to parts 0 and 1 */
    if (em_feed(e, L0)) /* the steps of the next layer this one projects (tile.c) */
        sb_line(sb, "int fpre%d = 0;", i);
    sb_line(sb, "{");
    sb->indent += 4;
    if (e->dep)
        sb_line(sb, "const int *sp = perm, *sq = bs%s;", top ? ", sn = B" : "");
    else if (D == 1)
        sb_line(sb, "const int *sp = pp, *sq = pbs%s;", top ? ", sn = np" : "");
    else
        sb_line(sb, "const int *sp = sync ? perm : pp, *sq = sync ? bs : pbs%s;",
                top ? ", sn = sync ? B : np" : "");
    for (int dir = 0; dir < D; dir++) {
        const PlanLayer *L = &p->layers[i + dir];
        int lstm = cell_desc(L->block)->has_c;
        sb_line(sb, "/* %s */", L->label);
        if (!e->dep && D == 2) {
            sb_line(sb, "if (!sync || %d %% nparts == part) {", dir);
            sb->indent += 4;
        }
        emit_state0(e, L, "h", L->Hr);
        if (lstm)
            emit_state0(e, L, "c", L->H);
        char optr[80];
        snprintf(optr, sizeof optr, dir ? "%s + %d" : "%s", out->ptr, L->Hr);
        sb_line(sb, "%s_seq(w + %ld, %s, %s, %s,", L->fn, L->pk, in->ptr, in->sb, in->st);
        char feed[80] = "";
        int at = 0;
        if (em_feed(e, L))
            at = snprintf(feed, sizeof feed, ", w + %ld, &fpre%d", L[1].pk, i + dir);
        else if (em_fed(e, L))
            at = snprintf(feed, sizeof feed, ", fpre%d", i + dir - 1);
        if (em_panels(e, L)) /* this direction's panels: the two share the function */
            snprintf(feed + at, sizeof feed - (size_t)at, ", w + %ld",
                     L->pk_panel >= 0 ? L->pk_panel : L->pk_blk);
        sb_line(sb, "    %s, %s, %s, T, sq, sp, h, %s%s%d%s);", optr, out->sb, out->st,
                lstm ? "c, " : "", em_split(e, L) ? "xp, " : "", dir, feed);
        if (L->top)
            final_states(e, L);
        if (!e->dep && D == 2) {
            sb_close(sb, 1);
        }
    }
    sb_close(sb, 1);
}

/* The head over the top layer's outputs `in` (or the last states), this part's sequences. */
static void forward_head(Emitter *e, const Io *in)
{
    const Net *net = e->p->net;
    const Head *hd = &net->head;
    Sb *sb = e->sb;
    long O = net->out_size;
    sb_line(sb, "/* head %s */", hd->name);
    sb_line(sb, "for (int i = 0; i < %s; i++) {", e->dep ? "B" : "np");
    sb->indent += 4;
    sb_line(sb, "const int b = %s[i];", e->dep ? "perm" : "pp");
    if (hd->input == HEAD_LAST) {
        sb_line(sb, "head_apply(w, hlast + (long)b * %d, y + (long)b * %ld);", hd->in_features, O);
    } else {
        sb_line(sb, "for (int t = 0; t < len[b]; t++)");
        sb_line(sb, "    head_apply(w, %s + ((long)b * T + t) * %d,", in->ptr, hd->in_features);
        if (net->batch_first)
            sb_line(sb, "               y + ((long)b * T + t) * %ld);", O);
        else
            sb_line(sb, "               y + ((long)t * B + b) * %ld);", O);
    }
    sb_close(sb, 1);
}

/* The forward driver: layer by layer through two ping-pong buffers (or straight into y for
 * the top layer without a head), then the head; the run-time API's parts and barriers, or
 * deployed code's single pass. */
void em_forward(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    long O = net->out_size;
    forward_open(e);
    Io in = input_io(net);
    int nbuf = 0;
    for (int i = 0; i < p->nlayers; i += p->layers[i].block->dirs) {
        const PlanLayer *L0 = &p->layers[i];
        int W = L0->block->dirs * L0->Hr;
        Io out;
        if (L0->top && L0->last_layer && !net->head.present) { /* straight into y */
            snprintf(out.ptr, sizeof out.ptr, "y");
            snprintf(out.sb, sizeof out.sb, net->batch_first ? "(long)T * %ld" : "%ld", O);
            snprintf(out.st, sizeof out.st, net->batch_first ? "%ld" : "(long)B * %ld", O);
        } else {
            snprintf(out.ptr, sizeof out.ptr, "buf[%d]", nbuf);
            snprintf(out.sb, sizeof out.sb, "(long)T * %d", W);
            snprintf(out.st, sizeof out.st, "%d", W);
            nbuf ^= 1;
        }
        forward_layer(e, i, &in, &out);
        if (!e->dep && (i + L0->block->dirs < p->nlayers || net->head.present)) {
            sb_line(sb, "if (sync) /* the next layer reads every part's outputs */");
            sb_line(sb, "    sync(ctx);");
        }
        in = out;
    }
    if (net->head.present)
        forward_head(e, &in);
    sb_line(sb, "return 0;");
    sb_close(sb, 1);
}
