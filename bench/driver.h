/* driver.h — what bench/bounds.sh's and bench/parts.sh's drivers share (bounds_main.c,
 * train_main.c): the thread's CPU clock, the order of a median, 64-byte aligned buffers.
 * Include after _POSIX_C_SOURCE. */
#ifndef RNNC_BENCH_DRIVER_H
#define RNNC_BENCH_DRIVER_H

#include <stdlib.h>
#include <time.h>

/* the calling thread's CPU time in microseconds */
static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* qsort's order of doubles */
static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* n bytes (rounded up to a line) on a 64-byte boundary, or NULL */
static void *alloc64(size_t n)
{
    return aligned_alloc(64, (n + 63) / 64 * 64);
}

#endif
