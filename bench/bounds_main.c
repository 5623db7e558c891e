/* bounds_main.c — bench/bounds.sh's driver: times one forward call of a generated run-time
 * API unit (spec name "bench") on B sequences of T = 100 steps, random weights and inputs,
 * by the thread's CPU clock; prints the median of 15 rounds in microseconds and a checksum
 * of the outputs (which bounds.sh's variants change: they time, they do not compute). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "driver.h"
#include "model.h"

int main(int argc, char **argv)
{
    const int B = argc > 1 ? atoi(argv[1]) : 32, T = 100, reps = argc > 2 ? atoi(argv[2]) : 3;
    if (B < 1 || reps < 1) {
        fprintf(stderr, "usage: bounds-driver B REPS\n");
        return 2;
    }
    float *p = alloc64(sizeof(float) * BENCH_NUM_PARAMS),
          *pk = alloc64(sizeof(float) * BENCH_NUM_PACKED),
          *x = alloc64(sizeof(float) * (size_t)B * T * BENCH_INPUT_SIZE),
          *y = alloc64(sizeof(float) * (size_t)B * T * BENCH_OUTPUT_SIZE);
    void *scratch = alloc64((size_t)bench_scratch_bytes(B, T));
    if (!p || !pk || !x || !y || !scratch) {
        fprintf(stderr, "bounds-driver: out of memory\n");
        return 1;
    }
    unsigned s = 1;
    for (long i = 0; i < BENCH_NUM_PARAMS; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) / 8;
    }
    for (long i = 0; i < (long)B * T * BENCH_INPUT_SIZE; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    bench_pack(p, pk);
    double t[15];
    for (int r = 0; r < 15; r++) {
        double t0 = now_us();
        for (int k = 0; k < reps; k++)
            bench_forward(pk, x, NULL, B, T, NULL, NULL, y, NULL, NULL, scratch);
        t[r] = (now_us() - t0) / reps;
    }
    qsort(t, 15, sizeof t[0], cmp);
    double sum = 0;
    for (long i = 0; i < (long)B * T * BENCH_OUTPUT_SIZE; i++)
        sum += y[i] * (double)(i % 7 + 1);
    printf("%.1f %.6g\n", t[7], sum);
    free(p), free(pk), free(x), free(y), free(scratch);
    return 0;
}
