/* repl.c — `rnnc repl`: explore, run and train a model interactively. A thin layer over the
 * public API (include/rnnc.h): every change to the spec is made by the library, re-validated
 * and recompiled (RnncModel, --jit auto by default), and the time that took is printed. Line
 * editing and history come from libedit; without a terminal, commands are read line by line,
 * silently, for scripts and tests.
 */
#include "repl.h"

#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "repl_session.h"

volatile sig_atomic_t repl_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    repl_interrupted = 1;
}

/* An error of the command being run: see repl_session.h. */
int repl_fail(Repl *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout); /* in order with what the command printed so far */
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s->failed = 1;
    return -1;
}

/* Prints and clears what the library reported. */
int repl_report(Repl *s, Rnnc *r, int rc)
{
    fflush(stdout);
    rnnc_diag_print(r, stderr);
    if (rc < 0)
        s->failed = 1;
    return rc;
}

/* Commands that need a compiled spec start with this. */
int repl_need_model(Repl *s)
{
    return s->m ? 0 : repl_fail(s, "no model: load a spec first (load SPEC)");
}

/* The loaded spec's facts. */
RnncInfo repl_info(const Repl *s)
{
    RnncInfo info;
    rnnc_info(s->r, &info);
    return info;
}

static int cmd_help(Repl *s, char *arg);

typedef struct Command {
    const char *name;
    int (*fn)(Repl *, char *);
    const char *usage, *help;
} Command;

static const Command commands[] = {
    {"help", cmd_help, "help [COMMAND]", "list the commands, or explain one"},
    {"load", repl_cmd_load, "load SPEC", "load and compile a spec"},
    {"reload", repl_cmd_reload, "reload", "read the spec file again (after an edit on disk)"},
    {"weights", repl_cmd_weights, "weights FILE [OLD=NEW ...]",
     "load PyTorch weights (safetensors or .pt); OLD=NEW as rnnc run's --rename"},
    {"init", repl_cmd_init, "init SEED", "fresh weights: PyTorch's initialisation from SEED"},
    {"set", repl_cmd_set, "set PATH VALUE",
     "change the spec (e.g. set layers[0].hidden_size 32, set layers[0].cell gru,\n"
     "    set head.out_features 3), re-validate and recompile; weights are kept when their\n"
     "    shapes do not change"},
    {"summary", repl_cmd_summary, "summary", "what rnnc check prints"},
    {"params", repl_cmd_params, "params", "parameter counts of RNN, LSTM and GRU at these sizes"},
    {"show", repl_cmd_show, "show c [BLOCK[.LAYER]] | show weights [NAME]",
     "the generated C (of one layer), or tensors' shapes and first values"},
    {"x", repl_cmd_x, "x = [[...], ...] | x = load X.npy | x = sine N | x = randn N",
     "set the input sequence, (T, input_size)"},
    {"h0", repl_cmd_h0, "h0 = load H0.npy | h0 = zero",
     "the top block's initial h, (num_layers*D, 1, H): run and reset start from it"},
    {"c0", repl_cmd_c0, "c0 = load C0.npy | c0 = zero", "the top block's initial c (LSTM)"},
    {"run", repl_cmd_run, "run", "run the whole input and print the output"},
    {"step", repl_cmd_step, "step [VALUES]",
     "one time step (VALUES, or the next step of x), carrying the state; prints the output "
     "and the state"},
    {"reset", repl_cmd_reset, "reset", "back to the initial state: zero, or h0 and c0"},
    {"state", repl_cmd_state, "state", "print the state of every layer"},
    {"gates", repl_cmd_gates, "gates", "every gate's activations at the last step, as bars"},
    {"plot", repl_cmd_plot, "plot KIND [FILE]",
     "draw gates, state, gradients, params or arch of x to FILE; redrawn after set"},
    {"data", repl_cmd_data, "data X Y [L] [val VX VY [VL]]",
     "training (and validation) .npy files for train"},
    {"quantize", repl_cmd_quantize, "quantize int8-weights|int8|int16|none",
     "run also shows the quantised deployed code (calibrated on data, or x)"},
    {"train", repl_cmd_train, "train N",
     "N more epochs (spec's loss and train:; optimizer state kept); Ctrl-C keeps done epochs"},
    {"save", repl_cmd_save, "save W.safetensors", "write the weights"},
    {"quit", NULL, "quit", "leave (also: exit, Ctrl-D)"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static int cmd_help(Repl *s, char *arg)
{
    for (int i = 0; i < NCOMMANDS; i++) {
        if (*arg && strcmp(arg, commands[i].name) != 0)
            continue;
        if (*arg) {
            printf("%s\n    %s\n", commands[i].usage, commands[i].help);
            return 0;
        }
        printf("  %-44s %s\n", commands[i].usage,
               strchr(commands[i].help, '\n') ? "change the spec, re-validate, recompile"
                                              : commands[i].help);
    }
    return *arg ? repl_fail(s, "no command '%s' (help lists them)", arg) : 0;
}

/* Runs one line; returns 1 to leave. */
static int dispatch(Repl *s, char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    size_t n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1]))
        line[--n] = '\0';
    if (!*line || *line == '#')
        return 0;
    char *arg = line;
    while (*arg && !isspace((unsigned char)*arg) && *arg != '=')
        arg++;
    char word[32];
    snprintf(word, sizeof word, "%.*s", (int)(arg - line), line);
    while (isspace((unsigned char)*arg))
        arg++;
    if (!strcmp(word, "x") || !strcmp(word, "h0") || !strcmp(word, "c0")) {
        if (*arg != '=') {
            repl_fail(s, "%s = ...: see help %s", word, word);
            return 0;
        }
        arg++;
        while (isspace((unsigned char)*arg))
            arg++;
    }
    if (!strcmp(word, "quit") || !strcmp(word, "exit"))
        return 1;
    for (int i = 0; i < NCOMMANDS; i++)
        if (commands[i].fn && strcmp(word, commands[i].name) == 0) {
            commands[i].fn(s, arg);
            fflush(stdout);
            return 0;
        }
    repl_fail(s, "unknown command '%s' (help lists them)", word);
    return 0;
}

static char *complete_command(const char *text, int state)
{
    static int i;
    static size_t len;
    if (!state) {
        i = 0;
        len = strlen(text);
    }
    while (i < NCOMMANDS) {
        const char *name = commands[i++].name;
        if (strncmp(name, text, len) == 0)
            return strdup(name);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    if (start != 0)
        return NULL;
    return rl_completion_matches(text, complete_command);
}

/* The session: see repl.h. */
int repl_main(const char *spec, const char *weights, const char *const *ren, int nren,
              const char *jit)
{
    Repl s;
    memset(&s, 0, sizeof s);
    s.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    s.jit = jit;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (spec && repl_cmd_load(&s, (char *)spec) == 0 && weights)
        repl_load_weights(&s, weights, ren, nren);
    if (s.interactive) {
        rl_attempted_completion_function = complete;
        printf("rnnc repl: help lists the commands; Ctrl-D leaves\n");
    }
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        char prompt[96];
        snprintf(prompt, sizeof prompt, "rnnc(%s)> ", s.r ? repl_info(&s).name : "-");
        char *got;
        if (s.interactive) {
            repl_interrupted = 0;
            got = readline(prompt);
            if (!got) {
                if (repl_interrupted) { /* Ctrl-C at the prompt: a fresh line */
                    printf("\n");
                    continue;
                }
                printf("\n");
                break;
            }
            if (*got)
                add_history(got);
        } else {
            if (getline(&line, &cap, stdin) < 0)
                break;
            got = line;
        }
        int leave = dispatch(&s, got);
        if (s.interactive)
            free(got);
        if (leave)
            break;
    }
    free(line);
    rnnc_model_free(s.m);
    rnnc_free(s.r);
    free(s.path);
    free(s.text);
    free(s.x);
    free(s.data_x);
    free(s.data_y);
    free(s.data_l);
    free(s.plot_file);
    free(s.val_x);
    free(s.val_y);
    free(s.val_l);
    return s.interactive ? 0 : s.failed;
}
