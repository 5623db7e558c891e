/* main.c — the rnnc command line: picks the command (cmd_*.c; rnnc repl hands over to
 * repl.c), answers help and --version, and suggests a command for a mistyped word. Options
 * are parsed by table (args.c); the library is include/rnnc.h.
 * Exit status: 0 success, 1 bad input (spec, weights, data), 2 bad usage.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "repl.h"

#define RNNC_VERSION "0.1.0"

const char usage_main[] =
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
    "       rnnc repl [SPEC] [--weights W.safetensors] [--jit auto|tcc|cc]\n"
    "       rnnc plot KIND SPEC [--weights W] [--input X.npy] -o FIG.svg|.png|.pdf\n"
    "                     KIND: gates, state, gradients, params, arch, curves\n"
    "       rnnc report SPEC [--weights W --input X.npy] -o REPORT.html\n"
    "       rnnc help [COMMAND]           help on one command (also: rnnc COMMAND --help;\n"
    "                                     those reading weights take --rename OLD=NEW)\n"
    "       rnnc --version\n";

static const char usage_repl[] =
    "usage: rnnc repl [SPEC] [--weights W.safetensors] [--rename OLD=NEW ...] [--jit auto|tcc|cc]\n"
    "An interactive session: load, change (set PATH VALUE: recompiled at once), inspect,\n"
    "run step by step, watch the gates, train. `help` inside lists the commands. Without a\n"
    "terminal it reads commands line by line (rnnc repl SPEC < script.rnnc), prints no\n"
    "prompt, and exits 1 if any command failed.\n";

static const Opt repl_opts[] = {V("--weights", weights), V("--jit", jit), RENAME};

static int cmd_repl(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, repl_opts, NOPTS(repl_opts), &a, usage_repl);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (a.jit && strcmp(a.jit, "tcc") != 0 && strcmp(a.jit, "cc") != 0 &&
        strcmp(a.jit, "auto") != 0)
        return cli_bad_usage("--jit is auto, tcc or cc, not", a.jit, usage_repl);
    Rnnc *r = rnnc_new(); /* the --rename options checked before the session starts */
    for (int k = 0; r && k < a.nrename; k++)
        if (rnnc_rename(r, a.rename[k]) < 0)
            return cli_finish(r, 2);
    rnnc_free(r);
    return repl_main(a.spec, a.weights, a.rename, a.nrename, a.jit ? a.jit : "auto");
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

/* The command named by argv[1], else rnnc SPEC -o OUT.c; returns the exit status. */
int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_bad_usage("no command or SPEC given", NULL, usage_main);
    const char *cmd = argv[1];
    if (cli_is_help(cmd) || strcmp(cmd, "help") == 0)
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
