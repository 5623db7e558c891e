/* test_kill.c — `kill -9` of `rnnc train` at random moments (20 trials): whatever the moment,
 * the checkpoint on disk is whole (it loads) and `--resume` from it ends with the weights of
 * an uninterrupted run, bit for bit (a moment before the first checkpoint leaves none).
 * Checkpoints are written to a temporary file and renamed into place.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rnnrt.h"
#include "testutil.h"

enum { TRIALS = 20 };

static char *fix(const char *file)
{
    return tu_strf("%s/tests/train_fixtures/adam_gru_bi_l1_ce_seq_none/%s", tu_src_root(), file);
}

/* `rnnc train` of the fixture for `epochs` epochs into dir/w.st, with extra arguments. */
static char *train_cmd(const char *dir, int epochs, const char *extra)
{
    char *spec = fix("spec.yaml"), *x = fix("x.npy"), *t = fix("target.npy");
    char *cmd = tu_strf("'%s' train '%s' --input '%s' --target '%s' --save '%s/w.st' --epochs "
                        "%d --batch-size 2 --seed 3 %s",
                        tu_rnnc_bin(), spec, x, t, dir, epochs, extra);
    free(spec);
    free(x);
    free(t);
    return cmd;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Starts the command, kills it with SIGKILL after `after` seconds (if still running). */
static void run_and_kill(const char *cmd, double after)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execl("/bin/sh", "sh", "-c", tu_strf("exec %s", cmd), (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {(time_t)after, (long)((after - (double)(time_t)after) * 1e9)};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
}

static void test_kill9(void **state)
{
    (void)state;
    enum { EPOCHS = 30 };
    char *ref = tu_mkdtemp();
    char *cmd = train_cmd(ref, EPOCHS, "");
    double t0 = now();
    assert_int_equal(tu_run(cmd, NULL, NULL), 0);
    double full = now() - t0;
    free(cmd);
    char *want_p = tu_strf("%s/w.st", ref);
    size_t nwant;
    char *want = tu_read_file(want_p, &nwant);
    assert_non_null(want);
    unsigned seed = 20261129u;
    int resumed = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        char *dir = tu_mkdtemp();
        seed = seed * 1103515245u + 12345u;
        double at = full * (double)(seed >> 8) / (double)(1u << 24); /* in [0, full) */
        cmd = train_cmd(dir, EPOCHS, "");
        run_and_kill(cmd, at);
        free(cmd);
        char *ck = tu_strf("%s/w.st.ckpt", dir);
        if (tu_exists(ck)) {
            RnnrtTensorFile f;
            RnnrtError err;
            if (rnnrt_st_read(ck, &f, &err) < 0)
                fail_msg("trial %d (killed at %.3f s): the checkpoint does not load: %s", trial,
                         at, err.msg);
            rnnrt_st_free(&f);
            char *rs = tu_strf("--resume '%s'", ck);
            cmd = train_cmd(dir, EPOCHS, rs);
            if (tu_run(cmd, NULL, NULL) != 0)
                fail_msg("trial %d: --resume failed: %s", trial, cmd);
            char *got_p = tu_strf("%s/w.st", dir);
            size_t ngot;
            char *got = tu_read_file(got_p, &ngot);
            if (!got || ngot != nwant || memcmp(got, want, nwant) != 0)
                fail_msg("trial %d (killed at %.3f s): resumed weights differ", trial, at);
            free(got);
            free(got_p);
            free(rs);
            free(cmd);
            resumed++;
        }
        free(ck);
        tu_rmdir(dir);
    }
    printf("%d kills over %.2f s of training; %d left a checkpoint, all resumed bit-exact\n",
           TRIALS, full, resumed);
    assert_true(resumed > 0);
    free(want);
    free(want_p);
    tu_rmdir(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
