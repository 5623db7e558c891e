/* main.c — the rnnc command line: every command's options are one table (flag, kind, field);
 * the parsed arguments go to the library (include/rnnc.h) and its diagnostics are printed.
 * Exit status: 0 success, 1 bad input (spec, weights, data), 2 bad usage.
 */
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl.h"
#include "rnnc.h"

#define RNNC_VERSION "0.1.0"

static const char usage_main[] =
    "usage: rnnc SPEC -o OUT.c [--weights W.pt|W.safetensors [--no-selftest]]\n"
    "                  [--quantize MODE [--calib X.npy [--calib-lengths L.npy]]]\n"
    "                                     write OUT.c and OUT.h for the spec\n"
    "       rnnc check SPEC [--quantize MODE] [--weights W --calib X.npy]\n"
    "                                     validate the spec and report its sizes\n"
    "       rnnc run SPEC --weights W.pt --input X.npy [--lengths L.npy]\n"
    "                     [--h0 H0.npy] [--c0 C0.npy]\n"
    "                     --output Y.npy [--h-n H.npy] [--c-n C.npy] [--print]\n"
    "       rnnc grad SPEC --weights W.pt --input X.npy [--lengths L.npy]\n"
    "                      [--h0 H0.npy] [--c0 C0.npy] [--dh0 DH0.npy] [--dc0 DC0.npy]\n"
    "                      --target Y.npy --output G.safetensors\n"
    "       rnnc train SPEC --input X.npy --target Y.npy [--lengths L.npy]\n"
    "                       [--val-input X --val-target Y [--val-lengths L]]\n"
    "                       [--init W.safetensors | --resume CKPT] --save W.safetensors\n"
    "       rnnc import MODEL.onnx -o SPEC.yaml --weights-out W.safetensors\n"
    "       rnnc repl [SPEC] [--weights W.safetensors] [--jit tcc|cc]\n"
    "       rnnc plot KIND SPEC [--weights W] [--input X.npy] -o FIG.svg|.png|.pdf\n"
    "                     KIND: gates, state, gradients, params, arch, curves\n"
    "       rnnc report SPEC [--weights W --input X.npy] -o REPORT.html\n"
    "       rnnc help [COMMAND]           help on one command (also: rnnc COMMAND --help;\n"
    "                                     those reading weights take --rename OLD=NEW)\n"
    "       rnnc --version\n";

static const char usage_emit[] =
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

static const char usage_check[] =
    "usage: rnnc check SPEC [--quantize MODE] [--weights W --calib X.npy [--calib-lengths L]]\n"
    "Validates SPEC and prints, per block: cell, sizes, parameters (PyTorch's count and\n"
    "with merged biases), FLOPs per time step, state and scratch bytes, kernel choices.\n"
    "With a quantised mode (--quantize or deploy.quantize): its flash and RAM. With\n"
    "--weights and --calib: per layer, the worst and mean difference of the quantised model\n"
    "from the float model on the calibration data.\n";

static const char usage_run[] =
    "usage: rnnc run SPEC --weights W.pt --input X.npy [--lengths L.npy]\n"
    "                [--h0 H0.npy] [--c0 C0.npy]\n"
    "                --output Y.npy [--h-n H.npy] [--c-n C.npy] [--print] [--jit tcc|cc]\n"
    "                [--threads N] [--rename OLD=NEW ...]\n"
    "JIT-compiles the network through libtcc and runs it.\n"
    "  --weights  a state_dict: torch.save'd .pt or safetensors, named as the spec's\n"
    "             blocks and head (F32/F64; .pt also F16/BF16), or a checkpoint of rnnc train\n"
    "  --input    (B, T, I) if the spec says batch_first: true, else (T, B, I)\n"
    "  --lengths  (B,) int32/int64, each in 1..T: PyTorch's packed-sequence meaning\n"
    "  --h0       the top block's initial hidden state, (num_layers*D, B, H) (P with\n"
    "             proj_size) as PyTorch's h0; every other block starts from zeros\n"
    "  --c0       the top block's initial cell state, (num_layers*D, B, H) (LSTM only)\n"
    "  --output   the head's output ((B, O) for input: last; per step for sequence),\n"
    "             else the top block's output; zero past each length\n"
    "  --h-n      the top block's final hidden state, (num_layers*D, B, H)\n"
    "  --c-n      the top block's final cell state (LSTM only)\n"
    "  --print    also print the output (summarised when large); --output is then optional\n"
    "  --jit      tcc (default): libtcc in memory, milliseconds; cc: the system compiler\n"
    "             ($CC or cc, -O3 -march=native) into a cached shared object, faster code\n"
    "  --threads  N parts of the batch on N threads (default 1); the same numbers\n"
    "  --rename   OLD=NEW, repeatable: the file's prefix OLD is the spec's NEW\n"
    "             (encoder.rnn=rnn, classifier.fc=head; module.= strips module.)\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

static const char usage_grad[] =
    "usage: rnnc grad SPEC --weights W.pt --input X.npy [--lengths L.npy]\n"
    "                 [--h0 H0.npy] [--c0 C0.npy] [--dh0 DH0.npy] [--dc0 DC0.npy]\n"
    "                 --target Y.npy --output G.safetensors [--jit tcc|cc]\n"
    "                 [--rename OLD=NEW ...]\n"
    "Runs the network forward and backward through time (JIT-compiled through libtcc) and\n"
    "writes d loss / d parameter for every parameter, named and shaped as the weights; prints\n"
    "the loss. The spec's `loss:` says which: cross_entropy (on the head's logits; targets\n"
    "int class ids, (B,) for input: last, per step for sequence, -100 ignored), mse (on the\n"
    "output), bce_with_logits (on the logits; targets in [0, 1]). The mean is over valid\n"
    "elements: padded steps count for nothing. --h0, --c0 and --rename OLD=NEW as for run;\n"
    "--dh0 and --dc0 write d loss / d h0 (c0), h0's (c0's) shape.\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

static const char usage_train[] =
    "usage: rnnc train SPEC --input X.npy --target Y.npy [--lengths L.npy]\n"
    "                  [--val-input X.npy --val-target Y.npy [--val-lengths L.npy]]\n"
    "                  [--init W.safetensors | --resume CKPT] --save W.safetensors\n"
    "                  [--checkpoint CKPT] [--optimizer sgd|adam|adamw] [--lr X]\n"
    "                  [--momentum X] [--weight-decay X] [--batch-size N] [--epochs N]\n"
    "                  [--seed N] [--clip-grad-norm X] [--clip-grad-value X] [--tbptt K]\n"
    "                  [--no-shuffle] [--jit tcc|cc] [--threads N] [--rename OLD=NEW ...]\n"
    "                  [--log FILE.csv [--log-every N]]\n"
    "Trains the network on the data with the spec's loss and train: settings (the flags\n"
    "override them). Starts from --init, or PyTorch's initialisation drawn from the seed, or\n"
    "continues a checkpoint (--resume): the result equals an uninterrupted run bit for bit.\n"
    "A checkpoint (default: the --save path + .ckpt) and --save are written atomically after\n"
    "every epoch and on Ctrl-C; a non-finite loss stops training and keeps the last good\n"
    "checkpoint. train.scheduler sets the learning rate per epoch; with train.early_stopping\n"
    "--save holds the weights of the best validation loss (the checkpoint the latest).\n"
    "  --log        CSV, a row per epoch (and every --log-every steps):\n"
    "               step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time\n"
    "  --threads    split every mini-batch over N threads (gradients summed in order)\n"
    "Under mpirun (-np N) every process trains a share of each mini-batch, the gradients\n"
    "summed in rank order; rank 0 writes the checkpoint, the weights and the log.\n"
    "On a terminal a live line shows epoch, step, loss, steps/s and time left; every epoch\n"
    "prints a line with train and validation loss (and accuracy for classification).\n"
    "--rename OLD=NEW (as for run) applies to the --init weights.\n"
    "Exit status: 0 success (also after Ctrl-C, once saved), 1 bad input, 2 bad usage.\n";

static const char usage_import[] =
    "usage: rnnc import MODEL.onnx -o SPEC.yaml --weights-out W.safetensors\n"
    "Turns an ONNX model (LSTM, GRU and RNN nodes as torch.onnx.export writes them, forward or\n"
    "bidirectional, stacked, with an optional Gemm or MatMul+Add head and Softmax/Sigmoid) into\n"
    "a spec and its weights under PyTorch's state_dict names: ONNX's gate orders (iofc, zrh)\n"
    "reordered, its biases split. Anything else is listed (op type, node name) and nothing is\n"
    "written. Exit status: 0 success, 1 a model it cannot take, 2 bad usage.\n";

static const char usage_repl[] =
    "usage: rnnc repl [SPEC] [--weights W.safetensors] [--rename OLD=NEW ...] [--jit tcc|cc]\n"
    "An interactive session: load, change (set PATH VALUE: recompiled at once), inspect,\n"
    "run step by step, watch the gates, train. `help` inside lists the commands. Without a\n"
    "terminal it reads commands line by line (rnnc repl SPEC < script.rnnc), prints no\n"
    "prompt, and exits 1 if any command failed.\n";

/* Every option of every command, parsed into one place. */
typedef struct Args {
    const char *spec;
    const char *out, *weights, *input, *lengths, *output, *h_n, *c_n, *target;
    const char *val_input, *val_target, *val_lengths, *init, *resume, *save, *checkpoint;
    const char *jit, *threads, *weights_out, *log, *log_every;
    const char *h0, *c0, *dh0, *dc0; /* initial states and their gradients */
    const char *quantize, *calib, *calib_lengths;
    int print, no_selftest, no_shuffle;
    int ntrain;
    const char *train_key[16], *train_flag[16], *train_value[16]; /* train: overrides */
    /* plot and report */
    const char *seq, *layer, *units, *seed, *steps, *unroll, *plot_log, *cw_rnn, *cw_lstm, *cw_gru;
    int compare, cell;
    int nrename;
    const char *rename[64]; /* --rename OLD=NEW, in order */
} Args;

typedef enum OptKind {
    OPT_VALUE, /* --flag VALUE (or --flag=VALUE) into a const char * field */
    OPT_FLAG,  /* --flag: an int field set to 1 */
    OPT_TRAIN, /* --flag VALUE: the train: key `key`, checked by the library */
    OPT_LIST   /* --flag VALUE, repeatable: Args.rename */
} OptKind;

typedef struct Opt {
    const char *flag;
    OptKind kind;
    size_t field;    /* offsetof(Args, ...) for OPT_VALUE and OPT_FLAG */
    const char *key; /* OPT_TRAIN: the spec's train: key */
} Opt;

#define V(flag, f)                                                                                \
    {                                                                                             \
        flag, OPT_VALUE, offsetof(Args, f), NULL                                                  \
    }
#define F(flag, f)                                                                                \
    {                                                                                             \
        flag, OPT_FLAG, offsetof(Args, f), NULL                                                   \
    }
#define T(flag, key)                                                                              \
    {                                                                                             \
        flag, OPT_TRAIN, 0, key                                                                   \
    }
#define RENAME                                                                                    \
    {                                                                                             \
        "--rename", OPT_LIST, 0, NULL                                                             \
    }

static const Opt emit_opts[] = {V("-o", out),
                                V("--weights", weights),
                                F("--no-selftest", no_selftest),
                                V("--quantize", quantize),
                                V("--calib", calib),
                                V("--calib-lengths", calib_lengths),
                                RENAME};
static const Opt check_opts[] = {V("--quantize", quantize), V("--weights", weights),
                                 V("--calib", calib), V("--calib-lengths", calib_lengths), RENAME};
static const Opt run_opts[] = {
    V("--weights", weights), V("--input", input), V("--lengths", lengths), V("--output", output),
    V("--h-n", h_n),         V("--c-n", c_n),     F("--print", print),     V("--threads", threads),
    V("--jit", jit),         V("--h0", h0),       V("--c0", c0),           RENAME};
static const Opt grad_opts[] = {V("--weights", weights),
                                V("--input", input),
                                V("--lengths", lengths),
                                V("--target", target),
                                V("--output", output),
                                V("--jit", jit),
                                V("--h0", h0),
                                V("--c0", c0),
                                V("--dh0", dh0),
                                V("--dc0", dc0),
                                RENAME};
static const Opt train_opts[] = {
    V("--input", input),
    V("--target", target),
    V("--lengths", lengths),
    V("--val-input", val_input),
    V("--val-target", val_target),
    V("--val-lengths", val_lengths),
    V("--init", init),
    V("--resume", resume),
    V("--save", save),
    V("--checkpoint", checkpoint),
    V("--log", log),
    V("--log-every", log_every),
    V("--threads", threads),
    F("--no-shuffle", no_shuffle),
    V("--jit", jit),
    T("--optimizer", "optimizer"),
    T("--lr", "lr"),
    T("--momentum", "momentum"),
    T("--weight-decay", "weight_decay"),
    T("--batch-size", "batch_size"),
    T("--epochs", "epochs"),
    T("--seed", "seed"),
    T("--clip-grad-norm", "clip_grad_norm"),
    T("--clip-grad-value", "clip_grad_value"),
    T("--tbptt", "tbptt"),
    RENAME,
};
static const Opt repl_opts[] = {V("--weights", weights), V("--jit", jit), RENAME};
static const Opt import_opts[] = {V("-o", out), V("--weights-out", weights_out)};
static const Opt plot_opts[] = {V("-o", out),
                                V("--weights", weights),
                                V("--input", input),
                                V("--lengths", lengths),
                                V("--seq", seq),
                                V("--layer", layer),
                                V("--units", units),
                                V("--seed", seed),
                                V("--steps", steps),
                                F("--compare", compare),
                                V("--rnn-weights", cw_rnn),
                                V("--lstm-weights", cw_lstm),
                                V("--gru-weights", cw_gru),
                                F("--cell", cell),
                                V("--unroll", unroll),
                                V("--log", plot_log),
                                V("--jit", jit)};

static int bad_usage(const char *msg, const char *arg, const char *usage)
{
    if (arg)
        fprintf(stderr, "rnnc: %s '%s'\n", msg, arg);
    else
        fprintf(stderr, "rnnc: %s\n", msg);
    fputs(usage, stderr);
    return 2;
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Matches `--name VALUE` or `--name=VALUE` at argv[*i]; 1 if matched, -1 if VALUE missing. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *out = argv[++*i];
    return 1;
}

/* One option at argv[*i] against the table: 1 matched, 0 not, -1 its value is missing, -2
 * one too many of a repeatable option. */
static int match(int argc, char **argv, int *i, const Opt *o, Args *a)
{
    if (o->kind == OPT_FLAG) {
        if (strcmp(argv[*i], o->flag) != 0)
            return 0;
        *(int *)((char *)a + o->field) = 1;
        return 1;
    }
    const char *v = NULL;
    int m = opt_value(argc, argv, i, o->flag, &v);
    if (m <= 0)
        return m;
    if (o->kind == OPT_VALUE) {
        *(const char **)((char *)a + o->field) = v;
    } else if (o->kind == OPT_LIST) {
        if (a->nrename == 64)
            return -2;
        a->rename[a->nrename++] = v;
    } else if (a->ntrain < 16) {
        a->train_key[a->ntrain] = o->key;
        a->train_flag[a->ntrain] = o->flag;
        a->train_value[a->ntrain++] = v;
    }
    return 1;
}

/* Parses argv against opts (and --help). Returns 0 to go on, 1 after printing the help
 * (exit 0), 2 after a usage message (exit 2). a->spec gets the one positional argument. */
static int parse_args(int argc, char **argv, const Opt *opts, int nopts, Args *a,
                      const char *usage)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage, stdout);
            return 1;
        }
        int matched = 0;
        for (int k = 0; k < nopts && !matched; k++) {
            matched = match(argc, argv, &i, &opts[k], a);
            if (matched < 0) {
                bad_usage(matched == -1 ? "missing value after" : "too many", argv[i], usage);
                return 2;
            }
        }
        if (matched)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            bad_usage("unknown option", argv[i], usage);
            return 2;
        }
        if (a->spec) {
            bad_usage("unexpected argument", argv[i], usage);
            return 2;
        }
        a->spec = argv[i];
    }
    return 0;
}

/* `value` of option `flag` as a whole number in [lo, hi] into *out: 0, else 2 after the
 * usage message. NULL leaves *out alone. */
static int whole(const char *flag, const char *value, long lo, long hi, long *out,
                 const char *usage)
{
    if (!value)
        return 0;
    char *end, msg[96];
    long v = strtol(value, &end, 10);
    if (!*value || *end || v < lo || v > hi) {
        snprintf(msg, sizeof msg, "%s takes a whole number from %ld to %ld, not", flag, lo, hi);
        return bad_usage(msg, value, usage);
    }
    *out = v;
    return 0;
}

/* The first of the `n` required options (flag, value) that is missing, or NULL. */
static const char *first_missing(const char *const *flags, const char *const *values, int n)
{
    for (int k = 0; k < n; k++)
        if (!values[k])
            return flags[k];
    return NULL;
}

/* Usage errors common to the commands: no SPEC, a missing required option, a bad --jit.
 * 0 to go on, else 2 after the message. */
static int require(const Args *a, const char *cmd, const char *const *flags,
                   const char *const *values, int n, const char *usage)
{
    char msg[96];
    if (!a->spec) {
        snprintf(msg, sizeof msg, "%s needs a SPEC", cmd);
        return bad_usage(msg, NULL, usage);
    }
    const char *miss = first_missing(flags, values, n);
    if (miss) {
        snprintf(msg, sizeof msg, "%s needs %s", cmd, miss);
        return bad_usage(msg, NULL, usage);
    }
    if (a->jit && strcmp(a->jit, "tcc") != 0 && strcmp(a->jit, "cc") != 0)
        return bad_usage("--jit is tcc or cc, not", a->jit, usage);
    return 0;
}

/* A handle with the spec loaded, --jit set and the --rename options given; prints
 * diagnostics (also warnings on success). NULL when a --rename is malformed (*status 2), the
 * spec has errors (printed) or memory ran out (*status 1). */
static Rnnc *load(const Args *a, int *status)
{
    Rnnc *r = rnnc_new();
    *status = 1;
    if (!r) {
        fprintf(stderr, "rnnc: out of memory\n");
        return NULL;
    }
    if (a->jit)
        rnnc_set_jit(r, a->jit);
    for (int k = 0; k < a->nrename; k++)
        if (rnnc_rename(r, a->rename[k]) < 0) {
            rnnc_diag_print(r, stderr);
            rnnc_free(r);
            *status = 2;
            return NULL;
        }
    int rc = rnnc_load(r, a->spec);
    int nerrors = rnnc_diag_print(r, stderr);
    if (rc < 0) {
        if (nerrors > 1)
            fprintf(stderr, "%d errors\n", nerrors);
        rnnc_free(r);
        return NULL;
    }
    return r;
}

/* Prints what is left to say, frees r, and returns the exit status. */
static int finish(Rnnc *r, int rc)
{
    rnnc_diag_print(r, stderr);
    rnnc_free(r);
    return rc;
}

#define NOPTS(t) ((int)(sizeof t / sizeof t[0]))

/* A --quantize value the library knows (none, int8-weights, int8, int16), or none given. */
static int quantize_ok(const Args *a)
{
    return !a->quantize || rnnc_quant_known(a->quantize);
}

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

static int cmd_check(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, check_opts, NOPTS(check_opts), &a, usage_check);
    if (pr || (pr = require(&a, "check", NULL, NULL, 0, usage_check)))
        return pr == 1 ? 0 : 2;
    if (!a.calib != !a.weights)
        return bad_usage("--calib and --weights go together", NULL, usage_check);
    if (a.calib_lengths && !a.calib)
        return bad_usage("--calib-lengths goes with --calib", NULL, usage_check);
    if (!quantize_ok(&a))
        return bad_usage("--quantize is int8-weights, int8, int16 or none, not", a.quantize,
                         usage_check);
    int st;
    Rnnc *r = load(&a, &st);
    if (!r)
        return st;
    rnnc_report(r, stdout);
    if (rnnc_report_quant(r, a.quantize, stdout) < 0)
        return finish(r, 2);
    if (a.calib && check_calib(r, &a) < 0)
        return finish(r, 1);
    return finish(r, 0);
}

static int cmd_run(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, run_opts, NOPTS(run_opts), &a, usage_run);
    const char *flags[] = {"--weights", "--input", "--output"};
    const char *values[] = {a.weights, a.input, a.output ? a.output : a.print ? "" : NULL};
    if (pr || (pr = require(&a, "run", flags, values, 3, usage_run)))
        return pr == 1 ? 0 : 2;
    RnncRunArgs ra = {
        a.weights, a.input, a.lengths, a.output, a.h_n, a.c_n, a.print ? stdout : NULL,
        1,         a.h0,    a.c0};
    long nt = 1;
    if (a.threads && whole("--threads", a.threads, 1, 256, &nt, usage_run))
        return 2;
    ra.threads = (int)nt;
    int st;
    Rnnc *r = load(&a, &st);
    if (!r)
        return st;
    return finish(r, rnnc_run(r, &ra) == 0 ? 0 : 1);
}

static int cmd_grad(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, grad_opts, NOPTS(grad_opts), &a, usage_grad);
    const char *flags[] = {"--weights", "--input", "--target", "--output"};
    const char *values[] = {a.weights, a.input, a.target, a.output};
    if (pr || (pr = require(&a, "grad", flags, values, 4, usage_grad)))
        return pr == 1 ? 0 : 2;
    int st;
    Rnnc *r = load(&a, &st);
    if (!r)
        return st;
    RnncGradArgs ga = {a.weights, a.input, a.lengths, a.target, a.output, 0,
                       0,         a.h0,    a.c0,      a.dh0,    a.dc0};
    if (rnnc_grad(r, &ga) != 0)
        return finish(r, 1);
    printf("loss %.9g\n", ga.loss);
    return finish(r, 0);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct Display {
    int tty;
    double last;
    int live; /* a live line is on the terminal, not yet ended */
} Display;

static void show_progress(void *ctx, const RnncProgress *p)
{
    Display *d = ctx;
    if (p->end_of_epoch) {
        if (d->tty)
            printf("\r\033[K");
        d->live = 0;
        printf("epoch %d/%d  loss %.6f", p->epoch, p->epochs, p->loss);
        if (!isnan(p->train_acc))
            printf("  acc %.4f", p->train_acc);
        if (!isnan(p->val_loss))
            printf("  val_loss %.6f", p->val_loss);
        if (!isnan(p->val_acc))
            printf("  val_acc %.4f", p->val_acc);
        printf("  lr %.3g%s  (%.1f s)\n", p->lr, p->best ? "  best" : "", p->elapsed);
        fflush(stdout);
        return;
    }
    if (!d->tty || (p->elapsed - d->last < 0.1 && p->step != p->steps))
        return;
    d->last = p->elapsed;
    d->live = 1;
    printf("\r\033[Kepoch %d/%d  step %ld/%ld  loss %.6f  %.1f steps/s  %.0f s left", p->epoch,
           p->epochs, p->step, p->steps, p->loss, p->steps_per_s, p->eta);
    fflush(stdout);
}

static int cmd_train(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, train_opts, NOPTS(train_opts), &a, usage_train);
    const char *flags[] = {"--input", "--target", "--save"};
    const char *values[] = {a.input, a.target, a.save};
    if (pr || (pr = require(&a, "train", flags, values, 3, usage_train)))
        return pr == 1 ? 0 : 2;
    if (a.init && a.resume)
        return bad_usage("--init and --resume exclude each other", NULL, usage_train);
    if (!a.val_input != !a.val_target)
        return bad_usage("--val-input and --val-target go together", NULL, usage_train);
    if (a.log_every && !a.log)
        return bad_usage("--log-every goes with --log", NULL, usage_train);
    long threads = 1, every = 0;
    if ((a.threads && whole("--threads", a.threads, 1, 256, &threads, usage_train)) ||
        (a.log_every && whole("--log-every", a.log_every, 1, 1L << 30, &every, usage_train)))
        return 2;
    int mpi = rnnc_mpi_launched(), rank0 = rnnc_mpi_rank() == 0;
    if (mpi && threads > 1)
        return bad_usage("--threads is for one process; under mpirun each rank is one", NULL,
                         usage_train);
    int st;
    Rnnc *r = load(&a, &st);
    if (!r)
        return st;
    RnncTrainArgs ta;
    memset(&ta, 0, sizeof ta);
    rnnc_train_cfg(r, &ta.cfg);
    /* the overrides follow the spec's own rules: a bad value is bad usage here */
    for (int k = 0; k < a.ntrain; k++)
        if (rnnc_train_set(r, &ta.cfg, a.train_key[k], a.train_value[k], a.train_flag[k]) < 0)
            return finish(r, 2);
    if (a.no_shuffle)
        ta.cfg.shuffle = 0;
    ta.input = a.input;
    ta.target = a.target;
    ta.lengths = a.lengths;
    ta.val_input = a.val_input;
    ta.val_target = a.val_target;
    ta.val_lengths = a.val_lengths;
    ta.init = a.init;
    ta.resume = a.resume;
    ta.save = a.save;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", a.save);
    ta.checkpoint = a.checkpoint ? a.checkpoint : ckpt;
    ta.log = a.log;
    ta.log_every = (int)every;
    ta.threads = (int)threads;
    ta.mpi = mpi;
    Display disp = {isatty(STDOUT_FILENO) && rank0, -1, 0};
    ta.progress = show_progress;
    ta.ctx = &disp;
    ta.stop = &interrupted;
    /* Ctrl-C, and the SIGTERM that mpirun sends every rank on Ctrl-C: stop at the next
     * step, save once (rank 0), exit 0 */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (mpi)
        sigaction(SIGTERM, &sa, NULL);
    int rc = rnnc_train(r, &ta);
    signal(SIGINT, SIG_DFL);
    if (disp.live) { /* end the live line before anything else is said */
        printf("\n");
        fflush(stdout);
    }
    if (rc == 0 && ta.rank == 0) {
        if (ta.stopped)
            fprintf(stderr,
                    "rnnc: interrupted: weights saved to %s, checkpoint %s; continue with "
                    "--resume %s\n",
                    ta.save, ta.checkpoint, ta.checkpoint);
        else if (ta.early_stopped)
            printf("early stopping: no better validation loss for %d epochs; saved %s (the "
                   "best weights)\n",
                   ta.cfg.stop_patience, ta.save);
        else
            printf("saved %s\n", ta.save);
        if (ta.nranks > 1)
            printf("trained on %d MPI ranks: %.1f s, of which %.2f s (%.1f %%) in exchanges\n",
                   ta.nranks, ta.seconds, ta.comm_seconds,
                   100 * ta.comm_seconds / (ta.seconds > 0 ? ta.seconds : 1));
    }
    return finish(r, rc == 0 ? 0 : 1);
}

static int cmd_repl(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, repl_opts, NOPTS(repl_opts), &a, usage_repl);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (a.jit && strcmp(a.jit, "tcc") != 0 && strcmp(a.jit, "cc") != 0)
        return bad_usage("--jit is tcc or cc, not", a.jit, usage_repl);
    Rnnc *r = rnnc_new(); /* the --rename options checked before the session starts */
    for (int k = 0; r && k < a.nrename; k++)
        if (rnnc_rename(r, a.rename[k]) < 0)
            return finish(r, 2);
    rnnc_free(r);
    return repl_main(a.spec, a.weights, a.rename, a.nrename, a.jit ? a.jit : "tcc");
}

static int cmd_import(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, import_opts, NOPTS(import_opts), &a, usage_import);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!a.spec)
        return bad_usage("import needs a MODEL.onnx", NULL, usage_import);
    if (!a.out || !a.weights_out)
        return bad_usage(!a.out ? "import needs -o SPEC.yaml" : "import needs --weights-out", NULL,
                         usage_import);
    Rnnc *r = rnnc_new();
    if (!r)
        return 1;
    int rc = rnnc_import(r, a.spec, a.out, a.weights_out);
    if (rc == 0)
        printf("wrote %s and %s\n", a.out, a.weights_out);
    return finish(r, rc == 0 ? 0 : 1);
}

static const char usage_plot[] =
    "usage: rnnc plot KIND SPEC [--weights W.safetensors] [--input X.npy [--lengths L.npy]\n"
    "                 [--seq N]] [--seed N] [--steps N] -o FIG.svg|FIG.png|FIG.pdf\n"
    "Draws a figure of the network in SPEC, computed by its generated code:\n"
    "  gates      every gate of one layer per unit over time, the input above, the means\n"
    "             below [--layer N (rnnc_layer's numbering: layer-directions)] [--units "
    "0-7,12]\n"
    "  state      h (and an LSTM's c) per unit over time, one panel per layer [--units]\n"
    "  gradients  |dL/dh_t| against T - t, log scale, L the sum of the last step's outputs,\n"
    "             from the generated backward [--compare: the spec as RNN, LSTM and GRU from\n"
    "             one seed, or trained: --rnn-weights W --lstm-weights W --gru-weights W]\n"
    "  params     parameters and FLOPs per step against hidden size, RNN, LSTM, GRU\n"
    "  arch       the network as a diagram [--cell: the cell inside] [--unroll N]\n"
    "  curves     training curves: rnnc plot curves LOG.csv (or SPEC --log LOG.csv), the\n"
    "             CSV of rnnc train --log\n"
    "Without --weights the weights are PyTorch's initialisation from --seed (default 0);\n"
    "without --input the input is a standard normal sequence of --steps steps (100) from\n"
    "the seed; --seq picks a sequence of the batch (0). The format follows the extension.\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

static const char usage_report[] =
    "usage: rnnc report SPEC [--weights W.safetensors --input X.npy [--lengths L.npy]\n"
    "                   [--seq N]] [--seed N] -o REPORT.html\n"
    "Writes one self-contained HTML page (inline SVG, nothing fetched): the check summary,\n"
    "the architecture, the cell, parameter counts and, with weights and an input, the\n"
    "gates, the state and the gradient through time of one sequence.\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

/* The options plot and report share into *pa; 0, or 2 after a usage message. */
static int plot_args(const Args *a, RnncPlotArgs *pa, const char *usage)
{
    long seq = 0, layer = 0, seed = 0, steps = 0, unroll = 0;
    memset(pa, 0, sizeof *pa);
    if (whole("--seq", a->seq, 0, 1L << 30, &seq, usage) ||
        whole("--layer", a->layer, 0, 4096, &layer, usage) ||
        whole("--seed", a->seed, 0, 1L << 62, &seed, usage) ||
        whole("--steps", a->steps, 1, 100000, &steps, usage) ||
        whole("--unroll", a->unroll, 1, 64, &unroll, usage))
        return 2;
    if (a->lengths && !a->input)
        return bad_usage("--lengths goes with --input", NULL, usage);
    pa->weights = a->weights;
    pa->input = a->input;
    pa->lengths = a->lengths;
    pa->seq = (int)seq;
    pa->layer = (int)layer;
    pa->seed = seed;
    pa->steps = (int)steps;
    pa->unroll = (int)unroll;
    pa->units = a->units;
    pa->compare = a->compare;
    pa->cell = a->cell;
    pa->log = a->plot_log;
    pa->compare_weights[0] = a->cw_rnn;
    pa->compare_weights[1] = a->cw_lstm;
    pa->compare_weights[2] = a->cw_gru;
    return 0;
}

static int has_ext(const char *path, const char *const *exts, int n)
{
    const char *dot = strrchr(path, '.');
    for (int k = 0; dot && k < n; k++)
        if (strcmp(dot + 1, exts[k]) == 0)
            return 1;
    return 0;
}

static int cmd_plot(int argc, char **argv)
{
    if (argc < 1)
        return bad_usage("plot needs a KIND and a SPEC", NULL, usage_plot);
    if (is_help(argv[0])) {
        fputs(usage_plot, stdout);
        return 0;
    }
    int kind = rnnc_plot_kind(argv[0]);
    if (kind < 0)
        return bad_usage("no such figure (gates, state, gradients, params, arch, curves):",
                         argv[0], usage_plot);
    Args a;
    int pr = parse_args(argc - 1, argv + 1, plot_opts, NOPTS(plot_opts), &a, usage_plot);
    if (pr)
        return pr == 1 ? 0 : 2;
    static const char *const figs[3] = {"svg", "png", "pdf"}, *csv[1] = {"csv"};
    int log_only = kind == RNNC_PLOT_CURVES && a.spec && has_ext(a.spec, csv, 1);
    if (log_only && !a.plot_log) {
        a.plot_log = a.spec;
        a.spec = NULL;
    }
    if (kind == RNNC_PLOT_CURVES && !a.plot_log)
        return bad_usage("plot curves needs a log: rnnc plot curves LOG.csv", NULL, usage_plot);
    if (!log_only && (pr = require(&a, "plot", NULL, NULL, 0, usage_plot)))
        return pr;
    if (!a.out)
        return bad_usage("plot needs -o FIG.svg, FIG.png or FIG.pdf", NULL, usage_plot);
    if (!has_ext(a.out, figs, 3))
        return bad_usage("the figure's format comes from its extension: .svg, .png or .pdf, not",
                         a.out, usage_plot);
    RnncPlotArgs pa;
    if (plot_args(&a, &pa, usage_plot))
        return 2;
    pa.kind = (RnncPlotKind)kind;
    pa.output = a.out;
    int st = 1;
    Rnnc *r = log_only ? rnnc_new() : load(&a, &st);
    if (!r)
        return st;
    int rc = rnnc_plot(r, &pa);
    if (rc == 0)
        printf("wrote %s\n", a.out);
    return finish(r, rc == 0 ? 0 : 1);
}

static int cmd_report(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, plot_opts, NOPTS(plot_opts), &a, usage_report);
    const char *flags[] = {"-o"};
    const char *values[] = {a.out};
    if (pr || (pr = require(&a, "report", flags, values, 1, usage_report)))
        return pr == 1 ? 0 : 2;
    static const char *const html[2] = {"html", "htm"};
    if (!has_ext(a.out, html, 2))
        return bad_usage("the report is HTML: -o REPORT.html, not", a.out, usage_report);
    RnncPlotArgs pa;
    if (plot_args(&a, &pa, usage_report))
        return 2;
    int st;
    Rnnc *r = load(&a, &st);
    if (!r)
        return st;
    int rc = rnnc_report_html(r, &pa, a.out);
    if (rc == 0)
        printf("wrote %s\n", a.out);
    return finish(r, rc == 0 ? 0 : 1);
}

static int cmd_emit(int argc, char **argv)
{
    Args a;
    int pr = parse_args(argc, argv, emit_opts, NOPTS(emit_opts), &a, usage_emit);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!a.spec)
        return bad_usage("no SPEC given", NULL, usage_main);
    if (!a.out)
        return bad_usage("no output: use -o OUT.c", NULL, usage_emit);
    if (a.no_selftest && !a.weights)
        return bad_usage("--no-selftest goes with --weights", NULL, usage_emit);
    size_t n = strlen(a.out);
    if (n < 3 || strcmp(a.out + n - 2, ".c") != 0)
        return bad_usage("-o takes the C file to write, OUT.c (its header OUT.h goes beside it), "
                         "not",
                         a.out, usage_emit);
    if ((a.quantize || a.calib) && !a.weights)
        return bad_usage("--quantize and --calib go with --weights", NULL, usage_emit);
    if (a.calib_lengths && !a.calib)
        return bad_usage("--calib-lengths goes with --calib", NULL, usage_emit);
    if (!quantize_ok(&a))
        return bad_usage("--quantize is int8-weights, int8, int16 or none, not", a.quantize,
                         usage_emit);
    int st;
    Rnnc *r = load(&a, &st);
    if (!r)
        return st;
    int rc = !a.weights              ? rnnc_write(r, a.out)
             : a.quantize || a.calib ? rnnc_write_quantized(r, a.out, a.weights, !a.no_selftest,
                                                            a.quantize, a.calib, a.calib_lengths)
                                     : rnnc_write_deployed(r, a.out, a.weights, !a.no_selftest);
    return finish(r, rc == 0 ? 0 : 1);
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
} cmds[] = {{"check", cmd_check, usage_check}, {"run", cmd_run, usage_run},
            {"grad", cmd_grad, usage_grad},    {"train", cmd_train, usage_train},
            {"repl", cmd_repl, usage_repl},    {"import", cmd_import, usage_import},
            {"plot", cmd_plot, usage_plot},    {"report", cmd_report, usage_report}};
enum { NCMDS = sizeof cmds / sizeof cmds[0] };

/* Edit distance of two short words, for "did you mean". */
static int distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 31 || nb > 31)
        return 99;
    int d[32][32];
    for (size_t i = 0; i <= na; i++)
        for (size_t j = 0; j <= nb; j++) {
            if (!i || !j) {
                d[i][j] = (int)(i + j);
                continue;
            }
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[na][nb];
}

/* argv[1] is neither a command nor a file: a word that looks meant as a command. */
static int unknown_command(const char *word)
{
    const char *best = "help";
    int bd = distance(word, "help");
    for (int k = 0; k < NCMDS; k++)
        if (distance(word, cmds[k].name) < bd)
            bd = distance(word, cmds[k].name), best = cmds[k].name;
    fprintf(stderr, "rnnc: unknown command '%s'", word);
    if (bd <= 2)
        fprintf(stderr, "; did you mean '%s'?", best);
    fputc('\n', stderr);
    fputs(usage_main, stderr);
    return 2;
}

/* rnnc help [COMMAND] */
static int cmd_help(int argc, char **argv)
{
    for (int k = 0; argc > 0 && k < NCMDS; k++)
        if (strcmp(argv[0], cmds[k].name) == 0) {
            fputs(cmds[k].usage, stdout);
            return 0;
        }
    if (argc > 0 && strcmp(argv[0], "emit") != 0)
        return unknown_command(argv[0]);
    fputs(argc > 0 ? usage_emit : usage_main, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage("no command or SPEC given", NULL, usage_main);
    const char *cmd = argv[1];
    if (is_help(cmd) || strcmp(cmd, "help") == 0)
        return cmd_help(argc - 2, argv + 2);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("rnnc %s\n", RNNC_VERSION);
        return 0;
    }
    for (int k = 0; k < NCMDS; k++)
        if (strcmp(cmd, cmds[k].name) == 0)
            return cmds[k].fn(argc - 2, argv + 2);
    /* not a command: a SPEC, unless it is a plain word naming no file */
    if (cmd[0] != '-' && !strchr(cmd, '.') && !strchr(cmd, '/') && access(cmd, F_OK) != 0)
        return unknown_command(cmd);
    return cmd_emit(argc - 1, argv + 1);
}
