/* allreduce.c — rnnc-allreduce: the time of the training exchange (host/comm_mpi.c's sum in
 * rank order) over buffers of 1 KB to 16 MB, run under mpirun -np N. Rank 0 prints CSV:
 * bytes,microseconds (median of the repetitions). `--check`: instead, sums of whole numbers
 * of many sizes (both paths, several segments, odd remainders) checked exactly; exit 1 on
 * a wrong element.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Every element of sums of sizes around the paths' edges equals the exact sum. */
static int check(Comm *c)
{
    long sizes[] = {1, 7, 4095, 4096, 4097, 32767, 32768, 32769, 100003, 262144 + 5};
    int bad = 0;
    for (int k = 0; k < 10; k++) {
        long n = sizes[k];
        double *b = malloc((size_t)n * sizeof *b);
        if (!b)
            return 1;
        for (long i = 0; i < n; i++)
            b[i] = (double)(i % 1000) * (c->rank + 1);
        if (c->sum(c, b, n) < 0)
            return 1;
        double ranks = c->size * (c->size + 1) / 2.0;
        for (long i = 0; i < n; i++)
            bad += b[i] != (double)(i % 1000) * ranks;
        free(b);
    }
    if (c->rank == 0)
        printf("%s\n", bad ? "wrong sums" : "sums exact");
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    Comm c;
    if (comm_mpi_open(&c) < 0) {
        fprintf(stderr, "rnnc-allreduce: %s\n", c.err);
        return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "--check"))
        return check(&c);
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
