/* plot.h — the numbers behind rnnc plot's figures, every one computed by the model's own
 * generated code (its training unit: forward_train, backward, acts, cache_at) or by the
 * formulas `rnnc check` uses, and the drawing of them (figures.c, diagrams.c over draw.h).
 * Internal: the public entry points are rnnc_plot and rnnc_report_html (include/rnnc.h).
 */
#ifndef RNNC_PLOT_H
#define RNNC_PLOT_H

#include "draw.h"
#include "host.h"

/* A compiled training unit and its weights (state_dict order and packed). */
typedef struct PlotModel {
    Rnnc *r;
    JitModule *jit;
    ModelFns f;
    void *(*cache_at)(void *cache, int B, int T, int what, int i);
    void *params, *packed; /* model precision */
    int dbl;
    size_t rs;
} PlotModel;

/* Compiles r's training unit and takes the weights from `weights` (safetensors), else from
 * the REPL's model `m`, else PyTorch's initialisation from `seed`. 0, or -1 with errors in
 * r's diagnostics (pm is then closed). */
int plot_model_open(PlotModel *pm, Rnnc *r, const char *weights, RnncModel *m, long seed);
void plot_model_close(PlotModel *pm);

/* One sequence through the model: what each layer-direction did at every step. */
typedef struct PlotTrace {
    int T, I, O, yrows; /* steps, input width, output width, output rows (T or 1) */
    int nlayers;        /* layer-directions, as rnnc_layer numbers them */
    double *x;          /* (T, I) */
    double *y;          /* (yrows, O): the model's output, as rnnc run gives it */
    double **acts;      /* per layer-direction (T, G*H): the gates, PyTorch's order */
    double **h;         /* per layer-direction (T, Hr): its output at each step */
    double **c;         /* per layer-direction (T, H) for an LSTM, else NULL */
} PlotTrace;

/* Runs x (T, I) from a zero state through forward_train and reads the cache back. 0, or -1
 * with the error in r's diagnostics. Free with plot_trace_free. */
int plot_trace(PlotModel *pm, const double *x, int T, PlotTrace *out);
void plot_trace_free(PlotTrace *t);

/* The vanishing-gradient numbers: L = the sum of the model's outputs (the head's logits) at
 * the last step T; for t = 0..T-1, gh[t] = |dL/dh_t| and (LSTM, when gc) gc[t] = |dL/dc_t|,
 * h_t being the state of the first layer after t steps (h_0 the initial state), so T - t is
 * how many steps back the gradient travelled. From the generated backward: each t is a run
 * of steps t+1..T started from the state forward_train left at step t, and backward's
 * gradient of that initial state (cache_at 3 and 4). Unidirectional stacks only. 0 or -1. */
int plot_grad_norms(PlotModel *pm, const double *x, int T, double *gh, double *gc);

/* Parameter counts and FLOPs per step against hidden size, for RNN, LSTM and GRU at the
 * spec's input size and first block's layers and directions, from `rnnc check`'s own
 * formulas (plan_block_stats on a spec of each size). */
enum { PLOT_NH = 12 };
typedef struct PlotParams {
    int I, L, D;    /* input size, layers, directions of the first block */
    int n;          /* hidden sizes */
    int h[PLOT_NH]; /* 1, 2, 4, ... and the spec's own, ascending */
    long torch[3][PLOT_NH], merged[3][PLOT_NH], flops[3][PLOT_NH]; /* by RnncCell */
    int cell, H;                                                   /* the spec's first block */
    long spec_torch, spec_merged, spec_flops;
} PlotParams;
int plot_params(Rnnc *r, PlotParams *out);

/* A training log of `rnnc train --log` (CSV; header step,epoch,loss,val_loss,val_acc,lr,
 * grad_norm,wall_time), one array per column, NaN where a field is empty or "nan". */
enum {
    LOG_STEP,
    LOG_EPOCH,
    LOG_LOSS,
    LOG_VAL_LOSS,
    LOG_VAL_ACC,
    LOG_LR,
    LOG_GRAD_NORM,
    LOG_WALL_TIME,
    LOG_NCOLS
};
typedef struct PlotLog {
    int n;                  /* rows */
    double *col[LOG_NCOLS]; /* (n) each */
} PlotLog;
/* Reads the CSV at `path`. 0, or -1 with the line and the reason in r's diagnostics. */
int plot_log_read(Rnnc *r, const char *path, PlotLog *out);
void plot_log_free(PlotLog *l);

/* One sequence of the input: sequence `seq` of a->input (its own length when a->lengths
 * says so), else a->x, else a seeded standard normal sequence of a->steps steps. */
int plot_input(Rnnc *r, const RnncPlotArgs *a, double **x, int *T);

/* rnnc_plot's figure a->kind of r drawn into d, without writing it anywhere. 0 or -1. */
int plot_draw_into(Rnnc *r, const RnncPlotArgs *a, Draw *d);

/* ---- figures.c and diagrams.c: the figures, drawn into d ----------------------------- */

/* The gates of layer-direction `li` (units: a list of unit numbers, or NULL for all). */
int fig_gates(Draw *d, Rnnc *r, const PlotTrace *t, int li, const int *units, int nunits);
/* h (and c) per unit over time, one panel per layer. */
int fig_state(Draw *d, Rnnc *r, const PlotTrace *t, const int *units, int nunits);
/* |dL/dh_t| against T - t on a log scale; ncurves of them (names: their legend). */
void fig_grad(Draw *d, const char *title, int T, const double *const *norms, const char **names,
              int ncurves);
void fig_params(Draw *d, const PlotParams *p);
void fig_curves(Draw *d, const char *title, const PlotLog *l);
/* The network's blocks, layers, directions, projection and head with sizes on the edges. */
void fig_arch(Draw *d, Rnnc *r);
/* The internal diagram of a cell (RNNC_CELL_*), reset position for a GRU. */
void fig_cell(Draw *d, int cell, int gru_reset_before);
/* The first block's cell unfolded through n steps, the same weights at every step. */
void fig_unroll(Draw *d, Rnnc *r, int n);

#endif
