/* onnx_axes.c — `rnnc import`, the operators that rearrange the data's axes without picking
 * elements: Transpose, Unsqueeze, Squeeze, Reshape and Flatten, on constants, splats and the
 * data (whose axes stay time, batch, a stack of entries or features, merged or split only
 * where that keeps them apart).
 */
#include <string.h>

#include "onnx_int.h"

/* ---- data: Transpose, Squeeze, Unsqueeze, Reshape, Flatten ---------------------------------- */

/* The axis list of a node (attribute before `opset_input`, input `idx` from then on). */
static int axes_of(const OxNode *n, int opset_input, int idx, long *ax, int max)
{
    if (n->im->opset >= opset_input) {
        const OxVal *v = arg(n, idx);
        if (!v)
            return -1;
        return ox_const_ints(n, v, "axes", ax, max) < 0 ? -2 : (int)v->c.n;
    }
    return ox_attr_ints(n, "axes", ax, max);
}

int ox_op_transpose(const OxNode *n, int unused)
{
    (void)unused;
    const OxVal *x = arg(n, 0);
    OxVal *r = res(n, 0);
    int rank = rank_of(x);
    long perm[OX_MAXR];
    int np = ox_attr_ints(n, "perm", perm, OX_MAXR);
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
        ox_strides(x->c.shape, rank, st);
        for (int i = 0; i < rank; i++)
            shape[i] = x->c.shape[perm[i]], step[i] = st[perm[i]];
        if (ox_const_new(n->im, &r->c, x->c.el, rank, shape) < 0)
            return -1;
        ox_strided_copy(r->c.data, x->c.data, esize(x->c.el), rank, shape, 0, step);
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
                   dim_eq(ox_dim_mul(a, dim_of(x, i + 1)), t[j])) {
            OxEntry *e = ox_alloc(im, sizeof(OxEntry));
            if (!e)
                return -1;
            *e = y->ent[0];
            for (int k = 1; k < y->nent; k++)
                if (ox_ent_cat(im, e, &y->ent[k], e) < 0)
                    return -1;
            o.nent = 1, o.ent = e;
            o.ax[j] = AX_F, o.n[j] = t[j];
            i += 2, j++;
        } else if (i < y->rank && j + 1 < rout && y->ax[i] == AX_F && y->nent == 1 &&
                   dim_known(t[j]) && t[j].c > 1 && t[j].c <= 1024 &&
                   dim_eq(ox_dim_mul(t[j], t[j + 1]), a)) {
            long k = t[j].c, w = t[j + 1].c;
            OxEntry *e = ox_alloc(im, sizeof(OxEntry) * (size_t)k);
            if (!e)
                return -1;
            for (long s = 0; s < k; s++)
                if (ox_ent_slice(im, &y->ent[0], s * w, w, &e[s]) < 0)
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
        prod_in = ox_dim_mul(prod_in, dim_of(x, i));
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
        prod_out = ox_dim_mul(prod_out, t[j]);
    }
    if (infer >= 0) {
        t[infer] = ox_dim_div(prod_in, prod_out);
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
        if (!dim_known(t[j]) || t[j].c < 0 || t[j].c > (1L << 31) ||
            (t[j].c && cnt > (1L << 30) / t[j].c)) /* constants hold at most 2^30 */
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
        t[i >= ax] = ox_dim_mul(t[i >= ax], dim_of(x, i));
    /* a leading or trailing 1 is a unit axis; the rest must be matched */
    return r ? reshape_any(n, x, r, 2, t) : 0;
}
