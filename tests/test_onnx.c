/* test_onnx.c — rnnc import (host/onnx.c), suite 'import': every model of tests/onnx_fixtures
 * (tools/gen_onnx_fixtures.py) imported, run by the built `rnnc run` and compared with
 * PyTorch's output; the hostile graphs, a truncated and an empty file refused with their
 * message and no file written; the in-memory entry point's tensors and the spec's name.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "rnnrt.h"

/* Closeness to PyTorch in float32, as in the numeric suite. */
#define RTOL 1e-5
#define ATOL 1e-6

static char *fixture(const char *fmt, const char *name)
{
    char *rel = tu_strf(fmt, name);
    char *p = tu_strf("%s/tests/onnx_fixtures/%s", tu_src_root(), rel);
    free(rel);
    return p;
}

/* Imports `name`, runs the spec on its x.npy with rnnc, compares with its y.npy. */
static void check_model(const char *name, const char *tmp)
{
    char *model = fixture("%s/model.onnx", name), *x = fixture("%s/x.npy", name);
    char *want = fixture("%s/y.npy", name);
    char *spec = tu_strf("%s/%s.yaml", tmp, name), *w = tu_strf("%s/%s.safetensors", tmp, name);
    char *y = tu_strf("%s/%s_y.npy", tmp, name);
    RnnrtError err;
    if (onnx_import(model, spec, w, &err) < 0)
        fail_msg("%s: import failed: %s", name, err.msg);
    char *cmd = tu_strf("'%s' run '%s' --weights '%s' --input '%s' --output '%s'", tu_rnnc_bin(),
                        spec, w, x, y);
    char *out = NULL, *errs = NULL;
    int rc = tu_run(cmd, &out, &errs);
    if (rc != 0)
        fail_msg("%s: rnnc run exited %d: %s", name, rc, errs ? errs : "");
    long ng, nw, sg[RNNRT_MAX_DIMS], sw[RNNRT_MAX_DIMS];
    int dg, dw;
    double *g = tu_npy_doubles(y, &ng, sg, &dg), *wv = tu_npy_doubles(want, &nw, sw, &dw);
    assert_int_equal(dg, dw);
    for (int i = 0; i < dg; i++)
        assert_int_equal(sg[i], sw[i]);
    tu_assert_close(g, wv, ng, RTOL, ATOL, name);
    free(g);
    free(wv);
    free(out);
    free(errs);
    free(cmd);
    free(model);
    free(x);
    free(want);
    free(spec);
    free(w);
    free(y);
}

static void test_fixtures(void **state)
{
    (void)state;
    char *manifest = tu_strf("%s/tests/onnx_fixtures/manifest.txt", tu_src_root());
    char *text = tu_read_file(manifest, NULL);
    assert_non_null(text);
    char *tmp = tu_mkdtemp();
    int n = 0;
    for (char *save, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (*line) {
            check_model(line, tmp);
            n++;
        }
    }
    assert_true(n >= 40); /* every cell and variant, see the generator */
    tu_rmdir(tmp);
    free(text);
    free(manifest);
}

/* Import of `model` must fail with `fragment` in the message and leave no output behind. */
static void expect_refused(const char *model, const char *fragment, const char *tmp)
{
    char *spec = tu_strf("%s/spec.yaml", tmp), *w = tu_strf("%s/w.safetensors", tmp);
    RnnrtError err;
    int rc = onnx_import(model, spec, w, &err);
    if (rc == 0)
        fail_msg("%s: imported, but should have been refused", model);
    if (!strstr(err.msg, fragment))
        fail_msg("%s: message lacks \"%s\":\n%s", model, fragment, err.msg);
    if (tu_exists(spec) || tu_exists(w))
        fail_msg("%s: refused, but an output file was written", model);
    free(spec);
    free(w);
}

static void test_hostile(void **state)
{
    (void)state;
    static const struct {
        const char *file, *fragment;
    } cases[] = {
        {"cycle", "the graph has a cycle: '/rnn/Transpose' (Transpose) <- '/rnn/LSTM' (LSTM)"},
        {"missing_init", "node '/rnn/LSTM' (LSTM): it reads 'onnx::LSTM_"},
        {"missing_init", "(a missing initializer?)"},
        {"absurd_dims", "has dimension 1000000000000, which is absurd"},
        {"unsupported", "2 unsupported operators: Relu (node 'my_relu'), LogSoftmax (node "
                        "'/Softmax')"},
        {"reverse", "(LSTM): it runs in reverse only"},
        {"hidden_mismatch", "its hidden_size 6 disagrees with its R, of shape (1, 20, 5)"},
        {"bi_laststep", "export torch.cat((h_n[-2], h_n[-1]), 1)"},
    };
    char *tmp = tu_mkdtemp();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *model = fixture("bad/%s.onnx", cases[i].file);
        expect_refused(model, cases[i].fragment, tmp);
        free(model);
    }
    char *none = tu_strf("%s/no_such.onnx", tmp);
    expect_refused(none, "cannot open", tmp);
    free(none);
    tu_rmdir(tmp);
}

/* A file cut short (in the middle of the weights) and an empty one. */
static void test_truncated(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *model = fixture("%s/model.onnx", "lstm_bi_stack_seq_op17");
    size_t n;
    char *bytes = tu_read_file(model, &n);
    assert_non_null(bytes);
    char *cut = tu_strf("%s/cut.onnx", tmp);
    for (size_t len = n / 2; len > 0; len = len == n / 2 ? 0 : n / 2) {
        FILE *f = fopen(cut, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, len, f), len);
        fclose(f);
        expect_refused(cut, "not a valid ONNX model", tmp);
    }
    FILE *f = fopen(cut, "wb");
    assert_non_null(f);
    fclose(f);
    expect_refused(cut, "the model has no graph", tmp);
    /* an existing output stays as it was when the import is refused */
    char *spec = tu_strf("%s/spec.yaml", tmp);
    assert_int_equal(tu_write_file(spec, "keep\n"), 0);
    RnnrtError err;
    assert_int_equal(onnx_import(cut, spec, "/nonexistent/w.safetensors", &err), -1);
    char *kept = tu_read_file(spec, NULL);
    assert_string_equal(kept, "keep\n");
    free(kept);
    free(spec);
    free(cut);
    free(bytes);
    free(model);
    tu_rmdir(tmp);
}

/* The in-memory entry point: PyTorch's names, shapes and the spec's keys. */
static void test_mem(void **state)
{
    (void)state;
    char *model = fixture("%s/model.onnx", "lstm_bi_stack_seq_op17");
    size_t n;
    char *bytes = tu_read_file(model, &n);
    assert_non_null(bytes);
    OnnxModel m;
    RnnrtError err;
    if (onnx_import_mem(bytes, n, "lstm.onnx", "tagger", &m, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(m.n, 18); /* 2 layers x 2 directions x 4, head weight and bias */
    static const struct {
        const char *name;
        long d0, d1;
    } want[] = {
        {"rnn.weight_ih_l0", 20, 4},  {"rnn.weight_hh_l0_reverse", 20, 5},
        {"rnn.weight_ih_l1", 20, 10}, {"rnn.bias_hh_l1_reverse", 20, 0},
        {"head.weight", 3, 10},       {"head.bias", 3, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (int k = 0; k < m.n; k++) {
            if (strcmp(m.t[k].name, want[i].name) != 0)
                continue;
            found = 1;
            assert_int_equal(m.t[k].ndim, want[i].d1 ? 2 : 1);
            assert_int_equal(m.t[k].shape[0], want[i].d0);
            if (want[i].d1)
                assert_int_equal(m.t[k].shape[1], want[i].d1);
        }
        if (!found)
            fail_msg("no tensor %s", want[i].name);
    }
    static const char *const keys[] = {
        "name: tagger\n",
        "input_size: 4\n",
        "batch_first: false\n",
        "    cell: lstm\n",
        "    hidden_size: 5\n",
        "    num_layers: 2\n",
        "    bidirectional: true\n",
        "  out_features: 3\n",
        "  input: sequence\n",
        "  activation: none\n",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strstr(m.spec, keys[i]))
            fail_msg("the spec lacks \"%s\":\n%s", keys[i], m.spec);
    onnx_model_free(&m);
    assert_int_equal(onnx_import_mem(bytes, n, "x", "3bad", &m, &err), -1);
    assert_non_null(strstr(err.msg, "is not a C identifier"));
    onnx_model_free(&m);
    free(bytes);
    free(model);
}

/* The spec's name comes from its file name, made a C identifier. */
static void test_name(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *model = fixture("%s/model.onnx", "gru_seq_op13");
    char *spec = tu_strf("%s/2my-model.v2.yaml", tmp), *w = tu_strf("%s/w.safetensors", tmp);
    RnnrtError err;
    if (onnx_import(model, spec, w, &err) < 0)
        fail_msg("%s", err.msg);
    char *text = tu_read_file(spec, NULL);
    assert_non_null(strstr(text, "\nname: my_model\n"));
    assert_non_null(strstr(text, "    reset: after\n"));
    free(text);
    free(spec);
    free(w);
    free(model);
    tu_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),  cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_truncated), cmocka_unit_test(test_mem),
        cmocka_unit_test(test_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
