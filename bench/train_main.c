/* train_main.c — bench/parts.sh's driver: times a generated training unit's forward
 * (forward_train) and backward apart, one thread, spec name "bench" with a Linear(.., 5)
 * head on the last step (T1's recipe: bench/parts.sh writes the spec), on B = 32 sequences of
 * T = 100 steps, random weights and inputs, by the thread's CPU clock. Prints the medians of
 * 15 rounds in microseconds, step then forward, and a checksum of the gradients (the same
 * for two builds of the same arithmetic). NUMP and NUMK: the unit's BENCH_NUM_PARAMS and
 * BENCH_NUM_PACKED, INPUTS its input size.
 *
 *   train-driver [PACKED]   PACKED 1: lengths 20 + 37 i mod 81 (T1p), else all T
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"

void bench_pack(const float *params, float *packed);
long bench_train_bytes(int B, int T);
int bench_forward_train(const float *w, const float *x, const int *lengths, int B, int T, float *y,
                        float *logits, const float *drop, const float *state0, float *state1,
                        void *cache, int part, int nparts, int *sched);
int bench_backward(const float *w, const float *x, int B, int T, const float *dout,
                   const float *drop, float *dw, float *dstate0, void *cache, int part, int nparts,
                   void (*sync)(void *, int, int, int), void *ctx);

int main(int argc, char **argv)
{
    enum { B = 32, T = 100, ROUNDS = 15 };
    const int packed = argc > 1 && atoi(argv[1]) == 1;
    float *p = alloc64(sizeof(float) * NUMP), *pk = alloc64(sizeof(float) * NUMK),
          *dw = alloc64(sizeof(float) * NUMK), *x = alloc64(sizeof(float) * B * T * INPUTS),
          *y = alloc64(sizeof(float) * B * 5), *lg = alloc64(sizeof(float) * B * 5),
          *dout = alloc64(sizeof(float) * B * 5);
    void *cache = alloc64((size_t)bench_train_bytes(B, T));
    if (!p || !pk || !dw || !x || !y || !lg || !dout || !cache) {
        fprintf(stderr, "train-driver: out of memory\n");
        return 1;
    }
    int len[B];
    for (int i = 0; i < B; i++)
        len[i] = packed ? 20 + (i * 37) % 81 : T;
    unsigned s = 1;
    for (long i = 0; i < NUMP; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) / 8;
    }
    for (long i = 0; i < (long)B * T * INPUTS; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    for (int i = 0; i < B * 5; i++)
        dout[i] = 0.01f * (float)(i % 7 - 3);
    bench_pack(p, pk);
    double t[ROUNDS], tf[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_us();
        if (bench_forward_train(pk, x, len, B, T, y, lg, NULL, NULL, NULL, cache, 0, 1, NULL))
            return 1;
        tf[r] = now_us() - t0;
        memset(dw, 0, sizeof(float) * NUMK);
        if (bench_backward(pk, x, B, T, dout, NULL, dw, NULL, cache, 0, 1, NULL, NULL))
            return 1;
        t[r] = now_us() - t0;
    }
    qsort(t, ROUNDS, sizeof t[0], cmp);
    qsort(tf, ROUNDS, sizeof tf[0], cmp);
    double sum = 0;
    for (long i = 0; i < NUMK; i++)
        sum += dw[i] * (double)(i % 7 + 1);
    printf("%.1f %.1f %.9g\n", t[ROUNDS / 2], tf[ROUNDS / 2], sum);
    return 0;
}
