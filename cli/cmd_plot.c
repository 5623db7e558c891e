/* cmd_plot.c — the commands that draw: rnnc plot KIND (a figure as SVG, PNG or PDF) and
 * rnnc report (one HTML page); both share one option table and its checks (plot_args).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char usage_plot[] =
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

const char usage_report[] =
    "usage: rnnc report SPEC [--weights W.safetensors --input X.npy [--lengths L.npy]\n"
    "                   [--seq N]] [--seed N] -o REPORT.html\n"
    "Writes one self-contained HTML page (inline SVG, nothing fetched): the check summary,\n"
    "the architecture, the cell, parameter counts and, with weights and an input, the\n"
    "gates, the state and the gradient through time of one sequence.\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

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

/* The options plot and report share into *pa; 0, or 2 after a usage message. */
static int plot_args(const Args *a, RnncPlotArgs *pa, const char *usage)
{
    long seq = 0, layer = 0, seed = 0, steps = 0, unroll = 0;
    memset(pa, 0, sizeof *pa);
    if (cli_whole("--seq", a->seq, 0, 1L << 30, &seq, usage) ||
        cli_whole("--layer", a->layer, 0, 4096, &layer, usage) ||
        cli_whole("--seed", a->seed, 0, 1L << 62, &seed, usage) ||
        cli_whole("--steps", a->steps, 1, 100000, &steps, usage) ||
        cli_whole("--unroll", a->unroll, 1, 64, &unroll, usage))
        return 2;
    if (a->lengths && !a->input)
        return cli_bad_usage("--lengths goes with --input", NULL, usage);
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

/* rnnc plot KIND SPEC -o FIG: argv[0] is the KIND; curves takes a LOG.csv alone. */
int cmd_plot(int argc, char **argv)
{
    if (argc < 1)
        return cli_bad_usage("plot needs a KIND and a SPEC", NULL, usage_plot);
    if (cli_is_help(argv[0])) {
        fputs(usage_plot, stdout);
        return 0;
    }
    int kind = rnnc_plot_kind(argv[0]);
    if (kind < 0)
        return cli_bad_usage("no such figure (gates, state, gradients, params, arch, curves):",
                             argv[0], usage_plot);
    Args a;
    int pr = cli_parse_args(argc - 1, argv + 1, plot_opts, NOPTS(plot_opts), &a, usage_plot);
    if (pr)
        return pr == 1 ? 0 : 2;
    static const char *const figs[3] = {"svg", "png", "pdf"}, *csv[1] = {"csv"};
    int log_only = kind == RNNC_PLOT_CURVES && a.spec && has_ext(a.spec, csv, 1);
    if (log_only && !a.plot_log) {
        a.plot_log = a.spec;
        a.spec = NULL;
    }
    if (kind == RNNC_PLOT_CURVES && !a.plot_log)
        return cli_bad_usage("plot curves needs a log: rnnc plot curves LOG.csv", NULL,
                             usage_plot);
    if (!log_only && (pr = cli_require(&a, "plot", NULL, NULL, 0, usage_plot)))
        return pr;
    if (!a.out)
        return cli_bad_usage("plot needs -o FIG.svg, FIG.png or FIG.pdf", NULL, usage_plot);
    if (!has_ext(a.out, figs, 3))
        return cli_bad_usage(
            "the figure's format comes from its extension: .svg, .png or .pdf, not", a.out,
            usage_plot);
    RnncPlotArgs pa;
    if (plot_args(&a, &pa, usage_plot))
        return 2;
    pa.kind = (RnncPlotKind)kind;
    pa.output = a.out;
    int st = 1;
    Rnnc *r = log_only ? rnnc_new() : cli_load(&a, &st);
    if (!r)
        return st;
    int rc = rnnc_plot(r, &pa);
    if (rc == 0)
        printf("wrote %s\n", a.out);
    return cli_finish(r, rc == 0 ? 0 : 1);
}

/* rnnc report SPEC -o REPORT.html */
int cmd_report(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, plot_opts, NOPTS(plot_opts), &a, usage_report);
    const char *flags[] = {"-o"};
    const char *values[] = {a.out};
    if (pr || (pr = cli_require(&a, "report", flags, values, 1, usage_report)))
        return pr == 1 ? 0 : 2;
    static const char *const html[2] = {"html", "htm"};
    if (!has_ext(a.out, html, 2))
        return cli_bad_usage("the report is HTML: -o REPORT.html, not", a.out, usage_report);
    RnncPlotArgs pa;
    if (plot_args(&a, &pa, usage_report))
        return 2;
    int st;
    Rnnc *r = cli_load(&a, &st);
    if (!r)
        return st;
    int rc = rnnc_report_html(r, &pa, a.out);
    if (rc == 0)
        printf("wrote %s\n", a.out);
    return cli_finish(r, rc == 0 ? 0 : 1);
}
