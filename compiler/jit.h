/* jit.h — compiles generated C in memory through libtcc and hands back the model's entry
 * points. Only jit.c includes libtcc.h. Math functions are passed in with tcc_add_symbol,
 * so the generated code needs no system header.
 */
#ifndef RNNC_JIT_H
#define RNNC_JIT_H

#include "diag.h"

typedef struct JitModule JitModule;

/* The products libtcc's units call instead of looping (jit_kern.c, built ahead of time and
 * passed in as rnnc_product_f32 ...; em_product and em_outer emit the calls): for c < n,
 * y[c] = (init ? init[c] : 0) + w[k * row + c] * v[k] for k = 0, 1, ..., K - 1 in turn (init
 * may be y itself); and for i < n, k < K, c < ncols in that order,
 * dst[k * row + c] += z_i[doff + c] * z_i[voff + k] with z_i = bz + i * W. Each term is one
 * fused multiply-add (the emitted MADD), each output's terms the loops' own in their order:
 * the bits do not change. */
void jit_product_f32(float *y, const float *init, const float *w, long row, const float *v, long K,
                     long n);
void jit_product_f64(double *y, const double *init, const double *w, long row, const double *v,
                     long K, long n);
/* ns products against one w at once, sequence s's from init[s] (0 when NULL) with v[s]
 * into y[s]: each output's operations jit_product's (passed in as rnnc_product_blk_f32 ...;
 * em_product_blk emits the calls). */
void jit_product_blk_f32(long ns, float *const *y, const float *const *init, const float *w,
                         long row, const float *const *v, long K, long n);
void jit_product_blk_f64(long ns, double *const *y, const double *const *init, const double *w,
                         long row, const double *const *v, long K, long n);
/* fma(w, v, acc): the MADD of libtcc's own products (passed in as fmaf and fma). */
float jit_fmaf(float w, float v, float acc);
double jit_fma(double w, double v, double acc);
void jit_outer_f32(float *dst, long row, long K, long ncols, const float *bz, long W, long voff,
                   long doff, long n);
void jit_outer_f64(double *dst, long row, long K, long ncols, const double *bz, long W, long voff,
                   long doff, long n);
/* y[j] = act_sigmoid(x[j]) and act_tanh(x[j]) of math: builtin for j < n (y may be x):
 * the batched gates of libtcc's units (rnnc_sigmoid_v_f32 ...). */
void jit_sigmoid_v_f32(float *y, const float *x, long n);
void jit_tanh_v_f32(float *y, const float *x, long n);
void jit_sigmoid_v_f64(double *y, const double *x, long n);
void jit_tanh_v_f64(double *y, const double *x, long n);
/* Element-wise helpers of libtcc's units (rnnc_copy_f32 ...): d = s; d = 0; y = a + b;
 * d[j] += z[i * W + j] for i < n in order, j < m; and the LSTM's gates after their
 * activations (c = f c + i g, out = o tanh c; a keeps i, f, g, o unless NULL) and their
 * derivative (dz and dc from a, c_t, c_{t-1} and dL/dm); a GRU's (reset after, with r
 * and z activated in g; reset before, with z and n) and its derivative (ex and dgh NULL
 * when it resets before), each element's expression the emitter's (compiler/emit/cell.c). */
#define JIT_ELEMS(sfx, real)                                                                      \
    void jit_copy_##sfx(real *d, const real *s, long n);                                          \
    void jit_zero_##sfx(real *d, long n);                                                         \
    void jit_add_##sfx(real *y, const real *a, const real *b, long n);                            \
    void jit_rowsum_##sfx(real *d, const real *z, long W, long n, long m);                        \
    void jit_lstm_fwd_##sfx(const real *g, real *c, real *a, real *out, long H);                  \
    void jit_lstm_bdz_##sfx(const real *a, const real *ct, const real *cp, const real *dm,        \
                            real *dc, real *dz, long H);                                          \
    void jit_gru_fwd_##sfx(const real *g, const real *gh, real *h, real *a, real *ex, long H);    \
    void jit_gru_b_fwd_##sfx(const real *g, real *h, real *a, long H);                            \
    void jit_gru_bdz_##sfx(const real *a, const real *hp, const real *dh, const real *ex,         \
                           real *dz, real *dgh, real *hd, long H);
JIT_ELEMS(f32, float)
JIT_ELEMS(f64, double)
/* dst[r * dld + c] = src[c * sld + r] for r < R, c < C, in 16 x 16 blocks: libtcc's
 * units' packing of the weights, their gradients' unpacking and backward's transposed
 * weights (rnnc_transpose_f32 ...), copies libtcc would make an element at a time. */
void jit_transpose_f32(float *dst, long dld, const float *src, long sld, long R, long C);
void jit_transpose_f64(double *dst, long dld, const double *src, long sld, long R, long C);
/* Asks for the cache lines of [p, p + bytes) into L2 (prefetcht1 on x86-64), for libtcc's
 * units (rnnc_prefetch_l2), which have no prefetch of their own: the rows a batched layer
 * reads and writes a step later, T steps apart per sequence. */
void jit_prefetch_l2(const void *p, long bytes);
/* The prelude's m_expf, m_tanhf, m_exp, m_tanh, compiled ahead of time (jit_kern.c). */
float jit_exp_f32(float v);
float jit_tanh_f32(float v);
double jit_exp_f64(double v);
double jit_tanh_f64(double v);

/* Above 0 while libtcc runs. The failure-injection test (tests/test_failalloc.c) fails no
 * allocation then: libtcc 0.9.27 reports a failed malloc and then uses the NULL pointer, so
 * out of memory inside libtcc is the one case rnnc cannot turn into a clean error. */
extern volatile int jit_in_libtcc;

/* How generated code is compiled in process: libtcc (milliseconds, slower code), or the
 * system compiler (`$CC`, default cc, -O3 -march=native) into a shared object kept in a
 * cache keyed by a hash of the code and loaded with dlopen. The two give the same bits (every
 * product's multiply-adds fused in both, MADD; nothing else contracted), so JIT_AUTO moves
 * from the first to the second mid-run (jit_compile_auto). */
typedef enum JitKind { JIT_TCC, JIT_CC, JIT_AUTO } JitKind;

/* Entry points of a generated model, as the host calls them: every array is a `void *` of
 * the model's own real type, so that the host stays precision-agnostic and needs one table.
 * The generated JIT unit defines them as thin wrappers (`<prefix>_v_*`, templates/drivers.c)
 * over its typed functions; the training ones are NULL in an inference unit. */
typedef struct ModelFns {
    long (*scratch_bytes)(int B, int T);
    void (*pack)(const void *params, void *packed);
    /* h0, c0: NULL, or the top block's initial state in h_n's (c_n's) layout */
    int (*forward)(const void *w, const void *x, const int *lengths, int B, int T, const void *h0,
                   const void *c0, void *y, void *h_n, void *c_n, void *scratch);
    /* <prefix>_forward_par: part `part` of `nparts` threads that meet in sync(ctx) */
    int (*forward_par)(const void *w, const void *x, const int *lengths, int B, int T,
                       const void *h0, const void *c0, void *y, void *h_n, void *c_n,
                       void *scratch, void *shared, int part, int nparts, void (*sync)(void *),
                       void *ctx);
    long (*train_bytes)(int B, int T);
    /* part `part` of `nparts` (threads at once, no barrier; the bits of one part); sched:
     * 2B + T ints of the part's own when nparts > 1, else NULL */
    int (*forward_train)(const void *w, const void *x, const int *lengths, int B, int T, void *y,
                         void *logits, const void *drop, const void *state0, void *state1,
                         void *cache, int part, int nparts, int *sched);
    /* dstate0: NULL, or dL/dstate0 (the layout of forward_train's state0); part `part` of
     * `nparts` (threads at once, each running whole layers; the bits of one part) meeting in
     * sync(ctx, layer, steps done, steps of the layer above needed; when negative, minus the
     * steps of the layer below needed), NULL with one part */
    int (*backward)(const void *w, const void *x, int B, int T, const void *dout, const void *drop,
                    void *dw, void *dstate0, void *cache, int part, int nparts,
                    void (*sync)(void *, int, int, int), void *ctx);
    void (*unpack_grads)(const void *g, void *dp);
    /* the gate activations of layer-direction i in a cache of B x T, (B, T, G*H) */
    void *(*acts)(void *cache, int B, int T, int i);
} ModelFns;

/* Compiles `source` (one translation unit, no #include) and fills `fns` from its entry
 * points: the inference ones always, the training ones when `train` (nothing when `prefix` is
 * NULL: a unit of other entry points, found with jit_symbol). Returns the module (free
 * with jit_free) or NULL with the compiler's messages added to `d`. */
JitModule *jit_compile(JitKind kind, const char *source, const char *prefix, int train,
                       ModelFns *fns, DiagList *d);
/* Whether `source` built by `kind` (JIT_CC) is in the cache already. */
int jit_cached(JitKind kind, const char *source);
/* --jit auto: `tcc_source` through libtcc at once, while the system compiler builds
 * `cc_source` (the same model shaped for it) in the background, into the
 * cache; the entry points in fns hand over to that build the moment it is loaded, mid-run
 * or not (the two give the same bits). Without a system compiler, libtcc alone and a note
 * in d (once a process). The module (free with jit_free: a build still running finishes
 * into the cache), or NULL with errors in d. */
JitModule *jit_compile_auto(const char *tcc_source, const char *cc_source, const char *prefix,
                            int train, ModelFns *fns, DiagList *d);
/* The work m has left, in seconds, by its caller's estimate (a trainer's, batch by batch).
 * jit_compile_auto's build, not started yet, waits while that is under 10 s: on a machine
 * whose cores the work keeps busy it would slow the rest of the run more than its code
 * could win back; it then starts when m is freed, for the cache. Nothing for other modules. */
void jit_auto_remaining(JitModule *m, double seconds);
/* The directory of the system compiler's cache: $RNNC_CACHE_DIR, else $XDG_CACHE_HOME/rnnc,
 * else ~/.cache/rnnc, else /tmp/rnnc-cache-<uid>; into out (size n). */
void jit_cache_dir(char *out, size_t n);
/* The address of any other global of the compiled code, or NULL. */
void *jit_symbol(JitModule *m, const char *name);
void jit_free(JitModule *m);

#endif
