/* templates/prelude.c - the fixed helpers of every generated model, as real C.
 * The emitter (compiler/emit/emit.c) copies the sections a model needs, in this order, after
 * replacing the RNNC_ holes; the `test` section gives the holes test values so that this
 * file compiles on its own (tests/test_gen.c does so with -Werror).
 */

/* @@ test */
typedef float real;
float expf(float);
float tanhf(float);
#define RNNC_EXP expf
#define RNNC_TANH tanhf
#define RNNC_ONE 1.0f
#define RNNC_ZERO 0.0f
#define RNNC_FN
#define RNNC_KEEP
#ifndef RNNC_FUSED
#define RNNC_FUSED 1
#endif

/* @@ nolib */
/* Deployed code calls no library function it does not declare: keep compilers from turning
 * the zeroing and copying loops into calls to memset and memcpy (clang: an attribute on
 * each function definition; gcc: for the whole file). */
#if defined(__clang__)
#define RNNC_NOLIB __attribute__((no_builtin))
#else
#if defined(__GNUC__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif
#define RNNC_NOLIB
#endif

/* @@ width */
/* gcc tunes -march=native on Intel's cores with AVX-512 (Ice Lake and later) to 256-bit
 * vectors where it vectorises loops itself (-mprefer-vector-width=256): a one-sequence
 * product's 256 accumulators (16 AVX-512 registers) then take all 32 of the 256-bit ones and
 * live in memory, and a streaming step took twice as long (bench/HISTORY.md). The full width
 * for this file alone; the same operations lane by lane, so the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)
#pragma GCC target("prefer-vector-width=512")
#endif

/* @@ exp_f32 */
/* a * b + c in e^v and tanh: one fused multiply-add, one rounding, in rnnc's JIT (libtcc's
 * calls and the system compiler's inlined copies alike, as its products) and in units
 * written out where the compiler says a fused multiply-add is fast and RNNC_STRICT is not
 * defined; else a multiply and an add, rounded one by one. */
#if RNNC_FUSED
#define RNNC_FMAF(a, b, c) __builtin_fmaf(a, b, c)
#else
#define RNNC_FMAF(a, b, c) ((c) + (a) * (b))
#endif

/* rnnc's own e^v (math: builtin, the default), without a branch or a call, so that
 * compilers vectorise the loops that use it: v = k ln2 + r, |r| <= ln2/2 (Cody-Waite),
 * e^r = 1 + r + r^2 q(r) with q of degree 4 fitted to a relative error of 3.1e-9
 * (tools/gen_act.py), evaluated in pairs (Estrin) so that the chain of dependent operations
 * is short; 2^k built in the exponent bits. Within 1.5 ulp, fused or not (tests/test_gen.c).
 * The argument is kept in [-87, 88]: e^-87 = 1.6e-38 and e^88 = 1.7e38 are already 0 and
 * infinity to a sigmoid or a softmax. */
RNNC_FN static inline float m_expf(float v)
{
    union {
        float f;
        int i;
    } s;
    v = v < -87.0f ? -87.0f : v;
    v = v > 88.0f ? 88.0f : v;
    const float k = RNNC_FMAF(v, 1.44269504f, 12582912.0f) - 12582912.0f; /* round(v / ln2) */
    const float r = RNNC_FMAF(k, 2.12194440e-4f, RNNC_FMAF(k, -0.693359375f, v));
    const float r2 = r * r;
    const float q = RNNC_FMAF(
        r2, RNNC_FMAF(r2, 1.381461100e-03f, RNNC_FMAF(r, 8.368710035e-03f, 4.166838741e-02f)),
        RNNC_FMAF(r, 1.666652069e-01f, 4.999999345e-01f));
    s.i = ((int)k + 127) << 23;
    return (1.0f + RNNC_FMAF(r2, q, r)) * s.f;
}

/* @@ tanh_f32 */
/* tanh as x P(x^2) / Q(x^2), P and Q of degree 4 fitted to a relative error of 2.1e-8 on
 * [0, 9] (tools/gen_act.py), x clamped to [-9, 9] (tanh 9.01 rounds to 1.0f), the result
 * to [-1, 1]: no exp, one division, odd exactly, v itself at zero, a NaN stays a NaN. The
 * float evaluation's roundings, not the fit, bound it: within 5.1 ulp fused and 6.2 unfused
 * (5.05 and 6.14 measured on every float of [-12, 12]; in double the same coefficients give
 * 0.85), where the series through e^y - 1 it replaces, with about twice the operations, gave
 * 2.6 (tests/test_gen.c). e^v: 1.02 fused, 0.99 unfused on every float of [-87, 88]. */
RNNC_FN static inline float m_tanhf(float v)
{
    const float x = v < -9.0f ? -9.0f : v > 9.0f ? 9.0f : v;
    const float t = x * x, t2 = t * t;
    const float p = RNNC_FMAF(
        t2, RNNC_FMAF(t2, 1.335323117e-08f, RNNC_FMAF(t, 2.060806706e-05f, 3.495528093e-03f)),
        RNNC_FMAF(t, 1.338097600e-01f, 9.999999796e-01f));
    const float q = RNNC_FMAF(
        t2, RNNC_FMAF(t2, 7.775976504e-07f, RNNC_FMAF(t, 3.285535262e-04f, 2.587675640e-02f)),
        RNNC_FMAF(t, 4.671429166e-01f, 1.0f));
    const float y = x * p / q;
    const float z = y > 1.0f ? 1.0f : y; /* rounding can pass 1 by an ulp near 9 */
    return z < -1.0f ? -1.0f : z;
}

/* @@ exp_f64 */
/* The double versions: e^r by its Taylor series to r^13, within 1.5 ulp, the argument kept
 * in [-708, 709]; tanh from one e^y - 1 with y = -2|v| in [-40, 0], e^y - 1 = 2^k (e^r - 1) +
 * (2^k - 1) so that nothing cancels as y goes to 0, then tanh|v| = -(e^y - 1) / (e^y + 1)
 * with the sign put back: within 3.5 ulp (2.9 measured), as tests/test_gen.c checks. The
 * helpers are inline: deployed code has no flatten, and its gate loops vectorise only once
 * they are inlined. */
RNNC_FN static inline double m_exp(double v)
{
    union {
        double f;
        long long i;
    } s;
    v = v < -708.0 ? -708.0 : v;
    v = v > 709.0 ? 709.0 : v;
    const double k = (v * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
    const double r = (v - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    const double p = 1.0 + r * (1.0 + r * (0.5 + r * (1.6666666666666666e-01 +
                     r * (4.1666666666666664e-02 + r * (8.333333333333333e-03 +
                     r * (1.388888888888889e-03 + r * (1.984126984126984e-04 +
                     r * (2.48015873015873e-05 + r * (2.7557319223985893e-06 +
                     r * (2.755731922398589e-07 + r * (2.505210838544172e-08 +
                     r * (2.08767569878681e-09 + r * 1.6059043836821613e-10))))))))))));
    s.i = (long long)((int)k + 1023) << 52;
    return p * s.f;
}

/* @@ tanh_f64 */
RNNC_FN static inline double m_tanh(double v)
{
    union {
        double f;
        long long i;
    } s;
    const double a = v < 0.0 ? -v : v;
    const double y = a > 20.0 ? -40.0 : -2.0 * a; /* tanh 20 is 1.0 already */
    const double k = (y * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
    const double r = (y - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    const double q = r * (1.0 + r * (0.5 + r * (1.6666666666666666e-01 +
                     r * (4.1666666666666664e-02 + r * (8.333333333333333e-03 +
                     r * (1.388888888888889e-03 + r * (1.984126984126984e-04 +
                     r * (2.48015873015873e-05 + r * (2.7557319223985893e-06 +
                     r * (2.755731922398589e-07 + r * (2.505210838544172e-08 +
                     r * (2.08767569878681e-09 + r * 1.6059043836821613e-10))))))))))));
    s.i = (long long)((int)k + 1023) << 52; /* 2^k, k in [-58, 0] */
    const double e = q * s.f + (s.f - 1.0);
    const double t = -e / (e + 2.0);
    return v < 0.0 ? -t : v > 0.0 ? t : v;
}

/* @@ vec_f32 */
/* The gates of tiles and of one-sequence cells, 16 floats a vector (GNU C vectors: the compiler
 * picks the registers), stage by stage over n independent vectors, so that n chains of dependent
 * operations run side by side; one vector at a time, the chain of an LSTM's gates (e^v, a
 * division, tanh of the new c) left the floating-point units waiting and the gates took half a
 * tile. Each function is the scalar one's operations in the scalar one's order, lane by lane: the
 * same bits; a clamp `v < lo ? lo : v` keeps a NaN as the comparison does. n is at most RNNC_VN.
 */
#if defined(__GNUC__)
#define RNNC_VL 16
#define RNNC_VN 8
#define RNNC_VFN __attribute__((unused)) static inline void /* a tanh RNN has no sigmoid */
/* the scalar gates, which only tiles of other widths may call */
#define RNNC_VKEEP __attribute__((unused))
typedef float rvec __attribute__((vector_size(64)));
typedef int rvec_i __attribute__((vector_size(64)));
/* unaligned, and aliasing the floats it is loaded from (no memcpy, which deployed code
 * may not call); macros, not functions: a vector passed by value is an ABI question
 * without AVX-512 */
typedef float rvec_u __attribute__((vector_size(64), aligned(4), may_alias));
#define RV_LOAD(v, p) ((v) = *(const rvec_u *)(p))
#define RV_STORE(p, v) (*(rvec_u *)(p) = (v))
/* lane by lane, c ? a : b */
#define RV_SEL(c, a, b) ((rvec)(((c) & (rvec_i)(a)) | (~(c) & (rvec_i)(b))))
/* Lane by lane, the clamps b < a ? a : b and b > a ? a : b (a NaN b stays: x86's max and
 * min return their second operand when either is a NaN), and x 2^k for an integral k in
 * [-126, 127] (exact but for the rounding of a subnormal product, which both round to
 * nearest). With AVX-512 each is one instruction where the comparison and select took two,
 * one a broadcast from a general register, and 2^k three (same bits: tests/test_gen.c's
 * test_vec_gates_bits). In their masked forms, every lane taken (the same instructions):
 * the plain ones pass an undefined vector through, which g++ 12 compiling this file as
 * C++ with -march=native flags as uninitialised. */
#if defined(__AVX512F__)
#include <immintrin.h>
#define RV_MAX(a, b) ((rvec)_mm512_mask_max_ps((__m512)(a), -1, (__m512)(a), (__m512)(b)))
#define RV_MIN(a, b) ((rvec)_mm512_mask_min_ps((__m512)(a), -1, (__m512)(a), (__m512)(b)))
#define RV_SCALE2(x, k) ((rvec)_mm512_mask_scalef_ps((__m512)(x), -1, (__m512)(x), (__m512)(k)))
#else
#define RV_MAX(a, b) RV_SEL((b) < (a), a, b)
#define RV_MIN(a, b) RV_SEL((b) > (a), a, b)
#define RV_SCALE2(x, k) ((x) * (rvec)((__builtin_convertvector(k, rvec_i) + 127) << 23))
#endif
/* d = a * b + c lane by lane, as RNNC_FMAF: a statement, d written after a, b and c are
 * read (d may be one of them). Without AVX-512 the fused one is a loop over the lanes,
 * which compilers make vector instructions where the machine has them. */
#if RNNC_FUSED && defined(__AVX512F__)
#define RV_FMA(d, a, b, c) ((d) = (rvec)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#elif RNNC_FUSED
#define RV_FMA(d, a, b, c)                                                                        \
    do {                                                                                          \
        for (int l_ = 0; l_ < RNNC_VL; l_++)                                                      \
            (d)[l_] = __builtin_fmaf((a)[l_], (b)[l_], (c)[l_]);                                  \
    } while (0)
#else
#define RV_FMA(d, a, b, c) ((d) = (c) + (a) * (b))
#endif
/* The batched kernels' products in these vectors (product.c's em_vec_madds: the tiles, the
 * backward's blocks of sequences and of dW's rows), where RV_FMA is AVX-512's fused
 * multiply-add as MADD is: each vector of a row loaded once into a register, made opaque
 * there (RV_LOAD_KEEP), and used for every sequence of the block. Written as scalars, a
 * block of four sequences or fewer had gcc 12 fold the loads into each multiply-add, as
 * many 64-byte loads as multiply-adds where a core takes two a cycle: about 70 % of the FMA
 * peak, where six sequences ran at 95 %. Define RNNC_NO_TILE_V for the scalar loops (bench/
 * bounds.sh times them so). */
#if RNNC_FUSED && defined(__AVX512F__) && !defined(RNNC_NO_TILE_V)
#define RNNC_TILE_V 1
#define RV_LOAD_KEEP(v, p)                                                                        \
    do {                                                                                          \
        RV_LOAD(v, p);                                                                            \
        __asm__("" : "+v"(v));                                                                    \
    } while (0)
#define RV_BCAST(x) ((rvec)_mm512_set1_ps(x))
#endif
/* x = m_expf(x) */
RNNC_VFN rv_exp_n(rvec *x, int n)
{
    rvec k[RNNC_VN], r[RNNC_VN], r2[RNNC_VN], q[RNNC_VN], u[RNNC_VN];
    const rvec z = {0}, lo = z - 87.0f, hi = z + 88.0f, l2e = z + 1.44269504f,
               mg = z + 12582912.0f, ln2h = z - 0.693359375f, ln2l = z + 2.12194440e-4f,
               c0 = z + 4.999999345e-01f, c1 = z + 1.666652069e-01f, c2 = z + 4.166838741e-02f,
               c3 = z + 8.368710035e-03f, c4 = z + 1.381461100e-03f;
    for (int i = 0; i < n; i++)
        x[i] = RV_MAX(lo, x[i]);
    for (int i = 0; i < n; i++)
        x[i] = RV_MIN(hi, x[i]);
    for (int i = 0; i < n; i++)
        RV_FMA(k[i], x[i], l2e, mg);
    for (int i = 0; i < n; i++)
        k[i] = k[i] - mg;
    for (int i = 0; i < n; i++)
        RV_FMA(r[i], k[i], ln2h, x[i]);
    for (int i = 0; i < n; i++)
        RV_FMA(r[i], k[i], ln2l, r[i]);
    for (int i = 0; i < n; i++)
        r2[i] = r[i] * r[i];
    for (int i = 0; i < n; i++)
        RV_FMA(q[i], r[i], c3, c2);
    for (int i = 0; i < n; i++)
        RV_FMA(q[i], r2[i], c4, q[i]);
    for (int i = 0; i < n; i++)
        RV_FMA(u[i], r[i], c1, c0);
    for (int i = 0; i < n; i++)
        RV_FMA(q[i], r2[i], q[i], u[i]);
    for (int i = 0; i < n; i++)
        RV_FMA(u[i], r2[i], q[i], r[i]);
    for (int i = 0; i < n; i++)
        x[i] = RV_SCALE2(1.0f + u[i], k[i]);
}
/* x = act_sigmoid(x) */
RNNC_VFN rv_sigmoid_n(rvec *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = -x[i];
    rv_exp_n(x, n);
    for (int i = 0; i < n; i++)
        x[i] = 1.0f / (1.0f + x[i]);
}
/* v = m_tanhf(v) */
RNNC_VFN rv_tanh_n(rvec *v, int n)
{
    rvec x[RNNC_VN], t[RNNC_VN], t2[RNNC_VN], p[RNNC_VN], q[RNNC_VN], u[RNNC_VN];
    const rvec z = {0}, lo = z - 9.0f, hi = z + 9.0f, one = z + 1.0f, p0 = z + 9.999999796e-01f,
               p1 = z + 1.338097600e-01f, p2 = z + 3.495528093e-03f, p3 = z + 2.060806706e-05f,
               p4 = z + 1.335323117e-08f, q1 = z + 4.671429166e-01f, q2 = z + 2.587675640e-02f,
               q3 = z + 3.285535262e-04f, q4 = z + 7.775976504e-07f;
    for (int i = 0; i < n; i++)
        x[i] = RV_MAX(lo, RV_MIN(hi, v[i]));
    for (int i = 0; i < n; i++)
        t[i] = x[i] * x[i];
    for (int i = 0; i < n; i++)
        t2[i] = t[i] * t[i];
    for (int i = 0; i < n; i++)
        RV_FMA(p[i], t[i], p3, p2);
    for (int i = 0; i < n; i++)
        RV_FMA(p[i], t2[i], p4, p[i]);
    for (int i = 0; i < n; i++)
        RV_FMA(u[i], t[i], p1, p0);
    for (int i = 0; i < n; i++)
        RV_FMA(p[i], t2[i], p[i], u[i]);
    for (int i = 0; i < n; i++)
        RV_FMA(q[i], t[i], q3, q2);
    for (int i = 0; i < n; i++)
        RV_FMA(q[i], t2[i], q4, q[i]);
    for (int i = 0; i < n; i++)
        RV_FMA(u[i], t[i], q1, one);
    for (int i = 0; i < n; i++)
        RV_FMA(q[i], t2[i], q[i], u[i]);
    for (int i = 0; i < n; i++)
        v[i] = x[i] * p[i] / q[i];
    for (int i = 0; i < n; i++)
        v[i] = RV_MIN(one, v[i]);
    for (int i = 0; i < n; i++)
        v[i] = RV_MAX(-one, v[i]);
}
#else
#define RNNC_VKEEP
#endif

/* @@ sigmoid */
/* PyTorch's sigmoid: 1 / (1 + e^-v); saturates to 0 or 1 without overflow trouble. */
RNNC_FN RNNC_KEEP static inline real act_sigmoid(real v)
{
    return RNNC_ONE / (RNNC_ONE + RNNC_EXP(-v));
}

/* @@ tanh */
RNNC_FN RNNC_KEEP static inline real act_tanh(real v)
{
    return RNNC_TANH(v);
}

/* @@ relu */
RNNC_FN static inline real act_relu(real v)
{
    return v > RNNC_ZERO ? v : RNNC_ZERO;
}

/* @@ pack */
/* The packed-sequence schedule of pack_padded_sequence(enforce_sorted=False): sequences
 * sorted longest first (stable), and bs[t] = how many of them are still running at step t,
 * so that step t works on sequences perm[0 .. bs[t]-1] only. Lengths NULL: all T.
 * Returns -1 when a length is outside 1..T. */
RNNC_FN static int pack_batch(const int *lengths, int B, int T, int *len, int *perm, int *bs)
{
    for (int b = 0; b < B; b++) {
        len[b] = lengths ? lengths[b] : T;
        if (len[b] < 1 || len[b] > T)
            return -1;
        int i = b;
        while (i > 0 && len[perm[i - 1]] < len[b]) {
            perm[i] = perm[i - 1];
            i--;
        }
        perm[i] = b;
    }
    int live = B;
    for (int t = 0; t < T; t++) {
        while (live > 0 && len[perm[live - 1]] <= t)
            live--;
        bs[t] = live;
    }
    return 0;
}

/* @@ part */
/* Keeps part `part` of `nparts` of a packed schedule: the sequences perm[part],
 * perm[part + nparts], ... (still longest first, so the live ones of a step stay a prefix).
 * Returns how many. Parts of one batch share nothing: threads can run them at once. */
static int pack_part(int *perm, int *bs, int B, int T, int part, int nparts)
{
    int n = 0;
    for (int i = part; i < B; i += nparts)
        perm[n++] = perm[i];
    for (int t = 0; t < T; t++)
        bs[t] = bs[t] > part ? (bs[t] - part + nparts - 1) / nparts : 0;
    return n;
}

/* @@ prefetch */
/* A hint that a product will soon read the weights at p (rows a few KiB on), so that they
 * come from L2 in time; where caches make it pay and the compiler takes it. RNNC_PREFETCH_L2
 * asks for data needed a whole step later, into L2 only: asked into L1, it would push out
 * what the step itself reads, and be pushed out before its turn. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__aarch64__))
#define RNNC_PREFETCH(p) __builtin_prefetch(p)
#define RNNC_PREFETCH_L2(p) __builtin_prefetch(p, 0, 2)
#else
#define RNNC_PREFETCH(p) ((void)(p))
#define RNNC_PREFETCH_L2(p) ((void)(p))
#endif
/* Where prefetching pays depends on the core: RNNC_INTEL_CORE is 1 where the compiler names
 * one of Intel's (-march=native or -march=<core>: clang's __corei7__, gcc's core names).
 * RNNC_PREFETCH_ROWS: a one-sequence product (a streaming step's) asks for its weights' rows
 * a few KiB on. On AMD's Zen cores that made S1's step 15-24 % faster; on Intel's, whose L2
 * streamer brings the rows in time, the sixteen prefetches a row took load slots from the
 * row's sixteen loads and the step was 8 % slower with them. RNNC_PF_NEXT_SEQS: a blocked
 * layer's step with at least that many live sequences asks for the next panel of weights
 * (tile.c's pf_next): on the Zen 5 from 48, on Intel's cores always (B = 16 and 32 took
 * 0.84 and 0.87 of the time without). bench/HISTORY.md has the runs; define either to
 * choose. */
#if defined(__corei7__) || defined(__skylake_avx512__) || defined(__cascadelake__) ||            \
    defined(__cooperlake__) || defined(__cannonlake__) || defined(__icelake_client__) ||        \
    defined(__icelake_server__) || defined(__tigerlake__) || defined(__rocketlake__) ||         \
    defined(__alderlake__) || defined(__sapphirerapids__) || defined(__graniterapids__) ||      \
    defined(__emeraldrapids__) || defined(__raptorlake__) || defined(__meteorlake__) ||         \
    defined(__skylake__) || defined(__haswell__) || defined(__broadwell__)
#define RNNC_INTEL_CORE 1
#else
#define RNNC_INTEL_CORE 0
#endif
#if !defined(RNNC_PREFETCH_ROWS)
#define RNNC_PREFETCH_ROWS (!RNNC_INTEL_CORE)
#endif
#if !defined(RNNC_PF_NEXT_SEQS)
#define RNNC_PF_NEXT_SEQS (RNNC_INTEL_CORE ? 0 : 48)
#endif
#if RNNC_PREFETCH_ROWS
#define RNNC_PREFETCH_ROW(p) RNNC_PREFETCH(p)
#else
#define RNNC_PREFETCH_ROW(p) ((void)(p))
#endif

/* @@ vec */
RNNC_FN static void vec_zero(real *p, long n)
{
    for (long i = 0; i < n; i++)
        p[i] = RNNC_ZERO;
}

RNNC_FN static void vec_copy(real *dst, const real *src, long n)
{
    for (long i = 0; i < n; i++)
        dst[i] = src[i];
}

/* @@ softmax */
/* Softmax over n values in place, shifted by the maximum as PyTorch does. */
RNNC_FN static void act_softmax(real *y, int n)
{
    real m = y[0], s = RNNC_ZERO;
    for (int i = 1; i < n; i++)
        if (y[i] > m)
            m = y[i];
    for (int i = 0; i < n; i++) {
        y[i] = RNNC_EXP(y[i] - m);
        s += y[i];
    }
    for (int i = 0; i < n; i++)
        y[i] /= s;
}
