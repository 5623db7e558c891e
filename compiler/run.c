/* run.c — the library side of `rnnc check`, `rnnc SPEC -o` and `rnnc run`: ties the
 * pipeline stages together and moves data between files (runtime/) and the JIT-compiled
 * model (jit.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "rnnc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../runtime/rnnrt.h"
#include "check.h"
#include "emit.h"
#include "jit.h"
#include "write.h"
#include "run_int.h"

void rnnc_init(Rnnc *r)
{
    memset(r, 0, sizeof *r);
    arena_init(&r->arena);
    diag_init(&r->diag, &r->arena);
}

void rnnc_free(Rnnc *r)
{
    arena_free(&r->arena);
    memset(r, 0, sizeof *r);
}

int rnnc_load_text(Rnnc *r, const char *name, const char *text)
{
    char *n = arena_strdup(&r->arena, name), *t = arena_strdup(&r->arena, text);
    if (!n || !t) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    r->doc = spec_parse(&r->arena, &r->diag, n, t);
    if (!r->doc)
        return -1;
    r->net = check_spec(&r->arena, &r->diag, r->doc);
    if (!r->net)
        return -1;
    r->plan = plan_build(&r->arena, &r->diag, r->net);
    return r->plan ? 0 : -1;
}

int rnnc_load(Rnnc *r, const char *path)
{
    r->doc = spec_load_file(&r->arena, &r->diag, path);
    if (!r->doc)
        return -1;
    r->net = check_spec(&r->arena, &r->diag, r->doc);
    if (!r->net)
        return -1;
    r->plan = plan_build(&r->arena, &r->diag, r->net);
    return r->plan ? 0 : -1;
}

static const char *cell_name(const Block *b)
{
    if (b->cell == CELL_LSTM)
        return b->proj_size ? "lstm (projected)" : "lstm";
    if (b->cell == CELL_GRU)
        return b->reset == RESET_AFTER ? "gru (reset after)" : "gru (reset before)";
    return b->nonlin == NONLIN_RELU ? "rnn (relu)" : "rnn (tanh)";
}

void rnnc_report(const Rnnc *r, FILE *out)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    fprintf(out, "%s: network %s, input_size %d, %s, %s\n", net->file, net->name, net->input_size,
            net->batch_first ? "batch_first" : "time-major", net->dbl ? "float64" : "float32");
    for (int i = 0; i < net->nblocks; i++) {
        const Block *b = &net->blocks[i];
        PlanBlockStats st;
        plan_block_stats(p, i, &st);
        fprintf(out, "block %s: %s, input %d, hidden %d", b->name, cell_name(b), b->input_size,
                b->hidden_size);
        if (b->proj_size)
            fprintf(out, ", proj %d", b->proj_size);
        fprintf(out, ", %d layer%s, %s\n", b->num_layers, b->num_layers > 1 ? "s" : "",
                b->dirs == 2 ? "bidirectional" : "unidirectional");
        fprintf(out, "  parameters      %ld (PyTorch, b_ih and b_hh), %ld with merged biases\n",
                st.torch_params, st.merged_params);
        fprintf(out, "  FLOPs per step  %ld per sequence\n", st.flops_per_step);
        fprintf(out, "  state           %ld bytes per sequence\n", st.state_bytes);
        for (int k = 0; k < p->nlayers; k++) {
            const PlanLayer *L = &p->layers[k];
            if (L->block_index == i && L->dir == 0)
                fprintf(out, "  layer %d         I=%d, %ld multiply-adds per step, %s kernel\n",
                        L->layer, L->I, L->macs, L->unrolled ? "unrolled" : "loop");
        }
    }
    if (net->head.present) {
        const Head *h = &net->head;
        static const char *const acts[] = {"none", "softmax", "sigmoid"};
        fprintf(out, "head %s: Linear(%d, %d), input %s, activation %s\n", h->name, h->in_features,
                h->out_features, h->input == HEAD_LAST ? "last" : "sequence", acts[h->activation]);
        fprintf(out, "  parameters      %ld\n",
                (long)h->out_features * h->in_features + (h->bias ? h->out_features : 0));
    }
    fprintf(out,
            "total: %ld parameters (%ld packed), %ld FLOPs per step, state %ld bytes "
            "per sequence,\n       scratch %ld bytes for B=1, T=100 (%ld for B=32, "
            "T=100)\n",
            p->nparams, p->npacked, p->flops_per_step, p->state_bytes,
            plan_scratch_bytes(p, 1, 100), plan_scratch_bytes(p, 32, 100));
    fprintf(out,
            "deployed (-o with --weights): flash %ld bytes of weights; RAM %ld bytes of "
            "state,\n       %ld bytes of work for sequences up to max_seq_len %d; %s\n",
            p->npacked * p->real_size, p->state_bytes, emit_deploy_work_bytes(p), net->max_seq_len,
            emit_can_stream(p) ? "streams step by step" : "bidirectional: whole sequences only");
}

int rnnc_write(Rnnc *r, const char *c_path)
{
    return write_unit(c_path, r->plan, &r->diag);
}

char *rnnc_source(Rnnc *r)
{
    CUnit u;
    if (emit_unit_jit(r->plan, 0, r->jit == JIT_TCC, &u, &r->diag) < 0)
        return NULL;
    char *s = cunit_join(&u);
    if (!s)
        diag_error(&r->diag, span_none(), "out of memory");
    cunit_free(&u);
    return s;
}

/* Adds each line of a runtime error as one diagnostic, after `prefix` when not NULL. */
void run_rt_error_in(Rnnc *r, const char *prefix, const RnnrtError *e)
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

void run_rt_error(Rnnc *r, const RnnrtError *e)
{
    run_rt_error_in(r, NULL, e);
}

/* Converts a float array of either precision into a fresh block of the model's. */
void *run_to_real(const RnnrtArray *a, int dbl, long n)
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

void run_fmt_shape(char *buf, size_t n, const long *shape, int ndim)
{
    size_t at = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%ld", i ? ", " : "", shape[i]);
    if (at < n)
        snprintf(buf + at, n - at, ndim == 1 ? ",)" : ")");
}

void *rnnc_load_weights(Rnnc *r, const char *path)
{
    const Plan *p = r->plan;
    int dbl = r->net->dbl;
    RnnrtTensorFile wf;
    RnnrtError err;
    if (rnnrt_st_read(path, &wf, &err) < 0) {
        run_rt_error(r, &err);
        return NULL;
    }
    RnnrtParamSpec *specs = arena_alloc(&r->arena, (size_t)p->ntensors * sizeof *specs);
    void *params = calloc((size_t)p->nparams + 1, dbl ? sizeof(double) : sizeof(float));
    if (!specs || !params) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto fail;
    }
    for (int i = 0; i < p->ntensors; i++) {
        specs[i].name = p->tensors[i].name;
        specs[i].ndim = p->tensors[i].ndim;
        specs[i].shape[0] = p->tensors[i].shape[0];
        specs[i].shape[1] = p->tensors[i].shape[1];
        specs[i].offset = p->tensors[i].offset;
    }
    if (rnnrt_params_load(&wf, specs, p->ntensors, dbl, params, &err) < 0) {
        run_rt_error_in(r, path, &err);
        goto fail;
    }
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        long n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        for (long k = 0; k < n; k++) {
            double v = dbl ? ((double *)params)[t->offset + k] : ((float *)params)[t->offset + k];
            if (v != v || v - v != 0) {
                diag_error(&r->diag, span_none(),
                           "%s: tensor '%s' holds a non-finite value "
                           "(%g) at index %ld",
                           path, t->name, v, k);
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

void run_data_free(RunData *d)
{
    rnnrt_array_free(&d->x);
    rnnrt_array_free(&d->lengths);
    free(d->params);
    free(d->packed);
    free(d->xr);
    free(d->y);
    free(d->h_n);
    free(d->c_n);
    free(d->len);
    free(d->source);
    jit_free(d->jit);
}

/* Reads and checks the input (and lengths); sets B and T. */
int run_load_inputs(Rnnc *r, const RnncRunArgs *a, RunData *d, int *B, int *T)
{
    const Net *net = r->net;
    RnnrtError err;
    if (rnnrt_npy_read(a->input, &d->x, &err) < 0) {
        run_rt_error(r, &err);
        return -1;
    }
    char got[128];
    run_fmt_shape(got, sizeof got, d->x.shape, d->x.ndim);
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
        run_rt_error(r, &err);
        return -1;
    }
    const RnnrtArray *l = &d->lengths;
    run_fmt_shape(got, sizeof got, l->shape, l->ndim);
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

/* One part of a threaded forward: the model's entry point, its arguments, its scratch; the
 * parts meet in a barrier between layers. */
typedef struct Part {
    const ModelFns *fns;
    const void *w, *x;
    const int *len;
    int B, T, part, nparts, rc;
    void *y, *h_n, *c_n, *scratch, *shared;
    pthread_barrier_t *barrier;
    struct Gate *gate;
} Part;

/* The start of the threads: they run only once all of them exist (go), or none (!go). */
typedef struct Gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open, go;
} Gate;

static void meet(void *barrier)
{
    pthread_barrier_wait(barrier);
}

static void *run_part(void *arg)
{
    Part *p = arg;
    if (p->gate) {
        pthread_mutex_lock(&p->gate->mu);
        while (!p->gate->open)
            pthread_cond_wait(&p->gate->cv, &p->gate->mu);
        int go = p->gate->go;
        pthread_mutex_unlock(&p->gate->mu);
        if (!go)
            return NULL;
    }
    void (*sync)(void *) = p->nparts > 1 ? meet : NULL;
    if (p->fns->dbl)
        p->rc = p->fns->par_f64(p->w, p->x, p->len, p->B, p->T, p->y, p->h_n, p->c_n, p->scratch,
                                p->shared, p->part, p->nparts, sync, p->barrier);
    else
        p->rc = p->fns->par_f32(p->w, p->x, p->len, p->B, p->T, p->y, p->h_n, p->c_n, p->scratch,
                                p->shared, p->part, p->nparts, sync, p->barrier);
    return NULL;
}

/* The forward pass on `threads` threads, each with its own scratch (thread 0's also holds
 * the layers' outputs they share): a batch in parts, and a bidirectional layer's two
 * directions at once. -1 when out of memory, threads cannot start, or the model refuses;
 * else 0. The results are one thread's, bit for bit. */
static int forward_threads(const ModelFns *fns, const void *w, const void *x, const int *len,
                           int B, int T, void *y, void *h_n, void *c_n, int threads)
{
    if (threads < 1)
        threads = 1;
    Part *parts = calloc((size_t)threads, sizeof *parts);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    pthread_barrier_t barrier;
    Gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int rc = parts && tid ? 0 : -1, started = 0, have_barrier = 0;
    if (rc == 0 && threads > 1)
        rc = pthread_barrier_init(&barrier, NULL, (unsigned)threads) == 0 ? 0 : -1;
    have_barrier = rc == 0 && threads > 1;
    for (int k = 0; k < threads && rc == 0; k++) {
        Part *p = &parts[k];
        *p = (Part){fns, w, x, len, B, T, k, threads, 0, y, h_n, c_n, NULL, NULL, &barrier,
                    k ? &gate : NULL};
        p->scratch = malloc((size_t)fns->scratch_bytes(B, T));
        p->shared = parts[0].scratch;
        if (!p->scratch)
            rc = -1;
    }
    /* every part runs, or none: a missing one would leave the others in the barrier */
    for (int k = 1; k < threads && rc == 0; k++, started++)
        if (pthread_create(&tid[k], NULL, run_part, &parts[k]) != 0)
            rc = -1;
    pthread_mutex_lock(&gate.mu);
    gate.open = 1;
    gate.go = rc == 0;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    if (rc == 0)
        run_part(&parts[0]);
    for (int k = 1; k <= started; k++)
        pthread_join(tid[k], NULL);
    for (int k = 0; parts && k < threads; k++) {
        rc |= parts[k].rc;
        free(parts[k].scratch);
    }
    if (have_barrier)
        pthread_barrier_destroy(&barrier);
    free(parts);
    free(tid);
    return rc ? -1 : 0;
}

/* Prints `y` of shape `shape` as rows of its last dimension, at most 12 rows and 8 values
 * a row; what is left out is said. */
void rnnc_print_array(FILE *out, const char *label, const void *y, int dbl, int ndim,
                      const long *shape)
{
    char sh[128];
    run_fmt_shape(sh, sizeof sh, shape, ndim);
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

static int save(Rnnc *r, const char *path, int dbl, void *data, int ndim, const long *shape,
                const char **written, int *nw)
{
    RnnrtArray arr = {dbl ? RNNRT_F64 : RNNRT_F32, ndim, {0}, data};
    memcpy(arr.shape, shape, (size_t)ndim * sizeof *shape);
    RnnrtError err;
    if (rnnrt_npy_write(path, &arr, &err) < 0) {
        run_rt_error(r, &err);
        for (int i = 0; i < *nw; i++)
            unlink(written[i]);
        return -1;
    }
    written[(*nw)++] = path;
    return 0;
}

int rnnc_run(Rnnc *r, const RnncRunArgs *a)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    const Block *top = &net->blocks[net->nblocks - 1];
    int dbl = net->dbl;
    size_t rs = dbl ? sizeof(double) : sizeof(float);
    if (a->c_n && top->cell != CELL_LSTM) {
        diag_error(&r->diag, span_none(),
                   "--c-n: the top block '%s' is %s; only an LSTM has "
                   "a cell state",
                   top->name, cell_name(top));
        return -1;
    }
    RunData d;
    memset(&d, 0, sizeof d);
    int rc = -1, B = 0, T = 0;
    d.params = rnnc_load_weights(r, a->weights);
    d.packed = calloc((size_t)p->npacked + 1, rs);
    if (!d.params)
        goto out;
    if (!d.packed) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    if (run_load_inputs(r, a, &d, &B, &T) < 0)
        goto out;
    long nx = rnnrt_array_numel(&d.x);
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long ny = (long)B * (per_step ? T : 1) * net->out_size;
    long nh = (long)p->top_layers * p->top_dirs * B * p->top_hr;
    long nc = (long)p->top_layers * p->top_dirs * B * top->hidden_size;
    d.xr = run_to_real(&d.x, dbl, nx);
    d.y = malloc((size_t)ny * rs);
    d.h_n = malloc((size_t)nh * rs);
    d.c_n = malloc((size_t)nc * rs);
    if (!d.xr || !d.y || !d.h_n || !d.c_n) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d, T=%d", B, T);
        goto out;
    }
    d.source = rnnc_source(r);
    if (!d.source)
        goto out;
    ModelFns fns;
    d.jit = jit_compile(r->jit, d.source, net->name, dbl, &fns, &r->diag);
    if (!d.jit)
        goto out;
    int lstm = top->cell == CELL_LSTM;
    if (dbl)
        fns.pack_f64(d.params, d.packed);
    else
        fns.pack_f32(d.params, d.packed);
    if (forward_threads(&fns, d.packed, d.xr, d.len, B, T, d.y, d.h_n, lstm ? d.c_n : NULL,
                        a->threads) != 0) {
        diag_error(&r->diag, span_none(),
                   "out of memory for B=%d, T=%d, or the model rejected them", B, T);
        goto out;
    }
    const char *written[3];
    int nw = 0;
    long yshape[3], hshape[3] = {(long)p->top_layers * p->top_dirs, B, p->top_hr};
    int ydim = per_step ? 3 : 2;
    if (!per_step) {
        yshape[0] = B;
        yshape[1] = net->out_size;
    } else {
        yshape[0] = net->batch_first ? B : T;
        yshape[1] = net->batch_first ? T : B;
        yshape[2] = net->out_size;
    }
    if (a->output && save(r, a->output, dbl, d.y, ydim, yshape, written, &nw) < 0)
        goto out;
    if (a->h_n && save(r, a->h_n, dbl, d.h_n, 3, hshape, written, &nw) < 0)
        goto out;
    hshape[2] = top->hidden_size;
    if (a->c_n && save(r, a->c_n, dbl, d.c_n, 3, hshape, written, &nw) < 0)
        goto out;
    if (a->print) {
        rnnc_print_array(a->print, "output", d.y, dbl, ydim, yshape);
        hshape[2] = p->top_hr;
        if (a->h_n)
            rnnc_print_array(a->print, "h_n", d.h_n, dbl, 3, hshape);
    }
    rc = 0;
out:
    run_data_free(&d);
    return rc;
}

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
    char *source = NULL;
    void *packed = calloc((size_t)p->npacked + 1, rs), *x = malloc((size_t)nx * rs);
    void *y = malloc((size_t)ny * rs), *scratch = NULL;
    void *params = rnnc_load_weights(r, weights);
    if (!params)
        goto out;
    if (!packed || !x || !y) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    source = rnnc_source(r);
    ModelFns fns;
    if (!source || !(jit = jit_compile(JIT_TCC, source, net->name, dbl, &fns, &r->diag)))
        goto out;
    scratch = malloc((size_t)fns.scratch_bytes(1, T));
    if (!scratch) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    golden_input(x, nx, dbl);
    int frc = dbl ? (fns.pack_f64(params, packed),
                     fns.forward_f64(packed, x, NULL, 1, T, y, NULL, NULL, scratch))
                  : (fns.pack_f32(params, packed),
                     fns.forward_f32(packed, x, NULL, 1, T, y, NULL, NULL, scratch));
    if (frc != 0) {
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
    free(source);
    free(params);
    free(packed);
    free(x);
    free(y);
    free(scratch);
    return rc;
}
