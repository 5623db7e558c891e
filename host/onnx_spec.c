/* onnx_spec.c — `rnnc import`, the way out: checks that the walked graph's output is what an
 * rnnc model returns (settling batch_first), groups the layers into blocks and writes the spec
 * (YAML text) and the weights, named as PyTorch's state_dict, into an OnnxModel.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "onnx_int.h"

int ox_is_ident(const char *s)
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
    const char *base = want && ox_is_ident(want) ? want : fallback;
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

int ox_spec_build(OxImp *im, const char *name, OnnxModel *m)
{
    int batch_first, has_head;
    if (check_output(im, &batch_first, &has_head) < 0)
        return -1;
    return build(im, name, batch_first, has_head, m);
}
