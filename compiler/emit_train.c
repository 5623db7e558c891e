/* emit_train.c — the training half of generated code: forward with an activation cache and
 * backward through time, derived from the same PlanLayer as the forward. Per layer: the
 * cell with a cache (emit.c's em_cell), the cell's backward with its gate derivatives
 * written out for that cell and variant, and both over a packed batch; then the drivers
 * <name>_forward_train, <name>_backward and <name>_unpack_grads. Parameter gradients
 * accumulate in the packed layout (transposed weights, merged biases) beside the weights.
 */
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

static int is_gru_after(const PlanLayer *L)
{
    return L->block->cell == CELL_GRU && L->block->reset == RESET_AFTER;
}

static int is_lstm(const PlanLayer *L)
{
    return L->block->cell == CELL_LSTM;
}

/* Whether the outputs of the layer starting at PlanLayer L pass through dropout before the
 * next layer of its block (PyTorch: every layer but the last, training only). */
static int droppable(const PlanLayer *L)
{
    return L->block->dropout > 0 && !L->last_layer;
}

static int any_droppable(const Plan *p)
{
    for (int i = 0; i < p->nlayers; i++)
        if (droppable(&p->layers[i]))
            return 1;
    return 0;
}

/* The offset (in reals, a C expression) of global layer g's dropout mask in `drop`. */
static const char *mask_off(const Plan *p, int g_target)
{
    static char buf[64];
    long k = 0;
    int g = -1;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir)
            continue;
        g++;
        if (g == g_target)
            break;
        if (droppable(L))
            k += L->block->dirs * L->Hr;
    }
    snprintf(buf, sizeof buf, "(long)B * T * %ld", k);
    return buf;
}

/* Parameter gradients and input gradients of one step, after dz (G*H) is known:
 * db += dz; dWx^T += x dz^T; dWh^T += hp dz^T (GRU: the n columns take dgh or rh);
 * dx += Wx dz (when dx); dhp = hd + Wh dz. */
static void emit_back_params(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H, I = L->I, Hr = L->Hr;
    int gru = L->block->cell == CELL_GRU, after = is_gru_after(L);
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

/* The backward of one step of layer L: from dh (dL/dh_t) [and dc (dL/dc_t)] to the
 * parameter gradients (dw, packed layout), dx (when not NULL) and dhp (dL/dh_{t-1})
 * [and dc becomes dL/dc_{t-1}]. */
static void emit_back(Emitter *e, const PlanLayer *L, int split)
{
    Sb *sb = e->sb;
    const Block *blk = L->block;
    long H = L->H, GH = (long)L->G * H, Hr = L->Hr;
    int lstm = is_lstm(L), after = is_gru_after(L), gru = blk->cell == CELL_GRU;
    if (split) {
        sb_line(sb, "/* %s layer %d, backward of one step to dz, the gradient of the", blk->name,
                L->layer);
        sb_line(sb, " * pre-activations%s: %s. */", gru ? " (and of the direct path, hd)" : "",
                em_cell_title(blk));
        sb_line(sb, "static void %s_bdz(const real *wb, const real *hp,%s const real *a,", L->fn,
                lstm ? " const real *cp," : "");
        sb_line(sb, "    %sconst real *dh,%s real *dw, real *restrict dz%s%s)",
                lstm    ? "const real *ct, "
                : after ? "const real *ex, "
                        : "",
                lstm ? " real *restrict dc," : "", after ? ", real *restrict dgh" : "",
                gru ? ", real *restrict hd" : "");
    } else {
        sb_line(sb, "/* %s layer %d, backward of one step: %s. */", blk->name, L->layer,
                em_cell_title(blk));
        sb_line(sb,
                "static void %s_back(const real *wb, const real *x, const real *hp,%s const real "
                "*a,",
                L->fn, lstm ? " const real *cp," : "");
        sb_line(sb, "    %sconst real *dh,%s real *dw, real *dx, real *dhp)",
                lstm    ? "const real *ct, "
                : after ? "const real *ex, "
                        : "",
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
    } else {
        sb_line(sb,
                "const real *wbx = wb, *wbh = wb + %ld; /* W_ih, W_hh: (G*H, I), (G*H, Hr) */",
                GH * L->I);
        if (L->pk_b >= 0)
            sb_line(sb, "real *db = dw;");
        if (L->pk_bhn >= 0)
            sb_line(sb, "real *dbhn = dw + %ld;", L->pk_bhn - L->pk);
        sb_line(sb, "real *dwx = dw + %ld, *dwh = dw + %ld;", L->pk_wx - L->pk, L->pk_wh - L->pk);
        sb_line(sb, "real dz[%ld]; /* dL/d(pre-activation), gates in PyTorch's order */", GH);
    }
    switch (blk->cell) {
    case CELL_RNN:
        sb_line(sb, "for (int j = 0; j < %ld; j++)", H);
        if (blk->nonlin == NONLIN_RELU)
            sb_line(sb, "    dz[j] = a[j] > %s ? dh[j] : %s;", e->zero, e->zero);
        else
            sb_line(sb, "    dz[j] = dh[j] * (%s - a[j] * a[j]);", e->one);
        break;
    case CELL_LSTM:
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
            sb_line(sb, "    const real mj = a[%ld + j] * act_tanh(ct[j]);", 3 * H);
            sb_line(sb, "    real *dr = dwr + j * %d;", L->P);
            sb_line(sb, "    for (int q = 0; q < %d; q++)", L->P);
            sb_line(sb, "        dr[q] += dh[q] * mj;");
            sb_line(sb, "}");
        }
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
        sb->indent += 4;
        sb_line(sb, "const real i = a[j], f = a[%ld + j], g = a[%ld + j], o = a[%ld + j];", H,
                2 * H, 3 * H);
        sb_line(sb, "const real tc = act_tanh(ct[j]), dm_j = %s;", L->P ? "dm[j]" : "dh[j]");
        sb_line(sb, "const real dcj = dc[j] + dm_j * o * (%s - tc * tc);", e->one);
        sb_line(sb, "dz[j] = dcj * g * i * (%s - i);", e->one);
        sb_line(sb, "dz[%ld + j] = dcj * cp[j] * f * (%s - f);", H, e->one);
        sb_line(sb, "dz[%ld + j] = dcj * i * (%s - g * g);", 2 * H, e->one);
        sb_line(sb, "dz[%ld + j] = dm_j * tc * o * (%s - o);", 3 * H, e->one);
        sb_line(sb, "dc[j] = dcj * f;");
        sb->indent -= 4;
        sb_line(sb, "}");
        break;
    case CELL_GRU:
        if (!split) {
            sb_line(sb, "real hd[%ld]; /* the direct path h' = ... + z * h */", H);
            if (after)
                sb_line(sb, "real dgh[%ld]; /* dL/d(W_hn h + b_hn) */", H);
        }
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
        sb->indent -= 4;
        sb_line(sb, "}");
        if (!after) {
            sb_line(sb, "real drh[%ld]; /* through r * h: W_hn^T dz_n */", H);
            sb_line(sb, "for (int k = 0; k < %ld; k++)", H);
            sb_line(sb, "    drh[k] = %s;", e->zero);
            sb_line(sb, "for (int j = 0; j < %ld; j++) {", H);
            sb_line(sb, "    const real d = dz[%ld + j], *r = wbh + (%ld + j) * %ld;", 2 * H,
                    2 * H, Hr);
            sb_line(sb, "    for (int k = 0; k < %ld; k++)", H);
            sb_line(sb, "        drh[k] += r[k] * d;");
            sb_line(sb, "}");
            sb_line(sb, "for (int k = 0; k < %ld; k++) {", H);
            sb_line(sb, "    const real rk = a[k];");
            sb_line(sb, "    dz[k] = drh[k] * hp[k] * rk * (%s - rk);", e->one);
            sb_line(sb, "    hd[k] += drh[k] * rk;");
            sb_line(sb, "}");
        }
        break;
    }
    if (!split)
        emit_back_params(e, L);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* The layer with a cache over a packed batch: as <fn>_seq, also storing the activations
 * a (B, T, G*H), the cell states cs (B, T, H) of an LSTM, ex (B, T, H) of a GRU (after). */
static void emit_seqc(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H;
    int lstm = is_lstm(L), after = is_gru_after(L);
    sb_line(sb, "static void %s_seqc(const real *w, const real *x, long xsb, long xst, real *y,",
            L->fn);
    sb_line(sb, "    long ysb, long yst, int T, const int *bs, const int *perm, real *h,%s",
            lstm    ? " real *c, real *cs,"
            : after ? " real *ex,"
                    : "");
    sb_line(sb, "    real *a, int reverse)");
    sb_line(sb, "{");
    sb_line(sb, "    for (int s = 0; s < T; s++) {");
    sb_line(sb, "        const int t = reverse ? T - 1 - s : s;");
    sb_line(sb, "        for (int i = 0; i < bs[t]; i++) {");
    sb_line(sb, "            const int b = perm[i];");
    sb_line(sb, "            const long bt = (long)b * T + t;");
    sb_line(sb, "            real *hb = h + (long)b * %d;", L->Hr);
    if (lstm) {
        sb_line(sb, "            real *cb = c + (long)b * %ld;", H);
        sb_line(sb, "            %s_cellc(w, x + b * xsb + t * xst, hb, cb, a + bt * %ld);", L->fn,
                GH);
        sb_line(sb, "            vec_copy(cs + bt * %ld, cb, %ld);", H, H);
    } else if (after) {
        sb_line(sb,
                "            %s_cellc(w, x + b * xsb + t * xst, hb, a + bt * %ld, ex + bt * %ld);",
                L->fn, GH, H);
    } else {
        sb_line(sb, "            %s_cellc(w, x + b * xsb + t * xst, hb, a + bt * %ld);", L->fn,
                GH);
    }
    sb_line(sb, "            vec_copy(y + b * ysb + t * yst, hb, %d);", L->Hr);
    sb_line(sb, "        }");
    sb_line(sb, "    }");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* The signature of <fn>_seqb; the batched one (bz) also takes its scratch. */
static void emit_seqb_head(Emitter *e, const PlanLayer *L, int bz)
{
    Sb *sb = e->sb;
    int lstm = is_lstm(L), after = is_gru_after(L);
    sb_line(sb, "static void %s_seqb(const real *wb, const real *x, long xsb, long xst, real *dx,",
            L->fn);
    sb_line(sb, "    const real *y, const real *dy, long ysb, long yst, int T, const int *bs,");
    sb_line(sb, "    const int *perm, const int *len, const real *a,%s real *dhn,%s real *dw,",
            lstm    ? " const real *cs,"
            : after ? " const real *ex,"
                    : "",
            lstm ? " real *dcn," : "");
    sb_line(sb, "    const real *h0,%s%s int reverse)", lstm ? " const real *c0," : "",
            bz ? " real *bz," : "");
}

/* In <fn>_seqb's loop over the live sequences i of step t: b, bt, the state before the
 * step (hp [cp]) and dh = dL/dh_t (from above, dy, and from the step after, dhn). */
static void emit_seqb_sample(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    sb_line(sb, "const int b = perm[i];");
    sb_line(sb, "const long bt = (long)b * T + t;");
    sb_line(sb, "const int tp = reverse ? t + 1 : t - 1; /* the step before, in forward order */");
    sb_line(sb, "const int first = reverse ? tp >= len[b] : tp < 0;");
    sb_line(sb, "const real *hp = first ? h0 + (long)b * %d : y + b * ysb + tp * yst;", L->Hr);
    if (is_lstm(L))
        sb_line(sb, "const real *cp = first ? c0 + (long)b * %d : cs + ((long)b * T + tp) * %d;",
                L->H, L->H);
    sb_line(sb, "const real *dyt = dy + b * ysb + t * yst, *dhb = dhn + (long)b * %d;", L->Hr);
    sb_line(sb, "for (int j = 0; j < %d; j++)", L->Hr);
    sb_line(sb, "    dh[j] = dyt[j] + dhb[j];");
}

/* Backward through time over a packed batch, one direction: steps in the reverse of their
 * forward order; dhn (B, Hr) [dcn (B, H)] carry dL/dh [dL/dc] from step to step. y holds
 * the layer's outputs (h of every step, read as h_{t-1}); dy their gradients. */
static void emit_seqb(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H;
    int lstm = is_lstm(L), after = is_gru_after(L);
    emit_seqb_head(e, L, 0);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "real dh[%d];", L->Hr);
    sb_line(sb, "for (int s = 0; s < T; s++) {");
    sb->indent += 4;
    sb_line(sb, "const int t = reverse ? s : T - 1 - s;");
    sb_line(sb, "for (int i = 0; i < bs[t]; i++) {");
    sb->indent += 4;
    emit_seqb_sample(e, L);
    if (lstm)
        sb_line(sb, "%s_back(wb, x + b * xsb + t * xst, hp, cp, a + bt * %ld, cs + bt * %ld, dh,",
                L->fn, GH, H);
    else if (after)
        sb_line(sb, "%s_back(wb, x + b * xsb + t * xst, hp, a + bt * %ld, ex + bt * %ld, dh,",
                L->fn, GH, H);
    else
        sb_line(sb, "%s_back(wb, x + b * xsb + t * xst, hp, a + bt * %ld, dh,", L->fn, GH);
    char dcarg[48] = "";
    if (lstm)
        snprintf(dcarg, sizeof dcarg, "dcn + (long)b * %ld, ", H);
    sb_line(sb, "    %sdw, dx ? dx + b * xsb + t * xst : 0, dhn + (long)b * %d);", dcarg, L->Hr);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* The per-sequence scratch of a split layer's backward (reals), in this order: dz (G*H),
 * dgh (H; GRU, reset after), hd (Hr; GRU), rh (H; GRU, reset before), hp (Hr), x (I). */
typedef struct Bz {
    long dz, dgh, hd, rh, hp, x, width;
} Bz;

static Bz bz_layout(const PlanLayer *L)
{
    Bz z;
    int gru = L->block->cell == CELL_GRU, after = is_gru_after(L);
    long at = 0;
    z.dz = at, at += (long)L->G * L->H;
    z.dgh = after ? at : -1, at += after ? L->H : 0;
    z.hd = gru ? at : -1, at += gru ? L->Hr : 0;
    z.rh = gru && !after ? at : -1, at += gru && !after ? L->H : 0;
    z.hp = at, at += L->Hr;
    z.x = at, at += L->I;
    z.width = at;
    return z;
}

/* Reals per sequence of the backward scratch: the widest split layer's. */
static long bz_width(const Emitter *e)
{
    long w = 0;
    for (int i = 0; i < e->p->nlayers; i++) {
        const PlanLayer *L = &e->p->layers[i];
        if (em_split(e, L) && bz_layout(L).width > w)
            w = bz_layout(L).width;
    }
    return w;
}
/* One block of em_outer: rows [k0, k0 + R) (k0 a loop's or constant) by columns of chunk jc
 * (a loop's or constant), width wd, accumulators held across the live sequences. */
static void emit_outer_chunk(Emitter *e, const char *dst, long row, long col0, long R, long wd,
                             long W, long voff, long doff)
{
    Sb *sb = e->sb;
    sb_line(sb, "real acc[%ld][%ld];", R, wd);
    sb_line(sb, "real *d0 = %s + (long)k0 * %ld + %ld + jc;", dst, row, col0);
    sb_line(sb, "for (int r = 0; r < %ld; r++)", R);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", wd);
    sb_line(sb, "        acc[r][j] = d0[r * %ld + j];", row);
    sb_line(sb, "for (int i = 0; i < n; i++) {");
    sb_line(sb, "    const real *z = bz + (long)i * %ld, *d = z + %ld + jc;", W, doff);
    sb_line(sb, "    for (int r = 0; r < %ld; r++) {", R);
    sb_line(sb, "        const real v = z[%ld + k0 + r];", voff);
    sb_line(sb, "        for (int j = 0; j < %ld; j++)", wd);
    sb_line(sb, "            acc[r][j] = MADD(acc[r][j], d[j], v);");
    sb_line(sb, "    }");
    sb_line(sb, "}");
    sb_line(sb, "for (int r = 0; r < %ld; r++)", R);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", wd);
    sb_line(sb, "        d0[r * %ld + j] = acc[r][j];", row);
}

/* dst[k * row + col0 + j] += sum over the n live sequences i, in order, of
 * d_i[j] * v_i[k] for k < K, j < ncols, where sequence i's scratch is bz + i * W, v at voff
 * and d at doff: blocks of 6 rows by 64 columns held in registers across the sequences. */
static void emit_outer(Emitter *e, const char *dst, long row, long col0, long K, long ncols,
                       long W, long voff, long doff)
{
    Sb *sb = e->sb;
    if (e->for_tcc) {
        sb_line(sb, "for (int i = 0; i < n; i++) {");
        sb_line(sb, "    const real *z = bz + (long)i * %ld, *d = z + %ld;", W, doff);
        sb_line(sb, "    for (int k = 0; k < %ld; k++) {", K);
        sb_line(sb, "        const real v = z[%ld + k];", voff);
        sb_line(sb, "        real *r = %s + k * %ld + %ld;", dst, row, col0);
        sb_line(sb, "        for (int j = 0; j < %ld; j++)", ncols);
        sb_line(sb, "            r[j] += d[j] * v;");
        sb_line(sb, "    }");
        sb_line(sb, "}");
        return;
    }
    enum { KB = 6, JB = 64 };
    long kparts[2][2] = {{0, K / KB}, {K / KB * KB, K % KB ? 1 : 0}};
    long jparts[2][2] = {{0, ncols / JB}, {ncols / JB * JB, ncols % JB ? 1 : 0}};
    for (int a = 0; a < 2; a++) {
        long R = a ? K % KB : KB;
        if (!kparts[a][1])
            continue;
        for (int b = 0; b < 2; b++) {
            long wd = b ? ncols % JB : JB;
            if (!jparts[b][1])
                continue;
            if (!a)
                sb_line(sb, "for (int k0 = 0; k0 < %ld; k0 += %d)", K / KB * KB, KB);
            else
                sb_line(sb, "{");
            if (!a)
                sb->indent += 4;
            if (!b)
                sb_line(sb, "for (int jc = 0; jc < %ld; jc += %d) {", ncols / JB * JB, JB);
            else
                sb_line(sb, "{");
            sb->indent += 4;
            if (a)
                sb_line(sb, "const int k0 = %ld;", kparts[a][0]);
            if (b)
                sb_line(sb, "const int jc = %ld;", jparts[b][0]);
            emit_outer_chunk(e, dst, row, col0, R, wd, W, voff, doff);
            sb->indent -= 4;
            sb_line(sb, "}");
            if (!a)
                sb->indent -= 4;
            else
                sb_line(sb, "}");
        }
    }
}

/* A split layer's backward kernels: <fn>_bh<n> (dL/dh_{t-1}), <fn>_bx<n> (dL/dx_t, added)
 * for blocks of n sequences, <fn>_bw (the parameter gradients of every live sequence). */
static void emit_back_kernels(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H, I = L->I, Hr = L->Hr;
    int gru = L->block->cell == CELL_GRU, after = is_gru_after(L);
    long hcols = gru ? 2 * H : GH;
    Bz z = bz_layout(L);
    int nsz[2] = {1, em_block(e)};
    for (int v = 0; v < (nsz[1] > 1 ? 2 : 1); v++) {
        int ns = nsz[v];
        sb_line(sb, "/* %s layer %d: dL/dh_{t-1} = %sW_hh^T dz for %d sequence%s. */",
                L->block->name, L->layer, gru ? "hd + " : "", ns, ns > 1 ? "s" : "");
        sb_line(sb, "static void %s_bh%d(const real *wb, const real *const *dzs,%s%s real *const *dhs)",
                L->fn, ns, after ? " const real *const *dghs," : "",
                gru ? " const real *const *hds," : "");
        sb_line(sb, "{");
        sb->indent += 4;
        sb_line(sb, "const real *wbh = wb + %ld; /* W_hh (G*H, Hr) */", GH * I);
        Term th[2] = {{"wbh", "dzs", hcols, Hr, 0}, {"wbn", "dghs", H, Hr, 0}};
        if (after)
            sb_line(sb, "const real *wbn = wbh + %ld; /* its n rows */", 2 * H * Hr);
        em_product_blk(e, ns, "dhs", 0, Hr, gru ? "hds" : NULL, 1, 0, th, after ? 2 : 1);
        sb->indent -= 4;
        sb_line(sb, "}");
        sb_line(sb, "%s", "");
        sb_line(sb, "/* %s layer %d: dL/dx_t += W_ih^T dz for %d sequence%s. */", L->block->name,
                L->layer, ns, ns > 1 ? "s" : "");
        sb_line(sb, "static void %s_bx%d(const real *wb, const real *const *dzs, real *const *dxs)",
                L->fn, ns);
        sb_line(sb, "{");
        sb->indent += 4;
        Term tx = {"wb", "dzs", GH, I, 0};
        em_product_blk(e, ns, "dxs", 0, I, "dxs", 1, 0, &tx, 1);
        sb->indent -= 4;
        sb_line(sb, "}");
        sb_line(sb, "%s", "");
    }
    sb_line(sb, "/* %s layer %d: the parameter gradients of the n live sequences of a step, each",
            L->block->name, L->layer);
    sb_line(sb, " * from its scratch (bz + i * %ld): dz, then x and h_{t-1}, added in order. */",
            z.width);
    sb_line(sb, "static void %s_bw(real *dw, int n, const real *bz)", L->fn);
    sb_line(sb, "{");
    sb->indent += 4;
    if (L->pk_b >= 0) {
        sb_line(sb, "real *db = dw;");
        sb_line(sb, "for (int i = 0; i < n; i++)");
        sb_line(sb, "    for (int j = 0; j < %ld; j++)", GH);
        sb_line(sb, "        db[j] += bz[(long)i * %ld + j];", z.width);
    }
    if (L->pk_bhn >= 0) {
        sb_line(sb, "real *dbhn = dw + %ld;", L->pk_bhn - L->pk);
        sb_line(sb, "for (int i = 0; i < n; i++)");
        sb_line(sb, "    for (int j = 0; j < %ld; j++)", H);
        sb_line(sb, "        dbhn[j] += bz[(long)i * %ld + %ld + j];", z.width, z.dgh);
    }
    sb_line(sb, "real *dwx = dw + %ld, *dwh = dw + %ld;", L->pk_wx - L->pk, L->pk_wh - L->pk);
    emit_outer(e, "dwx", GH, 0, I, GH, z.width, z.x, z.dz);
    emit_outer(e, "dwh", GH, 0, Hr, hcols, z.width, z.hp, z.dz);
    if (after)
        emit_outer(e, "dwh", GH, 2 * H, Hr, H, z.width, z.hp, z.dgh);
    else if (gru)
        emit_outer(e, "dwh", GH, 2 * H, Hr, H, z.width, z.rh, z.dz + 2 * H);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* Backward through time over a packed batch for a split layer, as emit_seqb's <fn>_seqb:
 * per step, each live sequence's dz one at a time (into the scratch bz), then dL/dh_{t-1}
 * and dL/dx_t in blocks, then the parameter gradients of all of them at once. */
static void emit_seqb_split(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H, Hr = L->Hr, I = L->I;
    int lstm = is_lstm(L), after = is_gru_after(L), gru = L->block->cell == CELL_GRU;
    int ns = em_block(e);
    Bz z = bz_layout(L);
    long outw = Hr > I ? Hr : I;
    emit_back_kernels(e, L);
    sb_line(sb, "/* %s layer %d: backward through time over a packed batch, one direction; bz",
            L->block->name, L->layer);
    sb_line(sb, " * is scratch, (B, %ld). */", z.width);
    emit_seqb_head(e, L, 1);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "real dh[%ld];", Hr);
    if (ns > 1) {
        sb_line(sb, "real pad[%ld]; /* the unused lanes of a partial block: zeros in, junk out */",
                z.width + outw);
        sb_line(sb, "vec_zero(pad, %ld);", z.width + outw);
    }
    sb_line(sb, "const real *dzs[%d];", ns);
    if (after)
        sb_line(sb, "const real *dghs[%d];", ns);
    if (gru)
        sb_line(sb, "const real *hds[%d];", ns);
    sb_line(sb, "real *dhs[%d], *dxs[%d];", ns, ns);
    sb_line(sb, "for (int s = 0; s < T; s++) {");
    sb->indent += 4;
    sb_line(sb, "const int t = reverse ? s : T - 1 - s, n = bs[t];");
    sb_line(sb, "for (int i = 0; i < n; i++) {");
    sb->indent += 4;
    emit_seqb_sample(e, L);
    sb_line(sb, "real *z = bz + (long)i * %ld;", z.width);
    char extra[96] = "";
    if (after)
        snprintf(extra, sizeof extra, ", z + %ld, z + %ld", z.dgh, z.hd);
    else if (gru)
        snprintf(extra, sizeof extra, ", z + %ld", z.hd);
    if (lstm)
        sb_line(sb, "%s_bdz(wb, hp, cp, a + bt * %ld, cs + bt * %ld, dh, dcn + (long)b * %ld, dw, z);",
                L->fn, GH, H, H);
    else if (after)
        sb_line(sb, "%s_bdz(wb, hp, a + bt * %ld, ex + bt * %ld, dh, dw, z%s);", L->fn, GH, H,
                extra);
    else
        sb_line(sb, "%s_bdz(wb, hp, a + bt * %ld, dh, dw, z%s);", L->fn, GH, extra);
    sb_line(sb, "vec_copy(z + %ld, hp, %ld);", z.hp, Hr);
    sb_line(sb, "vec_copy(z + %ld, x + b * xsb + t * xst, %ld);", z.x, I);
    if (gru && !after) {
        sb_line(sb, "for (int k = 0; k < %ld; k++) /* r * h, as the forward used it */", H);
        sb_line(sb, "    z[%ld + k] = a[bt * %ld + k] * hp[k];", z.rh, GH);
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "for (int i = 0; i < n; i += %d) {", ns);
    sb->indent += 4;
    if (ns > 1) {
        sb_line(sb, "const int m = n - i < %d ? n - i : %d;", ns, ns);
        sb_line(sb, "for (int q = 0; q < %d; q++) {", ns);
        sb_line(sb, "    const real *z = q < m ? bz + (long)(i + q) * %ld : pad;", z.width);
        sb_line(sb, "    const int b = q < m ? perm[i + q] : 0;");
        sb_line(sb, "    dzs[q] = z;");
        if (after)
            sb_line(sb, "    dghs[q] = z + %ld;", z.dgh);
        if (gru)
            sb_line(sb, "    hds[q] = z + %ld;", z.hd);
        sb_line(sb, "    dhs[q] = q < m ? dhn + (long)b * %ld : pad + %ld;", Hr, z.width);
        sb_line(sb, "    dxs[q] = q < m && dx ? dx + b * xsb + t * xst : pad + %ld;", z.width);
        sb_line(sb, "}");
    } else {
        sb_line(sb, "const real *z = bz + (long)i * %ld;", z.width);
        sb_line(sb, "dzs[0] = z;");
        if (after)
            sb_line(sb, "dghs[0] = z + %ld;", z.dgh);
        if (gru)
            sb_line(sb, "hds[0] = z + %ld;", z.hd);
        sb_line(sb, "dhs[0] = dhn + (long)perm[i] * %ld;", Hr);
        sb_line(sb, "dxs[0] = dx ? dx + perm[i] * xsb + t * xst : 0;");
    }
    char args[48];
    snprintf(args, sizeof args, "wb, dzs, %s%sdhs", after ? "dghs, " : "", gru ? "hds, " : "");
    if (ns > 1) {
        sb_line(sb, "if (m > 1)");
        sb_line(sb, "    %s_bh%d(%s);", L->fn, ns, args);
        sb_line(sb, "else");
        sb_line(sb, "    %s_bh1(%s);", L->fn, args);
        sb_line(sb, "if (dx && m > 1)");
        sb_line(sb, "    %s_bx%d(wb, dzs, dxs);", L->fn, ns);
        sb_line(sb, "else if (dx)");
        sb_line(sb, "    %s_bx1(wb, dzs, dxs);", L->fn);
    } else {
        sb_line(sb, "%s_bh1(%s);", L->fn, args);
        sb_line(sb, "if (dx)");
        sb_line(sb, "    %s_bx1(wb, dzs, dxs);", L->fn);
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s_bw(dw, n, bz);", L->fn);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

void em_train_cells(Emitter *e, const PlanLayer *L)
{
    if (em_split(e, L)) {
        em_kern_train(e, L);
        emit_back(e, L, 1);
        emit_seqb_split(e, L);
    } else {
        e->cache = 1;
        em_cell(e, L);
        e->cache = 0;
        emit_seqc(e, L);
        emit_back(e, L, 0);
        emit_seqb(e, L);
    }
}

/* Regions of the training cache, in the order train_mem carves them. */
void em_train_mem(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const Head *hd = &net->head;
    int head_last = hd->present && hd->input == HEAD_LAST;
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
    sb_line(sb, "    real *dy, *dx;        /* gradients of a layer's output and input */");
    sb_line(sb, "    real *dhn, *dcn;      /* dL/dh and dL/dc carried back through time */");
    sb_line(sb, "    real *bz;             /* batched backward: per sequence of a step, (B, %ld) */",
            bz_width(e));
    sb_line(sb, "} TrainMem;");
    sb_line(sb, "%s", "");
    sb_line(sb, "/* Carves `cache` (when not NULL) and returns its size in reals. */");
    sb_line(sb, "static long train_mem(void *cache, int B, int T, TrainMem *m)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "real *r = (real *)cache;");
    sb_line(sb, "long at = ((2L * B + T) * (long)sizeof(int) + (long)sizeof(real) - 1) /");
    sb_line(sb, "          (long)sizeof(real);");
    sb_line(sb, "const long BT = (long)B * T;");
    sb_line(sb, "if (r) {");
    sb_line(sb, "    m->len = (int *)cache;");
    sb_line(sb, "    m->perm = m->len + B;");
    sb_line(sb, "    m->bs = m->perm + B;");
    sb_line(sb, "}");
#define REGION(field, size_fmt, ...)                                                              \
    do {                                                                                          \
        sb_line(sb, "if (r)");                                                                    \
        sb_line(sb, "    m->%s = r + at;", field);                                                \
        sb_line(sb, "at += " size_fmt ";", __VA_ARGS__);                                          \
    } while (0)
    REGION("h", "(long)B * %d", p->max_hr);
    REGION("c", "(long)B * %d", p->max_h);
    int g = 0;
    char field[32];
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir == 0) {
            snprintf(field, sizeof field, "out[%d]", g);
            REGION(field, "BT * %d", L->block->dirs * L->Hr);
            if (droppable(L)) {
                snprintf(field, sizeof field, "din[%d]", g);
                REGION(field, "BT * %d", L->block->dirs * L->Hr);
            }
            g++;
        }
        snprintf(field, sizeof field, "a[%d]", i);
        REGION(field, "BT * %d", L->G * L->H);
        snprintf(field, sizeof field, "h0[%d]", i);
        REGION(field, "(long)B * %d", L->Hr);
        snprintf(field, sizeof field, "wb[%d]", i);
        REGION(field, "%ld", (long)L->G * L->H * (L->I + L->Hr) + (long)L->H * L->P);
        if (is_lstm(L)) {
            snprintf(field, sizeof field, "c0[%d]", i);
            REGION(field, "(long)B * %d", L->H);
        }
        if (is_lstm(L)) {
            snprintf(field, sizeof field, "cs[%d]", i);
            REGION(field, "BT * %d", L->H);
        }
        if (is_gru_after(L)) {
            snprintf(field, sizeof field, "ex[%d]", i);
            REGION(field, "BT * %d", L->H);
        }
    }
    if (head_last) {
        REGION("hlast", "(long)B * %d", hd->in_features);
        REGION("dhlast", "(long)B * %d", hd->in_features);
    }
    REGION("dy", "BT * %d", p->max_width);
    REGION("dx", "BT * %d", p->max_width);
    if (bz_width(e))
        REGION("bz", "(long)B * %ld", bz_width(e));
    REGION("dhn", "(long)B * %d", p->max_hr);
    REGION("dcn", "(long)B * %d", p->max_h);
#undef REGION
    sb_line(sb, "return at;");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
    sb_line(sb, "long %s_train_bytes(int B, int T)", net->name);
    sb_line(sb, "{");
    sb_line(sb, "    TrainMem m;");
    sb_line(sb, "    return (long)sizeof(real) * train_mem(0, B, T, &m);");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

static void emit_head_train(Emitter *e)
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
    sb->indent -= 4;
    sb_line(sb, "}");
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
    sb->indent -= 4;
    sb_line(sb, "}");
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

static void emit_forward_train(Emitter *e)
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
    sb_line(sb, "    void *cache)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "TrainMem m;");
    if (!any_droppable(p))
        sb_line(sb, "(void)drop; /* no dropout between layers */");
    sb_line(sb, "if (B < 1 || T < 1%s)", hd->present ? " || !logits" : "");
    sb_line(sb, "    return -1;");
    if (!hd->present)
        sb_line(sb, "(void)logits;");
    sb_line(sb, "train_mem(cache, B, T, &m);");
    sb_line(sb, "if (pack_batch(lengths, B, T, m.len, m.perm, m.bs) < 0)");
    sb_line(sb, "    return -1;");
    sb_line(sb, "vec_zero(y, (long)B * %s%ld);", per_step ? "T * " : "", O);
    if (hd->present)
        sb_line(sb, "vec_zero(logits, (long)B * %s%ld);", per_step ? "T * " : "", O);
    int g = -1;
    long soff = 0; /* this layer's state in state0/state1, per sequence */
    char in[48], isb[48], ist[48];
    snprintf(in, sizeof in, "x");
    if (net->batch_first) {
        snprintf(isb, sizeof isb, "(long)T * %d", net->input_size);
        snprintf(ist, sizeof ist, "%d", net->input_size);
    } else {
        snprintf(isb, sizeof isb, "%d", net->input_size);
        snprintf(ist, sizeof ist, "(long)B * %d", net->input_size);
    }
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        int W = L->block->dirs * L->Hr;
        if (L->dir == 0 && g >= 0) {
            const PlanLayer *P = &p->layers[i - 1];
            int Wp = P->block->dirs * P->Hr;
            if (droppable(P)) {
                snprintf(in, sizeof in, "(drop ? m.din[%d] : m.out[%d])", g, g);
                sb_line(sb, "if (drop) /* dropout after %s layer %d: training only */",
                        P->block->name, P->layer);
                sb_line(sb, "    for (int b = 0; b < B; b++)");
                sb_line(sb,
                        "        for (long at = (long)b * T * %d; at < ((long)b * T + m.len[b]) "
                        "* %d; at++)",
                        Wp, Wp);
                sb_line(sb, "            m.din[%d][at] = m.out[%d][at] * drop[%s + at];", g, g,
                        mask_off(p, g));
            } else {
                snprintf(in, sizeof in, "m.out[%d]", g);
            }
            snprintf(isb, sizeof isb, "(long)T * %d", Wp);
            snprintf(ist, sizeof ist, "%d", Wp);
        }
        if (L->dir == 0)
            g++;
        sb_line(sb, "/* %s */", L->label);
        sb_line(sb, "if (state0)");
        sb_line(sb, "    vec_copy(m.h0[%d], state0 + (long)B * %ld, (long)B * %d);", i, soff,
                L->Hr);
        sb_line(sb, "else");
        sb_line(sb, "    vec_zero(m.h0[%d], (long)B * %d);", i, L->Hr);
        sb_line(sb, "vec_copy(m.h, m.h0[%d], (long)B * %d);", i, L->Hr);
        if (is_lstm(L)) {
            sb_line(sb, "if (state0)");
            sb_line(sb, "    vec_copy(m.c0[%d], state0 + (long)B * %ld, (long)B * %d);", i,
                    soff + L->Hr, L->H);
            sb_line(sb, "else");
            sb_line(sb, "    vec_zero(m.c0[%d], (long)B * %d);", i, L->H);
            sb_line(sb, "vec_copy(m.c, m.c0[%d], (long)B * %d);", i, L->H);
        }
        char extra[64] = "";
        if (is_lstm(L))
            snprintf(extra, sizeof extra, "m.c, m.cs[%d], ", i);
        else if (is_gru_after(L))
            snprintf(extra, sizeof extra, "m.ex[%d], ", i);
        sb_line(sb, "%s_seqc(w + %ld, %s, %s, %s, m.out[%d] + %d,", L->fn, L->pk, in, isb, ist, g,
                L->dir * L->Hr);
        sb_line(sb, "    (long)T * %d, %d, T, m.bs, m.perm, m.h, %sm.a[%d], %d);", W, W, extra, i,
                L->dir);
        if (L->top && L->last_layer && head_last) {
            sb_line(sb, "for (int b = 0; b < B; b++)");
            sb_line(sb, "    vec_copy(m.hlast + (long)b * %ld + %d, m.h + (long)b * %d, %d);", F,
                    L->dir * L->Hr, L->Hr, L->Hr);
        }
        sb_line(sb, "if (state1) {");
        sb_line(sb, "    vec_copy(state1 + (long)B * %ld, m.h, (long)B * %d);", soff, L->Hr);
        if (is_lstm(L))
            sb_line(sb, "    vec_copy(state1 + (long)B * %ld, m.c, (long)B * %d);", soff + L->Hr,
                    L->H);
        sb_line(sb, "}");
        soff += L->Hr + (is_lstm(L) ? L->H : 0);
    }
    if (!hd->present) {
        sb_line(sb, "for (int b = 0; b < B; b++)");
        sb_line(sb, "    for (int t = 0; t < m.len[b]; t++)");
        sb_line(sb, "        vec_copy(y + %s, m.out[%d] + ((long)b * T + t) * %ld, %ld);",
                user_at(net, O), g, O, O);
    } else {
        const char *act = hd->activation == ACT_SOFTMAX   ? "softmax"
                          : hd->activation == ACT_SIGMOID ? "sigmoid"
                                                          : NULL;
        sb_line(sb, "/* head %s: logits, then y = %s(logits) */", hd->name, act ? act : "");
        sb_line(sb, "for (int b = 0; b < B; b++) {");
        sb->indent += 4;
        const char *at = "(long)b * ";
        char atbuf[80];
        if (head_last) {
            snprintf(atbuf, sizeof atbuf, "%s%ld", at, O);
            sb_line(sb, "{");
            sb_line(sb, "    head_linear(w, m.hlast + (long)b * %ld, logits + %s);", F, atbuf);
        } else {
            snprintf(atbuf, sizeof atbuf, "%s", user_at(net, O));
            sb_line(sb, "for (int t = 0; t < m.len[b]; t++) {");
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
        sb->indent -= 4;
        sb_line(sb, "}");
    }
    sb_line(sb, "return 0;");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

static void emit_backward(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const Head *hd = &net->head;
    int head_last = hd->present && hd->input == HEAD_LAST;
    long O = net->out_size, F = hd->in_features;
    int ng = 0;
    for (int i = 0; i < p->nlayers; i++)
        ng += p->layers[i].dir == 0;
    const PlanLayer *top = &p->layers[p->nlayers - 1];
    long Wtop = top->block->dirs * top->Hr;
    sb_line(sb, "int %s_backward(const real *w, const real *x, int B, int T, const real *dout,",
            net->name);
    sb_line(sb, "    const real *drop, real *dw, void *cache)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "TrainMem m;");
    if (!any_droppable(p))
        sb_line(sb, "(void)drop; /* no dropout between layers */");
    sb_line(sb, "if (B < 1 || T < 1)");
    sb_line(sb, "    return -1;");
    sb_line(sb, "train_mem(cache, B, T, &m);");
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        long GH = (long)L->G * L->H;
        sb_line(sb, "/* %s: the weights as backward reads them, PyTorch's layout */", L->label);
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", GH);
        sb_line(sb, "    for (int k = 0; k < %d; k++)", L->I);
        sb_line(sb, "        m.wb[%d][j * %d + k] = w[%ld + k * %ld + j];", i, L->I, L->pk_wx, GH);
        sb_line(sb, "    for (int k = 0; k < %d; k++)", L->Hr);
        sb_line(sb, "        m.wb[%d][%ld + j * %d + k] = w[%ld + k * %ld + j];", i, GH * L->I,
                L->Hr, L->pk_wh, GH);
        sb_line(sb, "}");
        if (L->P) {
            sb_line(sb, "for (int q = 0; q < %d; q++)", L->P);
            sb_line(sb, "    for (int j = 0; j < %d; j++)", L->H);
            sb_line(sb, "        m.wb[%d][%ld + q * %d + j] = w[%ld + j * %d + q];", i,
                    GH * (L->I + L->Hr), L->H, L->pk_wr, L->P);
        }
    }
    sb_line(sb, "real *dy = m.dy, *dx = m.dx, *swap;");
    sb_line(sb, "vec_zero(dy, (long)B * T * %ld);", Wtop);
    if (head_last) {
        sb_line(sb, "for (int b = 0; b < B; b++)");
        sb_line(sb, "    head_back(w, m.hlast + (long)b * %ld, dout + (long)b * %ld, dw,", F, O);
        sb_line(sb, "              m.dhlast + (long)b * %ld);", F);
    } else {
        sb_line(sb, "for (int b = 0; b < B; b++)");
        sb_line(sb, "    for (int t = 0; t < m.len[b]; t++)");
        if (hd->present)
            sb_line(sb,
                    "        head_back(w, m.out[%d] + ((long)b * T + t) * %ld, dout + %s, dw, "
                    "dy + ((long)b * T + t) * %ld);",
                    ng - 1, F, user_at(net, O), F);
        else
            sb_line(sb, "        vec_copy(dy + ((long)b * T + t) * %ld, dout + %s, %ld);", O,
                    user_at(net, O), O);
    }
    int g = ng;
    for (int i = p->nlayers - 1; i >= 0;) {
        const PlanLayer *L0 = &p->layers[i - (p->layers[i].dir)];
        int D = L0->block->dirs, W = D * L0->Hr;
        int first = i - (D - 1) == 0;
        g--;
        char in[48], isb[48], ist[48];
        if (first) {
            snprintf(in, sizeof in, "x");
            if (net->batch_first) {
                snprintf(isb, sizeof isb, "(long)T * %d", net->input_size);
                snprintf(ist, sizeof ist, "%d", net->input_size);
            } else {
                snprintf(isb, sizeof isb, "%d", net->input_size);
                snprintf(ist, sizeof ist, "(long)B * %d", net->input_size);
            }
        } else {
            const PlanLayer *P = &p->layers[i - (D - 1) - 1];
            if (droppable(P))
                snprintf(in, sizeof in, "(drop ? m.din[%d] : m.out[%d])", g - 1, g - 1);
            else
                snprintf(in, sizeof in, "m.out[%d]", g - 1);
            snprintf(isb, sizeof isb, "(long)T * %d", L0->I);
            snprintf(ist, sizeof ist, "%d", L0->I);
            sb_line(sb, "vec_zero(dx, (long)B * T * %d);", L0->I);
        }
        for (int dir = D - 1; dir >= 0; dir--) {
            const PlanLayer *L = &p->layers[i - (D - 1) + dir];
            int li = i - (D - 1) + dir;
            sb_line(sb, "/* %s */", L->label);
            sb_line(sb, "vec_zero(m.dhn, (long)B * %d);", L->Hr);
            if (is_lstm(L))
                sb_line(sb, "vec_zero(m.dcn, (long)B * %d);", L->H);
            if (L->top && L->last_layer && head_last) {
                sb_line(sb, "for (int b = 0; b < B; b++)");
                sb_line(sb,
                        "    vec_copy(m.dhn + (long)b * %d, m.dhlast + (long)b * %ld + %d, %d);",
                        L->Hr, F, dir * L->Hr, L->Hr);
            }
            char extra[64] = "", dcn[16] = "", c0[32] = "";
            if (is_lstm(L)) {
                snprintf(extra, sizeof extra, "m.cs[%d], ", li);
                snprintf(dcn, sizeof dcn, "m.dcn, ");
                snprintf(c0, sizeof c0, "m.c0[%d], ", li);
            } else if (is_gru_after(L)) {
                snprintf(extra, sizeof extra, "m.ex[%d], ", li);
            }
            sb_line(sb, "%s_seqb(m.wb[%d], %s, %s, %s, %s,", L->fn, li, in, isb, ist,
                    first ? "0" : "dx");
            sb_line(sb, "    m.out[%d] + %d, dy + %d, (long)T * %d, %d, T, m.bs, m.perm, m.len,",
                    g, dir * L->Hr, dir * L->Hr, W, W);
            sb_line(sb, "    m.a[%d], %sm.dhn, %sdw + %ld, m.h0[%d], %s%s%d);", li, extra, dcn,
                    L->pk, li, c0, em_split(e, L) ? "m.bz, " : "", dir);
        }
        if (!first && droppable(&p->layers[i - (D - 1) - 1])) {
            sb_line(sb, "if (drop) /* back through the dropout below */");
            sb_line(sb, "    for (int b = 0; b < B; b++)");
            sb_line(sb,
                    "        for (long at = (long)b * T * %d; at < ((long)b * T + m.len[b]) * %d; "
                    "at++)",
                    L0->I, L0->I);
            sb_line(sb, "            dx[at] *= drop[%s + at];", mask_off(p, g - 1));
        }
        if (!first) {
            sb_line(sb, "swap = dy;");
            sb_line(sb, "dy = dx;");
            sb_line(sb, "dx = swap;");
        }
        i -= D;
    }
    sb_line(sb, "(void)swap;");
    sb_line(sb, "(void)dx;");
    sb_line(sb, "return 0;");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

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
    if (e->p->net->head.present)
        emit_head_train(e);
    emit_forward_train(e);
    emit_backward(e);
    em_pack(e, 1);
}

long emit_state_reals(const Plan *plan)
{
    long k = 0;
    for (int i = 0; i < plan->nlayers; i++)
        k += plan->layers[i].Hr + (is_lstm(&plan->layers[i]) ? plan->layers[i].H : 0);
    return k;
}

long emit_dropout_reals(const Plan *plan)
{
    long k = 0;
    for (int i = 0; i < plan->nlayers; i++)
        if (plan->layers[i].dir == 0 && droppable(&plan->layers[i]))
            k += plan->layers[i].block->dirs * plan->layers[i].Hr;
    return k;
}
