/* repl_spec.c — the REPL's commands on the spec and the weights: load, reload, set (the
 * library edits the text, then it is recompiled), summary, params, show, plot, and
 * weights, init, save. Every change goes through include/rnnc.h and is recompiled at once.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl_session.h"

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
        return repl_fail(s, "out of memory");
    rnnc_set_jit(r, s->jit);
    if (repl_report(s, r, rnnc_load_text(r, name, text)) < 0) {
        rnnc_free(r);
        return -1;
    }
    double gen, comp;
    RnncModel *m = rnnc_model_new(r, s->seed, &gen, &comp);
    if (!m) {
        repl_report(s, r, -1);
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

/* load SPEC: read and compile; the session's spec file only on success. */
int repl_cmd_load(Repl *s, char *arg)
{
    if (!*arg)
        return repl_fail(s, "load needs a spec file");
    char *text = read_text(arg);
    if (!text)
        return repl_fail(s, "%s: %s", arg, strerror(errno));
    int rc = compile(s, arg, text);
    free(text);
    if (rc == 0) {
        free(s->path);
        s->path = strdup(arg);
    }
    return rc;
}

/* reload: the spec file again, dropping the `set` edits. */
int repl_cmd_reload(Repl *s, char *arg)
{
    (void)arg;
    if (!s->path)
        return repl_fail(s, "nothing to reload: no spec was loaded from a file");
    char *path = strdup(s->path);
    int rc = path ? repl_cmd_load(s, path) : repl_fail(s, "out of memory");
    free(path);
    return rc;
}

/* The weights file `path` into the model, the file's names renamed by ren[0..n) (OLD=NEW). */
int repl_load_weights(Repl *s, const char *path, const char *const *ren, int n)
{
    rnnc_rename_clear(s->r);
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++)
        rc = rnnc_rename(s->r, ren[k]);
    if (rc == 0)
        rc = rnnc_model_load(s->m, path);
    rnnc_rename_clear(s->r);
    if (repl_report(s, s->r, rc) < 0)
        return -1;
    printf("weights loaded from %s\n", path);
    return 0;
}

/* weights FILE [OLD=NEW ...] */
int repl_cmd_weights(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    const char *words[17];
    int n = 0;
    for (char *w = strtok(arg, " \t"); w && n < 17; w = strtok(NULL, " \t"))
        words[n++] = w;
    if (n == 0 || n == 17)
        return repl_fail(s, "usage: weights FILE [OLD=NEW ...] (at most 16 renames)");
    return repl_load_weights(s, words[0], words + 1, n - 1);
}

/* init SEED: PyTorch's initialisation drawn from SEED. */
int repl_cmd_init(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    char *end;
    long seed = strtol(arg, &end, 10);
    if (!*arg || *end || seed < 0)
        return repl_fail(s, "init needs a seed (a whole number of 0 or more)");
    s->seed = seed;
    rnnc_model_init(s->m, seed);
    printf("weights initialised from seed %ld\n", seed);
    return 0;
}

/* save FILE: the weights, as safetensors. */
int repl_cmd_save(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    if (!*arg)
        return repl_fail(s, "save needs a file name");
    if (repl_report(s, s->r, rnnc_model_save(s->m, arg)) < 0)
        return -1;
    printf("saved %s\n", arg);
    return 0;
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
    if (repl_report(s, s->r, rnnc_plot(s->r, &a)) < 0)
        return -1;
    printf("%s %s\n", verb, file);
    return 0;
}

/* plot KIND [FILE]: FILE defaults to KIND.svg; the figure is redrawn after every `set`. */
int repl_cmd_plot(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
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
        return repl_fail(s, "no such figure '%s' (gates, state, gradients, params, arch)", arg);
    char def[32];
    snprintf(def, sizeof def, "%s.svg", arg);
    char *path = strdup(*file ? file : def);
    if (!path)
        return repl_fail(s, "out of memory");
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
int repl_cmd_set(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    char *path = arg, *value = arg;
    while (*value && !isspace((unsigned char)*value))
        value++;
    if (*value)
        *value++ = '\0';
    while (isspace((unsigned char)*value))
        value++;
    if (!*path || !*value)
        return repl_fail(s, "usage: set PATH VALUE, e.g. set layers[0].hidden_size 32");
    char *text = rnnc_spec_set(s->r, s->text, path, value);
    if (!text)
        return repl_report(s, s->r, -1);
    int rc = compile(s, repl_info(s).file, text);
    free(text);
    if (rc == 0 && s->plot_file) /* the interactive loop: change, see */
        rc = draw(s, s->plot_kind, s->plot_file, "redrew");
    return rc;
}

/* summary: what rnnc check prints. */
int repl_cmd_summary(Repl *s, char *arg)
{
    (void)arg;
    if (repl_need_model(s) < 0)
        return -1;
    rnnc_report(s->r, stdout);
    return 0;
}

/* The parameter counts of RNN, LSTM and GRU at each block's sizes: PyTorch's (two bias
 * vectors) and the textbook's (one), G*H*(I + H + 2) and G*H*(I + H + 1) per layer. */
int repl_cmd_params(Repl *s, char *arg)
{
    (void)arg;
    if (repl_need_model(s) < 0)
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
int repl_cmd_show(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    if (strncmp(arg, "c", 1) == 0 && (arg[1] == '\0' || isspace((unsigned char)arg[1]))) {
        char *which = arg + 1;
        while (isspace((unsigned char)*which))
            which++;
        if (!*which) {
            char *src = rnnc_source(s->r);
            if (!src)
                return repl_report(s, s->r, -1);
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
                    return repl_report(s, s->r, -1);
                fputs(src, stdout);
                free(src);
                shown++;
            }
        return shown ? 0
                     : repl_fail(s, "no layer '%s' (try BLOCK or BLOCK.LAYER, e.g. rnn.0)", which);
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
        return *name ? repl_fail(s, "no tensor '%s' (show weights lists them)", name) : 0;
    }
    return repl_fail(s, "usage: show c [BLOCK[.LAYER]] | show weights [NAME]");
}
