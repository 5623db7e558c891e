/* check.c — SpecDoc to Net: the entry of the check stage, where every rule of the spec
 * language (version 1) is applied. Here: the top-level keys, the layers: blocks and the head;
 * train: is in check_train.c, the network's limits and weights: in check_limits.c, the readers
 * of single values in check_value.c. Emitters downstream only assert; anything a user can get
 * wrong is reported with the span of the offending key or value.
 */
#include "check_int.h"

#include <stdio.h>
#include <string.h>

/* Which cells a block key applies to (cell_names' order). */
enum { FOR_RNN = 1, FOR_LSTM = 2, FOR_GRU = 4, FOR_ALL = 7 };

static const KeyInfo top_keys[] = {
    {"version", 0}, {"name", 0},    {"input_size", 0}, {"batch_first", 0}, {"precision", 0},
    {"layers", 0},  {"head", 0},    {"math", 0},       {"deploy", 0},      {"loss", 0},
    {"train", 0},   {"weights", 0}, {NULL, 0},
};
static const KeyInfo deploy_keys[] = {{"max_seq_len", 0}, {"quantize", 0}, {NULL, 0}};
static const KeyInfo block_keys[] = {
    {"name", FOR_ALL},       {"cell", FOR_ALL},          {"hidden_size", FOR_ALL},
    {"num_layers", FOR_ALL}, {"bidirectional", FOR_ALL}, {"dropout", FOR_ALL},
    {"bias", FOR_ALL},       {"kernel", FOR_ALL},        {"nonlinearity", FOR_RNN},
    {"proj_size", FOR_LSTM}, {"reset", FOR_GRU},         {NULL, 0},
};
static const KeyInfo head_keys[] = {
    {"name", 0}, {"out_features", 0}, {"input", 0}, {"activation", 0}, {"bias", 0}, {NULL, 0},
};

static const char *const cell_names[] = {"rnn", "lstm", "gru", NULL};
static const char *const nonlin_names[] = {"tanh", "relu", NULL};
static const char *const reset_names[] = {"after", "before", NULL};
static const char *const kernel_names[] = {"auto", "unrolled", "loop", NULL};
static const char *const input_names[] = {"last", "sequence", NULL};
static const char *const act_names[] = {"none", "softmax", "sigmoid", NULL};
static const char *const precision_names[] = {"float32", "float64", NULL};
static const char *const math_names[] = {"libm", "builtin", NULL};
/* deploy.quantize, in QuantMode's order */
static const char *const quantize_names[] = {"none", "int8-weights", "int8", "int16", NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", "bce_with_logits", NULL};

/* layers[i]:
 *   name: rnn            # required, C identifier
 *   cell: lstm           # required: rnn | lstm | gru
 *   hidden_size: 64      # required
 *   num_layers: 1  bidirectional: false  dropout: 0.0  bias: true
 *   kernel: auto         # auto | unrolled | loop
 *   nonlinearity: tanh   # rnn only: tanh | relu
 *   proj_size: 0         # lstm only, < hidden_size
 *   reset: after         # gru only: after | before
 */
static int check_block(Checker *c, const Node *m, int index, Block *b)
{
    int e0 = c->diag->nerrors;
    char where[64];
    snprintf(where, sizeof where, "layers[%d]", index);
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "%s must be a mapping of block settings, found %s", where,
                   check_node_what(m));
        return -1;
    }
    memset(b, 0, sizeof *b);
    b->span = m->span;
    b->num_layers = 1;
    b->dirs = 1;
    b->bias = 1;
    int cell = -1;
    const Node *v;
    if ((v = spec_map_get(m, "cell")) != NULL) {
        cell = check_get_enum(c, v, "cell", cell_names);
        if (cell >= 0)
            b->cell = (CellKind)cell;
    } else {
        check_missing(c, m, "cell", where);
    }
    check_keys(c, m, block_keys, &(KeyFilter){"cell", cell_names, cell}, where);
    if ((v = spec_map_get(m, "name")) != NULL)
        b->name = check_get_ident(c, v, "name");
    else
        check_missing(c, m, "name", where);
    if ((v = spec_map_get(m, "hidden_size")) != NULL)
        check_get_int(c, v, "hidden_size", 1, MAX_HIDDEN, &b->hidden_size);
    else
        check_missing(c, m, "hidden_size", where);
    if ((v = spec_map_get(m, "num_layers")) != NULL)
        check_get_int(c, v, "num_layers", 1, MAX_LAYERS, &b->num_layers);
    if ((v = spec_map_get(m, "bidirectional")) != NULL) {
        int bi = 0;
        if (check_get_bool(c, v, "bidirectional", &bi) == 0)
            b->dirs = bi ? 2 : 1;
    }
    if ((v = spec_map_get(m, "dropout")) != NULL &&
        check_get_float(c, v, "dropout", &b->dropout) == 0 &&
        (b->dropout < 0 || b->dropout >= 1)) {
        diag_error(c->diag, v->span, "'dropout' must be in [0, 1), found %s", v->str);
        b->dropout = 0;
    }
    if ((v = spec_map_get(m, "bias")) != NULL)
        check_get_bool(c, v, "bias", &b->bias);
    if ((v = spec_map_get(m, "kernel")) != NULL) {
        int k = check_get_enum(c, v, "kernel", kernel_names);
        if (k >= 0)
            b->kernel = (KernelChoice)k;
        b->kernel_span = v->span;
    }
    if ((v = spec_map_get(m, "nonlinearity")) != NULL && cell == CELL_RNN) {
        int k = check_get_enum(c, v, "nonlinearity", nonlin_names);
        if (k >= 0)
            b->nonlin = (Nonlin)k;
    }
    if ((v = spec_map_get(m, "reset")) != NULL && cell == CELL_GRU) {
        int k = check_get_enum(c, v, "reset", reset_names);
        if (k >= 0)
            b->reset = (GruReset)k;
    }
    if ((v = spec_map_get(m, "proj_size")) != NULL && cell == CELL_LSTM &&
        check_get_int(c, v, "proj_size", 0, MAX_HIDDEN, &b->proj_size) == 0 &&
        b->hidden_size > 0 && b->proj_size >= b->hidden_size) {
        diag_error(c->diag, v->span, "'proj_size' must be smaller than hidden_size (%d), found %d",
                   b->hidden_size, b->proj_size);
    }
    if (b->dropout > 0 && b->num_layers == 1 && (v = spec_map_get(m, "dropout")) != NULL)
        diag_warning(c->diag, v->span,
                     "dropout applies between stacked layers; with num_layers: 1 it does "
                     "nothing");
    return c->diag->nerrors == e0 ? 0 : -1;
}

/* head:
 *   name: head           # default head; C identifier
 *   out_features: 5      # required
 *   input: last          # last | sequence
 *   activation: none     # none | softmax | sigmoid
 *   bias: true
 */
static int check_head(Checker *c, const Node *m, Head *h)
{
    int e0 = c->diag->nerrors;
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'head' must be a mapping, found %s", check_node_what(m));
        return -1;
    }
    check_keys(c, m, head_keys, NULL, "head");
    h->present = 1;
    h->span = m->span;
    h->name = "head";
    h->bias = 1;
    const Node *v;
    if ((v = spec_map_get(m, "name")) != NULL)
        h->name = check_get_ident(c, v, "name");
    if ((v = spec_map_get(m, "out_features")) != NULL)
        check_get_int(c, v, "out_features", 1, MAX_SIZE, &h->out_features);
    else
        check_missing(c, m, "out_features", "head");
    if ((v = spec_map_get(m, "input")) != NULL) {
        int k = check_get_enum(c, v, "input", input_names);
        if (k >= 0)
            h->input = (HeadInput)k;
    }
    if ((v = spec_map_get(m, "activation")) != NULL) {
        int k = check_get_enum(c, v, "activation", act_names);
        if (k >= 0)
            h->activation = (HeadAct)k;
    }
    if ((v = spec_map_get(m, "bias")) != NULL)
        check_get_bool(c, v, "bias", &h->bias);
    return c->diag->nerrors == e0 ? 0 : -1;
}

/* The spec's top-level scalars and small blocks: version, name, input_size, batch_first,
 * precision, math, loss, train, deploy. */
static void check_top(Checker *cp, const Node *root, Net *net)
{
    Checker c = *cp;
    DiagList *d = c.diag;
    const Node *v;
    if ((v = spec_map_get(root, "version")) != NULL) {
        int ver = 0;
        if (check_get_int(&c, v, "version", 1, 1000, &ver) == 0 && ver != 1)
            diag_error(d, v->span,
                       "spec version %d is not supported (this rnnc reads "
                       "version 1)",
                       ver);
    }
    if ((v = spec_map_get(root, "name")) != NULL)
        net->name = check_get_ident(&c, v, "name");
    else
        check_missing(&c, root, "name", "the spec");
    if ((v = spec_map_get(root, "input_size")) != NULL)
        check_get_int(&c, v, "input_size", 1, MAX_SIZE, &net->input_size);
    else
        check_missing(&c, root, "input_size", "the spec");
    if ((v = spec_map_get(root, "batch_first")) != NULL)
        check_get_bool(&c, v, "batch_first", &net->batch_first);
    if ((v = spec_map_get(root, "precision")) != NULL)
        net->dbl = check_get_enum(&c, v, "precision", precision_names) == 1;
    /* math: builtin (default) | libm */
    net->math_builtin = 1;
    if ((v = spec_map_get(root, "math")) != NULL)
        net->math_builtin = check_get_enum(&c, v, "math", math_names) != 0;
    if ((v = spec_map_get(root, "loss")) != NULL) {
        /* loss: cross_entropy | mse | bce_with_logits */
        int k = check_get_enum(&c, v, "loss", loss_names);
        if (k >= 0)
            net->loss = (LossKind)(k + 1);
        net->loss_span = v->span;
    }
    if ((v = spec_map_get(root, "train")) != NULL)
        net->train_span = v->span;
    check_train(&c, spec_map_get(root, "train"), &net->train);
    net->max_seq_len = CHECK_DEFAULT_MAX_SEQ_LEN;
    if ((v = spec_map_get(root, "deploy")) != NULL) {
        /* deploy:
         *   max_seq_len: 256   # longest sequence <name>_forward of the deployed code takes
         *   quantize: none     # none | int8-weights | int8 | int16 (compiler/quant.h)
         */
        if (v->kind != NODE_MAP) {
            diag_error(d, v->span, "'deploy' must be a mapping, found %s", check_node_what(v));
        } else {
            check_keys(&c, v, deploy_keys, NULL, "deploy");
            const Node *m = spec_map_get(v, "max_seq_len");
            if (m)
                check_get_int(&c, m, "max_seq_len", 1, MAX_SIZE, &net->max_seq_len);
            const Node *q = spec_map_get(v, "quantize");
            if (q) {
                int k = check_get_enum(&c, q, "quantize", quantize_names);
                net->quantize = k > 0 ? (QuantMode)k : QUANT_NONE;
                net->quantize_span = q->span;
            }
        }
    }
}

/* name: seq_classifier   # required, C identifier
 * version: 1             # optional
 * input_size: 10         # required
 * batch_first: false     # PyTorch's default
 * precision: float32     # float32 | float64
 * layers: [...]          # required, one or more blocks
 * head: {...}            # optional
 */
Net *check_spec(Arena *a, DiagList *d, const SpecDoc *doc)
{
    Checker c = {a, d};
    Span whole = {&doc->src, 1, 1, 0};
    const Node *root = doc->root;
    if (!root || (root->kind == NODE_SCALAR && root->str[0] == '\0')) {
        diag_error(d, whole,
                   "the spec is empty; it needs at least name, input_size and "
                   "layers");
        return NULL;
    }
    if (root->kind != NODE_MAP) {
        diag_error(d, root->span,
                   "a spec must be a mapping of keys (name, input_size, "
                   "layers, ...), found %s",
                   check_node_what(root));
        return NULL;
    }
    Net *net = arena_alloc(a, sizeof *net);
    if (!net) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    net->file = doc->src.name;
    check_keys(&c, root, top_keys, NULL, "the spec");
    check_top(&c, root, net);
    const Node *layers = spec_map_get(root, "layers");
    if (!layers) {
        check_missing(&c, root, "layers", "the spec");
    } else if (layers->kind != NODE_SEQ || layers->n == 0) {
        diag_error(d, layers->span, "'layers' must be a list of one or more blocks, found %s",
                   layers->kind == NODE_SEQ ? "an empty list" : check_node_what(layers));
    } else if (layers->n > CHECK_MAX_BLOCKS) {
        /* refused before any block is read: each block costs time and code */
        diag_error(d, layers->span, "'layers' has %d blocks; the limit is %d", layers->n,
                   CHECK_MAX_BLOCKS);
    } else {
        net->nblocks = layers->n;
        net->blocks = arena_alloc(a, (size_t)layers->n * sizeof *net->blocks);
        if (!net->blocks) {
            diag_error(d, span_none(), "out of memory");
            return NULL;
        }
        int ok = 1;
        for (int i = 0; i < layers->n; i++)
            if (check_block(&c, layers->vals[i], i, &net->blocks[i]) < 0)
                ok = 0;
        for (int i = 0; ok && i < net->nblocks; i++) {
            Block *b = &net->blocks[i];
            b->input_size = i == 0 ? net->input_size : block_out_width(&net->blocks[i - 1]);
            for (int j = 0; j < i; j++)
                if (strcmp(net->blocks[j].name, b->name) == 0) {
                    diag_error(d, spec_map_get(layers->vals[i], "name")->span,
                               "block name '%s' is used twice; weight names would clash", b->name);
                    diag_note(d, spec_map_get(layers->vals[j], "name")->span, "first used here");
                }
            check_block_unroll(&c, b);
        }
    }
    const Node *v;
    if ((v = spec_map_get(root, "head")) != NULL && check_head(&c, v, &net->head) == 0 &&
        net->nblocks > 0 && net->blocks[0].name) {
        for (int j = 0; j < net->nblocks; j++)
            if (net->blocks[j].name && strcmp(net->blocks[j].name, net->head.name) == 0) {
                const Node *hn = spec_map_get(v, "name");
                diag_error(d, hn ? hn->span : v->span,
                           "head name '%s' is also a block's name; weight names would clash",
                           net->head.name);
            }
    }
    if (d->nerrors == 0)
        check_totals(&c, layers, net, spec_map_get(root, "head"));
    if ((v = spec_map_get(root, "weights")) != NULL)
        check_weights(&c, v, net);
    if (net->loss == LOSS_CROSS_ENTROPY && !net->head.present)
        diag_error(d, net->loss_span,
                   "loss: cross_entropy needs a head: its out_features are "
                   "the classes");
    if (d->nerrors)
        return NULL;
    const Block *top = &net->blocks[net->nblocks - 1];
    net->head.in_features = block_out_width(top);
    net->out_size = net->head.present ? net->head.out_features : block_out_width(top);
    return net;
}
