/* fma.h — the FMA peak's kernel (fma.c, built with -march=native), and the two helpers the
 * micro-benchmarks linking it share. */
#ifndef RNNC_BENCH_FMA_H
#define RNNC_BENCH_FMA_H

/* n rounds of 12 independent vector FMA chains; returns their sum (keeps them live). */
double fma_burst(long n);
/* FLOPs of fma_burst(n) (an FMA counts 2); 0 without AVX2/AVX-512 FMA. */
double fma_flops(long n);
/* Lanes of the vectors used: 16 (AVX-512), 8 (AVX2), or 0. */
int fma_lanes(void);

/* Reads p[0 .. n) once (64-byte aligned) with vector loads; returns their sum. */
double stream_read(const float *p, long n);

/* Vector FMAs per ns of one fma_burst, timed by the thread's CPU clock (the peak of
 * rnnc-order's and rnnc-tile's rounds); the burst's sum is added to *sink. */
double fma_rate(double *sink);
/* The calling thread's CPU time, in nanoseconds. */
double thread_ns(void);
/* qsort's comparison of doubles, ascending. */
int cmp_double(const void *a, const void *b);

#endif
