/* peak.c — prints this machine's single-core fp32 FMA peak in GFLOP/s (fma.c's chains;
 * the best of five runs of 20 M rounds). rnnc-bench times the same kernel beside every
 * contender. With --stream, also how fast one core reads buffers of 204 KB (S1's weights,
 * from L2) to 48 MiB (a blocked layer's panels: from L3, or past it) again and again with
 * fma.c's stream_read, in bytes per nanosecond (the best of 15 reads after one to warm):
 *
 *   taskset -c 1 build/rnnc-peak --stream */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fma.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void streams(double *sink)
{
    static const long kb[] = {204, 2048, 4096, 6144, 8192, 12288, 16384, 24576, 49152};
    for (size_t i = 0; i < sizeof kb / sizeof kb[0]; i++) {
        long n = kb[i] * 256; /* floats */
        float *p = aligned_alloc(64, (size_t)n * sizeof *p);
        if (!p) {
            fprintf(stderr, "rnnc-peak: out of memory\n");
            exit(1);
        }
        for (long k = 0; k < n; k++)
            p[k] = 1.0f;
        double best = 1e30;
        *sink += stream_read(p, n);
        for (int r = 0; r < 15; r++) {
            double t0 = now();
            *sink += stream_read(p, n);
            double t = now() - t0;
            best = t < best ? t : best;
        }
        printf("stream,%ld KiB,%.1f B/ns\n", kb[i], (double)n * sizeof *p / best / 1e9);
        free(p);
    }
}

int main(int argc, char **argv)
{
    double best = 0, sink = 0;
    if (argc > 1 && strcmp(argv[1], "--stream") != 0) {
        fprintf(stderr, "usage: rnnc-peak [--stream]\n");
        return 2;
    }
    for (int rep = 0; rep < 5 && fma_lanes(); rep++) {
        long n = 20000000;
        double t0 = now();
        sink += fma_burst(n);
        double gf = fma_flops(n) / (now() - t0) / 1e9;
        best = gf > best ? gf : best;
    }
    if (argc > 1)
        streams(&sink);
    printf("peak,%.1f,%d-lane FMA,%.3f\n", best, fma_lanes(), sink);
    return 0;
}
