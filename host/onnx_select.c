/* onnx_select.c — `rnnc import`, the operators that pick or join elements: Gather, Slice and
 * Concat, on constants and splats, and on the data where they pick a step (the last, the
 * first: what a head reads), directions or layers of a stack, or runs of features.
 */
#include <string.h>

#include "onnx_int.h"

/* ---- data: Gather, Slice, Concat -------------------------------------------------------- */

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
    int ni = ox_const_ints(n, ind, "indices", idx, 64);
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
    if (ox_const_new(n->im, &c, x->c.el, rout, shape) < 0)
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

/* ONNX Slice bounds on an axis of size dn: first index and count; -1 for a bad step or
 * size. Starts and ends past +-2^41 (INT64_MAX, "to the end", among them) are clamped there
 * first, which with dn at most 2^40 changes no result and keeps s + dn from overflowing. */
static int slice_bounds(long s, long e, long st, long dn, long *first, long *count)
{
    const long far = 1L << 41;
    if (st == 0 || dn < 0 || dn > (1L << 40))
        return -1;
    st = st > (1L << 40) ? (1L << 40) : st < -(1L << 40) ? -(1L << 40) : st;
    s = s > far ? far : s < -far ? -far : s;
    e = e > far ? far : e < -far ? -far : e;
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
            if (ox_ent_slice(im, &y->ent[i], first, count, &ent[i]) < 0)
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
        ns = ox_const_ints(n, arg(n, 1), "starts", st, OX_MAXR);
        ne = ox_const_ints(n, arg(n, 2), "ends", en, OX_MAXR);
        na = arg(n, 3) ? ox_const_ints(n, arg(n, 3), "axes", axl, OX_MAXR) : -1;
        nst = arg(n, 4) ? ox_const_ints(n, arg(n, 4), "steps", sp, OX_MAXR) : -1;
        if (ns < 0 || ne < 0 || (arg(n, 3) && na < 0) || (arg(n, 4) && nst < 0))
            return -1;
    } else {
        ns = ox_attr_ints(n, "starts", st, OX_MAXR);
        ne = ox_attr_ints(n, "ends", en, OX_MAXR);
        na = ox_attr_ints(n, "axes", axl, OX_MAXR);
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
    ox_strides(x->c.shape, rank, st2);
    for (int i = 0; i < rank; i++) {
        off += first[i] * st2[i];
        step[i] *= st2[i];
    }
    if (ox_const_new(n->im, &r->c, x->c.el, rank, count) < 0)
        return -1;
    if (r->c.n)
        ox_strided_copy(r->c.data, x->c.data, esize(x->c.el), rank, count, off, step);
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
                if (ox_ent_cat(im, &e[s], &x->y.ent[s], &e[s]) < 0)
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
    if (ox_const_new(n->im, &c, x0->c.el, rank, shape) < 0)
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
