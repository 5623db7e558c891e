/* model.c — the REPL's model: the training unit JIT-compiled once per spec, its weights, and
 * the carried state of one sequence, run whole or step by step, with its gate activations
 * read back from the training cache.
 */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <stdlib.h>
#include <string.h>

struct RnncModel {
    Rnnc *r;
    JitModule *jit;
    ModelFns f;
    int dbl;
    size_t rs;
    void *params, *packed; /* state_dict order and packed, model precision */
    double *state;         /* carried state of one sequence: plan->state_reals values */
    void *s_in, *s_out;    /* the same in the model precision */
    double *state0;        /* where run starts and reset returns: zero but the top block's */
    void *s0;              /* state0 in the model precision; NULL while it is all zero */
    void *cache;           /* of the last run */
    int cache_T;
    void *xb, *yb, *lb; /* the last run's buffers */
    double *gates, *tensor;
    RnnrtOptim opt;   /* the optimizer's state after the last train call (m NULL: none) */
    long epochs_done; /* by train calls since the weights were set */
};

RnncModel *rnnc_model_new(Rnnc *r, long seed, double *gen_ms, double *compile_ms)
{
    const Plan *p = r->plan;
    RnncModel *m = calloc(1, sizeof *m);
    if (!m) {
        diag_error(&r->diag, span_none(), "out of memory");
        return NULL;
    }
    m->r = r;
    m->dbl = r->net->dbl;
    m->rs = m->dbl ? sizeof(double) : sizeof(float);
    double t0 = 1e3 * train_now_s(), t1;
    m->jit = host_compile_timed(r, r->jit, 1, &m->f, &t1);
    double t2 = 1e3 * train_now_s();
    if (gen_ms)
        *gen_ms = t1 - t0;
    if (compile_ms)
        *compile_ms = t2 - t1;
    long S = p->state_reals;
    m->params = calloc((size_t)p->nparams + 1, m->rs);
    m->packed = io_alloc64(((size_t)p->npacked + 1) * m->rs);
    m->state = calloc((size_t)S + 1, sizeof *m->state);
    m->s_in = calloc((size_t)S + 1, m->rs);
    m->s_out = calloc((size_t)S + 1, m->rs);
    m->state0 = calloc((size_t)S + 1, sizeof *m->state0);
    m->gates = calloc((size_t)(p->max_h * 4) + 1, sizeof *m->gates);
    m->tensor = calloc((size_t)p->nparams + 1, sizeof *m->tensor);
    if (!m->jit || !m->params || !m->packed || !m->state || !m->s_in || !m->s_out || !m->gates ||
        !m->tensor || !m->state0) {
        if (m->jit && !r->diag.nerrors)
            diag_error(&r->diag, span_none(), "out of memory");
        rnnc_model_free(m);
        return NULL;
    }
    rnnc_model_init(m, seed);
    return m;
}

void rnnc_model_free(RnncModel *m)
{
    if (!m)
        return;
    jit_free(m->jit);
    free(m->params);
    free(m->packed);
    free(m->state);
    free(m->s_in);
    free(m->s_out);
    free(m->state0);
    free(m->s0);
    free(m->cache);
    free(m->xb);
    free(m->yb);
    free(m->lb);
    free(m->gates);
    free(m->tensor);
    rnnrt_optim_free(&m->opt);
    free(m);
}

/* New weights: packed, and the optimizer's state of earlier training forgotten. */
static void model_pack(RnncModel *m)
{
    m->f.pack(m->params, m->packed);
    rnnrt_optim_free(&m->opt);
    m->epochs_done = 0;
}

/* After an epoch of rnnc_model_train: its weights and optimizer become the model's. */
static void model_epoch_done(void *ctx, const void *params, const RnnrtOptim *opt)
{
    RnncModel *m = ctx;
    const Plan *p = m->r->plan;
    memcpy(m->params, params, (size_t)p->nparams * m->rs);
    m->f.pack(m->params, m->packed);
    m->epochs_done++;
    if (!m->opt.m || m->opt.kind != opt->kind || m->opt.n != opt->n) {
        rnnrt_optim_free(&m->opt);
        RnnrtError err;
        m->opt.kind = opt->kind;
        if (rnnrt_optim_init(&m->opt, opt->n, m->dbl, &err) < 0)
            return; /* the next train starts the optimizer afresh */
    }
    memcpy(m->opt.m, opt->m, (size_t)opt->n * m->rs);
    if (opt->v && m->opt.v)
        memcpy(m->opt.v, opt->v, (size_t)opt->n * m->rs);
    m->opt.step = opt->step;
}

int rnnc_model_train(RnncModel *m, RnncTrainArgs *a)
{
    TrainStart st = {m->params, m->opt.m ? &m->opt : NULL, m->epochs_done, model_epoch_done, m};
    a->init = a->resume = a->save = a->checkpoint = NULL;
    a->log = NULL;
    a->mpi = 0;
    return train_run(m->r, a, &st);
}

void rnnc_model_init(RnncModel *m, long seed)
{
    random_init_params(m->r->plan, m->params, seed);
    model_pack(m);
}

int rnnc_model_load(RnncModel *m, const char *path)
{
    void *p = rnnc_load_weights(m->r, path);
    if (!p)
        return -1;
    free(m->params);
    m->params = p;
    model_pack(m);
    return 0;
}

int rnnc_model_save(RnncModel *m, const char *path)
{
    return io_save_params(m->r, path, m->params);
}

int rnnc_model_take_weights(RnncModel *m, const RnncModel *from)
{
    const Plan *a = m->r->plan, *b = from->r->plan;
    if (a->ntensors != b->ntensors || a->nparams != b->nparams || m->dbl != from->dbl)
        return -1;
    for (int i = 0; i < a->ntensors; i++)
        if (strcmp(a->tensors[i].name, b->tensors[i].name) != 0 ||
            a->tensors[i].shape[0] != b->tensors[i].shape[0] ||
            a->tensors[i].shape[1] != b->tensors[i].shape[1])
            return -1;
    memcpy(m->params, from->params, (size_t)a->nparams * m->rs);
    model_pack(m);
    return 0;
}

void rnnc_model_reset(RnncModel *m)
{
    memcpy(m->state, m->state0, (size_t)m->r->plan->state_reals * sizeof *m->state);
}

int rnnc_model_set_state0(RnncModel *m, const double *h0, const double *c0)
{
    const Plan *p = m->r->plan;
    long S = p->state_reals;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        long slot = (long)L->layer * L->block->dirs + L->dir;
        if (L->top && h0)
            memcpy(m->state0 + L->st_h, h0 + slot * L->Hr, (size_t)L->Hr * sizeof *h0);
        if (L->top && c0 && L->st_c >= 0)
            memcpy(m->state0 + L->st_c, c0 + slot * L->H, (size_t)L->H * sizeof *c0);
    }
    int zero = 1;
    for (long k = 0; k < S; k++)
        zero &= m->state0[k] == 0;
    free(m->s0);
    m->s0 = NULL;
    if (!zero && !(m->s0 = malloc((size_t)S * m->rs))) {
        diag_error(&m->r->diag, span_none(), "out of memory");
        return -1;
    }
    if (m->s0)
        io_from_double(m->s0, m->state0, S, m->dbl);
    rnnc_model_reset(m);
    return 0;
}

/* One forward call of `T` steps of x from state s0 (NULL: zero) into s1 (model precision);
 * the outputs, as doubles, into y (rows x O). */
static int model_call(RnncModel *m, const double *x, int T, const void *s0, void *s1, double *y,
                      int rows)
{
    Rnnc *r = m->r;
    int I = r->net->input_size, O = r->net->out_size;
    free(m->cache);
    free(m->xb);
    free(m->yb);
    free(m->lb);
    m->cache = io_alloc64((size_t)m->f.train_bytes(1, T));
    m->xb = malloc((size_t)T * I * m->rs);
    m->yb = calloc((size_t)T * O + 1, m->rs);
    m->lb = calloc((size_t)T * O + 1, m->rs);
    if (!m->cache || !m->xb || !m->yb || !m->lb) {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        return -1;
    }
    m->cache_T = T;
    io_from_double(m->xb, x, (long)T * I, m->dbl);
    int len = T;
    if (m->f.forward_train(m->packed, m->xb, &len, 1, T, m->yb, m->lb, NULL, s0, s1, m->cache, 0,
                           1, NULL) != 0) {
        diag_error(&r->diag, span_none(), "the model rejected the input (T=%d)", T);
        return -1;
    }
    io_to_double(y, m->yb, (long)rows * O, m->dbl);
    return 0;
}

int rnnc_model_run_stoppable(RnncModel *m, const double *x, int T, volatile sig_atomic_t *stop,
                             double **y, int *rows)
{
    Rnnc *r = m->r;
    const Plan *p = r->plan;
    int per_step = !r->net->head.present || r->net->head.input == HEAD_SEQUENCE;
    int I = r->net->input_size, O = r->net->out_size, chunk = 1024;
    *rows = per_step ? T : 1;
    *y = malloc((size_t)*rows * O * sizeof **y);
    if (!*y) {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        return -1;
    }
    if (!p->can_stream || T <= chunk)
        return model_call(m, x, T, m->s0, m->s_out, *y, *rows) < 0 ? -1 : 0;
    /* a long unidirectional run in pieces, the state carried: the same numbers, and Ctrl-C
     * is heard between pieces */
    long S = p->state_reals;
    void *a = calloc((size_t)S + 1, m->rs), *b = calloc((size_t)S + 1, m->rs);
    int rc = a && b ? 0 : -1;
    for (int t0 = 0; rc == 0 && t0 < T; t0 += chunk) {
        if (stop && *stop) {
            rc = 1;
            break;
        }
        int n = T - t0 < chunk ? T - t0 : chunk;
        double *dst = per_step ? *y + (long)t0 * O : *y;
        rc = model_call(m, x + (long)t0 * I, n, t0 ? a : m->s0, b, dst, per_step ? n : 1);
        void *tmp = a;
        a = b;
        b = tmp;
    }
    free(a);
    free(b);
    if (rc != 0) {
        free(*y);
        *y = NULL;
    }
    return rc;
}

int rnnc_model_run(RnncModel *m, const double *x, int T, int stream, double **y, int *rows)
{
    Rnnc *r = m->r;
    const Net *net = r->net;
    const Plan *p = r->plan;
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long S = p->state_reals;
    if (stream && !p->can_stream) {
        diag_error(&r->diag, span_none(),
                   "a bidirectional stack needs the whole sequence: "
                   "it cannot run step by step");
        return -1;
    }
    *rows = per_step ? T : 1;
    *y = malloc((size_t)*rows * net->out_size * sizeof **y);
    if (!*y) {
        diag_error(&r->diag, span_none(), "out of memory for T=%d", T);
        return -1;
    }
    io_from_double(m->s_in, m->state, S, m->dbl);
    if (model_call(m, x, T, stream ? m->s_in : m->s0, m->s_out, *y, *rows) < 0) {
        free(*y);
        *y = NULL;
        return -1;
    }
    if (stream)
        io_to_double(m->state, m->s_out, S, m->dbl);
    return 0;
}

const double *rnnc_model_state(RnncModel *m, int i, const double **c)
{
    const Plan *p = m->r->plan;
    if (i < 0 || i >= p->nlayers)
        return NULL;
    const PlanLayer *L = &p->layers[i];
    if (c)
        *c = L->st_c >= 0 ? m->state + L->st_c : NULL;
    return m->state + L->st_h;
}

const double *rnnc_model_gates(RnncModel *m, int i)
{
    const Plan *p = m->r->plan;
    if (!m->cache || i < 0 || i >= p->nlayers)
        return NULL;
    const PlanLayer *L = &p->layers[i];
    long GH = (long)L->G * L->H;
    int t = L->dir ? 0 : m->cache_T - 1; /* the last step each direction took */
    const char *a = m->f.acts(m->cache, 1, m->cache_T, i);
    io_to_double(m->gates, a + (size_t)(t * GH) * m->rs, GH, m->dbl);
    return m->gates;
}

const double *rnnc_model_tensor(RnncModel *m, const char *name, long *n)
{
    const Plan *p = m->r->plan;
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        if (strcmp(t->name, name) != 0)
            continue;
        *n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        io_to_double(m->tensor, (const char *)m->params + (size_t)t->offset * m->rs, *n, m->dbl);
        return m->tensor;
    }
    return NULL;
}
