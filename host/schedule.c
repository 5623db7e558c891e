/* schedule.c — the learning rate of each epoch and early stopping. The rates follow PyTorch
 * 1.13's schedulers step by step, in their recursive ("chainable") forms and in the same
 * order of floating-point operations: StepLR; CosineAnnealingLR, after LinearLR inside a
 * SequentialLR when there is a warm-up; ReduceLROnPlateau (mode min, threshold_mode rel).
 */
#include "train.h"

#include <math.h>

/* Python's a % b for b > 0: never negative. */
static double py_mod(double a, double b)
{
    double m = fmod(a, b);
    return m < 0 ? m + b : m;
}

static double cos_tmax(const Schedule *s)
{
    const RnncSchedCfg *c = &s->cfg->sched;
    int T = c->t_max > 0 ? c->t_max : s->epochs - c->warmup_epochs;
    return T > 0 ? T : 1;
}

void sched_init(Schedule *s, const RnncTrainCfg *cfg)
{
    const RnncSchedCfg *c = &cfg->sched;
    s->cfg = cfg;
    s->epochs = cfg->epochs;
    s->base = s->lr = cfg->lr;
    s->e = s->sub_e = 0;
    s->best = INFINITY;
    s->bad = s->cooldown = 0;
    s->es_best = INFINITY;
    s->es_bad = 0;
    /* LinearLR's first step (last_epoch 0) multiplies by start_factor */
    if (c->kind == RNNC_SCHED_COSINE && c->warmup_epochs > 0)
        s->lr = s->lr * c->warmup_factor;
}

/* LinearLR.get_lr from start_factor f to end_factor 1 over W epochs (last_epoch e >= 1). */
static double linear_lr(double lr, double f, double W, double e)
{
    if (e > W)
        return lr;
    return lr * (1. + (1.0 - f) / (W * f + (e - 1) * (1.0 - f)));
}

/* CosineAnnealingLR.get_lr (recursive), last_epoch e >= 1. */
static double cosine_lr(const Schedule *s, double lr, double e)
{
    const double pi = 3.141592653589793, T = cos_tmax(s), eta = s->cfg->sched.eta_min;
    if (py_mod(e - 1 - T, 2 * T) == 0)
        return lr + (s->base - eta) * (1 - cos(pi / T)) / 2;
    return (1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (lr - eta) + eta;
}

void sched_step(Schedule *s, double metric)
{
    const RnncSchedCfg *c = &s->cfg->sched;
    s->e += 1;
    switch (c->kind) {
    case RNNC_SCHED_NONE:
        break;
    case RNNC_SCHED_STEP:
        if (fmod(s->e, c->step_size) == 0)
            s->lr = s->lr * c->gamma;
        break;
    case RNNC_SCHED_COSINE: {
        double W = c->warmup_epochs;
        if (W > 0 && s->e < W) { /* SequentialLR before its milestone: LinearLR.step() */
            s->sub_e += 1;
            s->lr = linear_lr(s->lr, c->warmup_factor, W, s->sub_e);
        } else if (W > 0 && s->e == W) { /* at the milestone: cosine.step(0), closed form */
            const double pi = 3.141592653589793, T = cos_tmax(s);
            s->sub_e = 0;
            s->lr = c->eta_min + (s->base - c->eta_min) * (1 + cos(pi * 0 / T)) / 2;
        } else {
            s->sub_e += 1;
            s->lr = cosine_lr(s, s->lr, s->sub_e);
        }
        break;
    }
    case RNNC_SCHED_PLATEAU:
        if (metric < s->best * (1. - c->threshold)) {
            s->best = metric;
            s->bad = 0;
        } else {
            s->bad += 1;
        }
        if (s->cooldown > 0) {
            s->cooldown -= 1;
            s->bad = 0;
        }
        if (s->bad > c->patience) {
            double old = s->lr, nw = old * c->factor > c->min_lr ? old * c->factor : c->min_lr;
            if (old - nw > 1e-8)
                s->lr = nw;
            s->cooldown = c->cooldown;
            s->bad = 0;
        }
        break;
    }
}

int sched_early_stop(Schedule *s, double val, int *best)
{
    *best = 0;
    if (s->cfg->stop_patience <= 0)
        return 0;
    if (val < s->es_best - s->cfg->stop_min_delta) {
        s->es_best = val;
        s->es_bad = 0;
        *best = 1;
        return 0;
    }
    s->es_bad += 1;
    return s->es_bad >= s->cfg->stop_patience;
}

void sched_save(const Schedule *s, double *out)
{
    double v[SCHED_STATE] = {s->lr,  s->e,        s->sub_e,   s->best,
                             s->bad, s->cooldown, s->es_best, s->es_bad};
    for (int i = 0; i < SCHED_STATE; i++)
        out[i] = v[i];
}

void sched_load(Schedule *s, const double *in)
{
    s->lr = in[0];
    s->e = in[1];
    s->sub_e = in[2];
    s->best = in[3];
    s->bad = in[4];
    s->cooldown = in[5];
    s->es_best = in[6];
    s->es_bad = in[7];
}
