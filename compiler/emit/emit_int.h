/* emit_int.h — what the emitter's modules share: emit.c (unit assembly, banner, header),
 * product.c (the matrix products), cell.c (each cell's step, forward and backward side by
 * side), seq.c (a layer over a packed batch), api.c (the entry points) and deploy.c (baked
 * weights, streaming API, self-test). Internal to the compiler.
 */
#ifndef RNNC_EMIT_INT_H
#define RNNC_EMIT_INT_H

#include "cell.h"
#include "emit.h"
#include "sb.h"

typedef struct Emitter {
    Sb *sb;
    const Plan *p;
    const EmitDeploy *dep;  /* deployed code; NULL for the run-time API */
    const char *one, *zero; /* literals of the model precision */
    const char *exp_fn, *tanh_fn;
    const char *fn;    /* before each function definition: "RNNC_NOLIB " when deployed */
    int jit;           /* a unit for rnnc's JIT: with the host's entry points (ModelFns) */
    int train;         /* also emit the training API (api.c, seq.c) */
    int cache;         /* the cell being written stores its activations (a, ex) */
    int for_tcc;       /* for libtcc, which neither unrolls nor vectorises */
    int tcc_calls;     /* libtcc's unit: products call rnnc_product_* and rnnc_outer_*
                          (compiler/jit_kern.c) rather than loop (emit_layer shows loops) */
    int vacts;         /* libtcc's unit with math: builtin: the batched kernels apply the
                          gate activations to whole vectors (rnnc_sigmoid_v_*, rnnc_tanh_v_*) */
    int acts_done;     /* the gates being written read activations applied already */
    const char *blk_n; /* libtcc's block kernels: the live sequences' count, a variable
                          ("n"), where em_product_blk's loops and calls take it */
    int vec;           /* a float unit with math: builtin whose tiles or one-sequence cells
                          take prelude.c's vec_f32 (em_plan_vec): their gates vector by
                          vector where GNU C vectors exist */
    char ring[16][48]; /* scratch for index expressions */
    int ring_at;
    /* quantised code's RNNC_QMAX and RNNC_QFRAC (emit/quant.c); NULL elsewhere */
    const char *qmax, *qfrac;
} Emitter;

/* One input of a product: dst[c] += w[k * row + col0 + c] * v[k] for k < K. */
typedef struct Term {
    const char *w, *v;
    long K, row, col0;
} Term;

/* ---- emit.c: unit assembly ------------------------------------------------------------ */

/* Appends template section `name` (templates/prelude.c, else drivers.c, else quant.c) with
 * its holes filled. */
void em_section(Emitter *e, const char *name);
/* The banner lines describing the network. */
void em_summary(Emitter *e);
const char *em_base_name(const char *path);
/* Closes the banner comment and opens the header: include guard and extern "C". */
void em_header_open(Emitter *e, const char *N);
/* Closes what em_header_open opened. */
void em_header_close(Emitter *e, const char *N);
void em_upper(char *dst, const char *src, size_t n);

/* ---- product.c: the matrix products ---------------------------------------------------- */

/* "base + j" for a loop index (j == -1), "base + jc + j" for a chunk's (j == -2), or the
 * folded constant base + j when unrolled (j >= 0). */
const char *em_ix(Emitter *e, long base, long j);
/* dst[dst0 + c] = init[init0 + c] (or 0) + the terms' products, for c < n: statements when
 * unrolled, else constant-bound loops; the same order of additions either way. */
void em_product(Emitter *e, int unrolled, const char *dst, long dst0, long n, const char *init,
                long init0, const Term *terms, int nterms);
/* The MADD macro of the batched products (fused multiply-add where fast). */
void em_madd(Emitter *e);
/* The preprocessor condition under which a unit written out fuses its multiply-adds (MADD,
 * e^v and tanh): the compiler says fused is fast and RNNC_STRICT is not defined. */
const char *em_fused_if(int dbl);
int em_block(const Emitter *e);
/* The row strides of the running state h and c over a packed batch: the layer's own, or in
 * the training forward (cache) the widest layer's, so that a sequence's rows lie where no
 * other sequence's lie in any layer (forward_train's parts share nothing). */
long em_hstride(const Emitter *e, const PlanLayer *L, int cache);
long em_cstride(const Emitter *e, const PlanLayer *L, int cache);
/* em_product for ns sequences at once: dst, the terms' v (and init when init_ps) name arrays
 * indexed [s]; the same additions in the same order. */
void em_product_blk(Emitter *e, int ns, const char *dst, long dst0, long n, const char *init,
                    int init_ps, long init0, const Term *terms, int nterms);

/* The vector form of a loop of multiply-adds into acc[s][...] (prelude.c's RNNC_TILE_V), the
 * caller's scalar loop after it; 0 (nothing emitted) where it does not apply. product.c. */
int em_vec_madds(Emitter *e, int ns, long nv, const char *head, const char *const *pre, int npre,
                 const char *row, const long *off, const char *bc);
void em_vec_madds_end(Emitter *e, int opened);

/* dst[k * row + col0 + j] += sum over the n live sequences i, in order, of d_i[j] * v_i[k]
 * (k < K, j < ncols): sequence i's scratch is bz + i * W, v at voff, d at doff. */
void em_outer(Emitter *e, const char *dst, long row, long col0, long K, long ncols, long W,
              long voff, long doff);

/* ---- cell.c: each cell's step, forward and backward ------------------------------------- */

/* Declares b, bhn, wx, wh, wr: the parts of a layer's packed weights relative to `w`. */
void em_pointers(Emitter *e, const PlanLayer *L);
/* Runs fn(e, L, j) for every unit j < n: one copy each when L is unrolled, else a loop. */
void em_units(Emitter *e, const PlanLayer *L, long n,
              void (*fn)(Emitter *, const PlanLayer *, long));
/* One step of layer L: `<fn>_cell(w, x, h[, c])`, or with e->cache set
 * `<fn>_cellc(w, x, h[, c], a[, ex])`, which also stores the gate activations for backward. */
void em_cell(Emitter *e, const PlanLayer *L);
/* The gate equations of unit j (a loop's j when j < 0) over g [gh], updating h [c, m]; and
 * a GRU's (reset before) r * h into rh. The names are the cell's. */
void em_gates_unit(Emitter *e, const PlanLayer *L, long j);
void em_reset_unit(Emitter *e, const PlanLayer *L, long j);
/* libtcc's batched gates (e->vacts): whole gates' activations, then the rest in calls
 * compiled ahead of time; and r alone, for a GRU resetting before, before r * h. */
void em_gates_vec(Emitter *e, const PlanLayer *L, const char *g);
void em_acts_reset(Emitter *e, const PlanLayer *L, const char *g);
/* One step backward of layer L (split: the batched kernels' per-sequence part). */
void em_back(Emitter *e, const PlanLayer *L, int split);

/* ---- seq.c: a layer over a packed batch ----------------------------------------------- */

/* Every function of layer L (both directions share them): its step and sequence drivers,
 * and with e->train their training twins. */
void em_layer(Emitter *e, const PlanLayer *L);
/* Whether layer L takes the batched path (run-time API, loop kernel): the input projection of
 * all steps first (<fn>_proj), then the recurrence (<fn>_rec), blocks of em_block sequences. */
int em_split(const Emitter *e, const PlanLayer *L);
/* Whether layer L's dL/dy is all zero (the top layer under a head of the last state), and
 * whether its backward sets dL/dx rather than adding to it (seq.c says when). */
int em_dy_zero(const Emitter *e, const PlanLayer *L);
int em_dx_set(const Emitter *e, const PlanLayer *L);
/* Whether layer L's inference <fn>_seq carries the next layer's input projection (the plan's
 * feed: its system compiler's tiles), and whether it is that next layer (fed): their
 * signatures and the forward's calls take the feed's arguments (tile.c). */
int em_feed(const Emitter *e, const PlanLayer *L);
int em_fed(const Emitter *e, const PlanLayer *L);
/* Whether L's <fn>_seq takes pack's panels as its last argument wt: the wide tiles' of
 * W_hh^T (pk_panel) or a blocked layer's of W_ih^T and W_hh^T (pk_blk), in the system
 * compiler's inference forward. */
int em_panels(const Emitter *e, const PlanLayer *L);
/* Code copying the K rows of packed W^T at src + from into panels of U units at dst + at,
 * [u/U][k][gate][U] (tile.c): pack's, for the wide tiles and the blocked layers. */
void em_unit_panels(Emitter *e, const PlanLayer *L, const char *src, long from, int K,
                    const char *dst, long at, long U);
/* A split layer's <fn>_proj, <fn>_rec and <fn>_seq; its <fn>_recc and <fn>_seqc. */
void em_kern_layer(Emitter *e, const PlanLayer *L);
void em_kern_train(Emitter *e, const PlanLayer *L);
/* ---- tile.c: the tiled batched forward (system compiler) ---------------------------- */

/* A tiled layer's projection and recurrence tiles and its <fn>_seq (e->cache: the training
 * forward's tiles and <fn>_seqc), for builds that are not libtcc's. */
void em_tile_layer(Emitter *e, const PlanLayer *L);
/* Whether a tile of U units of layer L has gates by vectors (prelude.c's vec_f32: an LSTM,
 * a GRU resetting after, a tanh RNN, U a multiple of 16), and whether any tile of p has. */
int em_tile_vec(const PlanLayer *L, long U);
/* Whether layer L's one-sequence cell (em_cell, not the training one) takes its gates by
 * vectors: a loop kernel of a multiple of 16 units, not a relu RNN. */
int em_cell_vec(const PlanLayer *L);
/* Whether any tile (not in deployed code: dep) or cell of p takes vec_f32. */
int em_plan_vec(const Plan *p, int dep);
/* A preprocessor line, at the left margin whatever the code's indentation. */
void em_pp_line(Sb *sb, const char *text);
/* Where em_vec_gates' vectors are: a tile's sequence s and vector v (q = s * nv + v), units
 * u0 + 16 v of its tables ps, hp, ho, cs (the accumulators acc[s], gate k's at k * gs); or,
 * ns = 0, a cell's vector q, units 16 q of g (gate k's at k * gs), gh, h, c and out (h, or
 * an LSTM's m before its projection). */
typedef struct VecSite {
    int ns;
    long nv, N, gs;
    const char *out;
} VecSite;
/* The gates of N vectors of 16 units with prelude.c's vec_f32, each stage of a gate over
 * all of them before the next (the scalar gates' operations in their order, lane by lane:
 * the same bits), inside #if defined(RNNC_VL); ends with #else, for the scalar gates and
 * the #endif after them. With the cache (a tile's) the activations, c and W_hn h + b_hn
 * too. */
void em_vec_gates(Emitter *e, const PlanLayer *L, const VecSite *vs);

/* Per layer: <fn>_cellc, <fn>_back, <fn>_seqc, <fn>_seqb. */
void em_train_cells(Emitter *e, const PlanLayer *L);

/* ---- api.c: the entry points ---------------------------------------------------------- */

/* <name>_pack (state_dict order to packed), or with unpack <name>_unpack_grads (back). */
void em_pack(Emitter *e, int unpack);
/* head_apply: the linear head and its activation on one input vector. */
void em_head(Emitter *e);
/* <name>_scratch_bytes, <name>_forward and <name>_forward_par (deployed: forward_batch). */
void em_forward(Emitter *e);
/* The training cache's layout (before the layers' training functions, which use it). */
void em_train_mem(Emitter *e);
/* head_back, <name>_forward_train, <name>_backward, <name>_unpack_grads, <name>_acts. */
void em_train_api(Emitter *e);
/* <name>_cache_at: the training cache's regions for inspection (inspect.c, rnnc plot). */
void em_cache_at(Emitter *e);

/* ---- deploy.c ------------------------------------------------------------------------- */

/* A literal that reads back as exactly v in the model precision. */
const char *em_lit(Emitter *e, double v);
void em_weights(Emitter *e);
void em_deploy_api(Emitter *e);
/* The self-test's second half: the golden sequence streamed through <name>_step, compared
 * step by step (per-step outputs) or at the end; returns 2 on a difference. Deployed and
 * quantised code alike (their differs() and x, y, want are in scope). */
void em_selftest_stream(Emitter *e, long T, long I, long O, int per_step);
void em_header_deploy(Emitter *e, const char *header_name);

#endif
