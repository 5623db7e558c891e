/* emit.c — Plan to C source. Fixed helpers come from templates/prelude.c (embedded at
 * build time); everything specialised — sizes, weight offsets, each cell's gate equations,
 * unrolled or as constant-bound loops — is written here.
 */
#include "emit.h"

#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emit_int.h"

extern const char rnnc_tpl_prelude[];

const char *const emit_math_symbols[] = {"expf", "tanhf", "exp", "tanh", NULL};

/* "base + j" for a loop index, or the folded constant when unrolled (j >= 0). */
const char *em_ix(Emitter *e, long base, long j)
{
    char *s = e->ring[e->ring_at++ % 16];
    if (j == -2 && base == 0) /* a column of emit_kern.c's chunk jc */
        snprintf(s, 48, "jc + j");
    else if (j == -2)
        snprintf(s, 48, "%ld + jc + j", base);
    else if (j >= 0)
        snprintf(s, 48, "%ld", base + j);
    else if (base == 0)
        snprintf(s, 48, "j");
    else
        snprintf(s, 48, "%ld + j", base);
    return s;
}

/* Emits dst[dst0 + c] = init[init0 + c] (or 0) + sum over terms, for c < n: one statement
 * per output when unrolled, else constant-bound loops with the same order of additions. */
void em_product(Emitter *e, int unrolled, const char *dst, long dst0, long n, const char *init,
                long init0, const Term *terms, int nterms)
{
    Sb *sb = e->sb;
    if (!unrolled) {
        sb_line(sb, "for (int j = 0; j < %ld; j++)", n);
        sb->indent += 4;
        if (init)
            sb_line(sb, "%s[%s] = %s[%s];", dst, em_ix(e, dst0, -1), init, em_ix(e, init0, -1));
        else
            sb_line(sb, "%s[%s] = %s;", dst, em_ix(e, dst0, -1), e->zero);
        sb->indent -= 4;
        for (int t = 0; t < nterms; t++) {
            const Term *tm = &terms[t];
            sb_line(sb, "for (int k = 0; k < %ld; k++) {", tm->K);
            sb->indent += 4;
            sb_line(sb, "const real vk = %s[k];", tm->v);
            if (tm->col0)
                sb_line(sb, "const real *wk = %s + k * %ld + %ld;", tm->w, tm->row, tm->col0);
            else
                sb_line(sb, "const real *wk = %s + k * %ld;", tm->w, tm->row);
            if (e->for_tcc && n % 4 == 0) {
                /* by fours for libtcc, which does not unroll: its code spends less on the
                 * loop (compilers that vectorise get the plain loop) */
                sb_line(sb, "real *dj = %s + %ld;", dst, dst0);
                sb_line(sb, "for (int j = 0; j < %ld; j += 4) {", n);
                sb_line(sb, "    dj[j] += wk[j] * vk;");
                sb_line(sb, "    dj[j + 1] += wk[j + 1] * vk;");
                sb_line(sb, "    dj[j + 2] += wk[j + 2] * vk;");
                sb_line(sb, "    dj[j + 3] += wk[j + 3] * vk;");
                sb_line(sb, "}");
            } else {
                sb_line(sb, "for (int j = 0; j < %ld; j++)", n);
                sb_line(sb, "    %s[%s] += wk[j] * vk;", dst, em_ix(e, dst0, -1));
            }
            sb->indent -= 4;
            sb_line(sb, "}");
        }
        return;
    }
    for (long c = 0; c < n; c++) {
        int first = 1, col = 0;
        sb_printf(sb, "%*s%s[%ld] =", sb->indent, "", dst, dst0 + c);
        col = sb->indent + 8;
        if (init) {
            sb_printf(sb, " %s[%ld]", init, init0 + c);
            first = 0;
        }
        for (int t = 0; t < nterms; t++) {
            const Term *tm = &terms[t];
            for (long k = 0; k < tm->K; k++) {
                char term[96];
                snprintf(term, sizeof term, "%s%s[%ld] * %s[%ld]", first ? " " : " + ", tm->w,
                         k * tm->row + tm->col0 + c, tm->v, k);
                first = 0;
                if (col + (int)strlen(term) > 92) {
                    sb_printf(sb, "\n%*s", sb->indent + 4, "");
                    col = sb->indent + 4;
                }
                sb_puts(sb, term);
                col += (int)strlen(term);
            }
        }
        if (first)
            sb_printf(sb, " %s", e->zero);
        sb_puts(sb, ";\n");
    }
}

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

/* Element-wise gate equations of unit j (constant when unrolled, else the loop's j). */
void em_gates_unit(Emitter *e, const PlanLayer *L, long j)
{
    Sb *sb = e->sb;
    long H = L->H;
    const Block *blk = L->block;
    switch (blk->cell) {
    case CELL_RNN:
        sb_line(sb, "h[%s] = act_%s(g[%s]);", em_ix(e, 0, j),
                blk->nonlin == NONLIN_RELU ? "relu" : "tanh", em_ix(e, 0, j));
        if (e->cache)
            sb_line(sb, "a[%s] = h[%s];", em_ix(e, 0, j), em_ix(e, 0, j));
        break;
    case CELL_LSTM: {
        sb_line(sb, "{");
        sb->indent += 4;
        sb_line(sb, "const real i = act_sigmoid(g[%s]);", em_ix(e, 0, j));
        sb_line(sb, "const real f = act_sigmoid(g[%s]);", em_ix(e, H, j));
        sb_line(sb, "const real gg = act_tanh(g[%s]);", em_ix(e, 2 * H, j));
        sb_line(sb, "const real o = act_sigmoid(g[%s]);", em_ix(e, 3 * H, j));
        if (e->cache)
            sb_line(sb, "a[%s] = i, a[%s] = f, a[%s] = gg, a[%s] = o;", em_ix(e, 0, j),
                    em_ix(e, H, j), em_ix(e, 2 * H, j), em_ix(e, 3 * H, j));
        sb_line(sb, "c[%s] = f * c[%s] + i * gg;", em_ix(e, 0, j), em_ix(e, 0, j));
        sb_line(sb, "%s[%s] = o * act_tanh(c[%s]);", L->P ? "m" : "h", em_ix(e, 0, j),
                em_ix(e, 0, j));
        sb->indent -= 4;
        sb_line(sb, "}");
        break;
    }
    case CELL_GRU:
        sb_line(sb, "{");
        sb->indent += 4;
        if (blk->reset == RESET_AFTER) {
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
        sb->indent -= 4;
        sb_line(sb, "}");
        break;
    }
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
    e->sb->indent -= 4;
    sb_line(e->sb, "}");
}

void em_reset_unit(Emitter *e, const PlanLayer *L, long j)
{
    if (e->cache)
        sb_line(e->sb, "a[%s] = act_sigmoid(g[%s]), rh[%s] = a[%s] * h[%s];", em_ix(e, 0, j),
                em_ix(e, 0, j), em_ix(e, 0, j), em_ix(e, 0, j), em_ix(e, 0, j));
    else
        sb_line(e->sb, "rh[%s] = act_sigmoid(g[%s]) * h[%s];", em_ix(e, 0, j), em_ix(e, 0, j),
                em_ix(e, 0, j));
    (void)L;
}

const char *em_cell_title(const Block *b)
{
    switch (b->cell) {
    case CELL_RNN:
        return b->nonlin == NONLIN_RELU ? "RNN (relu)" : "RNN (tanh)";
    case CELL_LSTM:
        return b->proj_size ? "LSTM with projection" : "LSTM";
    case CELL_GRU:
        return b->reset == RESET_AFTER ? "GRU (reset after the recurrent product, as PyTorch)"
                                       : "GRU (reset before the recurrent product, Cho 2014)";
    }
    return "";
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
    sb_line(sb, " * %s.", em_cell_title(blk));
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
    em_units(e, L, H, em_gates_unit);
    if (L->P) {
        Term tr = {"wr", "m", H, L->P, 0};
        em_product(e, L->unrolled, "h", 0, L->P, NULL, 0, &tr, 1);
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}
/* The layer over a packed batch, one direction: step t runs the bs[t] live sequences. */
static void emit_seq(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    int lstm = L->block->cell == CELL_LSTM;
    char state[64], cell_arg[48] = "", cell_param[16] = "";
    if (lstm) {
        snprintf(state, sizeof state, "h (B, %d) and c (B, %d) carry", L->Hr, L->H);
        snprintf(cell_arg, sizeof cell_arg, ", c + (long)b * %d", L->H);
        snprintf(cell_param, sizeof cell_param, " real *c,");
    } else {
        snprintf(state, sizeof state, "h (B, %d) carries", L->Hr);
    }
    sb_line(sb, "/* %s layer %d over a packed batch, one direction (reverse: from each",
            L->block->name, L->layer);
    sb_line(sb, " * sequence's own last step). x (I=%d) and y (%d) per step by strides;", L->I,
            L->Hr);
    sb_line(sb, " * %s the state, which ends as the final state. */", state);
    sb_line(sb, "%sstatic void %s_seq(const real *w, const real *x, long xsb, long xst,", e->fn,
            L->fn);
    sb_line(sb,
            "    real *y, long ysb, long yst, int T, const int *bs, const int *perm, real *h,%s",
            cell_param);
    sb_line(sb, "    int reverse)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "for (int s = 0; s < T; s++) {");
    sb_line(sb, "    const int t = reverse ? T - 1 - s : s;");
    sb_line(sb, "    for (int i = 0; i < bs[t]; i++) {");
    sb_line(sb, "        const int b = perm[i];");
    sb_line(sb, "        real *hb = h + (long)b * %d;", L->Hr);
    sb_line(sb, "        %s_cell(w, x + b * xsb + t * xst, hb%s);", L->fn, cell_arg);
    sb_line(sb, "        vec_copy(y + b * ysb + t * yst, hb, %d);", L->Hr);
    sb_line(sb, "    }");
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

static void emit_head(Emitter *e)
{
    const Plan *p = e->p;
    const Head *h = &p->net->head;
    Sb *sb = e->sb;
    long F = h->in_features, O = h->out_features;
    int unrolled = F * O <= 1024;
    static const char *const acts[] = {"none", "softmax", "sigmoid"};
    sb_line(sb, "/* Head '%s': Linear(%ld, %ld)%s, activation %s; one input vector. */", h->name,
            F, O, h->bias ? "" : " without bias", acts[h->activation]);
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
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* Copies PyTorch tensor `t` (rows, cols) transposed into packed (cols, rows) at `pk`, or
 * (unpack) back: p[t] <-> pw[pk]. */
static void emit_pack_transposed(Emitter *e, const PlanTensor *t, long pk, long row, int unpack)
{
    sb_line(e->sb, "for (long r = 0; r < %ld; r++) /* %s */", t->shape[0], t->name);
    sb_line(e->sb, "    for (long k = 0; k < %ld; k++)", t->shape[1]);
    if (unpack)
        sb_line(e->sb, "        dp[%ld + r * %ld + k] = g[%ld + k * %ld + r];", t->offset,
                t->shape[1], pk, row);
    else
        sb_line(e->sb, "        pw[%ld + k * %ld + r] = p[%ld + r * %ld + k];", pk, row, t->offset,
                t->shape[1]);
}

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
        emit_pack_transposed(e, &p->tensors[L->t_wih], L->pk_wx, GH, unpack);
        emit_pack_transposed(e, &p->tensors[L->t_whh], L->pk_wh, GH, unpack);
        if (L->t_whr >= 0)
            emit_pack_transposed(e, &p->tensors[L->t_whr], L->pk_wr, L->P, unpack);
    }
    if (p->net->head.present) {
        const Head *h = &p->net->head;
        sb_line(sb, "/* head %s */", h->name);
        emit_pack_transposed(e, &p->tensors[p->head_t_w], p->head_pk_w, h->out_features, unpack);
        if (p->head_t_b >= 0) {
            long hb = p->tensors[p->head_t_b].offset;
            sb_line(sb, "for (long j = 0; j < %d; j++)", h->out_features);
            if (unpack)
                sb_line(sb, "    dp[%ld + j] = g[%ld + j];", hb, p->head_pk_b);
            else
                sb_line(sb, "    pw[%ld + j] = p[%ld + j];", p->head_pk_b, hb);
        }
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* Where a layer reads its input and writes its output, as C expressions. */
typedef struct Io {
    char ptr[64], sb[48], st[48];
} Io;

static void emit_forward(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const Head *hd = &net->head;
    int head_last = hd->present && hd->input == HEAD_LAST;
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
        sb_line(sb, "long %s_scratch_bytes(int B, int T)", net->name);
        sb_line(sb, "{");
        sb_line(sb, "    const long ints = (3L * B + 2L * T) * (long)sizeof(int);");
        sb_line(sb,
                "    const long ireals = (ints + (long)sizeof(real) - 1) / (long)sizeof(real);");
        sb_line(sb, "    return (long)sizeof(real) * (ireals + (long)B * %d + (long)B * %d +",
                p->max_hr, p->max_h);
        sb_line(sb, "                                 2L * B * T * %d + (long)B * %d +",
                p->max_width, head_last ? p->top_dirs * p->top_hr : 0);
        sb_line(sb, "                                 (long)B * T * %d);", p->xp_width);
        sb_line(sb, "}");
        sb_line(sb, "%s", "");
        sb_line(sb,
                "int %s_forward(const real *w, const real *x, const int *lengths, int B, "
                "int T,",
                net->name);
        sb_line(sb, "    real *y, real *h_n, real *c_n, void *scratch)");
        sb_line(sb, "{");
        sb_line(sb,
                "    return %s_forward_par(w, x, lengths, B, T, y, h_n, c_n, scratch, scratch, 0, "
                "1, 0, 0);",
                net->name);
        sb_line(sb, "}");
        sb_line(sb, "%s", "");
        sb_line(sb,
                "int %s_forward_par(const real *w, const real *x, const int *lengths, int B, "
                "int T,",
                net->name);
        sb_line(sb, "    real *y, real *h_n, real *c_n, void *scratch, void *shared, int part, "
                    "int nparts,");
        sb_line(sb, "    void (*sync)(void *), void *ctx)");
    }
    sb_line(sb, "{");
    sb->indent += 4;
    if (net->blocks[net->nblocks - 1].cell != CELL_LSTM)
        sb_line(sb, "(void)c_n; /* the top block has no cell state */");
    if (e->dep) {
        sb_line(sb, "if (B < 1 || T < 1)");
        sb_line(sb, "    return -1;");
    } else {
        sb_line(sb, "if (B < 1 || T < 1 || nparts < 1 || part < 0 || part >= nparts)");
        sb_line(sb, "    return -1;");
    }
    sb_line(sb, "int *len = (int *)scratch, *perm = len + B, *bs = perm + B;");
    if (!e->dep)
        sb_line(sb, "int *pp = bs + T, *pbs = pp + B; /* this part's perm and bs */");
    sb_line(sb,
            "const long ireals = ((%s) * (long)sizeof(int) + (long)sizeof(real) - 1) /",
            e->dep ? "2L * B + T" : "3L * B + 2L * T");
    sb_line(sb, "                    (long)sizeof(real);");
    int need_buf = hd->present || p->nlayers > p->layers[0].block->dirs;
    int any_lstm = 0;
    for (int i = 0; i < net->nblocks; i++)
        any_lstm |= net->blocks[i].cell == CELL_LSTM;
    long after_state = (long)p->max_hr + p->max_h;
    sb_line(sb, "real *h = (real *)scratch + ireals; /* (B, %d) */", p->max_hr);
    if (any_lstm)
        sb_line(sb, "real *c = h + (long)B * %d; /* (B, %d) */", p->max_hr, p->max_h);
    const char *base = "h";
    if (!e->dep && (need_buf || head_last)) {
        sb_line(sb, "real *sh = (real *)shared + ireals; /* the parts' common buffers */");
        base = "sh";
    }
    if (need_buf) {
        sb_line(sb, "real *buf[2]; /* layer outputs, 2 x (B, T, %d) */", p->max_width);
        sb_line(sb, "buf[0] = %s + (long)B * %ld;", base, after_state);
        sb_line(sb, "buf[1] = buf[0] + (long)B * T * %d;", p->max_width);
    }
    if (head_last)
        sb_line(sb, "real *hlast = %s + (long)B * %ld + 2L * B * T * %d; /* (B, %d) */", base,
                after_state, p->max_width, p->top_dirs * p->top_hr);
    if (!e->dep && !need_buf && !head_last)
        sb_line(sb, "(void)shared;");
    if (!e->dep && p->xp_width)
        sb_line(sb, "real *xp = h + (long)B * %ld + 2L * B * T * %d + (long)B * %d; /* (B, T, %d) */",
                after_state, p->max_width, head_last ? p->top_dirs * p->top_hr : 0, p->xp_width);
    sb_line(sb, "if (pack_batch(lengths, B, T, len, perm, bs) < 0)");
    sb_line(sb, "    return -1;");
    if (e->dep) {
        if (head_last)
            sb_line(sb, "vec_zero(y, (long)B * %ld);", O);
        else
            sb_line(sb, "vec_zero(y, (long)B * T * %ld);", O);
    } else {
        sb_line(sb, "for (int i = 0; i < B; i++)");
        sb_line(sb, "    pp[i] = perm[i];");
        sb_line(sb, "for (int t = 0; t < T; t++)");
        sb_line(sb, "    pbs[t] = bs[t];");
        sb_line(sb, "const int np = pack_part(pp, pbs, B, T, part, nparts); /* pp[0..np) */");
        sb_line(sb, "for (int i = 0; i < np; i++) {");
        sb_line(sb, "    const int b = pp[i];");
        if (head_last)
            sb_line(sb, "    vec_zero(y + (long)b * %ld, %ld);", O, O);
        else if (net->batch_first)
            sb_line(sb, "    vec_zero(y + (long)b * T * %ld, (long)T * %ld);", O, O);
        else {
            sb_line(sb, "    for (int t = 0; t < T; t++)");
            sb_line(sb, "        vec_zero(y + ((long)t * B + b) * %ld, %ld);", O, O);
        }
        sb_line(sb, "}");
        sb_line(sb, "if (sync) /* no part writes y before every part has cleared its own */");
        sb_line(sb, "    sync(ctx);");
    }
    Io in;
    snprintf(in.ptr, sizeof in.ptr, "x");
    if (net->batch_first) {
        snprintf(in.sb, sizeof in.sb, "(long)T * %d", net->input_size);
        snprintf(in.st, sizeof in.st, "%d", net->input_size);
    } else {
        snprintf(in.sb, sizeof in.sb, "%d", net->input_size);
        snprintf(in.st, sizeof in.st, "(long)B * %d", net->input_size);
    }
    int nbuf = 0;
    for (int i = 0; i < p->nlayers;) {
        const PlanLayer *L0 = &p->layers[i];
        const Block *blk = L0->block;
        int D = blk->dirs, W = D * L0->Hr;
        int to_y = L0->top && L0->last_layer && !hd->present;
        Io out;
        if (to_y) {
            snprintf(out.ptr, sizeof out.ptr, "y");
            if (net->batch_first) {
                snprintf(out.sb, sizeof out.sb, "(long)T * %ld", O);
                snprintf(out.st, sizeof out.st, "%ld", O);
            } else {
                snprintf(out.sb, sizeof out.sb, "%ld", O);
                snprintf(out.st, sizeof out.st, "(long)B * %ld", O);
            }
        } else {
            snprintf(out.ptr, sizeof out.ptr, "buf[%d]", nbuf);
            snprintf(out.sb, sizeof out.sb, "(long)T * %d", W);
            snprintf(out.st, sizeof out.st, "%d", W);
            nbuf ^= 1;
        }
        /* whose sequences: all (deployed); this part's; or, synchronised, all of them for
         * a bidirectional layer, whose directions go to parts 0 and 1 */
        sb_line(sb, "{");
        sb->indent += 4;
        int top = L0->top; /* copies the final states: needs the count too */
        if (e->dep)
            sb_line(sb, "const int *sp = perm, *sq = bs%s;", top ? ", sn = B" : "");
        else if (D == 1)
            sb_line(sb, "const int *sp = pp, *sq = pbs%s;", top ? ", sn = np" : "");
        else
            sb_line(sb, "const int *sp = sync ? perm : pp, *sq = sync ? bs : pbs%s;",
                    top ? ", sn = sync ? B : np" : "");
        for (int dir = 0; dir < D; dir++, i++) {
            const PlanLayer *L = &p->layers[i];
            int lstm = blk->cell == CELL_LSTM;
            sb_line(sb, "/* %s */", L->label);
            if (!e->dep && D == 2) {
                sb_line(sb, "if (!sync || %d %% nparts == part) {", dir);
                sb->indent += 4;
            }
            sb_line(sb, "vec_zero(h, (long)B * %d);", L->Hr);
            if (lstm)
                sb_line(sb, "vec_zero(c, (long)B * %d);", L->H);
            char optr[80];
            if (dir)
                snprintf(optr, sizeof optr, "%s + %d", out.ptr, L->Hr);
            else
                snprintf(optr, sizeof optr, "%s", out.ptr);
            sb_line(sb, "%s_seq(w + %ld, %s, %s, %s,", L->fn, L->pk, in.ptr, in.sb, in.st);
            sb_line(sb, "    %s, %s, %s, T, sq, sp, h, %s%s%d);", optr, out.sb, out.st,
                    lstm ? "c, " : "", em_split(e, L) ? "xp, " : "", dir);
            if (L->top) {
                long slot = (long)L->layer * D + dir;
                sb_line(sb, "for (int i = 0; i < sn; i++) {");
                sb->indent += 4;
                sb_line(sb, "const int b = sp[i];");
                sb_line(sb, "if (h_n)");
                sb_line(sb,
                        "    vec_copy(h_n + ((long)B * %ld + b) * %d, h + (long)b * %d, %d);",
                        slot, L->Hr, L->Hr, L->Hr);
                if (lstm) {
                    sb_line(sb, "if (c_n)");
                    sb_line(sb,
                            "    vec_copy(c_n + ((long)B * %ld + b) * %d, c + (long)b * %d, "
                            "%d);",
                            slot, L->H, L->H, L->H);
                }
                if (head_last && L->last_layer)
                    sb_line(sb, "vec_copy(hlast + (long)b * %d + %d, h + (long)b * %d, %d);", W,
                            dir * L->Hr, L->Hr, L->Hr);
                sb->indent -= 4;
                sb_line(sb, "}");
            }
            if (!e->dep && D == 2) {
                sb->indent -= 4;
                sb_line(sb, "}");
            }
        }
        sb->indent -= 4;
        sb_line(sb, "}");
        if (!e->dep && (i < p->nlayers || hd->present)) {
            sb_line(sb, "if (sync) /* the next layer reads every part's outputs */");
            sb_line(sb, "    sync(ctx);");
        }
        in = out;
    }
    if (hd->present) {
        sb_line(sb, "/* head %s */", hd->name);
        sb_line(sb, "for (int i = 0; i < %s; i++) {", e->dep ? "B" : "np");
        sb->indent += 4;
        sb_line(sb, "const int b = %s[i];", e->dep ? "perm" : "pp");
        if (head_last) {
            sb_line(sb, "head_apply(w, hlast + (long)b * %d, y + (long)b * %ld);",
                    hd->in_features, O);
        } else {
            sb_line(sb, "for (int t = 0; t < len[b]; t++)");
            sb_line(sb, "    head_apply(w, %s + ((long)b * T + t) * %d,", in.ptr,
                    hd->in_features);
            if (net->batch_first)
                sb_line(sb, "               y + ((long)b * T + t) * %ld);", O);
            else
                sb_line(sb, "               y + ((long)t * B + b) * %ld);", O);
        }
        sb->indent -= 4;
        sb_line(sb, "}");
    }
    sb_line(sb, "return 0;");
    sb->indent -= 4;
    sb_line(sb, "}");
}

const char *em_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

void em_upper(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

/* The lines describing the network, shared by the header's and the body's banners. */
void em_summary(Emitter *e)
{
    const Net *net = e->p->net;
    Sb *sb = e->sb;
    sb_line(sb, " * Network %s: input_size %d, %s, %s.", net->name, net->input_size,
            net->batch_first ? "batch_first (x is (B, T, I))" : "time-major (x is (T, B, I))",
            net->dbl ? "float64" : "float32");
    for (int i = 0; i < net->nblocks; i++) {
        const Block *b = &net->blocks[i];
        char proj[32] = "";
        if (b->proj_size)
            snprintf(proj, sizeof proj, ", proj_size %d", b->proj_size);
        sb_line(sb, " *   block %s: %s,", b->name, em_cell_title(b));
        sb_line(sb, " *     input %d, hidden %d%s, %d layer%s, %s%s.", b->input_size,
                b->hidden_size, proj, b->num_layers, b->num_layers > 1 ? "s" : "",
                b->dirs == 2 ? "bidirectional" : "unidirectional", b->bias ? "" : ", no bias");
    }
    if (net->head.present) {
        static const char *const acts[] = {"none", "softmax", "sigmoid"};
        const Head *h = &net->head;
        sb_line(sb, " *   head %s: Linear(%d, %d), input %s, activation %s.", h->name,
                h->in_features, h->out_features, h->input == HEAD_LAST ? "last" : "sequence",
                acts[h->activation]);
    }
}

static void emit_header(Emitter *e, const char *header_name)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const char *n = net->name;
    char N[80];
    em_upper(N, n, sizeof N);
    const Head *hd = &net->head;
    int per_step = !hd->present || hd->input == HEAD_SEQUENCE;
    const char *real = net->dbl ? "double" : "float";
    sb_line(sb, "/* %s - generated by rnnc from %s: do not edit.", header_name,
            em_base_name(net->file));
    em_summary(e);
    sb_line(sb, " *");
    sb_line(sb, " * Usage (weights from the caller's memory, PyTorch state_dict order):");
    sb_line(sb, " *     static %s packed[%s_NUM_PACKED];", real, N);
    sb_line(sb, " *     %s_pack(params, packed); // params: %s_NUM_PARAMS values", n, N);
    sb_line(sb, " *     void *scratch = malloc(%s_scratch_bytes(B, T));", n);
    sb_line(sb, " *     %s_forward(packed, x, lengths, B, T, y, h_n, c_n, scratch);", n);
    em_header_open(e, N);
    sb_line(sb, "#define %s_INPUT_SIZE %d", N, net->input_size);
    sb_line(sb, "#define %s_OUTPUT_SIZE %d /* features of y per %s */", N, net->out_size,
            per_step ? "sequence and step" : "sequence");
    sb_line(sb, "#define %s_OUTPUT_PER_STEP %d /* y is (B, T, O) [or (T, B, O)], else (B, O) */",
            N, per_step);
    sb_line(sb, "#define %s_BATCH_FIRST %d", N, net->batch_first);
    sb_line(sb, "#define %s_STATE_LAYERS %d /* h_n, c_n: (STATE_LAYERS, B, size) */", N,
            p->top_layers * p->top_dirs);
    sb_line(sb,
            "#define %s_STATE_SIZE %d /* h_n's size: hidden (or projection) of the top "
            "block */",
            N, p->top_hr);
    const Block *top = &net->blocks[net->nblocks - 1];
    sb_line(sb, "#define %s_CELL_SIZE %d /* c_n's size; 0: the top block is not an LSTM */", N,
            top->cell == CELL_LSTM ? top->hidden_size : 0);
    sb_line(sb, "#define %s_NUM_PARAMS %ld /* PyTorch's parameter count */", N, p->nparams);
    sb_line(sb, "#define %s_NUM_PACKED %ld /* after packing: biases merged */", N, p->npacked);
    sb_line(sb, "%s", "");
    sb_line(sb, "typedef %s %s_real;", real, n);
    sb_line(sb, "%s", "");
    sb_line(sb,
            "/* The flat parameter block `params` holds the state_dict tensors in this order,");
    sb_line(sb, " * each in PyTorch's own (row-major) layout:");
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        if (t->ndim == 2)
            sb_line(sb, " *   %-28s (%ld, %ld) at %ld", t->name, t->shape[0], t->shape[1],
                    t->offset);
        else
            sb_line(sb, " *   %-28s (%ld) at %ld", t->name, t->shape[0], t->offset);
    }
    sb_line(sb, " */");
    sb_line(sb, "%s", "");
    sb_line(sb, "/* Rearranges `params` (NUM_PARAMS values, the order above) into `packed`");
    sb_line(sb,
            " * (NUM_PACKED values): weights transposed for the kernels, b_ih + b_hh merged. */");
    sb_line(sb, "void %s_pack(const %s_real *params, %s_real *packed);", n, n, n);
    sb_line(sb, "%s", "");
    sb_line(sb, "/* Bytes of scratch memory %s_forward needs for B sequences of T steps. */", n);
    sb_line(sb, "long %s_scratch_bytes(int B, int T);", n);
    sb_line(sb, "%s", "");
    sb_line(sb, "/* Runs the network on B sequences of up to T steps.");
    sb_line(sb, " *   packed   the weights from %s_pack", n);
    sb_line(sb, " *   x        input, %s",
            net->batch_first ? "(B, T, INPUT_SIZE)" : "(T, B, INPUT_SIZE)");
    sb_line(sb, " *   lengths  (B) steps of each sequence, 1..T, in any order; NULL: all T.");
    sb_line(sb,
            " *            As PyTorch's pack_padded_sequence: outputs past a length are zero,");
    sb_line(sb, " *            the final state is the state at the sequence's own last step.");
    if (per_step)
        sb_line(sb, " *   y        output, %s, zero past each length",
                net->batch_first ? "(B, T, OUTPUT_SIZE)" : "(T, B, OUTPUT_SIZE)");
    else
        sb_line(sb, " *   y        output, (B, OUTPUT_SIZE)");
    sb_line(sb, " *   h_n      NULL, or (STATE_LAYERS, B, STATE_SIZE): final h of the top block");
    sb_line(sb, " *   c_n      NULL, or (STATE_LAYERS, B, CELL_SIZE): final c (LSTM only)");
    sb_line(sb, " *   scratch  %s_scratch_bytes(B, T) bytes, aligned for %s", n, real);
    sb_line(sb, " * Returns 0, or -1 when B or T is below 1 or a length is outside 1..T.");
    sb_line(sb, " * No allocation, no global state: calls may run concurrently. */");
    sb_line(sb, "int %s_forward(const %s_real *packed, const %s_real *x,", n, n, n);
    sb_line(sb, "    const int *lengths, int B, int T, %s_real *y,", n);
    sb_line(sb, "    %s_real *h_n, %s_real *c_n, void *scratch);", n, n);
    sb_line(sb, "%s", "");
    sb_line(sb, "/* As %s_forward, for part `part` of `nparts` only, so that parts can run on",
            n);
    sb_line(sb, " * as many threads at once, each with its own scratch; together they give");
    sb_line(sb, " * %s_forward's results, bit for bit. Without sync (NULL), a part is every", n);
    sb_line(sb, " * nparts-th sequence, longest first, through every layer: it writes only those");
    sb_line(sb, " * sequences' outputs and needs no other part (shared = its own scratch). With");
    sb_line(sb, " * sync, every part calls sync(ctx) between layers (a barrier of nparts threads),");
    sb_line(sb, " * the layers' outputs live in `shared` (one part's scratch, the same for all),");
    sb_line(sb, " * and the two directions of a bidirectional layer go to parts 0 and 1 with every");
    sb_line(sb, " * sequence, so that even one sequence runs on two threads. */");
    sb_line(sb, "int %s_forward_par(const %s_real *packed, const %s_real *x,", n, n, n);
    sb_line(sb, "    const int *lengths, int B, int T, %s_real *y, %s_real *h_n,", n, n);
    sb_line(sb, "    %s_real *c_n, void *scratch, void *shared, int part, int nparts,", n);
    sb_line(sb, "    void (*sync)(void *), void *ctx);");
    sb_line(sb, "%s", "");
    em_header_close(e, N);
}

/* Appends template section `name` with its holes filled. */
void em_section(Emitter *e, const char *name)
{
    char marker[64];
    snprintf(marker, sizeof marker, "/* @@ %s */\n", name);
    const char *s = strstr(rnnc_tpl_prelude, marker);
    assert(s);
    s += strlen(marker);
    const char *end = strstr(s, "/* @@ ");
    size_t n = end ? (size_t)(end - s) : strlen(s);
    while (n) {
        const char *holes[][2] = {
            {"RNNC_EXP", e->exp_fn}, {"RNNC_TANH", e->tanh_fn}, {"RNNC_ONE", e->one},
            {"RNNC_ZERO", e->zero},  {"RNNC_FN ", e->fn},
        };
        int hit = 0;
        for (size_t h = 0; h < sizeof holes / sizeof holes[0]; h++) {
            size_t hl = strlen(holes[h][0]);
            if (n >= hl && strncmp(s, holes[h][0], hl) == 0) {
                sb_puts(e->sb, holes[h][1]);
                s += hl;
                n -= hl;
                hit = 1;
                break;
            }
        }
        if (!hit) {
            sb_printf(e->sb, "%c", *s);
            s++;
            n--;
        }
    }
}

static void emit_banner(Emitter *e, const char *header_name)
{
    const Net *net = e->p->net;
    Sb *sb = e->sb;
    char cname[128];
    snprintf(cname, sizeof cname, "%s", header_name);
    char *dot = strrchr(cname, '.');
    if (dot && strcmp(dot, ".h") == 0)
        strcpy(dot, ".c");
    sb_line(sb, "/* %s - generated by rnnc from %s: do not edit.", cname, em_base_name(net->file));
    em_summary(e);
    sb_line(sb, " * The API is documented in %s. */", header_name);
    sb_line(sb, "%s", "");
}

static void emit_body(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    int dbl = net->dbl;
    int use_sig = 0, use_tanh = 0, use_relu = 0, use_softmax = 0;
    for (int i = 0; i < net->nblocks; i++) {
        const Block *b = &net->blocks[i];
        if (b->cell != CELL_RNN)
            use_sig = use_tanh = 1;
        else if (b->nonlin == NONLIN_RELU)
            use_relu = 1;
        else
            use_tanh = 1;
    }
    if (net->head.present && net->head.activation == ACT_SIGMOID)
        use_sig = 1;
    if (net->head.present && net->head.activation == ACT_SOFTMAX)
        use_softmax = 1;
    sb_line(sb, "typedef %s_real real;", net->name);
    sb_line(sb, "%s", "");
    if (e->dep) {
        em_section(e, "nolib");
        em_weights(e);
    }
    if (net->math_builtin) {
        if (use_sig || use_softmax || use_tanh)
            em_section(e, dbl ? "exp_f64" : "exp_f32");
        if (use_tanh)
            em_section(e, dbl ? "tanh_f64" : "tanh_f32");
    } else {
        sb_line(sb, "/* libm, declared rather than included so a JIT needs no system headers */");
        if (use_sig || use_softmax)
            sb_line(sb, "%s %s(%s);", dbl ? "double" : "float", dbl ? "exp" : "expf",
                    dbl ? "double" : "float");
        if (use_tanh)
            sb_line(sb, "%s %s(%s);", dbl ? "double" : "float", dbl ? "tanh" : "tanhf",
                    dbl ? "double" : "float");
        sb_line(sb, "%s", "");
    }
    if (use_sig)
        em_section(e, "sigmoid");
    if (use_tanh)
        em_section(e, "tanh");
    if (use_relu)
        em_section(e, "relu");
    if (use_softmax)
        em_section(e, "softmax");
    em_section(e, "pack");
    if (!e->dep)
        em_section(e, "part");
    em_section(e, "vec");
    if (!e->dep && p->xp_width)
        em_madd(e);
    if (e->train)
        em_train_mem(e);
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir == 0 && em_split(e, L)) {
            em_kern_layer(e, L);
            if (e->train)
                em_train_cells(e, L);
        } else if (L->dir == 0) {
            em_cell(e, L);
            emit_seq(e, L);
            if (e->train)
                em_train_cells(e, L);
        }
    }
    if (net->head.present)
        emit_head(e);
    if (!e->dep)
        em_pack(e, 0);
    emit_forward(e);
    if (e->train)
        em_train_api(e);
    if (e->dep)
        em_deploy_api(e);
}

static int emit_all(const Plan *plan, const char *header_name, const EmitDeploy *dep, int train,
                    int for_tcc, CUnit *out, DiagList *d)
{
    Sb sb;
    int dbl = plan->net->dbl, own = plan->net->math_builtin;
    Emitter e = {.sb = &sb, .p = plan, .dep = dep};
    e.one = dbl ? "1.0" : "1.0f";
    e.zero = dbl ? "0.0" : "0.0f";
    e.exp_fn = own ? (dbl ? "m_exp" : "m_expf") : (dbl ? "exp" : "expf");
    e.tanh_fn = own ? (dbl ? "m_tanh" : "m_tanhf") : (dbl ? "tanh" : "tanhf");
    e.fn = dep ? "RNNC_NOLIB " : "";
    e.train = train;
    e.for_tcc = for_tcc;
    memset(out, 0, sizeof *out);
    sb_init(&sb);
    if (dep)
        em_header_deploy(&e, header_name);
    else
        emit_header(&e, header_name);
    out->header = sb_take(&sb);
    sb_init(&sb);
    emit_banner(&e, header_name);
    out->banner = sb_take(&sb);
    sb_init(&sb);
    sb_line(&sb, "#include \"%s\"", header_name);
    sb_line(&sb, "%s", "");
    out->include = sb_take(&sb);
    sb_init(&sb);
    emit_body(&e);
    out->body = sb_take(&sb);
    if (!out->header || !out->banner || !out->body || !out->include) {
        cunit_free(out);
        diag_error(d, span_none(), "out of memory while generating code");
        return -1;
    }
    return 0;
}

int emit_unit(const Plan *plan, const char *header_name, CUnit *out, DiagList *d)
{
    return emit_all(plan, header_name, NULL, 0, 0, out, d);
}

int emit_unit_jit(const Plan *plan, int train, int for_tcc, CUnit *out, DiagList *d)
{
    return emit_all(plan, "model.h", NULL, train, for_tcc, out, d);
}

int emit_unit_train(const Plan *plan, CUnit *out, DiagList *d)
{
    return emit_all(plan, "model.h", NULL, 1, 0, out, d);
}

int emit_unit_deploy(const Plan *plan, const char *header_name, const EmitDeploy *dep, CUnit *out,
                     DiagList *d)
{
    return emit_all(plan, header_name, dep, 0, 0, out, d);
}

void cunit_free(CUnit *u)
{
    free(u->header);
    free(u->banner);
    free(u->body);
    free(u->include);
    memset(u, 0, sizeof *u);
}

char *cunit_join(const CUnit *u)
{
    size_t nh = strlen(u->header), na = strlen(u->banner), nb = strlen(u->body);
    char *s = malloc(nh + na + nb + 1);
    if (s) {
        memcpy(s, u->header, nh);
        memcpy(s + nh, u->banner, na);
        memcpy(s + nh + na, u->body, nb + 1);
    }
    return s;
}

void em_header_open(Emitter *e, const char *N)
{
    sb_line(e->sb, " */");
    sb_line(e->sb, "#ifndef %s_H", N);
    sb_line(e->sb, "#define %s_H", N);
    sb_line(e->sb, "%s", "");
    sb_line(e->sb, "#ifdef __cplusplus");
    sb_line(e->sb, "extern \"C\" {");
    sb_line(e->sb, "#endif");
    sb_line(e->sb, "%s", "");
}

void em_header_close(Emitter *e, const char *N)
{
    sb_line(e->sb, "#ifdef __cplusplus");
    sb_line(e->sb, "}");
    sb_line(e->sb, "#endif");
    sb_line(e->sb, "%s", "");
    sb_line(e->sb, "#endif /* %s_H */", N);
}
