/* test_numeric.c — the numbers: every PyTorch fixture (tests/fixtures, made by
 * tools/gen_fixtures.py) through the libtcc JIT (`rnnc run`'s path) and through the emitted
 * files compiled by gcc; the two paths against each other; and packed batches against the
 * same sequences run one by one without padding.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "rnnrt.h"

/* Closeness to PyTorch: float32 within 1e-5 relative (plus 1e-6 absolute for values
 * near zero); float64 runs the same equations, so it must agree far more tightly. */
#define RTOL_F32 1e-5
#define ATOL_F32 1e-6
#define RTOL_F64 1e-12
#define ATOL_F64 1e-13

typedef struct Fixture {
    char *dir, *name;
    int has_lengths, has_c;
} Fixture;

static Fixture fixtures[128];
static int nfixtures;

static void compare_files(const char *got, const char *want, int dbl, const char *what)
{
    long ng, nw, sg[RNNRT_MAX_DIMS], sw[RNNRT_MAX_DIMS];
    int dg, dw;
    double *g = tu_npy_doubles(got, &ng, sg, &dg), *w = tu_npy_doubles(want, &nw, sw, &dw);
    assert_int_equal(dg, dw);
    for (int i = 0; i < dg; i++)
        assert_int_equal(sg[i], sw[i]);
    assert_int_equal(ng, nw);
    tu_assert_close(g, w, ng, dbl ? RTOL_F64 : RTOL_F32, dbl ? ATOL_F64 : ATOL_F32, what);
    free(g);
    free(w);
}

/* The JIT path: rnnc_run on the fixture's files, outputs compared with PyTorch's. */
static void test_jit(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    for (int i = 0; i < nfixtures; i++) {
        const Fixture *f = &fixtures[i];
        Rnnc r;
        rnnc_init(&r);
        char *spec = tu_strf("%s/spec.yaml", f->dir);
        if (rnnc_load(&r, spec) < 0) {
            diag_render(&r.diag, stderr);
            fail_msg("%s: spec does not load", f->name);
        }
        char *wts = tu_strf("%s/weights.safetensors", f->dir), *x = tu_strf("%s/x.npy", f->dir);
        char *len = tu_strf("%s/lengths.npy", f->dir);
        char *y = tu_strf("%s/y.npy", tmp), *h = tu_strf("%s/h.npy", tmp);
        char *c = tu_strf("%s/c.npy", tmp);
        RnncRunArgs a = {wts,
                         x,
                         f->has_lengths ? len : NULL,
                         y,
                         h,
                         f->has_c ? c : NULL,
                         NULL,
                         3 /* threads: parts of the batch at once */,
                         NULL,
                         NULL};
        if (rnnc_run(&r, &a) < 0) {
            diag_render(&r.diag, stderr);
            fail_msg("%s: rnnc_run failed", f->name);
        }
        int dbl = r.net->dbl;
        char *what = tu_strf("%s (jit) y", f->name);
        char *want = tu_strf("%s/y.npy", f->dir);
        compare_files(y, want, dbl, what);
        free(what);
        free(want);
        what = tu_strf("%s (jit) h_n", f->name);
        want = tu_strf("%s/h_n.npy", f->dir);
        compare_files(h, want, dbl, what);
        free(what);
        free(want);
        if (f->has_c) {
            what = tu_strf("%s (jit) c_n", f->name);
            want = tu_strf("%s/c_n.npy", f->dir);
            compare_files(c, want, dbl, what);
            free(what);
            free(want);
        }
        free(spec);
        free(wts);
        free(x);
        free(len);
        free(y);
        free(h);
        free(c);
        rnnc_fini(&r);
    }
    tu_rmdir(tmp);
}

/* A model compiled by gcc from the emitted files and loaded with dlopen. */
typedef struct Native {
    void *so;
    long (*scratch_bytes)(int, int);
    void (*pack)(const void *, void *);
    int (*forward)(const void *, const void *, const int *, int, int, const void *, const void *,
                   void *, void *, void *, void *);
    int (*forward_par)(const void *, const void *, const int *, int, int, const void *,
                       const void *, void *, void *, void *, void *, void *, int, int,
                       void (*)(void *), void *);
} Native;

static void *sym(void *so, const char *prefix, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s_%s", prefix, what);
    void *p = dlsym(so, name);
    if (!p)
        fail_msg("emitted code has no %s", name);
    return p;
}

/* flags: "-O2" builds with separate multiplies and adds; "-O3 -march=native" fuses every
 * product's (MADD) where the machine has FMA, the JIT's arithmetic. */
static void native_build(Native *n, Rnnc *r, const char *tmp, const char *flags)
{
    char *c = tu_strf("%s/%s.c", tmp, r->net->name);
    char *so = tu_strf("%s/%s%s.so", tmp, r->net->name, strstr(flags, "march") ? "_n" : "");
    if (rnnc_write(r, c) < 0) {
        diag_render(&r->diag, stderr);
        fail_msg("rnnc_write failed");
    }
    char *cmd = tu_strf("gcc -std=c11 -Wall -Wextra -Wpedantic -Werror %s -fPIC -shared "
                        "'%s' -o '%s' -lm",
                        flags, c, so);
    char *err = NULL;
    int st = tu_run(cmd, NULL, &err);
    if (st != 0)
        fail_msg("gcc failed on %s:\n%s", c, err ? err : "");
    free(err);
    n->so = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!n->so)
        fail_msg("dlopen %s: %s", so, dlerror());
    void *p = sym(n->so, r->net->name, "scratch_bytes");
    memcpy(&n->scratch_bytes, &p, sizeof p);
    p = sym(n->so, r->net->name, "pack");
    memcpy(&n->pack, &p, sizeof p);
    p = sym(n->so, r->net->name, "forward");
    memcpy(&n->forward, &p, sizeof p);
    p = sym(n->so, r->net->name, "forward_par");
    memcpy(&n->forward_par, &p, sizeof p);
    free(cmd);
    free(c);
    free(so);
}

/* Converts doubles to the model precision in a fresh buffer. */
static void *to_model(const double *v, long n, int dbl)
{
    void *out = malloc((size_t)(n ? n : 1) * (dbl ? 8 : 4));
    assert_non_null(out);
    for (long i = 0; i < n; i++) {
        if (dbl)
            ((double *)out)[i] = v[i];
        else
            ((float *)out)[i] = (float)v[i];
    }
    return out;
}

static double *from_model(const void *v, long n, int dbl)
{
    double *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    assert_non_null(out);
    for (long i = 0; i < n; i++)
        out[i] = dbl ? ((const double *)v)[i] : ((const float *)v)[i];
    return out;
}

/* Everything a direct call of the emitted forward needs, built from a fixture. */
typedef struct Case {
    int dbl, B, T, per_step;
    long nx, ny, nh, nc;
    void *packed, *x;
    int *len;
    double *xd;
} Case;

static void case_load(Case *k, Rnnc *r, const Fixture *f, const Native *n)
{
    const Plan *p = r->plan;
    const Net *net = r->net;
    memset(k, 0, sizeof *k);
    k->dbl = net->dbl;
    RnnrtError err;
    char *wts = tu_strf("%s/weights.safetensors", f->dir);
    void *params = rnnc_load_weights(r, wts);
    if (!params) {
        diag_render(&r->diag, stderr);
        fail_msg("%s: weights do not load", wts);
    }
    k->packed = calloc((size_t)p->npacked + 1, k->dbl ? 8 : 4);
    n->pack(params, k->packed);
    free(params);
    free(wts);
    char *xp = tu_strf("%s/x.npy", f->dir);
    long xs[RNNRT_MAX_DIMS];
    k->xd = tu_npy_doubles(xp, &k->nx, xs, NULL);
    free(xp);
    k->x = to_model(k->xd, k->nx, k->dbl);
    k->B = (int)xs[net->batch_first ? 0 : 1];
    k->T = (int)xs[net->batch_first ? 1 : 0];
    k->len = calloc((size_t)k->B, sizeof *k->len);
    if (f->has_lengths) {
        char *lp = tu_strf("%s/lengths.npy", f->dir);
        RnnrtArray la;
        if (rnnrt_npy_read(lp, &la, &err) < 0)
            fail_msg("%s", err.msg);
        for (int b = 0; b < k->B; b++)
            k->len[b] =
                la.dtype == RNNRT_I64 ? (int)((long long *)la.data)[b] : ((int *)la.data)[b];
        rnnrt_array_free(&la);
        free(lp);
    } else {
        for (int b = 0; b < k->B; b++)
            k->len[b] = k->T;
    }
    k->per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    k->ny = (long)k->B * (k->per_step ? k->T : 1) * net->out_size;
    k->nh = (long)p->top_layers * p->top_dirs * k->B * p->top_hr;
    k->nc = (long)p->top_layers * p->top_dirs * k->B * net->blocks[net->nblocks - 1].hidden_size;
}

static void case_free(Case *k)
{
    free(k->packed);
    free(k->x);
    free(k->xd);
    free(k->len);
}

/* Runs the native forward on (B, T) input `x`; returns y, h_n and c_n as doubles. */
static void run_native(const Native *n, const Case *k, const void *x, const int *len, int B, int T,
                       double **y, double **h, double **c, long *ny, long *nh, long *nc)
{
    size_t rs = k->dbl ? 8 : 4;
    *ny = k->ny / k->B * B / (k->per_step ? k->T : 1) * (k->per_step ? T : 1);
    *nh = k->nh / k->B * B;
    *nc = k->nc / k->B * B;
    void *yb = malloc((size_t)*ny * rs), *hb = malloc((size_t)*nh * rs);
    void *cb = malloc((size_t)*nc * rs), *sc = malloc((size_t)n->scratch_bytes(B, T));
    assert_int_equal(n->forward(k->packed, x, len, B, T, NULL, NULL, yb, hb, cb, sc), 0);
    *y = from_model(yb, *ny, k->dbl);
    *h = from_model(hb, *nh, k->dbl);
    *c = from_model(cb, *nc, k->dbl);
    free(yb);
    free(hb);
    free(cb);
    free(sc);
}

/* The emitted files compiled by gcc: against PyTorch, and equal to the JIT's outputs. */
static void test_emitted(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    for (int i = 0; i < nfixtures; i++) {
        const Fixture *f = &fixtures[i];
        Rnnc r;
        rnnc_init(&r);
        char *spec = tu_strf("%s/spec.yaml", f->dir);
        assert_int_equal(rnnc_load(&r, spec), 0);
        Native n, nf;
        native_build(&n, &r, tmp, "-O2");
        native_build(&nf, &r, tmp, "-O3 -march=native");
        Case k;
        case_load(&k, &r, f, &n);
        /* the scratch the CLI reports is the one the code carves */
        assert_int_equal(n.scratch_bytes(k.B, k.T), plan_scratch_bytes(r.plan, k.B, k.T));
        assert_int_equal(nf.scratch_bytes(5, 3), plan_scratch_bytes(r.plan, 5, 3));
        double *y, *h, *c, *yf, *hf, *cf;
        long ny, nh, nc;
        run_native(&n, &k, k.x, f->has_lengths ? k.len : NULL, k.B, k.T, &y, &h, &c, &ny, &nh,
                   &nc);
        run_native(&nf, &k, k.x, f->has_lengths ? k.len : NULL, k.B, k.T, &yf, &hf, &cf, &ny, &nh,
                   &nc);
        const char *names[3] = {"y", "h_n", "c_n"};
        double *got[2][3] = {{y, h, c}, {yf, hf, cf}};
        for (int v = 0; v < 2; v++)
            for (int j = 0; j < (f->has_c ? 3 : 2); j++) {
                char *want_p = tu_strf("%s/%s.npy", f->dir, names[j]);
                long nw;
                double *want = tu_npy_doubles(want_p, &nw, NULL, NULL);
                assert_int_equal(nw, j == 0 ? ny : j == 1 ? nh : nc);
                char *what =
                    tu_strf("%s (gcc %s) %s", f->name, v ? "-march=native" : "-O2", names[j]);
                tu_assert_close(got[v][j], want, nw, k.dbl ? RTOL_F64 : RTOL_F32,
                                k.dbl ? ATOL_F64 : ATOL_F32, what);
                free(what);
                free(want);
                free(want_p);
            }
        free(hf);
        free(cf);
        dlclose(nf.so);
        /* The JIT ran the same C, every product's multiply-adds fused: its outputs must match
         * the FMA build's exactly (where the machine has FMA), the other within tolerance. */
        char *yj = tu_strf("%s/yj.npy", tmp), *wts = tu_strf("%s/weights.safetensors", f->dir);
        char *x = tu_strf("%s/x.npy", f->dir), *len = tu_strf("%s/lengths.npy", f->dir);
        RnncRunArgs a = {wts, x, f->has_lengths ? len : NULL, yj, NULL, NULL, NULL, 1, NULL, NULL};
        assert_int_equal(rnnc_run(&r, &a), 0);
        long nj;
        double *jy = tu_npy_doubles(yj, &nj, NULL, NULL);
        assert_int_equal(nj, ny);
        char *what = tu_strf("%s: jit against gcc -march=native", f->name);
        if (tu_has_fma())
            tu_assert_close(jy, yf, ny, 0, 0, what);
        free(what);
        what = tu_strf("%s: jit against gcc -O2", f->name);
        tu_assert_close(jy, y, ny, k.dbl ? RTOL_F64 : RTOL_F32, k.dbl ? ATOL_F64 : ATOL_F32, what);
        free(what);
        free(jy);
        free(yf);
        free(yj);
        free(wts);
        free(x);
        free(len);
        free(y);
        free(h);
        free(c);
        case_free(&k);
        dlclose(n.so);
        free(spec);
        rnnc_fini(&r);
    }
    tu_rmdir(tmp);
}

/* One thread of <name>_forward_par: parts meet in a barrier; part 0's scratch is shared. */
typedef struct Par {
    const Native *n;
    const Case *k;
    const int *len;
    void *y, *h, *c, *scratch, *shared;
    int part, nparts, rc;
    pthread_barrier_t *barrier;
} Par;

static void meet(void *b)
{
    pthread_barrier_wait(b);
}

static void *par_run(void *arg)
{
    Par *q = arg;
    q->rc =
        q->n->forward_par(q->k->packed, q->k->x, q->len, q->k->B, q->k->T, NULL, NULL, q->y, q->h,
                          q->c, q->scratch, q->shared, q->part, q->nparts, meet, q->barrier);
    return NULL;
}

/* nparts threads through <name>_forward_par into y, h, c. */
static void run_par(const Native *n, const Case *k, const int *len, int nparts, void *y, void *h,
                    void *c)
{
    Par q[3];
    pthread_t tid[3];
    pthread_barrier_t barrier;
    assert_true(nparts <= 3);
    assert_int_equal(pthread_barrier_init(&barrier, NULL, (unsigned)nparts), 0);
    for (int i = 0; i < nparts; i++) {
        q[i] = (Par){n,    k, len,    y, h,       c, malloc((size_t)n->scratch_bytes(k->B, k->T)),
                     NULL, i, nparts, 0, &barrier};
        q[i].shared = q[0].scratch;
    }
    for (int i = 1; i < nparts; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, par_run, &q[i]), 0);
    par_run(&q[0]);
    for (int i = 1; i < nparts; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; i < nparts; i++) {
        assert_int_equal(q[i].rc, 0);
        free(q[i].scratch);
    }
    pthread_barrier_destroy(&barrier);
}

/* The parts of a batch, each with its own scratch, together give the whole batch's outputs
 * bit for bit, every fixture: <name>_forward_par without sync one part after another (2 and
 * 3 parts), and on 2 and 3 threads meeting between layers (a bidirectional layer's
 * directions on two of them). */
static void test_parts(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    for (int i = 0; i < nfixtures; i++) {
        const Fixture *f = &fixtures[i];
        Rnnc r;
        rnnc_init(&r);
        char *spec = tu_strf("%s/spec.yaml", f->dir);
        assert_int_equal(rnnc_load(&r, spec), 0);
        Native n;
        native_build(&n, &r, tmp, "-O3 -march=native");
        Case k;
        case_load(&k, &r, f, &n);
        double *y, *h, *c;
        long ny, nh, nc;
        const int *len = f->has_lengths ? k.len : NULL;
        run_native(&n, &k, k.x, len, k.B, k.T, &y, &h, &c, &ny, &nh, &nc);
        size_t rs = k.dbl ? 8 : 4;
        for (int v = 0; v < 4; v++) {
            int np = 2 + v % 2, threaded = v >= 2;
            /* NaN-filled outputs: every element must be written by some part */
            unsigned char *yb = malloc((size_t)ny * rs), *hb = malloc((size_t)(nh + 1) * rs);
            unsigned char *cb = malloc((size_t)(nc + 1) * rs);
            memset(yb, 0xff, (size_t)ny * rs);
            memset(hb, 0xff, (size_t)(nh + 1) * rs);
            memset(cb, 0xff, (size_t)(nc + 1) * rs);
            for (int part = 0; part < np && !threaded; part++) {
                void *sc = malloc((size_t)n.scratch_bytes(k.B, k.T));
                assert_int_equal(n.forward_par(k.packed, k.x, len, k.B, k.T, NULL, NULL, yb, hb,
                                               cb, sc, sc, part, np, NULL, NULL),
                                 0);
                free(sc);
            }
            if (threaded)
                run_par(&n, &k, len, np, yb, hb, cb);
            double *got[3] = {from_model(yb, ny, k.dbl), from_model(hb, nh, k.dbl),
                              from_model(cb, nc, k.dbl)};
            double *want[3] = {y, h, c};
            long cnt[3] = {ny, nh, f->has_c ? nc : 0};
            for (int j = 0; j < 3; j++) {
                char *what = tu_strf("%s: %d %s, output %d", f->name, np,
                                     threaded ? "threads" : "parts", j);
                tu_assert_close(got[j], want[j], cnt[j], 0, 0, what);
                free(what);
                free(got[j]);
            }
            free(yb);
            free(hb);
            free(cb);
        }
        assert_int_equal(n.forward_par(k.packed, k.x, len, k.B, k.T, NULL, NULL, NULL, NULL, NULL,
                                       NULL, NULL, 2, 2, NULL, NULL),
                         -1);
        free(y);
        free(h);
        free(c);
        case_free(&k);
        dlclose(n.so);
        free(spec);
        rnnc_fini(&r);
    }
    tu_rmdir(tmp);
}

/* A packed batch equals its sequences run one at a time, each cut to its own length. */
static void test_packed_equals_single(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    int checked = 0;
    for (int i = 0; i < nfixtures; i++) {
        const Fixture *f = &fixtures[i];
        if (!f->has_lengths)
            continue;
        Rnnc r;
        rnnc_init(&r);
        char *spec = tu_strf("%s/spec.yaml", f->dir);
        assert_int_equal(rnnc_load(&r, spec), 0);
        const Net *net = r.net;
        Native n;
        native_build(&n, &r, tmp, "-O3 -march=native"); /* fused or not, the same per sequence */
        Case k;
        case_load(&k, &r, f, &n);
        double *y, *h, *c;
        long ny, nh, nc;
        run_native(&n, &k, k.x, k.len, k.B, k.T, &y, &h, &c, &ny, &nh, &nc);
        int I = net->input_size, O = net->out_size, B = k.B, T = k.T;
        long hr = r.plan->top_hr, hc = net->blocks[net->nblocks - 1].hidden_size;
        long S = nh / B / hr, Sc = nc / B / hc; /* state rows: layers * directions */
        for (int b = 0; b < B; b++) {
            int L = k.len[b];
            double *xb = malloc((size_t)L * I * sizeof *xb);
            for (int t = 0; t < L; t++)
                for (int j = 0; j < I; j++)
                    xb[(long)t * I + j] = net->batch_first ? k.xd[((long)b * T + t) * I + j]
                                                           : k.xd[((long)t * B + b) * I + j];
            void *xm = to_model(xb, (long)L * I, k.dbl);
            double *y1, *h1, *c1;
            long ny1, nh1, nc1;
            run_native(&n, &k, xm, NULL, 1, L, &y1, &h1, &c1, &ny1, &nh1, &nc1);
            double *want = malloc((size_t)(ny1 + nh1 + nc1) * sizeof *want);
            double *got = malloc((size_t)(ny1 + nh1 + nc1) * sizeof *got);
            long at = 0;
            if (k.per_step) {
                for (int t = 0; t < L; t++)
                    for (int j = 0; j < O; j++) {
                        long src = net->batch_first ? ((long)b * T + t) * O + j
                                                    : ((long)t * B + b) * O + j;
                        want[at] = y[src];
                        got[at++] = y1[(long)t * O + j];
                    }
            } else {
                for (int j = 0; j < O; j++) {
                    want[at] = y[(long)b * O + j];
                    got[at++] = y1[j];
                }
            }
            for (long s = 0; s < S; s++)
                for (long j = 0; j < hr; j++) {
                    want[at] = h[(s * B + b) * hr + j];
                    got[at++] = h1[s * hr + j];
                }
            if (f->has_c)
                for (long s = 0; s < Sc; s++)
                    for (long j = 0; j < hc; j++) {
                        want[at] = c[(s * B + b) * hc + j];
                        got[at++] = c1[s * hc + j];
                    }
            char *what = tu_strf("%s: sequence %d alone against the packed batch", f->name, b);
            tu_assert_close(got, want, at, 0, 0, what);
            free(what);
            free(want);
            free(got);
            free(y1);
            free(h1);
            free(c1);
            free(xm);
            free(xb);
            checked++;
        }
        free(y);
        free(h);
        free(c);
        case_free(&k);
        dlclose(n.so);
        free(spec);
        rnnc_fini(&r);
    }
    assert_true(checked >= 20);
    tu_rmdir(tmp);
}

/* The fixture set itself covers what the issue asks for. */
static void test_coverage(void **state)
{
    (void)state;
    assert_true(nfixtures >= 30);
    int lengths = 0, lstm_c = 0;
    for (int i = 0; i < nfixtures; i++) {
        lengths += fixtures[i].has_lengths;
        lstm_c += fixtures[i].has_c;
    }
    assert_true(lengths >= 10);
    assert_true(lstm_c >= 5);
}

static int load_manifest(void)
{
    char *path = tu_strf("%s/tests/fixtures/manifest.txt", tu_src_root());
    char *text = tu_read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    for (char *line = strtok(text, "\n"); line && nfixtures < 128; line = strtok(NULL, "\n")) {
        if (!*line || *line == '#')
            continue;
        Fixture *f = &fixtures[nfixtures++];
        f->name = tu_strf("%s", line);
        f->dir = tu_strf("%s/tests/fixtures/%s", tu_src_root(), line);
        char *l = tu_strf("%s/lengths.npy", f->dir), *c = tu_strf("%s/c_n.npy", f->dir);
        f->has_lengths = tu_exists(l);
        f->has_c = tu_exists(c);
        free(l);
        free(c);
    }
    free(text);
    free(path);
    return 0;
}

int main(void)
{
    if (load_manifest() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coverage), cmocka_unit_test(test_jit),
        cmocka_unit_test(test_emitted),  cmocka_unit_test(test_packed_equals_single),
        cmocka_unit_test(test_parts),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < nfixtures; i++) {
        free(fixtures[i].name);
        free(fixtures[i].dir);
    }
    return rc;
}
