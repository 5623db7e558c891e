/* test_mpi.c — `mpirun -np N rnnc train` on loopback (--allow-run-as-root --oversubscribe,
 * as CI runs it): 2 and 3 ranks train to the single process's weights within 1e-5 after 50
 * steps; the same N twice, and N threads, give the same bits; a checkpoint of 2 ranks is
 * resumed by 3; Ctrl-C on mpirun saves once; a killed rank ends the job within seconds;
 * the exchange's sums exact around the edges of its paths.
 * Skipped, with a message, when mpirun is missing or rnnc was built without MPI.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const FX = "sgd_mom_lstm_l1_len_ce_last_softmax";
static const char *MPIRUN = "mpirun --allow-run-as-root --oversubscribe";

/* `rnnc train` of the fixture FX from its weights (`init`), `extra` flags added, under
 * mpirun -np `np` (0: alone), in `dir`. The exit status. */
static int train(const char *dir, int np, const char *save, int init, const char *extra)
{
    const char *root = tu_src_root();
    char *init_path = tu_strf("%s/tests/train_fixtures/%s/weights.safetensors", root, FX);
    char *pre = np ? tu_strf("%s -np %d ", MPIRUN, np) : tu_strf("%s", "");
    char *cmd =
        tu_strf("cd '%s' && %s'%s' train '%s/tests/train_fixtures/%s/spec.yaml' "
                "--input '%s/tests/train_fixtures/%s/x.npy' "
                "--target '%s/tests/train_fixtures/%s/target.npy' "
                "--lengths '%s/tests/train_fixtures/%s/lengths.npy' %s%s%s --save %s %s",
                dir, pre, tu_rnnc_bin(), root, FX, root, FX, root, FX, root, FX,
                init ? "--init '" : "", init ? init_path : "", init ? "'" : "", save, extra);
    char *e = NULL;
    int rc = tu_run(cmd, NULL, &e);
    if (rc != 0)
        fprintf(stderr, "%s\n%s", cmd, e ? e : "");
    free(e);
    free(init_path);
    free(cmd);
    free(pre);
    return rc;
}

static int have_mpi(void)
{
    if (tu_run("command -v mpirun", NULL, NULL) != 0) {
        fprintf(stderr, "mpi: mpirun not found (tools/setup.sh installs openmpi-bin): "
                        "skipped\n");
        return 0;
    }
    char *dir = tu_mkdtemp(), *err = NULL;
    char *cmd =
        tu_strf("%s -np 2 '%s' train x --input x --target y --save z", MPIRUN, tu_rnnc_bin());
    tu_run(cmd, NULL, &err);
    int built = !err || !strstr(err, "built without MPI");
    if (!built)
        fprintf(stderr, "mpi: this rnnc was built without MPI: skipped\n");
    free(err);
    free(cmd);
    tu_rmdir(dir);
    return built;
}

static double diff(const char *dir, const char *a, const char *b)
{
    char *pa = tu_strf("%s/%s", dir, a), *pb = tu_strf("%s/%s", dir, b);
    const char *worst;
    double d = tu_st_diff(pa, pb, &worst);
    free(pa);
    free(pb);
    return d;
}

static int same(const char *dir, const char *a, const char *b)
{
    char *pa = tu_strf("%s/%s", dir, a), *pb = tu_strf("%s/%s", dir, b);
    int eq = tu_files_equal(pa, pb);
    free(pa);
    free(pb);
    return eq;
}

/* 50 steps (the batch of 3 whole, 50 epochs) alone, on 2 and 3 ranks, and on threads;
 * a run of 2 ranks stopped after 20 epochs and resumed on 3. */
static void test_ranks_match(void **state)
{
    (void)state;
    if (!have_mpi())
        skip();
    char *dir = tu_mkdtemp();
    const char *fifty = "--epochs 50";
    assert_int_equal(train(dir, 0, "w1.st", 1, fifty), 0);
    assert_int_equal(train(dir, 2, "w2.st", 1, fifty), 0);
    assert_int_equal(train(dir, 2, "w2b.st", 1, fifty), 0);
    assert_int_equal(train(dir, 3, "w3.st", 1, fifty), 0);
    assert_int_equal(train(dir, 0, "t2.st", 1, "--epochs 50 --threads 2"), 0);
    double d2 = diff(dir, "w2.st", "w1.st"), d3 = diff(dir, "w3.st", "w1.st");
    fprintf(stderr, "mpi: 50 steps: 2 ranks %.2g, 3 ranks %.2g from one process (relative)\n", d2,
            d3);
    assert_true(d2 <= 1e-5 && d3 <= 1e-5);
    assert_true(same(dir, "w2.st", "w2b.st"));
    assert_true(same(dir, "w2.st", "t2.st")); /* the same sums in the same order */
    /* 20 epochs on 2 ranks, then resumed to 50 on 3 */
    assert_int_equal(train(dir, 2, "r.st", 1, "--epochs 20"), 0);
    assert_int_equal(train(dir, 3, "r.st", 0, "--epochs 50 --resume r.st.ckpt"), 0);
    double dr = diff(dir, "r.st", "w1.st");
    fprintf(stderr, "mpi: 20 epochs on 2 ranks + 30 on 3: %.2g from one process\n", dr);
    assert_true(dr <= 1e-5);
    tu_rmdir(dir);
}

/* A long run under mpirun (the classify example's data) that the shell `action` disturbs
 * after 4 s; its stderr in *err, seconds from the disturbance to the end in *took. */
static int disturbed(const char *dir, const char *action, char **err, int *took)
{
    char *cmd = tu_strf("cd '%s' && { %s -np 2 '%s' train '%s/examples/learn/classify.yaml' "
                        "--input x.npy --target y.npy --lengths lengths.npy --save w.st "
                        "--epochs 100000 >out.txt 2>err.txt & mp=$!; sleep 4; %s; "
                        "t0=$(date +%%s); wait $mp; rc=$?; echo $(( $(date +%%s) - t0 )) "
                        ">took.txt; exit $rc; }",
                        dir, MPIRUN, tu_rnnc_bin(), tu_src_root(), action);
    int rc = tu_run(cmd, NULL, NULL);
    char *e = tu_strf("%s/err.txt", dir), *t = tu_strf("%s/took.txt", dir);
    *err = tu_read_file(e, NULL);
    char *tt = tu_read_file(t, NULL);
    *took = tt ? atoi(tt) : 9999;
    free(tt);
    free(e);
    free(t);
    free(cmd);
    return rc;
}

static void test_interrupt_and_death(void **state)
{
    (void)state;
    if (!have_mpi())
        skip();
    char *dir = tu_mkdtemp();
    char *mk = tu_strf("'%s' classify '%s' >/dev/null", getenv("RNNC_MAKE_DATA"), dir);
    assert_int_equal(tu_run(mk, NULL, NULL), 0);
    free(mk);
    /* Ctrl-C on mpirun: every rank stops at the same step, rank 0 saves once */
    char *err = NULL;
    int took;
    disturbed(dir, "kill -INT $mp", &err, &took);
    fprintf(stderr, "mpi: Ctrl-C: ended %d s after\n", took);
    assert_non_null(err);
    char *first = strstr(err, "interrupted: weights saved to w.st, checkpoint w.st.ckpt");
    if (!first)
        fail_msg("no interruption message in:\n%s", err);
    assert_null(strstr(first + 1, "interrupted:"));
    char *w = tu_strf("%s/w.st", dir), *c = tu_strf("%s/w.st.ckpt", dir);
    assert_true(tu_exists(w) && tu_exists(c));
    assert_true(took <= 30);
    free(err);
    /* a rank killed: the job ends within seconds, with a message */
    disturbed(dir, "kill -9 $(pgrep -P $mp | tail -n 1)", &err, &took);
    fprintf(stderr, "mpi: a rank killed: the job ended %d s after\n", took);
    assert_non_null(err);
    if (!strstr(err, "signal 9") && !strstr(err, "died"))
        fail_msg("no message about the dead rank in:\n%s", err);
    assert_true(took <= 30);
    free(err);
    free(w);
    free(c);
    tu_rmdir(dir);
}

/* The exchange itself: exact sums of whole numbers on 2 and 3 ranks for sizes around the
 * edges of its small path and of its segments. */
static void test_exchange_exact(void **state)
{
    (void)state;
    const char *bin = getenv("RNNC_ALLREDUCE");
    if (!have_mpi() || !bin)
        skip();
    for (int np = 2; np <= 3; np++) {
        char *cmd = tu_strf("%s -np %d '%s' --check", MPIRUN, np, bin), *out = NULL;
        assert_int_equal(tu_run(cmd, &out, NULL), 0);
        assert_non_null(strstr(out, "sums exact"));
        free(out);
        free(cmd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_exact),
        cmocka_unit_test(test_ranks_match),
        cmocka_unit_test(test_interrupt_and_death),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
