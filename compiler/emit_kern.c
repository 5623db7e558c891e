/* emit_kern.c — batched kernels for the loop layers of the run-time API (deployed code and
 * unrolled layers keep the fused one-sequence cell of emit.c). A step splits in two:
 *
 *   <fn>_proj<n>  xp = b + W_ih^T x for n (step, sequence) pairs at once: the input
 *                 projection of every live step, done before the recurrence;
 *   <fn>_rec<n>   g = xp + W_hh^T h for n live sequences of one step, then the gates
 *                 (<fn>_recc<n> also keeps the activations for backward, over xp).
 *
 * A product holds an n x 64 block of outputs in accumulators across its whole reduction, so
 * each weight row is loaded once for n sequences (gcc keeps the block in vector registers);
 * every output still sees the same additions in the same order as em_product's, so results
 * are bit-identical to the fused cell's, block or no block.
 */
#include <stdio.h>

#include "emit_int.h"

/* MADD(acc, w, v) = acc + w * v of the batched products: fused, with one rounding, where
 * the compiler says a fused multiply-add is fast (-march with FMA) unless RNNC_STRICT is
 * defined; else the multiply and add of the fused cell, whose results it then repeats bit
 * for bit (libtcc, plain builds). */
void em_madd(Emitter *e)
{
    Sb *sb = e->sb;
    int dbl = e->p->net->dbl;
    sb_line(sb, "/* acc + w * v in the batched products: fused where the compiler says fused");
    sb_line(sb, " * multiply-add is fast, unless RNNC_STRICT is defined. */");
    sb_line(sb, "#if defined(__FP_FAST_FMA%s) && !defined(RNNC_STRICT)", dbl ? "" : "F");
    sb_line(sb, "#define MADD(acc, w, v) __builtin_fma%s(w, v, acc)", dbl ? "" : "f");
    sb_line(sb, "#else");
    sb_line(sb, "#define MADD(acc, w, v) ((acc) + (w) * (v))");
    sb_line(sb, "#endif");
    sb_line(sb, "%s", "");
}

/* Whether layer L takes the split, batched path. */
int em_split(const Emitter *e, const PlanLayer *L)
{
    return !e->dep && !L->unrolled;
}

/* Sequences per block of the batched kernels (1 for libtcc, which keeps nothing in
 * registers), and columns per accumulator block: 6 x 64 floats are 24 AVX-512 registers. */
int em_block(const Emitter *e)
{
    return e->for_tcc ? 1 : 6;
}
enum { JB = 64 };

/* One column range [c0, c0 + count * width) of em_product_blk, in chunks of `width`. */
static void emit_chunks(Emitter *e, int ns, const char *dst, long dst0, long c0, long count,
                        long width, const char *init, int init_ps, long init0, const Term *terms,
                        int nterms)
{
    Sb *sb = e->sb;
    if (count == 1)
        sb_line(sb, "{");
    else
        sb_line(sb, "for (int jc = %ld; jc < %ld; jc += %ld) {", c0, c0 + count * width, width);
    sb->indent += 4;
    if (count == 1)
        sb_line(sb, "const int jc = %ld;", c0);
    sb_line(sb, "real acc[%d][%ld];", ns, width);
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", width);
    if (!init)
        sb_line(sb, "        acc[s][j] = %s;", e->zero);
    else
        sb_line(sb, "        acc[s][j] = %s%s[%s];", init, init_ps ? "[s]" : "", em_ix(e, init0, -2));
    for (int t = 0; t < nterms; t++) {
        const Term *tm = &terms[t];
        sb_line(sb, "for (int k = 0; k < %ld; k++) {", tm->K);
        if (tm->col0)
            sb_line(sb, "    const real *wk = %s + k * %ld + %ld + jc;", tm->w, tm->row, tm->col0);
        else
            sb_line(sb, "    const real *wk = %s + k * %ld + jc;", tm->w, tm->row);
        sb_line(sb, "    for (int s = 0; s < %d; s++) {", ns);
        sb_line(sb, "        const real vk = %s[s][k];", tm->v);
        sb_line(sb, "        for (int j = 0; j < %ld; j++)", width);
        sb_line(sb, "            acc[s][j] = MADD(acc[s][j], wk[j], vk);");
        sb_line(sb, "    }");
        sb_line(sb, "}");
    }
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", width);
    sb_line(sb, "        %s[s][%s] = acc[s][j];", dst, em_ix(e, dst0, -2));
    sb->indent -= 4;
    sb_line(sb, "}");
}

/* For s < ns and c < n: dst[s][dst0 + c] = init (shared: init[init0 + c]; per sequence
 * when init_ps: init[s][init0 + c]; 0 when NULL) + the terms' products, each term's vector
 * being v[s]. The order of additions is em_product's. */
void em_product_blk(Emitter *e, int ns, const char *dst, long dst0, long n, const char *init,
                    int init_ps, long init0, const Term *terms, int nterms)
{
    Sb *sb = e->sb;
    if (e->for_tcc) {
        /* one sequence at a time, as the fused cell's product */
        sb_line(sb, "for (int s = 0; s < %d; s++) {", ns);
        sb->indent += 4;
        sb_line(sb, "real *d_ = %s[s];", dst);
        if (init && init_ps)
            sb_line(sb, "const real *i_ = %s[s];", init);
        Term ts[4];
        static const char *const vn[4] = {"v0_", "v1_", "v2_", "v3_"};
        for (int t = 0; t < nterms; t++) {
            ts[t] = terms[t];
            ts[t].v = vn[t];
            sb_line(sb, "const real *%s = %s[s];", vn[t], terms[t].v);
        }
        em_product(e, 0, "d_", dst0, n, init && init_ps ? "i_" : init, init0, ts, nterms);
        sb->indent -= 4;
        sb_line(sb, "}");
        return;
    }
    /* one sequence: more columns at once, for independent chains of additions */
    long jb = ns == 1 ? 4 * JB : JB;
    if (n / jb)
        emit_chunks(e, ns, dst, dst0, 0, n / jb, jb, init, init_ps, init0, terms, nterms);
    if (n % jb)
        emit_chunks(e, ns, dst, dst0, n / jb * jb, 1, n % jb, init, init_ps, init0, terms,
                    nterms);
}

/* <fn>_proj<ns>: the input projection of ns (step, sequence) pairs. */
static void emit_proj(Emitter *e, const PlanLayer *L, int ns)
{
    Sb *sb = e->sb;
    long GH = (long)L->G * L->H;
    sb_line(sb, "/* %s layer %d: the input projection b + W_ih^T x of %d (step, sequence) pair%s. */",
            L->block->name, L->layer, ns, ns > 1 ? "s" : "");
    sb_line(sb, "static void %s_proj%d(const real *w, const real *const *xs, real *const *ps)",
            L->fn, ns);
    sb_line(sb, "{");
    sb->indent += 4;
    if (L->pk_b >= 0)
        sb_line(sb, "const real *b = w;");
    sb_line(sb, "const real *wx = w + %ld; /* W_ih^T (%d, %ld) */", L->pk_wx - L->pk, L->I, GH);
    Term tx = {"wx", "xs", L->I, GH, 0};
    em_product_blk(e, ns, "ps", 0, GH, L->pk_b >= 0 ? "b" : NULL, 0, 0, &tx, 1);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* <fn>_rec<ns> (<fn>_recc<ns> with e->cache): the rest of one step for ns sequences. */
static void emit_rec(Emitter *e, const PlanLayer *L, int ns)
{
    Sb *sb = e->sb;
    const Block *blk = L->block;
    long H = L->H, GH = (long)L->G * H, Hr = L->Hr;
    int lstm = blk->cell == CELL_LSTM, gru = blk->cell == CELL_GRU;
    int after = gru && blk->reset == RESET_AFTER;
    sb_line(sb, "/* %s layer %d: one step of %d sequence%s from their input projections xp: %s.",
            blk->name, L->layer, ns, ns > 1 ? "s" : "", em_cell_title(blk));
    if (e->cache)
        sb_line(sb, " * The activations overwrite xp (the training cache's a). */");
    else
        sb_line(sb, " * Reads ps[s] (xp), updates hs[s]%s. */", lstm ? " and cs[s]" : "");
    sb_line(sb, "static void %s_rec%s%d(const real *w, real *const *ps, real *const *hs%s%s)",
            L->fn, e->cache ? "c" : "", ns, lstm ? ", real *const *cs" : "",
            e->cache && after ? ", real *const *exs" : "");
    sb_line(sb, "{");
    sb->indent += 4;
    if (L->pk_bhn >= 0)
        sb_line(sb, "const real *bhn = w + %ld;", L->pk_bhn - L->pk);
    sb_line(sb, "const real *wh = w + %ld; /* W_hh^T (%ld, %ld) */", L->pk_wh - L->pk, Hr, GH);
    if (L->pk_wr >= 0)
        sb_line(sb, "const real *wr = w + %ld; /* W_hr^T (%ld, %d) */", L->pk_wr - L->pk, H, L->P);
    sb_line(sb, "real gb[%d][%ld];", ns, GH);
    Term th = {"wh", "hs", Hr, GH, 0};
    if (!gru) {
        em_product_blk(e, ns, "gb", 0, GH, "ps", 1, 0, &th, 1);
    } else if (after) {
        sb_line(sb, "real ghb[%d][%ld]; /* W_hn h + b_hn, kept apart for r * (...) */", ns, H);
        em_product_blk(e, ns, "gb", 0, 2 * H, "ps", 1, 0, &th, 1);
        em_product_blk(e, ns, "gb", 2 * H, H, "ps", 1, 2 * H, NULL, 0);
        Term nh = {"wh", "hs", Hr, GH, 2 * H};
        em_product_blk(e, ns, "ghb", 0, H, L->pk_bhn >= 0 ? "bhn" : NULL, 0, 0, &nh, 1);
    } else {
        sb_line(sb, "real rhb[%d][%ld]; /* r * h, before the recurrent product */", ns, H);
        em_product_blk(e, ns, "gb", 0, 2 * H, "ps", 1, 0, &th, 1);
        sb_line(sb, "for (int s = 0; s < %d; s++) {", ns);
        sb->indent += 4;
        sb_line(sb, "const real *g = gb[s], *h = hs[s];");
        sb_line(sb, "real *rh = rhb[s];");
        if (e->cache)
            sb_line(sb, "real *a = ps[s];");
        em_units(e, L, H, em_reset_unit);
        sb->indent -= 4;
        sb_line(sb, "}");
        Term nr = {"wh", "rhb", Hr, GH, 2 * H};
        em_product_blk(e, ns, "gb", 2 * H, H, "ps", 1, 2 * H, &nr, 1);
    }
    sb_line(sb, "for (int s = 0; s < %d; s++) {", ns);
    sb->indent += 4;
    sb_line(sb, "const real *g = gb[s];");
    if (after)
        sb_line(sb, "const real *gh = ghb[s];");
    sb_line(sb, "real *h = hs[s];");
    if (lstm)
        sb_line(sb, "real *c = cs[s];");
    if (e->cache)
        sb_line(sb, "real *a = ps[s];");
    if (e->cache && after)
        sb_line(sb, "real *ex = exs[s];");
    if (L->P)
        sb_line(sb, "real m[%ld]; /* o * tanh(c), before the projection */", H);
    em_units(e, L, H, em_gates_unit);
    if (L->P) {
        Term tr = {"wr", "m", H, L->P, 0};
        em_product(e, 0, "h", 0, L->P, NULL, 0, &tr, 1);
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* The driver over a packed batch, as emit.c's <fn>_seq (or with e->cache emit_train.c's
 * <fn>_seqc): every live step's input projection first, then the recurrence. */
static void emit_seq_split(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    int ns = em_block(e), lstm = L->block->cell == CELL_LSTM;
    int after = L->block->cell == CELL_GRU && L->block->reset == RESET_AFTER;
    long H = L->H, GH = (long)L->G * H;
    const char *xp = e->cache ? "a" : "xp";
    if (e->cache) {
        sb_line(sb, "/* %s layer %d over a packed batch, as %s_seq, also keeping the", L->block->name,
                L->layer, L->fn);
        sb_line(sb, " * activations a (B, T, %ld)%s for backward. */", GH,
                lstm ? " and the cell states cs (B, T, H)" : after ? " and ex (B, T, H)" : "");
        sb_line(sb,
                "static void %s_seqc(const real *w, const real *x, long xsb, long xst, real *y,",
                L->fn);
        sb_line(sb, "    long ysb, long yst, int T, const int *bs, const int *perm, real *h,%s",
                lstm    ? " real *c, real *cs,"
                : after ? " real *ex,"
                        : "");
        sb_line(sb, "    real *a, int reverse)");
    } else {
        sb_line(sb, "/* %s layer %d over a packed batch, one direction (reverse: from each",
                L->block->name, L->layer);
        sb_line(sb, " * sequence's own last step). x (I=%d) and y (%d) per step by strides;", L->I,
                L->Hr);
        sb_line(sb, " * h (B, %d)%s the state; xp (B, T, %ld) is scratch. */", L->Hr,
                lstm ? " and c (B, H) carry" : " carries", GH);
        sb_line(sb, "static void %s_seq(const real *w, const real *x, long xsb, long xst,", L->fn);
        sb_line(sb,
                "    real *y, long ysb, long yst, int T, const int *bs, const int *perm, "
                "real *h,%s",
                lstm ? " real *c," : "");
        sb_line(sb, "    real *xp, int reverse)");
    }
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "const real *xs[%d];", ns);
    sb_line(sb, "real *ps[%d], *hs[%d];", ns, ns);
    if (lstm)
        sb_line(sb, "real *cs_[%d];", ns);
    if (e->cache && after)
        sb_line(sb, "real *exs[%d];", ns);
    if (ns > 1) {
        long pad = GH + L->Hr + (lstm ? H : 0) + (e->cache && after ? H : 0);
        sb_line(sb, "real pad[%ld]; /* what the unused lanes of a last, partial block touch */",
                pad);
        sb_line(sb, "vec_zero(pad, %ld);", pad);
    }
    sb_line(sb, "int n = 0;");
    sb_line(sb, "/* the input projections of every live step, %d pairs at a time */", ns);
    sb_line(sb, "for (int t = 0; t < T; t++)");
    sb_line(sb, "    for (int i = 0; i < bs[t]; i++) {");
    sb_line(sb, "        const int b = perm[i];");
    sb_line(sb, "        xs[n] = x + b * xsb + t * xst;");
    sb_line(sb, "        ps[n] = %s + ((long)b * T + t) * %ld;", xp, GH);
    sb_line(sb, "        if (++n == %d) {", ns);
    sb_line(sb, "            %s_proj%d(w, xs, ps);", L->fn, ns);
    sb_line(sb, "            n = 0;");
    sb_line(sb, "        }");
    sb_line(sb, "    }");
    if (ns > 1) {
        sb_line(sb, "for (int i = 0; i < n; i++)");
        sb_line(sb, "    %s_proj1(w, xs + i, ps + i);", L->fn);
    }
    sb_line(sb, "/* the recurrence: step by step, %d live sequences at a time */", ns);
    sb_line(sb, "for (int s = 0; s < T; s++) {");
    sb->indent += 4;
    sb_line(sb, "const int t = reverse ? T - 1 - s : s;");
    sb_line(sb, "for (int i = 0; i < bs[t]; i += n) {");
    sb->indent += 4;
    if (ns > 1)
        sb_line(sb, "n = bs[t] - i >= %d ? %d : bs[t] - i;", ns, ns);
    else
        sb_line(sb, "n = 1;");
    sb_line(sb, "for (int q = 0; q < n; q++) {");
    sb_line(sb, "    const int b = perm[i + q];");
    sb_line(sb, "    ps[q] = %s + ((long)b * T + t) * %ld;", xp, GH);
    sb_line(sb, "    hs[q] = h + (long)b * %d;", L->Hr);
    if (lstm)
        sb_line(sb, "    cs_[q] = c + (long)b * %ld;", H);
    if (e->cache && after)
        sb_line(sb, "    exs[q] = ex + ((long)b * T + t) * %ld;", H);
    sb_line(sb, "}");
    char args[64];
    snprintf(args, sizeof args, "w, ps, hs%s%s", lstm ? ", cs_" : "",
             e->cache && after ? ", exs" : "");
    const char *rec = e->cache ? "recc" : "rec";
    if (ns > 1) {
        /* a partial block of two or more still runs as a block, its unused lanes on pad */
        sb_line(sb, "for (int q = n; q < %d; q++) {", ns);
        sb_line(sb, "    ps[q] = pad;");
        sb_line(sb, "    hs[q] = pad + %ld;", GH);
        if (lstm)
            sb_line(sb, "    cs_[q] = pad + %ld;", GH + L->Hr);
        if (e->cache && after)
            sb_line(sb, "    exs[q] = pad + %ld;", GH + L->Hr);
        sb_line(sb, "}");
        sb_line(sb, "if (n > 1)");
        sb_line(sb, "    %s_%s%d(%s);", L->fn, rec, ns, args);
        sb_line(sb, "else");
        sb_line(sb, "    %s_%s1(%s);", L->fn, rec, args);
    } else {
        sb_line(sb, "%s_%s1(%s);", L->fn, rec, args);
    }
    sb_line(sb, "for (int q = 0; q < n; q++) {");
    sb_line(sb, "    const int b = perm[i + q];");
    sb_line(sb, "    vec_copy(y + b * ysb + t * yst, hs[q], %d);", L->Hr);
    if (e->cache && lstm)
        sb_line(sb, "    vec_copy(cs + ((long)b * T + t) * %ld, cs_[q], %ld);", H, H);
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* A split layer's inference functions: proj, rec and seq. */
void em_kern_layer(Emitter *e, const PlanLayer *L)
{
    int ns = em_block(e);
    emit_proj(e, L, 1);
    if (ns > 1)
        emit_proj(e, L, ns);
    emit_rec(e, L, 1);
    if (ns > 1)
        emit_rec(e, L, ns);
    emit_seq_split(e, L);
}

/* A split layer's training forward: recc and seqc (the proj functions are shared). */
void em_kern_train(Emitter *e, const PlanLayer *L)
{
    int ns = em_block(e);
    e->cache = 1;
    emit_rec(e, L, 1);
    if (ns > 1)
        emit_rec(e, L, ns);
    emit_seq_split(e, L);
    e->cache = 0;
}
