/* make_data.c — the data of the learning examples (the specs in examples/learn/), written as .npy
 * into a directory: X, Y (and L, the lengths) for training and for a held-out set.
 *
 *   make_data classify DIR   sequences of lengths 20-100: which of 4 frequencies the noisy
 *                            sine in them has (per-sequence class)
 *   make_data label DIR      each step's class: the sign of x[t-1] + x[t+1] (needs both
 *                            directions)
 *   make_data sines DIR      a noisy sum of sines: predict the next value at every step
 *   make_data adding DIR     the adding problem at T = 100 (Hochreiter and Schmidhuber 1997)
 *
 * Deterministic (one fixed seed per task); prints the held-out baseline worth beating. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

static unsigned long long rng = 0x2545F4914F6CDD1Dull;

static double unif(void) /* [0, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
    double u = unif() + 1e-300, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static int save(const char *dir, const char *name, RnnrtDtype dt, int ndim, long d0, long d1,
                long d2, void *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    RnnrtArray a = {dt, ndim, {d0, d1, d2}, data};
    RnnrtError err;
    if (rnnrt_npy_write(path, &a, &err) < 0) {
        fprintf(stderr, "make_data: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* One split of a task: N sequences of at most T steps; x (N, T, I) float32, y as the task
 * says, lengths (N) int64. */
typedef struct Split {
    int N, T, I, O;
    float *x, *yf;
    long long *yi, *len;
} Split;

static int split_alloc(Split *s, int N, int T, int I, int O, long ny_per, int yint)
{
    memset(s, 0, sizeof *s);
    s->N = N, s->T = T, s->I = I, s->O = O;
    s->x = calloc((size_t)N * T * I, sizeof *s->x);
    s->len = calloc((size_t)N, sizeof *s->len);
    if (yint)
        s->yi = calloc((size_t)N * ny_per, sizeof *s->yi);
    else
        s->yf = calloc((size_t)N * ny_per, sizeof *s->yf);
    return s->x && s->len && (s->yi || s->yf) ? 0 : -1;
}

static void split_free(Split *s)
{
    free(s->x);
    free(s->yf);
    free(s->yi);
    free(s->len);
}

static void classify(Split *s)
{
    static const double freq[4] = {0.03, 0.07, 0.12, 0.18}; /* cycles per step */
    for (int n = 0; n < s->N; n++) {
        int k = (int)(unif() * 4), L = 20 + (int)(unif() * 81);
        double ph = unif() * 6.283185307179586, amp = 0.5 + unif();
        s->len[n] = L;
        s->yi[n] = k;
        for (int t = 0; t < L; t++)
            s->x[(long)n * s->T + t] =
                (float)(amp * sin(6.283185307179586 * freq[k] * t + ph) + 0.3 * gauss());
    }
}

static void label(Split *s)
{
    for (int n = 0; n < s->N; n++) {
        s->len[n] = s->T;
        for (int t = 0; t < s->T; t++)
            s->x[(long)n * s->T + t] = (float)(2 * unif() - 1);
        for (int t = 0; t < s->T; t++) {
            double a = t > 0 ? s->x[(long)n * s->T + t - 1] : 0;
            double b = t + 1 < s->T ? s->x[(long)n * s->T + t + 1] : 0;
            s->yi[(long)n * s->T + t] = a + b > 0;
        }
    }
}

static double sines(Split *s)
{
    double pers = 0;
    long cnt = 0;
    for (int n = 0; n < s->N; n++) {
        double p1 = unif() * 6.28318, p2 = unif() * 6.28318, p3 = unif() * 6.28318;
        double v[512];
        for (int t = 0; t <= s->T; t++)
            v[t] = 0.6 * sin(6.283185307179586 * t / 12.0 + p1) +
                   0.3 * sin(6.283185307179586 * t / 7.3 + p2) +
                   0.2 * sin(6.283185307179586 * t / 29.0 + p3) + 0.02 * gauss();
        s->len[n] = s->T;
        for (int t = 0; t < s->T; t++) {
            s->x[(long)n * s->T + t] = (float)v[t];
            s->yf[(long)n * s->T + t] = (float)v[t + 1];
            pers += (v[t + 1] - v[t]) * (v[t + 1] - v[t]);
            cnt++;
        }
    }
    return pers / (double)cnt;
}

static void adding(Split *s)
{
    for (int n = 0; n < s->N; n++) {
        int a = (int)(unif() * (s->T / 2)), b = s->T / 2 + (int)(unif() * (s->T / 2));
        double sum = 0;
        s->len[n] = s->T;
        for (int t = 0; t < s->T; t++) {
            double v = unif();
            s->x[((long)n * s->T + t) * 2] = (float)v;
            s->x[((long)n * s->T + t) * 2 + 1] = (float)(t == a || t == b);
            if (t == a || t == b)
                sum += v;
        }
        s->yf[n] = (float)sum;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_data classify|label|sines|adding DIR\n");
        return 2;
    }
    const char *task = argv[1], *dir = argv[2];
    int sizes[2][2] = {{0, 0}, {0, 0}}; /* N train, N held out */
    for (int part = 0; part < 2; part++) {
        Split s;
        const char *pre = part ? "val_" : "";
        char nx[64], ny[64], nl[64];
        snprintf(nx, sizeof nx, "%sx.npy", pre);
        snprintf(ny, sizeof ny, "%sy.npy", pre);
        snprintf(nl, sizeof nl, "%slengths.npy", pre);
        int rc = 0;
        if (!strcmp(task, "classify")) {
            rng = 0x9E3779B97F4A7C15ull * (unsigned long long)(part ? 1001 : 1000);
            int N = part ? 500 : 2000;
            if (split_alloc(&s, N, 100, 1, 4, 1, 1) < 0)
                return 1;
            classify(&s);
            rc = save(dir, nx, RNNRT_F32, 3, N, 100, 1, s.x) |
                 save(dir, ny, RNNRT_I64, 1, N, 0, 0, s.yi) |
                 save(dir, nl, RNNRT_I64, 1, N, 0, 0, s.len);
        } else if (!strcmp(task, "label")) {
            rng = 0x9E3779B97F4A7C15ull * (unsigned long long)(part ? 2001 : 2000);
            int N = part ? 300 : 1500;
            if (split_alloc(&s, N, 40, 1, 2, 40, 1) < 0)
                return 1;
            label(&s);
            rc = save(dir, nx, RNNRT_F32, 3, N, 40, 1, s.x) |
                 save(dir, ny, RNNRT_I64, 2, N, 40, 0, s.yi);
        } else if (!strcmp(task, "sines")) {
            rng = 0x9E3779B97F4A7C15ull * (unsigned long long)(part ? 3001 : 3000);
            int N = part ? 100 : 400;
            if (split_alloc(&s, N, 200, 1, 1, 200, 0) < 0)
                return 1;
            double p = sines(&s);
            if (part)
                printf("held-out persistence baseline (predict the last value): MSE %.5f\n", p);
            rc = save(dir, nx, RNNRT_F32, 3, N, 200, 1, s.x) |
                 save(dir, ny, RNNRT_F32, 3, N, 200, 1, s.yf);
        } else if (!strcmp(task, "adding")) {
            rng = 0x9E3779B97F4A7C15ull * (unsigned long long)(part ? 4001 : 4000);
            int N = part ? 1000 : 10000;
            if (split_alloc(&s, N, 100, 2, 1, 1, 0) < 0)
                return 1;
            adding(&s);
            if (part)
                printf("held-out baseline (always answer 1): MSE about 0.167\n");
            rc = save(dir, nx, RNNRT_F32, 3, N, 100, 2, s.x) |
                 save(dir, ny, RNNRT_F32, 2, N, 1, 0, s.yf);
        } else {
            fprintf(stderr, "make_data: unknown task '%s'\n", task);
            return 2;
        }
        sizes[part][0] = s.N;
        split_free(&s);
        if (rc)
            return 1;
    }
    printf("wrote %s: %d training and %d held-out sequences\n", dir, sizes[0][0], sizes[1][0]);
    return 0;
}
