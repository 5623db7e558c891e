/* plot.c — the numbers behind rnnc plot's figures: a model's training unit compiled with
 * its weights, one sequence run through forward_train and read back from the cache (gates,
 * h and c of every layer at every step), the gradient of the loss with respect to the state
 * from the generated backward, parameter counts from `rnnc check`'s formulas, the training
 * log's CSV, and the input sequence. Nothing here re-implements a cell.
 */
#define _POSIX_C_SOURCE 200809L
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void plot_model_close(PlotModel *pm)
{
    jit_free(pm->jit);
    free(pm->params);
    free(pm->packed);
    memset(pm, 0, sizeof *pm);
}

/* The REPL model's weights, tensor by tensor, into pm->params. */
static void params_from_model(PlotModel *pm, RnncModel *m)
{
    const Plan *p = pm->r->plan;
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        long n = 0;
        const double *v = rnnc_model_tensor(m, t->name, &n);
        if (v)
            io_from_double((char *)pm->params + (size_t)t->offset * pm->rs, v, n, pm->dbl);
    }
}

int plot_model_open(PlotModel *pm, Rnnc *r, const char *weights, RnncModel *m, long seed)
{
    const Plan *p = r->plan;
    memset(pm, 0, sizeof *pm);
    pm->r = r;
    pm->dbl = r->net->dbl;
    pm->rs = pm->dbl ? sizeof(double) : sizeof(float);
    if (weights) {
        if (!(pm->params = rnnc_load_weights(r, weights)))
            return -1;
    } else {
        pm->params = calloc((size_t)p->nparams + 1, pm->rs);
    }
    pm->packed = io_alloc64(((size_t)p->npacked + 1) * pm->rs);
    if (!pm->params || !pm->packed) {
        diag_error(&r->diag, span_none(), "out of memory");
        plot_model_close(pm);
        return -1;
    }
    if (!weights && m)
        params_from_model(pm, m);
    else if (!weights)
        random_init_params(p, pm->params, seed);
    if (!(pm->jit = host_compile(r, r->jit, 1, &pm->f))) {
        plot_model_close(pm);
        return -1;
    }
    char name[160];
    snprintf(name, sizeof name, "%s_cache_at", r->net->name);
    void *sym = jit_symbol(pm->jit, name);
    if (!sym) {
        diag_error(&r->diag, span_none(), "JIT: generated code has no symbol '%s'", name);
        plot_model_close(pm);
        return -1;
    }
    memcpy(&pm->cache_at, &sym, sizeof sym); /* POSIX: as dlsym's result */
    pm->f.pack(pm->params, pm->packed);
    return 0;
}

void plot_trace_free(PlotTrace *t)
{
    for (int i = 0; i < t->nlayers; i++) {
        if (t->acts)
            free(t->acts[i]);
        if (t->h)
            free(t->h[i]);
        if (t->c)
            free(t->c[i]);
    }
    free(t->acts);
    free(t->h);
    free(t->c);
    free(t->x);
    free(t->y);
    memset(t, 0, sizeof *t);
}

/* One forward_train call of x (T, I) from state0 (NULL: zero) into a fresh cache; y is
 * filled when not NULL, and *xr keeps x in the model's precision (for backward) when xr is
 * not NULL. The cache (malloc'd), or NULL after a diagnostic. */
static void *run_cache(PlotModel *pm, const double *x, int T, const void *state0, void *y,
                       void **xr)
{
    Rnnc *r = pm->r;
    int I = r->net->input_size, O = r->net->out_size;
    void *cache = io_alloc64((size_t)pm->f.train_bytes(1, T));
    void *xb = malloc((size_t)T * I * pm->rs + 1);
    void *yb = y ? NULL : calloc((size_t)T * O + 1, pm->rs);
    void *lb = calloc((size_t)T * O + 1, pm->rs);
    int len = T, ok = cache && xb && (y || yb) && lb;
    if (ok) {
        io_from_double(xb, x, (long)T * I, pm->dbl);
        ok = pm->f.forward_train(pm->packed, xb, &len, 1, T, y ? y : yb, lb, NULL, state0, NULL,
                                 cache, 0, 1, NULL) == 0;
        if (!ok)
            diag_error(&r->diag, span_none(), "the model rejected the input (T=%d)", T);
    } else {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
    }
    free(yb);
    free(lb);
    if (!ok) {
        free(xb);
        free(cache);
        return NULL;
    }
    if (xr)
        *xr = xb;
    else
        free(xb);
    return cache;
}

/* n doubles converted from the model's reals at src + offset (reals), or NULL. */
static double *take(const PlotModel *pm, const void *src, long offset, long n)
{
    double *v = malloc((size_t)n * sizeof *v + 1);
    if (v)
        io_to_double(v, (const char *)src + (size_t)offset * pm->rs, n, pm->dbl);
    return v;
}

/* Layer-direction i's outputs (T, Hr) out of its layer's (T, D*Hr), as doubles. */
static double *take_h(const PlotModel *pm, const void *out, const PlanLayer *L, int T)
{
    int W = L->block->dirs * L->Hr;
    double *h = malloc((size_t)T * L->Hr * sizeof *h + 1);
    for (int t = 0; h && t < T; t++)
        io_to_double(h + (long)t * L->Hr,
                     (const char *)out + ((size_t)t * W + L->dir * L->Hr) * pm->rs, L->Hr,
                     pm->dbl);
    return h;
}

int plot_trace(PlotModel *pm, const double *x, int T, PlotTrace *out)
{
    Rnnc *r = pm->r;
    const Plan *p = r->plan;
    const Net *net = r->net;
    memset(out, 0, sizeof *out);
    out->T = T;
    out->I = net->input_size;
    out->O = net->out_size;
    out->yrows = !net->head.present || net->head.input == HEAD_SEQUENCE ? T : 1;
    out->nlayers = p->nlayers;
    void *y = calloc((size_t)T * out->O + 1, pm->rs);
    out->x = malloc((size_t)T * out->I * sizeof *out->x + 1);
    out->acts = calloc((size_t)p->nlayers, sizeof *out->acts);
    out->h = calloc((size_t)p->nlayers, sizeof *out->h);
    out->c = calloc((size_t)p->nlayers, sizeof *out->c);
    void *cache =
        y && out->x && out->acts && out->h && out->c ? run_cache(pm, x, T, NULL, y, NULL) : NULL;
    if (!cache) {
        if (!r->diag.nerrors)
            diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        free(y);
        plot_trace_free(out);
        return -1;
    }
    memcpy(out->x, x, (size_t)T * out->I * sizeof *x);
    out->y = take(pm, y, 0, (long)out->yrows * out->O);
    int ok = out->y != NULL;
    for (int i = 0; ok && i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        out->acts[i] = take(pm, pm->f.acts(cache, 1, T, i), 0, (long)T * L->G * L->H);
        out->h[i] = take_h(pm, pm->cache_at(cache, 1, T, 1, i), L, T);
        void *c = pm->cache_at(cache, 1, T, 2, i);
        if (c)
            out->c[i] = take(pm, c, 0, (long)T * L->H);
        ok = out->acts[i] && out->h[i] && (!c || out->c[i]);
    }
    free(cache);
    free(y);
    if (!ok) {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        plot_trace_free(out);
        return -1;
    }
    return 0;
}

static double norm2(const double *v, int n)
{
    double s = 0;
    for (int k = 0; k < n; k++)
        s += v[k] * v[k];
    return sqrt(s);
}

/* One run of x (T, I) from state0 and backward from L = the sum of the last outputs: the
 * norms of dL/dstate0 of the first layer (gc when it has c). 0 or -1. */
static int grad_from(PlotModel *pm, const double *x, int T, const void *state0, double *gh,
                     double *gc)
{
    Rnnc *r = pm->r;
    const Plan *p = r->plan;
    const PlanLayer *L0 = &p->layers[0];
    int O = r->net->out_size,
        rows = !r->net->head.present || r->net->head.input == HEAD_SEQUENCE ? T : 1;
    void *dout = calloc((size_t)rows * O + 1, pm->rs);
    void *dw = io_alloc64(((size_t)p->npacked + 1) * pm->rs);
    double *one = malloc((size_t)O * sizeof *one + 1);
    void *xr = NULL;
    void *cache = dout && dw && one ? run_cache(pm, x, T, state0, NULL, &xr) : NULL;
    int rc = -1;
    if (cache) {
        for (int k = 0; k < O; k++)
            one[k] = 1;
        io_from_double((char *)dout + (size_t)(rows - 1) * O * pm->rs, one, O, pm->dbl);
        pm->f.backward(pm->packed, xr, 1, T, dout, NULL, dw, NULL, cache, 0, 1, NULL, NULL);
        double *dh = take(pm, pm->cache_at(cache, 1, T, 3, 0), 0, L0->Hr);
        double *dc = L0->st_c >= 0 ? take(pm, pm->cache_at(cache, 1, T, 4, 0), 0, L0->H) : NULL;
        if (dh && (L0->st_c < 0 || dc)) {
            *gh = norm2(dh, L0->Hr);
            if (gc)
                *gc = dc ? norm2(dc, L0->H) : NAN;
            rc = 0;
        }
        free(dh);
        free(dc);
    }
    if (rc < 0 && !r->diag.nerrors)
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
    free(cache);
    free(xr);
    free(dout);
    free(dw);
    free(one);
    return rc;
}

int plot_grad_norms(PlotModel *pm, const double *x, int T, double *gh, double *gc)
{
    Rnnc *r = pm->r;
    const Plan *p = r->plan;
    if (!p->can_stream) {
        diag_error(&r->diag, span_none(),
                   "%s: the gradient figure follows dL/dh_t through a unidirectional stack; "
                   "this one has a bidirectional block",
                   r->net->file);
        return -1;
    }
    PlotTrace tr;
    if (plot_trace(pm, x, T, &tr) < 0)
        return -1;
    long S = p->state_reals;
    double *s = calloc((size_t)S + 1, sizeof *s);
    void *s0 = calloc((size_t)S + 1, pm->rs);
    int rc = s && s0 ? grad_from(pm, x, T, NULL, &gh[0], gc ? &gc[0] : NULL) : -1;
    for (int t = 1; rc == 0 && t < T; t++) {
        /* the state after t steps, as forward_train left it, starts steps t+1..T */
        for (int i = 0; i < p->nlayers; i++) {
            const PlanLayer *L = &p->layers[i];
            memcpy(s + L->st_h, tr.h[i] + (long)(t - 1) * L->Hr, (size_t)L->Hr * sizeof *s);
            if (L->st_c >= 0)
                memcpy(s + L->st_c, tr.c[i] + (long)(t - 1) * L->H, (size_t)L->H * sizeof *s);
        }
        io_from_double(s0, s, S, pm->dbl);
        rc = grad_from(pm, x + (long)t * tr.I, T - t, s0, &gh[t], gc ? &gc[t] : NULL);
    }
    if (rc < 0 && !r->diag.nerrors)
        diag_error(&r->diag, span_none(), "out of memory");
    free(s);
    free(s0);
    plot_trace_free(&tr);
    return rc;
}

/* The first block of a one-block spec: cell `cell`, hidden h, the shape (I, L, D) of the
 * spec's own first block, planned as `rnnc check` plans it. 0 or -1. */
static int block_stats(Rnnc *r, const PlotParams *pp, int cell, int h, PlanBlockStats *st)
{
    static const char *const names[3] = {"rnn", "lstm", "gru"};
    char text[256];
    snprintf(text, sizeof text,
             "name: p\ninput_size: %d\nlayers:\n  - name: b\n    cell: %s\n"
             "    hidden_size: %d\n    num_layers: %d\n    bidirectional: %s\n",
             pp->I, names[cell], h, pp->L, pp->D == 2 ? "true" : "false");
    Rnnc tmp;
    rnnc_init(&tmp);
    int rc = rnnc_load_text(&tmp, "params", text);
    if (rc == 0)
        plan_block_stats(tmp.plan, 0, st);
    else
        diag_error(&r->diag, span_none(), "cannot plan a %s of hidden size %d", names[cell], h);
    rnnc_fini(&tmp);
    return rc;
}

int plot_params(Rnnc *r, PlotParams *out)
{
    const Block *b = &r->net->blocks[0];
    memset(out, 0, sizeof *out);
    out->I = b->input_size;
    out->L = b->num_layers;
    out->D = b->dirs;
    out->cell = b->cell == CELL_LSTM  ? RNNC_CELL_LSTM
                : b->cell == CELL_GRU ? RNNC_CELL_GRU
                                      : RNNC_CELL_RNN;
    out->H = b->hidden_size;
    int top = out->H * 2 > 1024 ? out->H * 2 : 1024;
    for (int h = 1; h <= top && out->n < PLOT_NH - 1; h *= 2) {
        if (out->H < h && (out->n == 0 || out->h[out->n - 1] < out->H))
            out->h[out->n++] = out->H;
        out->h[out->n++] = h;
    }
    if (out->h[out->n - 1] < out->H)
        out->h[out->n++] = out->H;
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < out->n; k++) {
            PlanBlockStats st;
            if (block_stats(r, out, c, out->h[k], &st) < 0)
                return -1;
            out->torch[c][k] = st.torch_params;
            out->merged[c][k] = st.merged_params;
            out->flops[c][k] = st.flops_per_step;
        }
    PlanBlockStats own;
    plan_block_stats(r->plan, 0, &own);
    out->spec_torch = own.torch_params;
    out->spec_merged = own.merged_params;
    out->spec_flops = own.flops_per_step;
    return 0;
}

void plot_log_free(PlotLog *l)
{
    for (int k = 0; k < LOG_NCOLS; k++)
        free(l->col[k]);
    memset(l, 0, sizeof *l);
}

/* One CSV line of LOG_NCOLS numbers (empty or "nan": NaN) into row; 0 or -1. */
static int log_row(char *line, double *row)
{
    char *p = line;
    for (int k = 0; k < LOG_NCOLS; k++) {
        char *end = p + strcspn(p, ",\r\n");
        char sep = *end;
        *end = '\0';
        while (*p == ' ')
            p++;
        if (!*p || !strcmp(p, "nan") || !strcmp(p, "NaN")) {
            row[k] = NAN;
        } else {
            char *e;
            row[k] = strtod(p, &e);
            while (*e == ' ')
                e++;
            if (*e)
                return -1;
        }
        if ((k < LOG_NCOLS - 1) != (sep == ','))
            return -1;
        p = end + 1;
    }
    return 0;
}

int plot_log_read(Rnnc *r, const char *path, PlotLog *out)
{
    static const char header[] = "step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time";
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        diag_error(&r->diag, span_none(), "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0, rows = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (lineno == 1) {
            line[strcspn(line, "\r\n")] = '\0';
            if (strcmp(line, header) != 0) {
                diag_error(&r->diag, span_none(), "%s:1: the header is not '%s'", path, header);
                rc = -1;
            }
            continue;
        }
        if (line[strspn(line, " \r\n")] == '\0')
            continue;
        double row[LOG_NCOLS];
        if (log_row(line, row) < 0) {
            diag_error(&r->diag, span_none(), "%s:%d: want %d numbers separated by commas", path,
                       lineno, LOG_NCOLS);
            rc = -1;
            break;
        }
        if (rows == out->n) {
            int cap2 = rows ? rows * 2 : 64;
            for (int k = 0; k < LOG_NCOLS && rc == 0; k++) {
                double *nc = realloc(out->col[k], (size_t)cap2 * sizeof *nc);
                if (!nc)
                    rc = -1;
                else
                    out->col[k] = nc;
            }
            if (rc < 0) {
                diag_error(&r->diag, span_none(), "out of memory");
                break;
            }
            out->n = cap2;
        }
        for (int k = 0; k < LOG_NCOLS; k++)
            out->col[k][rows] = row[k];
        rows++;
    }
    free(line);
    fclose(f);
    out->n = rows;
    if (rc == 0 && lineno == 0) {
        diag_error(&r->diag, span_none(), "%s: empty (no header)", path);
        rc = -1;
    }
    if (rc < 0)
        plot_log_free(out);
    return rc;
}

/* Sequence `seq` of the batch in `a->input`, its own length when `a->lengths` says so. */
static int input_from_file(Rnnc *r, const RnncPlotArgs *a, double **x, int *T)
{
    RunData d;
    memset(&d, 0, sizeof d);
    RnncRunArgs ra = {NULL, a->input, a->lengths, NULL, NULL, NULL, NULL, 1, NULL, NULL};
    int B = 0, TT = 0, I = r->net->input_size, rc = -1;
    if (io_load_inputs(r, &ra, &d, &B, &TT) == 0) {
        if (a->seq < 0 || a->seq >= B) {
            diag_error(&r->diag, span_none(), "%s has %d sequence%s: no sequence %d", a->input, B,
                       B > 1 ? "s" : "", a->seq);
        } else {
            int n = d.len ? d.len[a->seq] : TT, bf = r->net->batch_first;
            double *all = malloc((size_t)B * TT * I * sizeof *all);
            *x = malloc((size_t)n * I * sizeof **x);
            if (all && *x) {
                io_to_double(all, d.x.data, (long)B * TT * I, d.x.dtype == RNNRT_F64);
                for (int t = 0; t < n; t++)
                    memcpy(*x + (long)t * I,
                           all + (bf ? (long)a->seq * TT + t : (long)t * B + a->seq) * I,
                           (size_t)I * sizeof **x);
                *T = n;
                rc = 0;
            } else {
                diag_error(&r->diag, span_none(), "out of memory");
                free(*x);
                *x = NULL;
            }
            free(all);
        }
    }
    io_data_free(&d);
    return rc;
}

int plot_input(Rnnc *r, const RnncPlotArgs *a, double **x, int *T)
{
    int I = r->net->input_size;
    *x = NULL;
    if (a->input)
        return input_from_file(r, a, x, T);
    int n = a->x ? a->T : a->steps > 0 ? a->steps : 100;
    *x = malloc((size_t)n * I * sizeof **x + 1);
    if (!*x) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    if (a->x) {
        memcpy(*x, a->x, (size_t)n * I * sizeof **x);
    } else {
        /* standard normal (Box-Muller) from the seed */
        unsigned long long s = 0x9e3779b97f4a7c15ull ^ (unsigned long long)a->seed;
        for (long k = 0; k < (long)n * I; k++) {
            double u = random_uniform(&s), v = random_uniform(&s);
            (*x)[k] = sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
        }
    }
    *T = n;
    return 0;
}
