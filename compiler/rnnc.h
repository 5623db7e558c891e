/* rnnc.h — the public API of the compiler library: load a spec (spec -> check -> plan),
 * report on it, write it out as C, or JIT-run it on data. The CLI and the REPL are thin
 * layers over these calls. Errors go to r->diag; nothing here prints unless asked to.
 */
#ifndef RNNC_H
#define RNNC_H

#include <signal.h>
#include <stdio.h>

#include "arena.h"
#include "diag.h"
#include "jit.h"
#include "net.h"
#include "plan.h"
#include "spec.h"

typedef struct Rnnc {
    Arena arena; /* everything below lives here */
    DiagList diag;
    SpecDoc *doc;
    const Net *net;
    const Plan *plan;
    JitKind jit; /* how run, grad and train compile the code (JIT_TCC by default) */
} Rnnc;

void rnnc_init(Rnnc *r);
void rnnc_free(Rnnc *r);

/* Reads, validates and plans the spec at `path`. 0, or -1 with every error in r->diag. */
int rnnc_load(Rnnc *r, const char *path);

/* Prints what `rnnc check` shows for a loaded spec: per block its cell, sizes, parameter
 * counts (PyTorch's and merged-bias), FLOPs per step, state and scratch bytes. */
void rnnc_report(const Rnnc *r, FILE *out);

/* Writes the generated C to `c_path` and its header beside it. 0 or -1. */
int rnnc_write(Rnnc *r, const char *c_path);

/* Writes deployable C to `c_path` (and its header): the weights of the safetensors file
 * `weights` baked in as static const arrays, a streaming step API and, when `selftest`,
 * <name>_selftest with golden outputs computed here through the JIT. 0 or -1. */
int rnnc_write_deployed(Rnnc *r, const char *c_path, const char *weights, int selftest);

/* The single translation unit the JIT compiles (header then body); malloc'd, or NULL. */
char *rnnc_source(Rnnc *r);

/* Reads the safetensors file at `path` into a fresh flat parameter block (state_dict order,
 * the model's precision; free with free()) after checking every name, shape and that every
 * value is finite. NULL with the problems in r->diag. */
void *rnnc_load_weights(Rnnc *r, const char *path);

typedef struct RnncGradArgs {
    const char *weights, *input, *lengths; /* as for run; lengths may be NULL */
    const char *target;                    /* .npy: class ids or values, see rnnrt_loss */
    const char *output;                    /* safetensors of the gradients */
    long dropout_seed;                     /* 0: no dropout; else masks drawn from it */
    double loss;                           /* out: the batch's loss */
} RnncGradArgs;

/* JIT-compiles the training code of the loaded model and writes d loss / d parameter for
 * every parameter (named, shaped and typed as the weights) to a->output. The spec must say
 * `loss:`. 0, or -1 with errors in r->diag and no output left behind. */
int rnnc_grad(Rnnc *r, RnncGradArgs *a);

/* What `rnnc train` reports as it goes: after every step, and at the end of every epoch. */
typedef struct RnncProgress {
    int epoch, epochs;                   /* 1-based */
    long step, steps;                    /* steps done in this epoch, and in a whole epoch */
    double loss;                         /* mean batch loss of the epoch so far */
    double elapsed, steps_per_s, eta;    /* seconds since the start of training, rate, time left */
    int end_of_epoch;                    /* the fields below are set */
    double train_acc, val_loss, val_acc; /* NaN where not known (accuracy: classification) */
} RnncProgress;

typedef struct RnncTrainArgs {
    const char *input, *target, *lengths;             /* training data (.npy) */
    const char *val_input, *val_target, *val_lengths; /* optional validation data */
    const char *init;       /* start from these weights; NULL: PyTorch's init from the seed */
    const char *resume;     /* continue from this checkpoint */
    const char *save;       /* the final weights (safetensors) */
    const char *checkpoint; /* written after every epoch and on stop; NULL: save + ".ckpt" */
    TrainCfg cfg;           /* the spec's train: block, after the command line's overrides */
    void (*progress)(void *ctx, const RnncProgress *p);
    void *ctx;
    volatile sig_atomic_t *stop; /* set from outside (Ctrl-C): checkpoint and return */
    int stopped;                 /* out: 1 when *stop ended training early */
} RnncTrainArgs;

/* Trains the loaded model (its loss:, a->cfg) on the data files, writing a checkpoint after
 * every epoch (atomically) and the final weights to a->save. Bit-exact: the same seed and
 * data give the same weights, and a resumed run ends where an uninterrupted one does.
 * 0, or -1 with errors in r->diag (a non-finite loss stops training; the last checkpoint is
 * kept). */
int rnnc_train(Rnnc *r, RnncTrainArgs *a);

/* An interactive model (the REPL's): the training unit JIT-compiled, its weights, and the
 * carried state of one sequence for step-by-step runs. */
typedef struct RnncModel RnncModel;

/* Generates and compiles r's training unit (r->jit); weights initialised from `seed`. Sets
 * how long generation and compilation took. NULL with errors in r->diag. The model keeps a
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
 * and keep the final one (step-by-step use); else start from zero. 0 or -1. */
int rnnc_model_run(RnncModel *m, const double *x, int T, int stream, double **y, int *rows);
/* As rnnc_model_run from a zero state, leaving the carried state alone; a long run of a
 * unidirectional stack goes in pieces (the same numbers) and stops between them once *stop
 * is set: then 1, and no output. */
int rnnc_model_run_stoppable(RnncModel *m, const double *x, int T, volatile sig_atomic_t *stop,
                             double **y, int *rows);
/* Zeroes the carried state. */
void rnnc_model_reset(RnncModel *m);
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

/* Loads a spec from text in memory (named `name` in diagnostics) as rnnc_load does. */
int rnnc_load_text(Rnnc *r, const char *name, const char *text);

typedef struct RnncRunArgs {
    const char *weights; /* safetensors, required */
    const char *input;   /* .npy, required */
    const char *lengths; /* .npy or NULL */
    const char *output;  /* .npy, or NULL when `print` is set */
    const char *h_n;     /* .npy or NULL */
    const char *c_n;     /* .npy or NULL */
    FILE *print;         /* non-NULL: also print the output (summarised when large) here */
    int threads;         /* 2 or more: the batch in that many parts on as many threads */
} RnncRunArgs;

/* JIT-compiles the loaded model and runs it on the files in `a`, writing the outputs.
 * 0, or -1 with errors in r->diag and no output file left behind. */
int rnnc_run(Rnnc *r, const RnncRunArgs *a);

#endif
