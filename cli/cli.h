/* cli.h — what the files of the rnnc command line share: the parsed arguments (Args), the
 * option tables' row type (Opt) and its helpers (args.c), and each command's entry point and
 * help text (cmd_*.c, main.c). Private to cli/: the library's API is include/rnnc.h.
 */
#ifndef RNNC_CLI_H
#define RNNC_CLI_H

#include <stddef.h>

#include "rnnc.h"

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

#define NOPTS(t) ((int)(sizeof t / sizeof t[0]))

/* Prints "rnnc: msg 'arg'" (or "rnnc: msg" when arg is NULL) and then usage to stderr.
 * Returns 2, the exit status of bad usage. */
int cli_bad_usage(const char *msg, const char *arg, const char *usage);

/* 1 when a is --help or -h, else 0. */
int cli_is_help(const char *a);

/* Parses argv[0..argc) against opts[0..nopts) (and --help) into *a, which it zeroes first;
 * a->spec gets the one positional argument, the strings point into argv. Returns 0 to go
 * on, 1 after printing usage to stdout (exit 0), 2 after a usage message (exit 2). */
int cli_parse_args(int argc, char **argv, const Opt *opts, int nopts, Args *a, const char *usage);

/* `value` of option `flag` as a whole number in [lo, hi] into *out: 0, else 2 after the
 * usage message. NULL leaves *out alone and returns 0. */
int cli_whole(const char *flag, const char *value, long lo, long hi, long *out, const char *usage);

/* Usage errors common to the commands `cmd`: no SPEC, a missing required option (the first
 * of flags[k] whose values[k] is NULL, k < n), a bad --jit. 0 to go on, else 2 after the
 * message. */
int cli_require(const Args *a, const char *cmd, const char *const *flags,
                const char *const *values, int n, const char *usage);

/* A handle with a->spec loaded, --jit set and the --rename options given; prints
 * diagnostics (also warnings on success). The caller frees it (cli_finish). NULL when a
 * --rename is malformed (*status 2), the spec has errors (printed) or memory ran out
 * (*status 1). */
Rnnc *cli_load(const Args *a, int *status);

/* Prints the diagnostics r still holds to stderr, frees r (may be NULL), returns rc. */
int cli_finish(Rnnc *r, int rc);

/* 1 when a->quantize is a mode the library knows (none, int8-weights, int8, int16) or no
 * --quantize was given, else 0. */
int cli_quantize_ok(const Args *a);

/* The commands: each takes the arguments after its name (argv[0] the first of them) and
 * returns the process's exit status: 0 success, 1 bad input, 2 bad usage. Their help
 * texts (usage_*) are what `rnnc help COMMAND` and COMMAND --help print. */
extern const char usage_main[];
int cmd_emit(int argc, char **argv); /* rnnc SPEC -o OUT.c: argv[0] is the SPEC */
extern const char usage_emit[];
int cmd_check(int argc, char **argv);
extern const char usage_check[];
int cmd_import(int argc, char **argv);
extern const char usage_import[];
int cmd_run(int argc, char **argv);
extern const char usage_run[];
int cmd_grad(int argc, char **argv);
extern const char usage_grad[];
int cmd_train(int argc, char **argv);
extern const char usage_train[];
int cmd_plot(int argc, char **argv); /* rnnc plot KIND SPEC: argv[0] is the KIND */
extern const char usage_plot[];
int cmd_report(int argc, char **argv);
extern const char usage_report[];

/* An epoch's figures as `rnnc train` and the REPL's train print them: "epoch E/N  loss L"
 * and the accuracy and validation figures that are known; no newline. */
void cli_print_epoch(const RnncProgress *p);

#endif
