/* grad.c — `rnnc grad`: one forward and backward pass of the JIT-compiled training unit over
 * a batch from files, the spec's loss, and d loss / d parameter written under the weights'
 * names.
 */
#include "host.h"

#include <stdlib.h>
#include <string.h>

int rnnc_grad(Rnnc *r, RnncGradArgs *a)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    int dbl = net->dbl, rc = -1, B = 0, T = 0;
    size_t rs = dbl ? sizeof(double) : sizeof(float);
    if (net->loss == LOSS_NONE) {
        diag_error(&r->diag, span_none(),
                   "%s: the spec says no 'loss:' (cross_entropy, mse or "
                   "bce_with_logits), so there is nothing to "
                   "differentiate",
                   net->file);
        return -1;
    }
    RunData d;
    memset(&d, 0, sizeof d);
    RnnrtArray target = {0};
    RnnrtError err;
    void *logits = NULL, *dout = NULL, *dw = NULL, *dp = NULL, *cache = NULL, *drop = NULL;
    RnncRunArgs ra = {a->weights, a->input, a->lengths, NULL, NULL, NULL, NULL, 1};
    d.params = rnnc_load_weights(r, a->weights);
    if (!d.params || io_load_inputs(r, &ra, &d, &B, &T) < 0)
        goto out;
    if (rnnrt_npy_read(a->target, &target, &err) < 0) {
        io_rt_error(r, &err);
        goto out;
    }
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long ny = (long)B * (per_step ? T : 1) * net->out_size;
    d.xr = io_to_real(&d.x, dbl, rnnrt_array_numel(&d.x));
    d.packed = calloc((size_t)p->npacked + 1, rs);
    d.y = calloc((size_t)ny + 1, rs);
    logits = calloc((size_t)ny + 1, rs);
    dout = calloc((size_t)ny + 1, rs);
    dw = calloc((size_t)p->npacked + 1, rs);
    dp = calloc((size_t)p->nparams + 1, rs);
    if (!d.xr || !d.packed || !d.y || !logits || !dout || !dw || !dp) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d, T=%d", B, T);
        goto out;
    }
    if (!d.len) {
        d.len = malloc((size_t)B * sizeof *d.len);
        if (!d.len) {
            diag_error(&r->diag, span_none(), "out of memory");
            goto out;
        }
        for (int b = 0; b < B; b++)
            d.len[b] = T;
    }
    ModelFns f;
    if (!(d.jit = host_compile(r, r->jit, 1, &f)))
        goto out;
    cache = malloc((size_t)f.train_bytes(B, T));
    if (!cache) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d, T=%d", B, T);
        goto out;
    }
    int oom = 0;
    if (a->dropout_seed &&
        !(drop = random_dropout_masks(p, B, T, (unsigned long long)a->dropout_seed, NULL, &oom)) &&
        oom) {
        diag_error(&r->diag, span_none(), "out of memory for the dropout masks");
        goto out;
    }
    f.pack(d.params, d.packed);
    if (f.forward_train(d.packed, d.xr, d.len, B, T, d.y, logits, drop, NULL, NULL, cache) != 0) {
        diag_error(&r->diag, span_none(), "the model rejected B=%d, T=%d or the lengths", B, T);
        goto out;
    }
    RnnrtLossArgs la = {io_loss_kind(net->loss),
                        dbl,
                        B,
                        T,
                        net->out_size,
                        per_step,
                        net->batch_first,
                        d.len,
                        net->head.present ? logits : NULL,
                        d.y,
                        io_head_act(net->head.activation),
                        0,
                        NULL};
    if (rnnrt_loss(&la, &target, a->target, &a->loss, dout, &err) < 0) {
        io_rt_error(r, &err);
        goto out;
    }
    f.backward(d.packed, d.xr, B, T, dout, drop, dw, cache);
    f.unpack_grads(dw, dp);
    rc = io_save_params(r, a->output, dp);
out:
    free(logits);
    free(dout);
    free(dw);
    free(dp);
    free(cache);
    free(drop);
    rnnrt_array_free(&target);
    io_data_free(&d);
    return rc;
}
