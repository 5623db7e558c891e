/* tile.c — what bounds a batch-1 layer's recurrence: the wide tile's inner loop alone (for
 * each k, one element of h broadcast, then one 64-byte vector of W_hh^T per multiply-add
 * into its chains), over the panels of one layer-step, from wherever the order of reading
 * them leaves them: one panel over and over (in L1), the panels in the same order every
 * step (in L2), and every other step from the last one back (what the generated code does:
 * the panels read last are read first, from L1). No gates, no stores but the chains' sums:
 * the products alone, in multiply-adds per nanosecond and as a share of fma.c's peak, timed
 * in the same rounds. S1's LSTM layer of 64 units: four panels of 16 units (16 KB, four
 * chains); S2's GRU: two panels of 32 units (24 KB, six chains).
 *
 *   taskset -c 1 build/rnnc-tile [ROUNDS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "fma.h"

#if defined(__AVX512F__)
#include <immintrin.h>

enum { K = 64 }; /* rows of a panel: h's 64 elements */

/* One panel: K rows of C vectors; out gets the C chains. */
#define TILE(C)                                                                                   \
    static __attribute__((noinline)) void tile##C(const float *wp, const float *h, float *out)    \
    {                                                                                             \
        __m512 a[C];                                                                              \
        for (int i = 0; i < C; i++)                                                               \
            a[i] = _mm512_setzero_ps();                                                           \
        for (int k = 0; k < K; k++) {                                                             \
            const __m512 v = _mm512_set1_ps(h[k]);                                                \
            for (int i = 0; i < C; i++)                                                           \
                a[i] = _mm512_fmadd_ps(_mm512_load_ps(wp + (long)k * 16 * C + 16 * i), v, a[i]);  \
        }                                                                                         \
        for (int i = 0; i < C; i++)                                                               \
            _mm512_store_ps(out + 16 * i, a[i]);                                                  \
    }
TILE(4)
TILE(6)

typedef struct {
    const char *name;
    int panels, chains; /* a layer-step: panels of chains vectors a row */
} Shape;

/* order 0: panel 0 only; 1: 0..P-1 every step; 2: every other step from P-1 */
static double run(const Shape *s, int order, const float *w, const float *h, float *out)
{
    const long psz = (long)K * 16 * s->chains, steps = 20000;
    double t0 = thread_ns();
    for (long t = 0; t < steps; t++)
        for (int v = 0; v < s->panels; v++) {
            int p = order == 0 ? 0 : order == 2 && (t & 1) ? s->panels - 1 - v : v;
            (s->chains == 4 ? tile4 : tile6)(w + p * psz, h, out + 16 * s->chains * v);
        }
    return (double)steps * s->panels * K * s->chains / (thread_ns() - t0); /* FMAs per ns */
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: rnnc-tile [ROUNDS 1..99]\n");
        return 2;
    }
    static const Shape shapes[2] = {{"S1 LSTM 64", 4, 4}, {"S2 GRU 64", 2, 6}};
    static const char *const orders[3] = {"one panel (L1)", "same order (L2)",
                                          "alternating (as built)"};
    float *w = aligned_alloc(64, sizeof(float) * K * 16 * 6 * 4);
    float *h = aligned_alloc(64, sizeof(float) * K), *out = aligned_alloc(64, 4096);
    if (!w || !h || !out) {
        fprintf(stderr, "rnnc-tile: out of memory\n");
        return 1;
    }
    for (long i = 0; i < (long)K * 16 * 6 * 4; i++)
        w[i] = 1e-3f * (float)(i % 17);
    for (int k = 0; k < K; k++)
        h[k] = 0.5f;
    double *m = calloc((size_t)rounds * 7, sizeof *m), sink = 0;
    if (!m) {
        fprintf(stderr, "rnnc-tile: out of memory\n");
        return 1;
    }
    for (int r = 0; r < rounds; r++) { /* interleaved: every variant once a round */
        for (int i = 0; i < 6; i++)
            m[i * rounds + r] = run(&shapes[i / 3], i % 3, w, h, out);
        m[6 * rounds + r] = fma_rate(&sink);
    }
    for (int i = 0; i < 7; i++)
        qsort(m + i * rounds, (size_t)rounds, sizeof *m, cmp_double);
    double peak = m[6 * rounds + rounds / 2];
    printf("peak: %.2f vector FMA/ns (fma.c's chains), medians of %d rounds\n", peak, rounds);
    for (int i = 0; i < 6; i++) {
        double f = m[i * rounds + rounds / 2];
        printf("%-11s %-23s %5.2f FMA/ns  %3.0f%% of peak\n", shapes[i / 3].name, orders[i % 3], f,
               100 * f / peak);
    }
    int rc = out[0] > 1e30f && sink > 0; /* never: keeps the sums live */
    free(m);
    free(w);
    free(h);
    free(out);
    return rc;
}
#else
int main(void)
{
    fprintf(stderr, "rnnc-tile: needs AVX-512 (the generated wide tile's vectors)\n");
    return 1;
}
#endif
