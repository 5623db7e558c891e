/* train.c — `rnnc train`: epochs of mini-batches through the JIT-compiled training unit, on
 * one rank or data-parallel over threads or MPI processes (each a Trainer with its own copy
 * of the weights and optimizer, batch.c running its share), with the learning-rate schedule,
 * early stopping, validation, progress reports, a CSV log and checkpoints (rank 0 alone).
 */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What every rank of a run reads: the arguments, the data, the compiled code. */
typedef struct Run {
    RnncTrainArgs *a;
    const TrainStart *start;
    const Dataset *tr, *va;
    const ModelFns *f;
    ModelFns f_;      /* what f points at */
    const char *ckpt; /* NULL: no checkpoint */
    double t0;        /* when the run started (the compile counts) */
    double t_train;   /* when every rank was ready to train */
    FILE *log;        /* rank 0's CSV log, or NULL */
    JitModule *jit;   /* the compiled unit, told how much work is left (jit_auto_remaining) */
} Run;

double train_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void trainer_free(Trainer *t)
{
    void *bufs[] = {t->params, t->packed,  t->dw,   t->dp,     t->xb,    t->yb,   t->lb,  t->db,
                    t->cache,  t->tb.data, t->lenb, t->order,  t->ys,    t->ls,   t->ds_, t->carry,
                    t->s0,     t->s1,      t->widx, t->countb, t->share, t->xbuf, t->best};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    rnnrt_optim_free(&t->opt);
    pair_free(t->pair);
}

/* Refuses what cannot be trained: no loss, or truncated BPTT through a bidirectional block,
 * or early stopping without validation data. 0, or -1 with the reason in r->diag. */
static int trainable(Rnnc *r, const RnncTrainArgs *a)
{
    const Net *net = r->net;
    if (net->loss == LOSS_NONE) {
        diag_error(&r->diag, span_none(),
                   "%s: the spec says no 'loss:' (cross_entropy, mse or "
                   "bce_with_logits): there is nothing to train for",
                   net->file);
        return -1;
    }
    for (int i = 0; i < net->nblocks && a->cfg.tbptt > 0; i++)
        if (net->blocks[i].dirs == 2) {
            diag_error(&r->diag, net->train_span,
                       "train.tbptt: truncated backpropagation "
                       "carries the state forward in time, which a "
                       "bidirectional block ('%s') cannot do",
                       net->blocks[i].name);
            return -1;
        }
    if (a->cfg.stop_patience > 0 && !a->val_input) {
        diag_error(&r->diag, net->train_span,
                   "train.early_stopping watches the validation loss: give --val-input "
                   "and --val-target");
        return -1;
    }
    return 0;
}

/* The optimizer and every buffer of one rank over data sets tr and va (va.N may be 0),
 * sized for batches of cfg->batch_size; llm.c-style, allocated once. 0, or -1. */
static int trainer_alloc(Trainer *t, const Dataset *tr, const Dataset *va)
{
    Rnnc *r = t->r;
    const Net *net = r->net;
    const Plan *p = r->plan;
    const TrainCfg *cfg = t->cfg;
    t->Bmax = cfg->batch_size;
    t->Tmax = tr->T > va->T ? tr->T : va->T;
    static const RnnrtOptKind kinds[] = {
        [RNNC_OPT_SGD] = RNNRT_SGD, [RNNC_OPT_ADAM] = RNNRT_ADAM, [RNNC_OPT_ADAMW] = RNNRT_ADAMW};
    t->opt.kind = kinds[cfg->optimizer];
    t->opt.lr = cfg->lr;
    t->opt.momentum = cfg->momentum;
    t->opt.weight_decay = cfg->weight_decay;
    t->opt.beta1 = cfg->beta1;
    t->opt.beta2 = cfg->beta2;
    t->opt.eps = cfg->eps;
    t->opt.nesterov = cfg->nesterov;
    RnnrtError err;
    if (rnnrt_optim_init(&t->opt, p->nparams, t->dbl, &err) < 0) {
        io_rt_error(r, &err);
        return -1;
    }
    sched_init(&t->sched, cfg);
    long BT = (long)t->Bmax * t->Tmax, ny = BT * net->out_size;
    long nb = (long)t->Bmax * net->out_size, S = p->state_reals;
    int width = net->input_size > net->out_size ? net->input_size : net->out_size;
    int nmax = tr->N > va->N ? tr->N : va->N;
    size_t B1 = (size_t)t->Bmax, rs = t->rs;
    t->packed = io_alloc64(((size_t)p->npacked + 1) * rs);
    t->dw = io_alloc64(((size_t)p->npacked + 1) * rs);
    t->dp = calloc((size_t)p->nparams + 1, rs);
    t->xb = io_alloc64((size_t)(BT * net->input_size + 1) * rs);
    t->yb = calloc((size_t)ny + 1, rs);
    t->lb = calloc((size_t)ny + 1, rs);
    t->db = calloc((size_t)ny + 1, rs);
    t->tb.data = calloc((size_t)(BT * width + 1), 8);
    t->lenb = calloc(B1, sizeof *t->lenb);
    /* order: (N) then scratch rows (Bmax), counted indices (Bmax), live and lengths (2 Bmax) */
    t->order = calloc((size_t)nmax + 4 * B1, sizeof *t->order);
    t->ys = calloc((size_t)nb + 1, rs);
    t->ls = calloc((size_t)nb + 1, rs);
    t->ds_ = calloc((size_t)nb + 1, rs);
    t->carry = calloc(B1 * (size_t)S + 1, rs);
    t->s0 = calloc(B1 * (size_t)S + 1, rs);
    t->s1 = calloc(B1 * (size_t)S + 1, rs);
    t->widx = calloc(B1, sizeof *t->widx);
    t->countb = calloc(B1, 1);
    t->share = calloc(B1, sizeof *t->share);
    t->xbuf = calloc((size_t)p->nparams + XSTAT, sizeof *t->xbuf);
    t->cache = io_alloc64((size_t)t->f->train_bytes(t->Bmax, t->Tmax));
    /* one rank alone: its forward and backward in two parts on two cores (the same bits as
     * one) */
    if (t->comm->size == 1)
        t->pair = pair_new(p, t->Bmax, t->Tmax);
    if (cfg->stop_patience > 0)
        t->best = calloc((size_t)p->nparams + 1, rs);
    if (!t->packed || !t->dw || !t->dp || !t->xb || !t->yb || !t->lb || !t->db || !t->tb.data ||
        !t->lenb || !t->order || !t->ys || !t->ls || !t->ds_ || !t->carry || !t->s0 || !t->s1 ||
        !t->widx || !t->countb || !t->share || !t->xbuf || !t->cache ||
        (cfg->stop_patience > 0 && !t->best)) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    return 0;
}

/* The starting weights: the caller's (start), a checkpoint's (with the optimizer state and
 * where it stopped), the --init file's, or PyTorch's initialisation from the seed. */
static int trainer_start(Trainer *t, const RnncTrainArgs *a, const TrainStart *st, long *epoch,
                         long *step)
{
    Rnnc *r = t->r;
    const Plan *p = r->plan;
    *epoch = *step = 0;
    if (a->init && !st)
        return (t->params = rnnc_load_weights(r, a->init)) ? 0 : -1;
    t->params = calloc((size_t)p->nparams + 1, t->rs);
    if (!t->params) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    if (st) {
        memcpy(t->params, st->params, (size_t)p->nparams * t->rs);
        if (st->opt && st->opt->kind == t->opt.kind && st->opt->n == t->opt.n) {
            memcpy(t->opt.m, st->opt->m, (size_t)p->nparams * t->rs);
            if (t->opt.v)
                memcpy(t->opt.v, st->opt->v, (size_t)p->nparams * t->rs);
            t->opt.step = st->opt->step;
        }
        return 0;
    }
    if (a->resume)
        return checkpoint_read(t, a->resume, epoch, step);
    random_init_params(p, t->params, t->cfg->seed);
    return 0;
}

int trainer_exchange(Trainer *t, double *buf, long n)
{
    if (t->comm->size == 1)
        return 0;
    double t0 = train_now_s();
    int rc = t->comm->sum(t->comm, buf, n);
    t->comm_s += train_now_s() - t0;
    if (rc == 0)
        return 0;
    diag_error(&t->r->diag, span_none(), "%s", t->comm->err);
    return -1;
}

/* Every rank's error flag and rank 0's stop request, summed: whether any rank failed
 * (then -1 everywhere) and whether to stop (t->stopping). */
static int agree(Trainer *t, int err)
{
    double f[2] = {err, t->stop_req}; /* not t->xbuf: it may be what failed to allocate */
    if (trainer_exchange(t, f, 2) < 0)
        return -1;
    t->stopping |= f[1] > 0;
    return f[0] > 0 ? -1 : 0;
}

/* Tells a->progress where training stands: after a step (end_of_epoch 0) or an epoch. */
static void report(const Run *run, RnncProgress pr, long done, long total_left)
{
    const RnncTrainArgs *a = run->a;
    if (!a->progress)
        return;
    pr.epochs = a->cfg.epochs;
    pr.elapsed = train_now_s() - run->t0;
    pr.steps_per_s = pr.elapsed > 0 ? (double)done / pr.elapsed : 0;
    pr.eta = pr.steps_per_s > 0 ? (double)(total_left - done) / pr.steps_per_s : 0;
    a->progress(a->ctx, &pr);
}

/* One CSV row: step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time (empty: unknown). */
static void log_row(const Run *run, long step, long epoch, double loss, double vl, double va,
                    double lr, double gn)
{
    FILE *f = run->log;
    if (!f)
        return;
    double v[6] = {loss, vl, va, lr, gn, train_now_s() - run->t0};
    fprintf(f, "%ld,%ld", step, epoch);
    for (int i = 0; i < 6; i++) {
        if (isnan(v[i]))
            fputs(",", f);
        else
            fprintf(f, ",%.9g", v[i]);
    }
    fputc('\n', f);
    fflush(f);
}

/* The weights to leave in a->save: the best under early stopping (once there is one), else
 * the current ones. */
static int save_weights(Trainer *t, const RnncTrainArgs *a, int have_best)
{
    if (!a->save || t->comm->rank != 0)
        return 0;
    return io_save_params(t->r, a->save, have_best && t->best ? t->best : t->params);
}

/* After epoch `epoch`: validation, early stopping, the schedule's step, the checkpoint, the
 * report and the log row. Returns 1 when early stopping ends training, 0, or -1. */
static int end_epoch(Trainer *t, Run *run, long epoch, double sum, long nb, long correct,
                     long total, long done, long total_left, int *have_best)
{
    const Plan *p = t->r->plan;
    int rank0 = t->comm->rank == 0;
    long steps = (run->tr->N + t->Bmax - 1) / t->Bmax;
    double vl = NAN, vacc = NAN, loss = sum / (double)(nb ? nb : 1), lr = t->opt.lr;
    if (run->va->N && batch_evaluate(t, run->va, &vl, &vacc) < 0)
        return -1;
    int best = 0, stop = sched_early_stop(&t->sched, vl, &best);
    if (best && t->best) {
        memcpy(t->best, t->params, (size_t)p->nparams * t->rs);
        *have_best = 1;
    }
    sched_step(&t->sched, run->va->N ? vl : loss);
    if (rank0 && run->ckpt && checkpoint_write(t, run->ckpt, epoch + 1, 0) < 0)
        return -1;
    if (run->start && run->start->epoch_done)
        run->start->epoch_done(run->start->ctx, t->params, &t->opt);
    RnncProgress pr = {(int)epoch + 1,
                       0,
                       steps,
                       steps,
                       loss,
                       0,
                       0,
                       0,
                       1,
                       total ? (double)correct / (double)total : NAN,
                       vl,
                       vacc,
                       lr,
                       best};
    if (rank0) {
        report(run, pr, done, total_left);
        log_row(run, (epoch + 1) * steps, epoch + 1, loss, vl, vacc, lr,
                t->gn_n ? t->gn_sum / (double)t->gn_n : NAN);
    }
    return stop;
}

/* The epochs from (epoch, step) on, a checkpoint after each; stops early (checkpoint and
 * weights written, a->stopped set) when *a->stop is raised on rank 0, or when early
 * stopping says so. 0, or -1 (a non-finite loss, an error on some rank). */
static int train_epochs(Trainer *t, Run *run, long start_epoch, long start_step)
{
    RnncTrainArgs *a = run->a;
    Rnnc *r = t->r;
    const TrainCfg *cfg = t->cfg;
    const Dataset *tr = run->tr;
    int rank0 = t->comm->rank == 0, have_best = t->best && !isinf(t->sched.es_best);
    long steps = (tr->N + t->Bmax - 1) / t->Bmax, every = a->log_every;
    long done = 0, total_left = (cfg->epochs - start_epoch) * steps - start_step;
    const double t_start = train_now_s();
    for (long epoch = start_epoch; epoch < cfg->epochs; epoch++) {
        t->opt.lr = t->sched.lr;
        /* the REPL's train commands go on where the last one ended: shuffles and masks */
        long ep = epoch + (run->start ? run->start->epoch0 : 0);
        random_epoch_order(t->order, tr->N, cfg->shuffle, cfg->seed, ep);
        double sum = 0, win = 0, gwin = 0;
        long correct = 0, total = 0, nb = 0, nwin = 0, gn0 = 0;
        t->gn_sum = 0;
        t->gn_n = 0;
        for (long s = epoch == start_epoch ? start_step : 0; s < steps; s++) {
            /* rank 0's stop request rides on the batch's first exchange: every rank stops
             * before the next batch (one rank alone at once) */
            t->stop_req = rank0 && a->stop && *a->stop;
            if (t->comm->size == 1)
                t->stopping |= t->stop_req;
            if (t->stopping) {
                a->stopped = 1;
                if (rank0 && run->ckpt && checkpoint_write(t, run->ckpt, epoch, s) < 0)
                    return -1;
                return save_weights(t, a, have_best);
            }
            int Bb = (int)(tr->N - s * t->Bmax < t->Bmax ? tr->N - s * t->Bmax : t->Bmax);
            double l;
            t->mask_seed = ((unsigned long long)cfg->seed << 40) ^ ((unsigned long long)ep << 20) ^
                           (unsigned long long)s ^ 0xd509d509ull;
            double g0 = t->gn_sum;
            if (batch_run(t, tr, t->order + s * t->Bmax, Bb, 1, &l, &correct, &total) < 0)
                return -1;
            if (!isfinite(l)) {
                if (rank0)
                    diag_error(&r->diag, span_none(),
                               "the loss became %s at epoch %ld, step %ld: "
                               "training stopped (lower train.lr, or clip "
                               "gradients); the last good checkpoint is %s",
                               isnan(l) ? "NaN" : "infinite", epoch + 1, s + 1,
                               run->ckpt ? run->ckpt : "(none)");
                return -1;
            }
            sum += l;
            nb++;
            done++;
            win += l;
            nwin++;
            gwin += t->gn_sum - g0;
            if (rank0 && every > 0 && (s + 1) % every == 0) {
                long ng = t->gn_n - gn0;
                log_row(run, epoch * steps + s + 1, epoch + 1, win / (double)nwin, NAN, NAN,
                        t->opt.lr, ng ? gwin / (double)ng : NAN);
                win = gwin = 0;
                nwin = 0;
                gn0 = t->gn_n;
            }
            /* the batches left at the pace so far */
            jit_auto_remaining(run->jit, (train_now_s() - t_start) * (double)(total_left - done) /
                                             (double)done);
            RnncProgress pr = {
                (int)epoch + 1, 0, s + 1, steps, sum / (double)nb, 0, 0, 0, 0, NAN, NAN, NAN,
                t->opt.lr,      0};
            if (rank0)
                report(run, pr, done, total_left);
        }
        int es = end_epoch(t, run, epoch, sum, nb, correct, total, done, total_left, &have_best);
        if (es < 0)
            return -1;
        if (es) {
            a->early_stopped = 1;
            break;
        }
    }
    return save_weights(t, a, have_best);
}

/* One rank of the run, start to end: its buffers, its starting weights, the epochs. */
static int rank_run(Trainer *t, Run *run)
{
    RnncTrainArgs *a = run->a;
    long epoch = 0, step = 0;
    /* a rank that failed to get here (data, compile, log) still agrees: no rank then waits */
    int err = !run->f || trainer_alloc(t, run->tr, run->va) < 0 ||
              trainer_start(t, a, run->start, &epoch, &step) < 0;
    if (!err) {
        t->f->pack(t->params, t->packed);
        if (run->start)
            epoch = step = 0;
    }
    t->stop_req = t->comm->rank == 0 && a->stop && *a->stop;
    if (agree(t, err) < 0)
        return -1;
    t->comm_s = 0; /* count the exchanges of training, not the wait for the slowest start */
    if (t->comm->rank == 0)
        run->t_train = train_now_s();
    return train_epochs(t, run, epoch, step);
}

/* A thread rank: its own trainer and diagnostics (merged into r's after the join). */
typedef struct ThreadRank {
    pthread_t tid;
    Rnnc r;
    Trainer t;
    Comm comm;
    Run *run;
    int rc;
    struct Gate *gate;
} ThreadRank;

/* All threads start or none: a barrier of n must not wait for a thread that never began. */
typedef struct Gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* 0 wait, 1 go, -1 give up */
} Gate;

static void *thread_main(void *arg)
{
    ThreadRank *q = arg;
    pthread_mutex_lock(&q->gate->mu);
    while (q->gate->state == 0)
        pthread_cond_wait(&q->gate->cv, &q->gate->mu);
    int go = q->gate->state > 0;
    pthread_mutex_unlock(&q->gate->mu);
    q->rc = go ? rank_run(&q->t, q->run) : -1;
    return NULL;
}

static void gate_open(Gate *g, int state)
{
    pthread_mutex_lock(&g->mu);
    g->state = state;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Ranks 1 .. n-1 on threads, rank 0 here; diagnostics of every rank end up in r's. */
static int run_threads(Rnnc *r, Run *run, Trainer *t0, int n)
{
    CommGroup *g = comm_threads_new(n);
    ThreadRank *tr = calloc((size_t)n, sizeof *tr);
    Gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    if (!g || !tr) {
        comm_threads_free(g);
        free(tr);
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    Comm c0;
    comm_threads_join(g, &c0, 0);
    t0->comm = &c0;
    int started = 1, rc = 0;
    for (int k = 1; k < n; k++) {
        ThreadRank *q = &tr[k];
        rnnc_init(&q->r);
        q->r.doc = r->doc;
        q->r.net = r->net;
        q->r.plan = r->plan;
        q->r.jit = r->jit;
        q->t = *t0;
        q->t.r = &q->r;
        comm_threads_join(g, &q->comm, k);
        q->t.comm = &q->comm;
        q->run = run;
        q->gate = &gate;
    }
    for (int k = 1; k < n && started == k; k++)
        if (pthread_create(&tr[k].tid, NULL, thread_main, &tr[k]) == 0)
            started++;
    gate_open(&gate, started == n ? 1 : -1);
    if (started < n) {
        diag_error(&r->diag, span_none(), "cannot start %d threads", n);
        rc = -1;
    } else {
        rc = rank_run(t0, run);
    }
    for (int k = 1; k < started; k++) {
        pthread_join(tr[k].tid, NULL);
        rc = rc < 0 || tr[k].rc < 0 ? -1 : rc;
        for (int i = 0; i < tr[k].r.diag.n; i++)
            diag_add(&r->diag, tr[k].r.diag.items[i].sev, span_none(), "%s",
                     tr[k].r.diag.items[i].msg);
    }
    for (int k = 1; k < n; k++) {
        trainer_free(&tr[k].t);
        rnnc_fini(&tr[k].r);
    }
    free(tr);
    comm_threads_free(g);
    return rc;
}

/* Opens rank 0's CSV log: appended to when resuming a run that has one, else new. */
static FILE *log_open(Rnnc *r, const RnncTrainArgs *a)
{
    FILE *f = NULL;
    if (a->resume) {
        f = fopen(a->log, "r");
        int has = f && fgetc(f) != EOF;
        if (f)
            fclose(f);
        f = has ? fopen(a->log, "a") : NULL;
        if (f)
            return f;
    }
    f = fopen(a->log, "w");
    if (!f) {
        diag_error(&r->diag, span_none(), "%s: cannot write the log", a->log);
        return NULL;
    }
    fputs("step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time\n", f);
    return f;
}

/* This process's communicator: MPI's rank, else the single one. 0 or -1. */
static int open_comm(Rnnc *r, RnncTrainArgs *a, Comm *c)
{
    comm_single(c);
    if (a->mpi && comm_mpi_open(c) < 0) {
        diag_error(&r->diag, span_none(), "%s", c->err);
        return -1;
    }
    a->rank = c->rank;
    a->nranks = c->size;
    return 0;
}

int train_run(Rnnc *r, RnncTrainArgs *a, const TrainStart *start)
{
    const Plan *p = r->plan;
    Trainer t;
    memset(&t, 0, sizeof t);
    Dataset tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    Comm comm;
    Run run;
    memset(&run, 0, sizeof run);
    run.a = a;
    run.start = start;
    run.tr = &tr;
    run.va = &va;
    run.t0 = train_now_s();
    char *ckpt = NULL;
    JitModule *jit = NULL;
    int rc = -1;
    a->stopped = a->early_stopped = 0;
    if (trainable(r, a) < 0 || open_comm(r, a, &comm) < 0)
        return -1;
    int quiet = comm.rank != 0;
    t.r = r;
    t.cfg = &a->cfg;
    t.comm = &comm;
    t.dbl = r->net->dbl;
    t.rs = (size_t)p->real_size;
    t.per_step = !r->net->head.present || r->net->head.input == HEAD_SEQUENCE;
    /* under MPI a failure here goes on to rank_run, whose first exchange tells the others */
    int err = dataset_load(r, &tr, a->input, a->target, a->lengths, quiet) < 0 ||
              (a->val_input &&
               dataset_load(r, &va, a->val_input, a->val_target, a->val_lengths, quiet) < 0);
    if (!err && !a->checkpoint && a->save) {
        size_t n = strlen(a->save) + 6;
        if ((ckpt = malloc(n)) != NULL)
            snprintf(ckpt, n, "%s.ckpt", a->save);
    }
    run.ckpt = a->checkpoint ? a->checkpoint : ckpt;
    if (!err && a->save && !run.ckpt) {
        diag_error(&r->diag, span_none(), "out of memory");
        err = 1;
    }
    err = err || !(run.jit = jit = host_compile(r, r->jit, 1, &run.f_));
    err = err || (a->log && comm.rank == 0 && !(run.log = log_open(r, a)));
    t.f = run.f = err ? NULL : &run.f_;
    if (err && comm.size == 1)
        goto out;
    rc = a->threads > 1 && comm.size == 1 ? run_threads(r, &run, &t, a->threads)
                                          : rank_run(&t, &run);
    a->seconds = run.t_train > 0 ? train_now_s() - run.t_train : 0;
    a->comm_seconds = t.comm_s;
out:
    if (run.log)
        fclose(run.log);
    free(ckpt);
    jit_free(jit);
    trainer_free(&t);
    dataset_free(&tr);
    dataset_free(&va);
    return rc;
}

int rnnc_train(Rnnc *r, RnncTrainArgs *a)
{
    return train_run(r, a, NULL);
}

int rnnc_mpi_launched(void)
{
    return comm_mpi_launched();
}

int rnnc_mpi_rank(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v)
            return atoi(v);
    }
    return 0;
}
