/* tile.c — the tiled batched forward of a split layer, as the system compiler builds it
 * (plan.c's PlanLayer.tiled; libtcc keeps seq.c's one-sequence kernels). Two GEMM-shaped
 * passes, each ordered for the caches:
 *
 *   input projection  xp = b + W_ih^T x of every live (step, sequence) pair: chunks of
 *                     pairs whose inputs stay in L2, each against every 64-column panel of
 *                     W_ih^T, in tiles of 6 pairs x 64 columns held in registers;
 *   recurrence        per step, tiles of tile_u units of every gate x tile_s sequences, the
 *                     units' panel of W_hh^T kept in L2 across the step's sequences, the
 *                     gates computed from the accumulators (the GEMM's epilogue) and written
 *                     straight to the layer's output; odd steps visit the panels from the
 *                     last, so that those still in L2 are read first; a layer streaming
 *                     6 MiB of panels a step asks for the next panel while its tiles read
 *                     this one (plan.h's pf_next). A step with one
 *                     live sequence reads W_hh^T from L2 at every step: it runs wider tiles
 *                     (tile_w units) on contiguous panels (pack writes them after the
 *                     weights), visited from the last on every other step too, so that the
 *                     panel read last, still in L1, is read first.
 *
 * Every output sees the multiply-adds em_product's one-sequence loop does, in its order (MADD,
 * fused), and the gates are cell.c's equations unit for unit, so the bits equal libtcc's.
 */
#include <stdio.h>

#include "emit_int.h"

/* Columns of W_ih^T / xp a proj tile covers, from the plan. */
static long proj_cols(const Emitter *e)
{
    return e->p->kern.proj_cols;
}

/* Whether the training forward's tiles of layer L take its input too: at most 64 inputs,
 * every gate's pre-activation in the tile's accumulators (not a GRU's, whose n keeps its
 * input part apart). The projection pass of so few inputs was mostly its stores, the (B, T,
 * G*H) rows the tiles then read back (T1's first layer: 10 inputs, 50 GFLOP/s; its second,
 * 64 inputs, ran at about 70 % of the FMA peak, and its tiles' gates weighed against a
 * product of 64 terms rather than 128); the tile starts from b, adds W_ih^T x and then
 * W_hh^T h, the pass's operations in its order. Wider inputs keep the pass (not measured). */
static int fused_x(const Emitter *e, const PlanLayer *L)
{
    return e->cache && L->I <= 64 && L->block->cell != CELL_GRU;
}

/* Whether the inference forward's tiles of blocked layer L may take its input too, chosen
 * per call: with two full tiles of sequences (B >= 2 tile_s) the forward skips the projection
 * pass, reads W_ih^T from pack's unit panels [u/U][k][gate][U] beside W_hh^T's, and each
 * tile starts from b, adds W_ih^T x, then W_hh^T h: the pass's operations in its order, the same
 * bits. The pass's (B, T, G*H) rows, written for every step and read back a step at a time
 * T steps apart, stalled each tile's first loads (8 % of M1's tiles, perf annotate), and
 * its epilogue weighed on a product of Hr terms rather than I + Hr. Fewer sequences keep the pass,
 * which reads W_ih^T once for many steps rather than once a step. A GRU's n keeps its input part
 * apart, as in fused_x. */
static int fused_run(const Emitter *e, const PlanLayer *L)
{
    return !e->cache && L->blocked && L->block->cell != CELL_GRU;
}

/* Whether the tiles of U units of layer L ask for the next panel (plan.h's pf_next): the
 * fused tiles of tile_u units (not the last, narrower panel's), each with two more
 * arguments, where its rows of W_ih^T and of W_hh^T ask from (emit_rec_tiles). */
static int pf_next(const Emitter *e, const PlanLayer *L, long U)
{
    return L->pf_next && fused_run(e, L) && U == L->tile_u;
}

/* <fn>_pt<ns>_<w>: columns [j0, j0 + w) of ns pairs' projections b + W_ih^T x; the
 * panel's rows start at wp, ks reals apart (the column panels' w, or the packed G*H). */
static void emit_proj_tile(Emitter *e, const PlanLayer *L, int ns, long w)
{
    Sb *sb = e->sb;
    sb_line(sb, "/* %s layer %d: columns [j0, j0 + %ld) of b + W_ih^T x for %d pair%s. */",
            L->block->name, L->layer, w, ns, ns > 1 ? "s" : "");
    sb_line(sb,
            "RNNC_TILE static void %s_pt%d_%ld(const real *w, const real *wp, long ks, int j0,",
            L->fn, ns, w);
    sb_line(sb, "    const real *const *xs, real *const *ps)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "real acc[%d][%ld];", ns, w);
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", w);
    if (L->pk_b >= 0)
        sb_line(sb, "        acc[s][j] = w[j0 + j];");
    else
        sb_line(sb, "        acc[s][j] = %s;", e->zero);
    if (L->pk_b < 0)
        sb_line(sb, "(void)w;");
    sb_line(sb, "for (int k = 0; k < %d; k++) {", L->I);
    sb_line(sb, "    const real *wk = wp + k * ks;");
    sb_line(sb, "    for (int s = 0; s < %d; s++) {", ns);
    sb_line(sb, "        const real v = xs[s][k];");
    sb_line(sb, "        for (int j = 0; j < %ld; j++)", w);
    sb_line(sb, "            acc[s][j] = MADD(acc[s][j], wk[j], v);");
    sb_line(sb, "    }");
    sb_line(sb, "}");
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", w);
    sb_line(sb, "        ps[s][j0 + j] = acc[s][j];");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* The calls of one panel of width w at j0 (rows at wp, ks apart) over the pairs from cursor
 * (t0, i0) to (t1, i1), in tiles of ns (the last, partial one pair by pair). */
static void emit_proj_panel(Emitter *e, const PlanLayer *L, int ns, const char *j0, long w)
{
    Sb *sb = e->sb;
    long GH = (long)L->G * L->H;
    const char *xp = e->cache ? "a" : "xp";
    if (L->blocked && !e->cache)
        sb_line(sb, "const real *wp = wc + (long)%s * %d;", j0, L->I);
    else
        sb_line(sb, "const real *wp = w + %ld + %s;", L->pk_wx - L->pk, j0);
    sb_line(sb, "const long ks = %ld;", L->blocked && !e->cache ? w : GH);
    sb_line(sb, "n = 0;");
    sb_line(sb, "for (int t = t0, i = i0; t < t1 || (t == t1 && i < i1); i++) {");
    sb->indent += 4;
    sb_line(sb, "if (i >= bs[t]) {");
    sb_line(sb, "    t++, i = -1;");
    sb_line(sb, "    continue;");
    sb_line(sb, "}");
    sb_line(sb, "const int b = perm[i];");
    sb_line(sb, "xs[n] = x + b * xsb + t * xst;");
    sb_line(sb, "ps[n] = %s + ((long)b * T + t) * %ld;", xp, GH);
    sb_line(sb, "if (++n == %d) {", ns);
    sb_line(sb, "    %s_pt%d_%ld(w, wp, ks, %s, xs, ps);", L->fn, ns, w, j0);
    sb_line(sb, "    n = 0;");
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "for (int q = 0; q < n; q++)");
    sb_line(sb, "    %s_pt1_%ld(w, wp, ks, %s, xs + q, ps + q);", L->fn, w, j0);
}

/* In <fn>_seq(c): every live pair's input projection, chunk by chunk. */
static void emit_proj_pass(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const PlanKernels *k = &e->p->kern;
    long GH = (long)L->G * L->H, w = proj_cols(e), full = GH / w * w;
    long chunk = k->proj_bytes / ((long)L->I * e->p->real_size) / k->proj_rows * k->proj_rows;
    if (chunk < k->proj_rows)
        chunk = k->proj_rows;
    sb_line(sb, "/* the input projections of every live pair: chunks of %ld pairs (their inputs",
            chunk);
    sb_line(sb, " * stay in L2), each against every %ld-column panel of W_ih^T */", w);
    /* a fed layer's first pre steps are projected already (one sequence: pairs are steps) */
    sb_line(sb, "for (int t0 = %s, i0 = 0; t0 < T;) {", em_fed(e, L) ? "pre" : "0");
    sb->indent += 4;
    sb_line(sb, "int t1 = t0, i1 = i0, n;");
    sb_line(sb, "for (int m = 0; m < %ld && t1 < T;) {", chunk);
    sb_line(sb, "    if (i1 >= bs[t1]) {");
    sb_line(sb, "        t1++, i1 = 0;");
    sb_line(sb, "        continue;");
    sb_line(sb, "    }");
    sb_line(sb, "    i1++, m++;");
    sb_line(sb, "}");
    if (full) {
        sb_line(sb, "for (int jc = 0; jc < %ld; jc += %ld) {", full, w);
        sb->indent += 4;
        emit_proj_panel(e, L, k->proj_rows, "jc", w);
        sb->indent -= 4;
        sb_line(sb, "}");
    }
    if (GH % w) {
        char j0[24];
        snprintf(j0, sizeof j0, "%ld", full);
        sb_line(sb, "{");
        sb->indent += 4;
        emit_proj_panel(e, L, k->proj_rows, j0, GH % w);
        sb->indent -= 4;
        sb_line(sb, "}");
    }
    sb_line(sb, "t0 = t1, i0 = i1;");
    sb->indent -= 4;
    sb_line(sb, "}");
}

void em_pp_line(Sb *sb, const char *text)
{
    int indent = sb->indent;
    sb->indent = 0;
    sb_line(sb, "%s", text);
    sb->indent = indent;
}

int em_tile_vec(const PlanLayer *L, long U)
{
    const Block *b = L->block;
    return L->tiled && U > 0 && U % 16 == 0 && (b->cell != CELL_GRU || b->reset == RESET_AFTER) &&
           (b->cell != CELL_RNN || b->nonlin != NONLIN_RELU);
}

int em_plan_vec(const Plan *p, int dep)
{
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (em_cell_vec(L))
            return 1;
        if (dep)
            continue;
        if (L->tiled &&
            (em_tile_vec(L, L->tile_w) || (L->H / L->tile_u && em_tile_vec(L, L->tile_u)) ||
             em_tile_vec(L, L->H % L->tile_u)))
            return 1;
    }
    return 0;
}

/* act over vectors [q0, q1) of v, at most RNNC_VN (8) a call */
static void vec_acts(Emitter *e, const char *act, const char *v, long q0, long q1)
{
    for (; q0 < q1; q0 += 8)
        sb_line(e->sb, "rv_%s_n(%s + %ld, %ld);", act, v, q0, q1 - q0 < 8 ? q1 - q0 : 8);
}

/* Vector q's place in vs of `what` at offset off: NULL, a gate's pre-activations (a tile's
 * accumulators, a cell's g); else the table or array of that name. */
static const char *vec_at(Emitter *e, const VecSite *vs, const char *what, long off)
{
    char *s = e->ring[e->ring_at++ % 16], o[24] = "";
    if (off)
        snprintf(o, sizeof o, "%ld + ", off);
    if (vs->ns && !what)
        snprintf(s, 48, "&acc[s][%s16 * v]", o);
    else if (vs->ns)
        snprintf(s, 48, "%s[s] + %su0 + 16 * v", what, o);
    else
        snprintf(s, 48, "%s + %s16 * q", what ? what : "g", o);
    return s;
}

/* Opens the loop over vs's vectors: a tile's sequences s in [s0, s1) and vectors v, a
 * cell's q (all of them). */
static void vec_loop(Emitter *e, const VecSite *vs, int s0, int s1)
{
    if (vs->ns) {
        sb_line(e->sb, "for (int s = %d; s < %d; s++)", s0, s1);
        sb_line(e->sb, "    for (int v = 0, q = s * %ld; v < %ld; v++, q++) {", vs->nv, vs->nv);
    } else
        sb_line(e->sb, "for (int q = 0; q < %ld; q++) {", vs->N);
}

void em_vec_gates(Emitter *e, const PlanLayer *L, const VecSite *vs)
{
    Sb *sb = e->sb;
    const Block *b = L->block;
    int lstm = b->cell == CELL_LSTM, gru = b->cell == CELL_GRU, cache = vs->ns && e->cache;
    int after = gru && b->reset == RESET_AFTER;
    long H = L->H, N = vs->N, gs = vs->gs;
    const char *h_in = vs->ns ? "hp" : "h", *h_out = vs->ns ? "ho" : vs->out;
    const char *c = vs->ns ? "cs" : "c";
    /* the body of vec_loop's loop, and its end */
    const char *in = vs->ns ? "        " : "    ", *close = vs->ns ? "    }" : "}";
    /* A tile's sequences in groups, each group's gates done before the next's: an LSTM's
     * three at a time (six sequences' four gates, all live with their activations'
     * temporaries, had gcc spill to the stack: 289 references in M1's tile of six, 113 in
     * threes; M1 and L1 0.99 of the time, bench/HISTORY.md), the other cells' all at once; a
     * cell's vectors are one group. */
    const int ns = vs->ns ? vs->ns : 1, gsz = lstm && vs->ns ? 3 : ns;
    em_pp_line(sb, "#if defined(RNNC_VL)");
    if (gsz < ns)
        sb_line(sb, "{ /* %ld vectors of 16 units, a gate's stages over %d sequences at once */",
                N, gsz);
    else
        sb_line(sb, "{ /* %ld vectors of 16 units, each stage of a gate over all of them */", N);
    sb->indent += 4;
    if (lstm)
        sb_line(sb, "rvec vi[%ld], vf[%ld], vg[%ld], vo[%ld], vc[%ld];", N, N, N, N, N);
    else if (after)
        sb_line(sb, "rvec vr[%ld], vz[%ld], vn[%ld], vgh[%ld], vh[%ld];", N, N, N, N, N);
    else if (gru)
        sb_line(sb, "rvec vz[%ld], vn[%ld], vh[%ld];", N, N, N);
    else
        sb_line(sb, "rvec vh[%ld];", N);
    for (int s0 = 0, s1; s0 < ns; s0 = s1) {
        s1 = s0 + gsz < ns ? s0 + gsz : ns;
        const long q0 = vs->ns ? s0 * vs->nv : 0, q1 = vs->ns ? s1 * vs->nv : N;
        vec_loop(e, vs, s0, s1);
        if (lstm) {
            static const char *const gate[4] = {"vi", "vf", "vg", "vo"};
            for (int k = 0; k < 4; k++)
                sb_line(sb, "%sRV_LOAD(%s[q], %s);", in, gate[k], vec_at(e, vs, NULL, k * gs));
        } else if (gru) {
            if (after)
                sb_line(sb, "%sRV_LOAD(vr[q], %s);", in, vec_at(e, vs, NULL, 0));
            sb_line(sb, "%sRV_LOAD(vz[q], %s);", in, vec_at(e, vs, NULL, gs));
            if (after)
                sb_line(sb, "%sRV_LOAD(vgh[q], %s);", in,
                        vs->ns ? vec_at(e, vs, NULL, 2 * gs) : vec_at(e, vs, "gh", 0));
            sb_line(sb, "%sRV_LOAD(vn[q], %s);", in,
                    vs->ns ? vec_at(e, vs, "ps", 2 * H) : vec_at(e, vs, NULL, 2 * gs));
            sb_line(sb, "%sRV_LOAD(vh[q], %s);", in, vec_at(e, vs, h_in, 0));
        } else {
            sb_line(sb, "%sRV_LOAD(vh[q], %s);", in, vec_at(e, vs, NULL, 0));
        }
        sb_line(sb, "%s", close);
        if (lstm) {
            vec_acts(e, "sigmoid", "vi", q0, q1);
            vec_acts(e, "sigmoid", "vf", q0, q1);
            vec_acts(e, "tanh", "vg", q0, q1);
            vec_acts(e, "sigmoid", "vo", q0, q1);
            vec_loop(e, vs, s0, s1);
            if (cache) {
                static const char *const gate[4] = {"vi", "vf", "vg", "vo"};
                for (int k = 0; k < 4; k++)
                    sb_line(sb, "%sRV_STORE(%s, %s[q]);", in, vec_at(e, vs, "ps", k * H), gate[k]);
            }
            sb_line(sb, "%sRV_LOAD(vc[q], %s);", in, vec_at(e, vs, c, 0));
            sb_line(sb, "%svc[q] = vf[q] * vc[q] + vi[q] * vg[q];", in);
            sb_line(sb, "%sRV_STORE(%s, vc[q]);", in, vec_at(e, vs, c, 0));
            if (cache)
                sb_line(sb, "%sRV_STORE(%s, vc[q]);", in, vec_at(e, vs, "cst", 0));
            sb_line(sb, "%s", close);
            vec_acts(e, "tanh", "vc", q0, q1);
            vec_loop(e, vs, s0, s1);
            sb_line(sb, "%svc[q] = vo[q] * vc[q];", in);
            sb_line(sb, "%sRV_STORE(%s, vc[q]);", in, vec_at(e, vs, h_out, 0));
            sb_line(sb, "%s", close);
        } else if (gru) {
            if (after)
                vec_acts(e, "sigmoid", "vr", q0, q1);
            vec_acts(e, "sigmoid", "vz", q0, q1);
            if (after) {
                sb_line(sb, "for (int q = %ld; q < %ld; q++)", q0, q1);
                sb_line(sb, "    vn[q] = vn[q] + vr[q] * vgh[q];");
            }
            vec_acts(e, "tanh", "vn", q0, q1);
            vec_loop(e, vs, s0, s1);
            if (cache) {
                sb_line(sb, "%sRV_STORE(%s, vr[q]);", in, vec_at(e, vs, "ps", 0));
                sb_line(sb, "%sRV_STORE(%s, vz[q]);", in, vec_at(e, vs, "ps", H));
                sb_line(sb, "%sRV_STORE(%s, vn[q]);", in, vec_at(e, vs, "ps", 2 * H));
                sb_line(sb, "%sRV_STORE(%s, vgh[q]);", in, vec_at(e, vs, "exs", 0));
            }
            sb_line(sb, "%svh[q] = (1.0f - vz[q]) * vn[q] + vz[q] * vh[q];", in);
            sb_line(sb, "%sRV_STORE(%s, vh[q]);", in, vec_at(e, vs, h_out, 0));
            sb_line(sb, "%s", close);
        } else {
            vec_acts(e, "tanh", "vh", q0, q1);
            vec_loop(e, vs, s0, s1);
            if (cache)
                sb_line(sb, "%sRV_STORE(%s, vh[q]);", in, vec_at(e, vs, "ps", 0));
            sb_line(sb, "%sRV_STORE(%s, vh[q]);", in, vec_at(e, vs, h_out, 0));
            sb_line(sb, "%s", close);
        }
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    em_pp_line(sb, "#else");
}

/* The epilogue of emit_tile_gates with prelude.c's vec_f32 (em_vec_gates): the tile's ns
 * sequences by U / 16 vectors (an LSTM's three sequences at a time). An LSTM, a GRU resetting
 * after its product, a tanh RNN; 0 for the others (scalar only). */
static int emit_tile_gates_vec(Emitter *e, const PlanLayer *L, int ns, long U)
{
    if (!e->vec || !em_tile_vec(L, U))
        return 0;
    VecSite vs = {ns, U / 16, ns * (U / 16), U, NULL};
    em_vec_gates(e, L, &vs);
    return 1;
}

/* The tile's epilogue for each of its ns sequences: cell.c's gates, unit for unit, over a
 * layer narrowed to the tile's U units, from the accumulators; the results where the full
 * layer keeps them (with the cache: the activations over xp, c, and a GRU's W_hn h + b_hn). */
static void emit_tile_gates(Emitter *e, const PlanLayer *L, int ns, long U)
{
    Sb *sb = e->sb;
    long H = L->H;
    int G = L->G, lstm = L->block->cell == CELL_LSTM, gru = L->block->cell == CELL_GRU;
    PlanLayer Lb = *L;
    Lb.H = Lb.Hr = (int)U;
    Lb.unrolled = 0;
    int vec = emit_tile_gates_vec(e, L, ns, U);
    sb_line(sb, "for (int s = 0; s < %d; s++) {", ns);
    sb->indent += 4;
    sb_line(sb, "real g[%ld];", G * U);
    if (gru) {
        sb_line(sb, "real gh[%ld], h[%ld];", U, U);
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", U);
        sb_line(sb, "    g[j] = acc[s][j], g[%ld + j] = acc[s][%ld + j];", U, U);
        sb_line(sb, "    g[%ld + j] = ps[s][%ld + u0 + j], gh[j] = acc[s][%ld + j];", 2 * U, 2 * H,
                2 * U);
        sb_line(sb, "    h[j] = hp[s][u0 + j];");
        sb_line(sb, "}");
    } else {
        sb_line(sb, "for (int j = 0; j < %ld; j++)", G * U);
        sb_line(sb, "    g[j] = acc[s][j];");
        sb_line(sb, "real *h = ho[s] + u0;");
    }
    if (lstm)
        sb_line(sb, "real *c = cs[s] + u0;");
    if (e->cache) {
        sb_line(sb, "real a[%ld];", G * U);
        if (gru)
            sb_line(sb, "real ex[%ld];", U);
    }
    em_units(e, &Lb, U, em_gates_unit);
    if (gru) {
        sb_line(sb, "for (int j = 0; j < %ld; j++)", U);
        sb_line(sb, "    ho[s][u0 + j] = h[j];");
    }
    if (e->cache) {
        sb_line(sb, "for (int j = 0; j < %ld; j++) {", U);
        for (int q = 0; q < G; q++)
            sb_line(sb, "    ps[s][%ld + u0 + j] = a[%ld + j];", q * H, q * U);
        if (gru)
            sb_line(sb, "    exs[s][u0 + j] = ex[j];");
        if (lstm)
            sb_line(sb, "    cst[s][u0 + j] = c[j];");
        sb_line(sb, "}");
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    if (vec)
        em_pp_line(sb, "#endif");
}

/* The tile's accumulators before its products: gate q's units u0 + j from `from` (a format
 * of the gate's offset q H: the bias, or the projection pass's row), 0 without one; a GRU's
 * n from b_hn, its W_hn h kept apart from the input's part. */
static void emit_tile_init(Emitter *e, const PlanLayer *L, int ns, long U, const char *from)
{
    Sb *sb = e->sb;
    char src[4][64]; /* gate q's source, "" for 0 */
    int any = 0;
    for (int q = 0; q < L->G; q++) {
        src[q][0] = '\0';
        if (L->block->cell == CELL_GRU && q == 2) /* only from the pass: fused_x, fused_run */
            snprintf(src[q], sizeof src[q], "%s", L->pk_bhn >= 0 ? "bhn[j]" : "");
        else if (from)
            snprintf(src[q], sizeof src[q], from, (long)q * L->H);
        any += src[q][0] != '\0';
    }
    /* With vectors, 16 units a copy: gcc 12 copied the scalars in 256-bit halves that the
     * products then loaded whole, and each such load waited for both stores to reach the
     * cache (S1 took 1.04x as long in its tiles of 32 units, 1.14x in tiles of 16) */
    int vec = e->vec && U % 16 == 0;
    if (vec) {
        em_pp_line(sb, "#if defined(RNNC_VL)");
        sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
        sb_line(sb, "    for (int j = 0; j < %ld; j += 16) {", U);
        if (any)
            sb_line(sb, "        rvec t_;");
        if (any < L->G)
            sb_line(sb, "        const rvec z_ = {0};");
        for (int q = 0; q < L->G; q++)
            if (src[q][0])
                sb_line(sb, "        RV_LOAD(t_, &%s), RV_STORE(&acc[s][%ld + j], t_);", src[q],
                        q * U);
            else
                sb_line(sb, "        RV_STORE(&acc[s][%ld + j], z_);", q * U);
        sb_line(sb, "    }");
        em_pp_line(sb, "#else");
    }
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int j = 0; j < %ld; j++) {", U);
    for (int q = 0; q < L->G; q++)
        sb_line(sb, "        acc[s][%ld + j] = %s;", q * U, src[q][0] ? src[q] : e->zero);
    sb_line(sb, "    }");
    if (vec)
        em_pp_line(sb, "#endif");
}

/* acc += the K rows of a panel at w (ks reals apart, gate q's columns at q gs) times
 * v[s][k], k ascending: the projection pass's and the one-sequence product's order. With pf,
 * each row also asks for the cache line at pf + k lines into L2 (pf_next). */
static void emit_tile_terms(Emitter *e, const PlanLayer *L, int ns, long U, long K, const char *w,
                            long ks, long gs, const char *v, const char *pf)
{
    Sb *sb = e->sb;
    char head[48], pre[2][64] = {"", ""}, bc[32];
    snprintf(head, sizeof head, "for (int k = 0; k < %ld; k++) {", K);
    snprintf(pre[0], sizeof pre[0], "const real *wk = %s + (long)k * %ld;", w, ks);
    if (pf)
        snprintf(pre[1], sizeof pre[1], "RNNC_PREFETCH_L2(%s + (long)k * %d);", pf,
                 64 / e->p->real_size);
    snprintf(bc, sizeof bc, "%s[s][k]", v);
    /* gate q's U units: vectors q U/16 .. at q gs */
    long off[64], per = U / 16, nv = U % 16 || L->G * per > 64 ? 0 : L->G * per;
    for (long i = 0; i < nv; i++)
        off[i] = i / per * gs + 16 * (i % per);
    const char *pres[2] = {pre[0], pre[1]};
    int vec = em_vec_madds(e, ns, nv, head, pres, pf ? 2 : 1, "wk", off, bc);
    sb_line(sb, "%s", head);
    sb_line(sb, "    %s", pre[0]);
    if (pf)
        sb_line(sb, "    %s", pre[1]);
    sb_line(sb, "    for (int s = 0; s < %d; s++) {", ns);
    sb_line(sb, "        const real v = %s[s][k];", v);
    sb_line(sb, "        for (int j = 0; j < %ld; j++) {", U);
    for (int q = 0; q < L->G; q++)
        sb_line(sb, "            acc[s][%ld + j] = MADD(acc[s][%ld + j], wk[%ld + j], v);", q * U,
                q * U, q * gs);
    sb_line(sb, "        }");
    sb_line(sb, "    }");
    sb_line(sb, "}");
    em_vec_madds_end(e, vec);
}

/* <fn>_t<ns>_<U> (<fn>_tc<ns>_<U> with the cache): the recurrence's tile of units
 * [u0, u0 + U) of every gate for ns sequences: xp (ps) plus W_hh^T h_{t-1} (hp), then the
 * gates into ho (h_t), cs (c, in place); with the cache the activations over xp, c into cst
 * and a GRU's W_hn h + b_hn into exs. */
static void emit_rec_tile(Emitter *e, const PlanLayer *L, int ns, long U, int wide, int nopf)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H;
    int G = L->G, lstm = L->block->cell == CELL_LSTM, gru = L->block->cell == CELL_GRU;
    const char *c = e->cache ? "c" : "";
    sb_line(sb, "/* %s layer %d: units [u0, u0 + %ld) of one step for %d sequence%s. */",
            L->block->name, L->layer, U, ns, ns > 1 ? "s" : "");
    if (wide)
        sb_line(sb, "RNNC_TILE static void %s_t%sw_%ld(const real *w, const real *wp, int u0,",
                L->fn, c, U);
    else
        sb_line(sb, "RNNC_TILE static void %s_t%s%d_%ld%s(const real *w, const real *wp, int u0,",
                L->fn, c, ns, U, nopf ? "n" : "");
    int fx = fused_x(e, L), fr = !wide && fused_run(e, L);
    sb_line(sb, "    real *const *ps, const real *const *hp, real *const *ho%s%s%s",
            lstm ? ", real *const *cs" : "",
            e->cache && lstm  ? ", real *const *cst"
            : e->cache && gru ? ", real *const *exs"
                              : "",
            fx || fr ? "," : ")");
    if (fx)
        sb_line(sb, "    const real *const *xs)");
    int pf = !wide && !nopf && pf_next(e, L, U);
    if (fr)
        sb_line(sb, "    const real *wpx, const real *const *xs%s)",
                pf ? ", const real *pfx, const real *pfh" : "");
    sb_line(sb, "{");
    sb->indent += 4;
    /* the panel: [k][gate][U] (a blocked layer's, or the wide tile's), else packed rows */
    int blk = (L->blocked || wide) && !e->cache;
    long ks = blk ? G * U : GH, gs = blk ? U : H;
    if (L->pk_bhn >= 0)
        sb_line(sb, "const real *bhn = w + %ld + u0;", L->pk_bhn - L->pk);
    else if (!fx)
        sb_line(sb, "(void)w;");
    sb_line(sb, "real acc[%d][%ld];", ns, G * U);
    const char *bias = L->pk_b >= 0 ? "b[%ld + j]" : NULL, *xp = "ps[s][%ld + u0 + j]";
    if (fr) { /* xs: b + W_ih^T x from W_ih^T's panel wpx, as the projection pass */
        sb_line(sb, "if (xs) {");
        sb->indent += 4;
        if (L->pk_b >= 0)
            sb_line(sb, "const real *b = w + %ld + u0;", L->pk_b - L->pk);
        emit_tile_init(e, L, ns, U, bias);
        emit_tile_terms(e, L, ns, U, L->I, "wpx", G * U, U, "xs", pf ? "pfx" : NULL);
        sb->indent -= 4;
        sb_line(sb, "} else {");
        sb->indent += 4;
        emit_tile_init(e, L, ns, U, xp);
        sb->indent -= 4;
        sb_line(sb, "}");
    } else if (fx) { /* b + W_ih^T x, as the projection pass */
        if (L->pk_b >= 0)
            sb_line(sb, "const real *b = w + %ld + u0;", L->pk_b - L->pk);
        sb_line(sb, "const real *wx = w + %ld + u0; /* W_ih^T (%d, %ld) */", L->pk_wx - L->pk,
                L->I, GH);
        emit_tile_init(e, L, ns, U, bias);
        emit_tile_terms(e, L, ns, U, L->I, "wx", GH, H, "xs", NULL);
    } else
        emit_tile_init(e, L, ns, U, xp);
    emit_tile_terms(e, L, ns, U, L->Hr, "wp", ks, gs, "hp", pf ? "pfh" : NULL);
    emit_tile_gates(e, L, ns, U);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

int em_feed(const Emitter *e, const PlanLayer *L)
{
    return L->feed && L->tiled && !e->for_tcc && !e->dep && !e->cache;
}

int em_fed(const Emitter *e, const PlanLayer *L)
{
    return L->fed && L->tiled && !e->for_tcc && !e->dep && !e->cache;
}

int em_panels(const Emitter *e, const PlanLayer *L)
{
    return (L->tile_w || L->blocked) && L->tiled && !e->for_tcc && !e->dep && !e->cache;
}

/* The feed's pairs a group (the next layer's steps projected together, each load of its
 * W_ih^T shared by them) and the parts of a 64-column chunk's terms a tile takes. */
enum { FEED_PAIRS = 5, FEED_PARTS = 4 };

/* <fn>_twf_<W>: the one-sequence tile <fn>_tw_<W> (units [u0, u0 + W) of a step, the panel
 * of W_hh^T at wp) carrying a part of the next layer's input projection: of FEED_PAIRS pairs
 * (steps this layer has finished; their x are its outputs fx), columns [jc, jc + 64) of b +
 * W_ih^T x, terms [k0, k0 + I/4), from and back into their rows fp (from the bias fb at k0 =
 * 0; fw: W_ih^T's rows at column jc). A one-sequence step loads a vector of W_hh^T for each
 * multiply-add, half of them from L2 (this L1 does not keep a layer's W_hh^T), and leaves
 * the multiply-add units idle about half its time; the projection's multiply-adds, each
 * load of W_ih^T shared by the pairs, go in between, one of its terms after every four of
 * the tile's. The loads bound both, so it gains little: an RNN's forward 0-1 % faster than
 * with the pass apart (an LSTM's slower: plan.c's plan_feeds gives it RNNs alone).
 * Each output sees its terms in the order of the tile's and of the pass's own (<fn>_pt), so
 * the same bits. In AVX-512 intrinsics: as loops, gcc kept the accumulators in memory. */
static void emit_feed_tile(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const PlanLayer *U = L + 1;
    long W = L->tile_w, H = L->H, kr = U->I / FEED_PARTS, ghu = (long)U->G * U->H;
    long ratio = L->Hr / kr;
    int lstm = L->block->cell == CELL_LSTM;
    em_pp_line(sb, "#if RNNC_FEED");
    sb_line(sb, "/* %s layer %d: %s_tw_%ld, with terms [k0, k0 + %ld) of columns [jc, jc + 64)",
            L->block->name, L->layer, L->fn, W, kr);
    sb_line(sb,
            " * of the next layer's projection for %d pairs (fw, fb: its W_ih^T and b at jc). */",
            FEED_PAIRS);
    sb_line(sb, "RNNC_TILE static void %s_twf_%ld(const real *wp, int u0, real *const *ps,", L->fn,
            W);
    sb_line(sb, "    const real *const *hp, real *const *ho,%s const real *fb, const real *fw,",
            lstm ? " real *const *cs," : "");
    sb_line(sb, "    const real *const *fx, real *const *fp, int k0)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "real acc[1][%ld];", L->G * W);
    sb_line(sb, "__m512 a[4], f[%d][4];", FEED_PAIRS);
    for (long v = 0; v < 4; v++)
        sb_line(sb, "a[%ld] = _mm512_loadu_ps(ps[0] + %ld + u0);", v, 16 * v / W * H + 16 * v % W);
    sb_line(sb, "for (int s = 0; s < %d; s++)", FEED_PAIRS);
    sb_line(sb, "    for (int i = 0; i < 4; i++)");
    if (U->pk_b >= 0)
        sb_line(sb, "        f[s][i] = _mm512_loadu_ps((k0 ? fp[s] : fb) + 16 * i);");
    else
        sb_line(sb,
                "        f[s][i] = k0 ? _mm512_loadu_ps(fp[s] + 16 * i) : _mm512_setzero_ps();");
    if (U->pk_b < 0)
        sb_line(sb, "(void)fb;");
    sb_line(sb, "for (int q = 0; q < %ld; q++) {", kr);
    sb->indent += 4;
    sb_line(sb, "for (int k = %ld * q; k < %ld * q + %ld; k++) {", ratio, ratio, ratio);
    sb_line(sb, "    const real *wk = wp + (long)k * %ld;", L->G * W);
    sb_line(sb, "    const __m512 v = _mm512_set1_ps(hp[0][k]);");
    sb_line(sb, "    for (int i = 0; i < 4; i++)");
    sb_line(sb, "        a[i] = _mm512_fmadd_ps(_mm512_loadu_ps(wk + 16 * i), v, a[i]);");
    sb_line(sb, "}");
    sb_line(sb, "const real *xk = fw + (long)(k0 + q) * %ld;", ghu);
    sb_line(sb, "const __m512 x0 = _mm512_loadu_ps(xk), x1 = _mm512_loadu_ps(xk + 16);");
    sb_line(sb, "const __m512 x2 = _mm512_loadu_ps(xk + 32), x3 = _mm512_loadu_ps(xk + 48);");
    sb_line(sb, "for (int s = 0; s < %d; s++) {", FEED_PAIRS);
    sb_line(sb, "    const __m512 v = _mm512_set1_ps(fx[s][k0 + q]);");
    sb_line(sb, "    f[s][0] = _mm512_fmadd_ps(x0, v, f[s][0]);");
    sb_line(sb, "    f[s][1] = _mm512_fmadd_ps(x1, v, f[s][1]);");
    sb_line(sb, "    f[s][2] = _mm512_fmadd_ps(x2, v, f[s][2]);");
    sb_line(sb, "    f[s][3] = _mm512_fmadd_ps(x3, v, f[s][3]);");
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "for (int s = 0; s < %d; s++)", FEED_PAIRS);
    sb_line(sb, "    for (int i = 0; i < 4; i++)");
    sb_line(sb, "        _mm512_storeu_ps(fp[s] + 16 * i, f[s][i]);");
    sb_line(sb, "for (int i = 0; i < 4; i++)");
    sb_line(sb, "    _mm512_storeu_ps(acc[0] + 16 * i, a[i]);");
    emit_tile_gates(e, L, 1, W);
    sb->indent -= 4;
    sb_line(sb, "}");
    em_pp_line(sb, "#endif");
    sb_line(sb, "%s", "");
}

/* The pointers of live sequences [i, i + m) of step t into the tile's tables. */
static void emit_tile_ptrs(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H;
    int lstm = L->block->cell == CELL_LSTM, gru = L->block->cell == CELL_GRU;
    sb_line(sb, "for (int q = 0; q < m; q++) {");
    sb_line(sb, "    const int b = perm[i + q];");
    sb_line(sb, "    ps[q] = %s + ((long)b * T + t) * %ld;", e->cache ? "a" : "xp", GH);
    sb_line(sb, "    hp[q] = h + (long)b * %ld;", em_hstride(e, L, e->cache));
    sb_line(sb, "    ho[q] = y + b * ysb + t * yst;");
    if (lstm)
        sb_line(sb, "    cs_[q] = c + (long)b * %ld;", em_cstride(e, L, e->cache));
    if (e->cache && lstm)
        sb_line(sb, "    cst[q] = cs + ((long)b * T + t) * %ld;", H);
    if (e->cache && gru)
        sb_line(sb, "    exs[q] = ex + ((long)b * T + t) * %ld;", H);
    if (fused_x(e, L) || fused_run(e, L))
        sb_line(sb, "    xs[q] = x + b * xsb + t * xst;");
    sb_line(sb, "}");
}

/* The K rows of packed W^T at src + from (W_hh^T, or a fused forward's W_ih^T) copied into
 * panels of U units at dst + at: [u/U][k][gate][U], the last panel narrower; each gate's row
 * of a panel one contiguous copy, so that the copy runs at the speed of memory. Pack
 * writes them, once for the forward calls after it (plan.h's pk_panel, pk_blk). */
void em_unit_panels(Emitter *e, const PlanLayer *L, const char *src, long from, int K,
                    const char *dst, long at, long U)
{
    Sb *sb = e->sb;
    long H = L->H, GH = (long)L->G * H;
    sb_line(sb, "for (long ub = 0; ub < %ld; ub += %ld) {", H, U);
    sb_line(sb, "    const real *ws = %s + %ld + ub;", src, from);
    sb_line(sb, "    const long ud = %ld - ub < %ld ? %ld - ub : %ld;", H, U, H, U);
    sb_line(sb, "    real *wd = %s + %ld + ub * %ld;", dst, at, (long)K * L->G);
    sb_line(sb, "    for (long k = 0; k < %d; k++)", K);
    sb_line(sb, "        for (long q = 0; q < %d; q++)", L->G);
    sb_line(sb, "            for (long u = 0; u < ud; u++)");
    sb_line(sb, "                wd[(k * %d + q) * ud + u] = ws[k * %ld + q * %ld + u];", L->G, GH,
            H);
    sb_line(sb, "}");
}

/* The state and cache tables a tile takes after ps, hp, ho. */
static const char *tile_extra(const Emitter *e, const PlanLayer *L)
{
    int lstm = L->block->cell == CELL_LSTM, gru = L->block->cell == CELL_GRU;
    if (fused_x(e, L))
        return lstm ? ", cs_, cst, xs" : ", xs";
    return e->cache && lstm ? ", cs_, cst" : lstm ? ", cs_" : e->cache && gru ? ", exs" : "";
}

/* The calls of step t's tiles of width U at u0 for its n live sequences: nt tiles of at
 * most tile_s, their sizes differing by one at most (32 = 7 + 7 + 6 + 6 + 6). */
static void emit_rec_tiles(Emitter *e, const PlanLayer *L, const char *u0, long U)
{
    int pf = pf_next(e, L, U);
    long line = 64 / e->p->real_size; /* reals a cache line */
    Sb *sb = e->sb;
    const char *c = e->cache ? "c" : "", *extra = tile_extra(e, L);
    if (L->blocked && !e->cache)
        sb_line(sb, "const real *wp = wt + %ld + (long)%s * %ld; /* this units' panel */",
                plan_blk_wh(L), u0, (long)L->Hr * L->G);
    else
        sb_line(sb, "const real *wp = w + %ld + %s;", L->pk_wh - L->pk, u0);
    if (pf) {
        /* The next units' panel (this one's after the step's last: the next step starts
         * with it) of W_ih^T and of W_hh^T, na and nb cache lines: tile r asks for a line
         * of each a row, from r/nt of the way through each (so that the panel's lines are
         * asked for while the tiles before its own run, and none past its end). The first
         * of a panel's tiles of sequences reads it from L3, where the others find it in
         * L2; asked for by the tiles before, the stream no longer waits at one tile. */
        long HU = L->H / U * U;
        long ig = (long)L->I * L->G, hg = (long)L->Hr * L->G;
        sb_line(sb, "const long un = v + %ld < %ld ? (s & 1 ? %ld - v : v + %ld) : %s;", U, HU,
                HU - 2 * U, U, u0);
        sb_line(sb, "const long na = %ld, nb = %ld; /* lines of the panel's two parts */",
                ig * U / line, hg * U / line);
        sb_line(sb, "const real *pfx0 = wt + un * %ld, *pfh0 = wt + %ld + un * %ld;", ig,
                plan_blk_wh(L), hg);
    }
    sb_line(sb, "for (int i = 0, r = 0; r < nt; r++, i += m) {");
    sb->indent += 4;
    sb_line(sb, "m = n / nt + (r < n %% nt);");
    emit_tile_ptrs(e, L);
    if (pf) {
        sb_line(sb, "const long la = (long)r * na / nt, lb = (long)r * nb / nt;");
        sb_line(sb, "const real *pfx = pfx0 + (la < na - %d ? la : na - %d) * %ld;", L->I, L->I,
                line);
        sb_line(sb, "const real *pfh = pfh0 + (lb < nb - %d ? lb : nb - %d) * %ld;", L->Hr, L->Hr,
                line);
    }
    /* The projections these units of the same sequences start from at the next step: rows
     * (B, T, G*H) a step apart by G*H reals, the sequences T steps apart, so no hardware
     * prefetcher sees them coming; read cold, they stalled each tile's first loads (a sixth
     * of the tile's time in M1). Asked for a step ahead, they are in cache when needed: in
     * L1. In training these are the rows the tile writes its activations to, asked for
     * into L2 like the rest it writes (below). */
    sb_line(sb, "if (%ss + 1 < T)", fused_run(e, L) ? "!fuse && " : "");
    sb_line(sb, "    for (int q = 0; q < m && i + q < bs[reverse ? t - 1 : t + 1]; q++) {");
    sb_line(sb, "        const int bn = perm[i + q], tn = reverse ? t - 1 : t + 1;");
    sb_line(sb, "        const real *pn = %s + ((long)bn * T + tn) * %ld + %s;",
            e->cache ? "a" : "xp", (long)L->G * L->H, u0);
    sb_line(sb, "        for (int g = 0; g < %d; g++)", L->G);
    sb_line(sb, "            for (int j = 0; j < %ld; j += %ld)", U, line);
    sb_line(sb, "                RNNC_PREFETCH%s(pn + g * %ld + j);", e->cache ? "_L2" : "",
            (long)L->H);
    /* and the rows the tile will write first at that step, its h_t and (training) its c_t or
     * GRU's gh: written a step at a time T steps apart, each store missed (T1's forward 3 %
     * faster asked for them into L1). Into L2: a step's rows of every sequence outgrow L1,
     * where they pushed out what the step's tiles read (T1's forward 9 % faster again, with
     * the activations' rows) */
    sb_line(sb, "        for (int j = 0; j < %ld; j += %ld) {", U, line);
    sb_line(sb, "            RNNC_PREFETCH_L2(y + bn * ysb + tn * yst + %s + j);", u0);
    if (e->cache && L->block->cell == CELL_LSTM)
        sb_line(sb, "            RNNC_PREFETCH_L2(cs + ((long)bn * T + tn) * %ld + %s + j);",
                (long)L->H, u0);
    if (e->cache && L->block->cell == CELL_GRU)
        sb_line(sb, "            RNNC_PREFETCH_L2(ex + ((long)bn * T + tn) * %ld + %s + j);",
                (long)L->H, u0);
    sb_line(sb, "        }");
    sb_line(sb, "    }");
    char fx[80] = "";
    if (fused_run(e, L))
        snprintf(fx, sizeof fx, ", wt + (long)%s * %ld, fuse ? xs : 0", u0, (long)L->I * L->G);
    /* With pf, a step with fewer live sequences than the unit's RNNC_PF_NEXT_SEQS calls the
     * same tiles built without the prefetches (<fn>_t<ns>_<U>n): 48 on AMD's Zen, where with
     * few tiles of sequences to a panel they cost more than the stream they hide, 0 on
     * Intel's cores, where they pay at every batch (templates/prelude.c, bench/HISTORY.md;
     * `bench/bounds.sh lstm-512-512-B 3` times a unit against the other kind). */
    for (int v = 0; v <= pf; v++) {
        if (pf) {
            if (v)
                sb_line(sb, "} else {");
            else
                sb_line(sb, "if (n < RNNC_PF_NEXT_SEQS) {");
            sb->indent += 4;
        }
        sb_line(sb, "switch (m) {");
        for (int ns = L->tile_s; ns >= 1; ns--)
            sb_line(sb, "case %d: %s_t%s%d_%ld%s(w, wp, %s, ps, hp, ho%s%s%s); break;", ns, L->fn,
                    c, ns, U, pf && !v ? "n" : "", u0, extra, fx, v ? ", pfx, pfh" : "");
        sb_line(sb, "}");
        if (pf)
            sb->indent -= 4;
    }
    if (pf)
        sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
}

/* In a feeding layer's one-sequence step, before the panel at u0: while a group's parts
 * are left, the tile that takes the next one (fsub: chunk fsub / FEED_PARTS, part fsub %
 * FEED_PARTS); pre, the steps the next layer finds projected, grows by a group as its last
 * part is done. */
static void emit_feed_call(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const PlanLayer *U = L + 1;
    long nsub = (long)U->G * U->H / 64 * FEED_PARTS;
    em_pp_line(sb, "#if RNNC_FEED");
    sb_line(sb, "if (fsub < %ld) {", nsub);
    sb->indent += 4;
    sb_line(sb, "const int jc = fsub / %d * 64;", FEED_PARTS);
    sb_line(sb, "real *fq[%d];", FEED_PAIRS);
    sb_line(sb, "for (int q = 0; q < %d; q++)", FEED_PAIRS);
    sb_line(sb, "    fq[q] = fp[q] + jc;");
    sb_line(sb, "%s_twf_%d(wt + (long)u0 * %ld, u0, ps, hp, ho,%s wn + %ld + jc, wn + %ld + jc,",
            L->fn, L->tile_w, (long)L->Hr * L->G, L->block->cell == CELL_LSTM ? " cs_," : "",
            U->pk_b >= 0 ? U->pk_b - U->pk : 0, U->pk_wx - U->pk);
    sb_line(sb, "    fx, fq, fsub %% %d * %d);", FEED_PARTS, U->I / FEED_PARTS);
    sb_line(sb, "if (++fsub == %ld)", nsub);
    sb_line(sb, "    *pre = fend;");
    sb_line(sb, "continue;");
    sb->indent -= 4;
    sb_line(sb, "}");
    em_pp_line(sb, "#endif");
}

/* After a feeding layer's one-sequence step s: with the group's FEED_PAIRS steps done (s
 * the last), their rows of x (this layer's outputs) and of the next layer's projection
 * (FEED_PAIRS rows at most as long as this layer's own: they overwrite rows it has read) for
 * the tiles of the steps after (the group before has had as many tiles as it has parts). */
static void emit_feed_group(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long ghu = (long)L[1].G * L[1].H;
    em_pp_line(sb, "#if RNNC_FEED");
    sb_line(sb, "if (feed && s %% %d == %d) {", FEED_PAIRS, FEED_PAIRS - 1);
    sb_line(sb, "    const int b = perm[0];");
    sb_line(sb, "    fsub = 0, fend = s + 1;");
    sb_line(sb, "    for (int q = 0; q < %d; q++) {", FEED_PAIRS);
    sb_line(sb, "        fx[q] = y + b * ysb + (s - %d + q) * yst;", FEED_PAIRS - 1);
    sb_line(sb, "        fp[q] = xp + ((long)b * T + s - %d + q) * %ld;", FEED_PAIRS - 1, ghu);
    sb_line(sb, "    }");
    sb_line(sb, "}");
    em_pp_line(sb, "#endif");
}

/* A feeding layer's state, at the start of its <fn>_seq: one live sequence, forward. */
static void emit_feed_state(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long nsub = (long)L[1].G * L[1].H / 64 * FEED_PARTS;
    sb_line(sb, "*pre = 0;");
    em_pp_line(sb, "#if RNNC_FEED");
    sb_line(sb,
            "/* one sequence: its tiles carry the next layer's projection (emit_feed_tile) */");
    sb_line(sb, "const int feed = bs[0] == 1 && !reverse;");
    sb_line(sb, "int fsub = %ld, fend = 0; /* the group's next part; its last step + 1 */", nsub);
    sb_line(sb, "const real *fx[%d] = {0};", FEED_PAIRS);
    sb_line(sb, "real *fp[%d] = {0};", FEED_PAIRS);
    em_pp_line(sb, "#else");
    sb_line(sb, "(void)wn;");
    em_pp_line(sb, "#endif");
}

/* In <fn>_seq(c): the recurrence, step by step; h_t goes to the layer's output, then
 * becomes the state the next step reads. */
static void emit_rec_pass(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long H = L->H, U = L->tile_u;
    sb_line(sb, "/* the recurrence: per step, tiles of %ld units by %d sequences, each units'", U,
            L->tile_s);
    sb_line(sb, " * panel of W_hh^T kept in L2 across the step's sequences */");
    sb_line(sb, "for (int s = 0; s < T; s++) {");
    sb->indent += 4;
    sb_line(sb, "const int t = reverse ? T - 1 - s : s, n = bs[t];");
    sb_line(sb, "const int nt = (n + %d) / %d; /* tiles of sequences, as even as can be */",
            L->tile_s - 1, L->tile_s);
    sb_line(sb, "int m;");
    if (L->tile_w) {
        long W = L->tile_w;
        sb_line(sb, "if (n == 1) { /* one sequence: tiles of %ld units, more chains at once */",
                W);
        sb->indent += 4;
        sb_line(sb, "const int i = 0;");
        sb_line(sb, "m = 1;");
        emit_tile_ptrs(e, L);
        if (e->cache) { /* the training forward reads the packed rows */
            sb_line(sb, "for (int u0 = 0; u0 < %ld; u0 += %ld)", H, W);
            sb_line(sb, "    %s_tcw_%ld(w, w + %ld + u0, u0, ps, hp, ho%s);", L->fn, W,
                    L->pk_wh - L->pk, tile_extra(e, L));
        } else {
            sb_line(sb, "for (int v = 0; v < %ld; v += %ld) {", H, W);
            sb->indent += 4;
            sb_line(sb, "const int u0 = s & 1 ? %ld - v : v; /* odd steps from the last panel */",
                    H - W);
            if (em_feed(e, L))
                emit_feed_call(e, L);
            sb_line(sb, "%s_tw_%ld(w, wt + (long)u0 * %ld, u0, ps, hp, ho%s);", L->fn, W,
                    (long)L->Hr * L->G, tile_extra(e, L));
            sb->indent -= 4;
            sb_line(sb, "}");
        }
        sb_line(sb, "vec_copy(h + (long)perm[0] * %ld, ho[0], %d);", em_hstride(e, L, e->cache),
                L->Hr);
        if (em_feed(e, L))
            emit_feed_group(e, L);
        sb_line(sb, "continue;");
        sb->indent -= 4;
        sb_line(sb, "}");
    }
    if (H / U) {
        /* odd steps visit the panels from the last: the panels read last at a step, still in
         * L2, are read first at the next (a layer's steps run one after another) */
        sb_line(sb, "for (int v = 0; v < %ld; v += %ld) {", H / U * U, U);
        sb->indent += 4;
        sb_line(sb, "const int u0 = s & 1 ? %ld - v : v;", H / U * U - U);
        emit_rec_tiles(e, L, "u0", U);
        sb->indent -= 4;
        sb_line(sb, "}");
    }
    if (H % U) {
        char u0[24];
        snprintf(u0, sizeof u0, "%ld", H / U * U);
        sb_line(sb, "{");
        sb->indent += 4;
        emit_rec_tiles(e, L, u0, H % U);
        sb->indent -= 4;
        sb_line(sb, "}");
    }
    sb_line(sb, "for (int i = 0; i < n; i++) {");
    sb_line(sb, "    const int b = perm[i];");
    sb_line(sb, "    vec_copy(h + (long)b * %ld, y + b * ysb + t * yst, %d);",
            em_hstride(e, L, e->cache), L->Hr);
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
}

/* A blocked layer's W_ih^T, when the projection pass reads it, copied into column panels
 * [j/w][k][w] (the last one narrower) at the start of xp, which then begins after them: rows
 * a power of two apart would otherwise fall into a few cache sets and leave them nowhere
 * near L2. The tiles' unit panels, W_ih^T's and W_hh^T's, are pack's (wt: pk_blk). */
static void emit_blocking(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    long GH = (long)L->G * L->H, w = proj_cols(e), I = L->I;
    sb_line(sb, "real *wc = xp; /* I * G*H: W_ih^T's column panels */");
    sb_line(sb, "xp += %ld;", e->p->wt_width);
    if (fused_run(e, L)) {
        sb_line(sb, "const int fuse = bs[0] >= %d; /* two full tiles: the tiles take x */",
                2 * L->tile_s);
        sb_line(sb, "if (!fuse) {");
    } else
        sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "const real *wx = w + %ld;", L->pk_wx - L->pk);
    sb_line(sb, "for (long jb = 0; jb < %ld; jb += %ld) {", GH, w);
    sb_line(sb, "    const long wd = %ld - jb < %ld ? %ld - jb : %ld;", GH, w, GH, w);
    sb_line(sb, "    for (long k = 0; k < %ld; k++)", I);
    sb_line(sb, "        for (long j = 0; j < wd; j++)");
    sb_line(sb, "            wc[jb * %ld + k * wd + j] = wx[k * %ld + jb + j];", I, GH);
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
}

/* <fn>_seq (with e->cache <fn>_seqc), with seq.c's signatures: the projections, then the
 * recurrence. */
static void emit_tiled_seq(Emitter *e, const PlanLayer *L)
{
    Sb *sb = e->sb;
    int lstm = L->block->cell == CELL_LSTM, gru = L->block->cell == CELL_GRU;
    int ns = L->tile_s > e->p->kern.proj_rows ? L->tile_s : e->p->kern.proj_rows;
    if (e->cache) {
        sb_line(sb, "/* %s layer %d over a packed batch, as %s_seq, also keeping the",
                L->block->name, L->layer, L->fn);
        sb_line(sb, " * activations a (B, T, %ld)%s for backward. */", (long)L->G * L->H,
                lstm  ? " and the cell states cs (B, T, H)"
                : gru ? " and ex (B, T, H)"
                      : "");
        sb_line(sb,
                "static void %s_seqc(const real *w, const real *x, long xsb, long xst, real *y,",
                L->fn);
        sb_line(sb, "    long ysb, long yst, int T, const int *bs, const int *perm, real *h,%s",
                lstm  ? " real *c, real *cs,"
                : gru ? " real *ex,"
                      : "");
        sb_line(sb, "    real *a, int reverse)");
    } else {
        sb_line(sb, "/* %s layer %d over a packed batch, one direction (reverse: from each",
                L->block->name, L->layer);
        sb_line(sb, " * sequence's own last step), in tiles. x (I=%d) and y (%d) per step by",
                L->I, L->Hr);
        sb_line(sb, " * strides; h (B, %d)%s the state; xp (B, T, %ld) is scratch. */", L->Hr,
                lstm ? " and c (B, H) carry" : " carries", (long)L->G * L->H);
        sb_line(sb, "static void %s_seq(const real *w, const real *x, long xsb, long xst,", L->fn);
        sb_line(sb,
                "    real *y, long ysb, long yst, int T, const int *bs, const int *perm, "
                "real *h,%s",
                lstm ? " real *c," : "");
        sb_line(sb, "    real *xp, int reverse%s%s)",
                em_feed(e, L)  ? ", const real *wn, int *pre"
                : em_fed(e, L) ? ", int pre"
                               : "",
                em_panels(e, L) ? ", const real *wt" : "");
    }
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "const real *xs[%d], *hp[%d];", ns, ns);
    sb_line(sb, "real *ps[%d], *ho[%d];", ns, ns);
    if (lstm)
        sb_line(sb, "real *cs_[%d];", ns);
    if (e->cache && lstm)
        sb_line(sb, "real *cst[%d];", ns);
    if (e->cache && gru)
        sb_line(sb, "real *exs[%d];", ns);
    if (L->blocked && !e->cache)
        emit_blocking(e, L);
    if (em_feed(e, L))
        emit_feed_state(e, L);
    if (fused_run(e, L)) {
        sb_line(sb, "if (!fuse) {");
        sb->indent += 4;
        emit_proj_pass(e, L);
        sb->indent -= 4;
        sb_line(sb, "}");
    } else if (!fused_x(e, L))
        emit_proj_pass(e, L);
    emit_rec_pass(e, L);
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

void em_tile_layer(Emitter *e, const PlanLayer *L)
{
    long GH = (long)L->G * L->H, w = proj_cols(e), U = L->tile_u;
    int rows = e->p->kern.proj_rows;
    if (GH / w && !e->cache) { /* the training forward shares them */
        emit_proj_tile(e, L, rows, w);
        emit_proj_tile(e, L, 1, w);
    }
    if (GH % w && !e->cache) {
        emit_proj_tile(e, L, rows, GH % w);
        emit_proj_tile(e, L, 1, GH % w);
    }
    if (L->tile_w)
        emit_rec_tile(e, L, 1, L->tile_w, 1, 0);
    if (em_feed(e, L))
        emit_feed_tile(e, L);
    for (int ns = 1; ns <= L->tile_s; ns++) {
        if (L->H / U && pf_next(e, L, U))
            emit_rec_tile(e, L, ns, U, 0, 1);
        if (L->H / U)
            emit_rec_tile(e, L, ns, U, 0, 0);
        if (L->H % U)
            emit_rec_tile(e, L, ns, L->H % U, 0, 0);
    }
    emit_tiled_seq(e, L);
}
