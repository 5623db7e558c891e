/* product.c — the matrix products every generated kernel is made of: one sequence's
 * (unrolled statements or constant-bound loops, em_product), blocks of sequences held in
 * accumulators (em_product_blk, the batched kernels), and the outer products of the batched
 * backward (em_outer). Each output sees the same additions in the same order in all of them,
 * so a sequence gives the same bits alone or in any block.
 */
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

/* "base + j" for a loop index, or the folded constant when unrolled (j >= 0). */
const char *em_ix(Emitter *e, long base, long j)
{
    char *s = e->ring[e->ring_at++ % 16];
    if (j == -2 && base == 0) /* a column of seq.c's chunk jc */
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
/* em_product's loops for compilers that keep arrays in registers: chunks of up to 256 outputs
 * (16 AVX-512 vectors of floats) held in accumulators across every term, so that each step
 * of the reduction loads weights only (a streaming step's product is bound by them), and
 * asks for the rows the plan's prefetch_bytes on before it needs them. The same expression,
 * acc + w * v, per output in the same order. */
static void emit_product_regs(Emitter *e, const char *dst, long dst0, long n, const char *init,
                              long init0, const Term *terms, int nterms)
{
    Sb *sb = e->sb;
    long rs = e->p->real_size, ch = 1024 / rs, full = n / ch * ch, line = 64 / rs;
    for (int part = 0; part < 2; part++) {
        long w = part ? n - full : ch;
        if (!w || (!part && !full))
            continue;
        if (part || full == ch)
            sb_line(sb, "{");
        else
            sb_line(sb, "for (long jc = 0; jc < %ld; jc += %ld) {", full, ch);
        sb->indent += 4;
        if (part || full == ch)
            sb_line(sb, "const long jc = %ld;", part ? full : 0);
        sb_line(sb, "real acc[%ld];", w);
        sb_line(sb, "for (int j = 0; j < %ld; j++)", w);
        if (init)
            sb_line(sb, "    acc[j] = %s[%ld + jc + j];", init, init0);
        else
            sb_line(sb, "    acc[j] = %s;", e->zero);
        for (int t = 0; t < nterms; t++) {
            const Term *tm = &terms[t];
            sb_line(sb, "for (int k = 0; k < %ld; k++) {", tm->K);
            sb_line(sb, "    const real vk = %s[k], *wk = %s + k * %ld + %ld + jc;", tm->v, tm->w,
                    tm->row, tm->col0);
            /* the chunk's columns `ahead` rows on: the plan's prefetch_bytes of weights */
            long ahead = (e->p->kern.prefetch_bytes + w * rs - 1) / (w * rs);
            if (tm->K > ahead) {
                sb_line(sb, "    if (k + %ld < %ld)", ahead, tm->K);
                sb_line(sb, "        for (int q = 0; q < %ld; q += %ld)", w, line);
                sb_line(sb, "            RNNC_PREFETCH_ROW(wk + %ld + q);", ahead * tm->row);
            }
            sb_line(sb, "    for (int j = 0; j < %ld; j++)", w);
            sb_line(sb, "        acc[j] = MADD(acc[j], wk[j], vk);");
            sb_line(sb, "}");
        }
        sb_line(sb, "for (int j = 0; j < %ld; j++)", w);
        sb_line(sb, "    %s[%ld + jc + j] = acc[j];", dst, dst0);
        sb->indent -= 4;
        sb_line(sb, "}");
    }
}

void em_product(Emitter *e, int unrolled, const char *dst, long dst0, long n, const char *init,
                long init0, const Term *terms, int nterms)
{
    Sb *sb = e->sb;
    if (!unrolled && !e->for_tcc) {
        emit_product_regs(e, dst, dst0, n, init, init0, terms, nterms);
        return;
    }
    if (!unrolled && e->tcc_calls && nterms > 0) {
        const char *x = e->p->net->dbl ? "f64" : "f32";
        for (int t = 0; t < nterms; t++) {
            const Term *tm = &terms[t];
            char from[96];
            if (t)
                snprintf(from, sizeof from, "%s + %ld", dst, dst0);
            else if (init)
                snprintf(from, sizeof from, "%s + %ld", init, init0);
            else
                snprintf(from, sizeof from, "0");
            sb_line(sb, "rnnc_product_%s(%s + %ld, %s, %s + %ld, %ld, %s, %ld, %ld);", x, dst,
                    dst0, from, tm->w, tm->col0, tm->row, tm->v, tm->K, n);
        }
        return;
    }
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
            if (e->for_tcc && e->p->kern.tcc_by_four && n % 4 == 0) {
                /* by fours for libtcc, which does not unroll: its code spends less on the
                 * loop (compilers that vectorise get the plain loop) */
                sb_line(sb, "real *dj = %s + %ld;", dst, dst0);
                sb_line(sb, "for (int j = 0; j < %ld; j += 4) {", n);
                for (int q = 0; q < 4; q++)
                    sb_line(sb, "    dj[j + %d] = MADD(dj[j + %d], wk[j + %d], vk);", q, q, q);
                sb_line(sb, "}");
            } else {
                const char *d = em_ix(e, dst0, -1);
                sb_line(sb, "for (int j = 0; j < %ld; j++)", n);
                sb_line(sb, "    %s[%s] = MADD(%s[%s], wk[j], vk);", dst, d, dst, d);
            }
            sb_close(sb, 1);
        }
        return;
    }
    /* each output's terms through MADD, in a local: dst may be the vector */
    for (long c = 0; c < n; c++) {
        int col = sb->indent + 4;
        sb_line(sb, "{");
        if (init)
            sb_line(sb, "    real a_ = %s[%ld];", init, init0 + c);
        else
            sb_line(sb, "    real a_ = %s;", e->zero);
        for (int t = 0; t < nterms; t++) {
            const Term *tm = &terms[t];
            for (long k = 0; k < tm->K; k++) {
                char term[112];
                int len = snprintf(term, sizeof term, "a_ = MADD(a_, %s[%ld], %s[%ld]);", tm->w,
                                   k * tm->row + tm->col0 + c, tm->v, k);
                if (col == sb->indent + 4 || col + 1 + len > 92) {
                    sb_printf(sb, "%s%*s", col == sb->indent + 4 ? "" : "\n", sb->indent + 4, "");
                    col = sb->indent + 4;
                } else {
                    sb_puts(sb, " ");
                    col++;
                }
                sb_puts(sb, term);
                col += len;
            }
        }
        if (col > sb->indent + 4)
            sb_puts(sb, "\n");
        sb_line(sb, "    %s[%ld] = a_;", dst, dst0 + c);
        sb_line(sb, "}");
    }
}

/* The condition under which a unit written out fuses its multiply-adds (emit_int.h). */
const char *em_fused_if(int dbl)
{
    return dbl ? "defined(__FP_FAST_FMA) && !defined(RNNC_STRICT)"
               : "defined(__FP_FAST_FMAF) && !defined(RNNC_STRICT)";
}

/* MADD(acc, w, v) = acc + w * v, every term of every product. In the JIT's units always one
 * fused multiply-add, one rounding: libtcc's code calls it (jit_fmaf, or jit_kern.c's
 * products, fused alike) and the system compiler's inlines it, so both give the same bits, at
 * the speed of the machine's FMA. In units written out (deployed or not): fused where the
 * compiler says a fused multiply-add is fast (-march with FMA: then the JIT's bits) unless
 * RNNC_STRICT is defined, else a multiply and an add (no library call either way). */
void em_madd(Emitter *e)
{
    Sb *sb = e->sb;
    int dbl = e->p->net->dbl;
    const char *f = dbl ? "" : "f", *r = dbl ? "double" : "float";
    if (e->jit && e->for_tcc) {
        sb_line(sb, "/* acc + w * v in every product: one fused multiply-add (rnnc's build) */");
        sb_line(sb, "%s fma%s(%s, %s, %s);", r, f, r, r, r);
        sb_line(sb, "#define MADD(acc, w, v) fma%s(w, v, acc)", f);
    } else if (e->jit) {
        sb_line(sb, "/* acc + w * v in every product: one fused multiply-add, as libtcc's */");
        sb_line(sb, "#define MADD(acc, w, v) __builtin_fma%s(w, v, acc)", f);
    } else {
        sb_line(sb, "/* acc + w * v in the products: fused where the compiler says fused");
        sb_line(sb, " * multiply-add is fast, unless RNNC_STRICT is defined. */");
        sb_line(sb, "#if %s", em_fused_if(dbl));
        sb_line(sb, "#define MADD(acc, w, v) __builtin_fma%s(w, v, acc)", f);
        sb_line(sb, "#else");
        sb_line(sb, "#define MADD(acc, w, v) ((acc) + (w) * (v))");
        sb_line(sb, "#endif");
    }
    if (e->dep || !e->p->xp_width) { /* no batched kernels (deployed code keeps the cell) */
        sb_line(sb, "%s", "");
        return;
    }
    sb_line(sb, "/* The tiles of the batched kernels stay functions of their own, and everything");
    sb_line(sb,
            " * they call (exp, tanh) is inlined into them, so that their gates vectorise. */");
    sb_line(sb, "#if defined(__GNUC__)");
    sb_line(sb, "#define RNNC_TILE __attribute__((noinline, flatten))");
    sb_line(sb, "#else");
    sb_line(sb, "#define RNNC_TILE");
    sb_line(sb, "#endif");
    int feed = 0;
    for (int i = 0; i < e->p->nlayers; i++)
        feed |= em_feed(e, &e->p->layers[i]);
    if (feed) {
        sb_line(sb, "/* With AVX-512 and MADD fused, a one-sequence layer's tiles carry the next");
        sb_line(sb, " * layer's input projection, in intrinsics of that fused multiply-add. */");
        sb_line(sb, "#if defined(__GNUC__) && defined(__AVX512F__)%s%s", e->jit ? "" : " && ",
                e->jit ? "" : em_fused_if(0));
        sb_line(sb, "#include <immintrin.h>");
        sb_line(sb, "#define RNNC_FEED 1");
        sb_line(sb, "#else");
        sb_line(sb, "#define RNNC_FEED 0");
        sb_line(sb, "#endif");
    }
    sb_line(sb, "%s", "");
}

/* Sequences per block of the batched kernels: the plan's, for every compiler (libtcc's
 * units call products compiled ahead of time that keep a block in registers). */
int em_block(const Emitter *e)
{
    return e->p->kern.blk_seqs;
}

long em_hstride(const Emitter *e, const PlanLayer *L, int cache)
{
    return cache ? e->p->max_hr : L->Hr;
}

long em_cstride(const Emitter *e, const PlanLayer *L, int cache)
{
    return cache ? e->p->max_h : L->H;
}

/* Opens the vector form of a loop of multiply-adds, prelude.c's RNNC_TILE_V (AVX-512,
 * fused as MADD): for s < ns, acc[s][16 i + l] = MADD(acc[s][16 i + l], row[off[i] + l], x)
 * for every vector i < nv and lane l, where `head` opens the loop (its body starts with the
 * npre lines pre, which define `row`'s pointer), and x, the expression bc of s, is broadcast.
 * Each of the row's vectors is loaded once and kept in its register (RV_LOAD_KEEP) for every s;
 * lane by lane the scalar loop's operations in its order: the same bits. The caller writes
 * the scalar loop next and closes with em_vec_madds_end. Returns 0, emitting nothing, where
 * the unit has no vectors or one s (each vector read once: loads folded into the multiply-adds
 * are then the right code). */
int em_vec_madds(Emitter *e, int ns, long nv, const char *head, const char *const *pre, int npre,
                 const char *row, const long *off, const char *bc)
{
    Sb *sb = e->sb;
    if (!e->vec || ns < 2 || nv < 1)
        return 0;
    em_pp_line(sb, "#if defined(RNNC_TILE_V)");
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "rvec va[%d][%ld];", ns, nv);
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int i = 0; i < %ld; i++)", nv);
    sb_line(sb, "        RV_LOAD(va[s][i], &acc[s][16 * i]);");
    sb_line(sb, "%s", head);
    sb->indent += 4;
    for (int i = 0; i < npre; i++)
        sb_line(sb, "%s", pre[i]);
    for (long i = 0; i < nv; i++)
        sb_line(sb, "rvec wv%ld;", i);
    for (long i = 0; i < nv; i++)
        sb_line(sb, "RV_LOAD_KEEP(wv%ld, %s + %ld);", i, row, off[i]);
    sb_line(sb, "for (int s = 0; s < %d; s++) {", ns);
    sb_line(sb, "    const rvec hv = RV_BCAST(%s);", bc);
    for (long i = 0; i < nv; i++)
        sb_line(sb, "    RV_FMA(va[s][%ld], wv%ld, hv, va[s][%ld]);", i, i, i);
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int i = 0; i < %ld; i++)", nv);
    sb_line(sb, "        RV_STORE(&acc[s][16 * i], va[s][i]);");
    sb->indent -= 4;
    sb_line(sb, "}");
    em_pp_line(sb, "#else");
    return 1;
}

void em_vec_madds_end(Emitter *e, int opened)
{
    if (opened)
        em_pp_line(e->sb, "#endif");
}

/* em_vec_madds over nv vectors side by side in a row (offsets 16 i). */
static int vec_row(Emitter *e, int ns, long width, const char *head, const char *const *pre,
                   int npre, const char *row, const char *bc)
{
    long off[64], nv = width % 16 ? 0 : width / 16;
    if (nv > 64)
        nv = 0;
    for (long i = 0; i < nv; i++)
        off[i] = 16 * i;
    return em_vec_madds(e, ns, nv, head, pre, npre, row, off, bc);
}

/* One column range [c0, c0 + count * width) of em_product_blk, in chunks of `width`. */
static void blk_chunks(Emitter *e, int ns, const char *dst, long dst0, long c0, long count,
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
        sb_line(sb, "        acc[s][j] = %s%s[%s];", init, init_ps ? "[s]" : "",
                em_ix(e, init0, -2));
    for (int t = 0; t < nterms; t++) {
        const Term *tm = &terms[t];
        char head[48], pre[96], bc[48];
        snprintf(head, sizeof head, "for (int k = 0; k < %ld; k++) {", tm->K);
        if (tm->col0)
            snprintf(pre, sizeof pre, "const real *wk = %s + k * %ld + %ld + jc;", tm->w, tm->row,
                     tm->col0);
        else
            snprintf(pre, sizeof pre, "const real *wk = %s + k * %ld + jc;", tm->w, tm->row);
        snprintf(bc, sizeof bc, "%s[s][k]", tm->v);
        const char *pres[1] = {pre};
        int vec = vec_row(e, ns, width, head, pres, 1, "wk", bc);
        sb_line(sb, "%s", head);
        sb_line(sb, "    %s", pre);
        sb_line(sb, "    for (int s = 0; s < %d; s++) {", ns);
        sb_line(sb, "        const real vk = %s[s][k];", tm->v);
        sb_line(sb, "        for (int j = 0; j < %ld; j++)", width);
        sb_line(sb, "            acc[s][j] = MADD(acc[s][j], wk[j], vk);");
        sb_line(sb, "    }");
        sb_line(sb, "}");
        em_vec_madds_end(e, vec);
    }
    sb_line(sb, "for (int s = 0; s < %d; s++)", ns);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", width);
    sb_line(sb, "        %s[s][%s] = acc[s][j];", dst, em_ix(e, dst0, -2));
    sb_close(sb, 1);
}

/* For s < ns and c < n: dst[s][dst0 + c] = init (shared: init[init0 + c]; per sequence
 * when init_ps: init[s][init0 + c]; 0 when NULL) + the terms' products, each term's vector
 * being v[s]. The order of additions is em_product's. */
void em_product_blk(Emitter *e, int ns, const char *dst, long dst0, long n, const char *init,
                    int init_ps, long init0, const Term *terms, int nterms)
{
    Sb *sb = e->sb;
    if (e->tcc_calls && nterms > 0) {
        /* the block's pointers, then one call per term (jit_product_blk: each output's
         * operations em_product's) */
        const char *x = e->p->net->dbl ? "f64" : "f32";
        char cnt[16];
        snprintf(cnt, sizeof cnt, "%d", ns);
        const char *c = e->blk_n ? e->blk_n : cnt; /* sequences [0, c) of the block */
        sb_line(sb, "{");
        sb->indent += 4;
        sb_line(sb, "real *d_[%d];", ns);
        sb_line(sb, "const real *i_[%d], *v_[%d];", ns, ns);
        for (int t = 0; t < nterms; t++) {
            const Term *tm = &terms[t];
            sb_line(sb, "for (int s = 0; s < %s; s++) {", c);
            if (!t) {
                sb_line(sb, "    d_[s] = %s[s] + %ld;", dst, dst0);
                if (init && init_ps)
                    sb_line(sb, "    i_[s] = %s[s] + %ld;", init, init0);
                else if (init)
                    sb_line(sb, "    i_[s] = %s + %ld;", init, init0);
                else
                    sb_line(sb, "    i_[s] = 0;");
            } else if (t == 1) {
                sb_line(sb, "    i_[s] = d_[s];");
            }
            sb_line(sb, "    v_[s] = %s[s];", tm->v);
            sb_line(sb, "}");
            sb_line(sb, "rnnc_product_blk_%s(%s, d_, i_, %s + %ld, %ld, v_, %ld, %ld);", x, c,
                    tm->w, tm->col0, tm->row, tm->K, n);
        }
        sb_close(sb, 1);
        return;
    }
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
        sb_close(sb, 1);
        return;
    }
    /* one sequence: more columns at once, for independent chains of additions */
    long jb = ns == 1 ? e->p->kern.one_seq_cols : e->p->kern.blk_cols;
    if (n / jb)
        blk_chunks(e, ns, dst, dst0, 0, n / jb, jb, init, init_ps, init0, terms, nterms);
    if (n % jb)
        blk_chunks(e, ns, dst, dst0, n / jb * jb, 1, n % jb, init, init_ps, init0, terms, nterms);
}

/* One block of em_outer: rows [k0, k0 + R) (k0 a loop's or constant) by columns of chunk jc
 * (a loop's or constant), width wd, accumulators held across the live sequences. */
static void outer_chunk(Emitter *e, const char *dst, long row, long col0, long R, long wd, long W,
                        long voff, long doff)
{
    Sb *sb = e->sb;
    sb_line(sb, "real acc[%ld][%ld];", R, wd);
    sb_line(sb, "real *d0 = %s + (long)k0 * %ld + %ld + jc;", dst, row, col0);
    sb_line(sb, "for (int r = 0; r < %ld; r++)", R);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", wd);
    sb_line(sb, "        acc[r][j] = d0[r * %ld + j];", row);
    char pre[96], bc[48];
    snprintf(pre, sizeof pre, "const real *z = bz + (long)i * %ld, *d = z + %ld + jc;", W, doff);
    snprintf(bc, sizeof bc, "z[%ld + k0 + s]", voff);
    const char *pres[1] = {pre};
    int vec = vec_row(e, (int)R, wd, "for (int i = 0; i < n; i++) {", pres, 1, "d", bc);
    sb_line(sb, "for (int i = 0; i < n; i++) {");
    sb_line(sb, "    %s", pre);
    sb_line(sb, "    for (int r = 0; r < %ld; r++) {", R);
    sb_line(sb, "        const real v = z[%ld + k0 + r];", voff);
    sb_line(sb, "        for (int j = 0; j < %ld; j++)", wd);
    sb_line(sb, "            acc[r][j] = MADD(acc[r][j], d[j], v);");
    sb_line(sb, "    }");
    sb_line(sb, "}");
    em_vec_madds_end(e, vec);
    sb_line(sb, "for (int r = 0; r < %ld; r++)", R);
    sb_line(sb, "    for (int j = 0; j < %ld; j++)", wd);
    sb_line(sb, "        d0[r * %ld + j] = acc[r][j];", row);
}

/* dst[k * row + col0 + j] += sum over the n live sequences i, in order, of
 * d_i[j] * v_i[k] for k < K, j < ncols, where sequence i's scratch is bz + i * W, v at voff
 * and d at doff: blocks of 6 rows by 64 columns held in registers across the sequences. */
void em_outer(Emitter *e, const char *dst, long row, long col0, long K, long ncols, long W,
              long voff, long doff)
{
    Sb *sb = e->sb;
    if (e->tcc_calls) {
        sb_line(sb, "rnnc_outer_%s(%s + %ld, %ld, %ld, %ld, bz, %ld, %ld, %ld, n);",
                e->p->net->dbl ? "f64" : "f32", dst, col0, row, K, ncols, W, voff, doff);
        return;
    }
    if (e->for_tcc) {
        sb_line(sb, "for (int i = 0; i < n; i++) {");
        sb_line(sb, "    const real *z = bz + (long)i * %ld, *d = z + %ld;", W, doff);
        sb_line(sb, "    for (int k = 0; k < %ld; k++) {", K);
        sb_line(sb, "        const real v = z[%ld + k];", voff);
        sb_line(sb, "        real *r = %s + k * %ld + %ld;", dst, row, col0);
        sb_line(sb, "        for (int j = 0; j < %ld; j++)", ncols);
        sb_line(sb, "            r[j] = MADD(r[j], d[j], v);");
        sb_line(sb, "    }");
        sb_line(sb, "}");
        return;
    }
    const long KB = e->p->kern.outer_rows, JB = e->p->kern.blk_cols;
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
            /* columns outer: a chunk's d (wd reals of each of the n rows) stays in L1 across
             * the blocks of rows that read it */
            if (!b)
                sb_line(sb, "for (int jc = 0; jc < %ld; jc += %ld)", ncols / JB * JB, JB);
            else
                sb_line(sb, "{");
            if (!b)
                sb->indent += 4;
            if (!a)
                sb_line(sb, "for (int k0 = 0; k0 < %ld; k0 += %ld) {", K / KB * KB, KB);
            else
                sb_line(sb, "{");
            sb->indent += 4;
            if (a)
                sb_line(sb, "const int k0 = %ld;", kparts[a][0]);
            if (b)
                sb_line(sb, "const int jc = %ld;", jparts[b][0]);
            outer_chunk(e, dst, row, col0, R, wd, W, voff, doff);
            sb_close(sb, 1);
            if (!b)
                sb->indent -= 4;
            else
                sb_line(sb, "}");
        }
    }
}
