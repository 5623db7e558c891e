/* onnx_shape.c — `rnnc import`, the values around the recurrent nodes: dimensions (sizes the
 * file leaves open stay symbolic), access to inputs and attributes, constants and runs of
 * features, and the operators on constants and shapes: Constant, Shape, ConstantOfShape,
 * Expand, Cast, Add/Sub/Mul/Div, Equal, Identity (and Dropout). The data's layout is tracked in
 * onnx_axes.c and onnx_select.c; onnx_ops.c makes layers and the head of it.
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

OxDim ox_dim_mul(OxDim a, OxDim b)
{
    if (dim_unknown(a) || dim_unknown(b) || huge(a.c) || huge(b.c) ||
        (b.c && (a.c > (1L << 40) / b.c || a.c < -(1L << 40) / b.c)) ||
        abs(a.e[0] + b.e[0]) > 64 || abs(a.e[1] + b.e[1]) > 64)
        return DIM_UNKNOWN;
    return (OxDim){a.c * b.c, {a.e[0] + b.e[0], a.e[1] + b.e[1]}};
}

/* a / b when it divides exactly into a monomial, else unknown. */
OxDim ox_dim_div(OxDim a, OxDim b)
{
    if (dim_unknown(a) || dim_unknown(b) || a.c < 0 || b.c <= 0 || a.c % b.c || a.e[0] < b.e[0] ||
        a.e[1] < b.e[1])
        return DIM_UNKNOWN;
    return (OxDim){a.c / b.c, {a.e[0] - b.e[0], a.e[1] - b.e[1]}};
}

/* ---- access to inputs and attributes ---------------------------------------------------- */

/* Up to `max` ints of attribute `name` into v; their count, or -1 when absent. */
int ox_attr_ints(const OxNode *n, const char *name, long *v, int max)
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
int ox_const_ints(const OxNode *n, const OxVal *v, const char *what, long *out, int max)
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

int ox_norm_axis(const OxNode *n, long a, int rank, const char *what)
{
    if (a < -rank || a >= rank) {
        ox_err(n->im, n->k, "its %s %ld is out of range for rank %d", what, a, rank);
        return -1;
    }
    return (int)(a < 0 ? a + rank : a);
}

/* ---- values ----------------------------------------------------------------------------- */

/* A fresh constant of shape (rank, shape), its data allocated. */
int ox_const_new(OxImp *im, OxConst *c, OxElem el, int rank, const long *shape)
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
void ox_strided_copy(void *dst, const void *src, size_t esz, int rank, const long *shape, long off,
                     const long *step)
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

void ox_strides(const long *shape, int rank, long *st)
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
int ox_ent_slice(OxImp *im, const OxEntry *e, long off, long len, OxEntry *dst)
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
int ox_ent_cat(OxImp *im, const OxEntry *a, const OxEntry *b, OxEntry *dst)
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
    if (ox_const_new(n->im, &r->c, isf ? EL_F32 : EL_INT, islist, &cnt) < 0)
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
    if (ox_const_new(n->im, &r->c, EL_INT, 1, &cnt) < 0)
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
    if (ox_const_new(n->im, &r->c, el, x->c.rank, x->c.shape) < 0)
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
    if (ox_const_new(n->im, &c, a->c.el, big->c.rank, big->c.shape) < 0)
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
            z = ox_dim_mul(x, y);
        else if (opc == '/' && dim_known(x) && dim_known(y) && y.c && x.c != LONG_MIN)
            z = dim_const(x.c / y.c); /* ONNX integer Div truncates toward zero, like C */
        else if (opc == '/')
            z = ox_dim_div(x, y);
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
    if (ox_const_new(n->im, &c, EL_INT, big->c.rank, big->c.shape) < 0)
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
