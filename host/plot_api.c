/* plot_api.c — rnnc_plot: one figure of the loaded spec, from its arguments to a file. It
 * gathers the numbers (plot.c: the model's generated code on its weights and input, or
 * `rnnc check`'s formulas, or the training log) and hands them to the figure's drawing
 * (figures.c, diagrams.c); --compare builds the spec's RNN, LSTM and GRU variants.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

static const char *const kinds[] = {"gates", "state", "gradients", "params", "arch", "curves"};

int rnnc_plot_kind(const char *name)
{
    for (int k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++)
        if (strcmp(name, kinds[k]) == 0)
            return k;
    return -1;
}

/* "0-7,12" into a malloc'd list (count in *n); NULL with *n = 0 for none; -1 when bad. */
static int parse_units(Rnnc *r, const char *s, int **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!s)
        return 0;
    int *u = malloc(64 * sizeof *u);
    const char *p = s;
    while (u && *p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || a < 0)
            break;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a)
                break;
            p = end;
        }
        for (long k = a; k <= b && *n < 64; k++)
            u[(*n)++] = (int)k;
        if (*p == ',')
            p++;
        else if (*p)
            break;
    }
    if (!u || *p || *n == 0) {
        free(u);
        *n = 0;
        diag_error(&r->diag, span_none(),
                   "--units '%s': want unit numbers and ranges, e.g. 0-7,12", s);
        return -1;
    }
    *out = u;
    return 0;
}

/* The gates or state figure of the loaded model on the input of `a`. */
static int draw_trace_fig(Rnnc *r, const RnncPlotArgs *a, Draw *d)
{
    if (a->kind == RNNC_PLOT_GATES && (a->layer < 0 || a->layer >= r->plan->nlayers)) {
        diag_error(&r->diag, span_none(), "--layer %d: the spec has layer-directions 0 to %d",
                   a->layer, r->plan->nlayers - 1);
        return -1;
    }
    int *units = NULL, nunits = 0, T = 0, rc = -1;
    double *x = NULL;
    PlotModel pm;
    PlotTrace t;
    if (parse_units(r, a->units, &units, &nunits) < 0)
        return -1;
    if (plot_input(r, a, &x, &T) == 0 &&
        plot_model_open(&pm, r, a->weights, a->model, a->seed) == 0) {
        if (plot_trace(&pm, x, T, &t) == 0) {
            rc = a->kind == RNNC_PLOT_GATES ? fig_gates(d, r, &t, a->layer, units, nunits)
                                            : fig_state(d, r, &t, units, nunits);
            if (rc < 0)
                diag_error(&r->diag, span_none(), "no unit to show (--units)");
            plot_trace_free(&t);
        }
        plot_model_close(&pm);
    }
    free(x);
    free(units);
    return rc;
}

/* Copies the errors of a variant's handle into r's, prefixed. */
static void take_errors(Rnnc *r, Rnnc *v, const char *what)
{
    for (int k = 0; k < v->diag.n; k++)
        if (v->diag.items[k].sev == DIAG_ERROR)
            diag_error(&r->diag, span_none(), "%s: %s", what, v->diag.items[k].msg);
    diag_clear(&v->diag);
}

/* r's spec with every block's cell made `cell`, loaded into a fresh handle, or NULL. */
static Rnnc *variant(Rnnc *r, const char *cell)
{
    char *text = strdup(r->doc->src.text), what[64];
    snprintf(what, sizeof what, "the spec as a %s", cell);
    Rnnc *v = rnnc_new();
    if (!text || !v) {
        diag_error(&r->diag, span_none(), "out of memory");
        free(text);
        rnnc_free(v);
        return NULL;
    }
    v->jit = r->jit;
    for (int b = 0; b < r->net->nblocks && text; b++) {
        Rnnc *t = rnnc_new();
        char path[32], *next = NULL;
        snprintf(path, sizeof path, "layers[%d].cell", b);
        if (t && rnnc_load_text(t, r->net->file, text) == 0)
            next = rnnc_spec_set(t, text, path, cell);
        if (t)
            take_errors(r, t, what);
        rnnc_free(t);
        free(text);
        text = next;
    }
    int rc = text ? rnnc_load_text(v, r->net->file, text) : -1;
    free(text);
    take_errors(r, v, what);
    if (rc < 0) {
        rnnc_free(v);
        return NULL;
    }
    return v;
}

static int draw_compare(Rnnc *r, const RnncPlotArgs *a, Draw *d, const double *x, int T)
{
    static const char *const cells[3] = {"rnn", "lstm", "gru"}, *up[3] = {"RNN", "LSTM", "GRU"};
    double *norms[3] = {0};
    char names[3][64];
    const char *np[3];
    int rc = 0;
    for (int c = 0; c < 3 && rc == 0; c++) {
        Rnnc *v = variant(r, cells[c]);
        PlotModel pm;
        norms[c] = malloc((size_t)T * sizeof *norms[c]);
        rc = v && norms[c] ? plot_model_open(&pm, v, a->compare_weights[c], NULL, a->seed) : -1;
        if (rc == 0) {
            rc = plot_grad_norms(&pm, x, T, norms[c], NULL);
            plot_model_close(&pm);
        }
        if (v)
            take_errors(r, v, up[c]);
        rnnc_free(v);
        snprintf(names[c], sizeof names[c], "%s (%s)", up[c],
                 a->compare_weights[c] ? "trained" : "initial weights");
        np[c] = names[c];
    }
    if (rc == 0) {
        char title[160];
        snprintf(title, sizeof title, "Gradient through time: RNN, LSTM, GRU (%s, seed %ld)",
                 r->net->name, a->seed);
        fig_grad(d, title, T, (const double *const *)norms, np, 3);
    }
    for (int c = 0; c < 3; c++)
        free(norms[c]);
    return rc;
}

static int draw_gradients(Rnnc *r, const RnncPlotArgs *a, Draw *d)
{
    double *x = NULL;
    int T = 0, rc = -1;
    if (plot_input(r, a, &x, &T) < 0)
        return -1;
    if (a->compare) {
        rc = draw_compare(r, a, d, x, T);
        free(x);
        return rc;
    }
    PlotModel pm;
    double *gh = malloc((size_t)T * sizeof *gh), *gc = malloc((size_t)T * sizeof *gc);
    if (gh && gc && plot_model_open(&pm, r, a->weights, a->model, a->seed) == 0) {
        rc = plot_grad_norms(&pm, x, T, gh, gc);
        plot_model_close(&pm);
    }
    if (rc == 0) {
        int lstm = r->plan->layers[0].st_c >= 0;
        const double *curves[2] = {gh, gc};
        const char *names[2] = {"|dL/dh_t|", "|dL/dc_t|"};
        char title[160];
        snprintf(title, sizeof title, "Gradient through time: %s (%s)", r->net->name,
                 a->weights || a->model ? "its weights" : "initial weights");
        fig_grad(d, title, T, curves, names, lstm ? 2 : 1);
    }
    free(x);
    free(gh);
    free(gc);
    return rc;
}

int plot_draw_into(Rnnc *r, const RnncPlotArgs *a, Draw *d)
{
    switch (a->kind) {
    case RNNC_PLOT_GATES:
    case RNNC_PLOT_STATE:
        return draw_trace_fig(r, a, d);
    case RNNC_PLOT_GRADIENTS:
        return draw_gradients(r, a, d);
    case RNNC_PLOT_PARAMS: {
        PlotParams p;
        if (plot_params(r, &p) < 0)
            return -1;
        fig_params(d, &p);
        return 0;
    }
    case RNNC_PLOT_ARCH: {
        const Block *b = &r->net->blocks[0];
        static const int cells[] = {
            [CELL_RNN] = RNNC_CELL_RNN, [CELL_LSTM] = RNNC_CELL_LSTM, [CELL_GRU] = RNNC_CELL_GRU};
        if (a->cell)
            fig_cell(d, cells[b->cell], b->cell == CELL_GRU && b->reset == RESET_BEFORE);
        else if (a->unroll > 0)
            fig_unroll(d, r, a->unroll);
        else
            fig_arch(d, r);
        return 0;
    }
    case RNNC_PLOT_CURVES: {
        PlotLog l;
        if (!a->log) {
            diag_error(&r->diag, span_none(), "the curves figure needs a log (rnnc train --log)");
            return -1;
        }
        if (plot_log_read(r, a->log, &l) < 0)
            return -1;
        char title[256];
        snprintf(title, sizeof title, "Training: %s", a->log);
        fig_curves(d, title, &l);
        plot_log_free(&l);
        return 0;
    }
    }
    diag_error(&r->diag, span_none(), "no figure of kind %d", (int)a->kind);
    return -1;
}

int rnnc_plot(Rnnc *r, const RnncPlotArgs *a)
{
    if (!a->output || !draw_format_ok(a->output)) {
        diag_error(&r->diag, span_none(),
                   "%s: the figure's format comes from the extension: "
                   ".svg, .png or .pdf",
                   a->output ? a->output : "(no output)");
        return -1;
    }
    Draw *d = draw_new();
    if (!d) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    int rc = plot_draw_into(r, a, d);
    if (rc == 0)
        rc = draw_save(d, a->output, &r->diag);
    draw_free(d);
    return rc;
}
