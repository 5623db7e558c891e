/* plan.h — third stage: decides how a Net becomes code. Records the PyTorch tensor table
 * (names, shapes, offsets in the flat state_dict-order block), one PlanLayer per layer and
 * direction with its kernel choice and its place in the packed weight block, and the
 * sizes the emitter and the CLI report (parameters, FLOPs, state and scratch bytes).
 */
#ifndef RNNC_PLAN_H
#define RNNC_PLAN_H

#include "net.h"

/* One tensor of the state_dict, in PyTorch's order. */
typedef struct PlanTensor {
    const char *name; /* e.g. "rnn.weight_ih_l0_reverse" */
    int ndim;
    long shape[2];
    long offset; /* elements from the start of the flat (torch-order) block */
} PlanTensor;

/* One direction of one layer of one block. */
typedef struct PlanLayer {
    const Block *block;
    int block_index, layer, dir;
    int I, H, P, Hr, G; /* Hr: width of h (P when projected, else H) */
    int unrolled;       /* straight-line code rather than constant-bound loops */
    int top;            /* belongs to the last block */
    int last_layer;     /* layer == L - 1 */
    long macs;          /* multiply-adds per step */
    /* tensor indices into Plan.tensors; -1 when absent */
    int t_wih, t_whh, t_bih, t_bhh, t_whr;
    /* packed block (elements from its start): merged bias (G*H), GRU-after b_hn (H),
     * Wx^T (I, G*H), Wh^T (Hr, G*H), Wr^T (H, P); -1 when absent */
    long pk, pk_b, pk_bhn, pk_wx, pk_wh, pk_wr, pk_size;
    const char *fn;    /* base name of its generated functions, e.g. "blk_rnn_l0" */
    const char *label; /* "rnn layer 0 reverse" */
} PlanLayer;

typedef struct Plan {
    const Net *net;
    int ntensors;
    PlanTensor *tensors; /* (ntensors) */
    long nparams;        /* PyTorch parameter count */
    long npacked;        /* packed block elements (biases merged) */
    int nlayers;
    PlanLayer *layers; /* (nlayers), block by block, layer by layer, dir 0 then 1 */
    int head_t_w, head_t_b;
    long head_pk_w, head_pk_b;        /* W^T (F, O) and b (O) in the packed block; -1 absent */
    int max_hr, max_h, max_width;     /* largest h, c and per-step layer output widths */
    int xp_width; /* largest G*H of a loop layer: the run-time API's input projections */
    int top_hr, top_dirs, top_layers; /* shape of h_n: (top_layers*top_dirs, B, top_hr) */
    long flops_per_step;              /* whole network, one sequence, multiply-add = 2 */
    long state_bytes; /* recurrent state of one sequence (every layer and direction) */
    int real_size;    /* 4 or 8 */
} Plan;

/* Plans `net`. Returns NULL only when out of memory (diagnostic added). */
Plan *plan_build(Arena *a, DiagList *d, const Net *net);

/* Bytes of scratch the run-time API's forward pass needs for B sequences of T steps. */
long plan_scratch_bytes(const Plan *p, long B, long T);
/* The same without the input projections (deployed code, which has no batched kernels), in
 * reals: ints first, then reals, as the generated code carves it. */
long plan_scratch_reals(const Plan *p, long B, long T);

/* Per-block figures for `rnnc check`. */
typedef struct PlanBlockStats {
    long torch_params;  /* PyTorch's count: both bias vectors */
    long merged_params; /* one bias vector: 4h(d+h+1) for an LSTM */
    long flops_per_step;
    long state_bytes;
} PlanBlockStats;
void plan_block_stats(const Plan *p, int block, PlanBlockStats *out);

#endif
