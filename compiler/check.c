/* check.c — SpecDoc to Net: every rule of the spec language (version 1) lives here.
 * Emitters downstream only assert; anything a user can get wrong is reported here with
 * the span of the offending key or value.
 */
#include "check.h"

#include "cell.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Which cells a block key applies to. */
enum { FOR_RNN = 1, FOR_LSTM = 2, FOR_GRU = 4, FOR_ALL = 7 };

typedef struct KeyInfo {
    const char *key;
    int cells;
} KeyInfo;

static const KeyInfo top_keys[] = {
    {"version", 0}, {"name", 0},    {"input_size", 0}, {"batch_first", 0}, {"precision", 0},
    {"layers", 0},  {"head", 0},    {"math", 0},       {"deploy", 0},      {"loss", 0},
    {"train", 0},   {"weights", 0}, {NULL, 0},
};
static const KeyInfo weights_keys[] = {{"strip", 0}, {"map", 0}, {NULL, 0}};
static const KeyInfo deploy_keys[] = {{"max_seq_len", 0}, {"quantize", 0}, {NULL, 0}};
/* train: keys; the cell mask field holds which optimizers a key applies to */
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
static const KeyInfo block_keys[] = {
    {"name", FOR_ALL},       {"cell", FOR_ALL},          {"hidden_size", FOR_ALL},
    {"num_layers", FOR_ALL}, {"bidirectional", FOR_ALL}, {"dropout", FOR_ALL},
    {"bias", FOR_ALL},       {"kernel", FOR_ALL},        {"nonlinearity", FOR_RNN},
    {"proj_size", FOR_LSTM}, {"reset", FOR_GRU},         {NULL, 0},
};
static const KeyInfo head_keys[] = {
    {"name", 0}, {"out_features", 0}, {"input", 0}, {"activation", 0}, {"bias", 0}, {NULL, 0},
};

typedef struct Checker {
    Arena *arena;
    DiagList *diag;
} Checker;

int check_is_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch > '~' || ch == '=' || (ch == '.' && s[i + 1] == '.'))
            return 0;
    }
    return 1;
}

int check_is_ident(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || isdigit((unsigned char)s[0]))
        return 0;
    if (s[0] == '_' && (s[1] == '_' || isupper((unsigned char)s[1])))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

/* Levenshtein distance, capped: enough to suggest a near miss. */
static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 40 || nb > 40)
        return 99;
    int row[41];
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static const char *cells_label(int mask)
{
    return mask == FOR_RNN ? "rnn" : mask == FOR_LSTM ? "lstm" : "gru";
}

static const char *const opt_names[] = {"sgd", "adam", "adamw", NULL};

/* A key's text and place, sorted to find duplicates. */
typedef struct KeyRef {
    const char *str;
    int index;
} KeyRef;

/* By text, then by place, so that each key's first use leads its run. */
static int cmp_key_ref(const void *a, const void *b)
{
    const KeyRef *x = a, *y = b;
    int r = strcmp(x->str, y->str);
    return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* For every key of `map`, the index of the first key with the same text (itself when it is
 * the first), in a fresh arena array: sorting keeps this n log n for a map of any size.
 * NULL when out of memory (diagnostic added). */
static int *first_uses(Checker *c, const Node *map)
{
    int n = map->n;
    KeyRef *refs = arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *refs);
    int *first = arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof *first);
    if (!refs || !first) {
        diag_error(c->diag, span_none(), "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        refs[i] = (KeyRef){map->keys[i]->str, i};
    qsort(refs, (size_t)n, sizeof *refs, cmp_key_ref);
    for (int k = 0; k < n; k++)
        first[refs[k].index] = k > 0 && strcmp(refs[k].str, refs[k - 1].str) == 0
                                   ? first[refs[k - 1].index]
                                   : refs[k].index;
    return first;
}

/* Reports unknown and duplicate keys of `map`, and keys that do not apply to `cell`
 * (cell < 0: no cell filter). `where` names the map in messages. */
static void check_keys(Checker *c, const Node *map, const KeyInfo *table, int cell,
                       const char *where)
{
    int *first = first_uses(c, map);
    if (!first)
        return;
    for (int i = 0; i < map->n; i++) {
        const Node *k = map->keys[i];
        if (first[i] != i) {
            const Node *f = map->keys[first[i]];
            diag_error(c->diag, k->span, "duplicate key '%s' in %s", k->str, where);
            diag_note(c->diag, f->span, "'%s' first set here", k->str);
        }
        const KeyInfo *info = NULL;
        for (const KeyInfo *t = table; t->key; t++)
            if (strcmp(t->key, k->str) == 0)
                info = t;
        if (!info) {
            const char *best = NULL;
            int bestd = 99;
            for (const KeyInfo *t = table; t->key; t++) {
                int dist = edit_distance(k->str, t->key);
                if (dist < bestd) {
                    bestd = dist;
                    best = t->key;
                }
            }
            int tol = strlen(k->str) > 6 ? 3 : 2;
            if (best && bestd <= tol) {
                diag_error(c->diag, k->span, "unknown key '%s' in %s; did you mean '%s'?", k->str,
                           where, best);
            } else {
                char list[512] = "";
                for (const KeyInfo *t = table; t->key; t++) {
                    if (cell >= 0 && !(t->cells & (1 << cell)))
                        continue;
                    strncat(list, list[0] ? ", " : "", sizeof list - strlen(list) - 1);
                    strncat(list, t->key, sizeof list - strlen(list) - 1);
                }
                diag_error(c->diag, k->span, "unknown key '%s' in %s (known keys: %s)", k->str,
                           where, list);
            }
            continue;
        }
        if (cell >= 0 && !(info->cells & (1 << cell))) {
            if (table == train_keys)
                diag_error(c->diag, k->span, "'%s' applies only to optimizer: %s, not to %s",
                           k->str, info->cells == FOR_SGD ? "sgd" : "adam or adamw",
                           opt_names[cell]);
            else if (table == sched_keys)
                diag_error(c->diag, k->span, "'%s' applies only to kind: %s, not to %s", k->str,
                           info->cells == FOR_STEP     ? "step"
                           : info->cells == FOR_COSINE ? "cosine"
                                                       : "plateau",
                           sched_names[cell]);
            else
                diag_error(c->diag, k->span, "'%s' applies only to cell: %s, not to %s", k->str,
                           cells_label(info->cells), cell_kind_name((CellKind)cell));
        }
    }
}

static const char *node_what(const Node *n)
{
    return n->kind == NODE_MAP ? "a mapping" : n->kind == NODE_SEQ ? "a list" : "text";
}

static int want_scalar(Checker *c, const Node *v, const char *key, const char *type)
{
    if (v->kind == NODE_SCALAR)
        return 0;
    diag_error(c->diag, v->span, "'%s' must be %s, found %s", key, type, node_what(v));
    return -1;
}

/* A quoted scalar that would read as `type` unquoted: YAML makes it text, so say so. */
static void quoted(Checker *c, const Node *v, const char *key, const char *type)
{
    diag_error(c->diag, v->span,
               "'%s' must be %s, found the quoted string \"%s\"; write it without quotes", key,
               type, v->str);
}

/* Reads an integer in [lo, hi]; returns 0 and sets *out, or -1 after a diagnostic. */
static int get_int(Checker *c, const Node *v, const char *key, long lo, long hi, int *out)
{
    if (want_scalar(c, v, key, "an integer") < 0)
        return -1;
    char *end;
    errno = 0;
    long x = strtol(v->str, &end, 10);
    int ok = v->str[0] != '\0' && *end == '\0' && !isspace((unsigned char)v->str[0]);
    if (ok && !v->plain) {
        quoted(c, v, key, "an integer");
        return -1;
    }
    if (ok && errno == ERANGE)
        x = x < 0 ? LONG_MIN : LONG_MAX; /* reported as out of range below */
    if (!ok) {
        diag_error(c->diag, v->span, "'%s' must be an integer, found '%s'", key, v->str);
        return -1;
    }
    if (x < lo || x > hi) {
        if (x < lo)
            diag_error(c->diag, v->span, "'%s' must be at least %ld, found %ld", key, lo, x);
        else
            diag_error(c->diag, v->span, "'%s' must be at most %ld, found %ld", key, hi, x);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int get_bool(Checker *c, const Node *v, const char *key, int *out)
{
    if (want_scalar(c, v, key, "true or false") < 0)
        return -1;
    if (v->plain && strcmp(v->str, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (v->plain && strcmp(v->str, "false") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(v->str, "true") == 0 || strcmp(v->str, "false") == 0)
        quoted(c, v, key, "true or false");
    else
        diag_error(c->diag, v->span, "'%s' must be true or false, found '%s'", key, v->str);
    return -1;
}

static int get_float(Checker *c, const Node *v, const char *key, double *out)
{
    if (want_scalar(c, v, key, "a number") < 0)
        return -1;
    char *end;
    errno = 0;
    double x = strtod(v->str, &end);
    int ok = v->str[0] != '\0' && *end == '\0' && errno != ERANGE && isfinite(x) &&
             !isspace((unsigned char)v->str[0]);
    if (ok && !v->plain) {
        quoted(c, v, key, "a number");
        return -1;
    }
    if (!ok) {
        diag_error(c->diag, v->span, "'%s' must be a number, found '%s'", key, v->str);
        return -1;
    }
    *out = x;
    return 0;
}

/* Reads one of the NULL-terminated `options`; returns its index or -1. */
static int get_enum(Checker *c, const Node *v, const char *key, const char *const *options)
{
    char list[256] = "";
    if (v->kind == NODE_SCALAR) {
        for (int i = 0; options[i]; i++)
            if (strcmp(v->str, options[i]) == 0)
                return i;
    }
    for (int i = 0; options[i]; i++) {
        strncat(list, i ? (options[i + 1] ? ", " : " or ") : "", sizeof list - strlen(list) - 1);
        strncat(list, options[i], sizeof list - strlen(list) - 1);
    }
    if (v->kind == NODE_SCALAR)
        diag_error(c->diag, v->span, "'%s' must be %s, found '%s'", key, list, v->str);
    else
        diag_error(c->diag, v->span, "'%s' must be %s, found %s", key, list, node_what(v));
    return -1;
}

static const char *get_ident(Checker *c, const Node *v, const char *key)
{
    if (want_scalar(c, v, key, "a name") < 0)
        return NULL;
    if (!check_is_ident(v->str)) {
        diag_error(c->diag, v->span,
                   "'%s' must be a plain C identifier (letters, digits and '_', not starting "
                   "with a digit, '__' or '_' and a capital, at most 63 characters), found '%s'",
                   key, v->str);
        return NULL;
    }
    return v->str;
}

static void missing(Checker *c, const Node *map, const char *key, const char *where)
{
    /* a misspelling of it was reported already, with the suggestion */
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->str, key) != 0 && edit_distance(map->keys[i]->str, key) <= 2)
            return;
    diag_error(c->diag, map->span, "%s is missing required key '%s'", where, key);
}

static const char *const cell_names[] = {"rnn", "lstm", "gru", NULL};
static const char *const nonlin_names[] = {"tanh", "relu", NULL};
static const char *const reset_names[] = {"after", "before", NULL};
static const char *const kernel_names[] = {"auto", "unrolled", "loop", NULL};
static const char *const input_names[] = {"last", "sequence", NULL};
static const char *const act_names[] = {"none", "softmax", "sigmoid", NULL};
static const char *const precision_names[] = {"float32", "float64", NULL};
static const char *const math_names[] = {"libm", "builtin", NULL};
/* deploy.quantize, in QuantMode's order */
static const char *const quantize_names[] = {"none", "int8-weights", "int8", "int16", NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", "bce_with_logits", NULL};

enum { MAX_SIZE = 1 << 20, MAX_HIDDEN = 1 << 16, MAX_LAYERS = 64 };

/* layers[i]:
 *   name: rnn            # required, C identifier
 *   cell: lstm           # required: rnn | lstm | gru
 *   hidden_size: 64      # required
 *   num_layers: 1  bidirectional: false  dropout: 0.0  bias: true
 *   kernel: auto         # auto | unrolled | loop
 *   nonlinearity: tanh   # rnn only: tanh | relu
 *   proj_size: 0         # lstm only, < hidden_size
 *   reset: after         # gru only: after | before
 */
static int check_block(Checker *c, const Node *m, int index, Block *b)
{
    int e0 = c->diag->nerrors;
    char where[64];
    snprintf(where, sizeof where, "layers[%d]", index);
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "%s must be a mapping of block settings, found %s", where,
                   node_what(m));
        return -1;
    }
    memset(b, 0, sizeof *b);
    b->span = m->span;
    b->num_layers = 1;
    b->dirs = 1;
    b->bias = 1;
    int cell = -1;
    const Node *v;
    if ((v = spec_map_get(m, "cell")) != NULL) {
        cell = get_enum(c, v, "cell", cell_names);
        if (cell >= 0)
            b->cell = (CellKind)cell;
    } else {
        missing(c, m, "cell", where);
    }
    check_keys(c, m, block_keys, cell, where);
    if ((v = spec_map_get(m, "name")) != NULL)
        b->name = get_ident(c, v, "name");
    else
        missing(c, m, "name", where);
    if ((v = spec_map_get(m, "hidden_size")) != NULL)
        get_int(c, v, "hidden_size", 1, MAX_HIDDEN, &b->hidden_size);
    else
        missing(c, m, "hidden_size", where);
    if ((v = spec_map_get(m, "num_layers")) != NULL)
        get_int(c, v, "num_layers", 1, MAX_LAYERS, &b->num_layers);
    if ((v = spec_map_get(m, "bidirectional")) != NULL) {
        int bi = 0;
        if (get_bool(c, v, "bidirectional", &bi) == 0)
            b->dirs = bi ? 2 : 1;
    }
    if ((v = spec_map_get(m, "dropout")) != NULL && get_float(c, v, "dropout", &b->dropout) == 0 &&
        (b->dropout < 0 || b->dropout >= 1)) {
        diag_error(c->diag, v->span, "'dropout' must be in [0, 1), found %s", v->str);
        b->dropout = 0;
    }
    if ((v = spec_map_get(m, "bias")) != NULL)
        get_bool(c, v, "bias", &b->bias);
    if ((v = spec_map_get(m, "kernel")) != NULL) {
        int k = get_enum(c, v, "kernel", kernel_names);
        if (k >= 0)
            b->kernel = (KernelChoice)k;
        b->kernel_span = v->span;
    }
    if ((v = spec_map_get(m, "nonlinearity")) != NULL && cell == CELL_RNN) {
        int k = get_enum(c, v, "nonlinearity", nonlin_names);
        if (k >= 0)
            b->nonlin = (Nonlin)k;
    }
    if ((v = spec_map_get(m, "reset")) != NULL && cell == CELL_GRU) {
        int k = get_enum(c, v, "reset", reset_names);
        if (k >= 0)
            b->reset = (GruReset)k;
    }
    if ((v = spec_map_get(m, "proj_size")) != NULL && cell == CELL_LSTM &&
        get_int(c, v, "proj_size", 0, MAX_HIDDEN, &b->proj_size) == 0 && b->hidden_size > 0 &&
        b->proj_size >= b->hidden_size) {
        diag_error(c->diag, v->span, "'proj_size' must be smaller than hidden_size (%d), found %d",
                   b->hidden_size, b->proj_size);
    }
    if (b->dropout > 0 && b->num_layers == 1 && (v = spec_map_get(m, "dropout")) != NULL)
        diag_warning(c->diag, v->span,
                     "dropout applies between stacked layers; with num_layers: 1 it does "
                     "nothing");
    return c->diag->nerrors == e0 ? 0 : -1;
}

/* head:
 *   name: head           # default head; C identifier
 *   out_features: 5      # required
 *   input: last          # last | sequence
 *   activation: none     # none | softmax | sigmoid
 *   bias: true
 */
static int check_head(Checker *c, const Node *m, Head *h)
{
    int e0 = c->diag->nerrors;
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'head' must be a mapping, found %s", node_what(m));
        return -1;
    }
    check_keys(c, m, head_keys, -1, "head");
    h->present = 1;
    h->span = m->span;
    h->name = "head";
    h->bias = 1;
    const Node *v;
    if ((v = spec_map_get(m, "name")) != NULL)
        h->name = get_ident(c, v, "name");
    if ((v = spec_map_get(m, "out_features")) != NULL)
        get_int(c, v, "out_features", 1, MAX_SIZE, &h->out_features);
    else
        missing(c, m, "out_features", "head");
    if ((v = spec_map_get(m, "input")) != NULL) {
        int k = get_enum(c, v, "input", input_names);
        if (k >= 0)
            h->input = (HeadInput)k;
    }
    if ((v = spec_map_get(m, "activation")) != NULL) {
        int k = get_enum(c, v, "activation", act_names);
        if (k >= 0)
            h->activation = (HeadAct)k;
    }
    if ((v = spec_map_get(m, "bias")) != NULL)
        get_bool(c, v, "bias", &h->bias);
    return c->diag->nerrors == e0 ? 0 : -1;
}

/* A number in [lo, hi] (hi_open: hi excluded); 0 and *out set, or -1 after a diagnostic. */
static int get_range(Checker *c, const Node *v, const char *key, double lo, double hi, int hi_open,
                     int lo_open, double *out)
{
    double x;
    if (get_float(c, v, key, &x) < 0)
        return -1;
    if (x < lo || (lo_open && x == lo) || x > hi || (hi_open && x == hi)) {
        diag_error(c->diag, v->span, "'%s' must be in %c%g, %g%c, found %s", key,
                   lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']', v->str);
        return -1;
    }
    *out = x;
    return 0;
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
 */
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
        diag_error(c->diag, m->span, "'scheduler' must be a mapping, found %s", node_what(m));
        return;
    }
    const Node *v = spec_map_get(m, "kind");
    int kind = -1;
    if (!v)
        missing(c, m, "kind", "train.scheduler");
    else if ((kind = get_enum(c, v, "kind", sched_names)) >= 0)
        s->kind = (RnncSchedKind)(kind + 1);
    check_keys(c, m, sched_keys, kind, "train.scheduler");
    if (kind < 0)
        return;
    if ((v = spec_map_get(m, "step_size")) != NULL)
        get_int(c, v, "step_size", 1, 1000000, &s->step_size);
    else if (kind == 0)
        missing(c, m, "step_size", "train.scheduler (kind: step)");
    if ((v = spec_map_get(m, "gamma")) != NULL)
        get_range(c, v, "gamma", 0, 1, 0, 1, &s->gamma);
    if ((v = spec_map_get(m, "t_max")) != NULL)
        get_int(c, v, "t_max", 1, 1000000, &s->t_max);
    if ((v = spec_map_get(m, "eta_min")) != NULL)
        get_range(c, v, "eta_min", 0, 1e6, 0, 0, &s->eta_min);
    if ((v = spec_map_get(m, "warmup_epochs")) != NULL)
        get_int(c, v, "warmup_epochs", 0, 1000000, &s->warmup_epochs);
    if ((v = spec_map_get(m, "warmup_factor")) != NULL)
        get_range(c, v, "warmup_factor", 0, 1, 0, 1, &s->warmup_factor);
    if ((v = spec_map_get(m, "factor")) != NULL)
        get_range(c, v, "factor", 0, 1, 1, 1, &s->factor);
    if ((v = spec_map_get(m, "patience")) != NULL)
        get_int(c, v, "patience", 0, 1000000, &s->patience);
    if ((v = spec_map_get(m, "threshold")) != NULL)
        get_range(c, v, "threshold", 0, 1, 1, 0, &s->threshold);
    if ((v = spec_map_get(m, "cooldown")) != NULL)
        get_int(c, v, "cooldown", 0, 1000000, &s->cooldown);
    if ((v = spec_map_get(m, "min_lr")) != NULL)
        get_range(c, v, "min_lr", 0, 1e6, 0, 0, &s->min_lr);
}

/* train.early_stopping:
 *   patience: 5            # required: epochs without a better validation loss, then stop
 *   min_delta: 0.0         # how much lower counts as better
 */
static void check_early_stop(Checker *c, const Node *m, TrainCfg *t)
{
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'early_stopping' must be a mapping, found %s", node_what(m));
        return;
    }
    check_keys(c, m, stop_keys, -1, "train.early_stopping");
    const Node *v;
    if ((v = spec_map_get(m, "patience")) != NULL)
        get_int(c, v, "patience", 1, 1000000, &t->stop_patience);
    else
        missing(c, m, "patience", "train.early_stopping");
    if ((v = spec_map_get(m, "min_delta")) != NULL)
        get_range(c, v, "min_delta", 0, 1e30, 0, 0, &t->stop_min_delta);
}

/* One key of train: into *t (the optimizer already set): the rule of each key, in one place
 * for the spec's block and the command line's overrides. */
static void train_key(Checker *c, TrainCfg *t, const char *key, const Node *v)
{
    int opt = (int)t->optimizer, iv;
    if (strcmp(key, "lr") == 0)
        get_range(c, v, "lr", 0, 1e6, 0, 1, &t->lr);
    else if (strcmp(key, "weight_decay") == 0)
        get_range(c, v, "weight_decay", 0, 1e6, 0, 0, &t->weight_decay);
    else if (strcmp(key, "momentum") == 0 && opt == RNNC_OPT_SGD)
        get_range(c, v, "momentum", 0, 1, 1, 0, &t->momentum);
    else if (strcmp(key, "nesterov") == 0 && opt == RNNC_OPT_SGD) {
        if (get_bool(c, v, "nesterov", &t->nesterov) == 0 && t->nesterov && t->momentum <= 0)
            diag_error(c->diag, v->span, "nesterov needs a momentum above 0 (as PyTorch's SGD)");
    } else if (strcmp(key, "eps") == 0 && opt != RNNC_OPT_SGD)
        get_range(c, v, "eps", 0, 1, 0, 1, &t->eps);
    else if (strcmp(key, "betas") == 0 && opt != RNNC_OPT_SGD) {
        if (v->kind != NODE_SEQ || v->n != 2)
            diag_error(c->diag, v->span,
                       "'betas' must be a list of two numbers, e.g. [0.9, 0.999]");
        else if (get_range(c, v->vals[0], "betas[0]", 0, 1, 1, 0, &t->beta1) == 0)
            get_range(c, v->vals[1], "betas[1]", 0, 1, 1, 0, &t->beta2);
    } else if (strcmp(key, "batch_size") == 0)
        get_int(c, v, "batch_size", 1, 1 << 24, &t->batch_size);
    else if (strcmp(key, "epochs") == 0)
        get_int(c, v, "epochs", 1, 1000000, &t->epochs);
    else if (strcmp(key, "shuffle") == 0)
        get_bool(c, v, "shuffle", &t->shuffle);
    else if (strcmp(key, "clip_grad_norm") == 0)
        get_range(c, v, "clip_grad_norm", 0, 1e30, 0, 0, &t->clip_grad_norm);
    else if (strcmp(key, "clip_grad_value") == 0)
        get_range(c, v, "clip_grad_value", 0, 1e30, 0, 0, &t->clip_grad_value);
    else if (strcmp(key, "tbptt") == 0 && get_int(c, v, "tbptt", 0, 1 << 24, &iv) == 0)
        t->tbptt = iv;
    else if (strcmp(key, "seed") == 0 && get_int(c, v, "seed", 0, 2147483647, &iv) == 0)
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
static void check_train(Checker *c, const Node *m, TrainCfg *t)
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
        diag_error(c->diag, m->span, "'train' must be a mapping, found %s", node_what(m));
        return;
    }
    const Node *v;
    int opt = RNNC_OPT_ADAM;
    if ((v = spec_map_get(m, "optimizer")) != NULL &&
        (opt = get_enum(c, v, "optimizer", opt_names)) < 0)
        opt = RNNC_OPT_ADAM;
    t->optimizer = (RnncOptimizer)opt;
    if (opt == RNNC_OPT_ADAMW)
        t->weight_decay = 0.01;
    check_keys(c, m, train_keys, opt, "train");
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
        int opt = get_enum(&c, v, "optimizer", opt_names);
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

/* Multiply-adds per step of layer `l` of block `b` (one direction). */
static long layer_macs(const Block *b, int l)
{
    long H = b->hidden_size, P = b->proj_size, Hr = P ? P : H;
    long I = l == 0 ? b->input_size : b->dirs * Hr;
    return cell_gates(b->cell) * H * (I + Hr) + H * P;
}

/* The spec's top-level scalars and small blocks: version, name, input_size, batch_first,
 * precision, math, loss, train, deploy. */
static void check_top(Checker *cp, const Node *root, Net *net)
{
    Checker c = *cp;
    DiagList *d = c.diag;
    const Node *v;
    if ((v = spec_map_get(root, "version")) != NULL) {
        int ver = 0;
        if (get_int(&c, v, "version", 1, 1000, &ver) == 0 && ver != 1)
            diag_error(d, v->span,
                       "spec version %d is not supported (this rnnc reads "
                       "version 1)",
                       ver);
    }
    if ((v = spec_map_get(root, "name")) != NULL)
        net->name = get_ident(&c, v, "name");
    else
        missing(&c, root, "name", "the spec");
    if ((v = spec_map_get(root, "input_size")) != NULL)
        get_int(&c, v, "input_size", 1, MAX_SIZE, &net->input_size);
    else
        missing(&c, root, "input_size", "the spec");
    if ((v = spec_map_get(root, "batch_first")) != NULL)
        get_bool(&c, v, "batch_first", &net->batch_first);
    if ((v = spec_map_get(root, "precision")) != NULL)
        net->dbl = get_enum(&c, v, "precision", precision_names) == 1;
    /* math: builtin (default) | libm */
    net->math_builtin = 1;
    if ((v = spec_map_get(root, "math")) != NULL)
        net->math_builtin = get_enum(&c, v, "math", math_names) != 0;
    if ((v = spec_map_get(root, "loss")) != NULL) {
        /* loss: cross_entropy | mse | bce_with_logits */
        int k = get_enum(&c, v, "loss", loss_names);
        if (k >= 0)
            net->loss = (LossKind)(k + 1);
        net->loss_span = v->span;
    }
    if ((v = spec_map_get(root, "train")) != NULL)
        net->train_span = v->span;
    check_train(&c, spec_map_get(root, "train"), &net->train);
    net->max_seq_len = CHECK_DEFAULT_MAX_SEQ_LEN;
    if ((v = spec_map_get(root, "deploy")) != NULL) {
        /* deploy:
         *   max_seq_len: 256   # longest sequence <name>_forward of the deployed code takes
         *   quantize: none     # none | int8-weights | int8 | int16 (compiler/quant.h)
         */
        if (v->kind != NODE_MAP) {
            diag_error(d, v->span, "'deploy' must be a mapping, found %s", node_what(v));
        } else {
            check_keys(&c, v, deploy_keys, -1, "deploy");
            const Node *m = spec_map_get(v, "max_seq_len");
            if (m)
                get_int(&c, m, "max_seq_len", 1, MAX_SIZE, &net->max_seq_len);
            const Node *q = spec_map_get(v, "quantize");
            if (q) {
                int k = get_enum(&c, q, "quantize", quantize_names);
                net->quantize = k > 0 ? (QuantMode)k : QUANT_NONE;
                net->quantize_span = q->span;
            }
        }
    }
}

/* The span of `key` in block mapping `m` when the spec sets it, else the block's. */
static Span key_span(const Node *m, const char *key)
{
    const Node *v = spec_map_get(m, key);
    return v ? v->span : m->span;
}

/* Whether plan will unroll layer `l` of `b` (plan.c's rule): for the code-size estimate. */
static int layer_unrolled(const Block *b, int l)
{
    return b->kernel == KERNEL_UNROLLED ||
           (b->kernel == KERNEL_AUTO && layer_macs(b, l) <= CHECK_UNROLL_AUTO_MAX);
}

/* The whole network against the CHECK_MAX_* limits (check.h). Block by block, so that the
 * message points at the block that crosses a limit, each limit reported once. The blocks
 * (and the head, when present) have passed their own checks. */
static void check_totals(Checker *c, const Node *layers, const Net *net, const Node *head)
{
    long long nlayers = 0, unrolled = 0, params = 0, code = 0;
    int over_layers = 0, over_unrolled = 0;
    for (int i = 0; i < net->nblocks; i++) {
        const Block *b = &net->blocks[i];
        const Node *m = layers->vals[i];
        long long GH = (long long)cell_gates(b->cell) * b->hidden_size;
        for (int l = 0; l < b->num_layers; l++) {
            long long macs = layer_macs(b, l);
            nlayers += b->dirs;
            params += b->dirs * (macs + (b->bias ? 2 * GH : 0));
            code += CHECK_C_BYTES_PER_LAYER * b->dirs;
            if (layer_unrolled(b, l)) {
                unrolled += b->dirs * macs;
                code += CHECK_C_BYTES_PER_MAC * macs; /* the directions share the cell */
            }
        }
        if (!over_layers && nlayers > CHECK_MAX_LAYERS) {
            diag_error(c->diag, key_span(m, "num_layers"),
                       "block '%s' brings the network to %lld layers, each direction counted; "
                       "the limit is %d",
                       b->name, nlayers, CHECK_MAX_LAYERS);
            over_layers = 1;
        }
        if (!over_unrolled && unrolled > CHECK_MAX_UNROLLED) {
            diag_error(c->diag, b->kernel == KERNEL_AUTO ? m->span : b->kernel_span,
                       "block '%s' brings the unrolled kernels to %lld multiply-adds per step, "
                       "about %lld MB of generated C; the limit is %d: use kernel: loop",
                       b->name, unrolled, (code + 500000) / 1000000, CHECK_MAX_UNROLLED);
            over_unrolled = 1;
        }
        if (params > CHECK_MAX_PARAMS) {
            diag_error(c->diag, key_span(m, "hidden_size"),
                       "block '%s' brings the network to %lld parameters; the limit is %lld",
                       b->name, params, CHECK_MAX_PARAMS);
            return;
        }
    }
    if (net->head.present) {
        const Block *top = &net->blocks[net->nblocks - 1];
        long long O = net->head.out_features;
        params += O * block_out_width(top) + (net->head.bias ? O : 0);
        if (params > CHECK_MAX_PARAMS)
            diag_error(c->diag, key_span(head, "out_features"),
                       "the head brings the network to %lld parameters; the limit is %lld", params,
                       CHECK_MAX_PARAMS);
    }
}

/* A state_dict prefix (weights.strip, a weights.map value) in the arena without a trailing
 * '.'; NULL after a diagnostic. */
static const char *get_prefix(Checker *c, const Node *v, const char *key)
{
    if (want_scalar(c, v, key, "a state_dict prefix") < 0)
        return NULL;
    if (!check_is_prefix(v->str)) {
        diag_error(c->diag, v->span,
                   "'%s' must be a state_dict prefix (names joined by '.', e.g. encoder.rnn; "
                   "no spaces or '='), found '%s'",
                   key, v->str);
        return NULL;
    }
    size_t n = strlen(v->str);
    const char *p = arena_strndup(c->arena, v->str, n - (v->str[n - 1] == '.'));
    if (!p)
        diag_error(c->diag, span_none(), "out of memory");
    return p;
}

/* Key `k` of weights.map names no block and not the head: say so, with a near miss. */
static void map_unknown(Checker *c, const Node *k, const Net *net)
{
    const char *best = NULL;
    int bestd = 3;
    char names[256] = "";
    for (int i = 0; i <= net->nblocks; i++) {
        const char *n = i < net->nblocks ? net->blocks[i].name : net->head.name;
        if (!n || (i == net->nblocks && !net->head.present))
            continue;
        int dist = edit_distance(k->str, n);
        if (dist < bestd) {
            bestd = dist;
            best = n;
        }
        strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, n, sizeof names - strlen(names) - 1);
    }
    if (best)
        diag_error(c->diag, k->span, "weights.map: no block or head '%s'; did you mean '%s'?",
                   k->str, best);
    else
        diag_error(c->diag, k->span, "weights.map: no block or head '%s' (the spec has: %s)",
                   k->str, names);
}

/* weights:               # optional: where the tensors are in the weights file
 *   strip: module        # a prefix removed where names have it (nn.DataParallel's)
 *   map:                 # block or head name: its prefix in the file
 *     rnn: encoder.rnn
 *     head: classifier.fc
 */
static void check_weights(Checker *c, const Node *m, Net *net)
{
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'weights' must be a mapping (strip, map), found %s",
                   node_what(m));
        return;
    }
    check_keys(c, m, weights_keys, -1, "weights");
    const Node *v;
    if ((v = spec_map_get(m, "strip")) != NULL)
        net->weights_strip = get_prefix(c, v, "strip");
    if ((v = spec_map_get(m, "map")) == NULL)
        return;
    if (v->kind != NODE_MAP || v->n == 0) {
        diag_error(c->diag, v->span,
                   "'map' must be a mapping of block or head names to prefixes (rnn: "
                   "encoder.rnn), found %s",
                   v->kind == NODE_MAP ? "an empty mapping" : node_what(v));
        return;
    }
    net->weights_map = arena_alloc(c->arena, (size_t)v->n * sizeof *net->weights_map);
    if (!net->weights_map) {
        diag_error(c->diag, span_none(), "out of memory");
        return;
    }
    for (int i = 0; i < v->n; i++) {
        const Node *k = v->keys[i];
        WeightsMap *w = &net->weights_map[net->nweights_map];
        int known = net->head.present && net->head.name && !strcmp(k->str, net->head.name);
        for (int b = 0; b < net->nblocks; b++)
            known |= net->blocks[b].name && strcmp(k->str, net->blocks[b].name) == 0;
        int dup = 0;
        for (int j = 0; j < net->nweights_map && !dup; j++) {
            const WeightsMap *o = &net->weights_map[j];
            if ((dup = strcmp(o->name, k->str) == 0)) {
                diag_error(c->diag, k->span, "weights.map: '%s' is mapped twice", k->str);
                diag_note(c->diag, o->span, "first mapped here");
            }
        }
        if (!known)
            map_unknown(c, k, net);
        if (!(w->prefix = get_prefix(c, v->vals[i], k->str)) || !known || dup)
            continue;
        for (int j = 0; j < net->nweights_map; j++)
            if (strcmp(net->weights_map[j].prefix, w->prefix) == 0) {
                diag_error(c->diag, v->vals[i]->span,
                           "weights.map: '%s' and '%s' both have the prefix '%s'; their "
                           "tensors would clash",
                           net->weights_map[j].name, k->str, w->prefix);
                dup = 1;
            }
        w->name = k->str;
        w->span = k->span;
        net->nweights_map += !dup;
    }
}

/* name: seq_classifier   # required, C identifier
 * version: 1             # optional
 * input_size: 10         # required
 * batch_first: false     # PyTorch's default
 * precision: float32     # float32 | float64
 * layers: [...]          # required, one or more blocks
 * head: {...}            # optional
 */
Net *check_spec(Arena *a, DiagList *d, const SpecDoc *doc)
{
    Checker c = {a, d};
    Span whole = {&doc->src, 1, 1, 0};
    const Node *root = doc->root;
    if (!root || (root->kind == NODE_SCALAR && root->str[0] == '\0')) {
        diag_error(d, whole,
                   "the spec is empty; it needs at least name, input_size and "
                   "layers");
        return NULL;
    }
    if (root->kind != NODE_MAP) {
        diag_error(d, root->span,
                   "a spec must be a mapping of keys (name, input_size, "
                   "layers, ...), found %s",
                   node_what(root));
        return NULL;
    }
    Net *net = arena_alloc(a, sizeof *net);
    if (!net) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    net->file = doc->src.name;
    check_keys(&c, root, top_keys, -1, "the spec");
    check_top(&c, root, net);
    const Node *layers = spec_map_get(root, "layers");
    if (!layers) {
        missing(&c, root, "layers", "the spec");
    } else if (layers->kind != NODE_SEQ || layers->n == 0) {
        diag_error(d, layers->span, "'layers' must be a list of one or more blocks, found %s",
                   layers->kind == NODE_SEQ ? "an empty list" : node_what(layers));
    } else if (layers->n > CHECK_MAX_BLOCKS) {
        /* refused before any block is read: each block costs time and code */
        diag_error(d, layers->span, "'layers' has %d blocks; the limit is %d", layers->n,
                   CHECK_MAX_BLOCKS);
    } else {
        net->nblocks = layers->n;
        net->blocks = arena_alloc(a, (size_t)layers->n * sizeof *net->blocks);
        if (!net->blocks) {
            diag_error(d, span_none(), "out of memory");
            return NULL;
        }
        int ok = 1;
        for (int i = 0; i < layers->n; i++)
            if (check_block(&c, layers->vals[i], i, &net->blocks[i]) < 0)
                ok = 0;
        for (int i = 0; ok && i < net->nblocks; i++) {
            Block *b = &net->blocks[i];
            b->input_size = i == 0 ? net->input_size : block_out_width(&net->blocks[i - 1]);
            for (int j = 0; j < i; j++)
                if (strcmp(net->blocks[j].name, b->name) == 0) {
                    diag_error(d, spec_map_get(layers->vals[i], "name")->span,
                               "block name '%s' is used twice; weight names would clash", b->name);
                    diag_note(d, spec_map_get(layers->vals[j], "name")->span, "first used here");
                }
            if (b->kernel == KERNEL_UNROLLED) {
                for (int l = 0; l < b->num_layers; l++) {
                    long macs = layer_macs(b, l);
                    if (macs > CHECK_UNROLL_MAX) {
                        diag_error(d, b->kernel_span,
                                   "layer %d of block '%s' is too large to unroll (%ld "
                                   "multiply-adds per step; the limit is %d): use kernel: "
                                   "loop or auto",
                                   l, b->name, macs, CHECK_UNROLL_MAX);
                        break;
                    }
                }
            }
        }
    }
    const Node *v;
    if ((v = spec_map_get(root, "head")) != NULL && check_head(&c, v, &net->head) == 0 &&
        net->nblocks > 0 && net->blocks[0].name) {
        for (int j = 0; j < net->nblocks; j++)
            if (net->blocks[j].name && strcmp(net->blocks[j].name, net->head.name) == 0) {
                const Node *hn = spec_map_get(v, "name");
                diag_error(d, hn ? hn->span : v->span,
                           "head name '%s' is also a block's name; weight names would clash",
                           net->head.name);
            }
    }
    if (d->nerrors == 0)
        check_totals(&c, layers, net, spec_map_get(root, "head"));
    if ((v = spec_map_get(root, "weights")) != NULL)
        check_weights(&c, v, net);
    if (net->loss == LOSS_CROSS_ENTROPY && !net->head.present)
        diag_error(d, net->loss_span,
                   "loss: cross_entropy needs a head: its out_features are "
                   "the classes");
    if (d->nerrors)
        return NULL;
    const Block *top = &net->blocks[net->nblocks - 1];
    net->head.in_features = block_out_width(top);
    net->out_size = net->head.present ? net->head.out_features : block_out_width(top);
    return net;
}
