/* jit_kern.c — what libtcc's code loops over, compiled ahead of time with rnnc: the matrix
 * products, e^v and tanh, the gates' activations over vectors and their element-wise work.
 *
 * libtcc keeps nothing in registers and vectorises nothing: its loops run a product at
 * about 1 GFLOP/s, where the same loops built by an optimising compiler run tens of times
 * faster. So the units shaped for libtcc call these functions (passed in with tcc_add_symbol,
 * as the math functions are) for their products and element-wise loops instead of looping,
 * and for e^v and tanh (math: builtin; below, the prelude's own text).
 *
 * Contract: each output sees exactly the operations of the loops they replace, in the same
 * order (em_product's and em_outer's in compiler/emit/product.c): each term one fused
 * multiply-add (MADD, one rounding), the terms in ascending order, never reassociated; the
 * element-wise work's products and sums rounded one by one, never contracted. Vectorising
 * across outputs changes none of that, so libtcc's results stay bit for bit those of the
 * system compiler's build that --jit auto hands over to. Hence the fused multiply-adds are
 * explicit (fma, exact by IEEE 754 whatever the instruction set: the clones below have the
 * instruction, the default one calls the C library's) and GCC is told not to contract
 * anything else.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=off")
#endif
#if defined(__clang__) /* clang contracts inside an expression unless told not to */
#pragma STDC FP_CONTRACT OFF
#endif

#include <stdint.h>

#include "jit.h"

/* One build per instruction set, chosen when the library loads (GCC on x86-64): x86-64-v4
 * has AVX-512, v3 AVX2; both have FMA. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERN __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERN
#endif

/* Up to BLK vectors against one matrix (a block of sequences, each output's operations
 * em_product's): every row of weights is loaded once for the block, the accumulators, BLK by
 * CH (64 floats, 32 doubles: four AVX-512 registers each), stay in registers when the chunk is
 * whole (the common case: gate widths are multiples of 64), four chunks at once for a single
 * sequence (16 chains). A block of fewer than BLK runs the same code with a constant count. */
#define BLK 6

#define PRODUCT_BLK(name, real, CH, FMA)                                                          \
    static inline __attribute__((always_inline)) void name##_s(                                   \
        const long S, const long m, real *const *y, const real *const *init, const real *w,       \
        long row, const real *const *v, long K, long j0)                                          \
    {                                                                                             \
        real acc[BLK * CH];                                                                       \
        for (long s = 0; s < S; s++)                                                              \
            for (long j = 0; j < m; j++)                                                          \
                acc[s * m + j] = init[s] ? init[s][j0 + j] : (real)0;                             \
        for (long k = 0; k < K; k++) {                                                            \
            const real *wk = w + k * row + j0;                                                    \
            for (long s = 0; s < S; s++) {                                                        \
                const real vk = v[s][k];                                                          \
                for (long j = 0; j < m; j++)                                                      \
                    acc[s * m + j] = FMA(wk[j], vk, acc[s * m + j]);                              \
            }                                                                                     \
        }                                                                                         \
        for (long s = 0; s < S; s++)                                                              \
            for (long j = 0; j < m; j++)                                                          \
                y[s][j0 + j] = acc[s * m + j];                                                    \
    }                                                                                             \
    KERN void name(long ns, real *const *y, const real *const *init, const real *w, long row,     \
                   const real *const *v, long K, long n)                                          \
    {                                                                                             \
        for (long s0 = 0; s0 < ns; s0 += BLK) {                                                   \
            const long S = ns - s0 < BLK ? ns - s0 : BLK;                                         \
            real *const *ys = y + s0;                                                             \
            const real *const *is = init + s0, *const *vs = v + s0;                               \
            long j0 = 0;                                                                          \
            if (S == 1) /* one sequence: more chains of additions at once */                      \
                for (; j0 + 4 * CH <= n; j0 += 4 * CH)                                            \
                    name##_s(1, 4 * CH, ys, is, w, row, vs, K, j0);                               \
            for (; j0 + CH <= n; j0 += CH)                                                        \
                switch (S) {                                                                      \
                case 6:                                                                           \
                    name##_s(6, CH, ys, is, w, row, vs, K, j0);                                   \
                    break;                                                                        \
                case 5:                                                                           \
                    name##_s(5, CH, ys, is, w, row, vs, K, j0);                                   \
                    break;                                                                        \
                case 4:                                                                           \
                    name##_s(4, CH, ys, is, w, row, vs, K, j0);                                   \
                    break;                                                                        \
                case 3:                                                                           \
                    name##_s(3, CH, ys, is, w, row, vs, K, j0);                                   \
                    break;                                                                        \
                case 2:                                                                           \
                    name##_s(2, CH, ys, is, w, row, vs, K, j0);                                   \
                    break;                                                                        \
                default:                                                                          \
                    name##_s(1, CH, ys, is, w, row, vs, K, j0);                                   \
                    break;                                                                        \
                }                                                                                 \
            if (j0 < n)                                                                           \
                name##_s(S, n - j0, ys, is, w, row, vs, K, j0);                                   \
        }                                                                                         \
    }

/* The outer products of the batched backward in blocks of OROWS rows by CH columns of
 * dst, held in accumulators across the n sequences; each element still sees its terms one
 * by one in the order of i. */
#define OROWS 6

/* the whole CH-column blocks of RR rows (a constant) from column j0 on */
#define OUTER_ROWS(name, RR, CH)                                                                  \
    for (; j0 + CH <= ncols; j0 += CH)                                                            \
    name##_b(RR, CH, dst, row, bz, W, voff, doff, n, k0, j0)
#if OROWS != 6
#error "jit_outer's blocks: one case per number of rows up to OROWS"
#endif
#define OUTER(name, real, CH, FMA)                                                                \
    static inline __attribute__((always_inline)) void name##_b(                                   \
        const long R, const long m, real *dst, long row, const real *bz, long W, long voff,       \
        long doff, long n, long k0, long j0)                                                      \
    {                                                                                             \
        real acc[OROWS][CH];                                                                      \
        real *d0 = dst + k0 * row + j0;                                                           \
        for (long r = 0; r < R; r++)                                                              \
            for (long j = 0; j < m; j++)                                                          \
                acc[r][j] = d0[r * row + j];                                                      \
        for (long i = 0; i < n; i++) {                                                            \
            const real *z = bz + i * W, *d = z + doff + j0;                                       \
            for (long r = 0; r < R; r++) {                                                        \
                const real vk = z[voff + k0 + r];                                                 \
                for (long j = 0; j < m; j++)                                                      \
                    acc[r][j] = FMA(d[j], vk, acc[r][j]);                                         \
            }                                                                                     \
        }                                                                                         \
        for (long r = 0; r < R; r++)                                                              \
            for (long j = 0; j < m; j++)                                                          \
                d0[r * row + j] = acc[r][j];                                                      \
    }                                                                                             \
    KERN void name(real *dst, long row, long K, long ncols, const real *bz, long W, long voff,    \
                   long doff, long n)                                                             \
    {                                                                                             \
        for (long k0 = 0; k0 < K; k0 += OROWS) {                                                  \
            const long R = K - k0 < OROWS ? K - k0 : OROWS;                                       \
            long j0 = 0;                                                                          \
            switch (R) { /* whole blocks with constant bounds: accumulators in registers */       \
            case 6:                                                                               \
                OUTER_ROWS(name, 6, CH);                                                          \
                break;                                                                            \
            case 5:                                                                               \
                OUTER_ROWS(name, 5, CH);                                                          \
                break;                                                                            \
            case 4:                                                                               \
                OUTER_ROWS(name, 4, CH);                                                          \
                break;                                                                            \
            case 3:                                                                               \
                OUTER_ROWS(name, 3, CH);                                                          \
                break;                                                                            \
            case 2:                                                                               \
                OUTER_ROWS(name, 2, CH);                                                          \
                break;                                                                            \
            default:                                                                              \
                OUTER_ROWS(name, 1, CH);                                                          \
            }                                                                                     \
            for (; j0 < ncols; j0 += CH) {                                                        \
                const long m = ncols - j0 < CH ? ncols - j0 : CH;                                 \
                name##_b(R, m, dst, row, bz, W, voff, doff, n, k0, j0);                           \
            }                                                                                     \
        }                                                                                         \
    }

PRODUCT_BLK(jit_product_blk_f32, float, 64, __builtin_fmaf)
PRODUCT_BLK(jit_product_blk_f64, double, 32, __builtin_fma)
OUTER(jit_outer_f32, float, 64, __builtin_fmaf)
/* MADD of libtcc's own code (its unrolled products): the clones' instruction */
KERN float jit_fmaf(float w, float v, float acc)
{
    return __builtin_fmaf(w, v, acc);
}

KERN double jit_fma(double w, double v, double acc)
{
    return __builtin_fma(w, v, acc);
}

/* one sequence: a block of one */
void jit_product_f32(float *y, const float *init, const float *w, long row, const float *v, long K,
                     long n)
{
    jit_product_blk_f32(1, &y, &init, w, row, &v, K, n);
}

void jit_product_f64(double *y, const double *init, const double *w, long row, const double *v,
                     long K, long n)
{
    jit_product_blk_f64(1, &y, &init, w, row, &v, K, n);
}

OUTER(jit_outer_f64, double, 32, __builtin_fma)

/* e^v and tanh of math: builtin, for the units shaped for libtcc: the prelude's own text
 * (m_expf, m_tanhf, m_exp, m_tanh), included here rather than copied, built by an optimising
 * compiler without contraction, so the same operations in the same order as libtcc's build
 * of that text and the system compiler's inlined copies: the same bits, sooner (S1 on libtcc:
 * 1418 -> 863 us). Their multiply-adds are fused (RNNC_FUSED is 1 in the prelude's test
 * section), as in the JIT's units: hence the float ones' clones, where it is one instruction.
 * The rest of the prelude is unused here. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "../templates/prelude.c"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

KERN float jit_exp_f32(float v)
{
    return m_expf(v);
}

KERN float jit_tanh_f32(float v)
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

/* The gate activations over a vector (y may be x), for libtcc's batched kernels: each
 * element the prelude's act_sigmoid (1 / (1 + e^-v)) or act_tanh of math: builtin, the
 * same operations as the scalar calls, vectorised across elements. */
#define ACTS(sig, th, real, ONE, EXP, TANH)                                                       \
    KERN void sig(real *y, const real *x, long n)                                                 \
    {                                                                                             \
        for (long j = 0; j < n; j++)                                                              \
            y[j] = ONE / (ONE + EXP(-x[j]));                                                      \
    }                                                                                             \
    KERN void th(real *y, const real *x, long n)                                                  \
    {                                                                                             \
        for (long j = 0; j < n; j++)                                                              \
            y[j] = TANH(x[j]);                                                                    \
    }

ACTS(jit_sigmoid_v_f32, jit_tanh_v_f32, float, 1.0f, m_expf, m_tanhf)
ACTS(jit_sigmoid_v_f64, jit_tanh_v_f64, double, 1.0, m_exp, m_tanh)

/* The element-wise work of libtcc's batched kernels, whose loops libtcc would run an element
 * at a time: copies, sums, a bias gradient's rows, and the LSTM's gates after their
 * activations and their derivative. Each element's expression is the one the emitter writes
 * for the system compiler (compiler/emit/cell.c: gates_lstm, back_lstm, gates_gru, back_gru;
 * a GRU's ex and a NULL when it resets before), term for term in
 * its order; test_jit compares the two builds' gradients bit for bit. The LSTM's arrays
 * never overlap (restrict: else the vectoriser gives up on checking them all). */
#define ELEMS(sfx, real, ONE, TANH)                                                               \
    KERN void jit_copy_##sfx(real *d, const real *s, long n)                                      \
    {                                                                                             \
        for (long i = 0; i < n; i++)                                                              \
            d[i] = s[i];                                                                          \
    }                                                                                             \
    KERN void jit_zero_##sfx(real *d, long n)                                                     \
    {                                                                                             \
        for (long i = 0; i < n; i++)                                                              \
            d[i] = (real)0;                                                                       \
    }                                                                                             \
    KERN void jit_add_##sfx(real *y, const real *a, const real *b, long n)                        \
    {                                                                                             \
        for (long i = 0; i < n; i++)                                                              \
            y[i] = a[i] + b[i];                                                                   \
    }                                                                                             \
    KERN void jit_rowsum_##sfx(real *d, const real *z, long W, long n, long m)                    \
    {                                                                                             \
        for (long i = 0; i < n; i++)                                                              \
            for (long j = 0; j < m; j++)                                                          \
                d[j] += z[i * W + j];                                                             \
    }                                                                                             \
    KERN void jit_lstm_fwd_##sfx(const real *restrict g, real *restrict c, real *restrict a,      \
                                 real *restrict out, long H)                                      \
    {                                                                                             \
        for (long j = 0; j < H; j++) {                                                            \
            const real i = g[j], f = g[H + j], gg = g[2 * H + j];                                 \
            if (a)                                                                                \
                a[j] = i, a[H + j] = f, a[2 * H + j] = gg, a[3 * H + j] = g[3 * H + j];           \
            c[j] = f * c[j] + i * gg;                                                             \
        }                                                                                         \
        for (long j = 0; j < H; j++)                                                              \
            out[j] = TANH(c[j]);                                                                  \
        for (long j = 0; j < H; j++)                                                              \
            out[j] = g[3 * H + j] * out[j];                                                       \
    }                                                                                             \
    KERN void jit_lstm_bdz_##sfx(const real *restrict a, const real *restrict ct,                 \
                                 const real *restrict cp, const real *restrict dm,                \
                                 real *restrict dc, real *restrict dz, long H)                    \
    {                                                                                             \
        for (long j = 0; j < H; j++) {                                                            \
            const real i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];                \
            const real tc = TANH(ct[j]), dm_j = dm[j];                                            \
            const real dcj = dc[j] + dm_j * o * (ONE - tc * tc);                                  \
            dz[j] = dcj * g * i * (ONE - i);                                                      \
            dz[H + j] = dcj * cp[j] * f * (ONE - f);                                              \
            dz[2 * H + j] = dcj * i * (ONE - g * g);                                              \
            dz[3 * H + j] = dm_j * tc * o * (ONE - o);                                            \
            dc[j] = dcj * f;                                                                      \
        }                                                                                         \
    }                                                                                             \
    KERN void jit_gru_fwd_##sfx(const real *restrict g, const real *restrict gh,                  \
                                real *restrict h, real *restrict a, real *restrict ex, long H)    \
    {                                                                                             \
        for (long j0 = 0; j0 < H; j0 += 64) {                                                     \
            const long m = H - j0 < 64 ? H - j0 : 64;                                             \
            const real *gj = g + j0, *ghj = gh + j0;                                              \
            real nb[64];                                                                          \
            for (long j = 0; j < m; j++)                                                          \
                nb[j] = gj[2 * H + j] + gj[j] * ghj[j];                                           \
            for (long j = 0; j < m; j++)                                                          \
                nb[j] = TANH(nb[j]);                                                              \
            for (long j = 0; j < m; j++) {                                                        \
                const real r = gj[j], z = gj[H + j], n = nb[j];                                   \
                if (a)                                                                            \
                    a[j0 + j] = r, a[H + j0 + j] = z, a[2 * H + j0 + j] = n, ex[j0 + j] = ghj[j]; \
                h[j0 + j] = (ONE - z) * n + z * h[j0 + j];                                        \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    KERN void jit_gru_b_fwd_##sfx(const real *restrict g, real *restrict h, real *restrict a,     \
                                  long H)                                                         \
    {                                                                                             \
        for (long j = 0; j < H; j++) {                                                            \
            const real z = g[H + j], n = g[2 * H + j];                                            \
            if (a)                                                                                \
                a[H + j] = z, a[2 * H + j] = n;                                                   \
            h[j] = (ONE - z) * n + z * h[j];                                                      \
        }                                                                                         \
    }                                                                                             \
    KERN void jit_gru_bdz_##sfx(const real *restrict a, const real *restrict hp,                  \
                                const real *restrict dh, const real *restrict ex,                 \
                                real *restrict dz, real *restrict dgh, real *restrict hd, long H) \
    {                                                                                             \
        for (long j = 0; j < H; j++) {                                                            \
            const real z = a[H + j], n = a[2 * H + j];                                            \
            const real dzn = dh[j] * (ONE - z) * (ONE - n * n);                                   \
            dz[2 * H + j] = dzn;                                                                  \
            dz[H + j] = dh[j] * (hp[j] - n) * z * (ONE - z);                                      \
            hd[j] = dh[j] * z;                                                                    \
            if (ex) {                                                                             \
                const real r = a[j];                                                              \
                dgh[j] = dzn * r;                                                                 \
                dz[j] = dzn * ex[j] * r * (ONE - r);                                              \
            }                                                                                     \
        }                                                                                         \
    }

ELEMS(f32, float, 1.0f, m_tanhf)
ELEMS(f64, double, 1.0, m_tanh)

/* See jit.h. */
#define TRANSPOSE(name, real)                                                                     \
    KERN void name(real *dst, long dld, const real *src, long sld, long R, long C)                \
    {                                                                                             \
        for (long r0 = 0; r0 < R; r0 += 16)                                                       \
            for (long c0 = 0; c0 < C; c0 += 16) {                                                 \
                const long r1 = r0 + 16 < R ? r0 + 16 : R, c1 = c0 + 16 < C ? c0 + 16 : C;        \
                for (long r = r0; r < r1; r++)                                                    \
                    for (long c = c0; c < c1; c++)                                                \
                        dst[r * dld + c] = src[c * sld + r];                                      \
            }                                                                                     \
    }
TRANSPOSE(jit_transpose_f32, float)
TRANSPOSE(jit_transpose_f64, double)

/* See jit.h: one prefetch per 64-byte line that [p, p + bytes) touches. */
void jit_prefetch_l2(const void *p, long bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    const char *c = (const char *)((uintptr_t)p & ~(uintptr_t)63), *end = (const char *)p + bytes;
    for (; c < end; c += 64)
        __builtin_prefetch(c, 0, 2);
#else
    (void)p;
    (void)bytes;
#endif
}
