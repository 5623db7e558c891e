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
    "usage: rnnc SPEC -o OUT.c [--weights W.safetensors [--no-selftest]]\n"
    "                  [--quantize MODE [--calib X.npy [--calib-lengths L.npy]]]\n"
    "                                     write OUT.c and OUT.h for the spec\n"
    "       rnnc check SPEC [--quantize MODE] [--weights W --calib X.npy]\n"
    "                                     validate the spec and report its sizes\n"
    "       rnnc run SPEC --weights W.safetensors --input X.npy [--lengths L.npy]\n"
    "                     --output Y.npy [--h-n H.npy] [--c-n C.npy] [--print]\n"
    "       rnnc grad SPEC --weights W.safetensors --input X.npy [--lengths L.npy]\n"
    "                      --target Y.npy --output G.safetensors\n"
    "       rnnc train SPEC --input X.npy --target Y.npy [--lengths L.npy]\n"
    "                       [--val-input X --val-target Y [--val-lengths L]]\n"
    "                       [--init W.safetensors | --resume CKPT] --save W.safetensors\n"
    "       rnnc repl [SPEC] [--weights W.safetensors] [--jit tcc|cc]\n"
    "       rnnc COMMAND --help           help on one command\n"
    "       rnnc --version\n";

static const char usage_emit[] =
    "usage: rnnc SPEC -o OUT.c [--weights W.safetensors [--no-selftest]]\n"
    "                 [--quantize MODE [--calib X.npy [--calib-lengths L.npy]]]\n"
    "Generates C specialised to the network in SPEC: OUT.c and OUT.h beside it.\n"
    "Without --weights: the caller passes the PyTorch weights (<name>_pack, <name>_forward).\n"
    "With --weights: deployable code, the weights baked in as static const arrays, a\n"
    "  caller-owned state with <name>_reset and <name>_step (streaming, one sample per\n"
    "  call), <name>_forward up to deploy.max_seq_len, and <name>_selftest (golden outputs\n"
    "  computed now; --no-selftest leaves it out). No malloc, no I/O, no mutable globals.\n"
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
    "usage: rnnc run SPEC --weights W.safetensors --input X.npy [--lengths L.npy]\n"
    "                --output Y.npy [--h-n H.npy] [--c-n C.npy] [--print] [--jit tcc|cc]\n"
    "                [--threads N]\n"
    "JIT-compiles the network through libtcc and runs it.\n"
    "  --weights  safetensors with the state_dict names of the blocks and head (F32/F64)\n"
    "  --input    (B, T, I) if the spec says batch_first: true, else (T, B, I)\n"
    "  --lengths  (B,) int32/int64, each in 1..T: PyTorch's packed-sequence meaning\n"
    "  --output   the head's output ((B, O) for input: last; per step for sequence),\n"
    "             else the top block's output; zero past each length\n"
    "  --h-n      the top block's final hidden state, (num_layers*D, B, H)\n"
    "  --c-n      the top block's final cell state (LSTM only)\n"
    "  --print    also print the output (summarised when large); --output is then optional\n"
    "  --jit      tcc (default): libtcc in memory, milliseconds; cc: the system compiler\n"
    "             ($CC or cc, -O3 -march=native) into a cached shared object, faster code\n"
    "  --threads  N parts of the batch on N threads (default 1); the same numbers\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

static const char usage_grad[] =
    "usage: rnnc grad SPEC --weights W.safetensors --input X.npy [--lengths L.npy]\n"
    "                 --target Y.npy --output G.safetensors [--jit tcc|cc]\n"
    "Runs the network forward and backward through time (JIT-compiled through libtcc) and\n"
    "writes d loss / d parameter for every parameter, named and shaped as the weights; prints\n"
    "the loss. The spec's `loss:` says which: cross_entropy (on the head's logits; targets\n"
    "int class ids, (B,) for input: last, per step for sequence, -100 ignored), mse (on the\n"
    "output), bce_with_logits (on the logits; targets in [0, 1]). The mean is over valid\n"
    "elements: padded steps count for nothing.\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

static const char usage_train[] =
    "usage: rnnc train SPEC --input X.npy --target Y.npy [--lengths L.npy]\n"
    "                  [--val-input X.npy --val-target Y.npy [--val-lengths L.npy]]\n"
    "                  [--init W.safetensors | --resume CKPT] --save W.safetensors\n"
    "                  [--checkpoint CKPT] [--optimizer sgd|adam|adamw] [--lr X]\n"
    "                  [--momentum X] [--weight-decay X] [--batch-size N] [--epochs N]\n"
    "                  [--seed N] [--clip-grad-norm X] [--clip-grad-value X] [--tbptt K]\n"
    "                  [--no-shuffle] [--jit tcc|cc]\n"
    "Trains the network on the data with the spec's loss and train: settings (the flags\n"
    "override them). Starts from --init, or PyTorch's initialisation drawn from the seed, or\n"
    "continues a checkpoint (--resume): the result equals an uninterrupted run bit for bit.\n"
    "A checkpoint (default: the --save path + .ckpt) is written atomically after every epoch\n"
    "and on Ctrl-C; a non-finite loss stops training and keeps the last good checkpoint.\n"
    "On a terminal a live line shows epoch, step, loss, steps/s and time left; every epoch\n"
    "prints a line with train and validation loss (and accuracy for classification).\n"
    "Exit status: 0 success (also after Ctrl-C, once saved), 1 bad input, 2 bad usage.\n";

static const char usage_repl[] =
    "usage: rnnc repl [SPEC] [--weights W.safetensors] [--jit tcc|cc]\n"
    "An interactive session: load, change (set PATH VALUE: recompiled at once), inspect,\n"
    "run step by step, watch the gates, train. `help` inside lists the commands. Without a\n"
    "terminal it reads commands line by line (rnnc repl SPEC < script.rnnc), prints no\n"
    "prompt, and exits 1 if any command failed.\n";

/* Every option of every command, parsed into one place. */
typedef struct Args {
    const char *spec;
    const char *out, *weights, *input, *lengths, *output, *h_n, *c_n, *target;
    const char *val_input, *val_target, *val_lengths, *init, *resume, *save, *checkpoint;
    const char *jit, *threads;
    const char *quantize, *calib, *calib_lengths;
    int print, no_selftest, no_shuffle;
    int ntrain;
    const char *train_key[16], *train_flag[16], *train_value[16]; /* train: overrides */
} Args;

typedef enum OptKind {
    OPT_VALUE, /* --flag VALUE (or --flag=VALUE) into a const char * field */
    OPT_FLAG,  /* --flag: an int field set to 1 */
    OPT_TRAIN  /* --flag VALUE: the train: key `key`, checked by the library */
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

static const Opt emit_opts[] = {V("-o", out),
                                V("--weights", weights),
                                F("--no-selftest", no_selftest),
                                V("--quantize", quantize),
                                V("--calib", calib),
                                V("--calib-lengths", calib_lengths)};
static const Opt check_opts[] = {V("--quantize", quantize), V("--weights", weights),
                                 V("--calib", calib), V("--calib-lengths", calib_lengths)};
static const Opt run_opts[] = {
    V("--weights", weights), V("--input", input),     V("--lengths", lengths),
    V("--output", output),   V("--h-n", h_n),         V("--c-n", c_n),
    F("--print", print),     V("--threads", threads), V("--jit", jit)};
static const Opt grad_opts[] = {V("--weights", weights), V("--input", input),
                                V("--lengths", lengths), V("--target", target),
                                V("--output", output),   V("--jit", jit)};
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
};
static const Opt repl_opts[] = {V("--weights", weights), V("--jit", jit)};

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

/* One option at argv[*i] against the table: 1 matched, 0 not, -1 its value is missing. */
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
                bad_usage("missing value after", argv[i], usage);
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

/* A handle with the spec loaded and --jit set; prints diagnostics (also warnings on
 * success). NULL when the spec has errors (printed) or memory ran out. */
static Rnnc *load(const Args *a)
{
    Rnnc *r = rnnc_new();
    if (!r) {
        fprintf(stderr, "rnnc: out of memory\n");
        return NULL;
    }
    if (a->jit)
        rnnc_set_jit(r, a->jit);
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
    Rnnc *r = load(&a);
    if (!r)
        return 1;
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
        a.weights, a.input, a.lengths, a.output, a.h_n, a.c_n, a.print ? stdout : NULL, 1};
    if (a.threads) {
        char *end;
        long v = strtol(a.threads, &end, 10);
        if (*a.threads == '\0' || *end != '\0' || v < 1 || v > 256)
            return bad_usage("--threads takes a whole number from 1 to 256, not", a.threads,
                             usage_run);
        ra.threads = (int)v;
    }
    Rnnc *r = load(&a);
    if (!r)
        return 1;
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
    Rnnc *r = load(&a);
    if (!r)
        return 1;
    RnncGradArgs ga = {a.weights, a.input, a.lengths, a.target, a.output, 0, 0};
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
} Display;

static void show_progress(void *ctx, const RnncProgress *p)
{
    Display *d = ctx;
    if (p->end_of_epoch) {
        if (d->tty)
            printf("\r\033[K");
        printf("epoch %d/%d  loss %.6f", p->epoch, p->epochs, p->loss);
        if (!isnan(p->train_acc))
            printf("  acc %.4f", p->train_acc);
        if (!isnan(p->val_loss))
            printf("  val_loss %.6f", p->val_loss);
        if (!isnan(p->val_acc))
            printf("  val_acc %.4f", p->val_acc);
        printf("  (%.1f s)\n", p->elapsed);
        fflush(stdout);
        return;
    }
    if (!d->tty || (p->elapsed - d->last < 0.1 && p->step != p->steps))
        return;
    d->last = p->elapsed;
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
    Rnnc *r = load(&a);
    if (!r)
        return 1;
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
    ta.checkpoint = a.checkpoint;
    Display disp = {isatty(STDOUT_FILENO), -1};
    ta.progress = show_progress;
    ta.ctx = &disp;
    ta.stop = &interrupted;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    int rc = rnnc_train(r, &ta);
    signal(SIGINT, SIG_DFL);
    if (rc == 0 && ta.stopped)
        fprintf(stderr, "rnnc: interrupted: checkpoint saved; continue with --resume %s\n",
                ta.checkpoint ? ta.checkpoint : "<save>.ckpt");
    else if (rc == 0)
        printf("saved %s\n", ta.save);
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
    return repl_main(a.spec, a.weights, a.jit ? a.jit : "tcc");
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
    if ((a.quantize || a.calib) && !a.weights)
        return bad_usage("--quantize and --calib go with --weights", NULL, usage_emit);
    if (a.calib_lengths && !a.calib)
        return bad_usage("--calib-lengths goes with --calib", NULL, usage_emit);
    if (!quantize_ok(&a))
        return bad_usage("--quantize is int8-weights, int8, int16 or none, not", a.quantize,
                         usage_emit);
    Rnnc *r = load(&a);
    if (!r)
        return 1;
    int rc = !a.weights              ? rnnc_write(r, a.out)
             : a.quantize || a.calib ? rnnc_write_quantized(r, a.out, a.weights, !a.no_selftest,
                                                            a.quantize, a.calib, a.calib_lengths)
                                     : rnnc_write_deployed(r, a.out, a.weights, !a.no_selftest);
    return finish(r, rc == 0 ? 0 : 1);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage("no command or SPEC given", NULL, usage_main);
    const char *cmd = argv[1];
    if (is_help(cmd)) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("rnnc %s\n", RNNC_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"check", cmd_check},
                {"run", cmd_run},
                {"grad", cmd_grad},
                {"train", cmd_train},
                {"repl", cmd_repl}};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (strcmp(cmd, cmds[k].name) == 0)
            return cmds[k].fn(argc - 2, argv + 2);
    return cmd_emit(argc - 1, argv + 1);
}
