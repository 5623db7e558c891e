/* main.c — the rnnc command line: parses arguments, calls the library (rnnc.h), prints
 * diagnostics. Exit status: 0 success, 1 bad input (spec, weights, data), 2 bad usage.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl.h"
#include "rnnc.h"

#define RNNC_VERSION "0.1.0"

static const char usage_main[] =
    "usage: rnnc SPEC -o OUT.c [--weights W.safetensors [--no-selftest]]\n"
    "                                     write OUT.c and OUT.h for the spec\n"
    "       rnnc check SPEC               validate the spec and report its sizes\n"
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
    "Generates C specialised to the network in SPEC: OUT.c and OUT.h beside it.\n"
    "Without --weights: the caller passes the PyTorch weights (<name>_pack, <name>_forward).\n"
    "With --weights: deployable code, the weights baked in as static const arrays, a\n"
    "  caller-owned state with <name>_reset and <name>_step (streaming, one sample per\n"
    "  call), <name>_forward up to deploy.max_seq_len, and <name>_selftest (golden outputs\n"
    "  computed now; --no-selftest leaves it out). No malloc, no I/O, no mutable globals.\n"
    "Both files are written atomically; on any error neither is left behind.\n";

static const char usage_check[] =
    "usage: rnnc check SPEC\n"
    "Validates SPEC and prints, per block: cell, sizes, parameters (PyTorch's count and\n"
    "with merged biases), FLOPs per time step, state and scratch bytes, kernel choices.\n";

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

/* Reads "--jit tcc|cc" at argv[*i]: 1 if it was that option, 0 if not, -1 (after a usage
 * message) when the value is bad. */
static int jit_opt(int argc, char **argv, int *i, JitKind *kind, const char *usage)
{
    const char *v = NULL;
    int m = opt_value(argc, argv, i, "--jit", &v);
    if (m <= 0) {
        if (m < 0)
            bad_usage("missing value after", argv[*i], usage);
        return m;
    }
    if (strcmp(v, "tcc") == 0)
        *kind = JIT_TCC;
    else if (strcmp(v, "cc") == 0)
        *kind = JIT_CC;
    else {
        bad_usage("--jit is tcc or cc, not", v, usage);
        return -1;
    }
    return 1;
}

/* Loads the spec; prints diagnostics (also warnings on success). 0 or 1. */
static int load(Rnnc *r, const char *spec)
{
    int rc = rnnc_load(r, spec);
    diag_render(&r->diag, stderr);
    int nerrors = r->diag.nerrors;
    r->diag.n = 0; /* printed: finish() must not print them again */
    r->diag.dropped = 0;
    if (rc < 0) {
        if (nerrors > 1)
            fprintf(stderr, "%d errors\n", nerrors);
        return 1;
    }
    return 0;
}

static int finish(Rnnc *r, int rc)
{
    diag_render(&r->diag, stderr);
    rnnc_free(r);
    return rc;
}

/* One option of a command: with a value (stored in *dst) or a flag (*flag set to 1). */
typedef struct Opt {
    const char *name;
    const char **dst;
    int *flag;
} Opt;

/* Parses argv against opts (also --jit when jit is not NULL, and --help). Returns 0 to go on,
 * 1 after printing the help (exit 0), 2 after a usage message (exit 2). *spec gets the one
 * positional argument. */
static int parse_args(int argc, char **argv, const Opt *opts, int nopts, const char **spec,
                      JitKind *jit, const char *usage)
{
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage, stdout);
            return 1;
        }
        if (jit) {
            int jm = jit_opt(argc, argv, &i, jit, usage);
            if (jm < 0)
                return 2;
            if (jm)
                continue;
        }
        int matched = 0;
        for (int k = 0; k < nopts && !matched; k++) {
            if (opts[k].flag) {
                if (strcmp(argv[i], opts[k].name) == 0)
                    *opts[k].flag = matched = 1;
                continue;
            }
            int m = opt_value(argc, argv, &i, opts[k].name, opts[k].dst);
            if (m < 0) {
                bad_usage("missing value after", argv[i], usage);
                return 2;
            }
            matched = m;
        }
        if (matched)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            bad_usage("unknown option", argv[i], usage);
            return 2;
        }
        if (*spec) {
            bad_usage("unexpected argument", argv[i], usage);
            return 2;
        }
        *spec = argv[i];
    }
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    const char *spec = NULL;
    int pr = parse_args(argc, argv, NULL, 0, &spec, NULL, usage_check);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!spec)
        return bad_usage("check needs a SPEC", NULL, usage_check);
    Rnnc r;
    rnnc_init(&r);
    if (load(&r, spec))
        return finish(&r, 1);
    rnnc_report(&r, stdout);
    return finish(&r, 0);
}

static int cmd_run(int argc, char **argv)
{
    JitKind jit = JIT_TCC;
    RnncRunArgs ra;
    memset(&ra, 0, sizeof ra);
    const char *spec = NULL, *threads = NULL;
    int print = 0;
    const Opt opts[] = {
        {"--weights", &ra.weights, NULL}, {"--input", &ra.input, NULL},
        {"--lengths", &ra.lengths, NULL}, {"--output", &ra.output, NULL},
        {"--h-n", &ra.h_n, NULL},         {"--c-n", &ra.c_n, NULL},
        {"--print", NULL, &print},        {"--threads", &threads, NULL},
    };
    int pr =
        parse_args(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), &spec, &jit, usage_run);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (threads) {
        char *end;
        long v = strtol(threads, &end, 10);
        if (*threads == '\0' || *end != '\0' || v < 1 || v > 256)
            return bad_usage("--threads takes a whole number from 1 to 256, not", threads,
                             usage_run);
        ra.threads = (int)v;
    }
    if (print)
        ra.print = stdout;
    if (!spec)
        return bad_usage("run needs a SPEC", NULL, usage_run);
    if (!ra.weights || !ra.input || (!ra.output && !ra.print))
        return bad_usage(!ra.weights ? "run needs --weights"
                         : !ra.input ? "run needs --input"
                                     : "run needs --output",
                         NULL, usage_run);
    Rnnc r;
    rnnc_init(&r);
    r.jit = jit;
    if (load(&r, spec))
        return finish(&r, 1);
    return finish(&r, rnnc_run(&r, &ra) == 0 ? 0 : 1);
}

static int cmd_grad(int argc, char **argv)
{
    JitKind jit = JIT_TCC;
    RnncGradArgs ga;
    memset(&ga, 0, sizeof ga);
    const char *spec = NULL;
    const Opt opts[] = {
        {"--weights", &ga.weights, NULL}, {"--input", &ga.input, NULL},
        {"--lengths", &ga.lengths, NULL}, {"--target", &ga.target, NULL},
        {"--output", &ga.output, NULL},
    };
    int pr =
        parse_args(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), &spec, &jit, usage_grad);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!spec)
        return bad_usage("grad needs a SPEC", NULL, usage_grad);
    if (!ga.weights || !ga.input || !ga.target || !ga.output)
        return bad_usage(!ga.weights  ? "grad needs --weights"
                         : !ga.input  ? "grad needs --input"
                         : !ga.target ? "grad needs --target"
                                      : "grad needs --output",
                         NULL, usage_grad);
    Rnnc r;
    rnnc_init(&r);
    r.jit = jit;
    if (load(&r, spec))
        return finish(&r, 1);
    if (rnnc_grad(&r, &ga) != 0)
        return finish(&r, 1);
    printf("loss %.9g\n", ga.loss);
    return finish(&r, 0);
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

/* Parses a number option's value; -1 (after a message) when it is not one. */
static int num_arg(const char *opt, const char *v, double *out)
{
    char *end;
    *out = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !isfinite(*out) || *out < 0) {
        fprintf(stderr, "rnnc: %s takes a number of 0 or more, not '%s'\n", opt, v);
        return -1;
    }
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    JitKind jit = JIT_TCC;
    RnncTrainArgs ta;
    memset(&ta, 0, sizeof ta);
    const char *spec = NULL;
    const char *ov[11] = {0};
    static const char *const ovn[11] = {
        "--optimizer",       "--lr",     "--momentum",  "--weight-decay",
        "--batch-size",      "--epochs", "--seed",      "--clip-grad-norm",
        "--clip-grad-value", "--tbptt",  "--checkpoint"};
    int no_shuffle = 0;
    Opt opts[21] = {
        {"--input", &ta.input, NULL},
        {"--target", &ta.target, NULL},
        {"--lengths", &ta.lengths, NULL},
        {"--val-input", &ta.val_input, NULL},
        {"--val-target", &ta.val_target, NULL},
        {"--val-lengths", &ta.val_lengths, NULL},
        {"--init", &ta.init, NULL},
        {"--resume", &ta.resume, NULL},
        {"--save", &ta.save, NULL},
        {"--no-shuffle", NULL, &no_shuffle},
    };
    for (int k = 0; k < 11; k++)
        opts[10 + k] = (Opt){ovn[k], &ov[k], NULL};
    int pr = parse_args(argc, argv, opts, 21, &spec, &jit, usage_train);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!spec)
        return bad_usage("train needs a SPEC", NULL, usage_train);
    if (!ta.input || !ta.target || !ta.save)
        return bad_usage(!ta.input    ? "train needs --input"
                         : !ta.target ? "train needs --target"
                                      : "train needs --save",
                         NULL, usage_train);
    if (ta.init && ta.resume)
        return bad_usage("--init and --resume exclude each other", NULL, usage_train);
    if (!ta.val_input != !ta.val_target)
        return bad_usage("--val-input and --val-target go together", NULL, usage_train);
    Rnnc r;
    rnnc_init(&r);
    r.jit = jit;
    if (load(&r, spec))
        return finish(&r, 1);
    ta.cfg = r.net->train;
    TrainCfg *c = &ta.cfg;
    double v;
    if (ov[0]) {
        static const char *const names[] = {"sgd", "adam", "adamw"};
        int k = 0;
        while (k < 3 && strcmp(ov[0], names[k]) != 0)
            k++;
        if (k == 3) {
            rnnc_free(&r);
            return bad_usage("--optimizer is sgd, adam or adamw, not", ov[0], usage_train);
        }
        c->optimizer = (OptKind)k;
    }
    double *dst[] = {NULL, &c->lr, &c->momentum, &c->weight_decay};
    for (int k = 1; k < 4; k++)
        if (ov[k] && num_arg(ovn[k], ov[k], dst[k]) < 0) {
            rnnc_free(&r);
            return 2;
        }
    int *idst[] = {&c->batch_size, &c->epochs, NULL, NULL, NULL, &c->tbptt};
    for (int k = 4; k < 10; k++) {
        if (!ov[k])
            continue;
        if (num_arg(ovn[k], ov[k], &v) < 0 || ((k == 4 || k == 5) && (v < 1 || v != (long)v))) {
            if (k == 4 || k == 5)
                fprintf(stderr, "rnnc: %s takes a whole number of 1 or more\n", ovn[k]);
            rnnc_free(&r);
            return 2;
        }
        if (k == 6)
            c->seed = (long)v;
        else if (k == 7)
            c->clip_grad_norm = v;
        else if (k == 8)
            c->clip_grad_value = v;
        else
            *idst[k - 4] = (int)v;
    }
    ta.checkpoint = ov[10];
    if (no_shuffle)
        c->shuffle = 0;
    Display disp = {isatty(STDOUT_FILENO), -1};
    ta.progress = show_progress;
    ta.ctx = &disp;
    ta.stop = &interrupted;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    int rc = rnnc_train(&r, &ta);
    signal(SIGINT, SIG_DFL);
    if (rc == 0 && ta.stopped)
        fprintf(stderr, "rnnc: interrupted: checkpoint saved; continue with --resume %s\n",
                ta.checkpoint ? ta.checkpoint : "<save>.ckpt");
    else if (rc == 0)
        printf("saved %s\n", ta.save);
    return finish(&r, rc == 0 ? 0 : 1);
}

static int cmd_repl(int argc, char **argv)
{
    JitKind jit = JIT_TCC;
    const char *spec = NULL, *weights = NULL;
    const Opt opts[] = {{"--weights", &weights, NULL}};
    int pr = parse_args(argc, argv, opts, 1, &spec, &jit, usage_repl);
    if (pr)
        return pr == 1 ? 0 : 2;
    return repl_main(spec, weights, jit);
}

static int cmd_emit(int argc, char **argv)
{
    const char *spec = NULL, *out = NULL, *weights = NULL;
    int no_selftest = 0;
    const Opt opts[] = {
        {"-o", &out, NULL},
        {"--weights", &weights, NULL},
        {"--no-selftest", NULL, &no_selftest},
    };
    int pr = parse_args(argc, argv, opts, 3, &spec, NULL, usage_emit);
    if (pr)
        return pr == 1 ? 0 : 2;
    int selftest = !no_selftest;
    if (!spec)
        return bad_usage("no SPEC given", NULL, usage_main);
    if (!out)
        return bad_usage("no output: use -o OUT.c", NULL, usage_emit);
    if (!selftest && !weights)
        return bad_usage("--no-selftest goes with --weights", NULL, usage_emit);
    Rnnc r;
    rnnc_init(&r);
    if (load(&r, spec))
        return finish(&r, 1);
    int rc = weights ? rnnc_write_deployed(&r, out, weights, selftest) : rnnc_write(&r, out);
    return finish(&r, rc == 0 ? 0 : 1);
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
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "grad") == 0)
        return cmd_grad(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "repl") == 0)
        return cmd_repl(argc - 2, argv + 2);
    return cmd_emit(argc - 1, argv + 1);
}
