/* test_loop.c — the training loop around the optimizer: learning-rate schedules against
 * PyTorch's schedulers (tests/sched_fixtures, tools/gen_sched_fixtures.py), alone and in
 * training; early stopping keeping the best weights; the CSV log; a mini-batch split over
 * threads against one process (within 1e-5) and reproducible bit for bit; a checkpoint
 * as rnnc run's weights; a bad class id reported at its row.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"
#include "train.h"

static char *fx(const char *name, const char *file)
{
    return tu_strf("%s/tests/train_fixtures/%s/%s", tu_src_root(), name, file);
}

/* "kind=step,step_size=3,..." into cfg->sched (and lr, epochs when given). */
static void parse_sched(char *kv, RnncTrainCfg *cfg)
{
    RnncSchedCfg *s = &cfg->sched;
    memset(s, 0, sizeof *s);
    s->gamma = 0.1;
    s->warmup_factor = 1.0 / 3;
    s->factor = 0.1;
    s->patience = 10;
    s->threshold = 1e-4;
    for (char *tok = strtok(kv, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        double d = strtod(v, NULL);
        if (!strcmp(k, "kind"))
            s->kind = !strcmp(v, "step")     ? RNNC_SCHED_STEP
                      : !strcmp(v, "cosine") ? RNNC_SCHED_COSINE
                                             : RNNC_SCHED_PLATEAU;
        else if (!strcmp(k, "lr"))
            cfg->lr = d;
        else if (!strcmp(k, "epochs"))
            cfg->epochs = (int)d;
        else if (!strcmp(k, "step_size"))
            s->step_size = (int)d;
        else if (!strcmp(k, "gamma"))
            s->gamma = d;
        else if (!strcmp(k, "t_max"))
            s->t_max = (int)d;
        else if (!strcmp(k, "eta_min"))
            s->eta_min = d;
        else if (!strcmp(k, "warmup_epochs"))
            s->warmup_epochs = (int)d;
        else if (!strcmp(k, "warmup_factor"))
            s->warmup_factor = d;
        else if (!strcmp(k, "factor"))
            s->factor = d;
        else if (!strcmp(k, "patience"))
            s->patience = (int)d;
        else if (!strcmp(k, "threshold"))
            s->threshold = d;
        else if (!strcmp(k, "cooldown"))
            s->cooldown = (int)d;
        else if (!strcmp(k, "min_lr"))
            s->min_lr = d;
        else
            fail_msg("unknown scheduler key %s", k);
    }
}

/* Every rate of every configuration of lrs.txt, epoch by epoch, as PyTorch's. */
static void test_schedules(void **state)
{
    (void)state;
    char *path = tu_strf("%s/tests/sched_fixtures/lrs.txt", tu_src_root());
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    int lines = 0, kinds[4] = {0};
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *name = line, *cfgs = strchr(name, ';');
        *cfgs++ = '\0';
        char *ms = strchr(cfgs, ';');
        *ms++ = '\0';
        char *lrs = strchr(ms, ';');
        *lrs++ = '\0';
        RnncTrainCfg cfg;
        memset(&cfg, 0, sizeof cfg);
        parse_sched(cfgs, &cfg);
        kinds[cfg.sched.kind]++;
        double metric[64] = {0}, want[64], got[64];
        char *p = ms;
        for (int e = 0; *ms != '-' && e < cfg.epochs; e++)
            metric[e] = strtod(p, &p);
        p = lrs;
        Schedule s;
        sched_init(&s, &cfg);
        for (int e = 0; e < cfg.epochs; e++) {
            want[e] = strtod(p, &p);
            got[e] = s.lr;
            sched_step(&s, metric[e]);
        }
        char *what = tu_strf("%s: learning rates", name);
        tu_assert_close(got, want, cfg.epochs, 1e-14, 0, what);
        free(what);
        lines++;
    }
    assert_true(lines >= 8 && kinds[1] >= 2 && kinds[2] >= 3 && kinds[3] >= 2);
    free(text);
    free(path);
}

static RnncProgress last;

static void note(void *ctx, const RnncProgress *p)
{
    (void)ctx;
    if (p->end_of_epoch)
        last = *p;
}

/* Trains fixture `name` from its weights with `cfg` into `save`; 0 or -1. */
static int train_fx(const char *name, RnncTrainCfg *cfg, int threads, const char *save,
                    const char *val, const char *log)
{
    Rnnc r;
    rnnc_init(&r);
    char *spec = fx(name, "spec.yaml"), *x = fx(name, "x.npy"), *t = fx(name, "target.npy");
    char *l = fx(name, "lengths.npy"), *w = fx(name, "weights.safetensors");
    assert_int_equal(rnnc_load(&r, spec), 0);
    RnncTrainArgs a;
    memset(&a, 0, sizeof a);
    a.input = x;
    a.target = t;
    a.lengths = tu_exists(l) ? l : NULL;
    if (val) {
        a.val_input = x;
        a.val_target = t;
        a.val_lengths = a.lengths;
    }
    a.init = w;
    a.save = save;
    a.cfg = cfg ? *cfg : r.net->train;
    a.threads = threads;
    a.log = log;
    a.progress = note;
    int rc = rnnc_train(&r, &a);
    if (rc < 0)
        diag_render(&r.diag, stderr);
    if (cfg)
        *cfg = a.cfg;
    rnnc_fini(&r);
    free(spec);
    free(x);
    free(t);
    free(l);
    free(w);
    return rc < 0 ? -1 : a.early_stopped;
}

/* 10 epochs of a fixture with a scheduler stepped after each, against PyTorch's weights. */
static void test_schedules_in_training(void **state)
{
    (void)state;
    char *path = tu_strf("%s/tests/sched_fixtures/train.txt", tu_src_root());
    char *text = tu_read_file(path, NULL);
    char *tmp = tu_mkdtemp(), *save = tu_strf("%s/w.st", tmp);
    int n = 0;
    for (char *sv = NULL, *line = strtok_r(text, "\n", &sv); line;
         line = strtok_r(NULL, "\n", &sv), n++) {
        char *name = line, *label = strchr(name, ';');
        *label++ = '\0';
        char *kv = strchr(label, ';');
        *kv++ = '\0';
        Rnnc r;
        rnnc_init(&r);
        char *spec = fx(name, "spec.yaml");
        assert_int_equal(rnnc_load(&r, spec), 0);
        RnncTrainCfg cfg = r.net->train;
        rnnc_fini(&r);
        double lr = cfg.lr;
        int epochs = cfg.epochs;
        parse_sched(kv, &cfg);
        cfg.lr = lr;
        cfg.epochs = epochs;
        assert_int_equal(train_fx(name, &cfg, 1, save, NULL, NULL), 0);
        char *want =
            tu_strf("%s/tests/sched_fixtures/%s__%s.safetensors", tu_src_root(), name, label);
        const char *worst = NULL;
        double d = tu_st_diff(save, want, &worst);
        if (d > 1e-5)
            fail_msg("%s with %s: %s off by %.3g relative", name, label, worst, d);
        free(want);
        free(spec);
    }
    assert_int_equal(n, 3);
    free(save);
    tu_rmdir(tmp);
    free(text);
    free(path);
}

static const char *const SGD_FX = "sgd_mom_lstm_l1_len_ce_last_softmax";

static RnncTrainCfg fx_cfg(const char *name)
{
    Rnnc r;
    rnnc_init(&r);
    char *spec = fx(name, "spec.yaml");
    assert_int_equal(rnnc_load(&r, spec), 0);
    RnncTrainCfg cfg = r.net->train;
    rnnc_fini(&r);
    free(spec);
    return cfg;
}

/* The weights (state_dict tensors only) of a checkpoint equal those of a weights file. */
static int ckpt_weights_equal(const char *ckpt, const char *weights)
{
    RnnrtTensorFile c, w;
    RnnrtError err;
    assert_int_equal(rnnrt_st_read(ckpt, &c, &err), 0);
    assert_int_equal(rnnrt_st_read(weights, &w, &err), 0);
    int eq = 1;
    for (int k = 0; k < w.n; k++) {
        const RnnrtTensor *a = &w.t[k], *b = rnnrt_st_find(&c, a->name);
        long n = 1;
        for (int d = 0; d < a->ndim; d++)
            n *= a->shape[d];
        eq = eq && b && memcmp(a->data, b->data, (size_t)n * rnnrt_dtype_size(a->dtype)) == 0;
    }
    rnnrt_st_free(&c);
    rnnrt_st_free(&w);
    return eq;
}

/* Early stopping: with a min_delta nothing can beat, the first epoch stays the best; after
 * `patience` more epochs training stops, --save holding epoch 1's weights, the checkpoint
 * the last epoch's. */
static void test_early_stopping(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *es = tu_strf("%s/es.st", tmp), *one = tu_strf("%s/one.st", tmp);
    char *three = tu_strf("%s/three.st", tmp), *ck = tu_strf("%s.ckpt", es);
    RnncTrainCfg cfg = fx_cfg(SGD_FX);
    cfg.stop_patience = 2;
    cfg.stop_min_delta = 1e30;
    assert_int_equal(train_fx(SGD_FX, &cfg, 1, es, "val", NULL), 1);
    assert_int_equal(last.epoch, 3);
    cfg.stop_patience = 0;
    cfg.epochs = 1;
    assert_int_equal(train_fx(SGD_FX, &cfg, 1, one, NULL, NULL), 0);
    cfg.epochs = 3;
    assert_int_equal(train_fx(SGD_FX, &cfg, 1, three, NULL, NULL), 0);
    assert_true(tu_files_equal(es, one));
    assert_true(ckpt_weights_equal(ck, three));
    assert_false(tu_files_equal(es, three));
    /* without validation data it is refused */
    cfg.stop_patience = 2;
    assert_int_equal(train_fx(SGD_FX, &cfg, 1, es, NULL, NULL), -1);
    free(es);
    free(one);
    free(three);
    free(ck);
    tu_rmdir(tmp);
}

/* --log: the header, a row every step (log_every 1) and one per epoch, 8 fields each. */
static void test_csv_log(void **state)
{
    (void)state;
    const char *root = tu_src_root(), *name = SGD_FX;
    char *tmp = tu_mkdtemp();
    char *cmd = tu_strf("cd '%s/tests/train_fixtures/%s' && '%s' train spec.yaml --input x.npy "
                        "--target target.npy --lengths lengths.npy --val-input x.npy "
                        "--val-target target.npy --val-lengths lengths.npy --save '%s/w.st' "
                        "--epochs 3 --batch-size 2 --log '%s/log.csv' --log-every 1",
                        root, name, tu_rnnc_bin(), tmp, tmp);
    char *out = NULL, *err = NULL;
    if (tu_run(cmd, &out, &err) != 0)
        fail_msg("%s\n%s", cmd, err);
    char *lp = tu_strf("%s/log.csv", tmp), *log = tu_read_file(lp, NULL);
    assert_non_null(log);
    const char *hdr = "step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time\n";
    assert_int_equal(strncmp(log, hdr, strlen(hdr)), 0);
    int rows = 0, epoch_rows = 0;
    for (char *sv = NULL, *line = strtok_r(log + strlen(hdr), "\n", &sv); line;
         line = strtok_r(NULL, "\n", &sv), rows++) {
        int commas = 0;
        for (char *c = line; *c; c++)
            commas += *c == ',';
        assert_int_equal(commas, 7);
        epoch_rows += strstr(line, ",,") == NULL; /* epoch rows have val_loss and val_acc */
    }
    assert_int_equal(rows, 3 * 2 + 3);
    assert_int_equal(epoch_rows, 3);
    /* usage errors: --log-every without --log, or not a whole number >= 1; --threads 0 */
    const char *bad[] = {"--log-every 2", "--log x.csv --log-every 0", "--threads 0"};
    for (int k = 0; k < 3; k++) {
        char *c = tu_strf("cd '%s/tests/train_fixtures/%s' && '%s' train spec.yaml --input x.npy "
                          "--target target.npy --save '%s/u.st' %s",
                          root, name, tu_rnnc_bin(), tmp, bad[k]);
        assert_int_equal(tu_run(c, NULL, NULL), 2);
        free(c);
    }
    free(log);
    free(lp);
    free(out);
    free(err);
    free(cmd);
    tu_rmdir(tmp);
}

/* A mini-batch split over 2 and 3 threads trains to the weights of one thread within
 * 1e-5 after 50 steps, and the same split twice gives the same bits; also with truncated
 * BPTT and with shuffled mini-batches. */
static void test_threads(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *w1 = tu_strf("%s/1.st", tmp), *w2 = tu_strf("%s/2.st", tmp);
    char *w2b = tu_strf("%s/2b.st", tmp), *w3 = tu_strf("%s/3.st", tmp);
    struct {
        const char *name;
        int epochs, batch, tbptt;
    } cases[] = {{SGD_FX, 50, 0, 0},
                 {"sgd_wd_rnn_relu_l2_tbf_len_ce_last_none", 25, 2, 0},
                 {"adam_lstm_proj_l2_unrolled_len_mse_seq_none", 10, 0, 2},
                 {"clip_norm_adamw_gru_l2_len_ce_seq_softmax", 10, 0, 0}};
    for (int i = 0; i < 4; i++) {
        RnncTrainCfg cfg = fx_cfg(cases[i].name);
        cfg.epochs = cases[i].epochs;
        if (cases[i].batch) {
            cfg.batch_size = cases[i].batch;
            cfg.shuffle = 1;
        }
        cfg.tbptt = cases[i].tbptt;
        assert_int_equal(train_fx(cases[i].name, &cfg, 1, w1, NULL, NULL), 0);
        assert_int_equal(train_fx(cases[i].name, &cfg, 2, w2, NULL, NULL), 0);
        assert_int_equal(train_fx(cases[i].name, &cfg, 2, w2b, NULL, NULL), 0);
        assert_int_equal(train_fx(cases[i].name, &cfg, 3, w3, NULL, NULL), 0);
        assert_true(tu_files_equal(w2, w2b));
        const char *worst;
        double d2 = tu_st_diff(w2, w1, &worst), d3 = tu_st_diff(w3, w1, &worst);
        if (d2 > 1e-5 || d3 > 1e-5)
            fail_msg("%s: 2 threads %.3g, 3 threads %.3g from one", cases[i].name, d2, d3);
    }
    free(w1);
    free(w2);
    free(w2b);
    free(w3);
    tu_rmdir(tmp);
}

/* rnnc run takes a checkpoint as its weights; a class id out of range is reported at its
 * row of the target file. */
static void test_checkpoint_run_and_class_row(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *spec = fx(SGD_FX, "spec.yaml"), *x = fx(SGD_FX, "x.npy"), *t = fx(SGD_FX, "target.npy");
    char *l = fx(SGD_FX, "lengths.npy");
    char *cmd = tu_strf("cd '%s' && '%s' train '%s' --input '%s' --target '%s' --lengths '%s' "
                        "--save w.st --epochs 2 >/dev/null && '%s' run '%s' --weights w.st "
                        "--input '%s' --lengths '%s' --output a.npy && '%s' run '%s' --weights "
                        "w.st.ckpt --input '%s' --lengths '%s' --output b.npy && cmp a.npy b.npy",
                        tmp, tu_rnnc_bin(), spec, x, t, l, tu_rnnc_bin(), spec, x, l,
                        tu_rnnc_bin(), spec, x, l);
    char *err = NULL;
    if (tu_run(cmd, NULL, &err) != 0)
        fail_msg("%s\n%s", cmd, err);
    free(err);
    free(cmd);
    RnnrtArray a;
    RnnrtError e;
    assert_int_equal(rnnrt_npy_read(t, &a, &e), 0);
    assert_int_equal(a.dtype, RNNRT_I64);
    ((long long *)a.data)[2] = 7;
    char *bad = tu_strf("%s/bad.npy", tmp);
    assert_int_equal(rnnrt_npy_write(bad, &a, &e), 0);
    rnnrt_array_free(&a);
    cmd = tu_strf("'%s' train '%s' --input '%s' --target '%s' --lengths '%s' --save '%s/v.st'",
                  tu_rnnc_bin(), spec, x, bad, l, tmp);
    err = NULL;
    assert_int_equal(tu_run(cmd, NULL, &err), 1);
    char *want = tu_strf("%s: class 7 at row 2 is outside 0..3", bad);
    if (!strstr(err, want))
        fail_msg("expected '%s' in:\n%s", want, err);
    free(want);
    free(err);
    free(cmd);
    free(bad);
    free(spec);
    free(x);
    free(t);
    free(l);
    tu_rmdir(tmp);
}

/* Targets with an ignored class (-100): the ranks sum their counts before the loss (the
 * batch's denominator) instead of deriving them from the lengths; still within 1e-5 of one
 * thread and the same bits twice. */
static void test_threads_ignored_targets(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *spec = fx(SGD_FX, "spec.yaml"), *x = fx(SGD_FX, "x.npy"), *t = fx(SGD_FX, "target.npy");
    char *l = fx(SGD_FX, "lengths.npy"), *w = fx(SGD_FX, "weights.safetensors");
    RnnrtArray a;
    RnnrtError e;
    assert_int_equal(rnnrt_npy_read(t, &a, &e), 0);
    ((long long *)a.data)[1] = -100;
    char *ign = tu_strf("%s/ign.npy", tmp);
    assert_int_equal(rnnrt_npy_write(ign, &a, &e), 0);
    rnnrt_array_free(&a);
    const char *outs[3] = {"1.st", "2.st", "2b.st"};
    const int threads[3] = {1, 2, 2};
    for (int k = 0; k < 3; k++) {
        char *cmd = tu_strf("cd '%s' && '%s' train '%s' --input '%s' --target '%s' --lengths "
                            "'%s' --init '%s' --save %s --epochs 30 --threads %d",
                            tmp, tu_rnnc_bin(), spec, x, ign, l, w, outs[k], threads[k]);
        char *err = NULL;
        if (tu_run(cmd, NULL, &err) != 0)
            fail_msg("%s\n%s", cmd, err);
        free(err);
        free(cmd);
    }
    char *p1 = tu_strf("%s/1.st", tmp), *p2 = tu_strf("%s/2.st", tmp);
    char *p2b = tu_strf("%s/2b.st", tmp);
    const char *worst;
    assert_true(tu_st_diff(p2, p1, &worst) <= 1e-5);
    assert_true(tu_files_equal(p2, p2b));
    free(p1);
    free(p2);
    free(p2b);
    free(ign);
    free(spec);
    free(x);
    free(t);
    free(l);
    free(w);
    tu_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_schedules_in_training),
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_csv_log),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_threads_ignored_targets),
        cmocka_unit_test(test_checkpoint_run_and_class_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
