/* bench.c — rnnc's side of the benchmark (bench/run.py runs it beside PyTorch and RTNeural):
 * every configuration through rnnc's generated code — the code `--jit auto` ends on (the
 * system compiler's build, libtcc's bits; also `--jit cc`'s), libtcc for the small ones —
 * and, in the same process and interleaved with them, oneDNN (when built
 * with it). Every buffer is 64-byte aligned. Prints CSV lines:
 *   contender,config,mode,median_us,flops     a measurement (median of round medians)
 *   check,contender,config,max_abs_diff,ok    a contender's numbers against rnnc's
 *   info,contender,text                       what ran (oneDNN's implementation)
 * Usage: rnnc-bench [--threads 2] [--rounds R] [CONFIG...]  (default: all, one thread) */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fma.h"
#include "host.h"
#include "jit.h"
#include "rnnrt.h"
#include "train.h"
#ifdef RNNC_HAVE_DNNL
#include "onednn.h"
#endif

typedef struct Config {
    const char *id, *cell;
    int I, H, L, bi, B, T;
    int stream, train, packed; /* streaming steps; a training step; lengths 20..100 */
} Config;

static const Config configs[] = {
    {"S1", "lstm", 10, 64, 2, 0, 1, 100, 1, 0, 0},
    {"S2", "gru", 10, 64, 1, 0, 1, 100, 1, 0, 0},
    {"S3", "rnn", 10, 64, 1, 0, 1, 100, 1, 0, 0},
    {"S4", "lstm", 10, 64, 1, 1, 1, 100, 0, 0, 0},
    {"M1", "lstm", 128, 256, 2, 0, 32, 100, 0, 0, 0},
    {"L1", "lstm", 512, 512, 1, 0, 64, 100, 0, 0, 0},
    {"T1", "lstm", 10, 64, 2, 0, 32, 100, 0, 1, 0},
    {"T1p", "lstm", 10, 64, 2, 0, 32, 100, 0, 1, 1},
};

static int g_rounds = 5, g_threads = 1;
static const char *g_only; /* --only NAME: that contender alone (profiling) */
static const char *g_dump; /* --dump DIR: the streaming configurations' files for RTNeural */

static int wanted(const char *who)
{
    return !g_only || strcmp(g_only, who) == 0;
}

static clockid_t g_clock = CLOCK_MONOTONIC; /* --clock cpu: this thread's CPU time */

static double now_us(void)
{
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static double median_of(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Zeroed, 64-byte aligned; exits when out of memory (a benchmark, not a library). */
static void *alloc64(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (!p) {
        fprintf(stderr, "rnnc-bench: out of memory\n");
        exit(1);
    }
    memset(p, 0, n ? n : 64);
    return p;
}

static float *random_floats(long n, unsigned seed)
{
    float *v = alloc64((size_t)n * sizeof *v);
    unsigned s = seed;
    for (long i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) * 0.4f;
    }
    return v;
}

/* One contender of a measurement: fn(ctx) is one call. */
typedef struct Run {
    const char *who;
    void (*fn)(void *);
    void *ctx;
    double per[32]; /* each round's median */
} Run;

/* Rounds of every contender in turn (interleaved, so that a slow spell of the machine falls
 * on all of them): each round, one untimed call, then timed calls for about `budget` us
 * (at least 3, at most `reps`); the result is the median of the rounds' medians. */
static void measure(Run *runs, int n, int reps, double budget)
{
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = 0; r < g_rounds; r++)
        for (int i = 0; i < n; i++) {
            runs[i].fn(runs[i].ctx);
            double start = now_us();
            int k = 0;
            while (k < reps && (k < 3 || now_us() - start < budget)) {
                double t0 = now_us();
                runs[i].fn(runs[i].ctx);
                t[k++] = now_us() - t0;
            }
            runs[i].per[r] = median_of(t, k);
        }
    free(t);
}

/* The FMA peak, timed beside every contender: rounds of the chains of fma.c, about 1 ms. */
typedef struct Peak {
    long n;
    double flops, sink;
} Peak;
static Peak g_peak = {30000, 0, 0};

static void run_peak(void *p)
{
    Peak *k = p;
    k->sink += fma_burst(k->n);
    k->flops = fma_flops(k->n);
}

static void report(const Run *runs, int n, const Config *c, const char *mode, long flops)
{
    for (int i = 0; i < n; i++) {
        double per[32];
        memcpy(per, runs[i].per, sizeof per);
        printf("%s,%s,%s,%.3f,%ld\n", runs[i].who, c->id, mode, median_of(per, g_rounds), flops);
    }
    fflush(stdout);
}

static void spec_text(const Config *c, char *buf, size_t n)
{
    int len = snprintf(buf, n,
                       "name: bench\ninput_size: %d\nbatch_first: true\nlayers:\n"
                       "  - name: rnn\n    cell: %s\n    hidden_size: %d\n    num_layers: %d\n"
                       "    bidirectional: %s\n",
                       c->I, c->cell, c->H, c->L, c->bi ? "true" : "false");
    if (c->train)
        snprintf(buf + len, n - (size_t)len,
                 "head:\n  out_features: 5\n  input: last\nloss: cross_entropy\n"
                 "train:\n  optimizer: sgd\n  lr: 0.01\n  batch_size: %d\n  epochs: 1\n"
                 "  shuffle: false\n",
                 c->B);
}

/* ---- whole-sequence forward ------------------------------------------------------------ */

/* A compiled rnnc unit and what one forward call needs. */
typedef struct Fwd {
    JitModule *m;
    ModelFns f;
    void *w, *y, *scratch, *scratch2;
    const void *x;
    int B, T;
    /* two threads: the second started once and kept, as a framework's pool is */
    pthread_barrier_t barrier, go;
    pthread_t helper;
    int quit;
} Fwd;

static void run_fwd(void *p)
{
    Fwd *f = p;
    f->f.forward(f->w, f->x, NULL, f->B, f->T, NULL, NULL, f->y, NULL, NULL, f->scratch);
}

static void meet(void *b)
{
    pthread_barrier_wait(b);
}

static void *helper(void *p)
{
    Fwd *g = p;
    for (;;) {
        pthread_barrier_wait(&g->go);
        if (g->quit)
            return NULL;
        g->f.forward_par(g->w, g->x, NULL, g->B, g->T, NULL, NULL, g->y, NULL, NULL, g->scratch2,
                         g->scratch, 1, 2, meet, &g->barrier);
        pthread_barrier_wait(&g->go);
    }
}

static void run_fwd2(void *p)
{
    Fwd *g = p;
    pthread_barrier_wait(&g->go);
    g->f.forward_par(g->w, g->x, NULL, g->B, g->T, NULL, NULL, g->y, NULL, NULL, g->scratch,
                     g->scratch, 0, 2, meet, &g->barrier);
    pthread_barrier_wait(&g->go);
}

/* Compiles r's inference unit with `kind` and readies a forward on x; NULL on failure. */
static Fwd *fwd_new(Rnnc *r, JitKind kind, const Config *c, const float *params, const float *x)
{
    Fwd *f = calloc(1, sizeof *f);
    f->m = host_compile(r, kind, 0, &f->f);
    if (!f->m) {
        diag_render(&r->diag, stderr);
        free(f);
        return NULL;
    }
    f->w = alloc64((size_t)r->plan->npacked * 4);
    f->f.pack(params, f->w);
    f->x = x;
    f->y = alloc64((size_t)c->B * c->T * r->net->out_size * 4);
    f->scratch = alloc64((size_t)f->f.scratch_bytes(c->B, c->T));
    f->B = c->B;
    f->T = c->T;
    if (g_threads == 2) {
        f->scratch2 = alloc64((size_t)f->f.scratch_bytes(c->B, c->T));
        pthread_barrier_init(&f->barrier, NULL, 2);
        pthread_barrier_init(&f->go, NULL, 2);
        if (pthread_create(&f->helper, NULL, helper, f) != 0) {
            fprintf(stderr, "rnnc-bench: no second thread\n");
            exit(1);
        }
    }
    return f;
}

static void fwd_free(Fwd *f)
{
    if (!f)
        return;
    if (g_threads == 2) {
        f->quit = 1;
        pthread_barrier_wait(&f->go);
        pthread_join(f->helper, NULL);
        pthread_barrier_destroy(&f->go);
        pthread_barrier_destroy(&f->barrier);
        free(f->scratch2);
    }
    jit_free(f->m);
    free(f->w);
    free(f->y);
    free(f->scratch);
    free(f);
}

#ifdef RNNC_HAVE_DNNL
typedef struct DnnRun {
    Dnn *d;
    const float *x; /* (T, B, I) */
    const long long *labels;
} DnnRun;

static void run_dnn(void *p)
{
    DnnRun *r = p;
    dnn_forward(r->d, r->x);
}

static void run_dnn_train(void *p)
{
    DnnRun *r = p;
    dnn_train_step(r->d, r->x, r->labels, 0.01f);
}

/* x (B, T, I) as oneDNN's time-major (T, B, I). */
static float *to_tnc(const float *x, int B, int T, int I)
{
    float *t = alloc64((size_t)B * T * I * 4);
    for (int b = 0; b < B; b++)
        for (int s = 0; s < T; s++)
            memcpy(t + ((long)s * B + b) * I, x + ((long)b * T + s) * I, (size_t)I * 4);
    return t;
}

static Dnn *dnn_for(const Config *c, const float *params)
{
    DnnCfg dc = {c->cell, c->I, c->H, c->L, c->bi ? 2 : 1, c->B, c->T, c->train, 5};
    char err[256];
    Dnn *d = dnn_new(&dc, params, err, sizeof err);
    if (!d)
        fprintf(stderr, "rnnc-bench: %s: %s\n", c->id, err);
    else
        printf("info,onednn,%s %s\n", c->id, dnn_impl(d));
    return d;
}

/* oneDNN's outputs (T, B, W) against rnnc's (B, T, W). */
static void check_forward(const Config *c, const float *y, const float *dy, int W)
{
    double worst = 0;
    for (int b = 0; b < c->B; b++)
        for (int s = 0; s < c->T; s++)
            for (int k = 0; k < W; k++) {
                double e = fabs((double)y[((long)b * c->T + s) * W + k] -
                                (double)dy[((long)s * c->B + b) * W + k]);
                worst = e > worst ? e : worst;
            }
    printf("check,onednn,%s,%.3g,%s\n", c->id, worst, worst < 1e-4 ? "ok" : "FAIL");
}
#endif

static void bench_forward(const Config *c, Rnnc *r, const float *params)
{
    const Plan *p = r->plan;
    float *x = random_floats((long)c->B * c->T * c->I, 2);
    Fwd *strict = wanted("rnnc") ? fwd_new(r, JIT_CC, c, params, x) : NULL;
    Run runs[4];
    int n = 0;
    void (*fn)(void *) = g_threads == 2 ? run_fwd2 : run_fwd;
    if (strict)
        runs[n++] = (Run){"rnnc", fn, strict, {0}};
#ifdef RNNC_HAVE_DNNL
    DnnRun dr = {wanted("onednn") ? dnn_for(c, params) : NULL, to_tnc(x, c->B, c->T, c->I), NULL};
    if (dr.d)
        runs[n++] = (Run){"onednn", run_dnn, &dr, {0}};
#endif
    Fwd *tcc = NULL;
    if (g_threads == 1 && c->B == 1 && wanted("rnnc-tcc") &&
        (tcc = fwd_new(r, JIT_TCC, c, params, x)))
        runs[n++] = (Run){"rnnc-tcc", run_fwd, tcc, {0}};
    runs[n] = (Run){"peak", run_peak, &g_peak, {0}};
    measure(runs, n + 1, 200, c->B == 1 ? 1e5 : 4e5);
    const char *mode = g_threads == 2 ? "sequence-2t" : "sequence";
    report(runs, n, c, mode, p->flops_per_step * c->B * c->T);
    report(runs + n, 1, c, mode, (long)g_peak.flops);
#ifdef RNNC_HAVE_DNNL
    if (dr.d && strict) {
        run_dnn(&dr);
        run_fwd(strict);
        check_forward(c, strict->y, dnn_output(dr.d), r->net->out_size);
    }
    dnn_free(dr.d);
    free((void *)dr.x);
#endif
    fwd_free(strict);
    fwd_free(tcc);
    free(x);
}

/* ---- streaming: the deployed code, one step a call -------------------------------------- */

typedef struct Step {
    void (*step)(void *, const float *, float *);
    void *state;
    float *x, *y;
    int I;
} Step;

/* A sequence of 100 streaming steps: a clock reading per step would weigh (the thread's CPU
 * clock is a system call), so the step's time is the batch's over 100. */
static void run_steps(void *p)
{
    Step *s = p;
    for (int t = 0; t < 100; t++)
        s->step(s->state, s->x + (long)t * s->I, s->y);
}

/* The step's bound: its weights (the deployed array, npacked_w reals) read once a step, 100
 * times as run_steps steps, from wherever they stay between reads (L2 for S1's 204 KB). */
typedef struct Bound {
    const float *w;
    long n;
    double sink;
} Bound;

static void run_bound(void *p)
{
    Bound *b = p;
    for (int t = 0; t < 100; t++)
        b->sink += stream_read(b->w, b->n);
}

static int sh(const char *cmd)
{
    return system(cmd) == 0 ? 0 : -1;
}

/* rtneural-bench's inputs: the weights (PyTorch's order), 100 inputs and rnnc's outputs of
 * 100 steps from a zero state, as raw float32 files <id>.params, <id>.x, <id>.y. */
static void dump_stream(const Config *c, Rnnc *r, Step *s, const char *wpath)
{
    char path[700];
    float *params = rnnc_load_weights(r, wpath), *ys = alloc64(100L * r->net->out_size * 4);
    memset(s->state, 0, (size_t)r->plan->state_bytes);
    for (int t = 0; t < 100; t++) {
        s->step(s->state, s->x + (long)t * s->I, s->y);
        memcpy(ys + (long)t * r->net->out_size, s->y, (size_t)r->net->out_size * 4);
    }
    const void *data[3] = {params, s->x, ys};
    long n[3] = {r->plan->nparams, 100L * c->I, 100L * r->net->out_size};
    const char *ext[3] = {"params", "x", "y"};
    for (int k = 0; k < 3 && params; k++) {
        snprintf(path, sizeof path, "%s/%s.%s", g_dump, c->id, ext[k]);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data[k], 4, (size_t)n[k], f) != (size_t)n[k])
            fprintf(stderr, "rnnc-bench: cannot write %s\n", path);
        if (f)
            fclose(f);
    }
    free(params);
    free(ys);
}

static void bench_step(const Config *c, Rnnc *r, const char *dir)
{
    char wpath[512], cpath[512], so[600], cmd[2048];
    snprintf(wpath, sizeof wpath, "%s/%s.safetensors", dir, c->id);
    snprintf(cpath, sizeof cpath, "%s/%s_dep.c", dir, c->id);
    snprintf(so, sizeof so, "%s/%s_dep.so", dir, c->id);
    RnncModel *m = rnnc_model_new(r, 1, NULL, NULL);
    if (!m || rnnc_model_save(m, wpath) != 0 || rnnc_write_deployed(r, cpath, wpath, 0) != 0) {
        diag_render(&r->diag, stderr);
        rnnc_model_free(m);
        return;
    }
    rnnc_model_free(m);
    snprintf(cmd, sizeof cmd, "cc -std=c11 -O3 -march=native -fPIC -shared '%s' -o '%s' -lm",
             cpath, so);
    void *h = sh(cmd) == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
    void *st = h ? dlsym(h, "bench_step") : NULL;
    if (st) {
        Step s;
        memcpy(&s.step, &st, sizeof st);
        s.state = alloc64((size_t)r->plan->state_bytes);
        s.x = random_floats(100L * c->I, 4);
        s.y = alloc64((size_t)r->net->out_size * 4);
        s.I = c->I;
        Bound bd = {random_floats(r->plan->npacked_w, 4), r->plan->npacked_w, 0};
        Run run[3] = {{"rnnc", run_steps, &s, {0}},
                      {"peak", run_peak, &g_peak, {0}},
                      {"bound", run_bound, &bd, {0}}};
        measure(run, 3, 2000, 1e5);
        for (int k = 0; k < g_rounds; k++)
            run[0].per[k] /= 100, run[2].per[k] /= 100;
        report(run, 1, c, "step", r->plan->flops_per_step);
        report(run + 1, 1, c, "step", g_peak.flops);
        report(run + 2, 1, c, "step", r->plan->npacked_w * 4); /* bytes read */
        free((void *)bd.w);
        if (g_dump)
            dump_stream(c, r, &s, wpath);
        free(s.state);
        free(s.x);
        free(s.y);
    }
    if (h)
        dlclose(h);
}

/* ---- a training step: forward, the loss, backward, SGD --------------------------------- */

typedef struct Train {
    JitModule *m;
    ModelFns f;
    Pair *pair; /* two threads: forward and backward in two parts, as rnnc train runs them */
    const Plan *p;
    float *params, *packed, *dw, *dp, *x, *y, *logits, *dout;
    void *cache;
    int *len, B, T;
    RnnrtArray target;
    double loss;
} Train;

static void run_train(void *p)
{
    Train *t = p;
    RnnrtLossArgs la = {.kind = RNNRT_LOSS_CROSS_ENTROPY, .B = t->B, .T = t->T, .O = 5,
                        .batch_first = 1, .len = t->len, .logits = t->logits, .y = t->y,
                        .act = RNNRT_ACT_NONE};
    RnnrtError err;
    pair_forward(t->pair, &t->f, t->packed, t->x, t->len, t->B, t->T, t->y, t->logits, NULL, NULL,
                 NULL, t->cache);
    rnnrt_loss(&la, &t->target, "target", &t->loss, t->dout, &err);
    memset(t->dw, 0, (size_t)t->p->npacked * 4);
    pair_backward(t->pair, &t->f, t->packed, t->x, t->B, t->T, t->dout, NULL, t->dw, t->cache);
    t->f.unpack_grads(t->dw, t->dp);
    for (long i = 0; i < t->p->nparams; i++)
        t->params[i] -= 0.01f * t->dp[i];
    t->f.pack(t->params, t->packed);
}

static Train *train_new(Rnnc *r, JitKind kind, const Config *c, const float *params,
                        const float *x, long long *labels)
{
    Train *t = calloc(1, sizeof *t);
    const Plan *p = r->plan;
    t->m = host_compile(r, kind, 1, &t->f);
    if (!t->m) {
        diag_render(&r->diag, stderr);
        free(t);
        return NULL;
    }
    t->p = p;
    t->B = c->B;
    t->T = c->T;
    t->params = alloc64((size_t)p->nparams * 4);
    memcpy(t->params, params, (size_t)p->nparams * 4);
    t->packed = alloc64((size_t)p->npacked * 4);
    t->dw = alloc64((size_t)p->npacked * 4);
    t->dp = alloc64((size_t)p->nparams * 4);
    t->x = (float *)x;
    t->y = alloc64((size_t)c->B * 5 * 4);
    t->logits = alloc64((size_t)c->B * 5 * 4);
    t->dout = alloc64((size_t)c->B * 5 * 4);
    t->cache = alloc64((size_t)t->f.train_bytes(c->B, c->T));
    t->len = alloc64((size_t)c->B * sizeof *t->len);
    for (int i = 0; i < c->B; i++)
        t->len[i] = c->packed ? 20 + (i * 37) % 81 : c->T;
    t->target = (RnnrtArray){RNNRT_I64, 1, {c->B}, labels};
    t->f.pack(t->params, t->packed);
    if (g_threads == 2)
        t->pair = pair_new(p, c->B, c->T);
    return t;
}

static void train_free(Train *t)
{
    if (!t)
        return;
    pair_free(t->pair);
    jit_free(t->m);
    void *v[] = {t->params, t->packed, t->dw, t->dp, t->y, t->logits, t->dout, t->cache, t->len};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        free(v[i]);
    free(t);
}

static void bench_train(const Config *c, Rnnc *r, const float *params)
{
    const Plan *p = r->plan;
    float *x = random_floats((long)c->B * c->T * c->I, 3);
    long long *labels = alloc64((size_t)c->B * sizeof *labels);
    for (int i = 0; i < c->B; i++)
        labels[i] = i % 5;
    Train *strict = wanted("rnnc") ? train_new(r, JIT_CC, c, params, x, labels) : NULL;
    Run runs[3];
    int n = 0;
    if (strict)
        runs[n++] = (Run){"rnnc", run_train, strict, {0}};
#ifdef RNNC_HAVE_DNNL
    DnnRun dr = {wanted("onednn") ? dnn_for(c, params) : NULL, to_tnc(x, c->B, c->T, c->I),
                 labels};
    if (dr.d && strict && !c->packed) { /* one step from the same weights: the same gradients */
        float *dp = alloc64((size_t)p->nparams * 4);
        dnn_train_step(dr.d, dr.x, labels, 0.0f);
        dnn_grads(dr.d, dp);
        Train *t = train_new(r, JIT_CC, c, params, x, labels);
        run_train(t);
        double worst = 0, big = 0;
        for (long i = 0; i < p->nparams; i++) {
            double e = fabs((double)dp[i] - (double)t->dp[i]);
            worst = e > worst ? e : worst;
            big = fabs((double)t->dp[i]) > big ? fabs((double)t->dp[i]) : big;
        }
        printf("check,onednn,%s,%.3g,%s\n", c->id, worst / big,
               worst < 1e-3 * big ? "ok" : "FAIL");
        train_free(t);
        free(dp);
    }
    if (dr.d)
        runs[n++] = (Run){"onednn", run_dnn_train, &dr, {0}};
#endif
    runs[n] = (Run){"peak", run_peak, &g_peak, {0}};
    measure(runs, n + 1, 100, 1e6);
    long steps = 0; /* sequence steps actually run: the lengths' sum */
    for (int i = 0; i < c->B; i++)
        steps += c->packed ? 20 + (i * 37) % 81 : c->T;
    report(runs, n, c, "train_step", 3 * p->flops_per_step * steps);
    report(runs + n, 1, c, "train_step", (long)g_peak.flops);
#ifdef RNNC_HAVE_DNNL
    dnn_free(dr.d);
    free((void *)dr.x);
#endif
    train_free(strict);
    free(x);
    free(labels);
}

/* ---- spec to first result on the default path (--jit auto) ------------------------------ */

/* Whether the directory holds a shared object yet (auto's background build). */
static int cache_has_so(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s'/????????????????.so >/dev/null 2>&1",
             dir); /* not build.* */
    return sh(cmd) == 0;
}

/* From the spec's text to the first output of a sequence (B = 1, T = 100) through JIT_AUTO,
 * wall clock: with an empty cache (libtcc; the system compiler's build left to finish in
 * the background before the next measurement) and with the build cached. */
static void bench_first(const Config *c, const char *dir)
{
    char text[1024], cache[600], was[600];
    snprintf(was, sizeof was, "%s", getenv("RNNC_CACHE_DIR") ? getenv("RNNC_CACHE_DIR") : "");
    spec_text(c, text, sizeof text);
    double t[2][16];
    int n = g_rounds < 16 ? g_rounds : 16;
    for (int k = 0; k < n; k++)
        for (int warm = 0; warm < 2; warm++) {
            snprintf(cache, sizeof cache, "%s/first%d", dir, k);
            setenv("RNNC_CACHE_DIR", cache, 1);
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            Rnnc r;
            rnnc_init(&r);
            ModelFns f;
            JitModule *m = rnnc_load_text(&r, "first.yaml", text) == 0
                               ? host_compile(&r, JIT_AUTO, 0, &f)
                               : NULL;
            if (!m) {
                diag_render(&r.diag, stderr);
                rnnc_fini(&r);
                return;
            }
            float *params = random_floats(r.plan->nparams, 1), *x = random_floats(100L * c->I, 2);
            float *w = alloc64((size_t)r.plan->npacked * 4), *y = alloc64(100L * c->H * 4);
            void *scratch = alloc64((size_t)f.scratch_bytes(1, 100));
            f.pack(params, w);
            f.forward(w, x, NULL, 1, 100, NULL, NULL, y, NULL, NULL, scratch);
            clock_gettime(CLOCK_MONOTONIC, &b);
            t[warm][k] =
                (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) * 1e-3;
            jit_free(m);
            rnnc_fini(&r);
            free(params), free(x), free(w), free(y), free(scratch);
            const struct timespec nap = {0, 100 * 1000 * 1000};
            for (int i = 0; !warm && i < 3000 && !cache_has_so(cache); i++)
                nanosleep(&nap, NULL); /* the background build, before anything is timed */
        }
    printf("rnnc,%s,first-cold,%.1f,\nrnnc,%s,first-warm,%.1f,\n", c->id, median_of(t[0], n),
           c->id, median_of(t[1], n));
    fflush(stdout);
    if (*was)
        setenv("RNNC_CACHE_DIR", was, 1);
    else
        unsetenv("RNNC_CACHE_DIR");
}

static void bench_config(const Config *c, const char *dir)
{
    char text[1024];
    spec_text(c, text, sizeof text);
    Rnnc r;
    rnnc_init(&r);
    if (rnnc_load_text(&r, "bench.yaml", text) < 0) {
        diag_render(&r.diag, stderr);
        return;
    }
    float *params = random_floats(r.plan->nparams, 1);
    if (c->train)
        bench_train(c, &r, params);
    else if (g_threads == 1 || c->B > 1 || c->bi)
        bench_forward(c, &r, params);
    if (c->stream && g_threads == 1 && wanted("rnnc"))
        bench_step(c, &r, dir);
    if (c->stream && g_threads == 1 && wanted("first") && strcmp(c->id, "S1") == 0)
        bench_first(c, dir);
    free(params);
    rnnc_fini(&r);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/rnnc-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    if (!getenv("RNNC_CACHE_DIR")) {
        char cache[64];
        snprintf(cache, sizeof cache, "%s/cache", dir);
        setenv("RNNC_CACHE_DIR", cache, 1);
    }
    int k = 1;
    for (; k + 1 < argc && argv[k][0] == '-'; k += 2) {
        if (strcmp(argv[k], "--threads") == 0)
            g_threads = atoi(argv[k + 1]) == 2 ? 2 : 1;
        else if (strcmp(argv[k], "--clock") == 0)
            g_clock = strcmp(argv[k + 1], "cpu") == 0 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
        else if (strcmp(argv[k], "--only") == 0)
            g_only = argv[k + 1];
        else if (strcmp(argv[k], "--dump") == 0)
            g_dump = argv[k + 1];
        else if (strcmp(argv[k], "--rounds") == 0)
            g_rounds = atoi(argv[k + 1]) < 1 ? 1 : atoi(argv[k + 1]) > 32 ? 32 : atoi(argv[k + 1]);
    }
    printf("contender,config,mode,median_us,flops\n");
#ifndef RNNC_HAVE_DNNL
    if (wanted("onednn")) /* said, not silently an empty column */
        printf("skip,onednn,rnnc-bench was built without oneDNN (bench/setup.sh installs "
               "libdnnl-dev and configures the build again)\n");
#endif
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        int want = k >= argc;
        for (int j = k; j < argc; j++)
            want |= strcmp(argv[j], configs[i].id) == 0;
        if (want && (g_threads == 1 || configs[i].B > 1 || configs[i].bi))
            bench_config(&configs[i], dir);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return sh(cmd) == 0 ? 0 : 1;
}
