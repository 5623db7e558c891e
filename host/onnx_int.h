/* onnx_int.h — what the files of `rnnc import` share: onnx.c (entry points, pool, report,
 * tensors), onnx_graph.c (index, order, walk), onnx_spec.c (spec and weights out), onnx_ops.c
 * (layers, head, dispatch), onnx_shape.c (values, constants, shape arithmetic), onnx_axes.c
 * (Transpose, Squeeze, Unsqueeze, Reshape, Flatten) and onnx_select.c (Gather, Slice, Concat):
 * the import context and the abstract values that stand for the graph's tensors while it is
 * walked once in topological order.
 * Letters as in DESIGN.md: T time, B batch, I input, H hidden, G gates, D directions, O output.
 */
#ifndef RNNC_ONNX_INT_H
#define RNNC_ONNX_INT_H

#include <stddef.h>

#include "onnx.h"
#include "onnx.pb-c.h"
#include "rnnrt.h"

enum {
    OX_MAXR = 8,             /* highest rank of any tensor */
    OX_MAX_HIDDEN = 1 << 16, /* the spec's limits (compiler/check.c) */
    OX_MAX_SIZE = 1 << 20,
    OX_MAX_LAYERS = 64,
    OX_MAX_ERRORS = 16, /* lines of one report; the rest are counted */
};

/* A dimension or an integer of a shape computation: c * IN0^e[0] * IN1^e[1], IN0 and IN1 the
 * sizes of the graph input's first two axes when the file leaves them open (T and B in some
 * order); plain integers (possibly negative) have e = {0, 0}; onnx_ops.c marks unknown ones. */
typedef struct OxDim {
    long c;
    int e[2];
} OxDim;

typedef enum OxValKind {
    VK_NONE,  /* not computed (yet) */
    VK_CONST, /* a concrete tensor: initializers, Constant, shape arithmetic */
    VK_SPLAT, /* every element the same, shape possibly symbolic: Expand, ConstantOfShape */
    VK_SYM,   /* data: the input and what the network computes from it */
    VK_BAD,   /* its producer was refused; consumers stay quiet about it */
} OxValKind;

typedef enum OxElem { EL_F32, EL_INT } OxElem; /* EL_INT elements are OxDim */

typedef struct OxConst {
    OxElem el;
    int rank;
    long shape[OX_MAXR];
    long n;     /* elements */
    void *data; /* (n) float or OxDim, C order */
} OxConst;

typedef struct OxSplat {
    OxElem el;
    int rank;
    OxDim shape[OX_MAXR];
    float f; /* the value when EL_F32 */
    OxDim i; /* the value when EL_INT */
} OxSplat;

/* Axes of data: IN0/IN1 the input's first two (time and batch once a recurrent node has said
 * which is which), S a stack of entries (directions, layers), F features, U a unit axis. */
typedef enum OxAxis { AX_IN0, AX_IN1, AX_S, AX_F, AX_U } OxAxis;
typedef enum OxSrc { SRC_INPUT, SRC_H, SRC_C, SRC_HEAD } OxSrc;
/* Which step a feature is read at: every step, step T-1, step 0, or the final state (step T-1
 * of a forward direction, step 0 of a backward one). */
typedef enum OxTime { TM_SEQ, TM_LAST, TM_FIRST, TM_FINAL } OxTime;

/* A run of features: [off, off+len) of layer `layer`'s direction `dir` (SRC_H, SRC_C), of the
 * input, or of the head's output. */
typedef struct OxSeg {
    OxSrc src;
    int layer, dir;
    OxTime tm;
    long off, len;
} OxSeg;

typedef struct OxEntry {
    int nseg;
    OxSeg *seg; /* (nseg) concatenated along F */
} OxEntry;

typedef struct OxSym {
    int rank;
    OxAxis ax[OX_MAXR];
    OxDim n[OX_MAXR];
    int nent;     /* entries along the S axis; 1 when there is none */
    OxEntry *ent; /* (nent) */
} OxSym;

typedef struct OxVal {
    OxValKind kind;
    const char *name;
    int producer;                  /* node index, -1 for initializers and graph inputs */
    const Onnx__TensorProto *init; /* an initializer's tensor, decoded when first read */
    OxConst c;                     /* VK_CONST */
    OxSplat s;                     /* VK_SPLAT */
    OxSym y;                       /* VK_SYM */
} OxVal;

typedef enum OxCell { OX_RNN, OX_LSTM, OX_GRU } OxCell;

/* One recurrent node, its weights already in PyTorch's gate order and split. */
typedef struct OxLayer {
    int node;
    OxCell cell;
    int D, H, I;
    int relu;         /* RNN: Relu rather than Tanh */
    int reset_before; /* GRU: linear_before_reset 0 */
    int bias;
    const char *scope; /* the node name's first path component, or NULL */
    float *w_ih[2], *w_hh[2], *b_ih[2], *b_hh[2]; /* per direction: (G*H, I) (G*H, H) (G*H) */
} OxLayer;

typedef enum OxHeadState { HS_NONE, HS_LINEAR, HS_BIASED, HS_ACTIVATED } OxHeadState;

typedef struct OxHead {
    OxHeadState state;
    int node;
    int act; /* 0 none, 1 softmax, 2 sigmoid */
    long O, F;
    OxTime tm;     /* TM_SEQ: every step; TM_FINAL: final states */
    float *weight; /* (O, F) */
    float *bias;   /* (O), NULL when none */
    const char *scope;
} OxHead;

/* A branch of an If node: its nodes in the node list, and its outputs' value indices. */
typedef struct OxBranch {
    int first, count;
    int nout;
    int *out; /* (nout) */
} OxBranch;

typedef struct OxChunk OxChunk;

typedef struct OxImp {
    const char *what; /* the model's name in messages */
    Onnx__ModelProto *model;
    const Onnx__GraphProto *g;
    long opset;
    OxChunk *chunks; /* every allocation of the import, freed at once */
    size_t used, budget;
    int oom;
    /* errors */
    char *msg; /* (msg_cap) the report being built */
    size_t msg_cap, msg_len;
    int nerr, nhidden;
    char unsup[1024]; /* "Op (node 'n'), ..." */
    int nunsup;
    /* the nodes: the graph's (nmain), then the branches of its If nodes */
    int nnode, nmain;
    const Onnx__NodeProto **node; /* (nnode) */
    int **in, **out; /* per node: value indices of its inputs and outputs, -1 for "" */
    int *nin;        /* per node: inputs counted for the order (an If: also its branches') */
    OxBranch *br;    /* (2 * nmain) then and else of each If node; count 0 elsewhere */
    /* the values */
    int nval;
    OxVal *val;        /* (nval) */
    int input, output; /* value indices of the one graph input and output */
    int bind[2];       /* IN0, IN1: -1 unknown, 0 time, 1 batch */
    int nlayer;
    OxLayer layer[OX_MAX_LAYERS];
    OxHead head;
} OxImp;

/* Zeroed memory from the import's pool; NULL (and an error said once) when out of memory or
 * past the budget. Freed with the import. */
void *ox_alloc(OxImp *im, size_t n);
/* Adds one line to the report: "<what>: node 'name' (Op): <message>." when node >= 0. */
void ox_err(OxImp *im, int node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records an operator rnnc import does not know (reported together, in one line). */
void ox_unsupported(OxImp *im, int node);
/* The node's name as printed ("" when it has none) and its op type. */
const char *ox_node_name(const OxImp *im, int node);

/* An attribute of node `k` by name, or NULL. */
const Onnx__AttributeProto *ox_attr(const OxImp *im, int node, const char *name);
/* The same of a NodeProto not (yet) in the node list. */
const Onnx__AttributeProto *ox_node_attr(const Onnx__NodeProto *n, const char *name);
/* ONNX's name of TensorProto data type t ("float", "int64", ...; "unknown" out of range). */
const char *ox_dtype_name(int t);
/* Decodes a TensorProto (raw_data or the typed fields) into *c. 0, or -1 after an error
 * naming `node` (or the initializer when node < 0). */
int ox_tensor(OxImp *im, int node, const Onnx__TensorProto *t, OxConst *c);

/* Indexes im->g (im->opset and im->bind set), orders the nodes the output depends on and runs
 * them (onnx_graph.c). -1 after reporting a graph that cannot be walked (dangling names, a
 * cycle, no single input or output); 0 once walked, the nodes' own errors left in the report
 * (im->nerr, im->nunsup) for the caller to act on. */
int ox_graph_walk(OxImp *im);
/* Whether s is a C identifier rnnc takes as a name (1 to 40 characters, no leading digit or
 * '_'). */
int ox_is_ident(const char *s);
/* Checks the walked graph's output against what an rnnc model returns and writes the spec
 * named `name` (a C identifier) and the weights into *m (onnx_spec.c). 0, or -1 after an
 * error; *m may then hold part of the result, for onnx_model_free. */
int ox_spec_build(OxImp *im, const char *name, OnnxModel *m);

/* Runs node k (its inputs computed, initializers decoded on first use): its outputs become
 * values, or VK_BAD when it or an input was refused. 0, or -1 after reporting. */
int ox_run(OxImp *im, int k);
/* Whether rnnc import knows node k's operator. */
int ox_op_known(const OxImp *im, int k);
/* Computes the outputs of node `k` from its inputs (already computed, none VK_BAD). 0, or -1
 * after an error (its outputs are then set VK_BAD by the caller). */
int ox_eval(OxImp *im, int k, const int *in, int nin, const int *out, int nout);

/* ---- shared by the operators: onnx_ops.c, onnx_shape.c, onnx_axes.c, onnx_select.c ------- */

/* An unknown dimension: e[0] set to OX_UNK, beyond any exponent dim_mul lets through. */
enum { OX_UNK = 0x4000 };
static const OxDim DIM_UNKNOWN = {0, {OX_UNK, 0}};

static inline int dim_unknown(OxDim d)
{
    return d.e[0] == OX_UNK;
}

/* A plain integer (possibly negative: indices, -1 in a shape). */
static inline int dim_known(OxDim d)
{
    return d.e[0] == 0 && d.e[1] == 0;
}

static inline int dim_eq(OxDim a, OxDim b)
{
    return !dim_unknown(a) && a.c == b.c && a.e[0] == b.e[0] && a.e[1] == b.e[1];
}

static inline OxDim dim_const(long c)
{
    return (OxDim){c, {0, 0}};
}

/* a * b, or unknown when either is or the product would overflow. */
OxDim ox_dim_mul(OxDim a, OxDim b);
/* a / b when it divides exactly into a monomial, else unknown. */
OxDim ox_dim_div(OxDim a, OxDim b);

/* One node being computed: its index and its inputs' and outputs' value indices (-1: none). */
typedef struct OxNode {
    OxImp *im;
    int k;
    const int *in, *out;
    int nin, nout;
} OxNode;

/* Input i of the node, output i of it: NULL when absent (or named ""). */
static inline OxVal *arg(const OxNode *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &n->im->val[n->in[i]] : NULL;
}

static inline OxVal *res(const OxNode *n, int i)
{
    return i < n->nout && n->out[i] >= 0 ? &n->im->val[n->out[i]] : NULL;
}

/* An integer attribute (def when absent); whether an attribute is there. */
static inline long attr_int(const OxNode *n, const char *name, long def)
{
    const Onnx__AttributeProto *a = ox_attr(n->im, n->k, name);
    return a && a->has_i ? (long)a->i : def;
}

static inline int attr_is(const OxNode *n, const char *name)
{
    return ox_attr(n->im, n->k, name) != NULL;
}

/* The attribute `name` as a string into buf (cap bytes, NUL-terminated), or `def`; returns
 * whether it was there. */
int ox_attr_str(const OxNode *n, const char *name, const char *def, char *buf, size_t cap);
/* Up to `max` ints of attribute `name` into v: their count, -1 when absent, -2 after an error
 * (more than max). */
int ox_attr_ints(const OxNode *n, const char *name, long *v, int max);
/* Up to `max` concrete ints of constant `v` (rank 0 or 1; `what` names it in messages) into
 * out: their count, or -1 after an error. */
int ox_const_ints(const OxNode *n, const OxVal *v, const char *what, long *out, int max);
/* Axis a of a rank-`rank` tensor made non-negative; -1 after an error naming `what`. */
int ox_norm_axis(const OxNode *n, long a, int rank, const char *what);
/* The position of the first axis of kind k in y, or -1. */
int ox_sym_axis(const OxSym *y, OxAxis k);
/* What the axis is, for messages ("time", "batch", "feature", ...). */
const char *ox_axis_name(const OxImp *im, OxAxis a);
/* A constant whose elements are all equal (or a splat) as a splat: 0, or -1 when they differ. */
int ox_as_splat(const OxVal *v, OxSplat *sp);

/* The size of an element of a constant. */
static inline size_t esize(OxElem el)
{
    return el == EL_F32 ? sizeof(float) : sizeof(OxDim);
}

/* The rank of a value (computed, not VK_NONE or VK_BAD). */
static inline int rank_of(const OxVal *v)
{
    return v->kind == VK_CONST ? v->c.rank : v->kind == VK_SPLAT ? v->s.rank : v->y.rank;
}

/* The size of axis i of a value: a stack's is its entries, a unit axis's 1. */
static inline OxDim dim_of(const OxVal *v, int i)
{
    if (v->kind == VK_CONST)
        return dim_const(v->c.shape[i]);
    if (v->kind == VK_SPLAT)
        return v->s.shape[i];
    switch (v->y.ax[i]) {
    case AX_S:
        return dim_const(v->y.nent);
    case AX_U:
        return dim_const(1);
    default:
        return v->y.n[i];
    }
}

/* A fresh constant of shape (rank, shape) into *c, its data allocated (zeroed). 0, or -1 after
 * an error (more than 2^30 elements, out of memory). */
int ox_const_new(OxImp *im, OxConst *c, OxElem el, int rank, const long *shape);
/* Copies the strided view (rank, shape; element (i...) at src + off + sum i_k * step[k], in
 * elements of esz bytes) out of `src` into dst, in C order. */
void ox_strided_copy(void *dst, const void *src, size_t esz, int rank, const long *shape, long off,
                     const long *step);
/* The C-order strides (in elements) of a shape into st. */
void ox_strides(const long *shape, int rank, long *st);
/* Features [off, off+len) of entry `e` into *dst (segments allocated). 0, or -1 when out of
 * memory. */
int ox_ent_slice(OxImp *im, const OxEntry *e, long off, long len, OxEntry *dst);
/* Entries a then b concatenated into *dst (which may be a), adjacent runs that continue each
 * other joined. 0, or -1 when out of memory. */
int ox_ent_cat(OxImp *im, const OxEntry *a, const OxEntry *b, OxEntry *dst);

/* The operators on constants (onnx_shape.c) and on the data's layout (onnx_axes.c,
 * onnx_select.c). Each computes the outputs of node n from its inputs (present as the dispatch
 * table in onnx_ops.c requires, none VK_BAD): 0, or -1 after an error naming the node. `a` is
 * unused but for ox_op_arith, where it is the operation ('+', '-', '*', '/'). */
int ox_op_constant(const OxNode *n, int a);
int ox_op_shape(const OxNode *n, int a);
int ox_op_constant_of_shape(const OxNode *n, int a);
int ox_op_expand(const OxNode *n, int a);
int ox_op_cast(const OxNode *n, int a);
int ox_op_arith(const OxNode *n, int a);
int ox_op_equal(const OxNode *n, int a);
int ox_op_identity(const OxNode *n, int a);
int ox_op_transpose(const OxNode *n, int a);
int ox_op_unsqueeze(const OxNode *n, int a);
int ox_op_squeeze(const OxNode *n, int a);
int ox_op_reshape(const OxNode *n, int a);
int ox_op_flatten(const OxNode *n, int a);
int ox_op_gather(const OxNode *n, int a);
int ox_op_slice(const OxNode *n, int a);
int ox_op_concat(const OxNode *n, int a);

#endif
