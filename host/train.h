/* train.h — what train.c and checkpoint.c share: the data sets and the trainer's buffers.
 * Internal to the host.
 */
#ifndef RNNC_TRAIN_H
#define RNNC_TRAIN_H

#include "host.h"

/* A data set in memory: inputs in the model precision, lengths, targets. */
typedef struct Dataset {
    RunData d;
    int N, T;
    RnnrtArray target;
    const char *target_name;
} Dataset;

/* Everything one training run allocates. */
typedef struct Trainer {
    Rnnc *r;
    ModelFns f;
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
} Trainer;

/* A checkpoint of t: the weights (state_dict names), the optimizer's state ("optim.m.<name>",
 * "optim.v.<name>") and "rnnc.progress" = [epoch, steps done in it, optimizer steps],
 * written atomically to `path`. 0, or -1 with the error in t->r's diagnostics. */
int checkpoint_write(Trainer *t, const char *path, long epoch, long step);
/* Reads a checkpoint into t (weights and optimizer state) and the progress it records.
 * 0, or -1 with the error in t->r's diagnostics. */
int checkpoint_read(Trainer *t, const char *path, long *epoch, long *step);

#endif
