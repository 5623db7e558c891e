/* net.h — the validated network: what `check` makes of a SpecDoc. Every field is known
 * good; every spec-derived entity keeps the span it came from for later diagnostics.
 * Dimension letters: B batch, T time, I input, H hidden, P projection, G gates, O output,
 * L layers, D directions.
 */
#ifndef RNNC_NET_H
#define RNNC_NET_H

#include "diag.h"
#include "rnnc.h"

typedef enum CellKind { CELL_RNN, CELL_LSTM, CELL_GRU } CellKind;
typedef enum Nonlin { NONLIN_TANH, NONLIN_RELU } Nonlin;
typedef enum GruReset { RESET_AFTER, RESET_BEFORE } GruReset;
typedef enum KernelChoice { KERNEL_AUTO, KERNEL_UNROLLED, KERNEL_LOOP } KernelChoice;
typedef enum HeadInput { HEAD_LAST, HEAD_SEQUENCE } HeadInput;
typedef enum HeadAct { ACT_NONE, ACT_SOFTMAX, ACT_SIGMOID } HeadAct;
typedef enum LossKind { LOSS_NONE, LOSS_CROSS_ENTROPY, LOSS_MSE, LOSS_BCE } LossKind;
/* deploy.quantize: how deployed code stores weights and computes (compiler/quant.h) */
typedef enum QuantMode { QUANT_NONE, QUANT_INT8_WEIGHTS, QUANT_INT8, QUANT_INT16 } QuantMode;

/* One recurrent block: what one nn.RNN / nn.LSTM / nn.GRU module is. */
typedef struct Block {
    Span span;        /* the block's mapping */
    const char *name; /* C identifier; prefix of its state_dict names */
    CellKind cell;
    Nonlin nonlin;   /* CELL_RNN */
    GruReset reset;  /* CELL_GRU */
    int input_size;  /* I of layer 0: spec input_size or previous block's output width */
    int hidden_size; /* H */
    int proj_size;   /* P; 0 = none (CELL_LSTM only) */
    int num_layers;  /* L */
    int dirs;        /* D: 1 or 2 */
    int bias;        /* b_ih and b_hh present */
    double dropout;  /* between layers, training only */
    KernelChoice kernel;
    Span kernel_span;
} Block;

typedef struct Head {
    int present;
    Span span;
    const char *name;
    int in_features;  /* D*H (or D*P) of the top block */
    int out_features; /* O */
    HeadInput input;
    HeadAct activation;
    int bias;
} Head;

/* The spec's `train:` block, with PyTorch's defaults where it is silent: the public
 * RnncTrainCfg (include/rnnc.h), which the command line's overrides change. */
typedef RnncTrainCfg TrainCfg;

/* One entry of the spec's weights.map: a block's or the head's tensors are `prefix`.* in the
 * weights file (a PyTorch state_dict of a nested module: encoder.rnn.weight_ih_l0). */
typedef struct WeightsMap {
    const char *name;   /* a block's or the head's name */
    const char *prefix; /* its prefix in the file: dotted, no trailing '.' */
    Span span;          /* the map's key */
} WeightsMap;

typedef struct Net {
    const char *file; /* spec path, for banners */
    const char *name; /* C identifier: prefix of every public symbol */
    int input_size;
    int batch_first;
    int dbl;          /* precision float64 */
    int math_builtin; /* math: builtin — rnnc's own exp and tanh, no libm */
    int max_seq_len;  /* deploy.max_seq_len: longest sequence of the deployed forward */
    LossKind loss;    /* loss: what training minimises; LOSS_NONE when unsaid */
    TrainCfg train;
    Span loss_span;
    Span train_span;           /* the train: block, when the spec has one */
    const char *weights_strip; /* weights.strip: a prefix removed where file names have it */
    int nweights_map;
    WeightsMap *weights_map; /* (nweights_map) weights.map, in the spec's order */
    int nblocks;
    Block *blocks; /* (nblocks) */
    Head head;
    int out_size; /* features of y: O with a head, else D*H (D*P) of the top block */
    /* deploy.quantize: QUANT_NONE unless the spec says, and where it says */
    QuantMode quantize;
    Span quantize_span;
} Net;

static inline int cell_gates(CellKind c)
{
    return c == CELL_LSTM ? 4 : c == CELL_GRU ? 3 : 1;
}

/* Width of a block's per-step output: D * (P if projected else H). */
static inline int block_out_width(const Block *b)
{
    return b->dirs * (b->proj_size ? b->proj_size : b->hidden_size);
}

#endif
