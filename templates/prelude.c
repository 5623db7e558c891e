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

/* @@ exp_f32 */
/* rnnc's own e^v (math: builtin, the default): within 1.5 ulp of e^v (1.21 measured; glibc's
 * expf is within 1), without a branch or a call, so that compilers vectorise the loops that
 * use it. v = k ln2 + r, |r| <= ln2/2 (Cody-Waite), e^r by its Taylor series to r^7
 * (truncation 5e-9), 2^k built in the exponent bits. The argument is kept in [-87, 88]:
 * e^-87 = 1.6e-38 and e^88 = 1.7e38 are already 0 and infinity to a sigmoid, a tanh or a
 * softmax. */
RNNC_FN static inline float m_expf(float v)
{
    union {
        float f;
        int i;
    } s;
    v = v < -87.0f ? -87.0f : v;
    v = v > 88.0f ? 88.0f : v;
    const float k = (v * 1.44269504f + 12582912.0f) - 12582912.0f; /* round(v / ln2) */
    const float r = (v - k * 0.693359375f) - k * -2.12194440e-4f;
    const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
                    r * (8.33333333e-3f + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
    s.i = ((int)k + 127) << 23;
    return p * s.f;
}

/* @@ tanh_f32 */
/* tanh within 3 ulp (2.6 measured; glibc's tanhf: 2.2), from one e^y - 1 with y = -2|v| in
 * [-20, 0]: e^y - 1 = 2^k (e^r - 1) + (2^k - 1), e^r - 1 by m_expf's series without its
 * constant term, so nothing cancels as y goes to 0; then tanh|v| = -(e^y - 1) / (e^y + 1),
 * the sign put back, and v itself for a zero of either sign (and a NaN). */
RNNC_FN static inline float m_tanhf(float v)
{
    union {
        float f;
        int i;
    } s;
    const float a = v < 0.0f ? -v : v;
    const float y = a > 10.0f ? -20.0f : -2.0f * a; /* tanh 10 is 1.0f already */
    const float k = (y * 1.44269504f + 12582912.0f) - 12582912.0f;
    const float r = (y - k * 0.693359375f) - k * -2.12194440e-4f;
    const float q = r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
                    r * (8.33333333e-3f + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
    s.i = ((int)k + 127) << 23; /* 2^k, k in [-29, 0] */
    const float e = q * s.f + (s.f - 1.0f);
    const float t = -e / (e + 2.0f);
    return v < 0.0f ? -t : v > 0.0f ? t : v;
}

/* @@ exp_f64 */
/* The double versions: the series to r^13, within 1.5 ulp (exp) and 3.5 ulp (tanh, the same
 * construction; 2.9 measured), as tests/test_gen.c checks; the argument of exp kept in
 * [-708, 709]. The helpers are inline: deployed code has no flatten, and its gate loops
 * vectorise only once they are inlined. */
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

/* @@ sigmoid */
/* PyTorch's sigmoid: 1 / (1 + e^-v); saturates to 0 or 1 without overflow trouble. */
RNNC_FN static inline real act_sigmoid(real v)
{
    return RNNC_ONE / (RNNC_ONE + RNNC_EXP(-v));
}

/* @@ tanh */
RNNC_FN static inline real act_tanh(real v)
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
 * come from L2 in time; where caches make it pay and the compiler takes it. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__aarch64__))
#define RNNC_PREFETCH(p) __builtin_prefetch(p)
#else
#define RNNC_PREFETCH(p) ((void)(p))
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
