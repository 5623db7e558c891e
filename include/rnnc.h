/* rnnc.h — the public API of rnnc: load a spec (spec -> check -> plan), report on it, write
 * it out as C, or JIT-compile it and run, differentiate or train it on data; an interactive
 * model for the REPL. Handles are opaque and every error goes to the handle's diagnostics,
 * printed by rnnc_diag_print; nothing here prints unless asked to, exits or longjmps.
 */
#ifndef RNNC_H
#define RNNC_H

#include <signal.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded spec and everything compiled from it. */
typedef struct Rnnc Rnnc;

/* A fresh handle (no spec yet), or NULL when out of memory; free with rnnc_free. */
Rnnc *rnnc_new(void);
void rnnc_free(Rnnc *r);

/* Prints the diagnostics gathered so far (file:line:col, the line, a caret) to `out` and
 * forgets them; returns how many of them were errors. */
int rnnc_diag_print(Rnnc *r, FILE *out);
/* Forgets the diagnostics gathered so far without printing them. */
void rnnc_diag_clear(Rnnc *r);

/* How run, grad, train and the REPL's model compile generated code: "tcc" (libtcc in
 * memory, the default of a new handle), "cc" (the system compiler into a cached shared
 * object, before the first call; multiply-adds fused where the machine has FMA) or "auto"
 * (the command line's default: libtcc at once while the system compiler builds the same
 * code in the background, cached, which takes over the moment it is loaded; both give
 * libtcc's bits, so results never depend on the timing; without a system compiler, libtcc
 * and a note). 0, or -1 for another name. */
int rnnc_set_jit(Rnnc *r, const char *kind);
const char *rnnc_jit_name(const Rnnc *r);

/* Reads, validates and plans the spec at `path`. 0, or -1 with every error in r's
 * diagnostics. A handle holds one spec: load it once. */
int rnnc_load(Rnnc *r, const char *path);
/* Loads a spec from text in memory (named `name` in diagnostics) as rnnc_load does. */
int rnnc_load_text(Rnnc *r, const char *name, const char *text);
/* What a loaded spec is, for callers that print or feed it. Strings belong to r. */
typedef struct RnncInfo {
    const char *name; /* the network's C identifier: the prefix of generated symbols */
    const char *file; /* the spec's path (or name) */
    int input_size;   /* I */
    int output_size;  /* O of y: the head's outputs, else D*H (D*P) of the top block */
    int per_step;     /* y has a row per step (else one per sequence: a head on the last) */
    int batch_first;  /* x is (B, T, I), else (T, B, I) */
    int dbl;          /* float64 */
    int nblocks;      /* recurrent blocks */
    int nlayers;      /* layer-directions, every block's, in order (see rnnc_layer) */
    int ntensors;     /* state_dict tensors (see rnnc_tensor) */
    long nparams;     /* PyTorch's parameter count */
} RnncInfo;
void rnnc_info(const Rnnc *r, RnncInfo *out);

typedef enum RnncCell { RNNC_CELL_RNN, RNNC_CELL_LSTM, RNNC_CELL_GRU } RnncCell;

/* One recurrent block (one nn.RNN / nn.LSTM / nn.GRU). */
typedef struct RnncBlockInfo {
    const char *name;
    RnncCell cell;
    int input_size, hidden_size, proj_size, num_layers, dirs;
} RnncBlockInfo;
/* Block i (0 <= i < nblocks). 0, or -1 when out of range. */
int rnnc_block(const Rnnc *r, int i, RnncBlockInfo *out);

/* One direction of one layer: its gates in PyTorch's order. */
typedef struct RnncLayerInfo {
    const char *label;         /* "rnn layer 0 reverse" */
    const char *block;         /* its block's name */
    int layer, dir;            /* within the block */
    int I, H, Hr, G;           /* input, hidden, state (P when projected) widths; gates */
    const char *gate_names[4]; /* G names: "i f g o", "r z n", or "h" */
    int gate_tanh[4];          /* whether gate g ranges over [-1, 1] (else [0, 1]) */
} RnncLayerInfo;
/* Layer-direction i (0 <= i < nlayers). 0, or -1 when out of range. */
int rnnc_layer(const Rnnc *r, int i, RnncLayerInfo *out);

/* One state_dict tensor, in the order of the flat parameter block. */
typedef struct RnncTensorInfo {
    const char *name; /* "rnn.weight_ih_l0" */
    int ndim;         /* 1 or 2 */
    long shape[2];
} RnncTensorInfo;
/* Tensor i (0 <= i < ntensors). 0, or -1 when out of range. */
int rnnc_tensor(const Rnnc *r, int i, RnncTensorInfo *out);

/* Prints what `rnnc check` shows for a loaded spec: per block its cell, sizes, parameter
 * counts (PyTorch's and merged-bias), FLOPs per step, state and scratch bytes. */
void rnnc_report(const Rnnc *r, FILE *out);

/* rnnc import: the ONNX model at `model` (LSTM, GRU and RNN nodes as PyTorch exports them, an
 * optional linear head) written as a spec (`spec_out`, YAML) and its weights under PyTorch's
 * state_dict names (`weights_out`), both atomically. Needs no loaded spec. 0, or -1 with every
 * problem in r's diagnostics and neither file created or changed. */
int rnnc_import(Rnnc *r, const char *model, const char *spec_out, const char *weights_out);

/* Writes the generated C to `c_path` and its header beside it. 0 or -1. */
int rnnc_write(Rnnc *r, const char *c_path);

/* Writes deployable C to `c_path` (and its header): the weights of the safetensors file
 * `weights` baked in as static const arrays, a streaming step API and, when `selftest`,
 * <name>_selftest with golden outputs computed here through the JIT. 0 or -1. */
int rnnc_write_deployed(Rnnc *r, const char *c_path, const char *weights, int selftest);

/* The single translation unit the JIT compiles (header then body); malloc'd, or NULL. */
char *rnnc_source(Rnnc *r);
/* The generated functions of one block's layer (both directions), as the JIT unit has them
 * (with the training functions when `train`); malloc'd, or NULL with an error when the
 * block or layer does not exist. */
char *rnnc_layer_source(Rnnc *r, const char *block, int layer, int train);

/* The spec text `text` with the value at PATH (e.g. "layers[0].hidden_size") replaced by
 * `value`, or the key added to its mapping: the text to load next (malloc'd), or NULL with
 * the reason in r's diagnostics. r must hold the spec `text` was loaded from. */
char *rnnc_spec_set(Rnnc *r, const char *text, const char *path, const char *value);

/* Parses a YAML list of rows of `width` numbers ("[[1, 2], [3, 4]]"; with width 1 a flat
 * list) into a malloc'd (rows, width) array of doubles; NULL with the reason in r's
 * diagnostics. */
double *rnnc_parse_rows(Rnnc *r, const char *text, int width, int *rows);

/* Reads the safetensors file at `path` (weights, or a training checkpoint: its weights,
 * without the optimizer's state) into a fresh flat parameter block (state_dict order,
 * the model's precision; free with free()) after checking every name, shape and that every
 * value is finite. NULL with the problems in r's diagnostics. */
void *rnnc_load_weights(Rnnc *r, const char *path);

/* Renames applied to every weights file this handle reads (run, grad, train's --init, the
 * deployed code's weights, the REPL's model), after the spec's `weights:`: "OLD=NEW" says the
 * file calls OLD (or OLD.*) what the spec calls NEW (NEW.*), e.g. "encoder.rnn=rnn",
 * "classifier.fc=head"; the longest NEW that covers a name wins. "OLD=" strips OLD. from the
 * names that have it ("module.=" for nn.DataParallel's). 0, or -1 with the reason in r's
 * diagnostics (not OLD=NEW, not names joined by '.', too many). */
int rnnc_rename(Rnnc *r, const char *arg);
/* Forgets every rename rnnc_rename added. */
void rnnc_rename_clear(Rnnc *r);

typedef struct RnncGradArgs {
    const char *weights, *input, *lengths; /* as for run; lengths may be NULL */
    const char *target;                    /* .npy: class ids or values, see rnnrt_loss */
    const char *output;                    /* safetensors of the gradients */
    long dropout_seed;                     /* 0: no dropout; else masks drawn from it */
    double loss;                           /* out: the batch's loss */
    const char *h0, *c0;                   /* .npy or NULL: as for run */
    const char *dh0, *dc0; /* .npy or NULL: d loss / d h0 (c0) written here, h0's shape */
} RnncGradArgs;

/* JIT-compiles the training code of the loaded model and writes d loss / d parameter for
 * every parameter (named, shaped and typed as the weights) to a->output. The spec must say
 * `loss:`. 0, or -1 with errors in r's diagnostics and no output left behind. */
int rnnc_grad(Rnnc *r, RnncGradArgs *a);

/* What `rnnc train` reports as it goes: after every step, and at the end of every epoch. */
typedef struct RnncProgress {
    int epoch, epochs;                   /* 1-based */
    long step, steps;                    /* steps done in this epoch, and in a whole epoch */
    double loss;                         /* mean batch loss of the epoch so far */
    double elapsed, steps_per_s, eta;    /* seconds since the start of training, rate, time left */
    int end_of_epoch;                    /* the fields below are set */
    double train_acc, val_loss, val_acc; /* NaN where not known (accuracy: classification) */
    double lr;                           /* the learning rate of this epoch */
    int best;                            /* early stopping: this epoch's weights are the best */
} RnncProgress;

typedef enum RnncOptimizer { RNNC_OPT_SGD, RNNC_OPT_ADAM, RNNC_OPT_ADAMW } RnncOptimizer;

typedef enum RnncSchedKind {
    RNNC_SCHED_NONE,
    RNNC_SCHED_STEP,   /* StepLR */
    RNNC_SCHED_COSINE, /* CosineAnnealingLR, after a LinearLR warm-up when warmup_epochs */
    RNNC_SCHED_PLATEAU /* ReduceLROnPlateau (mode min, threshold_mode rel) */
} RnncSchedKind;

/* train.scheduler: the learning rate of each epoch, computed as PyTorch's schedulers do
 * (stepped once per epoch; plateau on the validation loss, else the training loss). */
typedef struct RnncSchedCfg {
    RnncSchedKind kind;
    int step_size;          /* step: every step_size epochs, lr *= gamma */
    double gamma;           /* step (default 0.1) */
    int t_max;              /* cosine: half-period in epochs; 0: the epochs after warm-up */
    double eta_min;         /* cosine: the lowest rate */
    int warmup_epochs;      /* cosine: linear warm-up from warmup_factor * lr to lr first */
    double warmup_factor;   /* cosine (default 1/3, LinearLR's) */
    double factor;          /* plateau: lr *= factor (default 0.1) */
    int patience, cooldown; /* plateau (defaults 10, 0) */
    double threshold;       /* plateau: relative improvement that counts (default 1e-4) */
    double min_lr;          /* plateau */
} RnncSchedCfg;

/* The spec's `train:` block (PyTorch's defaults where it is silent). */
typedef struct RnncTrainCfg {
    RnncOptimizer optimizer;
    double lr, momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
    int batch_size, epochs, shuffle;
    double clip_grad_norm, clip_grad_value; /* 0: off */
    int tbptt;                              /* window K; 0: full backpropagation */
    long seed;
    RnncSchedCfg sched;    /* train.scheduler; kind RNNC_SCHED_NONE: a constant rate */
    int stop_patience;     /* train.early_stopping.patience: epochs without a better
                              validation loss before stopping; 0: off */
    double stop_min_delta; /* train.early_stopping.min_delta: what counts as better */
} RnncTrainCfg;

/* The loaded spec's train: settings. */
void rnnc_train_cfg(const Rnnc *r, RnncTrainCfg *out);
/* Sets train: key `key` (the spec's name: "lr", "optimizer", "shuffle", ...) of *cfg from
 * the text `value`, checked by the rules of the spec's train: block; `origin` names the value
 * in a diagnostic (e.g. "--lr"). 0, or -1 with the reason in r's diagnostics. */
int rnnc_train_set(Rnnc *r, RnncTrainCfg *cfg, const char *key, const char *value,
                   const char *origin);

typedef struct RnncTrainArgs {
    const char *input, *target, *lengths;             /* training data (.npy) */
    const char *val_input, *val_target, *val_lengths; /* optional validation data */
    const char *init;       /* start from these weights; NULL: PyTorch's init from the seed */
    const char *resume;     /* continue from this checkpoint */
    const char *save;       /* the final weights (safetensors) */
    const char *checkpoint; /* written after every epoch and on stop; NULL: save + ".ckpt" */
    RnncTrainCfg cfg;       /* rnnc_train_cfg's, after any rnnc_train_set */
    void (*progress)(void *ctx, const RnncProgress *p);
    void *ctx;
    volatile sig_atomic_t *stop;  /* set from outside (Ctrl-C): checkpoint, save and return */
    const char *log;              /* NULL, or a CSV file: a row per epoch (and log_every steps) */
    int log_every;                /* 0: epoch rows only */
    int threads;                  /* 2 or more: each mini-batch split over that many threads */
    int mpi;                      /* train as one rank of an MPI job (mpirun); see rnnc_mpi_* */
    int stopped;                  /* out: 1 when *stop ended training early */
    int early_stopped;            /* out: 1 when early stopping ended training */
    int rank, nranks;             /* out: this process's rank and the number of processes */
    double seconds, comm_seconds; /* out: the time of the epochs (after loading and compiling),
                                     and of this rank's exchanges in it (waiting included) */
} RnncTrainArgs;

/* Whether this process was started by an MPI launcher (mpirun) with more than one rank:
 * rnnc train then trains data-parallel (set RnncTrainArgs.mpi). */
int rnnc_mpi_launched(void);
/* This process's rank of the MPI job (0 when not launched by mpirun), from the launcher's
 * environment: known before MPI starts, so that only rank 0 need print. */
int rnnc_mpi_rank(void);

/* Trains the loaded model (its loss:, a->cfg) on the data files, writing a checkpoint after
 * every epoch (atomically) and the final weights to a->save (with early stopping, the best
 * ones). Bit-exact: the same seed, data and number of parts give the same weights, and a
 * resumed run ends where an uninterrupted one does. Data-parallel over a->threads threads
 * or the ranks of an MPI job (a->mpi): each mini-batch is split by the sequences' lengths,
 * the gradients summed in rank order, every rank steps the same optimizer; rank 0 alone
 * writes files and reports progress. Stopped through *a->stop, it writes the checkpoint
 * and a->save, sets a->stopped and returns 0. 0, or -1 with errors in r's diagnostics (a
 * non-finite loss stops training; the last checkpoint is kept). */
int rnnc_train(Rnnc *r, RnncTrainArgs *a);

/* An interactive model (the REPL's): the training unit JIT-compiled, its weights, and the
 * carried state of one sequence for step-by-step runs. */
typedef struct RnncModel RnncModel;

/* Generates and compiles r's training unit (r->jit); weights initialised from `seed`. Sets
 * how long generation and compilation took. NULL with errors in r's diagnostics. The model keeps a
 * pointer to r, which must outlive it. */
RnncModel *rnnc_model_new(Rnnc *r, long seed, double *gen_ms, double *compile_ms);
void rnnc_model_free(RnncModel *m);
/* PyTorch's initialisation from `seed`. */
void rnnc_model_init(RnncModel *m, long seed);
/* Weights from a safetensors file (as rnnc run reads them), or written to one. 0 or -1. */
int rnnc_model_load(RnncModel *m, const char *path);
int rnnc_model_save(RnncModel *m, const char *path);
/* Copies the weights of `from` when both models have the same tensors (names and shapes);
 * returns 0, or -1 (nothing copied) when they differ. */
int rnnc_model_take_weights(RnncModel *m, const RnncModel *from);
/* One sequence x (T, I): the outputs y (T, O) per step, or (1, O) for a head on the last
 * state; malloc'd into *y with its row count in *rows. stream: start from the carried state
 * and keep the final one (step-by-step use); else start from the initial state (zero but
 * for rnnc_model_set_state0's). 0 or -1. */
int rnnc_model_run(RnncModel *m, const double *x, int T, int stream, double **y, int *rows);
/* As rnnc_model_run from the initial state, leaving the carried state alone; a long run of a
 * unidirectional stack goes in pieces (the same numbers) and stops between them once *stop
 * is set: then 1, and no output. */
int rnnc_model_run_stoppable(RnncModel *m, const double *x, int T, volatile sig_atomic_t *stop,
                             double **y, int *rows);
/* Sets the carried state to the initial state (zero but for rnnc_model_set_state0's). */
void rnnc_model_reset(RnncModel *m);
/* Trains the model's weights in place on a's data for a->cfg.epochs epochs (a->init,
 * a->resume, a->save and a->checkpoint are ignored: no file is written). The optimizer's
 * state and the epoch count (which draws the shuffles) carry over from the last call, until
 * the weights are replaced (init, load, take_weights). After every finished epoch the model
 * holds its weights, so a stop through *a->stop keeps the epochs that finished.
 * 0 (a->stopped tells of a stop), or -1 with errors in the handle's diagnostics. */
int rnnc_model_train(RnncModel *m, RnncTrainArgs *a);
/* The top block's initial state, where runs start and rnnc_model_reset returns: h0
 * (num_layers*D*Hr values, h_n's layout for one sequence) and, for an LSTM, c0
 * (num_layers*D*H); either NULL leaves that part as it was (all zero at first). The carried
 * state is reset to it. 0, or -1 when out of memory. */
int rnnc_model_set_state0(RnncModel *m, const double *h0, const double *c0);
/* The carried state: layer-direction i's h (Hr values) and, for an LSTM, c (H values);
 * NULL when i is out of range. */
const double *rnnc_model_state(RnncModel *m, int i, const double **c);
/* Layer-direction i's gate activations (G*H values, PyTorch's gate order) at the last step of
 * the last run; NULL before any run. */
const double *rnnc_model_gates(RnncModel *m, int i);
/* The values of state_dict tensor `name` (as doubles; count in *n), or NULL. */
const double *rnnc_model_tensor(RnncModel *m, const char *name, long *n);

/* Prints `y` of shape `shape` as rows of its last dimension, summarised when large (the
 * format of `rnnc run --print`). */
void rnnc_print_array(FILE *out, const char *label, const void *y, int dbl, int ndim,
                      const long *shape);

typedef struct RnncRunArgs {
    const char *weights; /* safetensors, required */
    const char *input;   /* .npy, required */
    const char *lengths; /* .npy or NULL */
    const char *output;  /* .npy, or NULL when `print` is set */
    const char *h_n;     /* .npy or NULL */
    const char *c_n;     /* .npy or NULL */
    FILE *print;         /* non-NULL: also print the output (summarised when large) here */
    int threads;         /* 2 or more: the batch in that many parts on as many threads */
    const char *h0;      /* .npy or NULL (zeros): the top block's initial h, h_n's shape */
    const char *c0;      /* .npy or NULL (zeros): its initial c, c_n's shape (LSTM only) */
} RnncRunArgs;

/* JIT-compiles the loaded model and runs it on the files in `a`, writing the outputs.
 * 0, or -1 with errors in r's diagnostics and no output file left behind. */
int rnnc_run(Rnnc *r, const RnncRunArgs *a);

/* ---- figures: rnnc plot and rnnc report (host/plot.c, drawn with cairo) -------------- */

/* What rnnc plot draws; rnnc_plot_kind names them "gates", "state", "gradients",
 * "params", "arch" and "curves". */
typedef enum RnncPlotKind {
    RNNC_PLOT_GATES,
    RNNC_PLOT_STATE,
    RNNC_PLOT_GRADIENTS,
    RNNC_PLOT_PARAMS,
    RNNC_PLOT_ARCH,
    RNNC_PLOT_CURVES
} RnncPlotKind;
/* The kind named `name`, or -1. */
int rnnc_plot_kind(const char *name);

typedef struct RnncPlotArgs {
    RnncPlotKind kind;
    const char *output;  /* .svg, .png or .pdf: the format follows the extension */
    const char *weights; /* safetensors; NULL: `model`'s weights, else PyTorch's init (seed) */
    RnncModel *model;    /* the REPL's model (its weights), or NULL */
    const char *input, *lengths; /* .npy, as rnnc run reads them; `seq` picks a sequence */
    const double *x;     /* else one sequence (T, I) from memory, else a seeded randn one */
    int T, steps;        /* x's steps; the random sequence's (0: 100) */
    int seq;             /* which sequence of the batch in `input` */
    int layer;           /* gates: which layer-direction (rnnc_layer's numbering) */
    const char *units;   /* gates, state: "0-7,12" (NULL: all, at most the first 64) */
    long seed;           /* initial weights and the random input */
    int compare;         /* gradients: the spec with each block's cell made rnn, lstm, gru */
    const char *compare_weights[3]; /* their trained weights (rnn, lstm, gru) or NULL */
    int cell;            /* arch: the first block's cell diagram instead */
    int unroll;          /* arch: the first block's cell unfolded through this many steps */
    const char *log;     /* curves: the CSV that rnnc train --log writes */
} RnncPlotArgs;

/* Computes figure a->kind from the loaded spec (through its generated code, on the weights
 * and input of `a`) and draws it to a->output, atomically. 0, or -1 with errors in r's
 * diagnostics and no file left behind. */
int rnnc_plot(Rnnc *r, const RnncPlotArgs *a);

/* Writes `output`: one self-contained HTML page (inline SVG, nothing fetched) with the
 * check summary, the architecture, the cell, parameter counts and, when a->weights (or
 * a->model) and an input are given, the gates, state and gradient figures. 0 or -1. */
int rnnc_report_html(Rnnc *r, const RnncPlotArgs *a, const char *output);

/* ---- quantised deployment (deploy.quantize, --quantize): host/quant.c, host/qdeploy.c ---- */

/* Calibration data: B sequences of up to T steps, x (B, T, I) sequence-major as doubles
 * whatever the spec's batch_first, lengths NULL (every sequence T steps) or (B). */
typedef struct RnncCalib {
    double *x;
    int *lengths;
    int B, T;
} RnncCalib;

/* Reads calibration data: x_path as rnnc run's --input, lengths_path (or NULL) as its
 * --lengths, checked against the spec; every value finite, at least one sequence.
 * 0, or -1 with the problem in r's diagnostics. Free with rnnc_calib_free. */
int rnnc_calib_load(Rnnc *r, const char *x_path, const char *lengths_path, RnncCalib *out);
void rnnc_calib_free(RnncCalib *c);

/* Whether `mode` names a quantised mode: "none", "int8-weights", "int8", "int16". */
int rnnc_quant_known(const char *mode);

/* rnnc_load_weights as doubles (nparams of them, state_dict order; free with free()). */
double *rnnc_load_weights_double(Rnnc *r, const char *path);

/* A quantised model in memory: the deployed code of one mode JIT-compiled (libtcc), with
 * its weights, scales and calibration ranges; what rnnc check --calib, the REPL and the
 * tests run. */
typedef struct RnncQuant RnncQuant;

/* Quantises `params` (rnnc_info's nparams doubles, state_dict order) in `mode`
 * ("int8-weights", "int8", "int16"; NULL: the spec's deploy.quantize), calibrated on `c`
 * (the float model's activation ranges over it; required by int8 and int16, optional for
 * int8-weights), and compiles the deployed code. NULL with errors in r's diagnostics (a
 * value that overflows its format among them). r must outlive it. */
RnncQuant *rnnc_quant_new(Rnnc *r, const char *mode, const double *params, const RnncCalib *c);
/* rnnc_quant_new on the weights of the REPL's model m (of r). */
RnncQuant *rnnc_quant_model(Rnnc *r, RnncModel *m, const char *mode, const RnncCalib *c);
void rnnc_quant_free(RnncQuant *q);
/* The mode's name. */
const char *rnnc_quant_mode(const RnncQuant *q);
/* One sequence x (T, I) through the quantised code (inputs quantised at its input scale,
 * outputs back to reals) or, with `ref`, through the float model (rnnc's reference, in
 * double): y (T, O) when the output is per step, else (O). T up to deploy.max_seq_len for
 * the quantised code. 0, or -1 with the reason in r's diagnostics. */
int rnnc_quant_run(RnncQuant *q, const double *x, int T, double *y, int ref);
/* Prints, per layer and for the output, the worst and the mean |quantised - float| over
 * the sequences of c (cut to deploy.max_seq_len), with the scales. 0 or -1. */
int rnnc_quant_report(RnncQuant *q, const RnncCalib *c, FILE *out);
/* Prints the flash and RAM of the deployed code in `mode` (NULL: the spec's; nothing when
 * that is none), as rnnc check does. 0, or -1 for an unknown mode (reported in r). */
int rnnc_report_quant(Rnnc *r, const char *mode, FILE *out);
/* rnnc_write_deployed in a quantised mode (NULL: the spec's deploy.quantize), calibrated
 * on the .npy files calib (and calib_lengths; NULL when none): the golden outputs of the
 * self-test come from the quantised code itself. 0, or -1 with nothing written. */
int rnnc_write_quantized(Rnnc *r, const char *c_path, const char *weights, int selftest,
                         const char *mode, const char *calib, const char *calib_lengths);

#ifdef __cplusplus
}
#endif

#endif
