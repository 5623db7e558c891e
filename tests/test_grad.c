/* test_grad.c — gradients: `rnnc grad` (generated backward through time, JIT-compiled)
 * against PyTorch autograd on the fixtures of tests/grad_fixtures (tools/gen_grad_fixtures.py:
 * every cell and variant, 1-3 layers, bidirectional, projection, lengths, each loss and head);
 * in float64 against central finite differences; and its error paths.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "rnnrt.h"

typedef struct Fixture {
    char *name, *dir;
    int has_lengths;
} Fixture;

static Fixture fx[128];
static int nfx;

static char *path(const Fixture *f, const char *file)
{
    return tu_strf("%s/%s", f->dir, file);
}

/* rnnc_grad on fixture f (with another spec when `spec_over`, dropout masks drawn from
 * `drop_seed` when not 0) and weights `wts`; returns the loss, gradients into *g. */
/* The JIT grad() uses: libtcc, or the system compiler (whose code runs the batched kernels
 * in blocks of sequences and may fuse multiply-adds). */
static int use_cc;

static double grad_ex(const Fixture *f, const char *spec_over, long drop_seed, const char *wts,
                      const char *out, RnnrtTensorFile *g)
{
    Rnnc r;
    rnnc_init(&r);
    r.jit = use_cc ? JIT_CC : JIT_TCC;
    char *spec = spec_over ? tu_strf("%s", spec_over) : path(f, "spec.yaml");
    char *x = path(f, "x.npy"), *l = path(f, "lengths.npy");
    char *t = path(f, "target.npy");
    if (rnnc_load(&r, spec) < 0) {
        diag_render(&r.diag, stderr);
        fail_msg("%s: spec does not load", f->name);
    }
    RnncGradArgs a = {wts,  x,   f->has_lengths ? l : NULL, t, out, drop_seed, 0, NULL, NULL,
                      NULL, NULL};
    if (rnnc_grad(&r, &a) < 0) {
        diag_render(&r.diag, stderr);
        fail_msg("%s: rnnc_grad failed", f->name);
    }
    RnnrtError err;
    if (g && rnnrt_st_read(out, g, &err) < 0)
        fail_msg("%s", err.msg);
    rnnc_fini(&r);
    free(spec);
    free(x);
    free(l);
    free(t);
    return a.loss;
}

static double grad(const Fixture *f, const char *wts, const char *out, RnnrtTensorFile *g)
{
    return grad_ex(f, NULL, 0, wts, out, g);
}

static double at(const RnnrtTensor *t, long i)
{
    return t->dtype == RNNRT_F64 ? ((double *)t->data)[i] : ((float *)t->data)[i];
}

static long numel(const RnnrtTensor *t)
{
    long n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

/* Every fixture: loss within 1e-5 relative, every gradient element within 1e-4 relative
 * (float32; 1e-10 in float64) plus a floor of 1e-6 (1e-12) of the tensor's largest
 * gradient, for the elements that are zero or nearly so. Through libtcc, and the batch_
 * fixtures also through --jit cc. */
static void test_against_pytorch(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *out = tu_strf("%s/g.safetensors", tmp);
    char *cache = tu_strf("%s/cache", tmp);
    setenv("RNNC_CACHE_DIR", cache, 1);
    int batched = 0;
    for (int i = 0; i < 2 * nfx; i++) {
        const Fixture *f = &fx[i % nfx];
        use_cc = i >= nfx;
        if (use_cc && strncmp(f->name, "batch_", 6) != 0)
            continue;
        batched += use_cc;
        char *w = path(f, "weights.safetensors"), *gp = path(f, "grads.safetensors");
        char *lp = path(f, "loss.npy");
        RnnrtTensorFile got, want;
        RnnrtError err;
        double loss = grad(f, w, out, &got);
        if (rnnrt_st_read(gp, &want, &err) < 0)
            fail_msg("%s", err.msg);
        int dbl = want.t[0].dtype == RNNRT_F64;
        double *wl = tu_npy_doubles(lp, NULL, NULL, NULL);
        char *what = tu_strf("%s: loss", f->name);
        tu_assert_close(&loss, wl, 1, dbl ? 1e-12 : 1e-5, 0, what);
        free(what);
        assert_int_equal(got.n, want.n);
        for (int k = 0; k < want.n; k++) {
            const RnnrtTensor *wt = &want.t[k], *gt = rnnrt_st_find(&got, wt->name);
            if (!gt)
                fail_msg("%s: no gradient for %s", f->name, wt->name);
            long n = numel(wt);
            assert_int_equal(numel(gt), n);
            double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
            double scale = 0;
            for (long j = 0; j < n; j++) {
                a[j] = at(gt, j);
                b[j] = at(wt, j);
                scale = fabs(b[j]) > scale ? fabs(b[j]) : scale;
            }
            what = tu_strf("%s%s: d loss / d %s", f->name, use_cc ? " (--jit cc)" : "", wt->name);
            tu_assert_close(a, b, n, dbl ? 1e-10 : 1e-4, (dbl ? 1e-12 : 1e-6) * scale, what);
            free(what);
            free(a);
            free(b);
        }
        rnnrt_st_free(&got);
        rnnrt_st_free(&want);
        free(wl);
        free(w);
        free(gp);
        free(lp);
    }
    use_cc = 0;
    assert_true(batched >= 5);
    unsetenv("RNNC_CACHE_DIR");
    free(cache);
    free(out);
    tu_rmdir(tmp);
}

/* float64: d loss / d p by central differences, (L(p + e) - L(p - e)) / 2e with e = 1e-6,
 * for a spread of entries of every tensor, within 1e-6 relative of the computed gradient. */
static void test_finite_differences(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *out = tu_strf("%s/g.safetensors", tmp), *pw = tu_strf("%s/w.safetensors", tmp);
    int checked = 0, configs = 0;
    for (int i = 0; i < nfx; i++) {
        const Fixture *f = &fx[i];
        char *w = path(f, "weights.safetensors");
        RnnrtTensorFile wf, g;
        RnnrtError err;
        if (rnnrt_st_read(w, &wf, &err) < 0)
            fail_msg("%s", err.msg);
        if (wf.t[0].dtype != RNNRT_F64) {
            rnnrt_st_free(&wf);
            free(w);
            continue;
        }
        configs++;
        grad(f, w, out, &g);
        for (int k = 0; k < wf.n; k++) {
            RnnrtTensor *t = &wf.t[k];
            const RnnrtTensor *gt = rnnrt_st_find(&g, t->name);
            long n = numel(t);
            for (long j = 0; j < n; j += n / 3 + 1) {
                double *v = (double *)t->data + j, v0 = *v, e = 1e-6;
                *v = v0 + e;
                assert_int_equal(rnnrt_st_write(pw, wf.t, wf.n, &err), 0);
                double lp = grad(f, pw, out, NULL);
                *v = v0 - e;
                assert_int_equal(rnnrt_st_write(pw, wf.t, wf.n, &err), 0);
                double lm = grad(f, pw, out, NULL);
                *v = v0;
                double fd = (lp - lm) / (2 * e), an = at(gt, j);
                double tol = 1e-6 * fmax(fabs(fd), fabs(an)) + 1e-8;
                if (!(fabs(fd - an) <= tol))
                    fail_msg("%s: d loss / d %s[%ld]: backward %.12g, finite differences %.12g",
                             f->name, t->name, j, an, fd);
                checked++;
            }
        }
        rnnrt_st_free(&g);
        rnnrt_st_free(&wf);
        free(w);
    }
    assert_true(configs >= 4);
    assert_true(checked >= 100);
    free(out);
    free(pw);
    tu_rmdir(tmp);
}

/* Dropout between stacked layers (training only): with the masks held fixed, the backward
 * through them still equals central finite differences; and the masks do change things. */
static void test_dropout_finite_differences(void **state)
{
    (void)state;
    const Fixture *f = NULL;
    for (int i = 0; i < nfx && !f; i++)
        if (!strncmp(fx[i].name, "f64_", 4) && strstr(fx[i].name, "_l2"))
            f = &fx[i];
    assert_non_null(f);
    char *tmp = tu_mkdtemp();
    char *sp = path(f, "spec.yaml"), *text = tu_read_file(sp, NULL);
    char *at_drop = strstr(text, "dropout: 0.0");
    assert_non_null(at_drop);
    char *spec = tu_strf("%s/spec.yaml", tmp);
    char *patched = tu_strf("%.*sdropout: 0.5%s", (int)(at_drop - text), text, at_drop + 12);
    assert_int_equal(tu_write_file(spec, patched), 0);
    char *out = tu_strf("%s/g.safetensors", tmp), *pw = tu_strf("%s/w.safetensors", tmp);
    char *w = path(f, "weights.safetensors");
    RnnrtTensorFile wf, g, g0;
    RnnrtError err;
    assert_int_equal(rnnrt_st_read(w, &wf, &err), 0);
    double l_drop = grad_ex(f, spec, 99, w, out, &g);
    double l_none = grad_ex(f, spec, 0, w, out, &g0);
    assert_true(fabs(l_drop - l_none) > 1e-9 * fabs(l_none));
    int checked = 0;
    for (int k = 0; k < wf.n; k++) {
        RnnrtTensor *t = &wf.t[k];
        const RnnrtTensor *gt = rnnrt_st_find(&g, t->name);
        long n = numel(t);
        for (long j = 0; j < n; j += n / 2 + 1) {
            double *v = (double *)t->data + j, v0 = *v, e = 1e-6;
            *v = v0 + e;
            assert_int_equal(rnnrt_st_write(pw, wf.t, wf.n, &err), 0);
            double lp = grad_ex(f, spec, 99, pw, out, NULL);
            *v = v0 - e;
            assert_int_equal(rnnrt_st_write(pw, wf.t, wf.n, &err), 0);
            double lm = grad_ex(f, spec, 99, pw, out, NULL);
            *v = v0;
            double fd = (lp - lm) / (2 * e), an = at(gt, j);
            if (!(fabs(fd - an) <= 1e-6 * fmax(fabs(fd), fabs(an)) + 1e-8))
                fail_msg("%s with dropout: d loss / d %s[%ld]: backward %.12g, finite "
                         "differences %.12g",
                         f->name, t->name, j, an, fd);
            checked++;
        }
    }
    assert_true(checked >= 10);
    rnnrt_st_free(&g);
    rnnrt_st_free(&g0);
    rnnrt_st_free(&wf);
    free(w);
    free(out);
    free(pw);
    free(patched);
    free(spec);
    free(text);
    free(sp);
    tu_rmdir(tmp);
}

/* Writes rows of sequence b (steps 0..L-1, or its one row when !per_step) of a (N, T, row)
 * / (T, N, row) / (N, row) array as a batch of one, (1, L, row) or (L, 1, row) or (1, row). */
static void slice_npy(const char *src, const char *dst, int b, int L, int per_step, int bf)
{
    RnnrtArray a, o;
    RnnrtError err;
    assert_int_equal(rnnrt_npy_read(src, &a, &err), 0);
    o = a;
    int es = rnnrt_dtype_size(a.dtype);
    long row = 1;
    int lead = per_step ? 2 : 1;
    for (int d = lead; d < a.ndim; d++)
        row *= a.shape[d];
    long N = per_step ? a.shape[bf ? 0 : 1] : a.shape[0], T = per_step ? a.shape[bf ? 1 : 0] : 1;
    o.data = malloc((size_t)(L * row * es) + 1);
    for (int t = 0; t < (per_step ? L : 1); t++) {
        long s = !per_step ? b : bf ? (long)b * T + t : (long)t * N + b;
        memcpy((char *)o.data + (size_t)t * row * es, (char *)a.data + (size_t)s * row * es,
               (size_t)row * es);
    }
    if (per_step) {
        o.shape[bf ? 0 : 1] = 1;
        o.shape[bf ? 1 : 0] = L;
    } else {
        o.shape[0] = 1;
    }
    assert_int_equal(rnnrt_npy_write(dst, &o, &err), 0);
    free(o.data);
    rnnrt_array_free(&a);
}

/* A packed batch's gradient is its sequences' gradients, each run alone without padding,
 * weighted by how many elements each adds to the mean. */
static void test_packed_equals_one_by_one(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *out = tu_strf("%s/g.safetensors", tmp);
    int checked = 0;
    for (int i = 0; i < nfx; i++) {
        const Fixture *f = &fx[i];
        if (!f->has_lengths)
            continue;
        char *sp = path(f, "spec.yaml"), *text = tu_read_file(sp, NULL);
        int bf = strstr(text, "batch_first: true") != NULL;
        int per_step = !strstr(text, "input: last");
        int ce = strstr(text, "loss: cross_entropy") != NULL;
        free(text);
        char *w = path(f, "weights.safetensors"), *lp = path(f, "lengths.npy");
        char *xp = path(f, "x.npy"), *tp = path(f, "target.npy");
        RnnrtTensorFile all;
        RnnrtError err;
        grad(f, w, out, &all);
        RnnrtArray la, ta;
        assert_int_equal(rnnrt_npy_read(lp, &la, &err), 0);
        assert_int_equal(rnnrt_npy_read(tp, &ta, &err), 0);
        int B = (int)la.shape[0];
        /* elements each sequence adds: valid steps (x outputs), or its one row */
        long O = ta.ndim == (per_step ? 3 : 2) ? ta.shape[ta.ndim - 1] : 1, C = 0;
        long cnt[64];
        for (int b = 0; b < B; b++) {
            long L = ((long long *)la.data)[b];
            cnt[b] = (per_step ? L : 1) * (ce ? 1 : O);
            C += cnt[b];
        }
        double *acc = NULL;
        long total = 0;
        for (int k = 0; k < all.n; k++)
            total += numel(&all.t[k]);
        acc = calloc((size_t)total, sizeof *acc);
        for (int b = 0; b < B; b++) {
            int L = (int)((long long *)la.data)[b];
            char *x1 = tu_strf("%s/x1.npy", tmp), *t1 = tu_strf("%s/t1.npy", tmp);
            slice_npy(xp, x1, b, L, 1, bf);
            slice_npy(tp, t1, b, L, per_step, bf);
            Rnnc r;
            rnnc_init(&r);
            assert_int_equal(rnnc_load(&r, sp), 0);
            RnncGradArgs a = {w, x1, NULL, t1, out, 0, 0, NULL, NULL, NULL, NULL};
            if (rnnc_grad(&r, &a) < 0) {
                diag_render(&r.diag, stderr);
                fail_msg("%s sequence %d alone", f->name, b);
            }
            rnnc_fini(&r);
            RnnrtTensorFile g1;
            assert_int_equal(rnnrt_st_read(out, &g1, &err), 0);
            long pos = 0;
            for (int k = 0; k < all.n; k++) {
                const RnnrtTensor *t = rnnrt_st_find(&g1, all.t[k].name);
                for (long j = 0; j < numel(t); j++)
                    acc[pos++] += (double)cnt[b] / (double)C *
                                  ((double)(t->dtype == RNNRT_F64 ? ((double *)t->data)[j]
                                                                  : ((float *)t->data)[j]));
            }
            rnnrt_st_free(&g1);
            free(x1);
            free(t1);
        }
        long pos = 0;
        int dbl = all.t[0].dtype == RNNRT_F64;
        for (int k = 0; k < all.n; k++) {
            long n = numel(&all.t[k]);
            double *got = malloc((size_t)n * sizeof *got), scale = 0;
            for (long j = 0; j < n; j++) {
                got[j] = at(&all.t[k], j);
                scale = fabs(acc[pos + j]) > scale ? fabs(acc[pos + j]) : scale;
            }
            char *what = tu_strf("%s: packed against one by one, %s", f->name, all.t[k].name);
            tu_assert_close(got, acc + pos, n, dbl ? 1e-10 : 1e-4, (dbl ? 1e-12 : 1e-6) * scale,
                            what);
            free(what);
            free(got);
            pos += n;
        }
        checked++;
        free(acc);
        rnnrt_array_free(&la);
        rnnrt_array_free(&ta);
        rnnrt_st_free(&all);
        free(sp);
        free(w);
        free(lp);
        free(xp);
        free(tp);
    }
    assert_true(checked >= 8);
    free(out);
    tu_rmdir(tmp);
}

static void test_coverage(void **state)
{
    (void)state;
    assert_true(nfx >= 30);
    int kinds[3] = {0};
    for (int i = 0; i < nfx; i++) {
        char *sp = path(&fx[i], "spec.yaml"), *s = tu_read_file(sp, NULL);
        free(sp);
        kinds[0] += strstr(s, "loss: cross_entropy") != NULL;
        kinds[1] += strstr(s, "loss: mse") != NULL;
        kinds[2] += strstr(s, "loss: bce_with_logits") != NULL;
        free(s);
    }
    assert_true(kinds[0] >= 5 && kinds[1] >= 5 && kinds[2] >= 5);
}

/* Bad input to `rnnc grad`: exit 1, a message naming the problem, no output file. */
static void test_errors(void **state)
{
    (void)state;
    const char *root = tu_src_root(), *bin = tu_rnnc_bin();
    char *dir = tu_mkdtemp();
    char *out = tu_strf("%s/g.safetensors", dir);
    const Fixture *ce = NULL;
    for (int i = 0; i < nfx && !ce; i++)
        if (strstr(fx[i].name, "ce_last") && !fx[i].has_lengths)
            ce = &fx[i];
    assert_non_null(ce);
    struct {
        const char *spec, *target, *want;
    } cases[] = {
        /* a spec without loss: */
        {"specs/tagger.yaml", NULL, "says no 'loss:'"},
        /* the fixture's own x as target: floats for cross_entropy */
        {NULL, "x.npy", "class ids"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *spec = cases[k].spec ? tu_strf("%s/%s", root, cases[k].spec)
                                   : tu_strf("%s/spec.yaml", ce->dir);
        char *target = tu_strf("%s/%s", ce->dir, cases[k].target ? cases[k].target : "target.npy");
        char *cmd = tu_strf("'%s' grad '%s' --weights '%s/weights.safetensors' --input "
                            "'%s/x.npy' --target '%s' --output '%s'",
                            bin, spec, ce->dir, ce->dir, target, out);
        char *err = NULL;
        assert_int_equal(tu_run(cmd, NULL, &err), 1);
        if (!strstr(err, cases[k].want))
            fail_msg("%s: expected '%s' in:\n%s", cmd, cases[k].want, err);
        assert_false(tu_exists(out));
        free(err);
        free(cmd);
        free(spec);
        free(target);
    }
    char *cmd = tu_strf("'%s' grad '%s/spec.yaml' --weights w --input x", bin, ce->dir);
    assert_int_equal(tu_run(cmd, NULL, NULL), 2); /* no --target, no --output */
    free(cmd);
    free(out);
    tu_rmdir(dir);
}

int main(void)
{
    char *man = tu_strf("%s/tests/grad_fixtures/manifest.txt", tu_src_root());
    char *text = tu_read_file(man, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", man);
        return 1;
    }
    for (char *line = strtok(text, "\n"); line && nfx < 128; line = strtok(NULL, "\n")) {
        if (!*line || *line == '#')
            continue;
        Fixture *f = &fx[nfx++];
        f->name = tu_strf("%s", line);
        f->dir = tu_strf("%s/tests/grad_fixtures/%s", tu_src_root(), line);
        char *l = path(f, "lengths.npy");
        f->has_lengths = tu_exists(l);
        free(l);
    }
    free(text);
    free(man);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_against_pytorch),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_dropout_finite_differences),
        cmocka_unit_test(test_packed_equals_one_by_one),
        cmocka_unit_test(test_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < nfx; i++) {
        free(fx[i].name);
        free(fx[i].dir);
    }
    return rc;
}
