/* check_train.c — the check stage's rules for the spec's train: block (optimizer, its
 * hyperparameters, batching, clipping, tbptt) and its scheduler: and early_stopping:
 * mappings, into the Net's TrainCfg; also the command line's train overrides
 * (check_train_set), which go through the same rule per key.
 */
#include "check_int.h"

#include <string.h>

/* train: keys; the mask holds which optimizers (opt_names' order) a key applies to */
enum { FOR_SGD = 1, FOR_ADAM = 2, FOR_ADAMW = 4, FOR_OPT_ALL = 7 };
static const KeyInfo train_keys[] = {
    {"optimizer", FOR_OPT_ALL},
    {"lr", FOR_OPT_ALL},
    {"weight_decay", FOR_OPT_ALL},
    {"momentum", FOR_SGD},
    {"nesterov", FOR_SGD},
    {"betas", FOR_ADAM | FOR_ADAMW},
    {"eps", FOR_ADAM | FOR_ADAMW},
    {"batch_size", FOR_OPT_ALL},
    {"epochs", FOR_OPT_ALL},
    {"shuffle", FOR_OPT_ALL},
    {"clip_grad_norm", FOR_OPT_ALL},
    {"clip_grad_value", FOR_OPT_ALL},
    {"tbptt", FOR_OPT_ALL},
    {"seed", FOR_OPT_ALL},
    {"scheduler", FOR_OPT_ALL},
    {"early_stopping", FOR_OPT_ALL},
    {NULL, 0},
};
/* train.scheduler keys; the mask holds which kinds a key applies to */
enum { FOR_STEP = 1, FOR_COSINE = 2, FOR_PLATEAU = 4, FOR_SCHED_ALL = 7 };
static const KeyInfo sched_keys[] = {
    {"kind", FOR_SCHED_ALL},
    {"step_size", FOR_STEP},
    {"gamma", FOR_STEP},
    {"t_max", FOR_COSINE},
    {"eta_min", FOR_COSINE},
    {"warmup_epochs", FOR_COSINE},
    {"warmup_factor", FOR_COSINE},
    {"factor", FOR_PLATEAU},
    {"patience", FOR_PLATEAU},
    {"threshold", FOR_PLATEAU},
    {"cooldown", FOR_PLATEAU},
    {"min_lr", FOR_PLATEAU},
    {NULL, 0},
};
static const KeyInfo stop_keys[] = {{"patience", 0}, {"min_delta", 0}, {NULL, 0}};
static const char *const sched_names[] = {"step", "cosine", "plateau", NULL};
static const char *const opt_names[] = {"sgd", "adam", "adamw", NULL};

/* train.scheduler:
 *   kind: cosine           # step | cosine | plateau: PyTorch's StepLR, CosineAnnealingLR
 *                          # (after LinearLR when warmup_epochs), ReduceLROnPlateau
 *   step_size: 10  gamma: 0.1                            # step (step_size required)
 *   t_max: 0  eta_min: 0.0  warmup_epochs: 0  warmup_factor: 0.333  # cosine
 *   factor: 0.1  patience: 10  threshold: 1.0e-4  cooldown: 0  min_lr: 0.0  # plateau
 */
static void check_sched(Checker *c, const Node *m, RnncSchedCfg *s)
{
    memset(s, 0, sizeof *s);
    s->gamma = 0.1;
    s->warmup_factor = 1.0 / 3;
    s->factor = 0.1;
    s->patience = 10;
    s->threshold = 1e-4;
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'scheduler' must be a mapping, found %s",
                   check_node_what(m));
        return;
    }
    const Node *v = spec_map_get(m, "kind");
    int kind = -1;
    if (!v)
        check_missing(c, m, "kind", "train.scheduler");
    else if ((kind = check_get_enum(c, v, "kind", sched_names)) >= 0)
        s->kind = (RnncSchedKind)(kind + 1);
    check_keys(c, m, sched_keys, &(KeyFilter){"kind", sched_names, kind}, "train.scheduler");
    if (kind < 0)
        return;
    if ((v = spec_map_get(m, "step_size")) != NULL)
        check_get_int(c, v, "step_size", 1, 1000000, &s->step_size);
    else if (kind == 0)
        check_missing(c, m, "step_size", "train.scheduler (kind: step)");
    if ((v = spec_map_get(m, "gamma")) != NULL)
        check_get_range(c, v, "gamma", 0, 1, 0, 1, &s->gamma);
    if ((v = spec_map_get(m, "t_max")) != NULL)
        check_get_int(c, v, "t_max", 1, 1000000, &s->t_max);
    if ((v = spec_map_get(m, "eta_min")) != NULL)
        check_get_range(c, v, "eta_min", 0, 1e6, 0, 0, &s->eta_min);
    if ((v = spec_map_get(m, "warmup_epochs")) != NULL)
        check_get_int(c, v, "warmup_epochs", 0, 1000000, &s->warmup_epochs);
    if ((v = spec_map_get(m, "warmup_factor")) != NULL)
        check_get_range(c, v, "warmup_factor", 0, 1, 0, 1, &s->warmup_factor);
    if ((v = spec_map_get(m, "factor")) != NULL)
        check_get_range(c, v, "factor", 0, 1, 1, 1, &s->factor);
    if ((v = spec_map_get(m, "patience")) != NULL)
        check_get_int(c, v, "patience", 0, 1000000, &s->patience);
    if ((v = spec_map_get(m, "threshold")) != NULL)
        check_get_range(c, v, "threshold", 0, 1, 1, 0, &s->threshold);
    if ((v = spec_map_get(m, "cooldown")) != NULL)
        check_get_int(c, v, "cooldown", 0, 1000000, &s->cooldown);
    if ((v = spec_map_get(m, "min_lr")) != NULL)
        check_get_range(c, v, "min_lr", 0, 1e6, 0, 0, &s->min_lr);
}

/* train.early_stopping:
 *   patience: 5            # required: epochs without a better validation loss, then stop
 *   min_delta: 0.0         # how much lower counts as better
 */
static void check_early_stop(Checker *c, const Node *m, TrainCfg *t)
{
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'early_stopping' must be a mapping, found %s",
                   check_node_what(m));
        return;
    }
    check_keys(c, m, stop_keys, NULL, "train.early_stopping");
    const Node *v;
    if ((v = spec_map_get(m, "patience")) != NULL)
        check_get_int(c, v, "patience", 1, 1000000, &t->stop_patience);
    else
        check_missing(c, m, "patience", "train.early_stopping");
    if ((v = spec_map_get(m, "min_delta")) != NULL)
        check_get_range(c, v, "min_delta", 0, 1e30, 0, 0, &t->stop_min_delta);
}

/* One key of train: into *t (the optimizer already set): the rule of each key, in one place
 * for the spec's block and the command line's overrides. */
static void train_key(Checker *c, TrainCfg *t, const char *key, const Node *v)
{
    int opt = (int)t->optimizer, iv;
    if (strcmp(key, "lr") == 0)
        check_get_range(c, v, "lr", 0, 1e6, 0, 1, &t->lr);
    else if (strcmp(key, "weight_decay") == 0)
        check_get_range(c, v, "weight_decay", 0, 1e6, 0, 0, &t->weight_decay);
    else if (strcmp(key, "momentum") == 0 && opt == RNNC_OPT_SGD)
        check_get_range(c, v, "momentum", 0, 1, 1, 0, &t->momentum);
    else if (strcmp(key, "nesterov") == 0 && opt == RNNC_OPT_SGD) {
        if (check_get_bool(c, v, "nesterov", &t->nesterov) == 0 && t->nesterov && t->momentum <= 0)
            diag_error(c->diag, v->span, "nesterov needs a momentum above 0 (as PyTorch's SGD)");
    } else if (strcmp(key, "eps") == 0 && opt != RNNC_OPT_SGD)
        check_get_range(c, v, "eps", 0, 1, 0, 1, &t->eps);
    else if (strcmp(key, "betas") == 0 && opt != RNNC_OPT_SGD) {
        if (v->kind != NODE_SEQ || v->n != 2)
            diag_error(c->diag, v->span,
                       "'betas' must be a list of two numbers, e.g. [0.9, 0.999]");
        else if (check_get_range(c, v->vals[0], "betas[0]", 0, 1, 1, 0, &t->beta1) == 0)
            check_get_range(c, v->vals[1], "betas[1]", 0, 1, 1, 0, &t->beta2);
    } else if (strcmp(key, "batch_size") == 0)
        check_get_int(c, v, "batch_size", 1, 1 << 24, &t->batch_size);
    else if (strcmp(key, "epochs") == 0)
        check_get_int(c, v, "epochs", 1, 1000000, &t->epochs);
    else if (strcmp(key, "shuffle") == 0)
        check_get_bool(c, v, "shuffle", &t->shuffle);
    else if (strcmp(key, "clip_grad_norm") == 0)
        check_get_range(c, v, "clip_grad_norm", 0, 1e30, 0, 0, &t->clip_grad_norm);
    else if (strcmp(key, "clip_grad_value") == 0)
        check_get_range(c, v, "clip_grad_value", 0, 1e30, 0, 0, &t->clip_grad_value);
    else if (strcmp(key, "tbptt") == 0 && check_get_int(c, v, "tbptt", 0, 1 << 24, &iv) == 0)
        t->tbptt = iv;
    else if (strcmp(key, "seed") == 0 && check_get_int(c, v, "seed", 0, 2147483647, &iv) == 0)
        t->seed = iv;
    else if (strcmp(key, "scheduler") == 0)
        check_sched(c, v, &t->sched);
    else if (strcmp(key, "early_stopping") == 0)
        check_early_stop(c, v, t);
}

/* train:
 *   optimizer: adam        # sgd | adam | adamw (default adam)
 *   lr: 0.001              # default 0.001 (0.01 for sgd)
 *   momentum: 0.0          # sgd; nesterov: false (needs momentum > 0)
 *   betas: [0.9, 0.999]    # adam, adamw; eps: 1.0e-08
 *   weight_decay: 0.0      # default 0 (0.01 for adamw, as PyTorch)
 *   batch_size: 32  epochs: 10  shuffle: true  seed: 0
 *   clip_grad_norm: 0      # 0: off;  clip_grad_value: 0
 *   tbptt: 0               # truncated backpropagation window K; 0: full
 *   scheduler: {kind: step, step_size: 10}   # see check_sched
 *   early_stopping: {patience: 5}            # see check_early_stop
 */
void check_train(Checker *c, const Node *m, TrainCfg *t)
{
    memset(t, 0, sizeof *t);
    t->optimizer = RNNC_OPT_ADAM;
    t->beta1 = 0.9;
    t->beta2 = 0.999;
    t->eps = 1e-8;
    t->batch_size = 32;
    t->epochs = 10;
    t->shuffle = 1;
    if (!m)
        goto defaults;
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'train' must be a mapping, found %s", check_node_what(m));
        return;
    }
    const Node *v;
    int opt = RNNC_OPT_ADAM;
    if ((v = spec_map_get(m, "optimizer")) != NULL &&
        (opt = check_get_enum(c, v, "optimizer", opt_names)) < 0)
        opt = RNNC_OPT_ADAM;
    t->optimizer = (RnncOptimizer)opt;
    if (opt == RNNC_OPT_ADAMW)
        t->weight_decay = 0.01;
    check_keys(c, m, train_keys, &(KeyFilter){"optimizer", opt_names, opt}, "train");
    /* in the order of train_keys: momentum before nesterov */
    for (const KeyInfo *k = train_keys + 1; k->key; k++)
        if ((v = spec_map_get(m, k->key)) != NULL)
            train_key(c, t, k->key, v);
defaults:
    if (t->lr == 0)
        t->lr = t->optimizer == RNNC_OPT_SGD ? 0.01 : 0.001;
}

int check_train_set(Arena *a, DiagList *d, TrainCfg *t, const char *key, const Node *v)
{
    Checker c = {a, d};
    int e0 = d->nerrors;
    const KeyInfo *k = train_keys;
    while (k->key && strcmp(k->key, key) != 0)
        k++;
    if (!k->key) {
        diag_error(d, v->span, "train: has no key '%s'", key);
        return -1;
    }
    if (strcmp(key, "optimizer") == 0) {
        int opt = check_get_enum(&c, v, "optimizer", opt_names);
        if (opt >= 0)
            t->optimizer = (RnncOptimizer)opt;
    } else if (!(k->cells & (1 << t->optimizer))) {
        diag_error(d, v->span, "'%s' does not apply to the %s optimizer", key,
                   opt_names[t->optimizer]);
    } else {
        train_key(&c, t, key, v);
    }
    return d->nerrors == e0 ? 0 : -1;
}
