/* repl_run.c — the REPL's commands that run the model: the input (x) and initial state
 * (h0, c0), run (beside a quantised model after `quantize`), step, reset, state and gates.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl_session.h"
#include "rnnrt.h"

/* x = [[...], ...] | x = load FILE.npy | x = sine N | x = randn N */
int repl_cmd_x(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    int I = repl_info(s).input_size;
    double *x = NULL;
    int T = 0;
    char *rest;
    if (strncmp(arg, "sine ", 5) == 0 || strncmp(arg, "randn ", 6) == 0) {
        int sine = arg[0] == 's';
        long n = strtol(arg + (sine ? 5 : 6), &rest, 10);
        if (n < 1 || n > 1000000 || *rest)
            return repl_fail(s, "x = %s N: N steps, 1 or more", sine ? "sine" : "randn");
        T = (int)n;
        x = malloc((size_t)T * I * sizeof *x);
        unsigned long long st = 88172645463325252ull + (unsigned long long)s->seed;
        for (long i = 0; x && i < (long)T * I; i++) {
            if (sine) {
                x[i] = sin(6.283185307179586 * (double)(i / I) / 16.0 + (double)(i % I));
            } else {
                st ^= st << 13, st ^= st >> 7, st ^= st << 17;
                double u = ((double)(st >> 11) + 0.5) / 9007199254740992.0;
                st ^= st << 13, st ^= st >> 7, st ^= st << 17;
                double v = (double)(st >> 11) / 9007199254740992.0;
                x[i] = sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
            }
        }
    } else if (strncmp(arg, "load ", 5) == 0) {
        RnnrtArray a;
        RnnrtError err;
        if (rnnrt_npy_read(arg + 5, &a, &err) < 0)
            return repl_fail(s, "%s", err.msg);
        long n = rnnrt_array_numel(&a);
        int ok = (a.dtype == RNNRT_F32 || a.dtype == RNNRT_F64) &&
                 ((a.ndim == 2 && a.shape[1] == I) || (a.ndim == 1 && I == 1) ||
                  (a.ndim == 3 && a.shape[0] == 1 && a.shape[2] == I));
        if (!ok) {
            rnnrt_array_free(&a);
            return repl_fail(s, "%s: want a float array (T, %d) (or (1, T, %d))", arg + 5, I, I);
        }
        T = (int)(n / I);
        x = malloc((size_t)n * sizeof *x);
        for (long i = 0; x && i < n; i++)
            x[i] = a.dtype == RNNRT_F64 ? ((double *)a.data)[i] : ((float *)a.data)[i];
        rnnrt_array_free(&a);
    } else {
        x = rnnc_parse_rows(s->r, arg, I, &T);
        if (!x)
            return repl_report(s, s->r, -1);
    }
    if (!x)
        return repl_fail(s, "out of memory");
    free(s->x);
    s->x = x;
    s->xT = T;
    s->cursor = 0;
    printf("x: %d step%s of %d\n", T, T > 1 ? "s" : "", I);
    return 0;
}

/* h0 = load F.npy | h0 = zero (c0 likewise): the top block's initial state, (L*D, 1, n) or
 * (L*D, n) as PyTorch's h0 for one sequence; run and reset start from it. */
static int set_state0(Repl *s, char *arg, int c)
{
    if (repl_need_model(s) < 0)
        return -1;
    RnncInfo info = repl_info(s);
    RnncBlockInfo b;
    rnnc_block(s->r, info.nblocks - 1, &b);
    const char *v = c ? "c0" : "h0";
    long LD = (long)b.num_layers * b.dirs, n = c || !b.proj_size ? b.hidden_size : b.proj_size;
    if (c && b.cell != RNNC_CELL_LSTM)
        return repl_fail(s, "c0: the top block '%s' is no LSTM; it has no cell state", b.name);
    double *st = calloc((size_t)(LD * n), sizeof *st);
    if (!st)
        return repl_fail(s, "out of memory");
    if (strncmp(arg, "load ", 5) == 0) {
        RnnrtArray a;
        RnnrtError err;
        if (rnnrt_npy_read(arg + 5, &a, &err) < 0) {
            free(st);
            return repl_fail(s, "%s", err.msg);
        }
        int ok = (a.dtype == RNNRT_F32 || a.dtype == RNNRT_F64) && a.shape[0] == LD &&
                 ((a.ndim == 3 && a.shape[1] == 1 && a.shape[2] == n) ||
                  (a.ndim == 2 && a.shape[1] == n));
        for (long i = 0; ok && i < LD * n; i++)
            st[i] = a.dtype == RNNRT_F64 ? ((double *)a.data)[i] : ((float *)a.data)[i];
        rnnrt_array_free(&a);
        if (!ok) {
            free(st);
            return repl_fail(
                s, "%s: want a float array (%ld, 1, %ld) or (%ld, %ld): %s of block '%s'", arg + 5,
                LD, n, LD, n, v, b.name);
        }
    } else if (strcmp(arg, "zero") != 0) {
        free(st);
        return repl_fail(s, "usage: %s = load FILE.npy | %s = zero", v, v);
    }
    int rc = repl_report(s, s->r, rnnc_model_set_state0(s->m, c ? NULL : st, c ? st : NULL));
    free(st);
    if (rc == 0)
        printf("%s of block '%s': %s; run and reset start from it\n", v, b.name,
               strcmp(arg, "zero") ? arg + 5 : "zero");
    return rc;
}

/* h0 = load H0.npy | h0 = zero */
int repl_cmd_h0(Repl *s, char *arg)
{
    return set_state0(s, arg, 0);
}

/* c0 = load C0.npy | c0 = zero (LSTM only) */
int repl_cmd_c0(Repl *s, char *arg)
{
    return set_state0(s, arg, 1);
}
static int run_quantized(Repl *s, const double *y, int ndim, const long *shape);

/* run: the whole of x from the current state; prints the output (and the quantised one). */
int repl_cmd_run(Repl *s, char *arg)
{
    (void)arg;
    if (repl_need_model(s) < 0)
        return -1;
    if (!s->x)
        return repl_fail(s, "no input: set x first (x = sine 20, x = randn 20, x = [[...]], "
                            "x = load X.npy)");
    double *y;
    int rows;
    repl_interrupted = 0;
    int rc = rnnc_model_run_stoppable(s->m, s->x, s->xT, &repl_interrupted, &y, &rows);
    repl_interrupted = 0;
    if (rc == 1) {
        printf("\ninterrupted\n");
        return 0;
    }
    if (repl_report(s, s->r, rc) < 0)
        return -1;
    RnncInfo net = repl_info(s);
    long shape[3];
    int ndim;
    if (rows == 1 && !net.per_step) {
        shape[0] = 1;
        shape[1] = net.output_size;
        ndim = 2;
    } else {
        shape[0] = net.batch_first ? 1 : s->xT;
        shape[1] = net.batch_first ? s->xT : 1;
        shape[2] = net.output_size;
        ndim = 3;
    }
    rnnc_print_array(stdout, "output", y, 1, ndim, shape);
    rc = s->qmode[0] ? run_quantized(s, y, ndim, shape) : 0;
    free(y);
    return rc;
}

/* ---- quantize: the deployed code of a quantised mode beside the float model --------- */

/* The model quantised in `mode`, calibrated on the training data (data X Y) or else on x,
 * which `what` names. NULL after a failure (reported). */
static RnncQuant *quantized(Repl *s, const char *mode, char *what, size_t n)
{
    RnncCalib c;
    memset(&c, 0, sizeof c);
    const RnncCalib *cp = NULL;
    if (s->data_x) {
        if (repl_report(s, s->r, rnnc_calib_load(s->r, s->data_x, s->data_l, &c)) < 0)
            return NULL;
        cp = &c;
        snprintf(what, n, "%s (%d sequence%s)", s->data_x, c.B, c.B > 1 ? "s" : "");
    } else if (s->x) {
        RnncCalib cx = {s->x, NULL, 1, s->xT};
        c = cx;
        cp = &c;
        snprintf(what, n, "x (1 sequence of %d steps)", s->xT);
    } else {
        snprintf(what, n, "nothing");
    }
    RnncQuant *q = rnnc_quant_model(s->r, s->m, mode, cp);
    if (!q)
        repl_report(s, s->r, -1);
    if (s->data_x)
        rnnc_calib_free(&c);
    return q;
}

/* quantize MODE: the next runs also show the model quantised in MODE (int8-weights, int8,
 * int16; none: the float model alone), calibrated afresh each time on the current data. */
int repl_cmd_quantize(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    if (!*arg)
        return repl_fail(s, "usage: quantize int8-weights|int8|int16|none");
    if (strcmp(arg, "none") == 0) {
        s->qmode[0] = '\0';
        printf("float again: run shows the float model alone\n");
        return 0;
    }
    char what[256];
    RnncQuant *q = quantized(s, arg, what, sizeof what);
    if (!q)
        return -1;
    snprintf(s->qmode, sizeof s->qmode, "%s", rnnc_quant_mode(q));
    rnnc_quant_free(q);
    printf("quantised %s: calibrated on %s; run shows it beside the float model\n", s->qmode,
           what);
    return 0;
}

/* After run: the same input through the quantised code, and how far it is from y. */
static int run_quantized(Repl *s, const double *y, int ndim, const long *shape)
{
    char what[256], label[64];
    RnncQuant *q = quantized(s, s->qmode, what, sizeof what);
    if (!q)
        return -1;
    long n = 1;
    for (int k = 0; k < ndim; k++)
        n *= shape[k];
    double *yq = malloc((size_t)n * sizeof *yq), worst = 0;
    int rc = yq ? rnnc_quant_run(q, s->x, s->xT, yq, 0) : -1;
    if (repl_report(s, s->r, rc) == 0) {
        snprintf(label, sizeof label, "quantised %s output", s->qmode);
        rnnc_print_array(stdout, label, yq, 1, ndim, shape);
        for (long k = 0; k < n; k++)
            worst = fmax(worst, fabs(yq[k] - y[k]));
        printf("largest |quantised - float|: %.6g\n", worst);
    }
    free(yq);
    rnnc_quant_free(q);
    return rc;
}

static void print_vec(const char *label, const double *v, int n)
{
    printf("  %-8s", label);
    for (int k = 0; k < n; k++) {
        if (n > 10 && k == 5) {
            printf(" ...");
            k = n - 4;
        }
        printf(" %8.4f", v[k]);
    }
    printf("\n");
}

/* state: h (and c) of every layer. */
int repl_cmd_state(Repl *s, char *arg)
{
    (void)arg;
    if (repl_need_model(s) < 0)
        return -1;
    RnncLayerInfo L;
    for (int i = 0; rnnc_layer(s->r, i, &L) == 0; i++) {
        const double *c, *h = rnnc_model_state(s->m, i, &c);
        printf("%s\n", L.label);
        print_vec("h", h, L.Hr);
        if (c)
            print_vec("c", c, L.H);
    }
    return 0;
}

/* step [VALUES]: one time step, then the output and the state. */
int repl_cmd_step(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    int I = repl_info(s).input_size;
    double row[4096];
    if (I > 4096)
        return repl_fail(s, "step: input too wide for the REPL");
    if (*arg) {
        char *p = arg;
        for (int k = 0; k < I; k++) {
            char *end;
            row[k] = strtod(p, &end);
            if (end == p)
                return repl_fail(s, "step needs %d number%s (or none, for the next step of x)", I,
                                 I > 1 ? "s" : "");
            p = end;
            while (*p == ',' || isspace((unsigned char)*p))
                p++;
        }
        if (*p)
            return repl_fail(s, "step needs %d number%s", I, I > 1 ? "s" : "");
    } else {
        if (!s->x || s->cursor >= s->xT)
            return repl_fail(s, s->x ? "x has no more steps (reset, or step VALUES)"
                                     : "no input: step VALUES, or set x first");
        memcpy(row, s->x + (long)s->cursor * I, (size_t)I * sizeof *row);
        s->cursor++;
    }
    double *y;
    int rows;
    if (repl_report(s, s->r, rnnc_model_run(s->m, row, 1, 1, &y, &rows)) < 0)
        return -1;
    print_vec("output", y, repl_info(s).output_size);
    free(y);
    return repl_cmd_state(s, "");
}

/* reset: the initial state again (zero, or h0 and c0), x from its first step. */
int repl_cmd_reset(Repl *s, char *arg)
{
    (void)arg;
    if (repl_need_model(s) < 0)
        return -1;
    rnnc_model_reset(s->m);
    s->cursor = 0;
    printf("state reset\n");
    return 0;
}

/* Every gate's activations at the last step, as numbers' bars: how open each gate is. */
int repl_cmd_gates(Repl *s, char *arg)
{
    (void)arg;
    if (repl_need_model(s) < 0)
        return -1;
    static const char *const bars[9] = {" ",      "\u2581", "\u2582", "\u2583", "\u2584",
                                        "\u2585", "\u2586", "\u2587", "\u2588"};
    RnncLayerInfo li, *L = &li;
    for (int i = 0; rnnc_layer(s->r, i, L) == 0; i++) {
        const double *a = rnnc_model_gates(s->m, i);
        if (!a)
            return repl_fail(s, "no activations yet: run or step first");
        printf("%s\n", L->label);
        for (int g = 0; g < L->G; g++) {
            /* sigmoid gates live in [0, 1]; tanh ones (LSTM g, GRU n, RNN h) in [-1, 1] */
            int tanh_like = L->gate_tanh[g];
            double mean = 0;
            printf("  %-2s |", L->gate_names[g]);
            for (int j = 0; j < L->H; j++) {
                double v = a[(long)g * L->H + j];
                mean += v;
                double u = tanh_like ? (v + 1) / 2 : v;
                int lv = (int)lround(u * 8);
                if (j < 64)
                    fputs(bars[lv < 0 ? 0 : lv > 8 ? 8 : lv], stdout);
            }
            printf("%s| mean %+.3f\n", L->H > 64 ? "..." : "", mean / L->H);
        }
    }
    return 0;
}
