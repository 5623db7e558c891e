/* test_gen.c — every spec in specs/ emitted and compiled: by gcc and clang with
 * -std=c11 -Wall -Wextra -Wpedantic -Werror (also at -O3 -march=native), its header as C++
 * through the extern "C" guards and the unit itself as C++ (plain and -march=native), by the tcc
 * command line, and by libtcc in process; the emitted text is deterministic; the template compiles
 * on its own.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "host.h"
#include "jit.h"

static char **specs;
static int nspecs;

static const char *const strict = "-std=c11 -Wall -Wextra -Wpedantic -Werror";

static void compile_ok(const char *cmd)
{
    char *err = NULL;
    int st = tu_run(cmd, NULL, &err);
    if (st != 0)
        fail_msg("failed (status %d): %s\n%s", st, cmd, err ? err : "");
    free(err);
}

/* Writes the spec's files into `dir` as <name>.c/.h; returns the .c path (malloc'd). */
static char *emit_to(const char *spec_file, const char *dir)
{
    char *spec = tu_strf("%s/specs/%s", tu_src_root(), spec_file);
    Rnnc r;
    rnnc_init(&r);
    if (rnnc_load(&r, spec) < 0) {
        diag_render(&r.diag, stderr);
        fail_msg("%s does not load", spec);
    }
    char *c = tu_strf("%s/%s.c", dir, r.net->name);
    if (rnnc_write(&r, c) < 0) {
        diag_render(&r.diag, stderr);
        fail_msg("%s: write failed", spec);
    }
    rnnc_fini(&r);
    free(spec);
    return c;
}

static void test_specs_exist(void **state)
{
    (void)state;
    assert_true(nspecs >= 5);
}

static void test_gcc_clang(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    for (int i = 0; i < nspecs; i++) {
        char *c = emit_to(specs[i], dir);
        const char *ccs[] = {"gcc", "clang"};
        for (int k = 0; k < 2; k++) {
            char *cmd = tu_strf("%s %s -c '%s' -o '%s.o'", ccs[k], strict, c, c);
            compile_ok(cmd);
            free(cmd);
            cmd = tu_strf("%s %s -O3 -march=native -c '%s' -o '%s.o'", ccs[k], strict, c, c);
            compile_ok(cmd);
            free(cmd);
        }
        free(c);
    }
    tu_rmdir(dir);
}

/* The header is usable from C++: extern "C" guards, no C-only constructs. */
static void test_header_cxx(void **state)
{
    (void)state;
    if (tu_run("command -v g++", NULL, NULL) != 0)
        skip();
    char *dir = tu_mkdtemp();
    for (int i = 0; i < nspecs; i++) {
        char *c = emit_to(specs[i], dir);
        char *h = tu_strf("%s", c);
        h[strlen(h) - 1] = 'h';
        char *cc = tu_strf("%s.cc", c);
        char *src = tu_strf("#include \"%s\"\nint main() { return 0; }\n", h);
        assert_int_equal(tu_write_file(cc, src), 0);
        char *cmd =
            tu_strf("g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -c '%s' -o '%s.o'", cc, cc);
        compile_ok(cmd);
        free(cmd);
        free(src);
        free(cc);
        free(h);
        free(c);
    }
    tu_rmdir(dir);
}

/* The unit itself compiles as C++ too (a C++ project may list model.c among its sources):
 * g++ -x c++ with every warning an error, plain and at -O3 -march=native, where the gates
 * use AVX-512 intrinsics (their unmasked forms passed g++ 12 an undefined vector it called
 * uninitialised, and the vector constants were compound literals, which C++ has not). */
static void test_source_cxx(void **state)
{
    (void)state;
    if (tu_run("command -v g++", NULL, NULL) != 0)
        skip();
    char *dir = tu_mkdtemp();
    for (int i = 0; i < nspecs; i++) {
        char *c = emit_to(specs[i], dir);
        const char *opt[] = {"", "-O3 -march=native"};
        for (int k = 0; k < 2; k++) {
            char *cmd = tu_strf("g++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror %s -c "
                                "'%s' -o '%s.cxx.o'",
                                opt[k], c, c);
            compile_ok(cmd);
            free(cmd);
        }
        free(c);
    }
    tu_rmdir(dir);
}

static void test_tcc_command_line(void **state)
{
    (void)state;
    if (tu_run("command -v tcc", NULL, NULL) != 0)
        skip();
    char *dir = tu_mkdtemp();
    for (int i = 0; i < nspecs; i++) {
        char *c = emit_to(specs[i], dir);
        char *cmd = tu_strf("tcc -Wall -Werror -c '%s' -o '%s.o'", c, c);
        compile_ok(cmd);
        free(cmd);
        free(c);
    }
    tu_rmdir(dir);
}

/* In process, as `rnnc run` does it: the entry points resolve. */
static void test_libtcc(void **state)
{
    (void)state;
    for (int i = 0; i < nspecs; i++) {
        char *spec = tu_strf("%s/specs/%s", tu_src_root(), specs[i]);
        Rnnc r;
        rnnc_init(&r);
        assert_int_equal(rnnc_load(&r, spec), 0);
        char *src = rnnc_source(&r);
        assert_non_null(src);
        ModelFns fns;
        JitModule *m = jit_compile(JIT_TCC, src, r.net->name, 0, &fns, &r.diag);
        if (!m) {
            diag_render(&r.diag, stderr);
            fail_msg("%s: libtcc failed", specs[i]);
        }
        assert_non_null(fns.scratch_bytes);
        assert_true(fns.scratch_bytes(2, 3) > 0);
        assert_true(fns.forward != NULL && fns.forward_par != NULL && fns.pack != NULL);
        jit_free(m);
        free(src);
        rnnc_fini(&r);
        free(spec);
    }
}

/* Same spec, same bytes: twice in a row, and from another directory name. */
static void test_deterministic(void **state)
{
    (void)state;
    char *d1 = tu_mkdtemp(), *d2 = tu_mkdtemp();
    for (int i = 0; i < nspecs; i++) {
        char *a = emit_to(specs[i], d1), *b = emit_to(specs[i], d2);
        size_t na, nb;
        char *ta = tu_read_file(a, &na), *tb = tu_read_file(b, &nb);
        assert_non_null(ta);
        assert_non_null(tb);
        assert_int_equal(na, nb);
        assert_memory_equal(ta, tb, na);
        assert_null(strstr(ta, d1));
        free(ta);
        free(tb);
        free(a);
        free(b);
    }
    tu_rmdir(d1);
    tu_rmdir(d2);
}

/* The prelude's own e^v and tanh (math: builtin), as compiler/jit_kern.c builds them from
 * its text for libtcc's code (jit_exp_f32 is m_expf, and so on: multiply-adds fused, as in
 * the JIT's units) and unfused (prelude_plain.c: units written out for a machine without a
 * fast fused multiply-add), hold to the bounds their comments give, in ulps of the exact
 * value: float32 on every 61st float of [-87, 88] (exp) and [-12, 12] (tanh), float64 on a
 * million points of [-708, 709] and [-20, 20]; and the float tanh never leaves [-1, 1]. The
 * unfused tanh is held to 6 ulp here, tighter than its comment's 6.2 (6.14 is its worst over
 * every float; on this sample, 5.39). */
float plain_expf(float v);
float plain_tanhf(float v);

static double ulps(long double got, long double want, int bits)
{
    int e;
    frexpl(want, &e);
    long double ulp = ldexpl(1.0L, e - bits);
    long double tiny = ldexpl(1.0L, bits == 24 ? -149 : -1074);
    return (double)(fabsl(got - want) / (ulp < tiny ? tiny : ulp));
}

static void test_prelude_math(void **state)
{
    (void)state;
    double we = 0, wt = 0, wpe = 0, wpt = 0, wde = 0, wdt = 0;
    int outside = 0;
    for (uint32_t u = 0; u < 0xffffffffu - 61; u += 61) {
        float x;
        memcpy(&x, &u, sizeof x);
        if (x >= -87.0f && x <= 88.0f) {
            double e = ulps(jit_exp_f32(x), expl(x), 24), p = ulps(plain_expf(x), expl(x), 24);
            we = e > we ? e : we;
            wpe = p > wpe ? p : wpe;
        }
        if (x >= -12.0f && x <= 12.0f) {
            float t = jit_tanh_f32(x), tp = plain_tanhf(x);
            double e = ulps(t, tanhl(x), 24), p = ulps(tp, tanhl(x), 24);
            wt = e > wt ? e : wt;
            wpt = p > wpt ? p : wpt;
            outside += t > 1.0f || t < -1.0f || tp > 1.0f || tp < -1.0f;
        }
    }
    uint64_t s = 1;
    for (int i = 0; i < 1000000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double f = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        double x = f * 1416.0 + 0.5, y = f * (i % 2 ? 40.0 : 1.0);
        double e = ulps(jit_exp_f64(x), expl(x), 53);
        wde = e > wde ? e : wde;
        e = ulps(jit_tanh_f64(y), tanhl(y), 53);
        wdt = e > wdt ? e : wdt;
    }
    if (we > 1.5 || wt > 5.1 || wpe > 1.5 || wpt > 6.0 || wde > 1.5 || wdt > 3.5 || outside)
        fail_msg("ulps: m_expf %.2f (1.5), m_tanhf %.2f (5.1), unfused %.2f (1.5) and %.2f (6),"
                 " m_exp %.2f (1.5), m_tanh %.2f (3.5); float tanh outside [-1, 1]: %d",
                 we, wt, wpe, wpt, wde, wdt, outside);
    /* the check saw errors, and two builds that differ */
    assert_true(we > 0.5 && wt > 0.5 && wpe > 0.5 && wpt > 0.5 && wde > 0.5 && wdt > 0.5);
    assert_true(wt != wpt);
}

/* The prelude's gates by vectors (rv_exp_n, rv_sigmoid_n, rv_tanh_n: the system compiler's
 * tiles) give the scalar functions' bits (libtcc's), lane by lane, which is what lets the
 * compiled code take over from libtcc's mid-run: on every 13th float (each vector 16
 * consecutive ones) and on the clamps' edges, infinities and NaNs; at -O3 -march=native
 * (AVX-512 here: its max, min, scalef and fused multiply-add), with AVX2 and FMA (the
 * comparisons and selects, the multiply-adds fused lane by lane), and unfused (units written
 * out for a machine without a fast fused multiply-add, where the two never take over from
 * each other, so that a NaN's sign may differ) for AVX-512 and for the generic x86-64. A
 * program that prints the mismatches it found. */
static void test_vec_gates_bits(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *c = tu_strf("%s/gates.c", dir);
    char *prog = tu_strf(
        "#include \"%s/templates/prelude.c\"\n"
        "#include <stdio.h>\n"
        "#include <string.h>\n"
        "static long bad, seen;\n"
        "/* the same bits; unfused (units written out, whose scalar and vector code never\n"
        "   take over from each other) a NaN may come out with the other sign */\n"
        "static int differ(const float *a, const float *b)\n"
        "{\n"
        "    return memcmp(a, b, 4) != 0 && (RNNC_FUSED || *a == *a || *b == *b);\n"
        "}\n"
        "static void check(const float *v)\n"
        "{\n"
        "    rvec e, s, t;\n"
        "    memcpy(&e, v, sizeof e), memcpy(&s, v, sizeof s), memcpy(&t, v, sizeof t);\n"
        "    rv_exp_n(&e, 1), rv_sigmoid_n(&s, 1), rv_tanh_n(&t, 1);\n"
        "    for (int j = 0; j < 16; j++) {\n"
        "        float w[3] = {m_expf(v[j]), 1.0f / (1.0f + m_expf(-v[j])), m_tanhf(v[j])};\n"
        "        bad += differ(&w[0], &e[j]);\n"
        "        bad += differ(&w[1], &s[j]);\n"
        "        bad += differ(&w[2], &t[j]);\n"
        "        seen += 3;\n"
        "    }\n"
        "}\n"
        "int main(void)\n"
        "{\n"
        "    float v[16];\n"
        "    for (unsigned long u = 0; u < 1ul << 32; u += 16 * 13) {\n"
        "        for (int j = 0; j < 16; j++) {\n"
        "            unsigned w = (unsigned)(u + (unsigned long)j);\n"
        "            memcpy(&v[j], &w, 4);\n"
        "        }\n"
        "        check(v);\n"
        "    }\n"
        "    const float edge[16] = {-87.0f, 88.0f, -9.0f, 9.0f, -87.00001f, 88.00001f, "
        "-9.000001f,\n"
        "                            9.000001f, 0.0f, -0.0f, 1.0f / 0.0f, -1.0f / 0.0f, 0.0f / "
        "0.0f,\n"
        "                            -(0.0f / 0.0f), 8.9999f, -8.9999f};\n"
        "    check(edge);\n"
        "    printf(\"%%ld %%ld\\n\", bad, seen);\n"
        "    return 0;\n"
        "}\n",
        tu_src_root());
    assert_int_equal(tu_write_file(c, prog), 0);
    const char *flags[] = {"-O3 -march=native", "-O2 -mavx2 -mfma",
                           "-O3 -march=native -DRNNC_FUSED=0", "-O2 -DRNNC_FUSED=0"};
    for (int k = 0; k < 4; k++) {
        char *cmd = tu_strf("gcc %s -Wno-unused-function %s '%s' -o '%s/gates' && '%s/gates'",
                            strict, flags[k], c, dir, dir);
        char *out = NULL, *err = NULL;
        if (tu_run(cmd, &out, &err) != 0)
            fail_msg("failed: %s\n%s", cmd, err ? err : "");
        long bad = -1, seen = 0;
        if (!out || sscanf(out, "%ld %ld", &bad, &seen) != 2)
            fail_msg("%s: no counts in '%s'", cmd, out ? out : "");
        if (bad != 0 || seen < 900000000L)
            fail_msg("%s: %ld of %ld results differ from the scalar functions'", flags[k], bad,
                     seen);
        free(cmd);
        free(out);
        free(err);
    }
    tu_rmdir(dir);
    free(c);
    free(prog);
}

/* templates/prelude.c and drivers.c are real C: each compiles on its own with its test
 * values. */
static void test_template_alone(void **state)
{
    (void)state;
    const char *ccs[] = {"gcc", "clang"}, *tpl[] = {"prelude", "drivers"};
    for (int k = 0; k < 4; k++) {
        /* every section at once: helpers a given model would not use are unused here */
        char *cmd = tu_strf("%s %s -Wno-unused-function -fsyntax-only '%s/templates/%s.c'",
                            ccs[k % 2], strict, tu_src_root(), tpl[k / 2]);
        compile_ok(cmd);
        free(cmd);
    }
}

/* --jit cc: PyTorch's numbers (its batched kernels may fuse multiply-adds, so not always
 * libtcc's to the bit: within the forward tolerance of them and of PyTorch); two processes
 * at once get the same; the cache holds one object per code and no temporary leftovers; a
 * broken compiler is an error. */
static void test_jit_cc(void **state)
{
    (void)state;
    const char *root = tu_src_root(), *bin = tu_rnnc_bin();
    char *dir = tu_mkdtemp();
    const char *fixtures[] = {"lstm_proj_bi_l2_len_head_last_softmax",
                              "gru_before_l3_tbf_len_head_seq_softmax",
                              "f64_lstm_bi_l2_len_head_last_softmax", "batch_lstm_h20_l2_b13_len"};
    for (int k = 0; k < 4; k++) {
        char *f = tu_strf("%s/tests/fixtures/%s", root, fixtures[k]);
        char *args = tu_strf("run '%s/spec.yaml' --weights '%s/weights.safetensors' --input "
                             "'%s/x.npy' --lengths '%s/lengths.npy'",
                             f, f, f, f);
        char *cmd = tu_strf("cd '%s' || exit 1; RNNC_CACHE_DIR='%s/cache' '%s' %s --output a.npy "
                            "--jit cc & RNNC_CACHE_DIR='%s/cache' '%s' %s --output b.npy --jit cc "
                            "& wait; "
                            "'%s' %s --output t.npy && cmp a.npy b.npy",
                            dir, dir, bin, args, dir, bin, args, bin, args);
        char *err = NULL;
        if (tu_run(cmd, NULL, &err) != 0)
            fail_msg("%s: --jit cc failed or two runs differ:\n%s", fixtures[k], err);
        free(err);
        int dbl = strncmp(fixtures[k], "f64", 3) == 0;
        char *pa = tu_strf("%s/a.npy", dir), *pt = tu_strf("%s/t.npy", dir);
        char *pw = tu_strf("%s/y.npy", f);
        long na, nt, nw;
        double *a = tu_npy_doubles(pa, &na, NULL, NULL), *t = tu_npy_doubles(pt, &nt, NULL, NULL);
        double *w = tu_npy_doubles(pw, &nw, NULL, NULL);
        assert_int_equal(na, nw);
        assert_int_equal(nt, nw);
        char *what = tu_strf("%s: --jit cc against PyTorch", fixtures[k]);
        tu_assert_close(a, w, nw, dbl ? 1e-12 : 1e-5, dbl ? 1e-13 : 1e-6, what);
        free(what);
        what = tu_strf("%s: --jit cc against libtcc", fixtures[k]);
        tu_assert_close(a, t, nw, dbl ? 1e-12 : 1e-5, dbl ? 1e-13 : 1e-6, what);
        free(what);
        free(a);
        free(t);
        free(w);
        free(pa);
        free(pt);
        free(pw);
        free(cmd);
        free(args);
        free(f);
    }
    char *ls = tu_strf("ls '%s/cache'", dir), *out = NULL;
    assert_int_equal(tu_run(ls, &out, NULL), 0);
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        size_t len = strlen(line);
        if (len < 3 || strcmp(line + len - 3, ".so") != 0)
            fail_msg("a leftover in the cache: %s", line);
        n++;
    }
    assert_int_equal(n, 4);
    free(out);
    free(ls);
    char *f = tu_strf("%s/tests/fixtures/lstm_l1", root);
    char *cmd = tu_strf("cd '%s' && RNNC_CACHE_DIR='%s/cache2' CC=/bin/false '%s' run "
                        "'%s/spec.yaml' --weights '%s/weights.safetensors' --input '%s/x.npy' "
                        "--output c.npy --jit cc",
                        dir, dir, bin, f, f, f);
    char *err = NULL;
    assert_int_equal(tu_run(cmd, NULL, &err), 1);
    assert_non_null(strstr(err, "--jit cc: '/bin/false' failed"));
    char *c = tu_strf("%s/c.npy", dir);
    assert_false(tu_exists(c));
    free(c);
    free(err);
    free(cmd);
    free(f);
    tu_rmdir(dir);
}

/* The units `--jit cc` and `--jit auto` build (inference and training, shaped for the
 * system compiler) of every spec compile as cleanly as the deployed code, with the strict
 * flags: unoptimised, at -O3 -march=native (the build's), and at -O2 without it (a machine
 * without FMA, where MADD is a call); gcc finds uninitialised reads only when optimising. */
static void test_jit_units_warn_free(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *opts[] = {"-O0", "-O3 -march=native", "-O2"};
    for (int i = 0; i < nspecs; i++) {
        char *spec = tu_strf("%s/specs/%s", tu_src_root(), specs[i]);
        Rnnc r;
        rnnc_init(&r);
        assert_int_equal(rnnc_load(&r, spec), 0);
        for (int train = 0; train < 2; train++) {
            CUnit u;
            assert_int_equal(emit_unit_jit(r.plan, train, 0, &u, &r.diag), 0);
            char *text = cunit_join(&u), *c = tu_strf("%s/u%d_%d.c", dir, i, train);
            assert_non_null(text);
            assert_int_equal(tu_write_file(c, text), 0);
            const char *ccs[] = {"clang", "gcc", "gcc", "clang"};
            for (int k = 0; k < 4; k++) {
                char *cmd = tu_strf("%s %s %s -fPIC -c '%s' -o '%s.o'", ccs[k], strict,
                                    opts[k < 3 ? k : 2], c, c);
                compile_ok(cmd);
                free(cmd);
            }
            free(text), free(c);
            cunit_free(&u);
        }
        rnnc_fini(&r);
        free(spec);
    }
    tu_rmdir(dir);
}

/* Units without biases (blocked and wide tiles, their accumulators starting from zeros or
 * the projection alone): the JIT's units and the unit written out warning-free with gcc
 * and clang at -O3 -march=native, where the tiles take vectors; the latter also as C++. */
static void test_no_bias_warn_free(void **state)
{
    (void)state;
    static const char text[] = "name: nb\ninput_size: 20\nbatch_first: true\nlayers:\n"
                               "  - {name: a, cell: lstm, hidden_size: 132, bias: false}\n"
                               "  - {name: b, cell: gru, hidden_size: 176, bias: false}\n"
                               "  - {name: c, cell: lstm, hidden_size: 64, num_layers: 2, "
                               "bias: false}\n";
    char *dir = tu_mkdtemp();
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load_text(&r, "nb.yaml", text), 0);
    char *c[3];
    for (int k = 0; k < 3; k++) {
        c[k] = tu_strf("%s/nb%d.c", dir, k);
        if (k == 2) { /* written out: nb2.c and nb2.h */
            assert_int_equal(rnnc_write(&r, c[k]), 0);
            continue;
        }
        CUnit u;
        assert_int_equal(emit_unit_jit(r.plan, k, 0, &u, &r.diag), 0);
        char *src = cunit_join(&u);
        assert_non_null(strstr(src, "const rvec z_ = {0};"));
        assert_int_equal(tu_write_file(c[k], src), 0);
        free(src);
        cunit_free(&u);
    }
    rnnc_fini(&r);
    for (int k = 0; k < 3; k++) {
        const char *ccs[] = {"gcc", "clang"};
        for (int i = 0; i < 2; i++) {
            char *cmd = tu_strf("%s %s -O3 -march=native -fPIC -c '%s' -o '%s.o'", ccs[i], strict,
                                c[k], c[k]);
            compile_ok(cmd);
            free(cmd);
        }
    }
    char *cmd = tu_strf("g++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O3 "
                        "-march=native -c '%s' -o '%s.cxx.o'",
                        c[2], c[2]);
    compile_ok(cmd);
    free(cmd);
    for (int k = 0; k < 3; k++)
        free(c[k]);
    tu_rmdir(dir);
}

int main(void)
{
    char *dir = tu_strf("%s/specs", tu_src_root());
    specs = tu_list_dir(dir, ".yaml", &nspecs);
    free(dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specs_exist),  cmocka_unit_test(test_template_alone),
        cmocka_unit_test(test_gcc_clang),    cmocka_unit_test(test_header_cxx),
        cmocka_unit_test(test_source_cxx),   cmocka_unit_test(test_tcc_command_line),
        cmocka_unit_test(test_libtcc),       cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_jit_cc),       cmocka_unit_test(test_jit_units_warn_free),
        cmocka_unit_test(test_prelude_math), cmocka_unit_test(test_vec_gates_bits),
        cmocka_unit_test(test_no_bias_warn_free),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_free_list(specs, nspecs);
    return rc;
}
