/* test_import.c — PyTorch models as their users save them (suite cli): torch.save'd
 * state_dicts of real specs (float32, float64, float16, nested modules through the spec's
 * weights: and --rename, nn.DataParallel's module.) through `rnnc run` against PyTorch; initial
 * states (--h0, --c0) against nn.LSTM(x, (h0, c0)), nn.GRU(x, h0) and nn.RNN(x, h0); dh0 and
 * dc0 of `rnnc grad` against autograd (tests/import_fixtures/, tools/gen_import_fixtures.py);
 * train's --save w.pt read back equal to w.safetensors; the REPL's h0 and c0; every error path.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnnrt.h"

#define FX "tests/import_fixtures"

/* One line of run.txt or grad.txt: NAME SPEC [ARGS...]. */
typedef struct Case {
    char name[128], spec[256], args[512];
} Case;

/* The cases of manifest `file` (malloc'd; count in *n). */
static Case *cases(const char *file, int *n)
{
    char *path = tu_strf("%s/" FX "/%s", tu_src_root(), file);
    char *text = tu_read_file(path, NULL);
    if (!text)
        fail_msg("%s: missing (run /usr/bin/python3 tools/gen_import_fixtures.py)", path);
    Case *cs = calloc(64, sizeof *cs);
    *n = 0;
    for (char *line = strtok(text, "\n"); line && *n < 64; line = strtok(NULL, "\n")) {
        Case *c = &cs[(*n)++];
        int used = 0;
        if (sscanf(line, "%127s %255s %n", c->name, c->spec, &used) < 2)
            fail_msg("%s: bad line '%s'", path, line);
        snprintf(c->args, sizeof c->args, "%s", line + used);
    }
    free(text);
    free(path);
    return cs;
}

/* Fixture file NAME/file, or NULL when it does not exist (malloc'd). */
static char *fx(const Case *c, const char *file)
{
    char *p = tu_strf("%s/" FX "/%s/%s", tu_src_root(), c->name, file);
    if (tu_exists(p))
        return p;
    free(p);
    return NULL;
}

/* " --flag 'path'" for an existing fixture file, else "". */
static char *opt(const Case *c, const char *flag, const char *file)
{
    char *p = fx(c, file), *s = p ? tu_strf(" %s '%s'", flag, p) : tu_strf("%s", "");
    free(p);
    return s;
}

/* Runs `cd ROOT && rnnc ARGS`; stdout and stderr into *out and *err (may be NULL). */
static int rnnc(char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rnnc(char **out, char **err, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof args);
    char *cmd = tu_strf("cd '%s' && '%s' %s", tu_src_root(), tu_rnnc_bin(), args);
    int rc = tu_run(cmd, out, err);
    free(cmd);
    return rc;
}

static void has(const char *text, const char *needle, const char *what)
{
    if (!text || !strstr(text, needle))
        fail_msg("%s does not contain \"%s\"; it is:\n%s", what, needle, text ? text : "");
}

static int lines_of(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void expect_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            fail_msg("%s/%s was left behind", dir, e->d_name);
    closedir(d);
}

/* The .npy `got` against the fixture's `want` (path), the forward tolerance of the precision
 * (rtol 0, atol 0: bit for bit). */
static void close_npy(const char *got, const char *want, double rtol, double atol,
                      const char *what)
{
    long n, m, sg[8], sw[8];
    int dg, dw;
    double *g = tu_npy_doubles(got, &n, sg, &dg), *w = tu_npy_doubles(want, &m, sw, &dw);
    if (n != m || dg != dw || memcmp(sg, sw, (size_t)dg * sizeof *sg) != 0)
        fail_msg("%s: shape differs from %s", what, want);
    tu_assert_close(g, w, n, rtol, atol, what);
    free(g);
    free(w);
}

static int is_f64(const char *npy)
{
    RnnrtArray a;
    RnnrtError err;
    if (rnnrt_npy_read(npy, &a, &err) < 0)
        fail_msg("%s", err.msg);
    int f64 = a.dtype == RNNRT_F64;
    rnnrt_array_free(&a);
    return f64;
}

/* ---- against PyTorch ------------------------------------------------------------------ */

/* Every run.txt case within the forward tolerance of PyTorch: y, h_n and c_n; the cases with
 * an initial state also on two threads, bit for bit those of one. */
static void test_run_against_pytorch(void **state)
{
    (void)state;
    int n;
    Case *cs = cases("run.txt", &n);
    assert_true(n >= 15);
    char *dir = tu_mkdtemp();
    for (int i = 0; i < n; i++) {
        const Case *c = &cs[i];
        char *want_y = fx(c, "y.npy"), *want_c = fx(c, "c_n.npy"), *want_h = fx(c, "h_n.npy");
        char *x = fx(c, "x.npy"), *w = fx(c, "model.pt"), *h0 = fx(c, "h0.npy");
        char *len = opt(c, "--lengths", "lengths.npy"), *o_h0 = opt(c, "--h0", "h0.npy");
        char *o_c0 = opt(c, "--c0", "c0.npy");
        assert_non_null(want_y);
        assert_non_null(want_h);
        int f64 = is_f64(want_y);
        double rtol = f64 ? 1e-10 : 1e-5, atol = f64 ? 1e-12 : 1e-6;
        for (int threads = 1; threads <= (h0 ? 2 : 1); threads++) {
            char *err = NULL, *sfx = tu_strf("%d", threads);
            int rc =
                rnnc(NULL, &err,
                     "run '%s' --weights '%s' --input '%s'%s%s%s --output '%s/y%s.npy' "
                     "--h-n '%s/h%s.npy'%s%s%s --threads %d %s",
                     c->spec, w, x, len, o_h0, o_c0, dir, sfx, dir, sfx, want_c ? " --c-n '" : "",
                     want_c ? dir : "", want_c ? (threads == 1 ? "/c1.npy'" : "/c2.npy'") : "",
                     threads, c->args);
            if (rc != 0)
                fail_msg("%s: rnnc run failed (%d):\n%s", c->name, rc, err);
            free(err);
            free(sfx);
        }
        const char *outs[3] = {"y", "h", "c"};
        char *wants[3] = {want_y, want_h, want_c};
        for (int k = 0; k < 3; k++) {
            if (!wants[k])
                continue;
            char *got = tu_strf("%s/%s1.npy", dir, outs[k]);
            char *what = tu_strf("%s: %s against PyTorch", c->name, outs[k]);
            close_npy(got, wants[k], rtol, atol, what);
            if (h0) {
                char *two = tu_strf("%s/%s2.npy", dir, outs[k]);
                char *w2 = tu_strf("%s: %s on two threads", c->name, outs[k]);
                close_npy(two, got, 0, 0, w2);
                free(two);
                free(w2);
            }
            free(got);
            free(what);
        }
        free(want_y), free(want_h), free(want_c), free(x), free(w), free(h0);
        free(len), free(o_h0), free(o_c0);
    }
    free(cs);
    tu_rmdir(dir);
}

/* A tensor file's tensor `name` as doubles; fails when absent. */
static double *tensor_doubles(const RnnrtTensorFile *f, const char *name, long *n)
{
    const RnnrtTensor *t = rnnrt_st_find(f, name);
    if (!t)
        fail_msg("no tensor '%s'", name);
    *n = 1;
    for (int d = 0; d < t->ndim; d++)
        *n *= t->shape[d];
    double *v = malloc((size_t)(*n + 1) * sizeof *v);
    for (long i = 0; i < *n; i++)
        v[i] = t->dtype == RNNRT_F64 ? ((double *)t->data)[i] : ((float *)t->data)[i];
    return v;
}

/* Within the gradient suite's tolerance: 1e-4 relative (1e-10 in float64) plus a floor of
 * 1e-6 (1e-12) of the largest |want|. */
static void close_grad(const double *got, const double *want, long n, int f64, const char *what)
{
    double scale = 0;
    for (long i = 0; i < n; i++)
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    tu_assert_close(got, want, n, f64 ? 1e-10 : 1e-4, (f64 ? 1e-12 : 1e-6) * scale, what);
}

/* Every grad.txt case: the loss, every parameter's gradient, dL/dh0 and dL/dc0 against
 * autograd's. */
static void test_grad_against_autograd(void **state)
{
    (void)state;
    int n;
    Case *cs = cases("grad.txt", &n);
    assert_true(n >= 8);
    char *dir = tu_mkdtemp();
    for (int i = 0; i < n; i++) {
        const Case *c = &cs[i];
        char *x = fx(c, "x.npy"), *w = fx(c, "model.pt"), *t = fx(c, "target.npy");
        char *len = opt(c, "--lengths", "lengths.npy"), *o_h0 = opt(c, "--h0", "h0.npy");
        char *o_c0 = opt(c, "--c0", "c0.npy"), *dc0 = fx(c, "dc0.npy"), *dh0 = fx(c, "dh0.npy");
        char *out = NULL, *err = NULL;
        int rc =
            rnnc(&out, &err,
                 "grad '%s' --weights '%s' --input '%s' --target '%s'%s%s%s --dh0 '%s/dh0.npy'"
                 "%s%s%s --output '%s/g.pt' %s",
                 c->spec, w, x, t, len, o_h0, o_c0, dir, dc0 ? " --dc0 '" : "", dc0 ? dir : "",
                 dc0 ? "/dc0.npy'" : "", dir, c->args);
        if (rc != 0)
            fail_msg("%s: rnnc grad failed (%d):\n%s", c->name, rc, err);
        int f64 = is_f64(dh0);
        char *lp = fx(c, "loss.npy");
        double loss = 0, *want_loss = tu_npy_doubles(lp, NULL, NULL, NULL);
        assert_int_equal(sscanf(out, "loss %lf", &loss), 1);
        char *what = tu_strf("%s: loss", c->name);
        tu_assert_close(&loss, want_loss, 1, 1e-7, 0, what); /* printed with %.9g */
        free(what);
        RnnrtTensorFile got, want;
        RnnrtError e;
        char *gp = tu_strf("%s/g.pt", dir), *wp = fx(c, "grads.safetensors");
        if (rnnrt_tensors_read(gp, &got, &e) < 0 || rnnrt_tensors_read(wp, &want, &e) < 0)
            fail_msg("%s", e.msg);
        assert_int_equal(got.n, want.n);
        for (int k = 0; k < want.n; k++) {
            long ng, nw;
            double *a = tensor_doubles(&got, want.t[k].name, &ng);
            double *b = tensor_doubles(&want, want.t[k].name, &nw);
            assert_int_equal(ng, nw);
            what = tu_strf("%s: d loss / d %s", c->name, want.t[k].name);
            close_grad(a, b, nw, f64, what);
            free(what), free(a), free(b);
        }
        const char *st[2] = {"dh0", "dc0"};
        char *want_st[2] = {dh0, dc0};
        for (int k = 0; k < 2 && want_st[k]; k++) {
            char *gpath = tu_strf("%s/%s.npy", dir, st[k]);
            long ng, nw, sg[8], sw[8];
            double *a = tu_npy_doubles(gpath, &ng, sg, NULL);
            double *b = tu_npy_doubles(want_st[k], &nw, sw, NULL);
            assert_int_equal(ng, nw);
            assert_memory_equal(sg, sw, 3 * sizeof *sg);
            what = tu_strf("%s: d loss / d %s", c->name, st[k] + 1);
            close_grad(a, b, nw, f64, what);
            free(what), free(a), free(b), free(gpath);
        }
        rnnrt_st_free(&got);
        rnnrt_st_free(&want);
        free(gp), free(wp), free(lp), free(want_loss), free(out), free(err), free(x), free(w),
            free(t);
        free(len), free(o_h0), free(o_c0), free(dc0), free(dh0);
    }
    free(cs);
    tu_rmdir(dir);
}

/* ---- the other commands ------------------------------------------------------------- */

static const char *const nested_spec = FX "/nested_seq_classifier/spec.yaml";

/* Deployed code from a .pt through the spec's weights: and through --rename. */
static void test_emit_deployed(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *err = NULL;
    assert_int_equal(rnnc(NULL, &err,
                          "'%s' -o '%s/n.c' --weights " FX
                          "/dp_nested_seq_classifier/model.pt --no-selftest",
                          nested_spec, dir),
                     0);
    free(err);
    char *c = tu_strf("%s/n.c", dir), *h = tu_strf("%s/n.h", dir);
    assert_true(tu_exists(c) && tu_exists(h));
    assert_int_equal(rnnc(NULL, &err,
                          "specs/channel_tracker.yaml -o '%s/t.c' --weights " FX
                          "/dp_channel_tracker/model.pt --rename module.=",
                          dir),
                     0);
    free(err);
    char *sub = tu_strf("%s/none", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(rnnc(NULL, &err,
                          "specs/channel_tracker.yaml -o '%s/t.c' --weights " FX
                          "/dp_channel_tracker/model.pt",
                          sub),
                     1);
    has(err, "did you mean: --rename module.=, or in the spec: weights: {strip: module}",
        "stderr");
    expect_empty_dir(sub);
    free(err), free(c), free(h), free(sub);
    tu_rmdir(dir);
}

/* Reads both files; their tensors must be the same: names, order, dtypes, shapes, bits. */
static void same_tensors(const char *a, const char *b)
{
    RnnrtTensorFile fa, fb;
    RnnrtError e;
    if (rnnrt_tensors_read(a, &fa, &e) < 0 || rnnrt_tensors_read(b, &fb, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(fa.n, fb.n);
    for (int i = 0; i < fa.n; i++) {
        const RnnrtTensor *x = &fa.t[i], *y = &fb.t[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->ndim, y->ndim);
        long n = 1;
        for (int d = 0; d < x->ndim; d++) {
            assert_int_equal(x->shape[d], y->shape[d]);
            n *= x->shape[d];
        }
        assert_memory_equal(x->data, y->data, (size_t)n * (size_t)rnnrt_dtype_size(x->dtype));
    }
    rnnrt_st_free(&fa);
    rnnrt_st_free(&fb);
}

/* A spec for tests/pt_fixtures/dataparallel.pt (module.rnn: LSTM(3, 4), module.fc:
 * Linear(4, 2)) and data for it, in dir. */
static void dp_setup(const char *dir)
{
    char *spec = tu_strf("%s/dp.yaml", dir);
    tu_write_file(spec, "name: dp\ninput_size: 3\nbatch_first: true\nlayers:\n  - name: rnn\n"
                        "    cell: lstm\n    hidden_size: 4\nhead:\n  name: fc\n"
                        "  out_features: 2\nloss: mse\ntrain:\n  epochs: 2\n  batch_size: 2\n");
    float x[4 * 5 * 3], y[4 * 2];
    for (int i = 0; i < 60; i++)
        x[i] = (float)((i * 37 % 19) / 9.5 - 1.0);
    for (int i = 0; i < 8; i++)
        y[i] = (float)((i * 5 % 7) / 3.5 - 1.0);
    RnnrtArray ax = {RNNRT_F32, 3, {4, 5, 3}, x}, ay = {RNNRT_F32, 2, {4, 2}, y};
    RnnrtError e;
    char *xp = tu_strf("%s/x.npy", dir), *yp = tu_strf("%s/y.npy", dir);
    assert_int_equal(rnnrt_npy_write(xp, &ax, &e), 0);
    assert_int_equal(rnnrt_npy_write(yp, &ay, &e), 0);
    free(spec), free(xp), free(yp);
}

/* train --init from a DataParallel .pt (--rename module.=), --save as .pt and as safetensors:
 * the same tensors bit for bit (tools/gen_import_fixtures.py --verify W.pt W.safetensors checks
 * torch.load's view); grad and the REPL's weights take --rename too. */
static void test_train_save_pt(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *err = NULL, *out = NULL;
    dp_setup(dir);
    const char *dp = "tests/pt_fixtures/dataparallel.pt";
    for (int k = 0; k < 2; k++) {
        int rc = rnnc(NULL, &err,
                      "train '%s/dp.yaml' --input '%s/x.npy' --target '%s/y.npy' --init %s "
                      "--rename module.= --save '%s/w.%s'",
                      dir, dir, dir, dp, dir, k ? "safetensors" : "pt");
        if (rc != 0)
            fail_msg("rnnc train failed (%d):\n%s", rc, err);
        free(err);
    }
    char *a = tu_strf("%s/w.pt", dir), *b = tu_strf("%s/w.safetensors", dir);
    same_tensors(a, b);
    /* without the rename: the did-you-mean, nothing saved */
    assert_int_equal(rnnc(NULL, &err,
                          "train '%s/dp.yaml' --input '%s/x.npy' --target '%s/y.npy' --init %s "
                          "--save '%s/w2.pt'",
                          dir, dir, dir, dp, dir),
                     1);
    has(err, "did you mean: --rename module.=, or in the spec: weights: {strip: module}",
        "stderr");
    free(err);
    char *w2 = tu_strf("%s/w2.pt", dir);
    assert_false(tu_exists(w2));
    assert_int_equal(rnnc(&out, &err,
                          "grad '%s/dp.yaml' --weights %s --rename module.= --input '%s/x.npy' "
                          "--target '%s/y.npy' --output '%s/g.safetensors'",
                          dir, dp, dir, dir, dir),
                     0);
    has(out, "loss ", "stdout");
    free(out), free(err);
    assert_int_equal(
        rnnc(&out, &err, "repl '%s/dp.yaml' --weights %s --rename module.= < /dev/null", dir, dp),
        0);
    has(out, "weights loaded from", "the REPL's output");
    free(out), free(err);
    char *cmd = tu_strf("cd '%s' && printf 'load %s/dp.yaml\\nweights %s module.=\\n"
                        "weights %s\\n' | '%s' repl",
                        tu_src_root(), dir, dp, dp, tu_rnnc_bin());
    assert_int_equal(tu_run(cmd, &out, &err), 1); /* the second weights fails */
    has(out, "weights loaded from", "the REPL's output");
    has(err, "--rename module.=", "the REPL's errors");
    free(cmd), free(out), free(err), free(a), free(b), free(w2);
    tu_rmdir(dir);
}

/* The REPL's run from h0 = load and c0 = load prints what rnnc run --h0 --c0 --print does:
 * one sequence, and 3000 steps (run in pieces, the state carried). */
static void test_repl_state0(void **state)
{
    (void)state;
    const char *d = FX "/h0_lstm_l1_len";
    char *dir = tu_mkdtemp(), *longx = tu_strf("%s/long.npy", dir);
    float *v = malloc(3000 * 4 * sizeof *v);
    for (int i = 0; i < 3000 * 4; i++)
        v[i] = (float)((i * 7919 % 1000) / 500.0 - 1.0);
    RnnrtArray a = {RNNRT_F32, 3, {1, 3000, 4}, v};
    RnnrtError e;
    assert_int_equal(rnnrt_npy_write(longx, &a, &e), 0);
    char *xs[2] = {tu_strf("%s/seq_x.npy", d), longx};
    for (int k = 0; k < 2; k++) {
        char *cmd = tu_strf("cd '%s' && printf 'load %s/spec.yaml\\nweights %s/model.pt\\n"
                            "h0 = load %s/seq_h0.npy\\nc0 = load %s/seq_c0.npy\\nx = load %s\\n"
                            "run\\n' | '%s' repl",
                            tu_src_root(), d, d, d, d, xs[k], tu_rnnc_bin());
        char *repl = NULL, *cli = NULL;
        assert_int_equal(tu_run(cmd, &repl, NULL), 0);
        assert_int_equal(rnnc(&cli, NULL,
                              "run %s/spec.yaml --weights %s/model.pt --input %s --h0 "
                              "%s/seq_h0.npy --c0 %s/seq_c0.npy --print",
                              d, d, xs[k], d, d),
                         0);
        char *p = strstr(repl, "output ("), *q = strstr(cli, "output (");
        assert_non_null(p);
        assert_non_null(q);
        assert_string_equal(p, q);
        free(cmd), free(repl), free(cli);
    }
    free(xs[0]), free(longx), free(v);
    tu_rmdir(dir);
}

/* ---- hostile inputs: exit 1 (2 for bad usage), a clear message, nothing written ------- */

static void test_bad_rename(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *bad[] = {"encoder.rnn", "=rnn", "a..b=rnn", "a=b c", ".a=rnn", "a=b=c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = NULL;
        int rc = rnnc(NULL, &err,
                      "run specs/seq_classifier.yaml --weights examples/seq_classifier/model.pt "
                      "--input examples/seq_classifier/x.npy --output '%s/y.npy' --rename '%s'",
                      dir, bad[i]);
        if (rc != 2)
            fail_msg("--rename '%s': exit status %d, expected 2:\n%s", bad[i], rc, err);
        has(err, "--rename", "stderr");
        has(err, "OLD", "stderr");
        free(err);
    }
    const char *cmds[] = {
        "grad specs/seq_classifier.yaml --weights w --input x --target t --output '%s/g'",
        "train specs/seq_classifier.yaml --input x --target t --save '%s/w.pt'",
        "specs/seq_classifier.yaml -o '%s/m.c' --weights examples/seq_classifier/model.pt",
        "repl specs/seq_classifier.yaml --weights w%.0s"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *args = tu_strf(cmds[i], dir), *err = NULL;
        assert_int_equal(rnnc(NULL, &err, "%s --rename nothing < /dev/null", args), 2);
        has(err, "OLD=NEW", "stderr");
        free(args), free(err);
    }
    expect_empty_dir(dir);
    tu_rmdir(dir);
}

/* Names that do not match: one error per block or head and a note with the fix. */
static void test_did_you_mean(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *err = NULL;
    const char *nested = FX "/nested_seq_classifier/model.pt";
    const char *run = "run specs/seq_classifier.yaml --input examples/seq_classifier/x.npy";
    assert_int_equal(rnnc(NULL, &err, "%s --weights %s --output '%s/y.npy'", run, nested, dir), 1);
    has(err,
        "block 'rnn': none of its 8 tensors (e.g. 'rnn.weight_ih_l0') is in the file, "
        "which has them as 'encoder.rnn.*'",
        "stderr");
    has(err,
        "did you mean: --rename encoder.rnn=rnn --rename classifier.fc=head, or in the "
        "spec: weights: {map: {rnn: encoder.rnn, head: classifier.fc}}",
        "stderr");
    assert_true(lines_of(err) == 3);
    free(err);
    /* half mapped: the head still missing */
    assert_int_equal(rnnc(NULL, &err,
                          "%s --weights %s --output '%s/y.npy' --rename encoder.rnn=rnn", run,
                          nested, dir),
                     1);
    has(err, "head 'head': none of its 2 tensors", "stderr");
    has(err, "did you mean: --rename classifier.fc=head,", "stderr");
    free(err);
    /* nn.DataParallel and a nested module: strip and map */
    assert_int_equal(rnnc(NULL, &err,
                          "%s --weights " FX "/dp_nested_seq_classifier/model.pt --output "
                          "'%s/y.npy'",
                          run, dir),
                     1);
    has(err,
        "did you mean: --rename module.= --rename encoder.rnn=rnn --rename "
        "classifier.fc=head, or in the spec: weights: {strip: module, map: {rnn: "
        "encoder.rnn, head: classifier.fc}}",
        "stderr");
    free(err);
    /* a block named otherwise than in the file */
    char *spec = tu_strf("%s/lstm.yaml", dir),
         *p = tu_strf("%s/specs/seq_classifier.yaml", tu_src_root());
    char *text = tu_read_file(p, NULL), *y = tu_strf("%s/y.npy", dir);
    free(p);
    char *at = strstr(text, "name: rnn");
    assert_non_null(at);
    memcpy(at, "name: enc", 9);
    tu_write_file(spec, text);
    assert_int_equal(rnnc(NULL, &err,
                          "run '%s' --weights examples/seq_classifier/model.pt --input "
                          "examples/seq_classifier/x.npy --output '%s/y.npy'",
                          spec, dir),
                     1);
    has(err,
        "did you mean: --rename rnn=enc, or in the spec: weights: {map: {enc: rnn}}, or "
        "name it 'rnn' in the spec",
        "stderr");
    free(err);
    /* a mapping the file does not need */
    char *dup = tu_strf("%sweights:\n  map: {enc: encoder.rnn}\n", text);
    tu_write_file(spec, dup);
    assert_int_equal(rnnc(NULL, &err,
                          "run '%s' --weights examples/seq_classifier/model.pt --input "
                          "examples/seq_classifier/x.npy --output '%s/y.npy' --rename rnn=enc",
                          spec, dir),
                     0); /* --rename wins over the spec's map */
    free(err);
    unlink(y);
    unlink(spec);
    free(spec), free(text), free(dup), free(y);
    expect_empty_dir(dir);
    tu_rmdir(dir);
}

/* Wrong initial states: the expected shape named, exit 1, nothing written. */
static void test_bad_state(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *err = NULL;
    const char *d = FX "/h0_lstm_l1_len", *g = FX "/h0_gru_l2_tbf_len";
    char *base = tu_strf("run %s/spec.yaml --weights %s/model.pt --input %s/x.npy --output "
                         "'%s/y.npy' --h-n '%s/h.npy'",
                         d, d, d, dir, dir);
    struct {
        const char *args, *msg;
    } bad[] = {
        {"--h0 %s/seq_h0.npy",
         "h0 has shape (1, 1, 5), expected (1, 3, 5): (num_layers*directions, "
         "B, hidden_size) of the top block 'rnn', B from the input"},
        {"--c0 %s/x.npy", "c0 has shape (3, 6, 4), expected (1, 3, 5)"},
        {"--h0 %s/lengths.npy", "--h0 must be float32 or float64, found int64"},
        {"--h0 %s/none.npy", "none.npy"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *a = tu_strf(bad[i].args, d);
        assert_int_equal(rnnc(NULL, &err, "%s %s", base, a), 1);
        has(err, bad[i].msg, "stderr");
        free(a), free(err);
    }
    /* a cell state for a GRU */
    assert_int_equal(rnnc(NULL, &err,
                          "run %s/spec.yaml --weights %s/model.pt --input %s/x.npy --output "
                          "'%s/y.npy' --c0 %s/h0.npy",
                          g, g, g, dir, g),
                     1);
    has(err, "--c0: the top block 'rnn' is a GRU; only an LSTM has a cell state", "stderr");
    free(err);
    const char *gr = FX "/grad_gru_bi_l2_len_mse_seq_none";
    char *gbase = tu_strf("grad %s/spec.yaml --weights %s/model.pt --input %s/x.npy --lengths "
                          "%s/lengths.npy --target %s/target.npy",
                          gr, gr, gr, gr, gr);
    assert_int_equal(rnnc(NULL, &err,
                          "%s --output '%s/g.pt' --dh0 '%s/dh0.npy' --dc0 '%s/dc0.npy'", gbase,
                          dir, dir, dir),
                     1);
    has(err, "--dc0: the top block 'rnn' is a GRU", "stderr");
    free(err);
    /* the gradients cannot be written: no dh0 left behind either */
    assert_int_equal(
        rnnc(NULL, &err, "%s --output '%s/no/g.pt' --dh0 '%s/dh0.npy'", gbase, dir, dir), 1);
    free(err);
    expect_empty_dir(dir);
    free(base), free(gbase);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_against_pytorch), cmocka_unit_test(test_grad_against_autograd),
        cmocka_unit_test(test_emit_deployed),       cmocka_unit_test(test_train_save_pt),
        cmocka_unit_test(test_repl_state0),         cmocka_unit_test(test_bad_rename),
        cmocka_unit_test(test_did_you_mean),        cmocka_unit_test(test_bad_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
