/* cell.h — one descriptor per cell variant (RNN tanh/relu, LSTM with or without projection,
 * GRU with the reset after or before the recurrent product): its gates, names, the extra
 * buffers its step keeps, and the names the spec language, reports and banners use. The
 * emitters (emit/cell.c) write each variant's forward and backward step from it.
 */
#ifndef RNNC_CELL_H
#define RNNC_CELL_H

#include "net.h"

typedef struct CellDesc {
    CellKind kind;
    int G;                 /* gates: 1, 4 or 3 */
    const char *spec_name; /* the spec's `cell:` value: "rnn", "lstm", "gru" */
    const char *name;      /* `rnnc check`'s: "lstm (projected)", "gru (reset after)" */
    const char *title;     /* generated comments': "GRU (reset after ..., as PyTorch)" */
    const char *order;     /* the gates in PyTorch's order: "i, f, g, o" */
    const char *gates[4];  /* the same, one name each */
    unsigned tanh_gates;   /* bit g: gate g ranges over [-1, 1] (tanh), else [0, 1] */
    int has_c;             /* LSTM: a cell state c (H) beside h */
    int has_m;             /* LSTM with projection: m = o * tanh(c) (H) before W_hr */
    int has_gh;            /* GRU, reset after: W_hn h + b_hn (H) kept apart for r * (...) */
    int has_rh;            /* GRU, reset before: r * h (H) before the recurrent product */
} CellDesc;

/* The descriptor of block b's cell variant. */
const CellDesc *cell_desc(const Block *b);
/* The spec's name of a cell kind: "rnn", "lstm", "gru". */
const char *cell_kind_name(CellKind k);
/* The spec's name of a head activation: "none", "softmax", "sigmoid". */
const char *cell_act_name(HeadAct a);

#endif
