/* train_main.c — bench/parts.sh's driver: times a generated training unit's forward
 * (forward_train) and backward apart, one thread, spec name "bench" with a Linear(.., 5)
 * head on the last step (T1's recipe: bench/parts.sh writes the spec), on B = 32 sequences of
 * T = 100 steps, random weights and inputs, by the thread's CPU clock. Prints the medians of
 * 15 rounds in microseconds, step then forward, and a checksum of the gradients (the same
 * for two builds of the same arithmetic). NUMP and NUMK: the unit's BENCH_NUM_PARAMS and
 * BENCH_NUM_PACKED, INPUTS its input size.
 *
 *   train-driver [PACKED [PARTS]]   PACKED 1: lengths 20 + 37 i mod 81 (T1p), else all T;
 *                                   PARTS 2: as rnnc train on two cores (host/pair.c), the
 *                                   forward in two halves of the batch, the backward in two
 *                                   parts of the layers, on a second thread; wall clock
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"

void bench_pack(const float *params, float *packed);
long bench_train_bytes(int B, int T);
int bench_forward_train(const float *w, const float *x, const int *lengths, int B, int T, float *y,
                        float *logits, const float *drop, const float *state0, float *state1,
                        void *cache, int part, int nparts, int *sched);
int bench_backward(const float *w, const float *x, int B, int T, const float *dout,
                   const float *drop, float *dw, float *dstate0, void *cache, int part, int nparts,
                   void (*sync)(void *, int, int, int), void *ctx);

enum { B = 32, T = 100, ROUNDS = 15 };

/* Two parts: the call's arguments, the layers' steps done, the jobs posted and finished. */
static struct {
    const float *pk, *x, *dout;
    const int *len;
    float *y, *lg, *dw;
    void *cache;
    int *sched[2];
    atomic_int steps[16], go, done;
} two;

static double wall_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* host/pair.c's pair_sync: a pausing spin, a yield after 500 us */
static void sync2(void *ctx, int g, int done, int need)
{
    (void)ctx;
    atomic_store(&two.steps[g], done);
    const int of = need < 0 ? g - 1 : g + 1, at = need < 0 ? -need : need;
    double t0 = 0;
    for (int k = 1; at > 0 && atomic_load(&two.steps[of]) < at; k++) {
        if (k % 256) {
            __builtin_ia32_pause();
            continue;
        }
        double t = wall_us();
        if (t0 == 0)
            t0 = t;
        else if (t - t0 > 500)
            sched_yield();
    }
}

/* job 1: part `part` of the forward; job 2: of the backward */
static int run_job(int job, int part)
{
    if (job == 1)
        return bench_forward_train(two.pk, two.x, two.len, B, T, two.y, two.lg, NULL, NULL, NULL,
                                   two.cache, part, 2, two.sched[part]);
    return bench_backward(two.pk, two.x, B, T, two.dout, NULL, two.dw, NULL, two.cache, part, 2,
                          sync2, NULL);
}

static void *helper(void *arg)
{
    (void)arg;
    for (int n = 1;; n++) {
        int job;
        while ((job = atomic_load(&two.go)) == 0 || (job > 0 && atomic_load(&two.done) >= n))
            __builtin_ia32_pause();
        if (job < 0)
            return NULL;
        run_job(job, 1);
        atomic_store(&two.go, 0);
        atomic_store(&two.done, n);
    }
}

/* both parts of `job`: part 1 on the helper, part 0 here */
static int run_two(int job, int n)
{
    if (job == 2)
        for (int g = 0; g < 16; g++)
            atomic_store(&two.steps[g], 0);
    atomic_store(&two.go, job);
    int rc = run_job(job, 0);
    while (atomic_load(&two.done) < n)
        __builtin_ia32_pause();
    return rc;
}

int main(int argc, char **argv)
{
    const int packed = argc > 1 && atoi(argv[1]) == 1, parts = argc > 2 ? atoi(argv[2]) : 1;
    if (parts != 1 && parts != 2) {
        fprintf(stderr, "train-driver: PARTS is 1 or 2\n");
        return 2;
    }
    float *p = alloc64(sizeof(float) * NUMP), *pk = alloc64(sizeof(float) * NUMK),
          *dw = alloc64(sizeof(float) * NUMK), *x = alloc64(sizeof(float) * B * T * INPUTS),
          *y = alloc64(sizeof(float) * B * 5), *lg = alloc64(sizeof(float) * B * 5),
          *dout = alloc64(sizeof(float) * B * 5);
    void *cache = alloc64((size_t)bench_train_bytes(B, T));
    if (!p || !pk || !dw || !x || !y || !lg || !dout || !cache) {
        fprintf(stderr, "train-driver: out of memory\n");
        return 1;
    }
    int len[B];
    for (int i = 0; i < B; i++)
        len[i] = packed ? 20 + (i * 37) % 81 : T;
    unsigned s = 1;
    for (long i = 0; i < NUMP; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) / 8;
    }
    for (long i = 0; i < (long)B * T * INPUTS; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    for (int i = 0; i < B * 5; i++)
        dout[i] = 0.01f * (float)(i % 7 - 3);
    bench_pack(p, pk);
    double t[ROUNDS], tf[ROUNDS];
    if (parts == 2) {
        two.pk = pk, two.x = x, two.dout = dout, two.len = len, two.y = y, two.lg = lg;
        two.dw = dw, two.cache = cache;
        two.sched[0] = malloc(sizeof(int) * (2 * B + T));
        two.sched[1] = malloc(sizeof(int) * (2 * B + T));
        pthread_t th;
        if (!two.sched[0] || !two.sched[1] || pthread_create(&th, NULL, helper, NULL) != 0) {
            fprintf(stderr, "train-driver: cannot start the second part\n");
            return 1;
        }
        for (int r = 0, n = 0; r < ROUNDS; r++) {
            double t0 = wall_us();
            if (run_two(1, ++n))
                return 1;
            tf[r] = wall_us() - t0;
            memset(dw, 0, sizeof(float) * NUMK);
            if (run_two(2, ++n))
                return 1;
            t[r] = wall_us() - t0;
        }
        atomic_store(&two.go, -1);
        pthread_join(th, NULL);
    }
    for (int r = 0; r < ROUNDS && parts == 1; r++) {
        double t0 = now_us();
        if (bench_forward_train(pk, x, len, B, T, y, lg, NULL, NULL, NULL, cache, 0, 1, NULL))
            return 1;
        tf[r] = now_us() - t0;
        memset(dw, 0, sizeof(float) * NUMK);
        if (bench_backward(pk, x, B, T, dout, NULL, dw, NULL, cache, 0, 1, NULL, NULL))
            return 1;
        t[r] = now_us() - t0;
    }
    qsort(t, ROUNDS, sizeof t[0], cmp);
    qsort(tf, ROUNDS, sizeof tf[0], cmp);
    double sum = 0;
    for (long i = 0; i < NUMK; i++)
        sum += dw[i] * (double)(i % 7 + 1);
    printf("%.1f %.1f %.9g\n", t[ROUNDS / 2], tf[ROUNDS / 2], sum);
    return 0;
}
