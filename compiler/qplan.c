/* qplan.c — the plan stage's part for quantised deployment: from a Plan and a mode, every
 * array deployed code stores in flash (name, element type, count), the tables it needs,
 * and the layouts of its state and work area, so that the emitter prints them and
 * `rnnc check` reports their sizes without weights. The formats are quant.h's.
 */
#include "quant.h"

#include <string.h>

static const char *const mode_names[] = {"none", "int8-weights", "int8", "int16"};

const char *quant_mode_name(QuantMode m)
{
    return mode_names[m];
}

int quant_mode_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, mode_names[i]) == 0)
            return i;
    return -1;
}

static long type_size(const QPlan *q, QType t, int real_size)
{
    switch (t) {
    case QT_I8:
        return 1;
    case QT_I16:
        return 2;
    case QT_I32:
        return 4;
    case QT_ACC:
        return q->acc_size;
    case QT_REAL:
        break;
    }
    return real_size;
}

/* Room for the arrays: at most 15 per layer-direction and 4 for the head. */
static void add(Arena *a, QPlan *q, int layer, const char *prefix, const char *sfx, QRole role,
                QType type, long n)
{
    QArray *r = &q->arrays[q->narrays++];
    r->name = arena_printf(a, "%s_%s", prefix, sfx);
    r->layer = layer;
    r->role = role;
    r->type = type;
    r->n = n;
}

/* Layer i's arrays: the weights, then the integer modes' folded biases and requantisation,
 * or int8-weights' scales and real biases. */
static void layer_arrays(Arena *a, QPlan *q, const Plan *p, int i)
{
    const PlanLayer *L = &p->layers[i];
    long GH = (long)L->G * L->H;
    int bias = L->block->bias,
        after = L->block->cell == CELL_GRU && L->block->reset == RESET_AFTER;
    const char *px = arena_printf(a, "%s_l%d%s", L->block->name, L->layer, L->dir ? "r" : "");
    if (!px)
        return;
    add(a, q, i, px, "wx", QR_WX, QT_I8, GH * L->I);
    add(a, q, i, px, "wh", QR_WH, QT_I8, GH * L->Hr);
    if (L->P)
        add(a, q, i, px, "wr", QR_WR, QT_I8, (long)L->P * L->H);
    if (!q->integer) {
        add(a, q, i, px, "sx", QR_SX, QT_REAL, GH);
        add(a, q, i, px, "sh", QR_SH, QT_REAL, GH);
        if (L->P)
            add(a, q, i, px, "sr", QR_SR, QT_REAL, L->P);
        if (bias)
            add(a, q, i, px, "b", QR_B, QT_REAL, GH);
        if (bias && after)
            add(a, q, i, px, "bhn", QR_BHN, QT_REAL, L->H);
        return;
    }
    if (bias)
        add(a, q, i, px, "bx", QR_BX, QT_ACC, GH);
    if (bias && after)
        add(a, q, i, px, "bh", QR_BH, QT_ACC, L->H);
    add(a, q, i, px, "mx", QR_MX, QT_I32, GH);
    add(a, q, i, px, "ex", QR_EX, QT_I8, GH);
    add(a, q, i, px, "mh", QR_MH, QT_I32, GH);
    add(a, q, i, px, "eh", QR_EH, QT_I8, GH);
    if (L->P) {
        add(a, q, i, px, "mr", QR_MR, QT_I32, L->P);
        add(a, q, i, px, "er", QR_ER, QT_I8, L->P);
    }
}

static void head_arrays(Arena *a, QPlan *q, const Head *h)
{
    long O = h->out_features;
    add(a, q, -1, "head", "w", QR_HW, QT_I8, O * h->in_features);
    if (!q->integer) {
        add(a, q, -1, "head", "s", QR_HS, QT_REAL, O);
        if (h->bias)
            add(a, q, -1, "head", "b", QR_HB, QT_REAL, O);
        return;
    }
    if (h->bias)
        add(a, q, -1, "head", "bq", QR_HBQ, QT_ACC, O);
    add(a, q, -1, "head", "m", QR_HM, QT_I32, O);
    add(a, q, -1, "head", "e", QR_HE, QT_I8, O);
}

/* A struct member of n elements of `size` bytes at *at, aligned to its size. */
static void member(long *at, long *align, long n, long size)
{
    if (n <= 0)
        return;
    *at = (*at + size - 1) / size * size + n * size;
    if (size > *align)
        *align = size;
}

static long struct_end(long at, long align)
{
    return (at + align - 1) / align * align;
}

/* The groups (a block's layer, both directions) and where each hands its output. */
static int groups(Arena *a, QPlan *q, const Plan *p)
{
    const Net *net = p->net;
    for (int i = 0; i < p->nlayers; i++)
        q->ngroups += p->layers[i].dir == 0;
    q->group_layer = arena_alloc(a, (size_t)q->ngroups * sizeof *q->group_layer);
    q->group_out = arena_alloc(a, (size_t)q->ngroups * sizeof *q->group_out);
    if (!q->group_layer || !q->group_out)
        return -1;
    int g = 0, nbuf = 0;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir)
            continue;
        QOut out = QOUT_BUF;
        if (L->top && L->last_layer)
            out = !net->head.present             ? QOUT_Y
                  : net->head.input == HEAD_LAST ? QOUT_LAST
                                                 : QOUT_BUF;
        q->group_layer[g] = i;
        q->group_out[g++] = out;
        if (out == QOUT_BUF) {
            nbuf++;
            if ((long)L->block->dirs * L->Hr > q->buf_width)
                q->buf_width = (long)L->block->dirs * L->Hr;
        }
    }
    q->nbuf = nbuf < 2 ? nbuf : 2;
    return 0;
}

/* The sizes: flash (arrays, tables), state and work. */
static void sizes(QPlan *q, const Plan *p)
{
    const Net *net = p->net;
    int rs = p->real_size;
    for (int k = 0; k < q->narrays; k++)
        q->array_bytes += q->arrays[k].n * type_size(q, q->arrays[k].type, rs);
    q->table_bytes = 514L * (q->use_sigmoid + q->use_tanh + q->use_exp);
    q->flash_bytes = q->array_bytes + q->table_bytes;
    long at = 0, align = 1, max_c = 0;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        member(&at, &align, L->Hr, q->act_size);
        if (L->G == 4) {
            member(&at, &align, L->H, q->cell_size);
            max_c = L->H > max_c ? L->H : max_c;
        }
    }
    q->state_bytes = struct_end(at, align);
    q->work_c = max_c;
    q->work_h = p->max_hr;
    q->work_hlast =
        net->head.present && net->head.input == HEAD_LAST ? (long)p->top_dirs * p->top_hr : 0;
    at = 0, align = 1;
    member(&at, &align, q->work_c, q->cell_size);
    member(&at, &align, q->work_h, q->act_size);
    member(&at, &align, q->work_hlast, q->act_size);
    member(&at, &align, q->nbuf * (long)net->max_seq_len * q->buf_width, q->act_size);
    q->work_bytes = struct_end(at, align);
}

QPlan *qplan_build(Arena *a, const Plan *p, QuantMode mode)
{
    const Net *net = p->net;
    QPlan *q = arena_alloc(a, sizeof *q);
    if (!q)
        return NULL;
    q->mode = mode;
    q->integer = mode == QUANT_INT8 || mode == QUANT_INT16;
    q->bits = mode == QUANT_INT16 ? 16 : 8;
    q->qmax = mode == QUANT_INT16 ? 32767 : 127;
    q->act_size = !q->integer ? p->real_size : q->bits / 8;
    q->cell_size = q->integer ? 2 : p->real_size;
    q->acc_size = mode == QUANT_INT16 ? 8 : 4;
    q->arrays = arena_alloc(a, (size_t)(15 * p->nlayers + 4) * sizeof *q->arrays);
    if (!q->arrays)
        return NULL;
    for (int i = 0; i < p->nlayers; i++) {
        const Block *b = p->layers[i].block;
        layer_arrays(a, q, p, i);
        if (q->integer && b->cell != CELL_RNN)
            q->use_sigmoid = q->use_tanh = 1;
        if (q->integer && b->cell == CELL_RNN && b->nonlin == NONLIN_TANH)
            q->use_tanh = 1;
    }
    if (net->head.present) {
        head_arrays(a, q, &net->head);
        q->use_sigmoid |= q->integer && net->head.activation == ACT_SIGMOID;
        q->use_exp = q->integer && net->head.activation == ACT_SOFTMAX;
    }
    for (int k = 0; k < q->narrays; k++)
        if (!q->arrays[k].name)
            return NULL;
    if (groups(a, q, p) < 0)
        return NULL;
    sizes(q, p);
    return q;
}

const QArray *qplan_array(const QPlan *q, int layer, QRole role)
{
    for (int k = 0; k < q->narrays; k++)
        if (q->arrays[k].layer == layer && q->arrays[k].role == role)
            return &q->arrays[k];
    return NULL;
}
