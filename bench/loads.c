/* loads.c — what paces a batched tile's loop of multiply-adds on this core: for each row k of
 * a panel, NV vectors of weights loaded once (kept in registers, as prelude.c's RV_LOAD_KEEP),
 * one element of each of NS sequences' h broadcast, NS x NV multiply-adds into accumulators
 * (M1's and L1's tiles: 6 x 4). Timed as a share of fma.c's peak, in the same rounds:
 *   - shapes of 24-28 accumulators with their rows in L1 (96 rows, 24 KB at 6 x 4);
 *   - the tile of six with its weight loads hoisted out of the loop (same row every k):
 *     broadcasts and multiply-adds only;
 *   - the tile of six over M1's layer-step: 16 panels of 384 rows (96 KB each, from L2), each
 *     read by six tiles of sequences whole, or in chunks of 96 or 128 rows that every tile
 *     takes in turn (K-blocking: the chunk stays in L1, the accumulators go to memory between
 *     chunks; the same additions in the same order).
 *
 *   taskset -c 1 build/rnnc-loads [ROUNDS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "fma.h"

#if defined(__AVX512F__)
#include <immintrin.h>

/* acc[s][i] (NS x NV vectors, in memory between calls) += rows [k0, k1) of w times h[s][k];
 * with `hoist`, every k reads row 0. */
#define TILE(NS, NV)                                                                              \
    static __attribute__((noinline)) void tile_##NS##_##NV(                                       \
        const float *w, int k0, int k1, const float *const *h, float *acc, int hoist)             \
    {                                                                                             \
        __m512 a[NS][NV];                                                                         \
        for (int s = 0; s < NS; s++)                                                              \
            for (int i = 0; i < NV; i++)                                                          \
                a[s][i] = _mm512_load_ps(acc + (s * NV + i) * 16);                                \
        const long step = hoist ? 0 : 16 * NV;                                                    \
        for (int k = k0; k < k1; k++) {                                                           \
            __m512 wv[NV];                                                                        \
            for (int i = 0; i < NV; i++) {                                                        \
                wv[i] = _mm512_load_ps(w + k * step + 16 * i);                                    \
                __asm__("" : "+v"(wv[i]));                                                        \
            }                                                                                     \
            for (int s = 0; s < NS; s++) {                                                        \
                const __m512 b = _mm512_set1_ps(h[s][k]);                                         \
                for (int i = 0; i < NV; i++)                                                      \
                    a[s][i] = _mm512_fmadd_ps(wv[i], b, a[s][i]);                                 \
            }                                                                                     \
        }                                                                                         \
        for (int s = 0; s < NS; s++)                                                              \
            for (int i = 0; i < NV; i++)                                                          \
                _mm512_store_ps(acc + (s * NV + i) * 16, a[s][i]);                                \
    }
TILE(6, 4)
TILE(8, 3)
TILE(4, 6)
TILE(12, 2)
TILE(7, 4)
TILE(5, 5)

typedef void TileFn(const float *, int, int, const float *const *, float *, int);
typedef struct {
    const char *name;
    TileFn *fn;
    int ns, nv;
} Shape;
static const Shape shapes[] = {
    {"6 x 4", tile_6_4, 6, 4},    {"8 x 3", tile_8_3, 8, 3}, {"4 x 6", tile_4_6, 4, 6},
    {"12 x 2", tile_12_2, 12, 2}, {"7 x 4", tile_7_4, 7, 4}, {"5 x 5", tile_5_5, 5, 5},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0], KL1 = 96, KP = 384, NP = 16, NT = 6 };

/* FLOPs per ns of `reps` calls of one shape over KL1 rows (hoist: row 0 only). */
static double in_l1(const Shape *sh, const float *w, const float *const *h, float *acc, int hoist)
{
    const long reps = 100000;
    double t0 = thread_ns();
    for (long r = 0; r < reps; r++)
        sh->fn(w, 0, KL1, h, acc, hoist);
    return 2.0 * 16 * sh->nv * sh->ns * KL1 * reps / (thread_ns() - t0);
}

/* FLOPs per ns of M1's layer-step in tiles of six: NP panels of KP rows, NT tiles each, the
 * rows in chunks of kc. */
static double layer_step(int kc, const float *w, const float *const *h, float *acc)
{
    const long steps = 60, psz = (long)KP * 64;
    double t0 = thread_ns();
    for (long t = 0; t < steps; t++)
        for (int p = 0; p < NP; p++)
            for (int k0 = 0; k0 < KP; k0 += kc)
                for (int i = 0; i < NT; i++)
                    tile_6_4(w + p * psz, k0, k0 + kc < KP ? k0 + kc : KP, h + 6 * i,
                             acc + i * 6 * 64, 0);
    return 2.0 * 64 * 6 * KP * NT * NP * steps / (thread_ns() - t0);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: rnnc-loads [ROUNDS 1..99]\n");
        return 2;
    }
    static const int chunks[3] = {KP, 128, 96};
    enum { NV_ = NSHAPES + 1 + 3 + 1 }; /* shapes, hoisted, layer-steps, peak */
    float *w = aligned_alloc(64, sizeof(float) * NP * KP * 64);
    float *hb = aligned_alloc(64, sizeof(float) * 12 * NT * KP);
    float *acc = aligned_alloc(64, sizeof(float) * NT * 12 * 96);
    double *m = calloc((size_t)rounds * NV_, sizeof *m), sink = 0;
    const float *h[12 * NT];
    if (!w || !hb || !acc || !m) {
        fprintf(stderr, "rnnc-loads: out of memory\n");
        return 1;
    }
    for (long i = 0; i < (long)NP * KP * 64; i++)
        w[i] = 1e-3f * (float)(i % 17);
    for (long i = 0; i < 12L * NT * KP; i++)
        hb[i] = 1e-2f * (float)(i % 5);
    for (long i = 0; i < NT * 12 * 96; i++)
        acc[i] = 0;
    for (int s = 0; s < 12 * NT; s++)
        h[s] = hb + (long)s * KP;
    for (int r = 0; r < rounds; r++) { /* interleaved: every variant once a round */
        int v = 0;
        for (int i = 0; i < NSHAPES; i++)
            m[v++ * rounds + r] = in_l1(&shapes[i], w, h, acc, 0);
        m[v++ * rounds + r] = in_l1(&shapes[0], w, h, acc, 1);
        for (int i = 0; i < 3; i++)
            m[v++ * rounds + r] = layer_step(chunks[i], w, h, acc);
        m[v * rounds + r] = 2 * 16 * fma_rate(&sink); /* vector FMAs per ns to FLOPs */
    }
    for (int i = 0; i < NV_; i++)
        qsort(m + (long)i * rounds, (size_t)rounds, sizeof *m, cmp_double);
    double peak = m[(NV_ - 1) * rounds + rounds / 2];
    printf("peak: %.1f GFLOP/s (fma.c's chains), medians of %d rounds\n", peak, rounds);
    int v = 0;
    for (int i = 0; i < NSHAPES; i++, v++)
        printf("%-7s rows in L1 (%d rows)                %3.0f%% of peak\n", shapes[i].name, KL1,
               100 * m[v * rounds + rounds / 2] / peak);
    printf("6 x 4   weight loads hoisted (row 0 every k)    %3.0f%% of peak\n",
           100 * m[v++ * rounds + rounds / 2] / peak);
    for (int i = 0; i < 3; i++, v++)
        printf("6 x 4   M1's layer-step, chunks of %3d rows     %3.0f%% of peak%s\n", chunks[i],
               100 * m[v * rounds + rounds / 2] / peak, i ? "" : " (whole panels)");
    int rc = acc[0] > 1e30f && sink > 0; /* never: keeps the sums live */
    free(m);
    free(w);
    free(hb);
    free(acc);
    return rc;
}
#else
int main(void)
{
    fprintf(stderr, "rnnc-loads: needs AVX-512 (the generated tiles' vectors)\n");
    return 1;
}
#endif
