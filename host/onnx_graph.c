/* onnx_graph.c — `rnnc import`, the graph: indexes the values by name (the graph's nodes,
 * then the branches of its If nodes), checks the one input and output, marks the nodes the
 * output depends on (refusing dangling names), orders them (refusing cycles) and walks them
 * once through onnx_ops.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "onnx_int.h"

/* ---- the graph: names, liveness, order -------------------------------------------------- */

/* Branch w (0 then, 1 else) of node n when it is an If, or NULL. */
static const Onnx__GraphProto *if_branch(const Onnx__NodeProto *n, int w)
{
    const Onnx__AttributeProto *a = ox_node_attr(n, w ? "else_branch" : "then_branch");
    return a && a->g && n->op_type && strcmp(n->op_type, "If") == 0 ? a->g : NULL;
}

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
               ox_dtype_name(tt->elem_type));
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

/* Sizes the tables (refusing absurd graphs), allocates them and fills the node list: the
 * graph's nodes, then the branches of its If nodes. */
static int graph_alloc(OxImp *im, Index *ix)
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
    while ((size_t)ix->cap < 2 * total + 2)
        ix->cap *= 2;
    ix->slot = ox_alloc(im, sizeof(int) * (size_t)ix->cap);
    im->val = ox_alloc(im, sizeof(OxVal) * (total + 1));
    im->node = ox_alloc(im, sizeof(Onnx__NodeProto *) * (nnode + 1));
    im->in = ox_alloc(im, sizeof(int *) * (nnode + 1));
    im->out = ox_alloc(im, sizeof(int *) * (nnode + 1));
    im->nin = ox_alloc(im, sizeof(int) * (nnode + 1));
    im->br = ox_alloc(im, sizeof(OxBranch) * (2 * g->n_node + 1));
    if (!ix->slot || !im->val || !im->node || !im->in || !im->out || !im->nin || !im->br)
        return -1;
    im->nmain = (int)g->n_node;
    for (size_t k = 0; k < g->n_node; k++)
        im->node[im->nnode++] = g->node[k];
    for (int k = 0; k < im->nmain; k++) {
        for (int w = 0; w < 2; w++)
            if (if_branch(g->node[k], w))
                add_branch(im, k, w, if_branch(g->node[k], w));
    }
    return 0;
}

/* Names the initializers (the graph's, then its branches': names are unique model-wide) and
 * the one graph input that is not an initializer. Two initializers of one name are reported
 * but not fatal here. */
static int graph_sources(OxImp *im, Index *ix)
{
    const Onnx__GraphProto *g = im->g;
    for (int w = -1; w < 2 * im->nmain; w++) {
        const Onnx__GraphProto *sg = w < 0 ? g : if_branch(im->node[w / 2], w % 2);
        for (size_t i = 0; sg && i < sg->n_initializer; i++) {
            const Onnx__TensorProto *t = sg->initializer[i];
            int v = index_add(im, ix, t->name ? t->name : "", -1);
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
        int v = index_find(im, ix, nm);
        if (v >= 0 && im->val[v].init)
            continue; /* IR < 4 lists initializers among the inputs */
        if (im->input >= 0 || v >= 0) {
            ox_err(im, -1,
                   "the graph has more than one input ('%.80s' and '%.80s'); an rnnc "
                   "model reads one sequence",
                   im->val[im->input >= 0 ? im->input : v].name, nm);
            return -1;
        }
        im->input = index_add(im, ix, nm, -1);
        if (graph_input(im, g->input[i], &im->val[im->input]) < 0)
            return -1;
    }
    if (im->input < 0) {
        ox_err(im, -1, "the graph has no input that is not an initializer");
        return -1;
    }
    return 0;
}

/* Each node's value indices: its outputs (names assigned twice reported), its inputs, and for
 * an If also what its branches read from outside them; each branch's outputs. -1 only when out
 * of memory. */
static int graph_wire(OxImp *im, Index *ix)
{
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
            int v = index_add(im, ix, nm, k);
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
            im->in[k][im->nin[k]++] = *nm ? index_find(im, ix, nm) : -1;
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
                br->out[j] = index_find(im, ix, bg->output[j]->name ? bg->output[j]->name : "");
        }
    }
    return 0;
}

/* The one graph output, computed by a node of the graph itself. */
static int graph_output(OxImp *im, const Index *ix)
{
    const Onnx__GraphProto *g = im->g;
    if (g->n_output != 1) {
        ox_err(im, -1,
               "the graph has %zu outputs; an rnnc model has one (the head's output, or "
               "the top layer's sequence)",
               g->n_output);
        return -1;
    }
    const char *on = g->output[0]->name ? g->output[0]->name : "";
    im->output = index_find(im, ix, on);
    if (im->output >= 0 && main_producer(im, im->output) < 0 && im->val[im->output].producer >= 0)
        im->output = -1;
    if (im->output < 0) {
        ox_err(im, -1, "the graph output '%.80s' is computed by no node", on);
        return -1;
    }
    return 0;
}

/* Builds the node list (the graph's, then the branches of its If nodes), the value table and
 * each node's value indices; finds the one input and output. */
static int graph_index(OxImp *im)
{
    Index ix = {16, NULL};
    if (graph_alloc(im, &ix) < 0 || graph_sources(im, &ix) < 0)
        return -1;
    int e0 = im->nerr;
    if (graph_wire(im, &ix) < 0 || graph_output(im, &ix) < 0)
        return -1;
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

int ox_graph_walk(OxImp *im)
{
    Graph gr = {0};
    if (graph_index(im) < 0 || graph_live(im, &gr) < 0 || graph_order(im, &gr) < 0)
        return -1;
    graph_eval(im, &gr);
    return 0;
}
