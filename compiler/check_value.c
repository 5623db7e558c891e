/* check_value.c — the check stage's readers of single spec values and of a mapping's keys:
 * integers, booleans, numbers, ranges, enums, identifiers, unknown and duplicate keys with a
 * near-miss suggestion. Every block's rules (check.c, check_train.c, check_limits.c) are
 * written with these, so that one kind of mistake always gets the same message.
 */
#include "check_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int check_edit_distance(const char *a, const char *b)
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

/* Into buf: the spellings in f->names of the values in `mask`, as "a", "a or b", "a, b or c". */
static void mask_label(const KeyFilter *f, int mask, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; f->names[i]; i++) {
        if (!(mask & (1 << i)))
            continue;
        int more = mask >> (i + 1) != 0;
        strncat(buf, buf[0] ? (more ? ", " : " or ") : "", size - strlen(buf) - 1);
        strncat(buf, f->names[i], size - strlen(buf) - 1);
    }
}

/* Key `k` of a mapping named `where` is not in `table`: suggest a near miss, or list the keys
 * (those `f` selects). */
static void key_unknown(Checker *c, const Node *k, const KeyInfo *table, const KeyFilter *f,
                        const char *where)
{
    const char *best = NULL;
    int bestd = 99;
    for (const KeyInfo *t = table; t->key; t++) {
        int dist = check_edit_distance(k->str, t->key);
        if (dist < bestd) {
            bestd = dist;
            best = t->key;
        }
    }
    int tol = strlen(k->str) > 6 ? 3 : 2;
    if (best && bestd <= tol) {
        diag_error(c->diag, k->span, "unknown key '%s' in %s; did you mean '%s'?", k->str, where,
                   best);
        return;
    }
    char list[512] = "";
    for (const KeyInfo *t = table; t->key; t++) {
        if (f && f->value >= 0 && !(t->cells & (1 << f->value)))
            continue;
        strncat(list, list[0] ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, t->key, sizeof list - strlen(list) - 1);
    }
    diag_error(c->diag, k->span, "unknown key '%s' in %s (known keys: %s)", k->str, where, list);
}

void check_keys(Checker *c, const Node *map, const KeyInfo *table, const KeyFilter *f,
                const char *where)
{
    int *first = first_uses(c, map);
    if (!first)
        return;
    for (int i = 0; i < map->n; i++) {
        const Node *k = map->keys[i];
        if (first[i] != i) {
            const Node *f0 = map->keys[first[i]];
            diag_error(c->diag, k->span, "duplicate key '%s' in %s", k->str, where);
            diag_note(c->diag, f0->span, "'%s' first set here", k->str);
        }
        const KeyInfo *info = NULL;
        for (const KeyInfo *t = table; t->key; t++)
            if (strcmp(t->key, k->str) == 0)
                info = t;
        if (!info) {
            key_unknown(c, k, table, f, where);
            continue;
        }
        if (f && f->value >= 0 && !(info->cells & (1 << f->value))) {
            char label[128];
            mask_label(f, info->cells, label, sizeof label);
            diag_error(c->diag, k->span, "'%s' applies only to %s: %s, not to %s", k->str, f->noun,
                       label, f->names[f->value]);
        }
    }
}

const char *check_node_what(const Node *n)
{
    return n->kind == NODE_MAP ? "a mapping" : n->kind == NODE_SEQ ? "a list" : "text";
}

int check_want_scalar(Checker *c, const Node *v, const char *key, const char *type)
{
    if (v->kind == NODE_SCALAR)
        return 0;
    diag_error(c->diag, v->span, "'%s' must be %s, found %s", key, type, check_node_what(v));
    return -1;
}

/* A quoted scalar that would read as `type` unquoted: YAML makes it text, so say so. */
static void quoted(Checker *c, const Node *v, const char *key, const char *type)
{
    diag_error(c->diag, v->span,
               "'%s' must be %s, found the quoted string \"%s\"; write it without quotes", key,
               type, v->str);
}

int check_get_int(Checker *c, const Node *v, const char *key, long lo, long hi, int *out)
{
    if (check_want_scalar(c, v, key, "an integer") < 0)
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

int check_get_bool(Checker *c, const Node *v, const char *key, int *out)
{
    if (check_want_scalar(c, v, key, "true or false") < 0)
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

int check_get_float(Checker *c, const Node *v, const char *key, double *out)
{
    if (check_want_scalar(c, v, key, "a number") < 0)
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

int check_get_range(Checker *c, const Node *v, const char *key, double lo, double hi, int hi_open,
                    int lo_open, double *out)
{
    double x;
    if (check_get_float(c, v, key, &x) < 0)
        return -1;
    if (x < lo || (lo_open && x == lo) || x > hi || (hi_open && x == hi)) {
        diag_error(c->diag, v->span, "'%s' must be in %c%g, %g%c, found %s", key,
                   lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']', v->str);
        return -1;
    }
    *out = x;
    return 0;
}

int check_get_enum(Checker *c, const Node *v, const char *key, const char *const *options)
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
        diag_error(c->diag, v->span, "'%s' must be %s, found %s", key, list, check_node_what(v));
    return -1;
}

const char *check_get_ident(Checker *c, const Node *v, const char *key)
{
    if (check_want_scalar(c, v, key, "a name") < 0)
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

void check_missing(Checker *c, const Node *map, const char *key, const char *where)
{
    /* a misspelling of it was reported already, with the suggestion */
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->str, key) != 0 &&
            check_edit_distance(map->keys[i]->str, key) <= 2)
            return;
    diag_error(c->diag, map->span, "%s is missing required key '%s'", where, key);
}
