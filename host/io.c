/* io.c — the host's files: weights (the plan's tensor table, named as names.c says, against
 * a safetensors or .pt file),
 * inputs and lengths (.npy, checked against the spec), outputs, and printing arrays; runtime
 * errors become diagnostics here.
 */
#define _POSIX_C_SOURCE 200809L
#include "host.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Adds each line of a runtime error as one diagnostic, after `prefix` when not NULL. */
void io_rt_error_in(Rnnc *r, const char *prefix, const RnnrtError *e)
{
    const char *s = e->msg;
    while (*s) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        if (prefix)
            diag_error(&r->diag, span_none(), "%s: %.*s", prefix, n, s);
        else
            diag_error(&r->diag, span_none(), "%.*s", n, s);
        s += n + (nl ? 1 : 0);
    }
    if (!e->msg[0])
        diag_error(&r->diag, span_none(), "runtime error");
}

void io_rt_error(Rnnc *r, const RnnrtError *e)
{
    io_rt_error_in(r, NULL, e);
}

void *io_alloc64(size_t n)
{
    size_t r = n < 64 ? 64 : (n + 63) / 64 * 64;
    if (r < n)
        return NULL;
    void *p = aligned_alloc(64, r);
    if (p)
        memset(p, 0, r);
    return p;
}

/* Converts a float array of either precision into a fresh block of the model's. */
void *io_to_real(const RnnrtArray *a, int dbl, long n)
{
    void *out = malloc((size_t)(n ? n : 1) * (dbl ? sizeof(double) : sizeof(float)));
    if (!out)
        return NULL;
    for (long i = 0; i < n; i++) {
        double v =
            a->dtype == RNNRT_F64 ? ((const double *)a->data)[i] : ((const float *)a->data)[i];
        if (dbl)
            ((double *)out)[i] = v;
        else
            ((float *)out)[i] = (float)v;
    }
    return out;
}

void io_fmt_shape(char *buf, size_t n, const long *shape, int ndim)
{
    size_t at = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%ld", i ? ", " : "", shape[i]);
    if (at < n)
        snprintf(buf + at, n - at, ndim == 1 ? ",)" : ")");
}

/* The file's tensors into params by specs[] (named by names[]). A block or the head that the
 * file has under another prefix is said so once (names_suggest), the other problems as
 * rnnrt_params_load finds them among the remaining tensors. 0, or -1 after diagnostics. */
static int match_params(Rnnc *r, const RnnrtTensorFile *wf, const char *path, const char **names,
                        RnnrtParamSpec *specs, void *params)
{
    const Plan *p = r->plan;
    RnnrtError err;
    unsigned char *pd = calloc((size_t)p->ntensors + 1, 1), *fd = calloc((size_t)wf->n + 1, 1);
    RnnrtTensor *rest = calloc((size_t)wf->n + 1, sizeof *rest);
    int rc = -1;
    if (!pd || !fd || !rest) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    int nsug = names_suggest(r, wf, path, names, pd, fd), ns = 0;
    RnnrtTensorFile left = {0, rest};
    for (int i = 0; i < p->ntensors; i++)
        if (!pd[i])
            specs[ns++] = specs[i];
    for (int j = 0; j < wf->n; j++)
        if (!fd[j])
            rest[left.n++] = wf->t[j];
    if (rnnrt_params_load(&left, specs, ns, r->net->dbl, params, &err) < 0)
        io_rt_error_in(r, path, &err);
    else
        rc = nsug ? -1 : 0;
out:
    free(pd);
    free(fd);
    free(rest);
    return rc;
}

void *rnnc_load_weights(Rnnc *r, const char *path)
{
    const Plan *p = r->plan;
    int dbl = r->net->dbl;
    RnnrtTensorFile wf;
    RnnrtError err;
    if (rnnrt_tensors_read(path, &wf, &err) < 0) {
        io_rt_error(r, &err);
        return NULL;
    }
    /* a training checkpoint holds the weights under their own names: the optimizer's state,
     * the best weights of early stopping and the progress are left out */
    if (rnnrt_st_find(&wf, "rnnc.progress")) {
        int k = 0;
        for (int i = 0; i < wf.n; i++) {
            const char *nm = wf.t[i].name;
            if (!strncmp(nm, "optim.", 6) || !strncmp(nm, "best.", 5) ||
                !strncmp(nm, "rnnc.", 5)) {
                free(wf.t[i].name);
                free(wf.t[i].data);
            } else {
                wf.t[k++] = wf.t[i];
            }
        }
        wf.n = k;
    }
    if (rnnrt_mem_check(rnnrt_mem_product((const long[]){p->nparams, p->real_size}, 2),
                        "the model's parameters", &err) < 0) {
        io_rt_error(r, &err);
        rnnrt_st_free(&wf);
        return NULL;
    }
    RnnrtParamSpec *specs = arena_alloc(&r->arena, (size_t)p->ntensors * sizeof *specs);
    void *params = calloc((size_t)p->nparams + 1, dbl ? sizeof(double) : sizeof(float));
    const char **names = names_resolve(r, &wf);
    if (!names)
        goto fail;
    if (!specs || !params) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto fail;
    }
    for (int i = 0; i < p->ntensors; i++) {
        specs[i].name = names[i];
        specs[i].ndim = p->tensors[i].ndim;
        specs[i].shape[0] = p->tensors[i].shape[0];
        specs[i].shape[1] = p->tensors[i].shape[1];
        specs[i].offset = p->tensors[i].offset;
    }
    if (match_params(r, &wf, path, names, specs, params) < 0)
        goto fail;
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        long n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        for (long k = 0; k < n; k++) {
            double v = dbl ? ((double *)params)[t->offset + k] : ((float *)params)[t->offset + k];
            if (v != v || v - v != 0) {
                diag_error(&r->diag, span_none(),
                           "%s: tensor '%s' holds a non-finite value "
                           "(%g) at index %ld",
                           path, names[i], v, k);
                goto fail;
            }
        }
    }
    rnnrt_st_free(&wf);
    return params;
fail:
    rnnrt_st_free(&wf);
    free(params);
    return NULL;
}

void io_data_free(RunData *d)
{
    rnnrt_npy_unmap(&d->x, &d->xmap);
    rnnrt_array_free(&d->lengths);
    free(d->params);
    free(d->packed);
    free(d->xr);
    free(d->y);
    free(d->h_n);
    free(d->c_n);
    free(d->h0);
    free(d->c0);
    free(d->len);
    jit_free(d->jit);
}

/* Reads and checks the input (and lengths); sets B and T. */
int io_load_inputs(Rnnc *r, const RnncRunArgs *a, RunData *d, int *B, int *T)
{
    const Net *net = r->net;
    RnnrtError err;
    if ((d->map_x ? rnnrt_npy_map(a->input, &d->x, &d->xmap, &err)
                  : rnnrt_npy_read(a->input, &d->x, &err)) < 0) {
        io_rt_error(r, &err);
        return -1;
    }
    char got[128];
    io_fmt_shape(got, sizeof got, d->x.shape, d->x.ndim);
    if (d->x.dtype != RNNRT_F32 && d->x.dtype != RNNRT_F64) {
        diag_error(&r->diag, span_none(), "%s: input must be float32 or float64, found %s",
                   a->input, d->x.dtype == RNNRT_I32 ? "int32" : "int64");
        return -1;
    }
    if (d->x.ndim != 3 || d->x.shape[2] != net->input_size || d->x.shape[0] < 1 ||
        d->x.shape[1] < 1) {
        diag_error(&r->diag, span_none(), "%s: input has shape %s, expected %s with I = %d",
                   a->input, got, net->batch_first ? "(B, T, I)" : "(T, B, I)", net->input_size);
        return -1;
    }
    if (d->x.shape[0] > 1L << 30 || d->x.shape[1] > 1L << 30) {
        diag_error(&r->diag, span_none(), "%s: input shape %s is too large", a->input, got);
        return -1;
    }
    *B = (int)d->x.shape[net->batch_first ? 0 : 1];
    *T = (int)d->x.shape[net->batch_first ? 1 : 0];
    if (!a->lengths)
        return 0;
    if (rnnrt_npy_read(a->lengths, &d->lengths, &err) < 0) {
        io_rt_error(r, &err);
        return -1;
    }
    const RnnrtArray *l = &d->lengths;
    io_fmt_shape(got, sizeof got, l->shape, l->ndim);
    if (l->dtype != RNNRT_I32 && l->dtype != RNNRT_I64) {
        diag_error(&r->diag, span_none(), "%s: lengths must be int32 or int64, found %s",
                   a->lengths, l->dtype == RNNRT_F32 ? "float32" : "float64");
        return -1;
    }
    if (l->ndim != 1 || l->shape[0] != *B) {
        diag_error(&r->diag, span_none(),
                   "%s: lengths have shape %s, expected (%d,): one "
                   "per sequence of the input",
                   a->lengths, got, *B);
        return -1;
    }
    d->len = malloc((size_t)*B * sizeof *d->len);
    if (!d->len) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    int bad = 0;
    for (int b = 0; b < *B; b++) {
        long v = l->dtype == RNNRT_I32 ? ((const int *)l->data)[b]
                                       : (long)((const long long *)l->data)[b];
        if (v < 1 || v > *T) {
            if (bad++ < 5)
                diag_error(&r->diag, span_none(),
                           "%s: length %ld of sequence %d is outside "
                           "1..%d (T of the input)",
                           a->lengths, v, b, *T);
            continue;
        }
        d->len[b] = (int)v;
    }
    return bad ? -1 : 0;
}

void *io_load_state(Rnnc *r, const char *path, const char *what, int c, int B)
{
    const Plan *p = r->plan;
    const Block *top = &r->net->blocks[r->net->nblocks - 1];
    if (c && top->cell != CELL_LSTM) {
        diag_error(&r->diag, span_none(),
                   "%s: the top block '%s' is %s; only an LSTM has a cell state", what, top->name,
                   top->cell == CELL_GRU ? "a GRU" : "an RNN");
        return NULL;
    }
    RnnrtArray a;
    RnnrtError err;
    if (rnnrt_npy_read(path, &a, &err) < 0) {
        io_rt_error(r, &err);
        return NULL;
    }
    long want[3] = {(long)p->top_layers * p->top_dirs, B, c ? top->hidden_size : p->top_hr};
    char got[128], exp[128];
    io_fmt_shape(got, sizeof got, a.shape, a.ndim);
    io_fmt_shape(exp, sizeof exp, want, 3);
    void *v = NULL;
    if (a.dtype != RNNRT_F32 && a.dtype != RNNRT_F64)
        diag_error(&r->diag, span_none(), "%s: %s must be float32 or float64, found %s", path,
                   what, a.dtype == RNNRT_I32 ? "int32" : "int64");
    else if (a.ndim != 3 || memcmp(a.shape, want, sizeof want) != 0)
        diag_error(&r->diag, span_none(),
                   "%s: %s has shape %s, expected %s: (num_layers*directions, B, %s) of the top "
                   "block '%s', B from the input",
                   path, what, got, exp,
                   c                ? "hidden_size"
                   : top->proj_size ? "proj_size"
                                    : "hidden_size",
                   top->name);
    else if (!(v = io_to_real(&a, r->net->dbl, rnnrt_array_numel(&a))))
        diag_error(&r->diag, span_none(), "out of memory");
    rnnrt_array_free(&a);
    return v;
}

/* The top block's layer-directions: slot = layer * D + dir in h_n's layout. */
static void state_copy(const Plan *p, int B, void *h, void *c, void *state, int to_state)
{
    size_t rs = (size_t)p->real_size;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (!L->top)
            continue;
        long slot = (long)L->layer * L->block->dirs + L->dir;
        char *sh = (char *)state + (size_t)B * (size_t)L->st_h * rs;
        char *hh = h ? (char *)h + (size_t)(slot * B * L->Hr) * rs : NULL;
        size_t nh = (size_t)B * (size_t)L->Hr * rs;
        if (hh)
            memcpy(to_state ? sh : hh, to_state ? hh : sh, nh);
        if (L->st_c < 0 || !c)
            continue;
        char *sc = (char *)state + (size_t)B * (size_t)L->st_c * rs;
        char *cc = (char *)c + (size_t)(slot * B * L->H) * rs;
        size_t nc = (size_t)B * (size_t)L->H * rs;
        memcpy(to_state ? sc : cc, to_state ? cc : sc, nc);
    }
}

void io_state_put(const Plan *p, int B, const void *h, const void *c, void *state)
{
    memset(state, 0, (size_t)B * (size_t)p->state_reals * (size_t)p->real_size);
    state_copy(p, B, (void *)h, (void *)c, state, 1);
}

void io_state_get(const Plan *p, int B, const void *state, void *h, void *c)
{
    state_copy(p, B, h, c, (void *)state, 0);
}

/* Prints `y` of shape `shape` as rows of its last dimension, at most 12 rows and 8 values
 * a row; what is left out is said. */
void rnnc_print_array(FILE *out, const char *label, const void *y, int dbl, int ndim,
                      const long *shape)
{
    char sh[128];
    io_fmt_shape(sh, sizeof sh, shape, ndim);
    fprintf(out, "%s %s:\n", label, sh);
    long cols = shape[ndim - 1], rows = 1;
    for (int i = 0; i < ndim - 1; i++)
        rows *= shape[i];
    for (long r = 0; r < rows; r++) {
        if (rows > 12 && r == 6) {
            fprintf(out, "  ... (%ld rows not shown)\n", rows - 12);
            r = rows - 6;
        }
        fputs("  [", out);
        for (int i = 0; i < ndim - 1; i++) {
            long div = 1;
            for (int k = i + 1; k < ndim - 1; k++)
                div *= shape[k];
            fprintf(out, "%s%ld", i ? ", " : "", (r / div) % shape[i]);
        }
        fputs("]", out);
        for (long c = 0; c < cols; c++) {
            if (cols > 8 && c == 4) {
                fprintf(out, " ...");
                c = cols - 4;
            }
            double v = dbl ? ((const double *)y)[r * cols + c] : ((const float *)y)[r * cols + c];
            fprintf(out, " %10.6f", v);
        }
        fputc('\n', out);
    }
}

int io_save(Rnnc *r, const char *path, int dbl, void *data, int ndim, const long *shape,
            const char **written, int *nw)
{
    RnnrtArray arr = {dbl ? RNNRT_F64 : RNNRT_F32, ndim, {0}, data};
    memcpy(arr.shape, shape, (size_t)ndim * sizeof *shape);
    RnnrtError err;
    if (rnnrt_npy_write(path, &arr, &err) < 0) {
        io_rt_error(r, &err);
        for (int i = 0; i < *nw; i++)
            unlink(written[i]);
        return -1;
    }
    written[(*nw)++] = path;
    return 0;
}

RnnrtTensor *io_tensor_table(const Plan *p, void *params)
{
    RnnrtTensor *ts = calloc((size_t)p->ntensors, sizeof *ts);
    for (int i = 0; ts && i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        ts[i].name = (char *)t->name;
        ts[i].dtype = p->net->dbl ? RNNRT_F64 : RNNRT_F32;
        ts[i].ndim = t->ndim;
        ts[i].shape[0] = t->shape[0];
        ts[i].shape[1] = t->shape[1];
        ts[i].data = (char *)params + (size_t)t->offset * (size_t)p->real_size;
    }
    return ts;
}

int io_save_params(Rnnc *r, const char *path, const void *params)
{
    RnnrtTensor *ts = io_tensor_table(r->plan, (void *)params);
    RnnrtError err;
    int rc = -1;
    if (!ts)
        diag_error(&r->diag, span_none(), "out of memory");
    else if (rnnrt_tensors_write(path, ts, r->plan->ntensors, &err) < 0)
        io_rt_error(r, &err);
    else
        rc = 0;
    free(ts);
    return rc;
}

RnnrtLossKind io_loss_kind(LossKind k)
{
    static const RnnrtLossKind kinds[] = {[LOSS_NONE] = RNNRT_LOSS_MSE,
                                          [LOSS_CROSS_ENTROPY] = RNNRT_LOSS_CROSS_ENTROPY,
                                          [LOSS_MSE] = RNNRT_LOSS_MSE,
                                          [LOSS_BCE] = RNNRT_LOSS_BCE};
    return kinds[k];
}

RnnrtAct io_head_act(HeadAct a)
{
    static const RnnrtAct acts[] = {[ACT_NONE] = RNNRT_ACT_NONE,
                                    [ACT_SOFTMAX] = RNNRT_ACT_SOFTMAX,
                                    [ACT_SIGMOID] = RNNRT_ACT_SIGMOID};
    return acts[a];
}

void io_to_double(double *dst, const void *src, long n, int dbl)
{
    for (long i = 0; i < n; i++)
        dst[i] = dbl ? ((const double *)src)[i] : ((const float *)src)[i];
}

void io_from_double(void *dst, const double *src, long n, int dbl)
{
    for (long i = 0; i < n; i++) {
        if (dbl)
            ((double *)dst)[i] = src[i];
        else
            ((float *)dst)[i] = (float)src[i];
    }
}
