/* bench.c — rnnc's side of the benchmark (bench/run.py runs it beside PyTorch): every
 * configuration of issue 6 through the generated code three ways — the emitted files built
 * with the system compiler (-O3 -march=native), the libtcc JIT and the system-compiler JIT —
 * printing one CSV line per measurement: contender,config,mode,median_us,flops.
 * Usage: rnnc-bench [CONFIG...]  (default: all) */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"
#include "host.h"
#include "rnnrt.h"

typedef struct Config {
    const char *id, *cell;
    int I, H, L, bi, B, T;
    int stream, train, packed; /* measure streaming steps; a training step; lengths 20..100 */
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

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of `reps` timings of fn(ctx) after `warm` untimed calls; stops early past 3 s. */
static double median(void (*fn)(void *), void *ctx, int warm, int reps)
{
    for (int i = 0; i < warm; i++)
        fn(ctx);
    double *t = malloc((size_t)reps * sizeof *t), start = now_us();
    int n = 0;
    for (; n < reps; n++) {
        double t0 = now_us();
        fn(ctx);
        t[n] = now_us() - t0;
        if (now_us() - start > 3e6 && n >= 4) {
            n++;
            break;
        }
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    double m = t[n / 2];
    free(t);
    return m;
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

/* A forward call through the run-time API: packed weights, x (B, T, I), scratch. */
typedef struct Fwd {
    int (*forward)(const float *, const float *, const int *, int, int, const float *,
                   const float *, float *, float *, float *, void *);
    const float *w, *x;
    float *y;
    void *scratch;
    int B, T;
} Fwd;

static void run_fwd(void *p)
{
    Fwd *f = p;
    f->forward(f->w, f->x, NULL, f->B, f->T, NULL, NULL, f->y, NULL, NULL, f->scratch);
}

static float *random_floats(long n, unsigned seed)
{
    float *v = malloc((size_t)n * sizeof *v);
    unsigned s = seed;
    for (long i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) * 0.4f;
    }
    return v;
}

/* The whole-sequence forward of one contender; fns from the JIT or from dlopen. */
static void bench_forward(const char *who, const Config *c, Rnnc *r, long (*scratch)(int, int),
                          void (*pack)(const float *, float *), void *forward)
{
    const Plan *p = r->plan;
    float *params = random_floats(p->nparams, 1), *packed = malloc((size_t)p->npacked * 4);
    pack(params, packed);
    Fwd f;
    memcpy(&f.forward, &forward, sizeof forward);
    f.w = packed;
    f.x = random_floats((long)c->B * c->T * c->I, 2);
    f.y = malloc((size_t)c->B * c->T * r->net->out_size * 4);
    f.scratch = malloc((size_t)scratch(c->B, c->T));
    f.B = c->B;
    f.T = c->T;
    double us = median(run_fwd, &f, 3, 200);
    printf("%s,%s,sequence,%.2f,%ld\n", who, c->id, us, p->flops_per_step * c->B * c->T);
    fflush(stdout);
    free(params);
    free(packed);
    free((void *)f.x);
    free(f.y);
    free(f.scratch);
}

/* The same forward on two threads through <name>_forward_par: half the batch each (every
 * other sequence), or a bidirectional layer's two directions, meeting in a barrier between
 * layers; each with its own scratch, the first one's shared. The second thread is started
 * once and kept, as a framework's thread pool is. */
typedef int (*ParFn)(const float *, const float *, const int *, int, int, const float *,
                     const float *, float *, float *, float *, void *, void *, int, int,
                     void (*)(void *), void *);
typedef struct Fwd2 {
    ParFn par;
    Fwd f;
    void *scratch2;
    pthread_barrier_t barrier, go;
    int quit;
} Fwd2;

static void meet(void *b)
{
    pthread_barrier_wait(b);
}

/* The second thread, started once: waits for each call, runs its half, until quit. */
static void *helper(void *p)
{
    Fwd2 *g = p;
    for (;;) {
        pthread_barrier_wait(&g->go);
        if (g->quit)
            return NULL;
        g->par(g->f.w, g->f.x, NULL, g->f.B, g->f.T, NULL, NULL, g->f.y, NULL, NULL, g->scratch2,
               g->f.scratch, 1, 2, meet, &g->barrier);
        pthread_barrier_wait(&g->go);
    }
}

static void run_fwd2(void *p)
{
    Fwd2 *g = p;
    pthread_barrier_wait(&g->go);
    g->par(g->f.w, g->f.x, NULL, g->f.B, g->f.T, NULL, NULL, g->f.y, NULL, NULL, g->f.scratch,
           g->f.scratch, 0, 2, meet, &g->barrier);
    pthread_barrier_wait(&g->go);
}

static void bench_forward2(const char *who, const Config *c, Rnnc *r, long (*scratch)(int, int),
                           void (*pack)(const float *, float *), void *par)
{
    const Plan *p = r->plan;
    float *params = random_floats(p->nparams, 1), *packed = malloc((size_t)p->npacked * 4);
    pack(params, packed);
    Fwd2 g;
    memcpy(&g.par, &par, sizeof par);
    pthread_barrier_init(&g.barrier, NULL, 2);
    pthread_barrier_init(&g.go, NULL, 2);
    g.quit = 0;
    g.f.w = packed;
    g.f.x = random_floats((long)c->B * c->T * c->I, 2);
    g.f.y = malloc((size_t)c->B * c->T * r->net->out_size * 4);
    g.f.scratch = malloc((size_t)scratch(c->B, c->T));
    g.scratch2 = malloc((size_t)scratch(c->B, c->T));
    g.f.B = c->B;
    g.f.T = c->T;
    pthread_t t;
    if (pthread_create(&t, NULL, helper, &g) != 0) {
        fprintf(stderr, "rnnc-bench: no second thread\n");
        exit(1);
    }
    double us = median(run_fwd2, &g, 3, 200);
    printf("%s,%s,sequence,%.2f,%ld\n", who, c->id, us, p->flops_per_step * c->B * c->T);
    fflush(stdout);
    g.quit = 1;
    pthread_barrier_wait(&g.go);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&g.go);
    pthread_barrier_destroy(&g.barrier);
    free(params);
    free(packed);
    free((void *)g.f.x);
    free(g.f.y);
    free(g.f.scratch);
    free(g.scratch2);
}

/* Streaming through the deployed code (weights baked in, one step a call). */
typedef struct Step {
    void (*step)(void *, const float *, float *);
    void *state;
    float *x, *y;
    int t, I, T;
} Step;

static void run_step(void *p)
{
    Step *s = p;
    s->step(s->state, s->x + (long)(s->t++ % s->T) * s->I, s->y);
}

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
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
    const Plan *p = r.plan;
    if (c->train) {
        /* a training step: rnnc train over 8 batches of B sequences, libtcc and cc */
        long N = 8L * c->B;
        char xp[512], yp[512], lp[512], sp[512];
        snprintf(xp, sizeof xp, "%s/tx.npy", dir);
        snprintf(yp, sizeof yp, "%s/ty.npy", dir);
        snprintf(lp, sizeof lp, "%s/tl.npy", dir);
        snprintf(sp, sizeof sp, "%s/tw.st", dir);
        float *x = random_floats(N * c->T * c->I, 3);
        long long *y = malloc((size_t)N * sizeof *y), *len = malloc((size_t)N * sizeof *len);
        for (long i = 0; i < N; i++) {
            y[i] = i % 5;
            len[i] = c->packed ? 20 + (i * 37) % 81 : c->T;
        }
        RnnrtError err;
        RnnrtArray ax = {RNNRT_F32, 3, {N, c->T, c->I}, x}, ay = {RNNRT_I64, 1, {N}, y};
        RnnrtArray al = {RNNRT_I64, 1, {N}, len};
        rnnrt_npy_write(xp, &ax, &err);
        rnnrt_npy_write(yp, &ay, &err);
        rnnrt_npy_write(lp, &al, &err);
        const char *names[2] = {"rnnc-tcc", "rnnc-cc"};
        for (int k = 0; k < 2; k++) {
            Rnnc t;
            rnnc_init(&t);
            rnnc_load_text(&t, "bench.yaml", text);
            t.jit = k ? JIT_CC : JIT_TCC;
            RnncTrainArgs a;
            memset(&a, 0, sizeof a);
            a.input = xp;
            a.target = yp;
            a.lengths = c->packed ? lp : NULL;
            a.save = sp;
            a.cfg = t.net->train;
            /* a first run warms the caches (and compiles for cc); the second is timed */
            int rc = rnnc_train(&t, &a);
            if (rc == 0) {
                double s0 = now_us();
                rc = rnnc_train(&t, &a);
                double per = (now_us() - s0) / 8.0;
                long steps = 0; /* sequence steps of the 8 batches: the lengths' sum */
                for (long i = 0; i < N; i++)
                    steps += len[i];
                printf("%s,%s,train_step,%.2f,%ld\n", names[k], c->id, per,
                       3 * p->flops_per_step * steps / 8);
            }
            if (rc < 0)
                diag_render(&t.diag, stderr);
            rnnc_fini(&t);
        }
        free(x);
        free(y);
        free(len);
        rnnc_fini(&r);
        return;
    }
    /* the JITs, each with the code shaped for it */
    const char *names[2] = {"rnnc-tcc", "rnnc-cc"};
    for (int k = 0; k < 2; k++) {
        ModelFns fns;
        r.jit = k ? JIT_CC : JIT_TCC;
        char *src = rnnc_source(&r);
        JitModule *m = src ? jit_compile(r.jit, src, "bench", 0, &fns, &r.diag) : NULL;
        free(src);
        if (!m) {
            diag_render(&r.diag, stderr);
            continue;
        }
        /* the typed entry points, as a C caller has them (float32 specs) */
        void *pk = jit_symbol(m, "bench_pack"), *fw = jit_symbol(m, "bench_forward");
        void (*pack)(const float *, float *);
        memcpy(&pack, &pk, sizeof pk);
        bench_forward(names[k], c, &r, fns.scratch_bytes, pack, fw);
        jit_free(m);
    }
    /* the emitted files, built with the system compiler */
    char cpath[512], so[600], cmd[2048];
    snprintf(cpath, sizeof cpath, "%s/%s.c", dir, c->id);
    snprintf(so, sizeof so, "%s/%s.so", dir, c->id);
    if (rnnc_write(&r, cpath) == 0) {
        snprintf(cmd, sizeof cmd, "cc -std=c11 -O3 -march=native -fPIC -shared '%s' -o '%s' -lm",
                 cpath, so);
        void *h = sh(cmd) == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
        if (h) {
            void *sb = dlsym(h, "bench_scratch_bytes"), *pk = dlsym(h, "bench_pack");
            void *fw = dlsym(h, "bench_forward");
            long (*sbf)(int, int);
            void (*pkf)(const float *, float *);
            memcpy(&sbf, &sb, sizeof sb);
            memcpy(&pkf, &pk, sizeof pk);
            bench_forward("rnnc-gcc", c, &r, sbf, pkf, fw);
            if (c->B >= 32 || c->bi)
                bench_forward2("rnnc-gcc-2t", c, &r, sbf, pkf, dlsym(h, "bench_forward_par"));
            dlclose(h);
        }
    }
    if (c->stream) {
        /* streaming: the deployed files (weights baked in) and their step function */
        char wpath[512];
        snprintf(wpath, sizeof wpath, "%s/%s.safetensors", dir, c->id);
        RnncModel *m = rnnc_model_new(&r, 1, NULL, NULL);
        snprintf(cpath, sizeof cpath, "%s/%s_dep.c", dir, c->id);
        snprintf(so, sizeof so, "%s/%s_dep.so", dir, c->id);
        if (m && rnnc_model_save(m, wpath) == 0 && rnnc_write_deployed(&r, cpath, wpath, 0) == 0) {
            snprintf(cmd, sizeof cmd,
                     "cc -std=c11 -O3 -march=native -fPIC -shared '%s' -o '%s' -lm", cpath, so);
            void *h = sh(cmd) == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
            void *st = h ? dlsym(h, "bench_step") : NULL;
            if (st) {
                Step s;
                memcpy(&s.step, &st, sizeof st);
                s.state = calloc(1, (size_t)p->state_bytes);
                s.x = random_floats(100L * c->I, 4);
                s.y = malloc((size_t)r.net->out_size * 4);
                s.t = 0;
                s.I = c->I;
                s.T = 100;
                double us = median(run_step, &s, 100, 20000);
                printf("rnnc-gcc,%s,step,%.3f,%ld\n", c->id, us, p->flops_per_step);
                free(s.state);
                free(s.x);
                free(s.y);
            }
            if (h)
                dlclose(h);
        } else {
            diag_render(&r.diag, stderr);
        }
        rnnc_model_free(m);
    }
    fflush(stdout);
    rnnc_fini(&r);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/rnnc-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char cache[64];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    setenv("RNNC_CACHE_DIR", cache, 1);
    printf("contender,config,mode,median_us,flops\n");
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        int want = argc < 2;
        for (int k = 1; k < argc; k++)
            want |= strcmp(argv[k], configs[i].id) == 0;
        if (want)
            bench_config(&configs[i], dir);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return sh(cmd) == 0 ? 0 : 1;
}
