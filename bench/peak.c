/* peak.c — prints this machine's single-core fp32 FMA peak in GFLOP/s (fma.c's chains;
 * the best of five runs of 20 M rounds). rnnc-bench times the same kernel beside every
 * contender. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include "fma.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void)
{
    double best = 0, sink = 0;
    for (int rep = 0; rep < 5 && fma_lanes(); rep++) {
        long n = 20000000;
        double t0 = now();
        sink += fma_burst(n);
        double gf = fma_flops(n) / (now() - t0) / 1e9;
        best = gf > best ? gf : best;
    }
    printf("peak,%.1f,%d-lane FMA,%.3f\n", best, fma_lanes(), sink);
    return 0;
}
