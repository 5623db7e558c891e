/* test_channel.c — the channel-tracking example (examples/channel_tracker/, tools/channel.c):
 * the generator's statistics against the Jakes/Clarke model (autocorrelation J0, unit power,
 * the noise at the SNR asked for), the Wiener scorer against a direct solution of its normal
 * equations, a small tracker trained briefly beating persistence and the fair Wiener
 * predictor, and the committed tracker on the emulated Cortex-M4 equal bit for bit to
 * `rnnc run` (skipped where gcc-arm-none-eabi or qemu-system-arm is missing).
 * The full-size version is examples/channel_tracker/run.sh.
 */
#define _XOPEN_SOURCE 700 /* j0() */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static const char *channel_bin(void)
{
    const char *v = getenv("RNNC_CHANNEL");
    if (!v || !*v)
        fail_msg("RNNC_CHANNEL is not set (run the tests through meson)");
    return v;
}

static char *run_ok(const char *cmd)
{
    char *out = NULL, *err = NULL;
    int st = tu_run(cmd, &out, &err);
    if (st != 0)
        fail_msg("failed (status %d): %s\n%s%s", st, cmd, out ? out : "", err ? err : "");
    free(err);
    return out;
}

/* The rows of `channel score`'s table: label, seqs and the NMSE columns (persistence, fair,
 * genie, genie theory, then tracker when scored). Returns the number of rows. */
typedef struct Row {
    char label[32];
    long seqs;
    double persist, fair, genie, theory, tracker;
} Row;

static int score_rows(const char *out, Row *rows, int max)
{
    int n = 0;
    for (const char *l = out; l && *l && n < max; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : 0) {
        Row r = {{0}, 0, 0, 0, 0, 0, NAN};
        int got = sscanf(l, "%31s %ld %lf %lf %lf %lf %lf", r.label, &r.seqs, &r.persist, &r.fair,
                         &r.genie, &r.theory, &r.tracker);
        if (got >= 6)
            rows[n++] = r;
    }
    return n;
}

/* Ensemble statistics of one Doppler: 3000 sequences of 64 steps at f_D T_s = f. The
 * sum-of-sinusoids is not ergodic for finite M, so the averages are over sequences too. */
static void check_statistics(double f)
{
    char *dir = tu_mkdtemp();
    char *cmd = tu_strf("'%s' gen '%s' --fd %g --train 3000 --val 1 --test 1 --len 64 "
                        "--snr 20 --paths 16 --seed 5",
                        channel_bin(), dir, f);
    free(run_ok(cmd));
    free(cmd);
    long nx, ny, nf, shape[8]; /* tu_npy_doubles fills RNNRT_MAX_DIMS */
    char *px = tu_strf("%s/x.npy", dir), *py = tu_strf("%s/y.npy", dir);
    char *pf = tu_strf("%s/fd.npy", dir);
    double *x = tu_npy_doubles(px, &nx, NULL, NULL), *y = tu_npy_doubles(py, &ny, shape, NULL);
    double *fd = tu_npy_doubles(pf, &nf, NULL, NULL);
    assert_int_equal(nx, ny);
    assert_int_equal(nf, 3000);
    long N = shape[0], T = shape[1];
    assert_int_equal(shape[2], 2);
    for (long s = 0; s < N; s++)
        assert_true(fabs(fd[s] - f) < 1e-12);
    enum { K = 30 };
    double pw = 0, nw = 0, re[K + 1] = {0}, im[K + 1] = {0};
    long cnt = 0, kc[K + 1] = {0};
    for (long s = 0; s < N; s++) {
        const double *h = y + s * T * 2; /* h[2(t-1)] is h_t, t = 1..T */
        for (long t = 1; t < T; t++) {
            double hr = h[2 * (t - 1)], hi = h[2 * (t - 1) + 1];
            double er = x[(s * T + t) * 2] - hr, ei = x[(s * T + t) * 2 + 1] - hi;
            pw += hr * hr + hi * hi;
            nw += er * er + ei * ei;
            cnt++;
            for (long k = 0; k <= K && t + k <= T; k++) { /* E[h_{t+k} conj(h_t)] */
                double ar = h[2 * (t + k - 1)], ai = h[2 * (t + k - 1) + 1];
                re[k] += ar * hr + ai * hi;
                im[k] += ai * hr - ar * hi;
                kc[k]++;
            }
        }
    }
    double worst = 0, worst_im = 0;
    long wk = 0;
    for (int k = 0; k <= K; k++) {
        double e = fabs(re[k] / kc[k] - j0(2 * PI * f * k));
        if (e > worst)
            worst = e, wk = k;
        worst_im = fmax(worst_im, fabs(im[k] / kc[k]));
    }
    print_message("f_D T_s %g: E|h|^2 %.4f, noise %.5f, autocorrelation within %.4f of J0 "
                  "(lag %ld), imaginary part within %.4f of 0\n",
                  f, pw / cnt, nw / cnt, worst, wk, worst_im);
    if (fabs(pw / cnt - 1) > 0.05)
        fail_msg("f_D T_s %g: power E|h|^2 = %.4f, not 1", f, pw / cnt);
    if (fabs(nw / cnt / 0.01 - 1) > 0.03)
        fail_msg("f_D T_s %g: noise power %.5f, not 0.01 (20 dB below 1)", f, nw / cnt);
    if (worst > 0.05)
        fail_msg("f_D T_s %g: autocorrelation at lag %ld is %.4f, J0 says %.4f", f, wk,
                 re[wk] / kc[wk], j0(2 * PI * f * wk));
    if (worst_im > 0.05)
        fail_msg("f_D T_s %g: the imaginary part of the autocorrelation reaches %.4f", f,
                 worst_im);
    free(x), free(y), free(fd), free(px), free(py), free(pf);
    tu_rmdir(dir);
}

static void test_generator_statistics(void **state)
{
    (void)state;
    check_statistics(0.01);
    check_statistics(0.04);
}

/* The genie's theoretical NMSE, as the scorer prints it, against the normal equations
 * solved here by Gaussian elimination; the measured NMSEs in order (genie, fair,
 * persistence) and the genie's measured NMSE near its theory. */
static void test_wiener(void **state)
{
    (void)state;
    const double f = 0.03, noise = 0.01;
    enum { P = 8 };
    double A[P][P + 1];
    for (int i = 0; i < P; i++) {
        for (int j = 0; j < P; j++)
            A[i][j] = j0(2 * PI * f * abs(i - j)) + (i == j ? noise : 0);
        A[i][P] = j0(2 * PI * f * (i + 1));
    }
    for (int c = 0; c < P; c++) /* symmetric positive definite: no pivoting needed */
        for (int r = c + 1; r < P; r++) {
            double m = A[r][c] / A[c][c];
            for (int k = c; k <= P; k++)
                A[r][k] -= m * A[c][k];
        }
    double w[P], mse = 1;
    for (int r = P - 1; r >= 0; r--) {
        w[r] = A[r][P];
        for (int k = r + 1; k < P; k++)
            w[r] -= A[r][k] * w[k];
        w[r] /= A[r][r];
    }
    for (int i = 0; i < P; i++)
        mse -= w[i] * j0(2 * PI * f * (i + 1));
    char *dir = tu_mkdtemp();
    char *cmd = tu_strf("'%s' gen '%s' --fd %g --train 1 --val 1 --test 1000 --len 100 "
                        "--seed 9 && '%s' score '%s' --order %d --bins 1",
                        channel_bin(), dir, f, channel_bin(), dir, P);
    char *out = run_ok(cmd);
    Row rows[8];
    int n = score_rows(out, rows, 8);
    assert_int_equal(n, 2);
    print_message("%s", out);
    if (fabs(rows[1].theory - 10 * log10(mse)) > 0.006)
        fail_msg("order-%d Wiener MMSE at f_D T_s %g: the scorer says %.2f dB, the normal "
                 "equations %.4f dB",
                 P, f, rows[1].theory, 10 * log10(mse));
    if (fabs(rows[1].genie - rows[1].theory) > 0.3)
        fail_msg("the genie predictor measures %.2f dB, its theory %.2f dB", rows[1].genie,
                 rows[1].theory);
    free(out);
    free(cmd);
    /* over a range: fair above genie, both below persistence, in every bin */
    cmd = tu_strf("'%s' gen '%s' --train 1 --val 1 --test 800 --len 100 --seed 9 && "
                  "'%s' score '%s'",
                  channel_bin(), dir, channel_bin(), dir);
    out = run_ok(cmd);
    n = score_rows(out, rows, 8);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) {
        if (!(rows[i].genie < rows[i].fair && rows[i].fair < rows[i].persist))
            fail_msg("bin %s: genie %.2f, fair %.2f, persistence %.2f dB out of order",
                     rows[i].label, rows[i].genie, rows[i].fair, rows[i].persist);
        if (fabs(rows[i].genie - rows[i].theory) > 0.5)
            fail_msg("bin %s: the genie measures %.2f dB, its theory %.2f dB", rows[i].label,
                     rows[i].genie, rows[i].theory);
    }
    free(out);
    free(cmd);
    tu_rmdir(dir);
}

/* A small set (2000 sequences of 100 steps), a short training of the example's spec (20
 * epochs, then 10 at a lower lr: seconds): overall it must beat persistence by 4 dB and the
 * fair Wiener predictor by 0.3 dB, and persistence by 2 dB in every Doppler bin. (Its full
 * training, run.sh, comes within a fraction of a dB of the genie predictor.) */
static void test_tracker_learns(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *root = tu_src_root(), *bin = tu_rnnc_bin();
    char *cmd = tu_strf(
        "cd '%s' && export RNNC_CACHE_DIR='%s/cache' && S='%s/examples/channel_tracker/"
        "tracker.yaml' && '%s' gen . --train 2000 --val 100 --test 400 --len 100 --seed 3 "
        ">/dev/null && '%s' train \"$S\" --input x.npy --target y.npy --save w1.safetensors "
        "--epochs 20 --jit cc && '%s' train \"$S\" --input x.npy --target y.npy --init "
        "w1.safetensors --save w.safetensors --epochs 10 --lr 0.001 --jit cc && '%s' run "
        "\"$S\" --weights w.safetensors --input test_x.npy --output pred.npy && '%s' score . "
        "--pred pred.npy",
        dir, dir, root, channel_bin(), bin, bin, bin, channel_bin());
    char *out = run_ok(cmd);
    Row rows[8];
    int n = score_rows(out, rows, 8);
    const char *table = strstr(out, "NMSE");
    print_message("%s", table ? table : out);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++)
        if (!(rows[i].tracker < rows[i].persist - 2))
            fail_msg("bin %s: the tracker's %.2f dB is not 2 dB below persistence's %.2f dB",
                     rows[i].label, rows[i].tracker, rows[i].persist);
    const Row *all = &rows[n - 1];
    assert_string_equal(all->label, "all");
    if (!(all->tracker < all->persist - 4))
        fail_msg("the tracker's %.2f dB is not 4 dB below persistence's %.2f dB", all->tracker,
                 all->persist);
    if (!(all->tracker < all->fair - 0.3))
        fail_msg("the tracker's %.2f dB is not 0.3 dB below the fair Wiener's %.2f dB",
                 all->tracker, all->fair);
    free(out);
    free(cmd);
    tu_rmdir(dir);
}

static int have(const char *tool)
{
    char *cmd = tu_strf("command -v %s", tool);
    int ok = tu_run(cmd, NULL, NULL) == 0;
    free(cmd);
    return ok;
}

/* The committed tracker deployed, built for the Cortex-M4 as tests/test_cross.c does, run on
 * mps2-an386 under -icount: predictions bit for bit those of rnnc run, and an instruction
 * count per step. */
static void test_m4(void **state)
{
    (void)state;
    if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm"))
        skip();
    char *dir = tu_mkdtemp();
    const char *root = tu_src_root(), *bin = tu_rnnc_bin();
    const char *m4 = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2";
    char *cmd = tu_strf(
        "cd '%s' && '%s' gen . --train 1 --val 1 --test 3 >/dev/null && '%s' "
        "'%s/examples/channel_tracker/tracker.yaml' -o tracker.c --weights "
        "'%s/examples/channel_tracker/tracker.safetensors' && '%s' run "
        "'%s/examples/channel_tracker/tracker.yaml' --weights "
        "'%s/examples/channel_tracker/tracker.safetensors' --input test_x.npy --output host.npy "
        "&& arm-none-eabi-gcc %s -std=c11 -Wall -Wextra -Wpedantic -Werror -c tracker.c && "
        "arm-none-eabi-gcc %s -std=c11 -Wall -Wextra -Werror -nostartfiles -T "
        "'%s/tests/cross/m4.ld' -I. -DSEQS=3 '%s/tests/cross/startup.c' "
        "'%s/examples/channel_tracker/m4_tracker.c' tracker.o -nostdlib -lgcc -o tracker.elf && "
        "timeout 120 qemu-system-arm -M mps2-an386 -nographic -icount shift=0 "
        "-semihosting-config enable=on,target=native -kernel tracker.elf 2>&1 && "
        "'%s' compare host.npy pred_m4.bin",
        dir, channel_bin(), bin, root, root, bin, root, root, m4, m4, root, root, root,
        channel_bin());
    char *out = run_ok(cmd);
    print_message("%s", out);
    assert_non_null(strstr(out, "selftest ok"));
    assert_non_null(strstr(out, "streamed 3 sequences x 200 steps"));
    assert_non_null(strstr(out, "1200 values of pred_m4.bin: bit for bit"));
    const char *ips = strstr(out, "instructions per step");
    double v = 0;
    assert_non_null(ips);
    assert_int_equal(sscanf(strchr(ips, ':') + 1, "%lf", &v), 1);
    assert_true(v > 1000 && v < 1e6);
    free(out);
    free(cmd);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_statistics),
        cmocka_unit_test(test_wiener),
        cmocka_unit_test(test_tracker_learns),
        cmocka_unit_test(test_m4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
