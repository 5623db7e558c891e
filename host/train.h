/* train.h — what the training modules share (train.c: the run and its epochs; batch.c: one
 * rank's mini-batches; dataset.c: the data; schedule.c: learning rates and early stopping;
 * checkpoint.c): the data sets and one rank's trainer.  Internal to the host.
 */
#ifndef RNNC_TRAIN_H
#define RNNC_TRAIN_H

#include "comm.h"
#include "host.h"

/* A data set: inputs (memory-mapped where the file allows), lengths, targets (likewise). */
typedef struct Dataset {
    RunData d; /* d.x: (N, T, I) or (T, N, I), the file's dtype; d.len: (N) */
    int N, T;
    RnnrtArray target;
    RnnrtMap tmap;
    const char *target_name;
    int has_ignore; /* some counted target is -100 (cross_entropy): counts need an exchange */
} Dataset;

/* Reads the data set of files x, t (targets) and l (lengths, may be NULL), checked against
 * the spec (every class id of cross_entropy targets in range, reported at its row).
 * `quiet`: add no diagnostic (ranks other than 0, which find the same problems). 0 or -1. */
int dataset_load(Rnnc *r, Dataset *ds, const char *x, const char *t, const char *l, int quiet);
/* Releases what dataset_load mapped or read (also after a failed load, or on a zeroed set). */
void dataset_free(Dataset *ds);

/* The learning-rate schedule and early stopping: PyTorch's schedulers' state, stepped once
 * per epoch. Saved in checkpoints so that a resumed run continues the same rates. */
typedef struct Schedule {
    const RnncTrainCfg *cfg;
    int epochs;
    double base, lr; /* the configured and the current rate */
    double e, sub_e; /* scheduler steps taken; the current sub-scheduler's (warm-up, cosine) */
    double best, bad, cooldown; /* plateau: best metric, epochs without it, cooldown left */
    double es_best, es_bad;     /* early stopping: best validation loss, epochs since */
} Schedule;
enum { SCHED_STATE = 8 };

/* The schedule of cfg at its start (epoch 0 of `epochs`). */
void sched_init(Schedule *s, const RnncTrainCfg *cfg);
/* Steps the schedule after an epoch whose loss to watch was `metric` (validation loss, else
 * training loss); the rate of the next epoch is then s->lr. */
void sched_step(Schedule *s, double metric);
/* Early stopping after an epoch of validation loss `val`: *best set when these weights are
 * the best so far; returns 1 when training should stop (patience used up). */
int sched_early_stop(Schedule *s, double val, int *best);
/* The state as SCHED_STATE doubles, and back. */
void sched_save(const Schedule *s, double *out);
void sched_load(Schedule *s, const double *in);

/* One rank's trainer: its share of every batch, its buffers, its copy of the weights and of
 * the optimizer (every rank steps the same one on the same summed gradient). */
/* pair.c: forward_train and backward in two parts at once, part 1 on a thread kept for the
 * run (the bits of one part), for batches of up to Bmax x Tmax of p's model. NULL (one part)
 * with one core, or a batch of one sequence through one layer. */
typedef struct Pair Pair;
Pair *pair_new(const Plan *p, int Bmax, int Tmax);
void pair_free(Pair *h);
/* forward_train of the whole batch: two parts on h's two threads (one when h is NULL, B < 2,
 * or the batch is larger than pair_new's). */
int pair_forward(Pair *h, const ModelFns *f, const void *w, const void *x, const int *lengths,
                 int B, int T, void *y, void *logits, const void *drop, const void *state0,
                 void *state1, void *cache);
/* backward of the whole batch (no dL/dstate0): two parts on h's two threads, each running
 * whole layers (one part when h is NULL or the stack has one layer). */
int pair_backward(Pair *h, const ModelFns *f, const void *w, const void *x, int B, int T,
                  const void *dout, const void *drop, void *dw, void *cache);

typedef struct Trainer {
    Rnnc *r;
    const ModelFns *f;
    Comm *comm;
    int dbl, per_step, Bmax, Tmax;
    size_t rs;
    void *params, *packed, *dw, *dp;
    void *xb, *yb, *lb, *db, *cache; /* batch buffers, sized for Bmax x Tmax */
    RnnrtArray tb;                   /* the batch's targets */
    int *lenb, *order;
    RnnrtOptim opt;
    const TrainCfg *cfg;
    unsigned long long mask_seed; /* this step's dropout draw: from (seed, epoch, step) */
    void *ys, *ls, *ds_;          /* (Bmax, O): counted rows of y, logits, their gradient */
    void *carry, *s0, *s1;        /* truncated BPTT: per-sequence state; window state in, out */
    int *widx;                    /* (Bmax) the window's sequences */
    unsigned char *countb;        /* (Bmax) whether each counts in a per-sequence loss */
    int *share;                   /* (Bmax) this rank's sequences of the batch */
    double *xbuf;                 /* (nparams + XSTAT) the exchange: gradient, then stats */
    Schedule sched;
    void *best;               /* early stopping: the best weights (state_dict order) */
    int stop_req;             /* rank 0: the stop flag read at the last exchange */
    int stopping;             /* every rank: some rank asked to stop */
    double grad_norm, gn_sum; /* the last step's norm before clipping; their sum */
    double comm_s;            /* seconds spent in exchanges */
    long gn_n;
    Pair *pair; /* one rank alone on a machine of two or more cores: the second part */
} Trainer;

/* Sums buf[0..n) over the ranks, timed into t->comm_s; a failed transport becomes a
 * diagnostic. 0 or -1. */
int trainer_exchange(Trainer *t, double *buf, long n);

/* The statistics after the gradient in every exchange. */
enum { XS_LOSS, XS_NLOSS, XS_CORRECT, XS_TOTAL, XS_ERR, XS_STOP, XSTAT };

/* batch.c: one mini-batch of the global order, sequences idx[0..B) (the same on every rank):
 * this rank's share run forward and, when `learn`, backward; the gradients summed over the
 * ranks and the optimizer stepped (per window under truncated BPTT). *loss: the batch's mean
 * loss (over all ranks); correct/total add up the hits. 0, or -1: an error on some rank
 * (this rank's in its diagnostics) or a failed exchange. */
int batch_run(Trainer *t, const Dataset *ds, const int *idx, int B, int learn, double *loss,
              long *correct, long *total);
/* Mean loss and accuracy over a whole data set, split over the ranks. 0 or -1. */
int batch_evaluate(Trainer *t, const Dataset *ds, double *loss, double *acc);
/* This rank's sequences of batch idx[0..B): the batch split into comm->size shares of about
 * equal summed length (longest first, each to the lightest share; ties to the lower rank),
 * each share in batch order. Returns the count, written to out. */
int batch_share(const Dataset *ds, const int *idx, int B, int rank, int size, int *out);

/* Where a run starts when not from files (the REPL's model): these weights and this
 * optimizer state (moments and step count, when of the same kind), epoch numbers from
 * epoch0 on; after every finished epoch `epoch_done` gets the weights and optimizer. */
typedef struct TrainStart {
    const void *params;
    const RnnrtOptim *opt; /* NULL: a fresh optimizer */
    long epoch0;
    void (*epoch_done)(void *ctx, const void *params, const RnnrtOptim *opt);
    void *ctx;
} TrainStart;

/* rnnc_train with `start` (NULL: from a->init, a->resume or the seed). a->save and
 * a->checkpoint may then both be NULL: nothing is written. */
int train_run(Rnnc *r, RnncTrainArgs *a, const TrainStart *start);
/* Seconds on the monotonic clock (train.c): progress, exchanges, the pair's waits. */
double train_now_s(void);

/* A checkpoint of t: the weights (state_dict names), the optimizer's state ("optim.m.<name>",
 * "optim.v.<name>"), the best weights of early stopping ("best.<name>"), the schedule
 * ("rnnc.schedule") and "rnnc.progress" = [epoch, steps done in it, optimizer steps],
 * written atomically to `path`. 0, or -1 with the error in t->r's diagnostics. */
int checkpoint_write(Trainer *t, const char *path, long epoch, long step);
/* Reads a checkpoint into t (weights, optimizer state, schedule, best weights) and the
 * progress it records. 0, or -1 with the error in t->r's diagnostics. */
int checkpoint_read(Trainer *t, const char *path, long *epoch, long *step);

#endif
