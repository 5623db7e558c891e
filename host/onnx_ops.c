/* onnx_ops.c — `rnnc import`, what each ONNX node means. Constants (initializers, shapes) are
 * computed; the data is tracked symbolically: which axis is time, batch, a stack of directions
 * or features, and which layer's states, at which step, each run of features holds. LSTM, GRU
 * and RNN nodes become layers (weights reordered into PyTorch's gates), Gemm or MatMul+Add with
 * Softmax or Sigmoid the head; any other use of the data is refused, naming the node.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "onnx_int.h"

/* ---- dimensions ------------------------------------------------------------------------- */

/* An unknown dimension: e[0] set to OX_UNK, beyond any exponent dim_mul lets through. */
enum { OX_UNK = 0x4000 };
static const OxDim DIM_UNKNOWN = {0, {OX_UNK, 0}};

static int dim_unknown(OxDim d)
{
    return d.e[0] == OX_UNK;
}

/* A plain integer (possibly negative: indices, -1 in a shape). */
static int dim_known(OxDim d)
{
    return d.e[0] == 0 && d.e[1] == 0;
}

static int dim_eq(OxDim a, OxDim b)
{
    return !dim_unknown(a) && a.c == b.c && a.e[0] == b.e[0] && a.e[1] == b.e[1];
}

static OxDim dim_const(long c)
{
    return (OxDim){c, {0, 0}};
}

static OxDim dim_mul(OxDim a, OxDim b)
{
    if (dim_unknown(a) || dim_unknown(b) || labs(a.c) > (1L << 40) ||
        (b.c && labs(a.c) > (1L << 40) / labs(b.c)) || abs(a.e[0] + b.e[0]) > 64 ||
        abs(a.e[1] + b.e[1]) > 64)
        return DIM_UNKNOWN;
    return (OxDim){a.c * b.c, {a.e[0] + b.e[0], a.e[1] + b.e[1]}};
}

/* a / b when it divides exactly into a monomial, else unknown. */
static OxDim dim_div(OxDim a, OxDim b)
{
    if (dim_unknown(a) || dim_unknown(b) || a.c < 0 || b.c <= 0 || a.c % b.c || a.e[0] < b.e[0] ||
        a.e[1] < b.e[1])
        return DIM_UNKNOWN;
    return (OxDim){a.c / b.c, {a.e[0] - b.e[0], a.e[1] - b.e[1]}};
}

/* ---- access to inputs and attributes ---------------------------------------------------- */

typedef struct Node {
    OxImp *im;
    int k;
    const int *in, *out;
    int nin, nout;
} Node;

static OxVal *arg(const Node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &n->im->val[n->in[i]] : NULL;
}

static OxVal *res(const Node *n, int i)
{
    return i < n->nout && n->out[i] >= 0 ? &n->im->val[n->out[i]] : NULL;
}

static long attr_int(const Node *n, const char *name, long def)
{
    const Onnx__AttributeProto *a = ox_attr(n->im, n->k, name);
    return a && a->has_i ? (long)a->i : def;
}

static int attr_is(const Node *n, const char *name)
{
    return ox_attr(n->im, n->k, name) != NULL;
}

/* Up to `max` ints of attribute `name` into v; their count, or -1 when absent. */
static int attr_ints(const Node *n, const char *name, long *v, int max)
{
    const Onnx__AttributeProto *a = ox_attr(n->im, n->k, name);
    if (!a)
        return -1;
    if (a->n_ints > (size_t)max) {
        ox_err(n->im, n->k, "its attribute %s has %zu values (at most %d)", name, a->n_ints, max);
        return -2;
    }
    for (size_t i = 0; i < a->n_ints; i++)
        v[i] = (long)a->ints[i];
    return (int)a->n_ints;
}

static int attr_str(const Node *n, const char *name, const char *def, char *buf, size_t cap)
{
    const Onnx__AttributeProto *a = ox_attr(n->im, n->k, name);
    if (!a || !a->has_s) {
        snprintf(buf, cap, "%s", def);
        return 0;
    }
    size_t l = a->s.len < cap - 1 ? a->s.len : cap - 1;
    memcpy(buf, a->s.data, l);
    buf[l] = '\0';
    return 1;
}

/* Up to `max` concrete ints of constant `v` (rank 0 or 1). Their count, or -1 after an error. */
static int const_ints(const Node *n, const OxVal *v, const char *what, long *out, int max)
{
    if (!v || v->kind != VK_CONST || v->c.el != EL_INT || v->c.rank > 1 || v->c.n > max) {
        ox_err(n->im, n->k, "its %s must be a constant list of at most %d integers", what, max);
        return -1;
    }
    const OxDim *d = v->c.data;
    for (long i = 0; i < v->c.n; i++) {
        if (!dim_known(d[i])) {
            ox_err(n->im, n->k, "its %s depends on the input's sizes", what);
            return -1;
        }
        out[i] = d[i].c;
    }
    return (int)v->c.n;
}

/* The axis list of a node (attribute before `opset_input`, input `idx` from then on). */
static int axes_of(const Node *n, int opset_input, int idx, long *ax, int max)
{
    if (n->im->opset >= opset_input) {
        const OxVal *v = arg(n, idx);
        if (!v)
            return -1;
        return const_ints(n, v, "axes", ax, max) < 0 ? -2 : (int)v->c.n;
    }
    return attr_ints(n, "axes", ax, max);
}

static int norm_axis(const Node *n, long a, int rank, const char *what)
{
    if (a < -rank || a >= rank) {
        ox_err(n->im, n->k, "its %s %ld is out of range for rank %d", what, a, rank);
        return -1;
    }
    return (int)(a < 0 ? a + rank : a);
}

/* ---- values ----------------------------------------------------------------------------- */

static size_t esize(OxElem el)
{
    return el == EL_F32 ? sizeof(float) : sizeof(OxDim);
}

static int rank_of(const OxVal *v)
{
    return v->kind == VK_CONST ? v->c.rank : v->kind == VK_SPLAT ? v->s.rank : v->y.rank;
}

static OxDim dim_of(const OxVal *v, int i)
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

/* A fresh constant of shape (rank, shape), its data allocated. */
static int const_new(OxImp *im, OxConst *c, OxElem el, int rank, const long *shape)
{
    c->el = el;
    c->rank = rank;
    c->n = 1;
    for (int i = 0; i < rank; i++) {
        c->shape[i] = shape[i];
        if (shape[i] && c->n > (1L << 30) / shape[i]) {
            ox_err(im, -1, "a constant computed from the model has more than 2^30 elements");
            return -1;
        }
        c->n *= shape[i];
    }
    c->data = ox_alloc(im, (size_t)c->n * esize(el) + 1);
    return c->data ? 0 : -1;
}

/* Copies the strided view (rank, shape; element (i...) at src + off + sum i_k * step[k]) out
 * of `src` into dst, in C order. */
static void strided_copy(void *dst, const void *src, size_t esz, int rank, const long *shape,
                         long off, const long *step)
{
    long idx[OX_MAXR] = {0}, total = 1;
    for (int i = 0; i < rank; i++)
        total *= shape[i];
    for (long e = 0; e < total; e++) {
        long o = off;
        for (int i = 0; i < rank; i++)
            o += idx[i] * step[i];
        memcpy((char *)dst + (size_t)e * esz, (const char *)src + (size_t)o * esz, esz);
        for (int i = rank - 1; i >= 0; i--) {
            if (++idx[i] < shape[i])
                break;
            idx[i] = 0;
        }
    }
}

static void strides(const long *shape, int rank, long *st)
{
    long s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

/* Joins adjacent runs of the same source that continue each other. */
static void seg_merge(OxEntry *e)
{
    int w = 0;
    for (int r = 0; r < e->nseg; r++) {
        OxSeg *p = w ? &e->seg[w - 1] : NULL, *s = &e->seg[r];
        if (p && p->src == s->src && p->layer == s->layer && p->dir == s->dir && p->tm == s->tm &&
            p->off + p->len == s->off)
            p->len += s->len;
        else
            e->seg[w++] = *s;
    }
    e->nseg = w;
}

/* Features [off, off+len) of entry `e` into *dst (segments allocated). */
static int ent_slice(OxImp *im, const OxEntry *e, long off, long len, OxEntry *dst)
{
    dst->seg = ox_alloc(im, sizeof(OxSeg) * (size_t)(e->nseg + 1));
    dst->nseg = 0;
    if (!dst->seg)
        return -1;
    long pos = 0;
    for (int i = 0; i < e->nseg; i++) {
        const OxSeg *s = &e->seg[i];
        long lo = off > pos ? off : pos, hi = off + len < pos + s->len ? off + len : pos + s->len;
        if (lo < hi) {
            OxSeg t = *s;
            t.off = s->off + (lo - pos);
            t.len = hi - lo;
            dst->seg[dst->nseg++] = t;
        }
        pos += s->len;
    }
    return 0;
}

/* Concatenation of entries a then b into *dst. */
static int ent_cat(OxImp *im, const OxEntry *a, const OxEntry *b, OxEntry *dst)
{
    OxSeg *s = ox_alloc(im, sizeof(OxSeg) * (size_t)(a->nseg + b->nseg + 1));
    if (!s)
        return -1;
    if (a->nseg)
        memcpy(s, a->seg, sizeof(OxSeg) * (size_t)a->nseg);
    if (b->nseg)
        memcpy(s + a->nseg, b->seg, sizeof(OxSeg) * (size_t)b->nseg);
    *dst = (OxEntry){a->nseg + b->nseg, s};
    seg_merge(dst);
    return 0;
}

static int sym_axis(const OxSym *y, OxAxis k)
{
    for (int i = 0; i < y->rank; i++)
        if (y->ax[i] == k)
            return i;
    return -1;
}

static const char *axis_name(const OxImp *im, OxAxis a)
{
    switch (a) {
    case AX_IN0:
    case AX_IN1:
        return im->bind[a] == 0 ? "time" : im->bind[a] == 1 ? "batch" : "time or batch";
    case AX_S:
        return "direction (or layer)";
    case AX_F:
        return "feature";
    default:
        return "unit";
    }
}

/* ---- constants and shapes --------------------------------------------------------------- */

static int op_constant(const Node *n)
{
    const Onnx__AttributeProto *a;
    OxVal *r = res(n, 0);
    if (!r)
        return 0;
    if ((a = ox_attr(n->im, n->k, "value")) != NULL && a->t) {
        if (ox_tensor(n->im, n->k, a->t, &r->c) < 0)
            return -1;
        r->kind = VK_CONST;
        return 0;
    }
    int isf = 0, islist = 0;
    if ((a = ox_attr(n->im, n->k, "value_float")) != NULL)
        isf = 1;
    else if ((a = ox_attr(n->im, n->k, "value_floats")) != NULL)
        isf = islist = 1;
    else if ((a = ox_attr(n->im, n->k, "value_int")) != NULL)
        ;
    else if ((a = ox_attr(n->im, n->k, "value_ints")) != NULL)
        islist = 1;
    else {
        ox_err(n->im, n->k, "it holds no value rnnc import reads (a tensor, float(s) or int(s))");
        return -1;
    }
    long cnt = islist ? (long)(isf ? a->n_floats : a->n_ints) : 1;
    if (const_new(n->im, &r->c, isf ? EL_F32 : EL_INT, islist, &cnt) < 0)
        return -1;
    for (long i = 0; i < cnt; i++) {
        if (isf)
            ((float *)r->c.data)[i] = islist ? a->floats[i] : a->f;
        else
            ((OxDim *)r->c.data)[i] = dim_const(islist ? (long)a->ints[i] : (long)a->i);
    }
    r->kind = VK_CONST;
    return 0;
}

static int op_shape(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    int rank = rank_of(x);
    long lo = attr_int(n, "start", 0), hi = attr_int(n, "end", rank);
    lo = lo < 0 ? lo + rank : lo, hi = hi < 0 ? hi + rank : hi;
    lo = lo < 0 ? 0 : lo > rank ? rank : lo;
    hi = hi < lo ? lo : hi > rank ? rank : hi;
    long cnt = hi - lo;
    if (!r)
        return 0;
    if (const_new(n->im, &r->c, EL_INT, 1, &cnt) < 0)
        return -1;
    for (long i = 0; i < cnt; i++) {
        OxDim d = dim_of(x, (int)(lo + i));
        if (dim_unknown(d)) {
            ox_err(n->im, n->k, "it asks for a size rnnc import could not follow");
            return -1;
        }
        ((OxDim *)r->c.data)[i] = d;
    }
    r->kind = VK_CONST;
    return 0;
}

static int op_constant_of_shape(const Node *n)
{
    const OxVal *s = arg(n, 0);
    OxVal *r = res(n, 0);
    if (!s || s->kind != VK_CONST || s->c.el != EL_INT || s->c.rank != 1 || s->c.n > OX_MAXR) {
        ox_err(n->im, n->k, "its shape must be a list of at most %d integers", OX_MAXR);
        return -1;
    }
    OxSplat sp = {EL_F32, (int)s->c.n, {{0, {0, 0}}}, 0.0f, {0, {0, 0}}};
    for (long i = 0; i < s->c.n; i++)
        sp.shape[i] = ((const OxDim *)s->c.data)[i];
    const Onnx__AttributeProto *a = ox_attr(n->im, n->k, "value");
    if (a && a->t) {
        OxConst v;
        if (ox_tensor(n->im, n->k, a->t, &v) < 0)
            return -1;
        if (v.n != 1) {
            ox_err(n->im, n->k, "its value must have one element");
            return -1;
        }
        sp.el = v.el;
        if (v.el == EL_F32)
            sp.f = *(float *)v.data;
        else
            sp.i = *(OxDim *)v.data;
    }
    if (r) {
        r->kind = VK_SPLAT;
        r->s = sp;
    }
    return 0;
}

/* A constant whose elements are all equal, as a splat; -1 when they differ. */
static int as_splat(const OxVal *v, OxSplat *sp)
{
    if (v->kind == VK_SPLAT) {
        *sp = v->s;
        return 0;
    }
    if (v->kind != VK_CONST || v->c.n < 1)
        return -1;
    memset(sp, 0, sizeof *sp);
    sp->el = v->c.el;
    sp->rank = v->c.rank;
    for (int i = 0; i < v->c.rank; i++)
        sp->shape[i] = dim_const(v->c.shape[i]);
    for (long i = 1; i < v->c.n; i++) {
        if (v->c.el == EL_F32 ? ((float *)v->c.data)[i] != ((float *)v->c.data)[0]
                              : !dim_eq(((OxDim *)v->c.data)[i], ((OxDim *)v->c.data)[0]))
            return -1;
    }
    if (v->c.el == EL_F32)
        sp->f = ((float *)v->c.data)[0];
    else
        sp->i = ((OxDim *)v->c.data)[0];
    return 0;
}

static int op_expand(const Node *n)
{
    const OxVal *x = arg(n, 0), *s = arg(n, 1);
    OxVal *r = res(n, 0);
    OxSplat sp;
    if (!s || s->kind != VK_CONST || s->c.el != EL_INT || s->c.rank != 1 || s->c.n > OX_MAXR) {
        ox_err(n->im, n->k, "its shape must be a list of at most %d integers", OX_MAXR);
        return -1;
    }
    if (x->kind == VK_SYM || as_splat(x, &sp) < 0) {
        ox_err(n->im, n->k,
               "it broadcasts %s; rnnc import follows Expand only of constants "
               "whose elements are all equal (initial states)",
               x->kind == VK_SYM ? "the data" : "a constant of unequal elements");
        return -1;
    }
    int rx = sp.rank, rs = (int)s->c.n, ro = rx > rs ? rx : rs;
    OxDim shape[OX_MAXR];
    for (int i = 0; i < ro; i++) {
        OxDim a = i - (ro - rx) >= 0 ? sp.shape[i - (ro - rx)] : dim_const(1);
        OxDim b = i - (ro - rs) >= 0 ? ((const OxDim *)s->c.data)[i - (ro - rs)] : dim_const(1);
        shape[i] = dim_eq(a, dim_const(1)) ? b : a;
    }
    sp.rank = ro;
    memcpy(sp.shape, shape, sizeof shape);
    if (r) {
        r->kind = VK_SPLAT;
        r->s = sp;
    }
    return 0;
}

static int op_cast(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    long to = attr_int(n, "to", 0);
    int tof = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    int toi = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
              to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
              to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
    if (!tof && !toi) {
        ox_err(n->im, n->k,
               "it casts to type %ld; rnnc import follows casts to float32 and to "
               "integers",
               to);
        return -1;
    }
    if (!r)
        return 0;
    *r = (OxVal){x->kind, r->name, r->producer, NULL, x->c, x->s, x->y};
    if (x->kind == VK_SYM) {
        if (!tof) {
            ox_err(n->im, n->k, "it casts the data to an integer type");
            return -1;
        }
        return 0;
    }
    OxElem el = tof ? EL_F32 : EL_INT;
    if (x->kind == VK_SPLAT) {
        if (el != x->s.el && el == EL_F32)
            r->s.f = (float)x->s.i.c;
        else if (el != x->s.el)
            r->s.i = dim_const(isfinite(x->s.f) && fabsf(x->s.f) < 1e15f ? (long)x->s.f : 0);
        r->s.el = el;
        if (x->s.el == EL_INT && el == EL_F32 && !dim_known(x->s.i))
            goto symbolic;
        return 0;
    }
    if (el == x->c.el)
        return 0;
    if (const_new(n->im, &r->c, el, x->c.rank, x->c.shape) < 0)
        return -1;
    for (long i = 0; i < x->c.n; i++) {
        if (el == EL_F32) {
            OxDim d = ((OxDim *)x->c.data)[i];
            if (!dim_known(d))
                goto symbolic;
            ((float *)r->c.data)[i] = (float)d.c;
        } else {
            float f = ((float *)x->c.data)[i];
            ((OxDim *)r->c.data)[i] = dim_const(isfinite(f) && fabsf(f) < 1e15f ? (long)f : 0);
        }
    }
    return 0;
symbolic:
    ox_err(n->im, n->k, "it turns a size that depends on the input into a float");
    return -1;
}

/* Elementwise integer or float arithmetic on constants of equal shapes, or one of one
 * element: what shape computations need. */
static int op_arith(const Node *n, char opc)
{
    const OxVal *a = arg(n, 0), *b = arg(n, 1);
    OxVal *r = res(n, 0);
    if (!a || !b || a->kind != VK_CONST || b->kind != VK_CONST || a->c.el != b->c.el) {
        ox_err(n->im, n->k,
               "rnnc import follows this operator only between constants of one "
               "type (an arithmetic on the data has no place in an rnnc model)");
        return -1;
    }
    const OxVal *big = a->c.n > b->c.n || (a->c.n == b->c.n && a->c.rank >= b->c.rank) ? a : b;
    int same = a->c.rank == b->c.rank;
    for (int i = 0; same && i < a->c.rank; i++)
        same = a->c.shape[i] == b->c.shape[i];
    if (!same && a->c.n != 1 && b->c.n != 1) {
        ox_err(n->im, n->k, "rnnc import follows it only on constants of one shape");
        return -1;
    }
    OxConst c;
    if (const_new(n->im, &c, a->c.el, big->c.rank, big->c.shape) < 0)
        return -1;
    for (long i = 0; i < c.n; i++) {
        long ia = a->c.n == 1 ? 0 : i, ib = b->c.n == 1 ? 0 : i;
        if (c.el == EL_F32) {
            float x = ((float *)a->c.data)[ia], y = ((float *)b->c.data)[ib];
            ((float *)c.data)[i] = opc == '+'   ? x + y
                                   : opc == '-' ? x - y
                                   : opc == '*' ? x * y
                                                : x / y;
            continue;
        }
        OxDim x = ((OxDim *)a->c.data)[ia], y = ((OxDim *)b->c.data)[ib], z = DIM_UNKNOWN;
        if (opc == '*')
            z = dim_mul(x, y);
        else if (opc == '/' && dim_known(x) && dim_known(y) && y.c && x.c != LONG_MIN)
            z = dim_const(x.c / y.c); /* ONNX integer Div truncates toward zero, like C */
        else if (opc == '/')
            z = dim_div(x, y);
        else if (dim_known(x) && dim_known(y) && labs(x.c) < (1L << 50) && labs(y.c) < (1L << 50))
            z = dim_const(opc == '+' ? x.c + y.c : x.c - y.c);
        else if (dim_known(y) && y.c == 0)
            z = x;
        if (dim_unknown(z)) {
            ox_err(n->im, n->k,
                   "it computes a size rnnc import cannot follow (from the input's "
                   "sizes, or overflowing)");
            return -1;
        }
        ((OxDim *)c.data)[i] = z;
    }
    if (r) {
        r->kind = VK_CONST;
        r->c = c;
    }
    return 0;
}

/* ---- data: Transpose, Squeeze, Unsqueeze, Reshape, Flatten, Gather, Slice, Concat ----- */

static int op_transpose(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    int rank = rank_of(x);
    long perm[OX_MAXR];
    int np = attr_ints(n, "perm", perm, OX_MAXR);
    if (np == -2)
        return -1;
    if (np < 0) {
        np = rank;
        for (int i = 0; i < rank; i++)
            perm[i] = rank - 1 - i;
    }
    int seen[OX_MAXR] = {0};
    if (np != rank)
        goto bad;
    for (int i = 0; i < rank; i++) {
        if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]]++)
            goto bad;
    }
    if (!r)
        return 0;
    *r = (OxVal){x->kind, r->name, r->producer, NULL, x->c, x->s, x->y};
    if (x->kind == VK_SYM) {
        for (int i = 0; i < rank; i++)
            r->y.ax[i] = x->y.ax[perm[i]], r->y.n[i] = x->y.n[perm[i]];
    } else if (x->kind == VK_SPLAT) {
        for (int i = 0; i < rank; i++)
            r->s.shape[i] = x->s.shape[perm[i]];
    } else {
        long st[OX_MAXR], shape[OX_MAXR], step[OX_MAXR];
        strides(x->c.shape, rank, st);
        for (int i = 0; i < rank; i++)
            shape[i] = x->c.shape[perm[i]], step[i] = st[perm[i]];
        if (const_new(n->im, &r->c, x->c.el, rank, shape) < 0)
            return -1;
        strided_copy(r->c.data, x->c.data, esize(x->c.el), rank, shape, 0, step);
    }
    return 0;
bad:
    ox_err(n->im, n->k, "its perm is not a permutation of the %d axes", rank);
    return -1;
}

/* Sets r to x with axes `keep` (a map out axis -> in axis, -1 for a new unit axis): the
 * element order is unchanged. */
static int reaxis(const Node *n, const OxVal *x, OxVal *r, int rank, const int *from)
{
    if (rank > OX_MAXR) {
        ox_err(n->im, n->k, "its result would have rank %d (at most %d)", rank, OX_MAXR);
        return -1;
    }
    *r = (OxVal){x->kind, r->name, r->producer, NULL, x->c, x->s, x->y};
    for (int i = 0; i < rank; i++) {
        int f = from[i];
        if (x->kind == VK_SYM) {
            r->y.ax[i] = f < 0 ? AX_U : x->y.ax[f];
            r->y.n[i] = f < 0 ? dim_const(1) : x->y.n[f];
        } else if (x->kind == VK_SPLAT) {
            r->s.shape[i] = f < 0 ? dim_const(1) : x->s.shape[f];
        } else {
            r->c.shape[i] = f < 0 ? 1 : x->c.shape[f];
        }
    }
    r->y.rank = r->s.rank = r->c.rank = rank;
    return 0;
}

static int op_unsqueeze(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    long ax[OX_MAXR];
    int na = axes_of(n, 13, 1, ax, OX_MAXR);
    if (na < 0) {
        if (na == -1)
            ox_err(n->im, n->k, "it has no axes");
        return -1;
    }
    int rin = rank_of(x), rout = rin + na, from[2 * OX_MAXR], isnew[2 * OX_MAXR] = {0};
    if (rout > OX_MAXR) {
        ox_err(n->im, n->k, "its result would have rank %d (at most %d)", rout, OX_MAXR);
        return -1;
    }
    for (int i = 0; i < na; i++) {
        int a = norm_axis(n, ax[i], rout, "axis");
        if (a < 0)
            return -1;
        if (isnew[a]++) {
            ox_err(n->im, n->k, "it names axis %d twice", a);
            return -1;
        }
    }
    for (int i = 0, j = 0; i < rout; i++)
        from[i] = isnew[i] ? -1 : j++;
    return r ? reaxis(n, x, r, rout, from) : 0;
}

static int squeezable(const OxVal *x, int i)
{
    if (x->kind != VK_SYM)
        return dim_eq(dim_of(x, i), dim_const(1));
    return x->y.ax[i] == AX_U || (x->y.ax[i] == AX_S && x->y.nent == 1);
}

static int op_squeeze(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    long ax[OX_MAXR];
    int rin = rank_of(x), drop[OX_MAXR] = {0}, from[OX_MAXR], rout = 0;
    int na = axes_of(n, 13, 1, ax, OX_MAXR);
    if (na == -2)
        return -1;
    if (na < 0) {
        for (int i = 0; i < rin; i++)
            drop[i] = squeezable(x, i);
    }
    for (int i = 0; i < na; i++) {
        int a = norm_axis(n, ax[i], rin, "axis");
        if (a < 0)
            return -1;
        if (!squeezable(x, a)) {
            ox_err(n->im, n->k, "it squeezes axis %d, which is not of size 1 (%s)", a,
                   x->kind == VK_SYM ? axis_name(n->im, x->y.ax[a]) : "a constant");
            return -1;
        }
        drop[a] = 1;
    }
    for (int i = 0; i < rin; i++)
        if (!drop[i])
            from[rout++] = i;
    return r ? reaxis(n, x, r, rout, from) : 0;
}

/* Reshape of the data: sizes matched axis by axis; (stack, features) may merge into features
 * and features split into (stack, features); unit axes come and go. */
static int reshape_sym(const Node *n, const OxVal *x, OxVal *r, int rout, const OxDim *t)
{
    OxImp *im = n->im;
    const OxSym *y = &x->y;
    OxSym o = {0};
    o.nent = y->nent;
    o.ent = y->ent;
    int i = 0, j = 0;
    while (i < y->rank || j < rout) {
        OxDim a = i < y->rank ? dim_of(x, i) : DIM_UNKNOWN;
        if (j >= OX_MAXR)
            goto bad;
        if (i < y->rank && j < rout && dim_eq(a, t[j])) {
            o.ax[j] = y->ax[i], o.n[j] = y->n[i];
            i++, j++;
        } else if (i < y->rank && squeezable(x, i)) {
            i++;
        } else if (j < rout && dim_eq(t[j], dim_const(1))) {
            o.ax[j] = AX_U, o.n[j] = dim_const(1);
            j++;
        } else if (i + 1 < y->rank && j < rout && y->ax[i] == AX_S && y->ax[i + 1] == AX_F &&
                   dim_eq(dim_mul(a, dim_of(x, i + 1)), t[j])) {
            OxEntry *e = ox_alloc(im, sizeof(OxEntry));
            if (!e)
                return -1;
            *e = y->ent[0];
            for (int k = 1; k < y->nent; k++)
                if (ent_cat(im, e, &y->ent[k], e) < 0)
                    return -1;
            o.nent = 1, o.ent = e;
            o.ax[j] = AX_F, o.n[j] = t[j];
            i += 2, j++;
        } else if (i < y->rank && j + 1 < rout && y->ax[i] == AX_F && y->nent == 1 &&
                   dim_known(t[j]) && t[j].c > 1 && t[j].c <= 1024 &&
                   dim_eq(dim_mul(t[j], t[j + 1]), a)) {
            long k = t[j].c, w = t[j + 1].c;
            OxEntry *e = ox_alloc(im, sizeof(OxEntry) * (size_t)k);
            if (!e)
                return -1;
            for (long s = 0; s < k; s++)
                if (ent_slice(im, &y->ent[0], s * w, w, &e[s]) < 0)
                    return -1;
            o.nent = (int)k, o.ent = e;
            o.ax[j] = AX_S, o.n[j] = t[j];
            o.ax[j + 1] = AX_F, o.n[j + 1] = t[j + 1];
            i++, j += 2;
        } else {
            goto bad;
        }
    }
    o.rank = rout;
    if (sym_axis(&o, AX_F) < 0)
        goto bad;
    r->kind = VK_SYM;
    r->y = o;
    return 0;
bad:
    ox_err(im, n->k,
           "it reshapes the data in a way that mixes time, batch, directions or "
           "features");
    return -1;
}

/* Target dims of a reshape: 0 copies the input's size (unless allowzero), -1 is inferred. */
static int reshape_to(const Node *n, const OxVal *x, int rout, OxDim *t, int allowzero)
{
    int infer = -1, rin = rank_of(x);
    OxDim prod_in = dim_const(1), prod_out = dim_const(1);
    for (int i = 0; i < rin; i++)
        prod_in = dim_mul(prod_in, dim_of(x, i));
    for (int j = 0; j < rout; j++) {
        if (dim_known(t[j]) && t[j].c == 0 && !allowzero) {
            if (j >= rin)
                goto bad;
            t[j] = dim_of(x, j);
        } else if (dim_known(t[j]) && t[j].c == -1) {
            if (infer >= 0)
                goto bad;
            infer = j;
            continue;
        } else if (dim_unknown(t[j]) || t[j].c < 0) {
            goto bad;
        }
        prod_out = dim_mul(prod_out, t[j]);
    }
    if (infer >= 0) {
        t[infer] = dim_div(prod_in, prod_out);
        if (dim_unknown(t[infer]) && x->kind != VK_SPLAT)
            goto bad;
    } else if (!dim_unknown(prod_in) && !dim_unknown(prod_out) && !dim_eq(prod_in, prod_out))
        goto bad;
    return 0;
bad:
    ox_err(n->im, n->k, "its target shape does not fit the input's %d axes", rin);
    return -1;
}

static int reshape_any(const Node *n, const OxVal *x, OxVal *r, int rout, OxDim *t)
{
    if (x->kind == VK_SYM)
        return reshape_sym(n, x, r, rout, t);
    *r = (OxVal){x->kind, r->name, r->producer, NULL, x->c, x->s, x->y};
    if (x->kind == VK_SPLAT) {
        r->s.rank = rout;
        memcpy(r->s.shape, t, sizeof(OxDim) * (size_t)rout);
        return 0;
    }
    long cnt = 1;
    for (int j = 0; j < rout; j++) {
        if (!dim_known(t[j]))
            goto bad;
        r->c.shape[j] = t[j].c;
        cnt *= t[j].c;
    }
    r->c.rank = rout;
    if (cnt == x->c.n)
        return 0;
bad:
    ox_err(n->im, n->k, "its target shape does not fit the constant it reshapes");
    return -1;
}

static int op_reshape(const Node *n)
{
    const OxVal *x = arg(n, 0), *s = arg(n, 1);
    OxVal *r = res(n, 0);
    if (!s || s->kind != VK_CONST || s->c.el != EL_INT || s->c.rank != 1 || s->c.n > OX_MAXR) {
        ox_err(n->im, n->k, "its shape must be a constant list of at most %d integers", OX_MAXR);
        return -1;
    }
    OxDim t[OX_MAXR];
    int rout = (int)s->c.n;
    memcpy(t, s->c.data, sizeof(OxDim) * (size_t)rout);
    if (reshape_to(n, x, rout, t, (int)attr_int(n, "allowzero", 0)) < 0)
        return -1;
    return r ? reshape_any(n, x, r, rout, t) : 0;
}

static int op_flatten(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    int rin = rank_of(x);
    long a = attr_int(n, "axis", 1);
    int ax = a == rin ? rin : norm_axis(n, a, rin, "axis");
    if (ax < 0)
        return -1;
    OxDim t[2] = {dim_const(1), dim_const(1)};
    for (int i = 0; i < rin; i++)
        t[i >= ax] = dim_mul(t[i >= ax], dim_of(x, i));
    /* a leading or trailing 1 is a unit axis; the rest must be matched */
    return r ? reshape_any(n, x, r, 2, t) : 0;
}

/* Marks the features of every entry as read at one step of the sequence. */
static int select_time(const Node *n, OxSym *y, OxTime tm)
{
    OxEntry *e = ox_alloc(n->im, sizeof(OxEntry) * (size_t)y->nent);
    if (!e)
        return -1;
    for (int k = 0; k < y->nent; k++) {
        e[k].nseg = y->ent[k].nseg;
        e[k].seg = ox_alloc(n->im, sizeof(OxSeg) * (size_t)(e[k].nseg + 1));
        if (!e[k].seg)
            return -1;
        for (int i = 0; i < e[k].nseg; i++) {
            OxSeg s = y->ent[k].seg[i];
            if (s.tm != TM_SEQ) {
                ox_err(n->im, n->k, "it selects a step of a value that has no time axis left");
                return -1;
            }
            s.tm = tm;
            if ((s.src == SRC_H || s.src == SRC_C) && ((s.dir == 0) == (tm == TM_LAST)))
                s.tm = TM_FINAL; /* step T-1 forward, step 0 backward: the final state */
            e[k].seg[i] = s;
        }
    }
    y->ent = e;
    return 0;
}

/* Which step index i (of a time axis of size tn) is: TM_LAST, TM_FIRST, or -1. */
static int step_kind(long i, OxDim tn)
{
    if (i == -1 || (dim_known(tn) && i == tn.c - 1))
        return TM_LAST;
    if (i == 0 || (dim_known(tn) && i == -tn.c))
        return TM_FIRST;
    return -1;
}

static int gather_sym(const Node *n, const OxVal *x, OxVal *r, int ax, const OxVal *ind)
{
    OxImp *im = n->im;
    long idx[64];
    int ni = const_ints(n, ind, "indices", idx, 64);
    if (ni < 0)
        return -1;
    int scalar = ind->c.rank == 0;
    OxAxis k = x->y.ax[ax];
    r->kind = VK_SYM;
    r->y = x->y;
    OxSym *y = &r->y;
    if ((k == AX_IN0 || k == AX_IN1) && im->bind[k] == 0 && ni == 1) {
        int tm = step_kind(idx[0], x->y.n[ax]);
        if (tm < 0) {
            ox_err(im, n->k,
                   "it reads step %ld; an rnnc head reads the last step (or the final "
                   "states) or every step",
                   idx[0]);
            return -1;
        }
        if (select_time(n, y, (OxTime)tm) < 0)
            return -1;
    } else if (k == AX_S) {
        OxEntry *e = ox_alloc(im, sizeof(OxEntry) * (size_t)ni + 1);
        if (!e)
            return -1;
        for (int i = 0; i < ni; i++) {
            long v = idx[i] < 0 ? idx[i] + x->y.nent : idx[i];
            if (v < 0 || v >= x->y.nent) {
                ox_err(im, n->k, "its index %ld is out of range for %d entries", idx[i],
                       x->y.nent);
                return -1;
            }
            e[i] = x->y.ent[v];
        }
        y->ent = e;
        y->nent = ni;
    } else if (k == AX_U && ni == 1 && (idx[0] == 0 || idx[0] == -1)) {
    } else {
        ox_err(im, n->k,
               "it picks elements along the %s axis; rnnc import follows picking a "
               "step, a direction or a layer",
               axis_name(im, k));
        return -1;
    }
    if (scalar) {
        for (int i = ax; i + 1 < y->rank; i++)
            y->ax[i] = y->ax[i + 1], y->n[i] = y->n[i + 1];
        y->rank--;
    } else {
        if (ind->c.rank != 1)
            goto rank;
        y->ax[ax] = k == AX_S ? AX_S : AX_U;
        y->n[ax] = dim_const(ni);
    }
    if (sym_axis(y, AX_S) < 0 && y->nent != 1)
        goto rank;
    return 0;
rank:
    ox_err(im, n->k, "its indices must be one integer or a list of them");
    return -1;
}

static int op_gather(const Node *n)
{
    const OxVal *x = arg(n, 0), *ind = arg(n, 1);
    OxVal *r = res(n, 0);
    int rank = rank_of(x);
    int ax = norm_axis(n, attr_int(n, "axis", 0), rank, "axis");
    if (ax < 0 || !ind)
        return -1;
    if (ind->kind != VK_CONST || ind->c.el != EL_INT) {
        ox_err(n->im, n->k, "its indices must be constant integers");
        return -1;
    }
    if (!r)
        return 0;
    if (x->kind == VK_SYM)
        return gather_sym(n, x, r, ax, ind);
    int rout = rank - 1 + ind->c.rank;
    if (rout > OX_MAXR) {
        ox_err(n->im, n->k, "its result would have rank %d (at most %d)", rout, OX_MAXR);
        return -1;
    }
    if (x->kind == VK_SPLAT) {
        OxSplat s = x->s;
        s.rank = rout;
        for (int i = 0; i < rout; i++)
            s.shape[i] = i < ax                 ? x->s.shape[i]
                         : i < ax + ind->c.rank ? dim_const(ind->c.shape[i - ax])
                                                : x->s.shape[i - ind->c.rank + 1];
        r->kind = VK_SPLAT;
        r->s = s;
        return 0;
    }
    long shape[OX_MAXR], outer = 1, inner = 1, dn = x->c.shape[ax];
    for (int i = 0; i < rout; i++)
        shape[i] = i < ax                 ? x->c.shape[i]
                   : i < ax + ind->c.rank ? ind->c.shape[i - ax]
                                          : x->c.shape[i - ind->c.rank + 1];
    for (int i = 0; i < ax; i++)
        outer *= x->c.shape[i];
    for (int i = ax + 1; i < rank; i++)
        inner *= x->c.shape[i];
    OxConst c;
    if (const_new(n->im, &c, x->c.el, rout, shape) < 0)
        return -1;
    size_t es = esize(x->c.el);
    char *dst = c.data;
    for (long o = 0; o < outer; o++) {
        for (long i = 0; i < ind->c.n; i++) {
            OxDim d = ((OxDim *)ind->c.data)[i];
            long v = d.c < 0 ? d.c + dn : d.c;
            if (!dim_known(d) || v < 0 || v >= dn) {
                ox_err(n->im, n->k, "its index is out of range or unknown");
                return -1;
            }
            memcpy(dst, (char *)x->c.data + (size_t)((o * dn + v) * inner) * es,
                   (size_t)inner * es);
            dst += (size_t)inner * es;
        }
    }
    r->kind = VK_CONST;
    r->c = c;
    return 0;
}

/* ONNX Slice bounds on an axis of size dn: first index and count; -1 for a bad step. */
static int slice_bounds(long s, long e, long st, long dn, long *first, long *count)
{
    if (st == 0)
        return -1;
    if (s < 0)
        s += dn;
    if (e < 0)
        e += dn;
    if (st > 0) {
        s = s < 0 ? 0 : s > dn ? dn : s;
        e = e < 0 ? 0 : e > dn ? dn : e;
        *count = e > s ? (e - s + st - 1) / st : 0;
    } else {
        s = s < 0 ? 0 : s > dn - 1 ? dn - 1 : s;
        e = e < -1 ? -1 : e > dn - 1 ? dn - 1 : e;
        *count = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    *first = s;
    return 0;
}

static int slice_sym_axis(const Node *n, OxSym *y, int ax, long s, long e, long st)
{
    OxImp *im = n->im;
    OxAxis k = y->ax[ax];
    OxDim dn = k == AX_S ? dim_const(y->nent) : k == AX_U ? dim_const(1) : y->n[ax];
    const long BIG = 1L << 31;
    if (!dim_known(dn)) { /* a symbolic time or batch axis */
        if (st == 1 && s == 0 && e >= BIG)
            return 0;
        if (st == 1 && k <= AX_IN1 && im->bind[k] == 0 &&
            ((s == -1 && e >= BIG) || (s == 0 && e == 1))) {
            y->ax[ax] = AX_U, y->n[ax] = dim_const(1);
            return select_time(n, y, s == -1 ? TM_LAST : TM_FIRST);
        }
        goto bad;
    }
    long first, count;
    if (slice_bounds(s, e, st, dn.c, &first, &count) < 0)
        goto bad;
    if (count == dn.c && st == 1)
        return 0;
    if (k <= AX_IN1 && im->bind[k] == 0 && count == 1 && (first == dn.c - 1 || first == 0)) {
        y->ax[ax] = AX_U, y->n[ax] = dim_const(1);
        return select_time(n, y, first == dn.c - 1 ? TM_LAST : TM_FIRST);
    }
    if (k == AX_S && count >= 1) {
        OxEntry *ent = ox_alloc(im, sizeof(OxEntry) * (size_t)count);
        if (!ent)
            return -1;
        for (long i = 0; i < count; i++)
            ent[i] = y->ent[first + i * st];
        y->ent = ent;
        y->nent = (int)count;
        return 0;
    }
    if (k == AX_F && st == 1 && count >= 1) {
        OxEntry *ent = ox_alloc(im, sizeof(OxEntry) * (size_t)y->nent);
        if (!ent)
            return -1;
        for (int i = 0; i < y->nent; i++)
            if (ent_slice(im, &y->ent[i], first, count, &ent[i]) < 0)
                return -1;
        y->ent = ent;
        y->n[ax] = dim_const(count);
        return 0;
    }
bad:
    ox_err(im, n->k,
           "it slices the %s axis in a way rnnc import cannot follow "
           "(starts %ld, ends %ld, step %ld)",
           axis_name(im, k), s, e, st);
    return -1;
}

static int op_slice(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    int rank = rank_of(x);
    long st[OX_MAXR], en[OX_MAXR], axl[OX_MAXR], sp[OX_MAXR];
    int ns, ne, na, nst;
    if (n->im->opset >= 10) {
        ns = const_ints(n, arg(n, 1), "starts", st, OX_MAXR);
        ne = const_ints(n, arg(n, 2), "ends", en, OX_MAXR);
        na = arg(n, 3) ? const_ints(n, arg(n, 3), "axes", axl, OX_MAXR) : -1;
        nst = arg(n, 4) ? const_ints(n, arg(n, 4), "steps", sp, OX_MAXR) : -1;
        if (ns < 0 || ne < 0 || (arg(n, 3) && na < 0) || (arg(n, 4) && nst < 0))
            return -1;
    } else {
        ns = attr_ints(n, "starts", st, OX_MAXR);
        ne = attr_ints(n, "ends", en, OX_MAXR);
        na = attr_ints(n, "axes", axl, OX_MAXR);
        nst = -1;
        if (ns < 0 || ne < 0) {
            ox_err(n->im, n->k, "it has no starts or ends");
            return -1;
        }
    }
    if (na < 0)
        for (na = 0; na < ns; na++)
            axl[na] = na;
    if (nst < 0)
        for (nst = 0; nst < ns; nst++)
            sp[nst] = 1;
    if (ns != ne || ns != na || ns != nst) {
        ox_err(n->im, n->k, "its starts, ends, axes and steps differ in length");
        return -1;
    }
    if (!r)
        return 0;
    *r = (OxVal){x->kind, r->name, r->producer, NULL, x->c, x->s, x->y};
    long first[OX_MAXR], count[OX_MAXR], step[OX_MAXR];
    int done[OX_MAXR] = {0};
    for (int i = 0; i < rank; i++) {
        first[i] = 0, count[i] = dim_of(x, i).c, step[i] = 1;
    }
    for (int i = 0; i < ns; i++) {
        int a = norm_axis(n, axl[i], rank, "axis");
        if (a < 0)
            return -1;
        if (done[a]++) {
            ox_err(n->im, n->k, "it slices axis %d twice", a);
            return -1;
        }
        if (x->kind == VK_SYM) {
            if (slice_sym_axis(n, &r->y, a, st[i], en[i], sp[i]) < 0)
                return -1;
            continue;
        }
        OxDim d = dim_of(x, a);
        if (!dim_known(d) || slice_bounds(st[i], en[i], sp[i], d.c, &first[a], &count[a]) < 0) {
            if (x->kind == VK_SPLAT) {
                r->s.shape[a] = sp[i] == 1 && st[i] == 0 && en[i] >= (1L << 31) ? d : DIM_UNKNOWN;
                continue;
            }
            ox_err(n->im, n->k, "its step is 0");
            return -1;
        }
        step[a] = sp[i];
        if (x->kind == VK_SPLAT)
            r->s.shape[a] = dim_const(count[a]);
    }
    if (x->kind != VK_CONST)
        return 0;
    long st2[OX_MAXR], off = 0;
    strides(x->c.shape, rank, st2);
    for (int i = 0; i < rank; i++) {
        off += first[i] * st2[i];
        step[i] *= st2[i];
    }
    if (const_new(n->im, &r->c, x->c.el, rank, count) < 0)
        return -1;
    if (r->c.n)
        strided_copy(r->c.data, x->c.data, esize(x->c.el), rank, count, off, step);
    return 0;
}

static int concat_sym(const Node *n, OxVal *r, int ax)
{
    OxImp *im = n->im;
    const OxVal *x0 = arg(n, 0);
    OxSym o = x0->y;
    OxAxis k = o.ax[ax];
    for (int j = 1; j < n->nin; j++) {
        const OxVal *x = arg(n, j);
        if (!x || x->kind != VK_SYM || x->y.rank != o.rank)
            goto bad;
        for (int i = 0; i < o.rank; i++)
            if (i != ax && (x->y.ax[i] != o.ax[i] || !dim_eq(dim_of(x, i), dim_of(x0, i))))
                goto bad;
        if (x->y.ax[ax] != k)
            goto bad;
    }
    if (k == AX_F) {
        OxEntry *e = ox_alloc(im, sizeof(OxEntry) * (size_t)o.nent);
        if (!e)
            return -1;
        long w = 0;
        for (int j = 0; j < n->nin; j++) {
            const OxVal *x = arg(n, j);
            if (x->y.nent != o.nent)
                goto bad;
            for (int s = 0; s < o.nent; s++)
                if (ent_cat(im, &e[s], &x->y.ent[s], &e[s]) < 0)
                    return -1;
            w += x->y.n[ax].c;
        }
        o.ent = e;
        o.n[ax] = dim_const(w);
    } else if (k == AX_S || k == AX_U) {
        int total = 0;
        for (int j = 0; j < n->nin; j++)
            total += arg(n, j)->y.nent;
        if (k == AX_U && sym_axis(&o, AX_S) >= 0)
            goto bad;
        OxEntry *e = ox_alloc(im, sizeof(OxEntry) * (size_t)total);
        if (!e)
            return -1;
        total = 0;
        for (int j = 0; j < n->nin; j++)
            for (int s = 0; s < arg(n, j)->y.nent; s++)
                e[total++] = arg(n, j)->y.ent[s];
        o.ent = e;
        o.nent = total;
        o.ax[ax] = AX_S;
        o.n[ax] = dim_const(total);
    } else {
        goto bad;
    }
    r->kind = VK_SYM;
    r->y = o;
    return 0;
bad:
    ox_err(im, n->k,
           "it concatenates along the %s axis, or values of unlike axes; rnnc import "
           "follows concatenating directions or layers",
           axis_name(im, k));
    return -1;
}

static int op_concat(const Node *n)
{
    OxVal *r = res(n, 0);
    const OxVal *x0 = arg(n, 0);
    if (!x0) {
        ox_err(n->im, n->k, "it has no inputs");
        return -1;
    }
    int rank = rank_of(x0), nsym = 0, nsplat = 0;
    int ax = norm_axis(n, attr_int(n, "axis", 0), rank, "axis");
    if (ax < 0)
        return -1;
    for (int j = 0; j < n->nin; j++) {
        const OxVal *x = arg(n, j);
        if (!x || rank_of(x) != rank) {
            ox_err(n->im, n->k, "its inputs differ in rank");
            return -1;
        }
        nsym += x->kind == VK_SYM, nsplat += x->kind == VK_SPLAT;
    }
    if (!r)
        return 0;
    if (nsym)
        return concat_sym(n, r, ax);
    if (nsplat) {
        OxSplat a, b;
        OxDim sum = dim_const(0);
        for (int j = 0; j < n->nin; j++) {
            if (as_splat(arg(n, j), j ? &b : &a) < 0 ||
                (j && (a.el != b.el || (a.el == EL_F32 ? a.f != b.f : !dim_eq(a.i, b.i))))) {
                ox_err(n->im, n->k, "it concatenates constants rnnc import cannot follow");
                return -1;
            }
            OxDim d = dim_of(arg(n, j), ax);
            sum = dim_known(sum) && dim_known(d) ? dim_const(sum.c + d.c) : DIM_UNKNOWN;
        }
        a.shape[ax] = sum;
        r->kind = VK_SPLAT;
        r->s = a;
        return 0;
    }
    long shape[OX_MAXR];
    memcpy(shape, x0->c.shape, sizeof shape);
    shape[ax] = 0;
    for (int j = 0; j < n->nin; j++) {
        const OxVal *x = arg(n, j);
        for (int i = 0; i < rank; i++)
            if (i != ax && x->c.shape[i] != x0->c.shape[i]) {
                ox_err(n->im, n->k, "its inputs' shapes do not fit together");
                return -1;
            }
        if (x->c.el != x0->c.el) {
            ox_err(n->im, n->k, "its inputs differ in type");
            return -1;
        }
        shape[ax] += x->c.shape[ax];
        if (shape[ax] > (1L << 31)) {
            ox_err(n->im, n->k, "its result is too large");
            return -1;
        }
    }
    OxConst c;
    if (const_new(n->im, &c, x0->c.el, rank, shape) < 0)
        return -1;
    long outer = 1;
    for (int i = 0; i < ax; i++)
        outer *= shape[i];
    size_t es = esize(c.el), pos = 0;
    for (long o = 0; o < outer; o++) {
        for (int j = 0; j < n->nin; j++) {
            const OxVal *x = arg(n, j);
            size_t blk = x->c.n && outer ? (size_t)(x->c.n / outer) * es : 0;
            memcpy((char *)c.data + pos, (char *)x->c.data + (size_t)o * blk, blk);
            pos += blk;
        }
    }
    r->kind = VK_CONST;
    r->c = c;
    return 0;
}

static int op_identity(const Node *n)
{
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    if (n->nin > 2) {
        const OxVal *tm = arg(n, 2); /* Dropout's training_mode */
        OxSplat sp;
        if (tm && (as_splat(tm, &sp) < 0 || sp.el != EL_INT || !dim_eq(sp.i, dim_const(0)))) {
            ox_err(n->im, n->k, "it is in training mode; rnnc import reads inference graphs");
            return -1;
        }
    }
    if (r)
        *r = (OxVal){x->kind, r->name, r->producer, NULL, x->c, x->s, x->y};
    return 0;
}

/* ---- recurrent nodes -------------------------------------------------------------------- */

static int is_zero(const OxVal *v)
{
    OxSplat sp;
    return as_splat(v, &sp) == 0 && (sp.el == EL_F32 ? sp.f == 0.0f : dim_eq(sp.i, dim_const(0)));
}

/* The scope of a node name PyTorch gives ("/enc/rnn/LSTM_1" -> "enc_rnn"), or NULL. */
static const char *scope_of(OxImp *im, const char *name)
{
    const char *last = strrchr(name, '/');
    if (name[0] != '/' || !last || last == name)
        return NULL;
    size_t len = (size_t)(last - name - 1);
    char *s = ox_alloc(im, len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = name[1 + i];
        s[i] =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? c : '_';
    }
    return s;
}

/* Gate permutations: PyTorch's gate p is ONNX's gate perm[p] (LSTM iofc -> ifgo, GRU zrh ->
 * rzn). */
static const int gate_perm[3][4] = {{0}, {0, 2, 3, 1}, {1, 0, 2}};
static const int cell_gates[3] = {1, 4, 3};

/* Checks the activations attribute against the cell's (the defaults, or Tanh/Relu for RNN).
 * Sets *relu for an RNN. */
static int check_acts(const Node *n, OxCell cell, int D, int *relu)
{
    static const char *const want[3][3] = {
        {"Tanh"}, {"Sigmoid", "Tanh", "Tanh"}, {"Sigmoid", "Tanh"}};
    const int per_dir = cell == OX_LSTM ? 3 : cell == OX_GRU ? 2 : 1;
    const Onnx__AttributeProto *a = ox_attr(n->im, n->k, "activations");
    *relu = 0;
    if (!a)
        return 0;
    if (a->n_strings != (size_t)(per_dir * D))
        goto bad;
    for (int d = 0; d < D; d++) {
        for (int i = 0; i < per_dir; i++) {
            const ProtobufCBinaryData *s = &a->strings[d * per_dir + i];
            char buf[16] = "";
            memcpy(buf, s->data, s->len < 15 ? s->len : 15);
            int r = cell == OX_RNN && strcasecmp(buf, "Relu") == 0;
            if (cell == OX_RNN && d > 0 && r != *relu)
                goto bad;
            *relu |= r;
            if (!r && strcasecmp(buf, want[cell][i]) != 0)
                goto bad;
        }
    }
    return 0;
bad:
    ox_err(n->im, n->k, "its activations are not %s",
           cell == OX_RNN ? "Tanh or Relu, the same both ways" : "the cell's standard ones");
    return -1;
}

/* W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H) into PyTorch's tensors, gate by gate. */
static int convert_weights(const Node *n, OxLayer *L, const OxConst *W, const OxConst *R,
                           const OxConst *B)
{
    long G = cell_gates[L->cell], H = L->H, I = L->I;
    const int *perm = gate_perm[L->cell];
    for (int d = 0; d < L->D; d++) {
        L->w_ih[d] = ox_alloc(n->im, sizeof(float) * (size_t)(G * H * I));
        L->w_hh[d] = ox_alloc(n->im, sizeof(float) * (size_t)(G * H * H));
        L->b_ih[d] = ox_alloc(n->im, sizeof(float) * (size_t)(G * H));
        L->b_hh[d] = ox_alloc(n->im, sizeof(float) * (size_t)(G * H));
        if (!L->w_ih[d] || !L->w_hh[d] || !L->b_ih[d] || !L->b_hh[d])
            return -1;
        const float *w = (const float *)W->data + d * G * H * I;
        const float *r = (const float *)R->data + d * G * H * H;
        for (long p = 0; p < G; p++) {
            long q = perm[p];
            memcpy(L->w_ih[d] + p * H * I, w + q * H * I, sizeof(float) * (size_t)(H * I));
            memcpy(L->w_hh[d] + p * H * H, r + q * H * H, sizeof(float) * (size_t)(H * H));
            if (B) {
                const float *b = (const float *)B->data + d * 2 * G * H;
                memcpy(L->b_ih[d] + p * H, b + q * H, sizeof(float) * (size_t)H);
                memcpy(L->b_hh[d] + p * H, b + G * H + q * H, sizeof(float) * (size_t)H);
            }
        }
    }
    return 0;
}

static int weight_arg(const Node *n, int i, const char *what, int rank, const OxConst **c)
{
    const OxVal *v = arg(n, i);
    *c = NULL;
    if (!v) {
        if (i == 3)
            return 0;
        ox_err(n->im, n->k, "it has no %s", what);
        return -1;
    }
    if (v->kind == VK_SYM) {
        ox_err(n->im, n->k, "its %s is computed from the input; rnnc import needs it constant",
               what);
        return -1;
    }
    if (v->kind != VK_CONST || v->c.el != EL_F32 || v->c.rank != rank) {
        ox_err(n->im, n->k, "its %s must be a float32 tensor of rank %d", what, rank);
        return -1;
    }
    *c = &v->c;
    return 0;
}

static int op_recurrent(const Node *n, OxCell cell)
{
    OxImp *im = n->im;
    char dir[32];
    attr_str(n, "direction", "forward", dir, sizeof dir);
    int D = strcmp(dir, "bidirectional") == 0 ? 2 : 1, e0 = im->nerr;
    if (strcmp(dir, "reverse") == 0)
        ox_err(im, n->k,
               "it runs in reverse only; an rnnc layer runs forward, or both ways "
               "(bidirectional)");
    else if (D == 1 && strcmp(dir, "forward") != 0)
        ox_err(im, n->k, "its direction '%.20s' is not forward, reverse or bidirectional", dir);
    if (attr_is(n, "clip"))
        ox_err(im, n->k, "it clips its cell state (clip), which rnnc layers do not");
    if (attr_is(n, "activation_alpha") || attr_is(n, "activation_beta"))
        ox_err(im, n->k, "its activations take parameters (activation_alpha/beta)");
    if (cell == OX_LSTM && attr_int(n, "input_forget", 0))
        ox_err(im, n->k, "it couples the input and forget gates (input_forget)");
    long layout = attr_int(n, "layout", 0);
    if (layout != 0 && layout != 1)
        ox_err(im, n->k, "its layout %ld is not 0 or 1", layout);
    OxLayer L = {0};
    L.node = n->k;
    L.cell = cell;
    L.D = D;
    L.scope = scope_of(im, ox_node_name(im, n->k));
    if (check_acts(n, cell, D, &L.relu) < 0)
        return -1;
    if (cell == OX_GRU)
        L.reset_before = attr_int(n, "linear_before_reset", 0) == 0;
    if (arg(n, 4))
        ox_err(im, n->k,
               "it takes sequence_lens; rnnc takes lengths at run time (--lengths) "
               "instead of from the graph");
    if ((arg(n, 5) && !is_zero(arg(n, 5))) ||
        (cell == OX_LSTM && arg(n, 6) && !is_zero(arg(n, 6))))
        ox_err(im, n->k, "its initial state is not zero; rnnc layers start from zero");
    if (cell == OX_LSTM && arg(n, 7))
        ox_err(im, n->k, "it has peephole weights (P), which PyTorch's LSTM and rnnc have not");
    const OxConst *W, *R, *B;
    if (weight_arg(n, 1, "input weights W", 3, &W) < 0 ||
        weight_arg(n, 2, "recurrent weights R", 3, &R) < 0 ||
        weight_arg(n, 3, "biases B", 2, &B) < 0)
        return -1;
    long G = cell_gates[cell], H = R->shape[2];
    long hs = attr_int(n, "hidden_size", H);
    if (hs < 1 || hs > OX_MAX_HIDDEN) {
        ox_err(im, n->k, "its hidden_size %ld is absurd (1 to %d)", hs, OX_MAX_HIDDEN);
        return -1;
    }
    if (H != hs) {
        ox_err(im, n->k, "its hidden_size %ld disagrees with its R, of shape (%ld, %ld, %ld)", hs,
               R->shape[0], R->shape[1], R->shape[2]);
        return -1;
    }
    L.H = (int)H;
    if (W->shape[0] != D || W->shape[1] != G * H || W->shape[2] < 1 || W->shape[2] > OX_MAX_SIZE ||
        R->shape[0] != D || R->shape[1] != G * H ||
        (B && (B->shape[0] != D || B->shape[1] != 2 * G * H))) {
        ox_err(im, n->k,
               "its weights' shapes W (%ld, %ld, %ld), R (%ld, %ld, %ld)%s do not fit "
               "%d direction%s of %ld gates of hidden_size %ld",
               W->shape[0], W->shape[1], W->shape[2], R->shape[0], R->shape[1], R->shape[2],
               B ? " and B" : "", D, D > 1 ? "s" : "", G, H);
        return -1;
    }
    L.I = (int)W->shape[2];
    L.bias = B != NULL;
    /* the input: (T, B, features) with layout 0, (B, T, features) with 1 */
    const OxVal *x = arg(n, 0);
    if (!x || x->kind != VK_SYM || x->y.rank != 3 || x->y.ax[2] != AX_F || x->y.ax[0] > AX_IN1 ||
        x->y.ax[1] > AX_IN1 || x->y.ax[0] == x->y.ax[1]) {
        ox_err(im, n->k, "its input is not the %s sequence (time, batch, features)",
               x && x->kind == VK_SYM ? "network's" : "data, a");
        return -1;
    }
    OxAxis ta = x->y.ax[layout ? 1 : 0], ba = x->y.ax[layout ? 0 : 1];
    if (im->bind[ta] == -1) {
        im->bind[ta] = 0, im->bind[ba] = 1;
    } else if (im->bind[ta] != 0) {
        ox_err(im, n->k,
               "it reads the batch axis as time (another layer read them the other way)");
        return -1;
    }
    int l = im->nlayer;
    const OxEntry *e = &x->y.ent[0];
    int fits = l == 0 ? e->nseg == 1 && e->seg[0].src == SRC_INPUT && e->seg[0].tm == TM_SEQ &&
                            e->seg[0].off == 0 && e->seg[0].len == x->y.n[2].c
                      : x->y.nent == 1 && e->nseg == im->layer[l - 1].D;
    for (int d = 0; l > 0 && fits && d < e->nseg; d++) {
        const OxSeg *s = &e->seg[d];
        fits = s->src == SRC_H && s->layer == l - 1 && s->dir == d && s->tm == TM_SEQ &&
               s->off == 0 && s->len == im->layer[l - 1].H;
    }
    if (!fits || x->y.nent != 1) {
        ox_err(im, n->k, "its input is not %s at every step",
               l == 0 ? "the graph input"
                      : "the previous layer's output "
                        "(forward then backward)");
        return -1;
    }
    if (x->y.n[2].c != L.I) {
        ox_err(im, n->k, "its W takes %d features but its input has %ld", L.I, x->y.n[2].c);
        return -1;
    }
    if (l >= OX_MAX_LAYERS) {
        ox_err(im, n->k, "it is layer %d; rnnc takes at most %d", l + 1, OX_MAX_LAYERS);
        return -1;
    }
    if (im->head.state != HS_NONE) {
        ox_err(im, n->k, "it follows the head; rnnc's head comes last");
        return -1;
    }
    if (im->nerr > e0 || convert_weights(n, &L, W, R, B) < 0)
        return -1;
    im->layer[im->nlayer++] = L;
    /* Y (T, D, B, H) [layout 1: (B, T, D, H)], Y_h and Y_c (D, B, H) [(B, D, H)] */
    for (int o = 0; o < 3 && o < n->nout; o++) {
        OxVal *r = res(n, o);
        if (!r)
            continue;
        OxSym y = {0};
        int p = 0;
        if (o == 0) {
            y.ax[p] = x->y.ax[0], y.n[p++] = x->y.n[0];
            if (layout)
                y.ax[p] = x->y.ax[1], y.n[p++] = x->y.n[1];
        }
        if (layout && o > 0)
            y.ax[p] = ba, y.n[p++] = x->y.n[0];
        y.ax[p] = AX_S, y.n[p++] = dim_const(D);
        if (!layout)
            y.ax[p] = ba, y.n[p++] = x->y.n[1];
        y.ax[p] = AX_F, y.n[p++] = dim_const(H);
        y.rank = p;
        y.nent = D;
        y.ent = ox_alloc(im, sizeof(OxEntry) * 2);
        OxSeg *s = ox_alloc(im, sizeof(OxSeg) * 2);
        if (!y.ent || !s)
            return -1;
        for (int d = 0; d < D; d++) {
            s[d] = (OxSeg){o == 2 ? SRC_C : SRC_H, l, d, o == 0 ? TM_SEQ : TM_FINAL, 0, H};
            y.ent[d] = (OxEntry){1, &s[d]};
        }
        if (o == 2 && cell != OX_LSTM)
            continue;
        r->kind = VK_SYM;
        r->y = y;
    }
    return 0;
}

/* ---- the head --------------------------------------------------------------------------- */

/* The head's input must be the top layer's output, at every step or its final states. */
static int head_input(const Node *n, const OxVal *x, OxTime *tm)
{
    OxImp *im = n->im;
    if (im->head.state != HS_NONE) {
        ox_err(im, n->k, "it is a second linear layer; an rnnc model has one head");
        return -1;
    }
    int l = im->nlayer - 1, f = sym_axis(&x->y, AX_F);
    if (l < 0 || x->y.nent != 1 || f != x->y.rank - 1) {
        ox_err(im, n->k, "its input is not a recurrent layer's output");
        return -1;
    }
    const OxEntry *e = &x->y.ent[0];
    const OxLayer *L = &im->layer[l];
    OxTime t = e->nseg ? e->seg[0].tm : TM_SEQ;
    int ok = e->nseg == L->D;
    for (int d = 0; ok && d < L->D; d++) {
        const OxSeg *s = &e->seg[d];
        ok = s->src == SRC_H && s->layer == l && s->dir == d && s->tm == t && s->off == 0 &&
             s->len == L->H && (t == TM_SEQ || t == TM_FINAL);
    }
    if (!ok) {
        int lastbwd = L->D == 2 && e->nseg == 2 && e->seg[1].tm == TM_LAST;
        ox_err(im, n->k, "%s",
               lastbwd ? "it reads the backward direction's output at the last step "
                         "(y[:, -1]); rnnc's `input: last` is the final states of "
                         "both directions: export torch.cat((h_n[-2], h_n[-1]), 1)"
                       : "its input is not the top layer's output (both directions, "
                         "at every step or their final states)");
        return -1;
    }
    *tm = t;
    return 0;
}

static int set_head_out(const Node *n, const OxVal *x, long O)
{
    OxVal *r = res(n, 0);
    if (!r)
        return 0;
    OxSeg *s = ox_alloc(n->im, sizeof(OxSeg));
    OxEntry *e = ox_alloc(n->im, sizeof(OxEntry));
    if (!s || !e)
        return -1;
    *s = (OxSeg){SRC_HEAD, 0, 0, n->im->head.tm, 0, O};
    *e = (OxEntry){1, s};
    r->kind = VK_SYM;
    r->y = x->y;
    r->y.ent = e;
    r->y.n[x->y.rank - 1] = dim_const(O);
    return 0;
}

/* MatMul(x, W) with W (F, O): the head's weight is W transposed; Gemm(x, B, C) likewise with
 * transB, alpha and beta folded in. */
static int op_linear(const Node *n, int gemm)
{
    OxImp *im = n->im;
    const OxVal *x = arg(n, 0), *w = arg(n, 1), *c = gemm ? arg(n, 2) : NULL;
    if (!x || !w || x->kind != VK_SYM || w->kind != VK_CONST || w->c.el != EL_F32 ||
        w->c.rank != 2) {
        ox_err(im, n->k,
               "rnnc import reads it as the head: the data times a constant float32 "
               "matrix");
        return -1;
    }
    OxTime tm;
    if (head_input(n, x, &tm) < 0)
        return -1;
    long transB = gemm ? attr_int(n, "transB", 0) : 0;
    float alpha = 1.0f, beta = 1.0f;
    if (gemm) {
        const Onnx__AttributeProto *a;
        if ((a = ox_attr(im, n->k, "alpha")) != NULL && a->has_f)
            alpha = a->f;
        if ((a = ox_attr(im, n->k, "beta")) != NULL && a->has_f)
            beta = a->f;
        if (attr_int(n, "transA", 0) || x->y.rank != 2) {
            ox_err(im, n->k, "its data input is transposed or not (batch, features)");
            return -1;
        }
    }
    long F = x->y.n[x->y.rank - 1].c, O = transB ? w->c.shape[0] : w->c.shape[1];
    if ((transB ? w->c.shape[1] : w->c.shape[0]) != F || O < 1 || O > OX_MAX_SIZE) {
        ox_err(im, n->k, "its weight (%ld, %ld) does not fit %ld input features", w->c.shape[0],
               w->c.shape[1], F);
        return -1;
    }
    OxHead *h = &im->head;
    h->weight = ox_alloc(im, sizeof(float) * (size_t)(O * F));
    if (!h->weight)
        return -1;
    const float *wd = w->c.data;
    for (long o = 0; o < O; o++)
        for (long f = 0; f < F; f++)
            h->weight[o * F + f] = alpha * (transB ? wd[o * F + f] : wd[f * O + o]);
    h->node = n->k;
    h->O = O, h->F = F, h->tm = tm;
    h->scope = scope_of(im, ox_node_name(im, n->k));
    h->state = HS_LINEAR;
    if (c) {
        if (c->kind != VK_CONST || c->c.el != EL_F32 || c->c.n != O ||
            (c->c.rank && c->c.shape[c->c.rank - 1] != O)) {
            ox_err(im, n->k, "its bias C is not a constant of %ld floats", O);
            return -1;
        }
        h->bias = ox_alloc(im, sizeof(float) * (size_t)O);
        if (!h->bias)
            return -1;
        for (long o = 0; o < O; o++)
            h->bias[o] = beta * ((const float *)c->c.data)[o];
        h->state = HS_BIASED;
    }
    return set_head_out(n, x, O);
}

/* Add: the head's bias (a constant (O) or (1, ..., O)), in either operand. */
static int op_add(const Node *n)
{
    OxImp *im = n->im;
    const OxVal *a = arg(n, 0), *b = arg(n, 1);
    if (a && b && a->kind != VK_SYM && b->kind != VK_SYM)
        return op_arith(n, '+');
    const OxVal *x = a && a->kind == VK_SYM ? a : b, *c = x == a ? b : a;
    const OxHead *h = &im->head;
    int onhead = x->y.nent == 1 && x->y.ent[0].nseg == 1 && x->y.ent[0].seg[0].src == SRC_HEAD;
    if (!onhead || h->state != HS_LINEAR) {
        ox_err(im, n->k, "it adds to %s; rnnc import reads Add only as the head's bias",
               onhead ? "the head's output twice or after its activation" : "the data");
        return -1;
    }
    long O = h->O;
    int fits = c && c->kind == VK_CONST && c->c.el == EL_F32 && c->c.n == O &&
               c->c.rank <= x->y.rank && (c->c.rank == 0 || c->c.shape[c->c.rank - 1] == O);
    if (!fits) {
        ox_err(im, n->k, "its other operand is not a constant bias of %ld floats", O);
        return -1;
    }
    float *bias = ox_alloc(im, sizeof(float) * (size_t)O);
    if (!bias)
        return -1;
    memcpy(bias, c->c.data, sizeof(float) * (size_t)O);
    im->head.bias = bias;
    im->head.state = HS_BIASED;
    OxVal *r = res(n, 0);
    if (r)
        *r = (OxVal){VK_SYM, r->name, r->producer, NULL, x->c, x->s, x->y};
    return 0;
}

static int op_activation(const Node *n, int act)
{
    OxImp *im = n->im;
    const OxVal *x = arg(n, 0);
    OxHead *h = &im->head;
    int onhead = x->kind == VK_SYM && x->y.nent == 1 && x->y.ent[0].nseg == 1 &&
                 x->y.ent[0].seg[0].src == SRC_HEAD;
    if (!onhead || (h->state != HS_LINEAR && h->state != HS_BIASED)) {
        ox_err(im, n->k,
               "it applies to %s; rnnc applies softmax or sigmoid once, to the head's "
               "output",
               onhead ? "the head's output a second time" : "something other than the head");
        return -1;
    }
    if (act == 1) {
        int r = x->y.rank, f = sym_axis(&x->y, AX_F);
        long axis = attr_int(n, "axis", im->opset >= 13 ? -1 : 1);
        int a = norm_axis(n, axis, r, "axis");
        if (a < 0)
            return -1;
        if (a != f || (im->opset < 13 && f != r - 1)) {
            ox_err(im, n->k, "it normalises over the %s axis, not the head's outputs",
                   axis_name(im, x->y.ax[a]));
            return -1;
        }
    }
    h->act = act;
    h->state = HS_ACTIVATED;
    OxVal *r = res(n, 0);
    if (r)
        *r = (OxVal){VK_SYM, r->name, r->producer, NULL, x->c, x->s, x->y};
    return 0;
}

/* ---- dispatch --------------------------------------------------------------------------- */

typedef struct OpInfo {
    const char *name;
    int min_in; /* inputs that must be given */
    int (*fn)(const Node *n, int arg);
    int arg;
} OpInfo;

#define WRAP(f)                                                                                   \
    static int f##_(const Node *n, int a)                                                         \
    {                                                                                             \
        (void)a;                                                                                  \
        return f(n);                                                                              \
    }
WRAP(op_constant)
WRAP(op_shape)
WRAP(op_constant_of_shape)
WRAP(op_expand)
WRAP(op_cast)
WRAP(op_identity)
WRAP(op_transpose)
WRAP(op_unsqueeze)
WRAP(op_squeeze)
WRAP(op_reshape)
WRAP(op_flatten)
WRAP(op_gather)
WRAP(op_slice)
WRAP(op_concat)
WRAP(op_add)
#undef WRAP

static int op_arith_(const Node *n, int a)
{
    return op_arith(n, (char)a);
}
static int op_recurrent_(const Node *n, int a)
{
    return op_recurrent(n, (OxCell)a);
}

static const OpInfo ops[] = {
    {"Constant", 0, op_constant_, 0},
    {"Shape", 1, op_shape_, 0},
    {"ConstantOfShape", 1, op_constant_of_shape_, 0},
    {"Expand", 2, op_expand_, 0},
    {"Cast", 1, op_cast_, 0},
    {"Identity", 1, op_identity_, 0},
    {"Dropout", 1, op_identity_, 0},
    {"Transpose", 1, op_transpose_, 0},
    {"Unsqueeze", 1, op_unsqueeze_, 0},
    {"Squeeze", 1, op_squeeze_, 0},
    {"Reshape", 2, op_reshape_, 0},
    {"Flatten", 1, op_flatten_, 0},
    {"Gather", 2, op_gather_, 0},
    {"Slice", 1, op_slice_, 0},
    {"Concat", 1, op_concat_, 0},
    {"Add", 2, op_add_, 0},
    {"Sub", 2, op_arith_, '-'},
    {"Mul", 2, op_arith_, '*'},
    {"Div", 2, op_arith_, '/'},
    {"LSTM", 3, op_recurrent_, OX_LSTM},
    {"GRU", 3, op_recurrent_, OX_GRU},
    {"RNN", 3, op_recurrent_, OX_RNN},
    {"MatMul", 2, op_linear, 0},
    {"Gemm", 2, op_linear, 1},
    {"Softmax", 1, op_activation, 1},
    {"Sigmoid", 1, op_activation, 2},
};

int ox_op_known(const OxImp *im, int k)
{
    const Onnx__NodeProto *p = im->g->node[k];
    if (p->domain && *p->domain && strcmp(p->domain, "ai.onnx") != 0)
        return 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (p->op_type && strcmp(p->op_type, ops[i].name) == 0)
            return 1;
    return 0;
}

int ox_eval(OxImp *im, int k, const int *in, int nin, const int *out, int nout)
{
    const Onnx__NodeProto *p = im->g->node[k];
    Node n = {im, k, in, out, nin, nout};
    const char *op = p->op_type ? p->op_type : "";
    if (p->domain && *p->domain && strcmp(p->domain, "ai.onnx") != 0) {
        ox_unsupported(im, k);
        return -1;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(op, ops[i].name) != 0)
            continue;
        for (int j = 0; j < ops[i].min_in; j++) {
            if (!arg(&n, j)) {
                ox_err(im, k, "its input %d is missing", j);
                return -1;
            }
        }
        return ops[i].fn(&n, ops[i].arg);
    }
    ox_unsupported(im, k);
    return -1;
}
