/* qcell.c — each cell's step and the head in quantised deployed code: int8-weights (int8
 * rows times real activations, a scale per row, then the float gate equations of
 * emit/cell.c) and the integer modes (quant.h's formats, templates/quant.c's helpers).
 * Every product is a row of PyTorch's own layout (G*H, K) against a vector: one accumulator
 * per row, which suits a microcontroller's multiply-accumulate.
 */
#include <stdio.h>

#include "emit_int.h"
#include "qemit.h"

/* The accumulator of gate row j's input product, with the bias folded in (integer). */
static const char *bias_x(const PlanLayer *L)
{
    return L->block->bias ? "w->bx[j]" : "0";
}

/* g[j] = both products of rows lo..hi (Q3.12, saturated), the recurrent one over v. */
static void qgates(Emitter *e, const PlanLayer *L, long lo, long hi, const char *v)
{
    Sb *sb = e->sb;
    sb_line(sb, "for (int j = %ld; j < %ld; j++)", lo, hi);
    sb_line(sb,
            "    g[j] = q_sat16(q_scale(q_dot(%s, w->wx + j * %d, x, %d), w->mx[j], w->ex[j]) +",
            bias_x(L), L->I, L->I);
    sb_line(sb,
            "                   q_scale(q_dot(0, w->wh + j * %d, %s, %d), w->mh[j], w->eh[j]));",
            L->Hr, v, L->Hr);
}

static void qcell_rnn(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H;
    if (L->block->nonlin == NONLIN_RELU) {
        sb_line(sb, "int g[%ld]; /* h before the clamp, at h's scale */", H);
        sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "    g[j] = q_scale(q_dot(%s, w->wx + j * %d, x, %d), w->mx[j], w->ex[j]) +",
                bias_x(L), L->I, L->I);
        sb_line(sb, "           q_scale(q_dot(0, w->wh + j * %d, h, %d), w->mh[j], w->eh[j]);",
                L->Hr, L->Hr);
        sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "    h[j] = q_act(g[j] < 0 ? 0 : g[j]);");
        return;
    }
    sb_line(sb, "short g[%ld]; /* pre-activations, Q3.12 */", H);
    qgates(e, L, 0, H, "h");
    sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
    sb_line(sb, "    h[j] = q_from15(q_tanh(g[j]));");
}

static void qcell_gru(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H;
    sb_line(sb, "short g[%ld]; /* pre-activations of r, z, n, Q3.12 */", 3 * H);
    if (L->block->reset == RESET_AFTER) {
        sb_line(sb, "short gh[%ld]; /* W_hn h + b_hn, Q3.12, kept apart for r * (...) */", H);
        qgates(e, L, 0, 2 * H, "h");
        sb_line(sb, "for (int j = %ld; j < %ld; j++) {", 2 * H, 3 * H);
        sb_line(sb,
                "    g[j] = q_sat16(q_scale(q_dot(%s, w->wx + j * %d, x, %d), w->mx[j], "
                "w->ex[j]));",
                bias_x(L), L->I, L->I);
        char bh[48];
        snprintf(bh, sizeof bh, "w->bh[j - %ld]", 2 * H);
        sb_line(sb, "    gh[j - %ld] = q_sat16(", 2 * H);
        sb_line(sb, "        q_scale(q_dot(%s, w->wh + j * %d, h, %d), w->mh[j], w->eh[j]));",
                L->block->bias ? bh : "0", L->Hr, L->Hr);
        sb_line(sb, "}");
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
        sb_line(sb, "    const int r = q_sigmoid(g[j]), z = q_sigmoid(g[%ld + j]);", H);
        sb_line(sb, "    const int n = q_tanh(q_sat16(g[%ld + j] + q_rshift(r * gh[j], 15)));",
                2 * H);
        sb_line(sb, "    h[j] = q_gru_update(n, z, h[j]);");
        sb_line(sb, "}");
        return;
    }
    sb_line(sb, "act rh[%ld]; /* r * h, before the recurrent product of n */", H);
    qgates(e, L, 0, 2 * H, "h");
    sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
    sb_line(sb, "    rh[j] = q_act(q_rshift(q_sigmoid(g[j]) * h[j], 15));");
    qgates(e, L, 2 * H, 3 * H, "rh");
    sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
    sb_line(sb, "    h[j] = q_gru_update(q_tanh(g[%ld + j]), q_sigmoid(g[%ld + j]), h[j]);", 2 * H,
            H);
}

static void qcell_lstm(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H;
    sb_line(sb, "short g[%ld]; /* pre-activations of i, f, g, o, Q3.12 */", 4 * H);
    if (L->P)
        sb_line(sb, "act m[%ld]; /* o * tanh(c), before the projection */", H);
    qgates(e, L, 0, 4 * H, "h");
    sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
    sb_line(sb, "    const int i = q_sigmoid(g[j]), f = q_sigmoid(g[%ld + j]);", H);
    sb_line(sb, "    const int gg = q_tanh(g[%ld + j]), o = q_sigmoid(g[%ld + j]);", 2 * H, 3 * H);
    sb_line(sb, "    c[j] = q_sat16(q_rshift(f * c[j], 15) + q_rshift(i * gg, 30 - w->cf));");
    sb_line(sb, "    %s[j] = q_from15(q_rshift(o * q_tanh(q_c_to_gate(c[j], w->cf)), 15));",
            L->P ? "m" : "h");
    sb_line(sb, "}");
    if (L->P) {
        sb_line(sb, "for (int j = 0; j < %d; j++)", L->P);
        sb_line(sb,
                "    h[j] = q_act(q_scale(q_dot(0, w->wr + j * %ld, m, %ld), w->mr[j], "
                "w->er[j]));",
                H, H);
    }
}

/* int8-weights: g[j] = b[j] + sx[j] (wx_j . x) [+ sh[j] (wh_j . v)] for rows lo..hi. */
static void wgates(Emitter *e, const PlanLayer *L, long lo, long hi, const char *v)
{
    Sb *sb = e->sb;
    sb_line(sb, "for (int j = %ld; j < %ld; j++)", lo, hi);
    sb_line(sb, "    g[j] = %s + w->sx[j] * w8_dot(w->wx + j * %d, x, %d)%s",
            L->block->bias ? "w->b[j]" : e->zero, L->I, L->I, v ? " +" : ";");
    if (v)
        sb_line(sb, "           w->sh[j] * w8_dot(w->wh + j * %d, %s, %d);", L->Hr, v, L->Hr);
}

/* int8-weights: the products with int8 rows and their scales, then emit/cell.c's gates. */
static void wcell(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const Block *blk = L->block;
    long H = L->H, GH = (long)L->G * H;
    sb_line(sb, "real g[%ld];", GH);
    if (blk->cell != CELL_GRU) {
        wgates(e, L, 0, GH, "h");
    } else if (blk->reset == RESET_AFTER) {
        sb_line(sb, "real gh[%ld]; /* W_hn h + b_hn, kept apart for r * (...) */", H);
        wgates(e, L, 0, 2 * H, "h");
        wgates(e, L, 2 * H, GH, NULL);
        sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "    gh[j] = %s + w->sh[%ld + j] * w8_dot(w->wh + (%ld + j) * %d, h, %d);",
                blk->bias ? "w->bhn[j]" : e->zero, 2 * H, 2 * H, L->Hr, L->Hr);
    } else {
        sb_line(sb, "real rh[%ld]; /* r * h, before the recurrent product */", H);
        wgates(e, L, 0, 2 * H, "h");
        em_units(e, L, H, em_reset_unit);
        wgates(e, L, 2 * H, GH, "rh");
    }
    if (L->P)
        sb_line(sb, "real m[%ld]; /* o * tanh(c), before the projection */", H);
    em_units(e, L, H, em_gates_unit);
    if (L->P) {
        sb_line(sb, "for (int j = 0; j < %d; j++)", L->P);
        sb_line(sb, "    h[j] = w->sr[j] * w8_dot(w->wr + j * %ld, m, %ld);", H, H);
    }
}

void qem_cell(Emitter *e, const QPlan *q, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const Block *blk = L->block;
    int lstm = blk->cell == CELL_LSTM;
    char proj[32] = "";
    if (L->P)
        snprintf(proj, sizeof proj, " P=%d", L->P);
    sb_line(sb, "/* %s layer %d, one step of one sequence: I=%d H=%d%s.", blk->name, L->layer,
            L->I, L->H, proj);
    sb_line(sb, " * %s;", cell_desc(blk)->title);
    sb_line(sb, " * %s. */",
            q->integer ? "integer, in quant.h's formats"
                       : "int8 weights with a scale per row, real activations");
    sb_line(sb, "%sstatic void %s_cell(const qlayer *w, const %s *x, %s *h%s)", e->fn, L->fn,
            q->integer ? "act" : "real", q->integer ? "act" : "real",
            !lstm        ? ""
            : q->integer ? ", short *c"
                         : ", real *c");
    sb_line(sb, "{");
    sb->indent += 4;
    if (!q->integer)
        wcell(e, L);
    else if (blk->cell == CELL_RNN)
        qcell_rnn(e, L);
    else if (blk->cell == CELL_GRU)
        qcell_gru(e, L);
    else
        qcell_lstm(e, L);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

void qem_head(Emitter *e, const QPlan *q)
{
    Sb *sb = e->sb;
    const Head *h = &e->p->net->head;
    long F = h->in_features, O = h->out_features;
    sb_line(sb, "/* Head '%s': Linear(%ld, %ld), activation %s; one input vector. */", h->name, F,
            O, cell_act_name(h->activation));
    sb_line(sb, "%sstatic void head_apply(const %s *x, %s *y)", e->fn, q->integer ? "act" : "real",
            q->integer ? "act" : "real");
    sb_line(sb, "{");
    sb->indent += 4;
    if (!q->integer) {
        sb_line(sb, "for (int o = 0; o < %ld; o++)", O);
        sb_line(sb, "    y[o] = %s + head_s[o] * w8_dot(head_w + o * %ld, x, %ld);",
                h->bias ? "head_b[o]" : e->zero, F, F);
        if (h->activation == ACT_SIGMOID) {
            sb_line(sb, "for (int o = 0; o < %ld; o++)", O);
            sb_line(sb, "    y[o] = act_sigmoid(y[o]);");
        } else if (h->activation == ACT_SOFTMAX) {
            sb_line(sb, "act_softmax(y, %ld);", O);
        }
    } else {
        char acc[64];
        snprintf(acc, sizeof acc, "q_dot(%s, head_w + o * %ld, x, %ld)",
                 h->bias ? "head_bq[o]" : "0", F, F);
        if (h->activation == ACT_SOFTMAX)
            sb_line(sb, "int l[%ld], ex[%ld]; /* logits Q3.12, their exponentials */", O, O);
        sb_line(sb, "for (int o = 0; o < %ld; o++)", O);
        if (h->activation == ACT_NONE)
            sb_line(sb, "    y[o] = q_act(q_scale(%s, head_m[o], head_e[o]));", acc);
        else if (h->activation == ACT_SIGMOID)
            sb_line(sb,
                    "    y[o] = q_from15(q_sigmoid(q_sat16(q_scale(%s, head_m[o], head_e[o]))));",
                    acc);
        else
            sb_line(sb, "    l[o] = q_scale(%s, head_m[o], head_e[o]);", acc);
        if (h->activation == ACT_SOFTMAX)
            sb_line(sb, "q_softmax(l, ex, y, %ld);", O);
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}
