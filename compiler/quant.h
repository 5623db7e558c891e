/* quant.h — quantised deployment (deploy.quantize, --quantize): the fixed-point formats, the
 * layout of what deployed code of each mode stores (qplan.c, part of the plan stage), the
 * activation ranges calibration records, and the quantised weights with their scales,
 * multipliers and shifts (quant.c), which emit/quant.c prints.
 *
 * The modes:
 *   int8-weights  weights int8, one symmetric scale per row of each matrix (W = q * s,
 *                 s = max|row| / 127); biases, activations and state in the model's real.
 *   int8, int16   fully integer, after TFLite's integer LSTM: activations (x, h, y) int8 or
 *                 int16, symmetric (zero point 0), clamped to +-QMAX (127, 32767); weights
 *                 int8 with per-row scales; accumulators int32 (int8) or int64 (int16) with
 *                 the biases folded in; gate pre-activations int16 Q3.12 (saturating at
 *                 +-8); sigmoid and tanh by a table and linear interpolation to Q0.15; the
 *                 LSTM's cell state int16 Q(15-cf).cf; requantisation round(v m / 2^e) with
 *                 integer m and e per row. Bounded states (tanh RNN, GRU, LSTM h and m) have
 *                 the fixed scale 2^-(bits-1); the input, a ReLU RNN's h, a projection's h
 *                 and the head's output (activation none) a calibrated scale max|v| / QMAX;
 *                 sigmoid and softmax heads output Q0.(bits-1).
 */
#ifndef RNNC_QUANT_H
#define RNNC_QUANT_H

#include "plan.h"

enum {
    QUANT_GATE_FRAC = 12, /* gate pre-activations: Q3.12 */
    QUANT_MAX_BITS = 31   /* requantisation multipliers: at most 31 bits */
};

/* The spec's and --quantize's name of a mode ("none", "int8-weights", "int8", "int16"). */
const char *quant_mode_name(QuantMode m);
/* The mode a name means, or -1. */
int quant_mode_parse(const char *s);

/* ---- qplan.c: the layout ------------------------------------------------------------ */

/* Element types of deployed quantised code: int8, int16, int32, the accumulator (int32 in
 * int8 mode, int64 in int16 mode), the model's real. */
typedef enum QType { QT_I8, QT_I16, QT_I32, QT_ACC, QT_REAL } QType;

/* What an array holds, per layer-direction or for the head. */
typedef enum QRole {
    QR_WX,
    QR_WH,
    QR_WR, /* int8 weights, row-major as PyTorch: (G*H, I), (G*H, Hr), (P, H) */
    QR_SX,
    QR_SH,
    QR_SR, /* int8-weights: the rows' scales (real) */
    QR_B,
    QR_BHN, /* int8-weights: merged bias (G*H) and a GRU's b_hn (H), real */
    QR_BX,
    QR_BH, /* integer: biases folded into the input product (G*H) and into the
              recurrent product of a GRU's n rows (H, reset after) */
    QR_MX,
    QR_EX,
    QR_MH,
    QR_EH,
    QR_MR,
    QR_ER, /* integer: multipliers and shifts per row */
    QR_HW,
    QR_HS,
    QR_HB,
    QR_HBQ,
    QR_HM,
    QR_HE /* the head: weights, scales, bias; folded
             bias, multipliers, shifts */
} QRole;

/* One array of flash. */
typedef struct QArray {
    const char *name; /* its C name: "rnn_l0_wx", "rnn_l0r_mh", "head_w" */
    int layer;        /* plan layer (layer-direction); -1: the head */
    QRole role;
    QType type;
    long n;
} QArray;

/* How a group (one layer of a block, both directions) hands its output on in the deployed
 * forward: a buffer of every step, the output y itself (no head), or only its final state
 * (the top block under a head on the last state). */
typedef enum QOut { QOUT_BUF, QOUT_Y, QOUT_LAST } QOut;

typedef struct QPlan {
    QuantMode mode;
    int integer;    /* int8 or int16: no real anywhere */
    int bits, qmax; /* activation bits (8, 16) and their largest value (127, 32767) */
    int act_size;   /* bytes of an activation: 1, 2, or the real's */
    int cell_size;  /* bytes of an LSTM cell state: 2, or the real's */
    int acc_size;   /* bytes of an accumulator: 4 or 8 (integer) */
    int narrays;
    QArray *arrays;                     /* (narrays), layer by layer, then the head */
    int use_sigmoid, use_tanh, use_exp; /* the tables deployed code needs (integer) */
    long array_bytes, table_bytes;
    long flash_bytes; /* arrays and tables */
    long state_bytes; /* <name>_state: every layer's h (and c), aligned as a struct */
    int ngroups;
    int *group_layer; /* (ngroups) the group's first plan layer (dir 0) */
    QOut *group_out;  /* (ngroups) */
    /* <name>_work, a struct in this order: c (cell_size, when an LSTM), h, hlast (head on
     * the last state), nbuf buffers of max_seq_len * buf_width activations */
    long work_c, work_h, work_hlast, buf_width;
    int nbuf;
    long work_bytes;
} QPlan;

/* The layout of `p` deployed in `mode` (not QUANT_NONE); NULL when out of memory. */
QPlan *qplan_build(Arena *a, const Plan *p, QuantMode mode);
/* The array of layer `layer` (-1: head) and role, or NULL when it has none. */
const QArray *qplan_array(const QPlan *q, int layer, QRole role);

/* ---- quant.c: from float weights and ranges to the integers ------------------------- */

/* Activation ranges of the float model over calibration data: the largest magnitudes. Per
 * plan layer (layer-direction) i: its output h[i], its cell state c[i] (LSTM) and its gate
 * pre-activations pre[i]. */
typedef struct QuantRanges {
    double x;            /* the network input */
    double *h, *c, *pre; /* (nlayers) */
    double y;            /* the head's logits, or the top block's output without a head */
} QuantRanges;

/* One layer-direction, quantised. Arrays not used by the mode are NULL. */
typedef struct QuantLayer {
    signed char *wx, *wh, *wr; /* row-major: (G*H, I), (G*H, Hr), (P, H) */
    double *sx, *sh, *sr;      /* per row: W = q * s */
    double *b, *bhn;           /* int8-weights: the biases, merged as the float code has them */
    long long *bx, *bh;        /* integer: folded biases (G*H; H) */
    int *mx, *ex, *mh, *eh, *mr, *er; /* integer: per row, v * m / 2^e */
    double s_in, s_out;               /* integer: scales of the input and of the output h */
    int cfrac;                        /* integer LSTM: fraction bits of the cell state */
} QuantLayer;

typedef struct QuantHead {
    signed char *w; /* (O, F) */
    double *s, *b;  /* per row scale; int8-weights: the bias */
    long long *bq;  /* integer: the folded bias */
    int *m, *e;
} QuantHead;

typedef struct QuantModel {
    const QPlan *qp;
    double s_x, s_y;    /* integer: scales of the input and of the output (real = q * s) */
    QuantLayer *layers; /* (plan->nlayers) */
    QuantHead head;
} QuantModel;

/* Quantises `params` (the state_dict in PyTorch's order, as doubles) for qp's mode, with
 * the ranges of calibration (the integer modes; NULL for int8-weights). NULL with a
 * diagnostic for every value that overflows its format (a bias past its accumulator, a
 * range past int16, a scale no multiplier holds), or when out of memory. */
QuantModel *quant_build(Arena *a, DiagList *d, const Plan *p, const QPlan *qp,
                        const double *params, const QuantRanges *rg);

/* The integer multiplier and shift of a real factor f >= 0 with `bits` bits of precision:
 * f ~ m / 2^e, 2^(bits-1) <= m < 2^bits, 1 <= e <= 62 (m = 0 when f is too small to
 * matter). 0, or -1 when f is too large. */
int quant_multiplier(double f, int bits, int *m, int *e);

#endif
