/* test_quant.c — quantised deployment (deploy.quantize, --quantize): the fixed-point tables'
 * error over every input; the multipliers; for every spec in specs/ and every mode, the
 * written code warning-free under gcc and clang, bit for bit the same at -O0 and -O3 as the
 * JIT-compiled code that made its golden outputs (a checksum over a longer sequence), no
 * undefined symbol in the integer modes, a self-test that fails once a weight changes, the
 * sizes of `rnnc check`; the accuracy against the float model on the learning examples and
 * the channel tracker (held-out sets); the error report; bad calibration data and weights
 * that overflow a format; the REPL's quantize command.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qhost.h"

static char **specs;
static int nspecs;
static const char *const modes[] = {"int8-weights", "int8", "int16"};
static const char *const strict = "-std=c11 -Wall -Wextra -Wpedantic -Werror";

static void run_ok(const char *cmd, char **out)
{
    char *err = NULL;
    int st = tu_run(cmd, out, &err);
    if (st != 0)
        fail_msg("failed (status %d): %s\n%s", st, cmd, err ? err : "");
    free(err);
}

/* The spec's stem ("tagger" of "tagger.yaml"), malloc'd. */
static char *stem_of(const char *spec_file)
{
    char *s = tu_strf("%s", spec_file);
    s[strlen(s) - 5] = '\0';
    return s;
}

/* The calibration options of a bundled spec: its example input (and lengths). */
static char *calib_opts(const char *stem)
{
    const char *root = tu_src_root();
    char *l = tu_strf("%s/examples/%s/lengths.npy", root, stem);
    char *s = tu_strf("--calib '%s/examples/%s/x.npy'%s%s%s", root, stem,
                      tu_exists(l) ? " --calib-lengths '" : "", tu_exists(l) ? l : "",
                      tu_exists(l) ? "'" : "");
    free(l);
    return s;
}

/* ---- the fixed-point functions --------------------------------------------------------- */

/* templates/quant.c compiled on its own, then its sigmoid, tanh and exp against libm over
 * every input: the figures the README and quant.h state. */
static void test_tables(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *src = tu_strf("%s/t.c", dir);
    char *text =
        tu_strf("#include <math.h>\n#include <stdio.h>\n#include \"%s/templates/quant.c\"\n"
                "int main(void) {\n"
                "    double es = 0, et = 0, ee = 0;\n"
                "    for (int v = -32768; v <= 32767; v++) {\n"
                "        double x = v / 4096.0;\n"
                "        es = fmax(es, fabs(q_sigmoid((short)v) / 32768.0 - 1 / (1 + exp(-x))));\n"
                "        et = fmax(et, fabs(q_tanh((short)v) / 32768.0 - tanh(x)));\n"
                "    }\n"
                "    for (int v = -70000; v <= 0; v++)\n"
                "        ee = fmax(ee, fabs(q_exp(v) / 32768.0 - exp(v / 4096.0)));\n"
                "    printf(\"%%.3g %%.3g %%.3g\\n\", es, et, ee);\n"
                "    return 0;\n"
                "}\n",
                tu_src_root());
    assert_int_equal(tu_write_file(src, text), 0);
    char *out = NULL;
    char *cmd = tu_strf("cd '%s' && for cc in gcc clang; do $cc %s -Wno-unused-function "
                        "-Wno-unused-const-variable -c '%s/templates/quant.c' -o q.o || exit 1; "
                        "done && gcc -std=c11 -O2 t.c -o t -lm && ./t",
                        dir, strict, tu_src_root());
    run_ok(cmd, &out);
    double es, et, ee;
    assert_int_equal(sscanf(out, "%lf %lf %lf", &es, &et, &ee), 3);
    printf("fixed-point sigmoid %.3g, tanh %.3g, exp %.3g (largest error over every input)\n", es,
           et, ee);
    assert_true(es <= 4e-5);
    assert_true(et <= 1.2e-4);
    assert_true(ee <= 1.5e-4);
    free(out);
    free(cmd);
    free(text);
    free(src);
    tu_rmdir(dir);
}

static void test_multiplier(void **state)
{
    (void)state;
    int m, e;
    assert_int_equal(quant_multiplier(0.5, 31, &m, &e), 0);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(e, 31);
    assert_int_equal(quant_multiplier(3e-4, 31, &m, &e), 0);
    assert_true(fabs(ldexp(m, -e) / 3e-4 - 1) < 1e-9);
    assert_true(m >= 1 << 30);
    assert_int_equal(quant_multiplier(3e-4, 15, &m, &e), 0);
    assert_true(m >= 1 << 14 && m < 1 << 15);
    assert_int_equal(quant_multiplier(0, 31, &m, &e), 0);
    assert_int_equal(m, 0);
    assert_int_equal(quant_multiplier(1e-30, 31, &m, &e), 0); /* fewer bits, e <= 62 */
    assert_true(e <= 62);
    assert_int_equal(quant_multiplier(1e10, 31, &m, &e), -1);
    assert_int_equal(quant_multiplier(NAN, 31, &m, &e), -1);
}

/* ---- written code --------------------------------------------------------------------- */

/* The host's checksum of <name>_forward on q_main.c's sequence: the JIT-compiled code. */
static unsigned jit_checksum(RnncQuant *q)
{
    const Net *net = q->r->net;
    const QPlan *qp = q->qp;
    int T = net->max_seq_len < 24 ? net->max_seq_len : 24, I = net->input_size;
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long ny = (long)(per_step ? T : 1) * net->out_size;
    size_t es = (size_t)qp->act_size;
    unsigned char *x = calloc((size_t)T * I, es), *y = calloc((size_t)ny, es);
    unsigned s = 12345u;
    for (long i = 0; i < (long)T * I; i++) {
        s = s * 1664525u + 1013904223u;
        int v = (int)(s >> 16) % 255 - 127;
        if (qp->integer && qp->bits == 8)
            ((signed char *)x)[i] = (signed char)v;
        else if (qp->integer)
            ((short *)x)[i] = (short)v;
        else if (net->dbl)
            ((double *)x)[i] = v / 128.0;
        else
            ((float *)x)[i] = (float)v / 128.0f;
    }
    assert_int_equal(q->forward(x, T, y, q->work), 0);
    unsigned h = 2166136261u;
    for (size_t i = 0; i < (size_t)ny * es; i++)
        h = (h ^ y[i]) * 16777619u;
    free(x);
    free(y);
    return h;
}

static char *write_npy(const char *dir, const char *name, long b, long t, long i, double fill);

/* A model's files: spec, weights, calibration input and lengths (NULL when none). */
typedef struct Files {
    char *spec, *weights, *x, *lengths;
} Files;

static Files bundled_files(const char *spec_file)
{
    const char *root = tu_src_root();
    char *stem = stem_of(spec_file);
    Files f = {tu_strf("%s/specs/%s", root, spec_file),
               tu_strf("%s/examples/%s/weights.safetensors", root, stem),
               tu_strf("%s/examples/%s/x.npy", root, stem),
               tu_strf("%s/examples/%s/lengths.npy", root, stem)};
    if (!tu_exists(f.lengths)) {
        free(f.lengths);
        f.lengths = NULL;
    }
    free(stem);
    return f;
}

static void files_free(Files *f)
{
    free(f->spec), free(f->weights), free(f->x), free(f->lengths);
}

/* The model of `f` quantised in memory. */
static RnncQuant *quantise(Rnnc *r, const Files *f, const char *mode)
{
    rnnc_init(r);
    assert_int_equal(rnnc_load(r, f->spec), 0);
    RnncCalib c;
    assert_int_equal(rnnc_calib_load(r, f->x, f->lengths, &c), 0);
    double *params = rnnc_load_weights_double(r, f->weights);
    assert_non_null(params);
    RnncQuant *q = rnnc_quant_new(r, mode, params, &c);
    if (!q)
        rnnc_diag_print(r, stderr);
    assert_non_null(q);
    free(params);
    rnnc_calib_free(&c);
    return q;
}

/* The model of `f` written in `mode`: gcc and clang at -O0 and -O3 (warnings as errors) run
 * the self-test and q_main.c's sequence, whose checksum must be the JIT's; an integer
 * mode's object needs no symbol at all, and runs clean under UBSan. */
static void check_builds(const Files *f, const char *mode, const char *what)
{
    const char *root = tu_src_root();
    Rnnc r;
    RnncQuant *q = quantise(&r, f, mode);
    int integer = q->qp->integer;
    unsigned want = jit_checksum(q);
    char *dir = tu_mkdtemp();
    const char *name = r.net->name;
    char up[80];
    for (size_t c = 0; c <= strlen(name); c++)
        up[c] = (char)(name[c] >= 'a' && name[c] <= 'z' ? name[c] - 32 : name[c]);
    char *bopts = tu_strf("-I. -DMODEL=%s '-DMODEL_H=\"m.h\"' -DMODEL_UP=%s -DELEM=%s_%s "
                          "'%s/tests/cross/q_main.c' m.c sh.c",
                          name, up, name, integer ? "q" : "real", root);
    char *cmd = tu_strf("'%s' '%s' -o '%s/m.c' --weights '%s' --quantize %s --calib '%s' %s%s "
                        "&& cd '%s' && printf '#include <stdio.h>\\nvoid sh_write(const char *s) "
                        "{ fputs(s, stdout); }\\n' > sh.c && for cc in gcc clang; do for o in "
                        "-O0 -O3; do $cc %s $o %s -o m -lm && ./m || exit 1; done; done",
                        tu_rnnc_bin(), f->spec, dir, f->weights, mode, f->x,
                        f->lengths ? "--calib-lengths " : "", f->lengths ? f->lengths : "", dir,
                        strict, bopts);
    char *out = NULL;
    run_ok(cmd, &out);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", want);
    int runs = 0;
    for (char *s = out; (s = strstr(s, "checksum ")) != NULL; s += 9, runs++)
        if (strncmp(s + 9, hex, 8) != 0)
            fail_msg("%s %s: a build's checksum %.8s is not the JIT's %s:\n%s", what, mode, s + 9,
                     hex, out);
    assert_int_equal(runs, 4);
    if (r.plan->can_stream && !strstr(out, "streaming ok"))
        fail_msg("%s %s: streaming differs from forward:\n%s", what, mode, out);
    free(out);
    free(cmd);
    if (integer) { /* the self-test's input spans the whole integer range */
        cmd = tu_strf("cd '%s' && gcc -std=c11 -O1 -fsanitize=undefined "
                      "-fno-sanitize-recover=all %s -o u && ./u && gcc %s -O2 -c m.c -o m.o && "
                      "nm -u m.o",
                      dir, bopts, strict);
        run_ok(cmd, &out);
        if (out && strstr(out, " U "))
            fail_msg("%s %s: undefined symbols:\n%s", what, mode, out);
        free(out);
        free(cmd);
    }
    free(bopts);
    tu_rmdir(dir);
    rnnc_quant_free(q);
    rnnc_fini(&r);
}

static void test_bitexact(void **state)
{
    (void)state;
    for (int i = 0; i < nspecs; i++) {
        Files f = bundled_files(specs[i]);
        for (int k = 0; k < 3; k++)
            check_builds(&f, modes[k], specs[i]);
        files_free(&f);
    }
}

/* What no bundled spec has: a two-layer tanh RNN, an LSTM without biases into a sigmoid
 * head on the last state; weights drawn by PyTorch's initialisation, calibration data of
 * 20 sequences. Every mode bit for bit as above, and within reach of the float model. */
static void test_variants(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    Files f = {tu_strf("%s/v.yaml", dir), tu_strf("%s/v.safetensors", dir), NULL, NULL};
    assert_int_equal(tu_write_file(f.spec, "name: variants\ninput_size: 3\nbatch_first: true\n"
                                           "layers:\n  - name: a\n    cell: rnn\n"
                                           "    hidden_size: 6\n    num_layers: 2\n"
                                           "  - name: b\n    cell: lstm\n    hidden_size: 5\n"
                                           "    bias: false\nhead:\n  out_features: 2\n"
                                           "  input: last\n  activation: sigmoid\n"
                                           "deploy:\n  max_seq_len: 16\n"),
                     0);
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load(&r, f.spec), 0);
    RnncModel *m = rnnc_model_new(&r, 3, NULL, NULL);
    assert_non_null(m);
    assert_int_equal(rnnc_model_save(m, f.weights), 0);
    rnnc_model_free(m);
    rnnc_fini(&r);
    f.x = write_npy(dir, "x.npy", 20, 16, 3, 0);
    for (int k = 0; k < 3; k++) {
        check_builds(&f, modes[k], "variants");
        RnncQuant *q = quantise(&r, &f, modes[k]);
        RnncCalib c;
        assert_int_equal(rnnc_calib_load(&r, f.x, NULL, &c), 0);
        double yq[2], yf[2], worst = 0;
        for (int b = 0; b < c.B; b++) {
            assert_int_equal(rnnc_quant_run(q, c.x + (long)b * 48, 16, yq, 0), 0);
            assert_int_equal(rnnc_quant_run(q, c.x + (long)b * 48, 16, yf, 1), 0);
            worst = fmax(worst, fmax(fabs(yq[0] - yf[0]), fabs(yq[1] - yf[1])));
        }
        printf("variants %-13s largest |quantised - float| %.4g\n", modes[k], worst);
        assert_true(worst < 0.03);
        rnnc_calib_free(&c);
        rnnc_quant_free(q);
        rnnc_fini(&r);
    }
    files_free(&f);
    tu_rmdir(dir);
}

/* One changed weight (the first of the first layer's W_ih) fails the self-test; the
 * header compiles as C++. */
static void test_selftest_catches(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    for (int k = 1; k < 3; k++) {
        char *dir = tu_mkdtemp(), *co = calib_opts("channel_tracker");
        char *cmd = tu_strf("cd '%s' && '%s' specs/channel_tracker.yaml -o '%s/m.c' --weights "
                            "examples/channel_tracker/weights.safetensors --quantize %s %s",
                            root, tu_rnnc_bin(), dir, modes[k], co);
        run_ok(cmd, NULL);
        free(cmd);
        char *mc = tu_strf("%s/m.c", dir);
        char *text = tu_read_file(mc, NULL);
        char *at = strstr(text, "tracker_l0_wx[");
        assert_non_null(at);
        at = strchr(at, '\n') + 1;
        while (*at == ' ')
            at++;
        int v = atoi(at);
        char *end = strchr(at, ',');
        char *changed = tu_strf("%.*s%d%s", (int)(at - text), text, v > 0 ? -127 : 127, end);
        assert_int_equal(tu_write_file(mc, changed), 0);
        cmd = tu_strf("cd '%s' && printf '#include \"m.h\"\\nint main() { return "
                      "channel_tracker_selftest() == 0; }\\n' > t.cc && gcc %s -c m.c -o m.o && "
                      "g++ -std=c++11 -Wall -Wextra -Werror t.cc m.o -o t && ./t",
                      dir, strict);
        run_ok(cmd, NULL);
        free(cmd);
        free(changed);
        free(text);
        free(mc);
        free(co);
        tu_rmdir(dir);
    }
}

/* specs/channel_tracker.yaml in every mode: byte for byte tests/golden/quant/ (which
 * tools/regen_qgolden.sh rewrites), so the same spec, weights and data give the same text. */
static void test_golden(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *dir = tu_mkdtemp();
    for (int k = 0; k < 3; k++) {
        char *cmd = tu_strf("cd '%s' && '%s' specs/channel_tracker.yaml -o "
                            "'%s/channel_tracker_%s.c' --weights "
                            "examples/channel_tracker/weights.safetensors --quantize %s --calib "
                            "examples/channel_tracker/x.npy && cmp '%s/channel_tracker_%s.c' "
                            "tests/golden/quant/channel_tracker_%s.c && cmp "
                            "'%s/channel_tracker_%s.h' tests/golden/quant/channel_tracker_%s.h",
                            root, tu_rnnc_bin(), dir, modes[k], modes[k], dir, modes[k], modes[k],
                            dir, modes[k], modes[k]);
        run_ok(cmd, NULL);
        free(cmd);
    }
    tu_rmdir(dir);
}

/* rnnc check --quantize: the plan's sizes, which the header repeats; int8-weights stores
 * about a quarter of the float weights' bytes. */
static void test_sizes(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *out = NULL;
    char *cmd = tu_strf("cd '%s' && '%s' check specs/seq_classifier.yaml --quantize int8-weights",
                        root, tu_rnnc_bin());
    run_ok(cmd, &out);
    long flash = 0, fl = 0;
    const char *s = strstr(out, "deployed int8-weights");
    assert_non_null(s);
    assert_int_equal(sscanf(strstr(s, "flash ") + 6, "%ld", &flash), 1);
    assert_int_equal(sscanf(strstr(s, "(float: flash ") + 14, "%ld", &fl), 1);
    printf("seq_classifier: float %ld bytes of flash, int8-weights %ld (%.1f %%)\n", fl, flash,
           100.0 * (double)flash / (double)fl);
    assert_true(flash < fl * 3 / 10);
    free(out);
    free(cmd);
    /* the header says the same */
    char *dir = tu_mkdtemp();
    cmd = tu_strf("cd '%s' && '%s' specs/seq_classifier.yaml -o '%s/m.c' --weights "
                  "examples/seq_classifier/weights.safetensors --quantize int8-weights && grep "
                  "FLASH_BYTES '%s/m.h'",
                  root, tu_rnnc_bin(), dir, dir);
    run_ok(cmd, &out);
    char want[64];
    snprintf(want, sizeof want, "SEQ_CLASSIFIER_FLASH_BYTES %ld", flash);
    assert_non_null(strstr(out, want));
    free(out);
    free(cmd);
    tu_rmdir(dir);
}

static void expect_refused(const char *dir, const char *spec, const char *weights,
                           const char *opts, const char *msg);

/* deploy.quantize in the spec: rnnc check reports the mode, -o with --weights writes it,
 * --quantize overrides it (none: the float code), int8 without --calib is refused. */
static void test_spec_key(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *dir = tu_mkdtemp();
    char *orig = tu_strf("%s/specs/channel_tracker.yaml", root);
    char *text = tu_read_file(orig, NULL);
    free(orig);
    char *spec = tu_strf("%s/q.yaml", dir), *spec8 = tu_strf("%s/q8.yaml", dir);
    char *t1 = tu_strf("%s  quantize: int8-weights\n", text);
    char *t2 = tu_strf("%s  quantize: int8\n", text);
    assert_int_equal(tu_write_file(spec, t1), 0);
    assert_int_equal(tu_write_file(spec8, t2), 0);
    const char *w = "examples/channel_tracker/weights.safetensors";
    char *out = NULL;
    char *cmd = tu_strf("cd '%s' && '%s' check '%s' && '%s' '%s' -o '%s/a.c' --weights %s && "
                        "grep -c 'QUANTIZE \"int8-weights\"' '%s/a.h' && '%s' '%s' -o '%s/b.c' "
                        "--weights %s --quantize none && ! grep QUANTIZE '%s/b.h'",
                        root, tu_rnnc_bin(), spec, tu_rnnc_bin(), spec, dir, w, dir, tu_rnnc_bin(),
                        spec, dir, w, dir);
    run_ok(cmd, &out);
    assert_non_null(strstr(out, "deployed int8-weights (deploy.quantize): flash"));
    free(out);
    free(cmd);
    expect_refused(dir, spec8, w, "", "int8 needs calibration data");
    free(spec), free(spec8), free(t1), free(t2);
    free(text);
    tu_rmdir(dir);
}

/* ---- accuracy on held-out data --------------------------------------------------------- */

typedef enum Kind { CLASS_LAST, CLASS_STEP, MSE, NMSE } Kind;

/* A data set: x (B, T, I), lengths (or NULL), the target as doubles. */
typedef struct Set {
    double *x, *y;
    int *len;
    int B, T, I;
} Set;

static double *npy_any(const char *path, long *n, long *shape)
{
    RnnrtArray a;
    RnnrtError err;
    if (rnnrt_npy_read(path, &a, &err) < 0)
        fail_msg("%s", err.msg);
    *n = rnnrt_array_numel(&a);
    double *d = malloc((size_t)*n * sizeof *d);
    for (long k = 0; k < *n; k++)
        d[k] = a.dtype == RNNRT_F32   ? ((float *)a.data)[k]
               : a.dtype == RNNRT_F64 ? ((double *)a.data)[k]
               : a.dtype == RNNRT_I32 ? ((int *)a.data)[k]
                                      : (double)((long long *)a.data)[k];
    for (int k = 0; k < a.ndim && shape; k++)
        shape[k] = a.shape[k];
    rnnrt_array_free(&a);
    return d;
}

static void set_load(Set *s, const char *dir, const char *prefix, const char *xn, const char *yn)
{
    long n, shape[3] = {0, 0, 0};
    char *p = tu_strf("%s/%s%s", dir, prefix, xn);
    s->x = npy_any(p, &n, shape);
    s->B = (int)shape[0], s->T = (int)shape[1], s->I = (int)shape[2];
    free(p);
    p = tu_strf("%s/%s%s", dir, prefix, yn);
    s->y = npy_any(p, &n, NULL);
    free(p);
    p = tu_strf("%s/%slengths.npy", dir, prefix);
    s->len = NULL;
    if (tu_exists(p)) {
        double *l = npy_any(p, &n, NULL);
        s->len = malloc((size_t)n * sizeof *s->len);
        for (long k = 0; k < n; k++)
            s->len[k] = (int)l[k];
        free(l);
    }
    free(p);
}

static void set_free(Set *s)
{
    free(s->x);
    free(s->y);
    free(s->len);
}

static long argmax(const double *v, int n)
{
    long k = 0;
    for (int i = 1; i < n; i++)
        k = v[i] > v[k] ? i : k;
    return k;
}

/* The held-out figure of one model (quantised, or the float reference): accuracy in % for
 * classification, the mean squared error (MSE) or the NMSE from step 32 on (NMSE). */
static double evaluate(RnncQuant *q, int ref, const Set *s, Kind kind, int O)
{
    double *y = malloc((size_t)s->T * (size_t)O * sizeof *y), num = 0, den = 0;
    for (int b = 0; b < s->B; b++) {
        int T = s->len ? s->len[b] : s->T;
        if (rnnc_quant_run(q, s->x + (long)b * s->T * s->I, T, y, ref) < 0) {
            rnnc_diag_print(q->r, stderr);
            fail();
        }
        for (int t = 0; t < (kind == CLASS_LAST ? 1 : T); t++) {
            const double *yt = y + (long)t * O, *want = s->y + ((long)b * s->T + t) * O;
            if (kind == CLASS_LAST || kind == CLASS_STEP) {
                double label = kind == CLASS_LAST ? s->y[b] : s->y[(long)b * s->T + t];
                num += argmax(yt, O) == (long)label;
                den += 1;
                continue;
            }
            for (int o = 0; kind == MSE || t >= 32 ? o < O : 0; o++) {
                num += (yt[o] - want[o]) * (yt[o] - want[o]);
                den += kind == MSE ? 1 : want[o] * want[o];
            }
        }
    }
    free(y);
    return kind == CLASS_LAST || kind == CLASS_STEP ? 100 * num / den : num / den;
}

typedef struct Task {
    const char *name, *spec, *weights;
    const char *tool, *what, *opts; /* the data: `$tool what DIR opts` */
    const char *val;                /* the held-out set's prefix */
    Kind kind;
    double bound[3]; /* per mode: percentage points below float, or dB above it */
} Task;

/* Bounds: for int8-weights and int16 (whose error is int8-weights' own: the weights bound
 * it), the issue's; for int8 (bound by the 8-bit state), the same but 1 point for the
 * classifier. Measured figures are in the README's table and this suite's log. */
static const Task tasks[] = {
    {"classify (LSTM 32)",
     "examples/learn/classify.yaml",
     "examples/learn/trained/classify.safetensors",
     "RNNC_MAKE_DATA",
     "classify",
     "",
     "val_",
     CLASS_LAST,
     {0.5, 1.0, 0.5}},
    {"label (bi-GRU 16)",
     "examples/learn/label.yaml",
     "examples/learn/trained/label.safetensors",
     "RNNC_MAKE_DATA",
     "label",
     "",
     "val_",
     CLASS_STEP,
     {1.0, 1.0, 1.0}},
    {"sines (GRU 32)",
     "examples/learn/sines.yaml",
     "examples/learn/trained/sines.safetensors",
     "RNNC_MAKE_DATA",
     "sines",
     "",
     "val_",
     MSE,
     {0.5, 0.5, 0.5}},
    {"channel tracker (GRU 32)",
     "examples/channel_tracker/tracker.yaml",
     "examples/channel_tracker/tracker.safetensors",
     "RNNC_CHANNEL",
     "gen",
     "--train 300 --val 10 --test 500",
     "test_",
     NMSE,
     {0.5, 0.5, 0.5}},
};

static void run_task(const Task *t, const char *dir)
{
    const char *root = tu_src_root(), *tool = getenv(t->tool);
    if (!tool)
        fail_msg("%s is not set", t->tool);
    char *cmd = tu_strf("'%s' %s '%s' %s > /dev/null", tool, t->what, dir, t->opts);
    run_ok(cmd, NULL);
    free(cmd);
    Set train, val;
    set_load(&train, dir, "", "x.npy", "y.npy");
    set_load(&val, dir, t->val, "x.npy", "y.npy");
    Rnnc r;
    rnnc_init(&r);
    char *spec = tu_strf("%s/%s", root, t->spec), *w = tu_strf("%s/%s", root, t->weights);
    assert_int_equal(rnnc_load(&r, spec), 0);
    double *params = rnnc_load_weights_double(&r, w);
    assert_non_null(params);
    /* calibration: the first 300 training sequences */
    RnncCalib c = {train.x, train.len, train.B < 300 ? train.B : 300, train.T};
    int O = r.net->out_size, cls = t->kind == CLASS_LAST || t->kind == CLASS_STEP;
    double fl = 0;
    for (int k = 0; k < 3; k++) {
        RnncQuant *q = rnnc_quant_new(&r, modes[k], params, &c);
        if (!q)
            rnnc_diag_print(&r, stderr);
        assert_non_null(q);
        if (k == 0)
            fl = evaluate(q, 1, &val, t->kind, O);
        double qv = evaluate(q, 0, &val, t->kind, O);
        double d = cls ? fl - qv : 10 * log10(qv / fl);
        if (cls)
            printf("%-26s %-13s float %.2f %%, quantised %.2f %%: %+.2f points (bound %.1f)\n",
                   t->name, modes[k], fl, qv, -d, t->bound[k]);
        else
            printf("%-26s %-13s float %s %.5g (%.2f dB), quantised %.5g: %+.3f dB (bound %.1f)\n",
                   t->name, modes[k], t->kind == MSE ? "MSE" : "NMSE", fl, 10 * log10(fl), qv, d,
                   t->bound[k]);
        if (d > t->bound[k])
            fail_msg("%s, %s: %.3f beyond the bound %.1f", t->name, modes[k], d, t->bound[k]);
        rnnc_quant_free(q);
    }
    free(params);
    free(spec);
    free(w);
    set_free(&train);
    set_free(&val);
    rnnc_fini(&r);
}

static void test_accuracy(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        char *dir = tu_mkdtemp();
        run_task(&tasks[i], dir);
        tu_rmdir(dir);
    }
}

/* ---- the error report, bad input, the REPL ------------------------------------------------ */

/* rnnc check --calib: a row per layer and one for the output, with the scales. */
static void test_report(void **state)
{
    (void)state;
    char *out = NULL, *co = calib_opts("seq_classifier");
    char *cmd = tu_strf("cd '%s' && '%s' check specs/seq_classifier.yaml --quantize int8 "
                        "--weights examples/seq_classifier/weights.safetensors %s",
                        tu_src_root(), tu_rnnc_bin(), co);
    run_ok(cmd, &out);
    printf("%s", strstr(out, "deployed int8"));
    assert_non_null(strstr(out, "quantised int8 against the float model: 3 calibration"));
    assert_non_null(strstr(out, "rnn layer 0 "));
    assert_non_null(strstr(out, "rnn layer 1 (final h)"));
    assert_non_null(strstr(out, "output (head)"));
    assert_non_null(strstr(out, "argmax of the output agrees"));
    free(out);
    free(cmd);
    free(co);
}

/* One bad input to `rnnc SPEC -o OUT.c ...`: exit 1, `msg` on stderr, nothing written. */
static void expect_refused(const char *dir, const char *spec, const char *weights,
                           const char *opts, const char *msg)
{
    char *out = tu_strf("%s/bad.c", dir), *hdr = tu_strf("%s/bad.h", dir), *err = NULL;
    char *cmd = tu_strf("cd '%s' && '%s' %s -o '%s' --weights %s %s", tu_src_root(), tu_rnnc_bin(),
                        spec, out, weights, opts);
    int st = tu_run(cmd, NULL, &err);
    if (st != 1 || !err || !strstr(err, msg))
        fail_msg("%s: status %d, want 1 and '%s' in:\n%s", cmd, st, msg, err ? err : "");
    assert_false(tu_exists(out));
    assert_false(tu_exists(hdr));
    free(out), free(hdr), free(err), free(cmd);
}

/* A .npy of float32 values with the given shape. */
static char *write_npy(const char *dir, const char *name, long b, long t, long i, double fill)
{
    char *p = tu_strf("%s/%s", dir, name);
    long n = b * t * i;
    float *v = calloc((size_t)(n ? n : 1), sizeof *v);
    for (long k = 0; k < n; k++)
        v[k] = (float)(k % 7 * 0.1);
    if (n && fill != 0)
        v[n / 2] = (float)fill;
    RnnrtArray a = {RNNRT_F32, 3, {b, t, i}, v};
    RnnrtError err;
    assert_int_equal(rnnrt_npy_write(p, &a, &err), 0);
    free(v);
    return p;
}

static void test_bad_input(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *spec = "specs/channel_tracker.yaml";
    const char *w = "examples/channel_tracker/weights.safetensors";
    char *wrong = write_npy(dir, "wrong.npy", 4, 10, 3, 0); /* I = 3, the spec says 2 */
    char *nan = write_npy(dir, "nan.npy", 4, 10, 2, NAN);
    char *empty = write_npy(dir, "empty.npy", 0, 10, 2, 0);
    char *o = tu_strf("--quantize int8 --calib '%s'", wrong);
    expect_refused(dir, spec, w, o, "expected (T, B, I) with I = 2");
    free(o);
    o = tu_strf("--quantize int8 --calib '%s'", nan);
    expect_refused(dir, spec, w, o, "is not finite");
    free(o);
    o = tu_strf("--quantize int16 --calib '%s'", empty);
    expect_refused(dir, spec, w, o, "input has shape (0, 10, 2)");
    free(o);
    expect_refused(dir, spec, w, "--quantize int8", "int8 needs calibration data (--calib");
    char *err = NULL, *cmd = tu_strf("cd '%s' && '%s' %s -o '%s/bad.c' --weights %s --quantize "
                                     "int4",
                                     tu_src_root(), tu_rnnc_bin(), spec, dir, w);
    assert_int_equal(tu_run(cmd, NULL, &err), 2); /* bad usage */
    assert_non_null(strstr(err, "--quantize is int8-weights, int8, int16 or none, not 'int4'"));
    free(err), free(cmd);
    /* a bias no int32 accumulator holds next to the products */
    Rnnc r;
    rnnc_init(&r);
    char *sp = tu_strf("%s/%s", tu_src_root(), spec), *ww = tu_strf("%s/%s", tu_src_root(), w);
    assert_int_equal(rnnc_load(&r, sp), 0);
    double *params = rnnc_load_weights_double(&r, ww);
    assert_non_null(params);
    int t = r.plan->layers[0].t_bih;
    params[r.plan->tensors[t].offset + 3] = 3e9;
    char *big = tu_strf("%s/big.safetensors", dir);
    void *pr = malloc((size_t)r.plan->nparams * sizeof(float));
    io_from_double(pr, params, r.plan->nparams, 0);
    assert_int_equal(io_save_params(&r, big, pr), 0);
    char *ok = write_npy(dir, "ok.npy", 4, 10, 2, 0);
    o = tu_strf("--quantize int8 --calib '%s'", ok);
    expect_refused(dir, spec, big, o, "gate row 3 of W_ih: the bias 3e+09");
    expect_refused(dir, spec, big, o, "overflows");
    free(o);
    free(pr), free(params), free(sp), free(ww), free(big), free(ok);
    rnnc_fini(&r);
    free(wrong), free(nan), free(empty);
    tu_rmdir(dir);
}

/* The REPL: quantize int8 (calibrated on the current x), then run shows both models. */
static void test_repl(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *script = tu_strf("%s/s.rnnc", dir);
    assert_int_equal(tu_write_file(script, "x = sine 40\nquantize int8\nrun\nquantize none\n"
                                           "run\nquantize int4\n"),
                     0);
    char *out = NULL, *err = NULL;
    char *cmd = tu_strf("cd '%s' && '%s' repl examples/channel_tracker/tracker.yaml --weights "
                        "examples/channel_tracker/tracker.safetensors < '%s'",
                        tu_src_root(), tu_rnnc_bin(), script);
    int st = tu_run(cmd, &out, &err);
    assert_int_equal(st, 1); /* quantize int4 failed */
    assert_non_null(strstr(out, "quantised int8: calibrated on x (1 sequence of 40 steps)"));
    assert_non_null(strstr(out, "quantised int8 output"));
    assert_non_null(strstr(out, "largest |quantised - float|"));
    assert_non_null(strstr(out, "float again"));
    assert_non_null(strstr(err, "int4"));
    free(out), free(err), free(cmd), free(script);
    tu_rmdir(dir);
}

int main(void)
{
    char *dir = tu_strf("%s/specs", tu_src_root());
    specs = tu_list_dir(dir, ".yaml", &nspecs);
    free(dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),           cmocka_unit_test(test_golden),
        cmocka_unit_test(test_multiplier),       cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_report),           cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_selftest_catches), cmocka_unit_test(test_repl),
        cmocka_unit_test(test_spec_key),         cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_variants),         cmocka_unit_test(test_bitexact),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_free_list(specs, nspecs);
    return rc;
}
