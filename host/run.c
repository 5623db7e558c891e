/* run.c — `rnnc run`: the JIT-compiled forward pass over a batch from files, on one thread
 * or on several (the generated <name>_forward_par, parts meeting in a barrier).
 */
#define _POSIX_C_SOURCE 200809L
#include "host.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"

/* One part of a threaded forward: the model's entry point, its arguments, its scratch; the
 * parts meet in a barrier between layers. */
typedef struct Part {
    const ModelFns *fns;
    const void *w, *x, *h0, *c0;
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
    p->rc = p->fns->forward_par(p->w, p->x, p->len, p->B, p->T, p->h0, p->c0, p->y, p->h_n, p->c_n,
                                p->scratch, p->shared, p->part, p->nparts, sync, p->barrier);
    return NULL;
}

/* The forward pass on `threads` threads, each with its own scratch (thread 0's also holds
 * the layers' outputs they share): a batch in parts, and a bidirectional layer's two
 * directions at once. -1 when out of memory, threads cannot start, or the model refuses;
 * else 0. The results are one thread's, bit for bit. */
static int forward_threads(const ModelFns *fns, const void *w, const void *x, const int *len,
                           int B, int T, const RunData *d, int threads)
{
    void *y = d->y, *h_n = d->h_n, *c_n = d->c_n;
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
        *p = (Part){fns,     w, x, d->h0, d->c0, len,  B,    T,        k,
                    threads, 0, y, h_n,   c_n,   NULL, NULL, &barrier, k ? &gate : NULL};
        p->scratch = io_alloc64((size_t)fns->scratch_bytes(B, T));
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
                   top->name, cell_desc(top)->name);
        return -1;
    }
    RunData d;
    memset(&d, 0, sizeof d);
    int rc = -1, B = 0, T = 0;
    d.params = rnnc_load_weights(r, a->weights);
    d.packed = io_alloc64(((size_t)p->npacked + 1) * rs);
    if (!d.params)
        goto out;
    if (!d.packed) {
        diag_error(&r->diag, span_none(), "out of memory");
        goto out;
    }
    if (io_load_inputs(r, a, &d, &B, &T) < 0)
        goto out;
    if (a->h0 && !(d.h0 = io_load_state(r, a->h0, "--h0", 0, B)))
        goto out;
    if (a->c0 && !(d.c0 = io_load_state(r, a->c0, "--c0", 1, B)))
        goto out;
    long nx = rnnrt_array_numel(&d.x);
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long ny = (long)B * (per_step ? T : 1) * net->out_size;
    long nh = (long)p->top_layers * p->top_dirs * B * p->top_hr;
    long nc = (long)p->top_layers * p->top_dirs * B * top->hidden_size;
    /* what the run will hold, refused up front with the figure rather than by a failed
     * malloc deep inside: x, y, h_n, c_n and each thread's scratch */
    long threads = a->threads > 1 ? a->threads : 1;
    size_t need = rnnrt_mem_product((const long[]){nx + ny + nh + nc, (long)rs}, 2);
    need = rnnrt_mem_sum(
        need, rnnrt_mem_product((const long[]){threads, plan_scratch_bytes(p, B, T)}, 2));
    RnnrtError merr;
    if (rnnrt_mem_check(need, a->input, &merr) < 0) {
        io_rt_error(r, &merr);
        goto out;
    }
    d.xr = io_to_real(&d.x, dbl, nx);
    d.y = malloc((size_t)ny * rs);
    d.h_n = malloc((size_t)nh * rs);
    d.c_n = malloc((size_t)nc * rs);
    if (!d.xr || !d.y || !d.h_n || !d.c_n) {
        diag_error(&r->diag, span_none(), "out of memory for B=%d, T=%d", B, T);
        goto out;
    }
    ModelFns fns;
    d.jit = host_compile(r, r->jit, 0, &fns);
    if (!d.jit)
        goto out;
    if (top->cell != CELL_LSTM) {
        free(d.c_n);
        d.c_n = NULL;
    }
    fns.pack(d.params, d.packed);
    if (forward_threads(&fns, d.packed, d.xr, d.len, B, T, &d, a->threads) != 0) {
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
    if (a->output && io_save(r, a->output, dbl, d.y, ydim, yshape, written, &nw) < 0)
        goto out;
    if (a->h_n && io_save(r, a->h_n, dbl, d.h_n, 3, hshape, written, &nw) < 0)
        goto out;
    hshape[2] = top->hidden_size;
    if (a->c_n && io_save(r, a->c_n, dbl, d.c_n, 3, hshape, written, &nw) < 0)
        goto out;
    if (a->print) {
        rnnc_print_array(a->print, "output", d.y, dbl, ydim, yshape);
        hshape[2] = p->top_hr;
        if (a->h_n)
            rnnc_print_array(a->print, "h_n", d.h_n, dbl, 3, hshape);
    }
    rc = 0;
out:
    io_data_free(&d);
    return rc;
}
