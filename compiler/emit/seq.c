/* seq.c — a layer over a packed batch: the one-sequence drivers (<fn>_seq, and for
 * training <fn>_seqc, <fn>_seqb) around the cell step, and the batched kernels of the loop
 * layers of the run-time API (deployed code and unrolled layers keep the fused
 * one-sequence cell of cell.c). A batched step splits in two:
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

/* Whether layer L takes the split, batched path. */
int em_split(const Emitter *e, const PlanLayer *L)
{
    return !e->dep && L->split;
}

/* Whether nothing reaches layer L's outputs from above but the head's gradient of the last
 * state, which backward puts in dL/dh before the first step (seqb_begin): its dy is zero,
 * neither cleared nor read (its seqb is passed 0). */
int em_dy_zero(const Emitter *e, const PlanLayer *L)
{
    const Head *hd = &e->p->net->head;
    return L->top && L->last_layer && hd->present && hd->input == HEAD_LAST;
}

/* Whether layer L's backward sets dL/dx rather than adding to it: one direction, batched,
 * so that each (sequence, step) of it is written once, by one block's bx (both directions
 * add theirs, and so does the per-sequence path, into an input gradient cleared first). */
int em_dx_set(const Emitter *e, const PlanLayer *L)
{
    return em_split(e, L) && L->block->dirs == 1;
}

/* <fn>_proj<ns>: the input projection of ns (step, sequence) pairs. */
static void proj_kernel(Emitter *e, const PlanLayer *L, int ns)
{
    Sb *sb = e->sb;
    long GH = (long)L->G * L->H;
    sb_line(sb,
            "/* %s layer %d: the input projection b + W_ih^T x of %d (step, sequence) pair%s. */",
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
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* libtcc's block kernels take the count of live sequences, n <= ns (rnnc_product_blk runs
 * any count), so that a partial block costs only its own sequences; the system compiler's
 * (register blocks of ns) run a partial block on padding. */
static int blk_live(const Emitter *e, int ns)
{
    return e->tcc_calls && ns > 1;
}

/* <fn>_rec<ns> (<fn>_recc<ns> with e->cache): the rest of one step for ns sequences (with
 * blk_live, its first n). */
static void rec_kernel(Emitter *e, const PlanLayer *L, int ns)
{
    Sb *sb = e->sb;
    const Block *blk = L->block;
    long H = L->H, GH = (long)L->G * H, Hr = L->Hr;
    int lstm = blk->cell == CELL_LSTM, gru = blk->cell == CELL_GRU;
    int after = gru && blk->reset == RESET_AFTER;
    sb_line(sb, "/* %s layer %d: one step of %d sequence%s from their input projections xp: %s.",
            blk->name, L->layer, ns, ns > 1 ? "s" : "", cell_desc(blk)->title);
    if (e->cache)
        sb_line(sb, " * The activations overwrite xp (the training cache's a). */");
    else
        sb_line(sb, " * Reads ps[s] (xp), updates hs[s]%s. */", lstm ? " and cs[s]" : "");
    int live = blk_live(e, ns);
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%d", ns);
    sb_line(sb, "static void %s_rec%s%d(const real *w, real *const *ps, real *const *hs%s%s%s)",
            L->fn, e->cache ? "c" : "", ns, lstm ? ", real *const *cs" : "",
            e->cache && after ? ", real *const *exs" : "", live ? ", int n" : "");
    sb_line(sb, "{");
    sb->indent += 4;
    e->blk_n = live ? "n" : NULL;
    const char *nn = live ? "n" : cnt;
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
        sb_line(sb, "for (int s = 0; s < %s; s++) {", nn);
        sb->indent += 4;
        sb_line(sb, "const real *g = gb[s], *h = hs[s];");
        sb_line(sb, "real *rh = rhb[s];");
        if (e->cache)
            sb_line(sb, "real *a = ps[s];");
        if (e->vacts)
            em_acts_reset(e, L, "gb[s]");
        e->acts_done = e->vacts;
        em_units(e, L, H, em_reset_unit);
        e->acts_done = 0;
        sb_close(sb, 1);
        Term nr = {"wh", "rhb", Hr, GH, 2 * H};
        em_product_blk(e, ns, "gb", 2 * H, H, "ps", 1, 2 * H, &nr, 1);
    }
    e->blk_n = NULL;
    sb_line(sb, "for (int s = 0; s < %s; s++) {", nn);
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
    if (e->vacts)
        em_gates_vec(e, L, "gb[s]");
    else
        em_units(e, L, H, em_gates_unit);
    if (L->P) {
        Term tr = {"wr", "m", H, L->P, 0};
        em_product(e, 0, "h", 0, L->P, NULL, 0, &tr, 1);
    }
    sb_close(sb, 2);
    sb_line(sb, "%s", "");
}

/* The signature of <fn>_seqc, the forward over a packed batch that keeps the activations
 * (and the cell's extra state) for backward; the split and the one-sequence drivers share it. */
static void seqc_signature(Emitter *e, const PlanLayer *L)
{
    const CellDesc *cd = cell_desc(L->block);
    sb_line(e->sb,
            "static void %s_seqc(const real *w, const real *x, long xsb, long xst, real *y,",
            L->fn);
    sb_line(e->sb, "    long ysb, long yst, int T, const int *bs, const int *perm, real *h,%s",
            cd->has_c    ? " real *c, real *cs,"
            : cd->has_gh ? " real *ex,"
                         : "");
    sb_line(e->sb, "    real *a, int reverse)");
}

/* Asks (into L2) for the row of `reals` reals at `ptr`, when `cond` (NULL: always): in the
 * system compiler's units a RNNC_PREFETCH_L2 per cache line, in libtcc's, which have no
 * prefetch of their own, one call to rnnc_prefetch_l2 (compiled ahead of time, jit_kern.c). */
static void prefetch_row(Emitter *e, const char *cond, const char *ptr, long reals)
{
    Sb *sb = e->sb;
    long rs = e->p->real_size;
    const char *in = cond ? "    " : "";
    if (cond)
        sb_line(sb, "if (%s)", cond);
    if (e->for_tcc)
        sb_line(sb, "%srnnc_prefetch_l2(%s, %ld);", in, ptr, reals * rs);
    else {
        sb_line(sb, "%sfor (int q = 0; q < %ld; q += %ld)", in, reals, 64 / rs);
        sb_line(sb, "%s    RNNC_PREFETCH_L2(%s + q);", in, ptr);
    }
}

/* In libtcc's <fn>_seq(c)'s loop over a block's sequences: ask for the rows sequence b
 * reads and writes at the next step, its projection (or activations) and its outputs [and
 * cell state, or ex]. A sequence's rows lie T steps apart from the next one's, so no
 * hardware prefetcher sees them coming; the system compiler's tiles ask for the same rows
 * (tile.c). */
static void seq_prefetch_calls(Emitter *e, const PlanLayer *L, const char *xp)
{
    Sb *sb = e->sb;
    long GH = (long)L->G * L->H;
    char row[96];
    sb_line(sb, "if (s + 1 < T && i + q < bs[tn]) {");
    sb->indent += 4;
    snprintf(row, sizeof row, "%s + ((long)b * T + tn) * %ld", xp, GH);
    prefetch_row(e, NULL, row, GH);
    prefetch_row(e, NULL, "y + b * ysb + tn * yst", L->Hr);
    const CellDesc *cd = cell_desc(L->block);
    if (e->cache && (cd->has_c || cd->has_gh)) {
        snprintf(row, sizeof row, "%s + ((long)b * T + tn) * %d", cd->has_c ? "cs" : "ex", L->H);
        prefetch_row(e, NULL, row, L->H);
    }
    sb->indent -= 4;
    sb_line(sb, "}");
}

/* The driver over a packed batch, as seq_driver's <fn>_seq (or with e->cache seqc_driver's
 * <fn>_seqc): every live step's input projection first, then the recurrence. */
static void seq_split(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    int ns = em_block(e), lstm = L->block->cell == CELL_LSTM;
    int after = L->block->cell == CELL_GRU && L->block->reset == RESET_AFTER;
    long H = L->H, GH = (long)L->G * H;
    const char *xp = e->cache ? "a" : "xp";
    if (e->cache) {
        sb_line(sb, "/* %s layer %d over a packed batch, as %s_seq, also keeping the",
                L->block->name, L->layer, L->fn);
        sb_line(sb, " * activations a (B, T, %ld)%s for backward. */", GH,
                lstm    ? " and the cell states cs (B, T, H)"
                : after ? " and ex (B, T, H)"
                        : "");
        seqc_signature(e, L);
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
    int live = blk_live(e, ns);
    if (ns > 1 && !live) {
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
    if (e->for_tcc)
        sb_line(sb, "const int tn = reverse ? t - 1 : t + 1; /* the next step's time */");
    if (live) { /* blocks of at most ns, their sizes differing by one at most */
        sb_line(sb, "const int nt = (bs[t] + %d) / %d;", ns - 1, ns);
        sb_line(sb, "for (int i = 0, r = 0; r < nt; r++, i += n) {");
    } else
        sb_line(sb, "for (int i = 0; i < bs[t]; i += n) {");
    sb->indent += 4;
    if (live)
        sb_line(sb, "n = bs[t] / nt + (r < bs[t] %% nt);");
    else if (ns > 1)
        sb_line(sb, "n = bs[t] - i >= %d ? %d : bs[t] - i;", ns, ns);
    else
        sb_line(sb, "n = 1;");
    sb_line(sb, "for (int q = 0; q < n; q++) {");
    sb_line(sb, "    const int b = perm[i + q];");
    sb_line(sb, "    ps[q] = %s + ((long)b * T + t) * %ld;", xp, GH);
    sb_line(sb, "    hs[q] = h + (long)b * %ld;", em_hstride(e, L, e->cache));
    if (lstm)
        sb_line(sb, "    cs_[q] = c + (long)b * %ld;", em_cstride(e, L, e->cache));
    if (e->cache && after)
        sb_line(sb, "    exs[q] = ex + ((long)b * T + t) * %ld;", H);
    if (e->for_tcc) { /* libtcc's units: seq_prefetch_calls */
        sb->indent += 4;
        seq_prefetch_calls(e, L, xp);
        sb->indent -= 4;
    }
    sb_line(sb, "}");
    char args[64];
    snprintf(args, sizeof args, "w, ps, hs%s%s", lstm ? ", cs_" : "",
             e->cache && after ? ", exs" : "");
    const char *rec = e->cache ? "recc" : "rec";
    if (live) {
        sb_line(sb, "if (n > 1)");
        sb_line(sb, "    %s_%s%d(%s, n);", L->fn, rec, ns, args);
        sb_line(sb, "else");
        sb_line(sb, "    %s_%s1(%s);", L->fn, rec, args);
    } else if (ns > 1) {
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
    sb_close(sb, 3);
    sb_line(sb, "%s", "");
}

/* A split layer's inference functions: proj, rec and seq. */
void em_kern_layer(Emitter *e, const PlanLayer *L)
{
    if (L->tiled && !e->for_tcc) {
        em_tile_layer(e, L);
        return;
    }
    int ns = em_block(e);
    proj_kernel(e, L, 1);
    if (ns > 1)
        proj_kernel(e, L, ns);
    rec_kernel(e, L, 1);
    if (ns > 1)
        rec_kernel(e, L, ns);
    seq_split(e, L);
}

/* A split layer's training forward: recc and seqc (the proj functions are shared). */
void em_kern_train(Emitter *e, const PlanLayer *L)
{
    int ns = em_block(e);
    e->cache = 1;
    if (L->tiled && !e->for_tcc) {
        em_tile_layer(e, L);
        e->cache = 0;
        return;
    }
    rec_kernel(e, L, 1);
    if (ns > 1)
        rec_kernel(e, L, ns);
    seq_split(e, L);
    e->cache = 0;
}
/* The layer over a packed batch, one direction: step t runs the bs[t] live sequences. */
static void seq_driver(Emitter *e, const PlanLayer *L)
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
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* The layer with a cache over a packed batch: as <fn>_seq, also storing the activations
 * a (B, T, G*H), the cell states cs (B, T, H) of an LSTM, ex (B, T, H) of a GRU (after). */
static void seqc_driver(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H;
    int lstm = cell_desc(L->block)->has_c, after = cell_desc(L->block)->has_gh;
    seqc_signature(e, L);
    sb_line(sb, "{");
    sb_line(sb, "    for (int s = 0; s < T; s++) {");
    sb_line(sb, "        const int t = reverse ? T - 1 - s : s;");
    sb_line(sb, "        for (int i = 0; i < bs[t]; i++) {");
    sb_line(sb, "            const int b = perm[i];");
    sb_line(sb, "            const long bt = (long)b * T + t;");
    sb_line(sb, "            real *hb = h + (long)b * %ld;", em_hstride(e, L, 1));
    if (lstm) {
        sb_line(sb, "            real *cb = c + (long)b * %ld;", em_cstride(e, L, 1));
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
static void seqb_head(Emitter *e, const PlanLayer *L, int bz)
{
    Sb *sb = e->sb;
    int lstm = cell_desc(L->block)->has_c, after = cell_desc(L->block)->has_gh;
    sb_line(sb, "static void %s_seqb(const real *wb, const real *x, long xsb, long xst, real *dx,",
            L->fn);
    sb_line(sb, "    const real *y, const real *dy, long ysb, long yst, int T, int s0, int s1,");
    sb_line(sb,
            "    const int *bs, const int *perm, const int *len, const real *a,%s real *dhn,%s",
            lstm    ? " const real *cs,"
            : after ? " const real *ex,"
                    : "",
            lstm ? " real *dcn," : "");
    sb_line(sb, "    real *dw, const real *h0,%s%s int reverse)", lstm ? " const real *c0," : "",
            bz ? " real *bz, int *nzp, int hand," : "");
}

/* In <fn>_seqb's loop: ask for the rows sequence b reads at the step backward visits next,
 * tp (the step before t in forward order): its activations and c, and h and c before it,
 * into L2 (a step's rows of every sequence outgrow L1: T1's 66 KB).
 * A sequence's rows lie T steps apart from the next sequence's, written by the forward long
 * before, so no hardware prefetcher sees them coming; read cold, they held the gates'
 * derivatives (perf annotate of T1: bdz's loads of a and c_{t-1}) and the copy of h_{t-1}
 * into the weight gradients' scratch. Whenever there is a step before (not only within this
 * call's steps: in parts a call runs one step, and asked nothing). Both builds' units
 * (prefetch_row). */
static void seqb_prefetch(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const CellDesc *cd = cell_desc(L->block);
    long GH = (long)L->G * L->H, H = L->H, Hr = L->Hr;
    char row[96];
    sb_line(sb, "if (!first) {");
    sb->indent += 4;
    sb_line(sb, "const long bn = (long)b * T + tp;");
    sb_line(sb,
            "const int tq = reverse ? tp + 1 : tp - 1, deep = reverse ? tq < len[b] : tq >= 0;");
    snprintf(row, sizeof row, "a + bn * %ld", GH);
    prefetch_row(e, NULL, row, GH);
    if (cd->has_c) {
        snprintf(row, sizeof row, "cs + bn * %ld", H);
        prefetch_row(e, NULL, row, H);
        snprintf(row, sizeof row, "cs + (bn + (reverse ? 1 : -1)) * %ld", H);
        prefetch_row(e, "deep", row, H);
    } else if (cd->has_gh) {
        snprintf(row, sizeof row, "ex + bn * %ld", H);
        prefetch_row(e, NULL, row, H);
    }
    prefetch_row(e, "deep", "y + b * ysb + tq * yst", Hr);
    if (!em_dy_zero(e, L))
        prefetch_row(e, NULL, "dy + b * ysb + tp * yst", Hr);
    prefetch_row(e, NULL, "x + b * xsb + tp * xst", L->I);
    sb->indent -= 4;
    sb_line(sb, "}");
}

/* In <fn>_seqb's loop over the live sequences i of step t: b, bt, the state before the
 * step (hp [cp]) and dh = dL/dh_t (from above, dy, and from the step after, dhn). */
static void seqb_sample(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    sb_line(sb, "const int b = perm[i];");
    sb_line(sb, "const long bt = (long)b * T + t;");
    sb_line(sb, "const int tp = reverse ? t + 1 : t - 1; /* the step before, in forward order */");
    sb_line(sb, "const int first = reverse ? tp >= len[b] : tp < 0;");
    seqb_prefetch(e, L);
    sb_line(sb, "const real *hp = first ? h0 + (long)b * %d : y + b * ysb + tp * yst;", L->Hr);
    if (cell_desc(L->block)->has_c)
        sb_line(sb, "const real *cp = first ? c0 + (long)b * %d : cs + ((long)b * T + tp) * %d;",
                L->H, L->H);
    if (em_dy_zero(e, L)) { /* dy + dhn as if dy were there: 0 + -0 is +0 */
        sb_line(sb, "const real *dhb = dhn + (long)b * %d;", L->Hr);
        sb_line(sb, "for (int j = 0; j < %d; j++)", L->Hr);
        sb_line(sb, "    dh[j] = %s + dhb[j];", e->zero);
        return;
    }
    sb_line(sb, "const real *dyt = dy + b * ysb + t * yst, *dhb = dhn + (long)b * %d;", L->Hr);
    if (e->tcc_calls) {
        sb_line(sb, "rnnc_add_%s(dh, dyt, dhb, %d);", e->p->net->dbl ? "f64" : "f32", L->Hr);
        return;
    }
    sb_line(sb, "for (int j = 0; j < %d; j++)", L->Hr);
    sb_line(sb, "    dh[j] = dyt[j] + dhb[j];");
}

/* Backward through time over a packed batch, one direction: steps s0 to s1 - 1 counted in the
 * reverse of their forward order (all T at once, or a few at a time); dhn (B, Hr) [dcn (B,
 * H)] carry dL/dh [dL/dc] from step to step, and from call to call. y holds the layer's
 * outputs (h of every step, read as h_{t-1}); dy their gradients. */
static void seqb(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H;
    int lstm = cell_desc(L->block)->has_c, after = cell_desc(L->block)->has_gh;
    seqb_head(e, L, 0);
    sb_line(sb, "{");
    sb->indent += 4;
    if (em_dy_zero(e, L))
        sb_line(sb, "(void)dy; /* zero: the head's gradient comes in dhn */");
    sb_line(sb, "real dh[%d];", L->Hr);
    sb_line(sb, "for (int s = s0; s < s1; s++) {");
    sb->indent += 4;
    sb_line(sb, "const int t = reverse ? s : T - 1 - s;");
    sb_line(sb, "for (int i = 0; i < bs[t]; i++) {");
    sb->indent += 4;
    seqb_sample(e, L);
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
    sb_close(sb, 3);
    sb_line(sb, "%s", "");
}

/* A split layer's backward kernels: <fn>_bh<n> (dL/dh_{t-1}), <fn>_bx<n> (dL/dx_t, set or
 * added: em_dx_set) for blocks of n = 1 to em_block sequences (a step's live ones split as
 * evenly as can be, no lane computed for nothing), <fn>_bw (the parameter gradients of
 * every live sequence). */
static void back_kernels(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H, I = L->I, Hr = L->Hr;
    int gru = L->block->cell == CELL_GRU, after = cell_desc(L->block)->has_gh;
    long hcols = gru ? 2 * H : GH;
    for (int ns = 1; ns <= em_block(e); ns++) {
        sb_line(sb, "/* %s layer %d: dL/dh_{t-1} = %sW_hh^T dz for %d sequence%s. */",
                L->block->name, L->layer, gru ? "hd + " : "", ns, ns > 1 ? "s" : "");
        sb_line(
            sb,
            "static void %s_bh%d(const real *wb, const real *const *dzs,%s%s real *const *dhs)",
            L->fn, ns, after ? " const real *const *dghs," : "",
            gru ? " const real *const *hds," : "");
        sb_line(sb, "{");
        sb->indent += 4;
        sb_line(sb, "const real *wbh = wb + %ld; /* W_hh (G*H, Hr) */", GH * I);
        Term th[2] = {{"wbh", "dzs", hcols, Hr, 0}, {"wbn", "dghs", H, Hr, 0}};
        if (after)
            sb_line(sb, "const real *wbn = wbh + %ld; /* its n rows */", 2 * H * Hr);
        em_product_blk(e, ns, "dhs", 0, Hr, gru ? "hds" : NULL, 1, 0, th, after ? 2 : 1);
        sb_close(sb, 1);
        sb_line(sb, "%s", "");
        sb_line(sb, "/* %s layer %d: dL/dx_t %s W_ih^T dz for %d sequence%s. */", L->block->name,
                L->layer, em_dx_set(e, L) ? "=" : "+=", ns, ns > 1 ? "s" : "");
        sb_line(sb,
                "static void %s_bx%d(const real *wb, const real *const *dzs, real *const *dxs)",
                L->fn, ns);
        sb_line(sb, "{");
        sb->indent += 4;
        Term tx = {"wb", "dzs", GH, I, 0};
        em_product_blk(e, ns, "dxs", 0, I, em_dx_set(e, L) ? NULL : "dxs", 1, 0, &tx, 1);
        sb_close(sb, 1);
        sb_line(sb, "%s", "");
    }
    sb_line(sb, "/* %s layer %d: the gradient of W_ih from n rows of scratch (bz + i * %ld): dz",
            L->block->name, L->layer, L->bz_width);
    sb_line(sb, " * and x, added in order (the backward's part, or in parts the one below). */");
    sb_line(sb, "static void %s_bwx(real *dw, int n, const real *bz)", L->fn);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "real *dwx = dw + %ld;", L->pk_wx - L->pk);
    em_outer(e, "dwx", GH, 0, I, GH, L->bz_width, L->bz_x, L->bz_dz);
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
    sb_line(sb, "/* %s layer %d: the other parameter gradients from the same rows: the bias's,",
            L->block->name, L->layer);
    sb_line(sb, " * then W_hh's from dz and h_{t-1}, added in order. */");
    sb_line(sb, "static void %s_bwh(real *dw, int n, const real *bz)", L->fn);
    sb_line(sb, "{");
    sb->indent += 4;
    const char *x = e->p->net->dbl ? "f64" : "f32";
    if (L->pk_b >= 0) {
        sb_line(sb, "real *db = dw;");
        if (e->tcc_calls) {
            sb_line(sb, "rnnc_rowsum_%s(db, bz, %ld, n, %ld);", x, L->bz_width, GH);
        } else {
            sb_line(sb, "for (int i = 0; i < n; i++)");
            sb_line(sb, "    for (int j = 0; j < %ld; j++)", GH);
            sb_line(sb, "        db[j] += bz[(long)i * %ld + j];", L->bz_width);
        }
    }
    if (L->pk_bhn >= 0) {
        sb_line(sb, "real *dbhn = dw + %ld;", L->pk_bhn - L->pk);
        if (e->tcc_calls) {
            sb_line(sb, "rnnc_rowsum_%s(dbhn, bz + %ld, %ld, n, %ld);", x, L->bz_dgh, L->bz_width,
                    H);
        } else {
            sb_line(sb, "for (int i = 0; i < n; i++)");
            sb_line(sb, "    for (int j = 0; j < %ld; j++)", H);
            sb_line(sb, "        dbhn[j] += bz[(long)i * %ld + %ld + j];", L->bz_width, L->bz_dgh);
        }
    }
    sb_line(sb, "real *dwh = dw + %ld;", L->pk_wh - L->pk);
    em_outer(e, "dwh", GH, 0, Hr, hcols, L->bz_width, L->bz_hp, L->bz_dz);
    if (after)
        em_outer(e, "dwh", GH, 2 * H, Hr, H, L->bz_width, L->bz_hp, L->bz_dgh);
    else if (gru)
        em_outer(e, "dwh", GH, 2 * H, Hr, H, L->bz_width, L->bz_rh, L->bz_dz + 2 * H);
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

/* Backward through time over a packed batch for a split layer, as seqb's <fn>_seqb:
 * per step, each live sequence's dz one at a time (into the scratch bz, after the rows of
 * the steps before it), then dL/dh_{t-1} and dL/dx_t in blocks; every bw_steps steps (and
 * at the last), the parameter gradients of all the rows at once (with `hand`, all but
 * W_ih's, which the part running the layer below adds from the same rows a group later:
 * api.c's backward_entry). dW depends on nothing the steps between compute, and each element
 * still takes its terms step by step, sequence by sequence: the bits of a pass per step,
 * with each block of dW loaded and stored once per pass. */
static void seqb_split(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H, Hr = L->Hr, I = L->I;
    int lstm = cell_desc(L->block)->has_c, after = cell_desc(L->block)->has_gh,
        gru = L->block->cell == CELL_GRU;
    int ns = em_block(e);
    back_kernels(e, L);
    sb_line(sb, "/* %s layer %d: backward through time over a packed batch, one direction; bz",
            L->block->name, L->layer);
    sb_line(sb, " * is scratch, (%d B, %ld). */", e->p->kern.bw_steps, L->bz_width);
    seqb_head(e, L, 1);
    sb_line(sb, "{");
    sb->indent += 4;
    if (em_dy_zero(e, L))
        sb_line(sb, "(void)dy; /* zero: the head's gradient comes in dhn */");
    sb_line(sb, "real dh[%ld];", Hr);
    sb_line(sb, "const real *dzs[%d];", ns);
    if (after)
        sb_line(sb, "const real *dghs[%d];", ns);
    if (gru)
        sb_line(sb, "const real *hds[%d];", ns);
    sb_line(sb, "real *dhs[%d], *dxs[%d];", ns, ns);
    sb_line(sb, "int nz = *nzp; /* rows of bz waiting for the weight gradients (calls before) */");
    sb_line(sb, "for (int s = s0; s < s1; s++) {");
    sb->indent += 4;
    sb_line(sb, "const int t = reverse ? s : T - 1 - s, n = bs[t];");
    sb_line(sb, "real *const bzs = bz + (long)nz * %ld; /* this step's rows */", L->bz_width);
    sb_line(sb, "for (int i = 0; i < n; i++) {");
    sb->indent += 4;
    seqb_sample(e, L);
    sb_line(sb, "real *z = bzs + (long)i * %ld;", L->bz_width);
    char extra[96] = "";
    if (after)
        snprintf(extra, sizeof extra, ", z + %ld, z + %ld", L->bz_dgh, L->bz_hd);
    else if (gru)
        snprintf(extra, sizeof extra, ", z + %ld", L->bz_hd);
    if (lstm)
        sb_line(sb,
                "%s_bdz(wb, hp, cp, a + bt * %ld, cs + bt * %ld, dh, dcn + (long)b * %ld, dw, z);",
                L->fn, GH, H, H);
    else if (after)
        sb_line(sb, "%s_bdz(wb, hp, a + bt * %ld, ex + bt * %ld, dh, dw, z%s);", L->fn, GH, H,
                extra);
    else
        sb_line(sb, "%s_bdz(wb, hp, a + bt * %ld, dh, dw, z%s);", L->fn, GH, extra);
    sb_line(sb, "vec_copy(z + %ld, hp, %ld);", L->bz_hp, Hr);
    sb_line(sb, "vec_copy(z + %ld, x + b * xsb + t * xst, %ld);", L->bz_x, I);
    if (gru && !after) {
        sb_line(sb, "for (int k = 0; k < %ld; k++) /* r * h, as the forward used it */", H);
        sb_line(sb, "    z[%ld + k] = a[bt * %ld + k] * hp[k];", L->bz_rh, GH);
    }
    sb_close(sb, 1);
    sb_line(sb, "const int nt = (n + %d) / %d; /* blocks of sequences, as even as can be */",
            ns - 1, ns);
    sb_line(sb, "for (int i = 0, r = 0, m; r < nt; r++, i += m) {");
    sb->indent += 4;
    sb_line(sb, "m = n / nt + (r < n %% nt);");
    sb_line(sb, "for (int q = 0; q < m; q++) {");
    sb_line(sb, "    const real *z = bzs + (long)(i + q) * %ld;", L->bz_width);
    sb_line(sb, "    const int b = perm[i + q];");
    sb_line(sb, "    dzs[q] = z;");
    if (after)
        sb_line(sb, "    dghs[q] = z + %ld;", L->bz_dgh);
    if (gru)
        sb_line(sb, "    hds[q] = z + %ld;", L->bz_hd);
    sb_line(sb, "    dhs[q] = dhn + (long)b * %ld;", Hr);
    sb_line(sb, "    dxs[q] = dx ? dx + b * xsb + t * xst : 0;");
    sb_line(sb, "}");
    char args[48];
    snprintf(args, sizeof args, "wb, dzs, %s%sdhs", after ? "dghs, " : "", gru ? "hds, " : "");
    sb_line(sb, "switch (m) {");
    for (int k = ns; k >= 1; k--) {
        sb_line(sb, "case %d:", k);
        sb_line(sb, "    %s_bh%d(%s);", L->fn, k, args);
        sb_line(sb, "    if (dx)");
        sb_line(sb, "        %s_bx%d(wb, dzs, dxs);", L->fn, k);
        sb_line(sb, "    break;");
    }
    sb_line(sb, "}");
    sb_close(sb, 1);
    sb_line(sb, "nz += n;");
    sb_line(sb, "if (s %% %d == %d || s + 1 == T) {", e->p->kern.bw_steps,
            e->p->kern.bw_steps - 1);
    sb_line(sb, "    if (!hand) /* else the part below takes W_ih's, a group later */");
    sb_line(sb, "        %s_bwx(dw, nz, bz);", L->fn);
    sb_line(sb, "    %s_bwh(dw, nz, bz);", L->fn);
    sb_line(sb, "    nz = 0;");
    sb_line(sb, "}");
    sb_close(sb, 1);
    sb_line(sb, "*nzp = nz;");
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

void em_train_cells(Emitter *e, const PlanLayer *L)
{
    if (em_split(e, L)) {
        em_kern_train(e, L);
        em_back(e, L, 1);
        seqb_split(e, L);
    } else {
        e->cache = 1;
        em_cell(e, L);
        e->cache = 0;
        seqc_driver(e, L);
        em_back(e, L, 0);
        seqb(e, L);
    }
}

void em_layer(Emitter *e, const PlanLayer *L)
{
    if (em_split(e, L)) {
        em_kern_layer(e, L);
    } else {
        em_cell(e, L);
        seq_driver(e, L);
    }
    if (e->train)
        em_train_cells(e, L);
}
