/* allreduce.c — rnnc-allreduce: the time of the training exchange (host/comm_mpi.c's sum in
 * rank order) over buffers of 1 KB to 16 MB, run under mpirun -np N. Rank 0 prints CSV:
 * bytes,microseconds (median of the repetitions), and the time per megabyte of the largest.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "comm.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + 1e-3 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    Comm c;
    if (comm_mpi_open(&c) < 0) {
        fprintf(stderr, "rnnc-allreduce: %s\n", c.err);
        return 1;
    }
    long max = 2L << 20; /* doubles: 16 MB */
    double *buf = calloc((size_t)max, sizeof *buf), t[41];
    if (!buf)
        return 1;
    if (c.rank == 0)
        printf("bytes,us\n");
    for (long n = 128; n <= max; n *= 4) {
        int reps = n < 65536 ? 41 : 11;
        for (int r = 0; r < reps; r++) {
            for (long i = 0; i < n; i += 512)
                buf[i] = c.rank + r;
            c.sum(&c, buf, 2); /* line the ranks up */
            double t0 = now_us();
            if (c.sum(&c, buf, n) < 0) {
                fprintf(stderr, "rnnc-allreduce: %s\n", c.err);
                return 1;
            }
            t[r] = now_us() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp);
        if (c.rank == 0)
            printf("%ld,%.1f\n", n * 8, t[reps / 2]);
    }
    free(buf);
    return 0;
}
