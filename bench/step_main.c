/* step_main.c — bench/bounds.sh step's driver: times the deployed unit's streaming step (spec
 * name "bench", its weights baked in) by the thread's CPU clock, REPS x 100 steps a round on
 * random inputs, the state carried on; prints the median of 15 rounds in microseconds a step
 * and a checksum of the outputs (which bounds.sh's variants change: they time, they do not
 * compute). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "driver.h"
#include "model.h"

int main(int argc, char **argv)
{
    const int reps = argc > 2 ? atoi(argv[2]) : 20;
    if (reps < 1) {
        fprintf(stderr, "usage: step-driver 1 REPS\n");
        return 2;
    }
    static float x[100 * BENCH_INPUT_SIZE], y[BENCH_OUTPUT_SIZE];
    unsigned s = 1;
    for (long i = 0; i < 100L * BENCH_INPUT_SIZE; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    bench_state st;
    bench_reset(&st);
    double t[15], sum = 0;
    for (int r = 0; r < 15; r++) {
        double t0 = now_us();
        for (int k = 0; k < reps; k++)
            for (int j = 0; j < 100; j++)
                bench_step(&st, x + (long)j * BENCH_INPUT_SIZE, y);
        t[r] = (now_us() - t0) / reps / 100;
        for (int i = 0; i < BENCH_OUTPUT_SIZE; i++)
            sum += y[i] * (double)(i % 7 + 1);
    }
    qsort(t, 15, sizeof t[0], cmp);
    printf("%.4f %.6g\n", t[7], sum);
    return 0;
}
