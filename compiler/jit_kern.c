/* jit_kern.c — the matrix products of libtcc's code, and its e^v and tanh, compiled ahead
 * of time with rnnc.
 *
 * libtcc keeps nothing in registers and vectorises nothing: its loops run a product at
 * about 1 GFLOP/s, where the same loops built by an optimising compiler run tens of times
 * faster. So the units shaped for libtcc call these functions (passed in with tcc_add_symbol,
 * as the math functions are) for their products instead of looping, and for e^v and tanh
 * (math: builtin; below, the prelude's own text).
 *
 * Contract: each output sees exactly the operations of the loops they replace, in the same
 * order (em_product's and em_outer's for libtcc in compiler/emit/product.c): a product
 * rounded, then a sum rounded, the terms in ascending order, never fused into one
 * multiply-add and never reassociated. Vectorising across outputs changes none of that, so
 * libtcc's results stay bit for bit those of the strict system-compiler build that --jit
 * auto hands over to. Hence the product and the sum are separate statements (no compiler
 * may contract across them) and GCC is told not to contract at all.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=off")
#endif
#if defined(__clang__) /* clang contracts inside an expression unless told not to */
#pragma STDC FP_CONTRACT OFF
#endif

#include "jit.h"

/* One build per instruction set, chosen when the library loads (GCC on x86-64). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERN __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERN
#endif

/* Outputs per chunk held in accumulators across the reduction: 64 floats (32 doubles) are
 * four AVX-512 registers. */
#define CHUNK 64

#define PRODUCT(name, real)                                                                       \
    KERN void name(real *y, const real *init, const real *w, long row, const real *v, long K,    \
                   long n)                                                                        \
    {                                                                                             \
        for (long j0 = 0; j0 < n; j0 += CHUNK) {                                                  \
            const long m = n - j0 < CHUNK ? n - j0 : CHUNK;                                       \
            real acc[CHUNK];                                                                      \
            for (long j = 0; j < m; j++)                                                          \
                acc[j] = init ? init[j0 + j] : (real)0;                                           \
            for (long k = 0; k < K; k++) {                                                        \
                const real vk = v[k], *wk = w + k * row + j0;                                     \
                for (long j = 0; j < m; j++) {                                                    \
                    const real p = wk[j] * vk;                                                    \
                    acc[j] = acc[j] + p;                                                          \
                }                                                                                 \
            }                                                                                     \
            for (long j = 0; j < m; j++)                                                          \
                y[j0 + j] = acc[j];                                                               \
        }                                                                                         \
    }

#define OUTER(name, real)                                                                         \
    KERN void name(real *dst, long row, long K, long ncols, const real *bz, long W, long voff,   \
                   long doff, long n)                                                             \
    {                                                                                             \
        for (long i = 0; i < n; i++) {                                                            \
            const real *z = bz + i * W, *d = z + doff;                                            \
            for (long k = 0; k < K; k++) {                                                        \
                const real vk = z[voff + k];                                                      \
                real *r = dst + k * row;                                                          \
                for (long j = 0; j < ncols; j++) {                                                \
                    const real p = d[j] * vk;                                                     \
                    r[j] = r[j] + p;                                                              \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

PRODUCT(jit_product_f32, float)
PRODUCT(jit_product_f64, double)
OUTER(jit_outer_f32, float)
OUTER(jit_outer_f64, double)

/* e^v and tanh of math: builtin, for the units shaped for libtcc: the prelude's own text
 * (m_expf, m_tanhf, m_exp, m_tanh), included here rather than copied, built by an optimising
 * compiler without contraction, so the same operations in the same order as libtcc's build
 * of that text and the strict build's inlined copies: the same bits, sooner (S1 on libtcc:
 * 1418 -> 863 us). The rest of the prelude is unused here. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "../templates/prelude.c"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

float jit_exp_f32(float v)
{
    return m_expf(v);
}

float jit_tanh_f32(float v)
{
    return m_tanhf(v);
}

double jit_exp_f64(double v)
{
    return m_exp(v);
}

double jit_tanh_f64(double v)
{
    return m_tanh(v);
}
