/* onednn.c — oneDNN's side of the benchmark (see onednn.h): one RNN primitive per layer
 * (oneDNN stacks layers in one primitive only when the input width equals the hidden width),
 * weights in the layout the primitive asks for (format any, reordered once; in training
 * reordered after every update, as a framework must), the head and SGD in plain C.
 */
#define _POSIX_C_SOURCE 200809L
#include "onednn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

/* A memory object over a buffer of ours (64-byte aligned) in a given layout. */
typedef struct Mem {
    dnnl_memory_desc_t md;
    dnnl_memory_t m;
    float *p;
    size_t n; /* floats */
} Mem;

/* One layer (both directions when D = 2): the user-layout weights (ldigo, ldgo) are the
 * master copy the update writes; wl/wi are the forward primitive's layout, bwl/bwi the
 * backward's, dwl/dwi the gradients in the backward's layout, gwl/gwi them in ldigo. */
typedef struct Layer {
    int I;
    dnnl_primitive_desc_t fpd, bpd;
    dnnl_primitive_t fwd, bwd;
    Mem uwl, uwi, bias, wl, wi, src_iter, src_iter_c, dst, dst_iter, dst_iter_c, ws;
    Mem bwl, bwi, dwl, dwi, dbias, gwl, gwi, dsrc, dsrc_iter, dsrc_iter_c, ddst, ddst_iter,
        ddst_iter_c;
    dnnl_primitive_t r_wl, r_wi, r_bwl, r_bwi, r_dwl, r_dwi; /* reorders, NULL when none */
} Layer;

struct Dnn {
    DnnCfg c;
    int G, nb; /* gates; bias rows (G, or 4 for lbr_gru) */
    dnnl_engine_t eng;
    dnnl_stream_t s;
    Mem src;
    Layer *l;
    char impl[160];
    float *hw, *hb, *dhw, *dhb; /* the head (O, H), (O); its gradients */
    float *logits, *dh;         /* (B, O); dL/dh_T (B, D*H) */
    int bwd_ready;              /* the backward's weight layouts filled once */
};

static void *alloc64(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p)
        memset(p, 0, n ? n : 64);
    return p;
}

#define OK(call)                                                                                  \
    do {                                                                                          \
        dnnl_status_t st_ = (call);                                                               \
        if (st_ != dnnl_success) {                                                                \
            snprintf(err, n, "oneDNN: %s failed (status %d)", #call, (int)st_);                   \
            return -1;                                                                            \
        }                                                                                         \
    } while (0)

/* A memory object for md over a fresh zeroed buffer. */
static int mem_make(Dnn *d, Mem *m, const dnnl_memory_desc_t *md, char *err, size_t n)
{
    m->md = *md;
    size_t bytes = dnnl_memory_desc_get_size(md);
    m->n = bytes / sizeof(float);
    m->p = alloc64(bytes);
    if (!m->p) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    OK(dnnl_memory_create(&m->m, md, d->eng, m->p));
    return 0;
}

static int mem_tag(Dnn *d, Mem *m, int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag,
                   char *err, size_t n)
{
    dnnl_memory_desc_t md;
    OK(dnnl_memory_desc_init_by_tag(&md, nd, dims, dnnl_f32, tag));
    return mem_make(d, m, &md, err, n);
}

static void mem_free(Mem *m)
{
    if (m->m)
        dnnl_memory_destroy(m->m);
    free(m->p);
}

/* A reorder from a to b, or NULL when they share a layout (then b aliases nothing: the
 * caller uses a). */
static int reorder_make(Dnn *d, dnnl_primitive_t *r, const Mem *a, const Mem *b, char *err,
                        size_t n)
{
    *r = NULL;
    if (dnnl_memory_desc_equal(&a->md, &b->md))
        return 0;
    dnnl_primitive_desc_t pd;
    OK(dnnl_reorder_primitive_desc_create(&pd, &a->md, d->eng, &b->md, d->eng, NULL));
    OK(dnnl_primitive_create(r, pd));
    dnnl_primitive_desc_destroy(pd);
    return 0;
}

static void reorder_run(Dnn *d, dnnl_primitive_t r, const Mem *a, const Mem *b)
{
    if (!r)
        return;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->m}, {DNNL_ARG_TO, b->m}};
    dnnl_primitive_execute(r, d->s, 2, args);
    dnnl_stream_wait(d->s);
}

/* oneDNN's gate k from PyTorch's: GRU (u, r, o) from (r, z, n); others the same order. */
static int torch_gate(const Dnn *d, int k)
{
    if (strcmp(d->c.cell, "gru") == 0 && k < 2)
        return 1 - k;
    return k;
}

/* Floats of one layer-direction's PyTorch tensors. */
static long torch_layer_size(const Dnn *d, int I)
{
    long GH = (long)d->G * d->c.H;
    return GH * I + GH * d->c.H + 2 * GH;
}

/* PyTorch's params into layer li's user weights (ldigo: [dir][in][gate][out]) and bias. */
static void load_layer(Dnn *d, int li, const float *p)
{
    Layer *L = &d->l[li];
    int H = d->c.H, G = d->G, D = d->c.D;
    long GH = (long)G * H;
    for (int dir = 0; dir < D; dir++) {
        const float *wih = p + torch_layer_size(d, L->I) * dir, *whh = wih + GH * L->I;
        const float *bih = whh + GH * H, *bhh = bih + GH;
        for (int k = 0; k < G; k++) {
            int tg = torch_gate(d, k);
            for (int o = 0; o < H; o++) {
                long row = (long)tg * H + o;
                for (int i = 0; i < L->I; i++)
                    L->uwl.p[(((long)dir * L->I + i) * G + k) * H + o] = wih[row * L->I + i];
                for (int i = 0; i < H; i++)
                    L->uwi.p[(((long)dir * H + i) * G + k) * H + o] = whh[row * H + i];
                float *b = L->bias.p + (long)dir * d->nb * H;
                if (d->nb == G + 1 && k == 2) { /* lbr_gru: b_ih_n, and b_hh_n as u' */
                    b[2L * H + o] = bih[row];
                    b[3L * H + o] = bhh[row];
                } else {
                    b[(long)k * H + o] = bih[row] + bhh[row];
                }
            }
        }
    }
}

/* The forward (inference or training) descriptor of layer li. */
static dnnl_status_t rnn_fwd_desc(Dnn *d, dnnl_rnn_desc_t *rd, dnnl_prop_kind_t prop,
                                  const dnnl_memory_desc_t *src, Layer *L,
                                  const dnnl_memory_desc_t *wl, const dnnl_memory_desc_t *wi)
{
    dnnl_rnn_direction_t dir =
        d->c.D == 2 ? dnnl_bidirectional_concat : dnnl_unidirectional_left2right;
    if (strcmp(d->c.cell, "lstm") == 0)
        return dnnl_lstm_forward_desc_init(rd, prop, dir, src, &L->src_iter.md, &L->src_iter_c.md,
                                           wl, wi, &L->bias.md, &L->dst.md, &L->dst_iter.md,
                                           &L->dst_iter_c.md, 0);
    if (strcmp(d->c.cell, "gru") == 0)
        return dnnl_lbr_gru_forward_desc_init(rd, prop, dir, src, &L->src_iter.md, wl, wi,
                                              &L->bias.md, &L->dst.md, &L->dst_iter.md, 0);
    return dnnl_vanilla_rnn_forward_desc_init(rd, prop, dnnl_eltwise_tanh, dir, src,
                                              &L->src_iter.md, wl, wi, &L->bias.md, &L->dst.md,
                                              &L->dst_iter.md, 0, 0.f, 0.f);
}

static dnnl_status_t rnn_bwd_desc(Dnn *d, dnnl_rnn_desc_t *rd, const dnnl_memory_desc_t *src,
                                  Layer *L, const dnnl_memory_desc_t *any_l,
                                  const dnnl_memory_desc_t *any_i)
{
    if (strcmp(d->c.cell, "lstm") != 0)
        return dnnl_unimplemented; /* T1 is an LSTM */
    dnnl_rnn_direction_t dir =
        d->c.D == 2 ? dnnl_bidirectional_concat : dnnl_unidirectional_left2right;
    return dnnl_lstm_backward_desc_init(
        rd, dnnl_backward, dir, src, &L->src_iter.md, &L->src_iter_c.md, any_l, any_i, &L->bias.md,
        &L->dst.md, &L->dst_iter.md, &L->dst_iter_c.md, src, &L->src_iter.md, &L->src_iter_c.md,
        any_l, any_i, &L->bias.md, &L->dst.md, &L->dst_iter.md, &L->dst_iter_c.md, 0);
}

static const dnnl_memory_desc_t *arg_md(dnnl_primitive_desc_t pd, int arg)
{
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* Layer li's backward primitive and its buffers (training). */
static int layer_backward(Dnn *d, Layer *L, const dnnl_memory_desc_t *src, char *err, size_t n)
{
    dnnl_memory_desc_t any_l, any_i;
    dnnl_dims_t wld = {1, d->c.D, L->I, d->G, d->c.H}, wid = {1, d->c.D, d->c.H, d->G, d->c.H};
    OK(dnnl_memory_desc_init_by_tag(&any_l, 5, wld, dnnl_f32, dnnl_format_tag_any));
    OK(dnnl_memory_desc_init_by_tag(&any_i, 5, wid, dnnl_f32, dnnl_format_tag_any));
    dnnl_rnn_desc_t rd;
    OK(rnn_bwd_desc(d, &rd, src, L, &any_l, &any_i));
    OK(dnnl_primitive_desc_create(&L->bpd, &rd, NULL, d->eng, L->fpd));
    OK(dnnl_primitive_create(&L->bwd, L->bpd));
    if (mem_make(d, &L->bwl, arg_md(L->bpd, DNNL_ARG_WEIGHTS_LAYER), err, n) < 0 ||
        mem_make(d, &L->bwi, arg_md(L->bpd, DNNL_ARG_WEIGHTS_ITER), err, n) < 0 ||
        mem_make(d, &L->dwl, arg_md(L->bpd, DNNL_ARG_DIFF_WEIGHTS_LAYER), err, n) < 0 ||
        mem_make(d, &L->dwi, arg_md(L->bpd, DNNL_ARG_DIFF_WEIGHTS_ITER), err, n) < 0 ||
        mem_make(d, &L->gwl, &L->uwl.md, err, n) < 0 ||
        mem_make(d, &L->gwi, &L->uwi.md, err, n) < 0 ||
        mem_make(d, &L->dbias, &L->bias.md, err, n) < 0 ||
        mem_make(d, &L->dsrc, src, err, n) < 0 ||
        mem_make(d, &L->dsrc_iter, &L->src_iter.md, err, n) < 0 ||
        mem_make(d, &L->dsrc_iter_c, &L->src_iter_c.md, err, n) < 0 ||
        mem_make(d, &L->ddst, &L->dst.md, err, n) < 0 ||
        mem_make(d, &L->ddst_iter, &L->dst_iter.md, err, n) < 0 ||
        mem_make(d, &L->ddst_iter_c, &L->dst_iter_c.md, err, n) < 0)
        return -1;
    if (reorder_make(d, &L->r_bwl, &L->uwl, &L->bwl, err, n) < 0 ||
        reorder_make(d, &L->r_bwi, &L->uwi, &L->bwi, err, n) < 0 ||
        reorder_make(d, &L->r_dwl, &L->dwl, &L->gwl, err, n) < 0 ||
        reorder_make(d, &L->r_dwi, &L->dwi, &L->gwi, err, n) < 0)
        return -1;
    return 0;
}

/* Layer li: its buffers, its forward primitive (and backward when training), the weights
 * loaded from p and reordered. */
static int layer_make(Dnn *d, int li, const float *p, const dnnl_memory_desc_t *src, char *err,
                      size_t n)
{
    Layer *L = &d->l[li];
    const DnnCfg *c = &d->c;
    int D = c->D, H = c->H, G = d->G;
    dnnl_dims_t wld = {1, D, L->I, G, H}, wid = {1, D, H, G, H}, bd = {1, D, d->nb, H};
    dnnl_dims_t itd = {1, D, c->B, H}, dstd = {c->T, c->B, D * H};
    if (mem_tag(d, &L->uwl, 5, wld, dnnl_ldigo, err, n) < 0 ||
        mem_tag(d, &L->uwi, 5, wid, dnnl_ldigo, err, n) < 0 ||
        mem_tag(d, &L->bias, 4, bd, dnnl_ldgo, err, n) < 0 ||
        mem_tag(d, &L->src_iter, 4, itd, dnnl_ldnc, err, n) < 0 ||
        mem_tag(d, &L->src_iter_c, 4, itd, dnnl_ldnc, err, n) < 0 ||
        mem_tag(d, &L->dst, 3, dstd, dnnl_tnc, err, n) < 0 ||
        mem_tag(d, &L->dst_iter, 4, itd, dnnl_ldnc, err, n) < 0 ||
        mem_tag(d, &L->dst_iter_c, 4, itd, dnnl_ldnc, err, n) < 0)
        return -1;
    load_layer(d, li, p);
    dnnl_memory_desc_t any_l, any_i;
    OK(dnnl_memory_desc_init_by_tag(&any_l, 5, wld, dnnl_f32, dnnl_format_tag_any));
    OK(dnnl_memory_desc_init_by_tag(&any_i, 5, wid, dnnl_f32, dnnl_format_tag_any));
    dnnl_rnn_desc_t rd;
    OK(rnn_fwd_desc(d, &rd, c->train ? dnnl_forward_training : dnnl_forward_inference, src, L,
                    &any_l, &any_i));
    OK(dnnl_primitive_desc_create(&L->fpd, &rd, NULL, d->eng, NULL));
    OK(dnnl_primitive_create(&L->fwd, L->fpd));
    if (mem_make(d, &L->wl, arg_md(L->fpd, DNNL_ARG_WEIGHTS_LAYER), err, n) < 0 ||
        mem_make(d, &L->wi, arg_md(L->fpd, DNNL_ARG_WEIGHTS_ITER), err, n) < 0)
        return -1;
    if (c->train && mem_make(d, &L->ws, arg_md(L->fpd, DNNL_ARG_WORKSPACE), err, n) < 0)
        return -1;
    if (reorder_make(d, &L->r_wl, &L->uwl, &L->wl, err, n) < 0 ||
        reorder_make(d, &L->r_wi, &L->uwi, &L->wi, err, n) < 0)
        return -1;
    if (!L->r_wl)
        memcpy(L->wl.p, L->uwl.p, L->uwl.n * sizeof(float));
    if (!L->r_wi)
        memcpy(L->wi.p, L->uwi.p, L->uwi.n * sizeof(float));
    reorder_run(d, L->r_wl, &L->uwl, &L->wl);
    reorder_run(d, L->r_wi, &L->uwi, &L->wi);
    if (li == 0) { /* the one chosen, and every one oneDNN offers for the same descriptor */
        const char *s = NULL;
        dnnl_primitive_desc_query(L->fpd, dnnl_query_impl_info_str, 0, &s);
        int at = snprintf(d->impl, sizeof d->impl, "%s (offered:", s ? s : "?");
        char last[64] = "";
        dnnl_primitive_desc_iterator_t it;
        if (dnnl_primitive_desc_iterator_create(&it, &rd, NULL, d->eng, NULL) == dnnl_success) {
            do {
                dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
                const char *name = NULL;
                if (pd && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) ==
                              dnnl_success &&
                    strcmp(name, last) != 0 && at < (int)sizeof d->impl) {
                    at += snprintf(d->impl + at, sizeof d->impl - (size_t)at, " %s", name);
                    snprintf(last, sizeof last, "%s", name);
                }
                if (pd)
                    dnnl_primitive_desc_destroy(pd);
            } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
            dnnl_primitive_desc_iterator_destroy(it);
        }
        if (at < (int)sizeof d->impl)
            snprintf(d->impl + at, sizeof d->impl - (size_t)at, ")");
    }
    return c->train ? layer_backward(d, L, src, err, n) : 0;
}

Dnn *dnn_new(const DnnCfg *c, const float *params, char *err, size_t n)
{
    Dnn *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    d->c = *c;
    d->G = strcmp(c->cell, "lstm") == 0 ? 4 : strcmp(c->cell, "gru") == 0 ? 3 : 1;
    d->nb = strcmp(c->cell, "gru") == 0 ? 4 : d->G;
    d->l = calloc((size_t)c->L, sizeof *d->l);
    int ok = d->l && dnnl_engine_create(&d->eng, dnnl_cpu, 0) == dnnl_success &&
             dnnl_stream_create(&d->s, d->eng, dnnl_stream_default_flags) == dnnl_success;
    if (!ok) {
        snprintf(err, n, "oneDNN: no CPU engine");
        dnn_free(d);
        return NULL;
    }
    dnnl_dims_t sd = {c->T, c->B, c->I};
    if (mem_tag(d, &d->src, 3, sd, dnnl_tnc, err, n) < 0) {
        dnn_free(d);
        return NULL;
    }
    const float *p = params;
    for (int li = 0; li < c->L; li++) {
        d->l[li].I = li == 0 ? c->I : c->D * c->H;
        const dnnl_memory_desc_t *src = li == 0 ? &d->src.md : &d->l[li - 1].dst.md;
        if (layer_make(d, li, p, src, err, n) < 0) {
            dnn_free(d);
            return NULL;
        }
        p += torch_layer_size(d, d->l[li].I) * c->D;
    }
    if (c->train) {
        long OH = (long)c->O * c->D * c->H;
        d->hw = alloc64((size_t)OH * 4);
        d->hb = alloc64((size_t)c->O * 4);
        d->dhw = alloc64((size_t)OH * 4);
        d->dhb = alloc64((size_t)c->O * 4);
        d->logits = alloc64((size_t)c->B * c->O * 4);
        d->dh = alloc64((size_t)c->B * c->D * c->H * 4);
        if (!d->hw || !d->hb || !d->dhw || !d->dhb || !d->logits || !d->dh) {
            snprintf(err, n, "out of memory");
            dnn_free(d);
            return NULL;
        }
        memcpy(d->hw, p, (size_t)OH * 4);
        memcpy(d->hb, p + OH, (size_t)c->O * 4);
    }
    return d;
}

const char *dnn_impl(const Dnn *d)
{
    return d->impl;
}

const float *dnn_output(const Dnn *d)
{
    return d->l[d->c.L - 1].dst.p;
}

/* Forward through every layer; zero initial states (oneDNN 2.6 gives wrong recurrent-weight
 * gradients when src_iter is omitted, so it is always passed). */
static void forward_layers(Dnn *d)
{
    for (int li = 0; li < d->c.L; li++) {
        Layer *L = &d->l[li];
        const Mem *src = li == 0 ? &d->src : &d->l[li - 1].dst;
        dnnl_exec_arg_t a[10] = {
            {DNNL_ARG_SRC_LAYER, src->m},      {DNNL_ARG_SRC_ITER, L->src_iter.m},
            {DNNL_ARG_WEIGHTS_LAYER, L->wl.m}, {DNNL_ARG_WEIGHTS_ITER, L->wi.m},
            {DNNL_ARG_BIAS, L->bias.m},        {DNNL_ARG_DST_LAYER, L->dst.m},
            {DNNL_ARG_DST_ITER, L->dst_iter.m}};
        int na = 7;
        if (d->G == 4) {
            a[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC_ITER_C, L->src_iter_c.m};
            a[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST_ITER_C, L->dst_iter_c.m};
        }
        if (d->c.train)
            a[na++] = (dnnl_exec_arg_t){DNNL_ARG_WORKSPACE, L->ws.m};
        dnnl_primitive_execute(L->fwd, d->s, na, a);
    }
    dnnl_stream_wait(d->s);
}

void dnn_forward(Dnn *d, const float *x)
{
    memcpy(d->src.p, x, (size_t)d->c.T * d->c.B * d->c.I * sizeof(float));
    forward_layers(d);
}

/* The head on the top layer's last step, mean cross-entropy, and its gradients: dh (B, H)
 * = dL/dh_T, dhw, dhb. Returns the loss. */
static double head_step(Dnn *d, const long long *labels)
{
    const DnnCfg *c = &d->c;
    int B = c->B, H = c->D * c->H, O = c->O;
    const float *hT = dnn_output(d) + (long)(c->T - 1) * B * H;
    double loss = 0;
    memset(d->dhw, 0, (size_t)O * H * 4);
    memset(d->dhb, 0, (size_t)O * 4);
    memset(d->dh, 0, (size_t)B * H * 4);
    for (int b = 0; b < B; b++) {
        float *z = d->logits + (long)b * O, m = -INFINITY, s = 0;
        for (int o = 0; o < O; o++) {
            float v = d->hb[o];
            for (int k = 0; k < H; k++)
                v += d->hw[(long)o * H + k] * hT[(long)b * H + k];
            z[o] = v;
            m = v > m ? v : m;
        }
        for (int o = 0; o < O; o++)
            s += expf(z[o] - m);
        loss += (double)(logf(s) + m - z[labels[b]]);
        for (int o = 0; o < O; o++) {
            float g = (expf(z[o] - m) / s - (o == labels[b])) / (float)B;
            d->dhb[o] += g;
            for (int k = 0; k < H; k++) {
                d->dhw[(long)o * H + k] += g * hT[(long)b * H + k];
                d->dh[(long)b * H + k] += g * d->hw[(long)o * H + k];
            }
        }
    }
    return loss / B;
}

/* Backward through the layers, top first; dL/dh_T enters the top layer at step T-1. */
static void backward_layers(Dnn *d)
{
    const DnnCfg *c = &d->c;
    long BH = (long)c->B * c->D * c->H;
    for (int li = c->L - 1; li >= 0; li--) {
        Layer *L = &d->l[li];
        if (li == c->L - 1) {
            memset(L->ddst.p, 0, L->ddst.n * 4);
            memcpy(L->ddst.p + (long)(c->T - 1) * BH, d->dh, (size_t)BH * 4);
        } else {
            memcpy(L->ddst.p, d->l[li + 1].dsrc.p, L->ddst.n * 4);
        }
        memset(L->dwl.p, 0, L->dwl.n * 4); /* the backward accumulates */
        memset(L->dwi.p, 0, L->dwi.n * 4);
        memset(L->dbias.p, 0, L->dbias.n * 4);
        const Mem *src = li == 0 ? &d->src : &d->l[li - 1].dst;
        dnnl_exec_arg_t a[24] = {{DNNL_ARG_SRC_LAYER, src->m},
                                 {DNNL_ARG_SRC_ITER, L->src_iter.m},
                                 {DNNL_ARG_SRC_ITER_C, L->src_iter_c.m},
                                 {DNNL_ARG_WEIGHTS_LAYER, L->bwl.m},
                                 {DNNL_ARG_WEIGHTS_ITER, L->bwi.m},
                                 {DNNL_ARG_BIAS, L->bias.m},
                                 {DNNL_ARG_DST_LAYER, L->dst.m},
                                 {DNNL_ARG_DST_ITER, L->dst_iter.m},
                                 {DNNL_ARG_DST_ITER_C, L->dst_iter_c.m},
                                 {DNNL_ARG_DIFF_SRC_LAYER, L->dsrc.m},
                                 {DNNL_ARG_DIFF_SRC_ITER, L->dsrc_iter.m},
                                 {DNNL_ARG_DIFF_SRC_ITER_C, L->dsrc_iter_c.m},
                                 {DNNL_ARG_DIFF_WEIGHTS_LAYER, L->dwl.m},
                                 {DNNL_ARG_DIFF_WEIGHTS_ITER, L->dwi.m},
                                 {DNNL_ARG_DIFF_BIAS, L->dbias.m},
                                 {DNNL_ARG_DIFF_DST_LAYER, L->ddst.m},
                                 {DNNL_ARG_DIFF_DST_ITER, L->ddst_iter.m},
                                 {DNNL_ARG_DIFF_DST_ITER_C, L->ddst_iter_c.m},
                                 {DNNL_ARG_WORKSPACE, L->ws.m}};
        dnnl_primitive_execute(L->bwd, d->s, 19, a);
        dnnl_stream_wait(d->s);
        reorder_run(d, L->r_dwl, &L->dwl, &L->gwl);
        reorder_run(d, L->r_dwi, &L->dwi, &L->gwi);
    }
}

static void sgd(float *w, const float *g, size_t n, float lr)
{
    for (size_t i = 0; i < n; i++)
        w[i] -= lr * g[i];
}

/* The update on the master weights, then the layouts the primitives read. */
static void update(Dnn *d, float lr)
{
    for (int li = 0; li < d->c.L; li++) {
        Layer *L = &d->l[li];
        sgd(L->uwl.p, L->r_dwl ? L->gwl.p : L->dwl.p, L->uwl.n, lr);
        sgd(L->uwi.p, L->r_dwi ? L->gwi.p : L->dwi.p, L->uwi.n, lr);
        sgd(L->bias.p, L->dbias.p, L->bias.n, lr);
        Mem *fl = L->r_wl ? &L->wl : NULL, *fi = L->r_wi ? &L->wi : NULL;
        reorder_run(d, L->r_wl, &L->uwl, &L->wl);
        reorder_run(d, L->r_wi, &L->uwi, &L->wi);
        if (!fl)
            memcpy(L->wl.p, L->uwl.p, L->uwl.n * 4);
        if (!fi)
            memcpy(L->wi.p, L->uwi.p, L->uwi.n * 4);
        reorder_run(d, L->r_bwl, &L->uwl, &L->bwl);
        reorder_run(d, L->r_bwi, &L->uwi, &L->bwi);
        if (!L->r_bwl)
            memcpy(L->bwl.p, L->uwl.p, L->uwl.n * 4);
        if (!L->r_bwi)
            memcpy(L->bwi.p, L->uwi.p, L->uwi.n * 4);
    }
    sgd(d->hw, d->dhw, (size_t)d->c.O * d->c.D * d->c.H, lr);
    sgd(d->hb, d->dhb, (size_t)d->c.O, lr);
}

double dnn_train_step(Dnn *d, const float *x, const long long *labels, float lr)
{
    memcpy(d->src.p, x, (size_t)d->c.T * d->c.B * d->c.I * sizeof(float));
    if (!d->bwd_ready) { /* the backward's weight layouts, before the first step */
        for (int li = 0; li < d->c.L; li++) {
            Layer *L = &d->l[li];
            reorder_run(d, L->r_bwl, &L->uwl, &L->bwl);
            reorder_run(d, L->r_bwi, &L->uwi, &L->bwi);
            if (!L->r_bwl)
                memcpy(L->bwl.p, L->uwl.p, L->uwl.n * 4);
            if (!L->r_bwi)
                memcpy(L->bwi.p, L->uwi.p, L->uwi.n * 4);
        }
        d->bwd_ready = 1;
    }
    forward_layers(d);
    double loss = head_step(d, labels);
    backward_layers(d);
    update(d, lr);
    return loss;
}

void dnn_grads(const Dnn *d, float *dp)
{
    const DnnCfg *c = &d->c;
    int H = c->H, G = d->G, D = c->D;
    long GH = (long)G * H;
    float *p = dp;
    for (int li = 0; li < c->L; li++) {
        const Layer *L = &d->l[li];
        const float *gl = L->r_dwl ? L->gwl.p : L->dwl.p, *gi = L->r_dwi ? L->gwi.p : L->dwi.p;
        for (int dir = 0; dir < D; dir++) {
            float *wih = p, *whh = wih + GH * L->I, *bih = whh + GH * H, *bhh = bih + GH;
            for (int k = 0; k < G; k++) {
                int tg = torch_gate(d, k);
                for (int o = 0; o < H; o++) {
                    long row = (long)tg * H + o;
                    for (int i = 0; i < L->I; i++)
                        wih[row * L->I + i] = gl[(((long)dir * L->I + i) * G + k) * H + o];
                    for (int i = 0; i < H; i++)
                        whh[row * H + i] = gi[(((long)dir * H + i) * G + k) * H + o];
                    bih[row] = bhh[row] = L->dbias.p[(long)dir * d->nb * H + (long)k * H + o];
                }
            }
            p += torch_layer_size(d, L->I);
        }
    }
    memcpy(p, d->dhw, (size_t)c->O * H * D * 4);
    memcpy(p + (long)c->O * H * D, d->dhb, (size_t)c->O * 4);
}

static void layer_free(Layer *L)
{
    Mem *ms[] = {&L->uwl,         &L->uwi,        &L->bias,      &L->wl,         &L->wi,
                 &L->src_iter,    &L->src_iter_c, &L->dst,       &L->dst_iter,   &L->dst_iter_c,
                 &L->ws,          &L->bwl,        &L->bwi,       &L->dwl,        &L->dwi,
                 &L->dbias,       &L->gwl,        &L->gwi,       &L->dsrc,       &L->dsrc_iter,
                 &L->dsrc_iter_c, &L->ddst,       &L->ddst_iter, &L->ddst_iter_c};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        mem_free(ms[i]);
    dnnl_primitive_t ps[] = {L->fwd,   L->bwd,   L->r_wl,  L->r_wi,
                             L->r_bwl, L->r_bwi, L->r_dwl, L->r_dwi};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i])
            dnnl_primitive_destroy(ps[i]);
    if (L->fpd)
        dnnl_primitive_desc_destroy(L->fpd);
    if (L->bpd)
        dnnl_primitive_desc_destroy(L->bpd);
}

void dnn_free(Dnn *d)
{
    if (!d)
        return;
    for (int li = 0; d->l && li < d->c.L; li++)
        layer_free(&d->l[li]);
    free(d->l);
    mem_free(&d->src);
    free(d->hw);
    free(d->hb);
    free(d->dhw);
    free(d->dhb);
    free(d->logits);
    free(d->dh);
    if (d->s)
        dnnl_stream_destroy(d->s);
    if (d->eng)
        dnnl_engine_destroy(d->eng);
    free(d);
}
