/* fma.c — this machine's fp32 FMA peak: independent chains of AVX-512 fused multiply-adds
 * (AVX2 where AVX-512 is missing), enough of them to hide the latency; and the time to read
 * an array once, the bound of a streaming step whose weights live in L2. Built with -O2
 * -march=native for rnnc-peak and rnnc-bench (which times both interleaved with the
 * contenders, so that a share of the peak or of the bound compares like with like). */
#include "fma.h"

#include <time.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define VEC __m512
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define LOAD _mm512_load_ps
#define SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define VEC __m256
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define LOAD _mm256_load_ps
static float SUM(__m256 v)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif

enum { CHAINS = 12 }; /* in registers: 12 named accumulators */

int fma_lanes(void)
{
#ifdef LANES
    return LANES;
#else
    return 0;
#endif
}

double fma_burst(long n)
{
#ifdef LANES
    VEC c0 = SET1(1.00f), c1 = SET1(1.01f), c2 = SET1(1.02f), c3 = SET1(1.03f);
    VEC c4 = SET1(1.04f), c5 = SET1(1.05f), c6 = SET1(1.06f), c7 = SET1(1.07f);
    VEC c8 = SET1(1.08f), c9 = SET1(1.09f), c10 = SET1(1.10f), c11 = SET1(1.11f);
    const VEC a = SET1(0.999999f), b = SET1(1e-7f);
    for (long k = 0; k < n; k++) {
        c0 = FMA(c0, a, b), c1 = FMA(c1, a, b), c2 = FMA(c2, a, b), c3 = FMA(c3, a, b);
        c4 = FMA(c4, a, b), c5 = FMA(c5, a, b), c6 = FMA(c6, a, b), c7 = FMA(c7, a, b);
        c8 = FMA(c8, a, b), c9 = FMA(c9, a, b), c10 = FMA(c10, a, b), c11 = FMA(c11, a, b);
    }
    VEC s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));
    s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)));
    return (double)SUM(s);
#else
    (void)n;
    return 0;
#endif
}

double fma_flops(long n)
{
    return 2.0 * fma_lanes() * CHAINS * (double)n;
}

double stream_read(const float *p, long n)
{
#ifdef LANES
    /* 8 sums: each vector's addition waits on the one 8 loads before it, not on the last */
    VEC s0 = SET1(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    long k = 0;
    for (; k + 8 * LANES <= n; k += 8 * LANES) {
        s0 = ADD(s0, LOAD(p + k)), s1 = ADD(s1, LOAD(p + k + LANES));
        s2 = ADD(s2, LOAD(p + k + 2 * LANES)), s3 = ADD(s3, LOAD(p + k + 3 * LANES));
        s4 = ADD(s4, LOAD(p + k + 4 * LANES)), s5 = ADD(s5, LOAD(p + k + 5 * LANES));
        s6 = ADD(s6, LOAD(p + k + 6 * LANES)), s7 = ADD(s7, LOAD(p + k + 7 * LANES));
    }
    double t = (double)SUM(ADD(ADD(ADD(s0, s1), ADD(s2, s3)), ADD(ADD(s4, s5), ADD(s6, s7))));
    for (; k < n; k++)
        t += p[k];
    return t;
#else
    double t = 0;
    for (long k = 0; k < n; k++)
        t += p[k];
    return t;
#endif
}

double thread_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

double fma_rate(double *sink)
{
    const long n = 2000000;
    double t0 = thread_ns();
    *sink += fma_burst(n);
    return fma_flops(n) / (2.0 * fma_lanes()) / (thread_ns() - t0);
}

int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
