/* grad.c — `rnnc grad`: one forward and backward pass of the JIT-compiled training unit over
 * a batch from files (from an initial state, when given), the spec's loss, and d loss / d
 * parameter written under the weights' names (and d loss / d h0, c0 when asked for).
 */
#include "host.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The initial state from a->h0 and a->c0 (zeros where not given) into *s0, in the training
 * unit's layout, and room for its gradient in *ds0 when a->dh0 or a->dc0 asks for it; both
 * NULL when not needed. 0, or -1 after a diagnostic. */
static int grad_state(Rnnc *r, const RnncGradArgs *a, RunData *d, int B, void **s0, void **ds0)
{
    const Plan *p = r->plan;
    size_t n = (size_t)B * (size_t)p->state_reals + 1;
    if (a->h0 && !(d->h0 = io_load_state(r, a->h0, "--h0", 0, B)))
        return -1;
    if (a->c0 && !(d->c0 = io_load_state(r, a->c0, "--c0", 1, B)))
        return -1;
    if (d->h0 || d->c0) {
        if (!(*s0 = malloc(n * (size_t)p->real_size)))
            goto oom;
        io_state_put(p, B, d->h0, d->c0, *s0);
    }
    if ((a->dh0 || a->dc0) && !(*ds0 = calloc(n, (size_t)p->real_size)))
        goto oom;
    return 0;
oom:
    diag_error(&r->diag, span_none(), "out of memory for B=%d", B);
    return -1;
}

/* dL/dh0 and dL/dc0 (when asked for) out of ds0 and the parameter gradients dp: every file
 * or none. 0, or -1 after a diagnostic. */
static int save_grads(Rnnc *r, const RnncGradArgs *a, int B, const void *dp, const void *ds0,
                      RunData *d)
{
    const Plan *p = r->plan;
    const Block *top = &r->net->blocks[r->net->nblocks - 1];
    long LD = (long)p->top_layers * p->top_dirs;
    long hshape[3] = {LD, B, p->top_hr}, cshape[3] = {LD, B, top->hidden_size};
    const char *written[3];
    int nw = 0, dbl = r->net->dbl;
    free(d->h_n);
    free(d->c_n);
    d->h_n = malloc((size_t)(LD * B * p->top_hr + 1) * (size_t)p->real_size);
    d->c_n = malloc((size_t)(LD * B * top->hidden_size + 1) * (size_t)p->real_size);
    if (!d->h_n || !d->c_n) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d", B);
        return -1;
    }
    if (ds0)
        io_state_get(p, B, ds0, d->h_n, a->dc0 ? d->c_n : NULL);
    if (a->dh0 && io_save(r, a->dh0, dbl, d->h_n, 3, hshape, written, &nw) < 0)
        return -1;
    if (a->dc0 && io_save(r, a->dc0, dbl, d->c_n, 3, cshape, written, &nw) < 0)
        return -1;
    if (io_save_params(r, a->output, dp) == 0)
        return 0;
    for (int i = 0; i < nw; i++)
        unlink(written[i]);
    return -1;
}

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
    void *s0 = NULL, *ds0 = NULL; /* the state before the first step and its gradient */
    RnncRunArgs ra = {a->weights, a->input, a->lengths, NULL, NULL, NULL, NULL, 1, NULL, NULL};
    const Block *top = &net->blocks[net->nblocks - 1];
    if (a->dc0 && top->cell != CELL_LSTM) {
        diag_error(&r->diag, span_none(),
                   "--dc0: the top block '%s' is %s; only an LSTM has a cell state", top->name,
                   top->cell == CELL_GRU ? "a GRU" : "an RNN");
        return -1;
    }
    d.params = rnnc_load_weights(r, a->weights);
    if (!d.params || io_load_inputs(r, &ra, &d, &B, &T) < 0)
        goto out;
    if (grad_state(r, a, &d, B, &s0, &ds0) < 0)
        goto out;
    if (rnnrt_npy_read(a->target, &target, &err) < 0) {
        io_rt_error(r, &err);
        goto out;
    }
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long ny = (long)B * (per_step ? T : 1) * net->out_size;
    d.xr = io_to_real(&d.x, dbl, rnnrt_array_numel(&d.x));
    d.packed = io_alloc64(((size_t)p->npacked + 1) * rs);
    d.y = calloc((size_t)ny + 1, rs);
    logits = calloc((size_t)ny + 1, rs);
    dout = calloc((size_t)ny + 1, rs);
    dw = io_alloc64(((size_t)p->npacked + 1) * rs);
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
    cache = io_alloc64((size_t)f.train_bytes(B, T));
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
    if (f.forward_train(d.packed, d.xr, d.len, B, T, d.y, logits, drop, s0, NULL, cache, 0, 1,
                        NULL) != 0) {
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
    f.backward(d.packed, d.xr, B, T, dout, drop, dw, ds0, cache, 0, 1, NULL, NULL);
    f.unpack_grads(dw, dp);
    rc = save_grads(r, a, B, dp, ds0, &d);
out:
    free(s0);
    free(ds0);
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
