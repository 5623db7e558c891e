/* channel.c — data and scoring of the channel-tracking example (examples/channel_tracker/,
 * the README's "Channel tracking, end to end"), in C through librnnrt's .npy I/O:
 *
 *   channel gen DIR [options]     Rayleigh flat fading with the Jakes/Clarke Doppler spectrum
 *                                 (Zheng & Xiao's sum of sinusoids) seen through noisy pilots
 *   channel score DIR [options]   one-step prediction NMSE against Doppler: persistence, the
 *                                 order-p Wiener predictors (fair and genie, Levinson-Durbin)
 *                                 and, from `rnnc run`'s output, the tracker
 *
 * Not part of the compiler: a stand-alone program built by meson beside make_data.
 */
#define _XOPEN_SOURCE 700 /* j0() */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

#define PI 3.14159265358979323846
#define MAX_ORDER 256
#define MAX_BINS 64

/* ---- random numbers: xorshift64 seeded through splitmix64 ------------------------------ */

static unsigned long long rng;

static void rng_seed(unsigned long long s)
{
    s += 0x9E3779B97F4A7C15ull;
    s = (s ^ (s >> 30)) * 0xBF58476D1CE4E5B9ull;
    s = (s ^ (s >> 27)) * 0x94D049BB133111EBull;
    rng = (s ^ (s >> 31)) | 1;
}

static double unif(void) /* [0, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(void) /* N(0, 1), Box-Muller */
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(1 - u)) * cos(2 * PI * v);
}

/* ---- the channel model ------------------------------------------------------------------
 * Zheng and Xiao, "Simulation models with correct statistical properties for Rayleigh fading
 * channels", IEEE Trans. Commun. 51(6), 2003, their statistical sum-of-sinusoids model:
 *
 *   X_c(t) = 2/sqrt(M) sum_n cos(psi_n) cos(w_d t cos(a_n) + phi)
 *   X_s(t) = 2/sqrt(M) sum_n sin(psi_n) cos(w_d t cos(a_n) + phi)
 *   a_n = (2 pi n - pi + theta) / (4 M),   n = 1..M
 *
 * with theta, phi and every psi_n independent and uniform on [-pi, pi), w_d = 2 pi f_D T_s.
 * Random path gains, a random phase and arrival angles that sweep [0, pi/2) as theta varies
 * make the ensemble autocorrelations exact for any M: R_cc = R_ss = J0(w_d k), R_cs = 0.
 * Here h = (X_c + j X_s) / sqrt(2), so that E|h|^2 = 1 and E[h_{t+k} conj(h_t)] = J0(w_d k). */

/* One realisation: h_t for t = 0..T-1 into h_re, h_im. */
static void channel_draw(double fd, int M, int T, double *h_re, double *h_im)
{
    double theta = 2 * PI * unif() - PI, phi = 2 * PI * unif() - PI;
    double g = sqrt(2.0 / M);
    for (int t = 0; t < T; t++)
        h_re[t] = h_im[t] = 0;
    for (int n = 1; n <= M; n++) {
        double psi = 2 * PI * unif() - PI;
        double a = (2 * PI * n - PI + theta) / (4.0 * M);
        double w = 2 * PI * fd * cos(a), c = g * cos(psi), s = g * sin(psi);
        for (int t = 0; t < T; t++) {
            double v = cos(w * t + phi);
            h_re[t] += c * v;
            h_im[t] += s * v;
        }
    }
}

/* ---- options ----------------------------------------------------------------------------- */

typedef struct Opts {
    long n_train, n_val, n_test;
    int T, M, order, warmup, bins;
    double fd_lo, fd_hi, snr_db;
    unsigned long long seed;
    const char *pred, *set;
    double max_gap;
} Opts;

/* LO:HI, or one value for both */
static int parse_range(const char *s, double *lo, double *hi)
{
    char *end;
    *lo = *hi = strtod(s, &end);
    if (end != s && *end == ':')
        *hi = strtod(end + 1, &end);
    return end != s && *end == '\0' && *lo > 0 && *hi >= *lo && *hi < 0.5 ? 0 : -1;
}

static int parse_opts(int argc, char **argv, int first, Opts *o)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "channel: %s needs a value (or is unknown)\n", a);
            return -1;
        }
        i++;
        int bad = 0;
        if (!strcmp(a, "--train"))
            bad = (o->n_train = atol(v)) < 1;
        else if (!strcmp(a, "--val"))
            bad = (o->n_val = atol(v)) < 1;
        else if (!strcmp(a, "--test"))
            bad = (o->n_test = atol(v)) < 1;
        else if (!strcmp(a, "--len"))
            bad = (o->T = atoi(v)) < 2;
        else if (!strcmp(a, "--paths"))
            bad = (o->M = atoi(v)) < 1;
        else if (!strcmp(a, "--fd"))
            bad = parse_range(v, &o->fd_lo, &o->fd_hi) < 0;
        else if (!strcmp(a, "--snr"))
            o->snr_db = atof(v);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--order"))
            bad = (o->order = atoi(v)) < 1 || o->order > MAX_ORDER;
        else if (!strcmp(a, "--warmup"))
            bad = (o->warmup = atoi(v)) < 0;
        else if (!strcmp(a, "--bins"))
            bad = (o->bins = atoi(v)) < 1 || o->bins > MAX_BINS;
        else if (!strcmp(a, "--pred"))
            o->pred = v;
        else if (!strcmp(a, "--set"))
            o->set = v;
        else if (!strcmp(a, "--max-gap"))
            o->max_gap = atof(v);
        else {
            fprintf(stderr, "channel: unknown option %s\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "channel: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    return 0;
}

/* ---- gen --------------------------------------------------------------------------------- */

static int save(const char *dir, const char *pre, const char *name, RnnrtDtype dt, int ndim,
                long d0, long d1, long d2, void *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, pre, name);
    RnnrtArray a = {dt, ndim, {d0, d1, d2}, data};
    RnnrtError err;
    if (rnnrt_npy_write(path, &a, &err) < 0) {
        fprintf(stderr, "channel: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Range average of J0(2 pi f k) for f uniform on [lo, hi]: composite Simpson, 2000 panels
 * (the integrand is smooth; the error is far below float precision for k <= 256). */
static double j0_avg(double lo, double hi, int k)
{
    if (hi <= lo)
        return j0(2 * PI * lo * k);
    int n = 2000;
    double h = (hi - lo) / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double w = i == 0 || i == n ? 1 : i % 2 ? 4 : 2;
        s += w * j0(2 * PI * (lo + i * h) * k);
    }
    return s * h / 3 / (hi - lo);
}

static const char *const split_names[3] = {"train", "val", "test"};

/* One split: x (N, T, 2) the pilots y_t = h_t + n_t, y (N, T, 2) the target h_{t+1}, fd (N)
 * the normalised Doppler of each sequence. Prints its power, noise and autocorrelation
 * against the range-averaged J0 as a check of the model. */
static int gen_split(const Opts *o, const char *dir, const char *pre, long N, int part)
{
    int T = o->T;
    double sn = sqrt(pow(10, -o->snr_db / 10) / 2); /* per component */
    float *x = malloc(sizeof(float) * (size_t)N * T * 2);
    float *y = malloc(sizeof(float) * (size_t)N * T * 2);
    double *fd = malloc(sizeof(double) * (size_t)N);
    double *hr = malloc(sizeof(double) * (size_t)(T + 1));
    double *hi = malloc(sizeof(double) * (size_t)(T + 1));
    if (!x || !y || !fd || !hr || !hi) {
        fprintf(stderr, "channel: out of memory\n");
        free(x), free(y), free(fd), free(hr), free(hi);
        return -1;
    }
    enum { K = 8 };
    double pw = 0, nw = 0, acf[K + 1] = {0}, xcf[K + 1] = {0};
    long cnt = 0, acnt[K + 1] = {0};
    rng_seed(o->seed * 1000003ull + (unsigned long long)part);
    for (long s = 0; s < N; s++) {
        fd[s] = o->fd_lo + (o->fd_hi - o->fd_lo) * unif();
        channel_draw(fd[s], o->M, T + 1, hr, hi);
        for (int t = 0; t < T; t++) {
            double nr = sn * gauss(), ni = sn * gauss();
            float *xp = x + ((size_t)s * T + t) * 2, *yp = y + ((size_t)s * T + t) * 2;
            xp[0] = (float)(hr[t] + nr), xp[1] = (float)(hi[t] + ni);
            yp[0] = (float)hr[t + 1], yp[1] = (float)hi[t + 1];
            pw += hr[t] * hr[t] + hi[t] * hi[t];
            nw += nr * nr + ni * ni;
            cnt++;
            for (int k = 0; k <= K && t + k <= T; k++) {
                acf[k] += hr[t + k] * hr[t] + hi[t + k] * hi[t];
                xcf[k] += hi[t + k] * hr[t] - hr[t + k] * hi[t];
                acnt[k]++;
            }
        }
    }
    double worst = 0, worst_x = 0;
    for (int k = 0; k <= K; k++) {
        double e = fabs(acf[k] / acnt[k] - j0_avg(o->fd_lo, o->fd_hi, k));
        worst = e > worst ? e : worst;
        worst_x = fabs(xcf[k] / acnt[k]) > worst_x ? fabs(xcf[k] / acnt[k]) : worst_x;
    }
    printf("%-6s %6ld sequences x %d steps: E|h|^2 %.4f, noise %.3f dB below it, "
           "autocorrelation (lags 0-%d) within %.4f of the range-averaged J0, "
           "imaginary part within %.4f of 0\n",
           split_names[part], N, T, pw / cnt, 10 * log10(pw / nw), K, worst, worst_x);
    int rc = save(dir, pre, "x.npy", RNNRT_F32, 3, N, T, 2, x) |
             save(dir, pre, "y.npy", RNNRT_F32, 3, N, T, 2, y) |
             save(dir, pre, "fd.npy", RNNRT_F64, 1, N, 0, 0, fd);
    free(x), free(y), free(fd), free(hr), free(hi);
    return rc ? -1 : 0;
}

static int cmd_gen(const char *dir, Opts *o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/channel.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "channel: cannot write %s\n", path);
        return 1;
    }
    /* what `channel score` needs to know of the statistics */
    fprintf(f, "fd_lo %.17g\nfd_hi %.17g\nsnr_db %.17g\npaths %d\nlen %d\nseed %llu\n", o->fd_lo,
            o->fd_hi, o->snr_db, o->M, o->T, o->seed);
    if (fclose(f) != 0)
        return 1;
    if (gen_split(o, dir, "", o->n_train, 0) < 0 || gen_split(o, dir, "val_", o->n_val, 1) < 0 ||
        gen_split(o, dir, "test_", o->n_test, 2) < 0)
        return 1;
    printf("wrote %s: Zheng-Xiao sum of %d sinusoids, f_D T_s uniform in [%g, %g], SNR %g dB\n",
           dir, o->M, o->fd_lo, o->fd_hi, o->snr_db);
    return 0;
}

/* ---- score ------------------------------------------------------------------------------- */

/* Levinson-Durbin on a real symmetric Toeplitz system: r[0..p] the autocorrelation of y,
 * a[1..p] out, the one-step predictor y^_{t+1} = sum_i a[i] y_{t+1-i}. Returns the
 * prediction error variance, or -1 when r is not positive definite. */
static double levinson(const double *r, int p, double *a)
{
    double e = r[0], tmp[MAX_ORDER + 1];
    for (int i = 1; i <= p; i++) {
        double k = r[i];
        for (int j = 1; j < i; j++)
            k -= a[j] * r[i - j];
        if (e <= 0)
            return -1;
        k /= e;
        for (int j = 1; j < i; j++)
            tmp[j] = a[j] - k * a[i - j];
        for (int j = 1; j < i; j++)
            a[j] = tmp[j];
        a[i] = k;
        e *= 1 - k * k;
    }
    return e;
}

/* The Wiener predictor of h_{t+1} from y_t..y_{t-p+1}: E[h_{t+1} y_{t-k}^*] = r(k+1) for
 * k >= 0 (the noise is white), so its normal equations are those of the one-step predictor
 * of y, and its MSE is the latter's error less the noise variance. rh[0..p] is the channel's
 * autocorrelation; returns that MSE (the theory's NMSE, since E|h|^2 = 1). */
static double wiener(const double *rh, int p, double noise, double *a)
{
    double r[MAX_ORDER + 1];
    r[0] = rh[0] + noise;
    for (int k = 1; k <= p; k++)
        r[k] = rh[k];
    double e = levinson(r, p, a);
    return e < 0 ? -1 : e - noise;
}

static int read_f(const char *path, RnnrtArray *a, int want_ndim)
{
    RnnrtError err;
    if (rnnrt_npy_read(path, a, &err) < 0) {
        fprintf(stderr, "channel: %s\n", err.msg);
        return -1;
    }
    if (a->ndim != want_ndim || (a->dtype != RNNRT_F32 && a->dtype != RNNRT_F64)) {
        fprintf(stderr, "channel: %s: expected a %d-d float array\n", path, want_ndim);
        rnnrt_array_free(a);
        return -1;
    }
    return 0;
}

static double at(const RnnrtArray *a, long i)
{
    return a->dtype == RNNRT_F32 ? ((const float *)a->data)[i] : ((const double *)a->data)[i];
}

static int read_params(const char *dir, Opts *o)
{
    char path[4096], key[64];
    snprintf(path, sizeof path, "%s/channel.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "channel: cannot read %s (written by channel gen)\n", path);
        return -1;
    }
    double v;
    while (fscanf(f, "%63s %lf", key, &v) == 2) {
        if (!strcmp(key, "fd_lo"))
            o->fd_lo = v;
        else if (!strcmp(key, "fd_hi"))
            o->fd_hi = v;
        else if (!strcmp(key, "snr_db"))
            o->snr_db = v;
    }
    fclose(f);
    return 0;
}

static double db(double num, double den)
{
    return 10 * log10(num / den);
}

enum { P_PERSIST, P_FAIR, P_GENIE, P_TRACKER, NPRED };

static int cmd_score(const char *dir, Opts *o)
{
    if (read_params(dir, o) < 0)
        return 1;
    char px[4096], py[4096], pf[4096];
    snprintf(px, sizeof px, "%s/%sx.npy", dir, o->set);
    snprintf(py, sizeof py, "%s/%sy.npy", dir, o->set);
    snprintf(pf, sizeof pf, "%s/%sfd.npy", dir, o->set);
    RnnrtArray X = {0}, Y = {0}, F = {0}, P = {0};
    if (read_f(px, &X, 3) < 0 || read_f(py, &Y, 3) < 0 || read_f(pf, &F, 1) < 0 ||
        (o->pred && read_f(o->pred, &P, 3) < 0))
        goto fail;
    long N = X.shape[0];
    int T = (int)X.shape[1], p = o->order, W = o->warmup < 0 ? p : o->warmup;
    if (X.shape[2] != 2 || Y.shape[0] != N || Y.shape[1] != T || Y.shape[2] != 2 ||
        F.shape[0] != N) {
        fprintf(stderr, "channel: %s, %s and %s do not match\n", px, py, pf);
        goto fail;
    }
    if (o->pred && (P.shape[0] != N || P.shape[1] != T || P.shape[2] != 2)) {
        fprintf(stderr, "channel: %s is not (%ld, %d, 2) like %s\n", o->pred, N, T, px);
        goto fail;
    }
    if (W < p - 1 || W >= T) {
        fprintf(stderr, "channel: the warm-up %d must be in [order-1, T) = [%d, %d)\n", W, p - 1,
                T);
        goto fail;
    }
    double noise = pow(10, -o->snr_db / 10), rh[MAX_ORDER + 1], afair[MAX_ORDER + 1];
    for (int k = 0; k <= p; k++)
        rh[k] = j0_avg(o->fd_lo, o->fd_hi, k);
    if (wiener(rh, p, noise, afair) < 0) {
        fprintf(stderr, "channel: the averaged autocorrelation is not positive definite\n");
        goto fail;
    }
    int nb = o->bins;
    double err[MAX_BINS + 1][NPRED] = {{0}}, pow_h[MAX_BINS + 1] = {0};
    double theory[MAX_BINS + 1] = {0};
    long seqs[MAX_BINS + 1] = {0};
    for (long s = 0; s < N; s++) {
        double f = at(&F, s), ag[MAX_ORDER + 1], rg[MAX_ORDER + 1];
        int b = o->fd_hi > o->fd_lo ? (int)((f - o->fd_lo) / (o->fd_hi - o->fd_lo) * nb) : 0;
        b = b < 0 ? 0 : b >= nb ? nb - 1 : b;
        for (int k = 0; k <= p; k++)
            rg[k] = j0(2 * PI * f * k);
        double th = wiener(rg, p, noise, ag);
        if (th < 0) {
            fprintf(stderr, "channel: sequence %ld: J0 at f_D %g not positive definite\n", s, f);
            goto fail;
        }
        for (int bb = 0; bb < 2; bb++) { /* its bin and the whole set */
            int bi = bb ? nb : b;
            theory[bi] += th;
            seqs[bi]++;
        }
        const long base = s * T * 2;
        for (int t = W; t < T; t++) {
            double hr = at(&Y, base + 2 * t), hi = at(&Y, base + 2 * t + 1);
            double pr[NPRED] = {0}, pi[NPRED] = {0};
            pr[P_PERSIST] = at(&X, base + 2 * t), pi[P_PERSIST] = at(&X, base + 2 * t + 1);
            for (int i = 1; i <= p; i++) {
                double xr = at(&X, base + 2 * (t + 1 - i)),
                       xi = at(&X, base + 2 * (t + 1 - i) + 1);
                pr[P_FAIR] += afair[i] * xr, pi[P_FAIR] += afair[i] * xi;
                pr[P_GENIE] += ag[i] * xr, pi[P_GENIE] += ag[i] * xi;
            }
            if (o->pred)
                pr[P_TRACKER] = at(&P, base + 2 * t), pi[P_TRACKER] = at(&P, base + 2 * t + 1);
            for (int bb = 0; bb < 2; bb++) {
                int bi = bb ? nb : b;
                pow_h[bi] += hr * hr + hi * hi;
                for (int k = 0; k < NPRED; k++)
                    err[bi][k] += (pr[k] - hr) * (pr[k] - hr) + (pi[k] - hi) * (pi[k] - hi);
            }
        }
    }
    printf("NMSE (dB) of the one-step prediction of h_{t+1}, %ld sequences of %s, steps %d-%d, "
           "SNR %g dB, Wiener order %d\n",
           N, px, W, T - 1, o->snr_db, p);
    printf("%-15s %5s %12s %12s %12s %12s%s\n", "f_D T_s", "seqs", "persistence", "Wiener fair",
           "Wiener genie", "(theory)", o->pred ? "      tracker  vs genie" : "");
    int rc = 0;
    for (int b = 0; b <= nb; b++) {
        char label[32];
        double w = (o->fd_hi - o->fd_lo) / nb;
        if (b < nb)
            snprintf(label, sizeof label, "%.4f-%.4f", o->fd_lo + b * w, o->fd_lo + (b + 1) * w);
        else
            snprintf(label, sizeof label, "all");
        if (!seqs[b]) {
            printf("%-15s %5ld\n", label, 0L);
            continue;
        }
        printf("%-15s %5ld %12.2f %12.2f %12.2f %12.2f", label, seqs[b],
               db(err[b][P_PERSIST], pow_h[b]), db(err[b][P_FAIR], pow_h[b]),
               db(err[b][P_GENIE], pow_h[b]), db(theory[b], (double)seqs[b]));
        if (o->pred) {
            double gap = db(err[b][P_TRACKER], pow_h[b]) - db(err[b][P_GENIE], pow_h[b]);
            printf(" %12.2f %+9.2f", db(err[b][P_TRACKER], pow_h[b]), gap);
            if (o->max_gap > 0 && gap > o->max_gap)
                rc = 1;
        }
        printf("\n");
    }
    if (rc)
        printf("the tracker is more than %g dB above the genie Wiener predictor in some bin\n",
               o->max_gap);
    rnnrt_array_free(&X), rnnrt_array_free(&Y), rnnrt_array_free(&F), rnnrt_array_free(&P);
    return rc;
fail:
    rnnrt_array_free(&X), rnnrt_array_free(&Y), rnnrt_array_free(&F), rnnrt_array_free(&P);
    return 1;
}

/* ---- compare ------------------------------------------------------------------------------ */

/* The first n float32 values of HOST.npy against the raw float32 file DEV (all of it): how
 * many differ in their bits, and by how much at worst. */
static int cmd_compare(const char *host, const char *dev)
{
    RnnrtArray H = {0};
    if (read_f(host, &H, 3) < 0)
        return 1;
    FILE *f = fopen(dev, "rb");
    if (!f) {
        fprintf(stderr, "channel: cannot read %s\n", dev);
        rnnrt_array_free(&H);
        return 1;
    }
    long n = 0, nh = rnnrt_array_numel(&H), diff = 0;
    double worst = 0;
    float v;
    while (fread(&v, sizeof v, 1, f) == 1 && n < nh) {
        float w = (float)at(&H, n);
        if (memcmp(&v, &w, sizeof v) != 0) {
            diff++;
            worst = fabs((double)v - w) > worst ? fabs((double)v - w) : worst;
        }
        n++;
    }
    int more = !feof(f) && fread(&v, sizeof v, 1, f) == 1;
    fclose(f);
    rnnrt_array_free(&H);
    if (more || n == 0) {
        fprintf(stderr, "channel: %s holds %s values than %s\n", dev, n ? "more" : "no", host);
        return 1;
    }
    if (diff)
        printf("%ld of %ld values of %s differ from %s (at worst by %.3g)\n", diff, n, dev, host,
               worst);
    else
        printf("%ld values of %s: bit for bit those of %s\n", n, dev, host);
    return diff ? 1 : 0;
}

static const char usage[] =
    "usage: channel gen DIR [--train N] [--val N] [--test N] [--len T] [--fd LO:HI]\n"
    "                       [--snr DB] [--paths M] [--seed S]\n"
    "       channel score DIR [--pred P.npy] [--order P] [--warmup W] [--bins K]\n"
    "                         [--set PREFIX] [--max-gap DB]\n"
    "       channel compare HOST.npy DEV.bin\n"
    "gen writes DIR/x.npy (N, T, 2): the pilots y_t = h_t + n_t (Re, Im); DIR/y.npy\n"
    "(N, T, 2): the target h_{t+1}; DIR/fd.npy (N): f_D T_s of each sequence; val_ and\n"
    "test_ the same for two held-out sets; DIR/channel.txt the settings. h is Rayleigh flat\n"
    "fading with the Jakes spectrum (Zheng & Xiao 2003 sum of M sinusoids, autocorrelation\n"
    "J0(2 pi f_D k), E|h|^2 = 1), f_D T_s uniform in [LO, HI], complex white noise at SNR DB.\n"
    "Defaults: --train 4000 --val 500 --test 2000 --len 200 --fd 0.01:0.05 --snr 20\n"
    "--paths 16 --seed 1.\n"
    "score prints the NMSE in dB per Doppler bin of the set PREFIX (default test_) over\n"
    "steps W..T-1: persistence (h^_{t+1} = y_t), the order-P Wiener predictor from the\n"
    "autocorrelation averaged over the f_D range (fair) and from each sequence's own f_D\n"
    "(genie), the genie's theoretical NMSE, and the tracker's predictions P.npy ((N, T, 2),\n"
    "rnnc run's output). Defaults: --order 32 --warmup (the order) --bins 4. With\n"
    "--max-gap, exit status 1 when the tracker is more than DB above the genie in a bin.\n"
    "compare checks that the raw float32 values of DEV.bin (a device's predictions) are bit\n"
    "for bit the first values of HOST.npy; exit status 1 when any differs.\n";

int main(int argc, char **argv)
{
    Opts o = {4000, 500, 2000, 200, 16, 32, -1, 4, 0.01, 0.05, 20, 1, NULL, "test_", 0};
    if (argc == 4 && !strcmp(argv[1], "compare"))
        return cmd_compare(argv[2], argv[3]);
    if (argc < 3 || (strcmp(argv[1], "gen") && strcmp(argv[1], "score"))) {
        fputs(usage, argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc > 1 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    if (parse_opts(argc, argv, 3, &o) < 0)
        return 2;
    return !strcmp(argv[1], "gen") ? cmd_gen(argv[2], &o) : cmd_score(argv[2], &o);
}
