/* check.h — second stage: gives a SpecDoc meaning. Validates every key, type, range and
 * cross-field rule, reporting all errors of the spec at once, and returns the Net.
 */
#ifndef RNNC_CHECK_H
#define RNNC_CHECK_H

#include "net.h"
#include "spec.h"

/* Largest layer (G*H*(I+H) multiply-adds per step) that `kernel: auto` unrolls. */
enum { CHECK_UNROLL_AUTO_MAX = 1024, CHECK_UNROLL_MAX = 65536 };
/* Limits on the whole network, far above any real model, so that a few lines of spec cannot
 * ask for gigabytes of generated C or of parameters: check_spec refuses a spec over any of
 * them, at the block that crosses it, before anything is planned or emitted. Each block also
 * keeps to hidden_size <= 65536 and num_layers <= 64, and input_size, out_features and
 * deploy.max_seq_len stay <= 2^20. */
enum {
    CHECK_MAX_BLOCKS = 64,        /* entries of `layers:` */
    CHECK_MAX_LAYERS = 512,       /* layers of all blocks, each direction counted */
    CHECK_MAX_UNROLLED = 1 << 19, /* multiply-adds per step of the unrolled layers, each
                                     direction counted; kernel: auto never gets there */
};
#define CHECK_MAX_PARAMS (1LL << 31) /* PyTorch's parameter count of the whole network */
/* Bytes of generated C per unrolled multiply-add and per layer: the estimate of the code's
 * size that the limit's message gives (measured: 23 and about 4000). */
enum { CHECK_C_BYTES_PER_MAC = 24, CHECK_C_BYTES_PER_LAYER = 4096 };

/* deploy.max_seq_len when the spec does not say. */
enum { CHECK_DEFAULT_MAX_SEQ_LEN = 256 };

/* Validates `doc` and returns the network, allocated in `a`; NULL when the spec has
 * errors (all of them added to `d`). Warnings may be added on success. */
Net *check_spec(Arena *a, DiagList *d, const SpecDoc *doc);

/* Sets train: key `key` of *t from the value node `v`, by the rules the spec's train: block
 * follows (a key that does not apply to t's optimizer is an error). 0, or -1 with the
 * diagnostic at v's span. */
int check_train_set(Arena *a, DiagList *d, TrainCfg *t, const char *key, const Node *v);

/* True when `s` is a plain C identifier (letters, digits, '_', not starting with a digit,
 * 1..63 characters, no leading double underscore or underscore-capital). */
int check_is_ident(const char *s);

/* True when `s` is a state_dict prefix: names joined by '.' (encoder.rnn, layers.0, module.),
 * each of printable characters other than '.', '=' and space; at most 255 characters; a
 * trailing '.' allowed. */
int check_is_prefix(const char *s);

#endif
