/* onednn.h — oneDNN as a contender of the benchmark (bench/bench.c): the same networks as
 * rnnc's configurations built from the same PyTorch-order weights, run through oneDNN's RNN
 * primitives at their best (weights reordered once into the layout oneDNN chooses, native
 * tnc activations, explicit zero initial states). Only onednn.c includes dnnl.h.
 */
#ifndef RNNC_BENCH_ONEDNN_H
#define RNNC_BENCH_ONEDNN_H

#include <stddef.h>

typedef struct Dnn Dnn;

/* A stack of L layers of D directions (cell "rnn" = tanh, "lstm", "gru" = PyTorch's GRU,
 * oneDNN's lbr_gru), input I, hidden H, for B sequences of T steps; with train, also a
 * Linear(H, O) head on the last step's h, cross-entropy and SGD (T1). */
typedef struct DnnCfg {
    const char *cell;
    int I, H, L, D, B, T;
    int train, O;
} DnnCfg;

/* Builds the primitives from params in PyTorch's state_dict order (per layer, per
 * direction: weight_ih, weight_hh, bias_ih, bias_hh; then with train the head's weight and
 * bias). NULL with a message in err when oneDNN refuses. */
Dnn *dnn_new(const DnnCfg *c, const float *params, char *err, size_t n);
/* The implementation oneDNN chose for the first layer's forward ("brgemm:avx512_core") and
 * the effective ISA. */
const char *dnn_impl(const Dnn *d);
/* The whole-sequence forward: x (T, B, I), time-major as oneDNN prefers; the top layer's
 * outputs left in dnn_output. */
void dnn_forward(Dnn *d, const float *x);
/* The top layer's outputs of the last forward, (T, B, D*H). */
const float *dnn_output(const Dnn *d);
/* One training step on x (T, B, I) and class labels (B): forward training, the head and its
 * loss, backward through every layer, SGD with lr on every parameter. Returns the loss. */
double dnn_train_step(Dnn *d, const float *x, const long long *labels, float lr);
/* The gradients of the last step in PyTorch's state_dict order (as params). */
void dnn_grads(const Dnn *d, float *dp);
void dnn_free(Dnn *d);

#endif
