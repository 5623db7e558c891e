/* deploy.c — `rnnc SPEC -o OUT.c --weights W`: the weights packed and baked into deployable
 * code, with golden outputs for its self-test computed here through the JIT.
 */
#include "host.h"

#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "qhost.h"
#include "write.h"

/* The golden input of the self-test: a fixed sequence in [-1, 1) (an LCG), so the
 * generated file does not depend on anything but the spec and the weights. */
static void golden_input(void *x, long n, int dbl)
{
    unsigned long s = 20261124u;
    for (long i = 0; i < n; i++) {
        s = (s * 1103515245u + 12345u) & 0x7fffffffu;
        double v = (double)(s >> 8) / (double)(1u << 22) - 1.0;
        if (dbl)
            ((double *)x)[i] = v;
        else
            ((float *)x)[i] = (float)v;
    }
}

int rnnc_write_deployed(Rnnc *r, const char *c_path, const char *weights, int selftest)
{
    /* deploy.quantize: host/qdeploy.c */
    if (r->net->quantize != QUANT_NONE)
        return rnnc_write_quantized(r, c_path, weights, selftest, NULL, NULL, NULL);
    return host_write_float(r, c_path, weights, selftest);
}

int host_write_float(Rnnc *r, const char *c_path, const char *weights, int selftest)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    int dbl = net->dbl, rc = -1;
    size_t rs = dbl ? sizeof(double) : sizeof(float);
    int T = net->max_seq_len < 8 ? net->max_seq_len : 8;
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long nx = (long)T * net->input_size, ny = (long)(per_step ? T : 1) * net->out_size;
    char h_name[1024];
    if (write_header_name(c_path, h_name, sizeof h_name) < 0) {
        diag_error(&r->diag, span_none(), "%s: path too long", c_path);
        return -1;
    }
    JitModule *jit = NULL;
    void *packed = io_alloc64(((size_t)p->npacked + 1) * rs), *x = malloc((size_t)nx * rs);
    void *y = malloc((size_t)ny * rs), *scratch = NULL;
    void *params = rnnc_load_weights(r, weights);
    if (!params)
        goto out;
    if (!packed || !x || !y) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    ModelFns fns;
    /* libtcc: golden outputs the same on every machine (its products' fused multiply-adds
     * are IEEE 754's fma, one rounding, with or without the instruction) */
    if (!(jit = host_compile(r, JIT_TCC, 0, &fns)))
        goto out;
    scratch = io_alloc64((size_t)fns.scratch_bytes(1, T));
    if (!scratch) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    golden_input(x, nx, dbl);
    fns.pack(params, packed);
    if (fns.forward(packed, x, NULL, 1, T, NULL, NULL, y, NULL, NULL, scratch) != 0) {
        diag_error(&r->diag, span_none(), "the self-test sequence did not run");
        goto out;
    }
    const char *wname = strrchr(weights, '/') ? strrchr(weights, '/') + 1 : weights;
    EmitDeploy dep = {wname, packed, selftest, T, x, y};
    CUnit u;
    if (emit_unit_deploy(p, h_name, &dep, &u, &r->diag) < 0)
        goto out;
    rc = write_cunit(c_path, &u, &r->diag);
    cunit_free(&u);
out:
    jit_free(jit);
    free(params);
    free(packed);
    free(x);
    free(y);
    free(scratch);
    return rc;
}
