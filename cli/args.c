/* args.c — the option-table parser of the rnnc command line and the steps every command
 * shares: usage errors (exit 2), whole-number options, loading the spec with --jit and
 * --rename, and printing the diagnostics left at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The usage message of every command: see cli.h. */
int cli_bad_usage(const char *msg, const char *arg, const char *usage)
{
    if (arg)
        fprintf(stderr, "rnnc: %s '%s'\n", msg, arg);
    else
        fprintf(stderr, "rnnc: %s\n", msg);
    fputs(usage, stderr);
    return 2;
}

/* --help or -h, wherever it stands. */
int cli_is_help(const char *a)
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
int cli_parse_args(int argc, char **argv, const Opt *opts, int nopts, Args *a, const char *usage)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 1;
        }
        int matched = 0;
        for (int k = 0; k < nopts && !matched; k++) {
            matched = match(argc, argv, &i, &opts[k], a);
            if (matched < 0) {
                cli_bad_usage(matched == -1 ? "missing value after" : "too many", argv[i], usage);
                return 2;
            }
        }
        if (matched)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_bad_usage("unknown option", argv[i], usage);
            return 2;
        }
        if (a->spec) {
            cli_bad_usage("unexpected argument", argv[i], usage);
            return 2;
        }
        a->spec = argv[i];
    }
    return 0;
}

/* `value` of option `flag` as a whole number in [lo, hi] into *out: 0, else 2 after the
 * usage message. NULL leaves *out alone. */
int cli_whole(const char *flag, const char *value, long lo, long hi, long *out, const char *usage)
{
    if (!value)
        return 0;
    char *end, msg[96];
    long v = strtol(value, &end, 10);
    if (!*value || *end || v < lo || v > hi) {
        snprintf(msg, sizeof msg, "%s takes a whole number from %ld to %ld, not", flag, lo, hi);
        return cli_bad_usage(msg, value, usage);
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
int cli_require(const Args *a, const char *cmd, const char *const *flags,
                const char *const *values, int n, const char *usage)
{
    char msg[96];
    if (!a->spec) {
        snprintf(msg, sizeof msg, "%s needs a SPEC", cmd);
        return cli_bad_usage(msg, NULL, usage);
    }
    const char *miss = first_missing(flags, values, n);
    if (miss) {
        snprintf(msg, sizeof msg, "%s needs %s", cmd, miss);
        return cli_bad_usage(msg, NULL, usage);
    }
    if (a->jit && strcmp(a->jit, "tcc") != 0 && strcmp(a->jit, "cc") != 0 &&
        strcmp(a->jit, "auto") != 0)
        return cli_bad_usage("--jit is auto, tcc or cc, not", a->jit, usage);
    return 0;
}

/* A handle with the spec loaded, --jit set and the --rename options given; prints
 * diagnostics (also warnings on success). NULL when a --rename is malformed (*status 2), the
 * spec has errors (printed) or memory ran out (*status 1). */
Rnnc *cli_load(const Args *a, int *status)
{
    Rnnc *r = rnnc_new();
    *status = 1;
    if (!r) {
        fprintf(stderr, "rnnc: out of memory\n");
        return NULL;
    }
    rnnc_set_jit(r, a->jit ? a->jit : "auto");
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
int cli_finish(Rnnc *r, int rc)
{
    rnnc_diag_print(r, stderr);
    rnnc_free(r);
    return rc;
}

/* A --quantize value the library knows (none, int8-weights, int8, int16), or none given. */
int cli_quantize_ok(const Args *a)
{
    return !a->quantize || rnnc_quant_known(a->quantize);
}

void cli_print_epoch(const RnncProgress *p)
{
    printf("epoch %d/%d  loss %.6f", p->epoch, p->epochs, p->loss);
    if (!isnan(p->train_acc))
        printf("  acc %.4f", p->train_acc);
    if (!isnan(p->val_loss))
        printf("  val_loss %.6f", p->val_loss);
    if (!isnan(p->val_acc))
        printf("  val_acc %.4f", p->val_acc);
}
