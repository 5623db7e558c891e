/* repl.c — `rnnc repl`: explore, run and train a model interactively. A thin layer over the
 * public API (include/rnnc.h): every change to the spec is made by the library, re-validated
 * and recompiled (RnncModel, libtcc by default), and the time that took is printed. Line
 * editing and history come from libedit; without a terminal, commands are read line by line,
 * silently, for scripts and tests.
 */
#include "repl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "rnnc.h"
#include "rnnrt.h"

typedef struct Repl {
    char *path; /* the spec on disk, NULL when none is loaded */
    char *text; /* the spec as it stands, with the `set` edits */
    Rnnc *r;    /* the compiled spec */
    RnncModel *m;
    double *x; /* the current input, (xT, I) */
    int xT, cursor;
    char *data_x, *data_y, *data_l;
    char *val_x, *val_y, *val_l; /* validation data for train (NULL: none) */
    double last_live;            /* when the live line of train was last drawn */
    long seed;
    const char *jit; /* "tcc" or "cc" */
    int interactive, failed;
    char *plot_file; /* the last figure drawn, redrawn after `set` */
    int plot_kind;
    char qmode[16]; /* quantize: the mode run shows beside the float model; "" when none */
} Repl;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int fail(Repl *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(Repl *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout); /* in order with what the command printed so far */
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s->failed = 1;
    return -1;
}

/* Prints and clears what the library reported. */
static int report(Repl *s, Rnnc *r, int rc)
{
    fflush(stdout);
    rnnc_diag_print(r, stderr);
    if (rc < 0)
        s->failed = 1;
    return rc;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (!got)
            break;
        n += got;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* Compiles `text` (named `name` in diagnostics); on success it becomes the session's spec,
 * keeping the weights when the tensors are unchanged. On failure nothing changes. */
static int compile(Repl *s, const char *name, const char *text)
{
    Rnnc *r = rnnc_new();
    if (!r)
        return fail(s, "out of memory");
    rnnc_set_jit(r, s->jit);
    if (report(s, r, rnnc_load_text(r, name, text)) < 0) {
        rnnc_free(r);
        return -1;
    }
    double gen, comp;
    RnncModel *m = rnnc_model_new(r, s->seed, &gen, &comp);
    if (!m) {
        report(s, r, -1);
        rnnc_free(r);
        return -1;
    }
    RnncInfo info;
    rnnc_info(r, &info);
    const char *what = "weights initialised from seed";
    if (s->m && rnnc_model_take_weights(m, s->m) == 0)
        what = "weights kept";
    printf("compiled %s: generate %.1f ms, compile %.1f ms; %s", info.name, gen, comp, what);
    if (strcmp(what, "weights kept") != 0)
        printf(" %ld", s->seed);
    printf("\n");
    rnnc_model_free(s->m);
    rnnc_free(s->r);
    s->r = r;
    s->m = m;
    char *t = strdup(text);
    if (t) {
        free(s->text);
        s->text = t;
    }
    return 0;
}

static int need_model(Repl *s)
{
    return s->m ? 0 : fail(s, "no model: load a spec first (load SPEC)");
}

/* ---- the commands ------------------------------------------------------------------ */

static int cmd_load(Repl *s, char *arg)
{
    if (!*arg)
        return fail(s, "load needs a spec file");
    char *text = read_text(arg);
    if (!text)
        return fail(s, "%s: %s", arg, strerror(errno));
    int rc = compile(s, arg, text);
    free(text);
    if (rc == 0) {
        free(s->path);
        s->path = strdup(arg);
    }
    return rc;
}

static int cmd_reload(Repl *s, char *arg)
{
    (void)arg;
    if (!s->path)
        return fail(s, "nothing to reload: no spec was loaded from a file");
    char *path = strdup(s->path);
    int rc = path ? cmd_load(s, path) : fail(s, "out of memory");
    free(path);
    return rc;
}

/* The weights file `path` into the model, the file's names renamed by ren[0..n) (OLD=NEW). */
static int load_weights(Repl *s, const char *path, const char *const *ren, int n)
{
    rnnc_rename_clear(s->r);
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++)
        rc = rnnc_rename(s->r, ren[k]);
    if (rc == 0)
        rc = rnnc_model_load(s->m, path);
    rnnc_rename_clear(s->r);
    if (report(s, s->r, rc) < 0)
        return -1;
    printf("weights loaded from %s\n", path);
    return 0;
}

/* weights FILE [OLD=NEW ...] */
static int cmd_weights(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    const char *words[17];
    int n = 0;
    for (char *w = strtok(arg, " \t"); w && n < 17; w = strtok(NULL, " \t"))
        words[n++] = w;
    if (n == 0 || n == 17)
        return fail(s, "usage: weights FILE [OLD=NEW ...] (at most 16 renames)");
    return load_weights(s, words[0], words + 1, n - 1);
}

static int cmd_init(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    char *end;
    long seed = strtol(arg, &end, 10);
    if (!*arg || *end || seed < 0)
        return fail(s, "init needs a seed (a whole number of 0 or more)");
    s->seed = seed;
    rnnc_model_init(s->m, seed);
    printf("weights initialised from seed %ld\n", seed);
    return 0;
}

/* The loaded spec's facts. */
static RnncInfo info_of(const Repl *s)
{
    RnncInfo info;
    rnnc_info(s->r, &info);
    return info;
}

/* Figure `kind` of the model on x (else a seeded random sequence) to `file`. */
static int draw(Repl *s, int kind, const char *file, const char *verb)
{
    RnncPlotArgs a;
    memset(&a, 0, sizeof a);
    a.kind = (RnncPlotKind)kind;
    a.output = file;
    a.model = s->m;
    a.x = s->x;
    a.T = s->xT;
    a.seed = s->seed;
    if (report(s, s->r, rnnc_plot(s->r, &a)) < 0)
        return -1;
    printf("%s %s\n", verb, file);
    return 0;
}

/* plot KIND [FILE]: FILE defaults to KIND.svg; the figure is redrawn after every `set`. */
static int cmd_plot(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    char *file = arg;
    while (*file && !isspace((unsigned char)*file))
        file++;
    if (*file)
        *file++ = '\0';
    while (isspace((unsigned char)*file))
        file++;
    int kind = rnnc_plot_kind(arg);
    if (kind < 0 || kind == RNNC_PLOT_CURVES)
        return fail(s, "no such figure '%s' (gates, state, gradients, params, arch)", arg);
    char def[32];
    snprintf(def, sizeof def, "%s.svg", arg);
    char *path = strdup(*file ? file : def);
    if (!path)
        return fail(s, "out of memory");
    if (draw(s, kind, path, "wrote") < 0) {
        free(path);
        return -1;
    }
    free(s->plot_file);
    s->plot_file = path;
    s->plot_kind = kind;
    return 0;
}

/* set PATH VALUE: the library edits the spec's text where PATH's value stands (or adds the key
 * to its mapping), then it is recompiled; a bad value is reported at its line and the edit
 * undone. */
static int cmd_set(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    char *path = arg, *value = arg;
    while (*value && !isspace((unsigned char)*value))
        value++;
    if (*value)
        *value++ = '\0';
    while (isspace((unsigned char)*value))
        value++;
    if (!*path || !*value)
        return fail(s, "usage: set PATH VALUE, e.g. set layers[0].hidden_size 32");
    char *text = rnnc_spec_set(s->r, s->text, path, value);
    if (!text)
        return report(s, s->r, -1);
    int rc = compile(s, info_of(s).file, text);
    free(text);
    if (rc == 0 && s->plot_file) /* the interactive loop: change, see */
        rc = draw(s, s->plot_kind, s->plot_file, "redrew");
    return rc;
}

static int cmd_summary(Repl *s, char *arg)
{
    (void)arg;
    if (need_model(s) < 0)
        return -1;
    rnnc_report(s->r, stdout);
    return 0;
}

/* The parameter counts of RNN, LSTM and GRU at each block's sizes: PyTorch's (two bias
 * vectors) and the textbook's (one), G*H*(I + H + 2) and G*H*(I + H + 1) per layer. */
static int cmd_params(Repl *s, char *arg)
{
    (void)arg;
    if (need_model(s) < 0)
        return -1;
    RnncBlockInfo blk, *b = &blk;
    for (int i = 0; rnnc_block(s->r, i, b) == 0; i++) {
        printf("block %s: input %d, hidden %d, %d layer%s, %d direction%s\n", b->name,
               b->input_size, b->hidden_size, b->num_layers, b->num_layers > 1 ? "s" : "", b->dirs,
               b->dirs > 1 ? "s" : "");
        printf("  %-5s %5s %14s %14s\n", "cell", "gates", "PyTorch", "textbook");
        static const char *const cells[3] = {"rnn", "lstm", "gru"};
        static const int gates[3] = {1, 4, 3};
        for (int c = 0; c < 3; c++) {
            long torch = 0, book = 0, H = b->hidden_size;
            for (int l = 0; l < b->num_layers; l++) {
                long I = l == 0 ? b->input_size : b->dirs * H;
                torch += b->dirs * gates[c] * H * (I + H + 2);
                book += b->dirs * gates[c] * H * (I + H + 1);
            }
            printf("  %-5s %5d %14ld %14ld%s\n", cells[c], gates[c], torch, book,
                   (int)b->cell == c ? "   <- this block" : "");
        }
    }
    return 0;
}

/* show c [BLOCK[.LAYER]] | show weights NAME */
static int cmd_show(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    if (strncmp(arg, "c", 1) == 0 && (arg[1] == '\0' || isspace((unsigned char)arg[1]))) {
        char *which = arg + 1;
        while (isspace((unsigned char)*which))
            which++;
        if (!*which) {
            char *src = rnnc_source(s->r);
            if (!src)
                return report(s, s->r, -1);
            fputs(src, stdout);
            free(src);
            return 0;
        }
        /* BLOCK.LAYER, or every layer of BLOCK */
        char block[128];
        char *dot = strchr(which, '.'), *end = NULL;
        snprintf(block, sizeof block, "%.*s", dot ? (int)(dot - which) : 127, which);
        long only = dot ? strtol(dot + 1, &end, 10) : -1;
        int shown = 0, ok = !dot || (end && !*end && end > dot + 1);
        RnncBlockInfo b;
        for (int i = 0; ok && rnnc_block(s->r, i, &b) == 0; i++)
            for (int l = 0; strcmp(b.name, block) == 0 && l < b.num_layers; l++) {
                if (only >= 0 && l != only)
                    continue;
                char *src = rnnc_layer_source(s->r, block, l, 0);
                if (!src)
                    return report(s, s->r, -1);
                fputs(src, stdout);
                free(src);
                shown++;
            }
        return shown ? 0 : fail(s, "no layer '%s' (try BLOCK or BLOCK.LAYER, e.g. rnn.0)", which);
    }
    if (strncmp(arg, "weights", 7) == 0) {
        char *name = arg + 7;
        while (isspace((unsigned char)*name))
            name++;
        RnncTensorInfo ti, *t = &ti;
        for (int i = 0; rnnc_tensor(s->r, i, t) == 0; i++) {
            if (*name && strcmp(name, t->name) != 0)
                continue;
            long n;
            const double *v = rnnc_model_tensor(s->m, t->name, &n);
            if (t->ndim == 2)
                printf("%s (%ld, %ld):", t->name, t->shape[0], t->shape[1]);
            else
                printf("%s (%ld):", t->name, t->shape[0]);
            for (long k = 0; k < n && k < 6; k++)
                printf(" %.6f", v[k]);
            printf("%s\n", n > 6 ? " ..." : "");
            if (*name)
                return 0;
        }
        return *name ? fail(s, "no tensor '%s' (show weights lists them)", name) : 0;
    }
    return fail(s, "usage: show c [BLOCK[.LAYER]] | show weights [NAME]");
}

/* x = [[...], ...] | x = load FILE.npy | x = sine N | x = randn N */
static int cmd_x(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    int I = info_of(s).input_size;
    double *x = NULL;
    int T = 0;
    char *rest;
    if (strncmp(arg, "sine ", 5) == 0 || strncmp(arg, "randn ", 6) == 0) {
        int sine = arg[0] == 's';
        long n = strtol(arg + (sine ? 5 : 6), &rest, 10);
        if (n < 1 || n > 1000000 || *rest)
            return fail(s, "x = %s N: N steps, 1 or more", sine ? "sine" : "randn");
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
            return fail(s, "%s", err.msg);
        long n = rnnrt_array_numel(&a);
        int ok = (a.dtype == RNNRT_F32 || a.dtype == RNNRT_F64) &&
                 ((a.ndim == 2 && a.shape[1] == I) || (a.ndim == 1 && I == 1) ||
                  (a.ndim == 3 && a.shape[0] == 1 && a.shape[2] == I));
        if (!ok) {
            rnnrt_array_free(&a);
            return fail(s, "%s: want a float array (T, %d) (or (1, T, %d))", arg + 5, I, I);
        }
        T = (int)(n / I);
        x = malloc((size_t)n * sizeof *x);
        for (long i = 0; x && i < n; i++)
            x[i] = a.dtype == RNNRT_F64 ? ((double *)a.data)[i] : ((float *)a.data)[i];
        rnnrt_array_free(&a);
    } else {
        x = rnnc_parse_rows(s->r, arg, I, &T);
        if (!x)
            return report(s, s->r, -1);
    }
    if (!x)
        return fail(s, "out of memory");
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
    if (need_model(s) < 0)
        return -1;
    RnncInfo info = info_of(s);
    RnncBlockInfo b;
    rnnc_block(s->r, info.nblocks - 1, &b);
    const char *v = c ? "c0" : "h0";
    long LD = (long)b.num_layers * b.dirs, n = c || !b.proj_size ? b.hidden_size : b.proj_size;
    if (c && b.cell != RNNC_CELL_LSTM)
        return fail(s, "c0: the top block '%s' is no LSTM; it has no cell state", b.name);
    double *st = calloc((size_t)(LD * n), sizeof *st);
    if (!st)
        return fail(s, "out of memory");
    if (strncmp(arg, "load ", 5) == 0) {
        RnnrtArray a;
        RnnrtError err;
        if (rnnrt_npy_read(arg + 5, &a, &err) < 0) {
            free(st);
            return fail(s, "%s", err.msg);
        }
        int ok = (a.dtype == RNNRT_F32 || a.dtype == RNNRT_F64) && a.shape[0] == LD &&
                 ((a.ndim == 3 && a.shape[1] == 1 && a.shape[2] == n) ||
                  (a.ndim == 2 && a.shape[1] == n));
        for (long i = 0; ok && i < LD * n; i++)
            st[i] = a.dtype == RNNRT_F64 ? ((double *)a.data)[i] : ((float *)a.data)[i];
        rnnrt_array_free(&a);
        if (!ok) {
            free(st);
            return fail(s, "%s: want a float array (%ld, 1, %ld) or (%ld, %ld): %s of block '%s'",
                        arg + 5, LD, n, LD, n, v, b.name);
        }
    } else if (strcmp(arg, "zero") != 0) {
        free(st);
        return fail(s, "usage: %s = load FILE.npy | %s = zero", v, v);
    }
    int rc = report(s, s->r, rnnc_model_set_state0(s->m, c ? NULL : st, c ? st : NULL));
    free(st);
    if (rc == 0)
        printf("%s of block '%s': %s; run and reset start from it\n", v, b.name,
               strcmp(arg, "zero") ? arg + 5 : "zero");
    return rc;
}

static int cmd_h0(Repl *s, char *arg)
{
    return set_state0(s, arg, 0);
}

static int cmd_c0(Repl *s, char *arg)
{
    return set_state0(s, arg, 1);
}
static int run_quantized(Repl *s, const double *y, int ndim, const long *shape);

static int cmd_run(Repl *s, char *arg)
{
    (void)arg;
    if (need_model(s) < 0)
        return -1;
    if (!s->x)
        return fail(s, "no input: set x first (x = sine 20, x = randn 20, x = [[...]], "
                       "x = load X.npy)");
    double *y;
    int rows;
    interrupted = 0;
    int rc = rnnc_model_run_stoppable(s->m, s->x, s->xT, &interrupted, &y, &rows);
    interrupted = 0;
    if (rc == 1) {
        printf("\ninterrupted\n");
        return 0;
    }
    if (report(s, s->r, rc) < 0)
        return -1;
    RnncInfo net = info_of(s);
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
        if (report(s, s->r, rnnc_calib_load(s->r, s->data_x, s->data_l, &c)) < 0)
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
        report(s, s->r, -1);
    if (s->data_x)
        rnnc_calib_free(&c);
    return q;
}

/* quantize MODE: the next runs also show the model quantised in MODE (int8-weights, int8,
 * int16; none: the float model alone), calibrated afresh each time on the current data. */
static int cmd_quantize(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    if (!*arg)
        return fail(s, "usage: quantize int8-weights|int8|int16|none");
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
    if (report(s, s->r, rc) == 0) {
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

static int cmd_state(Repl *s, char *arg)
{
    (void)arg;
    if (need_model(s) < 0)
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

static int cmd_step(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    int I = info_of(s).input_size;
    double row[4096];
    if (I > 4096)
        return fail(s, "step: input too wide for the REPL");
    if (*arg) {
        char *p = arg;
        for (int k = 0; k < I; k++) {
            char *end;
            row[k] = strtod(p, &end);
            if (end == p)
                return fail(s, "step needs %d number%s (or none, for the next step of x)", I,
                            I > 1 ? "s" : "");
            p = end;
            while (*p == ',' || isspace((unsigned char)*p))
                p++;
        }
        if (*p)
            return fail(s, "step needs %d number%s", I, I > 1 ? "s" : "");
    } else {
        if (!s->x || s->cursor >= s->xT)
            return fail(s, s->x ? "x has no more steps (reset, or step VALUES)"
                                : "no input: step VALUES, or set x first");
        memcpy(row, s->x + (long)s->cursor * I, (size_t)I * sizeof *row);
        s->cursor++;
    }
    double *y;
    int rows;
    if (report(s, s->r, rnnc_model_run(s->m, row, 1, 1, &y, &rows)) < 0)
        return -1;
    print_vec("output", y, info_of(s).output_size);
    free(y);
    return cmd_state(s, "");
}

static int cmd_reset(Repl *s, char *arg)
{
    (void)arg;
    if (need_model(s) < 0)
        return -1;
    rnnc_model_reset(s->m);
    s->cursor = 0;
    printf("state reset\n");
    return 0;
}

/* Every gate's activations at the last step, as numbers' bars: how open each gate is. */
static int cmd_gates(Repl *s, char *arg)
{
    (void)arg;
    if (need_model(s) < 0)
        return -1;
    static const char *const bars[9] = {" ",      "\u2581", "\u2582", "\u2583", "\u2584",
                                        "\u2585", "\u2586", "\u2587", "\u2588"};
    RnncLayerInfo li, *L = &li;
    for (int i = 0; rnnc_layer(s->r, i, L) == 0; i++) {
        const double *a = rnnc_model_gates(s->m, i);
        if (!a)
            return fail(s, "no activations yet: run or step first");
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

/* data X.npy Y.npy [L.npy] [val VX.npy VY.npy [VL.npy]] */
static int cmd_data(Repl *s, char *arg)
{
    char *words[8] = {0};
    int n = 0, v = -1;
    for (char *w = strtok(arg, " \t"); w; w = strtok(NULL, " \t"), n++) {
        if (n < 8)
            words[n] = w;
        if (strcmp(w, "val") == 0 && v < 0)
            v = n;
    }
    int nt = v < 0 ? n : v, nv = v < 0 ? 0 : n - v - 1;
    if (n > 7 || nt < 2 || nt > 3 || (v >= 0 && (nv < 2 || nv > 3)))
        return fail(s, "usage: data X.npy Y.npy [L.npy] [val VX.npy VY.npy [VL.npy]]");
    char **fields[6] = {&s->data_x, &s->data_y, &s->data_l, &s->val_x, &s->val_y, &s->val_l};
    const char *given[6] = {words[0],
                            words[1],
                            nt > 2 ? words[2] : NULL,
                            nv ? words[v + 1] : NULL,
                            nv ? words[v + 2] : NULL,
                            nv > 2 ? words[v + 3] : NULL};
    for (int k = 0; k < 6; k++) {
        free(*fields[k]);
        *fields[k] = given[k] ? strdup(given[k]) : NULL;
    }
    printf("training data: %s, %s%s%s\n", words[0], words[1], nt > 2 ? ", " : "",
           nt > 2 ? words[2] : "");
    if (nv)
        printf("validation data: %s, %s%s%s\n", s->val_x, s->val_y, s->val_l ? ", " : "",
               s->val_l ? s->val_l : "");
    return 0;
}

/* The epoch lines as rnnc train prints them; on a terminal the live line with steps/s and
 * time left. */
static void show_progress(void *ctx, const RnncProgress *p)
{
    Repl *s = ctx;
    if (p->end_of_epoch) {
        if (s->interactive)
            printf("\r\033[K");
        printf("epoch %d/%d  loss %.6f", p->epoch, p->epochs, p->loss);
        if (!isnan(p->train_acc))
            printf("  acc %.4f", p->train_acc);
        if (!isnan(p->val_loss))
            printf("  val_loss %.6f", p->val_loss);
        if (!isnan(p->val_acc))
            printf("  val_acc %.4f", p->val_acc);
        printf("\n");
        fflush(stdout);
    } else if (s->interactive && (p->elapsed - s->last_live >= 0.1 || p->step == p->steps)) {
        s->last_live = p->elapsed;
        printf("\r\033[Kepoch %d/%d  step %ld/%ld  loss %.6f  %.1f steps/s  %.0f s left", p->epoch,
               p->epochs, p->step, p->steps, p->loss, p->steps_per_s, p->eta);
        fflush(stdout);
    }
}

/* train N: N epochs on the data from the current weights, the optimizer's state carried
 * from the last train; Ctrl-C keeps the epochs that finished. */
static int cmd_train(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    char *end;
    long n = strtol(arg, &end, 10);
    if (!*arg || *end || n < 1 || n > 1000000)
        return fail(s, "train needs a number of epochs");
    if (!s->data_x)
        return fail(s, "no training data: data X.npy Y.npy [LENGTHS.npy]");
    RnncTrainArgs a;
    memset(&a, 0, sizeof a);
    a.input = s->data_x;
    a.target = s->data_y;
    a.lengths = s->data_l;
    a.val_input = s->val_x;
    a.val_target = s->val_y;
    a.val_lengths = s->val_l;
    rnnc_train_cfg(s->r, &a.cfg);
    a.cfg.epochs = (int)n;
    a.progress = show_progress;
    a.ctx = s;
    a.stop = &interrupted;
    interrupted = 0;
    s->last_live = -1;
    int rc = report(s, s->r, rnnc_model_train(s->m, &a));
    if (rc == 0 && a.stopped)
        printf("%sinterrupted: the epochs that finished are kept\n", s->interactive ? "\n" : "");
    interrupted = 0;
    return rc;
}

static int cmd_save(Repl *s, char *arg)
{
    if (need_model(s) < 0)
        return -1;
    if (!*arg)
        return fail(s, "save needs a file name");
    if (report(s, s->r, rnnc_model_save(s->m, arg)) < 0)
        return -1;
    printf("saved %s\n", arg);
    return 0;
}

static int cmd_help(Repl *s, char *arg);

typedef struct Command {
    const char *name;
    int (*fn)(Repl *, char *);
    const char *usage, *help;
} Command;

static const Command commands[] = {
    {"help", cmd_help, "help [COMMAND]", "list the commands, or explain one"},
    {"load", cmd_load, "load SPEC", "load and compile a spec"},
    {"reload", cmd_reload, "reload", "read the spec file again (after an edit on disk)"},
    {"weights", cmd_weights, "weights FILE [OLD=NEW ...]",
     "load PyTorch weights (safetensors or .pt); OLD=NEW as rnnc run's --rename"},
    {"init", cmd_init, "init SEED", "fresh weights: PyTorch's initialisation from SEED"},
    {"set", cmd_set, "set PATH VALUE",
     "change the spec (e.g. set layers[0].hidden_size 32, set layers[0].cell gru,\n"
     "    set head.out_features 3), re-validate and recompile; weights are kept when their\n"
     "    shapes do not change"},
    {"summary", cmd_summary, "summary", "what rnnc check prints"},
    {"params", cmd_params, "params", "parameter counts of RNN, LSTM and GRU at these sizes"},
    {"show", cmd_show, "show c [BLOCK[.LAYER]] | show weights [NAME]",
     "the generated C (of one layer), or tensors' shapes and first values"},
    {"x", cmd_x, "x = [[...], ...] | x = load X.npy | x = sine N | x = randn N",
     "set the input sequence, (T, input_size)"},
    {"h0", cmd_h0, "h0 = load H0.npy | h0 = zero",
     "the top block's initial h, (num_layers*D, 1, H): run and reset start from it"},
    {"c0", cmd_c0, "c0 = load C0.npy | c0 = zero", "the top block's initial c (LSTM)"},
    {"run", cmd_run, "run", "run the whole input and print the output"},
    {"step", cmd_step, "step [VALUES]",
     "one time step (VALUES, or the next step of x), carrying the state; prints the output "
     "and the state"},
    {"reset", cmd_reset, "reset", "back to the initial state: zero, or h0 and c0"},
    {"state", cmd_state, "state", "print the state of every layer"},
    {"gates", cmd_gates, "gates", "every gate's activations at the last step, as bars"},
    {"plot", cmd_plot, "plot KIND [FILE]",
     "draw gates, state, gradients, params or arch of x to FILE; redrawn after set"},
    {"data", cmd_data, "data X Y [L] [val VX VY [VL]]",
     "training (and validation) .npy files for train"},
    {"quantize", cmd_quantize, "quantize int8-weights|int8|int16|none",
     "run also shows the quantised deployed code (calibrated on data, or x)"},
    {"train", cmd_train, "train N",
     "N more epochs (spec's loss and train:; optimizer state kept); Ctrl-C keeps done epochs"},
    {"save", cmd_save, "save W.safetensors", "write the weights"},
    {"quit", NULL, "quit", "leave (also: exit, Ctrl-D)"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static int cmd_help(Repl *s, char *arg)
{
    for (int i = 0; i < NCOMMANDS; i++) {
        if (*arg && strcmp(arg, commands[i].name) != 0)
            continue;
        if (*arg) {
            printf("%s\n    %s\n", commands[i].usage, commands[i].help);
            return 0;
        }
        printf("  %-44s %s\n", commands[i].usage,
               strchr(commands[i].help, '\n') ? "change the spec, re-validate, recompile"
                                              : commands[i].help);
    }
    return *arg ? fail(s, "no command '%s' (help lists them)", arg) : 0;
}

/* Runs one line; returns 1 to leave. */
static int dispatch(Repl *s, char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    size_t n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1]))
        line[--n] = '\0';
    if (!*line || *line == '#')
        return 0;
    char *arg = line;
    while (*arg && !isspace((unsigned char)*arg) && *arg != '=')
        arg++;
    char word[32];
    snprintf(word, sizeof word, "%.*s", (int)(arg - line), line);
    while (isspace((unsigned char)*arg))
        arg++;
    if (!strcmp(word, "x") || !strcmp(word, "h0") || !strcmp(word, "c0")) {
        if (*arg != '=') {
            fail(s, "%s = ...: see help %s", word, word);
            return 0;
        }
        arg++;
        while (isspace((unsigned char)*arg))
            arg++;
    }
    if (!strcmp(word, "quit") || !strcmp(word, "exit"))
        return 1;
    for (int i = 0; i < NCOMMANDS; i++)
        if (commands[i].fn && strcmp(word, commands[i].name) == 0) {
            commands[i].fn(s, arg);
            fflush(stdout);
            return 0;
        }
    fail(s, "unknown command '%s' (help lists them)", word);
    return 0;
}

static char *complete_command(const char *text, int state)
{
    static int i;
    static size_t len;
    if (!state) {
        i = 0;
        len = strlen(text);
    }
    while (i < NCOMMANDS) {
        const char *name = commands[i++].name;
        if (strncmp(name, text, len) == 0)
            return strdup(name);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    if (start != 0)
        return NULL;
    return rl_completion_matches(text, complete_command);
}

int repl_main(const char *spec, const char *weights, const char *const *ren, int nren,
              const char *jit)
{
    Repl s;
    memset(&s, 0, sizeof s);
    s.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    s.jit = jit;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (spec && cmd_load(&s, (char *)spec) == 0 && weights)
        load_weights(&s, weights, ren, nren);
    if (s.interactive) {
        rl_attempted_completion_function = complete;
        printf("rnnc repl: help lists the commands; Ctrl-D leaves\n");
    }
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        char prompt[96];
        snprintf(prompt, sizeof prompt, "rnnc(%s)> ", s.r ? info_of(&s).name : "-");
        char *got;
        if (s.interactive) {
            interrupted = 0;
            got = readline(prompt);
            if (!got) {
                if (interrupted) { /* Ctrl-C at the prompt: a fresh line */
                    printf("\n");
                    continue;
                }
                printf("\n");
                break;
            }
            if (*got)
                add_history(got);
        } else {
            if (getline(&line, &cap, stdin) < 0)
                break;
            got = line;
        }
        int leave = dispatch(&s, got);
        if (s.interactive)
            free(got);
        if (leave)
            break;
    }
    free(line);
    rnnc_model_free(s.m);
    rnnc_free(s.r);
    free(s.path);
    free(s.text);
    free(s.x);
    free(s.data_x);
    free(s.data_y);
    free(s.data_l);
    free(s.plot_file);
    free(s.val_x);
    free(s.val_y);
    free(s.val_l);
    return s.interactive ? 0 : s.failed;
}
