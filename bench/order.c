/* order.c — why a batched layer's recurrence runs in rnnc's order: its products alone (no gates),
 * a step's columns times its rows for every sequence, in three orders, over M1's layers (LSTM
 * 256: 1024 columns; K = 128 + 256 and 256 + 256 rows, the input fused as the generated tiles
 * take it; batch 32) and L1's (LSTM 512: 2048 columns; K = 512 + 512; batch 64):
 *   units    rnnc's tiles: 16 units of each gate (four vectors) by 6 sequences (5 or 4 where
 *            the batch leaves fewer), every tile of sequences reading its units' panel of
 *            K x 64 (L3 for the first tile, L2 for the rest);
 *   batch    sequences in the lanes: 8 columns broadcast by 2 vectors of 16 sequences, h kept
 *            transposed (K x B), each weight read once a step for every 32 sequences;
 *   blocked  rnnc's tiles with K in blocks of 128 rows (32 KB of a panel, to stay in L1), the
 *            accumulators stored after a block and loaded before the next.
 * Each step's outputs, halved, are the next step's h, so that steps wait on each other; each
 * layer has weights of its own (M1 3.5 MB, L1 8 MB: they stream from L3 as a forward's do).
 * In multiply-adds per nanosecond and as a share of fma.c's peak, timed in the same rounds
 * (the thread's CPU clock, medians).
 *
 *   taskset -c 1 build/rnnc-order [ROUNDS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "fma.h"

#if defined(__AVX512F__)
#include <immintrin.h>

enum { KMAX = 1024, KB = 128, STEPS = 20 };

/* rnnc's tile: rows [k0, k1) of a panel (row k: 64 floats at wp + 64 k) for S sequences
 * (their h at hs[s], their 64 outputs at os[s]); first: start from zero, else from os. */
#define UNITS(S)                                                                                  \
    static __attribute__((noinline)) void units##S(const float *wp, const float *const *hs,       \
                                                   float *const *os, int k0, int k1, int first)   \
    {                                                                                             \
        __m512 a[S][4];                                                                           \
        for (int s = 0; s < S; s++)                                                               \
            for (int q = 0; q < 4; q++)                                                           \
                a[s][q] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(os[s] + 16 * q);          \
        for (int k = k0; k < k1; k++) {                                                           \
            const float *wk = wp + 64L * k;                                                       \
            const __m512 w0 = _mm512_load_ps(wk), w1 = _mm512_load_ps(wk + 16),                   \
                         w2 = _mm512_load_ps(wk + 32), w3 = _mm512_load_ps(wk + 48);              \
            for (int s = 0; s < S; s++) {                                                         \
                const __m512 v = _mm512_set1_ps(hs[s][k]);                                        \
                a[s][0] = _mm512_fmadd_ps(w0, v, a[s][0]);                                        \
                a[s][1] = _mm512_fmadd_ps(w1, v, a[s][1]);                                        \
                a[s][2] = _mm512_fmadd_ps(w2, v, a[s][2]);                                        \
                a[s][3] = _mm512_fmadd_ps(w3, v, a[s][3]);                                        \
            }                                                                                     \
        }                                                                                         \
        for (int s = 0; s < S; s++)                                                               \
            for (int q = 0; q < 4; q++)                                                           \
                _mm512_storeu_ps(os[s] + 16 * q, a[s][q]);                                        \
    }
UNITS(6)
UNITS(5)
UNITS(4)

/* Sequences in the lanes: 8 columns (row k: 8 floats at wg + 8 k) by the 32 sequences of
 * hT + 16 v (row k of hT: B floats); the outputs at o, column c's 32 at o + c * B. */
static __attribute__((noinline)) void batch8(const float *wg, const float *hT, int B, int K,
                                             float *o)
{
    __m512 a[8][2];
    for (int c = 0; c < 8; c++)
        a[c][0] = a[c][1] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const __m512 h0 = _mm512_load_ps(hT + (long)k * B),
                     h1 = _mm512_load_ps(hT + (long)k * B + 16);
        for (int c = 0; c < 8; c++) {
            const __m512 w = _mm512_set1_ps(wg[8L * k + c]);
            a[c][0] = _mm512_fmadd_ps(w, h0, a[c][0]);
            a[c][1] = _mm512_fmadd_ps(w, h1, a[c][1]);
        }
    }
    for (int c = 0; c < 8; c++) {
        _mm512_store_ps(o + (long)c * B, a[c][0]);
        _mm512_store_ps(o + (long)c * B + 16, a[c][1]);
    }
}

typedef struct {
    const char *name;
    int layers, K[2], cols, B;
} Shape;

/* One step of a layer in `order` (0 units, 1 batch, 2 blocked): w its weights (panels for
 * 0 and 2, groups of 8 columns for 1), h (B x KMAX, or KMAX x B for 1) in, o (B x cols, or
 * cols x B) out, then h = o / 2 where both have room. */
static void step(int order, const float *w, int K, int cols, int B, float *h, float *o)
{
    if (order == 1) {
        for (int g = 0; g < cols / 8; g++)
            for (int b0 = 0; b0 < B; b0 += 32)
                batch8(w + (long)g * K * 8, h + b0, B, K, o + (long)g * 8 * B + b0);
        for (long i = 0; i < (long)K * B; i++)
            h[i] = 0.5f * o[i];
        return;
    }
    const float *hs[6];
    float *os[6];
    const int nt = (B + 5) / 6, kb = order == 2 ? KB : K;
    for (int p = 0; p < cols / 64; p++) {
        const float *wp = w + (long)p * K * 64;
        for (int k0 = 0; k0 < K; k0 += kb)
            for (int r = 0, i = 0, m; r < nt; r++, i += m) {
                m = B / nt + (r < B % nt);
                for (int q = 0; q < m; q++) {
                    hs[q] = h + (long)(i + q) * KMAX;
                    os[q] = o + (long)(i + q) * cols + 64 * p;
                }
                (m == 6 ? units6 : m == 5 ? units5 : units4)(wp, hs, os, k0, k0 + kb, k0 == 0);
            }
    }
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++)
            h[(long)b * KMAX + k] = 0.5f * o[(long)b * cols + k];
}

/* FMAs per ns of STEPS steps of every layer of s in `order` */
static double run(const Shape *s, int order, float *const *w, float *h, float *o)
{
    double t0 = thread_ns(), fmas = 0;
    for (int t = 0; t < STEPS; t++)
        for (int l = 0; l < s->layers; l++) {
            step(order, w[l], s->K[l], s->cols, s->B, h, o);
            fmas += (double)s->K[l] * s->cols * s->B / 16;
        }
    return fmas / (thread_ns() - t0);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: rnnc-order [ROUNDS 1..99]\n");
        return 2;
    }
    static const Shape shapes[2] = {{"M1", 2, {384, 512}, 1024, 32},
                                    {"L1", 1, {1024, 0}, 2048, 64}};
    static const char *const orders[3] = {"units (as built)", "batch in lanes",
                                          "K blocked by 128"};
    float *w[2], *h = aligned_alloc(64, sizeof(float) * KMAX * 64),
                 *o = aligned_alloc(64, sizeof(float) * 2048 * 64);
    const long wn = 1024L * 2048;
    w[0] = aligned_alloc(64, sizeof(float) * wn);
    w[1] = aligned_alloc(64, sizeof(float) * wn);
    double *m = calloc((size_t)rounds * 7, sizeof *m), sink = 0;
    if (!w[0] || !w[1] || !h || !o || !m) {
        fprintf(stderr, "rnnc-order: out of memory\n");
        return 1;
    }
    for (long i = 0; i < wn; i++)
        w[0][i] = w[1][i] = 1e-3f * (float)(i % 17);
    for (long i = 0; i < (long)KMAX * 64; i++)
        h[i] = 0.5f;
    for (int r = 0; r < rounds; r++) { /* interleaved: every variant once a round */
        for (int i = 0; i < 6; i++)
            m[i * rounds + r] = run(&shapes[i / 3], i % 3, w, h, o);
        m[6 * rounds + r] = fma_rate(&sink);
    }
    for (int i = 0; i < 7; i++)
        qsort(m + i * rounds, (size_t)rounds, sizeof *m, cmp_double);
    double peak = m[6 * rounds + rounds / 2];
    printf("peak: %.2f vector FMA/ns (fma.c's chains), medians of %d rounds\n", peak, rounds);
    for (int i = 0; i < 6; i++) {
        double f = m[i * rounds + rounds / 2], f0 = m[i / 3 * 3 * rounds + rounds / 2];
        printf("%-3s %-17s %5.2f FMA/ns  %3.0f%% of peak  %.3f of units' speed\n",
               shapes[i / 3].name, orders[i % 3], f, 100 * f / peak, f / f0);
    }
    int rc = o[0] > 1e30f && sink > 0; /* never: keeps the sums live */
    free(m);
    free(w[0]);
    free(w[1]);
    free(h);
    free(o);
    return rc;
}
#else
int main(void)
{
    fprintf(stderr, "rnnc-order: needs AVX-512 (the generated tiles' vectors)\n");
    return 1;
}
#endif
