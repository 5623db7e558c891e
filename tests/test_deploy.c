/* test_deploy.c — deployable code (`rnnc SPEC -o OUT.c --weights W`): for every spec in
 * specs/ with bundled weights (examples/<spec>/), the files compile warning-free with gcc
 * and clang and from C++; the object needs no symbol beyond exp/tanh of libm (none with
 * math: builtin); <name>_forward matches PyTorch, the JIT path of `rnnc run` and streaming
 * through <name>_step; the self-test passes, and fails once a weight is changed.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "host.h"
#include "rnnrt.h"

static char **specs;
static int nspecs;
static const char *const strict = "-std=c11 -Wall -Wextra -Wpedantic -Werror";

static void run_ok(const char *cmd)
{
    char *err = NULL;
    int st = tu_run(cmd, NULL, &err);
    if (st != 0)
        fail_msg("failed (status %d): %s\n%s", st, cmd, err ? err : "");
    free(err);
}

/* One spec's deployed files in a temporary directory. */
typedef struct Dep {
    char *stem, *dir, *c, *so;
    Rnnc r;
    void *lib;
} Dep;

static void dep_make(Dep *d, const char *spec_file, const char *extra)
{
    const char *root = tu_src_root();
    memset(d, 0, sizeof *d);
    d->stem = tu_strf("%s", spec_file);
    d->stem[strlen(d->stem) - 5] = '\0';
    d->dir = tu_mkdtemp();
    d->c = tu_strf("%s/%s.c", d->dir, d->stem);
    d->so = tu_strf("%s/%s.so", d->dir, d->stem);
    char *cmd =
        tu_strf("cd '%s' && '%s' specs/%s -o '%s' --weights examples/%s/weights.safetensors"
                " %s",
                root, tu_rnnc_bin(), spec_file, d->c, d->stem, extra);
    run_ok(cmd);
    free(cmd);
    rnnc_init(&d->r);
    char *spec = tu_strf("%s/specs/%s", root, spec_file);
    assert_int_equal(rnnc_load(&d->r, spec), 0);
    free(spec);
}

static void dep_load(Dep *d)
{
    /* -march=native: its products fused where the machine has FMA, as the JIT's are */
    char *cmd = tu_strf("gcc %s -O2 -march=native -fPIC -shared '%s' -o '%s' -lm", strict, d->c,
                        d->so);
    run_ok(cmd);
    free(cmd);
    d->lib = dlopen(d->so, RTLD_NOW | RTLD_LOCAL);
    if (!d->lib)
        fail_msg("dlopen: %s", dlerror());
}

static void *dep_sym(Dep *d, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s_%s", d->r.net->name, what);
    return dlsym(d->lib, name);
}

static void dep_free(Dep *d)
{
    if (d->lib)
        dlclose(d->lib);
    rnnc_fini(&d->r);
    tu_rmdir(d->dir);
    free(d->stem);
    free(d->c);
    free(d->so);
}

static int has_weights(const char *spec_file)
{
    char *stem = tu_strf("%s", spec_file);
    stem[strlen(stem) - 5] = '\0';
    char *w = tu_strf("%s/examples/%s/weights.safetensors", tu_src_root(), stem);
    int ok = tu_exists(w);
    free(w);
    free(stem);
    return ok;
}

static void test_specs_have_weights(void **state)
{
    (void)state;
    int n = 0;
    for (int i = 0; i < nspecs; i++)
        n += has_weights(specs[i]);
    assert_int_equal(n, nspecs);
    assert_true(nspecs >= 5);
}

/* gcc and clang, -O2 and -O3 -march=native: no warning, and the object's undefined
 * symbols are at most exp and tanh (none with math: builtin). */
static void test_compile_and_symbols(void **state)
{
    (void)state;
    int vec = 0; /* files whose cells take their gates by vectors (prelude.c's vec_f32) */
    for (int i = 0; i < nspecs; i++) {
        Dep d;
        dep_make(&d, specs[i], "");
        char *text = tu_read_file(d.c, NULL);
        assert_non_null(text);
        vec += strstr(text, "rv_sigmoid_n(vi + 0, ") != NULL;
        free(text);
        const char *ccs[] = {"gcc", "clang"}, *opts[] = {"-O2", "-O3 -march=native", "-O0"};
        for (int k = 0; k < 2; k++)
            for (int o = 0; o < 3; o++) {
                char *cmd =
                    tu_strf("%s %s %s -c '%s' -o '%s.o'", ccs[k], strict, opts[o], d.c, d.c);
                run_ok(cmd);
                free(cmd);
                cmd = tu_strf("nm -u '%s.o'", d.c);
                char *out = NULL;
                assert_int_equal(tu_run(cmd, &out, NULL), 0);
                free(cmd);
                for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                    char *sym = strrchr(line, ' ') ? strrchr(line, ' ') + 1 : line;
                    int math = !strcmp(sym, "expf") || !strcmp(sym, "tanhf") ||
                               !strcmp(sym, "exp") || !strcmp(sym, "tanh");
                    if (!math || d.r.net->math_builtin)
                        fail_msg("%s (%s %s): undefined symbol '%s'", specs[i], ccs[k], opts[o],
                                 sym);
                }
                free(out);
            }
        dep_free(&d);
    }
    assert_true(vec >= 2); /* seq_classifier's and projected_lstm's LSTMs: the path is taken */
}

/* The header from C++, linked with the C object; the self-test runs from there. */
static void test_cxx(void **state)
{
    (void)state;
    if (tu_run("command -v g++", NULL, NULL) != 0)
        skip();
    for (int i = 0; i < nspecs; i++) {
        Dep d;
        dep_make(&d, specs[i], "");
        char *cc = tu_strf("%s/main.cc", d.dir);
        char *src = tu_strf("#include \"%s.h\"\nint main() { return %s_selftest(); }\n", d.stem,
                            d.r.net->name);
        assert_int_equal(tu_write_file(cc, src), 0);
        char *cmd = tu_strf("cd '%s' && gcc %s -O2 -c '%s' -o m.o && g++ -std=c++11 -Wall "
                            "-Wextra -Wpedantic -Werror main.cc m.o -o main -lm && ./main",
                            d.dir, strict, d.c);
        run_ok(cmd);
        free(cmd);
        free(src);
        free(cc);
        dep_free(&d);
    }
}

typedef int (*FwdFn)(const void *, int, void *, void *);
typedef void (*StepFn)(void *, const void *, void *);
typedef void (*ResetFn)(void *);

/* Per sequence of the bundled input: forward against PyTorch and against the JIT, and
 * streaming step by step against forward. */
static void test_forward_step_pytorch(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    for (int i = 0; i < nspecs; i++) {
        Dep d;
        dep_make(&d, specs[i], "");
        dep_load(&d);
        const Net *net = d.r.net;
        const Plan *p = d.r.plan;
        int dbl = net->dbl, rs = dbl ? 8 : 4;
        int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
        FwdFn fwd;
        StepFn step;
        ResetFn reset;
        void *s = dep_sym(&d, "forward");
        assert_non_null(s);
        memcpy(&fwd, &s, sizeof s);
        int stream = p->can_stream;
        s = dep_sym(&d, "step");
        assert_true(stream ? s != NULL : s == NULL);
        memcpy(&step, &s, sizeof s);
        s = dep_sym(&d, "reset");
        memcpy(&reset, &s, sizeof s);
        /* the JIT's output for the same input, as `rnnc run` writes it */
        char *xp = tu_strf("%s/examples/%s/x.npy", root, d.stem);
        char *lp = tu_strf("%s/examples/%s/lengths.npy", root, d.stem);
        char *yp = tu_strf("%s/examples/%s/y_pytorch.npy", root, d.stem);
        char *yj = tu_strf("%s/y_jit.npy", d.dir);
        char *cmd = tu_strf("cd '%s' && '%s' run specs/%s --weights "
                            "examples/%s/weights.safetensors --input '%s' %s%s --output '%s'",
                            root, tu_rnnc_bin(), specs[i], d.stem, xp,
                            tu_exists(lp) ? "--lengths " : "", tu_exists(lp) ? lp : "", yj);
        run_ok(cmd);
        long xs[RNNRT_MAX_DIMS];
        double *x = tu_npy_doubles(xp, NULL, xs, NULL), *yt = tu_npy_doubles(yp, NULL, NULL, NULL);
        double *jy = tu_npy_doubles(yj, NULL, NULL, NULL);
        int B = (int)xs[net->batch_first ? 0 : 1], T = (int)xs[net->batch_first ? 1 : 0];
        int I = net->input_size, O = net->out_size;
        int len[8];
        for (int b = 0; b < B; b++)
            len[b] = T;
        if (tu_exists(lp)) {
            RnnrtArray la;
            RnnrtError err;
            assert_int_equal(rnnrt_npy_read(lp, &la, &err), 0);
            for (int b = 0; b < B; b++)
                len[b] = (int)((long long *)la.data)[b];
            rnnrt_array_free(&la);
        }
        unsigned char *xb = malloc((size_t)T * I * rs), *yb = malloc((size_t)T * O * rs);
        unsigned char *y1 = malloc((size_t)O * rs);
        void *work = calloc(1, (size_t)p->deploy_work_bytes);
        void *st = calloc(1, (size_t)p->state_bytes + 16);
        double *got = malloc((size_t)T * O * sizeof *got),
               *want = malloc((size_t)T * O * sizeof *want);
        double *jit = malloc((size_t)T * O * sizeof *jit);
        for (int b = 0; b < B; b++) {
            int L = len[b];
            for (int t = 0; t < L; t++)
                for (int k = 0; k < I; k++) {
                    double v = net->batch_first ? x[((long)b * T + t) * I + k]
                                                : x[((long)t * B + b) * I + k];
                    if (dbl)
                        ((double *)xb)[t * I + k] = v;
                    else
                        ((float *)xb)[t * I + k] = (float)v;
                }
            assert_int_equal(fwd(xb, L, yb, work), 0);
            int rows = per_step ? L : 1;
            for (int t = 0; t < rows; t++)
                for (int k = 0; k < O; k++) {
                    long at = (long)t * O + k;
                    long src = !per_step          ? (long)b * O + k
                               : net->batch_first ? ((long)b * T + t) * O + k
                                                  : ((long)t * B + b) * O + k;
                    got[at] = dbl ? ((double *)yb)[at] : ((float *)yb)[at];
                    want[at] = yt[src];
                    jit[at] = jy[src];
                }
            char *what = tu_strf("%s sequence %d: forward against PyTorch", d.stem, b);
            tu_assert_close(got, want, (long)rows * O, dbl ? 1e-12 : 1e-5, dbl ? 1e-13 : 1e-6,
                            what);
            free(what);
            what = tu_strf("%s sequence %d: forward against the JIT", d.stem, b);
            if (tu_has_fma())
                tu_assert_close(got, jit, (long)rows * O, 0, 0, what);
            else
                tu_assert_close(got, jit, (long)rows * O, dbl ? 1e-12 : 1e-5, dbl ? 1e-13 : 1e-6,
                                what);
            free(what);
            if (!stream)
                continue;
            reset(st);
            for (int t = 0; t < L; t++) {
                step(st, xb + (size_t)t * I * rs, y1);
                int row = per_step ? t : 0;
                if (!per_step && t < L - 1)
                    continue;
                for (int k = 0; k < O; k++) {
                    double v = dbl ? ((double *)y1)[k] : ((float *)y1)[k];
                    if (v != got[(long)row * O + k])
                        fail_msg("%s sequence %d: step %d output %d is %.9g, forward gave %.9g",
                                 d.stem, b, t, k, v, got[(long)row * O + k]);
                }
            }
        }
        free(got);
        free(want);
        free(jit);
        free(xb);
        free(yb);
        free(y1);
        free(work);
        free(st);
        free(x);
        free(yt);
        free(jy);
        free(cmd);
        free(xp);
        free(lp);
        free(yp);
        free(yj);
        dep_free(&d);
    }
}

/* The self-test passes on a real build, fails once a weight is changed, and is gone with
 * --no-selftest. */
static void test_selftest(void **state)
{
    (void)state;
    for (int i = 0; i < nspecs; i++) {
        Dep d;
        dep_make(&d, specs[i], "");
        dep_load(&d);
        int (*selftest)(void);
        void *s = dep_sym(&d, "selftest");
        assert_non_null(s);
        memcpy(&selftest, &s, sizeof s);
        assert_int_equal(selftest(), 0);
        dlclose(d.lib);
        d.lib = NULL;
        /* add 0.5 to the first weight */
        char *text = tu_read_file(d.c, NULL);
        char *at = strstr(text, "weights[");
        assert_non_null(at);
        /* the weights alone: not the panels pack writes after them for the run-time API's
         * one-sequence tiles, which deployed code does not have */
        assert_int_equal(strtol(at + strlen("weights["), NULL, 10), d.r.plan->npacked_w);
        if (strcmp(specs[i], "seq_classifier.yaml") == 0)
            assert_true(d.r.plan->npacked > d.r.plan->npacked_w);
        at = strstr(at, "= {");
        assert_non_null(at);
        at += 3;
        while (*at == ' ' || *at == '\n')
            at++;
        char *end;
        double v = strtod(at, &end);
        char *patched = tu_strf("%.*s%.9g%s", (int)(at - text), text, v + 0.5, end);
        assert_int_equal(tu_write_file(d.c, patched), 0);
        free(text);
        free(patched);
        free(d.so);
        d.so = tu_strf("%s/%s_perturbed.so", d.dir, d.stem);
        dep_load(&d);
        s = dep_sym(&d, "selftest");
        memcpy(&selftest, &s, sizeof s);
        if (selftest() == 0)
            fail_msg("%s: the self-test passed with a changed weight", specs[i]);
        dep_free(&d);

        dep_make(&d, specs[i], "--no-selftest");
        text = tu_read_file(d.c, NULL);
        assert_null(strstr(text, "selftest"));
        free(text);
        char *cmd = tu_strf("gcc %s -c '%s' -o '%s.o'", strict, d.c, d.c);
        run_ok(cmd);
        free(cmd);
        dep_free(&d);
    }
}

/* Same spec and weights, same bytes. */
static void test_deterministic(void **state)
{
    (void)state;
    for (int i = 0; i < nspecs; i++) {
        Dep a, b;
        dep_make(&a, specs[i], "");
        dep_make(&b, specs[i], "");
        const char *exts[] = {"c", "h"};
        for (int k = 0; k < 2; k++) {
            char *pa = tu_strf("%s/%s.%s", a.dir, a.stem, exts[k]);
            char *pb = tu_strf("%s/%s.%s", b.dir, b.stem, exts[k]);
            char *ta = tu_read_file(pa, NULL), *tb = tu_read_file(pb, NULL);
            assert_string_equal(ta, tb);
            free(ta);
            free(tb);
            free(pa);
            free(pb);
        }
        dep_free(&a);
        dep_free(&b);
    }
}

/* Bad weights for deployment: a clear message, exit 1, no file left behind. */
static void test_bad_weights(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *cmd = tu_strf("cd '%s' && '%s' specs/tagger.yaml -o '%s/m.c' --weights "
                        "examples/seq_classifier/weights.safetensors",
                        tu_src_root(), tu_rnnc_bin(), dir);
    char *err = NULL;
    assert_int_equal(tu_run(cmd, NULL, &err), 1);
    assert_non_null(strstr(err, "missing tensor 'encoder.weight_ih_l0'"));
    char *c = tu_strf("%s/m.c", dir), *h = tu_strf("%s/m.h", dir);
    assert_false(tu_exists(c));
    assert_false(tu_exists(h));
    free(err);
    free(cmd);
    free(c);
    free(h);
    tu_rmdir(dir);
}

/* examples/stream builds with the plain cc command of its README section, and runs. */
static void test_stream_example(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *cmd = tu_strf("cd '%s' && '%s' specs/channel_tracker.yaml -o '%s/channel_tracker.c' "
                        "--weights examples/channel_tracker/weights.safetensors && cc -std=c11 "
                        "-O2 -Wall -Wextra -Wpedantic -Werror -I'%s' examples/stream/stream.c "
                        "'%s/channel_tracker.c' -o '%s/stream' && '%s/stream'",
                        tu_src_root(), tu_rnnc_bin(), dir, dir, dir, dir, dir);
    char *out = NULL;
    char *err = NULL;
    int st = tu_run(cmd, &out, &err);
    if (st != 0)
        fail_msg("%s\n%s%s", cmd, out ? out : "", err ? err : "");
    assert_non_null(strstr(out, "prediction"));
    int lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 17);
    free(out);
    free(err);
    free(cmd);
    tu_rmdir(dir);
}

int main(void)
{
    char *dir = tu_strf("%s/specs", tu_src_root());
    specs = tu_list_dir(dir, ".yaml", &nspecs);
    free(dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specs_have_weights),
        cmocka_unit_test(test_compile_and_symbols),
        cmocka_unit_test(test_cxx),
        cmocka_unit_test(test_forward_step_pytorch),
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_weights),
        cmocka_unit_test(test_stream_example),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_free_list(specs, nspecs);
    return rc;
}
