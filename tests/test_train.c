/* test_train.c — training: 10 optimizer steps of every optimizer (SGD with momentum,
 * Nesterov and weight decay; Adam; AdamW) and clipping against PyTorch on the fixtures of
 * tests/train_fixtures (tools/gen_train_fixtures.py); the same seed gives the same weights;
 * a resumed run (after an epoch, or stopped mid-epoch) ends bit-identical to an
 * uninterrupted one; a diverging run stops with the last good checkpoint kept.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "rnnrt.h"

static char **names;
static int nnames;

static char *fpath(const char *name, const char *file)
{
    return tu_strf("%s/tests/train_fixtures/%s/%s", tu_src_root(), name, file);
}

static double last_epoch_loss;
static volatile sig_atomic_t stop_now;
static long stop_after; /* > 0: raise stop_now once this many steps are done in all */
static long steps_seen;

static void note_loss(void *ctx, const RnncProgress *p)
{
    (void)ctx;
    if (p->end_of_epoch) {
        last_epoch_loss = p->loss;
        return;
    }
    if (stop_after > 0 && ++steps_seen == stop_after)
        stop_now = 1;
}

/* Trains fixture `name` with cfg changes applied by `tweak`; the final weights to `save`. */
static int train(const char *name, const char *save, const char *init, const char *resume,
                 void (*tweak)(TrainCfg *), volatile sig_atomic_t *stop, int quiet_fail)
{
    Rnnc r;
    rnnc_init(&r);
    char *spec = fpath(name, "spec.yaml"), *x = fpath(name, "x.npy");
    char *t = fpath(name, "target.npy"), *l = fpath(name, "lengths.npy");
    if (rnnc_load(&r, spec) < 0) {
        diag_render(&r.diag, stderr);
        fail_msg("%s: spec does not load", name);
    }
    RnncTrainArgs a;
    memset(&a, 0, sizeof a);
    a.input = x;
    a.target = t;
    a.lengths = tu_exists(l) ? l : NULL;
    a.init = init;
    a.resume = resume;
    a.save = save;
    a.cfg = r.net->train;
    a.stop = stop;
    a.progress = note_loss;
    if (tweak)
        tweak(&a.cfg);
    int rc = rnnc_train(&r, &a);
    if (rc < 0 && !quiet_fail)
        diag_render(&r.diag, stderr);
    rnnc_fini(&r);
    free(spec);
    free(x);
    free(t);
    free(l);
    return rc < 0 ? -1 : a.stopped;
}

static void compare(const char *got_p, const char *want_p, double rtol, double atol_scale,
                    const char *what)
{
    RnnrtTensorFile got, want;
    RnnrtError err;
    if (rnnrt_st_read(got_p, &got, &err) < 0 || rnnrt_st_read(want_p, &want, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(got.n, want.n);
    for (int k = 0; k < want.n; k++) {
        const RnnrtTensor *w = &want.t[k], *g = rnnrt_st_find(&got, w->name);
        assert_non_null(g);
        long n = 1;
        for (int d = 0; d < w->ndim; d++)
            n *= w->shape[d];
        double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        double scale = 0;
        for (long i = 0; i < n; i++) {
            a[i] = g->dtype == RNNRT_F64 ? ((double *)g->data)[i] : ((float *)g->data)[i];
            b[i] = w->dtype == RNNRT_F64 ? ((double *)w->data)[i] : ((float *)w->data)[i];
            scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
        }
        char *msg = tu_strf("%s: %s", what, w->name);
        tu_assert_close(a, b, n, rtol, atol_scale * scale, msg);
        free(msg);
        free(a);
        free(b);
    }
    rnnrt_st_free(&got);
    rnnrt_st_free(&want);
}

/* After 10 steps, within 1e-5 relative of PyTorch (float64: 1e-10). */
static void test_against_pytorch(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *save = tu_strf("%s/w.safetensors", tmp);
    int optimizers[3] = {0};
    for (int i = 0; i < nnames; i++) {
        char *init = fpath(names[i], "weights.safetensors");
        char *want = fpath(names[i], "weights_after.safetensors");
        assert_int_equal(train(names[i], save, init, NULL, NULL, NULL, 0), 0);
        int f64 = strncmp(names[i], "f64", 3) == 0;
        char *what = tu_strf("%s after 10 steps", names[i]);
        compare(save, want, f64 ? 1e-10 : 1e-5, f64 ? 1e-12 : 1e-6, what);
        optimizers[0] += strstr(names[i], "sgd") != NULL;
        optimizers[1] += strstr(names[i], "adam_") != NULL;
        optimizers[2] += strstr(names[i], "adamw") != NULL;
        free(what);
        free(init);
        free(want);
    }
    assert_true(nnames >= 14);
    assert_true(optimizers[0] >= 3 && optimizers[1] >= 3 && optimizers[2] >= 3);
    free(save);
    tu_rmdir(tmp);
}

/* Several shuffled mini-batches and epochs, from rnnc's own initialisation. */
static void multi_batch(TrainCfg *c)
{
    c->batch_size = 2;
    c->epochs = 4;
    c->shuffle = 1;
    c->seed = 7;
}

static void multi_batch_2(TrainCfg *c)
{
    multi_batch(c);
    c->epochs = 2;
}

static int bytes_equal(const char *a, const char *b)
{
    size_t na, nb;
    char *ta = tu_read_file(a, &na), *tb = tu_read_file(b, &nb);
    int eq = ta && tb && na == nb && memcmp(ta, tb, na) == 0;
    free(ta);
    free(tb);
    return eq;
}

static const char *resume_fixture(void)
{
    for (int i = 0; i < nnames; i++)
        if (strstr(names[i], "adam_") && strstr(names[i], "len"))
            return names[i];
    return names[0];
}

static void test_same_seed_same_run(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *a = tu_strf("%s/a.safetensors", tmp), *b = tu_strf("%s/b.safetensors", tmp);
    const char *n = resume_fixture();
    assert_int_equal(train(n, a, NULL, NULL, multi_batch, NULL, 0), 0);
    assert_int_equal(train(n, b, NULL, NULL, multi_batch, NULL, 0), 0);
    assert_true(bytes_equal(a, b));
    free(a);
    free(b);
    tu_rmdir(tmp);
}

/* 2 epochs, then --resume to 4, equals 4 straight; so does a stop in the middle of an epoch. */

static void test_resume_bit_exact(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *full = tu_strf("%s/full.safetensors", tmp), *half = tu_strf("%s/half.safetensors", tmp);
    char *ckpt = tu_strf("%s.ckpt", half), *rest = tu_strf("%s/rest.safetensors", tmp);
    const char *n = resume_fixture();
    assert_int_equal(train(n, full, NULL, NULL, multi_batch, NULL, 0), 0);
    assert_int_equal(train(n, half, NULL, NULL, multi_batch_2, NULL, 0), 0);
    assert_true(tu_exists(ckpt));
    assert_int_equal(train(n, rest, NULL, ckpt, multi_batch, NULL, 0), 0);
    assert_true(bytes_equal(full, rest));
    /* stopped before its first step: the checkpoint is the start; resuming gives the same */
    char *s1 = tu_strf("%s/s1.safetensors", tmp), *s1c = tu_strf("%s.ckpt", s1);
    char *s2 = tu_strf("%s/s2.safetensors", tmp);
    stop_now = 1;
    assert_int_equal(train(n, s1, NULL, NULL, multi_batch, &stop_now, 0), 1);
    stop_now = 0;
    assert_true(tu_exists(s1)); /* usable weights, as well as the checkpoint */
    assert_int_equal(train(n, s2, NULL, s1c, multi_batch, NULL, 0), 0);
    assert_true(bytes_equal(full, s2));
    /* stopped after 3 steps, in the middle of an epoch (2 sequences a batch) */
    char *s3 = tu_strf("%s/s3.safetensors", tmp), *s3c = tu_strf("%s.ckpt", s3);
    char *s4 = tu_strf("%s/s4.safetensors", tmp);
    stop_after = 3;
    steps_seen = 0;
    assert_int_equal(train(n, s3, NULL, NULL, multi_batch, &stop_now, 0), 1);
    stop_after = 0;
    stop_now = 0;
    assert_int_equal(train(n, s4, NULL, s3c, multi_batch, NULL, 0), 0);
    assert_true(bytes_equal(full, s4));
    free(s3);
    free(s3c);
    free(s4);
    free(s1);
    free(s1c);
    free(s2);
    free(full);
    free(half);
    free(ckpt);
    free(rest);
    tu_rmdir(tmp);
}

static void explode(TrainCfg *c)
{
    c->optimizer = RNNC_OPT_SGD;
    c->lr = 1e30;
    c->momentum = 0;
    c->nesterov = 0;
    c->clip_grad_norm = 0;
    c->clip_grad_value = 0;
    c->epochs = 3;
}

/* A diverging run stops with an error; the checkpoint on disk is a good one. */
static void test_nan_stops(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp();
    char *save = tu_strf("%s/w.safetensors", tmp);
    const char *n = NULL;
    for (int i = 0; i < nnames && !n; i++)
        if (strstr(names[i], "relu") && strstr(names[i], "_ce_"))
            n = names[i]; /* ReLU and logits: nothing bounds the loss */
    assert_non_null(n);
    assert_int_equal(train(n, save, NULL, NULL, explode, NULL, 1), -1);
    assert_false(tu_exists(save));
    /* the checkpoint of the last good epoch is there, and finite */
    char *ckpt = tu_strf("%s.ckpt", save);
    RnnrtTensorFile f;
    RnnrtError err;
    assert_int_equal(rnnrt_st_read(ckpt, &f, &err), 0);
    for (int k = 0; k < f.n; k++) {
        const RnnrtTensor *t = &f.t[k];
        if (t->dtype != RNNRT_F32)
            continue;
        long m = 1;
        for (int d = 0; d < t->ndim; d++)
            m *= t->shape[d];
        for (long j = 0; j < m; j++)
            assert_true(isfinite(((float *)t->data)[j]));
    }
    rnnrt_st_free(&f);
    free(ckpt);
    free(save);
    tu_rmdir(tmp);
}

/* The command line: progress lines when not on a terminal, usage errors. */
static void test_cli(void **state)
{
    (void)state;
    const char *n = names[0];
    char *dir = tu_mkdtemp();
    char *spec = fpath(n, "spec.yaml"), *x = fpath(n, "x.npy"), *t = fpath(n, "target.npy");
    char *cmd = tu_strf("'%s' train '%s' --input '%s' --target '%s' --save '%s/w.safetensors' "
                        "--epochs 3 --lr 0.01",
                        tu_rnnc_bin(), spec, x, t, dir);
    char *out = NULL, *err = NULL;
    int st = tu_run(cmd, &out, &err);
    if (st != 0)
        fail_msg("%s\n%s", cmd, err);
    assert_non_null(strstr(out, "epoch 1/3  loss "));
    assert_non_null(strstr(out, "epoch 3/3  loss "));
    assert_null(strstr(out, "\r"));
    char *w = tu_strf("%s/w.safetensors", dir), *c = tu_strf("%s/w.safetensors.ckpt", dir);
    assert_true(tu_exists(w));
    assert_true(tu_exists(c));
    free(out);
    free(err);
    free(cmd);
    /* Ctrl-C: a checkpoint, a message, exit 0; --resume takes it up */
    cmd = tu_strf("cd '%s' && { '%s' train '%s' --input '%s' --target '%s' --save i.st "
                  "--epochs 100000 & pid=$!; sleep 0.5; kill -INT $pid; wait $pid; }",
                  dir, tu_rnnc_bin(), spec, x, t);
    out = err = NULL;
    assert_int_equal(tu_run(cmd, &out, &err), 0);
    assert_non_null(strstr(err, "interrupted: weights saved to i.st, checkpoint i.st.ckpt"));
    char *ic = tu_strf("%s/i.st.ckpt", dir), *is = tu_strf("%s/i.st", dir);
    assert_true(tu_exists(ic));
    assert_true(tu_exists(is));
    assert_non_null(strstr(err, "--resume i.st.ckpt"));
    free(out);
    free(err);
    free(cmd);
    cmd = tu_strf("cd '%s' && '%s' train '%s' --input '%s' --target '%s' --save i.st "
                  "--epochs 1 --resume i.st.ckpt",
                  dir, tu_rnnc_bin(), spec, x, t);
    assert_int_equal(tu_run(cmd, NULL, NULL), 0);
    free(ic);
    free(is);
    free(cmd);
    cmd = tu_strf("'%s' train '%s' --input '%s' --save x", tu_rnnc_bin(), spec, x);
    assert_int_equal(tu_run(cmd, NULL, NULL), 2);
    free(cmd);
    cmd = tu_strf("'%s' train '%s' --input '%s' --target '%s' --save '%s/v' --epochs 0",
                  tu_rnnc_bin(), spec, x, t, dir);
    assert_int_equal(tu_run(cmd, NULL, NULL), 2);
    free(cmd);
    free(w);
    free(c);
    free(spec);
    free(x);
    free(t);
    tu_rmdir(dir);
}

static int tbptt_k;

static void tbptt_cfg(TrainCfg *c)
{
    c->tbptt = tbptt_k;
    c->epochs = 3;
}

static const char *seq_mse_fixture(void)
{
    for (int i = 0; i < nnames; i++)
        if (strstr(names[i], "len_mse_seq") && !strstr(names[i], "bi"))
            return names[i];
    return NULL;
}

/* Truncated BPTT: K >= T is full BPTT, bit for bit; K < T is not. */
static void test_tbptt_k_ge_t(void **state)
{
    (void)state;
    const char *n = seq_mse_fixture();
    assert_non_null(n);
    char *tmp = tu_mkdtemp();
    char *full = tu_strf("%s/f.st", tmp), *k = tu_strf("%s/k.st", tmp),
         *s = tu_strf("%s/s.st", tmp);
    char *init = fpath(n, "weights.safetensors");
    tbptt_k = 0;
    assert_int_equal(train(n, full, init, NULL, tbptt_cfg, NULL, 0), 0);
    tbptt_k = 1000;
    assert_int_equal(train(n, k, init, NULL, tbptt_cfg, NULL, 0), 0);
    assert_true(bytes_equal(full, k));
    tbptt_k = 2;
    assert_int_equal(train(n, s, init, NULL, tbptt_cfg, NULL, 0), 0);
    assert_false(bytes_equal(full, s));
    free(full);
    free(k);
    free(s);
    free(init);
    tu_rmdir(tmp);
}

static void frozen(TrainCfg *c)
{
    c->optimizer = RNNC_OPT_SGD;
    c->lr = 1e-30; /* the weights do not move: the losses are those of the start */
    c->momentum = 0;
    c->nesterov = 0;
    c->weight_decay = 0;
    c->clip_grad_norm = c->clip_grad_value = 0;
    c->epochs = 1;
    c->tbptt = tbptt_k;
}

/* The state carried between windows is the true one: the windows' losses (each the mean over
 * its valid steps) equal those computed from one untruncated forward pass. */
static void test_tbptt_state_carry(void **state)
{
    (void)state;
    const char *n = seq_mse_fixture();
    char *tmp = tu_mkdtemp();
    char *save = tu_strf("%s/w.st", tmp), *y = tu_strf("%s/y.npy", tmp);
    char *init = fpath(n, "weights.safetensors"), *spec = fpath(n, "spec.yaml");
    char *x = fpath(n, "x.npy"), *l = fpath(n, "lengths.npy"), *tp = fpath(n, "target.npy");
    Rnnc r;
    rnnc_init(&r);
    assert_int_equal(rnnc_load(&r, spec), 0);
    RnncRunArgs ra = {init, x, l, y, NULL, NULL, NULL, 1, NULL, NULL};
    assert_int_equal(rnnc_run(&r, &ra), 0);
    int bf = r.net->batch_first, O = r.net->out_size;
    long shape[8];
    double *yy = tu_npy_doubles(y, NULL, shape, NULL), *tt = tu_npy_doubles(tp, NULL, NULL, NULL);
    int B = (int)shape[bf ? 0 : 1], T = (int)shape[bf ? 1 : 0];
    RnnrtArray la;
    RnnrtError err;
    assert_int_equal(rnnrt_npy_read(l, &la, &err), 0);
    for (tbptt_k = 1; tbptt_k < T; tbptt_k++) {
        double sum = 0;
        int windows = 0;
        for (int t0 = 0; t0 < T; t0 += tbptt_k) {
            double se = 0;
            long cnt = 0;
            for (int b = 0; b < B; b++) {
                int L = (int)((long long *)la.data)[b];
                for (int t = t0; t < t0 + tbptt_k && t < L; t++)
                    for (int o = 0; o < O; o++) {
                        long at = (bf ? (long)b * T + t : (long)t * B + b) * O + o;
                        se += (yy[at] - tt[at]) * (yy[at] - tt[at]);
                        cnt++;
                    }
            }
            if (cnt) {
                sum += se / (double)cnt;
                windows++;
            }
        }
        assert_int_equal(train(n, save, init, NULL, frozen, NULL, 0), 0);
        double want = sum / windows;
        char *what = tu_strf("%s: mean window loss with tbptt %d", n, tbptt_k);
        tu_assert_close(&last_epoch_loss, &want, 1, 1e-5, 0, what);
        free(what);
    }
    rnnrt_array_free(&la);
    rnnc_fini(&r);
    free(yy);
    free(tt);
    free(save);
    free(y);
    free(init);
    free(spec);
    free(x);
    free(l);
    free(tp);
    tu_rmdir(tmp);
}

/* The learning examples: every spec checks, make_data writes each task's files, and the
 * labelling example trains (briefly) from them. Their full runs are in the README. */
static void test_examples(void **state)
{
    (void)state;
    const char *root = tu_src_root(), *bin = tu_rnnc_bin(), *mk = getenv("RNNC_MAKE_DATA");
    assert_non_null(mk);
    char *dir = tu_mkdtemp();
    const char *specs[] = {"classify", "label", "sines", "adding_lstm", "adding_rnn"};
    for (int i = 0; i < 5; i++) {
        char *cmd = tu_strf("'%s' check '%s/examples/learn/%s.yaml'", bin, root, specs[i]);
        assert_int_equal(tu_run(cmd, NULL, NULL), 0);
        free(cmd);
    }
    const char *tasks[] = {"classify", "label", "sines", "adding"};
    for (int i = 0; i < 4; i++) {
        char *cmd = tu_strf("mkdir -p '%s/%s' && '%s' %s '%s/%s'", dir, tasks[i], mk, tasks[i],
                            dir, tasks[i]);
        char *out = NULL;
        assert_int_equal(tu_run(cmd, &out, NULL), 0);
        assert_non_null(strstr(out, "held-out sequences"));
        const char *files[] = {"x.npy", "y.npy", "val_x.npy", "val_y.npy"};
        for (int k = 0; k < 4; k++) {
            char *f = tu_strf("%s/%s/%s", dir, tasks[i], files[k]);
            assert_true(tu_exists(f));
            free(f);
        }
        free(out);
        free(cmd);
    }
    char *cmd = tu_strf("cd '%s/label' && '%s' train '%s/examples/learn/label.yaml' --input x.npy "
                        "--target y.npy --val-input val_x.npy --val-target val_y.npy "
                        "--save w.safetensors --epochs 2",
                        dir, bin, root);
    char *out = NULL;
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_non_null(strstr(out, "epoch 2/2"));
    assert_non_null(strstr(out, "val_acc"));
    free(out);
    free(cmd);
    tu_rmdir(dir);
}

int main(void)
{
    char *man = tu_strf("%s/tests/train_fixtures/manifest.txt", tu_src_root());
    char *text = tu_read_file(man, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", man);
        return 1;
    }
    names = calloc(128, sizeof *names);
    for (char *line = strtok(text, "\n"); line && nnames < 128; line = strtok(NULL, "\n"))
        if (*line && *line != '#')
            names[nnames++] = tu_strf("%s", line);
    free(text);
    free(man);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_pytorch),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_resume_bit_exact),
        cmocka_unit_test(test_nan_stops),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_tbptt_k_ge_t),
        cmocka_unit_test(test_tbptt_state_carry),
        cmocka_unit_test(test_examples),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_free_list(names, nnames);
    return rc;
}
