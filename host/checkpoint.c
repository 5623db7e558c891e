/* checkpoint.c — training checkpoints: weights, optimizer state, the schedule, the best
 * weights of early stopping and progress in one safetensors file, written atomically, read
 * back for a bit-exact resume (with any number of ranks: nothing in it is per rank).
 */
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int checkpoint_write(Trainer *t, const char *path, long epoch, long step)
{
    const Plan *p = t->r->plan;
    int n = p->ntensors, k = 0;
    RnnrtTensor *ts = calloc((size_t)(4 * n + 2), sizeof *ts);
    char **names = calloc((size_t)(3 * n), sizeof *names);
    long long prog[3] = {epoch, step, t->opt.step};
    double sched[SCHED_STATE];
    sched_save(&t->sched, sched);
    int rc = -1;
    if (!ts || !names)
        goto out;
    for (int i = 0; i < n; i++) {
        const PlanTensor *pt = &p->tensors[i];
        void *bufs[4] = {t->params, t->opt.m, t->opt.v, t->best};
        for (int b = 0; b < 4; b++) {
            if (!bufs[b])
                continue;
            RnnrtTensor *x = &ts[k++];
            if (b == 0) {
                x->name = (char *)pt->name;
            } else {
                size_t len = strlen(pt->name) + 10;
                char *nm = malloc(len);
                if (!nm)
                    goto out;
                if (b == 3)
                    snprintf(nm, len, "best.%s", pt->name);
                else
                    snprintf(nm, len, "optim.%c.%s", b == 1 ? 'm' : 'v', pt->name);
                names[3 * i + b - 1] = nm;
                x->name = nm;
            }
            x->dtype = t->dbl ? RNNRT_F64 : RNNRT_F32;
            x->ndim = pt->ndim;
            x->shape[0] = pt->shape[0];
            x->shape[1] = pt->shape[1];
            x->data = (char *)bufs[b] + (size_t)pt->offset * t->rs;
        }
    }
    RnnrtTensor *sc = &ts[k++];
    sc->name = "rnnc.schedule";
    sc->dtype = RNNRT_F64;
    sc->ndim = 1;
    sc->shape[0] = SCHED_STATE;
    sc->data = sched;
    RnnrtTensor *pr = &ts[k++];
    pr->name = "rnnc.progress";
    pr->dtype = RNNRT_I64;
    pr->ndim = 1;
    pr->shape[0] = 3;
    pr->data = prog;
    RnnrtError err;
    if (rnnrt_st_write(path, ts, k, &err) < 0)
        io_rt_error(t->r, &err);
    else
        rc = 0;
out:
    if (rc < 0 && !t->r->diag.nerrors)
        diag_error(&t->r->diag, span_none(), "out of memory writing %s", path);
    for (int i = 0; names && i < 3 * n; i++)
        free(names[i]);
    free(names);
    free(ts);
    return rc;
}

int checkpoint_read(Trainer *t, const char *path, long *epoch, long *step)
{
    const Plan *p = t->r->plan;
    RnnrtTensorFile f;
    RnnrtError err;
    if (rnnrt_st_read(path, &f, &err) < 0) {
        io_rt_error(t->r, &err);
        return -1;
    }
    int rc = -1;
    const RnnrtTensor *pr = rnnrt_st_find(&f, "rnnc.progress");
    if (!pr || pr->dtype != RNNRT_I64 || pr->ndim != 1 || pr->shape[0] != 3) {
        diag_error(&t->r->diag, span_none(), "%s: not an rnnc checkpoint (no rnnc.progress)",
                   path);
        goto out;
    }
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *pt = &p->tensors[i];
        void *bufs[4] = {t->params, t->opt.m, t->opt.v, t->best};
        for (int b = 0; b < 4; b++) {
            if (!bufs[b])
                continue;
            char nm[512];
            if (b == 3)
                snprintf(nm, sizeof nm, "best.%s", pt->name);
            else if (b > 0)
                snprintf(nm, sizeof nm, "optim.%c.%s", b == 1 ? 'm' : 'v', pt->name);
            else
                snprintf(nm, sizeof nm, "%s", pt->name);
            const RnnrtTensor *x = rnnrt_st_find(&f, nm);
            if (!x && b == 3)
                continue; /* a checkpoint of a run without early stopping */
            long want = pt->shape[0] * (pt->ndim == 2 ? pt->shape[1] : 1);
            long got = 1;
            for (int d = 0; x && d < x->ndim; d++)
                got *= x->shape[d];
            if (!x || got != want || x->dtype != (t->dbl ? RNNRT_F64 : RNNRT_F32)) {
                diag_error(&t->r->diag, span_none(),
                           "%s: checkpoint lacks '%s' of %ld %s "
                           "values (another spec or optimizer?)",
                           path, nm, want, t->dbl ? "float64" : "float32");
                goto out;
            }
            memcpy((char *)bufs[b] + (size_t)pt->offset * t->rs, x->data, (size_t)want * t->rs);
        }
    }
    const RnnrtTensor *sc = rnnrt_st_find(&f, "rnnc.schedule");
    if (sc && sc->dtype == RNNRT_F64 && sc->ndim == 1 && sc->shape[0] == SCHED_STATE)
        sched_load(&t->sched, sc->data);
    const long long *pv = pr->data;
    *epoch = (long)pv[0];
    *step = (long)pv[1];
    t->opt.step = (long)pv[2];
    rc = 0;
out:
    rnnrt_st_free(&f);
    return rc;
}
