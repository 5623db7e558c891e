/* onnx_shape.c — `rnnc import`, the operators around the recurrent nodes: constants and shape
 * arithmetic are computed (sizes the file leaves open stay symbolic), and the data's layout is
 * tracked through Transpose, Squeeze, Unsqueeze, Reshape, Flatten, Gather, Slice and Concat:
 * which axis is time, batch, a stack of directions or features, and which layer's states, at
 * which step, each run of features holds. onnx_ops.c makes layers and the head of it.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "onnx_int.h"

/* ---- dimensions ------------------------------------------------------------------------- */

/* |v| > 2^40: too large to multiply safely (and never a real size). */
static int huge(long v)
{
    return v > (1L << 40) || v < -(1L << 40);
}

static OxDim dim_mul(OxDim a, OxDim b)
{
    if (dim_unknown(a) || dim_unknown(b) || huge(a.c) || huge(b.c) ||
        (b.c && (a.c > (1L << 40) / b.c || a.c < -(1L << 40) / b.c)) ||
        abs(a.e[0] + b.e[0]) > 64 || abs(a.e[1] + b.e[1]) > 64)
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

/* Up to `max` ints of attribute `name` into v; their count, or -1 when absent. */
static int attr_ints(const OxNode *n, const char *name, long *v, int max)
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

int ox_attr_str(const OxNode *n, const char *name, const char *def, char *buf, size_t cap)
{
    const Onnx__AttributeProto *a = ox_attr(n->im, n->k, name);
    if (!a || !a->has_s) {
        snprintf(buf, cap, "%s", def);
        return 0;
    }
    size_t l = a->s.len < cap - 1 ? a->s.len : cap - 1;
    if (l)
        memcpy(buf, a->s.data, l);
    buf[l] = '\0';
    return 1;
}

/* Up to `max` concrete ints of constant `v` (rank 0 or 1). Their count, or -1 after an error. */
static int const_ints(const OxNode *n, const OxVal *v, const char *what, long *out, int max)
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
static int axes_of(const OxNode *n, int opset_input, int idx, long *ax, int max)
{
    if (n->im->opset >= opset_input) {
        const OxVal *v = arg(n, idx);
        if (!v)
            return -1;
        return const_ints(n, v, "axes", ax, max) < 0 ? -2 : (int)v->c.n;
    }
    return attr_ints(n, "axes", ax, max);
}

int ox_norm_axis(const OxNode *n, long a, int rank, const char *what)
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

int ox_sym_axis(const OxSym *y, OxAxis k)
{
    for (int i = 0; i < y->rank; i++)
        if (y->ax[i] == k)
            return i;
    return -1;
}

const char *ox_axis_name(const OxImp *im, OxAxis a)
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

int ox_op_constant(const OxNode *n, int unused)
{
    (void)unused;
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

int ox_op_shape(const OxNode *n, int unused)
{
    (void)unused;
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

int ox_op_constant_of_shape(const OxNode *n, int unused)
{
    (void)unused;
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
int ox_as_splat(const OxVal *v, OxSplat *sp)
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

int ox_op_expand(const OxNode *n, int unused)
{
    (void)unused;
    const OxVal *x = arg(n, 0), *s = arg(n, 1);
    OxVal *r = res(n, 0);
    OxSplat sp;
    if (!s || s->kind != VK_CONST || s->c.el != EL_INT || s->c.rank != 1 || s->c.n > OX_MAXR) {
        ox_err(n->im, n->k, "its shape must be a list of at most %d integers", OX_MAXR);
        return -1;
    }
    if (x->kind == VK_SYM || ox_as_splat(x, &sp) < 0) {
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

int ox_op_cast(const OxNode *n, int unused)
{
    (void)unused;
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
int ox_op_arith(const OxNode *n, int opc)
{
    const OxVal *a = arg(n, 0), *b = arg(n, 1);
    OxVal *r = res(n, 0);
    if (!a || !b || a->kind != VK_CONST || b->kind != VK_CONST || a->c.el != b->c.el) {
        ox_err(n->im, n->k,
               "rnnc import follows this operator only between constants of one "
               "type (an arithmetic on the data has no place in an rnnc model)");
        return -1;
    }
    const OxVal *big = a->c.n == 1 && b->c.n != 1   ? b
                       : b->c.n == 1 && a->c.n != 1 ? a
                       : a->c.rank >= b->c.rank     ? a
                                                    : b;
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
        else if (dim_known(x) && dim_known(y) && !huge(x.c) && !huge(y.c))
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

int ox_op_equal(const OxNode *n, int unused)
{
    (void)unused;
    const OxVal *a = arg(n, 0), *b = arg(n, 1);
    OxVal *r = res(n, 0);
    if (a->kind != VK_CONST || b->kind != VK_CONST || a->c.el != b->c.el ||
        (a->c.n != 1 && b->c.n != 1 && a->c.n != b->c.n)) {
        ox_err(n->im, n->k,
               "rnnc import follows Equal only between constants of one type and "
               "shape (or one element)");
        return -1;
    }
    const OxVal *big = a->c.n == 1 ? b : a;
    OxConst c;
    if (const_new(n->im, &c, EL_INT, big->c.rank, big->c.shape) < 0)
        return -1;
    for (long i = 0; i < c.n; i++) {
        long ia = a->c.n == 1 ? 0 : i, ib = b->c.n == 1 ? 0 : i;
        int eq;
        if (c.n && a->c.el == EL_F32) {
            eq = ((float *)a->c.data)[ia] == ((float *)b->c.data)[ib];
        } else {
            OxDim x = ((OxDim *)a->c.data)[ia], y = ((OxDim *)b->c.data)[ib];
            if (!dim_eq(x, y) && !(dim_known(x) && dim_known(y))) {
                ox_err(n->im, n->k, "it compares sizes that the input leaves open");
                return -1;
            }
            eq = dim_eq(x, y);
        }
        ((OxDim *)c.data)[i] = dim_const(eq);
    }
    if (r) {
        r->kind = VK_CONST;
        r->c = c;
    }
    return 0;
}

/* ---- data: Transpose, Squeeze, Unsqueeze, Reshape, Flatten, Gather, Slice, Concat ----- */

int ox_op_transpose(const OxNode *n, int unused)
{
    (void)unused;
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
static int reaxis(const OxNode *n, const OxVal *x, OxVal *r, int rank, const int *from)
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

int ox_op_unsqueeze(const OxNode *n, int unused)
{
    (void)unused;
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
        int a = ox_norm_axis(n, ax[i], rout, "axis");
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

int ox_op_squeeze(const OxNode *n, int unused)
{
    (void)unused;
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
        int a = ox_norm_axis(n, ax[i], rin, "axis");
        if (a < 0)
            return -1;
        if (!squeezable(x, a)) {
            ox_err(n->im, n->k, "it squeezes axis %d, which is not of size 1 (%s)", a,
                   x->kind == VK_SYM ? ox_axis_name(n->im, x->y.ax[a]) : "a constant");
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
static int reshape_sym(const OxNode *n, const OxVal *x, OxVal *r, int rout, const OxDim *t)
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
    if (ox_sym_axis(&o, AX_F) < 0)
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
static int reshape_to(const OxNode *n, const OxVal *x, int rout, OxDim *t, int allowzero)
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

static int reshape_any(const OxNode *n, const OxVal *x, OxVal *r, int rout, OxDim *t)
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
        if (!dim_known(t[j]) || t[j].c < 0 || t[j].c > (1L << 31))
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

int ox_op_reshape(const OxNode *n, int unused)
{
    (void)unused;
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

int ox_op_flatten(const OxNode *n, int unused)
{
    (void)unused;
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    int rin = rank_of(x);
    long a = attr_int(n, "axis", 1);
    int ax = a == rin ? rin : ox_norm_axis(n, a, rin, "axis");
    if (ax < 0)
        return -1;
    OxDim t[2] = {dim_const(1), dim_const(1)};
    for (int i = 0; i < rin; i++)
        t[i >= ax] = dim_mul(t[i >= ax], dim_of(x, i));
    /* a leading or trailing 1 is a unit axis; the rest must be matched */
    return r ? reshape_any(n, x, r, 2, t) : 0;
}

/* Marks the features of every entry as read at one step of the sequence. */
static int select_time(const OxNode *n, OxSym *y, OxTime tm)
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

static int gather_sym(const OxNode *n, const OxVal *x, OxVal *r, int ax, const OxVal *ind)
{
    OxImp *im = n->im;
    long idx[64];
    int ni = const_ints(n, ind, "indices", idx, 64);
    if (ni < 0)
        return -1;
    int scalar = ind->c.rank == 0;
    if (ni == 0) {
        ox_err(im, n->k, "its indices are empty");
        return -1;
    }
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
               ox_axis_name(im, k));
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
    if (ox_sym_axis(y, AX_S) < 0 && y->nent != 1)
        goto rank;
    return 0;
rank:
    ox_err(im, n->k, "its indices must be one integer or a list of them");
    return -1;
}

int ox_op_gather(const OxNode *n, int unused)
{
    (void)unused;
    const OxVal *x = arg(n, 0), *ind = arg(n, 1);
    OxVal *r = res(n, 0);
    int rank = rank_of(x);
    int ax = ox_norm_axis(n, attr_int(n, "axis", 0), rank, "axis");
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
    st = st > (1L << 40) ? (1L << 40) : st < -(1L << 40) ? -(1L << 40) : st;
    if (s < 0)
        s += dn;
    if (e < 0)
        e += dn;
    if (st > 0) {
        s = s < 0 ? 0 : s > dn ? dn : s;
        e = e < 0 ? 0 : e > dn ? dn : e;
        *count = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
        s = s < 0 ? 0 : s > dn - 1 ? dn - 1 : s;
        e = e < -1 ? -1 : e > dn - 1 ? dn - 1 : e;
        *count = s > e ? (s - e - 1) / (-st) + 1 : 0;
    }
    *first = s;
    return 0;
}

static int slice_sym_axis(const OxNode *n, OxSym *y, int ax, long s, long e, long st)
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
           ox_axis_name(im, k), s, e, st);
    return -1;
}

int ox_op_slice(const OxNode *n, int unused)
{
    (void)unused;
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
        int a = ox_norm_axis(n, axl[i], rank, "axis");
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
        step[a] = count[a] > 1 ? sp[i] : 1; /* |step| < the size then */
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

static int concat_sym(const OxNode *n, OxVal *r, int ax)
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
        if (k == AX_U && ox_sym_axis(&o, AX_S) >= 0)
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
           ox_axis_name(im, k));
    return -1;
}

int ox_op_concat(const OxNode *n, int unused)
{
    (void)unused;
    OxVal *r = res(n, 0);
    const OxVal *x0 = arg(n, 0);
    if (!x0) {
        ox_err(n->im, n->k, "it has no inputs");
        return -1;
    }
    int rank = rank_of(x0), nsym = 0, nsplat = 0;
    int ax = ox_norm_axis(n, attr_int(n, "axis", 0), rank, "axis");
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
            if (ox_as_splat(arg(n, j), j ? &b : &a) < 0 ||
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

int ox_op_identity(const OxNode *n, int unused)
{
    (void)unused;
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    if (n->nin > 2) {
        const OxVal *tm = arg(n, 2); /* Dropout's training_mode */
        OxSplat sp;
        if (tm && (ox_as_splat(tm, &sp) < 0 || sp.el != EL_INT || !dim_eq(sp.i, dim_const(0)))) {
            ox_err(n->im, n->k, "it is in training mode; rnnc import reads inference graphs");
            return -1;
        }
    }
    if (r)
        *r = (OxVal){x->kind, r->name, r->producer, NULL, x->c, x->s, x->y};
    return 0;
}
