/* cmd_build.c — the commands that turn a spec into something: rnnc SPEC -o OUT.c (emit),
 * rnnc check (sizes, and a quantised model's error on calibration data) and rnnc import
 * (ONNX to a spec and its weights). Each parses its option table and calls include/rnnc.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char usage_emit[] =
    "usage: rnnc SPEC -o OUT.c [--weights W.pt|W.safetensors [--no-selftest]]\n"
    "                          [--rename OLD=NEW ...]\n"
    "                 [--quantize MODE [--calib X.npy [--calib-lengths L.npy]]]\n"
    "Generates C specialised to the network in SPEC: OUT.c and OUT.h beside it.\n"
    "Without --weights: the caller passes the PyTorch weights (<name>_pack, <name>_forward).\n"
    "With --weights: deployable code, the weights baked in as static const arrays, a\n"
    "  caller-owned state with <name>_reset and <name>_step (streaming, one sample per\n"
    "  call), <name>_forward up to deploy.max_seq_len, and <name>_selftest (golden outputs\n"
    "  computed now; --no-selftest leaves it out). No malloc, no I/O, no mutable globals.\n"
    "--rename OLD=NEW (repeatable): the weights file's prefix OLD is the spec's NEW\n"
    "  (encoder.rnn=rnn, classifier.fc=head; module.= strips module.), after the spec's\n"
    "  weights: section.\n"
    "--quantize (overrides the spec's deploy.quantize): int8-weights (int8 weights, a scale\n"
    "  per row, float activations), int8 or int16 (fully integer: int8/int16 activations,\n"
    "  no float instruction), none. int8 and int16 need --calib: inputs as rnnc run's\n"
    "  --input (--calib-lengths as its --lengths), whose float activation ranges set the\n"
    "  scales. The self-test's golden outputs come from the quantised code itself.\n"
    "Both files are written atomically; on any error neither is left behind.\n";

const char usage_check[] =
    "usage: rnnc check SPEC [--quantize MODE] [--weights W --calib X.npy [--calib-lengths L]]\n"
    "Validates SPEC and prints, per block: cell, sizes, parameters (PyTorch's count and\n"
    "with merged biases), FLOPs per time step, state and scratch bytes, kernel choices.\n"
    "With a quantised mode (--quantize or deploy.quantize): its flash and RAM. With\n"
    "--weights and --calib: per layer, the worst and mean difference of the quantised model\n"
    "from the float model on the calibration data.\n";

const char usage_import[] =
    "usage: rnnc import MODEL.onnx -o SPEC.yaml --weights-out W.safetensors\n"
    "Turns an ONNX model (LSTM, GRU and RNN nodes as torch.onnx.export writes them, forward or\n"
    "bidirectional, stacked, with an optional Gemm or MatMul+Add head and Softmax/Sigmoid) into\n"
    "a spec and its weights under PyTorch's state_dict names: ONNX's gate orders (iofc, zrh)\n"
    "reordered, its biases split. Anything else is listed (op type, node name) and nothing is\n"
    "written. Exit status: 0 success, 1 a model it cannot take, 2 bad usage.\n";

static const Opt emit_opts[] = {V("-o", out),
                                V("--weights", weights),
                                F("--no-selftest", no_selftest),
                                V("--quantize", quantize),
                                V("--calib", calib),
                                V("--calib-lengths", calib_lengths),
                                RENAME};
static const Opt check_opts[] = {V("--quantize", quantize), V("--weights", weights),
                                 V("--calib", calib), V("--calib-lengths", calib_lengths), RENAME};
static const Opt import_opts[] = {V("-o", out), V("--weights-out", weights_out)};

/* The error report of check --calib: the quantised model against the float one. */
static int check_calib(Rnnc *r, const Args *a)
{
    RnncCalib c;
    if (rnnc_calib_load(r, a->calib, a->calib_lengths, &c) < 0)
        return -1;
    RnncQuant *q = NULL;
    double *params = rnnc_load_weights_double(r, a->weights);
    int rc = -1;
    if (params && (q = rnnc_quant_new(r, a->quantize, params, &c)) != NULL)
        rc = rnnc_quant_report(q, &c, stdout);
    rnnc_quant_free(q);
    free(params);
    rnnc_calib_free(&c);
    return rc;
}

/* rnnc check SPEC: the sizes report, a quantised mode's budget, --calib's error. */
int cmd_check(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, check_opts, NOPTS(check_opts), &a, usage_check);
    if (pr || (pr = cli_require(&a, "check", NULL, NULL, 0, usage_check)))
        return pr == 1 ? 0 : 2;
    if (!a.calib != !a.weights)
        return cli_bad_usage("--calib and --weights go together", NULL, usage_check);
    if (a.calib_lengths && !a.calib)
        return cli_bad_usage("--calib-lengths goes with --calib", NULL, usage_check);
    if (!cli_quantize_ok(&a))
        return cli_bad_usage("--quantize is int8-weights, int8, int16 or none, not", a.quantize,
                             usage_check);
    int st;
    Rnnc *r = cli_load(&a, &st);
    if (!r)
        return st;
    rnnc_report(r, stdout);
    if (rnnc_report_quant(r, a.quantize, stdout) < 0)
        return cli_finish(r, 2);
    if (a.calib && check_calib(r, &a) < 0)
        return cli_finish(r, 1);
    return cli_finish(r, 0);
}

/* rnnc import MODEL.onnx: the spec and its weights, or the list of what is unsupported. */
int cmd_import(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, import_opts, NOPTS(import_opts), &a, usage_import);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!a.spec)
        return cli_bad_usage("import needs a MODEL.onnx", NULL, usage_import);
    if (!a.out || !a.weights_out)
        return cli_bad_usage(!a.out ? "import needs -o SPEC.yaml" : "import needs --weights-out",
                             NULL, usage_import);
    Rnnc *r = rnnc_new();
    if (!r)
        return 1;
    int rc = rnnc_import(r, a.spec, a.out, a.weights_out);
    if (rc == 0)
        printf("wrote %s and %s\n", a.out, a.weights_out);
    return cli_finish(r, rc == 0 ? 0 : 1);
}

/* rnnc SPEC -o OUT.c: plain, deployable (--weights) or quantised (--quantize) C. */
int cmd_emit(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, emit_opts, NOPTS(emit_opts), &a, usage_emit);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!a.spec)
        return cli_bad_usage("no SPEC given", NULL, usage_main);
    if (!a.out)
        return cli_bad_usage("no output: use -o OUT.c", NULL, usage_emit);
    if (a.no_selftest && !a.weights)
        return cli_bad_usage("--no-selftest goes with --weights", NULL, usage_emit);
    size_t n = strlen(a.out);
    if (n < 3 || strcmp(a.out + n - 2, ".c") != 0)
        return cli_bad_usage(
            "-o takes the C file to write, OUT.c (its header OUT.h goes beside it), "
            "not",
            a.out, usage_emit);
    if ((a.quantize || a.calib) && !a.weights)
        return cli_bad_usage("--quantize and --calib go with --weights", NULL, usage_emit);
    if (a.calib_lengths && !a.calib)
        return cli_bad_usage("--calib-lengths goes with --calib", NULL, usage_emit);
    if (!cli_quantize_ok(&a))
        return cli_bad_usage("--quantize is int8-weights, int8, int16 or none, not", a.quantize,
                             usage_emit);
    int st;
    Rnnc *r = cli_load(&a, &st);
    if (!r)
        return st;
    int rc = !a.weights              ? rnnc_write(r, a.out)
             : a.quantize || a.calib ? rnnc_write_quantized(r, a.out, a.weights, !a.no_selftest,
                                                            a.quantize, a.calib, a.calib_lengths)
                                     : rnnc_write_deployed(r, a.out, a.weights, !a.no_selftest);
    return cli_finish(r, rc == 0 ? 0 : 1);
}
