/* test_jit.c — `--jit auto`, the command line's default: the same bits whatever the cache
 * holds (a cold run that starts on libtcc and hands over to the system compiler's build, a
 * warm run that starts on that build, and libtcc alone give byte-identical weights after
 * training and identical outputs); the two builds mixed call by call (forward on one,
 * backward on the other) equal either alone; without a system compiler, a one-line note
 * and libtcc.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emit.h"
#include "host.h"
#include "rnnrt.h"

/* Loop (batched, tiled) layers of every tiled cell kind, a packed batch, a head; tiles of
 * 16 units, whose gates go by vectors, and of 8 and 36, whose gates do not. */
static const char spec_text[] =
    "name: mix\ninput_size: 6\nbatch_first: true\nlayers:\n"
    "  - name: a\n    cell: lstm\n    hidden_size: 40\n"
    "  - name: b\n    cell: gru\n    hidden_size: 24\n"
    "  - name: c\n    cell: rnn\n    hidden_size: 36\n"
    "  - name: d\n    cell: rnn\n    hidden_size: 32\n"
    "head:\n  out_features: 3\n  input: last\nloss: cross_entropy\n"
    "train:\n  optimizer: adam\n  lr: 0.01\n  batch_size: 7\n  epochs: 3\n  seed: 4\n";

/* The other variants the batched kernels write apart (libtcc's vector gates among them):
 * a GRU resetting before, an LSTM with projection, both directions, a relu RNN. */
static const char spec_var[] =
    "name: mix\ninput_size: 6\nbatch_first: true\nlayers:\n"
    "  - name: a\n    cell: gru\n    hidden_size: 32\n    reset: before\n"
    "  - name: b\n    cell: lstm\n    hidden_size: 40\n    proj_size: 12\n"
    "    bidirectional: true\n"
    "  - name: c\n    cell: rnn\n    hidden_size: 36\n    nonlinearity: relu\n"
    "head:\n  out_features: 3\n  input: last\nloss: cross_entropy\n";

/* Tiles that take the input too (a first layer of at most 16 inputs, not a GRU): a tanh
 * RNN both ways over 6 inputs, whose tiles of 32 units go by vectors, under an LSTM. */
static const char spec_fused[] =
    "name: mix\ninput_size: 6\nbatch_first: true\nlayers:\n"
    "  - name: a\n    cell: rnn\n    hidden_size: 32\n    bidirectional: true\n"
    "  - name: b\n    cell: lstm\n    hidden_size: 16\n"
    "head:\n  out_features: 3\n  input: last\nloss: cross_entropy\n";

/* The same network in float64 (jit_kern.c's double products). */
static const char spec_f64[] =
    "name: mix\ninput_size: 6\nbatch_first: true\nprecision: float64\nlayers:\n"
    "  - name: a\n    cell: lstm\n    hidden_size: 40\n"
    "  - name: b\n    cell: gru\n    hidden_size: 24\n"
    "  - name: c\n    cell: rnn\n    hidden_size: 36\n"
    "head:\n  out_features: 3\n  input: last\nloss: cross_entropy\n"
    "train:\n  optimizer: adam\n  lr: 0.01\n  batch_size: 7\n  epochs: 3\n  seed: 4\n";

enum { N = 40, T = 23, I = 6 };

/* The spec `text`, inputs (N, T, I), lengths in 5..T and class targets, in dir. */
static void write_data(const char *dir, const char *text)
{
    char *spec = tu_strf("%s/mix.yaml", dir);
    assert_int_equal(tu_write_file(spec, text), 0);
    float *x = malloc(sizeof(float) * N * T * I);
    long long *y = malloc(sizeof *y * N), *len = malloc(sizeof *len * N);
    unsigned s = 7;
    for (long i = 0; i < (long)N * T * I; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    for (int i = 0; i < N; i++) {
        y[i] = i % 3;
        len[i] = 5 + (i * 7) % (T - 4);
    }
    RnnrtError err;
    RnnrtArray ax = {RNNRT_F32, 3, {N, T, I}, x}, ay = {RNNRT_I64, 1, {N}, y};
    RnnrtArray al = {RNNRT_I64, 1, {N}, len};
    char *px = tu_strf("%s/x.npy", dir), *py = tu_strf("%s/y.npy", dir);
    char *pl = tu_strf("%s/len.npy", dir);
    assert_int_equal(rnnrt_npy_write(px, &ax, &err), 0);
    assert_int_equal(rnnrt_npy_write(py, &ay, &err), 0);
    assert_int_equal(rnnrt_npy_write(pl, &al, &err), 0);
    free(spec), free(x), free(y), free(len), free(px), free(py), free(pl);
}

/* `rnnc train` then `rnnc run` in dir with the cache `cache`, --jit `jit` (NULL: the
 * default), into w_<tag>.safetensors and y_<tag>.npy; extra: an environment prefix. */
static void train_run(const char *dir, const char *cache, const char *jit, const char *tag,
                      const char *extra, char **err)
{
    char *j = jit ? tu_strf(" --jit %s", jit) : tu_strf("%s", "");
    char *cmd = tu_strf("cd '%s' && %s RNNC_CACHE_DIR='%s' '%s' train mix.yaml --input x.npy "
                        "--target y.npy --lengths len.npy --save w_%s.safetensors%s && "
                        "%s RNNC_CACHE_DIR='%s' '%s' run mix.yaml --weights w_%s.safetensors "
                        "--input x.npy --lengths len.npy --output y_%s.npy%s",
                        dir, extra, cache, tu_rnnc_bin(), tag, j, extra, cache, tu_rnnc_bin(), tag,
                        tag, j);
    int st = tu_run(cmd, NULL, err);
    if (st != 0)
        fail_msg("%s failed:\n%s", cmd, *err ? *err : "");
    free(cmd);
    free(j);
}

static void assert_same_file(const char *dir, const char *a, const char *b)
{
    char *cmd = tu_strf("cmp '%s/%s' '%s/%s'", dir, a, dir, b);
    if (tu_run(cmd, NULL, NULL) != 0)
        fail_msg("%s and %s differ", a, b);
    free(cmd);
}

/* Waits (up to two minutes) until the cache holds a shared object: the background build. */
static int wait_for_build(const char *cache)
{
    const struct timespec nap = {0, 100 * 1000 * 1000};
    for (int i = 0; i < 1200; i++) {
        int n = 0, built = 0;
        char **so = tu_list_dir(cache, ".so", &n);
        for (int k = 0; k < n; k++) /* not a build's own file (build.*.c.so) */
            built |= strncmp(so[k], "build.", 6) != 0;
        tu_free_list(so, n);
        if (built)
            return 1;
        nanosleep(&nap, NULL);
    }
    return 0;
}

/* Cold cache (libtcc, then the build), warm cache (the build from the start), libtcc only:
 * the same trained weights and outputs, byte for byte. The cold run ends within the second
 * before its build would start: the build it leaves running as it ends is the one that
 * lands (checked to time out when it does not start one). */
static void auto_same_bits(const char *text)
{
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir), *err = NULL;
    write_data(dir, text);
    train_run(dir, cache, NULL, "cold", "", &err);
    free(err);
    assert_true(wait_for_build(cache));
    train_run(dir, cache, "auto", "warm", "", &err);
    free(err);
    train_run(dir, cache, "tcc", "tcc", "", &err);
    free(err);
    assert_same_file(dir, "w_cold.safetensors", "w_warm.safetensors");
    assert_same_file(dir, "w_cold.safetensors", "w_tcc.safetensors");
    assert_same_file(dir, "y_cold.npy", "y_warm.npy");
    assert_same_file(dir, "y_cold.npy", "y_tcc.npy");
    free(cache);
    tu_rmdir(dir);
}

/* The networks the parts tests run, each in both builds: spec_text, spec_var, and a stack
 * with dropout between its layers under a per-step head; B sequences of up to PT steps. */
enum { PB = 9, PT = 11 };
static const int parts_len[PB] = {11, 3, 7, 1, 11, 5, 9, 2, 6};
static const char spec_drop[] = "name: mix\ninput_size: 6\nlayers:\n"
                                "  - name: a\n    cell: lstm\n    hidden_size: 24\n"
                                "    num_layers: 3\n    dropout: 0.5\n"
                                "  - name: b\n    cell: gru\n    hidden_size: 20\n"
                                "head:\n  out_features: 3\n  input: sequence\nloss: mse\n";

/* One network of those, its weights, inputs, dropout masks, initial state and dL/dout. */
typedef struct PartsIn {
    Rnnc r;
    const Plan *p;
    long ny, ns;
    float *params, *x, *drop, *s0, *dout, *packed;
} PartsIn;

static void parts_in(PartsIn *in, const char *text)
{
    rnnc_init(&in->r);
    assert_int_equal(rnnc_load_text(&in->r, "mix.yaml", text), 0);
    const Plan *p = in->p = in->r.plan;
    in->ny = (long)PB * PT * in->r.net->out_size, in->ns = (long)PB * p->state_reals;
    const long nd = (long)PB * PT * (p->dropout_reals ? p->dropout_reals : 1);
    in->params = malloc(sizeof(float) * (size_t)p->nparams);
    in->x = malloc(sizeof(float) * PB * PT * I);
    in->drop = malloc(sizeof(float) * nd);
    in->s0 = malloc(sizeof(float) * in->ns);
    in->dout = malloc(sizeof(float) * in->ny);
    in->packed = malloc(sizeof(float) * ((size_t)p->npacked + 1));
    for (long i = 0; i < p->nparams; i++)
        in->params[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (long i = 0; i < (long)PB * PT * I; i++)
        in->x[i] = (float)((i * 13) % 17) / 17.0f - 0.5f;
    for (long i = 0; i < nd; i++)
        in->drop[i] = i % 3 ? 2.0f : 0.0f;
    for (long i = 0; i < in->ns; i++)
        in->s0[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (long i = 0; i < in->ny; i++)
        in->dout[i] = (float)((i * 11) % 19) / 19.0f - 0.5f;
}

/* Its training unit on libtcc (kind 0) or the system compiler's (1), the weights packed in. */
static JitModule *parts_build(PartsIn *in, int kind, ModelFns *f)
{
    JitModule *m = host_compile(&in->r, kind ? JIT_CC : JIT_TCC, 1, f);
    if (!m)
        diag_render(&in->r.diag, stderr);
    assert_non_null(m);
    f->pack(in->params, in->packed);
    return m;
}

static void parts_free(PartsIn *in)
{
    free(in->params), free(in->x), free(in->drop), free(in->s0), free(in->dout);
    free(in->packed);
    rnnc_fini(&in->r);
}

/* forward_train in two parts (run in turn here; threads run them at once) writes the bytes
 * of one part: the cache everything backward reads, y, the logits and the final states,
 * for both builds: cells of every kind, dropout between layers, a time-major per-step head,
 * carried state. */
static void test_forward_parts(void **state)
{
    (void)state;
    const char *texts[] = {spec_text, spec_var, spec_drop};
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir);
    setenv("RNNC_CACHE_DIR", cache, 1);
    for (int k = 0; k < 3; k++) {
        PartsIn in;
        parts_in(&in, texts[k]);
        const long ny = in.ny, ns = in.ns;
        for (int kind = 0; kind < 2; kind++) {
            ModelFns f;
            JitModule *m = parts_build(&in, kind, &f);
            size_t nc = (size_t)f.train_bytes(PB, PT);
            char *c[2];
            float *y[2], *lg[2], *s1[2];
            int *sched[2];
            for (int v = 0; v < 2; v++) {
                c[v] = calloc(nc, 1);
                y[v] = calloc((size_t)ny, 4), lg[v] = calloc((size_t)ny, 4);
                s1[v] = calloc((size_t)ns, 4);
                sched[v] = malloc(sizeof(int) * (2 * PB + PT));
            }
            const float *dr = in.p->dropout_reals ? in.drop : NULL;
            assert_int_equal(f.forward_train(in.packed, in.x, parts_len, PB, PT, y[0], lg[0], dr,
                                             in.s0, s1[0], c[0], 0, 1, NULL),
                             0);
            for (int part = 1; part >= 0; part--) /* part 0 last: no part's order matters */
                assert_int_equal(f.forward_train(in.packed, in.x, parts_len, PB, PT, y[1], lg[1],
                                                 dr, in.s0, s1[1], c[1], part, 2, sched[part]),
                                 0);
            if (memcmp(c[0], c[1], nc) != 0 || memcmp(y[0], y[1], sizeof(float) * ny) != 0 ||
                memcmp(lg[0], lg[1], sizeof(float) * ny) != 0 ||
                memcmp(s1[0], s1[1], sizeof(float) * ns) != 0)
                fail_msg("spec %d, build %d: two parts differ from one", k, kind);
            for (int v = 0; v < 2; v++)
                free(c[v]), free(y[v]), free(lg[v]), free(s1[v]), free(sched[v]);
            jit_free(m);
        }
        parts_free(&in);
    }
    unsetenv("RNNC_CACHE_DIR");
    free(cache);
    tu_rmdir(dir);
}

/* backward's parts, as host/pair.c runs them: one thread per part, meeting in bw_sync. */
typedef struct BwRun {
    const ModelFns *f;
    const PartsIn *in;
    const float *drop;
    float *dw, *ds0;
    void *cache;
    int part, nparts, rc;
    atomic_int *steps;
} BwRun;

static void bw_sync(void *ctx, int g, int done, int need)
{
    atomic_int *steps = ctx;
    atomic_store_explicit(&steps[g], done, memory_order_release);
    const int of = need < 0 ? g - 1 : g + 1, at = need < 0 ? -need : need;
    while (at > 0 && atomic_load_explicit(&steps[of], memory_order_acquire) < at)
        sched_yield();
}

static void *bw_part(void *arg)
{
    BwRun *r = arg;
    r->rc = r->f->backward(r->in->packed, r->in->x, PB, PT, r->in->dout, r->drop, r->dw, r->ds0,
                           r->cache, r->part, r->nparts, r->nparts > 1 ? bw_sync : NULL, r->steps);
    return NULL;
}

/* Zeroes the batched backward's scratch (the bz regions) in a training cache of B x T: what
 * it holds at the end depends on how the steps were split into calls, not the results. */
static void clear_bz(const Plan *p, char *cache, long B, long T)
{
    const PlanLayout *l = &p->cache;
    long rs = p->real_size;
    for (int k = 0; k < l->n; k++)
        if (strncmp(l->r[k].name, "bz[", 3) == 0)
            memset(cache + plan_region_at(l, k, B, T, (int)rs) * rs, 0,
                   (size_t)(l->r[k].width * B * rs));
}

/* backward in two and in three parts at once (threads, each running whole layers, a layer
 * waiting step by step for the one above) gives one part's parameter gradients, dL/dstate0
 * and cache byte for byte (but the backward's scratch), for both builds: cells of every kind, a
 * bidirectional layer between unidirectional ones, dropout between layers, heads on the last state
 * and on every step. */
static void test_backward_parts(void **state)
{
    (void)state;
    const char *texts[] = {spec_text, spec_var, spec_drop};
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir);
    setenv("RNNC_CACHE_DIR", cache, 1);
    for (int k = 0; k < 3; k++) {
        PartsIn in;
        parts_in(&in, texts[k]);
        const Plan *p = in.p;
        for (int kind = 0; kind < 2; kind++) {
            ModelFns f;
            JitModule *m = parts_build(&in, kind, &f);
            size_t nc = (size_t)f.train_bytes(PB, PT);
            const float *dr = p->dropout_reals ? in.drop : NULL;
            float *y = malloc(sizeof(float) * in.ny), *lg = malloc(sizeof(float) * in.ny);
            char *c0 = calloc(nc, 1), *c[3];
            assert_int_equal(f.forward_train(in.packed, in.x, parts_len, PB, PT, y, lg, dr, NULL,
                                             NULL, c0, 0, 1, NULL),
                             0);
            float *dw[3], *ds[3];
            for (int v = 0; v < 3; v++) { /* v + 1 parts */
                c[v] = malloc(nc);
                memcpy(c[v], c0, nc);
                dw[v] = calloc((size_t)p->npacked + 1, 4);
                ds[v] = calloc((size_t)in.ns + 1, 4);
                atomic_int steps[16];
                for (int g = 0; g < 16; g++)
                    atomic_init(&steps[g], 0);
                BwRun run[3];
                pthread_t tid[3];
                for (int part = 0; part <= v; part++) {
                    run[part] = (BwRun){&f, &in, dr, dw[v], ds[v], c[v], part, v + 1, -1, steps};
                    assert_int_equal(pthread_create(&tid[part], NULL, bw_part, &run[part]), 0);
                }
                for (int part = 0; part <= v; part++) {
                    pthread_join(tid[part], NULL);
                    assert_int_equal(run[part].rc, 0);
                }
            }
            for (int v = 0; v < 3; v++)
                clear_bz(p, c[v], PB, PT);
            for (int v = 1; v < 3; v++)
                if (memcmp(c[0], c[v], nc) != 0 ||
                    memcmp(dw[0], dw[v], sizeof(float) * (size_t)p->npacked) != 0 ||
                    memcmp(ds[0], ds[v], sizeof(float) * (size_t)in.ns) != 0)
                    fail_msg("spec %d, build %d: %d parts differ from one", k, kind, v + 1);
            for (int v = 0; v < 3; v++)
                free(c[v]), free(dw[v]), free(ds[v]);
            free(c0), free(y), free(lg);
            jit_free(m);
        }
        parts_free(&in);
    }
    unsetenv("RNNC_CACHE_DIR");
    free(cache);
    tu_rmdir(dir);
}

/* The background build does not hold the command's standard streams: `rnnc train | cat`
 * ends with rnnc while the build, held back by a compiler that waits for a file, has not
 * ended (it would, were the pipe still open, only once the build had). */
static void test_build_leaves_pipe(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir), *err = NULL;
    char *cc = tu_strf("%s/slowcc", dir);
    write_data(dir, spec_text);
    char *script = tu_strf("#!/bin/sh\nn=0\nwhile [ ! -e '%s/go' ] && [ $n -lt 1200 ]; do "
                           "sleep 0.05; n=$((n + 1)); done\nexec cc \"$@\"\n",
                           dir);
    assert_int_equal(tu_write_file(cc, script), 0);
    assert_int_equal(chmod(cc, 0755), 0);
    char *cmd = tu_strf("cd '%s' && RNNC_CACHE_DIR='%s' CC='%s' '%s' train mix.yaml --input x.npy "
                        "--target y.npy --lengths len.npy --save w.safetensors 2>&1 | cat >log",
                        dir, cache, cc, tu_rnnc_bin());
    assert_int_equal(tu_run(cmd, NULL, &err), 0);
    free(err);
    char *log = tu_strf("%s/log", dir), *text = tu_read_file(log, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "saved w.safetensors"));
    int n = 0;
    char **so = tu_list_dir(cache, ".so", &n);
    int built = 0;
    for (int k = 0; k < n; k++)
        built |= strncmp(so[k], "build.", 6) != 0;
    tu_free_list(so, n);
    assert_false(built); /* the pipe ended before the build */
    char *go = tu_strf("%s/go", dir);
    assert_int_equal(tu_write_file(go, ""), 0);
    assert_true(wait_for_build(cache)); /* and the build still lands */
    free(go), free(text), free(log), free(cmd), free(script), free(cc), free(cache);
    tu_rmdir(dir);
}

static void test_auto_same_bits(void **state)
{
    (void)state;
    auto_same_bits(spec_text);
}

static void test_auto_same_bits_f64(void **state)
{
    (void)state;
    auto_same_bits(spec_f64);
}

/* Whether the cache directory holds anything yet (a build's lock, source or object). */
static int cache_touched(const char *cache)
{
    int n = 0, files = 0;
    char **all = tu_list_dir(cache, "", &n);
    for (int k = 0; k < n; k++)
        files += all[k][0] != '.';
    tu_free_list(all, n);
    return files > 0;
}

/* --jit auto's build waits past its first second while the work left is short (under 10 s
 * by jit_auto_remaining), and starts once it is long: a short run is not slowed by a build
 * it would end before. */
static void test_build_waits_for_work(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir);
    setenv("RNNC_CACHE_DIR", cache, 1);
    PartsIn in;
    parts_in(&in, spec_text);
    ModelFns f;
    JitModule *m = host_compile(&in.r, JIT_AUTO, 1, &f);
    assert_non_null(m);
    jit_auto_remaining(m, 5);
    const struct timespec wait = {1, 600 * 1000 * 1000};
    nanosleep(&wait, NULL);
    assert_false(cache_touched(cache)); /* past the first second, nothing started */
    jit_auto_remaining(m, 60);
    assert_true(wait_for_build(cache)); /* long work: the build starts and lands */
    jit_free(m);
    parts_free(&in);
    unsetenv("RNNC_CACHE_DIR");
    free(cache);
    tu_rmdir(dir);
}

/* No system compiler: libtcc's results and one note saying so. */
static void test_no_compiler(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir), *err = NULL;
    write_data(dir, spec_text);
    train_run(dir, cache, "tcc", "tcc", "", &err);
    free(err);
    train_run(dir, cache, NULL, "none", "CC=/nonexistent/cc", &err);
    const char *note = "note: no system compiler ('/nonexistent/cc'): running on libtcc";
    int notes = 0; /* once a command: train, then run */
    for (const char *at = err; (at = strstr(at, "no system compiler")); at++)
        notes++;
    assert_non_null(strstr(err, note));
    assert_int_equal(notes, 2);
    free(err);
    assert_same_file(dir, "w_none.safetensors", "w_tcc.safetensors");
    assert_same_file(dir, "y_none.npy", "y_tcc.npy");
    free(cache);
    tu_rmdir(dir);
}

/* One training step's gradients with forward and backward from two builds. */
static void step_grads(const ModelFns *fw, const ModelFns *bw, const Plan *p, const float *params,
                       const float *x, const int *len, float *dp)
{
    float *packed = calloc((size_t)p->npacked + 1, 4), *dw = calloc((size_t)p->npacked + 1, 4);
    float *y = calloc(N * 3, 4), *logits = calloc(N * 3, 4), *dout = calloc(N * 3, 4);
    void *cache = malloc((size_t)fw->train_bytes(N, T));
    assert_int_equal(fw->train_bytes(N, T), bw->train_bytes(N, T));
    fw->pack(params, packed);
    assert_int_equal(
        fw->forward_train(packed, x, len, N, T, y, logits, NULL, NULL, NULL, cache, 0, 1, NULL),
        0);
    for (int i = 0; i < N * 3; i++)
        dout[i] = logits[i] * 0.5f - (float)(i % 3 == 0);
    bw->backward(packed, x, N, T, dout, NULL, dw, NULL, cache, 0, 1, NULL, NULL);
    bw->unpack_grads(dw, dp);
    free(packed), free(dw), free(y), free(logits), free(dout), free(cache);
}

/* libtcc's build and the system compiler's, mixed: the same gradients. */
static void mixed_builds(const char *text)
{
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir);
    setenv("RNNC_CACHE_DIR", cache, 1);
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "mix.yaml", text), 0);
    ModelFns ft, fc;
    JitModule *mt = host_compile(&r, JIT_TCC, 1, &ft), *mc = host_compile(&r, JIT_CC, 1, &fc);
    if (!mt || !mc)
        diag_render(&r.diag, stderr);
    assert_non_null(mt);
    assert_non_null(mc);
    const Plan *p = r.plan;
    float *params = malloc(sizeof(float) * (size_t)p->nparams),
          *x = malloc(sizeof(float) * N * T * I);
    int len[N];
    for (long i = 0; i < p->nparams; i++)
        params[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (long i = 0; i < (long)N * T * I; i++)
        x[i] = (float)((i * 13) % 17) / 17.0f - 0.5f;
    for (int i = 0; i < N; i++)
        len[i] = 3 + (i * 5) % (T - 2);
    float *g[4];
    const ModelFns *pairs[4][2] = {{&ft, &ft}, {&fc, &fc}, {&ft, &fc}, {&fc, &ft}};
    for (int k = 0; k < 4; k++) {
        g[k] = malloc(sizeof(float) * (size_t)p->nparams);
        step_grads(pairs[k][0], pairs[k][1], p, params, x, len, g[k]);
    }
    for (int k = 1; k < 4; k++)
        if (memcmp(g[0], g[k], sizeof(float) * (size_t)p->nparams) != 0)
            fail_msg("gradients of build pair %d differ from libtcc's", k);
    for (int k = 0; k < 4; k++)
        free(g[k]);
    free(params), free(x);
    jit_free(mt);
    jit_free(mc);
    rnnc_fini(&r);
    unsetenv("RNNC_CACHE_DIR");
    free(cache);
    tu_rmdir(dir);
}

static void test_mixed_builds(void **state)
{
    (void)state;
    /* spec_text's tiles of 16 units take the gates by vectors (prelude.c's vec_f32): in
     * the training unit, an LSTM's, a GRU's and a tanh RNN's */
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "mix.yaml", spec_text), 0);
    CUnit u;
    assert_int_equal(emit_unit_jit(r.plan, 1, 0, &u, &r.diag), 0);
    char *src = cunit_join(&u);
    assert_non_null(strstr(src, "rv_sigmoid_n(vi + 0, "));
    assert_non_null(strstr(src, "rv_sigmoid_n(vr + 0, "));
    assert_non_null(strstr(src, "rv_tanh_n(vh + 0, "));
    assert_non_null(strstr(src, "    const real *const *xs)")); /* a: 6 inputs, fused */
    /* the products of blocks of sequences in vectors where AVX-512 fuses them (prelude.c's
     * RNNC_TILE_V), each row's vectors loaded once: the tiles' (a's gates 40 apart), the
     * backward's dL/dh_{t-1} and its outer products, each with its scalar loop beside it */
    assert_non_null(strstr(src, "#if defined(RNNC_TILE_V)"));
    assert_non_null(strstr(src, "RV_LOAD_KEEP(wv3, wk + 120);"));
    assert_non_null(strstr(src, "    const rvec hv = RV_BCAST(dzs[s][k]);"));
    assert_non_null(strstr(src, "RV_LOAD_KEEP(wv3, d + 48);"));
    assert_non_null(strstr(src, "    const rvec hv = RV_BCAST(z["));
    /* c and d: 24 and 36 inputs, fused too (at most 64) */
    assert_non_null(strstr(src, "blk_c_l0_tc8_36(w, wp, u0, ps, hp, ho, xs);"));
    assert_non_null(strstr(src, "blk_d_l0_tc12_32(w, wp, u0, ps, hp, ho, xs);"));
    free(src);
    cunit_free(&u);
    rnnc_fini(&r);
    /* libtcc's block kernels run a partial block's own sequences, none on padding (a
     * reset-before GRU's, a projected LSTM's: their rec kernels are libtcc's in both units) */
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "mix.yaml", spec_var), 0);
    assert_int_equal(emit_unit_jit(r.plan, 1, 1, &u, &r.diag), 0);
    src = cunit_join(&u);
    assert_non_null(strstr(src, "rnnc_product_blk_f32(n, d_, i_, "));
    assert_non_null(strstr(src, "n = bs[t] / nt + (r < bs[t] % nt);"));
    assert_null(strstr(src, "pad["));
    free(src);
    cunit_free(&u);
    rnnc_fini(&r);
    mixed_builds(spec_text);
    mixed_builds(spec_var);
    mixed_builds(spec_fused);
}

/* v[i] = f(i) for n reals of `size` bytes (4 or 8). */
static void *reals(long n, int size, double (*f)(long))
{
    void *v = malloc((size_t)(n > 0 ? n : 1) * (size_t)size);
    for (long i = 0; i < n; i++)
        if (size == 8)
            ((double *)v)[i] = f(i);
        else
            ((float *)v)[i] = (float)f(i);
    return v;
}

static double param_at(long i)
{
    return (double)((i * 37) % 101) / 101.0 - 0.5;
}

static double input_at(long i)
{
    return (double)((i * 13) % 17) / 17.0 - 0.5;
}

/* The forward of spec `text` on ncase batches of B sequences of up to Tn steps (case c: nb[c]
 * sequences, lengths lens[c * B ...]) built by libtcc and by the system compiler: the same
 * bytes, in the spec's precision. */
static void forwards_match(const char *text, int B, int Tn, int ncase, const int *lens,
                           const int *nb)
{
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir);
    setenv("RNNC_CACHE_DIR", cache, 1);
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "f.yaml", text), 0);
    const Plan *p = r.plan;
    const int O = (int)r.net->out_size, In = (int)r.net->input_size, rs = p->real_size;
    const size_t ny = (size_t)B * Tn * O * (size_t)rs;
    void *params = reals(p->nparams, rs, param_at), *x = reals((long)B * Tn * In, rs, input_at),
         *packed = malloc((size_t)(p->npacked + 1) * (size_t)rs);
    void **y[2];
    for (int kind = 0; kind < 2; kind++) {
        ModelFns f;
        JitModule *m = host_compile(&r, kind ? JIT_CC : JIT_TCC, 0, &f);
        if (!m)
            diag_render(&r.diag, stderr);
        assert_non_null(m);
        f.pack(params, packed);
        void *scratch = malloc((size_t)f.scratch_bytes(B, Tn));
        y[kind] = malloc(sizeof(void *) * (size_t)ncase);
        for (int c = 0; c < ncase; c++) {
            y[kind][c] = calloc(ny, 1);
            assert_int_equal(f.forward(packed, x, lens + (long)c * B, nb[c], Tn, NULL, NULL,
                                       y[kind][c], NULL, NULL, scratch),
                             0);
        }
        free(scratch);
        jit_free(m);
    }
    for (int c = 0; c < ncase; c++) {
        if (memcmp(y[0][c], y[1][c], ny) != 0)
            fail_msg("batch %d: the system compiler's forward differs from libtcc's", c);
        free(y[0][c]), free(y[1][c]);
    }
    free(y[0]), free(y[1]);
    free(params), free(x), free(packed);
    rnnc_fini(&r);
    unsetenv("RNNC_CACHE_DIR");
    free(cache);
    tu_rmdir(dir);
}

/* The system compiler's inference unit for r's plan has both lines a and b: the path the
 * test means is the one generated. */
static void unit_has(Rnnc *r, const char *a, const char *b)
{
    CUnit u;
    assert_int_equal(emit_unit_jit(r->plan, 0, 0, &u, &r->diag), 0);
    char *src = cunit_join(&u);
    assert_non_null(strstr(src, a));
    assert_non_null(strstr(src, b));
    free(src);
    cunit_free(&u);
}

/* The forward's steps with one live sequence (a batch of one; a packed batch's longest
 * sequence alone at its end, shorter than T or not) run wide tiles on panels of W_hh^T,
 * every other step from the last panel, and with a batch of one the lower of two stacked
 * RNN layers carries the upper one's input projection (the plan's feed): libtcc's bits
 * all the same, as for a batch that never has one sequence alone. Layers with wide tiles
 * of 16, 32 (an LSTM's of eight vectors) and 64 units, two to four panels, in stacks (the
 * upper ones' inputs 64 and 128 wide) and both directions.
 * The forward in parts, whose parts find a sequence alone at different steps, is test_numeric's.
 */
static void test_wide_tiles(void **state)
{
    (void)state;
    static const char text[] =
        "name: wide\ninput_size: 6\nlayers:\n"
        "  - name: a\n    cell: lstm\n    hidden_size: 64\n    num_layers: 2\n"
        "  - name: b\n    cell: gru\n    hidden_size: 64\n"
        "  - name: c\n    cell: lstm\n    hidden_size: 48\n    bidirectional: true\n"
        "  - name: d\n    cell: rnn\n    hidden_size: 128\n    num_layers: 2\n";
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "wide.yaml", text), 0);
    int w16 = 0, w32 = 0, feed = 0, nl = r.plan->nlayers;
    for (int l = 0; l < nl; l++) {
        w16 |= r.plan->layers[l].tile_w == 16, w32 |= r.plan->layers[l].tile_w == 32;
        feed += r.plan->layers[l].feed;
    }
    assert_true(w16 && w32); /* tiles of 16 and 32 units: the path is taken */
    assert_int_equal(r.plan->layers[0].tile_w, 32); /* a's: eight vectors, 32 KiB panels */
    /* d's first layer carries its second's projection; not a's LSTM (tiles of eight
     * vectors), b's GRU nor c's LSTM both ways */
    assert_true(r.plan->layers[nl - 2].feed && r.plan->layers[nl - 1].fed && feed == 1);
    unit_has(&r, "blk_d_l0_twf_64(", "for (int t0 = pre, i0 = 0; t0 < T;) {");
    rnnc_fini(&r);
    enum { B = 4 };
    /* alone for 13 steps (two groups of five carried, then the pass), 9 (one, its last
     * step the group's), 4, 5 and 6 (none: the pass alone), 10 and 11 (one) */
    const int lens[10][B] = {{13, 0, 0, 0}, {13, 4, 9, 1}, {13, 13, 6, 13}, {9, 0, 0, 0},
                             {11, 4, 9, 1}, {4, 0, 0, 0},  {5, 0, 0, 0},    {6, 0, 0, 0},
                             {10, 0, 0, 0}, {11, 0, 0, 0}};
    const int nb[10] = {1, B, B, 1, B, 1, 1, 1, 1, 1};
    forwards_match(text, B, 13, 10, lens[0], nb);
    /* deeper stacks: layers 0 and 2 of four tanh RNN layers (wide tiles of 64 units) feed 1
     * and 3 (a layer fed feeds none), and none of three LSTM layers (tiles of 16) */
    static const char deep[] =
        "name: deep\ninput_size: 6\nlayers:\n"
        "  - name: a\n    cell: rnn\n    hidden_size: 128\n    num_layers: 4\n"
        "  - name: b\n    cell: lstm\n    hidden_size: 32\n    num_layers: 3\n";
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "deep.yaml", deep), 0);
    static const int want_feed[7] = {1, 0, 1, 0, 0, 0, 0}, want_fed[7] = {0, 1, 0, 1, 0, 0, 0};
    assert_int_equal(r.plan->nlayers, 7);
    for (int l = 0; l < 7; l++) {
        assert_int_equal(r.plan->layers[l].feed, want_feed[l]);
        assert_int_equal(r.plan->layers[l].fed, want_fed[l]);
    }
    rnnc_fini(&r);
    const int dlens[3][B] = {{13, 0, 0, 0}, {9, 0, 0, 0}, {13, 4, 9, 1}};
    const int dnb[3] = {1, 1, B};
    forwards_match(deep, B, 13, 3, dlens[0], dnb);
}

/* forwards_match on 15 sequences of up to Tn steps in four calls: all 15 (fused: two full
 * tiles of an LSTM's seven or more) with lengths of their own, 14 all Tn long, 13 (the
 * projection pass) and 5. */
static void fused_cases(const char *text, int Tn)
{
    enum { B = 15 };
    int lens[4][B];
    for (int i = 0; i < B; i++)
        lens[0][i] = 1 + (i * 5) % Tn, lens[1][i] = Tn, lens[2][i] = 1 + (i * 3) % Tn,
        lens[3][i] = Tn - i % 4;
    const int nb[4] = {B, 14, 13, 5};
    forwards_match(text, B, Tn, 4, lens[0], nb);
}

/* Blocked layers (rows of 2 KiB or more: weights in pack's panels) whose tiles
 * take the input when a call has two full tiles of sequences or more (tile.c's fused_run):
 * an LSTM of 132 units (a last panel of 4) over 20 inputs, under one of 128 both ways (the
 * two directions' panels apart in pack's block, one function reading them), a tanh RNN of
 * 512 and a GRU of 176 (its tiles never take x); batches of 15 and 14 (fused: every tile
 * starts from b + W_ih^T x), of 13 and 5 (the projection pass), packed: libtcc's bits all
 * the same; and a float64 LSTM of 64 units, whose rows span 2 KiB too. Pack writes the
 * tiles' panels; a forward copies only W_ih^T's column panels for the pass. */
static void test_fused_forward(void **state)
{
    (void)state;
    static const char text[] =
        "name: fused\ninput_size: 20\nbatch_first: true\nlayers:\n"
        "  - name: a\n    cell: lstm\n    hidden_size: 132\n"
        "  - name: b\n    cell: lstm\n    hidden_size: 128\n    bidirectional: true\n"
        "  - name: c\n    cell: rnn\n    hidden_size: 512\n"
        "  - name: d\n    cell: gru\n    hidden_size: 176\n";
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "fused.yaml", text), 0);
    for (int l = 0; l < r.plan->nlayers; l++)
        assert_true(r.plan->layers[l].blocked && r.plan->layers[l].pk_blk >= 0);
    unit_has(&r, "const int fuse = bs[0] >= 14;", "    const real *wpx, const real *const *xs)");
    /* the tiles' products in vectors where AVX-512 fuses them (RNNC_TILE_V): 15, 14, 13 and
     * 5 sequences run tiles of 5, 6 and 7 on the machine that has it */
    unit_has(&r, "#if defined(RNNC_TILE_V)", "RV_LOAD_KEEP(wv3, wk + 48);");
    unit_has(&r,
             "/* b layer 0 reverse: W_ih^T and W_hh^T again, in its tiles' panels of 16 units */",
             "    real *wc = xp; /* I * G*H: W_ih^T's column panels */");
    /* the GRU's tiles never take x: pack writes its W_hh^T's panels alone, read from the
     * start of its block */
    unit_has(&r, "/* d layer 0: W_hh^T again, in its tiles' panels of 16 units */",
             "const real *wp = wt + 0 + (long)u0 * 528; /* this units' panel */");
    assert_int_equal(plan_blk_wh(&r.plan->layers[4]), 0);
    assert_int_equal(plan_blk_wh(&r.plan->layers[0]), 20L * 4 * 132);
    rnnc_fini(&r);
    fused_cases(text, 9);
    /* float64: rows of 2 KiB from 64 LSTM units */
    static const char text64[] = "name: fused\ninput_size: 20\nprecision: float64\nlayers:\n"
                                 "  - name: a\n    cell: lstm\n    hidden_size: 64\n";
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "fused.yaml", text64), 0);
    assert_true(r.plan->layers[0].blocked);
    unit_has(&r, "const int fuse = bs[0] >= 14;", ", fuse ? xs : 0); break;");
    rnnc_fini(&r);
    fused_cases(text64, 9);
    /* without biases: the tiles' accumulators start from W_ih^T x alone (zeros, and a GRU's
     * n without b_hn), in vectors where the unit has them; a batch of one in wide tiles */
    static const char nobias[] = "name: fused\ninput_size: 20\nbatch_first: true\nlayers:\n"
                                 "  - name: a\n    cell: lstm\n    hidden_size: 132\n"
                                 "    bias: false\n"
                                 "  - name: d\n    cell: gru\n    hidden_size: 176\n"
                                 "    bias: false\n"
                                 "  - name: e\n    cell: lstm\n    hidden_size: 64\n"
                                 "    bias: false\n";
    fused_cases(nobias, 9);
    enum { B1 = 1 };
    const int one[2][B1] = {{9}, {5}};
    const int nb1[2] = {1, 1};
    forwards_match(nobias, B1, 9, 2, one[0], nb1);
}

/* Two blocked LSTM layers, the first streaming 6 MiB or more a step (pf_next), the second
 * not: test_prefetch_next's and test_prefetch_next_choice's. */
static const char big_spec[] = "name: big\ninput_size: 600\nbatch_first: true\nlayers:\n"
                               "  - name: a\n    cell: lstm\n    hidden_size: 520\n"
                               "  - name: b\n    cell: lstm\n    hidden_size: 128\n";

/* A blocked layer streaming 6 MiB of panels a step or more (plan.h's pf_next: an LSTM of
 * 520 units over 600 inputs, 9.3 MB, with a last panel of 8 units that asks for nothing)
 * asks for the next units' panel from its fused tiles when 48 sequences or more are live,
 * and one of 128 units over it (1.3 MB) does not: prefetches only, so libtcc's bits all the
 * same, fused (15, 14 sequences, packed or not; 50, live 48 and more, then fewer) or
 * through the projection pass (13, 5). */
static void test_prefetch_next(void **state)
{
    (void)state;
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "big.yaml", big_spec), 0);
    assert_int_equal(r.plan->nlayers, 2);
    assert_true(r.plan->layers[0].blocked && r.plan->layers[1].blocked);
    assert_true(r.plan->layers[0].pf_next);
    assert_false(r.plan->layers[1].pf_next);
    unit_has(&r, "const long un = v + 16 < 512 ? (s & 1 ? 480 - v : v + 16) : u0;",
             "        RNNC_PREFETCH_L2(pfh + (long)k * 16);");
    unit_has(&r, "            RNNC_PREFETCH_L2(pfx + (long)k * 16);",
             "fuse ? xs : 0, pfx, pfh); break;");
    /* a step with fewer than RNNC_PF_NEXT_SEQS live sequences (48, 0 on Intel's cores: the
     * prelude) calls the same tiles built without them */
    unit_has(&r, "if (n < RNNC_PF_NEXT_SEQS) {",
             "case 7: blk_a_l0_t7_16n(w, wp, u0, ps, hp, ho, cs_, ");
    rnnc_fini(&r);
    fused_cases(big_spec, 6);
    /* 50 sequences, 48 or more live for the first steps (the tiles that ask), fewer after
     * (where RNNC_PF_NEXT_SEQS is 48: the tiles that do not) */
    enum { B = 50, Tn = 4 };
    int lens[B];
    for (int i = 0; i < B; i++)
        lens[i] = i < 47 ? Tn : 1 + i % 3;
    const int nb[1] = {B};
    forwards_match(big_spec, B, Tn, 1, lens, nb);
}

/* The unit `rnnc SPEC -o` writes for test_prefetch_next's layers, built with the threshold
 * of live sequences for the next panel's prefetches (RNNC_PF_NEXT_SEQS: 48 off Intel's
 * cores, 0 on them) at 0, 48 and past the batch: the tiles that ask, both kinds, and the ones
 * that do not give the same bytes on any machine (a forward of 50 sequences, 47 of them
 * live for all four steps). */
static void test_prefetch_next_choice(void **state)
{
    (void)state;
    static const char driver[] =
        "#include <stdio.h>\n#include <stdlib.h>\n#include \"big.h\"\n"
        "int main(void)\n{\n"
        "    enum { B = 50, T = 4 };\n"
        "    float *p = malloc(sizeof(float) * BIG_NUM_PARAMS);\n"
        "    float *pk = aligned_alloc(64, (sizeof(float) * BIG_NUM_PACKED + 63) / 64 * 64);\n"
        "    float *x = malloc(sizeof(float) * B * T * BIG_INPUT_SIZE);\n"
        "    float *y = calloc((size_t)B * T * BIG_OUTPUT_SIZE, sizeof(float));\n"
        "    void *sc = aligned_alloc(64, ((size_t)big_scratch_bytes(B, T) + 63) / 64 * 64);\n"
        "    int len[B];\n"
        "    unsigned s = 1, h = 2166136261u;\n"
        "    if (!p || !pk || !x || !y || !sc)\n"
        "        return 1;\n"
        "    for (long i = 0; i < BIG_NUM_PARAMS; i++) {\n"
        "        s = s * 1664525u + 1013904223u;\n"
        "        p[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) / 8;\n"
        "    }\n"
        "    for (long i = 0; i < (long)B * T * BIG_INPUT_SIZE; i++) {\n"
        "        s = s * 1664525u + 1013904223u;\n"
        "        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);\n"
        "    }\n"
        "    for (int i = 0; i < B; i++)\n"
        "        len[i] = i < 47 ? T : 1 + i % 3;\n"
        "    big_pack(p, pk);\n"
        "    if (big_forward(pk, x, len, B, T, NULL, NULL, y, NULL, NULL, sc) != 0)\n"
        "        return 1;\n"
        "    const unsigned char *b = (const unsigned char *)y;\n"
        "    for (size_t i = 0; i < sizeof(float) * B * T * BIG_OUTPUT_SIZE; i++)\n"
        "        h = (h ^ b[i]) * 16777619u;\n"
        "    printf(\"%08x\\n\", h);\n"
        "    return 0;\n"
        "}\n";
    char *dir = tu_mkdtemp(), *c = tu_strf("%s/big.c", dir), *m = tu_strf("%s/main.c", dir);
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "big.yaml", big_spec), 0);
    assert_true(r.plan->layers[0].pf_next);
    assert_int_equal(rnnc_write(&r, c), 0);
    assert_int_equal(tu_write_file(m, driver), 0);
    rnnc_fini(&r);
    static const char *const at[] = {"0", "48", "1000"};
    char *hash[3];
    for (int k = 0; k < 3; k++) {
        char *cmd = tu_strf("cd '%s' && gcc -std=c11 -O2 -march=native -DRNNC_PF_NEXT_SEQS=%s "
                            "big.c main.c -o big%s -lm && ./big%s",
                            dir, at[k], at[k], at[k]);
        char *err = NULL;
        hash[k] = NULL;
        if (tu_run(cmd, &hash[k], &err) != 0 || !hash[k] || strlen(hash[k]) != 9)
            fail_msg("failed: %s\n%s", cmd, err ? err : "");
        free(err);
        free(cmd);
    }
    assert_string_equal(hash[0], hash[1]);
    assert_string_equal(hash[0], hash[2]);
    for (int k = 0; k < 3; k++)
        free(hash[k]);
    tu_rmdir(dir);
    free(c);
    free(m);
}

/* Outputs a forward must write whole: the caller's y is not cleared first, so a forward
 * into a y full of NaN gives the same bytes as into zeros — every live step written by the
 * top layer's two directions or the head, the padding after each length zero — for both
 * builds, time-major and batch-first, with and without a per-step head. */
static void test_forward_overwrites(void **state)
{
    (void)state;
    static const char *const specs[] = {
        "name: ow\ninput_size: 6\nlayers:\n"
        "  - name: a\n    cell: gru\n    hidden_size: 20\n    bidirectional: true\n"
        "  - name: b\n    cell: lstm\n    hidden_size: 24\n    bidirectional: true\n",
        "name: ow\ninput_size: 6\nbatch_first: true\nlayers:\n"
        "  - name: a\n    cell: lstm\n    hidden_size: 24\n    bidirectional: true\n"
        "    proj_size: 9\n",
        "name: ow\ninput_size: 6\nbatch_first: true\nlayers:\n"
        "  - name: a\n    cell: rnn\n    hidden_size: 17\n    bidirectional: true\n"
        "head:\n  out_features: 5\n  input: sequence\n",
    };
    char *dir = tu_mkdtemp(), *cache = tu_strf("%s/cache", dir);
    setenv("RNNC_CACHE_DIR", cache, 1);
    for (int k = 0; k < 3; k++) {
        Rnnc r;
        rnnc_init(&r);
        assert_int_equal(rnnc_load_text(&r, "ow.yaml", specs[k]), 0);
        const Plan *p = r.plan;
        const int B = 5, Tn = 9, O = (int)r.net->out_size, tm = !r.net->batch_first;
        const int len[5] = {9, 2, 7, 1, 4};
        float *params = malloc(sizeof(float) * (size_t)p->nparams),
              *x = malloc(sizeof(float) * B * Tn * I),
              *packed = malloc(sizeof(float) * ((size_t)p->npacked + 1));
        for (long i = 0; i < p->nparams; i++)
            params[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
        for (long i = 0; i < (long)B * Tn * I; i++)
            x[i] = (float)((i * 13) % 17) / 17.0f - 0.5f;
        for (int kind = 0; kind < 2; kind++) {
            ModelFns f;
            JitModule *m = host_compile(&r, kind ? JIT_CC : JIT_TCC, 0, &f);
            if (!m)
                diag_render(&r.diag, stderr);
            assert_non_null(m);
            f.pack(params, packed);
            void *scratch = malloc((size_t)f.scratch_bytes(B, Tn));
            float *y0 = calloc((size_t)B * Tn * O, 4), *y1 = malloc(sizeof(float) * B * Tn * O);
            for (long i = 0; i < (long)B * Tn * O; i++)
                y1[i] = (float)NAN;
            assert_int_equal(f.forward(packed, x, len, B, Tn, NULL, NULL, y0, NULL, NULL, scratch),
                             0);
            assert_int_equal(f.forward(packed, x, len, B, Tn, NULL, NULL, y1, NULL, NULL, scratch),
                             0);
            if (memcmp(y0, y1, sizeof(float) * B * Tn * O) != 0)
                fail_msg("spec %d, build %d: a forward into NaN differs from one into zeros", k,
                         kind);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < Tn; t++)
                    for (int o = 0; o < O; o++) {
                        float v = y1[((long)(tm ? t * B + b : b * Tn + t)) * O + o];
                        if ((t >= len[b]) != (v == 0.0f))
                            fail_msg("spec %d, build %d: y[b=%d, t=%d, %d] = %g (length %d)", k,
                                     kind, b, t, o, (double)v, len[b]);
                    }
            free(scratch), free(y0), free(y1);
            jit_free(m);
        }
        free(params), free(x), free(packed);
        rnnc_fini(&r);
    }
    unsetenv("RNNC_CACHE_DIR");
    free(cache);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_builds),         cmocka_unit_test(test_forward_overwrites),
        cmocka_unit_test(test_auto_same_bits),       cmocka_unit_test(test_auto_same_bits_f64),
        cmocka_unit_test(test_no_compiler),          cmocka_unit_test(test_build_leaves_pipe),
        cmocka_unit_test(test_build_waits_for_work), cmocka_unit_test(test_forward_parts),
        cmocka_unit_test(test_backward_parts),       cmocka_unit_test(test_wide_tiles),
        cmocka_unit_test(test_fused_forward),        cmocka_unit_test(test_prefetch_next),
        cmocka_unit_test(test_prefetch_next_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
