/* onnx_ops.c — `rnnc import`, what the network's nodes mean: LSTM, GRU and RNN nodes become
 * layers (weights reordered into PyTorch's gates and split), Gemm or MatMul+Add with Softmax or
 * Sigmoid the head; any other use of the data is refused, naming the node. Also the table of
 * operators that ox_eval dispatches on (the shape operators are in onnx_shape.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "onnx_int.h"

/* ---- recurrent nodes -------------------------------------------------------------------- */

static int is_zero(const OxVal *v)
{
    OxSplat sp;
    return ox_as_splat(v, &sp) == 0 &&
           (sp.el == EL_F32 ? sp.f == 0.0f : dim_eq(sp.i, dim_const(0)));
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
static int check_acts(const OxNode *n, OxCell cell, int D, int *relu)
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
            if (s->len)
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
static int convert_weights(const OxNode *n, OxLayer *L, const OxConst *W, const OxConst *R,
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

static int weight_arg(const OxNode *n, int i, const char *what, int rank, const OxConst **c)
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

/* The node's attributes and optional inputs against what an rnnc layer is: fills L's node,
 * cell, D, scope, relu and reset_before, and *layout. What does not fit is reported (the
 * caller counts the errors); -1 only when the activations are not the cell's. */
static int rec_attrs(const OxNode *n, OxCell cell, OxLayer *L, long *layout)
{
    OxImp *im = n->im;
    char dir[32];
    ox_attr_str(n, "direction", "forward", dir, sizeof dir);
    int D = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
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
    *layout = attr_int(n, "layout", 0);
    if (*layout != 0 && *layout != 1)
        ox_err(im, n->k, "its layout %ld is not 0 or 1", *layout);
    L->node = n->k;
    L->cell = cell;
    L->D = D;
    L->scope = scope_of(im, ox_node_name(im, n->k));
    if (check_acts(n, cell, D, &L->relu) < 0)
        return -1;
    if (cell == OX_GRU)
        L->reset_before = attr_int(n, "linear_before_reset", 0) == 0;
    if (arg(n, 4))
        ox_err(im, n->k,
               "it takes sequence_lens; rnnc takes lengths at run time (--lengths) "
               "instead of from the graph");
    if ((arg(n, 5) && !is_zero(arg(n, 5))) ||
        (cell == OX_LSTM && arg(n, 6) && !is_zero(arg(n, 6))))
        ox_err(im, n->k, "its initial state is not zero; rnnc layers start from zero");
    if (cell == OX_LSTM && arg(n, 7))
        ox_err(im, n->k, "it has peephole weights (P), which PyTorch's LSTM and rnnc have not");
    return 0;
}

/* W, R and B (NULL when absent) against hidden_size and L->D: fills L's H, I and bias. */
static int rec_weights(const OxNode *n, OxLayer *L, const OxConst **W, const OxConst **R,
                       const OxConst **B)
{
    OxImp *im = n->im;
    if (weight_arg(n, 1, "input weights W", 3, W) < 0 ||
        weight_arg(n, 2, "recurrent weights R", 3, R) < 0 ||
        weight_arg(n, 3, "biases B", 2, B) < 0)
        return -1;
    const OxConst *w = *W, *r = *R, *b = *B;
    long D = L->D, G = cell_gates[L->cell], H = r->shape[2];
    long hs = attr_int(n, "hidden_size", H);
    if (hs < 1 || hs > OX_MAX_HIDDEN) {
        ox_err(im, n->k, "its hidden_size %ld is absurd (1 to %d)", hs, OX_MAX_HIDDEN);
        return -1;
    }
    if (H != hs) {
        ox_err(im, n->k, "its hidden_size %ld disagrees with its R, of shape (%ld, %ld, %ld)", hs,
               r->shape[0], r->shape[1], r->shape[2]);
        return -1;
    }
    L->H = (int)H;
    if (w->shape[0] != D || w->shape[1] != G * H || w->shape[2] < 1 || w->shape[2] > OX_MAX_SIZE ||
        r->shape[0] != D || r->shape[1] != G * H ||
        (b && (b->shape[0] != D || b->shape[1] != 2 * G * H))) {
        ox_err(im, n->k,
               "its weights' shapes W (%ld, %ld, %ld), R (%ld, %ld, %ld)%s do not fit "
               "%d direction%s of %ld gates of hidden_size %ld",
               w->shape[0], w->shape[1], w->shape[2], r->shape[0], r->shape[1], r->shape[2],
               b ? " and B" : "", L->D, L->D > 1 ? "s" : "", G, H);
        return -1;
    }
    L->I = (int)w->shape[2];
    L->bias = b != NULL;
    return 0;
}

/* The input: the graph input (layer 0) or the previous layer's output, at every step, as
 * (T, B, features) with layout 0 or (B, T, features) with 1; binds time and batch to the
 * input's axes (*ba: the batch axis). Also refuses a layer past the limit or after the head. */
static int rec_input(const OxNode *n, const OxLayer *L, long layout, OxAxis *ba)
{
    OxImp *im = n->im;
    const OxVal *x = arg(n, 0);
    if (!x || x->kind != VK_SYM || x->y.rank != 3 || x->y.ax[2] != AX_F || x->y.ax[0] > AX_IN1 ||
        x->y.ax[1] > AX_IN1 || x->y.ax[0] == x->y.ax[1]) {
        ox_err(im, n->k, "its input is not the %s sequence (time, batch, features)",
               x && x->kind == VK_SYM ? "network's" : "data, a");
        return -1;
    }
    OxAxis ta = x->y.ax[layout ? 1 : 0];
    *ba = x->y.ax[layout ? 0 : 1];
    if (im->bind[ta] == -1) {
        im->bind[ta] = 0, im->bind[*ba] = 1;
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
    if (x->y.n[2].c != L->I) {
        ox_err(im, n->k, "its W takes %d features but its input has %ld", L->I, x->y.n[2].c);
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
    return 0;
}

/* The outputs of layer l (L): Y (T, D, B, H) [layout 1: (B, T, D, H)], Y_h and Y_c (D, B, H)
 * [(B, D, H)], each entry of the D axis one direction's states. */
static int rec_outputs(const OxNode *n, const OxLayer *L, int l, long layout, OxAxis ba)
{
    const OxVal *x = arg(n, 0);
    int D = L->D;
    long H = L->H;
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
        y.ent = ox_alloc(n->im, sizeof(OxEntry) * 2);
        OxSeg *s = ox_alloc(n->im, sizeof(OxSeg) * 2);
        if (!y.ent || !s)
            return -1;
        for (int d = 0; d < D; d++) {
            s[d] = (OxSeg){o == 2 ? SRC_C : SRC_H, l, d, o == 0 ? TM_SEQ : TM_FINAL, 0, H};
            y.ent[d] = (OxEntry){1, &s[d]};
        }
        if (o == 2 && L->cell != OX_LSTM)
            continue;
        r->kind = VK_SYM;
        r->y = y;
    }
    return 0;
}

/* An LSTM, GRU or RNN node: the next layer, its weights in PyTorch's gate order. */
static int op_recurrent(const OxNode *n, OxCell cell)
{
    OxImp *im = n->im;
    int e0 = im->nerr;
    OxLayer L = {0};
    long layout;
    const OxConst *W, *R, *B;
    OxAxis ba;
    if (rec_attrs(n, cell, &L, &layout) < 0 || rec_weights(n, &L, &W, &R, &B) < 0 ||
        rec_input(n, &L, layout, &ba) < 0)
        return -1;
    if (im->nerr > e0 || convert_weights(n, &L, W, R, B) < 0)
        return -1;
    int l = im->nlayer;
    im->layer[im->nlayer++] = L;
    return rec_outputs(n, &L, l, layout, ba);
}

/* ---- the head --------------------------------------------------------------------------- */

/* The head's input must be the top layer's output, at every step or its final states. */
static int head_input(const OxNode *n, const OxVal *x, OxTime *tm)
{
    OxImp *im = n->im;
    if (im->head.state != HS_NONE) {
        ox_err(im, n->k, "it is a second linear layer; an rnnc model has one head");
        return -1;
    }
    int l = im->nlayer - 1, f = ox_sym_axis(&x->y, AX_F);
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

static int set_head_out(const OxNode *n, const OxVal *x, long O)
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
static int op_linear(const OxNode *n, int gemm)
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
static int op_add(const OxNode *n, int unused)
{
    (void)unused;
    OxImp *im = n->im;
    const OxVal *a = arg(n, 0), *b = arg(n, 1);
    if (a && b && a->kind != VK_SYM && b->kind != VK_SYM)
        return ox_op_arith(n, '+');
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

static int op_activation(const OxNode *n, int act)
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
        int r = x->y.rank, f = ox_sym_axis(&x->y, AX_F);
        long axis = attr_int(n, "axis", im->opset >= 13 ? -1 : 1);
        int a = ox_norm_axis(n, axis, r, "axis");
        if (a < 0)
            return -1;
        if (a != f || (im->opset < 13 && f != r - 1)) {
            ox_err(im, n->k, "it normalises over the %s axis, not the head's outputs",
                   ox_axis_name(im, x->y.ax[a]));
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

/* ---- If: PyTorch's squeeze of a dimension it cannot see ---------------------------------- */

/* If with a constant condition: the chosen branch's nodes run as if in the graph. */
static int op_if(const OxNode *n, int unused)
{
    (void)unused;
    OxImp *im = n->im;
    const OxVal *c = arg(n, 0);
    OxSplat sp;
    if (n->k >= im->nmain) {
        ox_err(im, n->k, "it is an If inside an If's branch");
        return -1;
    }
    if (ox_as_splat(c, &sp) < 0 || (sp.el == EL_INT && !dim_known(sp.i))) {
        ox_err(im, n->k, "its condition is not a constant rnnc import can compute");
        return -1;
    }
    int cond = sp.el == EL_INT ? sp.i.c != 0 : sp.f != 0.0f;
    const OxBranch *br = &im->br[2 * n->k + (cond ? 0 : 1)];
    if (br->nout != n->nout) {
        ox_err(im, n->k, "its %s branch has %d outputs, the node %d", cond ? "then" : "else",
               br->nout, n->nout);
        return -1;
    }
    for (int q = br->first; q < br->first + br->count; q++)
        if (ox_run(im, q) < 0)
            return -1;
    for (int j = 0; j < n->nout; j++) {
        OxVal *r = res(n, j);
        const OxVal *v = br->out[j] >= 0 ? &im->val[br->out[j]] : NULL;
        if (!r)
            continue;
        if (!v || v->kind == VK_NONE || v->kind == VK_BAD) {
            ox_err(im, n->k, "its %s branch does not compute its output %d",
                   cond ? "then" : "else", j);
            return -1;
        }
        *r = (OxVal){v->kind, r->name, r->producer, NULL, v->c, v->s, v->y};
    }
    return 0;
}

/* ---- dispatch --------------------------------------------------------------------------- */

typedef struct OpInfo {
    const char *name;
    int min_in; /* inputs that must be given */
    int (*fn)(const OxNode *n, int arg);
    int arg;
} OpInfo;

static int op_recurrent_(const OxNode *n, int a)
{
    return op_recurrent(n, (OxCell)a);
}

static const OpInfo ops[] = {
    {"Constant", 0, ox_op_constant, 0},
    {"Shape", 1, ox_op_shape, 0},
    {"ConstantOfShape", 1, ox_op_constant_of_shape, 0},
    {"Expand", 2, ox_op_expand, 0},
    {"Cast", 1, ox_op_cast, 0},
    {"Identity", 1, ox_op_identity, 0},
    {"Dropout", 1, ox_op_identity, 0},
    {"Transpose", 1, ox_op_transpose, 0},
    {"Unsqueeze", 1, ox_op_unsqueeze, 0},
    {"Squeeze", 1, ox_op_squeeze, 0},
    {"Reshape", 2, ox_op_reshape, 0},
    {"Flatten", 1, ox_op_flatten, 0},
    {"Gather", 2, ox_op_gather, 0},
    {"Slice", 1, ox_op_slice, 0},
    {"Concat", 1, ox_op_concat, 0},
    {"Add", 2, op_add, 0},
    {"Sub", 2, ox_op_arith, '-'},
    {"Mul", 2, ox_op_arith, '*'},
    {"Div", 2, ox_op_arith, '/'},
    {"Equal", 2, ox_op_equal, 0},
    {"If", 1, op_if, 0},
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
    const Onnx__NodeProto *p = im->node[k];
    if (p->domain && *p->domain && strcmp(p->domain, "ai.onnx") != 0)
        return 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (p->op_type && strcmp(p->op_type, ops[i].name) == 0)
            return 1;
    return 0;
}

int ox_eval(OxImp *im, int k, const int *in, int nin, const int *out, int nout)
{
    const Onnx__NodeProto *p = im->node[k];
    OxNode n = {im, k, in, out, nin, nout};
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
