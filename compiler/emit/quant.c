/* quant.c (emit) — quantised deployed code (deploy.quantize): the header with the mode's
 * types and scales, the flash arrays of qplan.c's table filled from the QuantModel, one
 * qlayer descriptor per layer-direction, each group's sequence driver, the whole-sequence
 * forward over a fixed work area, the streaming step and the self-test. The cells and the
 * head are qcell.c's; the fixed helpers templates/quant.c's (and prelude.c's for reals).
 */
#include <stdio.h>
#include <string.h>

#include "emit_int.h"
#include "qemit.h"

static const char *type_name(const QPlan *q, QType t)
{
    static const char *const names[] = {"signed char", "short", "int", "acc", "real"};
    (void)q;
    return names[t];
}

/* Element k of array a: a real (returns 1, *r) or an integer (returns 0, *v). */
static int value(const QuantModel *qm, const QArray *a, long k, double *r, long long *v)
{
    const QuantLayer *L = a->layer >= 0 ? &qm->layers[a->layer] : NULL;
    const QuantHead *h = &qm->head;
    const signed char *c8 = NULL;
    const double *d = NULL;
    const long long *ll = NULL;
    const int *i32 = NULL;
    switch (a->role) {
    case QR_WX:
        c8 = L->wx;
        break;
    case QR_WH:
        c8 = L->wh;
        break;
    case QR_WR:
        c8 = L->wr;
        break;
    case QR_SX:
        d = L->sx;
        break;
    case QR_SH:
        d = L->sh;
        break;
    case QR_SR:
        d = L->sr;
        break;
    case QR_B:
        d = L->b;
        break;
    case QR_BHN:
        d = L->bhn;
        break;
    case QR_BX:
        ll = L->bx;
        break;
    case QR_BH:
        ll = L->bh;
        break;
    case QR_MX:
        i32 = L->mx;
        break;
    case QR_EX:
        i32 = L->ex;
        break;
    case QR_MH:
        i32 = L->mh;
        break;
    case QR_EH:
        i32 = L->eh;
        break;
    case QR_MR:
        i32 = L->mr;
        break;
    case QR_ER:
        i32 = L->er;
        break;
    case QR_HW:
        c8 = h->w;
        break;
    case QR_HS:
        d = h->s;
        break;
    case QR_HB:
        d = h->b;
        break;
    case QR_HBQ:
        ll = h->bq;
        break;
    case QR_HM:
        i32 = h->m;
        break;
    case QR_HE:
        i32 = h->e;
        break;
    }
    if (d) {
        *r = d[k];
        return 1;
    }
    *v = c8 ? c8[k] : ll ? ll[k] : i32[k];
    return 0;
}

static const char *role_doc(QRole r)
{
    switch (r) {
    case QR_WX:
        return "W_ih, int8 rows";
    case QR_WH:
        return "W_hh, int8 rows";
    case QR_WR:
        return "W_hr, int8 rows";
    case QR_SX:
    case QR_SH:
    case QR_SR:
    case QR_HS:
        return "a scale per row: W = q * s";
    case QR_B:
        return "b_ih + b_hh (b_ih alone for a GRU's n)";
    case QR_BHN:
        return "b_hn";
    case QR_BX:
    case QR_HBQ:
        return "the bias in units of the accumulator";
    case QR_BH:
        return "b_hn in units of the accumulator";
    case QR_MX:
    case QR_MH:
    case QR_MR:
    case QR_HM:
        return "requantisation multipliers m";
    case QR_EX:
    case QR_EH:
    case QR_ER:
    case QR_HE:
        return "and shifts e: v * m / 2^e";
    case QR_HW:
        return "the head's W, int8 rows";
    case QR_HB:
        return "the head's bias";
    }
    return "";
}

/* Appends `v` and a comma to a line of values, starting a new line past 96 columns. */
static void put_value(Emitter *e, int *col, const char *v)
{
    Sb *sb = e->sb;
    int n = (int)strlen(v) + 2, ind = sb->indent + 4;
    if (*col && *col + n > 96) {
        sb_puts(sb, "\n");
        *col = 0;
    }
    if (!*col) {
        sb_printf(sb, "%*s%s,", ind, "", v);
        *col = ind + n - 1;
    } else {
        sb_printf(sb, " %s,", v);
        *col += n;
    }
}

/* One flash array, as many values a line as fit. */
static void em_qarray(Emitter *e, const QuantModel *qm, const QArray *a)
{
    Sb *sb = e->sb;
    double r;
    long long v;
    int col = 0;
    char buf[32];
    sb_line(sb, "static const %s %s[%ld] = { /* %s */", type_name(qm->qp, a->type), a->name, a->n,
            role_doc(a->role));
    for (long k = 0; k < a->n; k++) {
        if (value(qm, a, k, &r, &v)) {
            put_value(e, &col, em_lit(e, r));
        } else {
            snprintf(buf, sizeof buf, "%lld", v);
            put_value(e, &col, buf);
        }
    }
    if (col)
        sb_puts(sb, "\n");
    sb_line(sb, "};");
}

/* Which qlayer members some layer uses. */
typedef struct Members {
    int wr, bx, bh, b, bhn, cf;
} Members;

static Members members(const Plan *p, const QPlan *q)
{
    Members m = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        m.wr |= L->P > 0;
        m.cf |= q->integer && L->G == 4;
        m.bx |= q->integer && qplan_array(q, i, QR_BX) != NULL;
        m.bh |= q->integer && qplan_array(q, i, QR_BH) != NULL;
        m.b |= !q->integer && qplan_array(q, i, QR_B) != NULL;
        m.bhn |= !q->integer && qplan_array(q, i, QR_BHN) != NULL;
    }
    return m;
}

/* The qlayer type: the members some layer uses. */
static void em_qlayer_type(Emitter *e, const QPlan *q, Members m)
{
    Sb *sb = e->sb;
    sb_line(sb, "/* One layer-direction's weights in flash: int8 rows (G*H, I), (G*H, Hr)%s, and",
            m.wr ? ", (P, H)" : "");
    if (q->integer) {
        sb_line(sb,
                " * per row the requantisation v * m / 2^e of the input (x) and recurrent (h)");
        sb_line(sb, " * products%s. */", m.wr ? " and of the projection (r)" : "");
    } else {
        sb_line(sb, " * per row their scale (W = q * s)%s. */",
                m.b ? ", then the real biases" : "");
    }
    sb_line(sb, "typedef struct qlayer {");
    sb_line(sb, "    const signed char *wx, *wh%s;", m.wr ? ", *wr" : "");
    if (q->integer) {
        if (m.bx || m.bh)
            sb_line(sb, "    const acc %s%s%s;", m.bx ? "*bx" : "", m.bx && m.bh ? ", " : "",
                    m.bh ? "*bh" : "");
        sb_line(sb, "    const int *mx, *mh%s;", m.wr ? ", *mr" : "");
        sb_line(sb, "    const signed char *ex, *eh%s;", m.wr ? ", *er" : "");
        if (m.cf)
            sb_line(sb, "    int cf; /* an LSTM's cell state: Q(15-cf).cf */");
    } else {
        sb_line(sb, "    const real *sx, *sh%s;", m.wr ? ", *sr" : "");
        if (m.b || m.bhn)
            sb_line(sb, "    const real %s%s%s;", m.b ? "*b" : "", m.b && m.bhn ? ", " : "",
                    m.bhn ? "*bhn" : "");
    }
    sb_line(sb, "} qlayer;");
    sb_line(sb, "%s", "");
}

/* `static const qlayer <block>_l<layer>[r] = {...};` naming its arrays. */
static void em_qlayer(Emitter *e, const QuantModel *qm, int i, Members m)
{
    const QPlan *q = qm->qp;
    Sb *sb = e->sb;
    static const struct {
        QRole role;
        const char *member;
    } fields[] = {{QR_WX, "wx"}, {QR_WH, "wh"}, {QR_WR, "wr"}, {QR_BX, "bx"},
                  {QR_BH, "bh"}, {QR_MX, "mx"}, {QR_MH, "mh"}, {QR_MR, "mr"},
                  {QR_EX, "ex"}, {QR_EH, "eh"}, {QR_ER, "er"}, {QR_SX, "sx"},
                  {QR_SH, "sh"}, {QR_SR, "sr"}, {QR_B, "b"},   {QR_BHN, "bhn"}};
    const PlanLayer *L = &e->p->layers[i];
    sb_line(sb, "static const qlayer %s_l%d%s = {", L->block->name, L->layer, L->dir ? "r" : "");
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        const QArray *a = qplan_array(q, i, fields[k].role);
        if (a)
            sb_line(sb, "    .%s = %s,", fields[k].member, a->name);
    }
    if (m.cf && L->G == 4)
        sb_line(sb, "    .cf = %d,", qm->layers[i].cfrac);
    sb_line(sb, "};");
}

static void em_flash(Emitter *e, const EmitQuant *eq)
{
    const QuantModel *qm = eq->qm;
    const QPlan *q = qm->qp;
    const Plan *p = e->p;
    Sb *sb = e->sb;
    sb_line(sb, "/* The weights of %s, quantised (%s): %ld bytes in %d arrays. */",
            eq->weights_name, quant_mode_name(q->mode), q->array_bytes, q->narrays);
    for (int k = 0; k < q->narrays; k++)
        em_qarray(e, qm, &q->arrays[k]);
    sb_line(sb, "%s", "");
    Members m = members(p, q);
    em_qlayer_type(e, q, m);
    for (int i = 0; i < p->nlayers; i++)
        em_qlayer(e, qm, i, m);
    sb_line(sb, "%s", "");
}

/* <fn>_seq: group L's layer over a sequence, one direction. */
static void em_qseq(Emitter *e, const QPlan *q, const PlanLayer *L)
{
    Sb *sb = e->sb;
    const char *A = q->integer ? "act" : "real", *C = q->integer ? "short" : "real";
    int lstm = L->G == 4;
    long W = (long)L->block->dirs * L->Hr;
    sb_line(sb, "/* %s layer %d over a sequence, one direction: x (T, %d) in, y (T, %ld) out from",
            L->block->name, L->layer, L->I, W);
    sb_line(sb, " * its first column (NULL: only the final state, left in h); from the last step");
    sb_line(sb, " * back when reverse. */");
    sb_line(sb, "%sstatic void %s_seq(const qlayer *w, const %s *x, %s *y,", e->fn, L->fn, A, A);
    sb_line(sb, "    int T, int reverse, %s *h%s%s%s)", A, lstm ? ", " : "", lstm ? C : "",
            lstm ? " *c" : "");
    sb_line(sb, "{");
    sb_line(sb, "    for (int k = 0; k < %d; k++)", L->Hr);
    sb_line(sb, "        h[k] = 0;");
    if (lstm) {
        sb_line(sb, "    for (int k = 0; k < %d; k++)", L->H);
        sb_line(sb, "        c[k] = 0;");
    }
    sb_line(sb, "    for (int s = 0; s < T; s++) {");
    sb_line(sb, "        const int t = reverse ? T - 1 - s : s;");
    sb_line(sb, "        %s_cell(w, x + t * %d, h%s);", L->fn, L->I, lstm ? ", c" : "");
    sb_line(sb, "        if (y)");
    sb_line(sb, "            for (int k = 0; k < %d; k++)", L->Hr);
    sb_line(sb, "                y[t * %ld + k] = h[k];", W);
    sb_line(sb, "    }");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* run(): the network over one sequence, its buffers passed in (so that the self-test
 * runs on a small stack); <name>_forward: run() on the work area. */
static void em_qforward(Emitter *e, const QPlan *q)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const char *A = q->integer ? "act" : "real", *C = q->integer ? "short" : "real";
    char N[80];
    em_upper(N, net->name, sizeof N);
    sb_line(sb,
            "/* RNNC_PROBE(group, values, n): a hook after each layer, nothing unless defined");
    sb_line(sb, " * where this file is compiled (rnnc's calibration report reads each layer). */");
    sb_line(sb, "#ifndef RNNC_PROBE");
    sb_line(sb, "#define RNNC_PROBE(group, values, n)");
    sb_line(sb, "#endif");
    sb_line(sb, "%s", "");
    sb_line(sb, "/* x (T, %d) through every layer and the head into y; c, h, hlast, b0 and b1 as",
            net->input_size);
    sb_line(sb, " * %s_work's members (NULL where it has none). */", net->name);
    sb_line(sb, "%sstatic void run(const %s *x, int T, %s *y, %s *c, %s *h, %s *hlast, %s *b0,",
            e->fn, A, A, C, A, A, A);
    sb_line(sb, "    %s *b1)", A);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "%s *buf[2] = {b0, b1};", A);
    sb_line(sb, "(void)c, (void)hlast, (void)buf;");
    const char *in = "x";
    char inb[32];
    int nb = 0;
    long in_w = net->input_size;
    for (int g = 0; g < q->ngroups; g++) {
        const PlanLayer *L = &p->layers[q->group_layer[g]];
        QOut out = q->group_out[g];
        long W = (long)L->block->dirs * L->Hr;
        char dst[32];
        snprintf(dst, sizeof dst, "%s", out == QOUT_Y ? "y" : out == QOUT_LAST ? "0" : "");
        if (out == QOUT_BUF)
            snprintf(dst, sizeof dst, "buf[%d]", nb);
        sb_line(sb, "/* %s layer %d */", L->block->name, L->layer);
        for (int d = 0; d < L->block->dirs; d++) {
            char y[48];
            snprintf(y, sizeof y, out == QOUT_LAST ? "0" : d ? "%s + %d" : "%s", dst, L->Hr);
            sb_line(sb, "%s_seq(&%s_l%d%s, %s, %s, T, %d, h%s);", L->fn, L->block->name, L->layer,
                    d ? "r" : "", in, y, d, L->G == 4 ? ", c" : "");
            if (out == QOUT_LAST) {
                sb_line(sb, "for (int k = 0; k < %d; k++)", L->Hr);
                sb_line(sb, "    hlast[%d + k] = h[k];", d * L->Hr);
            }
        }
        if (out == QOUT_LAST)
            sb_line(sb, "RNNC_PROBE(%d, hlast, %ld);", g, W);
        else
            sb_line(sb, "RNNC_PROBE(%d, %s, (long)T * %ld);", g, dst, W);
        if (out == QOUT_BUF) {
            snprintf(inb, sizeof inb, "buf[%d]", nb);
            in = inb;
            in_w = W;
            nb = (nb + 1) % 2;
        }
    }
    if (net->head.present && net->head.input == HEAD_LAST) {
        sb_line(sb, "head_apply(hlast, y);");
    } else if (net->head.present) {
        sb_line(sb, "for (int t = 0; t < T; t++)");
        sb_line(sb, "    head_apply(%s + t * %ld, y + t * %d);", in, in_w, net->head.out_features);
    }
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
    sb_line(sb, "%sint %s_forward(const %s *x, int T, %s *y, %s_work *work)", e->fn, net->name, A,
            A, net->name);
    sb_line(sb, "{");
    sb_line(sb, "    if (T < 1 || T > %s_MAX_SEQ_LEN)", N);
    sb_line(sb, "        return -1;");
    sb_line(sb, "    run(x, T, y, %s, work->h, %s, %s, %s);", q->work_c ? "work->c" : "0",
            q->work_hlast ? "work->hlast" : "0", q->nbuf ? "work->buf[0]" : "0",
            q->nbuf > 1 ? "work->buf[1]" : "0");
    sb_line(sb, "    return 0;");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

static void em_qstep(Emitter *e, const QPlan *q)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const char *A = q->integer ? "act" : "real";
    sb_line(sb, "%svoid %s_reset(%s_state *s)", e->fn, net->name, net->name);
    sb_line(sb, "{");
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        sb_line(sb, "    for (int k = 0; k < %d; k++)", L->Hr);
        sb_line(sb, "        s->%s_l%d_h[k] = 0;", L->block->name, L->layer);
        if (L->G == 4) {
            sb_line(sb, "    for (int k = 0; k < %d; k++)", L->H);
            sb_line(sb, "        s->%s_l%d_c[k] = 0;", L->block->name, L->layer);
        }
    }
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
    sb_line(sb, "%svoid %s_step(%s_state *s, const %s *x, %s *y)", e->fn, net->name, net->name, A,
            A);
    sb_line(sb, "{");
    char in[96] = "x";
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        char c[96] = "";
        if (L->G == 4)
            snprintf(c, sizeof c, ", s->%s_l%d_c", L->block->name, L->layer);
        sb_line(sb, "    %s_cell(&%s_l%d, %s, s->%s_l%d_h%s);", L->fn, L->block->name, L->layer,
                in, L->block->name, L->layer, c);
        snprintf(in, sizeof in, "s->%s_l%d_h", L->block->name, L->layer);
    }
    if (net->head.present) {
        sb_line(sb, "    head_apply(%s, y);", in);
    } else {
        sb_line(sb, "    for (int k = 0; k < %d; k++)", net->out_size);
        sb_line(sb, "        y[k] = %s[k];", in);
    }
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* `static const T name[n] = {...}` of golden values: activations of the mode. */
static void em_golden(Emitter *e, const QPlan *q, const char *name, const void *v, long n)
{
    Sb *sb = e->sb;
    int col = 0;
    char buf[32];
    sb_line(sb, "static const %s %s[%ld] = {", q->integer ? "act" : "real", name, n);
    for (long k = 0; k < n; k++) {
        if (q->integer) {
            snprintf(buf, sizeof buf, "%d",
                     q->bits == 8 ? ((const signed char *)v)[k] : ((const short *)v)[k]);
            put_value(e, &col, buf);
        } else {
            put_value(e, &col,
                      em_lit(e, e->p->net->dbl ? ((const double *)v)[k] : ((const float *)v)[k]));
        }
    }
    if (col)
        sb_puts(sb, "\n");
    sb_line(sb, "};");
}

static void em_differs(Emitter *e, const QPlan *q)
{
    Sb *sb = e->sb;
    int dbl = e->p->net->dbl;
    if (q->integer) {
        sb_line(sb,
                "/* Integer code gives the same bits everywhere: any difference is a fault. */");
        sb_line(sb, "%sstatic int differs(const act *got, const act *want, int n)", e->fn);
        sb_line(sb, "{");
        sb_line(sb, "    for (int i = 0; i < n; i++)");
        sb_line(sb, "        if (got[i] != want[i])");
        sb_line(sb, "            return 1;");
        sb_line(sb, "    return 0;");
        sb_line(sb, "}");
        sb_line(sb, "%s", "");
        return;
    }
    sb_line(sb, "/* Whether got differs from want by more than another compiler, FPU or libm");
    sb_line(sb, " * could explain; a wrong gate order, layout or flag goes far beyond. */");
    sb_line(sb, "%sstatic int differs(const real *got, const real *want, int n)", e->fn);
    sb_line(sb, "{");
    sb_line(sb, "    for (int i = 0; i < n; i++) {");
    sb_line(sb, "        const real d = got[i] - want[i], a = want[i] < 0 ? -want[i] : want[i];");
    sb_line(sb, "        const real tol = %s + %s * a;", em_lit(e, dbl ? 1e-10 : 1e-5),
            em_lit(e, dbl ? 1e-9 : 1e-4));
    sb_line(sb, "        if (!(d <= tol && -d <= tol))");
    sb_line(sb, "            return 1;");
    sb_line(sb, "    }");
    sb_line(sb, "    return 0;");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

static void em_qselftest(Emitter *e, const EmitQuant *eq)
{
    const QPlan *q = eq->qm->qp;
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long T = eq->test_T, I = net->input_size, O = net->out_size, ny = (per_step ? T : 1) * O;
    const char *A = q->integer ? "act" : "real", *C = q->integer ? "short" : "real";
    em_differs(e, q);
    sb_line(sb, "%sint %s_selftest(void)", e->fn, net->name);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "/* a sequence of %ld steps, and the output rnnc computed for it through this", T);
    sb_line(sb, " * same code */");
    em_golden(e, q, "x", eq->test_x, T * I);
    em_golden(e, q, "want", eq->test_y, ny);
    sb_line(sb, "%s y[%ld];", A, ny);
    if (q->work_c)
        sb_line(sb, "%s c[%ld];", C, q->work_c);
    sb_line(sb, "%s h[%ld];", A, q->work_h);
    if (q->work_hlast)
        sb_line(sb, "%s hlast[%ld];", A, q->work_hlast);
    if (q->nbuf)
        sb_line(sb, "%s buf[%d][%ld];", A, q->nbuf, T * q->buf_width);
    sb_line(sb, "run(x, %ld, y, %s, h, %s, %s, %s);", T, q->work_c ? "c" : "0",
            q->work_hlast ? "hlast" : "0", q->nbuf ? "buf[0]" : "0", q->nbuf > 1 ? "buf[1]" : "0");
    sb_line(sb, "if (differs(y, want, %ld))", ny);
    sb_line(sb, "    return 1;");
    if (p->can_stream)
        em_selftest_stream(e, T, I, O, per_step);
    sb_line(sb, "return 0;");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

/* The lines of the header's banner that say what the mode is and how big. */
static void em_qbanner(Emitter *e, const EmitQuant *eq, const char *N)
{
    const QPlan *q = eq->qm->qp;
    const Net *net = e->p->net;
    Sb *sb = e->sb;
    const char *n = net->name;
    if (q->integer) {
        sb_line(sb, " * %s: fully integer, no float instruction: %s inputs, outputs and state,",
                quant_mode_name(q->mode), q->bits == 8 ? "int8" : "int16");
        sb_line(sb, " * int8 weights with a scale per row, %s accumulators, int16 gates (Q3.12",
                q->acc_size == 4 ? "int32" : "int64");
        sb_line(sb,
                " * in, Q0.15 out, sigmoid and tanh by table) and cell state. Real values are");
        sb_line(sb, " * q * SCALE: x = q * %s_INPUT_SCALE,", N);
        sb_line(sb, " * y = q * %s_OUTPUT_SCALE; quantise an input as", N);
        sb_line(sb, " * round(x / %s_INPUT_SCALE) clamped to +-%d.", N, q->qmax);
    } else {
        sb_line(sb, " * int8-weights: int8 weights with a scale per row (W = q * s); biases,");
        sb_line(sb, " * activations and state in %s.", net->dbl ? "float64" : "float32");
    }
    sb_line(sb, " *");
    sb_line(sb, " * Flash: %ld bytes (weights %ld, tables %ld). RAM: %ld bytes of state",
            q->flash_bytes, q->array_bytes, q->table_bytes, q->state_bytes);
    sb_line(sb, " *   (%s_state), %ld bytes of work area for %s_forward", n, q->work_bytes, n);
    sb_line(sb, " *   (%s_work).", n);
    sb_line(sb, " * %ld multiply-adds per step. No allocation, no I/O, no mutable global;",
            e->p->flops_per_step / 2);
    sb_line(sb, " * %s.",
            q->integer || net->math_builtin ? "no library function at all"
                                            : "calls only exp and tanh of libm");
}

static void em_qheader(Emitter *e, const EmitQuant *eq, const char *header_name)
{
    const QPlan *q = eq->qm->qp;
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const char *n = net->name;
    char N[80], T[96];
    em_upper(N, n, sizeof N);
    snprintf(T, sizeof T, "%s_%s", n, q->integer ? "q" : "real");
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    sb_line(sb, "/* %s - generated by rnnc from %s: do not edit.", header_name,
            em_base_name(net->file));
    sb_line(sb, " * Weights baked in from %s, quantised: %s.", eq->weights_name,
            quant_mode_name(q->mode));
    em_summary(e);
    sb_line(sb, " *");
    em_qbanner(e, eq, N);
    sb_line(sb, " *");
    if (p->can_stream) {
        sb_line(sb, " * Streaming, one sample in and one output out per call:");
        sb_line(sb, " *     %s_state s;                  // one per stream, owned by you", n);
        sb_line(sb, " *     %s_reset(&s);                // all zero: a fresh sequence", n);
        sb_line(sb, " *     %s x[%s_INPUT_SIZE], y[%s_OUTPUT_SIZE];", T, N, N);
        sb_line(sb, " *     while (next_sample(x))");
        sb_line(sb, " *         %s_step(&s, x, y);       // y: the output for this step", n);
    } else {
        sb_line(sb, " * A bidirectional stack cannot stream: there is no %s_step.", n);
    }
    sb_line(sb, " * A whole sequence of T <= %s_MAX_SEQ_LEN steps:", N);
    sb_line(sb, " *     static %s_work work;", n);
    sb_line(sb, " *     %s_forward(x, T, y, &work);   // x (T, %s_INPUT_SIZE)", n, N);
    sb_line(sb, " * On the target, once: %s_selftest() == 0.", n);
    em_header_open(e, N);
    sb_line(sb, "#define %s_INPUT_SIZE %d", N, net->input_size);
    sb_line(sb, "#define %s_OUTPUT_SIZE %d", N, net->out_size);
    sb_line(sb, "#define %s_OUTPUT_PER_STEP %d /* 1: forward's y is (T, OUTPUT_SIZE) */", N,
            per_step);
    sb_line(sb, "#define %s_MAX_SEQ_LEN %d", N, net->max_seq_len);
    sb_line(sb, "#define %s_STREAMING %d", N, p->can_stream);
    sb_line(sb, "#define %s_QUANTIZE \"%s\"", N, quant_mode_name(q->mode));
    sb_line(sb, "#define %s_FLASH_BYTES %ld", N, q->flash_bytes);
    sb_line(sb, "#define %s_STATE_BYTES %ld", N, q->state_bytes);
    sb_line(sb, "#define %s_WORK_BYTES %ld", N, q->work_bytes);
    sb_line(sb, "#define %s_MACS_PER_STEP %ld", N, p->flops_per_step / 2);
    if (q->integer) {
        sb_line(sb,
                "/* real = q * scale; constants for the caller, nothing here computes them */");
        sb_line(sb, "#define %s_INPUT_SCALE %.9g", N, eq->qm->s_x);
        sb_line(sb, "#define %s_OUTPUT_SCALE %.9g", N, eq->qm->s_y);
        sb_line(sb, "#define %s_QMAX %d", N, q->qmax);
        sb_line(sb, "%s", "");
        sb_line(sb, "typedef %s %s;", q->bits == 8 ? "signed char" : "short", T);
    } else {
        sb_line(sb, "%s", "");
        sb_line(sb, "typedef %s %s;", net->dbl ? "double" : "float", T);
    }
    sb_line(sb, "%s", "");
    const char *C = q->integer ? "short" : T;
    if (p->can_stream) {
        sb_line(sb, "/* The recurrent state of one stream: every layer's h (and c). */");
        sb_line(sb, "typedef struct %s_state {", n);
        for (int i = 0; i < p->nlayers; i++) {
            const PlanLayer *L = &p->layers[i];
            sb_line(sb, "    %s %s_l%d_h[%d];", T, L->block->name, L->layer, L->Hr);
            if (L->G == 4)
                sb_line(sb, "    %s %s_l%d_c[%d];", C, L->block->name, L->layer, L->H);
        }
        sb_line(sb, "} %s_state;", n);
        sb_line(sb, "%s", "");
    }
    sb_line(sb, "/* Work area of %s_forward: the running state and the layers' outputs. */", n);
    sb_line(sb, "typedef struct %s_work {", n);
    if (q->work_c)
        sb_line(sb, "    %s c[%ld];", C, q->work_c);
    sb_line(sb, "    %s h[%ld];", T, q->work_h);
    if (q->work_hlast)
        sb_line(sb, "    %s hlast[%ld];", T, q->work_hlast);
    if (q->nbuf)
        sb_line(sb, "    %s buf[%d][%ld];", T, q->nbuf, (long)net->max_seq_len * q->buf_width);
    sb_line(sb, "} %s_work;", n);
    sb_line(sb, "%s", "");
    if (p->can_stream) {
        sb_line(sb,
                "/* Starts a fresh sequence: zeroes the state (as does zero-initialising it). */");
        sb_line(sb, "void %s_reset(%s_state *s);", n, n);
        sb_line(sb, "%s", "");
        sb_line(sb, "/* One time step: x (INPUT_SIZE) in, y (OUTPUT_SIZE) out, the state in s;");
        sb_line(sb, " * step t gives what %s_forward gives for the sequence so far. */", n);
        sb_line(sb, "void %s_step(%s_state *s, const %s *x,", n, n, T);
        sb_line(sb, "    %s *y);", T);
        sb_line(sb, "%s", "");
    }
    sb_line(sb, "/* A whole sequence: x (T, INPUT_SIZE) in, y out: %s.",
            per_step ? "(T, OUTPUT_SIZE), every step" : "(OUTPUT_SIZE), after the last step");
    sb_line(sb, " * Returns 0, or -1 when T is outside 1..MAX_SEQ_LEN. */");
    sb_line(sb, "int %s_forward(const %s *x, int T, %s *y,", n, T, T);
    sb_line(sb, "    %s_work *work);", n);
    sb_line(sb, "%s", "");
    if (eq->selftest) {
        sb_line(sb,
                "/* Runs a sequence rnnc computed at generation time through this code (whole");
        sb_line(sb, " * and, when streaming, step by step): 0 when the outputs match%s. */",
                q->integer ? " bit for bit" : "");
        sb_line(sb, "int %s_selftest(void);", n);
        sb_line(sb, "%s", "");
    }
    em_header_close(e, N);
}

/* The real-arithmetic helpers of int8-weights: exp, tanh and the activations. */
static void em_real_math(Emitter *e)
{
    const Net *net = e->p->net;
    Sb *sb = e->sb;
    int dbl = net->dbl, sig = 0, tanh = 0, relu = 0;
    for (int i = 0; i < net->nblocks; i++) {
        const Block *b = &net->blocks[i];
        sig |= b->cell != CELL_RNN;
        tanh |= b->cell != CELL_RNN || b->nonlin == NONLIN_TANH;
        relu |= b->cell == CELL_RNN && b->nonlin == NONLIN_RELU;
    }
    sig |= net->head.present && net->head.activation == ACT_SIGMOID;
    int soft = net->head.present && net->head.activation == ACT_SOFTMAX;
    if (net->math_builtin) {
        if (sig || soft || tanh)
            em_section(e, dbl ? "exp_f64" : "exp_f32");
        if (tanh)
            em_section(e, dbl ? "tanh_f64" : "tanh_f32");
    } else {
        sb_line(sb, "/* libm, declared rather than included so a JIT needs no system headers */");
        if (sig || soft)
            sb_line(sb, "%s %s(%s);", dbl ? "double" : "float", e->exp_fn,
                    dbl ? "double" : "float");
        if (tanh)
            sb_line(sb, "%s %s(%s);", dbl ? "double" : "float", e->tanh_fn,
                    dbl ? "double" : "float");
        sb_line(sb, "%s", "");
    }
    if (sig)
        em_section(e, "sigmoid");
    if (tanh)
        em_section(e, "tanh");
    if (relu)
        em_section(e, "relu");
    if (soft)
        em_section(e, "softmax");
    em_section(e, "w8dot");
}

static void em_qbody(Emitter *e, const EmitQuant *eq)
{
    const QPlan *q = eq->qm->qp;
    const Plan *p = e->p;
    Sb *sb = e->sb;
    if (q->integer) {
        sb_line(sb, "typedef %s_q act; /* activations: int%d */", p->net->name, q->bits);
        sb_line(sb, "typedef %s acc; /* accumulators: int%d */",
                q->acc_size == 4 ? "int" : "long long", q->acc_size * 8);
    } else {
        sb_line(sb, "typedef %s_real real;", p->net->name);
    }
    sb_line(sb, "%s", "");
    em_section(e, "nolib");
    em_section(e, "width");
    em_flash(e, eq);
    if (q->integer) {
        int lstm = 0, gru = 0;
        for (int i = 0; i < p->nlayers; i++) {
            lstm |= p->layers[i].G == 4;
            gru |= p->layers[i].G == 3;
        }
        em_section(e, "qcore");
        if (q->use_sigmoid || q->use_tanh)
            em_section(e, "qfix");
        if (q->use_sigmoid)
            em_section(e, "qsigmoid");
        if (q->use_tanh)
            em_section(e, "qtanh");
        if (lstm)
            em_section(e, "qlstm");
        if (gru)
            em_section(e, "qgru");
        if (q->use_exp)
            em_section(e, "qexp");
    } else {
        em_real_math(e);
    }
    for (int g = 0; g < q->ngroups; g++)
        qem_cell(e, q, &p->layers[q->group_layer[g]]);
    if (p->net->head.present)
        qem_head(e, q);
    for (int g = 0; g < q->ngroups; g++)
        em_qseq(e, q, &p->layers[q->group_layer[g]]);
    em_qforward(e, q);
    if (p->can_stream)
        em_qstep(e, q);
    if (eq->selftest)
        em_qselftest(e, eq);
}

int emit_unit_quant(const Plan *plan, const char *header_name, const EmitQuant *eq, CUnit *out,
                    DiagList *d)
{
    const Net *net = plan->net;
    int dbl = net->dbl, own = net->math_builtin;
    Sb sb;
    EmitDeploy dep = {eq->weights_name, NULL, eq->selftest, eq->test_T, eq->test_x, eq->test_y};
    Emitter e = {.sb = &sb, .p = plan, .dep = &dep};
    e.one = dbl ? "1.0" : "1.0f";
    e.zero = dbl ? "0.0" : "0.0f";
    e.exp_fn = own ? (dbl ? "m_exp" : "m_expf") : (dbl ? "exp" : "expf");
    e.tanh_fn = own ? (dbl ? "m_tanh" : "m_tanhf") : (dbl ? "tanh" : "tanhf");
    e.fn = "RNNC_NOLIB ";
    const QPlan *q = eq->qm->qp;
    e.qmax = q->bits == 8 ? "127" : "32767";
    e.qfrac = q->bits == 8 ? "7" : "15";
    memset(out, 0, sizeof *out);
    sb_init(&sb);
    em_qheader(&e, eq, header_name);
    out->header = sb_take(&sb);
    sb_init(&sb);
    char cname[128];
    snprintf(cname, sizeof cname, "%s", header_name);
    char *dot = strrchr(cname, '.');
    if (dot && strcmp(dot, ".h") == 0)
        strcpy(dot, ".c");
    sb_line(&sb, "/* %s - generated by rnnc from %s: do not edit.", cname,
            em_base_name(net->file));
    em_summary(&e);
    sb_line(&sb, " * Quantised: %s. The API is documented in %s. */",
            quant_mode_name(eq->qm->qp->mode), header_name);
    sb_line(&sb, "%s", "");
    out->banner = sb_take(&sb);
    sb_init(&sb);
    sb_line(&sb, "#include \"%s\"", header_name);
    sb_line(&sb, "%s", "");
    out->include = sb_take(&sb);
    sb_init(&sb);
    em_qbody(&e, eq);
    out->body = sb_take(&sb);
    if (!out->header || !out->banner || !out->body || !out->include) {
        cunit_free(out);
        diag_error(d, span_none(), "out of memory while generating code");
        return -1;
    }
    return 0;
}
