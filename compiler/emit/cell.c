/* cell.c — each cell's step, forward and backward side by side: the gate equations of
 * every variant (em_gates_unit), the step over one sequence (em_cell), and its derivative
 * (em_back) with the parameter and input gradients of one step (back_params).
 */
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

/* Names for the parts of a layer's packed weights, relative to its base `w`. */
void em_pointers(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    if (L->pk_b >= 0)
        sb_line(sb, "const real *b = w;");
    if (L->pk_bhn >= 0)
        sb_line(sb, "const real *bhn = w + %ld;", L->pk_bhn - L->pk);
    sb_line(sb, "const real *wx = w + %ld; /* W_ih^T (%d, %d) */", L->pk_wx - L->pk, L->I,
            L->G * L->H);
    sb_line(sb, "const real *wh = w + %ld; /* W_hh^T (%d, %d) */", L->pk_wh - L->pk, L->Hr,
            L->G * L->H);
    if (L->pk_wr >= 0)
        sb_line(sb, "const real *wr = w + %ld; /* W_hr^T (%d, %d) */", L->pk_wr - L->pk, L->H,
                L->P);
}

/* Runs `fn(e, L, j)` for every unit: a loop, or one copy per unit when unrolled. */
void em_units(Emitter *e, const PlanLayer *L, long n,
              void (*fn)(Emitter *, const PlanLayer *, long))
{
    if (L->unrolled) {
        for (long j = 0; j < n; j++)
            fn(e, L, j);
        return;
    }
    sb_line(e->sb, "for (int j = 0; j < %ld; j++) {", n);
    e->sb->indent += 4;
    fn(e, L, -1);
    sb_close(e->sb, 1);
}

int em_cell_vec(const PlanLayer *L)
{
    const Block *b = L->block;
    return !L->unrolled && L->H % 16 == 0 && (b->cell != CELL_RNN || b->nonlin != NONLIN_RELU);
}

/* One time step of one sample: reads x (I) and h (Hr) [and c (H)], writes h [and c]. */
void em_cell(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const Block *blk = L->block;
    long G = L->G, H = L->H, GH = G * H, I = L->I, Hr = L->Hr;
    int lstm = blk->cell == CELL_LSTM;
    const char *b = L->pk_b >= 0 ? "b" : NULL;
    char proj[32] = "";
    if (L->P)
        snprintf(proj, sizeof proj, " P=%d", L->P);
    sb_line(sb, "/* %s layer %d, one step of one sequence: I=%ld H=%ld%s.", blk->name, L->layer, I,
            H, proj);
    sb_line(sb, " * %s.", cell_desc(blk)->title);
    sb_line(sb, " * Gates (G*H = %ld) in PyTorch's order: %s; %s kernel. */", GH,
            blk->cell == CELL_LSTM  ? "i, f, g, o"
            : blk->cell == CELL_GRU ? "r, z, n"
                                    : "h",
            L->unrolled ? "unrolled" : "loop");
    if (e->cache)
        sb_line(sb, "static void %s_cellc(const real *w, const real *x, real *h%s, real *a%s)",
                L->fn, lstm ? ", real *c" : "",
                L->pk_bhn >= 0 || (blk->cell == CELL_GRU && blk->reset == RESET_AFTER)
                    ? ", real *ex"
                    : "");
    else
        sb_line(sb, "%sstatic void %s_cell(const real *w, const real *x, real *h%s)", e->fn, L->fn,
                lstm ? ", real *c" : "");
    sb_line(sb, "{");
    sb->indent += 4;
    em_pointers(e, L);
    sb_line(sb, "real g[%ld];", GH);
    Term tx = {"wx", "x", I, GH, 0}, th = {"wh", "h", Hr, GH, 0};
    if (blk->cell != CELL_GRU) {
        Term ts[2] = {tx, th};
        em_product(e, L->unrolled, "g", 0, GH, b, 0, ts, 2);
    } else {
        /* r and z: both products at once */
        Term rz[2] = {tx, th};
        Term nx = {"wx", "x", I, GH, 2 * H};
        if (blk->reset == RESET_AFTER) {
            sb_line(sb, "real gh[%ld]; /* W_hn h + b_hn, kept apart for r * (...) */", H);
            em_product(e, L->unrolled, "g", 0, 2 * H, b, 0, rz, 2);
            em_product(e, L->unrolled, "g", 2 * H, H, b, 2 * H, &nx, 1);
            Term nh = {"wh", "h", Hr, GH, 2 * H};
            em_product(e, L->unrolled, "gh", 0, H, L->pk_bhn >= 0 ? "bhn" : NULL, 0, &nh, 1);
        } else {
            sb_line(sb, "real rh[%ld]; /* r * h, before the recurrent product */", H);
            em_product(e, L->unrolled, "g", 0, 2 * H, b, 0, rz, 2);
            em_units(e, L, H, em_reset_unit);
            Term n[2] = {nx, {"wh", "rh", Hr, GH, 2 * H}};
            em_product(e, L->unrolled, "g", 2 * H, H, b, 2 * H, n, 2);
        }
    }
    if (L->P)
        sb_line(sb, "real m[%ld]; /* o * tanh(c), before the projection */", H);
    int vec = e->vec && !e->cache && em_cell_vec(L);
    if (vec) { /* H / 16 vectors; then #else, the scalar gates, #endif */
        VecSite vs = {0, 0, H / 16, H, L->P ? "m" : "h"};
        em_vec_gates(e, L, &vs);
    }
    em_units(e, L, H, em_gates_unit);
    if (vec)
        em_pp_line(sb, "#endif");
    if (L->P) {
        Term tr = {"wr", "m", H, L->P, 0};
        em_product(e, L->unrolled, "h", 0, L->P, NULL, 0, &tr, 1);
    }
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* "act_<fn>(g[<base + j>])", or "g[<base + j>]" where the activations were applied
 * already (acts_done). */
static const char *act(Emitter *e, const char *fn, long base, long j)
{
    char ix[32], *s; /* an index: "%ld + jc + j" at most */
    snprintf(ix, sizeof ix, "%s", em_ix(e, base, j));
    s = e->ring[e->ring_at++ % 16];
    if (e->acts_done)
        snprintf(s, 48, "g[%s]", ix);
    else
        snprintf(s, 48, "act_%s(g[%s])", fn, ix);
    return s;
}

void em_reset_unit(Emitter *e, const PlanLayer *L, long j)
{
    if (e->cache)
        sb_line(e->sb, "a[%s] = %s, rh[%s] = a[%s] * h[%s];", em_ix(e, 0, j),
                act(e, "sigmoid", 0, j), em_ix(e, 0, j), em_ix(e, 0, j), em_ix(e, 0, j));
    else
        sb_line(e->sb, "rh[%s] = %s * h[%s];", em_ix(e, 0, j), act(e, "sigmoid", 0, j),
                em_ix(e, 0, j));
    (void)L;
}

/* Parameter gradients and input gradients of one step, after dz (G*H) is known:
 * db += dz; dWx^T += x dz^T; dWh^T += hp dz^T (GRU: the n columns take dgh or rh);
 * dx += Wx dz (when dx); dhp = hd + Wh dz. */
static void back_params(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H, I = L->I, Hr = L->Hr;
    int gru = L->block->cell == CELL_GRU, after = cell_desc(L->block)->has_gh;
    long hcols = gru ? 2 * H : GH; /* columns of Wh that multiply h itself */
    if (L->pk_b >= 0) {
        sb_line(sb, "for (int j = 0; j < %ld; j++)", GH);
        sb_line(sb, "    db[j] += dz[j];");
    }
    if (L->pk_bhn >= 0) {
        sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "    dbhn[j] += dgh[j];");
    }
    sb_line(sb, "for (int k = 0; k < %ld; k++) {", I);
    sb_line(sb, "    const real xk = x[k];");
    sb_line(sb, "    real *r = dwx + k * %ld;", GH);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", GH);
    sb_line(sb, "        r[j] += dz[j] * xk;");
    sb_line(sb, "}");
    sb_line(sb, "for (int k = 0; k < %ld; k++) {", Hr);
    sb_line(sb, "    const real hk = hp[k];");
    sb_line(sb, "    real *r = dwh + k * %ld;", GH);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", hcols);
    sb_line(sb, "        r[j] += dz[j] * hk;");
    if (after) {
        sb_line(sb, "    for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "        r[%ld + j] += dgh[j] * hk;", 2 * H);
    } else if (gru) {
        sb_line(sb, "    const real rhk = a[k] * hk; /* r * h, as the forward used it */");
        sb_line(sb, "    for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "        r[%ld + j] += dz[%ld + j] * rhk;", 2 * H, 2 * H);
    }
    sb_line(sb, "}");
    /* input and state gradients from W in PyTorch's (G*H, K) layout (wbx, wbh): axpy over
     * k, which vectorises, in the same order of additions as the dot products they replace */
    sb_line(sb, "if (dx)");
    sb_line(sb, "    for (int j = 0; j < %ld; j++) {", GH);
    sb_line(sb, "        const real d = dz[j], *r = wbx + j * %ld;", I);
    sb_line(sb, "        for (int k = 0; k < %ld; k++)", I);
    sb_line(sb, "            dx[k] += r[k] * d;");
    sb_line(sb, "    }");
    sb_line(sb, "for (int k = 0; k < %ld; k++)", Hr);
    sb_line(sb, "    dhp[k] = %s;", gru ? "hd[k]" : e->zero);
    sb_line(sb, "for (int j = 0; j < %ld; j++) {", hcols);
    sb_line(sb, "    const real d = dz[j], *r = wbh + j * %ld;", Hr);
    sb_line(sb, "    for (int k = 0; k < %ld; k++)", Hr);
    sb_line(sb, "        dhp[k] += r[k] * d;");
    sb_line(sb, "}");
    if (after) {
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
        sb_line(sb, "    const real d = dgh[j], *r = wbh + (%ld + j) * %ld;", 2 * H, Hr);
        sb_line(sb, "    for (int k = 0; k < %ld; k++)", Hr);
        sb_line(sb, "        dhp[k] += r[k] * d;");
        sb_line(sb, "}");
    }
}

/* ---- each cell's gates (forward) beside their derivatives (backward) ------------------ */

/* RNN: h = act(g); a keeps h. */
static void gates_rnn(Emitter *e, const PlanLayer *L, long j)
{
    Sb *sb = e->sb;
    if (L->block->nonlin == NONLIN_RELU)
        sb_line(sb, "h[%s] = act_relu(g[%s]);", em_ix(e, 0, j), em_ix(e, 0, j));
    else
        sb_line(sb, "h[%s] = %s;", em_ix(e, 0, j), act(e, "tanh", 0, j));
    if (e->cache)
        sb_line(sb, "a[%s] = h[%s];", em_ix(e, 0, j), em_ix(e, 0, j));
}

/* dz = dh * act'(g), from the kept output a = h. */
static void back_rnn(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    sb_line(sb, "for (int j = 0; j < %d; j++)", L->H);
    if (L->block->nonlin == NONLIN_RELU)
        sb_line(sb, "    dz[j] = a[j] > %s ? dh[j] : %s;", e->zero, e->zero);
    else
        sb_line(sb, "    dz[j] = dh[j] * (%s - a[j] * a[j]);", e->one);
}

/* LSTM: i, f, g, o; c = f c + i g; h (or m, before the projection) = o tanh(c). */
static void gates_lstm(Emitter *e, const PlanLayer *L, long j)
{
    Sb *sb = e->sb;
    long H = L->H;
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "const real i = act_sigmoid(g[%s]);", em_ix(e, 0, j));
    sb_line(sb, "const real f = act_sigmoid(g[%s]);", em_ix(e, H, j));
    sb_line(sb, "const real gg = act_tanh(g[%s]);", em_ix(e, 2 * H, j));
    sb_line(sb, "const real o = act_sigmoid(g[%s]);", em_ix(e, 3 * H, j));
    if (e->cache)
        sb_line(sb, "a[%s] = i, a[%s] = f, a[%s] = gg, a[%s] = o;", em_ix(e, 0, j), em_ix(e, H, j),
                em_ix(e, 2 * H, j), em_ix(e, 3 * H, j));
    sb_line(sb, "c[%s] = f * c[%s] + i * gg;", em_ix(e, 0, j), em_ix(e, 0, j));
    sb_line(sb, "%s[%s] = o * act_tanh(c[%s]);", L->P ? "m" : "h", em_ix(e, 0, j), em_ix(e, 0, j));
    sb_close(sb, 1);
}

/* The projection's backward (dm = W_hr^T dh; dW_hr += dh m^T), then the gates' from the
 * kept activations and c: dz for i, f, g, o and dc carried to the step before. */
static void back_lstm(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H;
    const char *tc = "act_tanh(ct[j])";
    if (e->vacts && L->P) {
        sb_line(sb, "real tcb[%ld]; /* tanh(c_t) */", H);
        sb_line(sb, "rnnc_tanh_v_%s(tcb, ct, %ld);", e->p->net->dbl ? "f64" : "f32", H);
        tc = "tcb[j]";
    }
    if (L->P) {
        sb_line(sb, "const real *wbr = wb + %ld; /* W_hr (P, H) */",
                (long)L->G * L->H * (L->I + L->Hr));
        sb_line(sb, "real *dwr = dw + %ld;", L->pk_wr - L->pk);
        sb_line(sb, "real dm[%ld]; /* through the projection h = W_hr m */", H);
        sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "    dm[j] = %s;", e->zero);
        sb_line(sb, "for (int q = 0; q < %d; q++) {", L->P);
        sb_line(sb, "    const real d = dh[q], *r = wbr + q * %ld;", H);
        sb_line(sb, "    for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "        dm[j] += r[j] * d;");
        sb_line(sb, "}");
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
        sb_line(sb, "    const real mj = a[%ld + j] * %s;", 3 * H, tc);
        sb_line(sb, "    real *dr = dwr + j * %d;", L->P);
        sb_line(sb, "    for (int q = 0; q < %d; q++)", L->P);
        sb_line(sb, "        dr[q] += dh[q] * mj;");
        sb_line(sb, "}");
    }
    if (e->vacts) { /* the loop below, compiled ahead of time (jit_kern.c) */
        sb_line(sb, "rnnc_lstm_bdz_%s(a, ct, cp, %s, dc, dz, %ld);",
                e->p->net->dbl ? "f64" : "f32", L->P ? "dm" : "dh", H);
        return;
    }
    sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
    sb->indent += 4;
    sb_line(sb, "const real i = a[j], f = a[%ld + j], g = a[%ld + j], o = a[%ld + j];", H, 2 * H,
            3 * H);
    sb_line(sb, "const real tc = %s, dm_j = %s;", tc, L->P ? "dm[j]" : "dh[j]");
    sb_line(sb, "const real dcj = dc[j] + dm_j * o * (%s - tc * tc);", e->one);
    sb_line(sb, "dz[j] = dcj * g * i * (%s - i);", e->one);
    sb_line(sb, "dz[%ld + j] = dcj * cp[j] * f * (%s - f);", H, e->one);
    sb_line(sb, "dz[%ld + j] = dcj * i * (%s - g * g);", 2 * H, e->one);
    sb_line(sb, "dz[%ld + j] = dm_j * tc * o * (%s - o);", 3 * H, e->one);
    sb_line(sb, "dc[j] = dcj * f;");
    sb_close(sb, 1);
}

/* GRU: r, z, n (reset after: n = tanh(g_n + r (W_hn h + b_hn)); before: the product took
 * r * h already); h = (1 - z) n + z h. */
static void gates_gru(Emitter *e, const PlanLayer *L, long j)
{
    Sb *sb = e->sb;
    long H = L->H;
    sb_line(sb, "{");
    sb->indent += 4;
    if (L->block->reset == RESET_AFTER) {
        sb_line(sb, "const real r = act_sigmoid(g[%s]);", em_ix(e, 0, j));
        sb_line(sb, "const real z = act_sigmoid(g[%s]);", em_ix(e, H, j));
        sb_line(sb, "const real n = act_tanh(g[%s] + r * gh[%s]);", em_ix(e, 2 * H, j),
                em_ix(e, 0, j));
        if (e->cache)
            sb_line(sb, "a[%s] = r, a[%s] = z, a[%s] = n, ex[%s] = gh[%s];", em_ix(e, 0, j),
                    em_ix(e, H, j), em_ix(e, 2 * H, j), em_ix(e, 0, j), em_ix(e, 0, j));
    } else {
        sb_line(sb, "const real z = act_sigmoid(g[%s]);", em_ix(e, H, j));
        sb_line(sb, "const real n = act_tanh(g[%s]);", em_ix(e, 2 * H, j));
        if (e->cache)
            sb_line(sb, "a[%s] = z, a[%s] = n;", em_ix(e, H, j), em_ix(e, 2 * H, j));
    }
    sb_line(sb, "h[%s] = (%s - z) * n + z * h[%s];", em_ix(e, 0, j), e->one, em_ix(e, 0, j));
    sb_close(sb, 1);
}

/* dz for r, z, n and the direct path hd = dh z; reset after: dgh for W_hn h + b_hn; reset
 * before: back through r * h (W_hn^T dz_n) into dz_r and hd. */
static void back_gru(Emitter *e, const PlanLayer *L, int split)
{
    Sb *sb = e->sb;
    long H = L->H, Hr = L->Hr;
    int after = cell_desc(L->block)->has_gh;
    if (!split) {
        sb_line(sb, "real hd[%ld]; /* the direct path h' = ... + z * h */", H);
        if (after)
            sb_line(sb, "real dgh[%ld]; /* dL/d(W_hn h + b_hn) */", H);
    }
    if (e->vacts) { /* the loop below, compiled ahead of time (jit_kern.c) */
        sb_line(sb, "rnnc_gru_bdz_%s(a, hp, dh, %s, dz, %s, hd, %ld);",
                e->p->net->dbl ? "f64" : "f32", after ? "ex" : "0", after ? "dgh" : "0", H);
    } else {
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
        sb->indent += 4;
        sb_line(sb, "const real z = a[%ld + j], n = a[%ld + j];", H, 2 * H);
        sb_line(sb, "const real dzn = dh[j] * (%s - z) * (%s - n * n);", e->one, e->one);
        sb_line(sb, "dz[%ld + j] = dzn;", 2 * H);
        sb_line(sb, "dz[%ld + j] = dh[j] * (hp[j] - n) * z * (%s - z);", H, e->one);
        sb_line(sb, "hd[j] = dh[j] * z;");
        if (after) {
            sb_line(sb, "const real r = a[j];");
            sb_line(sb, "dgh[j] = dzn * r;");
            sb_line(sb, "dz[j] = dzn * ex[j] * r * (%s - r);", e->one);
        }
        sb_close(sb, 1);
    }
    if (after)
        return;
    sb_line(sb, "real drh[%ld]; /* through r * h: W_hn^T dz_n */", H);
    if (e->tcc_calls) { /* the loops below as one product (each element's sum in order) */
        sb_line(sb, "rnnc_product_%s(drh, 0, wbh + %ld, %ld, dz + %ld, %ld, %ld);",
                e->p->net->dbl ? "f64" : "f32", 2 * H * Hr, Hr, 2 * H, H, H);
    } else {
        sb_line(sb, "for (int k = 0; k < %ld; k++)", H);
        sb_line(sb, "    drh[k] = %s;", e->zero);
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
        sb_line(sb, "    const real d = dz[%ld + j], *r = wbh + (%ld + j) * %ld;", 2 * H, 2 * H,
                Hr);
        sb_line(sb, "    for (int k = 0; k < %ld; k++)", H);
        sb_line(sb, "        drh[k] = MADD(drh[k], r[k], d);");
        sb_line(sb, "}");
    }
    sb_line(sb, "for (int k = 0; k < %ld; k++) {", H);
    sb_line(sb, "    const real rk = a[k];");
    sb_line(sb, "    dz[k] = drh[k] * hp[k] * rk * (%s - rk);", e->one);
    sb_line(sb, "    hd[k] += drh[k] * rk;");
    sb_line(sb, "}");
}

void em_gates_unit(Emitter *e, const PlanLayer *L, long j)
{
    switch (L->block->cell) {
    case CELL_RNN:
        gates_rnn(e, L, j);
        break;
    case CELL_LSTM:
        gates_lstm(e, L, j);
        break;
    case CELL_GRU:
        gates_gru(e, L, j);
        break;
    }
}

/* With e->vacts, the gates of sequence s of a batched step (g: its gb[s], the
 * pre-activations): the activations of whole gates in place, then the rest of the gates in
 * one call compiled ahead of time (jit_kern.c; a relu RNN's gates stay here, and a tanh
 * RNN's read g through em_gates_unit with acts_done). r of a GRU resetting before was done
 * before its product (em_acts_reset). Names: em_gates_unit's. */
void em_gates_vec(Emitter *e, const PlanLayer *L, const char *g)
{
    Sb *sb = e->sb;
    const char *x = e->p->net->dbl ? "f64" : "f32";
    long H = L->H;
    switch (L->block->cell) {
    case CELL_RNN:
        if (L->block->nonlin != NONLIN_RELU)
            sb_line(sb, "rnnc_tanh_v_%s(%s, %s, %ld);", x, g, g, H);
        e->acts_done = L->block->nonlin != NONLIN_RELU;
        em_units(e, L, H, em_gates_unit);
        e->acts_done = 0;
        break;
    case CELL_LSTM:
        sb_line(sb, "rnnc_sigmoid_v_%s(%s, %s, %ld);", x, g, g, 2 * H);
        sb_line(sb, "rnnc_tanh_v_%s(%s + %ld, %s + %ld, %ld);", x, g, 2 * H, g, 2 * H, H);
        sb_line(sb, "rnnc_sigmoid_v_%s(%s + %ld, %s + %ld, %ld);", x, g, 3 * H, g, 3 * H, H);
        sb_line(sb, "rnnc_lstm_fwd_%s(%s, c, %s, %s, %ld);", x, g, e->cache ? "a" : "0",
                L->P ? "m" : "h", H);
        break;
    case CELL_GRU:
        if (L->block->reset == RESET_AFTER) {
            sb_line(sb, "rnnc_sigmoid_v_%s(%s, %s, %ld);", x, g, g, 2 * H);
            sb_line(sb, "rnnc_gru_fwd_%s(%s, gh, h, %s, %s, %ld);", x, g, e->cache ? "a" : "0",
                    e->cache ? "ex" : "0", H);
        } else {
            sb_line(sb, "rnnc_sigmoid_v_%s(%s + %ld, %s + %ld, %ld);", x, g, H, g, H, H);
            sb_line(sb, "rnnc_tanh_v_%s(%s + %ld, %s + %ld, %ld);", x, g, 2 * H, g, 2 * H, H);
            sb_line(sb, "rnnc_gru_b_fwd_%s(%s, h, %s, %ld);", x, g, e->cache ? "a" : "0", H);
        }
        break;
    }
}

/* r of a GRU resetting before, in place in g before r * h (e->vacts). */
void em_acts_reset(Emitter *e, const PlanLayer *L, const char *g)
{
    sb_line(e->sb, "rnnc_sigmoid_v_%s(%s, %s, %d);", e->p->net->dbl ? "f64" : "f32", g, g, L->H);
}

/* The signature of a step's backward and the names its body uses: <fn>_back (one sequence,
 * with the parameter and input gradients) or <fn>_bdz (split: dz only, for the batched
 * kernels). */
static void back_open(Emitter *e, const PlanLayer *L, int split)
{
    Sb *sb = e->sb;
    const Block *blk = L->block;
    const CellDesc *cd = cell_desc(blk);
    long GH = (long)L->G * L->H;
    int lstm = cd->has_c, after = cd->has_gh, gru = blk->cell == CELL_GRU;
    const char *state = lstm ? "const real *ct, " : after ? "const real *ex, " : "";
    if (split) {
        sb_line(sb, "/* %s layer %d, backward of one step to dz, the gradient of the", blk->name,
                L->layer);
        sb_line(sb, " * pre-activations%s: %s. */", gru ? " (and of the direct path, hd)" : "",
                cd->title);
        sb_line(sb, "static void %s_bdz(const real *wb, const real *hp,%s const real *a,", L->fn,
                lstm ? " const real *cp," : "");
        sb_line(sb, "    %sconst real *dh,%s real *dw, real *restrict dz%s%s)", state,
                lstm ? " real *restrict dc," : "", after ? ", real *restrict dgh" : "",
                gru ? ", real *restrict hd" : "");
    } else {
        sb_line(sb, "/* %s layer %d, backward of one step: %s. */", blk->name, L->layer,
                cd->title);
        sb_line(sb,
                "static void %s_back(const real *wb, const real *x, const real *hp,%s const real "
                "*a,",
                L->fn, lstm ? " const real *cp," : "");
        sb_line(sb, "    %sconst real *dh,%s real *dw, real *dx, real *dhp)", state,
                lstm ? " real *dc," : "");
    }
    sb_line(sb, "{");
    sb->indent += 4;
    if (split) {
        if (gru && !after)
            sb_line(sb, "const real *wbh = wb + %ld; /* W_hh: (G*H, Hr) */", GH * L->I);
        if (!L->P && !(gru && !after))
            sb_line(sb, "(void)wb;");
        if (!L->P)
            sb_line(sb, "(void)dw;");
        if (!gru)
            sb_line(sb, "(void)hp;");
        return;
    }
    sb_line(sb, "const real *wbx = wb, *wbh = wb + %ld; /* W_ih, W_hh: (G*H, I), (G*H, Hr) */",
            GH * L->I);
    if (L->pk_b >= 0)
        sb_line(sb, "real *db = dw;");
    if (L->pk_bhn >= 0)
        sb_line(sb, "real *dbhn = dw + %ld;", L->pk_bhn - L->pk);
    sb_line(sb, "real *dwx = dw + %ld, *dwh = dw + %ld;", L->pk_wx - L->pk, L->pk_wh - L->pk);
    sb_line(sb, "real dz[%ld]; /* dL/d(pre-activation), gates in PyTorch's order */", GH);
}

void em_back(Emitter *e, const PlanLayer *L, int split)
{
    back_open(e, L, split);
    switch (L->block->cell) {
    case CELL_RNN:
        back_rnn(e, L);
        break;
    case CELL_LSTM:
        back_lstm(e, L);
        break;
    case CELL_GRU:
        back_gru(e, L, split);
        break;
    }
    if (!split)
        back_params(e, L);
    sb_close(e->sb, 1);
    sb_line(e->sb, "%s", "");
}
