/* onnx.c — `rnnc import`, the file side: reads an ONNX model with protobuf-c (C generated at
 * build time from Debian's onnx.proto), indexes its graph, orders the nodes that the output
 * depends on (refusing cycles and dangling names), walks them once through onnx_ops.c, then
 * writes the spec and the PyTorch-named weights, atomically, only when nothing was refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "onnx_int.h"

/* ---- the pool: every allocation of one import, freed at once ---------------------------- */

struct OxChunk {
    OxChunk *next;
    max_align_t data[]; /* the allocation itself */
};

void *ox_alloc(OxImp *im, size_t n)
{
    if (im->oom)
        return NULL;
    if (n > im->budget - im->used || n > SIZE_MAX - sizeof(OxChunk)) {
        im->oom = 1;
        ox_err(im, -1,
               "the model needs more memory than %zu MiB to import (its constants "
               "grow far beyond the file's size)",
               im->budget >> 20);
        return NULL;
    }
    OxChunk *c = calloc(1, sizeof(OxChunk) + (n ? n : 1));
    if (!c) {
        im->oom = 1;
        ox_err(im, -1, "out of memory");
        return NULL;
    }
    im->used += n;
    c->next = im->chunks;
    im->chunks = c;
    return c->data;
}

static void pool_free(OxImp *im)
{
    while (im->chunks) {
        OxChunk *n = im->chunks->next;
        free(im->chunks);
        im->chunks = n;
    }
}

/* ---- the report ------------------------------------------------------------------------- */

/* Prints s into the report with anything but printable ASCII replaced: names come from the
 * file and must not break a line or a terminal. */
static void msg_put(OxImp *im, const char *s, size_t maxlen)
{
    for (size_t i = 0; s[i] && i < maxlen && im->msg_len + 1 < im->msg_cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        im->msg[im->msg_len++] = ch >= 32 && ch < 127 ? (char)ch : '?';
    }
    im->msg[im->msg_len] = '\0';
}

const char *ox_node_name(const OxImp *im, int node)
{
    const Onnx__NodeProto *n = im->node[node];
    return n->name ? n->name : "";
}

void ox_err(OxImp *im, int node, const char *fmt, ...)
{
    if (im->nerr >= OX_MAX_ERRORS) {
        im->nerr++;
        im->nhidden++;
        return;
    }
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (im->msg_len)
        msg_put(im, "\n", 1);
    msg_put(im, im->what, 200);
    msg_put(im, ": ", 2);
    if (node >= 0) {
        const Onnx__NodeProto *n = im->node[node];
        msg_put(im, "node '", 6);
        msg_put(im, ox_node_name(im, node), 80);
        msg_put(im, "' (", 3);
        msg_put(im, n->op_type ? n->op_type : "?", 40);
        msg_put(im, "): ", 3);
    }
    msg_put(im, line, sizeof line);
    msg_put(im, ".", 1);
    im->nerr++;
}

void ox_unsupported(OxImp *im, int node)
{
    const Onnx__NodeProto *n = im->node[node];
    char item[160];
    const char *dom =
        n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0 ? n->domain : "";
    snprintf(item, sizeof item, "%s%.40s%s%.40s (node '%.60s')", im->nunsup ? ", " : "", dom,
             *dom ? "." : "", n->op_type ? n->op_type : "?", ox_node_name(im, node));
    size_t len = strlen(im->unsup);
    if (len + strlen(item) + 16 < sizeof im->unsup)
        memcpy(im->unsup + len, item, strlen(item) + 1);
    else if (!strstr(im->unsup, ", ..."))
        memcpy(im->unsup + len, ", ...", 6);
    im->nunsup++;
}

/* ---- attributes and tensors ------------------------------------------------------------- */

static const Onnx__AttributeProto *node_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

const Onnx__AttributeProto *ox_attr(const OxImp *im, int node, const char *name)
{
    return node_attr(im->node[node], name);
}

/* Branch w (0 then, 1 else) of node n when it is an If, or NULL. */
static const Onnx__GraphProto *if_branch(const Onnx__NodeProto *n, int w)
{
    const Onnx__AttributeProto *a = node_attr(n, w ? "else_branch" : "then_branch");
    return a && a->g && n->op_type && strcmp(n->op_type, "If") == 0 ? a->g : NULL;
}

static const char *dtype_name(int t)
{
    static const char *const names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
                                        "int16",      "int32",   "int64",  "string", "bool",
                                        "float16",    "double",  "uint32", "uint64", "complex64",
                                        "complex128", "bfloat16"};
    return t >= 0 && t <= 16 ? names[t] : "unknown";
}

static uint64_t le_u64(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int ox_tensor(OxImp *im, int node, const Onnx__TensorProto *t, OxConst *c)
{
    const char *tn = t->name ? t->name : "";
    char who[200];
    snprintf(who, sizeof who, node < 0 ? "initializer '%.80s'" : "its tensor '%.80s'", tn);
    memset(c, 0, sizeof *c);
    if (t->n_dims > OX_MAXR) {
        ox_err(im, node, "%s has rank %zu (at most %d)", who, t->n_dims, OX_MAXR);
        return -1;
    }
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        ox_err(im, node,
               "%s keeps its data in an external file, which rnnc import does not read "
               "(save the model with its weights inside)",
               who);
        return -1;
    }
    long n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        int64_t d = t->dims[i];
        if (d < 0 || d > (1L << 31)) {
            ox_err(im, node, "%s has dimension %lld, which is absurd (at most 2^31)", who,
                   (long long)d);
            return -1;
        }
        if (d && n > (1L << 30) / d) {
            ox_err(im, node, "%s has more than 2^30 elements", who);
            return -1;
        }
        n *= (long)d;
        c->shape[i] = (long)d;
    }
    c->rank = (int)t->n_dims;
    c->n = n;
    int dt = t->has_data_type ? t->data_type : 0;
    int esz;
    size_t ntyped;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        c->el = EL_F32, esz = 4, ntyped = t->n_float_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        c->el = EL_INT, esz = 8, ntyped = t->n_int64_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        c->el = EL_INT, esz = 4, ntyped = t->n_int32_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        c->el = EL_INT, esz = 1, ntyped = t->n_int32_data;
        break;
    default:
        ox_err(im, node,
               "%s is of type %s; rnnc import reads float32 weights and int32/int64 "
               "shapes",
               who, dtype_name(dt));
        return -1;
    }
    int raw = t->has_raw_data && ntyped == 0;
    size_t have = raw ? t->raw_data.len : ntyped;
    size_t want = raw ? (size_t)n * (size_t)esz : (size_t)n;
    if (have != want) {
        ox_err(im, node, "%s has %zu %s of data for its %ld elements (shape and data disagree)",
               who, have, raw ? "bytes" : "values", n);
        return -1;
    }
    c->data = ox_alloc(im, (size_t)n * (c->el == EL_F32 ? sizeof(float) : sizeof(OxDim)));
    if (!c->data)
        return -1;
    for (long i = 0; i < n; i++) {
        if (c->el == EL_F32) {
            float f;
            if (raw) {
                uint32_t u = (uint32_t)le_u64(t->raw_data.data + 4 * i, 4);
                memcpy(&f, &u, 4);
            } else {
                f = t->float_data[i];
            }
            ((float *)c->data)[i] = f;
        } else {
            int64_t v;
            if (raw)
                v = esz == 8   ? (int64_t)le_u64(t->raw_data.data + 8 * i, 8)
                    : esz == 4 ? (int32_t)(uint32_t)le_u64(t->raw_data.data + 4 * i, 4)
                               : t->raw_data.data[i];
            else
                v = esz == 8 ? t->int64_data[i] : t->int32_data[i];
            ((OxDim *)c->data)[i] = (OxDim){(long)v, {0, 0}};
        }
    }
    return 0;
}

/* ---- the graph: names, liveness, order -------------------------------------------------- */

typedef struct Index {
    int cap;
    int *slot; /* (cap) value index + 1, 0 empty */
} Index;

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int index_find(const OxImp *im, const Index *ix, const char *name)
{
    for (uint32_t h = hash(name) & (uint32_t)(ix->cap - 1);;
         h = (h + 1) & (uint32_t)(ix->cap - 1)) {
        int v = ix->slot[h] - 1;
        if (v < 0 || strcmp(im->val[v].name, name) == 0)
            return v;
    }
}

/* Adds a value named `name`; returns its index, or -1 when the name is taken. */
static int index_add(OxImp *im, Index *ix, const char *name, int producer)
{
    if (index_find(im, ix, name) >= 0)
        return -1;
    int v = im->nval++;
    im->val[v].name = name;
    im->val[v].producer = producer;
    uint32_t h = hash(name) & (uint32_t)(ix->cap - 1);
    while (ix->slot[h])
        h = (h + 1) & (uint32_t)(ix->cap - 1);
    ix->slot[h] = v + 1;
    return v;
}

typedef struct Graph {
    int *live;  /* (nmain) */
    int *order; /* (nlive) topological */
    int nlive;
} Graph;

/* The producer of value v when it is a node of the graph itself (not of a branch), or -1. */
static int main_producer(const OxImp *im, int v)
{
    int p = v >= 0 ? im->val[v].producer : -1;
    return p < im->nmain ? p : -1;
}

/* The graph input: rank 3 float, (IN0, IN1, I), its first two dimensions left symbolic unless
 * the file fixes them. */
static int graph_input(OxImp *im, const Onnx__ValueInfoProto *vi, OxVal *v)
{
    const char *nm = vi->name;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type ||
        !tp->tensor_type->shape) {
        ox_err(im, -1, "the graph input '%.80s' is not a tensor of known rank", nm);
        return -1;
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        ox_err(im, -1, "the graph input '%.80s' is %s; rnnc models read float32", nm,
               dtype_name(tt->elem_type));
        return -1;
    }
    if (tt->shape->n_dim != 3) {
        ox_err(im, -1,
               "the graph input '%.80s' has rank %zu; rnnc reads (time, batch, features) "
               "or (batch, time, features)",
               nm, tt->shape->n_dim);
        return -1;
    }
    OxSym *y = &v->y;
    y->rank = 3;
    for (int i = 0; i < 3; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        int fixed = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        long lim = i == 2 ? OX_MAX_SIZE : 1L << 31;
        if (fixed && (d->dim_value < 1 || d->dim_value > lim)) {
            ox_err(im, -1,
                   "the graph input '%.80s' has dimension %lld, which is absurd (1 to %ld)", nm,
                   (long long)d->dim_value, lim);
            return -1;
        }
        if (i == 2 && !fixed) {
            ox_err(im, -1, "the graph input '%.80s' leaves its feature size open", nm);
            return -1;
        }
        y->ax[i] = i == 0 ? AX_IN0 : i == 1 ? AX_IN1 : AX_F;
        y->n[i] = fixed ? (OxDim){(long)d->dim_value, {0, 0}} : (OxDim){1, {i == 0, i == 1}};
    }
    y->nent = 1;
    y->ent = ox_alloc(im, sizeof(OxEntry));
    OxSeg *s = ox_alloc(im, sizeof(OxSeg));
    if (!y->ent || !s)
        return -1;
    *s = (OxSeg){SRC_INPUT, 0, 0, TM_SEQ, 0, y->n[2].c};
    y->ent[0] = (OxEntry){1, s};
    v->kind = VK_SYM;
    return 0;
}

/* A branch of If node k (then_branch or else_branch): its nodes join the node list. */
static int add_branch(OxImp *im, int k, int which, const Onnx__GraphProto *bg)
{
    OxBranch *br = &im->br[2 * k + which];
    br->first = im->nnode;
    br->count = (int)bg->n_node;
    for (size_t i = 0; i < bg->n_node; i++)
        im->node[im->nnode++] = bg->node[i];
    return 0;
}

/* Builds the node list (the graph's, then the branches of its If nodes), the value table and
 * each node's value indices; finds the one input and output. */
static int graph_index(OxImp *im)
{
    const Onnx__GraphProto *g = im->g;
    size_t total = g->n_initializer + g->n_input, nnode = g->n_node;
    for (size_t k = 0; k < g->n_node; k++) {
        total += g->node[k]->n_output;
        for (int w = 0; w < 2; w++) {
            const Onnx__GraphProto *bg = if_branch(g->node[k], w);
            if (bg) {
                nnode += bg->n_node;
                total += bg->n_initializer;
                for (size_t i = 0; i < bg->n_node; i++)
                    total += bg->node[i]->n_output;
            }
        }
        if (total > (1u << 24) || nnode > (1u << 22))
            break;
    }
    if (total > (1u << 24) || nnode > (1u << 22)) {
        ox_err(im, -1, "the graph has %zu nodes and %zu values, too many", nnode, total);
        return -1;
    }
    Index ix = {16, NULL};
    while ((size_t)ix.cap < 2 * total + 2)
        ix.cap *= 2;
    ix.slot = ox_alloc(im, sizeof(int) * (size_t)ix.cap);
    im->val = ox_alloc(im, sizeof(OxVal) * (total + 1));
    im->node = ox_alloc(im, sizeof(Onnx__NodeProto *) * (nnode + 1));
    im->in = ox_alloc(im, sizeof(int *) * (nnode + 1));
    im->out = ox_alloc(im, sizeof(int *) * (nnode + 1));
    im->nin = ox_alloc(im, sizeof(int) * (nnode + 1));
    im->br = ox_alloc(im, sizeof(OxBranch) * (2 * g->n_node + 1));
    if (!ix.slot || !im->val || !im->node || !im->in || !im->out || !im->nin || !im->br)
        return -1;
    im->nmain = (int)g->n_node;
    for (size_t k = 0; k < g->n_node; k++)
        im->node[im->nnode++] = g->node[k];
    for (int k = 0; k < im->nmain; k++) {
        for (int w = 0; w < 2; w++)
            if (if_branch(g->node[k], w))
                add_branch(im, k, w, if_branch(g->node[k], w));
    }
    /* initializers: the graph's, then its branches' (names are unique model-wide) */
    for (int w = -1; w < 2 * im->nmain; w++) {
        const Onnx__GraphProto *sg = w < 0 ? g : if_branch(im->node[w / 2], w % 2);
        for (size_t i = 0; sg && i < sg->n_initializer; i++) {
            const Onnx__TensorProto *t = sg->initializer[i];
            int v = index_add(im, &ix, t->name ? t->name : "", -1);
            if (v < 0) {
                ox_err(im, -1, "two initializers are called '%.80s'", t->name ? t->name : "");
                continue;
            }
            im->val[v].init = t;
        }
    }
    im->input = -1;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *nm = g->input[i]->name ? g->input[i]->name : "";
        int v = index_find(im, &ix, nm);
        if (v >= 0 && im->val[v].init)
            continue; /* IR < 4 lists initializers among the inputs */
        if (im->input >= 0 || v >= 0) {
            ox_err(im, -1,
                   "the graph has more than one input ('%.80s' and '%.80s'); an rnnc "
                   "model reads one sequence",
                   im->val[im->input >= 0 ? im->input : v].name, nm);
            return -1;
        }
        im->input = index_add(im, &ix, nm, -1);
        if (graph_input(im, g->input[i], &im->val[im->input]) < 0)
            return -1;
    }
    if (im->input < 0) {
        ox_err(im, -1, "the graph has no input that is not an initializer");
        return -1;
    }
    int e0 = im->nerr;
    for (int k = 0; k < im->nnode; k++) {
        const Onnx__NodeProto *n = im->node[k];
        size_t nin = n->n_input;
        for (int w = 0; k < im->nmain && w < 2; w++)
            for (int b = 0; b < im->br[2 * k + w].count; b++)
                nin += im->node[im->br[2 * k + w].first + b]->n_input;
        im->out[k] = ox_alloc(im, sizeof(int) * (n->n_output + 1));
        im->in[k] = ox_alloc(im, sizeof(int) * (nin + 1));
        if (!im->out[k] || !im->in[k])
            return -1;
        for (size_t j = 0; j < n->n_output; j++) {
            const char *nm = n->output[j] ? n->output[j] : "";
            im->out[k][j] = -1;
            if (!*nm)
                continue;
            int v = index_add(im, &ix, nm, k);
            if (v < 0)
                ox_err(im, k,
                       "its output '%.80s' is already the name of another value "
                       "(a graph where a name is assigned twice)",
                       nm);
            im->out[k][j] = v;
        }
    }
    for (int k = 0; k < im->nnode; k++) {
        const Onnx__NodeProto *n = im->node[k];
        for (size_t j = 0; j < n->n_input; j++) {
            const char *nm = n->input[j] ? n->input[j] : "";
            im->in[k][im->nin[k]++] = *nm ? index_find(im, &ix, nm) : -1;
        }
    }
    /* an If depends on what its branches read from outside them */
    for (int k = 0; k < im->nmain; k++)
        for (int w = 0; w < 2; w++)
            for (int b = 0; b < im->br[2 * k + w].count; b++) {
                int q = im->br[2 * k + w].first + b;
                for (size_t j = 0; j < im->node[q]->n_input; j++)
                    im->in[k][im->nin[k]++] = im->in[q][j];
            }
    /* each branch's outputs */
    for (int k = 0; k < im->nmain; k++) {
        for (int w = 0; w < 2; w++) {
            const Onnx__GraphProto *bg = if_branch(im->node[k], w);
            OxBranch *br = &im->br[2 * k + w];
            if (!bg)
                continue;
            br->nout = (int)bg->n_output;
            br->out = ox_alloc(im, sizeof(int) * (bg->n_output + 1));
            if (!br->out)
                return -1;
            for (size_t j = 0; j < bg->n_output; j++)
                br->out[j] = index_find(im, &ix, bg->output[j]->name ? bg->output[j]->name : "");
        }
    }
    if (g->n_output != 1) {
        ox_err(im, -1,
               "the graph has %zu outputs; an rnnc model has one (the head's output, or "
               "the top layer's sequence)",
               g->n_output);
        return -1;
    }
    const char *on = g->output[0]->name ? g->output[0]->name : "";
    im->output = index_find(im, &ix, on);
    if (im->output >= 0 && main_producer(im, im->output) < 0 && im->val[im->output].producer >= 0)
        im->output = -1;
    if (im->output < 0) {
        ox_err(im, -1, "the graph output '%.80s' is computed by no node", on);
        return -1;
    }
    return im->nerr > e0 ? -1 : 0;
}

/* Marks the nodes the output depends on; reports their inputs that nothing provides. */
static int graph_live(OxImp *im, Graph *gr)
{
    int *stack = ox_alloc(im, sizeof(int) * (size_t)(im->nmain + 1));
    gr->live = ox_alloc(im, sizeof(int) * (size_t)(im->nmain + 1));
    gr->order = ox_alloc(im, sizeof(int) * (size_t)(im->nmain + 1));
    if (!stack || !gr->live || !gr->order)
        return -1;
    int sp = 0, e0 = im->nerr;
    if (im->val[im->output].producer >= 0) {
        stack[sp++] = im->val[im->output].producer;
        gr->live[stack[0]] = 1;
    }
    while (sp > 0) {
        int k = stack[--sp];
        /* the node and the nodes of its branches: names that nothing provides */
        for (int w = -1; w < 2; w++) {
            int first = w < 0 ? k : im->br[2 * k + w].first;
            int count = w < 0 ? 1 : im->br[2 * k + w].count;
            for (int q = first; q < first + count; q++)
                for (size_t j = 0; j < im->node[q]->n_input; j++)
                    if (im->in[q][j] < 0 && im->node[q]->input[j] && *im->node[q]->input[j])
                        ox_err(im, q,
                               "it reads '%.80s', which is no initializer, graph input or "
                               "node output (a missing initializer?)",
                               im->node[q]->input[j]);
        }
        for (int j = 0; j < im->nin[k]; j++) {
            int p = main_producer(im, im->in[k][j]);
            if (p >= 0 && !gr->live[p]) {
                gr->live[p] = 1;
                stack[sp++] = p;
            }
        }
    }
    return im->nerr > e0 ? -1 : 0;
}

/* Kahn's algorithm over the live nodes; what is left over lies on or behind a cycle. */
static int graph_order(OxImp *im, Graph *gr)
{
    int nn = im->nmain;
    int *indeg = ox_alloc(im, sizeof(int) * (size_t)(nn + 1));
    int *nsucc = ox_alloc(im, sizeof(int) * (size_t)(nn + 1));
    if (!indeg || !nsucc)
        return -1;
    long nedge = 0;
    for (int k = 0; k < nn; k++) {
        if (!gr->live[k])
            continue;
        for (int j = 0; j < im->nin[k]; j++) {
            int p = main_producer(im, im->in[k][j]);
            if (p >= 0) {
                indeg[k]++;
                nsucc[p]++;
                nedge++;
            }
        }
    }
    /* successor lists in one block: first[p] .. first[p] + nsucc[p] */
    long *first = ox_alloc(im, sizeof(long) * (size_t)(nn + 1));
    int *succ = ox_alloc(im, sizeof(int) * (size_t)(nedge + 1));
    if (!first || !succ)
        return -1;
    for (int k = 1; k <= nn; k++)
        first[k] = first[k - 1] + nsucc[k - 1];
    memset(nsucc, 0, sizeof(int) * (size_t)nn);
    int head = 0, tail = 0;
    for (int k = 0; k < nn; k++) {
        if (!gr->live[k])
            continue;
        for (int j = 0; j < im->nin[k]; j++) {
            int p = main_producer(im, im->in[k][j]);
            if (p >= 0)
                succ[first[p] + nsucc[p]++] = k;
        }
        if (indeg[k] == 0)
            gr->order[tail++] = k;
    }
    while (head < tail) {
        int k = gr->order[head++];
        for (int j = 0; j < nsucc[k]; j++)
            if (--indeg[succ[first[k] + j]] == 0)
                gr->order[tail++] = succ[first[k] + j];
    }
    gr->nlive = tail;
    int nlive = 0;
    for (int k = 0; k < nn; k++)
        nlive += gr->live[k];
    if (tail == nlive)
        return 0;
    /* every node left has a predecessor left: walk back until one repeats, which is on a
     * cycle, then walk the cycle once to name it */
    int k = 0;
    while (!gr->live[k] || indeg[k] == 0)
        k++;
    memset(nsucc, 0, sizeof(int) * (size_t)nn); /* now: visited */
    while (!nsucc[k]) {
        nsucc[k] = 1;
        for (int j = 0; j < im->nin[k]; j++) {
            int p = main_producer(im, im->in[k][j]);
            if (p >= 0 && indeg[p] > 0) {
                k = p;
                break;
            }
        }
    }
    char names[400] = "";
    int start = k, shown = 0;
    do {
        size_t l = strlen(names);
        if (shown++ == 4) {
            snprintf(names + l, sizeof names - l, " <- ...");
            break;
        }
        snprintf(names + l, sizeof names - l, "%s'%.60s' (%.30s)", l ? " <- " : "",
                 ox_node_name(im, k), im->node[k]->op_type ? im->node[k]->op_type : "?");
        for (int j = 0; j < im->nin[k]; j++) {
            int p = main_producer(im, im->in[k][j]);
            if (p >= 0 && indeg[p] > 0) {
                k = p;
                break;
            }
        }
    } while (k != start);
    ox_err(im, -1, "the graph has a cycle: %s (each reads the output of the next)", names);
    return -1;
}

int ox_run(OxImp *im, int k)
{
    const Onnx__NodeProto *n = im->node[k];
    int bad = 0;
    for (size_t j = 0; j < n->n_input; j++) {
        int v = im->in[k][j];
        if (v < 0)
            continue;
        OxVal *x = &im->val[v];
        if (x->kind == VK_NONE && x->init) {
            if (ox_tensor(im, -1, x->init, &x->c) == 0)
                x->kind = VK_CONST;
            else
                x->kind = VK_BAD;
        }
        if (x->kind == VK_NONE)
            ox_err(im, k, "it reads '%.80s' where it is not computed (a value of an If's branch?)",
                   x->name);
        if (x->kind == VK_BAD || x->kind == VK_NONE)
            bad = 1;
    }
    if (bad && !ox_op_known(im, k))
        ox_unsupported(im, k); /* listed even where its input was refused */
    else if (!bad && ox_eval(im, k, im->in[k], (int)n->n_input, im->out[k], (int)n->n_output) < 0)
        bad = 1;
    for (size_t j = 0; j < n->n_output; j++) {
        int v = im->out[k][j];
        if (v >= 0 && (bad || im->val[v].kind == VK_NONE))
            im->val[v].kind = VK_BAD;
    }
    return bad ? -1 : 0;
}

/* Walks the live nodes in order; a refused node's outputs become VK_BAD so that what depends
 * on it is not reported again. */
static void graph_eval(OxImp *im, const Graph *gr)
{
    for (int o = 0; o < gr->nlive && !im->oom; o++)
        ox_run(im, gr->order[o]);
}

/* ---- from the walked graph to blocks and a head ------------------------------------------ */

static int is_ident(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40 || (s[0] >= '0' && s[0] <= '9') || s[0] == '_')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

/* The segment list `e` is exactly layer `l`'s hidden output over all its directions, at `tm`. */
static int is_layer_out(const OxImp *im, const OxEntry *e, int l, OxTime tm)
{
    const OxLayer *L = &im->layer[l];
    if (e->nseg != L->D)
        return 0;
    for (int d = 0; d < L->D; d++) {
        const OxSeg *s = &e->seg[d];
        if (s->src != SRC_H || s->layer != l || s->dir != d || s->tm != tm || s->off != 0 ||
            s->len != L->H)
            return 0;
    }
    return 1;
}

/* Describes a segment list for a message. */
static void describe(const OxImp *im, const OxEntry *e, char *buf, size_t cap)
{
    static const char *const tms[] = {"every step", "the last step", "step 0", "the final state"};
    size_t l = 0;
    buf[0] = '\0';
    for (int i = 0; i < e->nseg && l + 80 < cap; i++) {
        const OxSeg *s = &e->seg[i];
        const char *sep = i ? " + " : "";
        if (s->src == SRC_INPUT)
            l += (size_t)snprintf(buf + l, cap - l, "%sthe input", sep);
        else if (s->src == SRC_HEAD)
            l += (size_t)snprintf(buf + l, cap - l, "%sthe head's output", sep);
        else
            l += (size_t)snprintf(buf + l, cap - l, "%s%s of layer %d (%s) %s at %s", sep,
                                  s->src == SRC_H ? "h" : "c", s->layer,
                                  ox_node_name(im, im->layer[s->layer].node),
                                  s->dir ? "backward" : "forward", tms[s->tm]);
        if (s->src != SRC_HEAD &&
            (s->off || s->len != (s->src == SRC_INPUT ? im->layer[0].I : im->layer[s->layer].H)))
            l += (size_t)snprintf(buf + l, cap - l, " [%ld:%ld]", s->off, s->off + s->len);
    }
}

/* Checks the output value against what an rnnc model returns and settles batch_first. */
static int check_output(OxImp *im, int *batch_first, int *has_head)
{
    const OxVal *v = &im->val[im->output];
    if (im->nlayer == 0) {
        ox_err(im, -1, "the graph has no LSTM, GRU or RNN node between its input and output");
        return -1;
    }
    if (v->kind != VK_SYM) {
        ox_err(im, -1, "the graph output '%.80s' does not depend on the input", v->name);
        return -1;
    }
    const OxSym *y = &v->y;
    int top = im->nlayer - 1;
    *has_head = im->head.state != HS_NONE;
    char what[400];
    describe(im, &y->ent[0], what, sizeof what);
    int ok;
    if (*has_head)
        ok = y->nent == 1 && y->ent[0].nseg == 1 && y->ent[0].seg[0].src == SRC_HEAD;
    else
        ok = y->nent == 1 && is_layer_out(im, &y->ent[0], top, TM_SEQ);
    if (!ok) {
        ox_err(im, -1,
               "the graph output is %s%s; an rnnc model returns the head's output or, "
               "without a head, the top layer's output at every step",
               y->nent == 1 ? "" : "a stack of values, the first ", what);
        return -1;
    }
    int per_step = !*has_head || im->head.tm == TM_SEQ;
    int want = per_step ? 3 : 2, ok_axes = y->rank == want && y->ax[want - 1] == AX_F;
    if (ok_axes && per_step && (y->ax[0] != AX_IN0 || y->ax[1] != AX_IN1))
        ok_axes = 0;
    if (ok_axes && !per_step && !(y->ax[0] <= AX_IN1 && im->bind[y->ax[0]] == 1))
        ok_axes = 0;
    if (!ok_axes) {
        ox_err(im, -1, "the graph output's axes are not %s in the input's order",
               per_step ? "(time, batch, features) or (batch, time, features)"
                        : "(batch, features)");
        return -1;
    }
    *batch_first = im->bind[0] == 1;
    return 0;
}

/* ---- the spec and the weights ------------------------------------------------------------ */

typedef struct Text {
    char *s;
    size_t len, cap;
    int oom;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(Text *t, const char *fmt, ...)
{
    va_list ap;
    char line[512];
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || t->oom)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 1024) + (size_t)n;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = 1;
            return;
        }
        t->s = s, t->cap = cap;
    }
    memcpy(t->s + t->len, line, (size_t)n + 1);
    t->len += (size_t)n;
}

/* Printable ASCII from the file, for the spec's comment. */
static void clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = src[i] >= 32 && src[i] < 127 && src[i] != '#' ? src[i] : '?';
    dst[i] = '\0';
}

static const char *uniq_name(OxImp *im, const char *want, const char *fallback, char **used,
                             int nused)
{
    const char *base = want && is_ident(want) ? want : fallback;
    char buf[64];
    for (int k = 0;; k++) {
        if (k == 0)
            snprintf(buf, sizeof buf, "%s", base);
        else
            snprintf(buf, sizeof buf, "%s_%d", base, k);
        int taken = 0;
        for (int i = 0; i < nused; i++)
            taken |= strcmp(used[i], buf) == 0;
        if (!taken)
            break;
    }
    char *s = ox_alloc(im, strlen(buf) + 1);
    if (s)
        memcpy(s, buf, strlen(buf) + 1);
    return s;
}

typedef struct OxModelOut {
    OnnxModel *m;
    int cap;
} OxModelOut;

static int add_tensor(OxModelOut *mo, const char *name, int ndim, long d0, long d1,
                      const float *data)
{
    OnnxModel *m = mo->m;
    if (m->n == mo->cap) {
        int cap = mo->cap ? mo->cap * 2 : 16;
        RnnrtTensor *t = realloc(m->t, sizeof *t * (size_t)cap);
        if (!t)
            return -1;
        m->t = t, mo->cap = cap;
    }
    size_t n = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    RnnrtTensor *t = &m->t[m->n];
    memset(t, 0, sizeof *t);
    t->name = malloc(strlen(name) + 1);
    t->data = malloc(n * sizeof(float) + 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return -1;
    }
    memcpy(t->name, name, strlen(name) + 1);
    memcpy(t->data, data, n * sizeof(float));
    t->dtype = RNNRT_F32;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    m->n++;
    return 0;
}

/* Groups the layers into blocks (consecutive layers of one module and one configuration) and
 * writes the spec text and the weights into *m. The spec it writes:
 *   name: model          input_size: 4          batch_first: true
 *   layers:
 *     - name: rnn        # the PyTorch module's name when the node names carry it
 *       cell: lstm       hidden_size: 5   num_layers: 2   bidirectional: true
 *       nonlinearity: relu (rnn)   reset: after|before (gru)   bias: false (when no B)
 *   head:                # when there is one
 *     name: head         out_features: 3   input: last|sequence   activation: softmax
 */
static int build(OxImp *im, const char *name, int batch_first, int has_head, OnnxModel *m)
{
    static const char *const cells[] = {"rnn", "lstm", "gru"};
    Text t = {0};
    char who[80], prod[80], ver[40];
    const char *base = strrchr(im->what, '/');
    clean(who, sizeof who, base ? base + 1 : im->what);
    clean(prod, sizeof prod, im->model->producer_name);
    clean(ver, sizeof ver, im->model->producer_version);
    text_add(&t, "# Imported by rnnc import from %s (%s%s%s, opset %ld).\n", who,
             *prod ? prod : "unknown producer", *ver ? " " : "", ver, im->opset);
    text_add(&t, "# Weights: the safetensors file written with it, named as PyTorch's.\n");
    text_add(&t, "name: %s\ninput_size: %d\nbatch_first: %s\nlayers:\n", name, im->layer[0].I,
             batch_first ? "true" : "false");
    char *used[OX_MAX_LAYERS + 1];
    int nused = 0, rc = 0;
    OxModelOut mo = {m, 0};
    for (int l = 0; l < im->nlayer;) {
        const OxLayer *L = &im->layer[l];
        int nl = 1;
        while (l + nl < im->nlayer) {
            const OxLayer *M = &im->layer[l + nl];
            if (M->cell != L->cell || M->H != L->H || M->D != L->D || M->relu != L->relu ||
                M->reset_before != L->reset_before || M->bias != L->bias ||
                (M->scope == NULL) != (L->scope == NULL) ||
                (M->scope && strcmp(M->scope, L->scope) != 0))
                break;
            nl++;
        }
        const char *bn = uniq_name(im, L->scope, "rnn", used, nused);
        if (!bn)
            return -1;
        used[nused++] = (char *)bn;
        text_add(&t, "  - name: %s\n    cell: %s\n    hidden_size: %d\n", bn, cells[L->cell],
                 L->H);
        if (nl > 1)
            text_add(&t, "    num_layers: %d\n", nl);
        if (L->D == 2)
            text_add(&t, "    bidirectional: true\n");
        if (L->cell == OX_RNN)
            text_add(&t, "    nonlinearity: %s\n", L->relu ? "relu" : "tanh");
        if (L->cell == OX_GRU)
            text_add(&t, "    reset: %s\n", L->reset_before ? "before" : "after");
        if (!L->bias)
            text_add(&t, "    bias: false\n");
        for (int k = 0; k < nl; k++) {
            const OxLayer *K = &im->layer[l + k];
            long GH = (long)(K->cell == OX_LSTM ? 4 : K->cell == OX_GRU ? 3 : 1) * K->H;
            for (int d = 0; d < K->D; d++) {
                char tn[128];
                const char *rev = d ? "_reverse" : "";
                snprintf(tn, sizeof tn, "%s.weight_ih_l%d%s", bn, k, rev);
                rc |= add_tensor(&mo, tn, 2, GH, K->I, K->w_ih[d]);
                snprintf(tn, sizeof tn, "%s.weight_hh_l%d%s", bn, k, rev);
                rc |= add_tensor(&mo, tn, 2, GH, K->H, K->w_hh[d]);
                if (K->bias) {
                    snprintf(tn, sizeof tn, "%s.bias_ih_l%d%s", bn, k, rev);
                    rc |= add_tensor(&mo, tn, 1, GH, 0, K->b_ih[d]);
                    snprintf(tn, sizeof tn, "%s.bias_hh_l%d%s", bn, k, rev);
                    rc |= add_tensor(&mo, tn, 1, GH, 0, K->b_hh[d]);
                }
            }
        }
        l += nl;
    }
    if (has_head) {
        const OxHead *h = &im->head;
        static const char *const acts[] = {"none", "softmax", "sigmoid"};
        const char *hn = uniq_name(im, h->scope, "head", used, nused);
        if (!hn)
            return -1;
        text_add(&t, "head:\n  name: %s\n  out_features: %ld\n  input: %s\n  activation: %s\n", hn,
                 h->O, h->tm == TM_SEQ ? "sequence" : "last", acts[h->act]);
        if (!h->bias)
            text_add(&t, "  bias: false\n");
        char tn[128];
        snprintf(tn, sizeof tn, "%s.weight", hn);
        rc |= add_tensor(&mo, tn, 2, h->O, h->F, h->weight);
        if (h->bias) {
            snprintf(tn, sizeof tn, "%s.bias", hn);
            rc |= add_tensor(&mo, tn, 1, h->O, 0, h->bias);
        }
    }
    m->spec = t.s;
    if (t.oom || rc) {
        ox_err(im, -1, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- entry points ----------------------------------------------------------------------- */

void onnx_model_free(OnnxModel *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->t[i].name);
        free(m->t[i].data);
    }
    free(m->t);
    free(m->spec);
    memset(m, 0, sizeof *m);
}

/* The whole conversion; im->what, msg and budget set by the caller. */
static int import(OxImp *im, const void *buf, size_t len, const char *name, OnnxModel *out)
{
    im->model = onnx__model_proto__unpack(NULL, len, buf);
    if (!im->model) {
        ox_err(im, -1,
               "not a valid ONNX model (the protobuf does not parse: a truncated or "
               "damaged file?)");
        return -1;
    }
    if (!im->model->graph) {
        ox_err(im, -1, "the model has no graph");
        return -1;
    }
    im->g = im->model->graph;
    im->opset = -1;
    for (size_t i = 0; i < im->model->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = im->model->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            im->opset = o->has_version ? (long)o->version : 1;
    }
    if (im->opset < 7 || im->opset > 21) {
        ox_err(im, -1,
               "the model imports operator set %ld of the default domain; rnnc import "
               "reads 7 to 21",
               im->opset);
        return -1;
    }
    im->bind[0] = im->bind[1] = -1;
    Graph gr = {0};
    if (graph_index(im) < 0 || graph_live(im, &gr) < 0 || graph_order(im, &gr) < 0)
        return -1;
    graph_eval(im, &gr);
    if (im->nunsup) {
        char line[sizeof im->unsup + 200];
        snprintf(line, sizeof line, "%d unsupported operator%s: %s", im->nunsup,
                 im->nunsup > 1 ? "s" : "", im->unsup);
        ox_err(im, -1,
               "%s; rnnc import reads LSTM, GRU, RNN, Gemm, MatMul, Add, Softmax, "
               "Sigmoid and the shape operators PyTorch emits around them",
               line);
    }
    if (im->nerr)
        return -1;
    int batch_first, has_head;
    if (check_output(im, &batch_first, &has_head) < 0)
        return -1;
    return build(im, name ? name : "imported", batch_first, has_head, out);
}

static void finish(OxImp *im)
{
    if (im->nhidden) {
        char more[80];
        snprintf(more, sizeof more, "\n%s: and %d more problems", im->what, im->nhidden);
        msg_put(im, more, sizeof more);
    }
    if (im->model)
        onnx__model_proto__free_unpacked(im->model, NULL);
    pool_free(im);
}

int onnx_import_mem(const void *buf, size_t len, const char *what, const char *name,
                    OnnxModel *out, RnnrtError *err)
{
    memset(out, 0, sizeof *out);
    OxImp im = {0};
    im.what = what ? what : "model";
    im.msg = err->msg;
    im.msg_cap = sizeof err->msg;
    err->msg[0] = '\0';
    /* weights are copied about twice (decoded, then reordered); shapes are small */
    im.budget = (len < ((size_t)1 << 40) ? 4 * len : (size_t)1 << 42) + ((size_t)64 << 20);
    if (name && !is_ident(name)) {
        ox_err(&im, -1, "'%.80s' is not a C identifier, so it cannot name a spec", name);
        finish(&im);
        return -1;
    }
    int rc = import(&im, buf, len, name, out);
    finish(&im);
    if (rc < 0)
        onnx_model_free(out);
    return rc;
}

/* The spec's name from its path: the base name up to the first dot, as a C identifier. */
static void spec_name(const char *path, char *name, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    while (*b == '_' || (*b >= '0' && *b <= '9'))
        b++;
    size_t i = 0;
    for (; b[i] && b[i] != '.' && i + 1 < cap && i < 40; i++) {
        char c = b[i];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        name[i] = ok ? c : '_';
    }
    name[i] = '\0';
    if (!i)
        snprintf(name, cap, "imported");
}

int onnx_import(const char *onnx_path, const char *spec_out, const char *weights_out,
                RnnrtError *err)
{
    FILE *f = fopen(onnx_path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot open: %s", onnx_path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap)
            break;
        if (cap >= ((size_t)1 << 31)) {
            free(buf);
            fclose(f);
            snprintf(err->msg, sizeof err->msg,
                     "%s: larger than 2 GiB, the limit of a protobuf "
                     "(ONNX keeps bigger models' data outside)",
                     onnx_path);
            return -1;
        }
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        free(buf);
        snprintf(err->msg, sizeof err->msg, "%s: %s", onnx_path,
                 buf ? "read error" : "out of memory");
        return -1;
    }
    char name[64];
    spec_name(spec_out, name, sizeof name);
    OnnxModel m;
    int rc = onnx_import_mem(buf, len, onnx_path, name, &m, err);
    free(buf);
    if (rc < 0)
        return -1;
    rc = rnnrt_st_write(weights_out, m.t, m.n, err);
    if (rc == 0) {
        rc = rnnrt_write_file(spec_out, m.spec, strlen(m.spec), err);
        if (rc < 0)
            remove(weights_out); /* nothing half-written: the weights go with the spec */
    }
    onnx_model_free(&m);
    return rc < 0 ? -1 : 0;
}
