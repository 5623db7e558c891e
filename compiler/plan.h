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

/* One region of a block of memory the generated code carves (llm.c's tensor sizes): its size
 * is `width` reals, times B, times B*T, or once, as `per` says, plus `fixed` reals. */
typedef enum RegionPer { PER_ONE, PER_B, PER_BT } RegionPer;
typedef struct PlanRegion {
    const char *name; /* what the code calls it: "h", "out[0]", "xp" */
    RegionPer per;
    long width; /* reals per B, per B*T or in all (an aligned layout's: rounded up) */
    long cols;  /* of them, the rows' own (the comments' shapes) */
    int shared; /* run-time scratch: in the parts' common block (forward_par's `shared`) */
    long fixed; /* reals at its start that do not grow with B or T (xp: the blocked weights) */
} PlanRegion;

/* A block: ints_B * B + ints_T * T ints first (the packed schedule), rounded up to whole
 * reals, then the regions in order. One table per block, read by the emitters (which print
 * the carving and the size function from it) and by the host (which sizes the block). */
typedef struct PlanLayout {
    int ints_B, ints_T;
    int align; /* every region 64 bytes apart: widths and fixed parts multiples of 16 reals,
                  the schedule's ints rounded up to 64 bytes (the run-time API's scratch and
                  cache; deployed code keeps its work area tight) */
    int n;
    PlanRegion *r; /* (n) */
} PlanLayout;

/* Where the kernels are shaped: decided here, printed by `rnnc check`, pinned by tests. */
typedef struct PlanKernels {
    int blk_seqs;       /* sequences per block of the batched kernels (gcc keeps 6 x 64 floats,
                           24 AVX-512 registers, in accumulators; libtcc's units call
                           products compiled ahead of time that do the same) */
    int blk_cols;       /* columns per accumulator block: 64 */
    int one_seq_cols;   /* columns per chunk for a single sequence: 256 (16 chains in flight) */
    int outer_rows;     /* rows of dW per block of the batched backward: 6 */
    int head_unrolled;  /* the head's product is straight-line code (F*O <= 1024) */
    int proj_rows;      /* (step, sequence) pairs per tile of a tiled input projection: 6 */
    int proj_cols;      /* its columns per tile: 64 (four AVX-512 vectors of floats) */
    int proj_bytes;     /* the pairs' inputs a chunk of the projection keeps in L2: 192 KiB */
    int tcc_by_four;    /* libtcc's loops unrolled by four (it unrolls nothing itself) */
    int prefetch_bytes; /* how far ahead a single sequence's product asks for its weights'
                           rows (RNNC_PREFETCH, x86-64 and AArch64): 4 KiB, so that they come
                           from L2 in time; S1's streaming step 15-24 % faster here */
    int bw_steps;       /* steps of the batched backward whose live sequences' rows of bz
                           one pass of the weight gradients' outer products takes: 4, so that
                           each 6 x 64 block of dW is loaded and stored once per four steps */
} PlanKernels;

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
    /* with tile_w: W_hh^T again, in the wide tiles' panels of tile_w units [u/tile_w][k]
     * [gate][tile_w], at pk_panel (after every layer's and the head's weights, on 16 reals),
     * written by pack; -1 otherwise */
    long pk_panel;
    /* blocked: W_ih^T and W_hh^T again, in the tiles' panels of tile_u units [u/tile_u][k]
     * [gate][tile_u], W_hh^T's plan_blk_wh(L) reals after W_ih^T's, at pk_blk (after every
     * layer's and the head's weights, on 16 reals), written by pack; -1 otherwise. A GRU,
     * whose tiles never take x, has W_hh^T's alone. */
    long pk_blk;
    /* the state of one sequence (state0/state1 of training, the REPL's carried state): this
     * layer-direction's h (Hr) at st_h and, for an LSTM, c (H) at st_c (else -1), in reals */
    long st_h, st_c;
    /* dropout after the layer (every layer of a block but the last, training only): its
     * mask (B, T, D*Hr) starts at B*T*drop_off reals of the masks, the same for both
     * directions; -1 when none */
    long drop_off;
    /* the batched backward's per-sequence scratch (reals, -1 when absent), in this order:
     * dz (G*H), dgh (H; GRU, reset after), hd (Hr; GRU), rh (H; GRU, reset before), hp
     * (Hr), x (I); bz_width in all */
    long bz_dz, bz_dgh, bz_hd, bz_rh, bz_hp, bz_x, bz_width;
    /* groups of bw_steps steps' rows that bz holds: 2 for a split unidirectional layer over
     * a unidirectional one, whose backward in parts leaves its dW_ih, a group behind, to the
     * part running the layer below (api.c's handoff), 1 otherwise */
    int bz_ring;
    int split; /* loop layers of the run-time API: the batched kernels (input projection of
                  all steps, then the recurrence over blocks of sequences) */
    int tiled; /* split, and the step's gates need no product's whole result (LSTM
                  without projection, GRU reset after, RNN): built by the system
                  compiler as tiles of tile_u units of every gate by tile_s sequences,
                  the gates computed from the accumulators; libtcc keeps one
                  sequence at a time, with the same bits */
    int tile_u, tile_s;
    int tile_w;        /* units of a step's tile when one sequence is live (batch 1): the
                          narrowest that divides H into two panels or more and keeps eight
                          vectors of accumulators (an LSTM's 32 floats), if its panel is 48
                          KiB at most, else four (LSTM 16, GRU 32); 0: tile_u. Eight
                          chains of multiply-adds keep both FMA units busy where four left
                          them waiting on each other's latency (S1 0.97 of its time in
                          tiles of 16: bench/bounds.sh S1). The
                          forward then reads W_hh^T from panels of tile_w units (pk_panel),
                          every other step from the last panel (the panel read last is still
                          in L1) */
    int blocked;       /* tiled, and rows of G*H reals span 2 KiB or more: pack writes W_ih^T
                          and W_hh^T again in the tiles' panels (pk_blk), so that a
                          tile's weights are contiguous rather than rows a power of two apart
                          that share a handful of cache sets; a forward through the projection
                          pass copies W_ih^T into column panels (the start of its xp scratch)
                          */
    int pf_next;       /* blocked, and a step streams 6 MiB or more of its panels (W_ih^T and
                          W_hh^T): each tile of sequences asks for a share of the next units'
                          panel into L2 while it reads its own (tile.c's emit_rec_tiles) */
    int feed, fed;     /* feed: a float RNN layer (not an LSTM: plan.c's plan_feeds) with
                          wide tiles of four vectors whose next layer (same block, one
                          direction) has wide tiles and so a projection pass; with one
                          sequence, each of its wide tiles also takes a part of the next
                          layer's input projection, for the steps five at a time behind it
                          (tile.c's emit_feed_tile), whose multiply-adds go where the wide
                          tile's loads of W_hh^T leave the units idle; fed: that next layer,
                          whose pass starts where they stopped (and which feeds none: in a
                          stack, layers 0 and 2 feed 1 and 3) */
    const char *fn;    /* base name of its generated functions, e.g. "blk_rnn_l0" */
    const char *label; /* "rnn layer 0 reverse" */
} PlanLayer;

typedef struct Plan {
    const Net *net;
    int ntensors;
    PlanTensor *tensors; /* (ntensors) */
    long nparams;        /* PyTorch parameter count */
    long npacked;        /* packed block elements (biases merged), with the wide tiles' and
                            the blocked layers' panels (pk_panel, pk_blk): what pack writes */
    long npacked_w;      /* its weights alone, before the panels: what deployed code bakes */
    int nlayers;
    PlanLayer *layers; /* (nlayers), block by block, layer by layer, dir 0 then 1 */
    int head_t_w, head_t_b;
    long head_pk_w, head_pk_b;    /* W^T (F, O) and b (O) in the packed block; -1 absent */
    int max_hr, max_h, max_width; /* largest h, c and per-step layer output widths */
    int xp_width;  /* largest G*H of a loop layer: the run-time API's input projections */
    long wt_width; /* largest I * G*H of a blocked layer, rounded up to 16 reals: W_ih^T's
                      column panels for the projection pass, xp's fixed part */
    int top_hr, top_dirs, top_layers; /* shape of h_n: (top_layers*top_dirs, B, top_hr) */
    long flops_per_step;              /* whole network, one sequence, multiply-add = 2 */
    long state_reals;       /* recurrent state of one sequence (every layer and direction) */
    long state_bytes;       /* the same in bytes */
    long dropout_reals;     /* dropout masks per (sequence, step); 0 when no layer has dropout */
    int can_stream;         /* every block unidirectional: deployed code steps one sample */
    long deploy_work_bytes; /* work area of deployed <name>_forward (T <= max_seq_len) */
    int real_size;          /* 4 or 8 */
    PlanKernels kern;
    PlanLayout scratch;     /* the run-time API's <name>_forward(_par) */
    PlanLayout dep_scratch; /* deployed code's forward (no parts, no input projections) */
    PlanLayout cache;       /* the training unit's cache (<name>_train_bytes) */
} Plan;

/* Plans `net`. Returns NULL only when out of memory (diagnostic added). */
Plan *plan_build(Arena *a, DiagList *d, const Net *net);

/* Where W_hh^T's panels start in a blocked layer's pk_blk: after W_ih^T's (I * G*H reals),
 * or at once for a GRU, whose tiles never take x (pack writes no W_ih^T panels for it). */
long plan_blk_wh(const PlanLayer *L);
void plan_feeds(Plan *p, int lstm);

/* Reals of layout l for B sequences of T steps (its ints rounded up to reals first, an
 * aligned layout's to 64 bytes), and where its region k starts, in reals from the block's
 * start (k = l->n: the end). */
long plan_layout_reals(const PlanLayout *l, long B, long T, int real_size);
long plan_region_at(const PlanLayout *l, int k, long B, long T, int real_size);
/* Region k's offset in reals after the ints, as coefficients: kB * B + kBT * B * T + k1. */
void plan_region_offset(const PlanLayout *l, int k, long *kB, long *kBT, long *k1);
/* Bytes of scratch the run-time API's forward pass needs for B sequences of T steps. */
long plan_scratch_bytes(const Plan *p, long B, long T);
/* Reals of deployed code's scratch for B sequences of T steps. */
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
