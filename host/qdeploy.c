/* qdeploy.c — `rnnc SPEC -o OUT.c --weights W --quantize MODE [--calib X [--calib-lengths L]]`:
 * the weights quantised and baked into deployable code, the golden outputs of its self-test
 * computed by that same code (JIT-compiled), and the sizes `rnnc check` reports for a mode.
 */
#include "qhost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "write.h"

int qhost_emit(RnncQuant *q, const char *header_name, const char *weights_name, int selftest,
               int T, const void *tx, const void *ty, CUnit *u)
{
    EmitQuant eq = {weights_name, q->qm, selftest, T, tx, ty};
    return emit_unit_quant(q->r->plan, header_name, &eq, u, &q->r->diag);
}

RnncQuant *rnnc_quant_model(Rnnc *r, RnncModel *m, const char *mode, const RnncCalib *c)
{
    const Plan *p = r->plan;
    double *params = calloc((size_t)p->nparams + 1, sizeof *params);
    if (!params) {
        diag_error(&r->diag, span_none(), "out of memory");
        return NULL;
    }
    for (int i = 0; i < p->ntensors; i++) {
        long n = 0;
        const double *v = rnnc_model_tensor(m, p->tensors[i].name, &n);
        if (v)
            memcpy(params + p->tensors[i].offset, v, (size_t)n * sizeof *params);
    }
    RnncQuant *q = rnnc_quant_new(r, mode, params, c);
    free(params);
    return q;
}

int rnnc_quant_known(const char *mode)
{
    return quant_mode_parse(mode) >= 0;
}

int rnnc_report_quant(Rnnc *r, const char *mode, FILE *out)
{
    int m = mode ? quant_mode_parse(mode) : (int)r->net->quantize;
    if (m < 0) {
        diag_error(&r->diag, span_none(),
                   "unknown quantised mode '%s': int8-weights, int8 or int16", mode);
        return -1;
    }
    if (m == QUANT_NONE)
        return 0;
    Arena a;
    arena_init(&a);
    const QPlan *q = qplan_build(&a, r->plan, (QuantMode)m);
    if (!q) {
        arena_free(&a);
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    fprintf(out,
            "deployed %s (%s): flash %ld bytes (weights %ld, tables %ld); RAM %ld "
            "bytes of state,\n       %ld bytes of work for sequences up to max_seq_len %d (float: "
            "flash %ld)\n",
            quant_mode_name(q->mode), mode ? "--quantize" : "deploy.quantize", q->flash_bytes,
            q->array_bytes, q->table_bytes, q->state_bytes, q->work_bytes, r->net->max_seq_len,
            r->plan->npacked_w * r->plan->real_size);
    arena_free(&a);
    return 0;
}

/* The golden input of the self-test: the float path's LCG in [-1, 1), as reals, or spread
 * over the whole integer range (q = round(v * QMAX)) in the integer modes. */
static void golden_input(const RnncQuant *q, void *x, long n)
{
    unsigned long s = 20261124u;
    const QPlan *qp = q->qp;
    for (long i = 0; i < n; i++) {
        s = (s * 1103515245u + 12345u) & 0x7fffffffu;
        double v = (double)(s >> 8) / (double)(1u << 22) - 1.0;
        if (!qp->integer && q->r->net->dbl)
            ((double *)x)[i] = v;
        else if (!qp->integer)
            ((float *)x)[i] = (float)v;
        else if (qp->bits == 8)
            ((signed char *)x)[i] = (signed char)lround(v * qp->qmax);
        else
            ((short *)x)[i] = (short)lround(v * qp->qmax);
    }
}

double *rnnc_load_weights_double(Rnnc *r, const char *path)
{
    void *params = rnnc_load_weights(r, path);
    if (!params)
        return NULL;
    double *d = malloc((size_t)(r->plan->nparams + 1) * sizeof *d);
    if (d)
        io_to_double(d, params, r->plan->nparams, r->net->dbl);
    else
        diag_error(&r->diag, span_none(), "out of memory");
    free(params);
    return d;
}

int rnnc_write_quantized(Rnnc *r, const char *c_path, const char *weights, int selftest,
                         const char *mode, const char *calib, const char *calib_lengths)
{
    const Net *net = r->net;
    if (mode && quant_mode_parse(mode) == QUANT_NONE && !calib && !calib_lengths)
        return host_write_float(r, c_path, weights, selftest);
    char h_name[1024];
    if (write_header_name(c_path, h_name, sizeof h_name) < 0) {
        diag_error(&r->diag, span_none(), "%s: path too long", c_path);
        return -1;
    }
    int rc = -1, T = net->max_seq_len < 8 ? net->max_seq_len : 8;
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long nx = (long)T * net->input_size, ny = (long)(per_step ? T : 1) * net->out_size;
    RnncCalib c;
    memset(&c, 0, sizeof c);
    RnncQuant *q = NULL;
    void *x = malloc((size_t)nx * 8), *y = malloc((size_t)ny * 8);
    double *params = rnnc_load_weights_double(r, weights);
    if (!params || (calib && rnnc_calib_load(r, calib, calib_lengths, &c) < 0))
        goto out;
    if (!calib && calib_lengths) {
        diag_error(&r->diag, span_none(), "--calib-lengths goes with --calib");
        goto out;
    }
    if (!x || !y) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    if (!(q = rnnc_quant_new(r, mode, params, calib ? &c : NULL)))
        goto out;
    golden_input(q, x, nx);
    if (q->forward(x, T, y, q->work) != 0) {
        diag_error(&r->diag, span_none(), "the self-test sequence did not run");
        goto out;
    }
    const char *wname = strrchr(weights, '/') ? strrchr(weights, '/') + 1 : weights;
    CUnit u;
    if (qhost_emit(q, h_name, wname, selftest, T, x, y, &u) < 0)
        goto out;
    rc = write_cunit(c_path, &u, &r->diag);
    cunit_free(&u);
out:
    rnnc_quant_free(q);
    rnnc_calib_free(&c);
    free(params);
    free(x);
    free(y);
    return rc;
}
